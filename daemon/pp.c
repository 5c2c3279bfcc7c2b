/* pp.c - the PROXY protocol: reading v1 and v2 headers, writing v2
 *
 * The parser starts from the first byte on every call: a header is at
 * most PP_MAX bytes, and keeping no state between calls is what makes it
 * safe to call again with more input. Each check runs as soon as the
 * bytes it needs have arrived, so a peer that speaks something else is
 * refused at its first wrong byte, not after a timeout. A PROXY header
 * decides whom a connection is for, so anything the spec does not define
 * exactly is refused rather than guessed at.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pp.h"

#define PP_QUOTE_LEN 36		/* 32 bytes of input, "..." and NUL */

static const unsigned char pp_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* The family and protocol bytes the spec defines, with the size of the
 * address block each one implies. */
static const struct {
	unsigned char fam;
	unsigned char addrlen;
	const char *name;
} pp_v2_families[] = {
	{ 0x00, 0, "UNSPEC" },
	{ 0x11, 12, "TCP over IPv4" },
	{ 0x12, 12, "UDP over IPv4" },
	{ 0x21, 36, "TCP over IPv6" },
	{ 0x22, 36, "UDP over IPv6" },
	{ 0x31, 216, "UNIX stream" },
	{ 0x32, 216, "UNIX datagram" },
};

/* The v1 lines' starts, so a wrong protocol is refused before its CRLF. */
static const char *const pp_v1_starts[] = {
	"PROXY TCP4 ", "PROXY TCP6 ", "PROXY UNKNOWN",
};

static const char *const pp_v1_fields[] = {
	"source address", "destination address", "source port",
	"destination port",
};

/** @brief Put the reason for a failure in @err and hand back @rc, so each
 *  check is one line. */
static int pp_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int pp_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/** @brief A bounded, printable copy of untrusted bytes for an error
 *  message, so a peer can neither flood nor forge log lines. */
static const char *pp_quote(char q[PP_QUOTE_LEN], const unsigned char *s,
			    size_t n)
{
	size_t i, max = PP_QUOTE_LEN - 4;

	for (i = 0; i < n && i < max; i++)
		q[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	if (i < n)
		memcpy(q + i, "...", 4);
	else
		q[i] = '\0';
	return q;
}

static unsigned pp_be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t pp_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

uint32_t pp_crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

/** @brief Where the first byte of @n at @s a TLV string may not hold is:
 *  a control character always, anything past ASCII when @ascii. Returns
 *  its index, or -1 when there is none. */
static long pp_text_bad(const unsigned char *s, size_t n, int ascii)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f || (ascii && s[i] > 0x7f))
			return (long)i;
	return -1;
}

/** @brief Check a port as v1 writes it: 0 to 65535 in decimal, no sign,
 *  no leading zero (the spec forbids them, lest they read as octal). */
static int pp_v1_port(const unsigned char *s, size_t n, unsigned *port)
{
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	*port = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*port = *port * 10 + (s[i] - '0');
	}
	return *port <= 65535 ? 0 : -1;
}

/** @brief Store the @n-byte textual address at @s, of family @af, with
 *  @port, as inet_pton reads it. Returns 0 or -1. */
