"""The watcher tests' own helpers, and the latency benchmark's (stdlib only).
The common ones live in tests/pylib/hotssltest.py; TempDir and read are
re-exported from there.

- Certs: a throwaway CA (self.ca_pair) issuing server certificates with
  known serials (EC P-256, mbedTLS-friendly).
- write_file / write_atomic: files rewritten in place or renamed over,
  mode 0644 unless told.
- Server: `hotssl serve -c CONF -p 0` with its watcher (backend chosen by
  HOTSSL_WATCH_BACKEND); handshake() returns the served serial,
  wait_serial() measures how long a rotation took to be served.
- Hammer: a thread doing handshakes back to back, counting failures, so a
  rotation test can assert that no handshake failed while files changed.
"""
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
import hotssltest as H  # noqa: E402
from hotssltest import TempDir, read, serial_of_der  # noqa: E402,F401

HOTSSL = os.environ.get("HOTSSL_BIN", "hotssl")
DEADLINE = 20.0  # generous: the target is 2 s, a loaded 2-core CI box must not flake


def write_file(path, data, mode=0o644):
    """Rewrite in place: O_TRUNC, then write (what an editor without backups does)."""
    H.write(path, data, mode)


def write_atomic(path, data, mode=0o644):
    H.write_atomic(path, data, mode)


class Certs(H.Pki):
    """A CA in `root` (self.ca_pair: crt, key) that issues server certificates."""

    def __init__(self, root):
        super().__init__(root, ca_cn="hotssl test CA")

    def issue(self, serial, key=None):
        """Return (cert_pem, key_pem) for a new leaf (CN=localhost) with the
        given serial. key: reuse an existing key file instead of making a new one."""
        crt, k = self.leaf("leaf%x" % serial, self.ca_pair, serial, cn="localhost", key=key)
        return read(crt), read(k)


class Server(H.Server):
    def __init__(self, conf, backend="auto", extra_env=None):
        env = dict(os.environ)
        env["HOTSSL_WATCH_BACKEND"] = backend
        if extra_env:
            env.update(extra_env)
        super().__init__([HOTSSL, "serve", "-c", conf, "-p", "0"], env=env, start_deadline=float("inf"))

    def stop(self):
        return super().stop(DEADLINE)

    def handshake(self, client=None, timeout=10):
        """One TLS handshake; returns the served leaf's serial. client: (crt, key).
        TLS 1.2 client auth fails in the handshake; the echo round trip makes
        sure the server accepted us (a wrong echo is an ssl.SSLError)."""
        ctx = H.client_context(cert=client[0], key=client[1]) if client else None
        return serial_of_der(H.handshake(self.port, ctx, server_hostname=None, timeout=timeout,
                                         mismatch=ssl.SSLError))

    def wait_serial(self, serial, since=None, deadline=DEADLINE):
        """Poll handshakes until `serial` is served; returns the latency in ms
        measured from `since` (time.monotonic()), or raises AssertionError."""
        since = since if since is not None else time.monotonic()
        last = [None]

        def served():
            try:
                last[0] = self.handshake()
            except (OSError, ssl.SSLError):
                last[0] = "error"
            return last[0] == serial
        H.wait_for(served, "serial %s to be served" % serial, deadline,
                   detail=lambda: "(last %s)\n%s" % (last[0], self.log()))
        return (time.monotonic() - since) * 1000.0

    def wait_log(self, substring, n=1, deadline=DEADLINE):
        self.wait(lambda: self.count(substring) >= n, "log line %r (x%d)" % (substring, n), deadline=deadline)


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
