/*
 * hotssl_ssl_write: a writer that, after MBEDTLS_ERR_SSL_WANT_WRITE, comes
 * back with MORE bytes (its unsent bytes still at the start of its buffer),
 * as PostgreSQL's secure_write does. A real mbedTLS server (a hotssl
 * generation's configuration) and client over an in-memory transport whose
 * send, while throttled, accepts half of what it is offered and then
 * answers WANT_WRITE. The client must receive exactly the byte stream
 * written. The contrast: plain mbedtls_ssl_write with the same growing
 * lengths reports bytes as written that the held record does not carry,
 * and the stream arrives short (deterministic with this transport).
 */
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

#define TOTAL 200000u

typedef struct pipe_q {
  unsigned char *buf;
  size_t r, w, cap;
} pipe_q;

typedef struct end {
  pipe_q *out, *in;
  int throttle, toggle;
  unsigned long would_block;
} end;

static int q_send(void *ctx, const unsigned char *b, size_t len) {
  end *e = ctx;
  size_t n = len;
  if (e->throttle) {
    if (e->toggle) {
      e->toggle = 0;
      e->would_block++;
      return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    e->toggle = 1;
    n = len > 1 ? len / 2 : len; /* half, then would-block */
  }
  if (e->out->w + n > e->out->cap)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  memcpy(e->out->buf + e->out->w, b, n);
  e->out->w += n;
  return (int)n;
}

static int q_recv(void *ctx, unsigned char *b, size_t len) {
  end *e = ctx;
  size_t n = e->in->w - e->in->r;
  if (n == 0)
    return MBEDTLS_ERR_SSL_WANT_READ;
  if (n > len)
    n = len;
  memcpy(b, e->in->buf + e->in->r, n);
  e->in->r += n;
  return (int)n;
}

/* Everything the client can read now, appended to got. */
static int drain(mbedtls_ssl_context *cli, unsigned char *got, size_t *n, size_t cap) {
  for (;;) {
    int r = mbedtls_ssl_read(cli, got + *n, cap - *n);
    if (r == MBEDTLS_ERR_SSL_WANT_READ)
      return 0;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
      continue;
#endif
    if (r <= 0)
      return r;
    *n += (size_t)r;
    if (*n == cap)
      return 0;
  }
}

/* One connection: handshake unthrottled, then TOTAL bytes written with
 * growing lengths after each WANT_WRITE. Returns the bytes the client got
 * (-1 on a setup failure); *same: they equal the stream written. */
static long run(const hotssl_generation *g, int use_hotssl, int *same, unsigned long *blocks) {
  mbedtls_ssl_context srv, cli;
  mbedtls_ssl_config ccfg;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_entropy_context ent;
  pipe_q c2s = {0}, s2c = {0};
  end se, ce;
  unsigned char *data = malloc(TOTAL), *got = malloc(TOTAL + 65536);
  size_t off = 0, n = 0, grow = 0, pending = 0, i;
  long result = -1;
  int sdone = 0, cdone = 0, rounds = 0, r;

  *same = 0;
  c2s.cap = s2c.cap = 4u << 20;
  c2s.buf = malloc(c2s.cap);
  s2c.buf = malloc(s2c.cap);
  for (i = 0; i < TOTAL; i++)
    data[i] = (unsigned char)(i * 7u + (i >> 8));
  se.out = &s2c;
  se.in = &c2s;
  ce.out = &c2s;
  ce.in = &s2c;
  se.throttle = ce.throttle = se.toggle = ce.toggle = 0;
  se.would_block = ce.would_block = 0;
  mbedtls_ssl_init(&srv);
  mbedtls_ssl_init(&cli);
  mbedtls_ssl_config_init(&ccfg);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_entropy_init(&ent);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0) != 0 ||
      mbedtls_ssl_config_defaults(&ccfg, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT) != 0)
    goto out;
  mbedtls_ssl_conf_rng(&ccfg, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_authmode(&ccfg, MBEDTLS_SSL_VERIFY_NONE);
  if (mbedtls_ssl_setup(&srv, hotssl_generation_ssl_config(g)) != 0 ||
      mbedtls_ssl_setup(&cli, &ccfg) != 0)
    goto out;
  mbedtls_ssl_set_bio(&srv, &se, q_send, q_recv, NULL);
  mbedtls_ssl_set_bio(&cli, &ce, q_send, q_recv, NULL);
  while ((!sdone || !cdone) && rounds++ < 1000) {
    if (!cdone) {
      r = mbedtls_ssl_handshake(&cli);
      if (r == 0)
        cdone = 1;
      else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
        goto out;
    }
    if (!sdone) {
      r = mbedtls_ssl_handshake(&srv);
      if (r == 0)
        sdone = 1;
      else if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
        goto out;
    }
  }
  if (!sdone || !cdone)
    goto out;

  se.throttle = 1;
  rounds = 0;
  while (off < TOTAL && rounds++ < 100000) {
    size_t len = TOTAL - off < 3000 + grow ? TOTAL - off : 3000 + grow;
    r = use_hotssl ? hotssl_ssl_write(&srv, &pending, data + off, len)
                   : mbedtls_ssl_write(&srv, data + off, len);
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
      grow += 777; /* the host has more to send by the time it retries */
    } else if (r < 0) {
      fprintf(stderr, "write failed: -0x%04x\n", (unsigned)-r);
      break;
    } else {
      T((size_t)r <= len);
      off += (size_t)r;
      grow = 0;
    }
    if (drain(&cli, got, &n, TOTAL + 65536) < 0)
      break;
  }
  se.throttle = 0;
  (void)drain(&cli, got, &n, TOTAL + 65536);
  *blocks = se.would_block;
  *same = n == TOTAL && memcmp(got, data, TOTAL) == 0;
  result = (long)n;
