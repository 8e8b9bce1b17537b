/*
 * Path syntax, Windows: '/' and '\' both separate, and a path is absolute
 * when it starts with either or names a drive ("C:"). Used by os/path.c and
 * through os/os.h by every layer.
 */
#include <string.h>

#include "../os.h"

int hotssl__path_is_absolute(const char *path) {
  return path[0] == '/' || path[0] == '\\' || (path[0] != '\0' && path[1] == ':');
}

const char *hotssl__path_last_sep(const char *path) {
  const char *slash = strrchr(path, '/'), *bs = strrchr(path, '\\');
  return bs != NULL && (slash == NULL || bs > slash) ? bs : slash;
}
