/* proto.c - the protocol step of a server tunnel
 *
 *   REQUEST     read one HTTP/1.1 request head (at most HTTP_MAX_HEAD,
 *               within handshake_timeout); what came behind it is kept
 *   AUTHENTICATING  a tunnel taking passwords checks the request's Basic
 *               credentials off the loop (proto_auth.c)
 *   (decide)    the fixed `connect`, or the destination the request
 *               names: an IP literal is checked by the acl at once, a
 *               name first by the acl's name rules, then resolved
 *   RESOLVING   c-ares, on the worker's epoll (connect_timeout)
 *   CONNECTING  conn.c tries the allowed addresses in order
 *   RESPONDING  CONNECT: 200, or 403/502/504... and close;
 *               WebSocket: 101 before connecting, then the "ready" text
 *               message, or an "error" one and a close frame
 *
 * Then conn.c starts the mover, which first delivers the bytes the
 * client sent behind its request (pipelined after CONNECT, frames sent
 * before "ready"): nothing is lost at the seam.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "acl.h"
#include "auth.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "proto.h"
#include "proto_int.h"
#include "relay.h"
#include "resolve.h"
#include "worker.h"
#include "ws.h"

/* GET / on a WebSocket listener, as the original server answers it. */
static const char proto_page[] =
	"ssltunnel: TCP tunnels over WebSocket and mutually authenticated TLS.\n"
	"Connect with a WebSocket client to the tunnel path.\n";

int proto_needed(const struct cfg_tunnel *t)
{
	return t->role == CFG_ROLE_SERVER &&
		(t->dynamic || t->transport == CFG_TRANSPORT_WEBSOCKET);
}

static void proto_flush(struct conn *c);

/** @brief Send what is in the out buffer, then do what @then says. */
void proto_send(struct conn *c, enum proto_then then)
{
	c->st = CONN_RESPONDING;
	c->pr->then = then;
	c->pr->outoff = 0;
	proto_flush(c);
}

