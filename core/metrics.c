/*
 * hotssl_manager_metrics: the manager's state in the Prometheus text
 * exposition format, version 0.0.4 (one "# HELP" and one "# TYPE" line per
 * family, then its samples; label values escape \, " and newline).
 *
 * Families of one value per manager come from the typed items
 * (hotssl_manager_info), one row of manager_rows each: a later item that
 * should be scraped is one more row. Families with labels (reloads by
 * trigger and result; per certificate; per CRL issuer) have their own
 * writers below.
 */
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/x509.h>

#include "build.h"
#include "hosts.h"
#include "metrics.h"
#include "objcache.h"
#include "revocation.h"

/* ---- the served-versus-disk check ---- */

int hotssl__manager_disk_differs(hotssl_manager *m) {
  hotssl_config *base = NULL, *cfg = NULL;
  hotssl_generation *cur;
  hotssl__inputs in;
  int r, differs = 1;
  atomic_fetch_add(&m->building, 1);
  hotssl__mutex_lock(m->build_lock);
  hotssl__mutex_lock(m->reload_lock);
  cur = hotssl_generation_ref(atomic_load(&m->current));
  r = hotssl__config_copy(&base, m->cfg);
  hotssl__mutex_unlock(m->reload_lock);
  /* What a reload would load, up to the fingerprint it compares: the same
   * memos (and their update), no build. */
  if (r == 0 && hotssl__config_reread(base, &cfg, NULL, 0) == 0 &&
      hotssl__inputs_load_memo(&in, cfg, &m->memos, cur, NULL, 0) == 0) {
    differs = memcmp(in.fingerprint, cur->fingerprint, 32) != 0;
    hotssl__inputs_free(&in);
  }
  hotssl__mutex_unlock(m->build_lock);
  atomic_fetch_sub(&m->building, 1);
  hotssl_config_destroy(cfg);
  hotssl_config_destroy(base);
  hotssl_generation_release(cur);
  return differs;
}

/* ---- a growing text buffer ---- */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) {
  va_list ap;
  int k;
  if (b->oom)
    return;
  for (;;) {
    va_start(ap, fmt);
    k = vsnprintf(b->p != NULL ? b->p + b->n : NULL, b->p != NULL ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->p != NULL && (size_t)k < b->cap - b->n) {
      b->n += (size_t)k;
      return;
    }
    {
      size_t cap = b->cap * 2 + (size_t)k + 1024;
      char *np = realloc(b->p, cap);
      if (np == NULL) {
        b->oom = 1;
        return;
      }
      b->p = np;
      b->cap = cap;
    }
  }
}

/* A label value: \ " and newline escaped, other bytes as they are. */
static void put_value(sbuf *b, const char *v) {
  for (; *v != '\0'; v++) {
    if (*v == '\\')
      put(b, "\\\\");
    else if (*v == '"')
      put(b, "\\\"");
    else if (*v == '\n')
      put(b, "\\n");
    else
      put(b, "%c", *v);
  }
}

