"""Helpers for the watcher tests and the latency benchmark (stdlib only).

- Certs: a throwaway CA and server/client certificates made with the openssl
  CLI (EC P-256, mbedTLS-friendly), each server certificate with a known serial.
- Server: `hotssl serve -c CONF -p 0` in a child process; stderr is collected
  line by line so tests can count log lines.
- serial(): one real TLS handshake with Python's ssl, returning the serial of
  the certificate served (parsed from the DER).
- Hammer: a thread doing handshakes back to back, counting failures, so a
  rotation test can assert that no handshake failed while files changed.
"""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

HOTSSL = os.environ.get("HOTSSL_BIN", "hotssl")
DEADLINE = 20.0  # generous: the target is 2 s, a loaded 2-core CI box must not flake


def run(*args, cwd=None):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def write_file(path, data, mode=0o644):
    """Rewrite in place: O_TRUNC, then write (what an editor without backups does)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def write_atomic(path, data, mode=0o644):
    tmp = path + ".tmp%d" % os.getpid()
    write_file(tmp, data, mode)
    os.rename(tmp, path)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def der_serial(der):
    """Serial number (int) of a DER certificate: Certificate -> tbs -> [0]? -> INTEGER."""
    def hdr(b, i):
        tag = b[i]
        ln = b[i + 1]
        i += 2
        if ln & 0x80:
            n = ln & 0x7F
            ln = int.from_bytes(b[i:i + n], "big")
            i += n
        return tag, ln, i
    _, _, i = hdr(der, 0)      # Certificate SEQUENCE
    _, _, i = hdr(der, i)      # tbsCertificate SEQUENCE
    tag, ln, j = hdr(der, i)
    if tag == 0xA0:            # [0] version
        i = j + ln
        tag, ln, j = hdr(der, i)
    assert tag == 0x02, "serial is not an INTEGER"
    return int.from_bytes(der[j:j + ln], "big")


class Certs:
    """A CA in `root` that issues server and client certificates."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.ca_key = os.path.join(root, "ca.key")
        self.ca_crt = os.path.join(root, "ca.crt")
        self.make_ca(self.ca_key, self.ca_crt, "hotssl test CA")
        # A minimal `openssl ca` setup, used only for revocation and CRLs.
        self.cadir = os.path.join(root, "cadb")
        os.makedirs(self.cadir, exist_ok=True)
        open(os.path.join(self.cadir, "index.txt"), "w").close()
        with open(os.path.join(self.cadir, "crlnumber"), "w") as f:
            f.write("1000\n")
        self.cnf = os.path.join(self.cadir, "ca.cnf")
        with open(self.cnf, "w") as f:
            f.write("[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\n"
                    "dir = %s\ndatabase = $dir/index.txt\ncrlnumber = $dir/crlnumber\n"
                    "certificate = %s\nprivate_key = %s\ndefault_md = sha256\n"
                    "default_crl_days = 30\nnew_certs_dir = $dir\npolicy = p\n"
                    "[ p ]\ncommonName = supplied\n" % (self.cadir, self.ca_crt, self.ca_key))

    @staticmethod
    def make_key(path):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", path)
        os.chmod(path, 0o600)

    def make_ca(self, key, crt, cn):
        self.make_key(key)
        run("openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "30",
            "-sha256", "-out", crt)

    def issue(self, serial, cn="localhost", key=None, ca=None):
        """Return (cert_pem, key_pem) for a new leaf with the given serial.
        key: reuse an existing key file instead of making a new one."""
        ca_key, ca_crt = ca if ca else (self.ca_key, self.ca_crt)
        base = os.path.join(self.root, "leaf%x" % serial)
        k = key or base + ".key"
        if key is None:
            self.make_key(k)
        csr = base + ".csr"
        run("openssl", "req", "-new", "-key", k, "-subj", "/CN=" + cn, "-out", csr)
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
            "-set_serial", str(serial), "-days", "30", "-sha256", "-out", base + ".crt")
        return read(base + ".crt"), read(k)

    def revoke(self, cert_path):
        run("openssl", "ca", "-config", self.cnf, "-revoke", cert_path)

    def crl(self):
        out = os.path.join(self.cadir, "crl.pem")
        run("openssl", "ca", "-config", self.cnf, "-gencrl", "-out", out)
        return read(out)


class Server:
    def __init__(self, conf, backend="auto", extra_env=None):
        env = dict(os.environ)
        env["HOTSSL_WATCH_BACKEND"] = backend
        if extra_env:
            env.update(extra_env)
        self.proc = subprocess.Popen([HOTSSL, "serve", "-c", conf, "-p", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            raise RuntimeError("server did not start: %r\n%s" % (line, self.log()))
        self.port = int(line.rsplit(":", 1)[1])

    def _read_stderr(self):
        for raw in self.proc.stderr:
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def log(self):
        with self.lock:
            return "\n".join(self.lines)

    def count(self, substring):
        with self.lock:
            return sum(1 for l in self.lines if substring in l)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc

    def handshake(self, client=None, timeout=10):
        """One TLS handshake; returns the served leaf's serial. client: (crt, key)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if client:
            ctx.load_cert_chain(client[0], client[1])
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            with ctx.wrap_socket(s) as t:
                der = t.getpeercert(binary_form=True)
                # TLS 1.2 client auth fails in the handshake; a round trip
                # makes sure the server accepted us.
                t.sendall(b"ping")
                if t.recv(4) != b"ping":
                    raise ssl.SSLError("no echo")
                return der_serial(der)

    def wait_serial(self, serial, since=None, deadline=DEADLINE):
        """Poll handshakes until `serial` is served; returns the latency in ms
        measured from `since` (time.monotonic()), or raises AssertionError."""
        since = since if since is not None else time.monotonic()
        end = time.monotonic() + deadline
        last = None
        while time.monotonic() < end:
            try:
                last = self.handshake()
            except (OSError, ssl.SSLError):
                last = "error"
            if last == serial:
                return (time.monotonic() - since) * 1000.0
            time.sleep(0.01)
        raise AssertionError("serial %s not served within %.0f s (last %s)\n%s"
                             % (serial, deadline, last, self.log()))

    def wait_log(self, substring, n=1, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.count(substring) >= n:
                return
            time.sleep(0.02)
        raise AssertionError("log line %r (x%d) not seen within %.0f s\n%s"
                             % (substring, n, deadline, self.log()))


class Hammer:
    """Handshakes back to back in a thread; counts failures."""

    def __init__(self, server):
        self.server = server
        self.ok = 0
        self.failures = []
        self.serials = set()
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.serials.add(self.server.handshake())
                self.ok += 1
            except (OSError, ssl.SSLError) as e:
                self.failures.append(repr(e))

    def stop(self):
        self.stop_ev.set()
        self.t.join(30)
        return self.failures


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="hotssl-watch-")

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)
