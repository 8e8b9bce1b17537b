/*
 * `hotssl serve` and its backends on Windows (the POSIX build uses serve.c,
 * serve_modes.c and backend.c instead; main.c, watch.c are shared).
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
 * `hotssl __backend HANDOFF [--starttls-postgres]` is the backend: it builds
 * its own generation from what the parent handed over and serves the one
 * connection (TLS echo, as on POSIX); a backend that cannot build one has no
 * TLS, logs why, answers 'N' to an SSLRequest or closes. Nothing else is
 * affected.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "hotssl/platform.h"
#include "cli.h"
#include "serve.h"

int cli_cmd_backend(int argc, char **argv);

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

static int send_byte(int fd, char c) { return send((SOCKET)(uintptr_t)fd, &c, 1, 0) == 1 ? 0 : -1; }

int cli_read_sslrequest(int fd) {
  unsigned char b[8];
  for (;;) {
    uint32_t len, code;
    int got = 0;
    while (got < 8) {
      int r = recv((SOCKET)(uintptr_t)fd, (char *)b + got, 8 - got, 0);
      if (r <= 0)
        return -1;
      got += r;
    }
    len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    code = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    if (len != 8)
      return -1;
    if (code == 80877103u) /* SSLRequest */
      return 0;
    if (code != 80877104u || send_byte(fd, 'N') != 0) /* GSSENCRequest: refuse */
      return -1;
  }
}

/* TLS echo until the peer closes (the same session as serve.c's). */
int cli_serve_connection(hotssl_generation *g, int fd, int starttls_postgres) {
  mbedtls_ssl_context ssl;
  mbedtls_net_context net;
  unsigned char buf[4096];
  char err[200], line[300];
  int ret, n;

  if (starttls_postgres && (cli_read_sslrequest(fd) != 0 || send_byte(fd, 'S') != 0))
    return -1;
  net.fd = fd;
  mbedtls_ssl_init(&ssl);
  if ((ret = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g))) == 0) {
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
           ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      ;
  }
  while (ret == 0) {
    n = mbedtls_ssl_read(&ssl, buf, sizeof buf);
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == MBEDTLS_ERR_NET_CONN_RESET) {
      mbedtls_ssl_close_notify(&ssl);
      break;
    }
    if (n < 0) {
      ret = n;
      break;
    }
    for (int off = 0; off < n;) {
      int w = mbedtls_ssl_write(&ssl, buf + off, (size_t)(n - off));
      if (w == MBEDTLS_ERR_SSL_WANT_READ || w == MBEDTLS_ERR_SSL_WANT_WRITE)
        continue;
      if (w < 0) {
        ret = w;
        break;
      }
      off += w;
    }
  }
  if (ret != 0) {
    mbedtls_strerror(ret, err, sizeof err);
    snprintf(line, sizeof line, "could not serve SSL connection: %s (-0x%04X)", err, (unsigned)-ret);
    cli_log(NULL, HOTSSL_LOG_INFO, line);
  }
  mbedtls_ssl_free(&ssl);
  return ret == 0 ? 0 : -1;
}

int cli_cmd_backend(int argc, char **argv) {
  hotssl_manager_options mo;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  char err[600], line[800];
  int fd = -1, r, starttls = 0, i;

  if (argc < 2) {
    fprintf(stderr, "hotssl __backend: internal subcommand of `hotssl serve --mode spawn`\n");
    return 2;
  }
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--starttls-postgres") != 0)
      return 2;
    starttls = 1;
  }
  SetConsoleCtrlHandler(NULL, TRUE); /* reloads and stops are the parent's business */
  memset(&mo, 0, sizeof mo);
  mo.log = cli_log;
  r = hotssl_backend_open(argv[1], &fd, &m, &mo, err, sizeof err);
  if (r != 0) {
    snprintf(line, sizeof line, "this backend has no TLS: %s", err);
    cli_log(NULL, HOTSSL_LOG_ERROR, line);
    if (fd >= 0) {
      if (starttls && cli_read_sslrequest(fd) == 0 && send_byte(fd, 'N') == 0)
        cli_log(NULL, HOTSSL_LOG_INFO, "answered the SSLRequest with 'N'");
      closesocket((SOCKET)(uintptr_t)fd);
    }
    return 1;
  }
  g = hotssl_manager_acquire(m);
  snprintf(line, sizeof line, "backend serving generation %llu",
           (unsigned long long)hotssl_generation_number(g));
  cli_log(NULL, HOTSSL_LOG_DEBUG, line);
  r = cli_serve_connection(g, fd, starttls);
  hotssl_generation_release(g);
  closesocket((SOCKET)(uintptr_t)fd);
  hotssl_manager_destroy(m);
  WSACleanup(); /* the reference hotssl_backend_open took */
  return r == 0 ? 0 : 1;
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
    {
      /* mbedTLS sends each handshake message on its own: without this,
       * Nagle and the client's delayed ACK stall every handshake. */
      BOOL one = TRUE;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    }
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
