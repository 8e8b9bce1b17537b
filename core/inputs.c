/*
 * The loader: turns a configuration into hotssl__inputs, the exact bytes of
 * every file (read once through hotssl__file_read) plus the checked settings,
 * and fingerprints them. Nothing here parses certificates; the builder does.
 * With the manager's memos (hotssl__inputs_load_memo), a file whose identity
 * is unchanged since the last load costs an open and an fstat, not a read
 * and a hash. Called by the manager under its build lock; no state of its
 * own.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "../os/os.h"
#include "inputs.h"
#include "revocation.h"
#include "util.h"

void hotssl__inputs_free_own(hotssl__inputs *in) {
  size_t i;
  if (in == NULL)
    return;
  hotssl__settings_free(&in->s);
  hotssl__blob_free(&in->cert);
  hotssl__blob_free(&in->key);
  hotssl__blob_free(&in->ca);
  hotssl__blob_free(&in->crl);
  hotssl__blob_free(&in->dh);
  hotssl__blob_free(&in->tkeys);
  for (i = 0; i < in->n_crl_dir_files; i++)
    hotssl__blob_free(&in->crl_dir_files[i]);
  free(in->crl_dir_files);
  hotssl__revocation_free(in->rev);
  mbedtls_platform_zeroize(in->ticket_seed, sizeof in->ticket_seed);
  memset(in, 0, sizeof *in);
}

/* ---- memos ---- */

void hotssl__file_memos_free(hotssl__file_memos *m) {
  size_t i;
  if (m == NULL)
    return;
  for (i = 0; i < m->n; i++)
    free(m->v[i].path);
  free(m->v);
  m->v = NULL;
  m->n = 0;
}

int hotssl__file_memo_trusted(const hotssl__file_memo *memo) {
  int64_t limit = memo->seen_ns - HOTSSL__RACY_NS;
  return memo->id.mtime_ns < limit && memo->id.ctime_ns < limit;
}

static int memo_cmp(const void *a, const void *b) {
  return strcmp(((const hotssl__file_memo *)a)->path, ((const hotssl__file_memo *)b)->path);
}

/* memos are sorted by path (hotssl__file_memos_update): one memo per path, found in
 * log time (a hosts file can name thousands of files). */
static const hotssl__file_memo *memo_find(const hotssl__file_memos *m, const char *path) {
  hotssl__file_memo key;
  if (m == NULL || m->n == 0)
    return NULL;
  key.path = (char *)path;
  return bsearch(&key, m->v, m->n, sizeof *m->v, memo_cmp);
}

/* Calls fn on every file blob of in (its own: not its hosts entries'). */
static int each_file(const hotssl__inputs *in, int (*fn)(void *ctx, const hotssl__blob *b),
                     void *ctx) {
  const hotssl__blob *b[4] = {&in->cert, &in->key, &in->ca, &in->crl};
  size_t i;
  int r;
  for (i = 0; i < 4 + in->n_crl_dir_files; i++)
    if ((r = fn(ctx, i < 4 ? b[i] : &in->crl_dir_files[i - 4])) != 0)
      return r;
  return 0;
}

typedef struct memo_list {
  hotssl__file_memo *v;
  size_t n, cap;
} memo_list;

static int count_file(void *ctx, const hotssl__blob *b) {
  ((memo_list *)ctx)->cap += HOTSSL__BLOB_SET(*b) ? 1 : 0;
  return 0;
}

static int add_memo(void *ctx, const hotssl__blob *b) {
  memo_list *l = ctx;
  hotssl__file_memo *m = &l->v[l->n];
  if (!HOTSSL__BLOB_SET(*b))
    return 0;
  if ((m->path = hotssl__strdup(b->path)) == NULL)
    return HOTSSL_ENOMEM;
  m->id = b->id;
  m->seen_ns = b->seen_ns;
  memcpy(m->sha256, b->sha256, 32);
  l->n++;
  return 0;
}

void hotssl__file_memos_update(hotssl__file_memos *m, const hotssl__inputs *const *ins,
                               size_t n_ins) {
  memo_list l = {NULL, 0, 0};
  size_t i, n = 0;
  int r = 0;
  for (i = 0; i < n_ins; i++)
    each_file(ins[i], count_file, &l);
  if ((l.v = calloc(l.cap ? l.cap : 1, sizeof *l.v)) != NULL) {
    for (i = 0; i < n_ins && r == 0; i++)
      r = each_file(ins[i], add_memo, &l);
  }
  if (l.v != NULL && r != 0) {
    hotssl__file_memos_free(&(hotssl__file_memos){l.v, l.n});
    l.v = NULL;
    l.n = 0;
  }
  if (l.v != NULL && l.n > 0) {
    qsort(l.v, l.n, sizeof *l.v, memo_cmp);
    for (i = 0; i < l.n; i++) {
      if (n > 0 && strcmp(l.v[n - 1].path, l.v[i].path) == 0)
        free(l.v[i].path);
      else
        l.v[n++] = l.v[i];
    }
  }
  hotssl__file_memos_free(m);
  m->v = l.v;
  m->n = n;
}

