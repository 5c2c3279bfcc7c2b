/* test_hc.c - Azure Relay Hybrid Connections: relay URLs, SAS tokens
 * (against Microsoft's hyco-ws), percent-encoding, control messages */
#include "config.h"

#include <check.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc.h"
#include "unit.h"

/* The token vectors come from Microsoft's own code: npm hyco-ws 1.0.5
 * (with ws 1.1.5 and moment), run by node v20.20.2:
 *
 *   mkdir -p /var/tmp/hycoref && cd /var/tmp/hycoref
 *   npm pack hyco-ws@1.0.5 && mkdir -p node_modules/hyco-ws
 *   tar xzf hyco-ws-1.0.5.tgz -C node_modules/hyco-ws --strip-components=1
 *   npm install --no-save ws@1.1.5 moment
 *   (npm install drops node_modules/hyco-ws: untar it again after)
 *
 * and this script, which pins the clock by putting a fake 'moment' in
 * node's require cache, since createRelayToken computes
 * se = moment().add(expirationSeconds, 'seconds').unix():
 *
 *   const SE = 1900000000;
 *   const fake = () => ({ add: () => ({ unix: () => SE }) });
 *   require.cache[require.resolve('moment')] = { id: 'moment',
 *     filename: require.resolve('moment'), loaded: true, exports: fake };
 *   const WS = require('hyco-ws');
 *   console.log(WS.createRelayToken(URI, 'RootManageSharedAccessKey',
 *     'k3Yb/3zK1mV7lX0rQ9Zp8WcN2sT4uH6jD5fG1aE+oYw=', 3600));
 *
 * hyco-ws signs url.format() of the URI with protocol "http" and
 * search, hash and port nulled and the first "$hc/" dropped. Legacy
 * url.format writes the "host" property when there is one, and that
 * still holds the port: "wss://relay.example:443/$hc/db" is signed as
 * "http://relay.example:443/db" (createRelayBaseUri() itself writes
 * ":443", so hyco's usual tokens all carry it). url.parse also puts the
 * host in lower case. skn is put in raw, not encoded.
 *
 * ENCODED_ASCII is node's encodeURIComponent() of the bytes 0x20..0x7e,
 * ENCODED_UTF8 that of "\u00e9\u20ac\U0001F600". */
#define SE 1900000000LL
#define KEY "k3Yb/3zK1mV7lX0rQ9Zp8WcN2sT4uH6jD5fG1aE+oYw="
#define KEYNAME "RootManageSharedAccessKey"

/* createRelayToken("http://127.0.0.1/db", ...) */
#define TOKEN_LOCAL \
	"SharedAccessSignature sr=http%3A%2F%2F127.0.0.1%2Fdb&sig=TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg%3D&se=1900000000&skn=RootManageSharedAccessKey"
/* createRelayToken("wss://relay.example:443/$hc/db", ...) */
#define TOKEN_443 \
	"SharedAccessSignature sr=http%3A%2F%2Frelay.example%3A443%2Fdb&sig=Hvtv2Zx8ljDc%2FKxI4QwI833G%2FFWblTZE5PPLCCSZaJ0%3D&se=1900000000&skn=RootManageSharedAccessKey"
/* createRelayToken("https://ns.servicebus.windows.net/a/b", ...) */
#define TOKEN_NS \
	"SharedAccessSignature sr=http%3A%2F%2Fns.servicebus.windows.net%2Fa%2Fb&sig=%2FzejPfGpo%2Fwa5OZw54BSX0namm0iGtSOSWUINiFEjO4%3D&se=1900000000&skn=RootManageSharedAccessKey"
/* createRelayToken("wss://[::1]:443/$hc/db", ...) */
#define TOKEN_V6 \
	"SharedAccessSignature sr=http%3A%2F%2F%5B%3A%3A1%5D%3A443%2Fdb&sig=VktM9HGjGXZhw%2B8miwVIOkXHatxxLsVrEr4khaVcRd4%3D&se=1900000000&skn=RootManageSharedAccessKey"
/* createRelayToken("wss://Relay.Example:8443/$hc/a/$hc/b?x=1", ...) */
#define TOKEN_HC2 \
	"SharedAccessSignature sr=http%3A%2F%2Frelay.example%3A8443%2Fa%2F%24hc%2Fb&sig=SjbdrE1iKbebhY%2FMyCXib1bWVP1gPNbE9MXMWipNncY%3D&se=1900000000&skn=RootManageSharedAccessKey"
/* createRelayToken("wss://[::1]:443/$hc/db", "k&n", ...): the raw
 * key name breaks the token's syntax */
#define TOKEN_RAW_SKN \
	"SharedAccessSignature sr=http%3A%2F%2F%5B%3A%3A1%5D%3A443%2Fdb&sig=VktM9HGjGXZhw%2B8miwVIOkXHatxxLsVrEr4khaVcRd4%3D&se=1900000000&skn=k&n"

#define ENCODED_ASCII \
	"%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~"
#define ENCODED_UTF8 "%C3%A9%E2%82%AC%F0%9F%98%80"

static const struct vector {
	const char *token, *sr_dec, *host, *path;
	const char *sig;	/* the sig field, still encoded */
} vectors[] = {
	{ TOKEN_LOCAL, "http://127.0.0.1/db", "127.0.0.1", "db",
	  "TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg%3D" },
	{ TOKEN_443, "http://relay.example:443/db", "relay.example", "db",
	  "Hvtv2Zx8ljDc%2FKxI4QwI833G%2FFWblTZE5PPLCCSZaJ0%3D" },
	{ TOKEN_NS, "http://ns.servicebus.windows.net/a/b",
	  "ns.servicebus.windows.net", "a/b",
	  "%2FzejPfGpo%2Fwa5OZw54BSX0namm0iGtSOSWUINiFEjO4%3D" },
	{ TOKEN_V6, "http://[::1]:443/db", "[::1]:443", "db",
	  "VktM9HGjGXZhw%2B8miwVIOkXHatxxLsVrEr4khaVcRd4%3D" },
	{ TOKEN_HC2, "http://relay.example:8443/a/$hc/b", "relay.example",
	  "a/$hc/b", "SjbdrE1iKbebhY%2FMyCXib1bWVP1gPNbE9MXMWipNncY%3D" },
};

#define NVECTORS (sizeof vectors / sizeof vectors[0])

/** @brief Parse @token, failing the test if it does not parse. */
static void parse_ok(const char *token, struct hc_token *t)
{
	char err[256] = "";

	ck_assert_msg(hc_token_parse(token, strlen(token), t, err,
				     sizeof err) == 0, "%s: %s", token, err);
}

/** @brief Parse and verify @token; hc_token_verify's result, with the
 *  err text checked to be free of the signature when it fails. */
