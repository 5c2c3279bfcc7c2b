/* test_hc_join.c - the relay's frame filters: unmasking in place, frame
 * boundaries of the verbatim direction */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc_join.h"
#include "unit.h"
#include "ws.h"

#define GUARD 32		/* canary bytes around each piece's buffer */
#define STREAM_MAX (3 * 70000)
#define GUARD_BYTE 0xa5

/** @brief Deterministic pseudo-random numbers (xorshift64). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A stream as a peer sends it (in, masked) and as the filter must pass it
 * on (want, unmasked), built frame by frame. */
struct stream {
	unsigned char in[STREAM_MAX];
	size_t inlen;
	unsigned char want[STREAM_MAX];
	size_t wantlen;
	size_t ends[64];	/* where each frame of in ends */
	int nframes;
	uint64_t seed;		/* mask keys and payload bytes */
};

static void stream_init(struct stream *s)
{
	memset(s, 0, sizeof *s);
	s->seed = 0x2545f4914f6cdd1dULL;
}

/** @brief Append a frame of @len payload bytes (@p, or pseudo-random
 *  bytes if NULL), masked with a fresh key to in and unmasked to want. */
static void add(struct stream *s, unsigned op, int fin, const void *p,
		size_t len)
{
	unsigned char key[4], *pay;
	uint64_t k = rnd(&s->seed);
	size_t n;

	memcpy(key, &k, 4);
	ck_assert_uint_le(s->inlen + WS_HEADER_MAX + len, sizeof s->in);
	n = ws_build_header(s->want + s->wantlen, op, fin, len, NULL);
	ck_assert_uint_gt(n, 0);
	pay = s->want + s->wantlen + n;
	for (size_t i = 0; i < len; i++)
		pay[i] = p ? ((const unsigned char *)p)[i] : (unsigned char)rnd(&s->seed);
	s->wantlen += n + len;
	n = ws_build_header(s->in + s->inlen, op, fin, len, key);
	ck_assert_uint_gt(n, 0);
	memcpy(s->in + s->inlen + n, pay, len);
	ws_mask(s->in + s->inlen + n, len, key, 0);
	s->inlen += n + len;
	ck_assert_int_lt(s->nframes, 64);
	s->ends[s->nframes++] = s->inlen;
}

/** @brief The same for a whole small frame, expected as ws_build_frame()
 *  writes it. */
static void add_frame(struct stream *s, unsigned op, const char *p)
{
	unsigned char f[WS_CONTROL_FRAME_MAX + 64];
	size_t n = ws_build_frame(f, sizeof f, op, p, strlen(p), NULL);
	size_t at = s->wantlen;

	ck_assert_uint_gt(n, 0);
	add(s, op, 1, p, strlen(p));
	ck_assert_uint_eq(s->wantlen - at, n);
	ck_assert_int_eq(memcmp(s->want + at, f, n), 0);
}

/** @brief A close frame as ws_build_close() writes it. */
static void add_close(struct stream *s, uint16_t code, const char *reason)
{
	unsigned char f[WS_CONTROL_FRAME_MAX];
	size_t n = ws_build_close(f, sizeof f, code, reason, NULL);

	ck_assert_uint_gt(n, 0);
	add(s, WS_OP_CLOSE, 1, f + 2, n - 2);
	ck_assert_int_eq(memcmp(s->want + s->wantlen - n, f, n), 0);
}

/* What feeding came to. */
struct result {
	unsigned char out[STREAM_MAX];
	size_t outlen;
	int err;
	size_t consumed;	/* input bytes consumed before the error */
};

static unsigned char scratch[GUARD + HC_UNMASK_HEADROOM + STREAM_MAX + GUARD];
static unsigned char before[STREAM_MAX];

/* Check's assertions log each pass (a write per call), too slow for the
 * millions of feeds here: the hot checks abort only when they fail. */
#define MUST(cond) do { if (!(cond)) ck_abort_msg("failed: %s", #cond); } while (0)

