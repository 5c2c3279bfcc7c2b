/* hc_listen.c - role = "listener", and the sender's request (hc_listen.h) */
#include "config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "conn.h"
#include "hc.h"
#include "hc_chan.h"
#include "hc_listen.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "proto_int.h"
#include "resolve.h"
#include "timer.h"
#include "tunnel.h"
#include "worker.h"

/* Tokens we sign live relay_token_lifetime; a listener renews at three
 * quarters of it. */
#define HCL_BACKOFF_MIN_MS 500
#define HCL_BACKOFF_MAX_MS 30000
#define HCL_TARGET_MAX 1536

enum hcl_kind { HL_CONTROL = 1, HL_RENDEZVOUS };

/* A listener tunnel in this worker: its control channel, or when to try
 * again. */
struct hcl_owner {
	struct tunnel *t;
	struct conn *ctl;
	uint64_t retry_at;
	int failures;		/* in a row, for the backoff */
};

struct hcl_conn {
	enum hcl_kind kind;
	struct hcl_owner *owner;	/* control */
	struct hc_chan ch;
	int up;				/* control: the relay answered 101 */
	uint64_t renew_at;		/* control: send renewToken then */
	int backend_phase;		/* rendezvous: connecting the backend */
	int reject;			/* rendezvous: refuse the sender with */
	int status;			/* this status (403, 502) */
	char why[400];			/* what the refusal says */
	/* connect = "dynamic": what the sender asked for, and the
	 * addresses the acl allows */
	char dhost[HTTP_HOST_MAX];
	unsigned dport;
	char dest[HTTP_HOST_MAX + 16];	/* "host:port" for logs */
	struct resolve_req *q;
	struct net_addr addrs[NET_MAX_ADDRS];
	int naddrs;
	char host[HC_HOST_MAX];		/* the rendezvous address's host */
	char target[HCL_TARGET_MAX];	/* and its path and query */
};

static struct hcl_owner *hcl_owners;
static size_t hcl_nowners;
static int hcl_stopped;

/** @brief Milliseconds to wait after @failures failures in a row:
 *  doubling from 0.5 s to 30 s, each spread by +-50% so that listeners
 *  cut off together do not come back together. */
static uint64_t hcl_backoff_ms(int failures)
{
	uint64_t ms = HCL_BACKOFF_MIN_MS;
	uint32_t r = 0;

	for (int i = 0; i < failures && ms < HCL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > HCL_BACKOFF_MAX_MS)
		ms = HCL_BACKOFF_MAX_MS;
	gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof r);
	return ms / 2 + r % (ms + 1);
}

int hcl_worker_start(struct worker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->ntunnels; i++)
		n += w->tunnels[i].cfg->hc == CFG_HC_LISTENER;
	if (!n)
		return 0;
	if (!(hcl_owners = calloc(n, sizeof *hcl_owners)))
		return -1;
	for (size_t i = 0; i < w->ntunnels; i++)
		if (w->tunnels[i].cfg->hc == CFG_HC_LISTENER) {
			hcl_owners[hcl_nowners].t = &w->tunnels[i];
			hcl_owners[hcl_nowners].retry_at = timer_now_ms();
			hcl_nowners++;
		}
	return 0;
}

int hcl_wait_ms(const struct worker *w, uint64_t now)
{
	int best = -1;

	(void)w;
	if (hcl_stopped)
		return -1;
	for (size_t i = 0; i < hcl_nowners; i++) {
		const struct hcl_owner *o = &hcl_owners[i];
		int ms;
		if (o->ctl)
			continue;
		ms = o->retry_at > now ? (int)(o->retry_at - now) : 0;
		if (best < 0 || ms < best)
			best = ms;
	}
	return best;
}

/** @brief A new connection of the listener tunnel @t, with its part. */
static struct conn *hcl_conn_new(struct worker *w, struct tunnel *t,
				 enum hcl_kind kind, const char *peer)
{
	struct conn *c;
	struct hcl_conn *h = calloc(1, sizeof *h);

