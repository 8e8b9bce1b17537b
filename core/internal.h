/*
 * Internal declarations of core/, shared with the layers above it
 * (platform/, watcher/, cli/, tests); it includes the OS layer's interface
 * (os/os.h), which knows nothing of this file. Never installed. Names carry
 * the hotssl__ prefix.
 *
 * Data flows one way: hotssl__settings (parsed config) -> hotssl__inputs
 * (file bytes + metadata, read by the loader) -> hotssl__generation (mbedTLS
 * objects, built and validated by the builder) -> published by the manager.
 */
#ifndef HOTSSL_CORE_INTERNAL_H
#define HOTSSL_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "hotssl/hotssl.h"
#include "../os/os.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  define HOTSSL__MBEDTLS3 1
#else
#  define HOTSSL__MBEDTLS3 0
#endif

/* Supported mbedTLS: the 2.28 LTS (compatibility) and 3.6 LTS from 3.6.6 on
 * (3.6.6 is the first whose PSA random generator can be reseeded explicitly
 * after fork(): psa_random_reseed). */
#if MBEDTLS_VERSION_NUMBER < 0x021C0000 || \
    (MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03060600)
#  error "hotssl needs mbedTLS 2.28 or 3.6.6 and later (3.6 LTS)"
#endif
/* A generation's DRBG is used by every connection thread at once: mbedTLS
 * must lock it. Without MBEDTLS_THREADING_C it
 * would share an unlocked DRBG silently. */
#if !defined(MBEDTLS_THREADING_C)
#  error "hotssl needs mbedTLS built with MBEDTLS_THREADING_C (and MBEDTLS_THREADING_PTHREAD on POSIX)"
#endif

#define HOTSSL__ERRLEN 512
#define HOTSSL__DEFAULT_MAX_FILE_SIZE (10u * 1024u * 1024u)
#define HOTSSL__MAX_CRL_DIR_FILES 4096

/* ---- small utilities (core/util.c; the text and path helpers are the OS
 * layer's, os/os.h) ---- */

/* "mbedTLS error text (-0x2700)" */
void hotssl__mbedtls_err(char *buf, size_t len, int ret);
void hotssl__sha256(const unsigned char *data, size_t len, unsigned char out[32]);
/* mbedtls_x509_time as Unix seconds (UTC). */
int64_t hotssl__x509_time_unix(const mbedtls_x509_time *t);

/* ---- settings (core/config.c) ---- */

typedef enum hotssl__client_cert {
  HOTSSL__CLIENT_CERT_OFF = 0,
  HOTSSL__CLIENT_CERT_OPTIONAL = 1,
  HOTSSL__CLIENT_CERT_REQUIRE = 2
} hotssl__client_cert;

/* The default group order, chosen by measurement (README, "TLS 1.3"). */
#define HOTSSL__DEFAULT_GROUPS "X25519:prime256v1"

/* Names of every setting, in a fixed order; the array index is the id. */
#define HOTSSL__SETTINGS(X)                                  \
  X(SSL, "ssl", "on")                                        \
  X(SSL_CERT_FILE, "ssl_cert_file", "server.crt")            \
  X(SSL_KEY_FILE, "ssl_key_file", "server.key")              \
  X(SSL_CA_FILE, "ssl_ca_file", "")                          \
  X(SSL_CRL_FILE, "ssl_crl_file", "")                        \
  X(SSL_CRL_DIR, "ssl_crl_dir", "")                          \
  X(SSL_CIPHERS, "ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL")  \
  X(SSL_TLS13_CIPHERS, "ssl_tls13_ciphers", "")              \
  X(SSL_GROUPS, "ssl_groups", HOTSSL__DEFAULT_GROUPS)        \
  X(SSL_ECDH_CURVE, "ssl_ecdh_curve", "")                    \
  X(SSL_MIN_PROTO, "ssl_min_protocol_version", "TLSv1.2")    \
  X(SSL_MAX_PROTO, "ssl_max_protocol_version", "")           \
  X(SSL_DH_PARAMS_FILE, "ssl_dh_params_file", "")            \
  X(SSL_PREFER_SERVER_CIPHERS, "ssl_prefer_server_ciphers", "on") \
  X(SSL_PASS_CMD, "ssl_passphrase_command", "")              \
  X(SSL_PASS_RELOAD, "ssl_passphrase_command_supports_reload", "off") \
  X(PASS_TIMEOUT_MS, "hotssl_passphrase_timeout_ms", "30000") \
  X(SSL_CLIENT_CERT, "ssl_client_cert", "")                  \
  X(REFUSE_EXPIRED, "hotssl_refuse_expired", "off")          \
  X(SSL_SNI, "ssl_sni", "off")                               \
  X(SSL_HOSTS_FILE, "ssl_hosts_file", "pg_hosts.conf")       \
  X(MAX_FILE_SIZE, "hotssl_max_file_size", "10485760")       \
  X(WATCH, "hotssl_watch", "on")                             \
  X(DEBOUNCE_MS, "hotssl_debounce_ms", "150")                \
  X(RETRY_WINDOW_MS, "hotssl_retry_window_ms", "2000")       \
  X(POLL_INTERVAL_MS, "hotssl_poll_interval_ms", "1000")     \
  X(EXPIRY_WARNING_DAYS, "hotssl_expiry_warning_days", "30")

