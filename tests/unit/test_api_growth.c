/*
 * The API's growth paths, with real files and real handshakes: typed info
 * items (manager, held generation, ssl_sni hosts file entry) checked against
 * the frozen stats structs; hotssl_manager_create_ex with size-first
 * options (an older caller's smaller struct, a newer caller's larger one);
 * the reload errbuf and the on_reload_ex event with its reason (also from
 * the watcher's own thread); the typed
 * OS handles (poll on the wake-up handle after a reload request, the
 * watcher's handle).
 */
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "hotssl/watcher.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)
#define TSTR(a, b) do { checks++; if (strcmp((a), (b)) != 0) { \
      fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, (a), (b)); tu_failures++; } } while (0)

static char *dir;

static hotssl_config *load_conf(const char *text) {
  hotssl_config *cfg;
  char err[512], *p = tu_path(dir, "hotssl.conf");
  tu_write_atomic(p, text, 0644);
  hotssl_config_create(&cfg);
  if (hotssl_config_load_file(cfg, p, err, sizeof err) != 0) {
    fprintf(stderr, "config: %s\n", err);
    exit(1);
  }
  free(p);
  return cfg;
}

static void write_conf(const char *text, int mode) {
  char *p = tu_path(dir, "hotssl.conf");
  tu_write_atomic(p, text, mode);
  free(p);
}

static uint64_t u64_item(hotssl_manager *m, int item) {
  uint64_t v = 0xdeadbeef;
  TEQ(hotssl_manager_info(m, item, &v, sizeof v), 0);
  return v;
}

/* Every item of the manager equals its hotssl_stats field. */
static void check_manager_items(hotssl_manager *m) {
  static const struct { int item; size_t off; } strs[] = {
      {HOTSSL_INFO_LAST_ERROR, offsetof(hotssl_stats, last_error)},
      {HOTSSL_INFO_SUBJECT, offsetof(hotssl_stats, subject)},
      {HOTSSL_INFO_ISSUER, offsetof(hotssl_stats, issuer)},
      {HOTSSL_INFO_SERIAL, offsetof(hotssl_stats, serial)},
      {HOTSSL_INFO_NOT_BEFORE, offsetof(hotssl_stats, not_before)},
      {HOTSSL_INFO_NOT_AFTER, offsetof(hotssl_stats, not_after)},
      {HOTSSL_INFO_SHA256, offsetof(hotssl_stats, sha256)},
      {HOTSSL_INFO_KEY_TYPE, offsetof(hotssl_stats, key_type)}};
  hotssl_stats st;
  char buf[1024];
  int64_t i64 = 0;
  size_t i;
  TEQ(hotssl_manager_stats(m, &st), 0);
  TEQ(u64_item(m, HOTSSL_INFO_GENERATION), st.generation);
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_ATTEMPTED), st.reloads_attempted);
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_SUCCEEDED), st.reloads_succeeded);
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_UNCHANGED), st.reloads_unchanged);
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_FAILED), st.reloads_failed);
  TEQ(u64_item(m, HOTSSL_INFO_KEY_BITS), st.key_bits);
  TEQ(u64_item(m, HOTSSL_INFO_CHAIN_LENGTH), st.chain_length);
  TEQ(u64_item(m, HOTSSL_INFO_CA_COUNT), st.ca_count);
  TEQ(u64_item(m, HOTSSL_INFO_CRL_ENTRIES), st.crl_entries);
  TEQ(u64_item(m, HOTSSL_INFO_EXPIRY_WARNING_DAYS), st.expiry_warning_days);
  TEQ(u64_item(m, HOTSSL_INFO_WARNINGS), st.warnings);
  TEQ(u64_item(m, HOTSSL_INFO_SNI_HOSTS), st.sni_hosts);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_NOT_AFTER_UNIX, &i64, sizeof i64), 0);
  TEQ(i64, st.not_after_unix);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_NOT_BEFORE_UNIX, &i64, sizeof i64), 0);
  TEQ(i64, st.not_before_unix);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_CRL_NEXT_UPDATE_UNIX, &i64, sizeof i64), 0);
  TEQ(i64, st.crl_next_update_unix);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SECONDS_LEFT, &i64, sizeof i64), 0);
  T(i64 <= st.seconds_left && i64 >= st.seconds_left - 120); /* a later clock reading */
  for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    TEQ(hotssl_manager_info(m, strs[i].item, buf, sizeof buf), 0);
    TSTR(buf, (const char *)&st + strs[i].off);
  }
}

