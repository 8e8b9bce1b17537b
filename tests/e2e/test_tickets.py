"""Session resumption with tickets (docs/session-resumption.md), with clients
no one here wrote: `openssl s_client -sess_out/-sess_in` ("Reused") and
Python's ssl (`session=`, `session_reused`), against `hotssl serve`.

On mbedTLS 3.6 every case runs over TLS 1.2 and TLS 1.3. On mbedTLS 2.28
`hotssl_session_tickets = on` is refused at start with a message saying so
(Compat228 checks it; the other classes then check that refusal too).

  Resume      thread, fork, spawn (snapshot and reread) modes: the second
              connection resumes, in fork/spawn mode in a process that never
              shared memory with the first; Python's ssl session= too
  Fleet       a second server with the same key file resumes the first's
              tickets; one with another key file does not
  Rotation    a key file change: a ticket under the previous key resumes, one
              under a dropped key gets a full handshake
  NoResume    a CA file change, a CRL that now revokes the client certificate,
              another SNI name, an expired ticket: full handshake; a
              certificate rotation keeping the CA still resumes
  BadKeys     wrong size, bad base64, empty: an error naming the file at
              start; at reload the last good keys stay, one line names it
"""
import base64
import os
import re
import shutil
import socket
import ssl
import tempfile
import time
import unittest

import e2elib as E

TMP = None
K = {}
TLS13 = None


def setUpModule():
    global TMP, TLS13
    TLS13 = E.tls13()
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-tickets-")
    os.chmod(TMP, 0o755)
    p = E.Pki(os.path.join(TMP, "pki"))
    ca = p.ca("ca", "hotssl tickets CA")
    K["ca"] = ca[0]
    K["crt"], K["key"] = p.leaf("server", ca, 0x7101, cn="localhost")
    K["crt2"], K["key2"] = p.leaf("server2", ca, 0x7102, cn="localhost")
    K["good"], K["good_key"] = p.leaf("client-good", ca, 0x71C1, cn="good client")
    K["crl_empty"] = p.crl("empty", ca, revoke=[])
    K["crl_revoking"] = p.crl("revoking", ca, revoke=[K["good"]])
    other = p.ca("other", "hotssl tickets other CA")
    K["other_ca"] = other[0]


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def versions():
    return ["-tls1_2"] + (["-tls1_3"] if TLS13 else [])


def new_key(size=80):
    return os.urandom(size)


def write_keys(path, keys, fmt="binary"):
    if E.HYGIENE:  # the hygiene test searches every output for these
        with open(os.path.join(E.HYGIENE, "ticket-keys.hex"), "a") as f:
            f.write("".join(k.hex() + "\n" for k in keys))
    if fmt == "binary":
        data = b"".join(keys)
    else:
        data = b"".join(base64.b64encode(k) + b"\n" for k in keys)
    E.write(path, data, 0o600)


def make_conf(extra=(), keys=None, fmt="binary"):
    d = tempfile.mkdtemp(dir=TMP)
    for src, dst in ((K["crt"], "server.crt"), (K["key"], "server.key"), (K["ca"], "ca.crt")):
        shutil.copyfile(src, os.path.join(d, dst))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    lines = ["ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'",
             "hotssl_session_tickets = on"]
    if keys is not None:
        write_keys(os.path.join(d, "tickets.key"), keys, fmt)
        lines.append("hotssl_ticket_key_file = 'tickets.key'")
    lines += ["%s = %s" % kv for kv in extra]
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "\n".join(lines) + "\n")
    return d, conf


def connect(port, sess_file, version, resume, extra=()):
    """One s_client connection; returns "New" or "Reused" (or the output when
    the handshake failed)."""
    opt = ["-sess_in" if resume else "-sess_out", sess_file]
    rc, out = E.s_client(port, K["ca"], [version] + opt + list(extra))
    m = re.search(r"^(New|Reused), ", out, re.M)
    if rc != 0 or m is None or "\nhello-from-s_client\n" not in out:
        return "failed: rc=%d %s" % (rc, "\n".join(l for l in out.splitlines()
                                                    if not re.match(r"^[A-Za-z0-9+/=]{40,}$", l))[-1500:])
    return m.group(1)


