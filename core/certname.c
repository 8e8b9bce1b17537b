/*
 * Names and serials of certificates as OpenSSL and PostgreSQL print them:
 * the public hotssl_cert_name / hotssl_cert_serial, and the forms of
 * PostgreSQL's "Failed certificate data" log line (core/verify.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "../os/os.h"
#include "certname.h"
#include "internal.h"
#include "util.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* ---- names and serials as OpenSSL prints them ---- */

/* Output with a fixed capacity; over: something did not fit. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int over;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (b->len + 1 >= b->cap) {
      b->over = 1;
      break;
    }
    b->p[b->len++] = s[i];
  }
  if (b->cap > 0)
    b->p[b->len] = '\0';
}

static void put_hex(sbuf *b, unsigned c) {
  char h[4];
  snprintf(h, sizeof h, "%02X", c & 0xFFu);
  put(b, h, 2);
}

static size_t utf8_enc(unsigned char *o, unsigned long cp) {
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | ((cp >> 18) & 0x07));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* OpenSSL's short names of attribute types (OBJ_nid2sn), by dotted OID. */
static const struct {
  const char *oid, *sn;
} attr_names[] = {
    {"2.5.4.3", "CN"}, {"2.5.4.4", "SN"}, {"2.5.4.5", "serialNumber"}, {"2.5.4.6", "C"},
    {"2.5.4.7", "L"}, {"2.5.4.8", "ST"}, {"2.5.4.9", "street"}, {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"}, {"2.5.4.12", "title"}, {"2.5.4.13", "description"},
    {"2.5.4.14", "searchGuide"}, {"2.5.4.15", "businessCategory"},
    {"2.5.4.16", "postalAddress"}, {"2.5.4.17", "postalCode"}, {"2.5.4.18", "postOfficeBox"},
    {"2.5.4.19", "physicalDeliveryOfficeName"}, {"2.5.4.20", "telephoneNumber"},
    {"2.5.4.21", "telexNumber"}, {"2.5.4.22", "teletexTerminalIdentifier"},
    {"2.5.4.23", "facsimileTelephoneNumber"}, {"2.5.4.24", "x121Address"},
    {"2.5.4.25", "internationaliSDNNumber"}, {"2.5.4.26", "registeredAddress"},
    {"2.5.4.27", "destinationIndicator"}, {"2.5.4.28", "preferredDeliveryMethod"},
    {"2.5.4.29", "presentationAddress"}, {"2.5.4.30", "supportedApplicationContext"},
    {"2.5.4.31", "member"}, {"2.5.4.32", "owner"}, {"2.5.4.33", "roleOccupant"},
    {"2.5.4.34", "seeAlso"}, {"2.5.4.35", "userPassword"}, {"2.5.4.41", "name"},
    {"2.5.4.42", "GN"}, {"2.5.4.43", "initials"}, {"2.5.4.44", "generationQualifier"},
    {"2.5.4.45", "x500UniqueIdentifier"}, {"2.5.4.46", "dnQualifier"},
    {"2.5.4.47", "enhancedSearchGuide"}, {"2.5.4.48", "protocolInformation"},
    {"2.5.4.49", "distinguishedName"}, {"2.5.4.50", "uniqueMember"},
    {"2.5.4.51", "houseIdentifier"}, {"2.5.4.54", "dmdName"}, {"2.5.4.65", "pseudonym"},
    {"2.5.4.72", "role"}, {"2.5.4.97", "organizationIdentifier"},
    {"1.2.840.113549.1.9.1", "emailAddress"}, {"1.2.840.113549.1.9.2", "unstructuredName"},
    {"1.2.840.113549.1.9.8", "unstructuredAddress"},
    {"0.9.2342.19200300.100.1.1", "UID"}, {"0.9.2342.19200300.100.1.3", "mail"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"},
    {"1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"},
    {"1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"},
};

/* The attribute type's short name, else its dotted form in num (*known 0). */
static const char *attr_name(const mbedtls_x509_buf *oid, char *num, size_t numlen, int *known) {
  size_t i;
  *known = 0;
  if (mbedtls_oid_get_numeric_string(num, numlen, oid) < 0) {
    hotssl__fmt(num, numlen, "?");
    return num;
  }
  for (i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
    if (strcmp(attr_names[i].oid, num) == 0) {
      *known = 1;
      return attr_names[i].sn;
    }
  return num;
}

/* put_value flags: OpenSSL's ASN1_STRFLGS_ESC_MSB, and DUMP_ALL (the value
 * as "#" and the hex of its DER, XN_FLAG_DUMP_UNKNOWN_FIELDS). */
#define VAL_ESC_MSB 1u
#define VAL_DUMP 2u

static void put_dump(sbuf *b, const mbedtls_x509_buf *v) {
  size_t i, n = 0, l = v->len;
  put(b, "#", 1);
  put_hex(b, (unsigned)v->tag);
  if (l < 0x80) {
    put_hex(b, (unsigned)l);
  } else {
    for (; l > 0; l >>= 8)
      n++;
    put_hex(b, 0x80u | (unsigned)n);
    while (n-- > 0)
      put_hex(b, (unsigned)(v->len >> (8 * n)));
  }
  for (i = 0; i < v->len; i++)
    put_hex(b, v->p[i]);
}

/*
 * A value as OpenSSL's ASN1_STRING_print_ex with ASN1_STRFLGS_RFC2253 minus
 * ESC_MSB, plus UTF8_CONVERT (PostgreSQL's X509_NAME_to_cstring); with
 * VAL_ESC_MSB as XN_FLAG_RFC2253. The value as UTF-8 (a UTF8String as its
 * bytes; BMP, Universal and the one-byte types converted), then RFC 2253
 * escapes; a type that is no string: "#" and its DER.
 */
static void put_value(sbuf *b, const mbedtls_x509_buf *v, unsigned fl) {
  unsigned char *u;
  size_t i, w = 1, n = 0;
  if (fl & VAL_DUMP) {
    put_dump(b, v);
    return;
  }
  switch (v->tag) {
  case MBEDTLS_ASN1_UTF8_STRING:
    w = 1;
    break;
  case MBEDTLS_ASN1_BMP_STRING:
    w = 2;
    break;
  case MBEDTLS_ASN1_UNIVERSAL_STRING:
    w = 4;
    break;
  case 0x12: /* NumericString */
  case MBEDTLS_ASN1_PRINTABLE_STRING:
  case MBEDTLS_ASN1_T61_STRING: /* Latin-1, as OpenSSL reads it */
  case MBEDTLS_ASN1_IA5_STRING:
  case MBEDTLS_ASN1_UTC_TIME:
  case MBEDTLS_ASN1_GENERALIZED_TIME:
  case 0x1A: /* VisibleString */
    w = 0;
    break;
  default: /* not a string: "#" and the hex of its DER */
    put_dump(b, v);
    return;
  }
  if ((u = malloc(v->len * 2 + 4)) == NULL) {
    b->over = 1;
    return;
  }
  if (w == 1) {
    memcpy(u, v->p, v->len);
    n = v->len;
  } else if (w == 0) {
    for (i = 0; i < v->len; i++)
      n += utf8_enc(u + n, v->p[i]);
  } else {
    for (i = 0; i + w <= v->len; i += w) {
      unsigned long cp = 0;
      size_t k;
      for (k = 0; k < w; k++)
        cp = cp << 8 | v->p[i + k];
      n += utf8_enc(u + n, cp > 0x10FFFF ? 0xFFFD : cp);
    }
  }
  for (i = 0; i < n; i++) {
    unsigned char c = u[i];
    if (c >= 0x80) {
      if (fl & VAL_ESC_MSB) {
        put(b, "\\", 1);
        put_hex(b, c);
      } else {
        put(b, (const char *)&c, 1);
      }
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      put(b, "\\", 1);
      put_hex(b, c);
      continue;
    }
    if ((c != '\0' && strchr(",+\"\\<>;", c) != NULL) || (i == 0 && (c == '#' || c == ' ')) ||
        (i + 1 == n && c == ' '))
      put(b, "\\", 1);
    put(b, (const char *)&c, 1);
  }
  free(u);
}

/* X509_NAME_oneline's value: the bytes as they are, '/' and '+' escaped,
 * bytes outside ' '..'~' as \xXX (a GeneralString of 4-byte characters
 * that are all ASCII: their last bytes only). */
static void put_oneline_value(sbuf *b, const mbedtls_x509_buf *v) {
  int doit[4] = {1, 1, 1, 1};
  size_t j;
  if (v->tag == 0x1B && v->len % 4 == 0) { /* GeneralString */
    int any[4] = {0, 0, 0, 0};
    for (j = 0; j < v->len; j++)
      if (v->p[j] != 0)
        any[j & 3] = 1;
    if (!(any[0] | any[1] | any[2]))
      doit[0] = doit[1] = doit[2] = 0;
  }
  for (j = 0; j < v->len; j++) {
    unsigned char c = v->p[j];
    if (!doit[j & 3])
      continue;
    if (c < ' ' || c > '~') {
      put(b, "\\x", 2);
      put_hex(b, c);
    } else {
      if (c == '/' || c == '+')
        put(b, "\\", 1);
      put(b, (const char *)&c, 1);
    }
  }
}

/* A name in one of the public styles into b. */
static int name_text(const mbedtls_x509_name *name, unsigned style, sbuf *b) {
  const mbedtls_x509_name *n, **ents;
  size_t *set, cnt = 0, i, cur = 0;
  for (n = name; n != NULL; n = n->next)
    if (n->oid.p != NULL)
      cnt++;
  if (cnt == 0)
    return 0;
  ents = malloc(cnt * sizeof *ents);
  set = malloc(cnt * sizeof *set);
  if (ents == NULL || set == NULL) {
    free(ents);
    free(set);
    return HOTSSL_ENOMEM;
  }
  i = 0;
  for (n = name; n != NULL; n = n->next) {
    if (n->oid.p == NULL)
      continue;
    ents[i] = n;
    set[i++] = cur;
    if (!n->MBEDTLS_PRIVATE(next_merged)) /* the next one starts a new RDN */
      cur++;
  }
  for (i = 0; i < cnt; i++) {
    size_t k = style == HOTSSL_NAME_RFC2253 ? cnt - 1 - i : i;
    char num[128];
    int known;
    const char *sn = attr_name(&ents[k]->oid, num, sizeof num, &known);
    if (style == HOTSSL_NAME_RFC2253) {
      if (i > 0)
        put(b, set[k] == set[cnt - i] ? "+" : ",", 1);
      put(b, sn, strlen(sn));
      put(b, "=", 1);
      put_value(b, &ents[k]->val, VAL_ESC_MSB | (known ? 0u : VAL_DUMP));
    } else {
      put(b, i > 0 && set[k] == set[k - 1] ? "+" : "/", 1);
      put(b, sn, strlen(sn));
      put(b, "=", 1);
      put_oneline_value(b, &ents[k]->val);
    }
  }
  free(ents);
  free(set);
  return 0;
}

/* PostgreSQL's form of a name (X509_NAME_to_cstring): "/SN=value" per
 * attribute, the value by put_value with raw UTF-8, then kept to its last
 * 71 characters and cleaned to ASCII (prepare_cert_name). */
void hotssl__pg_name(char *out, size_t outlen, const mbedtls_x509_name *n) {
  char raw[2048];
  sbuf b = {raw, 0, sizeof raw, 0};
  const char *s;
  size_t i, o = 0;
  raw[0] = '\0';
  for (; n != NULL; n = n->next) {
    char num[128];
    int known;
    const char *sn;
    if (n->oid.p == NULL)
      continue;
    sn = attr_name(&n->oid, num, sizeof num, &known);
    put(&b, "/", 1);
    put(&b, sn, strlen(sn));
    put(&b, "=", 1);
    put_value(&b, &n->val, 0);
  }
  s = raw;
  if (b.len > 71) { /* PostgreSQL keeps the end: the most specific part */
    s = raw + b.len - 71;
    raw[b.len - 71] = raw[b.len - 70] = raw[b.len - 69] = '.';
  }
  for (i = 0; s[i] != '\0' && o + 5 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c > 126)
      o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  if (outlen > 0)
    out[o < outlen ? o : outlen - 1] = '\0';
}

/* A serial (DER INTEGER contents) as OpenSSL prints it: decimal as
 * BN_bn2dec, or hex as i2a_ASN1_INTEGER ("-" and the magnitude when
 * negative, upper case, two digits per byte, "00" for zero). */
static int serial_text(const mbedtls_x509_buf *s, unsigned style, sbuf *b) {
  unsigned char *n;
  char *d;
  size_t len = s->len, i, start = 0, nd = 0;
  int neg = len > 0 && (s->p[0] & 0x80);
  if ((n = malloc(len + 1)) == NULL)
    return HOTSSL_ENOMEM;
  if (len > 0)
    memcpy(n, s->p, len);
  if (neg) { /* two's complement */
    int carry = 1;
    for (i = len; i-- > 0;) {
      int v = (unsigned char)~n[i] + carry;
      n[i] = (unsigned char)v;
      carry = v >> 8;
    }
  }
  while (start < len && n[start] == 0)
    start++;
  if (neg)
    put(b, "-", 1);
  if (style == HOTSSL_SERIAL_HEX) {
    if (start == len)
      put(b, "00", 2);
    for (i = start; i < len; i++)
      put_hex(b, n[i]);
    free(n);
    return 0;
  }
  if ((d = malloc((len - start) * 3 + 2)) == NULL) {
    free(n);
    return HOTSSL_ENOMEM;
  }
  for (;;) {
    unsigned rem = 0;
    int zero = 1;
    for (i = start; i < len; i++) {
      unsigned cur = rem << 8 | n[i];
      n[i] = (unsigned char)(cur / 10);
      rem = cur % 10;
      zero &= n[i] == 0;
    }
    d[nd++] = (char)('0' + rem);
    if (zero)
      break;
  }
  while (nd > 0)
    put(b, &d[--nd], 1);
  free(d);
  free(n);
  return 0;
}

/* A serial in decimal for PostgreSQL's log line. */
void hotssl__serial_dec(char *out, size_t outlen, const mbedtls_x509_buf *s) {
  sbuf b = {out, 0, outlen, 0};
  if (outlen == 0)
    return;
  out[0] = '\0';
  if (serial_text(s, HOTSSL_SERIAL_DEC, &b) != 0 || b.over)
    hotssl__fmt(out, outlen, "unknown");
}

int hotssl_cert_name(const struct mbedtls_x509_crt *crt, unsigned which, unsigned style,
                     char *buf, size_t len) {
  sbuf b = {buf, 0, len, 0};
  int r;
  if (buf == NULL || len == 0)
    return HOTSSL_EINVAL;
  buf[0] = '\0';
  if (crt == NULL || which > HOTSSL_CERT_ISSUER || style > HOTSSL_NAME_ONELINE)
    return HOTSSL_EINVAL;
  r = name_text(which == HOTSSL_CERT_SUBJECT ? &crt->subject : &crt->issuer, style, &b);
  if (r == 0 && b.over)
    r = HOTSSL_ENOMEM;
  if (r != 0)
    buf[0] = '\0';
  return r;
}

int hotssl_cert_serial(const struct mbedtls_x509_crt *crt, unsigned style, char *buf,
                       size_t len) {
  sbuf b = {buf, 0, len, 0};
  int r;
  if (buf == NULL || len == 0)
    return HOTSSL_EINVAL;
  buf[0] = '\0';
  if (crt == NULL || style > HOTSSL_SERIAL_HEX)
    return HOTSSL_EINVAL;
  r = serial_text(&crt->serial, style, &b);
  if (r == 0 && b.over)
    r = HOTSSL_ENOMEM;
  if (r != 0)
    buf[0] = '\0';
  return r;
}
