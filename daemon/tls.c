/* tls.c - credentials, sessions, peer verification and authorization */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "tls.h"

/** @brief The GnuTLS priority string for a tunnel: TLS 1.2 and/or 1.3,
 *  and only AEAD ciphers the kernel can take over (AES-GCM, ChaCha20).
 *  X25519 is the first group, as in OpenSSL, BoringSSL and Go: the
 *  cheapest ECDHE with forward secrecy, which is most of what a resumed
 *  handshake costs (GnuTLS's own order starts with P-256). GnuTLS in
 *  FIPS mode leaves it out by itself. */
static void tls_priority_string(const struct cfg_tunnel *t, char *buf,
				size_t len)
{
	snprintf(buf, len, "NORMAL:-VERS-ALL%s%s:-CIPHER-ALL%s%s%s:"
		 "-MAC-ALL:+AEAD:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
		 "+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:"
		 "+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096:"
		 "%%SERVER_PRECEDENCE",
		 t->versions & CFG_TLS13 ? ":+VERS-TLS1.3" : "",
		 t->versions & CFG_TLS12 ? ":+VERS-TLS1.2" : "",
		 t->ciphers & CFG_CIPHER_AES128 ? ":+AES-128-GCM" : "",
		 t->ciphers & CFG_CIPHER_AES256 ? ":+AES-256-GCM" : "",
		 t->ciphers & CFG_CIPHER_CHACHA ? ":+CHACHA20-POLY1305" : "");
}

/** @brief Is @crl signed by one of @cas and in date? Else why not, in
 *  @why. */
static int tls_crl_check(gnutls_x509_crl_t crl, const gnutls_x509_crt_t *cas,
			 unsigned ncas, char *why, size_t len)
{
	unsigned status = 0;
	time_t now = time(NULL), next, cur;
	gnutls_datum_t out = { NULL, 0 };
	char issuer[256], date[32];
	size_t l = sizeof issuer;
	struct tm tm;

	if (gnutls_x509_crl_get_issuer_dn(crl, issuer, &l) < 0)
		snprintf(issuer, sizeof issuer, "(unreadable issuer)");
	if (gnutls_x509_crl_verify(crl, cas, ncas, 0, &status) < 0)
		status = GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND;
	/* GnuTLS marks an out-of-date CRL invalid too: dates said below. */
	status &= ~(GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
		    GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE);
	if (status & ~GNUTLS_CERT_INVALID) {
		gnutls_certificate_verification_status_print(status,
			GNUTLS_CRT_X509, &out, 0);
		snprintf(why, len, "the CRL of %s is not signed by a CA of ca_file: %s",
			 issuer, out.data ? (char *)out.data : "verification failed");
		gnutls_free(out.data);
		l = strlen(why);
		while (l > 0 && why[l - 1] == ' ')
			why[--l] = '\0';
		return -1;
	}
	next = gnutls_x509_crl_get_next_update(crl);
	cur = gnutls_x509_crl_get_this_update(crl);
	if (next != (time_t)-1 && next < now) {
		gmtime_r(&next, &tm);
		strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(why, len,
			 "the CRL of %s expired on %s (its next update): get a new one from the CA",
			 issuer, date);
		return -1;
	}
	if (cur != (time_t)-1 && cur > now + 300) {
		gmtime_r(&cur, &tm);
		strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(why, len, "the CRL of %s is issued in the future (%s)",
			 issuer, date);
		return -1;
	}
	if (status) {
		snprintf(why, len, "the CRL of %s does not verify against ca_file",
			 issuer);
		return -1;
	}
	return 0;
}

/** @brief The CRLs in @data: PEM (one or more) or one DER. */
static int tls_crl_import(const gnutls_datum_t *data, gnutls_x509_crl_t **crls,
			  unsigned *n)
{
	int rc;

	if (memmem(data->data, data->size, "-----BEGIN", 10))
		return gnutls_x509_crl_list_import2(crls, n, data,
						    GNUTLS_X509_FMT_PEM, 0);
	*crls = gnutls_malloc(sizeof **crls);
	if (!*crls)
		return GNUTLS_E_MEMORY_ERROR;
	rc = gnutls_x509_crl_init(&(*crls)[0]);
	if (rc >= 0 && (rc = gnutls_x509_crl_import((*crls)[0], data,
						     GNUTLS_X509_FMT_DER)) < 0)
		gnutls_x509_crl_deinit((*crls)[0]);
	if (rc < 0) {
		gnutls_free(*crls);
		*crls = NULL;
		return rc;
	}
	*n = 1;
	return 0;
}

/** @brief crl_file: each CRL checked against ca_file's CAs and its dates,
 *  then used in every verification. One that fails stops the load: a
 *  list skipped in silence would let a revoked peer in. */
