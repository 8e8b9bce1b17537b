/*
 * Snapshots: the pointer-free serialized form of what a manager serves (its
 * last good generation and the settings that produced it), so a spawned
 * backend or a prefork worker builds its own generation without re-reading
 * files that may be half-written on disk.
 *
 * Layout (integers big-endian):
 *   header, 32 bytes: "HTSN" | version u16 (3) | kind u16 (0 contents,
 *                     1 paths) | total length u64 | generation u64 |
 *                     checksum u64 (FNV-1a 64 over bytes 0..24 and
 *                     32..total)
 *   records:          tag u16 | 0 u16 | length u32 | value
 *     SETTING  "name\0value"         (only explicitly set settings)
 *     BASEDIR / SOURCE               string (the configuration's folder/file)
 *     FPRINT   32 bytes              overall content fingerprint
 *     CERT / KEY / CA                fingerprint[32] | u32 label length |
 *                                    label | u32 count | count x (u32 len | DER)
 *     CRL                            fingerprint[32] | u64 entries | u64 earliest
 *                                    next update | the revocation table, flat
 *                                    (hotssl__revocation_encode)
 *     DH                             fingerprint[32] | the DH parameters file's
 *                                    bytes as the parent read them (version 3)
 * Certificates and CA set are the DER the parent parsed and validated (each
 * parsed as DER by the backend, no PEM); the CRL set travels as the table
 * the parent built from it, with the CRLs' signatures already checked
 * against the CA file (the backend neither parses a CRL nor verifies its
 * signature again; a presented intermediate's key is still checked against
 * the digests and signatures the table keeps);
 * the DH parameters travel as the file's bytes, and the backend parses them
 * and checks their size and generator but does not repeat the parent's
 * primality tests (bounded, but up to seconds for 8192 bits: README);
 * the key is the parsed key written as DER (so an encrypted key needs no
 * passphrase in the backend: see include/hotssl/platform.h for where these
 * bytes may travel). A backend still runs every check of the builder on
 * them. Fingerprints are the parent's (over the files as read), so a worker
 * reuses unchanged parsed objects exactly as a reload would.
 *
 * Reading treats the bytes as hostile: exact total length, magic, version,
 * checksum, every length bounded by what remains, no duplicate records, no
 * NUL inside strings, settings re-checked by hotssl_config_set. The checksum
 * catches corruption and truncation; it is not authentication (the bytes
 * come from the parent through an inherited descriptor).
 *
 * No state; encode takes the manager's reload_lock.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "../os/os.h"
#include "build.h"
#include "config.h"
#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "log.h"
#include "manager.h"
#include "util.h"
#include "revocation.h"
#include "snapshot.h"

#define SNAP_VERSION 3u /* 3: T_DH */
#define KEY_DER_MAX 16384

enum {
  T_SETTING = 1,
  T_BASEDIR = 2,
  T_SOURCE = 3,
  T_FPRINT = 4,
  T_LOADFLAGS = 5, /* hotssl_config_load_file_ex's flags: a backend re-reads the file with them */
  T_CERT = 10,
  T_KEY = 11,
  T_CA = 12,
  T_CRL = 13,
  T_DH = 14,    /* ssl_dh_params_file: fingerprint[32] | the file's bytes */
  T_HOSTS = 20, /* ssl_sni: u32 1 + index of the no-SNI entry (0: the
                 * configuration's own files) | hosts file path */
  T_HOST = 21   /* repeated: u32 line | u32 flags (1 "*", 2 "/no_sni/") |
                 * u32 count | count x (u32 len | name) | CERT, KEY, CA, CRL
                 * records of the entry */
};

static const char *const setting_names[HOTSSL__S_COUNT] = {
#define SNAP_SET_NAME(id, name, def) name,
    HOTSSL__SETTINGS(SNAP_SET_NAME)
#undef SNAP_SET_NAME
};

static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Over the whole snapshot except the checksum field itself. */
static uint64_t checksum(const unsigned char *b, size_t len) {
  uint64_t h = fnv1a64(0xcbf29ce484222325ull, b, 24);
  return fnv1a64(h, b + HOTSSL__SNAPSHOT_HEADER, len - HOTSSL__SNAPSHOT_HEADER);
}

/* ---- writer: first pass counts (buf == NULL), second pass writes ---- */

typedef struct wr {
  unsigned char *buf;
  size_t off;
} wr;

static void put(wr *w, const void *p, size_t n) {
  if (w->buf != NULL && n > 0)
    memcpy(w->buf + w->off, p, n);
  w->off += n;
}

static void put_u16(wr *w, unsigned v) {
  unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
  put(w, b, 2);
}

static void put_u32(wr *w, size_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  put(w, b, 4);
}

static void put_u64(wr *w, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--) {
    unsigned char c = (unsigned char)(v >> (8 * i));
    put(w, &c, 1);
  }
}

static void put_rec(wr *w, unsigned tag, size_t len) {
  put_u16(w, tag);
  put_u16(w, 0);
  put_u32(w, len);
}

static void put_str_rec(wr *w, unsigned tag, const char *s) {
  size_t n = strlen(s);
  put_rec(w, tag, n);
  put(w, s, n);
}

