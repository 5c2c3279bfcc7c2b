/* ktls.c - handing a TLS session to the kernel (kTLS) and its control
 * records
 *
 * Debian's GnuTLS does not do kTLS itself, so, as tlshd does, the keys are
 * taken from gnutls_record_get_state() once the handshake is over and put
 * into the socket with TLS_TX / TLS_RX.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ktls.h"
#include "tls.h"

int ktls_probe(char *why, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	struct tls12_crypto_info_aes_gcm_128 probe_key = {
		.info = { .version = TLS_1_2_VERSION,
			  .cipher_type = TLS_CIPHER_AES_GCM_128 },
	};
	int l = -1, c = -1, s = -1, ok = 0;

	/* TCP_ULP needs an established socket: make a loopback pair. The
	 * kernel loads tls.ko on demand where it may. */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &al) < 0 ||
	    connect(c, (struct sockaddr *)&a, sizeof a) < 0 ||
	    (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		snprintf(why, len, "cannot make a loopback socket pair to probe: %s",
			 strerror(errno));
		goto out;
	}
	if (setsockopt(s, SOL_TCP, TCP_ULP, "tls", sizeof "tls") < 0) {
		if (errno == ENOENT)
			snprintf(why, len, "kernel has no TLS module (CONFIG_TLS unset or tls.ko not loadable)");
		else
			snprintf(why, len, "TCP_ULP \"tls\": %s", strerror(errno));
		goto out;
	}
	/* tls.ko alone is not enough: the AEAD comes from the crypto API,
	 * whose module may not load (TLS_TX then fails with ENOENT). Try a
	 * throw-away TLS 1.2 AES-128-GCM key, the cipher every peer offers. */
	if (setsockopt(s, SOL_TLS, TLS_TX, &probe_key, sizeof probe_key) < 0) {
		if (errno == ENOENT)
			snprintf(why, len, "the kernel has TLS but cannot provide AES-128-GCM for it (crypto module gcm not loadable?)");
		else
			snprintf(why, len, "TLS_TX with a test key: %s", strerror(errno));
		goto out;
	}
	ok = 1;
out:
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return ok;
}

int ktls_fill(gnutls_protocol_t version, gnutls_cipher_algorithm_t cipher,
	      const gnutls_datum_t *key, const gnutls_datum_t *iv,
	      const unsigned char seq[8], union ktls_info *out,
	      char *why, size_t len)
{
	unsigned short v;
	int tls13 = version == GNUTLS_TLS1_3;

	memset(out, 0, sizeof *out);
	if (version == GNUTLS_TLS1_2)
		v = TLS_1_2_VERSION;
	else if (tls13)
		v = TLS_1_3_VERSION;
	else {
		snprintf(why, len, "kernel TLS takes TLS 1.2 and 1.3, not %s",
			 gnutls_protocol_get_name(version));
		return -1;
	}
#define KTLS_CHECK(k, i) \
	if (key->size != (k) || iv->size != (i)) { \
		snprintf(why, len, "unexpected key/IV size %u/%u for %s", \
			 key->size, iv->size, gnutls_cipher_get_name(cipher)); \
		return -1; \
	}
	switch (cipher) {
	case GNUTLS_CIPHER_AES_128_GCM:
		/* TLS 1.2: 4-byte implicit salt, explicit nonce = sequence;
		 * TLS 1.3: 12-byte static IV split into salt + iv. */
		KTLS_CHECK(16, tls13 ? 12 : 4);
		out->aes128.info = (struct tls_crypto_info){ v, TLS_CIPHER_AES_GCM_128 };
		memcpy(out->aes128.salt, iv->data, 4);
		memcpy(out->aes128.iv, tls13 ? iv->data + 4 : seq, 8);
		memcpy(out->aes128.key, key->data, 16);
		memcpy(out->aes128.rec_seq, seq, 8);
		return sizeof out->aes128;
	case GNUTLS_CIPHER_AES_256_GCM:
		KTLS_CHECK(32, tls13 ? 12 : 4);
		out->aes256.info = (struct tls_crypto_info){ v, TLS_CIPHER_AES_GCM_256 };
		memcpy(out->aes256.salt, iv->data, 4);
		memcpy(out->aes256.iv, tls13 ? iv->data + 4 : seq, 8);
		memcpy(out->aes256.key, key->data, 32);
		memcpy(out->aes256.rec_seq, seq, 8);
		return sizeof out->aes256;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		KTLS_CHECK(32, 12);
		out->chacha.info = (struct tls_crypto_info){ v, TLS_CIPHER_CHACHA20_POLY1305 };
		memcpy(out->chacha.iv, iv->data, 12);
		memcpy(out->chacha.key, key->data, 32);
		memcpy(out->chacha.rec_seq, seq, 8);
		return sizeof out->chacha;
	default:
		snprintf(why, len, "kernel TLS does not take cipher %s",
			 gnutls_cipher_get_name(cipher));
		return -1;
	}
#undef KTLS_CHECK
}

