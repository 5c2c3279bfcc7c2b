/* hc_chan.c - a Hybrid Connections control channel (hc_chan.h) */
#include "config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "conn.h"
#include "hc_chan.h"
#include "log.h"
#include "worker.h"

int hc_chan_init(struct hc_chan *ch, const char *what, int client,
		 enum mover_status (*on_message)(struct conn *, const char *,
						 size_t))
{
	memset(ch, 0, sizeof *ch);
	ch->what = what;
	ch->client = client;
	ch->on_message = on_message;
	/* Frames from a client are masked; a client gets them unmasked. */
	ws_rx_init(&ch->rx, !client);
	ch->out = malloc(HC_CHAN_OUT);
	return ch->out ? 0 : -1;
}

void hc_chan_free(struct hc_chan *ch)
{
	free(ch->out);
	ch->out = NULL;
}

int hc_chan_queue(struct hc_chan *ch, unsigned opcode, const void *data,
		  size_t len)
{
	unsigned char hdr[WS_HEADER_MAX], mask[4];
	size_t h;

	if (!ch->out)
		return -1;
	if (ch->client && gnutls_rnd(GNUTLS_RND_NONCE, mask, sizeof mask) < 0)
		return -1;
	h = ws_build_header(hdr, opcode, 1, len, ch->client ? mask : NULL);
	if (h == 0)
		return -1;
	if (ch->outoff && !ch->inflight) {
		memmove(ch->out, ch->out + ch->outoff, ch->outlen - ch->outoff);
		ch->outlen -= ch->outoff;
		ch->outoff = 0;
	}
	if (HC_CHAN_OUT - ch->outlen < h + len)
		return -1;
	memcpy(ch->out + ch->outlen, hdr, h);
	memcpy(ch->out + ch->outlen + h, data, len);
	if (ch->client)
		ws_mask(ch->out + ch->outlen + h, len, mask, 0);
	ch->outlen += h + len;
	return 0;
}

/** @brief Send what is queued; -1 with c->reason. */
static int hc_chan_flush(struct conn *c, struct hc_chan *ch)
{
	while (ch->outoff < ch->outlen) {
		size_t n = ch->inflight ? ch->inflight : ch->outlen - ch->outoff;
		ssize_t k = conn_tls_send(c, ch->out + ch->outoff, n);
		if (k < 0 && errno == EAGAIN) {
			ch->inflight = n;	/* GnuTLS: repeat it as it was */
			return 0;
		}
		if (k < 0)
			return -1;
		ch->inflight = 0;
		ch->outoff += k;
	}
	ch->outoff = ch->outlen = 0;
	return 0;
}

static enum mover_status hc_chan_want(struct conn *c, struct hc_chan *ch)
{
	if (conn_want(c, &c->tls, EPOLLIN |
		      (ch->outoff < ch->outlen ? EPOLLOUT : 0)) < 0) {
		snprintf(c->reason, sizeof c->reason, "epoll: %s", strerror(errno));
		return MOVER_ERROR;
	}
	return MOVER_CONTINUE;
}

enum mover_status hc_chan_close(struct conn *c, struct hc_chan *ch,
				uint16_t code, const char *why)
{
	unsigned char f[WS_CONTROL_FRAME_MAX], mask[4];
	size_t n;

	if (!ch->closing && ch->out && !ch->inflight) {
		gnutls_rnd(GNUTLS_RND_NONCE, mask, sizeof mask);
		n = ws_build_close(f, sizeof f, code, why,
				   ch->client ? mask : NULL);
		if (n && HC_CHAN_OUT - ch->outlen >= n) {
			memcpy(ch->out + ch->outlen, f, n);
			ch->outlen += n;
		}
	}
	ch->closing = 1;
	hc_chan_flush(c, ch);
	conn_tls_shutdown(c);
	return MOVER_DONE;
}

enum mover_status hc_chan_pending(struct conn *c, struct hc_chan *ch)
{
	enum mover_status rs = MOVER_CONTINUE;

	if (c->down.buf && c->down.len) {
		rs = hc_chan_input(c, ch, c->down.buf + c->down.off, c->down.len);
		c->down.len = 0;
	}
	if (c->down.buf) {
		worker_buf_put(c->w, c->down.buf);
		c->down.buf = NULL;
	}
	return rs;
}

