/*
 * The API a host such as PostgreSQL embeds, with real handshakes:
 *  - hotssl_manager_reload_with: switching to another pair, a bad new
 *    setting keeping the old generation and settings, and watchers (host
 *    loop and own thread) following the new settings into another folder;
 *  - the build hook: ALPN negotiated by the openssl CLI, failure at start,
 *    failure at reload, called for a manager built from a snapshot;
 *  - the served certificate and its tls-server-end-point hash (SHA-256 and
 *    SHA-384 signatures), with ssl_sni choosing by server name.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "hotssl/platform.h"
#include "hotssl/watcher.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)
#define DEADLINE_MS 30000u

static char *dir;

static void put_pair(const char *to_dir, const char *name, const char *from) {
  char src[1024], dst[1024];
  const char *ext[2] = {"crt", "key"};
  int i;
  for (i = 0; i < 2; i++) {
    snprintf(src, sizeof src, "%s/%s.%s", dir, from, ext[i]);
    snprintf(dst, sizeof dst, "%s/%s.%s", to_dir, name, ext[i]);
    tu_copy(src, dst, i ? 0600 : 0644);
  }
}

/* Replace to_dir/name.{crt,key} by renaming a copy over each. */
static void rename_over_pair(const char *to_dir, const char *name, const char *from) {
  char src[1024], tmp[1024], dst[1024];
  const char *ext[2] = {"crt", "key"};
  int i;
  for (i = 0; i < 2; i++) {
    snprintf(src, sizeof src, "%s/%s.%s", dir, from, ext[i]);
    snprintf(tmp, sizeof tmp, "%s/.%s.%s.tmp", to_dir, name, ext[i]);
    snprintf(dst, sizeof dst, "%s/%s.%s", to_dir, name, ext[i]);
    tu_copy(src, tmp, i ? 0600 : 0644);
    T(rename(tmp, dst) == 0);
  }
}

static hotssl_config *pair_config(const char *in_dir, const char *name) {
  hotssl_config *cfg;
  char v[1024], err[256];
  hotssl_config_create(&cfg);
  snprintf(v, sizeof v, "%s/%s.crt", in_dir, name);
  T(hotssl_config_set(cfg, "ssl_cert_file", v, err, sizeof err) == 0);
  snprintf(v, sizeof v, "%s/%s.key", in_dir, name);
  T(hotssl_config_set(cfg, "ssl_key_file", v, err, sizeof err) == 0);
  T(hotssl_config_set(cfg, "hotssl_debounce_ms", "50", err, sizeof err) == 0);
  return cfg;
}

static int serving(hotssl_manager *m, const char *serial) {
  hotssl_stats st;
  return hotssl_manager_stats(m, &st) == 0 && strcmp(st.serial, serial) == 0;
}

static int client_serial_is(int port, const char *serial) {
  char got[80];
  return tu_client_serial(port, NULL, got, sizeof got) == 0 && strcmp(got, serial) == 0;
}

/* openssl req: a self-signed EC certificate dir/name.{crt,key}. */
static int gen_cert(const char *name, const char *curve, const char *md, const char *cn) {
  char cmd[4096], key[1024];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:%s -nodes -%s -days 2 "
           "-keyout '%s/%s.key' -out '%s/%s.crt' -subj '/CN=%s' >/dev/null 2>&1",
           curve, md, dir, name, dir, name, cn);
  if (system(cmd) != 0)
    return -1;
  snprintf(key, sizeof key, "%s/%s.key", dir, name);
  chmod(key, 0600);
  return 0;
}

/* ---- 1. reload_with ---- */

