/* test_srec.c - the TLS 1.3 record layer after the handshake: two srec
 * ends made from the same secrets (framing, padding, limits, KeyUpdate,
 * alerts, tickets), and srec against a real GnuTLS peer over a
 * socketpair, taking over either end of a TLS 1.3 session for each of
 * the three ciphers. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "srec.h"
#include "unit.h"

#define WHY 256
/* a record's buffer: the longest record, and a little more */
#define RECBUF (SREC_HDR + SREC_MAX_CIPHER + 64)

static const struct {
	const char *prio;
	gnutls_cipher_algorithm_t cipher;
	gnutls_mac_algorithm_t mac;
	unsigned secret_len;
} suites[] = {
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM",
	  GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256, 32 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM",
	  GNUTLS_CIPHER_AES_256_GCM, GNUTLS_MAC_SHA384, 48 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305",
	  GNUTLS_CIPHER_CHACHA20_POLY1305, GNUTLS_MAC_SHA256, 32 },
};

/** @brief @n bytes that depend on @seed and on the position. */
static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = 0x9e3779b9u ^ seed * 0x85ebca6bu;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* ================= two srec ends, no GnuTLS session ================= */

static struct srec_secrets fixed_secrets(unsigned len)
{
	struct srec_secrets s;

	memset(&s, 0, sizeof s);
	for (unsigned i = 0; i < len; i++) {
		s.client[i] = 0x10 + i;
		s.server[i] = 0x80 + i;
	}
	s.len = len;
	s.have = 3;
	return s;
}

/** @brief @srv and @cli, the two ends of suite @k's connection. */
static void pair_k(int k, struct srec *srv, struct srec *cli)
{
	struct srec_secrets sec = fixed_secrets(suites[k].secret_len);
	char why[WHY] = "";

	ck_assert_msg(srec_init(srv, suites[k].cipher, suites[k].mac, &sec, 1,
				0, 0, why, sizeof why) == 0, "server: %s", why);
	ck_assert_msg(srec_init(cli, suites[k].cipher, suites[k].mac, &sec, 0,
				0, 0, why, sizeof why) == 0, "client: %s", why);
	ck_assert_uint_eq(srv->max_plain, SREC_MAX_PLAIN);
	ck_assert_uint_eq(cli->max_plain, SREC_MAX_PLAIN);
}

static void pair(struct srec *srv, struct srec *cli)
{
	pair_k(0, srv, cli);
}

/** @brief Seal @n bytes of @data as type @type at @rec; the length. */
static int seal(struct srec *r, unsigned char type, unsigned char *rec,
		const unsigned char *data, size_t n)
{
	memcpy(rec + SREC_HDR, data, n);
	return srec_seal(r, type, rec, n);
}

/** @brief Open the @len-byte record at @rec, which must be whole and
 *  authentic; its content type and length. */
static void open_ok(struct srec *r, unsigned char *rec, size_t len,
		    unsigned char *type, size_t *plen)
{
	size_t used = 0;
	int rc = srec_open(r, rec, len, &used, type, plen);

	ck_assert_msg(rc == 1, "srec_open: %d (%s)", rc,
		      rc < 0 ? gnutls_strerror(rc) : "incomplete");
	ck_assert_uint_eq(used, len);
	ck_assert_uint_le(*plen, SREC_MAX_PLAIN);
}

/** @brief From @a to @b: seal content @type/@data/@n, open it, check it
 *  arrived as it was. */
static void pass(struct srec *a, struct srec *b, unsigned char type,
		 const unsigned char *data, size_t n)
{
	static unsigned char rec[RECBUF];
	unsigned char t = 0;
	size_t plen = 0;
	int len = seal(a, type, rec, data, n);

	ck_assert_msg(len > 0, "srec_seal: %d", len);
	ck_assert_uint_eq(len, n + SREC_OVERHEAD);
	ck_assert_uint_eq(rec[0], SREC_CT_DATA);	/* outer type */
	ck_assert_uint_eq(rec[1], 3);
	ck_assert_uint_eq(rec[2], 3);
	ck_assert_uint_eq((rec[3] << 8 | rec[4]), len - SREC_HDR);
	if (n >= 16)			/* it is encrypted */
		ck_assert(memcmp(rec + SREC_HDR, data, 16) != 0);
	open_ok(b, rec, len, &t, &plen);
	ck_assert_uint_eq(t, type);
	ck_assert_uint_eq(plen, n);
	ck_assert(memcmp(rec + SREC_HDR, data, n) == 0);
}

/** @brief From @a to @b a data record of @n bytes. */
static void pass_data(struct srec *a, struct srec *b, size_t n, unsigned seed)
{
	static unsigned char data[SREC_MAX_PLAIN];

	pattern(data, n, seed);
	pass(a, b, SREC_CT_DATA, data, n);
}

/** @brief From @a to @b a non-data record, and what @b's srec_control
 *  makes of it (@err, @why). */
static enum srec_ctl pass_ctl(struct srec *a, struct srec *b,
			      unsigned char type, const unsigned char *msg,
			      size_t n, uint64_t now_ms, int *err, char *why)
{
	static unsigned char rec[RECBUF];
	unsigned char t = 0;
	size_t plen = 0;
	int len = seal(a, type, rec, msg, n);

	ck_assert_msg(len > 0, "srec_seal: %d", len);
	open_ok(b, rec, len, &t, &plen);
	ck_assert_uint_eq(t, type);
	ck_assert_uint_eq(plen, n);
	*err = 0;
	why[0] = '\0';
	return srec_control(b, t, rec + SREC_HDR, plen, NULL, now_ms, err,
			    why, WHY);
}

/** @brief @a's KeyUpdate to @b, opened and handed to srec_control. */
static enum srec_ctl pass_ku(struct srec *a, struct srec *b, int request,
			     uint64_t now_ms, int *err, char *why)
{
	static unsigned char rec[RECBUF];
	unsigned char t = 0;
	size_t plen = 0;
	int len = srec_key_update(a, request, rec);

	ck_assert_msg(len > 0, "srec_key_update: %d", len);
	ck_assert_int_le(len, SREC_CTL_RECORD);
	ck_assert_uint_eq(a->wr.seq, 0);	/* a new key, from 0 */
	open_ok(b, rec, len, &t, &plen);
	ck_assert_uint_eq(t, SREC_CT_HANDSHAKE);
	ck_assert_uint_eq(plen, 5);
	ck_assert_uint_eq(rec[SREC_HDR], 24);	/* key_update */
	ck_assert_uint_eq(rec[SREC_HDR + 4], request ? 1 : 0);
	*err = 0;
	why[0] = '\0';
	return srec_control(b, t, rec + SREC_HDR, plen, NULL, now_ms, err,
			    why, WHY);
}

/** @brief Seal @ilen bytes of TLSInnerPlaintext @inner (content, type,
 *  padding: what srec_seal never sends) by hand with @r's write key. */
static int seal_inner(struct srec *r, unsigned char *rec,
		      const unsigned char *inner, size_t ilen)
{
	unsigned char nonce[12];
	size_t clen = ilen + SREC_TAG;
	int rc;

	rec[0] = SREC_CT_DATA;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = clen >> 8;
	rec[4] = clen & 0xff;
	memcpy(nonce, r->wr.iv, 12);	/* RFC 8446 5.3 */
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(r->wr.seq >> (8 * i));
	rc = gnutls_aead_cipher_encrypt(r->wr.aead, nonce, 12, rec, SREC_HDR,
					SREC_TAG, inner, ilen, rec + SREC_HDR,
					&clen);
	ck_assert_msg(rc == 0, "gnutls_aead_cipher_encrypt: %s",
		      gnutls_strerror(rc));
	ck_assert_uint_eq(clen, ilen + SREC_TAG);
	r->wr.seq++;
	return (int)(SREC_HDR + clen);
}