static int tls_crl_load(struct tls_ctx *ctx, const struct cfg_tunnel *t,
			char *err, size_t errlen)
{
	gnutls_datum_t data = { NULL, 0 }, cadata = { NULL, 0 };
	gnutls_x509_crl_t *crls = NULL;
	gnutls_x509_crt_t *cas = NULL;
	unsigned ncrls = 0, ncas = 0;
	char why[400];
	int rc, ret = -1;

	if (gnutls_load_file(t->crl_file, &data) < 0) {
		snprintf(err, errlen, "tunnel %s: crl_file %s: cannot read: %s",
			 t->name, t->crl_file, strerror(errno));
		goto out;
	}
	rc = tls_crl_import(&data, &crls, &ncrls);
	if (rc < 0 || ncrls == 0) {
		snprintf(err, errlen,
			 "tunnel %s: crl_file %s: expected CRLs (PEM or DER): %s",
			 t->name, t->crl_file,
			 rc < 0 ? gnutls_strerror(rc) : "none found");
		goto out;
	}
	rc = gnutls_load_file(t->ca_file, &cadata);
	if (rc >= 0)
		rc = gnutls_x509_crt_list_import2(&cas, &ncas, &cadata,
						  GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		snprintf(err, errlen, "tunnel %s: ca_file %s: %s", t->name,
			 t->ca_file, gnutls_strerror(rc));
		goto out;
	}
	for (unsigned i = 0; i < ncrls; i++)
		if (tls_crl_check(crls[i], cas, ncas, why, sizeof why) < 0) {
			snprintf(err, errlen, "tunnel %s: crl_file %s: %s",
				 t->name, t->crl_file, why);
			goto out;
		}
	for (unsigned i = 0; i < ncrls; i++) {
		time_t next = gnutls_x509_crl_get_next_update(crls[i]);

		if (next != (time_t)-1 && (!ctx->crl_next_update ||
					   (long long)next < ctx->crl_next_update))
			ctx->crl_next_update = (long long)next;
	}
	rc = gnutls_certificate_set_x509_crl(ctx->creds, crls, (int)ncrls);
	if (rc < 0) {
		snprintf(err, errlen, "tunnel %s: crl_file %s: %s", t->name,
			 t->crl_file, gnutls_strerror(rc));
		goto out;
	}
	ret = 0;
out:
	for (unsigned i = 0; i < ncrls; i++)
		gnutls_x509_crl_deinit(crls[i]);
	gnutls_free(crls);
	for (unsigned i = 0; i < ncas; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
	gnutls_free(data.data);
	gnutls_free(cadata.data);
	return ret;
}

/* The master key of the session tickets: made once, by the first load
 * of the configuration in the master, before any worker forks, and never
 * changed, so every worker of every generation (reloads included) derives
 * the same keys from it. Write-once: the only state of its kind here. */
static gnutls_datum_t tls_stek;

/** @brief The expiry of each trust anchor, for the verified-chain cache
 *  (a chain is only as valid as the anchor it leads to). None listed:
 *  the cache stays off. */
static void tls_ca_dates(struct tls_ctx *ctx)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_trust_list_iter_t it = NULL;
	gnutls_x509_crt_t crt;
	unsigned cap = 0;

	gnutls_certificate_get_trust_list(ctx->creds, &tl);
	if (!tl)
		return;
	while (gnutls_x509_trust_list_iter_get_ca(tl, &it, &crt) >= 0) {
		if (ctx->nca == cap) {
			long long *p = realloc(ctx->ca_not_after,
					       (cap ? 2 * cap : 8) * sizeof *p);
			if (!p) {
				gnutls_x509_crt_deinit(crt);
				free(ctx->ca_not_after);
				ctx->ca_not_after = NULL;
				ctx->nca = 0;
				break;
			}
			ctx->ca_not_after = p;
			cap = cap ? 2 * cap : 8;
		}
		ctx->ca_not_after[ctx->nca++] = (long long)
			gnutls_x509_crt_get_expiration_time(crt);
		gnutls_x509_crt_deinit(crt);
	}
	gnutls_x509_trust_list_iter_deinit(it);
}

/** @brief Tunnel @t's ticket key: HMAC-SHA-512 of its name under the
 *  master key (made on first use), so a ticket of one tunnel is no
 *  ticket to another. GnuTLS derives the rotating keys from it by time
 *  (lib/stek.c). */
static int tls_stek_derive(const struct cfg_tunnel *t,
			   unsigned char key[TLS_STEK_SIZE])
{
	int rc;

	if (!tls_stek.data &&
	    (rc = gnutls_session_ticket_key_generate(&tls_stek)) < 0)
		return rc;
	return gnutls_hmac_fast(GNUTLS_MAC_SHA512, tls_stek.data, tls_stek.size,
				t->name, strlen(t->name), key);
}

