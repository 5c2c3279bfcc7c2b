/* test_auth.c - password logins: password files with hashes made by the
 * real tools (mkpasswd, htpasswd) and the weak forms refused at load, Basic
 * credentials, the login cache, the shared lockout table, and the
 * verification threads
 *
 * The hashes come from the tools at test time, so a missing tool fails the
 * test that needs it, naming its Debian package (whois, apache2-utils).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "unit.h"

#define PW "Tr0ub4dor-3"
/* yescrypt (default cost) of PW, from mkpasswd: for tests of the parser
 * and of the threads, which don't test the tools */
#define Y_PW "$y$j9T$w29sP.KV/q84JP5eGS8Vf.$PLEQVepDTgsJx4SyFoiPxbGY6Xf42ius8qo/Hhm1fW8"
/* sha512crypt at the least cost, for fast verifications */
#define S_PW_SALT "$6$rounds=1000$unitsalt$"

#define HOW_YES "make a new hash with `ssltunneld --hash-password` (yescrypt)"
#define NEEDED "the password is needed to make a new hash"

/* ---- helpers ---- */

/** @brief The first line @cmd prints, malloc'd. The test fails, naming the
 *  Debian package @pkg, if the tool is missing or fails. */
static char *tool(const char *cmd, const char *pkg)
{
	char buf[512] = "";
	FILE *f = popen(cmd, "r");
	int st;

	ck_assert_msg(f, "popen %s: %s", cmd, strerror(errno));
	if (!fgets(buf, sizeof buf, f))
		buf[0] = '\0';
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	ck_assert_msg(st == 0 && buf[0],
		      "`%s` failed (status %d): install the Debian package %s",
		      cmd, st, pkg);
	return strdup(buf);
}

/** @brief mkpasswd -m @method of PW (Debian package whois). */
static char *mkpasswd(const char *method)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "mkpasswd -m %s '" PW "'", method);
	return tool(cmd, "whois");
}

/** @brief htpasswd -nb@flag bob PW: the "bob:HASH" line (apache2-utils). */
static char *htpasswd(const char *flag)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "htpasswd -nb%s bob '" PW "'", flag);
	return tool(cmd, "apache2-utils");
}

/** @brief A sha512crypt hash of @pass at the least cost. */
static char *sha_fast(const char *pass)
{
	struct crypt_data cd;
	char *h;

	memset(&cd, 0, sizeof cd);
	h = crypt_rn(pass, S_PW_SALT, &cd, sizeof cd);
	ck_assert_msg(h && h[0] == '$', "crypt_rn sha512crypt failed");
	return strdup(h);
}

/** @brief Load @text written to @name; the load must succeed. */
static struct auth_db *load(const char *name, const char *text)
{
	char *path = unit_write(name, text), err[1024] = "";
	struct auth_db *db;

	ck_assert_msg(auth_db_load(&db, path, err, sizeof err) == 0,
		      "%s: %s", name, err);
	free(path);
	return db;
}

/** @brief Load @text written to @name; the load must fail. Returns the
 *  message with the file's path replaced by "F", malloc'd. */
static char *load_err(const char *name, const char *text)
{
	char *path = unit_write(name, text), err[1024] = "", *out;
	struct auth_db *db = (struct auth_db *)1;
	size_t pl = strlen(path);

	ck_assert_msg(auth_db_load(&db, path, err, sizeof err) == -1,
		      "%s loaded", name);
	ck_assert_ptr_null(db);
	ck_assert_msg(strncmp(err, path, pl) == 0, "no path in \"%s\"", err);
	ck_assert(asprintf(&out, "F%s", err + pl) > 0);
	free(path);
	return out;
}

/** @brief Milliseconds on the monotonic clock, as a double. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/** @brief A socket address for the IPv4 or IPv6 literal @ip (in one of a
 *  few static buffers, so a call's arguments may hold two). */
static struct sockaddr *SA(const char *ip)
{
	static struct sockaddr_storage ring[4];
	static unsigned next;
	struct sockaddr_storage *ss = &ring[next++ % 4];
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(1000 + next);
	} else {
		ck_assert_msg(inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1,
			      "bad test address %s", ip);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(1000 + next);
	}
	return (struct sockaddr *)ss;
}

/* ---- the password file: hashes from the real tools ---- */

START_TEST(file_real_tools)
{
	char *y = mkpasswd("yescrypt"), *s6 = mkpasswd("sha-512");
	char *s5 = mkpasswd("sha-256"), *gy = mkpasswd("gost-yescrypt");
	char *sc = mkpasswd("scrypt"), *b = htpasswd("B"), *text;
	struct auth_db *db;

	ck_assert_msg(strncmp(b, "bob:$2y$", 8) == 0, "htpasswd -B wrote %s", b);
	ck_assert(asprintf(&text,
			   "# users of the test\n"
			   "\n"
			   "alice:%s\n"
			   "   \t\n"
			   "%s\r\n"
			   "carol:%s\n"
			   "dave:%s\n"
			   "  # an indented comment\n"
			   "erin:%s\n"
			   "frank:%s", y, b, s6, s5, gy, sc) > 0);
	db = load("real.txt", text);
	ck_assert_uint_eq(auth_db_count(db), 6);
	ck_assert_int_eq(auth_db_verify(db, "alice", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "alice", PW "x"), 0);
	ck_assert_int_eq(auth_db_verify(db, "bob", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "bob", "Tr0ub4dor-"), 0);
	ck_assert_int_eq(auth_db_verify(db, "carol", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "carol", ""), 0);
	ck_assert_int_eq(auth_db_verify(db, "dave", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "dave", "tr0ub4dor-3"), 0);
	ck_assert_int_eq(auth_db_verify(db, "erin", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "frank", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "frank", "pw"), 0);
	/* a user's password doesn't open another's account */
	ck_assert_int_eq(auth_db_verify(db, "Alice", PW), 0);
	ck_assert_int_eq(auth_db_verify(db, "nobody", PW), 0);
	ck_assert_int_eq(auth_db_verify(db, "", PW), 0);
	auth_db_free(db);
	free(text);
	free(y);
	free(s6);
	free(s5);
	free(gy);
	free(sc);
	free(b);
}
END_TEST

