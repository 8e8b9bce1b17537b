/*
 * Observability: hotssl_manager_stats (the frozen struct) and the typed
 * items that grow after it (hotssl_manager_info, hotssl_generation_info,
 * hotssl_generation_host_info).
 *
 * Every item of today mirrors a field of hotssl_stats or hotssl_host_stats:
 * one table row names the field (offset and size) and the objects the item
 * belongs to, and one function converts the field to the item's type. An
 * item that has no such field gets its own case in the function of its
 * object (HOTSSL_INFO_WAKEUP_HANDLE).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "manager.h"
#include "metrics.h"
#include "tickets.h"

/* What a generation serves, without the manager's counters. */
static void generation_stats(const hotssl_generation *g, hotssl_stats *out) {
  int64_t now = (int64_t)time(NULL);
  memcpy(out, &g->cert_info, sizeof *out);
  out->generation = g->number;
  out->seconds_left = out->not_after_unix - now;
  out->warnings |= hotssl__generation_time_warnings(g, now, NULL);
  out->sni_hosts = hotssl_generation_host_count(g);
}

int hotssl_manager_stats(hotssl_manager *m, hotssl_stats *out) {
  hotssl_generation *g;
  if (m == NULL || out == NULL)
    return HOTSSL_EINVAL;
  g = hotssl_manager_acquire(m);
  generation_stats(g, out);
  hotssl_generation_release(g);
  hotssl__mutex_lock(m->reload_lock);
  out->reloads_attempted = m->attempted;
  out->reloads_succeeded = m->succeeded;
  out->reloads_unchanged = m->unchanged;
  out->reloads_failed = m->failed;
  memcpy(out->last_error, m->last_error, sizeof out->last_error);
  hotssl__mutex_unlock(m->reload_lock);
  return 0;
}

/* ---- typed items ---- */

enum {
  ON_MANAGER = 1, /* hotssl_manager_info */
  ON_GEN = 2,     /* hotssl_generation_info */
  ON_HOST = 4,    /* hotssl_generation_host_info: field of hotssl_stats (the entry's cert) */
  IN_HOST = 8     /* hotssl_generation_host_info: field of hotssl_host_stats itself */
};

typedef struct info_row {
  int item;
  unsigned where;
  size_t off, size; /* the field in hotssl_stats, or in hotssl_host_stats (IN_HOST) */
} info_row;

#define ST(f) offsetof(hotssl_stats, f), sizeof(((hotssl_stats *)0)->f)
#define HS(f) offsetof(hotssl_host_stats, f), sizeof(((hotssl_host_stats *)0)->f)
#define CERT (ON_MANAGER | ON_GEN | ON_HOST)

static const info_row rows[] = {
    {HOTSSL_INFO_RELOADS_ATTEMPTED, ON_MANAGER, ST(reloads_attempted)},
    {HOTSSL_INFO_RELOADS_SUCCEEDED, ON_MANAGER, ST(reloads_succeeded)},
    {HOTSSL_INFO_RELOADS_UNCHANGED, ON_MANAGER, ST(reloads_unchanged)},
    {HOTSSL_INFO_RELOADS_FAILED, ON_MANAGER, ST(reloads_failed)},
    {HOTSSL_INFO_LAST_ERROR, ON_MANAGER, ST(last_error)},
    {HOTSSL_INFO_GENERATION, CERT, ST(generation)},
    {HOTSSL_INFO_SUBJECT, CERT, ST(subject)},
    {HOTSSL_INFO_ISSUER, CERT, ST(issuer)},
    {HOTSSL_INFO_SERIAL, CERT, ST(serial)},
    {HOTSSL_INFO_NOT_BEFORE, CERT, ST(not_before)},
    {HOTSSL_INFO_NOT_AFTER, CERT, ST(not_after)},
    {HOTSSL_INFO_SHA256, CERT, ST(sha256)},
    {HOTSSL_INFO_KEY_TYPE, CERT, ST(key_type)},
    {HOTSSL_INFO_NOT_BEFORE_UNIX, CERT, ST(not_before_unix)},
    {HOTSSL_INFO_NOT_AFTER_UNIX, CERT, ST(not_after_unix)},
    {HOTSSL_INFO_SECONDS_LEFT, CERT, ST(seconds_left)},
    {HOTSSL_INFO_KEY_BITS, CERT, ST(key_bits)},
    {HOTSSL_INFO_CHAIN_LENGTH, CERT, ST(chain_length)},
    {HOTSSL_INFO_CA_COUNT, CERT, ST(ca_count)},
    {HOTSSL_INFO_CRL_ENTRIES, CERT, ST(crl_entries)},
    {HOTSSL_INFO_CRL_NEXT_UPDATE_UNIX, CERT, ST(crl_next_update_unix)},
    {HOTSSL_INFO_EXPIRY_WARNING_DAYS, CERT, ST(expiry_warning_days)},
    {HOTSSL_INFO_WARNINGS, CERT, ST(warnings)},
    {HOTSSL_INFO_SNI_HOSTS, ON_MANAGER | ON_GEN, ST(sni_hosts)},
    {HOTSSL_INFO_HOST_LINE, IN_HOST, HS(line)},
    {HOTSSL_INFO_HOST_IS_DEFAULT, IN_HOST, HS(is_default)},
    {HOTSSL_INFO_HOST_IS_NO_SNI, IN_HOST, HS(is_no_sni)},
    {HOTSSL_INFO_HOST_HAS_CA, IN_HOST, HS(has_ca)},
    {HOTSSL_INFO_HOST_N_NAMES, IN_HOST, HS(n_names)},
    {HOTSSL_INFO_HOST_NAMES, IN_HOST, HS(names)},
};

