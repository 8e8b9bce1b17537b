/*
 * PostgreSQL's rule for the private key file (be-secure-common.c,
 * check_ssl_key_file_permissions): owned by the process user with no group
 * or world access (0600 or less), or owned by root with at most group read
 * (0640 or less). Applied to the fstat of the descriptor that is then read.
 */
#include <unistd.h>

#include <apr_file_info.h>

#include "hotssl/hotssl.h"
#include "../os.h"

int hotssl__keyfile_check(apr_file_t *f, const apr_finfo_t *fi, char *errbuf, size_t errlen) {
  uid_t me = geteuid();
  uid_t owner = (uid_t)fi->user;
  apr_fileperms_t prot = fi->protection;
  (void)f; /* fi is the fstat of f */

  if (owner != me && owner != 0) {
    hotssl__fmt(errbuf, errlen,
                "must be owned by the server user or root (owner uid %lu, server uid %lu)",
                (unsigned long)owner, (unsigned long)me);
    return HOTSSL_EKEYPERM;
  }
  if ((owner == me && (prot & (APR_GREAD | APR_GWRITE | APR_GEXECUTE | APR_WREAD | APR_WWRITE | APR_WEXECUTE)) != 0) ||
      (owner == 0 && (prot & (APR_GWRITE | APR_GEXECUTE | APR_WREAD | APR_WWRITE | APR_WEXECUTE)) != 0)) {
    hotssl__fmt(errbuf, errlen,
                "has group or world access (file must have permissions u=rw (0600) or less if owned by the server user, or permissions u=rw,g=r (0640) or less if owned by root)");
    return HOTSSL_EKEYPERM;
  }
  return 0;
}
