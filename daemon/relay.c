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
 *
 * The three connections land in whichever workers accepted them; the
 * workers meet through hc_mesh.h: a directory of every worker's control
 * channels in shared memory (the round robin spans them all), accept
 * messages sent to the worker that holds the channel, and the joined
 * pair's socketpair end passed to the sender's worker (SCM_RIGHTS).
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
#include "hc_mesh.h"
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
	char rid[HC_ID_MAX];
	struct relay_conn *listener;	/* the control channel told, if ours */
	int lslot;			/* its worker's slot */
	uint32_t lcid;			/* and its id there */
	/* RC_CONTROL */
	int dir_idx;			/* in the directory; -1: not entered */
	uint32_t cid;			/* its id in this worker */
	long long expiry;		/* of its token; renewToken moves it */
	char keyname[HC_KEYNAME_MAX];
	struct hc_chan ch;
};

/* This worker's control channels and waiting senders. */
static struct relay_conn *relay_controls, *relay_senders;

/* The generation's mesh (NULL: no relay tunnel), our slot in it, the
 * next control channel id, our inbox in the epoll set. */
static struct hc_mesh *relay_mesh;
static int relay_slot;
static uint32_t relay_next_cid;
static struct { int kind; int fd; } relay_inbox = { EV_HC, -1 };

static uint32_t relay_tunnel_idx(const struct conn *c)
{
	return (uint32_t)(c->t - c->w->tunnels);
}

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
	enum mover_status rs = hc_chan_pending(c, &r->ch);

	if (rs != MOVER_CONTINUE)
		return rs;
	/* Up: senders of every worker may be offered to it now. */
	r->cid = ++relay_next_cid;
	r->dir_idx = relay_mesh ? hc_dir_add(relay_mesh->dir, relay_slot, r->cid,
					     relay_tunnel_idx(c), r->path) : -1;
	if (r->dir_idx < 0) {
		log_warn("tunnel %s: %s: listener on %s: the relay's directory of control channels is full",
			 c->t->cfg->name, c->peer, relay_path(c, r->path));
		return hc_chan_close(c, &r->ch, 1013, "relay full, try again later");
	}
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