START_TEST(round_trip)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 4096, 16383,
					16384 };
	struct srec srv, cli;

	pair_k(_i, &srv, &cli);
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		pass_data(&srv, &cli, sizes[i], 1 + i);
		pass_data(&cli, &srv, sizes[i], 100 + i);
		ck_assert_uint_eq(srv.wr.seq, i + 1);
		ck_assert_uint_eq(cli.rd.seq, i + 1);
	}
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* Each end reads the other's secret: a server's record is not opened by
 * a server, a client's not by a client. */
START_TEST(directions)
{
	static unsigned char rec[RECBUF], data[64];
	struct srec srv, cli, srv2, cli2;
	size_t used, plen;
	unsigned char t;
	int len;

	pair(&srv, &cli);
	pair(&srv2, &cli2);
	pattern(data, sizeof data, 7);
	len = seal(&srv, SREC_CT_DATA, rec, data, sizeof data);
	ck_assert_int_eq(srec_open(&srv2, rec, len, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	len = seal(&cli, SREC_CT_DATA, rec, data, sizeof data);
	ck_assert_int_eq(srec_open(&cli2, rec, len, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	srec_free(&srv);
	srec_free(&cli);
	srec_free(&srv2);
	srec_free(&cli2);
}
END_TEST

/* The sequence numbers given to srec_init are the nonces' */
START_TEST(sequence_numbers)
{
	static unsigned char rec[RECBUF], keep[RECBUF], data[32];
	struct srec_secrets sec = fixed_secrets(32);
	struct srec a, b, c;
	char why[WHY];
	size_t used, plen;
	unsigned char t;
	int len;

	ck_assert_int_eq(srec_init(&a, GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256,
				   &sec, 1, 0, 1000, why, sizeof why), 0);
	ck_assert_int_eq(srec_init(&b, GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256,
				   &sec, 0, 1000, 0, why, sizeof why), 0);
	ck_assert_int_eq(srec_init(&c, GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256,
				   &sec, 0, 999, 0, why, sizeof why), 0);
	ck_assert_uint_eq(a.wr.seq, 1000);
	ck_assert_uint_eq(b.rd.seq, 1000);
	pattern(data, sizeof data, 3);
	len = seal(&a, SREC_CT_DATA, rec, data, sizeof data);
	memcpy(keep, rec, len);
	ck_assert_int_eq(srec_open(&c, rec, len, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	open_ok(&b, keep, len, &t, &plen);
	ck_assert(memcmp(keep + SREC_HDR, data, sizeof data) == 0);
	ck_assert_uint_eq(b.rd.seq, 1001);
	/* a replay is refused: the next sequence number is expected */
	memcpy(rec, keep, len);
	len = seal(&a, SREC_CT_DATA, rec, data, sizeof data);
	memcpy(keep, rec, len);
	open_ok(&b, rec, len, &t, &plen);
	ck_assert_int_eq(srec_open(&b, keep, len, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	srec_free(&a);
	srec_free(&b);
	srec_free(&c);
}
END_TEST

START_TEST(init_refuses)
{
	struct srec_secrets sec = fixed_secrets(32), half = sec, none = sec;
	const struct {
		gnutls_cipher_algorithm_t cipher;
		gnutls_mac_algorithm_t mac;
		const struct srec_secrets *sec;
		int server;
		const char *what;
	} cases[] = {
		{ GNUTLS_CIPHER_AES_128_CBC, GNUTLS_MAC_SHA256, &sec, 1, "AES-128-CBC" },
		{ GNUTLS_CIPHER_AES_128_CCM, GNUTLS_MAC_SHA256, &sec, 1, "AES-128-CCM" },
		{ GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256, &half, 1, "half the secrets" },
		{ GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256, &none, 0, "no secrets" },
		/* a SHA-256 secret with a SHA-384 suite */
		{ GNUTLS_CIPHER_AES_256_GCM, GNUTLS_MAC_SHA384, &sec, 0, "a 32-byte SHA-384 secret" },
	};
	struct srec r;
	char why[WHY];

	half.have = 1;
	none.have = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why[0] = '\0';
		ck_assert_int_eq(srec_init(&r, cases[i].cipher, cases[i].mac,
					   cases[i].sec, cases[i].server, 0, 0, why,
					   sizeof why), -1);
		ck_assert_msg(why[0], "no reason for refusing %s", cases[i].what);
	}
}
END_TEST

START_TEST(keylog_take)
{
	struct srec_secrets sec;
	unsigned char c[48], s[48];
	unsigned char o[32];
	gnutls_datum_t dc = { c, 48 }, ds = { s, 48 }, d32 = { o, 32 };

	memset(&sec, 0, sizeof sec);
	pattern(c, sizeof c, 1);
	pattern(s, sizeof s, 2);
	pattern(o, sizeof o, 3);
	/* the handshake secrets are not the ones */
	srec_keylog_take(&sec, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", &ds);
	srec_keylog_take(&sec, "SERVER_HANDSHAKE_TRAFFIC_SECRET", &dc);
	srec_keylog_take(&sec, "EXPORTER_SECRET", &dc);
	ck_assert_uint_eq(sec.have, 0);
	srec_keylog_take(&sec, "CLIENT_TRAFFIC_SECRET_0", &dc);
	ck_assert_uint_eq(sec.have, 1);
	srec_keylog_take(&sec, "SERVER_TRAFFIC_SECRET_0", &ds);
	ck_assert_uint_eq(sec.have, 3);
	ck_assert_uint_eq(sec.len, 48);
	ck_assert_mem_eq(sec.client, c, 48);
	ck_assert_mem_eq(sec.server, s, 48);
	/* one of another length is not taken with these */
	srec_keylog_take(&sec, "CLIENT_TRAFFIC_SECRET_0", &d32);
	ck_assert_uint_eq(sec.len, 48);
	ck_assert_mem_eq(sec.client, c, 48);
}
END_TEST

/* A record is 0 until it is whole, and nothing is changed meanwhile. */
START_TEST(partial_records)
{
	static unsigned char rec[2 * RECBUF], keep[2 * RECBUF], data[300];
	struct srec srv, cli;
	size_t used = 12345, plen = 12345;
	unsigned char t = 0;
	int l1, l2;

	pair(&srv, &cli);
	pattern(data, sizeof data, 9);
	l1 = seal(&srv, SREC_CT_DATA, rec, data, 100);
	l2 = seal(&srv, SREC_CT_DATA, rec + l1, data + 100, 200);
	memcpy(keep, rec, l1 + l2);
	for (int k = 0; k < l1; k++) {
		ck_assert_msg(srec_open(&cli, rec, k, &used, &t, &plen) == 0,
			      "%d of %d bytes", k, l1);
		ck_assert(memcmp(rec, keep, l1 + l2) == 0);
	}
	ck_assert_uint_eq(cli.rd.seq, 0);
	/* the first of two records, and part of the second */
	ck_assert_int_eq(srec_open(&cli, rec, l1 + 7, &used, &t, &plen), 1);
	ck_assert_uint_eq(used, l1);
	ck_assert_uint_eq(plen, 100);
	ck_assert(memcmp(rec + SREC_HDR, data, 100) == 0);
	for (int k = 0; k < l2; k++)
		ck_assert_int_eq(srec_open(&cli, rec + l1, k, &used, &t, &plen), 0);
	ck_assert_int_eq(srec_open(&cli, rec + l1, l2 + 5, &used, &t, &plen), 1);
	ck_assert_uint_eq(used, l2);
	ck_assert_uint_eq(plen, 200);
	ck_assert(memcmp(rec + l1 + SREC_HDR, data + 100, 200) == 0);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* Longer than 2^14 + 256: refused from the header alone, so that a
 * reader need not buffer more than SREC_HDR + SREC_MAX_CIPHER. */
START_TEST(record_overflow)
{
	static unsigned char rec[SREC_HDR + SREC_MAX_CIPHER + 2];
	struct srec srv, cli;
	size_t used, plen, l = SREC_MAX_CIPHER + 1;
	unsigned char t;

	pair(&srv, &cli);
	memset(rec, 0x55, sizeof rec);
	rec[0] = SREC_CT_DATA;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = l >> 8;
	rec[4] = l & 0xff;
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR, &used, &t, &plen),
			 GNUTLS_E_RECORD_OVERFLOW);
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR + l, &used, &t, &plen),
			 GNUTLS_E_RECORD_OVERFLOW);
	rec[3] = rec[4] = 0xff;
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR, &used, &t, &plen),
			 GNUTLS_E_RECORD_OVERFLOW);
	/* 2^14 + 256 itself is a length to wait for (then not authentic) */
	l = SREC_MAX_CIPHER;
	rec[3] = l >> 8;
	rec[4] = l & 0xff;
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR, &used, &t, &plen), 0);
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR + l - 1, &used, &t, &plen), 0);
	ck_assert_int_eq(srec_open(&cli, rec, SREC_HDR + l, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	/* sealing more than max_plain is refused */
	ck_assert_int_lt(srec_seal(&srv, SREC_CT_DATA, rec, SREC_MAX_PLAIN + 1), 0);
	ck_assert_uint_eq(srv.wr.seq, 0);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* After the handshake every record is application_data outside. */
START_TEST(outer_type)
{
	static const unsigned char types[] = { 0, 20, 21, 22, 24, 0x17 ^ 0x80 };
	static unsigned char rec[RECBUF], data[40];
	struct srec srv, cli;
	size_t used, plen;
	unsigned char t;

	pair(&srv, &cli);
	pattern(data, sizeof data, 4);
	for (size_t i = 0; i < sizeof types; i++) {
		int len = seal(&srv, SREC_CT_DATA, rec, data, sizeof data), rc;

		rec[0] = types[i];
		rc = srec_open(&cli, rec, len, &used, &t, &plen);
		ck_assert_msg(rc < 0, "outer type %u: %d", types[i], rc);
		/* and on a header alone, too */
		rc = srec_open(&cli, rec, SREC_HDR, &used, &t, &plen);
		ck_assert_msg(rc < 0, "outer type %u, header only: %d",
			      types[i], rc);
		srec_free(&cli);
		srec_free(&srv);
		pair(&srv, &cli);
	}
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

START_TEST(tampering)
{
	static unsigned char rec[RECBUF], data[100];
	struct srec srv, cli;
	size_t used, plen;
	unsigned char t;
	int len;

	pattern(data, sizeof data, 5);
	/* every byte after the header, and the version in the header */
	for (int at = 1; at < (int)(sizeof data + SREC_OVERHEAD); at++) {
		int rc;

		if (at == 3 || at == 4)
			continue;	/* the length: below */
		pair(&srv, &cli);
		len = seal(&srv, SREC_CT_DATA, rec, data, sizeof data);
		rec[at] ^= 0x01;
		rc = srec_open(&cli, rec, len, &used, &t, &plen);
		ck_assert_msg(rc < 0, "byte %d flipped: %d", at, rc);
		if (at >= SREC_HDR)
			ck_assert_int_eq(rc, GNUTLS_E_DECRYPTION_FAILED);
		srec_free(&srv);
		srec_free(&cli);
	}
	/* shorter: not authentic */
	pair(&srv, &cli);
	len = seal(&srv, SREC_CT_DATA, rec, data, sizeof data);
	rec[4]--;
	ck_assert_int_lt(srec_open(&cli, rec, len, &used, &t, &plen), 0);
	srec_free(&srv);
	srec_free(&cli);
	/* no room for tag and type */
	for (unsigned l = 0; l <= SREC_TAG; l++) {
		pair(&srv, &cli);
		memset(rec, 0, sizeof rec);
		rec[0] = SREC_CT_DATA;
		rec[1] = rec[2] = 3;
		rec[4] = l;
		ck_assert_msg(srec_open(&cli, rec, SREC_HDR + l, &used, &t, &plen) < 0,
			      "a %u-byte record", l);
		srec_free(&srv);
		srec_free(&cli);
	}
}
END_TEST

/* RFC 8446 5.4: any zero padding after the type; the type is the last
 * non-zero byte; all zeros is unexpected_message; the whole inner
 * plaintext at most 2^14 + 1. */
START_TEST(inner_padding)
{
	static unsigned char rec[RECBUF], inner[SREC_MAX_PLAIN + 300];
	struct srec srv, cli;
	size_t used, plen;
	unsigned char t;
	int len;

	pair(&srv, &cli);
	/* "hello", data, 100 zeros */
	memset(inner, 0, sizeof inner);
	memcpy(inner, "hello", 5);
	inner[5] = SREC_CT_DATA;
	len = seal_inner(&srv, rec, inner, 5 + 1 + 100);
	open_ok(&cli, rec, len, &t, &plen);
	ck_assert_uint_eq(t, SREC_CT_DATA);
	ck_assert_uint_eq(plen, 5);
	ck_assert(memcmp(rec + SREC_HDR, "hello", 5) == 0);
	/* content ending in zeros keeps them: the type comes after */
	memset(inner, 0, sizeof inner);
	inner[0] = 'x';
	inner[4] = SREC_CT_DATA;
	len = seal_inner(&srv, rec, inner, 4 + 1 + 3);
	open_ok(&cli, rec, len, &t, &plen);
	ck_assert_uint_eq(plen, 4);
	ck_assert(memcmp(rec + SREC_HDR, "x\0\0\0", 4) == 0);
	/* an empty record padded to the limit: 2^14 + 1 */
	memset(inner, 0, sizeof inner);
	inner[0] = SREC_CT_DATA;
	len = seal_inner(&srv, rec, inner, SREC_MAX_PLAIN + 1);
	open_ok(&cli, rec, len, &t, &plen);
	ck_assert_uint_eq(t, SREC_CT_DATA);
	ck_assert_uint_eq(plen, 0);
	/* a padded close_notify */
	memset(inner, 0, sizeof inner);
	inner[0] = 1;
	inner[1] = 0;
	inner[2] = SREC_CT_ALERT;
	len = seal_inner(&srv, rec, inner, 3 + 40);
	open_ok(&cli, rec, len, &t, &plen);
	ck_assert_uint_eq(t, SREC_CT_ALERT);
	ck_assert_uint_eq(plen, 2);
	{
		int err = 1;
		char why[WHY] = "";

		ck_assert_int_eq(srec_control(&cli, t, rec + SREC_HDR, plen, NULL,
					      1000, &err, why, sizeof why),
				 SREC_CTL_CLOSE_NOTIFY);
	}
	/* all zeros: no content type */
	memset(inner, 0, sizeof inner);
	len = seal_inner(&srv, rec, inner, 10);
	ck_assert_int_eq(srec_open(&cli, rec, len, &used, &t, &plen),
			 GNUTLS_E_UNEXPECTED_PACKET);
	srec_free(&srv);
	srec_free(&cli);

	/* 2^14 + 1 bytes of content and the type: too long */
	pair(&srv, &cli);
	pattern(inner, SREC_MAX_PLAIN + 1, 11);
	inner[0] |= 1;
	inner[SREC_MAX_PLAIN + 1] = SREC_CT_DATA;
	len = seal_inner(&srv, rec, inner, SREC_MAX_PLAIN + 2);
	ck_assert_int_eq(srec_open(&cli, rec, len, &used, &t, &plen),
			 GNUTLS_E_RECORD_OVERFLOW);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* RFC 8446 5.4: "the full encoded TLSInnerPlaintext MUST NOT exceed
 * 2^14 + 1 octets", padding included. */
START_TEST(inner_padding_too_long)
{
	static unsigned char rec[RECBUF], inner[SREC_MAX_PLAIN + 300];
	struct srec srv, cli;
	size_t used, plen;
	unsigned char t;
	int len, rc;

	pair(&srv, &cli);
	memset(inner, 0, sizeof inner);
	memcpy(inner, "hello", 5);
	inner[5] = SREC_CT_DATA;
	len = seal_inner(&srv, rec, inner, SREC_MAX_PLAIN + 2);
	rc = srec_open(&cli, rec, len, &used, &t, &plen);
	ck_assert_msg(rc == GNUTLS_E_RECORD_OVERFLOW,
		      "5 bytes padded to an inner plaintext of 2^14 + 2: %d "
		      "(plen %zu)", rc, rc == 1 ? plen : 0);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

START_TEST(alerts)
{
	static unsigned char rec[RECBUF];
	struct srec srv, cli;
	unsigned char msg[3];
	char why[WHY];
	int err, len;
	size_t plen;
	unsigned char t;
	const char *name = gnutls_alert_get_name(GNUTLS_A_HANDSHAKE_FAILURE);

	pair(&srv, &cli);
	/* srec_alert's record */
	len = srec_alert(&srv, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY, rec);
	ck_assert_int_gt(len, 0);
	ck_assert_int_le(len, SREC_CTL_RECORD);
	open_ok(&cli, rec, len, &t, &plen);
	ck_assert_uint_eq(t, SREC_CT_ALERT);
	ck_assert_uint_eq(plen, 2);
	ck_assert_uint_eq(rec[SREC_HDR], GNUTLS_AL_WARNING);
	ck_assert_uint_eq(rec[SREC_HDR + 1], GNUTLS_A_CLOSE_NOTIFY);
	ck_assert_int_eq(srec_control(&cli, t, rec + SREC_HDR, plen, NULL, 0,
				      &err, why, sizeof why),
			 SREC_CTL_CLOSE_NOTIFY);
	srec_free(&srv);
	srec_free(&cli);

	/* a fatal alert: its name */
	pair(&srv, &cli);
	len = srec_alert(&srv, GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE, rec);
	open_ok(&cli, rec, len, &t, &plen);
	err = 0;
	why[0] = '\0';
	ck_assert_int_eq(srec_control(&cli, t, rec + SREC_HDR, plen, NULL, 0,
				      &err, why, sizeof why), SREC_CTL_FATAL);
	ck_assert_int_eq(err, GNUTLS_E_FATAL_ALERT_RECEIVED);
	ck_assert_ptr_nonnull(name);
	ck_assert_msg(strstr(why, name), "\"%s\" does not name \"%s\"", why, name);
	srec_free(&srv);
	srec_free(&cli);

	/* a warning that is not close_notify ends it too (RFC 8446 6) */
	pair(&srv, &cli);
	msg[0] = GNUTLS_AL_WARNING;
	msg[1] = GNUTLS_A_BAD_CERTIFICATE;
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_ALERT, msg, 2, 0, &err, why),
			 SREC_CTL_FATAL);
	ck_assert_int_eq(err, GNUTLS_E_FATAL_ALERT_RECEIVED);
	name = gnutls_alert_get_name(GNUTLS_A_BAD_CERTIFICATE);
	ck_assert_msg(strstr(why, name), "\"%s\" does not name \"%s\"", why, name);
	srec_free(&srv);
	srec_free(&cli);

	/* an alert of 1 or 3 bytes */
	for (size_t n = 1; n <= 3; n += 2) {
		pair(&srv, &cli);
		msg[0] = 1;
		msg[1] = 0;
		msg[2] = 0;
		ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_ALERT, msg, n, 0,
					  &err, why), SREC_CTL_FATAL);
		ck_assert_int_lt(err, 0);
		ck_assert_int_ne(err, GNUTLS_E_FATAL_ALERT_RECEIVED);
		ck_assert_msg(why[0], "no reason");
		srec_free(&srv);
		srec_free(&cli);
	}
}
END_TEST

START_TEST(handshake_messages)
{
	/* post-handshake auth, a ClientHello, an unknown type, a
	 * KeyUpdate of 2 bytes or saying 2, an empty record */
	static const unsigned char bad[][8] = {
		{ 13, 0, 0, 0 }, { 1, 0, 0, 2, 3, 3 }, { 99, 0, 0, 0 },
		{ 24, 0, 0, 2, 0, 0 }, { 24, 0, 0, 1, 2 }, { 24, 0, 0, 0 },
		{ 0 },
	};
	static const size_t badlen[] = { 4, 6, 4, 6, 5, 4, 0 };
	struct srec srv, cli;
	char why[WHY];
	int err;

	for (size_t i = 0; i < sizeof badlen / sizeof *badlen; i++) {
		pair(&srv, &cli);
		if (badlen[i] == 0) {
			/* srec_seal need not make one: srec_control is
			 * asked directly */
			err = 0;
			why[0] = '\0';
			ck_assert_int_eq(srec_control(&cli, SREC_CT_HANDSHAKE,
						      bad[i], 0, NULL, 0, &err,
						      why, sizeof why),
					 SREC_CTL_FATAL);
		} else {
			ck_assert_msg(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, bad[i],
					       badlen[i], 0, &err, why) == SREC_CTL_FATAL,
				      "handshake message %zu taken", i);
		}
		ck_assert_int_lt(err, 0);
		ck_assert_int_ne(err, GNUTLS_E_FATAL_ALERT_RECEIVED);
		ck_assert_msg(why[0], "no reason for message %zu", i);
		srec_free(&srv);
		srec_free(&cli);
	}
}
END_TEST

