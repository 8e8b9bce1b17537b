/*
 * The configuration model: settings by PostgreSQL's names, the
 * postgresql.conf-style file parser, and the check that turns settings into
 * values the builder uses (paths resolved, cipher names to ids, protocol
 * names to versions). Invalid or contradictory values are errors here, so
 * they are reported at start and at reload like any bad file.
 *
 * Thread rules: a hotssl_config is a plain value; the caller serializes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "../os/os.h"
#include "config.h"
#include "tls_settings.h"
#include "util.h"

static const char *const setting_names[HOTSSL__S_COUNT] = {
#define HOTSSL__SET_NAME(id, name, def) name,
    HOTSSL__SETTINGS(HOTSSL__SET_NAME)
#undef HOTSSL__SET_NAME
};

static const char *const setting_defaults[HOTSSL__S_COUNT] = {
#define HOTSSL__SET_DEF(id, name, def) def,
    HOTSSL__SETTINGS(HOTSSL__SET_DEF)
#undef HOTSSL__SET_DEF
};

static int setting_id(const char *name) {
  int i;
  for (i = 0; i < HOTSSL__S_COUNT; i++)
    if (strcmp(setting_names[i], name) == 0)
      return i;
  return -1;
}

int hotssl_config_create(hotssl_config **out) {
  hotssl_config *c;
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  /* A config reads files (hotssl_config_load_file): it holds the runtime. */
  if (hotssl__runtime_acquire() != 0)
    return HOTSSL_ESYS;
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    hotssl__runtime_release();
    return HOTSSL_ENOMEM;
  }
  *out = c;
  return 0;
}

void hotssl_config_destroy(hotssl_config *cfg) {
  int i;
  if (cfg == NULL)
    return;
  for (i = 0; i < HOTSSL__S_COUNT; i++)
    hotssl__secret_free(cfg->value[i]); /* passphrase_command may hold a secret */
  free(cfg->base_dir);
  free(cfg->source_file);
  for (i = 0; i < (int)cfg->n_included; i++)
    free(cfg->included[i]);
  free(cfg->included);
  free(cfg);
  hotssl__runtime_release();
}

int hotssl__parse_bool(const char *s) {
  static const char *const yes[] = {"on", "true", "yes", "1"};
  static const char *const no[] = {"off", "false", "no", "0"};
  size_t i;
  for (i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0)
      return 1;
    if (strcasecmp(s, no[i]) == 0)
      return 0;
  }
  return -1;
}

