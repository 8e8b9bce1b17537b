/*
 * What hotssl_spawn and hotssl_backend_open do the same way on every OS
 * (platform/spawn_common.c); platform/posix/spawn.c and
 * platform/win32/spawn.c keep only how each OS hands the connection and the
 * snapshot over.
 */
#ifndef HOTSSL_PLATFORM_SPAWN_H
#define HOTSSL_PLATFORM_SPAWN_H

#include "../core/log.h"
#include "../core/manager.h"
#include "../core/snapshot.h"
#include "hotssl/platform.h"

/* HOTSSL__HANDOFF_DEADLINE_MS (core/snapshot.h) bounds the parent's
 * snapshot write and every wait of the backend before it serves. */

/* hotssl_spawn's argument checks: *out = NULL (when out is not NULL), then
 * 0, or HOTSSL_EINVAL for a missing argument. */
int hotssl__spawn_check(hotssl_manager *m, const hotssl_spawn_request *req, hotssl_process **out);
/* The snapshot did not reach the backend (r != 0): warn through m's log. The
 * backend sees the end of the hand-off early and fails alone. */
void hotssl__spawn_handoff_failed(hotssl_manager *m, int r, const char *errbuf);
/* "backend did not read its snapshot within ... ms" into errbuf; HOTSSL_ESYS. */
int hotssl__spawn_handoff_timeout(char *errbuf, size_t errlen);

/* hotssl_backend_open's argument checks: clears *conn_fd and *m (when
 * given), sets *log from opts; 0, or HOTSSL_EINVAL. */
int hotssl__backend_check(const char *handoff, int *conn_fd, hotssl_manager **m,
                          const hotssl_manager_options *opts, hotssl__log *log);
/* A backend that could not start: log err, copy it to errbuf, return r. */
int hotssl__backend_fail(const hotssl__log *log, const char *err, char *errbuf, size_t errlen, int r);

#endif
