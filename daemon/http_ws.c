/* http_ws.c - the WebSocket opening handshake (RFC 6455 §4): keys, the
 * accept value, and checking a client's upgrade request and a server's 101 */
#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "http.h"
#include "http_int.h"

static const char http_ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** @brief How many fields are called @name: some must appear once. */
static size_t http_count(const struct http_headers *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		n += http_span_ieq(h->v[i].name, h->v[i].namelen, name);
	return n;
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
