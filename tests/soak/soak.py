"""Chaos soak of `hotssl serve` in one mode: --mode thread, fork,
or spawn with --spawn-strategy snapshot|reread.

For SOAK_S seconds (environment; default --seconds, 10): two client threads
do full handshakes (verifying against the CA, new connection each time,
echo checked) while a writer cycles the served files through good pairs
(three serials), a broken certificate, a half-written certificate, a
mismatched pair, a deleted certificate and a key with group/world access,
each change seen by the watcher and, at random, by a SIGHUP. Asserts:
  - 0 failed handshakes, and every served certificate is one of the good ones
    (spawn --spawn-strategy reread: a backend re-reads the files, as
    PostgreSQL's EXEC_BACKEND does, so a handshake that starts while the
    files on disk are broken may fail; there, failures count only when the
    files had been good for 300 ms before the attempt and still were after);
  - the generation count and the log agree: "reloaded (generation N)" lines
    are exactly N = 2 .. G, G the generation the parent serves at the end;
    and when the writer ends on a good pair, that pair is served;
  - the parent's RSS and open descriptors, and its number of children,
    stay bounded (end vs. after warm-up).
"""
import argparse
import os
import random
import re
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "platform"))
from ptlib import Fail, Pki, Server, TempDir, check, main, peer_der, tls_connect, wait_for  # noqa: E402
import hotssltest as H  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", required=True)
ap.add_argument("--mode", required=True, choices=["thread", "fork", "spawn"])
ap.add_argument("--spawn-strategy", default=None)
ap.add_argument("--seconds", type=float, default=10.0)
args = ap.parse_args()
SECONDS = float(os.environ.get("SOAK_S", args.seconds))
SERIALS = {0xA1: "a", 0xB2: "b", 0xC3: "c"}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def n_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def n_children(pid):
    n = 0
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                n += 1
    return n


