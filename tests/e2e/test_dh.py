"""ssl_dh_params_file and ssl_prefer_server_ciphers against real clients.

DH: `openssl s_client -tls1_2 -cipher DHE-RSA-AES256-GCM-SHA384` reports the
server's group size ("Server Temp Key: DH, N bits"): it must be the file's
(RFC 7919 ffdhe3072, a file that takes the full primality check: RFC 3526
modp 3072), mbedTLS's default group (2048 bits) without a file, the new
file's after a watched change and after a SIGHUP, the last good one after a
bad file at reload, and the file's in a spawned backend (the snapshot
carries the parameters). TLS 1.3 is unaffected (an elliptic-curve share).
The bad files themselves are rows of test_catalogue.py.

Cipher order: ssl_ciphers lists B before A, the client offers A before B.
on (PostgreSQL's default): the server's first choice, B. off: the client's
first choice, A, with mbedTLS 3.6 (mbedtls_ssl_conf_preference_order); with
2.28, whose order is fixed at compile time, B and a warning at load.

Run: python3 test_dh.py [Dh|Order]   (env: HOTSSL_CLI)
"""
import os
import re
import shutil
import tempfile
import unittest

import e2elib as E

TMP = None
K = {}

SUITE_A = ("ECDHE-RSA-AES256-GCM-SHA384", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384")
SUITE_B = ("ECDHE-RSA-AES128-GCM-SHA256", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256")
TEMP_KEY = re.compile(r"Server Temp Key: ([^\n,]+), (\d+) bits")
CIPHER = re.compile(r"Cipher is (\S+)")


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-dh-")
    p = E.Pki(os.path.join(TMP, "pki"), ca_cn="hotssl e2e DH CA")
    K["ca"] = p.ca_pair[0]
    # DHE-RSA needs an RSA certificate.
    K["crt"], K["key"] = p.leaf("rsa", p.ca_pair, 0xD1D1, cn="localhost", kind="rsa")
    for group in ("ffdhe2048", "ffdhe3072", "modp_3072"):
        K[group] = p.path(group + ".pem")
        p.ossl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:" + group, "-out", K[group])


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def case_dir(dh=None, extra=()):
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copyfile(K["crt"], os.path.join(d, "server.crt"))
    shutil.copyfile(K["key"], os.path.join(d, "server.key"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    lines = ["ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'",
             "hotssl_debounce_ms = 0", "hotssl_poll_interval_ms = 100"]
    if dh is not None:
        shutil.copyfile(K[dh], os.path.join(d, "dh.pem"))
        lines.append("ssl_dh_params_file = 'dh.pem'")
    lines += list(extra)
    E.write(os.path.join(d, "hotssl.conf"), "\n".join(lines) + "\n")
    return d


def connect(port, args, sni=True):
    name = ["-servername", "localhost"] if sni else ["-noservername"]
    rc, out, echoed = E.s_client_exchange(["-connect", "127.0.0.1:%d" % port, "-CAfile", K["ca"],
                                           "-verify_return_error"] + name + args)
    if not echoed:
        raise AssertionError("no echo through openssl s_client %s (rc %d):\n%s" % (args, rc, out))
    return out


def dhe_bits(port, sni=True):
    out = connect(port, ["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"], sni)
    m = TEMP_KEY.search(out)
    if m is None or m.group(1) != "DH" or "DHE-RSA-AES256-GCM-SHA384" not in out:
        raise AssertionError("not a DHE handshake:\n%s" % out)
    return int(m.group(2))


def swap(path, src):
    tmp = path + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, path)


class Dh(unittest.TestCase):
    def test_default_group_is_mbedtls_2048(self):
        d = case_dir()
        with E.Server(os.path.join(d, "hotssl.conf")) as s:
            self.assertEqual(dhe_bits(s.port), 2048)
            self.assertEqual(s.stop(), 0)

    def test_file_sets_the_group_and_tls13_is_unaffected(self):
        d = case_dir("ffdhe3072")
        with E.Server(os.path.join(d, "hotssl.conf")) as s:
            self.assertEqual(dhe_bits(s.port), 3072)
            if E.tls13():
                out = connect(s.port, ["-tls1_3"])
                self.assertIn("TLSv1.3", out)
                self.assertRegex(out, r"Server Temp Key: X25519")
            self.assertEqual(s.stop(), 0)

    def test_watched_change_then_bad_file_keeps_last_good(self):
        d = case_dir("ffdhe3072")
        dh = os.path.join(d, "dh.pem")
        with E.Server(os.path.join(d, "hotssl.conf"), watch=True) as s:
            self.assertEqual(dhe_bits(s.port), 3072)
            # A prime that is checked in full (not a known group).
            mark = s.mark()
            swap(dh, K["modp_3072"])
            s.wait_err(r"SSL configuration reloaded", mark, "the watcher's reload")
            self.assertEqual(dhe_bits(s.port), 3072)
            mark = s.mark()
            swap(dh, K["ffdhe2048"])
            s.wait_err(r"SSL configuration reloaded", mark, "the watcher's reload")
            self.assertEqual(dhe_bits(s.port), 2048)
            # A bad file: the reload fails naming it, the last good one serves.
            E.write(dh + ".new", b"-----BEGIN DH PARAMETERS-----\nMIIBCAKCAQEA//////////+t+FRYortKmq\n")
            os.replace(dh + ".new", dh)
            line, _ = s.reload()
            self.assertIn("SSL configuration was not reloaded", line)
            self.assertIn('DH parameters file "%s"' % dh, line)
            self.assertIn("truncated PEM", line)
            self.assertEqual(dhe_bits(s.port), 2048)
            self.assertEqual(s.stop(), 0)

    def test_spawned_backend_gets_the_parameters(self):
        d = case_dir("ffdhe3072")
        with E.Server(os.path.join(d, "hotssl.conf"), extra=["--mode", "spawn"]) as s:
            self.assertEqual(dhe_bits(s.port), 3072)
            swap(os.path.join(d, "dh.pem"), K["ffdhe2048"])
            line, _ = s.reload()
            self.assertIn("SSL configuration reloaded", line)
            self.assertEqual(dhe_bits(s.port), 2048)
            self.assertEqual(s.stop(), 0)

    def test_sni_handshakes_get_the_parameters(self):
        # ssl_sni: every handshake runs on the served generation's ssl config,
        # built from the /no_sni/ entry when there is one, else from the
        # configuration's own files; both ways it has the configuration's DH
        # parameters, in thread and spawn mode (snapshot with hosts records).
        for no_sni in ("/no_sni/ server.crt server.key\n", ""):
            d = case_dir("ffdhe3072", extra=["ssl_sni = on"])
            E.write(os.path.join(d, "pg_hosts.conf"), "localhost server.crt server.key\n" + no_sni)
            for mode in ([], ["--mode", "spawn"]):
                with self.subTest(no_sni=bool(no_sni), mode=mode):
                    with E.Server(os.path.join(d, "hotssl.conf"), extra=mode) as s:
                        self.assertEqual(dhe_bits(s.port), 3072)
                        self.assertEqual(dhe_bits(s.port, sni=False), 3072)
                        self.assertEqual(s.stop(), 0)


class Order(unittest.TestCase):
    def chosen(self, setting):
        extra = ["ssl_ciphers = '%s:%s'" % (SUITE_B[1], SUITE_A[1])]
        if setting is not None:
            extra.append("ssl_prefer_server_ciphers = %s" % setting)
        d = case_dir(extra=extra)
        with E.Server(os.path.join(d, "hotssl.conf")) as s:
            out = connect(s.port, ["-tls1_2", "-cipher", "%s:%s" % (SUITE_A[0], SUITE_B[0])])
            warned = s.count("ssl_prefer_server_ciphers = off is not supported")
            self.assertEqual(s.stop(), 0)
        return CIPHER.search(out).group(1), warned

    def test_on_server_order_wins(self):
        for setting in (None, "on", "true", "yes", "1"):
            with self.subTest(setting=setting):
                self.assertEqual(self.chosen(setting), (SUITE_B[0], 0))

    def test_off(self):
        mbedtls3 = E.H.mbedtls_of(E.cli())["version"] >= (3, 0, 0)
        for setting in ("off", "'false'", "no", "0"):
            with self.subTest(setting=setting):
                suite, warned = self.chosen(setting)
                if mbedtls3:
                    self.assertEqual((suite, warned), (SUITE_A[0], 0))
                else:
                    self.assertEqual(suite, SUITE_B[0])
                    self.assertEqual(warned, 1)


if __name__ == "__main__":
    E.main("test_dh")
