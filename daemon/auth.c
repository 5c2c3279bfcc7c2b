/* auth.c - password logins: the password file and how its hashes are
 * checked, `--hash-password`, and Basic credentials (the login cache:
 * auth_cache.c; the lockout of failing sources: auth_lockout.c; the
 * verification threads: auth_pool.c).
 *
 * Timing: an unknown user is checked against a dummy hash made at load
 * with the scheme and cost most users of the file have (a real user's
 * setting, random bytes as the password), so it costs what a wrong
 * password costs them. A file that mixes schemes costs per scheme: a user
 * of a rarer scheme answers in that scheme's time, which tells a patient
 * attacker that the user exists. Keep one scheme per file where that
 * matters.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "auth_int.h"

#define AUTH_B64 "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define AUTH_SELFTEST "ssltunnel self-test"

struct auth_user {
	char name[AUTH_USER_MAX];
	char hash[AUTH_HASH_MAX];
	unsigned line;
	int scheme;		/* index in auth_schemes */
};

struct auth_db {
	struct auth_user *users;	/* sorted by name */
	size_t n;
	char dummy[AUTH_HASH_MAX];	/* what an unknown user is checked against */
};

/* The schemes a file may use. @fields: '$'-separated setting fields
 * between the prefix and the checksum (0: bcrypt's own layout), plus an
 * optional "rounds=N" first if @rounds; @sum: checksum length. */
static const struct auth_scheme {
	const char *prefix;
	const char *name;
	int fields;
	int rounds;
	size_t sum;
} auth_schemes[] = {
	{ "$y$", "yescrypt ($y$)", 2, 0, 43 },
	{ "$gy$", "gost-yescrypt ($gy$)", 2, 0, 43 },
	{ "$7$", "scrypt ($7$)", 1, 0, 43 },
	{ "$2b$", "bcrypt ($2b$)", 0, 0, 53 },
	{ "$2y$", "bcrypt ($2y$)", 0, 0, 53 },
	{ "$6$", "sha512crypt ($6$)", 1, 1, 86 },
	{ "$5$", "sha256crypt ($5$)", 1, 1, 43 },
};
#define AUTH_NSCHEMES (sizeof auth_schemes / sizeof auth_schemes[0])

/* Known prefixes refused as too weak, with what they are. */
static const struct {
	const char *prefix;
	const char *what;
} auth_weak[] = {
	{ "$1$", "an MD5-crypt ($1$) hash, fast to crack" },
	{ "$apr1$", "an Apache MD5 ($apr1$, htpasswd -m) hash, fast to crack" },
	{ "{SHA}", "an unsalted SHA-1 hash ({SHA}, htpasswd -s), fast to crack" },
	{ "$2a$", "an old bcrypt ($2a$) hash, from before the 2011 crypt_blowfish fix" },
	{ "$2x$", "an old bcrypt ($2x$) hash, made by the buggy crypt_blowfish of 2011" },
	{ "$2$", "an old bcrypt ($2$) hash, from before the 2011 crypt_blowfish fix" },
};

/** @brief 1 if the strings @a and @b (each shorter than AUTH_HASH_MAX)
 *  are equal; compares all AUTH_HASH_MAX bytes whatever their contents. */
static int auth_ct_streq(const char *a, const char *b)
{
	unsigned char x[AUTH_HASH_MAX] = { 0 }, y[AUTH_HASH_MAX] = { 0 };
	size_t la = strnlen(a, AUTH_HASH_MAX), lb = strnlen(b, AUTH_HASH_MAX);
	int eq;

	memcpy(x, a, la < AUTH_HASH_MAX ? la : AUTH_HASH_MAX - 1);
	memcpy(y, b, lb < AUTH_HASH_MAX ? lb : AUTH_HASH_MAX - 1);
	eq = auth_ct_eq(x, y, AUTH_HASH_MAX) & (la == lb) & (la < AUTH_HASH_MAX);
	explicit_bzero(x, sizeof x);
	explicit_bzero(y, sizeof y);
	return eq;
}

/* ---- the password file ---- */

