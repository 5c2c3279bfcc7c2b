/* test_http.c - HTTP heads, CONNECT authorities, upgrade targets and the
 * WebSocket handshake */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "unit.h"

/* RFC 6455 §1.3's sample handshake, with an extra field to trim. */
static const char upgrade[] =
	"GET /tunnel?port=22&host=db.internal HTTP/1.1\r\n"
	"Host: gw.example.com\r\n"
	"Upgrade: websocket\r\n"
	"Connection: keep-alive, Upgrade\r\n"
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"X-Padded: \t padded  value \t\r\n"
	"\r\n";

static const char proxy_407[] =
	"HTTP/1.0 407 Proxy Authentication Required\r\n"
	"Proxy-Authenticate: Basic realm=\"corp proxy\"\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

#define SPAN_EQ(p, n, want) do { \
		ck_assert_msg((n) == strlen(want) && \
			      !memcmp((p), (want), (n)), \
			      "got \"%.*s\", want \"%s\"", \
			      (int)(n), (p), (want)); \
	} while (0)

/* String literals only: the length comes from sizeof, so NULs count. */
#define REQ_ERR(lit, want_rc, want_err) do { \
		struct http_request r_; \
		char e_[256] = ""; \
		int rc_ = http_parse_request((lit), sizeof(lit) - 1, \
					     HTTP_MAX_HEAD, &r_, \
					     e_, sizeof e_); \
		ck_assert_msg(rc_ == (want_rc), "%s: rc %d, want %d (%s)", \
			      (lit), rc_, (want_rc), e_); \
		ck_assert_str_eq(e_, (want_err)); \
	} while (0)

#define RESP_ERR(lit, want_rc, want_err) do { \
		struct http_response r_; \
		char e_[256] = ""; \
		int rc_ = http_parse_response((lit), sizeof(lit) - 1, \
					      HTTP_MAX_HEAD, &r_, \
					      e_, sizeof e_); \
		ck_assert_msg(rc_ == (want_rc), "%s: rc %d, want %d (%s)", \
			      (lit), rc_, (want_rc), e_); \
		ck_assert_str_eq(e_, (want_err)); \
	} while (0)

#define AUTH_OK(s, want_host, want_port) do { \
		char h_[HTTP_HOST_MAX] = "", e_[256] = ""; \
		unsigned p_ = 0; \
		ck_assert_msg(http_parse_authority((s), strlen(s), \
						   h_, sizeof h_, &p_, \
						   e_, sizeof e_) == 0, \
			      "%s: %s", (s), e_); \
		ck_assert_str_eq(h_, (want_host)); \
		ck_assert_uint_eq(p_, (want_port)); \
	} while (0)

#define AUTH_ERR(s, want) do { \
		char h_[HTTP_HOST_MAX] = "", e_[256] = ""; \
		unsigned p_ = 0; \
		ck_assert_msg(http_parse_authority((s), strlen(s), \
						   h_, sizeof h_, &p_, \
						   e_, sizeof e_) == -1, \
			      "\"%s\" accepted as host \"%s\" port %u", (s), h_, p_); \
		ck_assert_str_eq(e_, (want)); \
	} while (0)

#define QUERY(q, key, want_rc, want_val) do { \
		char v_[64] = "(untouched)"; \
		int rc_ = http_query_get((q), strlen(q), (key), \
					 v_, sizeof v_); \
		ck_assert_msg(rc_ == (want_rc), "%s in \"%s\": rc %d, want %d", \
			      (key), (q), rc_, (want_rc)); \
		ck_assert_str_eq(v_, (want_val)); \
	} while (0)

/* After -1 the output holds nothing the caller may use. */
#define QUERY_BAD(q, key) do { \
		char v_[64]; \
		ck_assert_msg(http_query_get((q), strlen(q), (key), v_, \
					     sizeof v_) == -1, \
			      "%s in \"%s\" accepted", (key), (q)); \
	} while (0)

