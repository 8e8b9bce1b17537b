"""`hotssl serve --mode fork|spawn` end to end, with external clients.

--case rotation:    an open connection keeps its old certificate (echo works,
                    peer serial is the old one) after a SIGHUP rotation while
                    new connections get the new one.
--case rng:         200 connections, each served by a different forked child
                    or spawned backend: no ServerHello random and no ECDHE
                    key share ever repeats.
--case descriptors: a live child/backend holds stdio and its connection only:
                    not the listening socket, not the manager's wake-up pipe,
                    no inotify descriptor, no other pipe of the parent.
--case dumpable:    (also --mode thread) the server, and each live child or
                    backend, is not dumpable (no core dump, no ptrace by its
                    user: PR_SET_DUMPABLE 0); with --allow-core-dumps all are.
                    Seen from outside: the kernel gives /proc/PID/* to root
                    while a process is not dumpable, to its user while it is;
                    the server runs as an unprivileged user (nobody, through
                    setpriv, when the test runs as root) so the two differ.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import (PROC_READABLE, Fail, Pki, Server, TempDir, check, children, echo, fd_links, listening_inodes,
                   main, peer_der, server_hello_capture, tls_connect, wait_for)
import hotssltest as H  # noqa: E402  (ptlib put tests/pylib on sys.path)

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", required=True)
ap.add_argument("--mode", required=True)
ap.add_argument("--case", required=True)
ap.add_argument("--count", type=int, default=200)
ap.add_argument("--tls", default="1.2", choices=("1.2", "1.3"),
                help="rng: the ClientHello's version (1.3: key shares from PSA's RNG on mbedTLS 3.6)")
args = ap.parse_args()


def start(d, extra=(), watch="off"):
    with open(os.path.join(d, "hotssl.conf"), "w") as f:
        f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = %s\n" % watch)
    return Server([args.hotssl, "serve", "-c", os.path.join(d, "hotssl.conf"), "-p", "0",
                   "--mode", args.mode] + list(extra))


def rotation(d, pki):
    pki.server(0xA1, "a")
    pki.server(0xB2, "b")
    pki.install("a")
    srv = start(d)
    try:
        old = tls_connect(srv.port)
        # Python's default client: TLS 1.3 when the build has it (mbedTLS 3.6).
        want = "TLSv1.3" if H.mbedtls_of(args.hotssl)["tls13"] else "TLSv1.2"
        check(old.version() == want, "negotiated %s, expected %s" % (old.version(), want))
        check(peer_der(old) == pki.cert_der("a"), "first connection not served certificate A")
        check(echo(old, b"before"), "echo before rotation failed")
        pki.install("b")
        srv.hup()
        wait_for(lambda: srv.count("reloaded (generation 2)") == 1, "reload log line")
        new = tls_connect(srv.port)
        check(peer_der(new) == pki.cert_der("b"), "new connection after rotation not served certificate B")
        check(echo(new, b"new"), "echo on new connection failed")
        # The open connection: same session, old certificate, still echoing.
        check(echo(old, b"after rotation"), "open connection stopped working after rotation")
        check(peer_der(old) == pki.cert_der("a"), "open connection's certificate changed")
        old.close()
        new.close()
        # And again: a third generation reaches the next connection.
        pki.install("a")
        srv.hup()
        wait_for(lambda: srv.count("reloaded (generation 3)") == 1, "second reload")
        t = tls_connect(srv.port)
        check(peer_der(t) == pki.cert_der("a"), "third generation not served")
        t.close()
    finally:
        rc = srv.stop()
    check(rc == 0, "server exit code %r\n%s" % (rc, srv.log()))


def rng(d, pki):
    pki.server(0xC3, "a")
    pki.install("a")
    tls13 = args.tls == "1.3"
    srv = start(d)
    try:
        if tls13 and not H.mbedtls_of(args.hotssl)["tls13"]:
            # mbedTLS 2.28: no TLS 1.3; a TLS 1.3-only ClientHello is refused.
            try:
                server_hello_capture(srv.port, tls13=True)
            except Fail as e:
                print("mbedTLS without TLS 1.3: TLS 1.3-only ClientHello refused (%s)" % e)
                return
            raise Fail("a TLS 1.3-only ClientHello got a ServerHello from an mbedTLS without TLS 1.3")
        randoms, tails, shares = set(), set(), set()
        for i in range(args.count):
            r, s = server_hello_capture(srv.port, tls13=tls13)
            check(r is not None and len(r) == 32, "no ServerHello random")
            check(s is not None and len(s) >= 32, "no ECDHE key share")
            check(r not in randoms and r[4:] not in tails, "ServerHello random repeated at connection %d" % i)
            check(s not in shares, "ECDHE key share repeated at connection %d" % i)
            randoms.add(r)
            tails.add(r[4:])
            shares.add(s)
        print("TLS %s, %d connections: %d distinct randoms, %d distinct key shares" %
              (args.tls, args.count, len(randoms), len(shares)))
    finally:
        srv.stop()


def descriptors(d, pki):
    pki.server(0xD4, "a")
    pki.install("a")
    # With the watcher on when this build has one (its descriptors must not
    # reach children either).
    srv = start(d, extra=PROC_READABLE, watch="on")
    try:
        listen = listening_inodes(srv.port)
        check(listen, "cannot find the listening socket in /proc/net/tcp")
        parent = fd_links(srv.pid)
        check(any(v in listen for v in parent.values()), "parent does not hold the listening socket?")
        # The check on the child below is only meaningful if the parent watches.
        check(any("inotify" in v for v in parent.values()), "parent holds no inotify descriptor: watcher off?")
        parent_pipes = {v for k, v in parent.items() if v.startswith("pipe:") and k > 2}
        t = tls_connect(srv.port)
        check(echo(t), "echo failed")
        kids = wait_for(lambda: children(srv.pid), "a live child")
        check(len(kids) == 1, "expected one child, got %r" % kids)
        fds = fd_links(kids[0])
        extra = {k: v for k, v in fds.items() if k > 2}
        print("child %d fds: %r" % (kids[0], fds))
        check(not any(v in listen for v in fds.values()), "child holds the listening socket")
        check(not any("inotify" in v for v in fds.values()), "child holds an inotify descriptor")
        check(not (parent_pipes & set(extra.values())),
              "child holds a pipe of the parent (wake-up or signal pipe): %r" % (parent_pipes & set(extra.values())))
        # Its connection, plus at most what the child opened itself (a
        # spawned backend's own manager has its own wake-up pipe).
        socks = [v for v in extra.values() if v.startswith("socket:")]
        check(len(socks) == 1, "child holds other sockets than its connection: %r" % extra)
        check(all(v.startswith("socket:") or v.startswith("pipe:") for v in extra.values()),
              "child holds unexpected descriptors: %r" % extra)
        t.close()
        wait_for(lambda: not children(srv.pid), "child exit")
    finally:
        srv.stop()


def dumpable(d, pki):
    pki.server(0xE5, "a")
    pki.install("a")
    conf = os.path.join(d, "hotssl.conf")
    with open(conf, "w") as f:
        f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n")
    prefix, uid = [], os.geteuid()
    if uid == 0:
        uid = 65534
        prefix = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--"]
        os.chmod(d, 0o755)
        os.chown(pki.path("server.key"), uid, uid)  # PostgreSQL's rule: the server's own, 0600
    owner = lambda pid: os.stat("/proc/%d/status" % pid).st_uid  # noqa: E731
    for allow in (False, True):
        want = uid if allow else 0
        srv = Server(prefix + [args.hotssl, "serve", "-c", conf, "-p", "0", "--mode", args.mode]
                     + (["--allow-core-dumps"] if allow else []))
        try:
            check(owner(srv.pid) == want, "%s: /proc/%d/status belongs to uid %d, expected %d"
                  % ("--allow-core-dumps" if allow else "default", srv.pid, owner(srv.pid), want))
            t = tls_connect(srv.port)
            check(echo(t), "echo failed")
            if args.mode != "thread":
                kids = wait_for(lambda: children(srv.pid), "a live child")
                for k in kids:
                    check(owner(k) == want, "%s: child %d's /proc/PID/status belongs to uid %d, expected %d"
                          % ("--allow-core-dumps" if allow else "default", k, owner(k), want))
                print("%s: server and %d child(ren) owned by uid %d in /proc"
                      % ("--allow-core-dumps" if allow else "default", len(kids), want))
            t.close()
        finally:
            srv.stop()


def run():
    with TempDir("hotssl-platform-") as d:
        pki = Pki(d)
        {"rotation": rotation, "rng": rng, "descriptors": descriptors,
         "dumpable": dumpable}[args.case](d, pki)


main(run)
