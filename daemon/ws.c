/* ws.c - the WebSocket frame codec (RFC 6455 §5): no I/O, no allocation
 *
 * Every check a header gets runs in the order its bytes arrive, so the
 * verdict on a header never depends on how the bytes were split up.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ws.h"

#define WS_REASON_MAX (WS_CONTROL_MAX - 2)

static const struct {
	uint16_t close_code;
	const char *text;
} ws_errors[] = {
	[-WS_E_RSV] = { WS_CLOSE_PROTOCOL, "reserved bits set" },
	[-WS_E_OPCODE] = { WS_CLOSE_PROTOCOL, "reserved opcode" },
	[-WS_E_CTRL_FRAGMENTED] =
		{ WS_CLOSE_PROTOCOL, "fragmented control frame" },
	[-WS_E_CTRL_TOO_LONG] =
		{ WS_CLOSE_PROTOCOL, "control frame over 125 bytes" },
	[-WS_E_LEN_MSB] =
		{ WS_CLOSE_PROTOCOL, "64-bit length with the top bit set" },
	[-WS_E_LEN_NOT_MINIMAL] =
		{ WS_CLOSE_PROTOCOL, "length not minimally encoded" },
	[-WS_E_UNMASKED] = { WS_CLOSE_PROTOCOL, "unmasked frame from client" },
	[-WS_E_MASKED] = { WS_CLOSE_PROTOCOL, "masked frame from server" },
	[-WS_E_CONT_NO_MESSAGE] =
		{ WS_CLOSE_PROTOCOL, "continuation without a message" },
	[-WS_E_MESSAGE_OPEN] =
		{ WS_CLOSE_PROTOCOL, "new message inside a fragmented one" },
	[-WS_E_CLOSE_1BYTE] =
		{ WS_CLOSE_PROTOCOL, "close frame with a 1-byte body" },
	[-WS_E_CLOSE_CODE] =
		{ WS_CLOSE_PROTOCOL, "close code not allowed on the wire" },
	[-WS_E_CLOSE_UTF8] =
		{ WS_CLOSE_INVALID_DATA, "close reason is not UTF-8" },
	[-WS_E_AFTER_CLOSE] = { WS_CLOSE_PROTOCOL, "data after close frame" },
};

/** @brief Is @err one of ours (and so an index into ws_errors)? */
static int ws_error_known(int err)
{
	return err < 0 && (size_t)-err < sizeof ws_errors / sizeof ws_errors[0];
}

uint16_t ws_error_close_code(int err)
{
	return ws_error_known(err) ? ws_errors[-err].close_code :
		WS_CLOSE_INTERNAL;
}

const char *ws_error_str(int err)
{
	return ws_error_known(err) ? ws_errors[-err].text :
		"unknown WebSocket error";
}

/** @brief Control frames (close, ping, pong) have the opcode's top bit. */
static int ws_is_control(unsigned opcode)
{
	return opcode & 0x8;
}

/** @brief Opcodes RFC 6455 defines; the others are reserved. */
static int ws_opcode_known(unsigned opcode)
{
	return opcode <= WS_OP_BINARY ||
		(opcode >= WS_OP_CLOSE && opcode <= WS_OP_PONG);
}

/** @brief May @code appear in a close frame (RFC 6455 §7.4)? 1005, 1006
 *  and 1015 stand for local conditions, 1004 and 1016-2999 are reserved
 *  and nothing is defined below 1000 or above 4999. */
static int ws_close_code_valid(unsigned code)
{
	if (code < 1000 || code >= 5000)
		return 0;
	if (code == 1004 || code == 1005 || code == 1006 || code == 1015)
		return 0;
	return code < 1016 || code >= 3000;
}

/** @brief Well-formed UTF-8: no overlong forms, surrogates or code
 *  points beyond U+10FFFF (RFC 3629), as a close reason must be. */
static int ws_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], more;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < more)
			return 0;
		for (unsigned k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += 1 + more;
	}
	return 1;
}

/** @brief The length field after the first two bytes: @buf[0] is the
 *  first byte of it; checks sign bit and minimal form. */
static int ws_parse_len(const unsigned char *buf, unsigned len7,
			struct ws_header *h)
{
	unsigned n = len7 == 126 ? 2 : 8;