static int verify(const char *token, const char *key, const char *host,
		  const char *path, long long now)
{
	static struct hc_token t;
	char err[256] = "";
	int rc;

	parse_ok(token, &t);
	rc = hc_token_verify(&t, key, strlen(key), host, path, now, err,
			     sizeof err);
	if (rc) {
		ck_assert_uint_gt(strlen(err), 0);
		ck_assert_ptr_null(strstr(err, "sig="));
		ck_assert_ptr_null(strstr(err, KEY));
	}
	return rc;
}

/** @brief A token over the raw sr @sr, made here with GnuTLS's own
 *  base64 (not hc.c's), for scopes hyco-ws does not write. */
static void sign(const char *sr, long long se, const char *skn, char *out,
		 size_t outlen)
{
	char tosign[HC_TOKEN_MAX + 32], sig[256];
	unsigned char mac[32];
	gnutls_datum_t in = { mac, sizeof mac }, b64 = { NULL, 0 };
	int n = snprintf(tosign, sizeof tosign, "%s\n%lld", sr, se);

	ck_assert(gnutls_hmac_fast(GNUTLS_MAC_SHA256, KEY, strlen(KEY), tosign,
				   (size_t)n, mac) == 0);
	ck_assert(gnutls_base64_encode2(&in, &b64) == 0);
	ck_assert_int_gt(hc_uri_encode((char *)b64.data, b64.size, sig,
				       sizeof sig), 0);
	gnutls_free(b64.data);
	n = snprintf(out, outlen, "SharedAccessSignature sr=%s&sig=%s&se=%lld&skn=%s",
		     sr, sig, se, skn);
	ck_assert(n > 0 && (size_t)n < outlen);
}

/** @brief Does @rc / @err say -1 with @want in the reason? */
static void fails_with(int rc, const char *err, const char *want)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err, want) != NULL, "err \"%s\" lacks \"%s\"",
		      err, want);
}

/* ---- percent-encoding ---- */

START_TEST(encode_matches_node)
{
	char in[0x7f - 0x20 + 1], out[512], back[128];
	const char utf8[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	int n;

	for (n = 0x20; n < 0x7f; n++)
		in[n - 0x20] = (char)n;
	n = hc_uri_encode(in, 0x7f - 0x20, out, sizeof out);
	ck_assert_int_eq(n, (int)strlen(ENCODED_ASCII));
	ck_assert_str_eq(out, ENCODED_ASCII);
	ck_assert_int_eq(hc_uri_decode(out, (size_t)n, back, sizeof back),
			 0x7f - 0x20);
	ck_assert(!memcmp(back, in, 0x7f - 0x20));

	ck_assert_int_eq(hc_uri_encode(utf8, strlen(utf8), out, sizeof out),
			 (int)strlen(ENCODED_UTF8));
	ck_assert_str_eq(out, ENCODED_UTF8);
	ck_assert_int_eq(hc_uri_decode(out, strlen(out), back, sizeof back),
			 (int)strlen(utf8));
	ck_assert_str_eq(back, utf8);

	/* every other byte, control and high ones too, becomes %XX */
	ck_assert_int_eq(hc_uri_encode("\x00\x1f\x7f\xff", 4, out, sizeof out),
			 12);
	ck_assert_str_eq(out, "%00%1F%7F%FF");
	ck_assert_int_eq(hc_uri_encode("", 0, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(encode_fits)
{
	char out[8];

	ck_assert_int_eq(hc_uri_encode("abcdefg", 7, out, 8), 7);
	ck_assert_int_eq(hc_uri_encode("abcdefgh", 8, out, 8), -1);
	ck_assert_int_eq(hc_uri_encode("ab/", 3, out, 5), -1);
	ck_assert_int_eq(hc_uri_encode("ab/", 3, out, 6), 5);
	ck_assert_str_eq(out, "ab%2F");
	ck_assert_int_eq(hc_uri_encode("", 0, out, 0), -1);
}
END_TEST

START_TEST(decode_strict)
{
	static const char *const bad[] = {
		"%", "%4", "a%4", "%G1", "%1G", "%00", "a b", "a\tb", "\x7f",
		"\xc3\xa9",		/* raw non-ASCII */
		"%C3",			/* truncated */
		"%C3%28",		/* bad continuation */
		"%C0%AF",		/* overlong '/' */
		"%E0%80%AF",		/* overlong */
		"%ED%A0%80",		/* a surrogate */
		"%F4%90%80%80",		/* past U+10FFFF */
		"%FF",
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(hc_uri_decode(bad[i], strlen(bad[i]), out,
					    sizeof out) == -1, "%s", bad[i]);
	ck_assert_int_eq(hc_uri_decode("a+b%2b%2F%c3%a9", 15, out, sizeof out),
			 7);
	ck_assert_str_eq(out, "a+b+/\xc3\xa9");
	ck_assert_int_eq(hc_uri_decode("abc", 3, out, 4), 3);
	ck_assert_int_eq(hc_uri_decode("abc", 3, out, 3), -1);
	ck_assert_int_eq(hc_uri_decode("%41%42", 6, out, 3), 2);
	ck_assert_int_eq(hc_uri_decode("%41%42", 6, out, 2), -1);
	ck_assert_int_eq(hc_uri_decode("", 0, out, 1), 0);
}
END_TEST

/* ---- tokens ---- */

START_TEST(make_matches_hyco)
{
	char out[HC_TOKEN_MAX];
	size_t n = strlen(TOKEN_LOCAL);

	ck_assert_int_eq(hc_token_make("127.0.0.1", "db", KEYNAME, KEY,
				       strlen(KEY), SE, out, sizeof out), 0);
	ck_assert_str_eq(out, TOKEN_LOCAL);
	/* exactly the room for it and its NUL, and no less */
	ck_assert_int_eq(hc_token_make("127.0.0.1", "db", KEYNAME, KEY,
				       strlen(KEY), SE, out, n + 1), 0);
	ck_assert_str_eq(out, TOKEN_LOCAL);
	ck_assert_int_eq(hc_token_make("127.0.0.1", "db", KEYNAME, KEY,
				       strlen(KEY), SE, out, n), -1);
	ck_assert_int_eq(hc_token_make("127.0.0.1", "db", KEYNAME, KEY,
				       strlen(KEY), -1, out, sizeof out), -1);
}
END_TEST

START_TEST(make_round_trip)
{
	char out[HC_TOKEN_MAX], big[HC_PATH_MAX + 1];
	struct hc_token t;

	/* a host name goes in lower case, an IPv6 address in brackets */
	ck_assert_int_eq(hc_token_make("NS.Example", "a/b", "my key", KEY,
				       strlen(KEY), SE, out, sizeof out), 0);
	parse_ok(out, &t);
	ck_assert_str_eq(t.sr_dec, "http://ns.example/a/b");
	ck_assert_str_eq(t.skn, "my key");
	ck_assert_ptr_nonnull(strstr(out, "&skn=my%20key"));
	ck_assert_int_eq(verify(out, KEY, "ns.example", "a/b", SE - 1), 0);

	ck_assert_int_eq(hc_token_make("::1", "db", KEYNAME, KEY, strlen(KEY),
				       SE, out, sizeof out), 0);
	parse_ok(out, &t);
	ck_assert_str_eq(t.sr_dec, "http://[::1]/db");
	ck_assert_int_eq(verify(out, KEY, "::1", "db", SE - 1), 0);
	ck_assert_int_eq(verify(out, KEY, "[::1]:443", "db", SE - 1), 0);

	/* an empty path: the whole namespace */
	ck_assert_int_eq(hc_token_make("h", "", KEYNAME, KEY, strlen(KEY), SE,
				       out, sizeof out), 0);
	ck_assert_int_eq(verify(out, KEY, "h", "any/thing", SE - 1), 0);

	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(hc_token_make("h", big, KEYNAME, KEY, strlen(KEY), SE,
				       out, sizeof out), -1);
	big[HC_PATH_MAX - 1] = '\0';
	ck_assert_int_eq(hc_token_make("h", big, KEYNAME, KEY, strlen(KEY), SE,
				       out, sizeof out), 0);
	ck_assert_int_eq(verify(out, KEY, "h", big, SE - 1), 0);
}
END_TEST

START_TEST(hyco_vectors_parse)
{
	struct hc_token t;
	size_t i;

	for (i = 0; i < NVECTORS; i++) {
		const char *sr = strstr(vectors[i].token, "sr=") + 3;

		parse_ok(vectors[i].token, &t);
		ck_assert_str_eq(t.sr_dec, vectors[i].sr_dec);
		ck_assert_uint_eq(strlen(t.sr), strcspn(sr, "&"));
		ck_assert(!strncmp(t.sr, sr, strlen(t.sr)));
		ck_assert_uint_eq(t.siglen, 32);
		ck_assert_int_eq(t.se, SE);
		ck_assert_str_eq(t.skn, KEYNAME);
	}
}
END_TEST

START_TEST(hyco_vectors_verify)
{
	size_t i;

	for (i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];

		ck_assert_int_eq(verify(v->token, KEY, v->host, v->path,
					SE - 1), 0);
		ck_assert_int_eq(verify(v->token, KEY, v->host, v->path, 0), 0);
		ck_assert_int_eq(verify(v->token, "k3Yb/3zK1mV7lX0rQ9Zp8WcN2sT4uH6jD5fG1aE+oYx=",
					v->host, v->path, SE - 1), HC_E_SIG);
		ck_assert_int_eq(verify(v->token, "", v->host, v->path,
					SE - 1), HC_E_SIG);
		ck_assert_int_eq(verify(v->token, KEY, v->host, v->path, SE),
				 HC_E_EXPIRED);
		ck_assert_int_eq(verify(v->token, KEY, v->host, v->path,
					SE + 1000), HC_E_EXPIRED);
		ck_assert_int_eq(verify(v->token, KEY, "other.example",
					v->path, SE - 1), HC_E_SCOPE);
		ck_assert_int_eq(verify(v->token, KEY, v->host, "other",
					SE - 1), HC_E_SCOPE);
		ck_assert_int_eq(verify(v->token, KEY, v->host, "", SE - 1),
				 HC_E_SCOPE);
	}
	/* the port of the Host header and of sr play no part, nor case */
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1:443", "db",
				SE - 1), 0);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1:9", "/db/",
				SE - 1), 0);
	ck_assert_int_eq(verify(TOKEN_443, KEY, "Relay.EXAMPLE:8443", "db",
				SE - 1), 0);
	ck_assert_int_eq(verify(TOKEN_V6, KEY, "::1", "db", SE - 1), 0);
	ck_assert_int_eq(verify(TOKEN_V6, KEY, "[::2]", "db", SE - 1),
			 HC_E_SCOPE);
	/* "db" covers what is below it, at a segment boundary */
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1", "db/x", SE - 1),
			 0);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1", "dbx", SE - 1),
			 HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1", "d", SE - 1),
			 HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1", "DB", SE - 1),
			 HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_NS, KEY, "ns.servicebus.windows.net",
				"a/b/c", SE - 1), 0);
	ck_assert_int_eq(verify(TOKEN_NS, KEY, "ns.servicebus.windows.net",
				"a", SE - 1), HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_NS, KEY, "ns.servicebus.windows.net",
				"a/bc", SE - 1), HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.1.evil", "db",
				SE - 1), HC_E_SCOPE);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "127.0.0.", "db", SE - 1),
			 HC_E_SCOPE);
	/* a signature that does not match wins over expiry and scope */
	ck_assert_int_eq(verify(TOKEN_LOCAL, "x", "other", "other", SE),
			 HC_E_SIG);
	ck_assert_int_eq(verify(TOKEN_LOCAL, KEY, "other", "other", SE),
			 HC_E_EXPIRED);
}
END_TEST