out:
  mbedtls_ssl_free(&srv);
  mbedtls_ssl_free(&cli);
  mbedtls_ssl_config_free(&ccfg);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  free(c2s.buf);
  free(s2c.buf);
  free(data);
  free(got);
  return result;
}

int main(void) {
  char *dir = tu_mkdtemp(), *conf;
  hotssl_manager *m = NULL;
  hotssl_generation *g;
  unsigned long blocks = 0;
  long got;
  int same;

  conf = tu_two_pairs_manager(dir, NULL, &m);
  T(m != NULL);
  if (m == NULL)
    return tu_finish("test_ssl_write", checks);
  g = hotssl_manager_acquire(m);

  /* hotssl_ssl_write: exactly the stream, nothing lost or repeated. */
  got = run(g, 1, &same, &blocks);
  TEQ(got, TOTAL);
  T(same);
  T(blocks > 10); /* the transport did block, many times */

  /* Contrast: plain mbedtls_ssl_write with the growing length loses bytes
   * (it reports the longer length for the held, shorter record). */
  got = run(g, 0, &same, &blocks);
  T(got >= 0);
  T(got < (long)TOTAL);
  T(!same);
  printf("plain mbedtls_ssl_write delivered %ld of %u bytes\n", got, TOTAL);

  /* The contract's argument checks. */
  {
    mbedtls_ssl_context ssl;
    size_t pending = 100;
    unsigned char b[10] = {0};
    mbedtls_ssl_init(&ssl);
    T(mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g)) == 0);
    TEQ(hotssl_ssl_write(&ssl, &pending, b, sizeof b), MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    TEQ(pending, 100);
    TEQ(hotssl_ssl_write(&ssl, NULL, b, sizeof b), MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    TEQ(hotssl_ssl_write(NULL, &pending, b, sizeof b), MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    mbedtls_ssl_free(&ssl);
  }

  hotssl_generation_release(g);
  hotssl_manager_destroy(m);
  tu_rmtree(dir);
  free(dir);
  free(conf);
  return tu_finish("test_ssl_write", checks);
}
