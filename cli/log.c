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
   * stderr: one write(2) (glibc) or writev(2) (musl, hotssl-backend's C
   * library, whose fprintf writes the text and the newline apart), so the
   * lines of backends sharing the server's stderr never interleave. */
  n = snprintf(line, sizeof line, "hotssl[%ld]: %s:  %s\n", pid, lv, msg);
  if (n >= 0 && (size_t)n < sizeof line)
    fwrite(line, 1, (size_t)n, stderr);
  else /* longer than PIPE_BUF, not atomic anyway: all of it */
    fprintf(stderr, "hotssl[%ld]: %s:  %s\n", pid, lv, msg);
}

void cli_log_reason(hotssl_log_level level, const char *what, const char *why) {
  char line[800];
  snprintf(line, sizeof line, "%s: %s", what, why);
  cli_log(NULL, level, line);
}
