/*
 * A minimal fork-per-connection TLS echo server (POSIX), built twice from
 * this one source to measure what hotssl adds to a forking host
 * (bench/run, section "fork host"):
 *
 *   bench_fork_host_static CERT KEY   -DFORK_HOST_STATIC=1: plain mbedTLS,
 *       one mbedtls_ssl_config built at start from the two files, the way a
 *       host without hotssl would; each child reseeds the DRBG (and, on
 *       mbedTLS 3.x, PSA's global generator, the source of TLS 1.3 key
 *       shares) before its handshake, as a correct forking server must.
 *   bench_fork_host_hotssl CONF       a hotssl_manager built at start; per
 *       connection the parent acquires the current generation and forks
 *       between hotssl_manager_before_fork and _after_fork_parent (then
 *       releases it); the child calls hotssl_manager_after_fork_child first
 *       thing and handshakes with the generation's mbedtls_ssl_config.
 *
 * Everything else is the same code: the listener (127.0.0.1, port 0,
 * close-on-exec, like examples/example_common.c's example_listen), the
 * blocking accept loop, TCP_NODELAY on each connection, SIGCHLD reaping,
 * the child's blocking handshake and echo until the client closes, and its
 * _exit(0). Prints "listening on 127.0.0.1:PORT" like `hotssl serve`; ends
 * on SIGTERM (the default action). Each child serves one connection with
 * no handshake deadline: a benchmark server, not an example to copy
 * (examples/ has those).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#ifdef FORK_HOST_STATIC
#  include <mbedtls/ctr_drbg.h>
#  include <mbedtls/entropy.h>
#  include <mbedtls/pk.h>
#  include <mbedtls/x509_crt.h>
#  if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#    include <psa/crypto.h>
#    define FORK_HOST_PSA 1
#  endif
#else
#  include <hotssl/hotssl.h>
#  include <hotssl/platform.h>
#endif

/* ---- the host, two ways ---- */

#ifdef FORK_HOST_STATIC
typedef struct host {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
} host;

static host H;

static int host_start(int argc, char **argv) {
  static const char pers[] = "fork_host static";
  if (argc != 3) {
    fprintf(stderr, "usage: %s CERT KEY\n", argv[0]);
    return -1;
  }
#  ifdef FORK_HOST_PSA
  if (psa_crypto_init() != PSA_SUCCESS)
    return -1;
#  endif
  mbedtls_entropy_init(&H.entropy);
  mbedtls_ctr_drbg_init(&H.drbg);
  mbedtls_x509_crt_init(&H.chain);
  mbedtls_pk_init(&H.key);
  mbedtls_ssl_config_init(&H.conf);
  if (mbedtls_ctr_drbg_seed(&H.drbg, mbedtls_entropy_func, &H.entropy, (const unsigned char *)pers,
                            sizeof pers - 1) != 0 ||
      mbedtls_x509_crt_parse_file(&H.chain, argv[1]) != 0 ||
#  if MBEDTLS_VERSION_NUMBER >= 0x03000000
      mbedtls_pk_parse_keyfile(&H.key, argv[2], NULL, mbedtls_ctr_drbg_random, &H.drbg) != 0 ||
#  else
      mbedtls_pk_parse_keyfile(&H.key, argv[2], NULL) != 0 ||
#  endif
      mbedtls_ssl_config_defaults(&H.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
      mbedtls_ssl_conf_own_cert(&H.conf, &H.chain, &H.key) != 0) {
    fprintf(stderr, "could not start: cannot load %s / %s\n", argv[1], argv[2]);
    return -1;
  }
  mbedtls_ssl_conf_rng(&H.conf, mbedtls_ctr_drbg_random, &H.drbg);
  return 0;
}

/* Parent, per accepted connection: nothing to take. */
static void *host_before_fork(void) { return &H.conf; }
static void host_after_fork_parent(void *c) { (void)c; }

/* Child: the inherited DRBG state is the parent's (and every sibling's):
 * reseed it from fresh entropy, personalized with the pid. */
static const mbedtls_ssl_config *host_after_fork_child(void *c) {
  char pers[64];
  int n = snprintf(pers, sizeof pers, "fork_host child %ld", (long)getpid());
  if (mbedtls_ctr_drbg_reseed(&H.drbg, (const unsigned char *)pers, (size_t)n) != 0)
    return NULL;
#  ifdef FORK_HOST_PSA
  if (psa_random_reseed((const uint8_t *)pers, (size_t)n) != PSA_SUCCESS)
    return NULL;
#  endif
  return c;
}

#else /* hotssl */

static hotssl_manager *M;

static void host_log(void *ud, hotssl_log_level lv, const char *msg) {
  (void)ud;
  fprintf(stderr, "fork_host[%ld] %s: %s\n", (long)getpid(), hotssl_log_level_name(lv), msg);
}

static int host_start(int argc, char **argv) {
  hotssl_config *cfg;
  hotssl_manager_options mo = {0};
  char err[512] = "";
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONF\n", argv[0]);
    return -1;
  }
  mo.log = host_log;
  if (hotssl_config_create(&cfg) != 0 || hotssl_config_load_file(cfg, argv[1], err, sizeof err) != 0 ||
      hotssl_manager_create(&M, cfg, &mo, err, sizeof err) != 0) {
    fprintf(stderr, "could not start: %s\n", err);
    return -1;
  }
  hotssl_config_destroy(cfg);
  return 0;
}

