/* srec.h - the TLS 1.3 record layer of a relaying connection, after the
 * handshake, without a GnuTLS session
 *
 * GnuTLS keeps some 10 KiB per session (gnutls_session_int alone is 7.3 KB)
 * for as long as the session lives, and no GnuTLS call frees any of it.
 * Once a TLS 1.3 handshake is over, what a tunnel needs of the session is
 * small: per direction an AEAD key, a static IV, a sequence number and the
 * traffic secret (for KeyUpdate, RFC 8446 7.2). That is what the kernel
 * takes on the kTLS path; srec does the same in user space, so the userspace
 * path frees the session too and keeps only this (about 1.6 KiB with the
 * two AEAD contexts). mover_user.c seals and opens in its relay buffers;
 * conn.c does it behind conn_tls_recv/send for the WebSocket mover.
 *
 * The record functions are pure (no I/O): the mover reads and writes the
 * sockets and calls them on its buffers, the unit tests and the fuzzer call
 * them on theirs. Records are sealed and opened in place.
 *
 * What it does (RFC 8446 5.1-5.5, 7.2, 4.6.3):
 *  - application data records, any inner padding on receipt, none sent;
 *  - alerts: close_notify ends the peer's direction; user_canceled is
 *    taken (a close_notify follows it); any other alert ends the
 *    connection with its name;
 *  - KeyUpdate: the peer's read key is updated; if the peer asks
 *    (update_requested) the caller must send srec_key_update() before its
 *    next record; more than SREC_KU_PER_S in a second is a flood;
 *  - NewSessionTicket: handed to a GnuTLS session that still waits for one
 *    (the client role's ticket store), else skipped;
 *  - our write key is updated after SREC_REKEY_RECORDS records.
 * Anything else after the handshake is an error with the alert to send.
 */
#ifndef SSLTUNNEL_SREC_H
#define SSLTUNNEL_SREC_H

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#define SREC_HDR 5			/* type(1) version(2) length(2) */
#define SREC_TAG 16			/* every TLS 1.3 AEAD's tag */
#define SREC_MAX_PLAIN 16384		/* 2^14 bytes of content */
#define SREC_MAX_CIPHER (SREC_MAX_PLAIN + 256)	/* 2^14 + 256 */
/* Bytes a record we send adds to its content: header, type, tag. */
#define SREC_OVERHEAD (SREC_HDR + 1 + SREC_TAG)
/* The longest record we ever seal: a KeyUpdate or an alert. */
#define SREC_CTL_RECORD (SREC_OVERHEAD + 5)
#define SREC_SECRET_MAX 48		/* SHA-384 */
#define SREC_KU_PER_S 8			/* KeyUpdates taken per second */
/* Our own KeyUpdate after this many records with one key: far below
 * AES-GCM's limit of 2^24.5 full records (RFC 8446 5.5). */
#define SREC_REKEY_RECORDS (1ULL << 23)

/* TLS content types */
#define SREC_CT_ALERT 21
#define SREC_CT_HANDSHAKE 22
#define SREC_CT_DATA 23

/* The application traffic secrets of a TLS 1.3 session, as the handshake
 * made them (srec_keylog collects them while it runs). */
struct srec_secrets {
	unsigned char client[SREC_SECRET_MAX];
	unsigned char server[SREC_SECRET_MAX];
	unsigned char len;
	unsigned char have;	/* bit 0: client, bit 1: server */
};

struct srec_dir {
	gnutls_aead_cipher_hd_t aead;
	unsigned char iv[12];
	unsigned char secret[SREC_SECRET_MAX];
	uint64_t seq;
};

struct srec {
	struct srec_dir rd, wr;
	gnutls_cipher_algorithm_t cipher;
	gnutls_mac_algorithm_t mac;	/* the suite's hash, for HKDF */
	unsigned char secret_len, key_len;
	uint16_t max_plain;		/* content per record we send */
	uint32_t hs_skip;		/* rest of a split NewSessionTicket */
	uint64_t ku_since_ms;		/* KeyUpdate flood window */
	unsigned ku_count;
};

/** @brief GnuTLS keylog hook (gnutls_session_set_keylog_function's
 *  shape): keep the application traffic secrets in @sec. */
void srec_keylog_take(struct srec_secrets *sec, const char *label,
		      const gnutls_datum_t *secret);