static void test_reload_with(void) {
  hotssl_manager *m = NULL;
  char *conf = tu_two_pairs_manager(dir, tu_log, &m), err[512];
  hotssl_config *cfg;
  hotssl_stats st;
  tu_server *s;
  int port;
  T(conf != NULL);
  if (m == NULL)
    return;
  s = tu_server_start(m, 1);
  port = tu_server_port(s);
  T(client_serial_is(port, TU_SERIAL_A));

  /* Another pair: generation 2, served. */
  tu_log_clear();
  cfg = pair_config(dir, "b");
  TEQ(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API), 0);
  hotssl_config_destroy(cfg);
  T(hotssl_manager_stats(m, &st) == 0);
  TEQ(st.generation, 2);
  T(client_serial_is(port, TU_SERIAL_B));
  TEQ(tu_log_count("SSL configuration reloaded (generation 2)"), 1);
  /* The new settings are the manager's: a plain reload finds the same. */
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);

  /* Bad new settings: an error, generation 2 keeps serving, and the
   * settings stay b's (a plain reload still builds from them). */
  cfg = pair_config(dir, "missing");
  T(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API) < 0);
  hotssl_config_destroy(cfg);
  T(hotssl_manager_stats(m, &st) == 0);
  TEQ(st.generation, 2);
  T(strstr(st.last_error, "missing.crt") != NULL);
  T(client_serial_is(port, TU_SERIAL_B));
  put_pair(dir, "mix", "a");
  {
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/b.key", dir);
    snprintf(dst, sizeof dst, "%s/mix.key", dir);
    tu_copy(src, dst, 0600);
  }
  cfg = pair_config(dir, "mix");
  TEQ(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API), HOTSSL_EMISMATCH);
  hotssl_config_destroy(cfg);
  T(client_serial_is(port, TU_SERIAL_B));
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  T(hotssl_manager_stats(m, &st) == 0);
  TEQ(st.generation, 2);
  TEQ(st.reloads_failed, 2);
  TEQ(hotssl_manager_reload_with(NULL, NULL, HOTSSL_TRIGGER_API), HOTSSL_EINVAL);
  TEQ(hotssl_manager_reload_with(m, NULL, HOTSSL_TRIGGER_API), HOTSSL_EINVAL);

  /* A settings file: re-read, as a reload re-reads the manager's. */
  {
    hotssl_config *fc;
    char *p = tu_path(dir, "other.conf");
    tu_write(p, TU_CONF_A, 0644);
    hotssl_config_create(&fc);
    T(hotssl_config_load_file(fc, p, err, sizeof err) == 0);
    tu_write_atomic(p, TU_CONF_B, 0644); /* changed after loading: the file wins */
    T(hotssl_manager_reload_with(m, fc, HOTSSL_TRIGGER_API) >= 0); /* the path's spelling counts */
    T(client_serial_is(port, TU_SERIAL_B));
    tu_write_atomic(p, TU_CONF_A, 0644);
    TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), 0); /* builds from other.conf */
    T(client_serial_is(port, TU_SERIAL_A));
    hotssl_config_destroy(fc);
    free(p);
  }
  tu_server_stop(s);
  hotssl_manager_destroy(m);
  free(conf);
}

/* reload_with into another folder, then a rename-over there: the watcher
 * (host loop, then its own thread) follows the new settings' paths. */
