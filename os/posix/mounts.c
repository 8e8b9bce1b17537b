/*
 * Which mount holds a path, from /proc/self/mountinfo (os/os.h), and a
 * file's owner and mode, for the deployment diagnostics: to tell a
 * file that is a bind mount of its own (Kubernetes subPath), which never
 * sees a replacement of its source, and a directory on a filesystem whose
 * changes made elsewhere raise no inotify event.
 *
 * A mountinfo line (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
 *   id parent dev root mount-point options [optional...] - fstype source super
 * with space, tab, newline and backslash in paths as \040 \011 \012 \134.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../os.h"

/* Filesystems where inotify sees only the changes made through this
 * mount: network and cluster filesystems, FUSE (overlay: below). */
static int remote_fstype(const char *t) {
  static const char *const names[] = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph",
                                      "glusterfs", "lustre", "gpfs", "afs", "fuse", NULL};
  size_t i;
  for (i = 0; names[i] != NULL; i++)
    if (strcmp(t, names[i]) == 0)
      return 1;
  return strncmp(t, "fuse.", 5) == 0;
}

/* Copy the next space-separated field of *p into out (unescaping \NNN
 * when esc is set), advance *p. 0, or -1 at the end of the line. */
static int field_ex(const char **p, char *out, size_t outlen, int esc) {
  const char *s = *p;
  size_t n = 0;
  while (*s == ' ')
    s++;
  if (*s == '\0' || *s == '\n')
    return -1;
  while (*s != '\0' && *s != ' ' && *s != '\n') {
    char c = *s++;
    if (esc && c == '\\' && s[0] >= '0' && s[0] <= '7' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
        s[2] <= '7') {
      c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
      s += 3;
    }
    if (n + 1 < outlen)
      out[n++] = c;
  }
  if (outlen > 0)
    out[n] = '\0';
  *p = s;
  return 0;
}

static int field(const char **p, char *out, size_t outlen) { return field_ex(p, out, outlen, 1); }

/* \NNN escapes of s, in place. */
static void unescape(char *s) {
  char *w = s;
  while (*s != '\0') {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
        s[3] <= '7') {
      *w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 4;
    } else {
      *w++ = *s++;
    }
  }
  *w = '\0';
}

/* Length of mount point mp when it is a prefix of path, else 0. */
static size_t prefix_len(const char *mp, const char *path) {
  size_t n = strlen(mp);
  if (strcmp(mp, "/") == 0)
    return 1;
  if (strncmp(mp, path, n) == 0 && (path[n] == '\0' || path[n] == '/'))
    return n;
  return 0;
}

/* One line (not copied: fields stop at its end): its mount point, fstype
 * and, when super is not NULL, its superblock options. 0, or -1 when
 * malformed. */
static int parse_line(const char *line, char *mp, size_t mplen, char *fstype, size_t tlen,
                      char *super, size_t superlen) {
  char f[1024];
  int i;
  for (i = 0; i < 4; i++) /* id, parent, dev, root */
    if (field(&line, f, sizeof f) != 0)
      return -1;
  if (field(&line, mp, mplen) != 0)
    return -1;
  do { /* options, optional fields, up to the separator */
    if (field(&line, f, sizeof f) != 0)
      return -1;
  } while (strcmp(f, "-") != 0);
  if (field(&line, fstype, tlen) != 0)
    return -1;
  if (super == NULL)
    return 0;
  super[0] = '\0';
  if (field(&line, f, sizeof f) == 0) /* source; the options stay escaped: */
    (void)field_ex(&line, super, superlen, 0); /* an escaped comma is no separator */
  return 0;
}

/* The value of option name= in a comma-separated list, up to stop (or the
 * next comma). */
static void option(const char *opts, const char *name, char stop, char *out, size_t outlen) {
  const char *p = opts;
  size_t n = strlen(name), k = 0;
  out[0] = '\0';
  while (p != NULL && *p != '\0') {
    if (strncmp(p, name, n) == 0) {
      p += n;
      while (*p != '\0' && *p != ',' && *p != stop && k + 1 < outlen)
        out[k++] = *p++;
      out[k] = '\0';
      unescape(out);
      return;
    }
    p = strchr(p, ',');
    p = p != NULL ? p + 1 : NULL;
  }
}

