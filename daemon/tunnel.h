/* tunnel.h - a configured tunnel at run time: its credentials, listeners
 * and counters */
#ifndef SSLTUNNEL_TUNNEL_H
#define SSLTUNNEL_TUNNEL_H

#include <stdint.h>

#include "cfg.h"
#include "net.h"
#include "tls.h"

/* Kinds of objects registered with a worker's epoll; each such object
 * starts with an int holding its kind. */
enum ev_kind { EV_LISTENER = 1, EV_CONN_TLS, EV_CONN_PLAIN, EV_SIGNAL,
	       EV_RESOLVER, EV_AUTH, EV_CONTROL, EV_HC };

struct tunnel;
struct auth_cache;
struct limit;

struct listener {
	int kind;		/* EV_LISTENER */
	int fd;
	struct tunnel *t;
};

/* Counted per worker, in memory the master shares with its workers (so it
 * reads them without asking): each worker writes only its own. */
/* Why a connection took the userspace path. */
enum tunnel_user_why { USER_WHY_OFF, USER_WHY_NO_KERNEL, USER_WHY_HANDOFF,
		       USER_WHY_N };

struct tunnel_stats {
	uint64_t active;		/* connections open now */
	uint64_t accepted;
	uint64_t rejected;		/* handshake or authorization failed */
	uint64_t relayed_user;		/* connections on the userspace path */
	uint64_t relayed_ktls;		/* connections on kTLS + splice */
	uint64_t bytes_up;		/* plain side -> TLS side */
	uint64_t bytes_down;		/* TLS side -> plain side */
	uint64_t hs_fail[TLS_FAIL_N];	/* handshake failures, by kind */
	uint64_t resumed;		/* handshakes that resumed a session */
	uint64_t user_why[USER_WHY_N];	/* why the userspace path */
	uint64_t acl_denied;		/* destinations the acl refused */
	uint64_t auth_failed;		/* wrong password or unknown user */
	uint64_t auth_locked;		/* refused: the source is locked out */
	uint64_t auth_lockouts;		/* sources locked out */
	uint64_t limited;		/* refused: max_connections reached */
	uint64_t limited_source;	/* refused: max_connections_per_source */
	uint64_t idle_closed;		/* closed by idle_timeout */
};

/* accounting = true: bytes and connections per identity, one table per
 * worker and tunnel in memory shared with the master. Open addressing by
 * name; row 0 is "other", for identities past accounting_max_identities.
 * A worker writes the name, then sets used (release); the master reads
 * used (acquire), then the name. */
#define ACCT_NAME_MAX 96
struct acct_entry {
	uint32_t used;
	char name[ACCT_NAME_MAX];
	uint64_t connections, bytes_up, bytes_down;
};

struct tunnel {
	const struct cfg_tunnel *cfg;
	struct tls_ctx tls;
	struct listener listeners[NET_MAX_ADDRS];
	int nlisteners;
	struct tunnel_stats *stats;	/* this worker's, shared with the master */
	int runtime_id;			/* added at run time: its id; else 0 */
	struct auth_cache *auth_cache;	/* worker: its logins remembered */
	struct acct_entry *acct;	/* worker: its accounting table, or NULL */
	size_t acct_n;			/* its rows, "other" included */
	struct limit *lim;		/* worker, configured tunnels: its view
					   of the shared counts (limit.h) */
	gnutls_datum_t ticket;		/* worker, client role: the latest
					   session ticket (tls.c) */
};

/** @brief Count a finished connection of @who (bytes each way) in @t's
 *  accounting table, if it has one. */
void tunnel_account(struct tunnel *t, const char *who, uint64_t up,
		    uint64_t down);

#endif