static int pp_v1_addr(const unsigned char *s, size_t n, int af, unsigned port,
		      struct sockaddr_storage *ss, socklen_t *sslen)
{
	char text[INET6_ADDRSTRLEN];
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (n >= sizeof text)
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	if (af == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*sslen = sizeof *in;
		return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	*sslen = sizeof *in6;
	return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

/** @brief Refuse a v1 start that no valid line has, from the @n bytes
 *  before any CR or LF: a peer not speaking PROXY, or a protocol other
 *  than TCP4, TCP6 and UNKNOWN. */
static int pp_v1_start(const unsigned char *buf, size_t n,
		       char *err, size_t errlen)
{
	char q[PP_QUOTE_LEN];
	size_t i, m, w;

	for (i = 0; i < sizeof pp_v1_starts / sizeof pp_v1_starts[0]; i++) {
		m = strlen(pp_v1_starts[i]);
		if (!memcmp(buf, pp_v1_starts[i], n < m ? n : m))
			return 0;
	}
	if (memcmp(buf, "PROXY ", n < 6 ? n : 6))
		return pp_fail(err, errlen, PP_E_NOT_PROXY,
			       "not a PROXY protocol header");
	for (w = 6; w < n && buf[w] != ' '; w++)
		;
	return pp_fail(err, errlen, PP_E_BAD,
		       "PROXY v1: protocol \"%s\" is not TCP4, TCP6 or UNKNOWN",
		       pp_quote(q, buf + 6, w - 6));
}

/** @brief Check a whole v1 line, @n bytes before its CRLF, and note its
 *  addresses in @info. */
static int pp_v1_line(const unsigned char *s, size_t n, struct pp_info *info,
		      char *err, size_t errlen)
{
	const unsigned char *f[4];
	size_t fl[4], pos, start, k;
	unsigned port[2];
	char q[PP_QUOTE_LEN];
	int af;

	if (n < 5)
		return pp_fail(err, errlen, PP_E_NOT_PROXY,
			       "not a PROXY protocol header");
	if (n < 7)
		return pp_fail(err, errlen, PP_E_BAD, "PROXY v1: no protocol");
	for (pos = 6; pos < n && s[pos] != ' '; pos++)
		;
	info->version = 1;
	if (pos - 6 == 7 && !memcmp(s + 6, "UNKNOWN", 7)) {
		/* the spec says to ignore whatever follows UNKNOWN */
		info->local = 1;
		return 0;
	}
	if (pos - 6 != 4 || (memcmp(s + 6, "TCP4", 4) &&
			     memcmp(s + 6, "TCP6", 4)))
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v1: protocol \"%s\" is not TCP4, TCP6 or UNKNOWN",
			       pp_quote(q, s + 6, pos - 6));
	af = s[9] == '4' ? AF_INET : AF_INET6;
	for (k = 0; k < 4; k++) {
		if (pos == n)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: no %s", pp_v1_fields[k]);
		start = ++pos;
		while (pos < n && s[pos] != ' ')
			pos++;
		if (pos == start)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: empty %s (two spaces, or one at the end)",
				       pp_v1_fields[k]);
		f[k] = s + start;
		fl[k] = pos - start;
	}
	if (pos != n)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v1: text after the destination port");
	for (k = 0; k < 2; k++)
		if (pp_v1_port(f[k + 2], fl[k + 2], &port[k]) < 0)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: %s \"%s\" is not 0 to 65535 without leading zeros",
				       pp_v1_fields[k + 2],
				       pp_quote(q, f[k + 2], fl[k + 2]));
	for (k = 0; k < 2; k++)
		if (pp_v1_addr(f[k], fl[k], af, port[k],
			       k ? &info->dst : &info->src,
			       k ? &info->dstlen : &info->srclen) < 0)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: %s \"%s\" is not %s",
				       pp_v1_fields[k],
				       pp_quote(q, f[k], fl[k]),
				       af == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

/** @brief Parse a v1 line ("PROXY ..." CRLF), refusing a wrong start,
 *  a byte no line holds and a lone CR or LF as soon as they arrive. */
static int pp_parse_v1(const unsigned char *buf, size_t len,
		       struct pp_info *info, char *err, size_t errlen)
{
	size_t lim = len < PP_V1_MAX ? len : PP_V1_MAX, i;
	int rc;

