"""CRL freshness (`hotssl_crl_stale`): a CRL whose nextUpdate is past, made
with `openssl ca -gencrl -crl_lastupdate ... -crl_nextupdate ...`, against a
real client-certificate handshake (`openssl s_client -cert -key`) with
`hotssl serve` and ssl_client_cert = require. refuse (the default, OpenSSL's
and PostgreSQL's rule) refuses with PostgreSQL's log lines ("CRL has
expired"); warn accepts and logs a WARNING naming the issuer; ignore accepts
silently. Under every setting a certificate the stale CRL lists stays
refused, and the load names the policy in its WARNING."""
import os
import shutil
import tempfile
import unittest

import e2elib as E

TMP = None
K = {}


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-crlstale-")
    p = E.Pki(os.path.join(TMP, "pki"))
    ca = p.ca("ca", "hotssl stale CRL CA")
    K["ca"] = ca[0]
    K["crt"], K["key"] = p.leaf("server", ca, 0x51, cn="localhost")
    K["client"], K["client_key"] = p.leaf("client", ca, 0x52, cn="good client")
    K["revoked"], K["revoked_key"] = p.leaf("revoked", ca, 0x53, cn="revoked client")
    cadir = ca[0][:-len(".crt")] + ".db"
    p.ossl("ca", "-config", p.cnf, "-name", "theca", "-cert", ca[0], "-keyfile", ca[1],
           "-revoke", K["revoked"], cwd=cadir)
    K["crl"] = p.path("stale.crl")
    p.ossl("ca", "-gencrl", "-config", p.cnf, "-name", "theca", "-cert", ca[0], "-keyfile", ca[1],
           "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200201000000Z",
           "-out", K["crl"], cwd=cadir)
    nu = E.run(["openssl", "crl", "-in", K["crl"], "-noout", "-nextupdate"], check=True).stdout
    assert "2020 GMT" in nu, nu


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def make_conf(policy):
    d = tempfile.mkdtemp(dir=TMP)
    for src, name in ((K["crt"], "server.crt"), (K["key"], "server.key"), (K["ca"], "ca.crt"),
                      (K["crl"], "ca.crl")):
        shutil.copyfile(src, os.path.join(d, name))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n"
            "ssl_ca_file = 'ca.crt'\nssl_crl_file = 'ca.crl'\nssl_client_cert = require\n"
            + ("hotssl_crl_stale = %s\n" % policy if policy else ""))
    return conf


def connect(port, crt, key):
    """(echoed, output) of one s_client session with a client certificate."""
    rc, out, echoed = E.s_client_exchange(
        ["-connect", "127.0.0.1:%d" % port, "-CAfile", K["ca"], "-cert", crt, "-key", key])
    return echoed, out


STALE_LINE = ('client certificate accepted although the CRL of issuer "/CN=hotssl stale CRL CA" '
              'is past its next update (hotssl_crl_stale = warn)')


class CrlStale(unittest.TestCase):
    def run_policy(self, policy, expect_ok, load_words):
        with E.Server(make_conf(policy)) as s:
            s.wait_err(r"past its next update .*" + load_words, 0, "the load's CRL warning")
            mark = s.mark()
            echoed, out = connect(s.port, K["client"], K["client_key"])
            self.assertEqual(echoed, expect_ok, out)
            if expect_ok:
                if policy == "warn":
                    s.wait_err(r"WARNING:  " + STALE_LINE.replace("(", r"\(").replace(")", r"\)"),
                               mark, "the stale CRL warning")
            else:
                s.wait_err(r"Client certificate verification failed at depth 0: CRL has expired\.",
                           mark, "PostgreSQL's refusal line")
                s.wait_err(r'Failed certificate data \(unverified\): subject "/CN=good client", serial number 82, '
                           r'issuer "/CN=hotssl stale CRL CA"\.', mark, "PostgreSQL's certificate line")
            # A certificate the stale CRL lists: refused under every setting.
            mark2 = s.mark()
            echoed, out = connect(s.port, K["revoked"], K["revoked_key"])
            self.assertFalse(echoed, out)
            s.wait_err(r"Client certificate verification failed at depth 0: "
                       + ("certificate revoked" if expect_ok else "(CRL has expired|certificate revoked)"),
                       mark2, "the refusal of the revoked client")
            log = "\n".join(s.err)
            self.assertEqual(log.count(STALE_LINE), 1 if policy == "warn" else 0, log)
            self.assertEqual(s.stop(), 0)

    def test_default_refuses(self):
        self.run_policy(None, False, r"refused \(hotssl_crl_stale = refuse\)")

    def test_refuse(self):
        self.run_policy("refuse", False, r"refused \(hotssl_crl_stale = refuse\)")

    def test_warn(self):
        self.run_policy("warn", True, r"accepted with a warning \(hotssl_crl_stale = warn\)")

    def test_ignore(self):
        self.run_policy("ignore", True, r"accepted \(hotssl_crl_stale = ignore\)")

    def test_bad_value(self):
        p = E.run([E.cli(), "check", "-c", make_conf("sometimes")])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn('invalid value for parameter "hotssl_crl_stale": "sometimes"', p.stdout + p.stderr)


if __name__ == "__main__":
    E.main("e2e_crl_stale")