START_TEST(request_complete)
{
	struct http_request r;
	char err[256] = "";
	const struct http_header *h;

	ck_assert_int_eq(http_parse_request(upgrade, strlen(upgrade),
					    HTTP_MAX_HEAD, &r, err, sizeof err),
			 strlen(upgrade));
	SPAN_EQ(r.method, r.methodlen, "GET");
	SPAN_EQ(r.target, r.targetlen, "/tunnel?port=22&host=db.internal");
	ck_assert_int_eq(r.minor_version, 1);
	ck_assert_int_eq(r.has_body, 0);
	ck_assert_uint_eq(r.headers.n, 6);
	h = &r.headers.v[0];
	SPAN_EQ(h->name, h->namelen, "Host");
	SPAN_EQ(h->value, h->valuelen, "gw.example.com");
	h = &r.headers.v[5];
	SPAN_EQ(h->name, h->namelen, "X-Padded");
	SPAN_EQ(h->value, h->valuelen, "padded  value");
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(request_http10_and_empty_value)
{
	static const char req[] = "CONNECT db:5432 HTTP/1.0\r\nX-Empty:\r\n"
				  "X-Blank: \t \r\n\r\n";
	struct http_request r;
	char err[256];

	ck_assert_int_eq(http_parse_request(req, strlen(req), HTTP_MAX_HEAD,
					    &r, err, sizeof err), strlen(req));
	SPAN_EQ(r.method, r.methodlen, "CONNECT");
	SPAN_EQ(r.target, r.targetlen, "db:5432");
	ck_assert_int_eq(r.minor_version, 0);
	ck_assert_uint_eq(r.headers.n, 2);
	SPAN_EQ(r.headers.v[0].value, r.headers.v[0].valuelen, "");
	SPAN_EQ(r.headers.v[1].value, r.headers.v[1].valuelen, "");
}
END_TEST

/* However the request is cut, the parser asks for more until the blank
 * line is in. */
START_TEST(request_every_prefix)
{
	size_t n = strlen(upgrade), len;
	struct http_request r;
	char err[256];
	char *buf = malloc(n);

	ck_assert(buf);
	for (len = 0; len < n; len++) {
		/* an exact-size copy lets ASan see any read past @len */
		char *cut = malloc(len ? len : 1);

		ck_assert(cut);
		memcpy(cut, upgrade, len);
		ck_assert_msg(http_parse_request(cut, len, HTTP_MAX_HEAD, &r,
						 err, sizeof err) ==
			      HTTP_INCOMPLETE,
			      "prefix of %zu bytes: not incomplete (%s)",
			      len, err);
		free(cut);
	}
	memcpy(buf, upgrade, n);
	ck_assert_int_eq(http_parse_request(buf, n, HTTP_MAX_HEAD, &r,
					    err, sizeof err), n);
	free(buf);
}
END_TEST

/* Bytes behind the head belong to the tunnel: never counted in. */
START_TEST(request_pipelined)
{
	char buf[1024];
	size_t n = strlen(upgrade);
	struct http_request r;
	char err[256];

	memcpy(buf, upgrade, n);
	memcpy(buf + n, "\x82\x05hello", 7);
	ck_assert_int_eq(http_parse_request(buf, n + 7, HTTP_MAX_HEAD, &r,
					    err, sizeof err), n);
	memcpy(buf + n, upgrade, n);
	ck_assert_int_eq(http_parse_request(buf, 2 * n, HTTP_MAX_HEAD, &r,
					    err, sizeof err), n);
	/* a partial second head does not matter either */
	ck_assert_int_eq(http_parse_request(buf, n + 3, HTTP_MAX_HEAD, &r,
					    err, sizeof err), n);
}
END_TEST

/** @brief A request head of exactly @size bytes, padded in one field. */
static char *big_request(size_t size)
{
	static const char start[] = "GET / HTTP/1.1\r\nX-Pad: ";
	char *buf = malloc(size + 1);
	size_t pad = size - strlen(start) - 4;

	ck_assert(buf);
	memcpy(buf, start, strlen(start));
	memset(buf + strlen(start), 'a', pad);
	memcpy(buf + strlen(start) + pad, "\r\n\r\n", 5);
	ck_assert_uint_eq(strlen(buf), size);
	return buf;
}

START_TEST(request_limit)
{
	struct http_request r;
	char err[256];
	char *at = big_request(HTTP_MAX_HEAD);
	char *over = big_request(HTTP_MAX_HEAD + 1);

	ck_assert_int_eq(http_parse_request(at, HTTP_MAX_HEAD, HTTP_MAX_HEAD,
					    &r, err, sizeof err),
			 HTTP_MAX_HEAD);
	ck_assert_int_eq(http_parse_request(over, HTTP_MAX_HEAD + 1,
					    HTTP_MAX_HEAD, &r, err, sizeof err),
			 HTTP_TOO_LARGE);
	ck_assert_str_eq(err, "head over 8192 bytes, in header 2");
	ck_assert_int_eq(http_error_status(HTTP_TOO_LARGE), 431);

	/* no blank line yet: wait up to the limit, refuse one byte past */
	ck_assert_int_eq(http_parse_request(over, HTTP_MAX_HEAD, HTTP_MAX_HEAD,
					    &r, err, sizeof err),
			 HTTP_INCOMPLETE);
	ck_assert_int_eq(http_parse_request(over, HTTP_MAX_HEAD - 3,
					    HTTP_MAX_HEAD, &r, err, sizeof err),
			 HTTP_INCOMPLETE);
	ck_assert_int_eq(http_parse_request(over, HTTP_MAX_HEAD - 2,
					    HTTP_MAX_HEAD - 3, &r, err,
					    sizeof err), HTTP_TOO_LARGE);
	ck_assert_str_eq(err, "head over 8189 bytes, in header 1");

	/* the caller's limit, not the default, is the one that counts */
	ck_assert_int_eq(http_parse_request(upgrade, strlen(upgrade), 64, &r,
					    err, sizeof err), HTTP_TOO_LARGE);
	ck_assert_int_eq(http_parse_request(upgrade, strlen(upgrade),
					    strlen(upgrade), &r, err,
					    sizeof err), strlen(upgrade));
	free(at);
	free(over);
}
END_TEST

START_TEST(request_too_many_headers)
{
	char buf[4096];
	size_t n, i;
	struct http_request r;
	char err[256] = "";

	n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		n += snprintf(buf + n, sizeof buf - n, "X-%zu: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	ck_assert_int_eq(http_parse_request(buf, n + 2, HTTP_MAX_HEAD, &r,
					    err, sizeof err), n + 2);
	ck_assert_uint_eq(r.headers.n, HTTP_MAX_HEADERS);
	SPAN_EQ(r.headers.v[63].name, r.headers.v[63].namelen, "X-63");

	n += snprintf(buf + n, sizeof buf - n, "X-64: v\r\n\r\n");
	ck_assert_int_eq(http_parse_request(buf, n, HTTP_MAX_HEAD, &r,
					    err, sizeof err), HTTP_TOO_LARGE);
	ck_assert_str_eq(err, "header 65: more than 64 header fields");
}
END_TEST

START_TEST(request_bad_fields)
{
	REQ_ERR("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", HTTP_BAD,
		"header 2: starts with whitespace (obs-fold)");
	REQ_ERR("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", HTTP_BAD,
		"header 1: starts with whitespace (obs-fold)");
	REQ_ERR("GET / HTTP/1.1\r\n: v\r\n\r\n", HTTP_BAD,
		"header 1: empty name");
	REQ_ERR("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP_BAD,
		"header 1: whitespace before colon");
	REQ_ERR("GET / HTTP/1.1\r\nA: 1\r\nHost\t: a\r\n\r\n", HTTP_BAD,
		"header 2: whitespace before colon");
	REQ_ERR("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nHost a\r\n\r\n", HTTP_BAD,
		"header 3: no colon");
	REQ_ERR("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", HTTP_BAD,
		"header 1: bad character in name \"Ho(st\"");
	REQ_ERR("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", HTTP_BAD,
		"header 1: bad character in name \"Ho st\"");
	REQ_ERR("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", HTTP_BAD,
		"header 1: control character 0x01");
	REQ_ERR("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", HTTP_BAD,
		"header 1: control character 0x7f");
	REQ_ERR("GET / HTTP/1.1\r\nA: 1\r\nX: a\0z\r\n\r\n", HTTP_BAD,
		"header 2: control character 0x00");
	REQ_ERR("GET / HTTP/1.1\r\nX\x1b: a\r\n\r\n", HTTP_BAD,
		"header 1: control character 0x1b");
	REQ_ERR("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", HTTP_BAD,
		"header 1: Content-Length \"abc\" is not a number");
	REQ_ERR("GET / HTTP/1.1\r\nA: 1\r\nContent-Length: 1, 1\r\n\r\n",
		HTTP_BAD, "header 2: Content-Length \"1, 1\" is not a number");
	REQ_ERR("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_BAD,
		"header 1: Content-Length \"-1\" is not a number");
	REQ_ERR("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_BAD,
		"header 1: Content-Length \"\" is not a number");
}
END_TEST

