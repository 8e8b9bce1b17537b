/*
 * hotssl: PostgreSQL-grade handling of a server's TLS files, with live reload,
 * on mbedTLS.
 *
 * A host builds a hotssl_config (from a postgresql.conf-style file or key by
 * key), creates a hotssl_manager from it (start rules: any bad file is an
 * error and nothing is installed), then for each new connection acquires the
 * current generation, runs mbedtls_ssl_setup() with its mbedtls_ssl_config,
 * and releases the generation when the connection ends. hotssl_manager_reload()
 * builds a complete new generation on the side and publishes it with one
 * atomic swap (reload rules: on any failure the current generation stays and
 * one log line names the file and the reason).
 *
 * The library never prints, never exits and never installs signal handlers:
 * errors are negative HOTSSL_E* codes (the return convention below); details
 * go to the host's log callback, to the caller's errbuf where a function
 * takes one, and to the manager's last-error record (HOTSSL_INFO_LAST_ERROR).
 *
 * mbedTLS types appear only behind pointers.
 *
 * Return convention. A function that can fail returns int: 0 on success, a
 * positive value for a success that says more (HOTSSL_UNCHANGED from the
 * reload functions and hotssl_manager_dispatch; 1 from hotssl_prefork_check
 * and hotssl_process_wait; the count of lines from
 * hotssl_client_verify_lines; 1 (revoked) from hotssl_client_verify_revoked;
 * the count of warnings from hotssl_manager_diagnose), or a negative
 * HOTSSL_E* code. Where a function takes errbuf/errlen, errbuf (when not
 * NULL and errlen > 0) gets the reason of a failure, NUL-terminated and cut
 * to errlen. The exceptions,
 * each documented at its declaration:
 *   - functions that cannot fail return void (the *_destroy functions,
 *     hotssl_generation_release, hotssl_manager_after_fork_parent,
 *     hotssl_watcher_after_fork_child, hotssl_manager_request_reload,
 *     hotssl_client_verify_finish);
 *   - accessors return their value: a pointer (NULL for a NULL or unknown
 *     argument: hotssl_config_get, hotssl_manager_acquire,
 *     hotssl_generation_ref, hotssl_generation_ssl_config,
 *     hotssl_snapshot_bytes, hotssl_manager_generation_counter), static
 *     text that is never NULL (hotssl_strerror, hotssl_err_name, *_name,
 *     hotssl_version_string, hotssl_client_verify_reason,
 *     hotssl_client_verify_stale_crl_issuer), a number
 *     (hotssl_generation_number, hotssl_generation_host_count,
 *     hotssl_snapshot_generation, hotssl_snapshot_kind, hotssl_process_pid,
 *     hotssl_client_verify_refused, hotssl_client_verify_alert,
 *     hotssl_generation_counter_load), or a descriptor
 *     (hotssl_manager_wakeup_fd, hotssl_watcher_fd,
 *     hotssl_manager_wakeup_handle, hotssl_watcher_handle: none is -1 /
 *     HOTSSL_OS_FD_INVALID);
 *   - hotssl_watcher_dispatch returns milliseconds until its next call (-1:
 *     no deadline);
 *   - hotssl_ssl_write returns what mbedtls_ssl_write returns (bytes
 *     written or a negative mbedTLS code, not a HOTSSL_E* code).
 *
 * ABI rule (see also version.h). Every struct and function declared in this
 * version (0.1) is frozen: no field is added, removed or moved, no size and
 * no signature changes, within the major version. hotssl_stats,
 * hotssl_host_stats, hotssl_manager_options, hotssl_watcher_options and the
 * request structs of platform.h are such frozen structs. Growth goes through
 * two paths that a consumer compiled against an older header keeps working
 * with:
 *   - typed items (hotssl_manager_info, hotssl_generation_info,
 *     hotssl_generation_host_info), as curl_easy_getinfo: a new value is a
 *     new HOTSSL_INFO_* item; an item the running library does not know
 *     returns HOTSSL_ENOTSUP, so a newer consumer can tell an older library;
 *   - size-first structs (hotssl_manager_options_ex, hotssl_reload_event):
 *     the first member is a size_t holding sizeof the struct as its writer
 *     was compiled; fields are only appended; a reader uses a field only
 *     when the size covers it (HOTSSL_HAS_FIELD) and treats the fields
 *     beyond the size as zero. Initialize them with their *_INIT macro.
 */
#ifndef HOTSSL_HOTSSL_H
#define HOTSSL_HOTSSL_H

#include <stddef.h>
#include <stdint.h>

#include "hotssl/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(HOTSSL_SHARED)
#  if defined(HOTSSL_BUILDING)
#    define HOTSSL_EXTERN __declspec(dllexport)
#  else
#    define HOTSSL_EXTERN __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && defined(HOTSSL_BUILDING)
#  define HOTSSL_EXTERN __attribute__((visibility("default")))
#else
#  define HOTSSL_EXTERN
#endif

struct mbedtls_ssl_config;
struct mbedtls_ssl_context;
struct mbedtls_x509_crt;

/* A size-first struct pointer p (of type `type`) carries `field` when its
 * size member covers it. */