	if (!h) {
		log_err("tunnel %s: out of memory", t->cfg->name);
		return NULL;
	}
	if (!(c = conn_new(w, t, peer))) {
		free(h);
		return NULL;
	}
	h->kind = kind;
	c->hl = h;
	return c;
}

void hcl_run(struct worker *w)
{
	uint64_t now = timer_now_ms();

	if (hcl_stopped)
		return;
	for (size_t i = 0; i < hcl_nowners; i++) {
		struct hcl_owner *o = &hcl_owners[i];
		struct conn *c;

		if (o->ctl || o->retry_at > now)
			continue;
		c = hcl_conn_new(w, o->t, HL_CONTROL, "relay");
		if (!c) {
			o->retry_at = now + hcl_backoff_ms(++o->failures);
			continue;
		}
		c->hl->owner = o;
		o->ctl = c;
		log_debug("tunnel %s: opening the control channel to %s",
			  o->t->cfg->name, o->t->cfg->relay);
		conn_connect_to(c, o->t->cfg->connect_ep.addrs,
				o->t->cfg->connect_ep.naddrs, o->t->cfg->relay);
	}
}

void hcl_drain(struct worker *w)
{
	(void)w;
	hcl_stopped = 1;
	for (size_t i = 0; i < hcl_nowners; i++) {
		struct conn *c = hcl_owners[i].ctl;
		if (!c)
			continue;
		if (c->st == CONN_RELAYING && c->hl->up)
			hc_chan_close(c, &c->hl->ch, WS_CLOSE_NORMAL, "draining");
		conn_close(c, 0);
	}
}

int hcl_is_control(const struct conn *c)
{
	return c->hl && c->hl->kind == HL_CONTROL;
}

int hcl_backend_phase(const struct conn *c)
{
	return c->hl && c->hl->backend_phase;
}

void hcl_free(struct conn *c)
{
	struct hcl_conn *h = c->hl;

	if (!h)
		return;
	if (h->kind == HL_CONTROL && h->owner) {
		struct hcl_owner *o = h->owner;
		o->ctl = NULL;
		/* A channel that was up comes back at once (after a short
		 * spread); one that failed backs off. */
		o->failures = h->up ? 0 : o->failures + 1;
		o->retry_at = timer_now_ms() + hcl_backoff_ms(o->failures);
		if (!hcl_stopped)
			log_info("tunnel %s: control channel closed; again in %llu ms",
				 c->t->cfg->name,
				 (unsigned long long)(o->retry_at - timer_now_ms()));
	}
	if (h->q)
		resolve_cancel(h->q);
	hc_chan_free(&h->ch);
	c->hl = NULL;
	free(h);
}

/* --- the requests ------------------------------------------------------- */

/** @brief 32 hex digits of fresh randomness: the id of a channel. */
static void hcl_id(char out[33])
{
	unsigned char r[16] = { 0 };

	gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r);
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/** @brief "ServiceBusAuthorization: TOKEN\r\n" for this tunnel's key. */
static int hcl_token_header(const struct cfg_tunnel *t, char *hdr, size_t hlen)
{
	char tok[HC_TOKEN_MAX];
	int rc;

	if (hc_token_make(t->hc_host, t->hc_path, t->hc_key_name, t->hc_key,
			  t->hc_keylen, (long long)time(NULL) + t->hc_token_lifetime,
			  tok, sizeof tok) < 0)
		return -1;
	rc = snprintf(hdr, hlen, "ServiceBusAuthorization: %s\r\n", tok);
	explicit_bzero(tok, sizeof tok);
	return rc < 0 || (size_t)rc >= hlen ? -1 : 0;
}

