/*
 * Writes seed inputs for the snapshot, loader and revocation fuzz targets
 * into DIR/snapshot, DIR/loader and DIR/revocation: from generated material
 * (mbedTLS certgen: EC keys and certificates; openssl CLI, when present, for
 * a CRL and encrypted keys) and, when the directory exists, from
 * PostgreSQL's SSL test files (argv[2]). Not secret: test keys only.
 *   fuzz_seeds DIR [POSTGRESQL_SSL_DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "hotssl/platform.h"
#include "snapshot.h"

static const char *out;
static int written;

static unsigned char *slurp(const char *dir, const char *name, size_t *len) {
  char path[1024];
  FILE *f;
  long n;
  unsigned char *b;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if ((f = fopen(path, "rb")) == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(b);
    return NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void emit(const char *target, const char *name, const unsigned char *p, size_t n) {
  char path[1024];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", out, target);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", out, target, name);
  if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n) {
    perror(path);
    exit(1);
  }
  fclose(f);
  written++;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n, int mode) {
  char path[1024];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n)
    exit(1);
  fclose(f);
  chmod(path, (mode_t)mode);
}

/* loader input: flags, u16 lengths of cert, key, CA, then the parts + CRL */
static void emit_loader(const char *name, unsigned flags, const unsigned char *cert, size_t cl,
                        const unsigned char *key, size_t kl, const unsigned char *ca, size_t al,
                        const unsigned char *crl, size_t rl) {
  size_t n = 7 + cl + kl + al + rl;
  unsigned char *b = malloc(n), *w = b;
  if (b == NULL || cl > 65535 || kl > 65535 || al > 65535) {
    free(b);
    return;
  }
  *w++ = (unsigned char)flags;
  *w++ = (unsigned char)(cl >> 8); *w++ = (unsigned char)cl;
  *w++ = (unsigned char)(kl >> 8); *w++ = (unsigned char)kl;
  *w++ = (unsigned char)(al >> 8); *w++ = (unsigned char)al;
  memcpy(w, cert, cl); w += cl;
  memcpy(w, key, kl); w += kl;
  if (al) memcpy(w, ca, al);
  w += al;
  if (rl) memcpy(w, crl, rl);
  emit("loader", name, b, n);
  free(b);
}

static void emit_revocation(const char *name, const unsigned char *ca, size_t al,
                            const unsigned char *crl, size_t rl) {
  unsigned char *b = malloc(2 + al + rl);
  if (b == NULL || al > 65535) {
    free(b);
    return;
  }
  b[0] = (unsigned char)(al >> 8);
  b[1] = (unsigned char)al;
  memcpy(b + 2, ca, al);
  memcpy(b + 2 + al, crl, rl);
  emit("revocation", name, b, 2 + al + rl);
  free(b);
}

/* Snapshots (both kinds) of a manager on the files in dir. */
static void emit_snapshots(const char *name, const char *dir, const char *conf) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], path[1024], nm[256];
  snprintf(path, sizeof path, "%s/seed.conf", dir);
  write_file(dir, "seed.conf", conf, strlen(conf), 0644);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, path, err, sizeof err) == 0 &&
      hotssl_manager_create(&m, cfg, &o, err, sizeof err) == 0) {
    for (unsigned what = 0; what < 2; what++) {
      unsigned char *b;
      size_t len;
      uint64_t gen;
      if (hotssl__snapshot_encode(m, what, &b, &len, &gen) == 0) {
        snprintf(nm, sizeof nm, "%s-%s", name, what ? "paths" : "contents");
        emit("snapshot", nm, b, len);
        hotssl__snapshot_bytes_free(b, len);
      }
    }
  } else {
    fprintf(stderr, "seeds: %s: %s\n", name, err);
  }
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
}

