/*
 * Windows placeholder for platform/posix/spawn.c (not built yet). How it maps:
 *  - hotssl_spawn: apr_proc_create -> CreateProcess with bInheritHandles and a
 *    PROC_THREAD_ATTRIBUTE_HANDLE_LIST naming exactly two handles, so nothing
 *    else leaks even while other threads spawn: the accepted SOCKET made
 *    inheritable (or, as PostgreSQL does, WSADuplicateSocket info written
 *    into the pipe) and the read end of an anonymous pipe (CreatePipe) that
 *    carries the snapshot. The listening socket is created
 *    WSA_FLAG_NO_HANDLE_INHERIT.
 *  - hand-off text "hotssl1:<conn HANDLE>:<pipe HANDLE>" (handle values are
 *    valid in the child because they are inherited).
 *  - hotssl_backend_open: _open_osfhandle is not needed; ReadFile on the pipe
 *    handle with the same header/length/EOF checks; the socket handle is used
 *    as is (mbedtls_net_context.fd holds a SOCKET).
 *  - hotssl_process_wait: apr_proc_wait (WaitForSingleObject on the process
 *    handle).
 * The decrypted key only travels through the anonymous pipe, as on POSIX.
 */
#include "../../core/internal.h"
#include "hotssl/platform.h"

int hotssl_spawn(hotssl_manager *m, const hotssl_spawn_request *req, hotssl_process **out,
                 char *errbuf, size_t errlen) {
  (void)m; (void)req;
  if (out != NULL) *out = NULL;
  hotssl__fmt(errbuf, errlen, "hotssl_spawn is not built on Windows yet");
  return HOTSSL_ENOTSUP;
}
long hotssl_process_pid(const hotssl_process *p) { (void)p; return -1; }
int hotssl_process_wait(hotssl_process *p, int block, int *exit_code) {
  (void)p; (void)block; (void)exit_code;
  return HOTSSL_ENOTSUP;
}
void hotssl_process_destroy(hotssl_process *p) { (void)p; }
int hotssl_backend_open(const char *handoff, int *conn_fd, hotssl_manager **m,
                        const hotssl_manager_options *opts, char *errbuf, size_t errlen) {
  (void)handoff; (void)opts;
  if (conn_fd != NULL) *conn_fd = -1;
  if (m != NULL) *m = NULL;
  hotssl__fmt(errbuf, errlen, "hotssl_backend_open is not built on Windows yet");
  return HOTSSL_ENOTSUP;
}