def soak():
    with TempDir() as d:
        pki = Pki(d)
        ders = {}
        for serial, p in SERIALS.items():
            pki.server(serial, p)
            ders[pki.cert_der(p)] = serial
        cafile = pki.path("ca.crt")
        crt, key = pki.path("server.crt"), pki.path("server.key")
        pki.install("a")
        with open(pki.path("hotssl.conf"), "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = on\n"
                    "hotssl_debounce_ms = 50\nhotssl_retry_window_ms = 500\n")
        argv = [args.hotssl, "serve", "-c", pki.path("hotssl.conf"), "-p", "0", "--mode", args.mode]
        if os.geteuid() != 0:
            argv.append("--allow-core-dumps")  # not dumpable, its /proc/PID/fd would be root's alone
        if args.spawn_strategy:
            argv += ["--spawn-strategy", args.spawn_strategy]
        srv = Server(argv)
        try:
            ctx = H.client_context(cafile=cafile)
            ctx.check_hostname = False
            stop = threading.Event()
            lock = threading.Lock()
            stats = {"ok": 0, "failed": [], "foreign": 0, "served": set(), "exempt": 0}
            files = {"good_since": time.monotonic()}  # None while the files on disk are not a good pair
            reread = args.spawn_strategy == "reread"

            def files_good_throughout(t0):
                # Any change since resets good_since: good since 300 ms before
                # t0 now means good for the whole attempt.
                with lock:
                    g = files["good_since"]
                return g is not None and g + 0.3 <= t0

            def client():
                while not stop.is_set():
                    t0 = time.monotonic()
                    try:
                        with tls_connect(srv.port, ctx, server_hostname="localhost") as t:
                            der = peer_der(t)
                            t.sendall(b"ping")
                            got = H.recv_up_to(t, 4)
                            if got != b"ping":
                                raise Fail("echo mismatch %r" % got)
                        with lock:
                            stats["ok"] += 1
                            if der in ders:
                                stats["served"].add(ders[der])
                            else:
                                stats["foreign"] += 1
                    except (OSError, ssl.SSLError, Fail) as e:
                        exempt = reread and not files_good_throughout(t0)
                        with lock:
                            if exempt:
                                stats["exempt"] += 1
                            else:
                                stats["failed"].append(repr(e))

            # Warm up, then the baseline for the resource checks.
            H.handshake(srv.port, ctx, server_hostname="localhost")
            base = (rss_kb(srv.pid), n_fds(srv.pid))
            clients = [threading.Thread(target=client, daemon=True) for _ in range(2)]
            for t in clients:
                t.start()

            rnd = random.Random(int(os.environ.get("SOAK_SEED", "11")))
            good = list(SERIALS.values())
            actions = {"good": 0, "broken": 0, "half": 0, "mismatch": 0, "deleted": 0, "perm": 0, "hup": 0}
            crt_text = {p: H.read(pki.path(p + ".crt")) for p in good}
            end = time.monotonic() + SECONDS
            last_good = "a"
            while time.monotonic() < end:
                a = rnd.choice(["good", "good", "broken", "half", "mismatch", "deleted", "perm"])
                actions[a] += 1
                with lock:
                    files["good_since"] = None
                if a == "good":
                    last_good = rnd.choice(good)
                    pki.install(last_good)
                elif a == "broken":
                    H.write_atomic(crt, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", 0o644)
                elif a == "half":
                    t = crt_text[rnd.choice(good)]
                    H.write(crt, t[: len(t) // 2], 0o644)  # in place, as a slow writer
                elif a == "mismatch":
                    p, q = rnd.sample(good, 2)
                    H.write_atomic(crt, H.read(pki.path(p + ".crt")), 0o644)
                    H.write_atomic(key, H.read(pki.path(q + ".key")), 0o600)
                elif a == "deleted":
                    H.remove(crt)
                elif a == "perm":
                    os.chmod(key, 0o644)
                if rnd.random() < 0.3:
                    actions["hup"] += 1
                    srv.hup()
                time.sleep(rnd.uniform(0.02, 0.25))  # pacing of the writer, not a wait for a result
                if a == "perm":
                    os.chmod(key, 0o600)
                if a == "good":
                    with lock:
                        files["good_since"] = time.monotonic()
            # End on a known good pair; it must become the one served.
            final = "c" if last_good != "c" else "b"
            with lock:
                files["good_since"] = None
            pki.install(final)
            with lock:
                files["good_since"] = time.monotonic()
            srv.hup()
            want = pki.cert_der(final)
            wait_for(lambda: H.handshake(srv.port, ctx, server_hostname="localhost") == want,
                     "the final pair to be served")
            stop.set()
            for t in clients:
                t.join(timeout=60)
            check(all(not t.is_alive() for t in clients), "client threads ended")

            # Generation count and log lines agree.
            gens = [int(m.group(1)) for m in
                    (re.search(r"SSL configuration reloaded \(generation (\d+)\)", line) for line in srv.err)
                    if m]
            # The parent's lines only: in fork/spawn mode children log their own loads.
            check(gens == list(range(2, 2 + len(gens))),
                  "reloaded lines are generations 2..G in order (got %s)" % gens[:50])
            stats_line = [line for line in srv.err if "not reloaded" in line]
            rss, fds = rss_kb(srv.pid), n_fds(srv.pid)
            kids = n_children(srv.pid)
            print("mode %s%s: %.0f s, %d handshakes, %d failed (%d while the files were broken, reread), "
                  "%d foreign; served serials %s; "
                  "actions %s; %d reloads, %d failed reload lines; RSS %d -> %d kB, fds %d -> %d, "
                  "children at end %d" % (
                      args.mode, "/" + args.spawn_strategy if args.spawn_strategy else "", SECONDS,
                      stats["ok"], len(stats["failed"]), stats["exempt"], stats["foreign"],
                      sorted("%X" % s for s in stats["served"]), actions, len(gens), len(stats_line),
                      base[0], rss, base[1], fds, kids))
            check(not stats["failed"], "0 failed handshakes (first: %s)" % stats["failed"][:3])
            check(stats["foreign"] == 0, "every served certificate is a good one")
            check(stats["ok"] > 20, "handshakes happened")
            check(len(gens) >= 3, "reloads happened")
            check(fds <= base[1] + 8, "open descriptors bounded (%d -> %d)" % (base[1], fds))
            check(rss <= base[0] * 2 + 16384, "RSS bounded (%d -> %d kB)" % (base[0], rss))
            wait_for(lambda: n_children(srv.pid) <= 4, "children to be reaped")
        finally:
            rc = srv.stop()
        check(rc == 0, "serve exited 0 (rc %s)" % rc)


if __name__ == "__main__":
    main(soak)
