/*
 * The TLS-version-dependent settings: ssl_tls13_ciphers, ssl_groups /
 * ssl_ecdh_curve, and the one cipher-suite list mbedTLS takes for every
 * protocol version.
 *
 * PostgreSQL's split is kept: ssl_ciphers governs TLS 1.2 and older only,
 * ssl_tls13_ciphers governs TLS 1.3. mbedTLS has a single list and picks the
 * protocol version before the suite, so a list holding only TLS 1.2 suites
 * would make every TLS-1.3-capable client fail with handshake_failure: the
 * list given to mbedTLS is therefore always the TLS 1.2 part (ssl_ciphers, or
 * mbedTLS's default TLS 1.2 suites) followed by the TLS 1.3 part
 * (ssl_tls13_ciphers, or mbedTLS's default TLS 1.3 suites).
 *
 * Groups are kept as IANA TLS group ids (uint16_t, 0-terminated); the builder
 * hands them to mbedtls_ssl_conf_groups (3.x) or turns them into
 * mbedtls_ecp_group_id for mbedtls_ssl_conf_curves (2.28).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ssl.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "../os/os.h"
#include "internal.h"
#include "tls_settings.h"
#include "util.h"

/* IANA TLS 1.3 cipher suites are 0x13xx. */
#define IS_TLS13_SUITE(id) (((id) & 0xFF00) == 0x1300)

typedef struct {
  const char *start;
  size_t len;
} token;

/* Next item of a list separated by ':', ',' or blanks; 0 at the end. */
static int next_token(const char **p, token *t) {
  const char *s = *p, *e;
  while (*s == ':' || *s == ',' || *s == ' ' || *s == '\t')
    s++;
  if (*s == '\0')
    return 0;
  e = s;
  while (*e != '\0' && *e != ':' && *e != ',' && *e != ' ' && *e != '\t')
    e++;
  t->start = s;
  t->len = (size_t)(e - s);
  *p = e;
  return 1;
}

static int token_is(const token *t, const char *name) {
  return strlen(name) == t->len && strncasecmp(t->start, name, t->len) == 0;
}

static int tls13_suite_supported(int id) {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  return mbedtls_ssl_ciphersuite_from_id(id) != NULL;
#else
  (void)id;
  return 1; /* no TLS 1.3 here: the list restricts nothing, names are checked */
#endif
}

