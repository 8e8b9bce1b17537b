/*
 * ssl_sni: many certificates in one generation, chosen by the server name the
 * client sends, all reloaded together (PostgreSQL's ssl_sni + pg_hosts.conf).
 *
 * The hosts file has one entry per line, `#` comments, fields separated by
 * whitespace and quoted with '...' or "..." (a doubled quote inside is one
 * quote):
 *     hostnames cert_file key_file [ca_file [passphrase_command [supports_reload]]]
 * hostnames is a comma-separated list; `@file` reads more names from a file
 * (one per line, relative to the hosts file); `*` is the default entry and
 * `/no_sni/` serves connections that send no server name.
 *
 * Loader: every entry gets its own hotssl_config, the configuration file's
 * with the entry's files (relative to the hosts file's folder), its
 * passphrase command, no inherited ssl_ca_file, and its hotssl__inputs are
 * loaded by the ordinary loader (same error catalogue, each message then
 * names the hosts file and line). Builder: each entry becomes a
 * sub-generation (its own parsed objects, client-certificate mode, verify
 * callback); the served generation is built from the identity that serves
 * connections without a server name (the /no_sni/ entry, else the
 * configuration file's certificate, else none: those handshakes fail) and
 * owns the entries; its SNI callback points the handshake at one entry.
 * A reload builds all of it on the side: all or nothing.
 *
 * Called by the manager under its reload lock (through the loader and the
 * builder); the SNI callback runs on handshake threads and only reads.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "../os/os.h"
#include "config.h"
#include "build_one.h"
#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "log.h"
#include "util.h"
#include "verify.h"

#define MAX_FIELDS 6
#define MAX_NAMES_FILE (1024u * 1024u)

/* ---- the file format ---- */

/* ASCII only, whatever the host's locale: names compare the same at load
 * and in the SNI callback. */
