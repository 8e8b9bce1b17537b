/*
 * Argument parsing for the hotssl subcommands: every option has a short and
 * a long form (`-p 5432`, `--port 5432`, `--port=5432`), a value-taking
 * option without its value is an error that says so, an option given twice
 * is an error, and numbers are parsed strictly with a range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void try_help(const char *cmd) {
  fprintf(stderr, "Try \"hotssl %s --help\".\n", cmd);
}

static int find_long(const cli_opt *defs, const char *arg, size_t len) {
  int i;
  for (i = 0; defs[i].lng != NULL; i++)
    if (strlen(defs[i].lng) == len && strncmp(defs[i].lng, arg, len) == 0)
      return i;
  return -1;
}

static int find_short(const cli_opt *defs, char c) {
  int i;
  for (i = 0; defs[i].lng != NULL; i++)
    if (defs[i].shrt == c)
      return i;
  return -1;
}

int cli_parse_args(const char *cmd, const cli_opt *defs, int argc, char **argv,
                   const char **vals, int *help) {
  int i, n;
  for (n = 0; defs[n].lng != NULL; n++)
    vals[n] = NULL;
  *help = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *inline_val = NULL;
    int k;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      *help = 1;
      return 0;
    }
    if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
      const char *eq = strchr(a + 2, '=');
      k = find_long(defs, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
      if (eq != NULL)
        inline_val = eq + 1;
    } else if (a[0] == '-' && a[1] != '\0' && a[2] == '\0') {
      k = find_short(defs, a[1]);
    } else {
      fprintf(stderr, "hotssl %s: unexpected argument \"%s\"\n", cmd, a);
      try_help(cmd);
      return 2;
    }
    if (k < 0) {
      fprintf(stderr, "hotssl %s: unknown option \"%s\"\n", cmd, a);
      try_help(cmd);
      return 2;
    }
    if (vals[k] != NULL) {
      fprintf(stderr, "hotssl %s: option --%s given more than once\n", cmd, defs[k].lng);
      return 2;
    }
    if (defs[k].arg == NULL) {
      if (inline_val != NULL) {
        fprintf(stderr, "hotssl %s: option --%s takes no value\n", cmd, defs[k].lng);
        return 2;
      }
      vals[k] = "";
      continue;
    }
    if (inline_val == NULL) {
      if (i + 1 >= argc) {
        fprintf(stderr, "hotssl %s: option --%s needs a value (%s)\n", cmd, defs[k].lng, defs[k].arg);
        try_help(cmd);
        return 2;
      }
      inline_val = argv[++i];
    }
    if (inline_val[0] == '\0') {
      fprintf(stderr, "hotssl %s: option --%s needs a value (%s), got an empty one\n", cmd,
              defs[k].lng, defs[k].arg);
      return 2;
    }
    vals[k] = inline_val;
  }
  return 0;
}

int cli_parse_uint(const char *cmd, const char *what, const char *text, unsigned long min,
                   unsigned long max, unsigned long *out) {
  const char *p;
  unsigned long v;
  char *end;
  for (p = text; *p != '\0'; p++)
    if (*p < '0' || *p > '9')
      break;
  if (text[0] == '\0' || *p != '\0' || p - text > 10) {
    fprintf(stderr, "hotssl %s: %s must be a whole number from %lu to %lu, not \"%s\"\n", cmd,
            what, min, max, text);
    return 2;
  }
  errno = 0;
  v = strtoul(text, &end, 10);
  if (errno != 0 || v < min || v > max) {
    fprintf(stderr, "hotssl %s: %s must be from %lu to %lu, not %s\n", cmd, what, min, max, text);
    return 2;
  }
  *out = v;
  return 0;
}

int cli_parse_choice(const char *cmd, const char *what, const char *text, const char *const *choices) {
  int i;
  for (i = 0; choices[i] != NULL; i++)
    if (strcmp(text, choices[i]) == 0)
      return i;
  fprintf(stderr, "hotssl %s: %s must be one of", cmd, what);
  for (i = 0; choices[i] != NULL; i++)
    fprintf(stderr, "%s %s", i ? "," : "", choices[i]);
  fprintf(stderr, "; not \"%s\"\n", text);
  return -1;
}

void cli_print_options(FILE *f, const cli_opt *defs) {
  int i;
  for (i = 0; defs[i].lng != NULL; i++) {
    char head[64];
    snprintf(head, sizeof head, "-%c, --%s%s%s", defs[i].shrt, defs[i].lng,
             defs[i].arg ? " " : "", defs[i].arg ? defs[i].arg : "");
    fprintf(f, "  %-30s %s\n", head, defs[i].help);
  }
  fprintf(f, "  %-30s %s\n", "-h, --help", "print this help and exit 0");
}
