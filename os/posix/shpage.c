/*
 * A page shared with forked children (MAP_SHARED) and, through its
 * descriptor, with spawned processes (os/os.h).
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../os.h"

static int shared_fd(size_t len) {
#ifdef MFD_CLOEXEC
  int fd = memfd_create("hotssl-generation", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  if (ftruncate(fd, (off_t)len) != 0) {
    close(fd);
    return -1;
  }
  /* Its size is fixed: a process it is handed to cannot shrink it under
   * the creator's mapping (SIGBUS). */
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  return fd;
#else
  (void)len;
  return -1;
#endif
}

int hotssl__shpage_create(hotssl__shpage *s, size_t len) {
  void *p;
  s->p = NULL;
  s->fd = shared_fd(len);
  if (s->fd >= 0)
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  else
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (s->fd >= 0)
      close(s->fd);
    s->fd = -1;
    return -1;
  }
  s->p = p;
  return 0;
}

int hotssl__shpage_attach(hotssl__shpage *s, int fd, size_t len) {
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  s->fd = -1;
  s->p = NULL;
  if (p == MAP_FAILED)
    return -1;
  s->p = p;
  return 0;
}

void hotssl__shpage_free(hotssl__shpage *s, size_t len) {
  if (s->p != NULL)
    munmap(s->p, len);
  if (s->fd >= 0)
    close(s->fd);
  s->p = NULL;
  s->fd = -1;
}

int hotssl__os_shpage_supported(void) { return 0; }
