/* mover_ws.c - the WebSocket mover: the TLS leg carries RFC 6455 frames
 *
 * Framing belongs to the direction:
 *  - TLS -> plain (frames in): the frames are read into the direction's
 *    buffer (GnuTLS, or recv() on a kTLS socket), parsed by ws_rx and
 *    their payload unmasked in place and written to the plain leg;
 *    binary messages are the stream, text messages carry no data (the
 *    original protocol), pings are answered, a close frame becomes a FIN
 *    (and the TLS side is read on to its end).
 *  - plain -> TLS (frames out): each read becomes one binary frame. On
 *    the userspace path the header goes in the buffer right before the
 *    payload and both leave as one send. On the kernel path the payload
 *    is spliced plain -> pipe -> TLS and never enters user space: its
 *    header is sent first with MSG_MORE, so it shares the TLS record.
 *    The local side's FIN becomes a close frame (1000), then close_notify
 *    and a FIN, while the other direction keeps flowing.
 * Control frames we send (pong, ping, close) wait for a frame boundary
 * of the outgoing direction. Each direction holds at most one buffer
 * (or pipe), so memory per connection is bounded and a slow destination
 * stops reads from its source, as on the raw path.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "ktls.h"
#include "log.h"
#include "mover.h"
#include "worker.h"
#include "ws.h"

#define WS_QUANTUM (1024 * 1024)
#define WS_IOV 16		/* payload slices gathered for one writev */
#define WS_SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

struct mover_ws {
	struct ws_rx rx;		/* frames in */
	struct iovec iov[WS_IOV];	/* in: unmasked payload slices of buf,
					 * written to the plain side at once */
	int niov, iovi;			/* slices, and the first not written */
	int fin_pending;		/* a FIN to send once the slices are out */
	int tls_eof;			/* the TLS side ended behind what was read */
	unsigned char ctl[3 * WS_CONTROL_FRAME_MAX];	/* control frames out */
	size_t ctllen, ctloff;
	size_t ctlinflight;		/* GnuTLS: a send to repeat as it was */
	unsigned char hdr[WS_HEADER_MAX];	/* kernel path: the header of the
						 * frame whose payload is piped */
	size_t hdrlen, hdroff;
	uint64_t frame_payload;		/* userspace out: of the frame in flight */
	int ping_out;			/* our ping waits for its pong */
	int close_sent;
	int close_rcvd;			/* the peer's close frame came */
	char text[200];			/* client: the server's status message */
	size_t textlen;
	int client;			/* we mask what we send */
	int splice_up;			/* kernel path, unmasked out: splice */
	int splice_down;		/* kernel path, unmasked in: splice */
};

/** @brief Is the outgoing direction between frames, where a control
 *  frame may go? */
static int ws_boundary(const struct conn *c)
{
	const struct mover_ws *ws = c->wsr;

	return ws->splice_up ? ws->hdrlen == 0 && c->up.inpipe == 0 :
		c->up.len == 0;
}

/** @brief Queue a control frame for the outgoing direction. */
static int ws_queue(struct conn *c, unsigned opcode, const void *p, size_t n)
{
	struct mover_ws *ws = c->wsr;
	unsigned char key[4];
	size_t k;

	if (ws->client && gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof key) < 0)
		return -1;
	k = ws_build_frame(ws->ctl + ws->ctllen, sizeof ws->ctl - ws->ctllen,
			   opcode, p, n, ws->client ? key : NULL);

	if (k == 0)
		return -1;	/* full: a ping flood gets fewer pongs */
	ws->ctllen += k;
	return 0;
}

/** @brief Queue our close frame (masked by a client, like every frame it
 *  sends); after it nothing more is sent. */
static int ws_queue_close(struct conn *c, uint16_t code, const char *reason)
{
	struct mover_ws *ws = c->wsr;
	unsigned char key[4];
	size_t k;

	ws->close_sent = 1;
	if (ws->client && gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof key) < 0)
		return -1;
	k = ws_build_close(ws->ctl + ws->ctllen, sizeof ws->ctl - ws->ctllen,
			   code, reason, ws->client ? key : NULL);
	if (k == 0)
		return -1;
	ws->ctllen += k;
	return 0;
}