int relay_is_control(const struct conn *c)
{
	return c->rc && c->rc->kind == RC_CONTROL;
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
	r->dir_idx = -1;
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

/** @brief Our control channel @cid, if it is up and not closing. */
static struct relay_conn *relay_local_ctl(uint32_t cid)
{
	for (struct relay_conn *r = relay_controls; r; r = r->next)
		if (r->cid == cid && r->dir_idx >= 0 && !r->ch.closing &&
		    r->c->st == CONN_RELAYING)
			return r;
	return NULL;
}

/** @brief Our waiting sender of (@tunnel, @path) with rendezvous id @rid. */
static struct relay_conn *relay_find_sender(uint32_t tunnel, uint32_t path,
					    const char *rid)
{
	for (struct relay_conn *s = relay_senders; s; s = s->next)
		if (relay_tunnel_idx(s->c) == tunnel && s->path == path &&
		    strcmp(s->rid, rid) == 0)
			return s;
	return NULL;
}

/** @brief Send a message to @to's worker; logs why not. */
static int relay_send(int to, uint32_t type, const struct conn *c,
		      size_t path, const char *rid, uint32_t cid, int status,
		      const void *data, size_t len, int fd)
{
	struct hc_mhead h = {
		.type = type, .from = (uint32_t)relay_slot, .cid = cid,
		.tunnel = relay_tunnel_idx(c), .path = (uint32_t)path,
		.status = status,
	};

	snprintf(h.rid, sizeof h.rid, "%s", rid);
	if (hc_mesh_send(relay_mesh, to, &h, data, len, fd) == 0)
		return 0;
	log_warn("tunnel %s: %s: cannot reach worker %d of the relay: %s",
		 c->t->cfg->name, c->peer, to + 1, strerror(errno));
	return -1;
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

/** @brief A sender: tell a listener (in any worker), wait for its
 *  rendezvous. */
static void relay_connect(struct conn *c, size_t path, const char *host,
			  const char *query, size_t querylen)
{
	struct relay_conn *r, *l = NULL;
	struct hc_header hs[HC_HEADERS_MAX];
	char *address, *json, uq[512], raddr[64], id[HC_ID_MAX], who[80];
	const struct http_request *req = &c->pr->req;
	size_t nh = 0;
	unsigned rport = 0;
	uint32_t cid;
	int n, slot;

	if (hc_dir_pick(relay_mesh->dir, relay_tunnel_idx(c), (uint32_t)path,
			&slot, &cid) < 0 ||
	    (slot == relay_slot && !(l = relay_local_ctl(cid)))) {
		proto_fail(c, LOG_INFO, 404, NULL, "path %s: no listener",
			   relay_path(c, path));
		return;
	}
	if (!(r = relay_new(c, RC_SENDER, path)))
		return;
	if (hc_rid_make(relay_slot, r->rid, sizeof r->rid) < 0) {
		conn_reject(c, LOG_ERR, "no random numbers for a rendezvous id");
		return;
	}
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
	    (l ? hc_chan_queue(&l->ch, WS_OP_TEXT, json, n) :
	     relay_send(slot, HC_M_ACCEPT, c, path, r->rid, cid, 0, json,
			(size_t)n, -1)) < 0) {
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
	r->lslot = slot;
	r->lcid = cid;
	relay_link(&relay_senders, r);
	/* A channel of ours: this loop sends it. */
	if (l)
		worker_queue(l->c->w, l->c);
	c->st = CONN_RESOLVING;	/* waits; the timer is relay_accept_timeout */
	conn_want(c, &c->tls, 0);
	if (timer_arm(&c->w->timers, &c->timer, timer_now_ms() +
		      1000ULL * c->t->cfg->hc_accept_timeout) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	if (l)
		snprintf(who, sizeof who, "listener %s", l->c->peer);
	else
		snprintf(who, sizeof who, "a listener in worker %d", slot + 1);
	log_info("tunnel %s: %s: sender on %s, offered to %s",
		 c->t->cfg->name, c->peer, relay_path(c, path), who);
}

/** @brief Bytes of a status description fit for a log and a body. */
static void relay_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/** @brief Does the rendezvous refuse its sender (sb-hc-statusCode, or
 *  statusCode as hyco-ws writes it)? 1 with the status and why, else 0. */
static int relay_refusal(const char *query, size_t querylen, int *status,
			 char *desc, size_t desclen)
{
	char st[16];

	if (http_query_get(query, querylen, "sb-hc-statusCode", st, sizeof st) != 1 &&
	    http_query_get(query, querylen, "statusCode", st, sizeof st) != 1)
		return 0;
	if (http_query_get(query, querylen, "sb-hc-statusDescription", desc,
			   desclen) != 1 &&
	    http_query_get(query, querylen, "statusDescription", desc,
			   desclen) != 1)
		snprintf(desc, desclen, "refused by the listener");
	relay_clean(desc);
	*status = atoi(st);
	if (*status < 400 || *status > 599 || !http_reason(*status))
		*status = 502;
	return 1;
}

/** @brief @c becomes a rendezvous of @path with a fresh socketpair in
 *  @sp (sp[1] for it, sp[0] for its sender); NULL when that fails (@c is
 *  answered or closed). */
static struct relay_conn *relay_rendezvous(struct conn *c, size_t path,
					   int sp[2])
{
	struct relay_conn *r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp) < 0) {
		proto_fail(c, LOG_ERR, 503, NULL, "socketpair: %s", strerror(errno));
		return NULL;
	}
	if (!(r = relay_new(c, RC_RENDEZVOUS, path))) {
		close(sp[0]);
		close(sp[1]);
	}
	return r;
}

/** @brief Our waiting sender @s is joined: @fd is its plain leg. */
static void relay_join(struct relay_conn *s, int fd, const char *protocol)
{
	relay_unlink(&relay_senders, s);
	s->kind = RC_RENDEZVOUS;	/* joined: both move frames now */
	s->listener = NULL;
	timer_cancel(&s->c->w->timers, &s->c->timer);
	s->c->plain.fd = fd;
	/* The sender gets the subprotocol the listener chose. */
	relay_answer_101(s->c, protocol);
}

/** @brief A rendezvous for a sender in worker @slot (not ours): pass the
 *  refusal on, or make the socketpair and send that worker its end. */
static void relay_accept_remote(struct conn *c, size_t path, const char *rid,
				int slot, const char *query, size_t querylen)
{
	struct relay_conn *r;
	char desc[200] = "";
	int sp[2], status;

	if (relay_refusal(query, querylen, &status, desc, sizeof desc)) {
		if (relay_send(slot, HC_M_REFUSE, c, path, rid, 0, status, desc,
			       strlen(desc), -1) < 0) {
			proto_fail(c, LOG_WARNING, 503, NULL,
				   "path %s: the sender's worker takes no messages",
				   relay_path(c, path));
			return;
		}
		proto_fail(c, LOG_DEBUG, 410, NULL,
			   "refusal passed on to worker %d", slot + 1);
		return;
	}
	if (!(r = relay_rendezvous(c, path, sp)))
		return;
	if (relay_send(slot, HC_M_JOIN, c, path, rid, 0, 0, r->protocol,
		       strlen(r->protocol), sp[0]) < 0) {
		close(sp[0]);
		close(sp[1]);
		proto_fail(c, LOG_WARNING, 503, NULL,
			   "path %s: the sender's worker takes no messages",
			   relay_path(c, path));
		return;
	}
	close(sp[0]);
	/* If the sender went meanwhile, its worker closes the other end and
	 * this rendezvous ends as soon as it starts. */
	c->plain.fd = sp[1];
	log_info("tunnel %s: %s: rendezvous on %s for a sender in worker %d",
		 c->t->cfg->name, c->peer, relay_path(c, path), slot + 1);
	relay_answer_101(c, r->protocol);
}

/** @brief A listener's rendezvous for a waiting sender: join them, or
 *  pass the listener's refusal on. */
static void relay_accept(struct conn *c, size_t path, const char *query,
			 size_t querylen)
{
	struct relay_conn *s, *r;
	char rid[HC_ID_MAX], desc[200] = "";
	int sp[2], status, slot;

	if (!query || http_query_get(query, querylen, "sb-hc-id", rid,
				     sizeof rid) != 1) {
		proto_fail(c, LOG_INFO, 400, NULL, "accept without sb-hc-id");
		return;
	}
	slot = hc_rid_slot(rid);
	if (slot >= 0 && slot != relay_slot && slot < relay_mesh->nslots) {
		relay_accept_remote(c, path, rid, slot, query, querylen);
		return;
	}
	s = slot == relay_slot ?
		relay_find_sender(relay_tunnel_idx(c), (uint32_t)path, rid) : NULL;
	if (!s) {
		proto_fail(c, LOG_INFO, 404, NULL,
			   "path %s: no sender waits for this rendezvous (timed out or gone)",
			   relay_path(c, path));
		return;
	}
	if (relay_refusal(query, querylen, &status, desc, sizeof desc)) {
		relay_unlink(&relay_senders, s);
		proto_fail(s->c, LOG_INFO, status, NULL, "path %s: the listener refused: %s",
			   relay_path(c, path), desc);
		proto_fail(c, LOG_DEBUG, 410, NULL, "refusal passed on");
		return;
	}
	if (!(r = relay_rendezvous(c, path, sp)))
		return;
	c->plain.fd = sp[1];
	log_info("tunnel %s: %s: sender joined to listener %s on %s",
		 c->t->cfg->name, s->c->peer, c->peer, relay_path(c, path));
	relay_join(s, sp[0], r->protocol);
	relay_answer_101(c, r->protocol);
}

/* --- messages from the other workers --------------------------------------- */

/** @brief Fail our senders waiting on channel (@slot, @cid), or on local
 *  channel @l when it is not NULL. */
static void relay_fail_waiting(struct relay_conn *l, int slot, uint32_t cid,
			       const char *path)
{
	for (;;) {
		struct relay_conn *s;
		for (s = relay_senders; s; s = s->next)
			if (l ? s->listener == l :
			    (!s->listener && s->lslot == slot && s->lcid == cid))
				break;
		if (!s)
			break;
		relay_unlink(&relay_senders, s);
		s->listener = NULL;
		proto_fail(s->c, LOG_INFO, 404, NULL,
			   "path %s: the listener went away before accepting",
			   path ? path : relay_path(s->c, s->path));
	}
}

/** @brief One message for this worker. */
static void relay_message(const struct hc_mhead *h, const char *data,
			  size_t len, int fd)
{
	struct relay_conn *s = NULL, *l;

	switch (h->type) {
	case HC_M_ACCEPT:
		l = relay_local_ctl(h->cid);
		if (l && hc_chan_queue(&l->ch, WS_OP_TEXT, data, len) == 0) {
			log_debug("tunnel %s: %s: listener on %s: sender offered by worker %u",
				  l->c->t->cfg->name, l->c->peer,
				  relay_path(l->c, l->path), h->from + 1);
			worker_queue(l->c->w, l->c);
			break;
		}
		if (h->from < (uint32_t)relay_mesh->nslots) {
			struct hc_mhead g = *h;
			g.type = HC_M_GONE;
			g.from = (uint32_t)relay_slot;
			if (hc_mesh_send(relay_mesh, (int)h->from, &g, NULL, 0, -1) < 0)
				log_warn("relay: cannot answer worker %u: %s",
					 h->from + 1, strerror(errno));
		}
		break;
	case HC_M_JOIN:
	case HC_M_REFUSE:
	case HC_M_GONE:
		s = relay_find_sender(h->tunnel, h->path, h->rid);
		if (!s) {
			log_debug("relay: a message for a sender no longer waiting (%u)",
				  h->type);
			break;
		}
		if (h->type == HC_M_JOIN && fd < 0) {
			relay_unlink(&relay_senders, s);
			proto_fail(s->c, LOG_ERR, 502, NULL,
				   "path %s: the rendezvous came without its socket",
				   relay_path(s->c, s->path));
			break;
		}
		if (h->type == HC_M_JOIN) {
			log_info("tunnel %s: %s: sender joined to a listener's rendezvous in worker %u",
				 s->c->t->cfg->name, s->c->peer, h->from + 1);
			relay_join(s, fd, data);
			return;		/* the descriptor is the sender's now */
		}
		relay_unlink(&relay_senders, s);
		if (h->type == HC_M_REFUSE)
			proto_fail(s->c, LOG_INFO, h->status > 0 && http_reason(h->status) ?
				   h->status : 502, NULL,
				   "path %s: the listener refused: %s",
				   relay_path(s->c, s->path), data);
		else
			proto_fail(s->c, LOG_INFO, 404, NULL,
				   "path %s: the listener went away before accepting",
				   relay_path(s->c, s->path));
		break;
	case HC_M_CTL_GONE:
		relay_fail_waiting(NULL, (int)h->from, h->cid, NULL);
		break;
	default:
		log_warn("relay: message of unknown type %u from worker %u",
			 h->type, h->from + 1);
	}
	if (fd >= 0)
		close(fd);
}

void relay_inbox_event(void)
{
	static char data[HC_MESH_DATA_MAX + 1];
	struct hc_mhead h;
	int fd;

	/* A bounded batch: the epoll set is level-triggered. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = hc_mesh_recv(relay_inbox.fd, &h, data, &fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_warn("relay: a message from another worker: %s",
				 strerror(errno));
			if (errno != EBADMSG)
				return;
			continue;
		}
		relay_message(&h, data, (size_t)n, fd);
	}
}

int relay_worker_start(struct worker *w, struct hc_mesh *mesh)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &relay_inbox };
	unsigned char r[4];

	if (!mesh)
		return 0;
	relay_mesh = mesh;
	relay_slot = w->id - 1;
	/* Channel ids of a replaced worker are not taken for ours. */
	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r) == 0)
		memcpy(&relay_next_cid, r, sizeof r);
	relay_inbox.fd = mesh->fds[relay_slot][1];
	/* What a dead predecessor in this slot had entered is gone. */
	hc_dir_clear_slot(mesh->dir, relay_slot);
	return epoll_ctl(w->ep, EPOLL_CTL_ADD, relay_inbox.fd, &ev);
}

