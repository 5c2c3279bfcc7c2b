/* srec.c - the TLS 1.3 record layer after the handshake (see srec.h)
 *
 * The cryptography is GnuTLS's: HKDF (gnutls_hkdf_expand) and the AEADs
 * (gnutls_aead_cipher_*), the same code its own record layer runs. What is
 * written here is the framing of RFC 8446 section 5 and the two
 * post-handshake messages a tunnel meets (4.6.1, 4.6.3).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "srec.h"
#include "tls.h"

#define SREC_IV 12
#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24

void srec_keylog_take(struct srec_secrets *sec, const char *label,
		      const gnutls_datum_t *secret)
{
	unsigned char *to;
	unsigned bit;

	if (!sec || secret->size == 0 || secret->size > SREC_SECRET_MAX)
		return;
	if (strcmp(label, "CLIENT_TRAFFIC_SECRET_0") == 0)
		to = sec->client, bit = 1;
	else if (strcmp(label, "SERVER_TRAFFIC_SECRET_0") == 0)
		to = sec->server, bit = 2;
	else
		return;
	if ((sec->have & 3) && sec->len != secret->size)
		return;
	memcpy(to, secret->data, secret->size);
	sec->len = secret->size;
	sec->have |= bit;
}

/** @brief HKDF-Expand-Label(@secret, "tls13 " @label, "", @outlen). */
static int srec_expand(gnutls_mac_algorithm_t mac, const unsigned char *secret,
		       size_t slen, const char *label, unsigned char *out,
		       size_t outlen)
{
	unsigned char info[2 + 1 + 255 + 1];
	size_t ll = 6 + strlen(label), n = 0;
	gnutls_datum_t key = { (unsigned char *)secret, slen }, in;

	if (ll > 255)
		return GNUTLS_E_INVALID_REQUEST;
	info[n++] = outlen >> 8;
	info[n++] = outlen & 0xff;
	info[n++] = ll;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll - 6);
	n += ll;
	info[n++] = 0;			/* empty context */
	in.data = info;
	in.size = n;
	return gnutls_hkdf_expand(mac, &key, &in, out, outlen);
}

/** @brief Keys and IV from @d->secret into @d (a fresh AEAD context);
 *  the key is also copied to @key_out when not NULL. */
static int srec_install(struct srec *r, struct srec_dir *d,
			unsigned char *key_out)
{
	unsigned char key[32];
	gnutls_datum_t k = { key, r->key_len };
	gnutls_aead_cipher_hd_t h;
	int rc;

	if ((rc = srec_expand(r->mac, d->secret, r->secret_len, "key", key,
			      r->key_len)) < 0 ||
	    (rc = srec_expand(r->mac, d->secret, r->secret_len, "iv", d->iv,
			      SREC_IV)) < 0 ||
	    (rc = gnutls_aead_cipher_init(&h, r->cipher, &k)) < 0) {
		gnutls_memset(key, 0, sizeof key);
		return rc;
	}
	if (key_out)
		memcpy(key_out, key, r->key_len);
	gnutls_memset(key, 0, sizeof key);
	if (d->aead)
		gnutls_aead_cipher_deinit(d->aead);
	d->aead = h;
	d->seq = 0;
	return 0;
}

/** @brief The next generation of @d's secret and keys (KeyUpdate). */
static int srec_next(struct srec *r, struct srec_dir *d)
{
	unsigned char next[SREC_SECRET_MAX];
	int rc;

	rc = srec_expand(r->mac, d->secret, r->secret_len, "traffic upd",
			 next, r->secret_len);
	if (rc < 0)
		return rc;
	memcpy(d->secret, next, r->secret_len);
	gnutls_memset(next, 0, sizeof next);
	return srec_install(r, d, NULL);
}

static int srec_setup(struct srec *r, gnutls_cipher_algorithm_t cipher,
		      gnutls_mac_algorithm_t mac, const struct srec_secrets *sec,
		      int server, unsigned char *rd_key, unsigned char *wr_key,
		      char *why, size_t len)
{
	int rc;

	memset(r, 0, sizeof *r);
	switch (cipher) {
	case GNUTLS_CIPHER_AES_128_GCM:
		r->key_len = 16;
		break;
	case GNUTLS_CIPHER_AES_256_GCM:
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		r->key_len = 32;
		break;
	default:
		snprintf(why, len, "cipher %s is not one ssltunnel's record layer does",
			 gnutls_cipher_get_name(cipher));
		return -1;
	}
	if (!sec || (sec->have & 3) != 3 ||
	    sec->len != gnutls_hmac_get_len(mac)) {
		snprintf(why, len, "the session's traffic secrets were not seen");
		return -1;
	}
	r->cipher = cipher;
	r->mac = mac;
	r->secret_len = sec->len;
	r->max_plain = SREC_MAX_PLAIN;
	memcpy(r->rd.secret, server ? sec->client : sec->server, sec->len);
	memcpy(r->wr.secret, server ? sec->server : sec->client, sec->len);
	if ((rc = srec_install(r, &r->rd, rd_key)) < 0 ||
	    (rc = srec_install(r, &r->wr, wr_key)) < 0) {
		snprintf(why, len, "deriving record keys: %s", gnutls_strerror(rc));
		srec_free(r);
		return -1;
	}
	return 0;
}

