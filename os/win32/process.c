/* The current process's id (see os/posix/process.c). Windows has no fork, so
 * a generation's recorded id never differs from it. */
#include <windows.h>

#include "../../core/internal.h"

long hotssl__process_id(void) { return (long)GetCurrentProcessId(); }
