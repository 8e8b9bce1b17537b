"""ssl_sni and the hosts file, against `hotssl serve` with
`openssl s_client -servername` (and -noservername): every selection rule,
every start error with its file and line, per-host client CAs, reloads that
edit the hosts file, watcher rotation of one host's files while the others
keep theirs, and fork and spawn modes with two hosts.

Each host's leaf has CN = the host's label and its own serial, so the
served identity is read from s_client's "subject=" line."""
import datetime
import json
import os
import re
import shutil
import tempfile
import unittest

import e2elib as E

TMP = None
PKI = None
K = {}
SUBJECT_RE = re.compile(r"^subject=.*CN\s*=\s*([^,\s/]+)", re.M)


def setUpModule():
    global TMP, PKI
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-sni-")
    PKI = E.Pki(os.path.join(TMP, "pki"))
    K["ca"] = PKI.ca("ca", "hotssl sni CA")
    K["ca2"] = PKI.ca("ca2", "hotssl sni other CA")
    for i, name in enumerate(["main", "alpha", "beta", "dflt", "nosni", "alpha2", "beta2", "gamma"]):
        K[name] = PKI.leaf(name, K["ca"], 0x5100 + i, cn=name)
    K["client1"] = PKI.leaf("client1", K["ca"], 0x5200, cn="client1")
    K["client2"] = PKI.leaf("client2", K["ca2"], 0x5201, cn="client2")
    K["client3"] = PKI.leaf("client3", K["ca"], 0x5202, cn="client3")
    K["client4"] = PKI.leaf("client4", K["ca2"], 0x5203, cn="client4")
    K["crl"] = PKI.crl("crl", K["ca"], revoke=[K["client3"][0]])
    K["crl2"] = PKI.crl("crl2", K["ca2"], revoke=[K["client4"][0]])


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def put_pair(d, label, name):
    """Copy leaf `name` into d as label.crt / label.key."""
    crt, key = K[name]
    shutil.copyfile(crt, os.path.join(d, label + ".crt"))
    shutil.copyfile(key, os.path.join(d, label + ".key"))
    os.chmod(os.path.join(d, label + ".key"), 0o600)


def make_dir(main=True, conf_extra="", hosts=None):
    """A folder with hotssl.conf (ssl_sni on) and, if hosts is not None, a
    pg_hosts.conf with that text. main: the configuration names main.crt."""
    d = tempfile.mkdtemp(dir=TMP)
    for label in ["main", "alpha", "beta", "dflt", "nosni", "gamma"]:
        put_pair(d, label, label)
    conf = os.path.join(d, "hotssl.conf")
    text = "ssl_sni = on\n"
    text += "ssl_cert_file = 'main.crt'\nssl_key_file = 'main.key'\n" if main else \
        "ssl_cert_file = ''\nssl_key_file = ''\n"
    E.write(conf, text + conf_extra)
    if hosts is not None:
        E.write(os.path.join(d, "pg_hosts.conf"), hosts)
    return d, conf


def s_client(port, servername, extra=()):
    """One connection with openssl s_client (E.s_client_exchange: one line
    sent, its echo awaited); servername None: no SNI. Returns (returncode,
    CN of the served certificate or None, output, echoed)."""
    args = ["-connect", "127.0.0.1:%d" % port]
    args += ["-noservername"] if servername is None else ["-servername", servername]
    rc, text, echoed = E.s_client_exchange(args + list(extra))
    m = SUBJECT_RE.search(text)
    return rc, (m.group(1) if m else None), text, echoed


def served(port, servername, extra=()):
    rc, cn, out, echoed = s_client(port, servername, extra)
    if rc != 0 or cn is None or not echoed:
        raise AssertionError("handshake with servername %r failed (rc %d):\n%s" % (servername, rc, out))
    return cn


def cn_of(port, servername):
    """The served CN, or None when the connection fails (for waits)."""
    rc, cn, _, echoed = s_client(port, servername)
    return cn if rc == 0 and echoed else None


def refused(port, servername, alert, extra=()):
    """The connection must fail with the alert's text in s_client's output
    (alert: a string, or a tuple of which any will do)."""
    rc, cn, out, echoed = s_client(port, servername, extra)
    alerts = alert if isinstance(alert, tuple) else (alert,)
    if echoed:
        raise AssertionError("servername %r was served %s; expected the %s alert" % (servername, cn, alert))
    if not any(a in out for a in alerts):
        raise AssertionError("servername %r: no %r alert in:\n%s" % (servername, alert, out))


