"""TLS 1.3 and the TLS settings below, with clients no one here wrote
(`openssl s_client`, curl, Python's ssl) against `hotssl serve`.

Every test runs on both mbedTLS versions with explicit expectations: on
mbedTLS 3.6 TLS 1.3 is negotiated; on 2.28 (no TLS 1.3) the same client
either falls back to TLS 1.2 or, when it insists on TLS 1.3, is refused.
Nothing is skipped.

  Protocol      s_client -tls1_3, curl --tlsv1.3, Python; ssl_min/max_protocol_version;
                ssl_ciphers (TLS 1.2 only) with a TLS-1.3 client; ssl_tls13_ciphers
  Groups        the default group order; ssl_groups / ssl_ecdh_curve restrict what a
                client can negotiate (read from s_client's "Server Temp Key")
  ClientCerts   good / revoked / wrong CA / missing certificates, `optional` and
                `require`, with and without a CRL (revocation table), over every TLS
                version the build has; in `optional` mode a presented bad
                certificate must be refused (the verify-callback trap: a callback
                error that VERIFY_OPTIONAL swallows would let it through)
  Rotation      an open TLS 1.3 connection keeps its certificate across a reload,
                a new one gets the new certificate
"""
import os
import re
import shutil
import socket
import ssl
import tempfile
import unittest

import e2elib as E

TMP = None
K = {}
TLS13 = None
SERIAL, SERIAL2 = 0x1301, 0x1302


def setUpModule():
    global TMP, TLS13
    TLS13 = E.tls13()
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-tls13-")
    os.chmod(TMP, 0o755)
    p = E.Pki(os.path.join(TMP, "pki"))
    ca = p.ca("ca", "hotssl tls13 CA")
    K["ca"] = ca[0]
    K["crt"], K["key"] = p.leaf("server", ca, SERIAL, cn="localhost")
    K["crt2"], K["key2"] = p.leaf("server2", ca, SERIAL2, cn="localhost")
    K["good"], K["good_key"] = p.leaf("client-good", ca, 0xC1, cn="good client")
    K["revoked"], K["revoked_key"] = p.leaf("client-revoked", ca, 0xC2, cn="revoked client")
    K["crl"] = p.crl("ca", ca, revoke=[K["revoked"]])
    other = p.ca("other", "hotssl tls13 unrelated CA")
    K["other_ca"] = other[0]
    K["stranger"], K["stranger_key"] = p.leaf("client-stranger", other, 0xC3, cn="stranger")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def make_conf(extra=()):
    d = tempfile.mkdtemp(dir=TMP)
    for src, dst in ((K["crt"], "server.crt"), (K["key"], "server.key"), (K["ca"], "ca.crt"),
                     (K["crl"], "ca.crl")):
        shutil.copyfile(src, os.path.join(d, dst))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            + "".join("%s = %s\n" % kv for kv in extra))
    return d, conf


def ctx_for(version=None, cert=None, key=None):
    """A verifying Python client, pinned to one TLS version if given."""
    ctx = E.client_context(cafile=K["ca"], cert=cert, key=key)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def versions():
    """The TLS versions this build serves (each client-certificate case runs on all)."""
    return [ssl.TLSVersion.TLSv1_2] + ([ssl.TLSVersion.TLSv1_3] if TLS13 else [])


def outcome(port, ctx, payload=b"hello over tls"):
    """("ok", version) if the handshake and an echo work; ("refused", why)
    if the server refused (in TLS 1.3 a refused client certificate shows up
    on the first read, after the client's handshake is done)."""
    try:
        with E.tls_connect(port, ctx, server_hostname="localhost") as t:
            v = t.version()
            t.sendall(payload)
            got = E.recv_up_to(t, len(payload))
            if got == payload:
                return "ok", v
            return "refused", "no echo (%r) on %s" % (got, v)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return "refused", repr(e)


def temp_key(out):
    m = re.search(r"Server Temp Key: ([^\n]+)", out)
    return m.group(1) if m else None