static void test_watcher_follows(int own_thread) {
  hotssl_manager *m = NULL;
  hotssl_watcher *w = NULL;
  hotssl_watcher_options wo = {HOTSSL_WATCHER_AUTO, own_thread};
  char *conf = tu_two_pairs_manager(dir, tu_log, &m), *other = tu_mkdtemp();
  hotssl_config *cfg;
  uint64_t end;
  int ok = 0;
  T(conf != NULL);
  if (m == NULL)
    return;
  TEQ(hotssl_watcher_create(&w, m, &wo), 0);
  put_pair(other, "srv", "a");
  cfg = pair_config(other, "srv");
  T(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API) >= 0); /* same pair, other paths */
  hotssl_config_destroy(cfg);
  if (!own_thread)
    (void)hotssl_watcher_dispatch(w); /* the host loop's next turn */
  rename_over_pair(other, "srv", "b");
  end = tu_now_ms() + DEADLINE_MS;
  while (!(ok = serving(m, TU_SERIAL_B)) && tu_now_ms() < end) {
    if (own_thread) {
      struct pollfd none;
      (void)poll(&none, 0, 20);
    } else {
      struct pollfd fds[2];
      int t = hotssl_watcher_dispatch(w), nf = 0;
      if (hotssl_watcher_fd(w) >= 0) {
        fds[nf].fd = hotssl_watcher_fd(w);
        fds[nf++].events = POLLIN;
      }
      fds[nf].fd = hotssl_manager_wakeup_fd(m);
      fds[nf++].events = POLLIN;
      (void)poll(fds, (nfds_t)nf, t < 0 || t > 100 ? 100 : t);
    }
  }
  if (!ok)
    fprintf(stderr, "watcher (own_thread=%d) did not pick up the rename in %s\n", own_thread, other);
  T(ok);
  /* A plain reload now builds from the other folder. */
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  T(serving(m, TU_SERIAL_B));
  hotssl_watcher_destroy(w);
  hotssl_manager_destroy(m);
  tu_rmtree(other);
  free(other);
  free(conf);
}

/* ---- 2. build hook ---- */

static const char *alpn_list[] = {"postgresql", NULL};
typedef struct hook_state {
  int calls, fail_on; /* fail_on: the call number that fails (0: never) */
  uint64_t last_generation;
} hook_state;

static int hook(void *ud, struct mbedtls_ssl_config *conf, uint64_t generation, char *errbuf,
                size_t errlen) {
  hook_state *h = ud;
  h->calls++;
  h->last_generation = generation;
  if (h->calls == h->fail_on) {
    snprintf(errbuf, errlen, "ALPN refused on call %d", h->calls);
    return -1;
  }
  return mbedtls_ssl_conf_alpn_protocols(conf, alpn_list);
}

static int openssl_alpn(int port) {
  char cmd[512], line[512];
  FILE *f;
  int found = 0;
  snprintf(cmd, sizeof cmd,
           "openssl s_client -connect 127.0.0.1:%d -alpn postgresql </dev/null 2>/dev/null", port);
  if ((f = popen(cmd, "r")) == NULL)
    return 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (strstr(line, "ALPN protocol: postgresql") != NULL)
      found = 1;
  pclose(f);
  return found;
}

static hotssl_manager *manager_with_hook(hook_state *h, char *err, size_t errlen, int *r) {
  hotssl_manager *m = NULL;
  hotssl_manager_options o;
  hotssl_config *cfg = pair_config(dir, "a");
  memset(&o, 0, sizeof o);
  o.log = tu_log;
  o.build_hook = hook;
  o.build_hook_userdata = h;
  *r = hotssl_manager_create(&m, cfg, &o, err, errlen);
  hotssl_config_destroy(cfg);
  return m;
}

