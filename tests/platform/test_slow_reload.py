"""`hotssl serve --mode thread|fork|spawn`: a reload in progress never stops
new connections.

The key is encrypted and ssl_passphrase_command_supports_reload is on, so a
reload runs the passphrase command. The command is a gate: once armed, it
says it is running (a file appears) and then waits until the test releases
it. With the reload held inside the command by that condition (no timing),
five new connections must complete their handshake and echo, served the old
certificate; only then is the gate released, and the next connection gets the
new certificate. Were thread mode to run the reload in its accept loop, or
fork/spawn to take the lock a reload holds, these handshakes would hang until
the gate opened, which this test never does first.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import Pki, Server, TempDir, check, echo, main, peer_der, run, tls_connect, wait_for

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", required=True)
ap.add_argument("--mode", required=True)
args = ap.parse_args()

GATE = r"""#!/bin/sh
# Passphrase command with a gate the test controls.
if [ -e "{d}/armed" ]; then
  : > "{d}/blocked"
  n=0
  while [ ! -e "{d}/release" ] && [ $n -lt 30000 ]; do sleep 0.01; n=$((n+1)); done
fi
echo s3cret
"""


def encrypt(pki, prefix):
    run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", pki.path(prefix + ".key"),
         "-out", pki.path(prefix + ".enc"), "-passout", "pass:s3cret"], check=True)
    os.replace(pki.path(prefix + ".enc"), pki.path(prefix + ".key"))
    os.chmod(pki.path(prefix + ".key"), 0o600)


def go():
    with TempDir("hotssl-slow-reload-") as d:
        pki = Pki(d)
        for serial, prefix in ((0xA1, "a"), (0xB2, "b")):
            pki.server(serial, prefix)
            encrypt(pki, prefix)
        pki.install("a")
        cmd = os.path.join(d, "gate.sh")
        with open(cmd, "w") as f:
            f.write(GATE.format(d=d))
        os.chmod(cmd, 0o755)
        with open(os.path.join(d, "hotssl.conf"), "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n"
                    "ssl_passphrase_command = '%s'\nssl_passphrase_command_supports_reload = on\n" % cmd)
        srv = Server([args.hotssl, "serve", "-c", os.path.join(d, "hotssl.conf"), "-p", "0",
                      "--mode", args.mode])
        try:
            t = tls_connect(srv.port)
            check(peer_der(t) == pki.cert_der("a") and echo(t), "start: certificate A not served")
            t.close()
            open(os.path.join(d, "armed"), "w").close()
            pki.install("b")
            srv.hup()
            wait_for(lambda: os.path.exists(os.path.join(d, "blocked")),
                     "the reload to enter the passphrase command")
            for i in range(5):
                t = tls_connect(srv.port)
                check(peer_der(t) == pki.cert_der("a"),
                      "connection %d during the reload was not served certificate A" % i)
                check(echo(t, b"during reload %d" % i), "echo %d during the reload failed" % i)
                t.close()
            check(srv.count("reloaded (generation 2)") == 0, "the reload finished before its gate opened")
            open(os.path.join(d, "release"), "w").close()
            wait_for(lambda: srv.count("reloaded (generation 2)") == 1, "the reload to finish")
            t = tls_connect(srv.port)
            check(peer_der(t) == pki.cert_der("b") and echo(t), "after the reload: certificate B not served")
            t.close()
        finally:
            open(os.path.join(d, "release"), "w").close()
            srv.stop()


main(go)