int srec_init(struct srec *r, gnutls_cipher_algorithm_t cipher,
	      gnutls_mac_algorithm_t mac, const struct srec_secrets *sec,
	      int server, uint64_t rd_seq, uint64_t wr_seq, char *why,
	      size_t len)
{
	if (srec_setup(r, cipher, mac, sec, server, NULL, NULL, why, len) < 0)
		return -1;
	r->rd.seq = rd_seq;
	r->wr.seq = wr_seq;
	return 0;
}

static uint64_t srec_seq_get(const unsigned char seq[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | seq[i];
	return v;
}

/** @brief Does @s use, for direction @read, the key and IV we derived? */
static int srec_same(gnutls_session_t s, int read, const struct srec *r,
		     const struct srec_dir *d, const unsigned char *key,
		     uint64_t *seq)
{
	gnutls_datum_t k, iv;
	unsigned char sq[8];

	if (gnutls_record_get_state(s, read, NULL, &iv, &k, sq) < 0)
		return 0;
	*seq = srec_seq_get(sq);
	return k.size == r->key_len && iv.size == SREC_IV &&
	       gnutls_memcmp(k.data, key, r->key_len) == 0 &&
	       gnutls_memcmp(iv.data, d->iv, SREC_IV) == 0;
}

int srec_from_session(struct srec *r, gnutls_session_t s,
		      const struct srec_secrets *sec, char *why, size_t len)
{
	gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(s);
	gnutls_mac_algorithm_t mac = (gnutls_mac_algorithm_t)gnutls_prf_hash_get(s);
	unsigned char rk[32], wk[32];
	uint64_t rs = 0, ws = 0;
	int ok = 0, failed = 0;

	if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3) {
		snprintf(why, len, "%s (ssltunnel's record layer is TLS 1.3's)",
			 gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
		return -1;
	}
	if (gnutls_record_check_pending(s) > 0) {
		snprintf(why, len, "data arrived with the handshake");
		return -1;
	}
	/* GnuTLS does not say which end a session is: the end whose read
	 * key is the one derived from the client's secret is the server.
	 * Both directions must then match what the session uses; they do
	 * not after a KeyUpdate during the protocol step (the secrets seen
	 * are generation 0), and GnuTLS keeps the records then. */
	for (int server = 0; server <= 1 && !ok; server++) {
		if (srec_setup(r, cipher, mac, sec, server, rk, wk, why, len) < 0) {
			failed = 1;
			break;
		}
		ok = srec_same(s, 1, r, &r->rd, rk, &rs) &&
		     srec_same(s, 0, r, &r->wr, wk, &ws);
		if (!ok)
			srec_free(r);
	}
	gnutls_memset(rk, 0, sizeof rk);
	gnutls_memset(wk, 0, sizeof wk);
	if (!ok) {
		if (!failed)
			snprintf(why, len, "the session's keys are not generation 0's (a KeyUpdate came first)");
		return -1;
	}
	r->rd.seq = rs;
	r->wr.seq = ws;
	r->max_plain = gnutls_record_get_max_size(s) < SREC_MAX_PLAIN ?
		       gnutls_record_get_max_size(s) : SREC_MAX_PLAIN;
	return 0;
}

void srec_free(struct srec *r)
{
	if (r->rd.aead)
		gnutls_aead_cipher_deinit(r->rd.aead);
	if (r->wr.aead)
		gnutls_aead_cipher_deinit(r->wr.aead);
	gnutls_memset(r, 0, sizeof *r);
}

static void srec_nonce(const struct srec_dir *d, unsigned char nonce[SREC_IV])
{
	memcpy(nonce, d->iv, SREC_IV);
	for (int i = 0; i < 8; i++)
		nonce[SREC_IV - 1 - i] ^= (unsigned char)(d->seq >> (8 * i));
}

int srec_seal(struct srec *r, unsigned char type, unsigned char *rec,
	      size_t plen)
{
	unsigned char nonce[SREC_IV];
	size_t inner = plen + 1, clen = inner + SREC_TAG;
	int rc;

	if (plen > r->max_plain && !(type != SREC_CT_DATA && plen <= 16))
		return GNUTLS_E_INVALID_REQUEST;
	if (r->wr.seq == UINT64_MAX)
		return GNUTLS_E_RECORD_LIMIT_REACHED;
	rec[0] = SREC_CT_DATA;		/* the outer type, always */
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = clen >> 8;
	rec[4] = clen & 0xff;
	rec[SREC_HDR + plen] = type;
	srec_nonce(&r->wr, nonce);
	rc = gnutls_aead_cipher_encrypt(r->wr.aead, nonce, SREC_IV, rec,
					SREC_HDR, SREC_TAG, rec + SREC_HDR,
					inner, rec + SREC_HDR, &clen);
	if (rc < 0)
		return rc;
	r->wr.seq++;
	return (int)(SREC_HDR + clen);
}

int srec_open(struct srec *r, unsigned char *p, size_t avail, size_t *used,
	      unsigned char *type, size_t *plen)
{
	unsigned char nonce[SREC_IV];
	size_t l, n;
	int rc;

	if (avail < SREC_HDR)
		return 0;
	/* After the handshake every TLS 1.3 record is application_data on
	 * the outside (5.2); a ChangeCipherSpec is only allowed before. */
	if (p[0] != SREC_CT_DATA)
		return GNUTLS_E_UNEXPECTED_PACKET;
	l = (size_t)p[3] << 8 | p[4];
	if (l > SREC_MAX_CIPHER)
		return GNUTLS_E_RECORD_OVERFLOW;
	if (avail < SREC_HDR + l)
		return 0;
	if (l < SREC_TAG + 1)		/* no room for a type: not authentic */
		return GNUTLS_E_DECRYPTION_FAILED;
	if (r->rd.seq == UINT64_MAX)
		return GNUTLS_E_RECORD_LIMIT_REACHED;
	srec_nonce(&r->rd, nonce);
	n = l;
	rc = gnutls_aead_cipher_decrypt(r->rd.aead, nonce, SREC_IV, p, SREC_HDR,
					SREC_TAG, p + SREC_HDR, l, p + SREC_HDR,
					&n);
	if (rc < 0)
		return GNUTLS_E_DECRYPTION_FAILED;
	r->rd.seq++;
	/* TLSInnerPlaintext: content, type, zeros (5.4), 2^14 + 1 bytes at
	 * most with the padding. */
	if (n > SREC_MAX_PLAIN + 1)
		return GNUTLS_E_RECORD_OVERFLOW;
	while (n > 0 && p[SREC_HDR + n - 1] == 0)
		n--;
	if (n == 0)
		return GNUTLS_E_UNEXPECTED_PACKET;
	*type = p[SREC_HDR + n - 1];
	/* 5.1: nothing may come between the pieces of a handshake
	 * message split across records. */
	if (r->hs_skip && *type != SREC_CT_HANDSHAKE)
		return GNUTLS_E_UNEXPECTED_PACKET;
	*plen = n - 1;
	*used = SREC_HDR + l;
	return 1;
}

static enum srec_ctl srec_fatal(int *err, int e, char *why, size_t len,
				const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum srec_ctl srec_fatal(int *err, int e, char *why, size_t len,
				const char *fmt, ...)
{
	va_list ap;

	*err = e;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return SREC_CTL_FATAL;
}

/** @brief The peer's KeyUpdate (@req: it asks for ours). */
static enum srec_ctl srec_peer_update(struct srec *r, int req, uint64_t now_ms,
				      int *err, char *why, size_t len)
{
	int rc;

	if (now_ms - r->ku_since_ms >= 1000 || now_ms < r->ku_since_ms) {
		r->ku_since_ms = now_ms;
		r->ku_count = 0;
	}
	if (++r->ku_count > SREC_KU_PER_S)
		return srec_fatal(err, GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS, why,
				  len, "peer sent too many post-handshake messages (KeyUpdate flood? %u a second are taken): %u KeyUpdates within a second",
				  SREC_KU_PER_S, r->ku_count);
	if ((rc = srec_next(r, &r->rd)) < 0) {
		*err = rc;
		snprintf(why, len, "taking the peer's new keys: %s",
			 gnutls_strerror(rc));
		return SREC_CTL_FATAL;
	}
	return req ? SREC_CTL_REPLY : SREC_CTL_NONE;
}

static enum srec_ctl srec_handshake(struct srec *r, const unsigned char *p,
				    size_t n, gnutls_session_t ticket,
				    uint64_t now_ms, int *err, char *why,
				    size_t len)
{
	if (n == 0)		/* 5.1: no zero-length handshake records */
		return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET_LENGTH, why,
				  len, "empty TLS handshake record");
	if (r->hs_skip) {
		size_t k = n < r->hs_skip ? n : r->hs_skip;
		r->hs_skip -= k;
		p += k;
		n -= k;
	}
	while (n > 0) {
		size_t l;

		if (n < 4)
			return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET_LENGTH,
					  why, len, "a TLS handshake message header split across records");
		l = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (p[0] == HS_KEY_UPDATE) {
			/* 4.6.3: one byte, 0 or 1; and a key change ends
			 * the record (5.1). */
			if (l != 1 || n != 5 || p[4] > 1)
				return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET_LENGTH,
						  why, len, "malformed TLS KeyUpdate (length %u)",
						  (unsigned)l);
			return srec_peer_update(r, p[4], now_ms, err, why, len);
		}
		if (p[0] != HS_NEW_SESSION_TICKET)
			return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET, why,
					  len, "unexpected TLS handshake message %u after the handshake",
					  p[0]);
		if (4 + l > n) {	/* split: skipped, as on the kernel path */
			r->hs_skip = (uint32_t)(4 + l - n);
			return SREC_CTL_NONE;
		}
		if (ticket)
			tls_ticket_feed(ticket, p, 4 + l);
		p += 4 + l;
		n -= 4 + l;
	}
	return SREC_CTL_NONE;
}

