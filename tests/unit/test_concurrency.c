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

#define SERIAL_A TU_SERIAL_A
#define SERIAL_B TU_SERIAL_B

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

static const char *conf_a = TU_CONF_A;
static const char *conf_b = TU_CONF_B;

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
  char *dir = tu_mkdtemp();
  tu_server *srv;
  pthread_t clients[3], reloader;
  int i, checks = 0, seconds = 3;
  hotssl_stats st;
  const char *env = getenv("HOTSSL_STRESS_SECONDS");
  uint64_t end, server_failures;

  if (env != NULL)
    seconds = atoi(env);
  conf_path = tu_two_pairs_manager(dir, tu_log, &mgr);
  CHECK(conf_path != NULL);
  checks++;
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
