/*
 * The watcher on Windows (ReadDirectoryChangesW): the three ways a
 * deployment changes files there, each followed by a reload that the
 * watcher starts by itself (no API call, no signal):
 *   1. rewrite in place (the key first, then the certificate: for a moment
 *      the pair does not match, which the retry window absorbs);
 *   2. rename over (write server.crt.tmp, MoveFileEx REPLACE_EXISTING);
 *   3. delete and recreate.
 * Then a burst of rewrites reloads about once (debounce). The polling
 * fallback is set to one hour, so only notifications can explain a reload
 * within the deadline, and the backend must still be ReadDirectoryChangesW
 * (not "notify+poll") after each step. No failed reload is counted: a
 * half-rotated pair is retried silently. The configuration names the files
 * in another case than they have on disk (names match without case).
 */
#include <winsock2.h>
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include "hotssl/hotssl.h"
#include "hotssl/watcher.h"
#include "winlib.h"

static void rotate(hotssl_manager *m, hotssl_watcher *wt, const char *dir, int how, int n) {
  char cn[32], subject[40], *crt, *key;
  char *pc = wl_path(dir, "server.crt"), *pk = wl_path(dir, "server.key");
  static const char *names[] = {"rewrite in place", "rename over", "delete and recreate"};
  hotssl_stats before, after;
  wl_want w;
  snprintf(cn, sizeof cn, "gen%d", n);
  snprintf(subject, sizeof subject, "CN=%s", cn);
  WL_CHECK(wl_make_pair(cn, (unsigned long)n, &crt, &key) == 0);
  hotssl_manager_stats(m, &before);
  switch (how) {
  case 0:
    wl_write(pk, key);
    wl_write(pc, crt);
    break;
  case 1:
    wl_write_rename(pk, key);
    wl_write_rename(pc, crt);
    break;
  default:
    wl_write_recreate(pk, key);
    wl_write_recreate(pc, crt);
    break;
  }
  w.m = m;
  w.subject = subject;
  if (!wl_wait(wl_serving, &w, WL_DEADLINE_MS))
    fprintf(stderr, "%s: %s not served within %d ms\n", names[how], subject, WL_DEADLINE_MS);
  WL_CHECK(wl_serving(&w));
  hotssl_manager_stats(m, &after);
  WL_CHECK(after.generation > before.generation);
  WL_CHECK(after.reloads_failed == 0);
  WL_CHECK(strcmp(hotssl_watcher_backend_name(wt), "ReadDirectoryChangesW") == 0);
  printf("%s: %s served (generation %llu), backend %s\n", names[how], subject,
         (unsigned long long)after.generation, hotssl_watcher_backend_name(wt));
  fflush(stdout);
  free(crt);
  free(key);
  free(pc);
  free(pk);
}

int main(void) {
  char *dir = wl_mkdtemp(), *conf = wl_path(dir, "tls.conf"), *crt, *key, err[512];
  char *pc = wl_path(dir, "server.crt"), *pk = wl_path(dir, "server.key");
  hotssl_manager *m = NULL;
  hotssl_watcher *wt = NULL;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_NOTIFY, 1};
  hotssl_stats st;
  uint64_t gen;
  int i, r;

  WL_CHECK(wl_make_pair("gen1", 1, &crt, &key) == 0);
  wl_write(pc, crt);
  wl_write(pk, key);
  free(crt);
  free(key);
  /* The configuration spells the names in another case than the files
   * have: Windows names match without regard to case, and so must the
   * watcher's events. */
  wl_write(conf, "ssl_cert_file = 'Server.CRT'\nssl_key_file = 'SERVER.key'\n"
                 "hotssl_debounce_ms = 150\nhotssl_retry_window_ms = 5000\n"
                 "hotssl_poll_interval_ms = 3600000\n");
  if ((r = wl_manager_start(conf, &m, err, sizeof err)) != 0) {
    fprintf(stderr, "manager: %s\n", err);
    WL_CHECK(r == 0);
    return wl_finish("test_win_watcher");
  }
  WL_CHECK(hotssl_watcher_create(&wt, m, &wo) == 0);
  WL_CHECK(wt != NULL && strcmp(hotssl_watcher_backend_name(wt), "ReadDirectoryChangesW") == 0);
  if (wt != NULL) {
    rotate(m, wt, dir, 0, 2);
    rotate(m, wt, dir, 1, 3);
    rotate(m, wt, dir, 2, 4);

    /* A burst of 20 rewrites of the same content-changing file: debounce
     * turns it into about one reload, not twenty. */
    {
      wl_want w;
      hotssl_manager_stats(m, &st);
      gen = st.generation;
      WL_CHECK(wl_make_pair("burst", 99, &crt, &key) == 0);
      wl_write(pk, key);
      for (i = 0; i < 20; i++)
        wl_write(pc, crt);
      w.m = m;
      w.subject = "CN=burst";
      WL_CHECK(wl_wait(wl_serving, &w, WL_DEADLINE_MS));
      hotssl_manager_stats(m, &st);
      printf("burst of 20 rewrites: %llu reload(s)\n", (unsigned long long)(st.generation - gen));
      WL_CHECK(st.generation - gen >= 1 && st.generation - gen <= 3);
      free(crt);
      free(key);
    }
    hotssl_manager_stats(m, &st);
    WL_CHECK(st.reloads_failed == 0);
  }
  hotssl_watcher_destroy(wt);
  hotssl_manager_destroy(m);
  wl_rmtree(dir);
  free(dir);
  free(conf);
  free(pc);
  free(pk);
  return wl_finish("test_win_watcher");
}
