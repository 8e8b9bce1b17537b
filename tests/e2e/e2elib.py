"""Shared helpers of hotssl's end-to-end tests (Python standard library only).

Everything here drives real parts: the `hotssl` CLI as a subprocess, the
`openssl` CLI to make keys and certificates, real TLS handshakes over
loopback with Python's ssl module. No fixed sleeps: every wait polls a
condition until a generous deadline (DEADLINE seconds).

Environment (set by tests/e2e/CMakeLists.txt, or by hand):
  HOTSSL_CLI       path of the built `hotssl` binary (required)
  HOTSSL_TESTDATA  PostgreSQL's SSL test data (shared/testdata/postgresql-ssl);
                   overrides HOTSSL_E2E_DEFAULT_TESTDATA, which CMake sets to
                   ${CMAKE_SOURCE_DIR}/../shared/testdata/postgresql-ssl
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DEADLINE = float(os.environ.get("HOTSSL_E2E_DEADLINE", "30"))
RESULT_RE = re.compile(r"SSL configuration (reloaded|unchanged|was not reloaded)")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli():
    p = os.environ.get("HOTSSL_CLI", "")
    if not p or not os.access(p, os.X_OK):
        raise AssertionError("HOTSSL_CLI must name the built hotssl binary (got %r)" % p)
    return p


def testdata():
    d = os.environ.get("HOTSSL_TESTDATA", "") or os.environ.get("HOTSSL_E2E_DEFAULT_TESTDATA", "")
    if not d or not os.path.isfile(os.path.join(d, "root_ca.crt")):
        raise AssertionError(
            "PostgreSQL SSL test data not found at %r: set HOTSSL_TESTDATA to the "
            "shared/testdata/postgresql-ssl directory (it sits beside the repository "
            "as ../shared/testdata/postgresql-ssl)" % d)
    return d


def run(cmd, timeout=DEADLINE, check=False, **kw):
    """Run a command to completion, capturing text output."""
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("command %r failed (%d):\n%s%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


def wait_for(cond, what, deadline=DEADLINE, interval=0.01):
    """Poll cond() until it returns a true value; fail after the deadline."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (deadline, what))
        time.sleep(interval)


