/* fuzz_hc_join.c - libFuzzer target for the relay's frame filters
 *
 * The first input byte chooses how the stream is made and how it is cut
 * up, the second seeds the cuts and mask keys. The stream is either the
 * rest of the input as it is, or frames built from it (two bytes of
 * description each, then payload), so that long runs of well-formed
 * masked frames with the odd broken one come up often. It goes through
 * hc_unmask_feed() whole, in random pieces and byte by byte, each piece
 * in a buffer of its own behind the headroom as the mover has it: all
 * must give the same output bytes and the same error, keep the in-place
 * promises, and agree with a plain reference decoder. The output must
 * be unmasked frames to ws_parse_header(), and hc_frames must follow
 * their ends and the close frame.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	daemon/ws.c daemon/hc_join.c tests/fuzz/fuzz_hc_join.c \
 *	-o /tmp/fuzz_hc_join
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hc_join.h"
#include "ws.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define GUARD 16
#define GUARD_BYTE 0x5a
#define BUILT_MAX (512 * 1024)	/* a built stream, long frames and all */

/* What a run came to. */
struct fuzz_story {
	unsigned char *out;	/* the output, all pieces' together */
	size_t outlen;
	size_t consumed;	/* input bytes consumed */
	int err;		/* the error that ended it, or 0 */
	int closed;
	int boundary;		/* the filter ended between two frames */
	uint64_t left;		/* payload of the last frame still to come */
};

static uint64_t fuzz_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/** @brief One piece read from the peer, in a buffer of its own behind
 *  the headroom (and guard bytes), fed until consumed or failed. */
static void fuzz_piece(struct hc_unmask *u, const unsigned char *p, size_t n,
		       struct fuzz_story *st)
{
	size_t total = GUARD + HC_UNMASK_HEADROOM + n + GUARD, pos = 0;
	unsigned char *buf = malloc(total), *in = buf + GUARD + HC_UNMASK_HEADROOM;

	CHECK(buf);
	memset(buf, GUARD_BYTE, total);
	memcpy(in, p, n);
	while (pos < n && !st->err) {
		unsigned char *out;
		size_t used, rest = n - pos;
		ssize_t r = hc_unmask_feed(u, in + pos, rest, &out, &used);

		if (r < 0) {
			CHECK(r == u->err);
			CHECK(ws_error_close_code(r) != WS_CLOSE_INTERNAL);
			/* final */
			CHECK(hc_unmask_feed(u, in, n, &out, &used) == r);
			CHECK(hc_unmask_feed(u, in, 0, &out, &used) == r);
			st->err = r;
			break;
		}
		CHECK(used <= rest);
		CHECK(out >= in + pos - HC_UNMASK_HEADROOM && out <= in + pos);
		CHECK(out + r <= in + pos + used);
		/* the input not consumed is as it came */
		CHECK(memcmp(in + pos + used, p + pos + used, rest - used) == 0);
		CHECK(used == rest || r > 0);
		memcpy(st->out + st->outlen, out, r);
		st->outlen += r;
		st->consumed += used;
		pos += used;
	}
	for (size_t i = 0; i < GUARD; i++)
		CHECK(buf[i] == GUARD_BYTE && in[n + i] == GUARD_BYTE);
	free(buf);
}

/** @brief Feed @in in pieces of at most @maxpiece bytes (0: whole). */
static void fuzz_run(struct fuzz_story *st, const unsigned char *in,
		     size_t len, unsigned maxpiece, uint64_t seed)
{
	struct hc_unmask u;
	size_t at = 0;

	memset(st, 0, sizeof *st);
	/* The output never outgrows the input. */
	st->out = malloc(len + 1);
	CHECK(st->out);
	hc_unmask_init(&u);
	while (at < len && !st->err) {
		size_t n = maxpiece ? 1 + fuzz_rnd(&seed) % maxpiece : len;

		if (n > len - at)
			n = len - at;
		fuzz_piece(&u, in + at, n, st);
		at += n;
	}
	CHECK(st->outlen <= st->consumed);
	st->closed = u.closed;
	st->boundary = hc_unmask_boundary(&u);
	st->left = u.left;
	if (!st->err)
		CHECK(st->consumed == len);
	if (u.closed)
		CHECK(st->boundary);
}

