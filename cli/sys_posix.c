/*
 * What `hotssl serve` and `hotssl __backend` need of a POSIX system
 * (sys.h): signals, the socket calls of session.c, the --mode check,
 * stopping a backend, the program spawned backends run, and the folder and
 * files of `hotssl demo`. The listening and accepted sockets are in
 * listen_posix.c (hotssl-backend links this file, not that one). Windows
 * has sys_win32.c instead. Calls only args.c (the --mode check).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#  include <sys/prctl.h>
#endif

#include "cli.h"
#include "sys.h"

/* Signal plumbing: handlers only store and write(2). */
static hotssl_manager *volatile g_manager;
static int g_term_pipe[2] = {-1, -1};

static void on_sighup(int sig) {
  (void)sig;
  if (g_manager != NULL)
    hotssl_manager_request_reload(g_manager);
}

static void on_sigterm(int sig) {
  int saved = errno;
  char c = (char)sig;
  if (g_term_pipe[1] >= 0 && write(g_term_pipe[1], &c, 1) < 0) {
    /* nothing to do: a pending byte already asks for shutdown */
  }
  errno = saved;
}

int cli_install_signals(hotssl_manager *m) {
  struct sigaction sa;
  g_manager = m;
  if (g_term_pipe[0] < 0) {
    if (pipe(g_term_pipe) != 0)
      return -1;
    fcntl(g_term_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(g_term_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(g_term_pipe[1], F_SETFL, O_NONBLOCK);
  }
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_sighup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_sigterm;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  return 0;
}

void cli_forget_signals(void) { g_manager = NULL; }

int cli_term_fd(void) { return g_term_pipe[0]; }

/* The socket calls of session.c. */
int cli_sock_recv(int fd, void *buf, size_t n) {
  for (;;) {
    ssize_t r = recv(fd, buf, n, 0);
    if (r < 0 && errno == EINTR)
      continue;
    return r < 0 ? -1 : (int)r;
  }
}

int cli_sock_send_byte(int fd, char c) { return send(fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1; }

void cli_sock_nodelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void cli_sock_close(int fd) { close(fd); }

void cli_sock_shutdown_write(int fd) { (void)shutdown(fd, SHUT_WR); }

int cli_sock_wait_readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int r;
  while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
    ;
  return r > 0;
}

long long cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_backend_os_enter(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_IGN; /* reloads are the parent's business */
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);
}

void cli_backend_os_leave(void) {}

void cli_set_dumpable(int allow) {
#ifdef __linux__
  prctl(PR_SET_DUMPABLE, allow ? 1 : 0, 0, 0, 0);
#else
  (void)allow;
#endif
}

int cli_serve_check_mode(const char *given, const char **mode) {
  static const char *const modes[] = {"thread", "fork", "spawn", NULL};
  *mode = given != NULL ? given : "thread";
  return cli_parse_choice("serve", "--mode", *mode, modes) < 0 ? 2 : 0;
}

void cli_process_stop(long pid) { kill((pid_t)pid, SIGTERM); }

/* 1 when the ELF file at path has no program interpreter (PT_INTERP): it
 * was linked -static. 0 otherwise or when it cannot be read. */
static int elf_is_static(const char *path) {
  ElfW(Ehdr) eh;
  ElfW(Phdr) ph;
  int fd = open(path, O_RDONLY | O_CLOEXEC), interp = 0, ok = 0, i;
  if (fd < 0)
    return 0;
  if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_phentsize == sizeof ph) {
    ok = 1;
    for (i = 0; i < eh.e_phnum && ok; i++) {
      ok = pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (ElfW(Off))i * sizeof ph)) == (ssize_t)sizeof ph;
      if (ok && ph.p_type == PT_INTERP)
        interp = 1;
    }
  }
  close(fd);
  return ok && !interp;
}

int cli_backend_program(char *path, size_t len, int *is_static) {
  char self[4096], beside[4096 + sizeof CLI_STATIC_BACKEND];
  const char *slash;
  struct stat st;
  int found;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  *is_static = 0;
  if (n <= 0)
    return -1;
  self[n] = '\0';
  slash = strrchr(self, '/'); /* an absolute path: never NULL */
  snprintf(beside, sizeof beside, "%.*s/%s", slash != NULL ? (int)(slash - self) : 0, self, CLI_STATIC_BACKEND);
  found = stat(beside, &st) == 0 && S_ISREG(st.st_mode) && access(beside, X_OK) == 0;
  if (snprintf(path, len, "%s", found ? beside : self) >= (int)len)
    return -1;
  *is_static = elf_is_static(path);
  return found;
}

/* `hotssl demo` (sys.h). */
int cli_demo_dir(char *dir, size_t len) {
  if (snprintf(dir, len, "/tmp/hotssl-demo-XXXXXX") >= (int)len)
    return -1;
  return mkdtemp(dir) != NULL ? 0 : -1;
}

int cli_write_replace(const char *dir, const char *name, const char *text, int private_file) {
  char tmp[512], path[512];
  int fd, mode = private_file ? 0600 : 0644;
  size_t len = strlen(text);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return -1;
  if (write(fd, text, len) != (ssize_t)len || fchmod(fd, (mode_t)mode) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return rename(tmp, path);
}

void cli_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  while (d != NULL && (e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  if (d != NULL)
    closedir(d);
  if (rmdir(dir) != 0)
    fprintf(stderr, "hotssl demo: could not remove %s\n", dir);
}
