"""Clients no one here wrote, against `hotssl serve`: `openssl s_client`
(plain TLS and `-starttls postgres` against --starttls-postgres), `curl`, and
Python's ssl module. Each verifies the served chain against the test CA and
checks what it saw (subject, serial, echo)."""
import os
import re
import shutil
import ssl
import tempfile
import time
import unittest

import e2elib as E

TMP = None
K = {}
SERIAL = 0xC11E
SERIAL2 = 0xC22E


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-clients-")
    p = E.Pki(os.path.join(TMP, "pki"))
    ca = p.ca("ca", "hotssl e2e clients CA")
    K["ca"] = ca[0]
    K["crt"], K["key"] = p.leaf("server", ca, SERIAL, cn="localhost")
    K["crt2"], K["key2"] = p.leaf("server2", ca, SERIAL2, cn="localhost")
    other = p.ca("other", "hotssl e2e unrelated CA")
    K["other_ca"] = other[0]


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def make_conf(extra=()):
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copyfile(K["crt"], os.path.join(d, "server.crt"))
    shutil.copyfile(K["key"], os.path.join(d, "server.key"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n"
            + "".join("%s = %s\n" % kv for kv in extra))
    return d, conf


def s_client(port, extra=(), payload="hello-from-s_client"):
    return E.s_client(port, K["ca"], extra, payload)


def first_pem(text):
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", text, re.S)
    return m.group(0) if m else None


class OpenSSLClient(unittest.TestCase):
    def check_session(self, rc, out, payload="hello-from-s_client"):
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertRegex(out, r"subject=CN ?= ?localhost")
        self.assertIn("\n%s\n" % payload, out, "no echo in:\n" + out)
        pem = first_pem(out)
        self.assertIsNotNone(pem)
        serial = E.run(["openssl", "x509", "-noout", "-serial"], input=pem)
        self.assertEqual(int(serial.stdout.strip().split("=")[1], 16), SERIAL)

    def test_s_client(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            rc, out = s_client(s.port)
            self.check_session(rc, out)
            self.assertEqual(s.stop(), 0)

    def test_s_client_starttls_postgres(self):
        d, conf = make_conf()
        with E.Server(conf, extra=["--starttls-postgres"]) as s:
            rc, out = s_client(s.port, ["-starttls", "postgres"])
            self.check_session(rc, out)
            self.assertEqual(s.stop(), 0)

    def test_s_client_refuses_unknown_ca(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.port, "-CAfile", K["other_ca"],
                    "-verify_return_error", "-servername", "localhost"]
            p = E.run(args)
            self.assertNotEqual(p.returncode, 0)
            self.assertRegex(p.stdout + p.stderr, r"unable to get local issuer certificate|verify error")
            self.assertEqual(s.stop(), 0)


class Curl(unittest.TestCase):
    def curl(self, port, cafile):
        return E.run(["curl", "-sS", "-v", "--max-time", str(int(E.DEADLINE)), "--cacert", cafile,
                      "--resolve", "localhost:%d:127.0.0.1" % port, "https://localhost:%d/hotssl-e2e" % port])

    def test_curl_verifies_and_gets_its_request_echoed(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            p = self.curl(s.port, K["ca"])
            err = p.stderr
            # TLS: the chain verified against the CA and the served subject.
            self.assertRegex(err, r"SSL certificate verify ok")
            self.assertRegex(err, r"subject: CN ?= ?localhost")
            self.assertIn("> GET /hotssl-e2e HTTP/1.1", err)
            # The echo server sent curl's own request back: curl reads
            # "GET /hotssl-e2e ..." where a status line should be and refuses
            # it as HTTP/0.9, which proves the bytes made the round trip.
            self.assertNotEqual(p.returncode, 60)
            self.assertRegex(err, r"Received HTTP/0\.9 when not allowed|[Uu]nsupported HTTP|Invalid status line",
                             "curl did not read the echoed request back:\n" + err)
            self.assertNotRegex(err, r"SSL certificate problem|SSL_ERROR|handshake failure")
            self.assertEqual(s.stop(), 0)

    def test_curl_refuses_unknown_ca(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            p = self.curl(s.port, K["other_ca"])
            self.assertEqual(p.returncode, 60, p.stderr)   # CURLE_PEER_FAILED_VERIFICATION
            self.assertEqual(s.stop(), 0)


class PythonSsl(unittest.TestCase):
    def test_verified_handshake_with_hostname(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            ctx = E.client_context(cafile=K["ca"], hostname_check=True)
            import socket
            with socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    # The newest version both sides have: TLS 1.3 on mbedTLS 3.6.
                    self.assertEqual(t.version(), "TLSv1.3" if E.tls13() else "TLSv1.2")
                    der = t.getpeercert(binary_form=True)
                    # The DER parser agrees with openssl.
                    self.assertEqual(E.serial_of_der(der), SERIAL)
                    self.assertEqual(E.serial_of_der(der), E.serial_of_pem_file(K["crt"]))
                    t.sendall(b"x" * 10000)
                    got = b""
                    while len(got) < 10000:
                        got += t.recv(10000 - len(got))
                    self.assertEqual(got, b"x" * 10000)
            self.assertEqual(s.stop(), 0)

    def test_ssl_ciphers_restricts_the_suite(self):
        d, conf = make_conf([("ssl_ciphers", "'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'")])
        with E.Server(conf) as s:
            # ssl_ciphers governs TLS 1.2 (PostgreSQL's rule): a TLS 1.2 client
            # gets the one listed suite.
            ctx = E.client_context(cafile=K["ca"])
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            import socket
            with socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    self.assertEqual(t.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")
            # A default (TLS-1.3-capable) client still completes a handshake:
            # TLS 1.3 with its default suites on 3.6 (ssl_ciphers governs
            # TLS 1.2 only), the listed TLS 1.2 suite on 2.28.
            ctx = E.client_context(cafile=K["ca"])
            with socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    if E.tls13():
                        self.assertEqual(t.version(), "TLSv1.3")
                    else:
                        self.assertEqual(t.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")
            # A client that offers only other suites is refused.
            ctx = E.client_context(cafile=K["ca"])
            ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with self.assertRaises(ssl.SSLError):
                E.handshake(s.port, ctx)
            self.assertEqual(s.stop(), 0)

    def test_rotation_seen_by_a_new_client_while_an_old_connection_lives(self):
        # A connection opened before a reload keeps its generation; a new one
        # gets the new certificate.
        d, conf = make_conf()
        with E.Server(conf) as s:
            import socket
            ctx = E.client_context(cafile=K["ca"])
            raw = socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE)
            old = ctx.wrap_socket(raw, server_hostname="localhost")
            try:
                self.assertEqual(E.serial_of_der(old.getpeercert(binary_form=True)), SERIAL)
                shutil.copyfile(K["crt2"], os.path.join(d, "server.crt"))
                shutil.copyfile(K["key2"], os.path.join(d, "server.key"))
                line, _ = s.reload()
                self.assertRegex(line, r"SSL configuration reloaded \(generation 2\)")
                self.assertEqual(E.served_serial(s.port, ctx), SERIAL2)
                old.sendall(b"still here\n")
                self.assertEqual(old.recv(11), b"still here\n")
            finally:
                old.close()
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("e2e_clients")