int hotssl__parse_uint(const char *s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (*s == '\0')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    if (v > (max - (uint64_t)(*s - '0')) / 10)
      return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

/* Value checks that need no files: done at set time for early errors. */
int hotssl__crl_stale_value(const char *v) {
  static const char *const names[] = {"refuse", "warn", "ignore"};
  int i;
  for (i = 0; i < 3; i++)
    if (strcmp(v, names[i]) == 0)
      return i;
  return -1;
}

static int check_value(int id, const char *v, char *errbuf, size_t errlen) {
  uint64_t n;
  switch (id) {
  case HOTSSL__S_SSL:
  case HOTSSL__S_SSL_PASS_RELOAD:
  case HOTSSL__S_REFUSE_EXPIRED:
  case HOTSSL__S_SSL_SNI:
  case HOTSSL__S_SSL_PREFER_SERVER_CIPHERS:
  case HOTSSL__S_SESSION_TICKETS:
  case HOTSSL__S_WATCH:
    if (hotssl__parse_bool(v) < 0)
      goto bad;
    return 0;
  case HOTSSL__S_MAX_FILE_SIZE:
    if (hotssl__parse_uint(v, (uint64_t)1 << 40, &n) < 0 || n == 0)
      goto bad;
    return 0;
  case HOTSSL__S_PASS_TIMEOUT_MS:
    if (hotssl__parse_uint(v, 3600000, &n) < 0)
      goto bad;
    return 0;
  case HOTSSL__S_DEBOUNCE_MS:
  case HOTSSL__S_RETRY_WINDOW_MS:
    if (hotssl__parse_uint(v, 600000, &n) < 0)
      goto bad;
    return 0;
  case HOTSSL__S_POLL_INTERVAL_MS:
    if (hotssl__parse_uint(v, 3600000, &n) < 0 || n < 10)
      goto bad;
    return 0;
  case HOTSSL__S_EXPIRY_WARNING_DAYS:
    if (hotssl__parse_uint(v, 3650, &n) < 0)
      goto bad;
    return 0;
  case HOTSSL__S_CRL_STALE:
    if (hotssl__crl_stale_value(v) < 0)
      goto bad;
    return 0;
  case HOTSSL__S_TICKET_LIFETIME: /* RFC 8446: at most 7 days */
    if (hotssl__parse_uint(v, 604800, &n) < 0 || n == 0)
      goto bad;
    return 0;
  case HOTSSL__S_SSL_CLIENT_CERT:
    if (strcmp(v, "") != 0 && strcmp(v, "off") != 0 &&
        strcmp(v, "optional") != 0 && strcmp(v, "require") != 0)
      goto bad;
    return 0;
  default:
    return 0;
  }
bad:
  hotssl__fmt(errbuf, errlen, "invalid value for parameter \"%s\": \"%s\"",
              setting_names[id], v);
  return HOTSSL_ECONFIG;
}

int hotssl_config_set(hotssl_config *cfg, const char *name, const char *value,
                      char *errbuf, size_t errlen) {
  int id, r;
  char *copy = NULL;
  if (cfg == NULL || name == NULL)
    return HOTSSL_EINVAL;
  id = setting_id(name);
  if (id < 0) {
    hotssl__fmt(errbuf, errlen, "unrecognized configuration parameter \"%s\"",
                name);
    return HOTSSL_ECONFIG;
  }
  if (value != NULL) {
    if ((r = check_value(id, value, errbuf, errlen)) != 0)
      return r;
    if ((copy = hotssl__strdup(value)) == NULL) {
      hotssl__fmt(errbuf, errlen, "out of memory");
      return HOTSSL_ENOMEM;
    }
  }
  hotssl__secret_free(cfg->value[id]);
  cfg->value[id] = copy;
  return 0;
}

const char *hotssl__config_value(const hotssl_config *cfg, int id) {
  return cfg->value[id] != NULL ? cfg->value[id] : setting_defaults[id];
}

const char *hotssl_config_get(const hotssl_config *cfg, const char *name) {
  int id;
  if (cfg == NULL || name == NULL || (id = setting_id(name)) < 0)
    return NULL;
  return hotssl__config_value(cfg, id);
}

int hotssl_config_set_base_dir(hotssl_config *cfg, const char *dir) {
  char *d;
  if (cfg == NULL)
    return HOTSSL_EINVAL;
  d = hotssl__strdup(dir);
  if (dir != NULL && d == NULL)
    return HOTSSL_ENOMEM;
  free(cfg->base_dir);
  cfg->base_dir = d;
  return 0;
}

int hotssl__config_copy(hotssl_config **out, const hotssl_config *src) {
  hotssl_config *c;
  int i;
  if (hotssl_config_create(&c) != 0)
    return HOTSSL_ENOMEM;
  for (i = 0; i < HOTSSL__S_COUNT; i++) {
    if (src->value[i] != NULL && (c->value[i] = hotssl__strdup(src->value[i])) == NULL)
      goto nomem;
  }
  if (src->base_dir && (c->base_dir = hotssl__strdup(src->base_dir)) == NULL)
    goto nomem;
  if (src->source_file && (c->source_file = hotssl__strdup(src->source_file)) == NULL)
    goto nomem;
  c->load_flags = src->load_flags;
  c->keep_crl_walk = src->keep_crl_walk;
  if (src->n_included > 0) {
    size_t k;
    if ((c->included = calloc(src->n_included, sizeof *c->included)) == NULL)
      goto nomem;
    for (k = 0; k < src->n_included; k++, c->n_included++)
      if ((c->included[k] = hotssl__strdup(src->included[k])) == NULL)
        goto nomem;
  }
  *out = c;
  return 0;
nomem:
  hotssl_config_destroy(c);
  return HOTSSL_ENOMEM;
}

/* ---- postgresql.conf syntax ---- */

#define MAX_INCLUDE_DEPTH 10 /* as PostgreSQL's CONF_FILE_MAX_DEPTH */

typedef struct loadctx {
  hotssl_config *cfg;
  unsigned flags;
  int depth;
} loadctx;

static int load_one(loadctx *lc, const char *abs, char *errbuf, size_t errlen);
static int include_entry(loadctx *lc, const char *directive, const char *val, const char *file,
                         unsigned lineno, char *errbuf, size_t errlen);

/* Parse one line. Returns 0 (maybe nothing found), or ECONFIG. */
static int parse_line(loadctx *lc, char *line, const char *file,
                      unsigned lineno, char *errbuf, size_t errlen) {
  hotssl_config *cfg = lc->cfg;
  char *p = line, *name, *val, *w;
  char saved;
  int r;
  char sub[HOTSSL__ERRLEN];

  while (isspace((unsigned char)*p))
    p++;
  if (*p == '\0' || *p == '#')
    return 0;
  name = p;
  if (!(isalpha((unsigned char)*p) || *p == '_'))
    goto syntax;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
    p++;
  saved = *p;
  *p = '\0';
  if (saved != '\0')
    p++;
  if (!(saved == '\0' || isspace((unsigned char)saved) || saved == '='))
    goto syntax;
  if (saved != '=') {
    while (isspace((unsigned char)*p))
      p++;
    if (*p == '=')
      p++;
  }
  while (isspace((unsigned char)*p))
    p++;
  if (*p == '\'') {
    /* Quoted: '' or \' is a quote, backslash escapes the next character. */
    val = w = ++p;
    for (;;) {
      if (*p == '\0')
        goto syntax; /* unterminated */
      if (*p == '\'' && p[1] == '\'') {
        *w++ = '\'';
        p += 2;
      } else if (*p == '\'') {
        p++;
        break;
      } else if (*p == '\\' && p[1] != '\0') {
        *w++ = p[1];
        p += 2;
      } else {
        *w++ = *p++;
      }
    }
    *w = '\0';
  } else {
    val = p;
    while (*p != '\0' && !isspace((unsigned char)*p) && *p != '#')
      p++;
    if (p == val)
      goto syntax;
    saved = *p;
    *p = '\0';
    if (saved == '#')
      goto set; /* the rest of the line is a comment */
    if (saved != '\0')
      p++;
  }
  while (isspace((unsigned char)*p))
    p++;
  if (*p != '\0' && *p != '#')
    goto syntax;
set:
  if (strcmp(name, "include") == 0 || strcmp(name, "include_if_exists") == 0 ||
      strcmp(name, "include_dir") == 0)
    return include_entry(lc, name, val, file, lineno, errbuf, errlen);
  if ((lc->flags & HOTSSL_LOAD_IGNORE_NON_SSL) && strncmp(name, "ssl", 3) != 0 &&
      strncmp(name, "hotssl_", 7) != 0)
    return 0; /* another part of postgresql.conf */
  r = hotssl_config_set(cfg, name, val, sub, sizeof sub);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "%s in file \"%s\" line %u", sub, file, lineno);
    return r == HOTSSL_ENOMEM ? r : HOTSSL_ECONFIG;
  }
  return 0;
