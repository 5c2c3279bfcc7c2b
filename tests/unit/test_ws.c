/* test_ws.c - the WebSocket frame codec: headers, masking, streaming */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "ws.h"

static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/** @brief Deterministic pseudo-random numbers (xorshift64). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/** @brief The definition of masking, to hold ws_mask() against. */
static void mask_ref(unsigned char *d, size_t n, const unsigned char m[4],
		     uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		d[i] ^= m[(off + i) % 4];
}

/** @brief Append a whole frame to @out at @pos, masked with @m unless
 *  NULL; returns the new end. */
static size_t put(unsigned char *out, size_t pos, unsigned op, int fin,
		  const char *payload, const unsigned char *m)
{
	size_t len = strlen(payload);
	size_t n = ws_build_header(out + pos, op, fin, len, m);

	ck_assert_uint_gt(n, 0);
	memcpy(out + pos + n, payload, len);
	if (m)
		mask_ref(out + pos + n, len, m, 0);
	return pos + n + len;
}

/* What a stream of frames came to, independent of how it was cut up:
 * data as "{b}bytes" / "{t}bytes" per run of one message's payload,
 * control frames as "<ping:...>", "<pong:...>", "<close:code:...>". */
struct trace {
	char log[8192];
	size_t n;
	unsigned last_op;	/* opcode of the data run in progress, or 0 */
	int err;		/* the error that ended the stream, or 0 */
	int data_outside;	/* a DATA event pointed outside the buffer */
};

static void trace_add(struct trace *t, const void *p, size_t n)
{
	ck_assert_uint_le(t->n + n, sizeof t->log - 1);
	memcpy(t->log + t->n, p, n);
	t->n += n;
	t->log[t->n] = '\0';
}

static void trace_event(struct trace *t, const struct ws_event *ev)
{
	char tag[32];

	if (ev->type == WS_EV_DATA) {
		if (t->last_op != ev->opcode)
			trace_add(t, ev->opcode == WS_OP_TEXT ? "{t}" : "{b}", 3);
		t->last_op = ev->opcode;
		trace_add(t, ev->data, ev->len);
		return;
	}
	t->last_op = 0;
	if (ev->type == WS_EV_CLOSE)
		snprintf(tag, sizeof tag, "<close:%u:", ev->code);
	else
		snprintf(tag, sizeof tag, "<%s:",
			 ev->type == WS_EV_PING ? "ping" : "pong");
	trace_add(t, tag, strlen(tag));
	trace_add(t, ev->data, ev->len);
	trace_add(t, ">", 1);
}

/** @brief Feed @in to a fresh ws_rx in pieces of @step bytes (0: all at
 *  once, SIZE_MAX: random sizes from @seed) and record what came out. */
static void trace_run(struct trace *t, int want_masked, const void *in,
		      size_t len, size_t step, uint64_t seed)
{
	unsigned char buf[8192];
	struct ws_rx rx;
	struct ws_event ev;
	size_t pos = 0;

	ck_assert_uint_le(len, sizeof buf);
	memcpy(buf, in, len);
	memset(t, 0, sizeof *t);
	ws_rx_init(&rx, want_masked);
	while (pos < len) {
		size_t n = step == 0 ? len - pos :
			step == SIZE_MAX ? 1 + rnd(&seed) % 17 : step;
		size_t end = pos + (n < len - pos ? n : len - pos);

		while (pos < end) {
			ssize_t r = ws_rx_feed(&rx, buf + pos, end - pos, &ev);
			if (r < 0) {
				t->err = r;
				return;
			}
			if (ev.type == WS_EV_DATA && (ev.data < buf + pos ||
						      ev.data + ev.len > buf + pos + r))
				t->data_outside = 1;
			pos += r;
			if (ev.type == WS_EV_NEED_MORE)
				ck_assert_uint_eq(pos, end);
			else
				trace_event(t, &ev);
		}
	}
}

/** @brief @in fed all at once must give @want (and no error). */
static void expect_trace(int want_masked, const void *in, size_t len,
			 const char *want)
{
	struct trace t;

	trace_run(&t, want_masked, in, len, 0, 0);
	ck_assert_msg(t.err == 0, "error %d: %s", t.err, ws_error_str(t.err));
	ck_assert_str_eq(t.log, want);
	ck_assert_int_eq(t.data_outside, 0);
}

/** @brief @in fed all at once must fail with @err after giving @want. */
static void expect_error(int want_masked, const void *in, size_t len,
			 int err, const char *want)
{
	struct trace t;

	trace_run(&t, want_masked, in, len, 0, 0);
	ck_assert_int_eq(t.err, err);
	ck_assert_str_eq(t.log, want);
}

/** @brief Parse exactly @n bytes of header and return the result. */
static int parse(const void *hdr, size_t n, int want_masked,
		 struct ws_header *h)
{
	return ws_parse_header(hdr, n, want_masked, h);
}

