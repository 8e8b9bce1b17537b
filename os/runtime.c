/*
 * Process-level services on APR: the APR runtime reference, mutexes, time,
 * and running the passphrase command. APR keeps its own reference count for
 * apr_initialize/apr_terminate; the first hotssl_manager_create must not race
 * with another thread's first APR use (documented in hotssl.h).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include <mbedtls/platform_util.h>

#include "../core/internal.h"
#include "os.h"

int hotssl__runtime_acquire(void) {
  return apr_initialize() == APR_SUCCESS ? 0 : HOTSSL_ESYS;
}

void hotssl__runtime_release(void) { apr_terminate(); }

int hotssl__mutex_create(void **mutex, void **pool) {
  apr_pool_t *p;
  apr_thread_mutex_t *mx;
  if (apr_pool_create(&p, NULL) != APR_SUCCESS)
    return HOTSSL_ENOMEM;
  if (apr_thread_mutex_create(&mx, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
    apr_pool_destroy(p);
    return HOTSSL_ESYS;
  }
  *mutex = mx;
  *pool = p;
  return 0;
}

void hotssl__mutex_destroy(void *mutex, void *pool) {
  if (mutex != NULL)
    apr_thread_mutex_destroy(mutex);
  if (pool != NULL)
    apr_pool_destroy(pool);
}

void hotssl__mutex_lock(void *mutex) { apr_thread_mutex_lock(mutex); }
void hotssl__mutex_unlock(void *mutex) { apr_thread_mutex_unlock(mutex); }


void hotssl__yield(void) { apr_thread_yield(); }

#define PASS_MAX 1024

/* Wait for the command, killing it at the deadline (0: no deadline).
 * Returns 1 if it had to be killed. */
static int wait_or_kill(apr_proc_t *proc, uint64_t deadline, int *code, apr_exit_why_e *why) {
  if (deadline == 0) {
    apr_proc_wait(proc, code, why, APR_WAIT);
    return 0;
  }
  for (;;) {
    if (APR_STATUS_IS_CHILD_DONE(apr_proc_wait(proc, code, why, APR_NOWAIT)))
      return 0;
    if (hotssl__now_ms() >= deadline) {
      hotssl__proc_kill_group(proc);
      apr_proc_wait(proc, code, why, APR_WAIT);
      return 1;
    }
    apr_sleep(10000); /* a child process has no descriptor to wait on here */
  }
}

int hotssl__run_passphrase_command(const char *cmd, unsigned timeout_ms, void *spawn_lock,
                                   char **out, char *errbuf, size_t errlen) {
  apr_pool_t *pool = NULL;
  apr_procattr_t *attr;
  apr_proc_t proc;
  apr_status_t rv;
  const char *args[2];
  char buf[PASS_MAX + 1];
  apr_size_t got = 0;
  int code = 0, r, timed_out = 0;
  apr_status_t read_rv = APR_SUCCESS;
  apr_exit_why_e why = APR_PROC_EXIT;
  uint64_t deadline = timeout_ms ? hotssl__now_ms() + timeout_ms : 0;
  char t[200];

  *out = NULL;
  if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
    hotssl__fmt(errbuf, errlen, "could not run command \"%s\": out of memory", cmd);
    return HOTSSL_ENOMEM;
  }
  if ((rv = apr_procattr_create(&attr, pool)) != APR_SUCCESS ||
      (rv = hotssl__os()->procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE)) != APR_SUCCESS ||
      (rv = apr_procattr_cmdtype_set(attr, APR_SHELLCMD)) != APR_SUCCESS ||
      /* No error check: with APR_SHELLCMD, APR would access() the whole
       * command line as a path when it starts with '/' ("/bin/echo x"),
       * and fail. A command the shell cannot run exits 127, reported below. */
      (rv = apr_procattr_error_check_set(attr, 0)) != APR_SUCCESS ||
      /* Its own process group: at the deadline the whole group is killed,
       * not only the shell (whose children would outlive the timeout). */
      (rv = hotssl__procattr_own_group(attr)) != APR_SUCCESS)
    goto apr_fail;
  args[0] = cmd;
  args[1] = NULL;
  if (spawn_lock != NULL)
    hotssl__mutex_lock(spawn_lock);
  rv = hotssl__os()->proc_create(&proc, cmd, args, NULL, attr, pool);
  if (spawn_lock != NULL)
    hotssl__mutex_unlock(spawn_lock);
  if (rv != APR_SUCCESS)
    goto apr_fail;
  for (;;) {
    apr_size_t n = PASS_MAX - got;
    if (n == 0) {
      /* Enough: close the pipe below. A command that keeps writing gets
       * SIGPIPE and ends (as with PostgreSQL's popen/pclose); draining it
       * would never end for a command like `yes`. */
      break;
    } else {
      if (deadline != 0) {
        uint64_t now = hotssl__now_ms();
        if (now >= deadline) {
          timed_out = 1;
          break;
        }
        apr_file_pipe_timeout_set(proc.out, (apr_interval_time_t)(deadline - now) * 1000);
      }
      rv = hotssl__os()->file_read(proc.out, buf + got, &n);
      got += n;
    }
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)) {
      timed_out = 1;
      break;
    }
    if (rv != APR_SUCCESS) {
      if (!APR_STATUS_IS_EOF(rv))
        read_rv = rv; /* not the end of its output: reading failed */
      break;
    }
  }
  apr_file_close(proc.out);
  if (timed_out) {
    hotssl__proc_kill_group(&proc);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
  } else {
    timed_out = wait_or_kill(&proc, deadline, &code, &why);
  }
  buf[got] = '\0';
  if (timed_out) {
    hotssl__fmt(errbuf, errlen, "command \"%s\" did not finish within %u ms (hotssl_passphrase_timeout_ms) and was killed",
                cmd, timeout_ms);
    r = HOTSSL_EPASSPHRASE;
    goto out;
  }
  if (read_rv != APR_SUCCESS) {
    /* Reported before the exit status: closing the pipe early may itself
     * have made the command fail (SIGPIPE). */
    apr_strerror(read_rv, t, sizeof t);
    hotssl__fmt(errbuf, errlen, "could not read the output of command \"%s\": %s", cmd, t);
    r = HOTSSL_EPASSPHRASE;
    goto out;
  }
  if (why != APR_PROC_EXIT || code != 0) {
    if (why == APR_PROC_EXIT)
      hotssl__fmt(errbuf, errlen, "command \"%s\" failed: exit code %d", cmd, code);
    else
      hotssl__fmt(errbuf, errlen, "command \"%s\" failed: killed by signal %d", cmd, code);
    r = HOTSSL_EPASSPHRASE;
    goto out;
  }
  buf[strcspn(buf, "\r\n")] = '\0';
  if ((*out = hotssl__strdup(buf)) == NULL) {
    hotssl__fmt(errbuf, errlen, "command \"%s\": out of memory", cmd);
    r = HOTSSL_ENOMEM;
    goto out;
  }
  r = 0;
  goto out;
apr_fail:
  apr_strerror(rv, t, sizeof t);
  hotssl__fmt(errbuf, errlen, "could not run command \"%s\": %s", cmd, t);
  r = HOTSSL_EPASSPHRASE;
out:
  mbedtls_platform_zeroize(buf, sizeof buf);
  apr_pool_destroy(pool);
  return r;
}
