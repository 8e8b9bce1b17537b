/*
 * ssl_sni, the builder side (the hosts file and its loader are core/hosts.c):
 * each entry becomes a sub-generation (its own parsed objects,
 * client-certificate mode, verify callback); the served generation is built
 * from the identity that serves connections without a server name (the
 * /no_sni/ entry, else the configuration file's certificate, else none:
 * those handshakes fail) and owns the entries; its SNI callback points the
 * handshake at one entry. A reload builds all of it on the side: all or
 * nothing. The SNI callback runs on handshake threads and only reads.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../os/os.h"
#include "build_one.h"
#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "log.h"
#include "sni.h"
#include "tickets.h"
#include "util.h"
#include "verify.h"

void hotssl__hosts_free(struct hotssl__hosts *h) {
  size_t i;
  if (h == NULL)
    return;
  for (i = 0; i < h->n; i++) {
    hotssl__hosts_names_free(h->v[i].names, h->v[i].n_names);
    free(h->v[i].cert_file);
    free(h->v[i].key_file);
    free(h->v[i].ca_file);
    hotssl_generation_release(h->v[i].g);
  }
  free(h->v);
  free(h->ix);
  free(h->path);
  free(h);
}


static int name_cmp(const unsigned char *name, size_t len, const hotssl__host_name *x) {
  size_t i, n = len < x->len ? len : x->len;
  for (i = 0; i < n; i++) {
    int a = name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i], b = (unsigned char)x->name[i];
    if (a != b)
      return a < b ? -1 : 1;
  }
  return len < x->len ? -1 : len > x->len;
}

#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
/* The SNI callback: exact names (any letter case), else "*", else the
 * handshake fails with the unrecognized_name alert (mbedTLS sends it when
 * this returns non-zero, in TLS 1.2 and 1.3). */
static int sni_callback(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  const struct hotssl__hosts *h = ctx;
  size_t lo = 0, hi = h->n_ix;
  long found = -1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int d = name_cmp(name, len, &h->ix[mid]);
    if (d == 0) {
      found = (long)h->ix[mid].host;
      break;
    }
    if (d < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (found < 0)
    found = h->idx_default;
  if (found < 0)
    return -1;
  hotssl__tickets_note_sni(ssl, h, found); /* session tickets compare their entry */
  return hotssl__verify_select(ssl, h->v[found].g);
}
#endif

/* One identity's generation, with the client-certificate verifier. */
static int build_one(hotssl_generation **out, hotssl__inputs *in, const hotssl_generation *prev,
                     int is_reload, uint64_t number, const hotssl__log *log, char *errbuf,
                     size_t errlen) {
  int r = hotssl__generation_build_one(out, in, prev, is_reload, number, log, errbuf, errlen);
  if (r == 0)
    hotssl__verify_attach(*out);
  return r;
}

/* Entry e built into out (its generation, files and names, which it takes
 * from e), lend lending parsed objects; errors name the hosts file's line. */
static int build_entry(hotssl__host *out, hotssl__host_in *e, const hotssl_generation *lend,
                       int is_reload, uint64_t number, const hotssl__log *log, const char *path,
                       char *errbuf, size_t errlen) {
  char sub[HOTSSL__ERRLEN];
  int r = build_one(&out->g, &e->in, lend, is_reload, number, log, sub, sizeof sub);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "%s (hosts file \"%s\" line %u)", sub, path, e->line);
    return r;
  }
  if ((out->cert_file = hotssl__strdup(e->in.s.cert_file)) == NULL ||
      (out->key_file = hotssl__strdup(e->in.s.key_file)) == NULL ||
      (e->in.s.ca_file != NULL && (out->ca_file = hotssl__strdup(e->in.s.ca_file)) == NULL))
    return HOTSSL_ENOMEM;
  out->line = e->line;
  out->is_default = e->is_default;
  out->is_no_sni = e->is_no_sni;
  out->names = e->names;
  out->n_names = e->n_names;
  e->names = NULL;
  e->n_names = 0;
  return 0;
}

