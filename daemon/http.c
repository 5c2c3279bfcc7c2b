/* http.c - HTTP/1.1 heads: parsing requests and responses, finding
 * their fields
 *
 * The parsers start from the first byte on every call: a head is at most
 * a few KiB, and keeping no state between calls is what makes them safe
 * to call again with more input. Lines are checked as soon as their CRLF
 * has arrived, so garbage is refused without waiting for the limit.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "http_int.h"

int http_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

const char *http_quote(char q[HTTP_QUOTE_LEN], const char *s, size_t n)
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
