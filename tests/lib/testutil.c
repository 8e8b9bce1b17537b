/* Helpers for the C tests; see testutil.h. */
#include "certgen.h"
#include "manager.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

int tu_failures;

int tu_finish(const char *name, int checks_run) {
  printf("%s: %d passed, %d failed\n", name, checks_run - tu_failures, tu_failures);
  return tu_failures == 0 ? 0 : 1;
}

const char *tu_testdata(void) {
  static int said;
  const char *d = getenv("HOTSSL_TESTDATA");
  struct stat st;
  char *mark;
#ifdef HOTSSL_TESTDATA_DIR
  if (d == NULL || d[0] == '\0')
    d = HOTSSL_TESTDATA_DIR;
#endif
  if (d == NULL || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "test data directory not found (%s): set HOTSSL_TESTDATA\n", d ? d : "unset");
    exit(1);
  }
  if (!said) {
    /* Say which set runs: the generated one carries a .complete mark. */
    mark = tu_path(d, ".complete");
    printf("test data: %s (%s)\n", access(mark, F_OK) == 0 ? "generated PostgreSQL-shaped set" : "PostgreSQL's own files", d);
    fflush(stdout);
    free(mark);
    said = 1;
  }
  return d;
}

void tu_put_testdata(const char *dir, const char *name, const char *testdata_name, int mode) {
  char src[1024], *dst = tu_path(dir, name);
  snprintf(src, sizeof src, "%s/%s", tu_testdata(), testdata_name);
  tu_copy(src, dst, mode);
  free(dst);
}

char *tu_mkdtemp(void) {
  char *t = strdup("/tmp/hotssl-test-XXXXXX");
  if (t == NULL || mkdtemp(t) == NULL) {
    perror("mkdtemp");
    exit(1);
  }
  return t;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)flag;
  (void)f;
  return remove(p);
}

void tu_rmtree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

char *tu_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t len, int mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
    fprintf(stderr, "write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  fchmod(fd, (mode_t)mode);
  close(fd);
}

void tu_copy(const char *from, const char *to, int mode) {
  FILE *f = fopen(from, "rb");
  char *buf;
  long n;
  if (f == NULL) {
    fprintf(stderr, "open %s: %s\n", from, strerror(errno));
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "read %s failed\n", from);
    exit(1);
  }
  fclose(f);
  write_bytes(to, buf, (size_t)n, mode);
  free(buf);
}

void tu_write(const char *path, const char *text, int mode) {
  write_bytes(path, text, strlen(text), mode);
}

void tu_write_dh_params(const char *path) {
  unsigned char der[300];
  size_t n = certgen_dh_der(der, sizeof der);
  if (n == 0) {
    fprintf(stderr, "certgen_dh_der failed\n");
    exit(1);
  }
  write_bytes(path, der, n, 0644);
}

void tu_write_atomic(const char *path, const char *text, int mode) {
  size_t n = strlen(path) + 8;
  char *tmp = malloc(n);
  snprintf(tmp, n, "%s.tmp~", path);
  write_bytes(tmp, text, strlen(text), mode);
  if (rename(tmp, path) != 0) {
    fprintf(stderr, "rename %s: %s\n", tmp, strerror(errno));
    exit(1);
  }
  free(tmp);
}

void tu_memo_racy(struct hotssl__file_memo *memo, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "stat %s: %s\n", path, strerror(errno));
    exit(1);
  }
  memo->id.size = (uint64_t)st.st_size;
  memo->id.ino = (uint64_t)st.st_ino;
  memo->id.dev = (uint64_t)st.st_dev;
  memo->id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  memo->id.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
  memo->seen_ns = memo->id.ctime_ns + 4000000;
}

uint64_t tu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *tu_two_pairs_manager(const char *dir, hotssl_log_fn log, hotssl_manager **m) {
  static const char *files[4][2] = {{"server-cn-only.crt", "a.crt"},
                                    {"server-cn-only.key", "a.key"},
                                    {"server-cn-and-alt-names.crt", "b.crt"},
                                    {"server-cn-and-alt-names.key", "b.key"}};
  const char *td = tu_testdata();
  hotssl_config *cfg;
  hotssl_manager_options o = {0};
  char src[1024], err[512], *dst, *conf;
  int i, r;
  for (i = 0; i < 4; i++) {
    snprintf(src, sizeof src, "%s/%s", td, files[i][0]);
    tu_copy(src, dst = tu_path(dir, files[i][1]), (i & 1) ? 0600 : 0644);
    free(dst);
  }
  conf = tu_path(dir, "hotssl.conf");
  tu_write(conf, TU_CONF_A, 0644);
  o.log = log;
  *m = NULL;
  if ((r = hotssl_config_create(&cfg)) == 0 &&
      (r = hotssl_config_load_file(cfg, conf, err, sizeof err)) == 0)
    r = hotssl_manager_create(m, cfg, &o, err, sizeof err);
  hotssl_config_destroy(cfg);
  if (r != 0) {
    fprintf(stderr, "could not create the manager: %s\n", err);
    free(conf);
    return NULL;
  }
  return conf;
}

