/* The CLI's log lines (log.h). */
#include <stdio.h>
#include <unistd.h>

#include "log.h"

void cli_log(void *ud, hotssl_log_level level, const char *msg) {
  char line[4096]; /* PIPE_BUF: one write of it to a pipe is never split */
  long pid = (long)getpid();
  const char *lv = hotssl_log_level_name(level);
  int n;
  (void)ud;
  /* The whole line formatted first, then one fwrite to the unbuffered
   * stderr, one system call: the lines of backends sharing the server's
   * stderr never interleave, whatever the C library's fprintf does with a
   * line (musl's writes the text and the newline apart). */
  n = snprintf(line, sizeof line, "hotssl[%ld]: %s:  %s\n", pid, lv, msg);
  if (n >= 0 && (size_t)n < sizeof line)
    fwrite(line, 1, (size_t)n, stderr);
  else /* longer than PIPE_BUF, not atomic anyway: all of it */
    fprintf(stderr, "hotssl[%ld]: %s:  %s\n", pid, lv, msg);
  /* Windows' C run-time gives stderr a buffer at its first fwrite (only
   * its printf functions write through): the line must leave now. */
  fflush(stderr);
}

void cli_log_reason(hotssl_log_level level, const char *what, const char *why) {
  char line[800];
  snprintf(line, sizeof line, "%s: %s", what, why);
  cli_log(NULL, level, line);
}
