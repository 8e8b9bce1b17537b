/*
 * host_exec_server.c's Windows counterpart: a process-per-connection TLS
 * echo server that starts its own backends, the way PostgreSQL's
 * internal_forkexec does on Windows, and hands each one hotssl's snapshot
 * through its own channel. No hotssl_spawn: per connection the host
 *   - takes a snapshot once per generation (the watcher reloads on file
 *     change on its own thread; Ctrl+Break asks for a reload);
 *   - creates the backend suspended with CreateProcessW and a
 *     PROC_THREAD_ATTRIBUTE_HANDLE_LIST naming only an anonymous file mapping
 *     (paging-file backed, no name) and its stderr;
 *   - fills the mapping with the socket's WSAPROTOCOL_INFOW
 *     (WSADuplicateSocketW needs the backend's pid), the snapshot's length
 *     and its bytes, then resumes the backend.
 * The backend (this program with --backend HANDLE) maps the parameters,
 * copies the snapshot, zeroizes and closes the mapping, takes the socket
 * over and builds its manager with hotssl_manager_create_from_snapshot. It
 * never waits on the parent: everything is in place before it runs.
 *   host_exec_win32 CONF
 */
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>
#include <hotssl/watcher.h>

#include "example_common.h"

#define MAX_SNAPSHOT (64u << 20)

typedef struct params { /* the mapping's head; the snapshot's bytes follow */
  char magic[8];        /* "hsparam1" */
  WSAPROTOCOL_INFOW sock;
  uint64_t len;
} params;

static hotssl_manager *mgr;

static BOOL WINAPI on_console(DWORD ev) {
  if (ev != CTRL_BREAK_EVENT)
    return FALSE;
  hotssl_manager_request_reload(mgr);
  return TRUE;
}

static void logline(void *ud, hotssl_log_level lv, const char *msg) {
  fprintf(stderr, "%s[%lu] %s: %s\n", (const char *)ud, (unsigned long)GetCurrentProcessId(),
          hotssl_log_level_name(lv), msg);
}

/* Backend: the parameters out of the mapping (then zeroized), the socket,
 * the manager, one TLS echo session. */
static int backend(const char *handle) {
  hotssl_manager_options mo = {.log = logline, .log_userdata = (void *)"backend"};
  hotssl_manager *m = NULL;
  HANDLE map = (HANDLE)(uintptr_t)_strtoui64(handle, NULL, 10);
  MEMORY_BASIC_INFORMATION mi;
  unsigned char *bytes = NULL;
  char err[512] = "unreadable parameters";
  params *p = MapViewOfFile(map, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
  SOCKET sk = INVALID_SOCKET;
  WSADATA wsa;
  size_t len = 0, avail = 0;
  if (p != NULL && VirtualQuery(p, &mi, sizeof mi) == sizeof mi)
    avail = mi.RegionSize; /* what the view maps: bounds the length field */
  if (avail >= sizeof *p && memcmp(p->magic, "hsparam1", 8) == 0 && p->len <= MAX_SNAPSHOT &&
      p->len <= avail - sizeof *p && (bytes = malloc((size_t)p->len)) != NULL &&
      WSAStartup(MAKEWORD(2, 2), &wsa) == 0) {
    len = (size_t)p->len;
    memcpy(bytes, p + 1, len);
    sk = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &p->sock, 0, 0);
  }
  if (p != NULL) {
    mbedtls_platform_zeroize(p, avail); /* this copy of the key: gone before we serve */
    UnmapViewOfFile(p);
  }
  CloseHandle(map);
  if (sk == INVALID_SOCKET ||
      hotssl_manager_create_from_snapshot(&m, bytes, len, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "backend[%lu] ERROR: this backend has no TLS: %s\n",
            (unsigned long)GetCurrentProcessId(), err);
    if (sk != INVALID_SOCKET)
      closesocket(sk);
    if (bytes != NULL)
      mbedtls_platform_zeroize(bytes, len);
    free(bytes);
    return 1;
  }
  mbedtls_platform_zeroize(bytes, len);
  free(bytes);
  {
    hotssl_generation *g = hotssl_manager_acquire(m);
    fprintf(stderr, "backend[%lu] LOG: built from the host's snapshot (generation %llu)\n",
            (unsigned long)GetCurrentProcessId(), (unsigned long long)hotssl_generation_number(g));
    example_tls_echo(g, (int)sk, 0);
    hotssl_generation_release(g);
  }
  hotssl_manager_destroy(m);
  closesocket(sk);
  return 0;
}

/* Parent: start one backend for sock with snapshot bytes b. The process
 * handle goes to *proc (NULL on failure). */
