/*
 * hotssl_cert_name / hotssl_cert_serial against the openssl CLI, byte for
 * byte: `-nameopt RFC2253 -subject/-issuer` (X509_NAME_print_ex with
 * XN_FLAG_RFC2253), `-nameopt compat` (the x509 app prints
 * X509_NAME_oneline() for exactly that option) and `-serial`; the decimal
 * serial against a conversion done here another way (decimal string
 * arithmetic over the hex digits). Certificates: generated here (a
 * multi-valued RDN, UTF-8 and characters RFC 2253 escapes, a long serial, a
 * negative serial, a BMPString) and the test set's client and server
 * certificates (PostgreSQL's own files in the .pgdata variant).
 */
#include <string.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static int have_openssl;

/* One line of `openssl x509 -in file -noout <args>` without "<prefix>=". */
static int openssl_field(const char *file, const char *args, const char *prefix, char *out,
                         size_t len) {
  char cmd[2048], line[4096];
  FILE *f;
  size_t pl = strlen(prefix), n;
  snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout %s 2>/dev/null", file, args);
  if ((f = popen(cmd, "r")) == NULL)
    return -1;
  if (fgets(line, sizeof line, f) == NULL) {
    pclose(f);
    return -1;
  }
  pclose(f);
  n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  if (strncmp(line, prefix, pl) != 0 || line[pl] != '=')
    return -1;
  snprintf(out, len, "%s", line + pl + 1);
  return 0;
}

/* Hex (optionally "-") to decimal by repeated "times 16 plus digit" on a
 * decimal string: independent of the library's division. */
static void hex_to_dec(const char *hex, char *out, size_t len) {
  unsigned char d[512];
  size_t nd = 1, i;
  int neg = hex[0] == '-';
  memset(d, 0, sizeof d);
  for (hex += neg; *hex; hex++) {
    unsigned v = (unsigned)(*hex <= '9' ? *hex - '0' : (*hex | 0x20) - 'a' + 10), carry = v;
    for (i = 0; i < nd; i++) {
      unsigned x = d[i] * 16u + carry;
      d[i] = (unsigned char)(x % 10);
      carry = x / 10;
    }
    while (carry) {
      d[nd++] = (unsigned char)(carry % 10);
      carry /= 10;
    }
  }
  while (nd > 1 && d[nd - 1] == 0)
    nd--;
  i = 0;
  if (neg)
    out[i++] = '-';
  while (nd > 0 && i + 1 < len)
    out[i++] = (char)('0' + d[--nd]);
  out[i] = '\0';
}

static void compare_file(const char *file) {
  mbedtls_x509_crt crt;
  char want[4096], got[4096], dec[1024];
  static const struct {
    unsigned which, style;
    const char *args, *prefix;
  } cases[] = {
      {HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, "-nameopt RFC2253 -subject", "subject"},
      {HOTSSL_CERT_ISSUER, HOTSSL_NAME_RFC2253, "-nameopt RFC2253 -issuer", "issuer"},
      {HOTSSL_CERT_SUBJECT, HOTSSL_NAME_ONELINE, "-nameopt compat -subject", "subject"},
      {HOTSSL_CERT_ISSUER, HOTSSL_NAME_ONELINE, "-nameopt compat -issuer", "issuer"},
  };
  size_t i;
  mbedtls_x509_crt_init(&crt);
  if (mbedtls_x509_crt_parse_file(&crt, file) != 0) {
    fprintf(stderr, "cannot parse %s\n", file);
    T(0);
    return;
  }
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (openssl_field(file, cases[i].args, cases[i].prefix, want, sizeof want) != 0) {
      fprintf(stderr, "openssl failed on %s %s\n", file, cases[i].args);
      T(0);
      continue;
    }
    TEQ(hotssl_cert_name(&crt, cases[i].which, cases[i].style, got, sizeof got), 0);
    if (strcmp(got, want) != 0)
      fprintf(stderr, "%s %s:\n  openssl: %s\n  hotssl:  %s\n", file, cases[i].args, want, got);
    T(strcmp(got, want) == 0);
  }
  if (openssl_field(file, "-serial", "serial", want, sizeof want) == 0) {
    TEQ(hotssl_cert_serial(&crt, HOTSSL_SERIAL_HEX, got, sizeof got), 0);
    if (strcmp(got, want) != 0)
      fprintf(stderr, "%s serial: openssl %s, hotssl %s\n", file, want, got);
    T(strcmp(got, want) == 0);
    hex_to_dec(want, dec, sizeof dec);
    TEQ(hotssl_cert_serial(&crt, HOTSSL_SERIAL_DEC, got, sizeof got), 0);
    if (strcmp(got, dec) != 0)
      fprintf(stderr, "%s decimal serial: want %s, hotssl %s\n", file, dec, got);
    T(strcmp(got, dec) == 0);
  } else {
    T(0);
  }
  mbedtls_x509_crt_free(&crt);
}

/* openssl req -x509 with extra arguments into dir/name.crt; NULL when the
 * CLI refused (reported as a failure). */
static char *gen(const char *dir, const char *name, const char *args) {
  char cmd[4096], *crt = NULL;
  size_t n = strlen(dir) + strlen(name) + 8;
  crt = malloc(n);
  snprintf(crt, n, "%s/%s.crt", dir, name);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '%s/%s.key' "
           "-out '%s' -days 2 %s >'%s/%s.log' 2>&1",
           dir, name, crt, args, dir, name);
  if (system(cmd) != 0) {
    fprintf(stderr, "openssl req failed for %s (see %s/%s.log)\n", name, dir, name);
    T(0);
    free(crt);
    return NULL;
  }
  return crt;
}

