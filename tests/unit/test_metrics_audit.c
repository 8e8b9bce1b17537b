/*
 * hotssl_manager_metrics and the reload audit record through the API, on
 * PostgreSQL's test certificates: the buffer contract (size query, too
 * small, exact), the metrics' typed items (last reload, last success,
 * served-versus-disk before and after a rotation), and the audit record
 * on_reload_ex receives for a good rotation, a bad one and an unchanged
 * reload (trigger, generations, the identity's serials and fingerprints,
 * the changed files, the failing file and reason), and its one-line form.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

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

/* What the last on_reload_ex saw, copied. */
static struct seen_s {
  int calls, has_audit, result;
  hotssl_trigger trigger;
  uint64_t old_gen, new_gen;
  size_t n_ids, n_changed;
  char name[32], old_serial[80], new_serial[80], old_sha[96], new_sha[96];
  char changed[4][1024];
  char failed_file[1024], reason[1024], line[4096];
  int line_rc, small_rc;
  char small[16];
} seen;

static void on_reload_ex(void *ud, const hotssl_reload_event *ev) {
  const hotssl_reload_audit *a;
  size_t i;
  (void)ud;
  memset(&seen.name, 0, sizeof seen - offsetof(struct seen_s, name));
  seen.calls++;
  seen.has_audit = HOTSSL_HAS_FIELD(ev, hotssl_reload_event, audit) && ev->audit != NULL;
  if (!seen.has_audit)
    return;
  a = ev->audit;
  seen.result = a->result;
  seen.trigger = a->trigger;
  seen.old_gen = a->old_generation;
  seen.new_gen = a->new_generation;
  seen.n_ids = a->n_identities;
  seen.n_changed = a->n_changed_files;
  if (a->n_identities > 0) {
    const hotssl_audit_identity *id = HOTSSL_AUDIT_IDENTITY(a, 0);
    snprintf(seen.name, sizeof seen.name, "%s", id->name);
    snprintf(seen.old_serial, sizeof seen.old_serial, "%s", id->old_serial);
    snprintf(seen.new_serial, sizeof seen.new_serial, "%s", id->new_serial);
    snprintf(seen.old_sha, sizeof seen.old_sha, "%s", id->old_sha256);
    snprintf(seen.new_sha, sizeof seen.new_sha, "%s", id->new_sha256);
  }
  for (i = 0; i < a->n_changed_files && i < 4; i++)
    snprintf(seen.changed[i], sizeof seen.changed[i], "%s", a->changed_files[i]);
  snprintf(seen.failed_file, sizeof seen.failed_file, "%s", a->failed_file);
  snprintf(seen.reason, sizeof seen.reason, "%s", a->reason);
  seen.line_rc = hotssl_reload_audit_line(a, seen.line, sizeof seen.line);
  seen.small_rc = hotssl_reload_audit_line(a, seen.small, sizeof seen.small);
}

static int64_t i64_item(hotssl_manager *m, int item) {
  int64_t v = -7;
  TEQ(hotssl_manager_info(m, item, &v, sizeof v), 0);
  return v;
}

static uint64_t differs(hotssl_manager *m) {
  uint64_t v = 7;
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &v, sizeof v), 0);
  return v;
}

static void check_buffer_contract(hotssl_manager *m) {
  size_t need = 0, need2 = 0;
  char *buf;
  TEQ(hotssl_manager_metrics(NULL, NULL, 0, &need), HOTSSL_EINVAL);
  TEQ(hotssl_manager_metrics(m, NULL, 5, &need), HOTSSL_EINVAL);
  TEQ(hotssl_manager_metrics(m, NULL, 0, &need), HOTSSL_ENOMEM);
  T(need > 100);
  buf = malloc(need);
  memset(buf, 'x', need);
  TEQ(hotssl_manager_metrics(m, buf, need - 1, &need2), HOTSSL_ENOMEM);
  TEQ(buf[0], '\0');
  TEQ(need2, need);
  TEQ(hotssl_manager_metrics(m, buf, need, NULL), 0);
  TEQ(strlen(buf) + 1, need);
  T(strncmp(buf, "# HELP hotssl_generation ", 25) == 0);
  T(strstr(buf, "\nhotssl_generation 1\n") != NULL);
  T(strstr(buf,
           "hotssl_certificate_not_after_timestamp_seconds{identity=\"served\",serial=\"" TU_SERIAL_A
           "\"") != NULL);
  free(buf);
}

/* The metrics text contains needle. */
static int metrics_has(hotssl_manager *m, const char *needle) {
  size_t need = 0;
  char *buf;
  int has;
  hotssl_manager_metrics(m, NULL, 0, &need);
  buf = malloc(need + 4096);
  has = hotssl_manager_metrics(m, buf, need + 4096, NULL) == 0 && strstr(buf, needle) != NULL;
  if (!has)
    fprintf(stderr, "metrics lack \"%s\":\n%s\n", needle, buf);
  free(buf);
  return has;
}

