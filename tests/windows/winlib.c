#include <winsock2.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <stdlib.h>
#include <string.h>

#include <mbedtls/pk.h>

#include "certgen.h"
#include "winlib.h"

int wl_failures, wl_checks;
static int wl_skips;

int wl_finish(const char *name) {
  printf("%s: %d checks, %d failed, %d skipped\n", name, wl_checks, wl_failures, wl_skips);
  fflush(stdout);
  return wl_failures == 0 && wl_checks > 0 ? 0 : 1;
}

void wl_skip(const char *what, const char *why) {
  wl_skips++;
  printf("SKIP (not run, not counted as passed): %s: %s\n", what, why);
  fflush(stdout);
}

int wl_under_wine(void) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  wchar_t *w = malloc((size_t)n * sizeof *w);
  MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
  return w;
}

static char *utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s = malloc((size_t)n);
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

char *wl_mkdtemp(void) {
  wchar_t base[MAX_PATH], dir[MAX_PATH];
  unsigned i;
  GetTempPathW(MAX_PATH, base);
  for (i = 0; i < 1000; i++) {
    _snwprintf(dir, MAX_PATH, L"%lshotssl-win-%lu-%u", base, (unsigned long)GetCurrentProcessId(), i);
    dir[MAX_PATH - 1] = L'\0';
    if (CreateDirectoryW(dir, NULL))
      return utf8(dir);
  }
  fprintf(stderr, "cannot create a temporary folder\n");
  exit(1);
}

void wl_rmtree(const char *dir) {
  WIN32_FIND_DATAW fd;
  wchar_t *wd = wide(dir), pat[MAX_PATH], p[MAX_PATH];
  HANDLE h;
  _snwprintf(pat, MAX_PATH, L"%ls\\*", wd);
  pat[MAX_PATH - 1] = L'\0';
  if ((h = FindFirstFileW(pat, &fd)) != INVALID_HANDLE_VALUE) {
    do {
      if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
        continue;
      _snwprintf(p, MAX_PATH, L"%ls\\%ls", wd, fd.cFileName);
      p[MAX_PATH - 1] = L'\0';
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        char *s = utf8(p);
        wl_rmtree(s);
        free(s);
      } else {
        SetFileAttributesW(p, FILE_ATTRIBUTE_NORMAL);
        DeleteFileW(p);
      }
    } while (FindNextFileW(h, &fd));
    FindClose(h);
  }
  RemoveDirectoryW(wd);
  free(wd);
}

char *wl_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s\\%s", dir, name);
  return p;
}

/* A security descriptor for a new file: protected DACL, full access for
 * SYSTEM and the current user, plus the ACE text `extra` (SDDL). LocalFree. */
static PSECURITY_DESCRIPTOR file_sd(const char *extra) {
  HANDLE tok;
  char ubuf[256], sddl[512];
  LPSTR user = NULL;
  DWORD n;
  PSECURITY_DESCRIPTOR sd = NULL;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
    return NULL;
  if (GetTokenInformation(tok, TokenUser, ubuf, sizeof ubuf, &n) &&
      ConvertSidToStringSidA(((TOKEN_USER *)ubuf)->User.Sid, &user)) {
    snprintf(sddl, sizeof sddl, "D:P(A;;FA;;;SY)(A;;FA;;;%s)%s", user, extra != NULL ? extra : "");
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL))
      sd = NULL;
    LocalFree(user);
  }
  CloseHandle(tok);
  return sd;
}

/* New files get their DACL at creation: Wine ignores SetSecurityInfo on an
 * existing file but maps a creation-time DACL to the Unix mode. */
static void write_handle_sd(const char *path, DWORD disposition, const char *text, const char *extra) {
  wchar_t *w = wide(path);
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  HANDLE h;
  DWORD done = 0;
  sa.lpSecurityDescriptor = file_sd(extra);
  if (sa.lpSecurityDescriptor == NULL) {
    fprintf(stderr, "cannot build a security descriptor\n");
    exit(1);
  }
  h = CreateFileW(w, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, &sa, disposition,
                  FILE_ATTRIBUTE_NORMAL, NULL);
  LocalFree(sa.lpSecurityDescriptor);
  if (h == INVALID_HANDLE_VALUE || !WriteFile(h, text, (DWORD)strlen(text), &done, NULL) ||
      done != strlen(text)) {
    fprintf(stderr, "cannot write %s (error %lu)\n", path, (unsigned long)GetLastError());
    exit(1);
  }
  CloseHandle(h);
  free(w);
}

static void write_handle(const char *path, DWORD disposition, const char *text) {
  write_handle_sd(path, disposition, text, NULL);
}

void wl_create(const char *path, const char *text, const char *extra_ace) {
  wchar_t *w = wide(path);
  DeleteFileW(w);
  free(w);
  write_handle_sd(path, CREATE_NEW, text, extra_ace);
}

void wl_write(const char *path, const char *text) {
  wchar_t *w = wide(path);
  DWORD disp = GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES ? CREATE_NEW : TRUNCATE_EXISTING;
  free(w);
  write_handle(path, disp, text);
}

