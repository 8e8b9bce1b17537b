/*
 * What a generation trusts for client certificates: the CA file and the
 * CRL set (file and directory), each CRL's signature checked against the CA
 * set, and the revocation table the verifier consults (core/revocation.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "../os/os.h"
#include "generation.h"
#include "objcache.h"
#include "parse.h"
#include "revocation.h"
#include "trust.h"
#include "util.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* A CRL issued by a CA of the CA file must verify with its key: refuse it at
 * load otherwise. A CRL whose issuer is not in the CA file is kept: it
 * belongs to an intermediate that clients send, and its signature is checked
 * against that intermediate at the first handshake that presents it
 * (core/revocation.c), as PostgreSQL (OpenSSL) checks it. */
static int check_crl(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *ca,
                     const char *path, char *errbuf, size_t errlen) {
  const mbedtls_x509_crt *c;
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->MBEDTLS_PRIVATE(sig_md));
  char t[300];
  int ret, named = 0;

  if (md == NULL || mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load SSL certificate revocation list file \"%s\": unsupported signature algorithm", path);
    return HOTSSL_ECRL;
  }
  for (c = ca; c != NULL && c->raw.p != NULL; c = c->next) {
    if ((c->subject_raw.len != crl->issuer_raw.len ||
         memcmp(c->subject_raw.p, crl->issuer_raw.p, crl->issuer_raw.len) != 0) &&
        !hotssl__name_equal(&c->subject, &crl->issuer))
      continue;
    named = 1;
    ret = mbedtls_pk_verify_ext(crl->MBEDTLS_PRIVATE(sig_pk), crl->MBEDTLS_PRIVATE(sig_opts),
                                (mbedtls_pk_context *)&c->pk, crl->MBEDTLS_PRIVATE(sig_md),
                                hash, mbedtls_md_get_size(md), crl->MBEDTLS_PRIVATE(sig).p,
                                crl->MBEDTLS_PRIVATE(sig).len);
    if (ret == 0)
      return 0;
  }
  if (!named)
    return 0;
  mbedtls_x509_dn_gets(t, sizeof t, &crl->issuer);
  hotssl__fmt(errbuf, errlen,
              "could not load SSL certificate revocation list file \"%s\": its signature does not verify with the key of its issuer in ssl_ca_file (issuer: %s)",
              path, t);
  return HOTSSL_ECRL;
}

static int parse_crl_blob(mbedtls_x509_crl *crl, const hotssl__blob *b,
                          const mbedtls_x509_crt *ca, char *errbuf, size_t errlen) {
  mbedtls_x509_crl *last = NULL, *c;
  char t[300];
  int ret;
  if (hotssl__parse_unread(b, "SSL certificate revocation list file", errbuf, errlen))
    return HOTSSL_ECRL;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load SSL certificate revocation list file \"%s\": file is empty", b->path);
    return HOTSSL_ECRL;
  }
  if (hotssl__parse_truncated_pem(b, "SSL certificate revocation list file", errbuf, errlen))
    return HOTSSL_ECRL;
  /* Remember where this file's CRLs start in the chain. */
  for (c = crl; c != NULL && c->raw.p != NULL; c = c->next)
    last = c;
  ret = mbedtls_x509_crl_parse(crl, b->data, hotssl__parse_looks_pem(b) ? b->len + 1 : b->len);
  if (ret != 0) {
    hotssl__parse_error_text(t, sizeof t, b, "crl", ret);
    hotssl__fmt(errbuf, errlen, "could not load SSL certificate revocation list file \"%s\": %s",
                b->path, t);
    return HOTSSL_ECRL;
  }
  for (c = last != NULL ? last->next : crl; c != NULL && c->raw.p != NULL; c = c->next) {
    if ((ret = check_crl(c, ca, b->path, errbuf, errlen)) != 0)
      return ret;
  }
  return 0;
}

static unsigned count_crts(const mbedtls_x509_crt *c) {
  unsigned n = 0;
  for (; c != NULL && c->raw.p != NULL; c = c->next)
    n++;
  return n;
}

/* Entries and earliest next update of a parsed CRL set, into o (once, when
 * it is parsed: walking 100,000 entries at every rotation would cost more
 * than the rest of the reload). */
static void count_crls(hotssl__shared *o) {
  const mbedtls_x509_crl *c;
  o->crl_entries = 0;
  o->crl_next_update = 0;
  for (c = &o->u.crl; c != NULL && c->raw.p != NULL; c = c->next) {
    const mbedtls_x509_crl_entry *e;
    /* An absent next update counts as already past, as mbedTLS sees it. */
    int64_t nu = c->next_update.year == 0 ? 1 : hotssl__x509_time_unix(&c->next_update);
    for (e = &c->entry; e != NULL && e->raw.p != NULL; e = e->next)
      o->crl_entries++;
    if (o->crl_next_update == 0 || nu < o->crl_next_update)
      o->crl_next_update = nu;
  }
}

