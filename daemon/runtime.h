/* runtime.h - tunnels added while the daemon runs (`tunnel 3306 db:3306`
 * from a console, `ssltunnelctl tunnel add`)
 *
 * A runtime tunnel is a configured client tunnel (its "via": server,
 * certificates, credentials) with another listening address and another
 * destination. The master opens its listener and hands it to every worker
 * over the worker's control channel (a SOCK_SEQPACKET pair, the socket in
 * SCM_RIGHTS); each worker builds its own struct tunnel from the message
 * and its generation's via tunnel.
 */
#ifndef SSLTUNNEL_RUNTIME_H
#define SSLTUNNEL_RUNTIME_H

#include <stddef.h>

#include "tunnel.h"

#define RT_MAX 256		/* runtime tunnels at once */
#define RT_HOST_MAX 256

enum rt_op { RT_ADD = 1, RT_CLOSE };

/* One message from the master to a worker. */
struct rt_msg {
	int op;
	int id;			/* the tunnel's id, as the operator sees it */
	int slot;		/* its counters' row, 0..RT_MAX-1 */
	char via[64];		/* the configured tunnel it goes through */
	char listen[RT_HOST_MAX + 16];	/* "127.0.0.1:3306" */
	char dest[RT_HOST_MAX + 16];	/* "db:3306", asked of the server */
};

/** @brief "[host:]port" where a runtime tunnel listens, as "host:port"
 *  in @out: the host is an IP literal or localhost (127.0.0.1, the
 *  default). -1 with @err. */
int rt_parse_local(const char *arg, char *out, size_t outlen, char *err,
		   size_t errlen);
/** @brief "[host:]port", "host" or NULL: the destination the server is
 *  asked for, as "host:port" in @out; the host defaults to 127.0.0.1 (the
 *  server's own loopback) and the port to @lport. -1 with @err. */
int rt_parse_remote(const char *arg, unsigned lport, char *out, size_t outlen,
		    char *err, size_t errlen);
/** @brief Can @via carry runtime tunnels? A client tunnel that asks its
 *  server for a destination (transport = "websocket", or destination
 *  set). 0, or -1 with @err. */
int rt_via_ok(const struct cfg_tunnel *via, char *err, size_t errlen);

/** @brief Send @m (and @fd unless -1) on @sock without blocking; -1 with
 *  errno. */
int rt_send(int sock, const struct rt_msg *m, int fd);
/** @brief Receive one message: 1 (and *@fd, -1 if none came), 0 when
 *  none waits, -1 when the master is gone or the message is malformed. */
int rt_recv(int sock, struct rt_msg *m, int *fd);

/** @brief A worker's runtime tunnel from @m: @via's settings and
 *  credentials, @m's addresses, listening on @fd, counted in @stats.
 *  NULL with @err. */
struct tunnel *rt_tunnel_new(const struct tunnel *via, const struct rt_msg *m,
			     int fd, struct tunnel_stats *stats, char *err,
			     size_t errlen);
/** @brief Free what rt_tunnel_new made (the listener is closed already;
 *  what is shared with @via stays). */
void rt_tunnel_free(struct tunnel *t);

#endif