HOSTS_ALL = """# every rule
"alpha.test", ALIAS.test  alpha.crt alpha.key
@names.txt                beta.crt  beta.key
*                         dflt.crt  dflt.key
/no_sni/                  nosni.crt nosni.key
"""


class Selection(unittest.TestCase):
    def test_every_rule(self):
        d, conf = make_dir(hosts=HOSTS_ALL)
        E.write(os.path.join(d, "names.txt"), "# beta's names\nbeta.test\n\n  Gamma.Test  \n")
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "ALPHA.Test"), "alpha")      # letter case
            self.assertEqual(served(s.port, "alias.test"), "alpha")      # second name of the list
            self.assertEqual(served(s.port, "beta.test"), "beta")        # @file
            self.assertEqual(served(s.port, "gamma.TEST"), "beta")       # @file, trimmed, any case
            self.assertEqual(served(s.port, "unknown.test"), "dflt")     # "*"
            self.assertEqual(served(s.port, "alpha.test.evil"), "dflt")  # exact match only
            self.assertEqual(served(s.port, None), "nosni")              # /no_sni/
            self.assertEqual(s.stop(), 0)
        # `hotssl info` lists every entry with its certificate.
        out = E.run([E.cli(), "info", "-c", conf], check=True).stdout
        for line, names, cn in [(2, "alpha.test,alias.test", "alpha"), (3, "beta.test,gamma.test", "beta"),
                                (4, "*", "dflt"), (5, "/no_sni/", "nosni")]:
            self.assertRegex(out, r"host line %d: %s\n  subject:   CN=%s\n  serial:    51"
                             % (line, re.escape(names), cn))
        self.assertIn("hosts:         4 entries", out)
        js = json.loads(E.run([E.cli(), "info", "-c", conf, "--json"], check=True).stdout)
        self.assertEqual([(h["line"], h["names"], h["default"], h["no_sni"], h["subject"])
                          for h in js["hosts"]],
                         [(2, "alpha.test,alias.test", False, False, "CN=alpha"),
                          (3, "beta.test,gamma.test", False, False, "CN=beta"),
                          (4, "", True, False, "CN=dflt"), (5, "", False, True, "CN=nosni")])
        self.assertEqual(E.run([E.cli(), "check", "-c", conf]).returncode, 0)

    def test_no_default_unrecognized_name(self):
        d, conf = make_dir(hosts="alpha.test alpha.crt alpha.key\n")
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            refused(s.port, "other.test", "unrecognized name")
            # No server name, no /no_sni/: the configuration file's certificate.
            self.assertEqual(served(s.port, None), "main")
            self.assertEqual(s.stop(), 0)

    def test_no_sni_without_any_certificate_fails(self):
        d, conf = make_dir(main=False, hosts="alpha.test alpha.crt alpha.key\n* dflt.crt dflt.key\n")
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "x.test"), "dflt")
            refused(s.port, None, "handshake failure")
            self.assertEqual(s.stop(), 0)

    def test_missing_and_empty_hosts_file(self):
        for hosts in (None, "# nothing here\n\n"):
            d, conf = make_dir(hosts=hosts)
            with E.Server(conf) as s:
                self.assertEqual(served(s.port, "anything.test"), "main")
                self.assertEqual(served(s.port, None), "main")
                self.assertEqual(s.stop(), 0)

    def test_expiring_entry_warns(self):
        # An entry's certificate expiring within hotssl_expiry_warning_days
        # (30) is reported by check, info and the server, naming its line.
        end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5)).strftime("%Y%m%d%H%M%SZ")
        crt, key = PKI.leaf("soon", K["ca"], 0x5300, cn="soon", startdate="20200101000000Z", enddate=end)
        d, conf = make_dir(hosts="alpha.test alpha.crt alpha.key\nsoon.test soon.crt soon.key\n")
        shutil.copyfile(crt, os.path.join(d, "soon.crt"))
        shutil.copyfile(key, os.path.join(d, "soon.key"))
        os.chmod(os.path.join(d, "soon.key"), 0o600)
        hosts = os.path.join(d, "pg_hosts.conf")
        p = E.run([E.cli(), "check", "-c", conf], check=True)
        self.assertIn("with 1 warning", p.stdout)
        self.assertRegex(p.stdout, r"WARNING: .*serial 5300\) expires in [45] day.*\(hosts file \"%s\" line 2\)"
                         % re.escape(hosts))
        js = json.loads(E.run([E.cli(), "info", "-c", conf, "--json"], check=True).stdout)
        self.assertIn("expiring", js["warnings"])
        with E.Server(conf) as s:
            s.wait_err(r"expires in .*line 2\)", 0, "the entry's expiry warning")
            self.assertEqual(served(s.port, "soon.test"), "soon")
            self.assertEqual(s.stop(), 0)

    def test_sni_off_ignores_hosts_file(self):
        d, conf = make_dir(hosts="this line is not valid at all\n")
        E.write(conf, E.read(conf).decode().replace("ssl_sni = on", "ssl_sni = off"))
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "main")
            self.assertEqual(s.stop(), 0)

    def test_ssl_hosts_file_setting_and_quotes(self):
        d, conf = make_dir(conf_extra="ssl_hosts_file = 'sub dir/my hosts'\n")
        os.makedirs(os.path.join(d, "sub dir", "a b"))
        put_pair(os.path.join(d, "sub dir", "a b"), "alpha", "alpha")
        E.write(os.path.join(d, "sub dir", "my hosts"),
                "alpha.test 'a b/alpha.crt' \"a b/alpha.key\"  # relative to the hosts file\n")
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(s.stop(), 0)


