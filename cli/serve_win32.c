/*
 * `hotssl serve` on Windows (the POSIX build uses serve.c and serve_modes.c
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
 * server. The main loop waits on the listening socket's event, the
 * manager's wake-up event and the stop event.
 *
 * `hotssl __backend` (session.c, as on POSIX) is the backend; what it needs
 * of Windows is here: the socket calls and the console set-up of serve.h.
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

/* serve.h's OS calls for session.c (Windows). */
int cli_sock_recv(int fd, void *buf, size_t n) {
  int r = recv((SOCKET)(uintptr_t)fd, (char *)buf, n > INT_MAX ? INT_MAX : (int)n, 0);
  return r < 0 ? -1 : r;
}

int cli_sock_send_byte(int fd, char c) { return send((SOCKET)(uintptr_t)fd, &c, 1, 0) == 1 ? 0 : -1; }

void cli_sock_nodelay(int fd) {
  BOOL one = TRUE;
  setsockopt((SOCKET)(uintptr_t)fd, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
}

void cli_sock_close(int fd) { closesocket((SOCKET)(uintptr_t)fd); }

void cli_backend_os_enter(void) { SetConsoleCtrlHandler(NULL, TRUE); }

void cli_backend_os_leave(void) { WSACleanup(); /* the reference hotssl_backend_open took */ }

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

typedef struct kids {
  hotssl_process **v;
  size_t n, cap;
} kids;

static void reap(kids *k, int block) {
  size_t i = 0;
  while (i < k->n) {
    if (hotssl_process_wait(k->v[i], block, NULL) != 0) {
      hotssl_process_destroy(k->v[i]);
      k->v[i] = k->v[--k->n];
    } else {
      i++;
    }
  }
}

static void warn(const char *what, const char *why) {
  char line[800];
  snprintf(line, sizeof line, "%s: %s", what, why);
  cli_log(NULL, HOTSSL_LOG_WARNING, line);
}

/* Accept, snapshot once per generation, spawn; until the stop event. */
static int serve_spawn(hotssl_manager *m, SOCKET lfd, unsigned kind, int starttls) {
  kids k = {NULL, 0, 0};
  hotssl_snapshot *snap = NULL;
  wchar_t wexe[MAX_PATH];
  char exe[4 * MAX_PATH], err[600];
  const char *argv[5];
  HANDLE acc = WSACreateEvent(), wait[3];
  size_t i;

  if (GetModuleFileNameW(NULL, wexe, MAX_PATH) == 0 ||
      WideCharToMultiByte(CP_UTF8, 0, wexe, -1, exe, sizeof exe, NULL, NULL) == 0 ||
      acc == WSA_INVALID_EVENT || WSAEventSelect(lfd, acc, FD_ACCEPT) != 0) {
    fprintf(stderr, "hotssl serve: cannot set up the accept loop\n");
    return 1;
  }
  argv[0] = exe;
  argv[1] = "__backend";
  argv[2] = HOTSSL_SPAWN_HANDOFF_ARG;
  argv[3] = starttls ? "--starttls-postgres" : NULL;
  argv[4] = NULL;
  wait[0] = g_stop;
  wait[1] = (HANDLE)(intptr_t)hotssl_manager_wakeup_fd(m);
  wait[2] = acc;
  for (;;) {
    /* Ended backends are reaped at least once a second. */
    DWORD w = WaitForMultipleObjects(3, wait, FALSE, 1000);
    hotssl_spawn_request req;
    hotssl_process *p = NULL;
    hotssl_generation *g;
    uint64_t cur;
    SOCKET fd;
    u_long blocking = 0;
    int r;
    reap(&k, 0);
    if (w == WAIT_OBJECT_0)
      break;
    if (w == WAIT_OBJECT_0 + 1)
      hotssl_manager_dispatch(m); /* Ctrl+Break */
    if (w != WAIT_OBJECT_0 + 2)
      continue;
    WSAResetEvent(acc);
    if ((fd = accept(lfd, NULL, NULL)) == INVALID_SOCKET)
      continue;
    /* The accepted socket inherits the listener's event selection and
     * non-blocking mode: the backend wants a plain blocking socket. */
    WSAEventSelect(fd, NULL, 0);
    ioctlsocket(fd, FIONBIO, &blocking);
    /* mbedTLS sends each handshake message on its own: without this,
     * Nagle and the client's delayed ACK stall every handshake. */
    cli_sock_nodelay((int)fd);
    SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
    g = hotssl_manager_acquire(m);
    cur = hotssl_generation_number(g);
    hotssl_generation_release(g);
    if (snap == NULL || hotssl_snapshot_generation(snap) != cur) {
      hotssl_snapshot_destroy(snap);
      snap = NULL;
      if ((r = hotssl_snapshot_take(m, kind, &snap)) != 0) {
        warn("could not take a snapshot", hotssl_strerror(r));
        closesocket(fd);
        continue;
      }
    }
    req.program = exe;
    req.argv = argv;
    req.conn_fd = (int)fd;
    req.snapshot = snap;
    r = hotssl_spawn(m, &req, &p, err, sizeof err);
    closesocket(fd);
    if (r != 0)
      warn("could not start a backend", err);
    if (p != NULL) {
      if (k.n == k.cap) {
        size_t cap = k.cap ? 2 * k.cap : 64;
        hotssl_process **nv = realloc(k.v, cap * sizeof *nv);
        if (nv == NULL) {
          hotssl_process_wait(p, 1, NULL);
          hotssl_process_destroy(p);
          continue;
        }
        k.v = nv;
        k.cap = cap;
      }
      k.v[k.n++] = p;
    }
  }
  for (i = 0; i < k.n; i++) {
    HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)hotssl_process_pid(k.v[i]));
    if (h != NULL) {
      TerminateProcess(h, 1);
      CloseHandle(h);
    }
  }
  reap(&k, 1);
  free(k.v);
  hotssl_snapshot_destroy(snap);
  WSACloseEvent(acc);
  return 0;
}

