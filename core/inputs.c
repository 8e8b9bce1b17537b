/*
 * The loader: turns a configuration into hotssl__inputs, the exact bytes of
 * every file (read once through hotssl__file_read) plus the checked settings,
 * and fingerprints them. Nothing here parses certificates; the builder does.
 * Called by the manager under its reload lock; no state.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "hosts.h"

void hotssl__inputs_free(hotssl__inputs *in) {
  size_t i;
  if (in == NULL)
    return;
  hotssl__settings_free(&in->s);
  hotssl__hosts_in_free(in->hosts);
  hotssl__blob_free(&in->cert);
  hotssl__blob_free(&in->key);
  hotssl__blob_free(&in->ca);
  hotssl__blob_free(&in->crl);
  for (i = 0; i < in->n_crl_dir_files; i++)
    hotssl__blob_free(&in->crl_dir_files[i]);
  free(in->crl_dir_files);
  memset(in, 0, sizeof *in);
}

/* what: PostgreSQL's words for the file ("server certificate file", ...). */
static int read_one(hotssl__blob *b, const char *path, const char *what,
                    unsigned flags, uint64_t max, char *errbuf, size_t errlen) {
  char sub[HOTSSL__ERRLEN];
  int r = hotssl__file_read(path, flags, max, b, sub, sizeof sub);
  if (r == HOTSSL_EKEYPERM)
    hotssl__fmt(errbuf, errlen, "%s \"%s\" %s", what, path, sub);
  else if (r != 0)
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, path, sub);
  return r;
}

static void fp_blob(const hotssl__blob *b, unsigned char out[32]) {
  if (b->data != NULL)
    hotssl__sha256(b->data, b->len, out);
  else
    memset(out, 0, 32);
}

#if HOTSSL__MBEDTLS3
#  define SHA_START(c) mbedtls_sha256_starts(c, 0)
#  define SHA_UPDATE(c, d, l) mbedtls_sha256_update(c, d, l)
#  define SHA_FINISH(c, o) mbedtls_sha256_finish(c, o)
#else
#  define SHA_START(c) mbedtls_sha256_starts_ret(c, 0)
#  define SHA_UPDATE(c, d, l) mbedtls_sha256_update_ret(c, d, l)
#  define SHA_FINISH(c, o) mbedtls_sha256_finish_ret(c, o)
#endif

int hotssl__inputs_load(hotssl__inputs *in, const hotssl_config *cfg,
                        char *errbuf, size_t errlen) {
  int r;
  uint64_t max;
  memset(in, 0, sizeof *in);
  if ((r = hotssl__settings_from_config(&in->s, cfg, errbuf, errlen)) != 0)
    return r;
  max = in->s.max_file_size;
  /* With ssl_sni on the configuration file may name no certificate. */
  if (in->s.cert_file != NULL &&
      ((r = read_one(&in->cert, in->s.cert_file, "server certificate file", 0, max, errbuf, errlen)) != 0 ||
       (r = read_one(&in->key, in->s.key_file, "private key file", HOTSSL__READ_KEYFILE, max, errbuf, errlen)) != 0))
    goto fail;
  if (in->s.ca_file != NULL &&
      (r = read_one(&in->ca, in->s.ca_file, "root certificate file", 0, max, errbuf, errlen)) != 0)
    goto fail;
  if (in->s.crl_file != NULL &&
      (r = read_one(&in->crl, in->s.crl_file, "SSL certificate revocation list file", 0, max, errbuf, errlen)) != 0)
    goto fail;
  if (in->s.crl_dir != NULL) {
    char **names = NULL;
    size_t n = 0, i;
    char sub[HOTSSL__ERRLEN];
    r = hotssl__crl_dir_list(in->s.crl_dir, &names, &n, sub, sizeof sub);
    if (r != 0) {
      hotssl__fmt(errbuf, errlen,
                  "could not load SSL certificate revocation list directory \"%s\": %s",
                  in->s.crl_dir, sub);
      goto fail;
    }
    in->crl_dir_files = calloc(n ? n : 1, sizeof *in->crl_dir_files);
    if (in->crl_dir_files == NULL)
      r = HOTSSL_ENOMEM;
    for (i = 0; i < n; i++) {
      if (r == 0) {
        char *p = hotssl__path_join(in->s.crl_dir, names[i]);
        if (p == NULL)
          r = HOTSSL_ENOMEM;
        else
          r = read_one(&in->crl_dir_files[i], p,
                       "SSL certificate revocation list file", 0, max, errbuf, errlen);
        free(p);
        if (r == 0)
          in->n_crl_dir_files = i + 1;
      }
      free(names[i]);
    }
    free(names);
    if (r != 0)
      goto fail;
  }

  /* ssl_sni: the hosts file and every entry's files (core/hosts.c). */
  if (in->s.sni && (r = hotssl__hosts_load(&in->hosts, cfg, &in->s, errbuf, errlen)) != 0)
    goto fail;
  fp_blob(&in->cert, in->fp_cert);
  {
    /* A parsed key is reused by the next generation only when every input
     * that produced it is unchanged: the key bytes, and for an encrypted key
     * the passphrase command and its reload flag (issue 7). A changed command
     * makes the builder decrypt again: it runs the new command when reloads
     * may run it, and refuses the reload otherwise. */
    mbedtls_sha256_context c;
    const char *cmd = in->s.passphrase_command ? in->s.passphrase_command : "";
    unsigned char flag = (unsigned char)(in->s.passphrase_supports_reload ? 1 : 0);
    mbedtls_sha256_init(&c);
    SHA_START(&c);
    if (in->key.data != NULL)
      SHA_UPDATE(&c, in->key.data, in->key.len);
    SHA_UPDATE(&c, (const unsigned char *)"\0cmd", 4);
    SHA_UPDATE(&c, (const unsigned char *)cmd, strlen(cmd) + 1);
    SHA_UPDATE(&c, &flag, 1);
    SHA_FINISH(&c, in->fp_key);
    mbedtls_sha256_free(&c);
  }
  fp_blob(&in->ca, in->fp_ca);
  {
    /* One fingerprint for the whole CRL set (file + directory), in order. */
    mbedtls_sha256_context c;
    size_t i;
    mbedtls_sha256_init(&c);
    SHA_START(&c);
    if (in->crl.data != NULL)
      SHA_UPDATE(&c, in->crl.data, in->crl.len);
    for (i = 0; i < in->n_crl_dir_files; i++) {
      SHA_UPDATE(&c, (const unsigned char *)in->crl_dir_files[i].path,
                 strlen(in->crl_dir_files[i].path) + 1);
      SHA_UPDATE(&c, in->crl_dir_files[i].data, in->crl_dir_files[i].len);
    }
    SHA_FINISH(&c, in->fp_crl);
    mbedtls_sha256_free(&c);
  }
  {
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    SHA_START(&c);
    SHA_UPDATE(&c, (const unsigned char *)in->s.canonical, strlen(in->s.canonical));
    SHA_UPDATE(&c, in->fp_cert, 32);
    SHA_UPDATE(&c, in->fp_key, 32);
    SHA_UPDATE(&c, in->fp_ca, 32);
    SHA_UPDATE(&c, in->fp_crl, 32);
    if (in->hosts != NULL)
      SHA_UPDATE(&c, in->hosts->fp, 32);
    SHA_FINISH(&c, in->fingerprint);
    mbedtls_sha256_free(&c);
  }
  return 0;
fail:
  hotssl__inputs_free(in);
  return r;
}
