/*
 * The OS-independent part of hotssl_spawn and hotssl_backend_open (see
 * platform/spawn.h): argument checks, the hand-off failure report and the
 * backend's failure path. Built on every OS.
 */
#include <stddef.h>

#include "spawn.h"

int hotssl__spawn_check(hotssl_manager *m, const hotssl_spawn_request *req, hotssl_process **out) {
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (m == NULL || req == NULL || req->program == NULL || req->argv == NULL ||
      req->snapshot == NULL)
    return HOTSSL_EINVAL;
  return 0;
}

void hotssl__spawn_handoff_failed(hotssl_manager *m, int r, const char *errbuf) {
  if (r != 0)
    hotssl__logf(&m->log, HOTSSL_LOG_WARNING, "%s", errbuf != NULL ? errbuf : "snapshot hand-off failed");
}

int hotssl__spawn_handoff_timeout(char *errbuf, size_t errlen) {
  hotssl__fmt(errbuf, errlen, "backend did not read its snapshot within %d ms", HOTSSL__HANDOFF_DEADLINE_MS);
  return HOTSSL_ESYS;
}

int hotssl__backend_check(const char *handoff, int *conn_fd, hotssl_manager **m,
                          const hotssl_manager_options *opts, hotssl__log *log) {
  log->fn = NULL;
  log->ud = NULL;
  if (conn_fd != NULL)
    *conn_fd = -1;
  if (m != NULL)
    *m = NULL;
  if (handoff == NULL || conn_fd == NULL || m == NULL)
    return HOTSSL_EINVAL;
  if (opts != NULL) {
    log->fn = opts->log;
    log->ud = opts->log_userdata;
  }
  return 0;
}

int hotssl__backend_fail(const hotssl__log *log, const char *err, char *errbuf, size_t errlen, int r) {
  hotssl__logf(log, HOTSSL_LOG_ERROR, "%s", err);
  hotssl__fmt(errbuf, errlen, "%s", err);
  return r;
}