START_TEST(unknown_record_types)
{
	static const unsigned char types[] = { 20, 24, 99, 255 };
	unsigned char msg[2] = { 1, 1 };
	struct srec srv, cli;
	char why[WHY];
	int err;

	for (size_t i = 0; i < sizeof types; i++) {
		pair(&srv, &cli);
		ck_assert_int_eq(pass_ctl(&srv, &cli, types[i], msg, 2, 0, &err, why),
				 SREC_CTL_FATAL);
		ck_assert_int_lt(err, 0);
		ck_assert_msg(why[0], "no reason for type %u", types[i]);
		srec_free(&srv);
		srec_free(&cli);
	}
}
END_TEST

/* NewSessionTickets with no session to take them: skipped, whole, two
 * in a record, or split across records; data after them intact. */
START_TEST(tickets_skipped)
{
	static unsigned char msg[600];
	struct srec srv, cli;
	char why[WHY];
	int err;

	pair(&srv, &cli);
	pattern(msg, sizeof msg, 21);
	msg[0] = 4;
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 200;
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg, 204, 0,
				  &err, why), SREC_CTL_NONE);
	pass_data(&srv, &cli, 1000, 1);
	/* two in one record */
	msg[204] = 4;
	msg[205] = 0;
	msg[206] = 0;
	msg[207] = 10;
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg, 218, 0,
				  &err, why), SREC_CTL_NONE);
	pass_data(&srv, &cli, 1000, 2);
	/* one of 500 bytes in three records */
	msg[1] = 0;
	msg[2] = 0x01;
	msg[3] = 0xf0;		/* 0x1f0 = 496: 500 with the header */
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg, 100, 0,
				  &err, why), SREC_CTL_NONE);
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg + 100, 300,
				  0, &err, why), SREC_CTL_NONE);
	ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg + 400, 100,
				  0, &err, why), SREC_CTL_NONE);
	ck_assert_uint_eq(cli.hs_skip, 0);
	pass_data(&srv, &cli, 3000, 3);
	/* a KeyUpdate right after it is one */
	ck_assert_int_eq(pass_ku(&srv, &cli, 0, 0, &err, why), SREC_CTL_NONE);
	pass_data(&srv, &cli, 10, 4);
	srec_free(&srv);
	srec_free(&cli);

	/* an alert, or data, inside a split message (5.1): refused as the
	 * record is opened */
	for (int i = 0; i < 2; i++) {
		static unsigned char rec[RECBUF];
		unsigned char t = 0;
		size_t used = 0, plen = 0;
		int len;

		pair(&srv, &cli);
		ck_assert_int_eq(pass_ctl(&srv, &cli, SREC_CT_HANDSHAKE, msg,
					  100, 0, &err, why), SREC_CTL_NONE);
		ck_assert_uint_gt(cli.hs_skip, 0);
		msg[0] = GNUTLS_AL_WARNING;
		msg[1] = GNUTLS_A_CLOSE_NOTIFY;
		len = seal(&srv, i ? SREC_CT_DATA : SREC_CT_ALERT, rec, msg, 2);
		ck_assert_int_gt(len, 0);
		ck_assert_int_eq(srec_open(&cli, rec, len, &used, &t, &plen),
				 GNUTLS_E_UNEXPECTED_PACKET);
		msg[0] = 4;
		msg[1] = 0;
		srec_free(&srv);
		srec_free(&cli);
	}
}
END_TEST

