/*
 * What the CLI needs of the OS, one file per system: sys_posix.c and
 * sys_win32.c (POSIX-only calls are marked). The bottom of `hotssl serve`:
 * these call nothing above them (only args.c, for the --mode check).
 */
#ifndef HOTSSL_CLI_SYS_H
#define HOTSSL_CLI_SYS_H

#include <stddef.h>

#include "hotssl/hotssl.h"

/* POSIX only: signals, listening, accepting. */
/* Install SIGHUP (request reload), SIGTERM/SIGINT (shutdown), ignore SIGPIPE. */
int cli_install_signals(hotssl_manager *m);
/* Readable once SIGTERM or SIGINT arrived. */
int cli_term_fd(void);
/* Forget the manager given to cli_install_signals (before destroying it). */
void cli_forget_signals(void);
/* Listening socket on host:port (close-on-exec; host NULL: 127.0.0.1);
 * -1 on error (errno set; a name that does not resolve: EADDRNOTAVAIL).
 * shown (may be NULL) gets "ADDR:PORT" as bound ("[ADDR]:PORT" for IPv6). */
int cli_listen(const char *host, int port, int *actual_port, char *shown, size_t shownlen);
/* accept4 (close-on-exec) with TCP_NODELAY set on the new socket; -1 on error. */
int cli_accept(int lfd);

/* Both systems: what session.c needs of the OS; fd is a connected socket as
 * cli_serve_connection takes it. */
/* Up to n bytes: their count, 0 at the end, -1 on error (EINTR retried). */
int cli_sock_recv(int fd, void *buf, size_t n);
/* One byte: 0, or -1 on error (never raises SIGPIPE). */
int cli_sock_send_byte(int fd, char c);
void cli_sock_nodelay(int fd); /* TCP_NODELAY, best effort */
void cli_sock_close(int fd);
/* End our sending side (a FIN after what was sent). */
void cli_sock_shutdown_write(int fd);
/* 1 when fd has data or an end to read within ms, else 0. */
int cli_sock_wait_readable(int fd, int ms);
/* A monotonic clock in milliseconds, the same in every process of the
 * machine (CLOCK_MONOTONIC; GetTickCount64): handshake deadlines. */
long long cli_now_ms(void);
/* `hotssl __backend`: leave reloads and stops to the parent (enter, before
 * anything else) and give back what the OS needs (leave, after a normal
 * end). */
void cli_backend_os_enter(void);
void cli_backend_os_leave(void);

/* Whether this process may leave a core dump (and be ptrace'd or have its
 * /proc/PID/mem read by its user): POSIX (Linux) prctl(PR_SET_DUMPABLE),
 * as sshd does; a fork child inherits it, an exec'd program does not.
 * Windows: nothing (no such switch; docs/windows.md). Quiet on failure. */
void cli_set_dumpable(int allow);
/* The OS's --mode check for cli_serve_args: *mode = given, or the OS's
 * default when given is NULL; 0, or 2 after printing the problem. */
int cli_serve_check_mode(const char *given, const char **mode);
/* The OS's way to ask a backend to end (SIGTERM; TerminateProcess). */
void cli_process_stop(long pid);
/* POSIX only: the program `serve --mode spawn` runs for each connection.
 * path gets CLI_STATIC_BACKEND in the folder of this executable
 * (/proc/self/exe) when that is a regular, executable file (returns 1),
 * else this executable (returns 0); -1 when /proc/self/exe cannot be read.
 * *is_static: 1 when the program in path has no ELF interpreter (linked
 * -static). */
#define CLI_STATIC_BACKEND "hotssl-backend"
int cli_backend_program(char *path, size_t len, int *is_static);

/* Both systems: what `hotssl demo` needs (demo.c). */
/* A new folder only this user can use: /tmp/hotssl-demo-XXXXXX (POSIX),
 * %TEMP%\hotssl-demo-PID-N (Windows); 0 or -1. */
int cli_demo_dir(char *dir, size_t len);
/* Write dir/name aside, then rename it into place (how deployment tools
 * replace files). private_file: readable by its owner only (mode 0600; on
 * Windows a protected DACL for the owner and SYSTEM), else mode 0644 (the
 * default DACL). 0 or -1. */
int cli_write_replace(const char *dir, const char *name, const char *text, int private_file);
/* Remove the files in dir (it has no subfolders), then dir. */
void cli_remove_dir(const char *dir);
/* A listening socket on 127.0.0.1 and an ephemeral port (*port); -1 on error. */
int cli_demo_listen(int *port);
/* The next connection on lfd as an int (TCP_NODELAY set); -1 on error. */
int cli_demo_accept(int lfd);

#endif