/** @brief One read from the peer, as the mover handles it: the bytes in a
 *  buffer behind HC_UNMASK_HEADROOM bytes of room, fed until consumed,
 *  each output taken as it comes. Checks the in-place promises: the
 *  output lies in the headroom and the consumed input, bytes not yet
 *  consumed are untouched, and nothing outside the room is written. */
static void feed_piece(struct hc_unmask *u, const unsigned char *p, size_t n,
		       struct result *res)
{
	unsigned char *in = scratch + GUARD + HC_UNMASK_HEADROOM;
	size_t pos = 0;

	if (res->err)
		return;
	memset(scratch, GUARD_BYTE, GUARD + HC_UNMASK_HEADROOM + n + GUARD);
	memcpy(in, p, n);
	do {
		unsigned char *out;
		size_t used, rest = n - pos;
		ssize_t r;

		memcpy(before, in + pos, rest);
		r = hc_unmask_feed(u, in + pos, rest, &out, &used);
		if (r < 0) {
			res->err = r;
			MUST(r == u->err);
			break;
		}
		MUST(used <= rest);
		MUST(out >= in + pos - HC_UNMASK_HEADROOM && out <= in + pos);
		MUST(out + r <= in + pos + used);
		MUST(memcmp(in + pos + used, before + used, rest - used) == 0);
		MUST(res->outlen + r <= sizeof res->out);
		memcpy(res->out + res->outlen, out, r);
		res->outlen += r;
		res->consumed += used;
		/* only a stop behind output leaves input over */
		MUST(used == rest || r > 0);
		pos += used;
	} while (pos < n);
	for (size_t i = 0; i < GUARD; i++)
		MUST(scratch[i] == GUARD_BYTE && in[n + i] == GUARD_BYTE);
}

/** @brief Feed @len bytes of @in cut at the @ncuts offsets of @cuts
 *  (ascending). */
static void feed_cuts(struct result *res, const unsigned char *in, size_t len,
		      const size_t *cuts, int ncuts)
{
	struct hc_unmask u;
	size_t at = 0;

	memset(res, 0, sizeof *res);
	hc_unmask_init(&u);
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		feed_piece(&u, in + at, end - at, res);
		at = end;
	}
}

/** @brief Feed in pieces of @step bytes (0: whole, SIZE_MAX: random
 *  sizes of 1..@seed % 40 + 1 from @seed). */
static void feed_steps(struct result *res, const unsigned char *in,
		       size_t len, size_t step, uint64_t seed)
{
	struct hc_unmask u;
	size_t at = 0, max = seed % 40 + 1;

	memset(res, 0, sizeof *res);
	hc_unmask_init(&u);
	while (at < len) {
		size_t n = step == 0 ? len : step == SIZE_MAX ?
			1 + rnd(&seed) % max : step;

		if (n > len - at)
			n = len - at;
		feed_piece(&u, in + at, n, res);
		at += n;
	}
}

static void expect_out(const struct result *res, const struct stream *s)
{
	if (res->err)
		ck_abort_msg("error %d: %s", res->err, ws_error_str(res->err));
	MUST(res->outlen == s->wantlen);
	MUST(memcmp(res->out, s->want, s->wantlen) == 0);
	MUST(res->consumed == s->inlen);
}

/** @brief Frames of every shape: 7-, 16- and 64-bit lengths at their
 *  edges, empty ones, fragmented messages with control frames between
 *  the fragments, and a close with code and reason. */
static void shapes(struct stream *s, int big)
{
	stream_init(s);
	add_frame(s, WS_OP_TEXT, "hello");
	add(s, WS_OP_BINARY, 1, NULL, 0);
	add(s, WS_OP_BINARY, 1, NULL, 125);
	add(s, WS_OP_BINARY, 1, NULL, 126);
	add(s, WS_OP_TEXT, 0, "frag", 4);
	add_frame(s, WS_OP_PING, "are you there");
	add(s, WS_OP_CONT, 0, "ment", 4);
	add_frame(s, WS_OP_PONG, "");
	add(s, WS_OP_CONT, 0, NULL, 0);
	add(s, WS_OP_CONT, 1, "ed", 2);
	add(s, WS_OP_BINARY, 0, NULL, 300);
	add_frame(s, WS_OP_PING, "");
	add(s, WS_OP_CONT, 1, NULL, 7);
	if (big) {
		add(s, WS_OP_BINARY, 1, NULL, 65535);
		add(s, WS_OP_BINARY, 0, NULL, 65536);
		add(s, WS_OP_CONT, 1, NULL, 70000);
	}
	add_frame(s, WS_OP_PONG, "x");
	add_close(s, 1000, "bye now");
}