	for (i = 0; i < lim && buf[i] != '\r' && buf[i] != '\n'; i++)
		;
	if ((rc = pp_v1_start(buf, i, err, errlen)) < 0)
		return rc;
	for (i = 0; i < lim; i++) {
		if (buf[i] == '\n')
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: LF without CR at offset %zu",
				       i);
		if (buf[i] == '\r')
			break;
		if (buf[i] < 0x20 || buf[i] >= 0x7f)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: byte 0x%02x at offset %zu is not printable ASCII",
				       buf[i], i);
	}
	if (i + 1 < lim && buf[i + 1] != '\n')
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v1: CR without LF at offset %zu", i);
	if (i + 1 >= lim) {
		if (len >= PP_V1_MAX)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v1: no CRLF in the first %d bytes",
				       PP_V1_MAX);
		return PP_INCOMPLETE;
	}
	if ((rc = pp_v1_line(buf, i, info, err, errlen)) < 0)
		return rc;
	return (int)(i + 2);
}

/** @brief Copy a TLV's string to @out (@max bytes and NUL), refusing one
 *  too long or holding what a log line must not (see pp_text_bad). */
static int pp_tlv_string(const unsigned char *v, size_t n, char *out,
			 size_t max, int ascii, const char *what,
			 char *err, size_t errlen)
{
	long bad;

	if (n > max)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: %s of %zu bytes, over %zu", what, n,
			       max);
	if ((bad = pp_text_bad(v, n, ascii)) >= 0)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: %s holds byte 0x%02x", what,
			       v[bad]);
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/** @brief Step to the next TLV among the @n bytes at @p (the header, or
 *  the SSL TLV's value at offset @base in it): 1 with its parts, 0 at the
 *  end, or PP_E_BAD for one running past the end. */
static int pp_tlv_next(const unsigned char *p, size_t n, size_t *off,
		       size_t base, int sub, unsigned *type,
		       const unsigned char **val, size_t *vlen,
		       char *err, size_t errlen)
{
	const char *where = sub ? "SSL sub-TLV" : "TLV";
	size_t left = n - *off;

	if (left == 0)
		return 0;
	if (left < 3)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: %s at offset %zu: only %zu of its 3 type and length bytes",
			       where, base + *off, left);
	*type = p[*off];
	*vlen = pp_be16(p + *off + 1);
	if (*vlen > left - 3)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: %s 0x%02x at offset %zu: its %zu-byte value runs past the end of %s",
			       where, *type, base + *off, *vlen,
			       sub ? "the SSL TLV" : "the header");
	*val = p + *off + 3;
	*off += 3 + *vlen;
	return 1;
}

/** @brief Read the SSL TLV's @n-byte value at offset @base: client bits,
 *  verify result, then the VERSION and CN sub-TLVs, once each at most. */
static int pp_tlv_ssl(const unsigned char *v, size_t n, size_t base,
		      struct pp_info *info, char *err, size_t errlen)
{
	const unsigned char *sv;
	size_t off = 5, sn;
	unsigned type, seen = 0, bit;
	int rc;

	if (n < 5)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: SSL TLV of %zu bytes, short of its 5-byte client and verify fields",
			       n);
	info->ssl = 1;
	info->ssl_client = v[0];
	info->ssl_verify = pp_be32(v + 1);
	while ((rc = pp_tlv_next(v, n, &off, base, 1, &type, &sv,
				 &sn, err, errlen)) > 0) {
		if (type != PP2_SUBTYPE_SSL_VERSION &&
		    type != PP2_SUBTYPE_SSL_CN)
			continue;
		bit = type == PP2_SUBTYPE_SSL_CN ? 1 : 2;
		if (seen & bit)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v2: a second SSL %s sub-TLV",
				       bit == 1 ? "CN" : "VERSION");
		seen |= bit;
		if (type == PP2_SUBTYPE_SSL_VERSION)
			rc = pp_tlv_string(sv, sn, info->ssl_version,
					   PP_SSL_VERSION_MAX, 1,
					   "SSL VERSION sub-TLV", err, errlen);
		else
			rc = pp_tlv_string(sv, sn, info->ssl_cn, PP_SSL_CN_MAX,
					   0, "SSL CN sub-TLV", err, errlen);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/** @brief Read one top-level TLV of @type we care about; @crc_at gets
 *  the CRC32C value's offset for checking once the walk is done. */