enum {
#define HOTSSL__SET_ENUM(id, name, def) HOTSSL__S_##id,
  HOTSSL__SETTINGS(HOTSSL__SET_ENUM)
#undef HOTSSL__SET_ENUM
  HOTSSL__S_COUNT
};

struct hotssl_config {
  char *value[HOTSSL__S_COUNT]; /* NULL: default */
  char *base_dir;               /* NULL: current directory */
  char *source_file;            /* absolute path of the conf file, or NULL */
  unsigned load_flags;          /* HOTSSL_LOAD_* of hotssl_config_load_file_ex */
  /* Files and folders the configuration file included (include,
   * include_if_exists, include_dir), absolute: the watcher watches them. */
  char **included;
  size_t n_included;
  /* Tests and benchmarks only (hotssl__config_keep_crl_walk): generations
   * keep the parsed CRL set beside the revocation table, for the walk. */
  int keep_crl_walk;
};

/* Make the generations of managers created from cfg (and its reloads) keep
 * the parsed CRL set, so that the CRL walk (hotssl__generation_use_mbedtls_crl,
 * hotssl__verify_chain's walk) can answer. Without it a generation holds the
 * revocation table only. */
void hotssl__config_keep_crl_walk(hotssl_config *cfg);

int hotssl__config_copy(hotssl_config **out, const hotssl_config *src);
/* Value after defaults; never NULL. */
const char *hotssl__config_value(const hotssl_config *cfg, int id);
/* Re-read cfg->source_file into a fresh config (for reloads). */
int hotssl__config_reread(const hotssl_config *cfg, hotssl_config **out,
                          char *errbuf, size_t errlen);
/* Parse "on/off/true/false/yes/no/1/0". -1 if invalid. */
int hotssl__parse_bool(const char *s);
/* Parse a non-negative integer with an upper bound. -1 if invalid. */
int hotssl__parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Settings checked and turned into values the builder uses. */
typedef struct hotssl__settings {
  char *cert_file, *key_file, *ca_file, *crl_file, *crl_dir; /* absolute or NULL */
  char *dh_file;            /* ssl_dh_params_file, absolute or NULL (mbedTLS's group) */
  int prefer_server_ciphers; /* ssl_prefer_server_ciphers (off: a warning, README) */
  char *passphrase_command;                                  /* or NULL */
  int passphrase_supports_reload;
  unsigned passphrase_timeout_ms; /* 0: no limit */
  int *ciphersuites;        /* 0-terminated, or NULL for mbedTLS defaults */
  uint16_t *groups;         /* IANA group ids, 0-terminated */
  int min_minor, max_minor; /* mbedTLS minor version numbers (3 = TLS 1.2) */
  hotssl__client_cert client_cert;
  int refuse_expired;
  unsigned expiry_warning_days; /* 0: no "expires soon" warnings */
  uint64_t max_file_size;
  int sni;                  /* ssl_sni (issue 13, core/hosts.c) */
  char *hosts_file;         /* absolute, when sni is on */
  char *canonical;          /* normalized text of all TLS settings: fingerprinted */
  int keep_crl_walk;        /* the config's (not a setting, not fingerprinted) */
} hotssl__settings;

