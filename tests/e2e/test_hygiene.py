"""Secret hygiene: run every scenario of the e2e catalogue
(Start, Reload, Decisions) with a known passphrase and a known key (the
catalogue's hygiene mode: the good state serves leaf A's key encrypted, the
passphrase command prints the known passphrase), then search everything the
CLI printed (logs, error strings of check/info/serve) for the passphrase and
for any 16-byte window of the key's DER (raw, hex, and the base64 lines of
its PEM); run the session-ticket tests (test_tickets.py) the same way and
search for the secret part of every ticket key they wrote (all but the
16-byte name, which every ticket carries in clear: raw, hex, and each key's
base64 line); and search /tmp and /dev/shm for snapshot files left on disk
(there must be none: files starting with the snapshot magic "HTSN" written
during the run).
"""
import base64
import binascii
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "pylib"))
import hotssltest as H  # noqa: E402


def windows(der, n=16):
    return {der[i:i + n] for i in range(len(der) - n + 1)}


def leaks(data, secrets):
    """The secrets (bytes) found in data."""
    return [s for s in secrets if s in data]


def ticket_key_secrets(hyg):
    """The ticket keys test_tickets.py wrote (one hex line per key): 16-byte
    windows of each key's secret part, raw and hex, and the base64 line of
    every whole key."""
    path = os.path.join(hyg, "ticket-keys.hex")
    out = set()
    for line in open(path).read().split():
        key = bytes.fromhex(line)
        for w in windows(key[16:]):
            out.update((w, binascii.hexlify(w), binascii.hexlify(w).upper()))
        out.add(base64.b64encode(key))
    return sorted(out)


def snapshot_files(since):
    found = []
    for top in ("/tmp", "/dev/shm"):
        for root, dirs, files in os.walk(top, onerror=lambda e: None):
            for n in files:
                p = os.path.join(root, n)
                try:
                    st = os.lstat(p)
                    if not os.path.isfile(p) or st.st_mtime < since or st.st_size < 32:
                        continue
                    with open(p, "rb") as f:
                        if f.read(4) == b"HTSN":
                            found.append(p)
                except OSError:
                    continue
    return found


def main():
    start = time.time() - 1
    with tempfile.TemporaryDirectory(prefix="hotssl-hygiene-") as hyg:
        os.chmod(hyg, 0o755)
        env = dict(os.environ, HOTSSL_E2E_HYGIENE=hyg, PYTHONDONTWRITEBYTECODE="1")
        for group in ("Start", "Reload", "Decisions"):
            p = subprocess.run([sys.executable, "-B", os.path.join(HERE, "test_catalogue.py"), group],
                               env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            H.check(p.returncode == 0, "catalogue %s in hygiene mode passes:\n%s" % (group, p.stdout[-3000:]))
        p = subprocess.run([sys.executable, "-B", os.path.join(HERE, "test_tickets.py")],
                           env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        H.check(p.returncode == 0, "test_tickets in hygiene mode passes:\n%s" % p.stdout[-3000:])
        der = open(os.path.join(hyg, "key.der"), "rb").read()
        passphrase = open(os.path.join(hyg, "passphrase"), "rb").read().strip()
        outputs = open(os.path.join(hyg, "outputs.log"), "rb").read()
        H.check(len(der) > 32 and passphrase, "known key and passphrase recorded")
        # Not vacuous: the runs served the encrypted key through the command.
        H.check(outputs.count(b"SSL configuration loaded (generation 1)") >= 5,
                "the catalogue's servers loaded the encrypted key")
        H.check(b"wrong passphrase" in outputs, "the error strings were captured")
        w = windows(der)
        pem_lines = [l for l in base64.encodebytes(der).split(b"\n") if len(l) >= 16]
        secrets = [passphrase] + sorted(w) + [binascii.hexlify(x) for x in w] + \
            [binascii.hexlify(x).upper() for x in w] + pem_lines
        # The scan finds what it looks for (a planted line).
        H.check(leaks(b"x " + passphrase + b" y", secrets) and leaks(b"z" + der[5:30], secrets),
                "the scan detects a planted secret")
        tk = ticket_key_secrets(hyg)
        H.check(len(tk) > 100, "the ticket tests recorded their keys")
        H.check(leaks(b"q" + binascii.hexlify(bytes.fromhex(open(os.path.join(hyg, "ticket-keys.hex")).readline())[20:40]), tk),
                "the scan detects a planted ticket key")
        secrets += tk
        found = leaks(outputs, secrets)
        print("hygiene: %d bytes of CLI output searched for the passphrase, %d key windows and "
              "%d ticket-key strings; %d found" % (len(outputs), len(w), len(tk), len(found)))
        H.check(not found, "no secret in any log or error string (found %r)" % found[:3])
        snaps = snapshot_files(start)
        H.check(not snaps, "no snapshot file left on disk (found %r)" % snaps[:5])


if __name__ == "__main__":
    H.check_main(main)
