/* fuzz_srec.c - libFuzzer target for the TLS 1.3 record layer (srec)
 *
 * Two srec ends are made from fixed traffic secrets. The input is used
 * twice:
 *  - as a byte stream from the peer (after the first byte, which says
 *    how to cut it up and which end reads it), fed to srec_open() in
 *    pieces and whole, and every record it opens to srec_control(): no
 *    crash, no record longer than the limits, never more bytes used than
 *    were there, never a wait for more than one longest record, and the
 *    same story however the stream was cut up. The seeds are records
 *    sealed with these secrets (AES-128-GCM, SHA-256), so that mutations
 *    reach past the AEAD;
 *  - as a script of operations (data of some size, padded or not,
 *    KeyUpdates asked for or not, bursts of them, close_notify, other
 *    alerts, tickets whole or split, records of any type, a flipped bit) on one end whose
 *    records the other end opens: a differential round trip, every byte
 *    and every srec_control() answer as the script says they must be.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	tests/fuzz/fuzz_srec.c build/daemon/libssltunnel.a \
 *	$(pkg-config --libs gnutls) -o /tmp/fuzz_srec
 *   (libssltunnel.a built with -fsanitize=fuzzer-no-link: scripts/fuzz)
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srec.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define FUZZ_WHY 200
#define FUZZ_REC (SREC_HDR + SREC_MAX_CIPHER + 64)
#define FUZZ_OPS 64			/* script operations per input */
#define FUZZ_BUDGET (96 * 1024)		/* data bytes sealed per script */

static const struct {
	gnutls_cipher_algorithm_t cipher;
	gnutls_mac_algorithm_t mac;
	unsigned secret_len;
} fuzz_suites[] = {
	{ GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256, 32 },
	{ GNUTLS_CIPHER_AES_256_GCM, GNUTLS_MAC_SHA384, 48 },
	{ GNUTLS_CIPHER_CHACHA20_POLY1305, GNUTLS_MAC_SHA256, 32 },
};

static uint64_t fuzz_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fuzz_hash(uint64_t *h, uint64_t tag, const void *p, size_t n)
{
	const unsigned char *b = p;

	*h = (*h ^ tag) * 0x100000001b3ULL;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ULL;
}

/** @brief The two ends of suite @k from the fixed secrets (client
 *  0x10.., server 0x80..: tests/fuzz/seeds/srec were sealed with them). */
static void fuzz_pair(int k, struct srec *srv, struct srec *cli)
{
	struct srec_secrets sec;
	char why[FUZZ_WHY];

	memset(&sec, 0, sizeof sec);
	for (unsigned i = 0; i < fuzz_suites[k].secret_len; i++) {
		sec.client[i] = 0x10 + i;
		sec.server[i] = 0x80 + i;
	}
	sec.len = fuzz_suites[k].secret_len;
	sec.have = 3;
	CHECK(srec_init(srv, fuzz_suites[k].cipher, fuzz_suites[k].mac, &sec,
			1, 0, 0, why, sizeof why) == 0);
	CHECK(srec_init(cli, fuzz_suites[k].cipher, fuzz_suites[k].mac, &sec,
			0, 0, 0, why, sizeof why) == 0);
}

/** @brief An error srec_open() may give (srec.h). */
static int fuzz_open_err(int rc)
{
	return rc == GNUTLS_E_DECRYPTION_FAILED ||
	       rc == GNUTLS_E_RECORD_OVERFLOW ||
	       rc == GNUTLS_E_UNEXPECTED_PACKET ||
	       rc == GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
}

/** @brief What srec_control() promises whatever it was given. */
static void fuzz_check_ctl(enum srec_ctl c, int err, const char *why)
{
	CHECK(c == SREC_CTL_NONE || c == SREC_CTL_REPLY ||
	      c == SREC_CTL_CLOSE_NOTIFY || c == SREC_CTL_FATAL);
	if (c == SREC_CTL_FATAL) {
		CHECK(err < 0);
		CHECK(why[0] != '\0' && memchr(why, '\0', FUZZ_WHY));
	}
}

