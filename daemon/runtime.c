/* runtime.c - tunnels added while the daemon runs: the console's
 * arguments, the master-to-worker messages, a worker's tunnel built from
 * its via tunnel */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime.h"

/** @brief A port number written in decimal, 1 to 65535. */
static int rt_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -1;
	v = strtoul(s, &end, 10);
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/** @brief A host name or IPv4 literal: letters, digits, '-', '.', '_'. */
static int rt_name_ok(const char *h, size_t n)
{
	if (n == 0 || n >= RT_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		      ch == '_'))
			return 0;
	}
	return 1;
}

/** @brief An IPv6 literal of @n bytes at @h. */
static int rt_v6_ok(const char *h, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/** @brief Split "[host:]port", "[v6]:port", "host" or "port" into @host
 *  (empty when not given) and @port (0 when not given). */
static int rt_split(const char *arg, char *host, size_t hostlen,
		    unsigned *port, char *err, size_t errlen)
{
	const char *colon, *p;
	size_t n;

	host[0] = '\0';
	*port = 0;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		n = close ? (size_t)(close - arg - 1) : 0;
		if (!close || !rt_v6_ok(arg + 1, n) || n >= hostlen) {
			snprintf(err, errlen, "\"%s\": expected [IPv6]:port", arg);
			return -1;
		}
		memcpy(host, arg + 1, n);
		host[n] = '\0';
		p = close + 1;
		if (*p == '\0')
			return 0;
		if (*p != ':' || rt_port(p + 1, port) < 0) {
			snprintf(err, errlen, "\"%s\": expected a port 1-65535 after ]:",
				 arg);
			return -1;
		}
		return 0;
	}
	if (rt_port(arg, port) == 0)
		return 0;
	colon = strrchr(arg, ':');
	if (colon && strchr(arg, ':') != colon) {
		/* Several colons: a bare IPv6 address, no port. */
		if (!rt_v6_ok(arg, strlen(arg)) || strlen(arg) >= hostlen) {
			snprintf(err, errlen,
				 "\"%s\": expected host:port (an IPv6 address in brackets: [::1]:3306)",
				 arg);
			return -1;
		}
		snprintf(host, hostlen, "%s", arg);
		return 0;
	}
	n = colon ? (size_t)(colon - arg) : strlen(arg);
	if (!rt_name_ok(arg, n) || n >= hostlen) {
		snprintf(err, errlen, "\"%.*s\": not a host name or address",
			 (int)(n > 80 ? 80 : n), arg);
		return -1;
	}
	memcpy(host, arg, n);
	host[n] = '\0';
	if (colon && rt_port(colon + 1, port) < 0) {
		snprintf(err, errlen, "\"%s\": expected a port 1-65535 after the colon",
			 arg);
		return -1;
	}
	return 0;
}

/** @brief "host:port", with brackets around an IPv6 host. */
static int rt_join(const char *host, unsigned port, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, strchr(host, ':') ? "[%s]:%u" : "%s:%u",
			 host, port);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int rt_parse_local(const char *arg, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	char host[RT_HOST_MAX];
	unsigned port;
	struct in_addr a4;
	struct in6_addr a6;

	if (rt_split(arg, host, sizeof host, &port, err, errlen) < 0)
		return -1;
	if (!port) {
		snprintf(err, errlen, "\"%s\": expected [host:]port to listen on",
			 arg);
		return -1;
	}
	if (!host[0] || strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &a4) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1) {
		snprintf(err, errlen,
			 "\"%s\": listen on an IP address or localhost, not a name",
			 arg);
		return -1;
	}
	if (rt_join(host, port, out, outlen) < 0) {
		snprintf(err, errlen, "\"%s\": too long", arg);
		return -1;
	}
	return 0;
}

int rt_parse_remote(const char *arg, unsigned lport, char *out, size_t outlen,
		    char *err, size_t errlen)
{
	char host[RT_HOST_MAX];
	unsigned port = 0;

	if (arg && rt_split(arg, host, sizeof host, &port, err, errlen) < 0)
		return -1;
	if (!arg)
		host[0] = '\0';
	if (!host[0])
		snprintf(host, sizeof host, "127.0.0.1");
	if (!port)
		port = lport;
	if (rt_join(host, port, out, outlen) < 0) {
		snprintf(err, errlen, "\"%s\": too long", arg);
		return -1;
	}
	return 0;
}

