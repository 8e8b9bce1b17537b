"""hotssl.exe (Windows, under Wine) prints what the Linux build prints.

--case demo: `hotssl demo` on both exits 0 and prints the same lines once
    the differences that are not the CLI's are made equal: the temporary
    folder's path, the listening port, the watcher's name (inotify or poll;
    ReadDirectoryChangesW) and Windows' CRLF line ends.
--case check_strict: `hotssl check --strict -c CONF` on the same files (a
    good configuration, one with a warning, one naming a missing key file):
    the same exit codes (0, 3, 1) and the same output once the folder's
    path is made equal.
The Linux CLI is the one given by --linux-hotssl (.ci/windows passes the
default build's, building it when missing).
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "platform"))
from ptlib import Pki, TempDir, check, main  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--wine", required=True)
ap.add_argument("--hotssl", required=True)
ap.add_argument("--linux-hotssl", required=True)
ap.add_argument("--case", required=True)
args = ap.parse_args()

SAME = [
    (re.compile(r"/tmp/hotssl-demo-\w+"), "DEMODIR"),
    (re.compile(r"[A-Z]:[\\/]users[\\/][^\\/\s\"]+[\\/]Temp[\\/]hotssl-demo-\d+-\d+", re.I), "DEMODIR"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\((inotify|poll|ReadDirectoryChangesW)"), "(WATCHER"),
]


def normal(text, folder=None):
    text = text.replace("\r\n", "\n")
    if folder is not None:
        for form in ("Z:" + folder, "Z:" + folder.replace("/", "\\"), folder):
            text = text.replace(form, "DIR")
        text = re.sub(r"DIR[\\/]", "DIR/", text)
    for rx, to in SAME:
        text = rx.sub(to, text)
    return text


def both(argv, folder=None):
    """Run the Linux and the Windows CLI with argv; each (rc, stdout, stderr) normalized."""
    out = []
    for cmd in ([args.linux_hotssl] + argv, [args.wine, args.hotssl] + argv):
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                           timeout=180)
        out.append((p.returncode, normal(p.stdout, folder), normal(p.stderr, folder)))
    for name, (rc, so, se) in zip(("linux", "windows"), out):
        print("--- %s: hotssl %s: exit %d\n%s%s" % (name, " ".join(argv), rc, so, se))
    return out


def same(out, what):
    (lrc, lso, lse), (wrc, wso, wse) = out
    check(lrc == wrc, "%s: exit %d on Linux, %d on Windows" % (what, lrc, wrc))
    check(lso == wso, "%s: stdout differs:\n%s\n---\n%s" % (what, lso, wso))
    check(lse == wse, "%s: stderr differs:\n%s\n---\n%s" % (what, lse, wse))


def same_mbedtls():
    """Both CLIs on the same mbedTLS version (the TLS lines depend on it)."""
    lines = []
    for cmd in ([args.linux_hotssl, "version"], [args.wine, args.hotssl, "version"]):
        out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120).stdout
        lines.append([x for x in out.splitlines() if x.startswith("mbedTLS ")])
    check(lines[0] == lines[1] and lines[0], "the two CLIs differ in mbedTLS (give --linux-hotssl a build on "
          "the Windows build's version): %s / %s" % (lines[0], lines[1]))


def demo():
    out = both(["demo"])
    check(out[0][0] == 0 and "demo OK" in out[0][1], "the Linux demo failed")
    check("client: TLSv1.3" in out[1][1] or "client: TLSv1.2" in out[1][1], "no client line on Windows")
    same(out, "hotssl demo")


def check_strict():
    with TempDir("hotssl-check-") as d:
        pki = Pki(d)
        pki.server(0xA1, "a")
        # Half an hour inside "10 day(s) 11 hour(s)": the Linux and the Windows
        # run print the time left, and must not straddle an hour's boundary
        # (with exactly 10 days 12 hours, a run within the certificate's own
        # second said 12 hours and a later one 11).
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10, hours=11, minutes=30)
        pki.leaf("soon", pki.ca_pair, 0xB2, cn="localhost", startdate="20240101000000Z",
                 enddate=soon.strftime("%Y%m%d%H%M%SZ"))
        pki.install("a")
        pki.install("soon", cert="soon-server.crt", key="soon-server.key")
        conf = os.path.join(d, "tls.conf")
        cases = [("a good configuration", "server", "server.key", 0),
                 ("a certificate expiring in 10 days", "soon-server", "soon-server.key", 3),
                 ("a missing key file", "server", "missing.key", 1)]
        for what, cert, key, want in cases:
            with open(conf, "w") as f:
                f.write("ssl_cert_file = '%s.crt'\nssl_key_file = '%s'\n" % (cert, key))
            out = both(["check", "--strict", "-c", conf], folder=d)
            check(out[0][0] == want, "%s: Linux exit %d, not %d" % (what, out[0][0], want))
            same(out, what)


def go():
    same_mbedtls()
    {"demo": demo, "check_strict": check_strict}[args.case]()


main(go)