/** @brief Send queued control frames, at a frame boundary only. 0: all
 *  sent (or not at a boundary), 1: blocked, -1: failed. */
static int ws_flush_ctl(struct conn *c)
{
	struct mover_ws *ws = c->wsr;

	while (ws->ctloff < ws->ctllen && ws_boundary(c)) {
		size_t want = ws->ctlinflight ? ws->ctlinflight :
			ws->ctllen - ws->ctloff;
		ssize_t n = conn_tls_send(c, ws->ctl + ws->ctloff, want);
		if (n < 0 && errno == EAGAIN) {
			ws->ctlinflight = want;
			return 1;
		}
		ws->ctlinflight = 0;
		if (n < 0)
			return -1;
		ws->ctloff += n;
	}
	if (ws->ctloff == ws->ctllen)
		ws->ctloff = ws->ctllen = 0;
	return 0;
}

static enum dir_step ws_block(struct mover_dir *d, uint32_t ev, int tls)
{
	d->wait = ev;
	d->wait_tls = tls;
	return DIR_BLOCKED;
}

/** @brief Splice what the direction's pipe holds to the TLS leg (@tls)
 *  or the plain one, counting it. DIR_MOVED once some went out. */
static enum dir_step ws_pipe_out(struct conn *c, struct mover_dir *d, int tls,
				 size_t *moved)
{
	ssize_t n = splice(d->pipe[0], NULL, tls ? c->tls.fd : c->plain.fd,
			   NULL, d->inpipe, WS_SPLICE_FLAGS);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return ws_block(d, EPOLLOUT, tls);
	if (n <= 0) {
		snprintf(c->reason, sizeof c->reason, "writing %s side: %s",
			 tls ? "TLS" : "plain",
			 n == 0 ? "no progress" : strerror(errno));
		return DIR_FAILED;
	}
	d->inpipe -= n;
	*(tls ? &c->bytes_up : &c->bytes_down) += n;
	*(tls ? &c->t->stats->bytes_up : &c->t->stats->bytes_down) += n;
	*moved += n;
	return DIR_MOVED;
}

/** @brief The local side ended: close frame 1000, close_notify, FIN. */
static enum dir_step ws_up_finish(struct conn *c, struct mover_dir *d)
{
	int rc;

	if (!c->wsr->close_sent)
		ws_queue_close(c, WS_CLOSE_NORMAL, NULL);
	rc = ws_flush_ctl(c);
	if (rc > 0)
		return ws_block(d, EPOLLOUT, 1);
	conn_tls_shutdown(c);
	d->shut = 1;
	d->wait = 0;
	return DIR_FINISHED;
}

/** @brief plain -> TLS on the userspace path: read, frame, send. */
static enum dir_step ws_up_user(struct conn *c)
{
	struct mover_dir *d = &c->up;
	struct mover_ws *ws = c->wsr;
	unsigned char h[WS_HEADER_MAX];
	size_t moved = 0, hl;
	ssize_t n;
	int rc;

