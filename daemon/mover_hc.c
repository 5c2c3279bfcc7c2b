/* mover_hc.c - the relay's mover: one half of a joined sender/listener pair
 *
 * Each of the two connections keeps its own TLS leg (GnuTLS state cannot
 * move between workers); their plain legs are the two ends of a
 * socketpair. The relay is the WebSocket server of both peers, so:
 *  - TLS -> plain (down): the peer's masked frames go through
 *    hc_unmask, in place in the direction's buffer, and come out the
 *    same frames unmasked, control and close frames included. Once the
 *    peer's close frame is out, a FIN follows it on the socketpair; the
 *    TLS leg is then read on only for its end (close_notify, FIN), so
 *    closing it never resets a peer whose last bytes we left unread.
 *  - plain -> TLS (up): the other half's down direction wrote valid
 *    unmasked frames, which go to the peer verbatim; hc_frames follows
 *    where they end. The socketpair's end becomes close_notify and FIN.
 * A frame that breaks the protocol fails the connection, with a close
 * frame to the peer when the up direction is between frames. Each
 * direction holds at most one MOVER_BUF_SIZE buffer, given back when
 * idle, and reads only once its last bytes are written: a slow
 * destination stops reads from its source, as on the other movers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "conn.h"
#include "hc_join.h"
#include "log.h"
#include "mover.h"
#include "worker.h"
#include "ws.h"

/* Bytes one direction may move per call before it yields to the other
 * connections of the worker (as mover_user.c). */
#define HC_QUANTUM (1024 * 1024)

struct mover_hc {
	struct hc_unmask rx;	/* down: the peer's frames */
	struct hc_frames tx;	/* up: where the frames sent to the peer end */
	size_t restoff, restlen;	/* down: input behind the output that
					 * stopped it, fed once that is out */
	int tls_eof;		/* the TLS end came behind what was read */
	int tls_err;		/* a TLS error did (c->reason says it) */
	int fin_sent;		/* the close frame went out, and a FIN after it */
	unsigned char ctl[WS_CONTROL_FRAME_MAX];	/* our close frame */
};

static enum dir_step hc_block(struct mover_dir *d, uint32_t ev, int tls)
{
	d->wait = ev;
	d->wait_tls = tls;
	return DIR_BLOCKED;
}

static int hc_take(struct conn *c, struct mover_dir *d)
{
	if (!d->buf && !(d->buf = worker_buf_get(c->w))) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return -1;
	}
	return 0;
}

/** @brief Give the buffer back once it holds nothing still needed. */
static void hc_release(struct conn *c, struct mover_dir *d)
{
	if (d->buf && d->len == 0 && (d != &c->down || c->hcm->restlen == 0)) {
		worker_buf_put(c->w, d->buf);
		d->buf = NULL;
		d->off = 0;
	}
}

/** @brief The peer's frames broke the protocol: a close frame with the
 *  status for @err, if one may go now (the up direction idle between two
 *  frames, no close sent to the peer yet, the TLS leg still writable),
 *  best effort; then the connection fails. */
static enum dir_step hc_protocol_error(struct conn *c, int err)
{
	struct mover_hc *m = c->hcm;
	struct mover_dir *up = &c->up;
	uint16_t code = ws_error_close_code(err);
	int sent = 0;

	if (!up->shut && up->len == 0 && up->inflight == 0 &&
	    hc_frames_boundary(&m->tx)) {
		size_t k = ws_build_close(m->ctl, sizeof m->ctl, code,
					  ws_error_str(err), NULL);
		/* one try: the connection ends here either way */
		sent = k && conn_tls_send(c, m->ctl, k) == (ssize_t)k;
	}
	snprintf(c->reason, sizeof c->reason, "WebSocket from the peer: %s (%s close %u)",
		 ws_error_str(err), sent ? "sent" : "could not send", code);
	return DIR_FAILED;
}

/** @brief Unmask @len bytes at d->buf + @at; the output is what the
 *  direction writes next. */
static enum dir_step hc_down_feed(struct conn *c, struct mover_dir *d,
				  size_t at, size_t len)
{
	struct mover_hc *m = c->hcm;
	unsigned char *out;
	size_t used;
	ssize_t n = hc_unmask_feed(&m->rx, d->buf + at, len, &out, &used);

	if (n < 0)
		return hc_protocol_error(c, n);
	d->off = out - d->buf;
	d->len = n;
	m->restoff = at + used;
	m->restlen = len - used;
	return DIR_MOVED;
}

/** @brief Read records into the empty buffer behind the filter's
 *  headroom, as many as fit while they come (one send for many). >0, 0
 *  at the end, or -1 (errno EAGAIN, or c->reason). An end or an error
 *  behind some bytes is kept for after them. */
static ssize_t hc_read(struct conn *c, struct mover_dir *d)
{
	struct mover_hc *m = c->hcm;
	const size_t room = MOVER_BUF_SIZE - HC_UNMASK_HEADROOM;
	unsigned char *p = d->buf + HC_UNMASK_HEADROOM;
	size_t have;
	ssize_t n = conn_tls_recv(c, p, room);

	if (n <= 0)
		return n;
	for (have = n; room - have >= 16384; have += n) {
		n = conn_tls_recv(c, p + have, room - have);
		if (n == 0)
			m->tls_eof = 1;
		else if (n < 0 && errno != EAGAIN)
			m->tls_err = 1;
		if (n <= 0)
			break;
	}
	return have;
}

/** @brief TLS -> plain: the peer's frames, unmasked, to the socketpair. */
static enum dir_step hc_down(struct conn *c)
{
	struct mover_dir *d = &c->down;
	struct mover_hc *m = c->hcm;
	enum dir_step st;
	size_t moved = 0;
	ssize_t n;

