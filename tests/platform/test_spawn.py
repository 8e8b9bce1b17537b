"""`hotssl serve --mode spawn`: failure isolation and passphrase-protected keys.

--case isolation-snapshot: after the parent's last good load, the certificate
    on disk is broken (and a SIGHUP reload of it fails): new backends built
    from the parent's snapshot keep working on the last good certificate.
--case isolation-reread: with --spawn-strategy reread a backend that starts
    while the file is broken has no TLS: it answers 'N' to the SSLRequest and
    logs why; the parent and a connection already open are unaffected; the
    first backend after the fix works.
--case passphrase: an encrypted key (PBES2) whose passphrase command counts
    its runs. Snapshot strategy: many backends serve, the command ran once
    (in the parent), no backend maps a file outside the system/binary, no
    file appears in /dev/shm or the test folder. Reread strategy with
    ssl_passphrase_command_supports_reload off: the backend has no TLS and
    says why (PostgreSQL's EXEC_BACKEND rule); with it on, the backend runs
    the command itself and serves.
--case crl: client certificates checked by backends built from the snapshot
    (the CRL set travels as the parent's revocation table; the backend never
    parses a CRL): with the root's CRL and the CRL of an intermediate that only
    clients send, good leaves of both are served (echo) and revoked ones
    refused; with the root's CRL alone every leaf of the intermediate is
    refused (CRL_CHECK_ALL fails closed), over a SIGHUP reload of the set.
--case static-backend: with hotssl-backend beside hotssl (the build's
    static spawn backend), the server logs that its backends run it, they
    serve real handshakes, a live backend's /proc/PID/exe is hotssl-backend,
    and `hotssl version` names it. With --static-backend OFF (the build made
    none: a sanitizer build, or no static archives) the case exits 77, which
    ctest reports as skipped.
--case static-backend-argv: hotssl-backend refuses a command line that is
    not `__backend HANDOFF [options]` with exit code 2, as `hotssl __backend`
    does (skipped as above without hotssl-backend).
--case self-fallback: a copy of hotssl alone in a folder (no hotssl-backend
    beside it) logs that its backends run this program, serves handshakes
    with backends whose /proc/PID/exe is the copy, and `hotssl version` says
    so.
"""
import argparse
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import (PROC_READABLE, Pki, Server, TempDir, check, children, echo, main, peer_der, run,
                   tls_connect, wait_for)
from hotssltest import client_context

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", required=True)
ap.add_argument("--case", required=True)
ap.add_argument("--static-backend", choices=("ON", "OFF"), default="OFF",
                help="whether the build made hotssl-backend (CMake's HOTSSL_CLI_STATIC_BACKEND)")
args = ap.parse_args()
SKIP = 77  # ctest's SKIP_RETURN_CODE for these cases


def static_backend_path():
    return os.path.join(os.path.dirname(os.path.realpath(args.hotssl)), "hotssl-backend")


def backend_programs():
    """The programs a backend may run: hotssl, or hotssl-backend beside it."""
    return {os.path.realpath(args.hotssl), os.path.realpath(static_backend_path())}


def need_static_backend():
    """hotssl-backend's path; exits SKIP when the build made none."""
    path = static_backend_path()
    if args.static_backend == "OFF":
        print("SKIP: this build has no hotssl-backend (sanitizer build or no static archives)")
        sys.exit(SKIP)
    check(os.access(path, os.X_OK), "the build made hotssl-backend but %s is missing" % path)
    return path


def conf(d, extra=""):
    with open(os.path.join(d, "hotssl.conf"), "w") as f:
        f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n" + extra)


def start(d, strategy, starttls=True):
    argv = [args.hotssl, "serve", "-c", os.path.join(d, "hotssl.conf"), "-p", "0", "--mode", "spawn",
            "--spawn-strategy", strategy]
    if starttls:
        argv.append("--starttls-postgres")
    return Server(argv + PROC_READABLE)  # the passphrase case reads a backend's /proc/PID/maps


def break_cert(pki):
    # A half-written certificate: the first 100 bytes of the PEM.
    with open(pki.path("a.crt")) as f:
        half = f.read()[:100]
    tmp = pki.path("server.crt.tmp")
    with open(tmp, "w") as f:
        f.write(half)
    os.rename(tmp, pki.path("server.crt"))


