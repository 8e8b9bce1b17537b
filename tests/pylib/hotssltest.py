"""Helpers shared by hotssl's Python tests (standard library only).

tests/e2e/e2elib.py, tests/watcher/watchlib.py and tests/platform/ptlib.py
put this folder on sys.path, re-export what their tests use from here and
keep only what is specific to their suite. Everything drives real parts:
servers as subprocesses, the `openssl` CLI for keys and certificates, real
TLS handshakes over loopback with Python's ssl module. No fixed sleeps:
every wait polls a condition until a deadline.

DEADLINE is the default of every deadline and timeout below, read when the
function runs: a suite may set it once at import (e2elib sets it from
HOTSSL_E2E_DEADLINE).
"""
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DEADLINE = 30.0

_MBEDTLS = {}


def mbedtls_of(hotssl):
    """What `hotssl version` says about the mbedTLS it was built against:
    {"version": (3, 6, 6), "tls13": True, "tls13_alerts": True,
    "everest": True}. Tests whose
    expectations depend on the mbedTLS version branch on this explicitly."""
    if hotssl not in _MBEDTLS:
        out = subprocess.run([hotssl, "version"], stdout=subprocess.PIPE, text=True, check=True,
                             timeout=DEADLINE).stdout
        m = re.search(r"^mbedTLS (\d+)\.(\d+)\.(\d+) \(built against\)", out, re.M)
        if m is None:
            raise AssertionError("`hotssl version` does not name the mbedTLS version: %r" % out)
        tls13 = "TLS 1.3: available" in out
        alerts = re.search(r"^TLS 1\.3 alerts after the server's Finished: (readable|unreadable)", out, re.M)
        if tls13 and alerts is None:
            raise AssertionError("`hotssl version` does not say whether TLS 1.3 alerts are readable: %r" % out)
        _MBEDTLS[hotssl] = {"version": tuple(int(x) for x in m.groups()),
                            "tls13": tls13,
                            # tools/patches/: the fix of Mbed-TLS/mbedtls#10877
                            "tls13_alerts": tls13 and alerts.group(1) == "readable",
                            "everest": "Everest" in out}
    return _MBEDTLS[hotssl]


def _deadline(d):
    return DEADLINE if d is None else d


# ---- failures and waiting ----

class Fail(AssertionError):
    """A test failure. An AssertionError, so unittest counts it as a
    failure; check_main prints it as "FAIL: <message>"."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_for(cond, what, deadline=None, interval=0.01, detail=None):
    """Poll cond() until it returns a true value and return that value;
    raise Fail after the deadline (detail(), if given, ends the message)."""
    deadline = _deadline(deadline)
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("timed out after %.0f s waiting for %s%s"
                       % (deadline, what, "\n" + detail() if detail else ""))
        time.sleep(interval)


def run(cmd, timeout=None, check=False, **kw):
    """Run a command to completion, capturing text output; check: a non-zero
    exit is a Fail that shows the output."""
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=_deadline(timeout), **kw)
    if check and p.returncode != 0:
        raise Fail("command %r failed (%d):\n%s%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


# ---- files ----

def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mode=None):
    """Rewrite path in place (O_TRUNC, then write: what an editor without
    backups does). A new file is created with mode (default: 0666 less the
    umask); an existing one gets mode by chmod."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(path, mode)


def write_atomic(path, data, mode=None):
    """Write a temporary file beside path, then rename it over path."""
    tmp = path + ".tmp%d" % os.getpid()
    write(tmp, data, mode)
    os.rename(tmp, path)


def remove(path):
    """Remove whatever is at path (file, symlink, FIFO, directory)."""
    if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


