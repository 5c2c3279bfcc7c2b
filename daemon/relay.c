/* relay.c - role = "relay": the Hybrid Connections rendezvous (relay.h)
 *
 * Three kinds of connection come to a relay tunnel, told apart by the
 * sb-hc-action of their upgrade: a listener's control channel (listen),
 * a sender (connect), a listener's rendezvous for one sender (accept).
 * Listen and connect carry a SAS token (ServiceBusAuthorization header or
 * sb-hc-token) signed with a key of the path that has the right for it;
 * accept carries the rendezvous id instead, 128 random bits that only the
 * relay and the listener it told know.
 *
 * A sender waits, its upgrade unanswered, while the accept message goes
 * to the next listener of its path (round robin). The rendezvous answers
 * 101 to both and joins them; a rendezvous that carries sb-hc-statusCode
 * (hyco-ws writes statusCode) refuses the sender with that status; no
 * listener, or none accepting within relay_accept_timeout, is a 404.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "hc.h"
#include "hc_chan.h"
#include "http.h"
#include "log.h"
#include "proto.h"
#include "proto_int.h"
#include "relay.h"
#include "timer.h"
#include "tunnel.h"
#include "worker.h"
#include "ws.h"

#define RELAY_MSG_MAX HC_CHAN_MSG_MAX	/* an accept message */
#define RELAY_RID_LEN 32		/* hex of 16 random bytes */

enum relay_kind { RC_CONTROL = 1, RC_SENDER, RC_RENDEZVOUS };

struct relay_conn {
	enum relay_kind kind;
	struct conn *c;
	size_t path;			/* index in the tunnel's hc_paths */
	struct relay_conn *prev, *next;	/* controls or waiting senders */
	int listed;
	char protocol[128];		/* Sec-WebSocket-Protocol asked for */
	char host[HC_HOST_MAX];		/* the Host it came to */
	/* RC_SENDER */
	char rid[RELAY_RID_LEN + 1];
	struct relay_conn *listener;	/* the control channel told */
	/* RC_CONTROL */
	long long expiry;		/* of its token; renewToken moves it */
	char keyname[HC_KEYNAME_MAX];
	struct hc_chan ch;
};

/* The directory: this worker's control channels and waiting senders. */
static struct relay_conn *relay_controls, *relay_senders;

static void relay_link(struct relay_conn **head, struct relay_conn *r)
{
	r->prev = NULL;
	r->next = *head;
	if (*head)
		(*head)->prev = r;
	*head = r;
	r->listed = 1;
}

static void relay_unlink(struct relay_conn **head, struct relay_conn *r)
{
	if (!r->listed)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->listed = 0;
}

static const char *relay_path(const struct conn *c, size_t i)
{
	return c->t->cfg->hc_paths[i].path;
}

/** @brief The first header @name of the request, NUL-terminated into
 *  @out; 0 if absent or too long. */
static int relay_header(const struct http_request *r, const char *name,
			char *out, size_t outlen)
{
	const struct http_header *h = http_find_header(&r->headers, name);

	if (!h || h->valuelen >= outlen)
		return 0;
	memcpy(out, h->value, h->valuelen);
	out[h->valuelen] = '\0';
	return 1;
}

/** @brief Check the token of a listen or connect request against the
 *  path's keys; answers 401 itself. Returns the token's expiry, or -1. */
