/*
 * Fork-safe randomness by construction. The host holds two
 * generations across a reload (an open connection's old one and the current
 * one), has used both, then forks 50 children WITHOUT calling any after-fork
 * function. Each child does a real TLS 1.2 handshake (ECDHE) with each
 * generation over a socket pair, and with mbedTLS 3.x a TLS 1.3 one too;
 * the client records the server's flight and the child reports the
 * ServerHello random and the server's key share (TLS 1.2: ServerKeyExchange;
 * TLS 1.3: the ServerHello's key_share extension). Across all handshakes (and the parent's own) there must
 * be no repeated random and no repeated key share. Every wait on a child has
 * a deadline: a child that hangs is killed and counted as a failure.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#  include <psa/crypto.h>
#endif

#include "hotssl/platform.h"
#include "testutil.h"

#define CHILDREN 50
/* TLS 1.2 (the generation's DRBG) and, with mbedTLS 3.x, TLS 1.3 (whose key
 * shares come from PSA's generator, reseeded with the DRBG). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
#  define VERSIONS 2
#else
#  define VERSIONS 1
#endif
#define PER_CHILD (2 * VERSIONS)
#define REC 200 /* 32 random, 1 share length, up to 167 share bytes (P-521: 137) */

static int checks;
#define T(c) do { checks++; CHECK(c); } while (0)

typedef struct rec_io {
  int fd;
  unsigned char in[16384];
  size_t inlen;
} rec_io;

static int rec_send(void *ctx, const unsigned char *b, size_t n) {
  ssize_t w = write(((rec_io *)ctx)->fd, b, n);
  return w < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)w;
}

static int rec_recv(void *ctx, unsigned char *b, size_t n) {
  rec_io *io = ctx;
  ssize_t r = read(io->fd, b, n);
  if (r < 0)
    return MBEDTLS_ERR_NET_RECV_FAILED;
  if (r > 0 && io->inlen + (size_t)r <= sizeof io->in) {
    memcpy(io->in + io->inlen, b, (size_t)r);
    io->inlen += (size_t)r;
  }
  return (int)r;
}

static int fd_send(void *ctx, const unsigned char *b, size_t n) {
  ssize_t w = write(*(int *)ctx, b, n);
  return w < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)w;
}

static int fd_recv(void *ctx, unsigned char *b, size_t n) {
  ssize_t r = read(*(int *)ctx, b, n);
  return r < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : (int)r;
}

typedef struct client {
  rec_io io;
  int tls13; /* 1: TLS 1.3 only (mbedTLS 3.x), 0: TLS 1.2 only */
  int result;
} client;

/* A TLS 1.2 client with its own RNG, recording what the server sends. */
static void *client_main(void *arg) {
  client *c = arg;
  mbedtls_entropy_context ent;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  int r;
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_ssl_config_init(&conf);
  mbedtls_ssl_init(&ssl);
  r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const unsigned char *)"cl", 2);
  if (r == 0)
    r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (r == 0) {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(&conf, c->tls13 ? MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&conf, c->tls13 ? MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    r = mbedtls_ssl_setup(&ssl, &conf);
  }
  if (r == 0) {
    mbedtls_ssl_set_bio(&ssl, &c->io, rec_send, rec_recv, NULL);
    r = mbedtls_ssl_handshake(&ssl);
  }
  c->result = r;
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  return NULL;
}

/* From the recorded server flight: the ServerHello random and the key share
 * of the ServerKeyExchange (ECDHE: curve type, curve, point). */
static int extract(const unsigned char *in, size_t inlen, unsigned char out[REC]) {
  unsigned char hs[16384];
  size_t hl = 0, i = 0;
  int got = 0;
  while (i + 5 <= inlen) {
    size_t len = ((size_t)in[i + 3] << 8) | in[i + 4];
    if (i + 5 + len > inlen)
      break;
    if (in[i] == 22 && hl + len <= sizeof hs) {
      memcpy(hs + hl, in + i + 5, len);
      hl += len;
    }
    i += 5 + len;
  }
  memset(out, 0, REC);
  for (i = 0; i + 4 <= hl;) {
    size_t len = ((size_t)hs[i + 1] << 16) | ((size_t)hs[i + 2] << 8) | hs[i + 3];
    const unsigned char *b = hs + i + 4;
    if (i + 4 + len > hl)
      break;
    if (hs[i] == 2 && len >= 34) {
      memcpy(out, b + 2, 32);
      got |= 1;
      /* TLS 1.3: the server's key share is the ServerHello's key_share
       * extension (the rest of the flight is encrypted). */
      size_t o = 34;
      if (o < len)
        o += 1 + b[o];           /* legacy_session_id */
      o += 2 + 1;                /* cipher suite, compression */
      if (o + 2 <= len) {
        size_t end = o + 2 + ((size_t)b[o] << 8 | b[o + 1]);
        for (o += 2; o + 4 <= end && end <= len;) {
          size_t et = (size_t)b[o] << 8 | b[o + 1], el = (size_t)b[o + 2] << 8 | b[o + 3];
          if (et == 0x0033 && el >= 4 && el <= REC - 33 && o + 4 + el <= end) {
            out[32] = (unsigned char)el;
            memcpy(out + 33, b + o + 4, el);
            got |= 2;
          }
          o += 4 + el;
        }
      }
    } else if (hs[i] == 12 && len >= 4 && b[0] == 3 && 4u + b[3] <= len && 4u + b[3] <= REC - 33) {
      out[32] = (unsigned char)(4 + b[3]);
      memcpy(out + 33, b, 4u + b[3]);
      got |= 2;
    }
    i += 4 + len;
  }
  return got == 3 ? 0 : -1;
}

