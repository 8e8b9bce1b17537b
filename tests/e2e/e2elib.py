"""The end-to-end suite's own helpers (Python standard library only).

The common ones (files, DER serials, TLS clients, the server process, the
openssl-made PKI, the closing summary) live in tests/pylib/hotssltest.py
and are re-exported here, so the tests use them as E.read, E.Pki, ...

Environment (set by tests/e2e/CMakeLists.txt, or by hand):
  HOTSSL_CLI          path of the built `hotssl` binary (required)
  HOTSSL_TESTDATA     the test certificates: the generated PostgreSQL-shaped set
                      (tests/data/gen_testdata.sh) or PostgreSQL's own files
                      (shared/testdata/postgresql-ssl); overrides
                      HOTSSL_E2E_DEFAULT_TESTDATA (CMake: the generated set)
  HOTSSL_E2E_DEADLINE every deadline and timeout, in seconds (default 30)
  HOTSSL_E2E_HYGIENE  a directory: every output of the CLI (run, serve) is
                      also appended to files there, for the secret hygiene
                      test (tests/e2e/test_hygiene.py)
"""
import os
import re
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
import hotssltest as H  # noqa: E402
from hotssltest import (Pki, client_context, echo, handshake, read, recv_up_to, remove,  # noqa: E402,F401
                        serial_of_der, serial_of_pem_file, tls_connect, write)
from hotssltest import unittest_main as main  # noqa: E402,F401

DEADLINE = H.DEADLINE = float(os.environ.get("HOTSSL_E2E_DEADLINE", "30"))
HYGIENE = os.environ.get("HOTSSL_E2E_HYGIENE", "")


def _keep(what, *texts):
    """Hygiene mode: append what the CLI printed to HYGIENE/outputs.log."""
    if not HYGIENE:
        return
    with open(os.path.join(HYGIENE, "outputs.log"), "a", errors="replace") as f:
        f.write("==== %s\n" % what)
        for t in texts:
            f.write(t if isinstance(t, str) else t.decode("latin-1"))
            f.write("\n")


def run(cmd, timeout=None, check=False, **kw):
    p = H.run(cmd, timeout=timeout, check=check, **kw)
    _keep(" ".join(map(str, cmd)), p.stdout or "", p.stderr or "")
    return p
RESULT_RE = re.compile(r"SSL configuration (reloaded|unchanged|was not reloaded)")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def cli():
    p = os.environ.get("HOTSSL_CLI", "")
    if not p or not os.access(p, os.X_OK):
        raise AssertionError("HOTSSL_CLI must name the built hotssl binary (got %r)" % p)
    return p


def tls13():
    """True when the hotssl under test has TLS 1.3 (mbedTLS 3.6)."""
    return H.mbedtls_of(cli())["tls13"]


def tls13_alerts():
    """True when the hotssl under test sends its TLS 1.3 alerts after its
    Finished under keys the client reads (the local mbedTLS's patch for
    Mbed-TLS/mbedtls#10877); False on a stock mbedTLS 3.6 or on 2.28."""
    return H.mbedtls_of(cli())["tls13_alerts"]


def testdata():
    d = os.environ.get("HOTSSL_TESTDATA", "") or os.environ.get("HOTSSL_E2E_DEFAULT_TESTDATA", "")
    if not d or not os.path.isfile(os.path.join(d, "root_ca.crt")):
        raise AssertionError(
            "test data not found at %r: run tests/data/gen_testdata.sh DIR and set "
            "HOTSSL_TESTDATA=DIR, or point it at PostgreSQL's files "
            "(../shared/testdata/postgresql-ssl)" % d)
    kind = ("generated PostgreSQL-shaped set" if os.path.exists(os.path.join(d, ".complete"))
            else "PostgreSQL's own files")
    print("test data: %s (%s)" % (kind, d), flush=True)
    return d


def served_serial(port, ctx=None):
    return serial_of_der(handshake(port, ctx))


# ---- the server under test ----

