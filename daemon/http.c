/* http.c - HTTP/1.1 heads: parsing and writing requests and responses,
 * CONNECT authorities, upgrade targets and the WebSocket handshake
 *
 * The parsers start from the first byte on every call: a head is at most
 * a few KiB, and keeping no state between calls is what makes them safe
 * to call again with more input. Lines are checked as soon as their CRLF
 * has arrived, so garbage is refused without waiting for the limit.
 */
#include "config.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

#define HTTP_QUOTE_LEN 68	/* 64 bytes of input, "..." and NUL */

static const char http_ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** @brief Put the reason for a failure in @err and hand back @rc, so each
 *  check is one line. */
static int http_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int http_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/** @brief A bounded, printable copy of untrusted bytes for an error
 *  message, so a peer can neither flood nor forge log lines. */
static const char *http_quote(char q[HTTP_QUOTE_LEN], const char *s, size_t n)
{
	size_t i, max = HTTP_QUOTE_LEN - 4;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = s[i];

		q[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	if (i < n)
		memcpy(q + i, "...", 4);
	else
		q[i] = '\0';
	return q;
}

/** @brief Locale-free ASCII lowercase: header names and hosts compare
 *  the same whatever the process locale. */
static unsigned char http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/** @brief Is @c a decimal digit (without the locale)? */
static int http_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/** @brief Is @c an ASCII letter or digit (without the locale)? */
static int http_alnum(unsigned char c)
{
	return http_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/** @brief Is @c a tchar: what methods and field names are made of
 *  (RFC 9110 §5.6.2)? */
static int http_tchar(unsigned char c)
{
	return http_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/** @brief Is @c optional whitespace (SP or HTAB)? */
static int http_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/** @brief Is @c printable ASCII other than space: what a target and a
 *  query may hold raw? */
static int http_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/** @brief Is @c allowed in a head's line: VCHAR, obs-text or OWS, i.e.
 *  anything but a control character? */
static int http_text(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/** @brief Does the span @p/@n equal the string @s exactly? */
static int http_span_eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/** @brief Does the span @p/@n equal @s, ignoring ASCII case? */
static int http_span_ieq(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!s[i] || http_lower(p[i]) != http_lower(s[i]))
			return 0;
	return s[i] == '\0';
}

/** @brief How many fields are called @name: some must appear once. */
static size_t http_count(const struct http_headers *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		n += http_span_ieq(h->v[i].name, h->v[i].namelen, name);
	return n;
}

/** @brief Find the CRLF ending the line at @pos within the first @lim
 *  bytes: 0 with *@eol at the CR, HTTP_INCOMPLETE, or HTTP_BAD for a CR
 *  or LF on its own (strict framing leaves no room for smuggling) or a
 *  control character, which no line may hold: binary garbage is refused
 *  at once, not when the limit is reached. */
static int http_line_end(const char *buf, size_t lim, size_t pos,
			 size_t *eol, const char *where,
			 char *err, size_t errlen)
{
	size_t i;

	for (i = pos; i < lim; i++) {
		if (buf[i] == '\n')
			return http_fail(err, errlen, HTTP_BAD,
					 "%s: LF without CR", where);
		if (buf[i] != '\r' && !http_text(buf[i]))
			return http_fail(err, errlen, HTTP_BAD,
					 "%s: control character 0x%02x", where,
					 (unsigned char)buf[i]);
		if (buf[i] != '\r')
			continue;
		if (i + 1 == lim)
			return HTTP_INCOMPLETE;
		if (buf[i + 1] != '\n')
			return http_fail(err, errlen, HTTP_BAD,
					 "%s: CR without LF", where);
		*eol = i;
		return 0;
	}
	return HTTP_INCOMPLETE;
}

/** @brief Check "HTTP/1.x" where a start line has its version, telling a
 *  malformed one (400) from one we do not speak (505). */
static int http_version(const char *s, size_t n, const char *where,
			int *minor, char *err, size_t errlen)
{
	char q[HTTP_QUOTE_LEN];

	if (n == 0)
		return http_fail(err, errlen, HTTP_BAD, "%s: no HTTP version",
				 where);
	if (n != 8 || memcmp(s, "HTTP/", 5) || !http_digit(s[5]) ||
	    s[6] != '.' || !http_digit(s[7]))
		return http_fail(err, errlen, HTTP_BAD,
				 "%s: bad HTTP version \"%s\"", where,
				 http_quote(q, s, n));
	if (s[5] != '1' || s[7] > '1')
		return http_fail(err, errlen, HTTP_BAD_VERSION,
				 "%s: HTTP/%c.%c is not supported", where,
				 s[5], s[7]);
	*minor = s[7] - '0';
	return 0;
}

/** @brief Check one field line and add it to @h (RFC 9112 §5). */
static int http_header_line(const char *s, size_t n, size_t line,
			    struct http_headers *h, char *err, size_t errlen)
{
	const char *colon;
	size_t i, nl, v, e;
	char q[HTTP_QUOTE_LEN];

	if (http_ows(s[0]))
		return http_fail(err, errlen, HTTP_BAD,
				 "header %zu: starts with whitespace (obs-fold)",
				 line);
	colon = memchr(s, ':', n);
	if (!colon)
		return http_fail(err, errlen, HTTP_BAD, "header %zu: no colon",
				 line);
	nl = colon - s;
	if (nl == 0)
		return http_fail(err, errlen, HTTP_BAD,
				 "header %zu: empty name", line);
	if (http_ows(s[nl - 1]))
		return http_fail(err, errlen, HTTP_BAD,
				 "header %zu: whitespace before colon", line);
	for (i = 0; i < nl; i++)
		if (!http_tchar(s[i]))
			return http_fail(err, errlen, HTTP_BAD,
					 "header %zu: bad character in name \"%s\"",
					 line, http_quote(q, s, nl));
	for (v = nl + 1; v < n && http_ows(s[v]); v++)
		;
	for (e = n; e > v && http_ows(s[e - 1]); e--)
		;
	if (h->n == HTTP_MAX_HEADERS)
		return http_fail(err, errlen, HTTP_TOO_LARGE,
				 "header %zu: more than %d header fields",
				 line, HTTP_MAX_HEADERS);
	h->v[h->n++] = (struct http_header){
		.name = s, .namelen = nl, .value = s + v, .valuelen = e - v,
	};
	return 0;
}

typedef int (*http_start_fn)(const char *s, size_t n, void *msg,
			     char *err, size_t errlen);

/** @brief What requests and responses share: the start line (checked by
 *  @start), the field lines, the blank line, and the size limit. */
static int http_parse_head(const char *buf, size_t len, size_t max_header,
			   const char *start_name, http_start_fn start,
			   void *msg, struct http_headers *h,
			   char *err, size_t errlen)
{
	size_t lim, pos = 0, eol = 0, line;
	char where[32];
	int rc;

	if (max_header > INT_MAX)
		max_header = INT_MAX;
	lim = len < max_header ? len : max_header;
	h->n = 0;
	for (line = 0;; line++) {
		if (line == 0)
			snprintf(where, sizeof where, "%s", start_name);
		else
			snprintf(where, sizeof where, "header %zu", line);
		rc = http_line_end(buf, lim, pos, &eol, where, err, errlen);
		if (rc == HTTP_INCOMPLETE && len > max_header)
			return http_fail(err, errlen, HTTP_TOO_LARGE,
					 "head over %zu bytes, in %s",
					 max_header, where);
		if (rc < 0)
			return rc;
		if (line == 0)
			rc = start(buf, eol, msg, err, errlen);
		else if (eol == pos)
			return (int)(eol + 2);
		else
			rc = http_header_line(buf + pos, eol - pos, line, h,
					      err, errlen);
		if (rc < 0)
			return rc;
		pos = eol + 2;
	}
}

/** @brief Check "method SP request-target SP HTTP-version", one space
 *  each (RFC 9112 §3), and note the parts in the request. */
static int http_request_line(const char *s, size_t n, void *msg,
			     char *err, size_t errlen)
{
	struct http_request *r = msg;
	size_t i = 0, t;

	if (n == 0)
		return http_fail(err, errlen, HTTP_BAD, "request line: empty");
	while (i < n && http_tchar(s[i]))
		i++;
	if (i == n)
		return http_fail(err, errlen, HTTP_BAD,
				 "request line: no target");
	if (i == 0 || s[i] != ' ')
		return http_fail(err, errlen, HTTP_BAD,
				 "request line: method is not a token");
	r->method = s;
	r->methodlen = i;
	t = ++i;
	while (i < n && http_vchar(s[i]))
		i++;
	if (i == t)
		return http_fail(err, errlen, HTTP_BAD,
				 "request line: no target");
	if (i == n)
		return http_fail(err, errlen, HTTP_BAD,
				 "request line: no HTTP version");
	if (s[i] != ' ')
		return http_fail(err, errlen, HTTP_BAD,
				 "request line: bad character in target");
	r->target = s + t;
	r->targetlen = i - t;
	i++;
	return http_version(s + i, n - i, "request line", &r->minor_version,
			    err, errlen);
}

/** @brief Note whether a body follows the head, so bytes the caller
 *  takes for the tunnel's first are never a body in disguise. */
static int http_request_body(struct http_request *r, char *err, size_t errlen)
{
	const struct http_header *f;
	char q[HTTP_QUOTE_LEN];
	size_t i, j;

	r->has_body = 0;
	for (i = 0; i < r->headers.n; i++) {
		f = &r->headers.v[i];
		if (http_span_ieq(f->name, f->namelen, "Transfer-Encoding")) {
			r->has_body = 1;
			continue;
		}
		if (!http_span_ieq(f->name, f->namelen, "Content-Length"))
			continue;
		for (j = 0; j < f->valuelen && http_digit(f->value[j]); j++)
			if (f->value[j] != '0')
				r->has_body = 1;
		if (j == 0 || j < f->valuelen)
			return http_fail(err, errlen, HTTP_BAD,
					 "header %zu: Content-Length \"%s\" is not a number",
					 i + 1,
					 http_quote(q, f->value, f->valuelen));
	}
	return 0;
}

int http_parse_request(const char *buf, size_t len, size_t max_header,
		       struct http_request *req, char *err, size_t errlen)
{
	int rc = http_parse_head(buf, len, max_header, "request line",
				 http_request_line, req, &req->headers,
				 err, errlen);

	if (rc > 0 && http_request_body(req, err, errlen) < 0)
		return HTTP_BAD;
	return rc;
}

/** @brief Check "HTTP-version SP status-code [SP reason-phrase]"
 *  (RFC 9112 §4) and note the parts in the response. */
static int http_status_line(const char *s, size_t n, void *msg,
			    char *err, size_t errlen)
{
	struct http_response *r = msg;
	const char *sp = memchr(s, ' ', n);
	char q[HTTP_QUOTE_LEN];
	int rc;

	rc = http_version(s, sp ? (size_t)(sp - s) : n, "status line",
			  &r->minor_version, err, errlen);
	if (rc < 0)
		return rc;
	if (!sp)
		return http_fail(err, errlen, HTTP_BAD,
				 "status line: no status code");
	n -= sp + 1 - s;
	s = sp + 1;
	if (n < 3 || s[0] < '1' || s[0] > '5' || !http_digit(s[1]) ||
	    !http_digit(s[2]) || (n > 3 && s[3] != ' '))
		return http_fail(err, errlen, HTTP_BAD,
				 "status line: bad status code \"%s\"",
				 http_quote(q, s, n));
	r->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	r->reason = s + (n > 3 ? 4 : 3);
	r->reasonlen = n > 3 ? n - 4 : 0;
	return 0;
}

int http_parse_response(const char *buf, size_t len, size_t max_header,
			struct http_response *resp, char *err, size_t errlen)
{
	return http_parse_head(buf, len, max_header, "status line",
			       http_status_line, resp, &resp->headers,
			       err, errlen);
}

int http_error_status(int rc)
{
	switch (rc) {
	case HTTP_BAD: return 400;
	case HTTP_TOO_LARGE: return 431;
	case HTTP_BAD_VERSION: return 505;
	}
	return 500;
}

const struct http_header *http_find_header(const struct http_headers *h,
					   const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (http_span_ieq(h->v[i].name, h->v[i].namelen, name))
			return &h->v[i];
	return NULL;
}

/** @brief Does the comma-separated list @p/@n hold @token? */
static int http_list_has(const char *p, size_t n, const char *token)
{
	const char *end = p + n, *e, *a, *b;

	while (p < end) {
		e = memchr(p, ',', end - p);
		if (!e)
			e = end;
		for (a = p; a < e && http_ows(*a); a++)
			;
		for (b = e; b > a && http_ows(b[-1]); b--)
			;
		if (http_span_ieq(a, b - a, token))
			return 1;
		p = e + (e < end);
	}
	return 0;
}

int http_header_has_token(const struct http_headers *h, const char *name,
			  const char *token)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (http_span_ieq(h->v[i].name, h->v[i].namelen, name) &&
		    http_list_has(h->v[i].value, h->v[i].valuelen, token))
			return 1;
	return 0;
}

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

static const struct {
	int status;
	const char *reason;
} http_reasons[] = {
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 426, "Upgrade Required" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof http_reasons / sizeof http_reasons[0]; i++)
		if (http_reasons[i].status == status)
			return http_reasons[i].reason;
	return NULL;
}

/** @brief snprintf()'s result as the formatters promise it: the length,
 *  or -1 when it did not fit. */
static int http_fit(int n, size_t outlen)
{
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int http_format_response(char *out, size_t outlen, int status,
			 const char *extra_headers, const char *body)
{
	const char *reason = http_reason(status);
	const char *extra = extra_headers ? extra_headers : "";

	if (!reason || (status < 200 && body))
		return -1;
	if (status < 200)
		return http_fit(snprintf(out, outlen, "HTTP/1.1 %d %s\r\n%s\r\n",
					 status, reason, extra), outlen);
	if (!body)
		body = "";
	return http_fit(snprintf(out, outlen,
				 "HTTP/1.1 %d %s\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: %zu\r\n"
				 "Connection: close\r\n"
				 "%s\r\n%s",
				 status, reason, strlen(body), extra, body),
			outlen);
}

int http_format_connect_ok(char *out, size_t outlen,
			   const char *extra_headers)
{
	return http_fit(snprintf(out, outlen,
				 "HTTP/1.1 200 Connection established\r\n%s\r\n",
				 extra_headers ? extra_headers : ""), outlen);
}

int http_format_request(char *out, size_t outlen, const char *method,
			const char *target, const char *host,
			const char *extra_headers)
{
	return http_fit(snprintf(out, outlen,
				 "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
				 method, target, host,
				 extra_headers ? extra_headers : ""), outlen);
}

/** @brief The value of base64 digit @c, or -1. */
static int http_b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (http_digit(c))
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int http_ws_key_valid(const char *key, size_t len)
{
	size_t i;

	if (len != HTTP_WS_KEY_LEN || key[22] != '=' || key[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (http_b64(key[i]) < 0)
			return 0;
	/* 22 digits carry 132 bits; 16 bytes leave the last 4 at zero. */
	return (http_b64(key[21]) & 0xf) == 0;
}

/** @brief base64 of @n bytes as exactly @outlen characters and a NUL:
 *  GnuTLS's encoder, checked to give what the handshake needs. */
static int http_base64(const unsigned char *in, size_t n, char *out,
		       size_t outlen)
{
	gnutls_datum_t d = { (unsigned char *)in, n }, b64 = { NULL, 0 };
	int ok;

	if (gnutls_base64_encode2(&d, &b64) < 0)
		return -1;
	ok = b64.size == outlen;
	if (ok) {
		memcpy(out, b64.data, outlen);
		out[outlen] = '\0';
	}
	gnutls_free(b64.data);
	return ok ? 0 : -1;
}

int http_ws_make_key(char out[HTTP_WS_KEY_LEN + 1])
{
	unsigned char nonce[16];

	if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof nonce) < 0)
		return -1;
	return http_base64(nonce, sizeof nonce, out, HTTP_WS_KEY_LEN);
}

int http_ws_accept(const char *key, size_t keylen,
		   char out[HTTP_WS_ACCEPT_LEN + 1])
{
	char buf[64 + sizeof http_ws_guid];
	unsigned char sha1[20];
	size_t n = keylen + sizeof http_ws_guid - 1;

	if (keylen > 64)
		return -1;
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, http_ws_guid, sizeof http_ws_guid - 1);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, n, sha1) < 0)
		return -1;
	return http_base64(sha1, sizeof sha1, out, HTTP_WS_ACCEPT_LEN);
}

