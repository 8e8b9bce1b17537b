"""The example servers (examples/), driven by external clients.

prefork: 3 workers forked once; after a SIGHUP rotation every new connection
    (whichever worker accepts it) gets the new certificate through the
    per-accept check, an open connection keeps the old one and keeps
    echoing; ServerHello randoms and key shares never repeat across workers.
spawn: the same rotation and uniqueness checks with a process per connection.
Both, then: with EXAMPLE_HANDSHAKE_TIMEOUT=2, an idle connection and one
that sent half a ClientHello are closed by the deadline (prefork: the
non-blocking poll loop; spawn: the blocking read with the time left, as
docs/embedding.md shows), and a normal client is served after them; the
code blocks of that page's deadline section are the examples' code, verbatim.
"""
import argparse
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import (Pki, Server, TempDir, check, echo, main, peer_der, server_hello_capture,
                   tls_connect, wait_for)

ap = argparse.ArgumentParser()
ap.add_argument("--example", required=True)
ap.add_argument("--binary", required=True)
args = ap.parse_args()


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)


def doc_matches_code():
    with open(os.path.join(ROOT, "docs", "embedding.md")) as f:
        doc = f.read()
    with open(os.path.join(ROOT, "examples", "example_common.c")) as f:
        src = f.read()
    section = doc[doc.index("## A deadline on the handshake"):]
    section = section[:section.index("\n## ")]
    blocks = re.findall(r"```c\n(.*?)```", section, re.S)
    check(len(blocks) == 2, "docs/embedding.md's deadline section has %d c blocks, not 2" % len(blocks))
    for b in blocks:
        check(b.strip() in src, "docs/embedding.md's deadline code is not examples/example_common.c's:\n" + b)


def go():
    doc_matches_code()
    with TempDir("hotssl-platform-") as d:
        pki = Pki(d)
        pki.server(0xA1, "a")
        pki.server(0xB2, "b")
        pki.install("a")
        conf = os.path.join(d, "hotssl.conf")
        with open(conf, "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        argv = [args.binary, conf] + (["3"] if args.example == "prefork" else [])
        srv = Server(argv, env=dict(os.environ, EXAMPLE_HANDSHAKE_TIMEOUT="2"))
        try:
            old = tls_connect(srv.port)
            check(peer_der(old) == pki.cert_der("a") and echo(old), "first connection not served A")
            seen = set()
            for i in range(100):
                r, s = server_hello_capture(srv.port)
                check(r not in seen and s not in seen, "random or key share repeated at %d" % i)
                seen.add(r)
                seen.add(s)
            pki.install("b")
            srv.hup()
            wait_for(lambda: srv.count("reloaded (generation 2)") == 1, "parent reload")

            def new_is_b():
                t = tls_connect(srv.port)
                ok = peer_der(t) == pki.cert_der("b")
                t.close()
                return ok
            wait_for(new_is_b, "a new connection served B")
            for i in range(20):
                check(new_is_b(), "connection %d after the rotation not served B" % i)
            check(echo(old, b"still"), "open connection broken by the rotation")
            check(peer_der(old) == pki.cert_der("a"), "open connection changed certificate")
            old.close()
            slow = [socket.create_connection(("127.0.0.1", srv.port), timeout=40) for _ in range(2)]
            slow[1].sendall(bytes.fromhex("160301020001"))  # half a ClientHello
            t0 = time.monotonic()
            for s in slow:
                check(s.recv(100) == b"", "a slow connection got data instead of a close")
            took = time.monotonic() - t0
            check(took > 1.0, "slow connections closed after %.1f s, before the 2 s deadline" % took)
            wait_for(lambda: srv.count("no TLS handshake by the deadline") == 2, "two deadline log lines")
            check(echo(tls_connect(srv.port), b"after the slow ones"), "no echo after the slow connections")
            for s in slow:
                s.close()
        finally:
            rc = srv.stop()
        check(rc == 0, "example exit %r\n%s" % (rc, srv.log()))


main(go)