syntax:
  hotssl__fmt(errbuf, errlen, "syntax error in file \"%s\" line %u", file, lineno);
  return HOTSSL_ECONFIG;
}

static int add_included(hotssl_config *cfg, const char *abs) {
  char **v;
  size_t i;
  for (i = 0; i < cfg->n_included; i++)
    if (strcmp(cfg->included[i], abs) == 0)
      return 0;
  if ((v = realloc(cfg->included, (cfg->n_included + 1) * sizeof *v)) == NULL)
    return HOTSSL_ENOMEM;
  cfg->included = v;
  if ((v[cfg->n_included] = hotssl__strdup(abs)) == NULL)
    return HOTSSL_ENOMEM;
  cfg->n_included++;
  return 0;
}

/* include / include_if_exists / include_dir, relative to the including file. */
static int include_entry(loadctx *lc, const char *directive, const char *val, const char *file,
                         unsigned lineno, char *errbuf, size_t errlen) {
  char *dir = hotssl__dir_of(file), *target, *abs;
  int r = 0;
  if (dir == NULL)
    return HOTSSL_ENOMEM;
  target = hotssl__path_join(dir, val);
  free(dir);
  if (target == NULL)
    return HOTSSL_ENOMEM;
  abs = hotssl__path_absolute(target);
  free(target);
  if (abs == NULL)
    return HOTSSL_ENOMEM;
  if (val[0] == '\0') {
    hotssl__fmt(errbuf, errlen, "empty file name in \"%s\" in file \"%s\" line %u", directive,
                file, lineno);
    r = HOTSSL_ECONFIG;
  } else if (lc->depth + 1 > MAX_INCLUDE_DEPTH) {
    hotssl__fmt(errbuf, errlen,
                "could not open configuration file \"%s\": maximum nesting depth exceeded", abs);
    r = HOTSSL_ECONFIG;
  } else if ((r = add_included(lc->cfg, abs)) != 0) {
    /* out of memory */
  } else if (strcmp(directive, "include_dir") == 0) {
    char **names = NULL;
    size_t n = 0, i;
    char sub[HOTSSL__ERRLEN];
    r = hotssl__conf_dir_list(abs, &names, &n, sub, sizeof sub); /* sorted by name */
    if (r != 0) {
      hotssl__fmt(errbuf, errlen, "could not open configuration directory \"%s\": %s", abs, sub);
    } else {
      for (i = 0; i < n; i++) {
        if (r == 0) {
          char *f = hotssl__path_join(abs, names[i]);
          if (f == NULL)
            r = HOTSSL_ENOMEM;
          else {
            lc->depth++;
            r = load_one(lc, f, errbuf, errlen);
            lc->depth--;
            free(f);
          }
        }
        free(names[i]);
      }
      free(names);
    }
  } else if (strcmp(directive, "include_if_exists") == 0 && hotssl__path_missing(abs)) {
    r = 0; /* PostgreSQL: "skipping missing configuration file" (still watched) */
  } else {
    lc->depth++;
    r = load_one(lc, abs, errbuf, errlen);
    lc->depth--;
  }
  free(abs);
  return r;
}