int tu_openssl_gencrl(const char *dir) {
  char *p, *cmd, cnf[1024];
  size_t n = strlen(dir) + 256;
  int r;
  snprintf(cnf, sizeof cnf,
           "[ca]\ndefault_ca=b\n[b]\ndatabase=%s/index.txt\ncrlnumber=%s/crlnumber\n"
           "default_md=sha256\ndefault_crl_days=30\n", dir, dir);
  tu_write(p = tu_path(dir, "ca.cnf"), cnf, 0644);
  free(p);
  tu_write(p = tu_path(dir, "crlnumber"), "01\n", 0644);
  free(p);
  cmd = malloc(n);
  snprintf(cmd, n,
           "cd '%s' && openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out crl.pem"
           " >ca.log 2>&1", dir);
  r = system(cmd) == 0 ? 0 : -1;
  if (r != 0) {
    snprintf(cmd, n, "echo 'openssl ca -gencrl failed:' >&2; cat '%s/ca.log' >&2", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "openssl ca -gencrl failed in %s\n", dir);
  }
  free(cmd);
  return r;
}

/* ---- log collector ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char **log_lines;
static size_t log_n, log_cap;

void tu_log(void *ud, hotssl_log_level level, const char *msg) {
  (void)ud;
  pthread_mutex_lock(&log_mu);
  if (log_n == log_cap) {
    log_cap = log_cap ? 2 * log_cap : 64;
    log_lines = realloc(log_lines, log_cap * sizeof *log_lines);
  }
  log_lines[log_n++] = strdup(msg);
  pthread_mutex_unlock(&log_mu);
  if (getenv("TU_VERBOSE") != NULL)
    fprintf(stderr, "log %s: %s\n", hotssl_log_level_name(level), msg);
}

int tu_log_count(const char *sub) {
  size_t i;
  int n = 0;
  pthread_mutex_lock(&log_mu);
  for (i = 0; i < log_n; i++)
    if (strstr(log_lines[i], sub) != NULL)
      n++;
  pthread_mutex_unlock(&log_mu);
  return n;
}

void tu_log_clear(void) {
  pthread_mutex_lock(&log_mu);
  while (log_n > 0)
    free(log_lines[--log_n]);
  free(log_lines);
  log_lines = NULL;
  log_cap = 0;
  pthread_mutex_unlock(&log_mu);
}

/* ---- server ---- */

#define TU_MAX_THREADS 16

struct tu_server {
  hotssl_manager *m;
  int lfd, port, nthreads;
  atomic_int stop;
  atomic_ullong failures;
  pthread_t th[TU_MAX_THREADS];
};

static void *server_main(void *p) {
  tu_server *s = p;
  while (!atomic_load(&s->stop)) {
    int fd = accept(s->lfd, NULL, NULL);
    hotssl_generation *g;
    mbedtls_ssl_context ssl;
    mbedtls_net_context net;
    int ret;
    if (fd < 0)
      continue;
    {
      int one = 1; /* else Nagle + delayed ACK add ~40 ms per handshake */
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (atomic_load(&s->stop)) {
      close(fd);
      break;
    }
    g = hotssl_manager_acquire(s->m);
    net.fd = fd;
    mbedtls_ssl_init(&ssl);
    ret = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g));
    if (ret == 0) {
      mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
      do
        ret = mbedtls_ssl_handshake(&ssl);
      while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    }
    if (ret == 0)
      ret = mbedtls_ssl_write(&ssl, (const unsigned char *)"ok", 2) == 2 ? 0 : -1;
    if (ret != 0)
      atomic_fetch_add(&s->failures, 1);
    else
      mbedtls_ssl_close_notify(&ssl);
    mbedtls_ssl_free(&ssl);
    hotssl_generation_release(g);
    close(fd);
  }
  return NULL;
}