def check_fails(conf, *needles):
    """`hotssl check` and `hotssl serve` both refuse conf, naming needles."""
    p = E.run([E.cli(), "check", "-c", conf])
    if p.returncode == 0:
        raise AssertionError("check accepted %s" % conf)
    for n in needles:
        if n not in p.stdout + p.stderr:
            raise AssertionError("check's message lacks %r:\n%s%s" % (n, p.stdout, p.stderr))
    rc, out, err = E.serve_must_fail(conf)
    if rc == 0 or "listening" in out:
        raise AssertionError("serve started on %s" % conf)
    for n in needles:
        if n not in err:
            raise AssertionError("serve's message lacks %r:\n%s" % (n, err))


class StartErrors(unittest.TestCase):
    CASES = [
        ("star_with_names", "a.test alpha.crt alpha.key\n*,b.test beta.crt beta.key\n", 2, "\"*\""),
        ("two_defaults", "* alpha.crt alpha.key\n# x\n* beta.crt beta.key\n", 3, "second default"),
        ("two_no_sni", "/no_sni/ alpha.crt alpha.key\n/no_sni/ beta.crt beta.key\n", 2, "/no_sni/"),
        ("repeated_name", "a.test,b.test alpha.crt alpha.key\n@n.txt beta.crt beta.key\n", 2, "\"b.test\""),
        ("repeated_in_list", "A.test,a.TEST alpha.crt alpha.key\n", 1, "\"a.test\""),
        ("extra_fields", "a.test alpha.crt alpha.key '' '' off extra\n", 1, "extra fields"),
        ("bad_reload_flag", "a.test alpha.crt alpha.key '' 'echo x' maybe\n", 1, "maybe"),
        ("missing_fields", "a.test alpha.crt\n", 1, "missing fields"),
        ("unterminated_quote", "a.test 'alpha.crt alpha.key\n", 1, "quote"),
        ("missing_cert", "a.test alpha.crt alpha.key\nb.test nothere.crt beta.key\n", 2, "nothere.crt"),
        ("key_mismatch", "a.test alpha.crt beta.key\n", 1, "does not match"),
        ("bad_ca", "a.test alpha.crt alpha.key alpha.key\n", 1, "root certificate file"),
        ("missing_names_file", "@nofile.txt alpha.crt alpha.key\n", 1, "nofile.txt"),
    ]

    def test_each_error_names_file_and_line(self):
        for name, hosts, line, needle in self.CASES:
            with self.subTest(name):
                d, conf = make_dir(hosts=hosts)
                E.write(os.path.join(d, "n.txt"), "c.test\nB.Test\n")
                check_fails(conf, os.path.join(d, "pg_hosts.conf"), "line %d" % line, needle)

    def test_require_without_ca(self):
        d, conf = make_dir(hosts="a.test alpha.crt alpha.key ca.crt\nb.test beta.crt beta.key\n",
                           conf_extra="ssl_client_cert = require\nssl_ca_file = 'ca.crt'\n")
        shutil.copyfile(K["ca"][0], os.path.join(d, "ca.crt"))
        check_fails(conf, os.path.join(d, "pg_hosts.conf"), "line 2",
                    "client certificates can only be checked if a root certificate store is available")

    def test_require_and_the_configurations_certificate(self):
        # ssl_client_cert = require with no ssl_ca_file: an error only when
        # the configuration's certificate serves someone.
        extra = "ssl_client_cert = require\n"
        d, conf = make_dir(hosts="a.test alpha.crt alpha.key ca.crt\n", conf_extra=extra)
        shutil.copyfile(K["ca"][0], os.path.join(d, "ca.crt"))
        check_fails(conf, "root certificate store", "without a server name")
        d, conf = make_dir(hosts="", conf_extra=extra)
        check_fails(conf, "root certificate store", "to every name")
        d, conf = make_dir(hosts="a.test alpha.crt alpha.key ca.crt\n/no_sni/ nosni.crt nosni.key ca.crt\n",
                           conf_extra=extra)
        shutil.copyfile(K["ca"][0], os.path.join(d, "ca.crt"))
        self.assertEqual(E.run([E.cli(), "check", "-c", conf]).returncode, 0)
        d, conf = make_dir(main=False, hosts="a.test alpha.crt alpha.key ca.crt\n", conf_extra=extra)
        shutil.copyfile(K["ca"][0], os.path.join(d, "ca.crt"))
        self.assertEqual(E.run([E.cli(), "check", "-c", conf]).returncode, 0)

    def test_no_certificate_anywhere(self):
        d, conf = make_dir(main=False, hosts="")
        check_fails(conf, "no entries")


