"""`hotssl serve --mode thread|fork|spawn` under slow and flooding clients.

Four cases, each against its own server:
  deadline   100 idle and 50 half-sent connections (part of a ClientHello)
             are all closed by --handshake-timeout 3, and each one is logged;
             in fork and spawn mode their processes exit;
  garbage    20 connections that send garbage instead of a ClientHello (an
             HTTP request, random bytes, a TLS record header that promises
             more than it sends, an SSLv2-style hello) each get an alert or a
             close, none a wait past the deadline;
  starttls   with --starttls-postgres, a client that sends nothing and one
             that sends half an SSLRequest are closed by the deadline;
  limit      with --max-connections 5 and 5 idle clients, a sixth is closed
             at once with "sorry, too many clients already", and a normal
             client (Python ssl, a real handshake and echo) is served once
             one of the five leaves;
  emfile     under RLIMIT_NOFILE 256 (set with resource.setrlimit in the
             server's process before it execs), 300 connections: the server
             logs the limit it meets (thread mode: the descriptor limit,
             with --max-connections 1000; fork and spawn: max_connections,
             since their parent keeps no descriptor per connection), uses
             under 25% of a core (utime+stime of the server process, the
             parent in fork and spawn mode, from /proc/PID/stat) over 5 s
             of the flood, and serves a normal client once the flood ends.
Waits are on conditions with generous deadlines; CPU is process time, not
wall time, so a loaded machine does not make it fail.
"""
import argparse
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptlib import Fail, Pki, Server, TempDir, check, echo, main, tls_connect, wait_for  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", required=True)
ap.add_argument("--mode", required=True)
ap.add_argument("--strategy", help="spawn mode's --spawn-strategy (default: the server's)")
ap.add_argument("--case", action="append", help="run only these cases")
args = ap.parse_args()

TIMEOUT = 3          # --handshake-timeout in the deadline and garbage cases
SLACK = 30           # how late past the deadline a close may come on a loaded machine
CPU_WINDOW = 5.0     # seconds of flood over which the server's CPU is measured
TIMEOUT_LINE = "canceling authentication due to timeout"
LIMIT_LINE = "sorry, too many clients already"
EMFILE_LINE = "could not accept new connection: Too many open files"
TICK = os.sysconf("SC_CLK_TCK")


def raise_own_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 4096):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))


def start(d, *extra, nofile=None):
    argv = [args.hotssl, "serve", "-c", os.path.join(d, "hotssl.conf"), "-p", "0", "--mode", args.mode]
    if args.strategy:
        argv += ["--spawn-strategy", args.strategy]
    argv += list(extra)
    if nofile is not None:
        # The limit is set in the process that then becomes the server (exec
        # keeps the PID), as preexec_fn would.
        argv = [sys.executable, "-c",
                "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
                "os.execv(sys.argv[1], sys.argv[1:])" % (nofile, nofile)] + argv
    return Server(argv)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def children(pid):
    """PIDs whose parent is pid (the server's backends)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def connect_all(port, n):
    """n connected sockets, made without waiting on each other."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def send_when_connected(s, data):
    """Send data (a few bytes) on a non-blocking socket once its connect is done."""
    def attempt():
        try:
            return s.send(data) == len(data)
        except (BlockingIOError, InterruptedError):
            return False
    wait_for(attempt, "a connection to complete")