/* One file record from a list of DER items. */
typedef struct item {
  const unsigned char *p;
  size_t len;
} item;

static void put_file(wr *w, unsigned tag, const unsigned char fp[32], const char *label,
                     const item *items, size_t n) {
  size_t total = 32 + 4 + strlen(label) + 4, i;
  for (i = 0; i < n; i++)
    total += 4 + items[i].len;
  put_rec(w, tag, total);
  put(w, fp, 32);
  put_u32(w, strlen(label));
  put(w, label, strlen(label));
  put_u32(w, n);
  for (i = 0; i < n; i++) {
    put_u32(w, items[i].len);
    put(w, items[i].p, items[i].len);
  }
}

static size_t crt_items(const mbedtls_x509_crt *c, item *v) {
  size_t n = 0;
  for (; c != NULL && c->raw.p != NULL; c = c->next, n++)
    if (v != NULL) {
      v[n].p = c->raw.p;
      v[n].len = c->raw.len;
    }
  return n;
}

/* The CRL record: the parent's revocation table, flat. */
static size_t crl_rec_len(size_t table_len) {
  return 8 + 32 + 16 + table_len;
}

static void put_crl(wr *w, const hotssl__shared *crl, size_t table_len) {
  put_rec(w, T_CRL, crl_rec_len(table_len) - 8);
  put(w, crl->fp, 32);
  put_u64(w, crl->crl_entries);
  put_u64(w, (uint64_t)crl->crl_next_update);
  if (w->buf != NULL)
    hotssl__revocation_encode(crl->revocation, w->buf + w->off);
  w->off += table_len;
}

static const char *label_of(const hotssl_config *cfg, int id, char **owned) {
  const char *v = hotssl__config_value(cfg, id);
  *owned = hotssl__path_join(cfg->base_dir, v);
  return *owned != NULL ? *owned : v;
}

/* The DER items of one generation's files (pointing into its objects; the
 * key written into keybuf). */
typedef struct gen_files {
  item *cert, *ca, key;
  size_t n_cert, n_ca, crl_len; /* crl_len: the flat table's */
  unsigned char *keybuf;
} gen_files;

static void gen_files_free(gen_files *f) {
  if (f->keybuf != NULL) {
    mbedtls_platform_zeroize(f->keybuf, KEY_DER_MAX);
    free(f->keybuf);
  }
  free(f->cert);
  free(f->ca);
  memset(f, 0, sizeof *f);
}

static int gen_files_get(gen_files *f, const hotssl_generation *g) {
  int kl;
  memset(f, 0, sizeof *f);
  f->n_cert = crt_items(&g->cert->u.crt, NULL);
  f->n_ca = g->ca != NULL ? crt_items(&g->ca->u.crt, NULL) : 0;
  f->crl_len = g->crl != NULL ? hotssl__revocation_encode(g->crl->revocation, NULL) : 0;
  f->cert = calloc(f->n_cert + 1, sizeof *f->cert);
  f->ca = calloc(f->n_ca + 1, sizeof *f->ca);
  f->keybuf = malloc(KEY_DER_MAX);
  if (f->cert == NULL || f->ca == NULL || f->keybuf == NULL)
    return HOTSSL_ENOMEM;
  crt_items(&g->cert->u.crt, f->cert);
  if (g->ca != NULL)
    crt_items(&g->ca->u.crt, f->ca);
  /* mbedtls writes the DER at the end of the buffer. */
  kl = mbedtls_pk_write_key_der(&g->key->u.pk, f->keybuf, KEY_DER_MAX);
  if (kl <= 0)
    return HOTSSL_ETLS;
  f->key.p = f->keybuf + KEY_DER_MAX - (size_t)kl;
  f->key.len = (size_t)kl;
  return 0;
}

static size_t file_rec_len(const char *label, const item *items, size_t n) {
  size_t total = 8 + 32 + 4 + strlen(label) + 4, i;
  for (i = 0; i < n; i++)
    total += 4 + items[i].len;
  return total;
}

/* ssl_sni: every entry of g->hosts, with its files (hf[i] for entry i). */
static void put_hosts(wr *w, const struct hotssl__hosts *h, const gen_files *hf) {
  size_t i, j;
  put_rec(w, T_HOSTS, 4 + strlen(h->path));
  put_u32(w, (size_t)(h->top_entry + 1));
  put(w, h->path, strlen(h->path));
  for (i = 0; i < h->n; i++) {
    const hotssl__host *e = &h->v[i];
    const hotssl_generation *g = e->g;
    size_t len = 12;
    for (j = 0; j < e->n_names; j++)
      len += 4 + strlen(e->names[j]);
    len += file_rec_len(e->cert_file, hf[i].cert, hf[i].n_cert) +
           file_rec_len(e->key_file, &hf[i].key, 1);
    if (g->ca != NULL)
      len += file_rec_len(e->ca_file, hf[i].ca, hf[i].n_ca);
    if (g->crl != NULL)
      len += crl_rec_len(hf[i].crl_len);
    put_rec(w, T_HOST, len);
    put_u32(w, e->line);
    put_u32(w, (size_t)((e->is_default ? 1 : 0) | (e->is_no_sni ? 2 : 0)));
    put_u32(w, e->n_names);
    for (j = 0; j < e->n_names; j++) {
      put_u32(w, strlen(e->names[j]));
      put(w, e->names[j], strlen(e->names[j]));
    }
    put_file(w, T_CERT, g->cert->fp, e->cert_file, hf[i].cert, hf[i].n_cert);
    put_file(w, T_KEY, g->key->fp, e->key_file, &hf[i].key, 1);
    if (g->ca != NULL)
      put_file(w, T_CA, g->ca->fp, e->ca_file, hf[i].ca, hf[i].n_ca);
    if (g->crl != NULL)
      put_crl(w, g->crl, hf[i].crl_len);
  }
}

