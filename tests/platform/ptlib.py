"""The platform tests' own helpers: the served files of a rotation, a
server process with no deadline on its start, a raw TLS 1.2 ClientHello
that captures the ServerHello random and the ECDHE key share, and /proc
inspection of children. The common helpers (failures and waits, TLS
clients, the openssl-made PKI, temporary folders, PASS/FAIL) live in
tests/pylib/hotssltest.py and are re-exported here."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pylib"))
import hotssltest as H  # noqa: E402
from hotssltest import (SSL_REQUEST, Fail, TempDir, check, echo, peer_der, read, run,  # noqa: E402,F401
                        tls_connect, wait_for, write_atomic)
from hotssltest import check_main as main  # noqa: E402,F401

DEADLINE = H.DEADLINE


class Pki(H.Pki):
    """A CA and server certificates (EC P-256) named by a prefix, each with its own serial."""

    def __init__(self, d):
        super().__init__(d, ca_cn="Platform Test CA")

    def server(self, serial, prefix):
        """Make prefix.crt / prefix.key with the given serial (int)."""
        return self.leaf(prefix, self.ca_pair, serial, cn="localhost")

    def install(self, prefix, cert="server.crt", key="server.key"):
        """Atomically replace the served files with prefix.* (rename over)."""
        for src, dst, mode in ((prefix + ".crt", cert, 0o644), (prefix + ".key", key, 0o600)):
            write_atomic(self.path(dst), read(self.path(src)), mode)


class Server(H.Server):
    """hotssl serve or an example server, from argv; waits for its
    'listening on' line as long as it takes."""

    def __init__(self, argv, env=None):
        super().__init__(argv, env=env, start_deadline=float("inf"), label=os.path.basename(argv[0]))


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
    b = H.recv_up_to(s, n)
    check(len(b) == n, "connection closed during handshake")
    return b


def server_hello_capture(port, starttls=False):
    """Returns (server_random, ecdhe_public_point)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    try:
        if starttls:
            s.sendall(SSL_REQUEST)
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