/* h's names, sorted, for the SNI callback. */
static int index_names(struct hotssl__hosts *h) {
  char ***names = calloc(h->n, sizeof *names);
  size_t *nn = calloc(h->n, sizeof *nn);
  size_t i;
  int r = HOTSSL_ENOMEM;
  if (names != NULL && nn != NULL) {
    for (i = 0; i < h->n; i++) {
      names[i] = h->v[i].names;
      nn[i] = h->v[i].n_names;
    }
    r = hotssl__hosts_name_index(names, nn, h->n, &h->ix, &h->n_ix);
  }
  free(names);
  free(nn);
  return r;
}

int hotssl__hosts_build(hotssl_generation **out, hotssl__inputs *in,
                        const hotssl_generation *prev, int is_reload, uint64_t number,
                        const hotssl__log *log, char *errbuf, size_t errlen) {
  struct hotssl__hosts_in *hi = in->hosts;
  struct hotssl__hosts *h = NULL;
  hotssl_generation *top = NULL;
  hotssl__inputs *top_in = in;
  const hotssl_generation *top_prev = prev;
  char sub[HOTSSL__ERRLEN];
  size_t i;
  long top_entry = -1;
  int r;

  *out = NULL;
#if !defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  if (hi->n > 0) {
    hotssl__fmt(errbuf, errlen, "ssl_sni is on but this mbedTLS build has no SNI support");
    return HOTSSL_ENOTSUP;
  }
#endif
  for (i = 0; i < hi->n; i++)
    if (hi->v[i].is_no_sni)
      top_entry = (long)i;
  if (top_entry < 0 && in->s.cert_file != NULL && in->s.ca_file == NULL &&
      in->s.client_cert == HOTSSL__CLIENT_CERT_REQUIRE) {
    hotssl__fmt(errbuf, errlen,
                "client certificates can only be checked if a root certificate store is available (ssl_client_cert = require, and ssl_cert_file, which serves connections %s, has no ssl_ca_file)",
                hi->n == 0 ? "to every name (the hosts file has no entries)" : "without a server name");
    return HOTSSL_ECONFIG;
  }
  if (hi->n == 0) {
    /* No entries: the configuration file's certificate serves everyone. */
    if (in->s.cert_file == NULL) {
      hotssl__fmt(errbuf, errlen,
                  "ssl_sni is on, hosts file \"%s\" has no entries and the configuration names no certificate (ssl_cert_file is empty)",
                  hi->path);
      return HOTSSL_ECONFIG;
    }
    return build_one(out, in, prev, is_reload, number, log, errbuf, errlen);
  }
  for (i = 0; i < hi->n; i++)
    hi->v[i].in.ctx.spawn_lock = in->ctx.spawn_lock; /* the manager's, for passphrase commands */
  if (top_entry < 0 && in->s.cert_file == NULL) {
    /* Nothing serves a connection without a server name: handshake_failure. */
    top_entry = 0;
    hi->v[0].in.ctx.no_own_cert = 1;
  }
  if (top_entry >= 0) {
    top_in = &hi->v[top_entry].in;
    top_prev = hotssl__hosts_lender(prev, top_in, (size_t)top_entry);
    /* The configuration's DH parameters go to the served generation. */
    hotssl__blob_free(&top_in->dh);
    top_in->dh = in->dh;
    memset(&in->dh, 0, sizeof in->dh);
    memcpy(top_in->fp_dh, in->fp_dh, 32);
    top_in->dh_checked = in->dh_checked;
    if (prev != NULL && prev->dh_bytes != NULL && memcmp(prev->dh_fp, in->fp_dh, 32) == 0)
      top_in->dh_checked = 1; /* tested by the generation it replaces */
  }
  r = build_one(&top, top_in, top_prev, is_reload, number, log, sub, sizeof sub);
  if (r != 0) {
    if (top_entry >= 0)
      hotssl__fmt(errbuf, errlen, "%s (hosts file \"%s\" line %u)", sub, hi->path, hi->v[top_entry].line);
    else
      hotssl__fmt(errbuf, errlen, "%s", sub);
    return r;
  }
  memcpy(top->fingerprint, in->fingerprint, 32);
  r = HOTSSL_ENOMEM;
  if ((h = calloc(1, sizeof *h)) == NULL || (h->v = calloc(hi->n, sizeof *h->v)) == NULL ||
      (h->path = hotssl__strdup(hi->path)) == NULL)
    goto fail;
  h->n = hi->n;
  h->idx_default = -1;
  h->top_entry = top_entry;
  for (i = 0; i < hi->n; i++) {
    const hotssl_generation *lend =
        (long)i == top_entry ? top : hotssl__hosts_lender(prev, &hi->v[i].in, i);
    if ((r = build_entry(&h->v[i], &hi->v[i], lend, is_reload, number, log, hi->path, errbuf,
                         errlen)) != 0)
      goto fail;
    if (hi->v[i].is_default)
      h->idx_default = (long)i;
  }
  if ((r = index_names(h)) != 0)
    goto fail;
  top->hosts = h;
  top->hosts_free = hotssl__hosts_free;
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  mbedtls_ssl_conf_sni(&top->conf, sni_callback, h);
#endif
  *out = top;
  return 0;
