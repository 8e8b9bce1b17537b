/*
 * hotssl_spawn / hotssl_backend_open / hotssl_process_wait on Windows, with
 * real processes (this program spawns itself as the backend):
 *   1. hand-off: the backend takes over an accepted loopback socket
 *      (WSADuplicateSocket) and builds its generation from the snapshot
 *      (inherited pipe); it answers over the socket with the subject it
 *      serves; its exit code comes back through hotssl_process_wait;
 *   2. handle list: an inheritable handle of the parent that is not the
 *      hand-off is not inherited by the backend (PROC_THREAD_ATTRIBUTE_HANDLE_LIST);
 *   3. failure isolation: a re-reading backend (PATHS snapshot) started
 *      while the certificate is broken fails alone (exit code, logged
 *      reason); the parent keeps serving its generation and the next
 *      backend after the fix works.
 * TLS handshakes with real clients are in test_win_serve.py.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotssl/hotssl.h"
#include "hotssl/platform.h"
#include "winlib.h"

/* Backend side: argv = exe child HANDOFF LEAK */
static int child(const char *handoff, const char *leak) {
  hotssl_manager_options mo = {0};
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  hotssl_stats st;
  char err[600], buf[300];
  DWORD flags;
  int fd = -1, r, n;
  HANDLE h = (HANDLE)(uintptr_t)strtoull(leak, NULL, 10);
  mo.log = wl_log;
  if (GetHandleInformation(h, &flags))
    return 3; /* the parent's other inheritable handle leaked into us */
  r = hotssl_backend_open(handoff, &fd, &m, &mo, err, sizeof err);
  if (r != 0) {
    fprintf(stderr, "backend: no TLS: %s\n", err);
    if (fd >= 0)
      closesocket((SOCKET)(uintptr_t)fd);
    return 10;
  }
  g = hotssl_manager_acquire(m);
  hotssl_manager_stats(m, &st);
  if (fd >= 0) {
    char in[4];
    int got = 0;
    while (got < 4 && (n = recv((SOCKET)(uintptr_t)fd, in + got, 4 - got, 0)) > 0)
      got += n;
    n = snprintf(buf, sizeof buf, "%.4s %s gen %llu", in, st.subject,
                 (unsigned long long)hotssl_generation_number(g));
    send((SOCKET)(uintptr_t)fd, buf, n, 0);
    closesocket((SOCKET)(uintptr_t)fd);
  }
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  return 0;
}

/* A connected loopback pair: *server is the accepted end. */
static void socket_pair(SOCKET *client, SOCKET *server) {
  struct sockaddr_in a;
  int alen = sizeof a;
  SOCKET l = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&a, &alen);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  WL_CHECK(connect(*client, (struct sockaddr *)&a, sizeof a) == 0);
  *server = accept(l, NULL, NULL);
  WL_CHECK(*server != INVALID_SOCKET);
  closesocket(l);
}

static int spawn(hotssl_manager *m, unsigned kind, SOCKET conn, HANDLE leak, hotssl_process **p) {
  hotssl_snapshot *snap = NULL;
  hotssl_spawn_request req;
  wchar_t wexe[MAX_PATH];
  char exe[4 * MAX_PATH], leaktext[32], err[600];
  const char *argv[5];
  int r;
  GetModuleFileNameW(NULL, wexe, MAX_PATH);
  WideCharToMultiByte(CP_UTF8, 0, wexe, -1, exe, sizeof exe, NULL, NULL);
  snprintf(leaktext, sizeof leaktext, "%llu", (unsigned long long)(uintptr_t)leak);
  argv[0] = exe;
  argv[1] = "child";
  argv[2] = HOTSSL_SPAWN_HANDOFF_ARG;
  argv[3] = leaktext;
  argv[4] = NULL;
  WL_CHECK(hotssl_snapshot_take(m, kind, &snap) == 0);
  req.program = exe;
  req.argv = argv;
  req.conn_fd = conn == INVALID_SOCKET ? -1 : (int)conn;
  req.snapshot = snap;
  r = hotssl_spawn(m, &req, p, err, sizeof err);
  if (r != 0)
    fprintf(stderr, "hotssl_spawn: %s\n", err);
  hotssl_snapshot_destroy(snap);
  return r;
}

