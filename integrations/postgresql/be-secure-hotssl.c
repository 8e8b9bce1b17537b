/*-------------------------------------------------------------------------
 *
 * be-secure-hotssl.c
 *	  PostgreSQL's server-side TLS (the be_tls_* contract of libpq-be.h) on
 *	  hotssl and mbedTLS, with live reload.
 *
 * This file replaces be-secure-openssl.c in a PostgreSQL 15 tree built with
 * --with-ssl=openssl (libpq, the client, stays on OpenSSL; the backend links
 * libcrypto anyway, which this file uses for one thing only: port->peer, the
 * X509 that contrib/sslinfo reads). integrations/postgresql/run.sh copies it
 * into src/backend/libpq/ and src/Makefile.custom selects it.
 *
 * What differs from be-secure-openssl.c, and why:
 *  - The postmaster holds one hotssl_manager. be_tls_init(true) creates it
 *    (a bad file is FATAL, as before); be_tls_init(false), at SIGHUP, hands
 *    it the settings of the re-read postgresql.conf with
 *    hotssl_manager_reload_with(): the new files are built on the side and
 *    published only when all of them are good, else the last good
 *    configuration keeps serving and the log names the file.
 *  - A hotssl_watcher (inotify) watches the files' directories. Its
 *    descriptor joins ServerLoop's select() and ServerLoop calls
 *    be_hotssl_watch_dispatch(): a rotated certificate is served to the next
 *    connection with no pg_ctl reload, and no thread runs in the postmaster.
 *  - Fork builds: the forked child inherits the manager; fork_process()
 *    calls be_hotssl_fork_child(), which re-seeds the random generators.
 *  - EXEC_BACKEND builds: after each published generation the postmaster
 *    writes the generation's snapshot (hotssl_snapshot_take, CONTENTS: the
 *    certificates, the already decrypted key, the CA and CRL sets) into a
 *    sealed memfd: anonymous memory, never a file on disk. Its descriptor
 *    number travels in BackendParameters; only the forked child, right
 *    before execv(), clears its close-on-exec flag. The exec'd backend
 *    builds its manager from those bytes in be_tls_init(false), so a
 *    passphrase-protected key serves even with
 *    ssl_passphrase_command_supports_reload = off. When that build fails,
 *    that backend alone has no SSL and answers 'N' to an SSLRequest.
 *  - Every connection holds the generation it started with until it ends
 *    (reference counted), so a reload never disturbs an open session.
 *
 * Copyright (c) hotssl contributors; derived from be-secure-openssl.c,
 * Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group.
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libpq/libpq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include <openssl/x509.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include <hotssl/hotssl.h>
#include <hotssl/platform.h>
#include <hotssl/watcher.h>

/* One TLS connection of this backend. */
typedef struct hotssl_conn
{
	mbedtls_ssl_context ssl;
	hotssl_generation *g;		/* held until be_tls_close */
	hotssl_client_verify *v;	/* refusals, served certificate */
	size_t		pending;		/* hotssl_ssl_write's record in flight */
	bool		set_up;			/* mbedtls_ssl_setup succeeded */
} hotssl_conn;

/* The postmaster's (or an exec'd backend's) manager and watcher. */
static hotssl_manager *manager = NULL;
static hotssl_watcher *watcher = NULL;
static int	watch_timeout_ms = 0;	/* dispatch at the first ServerLoop turn */

/* EXEC_BACKEND: the memfd holding the last good snapshot (postmaster), or
 * the one inherited from it (backend, until be_tls_init reads it). */
static int	snapshot_fd = -1;
static bool snapshot_stale = false;
static int	inherited_fd = -1;

#define SNAPSHOT_MAX ((off_t) 1 << 30)

/* ------------------------------------------------------------ */
/*						 Logging								*/
/* ------------------------------------------------------------ */

/*
 * hotssl's log lines go to the server log. Never ERROR or FATAL here: the
 * callback runs inside hotssl, and a longjmp out of it would leak its locks;
 * be_tls_init reports a failed start itself.
 */
static void
log_cb(void *userdata, hotssl_log_level level, const char *message)
{
	int			elevel;

	(void) userdata;
	switch (level)
	{
		case HOTSSL_LOG_DEBUG:
			elevel = DEBUG1;
			break;
		case HOTSSL_LOG_WARNING:
			elevel = WARNING;
			break;
		default:
			elevel = LOG;
			break;
	}
	ereport(elevel, (errmsg_internal("%s", message)));
}

