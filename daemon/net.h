/* net.h - addresses, listening and connecting sockets, socket options */
#ifndef SSLTUNNEL_NET_H
#define SSLTUNNEL_NET_H

#include <stddef.h>
#include <sys/socket.h>

#define NET_MAX_ADDRS 8
#define NET_ADDRSTRLEN 64	/* "[ipv6%scope]:port" fits */

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "host:port" or "[v6]:port" as written, and what it resolved to. */
struct net_endpoint {
	char *host;		/* without brackets */
	char *port;
	struct net_addr addrs[NET_MAX_ADDRS];
	int naddrs;
};

struct net_keepalive {
	int idle;		/* seconds before the first probe; 0 = off */
	int interval;		/* seconds between probes */
	int count;		/* unanswered probes before the peer is dead */
};

/** @brief Split "host:port" / "[v6]:port" into malloc'd parts.
 *  Returns 0, or -1 with a reason in @err. */
int net_split_hostport(const char *s, char **host, char **port,
		       char *err, size_t errlen);
/** @brief Parse and resolve @s into @ep (numeric or by name, at load time
 *  so workers never block on DNS). @passive for listening addresses. */
int net_endpoint_parse(struct net_endpoint *ep, const char *s, int passive,
		       char *err, size_t errlen);
void net_endpoint_free(struct net_endpoint *ep);
/** @brief Is @host an IPv4 or IPv6 literal? (no SNI for those) */
int net_is_ip_literal(const char *host);
/** @brief @host as an IPv4 or IPv6 literal (no brackets) with @port in
 *  @a; -1 when it is not one. */
int net_addr_literal(const char *host, unsigned port, struct net_addr *a);
/** @brief "1.2.3.4:5" or "[::1]:5" for logs. */
const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/** @brief Open a non-blocking listening socket on @a. */
int net_listen(const struct net_addr *a, char *err, size_t errlen);
/** @brief Start a non-blocking connect; returns the fd (connect may still
 *  be in progress) or -1 with errno set. */
int net_connect_start(const struct net_addr *a);
/** @brief The result of a finished non-blocking connect: 0 or an errno. */
int net_connect_result(int fd);

void net_set_nodelay(int fd);
void net_set_keepalive(int fd, const struct net_keepalive *ka);
/** @brief Options a listener's accepted sockets inherit from it (Linux
 *  copies them at accept): TCP_NODELAY, and the keepalive @ka, or none
 *  (NULL or idle 0: SO_KEEPALIVE off, for a listener reused by a
 *  generation that wants none). Set once per listener and generation,
 *  they spare every accepted connection up to five setsockopt calls. */
void net_listener_opts(int fd, const struct net_keepalive *ka);

#endif