static long long relay_authorize(struct conn *c, const char *query,
				 size_t querylen, const char *host, size_t path,
				 unsigned right, char *keyname, size_t kn)
{
	const struct cfg_hc_path *hp = &c->t->cfg->hc_paths[path];
	struct proto *p = c->pr;
	struct hc_token *tok;
	char *raw, err[300];
	const struct cfg_hc_key *k = NULL;
	long long se;
	int rc;

	if (!(tok = calloc(1, sizeof *tok)) || !(raw = malloc(HC_TOKEN_MAX))) {
		free(tok);
		conn_reject(c, LOG_ERR, "out of memory");
		return -1;
	}
	if (!relay_header(&p->req, "ServiceBusAuthorization", raw, HC_TOKEN_MAX) &&
	    (!query || http_query_get(query, querylen, "sb-hc-token", raw,
				      HC_TOKEN_MAX) != 1)) {
		proto_fail(c, LOG_NOTICE, 401, NULL,
			   "path %s: no token (ServiceBusAuthorization header or sb-hc-token)",
			   hp->path);
		goto fail;
	}
	if (hc_token_parse(raw, strlen(raw), tok, err, sizeof err) < 0) {
		proto_fail(c, LOG_NOTICE, 401, NULL, "path %s: %s", hp->path, err);
		goto fail;
	}
	for (size_t i = 0; i < hp->nkeys && !k; i++)
		if (strcmp(hp->keys[i].name, tok->skn) == 0)
			k = &hp->keys[i];
	if (!k) {
		proto_fail(c, LOG_NOTICE, 401, NULL,
			   "path %s: token signed with key \"%s\", which this path does not have",
			   hp->path, tok->skn);
		goto fail;
	}
	rc = hc_token_verify(tok, k->key, k->keylen, host, hp->path,
			     (long long)time(NULL), err, sizeof err);
	if (rc < 0) {
		proto_fail(c, LOG_NOTICE, 401, NULL, "path %s, key %s: %s",
			   hp->path, k->name, err);
		goto fail;
	}
	if (!(k->rights & right)) {
		proto_fail(c, LOG_NOTICE, 401, NULL,
			   "path %s: key %s has no right to %s",
			   hp->path, k->name,
			   right == CFG_HC_RIGHT_LISTEN ? "listen" : "send");
		goto fail;
	}
	snprintf(keyname, kn, "%s", k->name);
	se = tok->se;
	explicit_bzero(raw, HC_TOKEN_MAX);
	free(raw);
	free(tok);
	return se;
fail:
	explicit_bzero(raw, HC_TOKEN_MAX);
	free(raw);
	free(tok);
	return -1;
}

/* --- the control channel ------------------------------------------------ */

/** @brief A whole text message from the listener: renewToken, or
 *  something this relay ignores. */
static enum mover_status relay_ctl_message(struct conn *c, const char *msg,
					   size_t len)
{
	struct relay_conn *r = c->rc;
	const struct cfg_hc_path *hp = &c->t->cfg->hc_paths[r->path];
	struct hc_renew *nt = calloc(1, sizeof *nt);
	struct hc_token *tok = calloc(1, sizeof *tok);
	const struct cfg_hc_key *k = NULL;
	char err[300] = "";
	enum mover_status rs = MOVER_CONTINUE;
	int type;

	if (!nt || !tok) {
		free(nt);
		free(tok);
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return MOVER_ERROR;
	}
	type = hc_msg_parse(msg, len, NULL, nt, err, sizeof err);
	if (type != HC_MSG_RENEW) {
		log_debug("tunnel %s: %s: listener on %s: message ignored: %s",
			  c->t->cfg->name, c->peer, hp->path,
			  type < 0 ? err : "not renewToken");
		goto out;
	}
	if (hc_token_parse(nt->token, strlen(nt->token), tok, err, sizeof err) == 0)
		for (size_t i = 0; i < hp->nkeys && !k; i++)
			if (strcmp(hp->keys[i].name, tok->skn) == 0)
				k = &hp->keys[i];
	if (!k && !err[0])
		snprintf(err, sizeof err, "token signed with a key this path does not have");
	if (!k || !(k->rights & CFG_HC_RIGHT_LISTEN) ||
	    hc_token_verify(tok, k->key, k->keylen, r->host, hp->path,
			    (long long)time(NULL), err, sizeof err) < 0) {
		log_warn("tunnel %s: %s: listener on %s: renewToken refused: %s",
			 c->t->cfg->name, c->peer, hp->path,
			 k && !(k->rights & CFG_HC_RIGHT_LISTEN) ?
			 "the key has no listen right" : err);
		rs = hc_chan_close(c, &r->ch, 1008, "renewToken refused");
		goto out;
	}
	r->expiry = tok->se;
	log_info("tunnel %s: %s: listener on %s: token renewed (key %s)",
		 c->t->cfg->name, c->peer, hp->path, k->name);
out:
	explicit_bzero(nt, sizeof *nt);
	free(nt);
	free(tok);
	return rs;
}

static void relay_ctl_arm(struct conn *c)
{
	const struct relay_conn *r = c->rc;
	int every = c->t->cfg->ws_ping_interval ? c->t->cfg->ws_ping_interval : 30;
	uint64_t now = timer_now_ms(), at = now + 1000ULL * every;
	long long left = r->expiry - (long long)time(NULL);

	/* Wake at the token's expiry too, to end an unrenewed channel. */
	if (left >= 0 && now + 1000ULL * left + 1000 < at)
		at = now + 1000ULL * left + 1000;
	if (timer_arm(&c->w->timers, &c->timer, at) < 0)
		log_warn("tunnel %s: %s: no timer for the control channel",
			 c->t->cfg->name, c->peer);
}

