/* conn_pp.c - the PROXY protocol on a connection's legs (pp.c parses and
 * builds the headers)
 *
 *   accept  (server role) before TLS, a load balancer in proxy_from sends
 *           a v1 or v2 header; its source address becomes the
 *           connection's peer for logs, acls, the lockout and metrics. A
 *           connection from elsewhere, or without a valid header, is
 *           refused and logged.
 *   send    (either role) a v2 header goes first on the outgoing leg: to
 *           the backend (server role, with the TLS version and the client
 *           certificate's CN as TLVs) or to the server (client role).
 *
 * The header is read with exact-size reads (v2: its 16 fixed bytes, then
 * the length they give; v1: a byte at a time to CRLF), so not one byte
 * of the TLS stream behind it is taken from the socket.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "acl.h"
#include "conn.h"
#include "log.h"
#include "pp.h"
#include "worker.h"

struct conn_pp {
	unsigned char buf[PP_MAX];
	size_t len;
};

/** @brief Is the load balancer @sa one of proxy_from? */
static int conn_pp_trusted(const struct cfg_tunnel *t, const struct sockaddr *sa)
{
	for (size_t i = 0; i < t->nproxy_nets; i++)
		if (acl_rule_has_addr(&t->proxy_nets[i], sa))
			return 1;
	return 0;
}

void conn_pp_start(struct conn *c)
{
	const struct sockaddr *lb = (const struct sockaddr *)&c->peer_ss;

	if (!conn_pp_trusted(c->t->cfg, lb)) {
		c->t->stats->rejected++;
		conn_reject(c, LOG_NOTICE,
			    "refused: proxy_protocol = \"accept\" and this address is not in proxy_from");
		return;
	}
	if (!(c->pp = calloc(1, sizeof *c->pp))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	c->st = CONN_PROXY;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * c->t->cfg->handshake_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	conn_want(c, &c->tls, EPOLLIN);
	conn_pp_event(c);
}

/** @brief How many more bytes the header needs, from what is in: the
 *  first byte says v1 or v2; v2's length comes with its 16th byte. */
static size_t conn_pp_need(const struct conn_pp *p)
{
	if (p->len == 0 || p->buf[0] != '\r')
		return 1;	/* v1 (or not PROXY): a byte at a time */
	if (p->len < PP_V2_HEADER)
		return PP_V2_HEADER - p->len;
	return (size_t)PP_V2_HEADER +
		((size_t)p->buf[14] << 8 | p->buf[15]) - p->len;
}

void conn_pp_event(struct conn *c)
{
	struct conn_pp *p = c->pp;
	struct pp_info info;
	char err[200], lb[NET_ADDRSTRLEN];
	int rc = PP_INCOMPLETE;

	for (;;) {
		size_t need = conn_pp_need(p);
		ssize_t n;

		if (need == 0 || p->len + need > sizeof p->buf)
			break;
		n = recv(c->tls.fd, p->buf + p->len, need, 0);
		if (n == 0) {
			conn_reject(c, LOG_NOTICE, "closed before its PROXY header was complete");
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_reject(c, LOG_NOTICE, "reading the PROXY header: %s",
				    strerror(errno));
			return;
		}
		p->len += n;
		rc = pp_parse(p->buf, p->len, &info, err, sizeof err);
		if (rc != PP_INCOMPLETE)
			break;
	}
	if (rc <= 0) {
		c->t->stats->rejected++;
		conn_reject(c, LOG_NOTICE, "refused: no valid PROXY header from the load balancer: %s",
			    rc == PP_INCOMPLETE ? "longer than we take" : err);
		return;
	}
	free(c->pp);
	c->pp = NULL;
	snprintf(lb, sizeof lb, "%s", c->peer);
	if (!info.local) {
		memcpy(&c->peer_ss, &info.src, info.srclen);
		net_addr_str((const struct sockaddr *)&info.src, c->peer,
			     sizeof c->peer);
	}
	log_debug("tunnel %s: %s: PROXY v%d from the load balancer %s%s",
		  c->t->cfg->name, c->peer, info.version, lb,
		  info.local ? " (LOCAL: its own health check)" : "");
	timer_cancel(&c->w->timers, &c->timer);
	conn_start_handshake(c);
}

int conn_pp_send(struct conn *c, int fd)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof local;
	unsigned char hdr[1024];
	char version[32] = "", cn[256] = "";
	const char *tls = NULL;
	int server = c->t->cfg->role == CFG_ROLE_SERVER;
	int in = server ? c->tls.fd : c->plain.fd;
	int n, verified = 0;
	ssize_t w;

	/* Where the client came in: our listening address. */
	if (getsockname(in, (struct sockaddr *)&local, &ll) < 0) {
		snprintf(c->reason, sizeof c->reason, "PROXY header: getsockname: %s",
			 strerror(errno));
		return -1;
	}
	if (server && c->sess) {
		struct tls_identity id;

		snprintf(version, sizeof version, "%s",
			 gnutls_protocol_get_name(gnutls_protocol_get_version(c->sess)));
		/* HAProxy's spelling: "TLSv1.3". */
		if (strncmp(version, "TLS1.", 5) == 0) {
			memmove(version + 4, version + 3, strlen(version + 3) + 1);
			version[3] = 'v';
		}
		tls = version;
		verified = c->t->cfg->client_auth != CFG_AUTH_PASSWORD;
		if (verified && tls_identity_from_session(c->sess, &id) == 0) {
			snprintf(cn, sizeof cn, "%s", id.cn);
			tls_identity_free(&id);
		}
	}
	n = pp_build_v2(hdr, sizeof hdr, (const struct sockaddr *)&c->peer_ss,
			(const struct sockaddr *)&local, tls, verified,
			cn[0] ? cn : NULL, NULL);
	if (n < 0) {
		snprintf(c->reason, sizeof c->reason,
			 "PROXY header: cannot be made for this connection's addresses");
		return -1;
	}
	/* A fresh socket's send buffer takes it whole. */
	w = send(fd, hdr, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w != n) {
		snprintf(c->reason, sizeof c->reason, "PROXY header: %s",
			 w < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

void conn_pp_free(struct conn *c)
{
	free(c->pp);
	c->pp = NULL;
}