static void start_backend(const wchar_t *exe, SOCKET sock, const unsigned char *b, size_t len,
                          HANDLE *proc) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  STARTUPINFOEXW si;
  PROCESS_INFORMATION pi;
  SIZE_T attr_size = 0;
  HANDLE map, err = NULL, list[2];
  wchar_t cmd[MAX_PATH + 64];
  params *p = NULL;
  DWORD nlist = 0;
  *proc = NULL;
  /* Inheritable (for the list), readable and writable (the backend zeroizes it). */
  map = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, (DWORD)(sizeof *p + len), NULL);
  if (map == NULL)
    return;
  list[nlist++] = map;
  if (DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE), GetCurrentProcess(), &err, 0,
                      TRUE, DUPLICATE_SAME_ACCESS))
    list[nlist++] = err;
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdError = err;
  InitializeProcThreadAttributeList(NULL, 1, 0, &attr_size);
  si.lpAttributeList = malloc(attr_size);
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" --backend %llu", exe,
             (unsigned long long)(uintptr_t)map);
  if (si.lpAttributeList != NULL &&
      InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &attr_size) &&
      UpdateProcThreadAttribute(si.lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, list,
                                nlist * sizeof list[0], NULL, NULL) &&
      CreateProcessW(exe, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT, NULL,
                     NULL, &si.StartupInfo, &pi)) {
    if ((p = MapViewOfFile(map, FILE_MAP_WRITE, 0, 0, 0)) != NULL &&
        WSADuplicateSocketW(sock, pi.dwProcessId, &p->sock) == 0) {
      memcpy(p->magic, "hsparam1", 8);
      p->len = len;
      memcpy(p + 1, b, len);
      ResumeThread(pi.hThread);
      *proc = pi.hProcess;
    } else {
      TerminateProcess(pi.hProcess, 1);
      CloseHandle(pi.hProcess);
    }
    CloseHandle(pi.hThread);
  }
  if (p != NULL)
    UnmapViewOfFile(p); /* the same pages as the backend's view: the backend zeroizes them */
  if (si.lpAttributeList != NULL)
    DeleteProcThreadAttributeList(si.lpAttributeList);
  free(si.lpAttributeList);
  if (err != NULL)
    CloseHandle(err);
  CloseHandle(map);
}

int main(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {.log = logline, .log_userdata = (void *)"host"};
  hotssl_watcher *watcher = NULL;
  hotssl_snapshot *snap = NULL;
  HANDLE kids[256] = {0}, ev[2];
  struct sockaddr_in a = {0};
  int alen = sizeof a, i;
  wchar_t exe[MAX_PATH];
  char err[512];
  WSADATA wsa;
  SOCKET lfd;

  if (argc == 3 && strcmp(argv[1], "--backend") == 0)
    return backend(argv[2]);
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONF\n", argv[0]);
    return 2;
  }
  if (GetModuleFileNameW(NULL, exe, MAX_PATH) == 0 || WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
    return 1;
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&mgr, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return 1;
  }
  hotssl_config_destroy(cfg);
  hotssl_watcher_create(&watcher, mgr, NULL); /* reloads on file change, own thread */
  lfd = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                   WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd == INVALID_SOCKET || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(lfd, 128) != 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
    return 1;
  SetConsoleCtrlHandler(on_console, TRUE);
  ev[0] = (HANDLE)(intptr_t)hotssl_manager_wakeup_fd(mgr); /* an event on Windows */
  ev[1] = WSACreateEvent();
  WSAEventSelect(lfd, ev[1], FD_ACCEPT);
  printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    DWORD w = WaitForMultipleObjects(2, ev, FALSE, 1000); /* 1 s: reap ended backends */
    hotssl_generation *g;
    const unsigned char *b;
    u_long blocking = 0;
    size_t len;
    SOCKET fd;
    int slot = -1;
    for (i = 0; i < 256; i++)
      if (kids[i] != NULL && WaitForSingleObject(kids[i], 0) == WAIT_OBJECT_0) {
        CloseHandle(kids[i]);
        kids[i] = NULL;
      }
    if (w == WAIT_OBJECT_0)
      hotssl_manager_dispatch(mgr);
    if (w != WAIT_OBJECT_0 + 1)
      continue;
    WSAResetEvent(ev[1]);
    if ((fd = accept(lfd, NULL, NULL)) == INVALID_SOCKET)
      continue;
    WSAEventSelect(fd, NULL, 0);         /* accepted sockets inherit the selection: undo it, */
    ioctlsocket(fd, FIONBIO, &blocking); /* and hand over a blocking socket */
    g = hotssl_manager_acquire(mgr);     /* a new snapshot once per generation (after a good reload) */
    if (snap == NULL || hotssl_snapshot_generation(snap) != hotssl_generation_number(g)) {
      hotssl_snapshot_destroy(snap); /* zeroizes */
      snap = NULL;
      hotssl_snapshot_take(mgr, HOTSSL_SNAPSHOT_CONTENTS, &snap);
    }
    hotssl_generation_release(g);
    for (i = 0; i < 256 && slot < 0; i++)
      if (kids[i] == NULL)
        slot = i;
    if (snap != NULL && slot >= 0 && (b = hotssl_snapshot_bytes(snap, &len)) != NULL)
      start_backend(exe, fd, b, len, &kids[slot]);
    if (slot < 0 || kids[slot] == NULL)
      fprintf(stderr, "host ERROR: could not start a backend\n");
    closesocket(fd); /* the backend has its own socket */
  }
}
