/*
 * Windows has no mountinfo: no mount is known (os/os.h).
 */
#include "../os.h"

int hotssl__mountinfo_find(const char *text, const char *path, int path_is_dir, hotssl__mount *out) {
  (void)text;
  (void)path;
  (void)path_is_dir;
  (void)out;
  return -1;
}

int hotssl__mount_of(const char *path, hotssl__mount *out) {
  (void)path;
  (void)out;
  return -1;
}

int hotssl__file_owner_mode(const char *path, unsigned long *uid, unsigned long *gid,
                            unsigned *mode) {
  (void)path;
  (void)uid;
  (void)gid;
  (void)mode;
  return -1;
}