void wl_write_rename(const char *path, const char *text) {
  size_t n = strlen(path) + 8;
  char *tmp = malloc(n);
  wchar_t *wt, *wp;
  snprintf(tmp, n, "%s.tmp", path);
  write_handle(tmp, CREATE_ALWAYS, text);
  wt = wide(tmp);
  wp = wide(path);
  if (!MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING)) {
    fprintf(stderr, "cannot rename %s over %s (error %lu)\n", tmp, path, (unsigned long)GetLastError());
    exit(1);
  }
  free(wt);
  free(wp);
  free(tmp);
}

void wl_write_recreate(const char *path, const char *text) {
  wchar_t *w = wide(path);
  if (!DeleteFileW(w)) {
    fprintf(stderr, "cannot delete %s (error %lu)\n", path, (unsigned long)GetLastError());
    exit(1);
  }
  free(w);
  write_handle(path, CREATE_NEW, text);
}

int wl_make_pair(const char *cn, unsigned long serial, char **crt, char **key) {
  certgen_rng r;
  mbedtls_pk_context k;
  char subject[128];
  int ret;
  *crt = calloc(1, 4096);
  *key = calloc(1, 4096);
  snprintf(subject, sizeof subject, "CN=%s", cn);
  mbedtls_pk_init(&k);
  if ((ret = certgen_rng_init(&r)) != 0)
    return ret;
  if ((ret = certgen_key(&k, &r)) == 0 && (ret = certgen_key_pem(&k, *key, 4096)) == 0)
    ret = certgen_cert(&k, subject, &k, subject, serial, "20200101000000", "20991231235959", 0, &r,
                       *crt, 4096);
  mbedtls_pk_free(&k);
  certgen_rng_free(&r);
  return ret;
}

int wl_wait(int (*cond)(void *), void *arg, unsigned deadline_ms) {
  ULONGLONG end = GetTickCount64() + deadline_ms;
  for (;;) {
    if (cond(arg))
      return 1;
    if (GetTickCount64() >= end)
      return 0;
    Sleep(20); /* polling interval of the condition, not a wait for an event */
  }
}

void wl_log(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  fprintf(stderr, "  [%s] %s\n", hotssl_log_level_name(level), msg);
}

int wl_set_dacl(const char *path, int extra) {
  HANDLE tok;
  char ubuf[256];
  DWORD n, err;
  BYTE sys[SECURITY_MAX_SID_SIZE], other[SECURITY_MAX_SID_SIZE];
  DWORD syslen = sizeof sys, otherlen = sizeof other;
  EXPLICIT_ACCESSW ea[3];
  PACL acl = NULL;
  wchar_t *w;
  ULONG count = 2;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
    return (int)GetLastError();
  if (!GetTokenInformation(tok, TokenUser, ubuf, sizeof ubuf, &n)) {
    CloseHandle(tok);
    return (int)GetLastError();
  }
  CloseHandle(tok);
  CreateWellKnownSid(WinLocalSystemSid, NULL, sys, &syslen);
  memset(ea, 0, sizeof ea);
  ea[0].grfAccessPermissions = GENERIC_ALL;
  ea[0].grfAccessMode = SET_ACCESS;
  ea[0].Trustee.TrusteeForm = TRUSTEE_IS_SID;
  ea[0].Trustee.ptstrName = (LPWSTR)((TOKEN_USER *)ubuf)->User.Sid;
  ea[1] = ea[0];
  ea[1].Trustee.ptstrName = (LPWSTR)sys;
  if (extra >= 0) {
    CreateWellKnownSid((WELL_KNOWN_SID_TYPE)extra, NULL, other, &otherlen);
    ea[2] = ea[0];
    ea[2].grfAccessPermissions = GENERIC_READ;
    ea[2].Trustee.ptstrName = (LPWSTR)other;
    count = 3;
  }
  if ((err = SetEntriesInAclW(count, ea, NULL, &acl)) != ERROR_SUCCESS)
    return (int)err;
  w = wide(path);
  err = SetNamedSecurityInfoW(w, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                              NULL, NULL, acl, NULL);
  free(w);
  LocalFree(acl);
  return (int)err;
}

int wl_manager_start(const char *conf, hotssl_manager **m, char *err, size_t errlen) {
  hotssl_config *cfg = NULL;
  hotssl_manager_options mo = {0};
  int r;
  mo.log = wl_log;
  *m = NULL;
  err[0] = '\0';
  if ((r = hotssl_config_create(&cfg)) == 0 && (r = hotssl_config_load_file(cfg, conf, err, errlen)) == 0)
    r = hotssl_manager_create(m, cfg, &mo, err, errlen);
  hotssl_config_destroy(cfg);
  return r;
}

int wl_serving(void *arg) {
  wl_want *w = arg;
  hotssl_stats st;
  return hotssl_manager_stats(w->m, &st) == 0 && strcmp(st.subject, w->subject) == 0;
}