def isolation_snapshot(d, pki):
    pki.server(0xE5, "a")
    pki.install("a")
    conf(d)
    srv = start(d, "snapshot")
    try:
        t = tls_connect(srv.port, starttls=True)
        check(peer_der(t) == pki.cert_der("a"), "first backend not served A")
        t.close()
        break_cert(pki)
        srv.hup()
        wait_for(lambda: srv.count("was not reloaded") == 1, "failed reload log line")
        for i in range(5):
            t = tls_connect(srv.port, starttls=True)
            check(not isinstance(t, bytes), "backend %d refused TLS with a broken file on disk" % i)
            check(peer_der(t) == pki.cert_der("a"), "backend %d not served the last good certificate" % i)
            check(echo(t), "echo failed")
            t.close()
        check(srv.count("has no TLS") == 0, "a backend had no TLS:\n" + srv.log())
    finally:
        rc = srv.stop()
    check(rc == 0, "server exit %r" % rc)


def isolation_reread(d, pki):
    pki.server(0xF6, "a")
    pki.install("a")
    conf(d)
    srv = start(d, "reread")
    try:
        keep = tls_connect(srv.port, starttls=True)
        check(peer_der(keep) == pki.cert_der("a"), "first backend not served A")
        break_cert(pki)
        a = tls_connect(srv.port, starttls=True)
        check(a == b"N", "backend started while the file is broken answered %r, not 'N'" % (a,))
        wait_for(lambda: srv.count("this backend has no TLS") == 1, "backend error log line")
        text = srv.log()
        check("could not load server certificate file" in text and "server.crt" in text,
              "the log does not say why:\n" + text)
        check(echo(keep, b"still here"), "an open connection was affected by another backend's failure")
        pki.install("a")
        t = tls_connect(srv.port, starttls=True)
        check(not isinstance(t, bytes), "first backend after the fix has no TLS")
        check(peer_der(t) == pki.cert_der("a") and echo(t), "first backend after the fix does not serve")
        t.close()
        keep.close()
        check(srv.proc.poll() is None, "parent died")
    finally:
        rc = srv.stop()
    check(rc == 0, "server exit %r" % rc)


def encrypted_key(pki):
    pki.server(0x77, "a")
    run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", pki.path("a.key"),
         "-out", pki.path("a.enc"), "-passout", "pass:s3cret"], check=True)
    os.replace(pki.path("a.enc"), pki.path("a.key"))
    os.chmod(pki.path("a.key"), 0o600)
    pki.install("a")
    with open(pki.path("a.key")) as f:
        check("ENCRYPTED" in f.read(), "key not encrypted")
    cmd = pki.path("pass.sh")
    with open(cmd, "w") as f:
        f.write('#!/bin/sh\necho run >> "%s"\necho s3cret\n' % pki.path("runs"))
    os.chmod(cmd, 0o755)
    return cmd


def runs(pki):
    try:
        with open(pki.path("runs")) as f:
            return len(f.read().split())
    except FileNotFoundError:
        return 0


def passphrase(d, pki):
    cmd = encrypted_key(pki)
    before_shm = set(os.listdir("/dev/shm"))
    before_dir = set(os.listdir(d))
    conf(d, "ssl_passphrase_command = '%s'\n" % cmd)
    srv = start(d, "snapshot")
    try:
        check(runs(pki) == 1, "passphrase command did not run once at start")
        for i in range(5):
            t = tls_connect(srv.port, starttls=True)
            check(not isinstance(t, bytes), "backend %d has no TLS with an encrypted key" % i)
            check(peer_der(t) == pki.cert_der("a") and echo(t), "backend %d does not serve" % i)
            if i == 0:
                kids = wait_for(lambda: children(srv.pid), "a live backend")
                with open("/proc/%d/maps" % kids[0]) as f:
                    maps = f.read()
                files = {l.split(None, 5)[5] for l in maps.splitlines() if len(l.split(None, 5)) == 6}
                # The parent's generation-change counter (one read-only page
                # holding a generation number, no secret) is the only memfd
                # a backend may map.
                files.discard("/memfd:hotssl-generation (deleted)")
                # ThreadSanitizer's runtime maps a deleted file of its own
                # (/tmp/tsan.rodata.PID): a sanitizer artifact, not ours.
                bad = [p for p in files if p.startswith("/") and not p.startswith(("/usr/", "/lib", "/etc/"))
                       and not p.startswith("/tmp/tsan.rodata.")
                       # shared libraries the binary links (a private mbedTLS prefix)
                       and not re.search(r"/lib[^/]+\.so[.0-9]*$", p)
                       # the backend's program: hotssl, or hotssl-backend beside it
                       and os.path.realpath(p) not in backend_programs()]
                check(not bad, "backend maps files: %r" % bad)
                check(not any("memfd" in p or "/dev/shm" in p for p in files), "backend has a shm file mapping")
            t.close()
        check(runs(pki) == 1, "backends ran the passphrase command (%d runs)" % runs(pki))
        check(set(os.listdir("/dev/shm")) <= before_shm, "files appeared in /dev/shm")
        new_files = set(os.listdir(d)) - before_dir - {"hotssl.conf", "server.log", "runs"}
        check(not new_files, "files appeared in the folder: %r" % new_files)
    finally:
        srv.stop()

    # Re-read strategy: PostgreSQL's EXEC_BACKEND rule.
    srv = start(d, "reread")
    try:
        a = tls_connect(srv.port, starttls=True)
        check(a == b"N", "reread backend without supports_reload answered %r" % (a,))
        wait_for(lambda: srv.count("this backend has no TLS") == 1, "backend error")
        check("ssl_passphrase_command_supports_reload is off" in srv.log(), "no reason:\n" + srv.log())
    finally:
        srv.stop()
    conf(d, "ssl_passphrase_command = '%s'\nssl_passphrase_command_supports_reload = on\n" % cmd)
    n0 = runs(pki)
    srv = start(d, "reread")
    try:
        t = tls_connect(srv.port, starttls=True)
        check(not isinstance(t, bytes) and peer_der(t) == pki.cert_der("a") and echo(t),
              "reread backend with supports_reload does not serve")
        t.close()
        check(runs(pki) == n0 + 2, "expected the parent and the backend to run the command (%d)" % (runs(pki) - n0))
    finally:
        srv.stop()


