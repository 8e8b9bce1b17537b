/*
 * spawn_server.c's Windows variant: a process-per-connection TLS echo
 * server embedding hotssl, the way a Windows server (or PostgreSQL's
 * EXEC_BACKEND) works. For each connection the parent starts a new process
 * of this program (hotssl_spawn: CreateProcess with a handle list) and
 * hands it the socket (WSADuplicateSocket) and the snapshot of the last good
 * generation (an inherited pipe).
 *   spawn_server CONF [snapshot|reread]
 * The file watcher reloads the parent when the files change; Ctrl+Break
 * also asks for a reload. New backends get the new generation, running ones
 * keep theirs. A backend that cannot build its generation closes its
 * connection without touching anyone else.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>
#include <hotssl/watcher.h>

#include "example_common.h"

static hotssl_manager *mgr;

static BOOL WINAPI on_console(DWORD ev) {
  if (ev != CTRL_BREAK_EVENT)
    return FALSE; /* Ctrl+C: the default handler ends the process */
  hotssl_manager_request_reload(mgr);
  return TRUE;
}

static void logline(void *ud, hotssl_log_level lv, const char *msg) {
  (void)ud;
  fprintf(stderr, "spawn[%lu] %s: %s\n", (unsigned long)GetCurrentProcessId(), hotssl_log_level_name(lv), msg);
}

/* The backend: build our own generation, serve one connection. */
static int backend(const char *handoff) {
  hotssl_manager_options mo = {0};
  hotssl_manager *m;
  hotssl_generation *g;
  char err[512];
  int fd;
  mo.log = logline;
  if (hotssl_backend_open(handoff, &fd, &m, &mo, err, sizeof err) != 0) {
    if (fd >= 0)
      closesocket((SOCKET)fd); /* no TLS in this backend: the error is logged */
    return 1;
  }
  g = hotssl_manager_acquire(m);
  example_tls_echo(g, fd, 0);
  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  closesocket((SOCKET)fd);
  return 0;
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {0};
  hotssl_watcher *watcher = NULL;
  hotssl_snapshot *snap = NULL;
  hotssl_process *kids[256] = {0};
  struct sockaddr_in a = {0};
  int alen = sizeof a;
  char err[512], exe[MAX_PATH];
  const char *bargv[] = {exe, "--backend", HOTSSL_SPAWN_HANDOFF_ARG, NULL};
  unsigned what = HOTSSL_SNAPSHOT_CONTENTS;
  WSADATA wsa;
  HANDLE ev[2];
  SOCKET lfd;
  int i;

  if (argc == 3 && strcmp(argv[1], "--backend") == 0)
    return backend(argv[2]);
  if (argc < 2) {
    fprintf(stderr, "usage: %s CONF [snapshot|reread]\n", argv[0]);
    return 2;
  }
  if (argc > 2 && strcmp(argv[2], "reread") == 0)
    what = HOTSSL_SNAPSHOT_PATHS;
  if (GetModuleFileNameA(NULL, exe, sizeof exe) == 0 || WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
    return 1;
  mo.log = logline;
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&mgr, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  hotssl_watcher_create(&watcher, mgr, NULL); /* own thread; NULL: reload by Ctrl+Break only */
  /* Never inherited: only hotssl_spawn's handle list reaches a backend. */
  lfd = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  SetHandleInformation((HANDLE)lfd, HANDLE_FLAG_INHERIT, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
    return 1;
  SetConsoleCtrlHandler(on_console, TRUE);
  ev[0] = (HANDLE)(intptr_t)hotssl_manager_wakeup_fd(mgr); /* an event on Windows */
  ev[1] = WSACreateEvent();
  WSAEventSelect(lfd, ev[1], FD_ACCEPT);
  printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    DWORD w = WaitForMultipleObjects(2, ev, FALSE, 1000); /* 1 s: reap ended backends */
    hotssl_spawn_request req;
    hotssl_generation *g;
    u_long blocking = 0;
    SOCKET fd;
    int slot = -1;
    for (i = 0; i < 256; i++)
      if (kids[i] != NULL && hotssl_process_wait(kids[i], 0, NULL) != 0) {
        hotssl_process_destroy(kids[i]);
        kids[i] = NULL;
      }
    if (w == WAIT_OBJECT_0)
      hotssl_manager_dispatch(mgr);
    if (w != WAIT_OBJECT_0 + 1)
      continue;
    WSAResetEvent(ev[1]);
    if ((fd = accept(lfd, NULL, NULL)) == INVALID_SOCKET)
      continue;
    WSAEventSelect(fd, NULL, 0); /* accepted sockets inherit the selection: undo it, */
    ioctlsocket(fd, FIONBIO, &blocking); /* and hand over a blocking socket */
    g = hotssl_manager_acquire(mgr); /* one snapshot per generation */
    if (snap == NULL || hotssl_snapshot_generation(snap) != hotssl_generation_number(g)) {
      hotssl_snapshot_destroy(snap);
      snap = NULL;
      hotssl_snapshot_take(mgr, what, &snap);
    }
    hotssl_generation_release(g);
    for (i = 0; i < 256 && slot < 0; i++)
      if (kids[i] == NULL)
        slot = i;
    req.program = exe;
    req.argv = bargv;
    req.conn_fd = (int)fd;
    req.snapshot = snap;
    if (snap == NULL || slot < 0 || hotssl_spawn(mgr, &req, &kids[slot], err, sizeof err) != 0)
      fprintf(stderr, "could not start a backend: %s\n", snap && slot >= 0 ? err : "busy");
    closesocket(fd);
  }
}
