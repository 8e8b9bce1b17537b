/*
 * The passphrase commands of test_win_passphrase (Wine's cmd.exe has no
 * `timeout`, and a test must not depend on `ping`'s timing):
 *   prompt ARG         prints "secret1" when ARG is the prompt hotssl gives
 *                      for %p ("Enter PEM pass phrase:"), else "not-the-prompt"
 *   tree FILE hang     starts a child ("sleep") that shares its stdout,
 *                      records the pids, then hangs
 *   tree FILE exit     the same, then exits at once: the child outlives it,
 *                      holding the output pipe open
 *   tree FILE print    starts the child with its stdout on NUL, records the
 *                      pids, prints "secret1" and exits: the child outlives
 *                      a command that succeeded
 *   sleep              sleeps two minutes (a process to be killed)
 *   noinherit VALUE    prints "secret1" when VALUE (a handle value of the
 *                      server's, inheritable there) is not a handle here,
 *                      else "inherited"
 * FILE gets one line "<shell pid> <own pid> <child pid> <shell program>"
 * (the shell is the helper's parent, cmd.exe), written to FILE.tmp and renamed over FILE, so a
 * reader sees all three or nothing.
 */
#include <windows.h>
#include <tlhelp32.h>

#include <stdio.h>
#include <string.h>

/* The parent's pid and program name (toolhelp), or 0 and "?". */
static DWORD parent_of(DWORD pid, char *name, size_t len) {
  PROCESSENTRY32 e;
  DWORD parent = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  snprintf(name, len, "?");
  if (snap == INVALID_HANDLE_VALUE)
    return 0;
  e.dwSize = sizeof e;
  if (Process32First(snap, &e)) {
    do {
      if (e.th32ProcessID == pid)
        parent = e.th32ParentProcessID;
    } while (Process32Next(snap, &e));
  }
  e.dwSize = sizeof e;
  if (parent != 0 && Process32First(snap, &e)) {
    do {
      if (e.th32ProcessID == parent)
        snprintf(name, len, "%s", e.szExeFile);
    } while (Process32Next(snap, &e));
  }
  CloseHandle(snap);
  return parent;
}

static HANDLE inheritable(HANDLE h) {
  HANDLE d = NULL;
  if (h != NULL && h != INVALID_HANDLE_VALUE)
    DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, 0, TRUE, DUPLICATE_SAME_ACCESS);
  return d;
}

static int tree(const char *file, const char *how) {
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  wchar_t self[MAX_PATH], line[MAX_PATH + 16];
  char tmp[MAX_PATH + 8], shell[MAX_PATH];
  DWORD ppid = parent_of(GetCurrentProcessId(), shell, sizeof shell);
  FILE *f;
  int print = strcmp(how, "print") == 0;

  /* print: the child must not hold the output pipe either (it would
   * inherit every inheritable handle: the pipe is one). */
  if (print)
    SetHandleInformation(GetStdHandle(STD_OUTPUT_HANDLE), HANDLE_FLAG_INHERIT, 0);
  GetModuleFileNameW(NULL, self, MAX_PATH);
  _snwprintf(line, sizeof line / sizeof line[0], L"\"%ls\" sleep", self);
  line[sizeof line / sizeof line[0] - 1] = L'\0';
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = NULL;
  si.hStdOutput = print ? CreateFileW(L"NUL", GENERIC_WRITE, FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL)
                        : inheritable(GetStdHandle(STD_OUTPUT_HANDLE));
  si.hStdError = NULL;
  if (!CreateProcessW(self, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
    fprintf(stderr, "winpass_helper: CreateProcess: error %lu\n", GetLastError());
    return 2;
  }
  CloseHandle(si.hStdOutput);
  snprintf(tmp, sizeof tmp, "%s.tmp", file);
  if ((f = fopen(tmp, "w")) == NULL)
    return 2;
  fprintf(f, "%lu %lu %lu %s\n", (unsigned long)ppid, (unsigned long)GetCurrentProcessId(),
          (unsigned long)pi.dwProcessId, shell);
  fclose(f);
  MoveFileExA(tmp, file, MOVEFILE_REPLACE_EXISTING);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  if (print) {
    printf("secret1\n");
    return 0;
  }
  if (strcmp(how, "hang") == 0)
    Sleep(120000);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "prompt") == 0) {
    printf("%s\n", strcmp(argv[2], "Enter PEM pass phrase:") == 0 ? "secret1" : "not-the-prompt");
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "tree") == 0)
    return tree(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "noinherit") == 0) {
    DWORD flags;
    HANDLE h = (HANDLE)(ULONG_PTR)_strtoui64(argv[2], NULL, 10);
    printf("%s\n", GetHandleInformation(h, &flags) ? "inherited" : "secret1");
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "sleep") == 0) {
    Sleep(120000);
    return 0;
  }
  fprintf(stderr, "usage: winpass_helper prompt ARG | tree FILE hang|exit|print | sleep | noinherit VALUE\n");
  return 2;
}