static int pp_tlv(unsigned type, const unsigned char *v, size_t n,
		  size_t base, struct pp_info *info, size_t *crc_at,
		  char *err, size_t errlen)
{
	switch (type) {
	case PP2_TYPE_AUTHORITY:
		return pp_tlv_string(v, n, info->authority, PP_AUTHORITY_MAX, 0,
				     "AUTHORITY TLV", err, errlen);
	case PP2_TYPE_CRC32C:
		if (n != 4)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v2: CRC32C TLV of %zu bytes, not 4",
				       n);
		*crc_at = base + 3;
		return 0;
	case PP2_TYPE_UNIQUE_ID:
		if (n > PP_UNIQUE_ID_MAX)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v2: UNIQUE_ID TLV of %zu bytes, over %d",
				       n, PP_UNIQUE_ID_MAX);
		memcpy(info->unique_id, v, n);
		info->unique_id_len = n;
		return 0;
	case PP2_TYPE_SSL:
		return pp_tlv_ssl(v, n, base + 3, info, err, errlen);
	}
	return 0;
}

/** @brief Walk the TLVs in @buf[@start..@total), the header being
 *  complete, and check the CRC32C if one came. */
static int pp_v2_tlvs(const unsigned char *buf, size_t start, size_t total,
		      struct pp_info *info, char *err, size_t errlen)
{
	static const unsigned char zero[4];
	const unsigned char *v;
	size_t off = start, n, at, crc_at = 0;
	unsigned type, seen = 0, bit;
	uint32_t crc, want;
	int rc;

	for (;;) {
		at = off;
		rc = pp_tlv_next(buf, total, &off, 0, 0, &type, &v, &n,
				 err, errlen);
		if (rc <= 0)
			break;
		if (type != PP2_TYPE_AUTHORITY && type != PP2_TYPE_CRC32C &&
		    type != PP2_TYPE_UNIQUE_ID && type != PP2_TYPE_SSL)
			continue;
		/* 0x02, 0x03, 0x05 and 0x20 take bits of their own */
		bit = 1u << (type & 0x1f);
		if (seen & bit)
			return pp_fail(err, errlen, PP_E_BAD,
				       "PROXY v2: a second TLV of type 0x%02x",
				       type);
		seen |= bit;
		if ((rc = pp_tlv(type, v, n, at, info, &crc_at, err,
				 errlen)) < 0)
			return rc;
	}
	if (rc < 0 || !crc_at)
		return rc;
	want = pp_be32(buf + crc_at);
	crc = pp_crc32c(0, buf, crc_at);
	crc = pp_crc32c(crc, zero, 4);
	crc = pp_crc32c(crc, buf + crc_at + 4, total - crc_at - 4);
	if (crc != want)
		return pp_fail(err, errlen, PP_E_CHECKSUM,
			       "PROXY v2: the header's CRC32c is 0x%08x, its CRC32C TLV says 0x%08x",
			       crc, want);
	info->crc32c = 1;
	return 0;
}

/** @brief Note the PROXY command's addresses, from the block at @a. */
static void pp_v2_addrs(const unsigned char *a, unsigned fam,
			struct pp_info *info)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&info->src;
	struct sockaddr_in *d4 = (struct sockaddr_in *)&info->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&info->src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&info->dst;

	if (fam == 0x11) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		info->srclen = info->dstlen = sizeof *s4;
		return;
	}
	s6->sin6_family = d6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, a, 16);
	memcpy(&d6->sin6_addr, a + 16, 16);
	memcpy(&s6->sin6_port, a + 32, 2);
	memcpy(&d6->sin6_port, a + 34, 2);
	info->srclen = info->dstlen = sizeof *s6;
}

/** @brief Parse a v2 header: signature, version and command, family,
 *  length, each checked as it arrives, then addresses and TLVs. */
static int pp_parse_v2(const unsigned char *buf, size_t len,
		       struct pp_info *info, char *err, size_t errlen)
{
	size_t i, total, addrlen = 0;
	unsigned cmd, fam;
	const char *name = NULL;
	int rc;