int tls_ctx_init(struct tls_ctx *ctx, const struct cfg_tunnel *t,
		 char *err, size_t errlen)
{
	const char *pos;
	char prio[512];
	int rc;

	memset(ctx, 0, sizeof *ctx);
	ctx->t = t;
	rc = gnutls_certificate_allocate_credentials(&ctx->creds);
	if (rc < 0)
		goto gnutls_err;
	/* A client that logs in with a password may have no certificate. */
	rc = t->cert_file ?
		gnutls_certificate_set_x509_key_file2(ctx->creds, t->cert_file,
						      t->key_file,
						      GNUTLS_X509_FMT_PEM, NULL, 0) : 0;
	if (rc < 0) {
		snprintf(err, errlen,
			 "tunnel %s: cert_file %s / key_file %s: %s",
			 t->name, t->cert_file, t->key_file, gnutls_strerror(rc));
		goto err;
	}
	if (t->cert_file) {
		gnutls_x509_crt_t *crts = NULL;
		unsigned ncrts = 0;

		if (gnutls_certificate_get_x509_crt(ctx->creds, 0, &crts, &ncrts) >= 0) {
			if (ncrts)
				ctx->not_after = (long long)
					gnutls_x509_crt_get_expiration_time(crts[0]);
			for (unsigned i = 0; i < ncrts; i++)
				gnutls_x509_crt_deinit(crts[i]);
			gnutls_free(crts);
		}
	}
	/* No ca_file: a server taking passwords only verifies no client;
	 * a client (the console without --ca) trusts the system's CAs. */
	if (t->ca_file)
		rc = gnutls_certificate_set_x509_trust_file(ctx->creds, t->ca_file,
							    GNUTLS_X509_FMT_PEM);
	else if (t->role == CFG_ROLE_CLIENT)
		rc = gnutls_certificate_set_x509_system_trust(ctx->creds);
	else
		rc = 1;
	if (rc <= 0) {
		snprintf(err, errlen, "tunnel %s: ca_file %s: %s", t->name,
			 t->ca_file ? t->ca_file : "(the system's trust store)",
			 rc == 0 ? "no certificate found" : gnutls_strerror(rc));
		goto err;
	}
	if (t->crl_file && tls_crl_load(ctx, t, err, errlen) < 0)
		goto err;
	if (t->session_tickets)
		tls_ca_dates(ctx);
	tls_priority_string(t, prio, sizeof prio);
	rc = gnutls_priority_init(&ctx->prio, prio, &pos);
	if (rc < 0)
		goto gnutls_err;
	if (t->role == CFG_ROLE_SERVER && t->session_tickets &&
	    (rc = tls_stek_derive(t, ctx->stek)) < 0)
		goto gnutls_err;
	return 0;
gnutls_err:
	snprintf(err, errlen, "tunnel %s: %s", t->name, gnutls_strerror(rc));
err:
	tls_ctx_free(ctx);
	return -1;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx->creds)
		gnutls_certificate_free_credentials(ctx->creds);
	if (ctx->prio)
		gnutls_priority_deinit(ctx->prio);
	free(ctx->ca_not_after);
	free(ctx->vcache);
	memset(ctx, 0, sizeof *ctx);
}

/** @brief The subject DN of the peer's leaf certificate, if it sent one. */
static int tls_peer_dn(gnutls_session_t s, char *buf, size_t len)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;
	size_t l = len;
	int rc;

	if (!certs || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	rc = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_dn(crt, buf, &l);
	gnutls_x509_crt_deinit(crt);
	return rc < 0 ? -1 : 0;
}

/** @brief "certificate DN rejected: <GnuTLS's words for @status>". */
static void tls_status_reason(gnutls_session_t s, unsigned status,
			      char *buf, size_t len)
{
	gnutls_datum_t out = { NULL, 0 };
	char dn[256];
	size_t l;

	gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
						     &out, 0);
	if (tls_peer_dn(s, dn, sizeof dn) < 0)
		snprintf(dn, sizeof dn, "(unreadable)");
	snprintf(buf, len, "certificate %s rejected: %s", dn,
		 out.data ? (char *)out.data : "verification failed");
	gnutls_free(out.data);
	l = strlen(buf);
	while (l > 0 && buf[l - 1] == ' ')
		buf[--l] = '\0';
}

/** @brief "certificate revoked: DN, serial HEX (crl_file PATH)". */
static void tls_revoked_reason(gnutls_session_t s, const char *crl_file,
			       char *buf, size_t len)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	unsigned char serial[40];
	char dn[256] = "(unreadable)", hex[2 * sizeof serial + 1] = "?";
	size_t l = sizeof serial, dl = sizeof dn;
	gnutls_x509_crt_t crt;

	if (certs && n && gnutls_x509_crt_init(&crt) >= 0) {
		if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0) {
			if (gnutls_x509_crt_get_dn(crt, dn, &dl) < 0)
				snprintf(dn, sizeof dn, "(unreadable)");
			if (gnutls_x509_crt_get_serial(crt, serial, &l) >= 0)
				for (size_t i = 0; i < l; i++)
					snprintf(hex + 2 * i, 3, "%02x", serial[i]);
		}
		gnutls_x509_crt_deinit(crt);
	}
	snprintf(buf, len, "certificate revoked: %s, serial %s (crl_file %s)",
		 dn, hex, crl_file ? crl_file : "?");
}

/** @brief Who the peer is, in one short phrase for a log line; @none when
 *  the certificate names no one. */
