/*
 * The reload audit record (core/audit.c): what one reload attempt changed,
 * for on_reload_ex (hotssl_reload_audit), which a host logs with
 * hotssl_reload_audit_line. The manager fills it in two steps: the files,
 * once loaded; the identities and result, once published (or not); then
 * hands it over.
 */
#ifndef HOTSSL_CORE_AUDIT_H
#define HOTSSL_CORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "inputs.h"
#include "log.h"

typedef struct hotssl__audit_id {
  hotssl_audit_identity pub;
  char name[32], old_serial[80], new_serial[80], old_sha256[96], new_sha256[96];
} hotssl__audit_id;

typedef struct hotssl__audit {
  hotssl_reload_audit pub;
  hotssl__audit_id *ids;
  hotssl_audit_identity *pub_ids;
  char **changed;
  /* The attempted load's files (path and hash): the served files once it
   * is published (hotssl__audit_take_files). */
  hotssl__file_memos files;
  int have_files;
  char *failed_file, *reason;
} hotssl__audit;

/* The files of in and its hosts entries (path and hash) into out, replacing
 * what it held (emptied on allocation failure). */
void hotssl__audit_served_files(hotssl__file_memos *out, const hotssl__inputs *in);
void hotssl__audit_init(hotssl__audit *a, hotssl_trigger trigger, uint64_t old_generation);
/* The files of in (and its hosts entries') against served (the served
 * generation's files): changed_files. Best effort: on allocation failure
 * the list is empty. */
void hotssl__audit_files(hotssl__audit *a, const hotssl__file_memos *served, const hotssl__inputs *in);
/* Move the attempted load's files into served (after a publication or an
 * unchanged result: they are what is served). */
void hotssl__audit_take_files(hotssl__audit *a, hotssl__file_memos *served);
/* The result, the identities of old and now (the generation served after
 * the attempt), the failing file named in reason. */
void hotssl__audit_finish(hotssl__audit *a, int result, const hotssl_generation *old,
                          const hotssl_generation *now, const char *reason);
/* The public record, or NULL when it is incomplete (allocation failure). */
const hotssl_reload_audit *hotssl__audit_record(const hotssl__audit *a);
void hotssl__audit_free(hotssl__audit *a);

#endif /* HOTSSL_CORE_AUDIT_H */
