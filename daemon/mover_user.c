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
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "conn.h"
#include "log.h"
#include "mover.h"
#include "srec.h"
#include "worker.h"

/* Bytes one direction may move per call before it yields to the other
 * connections of the worker. */
#define MOVER_QUANTUM (1024 * 1024)

static void mover_dir_release(struct worker *w, struct mover_dir *d)
{
	if (d->buf && d->len == 0 && d->rawlen == 0) {
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

/** @brief Write what @d holds, as it is, to the TLS leg (@tls) or the
 *  plain one; the buffer goes back to the pool once empty. DIR_MOVED
 *  (*@sent bytes), DIR_BLOCKED (d->wait set) or DIR_FAILED. */
static enum dir_step mover_dir_send(struct conn *c, struct mover_dir *d,
				    int tls, size_t *sent)
{
	ssize_t n = send(tls ? c->tls.fd : c->plain.fd, d->buf + d->off,
			 d->len, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		d->wait = EPOLLOUT;
		d->wait_tls = tls;
		return DIR_BLOCKED;
	}
	if (n < 0) {
		snprintf(c->reason, sizeof c->reason, "%s: %s",
			 tls ? "sending to TLS peer" : "writing plain side",
			 strerror(errno));
		return DIR_FAILED;
	}
	d->off += n;
	d->len -= n;
	if (d->len == 0) {
		d->off = 0;
		mover_dir_release(c->w, d);
	}
	*sent = (size_t)n;
	return DIR_MOVED;
}

typedef enum dir_step (*down_fill_fn)(struct conn *c, struct mover_dir *d);

/** @brief TLS -> plain: receive records (@fill: GnuTLS's or srec's),
 *  write plaintext. */
static enum dir_step mover_down(struct conn *c, down_fill_fn fill)
{
	struct mover_dir *d = &c->down;
	size_t moved = 0, n;
	enum dir_step st;

	while (!d->shut) {
		if (d->len) {
			st = mover_dir_send(c, d, 0, &n);
			if (st != DIR_MOVED)
				return st;
			c->t->stats->bytes_down += n;
			c->bytes_down += n;
			moved += n;
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
		st = fill(c, d);
		if (st != DIR_MOVED)
			return st;
	}
	return DIR_FINISHED;
}

/* ssltunnel's record layer (srec.h): the GnuTLS session is gone, records
 * are sealed and opened in place in the relay buffers.
 *
 * plain -> TLS: one readv() fills the content of up to four records laid
 * out one after the other in the buffer, each is sealed where it lies and
 * one send() takes them all. The buffer's last SREC_CTL_RECORD bytes stay
 * free for a KeyUpdate the other direction may have to add. */

/** @brief Seal our KeyUpdate after what the up buffer holds. */
static int srec_queue_key_update(struct conn *c, struct mover_dir *d)
{
	int n = srec_append(c->srec, 0, d->buf, MOVER_BUF_SIZE, &d->off, &d->len);

	if (n < 0)
		snprintf(c->reason, sizeof c->reason, "sealing a KeyUpdate: %s",
			 gnutls_strerror(n));
	return n < 0 ? -1 : 0;
}

/** @brief Read plaintext into records' places and seal them. */
static enum dir_step srec_up_fill(struct conn *c, struct mover_dir *d,
				  size_t *moved)
{
	struct srec *r = c->srec;
	struct iovec iov[4];
	unsigned char *rec[4];
	size_t at = 0, end = MOVER_BUF_SIZE - SREC_CTL_RECORD, left;
	int k = 0, n;
	ssize_t got;

	d->off = 0;
	if (d->ku_owed || srec_rekey_due(r)) {
		if (srec_queue_key_update(c, d) < 0)
			return DIR_FAILED;
		d->ku_owed = 0;
		at = d->len;
	}
	while (k < 4 && at + SREC_OVERHEAD + 1024 <= end) {
		size_t cap = end - at - SREC_OVERHEAD;
		if (cap > r->max_plain)
			cap = r->max_plain;
		rec[k] = d->buf + at;
		iov[k].iov_base = rec[k] + SREC_HDR;
		iov[k].iov_len = cap;
		at += SREC_OVERHEAD + cap;
		k++;
	}
	got = readv(c->plain.fd, iov, k);
	if (got == 0) {
		d->eof = 1;
		return DIR_MOVED;
	}
	if (got < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			if (d->len)
				return DIR_MOVED;	/* the KeyUpdate */
			mover_dir_release(c->w, d);
			d->wait = EPOLLIN;
			d->wait_tls = 0;
			return DIR_BLOCKED;
		}
		snprintf(c->reason, sizeof c->reason, "reading plain side: %s",
			 strerror(errno));
		return DIR_FAILED;
	}
	/* readv fills each place before the next: records lie end to end. */
	left = got;
	for (int i = 0; i < k && left; i++) {
		size_t take = left < iov[i].iov_len ? left : iov[i].iov_len;
		n = srec_seal(r, SREC_CT_DATA, rec[i], take);
		if (n < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "sealing a TLS record: %s", gnutls_strerror(n));
			return DIR_FAILED;
		}
		d->len += n;
		left -= take;
	}
	c->t->stats->bytes_up += got;
	c->bytes_up += got;
	*moved += got;
	return DIR_MOVED;
}

static enum dir_step srec_up(struct conn *c)
{
	struct mover_dir *d = &c->up;
	size_t moved = 0, n;
	enum dir_step st;

	while (!d->shut) {
		if (d->len) {
			st = mover_dir_send(c, d, 1, &n);
			if (st != DIR_MOVED)
				return st;
			continue;
		}
		if (d->notify) {
			log_debug("tunnel %s: %s: sent close_notify",
				  c->t->cfg->name, c->peer);
			conn_tls_fin(c);
			d->shut = 1;
			d->wait = 0;
			return DIR_FINISHED;
		}
		if (mover_dir_take(c->w, d) < 0) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return DIR_FAILED;
		}
		if (d->eof) {
			int k = srec_alert(c->srec, GNUTLS_AL_WARNING,
					   GNUTLS_A_CLOSE_NOTIFY, d->buf);
			d->notify = 1;
			d->off = 0;
			d->len = k > 0 ? (size_t)k : 0;
			continue;
		}
		if (moved >= MOVER_QUANTUM) {
			mover_dir_release(c->w, d);
			return DIR_YIELD;
		}
		st = srec_up_fill(c, d, &moved);
		if (st != DIR_MOVED)
			return st;
	}
	return DIR_FINISHED;
}