void hotssl__snapshot_bytes_free(unsigned char *p, size_t len) {
  if (p == NULL)
    return;
  mbedtls_platform_zeroize(p, len);
  free(p);
}

int hotssl__snapshot_encode(hotssl_manager *m, unsigned what, unsigned char **out,
                            size_t *len, uint64_t *generation) {
  hotssl_generation *g;
  const hotssl_config *cfg;
  unsigned char *keybuf = NULL;
  size_t keylen = 0, n_cert = 0, n_ca = 0, crl_len = 0, pass, i;
  item *v_cert = NULL, *v_ca = NULL, v_key = {NULL, 0};
  char *lab[3] = {NULL, NULL, NULL};
  int r = 0;
  wr w = {NULL, 0};
  gen_files *hf = NULL; /* ssl_sni entries */
  size_t n_hf = 0;

  *out = NULL;
  *len = 0;
  if (what > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  hotssl__mutex_lock(m->reload_lock);
  /* Under the lock we are the only publisher: current and cfg are stable
   * and belong together (cfg produced, or matched, what is served). */
  g = atomic_load(&m->current);
  cfg = m->cfg;
  if (what == HOTSSL_SNAPSHOT_CONTENTS && g->hosts != NULL) {
    if ((hf = calloc(g->hosts->n, sizeof *hf)) == NULL) {
      r = HOTSSL_ENOMEM;
      goto out;
    }
    n_hf = g->hosts->n;
    for (i = 0; i < n_hf; i++)
      if ((r = gen_files_get(&hf[i], g->hosts->v[i].g)) != 0)
        goto out;
  }
  if (what == HOTSSL_SNAPSHOT_CONTENTS) {
    int kl;
    n_cert = crt_items(&g->cert->u.crt, NULL);
    n_ca = g->ca != NULL ? crt_items(&g->ca->u.crt, NULL) : 0;
    crl_len = g->crl != NULL ? hotssl__revocation_encode(g->crl->revocation, NULL) : 0;
    v_cert = calloc(n_cert + 1, sizeof *v_cert);
    v_ca = calloc(n_ca + 1, sizeof *v_ca);
    keybuf = malloc(KEY_DER_MAX);
    if (v_cert == NULL || v_ca == NULL || keybuf == NULL) {
      r = HOTSSL_ENOMEM;
      goto out;
    }
    crt_items(&g->cert->u.crt, v_cert);
    if (g->ca != NULL)
      crt_items(&g->ca->u.crt, v_ca);
    /* mbedtls writes the DER at the end of the buffer. */
    kl = mbedtls_pk_write_key_der(&g->key->u.pk, keybuf, KEY_DER_MAX);
    if (kl <= 0) {
      r = HOTSSL_ETLS;
      goto out;
    }
    keylen = (size_t)kl;
    v_key.p = keybuf + KEY_DER_MAX - keylen;
    v_key.len = keylen;
  }
  for (pass = 0; pass < 2; pass++) {
    size_t body;
    if (pass == 1) {
      if ((w.buf = malloc(w.off)) == NULL) {
        r = HOTSSL_ENOMEM;
        goto out;
      }
      w.off = 0;
    }
    put(&w, "HTSN", 4);
    put_u16(&w, SNAP_VERSION);
    put_u16(&w, what);
    put_u64(&w, 0); /* total, patched below */
    put_u64(&w, g->number);
    put_u64(&w, 0); /* checksum, patched below */
    for (i = 0; i < HOTSSL__S_COUNT; i++) {
      size_t nl, vl;
      if (cfg->value[i] == NULL)
        continue;
      nl = strlen(setting_names[i]);
      vl = strlen(cfg->value[i]);
      put_rec(&w, T_SETTING, nl + 1 + vl);
      put(&w, setting_names[i], nl + 1);
      put(&w, cfg->value[i], vl);
    }
    if (cfg->base_dir != NULL)
      put_str_rec(&w, T_BASEDIR, cfg->base_dir);
    if (cfg->source_file != NULL)
      put_str_rec(&w, T_SOURCE, cfg->source_file);
    if (cfg->load_flags != 0) {
      unsigned char lf = (unsigned char)cfg->load_flags;
      put_rec(&w, T_LOADFLAGS, 1);
      put(&w, &lf, 1);
    }
    if (what == HOTSSL_SNAPSHOT_CONTENTS) {
      put_rec(&w, T_FPRINT, 32);
      put(&w, g->fingerprint, 32);
      if (pass == 0) {
        lab[0] = NULL;
        label_of(cfg, HOTSSL__S_SSL_CERT_FILE, &lab[0]);
        label_of(cfg, HOTSSL__S_SSL_KEY_FILE, &lab[1]);
        label_of(cfg, HOTSSL__S_SSL_CA_FILE, &lab[2]);
        for (i = 0; i < 3; i++)
          if (lab[i] == NULL) {
            r = HOTSSL_ENOMEM;
            goto out;
          }
      }
      /* With a hosts file whose entry serves connections without a server
       * name, g's own files are that entry's: carried only in T_HOST. */
      if (g->hosts == NULL || g->hosts->top_entry < 0) {
        put_file(&w, T_CERT, g->cert->fp, lab[0], v_cert, n_cert);
        put_file(&w, T_KEY, g->key->fp, lab[1], &v_key, 1);
        if (g->ca != NULL)
          put_file(&w, T_CA, g->ca->fp, lab[2], v_ca, n_ca);
        if (g->crl != NULL)
          put_crl(&w, g->crl, crl_len);
      }
      if (g->hosts != NULL)
        put_hosts(&w, g->hosts, hf);
      if (g->dh_bytes != NULL) {
        put_rec(&w, T_DH, 32 + g->dh_len);
        put(&w, g->dh_fp, 32);
        put(&w, g->dh_bytes, g->dh_len);
      }
    }
    if (pass == 1) {
      wr h = {w.buf + 8, 0};
      body = w.off;
      put_u64(&h, body);
      h.buf = w.buf + 24;
      h.off = 0;
      put_u64(&h, checksum(w.buf, body));
    }
  }
  *out = w.buf;
  *len = w.off;
  if (generation != NULL)
    *generation = g->number;
  w.buf = NULL;
out:
  hotssl__mutex_unlock(m->reload_lock);
  if (keybuf != NULL) {
    mbedtls_platform_zeroize(keybuf, KEY_DER_MAX);
    free(keybuf);
  }
  for (i = 0; i < 3; i++)
    free(lab[i]);
  for (i = 0; i < n_hf; i++)
    gen_files_free(&hf[i]);
  free(hf);
  free(v_cert);
  free(v_ca);
  if (w.buf != NULL)
    hotssl__snapshot_bytes_free(w.buf, w.off);
  return r;
}

/* ---- reader ---- */

typedef struct rd {
  const unsigned char *p;
  size_t left;
} rd;

static int get(rd *r, size_t n, const unsigned char **p) {
  if (n > r->left)
    return -1;
  *p = r->p;
  r->p += n;
  r->left -= n;
  return 0;
}

static uint64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static int get_u32(rd *r, size_t *v) {
  const unsigned char *p;
  if (get(r, 4, &p) != 0)
    return -1;
  *v = (size_t)be(p, 4);
  return 0;
}

/* A string value: no NUL inside (HOTSSL_EINVAL); *out a malloc'ed copy
 * (HOTSSL_ENOMEM: out of memory is not a malformed snapshot). */
static int dup_str(const unsigned char *p, size_t n, char **out) {
  *out = NULL;
  if (memchr(p, '\0', n) != NULL)
    return HOTSSL_EINVAL;
  if ((*out = malloc(n + 1)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(*out, p, n);
  (*out)[n] = '\0';
  return 0;
}

int hotssl__snapshot_receive(int (*read_fn)(void *ctx, unsigned char *p, size_t n), void *ctx,
                             hotssl_manager **m, const hotssl_manager_options *opts,
                             char *errbuf, size_t errlen, char *err, size_t errn, int *build_failed) {
  unsigned char hdr[HOTSSL__SNAPSHOT_HEADER], *buf, extra;
  uint64_t total = 0;
  int r;
  *build_failed = 0;
  if (read_fn(ctx, hdr, sizeof hdr) != 0 || hotssl__snapshot_peek(hdr, sizeof hdr, &total) != 0) {
    hotssl__fmt(err, errn, "could not read the snapshot from the parent: %s",
                total == 0 ? "missing or invalid header" : "read failed");
    return HOTSSL_EINVAL;
  }
  if ((buf = malloc((size_t)total)) == NULL) {
    hotssl__fmt(err, errn, "could not read the snapshot from the parent: out of memory");
    return HOTSSL_ENOMEM;
  }
  memcpy(buf, hdr, sizeof hdr);
  if (read_fn(ctx, buf + sizeof hdr, (size_t)total - sizeof hdr) != 0 || read_fn(ctx, &extra, 1) != -2) {
    hotssl__fmt(err, errn, "could not read the snapshot from the parent: truncated or too long");
    hotssl__snapshot_bytes_free(buf, (size_t)total);
    return HOTSSL_EINVAL;
  }
  r = hotssl_manager_create_from_snapshot(m, buf, (size_t)total, opts, errbuf, errlen);
  hotssl__snapshot_bytes_free(buf, (size_t)total);
  *build_failed = r != 0; /* create_from_snapshot logged it */
  return r;
}

int hotssl__snapshot_peek(const unsigned char *hdr, size_t len, uint64_t *total) {
  if (len < HOTSSL__SNAPSHOT_HEADER || memcmp(hdr, "HTSN", 4) != 0 ||
      be(hdr + 4, 2) != SNAP_VERSION || be(hdr + 6, 2) > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  *total = be(hdr + 8, 8);
  if (*total < HOTSSL__SNAPSHOT_HEADER || *total > HOTSSL__SNAPSHOT_MAX)
    return HOTSSL_EINVAL;
  return 0;
}

/* Blob for a list of DER items: a single item stays DER (the builder's
 * parsers take one DER object directly), several become a DER list (each
 * certificate parsed as DER by the builder, no PEM round trip). */
static int make_blob(hotssl__blob *b, const char *label, const item *v, size_t n,
                     int der_only) {
  size_t i, need = 1, off = 0;
  memset(b, 0, sizeof *b);
  if ((b->path = hotssl__strdup(label)) == NULL)
    return HOTSSL_ENOMEM;
  if (n == 1 || der_only) {
    if ((b->data = malloc(v[0].len + 1)) == NULL)
      return HOTSSL_ENOMEM;
    memcpy(b->data, v[0].p, v[0].len);
    b->data[v[0].len] = '\0';
    b->len = v[0].len;
    return 0;
  }
  for (i = 0; i < n; i++)
    need += 4 + v[i].len; /* each bounded by the snapshot's length */
  if ((b->data = malloc(need)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < n; i++) {
    wr w = {b->data + off, 0};
    put_u32(&w, v[i].len);
    memcpy(b->data + off + 4, v[i].p, v[i].len);
    off += 4 + v[i].len;
  }
  b->data[off] = '\0';
  b->len = off;
  b->der_list = 1;
  return 0;
}

/* Parse one file record into items (pointing into the snapshot). */
static int parse_file(const unsigned char *p, size_t n, unsigned char fp[32], char **label,
                      item **items, size_t *count) {
  rd r = {p, n};
  const unsigned char *q;
  size_t ll, cnt, i;
  int ret;
  *label = NULL;
  *items = NULL;
  if (get(&r, 32, &q) != 0)
    return -1;
  memcpy(fp, q, 32);
  if (get_u32(&r, &ll) != 0 || get(&r, ll, &q) != 0)
    return -1;
  if ((ret = dup_str(q, ll, label)) != 0)
    return ret == HOTSSL_ENOMEM ? ret : -1;
  if (get_u32(&r, &cnt) != 0 || cnt == 0 || cnt > r.left / 4)
    return -1;
  if ((*items = calloc(cnt, sizeof **items)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < cnt; i++) {
    size_t il;
    if (get_u32(&r, &il) != 0 || il == 0 || get(&r, il, &q) != 0)
      return -1;
    (*items)[i].p = q;
    (*items)[i].len = il;
  }
  *count = cnt;
  return r.left == 0 ? 0 : -1;
}

/* The CERT, KEY, CA and CRL records of one identity (the configuration's or
 * a hosts file entry's). */
typedef struct file_set {
  int seen;
  unsigned char fp[32];
  char *label;
  item *items;
  size_t n;
  const unsigned char *raw; /* CRL: the record's value (decoded with the CA list) */
  size_t raw_len;
} file_set;

static void file_sets_free(file_set *f) {
  size_t i;
  for (i = 0; i < 4; i++) {
    free(f[i].label);
    free(f[i].items);
  }
  memset(f, 0, 4 * sizeof *f);
}

/* One CERT..CRL record into f (not seen before). -1: malformed;
 * HOTSSL_ENOMEM. */
static int file_record(file_set *f, unsigned tag, const unsigned char *v, size_t vl) {
  int k = (int)tag - T_CERT, pr;
  if (tag < T_CERT || tag > T_CRL || f[k].seen)
    return -1;
  if (tag == T_CRL) { /* decoded in files_to_inputs, once the CA list is known */
    if (vl < 32 + 16)
      return -1;
    memcpy(f[k].fp, v, 32);
    f[k].raw = v;
    f[k].raw_len = vl;
    f[k].seen = 1;
    return 0;
  }
  if ((pr = parse_file(v, vl, f[k].fp, &f[k].label, &f[k].items, &f[k].n)) != 0)
    return pr == HOTSSL_ENOMEM ? pr : -1;
  if (tag == T_KEY && f[k].n != 1)
    return -1;
  f[k].seen = 1;
  return 0;
}

/* in's blobs, fingerprints and revocation table from f (in->s already
 * checked): 0, HOTSSL_EINVAL (malformed) or HOTSSL_ENOMEM. */
static int files_to_inputs(hotssl__inputs *in, const file_set *f) {
  int ret;
  if ((ret = make_blob(&in->cert, f[0].label, f[0].items, f[0].n, 0)) != 0 ||
      (ret = make_blob(&in->key, f[1].label, f[1].items, 1, 1)) != 0 ||
      (f[2].seen && (ret = make_blob(&in->ca, f[2].label, f[2].items, f[2].n, 0)) != 0))
    return ret;
  memcpy(in->fp_cert, f[0].fp, 32);
  memcpy(in->fp_key, f[1].fp, 32);
  memcpy(in->fp_ca, f[2].fp, 32);
  memcpy(in->fp_crl, f[3].fp, 32);
  if (f[3].seen) {
    if (!f[2].seen)
      return HOTSSL_EINVAL;
    in->crl_entries = be(f[3].raw + 32, 8);
    in->crl_next_update = (int64_t)be(f[3].raw + 40, 8);
    /* HOTSSL_EINVAL (a lying table) or HOTSSL_ENOMEM. */
    return hotssl__revocation_decode(f[3].raw + 48, f[3].raw_len - 48, f[2].n, &in->rev);
  }
  return 0;
}

/* Whether the CA and CRL records match the checked settings. */
static int files_match(const hotssl__inputs *in, const file_set *f) {
  return (in->s.ca_file != NULL) == f[2].seen && !(in->s.crl_file != NULL && !f[3].seen) &&
         !(f[3].seen && in->s.crl_file == NULL && in->s.crl_dir == NULL);
}

/* One T_HOST record into e, its settings derived from cfg as the loader
 * derives them. -1 malformed, or a negative HOTSSL_ code. */
static int decode_host(hotssl__host_in *e, const unsigned char *v, size_t vl,
                       const hotssl_config *cfg) {
  rd r = {v, vl};
  size_t flags, n, i, line;
  file_set f[4];
  hotssl_config *ec = NULL;
  char sub[HOTSSL__ERRLEN];
  int ret = -1;

  memset(f, 0, sizeof f);
  if (get_u32(&r, &line) != 0 || line == 0 || get_u32(&r, &flags) != 0 || flags > 3 ||
      get_u32(&r, &n) != 0 || n > r.left / 4)
    return -1;
  e->line = (unsigned)line;
  e->is_default = (flags & 1) != 0;
  e->is_no_sni = (flags & 2) != 0;
  if (n > 0 && (e->names = calloc(n, sizeof *e->names)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < n; i++) {
    size_t l;
    const unsigned char *q;
    int sr;
    if (get_u32(&r, &l) != 0 || l == 0 || get(&r, l, &q) != 0)
      return -1;
    if ((sr = dup_str(q, l, &e->names[i])) != 0)
      return sr == HOTSSL_ENOMEM ? sr : -1;
    e->n_names = i + 1;
  }
  while (r.left > 0) {
    const unsigned char *h, *q;
    size_t ql;
    int fr;
    if (get(&r, 8, &h) != 0 || be(h + 2, 2) != 0)
      goto out;
    ql = (size_t)be(h + 4, 4);
    if (get(&r, ql, &q) != 0)
      goto out;
    if ((fr = file_record(f, (unsigned)be(h, 2), q, ql)) != 0) {
      ret = fr == HOTSSL_ENOMEM ? fr : -1;
      goto out;
    }
  }
  if (!f[0].seen || !f[1].seen)
    goto out;
  ret = hotssl__host_config(&ec, cfg, f[0].label, f[1].label, f[2].seen ? f[2].label : NULL,
                            NULL, NULL, sub, sizeof sub);
  if (ret == 0)
    ret = hotssl__settings_from_config(&e->in.s, ec, sub, sizeof sub);
  if (ret != 0) {
    ret = ret == HOTSSL_ENOMEM ? ret : -1;
    goto out;
  }
  ret = files_match(&e->in, f) ? files_to_inputs(&e->in, f) : -1;
out:
  hotssl_config_destroy(ec);
  file_sets_free(f);
  return ret;
}

int hotssl__snapshot_decode(const unsigned char *b, size_t len, hotssl_config **cfg_out,
                            hotssl__inputs *in, int *has_contents, uint64_t *generation,
                            char *errbuf, size_t errlen) {
  uint64_t total;
  unsigned kind;
  hotssl_config *cfg = NULL;
  rd r;
  int ret = HOTSSL_EINVAL, have_fp = 0;
  const char *why = "malformed record";
  file_set f[4];
  size_t i;
  unsigned seen_mask = 0;
  /* ssl_sni */
  struct {
    const unsigned char *p;
    size_t len;
  } *hrec = NULL;
  size_t n_hrec = 0, top_entry = 0;
  char *hosts_path = NULL;
  int have_hosts = 0, main_files = 1;
  const unsigned char *dh = NULL; /* T_DH's value */
  size_t dh_len = 0;

  memset(f, 0, sizeof f);
  memset(in, 0, sizeof *in);
  *cfg_out = NULL;
  *has_contents = 0;
  if (hotssl__snapshot_peek(b, len, &total) != 0) {
    why = "not a hotssl snapshot of a supported version";
    goto bad;
  }
  if (total != len) {
    why = "length does not match (truncated?)";
    goto bad;
  }
  if (be(b + 24, 8) != checksum(b, len)) {
    why = "checksum mismatch";
    goto bad;
  }
  kind = (unsigned)be(b + 6, 2);
  *generation = be(b + 16, 8);
  if (*generation == 0) {
    why = "generation number is 0";
    goto bad;
  }
  if ((ret = hotssl_config_create(&cfg)) != 0)
    goto fail;
  ret = HOTSSL_EINVAL;
  r.p = b + HOTSSL__SNAPSHOT_HEADER;
  r.left = len - HOTSSL__SNAPSHOT_HEADER;
  while (r.left > 0) {
    const unsigned char *h, *v;
    unsigned tag;
    size_t vl;
    if (get(&r, 8, &h) != 0)
      goto bad;
    tag = (unsigned)be(h, 2);
    vl = (size_t)be(h + 4, 4);
    if (be(h + 2, 2) != 0 || get(&r, vl, &v) != 0)
      goto bad;
    if (tag != T_SETTING && tag != T_HOST) {
      unsigned bit = tag < 32 ? 1u << tag : 0;
      if (bit == 0 || (seen_mask & bit)) {
        why = "unknown or repeated record";
        goto bad;
      }
      seen_mask |= bit;
    }
    switch (tag) {
    case T_SETTING: {
      const unsigned char *nul = memchr(v, '\0', vl);
      char *name, *val;
      char sub[HOTSSL__ERRLEN];
      int sr;
      if (nul == NULL)
        goto bad;
      sr = dup_str(v, (size_t)(nul - v), &name);
      if (sr == 0 && (sr = dup_str(nul + 1, vl - (size_t)(nul - v) - 1, &val)) == 0)
        sr = hotssl_config_set(cfg, name, val, sub, sizeof sub);
      else
        val = NULL;
      free(name);
      hotssl__secret_free(val);
      if (sr == HOTSSL_ENOMEM) {
        ret = sr;
        goto fail;
      }
      if (sr != 0) {
        why = "invalid setting";
        goto bad;
      }
      break;
    }
    case T_BASEDIR:
    case T_SOURCE: {
      char *s;
      int sr = dup_str(v, vl, &s);
      if (sr == HOTSSL_ENOMEM) {
        ret = sr;
        goto fail;
      }
      if (sr != 0)
        goto bad;
      if (tag == T_BASEDIR) {
        free(cfg->base_dir);
        cfg->base_dir = s;
      } else {
        free(cfg->source_file);
        cfg->source_file = s;
      }
      break;
    }
    case T_LOADFLAGS:
      if (vl != 1 || (v[0] & ~HOTSSL_LOAD_IGNORE_NON_SSL) != 0)
        goto bad;
      cfg->load_flags = v[0];
      break;
    case T_FPRINT:
      if (vl != 32)
        goto bad;
      memcpy(in->fingerprint, v, 32);
      have_fp = 1;
      break;
    case T_CERT:
    case T_KEY:
    case T_CA:
    case T_CRL:
      if (kind != HOTSSL_SNAPSHOT_CONTENTS)
        goto bad;
      if ((ret = file_record(f, tag, v, vl)) == HOTSSL_ENOMEM)
        goto fail;
      if (ret != 0)
        goto bad;
      ret = HOTSSL_EINVAL;
      break;
    case T_DH:
      if (kind != HOTSSL_SNAPSHOT_CONTENTS || vl < 32)
        goto bad;
      dh = v;
      dh_len = vl;
      break;
    case T_HOSTS: {
      rd hr = {v, vl};
      int sr;
      if (kind != HOTSSL_SNAPSHOT_CONTENTS || get_u32(&hr, &top_entry) != 0)
        goto bad;
      if ((sr = dup_str(hr.p, hr.left, &hosts_path)) == HOTSSL_ENOMEM) {
        ret = sr;
        goto fail;
      }
      if (sr != 0)
        goto bad;
      have_hosts = 1;
      main_files = top_entry == 0;
      break;
    }
    case T_HOST: {
      void *bigger;
      if (kind != HOTSSL_SNAPSHOT_CONTENTS || n_hrec >= len / 8)
        goto bad;
      if ((bigger = realloc(hrec, (n_hrec + 1) * sizeof *hrec)) == NULL) {
        ret = HOTSSL_ENOMEM;
        goto fail;
      }
      hrec = bigger;
      hrec[n_hrec].p = v;
      hrec[n_hrec++].len = vl;
      break;
    }
    default:
      why = "unknown record";
      goto bad;
    }
  }
  if (kind == HOTSSL_SNAPSHOT_PATHS) {
    *cfg_out = cfg;
    return 0;
  }
  if (!have_fp || (main_files && (!f[0].seen || !f[1].seen)) || (!main_files && f[0].seen) ||
      have_hosts != (n_hrec > 0) || top_entry > n_hrec) {
    why = "certificate, key or fingerprint missing";
    goto bad;
  }
  {
    char sub[HOTSSL__ERRLEN];
    if ((ret = hotssl__settings_from_config(&in->s, cfg, sub, sizeof sub)) == HOTSSL_ENOMEM)
      goto fail;
    if (ret != 0) {
      why = "settings do not check";
      ret = HOTSSL_EINVAL;
      goto bad;
    }
  }
  ret = HOTSSL_EINVAL;
  if ((have_hosts && !in->s.sni) || (main_files && !files_match(in, f)) ||
      (in->s.dh_file != NULL) != (dh != NULL)) {
    why = "files do not match the settings";
    goto bad;
  }
  if (dh != NULL) {
    memcpy(in->fp_dh, dh, 32);
    in->dh_checked = 1;
    if ((in->dh.path = hotssl__strdup(in->s.dh_file)) == NULL ||
        (in->dh.data = malloc(dh_len - 32 + 1)) == NULL) {
      ret = HOTSSL_ENOMEM;
      goto fail;
    }
    memcpy(in->dh.data, dh + 32, dh_len - 32);
    in->dh.data[dh_len - 32] = '\0';
    in->dh.len = dh_len - 32;
  }
  if (main_files && (ret = files_to_inputs(in, f)) != 0) {
    if (ret != HOTSSL_EINVAL)
      goto fail;
    why = "invalid revocation table";
    goto bad;
  }
  if (have_hosts) {
    struct hotssl__hosts_in *hi = calloc(1, sizeof *hi);
    if (hi == NULL || (hi->v = calloc(n_hrec, sizeof *hi->v)) == NULL) {
      free(hi);
      ret = HOTSSL_ENOMEM;
      goto fail;
    }
    in->hosts = hi;
    hi->path = hosts_path;
    hosts_path = NULL;
    for (i = 0; i < n_hrec; i++) {
      hi->n = i + 1;
      if ((ret = decode_host(&hi->v[i], hrec[i].p, hrec[i].len, cfg)) != 0) {
        why = "malformed host entry";
        if (ret == HOTSSL_ENOMEM)
          goto fail;
        goto bad;
      }
    }
    if (top_entry > 0 && !hi->v[top_entry - 1].is_no_sni &&
        !(in->s.cert_file == NULL && top_entry == 1)) {
      why = "the entry for connections without a server name does not match";
      goto bad;
    }
  }
  file_sets_free(f);
  free(hrec);
  *has_contents = 1;
  *cfg_out = cfg;
  return 0;
bad:
  hotssl__fmt(errbuf, errlen, "invalid snapshot: %s", why);
  ret = HOTSSL_EINVAL;
fail:
  if (ret == HOTSSL_ENOMEM)
    hotssl__fmt(errbuf, errlen, "could not decode the snapshot: out of memory");
  file_sets_free(f);
  free(hrec);
  free(hosts_path);
  hotssl__inputs_free(in);
  hotssl_config_destroy(cfg);
  return ret;
}

int hotssl__snapshot_build(const unsigned char *b, size_t len, const hotssl_generation *prev,
                           const hotssl__log *log, hotssl_generation **out,
                           hotssl_config **cfg_out, char *errbuf, size_t errlen) {
  hotssl_config *cfg;
  hotssl__inputs in;
  uint64_t number;
  int contents, r;
  *out = NULL;
  *cfg_out = NULL;
  if ((r = hotssl__snapshot_decode(b, len, &cfg, &in, &contents, &number, errbuf, errlen)) != 0)
    return r;
  if (!contents && (r = hotssl__inputs_load(&in, cfg, errbuf, errlen)) != 0) {
    hotssl_config_destroy(cfg);
    return r;
  }
  r = hotssl__generation_build(out, &in, prev, 1, number, log, errbuf, errlen);
  hotssl__inputs_free(&in);
  if (r != 0) {
    hotssl_config_destroy(cfg);
    return r;
  }
  *cfg_out = cfg;
  return 0;
}

/* ---- public API ---- */

struct hotssl_snapshot {
  uint64_t generation;
  unsigned kind;
  unsigned char *data;
  size_t len;
};

int hotssl_snapshot_take(hotssl_manager *m, unsigned what, hotssl_snapshot **out) {
  hotssl_snapshot *s;
  int r;
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (m == NULL || what > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return HOTSSL_ENOMEM;
  s->kind = what;
  if ((r = hotssl__snapshot_encode(m, what, &s->data, &s->len, &s->generation)) != 0) {
    free(s);
    return r;
  }
  *out = s;
  return 0;
}

void hotssl_snapshot_destroy(hotssl_snapshot *s) {
  if (s == NULL)
    return;
  hotssl__snapshot_bytes_free(s->data, s->len);
  free(s);
}

uint64_t hotssl_snapshot_generation(const hotssl_snapshot *s) {
  return s != NULL ? s->generation : 0;
}

unsigned hotssl_snapshot_kind(const hotssl_snapshot *s) { return s != NULL ? s->kind : 0; }

const unsigned char *hotssl_snapshot_bytes(const hotssl_snapshot *s, size_t *len) {
  if (len != NULL)
    *len = s != NULL ? s->len : 0;
  return s != NULL ? s->data : NULL;
}

int hotssl_manager_create_from_snapshot(hotssl_manager **out, const void *bytes, size_t len,
                                        const hotssl_manager_options *opts, char *errbuf,
                                        size_t errlen) {
  hotssl_config *cfg;
  hotssl__inputs in;
  uint64_t number;
  int contents, r;
  char err[HOTSSL__ERRLEN];
  hotssl__log log = {NULL, NULL};
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (bytes == NULL)
    return HOTSSL_EINVAL;
  if (opts != NULL) {
    log.fn = opts->log;
    log.ud = opts->log_userdata;
  }
  r = hotssl__snapshot_decode(bytes, len, &cfg, &in, &contents, &number, err, sizeof err);
  if (r != 0) {
    hotssl__logf(&log, HOTSSL_LOG_ERROR, "%s", err);
    hotssl__fmt(errbuf, errlen, "%s", err);
    return r;
  }
  /* A backend re-reading an encrypted key follows reload rules, as
   * PostgreSQL's EXEC_BACKEND backends do. */
  r = hotssl__manager_create_with(out, cfg, contents ? &in : NULL, number, 1, opts, errbuf,
                                  errlen);
  hotssl_config_destroy(cfg);
  return r;
}
