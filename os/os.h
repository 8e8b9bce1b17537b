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
#include <apr_thread_proc.h>

/* PostgreSQL's key-file rule on the fstat result of the open descriptor.
 * Returns 0 or HOTSSL_EKEYPERM with the reason in errbuf, worded to follow
 * `private key file "%s" `. */
int hotssl__keyfile_check(const apr_finfo_t *fi, char *errbuf, size_t errlen);

/* The passphrase command (os/posix/process.c, os/win32/process.c): make the
 * process created with attr the leader of a process group of its own, and
 * kill that whole group. */
apr_status_t hotssl__procattr_own_group(apr_procattr_t *attr);
void hotssl__proc_kill_group(apr_proc_t *proc);

#endif