START_TEST(request_bad_line)
{
	REQ_ERR("G@T / HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: method is not a token");
	REQ_ERR("GET\t/ HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: method is not a token");
	REQ_ERR(" GET / HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: method is not a token");
	REQ_ERR("\r\nGET / HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: empty");
	REQ_ERR("GET\r\n\r\n", HTTP_BAD, "request line: no target");
	REQ_ERR("GET  / HTTP/1.1\r\n\r\n", HTTP_BAD, "request line: no target");
	REQ_ERR("GET /\r\n\r\n", HTTP_BAD, "request line: no HTTP version");
	REQ_ERR("GET / \r\n\r\n", HTTP_BAD, "request line: no HTTP version");
	REQ_ERR("GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: control character 0x01");
	REQ_ERR("GET /a\tb HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: bad character in target");
	REQ_ERR("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_BAD,
		"request line: bad character in target");
	REQ_ERR("GET / HTTP/1.1 \r\n\r\n", HTTP_BAD,
		"request line: bad HTTP version \"HTTP/1.1 \"");
	REQ_ERR("GET / http/1.1\r\n\r\n", HTTP_BAD,
		"request line: bad HTTP version \"http/1.1\"");
	REQ_ERR("GET / HTTP/11\r\n\r\n", HTTP_BAD,
		"request line: bad HTTP version \"HTTP/11\"");
	REQ_ERR("GET / HTTP/2.0\r\n\r\n", HTTP_BAD_VERSION,
		"request line: HTTP/2.0 is not supported");
	REQ_ERR("GET / HTTP/1.2\r\n\r\n", HTTP_BAD_VERSION,
		"request line: HTTP/1.2 is not supported");
	REQ_ERR("GET / HTTP/0.9\r\n\r\n", HTTP_BAD_VERSION,
		"request line: HTTP/0.9 is not supported");
}
END_TEST

/* CRLF and nothing else ends a line: a lone CR or LF is refused. */
START_TEST(request_bad_line_ends)
{
	REQ_ERR("GET / HTTP/1.1\nHost: a\r\n\r\n", HTTP_BAD,
		"request line: LF without CR");
	REQ_ERR("GET / HTTP/1.1\r\nHost: a\n\r\n", HTTP_BAD,
		"header 1: LF without CR");
	REQ_ERR("GET / HTTP/1.1\r\nHost: a\r\n\n", HTTP_BAD,
		"header 2: LF without CR");
	REQ_ERR("GET / HTTP/1.1\rHost: a\r\n\r\n", HTTP_BAD,
		"request line: CR without LF");
	REQ_ERR("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", HTTP_BAD,
		"header 2: CR without LF");
}
END_TEST

/* A bad line is refused once its CRLF is in, not at the size limit. */
START_TEST(request_bad_before_end)
{
	REQ_ERR("GET / HTTP/1.1\r\nHost a\r\n", HTTP_BAD, "header 1: no colon");
	REQ_ERR("GET / HTTP/3.0\r\n", HTTP_BAD_VERSION,
		"request line: HTTP/3.0 is not supported");
	/* a TLS ClientHello where the request should be */
	REQ_ERR("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HTTP_BAD,
		"request line: control character 0x16");
	REQ_ERR("GET / HTTP/1.1\r\nHost: a\x01", HTTP_BAD,
		"header 1: control character 0x01");
}
END_TEST

START_TEST(request_body_flag)
{
	static const struct {
		const char *req;
		int has_body;
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\ncontent-length: 000\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nContent-Length: 0010\r\n\r\n", 1 },
		{ "CONNECT a:1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nTRANSFER-ENCODING: x\r\n"
		  "Content-Length: 0\r\n\r\n", 1 },
	};
	struct http_request r;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		ck_assert_int_eq(http_parse_request(t[i].req, strlen(t[i].req),
						    HTTP_MAX_HEAD, &r, err,
						    sizeof err),
				 strlen(t[i].req));
		ck_assert_msg(r.has_body == t[i].has_body, "%s: has_body %d",
			      t[i].req, r.has_body);
	}
}
END_TEST

START_TEST(error_status)
{
	ck_assert_int_eq(http_error_status(HTTP_BAD), 400);
	ck_assert_int_eq(http_error_status(HTTP_TOO_LARGE), 431);
	ck_assert_int_eq(http_error_status(HTTP_BAD_VERSION), 505);
	ck_assert_int_eq(http_error_status(HTTP_INCOMPLETE), 500);
	ck_assert_int_eq(http_error_status(0), 500);
}
END_TEST

START_TEST(header_lookup)
{
	static const char req[] =
		"GET / HTTP/1.1\r\n"
		"Host: a\r\n"
		"Connection: keep-alive , ,Upgrade,\r\n"
		"connection: x-other\r\n"
		"Upgrade: websockets\r\n"
		"\r\n";
	struct http_request r;
	char err[256];
	const struct http_header *h;

	ck_assert_int_eq(http_parse_request(req, strlen(req), HTTP_MAX_HEAD,
					    &r, err, sizeof err), strlen(req));
	h = http_find_header(&r.headers, "HOST");
	ck_assert_ptr_eq(h, &r.headers.v[0]);
	ck_assert_ptr_eq(http_find_header(&r.headers, "connection"),
			 &r.headers.v[1]);
	ck_assert_ptr_null(http_find_header(&r.headers, "Hos"));
	ck_assert_ptr_null(http_find_header(&r.headers, "Hostname"));

	ck_assert_int_eq(http_header_has_token(&r.headers, "Connection",
					       "upgrade"), 1);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Connection",
					       "KEEP-ALIVE"), 1);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Connection",
					       "x-other"), 1);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Connection",
					       "close"), 0);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Connection",
					       "Upgra"), 0);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Upgrade",
					       "websocket"), 0);
	ck_assert_int_eq(http_header_has_token(&r.headers, "Host",
					       "upgrade"), 0);
}
END_TEST

