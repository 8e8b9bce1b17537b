"""Spawn-mode per-backend TLS start-up cost, re-read vs snapshot, on a chain
(leaf + intermediate), a CA bundle (the system bundle + our root) and a
100,000-entry CRL made with `openssl ca -gencrl` from an index of 100,000
revoked serials.

  python3 bench/spawn_startup.py --build BUILD_DIR [--runs 15]

Prints (1) the in-process figures of BUILD/tests/platform/bench_spawn_startup
and (2) end to end: connect -> TLS handshake complete against
`hotssl serve --mode spawn --spawn-strategy X` (each connection = exec of a
new backend + hand-off + build + handshake), median of N.
"""
import argparse
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--runs", type=int, default=15)
ap.add_argument("--entries", type=int, default=100000)
a = ap.parse_args()


def sh(*cmd, cwd=None):
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    p = lambda n: os.path.join(d, n)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("root.key"), "-out", p("root.crt"),
       "-subj", "/CN=Bench Root", "-days", "30")
    with open(p("ext.cnf"), "w") as f:
        f.write("[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("int.key"), "-out", p("int.csr"),
       "-subj", "/CN=Bench Intermediate")
    sh("openssl", "x509", "-req", "-in", p("int.csr"), "-CA", p("root.crt"), "-CAkey", p("root.key"),
       "-set_serial", "2", "-out", p("int.crt"), "-days", "30", "-extfile", p("ext.cnf"), "-extensions", "v3_ca")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
       "-subj", "/CN=localhost")
    sh("openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("int.crt"), "-CAkey", p("int.key"),
       "-set_serial", "3", "-out", p("leaf.crt"), "-days", "10")
    os.chmod(p("server.key"), 0o600)
    with open(p("server.crt"), "w") as out:
        out.write(open(p("leaf.crt")).read() + open(p("int.crt")).read())
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    with open(p("ca.crt"), "w") as out:
        out.write(open(p("root.crt")).read())
        if os.path.exists(bundle):
            out.write(open(bundle).read())
    # 100,000 revoked serials in an `openssl ca` index, then one CRL.
    with open(p("index.txt"), "w") as f:
        for i in range(a.entries):
            f.write("R\t300101000000Z\t240101000000Z\t%06X\tunknown\t/CN=revoked %d\n" % (0x100000 + i, i))
    with open(p("ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=b\n[b]\ndatabase=%s\ncrlnumber=%s\ndefault_md=sha256\n"
                "default_crl_days=30\n" % (p("index.txt"), p("crlnumber")))
    with open(p("crlnumber"), "w") as f:
        f.write("01\n")
    sh("openssl", "ca", "-config", p("ca.cnf"), "-gencrl", "-keyfile", p("root.key"), "-cert", p("root.crt"),
       "-out", p("crl.pem"))
    with open(p("hotssl.conf"), "w") as f:
        f.write("ssl_cert_file='server.crt'\nssl_key_file='server.key'\nssl_ca_file='ca.crt'\n"
                "ssl_crl_file='crl.pem'\nhotssl_watch=off\nhotssl_max_file_size=104857600\n")
    return p("hotssl.conf")


def end_to_end(hotssl, conf, strategy, runs, d):
    log = open(os.path.join(d, "serve-%s.log" % strategy), "wb")
    proc = subprocess.Popen([hotssl, "serve", "-c", conf, "-p", "0", "--mode", "spawn", "--spawn-strategy", strategy],
                            stdout=subprocess.PIPE, stderr=log)
    port = int(re.search(r":(\d+)", proc.stdout.readline().decode()).group(1))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    times = []
    try:
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
            times.append((time.perf_counter() - t0) * 1e3)
            s.close()
    finally:
        proc.terminate()
        proc.wait()
        log.close()
    times = sorted(times[1:])
    return times[0], statistics.median(times), times[-1]


d = tempfile.mkdtemp(prefix="hotssl-bench-")
try:
    conf = make_pki(d)
    crl = os.path.getsize(os.path.join(d, "crl.pem"))
    ca = open(os.path.join(d, "ca.crt")).read().count("BEGIN CERTIFICATE")
    print("inputs: chain of 2 (RSA-2048), CA bundle of %d certificates, CRL with %d entries (%d bytes PEM)"
          % (ca, a.entries, crl))
    print(subprocess.run([os.path.join(a.build, "tests/platform/bench_spawn_startup"), conf, str(a.runs)],
                         check=True, capture_output=True, text=True).stdout, end="")
    for strategy in ("snapshot", "reread"):
        lo, med, hi = end_to_end(os.path.join(a.build, "hotssl"), conf, strategy, a.runs, d)
        print("end to end (%s): connect -> handshake done, min %.1f median %.1f max %.1f ms (%d connections)"
              % (strategy, lo, med, hi, a.runs))
finally:
    shutil.rmtree(d, ignore_errors=True)