class PerHostCA(unittest.TestCase):
    def setUp(self):
        self.d, self.conf = make_dir(hosts="a.test alpha.crt alpha.key ca.crt\nb.test beta.crt beta.key\n",
                                     conf_extra="ssl_client_cert = optional\n")
        shutil.copyfile(K["ca"][0], os.path.join(self.d, "ca.crt"))

    def client(self, name):
        return ["-cert", K[name][0], "-key", K[name][1]]

    def refused_cert(self, port, servername, alert, client):
        """A client certificate refused: the alert's text over TLS 1.2, and
        over the default version (TLS 1.3 with mbedTLS 3.6) too when its
        alerts after the server's Finished are readable (the local build's
        patch, Mbed-TLS/mbedtls#10877); on a stock 3.6 s_client sees a bad
        record MAC there, and the connection must at least not be served."""
        refused(port, servername, alert, self.client(client) + ["-tls1_2"])
        if E.tls13_alerts():
            refused(port, servername, alert, self.client(client) + ["-tls1_3"])
        _, _, out, echoed = s_client(port, servername, self.client(client))
        self.assertFalse(echoed, out)

    def test_accept_refuse_and_no_ca(self):
        with E.Server(self.conf) as s:
            # a.test trusts ca: its client certificate is accepted.
            self.assertEqual(served(s.port, "a.test", self.client("client1")), "alpha")
            # In TLS 1.2 the certificate request names the host's CA (mbedTLS
            # sends no CA names in TLS 1.3).
            _, _, out, _ = s_client(s.port, "a.test", ["-tls1_2"])
            self.assertIn("Acceptable client certificate CA names\nCN = hotssl sni CA", out)
            # A certificate from another CA is refused. hotssl serve binds a
            # hotssl_client_verify to every connection, and the binding
            # follows the entry the server name selects: the alert names the
            # reason (not optional mode's access denied) and PostgreSQL's two
            # log lines are written for the entry's refusal.
            start = s.mark()
            self.refused_cert(s.port, "a.test", "unknown ca", "client2")
            s.wait_err(r"Client certificate verification failed at depth 0: unable to get local issuer certificate\.",
                       start, "PostgreSQL's first log line for a refusal by an ssl_sni entry")
            s.wait_err(r'Failed certificate data \(unverified\): subject "/CN=', start,
                       "PostgreSQL's second log line for a refusal by an ssl_sni entry")
            # b.test has no CA: no certificate request at all, so any client
            # certificate is neither asked for nor checked.
            self.assertEqual(served(s.port, "b.test", self.client("client2")), "beta")
            _, _, out, _ = s_client(s.port, "b.test", ["-tls1_2"])
            self.assertIn("No client certificate CA names sent", out)
            self.assertEqual(s.stop(), 0)

    def test_crls_apply_to_every_host(self):
        # ssl_crl_dir applies to each host's own CA: a.test (ca) and b.test
        # (ca2) each refuse their CA's revoked certificate, accept the others.
        crldir = os.path.join(self.d, "crls")
        os.mkdir(crldir)
        for name, crl in (("ca", K["crl"]), ("ca2", K["crl2"])):
            h = E.run(["openssl", "x509", "-noout", "-subject_hash", "-in", K[name][0]], check=True).stdout.strip()
            shutil.copyfile(crl, os.path.join(crldir, h + ".r0"))
        shutil.copyfile(K["ca2"][0], os.path.join(self.d, "ca2.crt"))
        E.write(os.path.join(self.d, "pg_hosts.conf"),
                "a.test alpha.crt alpha.key ca.crt\nb.test beta.crt beta.key ca2.crt\n")
        E.write(self.conf, E.read(self.conf).decode() + "ssl_crl_dir = 'crls'\n")
        with E.Server(self.conf) as s:
            self.assertEqual(served(s.port, "a.test", self.client("client1")), "alpha")
            self.assertEqual(served(s.port, "b.test", self.client("client2")), "beta")
            self.refused_cert(s.port, "a.test", ("certificate revoked", "access denied"), "client3")
            self.refused_cert(s.port, "b.test", ("certificate revoked", "access denied"), "client4")
            # Each host trusts only its own CA.
            self.refused_cert(s.port, "b.test", ("unknown ca", "access denied"), "client1")
            self.assertEqual(s.stop(), 0)

    def test_require(self):
        E.write(self.conf, E.read(self.conf).decode().replace("optional", "require") +
                "ssl_ca_file = 'ca.crt'\n")
        E.write(os.path.join(self.d, "pg_hosts.conf"), "a.test alpha.crt alpha.key ca.crt\n")
        with E.Server(self.conf) as s:
            self.assertEqual(served(s.port, "a.test", self.client("client1")), "alpha")
            # A certificate from a CA the host does not trust: unknown ca.
            self.refused_cert(s.port, "a.test", "unknown ca", "client2")
            # No certificate presented: the server ends the handshake (mbedTLS
            # closes without an alert here, in this mode with or without SNI).
            rc, _, out, echoed = s_client(s.port, "a.test")
            self.assertFalse(echoed, out)
            self.assertEqual(s.stop(), 0)