START_TEST(authority_good)
{
	static const char l63[] =
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char name[320], want[300];

	AUTH_OK("example.com:443", "example.com", 443);
	AUTH_OK("Db-1.Example.COM:1", "db-1.example.com", 1);
	AUTH_OK("localhost:65535", "localhost", 65535);
	AUTH_OK("10.0.0.7:5432", "10.0.0.7", 5432);
	AUTH_OK("[::1]:22", "::1", 22);
	AUTH_OK("[2001:DB8::17]:50443", "2001:db8::17", 50443);
	AUTH_OK("[::ffff:192.0.2.1]:8080", "::ffff:192.0.2.1", 8080);
	AUTH_OK("1e100.net:80", "1e100.net", 80);

	snprintf(name, sizeof name, "%s.b:80", l63);
	snprintf(want, sizeof want, "%s.b", l63);
	AUTH_OK(name, want, 80);
	/* 253 characters: four labels of 63 and a dot each, less two */
	snprintf(want, sizeof want, "%s.%s.%s.%.61s", l63, l63, l63, l63);
	ck_assert_uint_eq(strlen(want), 253);
	snprintf(name, sizeof name, "%s:9", want);
	AUTH_OK(name, want, 9);
}
END_TEST

START_TEST(authority_bad_port)
{
	AUTH_ERR("host:0", "port must be a number from 1 to 65535, got \"0\"");
	AUTH_ERR("host:65536",
		 "port must be a number from 1 to 65535, got \"65536\"");
	AUTH_ERR("host:", "port must be a number from 1 to 65535, got \"\"");
	AUTH_ERR("host:80x", "port must be a number from 1 to 65535, got \"80x\"");
	AUTH_ERR("host:+80", "port must be a number from 1 to 65535, got \"+80\"");
	AUTH_ERR("host: 80", "port must be a number from 1 to 65535, got \" 80\"");
	AUTH_ERR("host:-1", "port must be a number from 1 to 65535, got \"-1\"");
	AUTH_ERR("host:https",
		 "port must be a number from 1 to 65535, got \"https\"");
	AUTH_ERR("host:000080",
		 "port must be a number from 1 to 65535, got \"000080\"");
	AUTH_ERR("host:4294967377",
		 "port must be a number from 1 to 65535, got \"4294967377\"");
	AUTH_ERR("[::1]:0", "port must be a number from 1 to 65535, got \"0\"");
	AUTH_ERR("[::1]:", "port must be a number from 1 to 65535, got \"\"");
}
END_TEST

START_TEST(authority_bad_form)
{
	AUTH_ERR("", "expected \"host:port\", got \"\"");
	AUTH_ERR("host", "expected \"host:port\", got \"host\"");
	AUTH_ERR("[::1]", "expected \"[ipv6]:port\", got \"[::1]\"");
	AUTH_ERR("[::1]443", "expected \"[ipv6]:port\", got \"[::1]443\"");
	AUTH_ERR("[::1:443", "expected \"[ipv6]:port\", got \"[::1:443\"");
	AUTH_ERR("::1:443",
		 "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"::1:443\"");
	AUTH_ERR(":443", "missing host");
	AUTH_ERR("[]:443", "missing host");
	AUTH_ERR("[fe80::1%eth0]:22", "\"fe80::1%eth0\" is not an IPv6 address");
	AUTH_ERR("[1.2.3.4]:80", "\"1.2.3.4\" is not an IPv6 address");
	AUTH_ERR("[example.com]:80", "\"example.com\" is not an IPv6 address");
	AUTH_ERR("user@host:80", "bad character in host name \"user@host\"");
	AUTH_ERR("exa_mple.com:80", "bad character in host name \"exa_mple.com\"");
	AUTH_ERR("ho\nst:80", "bad character in host name \"ho?st\"");
	AUTH_ERR("-a.com:80",
		 "host name \"-a.com\" has a label starting or ending with '-'");
	AUTH_ERR("a-.com:80",
		 "host name \"a-.com\" has a label starting or ending with '-'");
	AUTH_ERR("a.com-:80",
		 "host name \"a.com-\" has a label starting or ending with '-'");
	AUTH_ERR("a..b:80", "host name \"a..b\" has an empty label");
	AUTH_ERR(".a:80", "host name \".a\" has an empty label");
	AUTH_ERR("example.com.:80", "host name \"example.com.\" has an empty label");
}
END_TEST

/* What the resolver would read as an address must be written as one. */
START_TEST(authority_numeric_hosts)
{
	AUTH_ERR("127.1:80", "\"127.1\" is not a dotted-quad IPv4 address");
	AUTH_ERR("0x7f000001:80",
		 "\"0x7f000001\" is not a dotted-quad IPv4 address");
	AUTH_ERR("2130706433:80",
		 "\"2130706433\" is not a dotted-quad IPv4 address");
	AUTH_ERR("0177.0.0.1:80",
		 "\"0177.0.0.1\" is not a dotted-quad IPv4 address");
	AUTH_ERR("01.2.3.4:80", "\"01.2.3.4\" is not a dotted-quad IPv4 address");
	AUTH_ERR("256.1.1.1:80", "\"256.1.1.1\" is not a dotted-quad IPv4 address");
	AUTH_ERR("1.2.3.4.5:80", "\"1.2.3.4.5\" is not a dotted-quad IPv4 address");
}
END_TEST