static void tls_identity_name(const struct tls_identity *id, const char *none,
			      char *buf, size_t len)
{
	if (id->cn[0])
		snprintf(buf, len, "CN=%s", id->cn);
	else if (id->ndns)
		snprintf(buf, len, "DNS=%s", id->dns[0]);
	else if (id->nuri)
		snprintf(buf, len, "URI=%s", id->uri[0]);
	else
		snprintf(buf, len, "%s", none);
}

const char *tls_fail_name(enum tls_fail f)
{
	static const char *const names[TLS_FAIL_N] = {
		"protocol", "unknown_ca", "no_certificate", "allow_list",
		"expired", "name_mismatch", "timeout", "revoked",
	};

	return (unsigned)f < TLS_FAIL_N ? names[f] : "protocol";
}

/** @brief The kind of a verification status, the most telling first. */
static enum tls_fail tls_status_kind(unsigned status)
{
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return TLS_FAIL_EXPIRED;
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
		return TLS_FAIL_NAME;
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
		return TLS_FAIL_UNKNOWN_CA;
	return TLS_FAIL_PROTOCOL;
}

/* The verified-chain cache: a resumed session brings back the peer's
 * chain from the ticket, and it must be judged by today's configuration.
 * Judging it again in full (gnutls_certificate_verify_peers3: the chain's
 * signatures, ECDSA; then the X.509 parse for the identity) cost more
 * than the resumed handshake itself. Instead, each worker remembers, per
 * tunnel and per configuration generation (the cache hangs off the
 * generation's tls_ctx, so a reload starts with an empty one), the chains
 * it admitted when they resumed: keyed by SHA-256 of the chain's DER, with the identity's
 * log name and the window in which the verdict holds.
 *
 * Why a hit is the same verdict as a full check now:
 * * The signatures: the same DER chain under the same ca_file (same
 *   generation) verifies the same way; signatures do not age.
 * * The CRL: crl_file is loaded once per generation, so the same
 *   generation means the same CRL and the same "not revoked". A new CRL
 *   comes with a reload, that is a new tls_ctx and an empty cache.
 * * allow_*, pins, server_name: per generation too, and the identity is a
 *   function of the chain (the leaf's DER is hashed).
 * * Dates, the only input that changes within a generation: checked at
 *   every hit against the window, the latest notBefore and the earliest
 *   notAfter of the chain's certificates, capped by the earliest expiry
 *   among the trust anchors still valid when the chain was admitted and by
 *   the CRLs' next update. Outside it the full check runs (and says why
 *   it refuses).
 * Only admissions are cached; a refusal is always judged in full. Where
 * a ticket is accepted at all, the chain in it is one this daemon verified
 * when it was issued: the server role's tickets are authenticated under
 * our own ticket key, the client role's session data never left its
 * memory. Reloads also fork new workers, so an old generation's cache
 * cannot even be seen by a new one. */
#define TLS_VCACHE_N 128

struct tls_vc_entry {
	unsigned char key[32];		/* SHA-256 of the chain (tls_chain_key) */
	long long not_before, not_after;	/* the verdict holds in here */
	char who[300];			/* tls_check.who */
};

/* Grown by doubling, so a tunnel that sees one peer keeps one entry, not
 * TLS_VCACHE_N of them (~350 bytes each). */
struct tls_vcache {
	unsigned n, cap;		/* entries used, allocated */
	unsigned next;			/* full: the slot replaced next */
	struct tls_vc_entry e[];
};

/** @brief SHA-256 over the peer's chain: each certificate's length (4
 *  bytes, big-endian) and DER. -1: no chain. */
static int tls_chain_key(gnutls_session_t s, unsigned char key[32])
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	gnutls_hash_hd_t h;

	if (!certs || n == 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		unsigned char len[4] = {
			(unsigned char)(certs[i].size >> 24),
			(unsigned char)(certs[i].size >> 16),
			(unsigned char)(certs[i].size >> 8),
			(unsigned char)certs[i].size,
		};
		gnutls_hash(h, len, sizeof len);
		gnutls_hash(h, certs[i].data, certs[i].size);
	}
	gnutls_hash_deinit(h, key);
	return 0;
}

/** @brief The admitted chain's entry, if its verdict still holds at
 *  @now. */
static const struct tls_vc_entry *tls_vc_find(const struct tls_ctx *ctx,
					      const unsigned char key[32],
					      long long now)
{
	const struct tls_vcache *c = ctx->vcache;

	if (!c)
		return NULL;
	for (unsigned i = 0; i < c->n; i++) {
		const struct tls_vc_entry *e = &c->e[i];

		if (memcmp(e->key, key, sizeof e->key) == 0)
			return now >= e->not_before && now < e->not_after ?
				e : NULL;
	}
	return NULL;
}

/** @brief Remember that the session's peer chain (@key: tls_chain_key)
 *  was admitted, as @who, until the window of its dates closes (see
 *  above). Best effort. */
