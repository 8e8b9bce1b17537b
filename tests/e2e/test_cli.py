"""The CLI as a new user meets it: strict option parsing, help for
every command, `check` warnings and --strict, `info --json`, expiry warnings
at load, reload and from the watcher, parse errors in users' words, and the
demo showing the watcher.

Certificates come from an openssl-made PKI in a temporary directory.
"""
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import e2elib as E

TMP = None
PKI = None
CA = None


def setUpModule():
    global TMP, PKI, CA
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-cli-")
    PKI = E.Pki(os.path.join(TMP, "pki"))
    CA = PKI.ca("ca", "hotssl cli test CA")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def utc(offset_s):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + offset_s))


def conf_for(crt, key, extra=""):
    d = tempfile.mkdtemp(dir=TMP)
    k = os.path.join(d, "server.key")
    shutil.copyfile(key, k)
    os.chmod(k, 0o600)
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "ssl_cert_file = '%s'\nssl_key_file = 'server.key'\n%s" % (crt, extra))
    return conf


_good = None


def good_conf(extra=""):
    global _good
    if _good is None:
        _good = PKI.leaf("good", CA, 0x1001, cn="localhost")
    return conf_for(_good[0], _good[1], extra)


def cli(*args, env=None):
    return E.run([E.cli()] + list(args), env=env)


