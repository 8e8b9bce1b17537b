/*
 * hotssl_expiry_warning_days: the warning at load, the seconds
 * left in hotssl_manager_stats, and the repeat from the watcher's loop (own
 * thread and host loop), with the repeat period shortened from a day to one
 * second through the test hook hotssl__manager_set_expiry_repeat.
 */
#include <string.h>
#include <time.h>

#include "hotssl/watcher.h"
#include "certgen.h"
#include "manager.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;

static void utc(char *buf, size_t len, int64_t offset) {
  time_t t = time(NULL) + (time_t)offset;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y%m%d%H%M%S", &tm);
}

/* A certificate valid from yesterday for `days_left` days and 10 minutes. */
static void make_pair(int days_left) {
  certgen_rng rng;
  mbedtls_pk_context key;
  char pem[4096], keypem[2048], nb[20], na[20], *p;
  mbedtls_pk_init(&key);
  utc(nb, sizeof nb, -86400);
  utc(na, sizeof na, (int64_t)days_left * 86400 + 600);
  TEQ(certgen_rng_init(&rng), 0);
  TEQ(certgen_key(&key, &rng), 0);
  TEQ(certgen_cert(&key, "CN=expiry", &key, "CN=expiry", 0x77, nb, na, 0, &rng, pem, sizeof pem), 0);
  TEQ(certgen_key_pem(&key, keypem, sizeof keypem), 0);
  tu_write_atomic(p = tu_path(dir, "server.crt"), pem, 0644);
  free(p);
  tu_write_atomic(p = tu_path(dir, "server.key"), keypem, 0600);
  free(p);
  mbedtls_pk_free(&key);
  certgen_rng_free(&rng);
}

static hotssl_manager *manager(const char *extra) {
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char err[512], text[512], *conf = tu_path(dir, "hotssl.conf");
  snprintf(text, sizeof text, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n%s", extra);
  tu_write(conf, text, 0644);
  o.log = tu_log;
  TEQ(hotssl_config_create(&cfg), 0);
  TEQ(hotssl_config_load_file(cfg, conf, err, sizeof err), 0);
  TEQ(hotssl_manager_create(&m, cfg, &o, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  free(conf);
  return m;
}

static int wait_count(const char *sub, int n) {
  uint64_t end = tu_now_ms() + 30000;
  while (tu_now_ms() < end) {
    if (tu_log_count(sub) >= n)
      return 0;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

static void test_load_and_stats(void) {
  hotssl_manager *m;
  hotssl_stats st;
  make_pair(5);
  tu_log_clear();
  m = manager("");
  if (m == NULL)
    return;
  TEQ(tu_log_count("expires in 5 day(s) 0 hour(s)"), 1);
  TEQ(tu_log_count("hotssl_expiry_warning_days = 30"), 1);
  TEQ(hotssl_manager_stats(m, &st), 0);
  T(st.seconds_left > 5 * 86400 && st.seconds_left <= 5 * 86400 + 600);
  TEQ(st.expiry_warning_days, 30);
  T((st.warnings & HOTSSL_WARN_EXPIRING) != 0);
  /* Within the repeat period, a tick logs nothing more. */
  T(hotssl__manager_expiry_tick(m) > 0);
  TEQ(tu_log_count("expires in"), 1);
  hotssl_manager_destroy(m);

  /* Outside the window: no warning, no bit, a tick stays quiet. */
  tu_log_clear();
  m = manager("hotssl_expiry_warning_days = 4\n");
  if (m == NULL)
    return;
  TEQ(tu_log_count("expires in"), 0);
  hotssl_manager_stats(m, &st);
  TEQ(st.warnings & HOTSSL_WARN_EXPIRING, 0);
  hotssl__manager_set_expiry_repeat(m, 1);
  T(hotssl__manager_expiry_tick(m) > 0);
  TEQ(tu_log_count("expires in"), 0);
  hotssl_manager_destroy(m);
}

/* The watcher repeats the warning: own thread, then the host's loop. */
static void test_repeat(int own_thread) {
  hotssl_manager *m;
  hotssl_watcher *w = NULL;
  hotssl_watcher_options wo;
  make_pair(3);
  tu_log_clear();
  m = manager("");
  if (m == NULL)
    return;
  TEQ(tu_log_count("expires in 3 day"), 1);
  hotssl__manager_set_expiry_repeat(m, 1);
  memset(&wo, 0, sizeof wo);
  wo.backend = HOTSSL_WATCHER_AUTO;
  wo.own_thread = own_thread;
  TEQ(hotssl_watcher_create(&w, m, &wo), 0);
  if (own_thread) {
    TEQ(wait_count("expires in 3 day", 3), 0);
  } else {
    uint64_t end = tu_now_ms() + 30000;
    while (tu_log_count("expires in 3 day") < 3 && tu_now_ms() < end) {
      int t = hotssl_watcher_dispatch(w);
      /* The loop is told to come back for the next repeat. */
      T(t >= 0 && t <= 1000);
      if (t > 0) {
        struct timespec ts = {t / 1000, (long)(t % 1000) * 1000000L};
        nanosleep(&ts, NULL);
      }
    }
    T(tu_log_count("expires in 3 day") >= 3);
  }
  hotssl_watcher_destroy(w);
  hotssl_manager_destroy(m);
}

int main(void) {
  dir = tu_mkdtemp();
  test_load_and_stats();
  test_repeat(1);
  test_repeat(0);
  tu_rmtree(dir);
  free(dir);
  tu_log_clear();
  return tu_finish("expiry", checks);
}