int http_ws_check_request(const struct http_request *r,
			  char *err, size_t errlen)
{
	const struct http_headers *h = &r->headers;
	const struct http_header *f;
	char q[HTTP_QUOTE_LEN];

	if (!http_span_eq(r->method, r->methodlen, "GET"))
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: method %s, expected GET",
				 http_quote(q, r->method, r->methodlen));
	if (r->minor_version != 1)
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: needs HTTP/1.1");
	if (http_count(h, "Host") != 1)
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: needs exactly one Host header");
	if (!http_header_has_token(h, "Upgrade", "websocket"))
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: no \"Upgrade: websocket\"");
	if (!http_header_has_token(h, "Connection", "upgrade"))
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: Connection does not list upgrade");
	f = http_find_header(h, "Sec-WebSocket-Version");
	if (!f || http_count(h, "Sec-WebSocket-Version") != 1)
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: needs exactly one Sec-WebSocket-Version");
	if (!http_span_eq(f->value, f->valuelen, "13"))
		return http_fail(err, errlen, 426,
				 "WebSocket upgrade: Sec-WebSocket-Version \"%s\" is not supported, only 13",
				 http_quote(q, f->value, f->valuelen));
	f = http_find_header(h, "Sec-WebSocket-Key");
	if (!f || http_count(h, "Sec-WebSocket-Key") != 1)
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: needs exactly one Sec-WebSocket-Key");
	if (!http_ws_key_valid(f->value, f->valuelen))
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: Sec-WebSocket-Key \"%s\" is not base64 of 16 bytes",
				 http_quote(q, f->value, f->valuelen));
	if (r->has_body)
		return http_fail(err, errlen, 400,
				 "WebSocket upgrade: the request has a body");
	return 0;
}

