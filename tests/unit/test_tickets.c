/*
 * Session tickets below the handshake (the handshakes themselves are
 * tests/e2e/test_tickets.py): the key file formats and how each is
 * detected, a ticket's checks (key name, tampering, time, identity), the
 * info items, and the snapshot round trip of the keys (a key file and the
 * generated keys' seed; CONTENTS and PATHS, byte for byte). On mbedTLS 2.28, tickets on is refused.
 */
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <mbedtls/base64.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#include "hotssl/platform.h"
#include "testutil.h"
#include "tickets.h"

static int checks;
#define T(cond)                                                                                         \
  do {                                                                                                  \
    checks++;                                                                                           \
    CHECK(cond);                                                                                        \
  } while (0)
#define TEQ(a, b)                                                                                       \
  do {                                                                                                  \
    checks++;                                                                                           \
    CHECK_EQ_INT(a, b);                                                                                 \
  } while (0)
#define TSTR(a, b)                                                                                      \
  do {                                                                                                  \
    checks++;                                                                                           \
    if (strcmp((a), (b)) != 0) {                                                                        \
      fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, (a), (b));                       \
      tu_failures++;                                                                                    \
    }                                                                                                   \
  } while (0)

static char *dir;

/* Parse len bytes; returns the count (or -1) and the format. */
static long parse(const unsigned char *d, size_t len, const char **fmt) {
  hotssl__ticket_key *k = NULL;
  size_t n = 0;
  char why[256];
  int r = hotssl__ticket_keys_parse(d, len, &k, &n, fmt, why, sizeof why);
  hotssl__ticket_keys_free(k, n);
  return r == 0 ? (long)n : -1;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; i++)
    p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 3)); /* not base64 text */
  p[0] = 0x01;
}

static void formats(void) {
  unsigned char bin[480], b64[1024];
  const char *fmt;
  size_t o1 = 0, o2 = 0;
  unsigned i;
  for (i = 0; i < 6; i++)
    fill(bin + 80 * i, 80, i + 1);
  TEQ(parse(bin, 80, &fmt), 1);
  TSTR(fmt, "80-byte binary");
  TEQ(parse(bin, 160, &fmt), 2);
  TEQ(parse(bin, 48, &fmt), 1);
  TSTR(fmt, "48-byte binary");
  TEQ(parse(bin, 96, &fmt), 2);
  TSTR(fmt, "48-byte binary");
  TEQ(parse(bin, 240, &fmt), 3); /* both multiples: 80-byte keys */
  TSTR(fmt, "80-byte binary");
  TEQ(parse(bin, 60, &fmt), -1);
  TEQ(parse(bin, 0, &fmt), -1);
  /* HAProxy: one base64 key per line, blank lines and CRLF allowed. */
  mbedtls_base64_encode(b64, sizeof b64, &o1, bin, 80);
  memcpy(b64 + o1, "\r\n\n", 3);
  o1 += 3;
  mbedtls_base64_encode(b64 + o1, sizeof b64 - o1, &o2, bin + 80, 48);
  o1 += o2;
  b64[o1++] = '\n';
  TEQ(parse(b64, o1, &fmt), 2);
  TSTR(fmt, "base64 lines");
  TEQ(parse((const unsigned char *)" \n\n", 3, &fmt), -1);        /* no keys */
  TEQ(parse((const unsigned char *)"QUJD\n", 5, &fmt), -1);       /* 3 bytes */
  TEQ(parse((const unsigned char *)"AAAA====A\n", 10, &fmt), -1); /* not base64 */
  memcpy(bin + 80, bin, 16); /* the second key takes the first one's name */
  TEQ(parse(bin, 160, &fmt), -1);
}