/* The row of item if it belongs to an object of kind `where` (any bit). */
static const info_row *find_row(int item, unsigned where) {
  size_t i;
  for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rows[i].item == item)
      return (rows[i].where & where) != 0 ? &rows[i] : NULL;
  return NULL;
}

/* 0 when (out, outlen) can take a value of item's type, else HOTSSL_EINVAL. */
static int check_out(int item, void *out, size_t outlen) {
  switch (item & HOTSSL_INFO_TYPE_MASK) {
  case HOTSSL_INFO_TYPE_U64:
    return out != NULL && outlen == sizeof(uint64_t) ? 0 : HOTSSL_EINVAL;
  case HOTSSL_INFO_TYPE_I64:
    return out != NULL && outlen == sizeof(int64_t) ? 0 : HOTSSL_EINVAL;
  case HOTSSL_INFO_TYPE_STRING:
    return out != NULL && outlen > 0 ? 0 : HOTSSL_EINVAL;
  case HOTSSL_INFO_TYPE_OS_FD:
    return out != NULL && outlen == sizeof(hotssl_os_fd) ? 0 : HOTSSL_EINVAL;
  default:
    return HOTSSL_ENOTSUP;
  }
}

/* Convert the field at base + row->off to the item's type into out (already
 * checked by check_out). Unsigned fields are 4 or 8 bytes; flags (int) are
 * 0 or 1. */
static int put_field(const info_row *row, const unsigned char *base, void *out, size_t outlen) {
  const unsigned char *f = base + row->off;
  switch (row->item & HOTSSL_INFO_TYPE_MASK) {
  case HOTSSL_INFO_TYPE_U64: {
    uint64_t v;
    if (row->size == sizeof(uint64_t)) {
      memcpy(&v, f, sizeof v);
    } else {
      uint32_t v32;
      memcpy(&v32, f, sizeof v32);
      v = v32;
    }
    memcpy(out, &v, sizeof v);
    return 0;
  }
  case HOTSSL_INFO_TYPE_I64:
    memcpy(out, f, sizeof(int64_t));
    return 0;
  case HOTSSL_INFO_TYPE_STRING: {
    const unsigned char *nul = memchr(f, '\0', row->size);
    size_t len = nul != NULL ? (size_t)(nul - f) : row->size;
    char *s = out;
    if (len >= outlen) {
      s[0] = '\0';
      return HOTSSL_ENOMEM;
    }
    memcpy(s, f, len);
    s[len] = '\0';
    return 0;
  }
  default:
    return HOTSSL_ENOTSUP;
  }
}

/* The session-ticket items of g: HOTSSL_ENOTSUP for any other item. */
static int ticket_item(const hotssl_generation *g, int item, void *out, size_t outlen) {
  hotssl__ticket_info ti;
  uint64_t u;
  int64_t i64;
  const char *str;
  int r;
  if (item < HOTSSL_INFO_TICKETS || (item & 0xfffff) < 100 || (item & 0xfffff) > 107)
    return HOTSSL_ENOTSUP;
  if ((r = check_out(item, out, outlen)) != 0)
    return r;
  hotssl__tickets_info(g, &ti);
  switch (item) {
  case HOTSSL_INFO_TICKETS: u = (uint64_t)ti.on; break;
  case HOTSSL_INFO_TICKET_KEYS: u = ti.keys; break;
  case HOTSSL_INFO_TICKETS_ISSUED: u = ti.issued; break;
  case HOTSSL_INFO_TICKETS_RESUMED: u = ti.resumed; break;
  case HOTSSL_INFO_TICKETS_REJECTED: u = ti.rejected; break;
  case HOTSSL_INFO_TICKET_KEY_AGE:
    i64 = ti.key_age;
    memcpy(out, &i64, sizeof i64);
    return 0;
  case HOTSSL_INFO_TICKET_KEY_NAME:
  case HOTSSL_INFO_TICKET_KEY_SOURCE:
    str = item == HOTSSL_INFO_TICKET_KEY_NAME ? ti.name_hex : ti.source;
    if (strlen(str) >= outlen) {
      ((char *)out)[0] = '\0';
      return HOTSSL_ENOMEM;
    }
    memcpy(out, str, strlen(str) + 1);
    return 0;
  default:
    return HOTSSL_ENOTSUP;
  }
  memcpy(out, &u, sizeof u);
  return 0;
}