/** @brief Percent-encode @s for a query value. */
static void hcl_qenc(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			out[o++] = ch;
		else
			o += snprintf(out + o, outlen - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

int hcl_request(struct conn *c, char *target, size_t tlen, char *hdr,
		size_t hlen, const char **host)
{
	const struct cfg_tunnel *t = c->t->cfg;
	struct hcl_conn *h = c->hl;
	char id[33], why[400];
	int n;

	hdr[0] = '\0';
	*host = t->host_header ? t->host_header : t->hc_host;
	if (h && h->kind == HL_RENDEZVOUS) {
		*host = h->host;
		if (h->reject) {
			hcl_qenc(h->why, why, sizeof why);
			n = snprintf(target, tlen,
				     "%s&sb-hc-statusCode=%d&sb-hc-statusDescription=%s",
				     h->target, h->status, why);
		} else {
			n = snprintf(target, tlen, "%s", h->target);
		}
		goto done;
	}
	hcl_id(id);
	if (hcl_token_header(t, hdr, hlen) < 0) {
		snprintf(c->reason, sizeof c->reason, "token does not fit");
		return -1;
	}
	if (h)		/* a listener's control channel */
		n = snprintf(target, tlen, "%s?sb-hc-action=listen&sb-hc-id=%s",
			     t->path, id);
	else if (t->destination)
		n = snprintf(target, tlen,
			     "%s?sb-hc-action=connect&sb-hc-id=%s&host=%s&port=%u",
			     t->path, id, t->dest_host, t->dest_port);
	else
		n = snprintf(target, tlen, "%s?sb-hc-action=connect&sb-hc-id=%s",
			     t->path, id);
done:
	if (n < 0 || (size_t)n >= tlen) {
		snprintf(c->reason, sizeof c->reason, "request target does not fit");
		return -1;
	}
	return 0;
}

int hcl_answer(struct conn *c, int status)
{
	struct hcl_conn *h = c->hl;

	if (!h || h->kind != HL_RENDEZVOUS)
		return 0;
	if (!h->reject) {
		/* The closing line names the backend, not the relay. */
		conn_set_dest(c, c->t->cfg->dynamic ? h->dest :
			      c->t->cfg->hc_backend);
		return 0;
	}
	log_info("tunnel %s: %s: refusal sent to the relay (it answered %d)",
		 c->t->cfg->name, c->peer, status);
	conn_close(c, 0);
	return 1;
}

/* --- rendezvous --------------------------------------------------------- */

/** @brief The TLS leg of a rendezvous: to the relay, whose host the
 *  accept address names (Azure sends a gateway of the namespace; it must
 *  be our relay or a name under the same certificate). */
static void hcl_to_relay(struct conn *c)
{
	const struct cfg_tunnel *t = c->t->cfg;

	conn_connect_to(c, t->connect_ep.addrs, t->connect_ep.naddrs, t->relay);
}

void hcl_backend_up(struct conn *c)
{
	c->hl->backend_phase = 0;
	timer_cancel(&c->w->timers, &c->timer);
	log_debug("tunnel %s: %s: backend %s connected; accepting",
		  c->t->cfg->name, c->peer, c->dest_name);
	hcl_to_relay(c);
}

/** @brief Refuse the sender with @status, saying @why (no secrets: it
 *  goes to the relay and on to the sender). */
static void hcl_refuse(struct conn *c, int status, const char *why)
{
	struct hcl_conn *h = c->hl;

	if (c->plain.fd >= 0) {
		if (c->plain.registered)
			epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->plain.fd, NULL);
		close(c->plain.fd);
		c->plain.fd = -1;
		c->plain.registered = 0;
	}
	h->backend_phase = 0;
	h->reject = 1;
	h->status = status;
	snprintf(h->why, sizeof h->why, "%s", why);
	timer_cancel(&c->w->timers, &c->timer);
	hcl_to_relay(c);
}

void hcl_backend_failed(struct conn *c, const char *why)
{
	char msg[sizeof c->hl->why];

	snprintf(msg, sizeof msg, "backend %s: %s", c->dest_name, why);
	log_warn("tunnel %s: %s: %s: refusing the sender (502)",
		 c->t->cfg->name, c->peer, msg);
	hcl_refuse(c, 502, msg);
}

/* --- connect = "dynamic" ------------------------------------------------ */

/** @brief Log the acl's verdict on @sa (NULL: before resolving). */
static void hcl_log_verdict(struct conn *c, const struct sockaddr *sa,
			    const struct acl_verdict *v)
{
	char as[NET_ADDRSTRLEN];

	proto_host_str(sa, as, sizeof as);	/* the port is the request's */
	log_notice("tunnel %s: %s: sender -> %s%s%s%s: %s%s", c->t->cfg->name,
		   c->peer, c->hl->dest, as[0] ? " (" : "", as, as[0] ? ")" : "",
		   v->allowed ? "allowed by " : "denied: ", v->reason);
}

static void hcl_denied(struct conn *c, const char *reason)
{
	char msg[sizeof c->hl->why];

	c->t->stats->rejected++;
	c->t->stats->acl_denied++;
	snprintf(msg, sizeof msg, "%s is not allowed", c->hl->dest);
	(void)reason;
	hcl_refuse(c, 403, msg);
}

/** @brief Keep the addresses the acl allows and connect to them; none
 *  allowed is a 403. A sender through the relay has no certificate or
 *  user of its own here: only acl entries that name no identity apply. */
static void hcl_filter(struct conn *c, const struct net_addr *addrs, int n)
{
	struct hcl_conn *h = c->hl;
	const struct acl_who who = { .id = NULL, .user = NULL };
	struct acl_verdict v, first = { 0 }, denied = { 0 };
	const struct sockaddr *first_sa = NULL, *denied_sa = NULL;

	h->naddrs = 0;
	for (int i = 0; i < n && h->naddrs < NET_MAX_ADDRS; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].ss;
		if (acl_decide(c->t->cfg->acl, &who, h->dhost, h->dport, sa, &v)) {
			if (h->naddrs == 0) {
				first = v;
				first_sa = sa;
			}
			h->addrs[h->naddrs++] = addrs[i];
		} else if (!denied_sa) {
			denied = v;
			denied_sa = sa;
		}
	}
	if (h->naddrs == 0) {
		hcl_log_verdict(c, denied_sa, &denied);
		hcl_denied(c, denied.reason);
		return;
	}
	hcl_log_verdict(c, first_sa, &first);
	h->backend_phase = 1;
	conn_connect_to(c, h->addrs, h->naddrs, h->dest);
}