def intermediate(pki, name, cn):
    """A CA signed by the Pki's root (not written into any CA file)."""
    key = pki.genkey(name)
    pki.ossl("req", "-new", "-key", key, "-out", pki.path(name + ".csr"), "-subj", "/CN=" + cn,
             "-config", pki.cnf)
    pki.ossl("x509", "-req", "-in", pki.path(name + ".csr"), "-CA", pki.ca_pair[0], "-CAkey",
             pki.ca_pair[1], "-set_serial", "77", "-days", "3650", "-out", pki.path(name + ".crt"),
             "-extfile", pki.cnf, "-extensions", "v3_ca")
    cadir = pki.path(name + ".db")
    os.makedirs(cadir, exist_ok=True)
    for f, v in (("index.txt", ""), ("serial", "1000\n"), ("crlnumber", "1000\n")):
        with open(os.path.join(cadir, f), "w") as fh:
            fh.write(v)
    return pki.path(name + ".crt"), key


def client_ok(port, pki, name, chain=None):
    """True if a backend accepts the client certificate name.crt (+ chain)
    and echoes; False if the handshake or the echo fails."""
    cert = pki.path(name + ".crt")
    if chain:
        cert = pki.path(name + "-chain.pem")
        with open(cert, "w") as f:
            f.write(open(pki.path(name + ".crt")).read() + open(chain).read())
    ctx = client_context(cert=cert, key=pki.path(name + ".key"))
    try:
        t = tls_connect(port, ctx, starttls=True)
    except (OSError, ValueError):
        return False
    try:
        return not isinstance(t, bytes) and echo(t)
    except (OSError, ValueError):
        return False
    finally:
        if not isinstance(t, bytes):
            t.close()


def crl(d, pki):
    root = pki.ca_pair
    inter = intermediate(pki, "inter", "Inter CA")
    pki.server(0xE5, "a")
    pki.install("a")
    pki.leaf("good", root, 0x51)
    pki.leaf("bad", root, 0x52)
    pki.leaf("igood", inter, 0x61)
    pki.leaf("ibad", inter, 0x62)
    rcrl = open(pki.crl("root", root, revoke=[pki.path("bad.crt")])).read()
    icrl = open(pki.crl("inter", inter, revoke=[pki.path("ibad.crt")])).read()
    with open(pki.path("set.crl"), "w") as f:
        f.write(rcrl + icrl)
    conf(d, "ssl_ca_file = 'ca.crt'\nssl_crl_file = 'set.crl'\nssl_client_cert = require\n")
    srv = start(d, "snapshot")
    try:
        for name, chain, want in (("good", None, True), ("bad", None, False),
                                  ("igood", inter[0], True), ("ibad", inter[0], False),
                                  ("igood", inter[0], True)):
            got = client_ok(srv.port, pki, name, chain)
            check(got == want, "client %s: %s, expected %s\n%s" % (
                name, "accepted" if got else "refused", "accepted" if want else "refused", srv.log()))
        # Only the root's CRL: the intermediate's leaves have no CRL of their
        # issuer, so both are refused; the root's leaves keep their verdicts.
        with open(pki.path("set.crl.tmp"), "w") as f:
            f.write(rcrl)
        os.rename(pki.path("set.crl.tmp"), pki.path("set.crl"))
        srv.hup()
        # The parent's line: a backend whose client-certificate session is
        # still open when the counter moves re-reads the files too (live
        # revocation, cli/serve_revoke.c) and logs its own "trigger: API call".
        wait_for(lambda: srv.count("configuration reloaded (generation 2); trigger: signal") == 1,
                 "the parent's reload log line", detail=srv.log)
        for name, chain, want in (("good", None, True), ("bad", None, False),
                                  ("igood", inter[0], False), ("ibad", inter[0], False)):
            got = client_ok(srv.port, pki, name, chain)
            check(got == want, "after reload, client %s: %s, expected %s\n%s" % (
                name, "accepted" if got else "refused", "accepted" if want else "refused", srv.log()))
        check(srv.count("has no TLS") == 0, "a backend had no TLS:\n" + srv.log())
    finally:
        rc = srv.stop()
    check(rc == 0, "server exit %r" % rc)