int hotssl__settings_from_config(hotssl__settings *s, const hotssl_config *cfg,
                                 char *errbuf, size_t errlen);
void hotssl__settings_free(hotssl__settings *s);

/* TLS settings (core/tls_settings.c). */
int hotssl__parse_tls13_ciphers(const char *v, int **out, char *errbuf, size_t errlen);
/* *tls12 (ssl_ciphers, NULL: defaults) becomes the list mbedTLS is given:
 * the TLS 1.2 part then the TLS 1.3 part (tls13, NULL: defaults; consumed). */
int hotssl__merge_ciphersuites(int **tls12, int *tls13, char *errbuf, size_t errlen);
int hotssl__parse_groups(const char *param, const char *v, uint16_t **out,
                         char *errbuf, size_t errlen);
const char *hotssl__group_name(uint16_t id);
/* psa_crypto_init() (mbedTLS 3.x), once per process; 0 or HOTSSL_ETLS. */
int hotssl__psa_init(void);

/* ---- files as the loader holds them (core/util.c, on os/os.h's read) ---- */

typedef struct hotssl__blob {
  unsigned char *data; /* NUL-terminated (data[len] == 0); zeroized on free */
  size_t len;
  char *path;          /* as opened, absolute */
  hotssl__file_id id;  /* of the open descriptor */
  int64_t seen_ns;     /* wall clock just before the fstat that gave id */
  unsigned char sha256[32]; /* of the content (read, or known unchanged) */
} hotssl__blob;

/* hotssl__os_file_read (os/os.h) into b, and the hash of what was read.
 * path is kept (a copy) when the file exists. When skip_if is given and the
 * descriptor's identity equals it, nothing is read: b->data stays NULL and
 * b->sha256 is left for the caller to fill (HOTSSL__BLOB_UNREAD). */
int hotssl__file_read(const char *path, unsigned flags, uint64_t max_size,
                      const hotssl__file_id *skip_if, hotssl__blob *out, char *errbuf,
                      size_t errlen);
void hotssl__blob_free(hotssl__blob *b);
/* Sorted list of names in dir that look like OpenSSL hashed CRL names
 * (xxxxxxxx.rN), at most HOTSSL__MAX_CRL_DIR_FILES. malloc'ed array of
 * malloc'ed strings. */
int hotssl__crl_dir_list(const char *dir, char ***names, size_t *count,
                         char *errbuf, size_t errlen);
/* The same for an include_dir: names ending in ".conf", not starting with
 * a dot. */
int hotssl__conf_dir_list(const char *dir, char ***names, size_t *count,
                          char *errbuf, size_t errlen);

/* ---- inputs: the bytes of one configuration (core/inputs.c) ---- */

/* A snapshot's certificate list: (u32 big-endian length | DER certificate)
 * repeated, parsed as DER one by one. Which of an input's certificate
 * blobs hold one (the others hold a file's bytes, PEM or DER). */
typedef struct hotssl__der_lists {
  unsigned char cert, ca;
} hotssl__der_lists;

typedef struct hotssl__inputs {
  hotssl__settings s;
  hotssl__blob cert, key, ca, crl; /* unset ones have data == NULL */
  hotssl__blob dh;                 /* ssl_dh_params_file (always read: no memo) */
  unsigned char fp_dh[32];
  int dh_checked;                  /* a snapshot's: the parent checked these bytes */
  hotssl__blob *crl_dir_files;
  size_t n_crl_dir_files;
  unsigned char fingerprint[32]; /* over settings + all bytes */
  unsigned char fp_cert[32], fp_key[32], fp_ca[32], fp_crl[32];
  /* A spawn snapshot's CRL set: the parent's revocation table (in place of
   * crl / crl_dir_files), with its entry count and earliest next update. */
  struct hotssl__revocation *rev;
  uint64_t crl_entries;
  int64_t crl_next_update;
  void *spawn_lock; /* the manager's (for the passphrase command), or NULL */
  /* Parsed objects the builder may reuse besides the previous generation's
   * (the manager's recently replaced certificate and key), or NULL. */
  struct hotssl__shared *const *recent;
  size_t n_recent;
  /* ssl_sni (core/hosts.h): the hosts file's entries, NULL when off. */
  struct hotssl__hosts_in *hosts;
  /* Build without an own certificate (SNI: nothing serves a connection
   * without a server name); cert/key still name some entry's pair. */
  int no_own_cert;
  /* Set when cert / ca hold a snapshot's DER list (core/snapshot.c) rather
   * than a file's bytes. */
  hotssl__der_lists der_list;
} hotssl__inputs;

