/*
 * The reload audit record: trigger, generations before and after, each
 * identity's serial and fingerprint before and after, the files whose
 * content changed, and on failure the file and the reason.
 *
 * "Changed" is measured against the files of the generation served before
 * the attempt (the manager keeps their paths and hashes), not against the
 * file memos: the served-versus-disk check updates the memos between
 * reloads, and a rotation it saw first must still be reported here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "hosts.h"
#include "util.h"

void hotssl__audit_init(hotssl__audit *a, hotssl_trigger trigger, uint64_t old_generation) {
  memset(a, 0, sizeof *a);
  a->pub.size = sizeof a->pub;
  a->pub.trigger = trigger;
  a->pub.old_generation = old_generation;
  a->pub.new_generation = old_generation;
  a->pub.identity_size = sizeof(hotssl_audit_identity);
}

static int memo_path_cmp(const hotssl__file_memo *x, const hotssl__file_memo *y) {
  return strcmp(x->path, y->path);
}

static int add_changed(hotssl__audit *a, const char *path) {
  char **nv = realloc(a->changed, (a->pub.n_changed_files + 1) * sizeof *nv);
  if (nv == NULL)
    return -1;
  a->changed = nv;
  if ((nv[a->pub.n_changed_files] = hotssl__strdup(path)) == NULL)
    return -1;
  a->pub.n_changed_files++;
  return 0;
}

void hotssl__audit_served_files(hotssl__file_memos *out, const hotssl__inputs *in) {
  size_t n = 1 + (in->hosts != NULL ? in->hosts->n : 0), i;
  const hotssl__inputs **ins = malloc(n * sizeof *ins);
  if (ins == NULL) {
    hotssl__file_memos_free(out);
    return;
  }
  ins[0] = in;
  for (i = 1; i < n; i++)
    ins[i] = &in->hosts->v[i - 1].in;
  hotssl__file_memos_update(out, ins, n); /* sorted by path, one per path */
  free(ins);
}

void hotssl__audit_files(hotssl__audit *a, const hotssl__file_memos *served, const hotssl__inputs *in) {
  size_t i, j;
  hotssl__audit_served_files(&a->files, in);
  a->have_files = 1;
  /* Both lists are sorted by path: one merge. */
  for (i = j = 0; i < a->files.n || j < served->n;) {
    int c = i == a->files.n ? 1 : j == served->n ? -1 : memo_path_cmp(&a->files.v[i], &served->v[j]);
    const char *changed = NULL;
    if (c < 0)
      changed = a->files.v[i++].path; /* appeared */
    else if (c > 0)
      changed = served->v[j++].path; /* vanished */
    else {
      if (memcmp(a->files.v[i].sha256, served->v[j].sha256, 32) != 0)
        changed = a->files.v[i].path;
      i++;
      j++;
    }
    if (changed != NULL && add_changed(a, changed) != 0)
      return;
  }
}

void hotssl__audit_take_files(hotssl__audit *a, hotssl__file_memos *served) {
  if (!a->have_files)
    return;
  hotssl__file_memos_free(served);
  *served = a->files;
  memset(&a->files, 0, sizeof a->files);
  a->have_files = 0;
}

/* The certificates of g by identity name: "served", then each hosts file
 * entry as "host_line_N". */
static size_t identity_count(const hotssl_generation *g) {
  return 1 + (g->hosts != NULL ? g->hosts->n : 0);
}

static const hotssl_stats *identity_at(const hotssl_generation *g, size_t i, char *name, size_t len) {
  if (i == 0) {
    snprintf(name, len, "served");
    return &g->cert_info;
  }
  snprintf(name, len, "host_line_%u", g->hosts->v[i - 1].line);
  return &g->hosts->v[i - 1].g->cert_info;
}

static hotssl__audit_id *find_id(hotssl__audit *a, const char *name) {
  size_t i;
  for (i = 0; i < a->pub.n_identities; i++)
    if (strcmp(a->ids[i].name, name) == 0)
      return &a->ids[i];
  return NULL;
}

/* Add g's identities to a: old (side 0) or new (side 1). */
static void add_side(hotssl__audit *a, const hotssl_generation *g, int side) {
  size_t i;
  for (i = 0; i < identity_count(g); i++) {
    char name[32];
    const hotssl_stats *st = identity_at(g, i, name, sizeof name);
    hotssl__audit_id *id = find_id(a, name);
    if (id == NULL) {
      id = &a->ids[a->pub.n_identities++];
      snprintf(id->name, sizeof id->name, "%s", name);
    }
    snprintf(side ? id->new_serial : id->old_serial, sizeof id->old_serial, "%s", st->serial);
    snprintf(side ? id->new_sha256 : id->old_sha256, sizeof id->old_sha256, "%s", st->sha256);
  }
}