static void test_items(void) {
  hotssl_manager *m;
  hotssl_generation *g1;
  char buf[64], *conf = tu_two_pairs_manager(dir, tu_log, &m);
  uint64_t v = 0;
  int64_t i64 = 0;
  T(conf != NULL);
  if (conf == NULL)
    return;
  check_manager_items(m);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
  TSTR(buf, TU_SERIAL_A);
  /* Errors: NULL, wrong size, unknown item, another object's item, no room. */
  TEQ(hotssl_manager_info(NULL, HOTSSL_INFO_GENERATION, &v, sizeof v), HOTSSL_EINVAL);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_GENERATION, NULL, sizeof v), HOTSSL_EINVAL);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_GENERATION, &v, 4), HOTSSL_EINVAL);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_NOT_AFTER_UNIX, &i64, 4), HOTSSL_EINVAL);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_TYPE_U64 + 999, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_manager_info(m, 0, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_HOST_LINE, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SUBJECT, buf, 0), HOTSSL_EINVAL);
  memcpy(buf, "xyz", 4);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERIAL, buf, strlen(TU_SERIAL_A)), HOTSSL_ENOMEM);
  TSTR(buf, "");
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERIAL, buf, strlen(TU_SERIAL_A) + 1), 0);
  TSTR(buf, TU_SERIAL_A);

  /* A held generation keeps answering for itself across a reload. */
  g1 = hotssl_manager_acquire(m);
  tu_write_atomic(conf, TU_CONF_B, 0644);
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0);
  TEQ(hotssl_generation_info(g1, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
  TSTR(buf, TU_SERIAL_A);
  TEQ(hotssl_generation_info(g1, HOTSSL_INFO_GENERATION, &v, sizeof v), 0);
  TEQ(v, 1);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
  TSTR(buf, TU_SERIAL_B);
  TEQ(u64_item(m, HOTSSL_INFO_GENERATION), 2);
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_SUCCEEDED), 1);
  /* Manager-only items are not a generation's. */
  TEQ(hotssl_generation_info(g1, HOTSSL_INFO_RELOADS_ATTEMPTED, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_generation_info(g1, HOTSSL_INFO_LAST_ERROR, buf, sizeof buf), HOTSSL_ENOTSUP);
  TEQ(hotssl_generation_info(NULL, HOTSSL_INFO_SERIAL, buf, sizeof buf), HOTSSL_EINVAL);
  /* No hosts file: no entry. */
  TEQ(hotssl_generation_host_info(g1, 0, HOTSSL_INFO_HOST_LINE, &v, sizeof v), HOTSSL_EINVAL);
  hotssl_generation_release(g1);
  check_manager_items(m);
  hotssl_manager_destroy(m);
  free(conf);
}

