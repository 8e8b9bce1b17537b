/*
 * Session tickets: hotssl's own ticket write and parse callbacks
 * (mbedtls_ssl_conf_session_tickets_cb), not mbedTLS's ticket module (two
 * key slots, 4-byte names, a random key of its own when the active one
 * expires: no use to a fleet or to backends that share no memory).
 *
 * A ticket is key name (16) | nonce (12) | AES-256-GCM(body) | tag (16),
 * the name and nonce authenticated as additional data. The body:
 *   version (1) | issued, Unix seconds (8, big-endian) | lifetime (4) |
 *   entry id (32) | trust digest (32) | client certificate length (3) |
 *   the client certificate's DER (none: 0) | mbedtls_ssl_session_save() bytes.
 * The entry id names the identity that served the handshake (the ssl_sni
 * hosts file entry, or the configuration's own); the trust digest is
 * SHA-256 over that identity's CA set fingerprint and ssl_client_cert mode.
 * mbedTLS saves no peer certificate with a TLS 1.3 session, so the ticket
 * carries the client certificate itself: a restored session gets it back
 * (the host sees the same client certificate on a resumed connection, and
 * the tickets issued on it carry it again), and its issuer and serial are
 * looked up in the current revocation table when the ticket comes back.
 * A ticket is accepted only when its key is still known, it is within its
 * lifetime, the handshake selected the same entry, the trust digest is
 * unchanged and the client certificate (if any) is not revoked now;
 * otherwise mbedTLS falls back to a full handshake.
 *
 * Keys: a key file (hotssl_ticket_key_file; the encrypting key follows
 * HAProxy's rule: with two keys or more the second-newest, the last one
 * being staged; every key decrypts), or, without one, keys derived from the
 * manager's random seed for each period of hotssl_ticket_lifetime seconds
 * (HMAC-SHA-256(seed, label | period)): every process holding the seed
 * (fork children, spawned backends through the snapshot) derives the same
 * keys, and rotation needs no communication. The current and the previous
 * period's keys decrypt.
 *
 * ssl_sni: mbedTLS's ticket callbacks get no connection. The SNI callback,
 * the ticket parse callback and the certificate callback run one after the
 * other inside the processing of one ClientHello, on one thread, so the SNI
 * callback's choice reaches the parse through a per-thread note, which the
 * certificate callback checks (a note left by an aborted ClientHello cannot
 * let a ticket through: the certificate callback compares the entry the
 * parse used with the connection's own) and clears. For the ticket written
 * later (after the handshake, when other connections may have run on the
 * thread), the certificate callback records the connection's entry in a
 * small table keyed by its session object; a ticket whose session is not
 * found there is bound to no entry and never accepted.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "../os/os.h"
#include "hosts.h"
#include "objcache.h"
#include "revocation.h"
#include "tickets.h"
#include "util.h"

/* What the callbacks need of mbedTLS: 3.6's ticket and certificate
 * callbacks, the peer certificate kept in the session, AES-GCM. */
#if HOTSSL__MBEDTLS3 && defined(MBEDTLS_SSL_SESSION_TICKETS) &&                                         \
    defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE) && defined(MBEDTLS_GCM_C) && defined(MBEDTLS_SSL_SRV_C)
#  define HOTSSL__TICKETS 1
#else
#  define HOTSSL__TICKETS 0
#endif

#define NAME_LEN 16
#define IV_LEN 12
#define TAG_LEN 16
#define HDR_LEN HOTSSL__TICKET_HDR
#define TICKET_VERSION 1
#define MAP_SLOTS 1024

typedef struct map_slot {
  atomic_flag busy;
  const void *session;
  long entry;
} map_slot;

struct hotssl__tickets {
  const hotssl_generation *top; /* the generation that owns this (no reference) */
  hotssl__ticket_shared *shared;
  hotssl__ticket_key *keys; /* the key file's, or NULL: generated */
  size_t n_keys, enc;
  unsigned char *file_bytes; /* the key file as read (the snapshot carries it) */
  size_t file_len;
  const char *source;
  uint32_t lifetime;
  int64_t enc_since; /* when this process first used the file's encrypting key */
  /* Identities: the hosts entries (0..n_ids-2) and the configuration's own
   * (n_ids-1); without ssl_sni only the own one. */
  size_t n_ids;
  unsigned char (*id)[32];
  unsigned char (*trust)[32];
  const hotssl_generation **ident;
  long nosni; /* the identity serving connections without a server name */
  const struct hotssl__hosts *hosts;
  map_slot *map; /* ssl_sni only */
};

/* ---- shared state ---- */