/** @brief The peer asked for our KeyUpdate: it goes after what the up
 *  direction has sealed, now if it can, else as soon as it drains. */
static int srec_reply(struct conn *c)
{
	struct mover_dir *u = &c->up;
	ssize_t n;

	if (u->shut || u->notify || u->eof)
		return 0;		/* we send nothing more */
	if (!u->buf) {
		if (mover_dir_take(c->w, u) < 0) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return -1;
		}
		u->off = u->len = 0;
	}
	if (u->off + u->len + SREC_CTL_RECORD > MOVER_BUF_SIZE && u->off == 0) {
		u->ku_owed = 1;		/* no room: srec_up_fill seals it */
		return 0;
	}
	if (srec_queue_key_update(c, u) < 0)
		return -1;
	n = send(c->tls.fd, u->buf + u->off, u->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		u->off += n;
		u->len -= n;
	}
	if (u->len == 0) {
		u->off = 0;
		mover_dir_release(c->w, u);
	} else {
		/* mover_pump reads up's interest after both directions ran */
		u->wait = EPOLLOUT;
		u->wait_tls = 1;
	}
	return 0;
}

/** @brief Open the whole records in the down buffer; data is gathered
 *  at the front (its place is always behind the record it came in). */
static enum dir_step srec_down_open(struct conn *c, struct mover_dir *d)
{
	while (d->rawlen) {
		unsigned char *p = d->buf + d->raw;
		size_t used, plen;
		enum conn_rec k = conn_srec_next(c, p, d->rawlen, &used, &plen,
						 srec_reply);

		if (k == CONN_REC_MORE)
			break;
		if (k == CONN_REC_FAILED)
			return DIR_FAILED;
		d->raw += used;
		d->rawlen -= used;
		if (k == CONN_REC_END) {
			d->eof = 1;
			d->raw = d->rawlen = 0;	/* nothing counts after it */
			return DIR_MOVED;
		}
		if (k == CONN_REC_DATA) {
			memmove(d->buf + d->len, p + SREC_HDR, plen);
			d->len += plen;
		}
	}
	return DIR_MOVED;
}

/** @brief Fill the down buffer with plaintext: open what is there, read
 *  more while nothing is. Called with no plaintext pending. */
static enum dir_step srec_down_fill(struct conn *c, struct mover_dir *d)
{
	enum dir_step st;
	ssize_t n;

	d->off = 0;
	for (;;) {
		if (d->raw) {
			memmove(d->buf, d->buf + d->raw, d->rawlen);
			d->raw = 0;
		}
		st = srec_down_open(c, d);
		if (st != DIR_MOVED || d->len || d->eof)
			return st;
		n = recv(c->tls.fd, d->buf + d->raw + d->rawlen,
			 MOVER_BUF_SIZE - d->raw - d->rawlen, 0);
		if (n > 0) {
			d->rawlen += n;
			continue;
		}
		if (n == 0) {
			log_debug("tunnel %s: %s: TLS peer closed without close_notify%s",
				  c->t->cfg->name, c->peer,
				  d->rawlen ? " (in the middle of a record)" : "");
			d->eof = 1;
			d->rawlen = 0;
			return DIR_MOVED;
		}
		if (errno == EAGAIN || errno == EINTR) {
			mover_dir_release(c->w, d);
			d->wait = EPOLLIN;
			d->wait_tls = 1;
			return DIR_BLOCKED;
		}
		snprintf(c->reason, sizeof c->reason,
			 "receiving from TLS peer: %s", strerror(errno));
		return DIR_FAILED;
	}
}

static enum dir_step mover_user_step(struct conn *c, int down)
{
	if (c->srec)
		return down ? mover_down(c, srec_down_fill) : srec_up(c);
	return down ? mover_down(c, mover_down_fill) : mover_up(c);
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
