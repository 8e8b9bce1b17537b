"""PostgreSQL configuration files and the passphrase command at reload
with `hotssl serve` and `hotssl check`.

- A changed ssl_passphrase_command is never ignored at reload: with
  ssl_passphrase_command_supports_reload on the new command runs (a wrong one
  makes the reload fail and the old generation keep serving); with it off the
  reload is refused with PostgreSQL's message and the command is not run. An
  unchanged command and key need no run.
- A PostgreSQL test-harness layout loads: `ssl = on`, `include`,
  `include_if_exists` (missing: skipped), `include_dir`; the watcher picks up
  a change in an included file.
- `ssl = off`: `hotssl check` fails and says TLS is off.
(The loader option that ignores non-ssl settings is tested in
tests/unit/test_pg_config.c.)
"""
import os
import shutil
import tempfile
import time
import unittest

import e2elib as E

TMP = None
PKI = None
CA = None
PASS = "correct horse"


def setUpModule():
    global TMP, PKI, CA
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-pgconf-")
    PKI = E.Pki(os.path.join(TMP, "pki"))
    CA = PKI.ca("ca", "hotssl e2e pgconf CA")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def script(d, name, passphrase):
    """A passphrase command that records each run in d/runs-NAME."""
    path = os.path.join(d, name + ".sh")
    E.write(path, "#!/bin/sh\necho run >> '%s'\necho '%s'\n" % (os.path.join(d, "runs-" + name), passphrase))
    os.chmod(path, 0o755)
    return path


def runs(d, name):
    p = os.path.join(d, "runs-" + name)
    return len(E.read(p).splitlines()) if os.path.exists(p) else 0


class PassphraseCommandChange(unittest.TestCase):

    def setup(self, supports_reload):
        d = tempfile.mkdtemp(dir=TMP)
        plain = PKI.genkey("k%d" % supports_reload)
        enc = os.path.join(d, "server.key")
        PKI.ossl("pkey", "-in", plain, "-aes256", "-passout", "pass:" + PASS, "-out", enc)
        os.chmod(enc, 0o600)
        crt, _ = PKI.leaf("s%d" % supports_reload, CA, 0x7700 + supports_reload, cn="localhost", key=plain)
        shutil.copyfile(crt, os.path.join(d, "server.crt"))
        good, wrong = script(d, "good", PASS), script(d, "wrong", "not the passphrase")
        conf = os.path.join(d, "hotssl.conf")

        def write(cmd):
            E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n"
                    "ssl_passphrase_command = '%s'\nssl_passphrase_command_supports_reload = %s\n"
                    % (cmd, "on" if supports_reload else "off"))
        write(good)
        return d, conf, write, good, wrong, 0x7700 + supports_reload

    def test_supports_reload_on(self):
        d, conf, write, good, wrong, serial = self.setup(1)
        with E.Server(conf) as srv:
            self.assertEqual(runs(d, "good"), 1)
            # Unchanged command and key: nothing to run.
            E.write(os.path.join(d, "server.crt"), E.read(os.path.join(d, "server.crt")))
            line, _ = srv.reload()
            self.assertIn("unchanged", line)
            self.assertEqual(runs(d, "good"), 1)
            # A wrong command: it runs, the reload fails, the old key serves.
            write(wrong)
            line, _ = srv.reload()
            self.assertIn("was not reloaded", line)
            self.assertIn("wrong passphrase", line)
            self.assertEqual(runs(d, "wrong"), 1)
            self.assertEqual(E.served_serial(srv.port), serial)
            # And a start with it fails the same way.
            p = E.run([E.cli(), "check", "-c", conf])
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("wrong passphrase", p.stderr)
            # Back to the command the serving generation was built with: the
            # same inputs, nothing to run.
            write(good)
            line, _ = srv.reload()
            self.assertIn("unchanged", line)
            self.assertEqual(runs(d, "good"), 1)
            srv.stop()

    def test_supports_reload_off(self):
        d, conf, write, good, wrong, serial = self.setup(0)
        with E.Server(conf) as srv:
            self.assertEqual(runs(d, "good"), 1)
            write(wrong)
            line, _ = srv.reload()
            self.assertIn("was not reloaded", line)
            self.assertIn("cannot be reloaded because it requires a passphrase", line)
            self.assertEqual(runs(d, "wrong"), 0)
            self.assertEqual(E.served_serial(srv.port), serial)
            srv.stop()


class HarnessConfig(unittest.TestCase):
    """PostgreSQL's SSL test harness writes `ssl = on` and includes
    sslconfig.conf from postgresql.conf."""

    def test_include_layout_loads_and_is_watched(self):
        d = tempfile.mkdtemp(dir=TMP)
        crt1, key1 = PKI.leaf("h1", CA, 0x7801, cn="localhost")
        crt2, key2 = PKI.leaf("h2", CA, 0x7802, cn="localhost")
        for src, dst in ((crt1, "server1.crt"), (key1, "server1.key"), (crt2, "server2.crt"), (key2, "server2.key")):
            shutil.copyfile(src, os.path.join(d, dst))
            os.chmod(os.path.join(d, dst), 0o600)
        os.mkdir(os.path.join(d, "conf.d"))
        E.write(os.path.join(d, "postgresql.conf"),
                "# written by the test harness\nssl = on\ninclude 'sslconfig.conf'\n"
                "include_if_exists 'not-there.conf'\ninclude_dir 'conf.d'\n")
        ssl_conf = os.path.join(d, "sslconfig.conf")
        E.write(ssl_conf, "ssl_cert_file = 'server1.crt'\nssl_key_file = 'server1.key'\n")
        E.write(os.path.join(d, "conf.d", "50-watch.conf"), "hotssl_debounce_ms = 0\n")
        E.write(os.path.join(d, "conf.d", ".hidden.conf"), "no_such_setting = 1\n")
        p = E.run([E.cli(), "check", "-c", os.path.join(d, "postgresql.conf")])
        self.assertEqual(p.returncode, 0, p.stderr)
        with E.Server(os.path.join(d, "postgresql.conf"), watch=True) as srv:
            self.assertEqual(E.served_serial(srv.port), 0x7801)
            # A change in the included file alone is picked up by the watcher.
            E.write(ssl_conf, "ssl_cert_file = 'server2.crt'\nssl_key_file = 'server2.key'\n")
            end = time.monotonic() + E.DEADLINE
            while E.served_serial(srv.port) != 0x7802:
                self.assertLess(time.monotonic(), end, "the included file's change was not picked up:\n" + srv.log())
                time.sleep(0.05)
            srv.stop()

    def test_include_errors_name_the_file(self):
        d = tempfile.mkdtemp(dir=TMP)
        conf = os.path.join(d, "postgresql.conf")
        E.write(conf, "ssl = on\ninclude 'missing.conf'\n")
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(os.path.join(d, "missing.conf"), p.stderr)
        E.write(conf, "include 'postgresql.conf'\n")  # includes itself
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("maximum nesting depth exceeded", p.stderr)

    def test_ssl_off(self):
        d = tempfile.mkdtemp(dir=TMP)
        conf = os.path.join(d, "postgresql.conf")
        E.write(conf, "ssl = off\nssl_cert_file = 'x.crt'\n")
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertEqual(p.returncode, 1)
        self.assertIn("TLS is off", p.stderr)


if __name__ == "__main__":
    E.main("e2e_pg_config")