hotssl__ticket_shared *hotssl__ticket_shared_new(const unsigned char *seed) {
  hotssl__ticket_shared *s = hotssl__secure_alloc(sizeof *s); /* the seed is key material */
  if (s == NULL)
    return NULL;
  atomic_init(&s->refs, 1);
  if (seed != NULL)
    memcpy(s->seed, seed, 32);
  else if (hotssl__os_entropy(NULL, s->seed, 32) != 0) {
    hotssl__secure_free(s);
    return NULL;
  }
  return s;
}

static hotssl__ticket_shared *shared_ref(hotssl__ticket_shared *s) {
  if (s != NULL)
    atomic_fetch_add(&s->refs, 1);
  return s;
}

void hotssl__ticket_shared_release(hotssl__ticket_shared *s) {
  if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  hotssl__secure_free(s); /* zeroizes the seed with the rest */
}

/* ---- keys ---- */

static int hmac(const unsigned char *key, size_t klen, const char *label, const unsigned char *msg,
                size_t mlen, unsigned char out[32]) {
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  mbedtls_md_context_t c;
  int r;
  mbedtls_md_init(&c);
  r = mbedtls_md_setup(&c, md, 1);
  if (r == 0)
    r = mbedtls_md_hmac_starts(&c, key, klen);
  if (r == 0)
    r = mbedtls_md_hmac_update(&c, (const unsigned char *)label, strlen(label));
  if (r == 0 && mlen > 0)
    r = mbedtls_md_hmac_update(&c, msg, mlen);
  if (r == 0)
    r = mbedtls_md_hmac_finish(&c, out);
  mbedtls_md_free(&c);
  return r;
}

static int b64_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

