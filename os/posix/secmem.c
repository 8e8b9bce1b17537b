/*
 * Pages for secrets, POSIX (os/secmem.c holds the portable part): anonymous
 * private mappings, marked MADV_DONTDUMP (Linux: left out of core dumps,
 * shown as the "dd" VmFlag in /proc/PID/smaps) and mlock'ed so they are
 * never written to swap. mlock fails beyond RLIMIT_MEMLOCK (often 8 MiB,
 * sometimes 64 KiB) and MADV_DONTDUMP where the kernel lacks it; either
 * failure is quiet: the buffer is still usable, still zeroized on free.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../os.h"

size_t hotssl__page_size(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t)n : 4096;
}

void *hotssl__pages_map(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void hotssl__pages_unmap(void *p, size_t len) { munmap(p, len); } /* also unlocks */

unsigned hotssl__pages_protect(void *p, size_t len, unsigned want) {
  uintptr_t page = (uintptr_t)hotssl__page_size();
  uintptr_t start = (uintptr_t)p & ~(page - 1), end = ((uintptr_t)p + len + page - 1) & ~(page - 1);
  unsigned got = 0;
#ifdef MADV_DONTDUMP
  if ((want & HOTSSL__PAGES_NODUMP) && madvise((void *)start, end - start, MADV_DONTDUMP) == 0)
    got |= HOTSSL__PAGES_NODUMP;
#endif
  if ((want & HOTSSL__PAGES_LOCKED) && mlock((void *)start, end - start) == 0)
    got |= HOTSSL__PAGES_LOCKED;
  return got;
}
