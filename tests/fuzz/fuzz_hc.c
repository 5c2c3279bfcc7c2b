/* fuzz_hc.c - libFuzzer entry point for the Hybrid Connections parsers
 * (relay URL, SAS token, JSON control messages, percent-coding)
 *
 * Build (outputs outside the tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	daemon/hc.c tests/fuzz/fuzz_hc.c -lgnutls -ljansson -o /tmp/fuzz_hc
 *
 * The input goes through every parser. Beyond "no crash, no read past the
 * input", each result is held to what hc.h promises: what a parser
 * accepts is NUL-terminated inside its field and free of control
 * characters, what is built parses back to the same, and a token made
 * with a key verifies with that key and no other. A broken promise aborts
 * so the fuzzer keeps the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond) do { if (!(cond)) abort(); } while (0)

/** @brief Error text goes into logs: NUL-terminated, printable. */
static void fuzz_check_err(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen), i;

	fuzz_check(n > 0 && n < errlen);
	for (i = 0; i < n; i++)
		fuzz_check(err[i] >= 0x20 && err[i] < 0x7f);
}

static void fuzz_check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size), i;

	fuzz_check(n < size);
	for (i = 0; i < n; i++)
		fuzz_check((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void fuzz_url(const char *s)
{
	struct hc_url u;
	char err[256];
	size_t n, i;

	if (hc_url_parse(s, &u, err, sizeof err) < 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check(u.port >= 1 && u.port <= 65535);
	fuzz_check_text(u.host, sizeof u.host);
	fuzz_check_text(u.path, sizeof u.path);
	n = strlen(u.path);
	fuzz_check(n > 0 && u.path[0] != '/' && u.path[n - 1] != '/');
	fuzz_check(!strstr(u.path, "//"));
	for (i = 0; u.host[i]; i++)
		fuzz_check(u.host[i] < 'A' || u.host[i] > 'Z');
}

static void fuzz_coding(const char *s, size_t n)
{
	char enc[HC_TOKEN_MAX * 3 + 1], dec[HC_TOKEN_MAX * 3 + 1];
	int e, d;

	e = hc_uri_encode(s, n, enc, sizeof enc);
	if (e >= 0) {
		fuzz_check((size_t)e == strlen(enc));
		/* encode(x) decodes back to x when x was UTF-8 text */
		d = hc_uri_decode(enc, (size_t)e, dec, sizeof dec);
		if (d >= 0)
			fuzz_check((size_t)d == n && memcmp(dec, s, n) == 0);
	}
	d = hc_uri_decode(s, n, dec, sizeof dec);
	if (d >= 0) {
		fuzz_check((size_t)d == strlen(dec));
		e = hc_uri_encode(dec, (size_t)d, enc, sizeof enc);
		fuzz_check(e >= 0);
	}
}

static void fuzz_token(const char *s, size_t n)
{
	struct hc_token t;
	char err[256];
	int r;

	if (hc_token_parse(s, n, &t, err, sizeof err) < 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check(t.siglen >= 1 && t.siglen <= sizeof t.sig);
	fuzz_check(t.se >= 0);
	fuzz_check_text(t.sr_dec, sizeof t.sr_dec);
	fuzz_check_text(t.skn, sizeof t.skn);
	r = hc_token_verify(&t, "k", 1, "localhost", "db", 0, err,
			    sizeof err);
	if (r < 0) {
		fuzz_check(r == HC_E_SIG || r == HC_E_EXPIRED ||
			   r == HC_E_SCOPE);
		fuzz_check_err(err, sizeof err);
	}
}

/** @brief A token made for the input's text as path verifies for that
 *  path with the key, and not with another key. */
static void fuzz_roundtrip(const char *s)
{
	char path[HC_PATH_MAX], tok[HC_TOKEN_MAX], err[256];
	struct hc_token t;
	size_t n = strnlen(s, sizeof path - 1), i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
							 s[i] <= '9')))
			break;
	if (i == 0)
		return;
	memcpy(path, s, i);
	path[i] = '\0';
	if (hc_token_make("relay.example", path, "key", "secret", 6,
			  2000000000LL, tok, sizeof tok) < 0)
		return;
	fuzz_check(hc_token_parse(tok, strlen(tok), &t, err, sizeof err) == 0);
	fuzz_check(hc_token_verify(&t, "secret", 6, "Relay.Example:443", path,
				   1000, err, sizeof err) == 0);
	fuzz_check(hc_token_verify(&t, "secreT", 6, "relay.example", path,
				   1000, err, sizeof err) == HC_E_SIG);
	fuzz_check(hc_token_verify(&t, "secret", 6, "relay.example", path,
				   2000000001LL, err, sizeof err) ==
		   HC_E_EXPIRED);
}

static void fuzz_msg(const char *s, size_t n)
{
	struct hc_accept a;
	struct hc_renew r;
	char err[256], out[8192];
	int type, len;
	struct hc_header h;

	type = hc_msg_parse(s, n, &a, &r, err, sizeof err);
	if (type < 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check(type == HC_MSG_ACCEPT || type == HC_MSG_RENEW ||
		   type == HC_MSG_OTHER);
	if (type == HC_MSG_ACCEPT) {
		fuzz_check_text(a.address, sizeof a.address);
		fuzz_check_text(a.id, sizeof a.id);
		fuzz_check_text(a.raddr, sizeof a.raddr);
		fuzz_check_text(a.host, sizeof a.host);
		fuzz_check(a.rport <= 65535);
		/* what we build from it parses back the same */
		h.name = "Host";
		h.namelen = 4;
		h.value = a.host;
		h.valuelen = strlen(a.host);
		len = hc_accept_build(out, sizeof out, a.address, a.id, &h, 1,
				      a.raddr[0] ? a.raddr : NULL, a.rport);
		if (len >= 0) {
			struct hc_accept b;

			fuzz_check(hc_msg_parse(out, (size_t)len, &b, NULL, err,
						sizeof err) == HC_MSG_ACCEPT);
			fuzz_check(strcmp(a.address, b.address) == 0);
			fuzz_check(strcmp(a.id, b.id) == 0);
			fuzz_check(strcmp(a.host, b.host) == 0);
		}
	} else if (type == HC_MSG_RENEW) {
		fuzz_check_text(r.token, sizeof r.token);
		len = hc_renew_build(out, sizeof out, r.token);
		if (len >= 0) {
			struct hc_renew q;

			fuzz_check(hc_msg_parse(out, (size_t)len, NULL, &q, err,
						sizeof err) == HC_MSG_RENEW);
			fuzz_check(strcmp(q.token, r.token) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 16384)
		return 0;
	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_url(s);
	fuzz_coding(s, size);
	fuzz_token(s, size);
	fuzz_roundtrip(s);
	fuzz_msg(s, size);
	free(s);
	return 0;
}