START_TEST(file_unknown_user_costs_the_same)
{
	struct auth_db *db = load("one.txt", "alice:" Y_PW "\n");
	double known = 1e9, unknown = 1e9;

	ck_assert_int_eq(auth_db_verify(db, "alice", PW), 1);
	for (int i = 0; i < 2; i++) {
		double t = now_ms(), k;

		ck_assert_int_eq(auth_db_verify(db, "alice", "wrong"), 0);
		k = now_ms();
		known = k - t < known ? k - t : known;
		ck_assert_int_eq(auth_db_verify(db, "mallory", "wrong"), 0);
		unknown = now_ms() - k < unknown ? now_ms() - k : unknown;
	}
	/* without the dummy hash an unknown user answers in microseconds */
	ck_assert_msg(unknown * 4 > known,
		      "unknown user %.3f ms, wrong password %.3f ms", unknown,
		      known);
	auth_db_free(db);
}
END_TEST

/* ---- the password file: weak forms refused ---- */

/** @brief "bob:" + @hash as line 2 of a file must be refused as @what, with
 *  the advice, and without the hash (or @secret) in the message. */
static void refused(const char *hash, const char *what, int hashed,
		    const char *secret)
{
	char *text, *e, tail[16];
	size_t hl = strlen(hash);

	ck_assert(asprintf(&text, "alice:" Y_PW "\nbob:%s\n", hash) > 0);
	e = load_err("weak.txt", text);
	ck_assert_msg(strncmp(e, "F:2: user bob: ", 15) == 0, "%s", e);
	ck_assert_msg(strstr(e, what), "\"%s\" lacks \"%s\"", e, what);
	ck_assert_msg(strstr(e, HOW_YES " or `htpasswd -nB bob` (bcrypt) and replace the line"),
		      "no advice in \"%s\"", e);
	ck_assert_msg(!hashed == !strstr(e, NEEDED), "%s", e);
	if (hl >= 8) {
		ck_assert_msg(!strstr(e, hash), "hash in \"%s\"", e);
		snprintf(tail, sizeof tail, "%s", hash + hl - 8);
		ck_assert_msg(!strstr(e, tail), "hash in \"%s\"", e);
	}
	if (secret)
		ck_assert_msg(!strstr(e, secret), "password in \"%s\"", e);
	free(e);
	free(text);
}

START_TEST(file_weak_digests)
{
	char *e = load_err("plain.txt", "simon:secret\n");

	ck_assert_str_eq(e, "F:1: user simon: a plaintext password, not a crypt(3) hash; "
			 HOW_YES " or `htpasswd -nB simon` (bcrypt) and replace the line");
	free(e);
	e = load_err("users.txt", "user:5f4dcc3b5aa765d61d8327deb882cf99\n");
	ck_assert_str_eq(e, "F:1: user user: an unsalted MD5 hex digest (like node-websocket-tunnel's users.txt), fast to crack; "
			 "a hash can't be converted, " NEEDED ": "
			 HOW_YES " or `htpasswd -nB user` (bcrypt) and replace the line");
	free(e);
	/* node-websocket-tunnel's users.txt: MD5("password") */
	refused("5f4dcc3b5aa765d61d8327deb882cf99",
		"an unsalted MD5 hex digest (like node-websocket-tunnel's users.txt)",
		1, NULL);
	refused("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
		"an unsalted SHA-1 hex digest", 1, NULL);
	refused("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
		"an unsalted SHA-256 hex digest", 1, NULL);
	refused("b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb9"
		"80b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86",
		"an unsalted SHA-512 hex digest", 1, NULL);
	refused("secret", "a plaintext password, not a crypt(3) hash", 0,
		"secret");
	refused("correct horse battery staple", "a plaintext password", 0,
		"horse");
	refused("", "no hash after ':'", 0, NULL);
	/* unknown scheme: says so without echoing the "scheme" back */
	refused("$3$$8cc19b6a8cfeac299c2871c86b38de28",
		"an unknown hash scheme (accepted: yescrypt $y$", 1, NULL);
	refused("$ecretZebra42x", "an unknown hash scheme", 1, "ecretZebra");
}
END_TEST

START_TEST(file_weak_crypt)
{
	char *des = mkpasswd("descrypt"), *md5 = mkpasswd("md5crypt");
	char *b2a = mkpasswd("bcrypt-a"), *apr = htpasswd("m");
	char *sha = htpasswd("s"), *s6 = mkpasswd("sha-512");

	ck_assert_uint_eq(strlen(des), 13);
	refused(des, "a DES crypt hash", 1, NULL);
	ck_assert_msg(strncmp(md5, "$1$", 3) == 0, "%s", md5);
	refused(md5, "an MD5-crypt ($1$) hash", 1, NULL);
	ck_assert_msg(strncmp(apr, "bob:$apr1$", 10) == 0, "%s", apr);
	refused(apr + 4, "an Apache MD5 ($apr1$, htpasswd -m) hash", 1, NULL);
	ck_assert_msg(strncmp(sha, "bob:{SHA}", 9) == 0, "%s", sha);
	refused(sha + 4, "an unsalted SHA-1 hash ({SHA}, htpasswd -s)", 1, NULL);
	ck_assert_msg(strncmp(b2a, "$2a$", 4) == 0, "%s", b2a);
	refused(b2a, "an old bcrypt ($2a$) hash", 1, NULL);
	b2a[2] = 'x';
	refused(b2a, "an old bcrypt ($2x$) hash", 1, NULL);
	/* a hash cut short */
	s6[strlen(s6) - 3] = '\0';
	refused(s6, "a malformed sha512crypt ($6$) hash", 1, NULL);
	refused("$y$j9T$w29sP.KV/q84JP5eGS8Vf.", "a malformed yescrypt ($y$) hash",
		1, NULL);
	refused("$2y$05$Tt4QJv8cdtW3rIZjvDW6qeIz1YCiWcEiu4O6WskON/FrStNCGbmf",
		"a malformed bcrypt ($2y$) hash", 1, NULL);
	free(des);
	free(md5);
	free(b2a);
	free(apr);
	free(sha);
	free(s6);
}
END_TEST

