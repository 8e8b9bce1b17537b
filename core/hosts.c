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
 * names the hosts file and line). The builder is core/sni.c.
 *
 * Called under the manager's build lock (through the loader).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../os/os.h"
#include "config.h"
#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "log.h"
#include "util.h"

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

/* The previous generation's entry (or the generation itself) whose parsed
 * key, else certificate, has the same bytes: it lends its objects. The
 * entry at the same index (at) is looked at first: an unchanged hosts file
 * then costs one comparison per entry, not a scan of every entry. */
const hotssl_generation *hotssl__hosts_lender(const hotssl_generation *prev, const hotssl__inputs *in,
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
  lend = hotssl__hosts_lender(c->cur, in, at);
  memcpy(fp_key, in->fp_key, 32);
  memcpy(fp_cert, in->fp_cert, 32);
  lent = hotssl__generation_lender(lend);
  if ((r = hotssl__inputs_settle(in, &lent, NULL, errbuf, errlen)) == 0 &&
      (memcmp(fp_key, in->fp_key, 32) != 0 || memcmp(fp_cert, in->fp_cert, 32) != 0) &&
      hotssl__hosts_lender(c->cur, in, at) != lend)
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
int hotssl__hosts_name_index(char **const *names, const size_t *n_names, size_t n_hosts,
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

void hotssl__hosts_names_free(char **names, size_t n) {
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
    hotssl__hosts_names_free(h->v[i].names, h->v[i].n_names);
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
    r = hotssl__hosts_name_index(names, nn, c.h->n, &ix, &count);
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
