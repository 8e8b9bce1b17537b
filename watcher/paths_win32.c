/*
 * Windows pieces of the watcher that are not a backend (paths_posix.c's
 * counterpart): what to watch for one configured path, and waiting.
 *
 * Resolution: the full path (GetFullPathNameW: drive, '\' separators, no
 * "." or "..") gives the (directory, name) entry to watch; a directory
 * also has every entry in it watched. When the entry is a symbolic link or
 * a junction, its final target (GetFinalPathNameByHandleW) is watched too,
 * so a change behind the link is seen; a swap of the link itself is seen
 * through its own entry. A directory on the way that does not exist sets
 * missing_dir (the common layer polls until it appears).
 *
 * Waiting: the descriptors of the common layer are event HANDLE values
 * here (os/win32/wakeup.c, win32/rdcw.c): WaitForMultipleObjects.
 *
 * Called only from the watcher's own thread (or the host's loop thread).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "../os/os.h"
#include "watcher.h"

#define WPATH 32768

/* Watch entry `full` (absolute, '\' separators): its directory and name;
 * for a directory also its entries. */
static int add_entry(hotssl__watch_set *set, wchar_t *full) {
  size_t len = wcslen(full);
  wchar_t *sep, saved;
  char *dir, *name;
  DWORD attr;
  int r;
  while (len > 3 && full[len - 1] == L'\\')
    full[--len] = L'\0';
  if ((sep = wcsrchr(full, L'\\')) == NULL || sep[1] == L'\0')
    return 0; /* a drive root: nothing above it to watch */
  attr = GetFileAttributesW(full);
  /* The directory keeps its trailing '\' only when it is a drive root. */
  saved = sep == full + 2 ? sep[1] : sep[0];
  if (sep == full + 2) {
    name = hotssl__wide_to_utf8(sep + 1);
    sep[1] = L'\0';
  } else {
    name = hotssl__wide_to_utf8(sep + 1);
    sep[0] = L'\0';
  }
  dir = hotssl__wide_to_utf8(full);
  if (GetFileAttributesW(full) == INVALID_FILE_ATTRIBUTES)
    set->missing_dir = 1;
  if (sep == full + 2)
    sep[1] = saved;
  else
    sep[0] = saved;
  r = dir != NULL && name != NULL ? hotssl__watch_set_add(set, dir, name) : HOTSSL_ENOMEM;
  free(dir);
  free(name);
  if (r == 0 && attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY) &&
      !(attr & FILE_ATTRIBUTE_REPARSE_POINT)) {
    char *self = hotssl__wide_to_utf8(full);
    r = self != NULL ? hotssl__watch_set_add(set, self, NULL) : HOTSSL_ENOMEM;
    free(self);
  }
  return r;
}

int hotssl__watch_resolve(hotssl__watch_set *set, const char *path) {
  wchar_t *wpath = NULL, *full = NULL;
  int r = 0;
  DWORD len, attr;

  if (path == NULL || path[0] == '\0')
    return 0;
  if ((wpath = hotssl__utf8_to_wide(path)) == NULL || (full = malloc(WPATH * sizeof *full)) == NULL) {
    r = HOTSSL_ENOMEM;
    goto out;
  }
  len = GetFullPathNameW(wpath, WPATH, full, NULL);
  if (len == 0 || len >= WPATH)
    goto out;
  attr = GetFileAttributesW(full);
  if ((r = add_entry(set, full)) != 0)
    goto out;
  if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_REPARSE_POINT)) {
    /* A link: also watch where it ends. */
    HANDLE h = CreateFileW(full, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h != INVALID_HANDLE_VALUE) {
      len = GetFinalPathNameByHandleW(h, full, WPATH, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
      CloseHandle(h);
      if (len > 0 && len < WPATH) {
        wchar_t *p = full;
        if (wcsncmp(p, L"\\\\?\\", 4) == 0 && p[5] == L':')
          p += 4; /* \\?\C:\... -> C:\... */
        r = add_entry(set, p);
      }
    }
  }
out:
  free(wpath);
  free(full);
  return r;
}

unsigned hotssl__watch_wait(const int *fds, size_t n, int timeout_ms) {
  HANDLE h[MAXIMUM_WAIT_OBJECTS];
  size_t map[MAXIMUM_WAIT_OBJECTS];
  DWORD k = 0, i, w;
  unsigned mask = 0;
  for (i = 0; i < n && k < MAXIMUM_WAIT_OBJECTS; i++) {
    if (fds[i] == -1)
      continue;
    h[k] = (HANDLE)(intptr_t)fds[i];
    map[k++] = i;
  }
  if (k == 0) {
    Sleep(timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    return 0;
  }
  w = WaitForMultipleObjects(k, h, FALSE, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
  if (w >= WAIT_OBJECT_0 + k)
    return 0; /* timeout or failure: the caller re-dispatches anyway */
  /* WaitForMultipleObjects names the first signalled one; the events are
   * manual-reset, so the others can be asked without consuming them. */
  for (i = 0; i < k; i++)
    if (i == w - WAIT_OBJECT_0 || WaitForSingleObject(h[i], 0) == WAIT_OBJECT_0)
      mask |= 1u << map[i];
  return mask;
}
