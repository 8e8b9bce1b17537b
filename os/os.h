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
#include <wchar.h>
wchar_t *hotssl__utf8_to_wide(const char *s);
char *hotssl__wide_to_utf8(const wchar_t *w);
#endif

/* How a TLS file is opened: non-blocking on POSIX, so a FIFO put in place of
 * a file cannot hang the open; Windows has no FIFOs in the file system and
 * APR refuses the flag there. */
#ifdef _WIN32
#  define HOTSSL__OPEN_FLAGS (APR_FOPEN_READ | APR_FOPEN_BINARY)
#else
#  define HOTSSL__OPEN_FLAGS (APR_FOPEN_READ | APR_FOPEN_BINARY | APR_FOPEN_NONBLOCK)
#endif

#endif
