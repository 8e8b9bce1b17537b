/*
 * ssl_passphrase_command on Windows (os/win32/process.c), through the public
 * API, with an encrypted key made here (OpenSSL's legacy PEM encryption,
 * AES-256-CBC, passphrase "secret1"):
 *   - `echo secret1` through cmd.exe loads the key, also with no timeout;
 *   - %p: a helper in a folder with a space in its name, quoted as the
 *     docs/windows.md says, gets the prompt as one argument and prints the
 *     passphrase only for it;
 *   - an inheritable handle of the server's is not inherited by the command;
 *   - a wrong passphrase: "wrong passphrase", naming the key file; a failing
 *     command: its exit code;
 *   - the deadline (hotssl_passphrase_timeout_ms = 1000): a command that
 *     starts a child sharing its stdout and hangs, and one that exits at once
 *     leaving that child behind: the load fails with "did not finish within
 *     1000 ms", and cmd.exe, the helper and its child are all gone (checked
 *     by pid with OpenProcess/GetExitCodeProcess, waiting on the condition);
 *   - a command that succeeds leaving a child behind (its stdout on NUL): the
 *     child is killed when the job handle is closed (kill on job close), which
 *     also shows the handle is closed;
 *   - the server (this program run as "host DIR") is killed while the
 *     command hangs: the command's tree dies with it (kill on job close);
 *   - the process object of every shell the library created goes away: no
 *     handle to it is left open (the shells are recorded through the OS call
 *     table; one wait at the end, as Wine keeps an ended process's object
 *     for about half a second);
 *   - failures of the pipe, of CreateProcessW and of the job assignment
 *     (the OS call table): a message naming the step, and the process that
 *     could not be put into its job (created suspended) does not live on.
 * winpass_helper.exe (beside this program) plays the commands.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include <apr_errno.h>

#include <mbedtls/aes.h>
#include <mbedtls/base64.h>
#include <mbedtls/md5.h>
#include <mbedtls/pk.h>

#include "certgen.h"
#include "hotssl/hotssl.h"
#include "os/os.h"
#include "winlib.h"

static char *dir, *helper;

/* ---- an encrypted key ---- */

/* key's PEM encrypted as `openssl ec -aes256` does (legacy PEM: key =
 * MD5(pass|salt) | MD5(that|pass|salt), salt = the IV's first 8 bytes). */
static char *encrypt_key(mbedtls_pk_context *key, const char *pass) {
  unsigned char der[2048], iv[16], ivc[16], k[32], tmp[128], *body, *b64;
  size_t n, plen = strlen(pass), olen = 0, padded, i;
  mbedtls_aes_context aes;
  char *pem, hex[33];
  int len = mbedtls_pk_write_key_der(key, der, sizeof der);
  if (len <= 0)
    return NULL;
  for (i = 0; i < sizeof iv; i++)
    iv[i] = (unsigned char)((GetTickCount64() >> (i % 8)) ^ (GetCurrentProcessId() * 131u) ^ (i * 37u));
  memcpy(tmp, pass, plen);
  memcpy(tmp + plen, iv, 8);
  mbedtls_md5(tmp, plen + 8, k);
  memcpy(tmp, k, 16);
  memcpy(tmp + 16, pass, plen);
  memcpy(tmp + 16 + plen, iv, 8);
  mbedtls_md5(tmp, 16 + plen + 8, k + 16);
  n = (size_t)len;
  padded = (n / 16 + 1) * 16;
  body = malloc(padded);
  memcpy(body, der + sizeof der - n, n);
  memset(body + n, (int)(padded - n), padded - n);
  mbedtls_aes_init(&aes);
  mbedtls_aes_setkey_enc(&aes, k, 256);
  memcpy(ivc, iv, 16);
  mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, padded, ivc, body, body);
  mbedtls_aes_free(&aes);
  mbedtls_base64_encode(NULL, 0, &olen, body, padded);
  b64 = malloc(olen);
  mbedtls_base64_encode(b64, olen, &olen, body, padded);
  for (i = 0; i < 16; i++)
    snprintf(hex + 2 * i, 3, "%02X", iv[i]);
  pem = malloc(olen + olen / 64 + 256);
  n = (size_t)sprintf(pem, "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,%s\n\n", hex);
  for (i = 0; i < olen; i += 64) {
    size_t c = olen - i < 64 ? olen - i : 64;
    memcpy(pem + n, b64 + i, c);
    n += c;
    pem[n++] = '\n';
  }
  strcpy(pem + n, "-----END EC PRIVATE KEY-----\n");
  free(body);
  free(b64);
  return pem;
}