/** @brief The definition, the simple way: whole buffer, a separate
 *  output, byte by byte XOR. Returns the output length; *@err the error
 *  that stops it. */
static size_t fuzz_ref(const unsigned char *in, size_t len, unsigned char *out,
		       int *err)
{
	size_t pos = 0, o = 0;
	int open = 0, closed = 0;

	*err = 0;
	while (pos < len) {
		struct ws_header h;
		int r;
		uint64_t n;

		if (closed) {
			*err = WS_E_AFTER_CLOSE;
			break;
		}
		r = ws_parse_header(in + pos, len - pos, 1, &h);
		if (r == WS_INCOMPLETE)
			break;
		if (r < 0) {
			*err = r;
			break;
		}
		if (h.opcode < WS_OP_CLOSE) {
			if (h.opcode == WS_OP_CONT && !open) {
				*err = WS_E_CONT_NO_MESSAGE;
				break;
			}
			if (h.opcode != WS_OP_CONT && open) {
				*err = WS_E_MESSAGE_OPEN;
				break;
			}
			open = !h.fin;
		}
		/* the same header, 4 bytes shorter without the key */
		CHECK(ws_build_header(out + o, h.opcode, h.fin, h.len, NULL) ==
		      (size_t)r - 4);
		o += r - 4;
		pos += r;
		n = h.len < len - pos ? h.len : len - pos;
		for (uint64_t i = 0; i < n; i++)
			out[o + i] = in[pos + i] ^ h.mask[i & 3];
		o += n;
		pos += n;
		if (h.opcode == WS_OP_CLOSE && n == h.len)
			closed = 1;
	}
	return o;
}

/** @brief The output is unmasked frames, cut (if at all) only where the
 *  filter says a payload is still to come. */
static void fuzz_walk(const struct fuzz_story *st)
{
	size_t pos = 0;
	uint64_t cut = 0;

	while (pos < st->outlen) {
		struct ws_header h;
		int r = ws_parse_header(st->out + pos, st->outlen - pos, 0, &h);

		CHECK(r > 0);
		pos += r;
		if (h.len > st->outlen - pos) {
			cut = h.len - (st->outlen - pos);
			pos = st->outlen;
		} else {
			pos += h.len;
		}
	}
	CHECK(cut == st->left);
}

/** @brief hc_frames over the output in pieces follows what the filter
 *  says of it: where the last frame ends and whether it was the close. */
static void fuzz_frames(const struct fuzz_story *st, uint64_t seed)
{
	struct hc_frames f;
	size_t at = 0;

	hc_frames_init(&f);
	CHECK(hc_frames_boundary(&f));
	while (at < st->outlen) {
		size_t n = 1 + fuzz_rnd(&seed) % 64;

		if (n > st->outlen - at)
			n = st->outlen - at;
		CHECK(hc_frames_feed(&f, st->out + at, n) == 0);
		at += n;
	}
	CHECK(f.closed == st->closed);
	CHECK(f.left == st->left && f.nhead == 0);
	CHECK(hc_frames_boundary(&f) == (!st->closed && st->left == 0));
	if (st->closed)
		CHECK(hc_frames_feed(&f, st->out, 1) == WS_E_AFTER_CLOSE);
}

/** @brief Frames from descriptions: per frame a byte (bits 0-2 the
 *  opcode, from a table that has reserved ones too; bit 3 FIN; bits 4-5
 *  the length's size; bit 6 unmasked; bit 7 cut the stream inside this
 *  frame) and a length byte, then payload from the input as far as it
 *  goes (pseudo-random bytes after). Returns the stream's length. */
