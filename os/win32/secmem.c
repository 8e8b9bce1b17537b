/*
 * Pages for secrets, Windows (os/secmem.c holds the portable part):
 * VirtualAlloc'ed and VirtualLock'ed (kept out of the page file while the
 * process runs) where the working-set minimum allows, quietly unlocked
 * otherwise. Windows has no per-region exclusion from crash dumps
 * (MiniDumpWriteDump and Windows Error Reporting decide what they include);
 * docs/windows.md says so.
 */
#include <windows.h>

#include "../os.h"

size_t hotssl__page_size(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwPageSize > 0 ? (size_t)si.dwPageSize : 4096;
}

void *hotssl__pages_map(size_t len) {
  return VirtualAlloc(NULL, len, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
}

void hotssl__pages_unmap(void *p, size_t len) {
  VirtualUnlock(p, len); /* fails harmlessly when it was never locked */
  VirtualFree(p, 0, MEM_RELEASE);
}

unsigned hotssl__pages_protect(void *p, size_t len, unsigned want) {
  return (want & HOTSSL__PAGES_LOCKED) && VirtualLock(p, len) ? HOTSSL__PAGES_LOCKED : 0;
}