START_TEST(hyco_vectors_tampered)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char tok[512], err[256];
	struct hc_token t;
	size_t i, k, len, fields;

	for (i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		const char *sig = strstr(v->token, v->sig);
		size_t at = (size_t)(sig - v->token);

		/* each character of the signature changed, in turn: the
		 * token no longer parses (padding bits, or a %XX broken) or
		 * no longer verifies */
		for (k = 0; k < strlen(v->sig); k++) {
			char *c;
			int rc;

			strcpy(tok, v->token);
			c = tok + at + k;
			*c = *c == 'A' ? 'B' : *c == '%' ? '/' :
			     b64[(strchr(b64, *c) ? strchr(b64, *c) - b64 + 1 : 0) % 64];
			err[0] = '\0';
			rc = hc_token_parse(tok, strlen(tok), &t, err, sizeof err);
			if (rc == 0)
				rc = hc_token_verify(&t, KEY, strlen(KEY),
						     v->host, v->path, SE - 1,
						     err, sizeof err);
			ck_assert_msg(rc == -1, "%s still valid", tok);
			ck_assert_ptr_null(strstr(err, v->sig));
		}
		/* each field left out: sr= and the '&' after it, or '&' and
		 * the field */
		for (fields = 0; fields < 4; fields++) {
			static const char *const names[] = { "sr", "sig", "se", "skn" };
			static const char *const at_[] = { "sr=", "&sig=", "&se=", "&skn=" };
			const char *f = strstr(v->token, at_[fields]);
			const char *end = strchr(f + 1, '&');
			char want[32];

			len = (size_t)(f - v->token);
			memcpy(tok, v->token, len);
			strcpy(tok + len, !end ? "" : fields == 0 ? end + 1 : end);
			snprintf(want, sizeof want, "token: no %s field",
				 names[fields]);
			fails_with(hc_token_parse(tok, strlen(tok), &t, err,
						  sizeof err), err, want);
		}
		/* each field twice */
		snprintf(tok, sizeof tok, "%s&se=%lld", v->token, SE);
		fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err),
			   err, "se field more than once");
		snprintf(tok, sizeof tok, "%s&sig=%s", v->token, v->sig);
		fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err),
			   err, "sig field more than once");
		ck_assert_ptr_null(strstr(err, v->sig));
		snprintf(tok, sizeof tok, "%s&skn=x", v->token);
		fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err),
			   err, "skn field more than once");
		snprintf(tok, sizeof tok, "%s&sr=http%%3A%%2F%%2Fx", v->token);
		fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err),
			   err, "sr field more than once");
	}
	/* se changed: the signature covers it */
	strcpy(tok, TOKEN_LOCAL);
	memcpy(strstr(tok, "se=1900000000"), "se=1900000001", 13);
	ck_assert_int_eq(verify(tok, KEY, "127.0.0.1", "db", SE - 1), HC_E_SIG);
	/* sr changed */
	strcpy(tok, TOKEN_LOCAL);
	memcpy(strstr(tok, "%2Fdb"), "%2Fdc", 5);
	ck_assert_int_eq(verify(tok, KEY, "127.0.0.1", "dc", SE - 1), HC_E_SIG);
	/* sr spelt otherwise (lower-case hex): not what was signed */
	strcpy(tok, TOKEN_LOCAL);
	memcpy(strstr(tok, "%2Fdb"), "%2fdb", 5);
	ck_assert_int_eq(verify(tok, KEY, "127.0.0.1", "db", SE - 1), HC_E_SIG);
	/* hyco-ws puts skn raw, so a key name with '&' breaks the syntax */
	fails_with(hc_token_parse(TOKEN_RAW_SKN, strlen(TOKEN_RAW_SKN), &t, err,
				  sizeof err), err, "without '='");
}
END_TEST