static enum mover_status relay_ctl_event(struct conn *c, struct conn_fd *f,
					 uint32_t events)
{
	(void)f;
	(void)events;
	return hc_chan_event(c, &c->rc->ch);
}

static enum mover_status relay_ctl_start(struct conn *c)
{
	struct relay_conn *r = c->rc;
	enum mover_status rs = MOVER_CONTINUE;

	/* What came behind the upgrade request (proto_handoff). */
	if (c->down.buf && c->down.len) {
		rs = hc_chan_input(c, &r->ch, c->down.buf + c->down.off,
				   c->down.len);
		c->down.len = 0;
	}
	if (c->down.buf) {
		worker_buf_put(c->w, c->down.buf);
		c->down.buf = NULL;
	}
	if (rs != MOVER_CONTINUE)
		return rs;
	relay_ctl_arm(c);
	return relay_ctl_event(c, NULL, 0);
}

static void relay_ctl_mover_close(struct conn *c)
{
	(void)c;	/* relay_free has the channel */
}

static const struct mover_ops relay_ctl_ops = {
	.name = "hc-control",
	.start = relay_ctl_start,
	.on_event = relay_ctl_event,
	.close = relay_ctl_mover_close,
};

enum mover_status relay_tick(struct conn *c)
{
	struct relay_conn *r = c->rc;
	enum mover_status rs;

	if (r->kind != RC_CONTROL)
		return MOVER_CONTINUE;
	if (r->expiry <= (long long)time(NULL)) {
		log_notice("tunnel %s: %s: listener on %s: its token expired without renewToken",
			   c->t->cfg->name, c->peer, relay_path(c, r->path));
		return hc_chan_close(c, &r->ch, 1008, "token expired");
	}
	rs = hc_chan_ping(c, &r->ch, c->t->cfg->ws_ping_interval ?
			  c->t->cfg->ws_ping_interval : 30);
	if (rs == MOVER_CONTINUE)
		relay_ctl_arm(c);
	return rs;
}

const struct mover_ops *relay_mover(struct conn *c)
{
	return c->rc->kind == RC_CONTROL ? &relay_ctl_ops : &mover_hc_ops;
}

/* --- requests ----------------------------------------------------------- */

/** @brief The 101 for @c's upgrade into its out buffer, then relaying. */
static void relay_answer_101(struct conn *c, const char *protocol)
{
	struct proto *p = c->pr;
	char extra[400];
	int n;

	snprintf(extra, sizeof extra,
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: %s\r\n%s%s%s", p->accept,
		 protocol[0] ? "Sec-WebSocket-Protocol: " : "", protocol,
		 protocol[0] ? "\r\n" : "");
	n = http_format_response(p->out, sizeof p->out, 101, extra, NULL);
	if (n < 0) {
		conn_reject(c, LOG_ERR, "WebSocket accept: internal error");
		return;
	}
	p->outlen = n;
	p->outoff = 0;
	proto_send(c, PROTO_THEN_RELAY);
}

static struct relay_conn *relay_new(struct conn *c, enum relay_kind kind,
				    size_t path)
{
	struct relay_conn *r = calloc(1, sizeof *r);

	if (!r) {
		conn_reject(c, LOG_ERR, "out of memory");
		return NULL;
	}
	r->kind = kind;
	r->c = c;
	r->path = path;
	c->rc = r;
	relay_header(&c->pr->req, "Sec-WebSocket-Protocol", r->protocol,
		     sizeof r->protocol);
	return r;
}