class Parsing(unittest.TestCase):
    """Every bad command line exits 2 with a message naming the option, and
    never starts a server."""

    def bad(self, args, pattern, env=None):
        p = cli(*args, env=env)
        self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
        self.assertRegex(p.stderr, pattern, args)
        self.assertNotIn("listening on", p.stdout)

    def test_port_must_be_a_number_in_range(self):
        c = good_conf()
        for v in ("abc", "80abc", "99999", "-1", "65536", " 80", "0x50", "1e3", "+80", ""):
            with self.subTest(port=v):
                self.bad(["serve", "-c", c, "-p", v], r"-p/--port|--port needs a value")
        self.bad(["serve", "-c", c], r"-p/--port PORT .*required")

    def test_missing_values_say_so(self):
        c = good_conf()
        self.bad(["serve", "-p", "0", "--mode"], r"option --mode needs a value")
        self.bad(["serve", "-c", c, "-p"], r"option --port needs a value")
        self.bad(["serve", "-c", c, "-p", "0", "--listen"], r"option --listen needs a value")
        self.bad(["check", "--config"], r"option --config needs a value")
        self.bad(["check"], r"-c/--config CONF is required")

    def test_duplicates_unknowns_and_choices(self):
        c = good_conf()
        self.bad(["serve", "-c", c, "--config", c, "-p", "0"], r"--config given more than once")
        self.bad(["serve", "-c", c, "-p", "0", "--bogus"], r'unknown option "--bogus"')
        self.bad(["serve", "-c", c, "-p", "0", "stray"], r'unexpected argument "stray"')
        self.bad(["serve", "-c", c, "-p", "0", "--mode", "threads"], r"--mode must be one of thread, fork, spawn")
        self.bad(["serve", "-c", c, "-p", "0", "--spawn-strategy", "reread"], r"applies to --mode spawn only")
        self.bad(["serve", "-c", c, "-p", "0", "--watch", "--no-watch"], r"contradict")
        self.bad(["serve", "-c", c, "-p", "0", "--handshake-timeout", "0"], r"--handshake-timeout must be from 1 to 600")
        self.bad(["serve", "-c", c, "-p", "0", "-t", "2s"], r"--handshake-timeout must be a whole number")
        self.bad(["serve", "-c", c, "-p", "0", "--max-connections", "0"], r"--max-connections must be from 1 to 262143")
        self.bad(["check", "-c", c, "--strict=yes"], r"--strict takes no value")
        self.bad(["nosuchcommand"], r'unknown command "nosuchcommand"')

    def test_bad_environment_value_is_an_error(self):
        env = dict(os.environ, HOTSSL_WATCH_BACKEND="bogus")
        self.bad(["serve", "-c", good_conf(), "-p", "0"], r"HOTSSL_WATCH_BACKEND must be one of auto, notify, inotify, poll",
                 env=env)

    def test_short_long_and_equals_forms_all_work(self):
        c = good_conf()
        forms = [["-c", c, "-p", "0", "-n", "-m", "thread", "-l", "127.0.0.1"],
                 ["--config", c, "--port", "0", "--no-watch", "--mode", "thread", "--listen", "127.0.0.1"],
                 ["--config=" + c, "--port=0", "--no-watch", "--mode=fork", "--listen=localhost"]]
        for args in forms:
            with self.subTest(args=args):
                with E.H.Server([E.cli(), "serve"] + args) as s:
                    E.handshake(s.port, E.client_context(cafile=CA[0]))
                    self.assertEqual(s.stop(), 0)

    def test_listen_on_another_address(self):
        c = good_conf()
        try:
            socket.create_server(("::1", 0)).close()
            host, family = "::1", socket.AF_INET6
        except OSError:
            host, family = "0.0.0.0", socket.AF_INET
        p = subprocess.Popen([E.cli(), "serve", "-c", c, "-p", "0", "-n", "--listen", host],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        try:
            sel = selectors.DefaultSelector()
            sel.register(p.stdout, selectors.EVENT_READ)
            self.assertTrue(sel.select(E.DEADLINE), "no 'listening on' line")
            line = p.stdout.readline()
            self.assertIn("listening on " + ("[::1]:" if family == socket.AF_INET6 else "0.0.0.0:"), line)
            port = int(line.rsplit(":", 1)[1])
            addr = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            ctx = E.client_context(cafile=CA[0])
            with socket.create_connection((addr, port), timeout=E.DEADLINE) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    t.sendall(b"ping")
                    self.assertEqual(t.recv(4), b"ping")
            p.terminate()
            self.assertEqual(p.wait(E.DEADLINE), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        r = cli("serve", "-c", c, "-p", "0", "-n", "--listen", "no-such-host.invalid")
        self.assertEqual(r.returncode, 1)
        self.assertIn("could not listen on no-such-host.invalid", r.stderr)


class Help(unittest.TestCase):
    COMMANDS = ("check", "info", "serve", "demo", "version", "help")

    def test_overview(self):
        for args in (["--help"], ["-h"], ["help"]):
            p = cli(*args)
            self.assertEqual(p.returncode, 0, args)
            for c in self.COMMANDS:
                self.assertIn(c, p.stdout)
        p = E.run([E.cli()])
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: hotssl COMMAND", p.stderr)

    def test_each_command_explains_itself(self):
        for c in ("check", "info", "serve", "demo"):
            a, b = cli(c, "--help"), cli("help", c)
            self.assertEqual((a.returncode, b.returncode), (0, 0), c)
            self.assertEqual(a.stdout, b.stdout, c)
            self.assertEqual(cli(c, "-h").stdout, a.stdout, c)
            self.assertIn("usage: hotssl %s" % c, a.stdout)
            self.assertIn("exit codes:", a.stdout)
            self.assertIn("environment", a.stdout)
        serve = cli("serve", "--help").stdout
        for opt in ("-c, --config CONF", "-p, --port PORT", "-l, --listen HOST", "-m, --mode MODE",
                    "-S, --spawn-strategy STRATEGY", "-s, --starttls-postgres", "-n, --no-watch",
                    "-t, --handshake-timeout SECONDS", "-N, --max-connections N",
                    "sorry, too many clients already", "HOTSSL_WATCH_BACKEND", "SIGHUP"):
            self.assertIn(opt, serve)
        self.assertIn("--strict", cli("check", "--help").stdout)
        self.assertIn("--json", cli("info", "--help").stdout)
        p = cli("help", "nosuch")
        self.assertEqual(p.returncode, 2)

    def test_version(self):
        for args in (["--version"], ["version"], ["-V"]):
            p = cli(*args)
            self.assertEqual(p.returncode, 0)
            self.assertRegex(p.stdout, r"^hotssl \d+\.\d+\.\d+\nmbedTLS \d+\.\d+\.\d+ \(built against\)")


class Check(unittest.TestCase):
    def check(self, conf, strict=False):
        args = ["check", "-c", conf] + (["--strict"] if strict else [])
        return cli(*args)

    def assert_warns(self, conf, pattern):
        p = self.check(conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"configuration OK, with \d+ warning")
        self.assertRegex(p.stdout, r"WARNING:  .*" + pattern)
        s = self.check(conf, strict=True)
        self.assertEqual(s.returncode, 3, s.stdout)
        self.assertRegex(s.stdout, pattern)

    def test_clean_configuration(self):
        c = good_conf()
        for strict in (False, True):
            p = self.check(c, strict)
            self.assertEqual((p.returncode, p.stdout), (0, "configuration OK\n"), p.stderr)

    def test_expired(self):
        crt, key = PKI.leaf("expired", CA, 0x2001, startdate=utc(-20 * 86400), enddate=utc(-86400))
        self.assert_warns(conf_for(crt, key), r"has expired")

    def test_not_yet_valid(self):
        crt, key = PKI.leaf("future", CA, 0x2002, startdate=utc(5 * 86400), enddate=utc(50 * 86400))
        self.assert_warns(conf_for(crt, key), r"is not yet valid")

    def test_expiring_soon_and_the_setting(self):
        crt, key = PKI.leaf("soon", CA, 0x2003, startdate=utc(-86400), enddate=utc(10 * 86400 + 3600))
        self.assert_warns(conf_for(crt, key), r"expires in 10 day\(s\) .*hotssl_expiry_warning_days = 30")
        # A smaller window: no warning; 0 turns it off.
        for days in ("7", "0"):
            p = self.check(conf_for(crt, key, "hotssl_expiry_warning_days = %s\n" % days), strict=True)
            self.assertEqual((p.returncode, p.stdout), (0, "configuration OK\n"))
        self.assert_warns(conf_for(crt, key, "hotssl_expiry_warning_days = 11\n"), r"expires in 10 day")
        p = self.check(conf_for(crt, key, "hotssl_expiry_warning_days = -1\n"))
        self.assertEqual(p.returncode, 1)
        self.assertIn('invalid value for parameter "hotssl_expiry_warning_days"', p.stderr)

    def test_weak_key(self):
        key = PKI.path("weak.key")
        PKI.ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", key)
        crt, key = PKI.leaf("weak", CA, 0x2004, key=key)
        self.assert_warns(conf_for(crt, key), r"weak key \(RSA, 1024 bits")

    def test_chain_not_leading_to_a_ca(self):
        other = PKI.ca("otherca", "another CA")
        crt, key = PKI.leaf("chained", CA, 0x2005)
        bad = PKI.path("badchain.crt")
        # leaf + a CA that did not issue it
        E.write(bad, E.read(crt) + E.read(other[0]))
        self.assert_warns(conf_for(bad, key), r"does not lead to a CA: certificate 2 .*did not issue certificate 1")
        # leaf + a non-CA certificate
        E.write(bad, E.read(crt) + E.read(_good[0] if _good else good_conf() and _good[0]))
        self.assert_warns(conf_for(bad, key), r"is not a CA certificate")
        # leaf + its own CA: fine
        E.write(bad, E.read(crt) + E.read(CA[0]))
        p = self.check(conf_for(bad, key), strict=True)
        self.assertEqual((p.returncode, p.stdout), (0, "configuration OK\n"))


class Info(unittest.TestCase):
    def test_json_has_the_served_facts(self):
        sub = PKI.ca("infoca", "info CA")
        crt, key = PKI.leaf("info", sub, 0x0ABCDE, cn="info.example", startdate=utc(-86400),
                            enddate=utc(20 * 86400 + 600))
        chain = PKI.path("info-chain.crt")
        E.write(chain, E.read(crt) + E.read(sub[0]))
        revoked, _ = PKI.leaf("info-revoked", sub, 0x0ABCDF)
        crl = PKI.crl("info", sub, revoke=[revoked])
        conf = conf_for(chain, key, "ssl_ca_file = '%s'\nssl_crl_file = '%s'\n" % (sub[0], crl))
        p = cli("info", "-c", conf, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual(j["subject"], "CN=info.example")
        self.assertEqual(j["issuer"], "CN=info CA")
        self.assertEqual(j["serial"], "0ABCDE")
        self.assertEqual(j["serial"], "%06X" % E.serial_of_pem_file(crt))
        self.assertEqual(j["days_left"], 20)
        self.assertTrue(20 * 86400 < j["seconds_left"] <= 20 * 86400 + 600, j["seconds_left"])
        self.assertEqual(j["not_after_unix"] - j["not_before_unix"], 21 * 86400 + 600)
        self.assertRegex(j["sha256"], r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
        self.assertEqual((j["key_type"], j["key_bits"]), ("EC", 256))
        self.assertEqual((j["chain_length"], j["ca_count"], j["crl_entries"]), (2, 1, 1))
        self.assertRegex(j["crl_next_update"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertEqual(j["expiry_warning_days"], 30)
        self.assertEqual(j["warnings"], ["expiring"])
        # The text form says the same serial.
        t = cli("info", "-c", conf)
        self.assertIn("serial:        0ABCDE\n", t.stdout)
        self.assertIn("days left:     20\n", t.stdout)

    def test_json_without_crl(self):
        j = json.loads(cli("info", "--config", good_conf(), "-j").stdout)
        self.assertIsNone(j["crl_next_update"])
        self.assertEqual((j["ca_count"], j["crl_entries"], j["warnings"]), (0, 0, []))


class Expiry(unittest.TestCase):
    def test_warning_at_load_and_at_reload(self):
        crt, key = PKI.leaf("exp1", CA, 0x3001, startdate=utc(-86400), enddate=utc(5 * 86400 + 600))
        conf = conf_for(crt, key)
        d = os.path.dirname(conf)
        with E.Server(conf) as s:
            s.wait_err(r"WARNING:  server certificate \(subject \"CN=exp1\", serial 3001\) expires in 5 day")
            crt2, _ = PKI.leaf("exp2", CA, 0x3002, key=key, startdate=utc(-86400), enddate=utc(3 * 86400 + 600))
            shutil.copyfile(crt2, os.path.join(d, "new.crt"))
            E.write(conf, "ssl_cert_file = 'new.crt'\nssl_key_file = 'server.key'\n")
            line, lines = s.reload()
            self.assertIn("reloaded", line)
            self.assertTrue(any(re.search(r"WARNING:  .*serial 3002\) expires in 3 day", l) for l in lines), lines)
            self.assertEqual(s.stop(), 0)

    def test_crl_next_update_near(self):
        crt, key = PKI.leaf("crlsoon", CA, 0x3003)
        crl = PKI.path("soon.crl")
        cadir = PKI.path("ca.db")
        PKI.ossl("ca", "-gencrl", "-config", PKI.cnf, "-name", "theca", "-cert", CA[0], "-keyfile", CA[1],
                 "-crlhours", "30", "-out", crl, cwd=cadir)
        conf = conf_for(crt, key, "ssl_ca_file = '%s'\nssl_crl_file = '%s'\n" % (CA[0], crl))
        p = cli("check", "-c", conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"WARNING:  certificate revocation list's next update is in 1 day")
        self.assertEqual(json.loads(cli("info", "-c", conf, "--json").stdout)["warnings"], ["crl_next_update"])


class Messages(unittest.TestCase):
    """Parse errors say what is wrong with the file, mbedTLS's code kept."""

    def load_error(self, cert_bytes=None, key_bytes=None):
        d = tempfile.mkdtemp(dir=TMP)
        good = _good or (good_conf() and _good)
        crt = os.path.join(d, "server.crt")
        key = os.path.join(d, "server.key")
        E.write(crt, cert_bytes if cert_bytes is not None else E.read(good[0]))
        E.write(key, key_bytes if key_bytes is not None else E.read(good[1]), mode=0o600)
        conf = os.path.join(d, "c.conf")
        E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        p = cli("check", "-c", conf)
        self.assertEqual(p.returncode, 1)
        return p.stderr

    def test_messages(self):
        good = _good or (good_conf() and _good)
        code = r" \([^()]*\(-0x[0-9A-F]{4}\)\)"
        der = open(PKI.der(good[0], "good.der"), "rb").read()
        cases = [
            (dict(cert_bytes="just some text\n"), r"no PEM certificate found, and the file is not DER either"),
            (dict(cert_bytes=E.read(good[1])), r"this is a private key, not a certificate"),
            (dict(cert_bytes=der[:len(der) // 2]), r"DER data is truncated"),
            (dict(key_bytes=E.read(good[0])), r"this is a certificate, not a private key"),
        ]
        for kw, msg in cases:
            with self.subTest(msg=msg):
                err = self.load_error(**kw)
                self.assertRegex(err, msg + code)
                self.assertRegex(err, r'could not load (server certificate|private key) file ".*/server\.(crt|key)"')


class Demo(unittest.TestCase):
    def test_demo_shows_the_watcher_and_one_serial_format(self):
        p = E.run([E.cli(), "demo"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = p.stdout
        self.assertIn("trigger: file change", out)
        self.assertNotIn("trigger: API call", out)
        self.assertNotIn("trigger: signal", out)
        self.assertRegex(out, r"SSL configuration reloaded \(generation 2\); trigger: file change")
        self.assertRegex(out, r"SSL configuration was not reloaded: .*; trigger: file change")
        # Every serial in the tour is written the same way.
        serials = re.findall(r"serial ([0-9A-Fa-f:]+)", out)
        self.assertTrue(len(serials) >= 6, out)
        for s in serials:
            self.assertRegex(s, r"^[0-9A-F]+$", out)
        self.assertEqual(set(serials), {"1001", "1002"}, out)


if __name__ == "__main__":
    E.main("e2e_cli")