int tu_listen_loopback(int backlog, int *port) {
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    perror("listen");
    exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

tu_server *tu_server_start(hotssl_manager *m, int threads) {
  tu_server *s = calloc(1, sizeof *s);
  int i;
  signal(SIGPIPE, SIG_IGN); /* a refused client closes before our alert */
  s->m = m;
  s->nthreads = threads > TU_MAX_THREADS ? TU_MAX_THREADS : threads;
  s->lfd = tu_listen_loopback(256, &s->port);
  for (i = 0; i < s->nthreads; i++)
    pthread_create(&s->th[i], NULL, server_main, s);
  return s;
}

int tu_server_port(const tu_server *s) { return s->port; }

uint64_t tu_server_handshake_failures(const tu_server *s) {
  return atomic_load(&((tu_server *)s)->failures);
}

static int connect_port(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void tu_server_stop(tu_server *s) {
  int i;
  atomic_store(&s->stop, 1);
  /* Wake every thread blocked in accept. */
  for (i = 0; i < s->nthreads; i++) {
    int fd = connect_port(s->port);
    if (fd >= 0)
      close(fd);
  }
  for (i = 0; i < s->nthreads; i++)
    pthread_join(s->th[i], NULL);
  close(s->lfd);
  free(s);
}

/* ---- client ---- */

int tu_client_serial(int port, const char *ca_file, char *serial, size_t len) {
  return tu_client_ex(port, ca_file, NULL, NULL, serial, len);
}

static int client_run(int port, const char *ca_file, const char *cert_file, const char *key_file,
                      const char *server_name, char *serial, size_t len, int read_ok);

int tu_client_ex(int port, const char *ca_file, const char *cert_file,
                 const char *key_file, char *serial, size_t len) {
  return client_run(port, ca_file, cert_file, key_file, NULL, serial, len, 1);
}

int tu_client_handshake(int port, char *serial, size_t len) {
  return client_run(port, NULL, NULL, NULL, NULL, serial, len, 0);
}

int tu_client_sni(int port, const char *ca_file, const char *cert_file, const char *key_file,
                  const char *server_name, char *serial, size_t len) {
  return client_run(port, ca_file, cert_file, key_file, server_name, serial, len, 1);
}

static int client_run(int port, const char *ca_file, const char *cert_file, const char *key_file,
                      const char *server_name, char *serial, size_t len, int read_ok) {
  mbedtls_x509_crt own;
  mbedtls_pk_context own_key;
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_entropy_context ent;
  mbedtls_x509_crt ca;
  mbedtls_net_context net;
  const mbedtls_x509_crt *peer;
  unsigned char buf[8];
  int ret;

  serial[0] = '\0';
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_entropy_init(&ent);
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&own);
  mbedtls_pk_init(&own_key);
  net.fd = -1;
  if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0)) != 0)
    goto out;
  if ((ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
    goto out;
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  if (ca_file != NULL) {
    if ((ret = mbedtls_x509_crt_parse_file(&ca, ca_file)) != 0)
      goto out;
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  }
  if (cert_file != NULL) {
    if ((ret = mbedtls_x509_crt_parse_file(&own, cert_file)) != 0 ||
        (ret = certgen_parse_keyfile(&own_key, key_file, &drbg)) != 0 ||
        (ret = mbedtls_ssl_conf_own_cert(&conf, &own, &own_key)) != 0)
      goto out;
  }
  if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0)
    goto out;
  if (server_name != NULL && (ret = mbedtls_ssl_set_hostname(&ssl, server_name)) != 0)
    goto out;
  if ((net.fd = connect_port(port)) < 0) {
    ret = -1;
    goto out;
  }
  mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
  do
    ret = mbedtls_ssl_handshake(&ssl);
  while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
  if (ret != 0)
    goto out;
  peer = mbedtls_ssl_get_peer_cert(&ssl);
  if (peer != NULL) {
    size_t i = 0, off = 0;
    while (i + 1 < peer->serial.len && peer->serial.p[i] == 0)
      i++;
    for (; i < peer->serial.len && off + 3 < len; i++)
      off += (size_t)snprintf(serial + off, len - off, "%02X", peer->serial.p[i]);
  }
  if (read_ok) {
    do
      ret = mbedtls_ssl_read(&ssl, buf, sizeof buf);
    while (ret == MBEDTLS_ERR_SSL_WANT_READ);
    ret = ret == 2 ? 0 : (ret < 0 ? ret : -1);
  }
  mbedtls_ssl_close_notify(&ssl);
out:
  if (net.fd >= 0)
    close(net.fd);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  mbedtls_x509_crt_free(&ca);
  mbedtls_x509_crt_free(&own);
  mbedtls_pk_free(&own_key);
  return ret;
}