#define LINE_ERR(text, want) do { \
		char *e_ = load_err("bad.txt", (text)); \
		ck_assert_str_eq(e_, (want)); \
		free(e_); \
	} while (0)

START_TEST(file_bad_lines)
{
	char user64[65], *text, *e;
	char line[1100];

	LINE_ERR("# users\nalice " Y_PW "\n",
		 "F:2: no ':' between user name and hash (expected user:HASH)");
	LINE_ERR(":" Y_PW "\n", "F:1: empty user name before ':'");
	memset(user64, 'u', 64);
	user64[64] = '\0';
	ck_assert(asprintf(&text, "%s:" Y_PW "\n", user64) > 0);
	LINE_ERR(text, "F:1: user name longer than 63 bytes");
	free(text);
	/* 63 bytes is fine */
	ck_assert(asprintf(&text, "%s:" Y_PW "\n", user64 + 1) > 0);
	auth_db_free(load("u63.txt", text));
	free(text);
	LINE_ERR("bo b:" Y_PW "\n",
		 "F:1: user name has a space or control byte (0x20) at byte 3");
	LINE_ERR("bob\t:" Y_PW "\n",
		 "F:1: user name has a space or control byte (0x09) at byte 4");
	LINE_ERR("b\x7f:" Y_PW "\n",
		 "F:1: user name has a space or control byte (0x7f) at byte 2");
	LINE_ERR(" bob:" Y_PW "\n",
		 "F:1: user name has a space or control byte (0x20) at byte 1");
	/* /etc/shadow's layout is not a password file */
	LINE_ERR("bob:" Y_PW ":19000:0:99999:7:::\n",
		 "F:1: user bob: more than one ':' (a line is user:HASH, and crypt(3) hashes have no ':')");
	/* a trailing space is part of the hash: refused, not trimmed */
	e = load_err("space.txt", "bob:" Y_PW " \n");
	ck_assert_msg(strstr(e, "F:1: user bob: a malformed yescrypt ($y$) hash"), "%s", e);
	free(e);

	/* lines of 1024 bytes are read, longer ones refused by number */
	memset(line, '#', 1024);
	line[1024] = '\0';
	ck_assert(asprintf(&text, "%s\nalice:" Y_PW "\n", line) > 0);
	auth_db_free(load("long1024.txt", text));
	free(text);
	ck_assert(asprintf(&text, "alice:" Y_PW "\n#%s\n", line) > 0);
	LINE_ERR(text, "F:2: line longer than 1024 bytes");
	free(text);
}
END_TEST

START_TEST(file_duplicates_and_empty)
{
	char *e, err[512];
	struct auth_db *db;

	LINE_ERR("alice:" Y_PW "\nbob:" Y_PW "\n# x\nalice:" Y_PW "\n",
		 "F:4: user alice: also on line 1; keep one line per user");
	/* the first repeated line of the file is named */
	LINE_ERR("zed:" Y_PW "\nbob:" Y_PW "\nbob:" Y_PW "\nzed:" Y_PW "\n",
		 "F:3: user bob: also on line 2; keep one line per user");
	LINE_ERR("", "F: no users (expected user:HASH lines)");
	LINE_ERR("# nobody yet\n\n\r\n", "F: no users (expected user:HASH lines)");

	e = unit_write("missing/.keep", "");
	db = (struct auth_db *)1;
	snprintf(e + strlen(e) - 5, 6, "nope");
	ck_assert_int_eq(auth_db_load(&db, e, err, sizeof err), -1);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "/missing/nope: cannot read: No such file or directory"),
		      "%s", err);
	e[strlen(e) - 5] = '\0';
	ck_assert_int_eq(auth_db_load(&db, e, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "/missing: cannot read: Is a directory"), "%s", err);
	free(e);
}
END_TEST

START_TEST(file_parse_line)
{
	char user[AUTH_USER_MAX], hash[AUTH_HASH_MAX], why[512];
	const char *l = "alice:" Y_PW "\r";

	ck_assert_int_eq(auth_db_parse_line(l, strlen(l), user, hash, why,
					    sizeof why), 1);
	ck_assert_str_eq(user, "alice");
	ck_assert_str_eq(hash, Y_PW);
	/* only @len bytes count: here the line stops before the '\r' */
	ck_assert_int_eq(auth_db_parse_line(l, strlen(l) - 1, user, hash, why,
					    sizeof why), 1);
	ck_assert_str_eq(hash, Y_PW);
	ck_assert_int_eq(auth_db_parse_line("#x", 2, user, hash, why, sizeof why), 0);
	ck_assert_int_eq(auth_db_parse_line("", 0, user, hash, why, sizeof why), 0);
	ck_assert_int_eq(auth_db_parse_line("\r", 1, user, hash, why, sizeof why), 0);
	ck_assert_int_eq(auth_db_parse_line("a\0b:x", 5, user, hash, why,
					    sizeof why), -1);
	ck_assert_str_eq(why, "user name has a space or control byte (0x00) at byte 2");
	/* sha-crypt with and without rounds, bcrypt $2b$ */
	l = "u:$6$rounds=5000$salt$"
	    "IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.";
	ck_assert_int_eq(auth_db_parse_line(l, strlen(l), user, hash, why,
					    sizeof why), 1);
	l = "u:$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF4XVgI7C";
	ck_assert_int_eq(auth_db_parse_line(l, strlen(l), user, hash, why,
					    sizeof why), 1);
	l = "u:$2b$05$jB.3nql2zsHG2lQHE6wYLebOM.rt6zuRoLGc8eqfiJRRRG1JK7cki";
	ck_assert_int_eq(auth_db_parse_line(l, strlen(l), user, hash, why,
					    sizeof why), 1);
	l = "u:$6$rounds=x$salt$"
	    "IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.";
	ck_assert_int_eq(auth_db_parse_line(l, strlen(l), user, hash, why,
					    sizeof why), -1);
}
END_TEST

