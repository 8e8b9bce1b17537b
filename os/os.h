/*
 * The OS layer's whole interface (os/), the bottom layer of hotssl: files
 * (read with identity, directory listing, path syntax), the passphrase
 * command, mutexes, the wake-up, the key-file protection check, clocks, the
 * OS's random generator, pages for secrets (kept out of core dumps), and the
 * small text helpers every layer uses. It
 * depends on the C library, APR and system headers only; core/, platform/,
 * watcher/ and cli/ build on it (core/'s headers include it), never the
 * other way round. Portable parts on APR sit in os/ itself; the pieces whose
 * implementation differs per OS live in os/posix/ and os/win32/ (one
 * definition per OS, CMake picks the folder; no vtable). Return codes are
 * the public HOTSSL_E* values (include/hotssl/hotssl.h). Internal: never
 * installed.
 */
#ifndef HOTSSL_OS_H
#define HOTSSL_OS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>
#ifdef _WIN32
#include <wchar.h>
#endif

/* The build may name the C99 format archetype (gnu_printf with mingw-w64,
 * where plain printf means the MSVC runtime's formats). */
#ifndef HOTSSL__PRINTF_ARCHETYPE
#  define HOTSSL__PRINTF_ARCHETYPE printf
#endif
#if defined(__GNUC__)
#  define HOTSSL__PRINTF(a, b) __attribute__((format(HOTSSL__PRINTF_ARCHETYPE, a, b)))
#else
#  define HOTSSL__PRINTF(a, b)
#endif

/* What a forking host runs per connection: the parent's acquire and
 * before/after-fork calls, the child's after-fork call and random source.
 * GCC puts these functions side by side (.text.hot). fork() does not copy
 * the page tables of file-backed code, so a child faults in each page of
 * the library's code it runs; grouped, that is one or two pages instead
 * of one per function (bench/run, section "fork host"). */
#if defined(__GNUC__)
#  define HOTSSL__HOT __attribute__((hot))
#else
#  define HOTSSL__HOT
#endif

/* ---- text and memory (os/util.c) ---- */

/* snprintf into a fixed buffer that never fails or overflows. */
void hotssl__fmt(char *buf, size_t len, const char *fmt, ...) HOTSSL__PRINTF(3, 4);
char *hotssl__strdup(const char *s); /* NULL-safe */
/* Overwrite len bytes with zeros in a way the compiler cannot drop. */
void hotssl__zeroize(void *p, size_t len);
/* Free and zeroize a secret string (NULL ok). */
void hotssl__secret_free(char *s);

/* ---- memory for secrets (os/secmem.c; os/posix/secmem.c, os/win32/secmem.c) ---- */

/* A zero-filled buffer of len bytes for key material hotssl fills itself,
 * in pages of its own: left out of core dumps (POSIX: MADV_DONTDUMP; Windows
 * has no such flag) and locked in memory where RLIMIT_MEMLOCK (Windows: the
 * working set) allows, quietly unlocked otherwise. NULL when no memory.
 * Free with hotssl__secure_free (NULL ok): it zeroizes the whole mapping,
 * then unmaps it. A buffer takes at least one page: for secrets only. */
void *hotssl__secure_alloc(size_t len);
void hotssl__secure_free(void *p);
/* A copy of s in such a buffer (hotssl__secure_free), or NULL. */
char *hotssl__secure_strdup(const char *s);
/* The per-OS parts: the page size, the real entries of the call table,
 * and marking the pages that hold [p, p + len) (rounded out to whole pages,
 * which must all be mapped): want and the result are HOTSSL__PAGES_* bits,
 * what was asked and what the OS granted. Also for memory hotssl does not
 * map itself (the prefork region). */
#define HOTSSL__PAGES_NODUMP 1u
#define HOTSSL__PAGES_LOCKED 2u
size_t hotssl__page_size(void);
void *hotssl__pages_map(size_t len);
void hotssl__pages_unmap(void *p, size_t len);
unsigned hotssl__pages_protect(void *p, size_t len, unsigned want);

/* ---- path syntax (os/path.c; the separators and what counts as absolute:
 * os/posix/path.c, os/win32/path.c) ---- */

