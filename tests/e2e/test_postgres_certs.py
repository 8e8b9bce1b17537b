"""PostgreSQL-shaped SSL test certificates (the generated set by default,
PostgreSQL's own files in the .pgdata run) served by `hotssl serve`, with
real handshakes from Python's ssl module.

Keys are copied into the test's temporary directory with mode 0600 first:
the key-file rule applies to them like to any key.
"""
import os
import shutil
import socket
import ssl
import tempfile
import unittest

import e2elib as E

TD = None
TMP = None

SERIAL_CN_ONLY = 0x2023071316352302
PG_HOST = "common-name.pg-ssltest.test"


def setUpModule():
    global TD, TMP
    TD = E.testdata()       # says which set; fails with a clear message when missing
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-pg-")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def td(name):
    return os.path.join(TD, name)


def key_copy(d, name):
    dst = os.path.join(d, name)
    shutil.copyfile(td(name), dst)
    os.chmod(dst, 0o600)
    return dst


def make_conf(settings):
    d = tempfile.mkdtemp(dir=TMP)
    lines = ["hotssl_watch = off"]
    for k, v in settings.items():
        if k == "ssl_key_file" or v.endswith(".key"):
            v = key_copy(d, v)
        elif k in ("ssl_cert_file", "ssl_ca_file", "ssl_crl_file", "ssl_crl_dir"):
            v = td(v)
        lines.append("%s = '%s'" % (k, v.replace("'", "''")))
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "\n".join(lines) + "\n")
    return d, conf


def assert_refused(test, server, ctx, what):
    """The handshake (or the first read after it) must fail, and the server
    must log that it could not serve the connection."""
    mark = server.mark()
    with test.assertRaises((ssl.SSLError, OSError), msg=what):
        E.handshake(server.port, ctx)
    server.wait_err(r"could not serve SSL connection", mark, "the server's refusal (%s)" % what)


class ServerChain(unittest.TestCase):
    def test_chain_with_intermediate_verifies_against_root_only(self):
        d, conf = make_conf({"ssl_cert_file": "server-cn-only+server_ca.crt",
                             "ssl_key_file": "server-cn-only.key"})
        ctx = E.client_context(cafile=td("root_ca.crt"))
        ctx.check_hostname = True
        if hasattr(ctx, "hostname_checks_common_name"):
            ctx.hostname_checks_common_name = True   # the v1 certificate has no SAN
        else:
            ctx.check_hostname = False
        with E.Server(conf) as s:
            with socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname=PG_HOST) as t:
                    peer = t.getpeercert()
                    self.assertEqual(E.serial_of_der(t.getpeercert(binary_form=True)), SERIAL_CN_ONLY)
                    self.assertIn((("commonName", PG_HOST),), peer["subject"])
                    t.sendall(b"hello\n")
                    self.assertEqual(t.recv(6), b"hello\n")
            self.assertEqual(s.stop(), 0)

    def test_leaf_alone_does_not_verify_against_root_only(self):
        # Control: without the intermediate in the served file, a client that
        # trusts only the root must fail, so the test above proves the chain
        # was sent.
        d, conf = make_conf({"ssl_cert_file": "server-cn-only.crt",
                             "ssl_key_file": "server-cn-only.key"})
        ctx = E.client_context(cafile=td("root_ca.crt"))
        with E.Server(conf) as s:
            with self.assertRaises(ssl.SSLCertVerificationError):
                E.handshake(s.port, ctx, server_hostname=PG_HOST)
            self.assertEqual(s.stop(), 0)


class PasswordKey(unittest.TestCase):
    def test_server_password_key_with_echo_secret1(self):
        d, conf = make_conf({"ssl_cert_file": "server-cn-only.crt",
                             "ssl_key_file": "server-password.key",
                             "ssl_passphrase_command": "echo secret1"})
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        with E.Server(conf) as s:
            self.assertEqual(E.served_serial(s.port), SERIAL_CN_ONLY)
            self.assertEqual(s.stop(), 0)

    def test_server_password_key_with_wrong_passphrase(self):
        d, conf = make_conf({"ssl_cert_file": "server-cn-only.crt",
                             "ssl_key_file": "server-password.key",
                             "ssl_passphrase_command": "echo secret2"})
        key = os.path.join(d, "server-password.key")
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('"%s"' % key, p.stderr)
        self.assertIn("wrong passphrase", p.stderr)
        rc, out, err = E.serve_must_fail(conf)
        self.assertNotEqual(rc, 0)
        self.assertIn("wrong passphrase", err)


class ClientCertificates(unittest.TestCase):
    """ssl_client_cert = require with ssl_ca_file = root+client_ca.crt."""

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(dir=TMP)
        for k in ("client.key", "client-revoked.key", "server-cn-only.key"):
            key_copy(cls.keys, k)
        # A self-signed client certificate from no CA the server knows.
        p = E.Pki(os.path.join(cls.keys, "pki"))
        cls.selfsigned = p.ca("selfsigned", "ssltestuser")

    def client(self, crt=None, key=None):
        if crt is None:
            return E.client_context()
        return E.client_context(cert=td(crt) if not os.path.isabs(crt) else crt,
                                key=os.path.join(self.keys, key) if not os.path.isabs(key) else key)

    def check_server(self, crl):
        settings = {"ssl_cert_file": "server-cn-only.crt", "ssl_key_file": "server-cn-only.key",
                    "ssl_ca_file": "root+client_ca.crt", "ssl_client_cert": "require"}
        settings.update(crl)
        d, conf = make_conf(settings)
        with E.Server(conf) as s:
            # client.crt is accepted (and the echo works).
            self.assertEqual(E.served_serial(s.port, self.client("client.crt", "client.key")), SERIAL_CN_ONLY)
            # No certificate: refused.
            assert_refused(self, s, self.client(), "no client certificate")
            # A revoked certificate: refused.
            assert_refused(self, s, self.client("client-revoked.crt", "client-revoked.key"), "client-revoked.crt")
            # A certificate from the wrong CA: refused (the server CA's leaf,
            # and a self-signed one).
            assert_refused(self, s, self.client("server-cn-only.crt", "server-cn-only.key"), "wrong CA")
            assert_refused(self, s, self.client(*self.selfsigned), "self-signed")
            # And the good client still gets in afterwards.
            self.assertEqual(E.served_serial(s.port, self.client("client.crt", "client.key")), SERIAL_CN_ONLY)
            self.assertEqual(s.stop(), 0)

    def test_with_crl_file(self):
        self.check_server({"ssl_crl_file": "root+client.crl"})

    def test_with_crl_dir(self):
        self.check_server({"ssl_crl_dir": "root+client-crldir"})

    def test_revoked_is_accepted_without_crl(self):
        # Control: the refusal above comes from the CRL, not from the certificate.
        d, conf = make_conf({"ssl_cert_file": "server-cn-only.crt", "ssl_key_file": "server-cn-only.key",
                             "ssl_ca_file": "root+client_ca.crt", "ssl_client_cert": "require"})
        with E.Server(conf) as s:
            self.assertEqual(E.served_serial(s.port, self.client("client-revoked.crt", "client-revoked.key")),
                             SERIAL_CN_ONLY)
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("e2e_postgres_certs")