class TempDir:
    """A temporary folder (self.path), removed by cleanup(); as a context
    manager it gives the path and removes the folder at the end."""

    def __init__(self, prefix="hotssl-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        self.cleanup()


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
    """The serial number of a DER certificate, as an int:
    Certificate -> tbsCertificate -> [0] version? -> INTEGER."""
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


# ---- TLS clients (Python's ssl) ----

# PostgreSQL's SSLRequest: what a client sends before TLS under
# `hotssl serve --starttls-postgres`; the server answers b"S" or b"N".
SSL_REQUEST = struct.pack("!II", 8, 80877103)


def client_context(cafile=None, cert=None, key=None, hostname_check=False):
    """A client context: verifying against cafile if given (else trusting
    anything), with a client certificate if given."""
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


def tls_connect(port, ctx=None, server_hostname=None, timeout=None, starttls=False):
    """An open TLS connection to 127.0.0.1:port (the caller closes it).
    starttls: send PostgreSQL's SSLRequest first; if the server answers
    anything but 'S', close and return that answer (b"N" or b"")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=_deadline(timeout))
    try:
        if starttls:
            s.sendall(SSL_REQUEST)
            a = s.recv(1)
            if a != b"S":
                s.close()
                return a
        return (ctx or client_context()).wrap_socket(s, server_hostname=server_hostname)
    except BaseException:
        s.close()
        raise


def peer_der(t):
    return t.getpeercert(binary_form=True)


def recv_up_to(t, n):
    """Up to n bytes: fewer only if the peer closed."""
    got = b""
    while len(got) < n:
        chunk = t.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def echo(t, data=b"ping"):
    """Send data on an open connection; True if the same bytes come back."""
    t.sendall(data)
    return recv_up_to(t, len(data)) == data


def handshake(port, ctx=None, server_hostname="localhost", payload=b"ping", timeout=None,
              mismatch=Fail):
    """Connect, handshake, check the echo of payload; return the served
    certificate (DER). A wrong echo raises mismatch (an exception class)."""
    with tls_connect(port, ctx, server_hostname, timeout) as t:
        der = peer_der(t)
        t.sendall(payload)
        got = recv_up_to(t, len(payload))
        if got != payload:
            raise mismatch("echo mismatch: sent %r got %r" % (payload, got))
        return der


# ---- a server under test ----

LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class Server:
    """A server process (`hotssl serve`, an example) started from argv with
    stdin closed. Two threads collect its stdout and stderr lines (self.out,
    self.err); the constructor waits for "listening on 127.0.0.1:PORT" on
    stdout (self.port) for start_deadline seconds (float("inf"): until the
    line comes or the process exits)."""

    def __init__(self, argv, env=None, start_deadline=None, label="hotssl serve"):
        self.args = list(argv)
        self.label = label
        self.out, self.err = [], []
        self.cv = threading.Condition()
        self.killed = False
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, text=True, errors="replace",
                                     bufsize=1)
        self.pid = self.proc.pid
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._threads:
            t.start()
        self.port = None
        try:
            _, m = self.wait(lambda: self._find(self.out, LISTENING_RE, 0), "the 'listening on' line",
                             allow_exit=False, deadline=start_deadline)
        except BaseException:
            self.kill()
            raise
        self.port = int(m.group(1))

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

    def wait(self, cond, what, allow_exit=True, deadline=None):
        """Wait until cond() (called with the lines locked) is true and
        return its value. allow_exit=False: fail as soon as the process has
        exited without cond() becoming true."""
        deadline = _deadline(deadline)
        end = time.monotonic() + deadline
        with self.cv:
            while True:
                v = cond()
                if v:
                    return v
                if not allow_exit and self.proc.poll() is not None:
                    break
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail("timed out after %.0f s waiting for %s; stderr:\n%s"
                               % (deadline, what, "\n".join(self.err)))
                self.cv.wait(min(left, 0.2))
        # Exited: let the pumps drain (outside the lock they take), look again.
        self._join()
        with self.cv:
            v = cond()
            if v:
                return v
            raise Fail("%s exited (%s) before %s; stderr:\n%s"
                       % (self.label, self.proc.returncode, what, "\n".join(self.err)))

    def mark(self):
        """The number of stderr lines so far (a `since` for wait_err)."""
        with self.cv:
            return len(self.err)

    def wait_err(self, pattern, since=0, what=None, deadline=None):
        """Wait for a stderr line from index `since` on that matches the
        regex pattern; returns (index, line)."""
        rx = re.compile(pattern)
        i, _ = self.wait(lambda: self._find(self.err, rx, since), what or repr(pattern),
                         allow_exit=False, deadline=deadline)
        return i, self.err[i]

    def count(self, substring):
        """How many stderr lines contain substring."""
        with self.cv:
            return sum(1 for line in self.err if substring in line)

    def log(self):
        """Everything on stderr so far."""
        with self.cv:
            return "\n".join(self.err)

    def hup(self):
        os.kill(self.pid, signal.SIGHUP)

    def _join(self):
        for t, f in zip(self._threads, (self.proc.stdout, self.proc.stderr)):
            t.join(timeout=5)
            if not t.is_alive():
                f.close()

    def stop(self, deadline=None):
        """SIGTERM and wait; returns the exit code. Still running after the
        deadline: SIGKILL, and self.killed is set."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=_deadline(deadline))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            self.killed = True
        self._join()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=_deadline(None))
        self._join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


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
    """A small PKI in a directory, made with today's openssl CLI: CAs
    (name.crt, name.key, and name.db/ for `openssl ca`), leaves with a given
    serial, CRLs. EC P-256 keys keep generation fast; RSA where asked."""

    def __init__(self, directory, ca_cn=None):
        """ca_cn: also make the CA "ca" with that common name (self.ca_pair)."""
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cnf = os.path.join(directory, "openssl.cnf")
        write(self.cnf, OPENSSL_CNF)
        self.ca_pair = self.ca("ca", ca_cn) if ca_cn else None

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
        """A self-signed CA; returns (crt, key)."""
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

    def intermediate(self, name, ca, cn, serial):
        """A CA certificate signed by ca=(crt, key), with its own name.db/
        for `openssl ca`; returns (crt, key)."""
        ca_crt, ca_key = ca
        key = self.genkey(name)
        csr, crt = self.path(name + ".csr"), self.path(name + ".crt")
        self.ossl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn, "-config", self.cnf)
        self.ossl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", str(serial),
                  "-days", "3650", "-out", crt, "-extfile", self.cnf, "-extensions", "v3_ca")
        cadir = self.path(name + ".db")
        os.makedirs(cadir, exist_ok=True)
        write(os.path.join(cadir, "index.txt"), "")
        write(os.path.join(cadir, "serial"), "1000\n")
        write(os.path.join(cadir, "crlnumber"), "1000\n")
        return crt, key

    def leaf(self, name, ca, serial, cn=None, kind="ec", key=None, startdate=None, enddate=None):
        """A leaf signed by ca=(crt, key) with the given serial (int);
        key: an existing key file instead of a new one. Returns (crt, key)."""
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
        """The CRL of ca=(crt, key) as name.crl, after revoking the given
        certificate files (revocations accumulate in the CA's database)."""
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
        """A DER copy of a PEM certificate file, as the file `name`."""
        out = self.path(name)
        self.ossl("x509", "-in", pem_crt, "-outform", "DER", "-out", out)
        return out

    def cert_der(self, name):
        """The DER bytes of certificate name.crt (what a client is served)."""
        with open(self.path(name + ".crt")) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())


# ---- how a test script runs and ends ----

def check_main(fn):
    """Run fn(): a Fail prints "FAIL: <message>" and exits 1; else "PASS"."""
    try:
        fn()
    except Fail as e:
        print("FAIL:", e)
        sys.exit(1)
    print("PASS")


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


def unittest_main(name):
    """Run the __main__ module's tests (or those named on the command line);
    print 'name: N passed, N failed, N skipped' last. A skipped test fails
    the run: these tests must never skip silently."""
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:], sys.modules["__main__"])
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result, stream=sys.stdout)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    print("(%s: %d tests in %.1f s)" % (name, res.testsRun, time.monotonic() - t0))
    print("%s: %d passed, %d failed, %d skipped" % (name, res.passed, failed, skipped))
    sys.stdout.flush()
    sys.exit(0 if failed == 0 and skipped == 0 and res.testsRun > 0 else 1)
