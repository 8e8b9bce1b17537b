/*
 * The OS's random generator as a CTR-DRBG entropy source. Each generation's
 * DRBG is seeded (and reseeded) from it directly rather than through an
 * mbedtls_entropy_context of its own: on Debian's mbedTLS 2.28 initializing
 * such a context runs HAVEGE's setup, about 70 % of a certificate rotation's
 * cost, and the context's mutex is one more lock a fork can copy in use.
 * getrandom() is the kernel's CSPRNG, the source mbedTLS's own platform
 * entropy poll uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "../os.h"

HOTSSL__HOT int hotssl__os_entropy(void *unused, unsigned char *out, size_t len) {
  size_t got = 0;
  (void)unused;
  while (got < len) {
    ssize_t n = getrandom(out + got, len - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1; /* the DRBG reports MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED */
    got += (size_t)n;
  }
  return 0;
}
