/*
 * Per-connection phase timings for bench/run (cli/phases.c): with
 * HOTSSL_BENCH_PHASES=FILE in the environment of `hotssl serve` (fork or
 * spawn mode), each process appends one line per connection to FILE, in
 * CLOCK_MONOTONIC nanoseconds (one clock for every process of the machine):
 *   spawn PID T_SPAWN T_SPAWNED          the parent: before hotssl_spawn of
 *                                        backend PID, after it returned
 *   backend PID T_MAIN T_RECEIVED T_BUILT T_HANDSHAKE
 *                                        the backend: main() entered, the
 *                                        snapshot's last byte read, its
 *                                        generation built, handshake done
 *   fork PID T_FORK T_CHILD T_HANDSHAKE  a fork child: the parent's stamp
 *                                        before fork(), the child's first
 *                                        line, handshake done
 * Unset (the normal case), the only work left is one clock read in main()
 * and one getenv per serve or backend start. POSIX only (no-ops on Windows).
 */
#ifndef HOTSSL_CLI_PHASES_H
#define HOTSSL_CLI_PHASES_H

#include "hotssl/hotssl.h"

enum { CLI_PHASE_MAIN, CLI_PHASE_RECEIVED, CLI_PHASE_BUILT, CLI_PHASE_HANDSHAKE, CLI_PHASE_N };

/* main(): the process's first stamp (CLI_PHASE_MAIN). */
void cli_phase_main(void);
/* Read HOTSSL_BENCH_PHASES; 1 when phases are recorded in this process. */
int cli_phases_enable(void);
/* Stamp phase (no-op when not enabled). */
void cli_phase_mark(int phase);
/* Now, CLOCK_MONOTONIC in ns (0 when not enabled). */
long long cli_phase_now(void);
/* Append the line for this process: "backend" (MAIN..HANDSHAKE) or "fork"
 * (t_fork, then MAIN, HANDSHAKE: a fork child's MAIN is stamped by
 * cli_phase_mark at its first line). No-op when not enabled. */
void cli_phase_report(const char *kind, long long t_fork);
/* The spawn parent's line for backend pid. */
void cli_phase_spawned(long pid, long long t_spawn, long long t_spawned);
/* A log callback for the backend: stamps CLI_PHASE_RECEIVED at the
 * library's "received the parent's snapshot" line, then passes every line
 * to cli_log. */
void cli_phase_log(void *ud, hotssl_log_level level, const char *msg);

#endif /* HOTSSL_CLI_PHASES_H */
