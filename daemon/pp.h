/* pp.h - the PROXY protocol (HAProxy's proxy-protocol.txt): reading a
 * v1 or v2 header, writing a v2 one
 *
 * Nothing here does I/O. The parser is handed what has arrived so far
 * and says how long the header is, that more bytes are needed, or what
 * is wrong; the bytes after the header are the connection's own.
 */
#ifndef SSLTUNNEL_PP_H
#define SSLTUNNEL_PP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PP_V1_MAX 107		/* the longest v1 line, CRLF included */
#define PP_V2_HEADER 16		/* signature, version, family, length */
/* The longest header we accept. The spec allows 16 + 65535, but what we
 * read is the addresses (36 bytes), an authority and a unique ID (258 and
 * 131), an SSL TLV with a few short strings, a CRC (7): well under 1 KiB.
 * 4096 also leaves room for TLVs we skip, such as the spec's DER client
 * certificate (HAProxy itself refuses any TLV over 1024 bytes), while it
 * bounds what a connection buffers before it is trusted. A longer header
 * is PP_E_TOO_LONG. */
#define PP_MAX 4096

#define PP_AUTHORITY_MAX 255	/* an SNI host name */
#define PP_UNIQUE_ID_MAX 128	/* the spec's bound */
#define PP_SSL_VERSION_MAX 63	/* "TLSv1.3" */
#define PP_SSL_CN_MAX 255	/* 64 UTF-8 characters (X.520), and some */

/* The registered TLV types and the SSL TLV's client bits (spec §2.2). */
#define PP2_TYPE_ALPN 0x01
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_NOOP 0x04
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_TYPE_SSL 0x20
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CN 0x22
#define PP2_CLIENT_SSL 0x01
#define PP2_CLIENT_CERT_CONN 0x02
#define PP2_CLIENT_CERT_SESS 0x04

/* What pp_parse returns instead of a header length. */
enum {
	PP_INCOMPLETE = 0,	/* a valid start so far: call again with more */
	PP_E_NOT_PROXY = -1,	/* neither signature: no PROXY spoken */
	PP_E_BAD = -2,		/* malformed */
	PP_E_UNSUPPORTED = -3,	/* well-formed, but not TCP over IPv4/IPv6 */
	PP_E_TOO_LONG = -4,	/* a v2 header over PP_MAX */
	PP_E_CHECKSUM = -5,	/* a v2 CRC32C TLV that does not match */
};

struct pp_info {
	int version;		/* 1 or 2 */
	int local;		/* v2 LOCAL, v1 UNKNOWN: no addresses, use the
				 * connection's own (health checks) */
	struct sockaddr_storage src, dst;	/* AF_INET or AF_INET6 with
						 * ports, when !local */
	socklen_t srclen, dstlen;
	/* v2 TLVs, when present */
	char authority[PP_AUTHORITY_MAX + 1];	/* "" if none */
	unsigned char unique_id[PP_UNIQUE_ID_MAX];
	size_t unique_id_len;			/* 0 if none */
	int crc32c;		/* a CRC32C TLV was there, and matched */
	int ssl;		/* an SSL TLV was there */
	unsigned ssl_client;	/* its PP2_CLIENT_* bits */
	uint32_t ssl_verify;	/* 0: a client certificate, verified */
	char ssl_version[PP_SSL_VERSION_MAX + 1];	/* "" if none */
	char ssl_cn[PP_SSL_CN_MAX + 1];			/* "" if none */
};

/** @brief Parse the PROXY header at the start of the @len bytes at @buf,
 *  so a server behind a proxy learns whom a connection is for. Strict:
 *  v1 is "PROXY TCP4|TCP6 src dst sport dport" with single spaces,
 *  addresses inet_pton accepts for that family, ports 0 to 65535 without
 *  leading zeros, CRLF within PP_V1_MAX bytes, or "PROXY UNKNOWN..."; v2
 *  is PROXY over TCP4/TCP6 or LOCAL, with its TLVs bounds-checked, the
 *  ones we read at most once each, and a CRC32C TLV verified. Returns the
 *  header's length, PP_INCOMPLETE (never once @len reaches PP_MAX), or a
 *  PP_E_* code with the reason in @err; garbage is refused as soon as the
 *  bytes that show it have arrived. @info is only meaningful after a
 *  positive return. */
int pp_parse(const unsigned char *buf, size_t len, struct pp_info *info,
	     char *err, size_t errlen);

/** @brief Write a v2 PROXY header to @out so the server behind us learns
 *  the client's addresses and TLS facts: command PROXY, TCP over IPv4,
 *  or over IPv6 when either address is IPv6 (the other is then mapped,
 *  ::ffff:a.b.c.d). With @tls_version, an SSL TLV: client bit SSL, plus
 *  CERT_CONN and CERT_SESS and verify 0 when @verified (the client's
 *  certificate was verified; verify is 1 otherwise), sub-TLVs VERSION and,
 *  when @cn is given, CN. With a non-empty @authority, an AUTHORITY TLV.
 *  Returns the length, or -1 when it does not fit in @outlen, an address
 *  is neither AF_INET nor AF_INET6, or a string is longer than pp_parse
 *  accepts or holds a control character. */
int pp_build_v2(unsigned char *out, size_t outlen, const struct sockaddr *src,
		const struct sockaddr *dst, const char *tls_version,
		int verified, const char *cn, const char *authority);

/** @brief CRC32c (Castagnoli, RFC 4960 appendix B) of @n bytes at @p,
 *  continuing from @crc (0 to start), as the CRC32C TLV carries it. */
uint32_t pp_crc32c(uint32_t crc, const void *p, size_t n);

#endif