static void make_files(void) {
  certgen_rng r;
  mbedtls_pk_context k;
  char crt[4096], *p, *enc = NULL;
  int ok;
  mbedtls_pk_init(&k);
  ok = certgen_rng_init(&r) == 0 && certgen_key(&k, &r) == 0 &&
       certgen_cert(&k, "CN=passphrase", &k, "CN=passphrase", 11, "20200101000000", "20991231235959", 0, &r,
                    crt, sizeof crt) == 0 &&
       (enc = encrypt_key(&k, "secret1")) != NULL;
  WL_CHECK(ok);
  if (!ok)
    exit(wl_finish("test_win_passphrase"));
  p = wl_path(dir, "server.crt");
  wl_write(p, crt);
  free(p);
  p = wl_path(dir, "server.key");
  wl_create(p, enc, NULL); /* owner and SYSTEM only: the key-file check */
  free(p);
  free(enc);
  mbedtls_pk_free(&k);
  certgen_rng_free(&r);
}

/* ---- runs ---- */

/* The call table of the next start(): NULL for the real one with the
 * shells the library creates recorded (below). At the end, the process
 * object of every one must have gone: no handle to it left open. */
static const hotssl__os_calls *run_calls;
static hotssl__os_calls recording;
static DWORD created_pid; /* the last one */

/* Start a manager on server.crt/server.key with ssl_passphrase_command =
 * cmd (quoted for the configuration file here) and the timeout; returns
 * the result and the time it took. */
