"""Client certificates verified as PostgreSQL verifies them.

1. Generated matrix (always runs): small PKIs made with the openssl CLI, one
   row per case. For each row, hotssl's verdict is compared with
   `openssl verify -crl_check_all -purpose sslclient` on the same files (what
   PostgreSQL's X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL amounts to):
   - without a connection, from the revocation table and from the CRL walk
     (tests/unit/verify_paths.c): same verdict, same reason and depth, same
     PostgreSQL log lines on both paths;
   - with real handshakes (`hotssl serve` + `openssl s_client`), in both
     `optional` and `require`: accepted or refused as openssl verify says,
     with the alert OpenSSL's server sends for that reason.
   Rows cover chains, purposes, CRLs, pathLenConstraint above the trust
   anchor, nameConstraints (refused by hotssl whatever openssl verify says:
   not evaluated) and CRL scopes (issuingDistributionPoint, also through
   spawn mode's decoded table). The test fails if hotssl accepts a row that
   openssl verify refuses, and prints how many rows that is (0) and which
   rows hotssl refuses for its own reason.
2. PostgreSQL's own certificates (when ../shared/testdata/postgresql-ssl is
   there): each CA/CRL combination of PostgreSQL's SSL suite.
3. Log lines checked verbatim, with a UTF-8 subject (PostgreSQL's
   client-revoked-utf8.crt, or one generated here) and a long subject.
4. A CRL with a critical issuingDistributionPoint: the load and reload
   errors name the extension.
5. `require` without a certificate: a handshake_failure alert, not a reset
   (certificate_required over TLS 1.3 with the local mbedTLS's patch).

The summary line says which sets ran.
"""
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import e2elib as E

TMP = None
RAN = []
LAST_ERR = [""]  # the last refused handshake's last s_client error line, for failure messages
# PostgreSQL's files: their sets are defined (and counted) only when present.
PGDATA = os.environ.get("HOTSSL_TESTDATA", "") or os.environ.get("HOTSSL_E2E_DEFAULT_TESTDATA", "")
HAVE_PG = os.path.isfile(os.path.join(PGDATA, "root+client_ca.crt")) and \
    os.path.isfile(os.path.join(PGDATA, "client-revoked-utf8.crt"))

CNF = """\
[req]
distinguished_name = dn
prompt = no
utf8 = yes
string_mask = utf8only
[dn]
CN = x
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_ca_nocrlsign]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[v3_serveronly]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
[v3_nodigsig]
basicConstraints = CA:FALSE
keyUsage = critical,keyEncipherment
extendedKeyUsage = clientAuth
[v3_anyeku]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = anyExtendedKeyUsage
[v3_server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
[v3_ca_pathlen0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_ca_nc]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
nameConstraints = permitted;DNS:allowed.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_ca_nc_critical]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
nameConstraints = critical,permitted;DNS:allowed.example
[v3_client_san_bad]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:other.example
[v3_client_san_ok]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:host.allowed.example
[v3_client_dp]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
crlDistributionPoints = URI:http://crl.example/i.crl
[v3_client_dp_reasons]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
crlDistributionPoints = dp_reasons
[dp_reasons]
fullname = URI:http://crl.example/i.crl
reasons = keyCompromise
# CRL extensions (issuingDistributionPoint), for `openssl ca -gencrl -crlexts`.
[idp_reasons]
issuingDistributionPoint = @idp_reasons_s
[idp_reasons_s]
onlysomereasons = keyCompromise
[idp_onlyca]
issuingDistributionPoint = @idp_onlyca_s
[idp_onlyca_s]
onlyCA = TRUE
[idp_onlyuser]
issuingDistributionPoint = @idp_onlyuser_s
[idp_onlyuser_s]
onlyuser = TRUE
[idp_indirect]
issuingDistributionPoint = @idp_indirect_s
[idp_indirect_s]
indirectCRL = TRUE
[idp_onlyaa]
issuingDistributionPoint = @idp_onlyaa_s
[idp_onlyaa_s]
onlyAA = TRUE
[idp_dp]
issuingDistributionPoint = @idp_dp_s
[idp_dp_s]
fullname = URI:http://crl.example/i.crl
[idp_dp_other]
issuingDistributionPoint = @idp_dp_other_s
[idp_dp_other_s]
fullname = URI:http://crl.example/other.crl
[idp_critical]
issuingDistributionPoint = critical,@idp_onlyuser_s
"""
# openssl ca's sections, shared with the other suites (names kept: O and OU too).
CNF += E.H.OPENSSL_CNF[E.H.OPENSSL_CNF.index("[ca]"):].replace(
    "[anything]\n", "[anything]\norganizationName = optional\norganizationalUnitName = optional\n")

# OpenSSL's server alert for a verification error (ssl_x509err2alert).
ALERTS = {
    "certificate revoked": 44,
    "unable to get certificate CRL": 48,
    "CRL has expired": 45,
    "CRL is not yet valid": 42,
    "unsuitable certificate purpose": 43,
    "key usage does not include CRL signing": 46,
    "unable to get local issuer certificate": 48,
    "certificate has expired": 45,
    "certificate is not yet valid": 42,
    "CRL signature failure": 51,
    "different CRL scope": 46,
    "path length constraint exceeded": 48,
    "invalid CA certificate": 48,
    "permitted subtree violation": 46,
    "name constraints are not supported": 46,
}

