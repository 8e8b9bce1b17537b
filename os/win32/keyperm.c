/*
 * Windows: PostgreSQL does not check key file permissions there (no POSIX
 * modes; ACLs decide), and neither do we.
 */
#include <apr_file_info.h>

#include "../../core/internal.h"
#include "../os.h"

int hotssl__keyfile_check(const apr_finfo_t *fi, char *errbuf, size_t errlen) {
  (void)fi;
  (void)errbuf;
  (void)errlen;
  return 0;
}