static int start(const char *cmd, unsigned timeout_ms, char *err, size_t errlen, ULONGLONG *ms) {
  hotssl_config *cfg = NULL;
  hotssl_manager *m = NULL;
  hotssl_manager_options mo = {0};
  char *conf = wl_path(dir, "tls.conf"), *text = malloc(2 * strlen(cmd) + 512), *w;
  const char *c;
  ULONGLONG t0;
  int r;
  w = text + sprintf(text, "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                           "hotssl_passphrase_timeout_ms = %u\nssl_passphrase_command = '", timeout_ms);
  for (c = cmd; *c; c++) { /* the configuration's quoting: \ escapes, '' is ' */
    if (*c == '\\')
      *w++ = '\\';
    if (*c == '\'')
      *w++ = '\'';
    *w++ = *c;
  }
  strcpy(w, "'\n");
  wl_write(conf, text);
  mo.log = wl_log;
  err[0] = '\0';
  created_pid = 0;
  hotssl__os_set_calls(run_calls != NULL ? run_calls : &recording);
  t0 = GetTickCount64();
  if ((r = hotssl_config_create(&cfg)) == 0 && (r = hotssl_config_load_file(cfg, conf, err, errlen)) == 0)
    r = hotssl_manager_create(&m, cfg, &mo, err, errlen);
  *ms = GetTickCount64() - t0;
  hotssl__os_set_calls(NULL);
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  printf("[%s] timeout %u ms -> %d after %llu ms%s%s\n", cmd, timeout_ms, r, (unsigned long long)*ms,
         r ? ": " : "", r ? err : "");
  fflush(stdout);
  free(conf);
  free(text);
  return r;
}

static char *cmdf(const char *fmt, const char *a, const char *b) {
  char *s = malloc(strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1);
  sprintf(s, fmt, a, b);
  return s;
}

/* ---- processes ---- */

static int alive(DWORD pid) {
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  DWORD code = 0;
  int a;
  if (h == NULL)
    return 0;
  a = GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
  CloseHandle(h);
  return a;
}

typedef struct tree_pids {
  DWORD pid[3]; /* cmd.exe, the helper, its child */
  char shell[MAX_PATH];
} tree_pids;

static int none_alive(void *arg) {
  tree_pids *t = arg;
  return !alive(t->pid[0]) && !alive(t->pid[1]) && !alive(t->pid[2]);
}

static int read_pids(const char *file, tree_pids *t) {
  FILE *f = fopen(file, "r");
  unsigned long a = 0, b = 0, c = 0;
  int ok;
  memset(t, 0, sizeof *t);
  if (f == NULL)
    return 0;
  ok = fscanf(f, "%lu %lu %lu %259s", &a, &b, &c, t->shell) == 4 && a && b && c;
  fclose(f);
  t->pid[0] = (DWORD)a;
  t->pid[1] = (DWORD)b;
  t->pid[2] = (DWORD)c;
  return ok;
}

/* The deadline kills the whole tree. shape: "hang" or "exit". If the
 * machine was too slow for the helper to record its pids within the
 * timeout, the run is repeated with twice the timeout (up to 8 s); the
 * checks are made on a run that recorded them. */
static void deadline_case(const char *shape) {
  char *pids = wl_path(dir, "tree.pids"), err[1024], want[64], *cmd;
  unsigned timeout_ms = 1000;
  tree_pids t;
  ULONGLONG ms = 0;
  int r, got;
  cmd = malloc(strlen(helper) + strlen(pids) + 64);
  sprintf(cmd, "\"%s\" tree \"%s\" %s", helper, pids, shape);
  for (;;) {
    DeleteFileA(pids);
    r = start(cmd, timeout_ms, err, sizeof err, &ms);
    if ((got = read_pids(pids, &t)) || timeout_ms >= 8000)
      break;
    printf("  (%s: the helper had not recorded its pids within %u ms; again with twice the time)\n", shape,
           timeout_ms);
    timeout_ms *= 2;
  }
  WL_CHECK(got);
  if (!got) {
    free(cmd);
    free(pids);
    return;
  }
  snprintf(want, sizeof want, "did not finish within %u ms", timeout_ms);
  WL_CHECK(r == HOTSSL_EPASSPHRASE);
  WL_CHECK(strstr(err, want) != NULL && strstr(err, "server.key") != NULL);
  WL_CHECK(ms + 20 >= timeout_ms && ms < timeout_ms + 20000);
  printf("  %s: shell %lu (%s), helper %lu, child %lu\n", shape, (unsigned long)t.pid[0], t.shell,
         (unsigned long)t.pid[1], (unsigned long)t.pid[2]);
  WL_CHECK(_stricmp(t.shell, "cmd.exe") == 0);
  WL_CHECK(wl_wait(none_alive, &t, WL_DEADLINE_MS));
  printf("  %s: alive after the timeout: shell %d, helper %d, child %d\n", shape, alive(t.pid[0]),
         alive(t.pid[1]), alive(t.pid[2]));
  free(cmd);
  free(pids);
}

/* A command that succeeds and leaves a child behind: the child dies when
 * the job is closed, right after the command was waited for. */
static void leftover_case(void) {
  char *pids = wl_path(dir, "left.pids"), err[1024], *cmd = cmdf("\"%s\" tree \"%s\" print", helper, pids);
  tree_pids t;
  ULONGLONG ms;
  DeleteFileA(pids);
  WL_CHECK(start(cmd, 30000, err, sizeof err, &ms) == 0);
  WL_CHECK(read_pids(pids, &t));
  WL_CHECK(wl_wait(none_alive, &t, WL_DEADLINE_MS));
  printf("  leftover child %lu alive after the load: %d\n", (unsigned long)t.pid[2], alive(t.pid[2]));
  free(cmd);
  free(pids);
}

/* The server dies while the command hangs: Windows closes the server's
 * handles, the job's last one among them, and kill on close takes the
 * command's tree. The server is this program run as "host DIR". */
static void host(void) {
  char *pids = wl_path(dir, "host.pids"), err[1024], *cmd = cmdf("\"%s\" tree \"%s\" hang", helper, pids);
  ULONGLONG ms;
  start(cmd, 120000, err, sizeof err, &ms); /* killed before it returns */
}

static char *host_pids;
static int pids_recorded(void *arg) { return read_pids(host_pids, arg); }

static void host_death_case(void) {
  wchar_t self[MAX_PATH], line[2 * MAX_PATH + 16], wdir[MAX_PATH];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  tree_pids t;
  int got;
  host_pids = wl_path(dir, "host.pids");
  DeleteFileA(host_pids);
  GetModuleFileNameW(NULL, self, MAX_PATH);
  MultiByteToWideChar(CP_UTF8, 0, dir, -1, wdir, MAX_PATH);
  _snwprintf(line, sizeof line / sizeof line[0], L"\"%ls\" host \"%ls\"", self, wdir);
  line[sizeof line / sizeof line[0] - 1] = L'\0';
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  WL_CHECK(CreateProcessW(self, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
  got = wl_wait(pids_recorded, &t, WL_DEADLINE_MS);
  WL_CHECK(got);
  TerminateProcess(pi.hProcess, 1);
  WaitForSingleObject(pi.hProcess, INFINITE);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  if (got) {
    WL_CHECK(wl_wait(none_alive, &t, WL_DEADLINE_MS));
    printf("  server killed: alive afterwards: shell %d, helper %d, child %d\n", alive(t.pid[0]),
           alive(t.pid[1]), alive(t.pid[2]));
  }
  free(host_pids);
}

/* ---- the shell's process object, and failures of the OS calls ---- */

/* Every process the library created, with its creation time, which tells
 * it from a later process given the same id. */
static struct {
  DWORD pid;
  FILETIME at;
} created[64];
static int ncreated;

static int created_time(HANDLE h, FILETIME *t) {
  FILETIME e, k, u;
  return GetProcessTimes(h, t, &e, &k, &u);
}

static apr_status_t record_create(const wchar_t *app, wchar_t *line, unsigned long flags, void *si, void *pi) {
  apr_status_t rv = hotssl__os_real()->process_create(app, line, flags, si, pi);
  if (rv == APR_SUCCESS) {
    created_pid = ((PROCESS_INFORMATION *)pi)->dwProcessId;
    if (ncreated < 64) {
      created[ncreated].pid = created_pid;
      created_time(((PROCESS_INFORMATION *)pi)->hProcess, &created[ncreated].at);
      ncreated++;
    }
  }
  return rv;
}

/* Process i's object no longer exists: it has ended and no handle to it is
 * open anywhere (the library's included). */
static int object_gone(int i) {
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, created[i].pid);
  FILETIME t;
  int same;
  if (h == NULL)
    return 1;
  same = created_time(h, &t) && CompareFileTime(&t, &created[i].at) == 0;
  CloseHandle(h);
  return !same;
}

static int all_gone(void *arg) {
  int i;
  (void)arg;
  for (i = 0; i < ncreated; i++)
    if (!object_gone(i))
      return 0;
  return 1;
}

static apr_status_t fail_pipe(apr_file_t **in, apr_file_t **out, apr_int32_t blocking, apr_pool_t *pool) {
  (void)in;
  (void)out;
  (void)blocking;
  (void)pool;
  return APR_FROM_OS_ERROR(ERROR_TOO_MANY_OPEN_FILES);
}
static apr_status_t fail_create(const wchar_t *app, wchar_t *line, unsigned long flags, void *si, void *pi) {
  (void)app;
  (void)line;
  (void)flags;
  (void)si;
  (void)pi;
  return APR_FROM_OS_ERROR(ERROR_NOT_ENOUGH_MEMORY);
}
static apr_status_t fail_assign(void *job, void *process) {
  (void)job;
  (void)process;
  return APR_FROM_OS_ERROR(ERROR_ACCESS_DENIED);
}

/* want: the step's words, and the injected error's text (os_err, or 0). */
static void fault_case(const char *name, hotssl__os_calls *calls, const char *want, DWORD os_err) {
  char err[1024], text[256] = "";
  ULONGLONG ms;
  int r;
  run_calls = calls;
  r = start("echo secret1", 30000, err, sizeof err, &ms);
  run_calls = NULL;
  if (os_err != 0)
    hotssl__os_strerror(APR_FROM_OS_ERROR(os_err), text, sizeof text);
  printf("  fault in %s\n", name);
  WL_CHECK(r == HOTSSL_EPASSPHRASE);
  WL_CHECK(strstr(err, "could not run command \"echo secret1\": ") != NULL && strstr(err, want) != NULL);
  WL_CHECK(strstr(err, text) != NULL);
}

static void faults(void) {
  hotssl__os_calls c = *hotssl__os_real();
  c.pipe_create = fail_pipe;
  fault_case("the pipe", &c, "could not create its output pipe: ", ERROR_TOO_MANY_OPEN_FILES);
  c = *hotssl__os_real();
  c.process_create = fail_create;
  fault_case("CreateProcessW", &c, "", ERROR_NOT_ENOUGH_MEMORY);
  c = *hotssl__os_real();
  c.process_create = record_create;
  c.job_assign = fail_assign;
  /* The suspended shell is created, then cannot be put into the job: it is
   * terminated and its handles closed (its object must go, checked at the
   * end with the others). */
  fault_case("AssignProcessToJobObject", &c, "could not put it into its job object: ", ERROR_ACCESS_DENIED);
  WL_CHECK(created_pid != 0);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  wchar_t self[MAX_PATH], *slash;
  char err[1024], *sub, *cmd;
  ULONGLONG ms;
  int r, wine = wl_under_wine();

  recording = *hotssl__os_real();
  recording.process_create = record_create;
  if (argc == 3 && strcmp(argv[1], "host") == 0) {
    dir = argv[2];
    sub = wl_path(dir, "pass helper");
    helper = wl_path(sub, "winpass_helper.exe");
    host();
    return 1;
  }
  printf("running under %s\n", wine ? "Wine" : "Windows");
  dir = wl_mkdtemp();
  make_files();
  /* The helper, copied into a folder whose name has a space. */
  GetModuleFileNameW(NULL, self, MAX_PATH);
  slash = wcsrchr(self, L'\\');
  wcscpy(slash + 1, L"winpass_helper.exe");
  sub = wl_path(dir, "pass helper");
  CreateDirectoryA(sub, NULL);
  helper = wl_path(sub, "winpass_helper.exe");
  {
    wchar_t dst[MAX_PATH];
    MultiByteToWideChar(CP_UTF8, 0, helper, -1, dst, MAX_PATH);
    WL_CHECK(CopyFileW(self, dst, FALSE));
  }

  /* cmd.exe's echo; with and without a deadline. */
  WL_CHECK(start("echo secret1", 30000, err, sizeof err, &ms) == 0);
  WL_CHECK(start("echo secret1", 0, err, sizeof err, &ms) == 0);

  /* %p, one argument of a program whose path has a space. */
  cmd = cmdf("\"%s\" prompt \"%%p\"", helper, NULL);
  WL_CHECK(start(cmd, 30000, err, sizeof err, &ms) == 0);
  free(cmd);
  /* The helper discriminates: another argument gives another passphrase. */
  cmd = cmdf("\"%s\" prompt \"Enter PEM pass phrase\"", helper, NULL);
  r = start(cmd, 30000, err, sizeof err, &ms);
  WL_CHECK(r == HOTSSL_EPASSPHRASE && strstr(err, "wrong passphrase") != NULL);
  free(cmd);

  /* Only the standard handles are inherited: an inheritable handle of the
   * server's is not a handle in the command (nor in cmd.exe, which would
   * pass it on). */
  {
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE ev = CreateEventW(&sa, TRUE, FALSE, NULL);
    char value[32];
    snprintf(value, sizeof value, "%llu", (unsigned long long)(ULONG_PTR)ev);
    cmd = cmdf("\"%s\" noinherit %s", helper, value);
    WL_CHECK(ev != NULL && start(cmd, 30000, err, sizeof err, &ms) == 0);
    free(cmd);
    CloseHandle(ev);
  }

  /* A wrong passphrase, naming the file; a failing command. */
  r = start("echo wrongpass", 30000, err, sizeof err, &ms);
  WL_CHECK(r == HOTSSL_EPASSPHRASE && strstr(err, "wrong passphrase") != NULL);
  WL_CHECK(strstr(err, "private key file \"") != NULL && strstr(err, "server.key\"") != NULL);
  r = start("exit 3", 30000, err, sizeof err, &ms);
  WL_CHECK(r == HOTSSL_EPASSPHRASE && strstr(err, "failed: exit code 3") != NULL);

  /* The deadline kills the whole tree. */
  deadline_case("hang");
  deadline_case("exit");
  leftover_case();
  host_death_case();

  faults();

  /* Every shell's process object has gone: no handle left open. (Wine keeps
   * an ended process's object about half a second: one wait for all.) */
  {
    int gone = wl_wait(all_gone, NULL, WL_DEADLINE_MS), i;
    printf("%d shells created; process objects still there:", ncreated);
    for (i = 0; i < ncreated; i++)
      if (!object_gone(i))
        printf(" %lu", (unsigned long)created[i].pid);
    printf("%s\n", gone ? " none" : "");
    WL_CHECK(ncreated >= 11 && ncreated < 64);
    WL_CHECK(gone);
  }

  wl_rmtree(dir);
  free(dir);
  free(sub);
  free(helper);
  return wl_finish("test_win_passphrase");
}
