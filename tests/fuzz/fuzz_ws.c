/* fuzz_ws.c - libFuzzer target for the WebSocket frame codec
 *
 * The first two input bytes choose the masking policy and how the rest
 * is cut up; the rest is a byte stream from a peer. The stream goes
 * through ws_rx_feed() whole, in pieces, and in pieces with unmasked
 * payloads skipped as the kernel path would splice them: all three must
 * tell the same story, and every event must keep the API's promises.
 * Headers, masking and close frames are checked on their own besides.
 * With libwslay (HAVE_WSLAY), the stream also goes through wslay's
 * decoder, fed in pieces: both must deliver the same data and control
 * messages and fail on the same inputs with the same close code, but
 * for where the two differ on purpose (see fuzz_wslay()).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	daemon/ws.c tests/fuzz/fuzz_ws.c -o /tmp/fuzz_ws
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#ifdef HAVE_WSLAY
#include <wslay/wslay.h>
#endif

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

enum fuzz_mode { FUZZ_WHOLE, FUZZ_PIECES, FUZZ_SKIP };

/* What a run came to, independent of how the stream was cut up. */
struct fuzz_story {
	uint64_t hash;		/* over data bytes and control events */
	uint64_t data;		/* data payload bytes */
	uint64_t consumed;	/* stream bytes consumed */
	int err;		/* the error that ended it, or 0 */
	int closed;		/* a close frame was reported */
	unsigned close_code;	/* and its code */
};

static uint64_t fuzz_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fuzz_hash(struct fuzz_story *st, uint64_t tag, const void *p,
		      size_t n)
{
	const unsigned char *b = p;

	st->hash = (st->hash ^ tag) * 0x100000001b3ULL;
	for (size_t i = 0; i < n; i++)
		st->hash = (st->hash ^ b[i]) * 0x100000001b3ULL;
}

/** @brief Data is hashed byte by byte under its opcode, so that the
 *  hash does not depend on how the payload was split into events. */
static void fuzz_data(struct fuzz_story *st, unsigned opcode,
		      const unsigned char *p, size_t n)
{
	CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
	for (size_t i = 0; i < n; i++)
		fuzz_hash(st, opcode, p + i, 1);
	st->data += n;
}

/** @brief Check one ws_rx_feed() answer against the API's promises. */
static void fuzz_check_event(const struct ws_rx *rx, const unsigned char *buf,
			     size_t len, ssize_t r, const struct ws_event *ev)
{
	const unsigned char *ctl = rx->ctl, *ctl_end = ctl + sizeof rx->ctl;

	CHECK(r >= 0 && (size_t)r <= len);
	CHECK(len == 0 || r > 0 || ev->type != WS_EV_NEED_MORE);
	switch (ev->type) {
	case WS_EV_NEED_MORE:
		CHECK((size_t)r == len);
		break;
	case WS_EV_DATA:
		CHECK(ev->len > 0);
		CHECK(ev->data >= buf && ev->data + ev->len == buf + r);
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
		CHECK(ev->len <= WS_CONTROL_MAX);
		CHECK(ev->data == ctl && ev->data + ev->len <= ctl_end);
		break;
	case WS_EV_CLOSE:
		CHECK(ev->len <= WS_CONTROL_MAX - 2);
		CHECK(ev->data >= ctl && ev->data + ev->len <= ctl_end);
		CHECK(ev->code >= 1000 && ev->code < 5000);
		CHECK(ev->len == 0 || ev->code != WS_CLOSE_NO_STATUS);
		break;
	}
}

/** @brief Record a control event in the story. */
static void fuzz_control(struct fuzz_story *st, const struct ws_event *ev)
{
	fuzz_hash(st, 0x100 + ev->type * 0x10000 + ev->code, ev->data,
		  ev->len);
	if (ev->type == WS_EV_CLOSE) {
		st->closed = 1;
		st->close_code = ev->code;
	}
}

/** @brief Feed @in (copied: unmasking writes to it) in the way @mode
 *  says and tell what happened. */
