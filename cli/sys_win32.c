/*
 * What `hotssl serve` and `hotssl __backend` need of Windows (sys.h): the
 * socket calls of session.c, the backend's console set-up, the --mode
 * check, stopping a backend, and the folder, files and listener of
 * `hotssl demo`. POSIX has sys_posix.c instead. Calls
 * nothing else in cli/.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <sddl.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

/* The socket calls of session.c. */
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

void cli_sock_shutdown_write(int fd) { (void)shutdown((SOCKET)(uintptr_t)fd, SD_SEND); }

int cli_sock_wait_readable(int fd, int ms) {
  fd_set r;
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  FD_ZERO(&r);
  FD_SET((SOCKET)(uintptr_t)fd, &r);
  return select(0, &r, NULL, NULL, &tv) > 0;
}

long long cli_now_ms(void) { return (long long)GetTickCount64(); }

void cli_backend_os_enter(void) { SetConsoleCtrlHandler(NULL, TRUE); }

void cli_set_dumpable(int allow) { (void)allow; }

void cli_backend_os_leave(void) { WSACleanup(); /* the reference hotssl_backend_open took */ }

int cli_serve_check_mode(const char *given, const char **mode) {
  if (given != NULL && strcmp(given, "spawn") != 0) {
    fprintf(stderr, "hotssl serve: mode \"%s\" is not available on Windows (spawn only: no fork)\n", given);
    return 2;
  }
  *mode = "spawn";
  return 0;
}

void cli_process_stop(long pid) {
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
  if (h != NULL) {
    TerminateProcess(h, 1);
    CloseHandle(h);
  }
}

/* `hotssl demo` (sys.h). */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
  if (w != NULL)
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

int cli_demo_dir(char *dir, size_t len) {
  char base[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof base, base);
  unsigned i;
  if (n == 0 || n >= sizeof base)
    return -1;
  for (i = 0; i < 100; i++) {
    if (snprintf(dir, len, "%shotssl-demo-%lu-%u", base, (unsigned long)GetCurrentProcessId(), i) >=
        (int)len)
      return -1;
    if (CreateDirectoryA(dir, NULL))
      return 0;
    if (GetLastError() != ERROR_ALREADY_EXISTS)
      return -1;
  }
  return -1;
}

/* A protected DACL: full access for SYSTEM and this user only (the key-file
 * check's rule). LocalFree. */
static PSECURITY_DESCRIPTOR private_sd(void) {
  HANDLE tok;
  char ubuf[256], sddl[256];
  LPSTR user = NULL;
  DWORD n;
  PSECURITY_DESCRIPTOR sd = NULL;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
    return NULL;
  if (GetTokenInformation(tok, TokenUser, ubuf, sizeof ubuf, &n) &&
      ConvertSidToStringSidA(((TOKEN_USER *)ubuf)->User.Sid, &user)) {
    snprintf(sddl, sizeof sddl, "D:P(A;;FA;;;SY)(A;;FA;;;%s)", user);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL))
      sd = NULL;
    LocalFree(user);
  }
  CloseHandle(tok);
  return sd;
}

int cli_write_replace(const char *dir, const char *name, const char *text, int private_file) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  char tmp[MAX_PATH * 2], path[MAX_PATH * 2];
  wchar_t *wt, *wp;
  DWORD done = 0, len = (DWORD)strlen(text);
  HANDLE h;
  int r = -1;
  snprintf(tmp, sizeof tmp, "%s\\.%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s\\%s", dir, name);
  wt = wide(tmp);
  wp = wide(path);
  /* The DACL is given at creation: Wine maps a creation-time DACL to the
   * file's Unix mode. */
  if (private_file && (sa.lpSecurityDescriptor = private_sd()) == NULL)
    goto out;
  h = wt != NULL && wp != NULL
          ? CreateFileW(wt, GENERIC_WRITE, 0, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL)
          : INVALID_HANDLE_VALUE;
  if (h == INVALID_HANDLE_VALUE)
    goto out;
  if (WriteFile(h, text, len, &done, NULL) && done == len)
    r = 0;
  CloseHandle(h);
  if (r == 0 && !MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING))
    r = -1;
out:
  if (sa.lpSecurityDescriptor != NULL)
    LocalFree(sa.lpSecurityDescriptor);
  free(wt);
  free(wp);
  return r;
}

void cli_remove_dir(const char *dir) {
  WIN32_FIND_DATAA f;
  char pattern[MAX_PATH * 2], path[MAX_PATH * 2];
  HANDLE h;
  snprintf(pattern, sizeof pattern, "%s\\*", dir);
  if ((h = FindFirstFileA(pattern, &f)) != INVALID_HANDLE_VALUE) {
    do {
      if (!(f.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        snprintf(path, sizeof path, "%s\\%s", dir, f.cFileName);
        DeleteFileA(path);
      }
    } while (FindNextFileA(h, &f));
    FindClose(h);
  }
  if (!RemoveDirectoryA(dir))
    fprintf(stderr, "hotssl demo: could not remove %s\n", dir);
}

int cli_demo_listen(int *port) {
  struct sockaddr_in a;
  int alen = sizeof a;
  WSADATA wsa;
  SOCKET s;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
    return -1;
  s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
      getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
    if (s != INVALID_SOCKET)
      closesocket(s);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return (int)s;
}

int cli_demo_accept(int lfd) {
  SOCKET s = accept((SOCKET)(uintptr_t)lfd, NULL, NULL);
  if (s == INVALID_SOCKET)
    return -1;
  cli_sock_nodelay((int)s);
  return (int)s;
}