	while (!d->shut) {
		if (d->len) {
			n = send(c->plain.fd, d->buf + d->off, d->len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return hc_block(d, EPOLLOUT, 0);
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
			continue;
		}
		if (m->rx.closed && !m->fin_sent) {
			/* The close frame is out: the other half's up
			 * direction sends it to its peer and then ends. */
			log_debug("tunnel %s: %s: WebSocket close from the peer passed on",
				  c->t->cfg->name, c->peer);
			shutdown(c->plain.fd, SHUT_WR);
			m->fin_sent = 1;
		}
		if (m->restlen) {
			/* after the close frame, or at a bad one: an error */
			st = hc_down_feed(c, d, m->restoff, m->restlen);
			if (st != DIR_MOVED)
				return st;
			continue;
		}
		hc_release(c, d);
		if (d->eof) {
			if (!m->fin_sent) {
				/* A cut stream still ends as a FIN, so the other
				 * peer hears of it; its reason is kept. */
				snprintf(c->reason, sizeof c->reason,
					 "the peer closed without a close frame%s",
					 hc_unmask_boundary(&m->rx) ? "" :
					 " (inside a frame)");
				log_debug("tunnel %s: %s: %s", c->t->cfg->name,
					  c->peer, c->reason);
				shutdown(c->plain.fd, SHUT_WR);
				m->fin_sent = 1;
			}
			d->shut = 1;
			d->wait = 0;
			return DIR_FINISHED;
		}
		if (m->tls_err)
			return DIR_FAILED;
		if (m->tls_eof) {
			d->eof = 1;
			continue;
		}
		if (moved >= HC_QUANTUM)
			return DIR_YIELD;
		if (hc_take(c, d) < 0)
			return DIR_FAILED;
		n = hc_read(c, d);
		if (n > 0) {
			st = hc_down_feed(c, d, HC_UNMASK_HEADROOM, n);
			if (st != DIR_MOVED)
				return st;
			continue;
		}
		hc_release(c, d);
		if (n == 0)
			d->eof = 1;
		else if (errno == EAGAIN)
			return hc_block(d, EPOLLIN, 1);
		else
			return DIR_FAILED;
	}
	return DIR_FINISHED;
}

/** @brief plain -> TLS: the other half's frames to the peer, verbatim. */
static enum dir_step hc_up(struct conn *c)
{
	struct mover_dir *d = &c->up;
	struct mover_hc *m = c->hcm;
	size_t moved = 0;
	ssize_t n;

	while (!d->shut) {
		if (d->len) {
			size_t want = d->inflight ? d->inflight : d->len;

			if (!d->corked && d->len > 16384)
				mover_cork(c, d, 1);
			n = conn_tls_send(c, d->buf + d->off, want);
			if (n < 0 && errno == EAGAIN) {
				/* GnuTLS wants the same send again */
				mover_cork(c, d, 0);
				d->inflight = want;
				return hc_block(d, EPOLLOUT, 1);
			}
			d->inflight = 0;
			if (n < 0)
				return DIR_FAILED;
			hc_frames_feed(&m->tx, d->buf + d->off, n);
			d->off += n;
			d->len -= n;
			c->t->stats->bytes_up += n;
			c->bytes_up += n;
			moved += n;
			if (d->len == 0) {
				mover_cork(c, d, 0);
				hc_release(c, d);
			}
			continue;
		}
		if (d->eof) {
			if (!m->tx.closed)
				log_debug("tunnel %s: %s: the other side ended without a WebSocket close",
					  c->t->cfg->name, c->peer);
			conn_tls_shutdown(c);
			d->shut = 1;
			d->wait = 0;
			return DIR_FINISHED;
		}
		if (moved >= HC_QUANTUM)
			return DIR_YIELD;
		if (hc_take(c, d) < 0)
			return DIR_FAILED;
		n = recv(c->plain.fd, d->buf, MOVER_BUF_SIZE, 0);
		if (n > 0) {
			d->off = 0;
			d->len = n;
			continue;
		}
		hc_release(c, d);
		if (n == 0) {
			d->eof = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			return hc_block(d, EPOLLIN, 0);
		} else {
			snprintf(c->reason, sizeof c->reason,
				 "reading plain side: %s", strerror(errno));
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

static enum dir_step hc_step(struct conn *c, int down)
{
	return down ? hc_down(c) : hc_up(c);
}

static enum mover_status hc_start(struct conn *c)
{
	if (!(c->hcm = calloc(1, sizeof *c->hcm))) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return MOVER_ERROR;
	}
	hc_unmask_init(&c->hcm->rx);
	hc_frames_init(&c->hcm->tx);
	if (c->ktls) {
		c->t->stats->relayed_ktls++;
	} else {
		c->t->stats->relayed_user++;
		c->t->stats->user_why[c->user_why]++;
	}
	return mover_pump(c, hc_step);
}

static enum mover_status hc_event(struct conn *c, struct conn_fd *f,
				  uint32_t events)
{
	return mover_pump(c, hc_step);
}

static void hc_close(struct conn *c)
{
	if (c->up.buf)
		worker_buf_put(c->w, c->up.buf);
	if (c->down.buf)
		worker_buf_put(c->w, c->down.buf);
	c->up.buf = c->down.buf = NULL;
	free(c->hcm);
	c->hcm = NULL;
}

const struct mover_ops mover_hc_ops = {
	.name = "hybrid-connections",
	.start = hc_start,
	.on_event = hc_event,
	.close = hc_close,
};