def serve_with(d, pki, hotssl, program, note):
    """hotssl serve --mode spawn from the executable hotssl: the log names
    program (with note), three backends serve handshakes, and the backend
    of an open connection runs program (/proc/PID/exe)."""
    pki.server(0x5B, "a")
    pki.install("a")
    conf(d)
    srv = Server([hotssl, "serve", "-c", os.path.join(d, "hotssl.conf"), "-p", "0", "--mode", "spawn"]
                 + PROC_READABLE)
    try:
        want = "spawned backends run %s (%s)" % (program, note)
        wait_for(lambda: srv.count(want) == 1, "the log line '%s'" % want)
        for i in range(3):
            t = tls_connect(srv.port)
            check(not isinstance(t, bytes), "backend %d refused TLS: %r\n%s" % (i, t, srv.log()))
            check(peer_der(t) == pki.cert_der("a") and echo(t), "backend %d does not serve" % i)
            if i == 0:  # the backend lives as long as its connection
                kids = wait_for(lambda: children(srv.pid), "a live backend")
                exe = os.readlink("/proc/%d/exe" % kids[0])
                check(exe == program, "the backend runs %s, not %s" % (exe, program))
            t.close()
        check(srv.count("has no TLS") == 0, "a backend had no TLS:\n" + srv.log())
    finally:
        rc = srv.stop()
    check(rc == 0, "server exit %r" % rc)


def version_line(hotssl):
    out = run([hotssl, "version"], check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("spawn backend: ")]
    check(len(lines) == 1, "hotssl version: no single 'spawn backend:' line:\n" + out)
    return lines[0]


def static_backend(d, pki):
    path = need_static_backend()
    serve_with(d, pki, args.hotssl, path, "statically linked")
    line = version_line(args.hotssl)
    check(line == "spawn backend: %s (statically linked)" % path, "hotssl version says %r" % line)


def static_backend_argv(d, pki):
    path = need_static_backend()
    for argv in ([], ["__backend"], ["serve"], ["__backend", "x", "--no-such-option"],
                 ["__backend", "x", "--handshake-timeout"]):
        for prog in (path, args.hotssl):
            if prog == args.hotssl and argv[:1] != ["__backend"]:
                continue  # hotssl's other subcommands are its own
            p = run([prog] + argv)
            check(p.returncode == 2, "%s %s exited %r, expected 2 (usage)" % (
                os.path.basename(prog), " ".join(argv), p.returncode))


def self_fallback(d, pki):
    alone = os.path.join(d, "bin")
    os.mkdir(alone)
    copy = os.path.join(alone, "hotssl")
    shutil.copy2(os.path.realpath(args.hotssl), copy)
    serve_with(d, pki, copy, copy, "this program")
    line = version_line(copy)
    want = ("spawn backend: this program (no hotssl-backend beside it)" if args.static_backend == "ON"
            else "spawn backend: this program (no static backend built)")
    check(line == want, "hotssl version of the copy says %r, expected %r" % (line, want))


def go():
    with TempDir("hotssl-platform-") as d:
        pki = Pki(d)
        {"isolation-snapshot": isolation_snapshot, "isolation-reread": isolation_reread,
         "passphrase": passphrase, "crl": crl, "static-backend": static_backend,
         "static-backend-argv": static_backend_argv, "self-fallback": self_fallback}[args.case](d, pki)


main(go)