/* The first double-quoted absolute path in reason ("" if none). */
static char *quoted_path(const char *reason) {
  const char *p = reason, *q;
  while ((p = strchr(p, '"')) != NULL && (q = strchr(p + 1, '"')) != NULL) {
    size_t len = (size_t)(q - p - 1);
    char *s = malloc(len + 1);
    if (s == NULL)
      return NULL;
    memcpy(s, p + 1, len);
    s[len] = '\0';
    if (hotssl__path_is_absolute(s))
      return s;
    free(s);
    p = q + 1;
  }
  return hotssl__strdup("");
}

void hotssl__audit_finish(hotssl__audit *a, int result, const hotssl_generation *old,
                          const hotssl_generation *now, const char *reason) {
  size_t cap = identity_count(old) + identity_count(now), i;
  a->pub.result = result;
  a->pub.new_generation = now->number;
  a->reason = hotssl__strdup(result < 0 && reason != NULL ? reason : "");
  a->failed_file = result < 0 && reason != NULL ? quoted_path(reason) : hotssl__strdup("");
  if ((a->ids = calloc(cap, sizeof *a->ids)) == NULL ||
      (a->pub_ids = calloc(cap, sizeof *a->pub_ids)) == NULL)
    return;
  add_side(a, old, 0);
  add_side(a, now, 1);
  for (i = 0; i < a->pub.n_identities; i++) {
    hotssl_audit_identity *p = &a->pub_ids[i];
    p->size = sizeof *p;
    p->name = a->ids[i].name;
    p->old_serial = a->ids[i].old_serial;
    p->new_serial = a->ids[i].new_serial;
    p->old_sha256 = a->ids[i].old_sha256;
    p->new_sha256 = a->ids[i].new_sha256;
  }
  a->pub.identities = a->pub_ids;
  a->pub.changed_files = (const char *const *)a->changed;
  a->pub.failed_file = a->failed_file;
  a->pub.reason = a->reason;
}

const hotssl_reload_audit *hotssl__audit_record(const hotssl__audit *a) {
  if (a->pub_ids == NULL || a->reason == NULL || a->failed_file == NULL)
    return NULL;
  return &a->pub;
}

/* One part of the log line into buf at *off (cut at the end of buf). */
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...) {
  va_list ap;
  int k;
  if (*off + 1 >= len)
    return;
  va_start(ap, fmt);
  k = vsnprintf(buf + *off, len - *off, fmt, ap);
  va_end(ap);
  if (k > 0)
    *off += (size_t)k < len - *off ? (size_t)k : len - *off - 1;
}

int hotssl_reload_audit_line(const hotssl_reload_audit *r, char *line, size_t len) {
  size_t off = 0, i;
  if (r == NULL || line == NULL || len == 0)
    return HOTSSL_EINVAL;
  line[0] = '\0';
  append(line, len, &off, "SSL reload audit: trigger %s; generation %llu -> %llu; result %s",
         hotssl_trigger_name(r->trigger), (unsigned long long)r->old_generation,
         (unsigned long long)r->new_generation,
         r->result == 0                  ? "reloaded"
         : r->result == HOTSSL_UNCHANGED ? "unchanged"
                                         : "failed");
  if (r->result < 0)
    append(line, len, &off, " (file \"%s\": %s)", r->failed_file, r->reason);
  for (i = 0; i < r->n_identities; i++) {
    const hotssl_audit_identity *id = HOTSSL_AUDIT_IDENTITY(r, i);
    append(line, len, &off, "; %s: serial %s -> %s, sha256 %s -> %s", id->name,
           id->old_serial[0] ? id->old_serial : "none", id->new_serial[0] ? id->new_serial : "none",
           id->old_sha256[0] ? id->old_sha256 : "none", id->new_sha256[0] ? id->new_sha256 : "none");
  }
  append(line, len, &off, "; changed files:%s", r->n_changed_files == 0 ? " none" : "");
  for (i = 0; i < r->n_changed_files; i++)
    append(line, len, &off, "%s\"%s\"", i == 0 ? " " : ", ", r->changed_files[i]);
  return off + 1 < len ? 0 : HOTSSL_ENOMEM;
}

void hotssl__audit_free(hotssl__audit *a) {
  size_t i;
  for (i = 0; i < a->pub.n_changed_files; i++)
    free(a->changed[i]);
  free(a->changed);
  free(a->ids);
  free(a->pub_ids);
  free(a->failed_file);
  free(a->reason);
  hotssl__file_memos_free(&a->files);
  memset(a, 0, sizeof *a);
}
