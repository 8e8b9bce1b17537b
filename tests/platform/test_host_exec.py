"""examples/host_exec_server.c: backends the host starts itself (fork + execv
of its own binary, as PostgreSQL's EXEC_BACKEND), built from snapshot bytes
handed over through the host's own channel (a sealed memfd, or with --pipe a
pipe per backend), never through hotssl_spawn and never through a file.

watch (host-loop watcher, no signal): `openssl s_client` is served A; the
    files are rotated by rename-over and a new connection gets B; a
    connection opened before keeps A and keeps echoing. A live backend's argv
    names its two inherited descriptors (the connection is a socket there, the
    snapshot descriptor is already closed); the host holds the snapshot in a
    memfd (none with --pipe); each backend says it was built from the host's
    snapshot of the expected generation.
sighup (--no-watch): replaced files are not picked up until SIGHUP; then new
    connections get C, an older one keeps echoing; a certificate with a
    mismatched key at the next SIGHUP is refused and C keeps serving.
hostile: the backend alone, handed garbage instead of a snapshot, has no
    TLS, says why and closes its connection.
All: no file appears in the test folder or /dev/shm, every backend exits 0
(a sanitizer report in a backend would make it exit non-zero).
"""
import argparse
import os
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import (Pki, Server, TempDir, check, children, echo, fd_links, main, peer_der, read, run,
                   tls_connect, wait_for, write_atomic)
from hotssltest import serial_of_der

ap = argparse.ArgumentParser()
ap.add_argument("--binary", required=True)
ap.add_argument("--pipe", action="store_true", help="hand the snapshot over through a pipe per backend")
args = ap.parse_args()

SLOW = 120.0  # a loaded 2-core machine under a sanitizer: be generous


