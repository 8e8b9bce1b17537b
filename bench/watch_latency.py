#!/usr/bin/env python3
"""Reload latency benchmark: file change -> new certificate on a fresh connection.

For each backend (inotify, poll) start `hotssl serve` with the default
watcher settings (hotssl_debounce_ms 150, hotssl_poll_interval_ms 1000,
unless overridden), then N times: write a new cert+key pair to temporary
names and rename them over server.key and server.crt; t0 is taken right
after the last rename; fresh TLS handshakes run back to back until the new
serial is served; latency = that moment - t0. Prints median, mean, max.

usage: watch_latency.py HOTSSL_BIN [N] [--debounce MS] [--poll-interval MS]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "watcher"))
from watchlib import Certs, Server, TempDir, write_atomic, write_file  # noqa: E402
import watchlib  # noqa: E402


def measure(backend, n, debounce, poll_interval):
    tmp = TempDir("hotssl-watch-")
    try:
        d = tmp.path
        pki = Certs(os.path.join(d, "pki"))
        pairs = [pki.issue(0x5000 + i) for i in range(n + 1)]
        os.mkdir(os.path.join(d, "certs"))
        write_file(os.path.join(d, "certs", "server.crt"), pairs[0][0])
        write_file(os.path.join(d, "certs", "server.key"), pairs[0][1], 0o600)
        conf = os.path.join(d, "hotssl.conf")
        extra = ""
        if debounce is not None:
            extra += "hotssl_debounce_ms = %d\n" % debounce
        if poll_interval is not None:
            extra += "hotssl_poll_interval_ms = %d\n" % poll_interval
        write_file(conf, ("ssl_cert_file = 'certs/server.crt'\nssl_key_file = 'certs/server.key'\n"
                          + extra).encode())
        srv = Server(conf, backend)
        lat = []
        try:
            for i in range(1, n + 1):
                crt, key = pairs[i]
                write_atomic(os.path.join(d, "certs", "server.key"), key, 0o600)
                write_atomic(os.path.join(d, "certs", "server.crt"), crt)
                t0 = time.monotonic()
                lat.append(srv.wait_serial(0x5000 + i, t0))
                # let the next change start from a quiet state (not part of the figure)
                time.sleep(0.3)
            failed = srv.count("was not reloaded")
        finally:
            srv.stop()
        return lat, failed
    finally:
        tmp.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hotssl")
    ap.add_argument("n", nargs="?", type=int, default=20)
    ap.add_argument("--debounce", type=int)
    ap.add_argument("--poll-interval", type=int)
    a = ap.parse_args()
    watchlib.HOTSSL = a.hotssl
    # resolution: one handshake with Python ssl against the server
    for backend in ("notify", "poll"):
        lat, failed = measure(backend, a.n, a.debounce, a.poll_interval)
        print("%-7s n=%d  median %.0f ms  mean %.0f ms  min %.0f ms  max %.0f ms  (failed reloads logged: %d)"
              % ("inotify" if backend == "notify" else "poll", len(lat), statistics.median(lat),
                 statistics.mean(lat), min(lat), max(lat), failed))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