# Rows where hotssl refuses for a reason of its own, whatever openssl verify
# says: hotssl does not evaluate nameConstraints and refuses every chain
# with one (docs/client-certificates.md).
STRICTER = "name constraints are not supported"


def ossl(*args, cwd=None):
    p = E.run(["openssl"] + list(args), cwd=cwd or TMP)
    if p.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), p.stderr))
    return p


class Ca:
    """A CA made with `openssl ca`, in its own directory."""

    def __init__(self, name, cn, parent=None, ext="v3_ca"):
        self.name = name
        self.dir = os.path.join(TMP, name + ".db")
        os.makedirs(self.dir)
        E.write(os.path.join(self.dir, "index.txt"), "")
        E.write(os.path.join(self.dir, "serial"), "1000\n")
        E.write(os.path.join(self.dir, "crlnumber"), "1000\n")
        self.key = genkey(name)
        self.crt = os.path.join(TMP, name + ".crt")
        if parent is None:
            ossl("req", "-x509", "-new", "-key", self.key, "-out", self.crt, "-subj", "/CN=" + cn,
                 "-days", "3650", "-set_serial", "1", "-config", CNF_PATH, "-extensions", ext)
        else:
            parent.issue(name, cn, ext, key=self.key)

    def issue(self, name, subj, ext, key=None):
        key = key or genkey(name)
        csr = os.path.join(TMP, name + ".csr")
        crt = os.path.join(TMP, name + ".crt")
        if not subj.startswith("/"):
            subj = "/CN=" + subj
        ossl("req", "-new", "-key", key, "-out", csr, "-subj", subj, "-utf8", "-config", CNF_PATH)
        ossl("ca", "-batch", "-config", CNF_PATH, "-cert", self.crt, "-keyfile", self.key,
             "-in", csr, "-out", crt, "-notext", "-days", "3650", "-utf8",
             "-extfile", CNF_PATH, "-extensions", ext, cwd=self.dir)
        return crt, key

    def crl(self, name, revoke=(), last=None, nxt=None, exts=None):
        for c in revoke:
            ossl("ca", "-config", CNF_PATH, "-cert", self.crt, "-keyfile", self.key, "-revoke", c,
                 cwd=self.dir)
        out = os.path.join(TMP, name + ".crl")
        args = ["ca", "-gencrl", "-config", CNF_PATH, "-cert", self.crt, "-keyfile", self.key,
                "-out", out]
        if last:
            args += ["-crl_lastupdate", last]
        if nxt:
            args += ["-crl_nextupdate", nxt]
        if exts:
            args += ["-crlexts", exts]
        ossl(*args, cwd=self.dir)
        return out


def genkey(name):
    out = os.path.join(TMP, name + ".key")
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out)
    os.chmod(out, 0o600)
    return out


def cat(name, files):
    out = os.path.join(TMP, name)
    with open(out, "w") as f:
        for p in files:
            f.write(E.read(p).decode())
    return out


def openssl_verdict(ca, crls, leaf, untrusted=()):
    """(None, None) when openssl verify accepts, else (reason, depth) of its
    first error, the one PostgreSQL reports."""
    args = ["verify", "-purpose", "sslclient", "-CAfile", ca]
    if crls:
        args += ["-crl_check_all"]
        for c in crls:
            args += ["-CRLfile", c]
    if untrusted:
        args += ["-untrusted", cat("untrusted-%d.pem" % time.monotonic_ns(), untrusted)]
    p = E.run(["openssl"] + args + [leaf], cwd=TMP)
    m = re.search(r"^error (\d+) at (\d+) depth lookup: (.*)$", p.stdout + p.stderr, re.M)
    if p.returncode == 0 and m is None:
        return None, None
    if m is None:
        raise AssertionError("openssl verify failed without an error line:\n%s%s" % (p.stdout, p.stderr))
    return m.group(3).strip(), int(m.group(2))


def write_conf(name, ca, crls, mode, crl_dir=None, server=None):
    server = server or SERVER
    lines = ["ssl_cert_file = '%s'" % server[0], "ssl_key_file = '%s'" % server[1],
             "ssl_ca_file = '%s'" % ca, "ssl_client_cert = %s" % mode, "hotssl_watch = off"]
    if crls:
        lines.append("ssl_crl_file = '%s'" % cat(name + ".crls.pem", crls))
    if crl_dir:
        lines.append("ssl_crl_dir = '%s'" % crl_dir)
    path = os.path.join(TMP, name + ".conf")
    E.write(path, "\n".join(lines) + "\n")
    return path