/* ---- (i) a stream from the peer ---- */

struct fuzz_story {
	uint64_t hash;		/* over records' types and contents */
	unsigned records;
	size_t consumed;
	int err;		/* srec_open's error that ended it, or 0 */
	int ctl;		/* the srec_control answer that ended it, or -1 */
	int ctl_err;
};

/** @brief Feed @in to a fresh end (@server reads the client's records)
 *  @maxpiece bytes at most at a time (0: all at once). */
static void fuzz_stream(struct fuzz_story *st, const unsigned char *in,
			size_t len, int server, unsigned maxpiece,
			uint64_t seed)
{
	static unsigned char buf[4096 + FUZZ_REC], rec[FUZZ_REC];
	struct srec srv, cli, *r;
	size_t have = 0, start = 0;
	uint64_t now = 1000;

	memset(st, 0, sizeof *st);
	st->ctl = -1;
	fuzz_pair(0, &srv, &cli);
	r = server ? &srv : &cli;
	CHECK(len <= 4096);
	for (;;) {
		size_t used = (size_t)-1, plen = (size_t)-1;
		unsigned char type = 0;
		int rc = srec_open(r, buf + start, have - start, &used, &type,
				   &plen);

		if (rc < 0) {
			CHECK(fuzz_open_err(rc) ||
			      rc == GNUTLS_E_RECORD_LIMIT_REACHED);
			st->err = rc;
			break;
		}
		if (rc == 0) {
			size_t n;

			/* a reader holding one longest record has enough,
			 * and what a header alone refuses is refused */
			CHECK(have - start < SREC_HDR + SREC_MAX_CIPHER);
			CHECK(have - start < SREC_HDR ||
			      (buf[start] == SREC_CT_DATA &&
			       (size_t)(buf[start + 3] << 8 | buf[start + 4]) <=
			       SREC_MAX_CIPHER));
			if (have == len)
				break;
			n = maxpiece ? 1 + fuzz_rnd(&seed) % maxpiece : len;
			if (n > len - have)
				n = len - have;
			memcpy(buf + have, in + have, n);
			have += n;
			continue;
		}
		CHECK(rc == 1);
		CHECK(used <= have - start);
		CHECK(plen <= SREC_MAX_PLAIN);
		CHECK(used >= SREC_HDR + plen + 1 + SREC_TAG);
		CHECK(used <= SREC_HDR + SREC_MAX_CIPHER);
		st->records++;
		fuzz_hash(&st->hash, type, buf + start + SREC_HDR, plen);
		if (type != SREC_CT_DATA) {
			char why[FUZZ_WHY];
			int err = 1;
			enum srec_ctl c;

			why[0] = '\0';
			c = srec_control(r, type, buf + start + SREC_HDR, plen,
					 NULL, now, &err, why, sizeof why);
			fuzz_check_ctl(c, err, why);
			now += 7;
			if (c == SREC_CTL_REPLY)
				CHECK(srec_key_update(r, 0, rec) > 0);
			if (c == SREC_CTL_FATAL || c == SREC_CTL_CLOSE_NOTIFY) {
				st->ctl = c;
				st->ctl_err = err;
				start += used;
				break;
			}
		}
		start += used;
	}
	st->consumed = start;
	srec_free(&srv);
	srec_free(&cli);
}

static void fuzz_streams(const unsigned char *in, size_t len, unsigned b0)
{
	struct fuzz_story whole, pieces;
	int server = !(b0 & 0x08);	/* seeds: the client's records */
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ b0;

	fuzz_stream(&whole, in, len, server, 0, seed);
	fuzz_stream(&pieces, in, len, server, 1u << (b0 & 7), seed);
	CHECK(whole.hash == pieces.hash && whole.records == pieces.records);
	CHECK(whole.err == pieces.err && whole.ctl == pieces.ctl &&
	      whole.ctl_err == pieces.ctl_err);
	CHECK(whole.consumed == pieces.consumed && whole.consumed <= len);
}