START_TEST(length_encodings)
{
	static const struct {
		uint64_t len;
		size_t n;
		unsigned char bytes[10];
	} cases[] = {
		{ 0, 2, { 0x82, 0x00 } },
		{ 125, 2, { 0x82, 0x7d } },
		{ 126, 4, { 0x82, 0x7e, 0x00, 0x7e } },
		{ 65535, 4, { 0x82, 0x7e, 0xff, 0xff } },
		{ 65536, 10, { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ 0x100000001ULL, 10, { 0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 1 } },
		{ 0x7fffffffffffffffULL, 10, { 0x82, 0x7f, 0x7f, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0xff } },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char out[WS_HEADER_MAX];
		struct ws_header h;
		size_t n;

		n = ws_build_header(out, WS_OP_BINARY, 1, cases[i].len, NULL);
		ck_assert_uint_eq(n, cases[i].n);
		ck_assert_msg(memcmp(out, cases[i].bytes, n) == 0,
			      "length %llu", (unsigned long long)cases[i].len);
		ck_assert_int_eq(parse(out, n, 0, &h), (int)n);
		ck_assert_uint_eq(h.len, cases[i].len);
		ck_assert_uint_eq(h.opcode, WS_OP_BINARY);
		ck_assert_uint_eq(h.fin, 1);
		ck_assert_int_eq(h.masked, 0);

		/* the same with a mask key behind it */
		n = ws_build_header(out, WS_OP_BINARY, 1, cases[i].len, key);
		ck_assert_uint_eq(n, cases[i].n + 4);
		ck_assert_uint_eq(out[1] & 0x80, 0x80);
		ck_assert_int_eq(memcmp(out + n - 4, key, 4), 0);
		ck_assert_int_eq(parse(out, n, 1, &h), (int)n);
		ck_assert_uint_eq(h.len, cases[i].len);
		ck_assert_int_eq(h.masked, 1);
		ck_assert_int_eq(memcmp(h.mask, key, 4), 0);
	}
}
END_TEST

/** @brief Build a header, parse it back, and check that every shorter
 *  prefix is incomplete rather than an error. */
static void round_trip(unsigned op, int fin, uint64_t len, int masked)
{
	unsigned char out[WS_HEADER_MAX];
	struct ws_header h;
	size_t n = ws_build_header(out, op, fin, len, masked ? key : NULL);

	if (op >= WS_OP_CLOSE && (!fin || len > 125)) {
		ck_assert_uint_eq(n, 0);
		return;
	}
	ck_assert_int_eq(parse(out, n, -1, &h), (int)n);
	ck_assert_uint_eq(h.opcode, op);
	ck_assert_uint_eq(h.fin, fin);
	ck_assert_uint_eq(h.rsv, 0);
	ck_assert_uint_eq(h.len, len);
	ck_assert_int_eq(h.masked, masked);
	for (size_t k = 0; k < n; k++)
		ck_assert_int_eq(parse(out, k, -1, &h), WS_INCOMPLETE);
}

START_TEST(round_trips)
{
	static const unsigned ops[] = { WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY,
					WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG };
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536,
					 1ULL << 32, (1ULL << 63) - 1 };

	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
			for (int bits = 0; bits < 4; bits++)
				round_trip(ops[o], bits & 1, lens[l], bits >> 1);
}
END_TEST

START_TEST(build_header_refuses)
{
	unsigned char out[WS_HEADER_MAX];

	ck_assert_uint_eq(ws_build_header(out, 0x3, 1, 0, NULL), 0);
	ck_assert_uint_eq(ws_build_header(out, 0xB, 1, 0, NULL), 0);
	ck_assert_uint_eq(ws_build_header(out, WS_OP_BINARY, 1, 1ULL << 63,
					  NULL), 0);
	ck_assert_uint_eq(ws_build_header(out, WS_OP_PING, 1, 126, NULL), 0);
	ck_assert_uint_eq(ws_build_header(out, WS_OP_PING, 0, 0, NULL), 0);
	ck_assert_uint_eq(ws_build_header(out, WS_OP_PING, 1, 125, NULL), 2);
}
END_TEST

