#!/usr/bin/env python3
"""Handshake throughput of `hotssl serve` builds vs `openssl s_server`: full
handshakes (no resumption), ECDSA P-256 chain
(leaf + intermediate), loopback, interleaved rounds, medians.

  bench/handshakes_mbedtls.py --server NAME=HOTSSL_BINARY [--server ...]
        [--rounds 5] [--seconds 3] [--clients openssl,python,curl] [--tls 1.2,1.3]
        [--groups "X25519:prime256v1" --groups "prime256v1:X25519"]

Clients:
  openssl  `openssl s_time -new` (OpenSSL's default client: X25519 key share),
           handshakes per real second
  python   Python's ssl default client context, sequential handshakes in one
           process, handshakes per second
  curl     one `curl` process per handshake; the figure is 1 / median
           (time_appconnect - time_connect), i.e. the handshake alone
Each hotssl server is run once per group order (ssl_groups); openssl
s_server runs with its defaults. Prints a table and, per (client, TLS),
each server's ratio to s_server from the same round.
"""
import argparse
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--server", action="append", default=[], help="NAME=path of a hotssl binary")
ap.add_argument("--groups", action="append", default=[], help="ssl_groups value (one run each)")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--seconds", type=float, default=3.0)
ap.add_argument("--clients", default="openssl,python,curl")
ap.add_argument("--tls", default="1.2,1.3")
args = ap.parse_args()
if not args.groups:
    args.groups = ["X25519:prime256v1", "prime256v1:X25519"]


def sh(*a, **kw):
    return subprocess.run(list(a), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", d + "/root.key", "-out", d + "/root.crt",
       "-subj", "/CN=bench root", "-days", "30", "-addext", "basicConstraints=critical,CA:true")
    sh("openssl", "req", *ec, "-keyout", d + "/int.key", "-out", d + "/int.csr", "-subj", "/CN=bench int")
    with open(d + "/ext", "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:true\n[leaf]\nbasicConstraints=CA:false\n"
                "subjectAltName=DNS:localhost\n")
    sh("openssl", "x509", "-req", "-in", d + "/int.csr", "-CA", d + "/root.crt", "-CAkey", d + "/root.key",
       "-set_serial", "2", "-days", "30", "-out", d + "/int.crt", "-extfile", d + "/ext", "-extensions", "ca")
    sh("openssl", "req", *ec, "-keyout", d + "/leaf.key", "-out", d + "/leaf.csr", "-subj", "/CN=localhost")
    sh("openssl", "x509", "-req", "-in", d + "/leaf.csr", "-CA", d + "/int.crt", "-CAkey", d + "/int.key",
       "-set_serial", "3", "-days", "30", "-out", d + "/leaf.crt", "-extfile", d + "/ext", "-extensions", "leaf")
    with open(d + "/chain.crt", "w") as f:
        f.write(open(d + "/leaf.crt").read() + open(d + "/int.crt").read())
    os.chmod(d + "/leaf.key", 0o600)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %r" % proc.args)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


class Srv:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_port(port, self.p)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def c_openssl(port, tls, secs):
    out = sh("openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new", "-time", str(int(secs)),
             "-tls1_2" if tls == "1.2" else "-tls1_3").stdout
    m = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    return int(m.group(1)) / float(m.group(2))


def c_python(port, tls, secs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_2 if tls == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = v
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < secs:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                n += 1
    return n / (time.monotonic() - t0)


def c_curl(port, tls, secs):
    times, t0 = [], time.monotonic()
    while time.monotonic() - t0 < secs:
        p = subprocess.run(["curl", "-sk", "-o", "/dev/null", "--max-time", "10",
                            "--tlsv" + tls, "--tls-max", tls, "-w", "%{time_connect} %{time_appconnect}",
                            "https://127.0.0.1:%d/" % port], stdout=subprocess.PIPE, text=True)
        a, b = (float(x) for x in p.stdout.split())
        if b > 0:
            times.append(b - a)
    return 1.0 / statistics.median(times)


CLIENTS = {"openssl": c_openssl, "python": c_python, "curl": c_curl}


def main():
    d = tempfile.mkdtemp(prefix="hotssl-bench-hs-")
    make_pki(d)
    servers = [("openssl s_server", None, None)]
    for spec in args.server:
        name, path = spec.split("=", 1)
        for g in args.groups:
            servers.append(("%s [%s]" % (name, g), path, g))
    tls_list = args.tls.split(",")
    clients = args.clients.split(",")
    res = {}
    for rnd in range(args.rounds):
        for name, path, groups in servers:
            port = free_port()
            if path is None:
                argv = ["openssl", "s_server", "-accept", str(port), "-cert", d + "/chain.crt",
                        "-key", d + "/leaf.key", "-quiet", "-naccept", "1000000"]
            else:
                conf = os.path.join(d, "hotssl-%d.conf" % port)
                with open(conf, "w") as f:
                    f.write("ssl_cert_file = '%s/chain.crt'\nssl_key_file = '%s/leaf.key'\n"
                            "ssl_groups = '%s'\nhotssl_watch = off\n" % (d, d, groups))
                argv = [path, "serve", "-c", conf, "-p", str(port), "--no-watch"]
            s = Srv(name, argv, port)
            try:
                for tls in tls_list:
                    for c in clients:
                        try:
                            v = CLIENTS[c](port, tls, args.seconds)
                        except Exception as e:  # a build without TLS 1.3
                            v = float("nan")
                        res.setdefault((name, c, tls), []).append((rnd, v))
            finally:
                s.stop()
        print("round %d done" % (rnd + 1), file=sys.stderr)
    print("| server | client | TLS | handshakes/s (median) | vs s_server (median of per-round ratios) |")
    print("|---|---|---|---|---|")
    for tls in tls_list:
        for c in clients:
            base = dict(res[("openssl s_server", c, tls)])
            for name, _, _ in servers:
                vals = res[(name, c, tls)]
                med = statistics.median(v for _, v in vals)
                ratios = [v / base[r] for r, v in vals if base[r] == base[r] and base[r] > 0]
                rmed = statistics.median(ratios) if ratios and med == med else float("nan")
                print("| %s | %s | %s | %.0f | %.2f |" % (name, c, tls, med, rmed))


main()
