/*
 * The mount lookup behind the deployment diagnostics (os/posix/mounts.c)
 * on a recorded /proc/self/mountinfo of a Kubernetes pod: its root on
 * overlay, a Secret volume (tmpfs) with a subPath bind mount of one file, an
 * NFS share, a FUSE filesystem, a path with an escaped space, and a mount
 * stacked on another.
 * - a file that is itself a mount point is a single-file bind mount; the
 *   same path as a directory is not; a file inside a mounted folder is not;
 * - nfs4 and fuse.sshfs are filesystems where inotify misses changes made
 *   elsewhere; tmpfs and ext4 are not; an overlay only for a file from a
 *   lower layer visible here (a container's root is not judged);
 * - the longest mount point wins, "/a" is no prefix of "/ab", the later of
 *   two equal mount points wins, \040 is a space;
 * - malformed lines are skipped; no line: -1.
 * And on this machine: "/" resolves, and a temporary file is no mount.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "os.h"
#include "testutil.h"

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static const char *fixture =
    "1283 1160 0:312 / / rw,relatime master:474 - overlay overlay rw,lowerdir=/var/lib/containerd/l1,upperdir=/u,workdir=/w\n"
    "1284 1283 0:315 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "1290 1283 0:316 / /etc/tls rw,relatime - tmpfs tmpfs rw,size=4096k\n"
    "1291 1283 0:316 /..2024_01_01/server.crt /etc/pg/server.crt ro,relatime - tmpfs tmpfs rw,size=4096k\n"
    "1292 1283 0:320 / /mnt/nfs rw,relatime shared:7 - nfs4 10.0.0.5:/export rw,vers=4.2\n"
    "1293 1283 0:321 / /mnt/fuse rw,nosuid,nodev - fuse.sshfs user@host:/srv rw,user_id=0\n"
    "1294 1283 254:1 / /data rw,relatime - ext4 /dev/vdb rw\n"
    "1295 1283 254:1 /x /ab rw,relatime - ext4 /dev/vdb rw\n"
    "1296 1283 254:2 / /my\\040certs rw,relatime - ext4 /dev/vdc rw\n"
    "1297 1294 0:330 / /data/stack rw - ext4 /dev/vdd rw\n"
    "1298 1294 0:331 / /data/stack rw - nfs 10.0.0.6:/e rw\n"
    "this line is not mountinfo\n"
    "1299 1283 0:1 / /broken rw no-separator-here\n";

static void expect(const char *path, int is_dir, const char *mp, const char *fstype, unsigned flags) {
  hotssl__mount m;
  memset(&m, 0, sizeof m);
  TEQ(hotssl__mountinfo_find(fixture, path, is_dir, &m), 0);
  if (strcmp(m.mount_point, mp) != 0 || strcmp(m.fstype, fstype) != 0 || m.flags != flags)
    fprintf(stderr, "%s: got mount point \"%s\" type %s flags %u\n", path, m.mount_point, m.fstype,
            m.flags);
  T(strcmp(m.mount_point, mp) == 0);
  T(strcmp(m.fstype, fstype) == 0);
  TEQ(m.flags, flags);
}

/* An overlay mounted here (its layer directories visible): a file only in
 * a lower layer misses changes made there; one in the upper layer (created
 * or copied up through the overlay) does not; without an upper layer every
 * file is a lower one. */
static void overlay_checks(const char *dir) {
  char *lower = tu_path(dir, "lower"), *upper = tu_path(dir, "up,per"), *f, text[4096];
  hotssl__mount m;
  tu_write(lower, "", 0600); /* replaced by a folder below */
  remove(lower);
  T(mkdir(lower, 0700) == 0 && mkdir(upper, 0700) == 0);
  f = tu_path(upper, "in-upper.crt");
  tu_write(f, "x", 0600);
  free(f);
  /* The comma in the upper folder's name is escaped as mountinfo shows it. */
  snprintf(text, sizeof text,
           "7 1 0:40 / /srv/ov rw - overlay overlay rw,lowerdir=%s:/nonexistent,upperdir=%s/up\\054per,workdir=/w\n"
           "8 1 0:41 / /srv/ro rw - overlay overlay ro,lowerdir=%s\n",
           lower, dir, lower);
  TEQ(hotssl__mountinfo_find(text, "/srv/ov/in-lower.crt", 0, &m), 0);
  TEQ(m.flags, HOTSSL__MOUNT_REMOTE);
  TEQ(hotssl__mountinfo_find(text, "/srv/ov/in-upper.crt", 0, &m), 0);
  TEQ(m.flags, 0);
  TEQ(hotssl__mountinfo_find(text, "/srv/ro/x.crt", 0, &m), 0);
  TEQ(m.flags, HOTSSL__MOUNT_REMOTE);
  free(lower);
  free(upper);
}

int main(void) {
  hotssl__mount m;
  char *dir, *p;

  expect("/etc/pg/server.crt", 0, "/etc/pg/server.crt", "tmpfs", HOTSSL__MOUNT_FILE);
  expect("/etc/pg/server.crt", 1, "/etc/pg/server.crt", "tmpfs", 0);
  /* A container's overlay root: its layers are the host's, not judged. */
  expect("/etc/pg/server.key", 0, "/", "overlay", 0);
  expect("/etc/tls/tls.crt", 0, "/etc/tls", "tmpfs", 0);
  expect("/etc/tls", 1, "/etc/tls", "tmpfs", 0);
  expect("/mnt/nfs/certs/server.crt", 0, "/mnt/nfs", "nfs4", HOTSSL__MOUNT_REMOTE);
  expect("/mnt/fuse/ca.crt", 0, "/mnt/fuse", "fuse.sshfs", HOTSSL__MOUNT_REMOTE);
  expect("/data/server.crt", 0, "/data", "ext4", 0);
  expect("/abc/x", 0, "/", "overlay", 0); /* "/ab" is no prefix of "/abc" */
  expect("/ab/x", 0, "/ab", "ext4", 0);
  expect("/my certs/server.crt", 0, "/my certs", "ext4", 0);
  expect("/data/stack/f", 0, "/data/stack", "nfs", HOTSSL__MOUNT_REMOTE); /* the later mount */
  expect("/broken/f", 0, "/", "overlay", 0);                             /* skipped line */
  TEQ(hotssl__mountinfo_find("garbage\n", "/x", 0, &m), -1);
  TEQ(hotssl__mountinfo_find("", "/x", 0, &m), -1);

  dir = tu_mkdtemp();
  overlay_checks(dir);

  /* This machine. */
  TEQ(hotssl__mount_of("/", &m), 0);
  p = tu_path(dir, "f.crt");
  tu_write(p, "x", 0600);
  TEQ(hotssl__mount_of(p, &m), 0);
  T(!(m.flags & HOTSSL__MOUNT_FILE));
  TEQ(hotssl__mount_of("/nonexistent/hotssl/x", &m), -1);
  free(p);
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_mountinfo", checks);
}
