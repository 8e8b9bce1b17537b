/*
 * Small utilities of core/ (core/util.c): mbedTLS error texts, hashing,
 * certificate times, and files as the loader holds them (on os/os.h's
 * read). The text and path helpers are the OS layer's (os/os.h).
 */
#ifndef HOTSSL_CORE_UTIL_H
#define HOTSSL_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509.h>

#include "../os/os.h"
#include "internal.h"

#define HOTSSL__MAX_CRL_DIR_FILES 4096

/* "mbedTLS error text (-0x2700)" */
void hotssl__mbedtls_err(char *buf, size_t len, int ret);
void hotssl__sha256(const unsigned char *data, size_t len, unsigned char out[32]);
/* mbedtls_x509_time as Unix seconds (UTC). */
int64_t hotssl__x509_time_unix(const mbedtls_x509_time *t);

typedef struct hotssl__blob {
  unsigned char *data; /* NUL-terminated (data[len] == 0); zeroized on free */
  size_t len;
  char *path;          /* as opened, absolute */
  hotssl__file_id id;  /* of the open descriptor */
  int64_t seen_ns;     /* wall clock just before the fstat that gave id */
  unsigned char sha256[32]; /* of the content (read, or known unchanged) */
  int secure;               /* data is hotssl__secure_alloc'ed (key material) */
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

#endif /* HOTSSL_CORE_UTIL_H */
