/*
 * Snapshots in and out of a process: the public hotssl_snapshot_* and
 * hotssl_manager_create_from_snapshot, and the reading of a snapshot from a
 * pipe (hotssl__snapshot_receive / _peek: the buffer grows as bytes
 * arrive, never from the header's length alone) and building from its bytes
 * (hotssl__snapshot_build), on core/snapshot.c's encoder and decoder.
 */
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>
#include "../os/os.h"
#include "build.h"
#include "config.h"
#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "log.h"
#include "manager.h"
#include "util.h"
#include "revocation.h"
#include "snapshot.h"
#include "snapshot_wire.h"
#include "tickets.h"

/* Why read_fn stopped short (rr: its return; 0: the stream went on past
 * the snapshot), as the backend's error line. */
static void receive_failed(char *err, size_t errn, int rr, int header) {
  const char *what = header ? "nothing arrived" : "nothing more arrived";
  if (rr == -3)
    hotssl__fmt(
        err, errn,
        "could not read the snapshot from the parent: %s within %d ms (the parent stopped writing)",
        what, HOTSSL__HANDOFF_DEADLINE_MS);
  else if (rr == -2)
    hotssl__fmt(err, errn,
                "could not read the snapshot from the parent: %s (the parent closed the hand-off early; it may have died)",
                header ? "no snapshot" : "truncated");
  else
    hotssl__fmt(err, errn, "could not read the snapshot from the parent: %s",
                rr == 0 ? "too long" : "read failed");
}

/* The first read's buffer; it doubles as bytes arrive, up to the header's
 * total. */
#define RECEIVE_FIRST ((size_t)64 << 10)

/* Read the snapshot whose header hdr announced total bytes into a snapshot
 * buffer (*out) that is never larger than twice what has arrived (and at
 * least RECEIVE_FIRST): a hostile or broken header's length costs memory
 * only as data really comes. 0, -1 (*rr: read_fn's return, 0 when the
 * stream went on past the snapshot) or HOTSSL_ENOMEM. */
static int receive_body(int (*read_fn)(void *ctx, unsigned char *p, size_t n), void *ctx,
                        const unsigned char *hdr, size_t total, unsigned char **out, int *rr) {
  unsigned char *buf, *bigger, extra;
  size_t got = HOTSSL__SNAPSHOT_HEADER, cap = total < RECEIVE_FIRST ? total : RECEIVE_FIRST;
  *out = NULL;
  if ((buf = hotssl__snapshot_bytes_alloc(cap)) == NULL)
    return HOTSSL_ENOMEM;
  memcpy(buf, hdr, HOTSSL__SNAPSHOT_HEADER);
  while (got < total) {
    if (got == cap) {
      cap = cap > total / 2 ? total : 2 * cap;
      if ((bigger = hotssl__snapshot_bytes_alloc(cap)) == NULL) {
        hotssl__snapshot_bytes_free(buf, got);
        return HOTSSL_ENOMEM;
      }
      memcpy(bigger, buf, got);
      hotssl__snapshot_bytes_free(buf, got);
      buf = bigger;
    }
    if ((*rr = read_fn(ctx, buf + got, cap - got)) != 0) {
      hotssl__snapshot_bytes_free(buf, got);
      return -1;
    }
    got = cap;
  }
  if ((*rr = read_fn(ctx, &extra, 1)) != -2) {
    hotssl__snapshot_bytes_free(buf, got);
    return -1;
  }
  *out = buf;
  return 0;
}

int hotssl__snapshot_receive(int (*read_fn)(void *ctx, unsigned char *p, size_t n), void *ctx,
                             hotssl_manager **m, const hotssl_manager_options *opts,
                             char *errbuf, size_t errlen, char *err, size_t errn, int *build_failed) {
  unsigned char hdr[HOTSSL__SNAPSHOT_HEADER], *buf;
  uint64_t total = 0;
  int r, rr;
  *build_failed = 0;
  if ((rr = read_fn(ctx, hdr, sizeof hdr)) != 0) {
    receive_failed(err, errn, rr, 1);
    return HOTSSL_EINVAL;
  }
  if (hotssl__snapshot_peek(hdr, sizeof hdr, &total) != 0) {
    hotssl__fmt(err, errn, "could not read the snapshot from the parent: invalid header");
    return HOTSSL_EINVAL;
  }
  if ((r = receive_body(read_fn, ctx, hdr, (size_t)total, &buf, &rr)) != 0) {
    if (r == HOTSSL_ENOMEM)
      hotssl__fmt(err, errn, "could not read the snapshot from the parent: out of memory");
    else
      receive_failed(err, errn, rr, 0);
    return r == HOTSSL_ENOMEM ? HOTSSL_ENOMEM : HOTSSL_EINVAL;
  }
  if (opts != NULL) { /* the hand-off's end, apart from the build (bench/run times the two) */
    hotssl__log log = {opts->log, opts->log_userdata};
    hotssl__logf(&log, HOTSSL_LOG_DEBUG, "received the parent's snapshot (%llu bytes)",
                 (unsigned long long)total);
  }
  r = hotssl_manager_create_from_snapshot(m, buf, (size_t)total, opts, errbuf, errlen);
  hotssl__snapshot_bytes_free(buf, (size_t)total);
  *build_failed = r != 0; /* create_from_snapshot logged it */
  return r;
}