/* ---- (ii) a script, sealed by one end and opened by the other ---- */

struct fuzz_script {
	const unsigned char *in;
	size_t len, pos;
	uint64_t seed, now;
	struct srec end[2];		/* 0: server, 1: client */
	int reply[2];			/* end i owes a KeyUpdate */
	int closed[2];			/* end i sent close_notify */
	size_t budget;
};

static unsigned fuzz_byte(struct fuzz_script *f)
{
	return f->pos < f->len ? f->in[f->pos++] : 0;
}

/** @brief Hand the @len-byte record at @rec from end @x to the other:
 *  a piece of it first, which must wait, then all of it. */
static int fuzz_open(struct fuzz_script *f, int x, unsigned char *rec,
		     int len, unsigned char *type, size_t *plen)
{
	struct srec *r = &f->end[!x];
	size_t used = (size_t)-1;
	size_t k = fuzz_rnd(&f->seed) % (size_t)len;
	int rc;

	CHECK(len > 0 && len <= FUZZ_REC);
	CHECK(srec_open(r, rec, k, &used, type, plen) == 0);
	rc = srec_open(r, rec, len, &used, type, plen);
	if (rc == 1) {
		CHECK(used == (size_t)len);
		CHECK(*plen <= SREC_MAX_PLAIN);
	}
	return rc;
}

/** @brief srec_control at the end that did not send (end !@x). */
static enum srec_ctl fuzz_ctl(struct fuzz_script *f, int x, unsigned char type,
			      const unsigned char *p, size_t plen, int *err)
{
	char why[FUZZ_WHY];
	enum srec_ctl c;

	why[0] = '\0';
	*err = 1;
	c = srec_control(&f->end[!x], type, p, plen, NULL, f->now, err, why,
			 sizeof why);
	fuzz_check_ctl(c, *err, why);
	return c;
}

/** @brief A KeyUpdate from end @x, at the current time: it must come
 *  through as @want. */
static void fuzz_ku(struct fuzz_script *f, int x, int request,
		    enum srec_ctl want)
{
	static unsigned char rec[FUZZ_REC];
	unsigned char type = 0;
	size_t plen = 0;
	int len = srec_key_update(&f->end[x], request, rec), err;
	enum srec_ctl c;

	CHECK(len > 0 && len <= SREC_CTL_RECORD);
	CHECK(f->end[x].wr.seq == 0 && !srec_rekey_due(&f->end[x]));
	CHECK(fuzz_open(f, x, rec, len, &type, &plen) == 1);
	CHECK(type == SREC_CT_HANDSHAKE && plen == 5);
	c = fuzz_ctl(f, x, type, rec + SREC_HDR, plen, &err);
	CHECK(c == want);
	if (c == SREC_CTL_FATAL)
		CHECK(err == GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS);
	if (c == SREC_CTL_REPLY)
		f->reply[!x] = 1;
	f->reply[x] = 0;
}

/** @brief Before end @x seals a record: the KeyUpdate it owes or is due. */
static void fuzz_before(struct fuzz_script *f, int x)
{
	if (f->reply[x] || srec_rekey_due(&f->end[x])) {
		f->now += 126;		/* never 9 in a second */
		fuzz_ku(f, x, 0, SREC_CTL_NONE);
	}
}

/** @brief Seal @n bytes of content at @rec as srec_seal does, but with
 *  @pad zero bytes of padding after the type (RFC 8446 5.4), which
 *  srec_seal never sends: by hand, with @r's write key. */