/* 1 when path is absolute ("/x"; on Windows also "\\x" and "C:..."). */
int hotssl__path_is_absolute(const char *path);
/* The last directory separator of path ('/'; on Windows '/' or '\\'), or
 * NULL. */
const char *hotssl__path_last_sep(const char *path);
/* Join base dir and path unless path is absolute; malloc'ed. */
char *hotssl__path_join(const char *base, const char *path);
/* Absolute form of path (relative to the current directory); malloc'ed. */
char *hotssl__path_absolute(const char *path);
/* The folder of a file path ("." when it has none); malloc'ed. */
char *hotssl__dir_of(const char *path);
/* 1 when path does not exist (ENOENT), else 0. */
int hotssl__path_missing(const char *path);

/* ---- descriptors ---- */

/* A descriptor as the OS layer hands it out: a file descriptor on POSIX, a
 * kernel HANDLE's value on Windows (kernel handle values fit in 32 bits,
 * documented for 32/64-bit interoperability; cast back with
 * (HANDLE)(intptr_t)fd). What hotssl_manager_wakeup_fd() returns. */
typedef int hotssl__os_fd;
#define HOTSSL__OS_FD_NONE (-1)

/* The OS call table (os/calls.c): the file, directory and process calls of
 * the loader and of the passphrase command, reached only through
 * hotssl__os(). A fault-injection seam for tests: they install a table that
 * fails the N-th call (tests/faults; tests/windows/test_win_passphrase); production
 * never changes it. The file entries are APR's, the same on POSIX and
 * Windows; the passphrase command's entries are what each OS's start of it
 * calls (os/posix/process.c, os/win32/process.c). */
typedef struct hotssl__os_calls {
  apr_status_t (*file_open)(apr_file_t **f, const char *path, apr_int32_t flag,
                            apr_fileperms_t perm, apr_pool_t *pool);
  apr_status_t (*file_info_get)(apr_finfo_t *fi, apr_int32_t wanted, apr_file_t *f); /* fstat */
  apr_status_t (*file_read)(apr_file_t *f, void *buf, apr_size_t *n);
  apr_status_t (*dir_open)(apr_dir_t **d, const char *path, apr_pool_t *pool);
#ifndef _WIN32
  /* POSIX, APR's: creates the passphrase command's output pipe; starts it. */
  apr_status_t (*procattr_io_set)(apr_procattr_t *attr, apr_int32_t in, apr_int32_t out,
                                  apr_int32_t err);
  apr_status_t (*proc_create)(apr_proc_t *proc, const char *prog, const char *const *args,
                              const char *const *env, apr_procattr_t *attr, apr_pool_t *pool);
#else
  /* Windows: the command's output pipe (APR's apr_file_pipe_create_ex);
   * CreateProcessW (app, command line, creation flags, STARTUPINFOEXW *,
   * PROCESS_INFORMATION *); AssignProcessToJobObject (job, process). The
   * last two return APR_FROM_OS_ERROR(GetLastError()) on failure. */
  apr_status_t (*pipe_create)(apr_file_t **in, apr_file_t **out, apr_int32_t blocking,
                              apr_pool_t *pool);
  apr_status_t (*process_create)(const wchar_t *app, wchar_t *cmdline, unsigned long flags,
                                 void *startup_info, void *process_info);
  apr_status_t (*job_assign)(void *job, void *process);
#endif
  /* Pages for secrets (os/secmem.c): len bytes, a multiple of the page
   * size, zero-filled, or NULL; and their release (mmap/munmap,
   * VirtualAlloc/VirtualFree). */
  void *(*pages_map)(size_t len);
  void (*pages_unmap)(void *p, size_t len);
} hotssl__os_calls;

const hotssl__os_calls *hotssl__os(void);
/* apr_strerror's text for rv, without the trailing blanks of Windows' texts. */
void hotssl__os_strerror(apr_status_t rv, char *buf, size_t len);
/* Tests only: the real table, and installing another (NULL: the real one). */
const hotssl__os_calls *hotssl__os_real(void);
void hotssl__os_set_calls(const hotssl__os_calls *calls);

