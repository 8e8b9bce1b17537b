"""Helpers for the platform tests: certificates made with the openssl CLI,
a `hotssl serve` (or example) process, Python ssl clients, a raw TLS 1.2
ClientHello that captures the ServerHello random and the ECDHE key share,
and /proc inspection of children. Never a fixed sleep: wait_until polls a
condition with a generous deadline."""
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

DEADLINE = 30.0


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_until(cond, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise Fail("timed out waiting for " + what)


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


class Pki:
    """A CA and server certificates (EC P-256), each with its own serial."""

    def __init__(self, d):
        self.d = d
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", self.p("ca.key"), "-out", self.p("ca.crt"), "-subj", "/CN=Platform Test CA",
             "-days", "30"])

    def p(self, name):
        return os.path.join(self.d, name)

    def server(self, serial, prefix):
        """Make prefix.crt / prefix.key with the given serial (int)."""
        key, csr, crt = self.p(prefix + ".key"), self.p(prefix + ".csr"), self.p(prefix + ".crt")
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.p("ca.crt"), "-CAkey", self.p("ca.key"),
             "-set_serial", str(serial), "-out", crt, "-days", "10"])
        os.chmod(key, 0o600)
        return crt, key

    def install(self, prefix, cert="server.crt", key="server.key"):
        """Atomically replace the served files with prefix.* (rename over)."""
        for src, dst, mode in ((prefix + ".crt", cert, 0o644), (prefix + ".key", key, 0o600)):
            tmp = self.p(dst + ".tmp")
            shutil.copyfile(self.p(src), tmp)
            os.chmod(tmp, mode)
            os.rename(tmp, self.p(dst))

    def der(self, prefix):
        with open(self.p(prefix + ".crt")) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())


class Server:
    def __init__(self, argv, d, env=None):
        self.log_path = os.path.join(d, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.stop()
            raise Fail("server did not start: %r\n%s" % (line, self.text()))
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, s):
        return self.text().count(s)

    def hup(self):
        os.kill(self.pid, signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(port, starttls=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    if starttls:
        s.sendall(struct.pack("!II", 8, 80877103))
        a = s.recv(1)
        if a != b"S":
            s.close()
            return a  # b"N" or b""
    t = client_ctx().wrap_socket(s)
    return t


def echo(t, data=b"ping"):
    t.sendall(data)
    got = b""
    while len(got) < len(data):
        c = t.recv(len(data) - len(got))
        if not c:
            break
        got += c
    return got == data


def peer_der(t):
    return t.getpeercert(binary_form=True)


# ---- raw TLS 1.2 ClientHello: capture ServerHello random and key share ----

def _client_hello():
    suites = [0xC02B, 0xC02C, 0xC02F, 0xC030, 0xC009, 0xC013]
    body = struct.pack("!H", 0x0303) + os.urandom(32) + b"\x00"
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
    body += b"\x01\x00"
    exts = b""
    groups = struct.pack("!HHH", 4, 0x0017, 0x001d)
    exts += struct.pack("!HH", 0x000a, len(groups)) + groups
    exts += struct.pack("!HH", 0x000b, 2) + b"\x01\x00"
    sigs = [0x0403, 0x0503, 0x0401, 0x0501, 0x0804]
    sa = struct.pack("!H", 2 * len(sigs)) + b"".join(struct.pack("!H", s) for s in sigs)
    exts += struct.pack("!HH", 0x000d, len(sa)) + sa
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise Fail("connection closed during handshake")
        b += c
    return b


def server_hello_capture(port, starttls=False):
    """Returns (server_random, ecdhe_public_point)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    try:
        if starttls:
            s.sendall(struct.pack("!II", 8, 80877103))
            check(_recv_exact(s, 1) == b"S", "SSLRequest refused")
        s.sendall(_client_hello())
        hs = b""
        rnd = share = None
        while share is None:
            hdr = _recv_exact(s, 5)
            typ, _, ln = struct.unpack("!BHH", hdr)
            rec = _recv_exact(s, ln)
            check(typ == 22, "unexpected record type %d (alert %r)" % (typ, rec))
            hs += rec
            while len(hs) >= 4:
                mt = hs[0]
                ml = int.from_bytes(hs[1:4], "big")
                if len(hs) < 4 + ml:
                    break
                msg, hs = hs[4:4 + ml], hs[4 + ml:]
                if mt == 2:
                    rnd = msg[2:34]
                elif mt == 12:
                    check(msg[0] == 3, "not a named curve")
                    pl = msg[3]
                    share = msg[4:4 + pl]
        return rnd, share
    finally:
        s.close()


# ---- /proc ----

def children(pid):
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(e))
    return out


def fd_links(pid):
    d = "/proc/%d/fd" % pid
    res = {}
    for fd in os.listdir(d):
        try:
            res[int(fd)] = os.readlink(os.path.join(d, fd))
        except OSError:
            pass
    return res


def listening_inodes(port):
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].split(":")[1], 16)
                    if p[3] == "0A" and lport == port:
                        inodes.add("socket:[%s]" % p[9])
        except OSError:
            pass
    return inodes


class TempDir:
    def __enter__(self):
        self.d = tempfile.mkdtemp(prefix="hotssl-platform-")
        return self.d

    def __exit__(self, *a):
        shutil.rmtree(self.d, ignore_errors=True)


def main(fn):
    try:
        fn()
    except Fail as e:
        print("FAIL:", e)
        sys.exit(1)
    print("PASS")
