/*
 * Path syntax, POSIX: '/' is the only separator and a path is absolute when
 * it starts with one. Used by os/path.c and through os/os.h by every layer.
 */
#include <string.h>

#include "../os.h"

int hotssl__path_is_absolute(const char *path) { return path[0] == '/'; }

const char *hotssl__path_last_sep(const char *path) { return strrchr(path, '/'); }