START_TEST(key_update)
{
	struct srec srv, cli;
	char why[WHY];
	int err;

	pair_k(_i, &srv, &cli);
	pass_data(&srv, &cli, 100, 1);
	/* not asked for: nothing to answer; the keys moved on both ends */
	ck_assert_int_eq(pass_ku(&srv, &cli, 0, 1000, &err, why), SREC_CTL_NONE);
	ck_assert_uint_eq(cli.rd.seq, 0);
	ck_assert(memcmp(cli.rd.secret, srv.wr.secret, suites[_i].secret_len) == 0);
	ck_assert(memcmp(cli.rd.iv, srv.wr.iv, 12) == 0);
	pass_data(&srv, &cli, 100, 2);
	pass_data(&cli, &srv, 100, 3);
	/* asked for: the answer, and both ways on new keys */
	ck_assert_int_eq(pass_ku(&cli, &srv, 1, 1000, &err, why), SREC_CTL_REPLY);
	ck_assert_int_eq(pass_ku(&srv, &cli, 0, 1000, &err, why), SREC_CTL_NONE);
	pass_data(&srv, &cli, 16384, 4);
	pass_data(&cli, &srv, 16384, 5);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* SREC_KU_PER_S KeyUpdates in one second are taken, one more is a flood;
 * as many spread over more than a second are fine. */
START_TEST(key_update_flood)
{
	struct srec srv, cli;
	char why[WHY];
	int err;

	pair(&srv, &cli);
	for (int i = 0; i < SREC_KU_PER_S; i++)
		ck_assert_msg(pass_ku(&srv, &cli, i & 1, 50000, &err, why) ==
			      (i & 1 ? SREC_CTL_REPLY : SREC_CTL_NONE),
			      "KeyUpdate %d: %s", i, why);
	pass_data(&srv, &cli, 100, 1);
	err = 0;
	ck_assert_int_eq(pass_ku(&srv, &cli, 0, 50999, &err, why), SREC_CTL_FATAL);
	ck_assert_int_eq(err, GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS);
	ck_assert_msg(why[0], "no reason");
	srec_free(&srv);
	srec_free(&cli);

	/* 8 a second, for five seconds; then 8 at once after a pause */
	pair(&srv, &cli);
	for (int i = 0; i < 5 * SREC_KU_PER_S; i++) {
		ck_assert_msg(pass_ku(&srv, &cli, 0, 50000 + i * 126, &err, why) ==
			      SREC_CTL_NONE, "KeyUpdate %d: %s", i, why);
		pass_data(&srv, &cli, 10, i);
	}
	for (int i = 0; i < SREC_KU_PER_S; i++)
		ck_assert_msg(pass_ku(&srv, &cli, 0, 60000, &err, why) ==
			      SREC_CTL_NONE, "KeyUpdate %d: %s", i, why);
	pass_data(&srv, &cli, 10, 99);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

START_TEST(rekey_due)
{
	struct srec srv, cli;
	char why[WHY];
	int err;

	pair(&srv, &cli);
	ck_assert_int_eq(srec_rekey_due(&srv), 0);
	srv.wr.seq = cli.rd.seq = SREC_REKEY_RECORDS - 2;
	ck_assert_int_eq(srec_rekey_due(&srv), 0);
	pass_data(&srv, &cli, 50, 1);
	ck_assert_int_eq(srec_rekey_due(&srv), 0);
	pass_data(&srv, &cli, 50, 2);
	ck_assert_int_eq(srec_rekey_due(&srv), 1);
	ck_assert_int_eq(srec_rekey_due(&cli), 0);	/* reading is not writing */
	ck_assert_int_eq(pass_ku(&srv, &cli, 0, 0, &err, why), SREC_CTL_NONE);
	ck_assert_int_eq(srec_rekey_due(&srv), 0);
	ck_assert_uint_eq(srv.wr.seq, 0);
	ck_assert_uint_eq(cli.rd.seq, 0);
	pass_data(&srv, &cli, 50, 3);
	srec_free(&srv);
	srec_free(&cli);
}
END_TEST

/* ================= against GnuTLS over a socketpair ================= */

static gnutls_certificate_credentials_t srv_cred, cli_cred;

/** @brief A self-signed ECDSA certificate for the server. */
static void creds_setup(void)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	unsigned char serial[] = { 0x01, 0x5e };
	time_t now = time(NULL);

	ck_assert_int_eq(gnutls_x509_privkey_init(&key), 0);
	ck_assert_int_eq(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, now - 3600), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, now + 86400), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
						       0, "srec", 4), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(crt, key), 0);
	ck_assert_int_eq(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&srv_cred), 0);
	ck_assert_int_eq(gnutls_certificate_set_x509_key(srv_cred, &crt, 1, key), 0);
	ck_assert_int_eq(gnutls_certificate_allocate_credentials(&cli_cred), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

static void creds_teardown(void)
{
	gnutls_certificate_free_credentials(srv_cred);
	gnutls_certificate_free_credentials(cli_cred);
}

/* The srec end: its socket and what has come in on it. */
struct sside {
	struct srec r;
	int fd;
	size_t inlen;
	unsigned char in[4 * (SREC_HDR + SREC_MAX_CIPHER)];
	unsigned char type;		/* the last record's */
	size_t mlen;
	unsigned char msg[SREC_MAX_PLAIN + 256];
	unsigned nctl, nreply, nticket;	/* non-data records seen */
};

/* A TLS 1.3 connection: GnuTLS at both ends, then srec at one. */
struct conn {
	gnutls_session_t cli, srv;
	int cfd, sfd;
	int srec_server;		/* srec took over the server end */
	gnutls_session_t g;		/* the end GnuTLS keeps */
	int gfd;
	gnutls_datum_t stek;
	struct srec_secrets sec;
	struct sside s;
};

static struct conn C;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, 3000);
	while (rc < 0 && errno == EINTR);
	ck_assert_msg(rc == 1, "timed out waiting for fd %d (%s)", fd,
		      events == POLLIN ? "reading" : "writing");
}

