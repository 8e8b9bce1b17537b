/*
 * hotssl platform API: forking servers and process-per-connection servers.
 *
 * Fork (PostgreSQL's postmaster, prefork servers). The parent owns the
 * manager, its reloads and its watcher; a child keeps the generation current
 * at fork time. The library installs no pthread_atfork handlers: the host
 * calls, around its own fork():
 *
 *     hotssl_manager_before_fork(m);     // waits for a running reload
 *     pid = fork();
 *     if (pid == 0) hotssl_manager_after_fork_child(m);   // first thing
 *     else          hotssl_manager_after_fork_parent(m);
 *
 * after_fork_child throws away the inherited random generator state of the
 * current generation (two children with the same CTR-DRBG state would send
 * identical randoms and, with ECDSA, leak the key) and reseeds it from fresh
 * entropy and the child's identity; on mbedTLS 3.x it also reseeds PSA's
 * global random generator (psa_random_reseed), from which TLS 1.3 key
 * shares come; and it closes the manager's wake-up pipe. A
 * watcher running in the parent is dropped with
 * hotssl_watcher_after_fork_child() (hotssl/watcher.h).
 *
 * A long-lived child (prefork worker) picks up newer generations with
 * hotssl_prefork_check() at each accept: one atomic load of a counter in
 * shared memory; when the parent published a newer generation the worker
 * rebuilds it from the parent's last good snapshot, never from the files.
 *
 * Spawn (Windows, PostgreSQL's EXEC_BACKEND; also on POSIX). A new backend
 * process has no inherited memory and builds its own generation from a
 * snapshot the parent hands over through an inherited pipe:
 *   - HOTSSL_SNAPSHOT_CONTENTS (default): the last good generation's contents
 *     (certificates and CA set as DER, the key as DER, the CRL set as the
 *     parent's revocation table: sorted serials per issuer, names as DER,
 *     each CRL's dates, digest and signature, the ssl_dh_params_file bytes),
 *     so a file half-written on disk never breaks a new backend, and a
 *     backend neither parses a CRL, nor verifies again a signature the
 *     parent verified, nor repeats the parent's DH primality tests;
 *   - HOTSSL_SNAPSHOT_PATHS: the settings only; the backend re-reads the
 *     files, as PostgreSQL does.
 * A snapshot is pointer-free bytes: versioned, length-prefixed records with a
 * checksum, and treated as hostile input when read.
 *
 * Passphrase-protected keys. The parent runs ssl_passphrase_command once
 * (start, or reload when supports_reload is on). A CONTENTS snapshot carries
 * the decrypted key as DER; it only ever travels through the inherited pipe
 * (spawn) or anonymous, unnamed shared memory (prefork): never a file, never
 * a file-backed mapping, never the passphrase itself. Every copy is zeroized
 * when freed. A backend using PATHS re-reads the encrypted key and follows
 * PostgreSQL's EXEC_BACKEND rule: it may run the passphrase command only when
 * ssl_passphrase_command_supports_reload is on; otherwise it has no TLS and
 * logs why.
 *
 * Failure isolation: a backend that cannot build its generation gets an
 * error (logged through its own manager options and returned); the host
 * decides (answer 'N' to an SSLRequest like PostgreSQL, or close). Nothing
 * is shared with other backends.
 */
#ifndef HOTSSL_PLATFORM_H
#define HOTSSL_PLATFORM_H

#include "hotssl/hotssl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Fork                                                                      */
/* ------------------------------------------------------------------------ */

/* Parent, right before fork(): waits for a reload in progress and holds the
 * manager's internal lock so no library lock is inherited held. Must be
 * followed by exactly one of the two calls below in each process. */
HOTSSL_EXTERN int hotssl_manager_before_fork(hotssl_manager *m);
/* Parent, right after fork() (also when fork failed). */
HOTSSL_EXTERN void hotssl_manager_after_fork_parent(hotssl_manager *m);
/*
 * Child, right after fork(), before any TLS use: re-creates the random
 * generator of the current generation from fresh entropy personalized with
 * the child's pid, time and a fork counter, closes the wake-up pipe
 * (request_reload becomes a no-op in the child), and releases the lock
 * taken by before_fork. The child keeps serving the generation current at
 * fork time. Returns 0 or HOTSSL_ETLS when seeding failed (then the child
 * must not use TLS). Works also without before_fork, provided no other
 * thread of the parent was inside the manager during fork().
 */
HOTSSL_EXTERN int hotssl_manager_after_fork_child(hotssl_manager *m);
/* The same reseed for a generation the host still holds from before the
 * fork (after_fork_child only knows the manager's current one). */
HOTSSL_EXTERN int hotssl_generation_after_fork_child(hotssl_generation *g);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct hotssl_snapshot hotssl_snapshot;

#define HOTSSL_SNAPSHOT_CONTENTS 0u /* settings + contents of the files */
#define HOTSSL_SNAPSHOT_PATHS 1u    /* settings only: the backend re-reads */

/* Serialize what m serves now (its last good generation and the settings
 * that produced it). Any thread; waits for a reload in progress. The
 * snapshot may hold key material: keep it in memory, free it with
 * hotssl_snapshot_destroy (zeroizes). */
HOTSSL_EXTERN int hotssl_snapshot_take(hotssl_manager *m, unsigned what,
                                       hotssl_snapshot **out);