START_TEST(non_minimal_lengths)
{
	static const unsigned char l16_125[] = { 0x82, 0x7e, 0x00, 0x7d };
	static const unsigned char l16_0[] = { 0x82, 0x7e, 0x00, 0x00 };
	static const unsigned char l16_126[] = { 0x82, 0x7e, 0x00, 0x7e };
	static const unsigned char l64_65535[] = { 0x82, 0x7f, 0, 0, 0, 0,
						   0, 0, 0xff, 0xff };
	static const unsigned char l64_5[] = { 0x82, 0x7f, 0, 0, 0, 0,
					       0, 0, 0, 5 };
	static const unsigned char l64_65536[] = { 0x82, 0x7f, 0, 0, 0, 0,
						   0, 1, 0, 0 };
	struct ws_header h;
	struct ws_rx rx;
	char buf[128];

	ck_assert_int_eq(parse(l16_125, 4, 0, &h), WS_E_LEN_NOT_MINIMAL);
	ck_assert_int_eq(parse(l16_0, 4, 0, &h), WS_E_LEN_NOT_MINIMAL);
	ck_assert_int_eq(parse(l16_126, 4, 0, &h), 4);
	ck_assert_int_eq(parse(l64_65535, 10, 0, &h), WS_E_LEN_NOT_MINIMAL);
	ck_assert_int_eq(parse(l64_5, 10, 0, &h), WS_E_LEN_NOT_MINIMAL);
	ck_assert_int_eq(parse(l64_65536, 10, 0, &h), 10);
	ck_assert_uint_eq(ws_error_close_code(WS_E_LEN_NOT_MINIMAL), 1002);

	ws_rx_init(&rx, 0);
	ck_assert_int_eq(parse(l64_65535, 10, 0, &rx.hdr), WS_E_LEN_NOT_MINIMAL);
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_LEN_NOT_MINIMAL, buf,
					sizeof buf),
			 "length 65535 not minimally encoded");
}
END_TEST

START_TEST(length_msb)
{
	unsigned char hdr[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct ws_header h;

	ck_assert_int_eq(parse(hdr, 10, 0, &h), WS_E_LEN_MSB);
	hdr[2] = 0xff;
	ck_assert_int_eq(parse(hdr, 10, 0, &h), WS_E_LEN_MSB);
	hdr[2] = 0x7f;
	ck_assert_int_eq(parse(hdr, 10, 0, &h), 10);
	ck_assert_uint_eq(h.len, 0x7f00000000000000ULL);
	ck_assert_str_eq(ws_error_str(WS_E_LEN_MSB),
			 "64-bit length with the top bit set");
}
END_TEST

START_TEST(reserved_bits)
{
	static const unsigned char rsv[] = { 0x40, 0x20, 0x10, 0x70 };
	struct ws_header h;

	for (size_t i = 0; i < sizeof rsv; i++) {
		unsigned char hdr[] = { 0x82 | rsv[i], 0x00 };

		ck_assert_int_eq(parse(hdr, 2, -1, &h), WS_E_RSV);
		/* known from the first byte on */
		ck_assert_int_eq(parse(hdr, 1, -1, &h), WS_E_RSV);
		ck_assert_uint_eq(h.rsv, rsv[i] >> 4);
	}
	ck_assert_str_eq(ws_error_str(WS_E_RSV), "reserved bits set");
	ck_assert_uint_eq(ws_error_close_code(WS_E_RSV), 1002);
}
END_TEST

START_TEST(reserved_opcodes)
{
	struct ws_rx rx;
	char buf[64], want[64];

	for (unsigned op = 0; op < 16; op++) {
		unsigned char hdr[] = { 0x80 | op, 0x00 };
		int known = op <= 2 || (op >= 8 && op <= 10);

		ws_rx_init(&rx, 0);
		ck_assert_int_eq(parse(hdr, 2, 0, &rx.hdr),
				 known ? 2 : WS_E_OPCODE);
		if (known)
			continue;
		snprintf(want, sizeof want, "opcode 0x%x is reserved", op);
		ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_OPCODE, buf,
						sizeof buf), want);
	}
	ck_assert_uint_eq(ws_error_close_code(WS_E_OPCODE), 1002);
}
END_TEST

START_TEST(control_too_long)
{
	static const unsigned char ping126[] = { 0x89, 0x7e, 0x00, 0x7e };
	static const unsigned char ping125[] = { 0x89, 0x7d };
	static const unsigned char close200[] = { 0x88, 0x7e, 0x00, 0xc8 };
	struct ws_rx rx;
	struct ws_event ev;
	unsigned char in[4];
	char buf[64];

	ws_rx_init(&rx, 0);
	ck_assert_int_eq(parse(ping126, 4, 0, &rx.hdr), WS_E_CTRL_TOO_LONG);
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_CTRL_TOO_LONG, buf, sizeof buf),
			 "control frame of 126 bytes (max 125)");
	ck_assert_int_eq(parse(ping125, 2, 0, &rx.hdr), 2);

	ws_rx_init(&rx, 0);
	memcpy(in, close200, 4);
	ck_assert_int_eq(ws_rx_feed(&rx, in, 4, &ev), WS_E_CTRL_TOO_LONG);
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_CTRL_TOO_LONG, buf, sizeof buf),
			 "control frame of 200 bytes (max 125)");
	ck_assert_uint_eq(ws_error_close_code(WS_E_CTRL_TOO_LONG), 1002);

	/* refused from its first two bytes, without waiting for the
	 * length they announce (found by the differential with wslay) */
	ws_rx_init(&rx, 1);
	in[0] = 0x88;
	in[1] = 0xff;
	ck_assert_int_eq(ws_rx_feed(&rx, in, 2, &ev), WS_E_CTRL_TOO_LONG);
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_CTRL_TOO_LONG, buf, sizeof buf),
			 "control frame of 65536 bytes (max 125)");
}
END_TEST