/** @brief Install one direction's keys; the copy on the stack is wiped. */
static int ktls_set(int fd, gnutls_session_t s, int read, char *why, size_t len)
{
	gnutls_datum_t key, iv;
	unsigned char seq[8];
	union ktls_info info;
	int n, rc;

	rc = gnutls_record_get_state(s, read, NULL, &iv, &key, seq);
	if (rc < 0) {
		snprintf(why, len, "record state: %s", gnutls_strerror(rc));
		return -1;
	}
	n = ktls_fill(gnutls_protocol_get_version(s), gnutls_cipher_get(s),
		      &key, &iv, seq, &info, why, len);
	if (n < 0)
		return -1;
	rc = setsockopt(fd, SOL_TLS, read ? TLS_RX : TLS_TX, &info, n);
	if (rc < 0 && errno == ENOENT)	/* the AEAD, not tls.ko */
		snprintf(why, len, "%s: the kernel cannot provide %s (crypto module not loadable?)",
			 read ? "TLS_RX" : "TLS_TX",
			 gnutls_cipher_get_name(gnutls_cipher_get(s)));
	else if (rc < 0)
		snprintf(why, len, "%s: %s", read ? "TLS_RX" : "TLS_TX",
			 strerror(errno));
	gnutls_memset(&info, 0, sizeof info);
	return rc;
}

int ktls_attach(int fd, char *why, size_t len)
{
	int e;

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0)
		return 0;
	e = errno;
	if (e == ENOTCONN)
		snprintf(why, len, "the peer closed its side before the hand-off (kTLS needs an established socket)");
	else
		snprintf(why, len, "TCP_ULP \"tls\": %s", strerror(e));
	errno = e;
	return -1;
}

int ktls_enable(int fd, gnutls_session_t s, int attached, int *spent,
		char *why, size_t len)
{
	*spent = 0;
	if (gnutls_record_check_pending(s) > 0) {
		snprintf(why, len, "data arrived with the handshake");
		errno = EAGAIN;
		return -1;
	}
	if (!attached && ktls_attach(fd, why, len) < 0)
		return -1;
	/* A refused TLS_TX installs nothing (the ULP without keys is plain
	 * TCP, GnuTLS can go on); once it is set, the sending side is the
	 * kernel's and a failure leaves a session neither side can use. */
	if (ktls_set(fd, s, 0, why, len) < 0)
		return -1;
	*spent = 1;
	if (ktls_set(fd, s, 1, why, len) < 0)
		return -1;
	return 0;
}

int ktls_send_close_notify(int fd)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))] = { 0 };
	unsigned char alert[2] = { 1, 0 };	/* warning, close_notify */
	struct iovec io = { alert, sizeof alert };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cm) = KTLS_RT_ALERT;
	return sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof alert ? 0 : -1;
}

/** @brief What a handshake message after the handshake means to us. A
 *  NewSessionTicket goes to GnuTLS (@s), which keeps it for the client
 *  role's next connection; one split across records is skipped. */
static enum ktls_ctl ktls_handshake_msg(gnutls_session_t s,
					const unsigned char *p, ssize_t n,
					char *why, size_t len)
{
	/* One record may carry several messages: type(1) length(3) body. */
	while (n >= 4) {
		size_t l = (size_t)p[1] << 16 | p[2] << 8 | p[3];
		if (p[0] == KTLS_HS_KEY_UPDATE) {
			snprintf(why, len, "peer sent a TLS KeyUpdate; kernel TLS here cannot take new keys");
			return KTLS_CTL_FATAL;
		}
		if (p[0] != KTLS_HS_NEW_SESSION_TICKET) {
			snprintf(why, len, "unexpected TLS handshake message %u after the handshake",
				 p[0]);
			return KTLS_CTL_FATAL;
		}
		if ((ssize_t)(4 + l) > n)
			break;
		if (s)
			tls_ticket_feed(s, p, 4 + l);
		p += 4 + l;
		n -= 4 + l;
	}
	return KTLS_CTL_SKIPPED;
}

enum ktls_ctl ktls_read_control(int fd, gnutls_session_t s, char *why,
				size_t len)
{
	unsigned char buf[16384 + 256];
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec io = { buf, sizeof buf };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;
	unsigned char type = 23;
	ssize_t n;

	n = recvmsg(fd, &m, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return KTLS_CTL_AGAIN;
		snprintf(why, len, "reading TLS record: %s%s", strerror(errno),
			 errno == EBADMSG ? " (record failed authentication)" : "");
		return KTLS_CTL_FATAL;
	}
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(cm);
	if (type == 23) {
		/* Callers ask only when the kernel said a control record is
		 * first; data here would be lost, so it ends the connection. */
		if (n == 0)
			return KTLS_CTL_CLOSE_NOTIFY;
		snprintf(why, len, "application data where a control record was expected");
		return KTLS_CTL_FATAL;
	}
	if (type == KTLS_RT_ALERT) {
		const char *name = n >= 2 ? gnutls_alert_get_name(buf[1]) : NULL;
		if (n >= 2 && buf[1] == 0)
			return KTLS_CTL_CLOSE_NOTIFY;
		if (name)
			snprintf(why, len, "peer sent TLS alert: %s", name);
		else
			snprintf(why, len, "peer sent TLS alert %d", n >= 2 ? buf[1] : -1);
		return KTLS_CTL_FATAL;
	}
	if (type == KTLS_RT_HANDSHAKE)
		return ktls_handshake_msg(s, buf, n, why, len);
	snprintf(why, len, "unexpected TLS record type %u", type);
	return KTLS_CTL_FATAL;
}