/* ---- hash-password ---- */

START_TEST(hash_password)
{
	char h[AUTH_HASH_MAX], err[256] = "", *text, big[AUTH_PASS_MAX + 1];
	struct auth_db *db;

	ck_assert_msg(auth_hash_password(PW, h, sizeof h, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_msg(strncmp(h, "$y$j9T$", 7) == 0, "%s", h);
	ck_assert_ptr_null(strchr(h, ':'));
	ck_assert(asprintf(&text, "alice:%s\n", h) > 0);
	db = load("hashed.txt", text);
	ck_assert_int_eq(auth_db_verify(db, "alice", PW), 1);
	ck_assert_int_eq(auth_db_verify(db, "alice", PW " "), 0);
	auth_db_free(db);
	free(text);

	ck_assert_int_eq(auth_hash_password("", h, sizeof h, err, sizeof err), -1);
	ck_assert_str_eq(err, "hash-password: the password is empty");
	memset(big, 'p', AUTH_PASS_MAX);
	big[AUTH_PASS_MAX] = '\0';
	ck_assert_int_eq(auth_hash_password(big, h, sizeof h, err, sizeof err), -1);
	ck_assert_str_eq(err, "hash-password: the password is longer than 255 bytes");
	big[AUTH_PASS_MAX - 1] = '\0';
	ck_assert_msg(auth_hash_password(big, h, sizeof h, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(auth_hash_password(PW, h, 20, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "hash-password: the hash needs 74 bytes, the buffer has 20"),
		      "%s", err);
}
END_TEST

/* ---- Basic credentials ---- */

/** @brief "Basic " + base64 of the @n bytes at @up, malloc'd. */
static char *basic_of(const char *up, size_t n)
{
	gnutls_datum_t in = { (unsigned char *)up, (unsigned)n }, b64;
	char *out;

	ck_assert(gnutls_base64_encode2(&in, &b64) == 0);
	ck_assert(asprintf(&out, "Basic %.*s", (int)b64.size, b64.data) > 0);
	gnutls_free(b64.data);
	return out;
}

/** @brief Parse @v from a buffer of exactly @len bytes (no NUL after it). */
static int basic(const char *v, size_t len, char *user, size_t ul,
		 char *pass, size_t pl)
{
	char *copy = calloc(len ? len : 1, 1);
	int rc;

	memcpy(copy, v, len);
	rc = auth_parse_basic(copy, len, user, ul, pass, pl);
	free(copy);
	return rc;
}

#define BASIC_OK(v, u, p) do { \
		char u_[AUTH_USER_MAX], p_[AUTH_PASS_MAX]; \
		ck_assert_msg(basic((v), strlen(v), u_, sizeof u_, p_, \
				    sizeof p_) == 0, "\"%s\" refused", (v)); \
		ck_assert_str_eq(u_, (u)); \
		ck_assert_str_eq(p_, (p)); \
	} while (0)

#define BASIC_BAD_N(v, n) do { \
		char u_[AUTH_USER_MAX], p_[AUTH_PASS_MAX]; \
		ck_assert_msg(basic((v), (n), u_, sizeof u_, p_, \
				    sizeof p_) == -1, "\"%s\" accepted", (v)); \
	} while (0)
#define BASIC_BAD(v) BASIC_BAD_N((v), strlen(v))

/** @brief Basic of "user:password" @up (@n bytes) must be refused. */
static void basic_bad_creds(const char *up, size_t n)
{
	char *v = basic_of(up, n);

	BASIC_BAD(v);
	free(v);
}

START_TEST(basic_good)
{
	char u[AUTH_USER_MAX], p[AUTH_PASS_MAX], long_up[AUTH_USER_MAX + AUTH_PASS_MAX];
	char *v;

	BASIC_OK("Basic dXNlcjpwYXNz", "user", "pass");
	BASIC_OK("basic dXNlcjpwYXNz", "user", "pass");
	BASIC_OK("BASIC\tdXNlcjpwYXNz", "user", "pass");
	BASIC_OK("  Basic   dXNlcjpwYXNz \t ", "user", "pass");
	BASIC_OK("Basic dTo=", "u", "");			/* "u:" */
	BASIC_OK("Basic YTpiOmM=", "a", "b:c");			/* "a:b:c" */
	v = basic_of("j\xc3\xb6rg:p\xc3\xa4ss w\xc3\xb6rd", 17);
	BASIC_OK(v, "j\xc3\xb6rg", "p\xc3\xa4ss w\xc3\xb6rd");
	free(v);
	/* only @len bytes are read: what follows is no part of the value */
	ck_assert_int_eq(basic("Basic dXNlcjpwYXNzQUFB", 18, u, sizeof u, p,
			       sizeof p), 0);
	ck_assert_str_eq(p, "pass");
	/* the longest user and password that fit */
	memset(long_up, 'u', AUTH_USER_MAX - 1);
	long_up[AUTH_USER_MAX - 1] = ':';
	memset(long_up + AUTH_USER_MAX, 'p', AUTH_PASS_MAX - 1);
	v = basic_of(long_up, AUTH_USER_MAX + AUTH_PASS_MAX - 1);
	ck_assert_int_eq(basic(v, strlen(v), u, sizeof u, p, sizeof p), 0);
	ck_assert_uint_eq(strlen(u), AUTH_USER_MAX - 1);
	ck_assert_uint_eq(strlen(p), AUTH_PASS_MAX - 1);
	/* the same into smaller buffers: too long */
	ck_assert_int_eq(basic(v, strlen(v), u, sizeof u - 1, p, sizeof p), -1);
	ck_assert_int_eq(basic(v, strlen(v), u, sizeof u, p, sizeof p - 1), -1);
	free(v);
}
END_TEST

START_TEST(basic_bad)
{
	char up[AUTH_USER_MAX + 8];

	BASIC_BAD("");
	BASIC_BAD("Basic");
	BASIC_BAD("Basic ");
	BASIC_BAD("Bearer dXNlcjpwYXNz");
	BASIC_BAD("BasicdXNlcjpwYXNz");
	BASIC_BAD("Basi dXNlcjpwYXNz");
	BASIC_BAD("Digest username=\"user\"");
	BASIC_BAD_N("Basic dXNlcjpwYXNz", 17);		/* truncated by len */
	BASIC_BAD("Basic dXNlcjpwYXN");			/* truncated base64 */
	BASIC_BAD("Basic dXNlcjpwYX==");		/* bad padding */
	BASIC_BAD("Basic dXNlcjpw=XNz");
	BASIC_BAD("Basic dXNlcjpwYXNz=");
	BASIC_BAD("Basic dXNlcj pwYXNz");		/* space inside */
	BASIC_BAD("Basic dXNlcjpwYXNz dXNl");
	BASIC_BAD("Basic dXNl*jpwYXNz");
	BASIC_BAD("Basic dXNlcjpwYXNz\r");
	BASIC_BAD_N("Basic dXNl\0jpwYXNz", 18);
	BASIC_BAD("Basic dXNlcnBhc3M=");		/* "userpass": no ':' */
	BASIC_BAD("Basic OnBhc3M=");			/* ":pass": no user */
	BASIC_BAD("Basic Og==");			/* ":" */
	basic_bad_creds("u\x01:pass", 7);
	basic_bad_creds("user:pa\x7fss", 10);
	basic_bad_creds("user:pa\nss", 10);
	basic_bad_creds("user:pa\0ss", 10);
	basic_bad_creds("us\0er:pass", 10);
	basic_bad_creds("user:pass\r\n", 11);
	memset(up, 'u', AUTH_USER_MAX);
	memcpy(up + AUTH_USER_MAX, ":pw", 3);
	basic_bad_creds(up, AUTH_USER_MAX + 3);		/* 64-byte user */
}
END_TEST

/* ---- the cache ---- */

START_TEST(cache_hits)
{
	struct auth_cache *c;

	ck_assert_int_eq(auth_cache_new(&c, 16, 10), 0);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 1000), 0);
	auth_cache_put(c, "alice", PW, 1000);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 1000), 1);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 10999), 1);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 11000), 0);	/* expired */
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW "x", 2000), 0);
	ck_assert_int_eq(auth_cache_hit(c, "alice", "", 2000), 0);
	ck_assert_int_eq(auth_cache_hit(c, "bob", PW, 2000), 0);
	/* the user/password split is part of the key */
	auth_cache_put(c, "ab", "c", 1000);
	ck_assert_int_eq(auth_cache_hit(c, "ab", "c", 1000), 1);
	ck_assert_int_eq(auth_cache_hit(c, "a", "bc", 1000), 0);
	/* put again after expiry: valid for a full ttl again */
	auth_cache_put(c, "alice", PW, 20000);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 29999), 1);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 30000), 0);
	auth_cache_free(c);
}
END_TEST

