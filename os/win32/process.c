/*
 * Process pieces for Windows (see os/posix/process.c). Windows has no fork,
 * so a generation's recorded id never differs from the current one.
 *
 * The passphrase command (os/os.h). APR's apr_proc_create cannot start a
 * process suspended, and a process started running may create children
 * before it is put into a job (they would escape it), so the command is
 * started here:
 *   - the shell as PostgreSQL's popen runs it: "%ComSpec%" /c "CMD" (cmd.exe
 *     strips the outer quotes; CMD is what one types at a cmd prompt);
 *   - a job object of its own with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE; the
 *     process is created suspended, assigned to the job, then resumed, so
 *     everything it ever starts is in the job (no breakaway is allowed).
 *     At the deadline TerminateJobObject kills the whole tree; the job
 *     handle is closed when the command was waited for, which kills what is
 *     left (a background child of a command that finished), and if the host
 *     dies first Windows closes the handle and kills the tree too;
 *   - stdout is the write end of an APR pipe whose read end is overlapped,
 *     so reads honour apr_file_pipe_timeout_set (an anonymous pipe's cannot
 *     time out); stdin and stderr are the host's;
 *   - the command inherits exactly what PROC_THREAD_ATTRIBUTE_HANDLE_LIST
 *     names: inheritable duplicates of those three, which exist only while
 *     CreateProcessW runs, under spawn_lock (as hotssl_spawn's, so neither
 *     catches the other's);
 *   - CREATE_NEW_PROCESS_GROUP: Ctrl+C in the host's console does not reach
 *     it (POSIX: a process group of its own).
 * The pipe, CreateProcessW and the job assignment go through the OS call
 * table (os/calls.c), so tests can fail each.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include <apr_portable.h>
#include <apr_thread_proc.h>

#include "../os.h"

long hotssl__process_id(void) { return (long)GetCurrentProcessId(); }
/* Not needed where there is no fork: 0 ("unknown"). */
long hotssl__parent_process_id(void) { return 0; }

apr_status_t hotssl__win_process_create(const wchar_t *app, wchar_t *cmdline, unsigned long flags,
                                        void *startup_info, void *process_info) {
  if (!CreateProcessW(app, cmdline, NULL, NULL, TRUE, (DWORD)flags, NULL, NULL, startup_info, process_info))
    return APR_FROM_OS_ERROR(GetLastError());
  return APR_SUCCESS;
}

apr_status_t hotssl__win_job_assign(void *job, void *process) {
  return AssignProcessToJobObject(job, process) ? APR_SUCCESS : APR_FROM_OS_ERROR(GetLastError());
}

/* The shell's path (malloc'ed): %ComSpec% (unquoted, as APR does), else
 * the system folder's cmd.exe; NULL when neither can be had. */
static wchar_t *shell_path(void) {
  DWORD n = GetEnvironmentVariableW(L"ComSpec", NULL, 0);
  UINT m, r;
  wchar_t *sh;
  if (n > 1) {
    if ((sh = malloc(n * sizeof *sh)) == NULL)
      return NULL;
    if (GetEnvironmentVariableW(L"ComSpec", sh, n) < n) {
      size_t len = wcslen(sh);
      if (len >= 2 && sh[0] == L'"' && sh[len - 1] == L'"') {
        memmove(sh, sh + 1, (len - 2) * sizeof *sh);
        sh[len - 2] = L'\0';
      }
      return sh;
    }
    free(sh);
  }
  if ((m = GetSystemDirectoryW(NULL, 0)) == 0 || (sh = malloc((m + 8) * sizeof *sh)) == NULL)
    return NULL;
  if ((r = GetSystemDirectoryW(sh, m)) == 0 || r >= m) {
    free(sh);
    return NULL;
  }
  wcscat(sh, L"\\cmd.exe");
  return sh;
}

/* The command line "<shell>" /c "<cmd>" (malloc'ed), or NULL. */
static wchar_t *shell_line(const wchar_t *shell, const char *cmd) {
  wchar_t *wcmd = hotssl__utf8_to_wide(cmd), *line = NULL;
  size_t len;
  if (wcmd == NULL)
    return NULL;
  len = wcslen(shell) + wcslen(wcmd) + 16;
  if ((line = malloc(len * sizeof *line)) != NULL) {
    _snwprintf(line, len, L"\"%ls\" /c \"%ls\"", shell, wcmd);
    line[len - 1] = L'\0';
  }
  free(wcmd);
  return line;
}

void *hotssl__win_inheritable(void *h) {
  HANDLE d = NULL;
  if (h == NULL || h == INVALID_HANDLE_VALUE ||
      !DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, 0, TRUE, DUPLICATE_SAME_ACCESS))
    return NULL;
  return d;
}

unsigned long hotssl__win_handle_list(void *startup_info_ex, void *const *list, unsigned long n) {
  STARTUPINFOEXW *si = startup_info_ex;
  SIZE_T size = 0;
  DWORD err;
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  if ((si->lpAttributeList = malloc(size)) == NULL)
    return ERROR_NOT_ENOUGH_MEMORY;
  if (!InitializeProcThreadAttributeList(si->lpAttributeList, 1, 0, &size)) {
    err = GetLastError();
    free(si->lpAttributeList);
    si->lpAttributeList = NULL;
    return err;
  }
  if (!UpdateProcThreadAttribute(si->lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, (PVOID)list,
                                 n * sizeof *list, NULL, NULL)) {
    err = GetLastError();
    hotssl__win_handle_list_free(si);
    return err;
  }
  return 0;
}