int http_ws_check_response(const struct http_response *r, const char *key,
			   char *err, size_t errlen)
{
	const struct http_headers *h = &r->headers;
	const struct http_header *f;
	char want[HTTP_WS_ACCEPT_LEN + 1], q[HTTP_QUOTE_LEN];

	if (r->status != 101)
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade refused: %d %s", r->status,
				 http_quote(q, r->reason, r->reasonlen));
	if (!http_header_has_token(h, "Upgrade", "websocket"))
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: 101 without \"Upgrade: websocket\"");
	if (!http_header_has_token(h, "Connection", "upgrade"))
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: 101 whose Connection does not list upgrade");
	if (http_ws_accept(key, strlen(key), want) < 0)
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: cannot compute Sec-WebSocket-Accept");
	f = http_find_header(h, "Sec-WebSocket-Accept");
	if (!f || http_count(h, "Sec-WebSocket-Accept") != 1 ||
	    !http_span_eq(f->value, f->valuelen, want))
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: Sec-WebSocket-Accept \"%s\" does not match the key (expected %s)",
				 f ? http_quote(q, f->value, f->valuelen) : "",
				 want);
	if (http_find_header(h, "Sec-WebSocket-Extensions"))
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: the server chose an extension that was never offered");
	if (http_find_header(h, "Sec-WebSocket-Protocol"))
		return http_fail(err, errlen, -1,
				 "WebSocket upgrade: the server chose a subprotocol that was never offered");
	return 0;
}