START_TEST(cache_bounded)
{
	struct auth_cache *c;
	char u[16];

	ck_assert_int_eq(auth_cache_new(&c, 3, 60), 0);
	auth_cache_put(c, "u0", "p", 1000);
	auth_cache_put(c, "u1", "p", 1001);
	auth_cache_put(c, "u2", "p", 1002);
	auth_cache_put(c, "u3", "p", 1003);	/* u0 goes */
	ck_assert_int_eq(auth_cache_hit(c, "u0", "p", 1004), 0);
	ck_assert_int_eq(auth_cache_hit(c, "u1", "p", 1004), 1);
	ck_assert_int_eq(auth_cache_hit(c, "u3", "p", 1004), 1);
	/* u1 put again is the newest: u2 goes next, then u3 */
	auth_cache_put(c, "u1", "p", 1005);
	auth_cache_put(c, "u4", "p", 1006);
	ck_assert_int_eq(auth_cache_hit(c, "u2", "p", 1007), 0);
	ck_assert_int_eq(auth_cache_hit(c, "u1", "p", 1007), 1);
	auth_cache_put(c, "u5", "p", 1008);
	ck_assert_int_eq(auth_cache_hit(c, "u3", "p", 1009), 0);
	ck_assert_int_eq(auth_cache_hit(c, "u1", "p", 1009), 1);
	ck_assert_int_eq(auth_cache_hit(c, "u4", "p", 1009), 1);
	ck_assert_int_eq(auth_cache_hit(c, "u5", "p", 1009), 1);
	auth_cache_free(c);

	/* many more than fit: the newest are there, never more than max */
	ck_assert_int_eq(auth_cache_new(&c, 100, 60), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(u, sizeof u, "user%d", i);
		auth_cache_put(c, u, "p", 1000 + i);
	}
	for (int i = 0, hits = 0; i <= 1000; i++) {
		snprintf(u, sizeof u, "user%d", i);
		if (i == 1000) {
			ck_assert_int_eq(hits, 100);
			break;
		}
		hits += auth_cache_hit(c, u, "p", 3000);
		ck_assert_int_eq(auth_cache_hit(c, u, "p", 3000), i >= 900);
	}
	auth_cache_free(c);
}
END_TEST

START_TEST(cache_disabled)
{
	struct auth_cache *c;

	ck_assert_int_eq(auth_cache_new(&c, 16, 0), 0);
	auth_cache_put(c, "alice", PW, 1000);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 1000), 0);
	auth_cache_free(c);
	ck_assert_int_eq(auth_cache_new(&c, 0, 60), 0);
	auth_cache_put(c, "alice", PW, 1000);
	ck_assert_int_eq(auth_cache_hit(c, "alice", PW, 1000), 0);
	auth_cache_free(c);
	ck_assert_int_eq(auth_cache_new(&c, 16, -1), -1);
}
END_TEST

/* ---- the lockout table ---- */