fail:
  if (r == HOTSSL_ENOMEM)
    hotssl__fmt(errbuf, errlen, "could not build the hosts of \"%s\": out of memory", hi->path);
  hotssl__hosts_free(h);
  hotssl__generation_free(top);
  return r;
}

/* ---- observability ---- */

/* Expiry and CRL warnings of each entry, each line naming the hosts file
 * and line; lines about the same certificate or CRL object as the served
 * generation's (or an earlier entry's CRL) are not repeated. */
typedef struct entry_log {
  const hotssl__log *inner;
  const char *path;
  unsigned line;
  int drop_cert, drop_crl;
} entry_log;

static void entry_log_fn(void *ud, hotssl_log_level level, const char *msg) {
  const entry_log *el = ud;
  if ((el->drop_cert && strncmp(msg, "server certificate", 18) == 0) ||
      (el->drop_crl && strncmp(msg, "certificate revocation list", 27) == 0))
    return;
  hotssl__logf(el->inner, level, "%s (hosts file \"%s\" line %u)", msg, el->path, el->line);
}

unsigned hotssl__hosts_time_warnings(const hotssl_generation *g, int64_t now, const hotssl__log *log) {
  const struct hotssl__hosts *h = g->hosts;
  unsigned w = 0;
  size_t i, j;
  for (i = 0; h != NULL && i < h->n; i++) {
    const hotssl_generation *e = h->v[i].g;
    entry_log el;
    hotssl__log l;
    el.inner = log;
    el.path = h->path;
    el.line = h->v[i].line;
    el.drop_cert = e->cert == g->cert;
    el.drop_crl = e->crl == NULL || e->crl == g->crl;
    for (j = 0; j < i && !el.drop_crl; j++)
      el.drop_crl = h->v[j].g->crl == e->crl;
    l.fn = entry_log_fn;
    l.ud = &el;
    w |= hotssl__generation_time_warnings_one(e, now, log != NULL && log->fn != NULL ? &l : NULL);
  }
  return w;
}

uint32_t hotssl_generation_host_count(const hotssl_generation *g) {
  return g != NULL && g->hosts != NULL ? (uint32_t)g->hosts->n : 0;
}

int hotssl_generation_host_stats(const hotssl_generation *g, uint32_t i, hotssl_host_stats *out) {
  const hotssl__host *e;
  size_t j, off = 0;
  if (out == NULL || i >= hotssl_generation_host_count(g))
    return HOTSSL_EINVAL;
  e = &g->hosts->v[i];
  memset(out, 0, sizeof *out);
  out->line = e->line;
  out->is_default = e->is_default;
  out->is_no_sni = e->is_no_sni;
  out->has_ca = e->ca_file != NULL;
  out->n_names = (uint32_t)e->n_names;
  for (j = 0; j < e->n_names; j++) {
    size_t l = strlen(e->names[j]);
    if (off + l + 5 > sizeof out->names) {
      memcpy(out->names + off, "...", 4);
      break;
    }
    if (j > 0)
      out->names[off++] = ',';
    memcpy(out->names + off, e->names[j], l + 1);
    off += l;
  }
  memcpy(&out->cert, &e->g->cert_info, sizeof out->cert);
  out->cert.generation = g->number;
  {
    int64_t now = (int64_t)time(NULL);
    out->cert.seconds_left = out->cert.not_after_unix - now;
    out->cert.warnings |= hotssl__generation_time_warnings_one(e->g, now, NULL);
  }
  return 0;
}