/** @brief Are the @n bytes at @s all in the crypt(3) base64 alphabet? */
static int auth_is_b64(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(AUTH_B64, s[i]))
			return 0;
	return 1;
}

/** @brief Are the @n bytes at @s all hex digits? */
static int auth_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	return 1;
}

/** @brief Does @h (@n bytes) start with @prefix? */
static int auth_starts(const char *h, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && memcmp(h, prefix, pl) == 0;
}

/** @brief Is bcrypt hash @h (@n bytes, prefix checked) well formed:
 *  "$2b$NN$" and 53 characters of salt and checksum? */
static int auth_bcrypt_ok(const char *h, size_t n)
{
	int cost;

	if (n != 60 || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' ||
	    h[6] != '$')
		return 0;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	return cost >= 4 && cost <= 31 && auth_is_b64(h + 7, 53);
}

/** @brief Is sha-crypt field @f (@n bytes) "rounds=DIGITS"? */
static int auth_is_rounds(const char *f, size_t n)
{
	if (n < 8 || n > 16 || memcmp(f, "rounds=", 7) != 0)
		return 0;
	for (size_t i = 7; i < n; i++)
		if (f[i] < '0' || f[i] > '9')
			return 0;
	return 1;
}

/** @brief Is @h (@n bytes) a well-formed hash of scheme @s: its setting
 *  fields there and non-empty, in the crypt alphabet, the checksum of the
 *  right length? (Whether libcrypt takes the parameters shows only when
 *  a password is checked.) */
static int auth_hash_ok(const struct auth_scheme *s, const char *h, size_t n)
{
	const char *f[4];
	size_t fl[4], nf = 0, at = strlen(s->prefix), first = 0;

	if (!s->fields)
		return auth_bcrypt_ok(h, n);
	for (;;) {
		const char *end = memchr(h + at, '$', n - at);

		if (nf == 4)
			return 0;
		f[nf] = h + at;
		fl[nf] = end ? (size_t)(end - (h + at)) : n - at;
		at += fl[nf++] + 1;
		if (!end)
			break;
	}
	if (fl[nf - 1] != s->sum || !auth_is_b64(f[nf - 1], fl[nf - 1]))
		return 0;
	nf--;
	if (s->rounds && nf == 2 && auth_is_rounds(f[0], fl[0]))
		first = 1;
	if (nf - first != (size_t)s->fields)
		return 0;
	for (size_t i = first; i < nf; i++)
		if (!fl[i] || !auth_is_b64(f[i], fl[i]))
			return 0;
	return 1;
}

/** @brief Fill @why with "user NAME: WHAT; HOW TO CONVERT". @hashed: the
 *  entry is a hash, so the password is needed to replace it. */
static void auth_refuse(char *why, size_t whylen, const char *user,
			const char *what, int hashed)
{
	snprintf(why, whylen,
		 "user %s: %s; %smake a new hash with `ssltunneld --hash-password` (yescrypt) or `htpasswd -nB %s` (bcrypt) and replace the line",
		 user, what,
		 hashed ? "a hash can't be converted, the password is needed to make a new hash: " : "",
		 user);
}

/** @brief What a hash that is not an accepted scheme is, for @why. */
static const char *auth_classify(const char *h, size_t n, int *hashed)
{
	static const struct {
		size_t len;
		const char *what;
	} hex[] = {
		{ 32, "an unsalted MD5 hex digest (like node-websocket-tunnel's users.txt), fast to crack" },
		{ 40, "an unsalted SHA-1 hex digest (like node-websocket-tunnel's users.txt), fast to crack" },
		{ 64, "an unsalted SHA-256 hex digest (like node-websocket-tunnel's users.txt), fast to crack" },
		{ 128, "an unsalted SHA-512 hex digest (like node-websocket-tunnel's users.txt), fast to crack" },
	};

	*hashed = 1;
	for (size_t i = 0; i < sizeof auth_weak / sizeof auth_weak[0]; i++)
		if (auth_starts(h, n, auth_weak[i].prefix))
			return auth_weak[i].what;
	if (n && h[0] == '$')
		return "an unknown hash scheme (accepted: yescrypt $y$, gost-yescrypt $gy$, scrypt $7$, bcrypt $2b$ or $2y$, sha512crypt $6$, sha256crypt $5$)";
	for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++)
		if (n == hex[i].len && auth_is_hex(h, n))
			return hex[i].what;
	if (n == 13 && auth_is_b64(h, n))
		return "a DES crypt hash (or a 13-character plaintext password): DES uses 8 characters of a password and is fast to crack";
	if (n == 20 && h[0] == '_' && auth_is_b64(h + 1, 19))
		return "a BSDi DES crypt hash (or a plaintext password), fast to crack";
	*hashed = 0;
	if (n == 0)
		return "no hash after ':'";
	return "a plaintext password, not a crypt(3) hash";
}