enum srec_ctl srec_control(struct srec *r, unsigned char type,
			   const unsigned char *p, size_t plen,
			   gnutls_session_t ticket, uint64_t now_ms, int *err,
			   char *why, size_t len)
{
	*err = 0;
	if (r->hs_skip && type != SREC_CT_HANDSHAKE)
		return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET, why, len,
				  "a TLS record of type %u inside a split handshake message",
				  type);
	if (type == SREC_CT_ALERT) {
		const char *name;
		if (plen != 2)
			return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET_LENGTH,
					  why, len, "malformed TLS alert (%u bytes)",
					  (unsigned)plen);
		if (p[1] == GNUTLS_A_CLOSE_NOTIFY)
			return SREC_CTL_CLOSE_NOTIFY;
		if (p[1] == GNUTLS_A_USER_CANCELED)	/* close_notify follows */
			return SREC_CTL_NONE;
		*err = GNUTLS_E_FATAL_ALERT_RECEIVED;
		name = gnutls_alert_get_name(p[1]);
		if (name)
			snprintf(why, len, "peer sent TLS alert: %s", name);
		else
			snprintf(why, len, "peer sent TLS alert %u", p[1]);
		return SREC_CTL_FATAL;
	}
	if (type == SREC_CT_HANDSHAKE)
		return srec_handshake(r, p, plen, ticket, now_ms, err, why, len);
	return srec_fatal(err, GNUTLS_E_UNEXPECTED_PACKET, why, len,
			  "unexpected TLS record type %u after the handshake", type);
}