static int fuzz_seal_padded(struct srec *r, unsigned char type,
			    unsigned char *rec, size_t n, size_t pad)
{
	unsigned char nonce[12];
	size_t ilen = n + 1 + pad, clen = ilen + SREC_TAG;

	CHECK(ilen <= SREC_MAX_PLAIN + 1);
	rec[0] = SREC_CT_DATA;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = clen >> 8;
	rec[4] = clen & 0xff;
	rec[SREC_HDR + n] = type;
	memset(rec + SREC_HDR + n + 1, 0, pad);
	memcpy(nonce, r->wr.iv, 12);		/* 5.3 */
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(r->wr.seq >> (8 * i));
	CHECK(gnutls_aead_cipher_encrypt(r->wr.aead, nonce, 12, rec, SREC_HDR,
					 SREC_TAG, rec + SREC_HDR, ilen,
					 rec + SREC_HDR, &clen) == 0);
	CHECK(clen == ilen + SREC_TAG);
	r->wr.seq++;
	return (int)(SREC_HDR + clen);
}

/** @brief @n bytes of data from end @x, in one record (@pad: that many
 *  bytes of padding, by hand). */
static void fuzz_data(struct fuzz_script *f, int x, size_t n, size_t pad)
{
	static unsigned char rec[FUZZ_REC], want[SREC_MAX_PLAIN];
	unsigned char type = 0;
	size_t plen = (size_t)-1;
	uint64_t s = f->seed ^ n;
	int len;

	fuzz_before(f, x);
	for (size_t i = 0; i < n; i++)
		want[i] = (unsigned char)fuzz_rnd(&s);
	memcpy(rec + SREC_HDR, want, n);
	if (pad) {
		len = fuzz_seal_padded(&f->end[x], SREC_CT_DATA, rec, n, pad);
	} else {
		len = srec_seal(&f->end[x], SREC_CT_DATA, rec, n);
		CHECK(len == (int)(n + SREC_OVERHEAD));
		CHECK(rec[0] == SREC_CT_DATA && rec[1] == 3 && rec[2] == 3);
		CHECK((size_t)(rec[3] << 8 | rec[4]) == n + 1 + SREC_TAG);
	}
	CHECK(fuzz_open(f, x, rec, len, &type, &plen) == 1);
	CHECK(type == SREC_CT_DATA && plen == n);
	CHECK(memcmp(rec + SREC_HDR, want, n) == 0);
	f->budget += n + pad;
}

/** @brief An alert from end @x; 0 when the script ends with it. */
static int fuzz_alert(struct fuzz_script *f, int x, int level, int desc)
{
	static unsigned char rec[FUZZ_REC];
	unsigned char type = 0;
	size_t plen = 0;
	int len, err;
	enum srec_ctl c;

	fuzz_before(f, x);
	len = srec_alert(&f->end[x], level, desc, rec);
	CHECK(len > 0 && len <= SREC_CTL_RECORD);
	CHECK(fuzz_open(f, x, rec, len, &type, &plen) == 1);
	CHECK(type == SREC_CT_ALERT && plen == 2);
	CHECK(rec[SREC_HDR] == (unsigned char)level &&
	      rec[SREC_HDR + 1] == (unsigned char)desc);
	c = fuzz_ctl(f, x, type, rec + SREC_HDR, plen, &err);
	if (desc == GNUTLS_A_CLOSE_NOTIFY) {
		CHECK(c == SREC_CTL_CLOSE_NOTIFY);
		f->closed[x] = 1;
		return 1;
	}
	if (desc == GNUTLS_A_USER_CANCELED && c == SREC_CTL_NONE)
		return 1;	/* RFC 8446 6.1: close_notify follows */
	CHECK(c == SREC_CTL_FATAL && err == GNUTLS_E_FATAL_ALERT_RECEIVED);
	return 0;
}

/** @brief A record of any type and content from end @x; it must open as
 *  it was sealed (or, for a type that is none of TLS 1.3's, be refused);
 *  what srec_control makes of it is free, and the script ends there
 *  unless it was data. */