/* overlay: a path from a lower layer that this mount namespace can see (the
 * overlay was mounted here: its first lower directory exists) and that is
 * not in the upper layer: a change made to the lower directory raises no
 * event on the overlay. A container's root, whose layer directories are the
 * host's and invisible here, is not judged; neither is what was created or
 * copied up through the overlay. */
static int overlay_from_lower(const char *super, const char *mp, const char *path) {
  char upper[1024], lower[1024], p[2048];
  const char *rel = strcmp(mp, "/") == 0 ? path : path + strlen(mp);
  struct stat st;
  option(super, "lowerdir=", ':', lower, sizeof lower);
  option(super, "upperdir=", ',', upper, sizeof upper);
  if (lower[0] != '/' || stat(lower, &st) != 0)
    return 0;
  if (upper[0] == '/') {
    snprintf(p, sizeof p, "%s%s", upper, rel);
    if (lstat(p, &st) == 0)
      return 0;
  }
  return 1;
}

int hotssl__mountinfo_find(const char *text, const char *path, int path_is_dir, hotssl__mount *out) {
  const char *line = text, *best_line = NULL;
  size_t best = 0;
  char mp[1024], fstype[64];
  while (line != NULL && *line != '\0') {
    const char *next = strchr(line, '\n');
    size_t n;
    if (parse_line(line, mp, sizeof mp, fstype, sizeof fstype, NULL, 0) == 0 &&
        (n = prefix_len(mp, path)) > 0 && n >= best) {
      best = n;
      best_line = line;
    }
    line = next != NULL ? next + 1 : NULL;
  }
  if (best_line == NULL)
    return -1;
  {
    const char *end = strchr(best_line, '\n');
    size_t len = end != NULL ? (size_t)(end - best_line) : strlen(best_line);
    char *super = malloc(len + 1);
    if (super == NULL ||
        parse_line(best_line, out->mount_point, sizeof out->mount_point, out->fstype,
                   sizeof out->fstype, super, len + 1) != 0) {
      free(super);
      return -1;
    }
    out->flags = 0;
    if (!path_is_dir && strcmp(out->mount_point, path) == 0)
      out->flags |= HOTSSL__MOUNT_FILE;
    if (strcmp(out->fstype, "overlay") == 0 ? overlay_from_lower(super, out->mount_point, path)
                                             : remote_fstype(out->fstype))
      out->flags |= HOTSSL__MOUNT_REMOTE;
    free(super);
  }
  return 0;
}

int hotssl__mount_of(const char *path, hotssl__mount *out) {
  FILE *f;
  char *text = NULL, *real;
  size_t len = 0, cap = 0, got;
  struct stat st;
  int r;
  if ((real = realpath(path, NULL)) == NULL)
    return -1;
  if ((f = fopen("/proc/self/mountinfo", "r")) == NULL) {
    free(real);
    return -1;
  }
  do { /* mountinfo has no size: read until the end */
    if (len + 4096 + 1 > cap) {
      char *nt = realloc(text, cap = cap ? 2 * cap : 65536);
      if (nt == NULL) {
        free(text);
        free(real);
        fclose(f);
        return -1;
      }
      text = nt;
    }
    got = fread(text + len, 1, cap - len - 1, f);
    len += got;
  } while (got > 0);
  fclose(f);
  text[len] = '\0';
  r = hotssl__mountinfo_find(text, real, stat(real, &st) == 0 && S_ISDIR(st.st_mode), out);
  free(text);
  free(real);
  return r;
}

int hotssl__file_owner_mode(const char *path, unsigned long *uid, unsigned long *gid,
                            unsigned *mode) {
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  *uid = (unsigned long)st.st_uid;
  *gid = (unsigned long)st.st_gid;
  *mode = (unsigned)(st.st_mode & 07777);
  return 0;
}