int main(void) {
  char *dir = tu_mkdtemp(), *conf, *a_crt, *a_key, *b_crt, *b_key, *crt, *key, err[512];
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options_ex o = HOTSSL_MANAGER_OPTIONS_EX_INIT;
  hotssl_stats st1, st2;
  int64_t t0;

  /* a.* and b.* are two pairs; server.crt/.key is what the configuration serves. */
  free(tu_two_pairs_manager(dir, NULL, &m));
  hotssl_manager_destroy(m);
  a_crt = tu_path(dir, "a.crt");
  a_key = tu_path(dir, "a.key");
  b_crt = tu_path(dir, "b.crt");
  b_key = tu_path(dir, "b.key");
  crt = tu_path(dir, "server.crt");
  key = tu_path(dir, "server.key");
  tu_copy(a_crt, crt, 0644);
  tu_copy(a_key, key, 0600);
  conf = tu_path(dir, "hotssl.conf");
  tu_write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nhotssl_watch = off\n",
           0644);
  o.base.log = tu_log;
  o.on_reload_ex = on_reload_ex;
  hotssl_config_create(&cfg);
  TEQ(hotssl_config_load_file(cfg, conf, err, sizeof err), 0);
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return tu_finish("metrics_audit", checks);

  check_buffer_contract(m);
  TEQ(i64_item(m, HOTSSL_INFO_LAST_RELOAD_UNIX), 0);
  t0 = i64_item(m, HOTSSL_INFO_LAST_SUCCESS_UNIX);
  T(t0 > 1700000000);
  TEQ(differs(m), 0);
  {
    uint64_t v;
    hotssl_generation *g = hotssl_manager_acquire(m);
    TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &v, 4), HOTSSL_EINVAL);
    TEQ(hotssl_generation_info(g, HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK, &v, sizeof v), HOTSSL_ENOTSUP);
    hotssl_generation_release(g);
  }
  hotssl_manager_stats(m, &st1);

  /* A good rotation: differs until reloaded; the record names both files. */
  tu_copy(b_crt, crt, 0644);
  tu_copy(b_key, key, 0600);
  TEQ(differs(m), 1);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  hotssl_manager_stats(m, &st2);
  TEQ(differs(m), 0);
  TEQ(seen.calls, 1);
  T(seen.has_audit);
  TEQ(seen.result, 0);
  TEQ(seen.trigger, HOTSSL_TRIGGER_API);
  TEQ(seen.old_gen, 1);
  TEQ(seen.new_gen, 2);
  TEQ(seen.n_ids, 1);
  TSTR(seen.name, "served");
  TSTR(seen.old_serial, TU_SERIAL_A);
  TSTR(seen.new_serial, TU_SERIAL_B);
  TSTR(seen.old_sha, st1.sha256);
  TSTR(seen.new_sha, st2.sha256);
  TEQ(seen.n_changed, 2);
  TSTR(seen.changed[0], crt); /* sorted by path */
  TSTR(seen.changed[1], key);
  TSTR(seen.failed_file, "");
  TSTR(seen.reason, "");
  TEQ(seen.line_rc, 0);
  T(strstr(seen.line, "SSL reload audit: trigger API call; generation 1 -> 2; result reloaded; served: "
                      "serial " TU_SERIAL_A " -> " TU_SERIAL_B) == seen.line);
  T(strstr(seen.line, "; changed files: \"") != NULL);
  TEQ(seen.small_rc, HOTSSL_ENOMEM);
  TEQ(strlen(seen.small), sizeof seen.small - 1);
  T(i64_item(m, HOTSSL_INFO_LAST_SUCCESS_UNIX) >= t0);
  T(metrics_has(m, "hotssl_reloads_total{trigger=\"api\",result=\"success\"} 1\n"));

  /* A bad rotation: the last good generation stays; the record names the file. */
  tu_write_atomic(crt, "not a certificate\n", 0644);
  TEQ(differs(m), 1);
  T(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_SIGNAL, err, sizeof err) < 0);
  TEQ(differs(m), 1);
  TEQ(seen.calls, 2);
  T(seen.result < 0);
  TEQ(seen.trigger, HOTSSL_TRIGGER_SIGNAL);
  TEQ(seen.old_gen, 2);
  TEQ(seen.new_gen, 2);
  TSTR(seen.old_serial, TU_SERIAL_B);
  TSTR(seen.new_serial, TU_SERIAL_B);
  TSTR(seen.failed_file, crt);
  TSTR(seen.reason, err);
  TEQ(seen.n_changed, 1);
  TSTR(seen.changed[0], crt);
  T(strstr(seen.line, "result failed (file \"") != NULL);
  T(i64_item(m, HOTSSL_INFO_LAST_RELOAD_UNIX) >= i64_item(m, HOTSSL_INFO_LAST_SUCCESS_UNIX));
  T(metrics_has(m, "hotssl_reloads_total{trigger=\"signal\",result=\"failure\"} 1\n"));
  T(metrics_has(m, "hotssl_served_differs_from_disk 1\n"));

  /* The served bytes back: unchanged, nothing changed against what is served. */
  tu_copy(b_crt, crt, 0644);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_FILE), HOTSSL_UNCHANGED);
  TEQ(seen.calls, 3);
  TEQ(seen.result, HOTSSL_UNCHANGED);
  TEQ(seen.n_changed, 0);
  T(strstr(seen.line, "result unchanged") != NULL);
  T(strstr(seen.line, "changed files: none") != NULL);
  TEQ(differs(m), 0);
  T(metrics_has(m, "hotssl_reloads_total{trigger=\"file\",result=\"unchanged\"} 1\n"));
  T(metrics_has(m, "hotssl_generation 2\n"));
  /* One result line per attempt: the library does not log the record. */
  TEQ(tu_log_count("SSL reload audit"), 0);

  hotssl_manager_destroy(m);
  free(a_crt), free(a_key), free(b_crt), free(b_key), free(crt), free(key), free(conf);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("metrics_audit", checks);
}