START_TEST(control_fragmented)
{
	struct ws_rx rx;
	char buf[64];

	for (unsigned op = WS_OP_CLOSE; op <= WS_OP_PONG; op++) {
		unsigned char hdr[] = { op, 0x00 };

		ws_rx_init(&rx, 0);
		ck_assert_int_eq(parse(hdr, 2, 0, &rx.hdr), WS_E_CTRL_FRAGMENTED);
		ck_assert_int_eq(parse(hdr, 1, 0, &rx.hdr), WS_E_CTRL_FRAGMENTED);
	}
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_CTRL_FRAGMENTED, buf,
					sizeof buf),
			 "control frame (opcode 0xa) without FIN");
}
END_TEST

START_TEST(masking_policy)
{
	unsigned char masked[WS_HEADER_MAX], plain[WS_HEADER_MAX];
	size_t nm = ws_build_header(masked, WS_OP_BINARY, 1, 3, key);
	size_t np = ws_build_header(plain, WS_OP_BINARY, 1, 3, NULL);
	struct ws_header h;

	ck_assert_int_eq(parse(masked, nm, 1, &h), (int)nm);
	ck_assert_int_eq(parse(plain, np, 1, &h), WS_E_UNMASKED);
	ck_assert_int_eq(parse(plain, np, 0, &h), (int)np);
	ck_assert_int_eq(parse(masked, nm, 0, &h), WS_E_MASKED);
	ck_assert_int_eq(parse(masked, nm, -1, &h), (int)nm);
	ck_assert_int_eq(parse(plain, np, -1, &h), (int)np);
	ck_assert_str_eq(ws_error_str(WS_E_UNMASKED),
			 "unmasked frame from client");
	ck_assert_str_eq(ws_error_str(WS_E_MASKED), "masked frame from server");
	ck_assert_uint_eq(ws_error_close_code(WS_E_UNMASKED), 1002);
	ck_assert_uint_eq(ws_error_close_code(WS_E_MASKED), 1002);
}
END_TEST

START_TEST(mask_matches_definition)
{
	unsigned char a[256 + 8], b[256 + 8];
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	/* every alignment, length and key phase around the word loop */
	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len <= 80; len++)
			for (uint64_t off = 0; off < 8; off++) {
				for (size_t i = 0; i < sizeof a; i++)
					a[i] = b[i] = rnd(&s);
				ws_mask(a + align, len, key, off);
				mask_ref(b + align, len, key, off);
				ck_assert_msg(memcmp(a, b, sizeof a) == 0,
					      "align %zu len %zu off %llu", align,
					      len, (unsigned long long)off);
			}
}
END_TEST

START_TEST(mask_in_pieces)
{
	static unsigned char whole[70000], pieces[70000];
	uint64_t s = 12345;

	for (int round = 0; round < 20; round++) {
		unsigned char m[4];
		uint64_t base = round & 1 ? 0x100000001ULL : 0;
		size_t len = 1 + rnd(&s) % (sizeof whole - 1), pos = 0;

		for (int i = 0; i < 4; i++)
			m[i] = rnd(&s);
		for (size_t i = 0; i < len; i++)
			whole[i] = pieces[i] = rnd(&s);
		mask_ref(whole, len, m, base);
		while (pos < len) {
			size_t n = 1 + rnd(&s) % (rnd(&s) & 1 ? 13 : 9000);
			if (n > len - pos)
				n = len - pos;
			ws_mask(pieces + pos, n, m, base + pos);
			pos += n;
		}
		ck_assert_msg(memcmp(whole, pieces, len) == 0, "round %d", round);
	}
}
END_TEST

/** @brief A 3-fragment binary message with a ping between fragments, a
 *  pong and a close, all masked as a client sends them. */
static size_t sample_stream(unsigned char *out)
{
	size_t n = 0;

	n = put(out, n, WS_OP_BINARY, 0, "Hello, ", key);
	n = put(out, n, WS_OP_PING, 1, "p!", key);
	n = put(out, n, WS_OP_CONT, 0, "Web", key);
	n = put(out, n, WS_OP_CONT, 1, "Socket", key);
	n = put(out, n, WS_OP_TEXT, 1, "ignored", key);
	n = put(out, n, WS_OP_PONG, 1, "", key);
	n = put(out, n, WS_OP_BINARY, 1, "x", key);
	n = put(out, n, WS_OP_CLOSE, 1, "\x03\xe8" "bye", key);
	return n;
}

#define SAMPLE_TRACE "{b}Hello, <ping:p!>{b}WebSocket{t}ignored<pong:>{b}x" \
	"<close:1000:bye>"

