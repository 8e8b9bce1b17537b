/* Monotonic time for deadlines (debounce, retry windows). */
#include <time.h>

#include "../../core/internal.h"

uint64_t hotssl__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
