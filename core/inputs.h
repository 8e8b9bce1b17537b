/*
 * The loader (core/inputs.c): the bytes of one configuration, read once,
 * and the memos that let a reload skip files whose identity is unchanged.
 *
 * Data flows one way: hotssl__settings (parsed config) -> hotssl__inputs
 * (file bytes + metadata, read by the loader) -> hotssl__generation (mbedTLS
 * objects, built and validated by the builder) -> published by the manager.
 */
#ifndef HOTSSL_CORE_INPUTS_H
#define HOTSSL_CORE_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "internal.h"
#include "util.h"

struct hotssl__revocation;
struct hotssl__shared;
struct hotssl__hosts_in;

/* How to build from inputs, beside the bytes that were read: set by the
 * manager and the hosts builder, never by the loader. */
typedef struct hotssl__build_ctx {
  void *spawn_lock; /* the manager's (for the passphrase command), or NULL */
  /* Parsed objects the builder may reuse besides the previous generation's
   * (the manager's recently replaced certificate and key), or NULL. */
  struct hotssl__shared *const *recent;
  size_t n_recent;
  /* Build without an own certificate (SNI: nothing serves a connection
   * without a server name); cert/key still name some entry's pair. */
  int no_own_cert;
  /* hotssl_session_tickets: the manager's shared ticket state (the seed
   * generated keys derive from, the counters: core/tickets.h), or NULL. */
  struct hotssl__ticket_shared *tickets_shared;
} hotssl__build_ctx;

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
  int pair_checked;                /* a snapshot's: the parent paired this key with this certificate */
  hotssl__blob tkeys;              /* hotssl_ticket_key_file (always read: no memo) */
  unsigned char fp_tkeys[32];
  /* A spawn snapshot's generated ticket-key seed (has_seed: set). */
  unsigned char ticket_seed[32];
  int has_seed;
  hotssl__blob *crl_dir_files;
  size_t n_crl_dir_files;
  unsigned char fingerprint[32]; /* over settings + all bytes */
  unsigned char fp_cert[32], fp_key[32], fp_ca[32], fp_crl[32];
  /* A spawn snapshot's CRL set: the parent's revocation table (in place of
   * crl / crl_dir_files), with its entry count and earliest next update. */
  struct hotssl__revocation *rev;
  uint64_t crl_entries;
  int64_t crl_next_update;
  /* ssl_sni (core/hosts.h): the hosts file's entries, NULL when off. */
  struct hotssl__hosts_in *hosts;
  /* Set when cert / ca hold a snapshot's DER list (core/snapshot.c) rather
   * than a file's bytes. */
  hotssl__der_lists der_list;
  hotssl__build_ctx ctx; /* set after the load, by its caller */
} hotssl__inputs;


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
/* The fingerprints of the parsed objects a build may lend instead of parsing
 * the same bytes again (a generation's certificate, key, CA set and CRL
 * set: hotssl__generation_lender; NULL: none of that kind). */
typedef struct hotssl__lender {
  const unsigned char *cert, *key, *ca, *crl;
} hotssl__lender;

/* The loader's two halves for one identity (hotssl__inputs_load_memo,
 * core/build.h, runs them and loads the hosts file in between). load_files
 * reads (skipping what a trusted memo describes) and takes every file's
 * hash; on failure in is freed. settle re-reads each skipped file whose
 * parsed object lend (NULL: nothing) will not lend after all, then takes the fingerprint,
 * over hosts_fp too when not NULL (the hosts file's, core/hosts.h); on
 * failure the caller frees in. */
int hotssl__inputs_load_files(hotssl__inputs *in, const hotssl_config *cfg,
                              const hotssl__file_memos *memos, char *errbuf, size_t errlen);
int hotssl__inputs_settle(hotssl__inputs *in, const hotssl__lender *lend,
                          const unsigned char *hosts_fp, char *errbuf, size_t errlen);
/* Replace memos with the files of ins[0..n_ins) (read files get a new memo,
 * unread ones keep theirs). A path several inputs name is one memo: each
 * blob's identity and hash belong together, so any one of them will do. On
 * allocation failure memos are emptied: only slower. */
void hotssl__file_memos_update(hotssl__file_memos *m, const hotssl__inputs *const *ins,
                               size_t n_ins);
/* A blob with a path but no data is one the loader did not read: its
 * identity matched a trusted memo, whose hash it carries. Every other blob
 * that names a file holds its bytes. */
#define HOTSSL__BLOB_UNREAD(b) ((b).data == NULL && (b).path != NULL)
/* 1 if b holds a file (read, or unread and known), 0 if none is configured. */
#define HOTSSL__BLOB_SET(b) ((b).data != NULL || (b).path != NULL)
/* Frees in's settings and files; in->hosts, when set, is freed by
 * hotssl__inputs_free (core/build.h), which calls this. */
void hotssl__inputs_free_own(hotssl__inputs *in);

#endif /* HOTSSL_CORE_INPUTS_H */
