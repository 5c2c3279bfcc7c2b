/* proto_client.c - the protocol step of a client tunnel
 *
 *   CONNECTING  to http_proxy, when there is one, then
 *   PROXY       "CONNECT server:port" (Basic proxy credentials), until
 *               the proxy's 200; its refusals are logged with its status
 *               line; then the TLS handshake with the server as usual
 *   REQUEST     after the handshake: the WebSocket upgrade (destination
 *               in its query) or "CONNECT destination"; then the server's
 *               answer: 101 (checked Sec-WebSocket-Accept) or 200 starts
 *               the mover, anything else closes the local connection
 *               with the server's reason in the log
 *
 * What the server sent behind its answer (the "ready" message, the first
 * relayed bytes) goes to the mover, as on the server side.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "conn.h"
#include "hc.h"
#include "hc_listen.h"
#include "http.h"
#include "log.h"
#include "proto.h"
#include "worker.h"

#define PC_BUF HTTP_MAX_HEAD

enum pc_phase { PC_PROXY, PC_TUNNEL };

struct proto_client {
	enum pc_phase phase;
	int sending;			/* the request is still going out */
	char out[2048];
	size_t outlen, outoff;
	char in[PC_BUF];
	size_t inlen;
	size_t head;			/* the answer's head length, once read */
	char key[HTTP_WS_KEY_LEN + 1];	/* our Sec-WebSocket-Key */
};

int proto_client_needed(const struct cfg_tunnel *t)
{
	return t->role == CFG_ROLE_CLIENT &&
		(t->destination || t->transport == CFG_TRANSPORT_WEBSOCKET);
}

/** @brief Send and receive on the leg: plain TCP to the proxy, TLS to
 *  the server. */
static ssize_t pc_send(struct conn *c, const void *p, size_t n)
{
	ssize_t r;

	if (c->pc->phase == PC_TUNNEL)
		return conn_tls_send(c, p, n);
	r = send(c->tls.fd, p, n, MSG_NOSIGNAL);
	if (r < 0 && errno != EAGAIN && errno != EINTR)
		snprintf(c->reason, sizeof c->reason, "sending to http_proxy: %s",
			 strerror(errno));
	else if (r < 0)
		errno = EAGAIN;
	return r;
}

/** @brief The proxy's answer is read a byte at a time: nothing behind its
 *  head may be taken from the stream the TLS handshake reads next. */
static ssize_t pc_recv(struct conn *c, void *p, size_t n)
{
	ssize_t r;

	if (c->pc->phase == PC_TUNNEL)
		return conn_tls_recv(c, p, n);
	r = recv(c->tls.fd, p, 1, 0);
	if (r < 0 && errno != EAGAIN && errno != EINTR)
		snprintf(c->reason, sizeof c->reason, "reading from http_proxy: %s",
			 strerror(errno));
	else if (r < 0)
		errno = EAGAIN;
	return r;
}

/** @brief The first line of a refusal's body, for the log. */
static void pc_body_line(const char *body, size_t n, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < len; i++) {
		if (body[i] == '\r' || body[i] == '\n')
			break;
		out[k++] = (unsigned char)body[i] < 0x20 ? '?' : body[i];
	}
	out[k] = '\0';
}

static void pc_io(struct conn *c);

/** @brief Start an exchange: @phase's request is in out[]. */
static void pc_begin(struct conn *c, enum pc_phase phase, int secs)
{
	struct proto_client *p = c->pc;

	p->phase = phase;
	p->sending = 1;
	p->outoff = p->inlen = p->head = 0;
	c->st = CONN_REQUEST;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * secs) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	pc_io(c);
}

/** @brief The proxy's answer: 200 goes on to the TLS handshake. */
static void pc_proxy_answer(struct conn *c, const struct http_response *r)
{
	const struct cfg_tunnel *t = c->t->cfg;

	if (r->status / 100 != 2) {
		conn_reject(c, LOG_WARNING,
			    "http_proxy %s refused CONNECT %s: HTTP/1.%d %d %.*s%s",
			    t->proxy_name, t->connect, r->minor_version,
			    r->status, (int)r->reasonlen, r->reason,
			    r->status == 407 || r->status == 401 ? (t->proxy_auth ?
						" (the proxy rejected the credentials)" :
						" (set user:password in http_proxy or proxy_auth_file)") : "");
		return;
	}
	log_debug("tunnel %s: %s: http_proxy %s: tunnel to %s open",
		  t->name, c->peer, t->proxy_name, t->connect);
	timer_cancel(&c->w->timers, &c->timer);
	conn_start_handshake(c);
}