/* Parse one file (absolute path) into lc->cfg. */
static int load_one(loadctx *lc, const char *abs, char *errbuf, size_t errlen) {
  hotssl__blob b = {0};
  char *line, *next;
  unsigned lineno = 0;
  int r;
  char sub[HOTSSL__ERRLEN];

  r = hotssl__file_read(abs, 0, 1024 * 1024, NULL, &b, sub, sizeof sub);
  if (r != 0) {
    hotssl__fmt(errbuf, errlen, "could not open configuration file \"%s\": %s", abs, sub);
    return r;
  }
  if (memchr(b.data, '\0', b.len) != NULL) {
    hotssl__fmt(errbuf, errlen, "configuration file \"%s\" contains a NUL byte", abs);
    r = HOTSSL_ECONFIG;
    goto out;
  }
  for (line = (char *)b.data; line != NULL; line = next) {
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    if (next == NULL && *line == '\0')
      break;
    lineno++;
    {
      size_t l = strlen(line);
      if (l > 0 && line[l - 1] == '\r')
        line[l - 1] = '\0';
    }
    if ((r = parse_line(lc, line, abs, lineno, errbuf, errlen)) != 0)
      goto out;
  }
  r = 0;
out:
  hotssl__blob_free(&b);
  return r;
}

int hotssl_config_load_file_ex(hotssl_config *cfg, const char *path, unsigned flags,
                               char *errbuf, size_t errlen) {
  loadctx lc;
  char *abs, *dir;
  int r;

  if (cfg == NULL || path == NULL || (flags & ~HOTSSL_LOAD_IGNORE_NON_SSL) != 0)
    return HOTSSL_EINVAL;
  /* Every failure below names its cause; the allocation failures that
   * return HOTSSL_ENOMEM without a message leave this one (never stale or
   * uninitialized bytes: tests/faults/test_os_faults). */
  hotssl__fmt(errbuf, errlen, "could not load configuration file \"%s\": out of memory", path);
  if ((abs = hotssl__path_absolute(path)) == NULL)
    return HOTSSL_ENOMEM;
  lc.cfg = cfg;
  lc.flags = flags;
  lc.depth = 0;
  if ((r = load_one(&lc, abs, errbuf, errlen)) != 0) {
    free(abs);
    return r;
  }
  if ((dir = hotssl__dir_of(abs)) == NULL) {
    free(abs);
    return HOTSSL_ENOMEM;
  }
  free(cfg->base_dir);
  cfg->base_dir = dir;
  free(cfg->source_file);
  cfg->source_file = abs;
  cfg->load_flags = flags;
  return 0;
}

