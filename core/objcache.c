/*
 * The shared-object cache: parsed certificates, keys and CRL sets,
 * reference-counted, lent by one generation to the next (and by the
 * manager's recently replaced ones) when their bytes are identical, so a
 * rotation of the certificate alone does not re-parse a large CA bundle or
 * CRL, and an unchanged encrypted key needs no passphrase at reload.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "objcache.h"
#include "revocation.h"

hotssl__shared *hotssl__shared_new(int kind, const unsigned char fp[32]) {
  hotssl__shared *o = calloc(1, sizeof *o);
  if (o == NULL)
    return NULL;
  atomic_init(&o->refs, 1);
  o->kind = kind;
  memcpy(o->fp, fp, 32);
  switch (kind) {
  case HOTSSL__KIND_CRT:
    mbedtls_x509_crt_init(&o->u.crt);
    break;
  case HOTSSL__KIND_PK:
    mbedtls_pk_init(&o->u.pk);
    break;
  default:
    mbedtls_x509_crl_init(&o->u.crl);
    break;
  }
  return o;
}

static hotssl__shared *shared_ref(hotssl__shared *o) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
  return o;
}

void hotssl__shared_release(hotssl__shared *o) {
  if (o == NULL)
    return;
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
    return;
  switch (o->kind) {
  case HOTSSL__KIND_CRT:
    mbedtls_x509_crt_free(&o->u.crt);
    break;
  case HOTSSL__KIND_PK:
    mbedtls_pk_free(&o->u.pk); /* zeroizes the key */
    break;
  default:
    mbedtls_x509_crl_free(&o->u.crl);
    hotssl__revocation_free(o->revocation);
    break;
  }
  mbedtls_platform_zeroize(o, sizeof *o);
  free(o);
}

/* The previous generation's object if its bytes were the same. */
hotssl__shared *hotssl__shared_reuse(hotssl__shared *prev, const unsigned char fp[32]) {
  if (prev != NULL && memcmp(prev->fp, fp, 32) == 0)
    return shared_ref(prev);
  return NULL;
}

/* The same, also looking at recent[0..n_recent) (the manager's recently
 * replaced objects; NULL entries skipped) for one of the given kind. */
hotssl__shared *hotssl__shared_reuse_any(hotssl__shared *prev, struct hotssl__shared *const *recent,
                                         size_t n_recent, int kind, const unsigned char fp[32]) {
  hotssl__shared *o = hotssl__shared_reuse(prev, fp);
  size_t i;
  for (i = 0; o == NULL && i < n_recent; i++)
    if (recent[i] != NULL && recent[i]->kind == kind)
      o = hotssl__shared_reuse(recent[i], fp);
  return o;
}