/** @brief Check user name @u (@n bytes) into @user, or say why not. */
static int auth_user_ok(const char *u, size_t n, char *user, char *why,
			size_t whylen)
{
	if (n == 0) {
		snprintf(why, whylen, "empty user name before ':'");
		return -1;
	}
	if (n >= AUTH_USER_MAX) {
		snprintf(why, whylen, "user name longer than %d bytes",
			 AUTH_USER_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x21 || u[i] == 0x7f) {
			snprintf(why, whylen,
				 "user name has a space or control byte (0x%02x) at byte %zu",
				 (unsigned char)u[i], i + 1);
			return -1;
		}
	memcpy(user, u, n);
	user[n] = '\0';
	return 0;
}

int auth_db_parse_line(const char *line, size_t len, char *user, char *hash,
		       char *why, size_t whylen)
{
	const char *colon, *h, *what;
	size_t skip = 0, n;
	int hashed;

	if (len && line[len - 1] == '\r')
		len--;
	while (skip < len && (line[skip] == ' ' || line[skip] == '\t'))
		skip++;
	if (skip == len || line[skip] == '#')
		return 0;
	colon = memchr(line, ':', len);
	if (!colon) {
		snprintf(why, whylen,
			 "no ':' between user name and hash (expected user:HASH)");
		return -1;
	}
	if (auth_user_ok(line, colon - line, user, why, whylen) < 0)
		return -1;
	h = colon + 1;
	n = len - (h - line);
	if (memchr(h, ':', n)) {
		snprintf(why, whylen,
			 "user %s: more than one ':' (a line is user:HASH, and crypt(3) hashes have no ':')",
			 user);
		return -1;
	}
	if (n >= AUTH_HASH_MAX) {
		snprintf(why, whylen, "user %s: hash longer than %d bytes",
			 user, AUTH_HASH_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < AUTH_NSCHEMES; i++) {
		const struct auth_scheme *s = &auth_schemes[i];
		char malformed[128];

		if (!auth_starts(h, n, s->prefix))
			continue;
		if (auth_hash_ok(s, h, n)) {
			memcpy(hash, h, n);
			hash[n] = '\0';
			return 1;
		}
		snprintf(malformed, sizeof malformed,
			 "a malformed %s hash (cut short or edited?)", s->name);
		auth_refuse(why, whylen, user, malformed, 1);
		return -1;
	}
	what = auth_classify(h, n, &hashed);
	auth_refuse(why, whylen, user, what, hashed);
	return -1;
}

/** @brief Which scheme @hash (accepted by the line parser) is. */
static int auth_scheme_of(const char *hash)
{
	for (size_t i = 0; i < AUTH_NSCHEMES; i++)
		if (strncmp(hash, auth_schemes[i].prefix,
			    strlen(auth_schemes[i].prefix)) == 0)
			return (int)i;
	return -1;
}

/** @brief Read one line of @f into @buf (AUTH_LINE_MAX bytes, the '\n'
 *  dropped): its length; -1 at the end, -2 too long, -3 read error. */
static long auth_db_getline(FILE *f, char *buf)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (n == AUTH_LINE_MAX)
			return -2;
		buf[n++] = (char)c;
	}
	if (c == EOF && ferror(f))
		return -3;
	if (c == EOF && n == 0)
		return -1;
	return (long)n;
}

