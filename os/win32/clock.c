/* Monotonic time for deadlines, Windows. */
#include <windows.h>

#include "../../core/internal.h"

uint64_t hotssl__now_ms(void) { return (uint64_t)GetTickCount64(); }
