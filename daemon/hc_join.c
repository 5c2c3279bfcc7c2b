/* hc_join.c - the frame filters of a joined Hybrid Connections pair
 * (hc_join.h): no I/O, no allocation
 *
 * Unmasking in place works because the output never gets ahead of the
 * input: each header comes out 4 bytes shorter than it went in and each
 * payload byte comes out as one byte. The one exception is a header split
 * across two reads: its first part was consumed by the last call, which
 * wrote nothing for it, so completing it at the start of this buffer
 * would write up to 9 bytes more than this call has read and overwrite
 * payload not yet unmasked. Putting the saved part back in front of the
 * buffer (the caller's headroom) makes the stream whole again, so the
 * rule holds from its first byte.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "hc_join.h"

void hc_unmask_init(struct hc_unmask *u)
{
	memset(u, 0, sizeof *u);
}

int hc_unmask_boundary(const struct hc_unmask *u)
{
	return u->left == 0 && u->nhead == 0;
}

/** @brief A header is whole: check it against the message in progress
 *  (RFC 6455 §5.4). Control frames may come between fragments. */
static int hc_unmask_begin(struct hc_unmask *u, const struct ws_header *h)
{
	if (h->opcode & 0x8)
		return 0;
	if (h->opcode == WS_OP_CONT && !u->msg_open)
		return WS_E_CONT_NO_MESSAGE;
	if (h->opcode != WS_OP_CONT && u->msg_open)
		return WS_E_MESSAGE_OPEN;
	u->msg_open = !h->fin;
	return 0;
}

ssize_t hc_unmask_feed(struct hc_unmask *u, unsigned char *in, size_t len,
		       unsigned char **out, size_t *used)
{
	size_t saved = u->nhead, slen, r = 0, w = 0;
	unsigned char *s;
	int err = 0;

	*out = in;
	*used = 0;
	if (u->err)
		return u->err;
	if (len == 0)
		return 0;
	if (u->closed)
		return u->err = WS_E_AFTER_CLOSE;
	/* the output (at most saved + len bytes) is counted in an ssize_t */
	if (len > SSIZE_MAX - WS_HEADER_MAX)
		len = SSIZE_MAX - WS_HEADER_MAX;
	s = in - saved;
	memcpy(s, u->head, saved);
	u->nhead = 0;
	slen = saved + len;
	/* From here s[0 .. slen) is the stream and w <= r throughout. */
	while (r < slen && !u->closed) {
		if (u->left) {
			uint64_t n64 = u->left < slen - r ? u->left : slen - r;
			size_t n = n64;

			ws_mask(s + r, n, u->hdr.mask, u->hdr.len - u->left);
			if (w != r)
				memmove(s + w, s + r, n);
			w += n;
			r += n;
			u->left -= n;
		} else {
			struct ws_header h;
			unsigned char oh[WS_HEADER_MAX];
			int hl = ws_parse_header(s + r, slen - r, 1, &h);
			size_t ol;

			if (hl == WS_INCOMPLETE) {
				/* shorter than WS_HEADER_MAX: it fits head[] */
				u->nhead = slen - r;
				memcpy(u->head, s + r, u->nhead);
				r = slen;
				break;
			}
			u->hdr = h;
			if (hl < 0 || (err = hc_unmask_begin(u, &h)) < 0) {
				if (hl < 0)
					err = hl;
				break;
			}
			/* The same shape without the key: a parsed header is
			 * minimal, so it rebuilds to hl - 4 bytes, which may
			 * overlap the input header but not beyond it. */
			ol = ws_build_header(oh, h.opcode, h.fin, h.len, NULL);
			memcpy(s + w, oh, ol);
			w += ol;
			r += hl;
			u->left = h.len;
		}
		if (u->left == 0 && u->hdr.opcode == WS_OP_CLOSE)
			u->closed = 1;
	}
	if (err) {
		u->err = err;
		/* the frames before it go out first; the next call says it */
		if (w == 0)
			return err;
	}
	*out = s;
	*used = r - saved;
	return w;
}

void hc_frames_init(struct hc_frames *f)
{
	memset(f, 0, sizeof *f);
}

int hc_frames_feed(struct hc_frames *f, const unsigned char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len && !f->err) {
		struct ws_header h;
		size_t have = f->nhead, n;
		int hl;

		if (f->closed) {
			f->err = WS_E_AFTER_CLOSE;
			break;
		}
		if (f->left) {
			n = f->left < len - pos ? f->left : len - pos;
			f->left -= n;
			pos += n;
		} else {
			/* Headers are gathered in head[] whether split or not:
			 * they are short next to the payloads. */
			n = WS_HEADER_MAX - have < len - pos ?
				WS_HEADER_MAX - have : len - pos;
			memcpy(f->head + have, buf + pos, n);
			hl = ws_parse_header(f->head, have + n, 0, &h);
			if (hl < 0) {
				f->err = hl;
				break;
			}
			if (hl == WS_INCOMPLETE) {
				f->nhead = have + n;
				pos += n;
				continue;
			}
			f->nhead = 0;
			pos += hl - have;
			f->opcode = h.opcode;
			f->left = h.len;
		}
		if (f->left == 0 && f->opcode == WS_OP_CLOSE)
			f->closed = 1;
	}
	return f->err;
}

int hc_frames_boundary(const struct hc_frames *f)
{
	return !f->err && !f->closed && f->left == 0 && f->nhead == 0;
}
