#!/usr/bin/env python3
"""Where a TLS 1.3 handshake's server time goes: `hotssl serve` (thread mode)
under `openssl s_time -new -tls1_3`, sampled with `perf record --call-graph
dwarf`, each sample put in the first category found walking its stack from the
leaf outwards.

  bench/profile_tls13.py [--hotssl BUILD/hotssl]... [--seconds 5] [--runs 3]

Several --hotssl binaries are profiled in alternation (e.g. before and after a
change), --runs times each; figures are medians over the runs, with min-max. Makes its own EC P-256 certificate. Needs perf (root or
kernel.perf_event_paranoid <= 1) and openssl. Each run loads the server twice
with the same client: once without perf for the handshake rate and the
server's CPU time per handshake (/proc utime+stime), once under perf for the
shares. Prints, per binary: the rate, the CPU time per handshake and, per
category, the share of the server's samples and the microseconds per
handshake that share of the CPU time stands for.

Categories (a sample's innermost frame that matches decides):
  kernel       the sample's leaf is in the kernel (TCP, syscalls, scheduling)
  X25519       key share: psa_generate_key / psa_export_public_key /
               psa_raw_key_agreement (and the legacy ECDH calls)
  ECDSA sign   CertificateVerify's signature (mbedtls_pk_sign*)
  transcript   the handshake transcript hash (mbedtls_ssl_*checksum*,
               mbedtls_ssl_get_handshake_transcript)
  HKDF         the key schedule (mbedtls_ssl_tls13_* derive/evolve/expand,
               Finished's HMAC, psa_key_derivation_*)
  record       record protection and its key set-up (encrypt/decrypt_buf,
               populate_transform, cipher/GCM set-up)
  hotssl       the library's own calls (hotssl_* / hotssl__*: acquire, SNI,
               ticket and verify callbacks)
  TLS other    the rest of mbedtls_ssl_handshake (messages, state machine,
               certificate writing, memory)
  process      everything else (accept loop, thread start, libc outside TLS)
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--hotssl", action="append", default=[])
ap.add_argument("--seconds", type=float, default=5.0)
ap.add_argument("--runs", type=int, default=3)
A = ap.parse_args()
if not A.hotssl:
    A.hotssl = [os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "build", "hotssl")]

CATS = [
    ("X25519", re.compile(r"^(psa_generate_key|psa_export_public_key|psa_raw_key_agreement|mbedtls_ecdh_|"
                          r"mbedtls_everest_|Hacl_Curve25519)")),
    ("ECDSA sign", re.compile(r"^(mbedtls_pk_sign|psa_sign_hash|mbedtls_ecdsa_)")),
    ("transcript", re.compile(r"^(mbedtls_ssl_add_hs_|ssl_update_checksum|mbedtls_ssl_reset_checksum|"
                              r"mbedtls_ssl_get_handshake_transcript|mbedtls_ssl_reset_transcript)")),
    ("HKDF", re.compile(r"^(mbedtls_ssl_tls13_(hkdf|derive|evolve|make_traffic|calculate_verify|"
                        r"key_schedule|generate_|compute_|create_psk)|psa_key_derivation_|mbedtls_hkdf)")),
    ("record", re.compile(r"^(mbedtls_ssl_(encrypt|decrypt)_buf|mbedtls_ssl_tls13_populate_transform|"
                          r"mbedtls_cipher_|mbedtls_gcm_|mbedtls_ssl_transform_)")),
    ("hotssl", re.compile(r"^hotssl_")),
]
ORDER = ["kernel", "X25519", "ECDSA sign", "transcript", "HKDF", "record", "hotssl", "TLS other", "process"]


def classify(frames):
    """frames: [(symbol, dso)] leaf first."""
    if frames and ("kernel" in frames[0][1] or frames[0][1].startswith("[")):
        return "kernel"
    in_tls = any(s.startswith("mbedtls_ssl_handshake") for s, _ in frames)
    for sym, _ in frames:
        for name, rx in CATS:
            if rx.search(sym):
                return name
    return "TLS other" if in_tls else "process"


def parse(script):
    counts = collections.Counter()
    frames = []
    for line in script.splitlines() + [""]:
        if not line.strip():
            if frames:
                counts[classify(frames)] += 1
            frames = []
            continue
        if line[0] not in " \t":
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$", line)
        if m:
            frames.append((m.group(1), m.group(2)))
    return counts


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def start(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        m = re.search(r"listening on \S+:(\d+)", p.stdout.readline())
        if m:
            return p, int(m.group(1))
    sys.exit("profile_tls13: %s did not start" % " ".join(argv))


def load(pid, port):
    """s_time -new -tls1_3 against the server: (handshakes/s, CPU s per handshake)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    out = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new", "-tls1_3",
                          "-time", str(int(A.seconds))], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout
    c1, t1 = cpu_seconds(pid), time.monotonic()
    m = re.search(r"(\d+) connections in [\d.]+ real seconds", out)
    n = int(m.group(1)) if m else 0
    return n / (t1 - t0), (c1 - c0) / max(n, 1)