static struct stream st;
static struct result res;

START_TEST(whole_and_bytewise)
{
	for (int big = 0; big < 2; big++) {
		shapes(&st, big);
		feed_steps(&res, st.in, st.inlen, 0, 0);
		expect_out(&res, &st);
		feed_steps(&res, st.in, st.inlen, 1, 0);
		expect_out(&res, &st);
		for (uint64_t seed = 1; seed < 40; seed++) {
			feed_steps(&res, st.in, st.inlen, SIZE_MAX, seed * 7919);
			expect_out(&res, &st);
		}
	}
}
END_TEST

START_TEST(split_at_every_offset)
{
	shapes(&st, 0);
	for (size_t k = 1; k < st.inlen; k++) {
		size_t cuts[2] = { k, 0 };

		feed_cuts(&res, st.in, st.inlen, cuts, 1);
		expect_out(&res, &st);
		/* and a second cut close behind: headers in three pieces,
		 * a saved part completed by a piece that is itself short */
		for (size_t j = k + 1; j < st.inlen && j <= k + 16; j++) {
			cuts[1] = j;
			feed_cuts(&res, st.in, st.inlen, cuts, 2);
			expect_out(&res, &st);
		}
	}
}
END_TEST

START_TEST(split_around_long_headers)
{
	shapes(&st, 1);
	/* every cut near a frame's start, where the headers are */
	for (int f = 0; f < st.nframes; f++) {
		size_t start = f ? st.ends[f - 1] : 0;

		for (size_t k = start; k < start + 24 && k < st.inlen; k++) {
			size_t cuts[2] = { k ? k : 1, k + 1 };
			int ncuts = k + 1 < st.inlen ? 2 : 1;

			feed_cuts(&res, st.in, st.inlen, cuts, ncuts);
			expect_out(&res, &st);
		}
	}
}
END_TEST

/* The case in-place unmasking can get wrong: a 14-byte header of which
 * 13 bytes came in the last read. Completing it writes 10 header bytes
 * for the 1 byte this read gave; written at the start of this buffer,
 * they would cover payload not yet unmasked. */
START_TEST(saved_header_uses_headroom)
{
	unsigned char *in = scratch + GUARD + HC_UNMASK_HEADROOM, *out;
	struct hc_unmask u;
	size_t used;
	ssize_t r;

	stream_init(&st);
	add(&st, WS_OP_BINARY, 1, NULL, 65536);
	add_frame(&st, WS_OP_TEXT, "tail");
	for (size_t saved = 1; saved < 14; saved++) {
		hc_unmask_init(&u);
		memset(scratch, GUARD_BYTE, sizeof scratch);
		memcpy(in, st.in, saved);
		r = hc_unmask_feed(&u, in, saved, &out, &used);
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(used, saved);
		ck_assert_uint_eq(u.nhead, saved);
		ck_assert_int_eq(hc_unmask_boundary(&u), 0);

		memcpy(in, st.in + saved, st.inlen - saved);
		r = hc_unmask_feed(&u, in, st.inlen - saved, &out, &used);
		ck_assert_int_eq(r, (ssize_t)st.wantlen);
		ck_assert_uint_eq(used, st.inlen - saved);
		/* the saved part went back in front of the buffer */
		ck_assert(out == in - saved);
		ck_assert_int_eq(memcmp(out, st.want, st.wantlen), 0);
		ck_assert_uint_eq(scratch[GUARD - 1], GUARD_BYTE);
		ck_assert_int_eq(hc_unmask_boundary(&u), 1);
	}
}
END_TEST

