/* http_int.h - what the http*.c files share: the character classes of
 * the HTTP grammar, span comparisons and how failures are worded.
 * Internal to http*.c. */
#ifndef SSLTUNNEL_HTTP_INT_H
#define SSLTUNNEL_HTTP_INT_H

#include <stddef.h>
#include <string.h>

#define HTTP_QUOTE_LEN 68	/* 64 bytes of input, "..." and NUL */

/** @brief Put the reason for a failure in @err and hand back @rc, so each
 *  check is one line. */
int http_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** @brief A bounded, printable copy of untrusted bytes for an error
 *  message, so a peer can neither flood nor forge log lines. */
const char *http_quote(char q[HTTP_QUOTE_LEN], const char *s, size_t n);

/** @brief Locale-free ASCII lowercase: header names and hosts compare
 *  the same whatever the process locale. */
static inline unsigned char http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/** @brief Is @c a decimal digit (without the locale)? */
static inline int http_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/** @brief Is @c an ASCII letter or digit (without the locale)? */
static inline int http_alnum(unsigned char c)
{
	return http_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/** @brief Is @c a tchar: what methods and field names are made of
 *  (RFC 9110 §5.6.2)? */
static inline int http_tchar(unsigned char c)
{
	return http_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/** @brief Is @c optional whitespace (SP or HTAB)? */
static inline int http_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/** @brief Is @c printable ASCII other than space: what a target and a
 *  query may hold raw? */
static inline int http_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/** @brief Is @c allowed in a head's line: VCHAR, obs-text or OWS, i.e.
 *  anything but a control character? */
static inline int http_text(unsigned char c)
{
	return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/** @brief Does the span @p/@n equal the string @s exactly? */
static inline int http_span_eq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/** @brief Does the span @p/@n equal @s, ignoring ASCII case? */
static inline int http_span_ieq(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!s[i] || http_lower(p[i]) != http_lower(s[i]))
			return 0;
	return s[i] == '\0';
}

#endif
