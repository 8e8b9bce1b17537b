/*
 * The CLI's log: "hotssl[pid]: LEVEL:  message" lines on stderr. A leaf
 * module: it calls nothing else in cli/.
 */
#ifndef HOTSSL_CLI_LOG_H
#define HOTSSL_CLI_LOG_H

#include "hotssl/hotssl.h"

/* Log callback (hotssl_manager_options.log) writing one line to stderr. */
void cli_log(void *ud, hotssl_log_level level, const char *msg);
/* "WHAT: WHY" through cli_log. */
void cli_log_reason(hotssl_log_level level, const char *what, const char *why);

#endif