class Server(H.Server):
    """`hotssl serve -c CONF -p 0` (--no-watch unless watch), behind an
    optional prefix (setpriv, unshare), with the built CLI or another binary."""

    def __init__(self, conf, extra=(), prefix=(), binary=None, watch=False):
        args = list(prefix) + [binary or cli(), "serve", "-c", conf, "-p", "0"]
        if not watch:
            args.append("--no-watch")
        super().__init__(args + list(extra))

    def reload(self):
        """SIGHUP, then wait for the one result line of that reload.
        Returns (result_line, lines_of_this_reload)."""
        start = self.mark()
        self.hup()
        i, line = self.wait_err(RESULT_RE.pattern, start, "the result line of a reload")
        with self.cv:
            lines = list(self.err[start:i + 1])
        return line, lines

    def _join(self):
        super()._join()
        if not getattr(self, "_kept", False):
            self._kept = True
            with self.cv:
                _keep("serve " + " ".join(self.args), "\n".join(self.out), "\n".join(self.err))

    def stop(self):
        """SIGTERM; returns the exit code (0 expected)."""
        rc = super().stop()
        if self.killed:
            raise AssertionError("hotssl serve did not exit within %.0f s of SIGTERM" % DEADLINE)
        return rc


def serve_must_fail(conf, prefix=(), binary=None, extra=()):
    """Start `hotssl serve` on a bad configuration: it must exit non-zero
    without ever listening, within the deadline. Returns (rc, stdout, stderr)."""
    args = list(prefix) + [binary or cli(), "serve", "-c", conf, "-p", "0", "--no-watch"] + list(extra)
    try:
        p = run(args)
    except subprocess.TimeoutExpired:
        raise AssertionError("hotssl serve hung on a bad configuration: %r" % (args,))
    return p.returncode, p.stdout, p.stderr


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
    # Shared libraries from a private prefix (tools/deps.sh's mbedTLS in
    # .deps/ of the checkout) are as unreachable as the binary: copy them
    # beside it and start it through a wrapper that points the loader there.
    libs = []
    ldd = run(["ldd", cli()])
    for line in ldd.stdout.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if m and not m.group(1).startswith(("/usr/", "/lib")):
            libs.append(m.group(1))
    if libs:
        real = os.path.join(bindir, "hotssl.bin")
        shutil.copy2(cli(), real)
        os.chmod(real, 0o755)
        for lib in libs:
            shutil.copy2(lib, os.path.join(bindir, os.path.basename(lib)))
            os.chmod(os.path.join(bindir, os.path.basename(lib)), 0o755)
        with open(dst, "w") as f:
            f.write('#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' % (bindir, real))
    else:
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


def s_client_exchange(args, payload="hello-from-s_client"):
    """Run `openssl s_client` with args, send one line, wait for its echo (or
    the end of the output), then close stdin: a refusal that comes after the
    client's side of the handshake (TLS 1.3) is seen too. Returns
    (returncode, all output, whether the line came back)."""
    p = subprocess.Popen(["openssl", "s_client"] + list(args), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    out = []
    seen = threading.Event()

    def pump():
        for line in p.stdout:
            out.append(line)
            if line.strip() == payload:
                seen.set()
        seen.set()
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        p.stdin.write(payload + "\n")
        p.stdin.flush()
    except BrokenPipeError:
        pass
    seen.wait(DEADLINE)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        rc = p.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = -1
    t.join(timeout=5)
    return rc, "".join(out), any(line.strip() == payload for line in out)


def s_client(port, cafile, extra=(), payload="hello-from-s_client"):
    """Run openssl s_client (verifying against cafile, host name localhost),
    send one line, wait for its echo, then close stdin. Returns
    (returncode, all output)."""
    rc, out, _ = s_client_exchange(
        ["-connect", "127.0.0.1:%d" % port, "-CAfile", cafile, "-verify_return_error",
         "-verify_hostname", "localhost", "-servername", "localhost", "-showcerts"] + list(extra),
        payload)
    return rc, out