static void test_generated(void) {
  static const struct {
    const char *name, *args;
  } certs[] = {
      {"multi", "-multivalue-rdn -subj '/CN=a+OU=b/O=c' -set_serial 7"},
      {"multi3", "-multivalue-rdn -subj '/DC=org/DC=example/CN=x+UID=u1+emailAddress=a@b/C=DE' -set_serial 0"},
      {"utf8", "-utf8 -subj '/C=FR/L=Montr\xc3\xa9\x61l/O=\xc3\x9c\x62\x65r \xe2\x82\xac/CN=\xe6\x97\xa5\xe6\x9c\xac' -set_serial 255"},
      {"escapes", "-multivalue-rdn -subj '/CN=#a, b;c\"d<e>f\\\\g\\/h\\+i=j /O= lead/OU=trail /serialNumber=42/ST=x' "
                  "-set_serial 0x0102030405060708090A0B0C0D0E0F10111213"},
      {"longserial", "-subj '/CN=long serial' -set_serial 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
      {"highbit", "-subj '/CN=high bit' -set_serial 0xFF00FF00FF00FF00FF"},
      {"negative", "-subj '/CN=negative' -set_serial -1234567"},
      {"attrs", "-subj '/2.5.4.9=s/2.5.4.12=t/2.5.4.13=d/2.5.4.15=b/2.5.4.17=p/2.5.4.42=g/2.5.4.4=sn"
                "/2.5.4.43=i/2.5.4.44=q/2.5.4.46=dq/2.5.4.65=ps/2.5.4.97=oi/0.9.2342.19200300.100.1.3=m"
                "/1.3.6.1.4.1.311.60.2.1.3=DE/2.5.4.41=n/2.5.4.72=r/1.2.840.113549.1.9.2=un"
                "/2.5.4.16=pa/2.5.4.18=pob/2.5.4.20=123/2.5.4.51=h/2.5.4.54=dmd/2.5.4.5=sn5' -set_serial 3"},
      {"bmp", NULL}, /* arguments below: it needs a configuration file */
  };
  char *dir = tu_mkdtemp();
  size_t i;
  for (i = 0; i < sizeof certs / sizeof certs[0]; i++) {
    char *crt;
    if (strcmp(certs[i].name, "bmp") == 0) {
      /* string_mask = MASK:0x800: names as BMPString where not Printable. */
      char *cnf = tu_path(dir, "bmp.cnf"), args[1024];
      tu_write(cnf,
               "[req]\ndistinguished_name = dn\nstring_mask = MASK:0x800\nprompt = no\n[dn]\nCN = x\n"
               "[v3_req]\nbasicConstraints = CA:FALSE\n",
               0644);
      snprintf(args, sizeof args, "-utf8 -config '%s' -subj '/CN=bmp \xc3\xa9 \xe2\x82\xac/O=o+OU=p' "
               "-multivalue-rdn -set_serial 1", cnf);
      free(cnf);
      crt = gen(dir, certs[i].name, args);
    } else {
      crt = gen(dir, certs[i].name, certs[i].args);
    }
    if (crt != NULL) {
      compare_file(crt);
      free(crt);
    }
  }
  tu_rmtree(dir);
  free(dir);
}

static void test_testdata(void) {
  static const char *files[] = {"client-revoked-utf8.crt", "client-dn.crt", "client.crt",
                                "server-cn-only.crt", "client_ca.crt", "root_ca.crt",
                                "client-long.crt", "server-cn-and-alt-names.crt"};
  const char *td = tu_testdata();
  size_t i;
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    char *p = tu_path(td, files[i]);
    if (access(p, R_OK) == 0)
      compare_file(p);
    else if (i < 4) { /* the ones the brief names must exist in every set */
      fprintf(stderr, "missing %s\n", p);
      T(0);
    }
    free(p);
  }
}

static void test_args(void) {
  mbedtls_x509_crt crt;
  char *p = tu_path(tu_testdata(), "client-dn.crt"), small[8], buf[512];
  size_t need;
  mbedtls_x509_crt_init(&crt);
  T(mbedtls_x509_crt_parse_file(&crt, p) == 0);
  TEQ(hotssl_cert_name(NULL, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, buf, sizeof buf), HOTSSL_EINVAL);
  TEQ(hotssl_cert_name(&crt, 2, HOTSSL_NAME_RFC2253, buf, sizeof buf), HOTSSL_EINVAL);
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, 2, buf, sizeof buf), HOTSSL_EINVAL);
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, buf, 0), HOTSSL_EINVAL);
  TEQ(hotssl_cert_serial(&crt, 2, buf, sizeof buf), HOTSSL_EINVAL);
  TEQ(hotssl_cert_serial(&crt, HOTSSL_SERIAL_DEC, NULL, 10), HOTSSL_EINVAL);
  memset(small, 'x', sizeof small);
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_ONELINE, small, sizeof small), HOTSSL_ENOMEM);
  T(small[0] == '\0');
  /* Exactly the size needed fits; one less does not. */
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, buf, sizeof buf), 0);
  need = strlen(buf) + 1;
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, buf, need), 0);
  TEQ(hotssl_cert_name(&crt, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253, buf, need - 1), HOTSSL_ENOMEM);
  T(buf[0] == '\0');
  TEQ(hotssl_cert_serial(&crt, HOTSSL_SERIAL_HEX, small, 2), HOTSSL_ENOMEM);
  T(small[0] == '\0');
  mbedtls_x509_crt_free(&crt);
  free(p);
}

int main(void) {
  have_openssl = system("openssl version >/dev/null 2>&1") == 0;
  if (!have_openssl) {
    printf("test_cert_names: openssl CLI not found; skipped\n");
    return 77;
  }
  test_args();
  test_testdata();
  test_generated();
  return tu_finish("test_cert_names", checks);
}