static void ticket_checks(void) {
  struct hotssl__tickets *t, *other;
  unsigned char key[80], body[HOTSSL__TICKET_HDR + 8], tk[256];
  size_t len = 0;
  int r, i;
  fill(key, sizeof key, 9);
  r = hotssl__tickets_standalone(&t, key, sizeof key, 100);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
  TEQ(r, HOTSSL_ENOTSUP);
  return;
#endif
  TEQ(r, 0);
  key[0] ^= 1; /* another key name */
  TEQ(hotssl__tickets_standalone(&other, key, sizeof key, 100), 0);
  hotssl__tickets_valid_header(t, body);
  memset(body + HOTSSL__TICKET_HDR, 0, 8); /* no session after it */
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  /* A good header reaches the session, whose bytes are refused. */
  r = hotssl__tickets_parse_ticket(t, tk, len);
  T(r != 0 && r != MBEDTLS_ERR_SSL_INVALID_MAC && r != MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED);
  /* Under another server's key: unknown. */
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  TEQ(hotssl__tickets_parse_ticket(other, tk, len), MBEDTLS_ERR_SSL_INVALID_MAC);
  /* One bit changed anywhere: not authentic. */
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  tk[len / 2] ^= 0x10;
  TEQ(hotssl__tickets_parse_ticket(t, tk, len), MBEDTLS_ERR_SSL_INVALID_MAC);
  /* Truncated. */
  TEQ(hotssl__tickets_parse_ticket(t, tk, 40), MBEDTLS_ERR_SSL_INVALID_MAC);
  /* Issued longer ago than its lifetime: expired. */
  {
    uint64_t then = (uint64_t)time(NULL) - 200;
    for (i = 0; i < 8; i++)
      body[1 + i] = (unsigned char)(then >> (56 - 8 * i));
  }
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  TEQ(hotssl__tickets_parse_ticket(t, tk, len), MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED);
  /* Another identity, another trust digest: refused. */
  hotssl__tickets_valid_header(t, body);
  body[13] ^= 1;
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  TEQ(hotssl__tickets_parse_ticket(t, tk, len), MBEDTLS_ERR_SSL_INVALID_MAC);
  hotssl__tickets_valid_header(t, body);
  body[45] ^= 1;
  TEQ(hotssl__tickets_seal(t, body, sizeof body, tk, sizeof tk, &len), 0);
  TEQ(hotssl__tickets_parse_ticket(t, tk, len), MBEDTLS_ERR_SSL_INVALID_MAC);
  hotssl__tickets_free(t);
  hotssl__tickets_free(other);
}

static hotssl_manager *manager(const char *extra, int expect) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  char err[512], text[1024], *p = tu_path(dir, "hotssl.conf");
  snprintf(text, sizeof text,
           "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_session_tickets = on\n%s",
           extra);
  tu_write_atomic(p, text, 0644);
  hotssl_config_create(&cfg);
  T(hotssl_config_load_file(cfg, p, err, sizeof err) == 0);
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), expect);
  if (expect != 0)
    T(strstr(err, "hotssl_session_tickets") != NULL || strstr(err, "ticket key file") != NULL);
  hotssl_config_destroy(cfg);
  free(p);
  return m;
}

static void names(hotssl_manager *m, char *name, char *source, uint64_t *keys) {
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_NAME, name, 40), 0);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_SOURCE, source, 32), 0);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEYS, keys, sizeof *keys), 0);
}

/* A backend built from m's snapshot of kind `what` serves the same keys
 * and takes the same snapshot again, byte for byte. */