static int keylog(gnutls_session_t s, const char *label,
		  const gnutls_datum_t *secret)
{
	srec_keylog_take(gnutls_session_get_ptr(s), label, secret);
	return 0;
}

static void session_new(gnutls_session_t *s, unsigned flags, int fd,
			const char *prio)
{
	const char *err = NULL;

	ck_assert_int_eq(gnutls_init(s, flags | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL), 0);
	ck_assert_msg(gnutls_priority_set_direct(*s, prio, &err) == 0,
		      "priority %s at %s", prio, err ? err : "?");
	ck_assert_int_eq(gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE,
						flags & GNUTLS_SERVER ? srv_cred :
						cli_cred), 0);
	gnutls_transport_set_int(*s, fd);
}

/** @brief Both ends' handshakes, taking turns, to the end. */
static void handshake(struct conn *c)
{
	int cdone = 0, sdone = 0;

	for (int i = 0; i < 200 && !(cdone && sdone); i++) {
		struct pollfd p[2] = { { c->cfd, POLLIN, 0 }, { c->sfd, POLLIN, 0 } };
		int rc;

		if (!cdone) {
			rc = gnutls_handshake(c->cli);
			if (rc == 0)
				cdone = 1;
			else
				ck_assert_msg(!gnutls_error_is_fatal(rc),
					      "client handshake: %s", gnutls_strerror(rc));
		}
		if (!sdone) {
			rc = gnutls_handshake(c->srv);
			if (rc == 0)
				sdone = 1;
			else
				ck_assert_msg(!gnutls_error_is_fatal(rc),
					      "server handshake: %s", gnutls_strerror(rc));
		}
		if (!(cdone && sdone))
			poll(p, 2, 100);
	}
	ck_assert_msg(cdone && sdone, "the handshake did not finish");
}