	h->len = 0;
	for (unsigned i = 0; i < n; i++)
		h->len = h->len << 8 | buf[i];
	if (h->len >> 63)
		return WS_E_LEN_MSB;
	if (h->len < (len7 == 126 ? 126 : 65536))
		return WS_E_LEN_NOT_MINIMAL;
	return 0;
}

int ws_parse_header(const unsigned char *buf, size_t len, int want_masked,
		    struct ws_header *h)
{
	unsigned len7;
	size_t need = 2;
	int rc;

	if (len < 1)
		return WS_INCOMPLETE;
	h->fin = buf[0] >> 7;
	h->rsv = (buf[0] >> 4) & 7;
	h->opcode = buf[0] & 0xf;
	if (h->rsv)
		return WS_E_RSV;
	if (!ws_opcode_known(h->opcode))
		return WS_E_OPCODE;
	if (ws_is_control(h->opcode) && !h->fin)
		return WS_E_CTRL_FRAGMENTED;
	if (len < 2)
		return WS_INCOMPLETE;
	h->masked = buf[1] >> 7;
	if (want_masked >= 0 && h->masked != !!want_masked)
		return h->masked ? WS_E_MASKED : WS_E_UNMASKED;
	len7 = buf[1] & 0x7f;
	h->len = len7;
	/* 126 and 127 announce a longer length: too long for a control
	 * frame whatever follows, so no need to wait for it. The length
	 * it gives, when here, is for the message; else the least. */
	if (ws_is_control(h->opcode) && len7 > WS_CONTROL_MAX) {
		unsigned n = len7 == 126 ? 2 : 8;

		h->len = len7 == 126 ? 126 : 65536;
		if (len >= 2 + n) {
			h->len = 0;
			for (unsigned i = 0; i < n; i++)
				h->len = h->len << 8 | buf[2 + i];
		}
		return WS_E_CTRL_TOO_LONG;
	}
	if (len7 >= 126) {
		need += len7 == 126 ? 2 : 8;
		if (len < need)
			return WS_INCOMPLETE;
		if ((rc = ws_parse_len(buf + 2, len7, h)) < 0)
			return rc;
	}
	if (h->masked) {
		if (len < need + 4)
			return WS_INCOMPLETE;
		memcpy(h->mask, buf + need, 4);
		need += 4;
	}
	return need;
}