int srec_key_update(struct srec *r, int request, unsigned char *rec)
{
	unsigned char *m = rec + SREC_HDR;
	int n, rc;

	m[0] = HS_KEY_UPDATE;
	m[1] = 0;
	m[2] = 0;
	m[3] = 1;
	m[4] = request ? 1 : 0;
	n = srec_seal(r, SREC_CT_HANDSHAKE, rec, 5);
	if (n < 0)
		return n;
	if ((rc = srec_next(r, &r->wr)) < 0)
		return rc;
	return n;
}

int srec_alert(struct srec *r, int level, int desc, unsigned char *rec)
{
	rec[SREC_HDR] = (unsigned char)level;
	rec[SREC_HDR + 1] = (unsigned char)desc;
	return srec_seal(r, SREC_CT_ALERT, rec, 2);
}

int srec_append(struct srec *r, int alert, unsigned char *buf, size_t cap,
		size_t *off, size_t *len)
{
	unsigned char *at;
	int n;

	if (*off + *len + SREC_CTL_RECORD > cap) {
		memmove(buf, buf + *off, *len);
		*off = 0;
	}
	at = buf + *off + *len;
	n = alert ? srec_alert(r, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY, at) :
		srec_key_update(r, 0, at);
	if (n < 0)
		return n;
	*len += (size_t)n;
	return 0;
}

int srec_rekey_due(const struct srec *r)
{
	return r->wr.seq >= SREC_REKEY_RECORDS;
}