/** @brief A TLS 1.3 connection with suite @k, GnuTLS at both ends; the
 *  srec end's traffic secrets kept. @tickets: the server sends one. */
static void conn_open(struct conn *c, int k, int srec_server, int tickets,
		      const char *prio)
{
	int sv[2];
	gnutls_session_t s;

	memset(c, 0, sizeof *c);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c->cfd = sv[0];
	c->sfd = sv[1];
	ck_assert_int_eq(fcntl(c->cfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(c->sfd, F_SETFL, O_NONBLOCK), 0);
	session_new(&c->cli, GNUTLS_CLIENT, c->cfd, prio ? prio : suites[k].prio);
	session_new(&c->srv, GNUTLS_SERVER, c->sfd, prio ? prio : suites[k].prio);
	if (tickets) {
		ck_assert_int_eq(gnutls_session_ticket_key_generate(&c->stek), 0);
		ck_assert_int_eq(gnutls_session_ticket_enable_server(c->srv, &c->stek), 0);
	}
	c->srec_server = srec_server;
	s = srec_server ? c->srv : c->cli;
	gnutls_session_set_ptr(s, &c->sec);
	gnutls_session_set_keylog_function(s, keylog);
	c->g = srec_server ? c->cli : c->srv;
	c->gfd = srec_server ? c->cfd : c->sfd;
	c->s.fd = srec_server ? c->sfd : c->cfd;
	handshake(c);
	if (!prio) {
		ck_assert_int_eq(gnutls_protocol_get_version(c->cli), GNUTLS_TLS1_3);
		ck_assert_int_eq(gnutls_cipher_get(c->cli), suites[k].cipher);
		ck_assert_int_eq(c->sec.have, 3);
		ck_assert_uint_eq(c->sec.len, suites[k].secret_len);
	}
}

/** @brief conn_open, then srec takes over its end. */
static void conn_srec(struct conn *c, int k, int srec_server, int tickets)
{
	char why[WHY] = "";

	conn_open(c, k, srec_server, tickets, NULL);
	ck_assert_msg(srec_from_session(&c->s.r, srec_server ? c->srv : c->cli,
					&c->sec, why, sizeof why) == 0,
		      "srec_from_session: %s", why);
	ck_assert_int_eq(c->s.r.cipher, suites[k].cipher);
	ck_assert_int_eq(c->s.r.mac, suites[k].mac);
}

static void conn_close(struct conn *c)
{
	srec_free(&c->s.r);
	gnutls_deinit(c->cli);
	gnutls_deinit(c->srv);
	close(c->cfd);
	close(c->sfd);
	if (c->stek.data)
		gnutls_free(c->stek.data);
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_fd(fd, POLLOUT);
			continue;
		}
		ck_assert_msg(w > 0, "write: %s", strerror(errno));
		p += w;
		n -= w;
	}
}

/** @brief srec sends @n bytes of data, in records of max_plain at most
 *  (one empty record when @n is 0). */
static void s_send(struct sside *s, const unsigned char *p, size_t n)
{
	static unsigned char rec[RECBUF];
	size_t off = 0;

	do {
		size_t k = n - off < s->r.max_plain ? n - off : s->r.max_plain;
		int len;

		ck_assert_int_eq(srec_rekey_due(&s->r), 0);
		len = seal(&s->r, SREC_CT_DATA, rec, p + off, k);
		ck_assert_msg(len > 0, "srec_seal: %d", len);
		write_all(s->fd, rec, len);
		off += k;
	} while (off < n);
}

static void s_key_update(struct sside *s, int request)
{
	static unsigned char rec[RECBUF];
	int len = srec_key_update(&s->r, request, rec);

	ck_assert_msg(len > 0, "srec_key_update: %d", len);
	write_all(s->fd, rec, len);
}

static void s_alert(struct sside *s, int level, int desc)
{
	static unsigned char rec[RECBUF];
	int len = srec_alert(&s->r, level, desc, rec);

	ck_assert_msg(len > 0, "srec_alert: %d", len);
	write_all(s->fd, rec, len);
}

/** @brief More bytes from the GnuTLS end, waiting for them. */
static void s_fill(struct sside *s)
{
	ssize_t n;

	ck_assert_msg(s->inlen < sizeof s->in, "srec's input is full");
	wait_fd(s->fd, POLLIN);
	n = read(s->fd, s->in + s->inlen, sizeof s->in - s->inlen);
	ck_assert_msg(n > 0, "read: %s", n ? strerror(errno) : "end of stream");
	s->inlen += n;
}

/** @brief The next record at the srec end: 1 (in s->type, s->msg), or
 *  srec_open's error. */
static int s_record(struct sside *s)
{
	for (;;) {
		size_t used = 0, plen = 0;
		unsigned char type = 0;
		int rc = srec_open(&s->r, s->in, s->inlen, &used, &type, &plen);

		if (rc < 0)
			return rc;
		if (rc == 1) {
			ck_assert_uint_le(used, s->inlen);
			ck_assert_uint_le(plen, SREC_MAX_PLAIN);
			ck_assert_uint_le(plen + SREC_OVERHEAD, used);
			s->type = type;
			s->mlen = plen;
			memcpy(s->msg, s->in + SREC_HDR, plen);
			memmove(s->in, s->in + used, s->inlen - used);
			s->inlen -= used;
			return 1;
		}
		s_fill(s);
	}
}

/** @brief srec_control on the last record; the KeyUpdate it asks for
 *  sent. */
static enum srec_ctl s_control(struct sside *s, int *err, char *why)
{
	enum srec_ctl ctl;

	*err = 0;
	why[0] = '\0';
	s->nctl++;
	if (s->type == SREC_CT_HANDSHAKE && s->mlen && s->msg[0] == 4)
		s->nticket++;
	ctl = srec_control(&s->r, s->type, s->msg, s->mlen, NULL, now_ms(),
			   err, why, WHY);
	if (ctl == SREC_CTL_REPLY) {
		s->nreply++;
		s_key_update(s, 0);
	}
	return ctl;
}

/** @brief srec receives @n bytes of data, which must be @want; KeyUpdates
 *  and tickets on the way are taken. */
static void s_recv(struct sside *s, const unsigned char *want, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int rc = s_record(s), err;
		char why[WHY];

		ck_assert_msg(rc == 1, "srec_open: %s", gnutls_strerror(rc));
		if (s->type == SREC_CT_DATA) {
			ck_assert_uint_le(got + s->mlen, n);
			ck_assert_msg(memcmp(s->msg, want + got, s->mlen) == 0,
				      "data differ from byte %zu on", got);
			got += s->mlen;
			continue;
		}
		rc = s_control(s, &err, why);
		ck_assert_msg(rc == SREC_CTL_NONE || rc == SREC_CTL_REPLY,
			      "srec_control: %d, %d, %s", rc, err, why);
	}
}