/* Parent, per accepted connection: the generation current now, which the
 * child serves; the manager's lock across fork(). */
static void *host_before_fork(void) {
  hotssl_generation *g = hotssl_manager_acquire(M);
  hotssl_manager_before_fork(M);
  return g;
}

static void host_after_fork_parent(void *g) {
  hotssl_manager_after_fork_parent(M);
  hotssl_generation_release(g);
}

static const mbedtls_ssl_config *host_after_fork_child(void *g) {
  if (hotssl_manager_after_fork_child(M) != 0)
    return NULL;
  return hotssl_generation_ssl_config(g);
}
#endif

/* ---- the same for both ---- */

static int listen_any(int *port) {
  struct sockaddr_in a = {0};
  socklen_t alen = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

/* What bench/run reads to explain a gap (SIGUSR1 prints it): the reaped
 * children's minor faults (copy-on-write and first touches) and CPU time,
 * from wait4's rusage, and the parent's time inside fork(). */
static volatile sig_atomic_t report;
static struct {
  long children, minflt;
  long long cpu_us, fork_ns;
} stats;

static void on_chld(int s) {
  struct rusage ru;
  int e = errno;
  (void)s;
  while (wait4(-1, NULL, WNOHANG, &ru) > 0) {
    stats.children++;
    stats.minflt += ru.ru_minflt;
    stats.cpu_us += (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
                    ru.ru_stime.tv_usec;
  }
  errno = e;
}

static void on_usr1(int s) {
  (void)s;
  report = 1;
}

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "stats children N minflt F cpu_us C fork_ns T" (totals since the last
 * report), then zeroes them; SIGCHLD is blocked meanwhile. */
static void print_stats(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);
  printf("stats children %ld minflt %ld cpu_us %lld fork_ns %lld\n", stats.children, stats.minflt, stats.cpu_us,
         stats.fork_ns);
  fflush(stdout);
  memset(&stats, 0, sizeof stats);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The child's connection: handshake, echo until the client closes. */
static void serve(const mbedtls_ssl_config *conf, int fd) {
  mbedtls_ssl_context ssl;
  mbedtls_net_context net;
  unsigned char buf[4096];
  int n, ret;
  net.fd = fd;
  mbedtls_ssl_init(&ssl);
  if (conf != NULL && mbedtls_ssl_setup(&ssl, conf) == 0) {
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
           ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      ;
    if (ret == 0)
      while ((n = mbedtls_ssl_read(&ssl, buf, sizeof buf)) > 0)
        if (mbedtls_ssl_write(&ssl, buf, (size_t)n) < 0)
          break;
  }
  mbedtls_ssl_free(&ssl);
}

int main(int argc, char **argv) {
  struct sigaction sa;
  int lfd, port;
  if (host_start(argc, argv) != 0)
    return 1;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_usr1;
  sa.sa_flags = 0; /* accept() returns EINTR: the loop prints */
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = 0;
  sigaction(SIGPIPE, &sa, NULL);
  if ((lfd = listen_any(&port)) < 0) {
    perror("listen");
    return 1;
  }
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  for (;;) {
    int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    void *c;
    long long t;
    pid_t pid;
    if (report) {
      report = 0;
      print_stats();
    }
    if (fd < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = host_before_fork();
    t = mono_ns();
    pid = fork();
    if (pid == 0) {
      const mbedtls_ssl_config *conf = host_after_fork_child(c);
      close(lfd);
      serve(conf, fd);
      _exit(conf != NULL ? 0 : 1);
    }
    stats.fork_ns += mono_ns() - t;
    host_after_fork_parent(c);
    if (pid < 0)
      perror("fork");
    close(fd);
  }
}