/** @brief A table of @n slots: 5 failures in 60 s lock out for 60 s. */
static struct auth_lockout *table(size_t n, void **mem)
{
	size_t size = auth_lockout_size(n);
	struct auth_lockout *l;

	*mem = malloc(size);
	l = auth_lockout_init(*mem, size, 5, 60, 60);
	ck_assert_ptr_nonnull(l);
	return l;
}

/** @brief Fail @src @n times at @t ms, none of them locking it. */
static void fail_n(struct auth_lockout *l, const char *src, int n, uint64_t t)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(auth_lockout_fail(l, SA(src), t) == 0,
			      "%s locked by failure %d", src, i + 1);
}

START_TEST(lockout_locks)
{
	void *mem;
	struct auth_lockout *l = table(16, &mem);
	const uint64_t t = 5000000;

	fail_n(l, "192.0.2.1", 4, t);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t), 0);
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.1"), t + 100), 1);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 100), 60000);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 30100), 30000);
	/* the 6th failure neither reports again nor extends the lock */
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.1"), t + 30100), 0);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 60099), 1);
	/* another address, the same port or not, is not locked */
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.2"), t + 100), 0);
	/* the lock ends; the count starts again from zero */
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 60100), 0);
	fail_n(l, "192.0.2.1", 4, t + 60100);
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.1"), t + 60200), 1);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 60200), 60000);
	free(mem);
}
END_TEST

START_TEST(lockout_window)
{
	void *mem;
	struct auth_lockout *l = table(16, &mem);
	const uint64_t t = 1000;

	fail_n(l, "192.0.2.1", 4, t);
	/* the window has passed: this failure is the first of a new count */
	fail_n(l, "192.0.2.1", 4, t + 60000);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 60000), 0);
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.1"), t + 119999), 1);
	free(mem);
}
END_TEST

START_TEST(lockout_families)
{
	void *mem;
	struct auth_lockout *l = table(16, &mem);
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/x" };
	const uint64_t t = 1000;

	/* IPv6 counts per /64 */
	fail_n(l, "2001:db8:1:2::1", 2, t);
	fail_n(l, "2001:db8:1:2:ffff::9", 2, t);
	ck_assert_int_eq(auth_lockout_fail(l, SA("2001:db8:1:2:abcd:1:2:3"), t), 1);
	ck_assert_uint_eq(auth_lockout_check(l, SA("2001:db8:1:2::77"), t), 60000);
	ck_assert_uint_eq(auth_lockout_check(l, SA("2001:db8:1:3::1"), t), 0);
	ck_assert_uint_eq(auth_lockout_check(l, SA("2001:db8:1::1"), t), 0);
	/* IPv4-mapped IPv6 is the IPv4 address, not the /64 ::ffff:0:0 */
	fail_n(l, "::ffff:198.51.100.7", 2, t);
	fail_n(l, "198.51.100.7", 2, t);
	ck_assert_int_eq(auth_lockout_fail(l, SA("::ffff:198.51.100.7"), t), 1);
	ck_assert_uint_eq(auth_lockout_check(l, SA("198.51.100.7"), t), 60000);
	ck_assert_uint_eq(auth_lockout_check(l, SA("198.51.100.8"), t), 0);
	ck_assert_uint_eq(auth_lockout_check(l, SA("::ffff:198.51.100.8"), t), 0);
	ck_assert_uint_eq(auth_lockout_check(l, SA("::"), t), 0);
	/* a local socket is never locked */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(auth_lockout_fail(l, (struct sockaddr *)&un, t), 0);
	ck_assert_uint_eq(auth_lockout_check(l, (struct sockaddr *)&un, t), 0);
	free(mem);
}
END_TEST

START_TEST(lockout_table_full)
{
	void *mem;
	struct auth_lockout *l = table(2, &mem);
	const uint64_t t = 1000;

	ck_assert_ptr_null(auth_lockout_init(mem, auth_lockout_size(0), 5, 60, 60));
	l = auth_lockout_init(mem, auth_lockout_size(2), 5, 60, 60);
	ck_assert_ptr_nonnull(l);
	fail_n(l, "192.0.2.1", 4, t);
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.1"), t), 1);
	fail_n(l, "192.0.2.2", 3, t + 10);
	/* full: 192.0.2.3 takes the slot of .2 (idle less long than .1,
	 * but .1 is locked) */
	fail_n(l, "192.0.2.3", 1, t + 20);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 20), 59980);
	fail_n(l, "192.0.2.2", 4, t + 30);	/* counts from zero again */
	ck_assert_int_eq(auth_lockout_fail(l, SA("192.0.2.2"), t + 30), 1);
	/* now both slots are locked (.3 was evicted by .2): the one idle
	 * longest goes */
	fail_n(l, "192.0.2.4", 1, t + 40);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.1"), t + 40), 0);
	ck_assert_uint_eq(auth_lockout_check(l, SA("192.0.2.2"), t + 40), 59990);
	free(mem);
}
END_TEST

START_TEST(lockout_shared_with_child)
{
	size_t size = auth_lockout_size(64);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct auth_lockout *l;
	int st;
	pid_t pid;

	ck_assert_ptr_ne(mem, MAP_FAILED);
	l = auth_lockout_init(mem, size, 5, 60, 60);
	ck_assert_ptr_nonnull(l);
	fail_n(l, "203.0.113.9", 3, 1000);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* the parent's 3 failures are here: the 5th locks */
		int ok = auth_lockout_fail(l, SA("203.0.113.9"), 1100) == 0 &&
			 auth_lockout_fail(l, SA("203.0.113.9"), 1100) == 1;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "the child did not see the parent's failures");
	ck_assert_uint_eq(auth_lockout_check(l, SA("203.0.113.9"), 1100), 60000);
	munmap(mem, size);
}
END_TEST

/* ---- the verification threads ---- */

struct result {
	int called;
	int ok;
};

/** @brief @done for the pool tests. */
static void record(void *arg, int ok)
{
	struct result *r = arg;

	r->called++;
	r->ok = ok;
}

