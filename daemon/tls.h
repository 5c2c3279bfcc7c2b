/* tls.h - credentials, sessions, peer verification and authorization */
#ifndef SSLTUNNEL_TLS_H
#define SSLTUNNEL_TLS_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include "cfg.h"
#include "srec.h"

#define TLS_REASONLEN 384
#define TLS_STEK_SIZE 64		/* a GnuTLS session ticket key */

/* Per-tunnel credentials, loaded by the master before the workers fork. */
struct tls_ctx {
	gnutls_certificate_credentials_t creds;
	gnutls_priority_t prio;
	const struct cfg_tunnel *t;
	long long not_after;		/* cert_file's expiry (Unix time); 0 none */
	unsigned char stek[TLS_STEK_SIZE];	/* server role with
					   session_tickets: its ticket key */
	long long *ca_not_after;	/* the expiry of each trust anchor */
	unsigned nca;
	long long crl_next_update;	/* the earliest next update of crl_file's
					   CRLs (Unix time); 0 none */
	struct tls_vcache *vcache;	/* worker: the peer chains verified
					   under this generation (tls.c);
					   NULL until the first one */
};

/* What a peer certificate says about who it is. */
struct tls_identity {
	char cn[256];			/* subject CN, "" if none */
	char *dns[16];			/* SAN dNSName */
	size_t ndns;
	char *uri[16];			/* SAN URI */
	size_t nuri;
	unsigned char spki_sha256[32];	/* SHA-256 of SubjectPublicKeyInfo */
	int have_spki;
};

/* Why a handshake failed, for counters (status, metrics). */
enum tls_fail {
	TLS_FAIL_PROTOCOL,		/* anything else: alerts, bad records */
	TLS_FAIL_UNKNOWN_CA,		/* the chain leads to no ca_file CA */
	TLS_FAIL_NO_CERT,		/* the client sent no certificate */
	TLS_FAIL_ALLOWLIST,		/* allow_* or pin_sha256 did not match */
	TLS_FAIL_EXPIRED,		/* expired or not yet valid */
	TLS_FAIL_NAME,			/* not server_name (client role) */
	TLS_FAIL_TIMEOUT,		/* handshake_timeout passed */
	TLS_FAIL_REVOKED,		/* in crl_file */
	TLS_FAIL_N
};
/** @brief "unknown_ca", "no_certificate"... (metric label values). */
const char *tls_fail_name(enum tls_fail f);

/* The verdict on a peer, reached inside the handshake so a refused peer
 * never sees it complete; for a resumed session right after it
 * (tls_handshake_done). */
struct tls_check {
	const struct cfg_tunnel *t;
	struct tls_ctx *ctx;		/* its credentials and verified chains */
	int failed;			/* the check ran and refused */
	enum tls_fail why;		/* then: the kind of refusal */
	char reason[TLS_REASONLEN];	/* why, for the log */
	char who[300];			/* "CN=client1", once admitted */
	struct srec_secrets sec;	/* TLS 1.3 traffic secrets, for the
					   record layer after the handshake */
};

/** @brief Load the tunnel's certificate, key and trust anchors. */
int tls_ctx_init(struct tls_ctx *ctx, const struct cfg_tunnel *t,
		 char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/** @brief A non-blocking session on @fd for the tunnel's role. During
 *  the handshake the peer's chain (client role: and name) is verified and
 *  the allow lists and pins applied; the verdict goes to @check. The
 *  server role issues session tickets (session_tickets); the client role
 *  resumes with the ticket in @ticket and keeps the next one there
 *  (NULL: no resumption). */
int tls_session_new(gnutls_session_t *s, struct tls_ctx *ctx, int fd,
		    struct tls_check *check, gnutls_datum_t *ticket);

/** @brief After a successful handshake: a resumed session's peer is
 *  checked again against today's ca_file, crl_file, dates, allow lists
 *  and pins (no certificate was sent, so the check inside the handshake
 *  did not run); the client role keeps a TLS 1.2 ticket. -1: refused,
 *  the verdict in the session's tls_check. */
int tls_handshake_done(gnutls_session_t s);

/** @brief The alert that tells a peer refused after a resumption why. */
gnutls_alert_description_t tls_fail_alert(enum tls_fail f);

/** @brief A NewSessionTicket message (@msg, @len: type, length, body)
 *  that the kernel decrypted after the hand-off: GnuTLS takes it as if
 *  it had read it, and the client role keeps the ticket. */
void tls_ticket_feed(gnutls_session_t s, const unsigned char *msg, size_t len);

/** @brief Client role, TLS 1.3, with session_tickets: no ticket has come
 *  yet on this session (it comes after the handshake). */
int tls_ticket_awaited(gnutls_session_t s);

/** @brief Forget a kept ticket. */
void tls_ticket_drop(gnutls_datum_t *ticket);

/** @brief Why a record could not be received (@rc from
 *  gnutls_record_recv), for the log: the peer's alert, or GnuTLS's word. */
void tls_recv_reason(gnutls_session_t s, int rc, char *buf, size_t len);

/** @brief Why a handshake failed, in words an operator can act on. */
void tls_handshake_reason(gnutls_session_t s, int rc, char *buf, size_t len);

/** @brief Fill @id from the peer's leaf certificate. */
int tls_identity_from_session(gnutls_session_t s, struct tls_identity *id);
/** @brief Fill @id from a DER certificate (tests use it too). */
int tls_identity_from_der(const gnutls_datum_t *der, struct tls_identity *id);
void tls_identity_free(struct tls_identity *id);

/** @brief Does @id pass the tunnel's allow lists and pins? Returns 1 if
 *  admitted, else 0 with the reason ("CN=x is not in allow_cn"). */
int tls_authorize(const struct cfg_tunnel *t, const struct tls_identity *id,
		  char *reason, size_t len);

/** @brief "TLS1.3 AES-128-GCM" for logs. */
void tls_describe(gnutls_session_t s, char *buf, size_t len);

#endif
