/*
 * The composite: one configuration is its own identity plus, with ssl_sni,
 * the hosts file's entries. Only here are the single-identity loader and
 * builder (core/inputs.c, core/build_one.c) combined with the hosts loader
 * (core/hosts.c) and builder (core/sni.c), which itself builds on the
 * single identity.
 */
#include <stdlib.h>

#include "build.h"
#include "build_one.h"
#include "generation.h"
#include "hosts.h"
#include "sni.h"
#include "inputs.h"
#include "tickets.h"
#include "verify.h"

void hotssl__inputs_free(hotssl__inputs *in) {
  if (in == NULL)
    return;
  hotssl__hosts_in_free(in->hosts);
  in->hosts = NULL;
  hotssl__inputs_free_own(in);
}

/* in's files and its hosts entries' into memos. */
static void memos_update(hotssl__file_memos *memos, const hotssl__inputs *in) {
  size_t n = 1 + (in->hosts != NULL ? in->hosts->n : 0), i;
  const hotssl__inputs **ins = malloc(n * sizeof *ins);
  if (ins == NULL) {
    hotssl__file_memos_free(memos); /* only slower */
    return;
  }
  ins[0] = in;
  for (i = 1; i < n; i++)
    ins[i] = &in->hosts->v[i - 1].in;
  hotssl__file_memos_update(memos, ins, n);
  free(ins);
}

int hotssl__inputs_load_memo(hotssl__inputs *in, const hotssl_config *cfg,
                             hotssl__file_memos *memos, const hotssl_generation *cur,
                             char *errbuf, size_t errlen) {
  hotssl__lender lent;
  int r;
  if ((r = hotssl__inputs_load_files(in, cfg, memos, errbuf, errlen)) != 0)
    return r;
  /* ssl_sni: the hosts file and every entry's files. */
  if (in->s.sni && (r = hotssl__hosts_load(&in->hosts, cfg, &in->s, memos, cur, errbuf, errlen)) != 0) {
    hotssl__inputs_free(in);
    return r;
  }
  lent = hotssl__generation_lender(cur);
  if ((r = hotssl__inputs_settle(in, &lent, in->hosts != NULL ? in->hosts->fp : NULL, errbuf,
                                 errlen)) != 0) {
    hotssl__inputs_free(in);
    return r;
  }
  if (memos != NULL)
    memos_update(memos, in);
  return 0;
}

int hotssl__inputs_load(hotssl__inputs *in, const hotssl_config *cfg,
                        char *errbuf, size_t errlen) {
  return hotssl__inputs_load_memo(in, cfg, NULL, NULL, errbuf, errlen);
}

int hotssl__generation_build(hotssl_generation **out, hotssl__inputs *in,
                             const hotssl_generation *prev, int is_reload,
                             uint64_t number, const hotssl__log *log,
                             char *errbuf, size_t errlen) {
  int r;
  if (in->hosts != NULL)
    r = hotssl__hosts_build(out, in, prev, is_reload, number, log, errbuf, errlen);
  else if ((r = hotssl__generation_build_one(out, in, prev, is_reload, number, log, errbuf,
                                             errlen)) == 0)
    hotssl__verify_attach(*out); /* the client-certificate verifier */
  /* Session tickets, bound to the identities just built. */
  if (r == 0 && (r = hotssl__tickets_attach(*out, in, prev, errbuf, errlen)) != 0) {
    hotssl__generation_free(*out);
    *out = NULL;
  }
  return r;
}

unsigned hotssl__generation_time_warnings(const hotssl_generation *g, int64_t now,
                                          const hotssl__log *log) {
  unsigned w = hotssl__generation_time_warnings_one(g, now, log);
  if (g->hosts != NULL)
    w |= hotssl__hosts_time_warnings(g, now, log); /* ssl_sni: every entry */
  return w;
}
