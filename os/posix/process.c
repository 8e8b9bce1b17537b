/*
 * Process pieces that differ per OS: the current process id (a generation's
 * random generator records it when seeded and compares it on every use, to
 * notice a fork by itself), and the passphrase command's process group: the
 * command runs as the leader of a group of its own, so that at the deadline
 * the whole group (the shell and everything it started, e.g. a `sleep`) is
 * killed, not only the shell.
 */
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_thread_proc.h>

#include "../../core/internal.h"
#include "../os.h"

long hotssl__process_id(void) { return (long)getpid(); }

/* Runs in the child between fork and exec (APR calls it there). */
static apr_status_t own_group(void *ctx, apr_fileperms_t perms, apr_uid_t uid, apr_gid_t gid) {
  (void)ctx;
  (void)perms;
  (void)uid;
  (void)gid;
  return setpgid(0, 0) == 0 ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t hotssl__procattr_own_group(apr_procattr_t *attr) {
  return apr_procattr_perms_set_register(attr, own_group, NULL, 0);
}

void hotssl__proc_kill_group(apr_proc_t *proc) {
  /* The group's id is the leader's pid; the leader may already have died
   * while its children live on: the group is still killed. */
  if (kill(-(pid_t)proc->pid, SIGKILL) != 0)
    apr_proc_kill(proc, SIGKILL);
}