/* what: PostgreSQL's words for the file ("server certificate file", ...).
 * With a trusted memo for path, an unchanged file is not read. */
static int read_one(hotssl__blob *b, const char *path, const char *what, unsigned flags,
                    uint64_t max, const hotssl__file_memos *memos, char *errbuf, size_t errlen) {
  char sub[HOTSSL__ERRLEN];
  const hotssl__file_memo *memo = memo_find(memos, path);
  int r;
  if (memo != NULL && !hotssl__file_memo_trusted(memo))
    memo = NULL;
  r = hotssl__file_read(path, flags, max, memo != NULL ? &memo->id : NULL, b, sub, sizeof sub);
  if (r == HOTSSL_EKEYPERM)
    hotssl__fmt(errbuf, errlen, "%s \"%s\" %s", what, path, sub);
  else if (r != 0)
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, path, sub);
  else if (HOTSSL__BLOB_UNREAD(*b) && memo != NULL) /* only a memo's identity lets a read be skipped */
    memcpy(b->sha256, memo->sha256, 32);
  return r;
}

/* Read b again, for real, when it was skipped but is needed after all. */
static int reread(hotssl__blob *b, const char *what, unsigned flags, uint64_t max,
                  char *errbuf, size_t errlen) {
  char *path;
  int r;
  if (!HOTSSL__BLOB_UNREAD(*b))
    return 0;
  if ((path = hotssl__strdup(b->path)) == NULL)
    return HOTSSL_ENOMEM;
  hotssl__blob_free(b);
  r = read_one(b, path, what, flags, max, NULL, errbuf, errlen);
  free(path);
  return r;
}