int hotssl__inputs_load(hotssl__inputs *in, const hotssl_config *cfg,
                        char *errbuf, size_t errlen);

/* What a manager remembers of the files it read (its last load), so that a
 * reload reads and hashes only files whose identity changed (git's index
 * does the same). A memo is trusted only when the file's mtime and ctime
 * were older than HOTSSL__RACY_NS when it was recorded: a file changed
 * within its timestamp tick could otherwise keep the same identity with
 * different bytes ("racily clean" in git), so such a file is hashed again
 * at every load until it is old enough. The margin also absorbs a file
 * server's clock running up to that much behind ours. Touched under
 * build_lock only. */
#define HOTSSL__RACY_NS (2 * 1000000000LL)
typedef struct hotssl__file_memo {
  char *path;
  hotssl__file_id id;
  int64_t seen_ns;
  unsigned char sha256[32];
} hotssl__file_memo;
typedef struct hotssl__file_memos {
  hotssl__file_memo *v;
  size_t n;
} hotssl__file_memos;
void hotssl__file_memos_free(hotssl__file_memos *m);
/* 1 if memo may stand for the file's content without reading it. */
int hotssl__file_memo_trusted(const hotssl__file_memo *memo);
/* hotssl__inputs_load, reading only files whose identity differs from a
 * trusted memo (memos may be NULL; memos cover the hosts entries' files
 * too, one memo per path). A file skipped that way keeps its
 * memo's hash, and is only skipped when the builder will reuse the parsed
 * object of cur (may be NULL) for it, so the builder never needs bytes that
 * were not read. Afterwards memos describe exactly the files of in. */
int hotssl__inputs_load_memo(hotssl__inputs *in, const hotssl_config *cfg,
                             hotssl__file_memos *memos, const hotssl_generation *cur,
                             char *errbuf, size_t errlen);
/* Its two halves. load_files reads (skipping what a trusted memo
 * describes) and takes every file's hash; with ssl_sni it also loads the
 * hosts file and every entry (core/hosts.c), each entry settled against
 * its lender in cur. On failure in is freed. settle re-reads each skipped
 * file whose parsed object cur will not lend after all, then takes the
 * fingerprint; on failure the caller frees in. load_memo then replaces
 * memos with every file of in, its entries' included. */
int hotssl__inputs_load_files(hotssl__inputs *in, const hotssl_config *cfg,
                              const hotssl__file_memos *memos, const hotssl_generation *cur,
                              char *errbuf, size_t errlen);
int hotssl__inputs_settle(hotssl__inputs *in, const hotssl_generation *cur, char *errbuf,
                          size_t errlen);
/* A blob with a path but no data is one the loader did not read: its
 * identity matched a trusted memo, whose hash it carries. Every other blob
 * that names a file holds its bytes. */
#define HOTSSL__BLOB_UNREAD(b) ((b).data == NULL && (b).path != NULL)
/* 1 if b holds a file (read, or unread and known), 0 if none is configured. */
#define HOTSSL__BLOB_SET(b) ((b).data != NULL || (b).path != NULL)
void hotssl__inputs_free(hotssl__inputs *in);

/* ---- generations (core/generation.c) ---- */

