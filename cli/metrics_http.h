/*
 * `hotssl serve --metrics-listen ADDR:PORT` (cli/metrics_http.c, POSIX):
 * /metrics over plain HTTP/1.x on a thread of its own, one request per
 * connection, the text of hotssl_manager_metrics. A leaf of serve.c.
 */
#ifndef HOTSSL_CLI_METRICS_HTTP_H
#define HOTSSL_CLI_METRICS_HTTP_H

#include "hotssl/hotssl.h"

typedef struct cli_metrics_http cli_metrics_http;

/* Listen on spec ("ADDR:PORT", "[ADDR]:PORT", ":PORT" or "PORT"; no
 * address: 127.0.0.1) and start the thread; prints "metrics on
 * http://ADDR:PORT/metrics". 0, or 1 after printing why. */
int cli_metrics_http_start(hotssl_manager *m, const char *spec, cli_metrics_http **out);
/* Stop the thread and close the socket. NULL ok. */
void cli_metrics_http_stop(cli_metrics_http *h);

#endif /* HOTSSL_CLI_METRICS_HTTP_H */
