"""The example servers (examples/), driven by external clients.

prefork: 3 workers forked once; after a SIGHUP rotation every new connection
    (whichever worker accepts it) gets the new certificate through the
    per-accept check, an open connection keeps the old one and keeps
    echoing; ServerHello randoms and key shares never repeat across workers.
spawn: the same rotation and uniqueness checks with a process per connection.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import (Pki, Server, TempDir, check, echo, main, peer_der, server_hello_capture,
                   tls_connect, wait_for)

ap = argparse.ArgumentParser()
ap.add_argument("--example", required=True)
ap.add_argument("--binary", required=True)
args = ap.parse_args()


def go():
    with TempDir("hotssl-platform-") as d:
        pki = Pki(d)
        pki.server(0xA1, "a")
        pki.server(0xB2, "b")
        pki.install("a")
        conf = os.path.join(d, "hotssl.conf")
        with open(conf, "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        argv = [args.binary, conf] + (["3"] if args.example == "prefork" else [])
        srv = Server(argv)
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
        finally:
            rc = srv.stop()
        check(rc == 0, "example exit %r\n%s" % (rc, srv.log()))


main(go)