START_TEST(stream_fragments_and_ping)
{
	unsigned char in[512];
	size_t n = 0;
	struct ws_rx rx;
	struct ws_event ev;
	ssize_t r;

	n = put(in, n, WS_OP_BINARY, 0, "Hello, ", key);
	n = put(in, n, WS_OP_PING, 1, "p!", key);
	n = put(in, n, WS_OP_CONT, 0, "Web", key);
	n = put(in, n, WS_OP_CONT, 1, "Socket", key);

	/* event by event, each pointing into the buffer it came from */
	ws_rx_init(&rx, 1);
	r = ws_rx_feed(&rx, in, n, &ev);
	ck_assert_int_eq(r, 6 + 7);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.opcode, WS_OP_BINARY);
	ck_assert_ptr_eq(ev.data, in + 6);
	ck_assert_uint_eq(ev.len, 7);
	ck_assert_int_eq(memcmp(ev.data, "Hello, ", 7), 0);
	ck_assert_uint_eq(ws_rx_feed(&rx, in + r, n - r, &ev), 6 + 2);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert_int_eq(memcmp(ev.data, "p!", 2), 0);
	r += 8;
	ck_assert_uint_eq(ws_rx_feed(&rx, in + r, n - r, &ev), 6 + 3);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.opcode, WS_OP_BINARY);
	ck_assert_int_eq(memcmp(ev.data, "Web", 3), 0);
	r += 9;
	ck_assert_uint_eq(ws_rx_feed(&rx, in + r, n - r, &ev), 6 + 6);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(memcmp(ev.data, "Socket", 6), 0);
	r += 12;
	ck_assert_uint_eq(r, n);
	ck_assert_uint_eq(ws_rx_feed(&rx, in + r, 0, &ev), 0);
	ck_assert_int_eq(ev.type, WS_EV_NEED_MORE);
	ck_assert_int_eq(rx.msg_open, 0);

	n = sample_stream(in);
	expect_trace(1, in, n, SAMPLE_TRACE);
}
END_TEST

START_TEST(stream_any_chunking)
{
	unsigned char in[512];
	size_t n = sample_stream(in);
	struct trace all, t;

	trace_run(&all, 1, in, n, 0, 0);
	ck_assert_int_eq(all.err, 0);
	ck_assert_str_eq(all.log, SAMPLE_TRACE);
	for (size_t step = 1; step <= n; step++) {
		trace_run(&t, 1, in, n, step, 0);
		ck_assert_msg(t.err == 0, "step %zu: %s", step,
			      ws_error_str(t.err));
		ck_assert_msg(strcmp(t.log, all.log) == 0, "step %zu: %s", step,
			      t.log);
		ck_assert_int_eq(t.data_outside, 0);
	}
	for (uint64_t seed = 1; seed <= 200; seed++) {
		trace_run(&t, 1, in, n, SIZE_MAX, seed);
		ck_assert_msg(strcmp(t.log, all.log) == 0, "seed %llu: %s",
			      (unsigned long long)seed, t.log);
	}
}
END_TEST

/* A split 14-byte header (64-bit length, mask) across every point. */
START_TEST(stream_split_long_header)
{
	static unsigned char in[WS_HEADER_MAX + 70000];
	unsigned char head[WS_HEADER_MAX];
	size_t hn = ws_build_header(head, WS_OP_BINARY, 1, 70000, key);

	ck_assert_uint_eq(hn, 14);
	for (size_t cut = 1; cut < hn; cut++) {
		struct ws_rx rx;
		struct ws_event ev;
		size_t pos = 0, got = 0;
		int bad = 0;

		memcpy(in, head, hn);
		for (size_t i = 0; i < 70000; i++)
			in[hn + i] = (i % 251) ^ key[i % 4];
		ws_rx_init(&rx, 1);
		ck_assert_int_eq(ws_rx_feed(&rx, in, cut, &ev), (ssize_t)cut);
		ck_assert_int_eq(ev.type, WS_EV_NEED_MORE);
		pos = cut;
		while (pos < hn + 70000) {
			ssize_t r = ws_rx_feed(&rx, in + pos,
					       hn + 70000 - pos, &ev);
			ck_assert_int_gt(r, 0);
			ck_assert_int_eq(ev.type, WS_EV_DATA);
			for (size_t i = 0; i < ev.len; i++)
				bad |= ev.data[i] != (got + i) % 251;
			got += ev.len;
			pos += r;
		}
		ck_assert_uint_eq(got, 70000);
		ck_assert_int_eq(bad, 0);
	}
}
END_TEST

