/*
 * The Windows notification backend of the watcher: ReadDirectoryChangesW on
 * each directory of the watch set (watcher.h's hotssl__watch_ops, the same
 * contract as inotify/inotify.c; debounce, retry and the polling fallback
 * are the common layer's, watcher.c).
 *
 *  sync    one directory handle per distinct set->iv[i].dir, opened with
 *          FILE_SHARE_DELETE (our handle must never stop a deployment tool
 *          from renaming or removing the directory) and an overlapped read
 *          of names, sizes, write times and security changes always
 *          pending. A directory that cannot be opened makes sync return 1:
 *          the common layer polls meanwhile, like a failed inotify watch.
 *  fd      one manual-reset event shared by every pending read (as an int:
 *          kernel handle values fit in 32 bits); paths_win32.c waits on it.
 *  read    reset the event, then look at every completed read: each record
 *          names an entry of that directory (UTF-16, converted to UTF-8)
 *          -> CHANGED when it is of interest (names compared without
 *          regard to case, as the file system does); an empty completion means the
 *          buffer overflowed -> CHANGED | RESYNC | LOST (IN_Q_OVERFLOW);
 *          a failed one (directory removed, access lost) -> CHANGED |
 *          RESYNC, and the next sync closes the handle. Then the read is
 *          issued again.
 *
 * Every directory handle is also tied to an I/O completion port whose
 * packets are discarded: that makes the reads independent of the thread
 * that issued them (the first sync runs on the host's thread, which may end
 * before the watcher does).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "../../os/os.h"
#include "../watcher.h"

#define BUF_BYTES 65536u
#define FILTER (FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |               \
                FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE |                  \
                FILE_NOTIFY_CHANGE_CREATION | FILE_NOTIFY_CHANGE_SECURITY |                \
                FILE_NOTIFY_CHANGE_ATTRIBUTES)

typedef struct wdir {
  char *dir; /* UTF-8, as in the watch set */
  HANDLE h;
  OVERLAPPED ov;
  int pending;
  DWORD buf[BUF_BYTES / sizeof(DWORD)]; /* DWORD-aligned, as the API needs */
} wdir;

typedef struct rdcw {
  HANDLE ev, port;
  wdir **v;
  size_t n;
  const hotssl__watch_set *set;
} rdcw;

static int arm(rdcw *b, wdir *d) {
  memset(&d->ov, 0, sizeof d->ov);
  d->ov.hEvent = b->ev;
  d->pending = ReadDirectoryChangesW(d->h, d->buf, BUF_BYTES, FALSE, FILTER, NULL, &d->ov, NULL) != 0;
  return d->pending ? 0 : -1;
}

static void wdir_close(wdir *d) {
  if (d->h != INVALID_HANDLE_VALUE) {
    if (d->pending) {
      DWORD n;
      CancelIoEx(d->h, &d->ov);
      GetOverlappedResult(d->h, &d->ov, &n, TRUE); /* the kernel is done with buf */
    }
    CloseHandle(d->h);
  }
  free(d->dir);
  free(d);
}

