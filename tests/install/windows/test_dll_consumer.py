"""A Windows program linked with hotssl's import library only, under Wine.

hotssl_dll_consumer.exe imports hotssl.dll (objdump: "DLL Name: hotssl.dll"),
the DLL beside it is the only file it needs besides Windows' own DLLs, and
it serves one TLS connection from a manager built through the DLL: Linux-side Python's ssl is served the
configured certificate and gets its bytes echoed.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "platform"))
from ptlib import Pki, Server, TempDir, check, echo, main, peer_der, tls_connect  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--wine", required=True)
ap.add_argument("--consumer", required=True)
ap.add_argument("--objdump", required=True)
args = ap.parse_args()

# Windows' own DLLs and the C runtime: what a consumer may import besides hotssl.dll.
SYSTEM_DLLS = re.compile(r"^(kernel32|ws2_32|msvcrt|advapi32|bcrypt|user32|iphlpapi|rpcrt4|shell32|api-ms-win-.*|ucrtbase)\.dll$", re.I)


def imports(path):
    out = subprocess.run([args.objdump, "-p", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"DLL Name: (\S+)", out)


def go():
    exe_dir = os.path.dirname(os.path.abspath(args.consumer))
    dlls = imports(args.consumer)
    print("consumer imports:", " ".join(dlls))
    check("hotssl.dll" in dlls, "the consumer does not import hotssl.dll")
    check(os.path.isfile(os.path.join(exe_dir, "hotssl.dll")), "hotssl.dll is not beside the consumer")
    others = [d for d in imports(os.path.join(exe_dir, "hotssl.dll")) if not SYSTEM_DLLS.match(d)]
    check(not others, "hotssl.dll needs DLLs that are not Windows' own: %s" % others)
    with TempDir("hotssl-dll-") as d:
        pki = Pki(d)
        pki.server(0xA1, "a")
        pki.install("a")
        conf = os.path.join(d, "tls.conf")
        with open(conf, "w") as f:
            f.write("ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        os.chdir(d)
        srv = Server([args.wine, args.consumer, conf])
        try:
            check(any("through hotssl.dll" in line for line in srv.out), "no version line: %s" % srv.out)
            t = tls_connect(srv.port)
            check(peer_der(t) == pki.cert_der("a"), "not served the configured certificate")
            check(echo(t, b"through the DLL"), "no echo")
            t.close()
            srv.wait(lambda: srv.proc.poll() is not None, "the consumer's exit")
            print("\n".join(srv.out + srv.err))
            check(srv.proc.returncode == 0, "the consumer exited %s" % srv.proc.returncode)
            check(any(line.startswith("echoed 15 bytes") for line in srv.out), "no echo report: %s" % srv.out)
        finally:
            srv.kill()


main(go)
