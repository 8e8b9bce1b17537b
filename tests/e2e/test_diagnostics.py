"""Deployment diagnostics (docs/live-revocation.md#deployment-diagnostics):
set-ups that load but can never reload, or refuse every client. Each
WARNING appears in `hotssl check` (exit 0) and makes `check --strict` exit
3; a complete set-up gives none.

Crl (any user): a CA of ssl_ca_file without a CRL from it; a CA whose
issuer is missing from ssl_ca_file; both CRLs present: no warning.

Mounts (root only: mount, chown; otherwise the script exits 77, which
ctest reports as skipped, with the reason printed): a real `mount --bind`
of a single file (Kubernetes subPath), a folder on an overlay mount (the
watcher says it polls), a root-owned group-readable key read by user
nobody, and a world-readable key (refused, with the Kubernetes hint).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import e2elib as E

WARN_NO_CRL = 'CRLs are configured but none is from CA "/CN=diag intermediate"'
WARN_NO_ISSUER = ('CA "/CN=diag intermediate" of ssl_ca_file was issued by "/CN=diag root", '
                  'which is not in ssl_ca_file')
WARN_BIND = "is a bind mount of a single file (Kubernetes subPath)"
WARN_OVERLAY = "is on a overlay filesystem"
WARN_GROUP_KEY = "is owned by root and readable by group"


def make_pki(d):
    pki = E.Pki(os.path.join(d, "pki"))
    root = pki.ca("root", "diag root")
    inter = pki.intermediate("inter", root, "diag intermediate", 77)
    pki.leaf("server", root, 0x1001, cn="localhost")
    return pki, pki.crl("root", root), pki.crl("inter", inter)


def cat(out, *files):
    E.write(out, b"".join(E.read(f) for f in files))
    return out


def check(conf, strict=False, prefix=()):
    p = E.run(list(prefix) + [E.cli(), "check", "-c", conf] + (["--strict"] if strict else []))
    return p.returncode, p.stdout + p.stderr


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = E.H.TempDir("hotssl-diag-")
        self.d = self.tmp.path
        self.pki, self.root_crl, self.inter_crl = make_pki(self.d)

    def tearDown(self):
        self.tmp.cleanup()

    def conf(self, ca, crl, cert=None, key=None, name="tls.conf", extra=""):
        p = self.pki.path
        path = os.path.join(self.d, name)
        E.write(path, "ssl_cert_file = '%s'\nssl_key_file = '%s'\nssl_ca_file = '%s'\n%s%s"
                % (cert or p("server.crt"), key or p("server.key"), ca,
                   "ssl_crl_file = '%s'\n" % crl if crl else "", extra))
        return path

    def assert_warns(self, conf, text, prefix=()):
        rc, out = check(conf, prefix=prefix)
        self.assertEqual(rc, 0, out)
        self.assertIn("WARNING:  ", out)
        self.assertIn(text, out)
        rc, out = check(conf, strict=True, prefix=prefix)
        self.assertEqual(rc, 3, out)
        return out


class Crl(Base):
    def test_no_crl_from_a_ca(self):
        p = self.pki.path
        ca = cat(os.path.join(self.d, "ca.crt"), p("root.crt"), p("inter.crt"))
        self.assert_warns(self.conf(ca, self.root_crl), WARN_NO_CRL)

    def test_issuer_not_in_ca_file(self):
        crl = cat(os.path.join(self.d, "crl.pem"), self.root_crl, self.inter_crl)
        out = self.assert_warns(self.conf(self.pki.path("inter.crt"), crl), WARN_NO_ISSUER)
        self.assertNotIn(WARN_NO_CRL, out)

    def test_complete_set(self):
        p = self.pki.path
        ca = cat(os.path.join(self.d, "ca.crt"), p("root.crt"), p("inter.crt"))
        crl = cat(os.path.join(self.d, "crl.pem"), self.root_crl, self.inter_crl)
        conf = self.conf(ca, crl)
        rc, out = check(conf, strict=True)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("WARNING", out)
        # No CRL at all: nothing to lock anyone out.
        rc, out = check(self.conf(ca, None, name="nocrl.conf"), strict=True)
        self.assertEqual(rc, 0, out)


def sh(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=E.DEADLINE)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stdout))


class Mounts(Base):
    def setUp(self):
        super().setUp()
        self.mounts = []
        os.chmod(self.d, 0o755)

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], timeout=E.DEADLINE)
        super().tearDown()

    def test_bind_mount_of_a_single_file(self):
        # Kubernetes subPath: the container's file is a bind mount of one
        # file of the volume.
        p = self.pki.path
        conf_dir = os.path.join(self.d, "etc")
        os.makedirs(conf_dir)
        target = os.path.join(conf_dir, "server.crt")
        E.write(target, "")
        sh("mount", "--bind", p("server.crt"), target)
        self.mounts.append(target)
        conf = self.conf(p("root.crt"), None, cert=target)
        self.assert_warns(conf, '"%s" %s' % (target, WARN_BIND))
        # At start too.
        with E.Server(conf) as s:
            s.wait_err(re.escape(WARN_BIND))
            self.assertEqual(s.stop(), 0)

    def test_overlay_folder(self):
        lower, upper, work, merged = (os.path.join(self.d, n) for n in ("lower", "upper", "work", "merged"))
        for x in (lower, upper, work, merged):
            os.makedirs(x)
        shutil.copy(self.pki.path("root.crt"), os.path.join(lower, "ca.crt"))
        sh("mount", "-t", "overlay", "overlay", "-o",
           "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), merged)
        self.mounts.append(merged)
        conf = self.conf(os.path.join(merged, "ca.crt"), None)
        self.assert_warns(conf, WARN_OVERLAY)
        # The watcher polls it and says so.
        with E.Server(conf, watch=True) as s:
            s.wait_err(r"file watch: \"%s\" is on a overlay filesystem.*polling every" % merged)
            self.assertEqual(s.stop(), 0)

    def test_group_readable_key(self):
        uid, gid = E.nobody_ids()
        prefix = E.setpriv_prefix()
        binary = E.binary_for_nobody(self.d)
        p = self.pki.path
        os.chmod(self.pki.dir, 0o755)
        for n in ("server.crt", "root.crt"):
            os.chmod(p(n), 0o644)
        key = os.path.join(self.d, "group.key")
        shutil.copy(p("server.key"), key)
        os.chown(key, 0, gid)
        os.chmod(key, 0o640)
        conf = self.conf(p("root.crt"), None, key=key)
        os.chmod(conf, 0o644)
        for strict, want in ((False, 0), (True, 3)):
            r = E.run(prefix + [binary, "check", "-c", conf] + (["--strict"] if strict else []))
            self.assertEqual(r.returncode, want, r.stdout + r.stderr)
            self.assertIn(WARN_GROUP_KEY + " %d (mode 0640)" % gid, r.stdout)
        # World-readable, as Kubernetes' default defaultMode 0644 makes it:
        # refused, with the hint.
        os.chmod(key, 0o644)
        r = E.run(prefix + [binary, "check", "-c", conf])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("has group or world access", r.stderr)
        self.assertIn("HINT:  Kubernetes mounts Secret files with defaultMode 0644", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "Mounts" and os.geteuid() != 0:
        print("test_diagnostics Mounts: skipped: needs root (mount --bind, mount -t overlay, chown)")
        sys.exit(77)
    E.main("test_diagnostics")
