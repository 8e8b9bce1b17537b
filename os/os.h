/*
 * Internal interface of the OS layer (os/) beyond what core/internal.h
 * declares. os/ is the layer *below* core/: files, the passphrase command,
 * mutexes, the wake-up pipe, the key-file protection check and the clock.
 * Portable parts on APR sit in os/ itself; the pieces whose implementation
 * differs per OS live in os/posix/ and os/win32/ (one definition per OS,
 * CMake picks the folder; no vtable).
 */
#ifndef HOTSSL_OS_H
#define HOTSSL_OS_H

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>
#ifdef _WIN32
#include <wchar.h>
#endif

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

#endif