int hotssl_config_load_file(hotssl_config *cfg, const char *path, char *errbuf,
                            size_t errlen) {
  return hotssl_config_load_file_ex(cfg, path, 0, errbuf, errlen);
}

int hotssl__config_reread(const hotssl_config *cfg, hotssl_config **out,
                          char *errbuf, size_t errlen) {
  hotssl_config *c;
  int r;
  *out = NULL;
  if (cfg->source_file == NULL)
    return hotssl__config_copy(out, cfg);
  if ((r = hotssl_config_create(&c)) != 0)
    return r;
  if ((r = hotssl_config_load_file_ex(c, cfg->source_file, cfg->load_flags, errbuf, errlen)) != 0) {
    hotssl_config_destroy(c);
    return r;
  }
  c->keep_crl_walk = cfg->keep_crl_walk;
  *out = c;
  return 0;
}

void hotssl__config_keep_crl_walk(hotssl_config *cfg) {
  cfg->keep_crl_walk = 1;
}

/* ---- settings check ---- */

static int parse_protocol(const char *name, const char *v, int allow_empty,
                          int *minor, char *errbuf, size_t errlen) {
  static const struct {
    const char *name;
    int minor;
    int supported;
  } protos[] = {
      {"TLSv1", 1, 0}, /* not built into mbedTLS 2.28 as Debian ships it */
#if defined(MBEDTLS_SSL_PROTO_TLS1_1)
      {"TLSv1.1", 2, 1},
#else
      {"TLSv1.1", 2, 0},
#endif
      {"TLSv1.2", 3, 1},
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
      {"TLSv1.3", 4, 1},
#else
      {"TLSv1.3", 4, 0},
#endif
  };
  size_t i;
  if (v[0] == '\0' && allow_empty) {
    *minor = -1;
    return 0;
  }
  for (i = 0; i < sizeof protos / sizeof protos[0]; i++) {
    if (strcasecmp(v, protos[i].name) == 0) {
      if (!protos[i].supported) {
        hotssl__fmt(errbuf, errlen,
                    "invalid value for parameter \"%s\": \"%s\" is not supported by this mbedTLS build (mbedTLS %s%s)",
                    name, v, MBEDTLS_VERSION_STRING,
                    protos[i].minor == 4 ? " has no TLS 1.3: build hotssl against mbedTLS 3.6" : "");
        return HOTSSL_EPROTOCOL;
      }
      *minor = protos[i].minor;
      return 0;
    }
  }
  hotssl__fmt(errbuf, errlen,
              "invalid value for parameter \"%s\": \"%s\" (expected TLSv1.2 or TLSv1.3%s)",
              name, v, allow_empty ? " or ''" : "");
  return HOTSSL_EPROTOCOL;
}

/* ssl_ciphers: mbedTLS suite names (or IANA names with '_'), separated by
 * ':', ',' or spaces. PostgreSQL's default string and "DEFAULT" mean the
 * mbedTLS defaults; OpenSSL cipher-string syntax is otherwise not accepted. */