static void hcl_resolved(void *arg, const struct net_addr *addrs, int n,
			 const char *why)
{
	struct conn *c = arg;
	char msg[sizeof c->hl->why];

	c->hl->q = NULL;
	if (n == 0) {
		snprintf(msg, sizeof msg, "cannot resolve %s: %s", c->hl->dhost,
			 why);
		log_notice("tunnel %s: %s: %s: refusing the sender (502)",
			   c->t->cfg->name, c->peer, msg);
		hcl_refuse(c, 502, msg);
		return;
	}
	hcl_filter(c, addrs, n);
}

/** @brief The destination the sender named in its URL's query ("host",
 *  "port", as the websocket transport's), which the relay passes on in
 *  the rendezvous address @query: checked against the acl, resolved,
 *  connected. A malformed or missing one is a 400. */
static void hcl_dynamic(struct conn *c, const char *query)
{
	struct hcl_conn *h = c->hl;
	const struct cfg_tunnel *t = c->t->cfg;
	const struct acl_who who = { .id = NULL, .user = NULL };
	struct acl_verdict v;
	struct net_addr lit;
	char msg[sizeof h->why];

	if (proto_query_dest(query, strlen(query), h->dhost, sizeof h->dhost,
			     &h->dport, msg, sizeof msg) < 0)
		goto bad;
	snprintf(h->dest, sizeof h->dest, strchr(h->dhost, ':') ? "[%s]:%u" :
		 "%s:%u", h->dhost, h->dport);
	if (net_addr_literal(h->dhost, h->dport, &lit) == 0) {
		hcl_filter(c, &lit, 1);
		return;
	}
	if (!acl_precheck(t->acl, &who, h->dhost, h->dport, &v)) {
		hcl_log_verdict(c, NULL, &v);
		hcl_denied(c, v.reason);
		return;
	}
	c->st = CONN_RESOLVING;
	if (timer_arm(&c->w->timers, &c->timer,
		      timer_now_ms() + 1000ULL * t->connect_timeout) < 0 ||
	    !(h->q = resolve_start(c->w->res, h->dhost, h->dport,
				   hcl_resolved, c))) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	return;
bad:
	log_info("tunnel %s: %s: %s: refusing the sender (400)", t->name,
		 c->peer, msg);
	hcl_refuse(c, 400, msg);
}

