/* net.c - addresses, listening and connecting sockets, socket options */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

int net_split_hostport(const char *s, char **host, char **port,
		       char *err, size_t errlen)
{
	const char *h, *he, *colon;

	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':') {
			snprintf(err, errlen, "expected \"[ipv6]:port\", got \"%s\"", s);
			return -1;
		}
		colon = he + 1;
	} else {
		h = s;
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "expected \"host:port\", got \"%s\"", s);
			return -1;
		}
		if (memchr(s, ':', colon - s)) {
			snprintf(err, errlen,
				 "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"%s\"", s);
			return -1;
		}
		he = colon;
	}
	if (he == h) {
		snprintf(err, errlen, "missing host in \"%s\"", s);
		return -1;
	}
	const char *p = colon + 1;
	char *end;
	long v = strtol(p, &end, 10);
	if (!isdigit((unsigned char)*p) || *end || v < 1 || v > 65535) {
		snprintf(err, errlen, "port must be a number from 1 to 65535, got \"%s\"", p);
		return -1;
	}
	*host = strndup(h, he - h);
	*port = strdup(p);
	if (!*host || !*port) {
		free(*host);
		free(*port);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int net_is_ip_literal(const char *host)
{
	struct in6_addr a6;

	return inet_pton(AF_INET, host, &a6) == 1 ||
	       inet_pton(AF_INET6, host, &a6) == 1;
}

int net_endpoint_parse(struct net_endpoint *ep, const char *s, int passive,
		       char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	int rc;

	memset(ep, 0, sizeof *ep);
	if (net_split_hostport(s, &ep->host, &ep->port, err, errlen) < 0)
		return -1;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	const char *node = ep->host;
	if (passive && strcmp(node, "*") == 0)
		node = NULL;
	rc = getaddrinfo(node, ep->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s", ep->host,
			 gai_strerror(rc));
		net_endpoint_free(ep);
		return -1;
	}
	for (ai = res; ai && ep->naddrs < NET_MAX_ADDRS; ai = ai->ai_next) {
		struct net_addr *a = &ep->addrs[ep->naddrs++];
		memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
		a->len = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return 0;
}

void net_endpoint_free(struct net_endpoint *ep)
{
	free(ep->host);
	free(ep->port);
	memset(ep, 0, sizeof *ep);
}

const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

int net_listen(const struct net_addr *a, char *err, size_t errlen)
{
	int one = 1, fd;
	char as[NET_ADDRSTRLEN];

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* "[::]:p" means IPv6 only; write "0.0.0.0:p" too for both. */
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto err;
	if (listen(fd, SOMAXCONN) < 0)
		goto err;
	return fd;
err:
	snprintf(err, errlen, "cannot listen on %s: %s",
		 net_addr_str((const struct sockaddr *)&a->ss, as, sizeof as),
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int net_connect_start(const struct net_addr *a)
{
	int fd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int net_connect_result(int fd)
{
	int e = 0;
	socklen_t l = sizeof e;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return errno;
	return e;
}

void net_set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void net_set_keepalive(int fd, const struct net_keepalive *ka)
{
	int one = 1;

	if (ka->idle <= 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka->idle, sizeof ka->idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka->interval,
		   sizeof ka->interval);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka->count, sizeof ka->count);
}

void net_listener_opts(int fd, const struct net_keepalive *ka)
{
	int zero = 0;

	net_set_nodelay(fd);
	if (ka && ka->idle > 0)
		net_set_keepalive(fd, ka);
	else
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero);
}

int net_addr_literal(const char *host, unsigned port, struct net_addr *a)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof *s6;
		return 0;
	}
	return -1;
}
