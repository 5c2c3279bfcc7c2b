/* fuzz_http.c - libFuzzer entry point for the HTTP parsers
 *
 * Build (outputs outside the tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	daemon/http.c tests/fuzz/fuzz_http.c \
 *	$(pkg-config --cflags --libs gnutls) -o /tmp/fuzz_http
 *
 * Beyond "no crash, no read past the input", each call is held to what
 * http.h promises; a broken promise aborts so the fuzzer keeps the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** @brief Stop the run on a broken promise, keeping the input. */
#define fuzz_check(cond) do { if (!(cond)) abort(); } while (0)

/** @brief Error text goes into logs: NUL-terminated, printable, short. */
static void fuzz_check_err(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen), i;

	fuzz_check(n > 0 && n < errlen);
	for (i = 0; i < n; i++)
		fuzz_check(err[i] >= 0x20 && err[i] < 0x7f);
}

/** @brief Does the span @p/@n lie inside the @len bytes at @buf? */
static int fuzz_inside(const char *buf, size_t len, const char *p, size_t n)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

/** @brief Check a head's fields point into its @rc bytes, and that each
 *  is found by its name (the first of that name, that is). */
static void fuzz_check_headers(const char *buf, int rc,
			       const struct http_headers *h)
{
	const struct http_header *f;
	char name[HTTP_MAX_HEAD + 1];
	size_t i;

	fuzz_check(h->n <= HTTP_MAX_HEADERS);
	for (i = 0; i < h->n; i++) {
		fuzz_check(h->v[i].namelen > 0);
		fuzz_check(fuzz_inside(buf, rc, h->v[i].name, h->v[i].namelen));
		fuzz_check(fuzz_inside(buf, rc, h->v[i].value,
				       h->v[i].valuelen));
		fuzz_check(h->v[i].namelen < sizeof name);
		memcpy(name, h->v[i].name, h->v[i].namelen);
		name[h->v[i].namelen] = '\0';
		f = http_find_header(h, name);
		fuzz_check(f && f <= &h->v[i] && f->namelen == h->v[i].namelen);
	}
	http_header_has_token(h, "Connection", "upgrade");
}

/** @brief A head ends in CRLF CRLF within the limit. */
static void fuzz_check_head(const char *buf, size_t len, size_t max, int rc)
{
	fuzz_check((size_t)rc <= len && (size_t)rc <= max && rc >= 4);
	fuzz_check(memcmp(buf + rc - 4, "\r\n\r\n", 4) == 0);
}

/** @brief Check a host/port pair as the access list would receive it. */
static void fuzz_check_host(const char *host, size_t hostlen, unsigned port)
{
	char again[HTTP_HOST_MAX], err[256];
	size_t n = strnlen(host, hostlen), i;

	fuzz_check(n > 0 && n < hostlen);
	for (i = 0; i < n; i++)
		fuzz_check(!(host[i] >= 'A' && host[i] <= 'Z'));
	fuzz_check(port >= 1 && port <= 65535);
	fuzz_check(http_parse_host(host, n, again, sizeof again, err,
				   sizeof err) == 0);
	fuzz_check(strcmp(host, again) == 0);
}

/** @brief Feed @s to the target and query parsers. */
static void fuzz_target(const char *s, size_t n)
{
	char host[HTTP_HOST_MAX], val[16], err[256];
	const char *path, *query;
	size_t pathlen, querylen;
	unsigned port = 0;
	int rc;

	err[0] = '\0';
	if (http_parse_authority(s, n, host, sizeof host, &port, err,
				 sizeof err) == 0)
		fuzz_check_host(host, sizeof host, port);
	else
		fuzz_check_err(err, sizeof err);
	if (http_parse_host(s, n, host, sizeof host, err, sizeof err) == 0)
		fuzz_check_host(host, sizeof host, 1);
	else
		fuzz_check_err(err, sizeof err);

	rc = http_query_get(s, n, "host", val, sizeof val);
	fuzz_check(rc >= -1 && rc <= 1);
	if (rc == 1)
		fuzz_check(strnlen(val, sizeof val) < sizeof val);
	if (http_split_target(s, n, &path, &pathlen, &query, &querylen) < 0)
		return;
	fuzz_check(path == s && pathlen <= n && pathlen > 0);
	if (query)
		fuzz_check(fuzz_inside(s, n, query, querylen));
	else
		fuzz_check(pathlen == n);
	rc = http_query_get(query, querylen, "port", val, 3);
	fuzz_check(rc >= -1 && rc <= 1);
	if (rc == 1)
		fuzz_check(strnlen(val, 3) < 3);
}