class ReloadEdits(unittest.TestCase):
    def test_add_remove_rename_delete(self):
        d, conf = make_dir(hosts="alpha.test alpha.crt alpha.key\n")
        hosts = os.path.join(d, "pg_hosts.conf")
        with E.Server(conf) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            refused(s.port, "beta.test", "unrecognized name")
            # add
            E.write(hosts, "alpha.test alpha.crt alpha.key\nbeta.test beta.crt beta.key\n")
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual(served(s.port, "beta.test"), "beta")
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            # rename an entry
            E.write(hosts, "alpha.test alpha.crt alpha.key\nbeta2.test beta.crt beta.key\n")
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual(served(s.port, "beta2.test"), "beta")
            refused(s.port, "beta.test", "unrecognized name")
            # remove
            E.write(hosts, "beta2.test beta.crt beta.key\n")
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            refused(s.port, "alpha.test", "unrecognized name")
            # a broken hosts file keeps the whole previous set
            E.write(hosts, "beta2.test beta.crt beta.key\n*,x.test alpha.crt alpha.key\n")
            line, lines = s.reload()
            self.assertIn("was not reloaded", line)
            self.assertIn(hosts, line)
            self.assertIn("line 2", line)
            self.assertEqual(served(s.port, "beta2.test"), "beta")
            # delete: no entries, the configuration file's certificate for all
            os.remove(hosts)
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual(served(s.port, "beta2.test"), "main")
            self.assertEqual(s.stop(), 0)


