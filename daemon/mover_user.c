/* mover_user.c - the userspace mover: GnuTLS records through bounded buffers
 *
 * Each direction holds at most one MOVER_BUF_SIZE buffer, taken from the
 * worker's pool when bytes arrive and given back as soon as they are
 * written, so an idle connection holds no buffer. A direction reads only
 * when its buffer has room; a slow destination therefore stops reads from
 * its source (backpressure through the kernel's socket buffers).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "conn.h"
#include "log.h"
#include "mover.h"
#include "worker.h"

/* Bytes one direction may move per call before it yields to the other
 * connections of the worker. */
#define MOVER_QUANTUM (1024 * 1024)

static void mover_dir_release(struct worker *w, struct mover_dir *d)
{
	if (d->buf && d->len == 0) {
		worker_buf_put(w, d->buf);
		d->buf = NULL;
		d->off = 0;
	}
}

static int mover_dir_take(struct worker *w, struct mover_dir *d)
{
	if (!d->buf && !(d->buf = worker_buf_get(w)))
		return -1;
	return 0;
}

/** @brief Pass the source's end on: close_notify then FIN on the TLS leg. */
static enum dir_step mover_up_finish(struct conn *c, struct mover_dir *d)
{
	int rc = gnutls_bye(c->sess, GNUTLS_SHUT_WR);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		d->wait = EPOLLOUT;
		d->wait_tls = 1;
		return DIR_BLOCKED;
	}
	if (rc == 0)
		log_debug("tunnel %s: %s: sent close_notify", c->t->cfg->name,
			  c->peer);
	/* A failed close_notify still ends the direction with a FIN. */
	conn_tls_fin(c);
	d->shut = 1;
	d->wait = 0;
	return DIR_FINISHED;
}

/** @brief plain -> TLS: read plaintext, send it as records. */
static enum dir_step mover_up(struct conn *c)
{
	struct mover_dir *d = &c->up;
	size_t moved = 0;
	ssize_t n;

	while (!d->shut) {
		if (d->len) {
			size_t want = d->inflight ? d->inflight : d->len;
			if (!d->corked && d->len > 16384)
				mover_cork(c, d, 1);
			n = gnutls_record_send(c->sess, d->buf + d->off, want);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				mover_cork(c, d, 0);
				d->inflight = want;
				d->wait = EPOLLOUT;
				d->wait_tls = 1;
				return DIR_BLOCKED;
			}
			d->inflight = 0;
			if (n < 0) {
				snprintf(c->reason, sizeof c->reason,
					 "sending to TLS peer: %s", gnutls_strerror(n));
				return DIR_FAILED;
			}
			d->off += n;
			d->len -= n;
			c->t->stats->bytes_up += n;
			c->bytes_up += n;
			moved += n;
			if (d->len == 0) {
				d->off = 0;
				mover_cork(c, d, 0);
			}
			continue;
		}
		if (d->eof)
			return mover_up_finish(c, d);
		if (moved >= MOVER_QUANTUM)
			return DIR_YIELD;
		if (mover_dir_take(c->w, d) < 0) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return DIR_FAILED;
		}
		n = recv(c->plain.fd, d->buf, MOVER_BUF_SIZE, 0);
		if (n > 0) {
			d->len = n;
		} else if (n == 0) {
			d->eof = 1;
			mover_dir_release(c->w, d);
		} else if (errno == EAGAIN || errno == EINTR) {
			mover_dir_release(c->w, d);
			d->wait = EPOLLIN;
			d->wait_tls = 0;
			return DIR_BLOCKED;
		} else {
			snprintf(c->reason, sizeof c->reason,
				 "reading plain side: %s", strerror(errno));
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

/** @brief Decrypt records into the free part of the buffer. */
static enum dir_step mover_down_fill(struct conn *c, struct mover_dir *d)
{
	while (d->off + d->len < MOVER_BUF_SIZE) {
		size_t room = MOVER_BUF_SIZE - d->off - d->len;
		ssize_t n = gnutls_record_recv(c->sess, d->buf + d->off + d->len,
					       room);
		if (n > 0) {
			d->len += n;
			if (gnutls_record_check_pending(c->sess) == 0 &&
			    room - n < 16384)
				break;
			continue;
		}
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
			log_debug("tunnel %s: %s: %s", c->t->cfg->name, c->peer,
				  n == 0 ? "received close_notify" :
				  "TLS peer closed without close_notify");
			d->eof = 1;
			break;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (d->len == 0) {
				mover_dir_release(c->w, d);
				d->wait = EPOLLIN;
				d->wait_tls = 1;
				return DIR_BLOCKED;
			}
			break;
		}
		/* A server's HelloRequest may be ignored (RFC 5246 7.4.1.1);
		 * a client's renegotiation is refused (tls_recv_reason). */
		if (n == GNUTLS_E_REHANDSHAKE &&
		    c->t->cfg->role == CFG_ROLE_CLIENT)
			continue;
		tls_recv_reason(c->sess, n, c->reason, sizeof c->reason);
		c->tls_err = (int)n;
		return DIR_FAILED;
	}
	return DIR_MOVED;
}

/** @brief TLS -> plain: receive records, write plaintext. */
static enum dir_step mover_down(struct conn *c)
{
	struct mover_dir *d = &c->down;
	size_t moved = 0;
	ssize_t n;
	enum dir_step st;

	while (!d->shut) {
		if (d->len) {
			n = send(c->plain.fd, d->buf + d->off, d->len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				d->wait = EPOLLOUT;
				d->wait_tls = 0;
				return DIR_BLOCKED;
			}
			if (n < 0) {
				snprintf(c->reason, sizeof c->reason,
					 "writing plain side: %s", strerror(errno));
				return DIR_FAILED;
			}
			d->off += n;
			d->len -= n;
			c->t->stats->bytes_down += n;
			c->bytes_down += n;
			moved += n;
			if (d->len == 0) {
				d->off = 0;
				mover_dir_release(c->w, d);
			}
			continue;
		}
		if (d->eof) {
			shutdown(c->plain.fd, SHUT_WR);
			d->shut = 1;
			d->wait = 0;
			return DIR_FINISHED;
		}
		if (moved >= MOVER_QUANTUM)
			return DIR_YIELD;
		if (mover_dir_take(c->w, d) < 0) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return DIR_FAILED;
		}
		st = mover_down_fill(c, d);
		if (st != DIR_MOVED)
			return st;
	}
	return DIR_FINISHED;
}

static enum dir_step mover_user_step(struct conn *c, int down)
{
	return down ? mover_down(c) : mover_up(c);
}

static enum mover_status mover_user_start(struct conn *c)
{
	c->t->stats->relayed_user++;
	c->t->stats->user_why[c->user_why]++;
	return mover_pump(c, mover_user_step);
}

static enum mover_status mover_user_event(struct conn *c, struct conn_fd *f,
					  uint32_t events)
{
	return mover_pump(c, mover_user_step);
}

static void mover_user_close(struct conn *c)
{
	if (c->up.buf)
		worker_buf_put(c->w, c->up.buf);
	if (c->down.buf)
		worker_buf_put(c->w, c->down.buf);
	c->up.buf = c->down.buf = NULL;
}

const struct mover_ops mover_user_ops = {
	.name = "userspace",
	.start = mover_user_start,
	.on_event = mover_user_event,
	.close = mover_user_close,
};
