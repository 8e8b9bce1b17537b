"""Revocation that reaches open connections (docs/live-revocation.md).

In every mode of `hotssl serve` (thread, fork, spawn with either
strategy), two clients with good certificates (Python's ssl) hold open
sessions; the CRL file is replaced by one that revokes the first, and the
file watcher reloads. The first session must be closed, with the
certificate_revoked alert and a log line naming its serial, within one
second of the reload's log line; the second must still echo. A revoked intermediate CA ends the sessions of
the leaves below it.
"""
import os
import socket
import ssl
import threading
import time
import unittest

import e2elib as E

ALICE_SERIAL = 0x2001  # revoked by the second CRL
BOB_SERIAL = 0x2002
LIMIT_S = 1.0


class StampedServer(E.Server):
    """E.Server that also records when each stderr line arrived."""

    def _pump(self, stream, lines):
        if lines is self.err:
            self.err_at = []
            for line in stream:
                with self.cv:
                    lines.append(line.rstrip("\n"))
                    self.err_at.append(time.monotonic())
                    self.cv.notify_all()
            with self.cv:
                self.cv.notify_all()
        else:
            super()._pump(stream, lines)


class Watcher:
    """A session blocked in recv on its own thread: when and how it ended."""

    def __init__(self, t):
        self.t = t
        self.ended_at = None
        self.how = None
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            data = self.t.recv(100)
            self.how = "eof" if not data else "data %r" % data
        except (ssl.SSLError, OSError) as e:
            self.how = str(e)
        self.ended_at = time.monotonic()
        self.done.set()


def make_pki(d):
    pki = E.Pki(os.path.join(d, "pki"))
    root = pki.ca("root", "live-revocation root")
    pki.leaf("server", root, 0x1001, cn="localhost")
    pki.leaf("alice", root, ALICE_SERIAL)
    pki.leaf("bob", root, BOB_SERIAL)
    good = pki.crl("good", root)
    revoked = pki.crl("revoked", root, revoke=[pki.path("alice.crt")])
    return pki, good, revoked


class LiveRevocation(unittest.TestCase):
    def setUp(self):
        self.tmp = E.H.TempDir("hotssl-liverev-")
        self.d = self.tmp.path
        self.pki, self.good, self.revoked = make_pki(self.d)
        self.crl = os.path.join(self.d, "crl.pem")
        E.write(self.crl, E.read(self.good))
        self.conf = os.path.join(self.d, "tls.conf")
        p = self.pki.path
        E.write(self.conf, "ssl_cert_file = '%s'\nssl_key_file = '%s'\nssl_ca_file = '%s'\n"
                           "ssl_crl_file = '%s'\nssl_client_cert = require\nhotssl_debounce_ms = 50\n"
                           % (p("server.crt"), p("server.key"), p("root.crt"), self.crl))

    def tearDown(self):
        self.tmp.cleanup()

    def client(self, port, name):
        ctx = E.client_context(cert=self.pki.path(name + ".crt"), key=self.pki.path(name + ".key"))
        t = E.tls_connect(port, ctx)
        self.assertTrue(E.echo(t, b"hello " + name.encode()), name + " echoes")
        return t

    def check_mode(self, extra):
        with StampedServer(self.conf, extra=extra, watch=True) as s:
            alice = self.client(s.port, "alice")
            bob = self.client(s.port, "bob")
            w = Watcher(alice)
            mark = s.mark()
            E.H.write_atomic(self.crl, E.read(self.revoked))
            i, _ = s.wait_err(r"SSL configuration reloaded \(generation 2\)", mark, "the reload")
            with s.cv:
                reload_at = s.err_at[i]
            self.assertTrue(w.done.wait(E.DEADLINE), "alice's session was not closed")
            took = w.ended_at - reload_at
            print("%s: closed %.3f s after the reload line (%s)" % (" ".join(extra) or "thread",
                                                                   took, w.how))
            self.assertLess(took, LIMIT_S)
            self.assertIn("revoked", w.how)
            _, line = s.wait_err(r"terminating connection because its client certificate was "
                                 r"revoked: serial number %d, depth 0" % ALICE_SERIAL, mark)
            # The other client stays connected and served.
            self.assertTrue(E.echo(bob, b"still here"), "bob still echoes")
            # A new connection with the revoked certificate is refused.
            with self.assertRaises((ssl.SSLError, OSError)):
                t = self.client(s.port, "alice")
                t.close()
            self.assertTrue(E.echo(bob, b"and here"), "bob still echoes")
            bob.close()
            alice.close()
            self.assertEqual(s.stop(), 0)

    def test_thread(self):
        self.check_mode([])

    def test_fork(self):
        self.check_mode(["--mode", "fork"])

    def test_spawn_snapshot(self):
        self.check_mode(["--mode", "spawn"])

    def test_spawn_reread(self):
        self.check_mode(["--mode", "spawn", "--spawn-strategy", "reread"])


