/* resolve.c - destination names resolved on the worker's epoll (c-ares)
 *
 * c-ares tells us through its socket-state callback which sockets it
 * wants watched for what; they are added to, changed in and removed from
 * the worker's epoll set as it says. ares_process_fd() runs on readiness,
 * and with no socket when its next timeout (ares_timeout) is due.
 */
#include "config.h"

#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include "resolve.h"
#include "tunnel.h"

/* c-ares's own retry policy, kept short: connect_timeout bounds the
 * whole wait of a connection anyway. */
#define RESOLVE_TRY_MS 2000
#define RESOLVE_TRIES 2

struct resolve_req {
	struct resolve *r;
	resolve_cb cb;		/* NULL once cancelled */
	void *arg;
	struct net_addr addrs[NET_MAX_ADDRS];
	int naddrs;
	const char *why;
	struct resolve_req *next;	/* on the answered list */
};

struct resolve {
	ares_channel ch;
	int ep;			/* the worker's epoll set, -1 before attach */
	struct resolve_sock *socks;
	struct resolve_req *answered;	/* to deliver in resolve_tick() */
};

static struct resolve_sock *resolve_find(struct resolve *r, int fd)
{
	for (struct resolve_sock *s = r->socks; s; s = s->next)
		if (s->fd == fd)
			return s;
	return NULL;
}

/** @brief c-ares says what to watch on @fd: mirror it in epoll. */
static void resolve_sock_state(void *data, ares_socket_t fd, int readable,
			       int writable)
{
	struct resolve *r = data;
	struct resolve_sock *s = resolve_find(r, fd), **pp;
	uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	struct epoll_event e = { .events = ev };

	if (!ev) {
		if (!s)
			return;
		epoll_ctl(r->ep, EPOLL_CTL_DEL, fd, NULL);
		for (pp = &r->socks; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		free(s);
		return;
	}
	if (!s) {
		if (!(s = calloc(1, sizeof *s)))
			return;	/* the lookup then times out */
		s->kind = EV_RESOLVER;
		s->fd = fd;
		s->r = r;
		s->next = r->socks;
		r->socks = s;
		e.data.ptr = s;
		if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &e) == 0)
			s->events = ev;
		return;
	}
	e.data.ptr = s;
	if (s->events != ev && epoll_ctl(r->ep, EPOLL_CTL_MOD, fd, &e) == 0)
		s->events = ev;
}

int resolve_server_ok(const char *s, char *err, size_t errlen)
{
	char *host = NULL, *port = NULL;
	int rc = -1;

	if (net_split_hostport(s, &host, &port, err, errlen) < 0)
		return -1;
	if (!net_is_ip_literal(host))
		snprintf(err, errlen,
			 "expected an IP address and port, as in \"127.0.0.1:53\" or \"[::1]:53\"; got \"%s\"",
			 s);
	else if (atoi(port) < 1 || atoi(port) > 65535 ||
		 strspn(port, "0123456789") != strlen(port))
		snprintf(err, errlen, "port \"%s\" is not 1..65535", port);
	else
		rc = 0;
	free(host);
	free(port);
	return rc;
}

