/*
 * Internal interface of the platform layer beyond what core/internal.h
 * declares: the pieces whose implementation differs per OS live in
 * platform/posix/ and platform/win32/ (one definition per OS, CMake picks
 * the folder; no vtable).
 */
#ifndef HOTSSL_PLATFORM_H
#define HOTSSL_PLATFORM_H

#include <apr_file_info.h>

/* PostgreSQL's key-file rule on the fstat result of the open descriptor.
 * Returns 0 or HOTSSL_EKEYPERM with the reason in errbuf, worded to follow
 * `private key file "%s" `. */
int hotssl__keyfile_check(const apr_finfo_t *fi, char *errbuf, size_t errlen);

#endif
