/*
 * Clocks, POSIX: monotonic time for deadlines (debounce, retry windows,
 * the passphrase command's timeout) and the calling thread's CPU time.
 * Called from any layer, any thread.
 */
#include <time.h>

#include "../os.h"

uint64_t hotssl__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

HOTSSL__HOT uint64_t hotssl__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread, in microseconds: what a computation cost,
 * whatever else the machine was doing (the key-cost estimate, core/pkcs8.c). */
uint64_t hotssl__thread_cpu_us(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return hotssl__now_ms() * 1000u;
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