/** @brief qsort order of users: by name. */
static int auth_user_cmp(const void *a, const void *b)
{
	const struct auth_user *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/** @brief Append the user of line @line to @db. */
static int auth_db_add(struct auth_db *db, size_t *cap, const char *user,
		       const char *hash, unsigned line)
{
	struct auth_user *u;

	if (db->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct auth_user *v = calloc(ncap, sizeof *v);

		if (!v)
			return -1;
		if (db->n) {
			memcpy(v, db->users, db->n * sizeof *v);
			explicit_bzero(db->users, db->n * sizeof *v);
		}
		free(db->users);
		db->users = v;
		*cap = ncap;
	}
	u = &db->users[db->n++];
	strcpy(u->name, user);
	strcpy(u->hash, hash);
	u->line = line;
	u->scheme = auth_scheme_of(hash);
	return 0;
}

/** @brief Read every line of @f (named @path) into @db. */
static int auth_db_read(struct auth_db *db, FILE *f, const char *path,
			char *err, size_t errlen)
{
	char buf[AUTH_LINE_MAX], user[AUTH_USER_MAX], hash[AUTH_HASH_MAX];
	char why[512];
	size_t cap = 0;
	unsigned line = 0;
	long n;
	int rc = 0;

	while (rc == 0 && (n = auth_db_getline(f, buf)) != -1) {
		line++;
		if (n == -2) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes",
				 path, line, AUTH_LINE_MAX);
			rc = -1;
		} else if (n == -3) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(errno));
			rc = -1;
		} else {
			int k = auth_db_parse_line(buf, n, user, hash, why,
						   sizeof why);
			if (k < 0) {
				snprintf(err, errlen, "%s:%u: %s", path, line, why);
				rc = -1;
			} else if (k > 0 && auth_db_add(db, &cap, user, hash,
							line) < 0) {
				snprintf(err, errlen, "%s: out of memory", path);
				rc = -1;
			}
		}
	}
	explicit_bzero(buf, sizeof buf);
	explicit_bzero(hash, sizeof hash);
	return rc;
}

/** @brief Refuse a user named twice: the pair whose second line comes
 *  first in the file (users are sorted by name). */
static int auth_db_dups(const struct auth_db *db, const char *path, char *err,
			size_t errlen)
{
	const struct auth_user *a = NULL, *b = NULL;

	for (size_t i = 1; i < db->n; i++) {
		const struct auth_user *x = &db->users[i - 1], *y = &db->users[i];

		if (strcmp(x->name, y->name) != 0)
			continue;
		if (x->line > y->line) {
			const struct auth_user *t = x;
			x = y;
			y = t;
		}
		if (!b || y->line < b->line) {
			a = x;
			b = y;
		}
	}
	if (!b)
		return 0;
	snprintf(err, errlen, "%s:%u: user %s: also on line %u; keep one line per user",
		 path, b->line, b->name, a->line);
	return -1;
}

/** @brief A new hash of @pass with scheme @prefix at its default cost, in
 *  @out (AUTH_HASH_MAX bytes). */
static int auth_make_hash(const char *prefix, const char *pass, char *out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rc = -1;

	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt))
		return -1;
	cd = calloc(1, sizeof *cd);
	if (!cd)
		return -1;
	h = crypt_rn(pass, salt, cd, sizeof *cd);
	if (h && h[0] != '*' && strlen(h) < AUTH_HASH_MAX &&
	    strncmp(h, prefix, strlen(prefix)) == 0) {
		strcpy(out, h);
		rc = 0;
	} else {
		errno = EINVAL;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}

/** @brief The dummy hash: random bytes no one knows, hashed with the
 *  setting (scheme, cost, salt) of the first user of the file's most
 *  common scheme, so an unknown user costs what most users cost. */