static void generated(const char *tmp) {
  certgen_rng rng;
  mbedtls_pk_context ca, leaf;
  static char cap[8192], cak[8192], lc[8192], lk[8192];
  char cmd[2048];
  size_t crll = 0;
  unsigned char *crl;
  mbedtls_pk_init(&ca);
  mbedtls_pk_init(&leaf);
  if (certgen_rng_init(&rng) != 0 || certgen_key(&ca, &rng) != 0 || certgen_key(&leaf, &rng) != 0 ||
      certgen_cert(&ca, "CN=seed CA", &ca, "CN=seed CA", 1, "20240101000000", "20990101000000", 1,
                   &rng, cap, sizeof cap) != 0 ||
      certgen_cert(&leaf, "CN=seed", &ca, "CN=seed CA", 2, "20240101000000", "20990101000000", 0,
                   &rng, lc, sizeof lc) != 0 ||
      certgen_key_pem(&ca, cak, sizeof cak) != 0 || certgen_key_pem(&leaf, lk, sizeof lk) != 0) {
    fprintf(stderr, "seeds: certgen failed\n");
    exit(1);
  }
  write_file(tmp, "ca.crt", cap, strlen(cap), 0644);
  write_file(tmp, "ca.key", cak, strlen(cak), 0600);
  write_file(tmp, "leaf.crt", lc, strlen(lc), 0644);
  write_file(tmp, "leaf.key", lk, strlen(lk), 0600);
  emit_loader("gen-pair", 0, (unsigned char *)lc, strlen(lc), (unsigned char *)lk, strlen(lk), NULL, 0, NULL, 0);
  emit_loader("gen-pair-ca", 1, (unsigned char *)lc, strlen(lc), (unsigned char *)lk, strlen(lk),
              (unsigned char *)cap, strlen(cap), NULL, 0);
  emit_snapshots("gen-pair", tmp, "ssl_cert_file='leaf.crt'\nssl_key_file='leaf.key'\n");
  {
    /* ssl_dh_params_file (the T_DH record). */
    unsigned char der[300];
    size_t n = certgen_dh_der(der, sizeof der);
    write_file(tmp, "dh.der", der, n, 0644);
    emit_snapshots("gen-pair-dh", tmp,
                   "ssl_cert_file='leaf.crt'\nssl_key_file='leaf.key'\nssl_dh_params_file='dh.der'\n");
  }
  emit_snapshots("gen-pair-ca", tmp,
                 "ssl_cert_file='leaf.crt'\nssl_key_file='leaf.key'\nssl_ca_file='ca.crt'\n"
                 "ssl_ciphers='TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'\nssl_client_cert='require'\n");
  /* With the openssl CLI: a CRL revoking the leaf, and encrypted keys. */
  snprintf(cmd, sizeof cmd,
           "cd '%s' && (printf '[ca]\\ndefault_ca=b\\n[b]\\ndatabase=index.txt\\ncrlnumber=crlnumber\\n"
           "default_md=sha256\\ndefault_crl_days=30\\n' >ca.cnf && "
           "printf 'R\\t491231000000Z\\t240601000000Z\\t02\\tunknown\\t/CN=seed\\n' >index.txt && "
           "echo 01 >crlnumber && openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out crl.pem && "
           "openssl pkcs8 -topk8 -in leaf.key -v2 aes256 -iter 2048 -passout pass:secret1 -out enc-pbes2.key && "
           "openssl pkcs8 -topk8 -in leaf.key -v1 PBE-SHA1-3DES -iter 2048 -passout pass:secret1 -out enc-p12.key && "
           "openssl pkcs8 -topk8 -in leaf.key -v2 des3 -iter 2048 -passout pass:secret1 -outform DER -out enc-3des.der"
           ") >openssl.log 2>&1", tmp);
  if (system(cmd) == 0 && (crl = slurp(tmp, "crl.pem", &crll)) != NULL) {
    static const char *encs[] = {"enc-pbes2.key", "enc-p12.key", "enc-3des.der"};
    emit_loader("gen-crl", 3, (unsigned char *)lc, strlen(lc), (unsigned char *)lk, strlen(lk),
                (unsigned char *)cap, strlen(cap), crl, crll);
    emit_revocation("gen-crl", (unsigned char *)cap, strlen(cap), crl, crll);
    emit_snapshots("gen-crl", tmp,
                   "ssl_cert_file='leaf.crt'\nssl_key_file='leaf.key'\nssl_ca_file='ca.crt'\nssl_crl_file='crl.pem'\n");
    free(crl);
    for (size_t i = 0; i < 3; i++) {
      size_t kl;
      unsigned char *k = slurp(tmp, encs[i], &kl);
      if (k != NULL) {
        emit_loader(encs[i], 0, (unsigned char *)lc, strlen(lc), k, kl, NULL, 0, NULL, 0);
        free(k);
      }
    }
  } else {
    fprintf(stderr, "seeds: no openssl CLI: no generated CRL or encrypted keys\n");
  }
  mbedtls_pk_free(&ca);
  mbedtls_pk_free(&leaf);
  certgen_rng_free(&rng);
}

