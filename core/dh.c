/*
 * ssl_dh_params_file: the DH parameters of TLS 1.2 DHE suites, parsed and
 * checked as PostgreSQL does (size, a safe prime, a generator), the
 * primality tests skipped for bytes already checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ssl.h>

#include "../os/os.h"
#include "dh.h"
#include "generation.h"
#include "parse.h"
#include "util.h"

#define DH_WHAT "DH parameters file"
#define DH_MIN_BITS 2048
#define DH_MAX_BITS 8192

/* Miller-Rabin rounds for p and again for (p-1)/2, each with random bases
 * after mbedTLS's trial division, by the size of p so that the whole check
 * stays within about two seconds at 8192 bits on a 2020s core (measured:
 * README, "DH parameters"). A composite passes with probability at most
 * 4^-rounds; one that was not built to fool the test (a wrong file, a
 * damaged one) passes with a probability far below that. The file is as
 * trusted as the private key: the check catches mistakes, as PostgreSQL's
 * DH_check does. */
static int dh_rounds(size_t bits) {
  return bits <= 2048 ? 32 : bits <= 3072 ? 16 : bits <= 4096 ? 8 : 2;
}

/* Groups whose primes are published and known safe (RFC 7919 FFDHE, and RFC
 * 3526 group 14, mbedTLS's and PostgreSQL's built-in default): their
 * parameters are compared, not tested, as OpenSSL's DH_check does for named
 * groups. */
static int dh_known_group(const mbedtls_mpi *P, const mbedtls_mpi *G) {
  static const unsigned char f2048[] = MBEDTLS_DHM_RFC7919_FFDHE2048_P_BIN,
                             f3072[] = MBEDTLS_DHM_RFC7919_FFDHE3072_P_BIN,
                             f4096[] = MBEDTLS_DHM_RFC7919_FFDHE4096_P_BIN,
                             f6144[] = MBEDTLS_DHM_RFC7919_FFDHE6144_P_BIN,
                             f8192[] = MBEDTLS_DHM_RFC7919_FFDHE8192_P_BIN,
                             m2048[] = MBEDTLS_DHM_RFC3526_MODP_2048_P_BIN;
  static const struct { const unsigned char *p; size_t len; } groups[] = {
      {f2048, sizeof f2048}, {f3072, sizeof f3072}, {f4096, sizeof f4096},
      {f6144, sizeof f6144}, {f8192, sizeof f8192}, {m2048, sizeof m2048}};
  unsigned char buf[DH_MAX_BITS / 8];
  size_t i, n = mbedtls_mpi_size(P);
  if (mbedtls_mpi_cmp_int(G, 2) != 0 || n > sizeof buf || mbedtls_mpi_write_binary(P, buf, n) != 0)
    return 0;
  for (i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (groups[i].len == n && memcmp(groups[i].p, buf, n) == 0)
      return 1;
  return 0;
}

/* PostgreSQL's checks (be-secure-openssl.c load_dh_file, OpenSSL's
 * DH_check): p prime, a safe prime, g a usable generator; plus a size
 * window. tested: run the primality tests (not when the same bytes were
 * tested already). A reason for "invalid DH parameters: %s", or NULL. */
static const char *dh_check(const mbedtls_mpi *P, const mbedtls_mpi *G, int tested,
                            mbedtls_ctr_drbg_context *drbg, char *why, size_t len, int *err) {
  size_t bits = mbedtls_mpi_bitlen(P);
  mbedtls_mpi Q, top;
  const char *r = NULL;
  int ret;
  *err = 0;
  if (bits < DH_MIN_BITS) {
    hotssl__fmt(why, len, "p is too small (%zu bits; at least %d are required)", bits, DH_MIN_BITS);
    return why;
  }
  if (bits > DH_MAX_BITS) {
    hotssl__fmt(why, len, "p is too large (%zu bits; at most %d are accepted, so that checking it takes bounded time)",
                bits, DH_MAX_BITS);
    return why;
  }
  mbedtls_mpi_init(&Q);
  mbedtls_mpi_init(&top);
  /* 2 <= g <= p - 2 */
  if ((ret = mbedtls_mpi_sub_int(&top, P, 2)) != 0)
    goto mpi_fail;
  if (mbedtls_mpi_cmp_int(G, 2) < 0 || mbedtls_mpi_cmp_mpi(G, &top) > 0) {
    r = "unsuitable generator (g must be between 2 and p - 2)";
    goto out;
  }
  if (!tested && !dh_known_group(P, G)) {
    ret = mbedtls_mpi_is_prime_ext(P, dh_rounds(bits), mbedtls_ctr_drbg_random, drbg);
    if (ret == MBEDTLS_ERR_MPI_NOT_ACCEPTABLE) {
      r = "p is not prime";
      goto out;
    }
    if (ret != 0 || (ret = mbedtls_mpi_copy(&Q, P)) != 0 || (ret = mbedtls_mpi_shift_r(&Q, 1)) != 0)
      goto mpi_fail;
    ret = mbedtls_mpi_is_prime_ext(&Q, dh_rounds(bits), mbedtls_ctr_drbg_random, drbg);
    if (ret == MBEDTLS_ERR_MPI_NOT_ACCEPTABLE) {
      r = "p is not a safe prime ((p - 1) / 2 is not prime)";
      goto out;
    }
    if (ret != 0)
      goto mpi_fail;
  }
  goto out;
mpi_fail:
  *err = ret;
  hotssl__mbedtls_err(why, len, ret);
  r = why;
out:
  mbedtls_mpi_free(&Q);
  mbedtls_mpi_free(&top);
  return r;
}

/* Parse and check the DH parameters of in->dh and give them to g's config
 * (TLS 1.2 DHE suites; TLS 1.3 in mbedTLS uses no finite-field group). The
 * generation keeps the bytes (a snapshot carries them). */
int hotssl__dh_apply(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                    char *errbuf, size_t errlen) {
  const hotssl__blob *b = &in->dh;
  mbedtls_dhm_context dhm;
  mbedtls_mpi P, G;
  char t[300], why[300];
  const char *bad;
  int ret, r = HOTSSL_EDH, mpi_err = 0;
  int tested = in->dh_checked ||
               (prev != NULL && prev->dh_bytes != NULL && memcmp(prev->dh_fp, in->fp_dh, 32) == 0);

  if (hotssl__parse_unread(b, DH_WHAT, errbuf, errlen))
    return HOTSSL_EDH;
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": file is empty", DH_WHAT, b->path);
    return HOTSSL_EDH;
  }
  if (hotssl__parse_truncated_pem(b, DH_WHAT, errbuf, errlen))
    return HOTSSL_EDH;
  mbedtls_dhm_init(&dhm);
  mbedtls_mpi_init(&P);
  mbedtls_mpi_init(&G);
  ret = mbedtls_dhm_parse_dhm(&dhm, b->data, hotssl__parse_looks_pem(b) ? b->len + 1 : b->len);
  if (ret != 0) {
    hotssl__parse_error_text(t, sizeof t, b, "dh", ret);
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", DH_WHAT, b->path, t);
    goto out;
  }
