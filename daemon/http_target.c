/* http_target.c - what an HTTP request names: hosts, ports, CONNECT
 * authorities, origin-form targets and their queries
 *
 * A client's host is checked strictly before anything resolves it, so
 * the address reached is the one the text shows and the access list can
 * compare names byte for byte.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http.h"
#include "http_int.h"

/** @brief Copy a checked host out, lowercased, so the access list can
 *  compare names byte for byte. */
static int http_host_out(const char *s, size_t n, char *host, size_t hostlen,
			 char *err, size_t errlen)
{
	char q[HTTP_QUOTE_LEN];
	size_t i;

	if (n >= hostlen)
		return http_fail(err, errlen, -1,
				 "host \"%s\" does not fit in %zu bytes",
				 http_quote(q, s, n), hostlen);
	for (i = 0; i < n; i++)
		host[i] = http_lower(s[i]);
	host[n] = '\0';
	return 0;
}

/** @brief Check an IPv6 literal (no brackets, no zone: a peer's zone
 *  means nothing here). */
static int http_host_v6(const char *s, size_t n, char *host, size_t hostlen,
			char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN], q[HTTP_QUOTE_LEN];
	struct in6_addr in6;

	if (n == 0)
		return http_fail(err, errlen, -1, "missing host");
	if (n < sizeof a) {
		memcpy(a, s, n);
		a[n] = '\0';
	}
	if (n >= sizeof a || strlen(a) != n ||
	    inet_pton(AF_INET6, a, &in6) != 1)
		return http_fail(err, errlen, -1,
				 "\"%s\" is not an IPv6 address",
				 http_quote(q, s, n));
	return http_host_out(s, n, host, hostlen, err, errlen);
}

/** @brief Check a DNS name or dotted-quad IPv4 address. Numeric forms
 *  that only inet_aton() reads ("127.1", "0x7f000001") are refused: the
 *  resolver would turn them into addresses the text does not show. */
static int http_host_name(const char *s, size_t n, char *host,
			  size_t hostlen, char *err, size_t errlen)
{
	char a[HTTP_HOST_MAX], q[HTTP_QUOTE_LEN];
	struct in_addr in;
	size_t i, label = 0;
	int digits = 1;

	if (n > HTTP_HOST_MAX - 1)
		return http_fail(err, errlen, -1,
				 "host name \"%s\" is longer than %d characters",
				 http_quote(q, s, n), HTTP_HOST_MAX - 1);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '.' && label == 0)
			return http_fail(err, errlen, -1,
					 "host name \"%s\" has an empty label",
					 http_quote(q, s, n));
		if ((c == '.' && s[i - 1] == '-') || (c == '-' && label == 0))
			return http_fail(err, errlen, -1,
					 "host name \"%s\" has a label starting or ending with '-'",
					 http_quote(q, s, n));
		if (c == '.') {
			label = 0;
			digits = 1;
			continue;
		}
		if (!http_alnum(c) && c != '-')
			return http_fail(err, errlen, -1,
					 "bad character in host name \"%s\"",
					 http_quote(q, s, n));
		if (++label > 63)
			return http_fail(err, errlen, -1,
					 "host name \"%s\" has a label over 63 characters",
					 http_quote(q, s, n));
		digits &= http_digit(c);
	}
	if (label == 0)
		return http_fail(err, errlen, -1,
				 "host name \"%s\" has an empty label",
				 http_quote(q, s, n));
	if (s[n - 1] == '-')
		return http_fail(err, errlen, -1,
				 "host name \"%s\" has a label starting or ending with '-'",
				 http_quote(q, s, n));
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, &in) != 1 && (digits || inet_aton(a, &in)))
		return http_fail(err, errlen, -1,
				 "\"%s\" is not a dotted-quad IPv4 address",
				 http_quote(q, s, n));
	return http_host_out(s, n, host, hostlen, err, errlen);
}

int http_parse_host(const char *s, size_t len, char *host, size_t hostlen,
		    char *err, size_t errlen)
{
	char q[HTTP_QUOTE_LEN];

	if (len == 0)
		return http_fail(err, errlen, -1, "missing host");
	if (s[0] == '[') {
		if (len < 2 || s[len - 1] != ']')
			return http_fail(err, errlen, -1,
					 "expected \"[ipv6]\", got \"%s\"",
					 http_quote(q, s, len));
		return http_host_v6(s + 1, len - 2, host, hostlen, err, errlen);
	}
	if (memchr(s, ':', len))
		return http_host_v6(s, len, host, hostlen, err, errlen);
	return http_host_name(s, len, host, hostlen, err, errlen);
}

