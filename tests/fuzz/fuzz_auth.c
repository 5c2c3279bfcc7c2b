/* fuzz_auth.c - libFuzzer target: Basic credentials and password-file lines
 *
 * The whole input is an Authorization header value for auth_parse_basic(),
 * copied into a buffer of exactly its size (so under ASan a read past @len
 * is caught), parsed into full-size and into small buffers; what it yields
 * must encode back to the same credentials. Each line of the input is also
 * a password-file line for auth_db_parse_line(): what it accepts must be a
 * well-formed user and hash, what it refuses must say why without echoing
 * the hash. No crypt(3) runs: too slow to fuzz.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *		$(pkg-config --cflags gnutls) daemon/auth.c daemon/auth_pool.c \
 *		tests/fuzz/fuzz_auth.c $(pkg-config --libs gnutls) -lcrypt -pthread
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

/* bytes no refusal message has of its own: seen in one, they came from
 * the hash it was about */
#define FUZZ_AUTH_FOREIGN "!%&*+<>@[]^|~\"\\"

/** @brief Stop the run: the module broke a promise its header makes. */
static void fuzz_auth_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_auth: %s (%s)\n", what, detail);
	abort();
}

/** @brief Does @s hold a byte below 0x20 or 0x7f? */
static int fuzz_auth_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/** @brief Parse @len bytes of @data (copied to a buffer of that size). */
static int fuzz_auth_basic(const uint8_t *data, size_t len, char *user,
			   size_t ul, char *pass, size_t pl)
{
	char *v = malloc(len ? len : 1);
	int rc;

	if (!v)
		abort();
	memcpy(v, data, len);
	rc = auth_parse_basic(v, len, user, ul, pass, pl);
	free(v);
	return rc;
}

/** @brief "Basic " + base64(@user:@pass) parses back to the same two. */
static void fuzz_auth_roundtrip(const char *user, const char *pass)
{
	char up[AUTH_USER_MAX + AUTH_PASS_MAX + 1], u[AUTH_USER_MAX];
	char p[AUTH_PASS_MAX], *v;
	gnutls_datum_t in, b64;
	int n = snprintf(up, sizeof up, "%s:%s", user, pass);

	in.data = (unsigned char *)up;
	in.size = (unsigned)n;
	if (gnutls_base64_encode2(&in, &b64) < 0)
		abort();
	if (asprintf(&v, "bAsIc \t%.*s ", (int)b64.size, b64.data) < 0)
		abort();
	gnutls_free(b64.data);
	if (fuzz_auth_basic((uint8_t *)v, strlen(v), u, sizeof u, p, sizeof p) != 0)
		fuzz_auth_fail("own encoding refused", v);
	if (strcmp(u, user) != 0 || strcmp(p, pass) != 0)
		fuzz_auth_fail("round trip changed the credentials", v);
	free(v);
}

/** @brief auth_parse_basic on the whole input. */
static void fuzz_auth_check_basic(const uint8_t *data, size_t size)
{
	char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX], su[8], sp[8];
	int rc = fuzz_auth_basic(data, size, user, sizeof user, pass, sizeof pass);
	int small = fuzz_auth_basic(data, size, su, sizeof su, sp, sizeof sp);

	if (rc == 0) {
		if (!user[0] || strchr(user, ':') || fuzz_auth_ctl(user) ||
		    fuzz_auth_ctl(pass))
			fuzz_auth_fail("accepted a bad user or password", user);
		fuzz_auth_roundtrip(user, pass);
	}
	if (small != (rc == 0 && strlen(user) < sizeof su &&
		      strlen(pass) < sizeof sp ? 0 : -1))
		fuzz_auth_fail("buffer size changed the verdict", user);
	if (small == 0 && (strcmp(su, user) != 0 || strcmp(sp, pass) != 0))
		fuzz_auth_fail("small buffers got other credentials", su);
}

/** @brief The refusal of "u:" + the hash of @line must hold no byte the
 *  messages don't have of their own. */
static void fuzz_auth_no_echo(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	char buf[AUTH_LINE_MAX + 3], user[AUTH_USER_MAX], hash[AUTH_HASH_MAX];
	char why[1024];
	size_t n;

	if (!colon)
		return;
	n = len - (colon + 1 - line);
	memcpy(buf, "u:", 2);
	memcpy(buf + 2, colon + 1, n);
	why[0] = '\0';
	if (auth_db_parse_line(buf, n + 2, user, hash, why, sizeof why) != -1)
		return;
	if (strncmp(why, "user u: ", 8) != 0)
		fuzz_auth_fail("refusal doesn't name the user", why);
	for (const char *w = why; *w; w++)
		if (strchr(FUZZ_AUTH_FOREIGN, *w) || (unsigned char)*w >= 0x80 ||
		    (unsigned char)*w < 0x20)
			fuzz_auth_fail("refusal echoes the hash", why);
}

/** @brief auth_db_parse_line on one line of the input. */
static void fuzz_auth_check_line(const char *line, size_t len)
{
	char user[AUTH_USER_MAX], hash[AUTH_HASH_MAX], why[1024];
	size_t skip = 0;
	int rc;

	why[0] = '\0';
	rc = auth_db_parse_line(line, len, user, hash, why, sizeof why);
	if (rc == 1) {
		size_t ul = strlen(user), hl = strlen(hash);

		if (!ul || ul >= AUTH_USER_MAX || hl < 4 || hl >= AUTH_HASH_MAX ||
		    hash[0] != '$' || strchr(user, ':') || strchr(hash, ':'))
			fuzz_auth_fail("accepted a malformed entry", user);
		for (size_t i = 0; i < ul; i++)
			if ((unsigned char)user[i] <= 0x20 || user[i] == 0x7f)
				fuzz_auth_fail("accepted a user with a control byte", user);
		if (len < ul + 1 + hl || memcmp(line, user, ul) != 0 ||
		    line[ul] != ':' || memcmp(line + ul + 1, hash, hl) != 0)
			fuzz_auth_fail("entry is not what the line says", user);
	} else if (rc == 0) {
		while (skip < len && (line[skip] == ' ' || line[skip] == '\t'))
			skip++;
		if (skip < len && line[skip] != '#' &&
		    !(skip == len - 1 && line[skip] == '\r'))
			fuzz_auth_fail("skipped a line that is not blank or a comment", why);
	} else if (rc == -1) {
		if (!why[0] || !memchr(why, '\0', sizeof why))
			fuzz_auth_fail("refused without a reason", why);
		fuzz_auth_no_echo(line, len);
	} else {
		fuzz_auth_fail("unexpected return value", why);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	fuzz_auth_check_basic(data, size);
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = (nl ? nl : end) - p;

		if (len <= AUTH_LINE_MAX) {
			char *line = malloc(len ? len : 1);

			if (!line)
				abort();
			memcpy(line, p, len);
			fuzz_auth_check_line(line, len);
			free(line);
		}
		p += len + 1;
	}
	return 0;
}