START_TEST(token_parse_forms)
{
	static const char sig[] = "TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg%3D";
	char tok[3 * HC_TOKEN_MAX], err[256];
	struct hc_token t;

	/* scheme word in any case, blanks, fields in any order, unknown
	 * fields ignored, sig's '=' raw or encoded */
	snprintf(tok, sizeof tok,
		 " \tsharedACCESSsignature  x=1&skn=" KEYNAME "&se=%lld&sig=%s&foo=&sr=http%%3A%%2F%%2F127.0.0.1%%2Fdb\t",
		 SE, "TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg=");
	ck_assert_int_eq(verify(tok, KEY, "127.0.0.1", "db", SE - 1), 0);

	fails_with(hc_token_parse("", 0, &t, err, sizeof err), err,
		   "not a SharedAccessSignature");
	fails_with(hc_token_parse("Bearer x", 8, &t, err, sizeof err), err,
		   "not a SharedAccessSignature");
	fails_with(hc_token_parse("SharedAccessSignaturesr=a", 25, &t, err,
				  sizeof err), err, "no blank");
	fails_with(hc_token_parse("SharedAccessSignature", 21, &t, err,
				  sizeof err), err, "no blank");
	fails_with(hc_token_parse("SharedAccessSignature ", 22, &t, err,
				  sizeof err), err, "no blank");
	fails_with(hc_token_parse("SharedAccessSignature  &", 24, &t, err,
				  sizeof err), err, "empty field");

#define BAD(fmt, want) do { \
		snprintf(tok, sizeof tok, "SharedAccessSignature %s", fmt); \
		fails_with(hc_token_parse(tok, strlen(tok), &t, err, \
					  sizeof err), err, want); \
		ck_assert_ptr_null(strstr(err, "TMJjhp")); \
	} while (0)
	BAD("sr=a&sig=TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg%3D&se=1&skn=k&", "empty field");
	BAD("sr=a&&sig=TMJjhpGGI9MLTGnCSsSG34ID3UbrfgxwnkSNkZ2feOg%3D&se=1&skn=k", "empty field");
	BAD("sr=a&sig&se=1&skn=k", "without '='");
	BAD("sr=&sig=TMJjhp&se=1&skn=k", "empty sr");
	BAD("sr=a&sig=&se=1&skn=k", "empty sig");
	BAD("sr=a&sig=TMJjhpGG&se=&skn=k", "empty se");
	BAD("sr=a&sig=TMJjhpGG&se=1&skn=", "empty skn");
	BAD("sr=a%2&sig=TMJjhpGG&se=1&skn=k", "sr is not percent-encoded");
	BAD("sr=a b&sig=TMJjhpGG&se=1&skn=k", "sr is not percent-encoded");
	BAD("sr=a%0A&sig=TMJjhpGG&se=1&skn=k", "control character in sr");
	BAD("sr=a&sig=TMJjhpGG&se=1&skn=a%7F", "control character in skn");
	BAD("sr=a&sig=TMJjhpGG&se=1&skn=a%C0", "skn is not percent-encoded");
	BAD("sr=a&sig=TMJjhpG&se=1&skn=k", "sig is not base64");
	BAD("sr=a&sig=TMJjhp$G&se=1&skn=k", "sig is not base64");
	BAD("sr=a&sig=TMJjhp==&se=1&skn=k", "sig is not base64");	/* bits left */
	BAD("sr=a&sig=TQ=A&se=1&skn=k", "sig is not base64");
	BAD("sr=a&sig=TMJjhpGG&se=01&skn=k", "se is not");
	BAD("sr=a&sig=TMJjhpGG&se=-1&skn=k", "se is not");
	BAD("sr=a&sig=TMJjhpGG&se=1x&skn=k", "se is not");
	BAD("sr=a&sig=TMJjhpGG&se=+1&skn=k", "se is not");
	BAD("sr=a&sig=TMJjhpGG&se=1234567890123456789&skn=k", "se is not");
	BAD("sr=a&sig=TMJjhpGG&se=1", "no skn field");
	BAD("sig=TMJjhpGG&se=1&skn=k", "no sr field");