static void
on_reload_cb(void *userdata, int result, uint64_t generation)
{
	(void) userdata;
	(void) generation;
	if (result == 0)
		snapshot_stale = true;
}

static hotssl_manager_options
manager_options(void)
{
	hotssl_manager_options o;

	memset(&o, 0, sizeof o);
	o.log = log_cb;
	o.on_reload = on_reload_cb;
	return o;
}

/* ------------------------------------------------------------ */
/*				 Settings: PostgreSQL's GUCs -> hotssl			*/
/* ------------------------------------------------------------ */

static bool
set_one(hotssl_config *cfg, const char *name, const char *value,
		char *err, size_t errlen)
{
	char		why[256];

	if (hotssl_config_set(cfg, name, value, why, sizeof why) == 0)
		return true;
	snprintf(err, errlen, "invalid value for parameter \"%s\": \"%s\": %s",
			 name, value ? value : "", why);
	return false;
}

/*
 * The configuration PostgreSQL's SSL parameters describe now. Relative
 * paths resolve against the data directory, as in be-secure-openssl.c.
 * PostgreSQL asks for a client certificate whenever ssl_ca_file is set and
 * verifies it when one is presented: hotssl's ssl_client_cert = optional.
 */
static hotssl_config *
config_from_gucs(char *err, size_t errlen)
{
	hotssl_config *cfg;
	bool		ok;

	if (hotssl_config_create(&cfg) != 0)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ok = hotssl_config_set_base_dir(cfg, DataDir) == 0 &&
		set_one(cfg, "ssl", "on", err, errlen) &&
		set_one(cfg, "ssl_cert_file", ssl_cert_file, err, errlen) &&
		set_one(cfg, "ssl_key_file", ssl_key_file, err, errlen) &&
		set_one(cfg, "ssl_ca_file", ssl_ca_file, err, errlen) &&
		set_one(cfg, "ssl_crl_file", ssl_crl_file, err, errlen) &&
		set_one(cfg, "ssl_crl_dir", ssl_crl_dir, err, errlen) &&
		set_one(cfg, "ssl_client_cert", ssl_ca_file[0] ? "optional" : "off",
				err, errlen) &&
		set_one(cfg, "ssl_ciphers", SSLCipherSuites, err, errlen) &&
		set_one(cfg, "ssl_prefer_server_ciphers",
				SSLPreferServerCiphers ? "on" : "off", err, errlen) &&
		set_one(cfg, "ssl_ecdh_curve", SSLECDHCurve, err, errlen) &&
		set_one(cfg, "ssl_dh_params_file", ssl_dh_params_file, err, errlen) &&
		set_one(cfg, "ssl_min_protocol_version",
				GetConfigOption("ssl_min_protocol_version", false, false),
				err, errlen) &&
		set_one(cfg, "ssl_max_protocol_version",
				GetConfigOption("ssl_max_protocol_version", false, false),
				err, errlen) &&
		set_one(cfg, "ssl_passphrase_command", ssl_passphrase_command,
				err, errlen) &&
		set_one(cfg, "ssl_passphrase_command_supports_reload",
				ssl_passphrase_command_supports_reload ? "on" : "off",
				err, errlen);
	if (!ok)
	{
		if (err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		hotssl_config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

/* ------------------------------------------------------------ */
/*			 EXEC_BACKEND: the snapshot for exec'd backends		*/
/* ------------------------------------------------------------ */

#ifdef EXEC_BACKEND
/*
 * Postmaster: write the current generation's snapshot into a new sealed
 * memfd and make it the one future backends inherit. On failure the
 * previous memfd (an older, still good generation) stays.
 */
static void
refresh_snapshot(void)
{
	hotssl_snapshot *s = NULL;
	const unsigned char *bytes;
	size_t		len,
				off = 0;
	int			fd,
				r;

	snapshot_stale = false;
	if (manager == NULL)
		return;
	if ((r = hotssl_snapshot_take(manager, HOTSSL_SNAPSHOT_CONTENTS, &s)) != 0)
	{
		ereport(LOG,
				(errmsg("could not take the SSL configuration snapshot for new backends: %s",
						hotssl_strerror(r))));
		return;
	}
	bytes = hotssl_snapshot_bytes(s, &len);
	fd = memfd_create("hotssl-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
	{
		ereport(LOG,
				(errmsg("could not create the SSL configuration snapshot for new backends: %m")));
		hotssl_snapshot_destroy(s);
		return;
	}
	while (off < len)
	{
		ssize_t		w = write(fd, bytes + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t) w;
	}
	hotssl_snapshot_destroy(s);
	if (off != len ||
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
	{
		ereport(LOG,
				(errmsg("could not write the SSL configuration snapshot for new backends: %m")));
		close(fd);
		return;
	}
	if (snapshot_fd >= 0)
		close(snapshot_fd);
	snapshot_fd = fd;
}

/*
 * Exec'd backend: build this backend's manager from the postmaster's
 * snapshot. Never re-reads a file: a key that needs a passphrase serves
 * here even when the command may not run again.
 */
static int
init_from_snapshot(void)
{
	struct stat st;
	unsigned char *buf;
	size_t		len,
				off = 0;
	char		err[1024];
	hotssl_manager_options o = manager_options();
	int			fd = inherited_fd,
				r;

	inherited_fd = -1;
	if (fd < 0)
	{
		ereport(LOG,
				(errmsg("no SSL configuration snapshot was handed over by the postmaster")));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > SNAPSHOT_MAX)
	{
		ereport(LOG,
				(errmsg("the SSL configuration snapshot handed over by the postmaster is unusable")));
		close(fd);
		return -1;
	}
	len = (size_t) st.st_size;
	buf = malloc(len);
	if (buf == NULL)
	{
		close(fd);
		ereport(LOG, (errmsg("out of memory reading the SSL configuration snapshot")));
		return -1;
	}
	while (off < len)
	{
		ssize_t		n = pread(fd, buf + off, len - off, (off_t) off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t) n;
	}
	close(fd);

	/*
	 * Test hook (t/100_hotssl_reload.pl): damaged bytes must cost this
	 * backend its TLS and nothing else.
	 */
	if (off == len && getenv("HOTSSL_PG_TEST_DAMAGE_SNAPSHOT") != NULL)
		buf[len / 2] ^= 0x5a;
	r = off == len ? hotssl_manager_create_from_snapshot(&manager, buf, len, &o,
														 err, sizeof err)
		: HOTSSL_EFILE;
	if (off != len)
		snprintf(err, sizeof err, "short read of the snapshot");
	explicit_bzero(buf, len);
	free(buf);
	if (r != 0)
	{
		ereport(LOG,
				(errmsg("could not build the SSL configuration from the postmaster's snapshot: %s",
						err)));
		manager = NULL;
		return -1;
	}
	ssl_loaded_verify_locations = ssl_ca_file[0] != '\0';
	return 0;
}
#endif							/* EXEC_BACKEND */

/* ------------------------------------------------------------ */
/*			 Hooks called by the postmaster (libpq-be.h)		*/
/* ------------------------------------------------------------ */

int
be_hotssl_watch_fd(void)
{
	return watcher != NULL ? hotssl_watcher_fd(watcher) : -1;
}

int
be_hotssl_watch_timeout_ms(void)
{
	return watcher != NULL ? watch_timeout_ms : -1;
}

/*
 * ServerLoop calls this between select() and its check of select()'s errno
 * (EINTR after a signal is normal there): keep errno as select() left it,
 * whatever the reload and the watcher's re-sync do to it.
 */
void
be_hotssl_watch_dispatch(void)
{
	int			save_errno = errno;

	if (watcher != NULL)
		watch_timeout_ms = hotssl_watcher_dispatch(watcher);
#ifdef EXEC_BACKEND
	if (snapshot_stale)
		refresh_snapshot();
#endif
	errno = save_errno;
}

/*
 * In every child of fork_process(), first thing: the postmaster's watcher
 * stays the postmaster's, and no two processes share random generator
 * state. EXEC_BACKEND: the child is about to execv(); only it may pass the
 * snapshot memfd on.
 */
void
be_hotssl_fork_child(void)
{
	if (watcher != NULL)
		hotssl_watcher_after_fork_child(watcher);
	watcher = NULL;
	if (manager != NULL)
		(void) hotssl_manager_after_fork_child(manager);
#ifdef EXEC_BACKEND
	if (snapshot_fd >= 0)
		(void) fcntl(snapshot_fd, F_SETFD, 0);
#endif
}

int
be_hotssl_exec_fd(void)
{
	return snapshot_fd;
}

/* Exec'd child: only a backend keeps the snapshot, until be_tls_init. */
void
be_hotssl_set_exec_fd(int fd, bool is_backend)
{
	if (fd < 0)
		return;
	if (!is_backend)
	{
		close(fd);
		return;
	}
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	inherited_fd = fd;
}

/* ------------------------------------------------------------ */
/*					 Public interface						*/
/* ------------------------------------------------------------ */

int
be_tls_init(bool isServerStart)
{
	hotssl_config *cfg;
	hotssl_manager_options o = manager_options();
	char		err[1024];
	int			r;

	err[0] = '\0';
#ifdef EXEC_BACKEND
	if (IsUnderPostmaster)
		return init_from_snapshot();
#endif

	if ((cfg = config_from_gucs(err, sizeof err)) == NULL)
	{
		ereport(isServerStart ? FATAL : LOG,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not load the SSL configuration: %s", err)));
		return -1;
	}

	if (manager == NULL)
	{
		r = hotssl_manager_create(&manager, cfg, &o, err, sizeof err);
		hotssl_config_destroy(cfg);
		if (r != 0)
		{
			manager = NULL;
			ereport(isServerStart ? FATAL : LOG,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s", err)));
			return -1;
		}
		if (watcher == NULL)
		{
			hotssl_watcher_options wo;

			memset(&wo, 0, sizeof wo);
			wo.backend = HOTSSL_WATCHER_AUTO;
			wo.own_thread = 0;
			if ((r = hotssl_watcher_create(&watcher, manager, &wo)) != 0)
			{
				watcher = NULL;
				ereport(LOG,
						(errmsg("SSL files will not be watched for changes: %s",
								hotssl_strerror(r))));
			}
			watch_timeout_ms = 0;
		}
		snapshot_stale = true;
	}
	else
	{
		/* hotssl logs the outcome, naming the file that failed. */
		r = hotssl_manager_reload_with(manager, cfg, HOTSSL_TRIGGER_SIGNAL);
		hotssl_config_destroy(cfg);
		if (r < 0)
			return -1;
	}

#ifdef EXEC_BACKEND
	if (snapshot_stale)
		refresh_snapshot();
#endif
	ssl_loaded_verify_locations = ssl_ca_file[0] != '\0';
	return 0;
}

void
be_tls_destroy(void)
{
	hotssl_watcher_destroy(watcher);
	watcher = NULL;
	/* Generations still held by open connections outlive their manager. */
	hotssl_manager_destroy(manager);
	manager = NULL;
	if (snapshot_fd >= 0)
		close(snapshot_fd);
	snapshot_fd = -1;
	ssl_loaded_verify_locations = false;
}

/* mbedTLS's transport: PostgreSQL's own socket layer, as my_sock_read does. */
static int
sock_recv(void *ctx, unsigned char *buf, size_t len)
{
	Port	   *port = (Port *) ctx;
	ssize_t		n;

	errno = 0;
	n = secure_raw_read(port, buf, len);
	if (n >= 0)
		return (int) n;
	if (errno == EINTR || errno == EWOULDBLOCK || errno == EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int
sock_send(void *ctx, const unsigned char *buf, size_t len)
{
	Port	   *port = (Port *) ctx;
	ssize_t		n;

	errno = 0;
	n = secure_raw_write(port, buf, len);
	if (n >= 0)
		return (int) n;
	if (errno == EINTR || errno == EWOULDBLOCK || errno == EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static const char *
mbedtls_text(int ret)
{
	static char buf[200];

	mbedtls_strerror(ret, buf, sizeof buf);
	return buf;
}

/*
 * After a refused handshake: let the alert reach the client. A TLS 1.3
 * client is done after its Finished and may already have written; closing
 * with that unread makes the kernel answer with a reset that can destroy
 * the alert before the client reads it. Shut down the sending side and read
 * until the client closes (bounded in bytes and time).
 */
static void
drain_after_refusal(Port *port)
{
	char		buf[4096];
	size_t		total = 0;

	(void) shutdown(port->sock, SHUT_WR);
	while (total < 256 * 1024)
	{
		int			rc = WaitLatchOrSocket(NULL, WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
										   port->sock, 1000,
										   WAIT_EVENT_SSL_OPEN_SERVER);
		ssize_t		n;

		if (!(rc & WL_SOCKET_READABLE))
			break;
		n = recv(port->sock, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		total += (size_t) n;
	}
}

/* The CN of a name, as X509_NAME_get_text_by_NID finds it (the first). */
static const mbedtls_x509_name *
find_cn(const mbedtls_x509_name *n)
{
	for (; n != NULL; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
			return n;
	return NULL;
}

static char *
name_string(const mbedtls_x509_crt *crt, unsigned which, unsigned style)
{
	size_t		size = 1024;

	for (;;)
	{
		char	   *s = MemoryContextAlloc(TopMemoryContext, size);
		int			r = hotssl_cert_name(crt, which, style, s, size);

		if (r == 0)
			return s;
		pfree(s);
		if (r != HOTSSL_ENOMEM || size >= 1024 * 1024)
			return NULL;
		size *= 4;
	}
}

/* port->peer, port->peer_cn, port->peer_dn from the verified peer. */
static int
record_peer(Port *port, const mbedtls_x509_crt *peer)
{
	const unsigned char *p = peer->raw.p;
	const mbedtls_x509_name *cn = find_cn(&peer->subject);

	port->peer_cn = NULL;
	port->peer_dn = NULL;
	port->peer_cert_valid = false;

	/* contrib/sslinfo reads the client certificate through OpenSSL */
	port->peer = d2i_X509(NULL, &p, (long) peer->raw.len);

	if (cn != NULL)
	{
		size_t		len = cn->val.len;
		char	   *peer_cn = MemoryContextAlloc(TopMemoryContext, len + 1);

		memcpy(peer_cn, cn->val.p, len);
		peer_cn[len] = '\0';

		/*
		 * Reject embedded NULLs in certificate common name to prevent
		 * attacks like CVE-2009-4034.
		 */
		if (len != strlen(peer_cn))
		{
			ereport(COMMERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("SSL certificate's common name contains embedded null")));
			pfree(peer_cn);
			return -1;
		}
		port->peer_cn = peer_cn;
	}

	/* RFC 2253, as X509_NAME_print_ex(XN_FLAG_RFC2253) prints it */
	port->peer_dn = name_string(peer, HOTSSL_CERT_SUBJECT, HOTSSL_NAME_RFC2253);
	if (port->peer_dn == NULL)
	{
		if (port->peer_cn != NULL)
		{
			pfree(port->peer_cn);
			port->peer_cn = NULL;
		}
		return -1;
	}
	port->peer_cert_valid = true;
	return 0;
}

int
be_tls_open_server(Port *port)
{
	hotssl_conn *c;
	int			r;

	Assert(port->hotssl == NULL);
	Assert(!port->peer);

	if (manager == NULL)
	{
		ereport(COMMERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("could not initialize SSL connection: SSL context not set up")));
		return -1;
	}

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(hotssl_conn));
	port->hotssl = c;
	c->g = hotssl_manager_acquire(manager);
	mbedtls_ssl_init(&c->ssl);
	if ((r = mbedtls_ssl_setup(&c->ssl, hotssl_generation_ssl_config(c->g))) != 0 ||
		(r = hotssl_client_verify_create(&c->v)) != 0 ||
		(r = hotssl_client_verify_bind(&c->ssl, c->g, c->v)) != 0)
	{
		ereport(COMMERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("could not initialize SSL connection: %s",
						r < -0x100 ? mbedtls_text(r) : hotssl_strerror(r))));
		return -1;
	}
	c->set_up = true;
	mbedtls_ssl_set_bio(&c->ssl, port, sock_send, sock_recv, NULL);
	port->ssl_in_use = true;

	while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0)
	{
		char		l1[600],
					l2[1200];

		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		{
			/* not allowed during connection establishment */
			Assert(!port->noblock);

			/*
			 * No need to care about timeouts/interrupts here. At this point
			 * authentication_timeout still employs
			 * StartupPacketTimeoutHandler() which directly exits.
			 */
			(void) WaitLatchOrSocket(MyLatch,
									 (r == MBEDTLS_ERR_SSL_WANT_READ ?
									  WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE) |
									 WL_EXIT_ON_PM_DEATH,
									 port->sock, 0, WAIT_EVENT_SSL_OPEN_SERVER);
			continue;
		}

		hotssl_client_verify_finish(&c->ssl, r, c->v);
		if (hotssl_client_verify_lines(c->v, l1, sizeof l1, l2, sizeof l2) > 0)
		{
			ereport(COMMERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("could not accept SSL connection: %s",
							hotssl_client_verify_reason(c->v)[0] ?
							hotssl_client_verify_reason(c->v) :
							"peer did not return a certificate"),
					 errdetail_log("%s%s%s", l1, l2[0] ? " " : "", l2)));
			drain_after_refusal(port);
		}
		else if (r == MBEDTLS_ERR_SSL_CONN_EOF || r == MBEDTLS_ERR_NET_CONN_RESET ||
				 r == MBEDTLS_ERR_NET_RECV_FAILED || r == MBEDTLS_ERR_NET_SEND_FAILED)
		{
			if (errno != 0 && r != MBEDTLS_ERR_SSL_CONN_EOF)
				ereport(COMMERROR,
						(errcode_for_socket_access(),
						 errmsg("could not accept SSL connection: %m")));
			else
				ereport(COMMERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("could not accept SSL connection: EOF detected")));
		}
		else
		{
			bool		give_proto_hint = (r == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION);

			ereport(COMMERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("could not accept SSL connection: %s", mbedtls_text(r)),
					 give_proto_hint ?
					 errhint("This may indicate that the client does not support any SSL protocol version between %s and %s.",
							 GetConfigOption("ssl_min_protocol_version", false, false),
							 GetConfigOption("ssl_max_protocol_version", false, false)[0] ?
							 GetConfigOption("ssl_max_protocol_version", false, false) :
							 "TLSv1.3") : 0));
			drain_after_refusal(port);
		}
		return -1;
	}

	{
		const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);

		if (peer != NULL && record_peer(port, peer) != 0)
			return -1;
	}
	return 0;
}

void
be_tls_close(Port *port)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;

	if (c != NULL)
	{
		if (c->set_up && port->ssl_in_use)
			(void) mbedtls_ssl_close_notify(&c->ssl);
		mbedtls_ssl_free(&c->ssl);
		hotssl_client_verify_destroy(c->v);
		hotssl_generation_release(c->g);
		pfree(c);
		port->hotssl = NULL;
		port->ssl_in_use = false;
	}

	if (port->peer)
	{
		X509_free(port->peer);
		port->peer = NULL;
	}

	if (port->peer_cn)
	{
		pfree(port->peer_cn);
		port->peer_cn = NULL;
	}

	if (port->peer_dn)
	{
		pfree(port->peer_dn);
		port->peer_dn = NULL;
	}
}

/* mbedTLS's result of a read or write, in be_tls_read/write's terms. */
static ssize_t
io_result(int n, int *waitfor, bool reading)
{
	if (n >= 0)
		return n;
	switch (n)
	{
		case MBEDTLS_ERR_SSL_WANT_READ:
			*waitfor = WL_SOCKET_READABLE;
			errno = EWOULDBLOCK;
			return -1;
		case MBEDTLS_ERR_SSL_WANT_WRITE:
			*waitfor = WL_SOCKET_WRITEABLE;
			errno = EWOULDBLOCK;
			return -1;
		case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
			if (reading)
				return 0;		/* connection was cleanly shut down by peer */
			errno = ECONNRESET;
			return -1;
		case MBEDTLS_ERR_NET_RECV_FAILED:
		case MBEDTLS_ERR_NET_SEND_FAILED:
		case MBEDTLS_ERR_NET_CONN_RESET:
		case MBEDTLS_ERR_SSL_CONN_EOF:
			/* leave it to caller to ereport the value of errno */
			if (errno == 0 || n == MBEDTLS_ERR_SSL_CONN_EOF)
				errno = ECONNRESET;
			return -1;
		default:
			ereport(COMMERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("SSL error: %s", mbedtls_text(n))));
			errno = ECONNRESET;
			return -1;
	}
}

ssize_t
be_tls_read(Port *port, void *ptr, size_t len, int *waitfor)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;

	errno = 0;
	return io_result(mbedtls_ssl_read(&c->ssl, ptr, len), waitfor, true);
}

/*
 * PostgreSQL retries a write that would block with the unsent bytes still
 * at the start of its buffer, possibly with more behind them; mbedTLS wants
 * the same length again. hotssl_ssl_write keeps the length of the record in
 * flight, so nothing is lost or sent twice.
 */
ssize_t
be_tls_write(Port *port, void *ptr, size_t len, int *waitfor)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;

	errno = 0;
	return io_result(hotssl_ssl_write(&c->ssl, &c->pending, ptr, len),
					 waitfor, false);
}