static void tls_vc_add(struct tls_ctx *ctx, gnutls_session_t s,
		       const unsigned char key[32], const char *who)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	long long nb = LLONG_MIN, na = LLONG_MAX, now = (long long)time(NULL);
	struct tls_vc_entry *e = NULL;
	struct tls_vcache *c;

	/* No trust anchors listed (their expiry unknown): no cache. */
	if (!ctx->nca || !certs || n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		gnutls_x509_crt_t crt;
		time_t a = (time_t)-1, x = (time_t)-1;

		if (gnutls_x509_crt_init(&crt) < 0)
			return;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) >= 0) {
			a = gnutls_x509_crt_get_activation_time(crt);
			x = gnutls_x509_crt_get_expiration_time(crt);
		}
		gnutls_x509_crt_deinit(crt);
		if (a == (time_t)-1 || x == (time_t)-1)
			return;
		if ((long long)a > nb)
			nb = (long long)a;
		if ((long long)x < na)
			na = (long long)x;
	}
	for (unsigned i = 0; i < ctx->nca; i++)
		if (ctx->ca_not_after[i] > now && ctx->ca_not_after[i] < na)
			na = ctx->ca_not_after[i];
	if (ctx->crl_next_update && ctx->crl_next_update < na)
		na = ctx->crl_next_update;
	c = ctx->vcache;
	for (unsigned i = 0; c && i < c->n && !e; i++)
		if (memcmp(c->e[i].key, key, sizeof c->e[i].key) == 0)
			e = &c->e[i];
	if (!e && (!c || c->n == c->cap) &&
	    (!c || c->cap < TLS_VCACHE_N)) {
		unsigned cap = c ? 2 * c->cap : 4;
		struct tls_vcache *g = realloc(c, sizeof *g + cap * sizeof g->e[0]);

		if (!g)
			return;
		if (!c)
			g->n = g->next = 0;
		g->cap = cap;
		ctx->vcache = c = g;
	}
	if (!e && c->n < c->cap)
		e = &c->e[c->n++];
	else if (!e) {
		e = &c->e[c->next];
		c->next = (c->next + 1) % c->cap;
	}
	memcpy(e->key, key, sizeof e->key);
	e->not_before = nb;
	e->not_after = na;
	snprintf(e->who, sizeof e->who, "%s", who);
}

/** @brief The verdict on the peer's certificate chain, name, allow lists
 *  and pins, into @k: inside a full handshake, and after a resumed one. */
static int tls_check_peer(gnutls_session_t s, struct tls_check *k)
{
	const struct cfg_tunnel *t = k->t;
	const char *host = t->role == CFG_ROLE_CLIENT && t->verify_name ?
		t->server_name : NULL;
	struct tls_identity id;
	unsigned status = 0;
	int rc, ok;

	k->failed = 1;
	k->why = TLS_FAIL_PROTOCOL;
	rc = gnutls_certificate_verify_peers3(s, host, &status);
	if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) {
		k->why = TLS_FAIL_NO_CERT;
		snprintf(k->reason, sizeof k->reason, "peer sent no certificate");
		return -1;
	}
	if (rc < 0) {
		snprintf(k->reason, sizeof k->reason,
			 "verifying the peer's certificate: %s", gnutls_strerror(rc));
		return -1;
	}
	if (status & GNUTLS_CERT_REVOKED) {
		k->why = TLS_FAIL_REVOKED;
		tls_revoked_reason(s, t->crl_file, k->reason, sizeof k->reason);
		return -1;
	}
	if (status) {
		k->why = tls_status_kind(status);
		tls_status_reason(s, status, k->reason, sizeof k->reason);
		return -1;
	}
	if (tls_identity_from_session(s, &id) < 0) {
		snprintf(k->reason, sizeof k->reason, "peer certificate unreadable");
		return -1;
	}
	ok = tls_authorize(t, &id, k->reason, sizeof k->reason);
	tls_identity_name(&id, "peer", k->who, sizeof k->who);
	tls_identity_free(&id);
	if (!ok) {
		k->why = TLS_FAIL_ALLOWLIST;
		return -1;
	}
	k->failed = 0;
	return 0;
}

/** @brief A resumed session's peer: admitted at once if this generation
 *  already admitted its chain on a resumption and the dates still hold
 *  (see the cache above), else judged in full and, if admitted,
 *  remembered. Full handshakes never touch the cache: they verify inside
 *  the handshake anyway, and a chain that never resumes costs nothing. */
static int tls_check_resumed(gnutls_session_t s, struct tls_check *k)
{
	const struct tls_vc_entry *e;
	unsigned char key[32];
	int have_key = k->ctx && tls_chain_key(s, key) == 0;

	if (have_key && (e = tls_vc_find(k->ctx, key, (long long)time(NULL)))) {
		snprintf(k->who, sizeof k->who, "%s", e->who);
		k->failed = 0;
		return 0;
	}
	if (tls_check_peer(s, k) < 0)
		return -1;
	if (have_key)
		tls_vc_add(k->ctx, s, key, k->who);
	return 0;
}

/** @brief Called by GnuTLS once the peer's certificate arrived. Failing
 *  here aborts the handshake. */
static int tls_verify_peer(gnutls_session_t s)
{
	return tls_check_peer(s, gnutls_session_get_ptr(s));
}

