/*
 * Concurrency: client threads do real TLS handshakes over loopback in a loop
 * while a reloader thread switches the configuration between two valid
 * certificate/key pairs as fast as it can. Asserts: zero failed handshakes
 * (client or server side), every served certificate is one of the two, both
 * were served, many generations were published. Run also under ASan (leaks,
 * use-after-free) and TSan (races) in CI.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define SERIAL_A "2023071316352302" /* server-cn-only.crt */
#define SERIAL_B "2023071316352300" /* server-cn-and-alt-names.crt */

static atomic_int stop;
static atomic_ullong handshakes, client_failures, wrong_serial, seen_a, seen_b;
static atomic_ullong reloads_ok, reloads_other;
static int port;
static hotssl_manager *mgr;
static char *conf_path;

static void *client_main(void *p) {
  char serial[80];
  (void)p;
  while (!atomic_load(&stop)) {
    int r = tu_client_serial(port, NULL, serial, sizeof serial);
    if (r != 0) {
      fprintf(stderr, "client handshake failed: -0x%04X\n", (unsigned)-r);
      atomic_fetch_add(&client_failures, 1);
      continue;
    }
    atomic_fetch_add(&handshakes, 1);
    if (strcmp(serial, SERIAL_A) == 0)
      atomic_fetch_add(&seen_a, 1);
    else if (strcmp(serial, SERIAL_B) == 0)
      atomic_fetch_add(&seen_b, 1);
    else {
      fprintf(stderr, "unexpected serial %s\n", serial);
      atomic_fetch_add(&wrong_serial, 1);
    }
  }
  return NULL;
}

static const char *conf_a = "ssl_cert_file = 'a.crt'\nssl_key_file = 'a.key'\n";
static const char *conf_b = "ssl_cert_file = 'b.crt'\nssl_key_file = 'b.key'\n";

static void *reloader_main(void *p) {
  int i = 0;
  (void)p;
  while (!atomic_load(&stop)) {
    int r;
    tu_write_atomic(conf_path, (i++ & 1) ? conf_a : conf_b, 0644);
    r = hotssl_manager_reload(mgr, HOTSSL_TRIGGER_API);
    if (r == 0)
      atomic_fetch_add(&reloads_ok, 1);
    else
      atomic_fetch_add(&reloads_other, 1);
  }
  return NULL;
}

int main(void) {
  const char *td = tu_testdata();
  char *dir = tu_mkdtemp();
  char src[1024], *dst;
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  tu_server *srv;
  pthread_t clients[3], reloader;
  char err[512];
  int i, checks = 0, seconds = 3;
  hotssl_stats st;
  const char *env = getenv("HOTSSL_STRESS_SECONDS");
  uint64_t end, server_failures;

  if (env != NULL)
    seconds = atoi(env);
  snprintf(src, sizeof src, "%s/server-cn-only.crt", td);
  tu_copy(src, dst = tu_path(dir, "a.crt"), 0644), free(dst);
  snprintf(src, sizeof src, "%s/server-cn-only.key", td);
  tu_copy(src, dst = tu_path(dir, "a.key"), 0600), free(dst);
  snprintf(src, sizeof src, "%s/server-cn-and-alt-names.crt", td);
  tu_copy(src, dst = tu_path(dir, "b.crt"), 0644), free(dst);
  snprintf(src, sizeof src, "%s/server-cn-and-alt-names.key", td);
  tu_copy(src, dst = tu_path(dir, "b.key"), 0600), free(dst);
  conf_path = tu_path(dir, "hotssl.conf");
  tu_write(conf_path, conf_a, 0644);

  hotssl_config_create(&cfg);
  CHECK_EQ_INT(hotssl_config_load_file(cfg, conf_path, err, sizeof err), 0);
  o.log = tu_log;
  CHECK_EQ_INT(hotssl_manager_create(&mgr, cfg, &o, err, sizeof err), 0);
  checks += 2;
  hotssl_config_destroy(cfg);
  if (mgr == NULL)
    return tu_finish("concurrency", checks);

  srv = tu_server_start(mgr, 4);
  port = tu_server_port(srv);
  for (i = 0; i < 3; i++)
    pthread_create(&clients[i], NULL, client_main, NULL);
  pthread_create(&reloader, NULL, reloader_main, NULL);
  end = tu_now_ms() + (uint64_t)seconds * 1000u;
  while (tu_now_ms() < end) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the test's duration, not a wait for a condition */
  }
  atomic_store(&stop, 1);
  for (i = 0; i < 3; i++)
    pthread_join(clients[i], NULL);
  pthread_join(reloader, NULL);
  server_failures = tu_server_handshake_failures(srv);
  tu_server_stop(srv);
  hotssl_manager_stats(mgr, &st);
  hotssl_manager_destroy(mgr);

  printf("handshakes %llu (A %llu, B %llu), reloads published %llu, other %llu, generation %llu\n",
         (unsigned long long)handshakes, (unsigned long long)seen_a, (unsigned long long)seen_b,
         (unsigned long long)reloads_ok, (unsigned long long)reloads_other,
         (unsigned long long)st.generation);
  CHECK_EQ_INT(atomic_load(&client_failures), 0);
  CHECK_EQ_INT(server_failures, 0);
  CHECK_EQ_INT(atomic_load(&wrong_serial), 0);
  CHECK(atomic_load(&handshakes) >= 20);
  CHECK(atomic_load(&seen_a) > 0);
  CHECK(atomic_load(&seen_b) > 0);
  CHECK(atomic_load(&reloads_ok) >= 10);
  CHECK_EQ_INT(atomic_load(&reloads_other), 0);
  CHECK_EQ_INT(st.reloads_failed, 0);
  checks += 9;
  tu_rmtree(dir);
  free(dir);
  free(conf_path);
  tu_log_clear();
  return tu_finish("concurrency", checks);
}