static void g_send(gnutls_session_t g, int fd, const unsigned char *p,
		   size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = gnutls_record_send(g, p + off, n - off);

		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			wait_fd(fd, POLLOUT);
			continue;
		}
		ck_assert_msg(r > 0, "gnutls_record_send: %s",
			      gnutls_strerror((int)r));
		off += r;
	}
}

/** @brief The next answer of gnutls_record_recv other than "again". */
static ssize_t g_recv_some(gnutls_session_t g, int fd, unsigned char *p,
			   size_t n)
{
	for (;;) {
		ssize_t r = gnutls_record_recv(g, p, n);

		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return r;
		wait_fd(fd, POLLIN);
	}
}

/** @brief GnuTLS receives @n bytes, which must be @want. */
static void g_recv(gnutls_session_t g, int fd, const unsigned char *want,
		   size_t n)
{
	static unsigned char buf[100000];
	size_t got = 0;

	ck_assert_uint_le(n, sizeof buf);
	while (got < n) {
		ssize_t r = g_recv_some(g, fd, buf + got, n - got);

		ck_assert_msg(r > 0, "gnutls_record_recv: %s",
			      r ? gnutls_strerror((int)r) : "end of stream");
		got += r;
	}
	ck_assert_msg(memcmp(buf, want, n) == 0, "data differ");
}

/** @brief @n bytes both ways between the two ends. */
static void both_ways(struct conn *c, size_t n, unsigned seed)
{
	static unsigned char a[100000], b[100000];

	ck_assert_uint_le(n, sizeof a);
	pattern(a, n, seed);
	pattern(b, n, seed + 1000);
	s_send(&c->s, a, n);
	g_recv(c->g, c->gfd, a, n);
	g_send(c->g, c->gfd, b, n);
	s_recv(&c->s, b, n);
}

/* _i: suite _i / 2, srec at the server end when odd */
#define SUITE (_i / 2)
#define SREC_SERVER (_i % 2)

START_TEST(gnutls_data)
{
	static const size_t sizes[] = { 1, 16384, 16385, 40000, 100, 3 };
	static unsigned char a[8];

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		both_ways(&C, sizes[i], i);
	/* an empty record is nothing to GnuTLS */
	pattern(a, sizeof a, 77);
	s_send(&C.s, a, 0);
	s_send(&C.s, a, sizeof a);
	g_recv(C.g, C.gfd, a, sizeof a);
	ck_assert_uint_eq(C.s.nctl, 0);
	ck_assert_uint_eq(C.s.inlen, 0);
	conn_close(&C);
}
END_TEST

/* GnuTLS updates its key and asks for ours: srec answers. */
START_TEST(gnutls_key_update_peer)
{
	static unsigned char a[3000];
	char why[WHY];
	int rc, err;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 500, 1);
	for (int i = 0; i < 3; i++) {
		do
			rc = gnutls_session_key_update(C.g, GNUTLS_KU_PEER);
		while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
		ck_assert_msg(rc == 0, "gnutls_session_key_update: %s",
			      gnutls_strerror(rc));
		pattern(a, sizeof a, 10 + i);
		g_send(C.g, C.gfd, a, sizeof a);
		/* the KeyUpdate comes first */
		ck_assert_int_eq(s_record(&C.s), 1);
		ck_assert_uint_eq(C.s.type, SREC_CT_HANDSHAKE);
		ck_assert_int_eq(s_control(&C.s, &err, why), SREC_CTL_REPLY);
		ck_assert_uint_eq(C.s.nreply, i + 1);
		s_recv(&C.s, a, sizeof a);
		both_ways(&C, 2000, 20 + i);
		ck_assert_uint_eq(C.s.nctl, i + 1);
	}
	/* GnuTLS's own, not asking for ours */
	do
		rc = gnutls_session_key_update(C.g, 0);
	while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	ck_assert_int_eq(rc, 0);
	both_ways(&C, 100, 30);
	ck_assert_uint_eq(C.s.nctl, 4);
	ck_assert_uint_eq(C.s.nreply, 3);
	conn_close(&C);
}
END_TEST

/* srec updates its key, asking GnuTLS to update too, and not asking. */
START_TEST(srec_key_update_to_gnutls)
{
	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 500, 1);
	s_key_update(&C.s, 1);
	both_ways(&C, 5000, 2);
	/* GnuTLS's answer was taken on the way */
	ck_assert_uint_eq(C.s.nctl, 1);
	ck_assert_uint_eq(C.s.nreply, 0);
	s_key_update(&C.s, 0);
	both_ways(&C, 5000, 3);
	ck_assert_uint_eq(C.s.nctl, 1);
	s_key_update(&C.s, 1);
	s_key_update(&C.s, 0);
	both_ways(&C, 20000, 4);
	ck_assert_uint_eq(C.s.nctl, 2);
	conn_close(&C);
}
END_TEST

START_TEST(close_notify_both_ways)
{
	static unsigned char a[300], buf[16];
	char why[WHY];
	ssize_t r;
	int rc, err;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 1000, 1);
	/* srec ends its direction: GnuTLS reads the end */
	s_alert(&C.s, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY);
	r = g_recv_some(C.g, C.gfd, buf, sizeof buf);
	ck_assert_msg(r == 0, "gnutls_record_recv: %zd (%s)", r,
		      r < 0 ? gnutls_strerror((int)r) : "data");
	/* the other direction goes on */
	pattern(a, sizeof a, 2);
	g_send(C.g, C.gfd, a, sizeof a);
	s_recv(&C.s, a, sizeof a);
	/* and GnuTLS ends it */
	do
		rc = gnutls_bye(C.g, GNUTLS_SHUT_WR);
	while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(s_record(&C.s), 1);
	ck_assert_uint_eq(C.s.type, SREC_CT_ALERT);
	ck_assert_int_eq(s_control(&C.s, &err, why), SREC_CTL_CLOSE_NOTIFY);
	conn_close(&C);
}
END_TEST

START_TEST(gnutls_close_notify_first)
{
	static unsigned char a[300], buf[16];
	char why[WHY];
	int rc, err;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 1000, 1);
	do
		rc = gnutls_bye(C.g, GNUTLS_SHUT_WR);
	while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(s_record(&C.s), 1);
	ck_assert_int_eq(s_control(&C.s, &err, why), SREC_CTL_CLOSE_NOTIFY);
	/* srec still sends */
	pattern(a, sizeof a, 2);
	s_send(&C.s, a, sizeof a);
	g_recv(C.g, C.gfd, a, sizeof a);
	s_alert(&C.s, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY);
	ck_assert_int_eq(g_recv_some(C.g, C.gfd, buf, sizeof buf), 0);
	conn_close(&C);
}
END_TEST

/* A fatal alert from srec: GnuTLS says which. */
START_TEST(srec_fatal_alert_to_gnutls)
{
	static unsigned char buf[16];
	ssize_t r;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 10, 1);
	s_alert(&C.s, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
	r = g_recv_some(C.g, C.gfd, buf, sizeof buf);
	ck_assert_int_eq(r, GNUTLS_E_FATAL_ALERT_RECEIVED);
	ck_assert_int_eq(gnutls_alert_get(C.g), GNUTLS_A_INTERNAL_ERROR);
	conn_close(&C);
}
END_TEST

