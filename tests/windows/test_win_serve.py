"""hotssl.exe (the Windows build) under Wine, with Linux-side clients.

--case rotation: `hotssl.exe serve -c /abs/unix/path/tls.conf -p 0 --mode
    spawn` prints "listening on 127.0.0.1:PORT"; openssl s_client sees
    certificate A; the files are replaced (rename over, from the Linux side)
    and, with no signal or API call, s_client then sees certificate B (the
    watcher: ReadDirectoryChangesW). Python's ssl echoes through a backend.
--case isolation: --spawn-strategy reread --starttls-postgres: while the
    certificate is broken a new backend has no TLS (answers 'N' to the
    SSLRequest, logs why), a connection already open keeps echoing, the
    parent lives on, and the first backend after the fix serves.
--case example: examples/spawn_server_win32.c serves and picks up a
    rotation through its watcher.
--case host_exec: examples/host_exec_win32.c, a host that starts its own
    backends (CreateProcessW suspended, a handle list, the socket by
    WSADuplicateSocketW and the snapshot in an anonymous file mapping),
    linked with hotssl.dll: s_client is served A, then B after a rotation
    (the watcher reloads, the host takes a new snapshot); each backend says
    which generation it built from the host's bytes.
--case passphrase: an encrypted key (PKCS#8, AES-256-CBC, "secret1") whose
    ssl_passphrase_command runs through cmd.exe: a helper in a folder with a
    space in its name, quoted as docs/windows.md says, given the prompt by %p,
    prints the passphrase; s_client and a backend are served. A command
    printing a wrong passphrase stops the start with "wrong passphrase",
    naming the key file.
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "platform"))
from ptlib import Pki, Server, TempDir, check, echo, main, peer_der, tls_connect, wait_for  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--wine", required=True)
ap.add_argument("--hotssl", required=True)
ap.add_argument("--example", required=True)
ap.add_argument("--helper", help="winpass_helper.exe (--case passphrase)")
ap.add_argument("--host-exec", help="hotssl_example_host_exec_win32.exe (--case host_exec)")
ap.add_argument("--case", required=True)
args = ap.parse_args()


def s_client_serial(port):
    """The serial (hex, as openssl x509 -serial) openssl s_client is served."""
    sc = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost"],
                        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    x = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=sc.stdout, capture_output=True,
                       timeout=60)
    out = x.stdout.decode()
    return out.strip().split("=", 1)[1].upper() if out.startswith("serial=") else None


def conf(d, extra):
    path = os.path.join(d, "tls.conf")
    with open(path, "w") as f:
        f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" + extra)
    return path


def serve(argv):
    """Start a Windows program under Wine, from a folder on Wine's Z: drive
    (where a Unix absolute path means itself)."""
    return Server([args.wine] + argv, env=dict(os.environ, HOTSSL_WATCH_BACKEND="notify"))


def rotation_seen(srv, pki):
    check(s_client_serial(srv.port) == "A1", "s_client not served A")
    t = tls_connect(srv.port)
    check(peer_der(t) == pki.cert_der("a") and echo(t), "no echo through a backend")
    t.close()
    pki.install("b")
    wait_for(lambda: s_client_serial(srv.port) == "B2", "s_client served B after the rotation")
    check(srv.count("trigger: file change") >= 1, "no reload by the watcher:\n" + srv.log())


def rotation(d, pki):
    path = conf(d, "hotssl_watch = on\nhotssl_debounce_ms = 100\n")
    check(os.path.isabs(path) and path.startswith("/"), "not a Unix absolute path")
    srv = serve([args.hotssl, "serve", "-c", path, "-p", "0", "--mode", "spawn"])
    try:
        check(any(line.startswith("listening on 127.0.0.1:") for line in srv.out), "no listening line")
        srv.wait_err(r"watching .*\(ReadDirectoryChangesW;", what="the watcher's start line")
        rotation_seen(srv, pki)
    finally:
        srv.kill()


def isolation(d, pki):
    path = conf(d, "hotssl_watch = off\n")
    srv = serve([args.hotssl, "serve", "-c", path, "-p", "0", "--mode", "spawn", "--spawn-strategy", "reread",
                 "--starttls-postgres"])
    try:
        keep = tls_connect(srv.port, starttls=True)
        check(not isinstance(keep, bytes) and peer_der(keep) == pki.cert_der("a"), "first backend not served A")
        with open(pki.path("a.crt")) as f:
            half = f.read()[:100]
        with open(pki.path("server.crt.tmp"), "w") as f:
            f.write(half)
        os.rename(pki.path("server.crt.tmp"), pki.path("server.crt"))
        answer = tls_connect(srv.port, starttls=True)
        check(answer == b"N", "a backend started on the broken file answered %r, not 'N'" % (answer,))
        wait_for(lambda: srv.count("this backend has no TLS") == 1, "the failing backend's log line")
        check("could not load server certificate file" in srv.log(), "no reason logged:\n" + srv.log())
        check(echo(keep, b"still here"), "an open connection was hurt by another backend's failure")
        check(srv.proc.poll() is None, "the parent died")
        pki.install("a")
        t = tls_connect(srv.port, starttls=True)
        check(not isinstance(t, bytes) and peer_der(t) == pki.cert_der("a") and echo(t),
              "the first backend after the fix does not serve")
        t.close()
        keep.close()
    finally:
        srv.kill()


def example(d, pki):
    srv = serve([args.example, conf(d, "hotssl_debounce_ms = 100\n")])
    try:
        rotation_seen(srv, pki)
    finally:
        srv.kill()


def host_exec(d, pki):
    srv = serve([args.host_exec, conf(d, "hotssl_debounce_ms = 100\n")])
    try:
        rotation_seen(srv, pki)
        srv.wait_err(r"backend\[\d+\] LOG: built from the host's snapshot \(generation 2\)",
                     what="a backend built from generation 2's snapshot")
        check(srv.count("built from the host's snapshot (generation 1)") >= 1, "no backend of generation 1")
        check("ERROR" not in srv.log(), "an error was logged:\n" + srv.log())
    finally:
        srv.kill()


def win_path(p):
    """A Linux absolute path as Wine's Z: drive shows it."""
    return "Z:" + p.replace("/", "\\")


