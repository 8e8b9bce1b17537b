/*
 * libFuzzer target: the postgresql.conf parser and the settings check, on
 * hostile bytes. Writes the input to a temporary file (the parser reads
 * files), parses, and turns the result into settings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "manager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[] = "/tmp/hotssl-fuzz-conf-XXXXXX";
  char err[512];
  hotssl_config *cfg;
  hotssl__settings s;
  int fd = mkstemp(path);
  if (fd < 0)
    return 0;
  if (write(fd, data, size) != (ssize_t)size) {
    close(fd);
    unlink(path);
    return 0;
  }
  close(fd);
  if (hotssl_config_create(&cfg) == 0) {
    if (hotssl_config_load_file(cfg, path, err, sizeof err) == 0 &&
        hotssl__settings_from_config(&s, cfg, err, sizeof err) == 0)
      hotssl__settings_free(&s);
    hotssl_config_destroy(cfg);
  }
  unlink(path);
  return 0;
}