static void fuzz_run(struct fuzz_story *st, enum fuzz_mode mode,
		     int want_masked, const unsigned char *in, size_t len,
		     uint64_t seed, unsigned maxpiece)
{
	unsigned char *buf = malloc(len ? len : 1);
	struct ws_rx rx;
	struct ws_event ev;
	size_t pos = 0;

	CHECK(buf);
	memcpy(buf, in, len);
	memset(st, 0, sizeof *st);
	ws_rx_init(&rx, want_masked);
	while (pos < len) {
		size_t end = len;

		if (mode != FUZZ_WHOLE) {
			size_t n = 1 + fuzz_rnd(&seed) % maxpiece;
			end = pos + (n < len - pos ? n : len - pos);
		}
		while (pos < end) {
			uint64_t left = ws_rx_payload_left(&rx);
			ssize_t r;

			if (mode == FUZZ_SKIP && left) {
				size_t n = left < end - pos ? left : end - pos;
				/* unmasked: the stream bytes are the payload */
				fuzz_data(st, rx.msg_opcode, in + pos, n);
				CHECK(ws_rx_skip(&rx, n) == 0);
				CHECK(ws_rx_payload_left(&rx) == left - n);
				pos += n;
				continue;
			}
			CHECK(ws_rx_skip(&rx, left + 1) == -1);
			r = ws_rx_feed(&rx, buf + pos, end - pos, &ev);
			if (r < 0) {
				char why[128];

				CHECK(ws_error_close_code(r) !=
				      WS_CLOSE_INTERNAL);
				ws_rx_strerror(&rx, r, why, sizeof why);
				CHECK(why[0] && strlen(why) < sizeof why - 1);
				CHECK(ws_rx_feed(&rx, buf, len, &ev) == r);
				CHECK(ws_rx_payload_left(&rx) == 0);
				st->err = r;
				goto out;
			}
			fuzz_check_event(&rx, buf + pos, end - pos, r, &ev);
			if (ev.type == WS_EV_DATA)
				fuzz_data(st, ev.opcode, ev.data, ev.len);
			else if (ev.type != WS_EV_NEED_MORE)
				fuzz_control(st, &ev);
			pos += r;
		}
	}
out:
	st->consumed = pos;
	free(buf);
}

/** @brief Walk the frames with ws_parse_header() alone and count the
 *  data payload bytes: what ws_rx must have delivered if it ran
 *  through the whole stream without error. */
static uint64_t fuzz_walk(const unsigned char *in, size_t len,
			  int want_masked)
{
	uint64_t data = 0;
	size_t pos = 0;

	while (pos < len) {
		struct ws_header h;
		int r = ws_parse_header(in + pos, len - pos, want_masked, &h);
		uint64_t n;

		if (r <= 0)
			break;
		pos += r;
		n = h.len < len - pos ? h.len : len - pos;
		if (!(h.opcode & 0x8))
			data += n;
		pos += n;
	}
	return data;
}

/** @brief A header parses only in its minimal form, rebuilds to the same
 *  bytes, and a prefix of it is incomplete or fails the same way. */
static void fuzz_header(const unsigned char *in, size_t len, int want_masked)
{
	struct ws_header h, p;
	unsigned char out[WS_HEADER_MAX];
	int r = ws_parse_header(in, len, want_masked, &h);

	if (r > 0) {
		CHECK(r >= 2 && r <= WS_HEADER_MAX && (size_t)r <= len);
		CHECK(h.rsv == 0 && (h.len >> 63) == 0);
		CHECK(h.opcode < WS_OP_CLOSE ||
		      (h.fin && h.len <= WS_CONTROL_MAX));
		CHECK(ws_build_header(out, h.opcode, h.fin, h.len,
				      h.masked ? h.mask : NULL) == (size_t)r);
		CHECK(memcmp(out, in, r) == 0);
	} else if (r == WS_INCOMPLETE) {
		CHECK(len < WS_HEADER_MAX);
	}
	for (size_t k = 0; k < len && k < (size_t)(r > 0 ? r : WS_HEADER_MAX);
	     k++) {
		int q = ws_parse_header(in, k, want_masked, &p);
		CHECK(q == WS_INCOMPLETE || (r < 0 && q == r));
	}
}

/** @brief Any header ws_build_header() agrees to write parses back to
 *  what it was asked for. */