class Passphrase(unittest.TestCase):
    def test_per_host_commands(self):
        d, conf = make_dir(hosts="")
        for label, leaf, pw in [("alpha_enc", "alpha", "alphapw"), ("alpha2_enc", "alpha2", "alphapw"),
                                ("beta_enc", "beta", "globalpw"), ("beta2_enc", "beta2", "globalpw")]:
            out = os.path.join(d, label + ".key")
            E.run(["openssl", "pkey", "-in", K[leaf][1], "-aes256", "-passout", "pass:" + pw,
                   "-out", out], check=True)
            os.chmod(out, 0o600)
        shutil.copyfile(K["alpha2"][0], os.path.join(d, "alpha2.crt"))
        shutil.copyfile(K["beta2"][0], os.path.join(d, "beta2.crt"))
        for name, pw in [("alpha", "alphapw"), ("global", "globalpw")]:
            E.write(os.path.join(d, name + ".sh"), "#!/bin/sh\necho run >> '%s'\necho %s\n"
                    % (os.path.join(d, name + ".count"), pw))
            os.chmod(os.path.join(d, name + ".sh"), 0o755)
        runs = lambda name: E.read(os.path.join(d, name + ".count")).count(b"run") \
            if os.path.exists(os.path.join(d, name + ".count")) else 0
        E.write(conf, E.read(conf).decode() + "ssl_passphrase_command = '%s'\n" % os.path.join(d, "global.sh"))
        hosts = os.path.join(d, "pg_hosts.conf")
        # alpha: its own command, reloadable; beta: the global command (reload off).
        text = "alpha.test alpha.crt alpha_enc.key '' '%s' on\nbeta.test beta.crt beta_enc.key\n" \
            % os.path.join(d, "alpha.sh")
        E.write(hosts, text)
        with E.Server(conf) as s:
            self.assertEqual((served(s.port, "alpha.test"), served(s.port, "beta.test")), ("alpha", "beta"))
            self.assertEqual((runs("alpha"), runs("global")), (1, 1))
            # Unchanged keys are reused at reload: no command runs.
            E.write(hosts, "# edited\n" + text)
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual((runs("alpha"), runs("global")), (1, 1))
            # alpha's key rotated: its command runs again (supports reload).
            text = text.replace("alpha.crt alpha_enc.key", "alpha2.crt alpha2_enc.key")
            E.write(hosts, "# edited\n" + text)
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual((runs("alpha"), runs("global")), (2, 1))
            self.assertEqual(served(s.port, "alpha.test"), "alpha2")
            # beta's key rotated: the global command does not support reload.
            E.write(hosts, "# edited\n" + text.replace("beta.crt beta_enc.key", "beta2.crt beta2_enc.key"))
            line, _ = s.reload()
            self.assertIn("was not reloaded", line)
            self.assertIn("cannot be reloaded because it requires a passphrase", line)
            self.assertIn("line 3", line)
            self.assertEqual(runs("global"), 1)
            self.assertEqual((served(s.port, "alpha.test"), served(s.port, "beta.test")), ("alpha2", "beta"))
            self.assertEqual(s.stop(), 0)


def swap_data(d, label, leaf):
    """Kubernetes-style update: a new timestamped folder, ..data_tmp ->
    it, renamed over ..data (the visible files are links through ..data)."""
    n = len([x for x in os.listdir(d) if x.startswith("..ts")])
    ts = os.path.join(d, "..ts%d" % n)
    os.mkdir(ts)
    put_pair(ts, label, leaf)
    tmp = os.path.join(d, "..data_tmp")
    os.symlink(os.path.basename(ts), tmp)
    os.rename(tmp, os.path.join(d, "..data"))


