/*
 * Internal interface of core/snapshot.c: the pointer-free serialized form of
 * what a manager serves, handed to spawned backends (pipe) and prefork
 * workers (anonymous shared memory). Never installed.
 */
#ifndef HOTSSL_CORE_SNAPSHOT_H
#define HOTSSL_CORE_SNAPSHOT_H

#include "hotssl/hotssl.h"
#include "inputs.h"
#include "log.h"
#include "hotssl/platform.h"

#define HOTSSL__SNAPSHOT_HEADER 32u
/* Upper bound a reader accepts (the files are each bounded by
 * hotssl_max_file_size at load; this bounds a hostile length field). */
#define HOTSSL__SNAPSHOT_MAX ((uint64_t)1 << 30)
/* How long a spawned backend waits, from its start, for the whole hand-off
 * (the connection and the snapshot), and how long the parent's write may
 * take: a parent that stops writing (stalled, or dead with the pipe still
 * open elsewhere) leaves a backend that fails within this bound. */
#define HOTSSL__HANDOFF_DEADLINE_MS 30000

/* Serialize m's current generation and configuration. *out is a
 * snapshot buffer: free with hotssl__snapshot_bytes_free (it may hold key
 * material). */
int hotssl__snapshot_encode(hotssl_manager *m, unsigned what, unsigned char **out,
                            size_t *len, uint64_t *generation);
/* Snapshot buffers carry the key: hotssl__secure_alloc'ed (os/os.h: kept
 * out of core dumps, zeroized in full when freed; len is the caller's
 * length, unused). */
unsigned char *hotssl__snapshot_bytes_alloc(size_t len);
void hotssl__snapshot_bytes_free(unsigned char *p, size_t len);

/* Total length announced by a header, after checking magic and version. */
int hotssl__snapshot_peek(const unsigned char *hdr, size_t len, uint64_t *total);

/* A backend's end of the hand-off: read a whole snapshot with read_fn (0: all n
 * bytes read; -2: end of stream; -3: the hand-off deadline passed; -1:
 * error) into a buffer that grows (doubling, from 64 KiB up to the header's
 * length) as bytes arrive, so a header that claims more than is sent costs
 * no more memory than what was sent; check that the stream ends
 * right after it, and build the backend's manager from it. On a read
 * failure returns HOTSSL_EINVAL / HOTSSL_ENOMEM with the reason in err (for
 * the caller to log); a failure of the build was logged through opts and
 * is in errbuf (*built_failed = 1). */
int hotssl__snapshot_receive(int (*read_fn)(void *ctx, unsigned char *p, size_t n), void *ctx,
                             hotssl_manager **m, const hotssl_manager_options *opts,
                             char *errbuf, size_t errlen, char *err, size_t errn, int *build_failed);

/* Check and decode. On success *cfg is a new configuration, *has_contents
 * tells whether in was filled (CONTENTS) or not (PATHS: load from *cfg).
 * Malformed input: HOTSSL_EINVAL with the reason in errbuf; nothing to free. */
int hotssl__snapshot_decode(const unsigned char *b, size_t len, hotssl_config **cfg,
                            hotssl__inputs *in, int *has_contents, uint64_t *generation,
                            char *errbuf, size_t errlen);

/* Decode and build a generation (prefork worker): prev lends unchanged
 * parsed objects. *cfg_out receives the snapshot's configuration. */
int hotssl__snapshot_build(const unsigned char *b, size_t len, const hotssl_generation *prev,
                           const hotssl__log *log, hotssl_generation **out,
                           hotssl_config **cfg_out, char *errbuf, size_t errlen);

#endif