static void fuzz_build(const unsigned char *in, size_t len)
{
	unsigned char out[WS_HEADER_MAX];
	struct ws_header h;
	uint64_t plen = 0;
	size_t n;

	if (len < 10)
		return;
	for (int i = 0; i < 8; i++)
		plen = plen << 8 | in[2 + i];
	plen >>= in[1] & 63;
	n = ws_build_header(out, in[0] & 0xf, in[0] >> 7, plen,
			    in[0] & 0x40 ? in + 2 : NULL);
	if (n == 0)
		return;
	CHECK(ws_parse_header(out, n, -1, &h) == (int)n);
	CHECK(h.opcode == (in[0] & 0xfu) && h.fin == in[0] >> 7);
	CHECK(h.len == plen && h.masked == !!(in[0] & 0x40));
}

/** @brief Masking in pieces equals masking whole, and twice is none. */
static void fuzz_mask(const unsigned char *in, size_t len, uint64_t seed)
{
	unsigned char *a = malloc(len + 1), *b = malloc(len + 1);
	unsigned char key[4];
	uint64_t off = fuzz_rnd(&seed);
	size_t pos = 0;

	CHECK(a && b);
	memcpy(key, &seed, 4);
	memcpy(a, in, len);
	memcpy(b, in, len);
	ws_mask(a, len, key, off);
	while (pos < len) {
		size_t n = 1 + fuzz_rnd(&seed) % 37;
		if (n > len - pos)
			n = len - pos;
		ws_mask(b + pos, n, key, off + pos);
		pos += n;
	}
	CHECK(memcmp(a, b, len) == 0);
	for (size_t i = 0; i < len; i++)
		CHECK(a[i] == (in[i] ^ key[(off + i) & 3]));
	ws_mask(a, len, key, off);
	CHECK(memcmp(a, in, len) == 0);
	free(a);
	free(b);
}

/** @brief A close frame we build is one a peer's ws_rx accepts, with the
 *  code and as much of the reason as fits (or rejects as not UTF-8). */
static void fuzz_close(const unsigned char *in, size_t len, uint64_t seed)
{
	unsigned char out[WS_CONTROL_FRAME_MAX], key[4];
	char reason[160];
	size_t n = len < sizeof reason - 1 ? len : sizeof reason - 1, fl;
	uint16_t code = fuzz_rnd(&seed) % 5200;
	int masked = seed & 1;
	struct ws_rx rx;
	struct ws_event ev;
	ssize_t r;

	memcpy(reason, in, n);
	reason[n] = '\0';
	memcpy(key, &seed, 4);
	fl = ws_build_close(out, sizeof out, code, reason, masked ? key : NULL);
	if (fl == 0)
		return;
	ws_rx_init(&rx, masked);
	r = ws_rx_feed(&rx, out, fl, &ev);
	if (r == WS_E_CLOSE_UTF8)
		return;
	CHECK(r == (ssize_t)fl && ev.type == WS_EV_CLOSE);
	CHECK(ev.code == (code ? code : WS_CLOSE_NO_STATUS));
	CHECK(ev.len <= strlen(reason) && memcmp(ev.data, reason, ev.len) == 0);
	CHECK(ev.len == strlen(reason) || ev.len >= WS_CONTROL_MAX - 2 - 3);
}


#ifdef HAVE_WSLAY
/* wslay's side of a run: the same story, told by its callbacks. */
struct fuzz_wslay {
	struct fuzz_story st;
	const unsigned char *in;
	size_t len, pos;
	size_t pad;		/* zero bytes served after the input */
	uint64_t seed;
	unsigned maxpiece;
	unsigned opcode;	/* of the data message open, or 0 */
	int ctrl;		/* the frame being read is a control frame */
	int close_len;		/* body length of the close received, or -1 */
};

static ssize_t fuzz_wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf,
			       size_t len, int flags, void *user)
{
	struct fuzz_wslay *w = user;
	size_t n = 1 + fuzz_rnd(&w->seed) % w->maxpiece;

	if (w->pos == w->len + w->pad) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n > len)
		n = len;
	if (n > w->len + w->pad - w->pos)
		n = w->len + w->pad - w->pos;
	for (size_t i = 0; i < n; i++, w->pos++)
		buf[i] = w->pos < w->len ? w->in[w->pos] : 0;
	return (ssize_t)n;
}

static ssize_t fuzz_wslay_send(wslay_event_context_ptr ctx,
			       const uint8_t *data, size_t len, int flags,
			       void *user)
{
	return (ssize_t)len;	/* the close and pong frames queued */
}