START_TEST(authority_lengths)
{
	char name[400], label[80], host[16], err[256];
	unsigned port;

	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(name, sizeof name, "%s.com:80", label);
	ck_assert_int_eq(http_parse_authority(name, strlen(name), host,
					      sizeof host, &port, err,
					      sizeof err), -1);
	ck_assert_str_eq(err, "host name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" has a label over 63 characters");

	label[63] = '\0';
	snprintf(name, sizeof name, "%s.%s.%s.%.62s:80", label, label, label,
		 label);
	ck_assert_int_eq(http_parse_authority(name, strlen(name), host,
					      sizeof host, &port, err,
					      sizeof err), -1);
	ck_assert_msg(strstr(err, "\" is longer than 253 characters"), "%s", err);

	ck_assert_int_eq(http_parse_authority("abcdefghijklmnop:1", 18, host,
					      sizeof host, &port, err,
					      sizeof err), -1);
	ck_assert_str_eq(err, "host \"abcdefghijklmnop\" does not fit in 16 bytes");
	ck_assert_int_eq(http_parse_authority("abcdefghijklmno:1", 17, host,
					      sizeof host, &port, err,
					      sizeof err), 0);
	ck_assert_str_eq(host, "abcdefghijklmno");
}
END_TEST

/* The parts of a WebSocket target arrive separately, brackets optional. */
START_TEST(host_and_port)
{
	char host[HTTP_HOST_MAX], err[256];
	unsigned port = 0;

	ck_assert_int_eq(http_parse_host("::1", 3, host, sizeof host, err,
					 sizeof err), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(http_parse_host("[FE80::1]", 9, host, sizeof host,
					 err, sizeof err), 0);
	ck_assert_str_eq(host, "fe80::1");
	ck_assert_int_eq(http_parse_host("[::1", 4, host, sizeof host, err,
					 sizeof err), -1);
	ck_assert_str_eq(err, "expected \"[ipv6]\", got \"[::1\"");
	ck_assert_int_eq(http_parse_host("a\0b", 3, host, sizeof host, err,
					 sizeof err), -1);
	ck_assert_str_eq(err, "bad character in host name \"a?b\"");
	ck_assert_int_eq(http_parse_host("::1\0x", 5, host, sizeof host, err,
					 sizeof err), -1);
	ck_assert_str_eq(err, "\"::1?x\" is not an IPv6 address");

	ck_assert_int_eq(http_parse_port("00080", 5, &port, err, sizeof err), 0);
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(http_parse_port("65535", 5, &port, err, sizeof err), 0);
	ck_assert_uint_eq(port, 65535);
	/* only @len counts: "443" cut to "44" */
	ck_assert_int_eq(http_parse_port("443", 2, &port, err, sizeof err), 0);
	ck_assert_uint_eq(port, 44);
}
END_TEST

START_TEST(target_split)
{
	const char *path, *query;
	size_t pathlen, querylen;

	ck_assert_int_eq(http_split_target("/tunnel?port=22&host=db", 23,
					   &path, &pathlen, &query,
					   &querylen), 0);
	SPAN_EQ(path, pathlen, "/tunnel");
	SPAN_EQ(query, querylen, "port=22&host=db");
	ck_assert_int_eq(http_split_target("/tunnel", 7, &path, &pathlen,
					   &query, &querylen), 0);
	SPAN_EQ(path, pathlen, "/tunnel");
	ck_assert_ptr_null(query);
	ck_assert_uint_eq(querylen, 0);
	ck_assert_int_eq(http_split_target("/?", 2, &path, &pathlen, &query,
					   &querylen), 0);
	SPAN_EQ(path, pathlen, "/");
	ck_assert_ptr_nonnull(query);
	ck_assert_uint_eq(querylen, 0);
	ck_assert_int_eq(http_split_target("/a?b?c", 6, &path, &pathlen,
					   &query, &querylen), 0);
	SPAN_EQ(query, querylen, "b?c");

	ck_assert_int_eq(http_split_target("", 0, &path, &pathlen, &query,
					   &querylen), -1);
	ck_assert_int_eq(http_split_target("tunnel", 6, &path, &pathlen,
					   &query, &querylen), -1);
	ck_assert_int_eq(http_split_target("http://a/b", 10, &path, &pathlen,
					   &query, &querylen), -1);
	ck_assert_int_eq(http_split_target("/a#b", 4, &path, &pathlen, &query,
					   &querylen), -1);
	ck_assert_int_eq(http_split_target("/a b", 4, &path, &pathlen, &query,
					   &querylen), -1);
	ck_assert_int_eq(http_split_target("/\xff", 2, &path, &pathlen, &query,
					   &querylen), -1);
}
END_TEST

START_TEST(query_order)
{
	QUERY("port=22&host=db.internal", "port", 1, "22");
	QUERY("port=22&host=db.internal", "host", 1, "db.internal");
	QUERY("host=db.internal&port=22", "port", 1, "22");
	QUERY("host=db.internal&port=22", "host", 1, "db.internal");
	QUERY("a=1&host=h&b=2&port=3&c", "port", 1, "3");
	QUERY("port=22&host=db", "user", 0, "(untouched)");
	QUERY("port=22&host=db", "hos", 0, "(untouched)");
	QUERY("port=22&hostx=db", "host", 0, "(untouched)");
	QUERY("&&port=5&", "port", 1, "5");
	QUERY("port", "port", 1, "");
	QUERY("port=", "port", 1, "");
	QUERY("x=a=b", "x", 1, "a=b");
	ck_assert_int_eq(http_query_get(NULL, 0, "port", NULL, 0), 0);
}
END_TEST

START_TEST(query_decoding)
{
	char v[6];

	QUERY("host=db%2Dmain%2einternal", "host", 1, "db-main.internal");
	QUERY("msg=a+b%20c%2B", "msg", 1, "a b c+");
	QUERY("%68ost=x&port=1", "host", 1, "x");
	QUERY("h+o=x", "h o", 1, "x");
	QUERY("host=%C3%A9", "host", 1, "\xc3\xa9");

	QUERY_BAD("host=a%00b", "host");
	QUERY_BAD("host=a%4", "host");
	QUERY_BAD("host=a%", "host");
	QUERY_BAD("host=a%zz", "host");
	QUERY_BAD("host=a%4g", "host");
	QUERY_BAD("%0=1&host=a", "host");
	QUERY_BAD("host=a\x01", "host");
	QUERY_BAD("host=a\xc3\xa9", "host");
	/* a fault anywhere spoils the query, whichever key is asked for */
	QUERY_BAD("port=1&x=%zz", "port");
	QUERY_BAD("x=%zz&port=1", "port");
	/* two answers to one question: which would the access list see? */
	QUERY_BAD("port=1&port=2", "port");
	QUERY_BAD("port=1&%70ort=2", "port");

	ck_assert_int_eq(http_query_get("p=12345", 7, "p", v, sizeof v), 1);
	ck_assert_str_eq(v, "12345");
	ck_assert_int_eq(http_query_get("p=123456", 8, "p", v, sizeof v), -1);
	ck_assert_int_eq(http_query_get("p=1 2", 5, "p", v, sizeof v), -1);
	/* only @qlen counts */
	ck_assert_int_eq(http_query_get("p=1&q=2", 3, "q", v, sizeof v), 0);
}
END_TEST

START_TEST(response_parse)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct http_response r;
	char err[256] = "";
	const struct http_header *h;

	ck_assert_int_eq(http_parse_response(ok, strlen(ok), HTTP_MAX_HEAD, &r,
					     err, sizeof err), strlen(ok));
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.minor_version, 1);
	SPAN_EQ(r.reason, r.reasonlen, "Connection established");
	ck_assert_uint_eq(r.headers.n, 0);

	ck_assert_int_eq(http_parse_response(proxy_407, strlen(proxy_407),
					     HTTP_MAX_HEAD, &r, err,
					     sizeof err), strlen(proxy_407));
	ck_assert_int_eq(r.status, 407);
	ck_assert_int_eq(r.minor_version, 0);
	SPAN_EQ(r.reason, r.reasonlen, "Proxy Authentication Required");
	h = http_find_header(&r.headers, "proxy-authenticate");
	ck_assert_ptr_nonnull(h);
	SPAN_EQ(h->value, h->valuelen, "Basic realm=\"corp proxy\"");

	ck_assert_int_eq(http_parse_response("HTTP/1.1 204\r\n\r\n", 16,
					     HTTP_MAX_HEAD, &r, err,
					     sizeof err), 16);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.reasonlen, 0);
	ck_assert_int_eq(http_parse_response("HTTP/1.1 502 \r\n\r\n", 17,
					     HTTP_MAX_HEAD, &r, err,
					     sizeof err), 17);
	ck_assert_int_eq(r.status, 502);
	ck_assert_uint_eq(r.reasonlen, 0);
}
END_TEST

