/*
 * libFuzzer target: the PKCS#8 PBES2 decoder (PEM extraction and DER
 * decryption) on hostile bytes, with a fixed password. Iteration counts in
 * the input are bounded by the decoder, so a case cannot hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "../os/os.h" /* hotssl__secure_free */
#include "pkcs8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *der = NULL, *out = NULL;
  size_t derlen = 0, outlen = 0;
  char err[256];
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  if (hotssl__pkcs8_pem_extract(text, size, &der, &derlen) == 1) {
    if (hotssl__pkcs8_decrypt(der, derlen, (const unsigned char *)"pw", 2, &out, &outlen, err, sizeof err) == 0) {
      hotssl__secure_free(out);
    }
    free(der);
  }
  out = NULL;
  if (hotssl__pkcs8_decrypt(data, size, (const unsigned char *)"pw", 2, &out, &outlen, err, sizeof err) == 0) {
    hotssl__secure_free(out);
  }
  free(text);
  return 0;
}
