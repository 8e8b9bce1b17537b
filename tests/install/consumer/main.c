#include <stdio.h>
#include <string.h>

#include <hotssl/hotssl.h>

int main(void) {
  hotssl_config *cfg;
  char err[256];
  int r;
  if (hotssl_config_create(&cfg) != 0)
    return 1;
  r = hotssl_config_set(cfg, "ssl_bogus", "1", err, sizeof err);
  hotssl_config_destroy(cfg);
  printf("hotssl %s: %s\n", hotssl_version_string(), err);
  return r == HOTSSL_ECONFIG && strcmp(hotssl_version_string(), HOTSSL_VERSION_STRING) == 0 ? 0 : 1;
}