/* ssl_sni: each entry's items equal hotssl_generation_host_stats. */
static void test_host_items(void) {
  hotssl_manager *m;
  hotssl_config *cfg;
  hotssl_generation *g;
  hotssl_host_stats hs;
  char err[512], buf[1200], *p = tu_path(dir, "pg_hosts.conf");
  uint64_t v;
  int64_t i64;
  uint32_t i, n;
  tu_write(p, "# two entries\nalpha.test,beta.test a.crt a.key\n*  b.crt b.key\n", 0644);
  free(p);
  cfg = load_conf("ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n");
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL) {
    fprintf(stderr, "sni manager: %s\n", err);
    return;
  }
  TEQ(u64_item(m, HOTSSL_INFO_SNI_HOSTS), 2);
  g = hotssl_manager_acquire(m);
  n = hotssl_generation_host_count(g);
  TEQ(n, 2);
  for (i = 0; i < n; i++) {
    TEQ(hotssl_generation_host_stats(g, i, &hs), 0);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_LINE, &v, sizeof v), 0);
    TEQ(v, hs.line);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_IS_DEFAULT, &v, sizeof v), 0);
    TEQ(v, hs.is_default);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_IS_NO_SNI, &v, sizeof v), 0);
    TEQ(v, hs.is_no_sni);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_HAS_CA, &v, sizeof v), 0);
    TEQ(v, hs.has_ca);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_N_NAMES, &v, sizeof v), 0);
    TEQ(v, hs.n_names);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_HOST_NAMES, buf, sizeof buf), 0);
    TSTR(buf, hs.names);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
    TSTR(buf, hs.cert.serial);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_SUBJECT, buf, sizeof buf), 0);
    TSTR(buf, hs.cert.subject);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_NOT_AFTER_UNIX, &i64, sizeof i64), 0);
    TEQ(i64, hs.cert.not_after_unix);
    TEQ(hotssl_generation_host_info(g, i, HOTSSL_INFO_GENERATION, &v, sizeof v), 0);
    TEQ(v, 1);
  }
  TEQ(hotssl_generation_host_info(g, 0, HOTSSL_INFO_HOST_LINE, &v, sizeof v), 0);
  TEQ(v, 2);
  TEQ(hotssl_generation_host_info(g, 0, HOTSSL_INFO_HOST_NAMES, buf, sizeof buf), 0);
  TSTR(buf, "alpha.test,beta.test");
  TEQ(hotssl_generation_host_info(g, 0, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
  TSTR(buf, TU_SERIAL_A);
  TEQ(hotssl_generation_host_info(g, 1, HOTSSL_INFO_HOST_IS_DEFAULT, &v, sizeof v), 0);
  TEQ(v, 1);
  TEQ(hotssl_generation_host_info(g, 1, HOTSSL_INFO_SERIAL, buf, sizeof buf), 0);
  TSTR(buf, TU_SERIAL_B);
  TEQ(hotssl_generation_host_info(g, 2, HOTSSL_INFO_HOST_LINE, &v, sizeof v), HOTSSL_EINVAL);
  TEQ(hotssl_generation_host_info(g, 0, HOTSSL_INFO_SNI_HOSTS, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_generation_host_info(g, 0, HOTSSL_INFO_RELOADS_FAILED, &v, sizeof v), HOTSSL_ENOTSUP);
  TEQ(hotssl_generation_info(g, HOTSSL_INFO_HOST_LINE, &v, sizeof v), HOTSSL_ENOTSUP);
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
}

/* ---- reload errbuf and on_reload_ex ---- */

typedef struct events {
  hotssl_manager *m;
  int n, base_calls, order_ok;
  int result;
  hotssl_trigger trigger;
  uint64_t generation, failed_seen;
  size_t size;
  char reason[512];
} events;

static void on_reload_base(void *ud, int result, uint64_t generation) {
  events *e = ud;
  (void)result;
  (void)generation;
  e->base_calls++;
}

static void on_reload_ex(void *ud, const hotssl_reload_event *ev) {
  events *e = ud;
  e->order_ok = e->base_calls == e->n + 1; /* base.on_reload ran first */
  e->n++;
  e->size = ev->size;
  e->result = ev->result;
  e->trigger = ev->trigger;
  e->generation = ev->generation;
  snprintf(e->reason, sizeof e->reason, "%s", HOTSSL_HAS_FIELD(ev, hotssl_reload_event, reason) ? ev->reason : "?");
  /* Callable from inside the callback. */
  e->failed_seen = 0;
  hotssl_manager_info(e->m, HOTSSL_INFO_RELOADS_FAILED, &e->failed_seen, sizeof e->failed_seen);
}

static void never_called(void *ud, const hotssl_reload_event *ev) {
  (void)ev;
  (*(int *)ud)++;
}

static int hook_calls;
static int build_hook(void *ud, struct mbedtls_ssl_config *conf, uint64_t generation, char *errbuf,
                      size_t errlen) {
  (void)ud;
  (void)conf;
  (void)generation;
  hook_calls++;
  if (hook_calls == 3) {
    snprintf(errbuf, errlen, "third build refused");
    return 1;
  }
  return 0;
}

static void test_reload_reason(void) {
  hotssl_manager_options_ex o = HOTSSL_MANAGER_OPTIONS_EX_INIT;
  hotssl_manager *m = NULL;
  hotssl_config *cfg, *cfg_b;
  events e;
  char err[512], last[512], serial[64];
  tu_server *srv;
  memset(&e, 0, sizeof e);
  TEQ(o.size, sizeof(hotssl_manager_options_ex));
  T(o.on_reload_ex == NULL && o.base.log == NULL && o.base.build_hook == NULL);
  o.base.log = tu_log;
  o.base.on_reload = on_reload_base;
  o.base.on_reload_userdata = &e;
  o.base.build_hook = build_hook;
  o.on_reload_ex = on_reload_ex;
  o.on_reload_ex_userdata = &e;
  /* tu_two_pairs_manager wrote a.*, b.* and hotssl.conf into dir. */
  cfg = load_conf(TU_CONF_A);
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  e.m = m;
  TEQ(hook_calls, 1);
  srv = tu_server_start(m, 1);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  TSTR(serial, TU_SERIAL_A);

  /* Unchanged: "" in errbuf, event with the current generation. */
  memcpy(err, "junk", 5);
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_API, err, sizeof err), HOTSSL_UNCHANGED);
  TSTR(err, "");
  TEQ(e.n, 1);
  T(e.order_ok);
  TEQ(e.size, sizeof(hotssl_reload_event));
  TEQ(e.result, HOTSSL_UNCHANGED);
  TEQ(e.trigger, HOTSSL_TRIGGER_API);
  TEQ(e.generation, 1);
  TSTR(e.reason, "");

  /* Success (hook call 2): the new certificate is served. */
  write_conf(TU_CONF_B, 0644);
  memcpy(err, "junk", 5);
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_FILE, err, sizeof err), 0);
  TSTR(err, "");
  TEQ(e.n, 2);
  TEQ(e.result, 0);
  TEQ(e.trigger, HOTSSL_TRIGGER_FILE);
  TEQ(e.generation, 2);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  TSTR(serial, TU_SERIAL_B);

  /* Failure from the build hook (call 3): errbuf, event and last_error agree. */
  write_conf(TU_CONF_A, 0644);
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_API, err, sizeof err), HOTSSL_ECONFIG);
  TSTR(err, "SSL build hook failed: third build refused");
  TEQ(e.n, 3);
  T(e.order_ok);
  TEQ(e.result, HOTSSL_ECONFIG);
  TEQ(e.generation, 2);
  TSTR(e.reason, err);
  TEQ(e.failed_seen, 1);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_LAST_ERROR, last, sizeof last), 0);
  TSTR(last, err);
  TEQ(tu_log_count("was not reloaded: SSL build hook failed: third build refused"), 1);

  /* Failure naming the file: a missing certificate; errbuf NULL is fine. */
  write_conf("ssl_cert_file = 'missing.crt'\nssl_key_file = 'a.key'\n", 0644);
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_API, NULL, 0), HOTSSL_EFILE);
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_API, err, sizeof err), HOTSSL_EFILE);
  T(strstr(err, "missing.crt") != NULL);
  TSTR(e.reason, err);
  TEQ(e.n, 5);
  /* A short errbuf is cut, NUL-terminated. */
  TEQ(hotssl_manager_reload_ex(m, HOTSSL_TRIGGER_API, err, 8), HOTSSL_EFILE);
  TEQ(strlen(err), 7);
  TEQ(hotssl_manager_reload_ex(NULL, HOTSSL_TRIGGER_API, err, sizeof err), HOTSSL_EINVAL);
  T(err[0] != '\0');

  /* reload_with_ex: new settings, same reporting. */
  cfg_b = load_conf(TU_CONF_A);
  TEQ(hotssl_manager_reload_with_ex(m, NULL, HOTSSL_TRIGGER_API, err, sizeof err), HOTSSL_EINVAL);
  TEQ(hotssl_manager_reload_with_ex(m, cfg_b, HOTSSL_TRIGGER_API, err, sizeof err), 0);
  TSTR(err, "");
  TEQ(e.result, 0);
  TEQ(e.generation, 3);
  TEQ(tu_client_serial(tu_server_port(srv), NULL, serial, sizeof serial), 0);
  TSTR(serial, TU_SERIAL_A);
  hotssl_config_destroy(cfg_b);
  TEQ(e.base_calls, e.n);
  tu_server_stop(srv);
  hotssl_manager_destroy(m);
}