static size_t fuzz_build(const unsigned char *d, size_t n, unsigned char *s,
			 uint64_t seed)
{
	static const unsigned ops[8] = { WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY,
					 WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG,
					 WS_OP_BINARY, 0x3 };
	size_t pos = 0, o = 0;

	while (pos + 2 <= n) {
		unsigned b = d[pos], l = d[pos + 1];
		unsigned op = ops[b & 7];
		int fin = (b >> 3) & 1;
		uint64_t len;
		unsigned char key[4], h[WS_HEADER_MAX];
		uint64_t k = fuzz_rnd(&seed);
		size_t hl;

		pos += 2;
		switch ((b >> 4) & 3) {
		case 0:
			len = l % 126;
			break;
		case 1:
			len = 126 + l * 37;
			break;
		case 2:
			len = 65536 + l;
			break;
		default:
			len = l % 8;
			break;
		}
		memcpy(key, &k, 4);
		if (op == 0x3 || (op >= WS_OP_CLOSE && !fin && (l & 1))) {
			/* a reserved opcode, or a control frame without FIN:
			 * headers ws_build_header() refuses to write */
			h[0] = (fin ? 0x80 : 0) | op;
			h[1] = 0x80;
			memcpy(h + 2, key, 4);
			hl = 6;
			len = 0;
		} else {
			if (op >= WS_OP_CLOSE) {
				fin = 1;
				if (len > WS_CONTROL_MAX)
					len = l % 126;
			}
			hl = ws_build_header(h, op, fin, len,
					     b & 0x40 ? NULL : key);
			CHECK(hl > 0);
		}
		if (o + hl + len > BUILT_MAX)
			break;
		memcpy(s + o, h, hl);
		o += hl;
		for (uint64_t i = 0; i < len; i++, pos++)
			s[o + i] = (pos < n ? d[pos] : (unsigned char)fuzz_rnd(&seed)) ^
				key[i & 3];
		o += len;
		if (b & 0x80) {
			/* cut inside the frame: its header or its payload */
			o -= 1 + fuzz_rnd(&seed) % (hl + len < 8 ? hl + len : 8);
			break;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_story whole, pieces, bytes;
	unsigned char *built = NULL, *ref;
	const unsigned char *in = data + 2;
	size_t len, reflen;
	unsigned maxpiece;
	uint64_t seed;
	int referr;

	if (size < 2)
		return 0;
	len = size - 2;
	seed = 0x9e3779b97f4a7c15ULL ^ data[1];
	maxpiece = 1u << (data[0] >> 5);	/* 1 .. 128 */
	if (data[0] & 1) {
		built = malloc(BUILT_MAX);
		CHECK(built);
		len = fuzz_build(in, len, built, seed);
		in = built;
	}

	fuzz_run(&whole, in, len, 0, seed);
	fuzz_run(&pieces, in, len, maxpiece, seed);
	CHECK(whole.err == pieces.err && whole.closed == pieces.closed);
	CHECK(whole.outlen == pieces.outlen);
	CHECK(memcmp(whole.out, pieces.out, whole.outlen) == 0);
	CHECK(whole.left == pieces.left && whole.boundary == pieces.boundary);
	if (!whole.err)
		CHECK(whole.consumed == pieces.consumed);
	if (len <= 4096) {
		fuzz_run(&bytes, in, len, 1, seed);
		CHECK(whole.err == bytes.err && whole.closed == bytes.closed);
		CHECK(whole.outlen == bytes.outlen);
		CHECK(memcmp(whole.out, bytes.out, whole.outlen) == 0);
		free(bytes.out);
	}

	/* the reference decoder tells the same story */
	ref = malloc(len + 1);
	CHECK(ref);
	reflen = fuzz_ref(in, len, ref, &referr);
	CHECK(referr == whole.err);
	CHECK(reflen == whole.outlen && memcmp(ref, whole.out, reflen) == 0);
	free(ref);

	fuzz_walk(&whole);
	fuzz_frames(&whole, seed);
	free(whole.out);
	free(pieces.out);
	free(built);
	return 0;
}
