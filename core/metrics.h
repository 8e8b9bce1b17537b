/*
 * Metrics (core/metrics.c): hotssl_manager_metrics, the Prometheus text
 * exposition, and the served-versus-disk check it and
 * HOTSSL_INFO_SERVED_DIFFERS_FROM_DISK share.
 */
#ifndef HOTSSL_CORE_METRICS_H
#define HOTSSL_CORE_METRICS_H

#include "manager.h"

/* 1 when the files on disk (the configuration file re-read, then every TLS
 * file through the manager's identity memos: an unchanged file costs an
 * open and an fstat, a changed one a read and a hash, nothing is parsed)
 * would give a different generation than the one served, or would not
 * load at all; 0 when they match. Takes build_lock, so it waits for a
 * reload in progress. */
int hotssl__manager_disk_differs(hotssl_manager *m);

#endif /* HOTSSL_CORE_METRICS_H */
