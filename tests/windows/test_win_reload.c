/*
 * `hotssl serve --no-watch` on Windows: Ctrl+Break's reload runs on the
 * CLI's reload thread (cli/watch.c), not in the accept loop. The console
 * handler only calls hotssl_manager_request_reload(), which sets the
 * manager's wake-up event; this test does the same from its main thread
 * (Wine cannot deliver a console Ctrl+Break to a program without a console)
 * and checks that the thread reloads: the new pair is served, twice in a
 * row, and stopping the thread returns.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include "hotssl/hotssl.h"
#include "serve.h"
#include "winlib.h"

int main(void) {
  char *dir = wl_mkdtemp(), *conf = wl_path(dir, "tls.conf"), *crt, *key, err[512];
  char *pc = wl_path(dir, "server.crt"), *pk = wl_path(dir, "server.key");
  hotssl_manager *m = NULL;
  cli_watch *w = NULL;
  int r;

  WL_CHECK(wl_make_pair("gen1", 1, &crt, &key) == 0);
  wl_write(pc, crt);
  wl_write(pk, key);
  free(crt);
  free(key);
  wl_write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
  if ((r = wl_manager_start(conf, &m, err, sizeof err)) != 0) {
    fprintf(stderr, "manager: %s\n", err);
    WL_CHECK(r == 0);
    return wl_finish("test_win_reload");
  }
  WL_CHECK(cli_watch_start(m, 0, &w) == 0); /* no file watching: the reload thread */
  for (int n = 2; n <= 3 && w != NULL; n++) {
    char cn[16], subject[24];
    hotssl_stats st;
    wl_want wt;
    snprintf(cn, sizeof cn, "gen%d", n);
    snprintf(subject, sizeof subject, "CN=%s", cn);
    WL_CHECK(wl_make_pair(cn, (unsigned long)n, &crt, &key) == 0);
    wl_write_rename(pk, key);
    wl_write_rename(pc, crt);
    free(crt);
    free(key);
    hotssl_manager_request_reload(m); /* what Ctrl+Break's handler does */
    wt.m = m;
    wt.subject = subject;
    WL_CHECK(wl_wait(wl_serving, &wt, WL_DEADLINE_MS));
    WL_CHECK(hotssl_manager_stats(m, &st) == 0 && st.generation == (uint64_t)n && st.reloads_failed == 0);
    printf("request %d: %s served by the reload thread (generation %llu)\n", n - 1, subject,
           (unsigned long long)st.generation);
    fflush(stdout);
  }
  cli_watch_stop(w); /* returns: the thread saw its stop event */
  hotssl_manager_destroy(m);
  wl_rmtree(dir);
  free(dir);
  free(conf);
  free(pc);
  free(pk);
  return wl_finish("test_win_reload");
}