/* The proxy's answer may arrive in pieces, and the tunnel right behind. */
START_TEST(response_partial_and_pipelined)
{
	char buf[256];
	size_t n = strlen(proxy_407), len;
	struct http_response r;
	char err[256];

	for (len = 0; len < n; len++)
		ck_assert_msg(http_parse_response(proxy_407, len, HTTP_MAX_HEAD,
						  &r, err, sizeof err) ==
			      HTTP_INCOMPLETE, "prefix of %zu bytes", len);
	memcpy(buf, proxy_407, n);
	memcpy(buf + n, "\x16\x03\x01", 3);
	ck_assert_int_eq(http_parse_response(buf, n + 3, HTTP_MAX_HEAD, &r,
					     err, sizeof err), n);
	ck_assert_int_eq(http_parse_response(proxy_407, n, 40, &r, err,
					     sizeof err), HTTP_TOO_LARGE);
	ck_assert_str_eq(err, "head over 40 bytes, in status line");
	ck_assert_int_eq(http_parse_response(proxy_407, n, 50, &r, err,
					     sizeof err), HTTP_TOO_LARGE);
	ck_assert_str_eq(err, "head over 50 bytes, in header 1");
}
END_TEST

START_TEST(response_malformed)
{
	RESP_ERR("HTTP/1.1 20 OK\r\n\r\n", HTTP_BAD,
		 "status line: bad status code \"20 OK\"");
	RESP_ERR("HTTP/1.1 2000 OK\r\n\r\n", HTTP_BAD,
		 "status line: bad status code \"2000 OK\"");
	RESP_ERR("HTTP/1.1 600 Odd\r\n\r\n", HTTP_BAD,
		 "status line: bad status code \"600 Odd\"");
	RESP_ERR("HTTP/1.1 099 Odd\r\n\r\n", HTTP_BAD,
		 "status line: bad status code \"099 Odd\"");
	RESP_ERR("HTTP/1.1  200 OK\r\n\r\n", HTTP_BAD,
		 "status line: bad status code \" 200 OK\"");
	RESP_ERR("HTTP/1.1\r\n\r\n", HTTP_BAD, "status line: no status code");
	RESP_ERR("HTTP/2 200 OK\r\n\r\n", HTTP_BAD,
		 "status line: bad HTTP version \"HTTP/2\"");
	RESP_ERR("ICY 200 OK\r\n\r\n", HTTP_BAD,
		 "status line: bad HTTP version \"ICY\"");
	RESP_ERR("HTTP/2.0 200 OK\r\n\r\n", HTTP_BAD_VERSION,
		 "status line: HTTP/2.0 is not supported");
	RESP_ERR("HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_BAD,
		 "status line: control character 0x01");
	RESP_ERR("HTTP/1.1 200 OK\r\nVia 1.1 proxy\r\n\r\n", HTTP_BAD,
		 "header 1: no colon");
	RESP_ERR("HTTP/1.1 200 OK\n\n", HTTP_BAD, "status line: LF without CR");
	RESP_ERR("\r\n", HTTP_BAD, "status line: no HTTP version");
}
END_TEST

START_TEST(ws_accept_sample)
{
	char out[HTTP_WS_ACCEPT_LEN + 1];
	char big[65];

	ck_assert_int_eq(http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* only @keylen counts */
	ck_assert_int_eq(http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==xyz", 24,
					out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	memset(big, 'A', sizeof big);
	ck_assert_int_eq(http_ws_accept(big, 64, out), 0);
	ck_assert_int_eq(http_ws_accept(big, 65, out), -1);
}
END_TEST

START_TEST(ws_key)
{
	ck_assert(http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
	ck_assert(http_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
	ck_assert(http_ws_key_valid("/+9wAAAAAAAAAAAAAAAAAw==", 24));
	/* the last digit's low 4 bits would be a 17th byte */
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24));
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 23));
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ===", 25));
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24));
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25j-Q==", 24));
	ck_assert(!http_ws_key_valid("dGhlIHNhbXBsZSBub25j Q==", 24));
	ck_assert(!http_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAA=", 24));
	ck_assert(!http_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAAAA", 24));
	ck_assert(!http_ws_key_valid("", 0));
}
END_TEST

START_TEST(ws_make_key)
{
	char a[HTTP_WS_KEY_LEN + 1], b[HTTP_WS_KEY_LEN + 1];

	ck_assert_int_eq(http_ws_make_key(a), 0);
	ck_assert_int_eq(http_ws_make_key(b), 0);
	ck_assert_uint_eq(strlen(a), HTTP_WS_KEY_LEN);
	ck_assert_msg(http_ws_key_valid(a, strlen(a)), "%s", a);
	ck_assert_msg(http_ws_key_valid(b, strlen(b)), "%s", b);
	ck_assert_str_ne(a, b);
}
END_TEST

/** @brief Parse "@line\r\n@fields\r\n" and check it as an upgrade;
 *  returns what http_ws_check_request said. */
static int ws_check(const char *line, const char *fields, char *err,
		    size_t errlen)
{
	struct http_request r;
	char buf[1024];
	char perr[256] = "";
	int n = snprintf(buf, sizeof buf, "%s\r\n%s\r\n", line, fields);

	ck_assert_int_lt(n, sizeof buf);
	ck_assert_msg(http_parse_request(buf, n, HTTP_MAX_HEAD, &r, perr,
					 sizeof perr) == n, "%s%s: %s", line,
		      fields, perr);
	err[0] = '\0';
	return http_ws_check_request(&r, err, errlen);
}

#define HOST "Host: gw\r\n"
#define UP "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

#define WS(line, fields, want_rc, want_err) do { \
		char e_[256]; \
		ck_assert_int_eq(ws_check((line), (fields), e_, sizeof e_), \
				 (want_rc)); \
		ck_assert_str_eq(e_, (want_err)); \
	} while (0)