static int fuzz_wslay_genmask(wslay_event_context_ptr ctx, uint8_t *buf,
			      size_t len, void *user)
{
	memset(buf, 0x5a, len);
	return 0;
}

static void fuzz_wslay_start(wslay_event_context_ptr ctx,
			     const struct wslay_event_on_frame_recv_start_arg *a,
			     void *user)
{
	struct fuzz_wslay *w = user;

	w->ctrl = wslay_is_ctrl_frame(a->opcode);
	if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME)
		w->opcode = a->opcode;
}

static void fuzz_wslay_chunk(wslay_event_context_ptr ctx,
			     const struct wslay_event_on_frame_recv_chunk_arg *a,
			     void *user)
{
	struct fuzz_wslay *w = user;

	/* control frames come whole, in fuzz_wslay_msg() */
	if (!w->ctrl && a->data_length)
		fuzz_data(&w->st, w->opcode, a->data, a->data_length);
}

static void fuzz_wslay_msg(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_msg_recv_arg *a,
			   void *user)
{
	struct fuzz_wslay *w = user;
	struct ws_event ev = { 0 };
	unsigned char body[WS_CONTROL_MAX];

	if (a->msg_length <= sizeof body && a->msg_length)
		memcpy(body, a->msg, a->msg_length);
	switch (a->opcode) {
	case WSLAY_PING:
	case WSLAY_PONG:
		ev.type = a->opcode == WSLAY_PING ? WS_EV_PING : WS_EV_PONG;
		CHECK(a->msg_length <= sizeof body);
		ev.data = body;
		ev.len = a->msg_length;
		fuzz_control(&w->st, &ev);
		break;
	case WSLAY_CONNECTION_CLOSE:
		ev.type = WS_EV_CLOSE;
		ev.code = a->status_code ? a->status_code : WS_CLOSE_NO_STATUS;
		CHECK(a->msg_length <= sizeof body);
		ev.data = body + 2;
		ev.len = a->msg_length > 2 ? a->msg_length - 2 : 0;
		w->close_len = (int)a->msg_length;
		fuzz_control(&w->st, &ev);
		break;
	default:		/* the end of a data message */
		w->opcode = 0;
		break;
	}
}

/** @brief The stream through libwslay's decoder (server side when
 *  frames must be masked, client side when they must not be), then
 *  @pad zero bytes; @w gets the story, the return value the close code
 *  wslay sent for an error or 0, @reading whether it would read on. */
static int fuzz_wslay_run(struct fuzz_wslay *w, int want_masked,
			  int *reading)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = fuzz_wslay_recv,
		.send_callback = fuzz_wslay_send,
		.genmask_callback = fuzz_wslay_genmask,
		.on_frame_recv_start_callback = fuzz_wslay_start,
		.on_frame_recv_chunk_callback = fuzz_wslay_chunk,
		.on_msg_recv_callback = fuzz_wslay_msg,
	};
	wslay_event_context_ptr ctx;
	int r, werr = 0;

	CHECK((want_masked ? wslay_event_context_server_init(&ctx, &cb, w) :
	       wslay_event_context_client_init(&ctx, &cb, w)) == 0);
	wslay_event_config_set_no_buffering(ctx, 1);
	wslay_event_config_set_max_recv_msg_length(ctx, UINT64_MAX);
	/* a call stops where a read came short: again until the input
	 * runs out or wslay stops reading (a piece per call at least) */
	do
		r = wslay_event_recv(ctx);
	while (r == 0 && wslay_event_get_read_enabled(ctx) &&
	       w->pos < w->len + w->pad);
	if (r != 0)		/* a frame-layer error: 1002 queued */
		werr = WS_CLOSE_PROTOCOL;
	else if (!wslay_event_get_read_enabled(ctx) && w->close_len < 0) {
		/* the code of a close is known once the frame is out */
		CHECK(wslay_event_send(ctx) == 0);
		werr = wslay_event_get_status_code_sent(ctx);
	}
	*reading = wslay_event_get_read_enabled(ctx);
	wslay_event_context_free(ctx);
	return werr;
}

