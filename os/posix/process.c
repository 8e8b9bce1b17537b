/* The current process's id: a generation's random generator records it when
 * seeded and compares it on every use, to notice a fork by itself. */
#include <unistd.h>

#include "../../core/internal.h"

long hotssl__process_id(void) { return (long)getpid(); }
