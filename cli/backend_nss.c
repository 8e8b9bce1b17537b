/*
 * hotssl-backend's name service: none. glibc's static library offers the
 * functions that look names up (getaddrinfo, getservbyname_r, getpwnam_r,
 * ...) only through its shared NSS modules, and its linker warns about
 * each one a -static program references. The backend looks no name up,
 * but objects it needs reference some: mbedTLS's net_sockets.o
 * (mbedtls_net_connect, beside the mbedtls_net_send and mbedtls_net_recv
 * that session.c uses), APR's sockaddr.o (reached from apr_snprintf.o's
 * formatter) and APR's userinfo.o and groupinfo.o (reached from
 * apr_procattr_user_set and apr_procattr_group_set in proc.o, which also
 * holds the apr_proc_create that runs a passphrase command). The link of
 * hotssl-backend passes -Wl,--wrap=NAME for each of them
 * (HOTSSL_BACKEND_NSS_WRAP in cmake/cli_static.cmake), so those references
 * reach the functions below, which answer that there is nothing to find,
 * and glibc's versions are left out. cmake/cli_static.cmake also links a
 * test program with this file before building hotssl-backend.
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
void __wrap_freeaddrinfo(struct addrinfo *res);
int __wrap_getservbyname_r(const char *name, const char *proto, struct servent *sb, char *buf,
                           size_t len, struct servent **res);
int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res);
int __wrap_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **res);
int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, struct group **res);
int __wrap_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **res);

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res) {
  (void)node, (void)service, (void)hints;
  *res = NULL;
  return EAI_FAIL;
}

void __wrap_freeaddrinfo(struct addrinfo *res) { (void)res; /* never given one */ }

int __wrap_getservbyname_r(const char *name, const char *proto, struct servent *sb, char *buf,
                           size_t len, struct servent **res) {
  (void)name, (void)proto, (void)sb, (void)buf, (void)len;
  *res = NULL;
  return ENOSYS;
}

int __wrap_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res) {
  (void)name, (void)pw, (void)buf, (void)len;
  *res = NULL;
  return ENOSYS;
}

int __wrap_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **res) {
  (void)uid, (void)pw, (void)buf, (void)len;
  *res = NULL;
  return ENOSYS;
}

int __wrap_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, struct group **res) {
  (void)name, (void)gr, (void)buf, (void)len;
  *res = NULL;
  return ENOSYS;
}

int __wrap_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **res) {
  (void)gid, (void)gr, (void)buf, (void)len;
  *res = NULL;
  return ENOSYS;
}
