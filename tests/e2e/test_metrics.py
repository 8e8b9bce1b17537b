"""Metrics in the Prometheus text format (`hotssl info --prometheus`,
`hotssl serve --metrics-listen`), judged by two parsers nobody here wrote:
prometheus_client's text parser (Debian's python3-prometheus-client) and
`promtool check metrics` (Debian's prometheus, which also lints the names).
Values are compared with what `openssl x509` and `openssl crl` print for the
same files. Served-versus-disk follows a bad rotation (the last good
generation keeps serving: 1) and a good one (0), and serve logs each
reload's audit record. /metrics is scraped with
curl while handshakes and reloads run, with no failed scrape. The alert
rules of docs/operating.md pass `promtool check rules`."""
import base64
import calendar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import e2elib as E

TMP = None
K = {}
HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, os.pardir, os.pardir, "docs", "operating.md")

FAMILIES = [
    "hotssl_generation", "hotssl_reloads_total", "hotssl_last_reload_timestamp_seconds",
    "hotssl_last_successful_reload_timestamp_seconds", "hotssl_served_differs_from_disk",
    "hotssl_certificate_not_after_timestamp_seconds", "hotssl_certificate_not_before_timestamp_seconds",
    "hotssl_certificate_lifetime_used_ratio", "hotssl_certificate_expiry_warning",
    "hotssl_crl_next_update_timestamp_seconds", "hotssl_crl_revoked_entries", "hotssl_crl_stale_warning",
]

PARSE = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append([fam.name, fam.type, s.name, s.labels, s.value])
print(json.dumps(out))
"""


def parser_python():
    """An interpreter that has prometheus_client: this one, else Debian's
    (the package installs for /usr/bin/python3)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if os.access(exe, os.X_OK) and subprocess.run(
                [exe, "-c", "import prometheus_client"], capture_output=True).returncode == 0:
            return exe
    raise AssertionError("prometheus_client is not installed: run tools/deps.sh "
                         "(Debian package python3-prometheus-client)")


def parse(text):
    """Samples of text by prometheus_client's parser: {sample name: [(labels, value)]}
    and {sample name: family type}. A parse error fails the test."""
    p = subprocess.run([parser_python(), "-c", PARSE], input=text, capture_output=True, text=True,
                       timeout=E.DEADLINE)
    if p.returncode != 0:
        raise AssertionError("prometheus_client refused the exposition:\n%s\n%s" % (p.stderr, text))
    samples, types = {}, {}
    for fam, typ, name, labels, value in json.loads(p.stdout):
        samples.setdefault(name, []).append((labels, value))
        types[name] = typ
    return samples, types


