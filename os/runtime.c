/*
 * Process-level services on APR: the APR runtime reference, time,
 * and running the passphrase command: its output (bounded, in pages kept
 * out of core dumps, zeroized), its deadline and its exit status here; its
 * start and the kill of its whole process tree per OS (hotssl__cmd_*,
 * os/posix/process.c and os/win32/process.c). APR keeps its own reference count for
 * apr_initialize/apr_terminate; the first hotssl_manager_create must not race
 * with another thread's first APR use (documented in hotssl.h). Called by
 * core/ (manager, builder), platform/ and watcher/.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "hotssl/hotssl.h"
#include "os.h"

int hotssl__runtime_acquire(void) {
  return apr_initialize() == APR_SUCCESS ? 0 : HOTSSL_ESYS;
}

void hotssl__runtime_release(void) { apr_terminate(); }

void hotssl__yield(void) { apr_thread_yield(); }

void hotssl__os_strerror(apr_status_t rv, char *buf, size_t len) {
  size_t n;
  /* The errors a configuration's files meet most, in the C library's words
   * on every system (Windows' own text for ERROR_FILE_NOT_FOUND is "The
   * system cannot find the file specified"; PostgreSQL says "No such file
   * or directory" there too). */
  if (APR_STATUS_IS_ENOENT(rv))
    rv = APR_ENOENT;
  else if (APR_STATUS_IS_EACCES(rv))
    rv = APR_EACCES;
  else if (APR_STATUS_IS_ENOTDIR(rv))
    rv = APR_ENOTDIR;
  apr_strerror(rv, buf, len);
  /* Windows' texts (FormatMessage) end in ".  " or a line break. */
  for (n = strlen(buf); n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\r' || buf[n - 1] == '\n'); n--)
    buf[n - 1] = '\0';
}

#define PASS_MAX 1024

/* Wait for the command, killing it at the deadline (0: no deadline).
 * Returns 1 if it had to be killed. */
static int wait_or_kill(hotssl__cmd *c, uint64_t deadline, int *code, apr_exit_why_e *why) {
  if (deadline == 0) {
    apr_proc_wait(&c->proc, code, why, APR_WAIT);
    return 0;
  }
  for (;;) {
    if (APR_STATUS_IS_CHILD_DONE(apr_proc_wait(&c->proc, code, why, APR_NOWAIT)))
      return 0;
    if (hotssl__now_ms() >= deadline) {
      hotssl__cmd_kill(c);
      apr_proc_wait(&c->proc, code, why, APR_WAIT);
      return 1;
    }
    apr_sleep(10000); /* a child process has no descriptor to wait on here */
  }
}

int hotssl__run_passphrase_command(const char *cmd, unsigned timeout_ms, void *spawn_lock,
                                   char **out, char *errbuf, size_t errlen) {
  apr_pool_t *pool = NULL;
  hotssl__cmd c;
  apr_status_t rv;
  const char *what = "";
  char *buf = NULL;
  apr_size_t got = 0;
  int code = 0, r, timed_out = 0;
  apr_status_t read_rv = APR_SUCCESS;
  apr_exit_why_e why = APR_PROC_EXIT;
  uint64_t deadline = timeout_ms ? hotssl__now_ms() + timeout_ms : 0;
  char t[200];

  *out = NULL;
  /* The output is the passphrase: pages kept out of core dumps, not the
   * stack. */
  if ((buf = hotssl__secure_alloc(PASS_MAX + 1)) == NULL ||
      apr_pool_create(&pool, NULL) != APR_SUCCESS) {
    hotssl__secure_free(buf);
    hotssl__fmt(errbuf, errlen, "could not run command \"%s\": out of memory", cmd);
    return HOTSSL_ENOMEM;
  }
  if ((rv = hotssl__cmd_start(&c, cmd, spawn_lock, pool, &what)) != APR_SUCCESS)
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
        apr_file_pipe_timeout_set(c.proc.out, (apr_interval_time_t)(deadline - now) * 1000);
      }
      rv = hotssl__os()->file_read(c.proc.out, buf + got, &n);
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
  apr_file_close(c.proc.out);
  if (timed_out) {
    hotssl__cmd_kill(&c);
    apr_proc_wait(&c.proc, &code, &why, APR_WAIT);
  } else {
    timed_out = wait_or_kill(&c, deadline, &code, &why);
  }
  hotssl__cmd_release(&c);
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
    hotssl__os_strerror(read_rv, t, sizeof t);
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
  if ((*out = hotssl__secure_strdup(buf)) == NULL) {
    hotssl__fmt(errbuf, errlen, "command \"%s\": out of memory", cmd);
    r = HOTSSL_ENOMEM;
    goto out;
  }
  r = 0;
  goto out;
apr_fail:
  hotssl__os_strerror(rv, t, sizeof t);
  hotssl__fmt(errbuf, errlen, "could not run command \"%s\": %s%s", cmd, what, t);
  r = HOTSSL_EPASSPHRASE;
out:
  hotssl__secure_free(buf); /* zeroizes */
  apr_pool_destroy(pool);
  return r;
}
