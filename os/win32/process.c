/* Process pieces for Windows (see os/posix/process.c). Windows has no fork,
 * so a generation's recorded id never differs from the current one. The
 * passphrase command's process tree: the Windows port should assign it to a
 * job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and close the job at the
 * deadline; until then only the command itself is killed. */
#include <windows.h>

#include <apr_thread_proc.h>

#include "../../core/internal.h"
#include "../os.h"

long hotssl__process_id(void) { return (long)GetCurrentProcessId(); }

apr_status_t hotssl__procattr_own_group(apr_procattr_t *attr) {
  (void)attr;
  return APR_SUCCESS;
}

void hotssl__proc_kill_group(apr_proc_t *proc) { apr_proc_kill(proc, 9); }