static int space_char(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* One key's raw bytes (48 or 80) into k. */
static int key_from_raw(const unsigned char *raw, size_t len, hotssl__ticket_key *k) {
  memcpy(k->name, raw, NAME_LEN);
  return hmac(raw + NAME_LEN, len - NAME_LEN, "hotssl session ticket AEAD key", NULL, 0, k->aead);
}

/* Into *keys, which has room for cap keys (a key's line has at least 64
 * base64 characters, so the caller sizes it from the file's length). */
static int parse_base64(const unsigned char *d, size_t len, hotssl__ticket_key **keys, size_t *n,
                        size_t cap, char *why, size_t whylen) {
  size_t i = 0, line = 0;
  while (i < len) {
    size_t s = i, e, olen = 0;
    unsigned char raw[81];
    int r;
    while (i < len && d[i] != '\n')
      i++;
    e = i++;
    line++;
    while (s < e && space_char(d[s]))
      s++;
    while (e > s && space_char(d[e - 1]))
      e--;
    if (s == e)
      continue;
    r = mbedtls_base64_decode(raw, sizeof raw, &olen, d + s, e - s);
    if (r != 0 || (olen != 48 && olen != 80)) {
      mbedtls_platform_zeroize(raw, sizeof raw);
      if (r != 0 && r != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        hotssl__fmt(why, whylen, "line %zu is not valid base64", line);
      else
        hotssl__fmt(why, whylen, "line %zu decodes to %s bytes; a key has 48 or 80", line,
                    r != 0 ? "more than 80" : "a number of");
      return HOTSSL_ECONFIG;
    }
    if (*n == cap) { /* cannot happen: each key's line has at least 64 characters */
      mbedtls_platform_zeroize(raw, sizeof raw);
      return HOTSSL_ECONFIG;
    }
    r = key_from_raw(raw, olen, &(*keys)[*n]);
    mbedtls_platform_zeroize(raw, sizeof raw);
    if (r != 0)
      return HOTSSL_ENOMEM;
    (*n)++;
  }
  return 0;
}

int hotssl__ticket_keys_parse(const unsigned char *data, size_t len, hotssl__ticket_key **keys,
                              size_t *n, const char **format, char *why, size_t whylen) {
  size_t i, ksize;
  int text = 1, r;
  *keys = NULL;
  *n = 0;
  *format = "";
  for (i = 0; i < len && text; i++)
    text = b64_char(data[i]) || space_char(data[i]);
  if (len > 0 && text) {
    *format = "base64 lines";
    r = (*keys = hotssl__secure_alloc((len / 64 + 1) * sizeof **keys)) == NULL
            ? HOTSSL_ENOMEM
            : parse_base64(data, len, keys, n, len / 64 + 1, why, whylen);
  } else {
    ksize = len > 0 && len % 80 == 0 ? 80 : len > 0 && len % 48 == 0 ? 48 : 0;
    *format = ksize == 80 ? "80-byte binary" : "48-byte binary";
    r = 0;
    if (ksize == 0) {
      hotssl__fmt(why, whylen, "%zu bytes: neither base64 lines nor binary keys of 80 or 48 bytes each",
                  len);
      r = HOTSSL_ECONFIG;
    } else if ((*keys = hotssl__secure_alloc(len / ksize * sizeof **keys)) == NULL)
      r = HOTSSL_ENOMEM;
    for (i = 0; r == 0 && i < len / ksize; i++, (*n)++)
      if (key_from_raw(data + i * ksize, ksize, &(*keys)[i]) != 0)
        r = HOTSSL_ENOMEM;
  }
  if (r == 0 && *n == 0) {
    hotssl__fmt(why, whylen, "no keys (an empty file)");
    r = HOTSSL_ECONFIG;
  }
  for (i = 0; r == 0 && i < *n; i++) {
    size_t j;
    for (j = 0; j < i; j++)
      if (memcmp((*keys)[i].name, (*keys)[j].name, NAME_LEN) == 0) {
        hotssl__fmt(why, whylen, "keys %zu and %zu have the same name (first 16 bytes)", j + 1, i + 1);
        r = HOTSSL_ECONFIG;
        break;
      }
  }
  if (r != 0) {
    hotssl__ticket_keys_free(*keys, *n);
    *keys = NULL;
    *n = 0;
  }
  return r;
}

void hotssl__ticket_keys_free(hotssl__ticket_key *keys, size_t n) {
  (void)n;
  hotssl__secure_free(keys); /* zeroizes all of it; NULL ok */
}

/* Generated keys: the key of period p. */
static int derived_key(const hotssl__ticket_shared *sh, uint64_t p, hotssl__ticket_key *k) {
  unsigned char be[8], full[32];
  int i, r;
  for (i = 0; i < 8; i++)
    be[i] = (unsigned char)(p >> (56 - 8 * i));
  r = hmac(sh->seed, 32, "hotssl ticket key name", be, 8, full);
  if (r == 0) {
    memcpy(k->name, full, NAME_LEN);
    r = hmac(sh->seed, 32, "hotssl ticket AEAD key", be, 8, k->aead);
  }
  mbedtls_platform_zeroize(full, sizeof full);
  return r;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* The encrypting key at now. */
static int enc_key(const struct hotssl__tickets *t, int64_t now, hotssl__ticket_key *k) {
  if (t->keys != NULL) {
    *k = t->keys[t->enc];
    return 0;
  }
  return derived_key(t->shared, (uint64_t)now / t->lifetime, k);
}

/* The key named name at now, if any still decrypts: 0, or -1. */
static int find_key(const struct hotssl__tickets *t, int64_t now, const unsigned char *name,
                    hotssl__ticket_key *k) {
  size_t i;
  if (t->keys != NULL) {
    for (i = 0; i < t->n_keys; i++)
      if (memcmp(t->keys[i].name, name, NAME_LEN) == 0) {
        *k = t->keys[i];
        return 0;
      }
    return -1;
  }
  for (i = 0; i < 2; i++) {
    uint64_t p = (uint64_t)now / t->lifetime;
    if (p < i || derived_key(t->shared, p - i, k) != 0)
      continue;
    if (memcmp(k->name, name, NAME_LEN) == 0)
      return 0;
  }
  mbedtls_platform_zeroize(k, sizeof *k);
  return -1;
}

/* ---- identities ---- */

/* SHA-256 over label and the identity's CA set and client-certificate mode. */
static void trust_digest(const hotssl_generation *e, unsigned char out[32]) {
  unsigned char buf[16 + 32 + 1];
  memcpy(buf, "hotssl-trust-v1\n", 16);
  if (e->ca != NULL)
    memcpy(buf + 16, e->ca->fp, 32);
  else
    memset(buf + 16, 0, 32);
  buf[48] = (unsigned char)e->client_cert;
  hotssl__sha256(buf, sizeof buf, out);
}

/* An entry's id: SHA-256 of its names and kind. */
static void entry_id(const hotssl__host *e, unsigned char out[32]) {
  mbedtls_sha256_context c;
  size_t i;
  unsigned char kind[2];
  kind[0] = (unsigned char)e->is_default;
  kind[1] = (unsigned char)e->is_no_sni;
  mbedtls_sha256_init(&c);
#if HOTSSL__MBEDTLS3
  mbedtls_sha256_starts(&c, 0);
  mbedtls_sha256_update(&c, (const unsigned char *)"hotssl-entry-v1\n", 16);
  mbedtls_sha256_update(&c, kind, 2);
  for (i = 0; i < e->n_names; i++)
    mbedtls_sha256_update(&c, (const unsigned char *)e->names[i], strlen(e->names[i]) + 1);
  mbedtls_sha256_finish(&c, out);
#else
  (void)i;
  (void)kind;
  memset(out, 0, 32);
#endif
  mbedtls_sha256_free(&c);
}

static int identities(struct hotssl__tickets *t, const hotssl_generation *g) {
  const struct hotssl__hosts *h = g->hosts;
  size_t n = (h != NULL ? h->n : 0) + 1, i;
  t->n_ids = n;
  t->id = calloc(n, sizeof *t->id);
  t->trust = calloc(n, sizeof *t->trust);
  t->ident = calloc(n, sizeof *t->ident);
  if (t->id == NULL || t->trust == NULL || t->ident == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i + 1 < n; i++) {
    entry_id(&h->v[i], t->id[i]);
    t->ident[i] = h->v[i].g;
    trust_digest(h->v[i].g, t->trust[i]);
  }
  hotssl__sha256((const unsigned char *)"hotssl-own-identity-v1", 22, t->id[n - 1]);
  t->ident[n - 1] = g;
  trust_digest(g, t->trust[n - 1]);
  t->nosni = h != NULL && h->top_entry >= 0 ? h->top_entry : (long)(n - 1);
  t->hosts = h;
  if (h != NULL && (t->map = calloc(MAP_SLOTS, sizeof *t->map)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; t->map != NULL && i < MAP_SLOTS; i++)
    atomic_flag_clear(&t->map[i].busy);
  return 0;
}

void hotssl__tickets_free(struct hotssl__tickets *t) {
  if (t == NULL)
    return;
  hotssl__ticket_keys_free(t->keys, t->n_keys);
  hotssl__secure_free(t->file_bytes); /* zeroized; NULL ok */
  hotssl__ticket_shared_release(t->shared);
  free(t->id);
  free(t->trust);
  free((void *)t->ident);
  free(t->map);
  free(t);
}

#if HOTSSL__TICKETS

/* ---- the per-thread note of one ClientHello (ssl_sni) ---- */

static _Thread_local struct {
  const void *sni_ssl; /* the connection the SNI callback saw */
  const struct hotssl__hosts *sni_h;
  long sni_entry;
  const struct hotssl__tickets *acc_t; /* a ticket accepted for this identity */
  long acc_entry;
  /* The accepted ticket's client certificate (a copy), for the session the
   * handshake keeps: TLS 1.3 copies only some fields of a ticket's session
   * into it, not the peer certificate, which live revocation looks up
   * (hotssl_client_verify_revoked). */
  mbedtls_x509_crt *acc_peer;
} note;

static void drop_peer(void) {
  if (note.acc_peer != NULL) {
    mbedtls_x509_crt_free(note.acc_peer);
    mbedtls_free(note.acc_peer);
    note.acc_peer = NULL;
  }
}

void hotssl__tickets_note_sni(const mbedtls_ssl_context *ssl, const struct hotssl__hosts *h,
                              long entry) {
  note.sni_ssl = ssl;
  note.sni_h = h;
  note.sni_entry = entry;
}

static size_t map_index(const void *p) {
  uintptr_t x = (uintptr_t)p;
  x ^= x >> 17;
  x *= (uintptr_t)0x9E3779B97F4A7C15ull;
  return (size_t)(x >> 7) % MAP_SLOTS;
}

/* Never waits: a busy slot is skipped (the ticket is then bound to no
 * entry). */
static void map_put(struct hotssl__tickets *t, const void *session, long entry) {
  map_slot *s = &t->map[map_index(session)];
  if (atomic_flag_test_and_set(&s->busy))
    return;
  s->session = session;
  s->entry = entry;
  atomic_flag_clear(&s->busy);
}

static long map_get(struct hotssl__tickets *t, const void *session) {
  map_slot *s = &t->map[map_index(session)];
  long e = -1;
  if (atomic_flag_test_and_set(&s->busy))
    return -1;
  if (s->session == session)
    e = s->entry;
  atomic_flag_clear(&s->busy);
  return e;
}

/* The identity this ClientHello selected, from the thread's note. */
static long current_entry(const struct hotssl__tickets *t, const void *ssl) {
  if (t->hosts == NULL)
    return (long)t->n_ids - 1;
  if (note.sni_h == t->hosts && note.sni_ssl != NULL && (ssl == NULL || note.sni_ssl == ssl))
    return note.sni_entry;
  return t->nosni;
}

/* The certificate callback: the end of every ClientHello's processing. */
static int cert_cb(mbedtls_ssl_context *ssl) {
  struct hotssl__tickets *t = ssl->MBEDTLS_PRIVATE(conf)->MBEDTLS_PRIVATE(p_ticket);
  long actual = current_entry(t, ssl);
  /* A ticket accepted in this ClientHello for another identity than the
   * connection's (only possible with a note an aborted ClientHello left). */
  int refuse = note.acc_t == t && note.acc_entry != actual;
  mbedtls_ssl_session *sn = ssl->MBEDTLS_PRIVATE(session_negotiate);
  if (!refuse && t->map != NULL)
    map_put(t, sn, actual);
  if (!refuse && note.acc_t == t && note.acc_peer != NULL && sn != NULL &&
      sn->MBEDTLS_PRIVATE(peer_cert) == NULL) {
    sn->MBEDTLS_PRIVATE(peer_cert) = note.acc_peer; /* the session frees it */
    note.acc_peer = NULL;
  }
  drop_peer();
  memset(&note, 0, sizeof note);
  return refuse ? MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE : 0;
}

/* ---- the callbacks ---- */

static void put_be(unsigned char *p, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; i++)
    p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *p, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

static int ticket_write(void *ctx, const mbedtls_ssl_session *session, unsigned char *start,
                        const unsigned char *end, size_t *tlen, uint32_t *lifetime) {
  struct hotssl__tickets *t = ctx;
  hotssl__ticket_key k;
  mbedtls_gcm_context gcm;
  unsigned char *body = start + NAME_LEN + IV_LEN;
  size_t avail, slen = 0, clen = 0;
  int64_t now = now_s();
  long e = t->map != NULL ? map_get(t, session) : (long)t->n_ids - 1;
  const mbedtls_x509_crt *peer = session->MBEDTLS_PRIVATE(peer_cert);
  int r;

  *tlen = 0;
  if (end - start < NAME_LEN + IV_LEN + HDR_LEN + TAG_LEN)
    return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
  avail = (size_t)(end - body) - TAG_LEN;
  body[0] = TICKET_VERSION;
  put_be(body + 1, (uint64_t)now, 8);
  put_be(body + 9, t->lifetime, 4);
  if (e < 0) {
    memset(body + 13, 0xff, 64); /* bound to no identity: never accepted */
  } else {
    memcpy(body + 13, t->id[e], 32);
    memcpy(body + 45, t->trust[e], 32);
  }
  if (peer != NULL)
    clen = peer->raw.len;
  if (clen > 0xffffff || HDR_LEN + clen > avail)
    return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
  put_be(body + HDR_LEN - 3, clen, 3);
  if (clen > 0)
    memcpy(body + HDR_LEN, peer->raw.p, clen);
  r = mbedtls_ssl_session_save(session, body + HDR_LEN + clen, avail - HDR_LEN - clen, &slen);
  if (r != 0)
    return r;
  slen += clen;
  if (enc_key(t, now, &k) != 0 || hotssl__os_entropy(NULL, start + NAME_LEN, IV_LEN) != 0)
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  memcpy(start, k.name, NAME_LEN);
  mbedtls_gcm_init(&gcm);
  r = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k.aead, 256);
  if (r == 0)
    r = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, HDR_LEN + slen, start + NAME_LEN, IV_LEN,
                                  start, NAME_LEN + IV_LEN, body, body, TAG_LEN, body + HDR_LEN + slen);
  mbedtls_gcm_free(&gcm);
  mbedtls_platform_zeroize(&k, sizeof k);
  if (r != 0) {
    mbedtls_platform_zeroize(body, HDR_LEN + slen);
    return r;
  }
  *tlen = NAME_LEN + IV_LEN + HDR_LEN + slen + TAG_LEN;
  *lifetime = t->lifetime;
  atomic_fetch_add(&t->shared->issued, 1);
  return 0;
}

/* The client certificate of a restored session, not revoked under the
 * identity's current CRL set: 0, or -1. */
static int not_revoked(const hotssl_generation *e, const mbedtls_ssl_session *s) {
  const mbedtls_x509_crt *c = s->MBEDTLS_PRIVATE(peer_cert);
  const hotssl__revocation *rev;
  if (c == NULL || e == NULL || e->crl == NULL)
    return 0;
  rev = e->crl->revocation;
  if (rev == NULL)
    return -1; /* a CRL set without its table: no decision by lookup */
  return hotssl__revocation_lookup(rev, c->issuer_raw.p, c->issuer_raw.len, c->serial.p, c->serial.len)
             ? -1
             : 0;
}

/* Decrypt and check a ticket's body against the identity e selected: 0,
 * or an mbedTLS code (mbedTLS then makes a full handshake). */
static int open_ticket(struct hotssl__tickets *t, long e, unsigned char *buf, size_t len,
                       size_t *body_len) {
  hotssl__ticket_key k;
  mbedtls_gcm_context gcm;
  unsigned char *body = buf + NAME_LEN + IV_LEN;
  uint64_t now = (uint64_t)now_s(), issued, age;
  uint32_t life;
  int r;
  if (len < NAME_LEN + IV_LEN + HDR_LEN + TAG_LEN)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  *body_len = len - NAME_LEN - IV_LEN - TAG_LEN;
  if (find_key(t, (int64_t)now, buf, &k) != 0)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  mbedtls_gcm_init(&gcm);
  r = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k.aead, 256);
  if (r == 0)
    r = mbedtls_gcm_auth_decrypt(&gcm, *body_len, buf + NAME_LEN, IV_LEN, buf, NAME_LEN + IV_LEN,
                                 body + *body_len, TAG_LEN, body, body);
  mbedtls_gcm_free(&gcm);
  mbedtls_platform_zeroize(&k, sizeof k);
  if (r != 0)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  issued = get_be(body + 1, 8); /* unsigned: any value, no overflow */
  life = (uint32_t)get_be(body + 9, 4);
  age = issued > now ? 0 : now - issued;
  if (body[0] != TICKET_VERSION)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  if (issued > now + 60 || age >= life || life > t->lifetime)
    return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
  if (memcmp(body + 13, t->id[e], 32) != 0 || memcmp(body + 45, t->trust[e], 32) != 0)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  return 0;
}

/* The session saved after the client certificate, which the session gets
 * back when mbedTLS did not save it (TLS 1.3). */
static int restore(mbedtls_ssl_session *session, const unsigned char *body, size_t body_len) {
  size_t clen = (size_t)get_be(body + HDR_LEN - 3, 3);
  mbedtls_x509_crt *c;
  int r;
  if (clen > body_len - HDR_LEN)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  r = mbedtls_ssl_session_load(session, body + HDR_LEN + clen, body_len - HDR_LEN - clen);
  if (r != 0 || clen == 0 || session->MBEDTLS_PRIVATE(peer_cert) != NULL)
    return r;
  if ((c = mbedtls_calloc(1, sizeof *c)) == NULL)
    return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  mbedtls_x509_crt_init(c);
  if ((r = mbedtls_x509_crt_parse_der(c, body + HDR_LEN, clen)) != 0) {
    mbedtls_x509_crt_free(c);
    mbedtls_free(c);
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  }
  session->MBEDTLS_PRIVATE(peer_cert) = c;
  return 0;
}

static int ticket_parse(void *ctx, mbedtls_ssl_session *session, unsigned char *buf, size_t len) {
  struct hotssl__tickets *t = ctx;
  long e = current_entry(t, NULL);
  size_t body_len = 0;
  int r = open_ticket(t, e, buf, len, &body_len);
  if (r == 0)
    r = restore(session, buf + NAME_LEN + IV_LEN, body_len);
  if (r == 0 && not_revoked(t->ident[e], session) != 0)
    r = MBEDTLS_ERR_SSL_INVALID_MAC;
  if (body_len > 0)
    mbedtls_platform_zeroize(buf + NAME_LEN + IV_LEN, body_len);
  if (r != 0) {
    if (len >= NAME_LEN)
      atomic_fetch_add(&t->shared->rejected, 1);
    return r;
  }
  note.acc_t = t;
  note.acc_entry = e;
  drop_peer();
  if (session->MBEDTLS_PRIVATE(peer_cert) != NULL &&
      (note.acc_peer = mbedtls_calloc(1, sizeof *note.acc_peer)) != NULL) {
    const mbedtls_x509_buf *raw = &session->MBEDTLS_PRIVATE(peer_cert)->raw;
    mbedtls_x509_crt_init(note.acc_peer);
    if (mbedtls_x509_crt_parse_der(note.acc_peer, raw->p, raw->len) != 0)
      drop_peer(); /* then the session is not followed by live revocation */
  }
  atomic_fetch_add(&t->shared->resumed, 1);
  return 0;
}

#else /* mbedTLS 2.28 */

void hotssl__tickets_note_sni(const mbedtls_ssl_context *ssl, const struct hotssl__hosts *h,
                              long entry) {
  (void)ssl;
  (void)h;
  (void)entry;
}

#endif

/* ---- attach ---- */

static int load_file(struct hotssl__tickets *t, const hotssl__inputs *in, const hotssl_generation *prev,
                     char *errbuf, size_t errlen) {
  char why[256];
  int r = hotssl__ticket_keys_parse(in->tkeys.data, in->tkeys.len, &t->keys, &t->n_keys, &t->source, why,
                                    sizeof why);
  if (r == HOTSSL_ECONFIG) {
    hotssl__fmt(errbuf, errlen, "could not load session ticket key file \"%s\": %s",
                in->s.ticket_key_file, why);
    return r;
  }
  if (r != 0)
    return r;
  t->enc = t->n_keys >= 2 ? t->n_keys - 2 : 0;
  if ((t->file_bytes = hotssl__secure_alloc(in->tkeys.len ? in->tkeys.len : 1)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(t->file_bytes, in->tkeys.data, in->tkeys.len);
  t->file_len = in->tkeys.len;
  t->enc_since = now_s();
  if (prev != NULL && prev->tickets != NULL && prev->tickets->keys != NULL &&
      memcmp(prev->tickets->keys[prev->tickets->enc].name, t->keys[t->enc].name, NAME_LEN) == 0)
    t->enc_since = prev->tickets->enc_since;
  return 0;
}

int hotssl__tickets_attach(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                           char *errbuf, size_t errlen) {
  struct hotssl__tickets *t;
  int r;
  if (!in->s.tickets)
    return 0;
#if !HOTSSL__TICKETS
  (void)g;
  (void)prev;
  (void)t;
  (void)r;
  (void)load_file; /* used with mbedTLS 3.6 only */
  (void)identities;
  (void)find_key;
  (void)shared_ref;
  hotssl__fmt(errbuf, errlen,
              "hotssl_session_tickets = on needs mbedTLS 3.6 built with MBEDTLS_SSL_SESSION_TICKETS, MBEDTLS_SSL_KEEP_PEER_CERTIFICATE and MBEDTLS_GCM_C (this build has %s)",
              MBEDTLS_VERSION_STRING);
  return HOTSSL_ENOTSUP;
#else
  if (in->ctx.tickets_shared == NULL) {
    hotssl__fmt(errbuf, errlen, "session tickets: no shared ticket state");
    return HOTSSL_EINVAL;
  }
  if ((t = calloc(1, sizeof *t)) == NULL)
    return HOTSSL_ENOMEM;
  t->top = g;
  t->shared = shared_ref(in->ctx.tickets_shared);
  t->lifetime = in->s.ticket_lifetime;
  t->source = "generated";
  if (in->s.ticket_key_file != NULL)
    r = load_file(t, in, prev, errbuf, errlen);
  else
    r = 0;
  if (r == 0)
    r = identities(t, g);
  if (r != 0) {
    if (r == HOTSSL_ENOMEM)
      hotssl__fmt(errbuf, errlen, "could not set up session tickets: out of memory");
    hotssl__tickets_free(t);
    return r;
  }
  g->tickets = t;
  g->tickets_free = hotssl__tickets_free;
  mbedtls_ssl_conf_session_tickets_cb(&g->conf, ticket_write, ticket_parse, t);
  mbedtls_ssl_conf_cert_cb(&g->conf, cert_cb);
#  if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  mbedtls_ssl_conf_tls13_key_exchange_modes(&g->conf,
                                            MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
                                                MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
  mbedtls_ssl_conf_new_session_tickets(&g->conf, 1);
#  endif
  return 0;
#endif
}

/* ---- observability and the snapshot ---- */

void hotssl__tickets_info(const hotssl_generation *g, hotssl__ticket_info *out) {
  const struct hotssl__tickets *t = g != NULL ? g->tickets : NULL;
  hotssl__ticket_key k;
  int64_t now = now_s();
  size_t i;
  memset(out, 0, sizeof *out);
  out->source = "off";
  if (t == NULL)
    return;
  out->on = 1;
  out->source = t->source;
  out->keys = t->keys != NULL ? t->n_keys : 2;
  if (enc_key(t, now, &k) == 0)
    for (i = 0; i < NAME_LEN; i++)
      snprintf(out->name_hex + 2 * i, 3, "%02x", k.name[i]);
  mbedtls_platform_zeroize(&k, sizeof k);
  out->key_age = t->keys != NULL ? now - t->enc_since : now % (int64_t)t->lifetime;
  out->issued = atomic_load(&t->shared->issued);
  out->resumed = atomic_load(&t->shared->resumed);
  out->rejected = atomic_load(&t->shared->rejected);
}

const unsigned char *hotssl__tickets_seed(const hotssl_generation *g) {
  if (g == NULL || g->tickets == NULL)
    return NULL;
  return g->tickets->shared->seed;
}

const unsigned char *hotssl__tickets_file(const hotssl_generation *g, size_t *len) {
  *len = g != NULL && g->tickets != NULL ? g->tickets->file_len : 0;
  return *len > 0 ? g->tickets->file_bytes : NULL;
}

/* ---- tests and fuzzing ---- */

int hotssl__tickets_standalone(struct hotssl__tickets **out, const unsigned char *keyfile, size_t len,
                               uint32_t lifetime) {
  static const unsigned char zero[32];
  struct hotssl__tickets *t;
  char why[256];
  int r = 0;
  *out = NULL;
#if !HOTSSL__TICKETS
  (void)t;
  (void)why;
  (void)r;
  (void)zero;
  (void)keyfile;
  (void)len;
  (void)lifetime;
  return HOTSSL_ENOTSUP;
#else
  if ((t = calloc(1, sizeof *t)) == NULL)
    return HOTSSL_ENOMEM;
  t->lifetime = lifetime ? lifetime : 1;
  t->source = "generated";
  if ((t->shared = hotssl__ticket_shared_new(zero)) == NULL)
    r = HOTSSL_ENOMEM;
  if (r == 0 && keyfile != NULL &&
      (r = hotssl__ticket_keys_parse(keyfile, len, &t->keys, &t->n_keys, &t->source, why, sizeof why)) ==
          0)
    t->enc = t->n_keys >= 2 ? t->n_keys - 2 : 0;
  if (r == 0) {
    t->n_ids = 1;
    t->id = calloc(1, sizeof *t->id);
    t->trust = calloc(1, sizeof *t->trust);
    t->ident = calloc(1, sizeof *t->ident);
    if (t->id == NULL || t->trust == NULL || t->ident == NULL)
      r = HOTSSL_ENOMEM;
  }
  if (r != 0) {
    hotssl__tickets_free(t);
    return r;
  }
  *out = t;
  return 0;
#endif
}

#if HOTSSL__TICKETS
void hotssl__tickets_valid_header(const struct hotssl__tickets *t, unsigned char *hdr) {
  memset(hdr, 0, HDR_LEN);
  hdr[0] = TICKET_VERSION;
  put_be(hdr + 1, (uint64_t)now_s(), 8);
  put_be(hdr + 9, t->lifetime, 4);
  memcpy(hdr + 13, t->id[0], 32);
  memcpy(hdr + 45, t->trust[0], 32);
}

int hotssl__tickets_seal(struct hotssl__tickets *t, const unsigned char *body, size_t blen,
                         unsigned char *out, size_t outsize, size_t *olen) {
  hotssl__ticket_key k;
  mbedtls_gcm_context gcm;
  int r;
  if (outsize < NAME_LEN + IV_LEN + blen + TAG_LEN || enc_key(t, now_s(), &k) != 0)
    return HOTSSL_EINVAL;
  memcpy(out, k.name, NAME_LEN);
  memset(out + NAME_LEN, 0x5a, IV_LEN);
  mbedtls_gcm_init(&gcm);
  r = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k.aead, 256);
  if (r == 0)
    r = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, blen, out + NAME_LEN, IV_LEN, out,
                                  NAME_LEN + IV_LEN, body, out + NAME_LEN + IV_LEN, TAG_LEN,
                                  out + NAME_LEN + IV_LEN + blen);
  mbedtls_gcm_free(&gcm);
  mbedtls_platform_zeroize(&k, sizeof k);
  *olen = NAME_LEN + IV_LEN + blen + TAG_LEN;
  return r == 0 ? 0 : HOTSSL_ETLS;
}

int hotssl__tickets_write_ticket(struct hotssl__tickets *t, const mbedtls_ssl_session *session,
                                 unsigned char *out, size_t outsize, size_t *olen) {
  uint32_t life = 0;
  return ticket_write(t, session, out, out + outsize, olen, &life);
}

int hotssl__tickets_parse_ticket(struct hotssl__tickets *t, unsigned char *ticket, size_t len) {
  mbedtls_ssl_session s;
  int r;
  mbedtls_ssl_session_init(&s);
  r = ticket_parse(t, &s, ticket, len);
  mbedtls_ssl_session_free(&s);
  memset(&note, 0, sizeof note);
  return r;
}
#else
void hotssl__tickets_valid_header(const struct hotssl__tickets *t, unsigned char *hdr) {
  (void)t;
  memset(hdr, 0, HDR_LEN);
}

int hotssl__tickets_seal(struct hotssl__tickets *t, const unsigned char *body, size_t blen,
                         unsigned char *out, size_t outsize, size_t *olen) {
  (void)t;
  (void)body;
  (void)blen;
  (void)out;
  (void)outsize;
  *olen = 0;
  return HOTSSL_ENOTSUP;
}

int hotssl__tickets_parse_ticket(struct hotssl__tickets *t, unsigned char *ticket, size_t len) {
  (void)t;
  (void)ticket;
  (void)len;
  return HOTSSL_ENOTSUP;
}

int hotssl__tickets_write_ticket(struct hotssl__tickets *t, const mbedtls_ssl_session *session,
                                 unsigned char *out, size_t outsize, size_t *olen) {
  (void)t;
  (void)session;
  (void)out;
  (void)outsize;
  *olen = 0;
  return HOTSSL_ENOTSUP;
}
#endif