def wait_all_closed(socks, deadline, what, t0=None):
    """Wait until every socket reads an end (EOF or reset), or data that is
    a TLS alert (content type 21). Returns {socket: seconds from t0 (default:
    now) until then}."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    t0 = time.monotonic() if t0 is None else t0
    done = {}
    while len(done) < len(socks):
        left = t0 + deadline - time.monotonic()
        if left <= 0:
            raise Fail("%s: %d of %d connections still open after %.0f s"
                       % (what, len(socks) - len(done), len(socks), deadline))
        for key, _ in sel.select(timeout=min(left, 1.0)):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data and data[0] != 21:
                continue  # a ServerHello or the like: the server still waits for us
            done[s] = time.monotonic() - t0
            sel.unregister(s)
    sel.close()
    return done


def normal_client(port, what):
    """A real handshake and echo, retried until it works (the slot or the
    descriptors free up asynchronously)."""
    last = []

    def attempt():
        try:
            t = tls_connect(port, timeout=20)
            try:
                return echo(t, b"hello after the flood")
            finally:
                t.close()
        except OSError as e:
            last[:] = [repr(e)]
            return False
    wait_for(attempt, what, detail=lambda: "last error: %s" % (last or ["none"])[0])


def make_conf(d):
    pki = Pki(d)
    pki.server(0x51, "srv")
    pki.install("srv")
    with open(os.path.join(d, "hotssl.conf"), "w") as f:
        f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n")


def case_deadline(d):
    with start(d, "--handshake-timeout", str(TIMEOUT), "--max-connections", "400") as srv:
        t0 = time.monotonic()  # no connection is accepted before this: none may close before t0 + TIMEOUT
        idle = connect_all(srv.port, 100)
        half = connect_all(srv.port, 50)
        hello = bytes.fromhex("160301020001")  # a record header and the first byte of a ClientHello
        for s in half:
            send_when_connected(s, hello)
        closed = wait_all_closed(idle + half, TIMEOUT + SLACK, "idle and half-sent", t0)
        early = [t for t in closed.values() if t < TIMEOUT - 0.1]
        check(not early, "%d connections closed before the deadline" % len(early))
        srv.wait(lambda: srv.count(TIMEOUT_LINE) >= 150, "150 lines %r" % TIMEOUT_LINE)
        if args.mode != "thread":
            wait_for(lambda: not children(srv.pid), "the backends of the closed connections to exit",
                     detail=lambda: "left: %r" % children(srv.pid))
        print("deadline: 150 connections closed %.1f-%.1f s after the first connect (timeout %d s); %d log lines"
              % (min(closed.values()), max(closed.values()), TIMEOUT, srv.count(TIMEOUT_LINE)))
        for s in idle + half:
            s.close()
        normal_client(srv.port, "a normal client after the deadline case")
        check(srv.stop() == 0 and not srv.killed, "the server did not stop cleanly:\n" + srv.log())


def garbage_payloads():
    out = [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"\x00" * 64, b"\xff" * 300,
           bytes.fromhex("16030140ff") + b"\x01\x00\x3f\xfb",   # promises 16 KB, sends 4 bytes
           bytes.fromhex("8080010301005700000020"),              # SSLv2-style hello head
           bytes.fromhex("1503030002"),                           # an alert header, no body
           bytes.fromhex("170303000a") + b"0123456789",          # application data first
           b"\r\n" * 10, b"SSH-2.0-OpenSSH_9.6\r\n", bytes.fromhex("1603010005") + b"\x01\x00\x00\x01\x00"]
    while len(out) < 20:
        out.append(os.urandom(1 + len(out) * 37))
    return out


def case_garbage(d):
    with start(d, "--handshake-timeout", str(TIMEOUT)) as srv:
        socks = []
        for p in garbage_payloads():
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
            s.sendall(p)
            s.setblocking(False)
            socks.append(s)
        closed = wait_all_closed(socks, TIMEOUT + SLACK, "garbage")
        print("garbage: 20 connections closed or alerted within %.1f s (timeout %d s)"
              % (max(closed.values()), TIMEOUT))
        for s in socks:
            s.close()
        normal_client(srv.port, "a normal client after the garbage")
        check(srv.stop() == 0 and not srv.killed, "the server did not stop cleanly:\n" + srv.log())


def case_starttls(d):
    with start(d, "--handshake-timeout", str(TIMEOUT), "--starttls-postgres") as srv:
        t0 = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=20) for _ in range(2)]
        socks[1].sendall(bytes.fromhex("00000008"))  # the length of an SSLRequest, not its code
        for s in socks:
            s.setblocking(False)
        closed = wait_all_closed(socks, TIMEOUT + SLACK, "SSLRequest", t0)
        check(min(closed.values()) >= TIMEOUT - 0.1, "closed before the deadline: %r" % sorted(closed.values()))
        srv.wait(lambda: srv.count(TIMEOUT_LINE) >= 2, "2 lines %r" % TIMEOUT_LINE)
        for s in socks:
            s.close()
        t = tls_connect(srv.port, starttls=True)
        check(echo(t), "no echo over --starttls-postgres after the slow clients")
        t.close()
        check(srv.stop() == 0 and not srv.killed, "the server did not stop cleanly:\n" + srv.log())
        print("starttls: a silent and a half-sent SSLRequest closed %.1f-%.1f s after connect (timeout %d s)"
              % (min(closed.values()), max(closed.values()), TIMEOUT))


def case_limit(d):
    with start(d, "--max-connections", "5") as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=20) for _ in range(5)]
        if args.mode != "thread":
            wait_for(lambda: len(children(srv.pid)) >= 5, "5 backends")
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        extra.setblocking(False)
        wait_all_closed([extra], SLACK, "the sixth connection")
        srv.wait(lambda: srv.count(LIMIT_LINE) >= 1, "the line %r" % LIMIT_LINE)
        check(srv.count(LIMIT_LINE) == 1 and srv.count(TIMEOUT_LINE) == 0,
              "expected one refusal and no timeout:\n" + srv.log())
        extra.close()
        held.pop().close()
        normal_client(srv.port, "a normal client once one of the five left")
        for s in held:
            s.close()
        check(srv.stop() == 0 and not srv.killed, "the server did not stop cleanly:\n" + srv.log())
        print("limit: the sixth connection refused and logged; a normal client served after")


def case_emfile(d):
    extra = ["--max-connections", "1000"] if args.mode == "thread" else []
    line = EMFILE_LINE if args.mode == "thread" else LIMIT_LINE
    with start(d, *extra, nofile=256) as srv:
        socks = connect_all(srv.port, 300)
        srv.wait(lambda: srv.count(line) >= 1, "the line %r" % line)
        # The flood is in: the server holds what it can and has refused the
        # rest; a pending connection it cannot take must not make it spin.
        c0, t0 = cpu_seconds(srv.pid), time.monotonic()
        time.sleep(CPU_WINDOW)  # the measurement window itself, not a wait for a condition
        c1, t1 = cpu_seconds(srv.pid), time.monotonic()
        share = (c1 - c0) / (t1 - t0)
        print("emfile: server process CPU over %.1f s of flood at the limit: %.3f s (%.1f%% of a core)"
              % (t1 - t0, c1 - c0, 100 * share))
        check(share < 0.25, "the server used %.0f%% of a core at the limit" % (100 * share))
        for s in socks:
            s.close()
        normal_client(srv.port, "a normal client once the flood ended")
        if args.mode == "thread":
            srv.wait(lambda: srv.count("descriptors free again") >= 1, "the line 'descriptors free again'")
            check(srv.count("--max-connections 1000 is more than the descriptor limit (256) allows") == 1,
                  "no warning at start that --max-connections exceeds the descriptor limit:\n" + srv.log())
        check(srv.stop() == 0 and not srv.killed, "the server did not stop cleanly:\n" + srv.log())


CASES = {"deadline": case_deadline, "garbage": case_garbage, "starttls": case_starttls, "limit": case_limit,
         "emfile": case_emfile}


def go():
    raise_own_limit()
    with TempDir("hotssl-abuse-") as d:
        make_conf(d)
        for name in args.case or list(CASES):
            CASES[name](d)


main(go)
