/* Monotonic time for deadlines, Windows. */
#include <windows.h>

#include "../../core/internal.h"

uint64_t hotssl__now_ms(void) { return (uint64_t)GetTickCount64(); }

/* CPU time of the calling thread, in microseconds (see os/posix/clock.c). */
uint64_t hotssl__thread_cpu_us(void) {
  FILETIME c, e, k, u;
  if (!GetThreadTimes(GetCurrentThread(), &c, &e, &k, &u))
    return hotssl__now_ms() * 1000u;
  return ((((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
          (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime)) / 10u;
}
