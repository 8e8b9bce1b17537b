"""The catalogue of bad inputs, each exercised twice:

AT START  `hotssl check` and `hotssl serve` both exit non-zero, and the error
          names the file (the configuration file for a bad setting).
AT RELOAD one `hotssl serve` runs a good configuration (leaf A); each case
          breaks the inputs in place, sends SIGHUP and waits for the reload's
          one result line: it must be "SSL configuration was not reloaded:
          <reason naming the file>", exactly one log line of that reload names
          the file, and a real handshake still sees leaf A's serial. The good
          files are then restored byte for byte, and a second SIGHUP must
          answer "SSL configuration unchanged". At the end leaf B is rotated in
          and must be served (the reload path was alive all along).

Decisions tested here as well (not bad inputs):
  * DER is accepted for a single certificate and for a key (mbedTLS parses
    it): it loads at start and at reload.
  * An expired certificate loads with a WARNING that says "has expired"
    unless hotssl_refuse_expired = on (then it is a catalogue case).

Hygiene mode (env HOTSSL_E2E_HYGIENE=DIR, run by test_hygiene.py): the good
state serves leaf A's key encrypted, unlocked by a passphrase command with a
known passphrase; the key's DER is written to DIR/key.der and every CLI
output is kept in DIR (e2elib), to be searched for both afterwards.

Run: python3 test_catalogue.py [Start|Reload|Decisions]   (env: HOTSSL_CLI)
"""
import os
import re
import shutil
import tempfile
import unittest

import e2elib as E

K = {}          # the module's PKI: name -> path
TMP = None

SERIAL_A = 0xA1A1
SERIAL_B = 0xB2B2
PASS = "right-passphrase"

GOOD_CONF = [
    ("ssl_cert_file", "'server.crt'"),
    ("ssl_key_file", "'server.key'"),
    ("ssl_ca_file", "'ca.crt'"),
    ("ssl_crl_file", "'crl.pem'"),
    ("hotssl_watch", "off"),
]
PASS_CMD = [("ssl_passphrase_command", "'echo %s'" % PASS),
            ("ssl_passphrase_command_supports_reload", "on")]
if E.HYGIENE:
    GOOD_CONF += PASS_CMD


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-cat-")
    os.chmod(TMP, 0o755)
    p = E.Pki(os.path.join(TMP, "pki"))
    os.chmod(p.dir, 0o755)
    ca = p.ca("ca", "hotssl e2e CA")
    K["ca"], K["ca_key"] = ca
    K["a"], K["a_key"] = p.leaf("leafA", ca, SERIAL_A, cn="localhost")
    K["b"], K["b_key"] = p.leaf("leafB", ca, SERIAL_B, cn="localhost")
    K["crl"] = p.crl("ca", ca)
    other = p.ca("other", "hotssl e2e other CA")
    K["other_crl"] = p.crl("other", other)
    K["expired"], K["expired_key"] = p.leaf("expired", ca, 0xE1E1, cn="localhost",
                                            startdate="20200101000000Z", enddate="20210101000000Z")
    K["future"], K["future_key"] = p.leaf("future", ca, 0xF1F1, cn="localhost",
                                          startdate="20990101000000Z", enddate="21000101000000Z")
    # Leaf A's key encrypted as OpenSSL 3 writes it by default (PKCS#8 PBES2, AES-256).
    K["a_key_enc"] = p.path("leafA-enc.key")
    p.ossl("pkey", "-in", K["a_key"], "-aes256", "-passout", "pass:" + PASS, "-out", K["a_key_enc"])
    # The same key encrypted again (other salt and IV: other bytes), for the
    # passphrase cases: in hygiene mode the good state already serves
    # a_key_enc, and an unchanged key is rightly kept without asking.
    K["a_key_enc2"] = p.path("leafA-enc2.key")
    p.ossl("pkey", "-in", K["a_key"], "-aes256", "-passout", "pass:" + PASS, "-out", K["a_key_enc2"])
    # The CA's CRL with one bit of its signature flipped (DER, last byte).
    crl_der = p.path("ca-crl.der")
    p.ossl("crl", "-in", K["crl"], "-outform", "DER", "-out", crl_der)
    raw = bytearray(E.read(crl_der))
    raw[-1] ^= 0x01
    K["crl_badsig"] = p.path("ca-crl-badsig.der")
    E.write(K["crl_badsig"], bytes(raw))
    K["b_der"] = p.der(K["b"], "leafB.der")
    K["b_key_der"] = p.path("leafB-key.der")
    p.ossl("pkey", "-in", K["b_key"], "-outform", "DER", "-out", K["b_key_der"])
    if E.HYGIENE:
        p.ossl("pkey", "-in", K["a_key"], "-outform", "DER", "-out", os.path.join(E.HYGIENE, "key.der"))
        E.write(os.path.join(E.HYGIENE, "passphrase"), PASS)
    make_dh_files(p)
    assert E.serial_of_pem_file(K["a"]) == SERIAL_A


