/*
 * Process pieces that differ per OS: the current process id (a generation's
 * random generator records it when seeded and compares it on every use, to
 * notice a fork by itself), and the start and kill of the passphrase command
 * (os/os.h): /bin/sh -c through APR, as the leader of a process group of its
 * own, so that at the deadline the whole group (the shell and everything it
 * started, e.g. a `sleep`) is killed, not only the shell.
 */
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_thread_proc.h>

#include "../os.h"

HOTSSL__HOT long hotssl__process_id(void) { return (long)getpid(); }
HOTSSL__HOT long hotssl__parent_process_id(void) { return (long)getppid(); }

/* Runs in the child between fork and exec (APR calls it there). */
static apr_status_t own_group(void *ctx, apr_fileperms_t perms, apr_uid_t uid, apr_gid_t gid) {
  (void)ctx;
  (void)perms;
  (void)uid;
  (void)gid;
  return setpgid(0, 0) == 0 ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t hotssl__cmd_start(hotssl__cmd *c, const char *cmd, void *spawn_lock, apr_pool_t *pool,
                               const char **what) {
  apr_procattr_t *attr;
  apr_status_t rv;
  const char *args[2];

  *what = "";
  c->job = NULL;
  if ((rv = apr_procattr_create(&attr, pool)) != APR_SUCCESS ||
      (rv = hotssl__os()->procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE)) != APR_SUCCESS ||
      (rv = apr_procattr_cmdtype_set(attr, APR_SHELLCMD)) != APR_SUCCESS ||
      /* No error check: with APR_SHELLCMD, APR would access() the whole
       * command line as a path when it starts with '/' ("/bin/echo x"),
       * and fail. A command the shell cannot run exits 127. */
      (rv = apr_procattr_error_check_set(attr, 0)) != APR_SUCCESS ||
      /* Its own process group: at the deadline the whole group is killed,
       * not only the shell (whose children would outlive the timeout). */
      (rv = apr_procattr_perms_set_register(attr, own_group, NULL, 0)) != APR_SUCCESS)
    return rv;
  args[0] = cmd;
  args[1] = NULL;
  if (spawn_lock != NULL)
    hotssl__mutex_lock(spawn_lock);
  rv = hotssl__os()->proc_create(&c->proc, cmd, args, NULL, attr, pool);
  if (spawn_lock != NULL)
    hotssl__mutex_unlock(spawn_lock);
  return rv;
}

void hotssl__cmd_kill(hotssl__cmd *c) {
  /* The group's id is the leader's pid; the leader may already have died
   * while its children live on: the group is still killed. */
  if (kill(-(pid_t)c->proc.pid, SIGKILL) != 0)
    apr_proc_kill(&c->proc, SIGKILL);
}

void hotssl__cmd_release(hotssl__cmd *c) { (void)c; }
