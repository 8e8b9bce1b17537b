/*
 * The log sink of a manager and everything it builds (core/log.c).
 */
#ifndef HOTSSL_CORE_LOG_H
#define HOTSSL_CORE_LOG_H

#include "../os/os.h" /* HOTSSL__PRINTF */
#include "internal.h"

typedef struct hotssl__log {
  hotssl_log_fn fn;
  void *ud;
} hotssl__log;

void hotssl__logf(const hotssl__log *log, hotssl_log_level level,
                  const char *fmt, ...) HOTSSL__PRINTF(3, 4);

#endif /* HOTSSL_CORE_LOG_H */