void tls_ticket_drop(gnutls_datum_t *ticket)
{
	gnutls_free(ticket->data);
	ticket->data = NULL;
	ticket->size = 0;
}

/** @brief Keep the session's resumption data (its latest ticket) in place
 *  of the ticket kept before. */
static void tls_ticket_keep(gnutls_session_t s, gnutls_datum_t *ticket)
{
	gnutls_datum_t d = { NULL, 0 };

	if (gnutls_session_get_data2(s, &d) < 0 || d.size == 0) {
		gnutls_free(d.data);
		return;
	}
	tls_ticket_drop(ticket);
	*ticket = d;
}

/** @brief Where the client role keeps its tunnel's latest ticket, or
 *  NULL. It is the session's db pointer, which GnuTLS hands only to
 *  session-cache callbacks, and a client sets none: unlike the session
 *  pointer (the tls_check, freed once the handshake is over: conn.c) it
 *  stays valid for the session's whole life, as the tunnel outlives its
 *  connections. */
static gnutls_datum_t *tls_ticket_store(gnutls_session_t s)
{
	return gnutls_db_get_ptr(s);
}

/** @brief GnuTLS processed a NewSessionTicket. In TLS 1.3 it comes after
 *  the handshake: keep it now. A TLS 1.2 one comes inside the handshake;
 *  tls_handshake_done() keeps that once the session is complete. */
static int tls_ticket_hook(gnutls_session_t s, unsigned htype, unsigned when,
			   unsigned incoming, const gnutls_datum_t *msg)
{
	gnutls_datum_t *ticket = tls_ticket_store(s);

	(void)htype, (void)when, (void)msg;
	if (incoming && ticket &&
	    gnutls_protocol_get_version(s) == GNUTLS_TLS1_3)
		tls_ticket_keep(s, ticket);
	return 0;
}

int tls_ticket_awaited(gnutls_session_t s)
{
	return tls_ticket_store(s) &&
	       gnutls_protocol_get_version(s) == GNUTLS_TLS1_3 &&
	       !(gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET);
}

/** @brief Does a full handshake of this tunnel verify a peer certificate
 *  (so a resumed one must be checked again)? Not where a server asks
 *  for none: password logins, the relay. */
static int tls_peer_cert_expected(const struct cfg_tunnel *t)
{
	return t->role == CFG_ROLE_CLIENT ||
	       (t->client_auth != CFG_AUTH_PASSWORD && t->hc != CFG_HC_RELAY);
}

/** @brief Server role: issue tickets under keys derived from the master
 *  key, rotating every ticket_key_rotation seconds (GnuTLS rotates every
 *  three ticket lifetimes), or none. Client role: offer the kept ticket
 *  and watch for the next one. */
static int tls_session_tickets(gnutls_session_t s, struct tls_ctx *ctx,
			       gnutls_datum_t *ticket)
{
	const struct cfg_tunnel *t = ctx->t;
	const gnutls_datum_t stek = { ctx->stek, TLS_STEK_SIZE };

	if (!t->session_tickets)
		return 0;
	if (t->role == CFG_ROLE_SERVER) {
		gnutls_db_set_cache_expiration(s, t->ticket_key_rotation / 3);
		return gnutls_session_ticket_enable_server(s, &stek);
	}
	if (!ticket)
		return 0;
	gnutls_db_set_ptr(s, ticket);
	/* One the library refuses (stale, other version) costs a full
	 * handshake, never the connection. */
	if (ticket->size && gnutls_session_set_data(s, ticket->data,
						    ticket->size) < 0)
		tls_ticket_drop(ticket);
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
					   GNUTLS_HOOK_POST, tls_ticket_hook);
	return 0;
}

int tls_handshake_done(gnutls_session_t s)
{
	struct tls_check *k = gnutls_session_get_ptr(s);

	if (gnutls_session_is_resumed(s) && tls_peer_cert_expected(k->t) &&
	    tls_check_resumed(s, k) < 0)
		return -1;
	if (tls_ticket_store(s) && gnutls_protocol_get_version(s) != GNUTLS_TLS1_3 &&
	    (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET))
		tls_ticket_keep(s, tls_ticket_store(s));
	return 0;
}

gnutls_alert_description_t tls_fail_alert(enum tls_fail f)
{
	switch (f) {
	case TLS_FAIL_EXPIRED:
		return GNUTLS_A_CERTIFICATE_EXPIRED;
	case TLS_FAIL_REVOKED:
		return GNUTLS_A_CERTIFICATE_REVOKED;
	case TLS_FAIL_UNKNOWN_CA:
		return GNUTLS_A_UNKNOWN_CA;
	case TLS_FAIL_NO_CERT:
		return GNUTLS_A_CERTIFICATE_REQUIRED;
	case TLS_FAIL_PROTOCOL:
	case TLS_FAIL_TIMEOUT:
		return GNUTLS_A_INTERNAL_ERROR;
	default:
		return GNUTLS_A_ACCESS_DENIED;
	}
}

