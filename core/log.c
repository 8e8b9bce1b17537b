/*
 * The log sink: one formatted line per call, to the manager's callback.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void hotssl__logf(const hotssl__log *log, hotssl_log_level level, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  if (log == NULL || log->fn == NULL)
    return;
  va_start(ap, fmt);
  if (vsnprintf(line, sizeof line, fmt, ap) < 0)
    line[0] = '\0';
  va_end(ap);
  log->fn(log->ud, level, line);
}