static void test_build_hook(void) {
  hook_state h = {0, 0, 0};
  hotssl_manager *m;
  hotssl_stats st;
  hotssl_config *cfg;
  char err[512];
  tu_server *s;
  int r;

  /* ALPN set by the hook, negotiated by a real client. */
  m = manager_with_hook(&h, err, sizeof err, &r);
  TEQ(r, 0);
  if (m == NULL)
    return;
  TEQ(h.calls, 1);
  TEQ(h.last_generation, 1);
  s = tu_server_start(m, 1);
  T(openssl_alpn(tu_server_port(s)));
  cfg = pair_config(dir, "b");
  TEQ(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API), 0);
  hotssl_config_destroy(cfg);
  TEQ(h.calls, 2);
  TEQ(h.last_generation, 2);
  T(openssl_alpn(tu_server_port(s)));
  T(client_serial_is(tu_server_port(s), TU_SERIAL_B));
  /* A manager built from a snapshot runs the hook too. */
  {
    hotssl_snapshot *snap = NULL;
    hotssl_manager *m2 = NULL;
    hotssl_manager_options o;
    hook_state h2 = {0, 0, 0};
    const unsigned char *b;
    size_t len;
    memset(&o, 0, sizeof o);
    o.build_hook = hook;
    o.build_hook_userdata = &h2;
    TEQ(hotssl_snapshot_take(m, HOTSSL_SNAPSHOT_CONTENTS, &snap), 0);
    b = hotssl_snapshot_bytes(snap, &len);
    TEQ(hotssl_manager_create_from_snapshot(&m2, b, len, &o, err, sizeof err), 0);
    TEQ(h2.calls, 1);
    TEQ(h2.last_generation, 2);
    h2.fail_on = 2;
    hotssl_manager_destroy(m2);
    m2 = NULL;
    TEQ(hotssl_manager_create_from_snapshot(&m2, b, len, &o, err, sizeof err), HOTSSL_ECONFIG);
    T(m2 == NULL);
    T(strcmp(err, "SSL build hook failed: ALPN refused on call 2") == 0);
    hotssl_snapshot_destroy(snap);
  }
  tu_server_stop(s);
  hotssl_manager_destroy(m);

  /* Failing at start: no manager, the message. */
  h.calls = 0;
  h.fail_on = 1;
  tu_log_clear();
  m = manager_with_hook(&h, err, sizeof err, &r);
  T(m == NULL);
  T(r < 0);
  T(strcmp(err, "SSL build hook failed: ALPN refused on call 1") == 0);
  TEQ(tu_log_count("SSL build hook failed: ALPN refused on call 1"), 1);

  /* Failing at reload (its 2nd call): the first generation keeps serving. */
  h.calls = 0;
  h.fail_on = 2;
  m = manager_with_hook(&h, err, sizeof err, &r);
  TEQ(r, 0);
  if (m == NULL)
    return;
  s = tu_server_start(m, 1);
  tu_log_clear();
  cfg = pair_config(dir, "b");
  TEQ(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API), HOTSSL_ECONFIG);
  hotssl_config_destroy(cfg);
  T(hotssl_manager_stats(m, &st) == 0);
  TEQ(st.generation, 1);
  T(strcmp(st.last_error, "SSL build hook failed: ALPN refused on call 2") == 0);
  TEQ(tu_log_count("SSL configuration was not reloaded: SSL build hook failed: ALPN refused on call 2"), 1);
  T(client_serial_is(tu_server_port(s), TU_SERIAL_A));
  T(openssl_alpn(tu_server_port(s)));
  /* The settings stayed a's; the next build (3rd call) succeeds. */
  TEQ(hotssl_manager_reload(m, HOTSSL_TRIGGER_API), HOTSSL_UNCHANGED);
  TEQ(h.calls, 2);
  tu_server_stop(s);
  hotssl_manager_destroy(m);
}

/* ---- 3. served certificate (tls-server-end-point) ---- */

typedef struct ep_server {
  hotssl_manager *m;
  int lfd, port;
  atomic_int stop;
  pthread_t th;
  pthread_mutex_t mu;
  /* last connection */
  int ret, ep_ret;
  unsigned char hash[64];
  size_t hash_len;
  unsigned char der[8192];
  size_t der_len;
} ep_server;