static int fuzz_any(struct fuzz_script *f, int x)
{
	static unsigned char rec[FUZZ_REC], want[64];
	unsigned char type = (unsigned char)fuzz_byte(f), t = 0;
	size_t n = fuzz_byte(f) % sizeof want, plen = (size_t)-1;
	int len, rc, err;

	for (size_t i = 0; i < n; i++)
		want[i] = (unsigned char)fuzz_byte(f);
	if (type == 0)
		return 1;	/* would read as padding */
	fuzz_before(f, x);
	memcpy(rec + SREC_HDR, want, n);
	len = srec_seal(&f->end[x], type, rec, n);
	if (len < 0)
		return 1;
	CHECK(len == (int)(n + SREC_OVERHEAD));
	rc = fuzz_open(f, x, rec, len, &t, &plen);
	if (rc < 0) {
		CHECK(type != SREC_CT_DATA && fuzz_open_err(rc));
		return 0;
	}
	CHECK(rc == 1 && t == type && plen == n);
	CHECK(memcmp(rec + SREC_HDR, want, n) == 0);
	if (type == SREC_CT_DATA)
		return 1;
	fuzz_ctl(f, x, t, rec + SREC_HDR, plen, &err);
	return 0;
}

/** @brief A NewSessionTicket of @l bytes from end @x, in @k records:
 *  skipped, each record SREC_CTL_NONE (no session takes it). */
static void fuzz_ticket(struct fuzz_script *f, int x, size_t l, unsigned k)
{
	static unsigned char rec[FUZZ_REC], msg[4 + 1024];
	size_t off = 0;

	msg[0] = 4;
	msg[1] = 0;
	msg[2] = l >> 8;
	msg[3] = l & 0xff;
	for (size_t i = 0; i < l; i++)
		msg[4 + i] = (unsigned char)fuzz_rnd(&f->seed);
	/* no KeyUpdate between the pieces: it would be read as the
	 * ticket's bytes (as it should) */
	fuzz_before(f, x);
	if (f->end[x].wr.seq + k >= SREC_REKEY_RECORDS) {
		f->now += 126;
		fuzz_ku(f, x, 0, SREC_CTL_NONE);
	}
	for (unsigned i = 0; i < k; i++) {
		/* the first piece has the header whole; the last the rest */
		size_t n = i + 1 == k ? 4 + l - off :
			   (i == 0 ? 4 : 0) + fuzz_rnd(&f->seed) % (l / k + 1);
		unsigned char type = 0;
		size_t plen = 0;
		int len, err;

		if (n == 0)
			continue;	/* no empty handshake records */
		memcpy(rec + SREC_HDR, msg + off, n);
		len = srec_seal(&f->end[x], SREC_CT_HANDSHAKE, rec, n);
		CHECK(len == (int)(n + SREC_OVERHEAD));
		CHECK(fuzz_open(f, x, rec, len, &type, &plen) == 1);
		CHECK(type == SREC_CT_HANDSHAKE && plen == n);
		CHECK(memcmp(rec + SREC_HDR, msg + off, n) == 0);
		CHECK(fuzz_ctl(f, x, type, rec + SREC_HDR, plen, &err) ==
		      SREC_CTL_NONE);
		off += n;
	}
	CHECK(off == 4 + l);
	CHECK(f->end[!x].hs_skip == 0);
}

/** @brief A record from end @x with one bit flipped: refused. */
static void fuzz_flip(struct fuzz_script *f, int x)
{
	static unsigned char rec[FUZZ_REC];
	unsigned at = fuzz_byte(f), bit = fuzz_byte(f) % 8;
	size_t n = fuzz_byte(f), used, plen;
	unsigned char type;
	int len, rc;

	fuzz_before(f, x);
	memset(rec + SREC_HDR, 0x5a, n);
	len = srec_seal(&f->end[x], SREC_CT_DATA, rec, n);
	CHECK(len == (int)(n + SREC_OVERHEAD));
	at %= (unsigned)len;
	rec[at] ^= 1u << bit;
	rc = srec_open(&f->end[!x], rec, len, &used, &type, &plen);
	if (at >= SREC_HDR)
		CHECK(rc == GNUTLS_E_DECRYPTION_FAILED);
	else if (at == 3 || at == 4)	/* the length: longer waits */
		CHECK(rc < 0 || (rc == 0 && (size_t)(rec[3] << 8 | rec[4]) >
					    (size_t)len - SREC_HDR));
	else
		CHECK(rc < 0);
}