/* PostgreSQL's key-file rule on the open file f (fi: its fstat result);
 * POSIX checks owner and mode bits, Windows the owner and the DACL of the
 * open handle. Returns 0 or HOTSSL_EKEYPERM with the reason in errbuf,
 * worded to follow `private key file "%s" `. */
int hotssl__keyfile_check(apr_file_t *f, const apr_finfo_t *fi, char *errbuf, size_t errlen);

#ifdef _WIN32
/* The Windows rule on an owner SID and a DACL (os/win32/keyperm.c); what
 * hotssl__keyfile_check applies to the open handle. Tests call it with
 * security descriptors that Wine cannot store on a file. */
int hotssl__keyfile_check_sd(void *owner_sid, void *dacl, char *errbuf, size_t errlen);

/* UTF-8 <-> UTF-16 for the W functions (os/win32/text.c); malloc'ed, NULL
 * on bad input or no memory. */
wchar_t *hotssl__utf8_to_wide(const char *s);
char *hotssl__wide_to_utf8(const wchar_t *w);

/* The real entries of the call table for the passphrase command's start
 * (os/win32/process.c). */
apr_status_t hotssl__win_process_create(const wchar_t *app, wchar_t *cmdline, unsigned long flags,
                                        void *startup_info, void *process_info);
apr_status_t hotssl__win_job_assign(void *job, void *process);

/* Children that inherit exactly the handles they are given, both the
 * passphrase command's shell (os/win32/process.c) and a spawned backend
 * (platform/win32/spawn.c): an inheritable duplicate of the HANDLE h (NULL
 * when h is absent or cannot be duplicated); a STARTUPINFOEXW's attribute
 * list naming list[0..n) as the only handles to inherit (0, or the Windows
 * error code), freed with hotssl__win_handle_list_free after CreateProcessW. */
void *hotssl__win_inheritable(void *h);
unsigned long hotssl__win_handle_list(void *startup_info_ex, void *const *list, unsigned long n);
void hotssl__win_handle_list_free(void *startup_info_ex);
#endif

/* How a TLS file is opened: non-blocking on POSIX, so a FIFO put in place of
 * a file cannot hang the open; Windows has no FIFOs in the file system and
 * APR refuses the flag there. */
#ifdef _WIN32
#  define HOTSSL__OPEN_FLAGS (APR_FOPEN_READ | APR_FOPEN_BINARY)
#else
#  define HOTSSL__OPEN_FLAGS (APR_FOPEN_READ | APR_FOPEN_BINARY | APR_FOPEN_NONBLOCK)
#endif

/* The passphrase command (os/posix/process.c, os/win32/process.c), run
 * through the system's shell with its stdout on a pipe and the host's stdin
 * and stderr:
 *   POSIX:   /bin/sh -c CMD (APR), as the leader of a process group of its
 *            own; kill: SIGKILL to the whole group.
 *   Windows: "%ComSpec%" /c "CMD" (as PostgreSQL's popen), created
 *            suspended, put into a job object of its own (kill on close)
 *            before it runs, so everything it starts is in the job too;
 *            kill: TerminateJobObject.
 * hotssl__cmd_start: spawn_lock (a hotssl__mutex, or NULL) is held while the
 * process is created. On success proc.pid is its id and proc.out the read
 * end of its stdout, blocking until apr_file_pipe_timeout_set gives it a
 * timeout; wait for it with apr_proc_wait, then always hotssl__cmd_release.
 * On failure nothing runs and nothing is to be released; *what names the
 * step that failed ("" or text ending in ": ") for the message.
 * hotssl__cmd_kill: kill the command and everything it started.
 * hotssl__cmd_release: after apr_proc_wait; Windows closes the job, which
 * kills whatever of the tree is still alive. */
typedef struct hotssl__cmd {
  apr_proc_t proc;
  void *job; /* Windows: the job object's handle */
} hotssl__cmd;
apr_status_t hotssl__cmd_start(hotssl__cmd *c, const char *cmd, void *spawn_lock, apr_pool_t *pool,
                               const char **what);