/* The CRL set of in into o: from the files (parsed, each CRL's signature
 * checked against ca, then the revocation table built), or a spawn
 * snapshot's table (built, and its CRLs' signatures checked, by the parent
 * against this same CA list: taken as is). */
static int crl_set_build(hotssl__shared *o, hotssl__inputs *in, const mbedtls_x509_crt *ca,
                         char *errbuf, size_t errlen) {
  size_t i;
  int r;
  if (in->rev != NULL) {
    if (in->rev->n_ca != count_crts(ca)) {
      hotssl__fmt(errbuf, errlen, "the revocation table does not match ssl_ca_file");
      return HOTSSL_ECRL;
    }
    o->revocation = in->rev;
    in->rev = NULL;
    o->crl_entries = in->crl_entries;
    o->crl_next_update = in->crl_next_update;
    return 0;
  }
  if (HOTSSL__BLOB_SET(in->crl) && (r = parse_crl_blob(&o->u.crl, &in->crl, ca, errbuf, errlen)) != 0)
    return r;
  for (i = 0; i < in->n_crl_dir_files; i++)
    if ((r = parse_crl_blob(&o->u.crl, &in->crl_dir_files[i], ca, errbuf, errlen)) != 0)
      return r;
  /* The profile is the one mbedtls_ssl_config_defaults sets below. */
  r = hotssl__revocation_build(&o->revocation, &o->u.crl, ca, &mbedtls_x509_crt_profile_default);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "could not build the revocation table of the CRL set: %s",
                hotssl_strerror(r));
    return r;
  }
  count_crls(o);
  /* The table (with each CRL's digest and signature) answers every question
   * of the verifier and the snapshot: the parsed CRLs and their DER copies
   * (about 100 bytes + malloc overhead per entry) go, unless the walk is
   * wanted (tests, bench). */
  if (!in->s.keep_crl_walk) {
    mbedtls_x509_crl_free(&o->u.crl);
    mbedtls_x509_crl_init(&o->u.crl);
  }
  return 0;
}

/* Facts about the CA file and CRL set, for the stats. */
void hotssl__trust_info(hotssl_stats *st, const hotssl_generation *g) {
  st->chain_length = count_crts(&g->cert->u.crt);
  st->ca_count = g->ca != NULL ? count_crts(&g->ca->u.crt) : 0;
  st->crl_entries = g->crl != NULL ? g->crl->crl_entries : 0;
  st->crl_next_update_unix = g->crl != NULL ? g->crl->crl_next_update : 0;
}

/* The CA file: reused from prev when the bytes are the same, else parsed;
 * it must hold a CA certificate. */
static int trust_ca(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                    char *errbuf, size_t errlen) {
  const mbedtls_x509_crt *c;
  int any_ca = 0;
  if (!HOTSSL__BLOB_SET(in->ca) || (g->ca = hotssl__shared_reuse(prev ? prev->ca : NULL, in->fp_ca)) != NULL)
    return 0;
  if ((g->ca = hotssl__shared_new(HOTSSL__KIND_CRT, in->fp_ca)) == NULL)
    return HOTSSL_ENOMEM;
  if (hotssl__parse_crt_file(&g->ca->u.crt, &in->ca, in->der_list.ca, "root certificate file", errbuf,
                             errlen) != 0)
    return HOTSSL_ECA;
  for (c = &g->ca->u.crt; c != NULL && c->raw.p != NULL; c = c->next)
    any_ca |= hotssl__crt_is_ca(c);
  if (!any_ca) {
    hotssl__fmt(errbuf, errlen,
                "could not load root certificate file \"%s\": it contains no CA certificate",
                in->ca.path);
    return HOTSSL_ECA;
  }
  return 0;
}

/* The CRL file and directory, one set, checked against the CA set: reused
 * from prev when both the CRL bytes and the CA set are the same. */
static int trust_crl(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                     char *errbuf, size_t errlen) {
  if (!HOTSSL__BLOB_SET(in->crl) && in->n_crl_dir_files == 0 && in->rev == NULL)
    return 0;
  if (g->ca == NULL) {
    hotssl__fmt(errbuf, errlen,
                "ssl_crl_file and ssl_crl_dir require ssl_ca_file to be set");
    return HOTSSL_ECONFIG;
  }
  if ((g->crl = hotssl__shared_reuse(prev && prev->ca == g->ca ? prev->crl : NULL, in->fp_crl)) != NULL)
    return 0;
  if ((g->crl = hotssl__shared_new(HOTSSL__KIND_CRL, in->fp_crl)) == NULL)
    return HOTSSL_ENOMEM;
  return crl_set_build(g->crl, in, &g->ca->u.crt, errbuf, errlen);
}

int hotssl__trust_build(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                        char *errbuf, size_t errlen) {
  int r;
  if ((r = trust_ca(g, in, prev, errbuf, errlen)) != 0)
    return r;
  return trust_crl(g, in, prev, errbuf, errlen);
}