START_TEST(payload_across_reads)
{
	unsigned char *in = scratch + GUARD + HC_UNMASK_HEADROOM, *out;
	struct hc_unmask u;
	size_t used, at = 0;
	ssize_t r;

	/* a read that ends inside a payload: what came is passed at once */
	stream_init(&st);
	add(&st, WS_OP_BINARY, 1, NULL, 1000);
	hc_unmask_init(&u);
	memcpy(in, st.in, 100);
	r = hc_unmask_feed(&u, in, 100, &out, &used);
	ck_assert_int_eq(r, 96);
	ck_assert(out == in);
	ck_assert_int_eq(memcmp(out, st.want, 96), 0);
	ck_assert_uint_eq(u.left, 1000 - 92);
	at = 100;
	memcpy(in, st.in + at, st.inlen - at);
	r = hc_unmask_feed(&u, in, st.inlen - at, &out, &used);
	ck_assert_int_eq(r, (ssize_t)(st.inlen - at));
	ck_assert(out == in);
	ck_assert_int_eq(memcmp(out, st.want + 96, r), 0);
	ck_assert_int_eq(hc_unmask_boundary(&u), 1);
}
END_TEST

/** @brief A stream of one frame as written (@hdr, @n bytes) must fail
 *  with @err, fed whole and byte by byte. */
static void expect_error(const unsigned char *bytes, size_t n, int err)
{
	feed_steps(&res, bytes, n, 0, 0);
	ck_assert_int_eq(res.err, err);
	ck_assert_uint_eq(res.outlen, 0);
	feed_steps(&res, bytes, n, 1, 0);
	ck_assert_int_eq(res.err, err);
	ck_assert_uint_eq(res.outlen, 0);
}

START_TEST(header_errors)
{
	static const unsigned char unmasked[] = { 0x82, 0x03, 'a', 'b', 'c' };
	static const unsigned char opcode3[] = { 0x83, 0x80, 1, 2, 3, 4 };
	static const unsigned char opcodeb[] = { 0x8b, 0x80, 1, 2, 3, 4 };
	static const unsigned char rsv1[] = { 0xc2, 0x80, 1, 2, 3, 4 };
	static const unsigned char ping_nofin[] = { 0x09, 0x80, 1, 2, 3, 4 };
	static const unsigned char ping126[] = { 0x89, 0xfe, 0x00, 0x7e };
	static const unsigned char len16_5[] = { 0x82, 0xfe, 0x00, 0x05 };
	static const unsigned char len64_msb[] = { 0x82, 0xff, 0x80, 0, 0, 0,
						   0, 0, 0, 0 };

	expect_error(unmasked, sizeof unmasked, WS_E_UNMASKED);
	expect_error(opcode3, sizeof opcode3, WS_E_OPCODE);
	expect_error(opcodeb, sizeof opcodeb, WS_E_OPCODE);
	expect_error(rsv1, sizeof rsv1, WS_E_RSV);
	expect_error(ping_nofin, sizeof ping_nofin, WS_E_CTRL_FRAGMENTED);
	expect_error(ping126, sizeof ping126, WS_E_CTRL_TOO_LONG);
	expect_error(len16_5, sizeof len16_5, WS_E_LEN_NOT_MINIMAL);
	expect_error(len64_msb, sizeof len64_msb, WS_E_LEN_MSB);
	ck_assert_uint_eq(ws_error_close_code(WS_E_UNMASKED), 1002);
}
END_TEST

START_TEST(message_order_errors)
{
	/* a continuation with no message open */
	stream_init(&st);
	add(&st, WS_OP_CONT, 1, "x", 1);
	expect_error(st.in, st.inlen, WS_E_CONT_NO_MESSAGE);

	/* nor after a message has ended */
	stream_init(&st);
	add(&st, WS_OP_TEXT, 1, "a", 1);
	add(&st, WS_OP_CONT, 1, "b", 1);
	feed_steps(&res, st.in, st.inlen, 0, 0);
	ck_assert_int_eq(res.err, WS_E_CONT_NO_MESSAGE);
	ck_assert_uint_eq(res.outlen, 3);	/* the text frame went first */
	ck_assert_uint_eq(res.consumed, st.ends[0]);

	/* a new message inside a fragmented one, after a ping between */
	stream_init(&st);
	add(&st, WS_OP_BINARY, 0, "a", 1);
	add_frame(&st, WS_OP_PING, "p");
	add(&st, WS_OP_TEXT, 1, "b", 1);
	for (size_t step = 0; step < 3; step++) {
		feed_steps(&res, st.in, st.inlen, step, 0);
		ck_assert_int_eq(res.err, WS_E_MESSAGE_OPEN);
		ck_assert_uint_eq(res.outlen, 3 + 3);
		ck_assert_int_eq(memcmp(res.out, st.want, 6), 0);
		/* fed whole, the bad frame is left over; in pieces its
		 * first bytes were taken (kept) before it was known bad */
		if (step == 0)
			ck_assert_uint_eq(res.consumed, st.ends[1]);
		else
			ck_assert_uint_gt(res.consumed, st.ends[1]);
	}
}
END_TEST