class Protocol(unittest.TestCase):
    def test_openssl_s_client_tls13(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            rc, out = E.s_client(s.port, K["ca"], ["-tls1_3"])
            if TLS13:
                self.assertIn("New, TLSv1.3, Cipher is TLS_", out)
                self.assertIn("Verify return code: 0 (ok)", out)
                self.assertIn("\nhello-from-s_client\n", out, out)
            else:
                self.assertNotIn("New, TLSv1.3", out)
                self.assertNotIn("\nhello-from-s_client\n", out)
            self.assertEqual(s.stop(), 0)

    def test_curl_tls13(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            p = E.run(["curl", "-sS", "-v", "--tlsv1.3", "--max-time", str(int(E.DEADLINE)),
                       "--cacert", K["ca"], "--resolve", "localhost:%d:127.0.0.1" % s.port,
                       "https://localhost:%d/tls13" % s.port])
            if TLS13:
                self.assertRegex(p.stderr, r"SSL connection using TLSv1\.3 / TLS_")
                self.assertIn("SSL certificate verify ok", p.stderr)
                # The echo server sent curl's own request back (see test_clients).
                self.assertRegex(p.stderr, r"Received HTTP/0\.9 when not allowed|[Uu]nsupported HTTP|Invalid status line")
            else:
                self.assertEqual(p.returncode, 35, p.stderr)  # CURLE_SSL_CONNECT_ERROR
            self.assertEqual(s.stop(), 0)

    def test_python_default_client_gets_the_newest_version(self):
        d, conf = make_conf()
        with E.Server(conf) as s:
            self.assertEqual(outcome(s.port, ctx_for()), ("ok", "TLSv1.3" if TLS13 else "TLSv1.2"))
            self.assertEqual(s.stop(), 0)

    def test_min_protocol_tls13(self):
        d, conf = make_conf([("ssl_min_protocol_version", "'TLSv1.3'")])
        if not TLS13:
            rc, out, err = E.serve_must_fail(conf)
            self.assertNotEqual(rc, 0)
            self.assertRegex(err, r'"TLSv1\.3" is not supported by this mbedTLS build \(mbedTLS 2\.28\.\d+ has no TLS 1\.3')
            return
        with E.Server(conf) as s:
            self.assertEqual(outcome(s.port, ctx_for(ssl.TLSVersion.TLSv1_3)), ("ok", "TLSv1.3"))
            self.assertEqual(outcome(s.port, ctx_for(ssl.TLSVersion.TLSv1_2))[0], "refused")
            self.assertEqual(s.stop(), 0)

    def test_max_protocol_tls12(self):
        d, conf = make_conf([("ssl_max_protocol_version", "'TLSv1.2'")])
        with E.Server(conf) as s:
            self.assertEqual(outcome(s.port, ctx_for()), ("ok", "TLSv1.2"))
            self.assertEqual(outcome(s.port, ctx_for(ssl.TLSVersion.TLSv1_3))[0], "refused")
            self.assertEqual(s.stop(), 0)

    def test_ssl_ciphers_governs_tls12_only(self):
        # With only TLS 1.2 suites in ssl_ciphers, TLS 1.3 keeps its default
        # suites: mbedTLS 3.6 picks TLS 1.3 first, and applying ssl_ciphers to
        # it would leave no suite (handshake_failure).
        d, conf = make_conf([("ssl_ciphers", "'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'")])
        with E.Server(conf) as s:
            rc, out = E.s_client(s.port, K["ca"])
            if TLS13:
                self.assertIn("New, TLSv1.3, Cipher is TLS_", out)
            else:
                self.assertIn("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", out)
            self.assertIn("\nhello-from-s_client\n", out, out)
            rc, out = E.s_client(s.port, K["ca"], ["-tls1_2"])
            self.assertIn("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", out)
            rc, out = E.s_client(s.port, K["ca"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"])
            self.assertNotIn("\nhello-from-s_client\n", out)
            self.assertEqual(s.stop(), 0)

    def test_ssl_tls13_ciphers(self):
        d, conf = make_conf([("ssl_tls13_ciphers", "'TLS_AES_128_GCM_SHA256'")])
        with E.Server(conf) as s:
            rc, out = E.s_client(s.port, K["ca"])
            if TLS13:
                self.assertIn("New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256", out)
                self.assertIn("\nhello-from-s_client\n", out, out)
                rc, out = E.s_client(s.port, K["ca"], ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"])
                self.assertNotIn("\nhello-from-s_client\n", out)
            else:
                # No TLS 1.3 here: the setting is checked and restricts nothing.
                self.assertIn("New, TLSv1.2", out)
                self.assertIn("\nhello-from-s_client\n", out, out)
            self.assertEqual(s.stop(), 0)


class Groups(unittest.TestCase):
    def served_group(self, port, extra):
        rc, out = E.s_client(port, K["ca"], extra)
        ok = "\nhello-from-s_client\n" in out
        return temp_key(out) if ok else None

    def test_default_group_order(self):
        # X25519 first (PostgreSQL's default order, and the measured faster
        # one: docs/tls-dh.md "TLS 1.3"); never mbedTLS 2.28's secp521r1-first default.
        d, conf = make_conf()
        with E.Server(conf) as s:
            self.assertRegex(self.served_group(s.port, ["-tls1_2"]) or "", r"^X25519")
            self.assertRegex(self.served_group(s.port, ["-tls1_2", "-groups", "P-384:P-256"]) or "",
                             r"prime256v1")
            if TLS13:
                self.assertRegex(self.served_group(s.port, ["-tls1_3"]) or "", r"^X25519")
            # A client with neither X25519 nor P-256 finds no common group.
            self.assertIsNone(self.served_group(s.port, ["-tls1_2", "-groups", "P-384:P-521"]))
            self.assertEqual(s.stop(), 0)

    def test_ssl_groups_restricts(self):
        d, conf = make_conf([("ssl_groups", "'secp384r1:prime256v1'")])
        with E.Server(conf) as s:
            # TLS 1.2: the server's order picks among the client's groups.
            # OpenSSL's default client offers X25519 first: not allowed here.
            self.assertRegex(self.served_group(s.port, ["-tls1_2"]) or "", r"secp384r1")
            for v in ["-tls1_2"] + (["-tls1_3"] if TLS13 else []):
                # TLS 1.3: the client's X25519 key share is refused; mbedTLS
                # asks (HelloRetryRequest) for an allowed group the client has.
                self.assertRegex(self.served_group(s.port, [v]) or "", r"secp384r1|prime256v1", v)
                self.assertRegex(self.served_group(s.port, [v, "-groups", "X25519:P-256"]) or "",
                                 r"prime256v1", v)
                self.assertIsNone(self.served_group(s.port, [v, "-groups", "X25519"]), v)
            self.assertEqual(s.stop(), 0)

    def test_ssl_ecdh_curve_is_the_older_name(self):
        d, conf = make_conf([("ssl_ecdh_curve", "'prime256v1'")])
        with E.Server(conf) as s:
            self.assertRegex(self.served_group(s.port, ["-tls1_2"]) or "", r"prime256v1")
            self.assertIsNone(self.served_group(s.port, ["-tls1_2", "-groups", "X25519"]))
            self.assertEqual(s.stop(), 0)
        d, conf = make_conf([("ssl_ecdh_curve", "'prime256v1'"), ("ssl_groups", "'X25519'")])
        rc, out, err = E.serve_must_fail(conf)
        self.assertRegex(err, r"ssl_groups .* and its older name ssl_ecdh_curve .* different values")

    def test_bad_group_refuses_to_start(self):
        d, conf = make_conf([("ssl_groups", "'X25519:prime256v1:curve9999'")])
        rc, out, err = E.serve_must_fail(conf)
        self.assertNotEqual(rc, 0)
        self.assertIn('invalid value for parameter "ssl_groups": unknown group "curve9999"', err)
        self.assertNotIn("listening on", out)


class ClientCerts(unittest.TestCase):
    CASES = [  # client certificate, expected in optional, expected in require
        ("good", "ok", "ok"),
        ("revoked", "refused", "refused"),
        ("stranger", "refused", "refused"),
        (None, "ok", "refused"),
    ]

    def run_matrix(self, with_crl):
        for mode in ("optional", "require"):
            extra = [("ssl_ca_file", "'ca.crt'"), ("ssl_client_cert", mode)]
            if with_crl:
                extra.append(("ssl_crl_file", "'ca.crl'"))
            d, conf = make_conf(extra)
            with E.Server(conf) as s:
                for v in versions():
                    for name, want_opt, want_req in self.CASES:
                        if name == "revoked" and not with_crl:
                            want = "ok"  # without a CRL nothing says it is revoked
                        else:
                            want = want_opt if mode == "optional" else want_req
                        ctx = ctx_for(v, K[name], K[name + "_key"]) if name else ctx_for(v)
                        with self.subTest(mode=mode, crl=with_crl, tls=v.name, client=name):
                            got = outcome(s.port, ctx)
                            self.assertEqual(got[0], want, "%s %s %s crl=%s: %r" % (mode, v.name, name, with_crl, got))
                            if want == "ok":
                                self.assertEqual(got[1], {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[v.name])
                if not TLS13:
                    # 2.28: a client that insists on TLS 1.3 is refused, whatever it sends.
                    got = outcome(s.port, ctx_for(ssl.TLSVersion.TLSv1_3, K["good"], K["good_key"]))
                    self.assertEqual(got[0], "refused")
                self.assertEqual(s.stop(), 0)

    def test_client_certificates_with_revocation_table(self):
        self.run_matrix(with_crl=True)

    def test_client_certificates_without_crl(self):
        self.run_matrix(with_crl=False)


class Rotation(unittest.TestCase):
    def test_open_connection_keeps_its_certificate(self):
        d, conf = make_conf()
        v = ssl.TLSVersion.TLSv1_3 if TLS13 else ssl.TLSVersion.TLSv1_2
        with E.Server(conf) as s:
            raw = socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE)
            old = ctx_for(v).wrap_socket(raw, server_hostname="localhost")
            try:
                self.assertEqual(old.version(), "TLSv1.3" if TLS13 else "TLSv1.2")
                self.assertEqual(E.serial_of_der(old.getpeercert(binary_form=True)), SERIAL)
                shutil.copyfile(K["crt2"], os.path.join(d, "server.crt"))
                shutil.copyfile(K["key2"], os.path.join(d, "server.key"))
                line, _ = s.reload()
                self.assertRegex(line, r"SSL configuration reloaded \(generation 2\)")
                self.assertEqual(E.served_serial(s.port, ctx_for(v)), SERIAL2)
                self.assertTrue(E.echo(old, b"still here"))
                self.assertEqual(E.serial_of_der(old.getpeercert(binary_form=True)), SERIAL)
            finally:
                old.close()
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("e2e_tls13")