START_TEST(close_codes)
{
	static const unsigned valid[] = { 1000, 1001, 1002, 1003, 1007, 1008,
					  1009, 1010, 1011, 1012, 1013, 1014,
					  3000, 3999, 4000, 4999 };
	static const unsigned invalid[] = { 0, 1, 999, 1004, 1005, 1006, 1015,
					    1016, 1100, 2000, 2999, 5000, 65535 };
	unsigned char in[64];
	char body[2], want[64], msg[80];
	struct ws_rx rx;
	struct ws_event ev;
	size_t n;

	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		body[0] = valid[i] >> 8;
		body[1] = valid[i];
		n = ws_build_header(in, WS_OP_CLOSE, 1, 2, NULL);
		memcpy(in + n, body, 2);
		snprintf(want, sizeof want, "<close:%u:>", valid[i]);
		expect_trace(0, in, n + 2, want);
	}
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		in[0] = 0x88;
		in[1] = 2;
		in[2] = invalid[i] >> 8;
		in[3] = invalid[i];
		ws_rx_init(&rx, 0);
		ck_assert_msg(ws_rx_feed(&rx, in, 4, &ev) == WS_E_CLOSE_CODE,
			      "close code %u accepted", invalid[i]);
		snprintf(want, sizeof want,
			 "close code %u is not allowed on the wire", invalid[i]);
		ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_CLOSE_CODE, msg,
						sizeof msg), want);
	}
	ck_assert_uint_eq(ws_error_close_code(WS_E_CLOSE_CODE), 1002);
}
END_TEST

START_TEST(close_bodies)
{
	static const unsigned char empty[] = { 0x88, 0x00 };
	static const unsigned char one[] = { 0x88, 0x01, 0x03 };
	static const unsigned char bad_utf8[] = { 0x88, 0x04, 0x03, 0xe8,
						  0xc0, 0x80 };
	static const unsigned char surrogate[] = { 0x88, 0x05, 0x03, 0xe8,
						   0xed, 0xa0, 0x80 };
	static const unsigned char cut_utf8[] = { 0x88, 0x03, 0x03, 0xe8, 0xc3 };
	static const unsigned char good_utf8[] = { 0x88, 0x08, 0x03, 0xe9,
						   0xc3, 0xa9, 0xf0, 0x9f,
						   0x98, 0x80 };
	static const unsigned char overlong3[] = { 0x88, 0x05, 0x03, 0xe8,
						   0xe0, 0x80, 0xaf };
	static const unsigned char overlong4[] = { 0x88, 0x06, 0x03, 0xe8,
						   0xf0, 0x80, 0x80, 0xaf };
	static const unsigned char too_high[] = { 0x88, 0x06, 0x03, 0xe8,
						  0xf4, 0x90, 0x80, 0x80 };
	/* continuation bytes left in the rx by a ping must not complete a
	 * character the close reason cuts short */
	static const unsigned char stale[] = { 0x89, 0x04, 0x80, 0x80, 0x80,
					       0x80, 0x88, 0x03, 0x03, 0xe8,
					       0xc3 };

	expect_trace(0, empty, sizeof empty, "<close:1005:>");
	expect_error(0, one, sizeof one, WS_E_CLOSE_1BYTE, "");
	expect_error(0, bad_utf8, sizeof bad_utf8, WS_E_CLOSE_UTF8, "");
	expect_error(0, surrogate, sizeof surrogate, WS_E_CLOSE_UTF8, "");
	expect_error(0, cut_utf8, sizeof cut_utf8, WS_E_CLOSE_UTF8, "");
	expect_error(0, overlong3, sizeof overlong3, WS_E_CLOSE_UTF8, "");
	expect_error(0, overlong4, sizeof overlong4, WS_E_CLOSE_UTF8, "");
	expect_error(0, too_high, sizeof too_high, WS_E_CLOSE_UTF8, "");
	expect_error(0, stale, sizeof stale, WS_E_CLOSE_UTF8,
		     "<ping:\x80\x80\x80\x80>");
	expect_trace(0, good_utf8, sizeof good_utf8,
		     "<close:1001:\xc3\xa9\xf0\x9f\x98\x80>");
	ck_assert_uint_eq(ws_error_close_code(WS_E_CLOSE_UTF8), 1007);
	ck_assert_uint_eq(ws_error_close_code(WS_E_CLOSE_1BYTE), 1002);
}
END_TEST

START_TEST(after_close)
{
	unsigned char in[64];
	size_t n = 0;

	n = put(in, n, WS_OP_CLOSE, 1, "\x03\xe8", NULL);
	n = put(in, n, WS_OP_BINARY, 1, "late", NULL);
	expect_error(0, in, n, WS_E_AFTER_CLOSE, "<close:1000:>");
}
END_TEST

START_TEST(continuation_without_start)
{
	unsigned char in[64];
	size_t n;

	n = put(in, 0, WS_OP_CONT, 1, "x", NULL);
	expect_error(0, in, n, WS_E_CONT_NO_MESSAGE, "");
	/* nor after a message that has ended */
	n = put(in, 0, WS_OP_BINARY, 1, "a", NULL);
	n = put(in, n, WS_OP_CONT, 0, "b", NULL);
	expect_error(0, in, n, WS_E_CONT_NO_MESSAGE, "{b}a");
	ck_assert_uint_eq(ws_error_close_code(WS_E_CONT_NO_MESSAGE), 1002);
}
END_TEST