/* Parsed objects shared between generations whose bytes are identical. */
typedef struct hotssl__shared {
  atomic_uint refs;
  unsigned char fp[32];
  int kind; /* 0 crt, 1 pk, 2 crl */
  union {
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    mbedtls_x509_crl crl;
  } u;
  /* kind crl: the revocation table built from u.crl (core/revocation.h),
   * checked by the verify callback instead of mbedTLS's CRL walk. */
  struct hotssl__revocation *revocation;
  /* kind pk: fingerprint of the certificate file this key was checked
   * against (mbedtls_pk_check_pair) by the build that parsed it; a later
   * build pairing the same bytes again skips that check. Written once,
   * before the object is shared. */
  unsigned char paired_cert_fp[32];
  int paired;
  /* kind crl: entries and earliest next update of the set (stats), counted
   * once when parsed, not at every build that reuses it. */
  uint64_t crl_entries;
  int64_t crl_next_update;
} hotssl__shared;

void hotssl__shared_release(hotssl__shared *o);

struct hotssl_generation {
  atomic_uint refs;
  uint64_t number;
  unsigned char fingerprint[32];
  hotssl__shared *cert, *key, *ca, *crl; /* ca/crl may be NULL */
  int *ciphersuites;
#if HOTSSL__MBEDTLS3
  uint16_t *groups; /* IANA ids, 0-terminated: mbedtls_ssl_conf_groups */
#else
  mbedtls_ecp_group_id *groups; /* MBEDTLS_ECP_DP_NONE-terminated */
#endif
  hotssl__client_cert client_cert;
  /* ssl_dh_params_file: the file's bytes as read (a snapshot carries them),
   * their fingerprint (a build with the same bytes skips the primality
   * tests) and the size of p; NULL: mbedTLS's default group. */
  unsigned char *dh_bytes;
  size_t dh_len;
  unsigned char dh_fp[32];
  unsigned dh_bits;
  int prefer_server_ciphers; /* ssl_prefer_server_ciphers as set */
  int crl_walk; /* 1: the CRL walk instead of the revocation table (tests, bench) */
  mbedtls_ctr_drbg_context drbg;
  /* Fork safety by construction: the process id the DRBG was seeded in,
   * compared on every use; a mismatch (a forked child that made no
   * after-fork call) re-creates the DRBG before any byte is produced.
   * rng_lock: 0, or the id of the process one of whose threads is
   * re-creating it (a stale holder from another process is taken over). */
  _Atomic long rng_pid;
  _Atomic long rng_lock;
  mbedtls_ssl_config conf;
  hotssl_stats cert_info; /* subject..sha256 filled */
  struct hotssl__hosts *hosts; /* ssl_sni entries (core/hosts.h), or NULL */
};

typedef struct hotssl__log {
  hotssl_log_fn fn;
  void *ud;
} hotssl__log;

void hotssl__logf(const hotssl__log *log, hotssl_log_level level,
                  const char *fmt, ...) HOTSSL__PRINTF(3, 4);

/* Warnings about settings g was built with that this mbedTLS build cannot
 * honour (ssl_prefer_server_ciphers = off with mbedTLS 2.28): logged by the
 * manager at start and at each reload that builds. */
void hotssl__generation_config_warnings(const hotssl_generation *g, const hotssl__log *log);

/* Build and validate a generation from inputs. prev (may be NULL) lends
 * parsed objects with identical bytes. is_reload chooses passphrase rules.
 * Warnings (expiry) go to log. */
int hotssl__generation_build(hotssl_generation **out, hotssl__inputs *in,
                             const hotssl_generation *prev, int is_reload,
                             uint64_t number, const hotssl__log *log,
                             char *errbuf, size_t errlen);
void hotssl__generation_free(hotssl_generation *g);
/* Re-create g's DRBG in place from fresh entropy without touching the
 * inherited (possibly locked) mutexes, personalized with the process, the
 * clocks and count; records the current process id. Only for a process in
 * which the DRBG has not been re-created yet (core/generation.c's random
 * callback, platform/posix/fork.c's after-fork calls). */
int hotssl__generation_rng_recreate(hotssl_generation *g, unsigned count);
/* Time-dependent HOTSSL_WARN_* bits of g at now (Unix seconds): expired, not
 * yet valid, expiring within hotssl_expiry_warning_days, CRL next update
 * past or near. Logs one WARNING line for "expiring" and for the CRL when
 * log is not NULL (expired / not yet valid are logged by the build). */
