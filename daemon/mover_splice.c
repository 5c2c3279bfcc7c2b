/* mover_splice.c - the kernel mover: kTLS sockets joined by splice()
 *
 * The session's keys are in the kernel, so a TLS socket reads and writes
 * plaintext; each direction moves socket -> pipe -> socket with splice()
 * and the payload never enters user space. SPLICE_F_NONBLOCK is passed on
 * every call: on a kTLS socket O_NONBLOCK alone does not stop splice from
 * blocking. A direction fills its pipe only when the pipe is empty, so
 * EAGAIN from the source always means "nothing to read". A direction holds
 * a pipe only while bytes flow: an idle one gives it back to the worker's
 * pool, so thousands of idle connections cost no pipes (and no pipe pages
 * against pipe-user-pages-soft). Bytes the protocol step read behind a
 * request (d->buf) are sent before the first splice.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "ktls.h"
#include "log.h"
#include "mover.h"
#include "worker.h"

#define SPLICE_QUANTUM (1024 * 1024)
#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

/** @brief End the destination's direction: close_notify then FIN on the
 *  TLS leg, a FIN on the plain leg. */
static enum dir_step splice_finish(struct conn *c, struct mover_dir *d,
				   int dst_tls)
{
	if (dst_tls) {
		if (ktls_send_close_notify(c->tls.fd) == 0) {
			log_debug("tunnel %s: %s: sent close_notify",
				  c->t->cfg->name, c->peer);
		} else if (errno == EAGAIN) {
			d->wait = EPOLLOUT;
			d->wait_tls = 1;
			return DIR_BLOCKED;
		}
		/* Failed or not, the FIN below ends the direction. */
	}
	if (dst_tls)
		conn_tls_fin(c);
	else
		shutdown(c->plain.fd, SHUT_WR);
	d->shut = 1;
	d->wait = 0;
	return DIR_FINISHED;
}

/** @brief A control record stopped the TLS source: what now? */
static enum dir_step splice_control(struct conn *c, struct mover_dir *d)
{
	switch (ktls_read_control(c->tls.fd, c->sess, c->reason,
				  sizeof c->reason)) {
	case KTLS_CTL_AGAIN:
		d->wait = EPOLLIN;
		d->wait_tls = 1;
		return DIR_BLOCKED;
	case KTLS_CTL_SKIPPED:
		conn_release_session(c);	/* a ticket, kept? */
		return DIR_MOVED;
	case KTLS_CTL_CLOSE_NOTIFY:
		log_debug("tunnel %s: %s: received close_notify", c->t->cfg->name,
			  c->peer);
		d->eof = 1;
		return DIR_MOVED;
	case KTLS_CTL_FATAL:
		break;
	}
	return DIR_FAILED;
}

static enum dir_step splice_dir(struct conn *c, struct mover_dir *d,
				int src_tls, uint64_t *count, uint64_t *stat)
{
	int src = src_tls ? c->tls.fd : c->plain.fd;
	int dst = src_tls ? c->plain.fd : c->tls.fd;
	size_t moved = 0;
	ssize_t n;
	enum dir_step st;

	while (!d->shut) {
		if (d->len) {
			/* Bytes the protocol step read behind the request:
			 * they go first, from user space, once. */
			n = send(dst, d->buf + d->off, d->len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				d->wait = EPOLLOUT;
				d->wait_tls = !src_tls;
				return DIR_BLOCKED;
			}
			if (n < 0) {
				snprintf(c->reason, sizeof c->reason, "writing %s side: %s",
					 src_tls ? "plain" : "TLS", strerror(errno));
				return DIR_FAILED;
			}
			d->off += n;
			d->len -= n;
			*count += n;
			*stat += n;
			if (d->len == 0) {
				worker_buf_put(c->w, d->buf);
				d->buf = NULL;
				d->off = 0;
			}
			continue;
		}
		if (d->inpipe) {
			n = splice(d->pipe[0], NULL, dst, NULL, d->inpipe, SPLICE_FLAGS);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				d->wait = EPOLLOUT;
				d->wait_tls = !src_tls;
				return DIR_BLOCKED;
			}
			if (n <= 0) {
				snprintf(c->reason, sizeof c->reason, "writing %s side: %s",
					 src_tls ? "plain" : "TLS",
					 n == 0 ? "no progress" : strerror(errno));
				return DIR_FAILED;
			}
			d->inpipe -= n;
			*count += n;
			*stat += n;
			moved += n;
			continue;
		}
		if (d->eof)
			return splice_finish(c, d, !src_tls);
		if (moved >= SPLICE_QUANTUM)
			return DIR_YIELD;
		if (d->pipe[0] < 0 && worker_pipe_get(c->w, d->pipe) < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "no pipe for splice: %s", strerror(errno));
			return DIR_FAILED;
		}
		n = splice(src, NULL, d->pipe[1], NULL, MOVER_BUF_SIZE, SPLICE_FLAGS);
		if (n > 0) {
			d->inpipe = n;
		} else if (n == 0) {
			d->eof = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			/* Idle: the empty pipe goes back to the worker, so idle
			 * connections hold none. */
			worker_pipe_put(c->w, d->pipe, 1);
			d->wait = EPOLLIN;
			d->wait_tls = src_tls;
			return DIR_BLOCKED;
		} else if (src_tls && (errno == EINVAL || errno == EIO)) {
			st = splice_control(c, d);
			if (st != DIR_MOVED)
				return st;
		} else {
			snprintf(c->reason, sizeof c->reason, "reading %s side: %s",
				 src_tls ? "TLS" : "plain", strerror(errno));
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

static enum dir_step splice_step(struct conn *c, int down)
{
	return down ? splice_dir(c, &c->down, 1, &c->bytes_down,
				 &c->t->stats->bytes_down) :
		splice_dir(c, &c->up, 0, &c->bytes_up, &c->t->stats->bytes_up);
}

static enum mover_status splice_start(struct conn *c)
{
	c->t->stats->relayed_ktls++;
	return mover_pump(c, splice_step);
}

static enum mover_status splice_event(struct conn *c, struct conn_fd *f,
				      uint32_t events)
{
	return mover_pump(c, splice_step);
}

static void splice_close(struct conn *c)
{
	if (c->down.buf)
		worker_buf_put(c->w, c->down.buf);
	c->down.buf = NULL;
	worker_pipe_put(c->w, c->up.pipe, c->up.inpipe == 0);
	worker_pipe_put(c->w, c->down.pipe, c->down.inpipe == 0);
}

const struct mover_ops mover_splice_ops = {
	.name = "ktls+splice",
	.start = splice_start,
	.on_event = splice_event,
	.close = splice_close,
};