/** @brief The server we talk HTTP to, for logs: a listener's is its
 *  relay (its connect is the backend). */
static const char *pc_server(const struct cfg_tunnel *t)
{
	return t->hc == CFG_HC_LISTENER ? t->relay : t->connect;
}

/** @brief The server's answer to our upgrade or CONNECT. */
static void pc_tunnel_answer(struct conn *c, const struct http_response *r,
			     size_t head)
{
	const struct cfg_tunnel *t = c->t->cfg;
	struct proto_client *p = c->pc;
	char err[200], line[200];

	if (hcl_answer(c, r->status))
		return;
	if (t->transport == CFG_TRANSPORT_WEBSOCKET && r->status == 101) {
		if (http_ws_check_response(r, p->key, err, sizeof err) < 0) {
			conn_reject(c, LOG_WARNING, "server %s: WebSocket upgrade: %s",
				    pc_server(t), err);
			return;
		}
		c->ws = 1;
	} else if (t->transport != CFG_TRANSPORT_WEBSOCKET && r->status / 100 == 2) {
		/* the tunnel to destination is open */
	} else {
		int login = r->status == 401 || r->status == 403 ||
			r->status == 407;
		pc_body_line(p->in + head, p->inlen - head, line, sizeof line);
		conn_reject(c, LOG_WARNING, "server %s refused %s: HTTP/1.%d %d %.*s%s%s%s",
			    pc_server(t), t->destination ? t->destination : t->path,
			    r->minor_version, r->status, (int)r->reasonlen, r->reason,
			    line[0] ? ": " : "", line, !login ? "" :
			    t->credentials ? " (check the user and password of credentials_file)" :
			    " (if it takes password logins, set credentials_file)");
		return;
	}
	log_info("tunnel %s: %s: server %s accepted %s", t->name, c->peer,
		 pc_server(t), t->destination ? t->destination :
		 hcl_is_control(c) ? "the control channel" :
		 t->hc == CFG_HC_LISTENER ? "the rendezvous" : "the tunnel");
	timer_cancel(&c->w->timers, &c->timer);
	conn_start_relay(c);
}

/** @brief Read the answer until its head is complete. */
static void pc_read(struct conn *c)
{
	struct proto_client *p = c->pc;
	struct http_response r;
	char err[200];
	ssize_t n;
	int rc = HTTP_INCOMPLETE;

	while (p->inlen < sizeof p->in) {
		n = pc_recv(c, p->in + p->inlen, sizeof p->in - p->inlen);
		if (n == 0) {
			conn_reject(c, LOG_WARNING, "%s %s closed before answering",
				    p->phase == PC_PROXY ? "http_proxy" : "server",
				    p->phase == PC_PROXY ? c->t->cfg->proxy_name :
				    pc_server(c->t->cfg));
			return;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_reject(c, LOG_WARNING, "%s", c->reason);
			return;
		}
		p->inlen += n;
		rc = http_parse_response(p->in, p->inlen, HTTP_MAX_HEAD, &r, err,
					 sizeof err);
		if (rc != HTTP_INCOMPLETE)
			break;
	}
	if (rc == HTTP_INCOMPLETE && p->inlen < sizeof p->in) {
		if (conn_want(c, &c->tls, EPOLLIN) < 0)
			conn_close(c, 1);
		return;
	}
	if (rc < 0) {
		conn_reject(c, LOG_WARNING, "%s's answer: %s",
			    p->phase == PC_PROXY ? "http_proxy" : "server", err);
		return;
	}
	conn_want(c, &c->tls, 0);
	p->head = rc;
	if (p->phase == PC_PROXY)
		pc_proxy_answer(c, &r);
	else
		pc_tunnel_answer(c, &r, rc);
}

static void pc_io(struct conn *c)
{
	struct proto_client *p = c->pc;

	while (p->sending && p->outoff < p->outlen) {
		ssize_t n = pc_send(c, p->out + p->outoff, p->outlen - p->outoff);
		if (n < 0 && errno == EAGAIN) {
			if (conn_want(c, &c->tls, EPOLLOUT) < 0)
				conn_close(c, 1);
			return;
		}
		if (n < 0) {
			conn_reject(c, LOG_WARNING, "%s", c->reason);
			return;
		}
		p->outoff += n;
	}
	p->sending = 0;
	pc_read(c);
}