#if HOTSSL__MBEDTLS3
  if ((ret = mbedtls_dhm_get_value(&dhm, MBEDTLS_DHM_PARAM_P, &P)) != 0 ||
      (ret = mbedtls_dhm_get_value(&dhm, MBEDTLS_DHM_PARAM_G, &G)) != 0)
#else
  if ((ret = mbedtls_mpi_copy(&P, &dhm.P)) != 0 || (ret = mbedtls_mpi_copy(&G, &dhm.G)) != 0)
#endif
  {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  if ((bad = dh_check(&P, &G, tested, &g->drbg, why, sizeof why, &mpi_err)) != NULL) {
    if (mpi_err == MBEDTLS_ERR_MPI_ALLOC_FAILED)
      r = HOTSSL_ENOMEM;
    hotssl__fmt(errbuf, errlen, "invalid DH parameters in %s \"%s\": %s", DH_WHAT, b->path, bad);
    goto out;
  }
  if ((ret = mbedtls_ssl_conf_dh_param_ctx(&g->conf, &dhm)) != 0) {
    hotssl__mbedtls_err(t, sizeof t, ret);
    hotssl__fmt(errbuf, errlen, "could not set DH parameters from %s \"%s\": %s", DH_WHAT, b->path, t);
    goto out;
  }
  if ((g->dh_bytes = malloc(b->len + 1)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  memcpy(g->dh_bytes, b->data, b->len);
  g->dh_bytes[b->len] = '\0';
  g->dh_len = b->len;
  memcpy(g->dh_fp, in->fp_dh, 32);
  g->dh_bits = (unsigned)mbedtls_mpi_bitlen(&P);
  r = 0;
out:
  mbedtls_mpi_free(&P);
  mbedtls_mpi_free(&G);
  mbedtls_dhm_free(&dhm);
  return r;
}