unsigned hotssl__generation_time_warnings(const hotssl_generation *g, int64_t now,
                                          const hotssl__log *log);
/* One generation from in, ignoring in->hosts (core/hosts.c builds each
 * entry with it). */
int hotssl__generation_build_one(hotssl_generation **out, hotssl__inputs *in,
                                 const hotssl_generation *prev, int is_reload,
                                 uint64_t number, const hotssl__log *log,
                                 char *errbuf, size_t errlen);
/* From an SNI callback: make ssl's handshake use host's certificate, key,
 * CA set, client-certificate mode and verify callback. */
int hotssl__generation_select(mbedtls_ssl_context *ssl, const hotssl_generation *host);
/* Tests and benchmarks (bench/bench_crl.c): make g's verifier answer its CRL
 * questions with the walk (every CRL searched and its signature verified on
 * every handshake, as mbedTLS's own CRL check does) instead of the revocation
 * table. Call before any handshake uses g. HOTSSL_EINVAL when g's CRL set was
 * not kept parsed (create the manager from a config marked with
 * hotssl__config_keep_crl_walk). */
int hotssl__generation_use_mbedtls_crl(hotssl_generation *g);

/* ---- client-certificate verifier (core/verify.c) ---- */

/* The configuration's verify callback (ctx: the generation). */
int hotssl__verify_conf_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);
int hotssl__verify_rebind(mbedtls_ssl_context *ssl, const hotssl_generation *g);
/* Verify a presented chain (leaf first) as a handshake of g would, without
 * a connection: 1 refused (details in v), 0 accepted, or a negative code.
 * walk: answer CRL questions with the walk (HOTSSL_EINVAL when g's CRL set
 * was not kept parsed: hotssl__config_keep_crl_walk). */
int hotssl__verify_chain(const hotssl_generation *g, mbedtls_x509_crt *chain, int walk,
                         hotssl_client_verify *v);

/* ---- manager (core/manager.c) ---- */

struct hotssl_manager {
  /* Publication (see the comment above hotssl_manager_acquire). */
  /* Read-mostly by every acquire; the counters every acquire writes live on
   * their own cache lines so they do not evict `current`. */
  _Atomic(hotssl_generation *) current;
  atomic_uint epoch;
  char pad_before_readers_[64];
  atomic_uint readers[2];
  char pad_after_readers_[64];
  /* Test hook: called between the load and the increment in acquire. */
  void (*acquire_delay_hook)(void *);
  void *acquire_delay_arg;

  hotssl_config *cfg;
  hotssl__log log;
  hotssl_manager_options opts;
  hotssl__file_memos memos; /* under build_lock */
  /* The certificate and key of the generation last replaced, kept so that a
   * rotation back to them (A -> B -> A) does not parse and check them again.
   * Under build_lock. */
  hotssl__shared *recent[2];
  hotssl__wakeup wakeup;
  atomic_int reload_flag; /* lock-free: set from signal handlers */

  /* Locks, in this order when nested: build_lock, then reload_lock.
   * build_lock serializes reloads for their whole length (re-reading the
   * configuration, loading files, the passphrase command, parsing).
   * reload_lock guards the manager's state (cfg, counters, next_number,
   * last_error) and publication; it is only held for short steps, never
   * during a build, so snapshots, spawns, forks, stats and the watcher never
   * wait for a reload in progress. spawn_lock is held while a process is
   * created (hotssl_spawn's inheritable duplicates, the passphrase command),
   * so no child inherits another's descriptors. */
  void *build_lock, *build_pool;
  /* Reloads waiting for or holding build_lock (incremented before locking,
   * decremented after unlocking): 0 in a fork child means its copy of
   * build_lock is free. */
  atomic_int building;
  void *reload_lock;
  void *pool; /* apr pool for reload_lock */
  void *spawn_lock, *spawn_pool;

  /* Counts replacements of cfg by other settings (reload_with, a prefork
   * install): a watcher compares it at each turn and re-resolves its paths
   * when it moved. Read without a lock. */
  atomic_uint settings_changes;