static int parse_ciphers(const char *v, int **out, char *errbuf, size_t errlen) {
  size_t n = 0, cap = 8, i, len;
  int *ids;
  const char *p = v, *end;
  char name[128];

  *out = NULL;
  if (v[0] == '\0' || strcmp(v, "DEFAULT") == 0 ||
      strcmp(v, "HIGH:MEDIUM:+3DES:!aNULL") == 0)
    return 0;
  ids = malloc(cap * sizeof *ids);
  if (ids == NULL)
    return HOTSSL_ENOMEM;
  for (;;) {
    while (*p == ':' || *p == ',' || *p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      break;
    end = p;
    while (*end != '\0' && *end != ':' && *end != ',' && *end != ' ' && *end != '\t')
      end++;
    len = (size_t)(end - p);
    if (len >= sizeof name) {
      hotssl__fmt(errbuf, errlen, "invalid value for parameter \"ssl_ciphers\": cipher name too long");
      free(ids);
      return HOTSSL_ECIPHER;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    for (i = 0; i < len; i++)
      if (name[i] == '_')
        name[i] = '-';
    {
      int id = mbedtls_ssl_get_ciphersuite_id(name);
      if (id == 0) {
        memcpy(name, p, len);
        hotssl__fmt(errbuf, errlen,
                    "invalid value for parameter \"ssl_ciphers\": unknown cipher suite \"%.*s\"",
                    (int)len, p);
        free(ids);
        return HOTSSL_ECIPHER;
      }
      if (n + 2 > cap) {
        int *bigger = realloc(ids, 2 * cap * sizeof *ids);
        if (bigger == NULL) {
          free(ids);
          return HOTSSL_ENOMEM;
        }
        ids = bigger;
        cap *= 2;
      }
      ids[n++] = id;
    }
    p = end;
  }
  if (n == 0) {
    free(ids);
    hotssl__fmt(errbuf, errlen, "invalid value for parameter \"ssl_ciphers\": empty list");
    return HOTSSL_ECIPHER;
  }
  ids[n] = 0;
  *out = ids;
  return 0;
}

static int resolve(char **dst, const hotssl_config *cfg, int id) {
  const char *v = hotssl__config_value(cfg, id);
  *dst = NULL;
  if (v[0] == '\0')
    return 0;
  *dst = hotssl__path_join(cfg->base_dir, v);
  return *dst == NULL ? HOTSSL_ENOMEM : 0;
}

void hotssl__settings_free(hotssl__settings *s) {
  if (s == NULL)
    return;
  free(s->cert_file);
  free(s->key_file);
  free(s->ca_file);
  free(s->crl_file);
  free(s->crl_dir);
  free(s->dh_file);
  free(s->hosts_file);
  hotssl__secret_free(s->passphrase_command);
  free(s->ciphersuites);
  free(s->groups);
  free(s->ticket_key_file);
  free(s->canonical);
  memset(s, 0, sizeof *s);
}

/* ssl = on, the files (absolute), ssl_sni's hosts file, the passphrase
 * command. */
static int settings_files(hotssl__settings *s, const hotssl_config *cfg, char *errbuf,
                          size_t errlen) {
  int r;
  if (hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SSL)) == 0) {
    hotssl__fmt(errbuf, errlen, "TLS is off (ssl = off): no TLS configuration to load");
    return HOTSSL_ENOTLS;
  }
  if ((r = resolve(&s->cert_file, cfg, HOTSSL__S_SSL_CERT_FILE)) != 0 ||
      (r = resolve(&s->key_file, cfg, HOTSSL__S_SSL_KEY_FILE)) != 0 ||
      (r = resolve(&s->ca_file, cfg, HOTSSL__S_SSL_CA_FILE)) != 0 ||
      (r = resolve(&s->crl_file, cfg, HOTSSL__S_SSL_CRL_FILE)) != 0 ||
      (r = resolve(&s->crl_dir, cfg, HOTSSL__S_SSL_CRL_DIR)) != 0 ||
      (r = resolve(&s->dh_file, cfg, HOTSSL__S_SSL_DH_PARAMS_FILE)) != 0 ||
      (r = resolve(&s->ticket_key_file, cfg, HOTSSL__S_TICKET_KEY_FILE)) != 0)
    return r;
  s->prefer_server_ciphers =
      hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SSL_PREFER_SERVER_CIPHERS)) == 1;
  /* With ssl_sni on, the configuration file may name no certificate at all
   * (the hosts file does): core/hosts.c. */
  s->sni = hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SSL_SNI)) == 1;
  if (s->sni && (r = resolve(&s->hosts_file, cfg, HOTSSL__S_SSL_HOSTS_FILE)) != 0)
    return r;
  if (s->sni && s->hosts_file == NULL) {
    hotssl__fmt(errbuf, errlen, "ssl_sni is on but ssl_hosts_file is empty");
    return HOTSSL_ECONFIG;
  }
  if ((s->cert_file == NULL || s->key_file == NULL) &&
      !(s->sni && s->cert_file == NULL && s->key_file == NULL)) {
    hotssl__fmt(errbuf, errlen, "ssl_cert_file and ssl_key_file must be set");
    return HOTSSL_ECONFIG;
  }
  if (hotssl__config_value(cfg, HOTSSL__S_SSL_PASS_CMD)[0] != '\0' &&
      (s->passphrase_command = hotssl__strdup(hotssl__config_value(cfg, HOTSSL__S_SSL_PASS_CMD))) == NULL)
    return HOTSSL_ENOMEM;
  return 0;
}