/** @brief Parse @buf as a request under @max and check what came out. */
static void fuzz_request(const char *buf, size_t len, size_t max)
{
	struct http_request r;
	char err[256] = "";
	int rc = http_parse_request(buf, len, max, &r, err, sizeof err);

	if (rc == HTTP_INCOMPLETE) {
		fuzz_check(len <= max);
		return;
	}
	if (rc < 0) {
		fuzz_check(rc >= HTTP_BAD_VERSION);
		fuzz_check(http_error_status(rc) != 500);
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check_head(buf, len, max, rc);
	/* the bytes behind the head play no part in it */
	fuzz_check(http_parse_request(buf, rc, max, &r, err, sizeof err) == rc);
	fuzz_check(http_parse_request(buf, rc - 1, max, &r, err, sizeof err) ==
		   HTTP_INCOMPLETE);
	fuzz_check(fuzz_inside(buf, rc, r.method, r.methodlen));
	fuzz_check(fuzz_inside(buf, rc, r.target, r.targetlen));
	fuzz_check(r.methodlen > 0 && r.targetlen > 0);
	fuzz_check(r.minor_version == 0 || r.minor_version == 1);
	fuzz_check_headers(buf, rc, &r.headers);
	err[0] = '\0';
	rc = http_ws_check_request(&r, err, sizeof err);
	fuzz_check(rc == 0 || rc == 400 || rc == 426);
	if (rc)
		fuzz_check_err(err, sizeof err);
	fuzz_target(r.target, r.targetlen);
}

/** @brief Parse @buf as a response under @max and check what came out. */
static void fuzz_response(const char *buf, size_t len, size_t max)
{
	struct http_response r;
	char err[256] = "";
	int rc = http_parse_response(buf, len, max, &r, err, sizeof err);

	if (rc == HTTP_INCOMPLETE) {
		fuzz_check(len <= max);
		return;
	}
	if (rc < 0) {
		fuzz_check(rc >= HTTP_BAD_VERSION);
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check_head(buf, len, max, rc);
	fuzz_check(http_parse_response(buf, rc, max, &r, err, sizeof err) ==
		   rc);
	fuzz_check(http_parse_response(buf, rc - 1, max, &r, err, sizeof err) ==
		   HTTP_INCOMPLETE);
	fuzz_check(r.status >= 100 && r.status <= 599);
	fuzz_check(fuzz_inside(buf, rc, r.reason, r.reasonlen));
	fuzz_check_headers(buf, rc, &r.headers);
	err[0] = '\0';
	if (http_ws_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", err,
				   sizeof err) < 0)
		fuzz_check_err(err, sizeof err);
}

/** @brief Use the input as a body: the length is right or it is -1. */
static void fuzz_format(const char *buf, size_t len)
{
	char *body = malloc(len + 1), out[512];
	int rc;

	fuzz_check(body);
	memcpy(body, buf, len);
	body[len] = '\0';
	rc = http_format_response(out, sizeof out, 403, NULL, body);
	fuzz_check(rc == -1 || (size_t)rc == strlen(out));
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the input */
	char *buf = malloc(size ? size : 1);
	size_t small = size ? (size_t)data[0] * 4 : 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fuzz_request(buf, size, HTTP_MAX_HEAD);
	fuzz_request(buf, size, small);
	fuzz_response(buf, size, HTTP_MAX_HEAD);
	fuzz_response(buf, size, small);
	fuzz_target(buf, size);
	http_ws_key_valid(buf, size);
	fuzz_format(buf, size);
	free(buf);
	return 0;
}