size_t ws_build_header(unsigned char out[WS_HEADER_MAX], unsigned opcode,
		       int fin, uint64_t len, const unsigned char *mask)
{
	size_t n = 2;

	if (!ws_opcode_known(opcode) || len >> 63)
		return 0;
	if (ws_is_control(opcode) && (!fin || len > WS_CONTROL_MAX))
		return 0;
	out[0] = (fin ? 0x80 : 0) | opcode;
	out[1] = mask ? 0x80 : 0;
	if (len < 126) {
		out[1] |= len;
	} else if (len < 65536) {
		out[1] |= 126;
		out[2] = len >> 8;
		out[3] = len;
		n = 4;
	} else {
		out[1] |= 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = len >> (56 - 8 * i);
		n = 10;
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(unsigned char *data, size_t len, const unsigned char mask[4],
	     uint64_t offset)
{
	unsigned char key[8];
	uint64_t k, w[4];
	size_t i = 0;

	/* Byte by byte up to an 8-byte boundary, then the key repeated to
	 * a word in the order it meets the bytes from there. */
	for (; i < len && ((uintptr_t)(data + i) & 7); i++)
		data[i] ^= mask[(offset + i) & 3];
	for (int j = 0; j < 8; j++)
		key[j] = mask[(offset + i + j) & 3];
	memcpy(&k, key, 8);
	/* Four words a round, which gcc -O2 makes vector code of. */
	for (; len - i >= sizeof w; i += sizeof w) {
		memcpy(w, data + i, sizeof w);
		w[0] ^= k;
		w[1] ^= k;
		w[2] ^= k;
		w[3] ^= k;
		memcpy(data + i, w, sizeof w);
	}
	for (; len - i >= 8; i += 8) {
		memcpy(w, data + i, 8);
		w[0] ^= k;
		memcpy(data + i, w, 8);
	}
	for (; i < len; i++)
		data[i] ^= mask[(offset + i) & 3];
}

size_t ws_build_frame(unsigned char *out, size_t outlen, unsigned opcode,
		      const void *payload, size_t len,
		      const unsigned char *mask)
{
	unsigned char head[WS_HEADER_MAX];
	size_t n = ws_build_header(head, opcode, 1, len, mask);

	if (n == 0 || outlen < n || outlen - n < len)
		return 0;
	memcpy(out, head, n);
	if (len) {
		memcpy(out + n, payload, len);
		if (mask)
			ws_mask(out + n, len, mask, 0);
	}
	return n + len;
}

size_t ws_build_close(unsigned char *out, size_t outlen, uint16_t code,
		      const char *reason, const unsigned char *mask)
{
	unsigned char body[WS_CONTROL_MAX];
	size_t n = 0;

	if (code) {
		if (!ws_close_code_valid(code))
			return 0;
		n = reason ? strlen(reason) : 0;
		if (n > WS_REASON_MAX) {
			/* back to the start of a character: 3 bytes at most */
			n = WS_REASON_MAX;
			while (n > WS_REASON_MAX - 3 &&
			       (reason[n] & 0xc0) == 0x80)
				n--;
		}
		body[0] = code >> 8;
		body[1] = code;
		if (n)
			memcpy(body + 2, reason, n);
		n += 2;
	}
	return ws_build_frame(out, outlen, WS_OP_CLOSE, body, n, mask);
}

void ws_rx_init(struct ws_rx *rx, int want_masked)
{
	memset(rx, 0, sizeof *rx);
	rx->state = WS_RX_HEADER;
	rx->want_masked = want_masked;
}

/** @brief A header is complete: check it against the message in
 *  progress (RFC 6455 §5.4) and enter its payload. */
static int ws_rx_begin(struct ws_rx *rx)
{
	unsigned op = rx->hdr.opcode;

	rx->off = 0;
	rx->state = WS_RX_PAYLOAD;
	if (ws_is_control(op))
		return 0;
	if (op == WS_OP_CONT && !rx->msg_open)
		return WS_E_CONT_NO_MESSAGE;
	if (op != WS_OP_CONT) {
		if (rx->msg_open)
			return WS_E_MESSAGE_OPEN;
		rx->msg_opcode = op;
	}
	rx->msg_open = !rx->hdr.fin;
	if (rx->hdr.len == 0)
		rx->state = WS_RX_HEADER;
	return 0;
}

/** @brief Take header bytes from @buf, gathering in rx->head one split
 *  across calls; returns the bytes taken or a negative ws_error. */
static ssize_t ws_rx_header(struct ws_rx *rx, const unsigned char *buf,
			    size_t len)
{
	size_t have = rx->nhead, n = WS_HEADER_MAX - have;
	int rc, err;

	if (n > len)
		n = len;
	memcpy(rx->head + have, buf, n);
	rc = ws_parse_header(rx->head, have + n, rx->want_masked, &rx->hdr);
	if (rc < 0)
		return rc;
	if (rc == WS_INCOMPLETE) {
		/* a header is at most WS_HEADER_MAX: all of buf was taken */
		rx->nhead = have + n;
		return n;
	}
	rx->nhead = 0;
	if ((err = ws_rx_begin(rx)) < 0)
		return err;
	return rc - have;
}

/** @brief Check a complete close body and report it. */
static int ws_rx_close(struct ws_rx *rx, struct ws_event *ev)
{
	size_t n = rx->hdr.len;

	ev->type = WS_EV_CLOSE;
	ev->code = WS_CLOSE_NO_STATUS;
	ev->data = rx->ctl;
	ev->len = 0;
	rx->state = WS_RX_CLOSED;
	if (n == 0)
		return 0;
	if (n == 1)
		return WS_E_CLOSE_1BYTE;
	rx->code = rx->ctl[0] << 8 | rx->ctl[1];
	if (!ws_close_code_valid(rx->code))
		return WS_E_CLOSE_CODE;
	if (!ws_utf8_valid(rx->ctl + 2, n - 2))
		return WS_E_CLOSE_UTF8;
	ev->code = rx->code;
	ev->data = rx->ctl + 2;
	ev->len = n - 2;
	return 0;
}

/** @brief A control frame's payload is all in rx->ctl: report it. */
static int ws_rx_control(struct ws_rx *rx, struct ws_event *ev)
{
	if (rx->hdr.masked)
		ws_mask(rx->ctl, rx->hdr.len, rx->hdr.mask, 0);
	if (rx->hdr.opcode == WS_OP_CLOSE)
		return ws_rx_close(rx, ev);
	ev->type = rx->hdr.opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
	ev->data = rx->ctl;
	ev->len = rx->hdr.len;
	rx->state = WS_RX_HEADER;
	return 0;
}

/** @brief Payload bytes from @buf: data is reported in place, control
 *  payload gathered. Returns the bytes taken. */
static size_t ws_rx_payload(struct ws_rx *rx, unsigned char *buf, size_t len,
			    struct ws_event *ev)
{
	uint64_t left = rx->hdr.len - rx->off;
	size_t n = left < len ? left : len;

	if (ws_is_control(rx->hdr.opcode)) {
		memcpy(rx->ctl + rx->off, buf, n);
	} else {
		if (rx->hdr.masked)
			ws_mask(buf, n, rx->hdr.mask, rx->off);
		ev->type = WS_EV_DATA;
		ev->opcode = rx->msg_opcode;
		ev->data = buf;
		ev->len = n;
	}
	rx->off += n;
	if (rx->off == rx->hdr.len && !ws_is_control(rx->hdr.opcode))
		rx->state = WS_RX_HEADER;
	return n;
}

/** @brief Remember @err so that it is final, and return it. */
static ssize_t ws_rx_fail(struct ws_rx *rx, int err)
{
	rx->err = err;
	return err;
}

ssize_t ws_rx_feed(struct ws_rx *rx, unsigned char *buf, size_t len,
		   struct ws_event *ev)
{
	size_t used = 0;
	ssize_t n;
	int rc;

	memset(ev, 0, sizeof *ev);
	ev->type = WS_EV_NEED_MORE;
	if (rx->err)
		return rx->err;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	for (;;) {
		if (rx->state == WS_RX_PAYLOAD && rx->off == rx->hdr.len &&
		    ws_is_control(rx->hdr.opcode)) {
			if ((rc = ws_rx_control(rx, ev)) < 0)
				return ws_rx_fail(rx, rc);
			return used;
		}
		if (used == len)
			return used;
		switch (rx->state) {
		case WS_RX_HEADER:
			n = ws_rx_header(rx, buf + used, len - used);
			if (n < 0)
				return ws_rx_fail(rx, n);
			used += n;
			break;
		case WS_RX_PAYLOAD:
			used += ws_rx_payload(rx, buf + used, len - used, ev);
			if (ev->type == WS_EV_DATA)
				return used;
			break;
		case WS_RX_CLOSED:
			return ws_rx_fail(rx, WS_E_AFTER_CLOSE);
		}
	}
}

uint64_t ws_rx_payload_left(const struct ws_rx *rx)
{
	if (rx->err || rx->state != WS_RX_PAYLOAD || rx->hdr.masked ||
	    ws_is_control(rx->hdr.opcode))
		return 0;
	return rx->hdr.len - rx->off;
}

int ws_rx_skip(struct ws_rx *rx, uint64_t n)
{
	if (n > ws_rx_payload_left(rx))
		return -1;
	rx->off += n;
	if (rx->state == WS_RX_PAYLOAD && rx->off == rx->hdr.len)
		rx->state = WS_RX_HEADER;
	return 0;
}

const char *ws_rx_strerror(const struct ws_rx *rx, int err, char *buf,
			   size_t len)
{
	const struct ws_header *h = &rx->hdr;

	switch (err) {
	case WS_E_OPCODE:
		snprintf(buf, len, "opcode 0x%x is reserved", h->opcode);
		break;
	case WS_E_CTRL_FRAGMENTED:
		snprintf(buf, len, "control frame (opcode 0x%x) without FIN",
			 h->opcode);
		break;
	case WS_E_CTRL_TOO_LONG:
		snprintf(buf, len, "control frame of %llu bytes (max %d)",
			 (unsigned long long)h->len, WS_CONTROL_MAX);
		break;
	case WS_E_LEN_NOT_MINIMAL:
		snprintf(buf, len, "length %llu not minimally encoded",
			 (unsigned long long)h->len);
		break;
	case WS_E_MESSAGE_OPEN:
		snprintf(buf, len, "%s frame inside a fragmented %s message",
			 h->opcode == WS_OP_TEXT ? "text" : "binary",
			 rx->msg_opcode == WS_OP_TEXT ? "text" : "binary");
		break;
	case WS_E_CLOSE_CODE:
		snprintf(buf, len, "close code %u is not allowed on the wire",
			 rx->code);
		break;
	default:
		snprintf(buf, len, "%s", ws_error_str(err));
		break;
	}
	return buf;
}