void hotssl__win_handle_list_free(void *startup_info_ex) {
  STARTUPINFOEXW *si = startup_info_ex;
  if (si->lpAttributeList == NULL)
    return;
  DeleteProcThreadAttributeList(si->lpAttributeList);
  free(si->lpAttributeList);
  si->lpAttributeList = NULL;
}

/* Create the shell suspended, with stdout on child_out and only its three
 * standard handles inherited; spawn_lock held while the duplicates exist. */
static apr_status_t create_suspended(wchar_t *shell, wchar_t *line, HANDLE child_out, void *spawn_lock,
                                     PROCESS_INFORMATION *pi) {
  STARTUPINFOEXW si;
  HANDLE list[3];
  DWORD n = 0, i, err;
  apr_status_t rv;

  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  if (spawn_lock != NULL)
    hotssl__mutex_lock(spawn_lock);
  if ((si.StartupInfo.hStdInput = hotssl__win_inheritable(GetStdHandle(STD_INPUT_HANDLE))) != NULL)
    list[n++] = si.StartupInfo.hStdInput;
  if ((si.StartupInfo.hStdOutput = hotssl__win_inheritable(child_out)) != NULL)
    list[n++] = si.StartupInfo.hStdOutput;
  if ((si.StartupInfo.hStdError = hotssl__win_inheritable(GetStdHandle(STD_ERROR_HANDLE))) != NULL)
    list[n++] = si.StartupInfo.hStdError;
  if (si.StartupInfo.hStdOutput == NULL) {
    rv = APR_FROM_OS_ERROR(GetLastError());
  } else if ((err = hotssl__win_handle_list(&si, list, n)) != 0) {
    rv = err == ERROR_NOT_ENOUGH_MEMORY ? APR_ENOMEM : APR_FROM_OS_ERROR(err);
  } else {
    rv = hotssl__os()->process_create(shell, line,
                                      CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | EXTENDED_STARTUPINFO_PRESENT,
                                      &si, pi);
    hotssl__win_handle_list_free(&si);
  }
  for (i = 0; i < n; i++)
    CloseHandle(list[i]);
  if (spawn_lock != NULL)
    hotssl__mutex_unlock(spawn_lock);
  return rv;
}

apr_status_t hotssl__cmd_start(hotssl__cmd *c, const char *cmd, void *spawn_lock, apr_pool_t *pool,
                               const char **what) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  PROCESS_INFORMATION pi;
  HANDLE job, child_out = NULL;
  apr_file_t *rd = NULL, *wr = NULL;
  wchar_t *shell = NULL, *line = NULL;
  apr_status_t rv;

  memset(c, 0, sizeof *c);
  *what = "";
  memset(&limits, 0, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if ((job = CreateJobObjectW(NULL, NULL)) == NULL ||
      !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
    rv = APR_FROM_OS_ERROR(GetLastError());
    *what = "could not create its job object: ";
    goto fail;
  }
  /* APR_WRITE_BLOCK: our read end overlapped (timeouts), the child's
   * write end an ordinary blocking handle, as a console program expects. */
  if ((rv = hotssl__os()->pipe_create(&rd, &wr, APR_WRITE_BLOCK, pool)) != APR_SUCCESS ||
      (rv = apr_file_pipe_timeout_set(rd, -1)) != APR_SUCCESS ||
      (rv = apr_os_file_get(&child_out, wr)) != APR_SUCCESS) {
    *what = "could not create its output pipe: ";
    goto fail;
  }
  if ((shell = shell_path()) == NULL || (line = shell_line(shell, cmd)) == NULL) {
    rv = APR_ENOMEM;
    *what = "could not form its command line (not UTF-8, or no ComSpec): ";
    goto fail;
  }
  if ((rv = create_suspended(shell, line, child_out, spawn_lock, &pi)) != APR_SUCCESS)
    goto fail;
  apr_file_close(wr);
  wr = NULL;
  if ((rv = hotssl__os()->job_assign(job, pi.hProcess)) != APR_SUCCESS)
    *what = "could not put it into its job object: ";
  else if (ResumeThread(pi.hThread) == (DWORD)-1) {
    rv = APR_FROM_OS_ERROR(GetLastError());
    *what = "could not resume it: ";
  }
  if (rv != APR_SUCCESS) {
    TerminateProcess(pi.hProcess, 1); /* still suspended: it has run nothing */
    WaitForSingleObject(pi.hProcess, INFINITE);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    goto fail;
  }
  CloseHandle(pi.hThread);
  free(line);
  free(shell);
  c->proc.pid = (pid_t)pi.dwProcessId;
  c->proc.hproc = pi.hProcess;
  c->proc.out = rd;
  c->job = job;
  return APR_SUCCESS;
fail:
  if (wr != NULL)
    apr_file_close(wr);
  if (rd != NULL)
    apr_file_close(rd);
  if (job != NULL)
    CloseHandle(job);
  free(line);
  free(shell);
  return rv;
}

void hotssl__cmd_kill(hotssl__cmd *c) {
  if (c->job != NULL)
    TerminateJobObject(c->job, 1);
}

void hotssl__cmd_release(hotssl__cmd *c) {
  if (c->job != NULL)
    CloseHandle(c->job); /* kill on close: whatever of the tree is left */
  if (c->proc.hproc != NULL)
    CloseHandle(c->proc.hproc); /* apr_proc_wait closes it when it reaps */
  c->job = NULL;
  c->proc.hproc = NULL;
}
