/* JSON output of the CLI (json.h). */
#include <stdio.h>

#include "json.h"

void cli_json_string(FILE *f, const char *v) {
  const unsigned char *p;
  fputc('"', f);
  for (p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}