	if (memcmp(buf, pp_v2_sig, len < 12 ? len : 12))
		return pp_fail(err, errlen, PP_E_NOT_PROXY,
			       "not a PROXY protocol header");
	if (len < 13)
		return PP_INCOMPLETE;
	if (buf[12] >> 4 != 2)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: version %u, not 2", buf[12] >> 4);
	cmd = buf[12] & 0x0f;
	if (cmd > 1)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: command 0x%x is neither LOCAL (0) nor PROXY (1)",
			       cmd);
	if (len < 14)
		return PP_INCOMPLETE;
	fam = buf[13];
	for (i = 0; i < sizeof pp_v2_families / sizeof pp_v2_families[0]; i++)
		if (pp_v2_families[i].fam == fam) {
			addrlen = pp_v2_families[i].addrlen;
			name = pp_v2_families[i].name;
		}
	if (!name)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: address family 0x%02x is not one the spec defines",
			       fam);
	/* LOCAL ignores the family; PROXY must say where the client is */
	if (cmd == 1 && fam != 0x11 && fam != 0x21)
		return pp_fail(err, errlen, PP_E_UNSUPPORTED,
			       "PROXY v2: address family 0x%02x (%s) is not TCP over IPv4/IPv6",
			       fam, name);
	if (len < PP_V2_HEADER)
		return PP_INCOMPLETE;
	total = PP_V2_HEADER + pp_be16(buf + 14);
	if (total > PP_MAX)
		return pp_fail(err, errlen, PP_E_TOO_LONG,
			       "PROXY v2: header of %zu bytes, over the %d we accept",
			       total, PP_MAX);
	if (total - PP_V2_HEADER < addrlen)
		return pp_fail(err, errlen, PP_E_BAD,
			       "PROXY v2: length %zu is short of the %zu-byte address block of %s",
			       total - PP_V2_HEADER, addrlen, name);
	if (len < total)
		return PP_INCOMPLETE;
	info->version = 2;
	info->local = cmd == 0;
	if (!info->local)
		pp_v2_addrs(buf + PP_V2_HEADER, fam, info);
	rc = pp_v2_tlvs(buf, PP_V2_HEADER + addrlen, total, info, err, errlen);
	return rc < 0 ? rc : (int)total;
}

int pp_parse(const unsigned char *buf, size_t len, struct pp_info *info,
	     char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	if (len == 0)
		return PP_INCOMPLETE;
	if (buf[0] == 'P')
		return pp_parse_v1(buf, len, info, err, errlen);
	if (buf[0] == pp_v2_sig[0])
		return pp_parse_v2(buf, len, info, err, errlen);
	return pp_fail(err, errlen, PP_E_NOT_PROXY,
		       "not a PROXY protocol header");
}

/** @brief Append the @n bytes at @p to @out at *@pos, if they fit. */
static int pp_put(unsigned char *out, size_t outlen, size_t *pos,
		  const void *p, size_t n)
{
	if (n > outlen - *pos)
		return -1;
	memcpy(out + *pos, p, n);
	*pos += n;
	return 0;
}

/** @brief Append a TLV of @type holding the @n bytes at @p. */
static int pp_put_tlv(unsigned char *out, size_t outlen, size_t *pos,
		      unsigned type, const void *p, size_t n)
{
	unsigned char h[3] = { type, n >> 8, n & 0xff };

	if (pp_put(out, outlen, pos, h, 3) < 0)
		return -1;
	return pp_put(out, outlen, pos, p, n);
}

/** @brief @sa's address as IPv6 (IPv4 mapped) and its port, both in
 *  network order. Returns 0, or -1 for a family that is neither. */
static int pp_as_v6(const struct sockaddr *sa, unsigned char a[16],
		    unsigned char port[2])
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET6) {
		memcpy(a, &in6->sin6_addr, 16);
		memcpy(port, &in6->sin6_port, 2);
		return 0;
	}
	if (sa->sa_family != AF_INET)
		return -1;
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	memcpy(a + 12, &in->sin_addr, 4);
	memcpy(port, &in->sin_port, 2);
	return 0;
}

