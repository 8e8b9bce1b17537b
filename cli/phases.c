/* Per-connection phase timings for bench/run (phases.h). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "phases.h"

#ifndef _WIN32
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* This process's stamps (one connection per backend or fork child). */
static struct {
  int on;
  long long t[CLI_PHASE_N];
} ph;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cli_phase_main(void) { ph.t[CLI_PHASE_MAIN] = now_ns(); }

int cli_phases_enable(void) {
  const char *f = getenv("HOTSSL_BENCH_PHASES");
  ph.on = f != NULL && f[0] != '\0';
  return ph.on;
}

void cli_phase_mark(int phase) {
  if (ph.on && phase >= 0 && phase < CLI_PHASE_N)
    ph.t[phase] = now_ns();
}

long long cli_phase_now(void) { return ph.on ? now_ns() : 0; }

/* One line, one write with O_APPEND: lines of concurrent processes do not
 * interleave. */
static void append(const char *line) {
  const char *f = getenv("HOTSSL_BENCH_PHASES");
  int fd;
  if (f == NULL || (fd = open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
    return;
  if (write(fd, line, strlen(line)) < 0) {
    /* a benchmark's record: nothing to do */
  }
  close(fd);
}

void cli_phase_report(const char *kind, long long t_fork) {
  char line[200];
  if (!ph.on)
    return;
  if (strcmp(kind, "fork") == 0)
    snprintf(line, sizeof line, "fork %ld %lld %lld %lld\n", (long)getpid(), t_fork,
             ph.t[CLI_PHASE_MAIN], ph.t[CLI_PHASE_HANDSHAKE]);
  else
    snprintf(line, sizeof line, "%s %ld %lld %lld %lld %lld\n", kind, (long)getpid(),
             ph.t[CLI_PHASE_MAIN], ph.t[CLI_PHASE_RECEIVED], ph.t[CLI_PHASE_BUILT],
             ph.t[CLI_PHASE_HANDSHAKE]);
  append(line);
}

void cli_phase_spawned(long pid, long long t_spawn, long long t_spawned) {
  char line[120];
  if (!ph.on)
    return;
  snprintf(line, sizeof line, "spawn %ld %lld %lld\n", pid, t_spawn, t_spawned);
  append(line);
}

#else /* _WIN32: not recorded */

void cli_phase_main(void) {}
int cli_phases_enable(void) { return 0; }
void cli_phase_mark(int phase) { (void)phase; }
long long cli_phase_now(void) { return 0; }
void cli_phase_report(const char *kind, long long t_fork) {
  (void)kind;
  (void)t_fork;
}
void cli_phase_spawned(long pid, long long t_spawn, long long t_spawned) {
  (void)pid;
  (void)t_spawn;
  (void)t_spawned;
}

#endif

void cli_phase_log(void *ud, hotssl_log_level level, const char *msg) {
  if (strncmp(msg, "received the parent's snapshot", 30) == 0)
    cli_phase_mark(CLI_PHASE_RECEIVED);
  cli_log(ud, level, msg);
}