int resolve_new(struct resolve **out, const struct cfg_strlist *servers,
		char *err, size_t errlen)
{
	struct ares_options o = { 0 };
	struct resolve *r;
	char csv[1024] = "";
	size_t used = 0;
	int rc;

	*out = NULL;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if (!(r = calloc(1, sizeof *r))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->ep = -1;
	o.sock_state_cb = resolve_sock_state;
	o.sock_state_cb_data = r;
	o.timeout = RESOLVE_TRY_MS;
	o.tries = RESOLVE_TRIES;
	rc = ares_init_options(&r->ch, &o, ARES_OPT_SOCK_STATE_CB |
			       ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(r);
		return -1;
	}
	for (size_t i = 0; servers && i < servers->n; i++) {
		int n = snprintf(csv + used, sizeof csv - used, "%s%s",
				 i ? "," : "", servers->v[i]);
		if (n < 0 || (size_t)n >= sizeof csv - used) {
			snprintf(err, errlen, "dns_servers: too many");
			goto fail;
		}
		used += n;
	}
	if (used && (rc = ares_set_servers_ports_csv(r->ch, csv)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns_servers: %s", ares_strerror(rc));
		goto fail;
	}
	*out = r;
	return 0;
fail:
	ares_destroy(r->ch);
	free(r);
	return -1;
}

void resolve_attach(struct resolve *r, int ep)
{
	r->ep = ep;
}

/** @brief The lookup ended: keep the answer for resolve_tick(). c-ares
 *  may call this from inside ares_getaddrinfo() (/etc/hosts, a quick
 *  failure), where the asker is not ready for it: answers are always
 *  delivered later, from the worker's loop. */
static void resolve_done(void *arg, int status, int timeouts,
			 struct ares_addrinfo *res)
{
	struct resolve_req *q = arg;
	struct resolve *r = q->r;
	int n = 0;

	(void)timeouts;
	if (status == ARES_SUCCESS && res) {
		for (struct ares_addrinfo_node *a = res->nodes;
		     a && n < NET_MAX_ADDRS; a = a->ai_next) {
			if (a->ai_addrlen > sizeof q->addrs[n].ss)
				continue;
			memcpy(&q->addrs[n].ss, a->ai_addr, a->ai_addrlen);
			q->addrs[n].len = a->ai_addrlen;
			n++;
		}
	}
	q->naddrs = n;
	if (n == 0)
		q->why = status == ARES_ENOTFOUND || status == ARES_ENODATA ||
			status == ARES_SUCCESS ? "no such name" :
			status == ARES_ETIMEOUT ? "the resolver did not answer" :
			ares_strerror(status);
	if (res)
		ares_freeaddrinfo(res);
	q->next = r->answered;
	r->answered = q;
}

struct resolve_req *resolve_start(struct resolve *r, const char *host,
				  unsigned port, resolve_cb cb, void *arg)
{
	struct ares_addrinfo_hints h = { .ai_family = AF_UNSPEC,
					 .ai_socktype = SOCK_STREAM,
					 .ai_flags = ARES_AI_NUMERICSERV };
	struct resolve_req *q = calloc(1, sizeof *q);
	char service[8];

	if (!q)
		return NULL;
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	snprintf(service, sizeof service, "%u", port);
	ares_getaddrinfo(r->ch, host, service, &h, resolve_done, q);
	return q;
}

void resolve_cancel(struct resolve_req *q)
{
	if (q)
		q->cb = NULL;
}

void resolve_event(struct resolve_sock *s, uint32_t events)
{
	int fd = s->fd;
	ares_socket_t rd = events & (EPOLLIN | EPOLLERR | EPOLLHUP) ?
		fd : ARES_SOCKET_BAD;
	ares_socket_t wr = events & (EPOLLOUT | EPOLLERR | EPOLLHUP) ?
		fd : ARES_SOCKET_BAD;

	/* s may be freed in here (c-ares closes the socket). */
	ares_process_fd(s->r->ch, rd, wr);
}

int resolve_wait_ms(struct resolve *r)
{
	struct timeval tv, *t;

	if (!r)
		return -1;
	if (r->answered)
		return 0;
	t = ares_timeout(r->ch, NULL, &tv);
	if (!t)
		return -1;
	return (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
}

/** @brief Hand out the answers c-ares gave since the last call. */
static void resolve_deliver(struct resolve *r)
{
	struct resolve_req *q, *next;

	q = r->answered;
	r->answered = NULL;
	for (; q; q = next) {
		next = q->next;
		if (q->cb)
			q->cb(q->arg, q->addrs, q->naddrs, q->why);
		free(q);
	}
}

void resolve_tick(struct resolve *r)
{
	if (!r)
		return;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolve_deliver(r);
}

void resolve_free(struct resolve *r)
{
	if (!r)
		return;
	/* Every lookup still running ends in resolve_done() here; nobody
	 * is told any more. */
	ares_destroy(r->ch);
	while (r->answered) {
		struct resolve_req *q = r->answered;
		r->answered = q->next;
		free(q);
	}
	while (r->socks) {
		struct resolve_sock *s = r->socks;
		r->socks = s->next;
		free(s);
	}
	free(r);
}