static void round_trip(hotssl_manager *m, unsigned what) {
  hotssl_snapshot *s = NULL, *s2 = NULL;
  hotssl_manager *b = NULL;
  const unsigned char *bytes, *bytes2;
  size_t len = 0, len2 = 0;
  char n1[40], n2[40], s1[32], s2n[32], err[512];
  uint64_t k1 = 0, k2 = 0, on = 0;
  TEQ(hotssl_snapshot_take(m, what, &s), 0);
  bytes = hotssl_snapshot_bytes(s, &len);
  TEQ(hotssl_manager_create_from_snapshot(&b, bytes, len, NULL, err, sizeof err), 0);
  if (b == NULL) {
    fprintf(stderr, "from snapshot: %s\n", err);
    hotssl_snapshot_destroy(s);
    return;
  }
  TEQ(hotssl_manager_info(b, HOTSSL_INFO_TICKETS, &on, sizeof on), 0);
  TEQ(on, 1);
  names(m, n1, s1, &k1);
  names(b, n2, s2n, &k2);
  TSTR(n1, n2);
  TSTR(s1, s2n);
  TEQ(k1, k2);
  TEQ(strlen(n1), 32);
  TEQ(hotssl_snapshot_take(b, what, &s2), 0);
  bytes2 = hotssl_snapshot_bytes(s2, &len2);
  TEQ(len2, len);
  T(len2 == len && memcmp(bytes, bytes2, len) == 0);
  hotssl_snapshot_destroy(s2);
  hotssl_manager_destroy(b);
  hotssl_snapshot_destroy(s);
}

static void managers(void) {
  hotssl_manager *m, *m2;
  unsigned char keys[160];
  char n1[40], n2[40], s1[32], want[33];
  uint64_t k = 0, on = 7;
  int64_t age = -1;
  size_t i;
  tu_put_testdata(dir, "server.crt", "server-cn-only.crt", 0644);
  tu_put_testdata(dir, "server.key", "server-cn-only.key", 0600);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
  m = manager("", HOTSSL_ENOTSUP);
  T(m == NULL);
  return;
#endif
  /* Generated keys: each manager its own seed; the snapshot carries it. */
  m = manager("", 0);
  m2 = manager("", 0);
  if (m == NULL || m2 == NULL)
    return;
  names(m, n1, s1, &k);
  TSTR(s1, "generated");
  TEQ(k, 2);
  names(m2, n2, s1, &k);
  T(strcmp(n1, n2) != 0);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_AGE, &age, sizeof age), 0);
  T(age >= 0 && age < 7200);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKETS_RESUMED, &k, sizeof k), 0);
  TEQ(k, 0);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEYS, &age, 4), HOTSSL_EINVAL);
  round_trip(m, HOTSSL_SNAPSHOT_CONTENTS);
  round_trip(m, HOTSSL_SNAPSHOT_PATHS);
  hotssl_manager_destroy(m);
  hotssl_manager_destroy(m2);
  /* A key file of two keys: the first encrypts (the second is staged). */
  fill(keys, 80, 3);
  fill(keys + 80, 80, 4);
  {
    char *p = tu_path(dir, "tickets.key");
    FILE *f = fopen(p, "wb");
    T(f != NULL && fwrite(keys, 1, sizeof keys, f) == sizeof keys);
    if (f != NULL)
      fclose(f);
    T(chmod(p, 0600) == 0);
    free(p);
  }
  m = manager("hotssl_ticket_key_file = 'tickets.key'\n", 0);
  if (m == NULL)
    return;
  names(m, n1, s1, &k);
  for (i = 0; i < 16; i++)
    snprintf(want + 2 * i, 3, "%02x", keys[i]);
  TSTR(n1, want);
  TSTR(s1, "80-byte binary");
  TEQ(k, 2);
  round_trip(m, HOTSSL_SNAPSHOT_CONTENTS);
  round_trip(m, HOTSSL_SNAPSHOT_PATHS);
  hotssl_manager_destroy(m);
  /* Off: the items say so. */
  {
    hotssl_config *cfg;
    char err[512];
    hotssl_config_create(&cfg);
    hotssl_config_set_base_dir(cfg, dir);
    hotssl_config_set(cfg, "ssl_cert_file", "server.crt", NULL, 0);
    hotssl_config_set(cfg, "ssl_key_file", "server.key", NULL, 0);
    TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
    TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKETS, &on, sizeof on), 0);
    TEQ(on, 0);
    TEQ(hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_SOURCE, s1, sizeof s1), 0);
    TSTR(s1, "off");
    hotssl_manager_destroy(m);
    hotssl_config_destroy(cfg);
  }
}

int main(void) {
  dir = tu_mkdtemp();
  formats();
  ticket_checks();
  managers();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_tickets", checks);
}