def first_and_again(test, port, version, port2=None, extra=()):
    """A full handshake that stores its session, then a connection offering
    it (to port2 when given). Returns the second's outcome."""
    f = os.path.join(TMP, "sess-%d-%s" % (os.getpid(), time.monotonic_ns()))
    got = connect(port, f, version, False, extra)
    test.assertEqual(got, "New", got)
    test.assertTrue(os.path.getsize(f) > 0)
    return connect(port2 or port, f, version, True, extra), f


def refuses_228(test, conf):
    """mbedTLS 2.28: tickets on is an error at start naming the setting."""
    p = E.run([E.cli(), "check", "-c", conf])
    test.assertEqual(p.returncode, 1, p.stdout + p.stderr)
    test.assertIn("hotssl_session_tickets = on needs mbedTLS 3.6", p.stdout + p.stderr)


class Compat228(unittest.TestCase):
    def test_version_rule(self):
        _, conf = make_conf()
        if TLS13:
            p = E.run([E.cli(), "check", "-c", conf])
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        else:
            refuses_228(self, conf)


class Resume(unittest.TestCase):
    def modes(self):
        return [["--mode", "thread"], ["--mode", "fork"],
                ["--mode", "spawn", "--spawn-strategy", "snapshot"],
                ["--mode", "spawn", "--spawn-strategy", "reread"]]

    def test_s_client_each_mode_generated_keys(self):
        _, conf = make_conf()
        if not TLS13:
            return refuses_228(self, conf)
        for mode in self.modes():
            with E.Server(conf, mode) as s:
                for v in versions():
                    with self.subTest(mode=mode[1:], version=v):
                        got, _ = first_and_again(self, s.port, v)
                        self.assertEqual(got, "Reused")

    def test_s_client_spawn_reread_with_key_file(self):
        _, conf = make_conf(keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        with E.Server(conf, ["--mode", "spawn", "--spawn-strategy", "reread"]) as s:
            for v in versions():
                with self.subTest(version=v):
                    self.assertEqual(first_and_again(self, s.port, v)[0], "Reused")

    def test_python_session(self):
        _, conf = make_conf(keys=[new_key(48)], fmt="base64")
        if not TLS13:
            return refuses_228(self, conf)
        vers = [ssl.TLSVersion.TLSv1_2] + ([ssl.TLSVersion.TLSv1_3] if TLS13 else [])
        for mode in self.modes():
            with E.Server(conf, mode) as s:
                for v in vers:
                    with self.subTest(mode=mode[1:], version=str(v)):
                        ctx = E.client_context(cafile=K["ca"], hostname_check=True)
                        ctx.minimum_version = ctx.maximum_version = v
                        sess, reused = python_connect(s.port, ctx, None)
                        self.assertFalse(reused)
                        self.assertIsNotNone(sess)
                        _, reused = python_connect(s.port, ctx, sess)
                        self.assertTrue(reused)

    def test_info_items(self):
        d, conf = make_conf(keys=[new_key(), new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        p = E.run([E.cli(), "info", "-c", conf, "--json"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('"session_tickets": true', p.stdout)
        self.assertIn('"ticket_keys": 2', p.stdout)
        key0 = open(os.path.join(d, "tickets.key"), "rb").read()[:16].hex()
        self.assertIn('"ticket_key_name": "%s"' % key0, p.stdout)


def python_connect(port, ctx, session):
    with socket.create_connection(("127.0.0.1", port), timeout=E.DEADLINE) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as t:
            t.sendall(b"ping")
            got = E.recv_up_to(t, 4)
            if got != b"ping":
                raise AssertionError("no echo: %r" % got)
            return t.session, t.session_reused


class Fleet(unittest.TestCase):
    def test_same_key_file_resumes_other_does_not(self):
        keys = [new_key(), new_key()]
        d1, conf1 = make_conf(keys=keys)
        if not TLS13:
            return refuses_228(self, conf1)
        _, conf2 = make_conf(keys=keys, fmt="base64")  # the same keys, HAProxy's format
        _, conf3 = make_conf(keys=[new_key(), new_key()])
        with E.Server(conf1) as a, E.Server(conf2, ["--mode", "fork"]) as b, E.Server(conf3) as c:
            for v in versions():
                with self.subTest(version=v):
                    self.assertEqual(first_and_again(self, a.port, v, b.port)[0], "Reused")
                    self.assertEqual(first_and_again(self, a.port, v, c.port)[0], "New")


class Rotation(unittest.TestCase):
    def test_file_change_rotation(self):
        a, b, c = new_key(), new_key(), new_key()
        d, conf = make_conf(keys=[a, b])  # a encrypts, b staged
        if not TLS13:
            return refuses_228(self, conf)
        path = os.path.join(d, "tickets.key")
        with E.Server(conf, watch=True) as s:
            sess = {}
            for v in versions():
                self.assertEqual(connect(s.port, os.path.join(d, "under-a" + v), v, False), "New")
                sess[v] = os.path.join(d, "under-a" + v)
            mark = s.mark()
            write_keys(path, [a, b, c])  # b encrypts now, c staged, a decrypts
            s.wait_err(r"SSL configuration reloaded", mark, "the reload after adding a key")
            for v in versions():
                with self.subTest(step="previous key", version=v):
                    self.assertEqual(connect(s.port, sess[v], v, True), "Reused")
            mark = s.mark()
            write_keys(path, [b, c])  # a dropped
            s.wait_err(r"SSL configuration reloaded", mark, "the reload after dropping a key")
            for v in versions():
                with self.subTest(step="dropped key", version=v):
                    self.assertEqual(connect(s.port, sess[v], v, True), "New")


class NoResume(unittest.TestCase):
    def reload_to(self, s, what):
        line, _ = s.reload()
        self.assertIn("reloaded", line, what)

    def test_cert_rotation_keeps_ca_resumes(self):
        d, conf = make_conf(keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        with E.Server(conf) as s:
            for v in versions():
                f = os.path.join(d, "s" + v)
                self.assertEqual(connect(s.port, f, v, False), "New")
            shutil.copyfile(K["crt2"], os.path.join(d, "server.crt"))
            shutil.copyfile(K["key2"], os.path.join(d, "server.key"))
            self.reload_to(s, "certificate rotation")
            for v in versions():
                with self.subTest(version=v):
                    self.assertEqual(connect(s.port, os.path.join(d, "s" + v), v, True), "Reused")

    def test_ca_file_change(self):
        d, conf = make_conf(extra=[("ssl_ca_file", "'ca.crt'"), ("ssl_client_cert", "optional")],
                            keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        with E.Server(conf) as s:
            for v in versions():
                self.assertEqual(connect(s.port, os.path.join(d, "s" + v), v, False), "New")
            with open(os.path.join(d, "ca.crt"), "ab") as f:
                f.write(open(K["other_ca"], "rb").read())
            self.reload_to(s, "CA file change")
            for v in versions():
                with self.subTest(version=v):
                    self.assertEqual(connect(s.port, os.path.join(d, "s" + v), v, True), "New")

    def test_crl_revokes_client_cert(self):
        d, conf = make_conf(extra=[("ssl_ca_file", "'ca.crt'"), ("ssl_crl_file", "'ca.crl'"),
                                   ("ssl_client_cert", "optional")], keys=[new_key()])
        shutil.copyfile(K["crl_empty"], os.path.join(d, "ca.crl"))
        if not TLS13:
            return refuses_228(self, conf)
        cc = ["-cert", K["good"], "-key", K["good_key"]]
        with E.Server(conf) as s:
            for v in versions():
                f = os.path.join(d, "s" + v)
                got = connect(s.port, f, v, False, cc)
                self.assertEqual(got, "New", got)
                self.assertEqual(connect(s.port, f, v, True, cc), "Reused")
            shutil.copyfile(K["crl_revoking"], os.path.join(d, "ca.crl"))
            self.reload_to(s, "CRL update")
            for v in versions():
                with self.subTest(version=v):
                    # Not resumed: the full handshake then refuses the revoked certificate.
                    got = connect(s.port, os.path.join(d, "s" + v), v, True, cc)
                    self.assertNotEqual(got, "Reused")
            # Without a client certificate nothing changes for a plain session.
            self.assertEqual(first_and_again(self, s.port, versions()[-1])[0], "Reused")

    def test_other_sni_name(self):
        d, conf = make_conf(extra=[("ssl_sni", "on")], keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        for n in ("a", "b"):
            shutil.copyfile(K["crt"], os.path.join(d, n + ".crt"))
            shutil.copyfile(K["key"], os.path.join(d, n + ".key"))
            os.chmod(os.path.join(d, n + ".key"), 0o600)
        E.write(os.path.join(d, "pg_hosts.conf"),
                "localhost a.crt a.key\nother.test b.crt b.key\n")
        with E.Server(conf) as s:
            for v in versions():
                with self.subTest(version=v):
                    got, f = first_and_again(self, s.port, v)
                    self.assertEqual(got, "Reused")
                    other = connect(s.port, f, v, True, ["-servername", "other.test"])
                    self.assertEqual(other, "New")

    def test_expired_ticket(self):
        d, conf = make_conf(extra=[("hotssl_ticket_lifetime", "2")], keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        with E.Server(conf) as s:
            for v in versions():
                with self.subTest(version=v):
                    f = os.path.join(d, "s" + v)
                    self.assertEqual(connect(s.port, f, v, False), "New")
                    issued = time.monotonic()
                    # Wait on the condition itself: the ticket stops resuming
                    # once its 2 s are over, and never before.
                    got = None
                    deadline = issued + E.DEADLINE
                    while time.monotonic() < deadline:
                        got = connect(s.port, f, v, True)
                        if got != "Reused":
                            break
                    self.assertEqual(got, "New")
                    self.assertGreaterEqual(time.monotonic() - issued, 1.0)


class BadKeys(unittest.TestCase):
    CASES = [("wrong size", b"x" * 10 + os.urandom(50)),
             ("bad base64", b"this-is-not-base64!!\n"),
             ("base64 of 20 bytes", base64.b64encode(os.urandom(20)) + b"\n"),
             ("empty", b"")]

    def test_at_start(self):
        for what, data in self.CASES:
            with self.subTest(case=what):
                d, conf = make_conf(keys=[new_key()])
                path = os.path.join(d, "tickets.key")
                E.write(path, data, 0o600)
                p = E.run([E.cli(), "check", "-c", conf])
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                if TLS13:
                    self.assertIn('session ticket key file "%s"' % path, p.stdout + p.stderr)
                else:
                    self.assertIn("hotssl_session_tickets = on needs mbedTLS 3.6", p.stdout + p.stderr)

    def test_at_reload_last_good_kept(self):
        d, conf = make_conf(keys=[new_key()])
        if not TLS13:
            return refuses_228(self, conf)
        path = os.path.join(d, "tickets.key")
        with E.Server(conf) as s:
            for v in versions():
                self.assertEqual(connect(s.port, os.path.join(d, "s" + v), v, False), "New")
            for what, data in self.CASES:
                with self.subTest(case=what):
                    E.write(path, data, 0o600)
                    line, lines = s.reload()
                    self.assertIn("was not reloaded", line)
                    self.assertIn('session ticket key file "%s"' % path, line)
                    self.assertEqual(len([x for x in lines if "was not reloaded" in x]), 1)
                    for v in versions():
                        self.assertEqual(connect(s.port, os.path.join(d, "s" + v), v, True),
                                         "Reused")


if __name__ == "__main__":
    E.main("e2e_tickets")