/* The numeric and boolean settings (already checked by check_value). */
static void settings_numbers(hotssl__settings *s, const hotssl_config *cfg) {
  s->passphrase_supports_reload = hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SSL_PASS_RELOAD));
  {
    uint64_t t = 0;
    hotssl__parse_uint(hotssl__config_value(cfg, HOTSSL__S_PASS_TIMEOUT_MS), 3600000, &t);
    s->passphrase_timeout_ms = (unsigned)t;
  }
  s->refuse_expired = hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_REFUSE_EXPIRED));
  {
    uint64_t d = 0;
    hotssl__parse_uint(hotssl__config_value(cfg, HOTSSL__S_EXPIRY_WARNING_DAYS), 3650, &d);
    s->expiry_warning_days = (unsigned)d;
  }
  hotssl__parse_uint(hotssl__config_value(cfg, HOTSSL__S_MAX_FILE_SIZE), (uint64_t)1 << 40, &s->max_file_size);
  s->crl_stale = hotssl__crl_stale_value(hotssl__config_value(cfg, HOTSSL__S_CRL_STALE));
  s->tickets = hotssl__parse_bool(hotssl__config_value(cfg, HOTSSL__S_SESSION_TICKETS)) == 1;
  {
    uint64_t t = 7200;
    hotssl__parse_uint(hotssl__config_value(cfg, HOTSSL__S_TICKET_LIFETIME), 604800, &t);
    s->ticket_lifetime = (uint32_t)t;
  }

}

/* Cipher suites, groups and protocol versions. */
static int settings_tls(hotssl__settings *s, const hotssl_config *cfg, char *errbuf,
                        size_t errlen) {
  int r;
  if ((r = parse_ciphers(hotssl__config_value(cfg, HOTSSL__S_SSL_CIPHERS), &s->ciphersuites, errbuf, errlen)) != 0)
    return r;
  {
    int *tls13 = NULL;
    if ((r = hotssl__parse_tls13_ciphers(hotssl__config_value(cfg, HOTSSL__S_SSL_TLS13_CIPHERS), &tls13, errbuf, errlen)) != 0 ||
        (r = hotssl__merge_ciphersuites(&s->ciphersuites, tls13, errbuf, errlen)) != 0)
      return r;
  }
  {
    /* ssl_ecdh_curve is ssl_groups' older name (PostgreSQL 18 keeps it as
     * an alias): either may be set; both only with the same value. */
    const char *groups = hotssl__config_value(cfg, HOTSSL__S_SSL_GROUPS);
    const char *curve = hotssl__config_value(cfg, HOTSSL__S_SSL_ECDH_CURVE);
    const char *param = "ssl_groups";
    if (curve[0] != '\0') {
      if (cfg->value[HOTSSL__S_SSL_GROUPS] != NULL && strcmp(curve, groups) != 0) {
        hotssl__fmt(errbuf, errlen,
                    "ssl_groups (\"%s\") and its older name ssl_ecdh_curve (\"%s\") are both set, to different values",
                    groups, curve);
        return HOTSSL_ECONFIG;
      }
      groups = curve;
      param = "ssl_ecdh_curve";
    }
    if ((r = hotssl__parse_groups(param, groups, &s->groups, errbuf, errlen)) != 0)
      return r;
  }
  if ((r = parse_protocol("ssl_min_protocol_version", hotssl__config_value(cfg, HOTSSL__S_SSL_MIN_PROTO), 0, &s->min_minor, errbuf, errlen)) != 0 ||
      (r = parse_protocol("ssl_max_protocol_version", hotssl__config_value(cfg, HOTSSL__S_SSL_MAX_PROTO), 1, &s->max_minor, errbuf, errlen)) != 0)
    return r;
  if (s->max_minor < 0) {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    s->max_minor = 4;
#else
    s->max_minor = 3;
#endif
  }
  if (s->min_minor > s->max_minor) {
    hotssl__fmt(errbuf, errlen,
                "could not set SSL protocol version range: \"%s\" cannot be higher than \"%s\"",
                "ssl_min_protocol_version", "ssl_max_protocol_version");
    return HOTSSL_EPROTOCOL;
  }
  return 0;
}