/* ------------------------------------------------------------ */
/*					 Connection information					*/
/* ------------------------------------------------------------ */

int
be_tls_get_cipher_bits(Port *port)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;
	const mbedtls_ssl_ciphersuite_t *cs;

	if (c == NULL)
		return 0;
	cs = mbedtls_ssl_ciphersuite_from_id(mbedtls_ssl_get_ciphersuite_id_from_ssl(&c->ssl));
	return cs != NULL ? (int) mbedtls_ssl_ciphersuite_get_cipher_key_bitlen(cs) : 0;
}

const char *
be_tls_get_version(Port *port)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;

	return c != NULL ? mbedtls_ssl_get_version(&c->ssl) : NULL;
}

/*
 * The suite's name. TLS 1.3 suites get their IANA name, which is also
 * OpenSSL's ("TLS_AES_256_GCM_SHA384"); TLS 1.2 suites keep mbedTLS's
 * (IANA's with '-').
 */
const char *
be_tls_get_cipher(Port *port)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;
	static char name[128];
	const char *s;

	if (c == NULL)
		return NULL;
	s = mbedtls_ssl_get_ciphersuite(&c->ssl);
	if (s != NULL && strncmp(s, "TLS1-3-", 7) == 0)
	{
		char	   *p;

		snprintf(name, sizeof name, "TLS_%s", s + 7);
		for (p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		return name;
	}
	return s;
}