int cli_cmd_serve(int argc, char **argv) {
  static const char *const strategies[] = {"snapshot", "reread", NULL};
  static const char *const backends[] = {"auto", "notify", "inotify", "poll", NULL};
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  hotssl_manager_options mo = {0};
  const char *v[9], *conf, *host, *env;
  char err[600];
  int r, actual = 0, watch = -1, starttls, help;
  unsigned long port;
  unsigned kind;
  cli_watch *w = NULL;
  WSADATA wsa;
  SOCKET lfd;

  /* The same options, help and checks as on POSIX (cli_serve_options). */
  if ((r = cli_parse_args("serve", cli_serve_options, argc, argv, v, &help)) != 0)
    return r;
  if (help) {
    cli_help(stdout, "serve");
    printf("\nOn Windows: --mode spawn only (the default; no fork), Ctrl+Break reloads, Ctrl+C stops.\n");
    return 0;
  }
  if (v[0] == NULL || v[1] == NULL) {
    fprintf(stderr, "hotssl serve: %s is required\nTry \"hotssl serve --help\".\n",
            v[0] == NULL ? "-c/--config CONF" : "-p/--port PORT (0 picks a free port)");
    return 2;
  }
  if (cli_parse_uint("serve", "-p/--port", v[1], 0, 65535, &port) != 0)
    return 2;
  conf = v[0];
  host = v[2] != NULL ? v[2] : "127.0.0.1";
  if (v[3] != NULL && strcmp(v[3], "spawn") != 0) {
    fprintf(stderr, "hotssl serve: mode \"%s\" is not available on Windows (spawn only: no fork)\n", v[3]);
    return 2;
  }
  if (cli_parse_choice("serve", "--spawn-strategy", v[4] != NULL ? v[4] : "snapshot", strategies) < 0)
    return 2;
  kind = v[4] != NULL && strcmp(v[4], "reread") == 0 ? HOTSSL_SNAPSHOT_PATHS : HOTSSL_SNAPSHOT_CONTENTS;
  starttls = v[5] != NULL;
  if (v[6] != NULL && v[7] != NULL) {
    fprintf(stderr, "hotssl serve: --watch and --no-watch contradict each other\n");
    return 2;
  }
  if (v[6] != NULL)
    watch = 1;
  if (v[7] != NULL)
    watch = 0;
  env = getenv("HOTSSL_WATCH_BACKEND");
  if (env != NULL && env[0] != '\0' &&
      cli_parse_choice("serve", "the environment variable HOTSSL_WATCH_BACKEND", env, backends) < 0)
    return 2;
  if ((r = cli_load_config(conf, &cfg)) != 0)
    return r;
  mo.log = cli_log;
  if ((r = hotssl_manager_create(&m, cfg, &mo, err, sizeof err)) != 0) {
    fprintf(stderr, "hotssl[%lu]: FATAL:  could not start: %s\n", (unsigned long)GetCurrentProcessId(), err);
    hotssl_config_destroy(cfg);
    return 1;
  }
  if (watch < 0) {
    const char *hw = hotssl_config_get(cfg, "hotssl_watch");
    watch = hw != NULL && (strcmp(hw, "on") == 0 || strcmp(hw, "true") == 0 || strcmp(hw, "yes") == 0 ||
                           strcmp(hw, "1") == 0);
  }
  hotssl_config_destroy(cfg);
  if ((g_stop = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL || WSAStartup(MAKEWORD(2, 2), &wsa) != 0 ||
      (lfd = listen_on(host, (int)port, &actual)) == INVALID_SOCKET) {
    fprintf(stderr, "hotssl: FATAL:  could not listen on %s:%lu\n", host, port);
    hotssl_manager_destroy(m);
    return 1;
  }
  g_manager = m;
  SetConsoleCtrlHandler(on_console, TRUE);
  if (watch && cli_watch_start(m, 1, &w) != 0) {
    fprintf(stderr, "hotssl: FATAL:  could not start the file watcher\n");
    closesocket(lfd);
    hotssl_manager_destroy(m);
    return 1;
  }
  printf("listening on %s:%d\n", host, actual);
  fflush(stdout);
  r = serve_spawn(m, lfd, kind, starttls);
  closesocket(lfd);
  cli_watch_stop(w);
  g_manager = NULL;
  hotssl_manager_destroy(m);
  WSACleanup();
  cli_log(NULL, HOTSSL_LOG_INFO, "shut down");
  return r;
}

int cli_cmd_demo(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hotssl demo: not available on Windows; run `hotssl serve --mode spawn` "
                  "(README, \"Windows\")\n");
  return 2;
}
