/*
 * `hotssl serve` on Windows (the POSIX build uses serve.c and serve_modes.c
 * and sys_posix.c
 * instead; main.c, watch.c, session.c and serve_common.c are shared).
 *
 *   hotssl serve -c CONF -p PORT [-l HOST] [-m spawn] [-S snapshot|reread] [-s] [-w|-n]
 * with the options, help and checks of POSIX (cli_serve_options, cli/args.c).
 *
 * Windows has no fork and no SIGHUP, so serve runs one mode: spawn, a new
 * process per connection (hotssl_spawn: CreateProcess with a handle list,
 * the socket through WSADuplicateSocket, the snapshot through an inherited
 * pipe). Reloads: the file watcher (ReadDirectoryChangesW), or Ctrl+Break
 * (CTRL_BREAK_EVENT, the console's SIGHUP), which calls
 * hotssl_manager_request_reload; Ctrl+C or closing the console stops the
 * server. Reloads run on the watcher's thread, or with --no-watch on a
 * small reload thread (cli/watch.c), never in the accept loop, which waits
 * on the listening socket's event and the stop event only.
 *
 * `hotssl __backend` (session.c, as on POSIX) is the backend; what it needs
 * of Windows (the socket calls and the console set-up of sys.h) is in
 * sys_win32.c.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotssl/platform.h"
#include "cli.h"
#include "log.h"
#include "serve.h"

/* Console events: the handler runs on its own thread. */
static HANDLE g_stop;
static hotssl_manager *volatile g_manager;

static BOOL WINAPI on_console(DWORD ev) {
  if (ev == CTRL_BREAK_EVENT) {
    if (g_manager != NULL)
      hotssl_manager_request_reload(g_manager);
    return TRUE;
  }
  SetEvent(g_stop); /* Ctrl+C, close, logoff, shutdown */
  return TRUE;
}

/* A listening socket on host:port that no child inherits. */
static SOCKET listen_on(const char *host, int port, int *actual) {
  struct addrinfo hints, *ai = NULL;
  struct sockaddr_storage a;
  int alen = sizeof a;
  SOCKET s;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
    return INVALID_SOCKET;
  s = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                 WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET)
    s = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    freeaddrinfo(ai);
    return INVALID_SOCKET;
  }
  SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  memcpy(&a, ai->ai_addr, ai->ai_addrlen);
  if (a.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&a)->sin6_port = htons((u_short)port);
  else
    ((struct sockaddr_in *)&a)->sin_port = htons((u_short)port);
  if (bind(s, (struct sockaddr *)&a, (int)ai->ai_addrlen) != 0 || listen(s, 128) != 0 ||
      getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
    freeaddrinfo(ai);
    closesocket(s);
    return INVALID_SOCKET;
  }
  freeaddrinfo(ai);
  *actual = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                          : ((struct sockaddr_in *)&a)->sin_port);
  return s;
}

/* Out of sockets or buffers: the pending connection keeps FD_ACCEPT
 * signalled, so wait 100 ms (or the stop event) rather than spin, and say
 * so once every 10 s. */
static void accept_failed(int err, ULONGLONG *logged) {
  ULONGLONG now = GetTickCount64();
  if (err != WSAEMFILE && err != WSAENOBUFS)
    return;
  if (*logged == 0 || now - *logged >= 10000) {
    cli_log(
        NULL, HOTSSL_LOG_WARNING,
        err == WSAEMFILE
            ? "could not accept new connection: too many open sockets (WSAEMFILE); retrying every 100 ms"
            : "could not accept new connection: no buffer space (WSAENOBUFS); retrying every 100 ms");
    *logged = now;
  }
  WaitForSingleObject(g_stop, 100);
}