/** @brief Run the pool's events until @r[0..@n) are all called (10 s at
 *  most), skipping those in @skip (a bit mask). */
static void wait_all(struct auth_pool *p, struct result *r, int n,
		     unsigned skip)
{
	struct pollfd pfd = { .fd = auth_pool_fd(p), .events = POLLIN };
	double end = now_ms() + 10000;

	for (;;) {
		int pending = 0;

		for (int i = 0; i < n; i++)
			pending += !(skip >> i & 1) && !r[i].called;
		if (!pending)
			return;
		ck_assert_msg(now_ms() < end, "%d jobs not done after 10 s", pending);
		if (poll(&pfd, 1, 100) > 0)
			auth_pool_event(p);
	}
}

/** @brief A password file: alice's password is PW (yescrypt), bob's is
 *  "bob" (fast sha512crypt). */
static struct auth_db *pool_db(void)
{
	char *b = sha_fast("bob"), *text;
	struct auth_db *db;

	ck_assert(asprintf(&text, "alice:" Y_PW "\nbob:%s\n", b) > 0);
	db = load("pool.txt", text);
	free(text);
	free(b);
	return db;
}

START_TEST(pool_results)
{
	struct auth_db *db = pool_db();
	struct auth_pool *p;
	struct result r[6] = { { 0 } };
	char err[256];
	static const struct {
		const char *user, *pass;
		int ok;
	} jobs[6] = {
		{ "alice", PW, 1 }, { "alice", "bob", 0 }, { "bob", "bob", 1 },
		{ "bob", PW, 0 }, { "carol", "bob", 0 }, { "bob", "bob", 1 },
	};

	ck_assert_msg(auth_pool_new(&p, 2, 8, err, sizeof err) == 0, "%s", err);
	ck_assert_int_ge(auth_pool_fd(p), 0);
	for (int i = 0; i < 6; i++) {
		char user[16], pass[16];

		/* the pool keeps its own copies */
		snprintf(user, sizeof user, "%s", jobs[i].user);
		snprintf(pass, sizeof pass, "%s", jobs[i].pass);
		ck_assert_ptr_nonnull(auth_submit(p, db, user, pass, record, &r[i]));
		memset(user, 'x', sizeof user - 1);
		memset(pass, 'x', sizeof pass - 1);
	}
	wait_all(p, r, 6, 0);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(r[i].called, 1);
		ck_assert_msg(r[i].ok == jobs[i].ok, "job %d (%s): %d", i,
			      jobs[i].user, r[i].ok);
	}
	/* nothing more comes */
	auth_pool_event(p);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(r[i].called, 1);
	auth_pool_free(p);
	auth_db_free(db);
}
END_TEST

START_TEST(pool_cancel)
{
	struct auth_db *db = pool_db();
	struct pollfd pfd;
	struct auth_pool *p;
	struct auth_job *j[6];
	struct result r[6] = { { 0 } };
	char err[256];

	ck_assert_msg(auth_pool_new(&p, 1, 8, err, sizeof err) == 0, "%s", err);
	/* 0 runs (or waits), 1 and 2 wait behind it: cancel 0 and 1 */
	j[0] = auth_submit(p, db, "alice", PW, record, &r[0]);
	j[1] = auth_submit(p, db, "alice", PW, record, &r[1]);
	j[2] = auth_submit(p, db, "bob", "bob", record, &r[2]);
	ck_assert(j[0] && j[1] && j[2]);
	usleep(2000);		/* most likely running by now */
	auth_cancel(j[0]);
	auth_cancel(j[1]);
	j[3] = auth_submit(p, db, "bob", "bob", record, &r[3]);
	wait_all(p, r, 4, 0x3);
	ck_assert_int_eq(r[0].called, 0);
	ck_assert_int_eq(r[1].called, 0);
	ck_assert_int_eq(r[2].called + r[3].called, 2);

	/* cancelled once finished, before the loop ran its event */
	j[4] = auth_submit(p, db, "bob", "bob", record, &r[4]);
	pfd.fd = auth_pool_fd(p);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	auth_cancel(j[4]);
	auth_pool_event(p);
	ck_assert_int_eq(r[4].called, 0);
	/* and a cancel in the middle of a slow job */
	j[5] = auth_submit(p, db, "alice", PW, record, &r[5]);
	usleep(3000);
	auth_cancel(j[5]);
	usleep(100000);
	auth_pool_event(p);
	ck_assert_int_eq(r[5].called, 0);
	ck_assert_int_eq(r[0].called + r[1].called, 0);
	auth_cancel(NULL);
	auth_pool_free(p);
	auth_db_free(db);
}
END_TEST