def der_dh(p, g):
    """PKCS#3 DHParameter DER: SEQUENCE { INTEGER p, INTEGER g }."""
    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(ln)]) + ln + body

    def integer(v):
        return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))
    return tlv(0x30, integer(p) + integer(g))


def make_dh_files(p):
    """The DH parameter cases' files (ssl_dh_params_file)."""
    ffdhe = p.path("ffdhe2048.pem")
    p.ossl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", ffdhe)
    text = p.ossl("asn1parse", "-in", ffdhe).stdout
    prime = int(re.search(r"INTEGER\s*:([0-9A-F]+)", text).group(1), 16)
    assert prime.bit_length() == 2048
    K["dh_pem"] = E.read(ffdhe)
    K["dh_512"] = p.path("dh512.pem")
    p.ossl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_paramgen_prime_len:512", "-out", K["dh_512"])
    # A 2048-bit prime whose (p - 1) / 2 has a small factor: prime, not safe.
    small = [q for q in range(3, 2000, 2) if all(q % r for r in range(3, int(q ** 0.5) + 1, 2))]
    while True:
        out = p.ossl("prime", "-generate", "-bits", "2048", "-hex").stdout.strip()
        notsafe = int(out, 16)
        if any(((notsafe - 1) // 2) % q == 0 for q in small):
            break
    K["dh_not_safe"] = der_dh(notsafe, 2)
    K["dh_not_prime"] = der_dh(2 ** 2048 - 1, 2)          # divisible by 3
    K["dh_generator_1"] = der_dh(prime, 1)
    K["dh_too_large"] = der_dh(2 ** 8200 - 1, 2)


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


# ---- the good state of a case directory ----

def conf_text(lines):
    return "# hotssl e2e catalogue\n" + "".join("%s = %s\n" % kv for kv in lines)


def write_conf(d, drop=(), add=(), raw=""):
    lines = [kv for kv in GOOD_CONF if kv[0] not in drop] + list(add)
    E.write(os.path.join(d, "hotssl.conf"), conf_text(lines) + raw)


def make_good(d, cert=None, key=None):
    """(Re)create the good state: every entry is rewritten with the same bytes."""
    for n in os.listdir(d):
        E.remove(os.path.join(d, n))
    shutil.copyfile(cert or K["a"], os.path.join(d, "server.crt"))
    shutil.copyfile(key or (K["a_key_enc"] if E.HYGIENE else K["a_key"]), os.path.join(d, "server.key"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    shutil.copyfile(K["ca"], os.path.join(d, "ca.crt"))
    shutil.copyfile(K["crl"], os.path.join(d, "crl.pem"))
    write_conf(d)


GARBAGE = b"this is not PEM, nor DER\n\x00\x01\x02\xff\xfe garbage garbage\n"


def put(d, name, data, mode=None):
    p = os.path.join(d, name)
    E.remove(p)
    E.write(p, data, mode)
    return p


def P(name):
    return lambda d: os.path.join(d, name)


CONF = P("hotssl.conf")
CERT = P("server.crt")
KEY = P("server.key")
CA = P("ca.crt")
CRL = P("crl.pem")
DH = P("dh.pem")


# ---- the cases ----
# Each: (name, apply(d), named(d) -> path the error must name, reason regex, mode)
# mode: "plain" (server runs as the test's user), "nobody" (root only: the
# server runs as user nobody), "userns" (non-root only: the server runs as
# root of a user namespace, where files of other users show as owned by
# the overflow uid).

def c_truncated(d):
    pem = E.read(K["b"])
    put(d, "server.crt", pem[:len(pem) // 2])


def c_partial_chain(d):
    # Leaf B, then a well-formed PEM block whose DER is garbage.
    import base64
    bad = base64.encodebytes(b"\x30\x82\x01\x00" + b"\x42" * 256).decode()
    put(d, "server.crt", E.read(K["b"]) + ("-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % bad).encode())


def c_directory(d):
    E.remove(CERT(d))
    os.mkdir(CERT(d))


def c_fifo(d):
    E.remove(CERT(d))
    os.mkfifo(CERT(d))


def c_loop(d):
    E.remove(CERT(d))
    os.symlink("loop.crt", CERT(d))
    os.symlink("server.crt", os.path.join(d, "loop.crt"))


def c_dangling(d):
    E.remove(CERT(d))
    os.symlink("no-such-target.crt", CERT(d))


def c_huge(d):
    # One byte over the default hotssl_max_file_size (10 MiB), sparse.
    p = put(d, "server.crt", E.read(K["b"]))
    os.truncate(p, 10485760 + 1)


def c_unreadable(d):
    put(d, "server.crt", E.read(K["b"]), 0o000)


def c_mismatch(d):
    put(d, "server.crt", E.read(K["b"]))   # key stays leaf A's


def c_key_0644(d):
    os.chmod(KEY(d), 0o644)


def c_key_other_owner(d):
    if E.IS_ROOT:
        uid, gid = E.nobody_ids()
        os.chown(KEY(d), uid, gid)           # 0600, owned by nobody; server runs as root
    else:
        # In a user namespace (we are its root), a file of the real root shows
        # as owned by the overflow uid: another user.
        E.remove(KEY(d))
        os.symlink("/etc/passwd", KEY(d))


def c_key_other_owner_unprivileged(d):
    if E.IS_ROOT:
        # The server runs as nobody; the key belongs to user daemon and is
        # readable through the group, so only the owner rule can refuse it.
        import pwd
        uid = pwd.getpwnam("daemon").pw_uid
        _, gid = E.nobody_ids()
        os.chown(KEY(d), uid, gid)
        os.chmod(KEY(d), 0o640)
    else:
        c_key_other_owner(d)


def c_enc_no_cmd(d):
    put(d, "server.key", E.read(K["a_key_enc2"]), 0o600)
    write_conf(d, drop=[k for k, _ in PASS_CMD])


def c_wrong_pass(d):
    put(d, "server.key", E.read(K["a_key_enc2"]), 0o600)
    write_conf(d, drop=[k for k, _ in PASS_CMD], add=[("ssl_passphrase_command", "'echo wrong-passphrase'"),
                       ("ssl_passphrase_command_supports_reload", "on")])


def c_failing_cmd(d):
    put(d, "server.key", E.read(K["a_key_enc2"]), 0o600)
    write_conf(d, drop=[k for k, _ in PASS_CMD], add=[("ssl_passphrase_command", "'exit 3'"),
                       ("ssl_passphrase_command_supports_reload", "on")])


def c_endless_cmd(d):
    # A command that never stops writing must not hang start or reload.
    put(d, "server.key", E.read(K["a_key_enc2"]), 0o600)
    write_conf(d, drop=[k for k, _ in PASS_CMD], add=[("ssl_passphrase_command", "'yes'"),
                       ("ssl_passphrase_command_supports_reload", "on")])


def c_crldir_bad(d):
    os.mkdir(os.path.join(d, "crldir"))
    E.write(os.path.join(d, "crldir", "9bb9e3c3.r0"), GARBAGE)
    write_conf(d, drop=("ssl_crl_file",), add=[("ssl_crl_dir", "'crldir'")])


def c_expired(d):
    put(d, "server.crt", E.read(K["expired"]))
    put(d, "server.key", E.read(K["expired_key"]), 0o600)
    write_conf(d, add=[("hotssl_refuse_expired", "on")])


def c_future(d):
    put(d, "server.crt", E.read(K["future"]))
    put(d, "server.key", E.read(K["future_key"]), 0o600)
    write_conf(d, add=[("hotssl_refuse_expired", "on")])


def c_dh(data=None, fifo=False, half=False):
    """ssl_dh_params_file = 'dh.pem', holding data: bytes, or the name of a
    K entry (made by setUpModule: a path or bytes); None: no file."""
    def apply(d):
        if fifo:
            os.mkfifo(DH(d))
        elif data is not None:
            v = K[data] if isinstance(data, str) else data
            v = E.read(v) if isinstance(v, str) else v
            put(d, "dh.pem", v[:len(v) // 2] if half else v)
        write_conf(d, add=[("ssl_dh_params_file", "'dh.pem'")])
    return apply


TLS13 = E.tls13()
MIN_ABOVE_MAX = ("'TLSv1.3'", "'TLSv1.2'") if TLS13 else ("'TLSv1.2'", "'TLSv1.1'")

CASES = [
    ("cert_garbage", lambda d: put(d, "server.crt", GARBAGE), CERT, r"could not load server certificate file", "plain"),
    ("cert_empty", lambda d: put(d, "server.crt", b""), CERT, r"file is empty", "plain"),
    ("cert_truncated_pem", c_truncated, CERT, r"truncated PEM", "plain"),
    ("cert_chain_partly_parses", c_partial_chain, CERT, r"could not be parsed", "plain"),
    ("cert_missing", lambda d: E.remove(CERT(d)), CERT, r"No such file", "plain"),
    ("cert_is_directory", c_directory, CERT, r"directory", "plain"),
    ("cert_is_fifo", c_fifo, CERT, r"FIFO", "plain"),
    ("cert_symlink_loop", c_loop, CERT, r"symbolic links", "plain"),
    ("cert_dangling_symlink", c_dangling, CERT, r"No such file", "plain"),
    ("cert_huge", c_huge, CERT, r"too large", "plain"),
    ("cert_unreadable", c_unreadable, CERT, r"[Pp]ermission denied", "nobody" if E.IS_ROOT else "plain"),
    ("key_garbage", lambda d: put(d, "server.key", GARBAGE, 0o600), KEY, r"could not load private key file", "plain"),
    ("key_empty", lambda d: put(d, "server.key", b"", 0o600), KEY, r"file is empty", "plain"),
    ("key_cert_mismatch", c_mismatch, KEY, r"does not match", "plain"),
    ("key_mode_0644", c_key_0644, KEY, r"group or world access", "plain"),
    ("key_other_owner", c_key_other_owner, KEY, r"must be owned by the server user or root",
     "plain" if E.IS_ROOT else "userns"),
    ("key_other_owner_unprivileged_server", c_key_other_owner_unprivileged, KEY,
     r"must be owned by the server user or root", "nobody" if E.IS_ROOT else "userns"),
    ("key_encrypted_no_passphrase_command", c_enc_no_cmd, KEY, r"requires a passphrase", "plain"),
    ("key_wrong_passphrase", c_wrong_pass, KEY, r"wrong passphrase", "plain"),
    ("key_passphrase_command_fails", c_failing_cmd, KEY, r"exit code 3", "plain"),
    ("key_passphrase_command_endless_output", c_endless_cmd, KEY, r"ssl_passphrase_command: command \"yes\" failed",
     "plain"),
    ("ca_garbage", lambda d: put(d, "ca.crt", GARBAGE), CA, r"could not load root certificate file", "plain"),
    ("ca_missing", lambda d: E.remove(CA(d)), CA, r"No such file", "plain"),
    ("ca_only_leaf", lambda d: put(d, "ca.crt", E.read(K["b"])), CA, r"no CA certificate", "plain"),
    ("crl_garbage", lambda d: put(d, "crl.pem", GARBAGE), CRL, r"revocation list", "plain"),
    # A CRL whose issuer is not in the CA file is not bad input: it
    # may belong to an intermediate that clients send (tests/e2e/test_verify_matrix.py).
    ("crl_bad_signature", lambda d: put(d, "crl.pem", E.read(K["crl_badsig"])), CRL,
     r"signature does not verify", "plain"),
    ("crl_dir_bad_file", c_crldir_bad, lambda d: os.path.join(d, "crldir", "9bb9e3c3.r0"), r"revocation list", "plain"),
    ("dh_garbage", c_dh(GARBAGE), DH, r"could not load DH parameters file.*not DER either", "plain"),
    ("dh_empty", c_dh(b""), DH, r"could not load DH parameters file.*file is empty", "plain"),
    ("dh_truncated_pem", c_dh("dh_pem", half=True), DH, r"truncated PEM", "plain"),
    ("dh_missing", c_dh(None), DH, r"could not load DH parameters file.*No such file", "plain"),
    ("dh_is_fifo", c_dh(fifo=True), DH, r"FIFO", "plain"),
    ("dh_certificate_instead", c_dh("a"), DH, r"this is a certificate, not DH parameters", "plain"),
    ("dh_p_too_small", c_dh("dh_512"), DH, r"invalid DH parameters.*p is too small \(512 bits", "plain"),
    ("dh_p_too_large", c_dh("dh_too_large"), DH, r"invalid DH parameters.*p is too large \(8200 bits", "plain"),
    ("dh_p_not_prime", c_dh("dh_not_prime"), DH, r"invalid DH parameters.*p is not prime", "plain"),
    ("dh_p_not_safe_prime", c_dh("dh_not_safe"), DH, r"invalid DH parameters.*p is not a safe prime", "plain"),
    ("dh_generator_unsuitable", c_dh("dh_generator_1"), DH, r"invalid DH parameters.*unsuitable generator", "plain"),
    ("prefer_server_ciphers_not_bool", lambda d: write_conf(d, add=[("ssl_prefer_server_ciphers", "'maybe'")]),
     CONF, r'invalid value for parameter "ssl_prefer_server_ciphers": "maybe"', "plain"),
    ("cipher_unknown", lambda d: write_conf(d, add=[("ssl_ciphers", "'TLS-NO-SUCH-CIPHER-SHA999'")]), CONF,
     r"unknown cipher suite", "plain"),
    # mbedTLS 3.6 has TLS 1.3 and no TLS 1.1; 2.28 the reverse.
    ("protocol_min_above_max", lambda d: write_conf(d, add=[("ssl_min_protocol_version", MIN_ABOVE_MAX[0]),
                                                           ("ssl_max_protocol_version", MIN_ABOVE_MAX[1])]), CONF,
     r"cannot be higher than", "plain"),
    ("groups_unknown", lambda d: write_conf(d, add=[("ssl_groups", "'X25519:prime256v1:bogus25519'")]), CONF,
     r'unknown group "bogus25519"', "plain"),
    ("ecdh_curve_unknown", lambda d: write_conf(d, add=[("ssl_ecdh_curve", "'secp999r1'")]), CONF,
     r'"ssl_ecdh_curve": unknown group "secp999r1"', "plain"),
    ("tls13_cipher_unknown", lambda d: write_conf(d, add=[("ssl_tls13_ciphers", "'TLS_AES_512_GCM_SHA1024'")]), CONF,
     r'unknown TLS 1\.3 cipher suite "TLS_AES_512_GCM_SHA1024"', "plain"),
    ("tls13_suite_in_ssl_ciphers", lambda d: write_conf(d, add=[("ssl_ciphers", "'TLS1-3-AES-128-GCM-SHA256'")]), CONF,
     r"TLS 1\.3 suite|unknown cipher suite", "plain"),
    ("client_cert_without_ca", lambda d: write_conf(d, drop=("ssl_ca_file", "ssl_crl_file"),
                                                    add=[("ssl_client_cert", "require")]), CONF,
     r"requires ssl_ca_file", "plain"),
    ("crl_without_ca", lambda d: write_conf(d, drop=("ssl_ca_file",), add=[("ssl_client_cert", "off")]), CONF,
     r"require ssl_ca_file", "plain"),
    ("unknown_config_key", lambda d: write_conf(d, add=[("ssl_no_such_setting", "on")]), CONF,
     r"unrecognized configuration parameter", "plain"),
    ("config_syntax_error", lambda d: write_conf(d, raw="ssl_ciphers = 'unterminated\n"), CONF,
     r"syntax error", "plain"),
    ("cert_expired_refused", c_expired, CERT, r"has expired", "plain"),
    ("cert_not_yet_valid_refused", c_future, CERT, r"is not yet valid", "plain"),
]
if not TLS13:
    # 2.28: TLSv1.3 is refused with a message saying this mbedTLS lacks it.
    CASES.append(("protocol_tls13_unsupported",
                  lambda d: write_conf(d, add=[("ssl_min_protocol_version", "'TLSv1.3'")]), CONF,
                  r"TLSv1\.3.*has no TLS 1\.3", "plain"))


def prefix_for(mode):
    if mode == "nobody":
        return E.setpriv_prefix()
    if mode == "userns":
        if shutil.which("unshare") is None:
            raise AssertionError("unshare (util-linux) is needed for the key-owner case when not root")
        return ["unshare", "--map-root-user"]
    return []


def own_for(mode, d):
    if mode == "nobody":
        uid, gid = E.nobody_ids()
        E.chown_tree(d, uid, gid)
        os.chmod(d, 0o755)


def quoted(path):
    return '"%s"' % path


class Start(unittest.TestCase):
    """Every case at start: check and serve refuse, naming the file."""

    def test_catalogue_has_at_least_25_cases(self):
        self.assertGreaterEqual(len(CASES), 25)
        self.assertEqual(len(set(c[0] for c in CASES)), len(CASES))

    def test_good_config_starts(self):
        d = tempfile.mkdtemp(dir=TMP)
        make_good(d)
        p = E.run([E.cli(), "check", "-c", CONF(d)])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        with E.Server(CONF(d)) as s:
            self.assertEqual(E.served_serial(s.port), SERIAL_A)
            self.assertEqual(s.stop(), 0)

    def test_info_reports_the_certificate(self):
        d = tempfile.mkdtemp(dir=TMP)
        make_good(d)
        p = E.run([E.cli(), "info", "-c", CONF(d)])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^serial:\s+0*A1A1$")
        self.assertRegex(p.stdout, r"(?m)^subject:\s+CN=localhost$")
        fp = E.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", K["a"]], check=True)
        self.assertIn(fp.stdout.strip().split("=", 1)[1].upper(), p.stdout.upper())
        # info refuses a bad configuration like check does.
        put(d, "server.crt", GARBAGE)
        p = E.run([E.cli(), "info", "-c", CONF(d)])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(quoted(CERT(d)), p.stderr)

    def test_each_case_refused_at_start(self):
        nobody_bin = None
        for name, apply, named, reason, mode in CASES:
            with self.subTest(case=name):
                d = tempfile.mkdtemp(dir=TMP)
                make_good(d)
                own_for(mode, d)   # the good files belong to the server's user
                apply(d)           # then the case breaks them (its own owners)
                binary = E.cli()
                if mode == "nobody":
                    nobody_bin = nobody_bin or E.binary_for_nobody(TMP)
                    binary = nobody_bin
                pre = prefix_for(mode)
                path = named(d)
                # check
                p = E.run(pre + [binary, "check", "-c", CONF(d)])
                self.assertNotEqual(p.returncode, 0, "%s: check accepted it: %s" % (name, p.stdout))
                self.assertNotIn("configuration OK", p.stdout)
                self.assertIn("hotssl: FATAL:  ", p.stderr)
                fatal = [l for l in p.stderr.splitlines() if "FATAL:" in l]
                self.assertTrue(any(quoted(path) in l for l in fatal),
                                "%s: check's error does not name %s:\n%s" % (name, path, p.stderr))
                self.assertRegex(p.stderr, reason)
                # serve
                rc, out, err = E.serve_must_fail(CONF(d), prefix=pre, binary=binary)
                self.assertNotEqual(rc, 0, "%s: serve started: %s" % (name, out))
                self.assertNotIn("listening on", out)
                self.assertIn(quoted(path), err, "%s: serve's error does not name %s:\n%s" % (name, path, err))
                self.assertRegex(err, reason)


class Reload(unittest.TestCase):
    """Every case at reload, against one long-running server per run mode."""

    def run_group(self, mode):
        cases = [c for c in CASES if c[4] == mode]
        if not cases:
            return 0
        d = tempfile.mkdtemp(dir=TMP)
        make_good(d)
        own_for(mode, d)
        binary = E.binary_for_nobody(TMP) if mode == "nobody" else None
        with E.Server(CONF(d), prefix=prefix_for(mode), binary=binary) as s:
            s.wait_err(r"SSL configuration loaded \(generation 1\)")
            self.assertEqual(E.served_serial(s.port), SERIAL_A)
            for name, apply, named, reason, _ in cases:
                with self.subTest(case=name, mode=mode):
                    apply(d)
                    path = named(d)
                    line, lines = s.reload()
                    self.assertIn("SSL configuration was not reloaded: ", line, "%s: %s" % (name, lines))
                    self.assertIn(quoted(path), line, name)
                    self.assertRegex(line, reason)
                    self.assertTrue(line.endswith("; trigger: signal"), line)
                    naming = [l for l in lines if quoted(path) in l]
                    self.assertEqual(len(naming), 1, "%s: lines naming the file: %r" % (name, naming))
                    # The old certificate is still served.
                    self.assertEqual(E.served_serial(s.port), SERIAL_A, name)
                    # Restore the good bytes: nothing changed since generation 1.
                    make_good(d)
                    own_for(mode, d)
                    line, lines = s.reload()
                    self.assertRegex(line, r"SSL configuration unchanged \(generation 1\); trigger: signal",
                                     "%s: after restore: %s" % (name, lines))
                    self.assertEqual(E.served_serial(s.port), SERIAL_A)
            # The reload path is alive: rotate to leaf B.
            make_good(d, cert=K["b"], key=K["b_key"])
            own_for(mode, d)
            line, _ = s.reload()
            self.assertRegex(line, r"SSL configuration reloaded \(generation 2\); trigger: signal")
            self.assertEqual(E.served_serial(s.port), SERIAL_B)
            self.assertEqual(s.stop(), 0)
        return len(cases)

    def test_reload_catalogue(self):
        n = 0
        for mode in ("plain", "nobody", "userns"):
            n += self.run_group(mode)
        self.assertEqual(n, len(CASES))


class Decisions(unittest.TestCase):
    """Inputs that are accepted by decision, at start and at reload."""

    def test_der_certificate_and_key_accepted(self):
        # Decision: DER is accepted for a single certificate and for a key,
        # because mbedTLS parses both forms; only a PEM chain can carry more
        # than one certificate.
        d = tempfile.mkdtemp(dir=TMP)
        make_good(d, cert=K["b_der"], key=K["b_key_der"])
        p = E.run([E.cli(), "check", "-c", CONF(d)])
        self.assertEqual(p.returncode, 0, p.stderr)
        with E.Server(CONF(d)) as s:
            self.assertEqual(E.served_serial(s.port), SERIAL_B)
            # At reload: PEM leaf A -> DER leaf B is a normal rotation.
            make_good(d)
            line, _ = s.reload()
            self.assertRegex(line, r"reloaded \(generation 2\)")
            self.assertEqual(E.served_serial(s.port), SERIAL_A)
            make_good(d, cert=K["b_der"], key=K["b_key_der"])
            line, _ = s.reload()
            self.assertRegex(line, r"reloaded \(generation 3\)")
            self.assertEqual(E.served_serial(s.port), SERIAL_B)
            self.assertEqual(s.stop(), 0)

    def test_expired_certificate_loads_with_warning(self):
        d = tempfile.mkdtemp(dir=TMP)
        make_good(d, cert=K["expired"], key=K["expired_key"])
        p = E.run([E.cli(), "check", "-c", CONF(d)])
        self.assertEqual(p.returncode, 0, p.stderr)
        with E.Server(CONF(d)) as s:
            i, line = s.wait_err(r"WARNING:  .*has expired")
            self.assertIn(quoted(CERT(d)), line)
            self.assertEqual(E.served_serial(s.port), 0xE1E1)
            # At reload too: not-yet-valid loads, with its warning.
            make_good(d, cert=K["future"], key=K["future_key"])
            line, lines = s.reload()
            self.assertRegex(line, r"reloaded \(generation 2\)")
            self.assertTrue(any("WARNING:" in l and "is not yet valid" in l for l in lines), lines)
            self.assertEqual(E.served_serial(s.port), 0xF1F1)
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("e2e_catalogue")
