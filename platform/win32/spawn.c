/*
 * Spawn (Windows): process-per-connection backends started with
 * CreateProcessW, the hand-off of the accepted socket and of a snapshot, and
 * the backend side that reads them. platform/posix/spawn.c is the POSIX
 * counterpart; the hand-off text has the same shape.
 *
 * Handles. The backend inherits exactly what PROC_THREAD_ATTRIBUTE_HANDLE_LIST
 * names: inheritable duplicates of the parent's stdin/stdout/stderr (when it
 * has them) and the read end of a pipe. Nothing else is inherited even when
 * other handles of the host are inheritable. The duplicates exist only while
 * CreateProcessW runs, under the manager's spawn_lock (which the passphrase
 * command's creation also takes; a reload in progress does not hold it), so
 * the library's only other child (the passphrase command, started by APR
 * with every inheritable handle) cannot catch them.
 *
 * The pipe is a named pipe with one instance, created for this backend only
 * (a unique name, PIPE_REJECT_REMOTE_CLIENTS, the creator's default DACL):
 * the parent opens the client end itself, inheritable, before the name could
 * be used by anyone else; if anyone had, the second open fails and the
 * spawn fails. Both ends are overlapped, so every write and every read is
 * bounded by HOTSSL__HANDOFF_DEADLINE_MS: a backend that stalls does not hang
 * the parent, and a parent that stops writing (stalled, or dead while
 * another process still holds its end) leaves a backend that fails with an
 * error line within the bound; a parent that dies closes its end and the
 * backend fails at once.
 *
 * The socket. WSADuplicateSocketW needs the backend's process id, so it runs
 * after CreateProcessW; the WSAPROTOCOL_INFOW it fills goes first into the
 * pipe, then the snapshot. The backend makes its own socket from it
 * (WSASocketW with FROM_PROTOCOL_INFO), as PostgreSQL's EXEC_BACKEND does.
 *
 * Hand-off text: "hotssl1:w:<pipe handle>" (a socket follows in the pipe) or
 * "hotssl1:-1:<pipe handle>" (no connection); handle values are valid in the
 * backend because the handle was inherited.
 *
 * The decrypted key only travels through this pipe, as on POSIX.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/snapshot.h"
#include "../../os/os.h"
#include "../spawn.h"

struct hotssl_process {
  HANDLE proc;
  DWORD pid;
  int done, code;
};

static void win_err(char *buf, size_t len, const char *what, DWORD err) {
  char t[256];
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err, 0, t,
                           sizeof t, NULL);
  while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == '.'))
    t[--n] = '\0';
  hotssl__fmt(buf, len, "%s: %s (Windows error %lu)", what, n > 0 ? t : "unknown error",
              (unsigned long)err);
}

/* Append one argument quoted by the rules of the C runtime's command-line
 * parser (CommandLineToArgvW): backslashes are literal unless they precede
 * a quote. out must have room for 2 * strlen(a) + 3 bytes. */
static char *quote_arg(char *out, const char *a) {
  size_t i;
  if (a[0] != '\0' && strpbrk(a, " \t\n\v\"") == NULL) {
    memcpy(out, a, strlen(a));
    return out + strlen(a);
  }
  *out++ = '"';
  for (i = 0;; i++) {
    size_t bs = 0;
    while (a[i] == '\\') {
      bs++;
      i++;
    }
    if (a[i] == '\0') {
      memset(out, '\\', 2 * bs); /* before the closing quote: doubled */
      out += 2 * bs;
      break;
    }
    if (a[i] == '"') {
      memset(out, '\\', 2 * bs + 1);
      out += 2 * bs + 1;
    } else {
      memset(out, '\\', bs);
      out += bs;
    }
    *out++ = a[i];
  }
  *out++ = '"';
  return out;
}

/* The command line for argv, with the hand-off placeholder replaced. */
static wchar_t *command_line(const char *const *argv, const char *handoff) {
  size_t len = 1, i;
  char *line, *p;
  wchar_t *w;
  for (i = 0; argv[i] != NULL; i++) {
    const char *a = strcmp(argv[i], HOTSSL_SPAWN_HANDOFF_ARG) == 0 ? handoff : argv[i];
    len += 2 * strlen(a) + 3 + 1;
  }
  if ((line = malloc(len)) == NULL)
    return NULL;
  p = line;
  for (i = 0; argv[i] != NULL; i++) {
    if (i > 0)
      *p++ = ' ';
    p = quote_arg(p, strcmp(argv[i], HOTSSL_SPAWN_HANDOFF_ARG) == 0 ? handoff : argv[i]);
  }
  *p = '\0';
  w = hotssl__utf8_to_wide(line);
  free(line);
  return w;
}