  uint64_t next_number;
  uint64_t attempted, succeeded, unchanged, failed;
  char last_error[HOTSSL__ERRLEN];
  /* Expiry warnings repeated from the watcher's loop (hotssl__manager_expiry_tick):
   * when the last one was logged (Unix seconds; 0: never) and how often. */
  int64_t expiry_warned_at;
  int64_t expiry_repeat_s;

  /* Fork support (platform/posix/fork.c): before_fork counts forks (the
   * count personalizes each child's reseed) and holds reload_lock until
   * after_fork_parent / after_fork_child. */
  atomic_uint fork_count;
  int fork_locked;
};

void hotssl__manager_set_acquire_hook(hotssl_manager *m, void (*fn)(void *),
                                      void *arg);
/* Test hook of hotssl_prefork_check (platform/posix/fork.c): fn(arg) runs
 * after each copy of the snapshot out of shared memory, before the seqlock
 * re-check (a publication from the hook forces a retry). */
struct hotssl_prefork;
void hotssl__prefork_set_copy_hook(struct hotssl_prefork *p, void (*fn)(void *), void *arg);
/* hotssl_manager_reload with a choice: with (may be NULL: the manager's
 * settings) is what the build starts from (hotssl_manager_reload_with); it
 * becomes the manager's configuration on 0 or HOTSSL_UNCHANGED, and then
 * settings_changes counts up. When final is 0 a failure is neither
 * logged nor counted (the watcher retries inside its window and reports only
 * the last failure). errbuf gets the reason. */
int hotssl__manager_reload_ex(hotssl_manager *m, const hotssl_config *with,
                              hotssl_trigger trigger, int final, char *errbuf, size_t errlen);
/* The options' build_hook (if any) on g's served configuration: 0, or
 * HOTSSL_ECONFIG with "SSL build hook failed: <its text>" in errbuf. */
int hotssl__manager_build_hook(const hotssl_manager_options *opts, hotssl_generation *g,
                               uint64_t number, char *errbuf, size_t errlen);
/* Absolute paths the watcher must watch (cert, key, CA, CRL file, CRL dir,
 * the configuration file), from the current configuration and, when it came
 * from a file, from that file as it is on disk now. malloc'ed array of
 * malloc'ed strings; free with hotssl__manager_watch_paths_free. Takes
 * reload_lock. Returns 0 or HOTSSL_ENOMEM. */
int hotssl__manager_watch_paths(hotssl_manager *m, char ***paths, size_t *n);
void hotssl__manager_watch_paths_free(char **paths, size_t n);
/* Spawned backends and prefork workers (core/snapshot.c, platform/):
 * create a manager whose first generation is built from in (already loaded,
 * e.g. decoded from a snapshot; NULL: load from cfg) with the given number;
 * is_reload picks the passphrase rules (a backend re-reading an encrypted
 * key follows PostgreSQL's EXEC_BACKEND rule: reload rules). in is freed. */
int hotssl__manager_create_with(hotssl_manager **out, const hotssl_config *cfg,
                                hotssl__inputs *in, uint64_t number, int is_reload,
                                const hotssl_manager_options *opts, char *errbuf,
                                size_t errlen);
/* Publish an already built generation g (takes the caller's reference), e.g.
 * a prefork worker's rebuild from the parent's snapshot; cfg (may be NULL)
 * becomes the manager's configuration. Takes reload_lock; logs one line. */
void hotssl__manager_install(hotssl_manager *m, hotssl_generation *g, hotssl_config *cfg);

/* Repeat the expiry warnings of the served generation (certificate expiring
 * within hotssl_expiry_warning_days, CRL next update near or past) when the
 * last ones were logged expiry_repeat_s (default one day) ago or more; a
 * load or reload that logs them resets the clock. Called by the watcher's
 * loop. Returns the milliseconds until it wants to run again. */
int hotssl__manager_expiry_tick(hotssl_manager *m);
/* Tests: repeat every `seconds` instead of once a day. */
void hotssl__manager_set_expiry_repeat(hotssl_manager *m, int64_t seconds);

#endif /* HOTSSL_CORE_INTERNAL_H */