/* ssl_client_cert, and what it and the CRL settings need. */
static int settings_client_cert(hotssl__settings *s, const hotssl_config *cfg, char *errbuf,
                                size_t errlen) {
  const char *cc;
  cc = hotssl__config_value(cfg, HOTSSL__S_SSL_CLIENT_CERT);
  if (cc[0] == '\0')
    s->client_cert = s->ca_file != NULL ? HOTSSL__CLIENT_CERT_OPTIONAL : HOTSSL__CLIENT_CERT_OFF;
  else if (strcmp(cc, "off") == 0)
    s->client_cert = HOTSSL__CLIENT_CERT_OFF;
  else
    s->client_cert = strcmp(cc, "optional") == 0 ? HOTSSL__CLIENT_CERT_OPTIONAL : HOTSSL__CLIENT_CERT_REQUIRE;
  /* ssl_sni: as for a hosts file entry without ca_file (core/hosts.c), the
   * configuration file's own identity without one checks no client
   * certificates; require stays an error. */
  if (s->sni && s->ca_file == NULL && s->client_cert == HOTSSL__CLIENT_CERT_OPTIONAL)
    s->client_cert = HOTSSL__CLIENT_CERT_OFF;
  /* With ssl_sni, whether the configuration's own identity serves anyone is
   * known once the hosts file is read: core/sni.c checks require there. */
  if (s->client_cert != HOTSSL__CLIENT_CERT_OFF && s->ca_file == NULL && !s->sni) {
    hotssl__fmt(errbuf, errlen,
                "ssl_client_cert = %s requires ssl_ca_file to be set", cc);
    return HOTSSL_ECONFIG;
  }
  if (s->sni && s->ca_file == NULL) {
    /* The CRLs are for the hosts' CAs (core/hosts.c derives each entry's
     * settings from the configuration, not from these). */
    free(s->crl_file);
    free(s->crl_dir);
    s->crl_file = s->crl_dir = NULL;
  }
  /* Also checked by the builder; here the error can name the file. */
  if ((s->crl_file != NULL || s->crl_dir != NULL) && s->ca_file == NULL) {
    hotssl__fmt(errbuf, errlen, "ssl_crl_file and ssl_crl_dir require ssl_ca_file to be set");
    return HOTSSL_ECONFIG;
  }
  return 0;
}

/* Canonical text of every setting that shapes a generation. */
static int settings_canonical(hotssl__settings *s, const hotssl_config *cfg) {
  size_t need = 1;
  int i;
  for (i = 0; i < HOTSSL__S_COUNT; i++)
    need += strlen(setting_names[i]) + strlen(hotssl__config_value(cfg, i)) + 3;
  need += (cfg->base_dir ? strlen(cfg->base_dir) : 0) + 16;
  if ((s->canonical = malloc(need)) == NULL)
    return HOTSSL_ENOMEM;
  {
    size_t off = 0;
    for (i = 0; i < HOTSSL__S_COUNT; i++) {
      if (i >= HOTSSL__S_WATCH)
        continue; /* watcher tuning does not change what is served */
      off += (size_t)snprintf(s->canonical + off, need - off, "%s=%s\n",
                              setting_names[i], hotssl__config_value(cfg, i));
    }
    snprintf(s->canonical + off, need - off, "base=%s\n", cfg->base_dir ? cfg->base_dir : "");
  }
  return 0;
}

int hotssl__settings_from_config(hotssl__settings *s, const hotssl_config *cfg,
                                 char *errbuf, size_t errlen) {
  int r, i;
  memset(s, 0, sizeof *s);
  s->keep_crl_walk = cfg->keep_crl_walk;

  for (i = 0; i < HOTSSL__S_COUNT; i++) {
    if ((r = check_value(i, hotssl__config_value(cfg, i), errbuf, errlen)) != 0)
      goto fail;
  }
  if ((r = settings_files(s, cfg, errbuf, errlen)) != 0)
    goto fail;
  settings_numbers(s, cfg);
  if ((r = settings_tls(s, cfg, errbuf, errlen)) != 0 ||
      (r = settings_client_cert(s, cfg, errbuf, errlen)) != 0 ||
      (r = settings_canonical(s, cfg)) != 0)
    goto fail;
  return 0;
fail:
  /* A bad setting is an error in the configuration file: name the file. */
  if (r != HOTSSL_ENOMEM && cfg->source_file != NULL && errbuf != NULL && errlen > 0) {
    size_t l = strnlen(errbuf, errlen);
    if (l + 1 < errlen)
      snprintf(errbuf + l, errlen - l, " in configuration file \"%s\"", cfg->source_file);
  }
  hotssl__settings_free(s);
  return r;
}
