/* resolve.h - destination names resolved on the worker's epoll (c-ares)
 *
 * A client-chosen destination ("db.internal:3306") is resolved while the
 * worker goes on serving everyone else: c-ares's sockets join the
 * worker's epoll set and its timeouts fold into the loop's wait, as curl
 * does it. A slow or dead resolver delays only the connections waiting
 * for an answer.
 */
#ifndef SSLTUNNEL_RESOLVE_H
#define SSLTUNNEL_RESOLVE_H

#include <stdint.h>

#include "cfg.h"
#include "net.h"

struct resolve;
struct resolve_req;

/* A resolver socket, registered with the worker's epoll; starts with
 * its kind (EV_RESOLVER) like every object the worker's epoll holds. */
struct resolve_sock {
	int kind;
	int fd;
	uint32_t events;
	struct resolve *r;
	struct resolve_sock *next;
};

/** @brief The answer: @naddrs addresses (at most NET_MAX_ADDRS), or
 *  none and @why ("no such name", "timed out"). */
typedef void (*resolve_cb)(void *arg, const struct net_addr *addrs,
			   int naddrs, const char *why);

/** @brief A resolver reading /etc/resolv.conf and /etc/hosts now (before
 *  a chroot), or asking only @servers ("127.0.0.1:5353", "[::1]:53")
 *  when there are any. */
int resolve_new(struct resolve **out, const struct cfg_strlist *servers,
		char *err, size_t errlen);
/** @brief From now on the resolver's sockets join epoll set @ep. */
void resolve_attach(struct resolve *r, int ep);
/** @brief Check a dns_servers entry without building a resolver. */
int resolve_server_ok(const char *s, char *err, size_t errlen);

/** @brief Start resolving @host (a name; literals need no resolver) for
 *  @port. @cb runs later from resolve_event() or resolve_tick(), never
 *  from here. NULL when out of memory. */
struct resolve_req *resolve_start(struct resolve *r, const char *host,
				  unsigned port, resolve_cb cb, void *arg);
/** @brief The asker is gone: its callback will not run. */
void resolve_cancel(struct resolve_req *q);

/** @brief Readiness on one of the resolver's sockets. */
void resolve_event(struct resolve_sock *s, uint32_t events);
/** @brief Milliseconds until the resolver needs resolve_tick(), or -1. */
int resolve_wait_ms(struct resolve *r);
/** @brief Let lookups whose time is up retry or fail. */
void resolve_tick(struct resolve *r);
void resolve_free(struct resolve *r);

#endif