/* One handshake with generation g: server here, client in a thread. */
static int handshake(hotssl_generation *g, int tls13, unsigned char out[REC]) {
  int sv[2], r;
  pthread_t th;
  static client c;
  mbedtls_ssl_context ssl;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    return -1;
  memset(&c, 0, sizeof c);
  c.io.fd = sv[1];
  c.tls13 = tls13;
  if (pthread_create(&th, NULL, client_main, &c) != 0)
    return -1;
  mbedtls_ssl_init(&ssl);
  r = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g));
  if (r == 0) {
    mbedtls_ssl_set_bio(&ssl, &sv[0], fd_send, fd_recv, NULL);
    r = mbedtls_ssl_handshake(&ssl);
  }
  if (r != 0)
    shutdown(sv[0], SHUT_RDWR); /* unblock the client */
  pthread_join(th, NULL);
  mbedtls_ssl_free(&ssl);
  close(sv[0]);
  close(sv[1]);
  if (r != 0 || c.result != 0) {
    fprintf(stderr, "handshake failed: server -0x%04x, client -0x%04x\n", (unsigned)-r, (unsigned)-c.result);
    return -1;
  }
  return extract(c.io.in, c.io.inlen, out);
}

static int read_all(int fd, unsigned char *buf, size_t n, uint64_t deadline) {
  size_t got = 0;
  while (got < n && tu_now_ms() < deadline) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t k;
    if (poll(&p, 1, 200) <= 0)
      continue;
    k = read(fd, buf + got, n - got);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  return got == n ? 0 : -1;
}

int main(void) {
  char *dir = tu_mkdtemp(), *conf;
  hotssl_manager *m = NULL;
  hotssl_generation *g[2];
  static unsigned char recs[PER_CHILD * (CHILDREN + 1)][REC];
  int nrec = 0, failed_children = 0;
  pid_t pids[CHILDREN];
  int fds[CHILDREN];

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
  psa_crypto_init();
#endif
  signal(SIGPIPE, SIG_IGN);
  if ((conf = tu_two_pairs_manager(dir, NULL, &m)) == NULL)
    return 1;
  g[0] = hotssl_manager_acquire(m); /* an open connection's generation */
  tu_write_atomic(conf, TU_CONF_B, 0644);
  T(hotssl_manager_reload(m, HOTSSL_TRIGGER_API) == 0);
  g[1] = hotssl_manager_acquire(m);
  T(g[0] != g[1]);
  /* The parent uses both before forking: the state the children inherit. */
  for (int k = 0; k < PER_CHILD; k++) {
    T(handshake(g[k % 2], k / 2, recs[nrec]) == 0);
    nrec++;
  }

  for (int i = 0; i < CHILDREN; i++) {
    int p[2];
    if (pipe(p) != 0)
      return 1;
    pids[i] = fork();
    if (pids[i] == 0) { /* no after-fork call of any kind */
      unsigned char out[PER_CHILD][REC];
      close(p[0]);
      for (int k = 0; k < PER_CHILD; k++)
        if (handshake(g[k % 2], k / 2, out[k]) != 0)
          _exit(2);
      _exit(write(p[1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 3);
    }
    close(p[1]);
    fds[i] = p[0];
  }
  for (int i = 0; i < CHILDREN; i++) {
    unsigned char out[PER_CHILD][REC];
    int st = 0;
    /* Generous deadline on a loaded machine; a hung child fails, never hangs. */
    if (read_all(fds[i], &out[0][0], sizeof out, tu_now_ms() + 60000) != 0) {
      kill(pids[i], SIGKILL);
      failed_children++;
    } else {
      for (int k = 0; k < PER_CHILD; k++)
        memcpy(recs[nrec++], out[k], REC);
    }
    close(fds[i]);
    waitpid(pids[i], &st, 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
      failed_children++;
  }
  checks++;
  CHECK_EQ_INT(failed_children, 0);
  checks++;
  CHECK_EQ_INT(nrec, PER_CHILD * (CHILDREN + 1));

  int same_random = 0, same_share = 0;
  for (int a = 0; a < nrec; a++)
    for (int b = a + 1; b < nrec; b++) {
      /* mbedTLS 2.28 puts the time in the first 4 bytes: compare the 28 random ones */
      same_random += memcmp(recs[a] + 4, recs[b] + 4, 28) == 0;
      same_share += recs[a][32] == recs[b][32] && memcmp(recs[a] + 33, recs[b] + 33, recs[a][32]) == 0;
    }
  printf("handshakes %d, repeated ServerHello randoms %d, repeated key shares %d\n", nrec,
         same_random, same_share);
  checks++;
  CHECK_EQ_INT(same_random, 0);
  checks++;
  CHECK_EQ_INT(same_share, 0);

  hotssl_generation_release(g[0]);
  hotssl_generation_release(g[1]);
  hotssl_manager_destroy(m);
  tu_rmtree(dir);
  free(dir);
  free(conf);
  return tu_finish("test_fork_rng", checks);
}