START_TEST(data_inside_open_message)
{
	unsigned char in[64];
	struct ws_rx rx;
	struct ws_event ev;
	char buf[80];
	size_t n;
	ssize_t r;

	n = put(in, 0, WS_OP_BINARY, 0, "a", NULL);
	n = put(in, n, WS_OP_PING, 1, "", NULL);
	n = put(in, n, WS_OP_TEXT, 1, "b", NULL);
	expect_error(0, in, n, WS_E_MESSAGE_OPEN, "{b}a<ping:>");

	ws_rx_init(&rx, 0);
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), 3);
	ck_assert_int_eq(ws_rx_feed(&rx, in + 3, n - 3, &ev), 2);
	r = ws_rx_feed(&rx, in + 5, n - 5, &ev);
	ck_assert_int_eq(r, WS_E_MESSAGE_OPEN);
	ck_assert_str_eq(ws_rx_strerror(&rx, r, buf, sizeof buf),
			 "text frame inside a fragmented binary message");
	/* an error is final */
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), WS_E_MESSAGE_OPEN);
	ck_assert_int_eq(ev.type, WS_EV_NEED_MORE);
	ck_assert_uint_eq(ws_error_close_code(WS_E_MESSAGE_OPEN), 1002);
}
END_TEST

/* The kernel path: header through the codec, payload moved by splice. */
START_TEST(skip_payload)
{
	unsigned char in[64];
	struct ws_rx rx;
	struct ws_event ev;
	size_t n;

	ws_rx_init(&rx, 0);
	n = ws_build_header(in, WS_OP_BINARY, 1, 0x100000001ULL, NULL);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0);
	ck_assert_int_eq(ws_rx_skip(&rx, 1), -1);
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), (ssize_t)n);
	ck_assert_int_eq(ev.type, WS_EV_NEED_MORE);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0x100000001ULL);
	ck_assert_int_eq(ws_rx_skip(&rx, 0x100000000ULL), 0);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 1);
	ck_assert_int_eq(ws_rx_skip(&rx, 2), -1);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 1);
	/* the last byte through the codec, then the next frame's header */
	n = 0;
	in[n++] = 'z';
	n = put(in, n, WS_OP_PING, 1, "hi", NULL);
	n = put(in, n, WS_OP_BINARY, 1, "next", NULL);
	expect_trace(0, in + 1, n - 1, "<ping:hi>{b}next");
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), 1);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.data[0], 'z');
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0);
	ck_assert_int_eq(ws_rx_feed(&rx, in + 1, n - 1, &ev), 4);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	/* a header alone; all of the payload skipped lands on the next */
	ck_assert_int_eq(ws_rx_feed(&rx, in + 5, 2, &ev), 2);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 4);
	ck_assert_int_eq(ws_rx_skip(&rx, 4), 0);
	ck_assert_int_eq(rx.state, WS_RX_HEADER);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0);
}
END_TEST

START_TEST(skip_refused_masked_and_control)
{
	unsigned char in[64];
	struct ws_rx rx;
	struct ws_event ev;
	size_t n;

	ws_rx_init(&rx, -1);
	n = ws_build_header(in, WS_OP_BINARY, 1, 1000, key);
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), (ssize_t)n);
	ck_assert_int_eq(rx.state, WS_RX_PAYLOAD);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0);
	ck_assert_int_eq(ws_rx_skip(&rx, 1), -1);

	ws_rx_init(&rx, -1);
	n = ws_build_header(in, WS_OP_PING, 1, 10, NULL);
	ck_assert_int_eq(ws_rx_feed(&rx, in, n, &ev), (ssize_t)n);
	ck_assert_int_eq(rx.state, WS_RX_PAYLOAD);
	ck_assert_uint_eq(ws_rx_payload_left(&rx), 0);
	ck_assert_int_eq(ws_rx_skip(&rx, 1), -1);
}
END_TEST