HOTSSL_EXTERN void hotssl_snapshot_destroy(hotssl_snapshot *s); /* NULL ok */
/* Generation number the snapshot was taken from. */
HOTSSL_EXTERN uint64_t hotssl_snapshot_generation(const hotssl_snapshot *s);
HOTSSL_EXTERN unsigned hotssl_snapshot_kind(const hotssl_snapshot *s);
/* The bytes (valid until destroy). */
HOTSSL_EXTERN const unsigned char *hotssl_snapshot_bytes(const hotssl_snapshot *s,
                                                         size_t *len);

/*
 * Build a manager from snapshot bytes (a spawned backend). The bytes are
 * checked (version, lengths, checksum, every record) before use; every
 * file is validated again by the normal builder. Its first generation keeps
 * the parent's generation number. The manager works like one made by
 * hotssl_manager_create (a later reload re-reads the configuration).
 * Errors as hotssl_manager_create, plus HOTSSL_EINVAL for malformed bytes.
 */
HOTSSL_EXTERN int hotssl_manager_create_from_snapshot(
    hotssl_manager **out, const void *bytes, size_t len,
    const hotssl_manager_options *opts, char *errbuf, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Prefork workers                                                           */
/* ------------------------------------------------------------------------ */

typedef struct hotssl_prefork hotssl_prefork;

/*
 * Parent, before forking the workers: anonymous shared memory (APR) holding
 * a generation counter and room for `capacity` bytes of snapshot (0: 64
 * MiB, reserved lazily by the kernel). Publishes m's current generation.
 */
HOTSSL_EXTERN int hotssl_prefork_create(hotssl_prefork **out, hotssl_manager *m,
                                        size_t capacity);
/* Parent, after each reload (e.g. from on_reload or after dispatch): copy
 * the current generation's snapshot if it is newer than the published one.
 * Returns 0, or an error (workers keep their generation). Parent only, one
 * thread at a time. */
HOTSSL_EXTERN int hotssl_prefork_publish(hotssl_prefork *p);
/*
 * Worker, at each accept: cheap when nothing changed (one atomic load).
 * When the parent published a newer generation, builds it from the shared
 * snapshot (reusing unchanged parsed objects) and makes it current in wm,
 * the worker's inherited copy of the manager. Returns 0 (unchanged), 1 (a
 * newer generation is now current) or a negative code (logged; the worker
 * keeps its generation).
 */
HOTSSL_EXTERN int hotssl_prefork_check(hotssl_prefork *p, hotssl_manager *wm);
/* Unmaps (each process that has it mapped). NULL ok. */
HOTSSL_EXTERN void hotssl_prefork_destroy(hotssl_prefork *p);

/* ------------------------------------------------------------------------ */
/* Spawn (process per connection)                                            */
/* ------------------------------------------------------------------------ */

typedef struct hotssl_process hotssl_process;

/* In hotssl_spawn's argv, this exact string is replaced with the hand-off
 * text the backend passes to hotssl_backend_open(). */
#define HOTSSL_SPAWN_HANDOFF_ARG "{hotssl-handoff}"

typedef struct hotssl_spawn_request {
  const char *program;      /* executable path (no PATH search) */
  const char *const *argv;  /* NULL-terminated, argv[0] included */
  int conn_fd;              /* accepted connection to hand over, or -1 */
  const hotssl_snapshot *snapshot; /* what the backend builds from */
} hotssl_spawn_request;

/*
 * Start a backend (POSIX: posix_spawn, which does not copy the host's page
 * tables; a program that cannot be executed is an error here). It inherits stdin,
 * stdout, stderr, a copy of conn_fd and the read end of a fresh pipe, and
 * nothing else the library knows of (every library descriptor is
 * close-on-exec; the host must create its listening socket close-on-exec).
 * The snapshot is written into the pipe before returning (bounded by a
 * deadline). The caller still owns conn_fd (close it after the call).
 * Returns 0 and *out, or HOTSSL_ESYS with the reason in errbuf. When the
 * backend started but the hand-off failed (it died or stalled), the error is
 * returned with *out set: the backend fails alone; reap it as usual.
 * Serializes with reloads of m (which may run the passphrase command).
 *
 * Windows: CreateProcessW with a PROC_THREAD_ATTRIBUTE_HANDLE_LIST naming
 * only the standard handles and the read end of a one-instance pipe, so no
 * other handle of the host is inherited even if inheritable; conn_fd is a
 * SOCKET (as int), blocking, handed over with WSADuplicateSocketW. The
 * backend's hotssl_backend_open sets *conn_fd to its own SOCKET (it calls
 * WSAStartup once for it). There are no signals: an exit code from
 * TerminateProcess is reported as is.
 */
HOTSSL_EXTERN int hotssl_spawn(hotssl_manager *m, const hotssl_spawn_request *req,
                               hotssl_process **out, char *errbuf, size_t errlen);
HOTSSL_EXTERN long hotssl_process_pid(const hotssl_process *p);
/* 1 and *exit_code (negative: killed by signal -code) when the process
 * ended, 0 while it runs (block = 0), negative on error. */
HOTSSL_EXTERN int hotssl_process_wait(hotssl_process *p, int block, int *exit_code);
/* Forget the process (does not kill it). NULL ok. */
HOTSSL_EXTERN void hotssl_process_destroy(hotssl_process *p);

/*
 * Backend side. Parse the hand-off text, set *conn_fd (-1 when none) first,
 * then read the snapshot from the inherited pipe and build the backend's
 * manager. On failure *m stays NULL but *conn_fd is valid: the host answers
 * without TLS or closes. The error is logged through opts and returned.
 */
HOTSSL_EXTERN int hotssl_backend_open(const char *handoff, int *conn_fd,
                                      hotssl_manager **m,
                                      const hotssl_manager_options *opts,
                                      char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* HOTSSL_PLATFORM_H */
