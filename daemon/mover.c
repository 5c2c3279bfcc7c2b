/* mover.c - what the movers share: running both directions of a
 * connection and turning where they stopped into epoll interest */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "conn.h"
#include "mover.h"
#include "worker.h"

enum mover_status mover_pump(struct conn *c, mover_step_fn step)
{
	enum dir_step up, down;
	uint32_t tls_ev = 0, plain_ev = 0;

	up = c->up.shut ? DIR_FINISHED : step(c, 0);
	if (up == DIR_FAILED)
		return MOVER_ERROR;
	down = c->down.shut ? DIR_FINISHED : step(c, 1);
	if (down == DIR_FAILED)
		return MOVER_ERROR;
	if (up == DIR_FINISHED && down == DIR_FINISHED)
		return MOVER_DONE;
	if (up == DIR_YIELD || down == DIR_YIELD)
		worker_queue(c->w, c);
	if (up == DIR_BLOCKED)
		*(c->up.wait_tls ? &tls_ev : &plain_ev) |= c->up.wait;
	if (down == DIR_BLOCKED)
		*(c->down.wait_tls ? &tls_ev : &plain_ev) |= c->down.wait;
	/* A leg neither direction waits on now (its reader blocked on the
	 * other leg, its writer with nothing to write) still has to tell us
	 * of a reset, or a peer that reset while the other side never reads
	 * would hold the connection forever: EPOLLERR alone (EPOLLHUP comes
	 * with it), while our sending side of that leg is open - after our
	 * FIN, EPOLLHUP would only say the peer's FIN came too. */
	if (!tls_ev && !c->up.shut)
		tls_ev = EPOLLERR;
	if (!plain_ev && !c->down.shut)
		plain_ev = EPOLLERR;
	if (conn_want(c, &c->tls, tls_ev) < 0 ||
	    conn_want(c, &c->plain, plain_ev) < 0) {
		snprintf(c->reason, sizeof c->reason, "epoll: %s", strerror(errno));
		return MOVER_ERROR;
	}
	return MOVER_CONTINUE;
}

void mover_cork(struct conn *c, struct mover_dir *d, int on)
{
	if (d->corked == on)
		return;
	setsockopt(c->tls.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
	d->corked = on;
}