/** @brief GnuTLS wants a reader of the handshake messages it is handed
 *  (gnutls_handshake_write); after the handshake there is none to read. */
static int tls_hs_read_none(gnutls_session_t s,
			    gnutls_record_encryption_level_t level,
			    gnutls_handshake_description_t htype,
			    const void *data, size_t len)
{
	(void)s, (void)level, (void)htype, (void)data, (void)len;
	return 0;
}

void tls_ticket_feed(gnutls_session_t s, const unsigned char *msg, size_t len)
{
	if (!tls_ticket_store(s))
		return;
	/* Set only now: during the handshake a read function would take
	 * GnuTLS's own messages off the wire (it is QUIC's interface). */
	gnutls_handshake_set_read_function(s, tls_hs_read_none);
	gnutls_handshake_write(s, GNUTLS_ENCRYPTION_LEVEL_APPLICATION, msg, len);
}

/** @brief Keep the application traffic secrets for srec (the userspace
 *  record layer after the handshake). Replaces GnuTLS's own keylog
 *  hook, which writes SSLKEYLOGFILE: a daemon must not write its keys to
 *  a file named by its environment anyway. */
static int tls_keylog(gnutls_session_t s, const char *label,
		      const gnutls_datum_t *secret)
{
	struct tls_check *check = gnutls_session_get_ptr(s);

	if (check)
		srec_keylog_take(&check->sec, label, secret);
	return 0;
}

int tls_session_new(gnutls_session_t *s, struct tls_ctx *ctx, int fd,
		    struct tls_check *check, gnutls_datum_t *ticket)
{
	const struct cfg_tunnel *t = ctx->t;
	int server = t->role == CFG_ROLE_SERVER;
	/* The client role offers one key share, X25519's (the first group):
	 * one keygen less per handshake; a server that wants another group
	 * asks for it (HelloRetryRequest). */
	unsigned flags = GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL |
		(server ? GNUTLS_SERVER : GNUTLS_CLIENT | GNUTLS_KEY_SHARE_TOP) |
		(t->session_tickets ? 0 : GNUTLS_NO_TICKETS);
	int rc;

	rc = gnutls_init(s, flags);
	if (rc < 0)
		return rc;
	if ((rc = gnutls_priority_set(*s, ctx->prio)) < 0 ||
	    (rc = gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, ctx->creds)) < 0)
		goto err;
	if (server) {
		/* Password logins only: no client certificate is asked for. */
		gnutls_certificate_server_set_request(*s,
			t->client_auth == CFG_AUTH_PASSWORD ||
			t->hc == CFG_HC_RELAY ? GNUTLS_CERT_IGNORE :
			GNUTLS_CERT_REQUIRE);
	} else {
		const char *name = t->server_name;
		if (name && !net_is_ip_literal(name) &&
		    (rc = gnutls_server_name_set(*s, GNUTLS_NAME_DNS, name,
						 strlen(name))) < 0)
			goto err;
	}
	memset(check, 0, sizeof *check);
	check->t = t;
	check->ctx = ctx;
	if ((rc = tls_session_tickets(*s, ctx, ticket)) < 0)
		goto err;
	gnutls_session_set_ptr(*s, check);
	gnutls_session_set_verify_function(*s, tls_verify_peer);
	gnutls_session_set_keylog_function(*s, tls_keylog);
	gnutls_transport_set_int(*s, fd);
	return 0;
err:
	gnutls_deinit(*s);
	*s = NULL;
	return rc;
}

void tls_handshake_reason(gnutls_session_t s, int rc, char *buf, size_t len)
{
	if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND ||
	    rc == GNUTLS_E_CERTIFICATE_REQUIRED) {
		snprintf(buf, len, "peer sent no certificate");
	} else if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED ||
		   rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		snprintf(buf, len, "peer sent TLS alert: %s",
			 gnutls_alert_get_name(gnutls_alert_get(s)));
	} else if (rc == GNUTLS_E_PREMATURE_TERMINATION ||
		   rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR) {
		snprintf(buf, len, "peer closed the connection during the handshake");
	} else {
		snprintf(buf, len, "%s", gnutls_strerror(rc));
	}
}

static void tls_san_add(char **list, size_t *n, size_t max, const char *v,
			size_t vlen)
{
	if (*n < max && (list[*n] = strndup(v, vlen)))
		(*n)++;
}

int tls_identity_from_der(const gnutls_datum_t *der, struct tls_identity *id)
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub = NULL;
	unsigned char spki[4096];
	size_t l;
	int rc;

	memset(id, 0, sizeof *id);
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	rc = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
	if (rc < 0)
		goto out;
	l = sizeof id->cn;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					  0, id->cn, &l) < 0)
		id->cn[0] = '\0';
	for (unsigned i = 0;; i++) {
		char san[1024];
		unsigned type;
		l = sizeof san;
		rc = gnutls_x509_crt_get_subject_alt_name2(crt, i, san, &l, &type, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (rc < 0)
			goto out;
		if (type == GNUTLS_SAN_DNSNAME)
			tls_san_add(id->dns, &id->ndns, 16, san, l);
		else if (type == GNUTLS_SAN_URI)
			tls_san_add(id->uri, &id->nuri, 16, san, l);
	}
	rc = gnutls_pubkey_init(&pub);
	if (rc >= 0)
		rc = gnutls_pubkey_import_x509(pub, crt, 0);
	l = sizeof spki;
	if (rc >= 0)
		rc = gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, spki, &l);
	if (rc >= 0)
		rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, l, id->spki_sha256);
	id->have_spki = rc >= 0;
	rc = 0;
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	if (rc < 0)
		tls_identity_free(id);
	return rc < 0 ? -1 : 0;
}