START_TEST(ws_check_request)
{
	static const char get[] = "GET /tunnel HTTP/1.1";

	WS(get, HOST UP CONN VER KEY, 0, "");
	WS(get, "host: gw\r\nupgrade: WebSocket\r\n"
	   "connection: keep-alive, upgrade\r\n" VER KEY, 0, "");
	WS("POST /tunnel HTTP/1.1", HOST UP CONN VER KEY,
	   400, "WebSocket upgrade: method POST, expected GET");
	WS("get /tunnel HTTP/1.1", HOST UP CONN VER KEY,
	   400, "WebSocket upgrade: method get, expected GET");
	WS("GET /tunnel HTTP/1.0", HOST UP CONN VER KEY,
	   400, "WebSocket upgrade: needs HTTP/1.1");
	WS(get, UP CONN VER KEY, 400,
	   "WebSocket upgrade: needs exactly one Host header");
	WS(get, HOST HOST UP CONN VER KEY, 400,
	   "WebSocket upgrade: needs exactly one Host header");
	WS(get, HOST CONN VER KEY, 400,
	   "WebSocket upgrade: no \"Upgrade: websocket\"");
	WS(get, HOST "Upgrade: h2c\r\n" CONN VER KEY, 400,
	   "WebSocket upgrade: no \"Upgrade: websocket\"");
	WS(get, HOST UP "Connection: keep-alive\r\n" VER KEY,
	   400, "WebSocket upgrade: Connection does not list upgrade");
	WS(get, HOST UP CONN KEY, 400,
	   "WebSocket upgrade: needs exactly one Sec-WebSocket-Version");
	WS(get, HOST UP CONN "Sec-WebSocket-Version: 8\r\n" KEY, 426,
	   "WebSocket upgrade: Sec-WebSocket-Version \"8\" is not supported, only 13");
	WS(get, HOST UP CONN VER VER KEY, 400,
	   "WebSocket upgrade: needs exactly one Sec-WebSocket-Version");
	WS(get, HOST UP CONN VER, 400,
	   "WebSocket upgrade: needs exactly one Sec-WebSocket-Key");
	WS(get, HOST UP CONN VER KEY KEY, 400,
	   "WebSocket upgrade: needs exactly one Sec-WebSocket-Key");
	WS(get, HOST UP CONN VER "Sec-WebSocket-Key: abc\r\n",
	   400, "WebSocket upgrade: Sec-WebSocket-Key \"abc\" is not base64 of 16 bytes");
	WS(get, HOST UP CONN VER KEY "Content-Length: 5\r\n",
	   400, "WebSocket upgrade: the request has a body");
	WS(get, HOST UP CONN VER KEY "Content-Length: 0\r\n",
	   0, "");
}
END_TEST

/** @brief Parse @head as a response and check it as the answer to the
 *  RFC 6455 sample key. */
static int ws_answer(const char *head, char *err, size_t errlen)
{
	struct http_response r;
	char perr[256] = "";

	ck_assert_msg(http_parse_response(head, strlen(head), HTTP_MAX_HEAD,
					  &r, perr, sizeof perr) ==
		      (int)strlen(head), "%s: %s", head, perr);
	err[0] = '\0';
	return http_ws_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", err,
				      errlen);
}

#define ACCEPT "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
#define WS_101 "HTTP/1.1 101 Switching Protocols\r\n"