/* Write everything to the overlapped pipe end h, by the deadline. */
static int write_all(HANDLE h, HANDLE ev, const unsigned char *p, size_t n, uint64_t deadline,
                     char *errbuf, size_t errlen) {
  while (n > 0) {
    OVERLAPPED ov;
    DWORD chunk = n > (1u << 20) ? (1u << 20) : (DWORD)n, done = 0;
    uint64_t now = hotssl__now_ms();
    memset(&ov, 0, sizeof ov);
    ov.hEvent = ev;
    if (!WriteFile(h, p, chunk, NULL, &ov)) {
      DWORD err = GetLastError();
      if (err != ERROR_IO_PENDING) {
        win_err(errbuf, errlen, "could not hand the snapshot to the backend", err);
        return HOTSSL_ESYS;
      }
      if (now >= deadline ||
          WaitForSingleObject(ev, (DWORD)(deadline - now)) != WAIT_OBJECT_0) {
        CancelIoEx(h, &ov);
        GetOverlappedResult(h, &ov, &done, TRUE);
        return hotssl__spawn_handoff_timeout(errbuf, errlen);
      }
    }
    if (!GetOverlappedResult(h, &ov, &done, TRUE) || done == 0) {
      win_err(errbuf, errlen, "could not hand the snapshot to the backend", GetLastError());
      return HOTSSL_ESYS;
    }
    p += done;
    n -= done;
  }
  return 0;
}

/* Start the backend process with exactly the handles in list inherited. */
static int create_process(const wchar_t *program, wchar_t *cmdline, HANDLE *list, DWORD n,
                          HANDLE std[3], PROCESS_INFORMATION *pi) {
  STARTUPINFOEXW si;
  DWORD err;
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = std[0];
  si.StartupInfo.hStdOutput = std[1];
  si.StartupInfo.hStdError = std[2];
  if ((err = hotssl__win_handle_list(&si, list, n)) != 0)
    return (int)err;
  err = CreateProcessW(program, cmdline, NULL, NULL, TRUE, EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT,
                       NULL, NULL, &si.StartupInfo, pi)
            ? 0
            : GetLastError();
  hotssl__win_handle_list_free(&si);
  return (int)err;
}