/* Accept and spawn (cli_spawner); until the stop event. */
static int serve_spawn(hotssl_manager *m, SOCKET lfd, const cli_serve_opts *o) {
  ULONGLONG logged = 0;
  cli_spawner sp;
  wchar_t wexe[MAX_PATH];
  HANDLE acc = WSACreateEvent(), wait[2];

  if (cli_spawner_init(&sp, m, o) != 0 || GetModuleFileNameW(NULL, wexe, MAX_PATH) == 0 ||
      WideCharToMultiByte(CP_UTF8, 0, wexe, -1, sp.exe, sizeof sp.exe, NULL, NULL) == 0 ||
      acc == WSA_INVALID_EVENT || WSAEventSelect(lfd, acc, FD_ACCEPT) != 0) {
    fprintf(stderr, "hotssl serve: cannot set up the accept loop\n");
    return 1;
  }
  wait[0] = g_stop;
  wait[1] = acc;
  for (;;) {
    /* Ended backends are reaped at least once a second. */
    DWORD w = WaitForMultipleObjects(2, wait, FALSE, 1000);
    SOCKET fd;
    u_long blocking = 0;
    cli_spawner_reap(&sp, 0);
    if (w == WAIT_OBJECT_0)
      break;
    if (w != WAIT_OBJECT_0 + 1)
      continue;
    WSAResetEvent(acc);
    if ((fd = accept(lfd, NULL, NULL)) == INVALID_SOCKET) {
      accept_failed(WSAGetLastError(), &logged);
      continue;
    }
    /* The accepted socket inherits the listener's event selection and
     * non-blocking mode: the backend wants a plain blocking socket. */
    WSAEventSelect(fd, NULL, 0);
    ioctlsocket(fd, FIONBIO, &blocking);
    /* mbedTLS sends each handshake message on its own: without this,
     * Nagle and the client's delayed ACK stall every handshake. */
    cli_sock_nodelay((int)fd);
    SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
    if (cli_refuse_over_limit(sp.n, o, (int)fd))
      continue;
    cli_spawner_serve(&sp, (int)fd);
  }
  cli_spawner_stop(&sp);
  WSACloseEvent(acc);
  return 0;
}

int cli_cmd_serve(int argc, char **argv) {
  cli_serve_opts o;
  hotssl_manager *m = NULL;
  int r, actual = 0;
  cli_watch *w = NULL;
  WSADATA wsa;
  SOCKET lfd;

  /* The same options, help and checks as on POSIX (cli_serve_options). */
  if ((r = cli_serve_args(argc, argv, &o)) < 0) {
    printf("\nOn Windows: --mode spawn only (the default; no fork), Ctrl+Break reloads, Ctrl+C stops.\n");
    return 0;
  }
  if (r != 0)
    return r;
  if (o.metrics_listen != NULL) {
    fprintf(stderr, "hotssl serve: --metrics-listen is not available on Windows (use hotssl_manager_metrics in a host)\n");
    return 2;
  }
  if ((r = cli_serve_open(&o, &m)) != 0)
    return r;
  if ((g_stop = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL || WSAStartup(MAKEWORD(2, 2), &wsa) != 0 ||
      (lfd = listen_on(o.listen, o.port, &actual)) == INVALID_SOCKET) {
    fprintf(stderr, "hotssl: FATAL:  could not listen on %s:%d\n", o.listen, o.port);
    hotssl_manager_destroy(m);
    return 1;
  }
  g_manager = m;
  SetConsoleCtrlHandler(on_console, TRUE);
  /* Reloads (file changes, Ctrl+Break) on a thread of their own. */
  if (cli_watch_start(m, o.watch, &w) != 0) {
    fprintf(stderr, "hotssl: FATAL:  could not start the %s\n", o.watch ? "file watcher" : "reload thread");
    closesocket(lfd);
    hotssl_manager_destroy(m);
    return 1;
  }
  printf("listening on %s:%d\n", o.listen, actual);
  fflush(stdout);
  r = serve_spawn(m, lfd, &o);
  closesocket(lfd);
  cli_watch_stop(w);
  g_manager = NULL;
  hotssl_manager_destroy(m);
  WSACleanup();
  cli_log(NULL, HOTSSL_LOG_INFO, "shut down");
  return r;
}