/** @brief A dynamic destination's name did not resolve in time. */
void hcl_resolve_timeout(struct conn *c)
{
	char msg[sizeof c->hl->why];

	resolve_cancel(c->hl->q);
	c->hl->q = NULL;
	snprintf(msg, sizeof msg, "cannot resolve %s: timed out", c->hl->dhost);
	log_notice("tunnel %s: %s: %s: refusing the sender (502)",
		   c->t->cfg->name, c->peer, msg);
	hcl_refuse(c, 502, msg);
}

int hcl_resolving(const struct conn *c)
{
	return c->hl && c->hl->q;
}

/** @brief An accept message: a rendezvous connection for that sender. */
static void hcl_accept(struct conn *ctl, const struct hc_accept *a)
{
	const struct cfg_tunnel *t = ctl->t->cfg;
	struct hc_url u;
	struct conn *c;
	const char *q = strchr(a->address, '?');
	char err[300], peer[NET_ADDRSTRLEN];

	if (hc_url_parse(a->address, &u, err, sizeof err) < 0 ||
	    strcmp(u.path, t->hc_path) != 0 || !q) {
		log_warn("tunnel %s: accept message with a bad address ignored: %s",
			 t->name, hc_url_parse(a->address, &u, err, sizeof err) < 0 ?
			 err : "not this path, or no query");
		return;
	}
	if (strcasecmp(u.host, t->hc_host) != 0 ||
	    u.port != (unsigned)atoi(t->connect_ep.port)) {
		/* Only the relay configured is trusted with our backend:
		 * a rendezvous elsewhere would be a redirection. */
		log_warn("tunnel %s: accept message for another relay (%s:%u) ignored",
			 t->name, u.host, u.port);
		return;
	}
	if (a->raddr[0])
		snprintf(peer, sizeof peer, strchr(a->raddr, ':') ? "[%s]:%u" : "%s:%u",
			 a->raddr, a->rport);
	else
		snprintf(peer, sizeof peer, "sender %.20s", a->id);
	if (!(c = hcl_conn_new(ctl->w, ctl->t, HL_RENDEZVOUS, peer)))
		return;
	snprintf(c->hl->host, sizeof c->hl->host, "%s", u.host);
	if ((size_t)snprintf(c->hl->target, sizeof c->hl->target, "/$hc/%s%s",
			     u.path, q) >= sizeof c->hl->target) {
		conn_reject(c, LOG_WARNING, "rendezvous address too long");
		return;
	}
	if (t->dynamic) {
		log_info("tunnel %s: %s: sender offered by the relay",
			 t->name, c->peer);
		hcl_dynamic(c, q + 1);
		return;
	}
	log_info("tunnel %s: %s: sender offered by the relay; connecting %s",
		 t->name, c->peer, t->hc_backend);
	c->hl->backend_phase = 1;
	conn_connect_to(c, t->hc_backend_ep.addrs, t->hc_backend_ep.naddrs,
			t->hc_backend);
}

/* --- the control channel ------------------------------------------------ */