void relay_request(struct conn *c)
{
	struct proto *p = c->pr;
	const struct cfg_tunnel *t = c->t->cfg;
	const struct http_request *r = &p->req;
	const char *path, *query;
	size_t pathlen, querylen, i;
	char action[16], host[HC_HOST_MAX], keyname[HC_KEYNAME_MAX];
	long long se;

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
	if (proto_ws_upgrade(c, r) < 0)
		return;
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
	struct relay_conn *r = c->rc;

	if (!r)
		return;
	if (r->kind == RC_CONTROL) {
		relay_unlink(&relay_controls, r);
		/* Its waiting senders fail now, not at their timeout: ours
		 * here, the other workers' when they hear of it. */
		relay_fail_waiting(r, 0, 0, relay_path(c, r->path));
		if (r->dir_idx >= 0) {
			struct hc_mhead h = { .type = HC_M_CTL_GONE,
					      .from = (uint32_t)relay_slot,
					      .cid = r->cid };
			hc_dir_del(relay_mesh->dir, r->dir_idx, relay_slot, r->cid);
			for (int i = 0; i < relay_mesh->nslots; i++)
				if (i != relay_slot &&
				    hc_mesh_send(relay_mesh, i, &h, NULL, 0, -1) < 0)
					log_warn("relay: cannot tell worker %d a control channel closed: %s",
						 i + 1, strerror(errno));
		}
		hc_chan_free(&r->ch);
	} else {
		relay_unlink(&relay_senders, r);
	}
	c->rc = NULL;
	free(r);
}