int tls_identity_from_session(gnutls_session_t s, struct tls_identity *id)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);

	memset(id, 0, sizeof *id);
	if (!certs || n == 0)
		return -1;
	return tls_identity_from_der(&certs[0], id);
}

void tls_identity_free(struct tls_identity *id)
{
	for (size_t i = 0; i < id->ndns; i++)
		free(id->dns[i]);
	for (size_t i = 0; i < id->nuri; i++)
		free(id->uri[i]);
	memset(id, 0, sizeof *id);
}

static int tls_in_list(const struct cfg_strlist *l, const char *v, int nocase)
{
	for (size_t i = 0; i < l->n; i++)
		if (nocase ? strcasecmp(l->v[i], v) == 0 : strcmp(l->v[i], v) == 0)
			return 1;
	return 0;
}

int tls_authorize(const struct cfg_tunnel *t, const struct tls_identity *id,
		  char *reason, size_t len)
{
	char who[300], lists[80] = "";
	int nlists = 0;
	const char *only = NULL;

	if (t->allow_cn.n && id->cn[0] && tls_in_list(&t->allow_cn, id->cn, 0))
		return 1;
	for (size_t i = 0; i < id->ndns; i++)
		if (tls_in_list(&t->allow_dns, id->dns[i], 1))
			return 1;
	for (size_t i = 0; i < id->nuri; i++)
		if (tls_in_list(&t->allow_uri, id->uri[i], 0))
			return 1;
	for (size_t i = 0; i < t->npins && id->have_spki; i++)
		if (memcmp(t->pins[i], id->spki_sha256, 32) == 0)
			return 1;

	const struct { const char *name; size_t n; } l[] = {
		{ "allow_cn", t->allow_cn.n }, { "allow_dns", t->allow_dns.n },
		{ "allow_uri", t->allow_uri.n }, { "pin_sha256", t->npins },
	};
	for (size_t i = 0; i < 4; i++) {
		if (!l[i].n)
			continue;
		size_t u = strlen(lists);
		snprintf(lists + u, sizeof lists - u, "%s%s", nlists ? ", " : "",
			 l[i].name);
		only = l[i].name;
		nlists++;
	}
	if (nlists == 0)
		return 1;	/* no list: the chain to ca_file is enough */

	if (nlists == 1 && strcmp(only, "pin_sha256") == 0) {
		char hex[65];
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", id->spki_sha256[i]);
		tls_identity_name(id, "a certificate without CN or SAN", who, sizeof who);
		snprintf(reason, len, "public key %s of %s is not in pin_sha256",
			 id->have_spki ? hex : "(unreadable)", who);
		return 0;
	}
	if (nlists == 1 && strcmp(only, "allow_dns") == 0 && id->ndns)
		snprintf(who, sizeof who, "DNS=%s", id->dns[0]);
	else if (nlists == 1 && strcmp(only, "allow_uri") == 0 && id->nuri)
		snprintf(who, sizeof who, "URI=%s", id->uri[0]);
	else
		tls_identity_name(id, "a certificate without CN or SAN", who, sizeof who);
	if (nlists == 1)
		snprintf(reason, len, "%s is not in %s", who, only);
	else
		snprintf(reason, len, "%s matches none of %s", who, lists);
	return 0;
}

void tls_recv_reason(gnutls_session_t s, int rc, char *buf, size_t len)
{
	if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
		snprintf(buf, len, "peer sent TLS alert: %s",
			 gnutls_alert_get_name(gnutls_alert_get(s)));
	else if (rc == GNUTLS_E_REHANDSHAKE)
		snprintf(buf, len,
			 "peer asked to renegotiate (TLS 1.2): refused, renegotiation is not supported");
	else if (rc == GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS)
		snprintf(buf, len,
			 "peer sent too many post-handshake messages (KeyUpdate flood? 8 a second are taken): %s",
			 gnutls_strerror(rc));
	else if (rc == GNUTLS_E_DECRYPTION_FAILED)
		snprintf(buf, len,
			 "a record from the TLS peer failed authentication (bad_record_mac: corrupted or forged): %s",
			 gnutls_strerror(rc));
	else
		snprintf(buf, len, "receiving from TLS peer: %s",
			 gnutls_strerror(rc));
}

void tls_describe(gnutls_session_t s, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s",
		 gnutls_protocol_get_name(gnutls_protocol_get_version(s)),
		 gnutls_cipher_get_name(gnutls_cipher_get(s)));
}