void proto_fail(struct conn *c, int level, int status,
		       const char *extra, const char *fmt, ...)
{
	struct proto *p = c->pr;
	char why[512], body[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_msg(level, "tunnel %s: %s: %s: answered %d", c->t->cfg->name,
		c->peer, why, status);
	snprintf(body, sizeof body, "%d %s: %s\n", status, http_reason(status),
		 why);
	n = http_format_response(p->out, sizeof p->out, status, extra, body);
	if (n < 0)
		n = http_format_response(p->out, sizeof p->out, status, extra, NULL);
	if (n < 0) {
		conn_close(c, 1);
		return;
	}
	p->outlen = n;
	proto_send(c, PROTO_THEN_CLOSE);
}

/** @brief A small frame the server sends itself (unmasked), appended to
 *  the out buffer. */
static int proto_frame(struct proto *p, unsigned opcode, const void *data,
		       size_t len)
{
	size_t n = ws_build_frame((unsigned char *)p->out + p->outlen,
				  sizeof p->out - p->outlen, opcode, data, len,
				  NULL);

	if (n == 0)
		return -1;
	p->outlen += n;
	return 0;
}

/** @brief The original protocol's status message: {"status":..,
 *  "details":..}, with @details made safe for a JSON string. */
static int proto_status_frame(struct proto *p, const char *status,
			      const char *details)
{
	char msg[WS_CONTROL_MAX * 4];
	size_t n = (size_t)snprintf(msg, sizeof msg,
				    "{\"status\":\"%s\",\"details\":\"", status);

	for (const char *s = details; *s && n + 8 < sizeof msg; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			msg[n++] = ' ';
		else
			msg[n++] = *s;
	n += snprintf(msg + n, sizeof msg - n, "\"}");
	return proto_frame(p, WS_OP_TEXT, msg, n);
}

static void proto_flush(struct conn *c)
{
	struct proto *p = c->pr;

	while (p->outoff < p->outlen) {
		ssize_t n = conn_tls_send(c, p->out + p->outoff,
					  p->outlen - p->outoff);
		if (n < 0 && errno == EAGAIN) {
			if (conn_want(c, &c->tls, EPOLLOUT) < 0)
				conn_close(c, 1);
			return;
		}
		if (n < 0) {
			conn_reject(c, LOG_INFO, "%s", c->reason);
			return;
		}
		p->outoff += n;
	}
	p->outlen = p->outoff = 0;
	conn_want(c, &c->tls, 0);
	switch (p->then) {
	case PROTO_THEN_CLOSE:
		/* A FIN behind the answer; what the client sent on is read
		 * and dropped, so the close is no reset that would destroy
		 * the answer before the client reads it. */
		conn_tls_shutdown(c);
		conn_close(c, 1);
		break;
	case PROTO_THEN_CONNECT:
		conn_connect_to(c, p->addrs, p->naddrs, p->dest);
		break;
	case PROTO_THEN_RELAY:
		conn_start_relay(c);
		break;
	}
}

/** @brief The destination is decided: WebSocket answers 101 first (the
 *  original protocol), CONNECT connects and answers after. */
static void proto_go(struct conn *c)
{
	struct proto *p = c->pr;
	char extra[160];
	int n;

	timer_cancel(&c->w->timers, &c->timer);
	if (!p->ws) {
		conn_connect_to(c, p->addrs, p->naddrs, p->dest);
		return;
	}
	snprintf(extra, sizeof extra,
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: %s\r\n", p->accept);
	n = http_format_response(p->out, sizeof p->out, 101, extra, NULL);
	if (n < 0) {
		conn_reject(c, LOG_ERR, "WebSocket accept: internal error");
		return;
	}
	p->outlen = n;
	c->ws = 1;
	proto_send(c, PROTO_THEN_CONNECT);
}

/** @brief Log one acl decision at notice, in one shape for every
 *  outcome: who, the destination, its address, the verdict. */
/** @brief An address without its port, for logs. */
void proto_host_str(const struct sockaddr *sa, char *as, size_t len)
{
	as[0] = '\0';
	if (sa)
		net_addr_str(sa, as, len);
	if (as[0] == '[') {
		memmove(as, as + 1, strlen(as));
		*strrchr(as, ']') = '\0';
	} else if (strrchr(as, ':')) {
		*strrchr(as, ':') = '\0';
	}
}

static void proto_log_verdict(struct conn *c, const struct sockaddr *sa,
			      const struct acl_verdict *v)
{
	char as[NET_ADDRSTRLEN];

	/* The address without its port: the destination names the port. */
	proto_host_str(sa, as, sizeof as);
	log_notice("tunnel %s: %s: %s -> %s%s%s%s: %s%s", c->t->cfg->name,
		   c->peer, conn_who(c), c->pr->dest, as[0] ? " (" : "", as,
		   as[0] ? ")" : "", v->allowed ? "allowed by " : "denied: ",
		   v->reason);
}

/** @brief Who asks, for the acl: the peer's certificate identity, read
 *  from the session once per connection. */
struct acl_who proto_who(struct conn *c)
{
	struct proto *p = c->pr;
	struct acl_who who = { .id = NULL, .user = NULL };

	if (!p->have_id && tls_identity_from_session(c->sess, &p->id) == 0)
		p->have_id = 1;
	if (p->have_id)
		who.id = &p->id;
	if (p->user[0])
		who.user = p->user;
	return who;
}

/** @brief Keep the addresses the acl allows, in the resolver's order;
 *  none allowed is a 403. */
static void proto_filter(struct conn *c, const struct net_addr *addrs, int n)
{
	struct proto *p = c->pr;
	struct acl_who who = proto_who(c);
	struct acl_verdict v, first = { 0 }, denied = { 0 };
	const struct sockaddr *first_sa = NULL, *denied_sa = NULL;

	p->naddrs = 0;
	for (int i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].ss;
		if (acl_decide(c->t->cfg->acl, &who, p->host, p->port, sa, &v)) {
			if (p->naddrs == 0) {
				first = v;
				first_sa = sa;
			}
			p->addrs[p->naddrs++] = addrs[i];
		} else if (!denied_sa) {
			denied = v;
			denied_sa = sa;
		}
	}
	if (p->naddrs == 0) {
		proto_log_verdict(c, denied_sa, &denied);
		c->t->stats->rejected++;
		c->t->stats->acl_denied++;
		proto_fail(c, LOG_DEBUG, 403, NULL, "%s is not allowed: %s",
			   p->dest, denied.reason);
		return;
	}
	proto_log_verdict(c, first_sa, &first);
	proto_go(c);
}

/** @brief The resolver's answer for a dynamic destination. */
static void proto_resolved(void *arg, const struct net_addr *addrs, int n,
			   const char *why)
{
	struct conn *c = arg;

	c->pr->q = NULL;
	if (n == 0) {
		proto_fail(c, LOG_NOTICE, 502, NULL, "cannot resolve %s: %s",
			   c->pr->host, why);
		return;
	}
	proto_filter(c, addrs, n);
}

/** @brief Where the request goes: the fixed `connect`, or the named
 *  destination if the acl allows it. */
static void proto_decide(struct conn *c)
{
	struct proto *p = c->pr;
	const struct cfg_tunnel *t = c->t->cfg;
	struct net_addr lit;
	struct acl_who who;
	struct acl_verdict v;

	if (!t->dynamic) {
		snprintf(p->dest, sizeof p->dest, "%s", t->connect);
		p->naddrs = t->connect_ep.naddrs;
		memcpy(p->addrs, t->connect_ep.addrs,
		       p->naddrs * sizeof *p->addrs);
		proto_go(c);
		return;
	}
	snprintf(p->dest, sizeof p->dest, strchr(p->host, ':') ? "[%s]:%u" :
		 "%s:%u", p->host, p->port);
	if (net_addr_literal(p->host, p->port, &lit) == 0) {
		proto_filter(c, &lit, 1);
		return;
	}
	who = proto_who(c);
	if (!acl_precheck(t->acl, &who, p->host, p->port, &v)) {
		proto_log_verdict(c, NULL, &v);
		c->t->stats->rejected++;
		c->t->stats->acl_denied++;
		proto_fail(c, LOG_DEBUG, 403, NULL, "%s is not allowed: %s",
			   p->dest, v.reason);
		return;
	}
	c->st = CONN_RESOLVING;
	conn_want(c, &c->tls, 0);
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * t->connect_timeout) < 0 ||
	    !(p->q = resolve_start(c->w->res, p->host, p->port,
				   proto_resolved, c))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
}

int proto_query_dest(const char *query, size_t querylen, char *host,
		     size_t hostlen, unsigned *port, char *err, size_t errlen)
{
	char why[200], pstr[16];
	int rc;

	rc = query ? http_query_get(query, querylen, "host", host, hostlen) : 0;
	if (rc == 0)
		snprintf(host, hostlen, "127.0.0.1");
	if (rc < 0 || http_parse_host(host, strlen(host), host, hostlen, why,
				      sizeof why) < 0) {
		snprintf(err, errlen, "query host: %s", rc < 0 ? "malformed" : why);
		return -1;
	}
	rc = query ? http_query_get(query, querylen, "port", pstr, sizeof pstr) : 0;
	if (rc <= 0 || http_parse_port(pstr, strlen(pstr), port, why,
				       sizeof why) < 0) {
		snprintf(err, errlen, "query port: %s",
			 rc < 0 ? "malformed" : rc == 0 ? "missing" : why);
		return -1;
	}
	return 0;
}

int proto_ws_upgrade(struct conn *c, const struct http_request *r)
{
	const struct http_header *key;
	char err[200];
	int st;

	if ((st = http_ws_check_request(r, err, sizeof err)) != 0) {
		proto_fail(c, LOG_INFO, st, st == 426 ? HTTP_WS_VERSION_HEADER : NULL,
			   "%s", err);
		return -1;
	}
	key = http_find_header(&r->headers, "Sec-WebSocket-Key");
	if (http_ws_accept(key->value, key->valuelen, c->pr->accept) < 0) {
		conn_reject(c, LOG_ERR, "WebSocket accept: internal error");
		return -1;
	}
	return 0;
}

/** @brief A WebSocket listener's request: GET / is the text page, an
 *  upgrade on the tunnel path opens a tunnel, the rest is refused. */
static void proto_ws_request(struct conn *c, const struct http_request *r)
{
	struct proto *p = c->pr;
	const struct cfg_tunnel *t = c->t->cfg;
	const char *path, *query;
	size_t pathlen, querylen;
	char err[200];

	if (http_split_target(r->target, r->targetlen, &path, &pathlen, &query,
			      &querylen) < 0) {
		proto_fail(c, LOG_INFO, 400, NULL, "request target is not a path");
		return;
	}
	if (r->methodlen != 3 || memcmp(r->method, "GET", 3) != 0) {
		proto_fail(c, LOG_INFO, 405, "Allow: GET\r\n", "method %.*s",
			   (int)r->methodlen, r->method);
		return;
	}
	if (pathlen == 1 && path[0] == '/' && strcmp(t->path, "/") != 0) {
		int n = http_format_response(p->out, sizeof p->out, 200, NULL,
					     proto_page);
		log_info("tunnel %s: %s: GET /: answered 200", t->name, c->peer);
		if (n < 0) {
			conn_close(c, 1);
			return;
		}
		p->outlen = n;
		proto_send(c, PROTO_THEN_CLOSE);
		return;
	}
	if (pathlen != strlen(t->path) || memcmp(path, t->path, pathlen) != 0) {
		proto_fail(c, LOG_INFO, 404, NULL, "no tunnel at %.*s",
			   (int)pathlen, path);
		return;
	}
	if (proto_ws_upgrade(c, r) < 0)
		return;
	p->ws = 1;
	if (t->dynamic && proto_query_dest(query, querylen, p->host,
					   sizeof p->host, &p->port, err,
					   sizeof err) < 0) {
		proto_fail(c, LOG_INFO, 400, NULL, "%s", err);
		return;
	}
	proto_decide(c);
}

/** @brief A CONNECT request on a dynamic tunnel. */
static void proto_connect_request(struct conn *c, const struct http_request *r)
{
	struct proto *p = c->pr;
	char err[200];

	if (r->methodlen != 7 || memcmp(r->method, "CONNECT", 7) != 0) {
		proto_fail(c, LOG_INFO, 405, "Allow: CONNECT\r\n",
			   "method %.*s: this tunnel only takes CONNECT",
			   (int)r->methodlen, r->method);
		return;
	}
	if (http_parse_authority(r->target, r->targetlen, p->host,
				 sizeof p->host, &p->port, err, sizeof err) < 0) {
		proto_fail(c, LOG_INFO, 400, NULL, "CONNECT %.*s: %s",
			   (int)(r->targetlen > 100 ? 100 : r->targetlen),
			   r->target, err);
		return;
	}
	proto_decide(c);
}

/** @brief The request, once any login it needs is done: a WebSocket
 *  listener's or a CONNECT tunnel's. */
void proto_dispatch(struct conn *c)
{
	struct proto *p = c->pr;

	if (c->t->cfg->hc == CFG_HC_RELAY)
		relay_request(c);
	else if (c->t->cfg->transport == CFG_TRANSPORT_WEBSOCKET)
		proto_ws_request(c, &p->req);
	else
		proto_connect_request(c, &p->req);
}

/** @brief Read what the client sent until a whole request head is in. */
static void proto_read(struct conn *c)
{
	struct proto *p = c->pr;
	struct http_request req;
	char err[200];
	ssize_t n;
	int rc;

	for (;;) {
		if (p->inlen == sizeof p->in)
			break;
		n = conn_tls_recv(c, p->in + p->inlen, sizeof p->in - p->inlen);
		if (n > 0) {
			p->inlen += n;
			continue;
		}
		if (n == 0) {
			conn_reject(c, LOG_INFO,
				    "the client closed before its request was complete");
			return;
		}
		if (errno == EAGAIN)
			break;
		conn_reject(c, LOG_INFO, "%s", c->reason);
		return;
	}
	rc = http_parse_request(p->in, p->inlen, HTTP_MAX_HEAD, &req, err,
				sizeof err);
	if (rc == HTTP_INCOMPLETE) {
		if (conn_want(c, &c->tls, EPOLLIN) < 0)
			conn_close(c, 1);
		return;
	}
	if (rc < 0) {
		proto_fail(c, LOG_INFO, http_error_status(rc), NULL, "request: %s",
			   err);
		return;
	}
	p->head = rc;
	conn_want(c, &c->tls, 0);
	if (req.has_body) {
		proto_fail(c, LOG_INFO, 400, NULL, "request: has a body");
		return;
	}
	p->req = req;
	proto_login(c);
}

void proto_start(struct conn *c)
{
	if (!(c->pr = calloc(1, sizeof *c->pr))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	c->st = CONN_REQUEST;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * c->t->cfg->handshake_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	/* GnuTLS may hold the request already: read before waiting. */
	proto_read(c);
}

void proto_event(struct conn *c, struct conn_fd *f, uint32_t events)
{
	if (f != &c->tls)
		return;
	if (c->st == CONN_REQUEST)
		proto_read(c);
	else if (c->st == CONN_RESPONDING)
		proto_flush(c);
}

void proto_connected(struct conn *c)
{
	struct proto *p = c->pr;

	if (p->ws) {
		p->outlen = 0;
		if (proto_status_frame(p, "ready", "Upstream socket connected") < 0) {
			conn_reject(c, LOG_ERR, "WebSocket: internal error");
			return;
		}
	} else {
		int n = http_format_connect_ok(p->out, sizeof p->out, NULL);
		if (n < 0) {
			conn_reject(c, LOG_ERR, "CONNECT: internal error");
			return;
		}
		p->outlen = n;
	}
	log_info("tunnel %s: %s: connected to %s", c->t->cfg->name, c->peer,
		 p->dest);
	proto_send(c, PROTO_THEN_RELAY);
}

void proto_connect_failed(struct conn *c, int timeout, const char *why)
{
	struct proto *p = c->pr;
	char details[300];
	unsigned char close[WS_CONTROL_FRAME_MAX];
	size_t n;

	if (!p->ws) {
		if (timeout)
			proto_fail(c, LOG_WARNING, 504, NULL,
				   "destination %s: connect timed out after %d s",
				   p->dest, c->t->cfg->connect_timeout);
		else
			proto_fail(c, LOG_WARNING, 502, NULL,
				   "destination %s: %s", p->dest, why);
		return;
	}
	/* After the 101: the original's error message, then a close. */
	snprintf(details, sizeof details, "connect %s: %s", p->dest,
		 timeout ? "timed out" : why);
	log_warn("tunnel %s: %s: destination %s", c->t->cfg->name, c->peer,
		 details);
	p->outlen = 0;
	n = ws_build_close(close, sizeof close, WS_CLOSE_INTERNAL,
			   "upstream error", NULL);
	if (proto_status_frame(p, "error", details) < 0 || n == 0 ||
	    p->outlen + n > sizeof p->out) {
		conn_close(c, 1);
		return;
	}
	memcpy(p->out + p->outlen, close, n);
	p->outlen += n;
	proto_send(c, PROTO_THEN_CLOSE);
}

void proto_timeout(struct conn *c)
{
	if (c->st == CONN_REQUEST)
		conn_reject(c, LOG_INFO,
			    "no complete request within handshake_timeout (%d s)",
			    c->t->cfg->handshake_timeout);
	else if (c->st == CONN_AUTHENTICATING)
		conn_reject(c, LOG_WARNING,
			    "user=%s: the password was not verified within handshake_timeout (%d s)",
			    c->pr->user, c->t->cfg->handshake_timeout);
	else if (c->st == CONN_RESOLVING)
		proto_fail(c, LOG_WARNING, 504, NULL,
			   "resolving %s timed out after %d s", c->pr->host,
			   c->t->cfg->connect_timeout);
	else
		conn_close(c, 1);
}

int proto_handoff(struct conn *c)
{
	struct proto *p = c->pr;
	size_t left = p->inlen - p->head;

	if (left) {
		if (!c->down.buf && !(c->down.buf = worker_buf_get(c->w)))
			return -1;
		memcpy(c->down.buf, p->in + p->head, left);
		c->down.off = 0;
		c->down.len = left;
	}
	proto_free(c);
	return 0;
}

void proto_free(struct conn *c)
{
	if (!c->pr)
		return;
	if (c->pr->have_id)
		tls_identity_free(&c->pr->id);
	if (c->pr->job)
		auth_cancel(c->pr->job);
	explicit_bzero(c->pr->pass, sizeof c->pr->pass);
	resolve_cancel(c->pr->q);
	free(c->pr);
	c->pr = NULL;
}
