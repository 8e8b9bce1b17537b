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


def _client_hello_tls13():
    """A TLS 1.3-only ClientHello with a random X25519 key share (any 32
    bytes are a valid X25519 public value); the server's ServerHello then
    carries its own key share in the clear."""
    suites = [0x1301, 0x1302, 0x1303]
    body = struct.pack("!H", 0x0303) + os.urandom(32) + b"\x20" + os.urandom(32)
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
    body += b"\x01\x00"
    exts = struct.pack("!HHB", 0x002b, 3, 2) + struct.pack("!H", 0x0304)
    groups = struct.pack("!HH", 2, 0x001d)
    exts += struct.pack("!HH", 0x000a, len(groups)) + groups
    sigs = [0x0403, 0x0804, 0x0503]
    sa = struct.pack("!H", 2 * len(sigs)) + b"".join(struct.pack("!H", s) for s in sigs)
    exts += struct.pack("!HH", 0x000d, len(sa)) + sa
    share = struct.pack("!HH", 0x001d, 32) + os.urandom(32)
    exts += struct.pack("!HHH", 0x0033, len(share) + 2, len(share)) + share
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


# SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest.
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


def _server_hello_tls13_share(msg):
    """The key share in a TLS 1.3 ServerHello body (None if absent)."""
    i = 2 + 32
    i += 1 + msg[i]          # legacy_session_id_echo
    i += 2 + 1               # cipher_suite, legacy_compression_method
    end = i + 2 + int.from_bytes(msg[i:i + 2], "big")
    i += 2
    while i + 4 <= end:
        typ, ln = struct.unpack("!HH", msg[i:i + 4])
        data = msg[i + 4:i + 4 + ln]
        if typ == 0x0033:
            return data[4:4 + int.from_bytes(data[2:4], "big")]
        i += 4 + ln
    return None


def _recv_exact(s, n):
    b = H.recv_up_to(s, n)
    check(len(b) == n, "connection closed during handshake")
    return b


def server_hello_capture(port, starttls=False, tls13=False):
    """Returns (server_random, ecdhe_public_point), from a TLS 1.2 ClientHello
    (the ServerKeyExchange's point) or a TLS 1.3-only one (tls13: the
    ServerHello's X25519 key share). A refusal (alert) raises Fail."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    try:
        if starttls:
            s.sendall(SSL_REQUEST)
            check(_recv_exact(s, 1) == b"S", "SSLRequest refused")
        s.sendall(_client_hello_tls13() if tls13 else _client_hello())
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
                    if tls13:
                        check(rnd != HRR_RANDOM, "HelloRetryRequest to an X25519 key share")
                        share = _server_hello_tls13_share(msg)
                        check(share is not None, "TLS 1.3 ServerHello without a key share")
                elif mt == 12:
                    check(msg[0] == 3, "not a named curve")
                    pl = msg[3]
                    share = msg[4:4 + pl]
        return rnd, share
    finally:
        s.close()


# ---- /proc ----

# `hotssl serve` is not dumpable by default: its /proc/PID/fd and maps are
# then root's alone. A test that reads them adds these options to serve's
# arguments: nothing when it runs as root, --allow-core-dumps otherwise.
PROC_READABLE = [] if os.geteuid() == 0 else ["--allow-core-dumps"]


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