/** @brief Append the family byte, the length (patched later) and the
 *  address block for @src and @dst. */
static int pp_put_addrs(unsigned char *out, size_t outlen, size_t *pos,
			const struct sockaddr *src, const struct sockaddr *dst)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;
	const struct sockaddr_in *d4 = (const struct sockaddr_in *)dst;
	unsigned char b[3 + 36] = { 0 };

	if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		b[0] = 0x11;
		memcpy(b + 3, &s4->sin_addr, 4);
		memcpy(b + 7, &d4->sin_addr, 4);
		memcpy(b + 11, &s4->sin_port, 2);
		memcpy(b + 13, &d4->sin_port, 2);
		return pp_put(out, outlen, pos, b, 3 + 12);
	}
	b[0] = 0x21;
	if (pp_as_v6(src, b + 3, b + 35) < 0 ||
	    pp_as_v6(dst, b + 19, b + 37) < 0)
		return -1;
	return pp_put(out, outlen, pos, b, 3 + 36);
}

/** @brief Append the SSL TLV: client bits, verify, VERSION and CN. */
static int pp_put_ssl(unsigned char *out, size_t outlen, size_t *pos,
		      const char *version, int verified, const char *cn)
{
	unsigned char h[8] = { PP2_TYPE_SSL, 0, 0, PP2_CLIENT_SSL, 0, 0, 0, 1 };
	size_t at = *pos, n;

	if (verified) {
		h[3] |= PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS;
		h[7] = 0;
	}
	if (pp_put(out, outlen, pos, h, sizeof h) < 0 ||
	    pp_put_tlv(out, outlen, pos, PP2_SUBTYPE_SSL_VERSION, version,
		       strlen(version)) < 0 ||
	    (cn && *cn && pp_put_tlv(out, outlen, pos, PP2_SUBTYPE_SSL_CN, cn,
				     strlen(cn)) < 0))
		return -1;
	n = *pos - at - 3;
	out[at + 1] = n >> 8;
	out[at + 2] = n & 0xff;
	return 0;
}

/** @brief Would pp_parse take @s back, as a string of at most @max bytes
 *  (pp_text_bad's @ascii)? NULL is fine: the TLV is left out. */
static int pp_string_ok(const char *s, size_t max, int ascii)
{
	size_t n;

	if (!s)
		return 1;
	n = strnlen(s, max + 1);
	return n <= max && pp_text_bad((const unsigned char *)s, n, ascii) < 0;
}

int pp_build_v2(unsigned char *out, size_t outlen, const struct sockaddr *src,
		const struct sockaddr *dst, const char *tls_version,
		int verified, const char *cn, const char *authority)
{
	size_t pos = 0, n;

	if (!out || !src || !dst ||
	    !pp_string_ok(tls_version, PP_SSL_VERSION_MAX, 1) ||
	    (tls_version && !*tls_version) ||
	    !pp_string_ok(cn, PP_SSL_CN_MAX, 0) ||
	    !pp_string_ok(authority, PP_AUTHORITY_MAX, 0))
		return -1;
	if (pp_put(out, outlen, &pos, pp_v2_sig, sizeof pp_v2_sig) < 0 ||
	    pp_put(out, outlen, &pos, "\x21", 1) < 0 ||
	    pp_put_addrs(out, outlen, &pos, src, dst) < 0)
		return -1;
	if (tls_version &&
	    pp_put_ssl(out, outlen, &pos, tls_version, verified, cn) < 0)
		return -1;
	if (authority && *authority &&
	    pp_put_tlv(out, outlen, &pos, PP2_TYPE_AUTHORITY, authority,
		       strlen(authority)) < 0)
		return -1;
	n = pos - PP_V2_HEADER;
	out[14] = n >> 8;
	out[15] = n & 0xff;
	return (int)pos;
}