#define HOTSSL_HAS_FIELD(p, type, field) \
  ((p)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* An operating-system handle, as libuv's uv_os_fd_t: a file descriptor on
 * POSIX, a HANDLE on Windows. HOTSSL_OS_FD_INVALID when there is none. */
#ifdef _WIN32
typedef void *hotssl_os_fd;
#  define HOTSSL_OS_FD_INVALID ((hotssl_os_fd)(intptr_t)-1) /* INVALID_HANDLE_VALUE */
#else
typedef int hotssl_os_fd;
#  define HOTSSL_OS_FD_INVALID (-1)
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* X(name, value, text). Values are stable within a major version. */
#define HOTSSL_ERRNO_MAP(X)                                                   \
  X(EINVAL,      -1,  "invalid argument")                                     \
  X(ENOMEM,      -2,  "out of memory")                                        \
  X(ECONFIG,     -3,  "invalid configuration setting")                        \
  X(EFILE,       -4,  "file cannot be read")                                  \
  X(EKEYPERM,    -5,  "private key file has unsafe permissions or owner")     \
  X(ECERT,       -6,  "invalid certificate file")                             \
  X(EKEY,        -7,  "invalid private key file")                             \
  X(EPASSPHRASE, -8,  "private key passphrase missing, wrong or failing")     \
  X(EMISMATCH,   -9,  "private key does not match certificate")               \
  X(ECA,         -10, "invalid CA file")                                      \
  X(ECRL,        -11, "invalid certificate revocation list")                  \
  X(ECIPHER,     -12, "invalid cipher list")                                  \
  X(EPROTOCOL,   -13, "invalid protocol version setting")                     \
  X(EEXPIRED,    -14, "certificate expired or not yet valid")                 \
  X(ETLS,        -15, "TLS library error")                                    \
  X(ESYS,        -16, "system error")                                         \
  X(ENOTLS,      -17, "no TLS configuration available")                       \
  X(EBUSY,       -18, "operation already in progress")                        \
  X(ENOTSUP,     -19, "not supported on this platform or build")          \
  X(EDH,         -20, "invalid DH parameters file")

enum {
#define HOTSSL__ERR_ENUM(name, val, text) HOTSSL_##name = (val),
  HOTSSL_ERRNO_MAP(HOTSSL__ERR_ENUM)
#undef HOTSSL__ERR_ENUM
  HOTSSL_OK = 0,
  /* Not an error: hotssl_manager_reload() found the same content. */
  HOTSSL_UNCHANGED = 1
};

/* Static text for a HOTSSL_* code; never NULL ("unknown error" otherwise). */
HOTSSL_EXTERN const char *hotssl_strerror(int err);
/* Symbolic name ("HOTSSL_ECERT"); never NULL. */
HOTSSL_EXTERN const char *hotssl_err_name(int err);

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum hotssl_log_level {
  HOTSSL_LOG_DEBUG = 0,
  HOTSSL_LOG_INFO = 1,
  HOTSSL_LOG_WARNING = 2,
  HOTSSL_LOG_ERROR = 3
} hotssl_log_level;

/* Called with one complete line (no trailing newline). May be called from
 * any thread that calls into the manager, and from the manager's own threads
 * (watcher); the callback must be thread-safe. Must not call back into the
 * same manager. */
typedef void (*hotssl_log_fn)(void *userdata, hotssl_log_level level,
                              const char *message);

/* "DEBUG", "INFO", "WARNING", "ERROR" */
HOTSSL_EXTERN const char *hotssl_log_level_name(hotssl_log_level level);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A set of settings, by PostgreSQL's names:
 *   ssl (on | off; default on: off makes hotssl_manager_create fail with
 *   HOTSSL_ENOTLS), ssl_cert_file, ssl_key_file, ssl_ca_file, ssl_crl_file, ssl_crl_dir,
 *   ssl_ciphers, ssl_min_protocol_version, ssl_max_protocol_version,
 *   ssl_passphrase_command, ssl_passphrase_command_supports_reload,
 *   ssl_client_cert (off | optional | require),
 *   ssl_sni (bool), ssl_hosts_file (PostgreSQL's pg_hosts.conf format: see
 *   the README; default "pg_hosts.conf" beside the configuration file)
 * and hotssl's own:
 *   hotssl_refuse_expired (bool), hotssl_max_file_size (bytes),
 *   hotssl_watch (bool), hotssl_debounce_ms, hotssl_retry_window_ms,
 *   hotssl_poll_interval_ms,
 *   hotssl_expiry_warning_days (default 30, 0 = off): a WARNING at each load
 *   and reload when the served certificate expires, or a CRL's next update
 *   falls, within that many days; repeated once a day by a running watcher,
 *   hotssl_crl_stale (refuse | warn | ignore; default refuse): what a CRL
 *   past its nextUpdate does to the client certificates checked against it
 *
 * Relative paths resolve against the base directory: the folder of the
 * configuration file (hotssl_config_load_file), else the one given to
 * hotssl_config_set_base_dir, else the current directory at load time.
 *
 * Thread rules: a config is a plain value owned by the caller; it is not
 * shared with a manager (the manager copies it). Not thread-safe.
 */
typedef struct hotssl_config hotssl_config;

HOTSSL_EXTERN int hotssl_config_create(hotssl_config **out);
HOTSSL_EXTERN void hotssl_config_destroy(hotssl_config *cfg); /* NULL ok */

/* Set one setting by name. Unknown names and invalid values fail with
 * HOTSSL_ECONFIG and a reason in errbuf (if errbuf != NULL). value NULL
 * resets the setting to its default. */
HOTSSL_EXTERN int hotssl_config_set(hotssl_config *cfg, const char *name,
                                    const char *value, char *errbuf,
                                    size_t errlen);

/* Current value of a setting as text, after defaults ("" when unset);
 * NULL for an unknown name. Valid until the next change of cfg. */
HOTSSL_EXTERN const char *hotssl_config_get(const hotssl_config *cfg,
                                            const char *name);

HOTSSL_EXTERN int hotssl_config_set_base_dir(hotssl_config *cfg,
                                             const char *dir);

/*
 * Read settings from a postgresql.conf-style file: `name = value` or
 * `name value`, values optionally in single quotes ('' for a quote), `#`
 * comments. The file's folder becomes the base directory. A manager created
 * from such a config re-reads the file on every reload, as PostgreSQL re-reads
 * postgresql.conf on SIGHUP. Errors: HOTSSL_EFILE, HOTSSL_ECONFIG (with file
 * and line in errbuf).
 */
HOTSSL_EXTERN int hotssl_config_load_file(hotssl_config *cfg, const char *path,
                                          char *errbuf, size_t errlen);

/*
 * The same, with options. The file may use postgresql.conf's directives
 * `include 'file'`, `include_if_exists 'file'` (a missing file is skipped)
 * and `include_dir 'dir'` (its *.conf files in name order, hidden files
 * skipped), paths relative to the including file, nested at most 10 deep;
 * plain hotssl_config_load_file accepts them too. A manager watches the
 * included files and folders like the configuration file itself.
 *
 * HOTSSL_LOAD_IGNORE_NON_SSL: settings whose names begin neither with "ssl"
 * nor with "hotssl_" are ignored (a host hands hotssl its whole
 * postgresql.conf: port, shared_buffers, ...), while an unknown ssl_* or
 * hotssl_* name stays an error. The option sticks: reloads re-read the file
 * with it.
 */
#define HOTSSL_LOAD_IGNORE_NON_SSL 1u
HOTSSL_EXTERN int hotssl_config_load_file_ex(hotssl_config *cfg, const char *path,
                                             unsigned flags, char *errbuf, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Manager and generations                                                   */
/* ------------------------------------------------------------------------ */

typedef struct hotssl_manager hotssl_manager;
typedef struct hotssl_generation hotssl_generation;

typedef enum hotssl_trigger {
  HOTSSL_TRIGGER_START = 0,
  HOTSSL_TRIGGER_API = 1,
  HOTSSL_TRIGGER_SIGNAL = 2,
  HOTSSL_TRIGGER_FILE = 3
} hotssl_trigger;

/* "start", "API call", "signal", "file change" */
HOTSSL_EXTERN const char *hotssl_trigger_name(hotssl_trigger trigger);

typedef struct hotssl_manager_options {
  hotssl_log_fn log;   /* NULL: no logging */
  void *log_userdata;
  /* Called after each reload attempt (not at start) with its result:
   * 0, HOTSSL_UNCHANGED or a negative code. Same thread rules as log. */
  void (*on_reload)(void *userdata, int result, uint64_t generation);
  void *on_reload_userdata;
  /*
   * Build hook, like PostgreSQL's openssl_tls_init_hook: called once for
   * every generation this manager builds (hotssl_manager_create, reload,
   * reload_with, hotssl_manager_create_from_snapshot, hotssl_backend_open,
   * and hotssl_prefork_check in a worker, on the worker's own copy) with
   * the generation's served (top-level) mbedtls_ssl_config, after hotssl
   * configured it and before anyone can acquire it. The host adds what
   * hotssl does not set: ALPN (mbedtls_ssl_conf_alpn_protocols), its own
   * callbacks, debug output. generation is the number the generation is
   * built under. With ssl_sni only the served configuration is passed
   * (the hosts file entries lend it their certificates during the
   * handshake; settings made here apply to every connection).
   *
   * Lifetime: mbedTLS keeps pointers, not copies. Whatever the host hands
   * to conf (the ALPN protocol list and its strings, callback contexts)
   * must outlive the generation, i.e. until its last
   * hotssl_generation_release(), possibly after hotssl_manager_destroy();
   * static storage is the simple choice.
   *
   * Return 0 to accept. Nonzero fails that build: hotssl_manager_create
   * (and the other start paths) fails with HOTSSL_ECONFIG and the message
   * "SSL build hook failed: <errbuf>"; a reload fails the same way (the
   * last good generation keeps serving, the reload log line and
   * hotssl_stats.last_error carry the message). errbuf (errlen bytes,
   * already "") takes the host's reason.
   *
   * Thread rules: called from whichever thread builds (the host's, or the
   * watcher's thread), one build at a time per manager; must not call back
   * into the same manager. NULL: no hook.
   */
  int (*build_hook)(void *userdata, struct mbedtls_ssl_config *conf, uint64_t generation,
                    char *errbuf, size_t errlen);
  void *build_hook_userdata;
} hotssl_manager_options;

/*
 * Create a manager and build generation 1 from cfg (copied). Start rules: on
 * any problem returns a negative code, *out stays NULL, nothing is installed,
 * and errbuf (if given) holds a message naming the file and the reason, e.g.
 * `could not load server certificate file "/x/server.crt": ...`. The same
 * message is logged at ERROR level. opts may be NULL.
 *
 * Thread rules: acquire/stats/request_reload may be called from any thread;
 * reload and dispatch serialize on an internal mutex (one reload at a time);
 * destroy only when no other thread uses the manager. Generations still held
 * stay valid after destroy until released.
 *
 * mbedTLS 3.x: creating a manager calls psa_crypto_init() (TLS 1.3 needs
 * PSA). It is idempotent, so a host that uses PSA itself may call it too,
 * before or after; hotssl never calls mbedtls_psa_crypto_free(). A host that
 * forks must call hotssl_manager_after_fork_child() in the child (include/
 * hotssl/platform.h): it re-creates the generation's DRBG and reseeds PSA's
 * global random generator, from which TLS 1.3 key shares are drawn.
 */
HOTSSL_EXTERN int hotssl_manager_create(hotssl_manager **out,
                                        const hotssl_config *cfg,
                                        const hotssl_manager_options *opts,
                                        char *errbuf, size_t errlen);
HOTSSL_EXTERN void hotssl_manager_destroy(hotssl_manager *m); /* NULL ok */

/*
 * The audit record of one reload attempt (hotssl_reload_event.audit); the
 * library's own log keeps its one result line per attempt, and a host logs
 * the record as one line with hotssl_reload_audit_line. Size-first like the
 * event: read a field only when HOTSSL_HAS_FIELD covers it. Everything it
 * points to is valid during the callback only.
 *
 * One identity: the served certificate ("served") or an ssl_sni hosts file
 * entry ("host_line_N"), before and after the attempt: serial in hex (as
 * `openssl x509 -serial`) and SHA-256 fingerprint ("AB:CD:..."); "" on the
 * side where the identity does not exist (an entry added or removed). The
 * array's elements are `identity_size` bytes apart: index it with
 * HOTSSL_AUDIT_IDENTITY, never with [] (a later element may be larger).
 */
typedef struct hotssl_audit_identity {
  size_t size; /* sizeof the library's hotssl_audit_identity */
  const char *name;
  const char *old_serial, *new_serial;
  const char *old_sha256, *new_sha256;
} hotssl_audit_identity;

typedef struct hotssl_reload_audit {
  size_t size;             /* sizeof the library's hotssl_reload_audit */
  hotssl_trigger trigger;
  int result;              /* as hotssl_reload_event.result */
  uint64_t old_generation; /* served before the attempt */
  uint64_t new_generation; /* served after it (== old unless a new one was published) */
  const hotssl_audit_identity *identities;
  size_t identity_size; /* distance between two elements of identities */
  size_t n_identities;
  /* Files whose content differs from the files of the generation served
   * before the attempt (absolute paths: certificate, key, CA, CRL files and
   * the hosts file entries' files; appeared or vanished ones included);
   * none when the files could not be loaded. */
  const char *const *changed_files;
  size_t n_changed_files;
  /* On failure: the file the reason names ("" when it names none) and the
   * reason, as the log line's; "" on success. */
  const char *failed_file;
  const char *reason;
} hotssl_reload_audit;

#define HOTSSL_AUDIT_IDENTITY(a, i)                                                        \
  ((const hotssl_audit_identity *)(const void *)((const char *)(a)->identities +          \
                                                  (size_t)(i) * (a)->identity_size))

/*
 * The audit record as one line (no newline), as `hotssl serve` logs it:
 *   SSL reload audit: trigger signal; generation 1 -> 2; result reloaded;
 *   served: serial 5E01 -> 5E02, sha256 AB:.. -> CD:..; changed files:
 *   "/etc/tls/server.crt", "/etc/tls/server.key"
 * (result "unchanged", or "failed (file \"PATH\": REASON)"; "none" for an
 * absent side or no changed file). Returns 0, HOTSSL_EINVAL (a NULL
 * argument, len 0) or HOTSSL_ENOMEM when the line was cut to len - 1
 * characters (still NUL-terminated). Any thread.
 */
HOTSSL_EXTERN int hotssl_reload_audit_line(const hotssl_reload_audit *a, char *line, size_t len);

/*
 * The result of one reload attempt, handed to on_reload_ex. Size-first: a
 * later version appends fields; read one only when
 * HOTSSL_HAS_FIELD(ev, hotssl_reload_event, field).
 */
typedef struct hotssl_reload_event {
  size_t size;            /* sizeof the library's hotssl_reload_event */
  int result;             /* 0, HOTSSL_UNCHANGED or a negative code */
  hotssl_trigger trigger; /* what asked for the reload */
  uint64_t generation;    /* the generation served after the attempt */
  /* The reason of a failure, as the log line's "was not reloaded: <reason>"
   * (naming the file); "" on 0 and HOTSSL_UNCHANGED. Valid during the
   * callback only. */
  const char *reason;
  /* The audit record of the attempt; NULL only when it could not be
   * allocated. Valid during the callback only. */
  const hotssl_reload_audit *audit;
} hotssl_reload_event;

/*
 * Options that can grow: a size-first struct. Initialize with
 * HOTSSL_MANAGER_OPTIONS_EX_INIT (which sets size and zeroes the rest),
 * then set fields; the library reads only the first `size` bytes and takes
 * the fields beyond them as zero, so a program compiled against an older
 * header passes its smaller struct unchanged. Fields are only appended.
 */
typedef struct hotssl_manager_options_ex {
  size_t size;                 /* sizeof(hotssl_manager_options_ex) */
  hotssl_manager_options base; /* log, on_reload, build_hook, as above */
  /*
   * Called after each reload attempt (not at start), after base.on_reload
   * when both are set, with the attempt's result, trigger, generation and
   * the reason of a failure. Same thread rules as log; it may call
   * hotssl_manager_stats and hotssl_manager_info on the manager (not reload
   * it). NULL: none.
   */
  void (*on_reload_ex)(void *userdata, const hotssl_reload_event *ev);
  void *on_reload_ex_userdata;
} hotssl_manager_options_ex;

#ifdef __cplusplus
/* C++ before C++20 has no designated initializers: a value-initialized
 * (zeroed) struct with its size set. */
static inline hotssl_manager_options_ex hotssl__manager_options_ex_init() {
  hotssl_manager_options_ex o = hotssl_manager_options_ex();
  o.size = sizeof o;
  return o;
}
#  define HOTSSL_MANAGER_OPTIONS_EX_INIT hotssl__manager_options_ex_init()
#else
#  define HOTSSL_MANAGER_OPTIONS_EX_INIT {.size = sizeof(hotssl_manager_options_ex)}
#endif

/* hotssl_manager_create with hotssl_manager_options_ex (opts may be NULL).
 * HOTSSL_EINVAL when opts->size does not cover size and base. A size
 * larger than this library's struct (a program built against a newer
 * header) is accepted when every byte past the library's struct is zero,
 * else HOTSSL_ENOTSUP: an option the library does not know is never
 * silently dropped. */
HOTSSL_EXTERN int hotssl_manager_create_ex(hotssl_manager **out, const hotssl_config *cfg,
                                           const hotssl_manager_options_ex *opts,
                                           char *errbuf, size_t errlen);

/*
 * Re-read the configuration (its file, if it came from one) and every TLS
 * file, build and validate a complete generation, and publish it. Returns 0
 * (new generation published), HOTSSL_UNCHANGED (same content: nothing
 * published) or a negative code (the current generation keeps serving).
 * Always logs exactly one line: "SSL configuration reloaded (generation N)",
 * "SSL configuration unchanged (generation N)" or
 * "SSL configuration was not reloaded: <reason naming the file>".
 */
HOTSSL_EXTERN int hotssl_manager_reload(hotssl_manager *m,
                                        hotssl_trigger trigger);

/*
 * Reload with new settings: like hotssl_manager_reload, but the build
 * starts from cfg (copied; re-read from its file if it came from one, as a
 * reload re-reads the manager's) instead of the manager's current settings.
 * The same generation numbering, reuse of unchanged files and parsed
 * objects, passphrase rules (those of cfg: ssl_passphrase_command and
 * ..._supports_reload as cfg sets them), all-or-nothing publication, return
 * values and single log line as hotssl_manager_reload.
 *
 * On 0 or HOTSSL_UNCHANGED, cfg becomes the manager's settings: later
 * reloads, snapshots and an attached watcher (both modes) use it; the
 * watcher re-resolves its paths at its next turn, for which the manager's
 * wake-up descriptor is signalled (a host loop without a watcher sees one
 * spurious wake-up: hotssl_manager_dispatch then returns HOTSSL_UNCHANGED).
 * On failure (a negative code) the manager keeps its settings and its
 * current generation. Errors: HOTSSL_EINVAL (m or cfg NULL), else as
 * hotssl_manager_reload. Thread rules as hotssl_manager_reload; cfg is only
 * read during the call.
 */
HOTSSL_EXTERN int hotssl_manager_reload_with(hotssl_manager *m, const hotssl_config *cfg,
                                             hotssl_trigger trigger);

/*
 * hotssl_manager_reload and hotssl_manager_reload_with with an errbuf: the
 * same return values, log line and callbacks; on a negative return errbuf
 * (errlen bytes, may be NULL) holds the reason, the text of the log line's
 * "was not reloaded: <reason>" (the build hook's "SSL build hook failed:
 * ..." included); on 0 and HOTSSL_UNCHANGED it holds "". cfg NULL in
 * hotssl_manager_reload_with_ex: HOTSSL_EINVAL.
 */
HOTSSL_EXTERN int hotssl_manager_reload_ex(hotssl_manager *m, hotssl_trigger trigger,
                                           char *errbuf, size_t errlen);
HOTSSL_EXTERN int hotssl_manager_reload_with_ex(hotssl_manager *m, const hotssl_config *cfg,
                                                hotssl_trigger trigger, char *errbuf,
                                                size_t errlen);

/*
 * Async-signal-safe: may be called from a signal handler (e.g. SIGHUP). Only
 * sets a flag and writes one byte to the manager's wake-up pipe; the reload
 * itself runs in hotssl_manager_dispatch() (host loop) or in the manager's
 * watcher thread when one runs.
 */
HOTSSL_EXTERN void hotssl_manager_request_reload(hotssl_manager *m);

/* Handle that becomes readable after hotssl_manager_request_reload();
 * HOTSSL_OS_FD_INVALID for a NULL manager and in a fork child (after
 * hotssl_manager_after_fork_child). Owned by the manager. POSIX: the read
 * end of a pipe: poll for POLLIN. Windows: an event HANDLE, signalled
 * instead of readable: wait with WaitForSingleObject /
 * WaitForMultipleObjects (hotssl_manager_request_reload may be called from
 * a console control handler there). Also HOTSSL_INFO_WAKEUP_HANDLE. */
HOTSSL_EXTERN hotssl_os_fd hotssl_manager_wakeup_handle(const hotssl_manager *m);

/* Deprecated (kept for the ABI): hotssl_manager_wakeup_handle as an int; on
 * Windows the HANDLE's value, to cast back with (HANDLE)(intptr_t)fd. */
HOTSSL_EXTERN int hotssl_manager_wakeup_fd(const hotssl_manager *m);

/* Run a requested reload, if any (trigger "signal"). Returns what
 * hotssl_manager_reload returned, or HOTSSL_UNCHANGED when nothing was
 * requested. Call it when the wake-up descriptor is readable. */
HOTSSL_EXTERN int hotssl_manager_dispatch(hotssl_manager *m);

/*
 * The current generation, with a reference for the caller. Lock-free: a few
 * atomic operations, never blocks on a reload. Never NULL for a live manager.
 * The generation and everything its mbedtls_ssl_config points to stay valid
 * until hotssl_generation_release(), even across reloads and destroy.
 */
HOTSSL_EXTERN hotssl_generation *hotssl_manager_acquire(hotssl_manager *m);

/* Drop a reference; the last one frees the generation and zeroizes its key
 * material. NULL ok. Any thread. */
HOTSSL_EXTERN void hotssl_generation_release(hotssl_generation *g);

/* Take one more reference (e.g. for a second thread). */
HOTSSL_EXTERN hotssl_generation *hotssl_generation_ref(hotssl_generation *g);

/* The ready server configuration: pass it to mbedtls_ssl_setup(). Read-only;
 * shared by all connections of the generation. Client-certificate checks
 * (revocation table, ssl_client_cert = optional) run in the configuration's
 * verify callback: a host that replaces it per connection with
 * mbedtls_ssl_set_verify() bypasses them (hotssl_client_verify_bind() below
 * installs the same checks per connection). */
HOTSSL_EXTERN const struct mbedtls_ssl_config *
hotssl_generation_ssl_config(const hotssl_generation *g);

/* 1, 2, ...: increases by one with every published generation. */
HOTSSL_EXTERN uint64_t hotssl_generation_number(const hotssl_generation *g);

/*
 * Generation-change counter, for a host that acts on open connections when
 * a reload publishes (docs/live-revocation.md). The address of a 64-bit
 * counter holding the number of the generation m published last; it stays
 * valid until hotssl_manager_destroy(m). Poll it with
 * hotssl_generation_counter_load(): one atomic load, no lock, no call into
 * the library, cheap enough for every query of a backend.
 *
 * POSIX: the counter lives in a page shared (MAP_SHARED, a sealed memfd on
 * Linux) with the processes the manager's owner forks and spawns: a fork
 * child's inherited manager returns the parent's counter (the child's own
 * reloads do not move it), and on Linux (memfd) a backend made by
 * hotssl_backend_open() from a hotssl_spawn() of m returns the spawning
 * parent's counter. Elsewhere, and on Windows, a spawned backend's counter
 * is its own and does not follow its parent's. NULL for a NULL manager.
 * Any thread.
 */
HOTSSL_EXTERN const volatile uint64_t *hotssl_manager_generation_counter(const hotssl_manager *m);

/*
 * A process the host starts itself (PostgreSQL's EXEC_BACKEND; see
 * docs/host-started-processes.md) and whose manager it built from a
 * snapshot: make hotssl_manager_generation_counter(m) its parent's counter.
 * fd is the parent's HOTSSL_INFO_GENERATION_COUNTER_FD, inherited (or
 * received) by this process; it is mapped read-only and closed in every
 * case. Returns 0, HOTSSL_EINVAL (m NULL or fd invalid), HOTSSL_ESYS (the
 * mapping failed: m keeps its own counter) or HOTSSL_ENOTSUP (Windows). Call
 * it before other threads use m.
 */
HOTSSL_EXTERN int hotssl_manager_attach_generation_counter(hotssl_manager *m, hotssl_os_fd fd);

static inline uint64_t hotssl_generation_counter_load(const volatile uint64_t *counter) {
#if defined(__GNUC__) || defined(__clang__)
  return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
#else
  return *counter; /* an aligned 64-bit load, on the 64-bit targets hotssl supports */
#endif
}

/* ------------------------------------------------------------------------ */
/* Client-certificate verification result (per connection)                   */
/* ------------------------------------------------------------------------ */

/*
 * hotssl verifies a presented client certificate as PostgreSQL does with
 * OpenSSL (see README "Client certificates"): chain, dates, keyUsage and
 * extendedKeyUsage (clientAuth), and, when a CRL is configured, revocation of
 * every certificate of the chain below the root, failing closed. The
 * configuration's own verify callback gives every connection that verdict.
 *
 * A host that wants PostgreSQL's log lines for a refusal, and the TLS alert
 * that names the reason in both client-certificate modes, binds a
 * hotssl_client_verify to each connection: create it, call
 * hotssl_client_verify_bind() after mbedtls_ssl_setup(), and after a failed
 * mbedtls_ssl_handshake() call hotssl_client_verify_finish(). Without the
 * binding, `require` refusals carry mbedTLS's alert for the verification
 * flags and `optional` refusals carry access_denied.
 *
 * With ssl_sni, the binding follows the hosts file entry that the server
 * name selects: the entry's CA set and revocation table decide, and v
 * records the refusal as above. An unbound connection is checked by the
 * entry's own callback (same verdict, mbedTLS's alert).
 *
 * Thread rules: one hotssl_client_verify per connection, used by the thread
 * running that connection's handshake. It must outlive the handshake; the
 * generation must stay acquired while it is bound.
 */
typedef struct hotssl_client_verify hotssl_client_verify;

HOTSSL_EXTERN int hotssl_client_verify_create(hotssl_client_verify **out);
HOTSSL_EXTERN void hotssl_client_verify_destroy(hotssl_client_verify *v); /* NULL ok */

/* Route the client-certificate checks of ssl (set up with g's
 * configuration) through v: the same verdict, plus the record of a refusal
 * and the alert that names its reason. Resets v. */
HOTSSL_EXTERN int hotssl_client_verify_bind(struct mbedtls_ssl_context *ssl,
                                            const hotssl_generation *g,
                                            hotssl_client_verify *v);

/* After mbedtls_ssl_handshake() returned ret < 0: send the fatal alert
 * mbedTLS leaves out (handshake_failure in TLS 1.2, certificate_required in
 * TLS 1.3, when `require` gets no certificate) and record that case in v.
 * v may be NULL. */
HOTSSL_EXTERN void hotssl_client_verify_finish(struct mbedtls_ssl_context *ssl, int ret,
                                               hotssl_client_verify *v);

/* 1 when the last handshake refused a presented certificate (or, after
 * finish, got none under `require`), else 0. */
HOTSSL_EXTERN int hotssl_client_verify_refused(const hotssl_client_verify *v);
/* The TLS alert sent for the refusal (e.g. 44 certificate_revoked), or 0. */
HOTSSL_EXTERN int hotssl_client_verify_alert(const hotssl_client_verify *v);
/* OpenSSL's text for the reason ("certificate revoked", "unable to get
 * certificate CRL", ...), "" when nothing was refused. */
HOTSSL_EXTERN const char *hotssl_client_verify_reason(const hotssl_client_verify *v);
/* hotssl_crl_stale = warn: the issuer (as line 2 of
 * hotssl_client_verify_lines names it, "/CN=...") whose CRLs, past their
 * nextUpdate, the last handshake's accepted certificate was checked
 * against; "" when none (and always under refuse, where such a certificate
 * is refused with "CRL has expired", and ignore). Never NULL. */
HOTSSL_EXTERN const char *hotssl_client_verify_stale_crl_issuer(const hotssl_client_verify *v);

/*
 * Is this connection's peer revoked under generation g (typically a newer
 * one than the handshake's: after hotssl_generation_counter_load() moved,
 * the generation just acquired)? v must be bound (hotssl_client_verify_bind)
 * and its handshake must have accepted a client certificate. Checks every
 * certificate of the chain the handshake verified, the leaf and the
 * certificates above it up to the trust anchor (the 16 lowest), by their
 * issuer name and serial against g's revocation table (ssl_crl_file,
 * ssl_crl_dir): a table lookup per certificate, no parse, no signature.
 * With ssl_sni, g's own CRL set (the configuration's, not the hosts file
 * entries'). A session resumed from a session ticket ran no verification:
 * its client certificate (the leaf, which the ticket carries and the
 * resumption checked) is looked up, while v stays bound to the live ssl
 * context. Only a listed serial counts: a CRL set that lost an issuer's
 * CRL, or whose CRL expired, refuses new handshakes but is not "revoked".
 *
 * Returns 1 (revoked: *depth gets the depth of the lowest listed
 * certificate, 0 the leaf, and serial its serial number in decimal, as
 * PostgreSQL prints it; both may be NULL), 0 (not revoked, or g has no CRL),
 * HOTSSL_EINVAL (a NULL argument, or no accepted client certificate was
 * recorded) or HOTSSL_ENOMEM (recording the chain ran out of memory). Any
 * thread once the handshake is over; g must be held.
 */
HOTSSL_EXTERN int hotssl_client_verify_revoked(const hotssl_client_verify *v,
                                               const hotssl_generation *g, int *depth,
                                               char *serial, size_t serial_len);

/*
 * PostgreSQL's log lines for the refusal, as its server writes them:
 *   line 1: `Client certificate verification failed at depth N: REASON.`
 *   line 2: `Failed certificate data (unverified): subject "/CN=...", serial
 *            number N, issuer "/CN=...".`
 * Names use OpenSSL's short attribute names; control characters and bytes
 * outside printable ASCII are escaped (\xNN), and a name longer than 71
 * characters keeps its end, after "...". With no certificate under
 * `require`, line 1 is `peer did not return a certificate` and line 2 is
 * empty. Returns the number of lines written (0: nothing was refused).
 * Lines are cut to their buffer's size.
 */
HOTSSL_EXTERN int hotssl_client_verify_lines(const hotssl_client_verify *v, char *line1,
                                             size_t len1, char *line2, size_t len2);

/*
 * The certificate a bound connection was served, for SCRAM channel binding
 * (RFC 5929 tls-server-end-point), after a successful
 * mbedtls_ssl_handshake() of a connection bound with
 * hotssl_client_verify_bind() (whatever ssl_client_cert is). With ssl_sni,
 * the certificate of the hosts file entry the server name selected; without
 * a server name the one served to such connections. (Before the handshake
 * it is the bound generation's own certificate.)
 *
 * hotssl_client_verify_served_cert: *der / *len get the leaf certificate's
 * DER, owned by the generation: valid while the generation bound to the
 * connection is held. HOTSSL_EINVAL when an argument is NULL or v was never
 * bound.
 *
 * hotssl_client_verify_server_end_point: the tls-server-end-point hash of
 * that DER, as PostgreSQL's be_tls_get_certificate_hash computes it: with
 * the hash algorithm of the certificate's signature, SHA-256 when that is
 * MD5 or SHA-1. out gets the hash (64 bytes always suffice), *outlen its
 * length. HOTSSL_EINVAL when out is too small, an argument is NULL or v
 * was never bound; HOTSSL_ENOTSUP when the signature algorithm has no
 * single hash (RSASSA-PSS, as PostgreSQL; Ed25519); HOTSSL_ETLS when
 * hashing failed. Same thread rules as the rest of hotssl_client_verify.
 */
HOTSSL_EXTERN int hotssl_client_verify_served_cert(const hotssl_client_verify *v,
                                                   const unsigned char **der, size_t *len);
HOTSSL_EXTERN int hotssl_client_verify_server_end_point(const hotssl_client_verify *v,
                                                        unsigned char *out, size_t outsize,
                                                        size_t *outlen);

/* ------------------------------------------------------------------------ */
/* Certificate names and serials                                             */
/* ------------------------------------------------------------------------ */

#define HOTSSL_CERT_SUBJECT 0u
#define HOTSSL_CERT_ISSUER 1u
/* As `openssl x509 -nameopt RFC2253 -subject` / X509_NAME_print_ex with
 * XN_FLAG_RFC2253: RDNs in reverse order, ',' between RDNs, '+' inside a
 * multi-valued RDN, RFC 2253 escaping, bytes >= 0x80 (of the value as
 * UTF-8) as \XX, attribute types OpenSSL does not name as dotted OID=#hex
 * of the value's DER. */
#define HOTSSL_NAME_RFC2253 0u
/* As X509_NAME_oneline() (`openssl x509 -nameopt compat -subject`):
 * "/C=US/CN=x" in forward order, '+' before the later attributes of a
 * multi-valued RDN, '/' and '+' in values escaped with '\', the value's
 * bytes outside ' '..'~' as \xXX. */
#define HOTSSL_NAME_ONELINE 1u
#define HOTSSL_SERIAL_DEC 0u /* as BN_bn2dec (PostgreSQL's ssl_client_serial) */
#define HOTSSL_SERIAL_HEX 1u /* as `openssl x509 -serial`: upper case, even digits */

/*
 * The subject or issuer (which) of crt as text in the given style, with
 * OpenSSL's short attribute names (CN, C, L, ST, O, OU, emailAddress, DC,
 * serialNumber, UID, ...). Returns 0, HOTSSL_EINVAL (a NULL argument, len
 * 0, unknown which or style) or HOTSSL_ENOMEM when the text does not fit
 * in len bytes (buf then holds ""). Any thread; crt is only read.
 */
HOTSSL_EXTERN int hotssl_cert_name(const struct mbedtls_x509_crt *crt, unsigned which,
                                   unsigned style, char *buf, size_t len);
/* The serial number of crt in decimal (any length; "-" when negative) or
 * hex. Returns as hotssl_cert_name. */
HOTSSL_EXTERN int hotssl_cert_serial(const struct mbedtls_x509_crt *crt, unsigned style,
                                     char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Non-blocking writes                                                       */
/* ------------------------------------------------------------------------ */

/*
 * mbedtls_ssl_write() for a host that may come back with more bytes.
 * After MBEDTLS_ERR_SSL_WANT_WRITE mbedTLS holds an encrypted record and
 * requires the call to be repeated with the same buffer and length; a host
 * like PostgreSQL (secure_write after a would-block) retries with its
 * unsent bytes still at the start of its buffer but possibly MORE of them,
 * and mbedTLS would then report the longer length as written although the
 * held record carries fewer bytes: the rest is lost.
 *
 * Embedding contract: *pending is per-connection state owned by the
 * caller, 0 initially (and after mbedtls_ssl_session_reset()). Pass the
 * unsent bytes at buf: after a WANT_WRITE (or WANT_READ) they must start
 * with the bytes of the previous call. While *pending != 0 (the payload
 * length of the record mbedTLS holds) the call writes exactly *pending
 * bytes, whatever len is (len must be >= *pending, else
 * MBEDTLS_ERR_SSL_BAD_INPUT_DATA). Returns what mbedtls_ssl_write
 * returns: the number of bytes taken (<= len; fewer than len when a record
 * is full: call again for the rest) or a negative mbedTLS code
 * (MBEDTLS_ERR_SSL_WANT_WRITE / _WANT_READ: wait and retry). *pending is
 * cleared on success and on any other error. One thread per connection,
 * as mbedtls_ssl_write.
 */
HOTSSL_EXTERN int hotssl_ssl_write(struct mbedtls_ssl_context *ssl, size_t *pending,
                                   const unsigned char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Observability                                                             */
/* ------------------------------------------------------------------------ */

/* hotssl_stats, hotssl_host_stats and the functions that fill them are
 * frozen (ABI rule above): values added later are HOTSSL_INFO_* items only. */
typedef struct hotssl_stats {
  uint64_t generation;          /* current generation number */
  uint64_t reloads_attempted;   /* reloads after start */
  uint64_t reloads_succeeded;   /* new generation published */
  uint64_t reloads_unchanged;   /* identical content, nothing published */
  uint64_t reloads_failed;
  char last_error[512];         /* "" if none */
  /* The served leaf certificate. With ssl_sni: the one serving connections
   * without a server name (the "/no_sni/" entry, else the configuration's),
   * or the first entry's when none does; each entry's below. */
  char subject[256];
  char issuer[256];
  char serial[80];              /* hex, as `openssl x509 -serial` prints it */
  char not_before[24];          /* "YYYY-MM-DD HH:MM:SS" UTC */
  char not_after[24];
  int64_t not_after_unix;       /* seconds since the epoch, for alerting */
  char sha256[96];              /* "AB:CD:..." of the DER certificate */
  /* For monitoring (`hotssl info --json`). */
  int64_t not_before_unix;
  int64_t seconds_left;         /* not_after_unix - now when the stats were
                                   taken; negative once expired */
  char key_type[16];            /* "RSA", "EC", ... */
  unsigned key_bits;
  unsigned chain_length;        /* certificates in ssl_cert_file */
  unsigned ca_count;            /* certificates in ssl_ca_file (0: none) */
  uint64_t crl_entries;         /* revoked serials over the CRL set */
  int64_t crl_next_update_unix; /* earliest next update of the CRL set; 0: no CRL */
  unsigned expiry_warning_days; /* hotssl_expiry_warning_days in force */
  unsigned warnings;            /* HOTSSL_WARN_* bits, as of when the stats were taken */
  /* ssl_sni: entries of the hosts file served by the current generation
   * (0 when off or empty); iterate them with hotssl_generation_host_stats
   * on an acquired generation. */
  uint32_t sni_hosts;
} hotssl_stats;

/* Problems that do not stop a load (each logged as a WARNING at load and
 * reload) but that an operator should see: hotssl_stats.warnings. */
enum {
  HOTSSL_WARN_EXPIRED = 1 << 0,        /* the certificate has expired */
  HOTSSL_WARN_NOT_YET_VALID = 1 << 1,  /* its not-before is in the future */
  HOTSSL_WARN_EXPIRING = 1 << 2,       /* expires within hotssl_expiry_warning_days */
  HOTSSL_WARN_WEAK_KEY = 1 << 3,       /* RSA under 2048 bits, EC under 224 */
  HOTSSL_WARN_CHAIN = 1 << 4,          /* a certificate after the leaf did not
                                          issue the one before it, or is no CA */
  HOTSSL_WARN_CRL_STALE = 1 << 5       /* a CRL's next update is past or within
                                          hotssl_expiry_warning_days */
};

HOTSSL_EXTERN int hotssl_manager_stats(hotssl_manager *m, hotssl_stats *out);

/*
 * ssl_sni (a hosts file in PostgreSQL's pg_hosts.conf format): one entry of
 * the hosts file as generation g serves it. Iterate i from 0 while the call
 * returns 0 (HOTSSL_EINVAL past the last entry); hold g (acquire/release)
 * for the whole iteration so every entry comes from the same generation.
 */
typedef struct hotssl_host_stats {
  unsigned line;        /* line of the entry in the hosts file */
  int is_default;       /* the "*" entry */
  int is_no_sni;        /* "/no_sni/" is among its names */
  int has_ca;           /* the entry has a ca_file (client certificates) */
  uint32_t n_names;     /* server names, "@file" names included */
  char names[1024];     /* comma-separated, lower case; ends in "..." when cut */
  /* The entry's certificate: subject, issuer, serial, not_before,
   * not_after, not_after_unix, sha256 (the counters are 0). */
  hotssl_stats cert;
} hotssl_host_stats;

HOTSSL_EXTERN uint32_t hotssl_generation_host_count(const hotssl_generation *g);
HOTSSL_EXTERN int hotssl_generation_host_stats(const hotssl_generation *g, uint32_t i,
                                               hotssl_host_stats *out);

/*
 * Typed items (the growth path of the statistics, as curl_easy_getinfo).
 * An item's value encodes its type (HOTSSL_INFO_TYPE_MASK):
 *   HOTSSL_INFO_TYPE_U64:    out is a uint64_t, outlen sizeof(uint64_t);
 *   HOTSSL_INFO_TYPE_I64:    out is an int64_t, outlen sizeof(int64_t);
 *   HOTSSL_INFO_TYPE_STRING: out is a char buffer of outlen bytes; text
 *                            that does not fit fails with HOTSSL_ENOMEM and
 *                            leaves "" (never a cut value);
 *   HOTSSL_INFO_TYPE_OS_FD:  out is a hotssl_os_fd, outlen sizeof(hotssl_os_fd).
 * Returns 0, HOTSSL_EINVAL (a NULL argument, outlen not the type's size,
 * a host index past the last entry) or HOTSSL_ENOTSUP (an item this library
 * does not know, or one that does not belong to the object asked: a newer
 * item on an older library). Values never change meaning; new items take
 * new numbers. Each item below names the hotssl_stats / hotssl_host_stats
 * field it mirrors, and where it can be asked:
 *   M: hotssl_manager_info (the manager; certificate items from the
 *      generation current during the call),
 *   G: hotssl_generation_info (one generation: consistent across calls
 *      while it is held),
 *   H: hotssl_generation_host_info (one ssl_sni hosts file entry of a
 *      generation; certificate items are the entry's certificate).
 */
#define HOTSSL_INFO_TYPE_U64 0x100000
#define HOTSSL_INFO_TYPE_I64 0x200000
#define HOTSSL_INFO_TYPE_STRING 0x300000
#define HOTSSL_INFO_TYPE_OS_FD 0x400000
#define HOTSSL_INFO_TYPE_MASK 0xf00000

typedef enum hotssl_info {
  /* Manager (M) */
  HOTSSL_INFO_RELOADS_ATTEMPTED = HOTSSL_INFO_TYPE_U64 + 1, /* reloads_attempted */
  HOTSSL_INFO_RELOADS_SUCCEEDED = HOTSSL_INFO_TYPE_U64 + 2, /* reloads_succeeded */
  HOTSSL_INFO_RELOADS_UNCHANGED = HOTSSL_INFO_TYPE_U64 + 3, /* reloads_unchanged */
  HOTSSL_INFO_RELOADS_FAILED = HOTSSL_INFO_TYPE_U64 + 4,    /* reloads_failed */
  HOTSSL_INFO_LAST_ERROR = HOTSSL_INFO_TYPE_STRING + 5,     /* last_error */
  HOTSSL_INFO_WAKEUP_HANDLE = HOTSSL_INFO_TYPE_OS_FD + 6,   /* hotssl_manager_wakeup_handle */
  /* Generation (M, G; H: the entry's, with its generation's number) */
  HOTSSL_INFO_GENERATION = HOTSSL_INFO_TYPE_U64 + 20,          /* generation */
  HOTSSL_INFO_SUBJECT = HOTSSL_INFO_TYPE_STRING + 21,          /* subject */
  HOTSSL_INFO_ISSUER = HOTSSL_INFO_TYPE_STRING + 22,           /* issuer */
  HOTSSL_INFO_SERIAL = HOTSSL_INFO_TYPE_STRING + 23,           /* serial */
  HOTSSL_INFO_NOT_BEFORE = HOTSSL_INFO_TYPE_STRING + 24,       /* not_before */
  HOTSSL_INFO_NOT_AFTER = HOTSSL_INFO_TYPE_STRING + 25,        /* not_after */
  HOTSSL_INFO_SHA256 = HOTSSL_INFO_TYPE_STRING + 26,           /* sha256 */
  HOTSSL_INFO_KEY_TYPE = HOTSSL_INFO_TYPE_STRING + 27,         /* key_type */
  HOTSSL_INFO_NOT_BEFORE_UNIX = HOTSSL_INFO_TYPE_I64 + 28,     /* not_before_unix */
  HOTSSL_INFO_NOT_AFTER_UNIX = HOTSSL_INFO_TYPE_I64 + 29,      /* not_after_unix */
  HOTSSL_INFO_SECONDS_LEFT = HOTSSL_INFO_TYPE_I64 + 30,        /* seconds_left (at the call) */
  HOTSSL_INFO_KEY_BITS = HOTSSL_INFO_TYPE_U64 + 31,            /* key_bits */
  HOTSSL_INFO_CHAIN_LENGTH = HOTSSL_INFO_TYPE_U64 + 32,        /* chain_length */
  HOTSSL_INFO_CA_COUNT = HOTSSL_INFO_TYPE_U64 + 33,            /* ca_count */
  HOTSSL_INFO_CRL_ENTRIES = HOTSSL_INFO_TYPE_U64 + 34,         /* crl_entries */
  HOTSSL_INFO_CRL_NEXT_UPDATE_UNIX = HOTSSL_INFO_TYPE_I64 + 35, /* crl_next_update_unix */
  HOTSSL_INFO_EXPIRY_WARNING_DAYS = HOTSSL_INFO_TYPE_U64 + 36, /* expiry_warning_days */
  HOTSSL_INFO_WARNINGS = HOTSSL_INFO_TYPE_U64 + 37,            /* warnings (HOTSSL_WARN_*) */
  HOTSSL_INFO_SNI_HOSTS = HOTSSL_INFO_TYPE_U64 + 38,           /* sni_hosts (M, G only) */
  /* Hosts file entry (H) */
  HOTSSL_INFO_HOST_LINE = HOTSSL_INFO_TYPE_U64 + 60,       /* line */
  HOTSSL_INFO_HOST_IS_DEFAULT = HOTSSL_INFO_TYPE_U64 + 61, /* is_default */
  HOTSSL_INFO_HOST_IS_NO_SNI = HOTSSL_INFO_TYPE_U64 + 62,  /* is_no_sni */
  HOTSSL_INFO_HOST_HAS_CA = HOTSSL_INFO_TYPE_U64 + 63,     /* has_ca */
  HOTSSL_INFO_HOST_N_NAMES = HOTSSL_INFO_TYPE_U64 + 64,    /* n_names */
  HOTSSL_INFO_HOST_NAMES = HOTSSL_INFO_TYPE_STRING + 65,   /* names (as hotssl_host_stats) */
  /* Session tickets (M, G; docs/session-resumption.md). The counters are
   * the manager's (every generation it built), in this process. */
  HOTSSL_INFO_TICKETS = HOTSSL_INFO_TYPE_U64 + 100,            /* 1: hotssl_session_tickets on */
  HOTSSL_INFO_TICKET_KEYS = HOTSSL_INFO_TYPE_U64 + 101,        /* keys that decrypt */
  HOTSSL_INFO_TICKET_KEY_NAME = HOTSSL_INFO_TYPE_STRING + 102, /* encrypting key's name, hex */
  HOTSSL_INFO_TICKET_KEY_AGE = HOTSSL_INFO_TYPE_I64 + 103,     /* its age, seconds */
  HOTSSL_INFO_TICKETS_ISSUED = HOTSSL_INFO_TYPE_U64 + 104,     /* tickets written */
  HOTSSL_INFO_TICKETS_RESUMED = HOTSSL_INFO_TYPE_U64 + 105,    /* tickets accepted */
  HOTSSL_INFO_TICKETS_REJECTED = HOTSSL_INFO_TYPE_U64 + 106,   /* tickets refused: full handshake */
  HOTSSL_INFO_TICKET_KEY_SOURCE = HOTSSL_INFO_TYPE_STRING + 107, /* "off", "generated", or the
                                                                  key file's format */
  /* Metrics (M only; no hotssl_stats field) */
  /* Unix time the last reported reload attempt ended, whatever its result; 0: none yet. */
  HOTSSL_INFO_LAST_RELOAD_UNIX = HOTSSL_INFO_TYPE_I64 + 140,
  /* Unix time the served generation was published (at start: loaded). */
  HOTSSL_INFO_LAST_SUCCESS_UNIX = HOTSSL_INFO_TYPE_I64 + 141,
  /* 1 when the files on disk would give a different generation than the
   * one served (or none: a bad file), else 0. Checked at the call with the
   * manager's file memos (an unchanged file costs an open and an fstat;
   * nothing is parsed); waits for a reload in progress. */
  HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK = HOTSSL_INFO_TYPE_U64 + 142,
  /* Live revocation and diagnostics (M) */
  /* The descriptor of the generation-change counter's page (Linux: a
   * sealed memfd), owned by the manager, to hand to a process the host
   * starts itself (hotssl_manager_attach_generation_counter there);
   * HOTSSL_OS_FD_INVALID when there is none (other systems, a fork child,
   * a backend). */
  HOTSSL_INFO_GENERATION_COUNTER_FD = HOTSSL_INFO_TYPE_OS_FD + 180
} hotssl_info;

/* item is a hotssl_info value (passed as int: an enum's size is the
 * compiler's choice, an int's is not). Thread rules: M any thread (takes
 * the manager's short lock for the M items, as hotssl_manager_stats); G
 * and H any thread, on a generation the caller holds. */
HOTSSL_EXTERN int hotssl_manager_info(hotssl_manager *m, int item, void *out, size_t outlen);
HOTSSL_EXTERN int hotssl_generation_info(const hotssl_generation *g, int item, void *out,
                                         size_t outlen);
HOTSSL_EXTERN int hotssl_generation_host_info(const hotssl_generation *g, uint32_t i, int item,
                                              void *out, size_t outlen);

/*
 * Deployment diagnostics: set-ups that load but can never reload, or that
 * refuse every client (docs/live-revocation.md#deployment-diagnostics).
 * Logs one WARNING per finding through m's log callback, each with its fix:
 * a configured file that is a bind mount of a single file (Kubernetes
 * subPath: /proc/self/mountinfo), a file or folder on a filesystem where
 * inotify misses changes made elsewhere (NFS, CIFS, FUSE, overlay), a
 * root-owned private key readable by its group, and, when CRLs are
 * configured, a CA certificate of ssl_ca_file without a CRL from it or
 * whose issuer is missing (every client through it would be refused).
 * Returns the number of warnings (0: none) or HOTSSL_EINVAL. Any thread;
 * reads the files' metadata, not their contents. `hotssl check` and
 * `hotssl serve` call it at start. POSIX; on Windows only the CRL checks.
 */
HOTSSL_EXTERN int hotssl_manager_diagnose(hotssl_manager *m);

/*
 * The manager's metrics in the Prometheus text exposition format, version
 * 0.0.4 (Content-Type: text/plain; version=0.0.4), for a host to serve on
 * its own endpoint: the families and their meaning are in docs/operating.md.
 * buf gets the text, NUL-terminated; *needed (may be NULL) gets the bytes
 * it takes with its NUL. Returns 0, HOTSSL_ENOMEM when len is smaller than
 * that (buf then holds "": call again with *needed bytes) or the text could
 * not be allocated, HOTSSL_EINVAL when m is NULL or buf is NULL with
 * len > 0 (buf NULL, len 0 asks for the size only: HOTSSL_ENOMEM and
 * *needed). Any thread; it runs the served-versus-disk check
 * (HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK), so it waits for a reload in
 * progress.
 */
HOTSSL_EXTERN int hotssl_manager_metrics(hotssl_manager *m, char *buf, size_t len,
                                         size_t *needed);

HOTSSL_EXTERN const char *hotssl_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* HOTSSL_HOTSSL_H */
