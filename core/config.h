/*
 * Configurations and settings (core/config.c): the settings X-macro, the
 * contents of hotssl_config, the parse helpers, and hotssl__settings (the
 * settings checked and turned into values the builder uses).
 */
#ifndef HOTSSL_CORE_CONFIG_H
#define HOTSSL_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define HOTSSL__DEFAULT_MAX_FILE_SIZE (10u * 1024u * 1024u)

/* hotssl_crl_stale: what a CRL past its nextUpdate does to the client
 * certificates checked against it. */
enum { HOTSSL__CRL_STALE_REFUSE = 0, HOTSSL__CRL_STALE_WARN = 1, HOTSSL__CRL_STALE_IGNORE = 2 };

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
  X(SESSION_TICKETS, "hotssl_session_tickets", "off")        \
  X(TICKET_KEY_FILE, "hotssl_ticket_key_file", "")           \
  X(TICKET_LIFETIME, "hotssl_ticket_lifetime", "7200")       \
  X(WATCH, "hotssl_watch", "on")                             \
  X(DEBOUNCE_MS, "hotssl_debounce_ms", "150")                \
  X(RETRY_WINDOW_MS, "hotssl_retry_window_ms", "2000")       \
  X(POLL_INTERVAL_MS, "hotssl_poll_interval_ms", "1000")     \
  X(EXPIRY_WARNING_DAYS, "hotssl_expiry_warning_days", "30") \
  X(CRL_STALE, "hotssl_crl_stale", "refuse")

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
/* hotssl_crl_stale's value ("refuse", "warn", "ignore") as HOTSSL__CRL_STALE_*;
 * -1 if invalid. */
int hotssl__crl_stale_value(const char *v);
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
  int crl_stale;            /* hotssl_crl_stale: HOTSSL__CRL_STALE_* */
  uint64_t max_file_size;
  int sni;                  /* ssl_sni (core/hosts.c, core/sni.c) */
  char *hosts_file;         /* absolute, when sni is on */
  int tickets;              /* hotssl_session_tickets (core/tickets.c) */
  char *ticket_key_file;    /* hotssl_ticket_key_file, absolute or NULL (keys generated) */
  uint32_t ticket_lifetime; /* hotssl_ticket_lifetime, seconds */
  char *canonical;          /* normalized text of all TLS settings: fingerprinted */
  int keep_crl_walk;        /* the config's (not a setting, not fingerprinted) */
} hotssl__settings;

int hotssl__settings_from_config(hotssl__settings *s, const hotssl_config *cfg,
                                 char *errbuf, size_t errlen);
void hotssl__settings_free(hotssl__settings *s);

#endif /* HOTSSL_CORE_CONFIG_H */