/* A flipped byte in a record of srec's: GnuTLS refuses it. */
START_TEST(tampered_to_gnutls)
{
	static unsigned char rec[RECBUF], data[100], buf[200];
	ssize_t r;
	int len;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 100, 1);
	pattern(data, sizeof data, 2);
	len = seal(&C.s.r, SREC_CT_DATA, rec, data, sizeof data);
	rec[SREC_HDR + 10] ^= 0x20;
	write_all(C.s.fd, rec, len);
	r = g_recv_some(C.g, C.gfd, buf, sizeof buf);
	ck_assert_msg(r == GNUTLS_E_DECRYPTION_FAILED, "gnutls_record_recv: %zd (%s)",
		      r, r < 0 ? gnutls_strerror((int)r) : "data");
	conn_close(&C);
}
END_TEST

/* A flipped byte in a record of GnuTLS's: srec refuses it. */
START_TEST(tampered_from_gnutls)
{
	static unsigned char data[100];
	size_t used, plen;
	unsigned char t;

	conn_srec(&C, SUITE, SREC_SERVER, 0);
	both_ways(&C, 100, 1);
	pattern(data, sizeof data, 2);
	g_send(C.g, C.gfd, data, sizeof data);
	while (C.s.inlen < SREC_HDR ||
	       C.s.inlen < SREC_HDR + (size_t)(C.s.in[3] << 8 | C.s.in[4]))
		s_fill(&C.s);
	C.s.in[SREC_HDR + 10] ^= 0x20;
	ck_assert_int_eq(srec_open(&C.s.r, C.s.in, C.s.inlen, &used, &t, &plen),
			 GNUTLS_E_DECRYPTION_FAILED);
	conn_close(&C);
}
END_TEST

/* A GnuTLS server with tickets sends one after the handshake; srec at
 * the client end, with no session to hand it to, skips it. _i: suite. */
START_TEST(ticket_skipped)
{
	static unsigned char a[5000];

	conn_srec(&C, _i, 0, 1);
	pattern(a, sizeof a, 1);
	g_send(C.g, C.gfd, a, sizeof a);
	s_recv(&C.s, a, sizeof a);
	ck_assert_msg(C.s.nticket >= 1, "no NewSessionTicket came (%u control records)",
		      C.s.nctl);
	ck_assert_uint_eq(C.s.nctl, C.s.nticket);
	both_ways(&C, 20000, 2);
	conn_close(&C);

	/* and none without tickets */
	conn_srec(&C, _i, 0, 0);
	g_send(C.g, C.gfd, a, sizeof a);
	s_recv(&C.s, a, sizeof a);
	ck_assert_uint_eq(C.s.nctl, 0);
	conn_close(&C);
}
END_TEST

/* srec at a server end that has sent tickets: its records go on from
 * the sequence number GnuTLS reached. _i: suite. */
START_TEST(ticket_sent_before)
{
	conn_srec(&C, _i, 1, 1);
	ck_assert_uint_gt(C.s.r.wr.seq, 0);
	ck_assert_uint_eq(C.s.r.rd.seq, 0);
	both_ways(&C, 20000, 1);
	ck_assert_uint_eq(C.s.nctl, 0);
	conn_close(&C);
}
END_TEST

/* srec_from_session refuses what it cannot take over. */
START_TEST(from_session_refuses)
{
	static unsigned char a[100], buf[10];
	struct srec r;
	char why[WHY];
	int rc;

	/* TLS 1.2 */
	conn_open(&C, 0, SREC_SERVER, 0,
		  "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM");
	ck_assert_int_eq(gnutls_protocol_get_version(C.cli), GNUTLS_TLS1_2);
	why[0] = '\0';
	ck_assert_int_eq(srec_from_session(&r, SREC_SERVER ? C.srv : C.cli,
					   &C.sec, why, sizeof why), -1);
	ck_assert_msg(why[0], "no reason");
	conn_close(&C);

	/* data GnuTLS decrypted and srec would not see */
	conn_open(&C, 0, SREC_SERVER, 0, NULL);
	pattern(a, sizeof a, 1);
	g_send(C.g, C.gfd, a, sizeof a);
	ck_assert_int_eq(g_recv_some(SREC_SERVER ? C.srv : C.cli, C.s.fd, buf,
				     sizeof buf), sizeof buf);
	why[0] = '\0';
	ck_assert_int_eq(srec_from_session(&r, SREC_SERVER ? C.srv : C.cli,
					   &C.sec, why, sizeof why), -1);
	ck_assert_msg(why[0], "no reason");
	conn_close(&C);

	/* a KeyUpdate GnuTLS took: the secrets are not its keys any more;
	 * and GnuTLS goes on */
	conn_open(&C, 0, SREC_SERVER, 0, NULL);
	do
		rc = gnutls_session_key_update(C.g, 0);
	while (rc == GNUTLS_E_AGAIN);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(gnutls_record_recv(SREC_SERVER ? C.srv : C.cli, buf,
					    sizeof buf), GNUTLS_E_AGAIN);
	why[0] = '\0';
	ck_assert_int_eq(srec_from_session(&r, SREC_SERVER ? C.srv : C.cli,
					   &C.sec, why, sizeof why), -1);
	ck_assert_msg(why[0], "no reason");
	g_send(C.g, C.gfd, a, sizeof a);
	g_recv(SREC_SERVER ? C.srv : C.cli, C.s.fd, a, sizeof a);
	g_send(SREC_SERVER ? C.srv : C.cli, C.s.fd, a, sizeof a);
	g_recv(C.g, C.gfd, a, sizeof a);
	conn_close(&C);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("srec");
	TCase *pure = tcase_create("pairs");
	TCase *gt = tcase_create("gnutls");
	int nsuites = sizeof suites / sizeof *suites;

	unit_init();
	tcase_add_loop_test(pure, round_trip, 0, nsuites);
	tcase_add_test(pure, directions);
	tcase_add_test(pure, sequence_numbers);
	tcase_add_test(pure, init_refuses);
	tcase_add_test(pure, keylog_take);
	tcase_add_test(pure, partial_records);
	tcase_add_test(pure, record_overflow);
	tcase_add_test(pure, outer_type);
	tcase_add_test(pure, tampering);
	tcase_add_test(pure, inner_padding);
	tcase_add_test(pure, inner_padding_too_long);
	tcase_add_test(pure, alerts);
	tcase_add_test(pure, handshake_messages);
	tcase_add_test(pure, unknown_record_types);
	tcase_add_test(pure, tickets_skipped);
	tcase_add_loop_test(pure, key_update, 0, nsuites);
	tcase_add_test(pure, key_update_flood);
	tcase_add_test(pure, rekey_due);
	tcase_set_timeout(pure, 30);
	suite_add_tcase(s, pure);

	tcase_add_checked_fixture(gt, creds_setup, creds_teardown);
	tcase_add_loop_test(gt, gnutls_data, 0, 2 * nsuites);
	tcase_add_loop_test(gt, gnutls_key_update_peer, 0, 2 * nsuites);
	tcase_add_loop_test(gt, srec_key_update_to_gnutls, 0, 2 * nsuites);
	tcase_add_loop_test(gt, close_notify_both_ways, 0, 2 * nsuites);
	tcase_add_loop_test(gt, gnutls_close_notify_first, 0, 2 * nsuites);
	tcase_add_loop_test(gt, srec_fatal_alert_to_gnutls, 0, 2 * nsuites);
	tcase_add_loop_test(gt, tampered_to_gnutls, 0, 2 * nsuites);
	tcase_add_loop_test(gt, tampered_from_gnutls, 0, 2 * nsuites);
	tcase_add_loop_test(gt, ticket_skipped, 0, nsuites);
	tcase_add_loop_test(gt, ticket_sent_before, 0, nsuites);
	tcase_add_loop_test(gt, from_session_refuses, 0, 2);
	tcase_set_timeout(gt, 30);
	suite_add_tcase(s, gt);
	return unit_run(s);
}
