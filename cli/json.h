/*
 * JSON output of the CLI (`info --json`): a leaf module, it calls nothing
 * else in cli/.
 */
#ifndef HOTSSL_CLI_JSON_H
#define HOTSSL_CLI_JSON_H

#include <stdio.h>

/* v as a JSON string, quotes included. */
void cli_json_string(FILE *f, const char *v);

#endif