/* Find item's row for an object of kind where and check out: 0 and *row,
 * HOTSSL_ENOTSUP or HOTSSL_EINVAL. */
static int lookup(int item, unsigned where, void *out, size_t outlen, const info_row **row) {
  int r;
  if ((*row = find_row(item, where)) == NULL)
    return HOTSSL_ENOTSUP;
  if ((r = check_out(item, out, outlen)) != 0)
    return r;
  return 0;
}

/* The manager's items that mirror no hotssl_stats field (core/metrics.c):
 * HOTSSL_ENOTSUP for any other item. */
static int metrics_item(hotssl_manager *m, int item, void *out, size_t outlen) {
  int64_t t;
  uint64_t u;
  int r;
  if (item != HOTSSL_INFO_LAST_RELOAD_UNIX && item != HOTSSL_INFO_LAST_SUCCESS_UNIX &&
      item != HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK)
    return HOTSSL_ENOTSUP;
  if ((r = check_out(item, out, outlen)) != 0)
    return r;
  if (item == HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK) {
    u = (uint64_t)hotssl__manager_disk_differs(m);
    memcpy(out, &u, sizeof u);
    return 0;
  }
  hotssl__mutex_lock(m->reload_lock);
  t = item == HOTSSL_INFO_LAST_RELOAD_UNIX ? m->last_reload_at : m->last_success_at;
  hotssl__mutex_unlock(m->reload_lock);
  memcpy(out, &t, sizeof t);
  return 0;
}

int hotssl_manager_info(hotssl_manager *m, int item, void *out, size_t outlen) {
  const info_row *row = NULL;
  hotssl_stats st;
  int r;
  if (m == NULL)
    return HOTSSL_EINVAL;
  if (item == HOTSSL_INFO_WAKEUP_HANDLE) {
    hotssl_os_fd h;
    if ((r = check_out(item, out, outlen)) != 0)
      return r;
    h = hotssl_manager_wakeup_handle(m);
    memcpy(out, &h, sizeof h);
    return 0;
  }
  if (item == HOTSSL_INFO_GENERATION_COUNTER_FD)
    return hotssl__manager_counter_info(m, out, outlen);
  if ((r = metrics_item(m, item, out, outlen)) != HOTSSL_ENOTSUP)
    return r;
  if ((r = ticket_item(NULL, item, NULL, 0)) != HOTSSL_ENOTSUP) {
    hotssl_generation *g = hotssl_manager_acquire(m);
    r = ticket_item(g, item, out, outlen);
    hotssl_generation_release(g);
    return r;
  }
  if ((r = lookup(item, ON_MANAGER, out, outlen, &row)) != 0)
    return r;
  hotssl_manager_stats(m, &st);
  return put_field(row, (const unsigned char *)&st, out, outlen);
}

int hotssl_generation_info(const hotssl_generation *g, int item, void *out, size_t outlen) {
  const info_row *row = NULL;
  hotssl_stats st;
  int r;
  if (g == NULL)
    return HOTSSL_EINVAL;
  if ((r = ticket_item(g, item, out, outlen)) != HOTSSL_ENOTSUP)
    return r;
  if ((r = lookup(item, ON_GEN, out, outlen, &row)) != 0)
    return r;
  generation_stats(g, &st);
  return put_field(row, (const unsigned char *)&st, out, outlen);
}

int hotssl_generation_host_info(const hotssl_generation *g, uint32_t i, int item, void *out,
                                size_t outlen) {
  const info_row *row = NULL;
  hotssl_host_stats hs;
  int r;
  if (g == NULL)
    return HOTSSL_EINVAL;
  if ((r = lookup(item, ON_HOST | IN_HOST, out, outlen, &row)) != 0)
    return r;
  if ((r = hotssl_generation_host_stats(g, i, &hs)) != 0)
    return r;
  if (row->where & IN_HOST)
    return put_field(row, (const unsigned char *)&hs, out, outlen);
  return put_field(row, (const unsigned char *)&hs.cert, out, outlen);
}