static void *ep_main(void *p) {
  ep_server *s = p;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    hotssl_generation *g;
    hotssl_client_verify *v = NULL;
    mbedtls_ssl_context ssl;
    mbedtls_net_context net;
    int ret;
    if (fd < 0)
      continue;
    if (atomic_load(&s->stop)) {
      close(fd);
      break;
    }
    g = hotssl_manager_acquire(s->m);
    net.fd = fd;
    mbedtls_ssl_init(&ssl);
    hotssl_client_verify_create(&v);
    ret = mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g));
    if (ret == 0)
      ret = hotssl_client_verify_bind(&ssl, g, v);
    if (ret == 0) {
      mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
      do
        ret = mbedtls_ssl_handshake(&ssl);
      while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    }
    pthread_mutex_lock(&s->mu);
    s->ret = ret;
    s->hash_len = s->der_len = 0;
    if (ret == 0) {
      const unsigned char *der;
      size_t len;
      s->ep_ret = hotssl_client_verify_server_end_point(v, s->hash, sizeof s->hash, &s->hash_len);
      if (hotssl_client_verify_served_cert(v, &der, &len) == 0 && len <= sizeof s->der) {
        memcpy(s->der, der, len);
        s->der_len = len;
      }
    }
    pthread_mutex_unlock(&s->mu);
    if (ret == 0) {
      (void)mbedtls_ssl_write(&ssl, (const unsigned char *)"ok", 2);
      mbedtls_ssl_close_notify(&ssl);
    }
    mbedtls_ssl_free(&ssl);
    hotssl_client_verify_destroy(v);
    hotssl_generation_release(g);
    close(fd);
  }
  return NULL;
}

static void ep_start(ep_server *s, hotssl_manager *m) {
  memset(s, 0, sizeof *s);
  s->m = m;
  pthread_mutex_init(&s->mu, NULL);
  s->lfd = tu_listen_loopback(16, &s->port);
  pthread_create(&s->th, NULL, ep_main, s);
}

static void ep_stop(ep_server *s) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  atomic_store(&s->stop, 1);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)s->port);
  (void)connect(fd, (struct sockaddr *)&a, sizeof a);
  close(fd);
  pthread_join(s->th, NULL);
  close(s->lfd);
  pthread_mutex_destroy(&s->mu);
}

/* `openssl x509 -fingerprint -<md>` of file as bytes; returns their count. */
static size_t openssl_fingerprint(const char *file, const char *md, unsigned char *out, size_t max) {
  char cmd[4096], line[1024], *p;
  FILE *f;
  size_t n = 0;
  snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout -fingerprint -%s 2>/dev/null", file, md);
  if ((f = popen(cmd, "r")) == NULL)
    return 0;
  if (fgets(line, sizeof line, f) == NULL || (p = strchr(line, '=')) == NULL) {
    pclose(f);
    return 0;
  }
  pclose(f);
  for (p++; n < max && p[0] != '\0' && p[1] != '\0'; p += 3) {
    unsigned x;
    if (sscanf(p, "%2x", &x) != 1)
      break;
    out[n++] = (unsigned char)x;
    if (p[2] != ':')
      break;
  }
  return n;
}

/* Connect (with server_name, or none), then check the server's record
 * against the certificate file `name`.crt and openssl's fingerprint. */
static void check_served(ep_server *s, const char *server_name, const char *name, const char *md) {
  char serial[80], file[2048];
  unsigned char want[64];
  size_t wn;
  mbedtls_x509_crt crt;
  snprintf(file, sizeof file, "%s/%s.crt", dir, name);
  wn = openssl_fingerprint(file, md, want, sizeof want);
  T(wn == (strcmp(md, "sha384") == 0 ? 48u : 32u));
  TEQ(tu_client_sni(s->port, NULL, NULL, NULL, server_name, serial, sizeof serial), 0);
  mbedtls_x509_crt_init(&crt);
  T(mbedtls_x509_crt_parse_file(&crt, file) == 0);
  pthread_mutex_lock(&s->mu);
  TEQ(s->ret, 0);
  TEQ(s->ep_ret, 0);
  TEQ(s->hash_len, wn);
  T(wn > 0 && memcmp(s->hash, want, wn) == 0);
  T(s->der_len == crt.raw.len && memcmp(s->der, crt.raw.p, crt.raw.len) == 0);
  if (s->hash_len != wn || memcmp(s->hash, want, wn) != 0)
    fprintf(stderr, "server name %s: expected the hash of %s\n", server_name ? server_name : "(none)", file);
  pthread_mutex_unlock(&s->mu);
  mbedtls_x509_crt_free(&crt);
}

