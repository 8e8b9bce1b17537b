"""Watcher end-to-end tests: `hotssl serve` with its file watcher, real files
changed the way deployments change them, real TLS handshakes (Python ssl),
the served serial checked. No signal is ever sent: every change must be
picked up by the watcher alone.

Each rotation test runs a thread doing handshakes throughout and asserts
that none failed; it asserts the new certificate within a generous deadline
(20 s) and prints the measured latency (target: 2 s; figures go to bench/).

InotifyTests use the notification backend; PollTests run the same patterns
with inotify disabled (HOTSSL_WATCH_BACKEND=poll). ctest runs each test
method in its own process: `test_watch.py InotifyTests.test_rename_over`.
"""
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from watchlib import Certs, Hammer, Server, TempDir, read, write_atomic, write_file  # noqa: E402

TRIGGER = "trigger: file change"


class Base:
    BACKEND = "auto"
    POLL_MS = 1000

    def setUp(self):
        self.tmp = TempDir("hotssl-watch-")
        self.d = self.tmp.path
        self.pki = Certs(os.path.join(self.d, "pki"))
        self.server = None
        self.hammer = None
        self.next_serial = 0x1000

    def tearDown(self):
        if self.hammer:
            self.hammer.stop()
        if self.server:
            rc = self.server.stop()
            self.assertEqual(rc, 0, "hotssl serve did not exit cleanly\n" + self.server.log())
        self.tmp.cleanup()

    # ---- helpers ----

    def new_pair(self, key=None):
        self.next_serial += 1
        crt, k = self.pki.issue(self.next_serial, key=key)
        return self.next_serial, crt, k

    def write_conf(self, path, extra=""):
        text = ("ssl_cert_file = 'certs/server.crt'\n"
                "ssl_key_file = 'certs/server.key'\n"
                "hotssl_poll_interval_ms = %d\n" % self.POLL_MS) + extra
        write_atomic(path, text.encode())
        return path

    def std_setup(self, extra=""):
        """certs/server.crt + certs/server.key next to the conf file."""
        serial, crt, key = self.new_pair()
        os.makedirs(os.path.join(self.d, "certs"))
        write_file(os.path.join(self.d, "certs", "server.crt"), crt)
        write_file(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        return self.write_conf(os.path.join(self.d, "hotssl.conf"), extra), serial

    def start(self, conf, serial):
        self.server = Server(conf, self.BACKEND)
        self.assertEqual(self.server.handshake(), serial)
        self.hammer = Hammer(self.server)
        return self.server

    def expect_rotation(self, serial, t0, name):
        lat = self.server.wait_serial(serial, t0)
        fails = self.hammer.stop() if self.hammer else []
        ok = self.hammer.ok if self.hammer else 0
        self.hammer = None
        print("LATENCY %s %s %.0f ms (handshakes during the test: %d ok, %d failed)"
              % (self.BACKEND, name, lat, ok, len(fails)))
        self.assertEqual(fails, [], "handshakes failed during the rotation")
        self.assertGreater(ok, 0)
        self.assertGreaterEqual(self.server.count(TRIGGER), 1, self.server.log())
        self.assertEqual(self.server.count("was not reloaded"), 0,
                         "a rotation logged a failure\n" + self.server.log())
        return lat

    # ---- rotation patterns ----

    def test_rewrite_in_place(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        s2, crt, key = self.new_pair()
        write_file(os.path.join(self.d, "certs", "server.crt"), crt)
        write_file(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        self.expect_rotation(s2, time.monotonic(), "rewrite-in-place")

    def test_rename_over(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        s2, crt, key = self.new_pair()
        write_atomic(os.path.join(self.d, "certs", "server.crt"), crt)
        write_atomic(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        self.expect_rotation(s2, time.monotonic(), "rename")

    def test_cert_and_key_renamed_300ms_apart(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        s2, crt, key = self.new_pair()
        write_atomic(os.path.join(self.d, "certs", "server.crt"), crt)
        time.sleep(0.3)  # the scenario itself: the mismatch window
        write_atomic(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        self.expect_rotation(s2, time.monotonic(), "cert-key-300ms")
        # The mismatched pair was never served.
        self.assertLessEqual(self.server.count("SSL configuration reloaded"), 1, self.server.log())

    def k8s_write(self, vol, ts, crt, key):
        """Kubernetes' AtomicWriter: timestamped dir, `..data` swapped by rename."""
        tsdir = os.path.join(vol, ts)
        os.mkdir(tsdir)
        write_file(os.path.join(tsdir, "server.crt"), crt)
        write_file(os.path.join(tsdir, "server.key"), key, 0o600)
        tmp_link = os.path.join(vol, "..data_tmp")
        os.symlink(ts, tmp_link)
        old = None
        data = os.path.join(vol, "..data")
        if os.path.islink(data):
            old = os.readlink(data)
        os.rename(tmp_link, data)
        for name in ("server.crt", "server.key"):
            p = os.path.join(vol, name)
            if not os.path.islink(p):
                os.symlink(os.path.join("..data", name), p)
        if old:
            shutil.rmtree(os.path.join(vol, old))

    def test_kubernetes_atomic_writer(self):
        vol = os.path.join(self.d, "secret")
        os.mkdir(vol)
        s1, crt, key = self.new_pair()
        self.k8s_write(vol, "..2024_01_01_00_00_00.1", crt, key)
        conf = self.write_conf(os.path.join(self.d, "hotssl.conf"),
                               "ssl_cert_file = 'secret/server.crt'\n"
                               "ssl_key_file = 'secret/server.key'\n")
        self.start(conf, s1)
        for i in range(2, 4):  # twice: the watch must follow the new directory
            s2, crt, key = self.new_pair()
            self.k8s_write(vol, "..2024_01_01_00_00_00.%d" % i, crt, key)
            self.expect_rotation(s2, time.monotonic(), "kubernetes-%d" % i)
            self.hammer = Hammer(self.server)

    def test_certbot_live_archive(self):
        arch = os.path.join(self.d, "le", "archive", "example")
        live = os.path.join(self.d, "le", "live", "example")
        os.makedirs(arch)
        os.makedirs(live)
        s1, crt, key = self.new_pair()
        write_file(os.path.join(arch, "cert1.pem"), crt)
        write_file(os.path.join(arch, "privkey1.pem"), key, 0o600)
        os.symlink("../../archive/example/cert1.pem", os.path.join(live, "cert.pem"))
        os.symlink("../../archive/example/privkey1.pem", os.path.join(live, "privkey.pem"))
        conf = self.write_conf(os.path.join(self.d, "hotssl.conf"),
                               "ssl_cert_file = 'le/live/example/cert.pem'\n"
                               "ssl_key_file = 'le/live/example/privkey.pem'\n")
        self.start(conf, s1)
        for n in (2, 3):
            s2, crt, key = self.new_pair()
            write_file(os.path.join(arch, "cert%d.pem" % n), crt)
            write_file(os.path.join(arch, "privkey%d.pem" % n), key, 0o600)
            for link, target in (("cert.pem", "cert%d.pem" % n), ("privkey.pem", "privkey%d.pem" % n)):
                tmp = os.path.join(live, link + ".new")
                os.symlink("../../archive/example/" + target, tmp)
                os.rename(tmp, os.path.join(live, link))
            self.expect_rotation(s2, time.monotonic(), "certbot-%d" % n)
            self.hammer = Hammer(self.server)

    def test_delete_then_recreate(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        s2, crt, key = self.new_pair()
        os.unlink(os.path.join(self.d, "certs", "server.crt"))
        os.unlink(os.path.join(self.d, "certs", "server.key"))
        time.sleep(0.5)  # the scenario itself: the files are gone for 500 ms
        write_file(os.path.join(self.d, "certs", "server.crt"), crt)
        write_file(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        self.expect_rotation(s2, time.monotonic(), "delete-recreate")

    def test_directory_removed_and_recreated(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        certs = os.path.join(self.d, "certs")
        for i in range(2):  # twice: the new directory must be watched again
            s2, crt, key = self.new_pair()
            shutil.rmtree(certs)
            time.sleep(0.3)  # the scenario itself: the directory is gone a while
            os.mkdir(certs)
            write_file(os.path.join(certs, "server.crt"), crt)
            write_file(os.path.join(certs, "server.key"), key, 0o600)
            # Failures while the directory was gone are allowed to be logged
            # once the retry window ran out; serving never broke.
            lat = self.server.wait_serial(s2, time.monotonic())
            fails = self.hammer.stop()
            print("LATENCY %s dir-recreate %.0f ms (%d ok handshakes, %d failed)"
                  % (self.BACKEND, lat, self.hammer.ok, len(fails)))
            self.assertEqual(fails, [])
            self.hammer = Hammer(self.server)

    def test_ca_and_crl_changes(self):
        os.makedirs(os.path.join(self.d, "certs"))
        ca_dir = os.path.join(self.d, "ca")
        os.mkdir(ca_dir)
        ca = self.pki.ca_pair
        shutil.copy(ca[0], os.path.join(ca_dir, "root.crt"))
        write_atomic(os.path.join(ca_dir, "root.crl"), read(self.pki.crl("ca", ca)))
        s1, crt, key = self.new_pair()
        write_file(os.path.join(self.d, "certs", "server.crt"), crt)
        write_file(os.path.join(self.d, "certs", "server.key"), key, 0o600)
        conf = self.write_conf(os.path.join(self.d, "hotssl.conf"),
                               "ssl_ca_file = 'ca/root.crt'\n"
                               "ssl_crl_file = 'ca/root.crl'\n"
                               "ssl_client_cert = optional\n")
        clients = {}
        for serial, cn in ((0x2001, "client1"), (0x2002, "client2")):
            clients[cn] = self.pki.leaf("leaf%x" % serial, ca, serial, cn=cn)
        # A client of a second CA, trusted only once the CA file names it.
        ca2 = self.pki.ca("ca2", "second CA")
        clients["client3"] = self.pki.leaf("leaf3001", ca2, 0x3001, cn="client3")

        srv = self.start(conf, s1)
        srv.handshake(clients["client1"])
        srv.handshake(clients["client2"])
        with self.assertRaises(Exception):
            srv.handshake(clients["client3"])

        # CRL change: client1 revoked.
        write_atomic(os.path.join(ca_dir, "root.crl"), read(self.pki.crl("ca", ca, revoke=[clients["client1"][0]])))
        t0 = time.monotonic()
        self.wait_refused(clients["client1"], t0, "crl")
        srv.handshake(clients["client2"])

        # CA file change: the second CA added (with its CRL: once a CRL is
        # configured, a CA without one has its certificates refused).
        write_atomic(os.path.join(ca_dir, "root.crl"),
                     read(self.pki.crl("ca", ca)) + read(self.pki.crl("ca2", ca2)))
        write_atomic(os.path.join(ca_dir, "root.crt"), read(ca[0]) + read(ca2[0]))
        t0 = time.monotonic()
        end = t0 + 20
        while True:
            try:
                srv.handshake(clients["client3"])
                break
            except Exception:
                self.assertLess(time.monotonic(), end, "client3 never accepted\n" + srv.log())
                time.sleep(0.02)
        print("LATENCY %s ca-change %.0f ms" % (self.BACKEND, (time.monotonic() - t0) * 1000))
        srv.handshake(clients["client2"])
        self.assertEqual(self.hammer.stop(), [])
        self.hammer = None

    def wait_refused(self, client, t0, name):
        end = t0 + 20
        while True:
            try:
                self.server.handshake(client)
            except Exception:
                break
            self.assertLess(time.monotonic(), end, "revoked client still accepted\n" + self.server.log())
            time.sleep(0.02)
        print("LATENCY %s %s %.0f ms" % (self.BACKEND, name, (time.monotonic() - t0) * 1000))

    def test_config_file_changed(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        s2, crt, key = self.new_pair()
        write_file(os.path.join(self.d, "certs", "other.crt"), crt)
        write_file(os.path.join(self.d, "certs", "other.key"), key, 0o600)
        # Nothing changed yet for the configured files; now point the
        # configuration at the other files (rewritten in place, like an editor).
        time.sleep(0.05)
        write_file(conf, ("ssl_cert_file = 'certs/other.crt'\n"
                          "ssl_key_file = 'certs/other.key'\n"
                          "hotssl_poll_interval_ms = %d\n" % self.POLL_MS).encode())
        self.expect_rotation(s2, time.monotonic(), "conf-change")

    # ---- no-ops and failures ----

    def test_touch_chmod_is_no_change(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        crt = os.path.join(self.d, "certs", "server.crt")
        key = os.path.join(self.d, "certs", "server.key")
        os.utime(crt)
        os.utime(key)
        os.chmod(key, 0o400)  # still a safe key mode: the content is what counts
        os.chmod(crt, 0o640)
        # inotify sees the attribute change, polling sees the new mode: either
        # way a reload runs and must find the same content.
        self.server.wait_log("SSL configuration unchanged")
        write_file(conf, read(conf))  # same bytes rewritten (inotify: one more no-op reload)
        self.assertEqual(self.server.count("SSL configuration reloaded"), 0, self.server.log())
        self.assertEqual(self.server.handshake(), s1)
        # The generation number did not move: the next real rotation is 2.
        s2, c2, k2 = self.new_pair()
        write_atomic(crt, c2)
        write_atomic(key, k2, 0o600)
        self.expect_rotation(s2, time.monotonic(), "after-touch")
        self.server.wait_log("reloaded (generation 2)")
        self.assertEqual(self.server.count("SSL configuration reloaded"), 1, self.server.log())

    def test_broken_file_then_fixed(self):
        conf, s1 = self.std_setup()
        self.start(conf, s1)
        crt = os.path.join(self.d, "certs", "server.crt")
        good = read(crt)
        write_file(crt, good[: len(good) // 2])  # truncated PEM
        self.server.wait_log("was not reloaded")
        self.assertEqual(self.server.handshake(), s1)
        s2, c2, k2 = self.new_pair()
        write_atomic(os.path.join(self.d, "certs", "server.key"), k2, 0o600)
        write_atomic(crt, c2)
        lat = self.server.wait_serial(s2, time.monotonic())
        fails = self.hammer.stop()
        self.hammer = None
        print("LATENCY %s broken-then-fixed %.0f ms" % (self.BACKEND, lat))
        self.assertEqual(fails, [])
        self.assertEqual(self.server.count("was not reloaded"), 1,
                         "the broken file must be reported exactly once\n" + self.server.log())
        self.assertIn(crt, [l for l in self.server.err if "was not reloaded" in l][0])

    def test_event_storm(self):
        conf, s1 = self.std_setup()
        key = os.path.join(self.d, "certs", "server.key")
        crt = os.path.join(self.d, "certs", "server.crt")
        self.start(conf, s1)
        # Two certificates for the same key: every complete write is valid.
        s2, c2, _ = self.new_pair(key=key)
        c1 = read(crt)
        t_start = time.monotonic()
        for i in range(1000):
            write_file(crt, c2 if i % 2 else c1)
        elapsed = time.monotonic() - t_start
        lat = self.server.wait_serial(s2, time.monotonic())
        fails = self.hammer.stop()
        self.hammer = None
        reloads = (self.server.count("SSL configuration reloaded") +
                   self.server.count("SSL configuration unchanged") +
                   self.server.count("was not reloaded"))
        print("STORM %s: 1000 rewrites in %.2f s -> %d reload attempts logged, latency after the last %.0f ms"
              % (self.BACKEND, elapsed, reloads, lat))
        self.assertEqual(fails, [])
        self.assertLessEqual(reloads, 20, self.server.log())
        self.assertGreaterEqual(reloads, 1)


class InotifyTests(Base, unittest.TestCase):
    BACKEND = "notify"
    POLL_MS = 1000


class PollTests(Base, unittest.TestCase):
    BACKEND = "poll"
    POLL_MS = 250


if __name__ == "__main__":
    unittest.main(verbosity=2)