class Resumed(unittest.TestCase):
    """A session resumed from a session ticket (no certificate verification
    ran in its handshake) is closed too: the ticket carries the client's
    certificate, and the live check looks its leaf up."""

    setUp = LiveRevocation.setUp
    tearDown = LiveRevocation.tearDown

    def check_resumed(self, version):
        E.write(self.conf, E.read(self.conf).decode() + "hotssl_session_tickets = on\n")
        if not E.tls13():
            # mbedTLS 2.28 has no session tickets: tickets on is an error naming the setting.
            p = E.run([E.cli(), "check", "-c", self.conf])
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("hotssl_session_tickets = on needs mbedTLS 3.6", p.stdout + p.stderr)
            return
        with StampedServer(self.conf, extra=[], watch=True) as s:
            ctx = E.client_context(cert=self.pki.path("alice.crt"), key=self.pki.path("alice.key"))
            ctx.maximum_version = version
            first = E.tls_connect(s.port, ctx)
            self.assertTrue(E.echo(first, b"first"), "alice echoes")  # the ticket arrives with the data
            sess = first.session
            first.close()
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=E.DEADLINE)
            alice = ctx.wrap_socket(sock, session=sess)
            self.assertTrue(E.echo(alice, b"resumed"), "the resumed session echoes")
            self.assertTrue(alice.session_reused, "the second connection resumed its session")
            w = Watcher(alice)
            mark = s.mark()
            E.H.write_atomic(self.crl, E.read(self.revoked))
            i, _ = s.wait_err(r"SSL configuration reloaded \(generation 2\)", mark, "the reload")
            with s.cv:
                reload_at = s.err_at[i]
            self.assertTrue(w.done.wait(E.DEADLINE), "the resumed session was not closed")
            took = w.ended_at - reload_at
            print("resumed %s (thread): closed %.3f s after the reload line (%s)" % (version.name, took, w.how))
            self.assertLess(took, LIMIT_S)
            self.assertIn("revoked", w.how)
            s.wait_err(r"terminating connection because its client certificate was "
                       r"revoked: serial number %d, depth 0" % ALICE_SERIAL, mark)
            alice.close()
            self.assertEqual(s.stop(), 0)

    def test_resumed_tls12(self):
        self.check_resumed(ssl.TLSVersion.TLSv1_2)

    def test_resumed_tls13(self):
        self.check_resumed(ssl.TLSVersion.TLSv1_3)


class Intermediate(unittest.TestCase):
    """A CRL of the root that revokes an intermediate CA closes the sessions
    of the leaves below it (depth 1), not those of a leaf the root issued."""

    def test_revoked_intermediate(self):
        with E.H.TempDir("hotssl-liverev-") as d:
            pki = E.Pki(os.path.join(d, "pki"))
            root = pki.ca("root", "live-revocation root")
            inter = pki.intermediate("inter", root, "live-revocation inter", 0x3003)
            crt = inter[0]
            pki.leaf("server", root, 0x1001, cn="localhost")
            pki.leaf("alice", inter, ALICE_SERIAL)
            pki.leaf("bob", root, BOB_SERIAL)
            inter_crl = pki.crl("inter", inter)
            good = pki.crl("root-good", root)
            revoked = pki.crl("root-revoked", root, revoke=[crt])
            ca = os.path.join(d, "ca.crt")
            E.write(ca, E.read(root[0]) + E.read(crt))
            crl = os.path.join(d, "crl.pem")
            E.write(crl, E.read(good) + E.read(inter_crl))
            conf = os.path.join(d, "tls.conf")
            E.write(conf, "ssl_cert_file = '%s'\nssl_key_file = '%s'\nssl_ca_file = '%s'\n"
                          "ssl_crl_file = '%s'\nssl_client_cert = require\n"
                          % (pki.path("server.crt"), pki.path("server.key"), ca, crl))
            with StampedServer(conf) as s:
                alice = E.tls_connect(s.port, E.client_context(cert=pki.path("alice.crt"),
                                                                key=pki.path("alice.key")))
                bob = E.tls_connect(s.port, E.client_context(cert=pki.path("bob.crt"), key=pki.path("bob.key")))
                self.assertTrue(E.echo(alice) and E.echo(bob))
                w = Watcher(alice)
                mark = s.mark()
                E.H.write_atomic(crl, E.read(revoked) + E.read(inter_crl))
                s.reload()
                self.assertTrue(w.done.wait(E.DEADLINE), "alice's session was not closed")
                self.assertIn("revoked", w.how)
                s.wait_err(r"terminating connection because its client certificate was revoked: "
                           r"serial number %d, depth 1" % 0x3003, mark)
                self.assertTrue(E.echo(bob, b"still here"))
                alice.close()
                bob.close()
                self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("test_live_revocation")
