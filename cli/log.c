/* The CLI's log lines (log.h). */
#include <stdio.h>
#include <unistd.h>

#include "log.h"

void cli_log(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  /* One fprintf per line: stdio locks the stream, lines do not interleave. */
  fprintf(stderr, "hotssl[%ld]: %s:  %s\n", (long)getpid(), hotssl_log_level_name(level), msg);
}

void cli_log_reason(hotssl_log_level level, const char *what, const char *why) {
  char line[800];
  snprintf(line, sizeof line, "%s: %s", what, why);
  cli_log(NULL, level, line);
}
