/*
 * What `hotssl serve` and `hotssl __backend` need of Windows (sys.h): the
 * socket calls of session.c, the backend's console set-up, the --mode
 * check and stopping a backend. POSIX has sys_posix.c instead. Calls
 * nothing else in cli/.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

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