static enum mover_status hcl_message(struct conn *c, const char *msg,
				     size_t len)
{
	struct hc_accept *a = calloc(1, sizeof *a);
	char err[300];
	int type;

	if (!a) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return MOVER_ERROR;
	}
	type = hc_msg_parse(msg, len, a, NULL, err, sizeof err);
	if (type == HC_MSG_ACCEPT)
		hcl_accept(c, a);
	else
		log_debug("tunnel %s: control message ignored: %s",
			  c->t->cfg->name, type < 0 ? err : "not accept");
	free(a);
	return MOVER_CONTINUE;
}

static void hcl_arm(struct conn *c)
{
	int every = c->t->cfg->ws_ping_interval ? c->t->cfg->ws_ping_interval : 30;
	uint64_t at = timer_now_ms() + 1000ULL * every;

	if (c->hl->renew_at < at)
		at = c->hl->renew_at;
	timer_arm(&c->w->timers, &c->timer, at);
}

static enum mover_status hcl_event(struct conn *c, struct conn_fd *f,
				   uint32_t events)
{
	(void)f;
	(void)events;
	return hc_chan_event(c, &c->hl->ch);
}

static enum mover_status hcl_start(struct conn *c)
{
	struct hcl_conn *h = c->hl;
	enum mover_status rs = MOVER_CONTINUE;

	c->ws = 0;	/* not mover_ws: hc_chan runs this channel */
	if (hc_chan_init(&h->ch, "control channel", 1, hcl_message) < 0) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return MOVER_ERROR;
	}
	h->up = 1;
	h->owner->failures = 0;
	h->renew_at = timer_now_ms() + 750ULL * c->t->cfg->hc_token_lifetime;
	log_notice("tunnel %s: listening at %s", c->t->cfg->name,
		   c->t->cfg->relay);
	rs = hc_chan_pending(c, &h->ch);
	if (rs != MOVER_CONTINUE)
		return rs;
	hcl_arm(c);
	return hcl_event(c, NULL, 0);
}

static void hcl_mover_close(struct conn *c)
{
	(void)c;	/* hcl_free has the channel */
}

static const struct mover_ops hcl_ops = {
	.name = "hc-listener",
	.start = hcl_start,
	.on_event = hcl_event,
	.close = hcl_mover_close,
};

const struct mover_ops *hcl_mover(struct conn *c)
{
	(void)c;
	return &hcl_ops;
}

enum mover_status hcl_tick(struct conn *c)
{
	struct hcl_conn *h = c->hl;
	enum mover_status rs;

	if (timer_now_ms() >= h->renew_at) {
		char hdr[HC_TOKEN_MAX + 64], json[HC_TOKEN_MAX + 64];
		const char *tok = hdr + strlen("ServiceBusAuthorization: ");
		int n;

		if (hcl_token_header(c->t->cfg, hdr, sizeof hdr) < 0) {
			snprintf(c->reason, sizeof c->reason, "token does not fit");
			return MOVER_ERROR;
		}
		hdr[strcspn(hdr, "\r")] = '\0';
		n = hc_renew_build(json, sizeof json, tok);
		explicit_bzero(hdr, sizeof hdr);
		if (n < 0 || hc_chan_queue(&h->ch, WS_OP_TEXT, json, n) < 0) {
			explicit_bzero(json, sizeof json);
			snprintf(c->reason, sizeof c->reason,
				 "renewToken could not be queued");
			return MOVER_ERROR;
		}
		explicit_bzero(json, sizeof json);
		h->renew_at = timer_now_ms() + 750ULL * c->t->cfg->hc_token_lifetime;
		log_info("tunnel %s: token renewed", c->t->cfg->name);
	}
	rs = hc_chan_ping(c, &h->ch, c->t->cfg->ws_ping_interval ?
			  c->t->cfg->ws_ping_interval : 30);
	if (rs == MOVER_CONTINUE)
		hcl_arm(c);
	return rs;
}
