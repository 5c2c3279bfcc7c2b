/* http.h - HTTP/1.1 heads: parsing and writing requests and responses,
 * CONNECT authorities, upgrade targets and the WebSocket handshake
 *
 * Nothing here does I/O. The parsers are handed what has arrived so far
 * and say how long the head is, that more bytes are needed, or what is
 * wrong; names and values point into the caller's buffer.
 */
#ifndef SSLTUNNEL_HTTP_H
#define SSLTUNNEL_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEADERS 64	/* one more is a 431 */
#define HTTP_MAX_HEAD 8192	/* default head limit, blank line included */
#define HTTP_HOST_MAX 254	/* a DNS name (253) or IP literal, and NUL */
#define HTTP_WS_KEY_LEN 24	/* base64 of 16 bytes */
#define HTTP_WS_ACCEPT_LEN 28	/* base64 of a SHA-1 */
/* What a 426 answer to a WebSocket upgrade must carry (RFC 6455 §4.4). */
#define HTTP_WS_VERSION_HEADER "Sec-WebSocket-Version: 13\r\n"

/* What the parsers return instead of a head length. */
enum {
	HTTP_BAD = -1,		/* malformed: 400 */
	HTTP_INCOMPLETE = -2,	/* no blank line yet: call again */
	HTTP_TOO_LARGE = -3,	/* head over the limit, 65 fields: 431 */
	HTTP_BAD_VERSION = -4,	/* not HTTP/1.0 or HTTP/1.1: 505 */
};

/* Pointer + length into the parsed buffer; not NUL-terminated. */
struct http_header {
	const char *name;
	size_t namelen;
	const char *value;	/* without leading or trailing SP / HTAB */
	size_t valuelen;
};

struct http_headers {
	struct http_header v[HTTP_MAX_HEADERS];
	size_t n;
};

struct http_request {
	const char *method;	/* case-sensitive: compare with "CONNECT" */
	size_t methodlen;
	const char *target;	/* as sent: authority-form, origin-form */
	size_t targetlen;
	int minor_version;	/* 0 or 1 */
	int has_body;		/* Content-Length > 0, Transfer-Encoding */
	struct http_headers headers;
};

struct http_response {
	int minor_version;	/* 0 or 1 */
	int status;		/* 100 to 599 */
	const char *reason;	/* may be empty */
	size_t reasonlen;
	struct http_headers headers;
};

/** @brief Parse a request head from the @len bytes at @buf so a server
 *  learns what one connection asks for. Strict RFC 9112: CRLF line ends
 *  only, no obs-fold, no whitespace before a colon, no empty line before
 *  the request line. Returns the head's length (through CRLF CRLF; bytes
 *  after it are not the head's), or HTTP_INCOMPLETE, or an error code
 *  with the reason in @err. A head longer than @max_header is
 *  HTTP_TOO_LARGE as soon as @len passes @max_header. @req is only
 *  meaningful after a positive return. */
int http_parse_request(const char *buf, size_t len, size_t max_header,
		       struct http_request *req, char *err, size_t errlen);
/** @brief Parse a response head (a server's or an HTTP proxy's answer),
 *  with the conventions of http_parse_request. The reason phrase may be
 *  missing, with or without the space before it. */
int http_parse_response(const char *buf, size_t len, size_t max_header,
			struct http_response *resp, char *err, size_t errlen);
/** @brief The status to answer a parse error @rc with: 400, 431, 505;
 *  500 for a code that is no parse error. */
int http_error_status(int rc);

/** @brief The first field called @name (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_headers *h,
					   const char *name);
/** @brief Does any @name field list @token in its comma-separated value?
 *  Both compared case-insensitively, as Connection and Upgrade need.
 *  Returns 1 or 0. */
int http_header_has_token(const struct http_headers *h, const char *name,
			  const char *token);

/** @brief Check a host as a client names it: a DNS name (letters, digits,
 *  hyphens; labels of 1 to 63, 253 in all, no trailing dot), a dotted-quad
 *  IPv4 address, or an IPv6 address with or without brackets. Numeric
 *  forms the resolver would read as IPv4 ("127.1", "0x7f000001") are
 *  refused. Writes it to @host lowercased, without brackets. Returns 0, or
 *  -1 with the reason in @err. */
int http_parse_host(const char *s, size_t len, char *host, size_t hostlen,
		    char *err, size_t errlen);