int hotssl__parse_tls13_ciphers(const char *v, int **out, char *errbuf, size_t errlen) {
  static const struct {
    const char *iana, *mbedtls;
    int id;
  } suites[] = {
      {"TLS_AES_128_GCM_SHA256", "TLS1-3-AES-128-GCM-SHA256", 0x1301},
      {"TLS_AES_256_GCM_SHA384", "TLS1-3-AES-256-GCM-SHA384", 0x1302},
      {"TLS_CHACHA20_POLY1305_SHA256", "TLS1-3-CHACHA20-POLY1305-SHA256", 0x1303},
      {"TLS_AES_128_CCM_SHA256", "TLS1-3-AES-128-CCM-SHA256", 0x1304},
      {"TLS_AES_128_CCM_8_SHA256", "TLS1-3-AES-128-CCM-8-SHA256", 0x1305},
  };
  const char *p = v;
  token t;
  size_t n = 0, i, j;
  int ids[8];

  *out = NULL;
  if (v[0] == '\0')
    return 0; /* mbedTLS's default TLS 1.3 suites */
  while (next_token(&p, &t)) {
    int id = 0;
    for (i = 0; i < sizeof suites / sizeof suites[0]; i++)
      if (token_is(&t, suites[i].iana) || token_is(&t, suites[i].mbedtls))
        id = suites[i].id;
    if (id == 0) {
      hotssl__fmt(errbuf, errlen,
                  "invalid value for parameter \"ssl_tls13_ciphers\": unknown TLS 1.3 cipher suite \"%.*s\"",
                  (int)t.len, t.start);
      return HOTSSL_ECIPHER;
    }
    if (!tls13_suite_supported(id)) {
      hotssl__fmt(errbuf, errlen,
                  "invalid value for parameter \"ssl_tls13_ciphers\": \"%.*s\" is not supported by this mbedTLS build",
                  (int)t.len, t.start);
      return HOTSSL_ECIPHER;
    }
    for (j = 0; j < n && ids[j] != id; j++)
      ;
    if (j == n && n < sizeof ids / sizeof ids[0] - 1)
      ids[n++] = id;
  }
  if (n == 0) {
    hotssl__fmt(errbuf, errlen, "invalid value for parameter \"ssl_tls13_ciphers\": empty list");
    return HOTSSL_ECIPHER;
  }
  if ((*out = malloc((n + 1) * sizeof **out)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(*out, ids, n * sizeof ids[0]);
  (*out)[n] = 0;
  return 0;
}

int hotssl__merge_ciphersuites(int **tls12, int *tls13, char *errbuf, size_t errlen) {
  const int *def = mbedtls_ssl_list_ciphersuites();
  size_t n = 0, i, k = 0;
  int *out;
  if (*tls12 != NULL) {
    for (i = 0; (*tls12)[i] != 0; i++) {
      if (IS_TLS13_SUITE((*tls12)[i])) {
        hotssl__fmt(errbuf, errlen,
                    "invalid value for parameter \"ssl_ciphers\": \"%s\" is a TLS 1.3 suite: "
                    "ssl_ciphers governs TLS 1.2 only, use ssl_tls13_ciphers",
                    mbedtls_ssl_get_ciphersuite_name((*tls12)[i]));
        free(tls13);
        return HOTSSL_ECIPHER;
      }
    }
  }
  if (*tls12 == NULL && tls13 == NULL)
    return 0; /* mbedTLS's defaults for both */
  for (i = 0; def[i] != 0; i++)
    n++;
  for (i = 0; *tls12 != NULL && (*tls12)[i] != 0; i++)
    n++;
  for (i = 0; tls13 != NULL && tls13[i] != 0; i++)
    n++;
  if ((out = malloc((n + 1) * sizeof *out)) == NULL) {
    free(tls13);
    return HOTSSL_ENOMEM;
  }
  if (*tls12 != NULL) {
    for (i = 0; (*tls12)[i] != 0; i++)
      out[k++] = (*tls12)[i];
  } else {
    for (i = 0; def[i] != 0; i++)
      if (!IS_TLS13_SUITE(def[i]))
        out[k++] = def[i];
  }
  if (tls13 != NULL) {
    for (i = 0; tls13[i] != 0; i++)
      out[k++] = tls13[i];
  } else {
    for (i = 0; def[i] != 0; i++)
      if (IS_TLS13_SUITE(def[i]))
        out[k++] = def[i];
  }
  out[k] = 0;
  free(*tls12);
  free(tls13);
  *tls12 = out;
  return 0;
}

static const struct {
  const char *name;
  uint16_t id;
} group_names[] = {
    /* OpenSSL's and IANA's spellings (PostgreSQL passes ssl_groups to OpenSSL). */
    {"X25519", 29},           {"x25519", 29},          {"X448", 30},
    {"prime256v1", 23},       {"secp256r1", 23},       {"P-256", 23},
    {"secp384r1", 24},        {"P-384", 24},           {"secp521r1", 25},
    {"P-521", 25},            {"secp256k1", 22},       {"brainpoolP256r1", 26},
    {"brainpoolP384r1", 27},  {"brainpoolP512r1", 28}, {"ffdhe2048", 256},
    {"ffdhe3072", 257},       {"ffdhe4096", 258},      {"ffdhe6144", 259},
    {"ffdhe8192", 260},
};

const char *hotssl__group_name(uint16_t id) {
  size_t i;
  for (i = 0; i < sizeof group_names / sizeof group_names[0]; i++)
    if (group_names[i].id == id)
      return group_names[i].name;
  return "?";
}

int hotssl__parse_groups(const char *param, const char *v, uint16_t **out,
                         char *errbuf, size_t errlen) {
  const char *p = v;
  token t;
  size_t n = 0, i, j;
  uint16_t ids[sizeof group_names / sizeof group_names[0] + 1];

  *out = NULL;
  while (next_token(&p, &t)) {
    uint16_t id = 0;
    for (i = 0; i < sizeof group_names / sizeof group_names[0]; i++)
      if (token_is(&t, group_names[i].name))
        id = group_names[i].id;
    if (id == 0) {
      hotssl__fmt(errbuf, errlen, "invalid value for parameter \"%s\": unknown group \"%.*s\"",
                  param, (int)t.len, t.start);
      return HOTSSL_ECONFIG;
    }
    /* mbedTLS knows an elliptic-curve group by its TLS id when built in;
     * finite-field groups are not offered by hotssl. */
    if (mbedtls_ecp_curve_info_from_tls_id(id) == NULL) {
      hotssl__fmt(errbuf, errlen,
                  "invalid value for parameter \"%s\": group \"%.*s\" is not supported by this mbedTLS build",
                  param, (int)t.len, t.start);
      return HOTSSL_ECONFIG;
    }
    for (j = 0; j < n && ids[j] != id; j++)
      ;
    if (j == n)
      ids[n++] = id;
  }
  if (n == 0) {
    hotssl__fmt(errbuf, errlen, "invalid value for parameter \"%s\": empty list", param);
    return HOTSSL_ECONFIG;
  }
  if ((*out = malloc((n + 1) * sizeof **out)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(*out, ids, n * sizeof ids[0]);
  (*out)[n] = 0;
  return 0;
}

#if HOTSSL__MBEDTLS3 && defined(MBEDTLS_PSA_CRYPTO_C)
#  include <psa/crypto.h>
#endif

/* mbedTLS 3.x does TLS 1.3 (key shares, key schedule) and, with
 * MBEDTLS_USE_PSA_CRYPTO, EC key checks through PSA, which needs
 * psa_crypto_init() once per process. It is idempotent and thread-safe in
 * 3.6 with MBEDTLS_THREADING_C; nothing frees it (mbedtls_psa_crypto_free
 * would pull PSA from under a host that uses it too). */
int hotssl__psa_init(void) {
#if HOTSSL__MBEDTLS3 && defined(MBEDTLS_PSA_CRYPTO_C)
  return psa_crypto_init() == PSA_SUCCESS ? 0 : HOTSSL_ETLS;
#else
  return 0;
#endif
}

/* ---- non-blocking writes (hotssl_ssl_write) ----
 *
 * mbedtls_ssl_write() puts at most one record's payload (the maximum
 * fragment) into a record; when sending it stops with WANT_WRITE, the next
 * call only flushes that record and returns the length it was given (capped
 * at the maximum fragment), not the record's. *pending remembers the
 * record's payload so the retry reports exactly that. */
int hotssl_ssl_write(mbedtls_ssl_context *ssl, size_t *pending, const unsigned char *buf,
                     size_t len) {
  size_t n = len;
  int ret;
  if (ssl == NULL || pending == NULL || (buf == NULL && len > 0))
    return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
  if (*pending != 0) {
    if (len < *pending)
      return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    n = *pending;
  } else {
    int max = mbedtls_ssl_get_max_out_record_payload(ssl);
    if (max < 0)
      return max;
    if (n > (size_t)max)
      n = (size_t)max;
  }
  ret = mbedtls_ssl_write(ssl, buf, n);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
    *pending = n; /* mbedTLS may hold a record of n bytes: repeat with n */
  else
    *pending = 0;
  return ret;
}