static const mbedtls_x509_crt *
peer_cert(Port *port)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;

	return c != NULL ? mbedtls_ssl_get_peer_cert(&c->ssl) : NULL;
}

static void
name_into(Port *port, unsigned which, char *ptr, size_t len)
{
	const mbedtls_x509_crt *peer = peer_cert(port);
	char	   *s;

	if (peer == NULL || (s = name_string(peer, which, HOTSSL_NAME_ONELINE)) == NULL)
	{
		ptr[0] = '\0';
		return;
	}
	strlcpy(ptr, s, len);
	pfree(s);
}

void
be_tls_get_peer_subject_name(Port *port, char *ptr, size_t len)
{
	name_into(port, HOTSSL_CERT_SUBJECT, ptr, len);
}

void
be_tls_get_peer_issuer_name(Port *port, char *ptr, size_t len)
{
	name_into(port, HOTSSL_CERT_ISSUER, ptr, len);
}

void
be_tls_get_peer_serial(Port *port, char *ptr, size_t len)
{
	const mbedtls_x509_crt *peer = peer_cert(port);
	char		buf[160];

	if (peer == NULL ||
		hotssl_cert_serial(peer, HOTSSL_SERIAL_DEC, buf, sizeof buf) != 0)
	{
		ptr[0] = '\0';
		return;
	}
	strlcpy(ptr, buf, len);
}

/*
 * tls-server-end-point channel binding (RFC 5929): the hash of the
 * certificate this connection was served (with ssl_sni, the entry's).
 */
char *
be_tls_get_certificate_hash(Port *port, size_t *len)
{
	hotssl_conn *c = (hotssl_conn *) port->hotssl;
	unsigned char hash[64];
	size_t		n = 0;
	char	   *out;
	int			r;

	*len = 0;
	if (c == NULL)
		return NULL;
	r = hotssl_client_verify_server_end_point(c->v, hash, sizeof hash, &n);
	if (r != 0)
		elog(ERROR, "could not compute the server certificate's hash for channel binding: %s",
			 hotssl_strerror(r));
	out = palloc(n);
	memcpy(out, hash, n);
	*len = n;
	return out;
}
