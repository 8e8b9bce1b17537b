/*
 * A spawned backend never waits for its hand-off without a bound
 * (Windows; tests/platform/test_handoff_deadline.c is the POSIX
 * counterpart). This program plays the parent P of hotssl_spawn's protocol
 * (a one-instance named pipe, both ends overlapped, the client end
 * inherited; the hand-off text "hotssl1:w:<handle>" when a socket's
 * WSAPROTOCOL_INFOW comes first, "hotssl1:-1:<handle>" when only the
 * snapshot does) and runs itself as the backend B (hotssl_backend_open).
 * P stops at one of the two waits B makes before it serves:
 *   conn: P writes nothing (B waits for the socket's protocol info);
 *   snap: P writes half of a real snapshot (B waits for the rest);
 * and then P is either killed (TerminateProcess: B sees the pipe end at
 * once and fails with "closed the hand-off early") or stalls (alive, writing
 * nothing: B fails at its deadline, HOTSSL__HANDOFF_DEADLINE_MS = 30 s, with
 * "nothing ... arrived within 30000 ms"). The four cases run at once; each B
 * must exit with the code of its error class within the bound.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hotssl/hotssl.h"
#include "hotssl/platform.h"
#include "winlib.h"

#define DEADLINE_MS 30000 /* HOTSSL__HANDOFF_DEADLINE_MS */
#define CODE_DEADLINE 20
#define CODE_CLOSED 21

enum { CONN_KILLED, SNAP_KILLED, CONN_STALLED, SNAP_STALLED, NCASES };
static const char *const names[NCASES] = {"conn killed", "snap killed", "conn stalled", "snap stalled"};

/* B: exit with the class of hotssl_backend_open's error. */
static int backend(const char *handoff) {
  hotssl_manager *m = NULL;
  char err[1024];
  int fd = -1, r = hotssl_backend_open(handoff, &fd, &m, NULL, err, sizeof err);
  fprintf(stderr, "backend %lu: %s\n", (unsigned long)GetCurrentProcessId(),
          r == 0 ? "built its manager" : err);
  hotssl_manager_destroy(m);
  if (r == 0)
    return 0;
  if (strstr(err, "arrived within 30000 ms (the parent stopped writing)") != NULL)
    return CODE_DEADLINE;
  if (strstr(err, "closed the hand-off early") != NULL)
    return CODE_CLOSED;
  return 1;
}

/* P: start B on a fresh pipe, write what the case says, print B's pid, wait. */
static int parent(const char *what, const char *conf) {
  hotssl_manager *m = NULL;
  hotssl_snapshot *snap = NULL;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  OVERLAPPED ov;
  wchar_t name[96], exe[MAX_PATH], cmd[MAX_PATH + 128];
  const unsigned char *b;
  size_t len;
  DWORD done = 0;
  char err[600];
  int conn = strcmp(what, "conn") == 0;
  HANDLE srv, cli, ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (wl_manager_start(conf, &m, err, sizeof err) != 0 ||
      hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &snap) != 0)
    return 2;
  b = hotssl_snapshot_bytes(snap, &len);
  _snwprintf(name, 96, L"\\\\.\\pipe\\hotssl-test-%lu", (unsigned long)GetCurrentProcessId());
  srv = CreateNamedPipeW(
      name, PIPE_ACCESS_OUTBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536, 65536, 0, NULL);
  cli = CreateFileW(name, GENERIC_READ, 0, &sa, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  if (srv == INVALID_HANDLE_VALUE || cli == INVALID_HANDLE_VALUE || ev == NULL)
    return 2;
  GetModuleFileNameW(NULL, exe, MAX_PATH);
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" backend hotssl1:%ls:%llu", exe,
             conn ? L"w" : L"-1", (unsigned long long)(uintptr_t)cli);
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
    return 2;
  CloseHandle(cli);
  if (!conn) {
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!WriteFile(srv, b, (DWORD)(len / 2), NULL, &ov) && GetLastError() != ERROR_IO_PENDING)
      return 2;
    if (!GetOverlappedResult(srv, &ov, &done, TRUE) || done != len / 2)
      return 2;
  }
  printf("backend %lu\n", (unsigned long)pi.dwProcessId);
  fflush(stdout);
  Sleep(INFINITE); /* killed by the test, or stalled until the test ends it */
  return 0;
}