int hotssl_spawn(hotssl_manager *m, const hotssl_spawn_request *req, hotssl_process **out,
                 char *errbuf, size_t errlen) {
  hotssl_process *p;
  HANDLE srv = INVALID_HANDLE_VALUE, cli = INVALID_HANDLE_VALUE, ev = NULL, std[3] = {NULL, NULL, NULL};
  HANDLE list[4];
  SECURITY_ATTRIBUTES sa;
  PROCESS_INFORMATION pi;
  WSAPROTOCOL_INFOW info;
  WSADATA wsa;
  wchar_t pipename[128], *program = NULL, *cmdline = NULL;
  char handoff[64];
  const unsigned char *bytes;
  size_t len;
  DWORD nlist = 0, i;
  int r, err, wsa_up = 0;
  uint64_t deadline;

  if ((r = hotssl__spawn_check(m, req, out)) != 0)
    return r;
  bytes = hotssl_snapshot_bytes(req->snapshot, &len);
  if ((p = calloc(1, sizeof *p)) == NULL)
    return HOTSSL_ENOMEM;
  if (req->conn_fd >= 0) {
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
      hotssl__fmt(errbuf, errlen, "could not start Winsock");
      free(p);
      return HOTSSL_ESYS;
    }
    wsa_up = 1;
  }
  /* A name nobody else can predict or reuse while p is alive. */
  _snwprintf(pipename, sizeof pipename / sizeof pipename[0], L"\\\\.\\pipe\\hotssl-%lu-%p-%llu",
             (unsigned long)GetCurrentProcessId(), (void *)p, (unsigned long long)hotssl__now_ms());
  pipename[sizeof pipename / sizeof pipename[0] - 1] = L'\0';
  srv = CreateNamedPipeW(pipename, PIPE_ACCESS_OUTBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                         PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 65536, 65536, 0, NULL);
  memset(&sa, 0, sizeof sa);
  sa.nLength = sizeof sa;
  sa.bInheritHandle = TRUE;
  if (srv == INVALID_HANDLE_VALUE ||
      (cli = CreateFileW(pipename, GENERIC_READ, 0, &sa, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL)) ==
          INVALID_HANDLE_VALUE ||
      (ev = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    win_err(errbuf, errlen, "could not create the hand-off pipe", GetLastError());
    r = HOTSSL_ESYS;
    goto fail;
  }
  hotssl__fmt(handoff, sizeof handoff, "hotssl1:%s:%llu", req->conn_fd >= 0 ? "w" : "-1",
              (unsigned long long)(uintptr_t)cli);
  if ((program = hotssl__utf8_to_wide(req->program)) == NULL || (cmdline = command_line(req->argv, handoff)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto fail;
  }

  hotssl__mutex_lock(m->spawn_lock);
  list[nlist++] = cli;
  for (i = 0; i < 3; i++)
    if ((std[i] = hotssl__win_inheritable(
             GetStdHandle(i == 0 ? STD_INPUT_HANDLE : i == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE))) != NULL)
      list[nlist++] = std[i];
  err = create_process(program, cmdline, list, nlist, std, &pi);
  for (i = 0; i < 3; i++)
    if (std[i] != NULL)
      CloseHandle(std[i]);
  CloseHandle(cli);
  cli = INVALID_HANDLE_VALUE;
  hotssl__mutex_unlock(m->spawn_lock);
  if (err != 0) {
    char what[300];
    hotssl__fmt(what, sizeof what, "could not start backend \"%s\"", req->program);
    win_err(errbuf, errlen, what, (DWORD)err);
    r = HOTSSL_ESYS;
    goto fail;
  }
  CloseHandle(pi.hThread);
  p->proc = pi.hProcess;
  p->pid = pi.dwProcessId;

  /* From here the backend runs: errors are returned with *out set. */
  deadline = hotssl__now_ms() + HOTSSL__HANDOFF_DEADLINE_MS;
  r = 0;
  if (req->conn_fd >= 0) {
    if (WSADuplicateSocketW((SOCKET)(uintptr_t)req->conn_fd, p->pid, &info) != 0) {
      win_err(errbuf, errlen, "could not duplicate the connection for the backend",
              (DWORD)WSAGetLastError());
      r = HOTSSL_ESYS;
    } else {
      r = write_all(srv, ev, (const unsigned char *)&info, sizeof info, deadline, errbuf, errlen);
    }
  }
  if (r == 0)
    r = write_all(srv, ev, bytes, len, deadline, errbuf, errlen);
  hotssl__spawn_handoff_failed(m, r, errbuf); /* the backend sees the pipe end early */
  CloseHandle(srv);
  CloseHandle(ev);
  free(program);
  free(cmdline);
  if (wsa_up)
    WSACleanup();
  *out = p;
  return r;
fail:
  if (cli != INVALID_HANDLE_VALUE)
    CloseHandle(cli);
  if (srv != INVALID_HANDLE_VALUE)
    CloseHandle(srv);
  if (ev != NULL)
    CloseHandle(ev);
  free(program);
  free(cmdline);
  if (wsa_up)
    WSACleanup();
  free(p);
  return r;
}

long hotssl_process_pid(const hotssl_process *p) { return p != NULL ? (long)p->pid : -1; }

int hotssl_process_wait(hotssl_process *p, int block, int *exit_code) {
  DWORD w, code;
  if (p == NULL)
    return HOTSSL_EINVAL;
  if (!p->done) {
    w = WaitForSingleObject(p->proc, block ? INFINITE : 0);
    if (w == WAIT_TIMEOUT)
      return 0;
    if (w != WAIT_OBJECT_0 || !GetExitCodeProcess(p->proc, &code))
      return HOTSSL_ESYS;
    p->done = 1;
    p->code = (int)code; /* Windows has no signals: TerminateProcess sets the code */
  }
  if (exit_code != NULL)
    *exit_code = p->code;
  return 1;
}

void hotssl_process_destroy(hotssl_process *p) {
  if (p == NULL)
    return;
  CloseHandle(p->proc);
  free(p);
}

/* ---- backend side ---- */

typedef struct read_state {
  HANDLE pipe, ev; /* the overlapped pipe end, a manual-reset event */
  uint64_t deadline;
} read_state;

/* Read exactly n bytes by the deadline: 0, -2 at the end of the pipe (the
 * parent closed it, or died), -3 when the deadline passed, -1 on error. */
static int read_all(read_state *rs, unsigned char *p, size_t n) {
  while (n > 0) {
    OVERLAPPED ov;
    DWORD got = 0, chunk = n > (1u << 20) ? (1u << 20) : (DWORD)n, err;
    uint64_t now = hotssl__now_ms();
    memset(&ov, 0, sizeof ov);
    ov.hEvent = rs->ev;
    if (!ReadFile(rs->pipe, p, chunk, NULL, &ov)) {
      err = GetLastError();
      if (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)
        return -2;
      if (err != ERROR_IO_PENDING)
        return -1;
      if (now >= rs->deadline ||
          WaitForSingleObject(rs->ev, (DWORD)(rs->deadline - now)) != WAIT_OBJECT_0) {
        CancelIoEx(rs->pipe, &ov);
        GetOverlappedResult(rs->pipe, &ov, &got, TRUE);
        return -3;
      }
    }
    if (!GetOverlappedResult(rs->pipe, &ov, &got, TRUE))
      return GetLastError() == ERROR_BROKEN_PIPE ? -2 : -1;
    if (got == 0)
      return -2;
    p += got;
    n -= got;
  }
  return 0;
}

static int read_some(void *ctx, unsigned char *p, size_t n) { return read_all(ctx, p, n); }

int hotssl_backend_open(const char *handoff, int *conn_fd, hotssl_manager **m,
                        const hotssl_manager_options *opts, char *errbuf, size_t errlen) {
  hotssl__log log;
  const char *s = handoff;
  HANDLE pipe = NULL;
  DWORD hflags;
  WSAPROTOCOL_INFOW info;
  WSADATA wsa;
  unsigned long long hv;
  int has_conn, r, rr, used = 0, built = 0;
  char err[HOTSSL__ERRLEN];
  read_state rs = {NULL, NULL, 0};

  if ((r = hotssl__backend_check(handoff, conn_fd, m, opts, &log)) != 0)
    return r;
  if (strncmp(s, "hotssl1:w:", 10) == 0) {
    has_conn = 1;
    s += 10;
  } else if (strncmp(s, "hotssl1:-1:", 11) == 0) {
    has_conn = 0;
    s += 11;
  } else {
    s = NULL;
    has_conn = 0;
  }
  if (s == NULL || sscanf(s, "%llu%n", &hv, &used) != 1 || s[used] != '\0' || hv == 0 ||
      hv > UINT32_MAX) {
    hotssl__fmt(err, sizeof err, "invalid hand-off \"%.40s\"", handoff);
    r = HOTSSL_EINVAL;
    goto fail;
  }
  pipe = (HANDLE)(uintptr_t)hv;
  if (!GetHandleInformation(pipe, &hflags) || GetFileType(pipe) != FILE_TYPE_PIPE) {
    hotssl__fmt(err, sizeof err, "invalid hand-off \"%.40s\" (handle not inherited)", handoff);
    pipe = NULL;
    r = HOTSSL_EINVAL;
    goto fail;
  }
  /* Ours now: not to be inherited further (e.g. by a passphrase command). */
  SetHandleInformation(pipe, HANDLE_FLAG_INHERIT, 0);
  rs.pipe = pipe;
  rs.deadline = hotssl__now_ms() + HOTSSL__HANDOFF_DEADLINE_MS;
  if ((rs.ev = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    win_err(err, sizeof err, "could not read the hand-off", GetLastError());
    r = HOTSSL_ESYS;
    goto fail;
  }
  if (has_conn) {
    SOCKET sk;
    if ((rr = read_all(&rs, (unsigned char *)&info, sizeof info)) != 0) {
      if (rr == -3)
        hotssl__fmt(err, sizeof err,
                    "could not read the connection from the parent: nothing arrived within %d ms (the parent stopped writing)",
                    HOTSSL__HANDOFF_DEADLINE_MS);
      else
        hotssl__fmt(err, sizeof err, "could not read the connection from the parent: %s",
                    rr == -2 ? "the parent closed the hand-off early (it may have died)"
                             : "read failed");
      r = HOTSSL_EINVAL;
      goto fail;
    }
    /* One Winsock reference for the socket we hand out, for the life of
     * the process (the host may call WSACleanup when done with it). */
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
      hotssl__fmt(err, sizeof err, "could not start Winsock");
      r = HOTSSL_ESYS;
      goto fail;
    }
    sk = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (sk == INVALID_SOCKET)
      sk = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                      WSA_FLAG_OVERLAPPED);
    if (sk == INVALID_SOCKET) {
      win_err(err, sizeof err, "could not take over the connection", (DWORD)WSAGetLastError());
      r = HOTSSL_ESYS;
      goto fail;
    }
    SetHandleInformation((HANDLE)sk, HANDLE_FLAG_INHERIT, 0);
    *conn_fd = (int)sk;
  }
  r = hotssl__snapshot_receive(read_some, &rs, m, opts, errbuf, errlen, err, sizeof err, &built);
  CloseHandle(pipe);
  CloseHandle(rs.ev);
  pipe = NULL;
  if (r == 0 || built)
    return r; /* create_from_snapshot logged any failure */
fail:
  if (pipe != NULL)
    CloseHandle(pipe);
  if (rs.ev != NULL)
    CloseHandle(rs.ev);
  return hotssl__backend_fail(&log, err, errbuf, errlen, r);
}