/* Spawn a backend on a fresh connection, say "ping", read its answer to
 * the end, reap it: the answer and the exit code must be as expected. */
static void round_trip(hotssl_manager *m, unsigned kind, HANDLE leak, const char *want, int want_code) {
  hotssl_process *p = NULL;
  char reply[300];
  int got = 0, n, code = -1;
  SOCKET c, s;
  socket_pair(&c, &s);
  WL_CHECK(spawn(m, kind, s, leak, &p) == 0);
  closesocket(s); /* the backend has its own copy */
  WL_CHECK(p != NULL && hotssl_process_pid(p) > 0);
  send(c, "ping", 4, 0);
  while (got < (int)sizeof reply - 1 && (n = recv(c, reply + got, (int)sizeof reply - 1 - got, 0)) > 0)
    got += n;
  reply[got] = '\0';
  closesocket(c);
  if (p != NULL) {
    WL_CHECK(hotssl_process_wait(p, 1, &code) == 1);
    hotssl_process_destroy(p);
  }
  printf("backend answered \"%s\", exit code %d\n", reply, code);
  WL_CHECK(strcmp(reply, want) == 0);
  WL_CHECK(code == want_code);
}

int main(int argc, char **argv) {
  char *dir, *conf, *pc, *pk, *crt, *key, *crt2, *key2, err[600];
  hotssl_manager *m = NULL;
  hotssl_stats st;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE leak;
  WSADATA wsa;
  int r;

  if (argc == 4 && strcmp(argv[1], "child") == 0)
    return child(argv[2], argv[3]);
  WSAStartup(MAKEWORD(2, 2), &wsa);
  dir = wl_mkdtemp();
  conf = wl_path(dir, "tls.conf");
  pc = wl_path(dir, "server.crt");
  pk = wl_path(dir, "server.key");
  WL_CHECK(wl_make_pair("spawn1", 1, &crt, &key) == 0);
  WL_CHECK(wl_make_pair("spawn2", 2, &crt2, &key2) == 0);
  wl_write(pc, crt);
  wl_write(pk, key);
  wl_write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
  r = wl_manager_start(conf, &m, err, sizeof err);
  WL_CHECK(r == 0);
  if (r != 0) {
    fprintf(stderr, "manager: %s\n", err);
    return wl_finish("test_win_spawn");
  }
  leak = CreateEventW(&sa, TRUE, FALSE, NULL); /* inheritable, not for the backend */

  /* 1 + 2: socket and snapshot hand-off; no other handle inherited
   * (exit code 3 would mean the backend saw `leak`). */
  round_trip(m, HOTSSL_SNAPSHOT_CONTENTS, leak, "ping CN=spawn1 gen 1", 0);

  /* 3: a re-reading backend meets a broken certificate and fails alone:
   * closes without an answer, exit code 10; the parent still serves. */
  wl_write_rename(pc, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  round_trip(m, HOTSSL_SNAPSHOT_PATHS, leak, "", 10);
  WL_CHECK(hotssl_manager_stats(m, &st) == 0 && st.generation == 1 && strcmp(st.subject, "CN=spawn1") == 0);

  /* The fix (a new pair) reaches the next re-reading backend. */
  wl_write_rename(pk, key2);
  wl_write_rename(pc, crt2);
  round_trip(m, HOTSSL_SNAPSHOT_PATHS, leak, "ping CN=spawn2 gen 1", 0);

  CloseHandle(leak);
  hotssl_manager_destroy(m);
  wl_rmtree(dir);
  free(dir);
  free(conf);
  free(pc);
  free(pk);
  free(crt);
  free(key);
  free(crt2);
  free(key2);
  WSACleanup();
  return wl_finish("test_win_spawn");
}
