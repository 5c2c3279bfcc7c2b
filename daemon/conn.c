/* conn.c - one tunnelled connection and its state machine
 *
 *   server role: accept TLS -> HANDSHAKING -> path -> [protocol step]
 *                -> CONNECTING (backend or chosen destination)
 *                -> RELAYING -> CLOSED
 *   client role: accept plain -> CONNECTING (server) -> HANDSHAKING
 *                -> path -> RELAYING -> CLOSED
 *
 * The peer is verified and authorized inside the handshake (tls.c's verify
 * callback), so nothing reaches the backend before that: in the server
 * role the backend is not even connected until then. "path" is the choice
 * of mover right after the handshake: the keys go to the kernel (kTLS +
 * splice) or the session stays in GnuTLS (userspace). The protocol step
 * (proto.c: REQUEST, RESOLVING, RESPONDING) runs for tunnels that speak
 * HTTP first: CONNECT with connect = "dynamic", and WebSocket.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <gnutls/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn.h"
#include "ktls.h"
#include "limit.h"
#include "log.h"
#include "proto.h"
#include "hc_listen.h"
#include "relay.h"
#include "srec.h"
#include "worker.h"

static int conn_choose_path(struct conn *c);

int conn_want(struct conn *c, struct conn_fd *f, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = f };
	int op;

	if (f->fd < 0 || (f->registered && f->events == events) ||
	    (!f->registered && events == 0))
		return 0;
	op = f->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(c->w->ep, op, f->fd, &ev) < 0)
		return -1;
	f->registered = 1;
	f->events = events;
	return 0;
}

/** @brief The leg this side opens itself: the backend (server role) or
 *  the tunnel's server (client role). */
static struct conn_fd *conn_outgoing(struct conn *c)
{
	if (hcl_backend_phase(c))
		return &c->plain;	/* a listener's backend, first */
	return c->t->cfg->role == CFG_ROLE_SERVER ? &c->plain : &c->tls;
}