/** @brief Set @r up from one direction's secret each and the sequence
 *  numbers reached. @server: we are the server (we read the client's
 *  secret). 0, or -1 with @why (cipher not one of AES-128-GCM,
 *  AES-256-GCM, CHACHA20-POLY1305; secrets missing). */
int srec_init(struct srec *r, gnutls_cipher_algorithm_t cipher,
	      gnutls_mac_algorithm_t mac, const struct srec_secrets *sec,
	      int server, uint64_t rd_seq, uint64_t wr_seq, char *why,
	      size_t len);

/** @brief Take over @s's record layer: TLS 1.3 only, nothing decrypted
 *  and unread in @s, and the keys derived from @sec must be the keys @s
 *  uses (a KeyUpdate during the protocol step would make them differ:
 *  then -1, and GnuTLS goes on). 0, or -1 with @why. */
int srec_from_session(struct srec *r, gnutls_session_t s,
		      const struct srec_secrets *sec, char *why, size_t len);

/** @brief Wipe the keys and free the AEAD contexts. */
void srec_free(struct srec *r);

/** @brief Seal one record in place. @rec points at the record: its
 *  @plen bytes of content are at rec + SREC_HDR (plen <= max_plain),
 *  and rec has room for SREC_OVERHEAD more. Writes the header, the
 *  content type and the tag. Returns the record's length, or a negative
 *  GnuTLS error. */
int srec_seal(struct srec *r, unsigned char type, unsigned char *rec,
	      size_t plen);

/** @brief Open the record at @p (@avail bytes there) in place.
 *  1: a record of *@used bytes, its content (*@plen bytes, content type
 *  *@type) at p + SREC_HDR; 0: not a whole record yet; < 0: a GnuTLS
 *  error (GNUTLS_E_DECRYPTION_FAILED, GNUTLS_E_RECORD_OVERFLOW,
 *  GNUTLS_E_UNEXPECTED_PACKET, GNUTLS_E_RECORD_LIMIT_REACHED) whose
 *  alert gnutls_error_to_alert() gives. A handshake message header split
 *  across records is refused (no TLS stack sends one). */
int srec_open(struct srec *r, unsigned char *p, size_t avail, size_t *used,
	      unsigned char *type, size_t *plen);

enum srec_ctl {
	SREC_CTL_NONE,		/* taken (a ticket, a KeyUpdate) */
	SREC_CTL_REPLY,		/* a KeyUpdate that asks for ours:
				   srec_key_update() before the next record */
	SREC_CTL_CLOSE_NOTIFY,	/* the peer ended its direction */
	SREC_CTL_FATAL,		/* *@err and @why say why */
};

/** @brief A non-data record's content (alert or handshake). @ticket: the
 *  GnuTLS session a NewSessionTicket goes to, or NULL. @now_ms: for the
 *  KeyUpdate flood limit. On SREC_CTL_FATAL *@err is a GnuTLS error (the
 *  alert to send, see srec_open) or GNUTLS_E_FATAL_ALERT_RECEIVED. */
enum srec_ctl srec_control(struct srec *r, unsigned char type,
			   const unsigned char *p, size_t plen,
			   gnutls_session_t ticket, uint64_t now_ms, int *err,
			   char *why, size_t len);

/** @brief Seal our KeyUpdate (@request: ask the peer to update too) at
 *  @rec (room for SREC_CTL_RECORD) and move to the next write key.
 *  Returns the record's length, or a negative GnuTLS error. */
int srec_key_update(struct srec *r, int request, unsigned char *rec);

/** @brief Seal an alert (@level, @desc) at @rec (room for
 *  SREC_CTL_RECORD). Returns the record's length, or a negative error. */
int srec_alert(struct srec *r, int level, int desc, unsigned char *rec);

/** @brief Seal a control record after the @len bytes at @buf + *@off
 *  that wait to be sent (moved to the front first if fewer than
 *  SREC_CTL_RECORD bytes of @cap are left behind them): our close_notify
 *  (@alert), else our KeyUpdate (not asking for the peer's). 0, or a
 *  negative GnuTLS error. */
int srec_append(struct srec *r, int alert, unsigned char *buf, size_t cap,
		size_t *off, size_t *len);

/** @brief 1 when our write key has sealed SREC_REKEY_RECORDS records:
 *  srec_key_update(r, 0, ...) before the next one. */
int srec_rekey_due(const struct srec *r);

#endif