int http_parse_port(const char *s, size_t len, unsigned *port,
		    char *err, size_t errlen)
{
	char q[HTTP_QUOTE_LEN];
	unsigned v = 0;
	size_t i;
	int ok = len >= 1 && len <= 5;

	for (i = 0; ok && i < len; i++) {
		ok = http_digit(s[i]);
		v = v * 10 + (s[i] - '0');
	}
	if (!ok || v < 1 || v > 65535)
		return http_fail(err, errlen, -1,
				 "port must be a number from 1 to 65535, got \"%s\"",
				 http_quote(q, s, len));
	*port = v;
	return 0;
}

int http_parse_authority(const char *s, size_t len, char *host,
			 size_t hostlen, unsigned *port,
			 char *err, size_t errlen)
{
	const char *colon, *rb;
	char q[HTTP_QUOTE_LEN];

	if (len > 0 && s[0] == '[') {
		rb = memchr(s, ']', len);
		if (!rb || rb + 1 == s + len || rb[1] != ':')
			return http_fail(err, errlen, -1,
					 "expected \"[ipv6]:port\", got \"%s\"",
					 http_quote(q, s, len));
		colon = rb + 1;
	} else {
		colon = len > 0 ? memrchr(s, ':', len) : NULL;
		if (!colon)
			return http_fail(err, errlen, -1,
					 "expected \"host:port\", got \"%s\"",
					 http_quote(q, s, len));
		if (memchr(s, ':', colon - s))
			return http_fail(err, errlen, -1,
					 "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"%s\"",
					 http_quote(q, s, len));
	}
	if (http_parse_host(s, colon - s, host, hostlen, err, errlen) < 0)
		return -1;
	return http_parse_port(colon + 1, s + len - colon - 1, port,
			       err, errlen);
}

int http_split_target(const char *t, size_t len, const char **path,
		      size_t *pathlen, const char **query, size_t *querylen)
{
	const char *q;
	size_t i;

	if (len == 0 || t[0] != '/')
		return -1;
	for (i = 0; i < len; i++)
		if (!http_vchar(t[i]) || t[i] == '#')
			return -1;
	q = memchr(t, '?', len);
	*path = t;
	*pathlen = q ? (size_t)(q - t) : len;
	*query = q ? q + 1 : NULL;
	*querylen = q ? len - *pathlen - 1 : 0;
	return 0;
}

/** @brief The value of hex digit @c, or -1. */
static int http_hex(unsigned char c)
{
	if (http_digit(c))
		return c - '0';
	c = http_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/** @brief Decode the byte of a query component at *@i ("%41", "+", "a")
 *  and step past it; -1 for a bad escape, a decoded NUL (it would cut
 *  the value short) or a raw byte outside '!'..'~'. */
static int http_unescape(const char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	int hi, lo;

	if (!http_vchar(c))
		return -1;
	if (c != '%') {
		(*i)++;
		return c == '+' ? ' ' : c;
	}
	if (n - *i < 3 || (hi = http_hex(s[*i + 1])) < 0 ||
	    (lo = http_hex(s[*i + 2])) < 0 || (hi | lo) == 0)
		return -1;
	*i += 3;
	return hi << 4 | lo;
}

/** @brief Decode the key @s/@n and compare it with @key: 1 equal, 0 not,
 *  -1 malformed. */
static int http_query_key_is(const char *s, size_t n, const char *key)
{
	size_t i = 0, k = 0;
	int c, eq = 1;

	while (i < n) {
		c = http_unescape(s, n, &i);
		if (c < 0)
			return -1;
		if (eq && key[k] && (unsigned char)key[k] == c)
			k++;
		else
			eq = 0;
	}
	return eq && key[k] == '\0';
}

/** @brief Decode the value @s/@n into @out, NUL-terminated, or only check
 *  it when @out is NULL. Returns 0, or -1 malformed or too long. */
static int http_query_value(const char *s, size_t n, char *out,
			    size_t outlen)
{
	size_t i = 0, o = 0;
	int c;

	if (out && outlen == 0)
		return -1;
	while (i < n) {
		c = http_unescape(s, n, &i);
		if (c < 0)
			return -1;
		if (!out)
			continue;
		if (o + 1 == outlen)
			return -1;
		out[o++] = c;
	}
	if (out)
		out[o] = '\0';
	return 0;
}

int http_query_get(const char *query, size_t qlen, const char *key,
		   char *out, size_t outlen)
{
	const char *p = query, *end, *amp, *eq, *v;
	int found = 0, is;

	if (qlen == 0)
		return 0;
	end = query + qlen;
	for (;;) {
		amp = memchr(p, '&', end - p);
		if (!amp)
			amp = end;
		eq = memchr(p, '=', amp - p);
		if (!eq)
			eq = amp;
		v = eq < amp ? eq + 1 : amp;
		is = http_query_key_is(p, eq - p, key);
		if (is < 0 || (is && found))
			return -1;
		if (http_query_value(v, amp - v, is ? out : NULL, outlen) < 0)
			return -1;
		found |= is;
		if (amp == end)
			return found;
		p = amp + 1;
	}
}