#undef BAD
	snprintf(tok, sizeof tok, "SharedAccessSignature sr=a&sig=%s%s&se=1&skn=k",
		 sig, sig);
	fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err), err,
		   "sig is not base64");
	/* 64 bytes of signature is the most */
	snprintf(tok, sizeof tok, "SharedAccessSignature sr=a&se=0&skn=k&sig=%.86s==",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	ck_assert_int_eq(hc_token_parse(tok, strlen(tok), &t, err, sizeof err), 0);
	ck_assert_uint_eq(t.siglen, 64);
	ck_assert_int_eq(t.se, 0);
	snprintf(tok, sizeof tok, "SharedAccessSignature sr=a&se=0&skn=k&sig=%.88s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err), err,
		   "sig is not base64");
	/* a short signature parses, but cannot verify */
	snprintf(tok, sizeof tok, "SharedAccessSignature sr=http%%3A%%2F%%2Fh%%2F&se=%lld&skn=k&sig=AAAA", SE);
	ck_assert_int_eq(verify(tok, KEY, "h", "db", SE - 1), HC_E_SIG);
	/* a NUL in the token */
	ck_assert_int_eq(hc_token_parse(TOKEN_LOCAL, sizeof TOKEN_LOCAL, &t,
					err, sizeof err), -1);
	/* sr of HC_TOKEN_MAX bytes does not fit, one less does */
	memset(tok, 0, sizeof tok);
	strcpy(tok, "SharedAccessSignature se=1&skn=k&sig=AAAA&sr=");
	memset(tok + strlen(tok), 'a', HC_TOKEN_MAX);
	fails_with(hc_token_parse(tok, strlen(tok), &t, err, sizeof err), err,
		   "sr field longer than");
	tok[strlen(tok) - 1] = '\0';
	ck_assert_int_eq(hc_token_parse(tok, strlen(tok), &t, err, sizeof err), 0);
	ck_assert_uint_eq(strlen(t.sr), HC_TOKEN_MAX - 1);
	/* only @len bytes are read */
	ck_assert_int_eq(hc_token_parse(TOKEN_LOCAL "&se=1", strlen(TOKEN_LOCAL),
					&t, err, sizeof err), 0);
}
END_TEST