static void fuzz_script(const unsigned char *in, size_t len, unsigned b0)
{
	struct fuzz_script f;
	int k = (b0 >> 4) % 3;

	memset(&f, 0, sizeof f);
	f.in = in;
	f.len = len;
	f.seed = 0x2545f4914f6cdd1dULL ^ len;
	f.now = 100000;
	fuzz_pair(k, &f.end[0], &f.end[1]);
	for (int ops = 0; ops < FUZZ_OPS && f.pos < f.len; ops++) {
		unsigned op = fuzz_byte(&f);
		int x = (op >> 3) & 1;

		if (f.closed[x])
			continue;	/* that end sends no more */
		switch (op & 7) {
		case 0: {		/* small data, padded at times */
			size_t n = fuzz_byte(&f), pad = 0;
			if (op & 0x40)
				pad = (fuzz_byte(&f) * 67 + 1) % (SREC_MAX_PLAIN - n + 1);
			if (f.budget + n + pad > FUZZ_BUDGET)
				pad = 0;
			fuzz_data(&f, x, n, pad);
			break;
		}
		case 1: {		/* any size, near a rekey at times */
			size_t n = fuzz_byte(&f) << 8;
			n = (n | fuzz_byte(&f)) % (SREC_MAX_PLAIN + 1);
			if (f.budget + n > FUZZ_BUDGET)
				n = 0;
			if (op & 0x40)
				f.end[x].wr.seq = f.end[!x].rd.seq =
					SREC_REKEY_RECORDS - 1 - (op >> 7);
			fuzz_data(&f, x, n, 0);
			CHECK(srec_rekey_due(&f.end[x]) ==
			      (f.end[x].wr.seq >= SREC_REKEY_RECORDS));
			break;
		}
		case 2:			/* a KeyUpdate */
			fuzz_before(&f, x);
			f.now += 126;
			fuzz_ku(&f, x, (op >> 4) & 1,
				(op >> 4) & 1 ? SREC_CTL_REPLY : SREC_CTL_NONE);
			break;
		case 3: {		/* a burst: 9 in a second is a flood */
			unsigned n = 1 + fuzz_byte(&f) % (SREC_KU_PER_S + 1);
			fuzz_before(&f, x);
			f.now += 2000;
			for (unsigned i = 0; i < n; i++) {
				int req = (op >> (4 + i % 4)) & 1;
				fuzz_ku(&f, x, req, i >= SREC_KU_PER_S ?
					SREC_CTL_FATAL : req ? SREC_CTL_REPLY :
					SREC_CTL_NONE);
			}
			f.now += 2000;
			if (n > SREC_KU_PER_S)
				goto out;
			break;
		}
		case 4:			/* close_notify */
			fuzz_alert(&f, x, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY);
			break;
		case 5:			/* another alert */
			if (!fuzz_alert(&f, x, 1 + (op >> 7), fuzz_byte(&f)))
				goto out;
			break;
		case 6:			/* a ticket, or any record */
			if (op & 0x40) {
				size_t l = fuzz_byte(&f) * 4;
				fuzz_ticket(&f, x, l, 1 + (op >> 7) + (op >> 4 & 1));
			} else if (!fuzz_any(&f, x)) {
				goto out;
			}
			break;
		default:		/* a flipped bit ends it */
			fuzz_flip(&f, x);
			goto out;
		}
	}
out:
	srec_free(&f.end[0]);
	srec_free(&f.end[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	fuzz_streams(data + 1, size - 1, data[0]);
	fuzz_script(data + 1, size - 1, data[0]);
	return 0;
}
