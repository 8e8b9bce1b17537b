/*
 * `hotssl serve --metrics-listen`: a minimal HTTP server for Prometheus.
 * One thread accepts and answers one request per connection, in turn:
 * "GET /metrics" gets 200 with the exposition (Content-Type text/plain;
 * version=0.0.4), another path 404, another method 405, a request that
 * is not HTTP 400. A client gets 5 s to send its request head (at most
 * 8 KB) and to take the answer; the connection is then closed. Plain HTTP
 * on loopback by default: the metrics name certificates and files, not
 * secrets, but an operator who binds elsewhere chooses who may read them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "metrics_http.h"
#include "sys.h"

struct cli_metrics_http {
  hotssl_manager *m;
  int lfd;
  int stop[2]; /* a byte on stop[1] ends the thread */
  pthread_t th;
};

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return;
    p += k;
    n -= (size_t)k;
  }
}

static void answer(int fd, const char *status, const char *type, const char *body, size_t len) {
  char head[256];
  int k = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\nConnection: close\r\n\r\n",
                   status, type, (unsigned long)len);
  send_all(fd, head, (size_t)k);
  send_all(fd, body, len);
}

/* The request head, up to its blank line (or 8 KB, or 5 s): its length, or
 * -1 when the client sent no complete head. */
static int read_head(int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    n += (size_t)k;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
      return (int)n;
  }
  return -1;
}

static void serve_one(cli_metrics_http *h, int fd) {
  struct timeval tv = {5, 0};
  char req[8192], *text = NULL;
  size_t need = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (read_head(fd, req, sizeof req) < 0 || strstr(req, " HTTP/1.") == NULL) {
    answer(fd, "400 Bad Request", "text/plain", "bad request\n", 12);
  } else if (strncmp(req, "GET ", 4) != 0 && strncmp(req, "HEAD ", 5) != 0) {
    answer(fd, "405 Method Not Allowed", "text/plain", "only GET\n", 9);
  } else if (strncmp(req + (req[0] == 'G' ? 4 : 5), "/metrics ", 9) != 0 &&
             strncmp(req + (req[0] == 'G' ? 4 : 5), "/metrics?", 9) != 0) {
    answer(fd, "404 Not Found", "text/plain", "try /metrics\n", 13);
  } else {
    int r;
    hotssl_manager_metrics(h->m, NULL, 0, &need);
    /* Entries can appear between the two calls (a reload): some room. */
    need += 4096;
    if ((text = malloc(need)) == NULL || (r = hotssl_manager_metrics(h->m, text, need, NULL)) != 0) {
      answer(fd, "500 Internal Server Error", "text/plain", "metrics unavailable\n", 20);
    } else if (req[0] == 'H') {
      answer(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", 0);
    } else {
      answer(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    }
    free(text);
  }
  shutdown(fd, SHUT_WR); /* the end of the answer, even if a fork child holds a copy */
  close(fd);
}

static void *metrics_main(void *p) {
  cli_metrics_http *h = p;
  for (;;) {
    struct pollfd pf[2];
    pf[0].fd = h->lfd;
    pf[1].fd = h->stop[0];
    pf[0].events = pf[1].events = POLLIN;
    pf[0].revents = pf[1].revents = 0;
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      cli_log(NULL, HOTSSL_LOG_WARNING, "metrics: poll failed, no more scrapes");
      return NULL;
    }
    if (pf[1].revents)
      return NULL;
    if (pf[0].revents) {
      int fd = cli_accept(h->lfd);
      if (fd >= 0)
        serve_one(h, fd);
    }
  }
}

/* "ADDR:PORT", "[ADDR]:PORT", ":PORT", "PORT" into host (NULL: the
 * default) and port; 0, or 2 after printing the problem. */
static int parse_spec(const char *spec, char *host, size_t hostlen, const char **host_out,
                      unsigned long *port) {
  const char *colon = strrchr(spec, ':'), *ps = colon != NULL ? colon + 1 : spec;
  size_t hl = colon != NULL ? (size_t)(colon - spec) : 0;
  *host_out = NULL;
  if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
    spec++;
    hl -= 2;
  }
  if (hl >= hostlen) {
    fprintf(stderr, "hotssl serve: --metrics-listen: address too long\n");
    return 2;
  }
  if (hl > 0) {
    memcpy(host, spec, hl);
    host[hl] = '\0';
    *host_out = host;
  }
  return cli_parse_uint("serve", "the port of --metrics-listen", ps, 0, 65535, port);
}

int cli_metrics_http_start(hotssl_manager *m, const char *spec, cli_metrics_http **out) {
  cli_metrics_http *h;
  char host[256], shown[80];
  const char *hp;
  unsigned long port;
  int actual = 0;
  *out = NULL;
  if (parse_spec(spec, host, sizeof host, &hp, &port) != 0)
    return 2;
  if ((h = calloc(1, sizeof *h)) == NULL)
    return 1;
  h->m = m;
  h->stop[0] = h->stop[1] = -1;
  if ((h->lfd = cli_listen(hp, (int)port, &actual, shown, sizeof shown)) < 0) {
    fprintf(stderr, "hotssl: FATAL:  could not listen for metrics on %s: %s\n", spec, strerror(errno));
    free(h);
    return 1;
  }
  if (pipe(h->stop) != 0 || pthread_create(&h->th, NULL, metrics_main, h) != 0) {
    fprintf(stderr, "hotssl: FATAL:  could not start the metrics thread\n");
    if (h->stop[0] >= 0) {
      close(h->stop[0]);
      close(h->stop[1]);
    }
    close(h->lfd);
    free(h);
    return 1;
  }
  printf("metrics on http://%s/metrics\n", shown);
  fflush(stdout);
  *out = h;
  return 0;
}

void cli_metrics_http_stop(cli_metrics_http *h) {
  if (h == NULL)
    return;
  while (write(h->stop[1], "x", 1) < 0 && errno == EINTR)
    ;
  pthread_join(h->th, NULL);
  close(h->stop[0]);
  close(h->stop[1]);
  close(h->lfd);
  free(h);
}
