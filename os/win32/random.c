/*
 * The OS's random generator as a CTR-DRBG entropy source, Windows:
 * BCryptGenRandom with the system preferred RNG, as mbedTLS's own Windows
 * entropy poll does.
 */
#include <windows.h>
#include <bcrypt.h>

#include "../os.h"

int hotssl__os_entropy(void *unused, unsigned char *out, size_t len) {
  (void)unused;
  while (len > 0) {
    ULONG n = len > 0x10000000u ? 0x10000000u : (ULONG)len;
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, out, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
      return -1;
    out += n;
    len -= n;
  }
  return 0;
}