int hotssl__snapshot_peek(const unsigned char *hdr, size_t len, uint64_t *total) {
  if (len < HOTSSL__SNAPSHOT_HEADER || memcmp(hdr, "HTSN", 4) != 0 ||
      be(hdr + 4, 2) != SNAP_VERSION || be(hdr + 6, 2) > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  *total = be(hdr + 8, 8);
  if (*total < HOTSSL__SNAPSHOT_HEADER || *total > HOTSSL__SNAPSHOT_MAX)
    return HOTSSL_EINVAL;
  return 0;
}

/* A PATHS snapshot: read the files as cfg names them, keeping the
 * snapshot's ticket seed (the parent's generated keys). */
static int load_paths(hotssl__inputs *in, const hotssl_config *cfg, char *errbuf, size_t errlen) {
  unsigned char seed[32];
  int has = in->has_seed, r;
  memcpy(seed, in->ticket_seed, 32);
  hotssl__inputs_free(in);
  r = hotssl__inputs_load(in, cfg, errbuf, errlen);
  if (r == 0 && has) {
    in->has_seed = 1;
    memcpy(in->ticket_seed, seed, 32);
  }
  mbedtls_platform_zeroize(seed, sizeof seed);
  return r;
}

int hotssl__snapshot_build(const unsigned char *b, size_t len, const hotssl_generation *prev,
                           const hotssl__log *log, hotssl_generation **out,
                           hotssl_config **cfg_out, char *errbuf, size_t errlen) {
  hotssl_config *cfg;
  hotssl__inputs in;
  uint64_t number;
  int contents, r;
  *out = NULL;
  *cfg_out = NULL;
  if ((r = hotssl__snapshot_decode(b, len, &cfg, &in, &contents, &number, errbuf, errlen)) != 0)
    return r;
  if (!contents && (r = load_paths(&in, cfg, errbuf, errlen)) != 0) {
    hotssl_config_destroy(cfg);
    return r;
  }
  /* Ticket keys: the snapshot's seed (the parent's keys). */
  if ((in.ctx.tickets_shared = hotssl__ticket_shared_new(in.has_seed ? in.ticket_seed : NULL)) == NULL)
    r = HOTSSL_ENOMEM;
  else
    r = hotssl__generation_build(out, &in, prev, 1, number, log, errbuf, errlen);
  hotssl__ticket_shared_release(in.ctx.tickets_shared); /* the generation holds its own */
  hotssl__inputs_free(&in);
  if (r != 0) {
    hotssl_config_destroy(cfg);
    return r;
  }
  *cfg_out = cfg;
  return 0;
}

/* ---- public API ---- */

struct hotssl_snapshot {
  uint64_t generation;
  unsigned kind;
  unsigned char *data;
  size_t len;
};

int hotssl_snapshot_take(hotssl_manager *m, unsigned what, hotssl_snapshot **out) {
  hotssl_snapshot *s;
  int r;
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (m == NULL || what > HOTSSL_SNAPSHOT_PATHS)
    return HOTSSL_EINVAL;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return HOTSSL_ENOMEM;
  s->kind = what;
  if ((r = hotssl__snapshot_encode(m, what, &s->data, &s->len, &s->generation)) != 0) {
    free(s);
    return r;
  }
  *out = s;
  return 0;
}

void hotssl_snapshot_destroy(hotssl_snapshot *s) {
  if (s == NULL)
    return;
  hotssl__snapshot_bytes_free(s->data, s->len);
  free(s);
}

uint64_t hotssl_snapshot_generation(const hotssl_snapshot *s) {
  return s != NULL ? s->generation : 0;
}

unsigned hotssl_snapshot_kind(const hotssl_snapshot *s) { return s != NULL ? s->kind : 0; }

const unsigned char *hotssl_snapshot_bytes(const hotssl_snapshot *s, size_t *len) {
  if (len != NULL)
    *len = s != NULL ? s->len : 0;
  return s != NULL ? s->data : NULL;
}

int hotssl_manager_create_from_snapshot(hotssl_manager **out, const void *bytes, size_t len,
                                        const hotssl_manager_options *opts, char *errbuf,
                                        size_t errlen) {
  hotssl_config *cfg;
  hotssl__inputs in;
  uint64_t number;
  int contents, r;
  char err[HOTSSL__ERRLEN];
  hotssl__log log = {NULL, NULL};
  if (out == NULL)
    return HOTSSL_EINVAL;
  *out = NULL;
  if (bytes == NULL)
    return HOTSSL_EINVAL;
  if (opts != NULL) {
    log.fn = opts->log;
    log.ud = opts->log_userdata;
  }
  r = hotssl__snapshot_decode(bytes, len, &cfg, &in, &contents, &number, err, sizeof err);
  if (r != 0) {
    hotssl__logf(&log, HOTSSL_LOG_ERROR, "%s", err);
    hotssl__fmt(errbuf, errlen, "%s", err);
    return r;
  }
  /* PATHS with tickets: read the files here, keeping the seed. */
  if (!contents && in.has_seed) {
    if ((r = load_paths(&in, cfg, err, sizeof err)) != 0) {
      hotssl__logf(&log, HOTSSL_LOG_ERROR, "%s", err);
      hotssl__fmt(errbuf, errlen, "%s", err);
      hotssl_config_destroy(cfg);
      return r;
    }
    contents = 1;
  }
  /* A backend re-reading an encrypted key follows reload rules, as
   * PostgreSQL's EXEC_BACKEND backends do. */
  r = hotssl__manager_create_with(out, cfg, contents ? &in : NULL, number, 1, opts, errbuf,
                                  errlen);
  hotssl_config_destroy(cfg);
  return r;
}
