/*
 * cli_load_config: a configuration file into a hotssl_config, the reason
 * printed on failure (check, info, serve). Calls nothing else in cli/.
 */
#include <stdio.h>

#include "cli.h"

int cli_load_config(const char *path, hotssl_config **out) {
  char err[600];
  hotssl_config *cfg;
  int r;
  *out = NULL;
  if (path == NULL) {
    fprintf(stderr, "hotssl: no configuration file given (-c CONF)\n");
    return 2;
  }
  if ((r = hotssl_config_create(&cfg)) != 0) {
    fprintf(stderr, "hotssl: %s\n", hotssl_strerror(r));
    return 1;
  }
  if ((r = hotssl_config_load_file(cfg, path, err, sizeof err)) != 0) {
    fprintf(stderr, "hotssl: FATAL:  %s\n", err);
    hotssl_config_destroy(cfg);
    return 1;
  }
  *out = cfg;
  return 0;
}