START_TEST(token_scopes)
{
	static const struct {
		const char *sr, *host, *path;
		int rc;
	} cases[] = {
		/* any of these schemes, a $hc/ prefix, trailing '/' */
		{ "sb%3A%2F%2Fns%2F", "ns", "any/thing", 0 },
		{ "sb%3A%2F%2Fns", "ns", "db", 0 },
		{ "https%3A%2F%2Fns%2Fdb%2F", "ns", "db", 0 },
		{ "HTTPS%3A%2F%2Fns%2Fdb%2F", "ns", "db", 0 },
		{ "wss%3A%2F%2Fns%3A443%2F%24hc%2Fdb", "ns:443", "db/x", 0 },
		{ "ws%3A%2F%2Fns%2F%24hc%2Fdb%2F", "ns", "db", 0 },
		{ "wss%3A%2F%2Fns%2F%24hc", "ns", "db", 0 },
		{ "wss%3A%2F%2Fns%2F%24hc%2F", "ns", "db", 0 },
		{ "http%3A%2F%2Fns%2Fdb%3Fx%3D1", "ns", "db", 0 },
		{ "http%3A%2F%2F%5B%3A%3A1%5D%3A443%2Fdb", "[::1]:8443", "db", 0 },
		{ "http%3A%2F%2F%5B%3A%3A1%5D%2Fdb", "::1", "db", 0 },
		/* not the same */
		{ "ftp%3A%2F%2Fns%2Fdb", "ns", "db", HC_E_SCOPE },
		{ "ns%2Fdb", "ns", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fu%40ns%2Fdb", "ns", "db", HC_E_SCOPE },
		{ "http%3A%2F%2F%2Fdb", "ns", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%3Ax%2Fdb", "ns", "db", HC_E_SCOPE },
		{ "http%3A%2F%2F%5B%3A%3A1%2Fdb", "::1", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fdb", "ns.", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fdb", "ns:", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fdb", "", "db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fdb", "ns", "", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2F%24hc%2Fdb", "ns", "%24hc/db", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fa%2Fb", "ns", "a", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fa%2Fb", "ns", "a/", HC_E_SCOPE },
		{ "http%3A%2F%2Fns%2Fa%252Fb", "ns", "a/b", HC_E_SCOPE },
	};
	char tok[1024];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sign(cases[i].sr, SE, "k", tok, sizeof tok);
		ck_assert_msg(verify(tok, KEY, cases[i].host, cases[i].path,
				     SE - 1) == cases[i].rc, "%s for %s %s",
			      cases[i].sr, cases[i].host, cases[i].path);
	}
}
END_TEST

/* ---- relay URLs ---- */

START_TEST(url_good)
{
	struct hc_url u;
	char err[256] = "", s[600];

	ck_assert_int_eq(hc_url_parse("wss://relay.example/$hc/db", &u, err,
				      sizeof err), 0);
	ck_assert_str_eq(u.host, "relay.example");
	ck_assert_uint_eq(u.port, 443);
	ck_assert_str_eq(u.path, "db");

	ck_assert_int_eq(hc_url_parse("WsS://Relay.Example:8443/$hc/a/b?sb-hc-action=listen&x=%41",
				      &u, err, sizeof err), 0);
	ck_assert_str_eq(u.host, "relay.example");
	ck_assert_uint_eq(u.port, 8443);
	ck_assert_str_eq(u.path, "a/b");

	ck_assert_int_eq(hc_url_parse("wss://[2001:DB8::1]:65535/$hc/a/$hc/b?", &u,
				      err, sizeof err), 0);
	ck_assert_str_eq(u.host, "2001:db8::1");
	ck_assert_uint_eq(u.port, 65535);
	ck_assert_str_eq(u.path, "a/$hc/b");

	ck_assert_int_eq(hc_url_parse("wss://h_1-2.x:1/$hc/a.b-c_d~e!$&'()*+,;=:@", &u,
				      err, sizeof err), 0);
	ck_assert_str_eq(u.host, "h_1-2.x");
	ck_assert_uint_eq(u.port, 1);
	ck_assert_str_eq(u.path, "a.b-c_d~e!$&'()*+,;=:@");

	ck_assert_int_eq(hc_url_parse("wss://h/$hc/...", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.path, "...");

	/* the longest host and path */
	memset(s, 0, sizeof s);
	strcpy(s, "wss://");
	memset(s + 6, 'h', HC_HOST_MAX - 1);
	strcat(s, "/$hc/");
	memset(s + strlen(s), 'p', HC_PATH_MAX - 1);
	ck_assert_int_eq(hc_url_parse(s, &u, err, sizeof err), 0);
	ck_assert_uint_eq(strlen(u.host), HC_HOST_MAX - 1);
	ck_assert_uint_eq(strlen(u.path), HC_PATH_MAX - 1);
	strcat(s, "p");
	fails_with(hc_url_parse(s, &u, err, sizeof err), err,
		   "entity path longer than 255");
	memset(s, 0, sizeof s);
	strcpy(s, "wss://");
	memset(s + 6, 'h', HC_HOST_MAX);
	strcat(s, "/$hc/db");
	fails_with(hc_url_parse(s, &u, err, sizeof err), err,
		   "host longer than 253");
}
END_TEST

START_TEST(url_bad)
{
	static const struct {
		const char *url, *want;
	} bad[] = {
		{ "ws://h/$hc/db", "scheme \"ws\" is not wss" },
		{ "sb://h/$hc/db", "scheme \"sb\" is not wss" },
		{ "https://h/$hc/db", "is not wss" },
		{ "wssx://h/$hc/db", "is not wss" },
		{ "h/$hc/db", "no scheme" },
		{ "", "no scheme" },
		{ "wss:/h/$hc/db", "no scheme" },
		{ "://h/$hc/db", "no scheme" },
		{ "wss:///$hc/db", "no host" },
		{ "wss://:443/$hc/db", "no host" },
		{ "wss://h:0/$hc/db", "port" },
		{ "wss://h:65536/$hc/db", "port" },
		{ "wss://h:/$hc/db", "port" },
		{ "wss://h:0443/$hc/db", "port" },
		{ "wss://h:4x/$hc/db", "port" },
		{ "wss://h:1234567/$hc/db", "port" },
		{ "wss://h:443:1/$hc/db", "port" },
		{ "wss://[::1]x/$hc/db", "port" },
		{ "wss://u:p@h/$hc/db", "user info" },
		{ "wss://[::1/$hc/db", "without closing" },
		{ "wss://[zz::1]/$hc/db", "not an IPv6 address" },
		{ "wss://[]/$hc/db", "not an IPv6 address" },
		{ "wss://[fe80::1%25eth0]/$hc/db", "not an IPv6 address" },
		{ "wss://h~/$hc/db", "may not" },
		{ "wss://h\x7f/$hc/db", "may not" },
		{ "wss://h%41/$hc/db", "may not" },
		{ "wss://h", "must start with /$hc/" },
		{ "wss://h/db", "must start with /$hc/" },
		{ "wss://h/$hc", "must start with /$hc/" },
		{ "wss://h?$hc/db", "must start with /$hc/" },
		{ "wss://h//$hc/db", "must start with /$hc/" },
		{ "wss://h/$HC/db", "must start with /$hc/" },
		{ "wss://h/$hc/", "empty entity path" },
		{ "wss://h/$hc/?a=b", "empty entity path" },
		{ "wss://h/$hc//db", "empty segment" },
		{ "wss://h/$hc/a//b", "empty segment" },
		{ "wss://h/$hc/db/", "empty segment" },
		{ "wss://h/$hc/..", "segment" },
		{ "wss://h/$hc/a/../b", "segment" },
		{ "wss://h/$hc/a/./b", "segment" },
		{ "wss://h/$hc/.", "segment" },
		{ "wss://h/$hc/a\x01" "b", "control character" },
		{ "wss://h/$hc/a\tb", "control character" },
		{ "wss://h/$hc/a\x7f", "control character" },
		{ "wss://h/$hc/a b", "0x20" },
		{ "wss://h/$hc/a%20b", "0x25" },
		{ "wss://h/$hc/a\"b", "0x22" },
		{ "wss://h/$hc/a\\b", "0x5c" },
		{ "wss://h/$hc/\xc3\xa9", "0xc3" },
		{ "wss://h/$hc/db#x", "fragment" },
		{ "wss://h/$hc/db?a#x", "0x23" },
		{ "wss://h/$hc/db?a b", "0x20" },
		{ "wss://h/$hc/db?a\r\n", "0x0d" },
	};
	struct hc_url u;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(hc_url_parse(bad[i].url, &u, err, sizeof err) == -1,
			      "%s accepted", bad[i].url);
		ck_assert_msg(strstr(err, bad[i].want) != NULL,
			      "%s: err \"%s\" lacks \"%s\"", bad[i].url, err,
			      bad[i].want);
		ck_assert(!strncmp(err, "url: ", 5));
	}
}
END_TEST

/* ---- control messages ---- */

START_TEST(accept_build_exact)
{
	const struct hc_header h[] = {
		{ "Host", 4, "relay.example", 13 },
		{ "Sec-WebSocket-Protocol", 22, "x", 1 },
	};
	char out[512];
	const char *want =
		"{\"accept\":{\"address\":\"wss://g.example/$hc/db?sb-hc-action=accept&sb-hc-id=7\","
		"\"id\":\"7\",\"connectHeaders\":{\"Host\":\"relay.example\","
		"\"Sec-WebSocket-Protocol\":\"x\"},\"remoteEndpoint\":"
		"{\"address\":\"10.0.0.1\",\"port\":5000}}}";
	int n = hc_accept_build(out, sizeof out,
				"wss://g.example/$hc/db?sb-hc-action=accept&sb-hc-id=7",
				"7", h, 2, "10.0.0.1", 5000);

	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_str_eq(out, want);
	/* the exact room: no NUL; one byte less: -1 */
	memset(out, 'x', sizeof out);
	ck_assert_int_eq(hc_accept_build(out, strlen(want),
					 "wss://g.example/$hc/db?sb-hc-action=accept&sb-hc-id=7",
					 "7", h, 2, "10.0.0.1", 5000),
			 (int)strlen(want));
	ck_assert(!memcmp(out, want, strlen(want)));
	ck_assert_int_eq(out[strlen(want)], 'x');
	ck_assert_int_eq(hc_accept_build(out, strlen(want) - 1,
					 "wss://g.example/$hc/db?sb-hc-action=accept&sb-hc-id=7",
					 "7", h, 2, "10.0.0.1", 5000), -1);

	ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", "", NULL, 0,
					 NULL, 0),
			 (int)strlen("{\"accept\":{\"address\":\"a\",\"id\":\"\",\"connectHeaders\":{}}}"));
	ck_assert_str_eq(out, "{\"accept\":{\"address\":\"a\",\"id\":\"\",\"connectHeaders\":{}}}");
	/* a later duplicate replaces the earlier one */
	{
		const struct hc_header d[] = { { "A", 1, "1", 1 }, { "A", 1, "2", 1 } };

		ck_assert_int_gt(hc_accept_build(out, sizeof out, "a", "i", d, 2,
						 NULL, 0), 0);
		ck_assert_str_eq(out, "{\"accept\":{\"address\":\"a\",\"id\":\"i\",\"connectHeaders\":{\"A\":\"2\"}}}");
	}
}
END_TEST