def conf_quoted(s):
    """s inside a quoted configuration value: \\ escapes, '' is '."""
    return s.replace("\\", "\\\\").replace("'", "''")


def passphrase(d, pki):
    hdir = os.path.join(d, "pass helper")
    os.mkdir(hdir)
    helper = shutil.copy(args.helper, hdir)
    pki.ossl("pkey", "-in", "a.key", "-aes-256-cbc", "-passout", "pass:secret1", "-out", "a-enc.key")
    pki.install("a")
    shutil.copy(pki.path("a-enc.key"), pki.path("server.key"))
    with open(pki.path("server.key")) as f:
        check("ENCRYPTED PRIVATE KEY" in f.read(), "the key is not encrypted")
    cmd = '"%s" prompt "%%p"' % win_path(helper)
    path = conf(d, "hotssl_watch = off\nssl_passphrase_command = '%s'\n" % conf_quoted(cmd))
    srv = serve([args.hotssl, "serve", "-c", path, "-p", "0", "--mode", "spawn"])
    try:
        check(s_client_serial(srv.port) == "A1", "s_client not served A (key through the passphrase command)")
        t = tls_connect(srv.port)
        check(peer_der(t) == pki.cert_der("a") and echo(t), "no echo through a backend")
        t.close()
    finally:
        srv.kill()
    path = conf(d, "hotssl_watch = off\nssl_passphrase_command = 'echo wrongpass'\n")
    p = subprocess.run([args.wine, args.hotssl, "serve", "-c", path, "-p", "0", "--mode", "spawn"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=120)
    print(p.stderr.strip())
    check(p.returncode != 0, "hotssl.exe started with a wrong passphrase")
    check("wrong passphrase" in p.stderr and 'server.key"' in p.stderr,
          "no 'wrong passphrase' naming the key file:\n" + p.stderr)


def go():
    with TempDir("hotssl-windows-") as d:
        pki = Pki(d)
        pki.server(0xA1, "a")
        pki.server(0xB2, "b")
        pki.install("a")
        os.chdir(d)
        {"rotation": rotation, "isolation": isolation, "example": example,
         "passphrase": passphrase, "host_exec": host_exec}[args.case](d, pki)


main(go)