void proto_client_proxy(struct conn *c)
{
	const struct cfg_tunnel *t = c->t->cfg;
	char extra[600] = "";
	int n;

	if (!c->pc && !(c->pc = calloc(1, sizeof *c->pc))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	if (t->proxy_auth)
		snprintf(extra, sizeof extra, "Proxy-Authorization: %s\r\n",
			 t->proxy_auth);
	n = http_format_request(c->pc->out, sizeof c->pc->out, "CONNECT",
				t->connect, t->connect, extra);
	explicit_bzero(extra, sizeof extra);
	if (n < 0) {
		conn_reject(c, LOG_ERR, "CONNECT request does not fit");
		return;
	}
	c->pc->outlen = n;
	pc_begin(c, PC_PROXY, t->connect_timeout);
}

void proto_client_start(struct conn *c)
{
	const struct cfg_tunnel *t = c->t->cfg;
	struct proto_client *p;
	char target[1600], extra[HC_TOKEN_MAX + 400], login[HC_TOKEN_MAX + 64] = "";
	const char *host = t->host_header ? t->host_header : t->connect;
	int n;

	if (!c->pc && !(c->pc = calloc(1, sizeof *c->pc))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	p = c->pc;
	if (t->transport == CFG_TRANSPORT_WEBSOCKET) {
		if (http_ws_make_key(p->key) < 0) {
			conn_reject(c, LOG_ERR, "no random numbers for a WebSocket key");
			return;
		}
		if (t->hc != CFG_HC_NONE) {
			/* A sender, or a listener's channel: Hybrid
			 * Connections, the token in its header. */
			if (hcl_request(c, target, sizeof target, login,
					sizeof login, &host) < 0) {
				conn_reject(c, LOG_ERR, "%s", c->reason);
				return;
			}
		} else if (t->destination)
			snprintf(target, sizeof target, "%s?port=%u&host=%s",
				 t->path, t->dest_port, t->dest_host);
		else
			snprintf(target, sizeof target, "%s", t->path);
		if (t->credentials)
			snprintf(login, sizeof login, "Authorization: %s\r\n",
				 t->credentials);
		snprintf(extra, sizeof extra,
			 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s",
			 p->key, login);
		n = http_format_request(p->out, sizeof p->out, "GET", target,
					host, extra);
	} else {
		/* The server is the proxy here: its login goes in
		 * Proxy-Authorization. */
		if (t->credentials)
			snprintf(login, sizeof login, "Proxy-Authorization: %s\r\n",
				 t->credentials);
		snprintf(extra, sizeof extra, "%s", login);
		n = http_format_request(p->out, sizeof p->out, "CONNECT",
					t->destination, t->destination,
					login[0] ? extra : NULL);
	}
	explicit_bzero(login, sizeof login);
	explicit_bzero(extra, sizeof extra);
	if (n < 0) {
		conn_reject(c, LOG_ERR, "request does not fit");
		return;
	}
	p->outlen = n;
	pc_begin(c, PC_TUNNEL, t->handshake_timeout);
}

void proto_client_event(struct conn *c, struct conn_fd *f, uint32_t events)
{
	if (f != &c->tls)
		return;
	if (c->pc->sending)
		pc_io(c);
	else
		pc_read(c);
}

void proto_client_timeout(struct conn *c)
{
	const struct cfg_tunnel *t = c->t->cfg;

	if (c->pc->phase == PC_PROXY)
		conn_reject(c, LOG_WARNING, "http_proxy %s: no answer to CONNECT within %d s",
			    t->proxy_name, t->connect_timeout);
	else
		conn_reject(c, LOG_WARNING, "server %s: no answer within %d s",
			    pc_server(t), t->handshake_timeout);
}

int proto_client_handoff(struct conn *c)
{
	struct proto_client *p = c->pc;
	size_t left = p->inlen - p->head;

	if (left) {
		if (!c->down.buf && !(c->down.buf = worker_buf_get(c->w)))
			return -1;
		memcpy(c->down.buf, p->in + p->head, left);
		c->down.off = 0;
		c->down.len = left;
	}
	return 0;
}

void proto_client_free(struct conn *c)
{
	if (!c->pc)
		return;
	explicit_bzero(c->pc->out, sizeof c->pc->out);
	free(c->pc);
	c->pc = NULL;
}