START_TEST(accept_build_escapes)
{
	const struct hc_header h[] = {
		{ "X-Quote\"d", 9, "a\"b\\c\x01\n\t/\x7f\xc3\xa9", 12 },
		{ "Hostile", 4, "h\"\\", 3 },	/* namelen 4: "Host" */
		{ "X-NUL", 5, "a\0b", 3 },
	};
	struct hc_accept a;
	char out[1024], err[256];
	int n = hc_accept_build(out, sizeof out, "wss://a\"b/\\", "i\x1f", h, 3,
				"::1", 65535);

	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(out, "\"X-Quote\\\"d\":\"a\\\"b\\\\c\\u0001\\n\\t/\x7f\xc3\xa9\""));
	ck_assert_ptr_nonnull(strstr(out, "\"Host\":\"h\\\"\\\\\""));
	ck_assert_ptr_nonnull(strstr(out, "\"X-NUL\":\"a\\u0000b\""));
	ck_assert_ptr_nonnull(strstr(out, "\"address\":\"wss://a\\\"b/\\\\\""));
	ck_assert_ptr_nonnull(strstr(out, "\"id\":\"i\\u001F\""));
	ck_assert_uint_eq(strlen(out), (size_t)n);
	/* what we read back: the id holds a control character */
	fails_with(hc_msg_parse(out, (size_t)n, &a, NULL, err, sizeof err), err,
		   "control character in id");
	n = hc_accept_build(out, sizeof out, "wss://a\"b/\\", "i", h, 2, "::1",
			    65535);
	ck_assert_int_eq(hc_msg_parse(out, (size_t)n, &a, NULL, err,
				      sizeof err), HC_MSG_ACCEPT);
	ck_assert_str_eq(a.address, "wss://a\"b/\\");
	ck_assert_str_eq(a.host, "h\"\\");
	ck_assert_str_eq(a.raddr, "::1");
	ck_assert_uint_eq(a.rport, 65535);

	/* not UTF-8, a NUL in a name, a port past 65535, no address */
	{
		const struct hc_header b1[] = { { "X", 1, "\xc3", 1 } };
		const struct hc_header b2[] = { { "X\0Y", 3, "v", 1 } };
		const struct hc_header b3[] = { { "\xff", 1, "v", 1 } };

		ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", "i", b1,
						 1, NULL, 0), -1);
		ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", "i", b2,
						 1, NULL, 0), -1);
		ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", "i", b3,
						 1, NULL, 0), -1);
	}
	ck_assert_int_eq(hc_accept_build(out, sizeof out, "a\xff", "i", NULL, 0,
					 NULL, 0), -1);
	ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", "i", NULL, 0,
					 "r", 65536), -1);
	ck_assert_int_eq(hc_accept_build(out, sizeof out, NULL, "i", NULL, 0,
					 NULL, 0), -1);
	ck_assert_int_eq(hc_accept_build(out, sizeof out, "a", NULL, NULL, 0,
					 NULL, 0), -1);
	ck_assert_int_eq(hc_accept_build(out, 0, "a", "i", NULL, 0, NULL, 0),
			 -1);
}
END_TEST

START_TEST(msg_accept_azure)
{
	/* the shape of Azure's accept message (the Relay Hybrid
	 * Connections protocol guide), headers in mixed case */
	static const char msg[] =
		"{ \"accept\" : {\n"
		"  \"address\" : \"wss://g0-prod-by3-010-sb.servicebus.windows.net/$hc/db?sb-hc-action=accept&sb-hc-id=4cb542c3-047a-4d40-a19f-bdc66441e736\",\n"
		"  \"id\" : \"4cb542c3-047a-4d40-a19f-bdc66441e736\",\n"
		"  \"connectHeaders\" : {\n"
		"    \"HOST\" : \"ns.servicebus.windows.net\",\n"
		"    \"Sec-WebSocket-Protocol\" : \"wssubprotocol\",\n"
		"    \"Sec-WebSocket-Extensions\" : \"permessage-deflate\",\n"
		"    \"X-Number\" : 5\n"
		"  },\n"
		"  \"remoteEndpoint\" : { \"address\" : \"10.1.1.1\", \"port\" : 43210 },\n"
		"  \"extra\" : [1, 2]\n"
		"} }";
	struct hc_accept a;
	struct hc_renew r;
	char err[256] = "";

	memset(&r, 'x', sizeof r);
	ck_assert_int_eq(hc_msg_parse(msg, strlen(msg), &a, &r, err, sizeof err),
			 HC_MSG_ACCEPT);
	ck_assert_str_eq(a.address, "wss://g0-prod-by3-010-sb.servicebus.windows.net/$hc/db?sb-hc-action=accept&sb-hc-id=4cb542c3-047a-4d40-a19f-bdc66441e736");
	ck_assert_str_eq(a.id, "4cb542c3-047a-4d40-a19f-bdc66441e736");
	ck_assert_str_eq(a.host, "ns.servicebus.windows.net");
	ck_assert_str_eq(a.raddr, "10.1.1.1");
	ck_assert_uint_eq(a.rport, 43210);
	ck_assert_int_eq(r.token[0], 'x');	/* untouched */
	ck_assert_int_eq(hc_msg_parse(msg, strlen(msg), NULL, NULL, err,
				      sizeof err), HC_MSG_ACCEPT);

	/* only an address is needed */
	ck_assert_int_eq(hc_msg_parse("{\"accept\":{\"address\":\"x\"}}",
				      strlen("{\"accept\":{\"address\":\"x\"}}"),
				      &a, NULL, err, sizeof err), HC_MSG_ACCEPT);
	ck_assert_str_eq(a.address, "x");
	ck_assert_str_eq(a.id, "");
	ck_assert_str_eq(a.host, "");
	ck_assert_str_eq(a.raddr, "");
	ck_assert_uint_eq(a.rport, 0);
}
END_TEST