static void test_served_cert(void) {
  hotssl_manager *m = NULL;
  hotssl_config *cfg;
  hotssl_client_verify *v = NULL;
  unsigned char out[64];
  const unsigned char *der;
  size_t len;
  char err[512], *p;
  ep_server s;

  /* Not bound / bad arguments. */
  TEQ(hotssl_client_verify_create(&v), 0);
  TEQ(hotssl_client_verify_served_cert(v, &der, &len), HOTSSL_EINVAL);
  TEQ(hotssl_client_verify_server_end_point(v, out, sizeof out, &len), HOTSSL_EINVAL);
  TEQ(hotssl_client_verify_server_end_point(NULL, out, sizeof out, &len), HOTSSL_EINVAL);
  hotssl_client_verify_destroy(v);

  if (gen_cert("p256", "P-256", "sha256", "p256.test") != 0 ||
      gen_cert("p384", "P-384", "sha384", "p384.test") != 0 ||
      gen_cert("nosni", "P-256", "sha256", "nosni.test") != 0) {
    fprintf(stderr, "openssl req failed\n");
    T(0);
    return;
  }
  /* One certificate: SHA-256, then SHA-384 after reload_with. */
  cfg = pair_config(dir, "p256");
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL)
    return;
  ep_start(&s, m);
  check_served(&s, NULL, "p256", "sha256");
  cfg = pair_config(dir, "p384");
  TEQ(hotssl_manager_reload_with(m, cfg, HOTSSL_TRIGGER_API), 0);
  hotssl_config_destroy(cfg);
  check_served(&s, NULL, "p384", "sha384");
  /* Too small a buffer: EINVAL (checked on a bound verifier of a live
   * generation, without a handshake). */
  {
    hotssl_generation *g = hotssl_manager_acquire(m);
    mbedtls_ssl_context ssl;
    size_t n;
    mbedtls_ssl_init(&ssl);
    T(mbedtls_ssl_setup(&ssl, hotssl_generation_ssl_config(g)) == 0);
    hotssl_client_verify_create(&v);
    TEQ(hotssl_client_verify_bind(&ssl, g, v), 0);
    TEQ(hotssl_client_verify_server_end_point(v, out, 47, &n), HOTSSL_EINVAL);
    TEQ(hotssl_client_verify_server_end_point(v, out, 48, &n), 0);
    TEQ(n, 48);
    hotssl_client_verify_destroy(v);
    mbedtls_ssl_free(&ssl);
    hotssl_generation_release(g);
  }
  ep_stop(&s);
  hotssl_manager_destroy(m);

  /* ssl_sni: the entry the name selects; without a name, /no_sni/'s. */
  p = tu_path(dir, "pg_hosts.conf");
  tu_write(p,
           "p256.test   p256.crt  p256.key\n"
           "*           p384.crt  p384.key\n"
           "/no_sni/    nosni.crt nosni.key\n",
           0644);
  free(p);
  p = tu_path(dir, "sni.conf");
  tu_write(p, "ssl_sni = on\nssl_cert_file = ''\nssl_key_file = ''\n", 0644);
  hotssl_config_create(&cfg);
  T(hotssl_config_load_file(cfg, p, err, sizeof err) == 0);
  free(p);
  m = NULL;
  TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
  hotssl_config_destroy(cfg);
  if (m == NULL) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  ep_start(&s, m);
  check_served(&s, "p256.test", "p256", "sha256");
  check_served(&s, "other.test", "p384", "sha384");
  check_served(&s, NULL, "nosni", "sha256");
  check_served(&s, "P256.TEST", "p256", "sha256");
  ep_stop(&s);
  hotssl_manager_destroy(m);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (system("openssl version >/dev/null 2>&1") != 0) {
    printf("test_host_api: openssl CLI not found; skipped\n");
    return 77;
  }
  dir = tu_mkdtemp();
  test_reload_with();
  test_watcher_follows(0);
  test_watcher_follows(1);
  test_build_hook();
  test_served_cert();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_host_api", checks);
}