static int is_space(int c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

typedef struct tok {
  char *s;
  int quoted;
} tok;

typedef struct line_fields {
  tok *names; /* field 0, split at commas */
  size_t n_names;
  char *f[MAX_FIELDS]; /* f[0] unused */
  int nf;
  char *buf; /* backing store of every string above */
} line_fields;

static void fields_free(line_fields *lf) {
  free(lf->names);
  free(lf->buf);
  memset(lf, 0, sizeof *lf);
}

/* One token at *pp into *w (advanced past its NUL). in_list: a comma ends
 * an unquoted token. -1: unterminated quote or junk right after a quote. */
static int token(const char **pp, char **w, int in_list, tok *out) {
  const char *p = *pp;
  char *o = *w;
  out->s = o;
  out->quoted = 0;
  if (*p == '"' || *p == '\'') {
    char q = *p++;
    out->quoted = 1;
    for (;;) {
      if (*p == '\0')
        return -1;
      if (*p == q && p[1] == q) {
        *o++ = q;
        p += 2;
      } else if (*p == q) {
        p++;
        break;
      } else {
        *o++ = *p++;
      }
    }
    if (*p != '\0' && !is_space(*p) && *p != '#' && !(in_list && *p == ','))
      return -1;
  } else {
    while (*p != '\0' && !is_space(*p) && *p != '#' && !(in_list && *p == ','))
      *o++ = *p++;
  }
  *o++ = '\0';
  *pp = p;
  *w = o;
  return 0;
}

/* Split one line. Returns 0 (lf->nf may be 0: blank or comment), -1 syntax
 * error (why set), -2 out of memory. */
static int split_line(const char *line, line_fields *lf, const char **why) {
  const char *p = line;
  char *w;
  size_t cap = 4;
  memset(lf, 0, sizeof *lf);
  if ((lf->buf = malloc(2 * strlen(line) + 2)) == NULL ||
      (lf->names = malloc(cap * sizeof *lf->names)) == NULL)
    return -2;
  w = lf->buf;
  for (;;) {
    tok t;
    while (is_space(*p))
      p++;
    if (*p == '\0' || *p == '#')
      return 0;
    if (lf->nf >= MAX_FIELDS) {
      *why = "extra fields at the end of the line";
      return -1;
    }
    if (lf->nf == 0) {
      for (;;) {
        if (token(&p, &w, 1, &t) != 0) {
          *why = "unterminated quote or text right after a quote";
          return -1;
        }
        if (t.s[0] == '\0') {
          *why = "empty server name";
          return -1;
        }
        if (lf->n_names == cap) {
          tok *bigger = realloc(lf->names, 2 * cap * sizeof *bigger);
          if (bigger == NULL)
            return -2;
          lf->names = bigger;
          cap *= 2;
        }
        lf->names[lf->n_names++] = t;
        if (*p != ',')
          break;
        p++;
        while (is_space(*p))
          p++;
      }
    } else {
      if (token(&p, &w, 0, &t) != 0) {
        *why = "unterminated quote or text right after a quote";
        return -1;
      }
      lf->f[lf->nf] = t.s;
    }
    lf->nf++;
  }
}

/* Lines of a text blob: calls fn(line, lineno) on each (NUL-terminated,
 * without the line end). Stops at the first non-zero return. */
static int each_line(hotssl__blob *b, int (*fn)(void *ctx, char *line, unsigned lineno), void *ctx) {
  char *line, *next;
  unsigned lineno = 0;
  int r;
  if (b->data == NULL)
    return 0;
  for (line = (char *)b->data; line != NULL; line = next) {
    size_t l;
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    if (next == NULL && *line == '\0')
      break;
    lineno++;
    l = strlen(line);
    if (l > 0 && line[l - 1] == '\r')
      line[l - 1] = '\0';
    if ((r = fn(ctx, line, lineno)) != 0)
      return r;
  }
  return 0;
}

static char *lower_dup(const char *s) {
  char *d = hotssl__strdup(s), *p;
  if (d != NULL)
    for (p = d; *p; p++)
      *p = (char)lower((unsigned char)*p);
  return d;
}

/* The hosts fingerprint: SHA-256 over a list of 32-byte digests (the hosts
 * file's, each @file's path and bytes, each entry's inputs). */
typedef struct digests {
  unsigned char *v;
  size_t n;
  int nomem;
} digests;

static void digest_add(digests *d, const void *data, size_t len) {
  unsigned char *bigger = d->nomem ? NULL : realloc(d->v, (d->n + 1) * 32);
  if (bigger == NULL) {
    d->nomem = 1;
    return;
  }
  d->v = bigger;
  hotssl__sha256(data, len, d->v + 32 * d->n++);
}

/* ---- loader ---- */

typedef struct load_ctx {
  struct hotssl__hosts_in *h;
  const hotssl_config *cfg;
  const hotssl__settings *s;
  const hotssl__file_memos *memos; /* may be NULL */
  const hotssl_generation *cur;    /* what entries are lent from (may be NULL) */
  char *dir; /* the hosts file's folder */
  digests fp;
  unsigned default_line, no_sni_line;
  char *errbuf;
  size_t errlen;
  int r;
} load_ctx;

static int add_name(hotssl__host_in *e, const char *name) {
  char **nv;
  char *d = lower_dup(name);
  if (d == NULL)
    return HOTSSL_ENOMEM;
  if ((nv = realloc(e->names, (e->n_names + 1) * sizeof *nv)) == NULL) {
    free(d);
    return HOTSSL_ENOMEM;
  }
  nv[e->n_names++] = d;
  e->names = nv;
  return 0;
}

typedef struct names_ctx {
  hotssl__host_in *e;
  int r;
} names_ctx;

static int names_file_line(void *vctx, char *line, unsigned lineno) {
  names_ctx *nc = vctx;
  char *end;
  (void)lineno;
  while (is_space(*line))
    line++;
  end = line + strlen(line);
  while (end > line && is_space(end[-1]))
    *--end = '\0';
  if (*line == '\0' || *line == '#')
    return 0;
  return nc->r = add_name(nc->e, line);
}

/* Reads an @file's names into e. */
static int read_names_file(load_ctx *c, hotssl__host_in *e, const char *rel, unsigned lineno) {
  char sub[HOTSSL__ERRLEN];
  char *p = hotssl__path_join(c->dir, rel);
  hotssl__blob b;
  names_ctx nc = {e, 0};
  int r;
  if (p == NULL)
    return HOTSSL_ENOMEM;
  r = hotssl__file_read(p, 0, MAX_NAMES_FILE, NULL, &b, sub, sizeof sub);
  if (r != 0) {
    hotssl__fmt(c->errbuf, c->errlen, "could not load server name file \"%s\": %s in hosts file \"%s\" line %u",
                p, sub, c->h->path, lineno);
    free(p);
    return r == HOTSSL_ENOMEM ? r : HOTSSL_ECONFIG;
  }
  digest_add(&c->fp, p, strlen(p) + 1);
  digest_add(&c->fp, b.data, b.len);
  free(p);
  if (memchr(b.data, '\0', b.len) != NULL) {
    hotssl__fmt(c->errbuf, c->errlen, "server name file \"%s\" contains a NUL byte in hosts file \"%s\" line %u",
                b.path, c->h->path, lineno);
    hotssl__blob_free(&b);
    return HOTSSL_ECONFIG;
  }
  r = each_line(&b, names_file_line, &nc);
  hotssl__blob_free(&b);
  return r;
}

/* The entry's configuration: the configuration file's settings with the
 * entry's files and passphrase command; no inherited CA file (and so no
 * client certificates and no CRLs for an entry without one). */
int hotssl__host_config(hotssl_config **out, const hotssl_config *cfg, const char *cert,
                        const char *key, const char *ca, const char *cmd, const char *reload,
                        char *errbuf, size_t errlen) {
  hotssl_config *ec = NULL;
  const char *cc = hotssl__config_value(cfg, HOTSSL__S_SSL_CLIENT_CERT);
  char sub[HOTSSL__ERRLEN];
  int r;

  *out = NULL;
  if (ca == NULL && strcmp(cc, "require") == 0) {
    hotssl__fmt(errbuf, errlen,
                "client certificates can only be checked if a root certificate store is available (ssl_client_cert = require, and the entry has no ca_file)");
    return HOTSSL_ECONFIG;
  }
  if ((r = hotssl__config_copy(&ec, cfg)) != 0)
    return r;
  free(ec->source_file);
  ec->source_file = NULL;
  if ((r = hotssl_config_set(ec, "ssl_sni", "off", sub, sizeof sub)) != 0 ||
      (r = hotssl_config_set(ec, "ssl_cert_file", cert, sub, sizeof sub)) != 0 ||
      (r = hotssl_config_set(ec, "ssl_key_file", key, sub, sizeof sub)) != 0 ||
      (r = hotssl_config_set(ec, "ssl_ca_file", ca != NULL ? ca : "", sub, sizeof sub)) != 0 ||
      /* The DH parameters are the configuration's, read once: the served
       * generation's ssl config (whose handshakes every entry joins) gets
       * them in hotssl__hosts_build. */
      (r = hotssl_config_set(ec, "ssl_dh_params_file", "", sub, sizeof sub)) != 0)
    goto fail;
  if (ca == NULL && ((r = hotssl_config_set(ec, "ssl_client_cert", "off", sub, sizeof sub)) != 0 ||
                     (r = hotssl_config_set(ec, "ssl_crl_file", "", sub, sizeof sub)) != 0 ||
                     (r = hotssl_config_set(ec, "ssl_crl_dir", "", sub, sizeof sub)) != 0))
    goto fail;
  if (cmd != NULL && (r = hotssl_config_set(ec, "ssl_passphrase_command", cmd, sub, sizeof sub)) != 0)
    goto fail;
  if ((cmd != NULL || reload != NULL) &&
      (r = hotssl_config_set(ec, "ssl_passphrase_command_supports_reload",
                             reload != NULL ? reload : "off", sub, sizeof sub)) != 0)
    goto fail;
  *out = ec;
  return 0;
fail:
  hotssl__fmt(errbuf, errlen, "%s", r == HOTSSL_ENOMEM ? "out of memory" : sub);
  hotssl_config_destroy(ec);
  return r;
}

/* hotssl__host_config from a line's fields (paths relative to the hosts
 * file's folder); errors name the hosts file and line. */
static int entry_config(load_ctx *c, const line_fields *lf, unsigned lineno, hotssl_config **out) {
  char *cert = NULL, *key = NULL, *ca = NULL;
  const char *cmd = lf->nf > 4 && lf->f[4][0] != '\0' ? lf->f[4] : NULL;
  const char *reload = lf->nf > 5 ? lf->f[5] : NULL;
  char sub[HOTSSL__ERRLEN];
  int r;

  *out = NULL;
  if (reload != NULL && hotssl__parse_bool(reload) < 0) {
    hotssl__fmt(c->errbuf, c->errlen,
                "invalid value for passphrase_command_supports_reload: \"%s\" (expected a boolean) in hosts file \"%s\" line %u",
                reload, c->h->path, lineno);
    return HOTSSL_ECONFIG;
  }
  if ((cert = hotssl__path_join(c->dir, lf->f[1])) == NULL ||
      (key = hotssl__path_join(c->dir, lf->f[2])) == NULL ||
      (lf->nf > 3 && lf->f[3][0] != '\0' && (ca = hotssl__path_join(c->dir, lf->f[3])) == NULL)) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  r = hotssl__host_config(out, c->cfg, cert, key, ca, cmd, reload, sub, sizeof sub);
  if (r != 0)
    hotssl__fmt(c->errbuf, c->errlen, "%s in hosts file \"%s\" line %u", sub, c->h->path, lineno);
out:
  free(cert);
  free(key);
  free(ca);
  return r;
}

static const hotssl_generation *lender(const hotssl_generation *prev, const hotssl__inputs *in,
                                       size_t at);

/* An entry's files, through the configuration's memos: a file skipped by
 * its memo stays skipped only where the entry's lender in the current
 * generation (the one hotssl__hosts_build will pick: the same function on
 * the same hashes) lends the parsed object. If a re-read changed a hash
 * (the file changed meanwhile) and with it the lender, everything skipped
 * is read. On failure in is freed (zeroed). */
static int load_entry(load_ctx *c, size_t at, hotssl__inputs *in, const hotssl_config *ec,
                      char *errbuf, size_t errlen) {
  const hotssl_generation *lend;
  hotssl__lender lent;
  unsigned char fp_key[32], fp_cert[32];
  int r = hotssl__inputs_load_files(in, ec, c->memos, errbuf, errlen);
  if (r != 0)
    return r;
  lend = lender(c->cur, in, at);
  memcpy(fp_key, in->fp_key, 32);
  memcpy(fp_cert, in->fp_cert, 32);
  lent = hotssl__generation_lender(lend);
  if ((r = hotssl__inputs_settle(in, &lent, NULL, errbuf, errlen)) == 0 &&
      (memcmp(fp_key, in->fp_key, 32) != 0 || memcmp(fp_cert, in->fp_cert, 32) != 0) &&
      lender(c->cur, in, at) != lend)
    r = hotssl__inputs_settle(in, NULL, NULL, errbuf, errlen);
  if (r != 0)
    hotssl__inputs_free_own(in);
  return r;
}

static int host_line(void *vctx, char *line, unsigned lineno) {
  load_ctx *c = vctx;
  line_fields lf;
  const char *why = NULL;
  hotssl__host_in *e, *nv;
  size_t i;
  int r = split_line(line, &lf, &why);

  if (r == -2) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  if (r == -1) {
    hotssl__fmt(c->errbuf, c->errlen, "%s in hosts file \"%s\" line %u", why, c->h->path, lineno);
    r = HOTSSL_ECONFIG;
    goto out;
  }
  if (lf.nf == 0)
    goto out;
  if (lf.nf < 3) {
    hotssl__fmt(c->errbuf, c->errlen,
                "missing fields (expected: hostnames cert_file key_file [ca_file [passphrase_command [passphrase_command_supports_reload]]]) in hosts file \"%s\" line %u",
                c->h->path, lineno);
    r = HOTSSL_ECONFIG;
    goto out;
  }
  if ((nv = realloc(c->h->v, (c->h->n + 1) * sizeof *nv)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  c->h->v = nv;
  e = &nv[c->h->n++];
  memset(e, 0, sizeof *e);
  e->line = lineno;
  for (i = 0; i < lf.n_names && r == 0; i++) {
    const tok *t = &lf.names[i];
    if (!t->quoted && strcmp(t->s, "*") == 0) {
      if (lf.n_names > 1) {
        hotssl__fmt(c->errbuf, c->errlen,
                    "the default entry \"*\" cannot list other names in hosts file \"%s\" line %u",
                    c->h->path, lineno);
        r = HOTSSL_ECONFIG;
      } else if (c->default_line != 0) {
        hotssl__fmt(c->errbuf, c->errlen,
                    "a second default entry \"*\" (the first is on line %u) in hosts file \"%s\" line %u",
                    c->default_line, c->h->path, lineno);
        r = HOTSSL_ECONFIG;
      }
      e->is_default = 1;
      c->default_line = lineno;
    } else if (!t->quoted && strcmp(t->s, "/no_sni/") == 0) {
      if (c->no_sni_line != 0) {
        hotssl__fmt(c->errbuf, c->errlen,
                    "a second \"/no_sni/\" entry (the first is on line %u) in hosts file \"%s\" line %u",
                    c->no_sni_line, c->h->path, lineno);
        r = HOTSSL_ECONFIG;
      } else if (e->is_no_sni) {
        hotssl__fmt(c->errbuf, c->errlen, "\"/no_sni/\" twice in hosts file \"%s\" line %u",
                    c->h->path, lineno);
        r = HOTSSL_ECONFIG;
      }
      e->is_no_sni = 1;
    } else if (!t->quoted && t->s[0] == '@') {
      r = read_names_file(c, e, t->s + 1, lineno);
    } else {
      r = add_name(e, t->s);
    }
  }
  if (e->is_no_sni && r == 0)
    c->no_sni_line = lineno;
  if (r == 0) {
    /* Only the file fields are kept for the load pass (below). */
    hotssl_config *ec;
    if ((r = entry_config(c, &lf, lineno, &ec)) == 0) {
      char sub[HOTSSL__ERRLEN];
      r = load_entry(c, c->h->n - 1, &e->in, ec, sub, sizeof sub);
      if (r != 0)
        hotssl__fmt(c->errbuf, c->errlen, "%s (hosts file \"%s\" line %u)", sub, c->h->path, lineno);
      hotssl_config_destroy(ec);
    }
  }
out:
  fields_free(&lf);
  return c->r = r;
}

static int cmp_name_line(const void *a, const void *b) {
  const hotssl__host_name *x = a, *y = b;
  int d = strcmp(x->name, y->name);
  if (d != 0)
    return d;
  return x->host < y->host ? -1 : x->host > y->host;
}

/* Every name of every entry, sorted (for duplicates and for the callback). */
static int name_index(char **const *names, const size_t *n_names, size_t n_hosts,
                      hotssl__host_name **out, size_t *count) {
  size_t total = 0, i, j, k = 0;
  hotssl__host_name *ix;
  for (i = 0; i < n_hosts; i++)
    total += n_names[i];
  if ((ix = calloc(total ? total : 1, sizeof *ix)) == NULL)
    return HOTSSL_ENOMEM;
  for (i = 0; i < n_hosts; i++)
    for (j = 0; j < n_names[i]; j++, k++) {
      ix[k].name = names[i][j];
      ix[k].len = strlen(names[i][j]);
      ix[k].host = i;
    }
  qsort(ix, total, sizeof *ix, cmp_name_line);
  *out = ix;
  *count = total;
  return 0;
}

static void free_names(char **names, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

void hotssl__hosts_in_free(struct hotssl__hosts_in *h) {
  size_t i;
  if (h == NULL)
    return;
  for (i = 0; i < h->n; i++) {
    free_names(h->v[i].names, h->v[i].n_names);
    hotssl__inputs_free_own(&h->v[i].in);
  }
  free(h->v);
  free(h->path);
  free(h);
}

int hotssl__hosts_load(struct hotssl__hosts_in **out, const hotssl_config *cfg,
                       const hotssl__settings *s, const hotssl__file_memos *memos,
                       const hotssl_generation *cur, char *errbuf, size_t errlen) {
  load_ctx c;
  hotssl__blob b;
  char sub[HOTSSL__ERRLEN];
  int r;
  size_t i;

  *out = NULL;
  memset(&c, 0, sizeof c);
  memset(&b, 0, sizeof b);
  c.cfg = cfg;
  c.s = s;
  c.memos = memos;
  c.cur = cur;
  c.errbuf = errbuf;
  c.errlen = errlen;
  if ((c.h = calloc(1, sizeof *c.h)) == NULL || (c.h->path = hotssl__path_absolute(s->hosts_file)) == NULL ||
      (c.dir = hotssl__dir_of(c.h->path)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  r = hotssl__file_read(c.h->path, HOTSSL__READ_MISSING_OK, s->max_file_size, NULL, &b, sub,
                        sizeof sub);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "could not load hosts file \"%s\": %s", c.h->path, sub);
    goto out;
  }
  if (b.data == NULL) {
    digest_add(&c.fp, "missing", 7);
  } else {
    digest_add(&c.fp, b.data, b.len);
    if (memchr(b.data, '\0', b.len) != NULL) {
      hotssl__fmt(errbuf, errlen, "hosts file \"%s\" contains a NUL byte", c.h->path);
      r = HOTSSL_ECONFIG;
      goto out;
    }
  }
  if ((r = each_line(&b, host_line, &c)) != 0)
    goto out;
  {
    /* A name repeated anywhere, in any letter case. */
    char ***names = calloc(c.h->n ? c.h->n : 1, sizeof *names);
    size_t *nn = calloc(c.h->n ? c.h->n : 1, sizeof *nn), count = 0;
    hotssl__host_name *ix = NULL;
    if (names == NULL || nn == NULL) {
      free(names);
      free(nn);
      r = HOTSSL_ENOMEM;
      goto out;
    }
    for (i = 0; i < c.h->n; i++) {
      names[i] = c.h->v[i].names;
      nn[i] = c.h->v[i].n_names;
    }
    r = name_index(names, nn, c.h->n, &ix, &count);
    for (i = 0; r == 0 && i + 1 < count; i++) {
      if (strcmp(ix[i].name, ix[i + 1].name) == 0) {
        unsigned l1 = c.h->v[ix[i].host].line, l2 = c.h->v[ix[i + 1].host].line;
        hotssl__fmt(errbuf, errlen, "server name \"%s\" is listed twice (lines %u and %u) in hosts file \"%s\" line %u",
                    ix[i].name, l1, l2, c.h->path, l2);
        r = HOTSSL_ECONFIG;
      }
    }
    free(ix);
    free(names);
    free(nn);
    if (r != 0)
      goto out;
  }
  for (i = 0; i < c.h->n; i++)
    digest_add(&c.fp, c.h->v[i].in.fingerprint, 32);
  if (c.fp.nomem) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  hotssl__sha256(c.fp.v, 32 * c.fp.n, c.h->fp);
  *out = c.h;
  c.h = NULL;
  r = 0;
out:
  free(c.fp.v);
  hotssl__blob_free(&b);
  free(c.dir);
  hotssl__hosts_in_free(c.h);
  return r;
}

/* ---- builder ---- */

void hotssl__hosts_free(struct hotssl__hosts *h) {
  size_t i;
  if (h == NULL)
    return;
  for (i = 0; i < h->n; i++) {
    free_names(h->v[i].names, h->v[i].n_names);
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

/* The previous generation's entry (or the generation itself) whose parsed
 * key, else certificate, has the same bytes: it lends its objects. The
 * entry at the same index (at) is looked at first: an unchanged hosts file
 * then costs one comparison per entry, not a scan of every entry. */
static const hotssl_generation *lender(const hotssl_generation *prev, const hotssl__inputs *in,
                                       size_t at) {
  const struct hotssl__hosts *ph;
  size_t i;
  int pass;
  if (prev == NULL)
    return NULL;
  ph = prev->hosts;
  if (ph != NULL && at < ph->n && memcmp(ph->v[at].g->key->fp, in->fp_key, 32) == 0)
    return ph->v[at].g;
  for (pass = 0; pass < 2; pass++) {
    const unsigned char *want = pass == 0 ? in->fp_key : in->fp_cert;
    for (i = 0; ph != NULL && i < ph->n; i++) {
      const hotssl_generation *g = ph->v[i].g;
      if (memcmp((pass == 0 ? g->key : g->cert)->fp, want, 32) == 0)
        return g;
    }
    if (prev->cert != NULL && memcmp((pass == 0 ? prev->key : prev->cert)->fp, want, 32) == 0)
      return prev;
  }
  return prev;
}

static int name_cmp(const unsigned char *name, size_t len, const hotssl__host_name *x) {
  size_t i, n = len < x->len ? len : x->len;
  for (i = 0; i < n; i++) {
    int a = lower(name[i]), b = (unsigned char)x->name[i];
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
    hi->v[i].in.spawn_lock = in->spawn_lock; /* the manager's, for passphrase commands */
  if (top_entry < 0 && in->s.cert_file == NULL) {
    /* Nothing serves a connection without a server name: handshake_failure. */
    top_entry = 0;
    hi->v[0].in.no_own_cert = 1;
  }
  if (top_entry >= 0) {
    top_in = &hi->v[top_entry].in;
    top_prev = lender(prev, top_in, (size_t)top_entry);
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
    hotssl__host_in *e = &hi->v[i];
    const hotssl_generation *lend = (long)i == top_entry ? top : lender(prev, &e->in, i);
    r = build_one(&h->v[i].g, &e->in, lend, is_reload, number, log, sub, sizeof sub);
    if (r != 0) {
      hotssl__fmt(errbuf, errlen, "%s (hosts file \"%s\" line %u)", sub, hi->path, e->line);
      goto fail;
    }
    if ((h->v[i].cert_file = hotssl__strdup(e->in.s.cert_file)) == NULL ||
        (h->v[i].key_file = hotssl__strdup(e->in.s.key_file)) == NULL ||
        (e->in.s.ca_file != NULL && (h->v[i].ca_file = hotssl__strdup(e->in.s.ca_file)) == NULL)) {
      r = HOTSSL_ENOMEM;
      goto fail;
    }
    h->v[i].line = e->line;
    h->v[i].is_default = e->is_default;
    h->v[i].is_no_sni = e->is_no_sni;
    h->v[i].names = e->names;
    h->v[i].n_names = e->n_names;
    e->names = NULL;
    e->n_names = 0;
    if (e->is_default)
      h->idx_default = (long)i;
  }
  {
    char ***names = calloc(h->n, sizeof *names);
    size_t *nn = calloc(h->n, sizeof *nn);
    r = HOTSSL_ENOMEM;
    if (names != NULL && nn != NULL) {
      for (i = 0; i < h->n; i++) {
        names[i] = h->v[i].names;
        nn[i] = h->v[i].n_names;
      }
      r = name_index(names, nn, h->n, &h->ix, &h->n_ix);
    }
    free(names);
    free(nn);
    if (r != 0)
      goto fail;
  }
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

/* ---- what the watcher watches ---- */

typedef struct watch_ctx {
  const char *dir;
  int (*add)(void *ctx, char *path);
  void *ctx;
} watch_ctx;

static int watch_add(watch_ctx *w, const char *rel) {
  char *p = hotssl__path_join(w->dir, rel), *abs;
  if (p == NULL)
    return HOTSSL_ENOMEM;
  abs = hotssl__path_absolute(p);
  free(p);
  return w->add(w->ctx, abs);
}

static int watch_line(void *vctx, char *line, unsigned lineno) {
  watch_ctx *w = vctx;
  line_fields lf;
  const char *why;
  size_t i;
  int k, r = split_line(line, &lf, &why);
  (void)lineno;
  if (r != 0) {
    /* A line that does not parse names nothing to watch. */
    fields_free(&lf);
    return r == -2 ? HOTSSL_ENOMEM : 0;
  }
  for (i = 0; r == 0 && i < lf.n_names; i++)
    if (!lf.names[i].quoted && lf.names[i].s[0] == '@')
      r = watch_add(w, lf.names[i].s + 1);
  for (k = 1; r == 0 && k < lf.nf && k <= 3; k++)
    if (lf.f[k][0] != '\0')
      r = watch_add(w, lf.f[k]);
  fields_free(&lf);
  return r;
}

int hotssl__hosts_watch_paths(const hotssl_config *cfg, int (*add)(void *ctx, char *path),
                              void *ctx) {
  const char *v = hotssl__config_value(cfg, HOTSSL__S_SSL_HOSTS_FILE);
  char *joined, *path, *dir;
  hotssl__blob b;
  char sub[HOTSSL__ERRLEN];
  watch_ctx w;
  int r;
  if (hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SSL_SNI)) != 1 || v[0] == '\0')
    return 0;
  if ((joined = hotssl__path_join(cfg->base_dir, v)) == NULL)
    return HOTSSL_ENOMEM;
  path = hotssl__path_absolute(joined);
  free(joined);
  if (path == NULL || (dir = hotssl__dir_of(path)) == NULL) {
    free(path);
    return HOTSSL_ENOMEM;
  }
  /* Unreadable or missing: only the file itself is watched. */
  if (hotssl__file_read(path, HOTSSL__READ_MISSING_OK, 1u << 24, NULL, &b, sub, sizeof sub) != 0)
    memset(&b, 0, sizeof b);
  if ((r = add(ctx, path)) != 0 || b.data == NULL) {
    hotssl__blob_free(&b);
    free(dir);
    return r;
  }
  w.dir = dir;
  w.add = add;
  w.ctx = ctx;
  r = each_line(&b, watch_line, &w);
  hotssl__blob_free(&b);
  free(dir);
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
