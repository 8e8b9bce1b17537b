/*
 * Helpers for the Windows C tests (run under Wine in CI, natively on
 * Windows): checks that report file:line, a fresh temporary folder, files
 * written the three ways deployments write them, self-signed pairs made with
 * mbedTLS (cli/certgen.c), waits on conditions with a deadline, and Wine
 * detection for the one assertion Wine cannot honour. Each test program is
 * its own process, so these helpers may use globals.
 */
#ifndef HOTSSL_WINLIB_H
#define HOTSSL_WINLIB_H

#include <stdint.h>
#include <stdio.h>

#include "hotssl/hotssl.h"

extern int wl_failures, wl_checks;

#define WL_CHECK(cond)                                                         \
  do {                                                                         \
    wl_checks++;                                                               \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      wl_failures++;                                                           \
    }                                                                          \
  } while (0)

/* Generous deadline for every wait (ms): Wine on a loaded 2-core machine. */
#define WL_DEADLINE_MS 30000

/* Print the summary (and the skips) and return the exit status. */
int wl_finish(const char *name);
/* Record an assertion that did not run, with the reason (never a pass). */
void wl_skip(const char *what, const char *why);

/* Running under Wine (ntdll exports wine_get_version)? */
int wl_under_wine(void);

/* New empty folder under the temporary folder; UTF-8, '\' separators. */
char *wl_mkdtemp(void);
void wl_rmtree(const char *dir);
char *wl_path(const char *dir, const char *name); /* malloc'ed */

/* Files are created with a protected DACL: full access for SYSTEM and the
 * current user only (the rules of the key-file check), at creation time.
 * wl_create (re)creates path with that DACL plus extra_ace (SDDL, e.g.
 * "(A;;FR;;;WD)" for Everyone:read), or NULL. */
void wl_create(const char *path, const char *text, const char *extra_ace);
/* Rewrite in place (truncate the existing file, write). */
void wl_write(const char *path, const char *text);
/* Write a temporary file next to path and rename it over path. */
void wl_write_rename(const char *path, const char *text);
/* Delete path, then create it again. */
void wl_write_recreate(const char *path, const char *text);

/* A self-signed EC P-256 certificate with subject "CN=<cn>" and its key
 * (PEM, malloc'ed). 0 or an mbedTLS error. */
int wl_make_pair(const char *cn, unsigned long serial, char **crt, char **key);

/* A manager from the configuration file conf, logging through wl_log:
 * 0, or the error code with err filled (*m is NULL then). */
int wl_manager_start(const char *conf, hotssl_manager **m, char *err, size_t errlen);

/* For wl_wait: is m serving a certificate whose subject is `subject`? */
typedef struct wl_want {
  hotssl_manager *m;
  const char *subject;
} wl_want;
int wl_serving(void *want);

/* Poll cond(arg) until true or the deadline; 1 when it became true. */
int wl_wait(int (*cond)(void *), void *arg, unsigned deadline_ms);

/* Log callback to stderr, also counting lines that contain a substring. */
void wl_log(void *ud, hotssl_log_level level, const char *msg);

/* Restrict path's DACL to a protected list: the owner (full) and SYSTEM
 * (full), plus read for `extra` (a well-known SID type, or -1 for none).
 * 0 or a Windows error. */
int wl_set_dacl(const char *path, int extra);

#endif