class Watcher(unittest.TestCase):
    def test_rotate_one_host(self):
        d, conf = make_dir(hosts="alpha.test alpha/alpha.crt alpha/alpha.key\n"
                                 "beta.test beta/beta.crt beta/beta.key\n")
        E.write(conf, E.read(conf).decode() + "hotssl_debounce_ms = 50\nhotssl_poll_interval_ms = 200\n")
        os.mkdir(os.path.join(d, "alpha"))
        put_pair(os.path.join(d, "alpha"), "alpha", "alpha")
        kb = os.path.join(d, "beta")
        os.mkdir(kb)
        swap_data(kb, "beta", "beta")
        for f in ("beta.crt", "beta.key"):
            os.symlink(os.path.join("..data", f), os.path.join(kb, f))
        with E.Server(conf, watch=True) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "beta.test"), "beta")
            # alpha: rename-over of key then certificate
            for ext in ("key", "crt"):
                tmp = os.path.join(d, "alpha", "new." + ext)
                shutil.copyfile(K["alpha2"][1 if ext == "key" else 0], tmp)
                os.chmod(tmp, 0o600)
                os.rename(tmp, os.path.join(d, "alpha", "alpha." + ext))
            E.H.wait_for(lambda: served(s.port, "alpha.test") == "alpha2", "alpha's rotation")
            self.assertEqual(served(s.port, "beta.test"), "beta")
            # beta: ..data swap
            swap_data(kb, "beta", "beta2")
            E.H.wait_for(lambda: served(s.port, "beta.test") == "beta2", "beta's ..data swap")
            self.assertEqual(served(s.port, "alpha.test"), "alpha2")
            # the hosts file itself and an @file, replaced by rename
            hosts = os.path.join(d, "pg_hosts.conf")
            E.write(os.path.join(d, "more.txt"), "delta.test\n")
            E.H.write_atomic(hosts, E.read(hosts).decode().replace("alpha.test ", "alpha.test,@more.txt ")
                             + "gamma.test gamma.crt gamma.key\n")
            E.H.wait_for(lambda: cn_of(s.port, "gamma.test") == "gamma", "the new entry in the hosts file")
            self.assertEqual(served(s.port, "delta.test"), "alpha2")
            E.H.write_atomic(os.path.join(d, "more.txt"), "epsilon.test\n")
            E.H.wait_for(lambda: cn_of(s.port, "epsilon.test") == "alpha2", "the @file's new name")
            refused(s.port, "delta.test", "unrecognized name")
            # a broken file of one host: every host keeps its certificate
            mark = s.mark()
            tmp = os.path.join(d, "alpha", "new.crt")
            E.write(tmp, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
            os.rename(tmp, os.path.join(d, "alpha", "alpha.crt"))
            _, line = s.wait_err("was not reloaded", mark, "the failure line")
            self.assertIn("pg_hosts.conf", line)
            self.assertIn("line 1", line)
            self.assertIn("alpha.crt", line)
            self.assertEqual(served(s.port, "alpha.test"), "alpha2")
            self.assertEqual(served(s.port, "beta.test"), "beta2")
            self.assertEqual(served(s.port, "gamma.test"), "gamma")
            self.assertEqual(s.stop(), 0)


class Modes(unittest.TestCase):
    def check_mode(self, extra):
        # The configuration's certificate serves connections without a name.
        d, conf = make_dir(hosts="alpha.test alpha.crt alpha.key\nbeta.test beta.crt beta.key\n")
        with E.Server(conf, extra=extra) as s:
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "beta.test"), "beta")
            self.assertEqual(served(s.port, None), "main")
            refused(s.port, "gamma.test", "unrecognized name")
            E.write(os.path.join(d, "pg_hosts.conf"),
                    "alpha.test gamma.crt gamma.key\nbeta.test beta.crt beta.key\n")
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            self.assertEqual(served(s.port, "alpha.test"), "gamma")
            self.assertEqual(served(s.port, "beta.test"), "beta")
            self.assertEqual(s.stop(), 0)
        # No certificate in the configuration: /no_sni/, then none at all.
        d, conf = make_dir(main=False, hosts="/no_sni/ nosni.crt nosni.key\n"
                                             "alpha.test alpha.crt alpha.key\n* dflt.crt dflt.key\n")
        with E.Server(conf, extra=extra) as s:
            self.assertEqual(served(s.port, None), "nosni")
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "x.test"), "dflt")
            E.write(os.path.join(d, "pg_hosts.conf"), "alpha.test alpha.crt alpha.key\n* dflt.crt dflt.key\n")
            line, _ = s.reload()
            self.assertIn("reloaded", line)
            refused(s.port, None, "handshake failure")
            self.assertEqual(served(s.port, "alpha.test"), "alpha")
            self.assertEqual(served(s.port, "x.test"), "dflt")
            self.assertEqual(s.stop(), 0)

    def test_fork(self):
        self.check_mode(["--mode", "fork"])

    def test_spawn_snapshot(self):
        self.check_mode(["--mode", "spawn"])

    def test_spawn_reread(self):
        self.check_mode(["--mode", "spawn", "--spawn-strategy", "reread"])


if __name__ == "__main__":
    E.main("test_sni")