START_TEST(build_close)
{
	static const unsigned char bye[] = { 0x88, 0x05, 0x03, 0xe8,
					     'b', 'y', 'e' };
	unsigned char out[WS_CONTROL_FRAME_MAX];
	char reason[200];
	size_t n;

	ck_assert_uint_eq(ws_build_close(out, sizeof out, 1000, "bye", NULL), 7);
	ck_assert_int_eq(memcmp(out, bye, 7), 0);
	ck_assert_uint_eq(ws_build_close(out, sizeof out, 0, "ignored", NULL), 2);
	ck_assert_int_eq(out[0], 0x88);
	ck_assert_int_eq(out[1], 0x00);
	ck_assert_uint_eq(ws_build_close(out, sizeof out, 1002, NULL, NULL), 4);
	ck_assert_uint_eq(ws_build_close(out, sizeof out, 1005, "", NULL), 0);
	ck_assert_uint_eq(ws_build_close(out, sizeof out, 999, "", NULL), 0);
	ck_assert_uint_eq(ws_build_close(out, 6, 1000, "bye", NULL), 0);

	/* masked, as a client sends it, and back through a server's rx */
	n = ws_build_close(out, sizeof out, 1001, "going away", key);
	ck_assert_uint_eq(n, 2 + 4 + 12);
	expect_trace(1, out, n, "<close:1001:going away>");

	/* a long reason is cut to 123 bytes, not inside a character */
	memset(reason, 'a', 122);
	strcpy(reason + 122, "\xc3\xa9 and more");
	n = ws_build_close(out, sizeof out, 1000, reason, NULL);
	ck_assert_uint_eq(n, 2 + 2 + 122);
	ck_assert_uint_eq(out[1], 124);
	reason[121] = '\0';
	memset(reason, 'b', 121);
	n = ws_build_close(out, sizeof out, 1000, reason, NULL);
	ck_assert_uint_eq(n, 2 + 2 + 121);
	memset(reason, 'c', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	n = ws_build_close(out, sizeof out, 1000, reason, key);
	ck_assert_uint_eq(n, WS_CONTROL_FRAME_MAX);
	ck_assert_uint_eq(out[1], 0x80 | 125);
}
END_TEST

START_TEST(build_frame)
{
	unsigned char out[WS_CONTROL_FRAME_MAX];
	unsigned char big[WS_CONTROL_MAX + 1];
	size_t n;

	n = ws_build_frame(out, sizeof out, WS_OP_PONG, "abc", 3, key);
	ck_assert_uint_eq(n, 2 + 4 + 3);
	ck_assert_int_eq(out[0], 0x8a);
	ck_assert_int_eq(out[1], 0x83);
	ck_assert_int_eq(out[6], 'a' ^ key[0]);
	ck_assert_int_eq(out[8], 'c' ^ key[2]);
	expect_trace(1, out, n, "<pong:abc>");
	ck_assert_uint_eq(ws_build_frame(out, 8, WS_OP_PONG, "abc", 3, key), 0);
	memset(big, 'x', sizeof big);
	ck_assert_uint_eq(ws_build_frame(out, sizeof out, WS_OP_PING, big,
					 sizeof big, NULL), 0);
	ck_assert_uint_eq(ws_build_frame(out, sizeof out, WS_OP_BINARY, "ok", 2,
					 NULL), 4);
	expect_trace(0, out, 4, "{b}ok");
}
END_TEST

START_TEST(error_table)
{
	char buf[64];
	struct ws_rx rx;

	ws_rx_init(&rx, 0);
	for (int e = WS_E_RSV; e >= WS_E_AFTER_CLOSE; e--) {
		ck_assert_uint_eq(ws_error_close_code(e),
				  e == WS_E_CLOSE_UTF8 ? 1007 : 1002);
		ck_assert_str_ne(ws_error_str(e), "unknown WebSocket error");
		ck_assert_ptr_eq(ws_rx_strerror(&rx, e, buf, sizeof buf), buf);
		ck_assert_uint_gt(strlen(buf), 10);
	}
	ck_assert_uint_eq(ws_error_close_code(WS_E_AFTER_CLOSE - 1), 1011);
	ck_assert_str_eq(ws_error_str(WS_E_AFTER_CLOSE - 1),
			 "unknown WebSocket error");
	ck_assert_str_eq(ws_rx_strerror(&rx, WS_E_AFTER_CLOSE, buf, sizeof buf),
			 "data after close frame");
}
END_TEST

static Suite *ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("ws");

	tcase_add_test(tc, length_encodings);
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, build_header_refuses);
	tcase_add_test(tc, non_minimal_lengths);
	tcase_add_test(tc, length_msb);
	tcase_add_test(tc, reserved_bits);
	tcase_add_test(tc, reserved_opcodes);
	tcase_add_test(tc, control_too_long);
	tcase_add_test(tc, control_fragmented);
	tcase_add_test(tc, masking_policy);
	tcase_add_test(tc, mask_matches_definition);
	tcase_add_test(tc, mask_in_pieces);
	tcase_add_test(tc, stream_fragments_and_ping);
	tcase_add_test(tc, stream_any_chunking);
	tcase_add_test(tc, stream_split_long_header);
	tcase_add_test(tc, close_codes);
	tcase_add_test(tc, close_bodies);
	tcase_add_test(tc, after_close);
	tcase_add_test(tc, continuation_without_start);
	tcase_add_test(tc, data_inside_open_message);
	tcase_add_test(tc, skip_payload);
	tcase_add_test(tc, skip_refused_masked_and_control);
	tcase_add_test(tc, build_close);
	tcase_add_test(tc, build_frame);
	tcase_add_test(tc, error_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(ws_suite());
}