/** @brief Check a port: 1 to 5 digits, 1 to 65535. Returns 0 or -1. */
int http_parse_port(const char *s, size_t len, unsigned *port,
		    char *err, size_t errlen);
/** @brief Split CONNECT's authority-form "host:port" or "[v6]:port" and
 *  check both parts as http_parse_host and http_parse_port do.
 *  Returns 0, or -1 with the reason in @err. */
int http_parse_authority(const char *s, size_t len, char *host,
			 size_t hostlen, unsigned *port,
			 char *err, size_t errlen);
/** @brief Split an origin-form target ("/tunnel?port=1") at the '?'.
 *  @query is NULL when there is none. Returns 0, or -1 when @t is not
 *  origin-form (no leading '/', a '#', a byte outside '!'..'~'). */
int http_split_target(const char *t, size_t len, const char **path,
		      size_t *pathlen, const char **query, size_t *querylen);
/** @brief Find @key in a query ("a=1&b=2", any order), percent-decoding
 *  keys and values ('+' is a space), and write the value NUL-terminated
 *  to @out. The whole query is checked: returns 1 found, 0 absent, -1 for
 *  a bad %-escape or raw byte anywhere, a decoded NUL, @key given twice,
 *  or a value that does not fit in @outlen. */
int http_query_get(const char *query, size_t qlen, const char *key,
		   char *out, size_t outlen);

/** @brief The standard reason phrase of @status, or NULL for one this
 *  daemon never sends. */
const char *http_reason(int status);
/** @brief Write a response head (and @body) NUL-terminated to @out. A 1xx
 *  is the status line, @extra_headers and the blank line; 204 adds only
 *  Connection: close (it has no body, so no Content-Length); anything else
 *  also gets Content-Type: text/plain, Content-Length and Connection:
 *  close, then @body. @extra_headers (NULL for none) are copied verbatim,
 *  each line ending in CRLF; @body may be NULL. Returns the length, or -1
 *  when it does not fit, @status has no reason phrase, or a 1xx is given
 *  a body. */
int http_format_response(char *out, size_t outlen, int status,
			 const char *extra_headers, const char *body);
/** @brief Write the 200 that opens a CONNECT tunnel: no body and no
 *  Content-Length (RFC 9110 §9.3.6). Returns the length or -1. */
int http_format_connect_ok(char *out, size_t outlen,
			   const char *extra_headers);
/** @brief Write a request head for the client role: "@method @target
 *  HTTP/1.1", Host: @host, @extra_headers, blank line. For CONNECT both
 *  @target and @host are the authority. Returns the length or -1. */
int http_format_request(char *out, size_t outlen, const char *method,
			const char *target, const char *host,
			const char *extra_headers);

/** @brief Is @key a Sec-WebSocket-Key: canonical base64 of 16 bytes? */
int http_ws_key_valid(const char *key, size_t len);
/** @brief Make a fresh Sec-WebSocket-Key for the client role.
 *  Returns 0, or -1 if GnuTLS has no randomness to give. */
int http_ws_make_key(char out[HTTP_WS_KEY_LEN + 1]);
/** @brief The Sec-WebSocket-Accept for @key: base64(SHA-1(key + GUID)),
 *  NUL-terminated. Returns 0, or -1 (key over 64 bytes, GnuTLS failed). */
int http_ws_accept(const char *key, size_t keylen,
		   char out[HTTP_WS_ACCEPT_LEN + 1]);
/** @brief Is @r a WebSocket version 13 opening handshake (GET, HTTP/1.1,
 *  one Host, Upgrade: websocket, Connection: upgrade, a valid key, no
 *  body)? Returns 0, or the status to answer with and why in @err: 426
 *  for another Sec-WebSocket-Version (send HTTP_WS_VERSION_HEADER with
 *  it), 400 for the rest. */
int http_ws_check_request(const struct http_request *r,
			  char *err, size_t errlen);
/** @brief Does @r accept the upgrade the client asked for with @key
 *  (101, Upgrade and Connection tokens, the right Sec-WebSocket-Accept,
 *  no extension or subprotocol it never offered)? Returns 0, or -1 with
 *  the reason in @err. */
int http_ws_check_response(const struct http_response *r, const char *key,
			   char *err, size_t errlen);

#endif