int rt_via_ok(const struct cfg_tunnel *via, char *err, size_t errlen)
{
	if (via->role != CFG_ROLE_CLIENT) {
		snprintf(err, errlen,
			 "tunnel %s has role server: --via takes a client tunnel",
			 via->name);
		return -1;
	}
	if (via->transport != CFG_TRANSPORT_WEBSOCKET && !via->destination) {
		snprintf(err, errlen,
			 "tunnel %s forwards to its server's fixed connect: --via takes a client tunnel that asks for a destination (transport = \"websocket\", or destination set)",
			 via->name);
		return -1;
	}
	return 0;
}

int rt_send(int sock, const struct rt_msg *m, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { (void *)m, sizeof *m };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&u, 0, sizeof u);
	if (fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		u.h.cmsg_level = SOL_SOCKET;
		u.h.cmsg_type = SCM_RIGHTS;
		u.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&u.h), &fd, sizeof fd);
	}
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		(ssize_t)sizeof *m ? 0 : -1;
}

int rt_recv(int sock, struct rt_msg *m, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { m, sizeof *m };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof u.buf };
	struct cmsghdr *h;
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*fd = -1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	for (h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(h), sizeof *fd);
	if (n != (ssize_t)sizeof *m || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    m->slot < 0 || m->slot >= RT_MAX) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	m->via[sizeof m->via - 1] = '\0';
	m->listen[sizeof m->listen - 1] = '\0';
	m->dest[sizeof m->dest - 1] = '\0';
	return 1;
}

/* What a runtime tunnel owns: its cfg copy and the strings changed in it. */
struct rt_tunnel {
	struct tunnel t;
	struct cfg_tunnel cfg;
};

struct tunnel *rt_tunnel_new(const struct tunnel *via, const struct rt_msg *m,
			     int fd, struct tunnel_stats *stats, char *err,
			     size_t errlen)
{
	struct rt_tunnel *r = calloc(1, sizeof *r);
	char *port = NULL, e[256];

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* The via's settings, shared; only what differs is owned. */
	r->cfg = *via->cfg;
	r->cfg.name = NULL;
	r->cfg.listen = r->cfg.destination = r->cfg.dest_host = NULL;
	memset(&r->cfg.listen_ep, 0, sizeof r->cfg.listen_ep);
	if (asprintf(&r->cfg.name, "%s#%d", via->cfg->name, m->id) < 0) {
		r->cfg.name = NULL;
		goto oom;
	}
	if (!(r->cfg.listen = strdup(m->listen)) ||
	    !(r->cfg.destination = strdup(m->dest)))
		goto oom;
	if (net_split_hostport(m->dest, &r->cfg.dest_host, &port, e,
			       sizeof e) < 0) {
		snprintf(err, errlen, "destination %s: %s", m->dest, e);
		goto fail;
	}
	r->cfg.dest_port = (unsigned)strtoul(port, NULL, 10);
	free(port);
	if (net_endpoint_parse(&r->cfg.listen_ep, m->listen, 1, e, sizeof e) < 0) {
		snprintf(err, errlen, "listen %s: %s", m->listen, e);
		goto fail;
	}
	r->t.cfg = &r->cfg;
	r->t.tls = via->tls;	/* the same credentials */
	r->t.stats = stats;
	r->t.runtime_id = m->id;
	r->t.auth_cache = NULL;
	r->t.listeners[0] = (struct listener){ EV_LISTENER, fd, &r->t };
	r->t.nlisteners = 1;
	return &r->t;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	rt_tunnel_free(&r->t);
	return NULL;
}

void rt_tunnel_free(struct tunnel *t)
{
	struct rt_tunnel *r = (struct rt_tunnel *)t;

	if (!t)
		return;
	tls_ticket_drop(&t->ticket);
	free(r->cfg.name);
	free(r->cfg.listen);
	free(r->cfg.destination);
	free(r->cfg.dest_host);
	net_endpoint_free(&r->cfg.listen_ep);
	free(r);
}