def write(path, data, mode=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def remove(path):
    """Remove whatever is at path (file, symlink, FIFO, directory)."""
    if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


# ---- X.509 serial from DER (what a client sees) ----

def _tlv(b, i):
    tag = b[i]
    ln = b[i + 1]
    i += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, i, ln


def serial_of_der(der):
    """The serial number of a DER certificate, as an int."""
    tag, i, _ = _tlv(der, 0)          # Certificate
    assert tag == 0x30, "not a DER certificate"
    tag, i, _ = _tlv(der, i)          # tbsCertificate
    tag, j, ln = _tlv(der, i)
    if tag == 0xA0:                   # [0] version
        tag, j, ln = _tlv(der, j + ln)
    assert tag == 0x02, "no serial INTEGER"
    return int.from_bytes(der[j:j + ln], "big", signed=False)


def serial_of_pem_file(path):
    out = run(["openssl", "x509", "-noout", "-serial", "-in", path], check=True).stdout
    return int(out.strip().split("=", 1)[1], 16)


# ---- a Python ssl client ----

def client_context(cafile=None, cert=None, key=None, hostname_check=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = hostname_check
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def handshake(port, ctx=None, server_hostname="localhost", payload=b"hotssl-e2e ping\n"):
    """Connect, handshake, check the echo; return the served certificate (DER)."""
    if ctx is None:
        ctx = client_context()
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
        with ctx.wrap_socket(s, server_hostname=server_hostname) as t:
            der = t.getpeercert(binary_form=True)
            t.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = t.recv(len(payload) - len(got))
                if not chunk:
                    break
                got += chunk
            if got != payload:
                raise AssertionError("echo mismatch: sent %r got %r" % (payload, got))
            return der


def served_serial(port, ctx=None):
    return serial_of_der(handshake(port, ctx))


# ---- the server under test ----

class Server:
    """`hotssl serve` as a subprocess; collects its stdout/stderr lines."""

    def __init__(self, conf, extra=(), prefix=(), binary=None, watch=False):
        args = list(prefix) + [binary or cli(), "serve", "-c", conf, "-p", "0"]
        if not watch:
            args.append("--no-watch")
        args += list(extra)
        self.args = args
        self.out, self.err = [], []
        self.cv = threading.Condition()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._threads:
            t.start()
        self.port = None
        try:
            m = self._wait(lambda: self._find(self.out, re.compile(r"listening on 127\.0\.0\.1:(\d+)"), 0),
                           "the 'listening on' line", allow_exit=False)
        except Exception:
            self.kill()
            raise
        self.port = int(m[1].group(1))

    def _pump(self, stream, lines):
        for line in stream:
            with self.cv:
                lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    @staticmethod
    def _find(lines, rx, start):
        for i in range(start, len(lines)):
            m = rx.search(lines[i])
            if m:
                return i, m
        return None

    def _wait(self, cond, what, allow_exit=True, deadline=DEADLINE):
        end = time.monotonic() + deadline
        with self.cv:
            while True:
                v = cond()
                if v:
                    return v
                if self.proc.poll() is not None and not allow_exit:
                    # Let the pumps drain before reporting.
                    for t in self._threads:
                        t.join(timeout=5)
                    v = cond()
                    if v:
                        return v
                    raise AssertionError("hotssl serve exited (%s) before %s; stderr:\n%s"
                                         % (self.proc.returncode, what, "\n".join(self.err)))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.0f s waiting for %s; stderr:\n%s"
                                         % (deadline, what, "\n".join(self.err)))
                self.cv.wait(min(left, 0.2))

    def mark(self):
        with self.cv:
            return len(self.err)

    def wait_err(self, pattern, since=0, what=None):
        rx = re.compile(pattern)
        i, m = self._wait(lambda: self._find(self.err, rx, since), what or repr(pattern), allow_exit=False)
        return i, self.err[i]

    def reload(self):
        """SIGHUP, then wait for the one result line of that reload.
        Returns (result_line, lines_of_this_reload)."""
        start = self.mark()
        os.kill(self.proc.pid, signal.SIGHUP)
        i, line = self.wait_err(RESULT_RE.pattern, start, "the result line of a reload")
        with self.cv:
            lines = list(self.err[start:i + 1])
        return line, lines

    def stop(self):
        """SIGTERM; returns the exit code (0 expected)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("hotssl serve did not exit within %.0f s of SIGTERM" % DEADLINE)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def serve_must_fail(conf, prefix=(), binary=None, extra=()):
    """Start `hotssl serve` on a bad configuration: it must exit non-zero
    without ever listening, within the deadline. Returns (rc, stdout, stderr)."""
    args = list(prefix) + [binary or cli(), "serve", "-c", conf, "-p", "0", "--no-watch"] + list(extra)
    try:
        p = run(args)
    except subprocess.TimeoutExpired:
        raise AssertionError("hotssl serve hung on a bad configuration: %r" % (args,))
    return p.returncode, p.stdout, p.stderr


# ---- certificates and keys made with the openssl CLI ----

OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = hotssl-e2e
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca]
default_ca = theca
[theca]
dir = .
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 3650
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
"""


class Pki:
    """A small PKI in a directory, made with today's openssl CLI.
    EC P-256 keys keep generation fast; RSA where a test asks for it."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cnf = os.path.join(directory, "openssl.cnf")
        write(self.cnf, OPENSSL_CNF)

    def path(self, name):
        return os.path.join(self.dir, name)

    def ossl(self, *args, cwd=None):
        return run(["openssl"] + list(args), check=True, cwd=cwd or self.dir)

    def genkey(self, name, kind="ec"):
        out = self.path(name + ".key")
        if kind == "ec":
            self.ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out)
        else:
            self.ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", out)
        os.chmod(out, 0o600)
        return out

    def ca(self, name, cn):
        key = self.genkey(name)
        crt = self.path(name + ".crt")
        self.ossl("req", "-x509", "-new", "-key", key, "-out", crt, "-subj", "/CN=" + cn,
                  "-days", "3650", "-set_serial", "1", "-config", self.cnf, "-extensions", "v3_ca")
        cadir = self.path(name + ".db")
        os.makedirs(cadir, exist_ok=True)
        write(os.path.join(cadir, "index.txt"), "")
        write(os.path.join(cadir, "serial"), "1000\n")
        write(os.path.join(cadir, "crlnumber"), "1000\n")
        return crt, key

    def leaf(self, name, ca, serial, cn=None, kind="ec", key=None, startdate=None, enddate=None):
        """A leaf signed by ca=(crt, key) with the given serial (int)."""
        ca_crt, ca_key = ca
        key = key or self.genkey(name, kind)
        csr = self.path(name + ".csr")
        crt = self.path(name + ".crt")
        self.ossl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + (cn or name),
                  "-config", self.cnf)
        if startdate or enddate:
            # `openssl ca` sets arbitrary validity dates (x509 -req cannot in 3.0).
            cadir = ca_crt[:-len(".crt")] + ".db"
            write(os.path.join(cadir, "serial"), "%X\n" % serial if len("%X" % serial) % 2 == 0 else "0%X\n" % serial)
            self.ossl("ca", "-batch", "-config", self.cnf, "-name", "theca", "-cert", ca_crt,
                      "-keyfile", ca_key, "-in", csr, "-out", crt, "-notext",
                      "-startdate", startdate, "-enddate", enddate,
                      "-extfile", self.cnf, "-extensions", "v3_leaf", cwd=cadir)
        else:
            self.ossl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                      "-set_serial", str(serial), "-days", "3650", "-out", crt,
                      "-extfile", self.cnf, "-extensions", "v3_leaf")
        return crt, key

    def crl(self, name, ca, revoke=()):
        """A CRL issued by ca=(crt, key), revoking the given certificate files."""
        ca_crt, ca_key = ca
        cadir = ca_crt[:-len(".crt")] + ".db"
        for c in revoke:
            self.ossl("ca", "-config", self.cnf, "-name", "theca", "-cert", ca_crt,
                      "-keyfile", ca_key, "-revoke", c, cwd=cadir)
        out = self.path(name + ".crl")
        self.ossl("ca", "-gencrl", "-config", self.cnf, "-name", "theca", "-cert", ca_crt,
                  "-keyfile", ca_key, "-out", out, cwd=cadir)
        return out

    def der(self, pem_crt, name):
        out = self.path(name)
        self.ossl("x509", "-in", pem_crt, "-outform", "DER", "-out", out)
        return out


# ---- running the server as another user (root only) ----

def nobody_ids():
    import pwd
    import grp
    uid = pwd.getpwnam("nobody").pw_uid
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        gid = grp.getgrnam("nobody").gr_gid
    return uid, gid


def setpriv_prefix():
    if shutil.which("setpriv") is None:
        raise AssertionError("setpriv (util-linux) is required to run the server as an unprivileged user")
    uid, gid = nobody_ids()
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]


def binary_for_nobody(tmpdir):
    """A copy of the CLI that user nobody can execute (the build tree may sit
    in a directory nobody cannot enter)."""
    prefix = setpriv_prefix()
    if run(prefix + [cli(), "version"]).returncode == 0:
        return cli()
    bindir = os.path.join(tmpdir, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.chmod(bindir, 0o755)
    dst = os.path.join(bindir, "hotssl")
    shutil.copy2(cli(), dst)
    os.chmod(dst, 0o755)
    p = run(prefix + [dst, "version"])
    if p.returncode != 0:
        raise AssertionError("user nobody cannot run the hotssl binary (%s): %s" % (dst, p.stderr))
    return dst


def chown_tree(path, uid, gid):
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)


# ---- test running with a closing summary line ----

class _Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

        self.with_subtests = set()

    # A subtest (one catalogue case, say) counts as one passed or failed test.
    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        self.with_subtests.add(test.id())
        if err is None:
            self.passed += 1

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self.with_subtests:
            self.passed += 1


def main(name):
    """Run the calling module's tests; print 'N passed, N failed' last."""
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:], sys.modules["__main__"])
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result, stream=sys.stdout)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    # A skipped test is a failure here: these tests must never skip silently.
    print("(%s: %d tests in %.1f s)" % (name, res.testsRun, time.monotonic() - t0))
    print("%s: %d passed, %d failed, %d skipped" % (name, res.passed, failed, skipped))
    sys.stdout.flush()
    sys.exit(0 if failed == 0 and skipped == 0 and res.testsRun > 0 else 1)


class TempDirTest(unittest.TestCase):
    """A test class with one temporary directory for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hotssl-e2e-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