START_TEST(pool_queue_full)
{
	struct auth_db *db = pool_db();
	struct auth_pool *p;
	struct result r[4] = { { 0 } };
	char err[256];
	int n = 0;

	ck_assert_msg(auth_pool_new(&p, 1, 1, err, sizeof err) == 0, "%s", err);
	/* one running and one waiting at most */
	while (n < 3 && auth_submit(p, db, "alice", PW, record, &r[n]))
		n++;
	ck_assert_msg(n == 1 || n == 2, "%d jobs taken by a queue of 1", n);
	ck_assert_int_eq(errno, EAGAIN);
	wait_all(p, r, n, 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(r[i].ok, 1);
	/* room again */
	ck_assert_ptr_nonnull(auth_submit(p, db, "bob", "bob", record, &r[3]));
	wait_all(p, r + 3, 1, 0);
	ck_assert_int_eq(r[3].ok, 1);
	/* longer than a user or password can be */
	ck_assert_ptr_null(auth_submit(p, db, "a-user-name-much-longer-than-sixty-three-bytes-is-never-accepted", "x",
				       record, &r[0]));
	ck_assert_int_eq(errno, EINVAL);
	auth_pool_free(p);
	auth_db_free(db);
}
END_TEST

START_TEST(pool_free_with_jobs)
{
	struct auth_db *db = pool_db();
	struct auth_pool *p;
	struct result r[10] = { { 0 } };
	char err[256];

	ck_assert_msg(auth_pool_new(&p, 2, 16, err, sizeof err) == 0, "%s", err);
	for (int i = 0; i < 10; i++)
		ck_assert_ptr_nonnull(auth_submit(p, db, "alice", PW, record, &r[i]));
	auth_pool_free(p);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(r[i].called, 0);
	auth_db_free(db);

	ck_assert_int_eq(auth_pool_new(&p, 0, 8, err, sizeof err), -1);
	ck_assert_str_eq(err, "auth pool: 0 threads and a queue of 8: need 1 to 64 threads and a queue of at least 1");
	auth_pool_free(NULL);
}
END_TEST

/** @brief Field @n (1-based) of /proc/self/task/@tid/stat, after the
 *  command's parentheses. */
static long task_stat(const char *tid, int n)
{
	char path[64], buf[1024], *p;
	FILE *f;
	long v = 0;

	snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	ck_assert(fgets(buf, sizeof buf, f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	p += 2;			/* field 3 */
	for (int i = 3; p && i < n; i++)
		if ((p = strchr(p, ' ')))
			p++;
	ck_assert(p && sscanf(p, "%ld", &v) == 1);
	return v;
}

/** @brief Is @sig blocked in thread @tid (from /proc SigBlk)? */
static int task_blocks(const char *tid, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask >> (sig - 1) & 1;
}

START_TEST(pool_threads_idle_and_deaf)
{
	struct auth_db *db = pool_db();
	struct auth_pool *p;
	char err[256], self[16];
	struct dirent *e;
	DIR *d;
	int threads = 0, nice0;

	snprintf(self, sizeof self, "%d", (int)getpid());
	nice0 = task_stat(self, 19);	/* 0, or what `nice` ran us with */
	ck_assert_msg(auth_pool_new(&p, 3, 8, err, sizeof err) == 0, "%s", err);
	d = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0)
			continue;
		threads++;
		/* field 41: the scheduling policy, set by the thread once it
		 * runs: SCHED_IDLE (5) */
		for (double end = now_ms() + 2000;
		     task_stat(e->d_name, 41) != SCHED_IDLE && now_ms() < end;)
			usleep(1000);
		ck_assert_int_eq(task_stat(e->d_name, 41), SCHED_IDLE);
		ck_assert(task_blocks(e->d_name, SIGTERM));
		ck_assert(task_blocks(e->d_name, SIGHUP));
		ck_assert(task_blocks(e->d_name, SIGCHLD));
	}
	closedir(d);
	ck_assert_int_eq(threads, 3);
	/* the caller's own mask and priority are as they were */
	ck_assert_int_eq(task_stat(self, 19), nice0);
	ck_assert_int_eq(task_stat(self, 41), SCHED_OTHER);
	ck_assert(!task_blocks(self, SIGTERM));
	auth_pool_free(p);
	auth_db_free(db);
}
END_TEST

/* The gate: N slots shared by processes; a holder that dies gives its
 * slot back. */
START_TEST(gate_slots_shared_and_robust)
{
	size_t size = auth_gate_size(1);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct auth_gate *g;
	int p[2], status, slot;
	char c;
	pid_t kid;

	ck_assert_ptr_ne(mem, MAP_FAILED);
	ck_assert_ptr_null(auth_gate_init(mem, size, 0));
	ck_assert_ptr_null(auth_gate_init(mem, size - 1, 1));
	g = auth_gate_init(mem, size, 1);
	ck_assert_ptr_nonnull(g);
	/* A child takes the only slot and dies holding it. */
	ck_assert_int_eq(pipe(p), 0);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		c = auth_gate_enter(g) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	kill(kid, SIGKILL);
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	/* Its slot is ours now, not lost. */
	slot = auth_gate_enter(g);
	ck_assert_int_eq(slot, 0);
	/* Held: another process waits until it is left. */
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		int s = auth_gate_enter(g);
		c = s == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(2);
		auth_gate_leave(g, s);
		_exit(0);
	}
	{
		struct pollfd pf = { p[0], POLLIN, 0 };
		ck_assert_int_eq(poll(&pf, 1, 200), 0);	/* still waiting */
		auth_gate_leave(g, slot);
		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(p[1]);
	munmap(mem, size);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *file = tcase_create("file"), *basic = tcase_create("basic");
	TCase *cache = tcase_create("cache"), *lock = tcase_create("lockout");
	TCase *pool = tcase_create("pool");

	tcase_set_timeout(file, 20);
	tcase_add_test(file, file_real_tools);
	tcase_add_test(file, file_unknown_user_costs_the_same);
	tcase_add_test(file, file_weak_digests);
	tcase_add_test(file, file_weak_crypt);
	tcase_add_test(file, file_bad_lines);
	tcase_add_test(file, file_duplicates_and_empty);
	tcase_add_test(file, file_parse_line);
	tcase_add_test(file, hash_password);
	suite_add_tcase(s, file);

	tcase_add_test(basic, basic_good);
	tcase_add_test(basic, basic_bad);
	suite_add_tcase(s, basic);

	tcase_add_test(cache, cache_hits);
	tcase_add_test(cache, cache_bounded);
	tcase_add_test(cache, cache_disabled);
	suite_add_tcase(s, cache);

	tcase_add_test(lock, lockout_locks);
	tcase_add_test(lock, lockout_window);
	tcase_add_test(lock, lockout_families);
	tcase_add_test(lock, lockout_table_full);
	tcase_add_test(lock, lockout_shared_with_child);
	suite_add_tcase(s, lock);

	tcase_set_timeout(pool, 20);
	tcase_add_test(pool, pool_results);
	tcase_add_test(pool, pool_cancel);
	tcase_add_test(pool, pool_queue_full);
	tcase_add_test(pool, pool_free_with_jobs);
	tcase_add_test(pool, pool_threads_idle_and_deaf);
	tcase_add_test(pool, gate_slots_shared_and_robust);
	suite_add_tcase(s, pool);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(auth_suite());
}
