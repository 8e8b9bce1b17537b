/*
 * Snapshots: the pointer-free serialized form of what a manager serves (its
 * last good generation and the settings that produced it), so a spawned
 * backend or a prefork worker builds its own generation without re-reading
 * files that may be half-written on disk.
 *
 * The format is specified in docs/snapshot-format.md: a 32-byte header
 * (magic "HTSN", version, kind, total length, generation, checksum), then
 * records (tag u16 | 0 u16 | length u32 | value). Every record tag is one
 * entry of the table `records` below, with its encoder and its decoder;
 * the encoder writes the entries in table order, the decoder dispatches on
 * the tag and then checks what the records must add up to.
 *
 * Certificates and CA set are the DER the parent parsed and validated (each
 * parsed as DER by the backend, no PEM); the CRL set travels as the table
 * the parent built from it, with the CRLs' signatures already checked
 * against the CA file (the backend neither parses a CRL nor verifies its
 * signature again; a presented intermediate's key is still checked against
 * the digests and signatures the table keeps); the DH parameters travel as
 * the file's bytes, and the backend parses them and checks their size and
 * generator but does not repeat the parent's primality tests (bounded, but
 * up to seconds for 8192 bits: README); the key is the parsed key written
 * as DER (so an encrypted key needs no passphrase in the backend: see
 * include/hotssl/platform.h for where these bytes may travel). A backend
 * still runs every check of the builder on them. Fingerprints are the
 * parent's (over the files as read), so a worker reuses unchanged parsed
 * objects exactly as a reload would.
 *
 * Reading treats the bytes as hostile: exact total length, magic, version,
 * checksum, every length bounded by what remains, no unknown or repeated
 * records (but SETTING and HOST), no NUL inside strings, settings
 * re-checked by hotssl_config_set. The checksum catches corruption and
 * truncation; it is not authentication (the bytes come from the parent
 * through an inherited descriptor).
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
#include "snapshot_wire.h"
#include "tickets.h"

#define KEY_DER_MAX 16384

/* Record tags (docs/snapshot-format.md gives each layout). Every tag is
 * below 32: the decoder keeps one bit per tag for the repeated-record rule. */
enum {
  T_SETTING = 1,   /* "name\0value", one per explicitly set setting */
  T_BASEDIR = 2,   /* the configuration's folder */
  T_SOURCE = 3,    /* the configuration file */
  T_FPRINT = 4,    /* 32 bytes: the generation's content fingerprint */
  T_LOADFLAGS = 5, /* 1 byte: hotssl_config_load_file_ex's flags */
  T_CERT = 10,     /* fingerprint[32] | u32 label length | label | u32 count | */
  T_KEY = 11,      /*   count x (u32 len | DER) */
  T_CA = 12,
  T_CRL = 13,      /* fingerprint[32] | u64 entries | u64 earliest next update |
                    * the revocation table, flat (hotssl__revocation_encode) */
  T_DH = 14,       /* fingerprint[32] | the DH parameters file's bytes */
  T_TICKETS = 15,  /* ticket-key seed[32] | the ticket key file's bytes (none: keys generated) */
  T_HOSTS = 20,    /* u32 1 + index of the no-SNI entry (0: the configuration's
                    * own files) | hosts file path */
  T_HOST = 21      /* repeated: u32 line | u32 flags (1 "*", 2 "/no_sni/") |
                    * u32 count | count x (u32 len | name) | the entry's CERT,
                    * KEY, CA, CRL records */
};

static const char *const setting_names[HOTSSL__S_COUNT] = {
#define SNAP_SET_NAME(id, name, def) name,
    HOTSSL__SETTINGS(SNAP_SET_NAME)
#undef SNAP_SET_NAME
};

/* One DER item of a file record. */
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
  hotssl__secure_free(f->keybuf); /* zeroizes */
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
  f->keybuf = hotssl__secure_alloc(KEY_DER_MAX);
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