void hotssl__cmd_kill(hotssl__cmd *c);
void hotssl__cmd_release(hotssl__cmd *c);


/* ---- reading files (os/file.c, os/posix/fileid.c, os/win32/fileid.c) ---- */

/* A file's identity as fstat gives it on the open descriptor: any write,
 * rename over, chmod or touch changes at least one field (ctime is set by
 * the kernel and cannot be set back), unless it happens within the same
 * timestamp tick as the fstat that recorded the identity. */
typedef struct hotssl__file_id {
  uint64_t dev, ino, size;
  int64_t mtime_ns, ctime_ns;
} hotssl__file_id;

/* What one read gives: the bytes and the identity of the descriptor they
 * were read from. */
typedef struct hotssl__os_file {
  unsigned char *data; /* NUL-terminated (data[len] == 0), malloc'ed; NULL:
                        * not read (missing, or same identity as skip_if) */
  size_t len;
  hotssl__file_id id;  /* of the open descriptor */
  int64_t seen_ns;     /* wall clock just before the fstat that gave id */
  int same;            /* the identity equals skip_if: nothing was read */
  int secure;          /* data is hotssl__secure_alloc'ed (a key file) */
} hotssl__os_file;

/* HOTSSL__READ_KEYFILE: apply PostgreSQL's key-file permission rule, and
 * read into a hotssl__secure_alloc buffer. */
#define HOTSSL__READ_KEYFILE 1
#define HOTSSL__READ_MISSING_OK 2 /* a missing file is no error: out->data NULL */

/* Open once, check the open descriptor (regular file, size limit, key
 * permissions) and read from that descriptor. Never blocks on a FIFO. When
 * skip_if is given and the descriptor's identity equals it, nothing is
 * read: out->same is set and out->data stays NULL. Returns 0 or a HOTSSL_E*
 * code with the reason in errbuf (worded to follow the file's name). Free
 * out->data with hotssl__os_file_free. */
int hotssl__os_file_read(const char *path, unsigned flags, uint64_t max_size,
                         const hotssl__file_id *skip_if, hotssl__os_file *out, char *errbuf,
                         size_t errlen);
/* Zeroize and free out->data; out is cleared. */
void hotssl__os_file_free(hotssl__os_file *f);
/* Identity of an open APR file, and the wall clock, in nanoseconds. */
int hotssl__file_id_get(struct apr_file_t *f, hotssl__file_id *id);

/* The sorted names in dir that accept(name, ctx) takes (1), at most max:
 * a malloc'ed array of malloc'ed strings. Returns 0, HOTSSL_EFILE or
 * HOTSSL_ENOMEM, or HOTSSL__DIR_TOO_MANY when more than max names are
 * taken; errbuf gets the reason. */
#define HOTSSL__DIR_TOO_MANY 1
int hotssl__dir_list(const char *dir, int (*accept)(const char *name, void *ctx), void *ctx,
                     size_t max, char ***names, size_t *count, char *errbuf, size_t errlen);

/* ---- the passphrase command (os/runtime.c) ---- */

/* Run cmd through the shell, return the first line of its stdout (secret,
 * read and returned in hotssl__secure_alloc buffers: free with
 * hotssl__secure_free). Non-zero exit is an error. spawn_lock (a
 * hotssl__mutex, may be NULL) is held while the process is created. */
int hotssl__run_passphrase_command(const char *cmd, unsigned timeout_ms, void *spawn_lock,
                                   char **out, char *errbuf, size_t errlen);

/* ---- clocks, processes, random (os/posix/, os/win32/) ---- */

/* Monotonic milliseconds, and nanoseconds. */
uint64_t hotssl__now_ms(void);
uint64_t hotssl__mono_ns(void);
/* The wall clock, nanoseconds since 1970. */
int64_t hotssl__wall_ns(void);
/* CPU time of the calling thread, microseconds. */
uint64_t hotssl__thread_cpu_us(void);
/* The current process's id, and its parent's (0 where unknown). */
long hotssl__process_id(void);
long hotssl__parent_process_id(void);
void hotssl__yield(void);
/* Fill out with len bytes from the OS's CSPRNG; 0 or -1. The signature of
 * a CTR-DRBG entropy callback. */