static int auth_db_dummy(struct auth_db *db, const char *path, char *err,
			 size_t errlen)
{
	unsigned char rnd[32];
	char phrase[2 * sizeof rnd + 1];
	size_t count[AUTH_NSCHEMES] = { 0 }, best = 0;
	const struct auth_user *like = NULL;
	struct crypt_data *cd;
	const char *h;
	int rc = -1;

	for (size_t i = 0; i < db->n; i++)
		count[db->users[i].scheme]++;
	for (size_t s = 1; s < AUTH_NSCHEMES; s++)
		if (count[s] > count[best])
			best = s;
	for (size_t i = 0; i < db->n && !like; i++)
		if ((size_t)db->users[i].scheme == best)
			like = &db->users[i];
	if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd) < 0) {
		snprintf(err, errlen, "%s: no random bytes for the dummy hash", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(phrase + 2 * i, 3, "%02x", rnd[i]);
	if (!like) {
		rc = auth_make_hash("$y$", phrase, db->dummy);
	} else if ((cd = calloc(1, sizeof *cd))) {
		h = crypt_rn(phrase, like->hash, cd, sizeof *cd);
		if (h && h[0] != '*' && strlen(h) < AUTH_HASH_MAX) {
			strcpy(db->dummy, h);
			rc = 0;
		}
		explicit_bzero(cd, sizeof *cd);
		free(cd);
	}
	if (rc < 0)
		snprintf(err, errlen,
			 "%s:%u: user %s: cannot make the dummy hash unknown users are checked against with this user's %s setting: make a new hash with `ssltunneld --hash-password` and replace the line",
			 path, like ? like->line : 0, like ? like->name : "?",
			 auth_schemes[best].name);
	explicit_bzero(rnd, sizeof rnd);
	explicit_bzero(phrase, sizeof phrase);
	return rc;
}

/** @brief Check once per scheme the file uses that this libcrypt really
 *  verifies it (a disabled method hashes to "*0"). */
static int auth_db_selftest(const struct auth_db *db, const char *path,
			    char *err, size_t errlen)
{
	const struct auth_user *first[AUTH_NSCHEMES] = { 0 };
	char h[AUTH_HASH_MAX];

	for (size_t i = 0; i < db->n; i++) {
		const struct auth_user *u = &db->users[i];

		if (!first[u->scheme] || u->line < first[u->scheme]->line)
			first[u->scheme] = u;
	}
	for (size_t s = 0; s < AUTH_NSCHEMES; s++) {
		if (!first[s] || auth_make_hash(auth_schemes[s].prefix,
						AUTH_SELFTEST, h) == 0)
			continue;
		snprintf(err, errlen,
			 "%s:%u: user %s: this system's libcrypt cannot verify %s hashes; make a new hash with `ssltunneld --hash-password` (yescrypt) and replace the line",
			 path, first[s]->line, first[s]->name, auth_schemes[s].name);
		return -1;
	}
	return 0;
}

int auth_db_load(struct auth_db **out, const char *path, char *err,
		 size_t errlen)
{
	struct auth_db *db = calloc(1, sizeof *db);
	FILE *f;

	*out = NULL;
	if (!db) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto err;
	}
	if (auth_db_read(db, f, path, err, errlen) < 0) {
		fclose(f);
		goto err;
	}
	fclose(f);
	if (db->n == 0) {
		snprintf(err, errlen, "%s: no users (expected user:HASH lines)", path);
		goto err;
	}
	qsort(db->users, db->n, sizeof *db->users, auth_user_cmp);
	if (auth_db_dups(db, path, err, errlen) < 0 ||
	    auth_db_selftest(db, path, err, errlen) < 0 ||
	    auth_db_dummy(db, path, err, errlen) < 0)
		goto err;
	*out = db;
	return 0;
err:
	auth_db_free(db);
	return -1;
}

void auth_db_free(struct auth_db *db)
{
	if (!db)
		return;
	if (db->users)
		explicit_bzero(db->users, db->n * sizeof *db->users);
	free(db->users);
	explicit_bzero(db, sizeof *db);
	free(db);
}

size_t auth_db_count(const struct auth_db *db)
{
	return db->n;
}