typedef struct hcase {
  HANDLE parent, backend;
  uint64_t t0, t1;
  DWORD code;
} hcase;

static void start(hcase *c, int which, const char *conf) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  wchar_t exe[MAX_PATH], cmd[2 * MAX_PATH + 64], wconf[MAX_PATH];
  HANDLE rd, wr;
  char line[64];
  DWORD got = 0, n;
  unsigned long pid = 0;
  memset(c, 0, sizeof *c);
  WL_CHECK(CreatePipe(&rd, &wr, &sa, 0));
  SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
  GetModuleFileNameW(NULL, exe, MAX_PATH);
  MultiByteToWideChar(CP_UTF8, 0, conf, -1, wconf, MAX_PATH);
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" parent %ls \"%ls\"", exe,
             which == CONN_KILLED || which == CONN_STALLED ? L"conn" : L"snap", wconf);
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = NULL;
  si.hStdOutput = wr;
  si.hStdError = NULL;
  WL_CHECK(CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
  CloseHandle(wr);
  CloseHandle(pi.hThread);
  c->parent = pi.hProcess;
  while (got < sizeof line - 1 && ReadFile(rd, line + got, 1, &n, NULL) && n == 1 && line[got] != '\n')
    got++;
  line[got] = '\0';
  CloseHandle(rd);
  WL_CHECK(sscanf(line, "backend %lu", &pid) == 1);
  c->backend = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  WL_CHECK(c->backend != NULL);
  if (which == CONN_KILLED || which == SNAP_KILLED) {
    TerminateProcess(c->parent, 9);
    WaitForSingleObject(c->parent, INFINITE);
  }
  c->t0 = GetTickCount64();
}

int main(int argc, char **argv) {
  char *dir, *conf, *pc, *pk, *crt, *key;
  hcase c[NCASES];
  uint64_t end;
  int i;

  if (argc == 3 && strcmp(argv[1], "backend") == 0)
    return backend(argv[2]);
  if (argc == 4 && strcmp(argv[1], "parent") == 0)
    return parent(argv[2], argv[3]);
  dir = wl_mkdtemp();
  conf = wl_path(dir, "tls.conf");
  pc = wl_path(dir, "server.crt");
  pk = wl_path(dir, "server.key");
  WL_CHECK(wl_make_pair("deadline", 1, &crt, &key) == 0);
  wl_write(pc, crt);
  wl_write(pk, key);
  wl_write(conf, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
  for (i = 0; i < NCASES; i++)
    start(&c[i], i, conf);
  /* Every backend exits within the deadline plus a generous margin. */
  end = GetTickCount64() + 2 * DEADLINE_MS + 30000;
  for (i = 0; i < NCASES; i++) {
    uint64_t now = GetTickCount64();
    if (c[i].backend == NULL)
      continue;
    WL_CHECK(WaitForSingleObject(c[i].backend, now < end ? (DWORD)(end - now) : 0) == WAIT_OBJECT_0);
    c[i].t1 = GetTickCount64();
    GetExitCodeProcess(c[i].backend, &c[i].code);
  }
  for (i = 0; i < NCASES; i++) {
    int killed = i == CONN_KILLED || i == SNAP_KILLED;
    uint64_t took = c[i].t1 - c[i].t0;
    printf("%-12s backend exited with %lu after about %llu ms\n", names[i], (unsigned long)c[i].code,
           (unsigned long long)took);
    WL_CHECK(c[i].code == (DWORD)(killed ? CODE_CLOSED : CODE_DEADLINE));
    if (killed)
      WL_CHECK(took < DEADLINE_MS / 2);
    else
      WL_CHECK(took > DEADLINE_MS / 2);
    TerminateProcess(c[i].parent, 0);
    WaitForSingleObject(c[i].parent, INFINITE);
    CloseHandle(c[i].parent);
    if (c[i].backend != NULL)
      CloseHandle(c[i].backend);
  }
  wl_rmtree(dir);
  free(dir);
  free(conf);
  free(pc);
  free(pk);
  free(crt);
  free(key);
  return wl_finish("test_win_handoff_deadline");
}