/** @brief A listener's control channel: into the directory, answered. */
static void relay_listen(struct conn *c, size_t path, long long expiry,
			 const char *keyname, const char *host)
{
	struct relay_conn *r = relay_new(c, RC_CONTROL, path);

	if (!r)
		return;
	if (hc_chan_init(&r->ch, "listener control channel", 0,
			 relay_ctl_message) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	r->expiry = expiry;
	snprintf(r->keyname, sizeof r->keyname, "%s", keyname);
	snprintf(r->host, sizeof r->host, "%s", host);
	relay_link(&relay_controls, r);
	log_info("tunnel %s: %s: listener on %s (key %s)", c->t->cfg->name,
		 c->peer, relay_path(c, path), keyname);
	relay_answer_101(c, "");
}

/** @brief The next control channel of (tunnel, path), round robin: the
 *  one chosen goes to the end of the list. */
static struct relay_conn *relay_pick(const struct conn *c, size_t path)
{
	struct relay_conn *r, *last = NULL;

	for (r = relay_controls; r; r = r->next)
		if (r->c->t == c->t && r->path == path && !r->ch.closing &&
		    r->c->st == CONN_RELAYING)
			last = r;	/* the list is newest first: take the oldest */
	if (last) {
		relay_unlink(&relay_controls, last);
		relay_link(&relay_controls, last);
	}
	return last;
}

/** @brief Headers of the sender's upgrade that the listener sees in
 *  connectHeaders: all but the hop-by-hop ones, the token and the
 *  extension offer (nothing is negotiated end to end: hyco-ws's listener
 *  would accept permessage-deflate from the offer and break). */
static int relay_pass_header(const struct http_header *h)
{
	static const char *const drop[] = {
		"Connection", "Upgrade", "Host", "ServiceBusAuthorization",
		"Sec-WebSocket-Extensions", "Content-Length",
		"Transfer-Encoding", "Proxy-Authorization", "Authorization",
		"Keep-Alive", "TE", "Trailer", NULL };

	for (size_t i = 0; drop[i]; i++)
		if (strlen(drop[i]) == h->namelen &&
		    strncasecmp(drop[i], h->name, h->namelen) == 0)
			return 0;
	return 1;
}

/** @brief The query of the sender's URL minus the sb-hc-* parameters,
 *  passed on to the listener in the rendezvous address ("&a=b&c=d"). */
static void relay_user_query(const char *q, size_t qlen, char *out,
			     size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	while (q && qlen) {
		const char *amp = memchr(q, '&', qlen);
		size_t n = amp ? (size_t)(amp - q) : qlen;

		if (n && !(n >= 6 && strncasecmp(q, "sb-hc-", 6) == 0) &&
		    used + n + 2 < outlen) {
			out[used++] = '&';
			memcpy(out + used, q, n);
			used += n;
			out[used] = '\0';
		}
		q += n + (amp ? 1 : 0);
		qlen -= n + (amp ? 1 : 0);
	}
}

/** @brief A sender: tell a listener, wait for its rendezvous. */
static void relay_connect(struct conn *c, size_t path, const char *host,
			  const char *query, size_t querylen)
{
	struct relay_conn *r, *l = relay_pick(c, path);
	struct hc_header hs[HC_HEADERS_MAX];
	unsigned char rnd[RELAY_RID_LEN / 2];
	char *address, *json, uq[512], raddr[64], id[HC_ID_MAX];
	const struct http_request *req = &c->pr->req;
	size_t nh = 0;
	unsigned rport = 0;
	int n;

	if (!l) {
		proto_fail(c, LOG_INFO, 404, NULL, "path %s: no listener",
			   relay_path(c, path));
		return;
	}
	if (!(r = relay_new(c, RC_SENDER, path)))
		return;
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0) {
		conn_reject(c, LOG_ERR, "no random numbers for a rendezvous id");
		return;
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(r->rid + 2 * i, 3, "%02x", rnd[i]);
	for (size_t i = 0; i < req->headers.n && nh < HC_HEADERS_MAX; i++)
		if (relay_pass_header(&req->headers.v[i])) {
			hs[nh].name = req->headers.v[i].name;
			hs[nh].namelen = req->headers.v[i].namelen;
			hs[nh].value = req->headers.v[i].value;
			hs[nh].valuelen = req->headers.v[i].valuelen;
			nh++;
		}
	relay_user_query(query, querylen, uq, sizeof uq);
	if (!query || http_query_get(query, querylen, "sb-hc-id", id, sizeof id) != 1)
		snprintf(id, sizeof id, "%s", r->rid);
	proto_host_str((const struct sockaddr *)&c->peer_ss, raddr, sizeof raddr);
	if (c->peer_ss.ss_family == AF_INET)
		rport = ntohs(((const struct sockaddr_in *)&c->peer_ss)->sin_port);
	else if (c->peer_ss.ss_family == AF_INET6)
		rport = ntohs(((const struct sockaddr_in6 *)&c->peer_ss)->sin6_port);
	address = malloc(2048);
	json = malloc(RELAY_MSG_MAX);
	n = address && json ?
		snprintf(address, 2048,
			 "wss://%s/$hc/%s?sb-hc-action=accept&sb-hc-id=%s%s",
			 host, relay_path(c, path), r->rid, uq) : -1;
	if (n < 0 || n >= 2048 ||
	    (n = hc_accept_build(json, RELAY_MSG_MAX, address, id, hs, nh,
				 raddr, rport)) < 0 ||
	    hc_chan_queue(&l->ch, WS_OP_TEXT, json, n) < 0) {
		free(address);
		free(json);
		proto_fail(c, LOG_WARNING, 503, NULL,
			   "path %s: the listener's control channel is full",
			   relay_path(c, path));
		return;
	}
	free(address);
	free(json);
	r->listener = l;
	relay_link(&relay_senders, r);
	/* The listener's worker loop sends it (it is this loop). */
	worker_queue(l->c->w, l->c);
	c->st = CONN_RESOLVING;	/* waits; the timer is relay_accept_timeout */
	conn_want(c, &c->tls, 0);
	if (timer_arm(&c->w->timers, &c->timer, timer_now_ms() +
		      1000ULL * c->t->cfg->hc_accept_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	log_info("tunnel %s: %s: sender on %s, offered to listener %s",
		 c->t->cfg->name, c->peer, relay_path(c, path), l->c->peer);
}

/** @brief Bytes of a status description fit for a log and a body. */
static void relay_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/** @brief A listener's rendezvous for a waiting sender: join them, or
 *  pass the listener's refusal on. */
static void relay_accept(struct conn *c, size_t path, const char *query,
			 size_t querylen)
{
	struct relay_conn *s, *r;
	char rid[HC_ID_MAX], st[16] = "", desc[200] = "";
	int sp[2], status;

	if (!query || http_query_get(query, querylen, "sb-hc-id", rid,
				     sizeof rid) != 1) {
		proto_fail(c, LOG_INFO, 400, NULL, "accept without sb-hc-id");
		return;
	}
	for (s = relay_senders; s; s = s->next)
		if (s->c->t == c->t && s->path == path &&
		    strcmp(s->rid, rid) == 0)
			break;
	if (!s) {
		proto_fail(c, LOG_INFO, 404, NULL,
			   "path %s: no sender waits for this rendezvous (timed out or gone)",
			   relay_path(c, path));
		return;
	}
	if (http_query_get(query, querylen, "sb-hc-statusCode", st, sizeof st) == 1 ||
	    http_query_get(query, querylen, "statusCode", st, sizeof st) == 1) {
		if (http_query_get(query, querylen, "sb-hc-statusDescription",
				   desc, sizeof desc) != 1 &&
		    http_query_get(query, querylen, "statusDescription", desc,
				   sizeof desc) != 1)
			snprintf(desc, sizeof desc, "refused by the listener");
		relay_clean(desc);
		status = atoi(st);
		if (status < 400 || status > 599 || !http_reason(status))
			status = 502;
		relay_unlink(&relay_senders, s);
		proto_fail(s->c, LOG_INFO, status, NULL, "path %s: the listener refused: %s",
			   relay_path(c, path), desc);
		proto_fail(c, LOG_DEBUG, 410, NULL, "refusal passed on");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp) < 0) {
		proto_fail(c, LOG_ERR, 503, NULL, "socketpair: %s", strerror(errno));
		return;
	}
	if (!(r = relay_new(c, RC_RENDEZVOUS, path))) {
		close(sp[0]);
		close(sp[1]);
		return;
	}
	relay_unlink(&relay_senders, s);
	s->kind = RC_RENDEZVOUS;	/* joined: both move frames now */
	s->listener = NULL;
	timer_cancel(&s->c->w->timers, &s->c->timer);
	s->c->plain.fd = sp[0];
	c->plain.fd = sp[1];
	log_info("tunnel %s: %s: sender joined to listener %s on %s",
		 c->t->cfg->name, s->c->peer, c->peer, relay_path(c, path));
	/* The sender gets the subprotocol the listener chose. */
	relay_answer_101(s->c, r->protocol);
	relay_answer_101(c, r->protocol);
}

void relay_request(struct conn *c)
{
	struct proto *p = c->pr;
	const struct cfg_tunnel *t = c->t->cfg;
	const struct http_request *r = &p->req;
	const struct http_header *key;
	const char *path, *query;
	size_t pathlen, querylen, i;
	char action[16], host[HC_HOST_MAX], keyname[HC_KEYNAME_MAX], err[200];
	long long se;
	int st;

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
	if (pathlen < 6 || memcmp(path, "/$hc/", 5) != 0) {
		proto_fail(c, LOG_INFO, 404, NULL,
			   "%.*s: not a Hybrid Connections path (/$hc/PATH)",
			   (int)(pathlen > 100 ? 100 : pathlen), path);
		return;
	}
	path += 5;
	pathlen -= 5;
	while (pathlen && path[pathlen - 1] == '/')
		pathlen--;
	for (i = 0; i < t->nhc_paths; i++)
		if (strlen(t->hc_paths[i].path) == pathlen &&
		    memcmp(t->hc_paths[i].path, path, pathlen) == 0)
			break;
	if (i == t->nhc_paths) {
		proto_fail(c, LOG_INFO, 404, NULL, "no relay path %.*s",
			   (int)(pathlen > 100 ? 100 : pathlen), path);
		return;
	}
	if ((st = http_ws_check_request(r, err, sizeof err)) != 0) {
		proto_fail(c, LOG_INFO, st, st == 426 ? HTTP_WS_VERSION_HEADER : NULL,
			   "%s", err);
		return;
	}
	key = http_find_header(&r->headers, "Sec-WebSocket-Key");
	if (http_ws_accept(key->value, key->valuelen, p->accept) < 0) {
		conn_reject(c, LOG_ERR, "WebSocket accept: internal error");
		return;
	}
	if (!query || http_query_get(query, querylen, "sb-hc-action", action,
				     sizeof action) != 1) {
		proto_fail(c, LOG_INFO, 400, NULL,
			   "path %s: expected sb-hc-action=listen, connect or accept",
			   t->hc_paths[i].path);
		return;
	}
	if (!relay_header(r, "Host", host, sizeof host)) {
		proto_fail(c, LOG_INFO, 400, NULL, "no Host header");
		return;
	}
	if (strcmp(action, "accept") == 0) {
		relay_accept(c, i, query, querylen);
		return;
	}
	if (strcmp(action, "listen") && strcmp(action, "connect")) {
		proto_fail(c, LOG_INFO, 400, NULL,
			   "path %s: sb-hc-action=%s: expected listen, connect or accept",
			   t->hc_paths[i].path, action);
		return;
	}
	se = relay_authorize(c, query, querylen, host, i,
			     action[0] == 'l' ? CFG_HC_RIGHT_LISTEN : CFG_HC_RIGHT_SEND,
			     keyname, sizeof keyname);
	if (se < 0)
		return;
	if (action[0] == 'l')
		relay_listen(c, i, se, keyname, host);
	else
		relay_connect(c, i, host, query, querylen);
}

void relay_timeout(struct conn *c)
{
	struct relay_conn *r = c->rc;

	relay_unlink(&relay_senders, r);
	proto_fail(c, LOG_INFO, 404, NULL,
		   "path %s: no listener accepted within relay_accept_timeout (%d s)",
		   relay_path(c, r->path), c->t->cfg->hc_accept_timeout);
}

void relay_drain(struct worker *w)
{
	(void)w;
	/* The listeners reconnect elsewhere (or to the next generation);
	 * a waiting sender fails with its listener (relay_free). Joined
	 * pairs go on until they end or the drain times out. */
	while (relay_controls) {
		struct conn *c = relay_controls->c;

		if (c->st == CONN_RELAYING)
			hc_chan_close(c, &relay_controls->ch, WS_CLOSE_GOING_AWAY,
				      "relay shutting down");
		conn_close(c, 0);
	}
}

void relay_free(struct conn *c)
{
	struct relay_conn *r = c->rc, *s;

	if (!r)
		return;
	if (r->kind == RC_CONTROL) {
		relay_unlink(&relay_controls, r);
		/* Its waiting senders fail now, not at their timeout. */
		for (;;) {
			for (s = relay_senders; s && s->listener != r; s = s->next)
				;
			if (!s)
				break;
			relay_unlink(&relay_senders, s);
			s->listener = NULL;
			proto_fail(s->c, LOG_INFO, 404, NULL,
				   "path %s: the listener went away before accepting",
				   relay_path(c, r->path));
		}
		hc_chan_free(&r->ch);
	} else {
		relay_unlink(&relay_senders, r);
	}
	c->rc = NULL;
	free(r);
}