static void family(sbuf *b, const char *name, const char *type, const char *help) {
  put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- one value per manager: typed items ---- */

typedef struct manager_row {
  const char *name, *type, *help;
  int item; /* a HOTSSL_INFO_* item of type U64 or I64 */
} manager_row;

static const manager_row manager_rows[] = {
    {"hotssl_generation", "gauge", "Number of the generation being served (1, 2, ...).",
     HOTSSL_INFO_GENERATION},
    {"hotssl_last_reload_timestamp_seconds", "gauge",
     "Unix time the last reload attempt ended, whatever its result (0: none yet).",
     HOTSSL_INFO_LAST_RELOAD_UNIX},
    {"hotssl_last_successful_reload_timestamp_seconds", "gauge",
     "Unix time the served generation was published (at start: when it was loaded).",
     HOTSSL_INFO_LAST_SUCCESS_UNIX},
    {"hotssl_served_differs_from_disk", "gauge",
     "1 when the files on disk would give a different generation than the one served (or none), else 0.",
     HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK},
    {"hotssl_session_tickets_enabled", "gauge", "1 when hotssl_session_tickets is on, else 0.",
     HOTSSL_INFO_TICKETS},
    {"hotssl_session_ticket_key_age_seconds", "gauge",
     "Age of the key that encrypts new session tickets (0 when tickets are off).",
     HOTSSL_INFO_TICKET_KEY_AGE},
    {"hotssl_session_ticket_keys", "gauge", "Session ticket keys that decrypt (the encrypting one included).",
     HOTSSL_INFO_TICKET_KEYS},
    {"hotssl_session_tickets_resumed_total", "counter",
     "Handshakes resumed from a session ticket, in this process.", HOTSSL_INFO_TICKETS_RESUMED},
};

static void put_manager_rows(sbuf *b, hotssl_manager *m) {
  size_t i;
  for (i = 0; i < sizeof manager_rows / sizeof manager_rows[0]; i++) {
    const manager_row *row = &manager_rows[i];
    unsigned char v[8];
    if (hotssl_manager_info(m, row->item, v, sizeof v) != 0)
      continue;
    family(b, row->name, row->type, row->help);
    if ((row->item & HOTSSL_INFO_TYPE_MASK) == HOTSSL_INFO_TYPE_I64) {
      int64_t x;
      memcpy(&x, v, sizeof x);
      put(b, "%s %lld\n", row->name, (long long)x);
    } else {
      uint64_t x;
      memcpy(&x, v, sizeof x);
      put(b, "%s %llu\n", row->name, (unsigned long long)x);
    }
  }
}

static void put_reloads(sbuf *b, hotssl_manager *m) {
  static const char *const triggers[4] = {"start", "api", "signal", "file"};
  static const char *const results[3] = {"success", "unchanged", "failure"};
  uint64_t by[4][3];
  int t, r;
  hotssl__mutex_lock(m->reload_lock);
  memcpy(by, m->reloads_by, sizeof by);
  hotssl__mutex_unlock(m->reload_lock);
  family(b, "hotssl_reloads_total", "counter",
         "Reload attempts, by what asked for them and their result (each logged once).");
  for (t = HOTSSL_TRIGGER_API; t <= HOTSSL_TRIGGER_FILE; t++)
    for (r = 0; r < 3; r++)
      put(b, "hotssl_reloads_total{trigger=\"%s\",result=\"%s\"} %llu\n", triggers[t], results[r],
          (unsigned long long)by[t][r]);
}

/* ---- per identity: the served one and each ssl_sni entry ---- */

typedef struct identity {
  char label[32];             /* "served", "host_line_N" */
  hotssl_stats st;            /* certificate facts (generation_stats-like) */
  const hotssl_generation *g; /* its own CRL set (g->crl) */
} identity;

static int collect(const hotssl_generation *g, identity **out, size_t *n) {
  uint32_t k = hotssl_generation_host_count(g), i;
  identity *v = calloc((size_t)k + 1, sizeof *v);
  if (v == NULL)
    return HOTSSL_ENOMEM;
  snprintf(v[0].label, sizeof v[0].label, "served");
  v[0].st = g->cert_info;
  v[0].st.warnings |= hotssl__generation_time_warnings_one(g, (int64_t)time(NULL), NULL);
  v[0].g = g;
  for (i = 0; i < k; i++) {
    hotssl_host_stats hs;
    if (hotssl_generation_host_stats(g, i, &hs) != 0)
      break;
    snprintf(v[i + 1].label, sizeof v[i + 1].label, "host_line_%u", hs.line);
    v[i + 1].st = hs.cert;
    v[i + 1].g = g->hosts->v[i].g;
  }
  *out = v;
  *n = (size_t)i + 1;
  return 0;
}

static void put_cert_labels(sbuf *b, const identity *id) {
  put(b, "{identity=\"%s\",serial=\"", id->label);
  put_value(b, id->st.serial);
  put(b, "\",subject=\"");
  put_value(b, id->st.subject);
  put(b, "\",fingerprint_sha256=\"");
  put_value(b, id->st.sha256);
  put(b, "\"}");
}

static void put_certs(sbuf *b, const identity *v, size_t n, int64_t now) {
  size_t i;
  family(b, "hotssl_certificate_not_after_timestamp_seconds", "gauge",
         "Unix time the certificate expires (its notAfter).");
  for (i = 0; i < n; i++) {
    put(b, "hotssl_certificate_not_after_timestamp_seconds");
    put_cert_labels(b, &v[i]);
    put(b, " %lld\n", (long long)v[i].st.not_after_unix);
  }
  family(b, "hotssl_certificate_not_before_timestamp_seconds", "gauge",
         "Unix time the certificate becomes valid (its notBefore).");
  for (i = 0; i < n; i++) {
    put(b, "hotssl_certificate_not_before_timestamp_seconds");
    put_cert_labels(b, &v[i]);
    put(b, " %lld\n", (long long)v[i].st.not_before_unix);
  }
  family(b, "hotssl_certificate_lifetime_used_ratio", "gauge",
         "Fraction of the certificate's validity period already past: 0 at notBefore, 1 at notAfter.");
  for (i = 0; i < n; i++) {
    double life = (double)(v[i].st.not_after_unix - v[i].st.not_before_unix);
    double used = life > 0 ? (double)(now - v[i].st.not_before_unix) / life : 1.0;
    put(b, "hotssl_certificate_lifetime_used_ratio");
    put_cert_labels(b, &v[i]);
    put(b, " %.6f\n", used);
  }
  family(b, "hotssl_certificate_expiry_warning", "gauge",
         "1 when the certificate has expired or expires within hotssl_expiry_warning_days, else 0.");
  for (i = 0; i < n; i++)
    put(b, "hotssl_certificate_expiry_warning{identity=\"%s\"} %d\n", v[i].label,
        (v[i].st.warnings & (HOTSSL_WARN_EXPIRED | HOTSSL_WARN_EXPIRING)) != 0);
}

/* The issuer DN of a revocation table entry as mbedtls_x509_dn_gets
 * writes it (the served certificate's issuer in the statistics is written
 * the same way); "" when it does not parse. The attributes are linked in
 * place, at most 32 of them. */
static void issuer_text(const hotssl__revocation *t, const hotssl__rev_issuer *is, char *out,
                        size_t len) {
  unsigned char *p = t->bytes + is->dn_off, *end = p + is->dn_len, *set_end, *seq_end;
  mbedtls_x509_name v[32];
  size_t l, n = 0;
  out[0] = '\0';
  memset(v, 0, sizeof v);
  if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return;
  end = p + l;
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0)
      return;
    for (set_end = p + l; p < set_end; p = seq_end) {
      if (n == sizeof v / sizeof v[0] ||
          mbedtls_asn1_get_tag(&p, set_end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return;
      seq_end = p + l;
      v[n].oid.tag = MBEDTLS_ASN1_OID;
      if (mbedtls_asn1_get_tag(&p, seq_end, &v[n].oid.len, MBEDTLS_ASN1_OID) != 0)
        return;
      v[n].oid.p = p;
      p += v[n].oid.len;
      if (p >= seq_end)
        return;
      v[n].val.tag = *p++;
      if (mbedtls_asn1_get_len(&p, seq_end, &v[n].val.len) != 0)
        return;
      v[n].val.p = p;
      if (n > 0)
        v[n - 1].next = &v[n];
      n++;
    }
  }
  if (n == 0 || mbedtls_x509_dn_gets(out, len, &v[0]) < 0)
    out[0] = '\0';
}

/* One line per (identity, CRL issuer) of family `which`: 0 next update,
 * 1 revoked entries. */
static void put_crl_lines(sbuf *b, const identity *v, size_t n, int which) {
  const char *name =
      which == 0 ? "hotssl_crl_next_update_timestamp_seconds" : "hotssl_crl_revoked_entries";
  size_t i, k, c;
  for (i = 0; i < n; i++) {
    const hotssl__revocation *t = v[i].g->crl != NULL ? v[i].g->crl->revocation : NULL;
    for (k = 0; t != NULL && k < t->n_issuers; k++) {
      const hotssl__rev_issuer *is = &t->issuers[k];
      char dn[512];
      int64_t nu = INT64_MAX; /* a CRL without nextUpdate never expires (verify.c): +Inf */
      for (c = is->crl_first; c < (size_t)is->crl_first + is->n_crl; c++)
        if (t->crls[c].next_update < nu)
          nu = t->crls[c].next_update;
      issuer_text(t, is, dn, sizeof dn);
      put(b, "%s{identity=\"%s\",issuer=\"", name, v[i].label);
      put_value(b, dn);
      if (which == 0 && nu == INT64_MAX)
        put(b, "\"} +Inf\n");
      else if (which == 0)
        put(b, "\"} %lld\n", (long long)nu);
      else
        put(b, "\"} %lu\n", (unsigned long)is->count);
    }
  }
}

static void put_crls(sbuf *b, const identity *v, size_t n) {
  size_t i;
  family(b, "hotssl_crl_next_update_timestamp_seconds", "gauge",
         "Unix time of the earliest nextUpdate among the CRLs of one issuer.");
  put_crl_lines(b, v, n, 0);
  family(b, "hotssl_crl_revoked_entries", "gauge",
         "Revoked serial numbers listed by the CRLs of one issuer.");
  put_crl_lines(b, v, n, 1);
  family(b, "hotssl_crl_stale_warning", "gauge",
         "1 when a CRL's nextUpdate is past or within hotssl_expiry_warning_days, else 0.");
  for (i = 0; i < n; i++)
    if (v[i].g->crl != NULL)
      put(b, "hotssl_crl_stale_warning{identity=\"%s\"} %d\n", v[i].label,
          (v[i].st.warnings & HOTSSL_WARN_CRL_STALE) != 0);
}

int hotssl_manager_metrics(hotssl_manager *m, char *buf, size_t len, size_t *needed) {
  sbuf b = {NULL, 0, 0, 0};
  hotssl_generation *g;
  identity *ids = NULL;
  size_t n = 0;
  int r;
  if (needed != NULL)
    *needed = 0;
  if (m == NULL || (buf == NULL && len > 0))
    return HOTSSL_EINVAL;
  put_manager_rows(&b, m);
  put_reloads(&b, m);
  g = hotssl_manager_acquire(m);
  if ((r = collect(g, &ids, &n)) == 0) {
    put_certs(&b, ids, n, (int64_t)time(NULL));
    put_crls(&b, ids, n);
  }
  free(ids);
  hotssl_generation_release(g);
  if (r == 0 && b.oom)
    r = HOTSSL_ENOMEM;
  if (r == 0) {
    if (needed != NULL)
      *needed = b.n + 1;
    if (b.n + 1 > len)
      r = HOTSSL_ENOMEM;
    else
      memcpy(buf, b.p, b.n + 1);
  }
  if (r != 0 && len > 0)
    buf[0] = '\0';
  free(b.p);
  return r;
}