/** @brief The same story from wslay as from ws_rx (@ours, the whole
 *  stream at once), wslay fed in pieces. Differences by design, where
 *  the comparison stops:
 *   - wslay checks that text messages are UTF-8; a tunnel carries
 *     bytes and ws_rx does not (its close reasons it does check, but
 *     wslay checks those per piece, which a piece boundary can fool);
 *   - wslay takes a one-byte close body as "no code"; ws_rx refuses it
 *     (RFC 6455 5.5.1: a body starts with a two-byte code);
 *   - close codes 1012-1014 (IANA's registry, after RFC 6455: service
 *     restart, try again later, bad gateway) ws_rx accepts, wslay not;
 *   - wslay stops reading at a close frame; ws_rx says what followed
 *     it is an error (WS_E_AFTER_CLOSE): both end there;
 *   - ws_rx refuses a bad header from its first bytes, wslay once it
 *     has all of it and a first payload byte: when the input ends
 *     before that, wslay is run again with zero bytes after the input,
 *     which complete the header, and must then refuse it too. */
static void fuzz_wslay(const struct fuzz_story *ours, int want_masked,
		       const unsigned char *in, size_t len, uint64_t seed,
		       unsigned maxpiece)
{
	struct fuzz_wslay w = {
		.in = in, .len = len, .seed = seed, .maxpiece = maxpiece,
		.close_len = -1,
	};
	int werr, oerr = ours->err, reading;

	if (want_masked < 0)
		return;		/* wslay has no "either" */
	werr = fuzz_wslay_run(&w, want_masked, &reading);

	if (werr == WS_CLOSE_INVALID_DATA || oerr == WS_E_CLOSE_UTF8)
		return;
	if (oerr == WS_E_CLOSE_1BYTE) {
		CHECK(w.close_len == 1 && !werr);
		return;
	}
	if (oerr == WS_E_AFTER_CLOSE)
		oerr = 0;
	if (ours->close_code >= 1012 && ours->close_code <= 1014) {
		CHECK(!oerr && werr == WS_CLOSE_PROTOCOL);
		return;
	}
	CHECK(ours->hash == w.st.hash && ours->data == w.st.data);
	CHECK(ours->closed == (w.close_len >= 0));
	if (oerr && !werr && reading) {
		struct fuzz_wslay p = {
			.in = in, .len = len, .pad = WS_HEADER_MAX + 1,
			.seed = seed, .maxpiece = maxpiece, .close_len = -1,
		};

		werr = fuzz_wslay_run(&p, want_masked, &reading);
		CHECK(p.st.data >= w.st.data && p.st.data <= w.st.data + 1);
	}
	CHECK(!oerr == !werr);
	CHECK(!oerr || ws_error_close_code(oerr) == werr);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_story whole, pieces, skip;
	const unsigned char *in = data + 2;
	size_t len;
	uint64_t seed;
	unsigned maxpiece;
	int want_masked;

	if (size < 2)
		return 0;
	len = size - 2;
	want_masked = data[0] % 3 - 1;
	maxpiece = 1u << (data[0] >> 5);	/* 1 .. 128 */
	seed = 0x9e3779b97f4a7c15ULL ^ data[1];

	fuzz_run(&whole, FUZZ_WHOLE, want_masked, in, len, seed, 1);
	fuzz_run(&pieces, FUZZ_PIECES, want_masked, in, len, seed, maxpiece);
	fuzz_run(&skip, FUZZ_SKIP, want_masked, in, len, seed, maxpiece);
	CHECK(whole.err == pieces.err && whole.err == skip.err);
	CHECK(whole.hash == pieces.hash && whole.hash == skip.hash);
	CHECK(whole.data == pieces.data && whole.data == skip.data);
	CHECK(whole.closed == pieces.closed && whole.closed == skip.closed);
	if (!whole.err) {
		CHECK(whole.consumed == len && pieces.consumed == len &&
		      skip.consumed == len);
		CHECK(whole.data == fuzz_walk(in, len, want_masked));
	}
	CHECK(whole.data <= len);
#ifdef HAVE_WSLAY
	fuzz_wslay(&whole, want_masked, in, len, seed, maxpiece);
#endif

	fuzz_header(in, len, want_masked);
	fuzz_build(in, len);
	fuzz_mask(in, len, seed);
	fuzz_close(in, len, seed);
	return 0;
}