def profile(binary, d):
    """(rate, CPU per handshake) without perf, then the category counts
    with the same server under perf (started by perf: perf record -p would
    miss the connection threads started after it attaches). Sampling costs
    time, so the shares come from the second run and the microseconds from
    the first."""
    argv = [binary, "serve", "-c", os.path.join(d, "p.conf"), "-p", "0", "--no-watch"]
    srv, port = start(argv)
    rate, cpu = load(srv.pid, port)
    srv.terminate()
    srv.wait(20)
    data = os.path.join(d, "perf.data")
    perf, port = start(["perf", "record", "-q", "-F", "4999", "--call-graph", "dwarf,8192", "-o", data, "--"] + argv)
    kids = subprocess.run(["pgrep", "-P", str(perf.pid)], stdout=subprocess.PIPE, text=True).stdout.split()
    if len(kids) != 1:
        sys.exit("profile_tls13: no server under perf")
    load(int(kids[0]), port)
    os.kill(int(kids[0]), 15)
    perf.wait(300)
    script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout
    return rate, cpu, parse(script)


def main():
    d = tempfile.mkdtemp(prefix="hotssl-prof-")
    key, crt = os.path.join(d, "k.key"), os.path.join(d, "c.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-subj", "/CN=localhost", "-days", "30"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    with open(os.path.join(d, "p.conf"), "w") as f:
        f.write("ssl_cert_file = '%s'\nssl_key_file = '%s'\nhotssl_watch = off\n"
                "hotssl_expiry_warning_days = 0\n" % (crt, key))
    res = {b: [] for b in A.hotssl}
    for _ in range(A.runs):
        for b in A.hotssl:
            res[b].append(profile(b, d))
    med = statistics.median
    for b in A.hotssl:
        ver = subprocess.run([b, "version"], stdout=subprocess.PIPE, text=True).stdout
        x = re.search(r"X25519, TLS 1.3 \(PSA\): (.*)", ver)
        rates = [r for r, _, _ in res[b]]
        cpus = [c * 1e6 for _, c, _ in res[b]]
        print("%s  (X25519 for TLS 1.3: %s), %d runs" % (b, x.group(1) if x else "?", A.runs))
        print("  %.0f handshakes/s (%.0f-%.0f), server CPU %.0f us per handshake (%.0f-%.0f), "
              "%d samples per run" % (med(rates), min(rates), max(rates), med(cpus), min(cpus), max(cpus),
                                      med([sum(n.values()) for _, _, n in res[b]])))
        print("  %-11s %6s %8s %11s" % ("category", "share", "us/hs", "us/hs range"))
        for name in ORDER:
            us = [cnt[name] / (sum(cnt.values()) or 1) * c * 1e6 for _, c, cnt in res[b]]
            sh = [cnt[name] / (sum(cnt.values()) or 1) for _, _, cnt in res[b]]
            print("  %-11s %5.1f%% %8.0f %5.0f-%-5.0f" % (name, 100 * med(sh), med(us), min(us), max(us)))
    subprocess.run(["rm", "-rf", d])


main()
