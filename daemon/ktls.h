/* ktls.h - handing a TLS session to the kernel (kTLS) and its control
 * records */
#ifndef SSLTUNNEL_KTLS_H
#define SSLTUNNEL_KTLS_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* What TLS_TX / TLS_RX take, for the ciphers the kernel does. */
union ktls_info {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 aes128;
	struct tls12_crypto_info_aes_gcm_256 aes256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/* TLS record content types and handshake types met on a kTLS socket. */
#define KTLS_RT_ALERT 21
#define KTLS_RT_HANDSHAKE 22
#define KTLS_HS_NEW_SESSION_TICKET 4
#define KTLS_HS_KEY_UPDATE 24

/** @brief Can this kernel take TLS sessions: the "tls" ULP and an
 *  AES-128-GCM key on a loopback pair? 1 yes, 0 no with @why. */
int ktls_probe(char *why, size_t len);

/** @brief Fill @out from one direction's record state. Pure: the unit
 *  tests feed it fixed keys. Returns the struct size, or -1 with @why. */
int ktls_fill(gnutls_protocol_t version, gnutls_cipher_algorithm_t cipher,
	      const gnutls_datum_t *key, const gnutls_datum_t *iv,
	      const unsigned char seq[8], union ktls_info *out,
	      char *why, size_t len);

/** @brief Attach the "tls" upper layer to an established TCP socket. With
 *  no keys set it behaves as plain TCP, so it can be done before the
 *  handshake: the kernel takes the keys later even if the peer has sent
 *  its FIN by then, which TCP_ULP itself refuses (ENOTCONN). */
int ktls_attach(int fd, char *why, size_t len);

/** @brief Give @s's keys to the kernel on @fd (TCP_ULP unless @attached,
 *  then TLS_TX, TLS_RX).
 *  From then on only the socket may be used, never gnutls_record_*.
 *  Returns 0, or -1 with @why; on -1 after TLS_TX was set the session is
 *  unusable (*@spent = 1). errno ENOTCONN (the peer already half-closed)
 *  or EAGAIN (records already read by GnuTLS): this session can never go
 *  to the kernel. */
int ktls_enable(int fd, gnutls_session_t s, int attached, int *spent,
		char *why, size_t len);

/** @brief Send close_notify as an alert record on a kTLS socket. */
int ktls_send_close_notify(int fd);

enum ktls_ctl {
	KTLS_CTL_AGAIN,		/* nothing there (yet) */
	KTLS_CTL_SKIPPED,	/* a record that needs nothing (session ticket) */
	KTLS_CTL_CLOSE_NOTIFY,	/* the peer ended its direction */
	KTLS_CTL_FATAL,		/* must close; @why says why */
};

/** @brief Read the non-data record at the head of a kTLS socket's receive
 *  queue (splice said EINVAL / recv said EIO) and say what it means. A
 *  session ticket in it goes to @s (see tls_ticket_feed). */
enum ktls_ctl ktls_read_control(int fd, gnutls_session_t s, char *why,
				size_t len);

#endif
