/*
 * Deployment diagnostics (hotssl_manager_diagnose, docs/live-revocation.md):
 * set-ups that load fine but can never reload, or lock every client out.
 * Each finding is one WARNING through the manager's log callback, with its
 * fix:
 *  - a file that is a mount point of its own (a bind mount of a single
 *    file: Kubernetes subPath): a replacement of its source never shows;
 *  - a file or folder on a filesystem where inotify misses changes made
 *    elsewhere (NFS, CIFS, FUSE; on overlay, a file from a lower layer
 *    mounted here: os/posix/mounts.c): the watcher polls it too;
 *  - a private key owned by root and readable by its group (accepted, as
 *    PostgreSQL accepts it; Kubernetes' defaultMode 0440/0640 + fsGroup);
 *  - with CRLs: a CA certificate of ssl_ca_file with no CRL from it, or
 *    whose issuer is missing from ssl_ca_file: every client certificate
 *    through it is refused ("unable to get certificate CRL"), PostgreSQL's
 *    behaviour with CRL_CHECK_ALL.
 * The OS facts (mounts, owner and mode) come from os/.
 */
#include <stdlib.h>
#include <string.h>

#include "../os/os.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "manager.h"
#include "revocation.h"

/* The mounts of the configured paths. */
static int mount_checks(hotssl_manager *m, unsigned poll_ms) {
  char **paths = NULL, seen_mp[8][1024];
  size_t n = 0, i, k, n_seen = 0;
  int count = 0;
  if (hotssl__manager_watch_paths(m, &paths, &n) != 0)
    return 0;
  for (i = 0; i < n; i++) {
    hotssl__mount mt;
    if (hotssl__mount_of(paths[i], &mt) != 0)
      continue;
    if (mt.flags & HOTSSL__MOUNT_FILE) {
      hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                   "\"%s\" is a bind mount of a single file (Kubernetes subPath): a new version of its source is never seen here, so it will never reload; mount the directory that holds it instead (a volume without subPath)",
                   paths[i]);
      count++;
    }
    if (!(mt.flags & HOTSSL__MOUNT_REMOTE))
      continue;
    for (k = 0; k < n_seen && strcmp(seen_mp[k], mt.mount_point) != 0; k++)
      ;
    if (k < n_seen)
      continue; /* one warning per mount */
    if (n_seen < 8)
      hotssl__fmt(seen_mp[n_seen++], sizeof seen_mp[0], "%s", mt.mount_point);
    hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                 "\"%s\" is on a %s filesystem (mounted at \"%s\"), where inotify misses changes made elsewhere: the file watcher also polls it every %u ms (hotssl_poll_interval_ms); lower that setting for faster reloads, or keep the files on a local filesystem",
                 paths[i], mt.fstype, mt.mount_point, poll_ms);
    count++;
  }
  hotssl__manager_watch_paths_free(paths, n);
  return count;
}

static int key_checks(hotssl_manager *m, const char *key) {
  unsigned long uid, gid;
  unsigned mode;
  if (key == NULL || hotssl__file_owner_mode(key, &uid, &gid, &mode) != 0)
    return 0;
  if (uid != 0 || (mode & 040) == 0)
    return 0;
  hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
               "private key file \"%s\" is owned by root and readable by group %lu (mode %04o): accepted, as PostgreSQL accepts it, but every process of that group can read the key; on Kubernetes this is defaultMode 0440 or 0640 with fsGroup: give the group to the server alone, or use defaultMode 0400 with runAsUser set to the key's owner",
               key, gid, mode);
  return 1;
}

/* With CRLs: the CA certificates through which every client is refused. */
static int crl_checks(hotssl_manager *m, const hotssl_generation *g) {
  hotssl__crlview cv;
  const mbedtls_x509_crt *c;
  char subject[512], issuer[512];
  int count = 0;
  if (g->crl == NULL || g->ca == NULL || g->crl->revocation == NULL)
    return 0;
  cv.t = g->crl->revocation;
  cv.crl = &g->crl->u.crl;
  cv.ca = &g->ca->u.crt;
  cv.profile = &mbedtls_x509_crt_profile_default;
  cv.walk = 0;
  for (c = &g->ca->u.crt; c != NULL && c->raw.p != NULL; c = c->next) {
    int self = hotssl__name_equal(&c->subject, &c->issuer);
    hotssl_cert_name(c, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_ONELINE, subject, sizeof subject);
    hotssl_cert_name(c, HOTSSL_CERT_ISSUER, HOTSSL_NAME_ONELINE, issuer, sizeof issuer);
    if (!hotssl__crlview_has(&cv, &c->subject_raw, &c->subject)) {
      hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                   "CRLs are configured but none is from CA \"%s\" of ssl_ca_file: every client certificate it issued is refused (\"unable to get certificate CRL\", as PostgreSQL does); add that CA's CRL to ssl_crl_file or ssl_crl_dir",
                   subject);
      count++;
    }
    if (!self && hotssl__crlview_ca_parent(&cv, c) == NULL) {
      hotssl__logf(&m->log, HOTSSL_LOG_WARNING,
                   "CA \"%s\" of ssl_ca_file was issued by \"%s\", which is not in ssl_ca_file: with CRLs configured, no CRL of that issuer can be verified and every client certificate through it is refused (\"unable to get certificate CRL\"); add the issuer's certificate to ssl_ca_file and its CRL to ssl_crl_file or ssl_crl_dir",
                   subject, issuer);
      count++;
    }
  }
  return count;
}

int hotssl_manager_diagnose(hotssl_manager *m) {
  hotssl_generation *g;
  char *key = NULL;
  unsigned poll_ms;
  int count;
  if (m == NULL)
    return HOTSSL_EINVAL;
  hotssl__mutex_lock(m->reload_lock);
  poll_ms = (unsigned)strtoul(hotssl__config_value(m->cfg, HOTSSL__S_POLL_INTERVAL_MS), NULL, 10);
  if (hotssl__config_value(m->cfg, HOTSSL__S_SSL_KEY_FILE)[0] != '\0') {
    char *p = hotssl__path_join(m->cfg->base_dir,
                                hotssl__config_value(m->cfg, HOTSSL__S_SSL_KEY_FILE));
    key = p != NULL ? hotssl__path_absolute(p) : NULL;
    free(p);
  }
  hotssl__mutex_unlock(m->reload_lock);
  count = mount_checks(m, poll_ms);
  count += key_checks(m, key);
  free(key);
  g = hotssl_manager_acquire(m);
  count += crl_checks(m, g);
  hotssl_generation_release(g);
  return count;
}