static void postgresql(const char *td, const char *tmp) {
  static const struct { const char *name, *cert, *key, *ca, *crl; } L[] = {
      {"pg-server", "server-cn-only.crt", "server-cn-only.key", NULL, NULL},
      {"pg-password", "server-cn-only.crt", "server-password.key", NULL, NULL},
      {"pg-chain", "server-cn-only+server_ca.crt", "server-cn-only.key", "root+client_ca.crt", "root+client.crl"},
      {"pg-der-key", "client.crt", "client-der.key", NULL, NULL},
      {"pg-enc-der", "client.crt", "client-encrypted-der.key", NULL, NULL},
      {"pg-enc-pem", "client.crt", "client-encrypted-pem.key", NULL, NULL},
      {"pg-rsapss", "server-rsapss.crt", "server-rsapss.key", NULL, NULL},
  };
  static const struct { const char *ca, *crl; } R[] = {
      {"root+client_ca.crt", "root+client.crl"}, {"root+server_ca.crt", "root+server.crl"},
      {"root_ca.crt", "root.crl"}, {"client_ca.crt", "client.crl"}, {"server_ca.crt", "server.crl"},
  };
  char nm[64];
  for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
    size_t cl = 0, kl = 0, al = 0, rl = 0;
    unsigned char *c = slurp(td, L[i].cert, &cl), *k = slurp(td, L[i].key, &kl);
    unsigned char *a = L[i].ca ? slurp(td, L[i].ca, &al) : NULL, *r = L[i].crl ? slurp(td, L[i].crl, &rl) : NULL;
    if (c != NULL && k != NULL)
      emit_loader(L[i].name, (a ? 1u : 0u) | (r ? 2u : 0u), c, cl, k, kl, a, al, r, rl);
    if (c != NULL && k != NULL && i < 3) {
      char conf[512];
      write_file(tmp, "pg.crt", c, cl, 0644);
      write_file(tmp, "pg.key", k, kl, 0600);
      if (a) write_file(tmp, "pg-ca.crt", a, al, 0644);
      if (r) write_file(tmp, "pg.crl", r, rl, 0644);
      snprintf(conf, sizeof conf, "ssl_cert_file='pg.crt'\nssl_key_file='pg.key'\n%s%s%s",
               a ? "ssl_ca_file='pg-ca.crt'\n" : "", r ? "ssl_crl_file='pg.crl'\n" : "",
               i == 1 ? "ssl_passphrase_command='echo secret1'\n" : "");
      emit_snapshots(L[i].name, tmp, conf);
    }
    free(c); free(k); free(a); free(r);
  }
  for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
    size_t al = 0, rl = 0;
    unsigned char *a = slurp(td, R[i].ca, &al), *r = slurp(td, R[i].crl, &rl);
    snprintf(nm, sizeof nm, "pg-%zu", i);
    if (a != NULL && r != NULL)
      emit_revocation(nm, a, al, r, rl);
    free(a); free(r);
  }
}

int main(int argc, char **argv) {
  char tmp[] = "/tmp/hotssl-seeds-XXXXXX", cmd[256];
  struct stat st;
  if (argc < 2) {
    fprintf(stderr, "usage: fuzz_seeds DIR [POSTGRESQL_SSL_DIR]\n");
    return 2;
  }
  out = argv[1];
  mkdir(out, 0755);
  if (mkdtemp(tmp) == NULL)
    return 1;
  generated(tmp);
  if (argc > 2 && stat(argv[2], &st) == 0 && S_ISDIR(st.st_mode))
    postgresql(argv[2], tmp);
  else
    fprintf(stderr, "seeds: no PostgreSQL SSL test files: generated seeds only\n");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "seeds: could not remove %s\n", tmp);
  printf("seeds: %d files in %s\n", written, out);
  return written > 0 ? 0 : 1;
}
