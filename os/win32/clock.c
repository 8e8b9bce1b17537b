/*
 * Clocks, Windows: monotonic time for deadlines and the calling thread's
 * CPU time (see os/posix/clock.c). Called from any layer, any thread.
 */
#include <windows.h>

#include "../os.h"

uint64_t hotssl__now_ms(void) { return (uint64_t)GetTickCount64(); }

uint64_t hotssl__mono_ns(void) {
  LARGE_INTEGER c, f;
  if (!QueryPerformanceCounter(&c) || !QueryPerformanceFrequency(&f) || f.QuadPart <= 0)
    return hotssl__now_ms() * 1000000u;
  return (uint64_t)(c.QuadPart / f.QuadPart) * 1000000000u +
         (uint64_t)(c.QuadPart % f.QuadPart) * 1000000000u / (uint64_t)f.QuadPart;
}

/* CPU time of the calling thread, in microseconds (see os/posix/clock.c). */
uint64_t hotssl__thread_cpu_us(void) {
  FILETIME c, e, k, u;
  if (!GetThreadTimes(GetCurrentThread(), &c, &e, &k, &u))
    return hotssl__now_ms() * 1000u;
  return ((((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
          (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime)) / 10u;
}
