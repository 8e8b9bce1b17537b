/*
 * Internal interface of core/hosts.c: ssl_sni and the hosts file
 * (PostgreSQL's pg_hosts.conf format). The loader turns the file into one
 * hotssl__inputs per entry (each entry's settings are the configuration
 * file's with the entry's files and passphrase command); the builder
 * (core/sni.h) turns those into one sub-generation per entry, owned by the
 * served generation, whose layout is defined here.
 * Never installed.
 */
#ifndef HOTSSL_CORE_HOSTS_H
#define HOTSSL_CORE_HOSTS_H

#include <stddef.h>

#include "config.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

/* One line of the hosts file, loaded. */
typedef struct hotssl__host_in {
  unsigned line;
  int is_default; /* "*" */
  int is_no_sni;  /* "/no_sni/" among the names */
  char **names;   /* lower case, without "*" and "/no_sni/" */
  size_t n_names;
  hotssl__inputs in;
} hotssl__host_in;

struct hotssl__hosts_in {
  char *path; /* absolute path of the hosts file */
  hotssl__host_in *v;
  size_t n;
  unsigned char fp[32]; /* hosts file, @files and every entry's inputs */
};

/* Read the hosts file named by s (s->sni on) and every entry's files, with
 * the start catalogue of errors, each naming the hosts file and line. A
 * missing hosts file is an empty one. *out is NULL on failure. With memos
 * (may be NULL) an entry's unchanged file is not read where the entry's
 * lender in cur (may be NULL; see hotssl__hosts_build) lends its parsed
 * object (hotssl__inputs_load_memo's rule, per entry). */
int hotssl__hosts_load(struct hotssl__hosts_in **out, const hotssl_config *cfg,
                       const hotssl__settings *s, const hotssl__file_memos *memos,
                       const hotssl_generation *cur, char *errbuf, size_t errlen);
void hotssl__hosts_in_free(struct hotssl__hosts_in *h);
/* An entry's configuration: cfg's settings with the entry's files (absolute;
 * ca NULL: none, and then no client certificates and no CRLs) and, when not
 * NULL, its passphrase command and reload flag. Also used by the snapshot
 * decoder. Errors (ssl_client_cert = require without ca) in errbuf. */
int hotssl__host_config(hotssl_config **out, const hotssl_config *cfg, const char *cert,
                        const char *key, const char *ca, const char *cmd, const char *reload,
                        char *errbuf, size_t errlen);

/* One entry of a built generation. */
typedef struct hotssl__host {
  unsigned line;
  int is_default, is_no_sni;
  char **names;
  size_t n_names;
  char *cert_file, *key_file, *ca_file; /* absolute; ca_file may be NULL */
  hotssl_generation *g; /* the entry's own certificate, key, CA set, CRLs */
} hotssl__host;

typedef struct hotssl__host_name {
  const char *name; /* points into a host's names */
  size_t len;
  size_t host;
} hotssl__host_name;

struct hotssl__hosts {
  char *path;
  hotssl__host *v;
  size_t n;
  long idx_default; /* -1: none */
  /* The entry the served generation's own identity was built from (it
   * serves connections without a server name): -1 when that is the
   * configuration file's certificate. */
  long top_entry;
  hotssl__host_name *ix; /* sorted by name, for the SNI callback */
  size_t n_ix;
};

/* The previous generation's entry (or prev itself; prev may be NULL) that
 * lends its parsed objects to in, the inputs of entry at (core/sni.c's
 * builder picks the same one). */
const hotssl_generation *hotssl__hosts_lender(const hotssl_generation *prev, const hotssl__inputs *in,
                                              size_t at);
/* Every name of every entry, sorted by name (for duplicates and for the
 * SNI callback); *out malloc'ed. 0 or HOTSSL_ENOMEM. */
int hotssl__hosts_name_index(char **const *names, const size_t *n_names, size_t n_hosts,
                             hotssl__host_name **out, size_t *count);
void hotssl__hosts_names_free(char **names, size_t n);

/* For the watcher: the hosts file, its @files and every entry's files, as
 * the hosts file on disk names them now (lines that do not parse add
 * nothing). add takes ownership of the malloc'ed path (NULL: out of memory)
 * and returns 0 or a negative code. Nothing when cfg has ssl_sni off. */
int hotssl__hosts_watch_paths(const hotssl_config *cfg, int (*add)(void *ctx, char *path),
                              void *ctx);

#endif