START_TEST(msg_round_trips)
{
	const struct hc_header h[] = { { "host", 4, "relay.example:443", 17 } };
	char out[HC_TOKEN_MAX + 64], err[256] = "", tok[HC_TOKEN_MAX];
	struct hc_accept a;
	struct hc_renew r;
	int n;

	n = hc_accept_build(out, sizeof out, "wss://x/$hc/db?sb-hc-id=1", "1",
			    h, 1, NULL, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(hc_msg_parse(out, (size_t)n, &a, &r, err, sizeof err),
			 HC_MSG_ACCEPT);
	ck_assert_str_eq(a.address, "wss://x/$hc/db?sb-hc-id=1");
	ck_assert_str_eq(a.id, "1");
	ck_assert_str_eq(a.host, "relay.example:443");
	ck_assert_str_eq(a.raddr, "");

	n = hc_renew_build(out, sizeof out, TOKEN_LOCAL);
	ck_assert_int_eq(n, (int)strlen(TOKEN_LOCAL) + 27);
	ck_assert_str_eq(out, "{\"renewToken\":{\"token\":\"" TOKEN_LOCAL "\"}}");
	ck_assert_int_eq(hc_msg_parse(out, (size_t)n, &a, &r, err, sizeof err),
			 HC_MSG_RENEW);
	ck_assert_str_eq(r.token, TOKEN_LOCAL);
	ck_assert_int_eq(hc_msg_parse(out, (size_t)n, NULL, NULL, err,
				      sizeof err), HC_MSG_RENEW);
	ck_assert_int_eq(hc_renew_build(out, (size_t)n, TOKEN_LOCAL), n);
	ck_assert_int_eq(hc_renew_build(out, (size_t)n - 1, TOKEN_LOCAL), -1);
	ck_assert_int_eq(hc_renew_build(out, sizeof out, "\xc3"), -1);
	ck_assert_int_eq(hc_renew_build(out, sizeof out, NULL), -1);

	/* the longest token that fits, and one byte more */
	memset(tok, 'a', sizeof tok - 1);
	tok[sizeof tok - 1] = '\0';
	n = hc_renew_build(out, sizeof out, tok);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(hc_msg_parse(out, (size_t)n, NULL, &r, err, sizeof err),
			 HC_MSG_RENEW);
	ck_assert_uint_eq(strlen(r.token), HC_TOKEN_MAX - 1);
	snprintf(out, sizeof out, "{\"renewToken\":{\"token\":\"a%s\"}}", tok);
	fails_with(hc_msg_parse(out, strlen(out), NULL, &r, err, sizeof err),
		   err, "renewToken: token longer than 2047");

	ck_assert_int_eq(hc_msg_parse("{}", 2, &a, &r, err, sizeof err),
			 HC_MSG_OTHER);
	ck_assert_int_eq(hc_msg_parse(" {\"request\":{\"address\":1}} ",
				      strlen(" {\"request\":{\"address\":1}} "), &a,
				      &r, err, sizeof err), HC_MSG_OTHER);
}
END_TEST

START_TEST(msg_bad)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "", "not a JSON object" },
		{ "accept", "not a JSON object" },
		{ "\"accept\"", "not a JSON object" },
		{ "42", "not a JSON object" },
		{ "[{\"accept\":{\"address\":\"x\"}}]", "not a JSON object" },
		{ "{\"accept\":{\"address\":\"x\"}} x", "not a JSON object" },
		{ "{\"accept\":{\"address\":\"x\"}", "not a JSON object" },
		{ "{\"accept\":{\"address\":\"x\\u0000\"}}", "control character in address" },
		{ "{\"accept\":{\"address\":\"\xc3\"}}", "not a JSON object" },
		{ "{\"accept\":1,\"accept\":2}", "not a JSON object" },
		{ "{\"accept\":{\"address\":\"x\",\"address\":\"y\"}}", "not a JSON object" },
		{ "{\"accept\":1}", "accept: not an object" },
		{ "{\"accept\":null}", "accept: not an object" },
		{ "{\"accept\":{}}", "accept: no address" },
		{ "{\"accept\":{\"id\":\"1\"}}", "accept: no address" },
		{ "{\"accept\":{\"address\":1}}", "accept: address is not a string" },
		{ "{\"accept\":{\"address\":\"a\\nb\"}}", "accept: control character in address" },
		{ "{\"accept\":{\"address\":\"x\",\"id\":7}}", "accept: id is not a string" },
		{ "{\"accept\":{\"address\":\"x\",\"connectHeaders\":[]}}", "connectHeaders is not an object" },
		{ "{\"accept\":{\"address\":\"x\",\"connectHeaders\":{\"Host\":1}}}", "connectHeaders: Host is not a string" },
		{ "{\"accept\":{\"address\":\"x\",\"connectHeaders\":{\"Host\":\"a\",\"host\":\"b\"}}}", "Host more than once" },
		{ "{\"accept\":{\"address\":\"x\",\"connectHeaders\":{\"hoST\":\"a\\u007f\"}}}", "control character in hoST" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":7}}", "remoteEndpoint is not an object" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"address\":1}}}", "remoteEndpoint: address is not a string" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"port\":65536}}}", "port is not an integer" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"port\":-1}}}", "port is not an integer" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"port\":\"1\"}}}", "port is not an integer" },
		{ "{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"port\":1.0}}}", "port is not an integer" },
		{ "{\"renewToken\":\"t\"}", "renewToken: not an object" },
		{ "{\"renewToken\":{}}", "renewToken: no token" },
		{ "{\"renewToken\":{\"token\":5}}", "renewToken: token is not a string" },
		{ "{\"renewToken\":{\"token\":\"a\\rb\"}}", "renewToken: control character in token" },
	};
	struct hc_accept a;
	struct hc_renew r;
	char err[256], big[4096];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(hc_msg_parse(bad[i].json, strlen(bad[i].json), &a,
					   &r, err, sizeof err) == -1, "%s",
			      bad[i].json);
		ck_assert_msg(strstr(err, bad[i].want) != NULL,
			      "%s: err \"%s\" lacks \"%s\"", bad[i].json, err,
			      bad[i].want);
	}
	/* each field one byte over */
#define OVER(fmt, n, want) do { \
		char fill[1100]; \
		memset(fill, 'a', n); \
		fill[n] = '\0'; \
		snprintf(big, sizeof big, fmt, fill); \
		fails_with(hc_msg_parse(big, strlen(big), &a, &r, err, \
					sizeof err), err, want); \
		fill[n - 1] = '\0'; \
		snprintf(big, sizeof big, fmt, fill); \
		ck_assert_int_eq(hc_msg_parse(big, strlen(big), &a, &r, err, \
					      sizeof err), HC_MSG_ACCEPT); \
	} while (0)
	OVER("{\"accept\":{\"address\":\"%s\"}}", sizeof a.address,
	     "address longer than 1023");
	OVER("{\"accept\":{\"address\":\"x\",\"id\":\"%s\"}}", sizeof a.id,
	     "id longer than 127");
	OVER("{\"accept\":{\"address\":\"x\",\"connectHeaders\":{\"Host\":\"%s\"}}}",
	     sizeof a.host, "Host longer than 253");
	OVER("{\"accept\":{\"address\":\"x\",\"remoteEndpoint\":{\"address\":\"%s\"}}}",
	     sizeof a.raddr, "address longer than 63");
#undef OVER
	ck_assert_str_eq(a.raddr + 62, "a");
	/* only @len bytes are read */
	ck_assert_int_eq(hc_msg_parse("{}garbage", 2, &a, &r, err, sizeof err),
			 HC_MSG_OTHER);
}
END_TEST

static Suite *hc_suite(void)
{
	Suite *s = suite_create("hc");
	TCase *enc = tcase_create("percent-encoding");
	TCase *tok = tcase_create("tokens");
	TCase *url = tcase_create("urls");
	TCase *msg = tcase_create("messages");

	tcase_add_test(enc, encode_matches_node);
	tcase_add_test(enc, encode_fits);
	tcase_add_test(enc, decode_strict);
	suite_add_tcase(s, enc);

	tcase_add_test(tok, make_matches_hyco);
	tcase_add_test(tok, make_round_trip);
	tcase_add_test(tok, hyco_vectors_parse);
	tcase_add_test(tok, hyco_vectors_verify);
	tcase_add_test(tok, hyco_vectors_tampered);
	tcase_add_test(tok, token_parse_forms);
	tcase_add_test(tok, token_scopes);
	suite_add_tcase(s, tok);

	tcase_add_test(url, url_good);
	tcase_add_test(url, url_bad);
	suite_add_tcase(s, url);

	tcase_add_test(msg, accept_build_exact);
	tcase_add_test(msg, accept_build_escapes);
	tcase_add_test(msg, msg_accept_azure);
	tcase_add_test(msg, msg_round_trips);
	tcase_add_test(msg, msg_bad);
	suite_add_tcase(s, msg);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(hc_suite());
}