int auth_db_verify(const struct auth_db *db, const char *user,
		   const char *pass)
{
	struct auth_user key;
	const struct auth_user *u = NULL;
	struct crypt_data *cd;
	const char *h;
	int ok = 0;

	if (strlen(user) < sizeof key.name) {
		strcpy(key.name, user);
		u = bsearch(&key, db->users, db->n, sizeof *db->users,
			    auth_user_cmp);
	}
	cd = calloc(1, sizeof *cd);
	if (!cd)
		return 0;
	h = crypt_rn(pass, u ? u->hash : db->dummy, cd, sizeof *cd);
	if (h && h[0] != '*')
		ok = auth_ct_streq(h, u ? u->hash : db->dummy) & (u != NULL);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

int auth_hash_password(const char *pass, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	char h[AUTH_HASH_MAX];
	size_t n = strnlen(pass, AUTH_PASS_MAX);

	if (n == 0) {
		snprintf(err, errlen, "hash-password: the password is empty");
		return -1;
	}
	if (n >= AUTH_PASS_MAX) {
		snprintf(err, errlen,
			 "hash-password: the password is longer than %d bytes",
			 AUTH_PASS_MAX - 1);
		return -1;
	}
	if (auth_make_hash("$y$", pass, h) < 0) {
		snprintf(err, errlen, "hash-password: yescrypt failed: %s",
			 strerror(errno));
		return -1;
	}
	if (strlen(h) >= outlen) {
		snprintf(err, errlen,
			 "hash-password: the hash needs %zu bytes, the buffer has %zu",
			 strlen(h) + 1, outlen);
		explicit_bzero(h, sizeof h);
		return -1;
	}
	strcpy(out, h);
	explicit_bzero(h, sizeof h);
	return 0;
}

/* ---- Basic credentials ---- */

/** @brief Is the @n-byte token @t strict padded base64 (RFC 4648)? */
static int auth_b64_token_ok(const char *t, size_t n)
{
	size_t pad = 0;

	if (n == 0 || n % 4)
		return 0;
	while (pad < 2 && t[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++) {
		unsigned char c = (unsigned char)t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return 1;
}

/** @brief Does @s (@n bytes) hold a byte below 0x20 or 0x7f? */
static int auth_has_ctl(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/** @brief Split decoded "user:password" @d (@n bytes) into the buffers. */
static int auth_split_basic(const unsigned char *d, size_t n, char *user,
			    size_t userlen, char *pass, size_t passlen)
{
	const unsigned char *colon = memchr(d, ':', n);
	size_t ul, pl;

	if (!colon)
		return -1;
	ul = colon - d;
	pl = n - ul - 1;
	if (ul == 0 || ul >= userlen || pl >= passlen ||
	    auth_has_ctl(d, n))
		return -1;
	memcpy(user, d, ul);
	user[ul] = '\0';
	memcpy(pass, colon + 1, pl);
	pass[pl] = '\0';
	return 0;
}

int auth_parse_basic(const char *value, size_t len, char *user,
		     size_t userlen, char *pass, size_t passlen)
{
	gnutls_datum_t in, dec = { NULL, 0 };
	size_t a = 0, b = len, max;
	int rc = -1;

	if (userlen == 0 || passlen == 0)
		return -1;
	user[0] = pass[0] = '\0';
	while (a < b && (value[a] == ' ' || value[a] == '\t'))
		a++;
	while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
		b--;
	if (b - a < 6 || strncasecmp(value + a, "basic", 5) != 0 ||
	    (value[a + 5] != ' ' && value[a + 5] != '\t'))
		return -1;
	a += 5;
	while (a < b && (value[a] == ' ' || value[a] == '\t'))
		a++;
	/* user + ':' + password at most; base64 of that, rounded up */
	max = (userlen - 1 + 1 + passlen - 1 + 2) / 3 * 4;
	if (b - a > max || !auth_b64_token_ok(value + a, b - a))
		return -1;
	in.data = (unsigned char *)(value + a);
	in.size = (unsigned)(b - a);
	if (gnutls_base64_decode2(&in, &dec) < 0)
		return -1;
	rc = auth_split_basic(dec.data, dec.size, user, userlen, pass, passlen);
	explicit_bzero(dec.data, dec.size);
	gnutls_free(dec.data);
	if (rc < 0) {
		explicit_bzero(user, userlen);
		explicit_bzero(pass, passlen);
	}
	return rc;
}