START_TEST(error_is_final)
{
	static const unsigned char bad[] = { 0x83, 0x80, 1, 2, 3, 4 };
	unsigned char *in = scratch + GUARD + HC_UNMASK_HEADROOM, *out;
	struct hc_unmask u;
	size_t used;
	ssize_t r;

	/* a good frame, then a bad one in the same read */
	stream_init(&st);
	add_frame(&st, WS_OP_BINARY, "good");
	memcpy(st.in + st.inlen, bad, sizeof bad);
	hc_unmask_init(&u);
	memcpy(in, st.in, st.inlen + sizeof bad);
	r = hc_unmask_feed(&u, in, st.inlen + sizeof bad, &out, &used);
	ck_assert_int_eq(r, (ssize_t)st.wantlen);
	ck_assert_uint_eq(used, st.inlen);
	ck_assert_int_eq(memcmp(out, st.want, st.wantlen), 0);
	ck_assert_int_eq(memcmp(in + used, bad, sizeof bad), 0);
	/* the rest gives the error, and so does anything after */
	ck_assert_int_eq(hc_unmask_feed(&u, in + used, sizeof bad, &out, &used),
			 WS_E_OPCODE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(hc_unmask_feed(&u, in, 0, &out, &used), WS_E_OPCODE);
	memcpy(in, st.in, st.inlen);
	ck_assert_int_eq(hc_unmask_feed(&u, in, st.inlen, &out, &used),
			 WS_E_OPCODE);
	ck_assert_uint_eq(u.hdr.opcode, 3);	/* the frame that failed */
}
END_TEST

START_TEST(after_close)
{
	unsigned char *in = scratch + GUARD + HC_UNMASK_HEADROOM, *out;
	struct hc_unmask u;
	size_t used;
	ssize_t r;

	stream_init(&st);
	add_frame(&st, WS_OP_TEXT, "last words");
	add_close(&st, 1001, "going away");
	/* in the same read: the frames up to the close, then the error */
	hc_unmask_init(&u);
	memcpy(in, st.in, st.inlen);
	in[st.inlen] = 0x81;
	r = hc_unmask_feed(&u, in, st.inlen + 1, &out, &used);
	ck_assert_int_eq(r, (ssize_t)st.wantlen);
	ck_assert_uint_eq(used, st.inlen);
	ck_assert_int_eq(memcmp(out, st.want, st.wantlen), 0);
	ck_assert_int_eq(u.closed, 1);
	ck_assert_int_eq(u.err, 0);
	ck_assert_int_eq(hc_unmask_feed(&u, in + used, 1, &out, &used),
			 WS_E_AFTER_CLOSE);
	ck_assert_uint_eq(ws_error_close_code(WS_E_AFTER_CLOSE), 1002);

	/* in a later read; an empty one is no error */
	hc_unmask_init(&u);
	memcpy(in, st.in, st.inlen);
	r = hc_unmask_feed(&u, in, st.inlen, &out, &used);
	ck_assert_int_eq(r, (ssize_t)st.wantlen);
	ck_assert_int_eq(u.closed, 1);
	ck_assert_int_eq(hc_unmask_feed(&u, in, 0, &out, &used), 0);
	in[0] = 0x89;
	ck_assert_int_eq(hc_unmask_feed(&u, in, 1, &out, &used),
			 WS_E_AFTER_CLOSE);

	/* a close whose payload is split is passed only when whole */
	for (size_t k = 1; k < st.inlen; k++) {
		size_t cut = k;

		feed_cuts(&res, st.in, st.inlen, &cut, 1);
		expect_out(&res, &st);
	}
}
END_TEST

START_TEST(close_bodies_pass_as_they_are)
{
	static const char one[] = "\x03";
	static const char nostatus[] = "\x03\xed";	/* 1005: not for the wire */
	static const char badutf8[] = "\x03\xe8\xff\xfe";

	/* the endpoints judge close bodies; the relay passes them on */
	stream_init(&st);
	add(&st, WS_OP_CLOSE, 1, one, 1);
	feed_steps(&res, st.in, st.inlen, 0, 0);
	expect_out(&res, &st);
	stream_init(&st);
	add(&st, WS_OP_CLOSE, 1, nostatus, 2);
	feed_steps(&res, st.in, st.inlen, 1, 0);
	expect_out(&res, &st);
	stream_init(&st);
	add(&st, WS_OP_CLOSE, 1, badutf8, 4);
	feed_steps(&res, st.in, st.inlen, 0, 0);
	expect_out(&res, &st);
	/* an empty close too */
	stream_init(&st);
	add(&st, WS_OP_CLOSE, 1, NULL, 0);
	feed_steps(&res, st.in, st.inlen, 0, 0);
	expect_out(&res, &st);
	ck_assert_uint_eq(res.outlen, 2);
}
END_TEST

START_TEST(frames_tracks_boundaries)
{
	struct hc_frames f;
	size_t wend[64], at = 0;
	uint64_t seed = 99;

	shapes(&st, 1);
	/* where each frame ends in the unmasked stream */
	for (int i = 0; i < st.nframes; i++) {
		size_t inlen = st.ends[i] - (i ? st.ends[i - 1] : 0);

		at += inlen - 4;
		wend[i] = at;
	}
	ck_assert_uint_eq(at, st.wantlen);
	for (int round = 0; round < 20; round++) {
		int next = 0;

		hc_frames_init(&f);
		ck_assert_int_eq(hc_frames_boundary(&f), 1);
		at = 0;
		while (at < st.wantlen) {
			size_t n = 1 + rnd(&seed) % (round < 10 ? 20 : 40000);

			if (n > st.wantlen - at)
				n = st.wantlen - at;
			MUST(hc_frames_feed(&f, st.want + at, n) == 0);
			at += n;
			while (next < st.nframes && wend[next] < at)
				next++;
			/* at a boundary exactly when a frame ended here;
			 * after the close frame, no more frames may go */
			MUST(hc_frames_boundary(&f) ==
			     (next < st.nframes - 1 && wend[next] == at));
			MUST(f.closed == (at == st.wantlen));
		}
	}
	/* anything after the close frame is no stream of ours */
	ck_assert_int_eq(hc_frames_feed(&f, st.want, 1), WS_E_AFTER_CLOSE);
	ck_assert_int_eq(hc_frames_feed(&f, NULL, 0), WS_E_AFTER_CLOSE);

	/* masked frames are not what the other half writes */
	hc_frames_init(&f);
	ck_assert_int_eq(hc_frames_feed(&f, st.in, 2), WS_E_MASKED);
	ck_assert_int_eq(hc_frames_boundary(&f), 0);
}
END_TEST

static Suite *hc_join_suite(void)
{
	Suite *s = suite_create("hc_join");
	TCase *tc = tcase_create("hc_join");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, whole_and_bytewise);
	tcase_add_test(tc, split_at_every_offset);
	tcase_add_test(tc, split_around_long_headers);
	tcase_add_test(tc, saved_header_uses_headroom);
	tcase_add_test(tc, payload_across_reads);
	tcase_add_test(tc, header_errors);
	tcase_add_test(tc, message_order_errors);
	tcase_add_test(tc, error_is_final);
	tcase_add_test(tc, after_close);
	tcase_add_test(tc, close_bodies_pass_as_they_are);
	tcase_add_test(tc, frames_tracks_boundaries);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(hc_join_suite());
}