/* Size-first options: an older caller's smaller struct, a newer caller's
 * larger one, a size that does not cover base. */
static void test_options_size(void) {
  struct newer {
    hotssl_manager_options_ex o;
    uint64_t future_option;
  } nw;
  hotssl_manager_options_ex o = HOTSSL_MANAGER_OPTIONS_EX_INIT;
  hotssl_manager *m = (hotssl_manager *)&o;
  hotssl_config *cfg = load_conf(TU_CONF_A);
  char err[512];
  int calls = 0;
  o.on_reload_ex = never_called;
  o.on_reload_ex_userdata = &calls;
  /* Built against a header whose struct ended before on_reload_ex: the
   * library must not read it. */
  o.size = offsetof(hotssl_manager_options_ex, on_reload_ex);
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), 0);
  if (m != NULL) {
    TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
    TEQ(calls, 0);
    hotssl_manager_destroy(m);
  }
  o.size = sizeof o;
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), 0);
  if (m != NULL) {
    TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
    TEQ(calls, 1);
    hotssl_manager_destroy(m);
  }
  /* Too small for base. */
  m = (hotssl_manager *)&o;
  o.size = offsetof(hotssl_manager_options_ex, base) + 1;
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), HOTSSL_EINVAL);
  T(m == NULL);
  T(strstr(err, "HOTSSL_MANAGER_OPTIONS_EX_INIT") != NULL);
  /* Newer caller: unknown fields all zero is fine, one set is refused. */
  memset(&nw, 0, sizeof nw);
  nw.o.size = sizeof nw;
  TEQ(hotssl_manager_create_ex(&m, cfg, &nw.o, err, sizeof err), 0);
  hotssl_manager_destroy(m);
  nw.future_option = 1;
  TEQ(hotssl_manager_create_ex(&m, cfg, &nw.o, err, sizeof err), HOTSSL_ENOTSUP);
  T(m == NULL);
  T(strstr(err, "does not know") != NULL);
  /* NULL options as hotssl_manager_create. */
  TEQ(hotssl_manager_create_ex(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
}

/* The watcher's own thread reloads: on_reload_ex reaches the host there,
 * with the reason of a failure. */
typedef struct thread_events {
  pthread_mutex_t mu;
  int n, result; /* failed reloads reported, the last one's result */
  hotssl_trigger trigger;
  char reason[512];
} thread_events;

static void on_reload_thread(void *ud, const hotssl_reload_event *ev) {
  thread_events *te = ud;
  if (ev->result >= 0)
    return; /* e.g. a turn that saw the old file before the rename */
  pthread_mutex_lock(&te->mu);
  te->n++;
  te->result = ev->result;
  te->trigger = ev->trigger;
  snprintf(te->reason, sizeof te->reason, "%s", ev->reason);
  pthread_mutex_unlock(&te->mu);
}

static int events_seen(thread_events *te) {
  int n;
  pthread_mutex_lock(&te->mu);
  n = te->n;
  pthread_mutex_unlock(&te->mu);
  return n;
}

static void test_reason_from_watcher_thread(void) {
  hotssl_manager_options_ex o = HOTSSL_MANAGER_OPTIONS_EX_INIT;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_AUTO, 1};
  hotssl_manager *m = NULL;
  hotssl_watcher *w = NULL;
  thread_events te;
  hotssl_config *cfg;
  char err[512];
  uint64_t deadline;
  memset(&te, 0, sizeof te);
  pthread_mutex_init(&te.mu, NULL);
  o.on_reload_ex = on_reload_thread;
  o.on_reload_ex_userdata = &te;
  cfg = load_conf("ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\nhotssl_debounce_ms = 20\nhotssl_retry_window_ms = 200\n");
  TEQ(hotssl_manager_create_ex(&m, cfg, &o, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  TEQ(hotssl_watcher_create(&w, m, &wo), 0);
  /* A configuration naming a file that does not exist: the watcher's
   * reload fails (after its retry window) and reports it. */
  write_conf("ssl_cert_file = 'gone.crt'\nssl_key_file = 'a.key'\nhotssl_debounce_ms = 20\nhotssl_retry_window_ms = 200\n", 0644);
  deadline = tu_now_ms() + 30000;
  while (events_seen(&te) == 0 && tu_now_ms() < deadline)
    usleep(10000);
  hotssl_watcher_destroy(w);
  pthread_mutex_lock(&te.mu);
  T(te.n >= 1);
  TEQ(te.result, HOTSSL_EFILE);
  TEQ(te.trigger, HOTSSL_TRIGGER_FILE);
  T(strstr(te.reason, "gone.crt") != NULL);
  pthread_mutex_unlock(&te.mu);
  pthread_mutex_destroy(&te.mu);
  hotssl_manager_destroy(m);
  write_conf(TU_CONF_A, 0644);
}

/* ---- typed OS handles ---- */

static int readable(hotssl_os_fd h, int timeout_ms) {
  struct pollfd p = {h, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

static void test_handles(void) {
  hotssl_manager *m;
  hotssl_watcher *w;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_NOTIFY, 0};
  hotssl_os_fd h, hi = HOTSSL_OS_FD_INVALID;
  hotssl_config *cfg = load_conf(TU_CONF_A);
  char err[512];
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  TEQ(hotssl_manager_wakeup_handle(NULL), HOTSSL_OS_FD_INVALID);
  h = hotssl_manager_wakeup_handle(m);
  T(h != HOTSSL_OS_FD_INVALID);
  TEQ(h, hotssl_manager_wakeup_fd(m));
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_WAKEUP_HANDLE, &hi, sizeof hi), 0);
  TEQ(hi, h);
  TEQ(hotssl_manager_info(m, HOTSSL_INFO_WAKEUP_HANDLE, &hi, sizeof hi + 1), HOTSSL_EINVAL);
  T(!readable(h, 0));
  hotssl_manager_request_reload(m);
  T(readable(h, 10000));
  TEQ(hotssl_manager_dispatch(m), HOTSSL_UNCHANGED); /* ran the reload: same content */
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_UNCHANGED), 1);
  T(!readable(h, 0));
  TEQ(hotssl_manager_dispatch(m), HOTSSL_UNCHANGED); /* nothing requested */
  TEQ(u64_item(m, HOTSSL_INFO_RELOADS_ATTEMPTED), 1);

  /* The watcher's handle becomes readable on a file event. */
  TEQ(hotssl_watcher_handle(NULL), HOTSSL_OS_FD_INVALID);
  TEQ(hotssl_watcher_create(&w, m, &wo), 0);
  if (w != NULL) {
    char *p = tu_path(dir, "a.crt"), *q = tu_path(dir, "b.crt");
    h = hotssl_watcher_handle(w);
    T(h != HOTSSL_OS_FD_INVALID);
    TEQ(h, hotssl_watcher_fd(w));
    tu_copy(q, p, 0644);
    T(readable(h, 10000));
    free(p);
    free(q);
    hotssl_watcher_destroy(w);
  }
  wo.backend = HOTSSL_WATCHER_POLL;
  TEQ(hotssl_watcher_create(&w, m, &wo), 0);
  if (w != NULL) {
    TEQ(hotssl_watcher_handle(w), HOTSSL_OS_FD_INVALID);
    TEQ(hotssl_watcher_fd(w), -1);
    hotssl_watcher_destroy(w);
  }
  hotssl_manager_destroy(m);
}

int main(void) {
  hotssl_manager *m0;
  char *conf;
  dir = tu_mkdtemp();
  test_items();
  /* Fresh copies of a.*, b.* for the tests below. */
  conf = tu_two_pairs_manager(dir, NULL, &m0);
  hotssl_manager_destroy(m0);
  free(conf);
  test_host_items();
  test_reload_reason();
  test_options_size();
  test_reason_from_watcher_thread();
  test_handles();
  tu_rmtree(dir);
  return tu_finish("test_api_growth", checks);
}