static void conn_fd_close(struct conn *c, struct conn_fd *f, int reset)
{
	if (f->fd < 0)
		return;
	if (reset) {
		struct linger lg = { 1, 0 };
		setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	} else if (f->abortive) {
		/* an orderly close: the FIN, not conn_arm_reset's reset */
		struct linger lg = { 0, 0 };
		setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	f->abortive = 0;
	/* close() removes the fd from epoll. */
	close(f->fd);
	f->fd = -1;
	f->registered = 0;
}

/** @brief Read and drop what the peer sent that nobody will read (at
 *  most 64 KiB). A socket closed with unread data sends a reset instead
 *  of a FIN, and the reset makes the peer's kernel throw away what it had
 *  not read yet, our alert among it: a refused TLS 1.3 client, which sends
 *  its first data right after its Finished, would never learn why. */
static void conn_fd_drain(struct conn_fd *f)
{
	char buf[4096];

	for (int i = 0; f->fd >= 0 && i < 16; i++)
		if (recv(f->fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
			break;
}

/** @brief Does a failure end the TLS leg with a fatal alert? While
 *  relaying, and in the server role while the backend is being reached
 *  (the handshake is done, the app on the client role's side waits):
 *  the alert is how the other daemon learns it was not a clean end and
 *  resets its app. Without it a backend that refused or reset at once
 *  reached the app as a clean EOF ("TLS peer closed without
 *  close_notify" reads as an end). */
static int conn_alert_on_error(const struct conn *c)
{
	if (c->st == CONN_RELAYING)
		return 1;
	return c->st == CONN_CONNECTING && c->t->cfg->role == CFG_ROLE_SERVER &&
	       !c->pr && !c->rc && !hcl_backend_phase(c);
}

/** @brief The handshake's verdict is needed only while it runs: what
 *  stays (who the peer is) has been copied to c->who. The session no
 *  longer points at it: no verification runs after the handshake. */
static void conn_check_free(struct conn *c)
{
	if (!c->check)
		return;
	if (c->sess)
		gnutls_session_set_ptr(c->sess, NULL);
	gnutls_memset(&c->check->sec, 0, sizeof c->check->sec);
	free(c->check);
	c->check = NULL;
}

/** @brief The handshake's secrets, wiped and freed once the record
 *  layer has its keys (or will never need them). */
static void conn_srec_free_secrets(struct conn *c)
{
	if (c->sec) {
		gnutls_memset(c->sec, 0, sizeof *c->sec);
		free(c->sec);
		c->sec = NULL;
	}
}

/* srec behind conn_tls_recv/send, for the movers that read and write
 * through those (WebSocket): each side borrows a relay buffer from the
 * worker's pool only while bytes wait in it. */
struct conn_sio {
	unsigned char *in;	/* records not yet opened: [raw, raw+rawlen),
				   plaintext not yet taken: [pt, pt+ptlen) */
	uint32_t raw, rawlen, pt, ptlen;
	unsigned char *out;	/* sealed, not yet sent: [ooff, ooff+olen) */
	size_t ooff, olen;
	uint32_t oplen;		/* the plaintext of the record in out that
				   the caller will send again (GnuTLS's
				   contract after EAGAIN), 0: none */
	unsigned eof:1;		/* close_notify or FIN came */
};

static void conn_sio_release(struct conn *c, int all)
{
	struct conn_sio *io = c->sio;

	if (io->in && (all || (io->rawlen == 0 && io->ptlen == 0))) {
		worker_buf_put(c->w, io->in);
		io->in = NULL;
		io->raw = io->rawlen = io->pt = io->ptlen = 0;
	}
	if (io->out && (all || io->olen == 0)) {
		worker_buf_put(c->w, io->out);
		io->out = NULL;
		io->ooff = io->olen = 0;
	}
}

/** @brief The record layer's keys and secrets, wiped and freed. */
static void conn_srec_free(struct conn *c)
{
	conn_srec_free_secrets(c);
	if (c->sio) {
		conn_sio_release(c, 1);
		free(c->sio);
		c->sio = NULL;
	}
	if (c->srec) {
		srec_free(c->srec);
		free(c->srec);
		c->srec = NULL;
	}
}

/** @brief Our alert on a failed connection's TLS leg, when nothing of a
 *  record is half sent before it. */
static void conn_srec_alert(struct conn *c)
{
	unsigned char rec[SREC_CTL_RECORD];
	gnutls_alert_level_t level;
	int desc = GNUTLS_A_INTERNAL_ERROR, n;

	if (c->up.len || c->up.notify || (c->sio && c->sio->olen))
		return;
	if (c->tls_err == GNUTLS_E_FATAL_ALERT_RECEIVED)
		return;			/* the peer ended it with its own */
	if (c->tls_err) {
		n = gnutls_error_to_alert(c->tls_err, (int *)&level);
		if (n >= 0)
			desc = n;
	}
	n = srec_alert(c->srec, GNUTLS_AL_FATAL, desc, rec);
	if (n > 0 && send(c->tls.fd, rec, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("tunnel %s: %s: alert not sent: %s", c->t->cfg->name,
			  c->peer, strerror(errno));
}

void conn_close(struct conn *c, int error)
{
	struct worker *w = c->w;
	uint64_t ms = timer_now_ms() - c->started_ms;
	int reset_tls;

	if (c->st == CONN_CLOSED)
		return;
	if (c->st == CONN_RELAYING) {
		if (error)
			log_notice("tunnel %s: %s: relay failed after %llu ms: %s",
				   c->t->cfg->name, c->peer,
				   (unsigned long long)ms, c->reason);
		else
			log_info("tunnel %s: %s: closed after %llu ms, %llu bytes up, %llu bytes down, %s, to %s",
				 c->t->cfg->name, c->peer, (unsigned long long)ms,
				 (unsigned long long)c->bytes_up,
				 (unsigned long long)c->bytes_down,
				 c->who ? c->who : "no identity",
				 c->dest_name ? c->dest_name : "?");
		tunnel_account(c->t, conn_who(c), c->bytes_up, c->bytes_down);
	}
	if (c->mover)
		c->mover->close(c);
	relay_free(c);
	hcl_free(c);
	proto_free(c);
	conn_pp_free(c);
	proto_client_free(c);
	timer_cancel(&w->timers, &c->timer);
	if (c->lim)
		limit_release(c->lim, c->lim_src);
	c->lim = NULL;
	/* The alert that says why: bad_record_mac for a forged record,
	 * record_overflow, no_renegotiation...; else internal_error. */
	reset_tls = error && conn_alert_on_error(c);
	if (c->srec && reset_tls)
		conn_srec_alert(c);
	else if (c->sess && reset_tls && !c->ktls) {
		if (c->tls_err)
			gnutls_alert_send_appropriate(c->sess, c->tls_err);
		else
			gnutls_alert_send(c->sess, GNUTLS_AL_FATAL,
					  GNUTLS_A_INTERNAL_ERROR);
	}
	/* An error on one leg is shown on the other as a reset, never as a
	 * clean end that would pass a truncated stream for a whole one. The
	 * TLS leg of a failed relay is reset too, behind the alert: a peer
	 * that is not reading that leg (its own destination never reads)
	 * learns of the end from the reset (mover_pump's EPOLLERR watch),
	 * where a FIN and the alert would wait unseen behind the bytes it
	 * has not read, holding its connection as long. */
	conn_fd_close(c, &c->plain, error);
	if (error && !reset_tls)
		conn_fd_drain(&c->tls);
	conn_fd_close(c, &c->tls, reset_tls);
	if (c->sess) {
		gnutls_deinit(c->sess);
		c->sess = NULL;
	}
	conn_srec_free(c);
	conn_check_free(c);
	c->st = CONN_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	c->t->stats->active--;
	c->next_dead = w->dead;
	w->dead = c;
}

void conn_free(struct conn *c)
{
	conn_check_free(c);
	conn_srec_free(c);
	free(c->who);
	free(c->dest_name);
	free(c);
}

const char *conn_who(const struct conn *c)
{
	return c->who ? c->who : "";
}

int conn_set_who(struct conn *c, const char *who)
{
	char *s = NULL;

	if (who && who[0] && !(s = strdup(who)))
		return -1;
	free(c->who);
	c->who = s;
	return 0;
}

void conn_set_dest(struct conn *c, const char *name)
{
	free(c->dest_name);
	c->dest_name = name ? strdup(name) : NULL;
}

void conn_reject(struct conn *c, int level, const char *fmt, ...)
{
	char msg[TLS_REASONLEN + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(level, "tunnel %s: %s: %s", c->t->cfg->name, c->peer, msg);
	conn_close(c, 1);
}

/** @brief A connection with no leg yet, on the worker's list. */
static struct conn *conn_alloc(struct worker *w, struct tunnel *t)
{
	struct conn *c = calloc(1, sizeof *c);

	if (!c) {
		log_err("tunnel %s: out of memory for a new connection",
			t->cfg->name);
		return NULL;
	}
	c->w = w;
	c->t = t;
	c->tls = (struct conn_fd){ .kind = EV_CONN_TLS, .fd = -1, .c = c };
	c->plain = (struct conn_fd){ .kind = EV_CONN_PLAIN, .fd = -1, .c = c };
	timer_init(&c->timer);
	c->started_ms = timer_now_ms();
	return c;
}

static void conn_link(struct worker *w, struct conn *c)
{
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	c->t->stats->accepted++;
	c->t->stats->active++;
}

struct conn *conn_new(struct worker *w, struct tunnel *t, const char *peer)
{
	struct conn *c = conn_alloc(w, t);

	if (!c)
		return NULL;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	conn_link(w, c);
	return c;
}

/** @brief Log a refusal by the limits, or count it for the next line:
 *  a flood of them must not flood the log. */
static void conn_limit_log(struct tunnel *t, enum limit_log kind,
			   const struct sockaddr *peer)
{
	char who[NET_ADDRSTRLEN], more[64] = "";
	unsigned long quiet;

	if (!limit_log_due(t->lim, kind, timer_now_ms(), &quiet))
		return;
	if (quiet)
		snprintf(more, sizeof more, " (and %lu more since the last such line)",
			 quiet);
	net_addr_str(peer, who, sizeof who);
	if (kind == LIMIT_LOG_TOTAL)
		log_notice("tunnel %s: %s: refused: max_connections (%d) reached%s",
			   t->cfg->name, who, t->lim->max, more);
	else if (kind == LIMIT_LOG_SOURCE)
		log_notice("tunnel %s: %s: refused: max_connections_per_source (%d) reached for this address%s",
			   t->cfg->name, who, t->lim->max_src, more);
	else
		log_warn("tunnel %s: %s: max_connections_per_source: this worker already tells %d sources apart; admitted uncounted%s",
			 t->cfg->name, who, LIMIT_SRC_SLOTS, more);
}

/** @brief max_connections and max_connections_per_source: count the
 *  connection, or close it at once (before any handshake or connect).
 *  -1: refused and closed. */
static int conn_limit(struct tunnel *t, int fd, const struct sockaddr *peer,
		      struct limit_src **src)
{
	uint64_t key[2];
	int full;
	enum limit_verdict v = limit_admit(t->lim,
					   limit_key(peer, key) == 0 ? key : NULL,
					   src, &full);

	if (full)
		conn_limit_log(t, LIMIT_LOG_FULL, peer);
	if (v == LIMIT_OK)
		return 0;
	if (v == LIMIT_TOTAL)
		t->stats->limited++;
	else
		t->stats->limited_source++;
	conn_limit_log(t, v == LIMIT_TOTAL ? LIMIT_LOG_TOTAL : LIMIT_LOG_SOURCE,
		       peer);
	close(fd);
	return -1;
}

void conn_accept(struct worker *w, struct tunnel *t, int fd,
		 const struct sockaddr *peer)
{
	struct limit_src *src = NULL;
	struct conn *c;

	if (t->lim && conn_limit(t, fd, peer, &src) < 0)
		return;
	c = conn_alloc(w, t);
	if (!c) {
		if (t->lim)
			limit_release(t->lim, src);
		close(fd);
		return;
	}
	c->lim = t->lim;
	c->lim_src = src;
	net_addr_str(peer, c->peer, sizeof c->peer);
	memcpy(&c->peer_ss, peer, peer->sa_family == AF_INET6 ?
	       sizeof(struct sockaddr_in6) : peer->sa_family == AF_INET ?
	       sizeof(struct sockaddr_in) : sizeof(sa_family_t));
	conn_link(w, c);
	/* TCP_NODELAY, and on the server role the keepalive, come from the
	 * listener (net_listener_opts). */
	log_debug("tunnel %s: %s: accepted", t->cfg->name, c->peer);
	if (t->cfg->role == CFG_ROLE_SERVER &&
	    (t->cfg->proxy_protocol & CFG_PP_ACCEPT)) {
		c->tls.fd = fd;
		conn_pp_start(c);
	} else if (t->cfg->role == CFG_ROLE_SERVER) {
		c->tls.fd = fd;
		conn_start_handshake(c);
	} else {
		c->plain.fd = fd;
		conn_start_connect(c);
	}
}

/** @brief Try the next address of the destination; all failed -> the
 *  protocol step answers the client, or the connection is refused. */
static void conn_connect_next(struct conn *c, const char *why)
{
	struct conn_fd *out = conn_outgoing(c);
	char as[NET_ADDRSTRLEN];

	for (;;) {
		if (out->fd >= 0)
			conn_fd_close(c, out, 0);
		if (c->addr_idx >= c->ndest) {
			if (hcl_backend_phase(c))
				hcl_backend_failed(c, why);
			else if (c->pr)
				proto_connect_failed(c, 0, why);
			else
				conn_reject(c, LOG_WARNING, "%s %s: %s",
					    c->t->cfg->role == CFG_ROLE_SERVER ?
						"backend" : "server",
					    c->dest_name, why);
			return;
		}
		const struct net_addr *a = &c->dest[c->addr_idx++];
		out->fd = net_connect_start(a);
		if (out->fd >= 0 && conn_want(c, out, EPOLLOUT) == 0)
			return;
		why = strerror(errno);
		log_debug("tunnel %s: %s: connect %s: %s", c->t->cfg->name,
			  c->peer, net_addr_str((const struct sockaddr *)&a->ss,
						as, sizeof as), why);
	}
}

void conn_connect_to(struct conn *c, const struct net_addr *addrs, int n,
		     const char *name)
{
	c->st = CONN_CONNECTING;
	c->dest = addrs;
	c->ndest = n;
	conn_set_dest(c, name);
	c->addr_idx = 0;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * c->t->cfg->connect_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	conn_connect_next(c, "no address");
}

/** @brief The configured destination: the backend (server role) or the
 *  tunnel's server (client role). */
void conn_start_connect(struct conn *c)
{
	const struct cfg_tunnel *t = c->t->cfg;

	if (t->role == CFG_ROLE_CLIENT && t->http_proxy)
		conn_connect_to(c, t->proxy_ep.addrs, t->proxy_ep.naddrs,
				t->proxy_name);
	else
		conn_connect_to(c, t->connect_ep.addrs, t->connect_ep.naddrs,
				t->connect);
}

static void conn_connected(struct conn *c)
{
	struct conn_fd *out = conn_outgoing(c);
	int e = net_connect_result(out->fd);

	if (e) {
		log_debug("tunnel %s: %s: connect to %s failed: %s",
			  c->t->cfg->name, c->peer, c->dest_name, strerror(e));
		conn_connect_next(c, strerror(e));
		return;
	}
	net_set_nodelay(out->fd);
	if (hcl_backend_phase(c)) {
		hcl_backend_up(c);
		return;
	}
	/* The server role's backend learns the client first; the client
	 * role's server does, once a proxy's tunnel is up (handshake). */
	if ((c->t->cfg->proxy_protocol & CFG_PP_SEND) &&
	    c->t->cfg->role == CFG_ROLE_SERVER && conn_pp_send(c, out->fd) < 0) {
		conn_reject(c, LOG_WARNING, "backend %s: %s", c->dest_name, c->reason);
		return;
	}
	if (c->t->cfg->role == CFG_ROLE_CLIENT) {
		net_set_keepalive(out->fd, &c->t->cfg->keepalive);
		if (c->t->cfg->http_proxy)
			proto_client_proxy(c);
		else
			conn_start_handshake(c);
	} else if (c->pr) {
		timer_cancel(&c->w->timers, &c->timer);
		proto_connected(c);
	} else {
		conn_start_relay(c);
	}
}

/** @brief Where the kernel path is on offer, attach the TLS ULP while the
 *  socket is surely established; see ktls_attach(). */
static void conn_attach_ulp(struct conn *c)
{
	const struct worker_ktls *k = c->w->ktls;
	char why[160];

	if (k->mode == CFG_KTLS_OFF || !k->available)
		return;
	if (ktls_attach(c->tls.fd, why, sizeof why) == 0)
		c->ulp = 1;
	else
		log_debug("tunnel %s: %s: %s", c->t->cfg->name, c->peer, why);
}

void conn_start_handshake(struct conn *c)
{
	int rc;

	if ((c->t->cfg->proxy_protocol & CFG_PP_SEND) &&
	    c->t->cfg->role == CFG_ROLE_CLIENT && conn_pp_send(c, c->tls.fd) < 0) {
		conn_reject(c, LOG_WARNING, "server %s: %s", c->dest_name, c->reason);
		return;
	}
	c->st = CONN_HANDSHAKING;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * c->t->cfg->handshake_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	conn_attach_ulp(c);
	c->check = calloc(1, sizeof *c->check);
	if (!c->check) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	rc = tls_session_new(&c->sess, &c->t->tls, c->tls.fd, c->check,
			     &c->t->ticket);
	if (rc < 0) {
		conn_reject(c, LOG_ERR, "TLS session: %s", gnutls_strerror(rc));
		return;
	}
	conn_want(c, &c->tls, EPOLLIN);
	conn_event(&c->tls, 0);
}

static void conn_handshake(struct conn *c)
{
	int rc = gnutls_handshake(c->sess);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		conn_want(c, &c->tls,
			  gnutls_record_get_direction(c->sess) ? EPOLLOUT : EPOLLIN);
		return;
	}
	if (rc < 0) {
		char reason[TLS_REASONLEN];
		if (c->check->failed)
			snprintf(reason, sizeof reason, "%s", c->check->reason);
		else
			tls_handshake_reason(c->sess, rc, reason, sizeof reason);
		/* Tell the peer why, as far as TLS can (best effort). */
		gnutls_alert_send_appropriate(c->sess, rc);
		c->t->stats->rejected++;
		c->t->stats->hs_fail[c->check->failed ? c->check->why :
				     rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
				     rc == GNUTLS_E_CERTIFICATE_REQUIRED ?
				     TLS_FAIL_NO_CERT : TLS_FAIL_PROTOCOL]++;
		conn_reject(c, LOG_NOTICE, "%s", reason);
		return;
	}
	if (tls_handshake_done(c->sess) < 0) {
		gnutls_alert_send(c->sess, GNUTLS_AL_FATAL,
				  tls_fail_alert(c->check->why));
		c->t->stats->rejected++;
		c->t->stats->hs_fail[c->check->why]++;
		conn_reject(c, LOG_NOTICE, "resumed session refused: %s",
			    c->check->reason);
		return;
	}
	timer_cancel(&c->w->timers, &c->timer);
	if (conn_set_who(c, c->check->who) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	/* Kept for the record layer (srec.h) until the relay starts; a
	 * copy failure only leaves the records to GnuTLS. */
	if ((c->check->sec.have & 3) == 3 &&
	    (c->sec = malloc(sizeof *c->sec)))
		*c->sec = c->check->sec;
	conn_check_free(c);
	{
		char desc[80];
		tls_describe(c->sess, desc, sizeof desc);
		if (gnutls_session_is_resumed(c->sess)) {
			c->t->stats->resumed++;
			strcat(desc, ", resumed");
		}
		/* A password login is authorized once its request is read. */
		if (c->t->cfg->hc == CFG_HC_RELAY)
			log_debug("tunnel %s: %s: TLS handshake done (%s); the token comes with the request",
				  c->t->cfg->name, c->peer, desc);
		else if (c->t->cfg->role == CFG_ROLE_SERVER &&
		    c->t->cfg->client_auth == CFG_AUTH_PASSWORD)
			log_debug("tunnel %s: %s: TLS handshake done (%s); the login comes with the request",
				  c->t->cfg->name, c->peer, desc);
		else
			log_info("tunnel %s: %s: %s %s (%s)", c->t->cfg->name,
				 c->peer, conn_who(c),
				 c->t->cfg->role == CFG_ROLE_SERVER &&
				 c->t->cfg->client_auth == CFG_AUTH_BOTH ?
				 "presented a valid certificate; the password comes with the request" :
				 "authorized", desc);
	}
	if (conn_choose_path(c) < 0)
		return;
	if (c->t->cfg->role == CFG_ROLE_SERVER && proto_needed(c->t->cfg))
		proto_start(c);
	else if (c->t->cfg->role == CFG_ROLE_SERVER)
		conn_start_connect(c);
	else if (proto_client_needed(c->t->cfg))
		proto_client_start(c);
	else
		conn_start_relay(c);
}

/** @brief Hand the session to the kernel and take the splice path, or
 *  say why not (@why) and leave it in GnuTLS. -1: the connection can't go
 *  on at all (keys half in the kernel, or kTLS is required). */
static int conn_try_ktls(struct conn *c, char *why, size_t len)
{
	const struct worker_ktls *k = c->w->ktls;
	int up[2] = { -1, -1 }, down[2] = { -1, -1 }, spent, never = 0;

	c->user_why = USER_WHY_HANDOFF;
	if (k->mode == CFG_KTLS_OFF) {
		snprintf(why, len, "ktls = \"off\"");
		c->user_why = USER_WHY_OFF;
		return 0;
	}
	if (!k->available) {
		snprintf(why, len, "%s", k->why);
		c->user_why = USER_WHY_NO_KERNEL;
		return 0;
	}
	if (worker_pipe_get(c->w, up) < 0 || worker_pipe_get(c->w, down) < 0) {
		snprintf(why, len, "no pipe for splice: %s", strerror(errno));
		goto fallback;
	}
	if (gnutls_transport_is_ktls_enabled(c->sess) != GNUTLS_KTLS_DUPLEX &&
	    ktls_enable(c->tls.fd, c->sess, c->ulp, &spent, why, len) < 0) {
		if (spent)
			return -1;
		/* Nothing went to the kernel (e.g. it could not load the
		 * cipher): GnuTLS serves the session under "auto". The peer
		 * already sent its FIN, or data came in with the handshake:
		 * the kernel can't take this session, "on" or not. */
		never = errno == ENOTCONN || errno == EAGAIN;
		goto fallback;
	}
	c->ktls = 1;
	c->up.pipe[0] = up[0], c->up.pipe[1] = up[1];
	c->down.pipe[0] = down[0], c->down.pipe[1] = down[1];
	return 1;
fallback:
	worker_pipe_put(c->w, up, 1);
	worker_pipe_put(c->w, down, 1);
	return k->mode == CFG_KTLS_ON && !never ? -1 : 0;
}

/** @brief Right after the handshake, while the TLS socket is most likely
 *  still established: kernel path or userspace path. -1: closed. */
static int conn_choose_path(struct conn *c)
{
	char why[200] = "";
	int k;

	memset(&c->up, 0, sizeof c->up);
	memset(&c->down, 0, sizeof c->down);
	c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
	k = conn_try_ktls(c, why, sizeof why);
	if (k < 0) {
		conn_reject(c, LOG_WARNING, "kernel TLS hand-off failed: %s", why);
		return -1;
	}
	c->mover = k ? &mover_splice_ops : &mover_user_ops;
	if (k)
		conn_srec_free(c);	/* the kernel has the keys */
	if (k)
		log_debug("tunnel %s: %s: ktls=tx+rx", c->t->cfg->name, c->peer);
	else
		log_debug("tunnel %s: %s: userspace: %s", c->t->cfg->name,
			  c->peer, why);
	return 0;
}

/** @brief While a connection relays, a close its worker did not choose
 *  must reach the plain peer (the app, the backend) as a reset. A worker that dies (SIGKILL, a crash)
 *  has its sockets closed by the kernel, which sends a FIN when nothing
 *  is left unread: the app or backend would take a stream cut in the
 *  middle for a whole one. With SO_LINGER {1, 0} that close is a reset;
 *  conn_fd_close() takes it off again before every close of our own
 *  that means a clean end. */
static void conn_arm_reset(struct conn_fd *f)
{
	struct linger lg = { 1, 0 };

	if (f->fd >= 0 &&
	    setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0)
		f->abortive = 1;
}

void conn_release_session(struct conn *c)
{
	if ((!c->ktls && !c->srec) || !c->sess || tls_ticket_awaited(c->sess))
		return;
	gnutls_deinit(c->sess);
	c->sess = NULL;
}

/** @brief The userspace path: our record layer takes the session's keys
 *  (srec.h) and the GnuTLS session goes (conn_release_session), as on the
 *  kernel path; else GnuTLS keeps the records, and the log says why. */
static void conn_try_srec(struct conn *c)
{
	char why[200] = "";
	struct srec *r;

	if (!c->sec || !c->sess)
		snprintf(why, sizeof why, "the session's traffic secrets were not seen (TLS 1.2?)");
	else if (c->ws && !(c->sio = calloc(1, sizeof *c->sio)))
		snprintf(why, sizeof why, "out of memory");
	else if (!(r = malloc(sizeof *r)))
		snprintf(why, sizeof why, "out of memory");
	else if (srec_from_session(r, c->sess, c->sec, why, sizeof why) < 0)
		free(r);
	else
		c->srec = r;
	if (!c->srec) {
		free(c->sio);
		c->sio = NULL;
	}
	if (c->srec)
		log_debug("tunnel %s: %s: records: ssltunnel's (no GnuTLS session)",
			  c->t->cfg->name, c->peer);
	else
		log_debug("tunnel %s: %s: records: GnuTLS's: %s",
			  c->t->cfg->name, c->peer, why);
}

void conn_start_relay(struct conn *c)
{
	enum mover_status rs;

	timer_cancel(&c->w->timers, &c->timer);
	if ((c->pr && proto_handoff(c) < 0) ||
	    (c->pc && proto_client_handoff(c) < 0)) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	proto_client_free(c);
	c->st = CONN_RELAYING;
	c->idle_bytes = c->bytes_up + c->bytes_down;
	c->idle_since = timer_now_ms();
	/* The TLS leg too: its peer takes a FIN without close_notify for an
	 * end (mover_down_fill: peers that never send one are common), so
	 * a dead worker's peer daemon would pass the cut on as a clean end.
	 * Not a relay's or a listener's control channel: WebSocket close
	 * frames say how those end, and a FIN is how they are seen to go. */
	conn_arm_reset(&c->plain);
	if (!c->rc && !hcl_is_control(c))
		conn_arm_reset(&c->tls);
	if (c->rc)
		c->mover = relay_mover(c);
	else if (hcl_is_control(c))
		c->mover = hcl_mover(c);
	else if (c->ws)
		c->mover = &mover_ws_ops;
	if (!c->ktls && (c->mover == &mover_user_ops || c->mover == &mover_ws_ops))
		conn_try_srec(c);
	conn_srec_free_secrets(c);
	conn_release_session(c);
	rs = c->mover->start(c);
	if (rs != MOVER_CONTINUE)
		conn_close(c, rs == MOVER_ERROR);
}

/** @brief Connections that idle by design and keep themselves alive
 *  with pings: a Hybrid Connections listener's control channel, either
 *  end of it. */
static int conn_idle_exempt(const struct conn *c)
{
	return hcl_is_control(c) || relay_is_control(c);
}

/* The hot path only counts bytes (as it always did); the sweep compares
 * the counts with what it saw last time, so a connection is closed no
 * sooner than idle_timeout after its last byte, and at most one sweep
 * period later. */
void conn_idle_sweep(struct worker *w, uint64_t now)
{
	struct conn *c, *next;

	for (c = w->conns; c; c = next) {
		const int limit = c->t->cfg->idle_timeout;
		uint64_t moved = c->bytes_up + c->bytes_down;

		next = c->next;
		if (!limit || c->st != CONN_RELAYING || conn_idle_exempt(c))
			continue;
		if (moved != c->idle_bytes) {
			c->idle_bytes = moved;
			c->idle_since = now;
			continue;
		}
		if (now - c->idle_since < 1000ULL * limit)
			continue;
		c->t->stats->idle_closed++;
		log_notice("tunnel %s: %s: idle timeout after %d s: closing both sides",
			   c->t->cfg->name, c->peer, limit);
		conn_close(c, 0);
	}
}

/** @brief A relaying leg watched only for errors (mover_pump) has one:
 *  the peer reset it (or it timed out). Fills c->reason. An EPOLLHUP
 *  without an error is no failure: it can be an event of this round
 *  collected before the mover changed what it waits for. */
static int conn_fd_broken(struct conn *c, struct conn_fd *f, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (!(events & (EPOLLERR | EPOLLHUP)) || (f->events & (EPOLLIN | EPOLLOUT)))
		return 0;
	if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || !err)
		return 0;
	snprintf(c->reason, sizeof c->reason, "%s side: %s",
		 f == &c->plain ? "plain" : "TLS", strerror(err));
	return 1;
}

void conn_event(struct conn_fd *f, uint32_t events)
{
	struct conn *c = f->c;
	enum mover_status rs;

	switch (c->st) {
	case CONN_PROXY:
		if (f == &c->tls)
			conn_pp_event(c);
		break;
	case CONN_CONNECTING:
		if (f == conn_outgoing(c))
			conn_connected(c);
		break;
	case CONN_HANDSHAKING:
		if (f == &c->tls)
			conn_handshake(c);
		break;
	case CONN_REQUEST:
	case CONN_AUTHENTICATING:
	case CONN_RESOLVING:
	case CONN_RESPONDING:
		if (c->pc)
			proto_client_event(c, f, events);
		else
			proto_event(c, f, events);
		break;
	case CONN_RELAYING:
		if (conn_fd_broken(c, f, events)) {
			conn_close(c, 1);
			break;
		}
		rs = c->mover->on_event(c, f, events);
		if (rs != MOVER_CONTINUE)
			conn_close(c, rs == MOVER_ERROR);
		break;
	case CONN_CLOSED:
		break;
	}
}

void conn_resume(struct conn *c)
{
	enum mover_status rs;

	if (c->st != CONN_RELAYING)
		return;
	rs = c->mover->on_event(c, NULL, 0);
	if (rs != MOVER_CONTINUE)
		conn_close(c, rs == MOVER_ERROR);
}

void conn_timeout(struct conn *c)
{
	if (c->st == CONN_PROXY) {
		c->t->stats->rejected++;
		conn_reject(c, LOG_NOTICE,
			    "refused: no PROXY header within handshake_timeout (%d s)",
			    c->t->cfg->handshake_timeout);
	} else if (c->st == CONN_HANDSHAKING) {
		c->t->stats->rejected++;
		c->t->stats->hs_fail[TLS_FAIL_TIMEOUT]++;
		conn_reject(c, LOG_NOTICE, "handshake timed out after %d s",
			    c->t->cfg->handshake_timeout);
	} else if (c->st == CONN_CONNECTING && hcl_backend_phase(c)) {
		hcl_backend_failed(c, "connect timed out");
	} else if (c->st == CONN_CONNECTING && c->pr) {
		proto_connect_failed(c, 1, "timed out");
	} else if (c->st == CONN_CONNECTING) {
		conn_reject(c, LOG_WARNING, "%s %s: connect timed out after %d s",
			    c->t->cfg->role == CFG_ROLE_SERVER ? "backend" : "server",
			    c->dest_name, c->t->cfg->connect_timeout);
	} else if (c->st == CONN_RELAYING && hcl_is_control(c)) {
		enum mover_status rs = hcl_tick(c);
		if (rs != MOVER_CONTINUE)
			conn_close(c, rs == MOVER_ERROR);
	} else if (c->st == CONN_RELAYING && c->ws) {
		enum mover_status rs = mover_ws_tick(c);
		if (rs != MOVER_CONTINUE)
			conn_close(c, rs == MOVER_ERROR);
	} else if (c->st == CONN_RELAYING && c->rc) {
		enum mover_status rs = relay_tick(c);
		if (rs != MOVER_CONTINUE)
			conn_close(c, rs == MOVER_ERROR);
	} else if (c->st == CONN_RESOLVING && c->rc) {
		relay_timeout(c);
	} else if (c->st == CONN_RESOLVING && hcl_resolving(c)) {
		hcl_resolve_timeout(c);
	} else if (c->pc) {
		proto_client_timeout(c);
	} else if (c->pr) {
		proto_timeout(c);
	}
}

/** @brief Send what waits in sio's out. 0 (all sent or EAGAIN), -1. */
static int conn_sio_flush(struct conn *c)
{
	struct conn_sio *io = c->sio;

	while (io->olen) {
		ssize_t n = send(c->tls.fd, io->out + io->ooff, io->olen,
				 MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "sending to TLS peer: %s", strerror(errno));
			return -1;
		}
		io->ooff += n;
		io->olen -= n;
	}
	conn_sio_release(c, 0);
	return 0;
}

/** @brief Seal a control record (@alert: close_notify, else our
 *  KeyUpdate) after what waits in out, and send what can go. */
static int conn_sio_ctl(struct conn *c, int alert)
{
	struct conn_sio *io = c->sio;
	int n;

	if (!io->out) {
		if (!(io->out = worker_buf_get(c->w))) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return -1;
		}
		io->ooff = io->olen = 0;
	}
	n = srec_append(c->srec, alert, io->out, MOVER_BUF_SIZE, &io->ooff,
			&io->olen);
	if (n < 0) {
		snprintf(c->reason, sizeof c->reason, "sealing a TLS record: %s",
			 gnutls_strerror(n));
		return -1;
	}
	return conn_sio_flush(c);
}

enum conn_rec conn_srec_next(struct conn *c, unsigned char *p, size_t avail,
			     size_t *used, size_t *plen,
			     int (*reply)(struct conn *c))
{
	unsigned char type;
	int err, rc = srec_open(c->srec, p, avail, used, &type, plen);

	if (rc == 0)
		return CONN_REC_MORE;
	if (rc < 0) {
		tls_recv_reason(NULL, rc, c->reason, sizeof c->reason);
		c->tls_err = rc;
		return CONN_REC_FAILED;
	}
	if (type == SREC_CT_DATA)
		return CONN_REC_DATA;
	switch (srec_control(c->srec, type, p + SREC_HDR, *plen, c->sess,
			     timer_now_ms(), &err, c->reason, sizeof c->reason)) {
	case SREC_CTL_NONE:
		conn_release_session(c);	/* a ticket, kept? */
		return CONN_REC_TAKEN;
	case SREC_CTL_REPLY:
		return reply(c) < 0 ? CONN_REC_FAILED : CONN_REC_TAKEN;
	case SREC_CTL_CLOSE_NOTIFY:
		log_debug("tunnel %s: %s: received close_notify",
			  c->t->cfg->name, c->peer);
		return CONN_REC_END;
	case SREC_CTL_FATAL:
		break;
	}
	c->tls_err = err;
	return CONN_REC_FAILED;
}

static int conn_sio_reply(struct conn *c)
{
	return conn_sio_ctl(c, 0);
}

static ssize_t conn_srec_recv(struct conn *c, unsigned char *buf, size_t len)
{
	struct conn_sio *io = c->sio;
	ssize_t n;

	for (;;) {
		if (io->ptlen) {
			size_t k = len < io->ptlen ? len : io->ptlen;
			memcpy(buf, io->in + io->pt, k);
			io->pt += k;
			io->ptlen -= k;
			conn_sio_release(c, 0);
			return (ssize_t)k;
		}
		if (io->eof)
			return 0;
		while (io->rawlen) {
			unsigned char *p = io->in + io->raw;
			size_t used, plen;
			enum conn_rec k = conn_srec_next(c, p, io->rawlen, &used,
							 &plen, conn_sio_reply);
			if (k == CONN_REC_MORE)
				break;
			if (k == CONN_REC_FAILED) {
				errno = EPROTO;
				return -1;
			}
			io->raw += used;
			io->rawlen -= used;
			if (k == CONN_REC_END) {
				io->eof = 1;
				io->rawlen = 0;
				conn_sio_release(c, 0);
				return 0;
			}
			if (k == CONN_REC_DATA && plen) {
				io->pt = (uint32_t)(p + SREC_HDR - io->in);
				io->ptlen = plen;
				break;
			}
		}
		if (io->ptlen)
			continue;
		if (!io->in) {
			if (!(io->in = worker_buf_get(c->w))) {
				snprintf(c->reason, sizeof c->reason, "out of memory");
				errno = EPROTO;
				return -1;
			}
			io->raw = io->rawlen = io->pt = io->ptlen = 0;
		}
		if (io->raw) {
			memmove(io->in, io->in + io->raw, io->rawlen);
			io->raw = 0;
		}
		n = recv(c->tls.fd, io->in + io->rawlen, MOVER_BUF_SIZE - io->rawlen, 0);
		if (n > 0) {
			io->rawlen += n;
			continue;
		}
		if (n == 0) {
			io->eof = 1;
			io->rawlen = 0;
			conn_sio_release(c, 0);
			return 0;
		}
		if (errno == EAGAIN || errno == EINTR) {
			conn_sio_release(c, 0);
			errno = EAGAIN;
			return -1;
		}
		snprintf(c->reason, sizeof c->reason,
			 "receiving from TLS peer: %s", strerror(errno));
		errno = EPROTO;
		return -1;
	}
}

static ssize_t conn_srec_send(struct conn *c, const unsigned char *buf,
			      size_t len)
{
	struct conn_sio *io = c->sio;
	size_t n = len < c->srec->max_plain ? len : c->srec->max_plain;
	int k, at = 0;

	if (io->olen) {
		if (conn_sio_flush(c) < 0) {
			errno = EPROTO;
			return -1;
		}
		if (io->olen) {
			errno = EAGAIN;
			return -1;
		}
		if (io->oplen) {	/* the call again after EAGAIN */
			n = io->oplen;
			io->oplen = 0;
			return (ssize_t)n;
		}
	}
	if (n == 0)
		return 0;
	if (!io->out && !(io->out = worker_buf_get(c->w))) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		errno = EPROTO;
		return -1;
	}
	if (srec_rekey_due(c->srec) &&
	    (at = srec_key_update(c->srec, 0, io->out)) < 0)
		goto fail;
	memcpy(io->out + at + SREC_HDR, buf, n);
	if ((k = srec_seal(c->srec, SREC_CT_DATA, io->out + at, n)) < 0) {
		at = k;
		goto fail;
	}
	io->ooff = 0;
	io->olen = at + k;
	if (conn_sio_flush(c) < 0) {
		errno = EPROTO;
		return -1;
	}
	if (io->olen) {
		io->oplen = n;
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)n;
fail:
	snprintf(c->reason, sizeof c->reason, "sealing a TLS record: %s",
		 gnutls_strerror(at));
	conn_sio_release(c, 0);
	errno = EPROTO;
	return -1;
}

ssize_t conn_tls_recv(struct conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->sio)
		return conn_srec_recv(c, buf, len);
	if (!c->ktls) {
		n = gnutls_record_recv(c->sess, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ||
		    (n == GNUTLS_E_REHANDSHAKE &&
		     c->t->cfg->role == CFG_ROLE_CLIENT)) {
			errno = EAGAIN;
			return -1;
		}
		if (n == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		tls_recv_reason(c->sess, n, c->reason, sizeof c->reason);
		c->tls_err = (int)n;
		errno = EPROTO;
		return -1;
	}
	for (;;) {
		n = recv(c->tls.fd, buf, len, 0);
		if (n >= 0 || errno == EAGAIN || errno == EINTR) {
			if (n < 0)
				errno = EAGAIN;
			return n;
		}
		if (errno != EIO && errno != EINVAL) {
			snprintf(c->reason, sizeof c->reason,
				 "receiving from TLS peer: %s", strerror(errno));
			errno = EPROTO;
			return -1;
		}
		switch (ktls_read_control(c->tls.fd, c->sess, c->reason,
					  sizeof c->reason)) {
		case KTLS_CTL_AGAIN:
			errno = EAGAIN;
			return -1;
		case KTLS_CTL_SKIPPED:
			conn_release_session(c);	/* a ticket, kept? */
			continue;
		case KTLS_CTL_CLOSE_NOTIFY:
			return 0;
		case KTLS_CTL_FATAL:
			errno = EPROTO;
			return -1;
		}
	}
}

ssize_t conn_tls_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->sio)
		return conn_srec_send(c, buf, len);
	if (c->ktls) {
		n = send(c->tls.fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0 || errno == EAGAIN || errno == EINTR) {
			if (n < 0)
				errno = EAGAIN;
			return n;
		}
		snprintf(c->reason, sizeof c->reason, "sending to TLS peer: %s",
			 strerror(errno));
		errno = EPROTO;
		return -1;
	}
	n = gnutls_record_send(c->sess, buf, len);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
		errno = EAGAIN;
		return -1;
	}
	snprintf(c->reason, sizeof c->reason, "sending to TLS peer: %s",
		 gnutls_strerror(n));
	errno = EPROTO;
	return -1;
}

void conn_tls_shutdown(struct conn *c)
{
	/* The userspace mover seals its own close_notify (srec without
	 * sio); a session it still holds for a ticket has stale records. */
	if (c->ktls)
		ktls_send_close_notify(c->tls.fd);
	else if (c->sio)
		conn_sio_ctl(c, 1);	/* after what waits, best effort */
	else if (c->sess && !c->srec)
		gnutls_bye(c->sess, GNUTLS_SHUT_WR);
	conn_tls_fin(c);
}

void conn_tls_fin(struct conn *c)
{
	/* Through an HTTP proxy the end of one direction is the
	 * close_notify alone: proxies such as tinyproxy end both directions
	 * at the first FIN. The FIN goes with the close. */
	if (!(c->t->cfg->role == CFG_ROLE_CLIENT && c->t->cfg->http_proxy))
		shutdown(c->tls.fd, SHUT_WR);
}