static void fp_blob(const hotssl__blob *b, unsigned char out[32]) {
  if (HOTSSL__BLOB_SET(*b))
    memcpy(out, b->sha256, 32);
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

/* One fingerprint for the whole CRL set (file + directory, in order), over
 * each file's name and content hash. */
static void fp_crl_set(hotssl__inputs *in) {
  mbedtls_sha256_context c;
  size_t i;
  mbedtls_sha256_init(&c);
  SHA_START(&c);
  if (HOTSSL__BLOB_SET(in->crl))
    SHA_UPDATE(&c, in->crl.sha256, 32);
  for (i = 0; i < in->n_crl_dir_files; i++) {
    SHA_UPDATE(&c, (const unsigned char *)in->crl_dir_files[i].path,
               strlen(in->crl_dir_files[i].path) + 1);
    SHA_UPDATE(&c, in->crl_dir_files[i].sha256, 32);
  }
  SHA_FINISH(&c, in->fp_crl);
  mbedtls_sha256_free(&c);
}

/* A parsed key is reused by the next generation only when every input that
 * produced it is unchanged: the key's content (its hash, known even when the
 * file was not read again), and for an encrypted key the passphrase command
 * and its reload flag. A changed command makes the builder decrypt
 * again: it runs the new command when reloads may run it, and refuses the
 * reload otherwise. */
static void fp_key(hotssl__inputs *in) {
  mbedtls_sha256_context c;
  const char *cmd = in->s.passphrase_command ? in->s.passphrase_command : "";
  unsigned char flag = (unsigned char)(in->s.passphrase_supports_reload ? 1 : 0);
  mbedtls_sha256_init(&c);
  SHA_START(&c);
  if (HOTSSL__BLOB_SET(in->key))
    SHA_UPDATE(&c, in->key.sha256, 32);
  SHA_UPDATE(&c, (const unsigned char *)"\0cmd", 4);
  SHA_UPDATE(&c, (const unsigned char *)cmd, strlen(cmd) + 1);
  SHA_UPDATE(&c, &flag, 1);
  SHA_FINISH(&c, in->fp_key);
  mbedtls_sha256_free(&c);
}

static int fp_is(const unsigned char fp[32], const unsigned char *lent) {
  return lent != NULL && memcmp(fp, lent, 32) == 0;
}

#define CRL_WHAT "SSL certificate revocation list file"

/* Files skipped by their memo stay skipped only where the builder reuses
 * the lender's parsed object (its reuse rules: core/identity.c,
 * core/trust.c): same hash, and for the CRL set also the same CA set (a new
 * CA set re-verifies the CRLs). */
static int reread_unless_reused(hotssl__inputs *in, const hotssl__lender *lend,
                                char *errbuf, size_t errlen) {
  static const hotssl__lender none = {NULL, NULL, NULL, NULL};
  uint64_t max = in->s.max_file_size;
  int r, crl_reused;
  size_t i;
  if (lend == NULL)
    lend = &none;
  if (!fp_is(in->fp_cert, lend->cert) &&
      (r = reread(&in->cert, "server certificate file", 0, max, errbuf, errlen)) != 0)
    return r;
  if (!fp_is(in->fp_key, lend->key) &&
      (r = reread(&in->key, "private key file", HOTSSL__READ_KEYFILE, max, errbuf, errlen)) != 0)
    return r;
  if (!fp_is(in->fp_ca, lend->ca) &&
      (r = reread(&in->ca, "root certificate file", 0, max, errbuf, errlen)) != 0)
    return r;
  crl_reused = fp_is(in->fp_crl, lend->crl) && fp_is(in->fp_ca, lend->ca);
  if (!crl_reused) {
    if ((r = reread(&in->crl, CRL_WHAT, 0, max, errbuf, errlen)) != 0)
      return r;
    for (i = 0; i < in->n_crl_dir_files; i++)
      if ((r = reread(&in->crl_dir_files[i], CRL_WHAT, 0, max, errbuf, errlen)) != 0)
        return r;
  }
  /* Content read again may differ from the memo (a racy change). */
  fp_blob(&in->cert, in->fp_cert);
  fp_key(in);
  fp_blob(&in->ca, in->fp_ca);
  fp_crl_set(in);
  return 0;
}

int hotssl__inputs_load_files(hotssl__inputs *in, const hotssl_config *cfg,
                              const hotssl__file_memos *memos, char *errbuf, size_t errlen) {
  int r;
  uint64_t max;
  memset(in, 0, sizeof *in);
  if ((r = hotssl__settings_from_config(&in->s, cfg, errbuf, errlen)) != 0)
    return r;
  max = in->s.max_file_size;
  /* With ssl_sni on the configuration file may name no certificate. */
  if (in->s.cert_file != NULL &&
      ((r = read_one(&in->cert, in->s.cert_file, "server certificate file", 0, max, memos, errbuf, errlen)) != 0 ||
       (r = read_one(&in->key, in->s.key_file, "private key file", HOTSSL__READ_KEYFILE, max, memos, errbuf, errlen)) != 0))
    goto fail;
  if (in->s.ca_file != NULL &&
      (r = read_one(&in->ca, in->s.ca_file, "root certificate file", 0, max, memos, errbuf, errlen)) != 0)
    goto fail;
  if (in->s.crl_file != NULL &&
      (r = read_one(&in->crl, in->s.crl_file, CRL_WHAT, 0, max, memos, errbuf, errlen)) != 0)
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
          r = read_one(&in->crl_dir_files[i], p, CRL_WHAT, 0, max, memos, errbuf, errlen);
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

  /* Small, and its parsed form is not kept: read at every load. */
  if (in->s.dh_file != NULL &&
      (r = read_one(&in->dh, in->s.dh_file, "DH parameters file", 0, max, NULL, errbuf, errlen)) != 0)
    goto fail;
  fp_blob(&in->dh, in->fp_dh);
  /* Key material: read with the key-file rule, at every load. */
  if (in->s.tickets && in->s.ticket_key_file != NULL &&
      (r = read_one(&in->tkeys, in->s.ticket_key_file, "session ticket key file",
                    HOTSSL__READ_KEYFILE, max, NULL, errbuf, errlen)) != 0)
    goto fail;
  fp_blob(&in->tkeys, in->fp_tkeys);

  fp_blob(&in->cert, in->fp_cert);
  fp_key(in);
  fp_blob(&in->ca, in->fp_ca);
  fp_crl_set(in);
  return 0;
fail:
  hotssl__inputs_free_own(in);
  return r;
}

int hotssl__inputs_settle(hotssl__inputs *in, const hotssl__lender *lend,
                          const unsigned char *hosts_fp, char *errbuf, size_t errlen) {
  int r;
  if ((r = reread_unless_reused(in, lend, errbuf, errlen)) != 0)
    return r;
  {
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    SHA_START(&c);
    SHA_UPDATE(&c, (const unsigned char *)in->s.canonical, strlen(in->s.canonical));
    SHA_UPDATE(&c, in->fp_cert, 32);
    SHA_UPDATE(&c, in->fp_key, 32);
    SHA_UPDATE(&c, in->fp_ca, 32);
    SHA_UPDATE(&c, in->fp_crl, 32);
    SHA_UPDATE(&c, in->fp_dh, 32);
    SHA_UPDATE(&c, in->fp_tkeys, 32);
    if (hosts_fp != NULL)
      SHA_UPDATE(&c, hosts_fp, 32);
    SHA_FINISH(&c, in->fingerprint);
    mbedtls_sha256_free(&c);
  }
  return 0;
}