int hotssl__os_entropy(void *unused, unsigned char *out, size_t len);

/* ---- wake-up (os/posix/wakeup.c, os/win32/wakeup.c) ---- */

/* POSIX: a self-pipe (rfd its read end, wfd its write end); Windows: one
 * manual-reset event in both. Used by request_reload: signal is
 * async-signal-safe. */
typedef struct hotssl__wakeup {
  hotssl__os_fd rfd, wfd;
} hotssl__wakeup;
int hotssl__wakeup_open(hotssl__wakeup *w);
void hotssl__wakeup_close(hotssl__wakeup *w);
void hotssl__wakeup_signal(hotssl__wakeup *w); /* async-signal-safe */
void hotssl__wakeup_drain(hotssl__wakeup *w);

/* ---- a page shared with forked and spawned processes (os/posix/shpage.c,
 * os/win32/shpage.c) ---- */

/* POSIX: a memfd (else anonymous shared memory, fd -1) mapped MAP_SHARED,
 * so forked children see the creator's writes and a spawned process maps
 * the inherited descriptor. Windows: private memory (no fork; fd
 * HOTSSL__OS_FD_NONE). len is a page or less; the memory starts zeroed. */
typedef struct hotssl__shpage {
  void *p;
  int fd; /* -1: none */
} hotssl__shpage;
int hotssl__shpage_create(hotssl__shpage *s, size_t len);
/* Map an inherited descriptor of another process's page, read-only; the
 * descriptor is closed in every case. 0 or -1. */
int hotssl__shpage_attach(hotssl__shpage *s, int fd, size_t len);
void hotssl__shpage_free(hotssl__shpage *s, size_t len); /* p NULL ok */
/* 0 when a page can be handed to another process by descriptor, else -1
 * (Windows). */
int hotssl__os_shpage_supported(void);

/* ---- mounts (os/posix/mounts.c; os/win32/mounts.c knows none) ---- */

#define HOTSSL__MOUNT_FILE 1u   /* the path is itself the mount point of a file (bind mount) */
#define HOTSSL__MOUNT_REMOTE 2u /* its filesystem raises no inotify event for changes made
                                   elsewhere (NFS, CIFS, FUSE, ...; on overlay: a path from a
                                   lower layer visible here, not in the upper one) */
typedef struct hotssl__mount {
  char fstype[64];
  char mount_point[1024];
  unsigned flags; /* HOTSSL__MOUNT_* */
} hotssl__mount;

/* The mount holding absolute path in text, in /proc/self/mountinfo's format
 * (the mount point that is the longest prefix of path; the later line when
 * equal). path_is_dir: path names a directory (a directory mount point is
 * no single-file mount). 0, or -1 when no line matches. */
int hotssl__mountinfo_find(const char *text, const char *path, int path_is_dir, hotssl__mount *out);
/* The same for this process's mounts, path resolved (realpath) first. 0, or
 * -1 when unknown (no /proc, Windows). */
int hotssl__mount_of(const char *path, hotssl__mount *out);
/* Owner, group and permission bits (07777) of path, following links. 0, or
 * -1 (no such file; Windows, where owner and DACL are keyperm.c's). */
int hotssl__file_owner_mode(const char *path, unsigned long *uid, unsigned long *gid,
                            unsigned *mode);

/* ---- mutexes (os/posix/mutex.c, os/win32/mutex.c), the runtime (os/runtime.c) ---- */

/* A mutex (os/posix/mutex.c, os/win32/mutex.c); *pool is what destroy
 * needs besides it (NULL on POSIX). */
int hotssl__mutex_create(void **mutex, void **pool);
void hotssl__mutex_destroy(void *mutex, void *pool);
void hotssl__mutex_lock(void *mutex);
void hotssl__mutex_unlock(void *mutex);

/* Process-wide runtime (APR) reference: create/destroy pair. */
int hotssl__runtime_acquire(void);
void hotssl__runtime_release(void);

#endif /* HOTSSL_OS_H */