static wdir *wdir_open(rdcw *b, const char *dir) {
  wdir *d = calloc(1, sizeof *d);
  wchar_t *w;
  if (d == NULL)
    return NULL;
  d->h = INVALID_HANDLE_VALUE;
  if ((d->dir = hotssl__strdup(dir)) == NULL || (w = hotssl__utf8_to_wide(dir)) == NULL) {
    wdir_close(d);
    return NULL;
  }
  d->h = CreateFileW(w, FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
  free(w);
  if (d->h == INVALID_HANDLE_VALUE || CreateIoCompletionPort(d->h, b->port, 0, 0) == NULL ||
      arm(b, d) != 0) {
    wdir_close(d);
    return NULL;
  }
  return d;
}

static int rdcw_open(void **be) {
  rdcw *b = calloc(1, sizeof *b);
  if (b == NULL)
    return HOTSSL_ENOMEM;
  b->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  b->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (b->ev == NULL || b->port == NULL) {
    if (b->ev != NULL)
      CloseHandle(b->ev);
    if (b->port != NULL)
      CloseHandle(b->port);
    free(b);
    return HOTSSL_ESYS;
  }
  *be = b;
  return 0;
}

/* Throw away the completion packets (only there for thread independence). */
static void drain_port(rdcw *b) {
  DWORD n;
  ULONG_PTR key;
  OVERLAPPED *ov = NULL;
  while (GetQueuedCompletionStatus(b->port, &n, &key, &ov, 0) || ov != NULL)
    ov = NULL;
}

static void rdcw_close(void *be) {
  rdcw *b = be;
  size_t i;
  if (b == NULL)
    return;
  for (i = 0; i < b->n; i++)
    wdir_close(b->v[i]);
  free(b->v);
  drain_port(b);
  CloseHandle(b->port);
  CloseHandle(b->ev);
  free(b);
}

static int in_set(const hotssl__watch_set *set, const char *dir) {
  size_t i;
  for (i = 0; i < set->n_iv; i++)
    if (strcmp(set->iv[i].dir, dir) == 0)
      return 1;
  return 0;
}

static int rdcw_sync(void *be, const hotssl__watch_set *set) {
  rdcw *b = be;
  size_t i, k;
  int incomplete = 0;
  /* Drop directories no longer of interest, and handles whose read failed. */
  for (i = 0; i < b->n;) {
    if (!in_set(set, b->v[i]->dir) || !b->v[i]->pending) {
      wdir_close(b->v[i]);
      b->v[i] = b->v[--b->n];
    } else {
      i++;
    }
  }
  for (i = 0; i < set->n_iv; i++) {
    const char *dir = set->iv[i].dir;
    wdir *d, **nv;
    for (k = 0; k < b->n && strcmp(b->v[k]->dir, dir) != 0; k++)
      ;
    if (k < b->n)
      continue;
    if ((d = wdir_open(b, dir)) == NULL) {
      incomplete = 1;
      continue;
    }
    if ((nv = realloc(b->v, (b->n + 1) * sizeof *nv)) == NULL) {
      wdir_close(d);
      return HOTSSL_ENOMEM;
    }
    b->v = nv;
    b->v[b->n++] = d;
  }
  b->set = set;
  return incomplete;
}

static int rdcw_fd(const void *be) { return (int)(intptr_t)((const rdcw *)be)->ev; }

/* hotssl__watch_match with Windows' rule for names: case-insensitive
 * (ordinal, as the file system compares them). */
static int match(const hotssl__watch_set *set, const char *dir, const char *name) {
  size_t i;
  for (i = 0; i < set->n_iv; i++) {
    wchar_t *a, *b;
    int eq;
    if (strcmp(set->iv[i].dir, dir) != 0)
      continue;
    if (set->iv[i].name == NULL)
      return 1;
    a = hotssl__utf8_to_wide(set->iv[i].name);
    b = hotssl__utf8_to_wide(name);
    eq = a != NULL && b != NULL && CompareStringOrdinal(a, -1, b, -1, TRUE) == CSTR_EQUAL;
    free(a);
    free(b);
    if (eq)
      return 1;
  }
  return 0;
}

/* Walk the records of one completed read. */
static int records(const rdcw *b, const wdir *d, DWORD len) {
  const unsigned char *base = (const unsigned char *)d->buf;
  DWORD off = 0;
  int flags = 0;
  for (;;) {
    const FILE_NOTIFY_INFORMATION *fni = (const FILE_NOTIFY_INFORMATION *)(base + off);
    char name[4 * MAX_PATH];
    int wl = (int)(fni->FileNameLength / sizeof(WCHAR));
    int n = WideCharToMultiByte(CP_UTF8, 0, fni->FileName, wl, name, (int)sizeof name - 1, NULL, NULL);
    if (n > 0) {
      name[n] = '\0';
      if (b->set != NULL && match(b->set, d->dir, name))
        flags |= HOTSSL__WATCH_CHANGED;
    }
    if (fni->NextEntryOffset == 0 || off + fni->NextEntryOffset >= len)
      break;
    off += fni->NextEntryOffset;
  }
  return flags;
}

static int rdcw_read(void *be, uint64_t now_ms) {
  rdcw *b = be;
  size_t i;
  int flags = 0;
  (void)now_ms;
  ResetEvent(b->ev); /* before looking: a completion after this sets it again */
  drain_port(b);
  for (i = 0; i < b->n; i++) {
    wdir *d = b->v[i];
    DWORD len = 0;
    if (!d->pending || !HasOverlappedIoCompleted(&d->ov))
      continue;
    d->pending = 0;
    if (!GetOverlappedResult(d->h, &d->ov, &len, FALSE)) {
      /* The directory went away or cannot be read: re-resolve now; sync
       * closes this handle (not pending) and opens what exists. */
      flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
      continue;
    }
    if (len == 0)
      flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC | HOTSSL__WATCH_LOST;
    else
      flags |= records(b, d, len);
    if (arm(b, d) != 0)
      flags |= HOTSSL__WATCH_CHANGED | HOTSSL__WATCH_RESYNC;
  }
  return flags;
}

static int rdcw_timeout(const void *be, uint64_t now_ms) {
  (void)be;
  (void)now_ms;
  return -1;
}

const hotssl__watch_ops hotssl__watch_rdcw_ops = {
    "ReadDirectoryChangesW", rdcw_open, rdcw_close, rdcw_sync, rdcw_fd, rdcw_read, rdcw_timeout,
};