/* Blob for a list of DER items: a single item stays DER (the builder's
 * parsers take one DER object directly), several become a DER list (each
 * certificate parsed as DER by the builder, no PEM round trip: *der_list
 * set). */
static int make_blob(hotssl__blob *b, const char *label, const item *v, size_t n,
                     int der_only, unsigned char *der_list) {
  size_t i, need = 1, off = 0;
  memset(b, 0, sizeof *b);
  *der_list = 0;
  if ((b->path = hotssl__strdup(label)) == NULL)
    return HOTSSL_ENOMEM;
  if (n == 1 || der_only) {
    /* der_only: the key, in pages kept out of core dumps. */
    b->data = der_only ? hotssl__secure_alloc(v[0].len + 1) : malloc(v[0].len + 1);
    if (b->data == NULL)
      return HOTSSL_ENOMEM;
    b->secure = der_only;
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
  *der_list = 1;
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
  unsigned char key_list;
  int ret;
  if ((ret = make_blob(&in->cert, f[0].label, f[0].items, f[0].n, 0, &in->der_list.cert)) != 0 ||
      (ret = make_blob(&in->key, f[1].label, f[1].items, 1, 1, &key_list)) != 0 ||
      (f[2].seen &&
       (ret = make_blob(&in->ca, f[2].label, f[2].items, f[2].n, 0, &in->der_list.ca)) != 0))
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
    const unsigned char *q;
    size_t ql;
    unsigned tag;
    int fr;
    if (next_record(&r, &tag, &q, &ql) != 0)
      goto out;
    if ((fr = file_record(f, tag, q, ql)) != 0) {
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


/* ---- the records ---- */

/* The CERT, KEY, CA and CRL records of one identity: the configuration's
 * own, or a hosts file entry's. */
typedef struct ident {
  const hotssl_generation *g;
  const char *label[3]; /* certificate, key and CA file, as the records name them */
  const gen_files *f;
} ident;

/* What the encoders read. */
typedef struct enc {
  unsigned what; /* HOTSSL_SNAPSHOT_CONTENTS or _PATHS */
  const hotssl_generation *g;
  const hotssl_config *cfg;
  const ident *top; /* the configuration's own files, NULL when not carried */
  gen_files own;    /* g's files (CONTENTS) */
  char *lab[3];     /* labels of the configuration's own files */
  ident top_id;
  gen_files *hf;    /* ssl_sni: hf[i] for entry i of g->hosts */
  size_t n_hf;
} enc;

/* A T_HOST record's value, decoded once every record is in. */
typedef struct host_rec {
  const unsigned char *p;
  size_t len;
} host_rec;

/* What the decoders fill. Decoders return 0, HOTSSL_EINVAL (the reason in
 * why, "malformed record" unless set) or HOTSSL_ENOMEM. */
typedef struct dec {
  unsigned kind;
  size_t len;         /* the snapshot's: bounds the number of T_HOST records */
  hotssl_config *cfg;
  hotssl__inputs *in;
  const char *why;
  unsigned seen;      /* bit per tag of the records that may not repeat */
  int have_fp;
  file_set f[4];      /* the configuration's own CERT, KEY, CA, CRL */
  int have_hosts;
  int main_files;     /* the configuration's own files are carried (not T_HOST's) */
  size_t top_entry;   /* T_HOSTS: 1 + index of the no-SNI entry, 0 none */
  char *hosts_path;
  host_rec *hosts;
  size_t n_hosts;
  const unsigned char *dh; /* T_DH's value */
  size_t dh_len;
  const unsigned char *tk; /* T_TICKETS's value */
  size_t tk_len;
} dec;

static void enc_settings(wr *w, const enc *e, const ident *id) {
  size_t i, nl, vl;
  (void)id;
  for (i = 0; i < HOTSSL__S_COUNT; i++) {
    if (e->cfg->value[i] == NULL)
      continue;
    nl = strlen(setting_names[i]);
    vl = strlen(e->cfg->value[i]);
    put_rec(w, T_SETTING, nl + 1 + vl);
    put(w, setting_names[i], nl + 1);
    put(w, e->cfg->value[i], vl);
  }
}

/* One setting: hotssl_config_set checks it as it checks a file's line. */
static int dec_setting(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  const unsigned char *nul = memchr(v, '\0', vl);
  char *name, *val = NULL;
  char sub[HOTSSL__ERRLEN];
  int r;
  (void)tag;
  if (nul == NULL)
    return HOTSSL_EINVAL;
  r = dup_str(v, (size_t)(nul - v), &name);
  if (r == 0 && (r = dup_str(nul + 1, vl - (size_t)(nul - v) - 1, &val)) == 0)
    r = hotssl_config_set(d->cfg, name, val, sub, sizeof sub);
  free(name);
  hotssl__secret_free(val);
  if (r == HOTSSL_ENOMEM)
    return r;
  if (r != 0) {
    d->why = "invalid setting";
    return HOTSSL_EINVAL;
  }
  return 0;
}

static void enc_basedir(wr *w, const enc *e, const ident *id) {
  (void)id;
  if (e->cfg->base_dir != NULL)
    put_str_rec(w, T_BASEDIR, e->cfg->base_dir);
}

static void enc_source(wr *w, const enc *e, const ident *id) {
  (void)id;
  if (e->cfg->source_file != NULL)
    put_str_rec(w, T_SOURCE, e->cfg->source_file);
}

/* T_BASEDIR and T_SOURCE. */
static int dec_string(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  char *s, **slot = tag == T_BASEDIR ? &d->cfg->base_dir : &d->cfg->source_file;
  int r = dup_str(v, vl, &s);
  if (r != 0)
    return r;
  free(*slot);
  *slot = s;
  return 0;
}

static void enc_loadflags(wr *w, const enc *e, const ident *id) {
  unsigned char lf = (unsigned char)e->cfg->load_flags;
  (void)id;
  if (e->cfg->load_flags == 0)
    return;
  put_rec(w, T_LOADFLAGS, 1);
  put(w, &lf, 1);
}

static int dec_loadflags(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  (void)tag;
  if (vl != 1 || (v[0] & ~HOTSSL_LOAD_IGNORE_NON_SSL) != 0)
    return HOTSSL_EINVAL;
  d->cfg->load_flags = v[0];
  return 0;
}

static void enc_fprint(wr *w, const enc *e, const ident *id) {
  (void)id;
  if (e->what != HOTSSL_SNAPSHOT_CONTENTS)
    return;
  put_rec(w, T_FPRINT, 32);
  put(w, e->g->fingerprint, 32);
}

static int dec_fprint(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  (void)tag;
  if (vl != 32)
    return HOTSSL_EINVAL;
  memcpy(d->in->fingerprint, v, 32);
  d->have_fp = 1;
  return 0;
}

/* The identity records: written for id (none when id is NULL). */
static void enc_cert(wr *w, const enc *e, const ident *id) {
  (void)e;
  if (id != NULL)
    put_file(w, T_CERT, id->g->cert->fp, id->label[0], id->f->cert, id->f->n_cert);
}

static void enc_key(wr *w, const enc *e, const ident *id) {
  (void)e;
  if (id != NULL)
    put_file(w, T_KEY, id->g->key->fp, id->label[1], &id->f->key, 1);
}

static void enc_ca(wr *w, const enc *e, const ident *id) {
  (void)e;
  if (id != NULL && id->g->ca != NULL)
    put_file(w, T_CA, id->g->ca->fp, id->label[2], id->f->ca, id->f->n_ca);
}

static void enc_crl(wr *w, const enc *e, const ident *id) {
  const hotssl__shared *crl;
  (void)e;
  if (id == NULL || (crl = id->g->crl) == NULL)
    return;
  put_rec(w, T_CRL, 32 + 16 + id->f->crl_len);
  put(w, crl->fp, 32);
  put_u64(w, crl->crl_entries);
  put_u64(w, (uint64_t)crl->crl_next_update);
  if (w->buf != NULL)
    hotssl__revocation_encode(crl->revocation, w->buf + w->off);
  w->off += id->f->crl_len;
}

/* CERT, KEY, CA, CRL of the configuration itself (inside a T_HOST record
 * file_record decodes them too, into the entry's own set). */
static int dec_file(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  int r = file_record(d->f, tag, v, vl);
  return r == 0 || r == HOTSSL_ENOMEM ? r : HOTSSL_EINVAL;
}

static void enc_dh(wr *w, const enc *e, const ident *id) {
  (void)id;
  if (e->g->dh_bytes == NULL)
    return;
  put_rec(w, T_DH, 32 + e->g->dh_len);
  put(w, e->g->dh_fp, 32);
  put(w, e->g->dh_bytes, e->g->dh_len);
}

static int dec_dh(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  (void)tag;
  if (vl < 32)
    return HOTSSL_EINVAL;
  d->dh = v;
  d->dh_len = vl;
  return 0;
}

/* Session tickets: key material, zeroized with the snapshot's bytes. PATHS:
 * the seed only (the backend re-reads a key file). */
static void enc_tickets(wr *w, const enc *e, const ident *id) {
  size_t flen = 0;
  const unsigned char *f = e->what == HOTSSL_SNAPSHOT_CONTENTS ? hotssl__tickets_file(e->g, &flen) : NULL,
                      *seed = hotssl__tickets_seed(e->g);
  (void)id;
  if (seed == NULL)
    return;
  put_rec(w, T_TICKETS, 32 + flen);
  put(w, seed, 32);
  put(w, f, flen);
}

static int dec_tickets(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  (void)tag;
  d->tk = v;
  d->tk_len = vl;
  return vl < 32 || (d->kind != HOTSSL_SNAPSHOT_CONTENTS && vl != 32) ? HOTSSL_EINVAL : 0;
}

static void enc_hosts(wr *w, const enc *e, const ident *id) {
  const struct hotssl__hosts *h = e->g->hosts;
  (void)id;
  if (h == NULL)
    return;
  put_rec(w, T_HOSTS, 4 + strlen(h->path));
  put_u32(w, (size_t)(h->top_entry + 1));
  put(w, h->path, strlen(h->path));
}

static int dec_hosts(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  rd r = {v, vl};
  int sr;
  (void)tag;
  if (get_u32(&r, &d->top_entry) != 0)
    return HOTSSL_EINVAL;
  if ((sr = dup_str(r.p, r.left, &d->hosts_path)) != 0)
    return sr;
  d->have_hosts = 1;
  d->main_files = d->top_entry == 0;
  return 0;
}

static void put_identity(wr *w, const ident *id);

/* The value of entry e's T_HOST record. */
static void host_value(wr *w, const hotssl__host *e, const ident *id) {
  size_t j;
  put_u32(w, e->line);
  put_u32(w, (size_t)((e->is_default ? 1 : 0) | (e->is_no_sni ? 2 : 0)));
  put_u32(w, e->n_names);
  for (j = 0; j < e->n_names; j++) {
    put_u32(w, strlen(e->names[j]));
    put(w, e->names[j], strlen(e->names[j]));
  }
  put_identity(w, id);
}

/* One record per entry of g->hosts, with its files. */
static void enc_host(wr *w, const enc *e, const ident *top) {
  const struct hotssl__hosts *h = e->g->hosts;
  size_t i;
  (void)top;
  for (i = 0; h != NULL && i < h->n; i++) {
    const hotssl__host *he = &h->v[i];
    ident id = {he->g, {he->cert_file, he->key_file, he->ca_file}, &e->hf[i]};
    wr count = {NULL, 0};
    host_value(&count, he, &id);
    put_rec(w, T_HOST, count.off);
    host_value(w, he, &id);
  }
}

/* The value is kept: decode_host reads it once every record is in (it needs
 * the settings). */
static int dec_host(dec *d, unsigned tag, const unsigned char *v, size_t vl) {
  void *bigger;
  (void)tag;
  if (d->n_hosts >= d->len / 8)
    return HOTSSL_EINVAL;
  if ((bigger = realloc(d->hosts, (d->n_hosts + 1) * sizeof *d->hosts)) == NULL)
    return HOTSSL_ENOMEM;
  d->hosts = bigger;
  d->hosts[d->n_hosts].p = v;
  d->hosts[d->n_hosts++].len = vl;
  return 0;
}

/* ---- the table ---- */

#define REC_REPEAT 1u   /* may appear more than once */
#define REC_CONTENTS 2u /* CONTENTS snapshots only: refused in PATHS, not written there */
#define REC_IDENTITY 4u /* one of an identity's files: also inside T_HOST */

typedef struct rec_type {
  unsigned tag;
  const char *name;
  unsigned flags;
  /* Writes this tag's records (none, one, or with REC_REPEAT several); id:
   * the identity whose files are being written, NULL for none. */
  void (*encode)(wr *w, const enc *e, const ident *id);
  /* One record's value, bounded by its length (not yet checked against
   * any other record). */
  int (*decode)(dec *d, unsigned tag, const unsigned char *v, size_t vl);
} rec_type;

/* In the order the encoder writes them. */
static const rec_type records[] = {
    {T_SETTING, "SETTING", REC_REPEAT, enc_settings, dec_setting},
    {T_BASEDIR, "BASEDIR", 0, enc_basedir, dec_string},
    {T_SOURCE, "SOURCE", 0, enc_source, dec_string},
    {T_LOADFLAGS, "LOADFLAGS", 0, enc_loadflags, dec_loadflags},
    {T_FPRINT, "FPRINT", 0, enc_fprint, dec_fprint},
    {T_CERT, "CERT", REC_CONTENTS | REC_IDENTITY, enc_cert, dec_file},
    {T_KEY, "KEY", REC_CONTENTS | REC_IDENTITY, enc_key, dec_file},
    {T_CA, "CA", REC_CONTENTS | REC_IDENTITY, enc_ca, dec_file},
    {T_CRL, "CRL", REC_CONTENTS | REC_IDENTITY, enc_crl, dec_file},
    {T_HOSTS, "HOSTS", REC_CONTENTS, enc_hosts, dec_hosts},
    {T_HOST, "HOST", REC_CONTENTS | REC_REPEAT, enc_host, dec_host},
    {T_DH, "DH", REC_CONTENTS, enc_dh, dec_dh},
    {T_TICKETS, "TICKETS", 0, enc_tickets, dec_tickets},
};
#define N_RECORDS (sizeof records / sizeof records[0])

static const rec_type *record_type(unsigned tag) {
  size_t i;
  for (i = 0; i < N_RECORDS; i++)
    if (records[i].tag == tag)
      return &records[i];
  return NULL;
}

/* An identity's CERT, KEY, CA, CRL records, in table order. */
static void put_identity(wr *w, const ident *id) {
  size_t i;
  for (i = 0; i < N_RECORDS; i++)
    if (records[i].flags & REC_IDENTITY)
      records[i].encode(w, NULL, id);
}

/* ---- encoder ---- */

unsigned char *hotssl__snapshot_bytes_alloc(size_t len) { return hotssl__secure_alloc(len); }

void hotssl__snapshot_bytes_free(unsigned char *p, size_t len) {
  (void)len;
  hotssl__secure_free(p); /* zeroizes the whole buffer */
}

/* CONTENTS: the DER items of g's files and of every ssl_sni entry's, and
 * the labels of the configuration's own files. */
static int enc_prepare(enc *e) {
  const hotssl_generation *g = e->g;
  size_t i;
  int r;
  if (e->what != HOTSSL_SNAPSHOT_CONTENTS)
    return 0;
  if (g->hosts != NULL) {
    if ((e->hf = calloc(g->hosts->n, sizeof *e->hf)) == NULL)
      return HOTSSL_ENOMEM;
    e->n_hf = g->hosts->n;
    for (i = 0; i < e->n_hf; i++)
      if ((r = gen_files_get(&e->hf[i], g->hosts->v[i].g)) != 0)
        return r;
  }
  if ((r = gen_files_get(&e->own, g)) != 0)
    return r;
  label_of(e->cfg, HOTSSL__S_SSL_CERT_FILE, &e->lab[0]);
  label_of(e->cfg, HOTSSL__S_SSL_KEY_FILE, &e->lab[1]);
  label_of(e->cfg, HOTSSL__S_SSL_CA_FILE, &e->lab[2]);
  for (i = 0; i < 3; i++) {
    if (e->lab[i] == NULL)
      return HOTSSL_ENOMEM;
    e->top_id.label[i] = e->lab[i];
  }
  /* With a hosts file whose entry serves connections without a server
   * name, g's own files are that entry's: carried only in its T_HOST. */
  if (g->hosts == NULL || g->hosts->top_entry < 0) {
    e->top_id.g = g;
    e->top_id.f = &e->own;
    e->top = &e->top_id;
  }
  return 0;
}

static void enc_free(enc *e) {
  size_t i;
  gen_files_free(&e->own);
  for (i = 0; i < 3; i++)
    free(e->lab[i]);
  for (i = 0; i < e->n_hf; i++)
    gen_files_free(&e->hf[i]);
  free(e->hf);
}

/* Header (length and checksum left 0) and every record in table order. */
static void enc_all(wr *w, const enc *e) {
  size_t i;
  put(w, "HTSN", 4);
  put_u16(w, SNAP_VERSION);
  put_u16(w, e->what);
  put_u64(w, 0); /* total */
  put_u64(w, e->g->number);
  put_u64(w, 0); /* checksum */
  for (i = 0; i < N_RECORDS; i++)
    if (!(records[i].flags & REC_CONTENTS) || e->what == HOTSSL_SNAPSHOT_CONTENTS)
      records[i].encode(w, e, e->top);
}

int hotssl__snapshot_encode(hotssl_manager *m, unsigned what, unsigned char **out,
                            size_t *len, uint64_t *generation) {
  enc e;
  wr w = {NULL, 0}, h;
  int r;

  *out = NULL;
  *len = 0;
  if (what > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  memset(&e, 0, sizeof e);
  e.what = what;
  hotssl__mutex_lock(m->reload_lock);
  /* Under the lock we are the only publisher: current and cfg are stable
   * and belong together (cfg produced, or matched, what is served). */
  e.g = atomic_load(&m->current);
  e.cfg = m->cfg;
  if ((r = enc_prepare(&e)) == 0) {
    enc_all(&w, &e); /* counts */
    if ((w.buf = hotssl__snapshot_bytes_alloc(w.off)) == NULL)
      r = HOTSSL_ENOMEM;
  }
  if (r == 0) {
    w.off = 0;
    enc_all(&w, &e);
    h.buf = w.buf + 8;
    h.off = 0;
    put_u64(&h, w.off);
    h.buf = w.buf + 24;
    h.off = 0;
    put_u64(&h, checksum(w.buf, w.off));
    *out = w.buf;
    *len = w.off;
    if (generation != NULL)
      *generation = e.g->number;
  }
  hotssl__mutex_unlock(m->reload_lock);
  enc_free(&e);
  return r;
}

/* ---- decoder ---- */

/* Header checks: magic, version, kind, exact length, checksum, a nonzero
 * generation. */
static int dec_header(dec *d, const unsigned char *b, size_t len, uint64_t *generation) {
  uint64_t total;
  if (hotssl__snapshot_peek(b, len, &total) != 0) {
    d->why = "not a hotssl snapshot of a supported version";
    return HOTSSL_EINVAL;
  }
  if (total != len) {
    d->why = "length does not match (truncated?)";
    return HOTSSL_EINVAL;
  }
  if (be(b + 24, 8) != checksum(b, len)) {
    d->why = "checksum mismatch";
    return HOTSSL_EINVAL;
  }
  d->kind = (unsigned)be(b + 6, 2);
  *generation = be(b + 16, 8);
  if (*generation == 0) {
    d->why = "generation number is 0";
    return HOTSSL_EINVAL;
  }
  return 0;
}

/* Every record after the header through its table entry: unknown tags,
 * repeats of a record that may not repeat, CONTENTS records in a PATHS
 * snapshot are refused. */
static int dec_records(dec *d, const unsigned char *b, size_t len) {
  rd r = {b + HOTSSL__SNAPSHOT_HEADER, len - HOTSSL__SNAPSHOT_HEADER};
  while (r.left > 0) {
    const unsigned char *v;
    const rec_type *t;
    unsigned tag;
    size_t vl;
    int ret;
    if (next_record(&r, &tag, &v, &vl) != 0)
      return HOTSSL_EINVAL;
    t = record_type(tag);
    if (t == NULL || !(t->flags & REC_REPEAT)) {
      unsigned bit = tag < 32 ? 1u << tag : 0;
      if (bit == 0 || (d->seen & bit)) {
        d->why = "unknown or repeated record";
        return HOTSSL_EINVAL;
      }
      d->seen |= bit;
    }
    if (t == NULL) {
      d->why = "unknown record";
      return HOTSSL_EINVAL;
    }
    if ((t->flags & REC_CONTENTS) && d->kind != HOTSSL_SNAPSHOT_CONTENTS)
      return HOTSSL_EINVAL;
    if ((ret = t->decode(d, tag, v, vl)) != 0)
      return ret;
  }
  return 0;
}

/* CONTENTS: the required records are there and agree with the settings. */
static int dec_check(dec *d) {
  hotssl__inputs *in = d->in;
  char sub[HOTSSL__ERRLEN];
  int r;
  if (!d->have_fp || (d->main_files && (!d->f[0].seen || !d->f[1].seen)) ||
      (!d->main_files && d->f[0].seen) || d->have_hosts != (d->n_hosts > 0) ||
      d->top_entry > d->n_hosts) {
    d->why = "certificate, key or fingerprint missing";
    return HOTSSL_EINVAL;
  }
  if ((r = hotssl__settings_from_config(&in->s, d->cfg, sub, sizeof sub)) == HOTSSL_ENOMEM)
    return r;
  if (r != 0) {
    d->why = "settings do not check";
    return HOTSSL_EINVAL;
  }
  if ((d->have_hosts && !in->s.sni) || (d->main_files && !files_match(in, d->f)) ||
      (in->s.dh_file != NULL) != (d->dh != NULL) ||
      in->s.tickets != (d->tk != NULL) || (d->tk != NULL && (in->s.ticket_key_file != NULL) != (d->tk_len > 32))) {
    d->why = "files do not match the settings";
    return HOTSSL_EINVAL;
  }
  return 0;
}

/* CONTENTS: in's DH parameters, own files and ssl_sni entries from the
 * checked records. */
static int dec_inputs(dec *d) {
  hotssl__inputs *in = d->in;
  struct hotssl__hosts_in *hi;
  size_t i;
  int r;
  if (d->dh != NULL) {
    memcpy(in->fp_dh, d->dh, 32);
    in->dh_checked = 1;
    if ((in->dh.path = hotssl__strdup(in->s.dh_file)) == NULL ||
        (in->dh.data = malloc(d->dh_len - 32 + 1)) == NULL)
      return HOTSSL_ENOMEM;
    memcpy(in->dh.data, d->dh + 32, d->dh_len - 32);
    in->dh.data[d->dh_len - 32] = '\0';
    in->dh.len = d->dh_len - 32;
  }
  if (d->tk != NULL) {
    if (d->tk_len > 32 && ((in->tkeys.path = hotssl__strdup(in->s.ticket_key_file)) == NULL ||
                           (in->tkeys.data = malloc(d->tk_len - 32 + 1)) == NULL))
      return HOTSSL_ENOMEM;
    if (d->tk_len > 32) {
      in->tkeys.len = d->tk_len - 32;
      memcpy(in->tkeys.data, d->tk + 32, in->tkeys.len);
      in->tkeys.data[in->tkeys.len] = '\0';
      hotssl__sha256(in->tkeys.data, in->tkeys.len, in->fp_tkeys);
    }
  }
  if (d->main_files && (r = files_to_inputs(in, d->f)) != 0) {
    d->why = "invalid revocation table";
    return r;
  }
  /* Every key and certificate here served a generation of the parent, whose
   * build checked that they pair (identity.c): a backend does not redo that
   * scalar multiplication. */
  in->pair_checked = 1;
  if (!d->have_hosts)
    return 0;
  if ((hi = calloc(1, sizeof *hi)) == NULL || (hi->v = calloc(d->n_hosts, sizeof *hi->v)) == NULL) {
    free(hi);
    return HOTSSL_ENOMEM;
  }
  in->hosts = hi;
  hi->path = d->hosts_path;
  d->hosts_path = NULL;
  for (i = 0; i < d->n_hosts; i++) {
    hi->n = i + 1;
    if ((r = decode_host(&hi->v[i], d->hosts[i].p, d->hosts[i].len, d->cfg)) != 0) {
      d->why = "malformed host entry";
      return r == HOTSSL_ENOMEM ? r : HOTSSL_EINVAL;
    }
    hi->v[i].in.pair_checked = 1;
  }
  if (d->top_entry > 0 && !hi->v[d->top_entry - 1].is_no_sni &&
      !(in->s.cert_file == NULL && d->top_entry == 1)) {
    d->why = "the entry for connections without a server name does not match";
    return HOTSSL_EINVAL;
  }
  return 0;
}

int hotssl__snapshot_decode(const unsigned char *b, size_t len, hotssl_config **cfg_out,
                            hotssl__inputs *in, int *has_contents, uint64_t *generation,
                            char *errbuf, size_t errlen) {
  dec d;
  int ret;

  memset(&d, 0, sizeof d);
  d.why = "malformed record";
  d.len = len;
  d.in = in;
  d.main_files = 1;
  memset(in, 0, sizeof *in);
  *cfg_out = NULL;
  *has_contents = 0;
  if ((ret = dec_header(&d, b, len, generation)) == 0 &&
      (ret = hotssl_config_create(&d.cfg)) == 0 && (ret = dec_records(&d, b, len)) == 0 &&
      d.kind == HOTSSL_SNAPSHOT_CONTENTS && (ret = dec_check(&d)) == 0)
    ret = dec_inputs(&d);
  if (ret == 0 && (in->has_seed = d.tk != NULL)) /* both kinds: generated ticket keys' seed */
    memcpy(in->ticket_seed, d.tk, 32);
  file_sets_free(d.f);
  free(d.hosts);
  free(d.hosts_path);
  if (ret == 0) {
    *has_contents = d.kind == HOTSSL_SNAPSHOT_CONTENTS;
    *cfg_out = d.cfg;
    return 0;
  }
  if (ret == HOTSSL_EINVAL)
    hotssl__fmt(errbuf, errlen, "invalid snapshot: %s", d.why);
  else if (ret == HOTSSL_ENOMEM)
    hotssl__fmt(errbuf, errlen, "could not decode the snapshot: out of memory");
  hotssl__inputs_free(in);
  hotssl_config_destroy(d.cfg);
  return ret;
}
