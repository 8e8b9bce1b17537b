"""Private keys encrypted by today's `openssl` CLI, generated in the test.

OpenSSL 3 writes PKCS#8 PBES2 (PBKDF2 with HMAC-SHA256, AES-256-CBC) by
default, a form mbedTLS 2.28 refuses on its own; hotssl decrypts it itself.
Legacy PEM encryption ("Proc-Type: 4,ENCRYPTED", DEK-Info AES-256-CBC) is
what `openssl rsa -traditional` and `openssl ec` write. Every variant must
load with the right passphrase (check passes, serve serves the matching
certificate to a real client) and fail with a wrong one, the error naming the
key file. At reload an encrypted key loads only with
ssl_passphrase_command_supports_reload = on, as in PostgreSQL.
"""
import os
import shutil
import tempfile
import unittest

import e2elib as E

TMP = None
PKI = None
CA = None
PASS = "Tr0ub4dor&3 with spaces"
VARIANTS = {}   # name -> (encrypted key path, cert path, serial)


def ossl_pass(p):
    return "pass:" + p


def setUpModule():
    global TMP, PKI, CA
    TMP = tempfile.mkdtemp(prefix="hotssl-e2e-keys-")
    PKI = E.Pki(os.path.join(TMP, "pki"))
    CA = PKI.ca("ca", "hotssl e2e keys CA")
    rsa = PKI.genkey("rsa-plain", "rsa")
    ec = PKI.genkey("ec-plain", "ec")
    pw = ossl_pass(PASS)
    serial = 0x5E00

    def variant(name, enc, plain, expect_header):
        nonlocal serial
        serial += 1
        text = E.read(enc).decode()
        assert expect_header in text, "%s: %s not in the key written by openssl:\n%s" % (name, expect_header, text[:200])
        crt, _ = PKI.leaf(name, CA, serial, cn="localhost", key=plain)
        VARIANTS[name] = (enc, crt, serial)

    # PBES2 AES-256 straight from key generation (genpkey -aes256).
    for kind in ("rsa", "ec"):
        enc = PKI.path("genpkey-%s-aes256.key" % kind)
        args = ["genpkey", "-algorithm", "RSA" if kind == "rsa" else "EC"]
        args += ["-pkeyopt", "rsa_keygen_bits:2048" if kind == "rsa" else "ec_paramgen_curve:P-256"]
        PKI.ossl(*(args + ["-aes256", "-pass", pw, "-out", enc]))
        plain = PKI.path("genpkey-%s-plain.key" % kind)
        PKI.ossl("pkey", "-in", enc, "-passin", pw, "-out", plain)
        variant("pbes2_genpkey_%s" % kind, enc, plain, "BEGIN ENCRYPTED PRIVATE KEY")
    # PBES2 AES-256 by `openssl pkey -aes256` and `openssl pkcs8 -v2 aes-256-cbc`.
    enc = PKI.path("pkey-rsa-aes256.key")
    PKI.ossl("pkey", "-in", rsa, "-aes256", "-passout", pw, "-out", enc)
    variant("pbes2_pkey_rsa", enc, rsa, "BEGIN ENCRYPTED PRIVATE KEY")
    enc = PKI.path("pkcs8-ec-aes256.key")
    PKI.ossl("pkcs8", "-topk8", "-in", ec, "-v2", "aes-256-cbc", "-passout", pw, "-out", enc)
    variant("pbes2_pkcs8_ec", enc, ec, "BEGIN ENCRYPTED PRIVATE KEY")
    # Legacy PEM encryption.
    enc = PKI.path("legacy-rsa-aes256.key")
    PKI.ossl("rsa", "-in", rsa, "-aes256", "-traditional", "-passout", pw, "-out", enc)
    variant("legacy_rsa_traditional", enc, rsa, "Proc-Type: 4,ENCRYPTED")
    enc = PKI.path("legacy-ec-aes256.key")
    PKI.ossl("ec", "-in", ec, "-aes256", "-passout", pw, "-out", enc)
    variant("legacy_ec", enc, ec, "Proc-Type: 4,ENCRYPTED")


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def setup_dir(key, crt, command, supports_reload=False):
    """A case folder; {dir} in command is replaced by the folder."""
    d = tempfile.mkdtemp(dir=TMP)
    command = command.replace("{dir}", d)
    shutil.copyfile(key, os.path.join(d, "server.key"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    shutil.copyfile(crt, os.path.join(d, "server.crt"))
    # The passphrase reaches the command through a file, so any character works.
    E.write(os.path.join(d, "pass.txt"), PASS + "\n")
    lines = ["ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "hotssl_watch = off",
             "ssl_passphrase_command = '%s'" % command.replace("'", "''"),
             "ssl_passphrase_command_supports_reload = %s" % ("on" if supports_reload else "off")]
    conf = os.path.join(d, "hotssl.conf")
    E.write(conf, "\n".join(lines) + "\n")
    return d, conf


class EncryptedKeys(unittest.TestCase):
    def test_each_variant_loads_with_the_right_passphrase(self):
        self.assertGreaterEqual(len(VARIANTS), 6)
        for name, (key, crt, serial) in sorted(VARIANTS.items()):
            with self.subTest(variant=name):
                # The command prints the passphrase kept in the case folder.
                d, conf = setup_dir(key, crt, "cat '{dir}/pass.txt'")
                p = E.run([E.cli(), "check", "-c", conf])
                self.assertEqual(p.returncode, 0, "%s: %s" % (name, p.stderr))
                self.assertIn("configuration OK", p.stdout)
                with E.Server(conf) as s:
                    self.assertEqual(E.served_serial(s.port), serial)
                    self.assertEqual(s.stop(), 0)

    def test_each_variant_fails_with_a_wrong_passphrase(self):
        for name, (key, crt, serial) in sorted(VARIANTS.items()):
            with self.subTest(variant=name):
                d, conf = setup_dir(key, crt, "echo not-the-passphrase")
                keypath = '"%s"' % os.path.join(d, "server.key")
                p = E.run([E.cli(), "check", "-c", conf])
                self.assertNotEqual(p.returncode, 0, name)
                self.assertIn(keypath, p.stderr)
                self.assertIn("wrong passphrase", p.stderr, name)
                rc, out, err = E.serve_must_fail(conf)
                self.assertNotEqual(rc, 0)
                self.assertIn(keypath, err)

    def test_percent_p_is_the_prompt(self):
        # %p expands to the prompt; the command sees it as an argument.
        key, crt, serial = VARIANTS["pbes2_pkey_rsa"]
        # An absolute program path with arguments, as operators write it.
        d, conf = setup_dir(key, crt, "{dir}/askpass.sh %p")
        E.write(os.path.join(d, "askpass.sh"),
                '#!/bin/sh\n[ -n "$1" ] || exit 7\nprintf "%%s" "$*" > "%s/prompt.txt"\ncat "%s/pass.txt"\n'
                % (d, d), 0o755)
        p = E.run([E.cli(), "check", "-c", conf])
        self.assertEqual(p.returncode, 0, p.stderr)
        prompt = E.read(os.path.join(d, "prompt.txt")).decode()
        self.assertNotIn("%p", prompt)
        self.assertIn("pass phrase", prompt)

    def test_reload_to_encrypted_key_needs_supports_reload(self):
        plain_crt, plain_key = PKI.leaf("reload-start", CA, 0x5EFF, cn="localhost")
        for supports in (False, True):
            with self.subTest(supports_reload=supports):
                key, crt, serial = VARIANTS["pbes2_genpkey_ec"]
                d, conf = setup_dir(plain_key, plain_crt, "cat '{dir}/pass.txt'", supports)
                with E.Server(conf) as s:
                    self.assertEqual(E.served_serial(s.port), 0x5EFF)
                    shutil.copyfile(key, os.path.join(d, "server.key"))
                    shutil.copyfile(crt, os.path.join(d, "server.crt"))
                    line, lines = s.reload()
                    if supports:
                        self.assertRegex(line, r"SSL configuration reloaded \(generation 2\)")
                        self.assertEqual(E.served_serial(s.port), serial)
                    else:
                        self.assertIn("SSL configuration was not reloaded: ", line)
                        self.assertIn('"%s"' % os.path.join(d, "server.key"), line)
                        self.assertIn("ssl_passphrase_command_supports_reload is off", line)
                        self.assertEqual(E.served_serial(s.port), 0x5EFF)
                    self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    E.main("e2e_openssl_keys")