def s_client_serial(port):
    """The serial of the certificate `openssl s_client` is served."""
    p = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost"],
            input="", timeout=SLOW)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)
    check(m is not None, "s_client got no certificate (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    return serial_of_der(ssl.PEM_cert_to_DER_cert(m.group(0)))


def py_serial(port):
    t = tls_connect(port, timeout=SLOW)
    try:
        check(echo(t, b"echo?"), "a new connection does not echo")
        return serial_of_der(peer_der(t))
    finally:
        t.close()


def start(d, *flags):
    argv = [args.binary] + list(flags) + (["--pipe"] if args.pipe else []) + [os.path.join(d, "hotssl.conf"), "0"]
    return Server(argv)


def stop(srv):
    rc = srv.stop(deadline=SLOW)
    check(rc == 0 and not srv.killed, "host exit %r\n%s" % (rc, srv.log()))
    ended = re.findall(r"backend \d+ exited (\d+)", srv.log())
    check(ended and all(x == "0" for x in ended),
          "a backend failed (exit codes %r):\n%s" % (ended, srv.log()))


def built(srv, gen):
    return srv.count("built from the host's snapshot (generation %d)" % gen)


def check_handoff(srv):
    """A live backend's argv names the inherited descriptors; the host's
    channel is a memfd (or nothing lasting, with --pipe)."""
    def backend_argv():
        for kid in children(srv.pid):
            try:
                with open("/proc/%d/cmdline" % kid, "rb") as f:
                    argv = f.read().split(b"\0")[:-1]
                if len(argv) != 4 or argv[1] != b"--backend":
                    continue
                fds = fd_links(kid)
            except OSError:
                continue  # ended meanwhile
            return argv, fds
        return None
    argv, fds = wait_for(backend_argv, "a live backend", deadline=SLOW)
    check(argv[2].isdigit() and argv[3].isdigit(), "backend argv does not name two descriptors: %r" % argv)
    conn, snap = int(argv[2]), int(argv[3])
    check(fds.get(conn, "").startswith("socket:"), "backend fd %d is not its connection: %r" % (conn, fds))
    check(snap not in fds, "backend kept its snapshot descriptor %d open: %r" % (snap, fds))
    memfds = [v for v in fd_links(srv.pid).values() if v.startswith("/memfd:hotssl-snapshot")]
    if args.pipe:
        check(not memfds, "--pipe host holds a memfd: %r" % memfds)
    else:
        check(len(memfds) == 1, "host does not hold exactly one snapshot memfd: %r" % fd_links(srv.pid))


def watch_case(d, pki):
    srv = start(d)
    try:
        srv.wait_err(r"watching: (?!off)", what="the watcher's backend line")
        check(s_client_serial(srv.port) == 0xA1, "s_client not served A")
        old = tls_connect(srv.port, timeout=SLOW)
        check(serial_of_der(peer_der(old)) == 0xA1 and echo(old), "first connection not served A")
        check_handoff(srv)
        srv.wait(lambda: built(srv, 1) >= 2, "backends built from generation 1", deadline=SLOW)
        pki.install("b")  # rename over, no signal: the watcher reloads
        wait_for(lambda: py_serial(srv.port) == 0xB2, "a new connection served B", deadline=SLOW,
                 interval=0.1, detail=srv.log)
        check(s_client_serial(srv.port) == 0xB2, "s_client not served B after the rotation")
        channel = "snapshot of generation 2 in a %s" % ("pipe" if args.pipe else "memfd")
        srv.wait(lambda: built(srv, 2) >= 2 and srv.count(channel) == 1 and
                 srv.count("reloaded (generation 2)") == 1,
                 "backends built from generation 2, one channel refresh, one reload line", deadline=SLOW)
        check(echo(old, b"still here"), "open connection broken by the rotation")
        check(serial_of_der(peer_der(old)) == 0xA1, "open connection changed certificate")
        check_handoff(srv)
        old.close()
    finally:
        stop(srv)


def sighup_case(d, pki):
    pki.install("b")
    srv = start(d, "--no-watch")
    try:
        srv.wait_err(r"watching: off", what="'watching: off'")
        check(s_client_serial(srv.port) == 0xB2, "s_client not served B")
        old = tls_connect(srv.port, timeout=SLOW)
        check(serial_of_der(peer_der(old)) == 0xB2 and echo(old), "first connection not served B")
        pki.install("c")
        check(py_serial(srv.port) == 0xB2, "files picked up without a signal under --no-watch")
        mark = srv.mark()
        srv.hup()
        srv.wait_err(r"reloaded \(generation 2\)", since=mark, what="the SIGHUP reload", deadline=SLOW)
        check(s_client_serial(srv.port) == 0xC3, "s_client not served C after SIGHUP")
        check(py_serial(srv.port) == 0xC3, "new connection not served C after SIGHUP")
        srv.wait(lambda: built(srv, 2) >= 2, "backends built from generation 2", deadline=SLOW)
        check(echo(old, b"still here") and serial_of_der(peer_der(old)) == 0xB2,
              "open connection broken by the SIGHUP reload")
        # D's certificate with C's key: refused, C keeps serving.
        write_atomic(pki.path("server.key"), read(pki.path("c.key")), 0o600)
        write_atomic(pki.path("server.crt"), read(pki.path("d.crt")), 0o644)
        mark = srv.mark()
        srv.hup()
        srv.wait_err(r"was not reloaded", since=mark, what="the refused reload", deadline=SLOW)
        check(s_client_serial(srv.port) == 0xC3, "s_client not served C after a refused reload")
        check(py_serial(srv.port) == 0xC3, "new connection not served C after a refused reload")
        check(built(srv, 3) == 0 and srv.count("has no TLS") == 0, "a backend got the refused pair:\n" + srv.log())
        check(echo(old, b"and still"), "open connection broken by the refused reload")
        check_handoff(srv)
        old.close()
    finally:
        stop(srv)


def hostile_case():
    """The backend alone, given bytes that are not a snapshot (a pipe of
    garbage; a memfd shorter than a snapshot): it has no TLS, says why,
    closes its connection and exits 1."""
    channels = [("pipe", os.pipe())]
    if hasattr(os, "memfd_create"):
        m = os.memfd_create("not-a-snapshot")
        channels.append(("memfd", (m, -1)))
    for name, (r, w) in channels:
        os.write(w if w >= 0 else r, b"\x00hostile" * 1000)
        if w >= 0:
            os.close(w)
        a, b = socket.socketpair()
        try:
            p = run([args.binary, "--backend", str(b.fileno()), str(r)], pass_fds=(b.fileno(), r), timeout=SLOW)
            b.close()
            check(p.returncode == 1 and "this backend has no TLS" in p.stderr,
                  "backend given garbage through a %s: exit %d\n%s" % (name, p.returncode, p.stderr))
            a.settimeout(SLOW)
            check(a.recv(1) == b"", "the failed backend left its connection open")
        finally:
            a.close()
            b.close()
            os.close(r)


def stalled_case():
    """The backend alone, on a pipe whose writer sent half a snapshot's
    worth and stopped while keeping its end open: the backend gives up at
    its deadline (30 s), says why and exits 1; it never hangs."""
    r, w = os.pipe()
    os.write(w, b"HTSN" + b"\x00" * 60)
    a, b = socket.socketpair()
    try:
        t0 = time.monotonic()
        p = run([args.binary, "--backend", str(b.fileno()), str(r)], pass_fds=(b.fileno(), r), timeout=SLOW + 60)
        took = time.monotonic() - t0
        print("stalled host: backend exited %d after %.1f s: %s" % (p.returncode, took, p.stderr.strip()))
        check(p.returncode == 1 and "no complete snapshot within 30000 ms" in p.stderr,
              "backend of a stalled host: exit %d\n%s" % (p.returncode, p.stderr))
        check(15 < took < 90, "the backend gave up after %.1f s, not at its 30 s deadline" % took)
    finally:
        for f in (r, w):
            os.close(f)
        a.close()
        b.close()


def go():
    shm_before = set(os.listdir("/dev/shm"))
    with TempDir("hotssl-platform-") as d:
        pki = Pki(d)
        for serial, name in ((0xA1, "a"), (0xB2, "b"), (0xC3, "c"), (0xD4, "d")):
            pki.server(serial, name)
        pki.install("a")
        with open(os.path.join(d, "hotssl.conf"), "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        files_before = set(os.listdir(d))
        watch_case(d, pki)
        sighup_case(d, pki)
        hostile_case()
        if args.pipe:
            stalled_case()
        new = set(os.listdir(d)) - files_before
        check(not new, "files appeared in the test folder: %r" % new)
    check(set(os.listdir("/dev/shm")) <= shm_before, "files appeared in /dev/shm")


main(go)