def promtool(text):
    """`promtool check metrics`: exit 0 and no lint finding."""
    if shutil.which("promtool") is None:
        raise AssertionError("promtool is not installed: run tools/deps.sh (Debian package prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=E.DEADLINE)
    if p.returncode != 0 or p.stdout.strip() or p.stderr.strip():
        raise AssertionError("promtool check metrics: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))


def one(samples, name, **labels):
    """The value of the single sample name{labels...}."""
    found = [v for ls, v in samples.get(name, []) if all(ls.get(k) == w for k, w in labels.items())]
    if len(found) != 1:
        raise AssertionError("%s%r: %d samples (%r)" % (name, labels, len(found), samples.get(name)))
    return found[0]


def openssl_time(args, field):
    """`openssl ... -noout -FIELD` (notAfter=..., nextUpdate=...) as Unix seconds."""
    out = E.run(["openssl"] + args, check=True).stdout.strip()
    m = re.match(field + r"=(.*)", out)
    assert m, out
    return calendar.timegm(time.strptime(m.group(1).strip(), "%b %d %H:%M:%S %Y GMT"))


def setUpModule():
    global TMP
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-metrics-")
    p = E.Pki(os.path.join(TMP, "pki"))
    ca = p.ca("ca", "hotssl e2e metrics CA")
    K["ca"], K["ca_key"] = ca
    K["crt"], K["key"] = p.leaf("server", ca, 0x5E01, cn="localhost")
    K["crt2"], K["key2"] = p.leaf("server2", ca, 0x5E02, cn="localhost")
    revoked = p.leaf("revoked", ca, 0x5E03, cn="revoked client")
    K["crl"] = p.crl("ca", ca, revoke=[revoked[0]])


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def make_conf(crl=True):
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copyfile(K["crt"], os.path.join(d, "server.crt"))
    shutil.copyfile(K["key"], os.path.join(d, "server.key"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    shutil.copyfile(K["ca"], os.path.join(d, "ca.crt"))
    shutil.copyfile(K["crl"], os.path.join(d, "ca.crl"))
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n"
            + ("ssl_ca_file = 'ca.crt'\nssl_crl_file = 'ca.crl'\n" if crl else ""))
    return d, conf


def rotate(d, crt, key):
    """Replace the pair by rename, as deployment tools do."""
    for src, name, mode in ((crt, "server.crt", 0o644), (key, "server.key", 0o600)):
        tmp = os.path.join(d, "." + name + ".new")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, os.path.join(d, name))


def scrape(url, timeout=None):
    """GET url with curl; (ok, body)."""
    p = subprocess.run(["curl", "-sS", "-f", "--max-time", str(timeout or E.DEADLINE), url],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stdout if p.returncode == 0 else p.stderr


def metrics_url(server):
    for line in server.out:
        m = re.match(r"metrics on (http://127\.0\.0\.1:\d+/metrics)$", line)
        if m:
            return m.group(1)
    raise AssertionError("no 'metrics on' line in %r" % server.out)


class Format(unittest.TestCase):
    def test_info_prometheus_parses_and_matches_openssl(self):
        d, conf = make_conf()
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus"])
        self.assertEqual(p.returncode, 0, p.stderr)
        promtool(p.stdout)
        samples, types = parse(p.stdout)
        for fam in FAMILIES:
            self.assertIn(fam, samples, "family %s missing" % fam)
        self.assertEqual(types["hotssl_reloads_total"], "counter")
        self.assertEqual(one(samples, "hotssl_generation"), 1)
        self.assertEqual(one(samples, "hotssl_served_differs_from_disk"), 0)
        crt = os.path.join(d, "server.crt")
        na = openssl_time(["x509", "-in", crt, "-noout", "-enddate"], "notAfter")
        nb = openssl_time(["x509", "-in", crt, "-noout", "-startdate"], "notBefore")
        self.assertEqual(one(samples, "hotssl_certificate_not_after_timestamp_seconds", identity="served"), na)
        self.assertEqual(one(samples, "hotssl_certificate_not_before_timestamp_seconds", identity="served"), nb)
        used = one(samples, "hotssl_certificate_lifetime_used_ratio", identity="served")
        self.assertAlmostEqual(used, (time.time() - nb) / (na - nb), delta=0.001)
        # The labels: serial and fingerprint as openssl prints them.
        labels = samples["hotssl_certificate_not_after_timestamp_seconds"][0][0]
        serial = E.run(["openssl", "x509", "-in", crt, "-noout", "-serial"], check=True).stdout
        fp = E.run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"], check=True).stdout
        self.assertEqual(labels["serial"], serial.strip().split("=", 1)[1])
        self.assertEqual(labels["fingerprint_sha256"], fp.strip().split("=", 1)[1])
        self.assertEqual(labels["subject"], "CN=localhost")
        # The CRL: nextUpdate and the revoked count, as openssl crl reads the file.
        crl = os.path.join(d, "ca.crl")
        nu = openssl_time(["crl", "-in", crl, "-noout", "-nextupdate"], "nextUpdate")
        self.assertEqual(one(samples, "hotssl_crl_next_update_timestamp_seconds", identity="served",
                             issuer="CN=hotssl e2e metrics CA"), nu)
        text = E.run(["openssl", "crl", "-in", crl, "-noout", "-text"], check=True).stdout
        self.assertEqual(one(samples, "hotssl_crl_revoked_entries", identity="served",
                             issuer="CN=hotssl e2e metrics CA"), text.count("Serial Number:"))
        self.assertEqual(text.count("Serial Number:"), 1)
        self.assertEqual(one(samples, "hotssl_crl_stale_warning", identity="served"), 0)
        for trig in ("api", "signal", "file"):
            for res in ("success", "unchanged", "failure"):
                self.assertEqual(one(samples, "hotssl_reloads_total", trigger=trig, result=res), 0)

    def test_sni_entries(self):
        """ssl_sni: one identity per hosts file entry, labelled by its line,
        each with its own certificate's dates and its CRL set."""
        d, conf = make_conf()
        shutil.copyfile(K["crt2"], os.path.join(d, "b.crt"))
        shutil.copyfile(K["key2"], os.path.join(d, "b.key"))
        os.chmod(os.path.join(d, "b.key"), 0o600)
        E.write(os.path.join(d, "pg_hosts.conf"),
                "# names  cert  key  ca\n"
                "a.example  server.crt  server.key  ca.crt\n"
                "b.example  b.crt  b.key\n")
        E.write(conf, E.read(conf).decode() + "ssl_sni = on\n")
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus"])
        self.assertEqual(p.returncode, 0, p.stderr)
        promtool(p.stdout)
        samples, _ = parse(p.stdout)
        for ident, crt, serial in (("host_line_2", K["crt"], "5E01"), ("host_line_3", K["crt2"], "5E02")):
            na = openssl_time(["x509", "-in", crt, "-noout", "-enddate"], "notAfter")
            self.assertEqual(one(samples, "hotssl_certificate_not_after_timestamp_seconds", identity=ident,
                                 serial=serial), na)
            self.assertIn(ident, [ls["identity"] for ls, _ in samples["hotssl_certificate_expiry_warning"]])
        # The entry with a CA carries the CRL set; the one without checks no client certificate.
        crl_ids = {ls["identity"] for ls, _ in samples["hotssl_crl_revoked_entries"]}
        self.assertIn("host_line_2", crl_ids)
        self.assertNotIn("host_line_3", crl_ids)

    def test_no_crl_no_crl_samples(self):
        _, conf = make_conf(crl=False)
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus"])
        self.assertEqual(p.returncode, 0, p.stderr)
        promtool(p.stdout)
        samples, _ = parse(p.stdout)
        self.assertNotIn("hotssl_crl_next_update_timestamp_seconds", samples)
        self.assertEqual(one(samples, "hotssl_certificate_expiry_warning", identity="served"), 0)

    def test_session_ticket_families(self):
        """The session-ticket families: off by default; on with a HAProxy-style
        key file of two keys (the second-newest encrypts), its age counted
        from the load, nothing resumed yet."""
        _, conf = make_conf(crl=False)
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus"])
        self.assertEqual(p.returncode, 0, p.stderr)
        samples, types = parse(p.stdout)
        self.assertEqual(one(samples, "hotssl_session_tickets_enabled"), 0)
        d, conf = make_conf(crl=False)
        keyfile = os.path.join(d, "tickets.key")
        E.write(keyfile, "".join(base64.b64encode(os.urandom(48)).decode() + "\n" for _ in range(2)))
        os.chmod(keyfile, 0o600)
        E.write(conf, E.read(conf).decode() + "hotssl_session_tickets = on\n"
                "hotssl_ticket_key_file = 'tickets.key'\n")
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus"])
        if not E.tls13():
            # mbedTLS 2.28 has no session tickets: tickets on is an error naming the setting.
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("hotssl_session_tickets = on needs mbedTLS 3.6", p.stderr)
            return
        self.assertEqual(p.returncode, 0, p.stderr)
        promtool(p.stdout)
        samples, types = parse(p.stdout)
        self.assertEqual(one(samples, "hotssl_session_tickets_enabled"), 1)
        self.assertEqual(one(samples, "hotssl_session_ticket_keys"), 2)
        age = one(samples, "hotssl_session_ticket_key_age_seconds")
        self.assertTrue(0 <= age <= E.DEADLINE, age)
        self.assertEqual(one(samples, "hotssl_session_tickets_resumed_total"), 0)
        self.assertEqual(types["hotssl_session_tickets_resumed_total"], "counter")

    def test_json_and_prometheus_exclude_each_other(self):
        _, conf = make_conf()
        p = E.run([E.cli(), "info", "-c", conf, "--prometheus", "--json"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("exclude each other", p.stderr)


class Http(unittest.TestCase):
    def test_paths_and_methods(self):
        _, conf = make_conf()
        with E.Server(conf, extra=["--metrics-listen", "127.0.0.1:0"]) as s:
            url = metrics_url(s)
            ok, body = scrape(url)
            self.assertTrue(ok, body)
            promtool(body)
            p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                                url], capture_output=True, text=True, timeout=E.DEADLINE)
            self.assertEqual(p.stdout, "200 text/plain; version=0.0.4; charset=utf-8")
            for args, code in (([url[:-len("metrics")] + "other"], "404"), (["-X", "POST", url], "405")):
                p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"] + args,
                                   capture_output=True, text=True, timeout=E.DEADLINE)
                self.assertEqual(p.stdout, code, args)
            self.assertEqual(s.stop(), 0)

    def test_bad_address_refused(self):
        _, conf = make_conf()
        p = E.run([E.cli(), "serve", "-c", conf, "-p", "0", "--metrics-listen", "127.0.0.1:99999"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--metrics-listen", p.stderr)


class ServedVersusDisk(unittest.TestCase):
    def test_bad_rotation_then_good(self):
        d, conf = make_conf()
        with E.Server(conf, extra=["--metrics-listen", ":0"]) as s:
            url = metrics_url(s)

            def value(name, **labels):
                ok, body = scrape(url)
                self.assertTrue(ok, body)
                return one(parse(body)[0], name, **labels)

            self.assertEqual(value("hotssl_served_differs_from_disk"), 0)
            # A bad rotation: a certificate file that is not one.
            E.write(os.path.join(d, "server.crt"), "not a certificate\n")
            self.assertEqual(value("hotssl_served_differs_from_disk"), 1)
            line, _ = s.reload()
            self.assertIn("was not reloaded", line)
            _, audit = s.wait_err(r"SSL reload audit: trigger signal; generation 1 -> 1; result failed", 0,
                                  "the audit line of the bad rotation")
            self.assertIn('(file "%s": ' % os.path.join(d, "server.crt"), audit)
            self.assertIn('changed files: "%s"' % os.path.join(d, "server.crt"), audit)
            ok, body = scrape(url)
            promtool(body)
            samples, _ = parse(body)
            self.assertEqual(one(samples, "hotssl_generation"), 1)  # the last good one serves
            self.assertEqual(one(samples, "hotssl_served_differs_from_disk"), 1)
            self.assertEqual(one(samples, "hotssl_reloads_total", trigger="signal", result="failure"), 1)
            failed_at = one(samples, "hotssl_last_reload_timestamp_seconds")
            self.assertGreater(failed_at, 0)
            self.assertLess(one(samples, "hotssl_last_successful_reload_timestamp_seconds"), failed_at + 1)
            self.assertEqual(E.served_serial(s.port), 0x5E01)
            # A good rotation: differs until it is reloaded, then 0.
            rotate(d, K["crt2"], K["key2"])
            self.assertEqual(value("hotssl_served_differs_from_disk"), 1)
            line, _ = s.reload()
            self.assertIn("reloaded (generation 2)", line)
            # The audit record, as serve logs it after the result line.
            _, audit = s.wait_err(r"SSL reload audit: trigger signal; generation 1 -> 2; result reloaded", 0,
                                  "the audit line of the good rotation")
            self.assertIn("served: serial 5E01 -> 5E02", audit)
            self.assertIn('changed files: "%s", "%s"' % (os.path.join(d, "server.crt"),
                                                         os.path.join(d, "server.key")), audit)
            ok, body = scrape(url)
            samples, _ = parse(body)
            self.assertEqual(one(samples, "hotssl_generation"), 2)
            self.assertEqual(one(samples, "hotssl_served_differs_from_disk"), 0)
            self.assertEqual(one(samples, "hotssl_reloads_total", trigger="signal", result="success"), 1)
            self.assertGreaterEqual(one(samples, "hotssl_last_successful_reload_timestamp_seconds"), failed_at)
            serial = samples["hotssl_certificate_not_after_timestamp_seconds"][0][0]["serial"]
            self.assertEqual(int(serial, 16), 0x5E02)
            # The same bytes again: an unchanged reload, still 0.
            line, _ = s.reload()
            self.assertIn("unchanged", line)
            self.assertEqual(value("hotssl_served_differs_from_disk"), 0)
            self.assertEqual(value("hotssl_reloads_total", trigger="signal", result="unchanged"), 1)
            self.assertEqual(s.stop(), 0)


class ScrapeUnderLoad(unittest.TestCase):
    """curl scrapes /metrics while Python ssl clients handshake and the
    certificate rotates with a SIGHUP after each swap: every scrape must
    succeed and parse, every handshake must complete."""

    SCRAPES = 60
    RELOADS = 15

    def test_no_failed_scrape(self):
        self.scrape_under_load("thread")

    def test_no_failed_scrape_fork_mode(self):
        """Fork mode: scrapes keep answering while children are forked per connection."""
        self.scrape_under_load("fork")

    def scrape_under_load(self, mode):
        d, conf = make_conf()
        ctx = E.client_context(cafile=K["ca"])
        stop = threading.Event()
        errors, counts = [], {"hs": 0, "reloads": 0}
        with E.Server(conf, extra=["--metrics-listen", ":0", "--mode", mode]) as s:
            url = metrics_url(s)

            def handshakes():
                while not stop.is_set():
                    try:
                        E.handshake(s.port, ctx)
                        counts["hs"] += 1
                    except Exception as e:  # noqa: BLE001 - recorded, the test fails on it
                        errors.append("handshake: %r" % e)
                        return

            def reloads():
                pairs = [(K["crt2"], K["key2"]), (K["crt"], K["key"])]
                while not stop.is_set() and counts["reloads"] < self.RELOADS:
                    rotate(d, *pairs[counts["reloads"] % 2])
                    try:
                        line, _ = s.reload()
                    except Exception as e:  # noqa: BLE001
                        errors.append("reload: %r" % e)
                        return
                    if "reloaded" not in line:
                        errors.append("reload: %s" % line)
                        return
                    counts["reloads"] += 1

            threads = [threading.Thread(target=handshakes), threading.Thread(target=reloads)]
            for t in threads:
                t.start()
            failed, bodies = [], []
            try:
                for _ in range(self.SCRAPES):
                    ok, body = scrape(url)
                    if not ok:
                        failed.append(body)
                    else:
                        bodies.append(body)
                E.H.wait_for(lambda: counts["reloads"] >= self.RELOADS or errors,
                             "%d reloads" % self.RELOADS, deadline=E.DEADLINE * 4)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertEqual(errors, [])
            self.assertEqual(failed, [], "failed scrapes")
            for body in bodies:
                samples, _ = parse(body)
                self.assertIn("hotssl_generation", samples)
            promtool(bodies[-1])
            samples, _ = parse(scrape(url)[1])
            self.assertEqual(one(samples, "hotssl_reloads_total", trigger="signal", result="success"),
                             self.RELOADS)
            self.assertGreater(counts["hs"], 0)
            print("%s mode: scrapes: %d ok, %d failed; handshakes: %d; reloads: %d"
                  % (mode, len(bodies), len(failed), counts["hs"], counts["reloads"]))
            self.assertEqual(s.stop(), 0)


class AlertRules(unittest.TestCase):
    def test_docs_rules_pass_promtool(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- alert-rules -->\s*```yaml\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "docs/operating.md: no yaml block after <!-- alert-rules -->")
        path = os.path.join(TMP, "rules.yml")
        E.write(path, m.group(1))
        p = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True,
                           timeout=E.DEADLINE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS: 2 rules found", p.stdout)
        for name in ("hotssl_certificate_not_after_timestamp_seconds", "hotssl_served_differs_from_disk"):
            self.assertIn(name, m.group(1))


if __name__ == "__main__":
    E.main("e2e_metrics")