enum mover_status hc_chan_input(struct conn *c, struct hc_chan *ch,
				unsigned char *buf, size_t len)
{
	struct ws_event ev;
	size_t off = 0;
	char why[160];

	while (off < len) {
		ssize_t k = ws_rx_feed(&ch->rx, buf + off, len - off, &ev);
		if (k < 0) {
			snprintf(c->reason, sizeof c->reason, "%s: %s", ch->what,
				 ws_rx_strerror(&ch->rx, (int)k, why, sizeof why));
			hc_chan_close(c, ch, ws_error_close_code((int)k),
				      "protocol error");
			return MOVER_ERROR;
		}
		off += k;
		switch (ev.type) {
		case WS_EV_DATA:
			if (ev.opcode != WS_OP_TEXT ||
			    ch->msglen + ev.len > sizeof ch->msg) {
				ch->msg_skip = 1;
			} else if (!ch->msg_skip) {
				memcpy(ch->msg + ch->msglen, ev.data, ev.len);
				ch->msglen += ev.len;
			}
			break;
		case WS_EV_PING:
			if (hc_chan_queue(ch, WS_OP_PONG, ev.data, ev.len) < 0) {
				snprintf(c->reason, sizeof c->reason,
					 "%s: the peer does not read", ch->what);
				return MOVER_ERROR;
			}
			break;
		case WS_EV_PONG:
			ch->ping_out = 0;
			break;
		case WS_EV_CLOSE:
			log_info("tunnel %s: %s: %s closed by the peer (%u)",
				 c->t->cfg->name, c->peer, ch->what, ev.code);
			return hc_chan_close(c, ch, ev.code == WS_CLOSE_NO_STATUS ?
					     0 : ev.code, NULL);
		case WS_EV_NEED_MORE:
			break;
		}
		if (ch->rx.state == WS_RX_HEADER && !ch->rx.msg_open &&
		    (ch->msglen || ch->msg_skip)) {
			enum mover_status rs = MOVER_CONTINUE;
			if (ch->msg_skip)
				log_notice("tunnel %s: %s: %s: message dropped (binary, or over %d bytes)",
					   c->t->cfg->name, c->peer, ch->what,
					   HC_CHAN_MSG_MAX);
			else
				rs = ch->on_message(c, ch->msg, ch->msglen);
			ch->msglen = 0;
			ch->msg_skip = 0;
			if (rs != MOVER_CONTINUE)
				return rs;
		}
	}
	return MOVER_CONTINUE;
}

enum mover_status hc_chan_event(struct conn *c, struct hc_chan *ch)
{
	unsigned char buf[16384];
	int rounds = 0;

	if (hc_chan_flush(c, ch) < 0)
		return MOVER_ERROR;
	while (rounds++ < 64) {
		ssize_t n = conn_tls_recv(c, buf, sizeof buf);
		enum mover_status rs;

		if (n == 0) {
			log_info("tunnel %s: %s: %s ended", c->t->cfg->name,
				 c->peer, ch->what);
			return MOVER_DONE;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return MOVER_ERROR;
		if ((rs = hc_chan_input(c, ch, buf, n)) != MOVER_CONTINUE)
			return rs;
	}
	if (hc_chan_flush(c, ch) < 0)
		return MOVER_ERROR;
	if (rounds > 64) {
		worker_queue(c->w, c);
		return MOVER_CONTINUE;
	}
	return hc_chan_want(c, ch);
}

enum mover_status hc_chan_ping(struct conn *c, struct hc_chan *ch,
			       int interval)
{
	if (ch->ping_out) {
		snprintf(c->reason, sizeof c->reason, "%s: no pong within %d s",
			 ch->what, interval);
		return MOVER_ERROR;
	}
	if (hc_chan_queue(ch, WS_OP_PING, "hc", 2) < 0) {
		snprintf(c->reason, sizeof c->reason, "%s: the peer does not read",
			 ch->what);
		return MOVER_ERROR;
	}
	ch->ping_out = 1;
	if (hc_chan_flush(c, ch) < 0)
		return MOVER_ERROR;
	return hc_chan_want(c, ch);
}