	while (!d->shut) {
		if ((rc = ws_flush_ctl(c)) != 0) {
			if (rc > 0)
				return ws_block(d, EPOLLOUT, 1);
			return DIR_FAILED;
		}
		if (d->len) {
			size_t want = d->inflight ? d->inflight : d->len;
			if (!d->corked && d->len > 16384)
				mover_cork(c, d, 1);
			n = conn_tls_send(c, d->buf + d->off, want);
			if (n < 0 && errno == EAGAIN) {
				mover_cork(c, d, 0);
				d->inflight = want;
				return ws_block(d, EPOLLOUT, 1);
			}
			d->inflight = 0;
			if (n < 0)
				return DIR_FAILED;
			d->off += n;
			d->len -= n;
			if (d->len == 0) {
				mover_cork(c, d, 0);
				c->bytes_up += ws->frame_payload;
				c->t->stats->bytes_up += ws->frame_payload;
				moved += ws->frame_payload;
				d->off = 0;
				worker_buf_put(c->w, d->buf);
				d->buf = NULL;
			}
			continue;
		}
		if (d->eof)
			return ws_up_finish(c, d);
		if (moved >= WS_QUANTUM)
			return DIR_YIELD;
		if (!d->buf && !(d->buf = worker_buf_get(c->w))) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return DIR_FAILED;
		}
		n = recv(c->plain.fd, d->buf + WS_HEADER_MAX,
			 MOVER_BUF_SIZE - WS_HEADER_MAX, 0);
		if (n > 0) {
			unsigned char key[4];
			if (ws->client) {
				/* Fresh keys, from GnuTLS's nonce generator. */
				if (gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof key) < 0) {
					snprintf(c->reason, sizeof c->reason,
						 "no random numbers for a mask");
					return DIR_FAILED;
				}
				ws_mask(d->buf + WS_HEADER_MAX, n, key, 0);
			}
			hl = ws_build_header(h, WS_OP_BINARY, 1, n,
					     ws->client ? key : NULL);
			d->off = WS_HEADER_MAX - hl;
			memcpy(d->buf + d->off, h, hl);
			d->len = hl + n;
			ws->frame_payload = n;
			continue;
		}
		worker_buf_put(c->w, d->buf);
		d->buf = NULL;
		if (n == 0) {
			d->eof = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			return ws_block(d, EPOLLIN, 0);
		} else {
			snprintf(c->reason, sizeof c->reason,
				 "reading plain side: %s", strerror(errno));
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

/** @brief plain -> TLS on the kernel path: the payload goes plain ->
 *  pipe -> kTLS socket, behind its header sent with MSG_MORE. */
static enum dir_step ws_up_splice(struct conn *c)
{
	struct mover_dir *d = &c->up;
	struct mover_ws *ws = c->wsr;
	size_t moved = 0;
	ssize_t n;
	int rc;

	while (!d->shut) {
		if ((rc = ws_flush_ctl(c)) != 0) {
			if (rc > 0)
				return ws_block(d, EPOLLOUT, 1);
			return DIR_FAILED;
		}
		if (ws->hdroff < ws->hdrlen) {
			n = send(c->tls.fd, ws->hdr + ws->hdroff,
				 ws->hdrlen - ws->hdroff, MSG_MORE | MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return ws_block(d, EPOLLOUT, 1);
			if (n < 0) {
				snprintf(c->reason, sizeof c->reason,
					 "writing TLS side: %s", strerror(errno));
				return DIR_FAILED;
			}
			ws->hdroff += n;
			continue;
		}
		if (d->inpipe) {
			enum dir_step st = ws_pipe_out(c, d, 1, &moved);
			if (st != DIR_MOVED)
				return st;
			if (d->inpipe == 0)
				ws->hdrlen = ws->hdroff = 0;
			continue;
		}
		if (d->eof)
			return ws_up_finish(c, d);
		if (moved >= WS_QUANTUM)
			return DIR_YIELD;
		if (d->pipe[0] < 0 && worker_pipe_get(c->w, d->pipe) < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "no pipe for splice: %s", strerror(errno));
			return DIR_FAILED;
		}
		n = splice(c->plain.fd, NULL, d->pipe[1], NULL, MOVER_BUF_SIZE,
			   WS_SPLICE_FLAGS);
		if (n > 0) {
			d->inpipe = n;
			ws->hdrlen = ws_build_header(ws->hdr, WS_OP_BINARY, 1, n,
						     NULL);
			ws->hdroff = 0;
		} else if (n == 0) {
			d->eof = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			worker_pipe_put(c->w, d->pipe, 1);
			return ws_block(d, EPOLLIN, 0);
		} else {
			snprintf(c->reason, sizeof c->reason,
				 "reading plain side: %s", strerror(errno));
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

/** @brief Is the rest of the current frame binary payload the kernel
 *  can splice? (Text is read: it is the server's status, for the log.) */
static int ws_splice_ready(const struct mover_ws *ws)
{
	return ws_rx_payload_left(&ws->rx) && ws->rx.msg_opcode == WS_OP_BINARY;
}

/** @brief Under kTLS, the unmasked payload of a frame from the server
 *  goes TLS -> pipe -> plain, never through user space. Returns
 *  DIR_MOVED to go on with the frames, or where it stopped. */
static enum dir_step ws_down_splice(struct conn *c, struct mover_dir *d,
				    size_t *moved)
{
	struct mover_ws *ws = c->wsr;
	uint64_t left;
	ssize_t n;

	for (;;) {
		if (d->inpipe) {
			enum dir_step st = ws_pipe_out(c, d, 0, moved);
			if (st != DIR_MOVED)
				return st;
			continue;
		}
		if (!ws_splice_ready(ws))
			return DIR_MOVED;
		left = ws_rx_payload_left(&ws->rx);
		if (*moved >= WS_QUANTUM)
			return DIR_YIELD;
		if (d->pipe[0] < 0 && worker_pipe_get(c->w, d->pipe) < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "no pipe for splice: %s", strerror(errno));
			return DIR_FAILED;
		}
		n = splice(c->tls.fd, NULL, d->pipe[1], NULL,
			   left < MOVER_BUF_SIZE ? left : MOVER_BUF_SIZE,
			   WS_SPLICE_FLAGS);
		if (n > 0) {
			ws_rx_skip(&ws->rx, n);
			d->inpipe = n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return ws_block(d, EPOLLIN, 1);
		/* EOF, or a control record (EINVAL/EIO): the frame reader
		 * sees it through recv() and says what it means. */
		return DIR_MOVED;
	}
}

/** @brief A frame broke the protocol: say so with a close frame (best
 *  effort, when the outgoing direction is between frames) and fail. */
static enum dir_step ws_protocol_error(struct conn *c, ssize_t err)
{
	struct mover_ws *ws = c->wsr;
	char why[160];
	uint16_t code = ws_error_close_code(err);

	ws_rx_strerror(&ws->rx, err, why, sizeof why);
	snprintf(c->reason, sizeof c->reason, "WebSocket: %s (sent close %u)",
		 why, code);
	if (ws_boundary(c) && ws->ctllen == 0 && !ws->close_sent &&
	    ws_queue_close(c, code, ws_error_str(err)) == 0)
		ws_flush_ctl(c);
	return DIR_FAILED;
}

/** @brief A text message from the server is its status ("ready", or an
 *  "error" with the reason): gathered (its start, for a log line) and
 *  logged once whole. */
static void ws_log_text(struct conn *c, const unsigned char *p, size_t n)
{
	struct mover_ws *ws = c->wsr;

	for (size_t i = 0; i < n && ws->textlen + 1 < sizeof ws->text; i++)
		ws->text[ws->textlen++] = p[i] < 0x20 || p[i] > 0x7e ? '?' : (char)p[i];
	if (ws->rx.state != WS_RX_HEADER || ws->rx.msg_open)
		return;
	ws->text[ws->textlen] = '\0';
	log_msg(strstr(ws->text, "\"error\"") ? LOG_WARNING : LOG_INFO,
		"tunnel %s: %s: the server says %s", c->t->cfg->name, c->peer,
		ws->text);
	ws->textlen = 0;
}

/** @brief One event of the frames in; 0 to go on, or a step result. */
static int ws_down_event(struct conn *c, struct mover_dir *d, ssize_t used,
			 const struct ws_event *ev, enum dir_step *st)
{
	struct mover_ws *ws = c->wsr;

	switch (ev->type) {
	case WS_EV_DATA:
		if (ev->opcode == WS_OP_BINARY) {
			ws->iov[ws->niov].iov_base = ev->data;
			ws->iov[ws->niov].iov_len = ev->len;
			ws->niov++;
		} else if (ws->client) {
			/* Text messages carry no data in this protocol. */
			ws_log_text(c, ev->data, ev->len);
		}
		break;
	case WS_EV_PING:
		if (!ws->close_sent)
			ws_queue(c, WS_OP_PONG, ev->data, ev->len);
		if (ws_flush_ctl(c) < 0) {
			*st = DIR_FAILED;
			return 1;
		}
		break;
	case WS_EV_PONG:
		ws->ping_out = 0;	/* ours, or unsolicited: either way */
		break;
	case WS_EV_CLOSE:
		log_debug("tunnel %s: %s: WebSocket close %u from the peer",
			  c->t->cfg->name, c->peer, ev->code);
		/* The end of this direction: a FIN to the plain side once
		 * the payload before it is out. The TLS side is read on to
		 * its end (close_notify, FIN), so closing it never resets a
		 * peer that has unread data. */
		ws->close_rcvd = 1;
		ws->fin_pending = 1;
		break;
	case WS_EV_NEED_MORE:
		break;
	}
	d->off += used;
	d->len -= used;
	return 0;
}

/** @brief Write the gathered payload slices to the plain side. DIR_MOVED
 *  once they are all out. */
static enum dir_step ws_write_slices(struct conn *c, struct mover_dir *d,
				     size_t *moved)
{
	struct mover_ws *ws = c->wsr;
	ssize_t n;

	while (ws->iovi < ws->niov) {
		n = writev(c->plain.fd, ws->iov + ws->iovi, ws->niov - ws->iovi);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return ws_block(d, EPOLLOUT, 0);
		if (n < 0) {
			snprintf(c->reason, sizeof c->reason,
				 "writing plain side: %s", strerror(errno));
			return DIR_FAILED;
		}
		c->bytes_down += n;
		c->t->stats->bytes_down += n;
		*moved += n;
		while (n > 0) {
			struct iovec *v = &ws->iov[ws->iovi];
			size_t k = (size_t)n < v->iov_len ? (size_t)n : v->iov_len;
			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= k;
			n -= k;
			if (v->iov_len == 0)
				ws->iovi++;
		}
	}
	ws->niov = ws->iovi = 0;
	if (ws->fin_pending) {
		shutdown(c->plain.fd, SHUT_WR);
		ws->fin_pending = 0;
	}
	return DIR_MOVED;
}

/** @brief Read frames into the direction's empty buffer: on the
 *  userspace path as many records as fit (one send for many), when
 *  splicing no further than the next header. >0, 0 at the end, or -1
 *  (errno EAGAIN, or c->reason). */
static ssize_t ws_read_frames(struct conn *c, struct mover_dir *d)
{
	struct mover_ws *ws = c->wsr;
	ssize_t n;

	if (ws->tls_eof)
		return 0;
	d->off = 0;
	n = conn_tls_recv(c, d->buf, ws->splice_down ? WS_HEADER_MAX :
			  MOVER_BUF_SIZE);
	if (n <= 0 || ws->splice_down)
		return n;
	d->len = n;
	while (MOVER_BUF_SIZE - d->len >= 16384) {
		n = conn_tls_recv(c, d->buf + d->len, MOVER_BUF_SIZE - d->len);
		if (n == 0)
			ws->tls_eof = 1;
		if (n <= 0)
			break;
		d->len += n;
	}
	return d->len;
}

/** @brief TLS -> plain: frames in, payload out. */
static enum dir_step ws_down(struct conn *c)
{
	struct mover_dir *d = &c->down;
	struct mover_ws *ws = c->wsr;
	struct ws_event ev;
	enum dir_step st = DIR_MOVED;
	size_t moved = 0;
	ssize_t n;

	while (!d->shut) {
		if ((ws->niov || ws->fin_pending) &&
		    (d->len == 0 || ws->niov == WS_IOV || ws->close_rcvd)) {
			if ((st = ws_write_slices(c, d, &moved)) != DIR_MOVED)
				return st;
			continue;
		}
		if (ws->splice_down && d->len == 0 && !d->eof && !ws->close_rcvd &&
		    (d->inpipe || ws_splice_ready(ws))) {
			/* DIR_MOVED: the frame's payload is through, or a
			 * control record or the end stopped splice: the frame
			 * reader below takes over. */
			st = ws_down_splice(c, d, &moved);
			if (st != DIR_MOVED)
				return st;
		}
		if (d->len && ws->close_rcvd) {
			d->off += d->len;	/* after the close frame: dropped */
			d->len = 0;
			continue;
		}
		if (d->len && !d->eof) {
			n = ws_rx_feed(&ws->rx, d->buf + d->off, d->len, &ev);
			if (n < 0)
				return ws_protocol_error(c, n);
			if (ws_down_event(c, d, n, &ev, &st))
				return st;
			continue;
		}
		if (d->eof) {
			if (!ws->close_rcvd)
				shutdown(c->plain.fd, SHUT_WR);
			d->shut = 1;
			d->wait = 0;
			return DIR_FINISHED;
		}
		if (moved >= WS_QUANTUM)
			return DIR_YIELD;
		if (!d->buf && !(d->buf = worker_buf_get(c->w))) {
			snprintf(c->reason, sizeof c->reason, "out of memory");
			return DIR_FAILED;
		}
		n = ws_read_frames(c, d);
		if (n > 0) {
			d->len = n;
			continue;
		}
		worker_buf_put(c->w, d->buf);
		d->buf = NULL;
		if (n == 0) {
			/* A TLS end without a close frame (1006): still the
			 * end of the stream, passed on as a FIN. */
			if (!ws->close_rcvd)
				log_debug("tunnel %s: %s: TLS peer ended without a WebSocket close",
					  c->t->cfg->name, c->peer);
			d->eof = 1;
		} else if (errno == EAGAIN) {
			return ws_block(d, EPOLLIN, 1);
		} else {
			return DIR_FAILED;
		}
	}
	return DIR_FINISHED;
}

static enum dir_step ws_step(struct conn *c, int down)
{
	if (down)
		return ws_down(c);
	return c->wsr->splice_up ? ws_up_splice(c) : ws_up_user(c);
}

/** @brief Next ping due, or none with ws_ping_interval = 0. */
static void ws_arm_ping(struct conn *c)
{
	int s = c->t->cfg->ws_ping_interval;

	if (s > 0)
		timer_arm(&c->w->timers, &c->timer, timer_now_ms() + 1000ULL * s);
}

static enum mover_status ws_start(struct conn *c)
{
	if (!(c->wsr = calloc(1, sizeof *c->wsr))) {
		snprintf(c->reason, sizeof c->reason, "out of memory");
		return MOVER_ERROR;
	}
	/* A server takes masked frames from its client, a client unmasked
	 * ones from its server. */
	ws_rx_init(&c->wsr->rx, c->t->cfg->role == CFG_ROLE_SERVER);
	c->wsr->client = c->t->cfg->role == CFG_ROLE_CLIENT;
	c->wsr->splice_up = c->ktls && !c->wsr->client;
	c->wsr->splice_down = c->ktls && c->wsr->client;
	if (c->ktls)
		c->t->stats->relayed_ktls++;
	else {
		c->t->stats->relayed_user++;
		c->t->stats->user_why[c->user_why]++;
	}
	ws_arm_ping(c);
	return mover_pump(c, ws_step);
}

static enum mover_status ws_event(struct conn *c, struct conn_fd *f,
				  uint32_t events)
{
	return mover_pump(c, ws_step);
}

static void ws_close(struct conn *c)
{
	mover_user_ops.close(c);	/* the buffers */
	worker_pipe_put(c->w, c->up.pipe, c->up.inpipe == 0);
	worker_pipe_put(c->w, c->down.pipe, c->down.inpipe == 0);
	free(c->wsr);
	c->wsr = NULL;
}

enum mover_status mover_ws_tick(struct conn *c)
{
	struct mover_ws *ws = c->wsr;

	if (!ws || c->up.shut)
		return MOVER_CONTINUE;
	if (ws->ping_out) {
		snprintf(c->reason, sizeof c->reason,
			 "WebSocket: no pong within %d s", c->t->cfg->ws_ping_interval);
		return MOVER_ERROR;
	}
	if (ws_queue(c, WS_OP_PING, "ssltunnel", 9) == 0)
		ws->ping_out = 1;
	ws_arm_ping(c);
	return mover_pump(c, ws_step);
}

const struct mover_ops mover_ws_ops = {
	.name = "websocket",
	.start = ws_start,
	.on_event = ws_event,
	.close = ws_close,
};