START_TEST(ws_check_response)
{
	char err[256];

	ck_assert_int_eq(ws_answer(WS_101 UP CONN ACCEPT "\r\n", err,
				   sizeof err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(ws_answer("HTTP/1.1 403 Forbidden\r\n\r\n", err,
				   sizeof err), -1);
	ck_assert_str_eq(err, "WebSocket upgrade refused: 403 Forbidden");
	ck_assert_int_eq(ws_answer(WS_101 CONN ACCEPT "\r\n", err, sizeof err),
			 -1);
	ck_assert_str_eq(err, "WebSocket upgrade: 101 without \"Upgrade: websocket\"");
	ck_assert_int_eq(ws_answer(WS_101 UP ACCEPT "\r\n", err, sizeof err),
			 -1);
	ck_assert_str_eq(err,
			 "WebSocket upgrade: 101 whose Connection does not list upgrade");
	ck_assert_int_eq(ws_answer(WS_101 UP CONN "\r\n", err, sizeof err), -1);
	ck_assert_str_eq(err, "WebSocket upgrade: Sec-WebSocket-Accept \"\" does "
			 "not match the key (expected s3pPLMBiTxaQ9kYGzzhZRbK+xOo=)");
	ck_assert_int_eq(ws_answer(WS_101 UP CONN
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n"
				   "\r\n", err, sizeof err), -1);
	ck_assert_str_eq(err, "WebSocket upgrade: Sec-WebSocket-Accept "
			 "\"s3pPLMBiTxaQ9kYGzzhZRbK+xOo\" does not match the key "
			 "(expected s3pPLMBiTxaQ9kYGzzhZRbK+xOo=)");
	ck_assert_int_eq(ws_answer(WS_101 UP CONN ACCEPT
				   "Sec-WebSocket-Extensions: permessage-deflate\r\n"
				   "\r\n", err, sizeof err), -1);
	ck_assert_str_eq(err, "WebSocket upgrade: the server chose an extension "
			 "that was never offered");
	ck_assert_int_eq(ws_answer(WS_101 UP CONN ACCEPT
				   "Sec-WebSocket-Protocol: chat\r\n\r\n", err,
				   sizeof err), -1);
	ck_assert_str_eq(err, "WebSocket upgrade: the server chose a subprotocol "
			 "that was never offered");
}
END_TEST

START_TEST(reasons)
{
	static const int sent[] = {
		101, 200, 400, 403, 404, 405, 407, 408, 426, 431, 500, 502,
		503, 504, 505,
	};
	size_t i;

	for (i = 0; i < sizeof sent / sizeof sent[0]; i++)
		ck_assert_msg(http_reason(sent[i]), "no reason for %d", sent[i]);
	ck_assert_str_eq(http_reason(200), "OK");
	ck_assert_str_eq(http_reason(407), "Proxy Authentication Required");
	ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	ck_assert_ptr_null(http_reason(418));
	ck_assert_ptr_null(http_reason(0));
}
END_TEST

START_TEST(format_response_bytes)
{
	static const char forbidden[] =
		"HTTP/1.1 403 Forbidden\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Length: 24\r\n"
		"Connection: close\r\n"
		"X-Reason: acl\r\n"
		"\r\n"
		"db:5432 is not allowed\r\n";
	static const char switching[] =
		"HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\n"
		"\r\n";
	static const char empty[] =
		"HTTP/1.1 400 Bad Request\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Length: 0\r\n"
		"Connection: close\r\n"
		"\r\n";
	char out[512];

	ck_assert_int_eq(http_format_response(out, sizeof out, 403,
					      "X-Reason: acl\r\n",
					      "db:5432 is not allowed\r\n"),
			 strlen(forbidden));
	ck_assert_str_eq(out, forbidden);
	ck_assert_int_eq(http_format_response(out, sizeof out, 101,
					      "Upgrade: websocket\r\n", NULL),
			 strlen(switching));
	ck_assert_str_eq(out, switching);
	ck_assert_int_eq(http_format_response(out, sizeof out, 400, NULL, NULL),
			 strlen(empty));
	ck_assert_str_eq(out, empty);
	ck_assert_int_eq(http_format_response(out, sizeof out, 101, NULL, "x"),
			 -1);
	ck_assert_int_eq(http_format_response(out, sizeof out, 418, NULL, NULL),
			 -1);
}
END_TEST

START_TEST(format_response_fits)
{
	char out[256];
	int n = http_format_response(out, sizeof out, 502, NULL, "no route\n");

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(http_format_response(out, n + 1, 502, NULL,
					      "no route\n"), n);
	ck_assert_uint_eq(strlen(out), n);
	ck_assert_int_eq(http_format_response(out, n, 502, NULL, "no route\n"),
			 -1);
	ck_assert_int_eq(http_format_response(NULL, 0, 502, NULL, "x"), -1);
	n = http_format_connect_ok(out, sizeof out, NULL);
	ck_assert_int_eq(http_format_connect_ok(out, n + 1, NULL), n);
	ck_assert_int_eq(http_format_connect_ok(out, n, NULL), -1);
	n = http_format_request(out, sizeof out, "CONNECT", "a:1", "a:1", NULL);
	ck_assert_int_eq(http_format_request(out, n + 1, "CONNECT", "a:1",
					     "a:1", NULL), n);
	ck_assert_int_eq(http_format_request(out, n, "CONNECT", "a:1", "a:1",
					     NULL), -1);
}
END_TEST

START_TEST(format_connect_and_request)
{
	char out[256];

	ck_assert_int_eq(http_format_connect_ok(out, sizeof out, NULL), 39);
	ck_assert_str_eq(out, "HTTP/1.1 200 Connection established\r\n\r\n");
	ck_assert_int_eq(http_format_connect_ok(out, sizeof out,
						"Via: 1.1 ssltunnel\r\n"), 59);
	ck_assert_str_eq(out, "HTTP/1.1 200 Connection established\r\n"
			 "Via: 1.1 ssltunnel\r\n\r\n");
	ck_assert_int_eq(http_format_request(out, sizeof out, "CONNECT",
					     "[::1]:443", "[::1]:443",
					     "Proxy-Connection: keep-alive\r\n"),
			 77);
	ck_assert_str_eq(out, "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
			 "Proxy-Connection: keep-alive\r\n\r\n");
}
END_TEST

/* What one side writes the other side reads back the same. */
START_TEST(format_then_parse)
{
	char out[512], err[256];
	struct http_response resp;
	struct http_request req;
	const struct http_header *h;
	int n;

	n = http_format_response(out, sizeof out, 407,
				 "Proxy-Authenticate: Basic realm=\"t\"\r\n",
				 "who are you?\n");
	ck_assert_int_eq(http_parse_response(out, n, HTTP_MAX_HEAD, &resp,
					     err, sizeof err), n - 13);
	ck_assert_int_eq(resp.status, 407);
	h = http_find_header(&resp.headers, "Content-Length");
	ck_assert_ptr_nonnull(h);
	SPAN_EQ(h->value, h->valuelen, "13");
	ck_assert(http_header_has_token(&resp.headers, "Connection", "close"));

	n = http_format_request(out, sizeof out, "GET", "/tunnel?port=22",
				"gw:443", UP CONN VER KEY);
	ck_assert_int_eq(http_parse_request(out, n, HTTP_MAX_HEAD, &req, err,
					    sizeof err), n);
	ck_assert_int_eq(http_ws_check_request(&req, err, sizeof err), 0);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *req = tcase_create("requests");
	TCase *target = tcase_create("targets");
	TCase *resp = tcase_create("responses");
	TCase *ws = tcase_create("websocket");
	TCase *fmt = tcase_create("writing");

	tcase_add_test(req, request_complete);
	tcase_add_test(req, request_http10_and_empty_value);
	tcase_add_test(req, request_every_prefix);
	tcase_add_test(req, request_pipelined);
	tcase_add_test(req, request_limit);
	tcase_add_test(req, request_too_many_headers);
	tcase_add_test(req, request_bad_fields);
	tcase_add_test(req, request_bad_line);
	tcase_add_test(req, request_bad_line_ends);
	tcase_add_test(req, request_bad_before_end);
	tcase_add_test(req, request_body_flag);
	tcase_add_test(req, error_status);
	tcase_add_test(req, header_lookup);
	suite_add_tcase(s, req);

	tcase_add_test(target, authority_good);
	tcase_add_test(target, authority_bad_port);
	tcase_add_test(target, authority_bad_form);
	tcase_add_test(target, authority_numeric_hosts);
	tcase_add_test(target, authority_lengths);
	tcase_add_test(target, host_and_port);
	tcase_add_test(target, target_split);
	tcase_add_test(target, query_order);
	tcase_add_test(target, query_decoding);
	suite_add_tcase(s, target);

	tcase_add_test(resp, response_parse);
	tcase_add_test(resp, response_partial_and_pipelined);
	tcase_add_test(resp, response_malformed);
	suite_add_tcase(s, resp);

	tcase_add_test(ws, ws_accept_sample);
	tcase_add_test(ws, ws_key);
	tcase_add_test(ws, ws_make_key);
	tcase_add_test(ws, ws_check_request);
	tcase_add_test(ws, ws_check_response);
	suite_add_tcase(s, ws);

	tcase_add_test(fmt, reasons);
	tcase_add_test(fmt, format_response_bytes);
	tcase_add_test(fmt, format_response_fits);
	tcase_add_test(fmt, format_connect_and_request);
	tcase_add_test(fmt, format_then_parse);
	suite_add_tcase(s, fmt);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(http_suite());
}