def paths_verdict(conf, chain):
    """hotssl's verdict without a connection, from the table and from the
    walk, which must agree: (reason or None, line1, line2)."""
    tool = os.environ.get("HOTSSL_VERIFY_PATHS", "")
    if not tool or not os.access(tool, os.X_OK):
        raise AssertionError("HOTSSL_VERIFY_PATHS must name the built hotssl_verify_paths")
    p = E.run([tool, conf, chain])
    if p.returncode not in (0, 3):
        raise AssertionError("hotssl_verify_paths failed (%d): %s" % (p.returncode, p.stderr))
    out = p.stdout.splitlines()
    if p.returncode == 3:
        raise AssertionError("revocation table and CRL walk disagree:\n" + p.stdout)
    if out[0] == "table accept":
        return None, None, None
    return out[0][len("table refuse "):], out[1], out[2]


def handshake(port, cert=None, key=None, chain=None, version="-tls1_2"):
    """openssl s_client with the given client certificate: ("accept", None)
    when the echo came back, else ("refuse", alert number or None).

    Over TLS 1.3 the alert is readable only when the mbedTLS in use has
    tools/patches/' fix of Mbed-TLS/mbedtls#10877 (E.tls13_alerts):
    a stock 3.6 server protects what it sends after its Finished with the
    handshake keys, and the client reports "bad record mac" instead."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet", "-no_ign_eof", version]
    if cert:
        args += ["-cert", cert, "-key", key]
    if chain:
        args += ["-cert_chain", chain]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"ping\n")
        p.stdin.flush()
        end = time.monotonic() + E.DEADLINE
        got = b""
        while time.monotonic() < end:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                got += chunk
                if b"ping" in got:
                    return "accept", None
            elif p.poll() is not None:
                break
        p.stdin.close()
        p.wait(timeout=E.DEADLINE)
        err = p.stderr.read().decode(errors="replace")
        LAST_ERR[0] = err.strip().splitlines()[-1] if err.strip() else ""
        m = re.search(r"alert number (\d+)", err)
        return "refuse", int(m.group(1)) if m else None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def tls13(port):
    """Does the server speak TLS 1.3 (an mbedTLS 3.6 build)?"""
    p = E.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3", "-brief"],
              input="")
    return "Protocol version: TLSv1.3" in p.stdout + p.stderr


def setUpModule():
    global TMP, CNF_PATH, SERVER
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-verify-")
    CNF_PATH = os.path.join(TMP, "openssl.cnf")
    E.write(CNF_PATH, CNF)
    sca = Ca("serverca", "server CA")
    SERVER = sca.issue("server", "localhost", "v3_server")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)
    print("(sets run: %s)" % ", ".join(RAN or ["none"]), file=sys.stderr)
    if not HAVE_PG:
        print("(PostgreSQL sets not run: no test data at %r)" % PGDATA, file=sys.stderr)


class Matrix(unittest.TestCase):
    """The matrix's rows, each against openssl verify, on both paths and in
    both modes."""

    @classmethod
    def setUpClass(cls):
        R = Ca("root", "Matrix Root")
        I = Ca("inter", "Matrix Intermediate", parent=R)
        N = Ca("nocrlsign", "Matrix CA without cRLSign", parent=R, ext="v3_ca_nocrlsign")
        good = I.issue("good", "good client", "v3_client")
        bad = I.issue("revoked", "revoked client", "v3_client")
        srv = I.issue("serveronly", "serverAuth only", "v3_serveronly")
        nds = I.issue("nodigsig", "no digitalSignature", "v3_nodigsig")
        under_n = N.issue("under_n", "client of a CA without cRLSign", "v3_client")
        anyeku = I.issue("anyeku", "anyExtendedKeyUsage only", "v3_anyeku")
        S = Ca("selfrev", "Matrix Root that revokes itself")
        under_s = S.issue("under_s", "client of a revoked root", "v3_client")
        s_rev = S.crl("s_rev", revoke=[S.crt])
        i_empty = I.crl("i_empty")
        time.sleep(1.1)  # a later lastUpdate for the second CRL of the issuer
        i_rev = I.crl("i_rev", revoke=[bad[0]])
        i_expired = I.crl("i_expired", last="20200101000000Z", nxt="20200201000000Z")
        i_future = I.crl("i_future", last="20491201000000Z", nxt="20500101000000Z")
        r_empty = R.crl("r_empty")
        r_rev_i = R.crl("r_rev_i", revoke=[I.crt])
        n_crl = N.crl("n_crl")
        # Three levels in the CA file: mbedTLS ends its chain at I2; OpenSSL
        # goes on to I1 (checked against R's CRL) and R.
        I2 = Ca("inter2", "Matrix Second Intermediate", parent=I)
        under_i2 = I2.issue("under_i2", "client of the second intermediate", "v3_client")
        i2_empty = I2.crl("i2_empty")
        rii2 = cat("r+i+i2.crt", [R.crt, I.crt, I2.crt])
        ri = cat("r+i.crt", [R.crt, I.crt])
        rn = cat("r+n.crt", [R.crt, N.crt])
        # pathLenConstraint above the first trusted CA of the CA file.
        R0 = Ca("root_pl0", "Matrix Root with pathlen 0", ext="v3_ca_pathlen0")
        I_r0 = Ca("inter_r0", "Matrix Intermediate under a pathlen 0 root", parent=R0)
        under_ir0 = I_r0.issue("under_ir0", "client under a pathlen 0 root", "v3_client")
        IP0 = Ca("inter_pl0", "Matrix Intermediate with pathlen 0", parent=R, ext="v3_ca_pathlen0")
        SUB = Ca("sub_pl0", "Matrix Sub-CA under a pathlen 0 intermediate", parent=IP0)
        under_sub = SUB.issue("under_sub", "client of the sub-CA", "v3_client")
        r0i = cat("r0+i.crt", [R0.crt, I_r0.crt])
        r_ip0_sub = cat("r+ip0+sub.crt", [R.crt, IP0.crt, SUB.crt])
        # nameConstraints (non-critical) on an intermediate.
        NC = Ca("inter_nc", "Matrix Intermediate with name constraints", parent=R, ext="v3_ca_nc")
        nc_bad = NC.issue("nc_bad", "name outside the constraints", "v3_client_san_bad")
        nc_ok = NC.issue("nc_ok", "name inside the constraints", "v3_client_san_ok")
        rnc = cat("r+nc.crt", [R.crt, NC.crt])
        cls.rnc = rnc
        # issuingDistributionPoint: CRLs whose scope is narrower than a full CRL.
        dp_leaf = I.issue("dp_leaf", "client with a CRL distribution point", "v3_client_dp")
        dpr_leaf = I.issue("dpr_leaf", "client with a reasons-only distribution point", "v3_client_dp_reasons")
        i_reasons = I.crl("i_reasons", exts="idp_reasons")
        i_onlyca = I.crl("i_onlyca", exts="idp_onlyca")
        i_onlyuser = I.crl("i_onlyuser", exts="idp_onlyuser")
        i_indirect = I.crl("i_indirect", exts="idp_indirect")
        i_onlyaa = I.crl("i_onlyaa", exts="idp_onlyaa")
        i_dp = I.crl("i_dp", exts="idp_dp")
        i_dp_other = I.crl("i_dp_other", exts="idp_dp_other")
        # A root of its own for the root-CRL rows (R's CRLs list I as revoked by now).
        RS = Ca("root_scope", "Matrix Root for CRL scopes")
        IS = Ca("inter_scope", "Matrix Intermediate for CRL scopes", parent=RS)
        under_is = IS.issue("under_is", "client for CRL scopes", "v3_client")
        is_empty = IS.crl("is_empty")
        rs_onlyuser = RS.crl("rs_onlyuser", exts="idp_onlyuser")
        rs_onlyca = RS.crl("rs_onlyca", exts="idp_onlyca")
        rsis = cat("rs+is.crt", [RS.crt, IS.crt])
        cls.critical_idp = I.crl("i_critical_idp", exts="idp_critical")
        cls.critical_case = (ri, [r_empty, cls.critical_idp], good)
        cls.rows = [
            # name, CA file, CRLs, leaf (crt, key), presented intermediates
            ("good leaf", ri, [r_empty, i_rev], good, ()),
            ("revoked leaf", ri, [r_empty, i_rev], bad, ()),
            ("revoked intermediate in the CA file", ri, [r_rev_i, i_empty], good, ()),
            ("three levels in the CA file, all good", rii2, [r_empty, i_empty, i2_empty], under_i2, ()),
            ("three levels in the CA file, first intermediate revoked", rii2, [r_rev_i, i_empty, i2_empty], under_i2, ()),
            ("three levels in the CA file, no CRL of the root", rii2, [i_empty, i2_empty], under_i2, ()),
            ("revoked intermediate sent by the client", R.crt, [r_rev_i, i_empty], good, (I.crt,)),
            ("intermediate sent by the client, its CRL not in the CA file", R.crt, [r_empty, i_rev], good, (I.crt,)),
            ("revoked leaf, intermediate sent by the client", R.crt, [r_empty, i_rev], bad, (I.crt,)),
            ("CRL missing for the intermediate", ri, [r_empty], good, ()),
            ("CRL missing for the root", ri, [i_empty], good, ()),
            ("expired CRL", ri, [r_empty, i_expired], good, ()),
            ("CRL not yet valid", ri, [r_empty, i_future], good, ()),
            ("two CRLs for one issuer, the newer revokes", ri, [r_empty, i_empty, i_rev], bad, ()),
            ("two CRLs for one issuer, leaf listed in neither", ri, [r_empty, i_empty, i_rev], good, ()),
            ("CA without cRLSign", rn, [r_empty, n_crl], under_n, ()),
            ("leaf with serverAuth-only EKU", ri, [r_empty, i_rev], srv, ()),
            ("leaf with anyExtendedKeyUsage only", ri, [r_empty, i_rev], anyeku, ()),
            ("root listed in its own CRL", S.crt, [s_rev], under_s, ()),
            ("leaf without digitalSignature", ri, [r_empty, i_rev], nds, ()),
            ("no CRL: good leaf", ri, [], good, ()),
            ("no CRL: revoked leaf", ri, [], bad, ()),
            ("no CRL: serverAuth-only EKU", ri, [], srv, ()),
            ("no CRL: leaf without digitalSignature", ri, [], nds, ()),
            ("no CRL: unknown issuer", R.crt, [], good, ()),
            # Verification parity: pathLenConstraint above the trust anchor.
            ("root with pathlen:0 and an intermediate, both in the CA file", r0i, [], under_ir0, ()),
            ("root with pathlen:0 and an intermediate, both in the CA file, with CRLs", r0i,
             [R0.crl("r0_empty"), I_r0.crl("ir0_empty")], under_ir0, ()),
            ("intermediate with pathlen:0 and a sub-CA, all in the CA file", r_ip0_sub, [], under_sub, ()),
            # nameConstraints: refused, not evaluated (STRICTER).
            ("name constraints: violating leaf, constrained CA sent by the client", R.crt, [], nc_bad, (NC.crt,)),
            ("name constraints: violating leaf, constrained CA in the CA file", rnc, [], nc_bad, ()),
            ("name constraints: conforming leaf, constrained CA in the CA file", rnc, [], nc_ok, ()),
            # issuingDistributionPoint: the CRL's scope.
            ("CRL of the leaf's issuer with onlySomeReasons", ri, [r_empty, i_reasons], good, ()),
            ("CRL of the leaf's issuer with onlyContainsCACerts", ri, [r_empty, i_onlyca], good, ()),
            ("CRL of the leaf's issuer with indirectCRL", ri, [r_empty, i_indirect], good, ()),
            ("CRL of the leaf's issuer with onlyContainsAttributeCerts", ri, [r_empty, i_onlyaa], good, ()),
            ("root's CRL with onlyContainsUserCerts, intermediate in the CA file", rsis, [rs_onlyuser, is_empty], under_is, ()),
            ("root's CRL with onlyContainsUserCerts, intermediate sent by the client", RS.crt, [rs_onlyuser, is_empty],
             under_is, (IS.crt,)),
            ("root's CRL with onlyContainsCACerts (in scope for the intermediate)", rsis, [rs_onlyca, is_empty], under_is, ()),
            ("CRL of the leaf's issuer with onlyContainsUserCerts (in scope)", ri, [r_empty, i_onlyuser], good, ()),
            ("onlyContainsUserCerts CRL in scope, revoked leaf", ri, [r_empty, I.crl("i_onlyuser_rev", exts="idp_onlyuser")], bad, ()),
            ("onlyContainsCACerts CRL next to a full CRL", ri, [r_empty, i_onlyca, i_empty], good, ()),
            ("CRL with a distribution point, leaf without one", ri, [r_empty, i_dp], good, ()),
            ("CRL with a distribution point, leaf naming it", ri, [r_empty, i_dp], dp_leaf, ()),
            ("CRL with a distribution point, leaf naming another", ri, [r_empty, i_dp_other], dp_leaf, ()),
            ("full CRL, leaf's distribution point limited to some reasons", ri, [r_empty, i_dp], dpr_leaf, ()),
        ]
        RAN.append("generated matrix (%d rows x 2 modes)" % len(cls.rows))

    def test_rows(self):
        """One server per mode; each row is a reload of its configuration."""
        failures = []
        servers = {}
        try:
            for mode in ("optional", "require"):
                conf = write_conf("matrix-" + mode, *self.rows[0][1:3], mode)
                servers[mode] = E.Server(conf)
            has13 = {mode: tls13(srv.port) for mode, srv in servers.items()}
            alerts13 = has13["require"] and E.tls13_alerts()
            if alerts13:
                RAN.append("verdicts and alerts over TLS 1.3 too")
            elif has13["require"]:
                RAN.append("verdicts over TLS 1.3 too (alerts not: mbedTLS without the #10877 fix)")
            laxer, stricter = [], []
            for i, (name, ca, crls, leaf, inter) in enumerate(self.rows):
                want, want_depth = openssl_verdict(ca, crls, leaf[0], inter)
                chain = cat("chain%d.pem" % i, [leaf[0]] + list(inter))
                got, l1, _ = paths_verdict(write_conf("row%d" % i, ca, crls, "require"), chain)
                if got is None and want is not None:
                    laxer.append(name)
                if got == STRICTER and got != want:
                    stricter.append("%s (openssl verify: %s)" % (name, want or "accept"))
                    want = STRICTER  # the handshakes must refuse with hotssl's reason
                elif got != want:
                    failures.append("%s: openssl verify says %r, hotssl %r" % (name, want, got))
                    continue
                if want is not None and want != STRICTER:
                    exp = "Client certificate verification failed at depth %d: %s." % (want_depth, want)
                    if l1 != exp:
                        failures.append("%s: log line %r, expected %r" % (name, l1, exp))
                inter_file = cat("inter%d.pem" % i, list(inter)) if inter else None
                for mode, srv in servers.items():
                    write_conf("matrix-" + mode, ca, crls, mode)
                    line, _ = srv.reload()
                    self.assertNotIn("not reloaded", line, name)
                    if has13[mode]:
                        v13, a13 = handshake(srv.port, leaf[0], leaf[1], inter_file, "-tls1_3")
                        if v13 != ("accept" if want is None else "refuse"):
                            failures.append("%s (%s, TLS 1.3): %s, openssl verify: %s" % (name, mode, v13, want))
                        elif alerts13 and want is not None and a13 != ALERTS[want]:
                            failures.append("%s (%s, TLS 1.3): alert %s, expected alert %d (%s); s_client: %s"
                                            % (name, mode, a13, ALERTS[want], want, LAST_ERR[0]))
                    verdict, alert = handshake(srv.port, leaf[0], leaf[1], inter_file)
                    if want is None and verdict != "accept":
                        failures.append("%s (%s): handshake refused (alert %s), openssl accepts"
                                        % (name, mode, alert))
                    if want is not None and (verdict != "refuse" or alert != ALERTS[want]):
                        failures.append("%s (%s): handshake %s with alert %s, expected alert %d (%s); s_client: %s"
                                        % (name, mode, verdict, alert, ALERTS[want], want, LAST_ERR[0]))
            for srv in servers.values():
                self.assertEqual(srv.stop(), 0)
        finally:
            for srv in servers.values():
                srv.kill()
        RAN.append("rows where hotssl accepts what openssl verify refuses: %d of %d" % (len(laxer), len(self.rows)))
        RAN.append("rows refused for hotssl's own reason (%s): %d: %s"
                   % (STRICTER, len(stricter), "; ".join(stricter)))
        self.assertEqual(laxer, [], "hotssl accepts what openssl verify refuses: " + "; ".join(laxer))
        self.assertEqual(failures, [], "\n".join(failures))

    def test_crl_scope_in_spawn_mode(self):
        """The CRL-scope rows through `hotssl serve --mode spawn`: each
        backend verifies with the revocation table decoded from the
        parent's snapshot, where a CRL's scope travels in its group key."""
        rx = re.compile(r"onlyContains|onlySomeReasons|indirectCRL|distribution point")
        rows = [r for r in self.rows if rx.search(r[0])]
        self.assertGreaterEqual(len(rows), 10)
        failures = []
        srv = E.Server(write_conf("spawn-scope", rows[0][1], rows[0][2], "require"), extra=["--mode", "spawn"])
        try:
            for name, ca, crls, leaf, inter in rows:
                want, _ = openssl_verdict(ca, crls, leaf[0], inter)
                write_conf("spawn-scope", ca, crls, "require")
                line, _ = srv.reload()
                self.assertNotIn("not reloaded", line, name)
                got = handshake(srv.port, leaf[0], leaf[1], cat("spawn-inter.pem", list(inter)) if inter else None)
                exp = ("accept", None) if want is None else ("refuse", ALERTS[want])
                if got != exp:
                    failures.append("%s (spawn): %s, openssl verify: %s" % (name, got, want or "accept"))
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()
        self.assertEqual(failures, [], "\n".join(failures))
        RAN.append("CRL-scope rows in spawn mode (%d)" % len(rows))

    def test_critical_idp_names_the_extension(self):
        """A CRL with a critical issuingDistributionPoint: mbedTLS cannot
        parse it, so hotssl refuses it at start and at reload, and the error
        names the extension. openssl verify, asked in the same test, reads
        it (refused at load: stricter, never laxer)."""
        ca, crls, leaf = self.critical_case
        want, _ = openssl_verdict(ca, crls, leaf[0])
        reason = "critical extension issuingDistributionPoint (2.5.29.28) is not supported"
        conf = write_conf("critical-idp", ca, crls, "require")
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(reason, p.stdout + p.stderr)
        good = write_conf("critical-idp-reload", ca, crls[:1] + [self.rows[0][2][1]], "require")
        with E.Server(good) as srv:
            self.assertEqual(handshake(srv.port, leaf[0], leaf[1])[0], "accept")
            write_conf("critical-idp-reload", ca, crls, "require")
            line, lines = srv.reload()
            self.assertIn("not reloaded", line)
            self.assertIn(reason, "\n".join(lines))
            self.assertEqual(handshake(srv.port, leaf[0], leaf[1])[0], "accept")  # the last good one
            self.assertEqual(srv.stop(), 0)
        RAN.append("critical issuingDistributionPoint refused at load (openssl verify: %s)" % (want or "accept"))

    def test_name_constraints_in_ca_file_warn_at_load(self):
        """A CA file with a (non-critical) nameConstraints loads, with a
        warning that every chain through that CA is refused."""
        p = E.run([E.cli(), "check", "-c", write_conf("nc-warning", self.rnc, [], "require")])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout + p.stderr, r'WARNING.*ssl_ca_file certificate ".*Matrix Intermediate with name '
                         r'constraints" has a nameConstraints extension, which hotssl does not evaluate: every '
                         r'client certificate chain through it is refused')
        RAN.append("nameConstraints in the CA file: warning at load")

    def test_critical_name_constraints_names_the_extension(self):
        """A CA file whose root has a critical nameConstraints: mbedTLS
        cannot parse it; the load error names the extension."""
        nc = Ca("root_nc_critical", "Root with critical name constraints", ext="v3_ca_nc_critical")
        conf = write_conf("critical-nc", nc.crt, [], "require")
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("critical extension nameConstraints (2.5.29.30) is not supported", p.stdout + p.stderr)
        RAN.append("critical nameConstraints refused at load")

    def test_alert_reaches_a_client_that_writes_first(self):
        """A TLS 1.3 client is done with its handshake once it has sent its
        Finished, and may write before it learns that its certificate was
        refused. Python's ssl client here writes 0.2 s after its handshake:
        the server must still be there to take that data (it drains after
        the alert instead of closing with it unread, which resets the
        connection), so that the client reads "certificate revoked" and not
        an EOF or a reset. Failed 10 of 10 before the drain."""
        if not E.tls13_alerts():
            RAN.append("client writing first: not run (no TLS 1.3 alerts on this mbedTLS)")
            return
        name, ca, crls, leaf, _ = self.rows[1]
        self.assertEqual(name, "revoked leaf")
        conf = write_conf("writes-first", ca, crls, "require")
        results = []
        with E.Server(conf) as srv:
            for _ in range(3):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                ctx.load_cert_chain(leaf[0], leaf[1])
                with socket.create_connection(("127.0.0.1", srv.port), timeout=E.DEADLINE) as raw:
                    with ctx.wrap_socket(raw) as t:
                        time.sleep(0.2)  # the refusal's alert and close come first: the case under test
                        try:
                            t.sendall(b"ping\n")
                            t.recv(100)
                            results.append("no error")
                        except ssl.SSLError as e:
                            results.append(e.reason or str(e))
                        except OSError as e:
                            results.append(type(e).__name__)
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(results, ["SSLV3_ALERT_CERTIFICATE_REVOKED"] * 3)
        RAN.append("client writing first (Python ssl, TLS 1.3)")

    def test_require_without_certificate_gets_an_alert(self):
        conf = write_conf("nocert", self.rows[0][1], self.rows[0][2], "require")
        with E.Server(conf) as srv:
            verdict, alert = handshake(srv.port)
            srv.wait_err(r"peer did not return a certificate")
            srv.stop()
        self.assertEqual((verdict, alert), ("refuse", 40))
        if E.tls13_alerts():
            # TLS 1.3: certificate_required (116), as OpenSSL's server sends.
            with E.Server(conf) as srv:
                if tls13(srv.port):
                    self.assertEqual(handshake(srv.port, version="-tls1_3"), ("refuse", 116))
                    srv.wait_err(r"peer did not return a certificate")
                    RAN.append("certificate_required over TLS 1.3")
                srv.stop()
        conf = write_conf("nocert-opt", self.rows[0][1], self.rows[0][2], "optional")
        with E.Server(conf) as srv:
            self.assertEqual(handshake(srv.port)[0], "accept")
            srv.stop()


def serial_of(crt):
    return int(E.run(["openssl", "x509", "-in", crt, "-noout", "-serial"]).stdout.strip().split("=")[1], 16)


def pg_escape(name):
    """PostgreSQL's prepare_cert_name: keep the last 71 characters after
    "...", then every byte outside printable ASCII as \\xNN."""
    b = name.encode("utf-8")
    if len(b) > 71:
        b = b"..." + b[len(b) - 68:]
    return "".join(chr(c) if 32 <= c <= 126 else "\\x%02x" % c for c in b)


class CheckLines:
    """Refuse a certificate through `hotssl serve` and wait for both log lines."""

    def check_lines(self, conf, leaf, key, want1, want2):
        with E.Server(conf) as srv:
            self.assertEqual(handshake(srv.port, leaf, key)[0], "refuse")
            srv.wait_err(re.escape(want1) + "$")
            srv.wait_err(re.escape(want2) + "$")
            srv.stop()


class LogLines(CheckLines, unittest.TestCase):
    """PostgreSQL's two lines for a refused certificate, verbatim, from
    `hotssl serve` (the host's use of hotssl_client_verify_lines)."""

    def test_generated_utf8_and_long_subjects(self):
        ca = Ca("logca", "Log Test CA")
        cn = "\u039f\u03b4\u03c5\u03c3\u03c3\u03ad\u03b1\u03c2"
        utf8 = ca.issue("utf8", "/CN=" + cn, "v3_client")
        long_subj = "/O=An organisation with a rather long name/OU=Unit, with a comma/CN=" + "l" * 40
        lng = ca.issue("long", long_subj, "v3_client")
        crl = ca.crl("logca", revoke=[utf8[0], lng[0]])
        conf = write_conf("loglines", ca.crt, [crl], "require")
        for crt, key, subj in ((utf8[0], utf8[1], "/CN=" + cn),
                               (lng[0], lng[1], long_subj.replace(", ", "\\, "))):
            serial = serial_of(crt)
            self.check_lines(conf, crt, key,
                             "Client certificate verification failed at depth 0: certificate revoked.",
                             'Failed certificate data (unverified): subject "%s", serial number %d, issuer "/CN=Log Test CA".'
                             % (pg_escape(subj), serial))
        RAN.append("log lines (generated UTF-8 and long subjects)")

# What PostgreSQL's 001_ssl_tests.pl and its verification rules say, independently of
# openssl verify (which the test also compares with).
EXPECTED_PG = {
    ("root-only CA, client sends its CA, CRL file", "client"): "accept",
    ("root-only CA, client sends its CA, CRL file", "client-revoked"): "refuse",
    ("root+client CA, no CRL", "client-revoked"): "accept",
    ("root+client CA, CRL file", "client-revoked"): "refuse",
    ("root+client CA, CRL directory", "client"): "accept",
    ("root+client CA, CRL directory", "client-revoked"): "refuse",
    ("root+client CA, only the root's CRL", "client"): "refuse",
    ("root+client CA, only the root's CRL", "client-revoked"): "refuse",
}


class PostgresSuite(CheckLines, unittest.TestCase):
    """The CA/CRL combinations of PostgreSQL's SSL suite, with its files, and
    its UTF-8 log line. Defined only when the files are there."""

    def test_postgres_utf8_subject(self):
        td = PGDATA
        key = os.path.join(TMP, "client-revoked-utf8.key")
        shutil.copyfile(os.path.join(td, "client-revoked-utf8.key"), key)
        os.chmod(key, 0o600)
        conf = write_conf("pgutf8", os.path.join(td, "root+client_ca.crt"), [],
                          "require", crl_dir=os.path.join(td, "root+client-crldir"))
        # As in PostgreSQL's 001_ssl_tests.pl (the serial of today's file).
        crt = os.path.join(td, "client-revoked-utf8.crt")
        self.check_lines(conf, crt, key,
                         "Client certificate verification failed at depth 0: certificate revoked.",
                         'Failed certificate data (unverified): subject "/CN=\\xce\\x9f\\xce\\xb4\\xcf\\x85'
                         '\\xcf\\x83\\xcf\\x83\\xce\\xad\\xce\\xb1\\xcf\\x82", serial number %d, '
                         'issuer "/CN=Test CA for PostgreSQL SSL regression test client certs".' % serial_of(crt))
        RAN.append("log lines (PostgreSQL client-revoked-utf8.crt)")



    def test_combinations(self):
        td = PGDATA
        t = lambda n: os.path.join(td, n)  # noqa: E731
        keys = {}
        for n in ("client", "client-revoked", "server-cn-only"):
            keys[n] = os.path.join(TMP, n + ".key")
            shutil.copyfile(t(n + ".key"), keys[n])
            os.chmod(keys[n], 0o600)
        server = (t("server-cn-only.crt"), keys["server-cn-only"])
        combos = [
            # name, CA file, CRL files, CRL dir, presented intermediates
            ("root-only CA, client sends its CA, CRL file", "root_ca.crt", ["root+client.crl"], None, ["client_ca.crt"]),
            ("root+client CA, no CRL", "root+client_ca.crt", [], None, []),
            ("root+client CA, CRL file", "root+client_ca.crt", ["root+client.crl"], None, []),
            ("root+client CA, CRL directory", "root+client_ca.crt", [], "root+client-crldir", []),
            ("root+client CA, CRL file and directory", "root+client_ca.crt", ["root+client.crl"], "root+client-crldir", []),
            ("root+client CA, only the root's CRL", "root+client_ca.crt", ["root.crl"], None, []),
        ]
        failures = []
        servers = {}
        try:
            for mode in ("optional", "require"):
                servers[mode] = E.Server(write_conf("pg-" + mode, t(combos[0][1]), [], mode, server=server))
            for i, (name, ca, crls, crldir, inter) in enumerate(combos):
                crlfiles = [t(c) for c in crls]
                if crldir:
                    crlfiles += [os.path.join(t(crldir), f) for f in sorted(os.listdir(t(crldir)))]
                chain = cat("pgi%d.pem" % i, [t(x) for x in inter]) if inter else None
                for mode, srv in servers.items():
                    write_conf("pg-" + mode, t(ca), [t(c) for c in crls], mode,
                               crl_dir=t(crldir) if crldir else None, server=server)
                    line, _ = srv.reload()
                    self.assertNotIn("not reloaded", line, name)
                    for leaf in ("client", "client-revoked"):
                        want, _ = openssl_verdict(t(ca), crlfiles, t(leaf + ".crt"), [t(x) for x in inter])
                        verdict, alert = handshake(srv.port, t(leaf + ".crt"), keys[leaf], chain)
                        exp = ("accept", None) if want is None else ("refuse", ALERTS[want])
                        if (verdict, alert) != exp:
                            failures.append("%s, %s (%s): got %s/%s, PostgreSQL (openssl verify): %s"
                                            % (name, leaf, mode, verdict, alert, want or "accept"))
                        if (name, leaf) in EXPECTED_PG and EXPECTED_PG[(name, leaf)] != verdict:
                            failures.append("%s, %s: PostgreSQL's suite expects %s"
                                            % (name, leaf, EXPECTED_PG[(name, leaf)]))
            for srv in servers.values():
                self.assertEqual(srv.stop(), 0)
        finally:
            for srv in servers.values():
                srv.kill()
        self.assertEqual(failures, [], "\n".join(failures))
        RAN.append("PostgreSQL suite CA/CRL combinations (%d)" % len(combos))


if not HAVE_PG:
    del PostgresSuite


if __name__ == "__main__":
    E.main("e2e_verify_matrix")
