/* test_acl.c - access lists: rule syntax, who an entry applies to, and the
 * verdict on a destination before and after resolving */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "unit.h"

/* SHA-256("abc"), as test_tls.c spells it */
static const unsigned char abc[32] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_HEX_COLONS "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:" \
	"B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
#define ABC_B64 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="

/* ---- helpers ---- */

/** @brief A socket address for the IPv4 or IPv6 literal @ip. */
static struct sockaddr_storage sa(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
	} else {
		ck_assert_msg(inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1,
			      "bad test address %s", ip);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
	}
	return ss;
}

/** @brief Append an entry with the NULL-terminated rules that follow. */
static struct acl_entry *entry(struct acl *a, ...)
{
	struct acl_entry *e;
	char err[256] = "";
	const char *r;
	va_list ap;

	e = acl_add_entry(a, err, sizeof err);
	ck_assert_msg(e != NULL, "%s", err);
	va_start(ap, a);
	while ((r = va_arg(ap, const char *)))
		ck_assert_msg(acl_entry_add_rule(e, r, err, sizeof err) == 0,
			      "%s", err);
	va_end(ap);
	return e;
}

/** @brief Add identity @v of @kind to @e, which must take it. */
static void ident(struct acl_entry *e, enum acl_id_kind kind, const char *v)
{
	char err[256] = "";

	ck_assert_msg(acl_entry_add_identity(e, kind, v, err, sizeof err) == 0,
		      "%s: %s", v, err);
}

#define RULE_ERR(text, want) do { \
		struct acl_rule r_; \
		char e_[512] = ""; \
		ck_assert_msg(acl_rule_parse((text), &r_, e_, sizeof e_) == -1, \
			      "\"%s\" accepted", (text)); \
		ck_assert_str_eq(e_, (want)); \
	} while (0)

#define PORT_ERR(text, port) \
	RULE_ERR(text, "\"" text "\": port must be a number, a range " \
		 "\"a-b\" or \"*\", got \"" port "\"")

#define ALLOW(a, who, host, port, ip, want_entry, want_rule) do { \
		struct sockaddr_storage s_ = sa(ip); \
		struct acl_verdict v_; \
		int rc_ = acl_decide((a), (who), (host), (port), \
				     (struct sockaddr *)&s_, &v_); \
		ck_assert_msg(rc_ == 1 && v_.allowed == 1, \
			      "%s:%u at %s denied: %s", (host), (port), (ip), \
			      v_.reason); \
		ck_assert_int_eq(v_.entry, (want_entry)); \
		ck_assert_str_eq(v_.rule, (want_rule)); \
	} while (0)

/* @want: the exact reason, or NULL where another test checks it */
#define DENY(a, who, host, port, ip, want) do { \
		struct sockaddr_storage s_ = sa(ip); \
		struct acl_verdict v_; \
		const char *w_ = (want); \
		int rc_ = acl_decide((a), (who), (host), (port), \
				     (struct sockaddr *)&s_, &v_); \
		ck_assert_msg(rc_ == 0 && v_.allowed == 0, \
			      "%s:%u at %s allowed: %s", (host), (port), (ip), \
			      v_.reason); \
		ck_assert_int_eq(v_.entry, -1); \
		ck_assert_ptr_null(v_.rule); \
		if (w_) \
			ck_assert_str_eq(v_.reason, w_); \
	} while (0)

static const struct acl_who anyone;

/* ---- rule syntax ---- */

START_TEST(rule_names)
{
	struct acl_rule r;
	char e[256] = "";

	ck_assert_msg(acl_rule_parse("db.internal:3306", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_NAME);
	ck_assert_str_eq(r.name, "db.internal");
	ck_assert_uint_eq(r.port_lo, 3306);
	ck_assert_uint_eq(r.port_hi, 3306);
	ck_assert_str_eq(r.text, "db.internal:3306");
	acl_rule_free(&r);
	ck_assert_ptr_null(r.text);

	/* stored in lower case without the trailing dot, shown as written */
	ck_assert_msg(acl_rule_parse("DB.Internal.:1", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_NAME);
	ck_assert_str_eq(r.name, "db.internal");
	ck_assert_str_eq(r.text, "DB.Internal.:1");
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("localhost:65535", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(r.name, "localhost");
	ck_assert_uint_eq(r.port_lo, 65535);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("_srv.host-1.example:22", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(r.name, "_srv.host-1.example");
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("*.Corp.Example.:443", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_WILDCARD);
	ck_assert_str_eq(r.name, "corp.example");
	acl_rule_free(&r);
}
END_TEST

START_TEST(rule_name_limits)
{
	char label63[64], name253[254], text[400], want[500];
	struct acl_rule r;
	char e[256] = "";

	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(text, sizeof text, "%s.x:22", label63);
	ck_assert_msg(acl_rule_parse(text, &r, e, sizeof e) == 0, "%s", e);
	acl_rule_free(&r);
	snprintf(text, sizeof text, "%sa.x:22", label63);
	snprintf(want, sizeof want, "\"%s\": label longer than 63 characters", text);
	RULE_ERR(text, want);

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253, with and without a final dot */
	snprintf(name253, sizeof name253, "%s.%s.%s.%.61s", label63, label63,
		 label63, label63);
	ck_assert_uint_eq(strlen(name253), 253);
	snprintf(text, sizeof text, "%s:22", name253);
	ck_assert_msg(acl_rule_parse(text, &r, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(r.name, name253);
	acl_rule_free(&r);
	snprintf(text, sizeof text, "*.%s.:22", name253);
	ck_assert_msg(acl_rule_parse(text, &r, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(r.name, name253);
	acl_rule_free(&r);
	snprintf(text, sizeof text, "b%s:22", name253);
	snprintf(want, sizeof want, "\"%s\": name longer than 253 characters", text);
	RULE_ERR(text, want);
	snprintf(text, sizeof text, "%s.%s:22", label63, name253);
	snprintf(want, sizeof want, "\"%s\": name longer than 253 characters", text);
	RULE_ERR(text, want);
}
END_TEST

START_TEST(rule_name_errors)
{
	RULE_ERR("db..internal:22", "\"db..internal:22\": empty label in name");
	RULE_ERR(".db:22", "\".db:22\": empty label in name");
	RULE_ERR("db.internal..:22", "\"db.internal..:22\": empty label in name");
	RULE_ERR(".:22", "\".:22\": empty name");
	RULE_ERR("db!:22", "\"db!:22\": invalid character '!' in name");
	RULE_ERR("db internal:22", "\"db internal:22\": invalid character ' ' in name");
	RULE_ERR("d\x01" "b:22", "\"d\x01" "b:22\": invalid byte 0x01 in name");
	RULE_ERR("10.1.0:22",
		 "\"10.1.0:22\": not an IPv4 address, and a name can't end in a number");
	RULE_ERR("256.1.1.1:22",
		 "\"256.1.1.1:22\": not an IPv4 address, and a name can't end in a number");
	RULE_ERR("010.1.1.1:22",
		 "\"010.1.1.1:22\": not an IPv4 address, and a name can't end in a number");
	RULE_ERR("db.123:22",
		 "\"db.123:22\": not an IPv4 address, and a name can't end in a number");
}
END_TEST

START_TEST(rule_wildcard_errors)
{
	const char *how = "a wildcard is a whole first label, as in "
		"\"*.corp.example:443\"";
	char want[200];

	RULE_ERR("*.:22", "\"*.:22\": empty domain after \"*.\"");
	RULE_ERR("*..:22", "\"*..:22\": empty domain after \"*.\"");
	RULE_ERR("*.a..b:22", "\"*.a..b:22\": empty label in name");
	snprintf(want, sizeof want, "\"*:22\": %s", how);
	RULE_ERR("*:22", want);
	snprintf(want, sizeof want, "\"*corp.example:22\": %s", how);
	RULE_ERR("*corp.example:22", want);
	snprintf(want, sizeof want, "\"a.*.example:22\": %s", how);
	RULE_ERR("a.*.example:22", want);
	snprintf(want, sizeof want, "\"*.*.example:22\": %s", how);
	RULE_ERR("*.*.example:22", want);
}
END_TEST

START_TEST(rule_networks)
{
	struct acl_rule r;
	unsigned char want[16];
	char e[256] = "";

	ck_assert_msg(acl_rule_parse("10.1.0.0/16:22", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_NET);
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_uint_eq(r.prefix, 16);
	inet_pton(AF_INET, "10.1.0.0", want);
	ck_assert_mem_eq(r.addr, want, 4);
	ck_assert_str_eq(r.text, "10.1.0.0/16:22");
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("192.0.2.7:8080", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_NET);
	ck_assert_uint_eq(r.prefix, 32);
	inet_pton(AF_INET, "192.0.2.7", want);
	ck_assert_mem_eq(r.addr, want, 4);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("0.0.0.0/0:*", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.prefix, 0);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("[fd00::/8]:5432-5439", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.kind, ACL_RULE_NET);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.prefix, 8);
	inet_pton(AF_INET6, "fd00::", want);
	ck_assert_mem_eq(r.addr, want, 16);
	ck_assert_uint_eq(r.port_lo, 5432);
	ck_assert_uint_eq(r.port_hi, 5439);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("[::1]:22", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.prefix, 128);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("[::/0]:1", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.prefix, 0);
	acl_rule_free(&r);

	ck_assert_msg(acl_rule_parse("10.1.0.0/31:22", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.prefix, 31);
	acl_rule_free(&r);
}
END_TEST

START_TEST(rule_network_errors)
{
	RULE_ERR("10.1.0.0/33:22", "\"10.1.0.0/33:22\": prefix length 33 is over 32");
	RULE_ERR("[fd00::/129]:22", "\"[fd00::/129]:22\": prefix length 129 is over 128");
	RULE_ERR("10.1.0.0/:22", "\"10.1.0.0/:22\": missing prefix length after \"/\"");
	RULE_ERR("10.1.0.0/x:22",
		 "\"10.1.0.0/x:22\": prefix length must be a number from 0 to 32, got \"x\"");
	RULE_ERR("10.1.0.0/016:22",
		 "\"10.1.0.0/016:22\": prefix length must be a number from 0 to 32, got \"016\"");
	RULE_ERR("10.1.0.0/-1:22",
		 "\"10.1.0.0/-1:22\": prefix length must be a number from 0 to 32, got \"-1\"");
	RULE_ERR("10.1.0.0/1000:22",
		 "\"10.1.0.0/1000:22\": prefix length must be a number from 0 to 32, got \"1000\"");
	RULE_ERR("[fd00::/8x]:22",
		 "\"[fd00::/8x]:22\": prefix length must be a number from 0 to 128, got \"8x\"");
	RULE_ERR("10.1.2.3/16:22",
		 "\"10.1.2.3/16:22\": 10.1.2.3/16 has host bits set; the network is 10.1.0.0/16");
	RULE_ERR("10.1.0.1/31:22",
		 "\"10.1.0.1/31:22\": 10.1.0.1/31 has host bits set; the network is 10.1.0.0/31");
	RULE_ERR("[fd00::1/8]:22",
		 "\"[fd00::1/8]:22\": fd00::1/8 has host bits set; the network is fd00::/8");
	RULE_ERR("db/16:22", "\"db/16:22\": not an IPv4 address: db");
	RULE_ERR("[db.internal]:22", "\"[db.internal]:22\": not an IPv6 address: db.internal");
	RULE_ERR("[1.2.3.4]:22",
		 "\"[1.2.3.4]:22\": brackets are for IPv6 addresses; write 1.2.3.4 without them");
	RULE_ERR("[::ffff:10.0.0.0/104]:22",
		 "\"[::ffff:10.0.0.0/104]:22\": IPv4-mapped addresses are matched as IPv4; write \"10.0.0.0/8:22\"");
	RULE_ERR("[::ffff:127.0.0.1]:*",
		 "\"[::ffff:127.0.0.1]:*\": IPv4-mapped addresses are matched as IPv4; write \"127.0.0.1/32:*\"");
}
END_TEST

START_TEST(rule_shape_errors)
{
	RULE_ERR("", "\"\": expected \"host:port\"");
	RULE_ERR("db.internal", "\"db.internal\": expected \"host:port\"");
	RULE_ERR(":22", "\":22\": missing host");
	RULE_ERR("[]:22", "\"[]:22\": missing host");
	RULE_ERR("::1:22", "\"::1:22\": IPv6 addresses need brackets, as in \"[::1]:22\"");
	RULE_ERR("fd00::/8:22", "\"fd00::/8:22\": IPv6 addresses need brackets, as in \"[::1]:22\"");
	RULE_ERR("[::1:22", "\"[::1:22\": missing \"]\" after the IPv6 address");
	RULE_ERR("[::1]22", "\"[::1]22\": expected \":port\" after \"]\"");
	RULE_ERR("[::1]", "\"[::1]\": expected \":port\" after \"]\"");
}
END_TEST

START_TEST(rule_ports)
{
	struct acl_rule r;
	char e[256] = "";

	ck_assert_msg(acl_rule_parse("db:*", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.port_lo, 1);
	ck_assert_uint_eq(r.port_hi, 65535);
	acl_rule_free(&r);
	ck_assert_msg(acl_rule_parse("db:1-65535", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.port_lo, 1);
	ck_assert_uint_eq(r.port_hi, 65535);
	acl_rule_free(&r);
	ck_assert_msg(acl_rule_parse("db:80-80", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.port_lo, 80);
	ck_assert_uint_eq(r.port_hi, 80);
	acl_rule_free(&r);
	ck_assert_msg(acl_rule_parse("db:022", &r, e, sizeof e) == 0, "%s", e);
	ck_assert_uint_eq(r.port_lo, 22);
	acl_rule_free(&r);
}
END_TEST

START_TEST(rule_port_errors)
{
	RULE_ERR("db:", "\"db:\": missing port after \":\"");
	RULE_ERR("db:0", "\"db:0\": port 0 is out of 1..65535");
	RULE_ERR("db:65536", "\"db:65536\": port 65536 is out of 1..65535");
	RULE_ERR("db:99999999999999999999",
		 "\"db:99999999999999999999\": port 99999999999999999999 is out of 1..65535");
	/* 2^32 + 22: must not wrap around to port 22 */
	RULE_ERR("db:4294967318", "\"db:4294967318\": port 4294967318 is out of 1..65535");
	RULE_ERR("db:0-5", "\"db:0-5\": port 0 is out of 1..65535");
	RULE_ERR("db:1-65536", "\"db:1-65536\": port 65536 is out of 1..65535");
	RULE_ERR("db:90-80", "\"db:90-80\": port range 90-80 is backwards");
	RULE_ERR("[::1]:0", "\"[::1]:0\": port 0 is out of 1..65535");
	PORT_ERR("db:80x", "80x");
	PORT_ERR("db:-1", "-1");
	PORT_ERR("db:+80", "+80");
	PORT_ERR("db: 80", " 80");
	PORT_ERR("db:80-", "80-");
	PORT_ERR("db:1-2-3", "1-2-3");
	PORT_ERR("db:https", "https");
	PORT_ERR("db:**", "**");
	PORT_ERR("db:*-80", "*-80");
}
END_TEST

START_TEST(rule_error_fits)
{
	struct acl_rule r;
	char e[16];

	memset(e, 'x', sizeof e);
	ck_assert_int_eq(acl_rule_parse("a-rather-long-name-without-port", &r,
					e, sizeof e), -1);
	ck_assert_uint_eq(strlen(e), sizeof e - 1);
}
END_TEST

/* ---- identities ---- */

START_TEST(identity_errors)
{
	struct acl a = { 0 };
	struct acl_entry *e = entry(&a, NULL);
	const char *bad[] = {
		"ab", (ABC_HEX "00"), (":" ABC_HEX), (ABC_HEX ":"),
		"7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		("BA::78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:"
		 "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"),
		("B:A78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:"
		 "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"),
		"sha256//", "sha256//=",
		"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa==",
		"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAF!0=",
	};
	char err[256], want[300];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(acl_entry_add_identity(e, ACL_ID_PIN, bad[i], err,
						     sizeof err) == -1,
			      "pin \"%s\" accepted", bad[i]);
		snprintf(want, sizeof want,
			 "expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"%s\"",
			 bad[i]);
		ck_assert_str_eq(err, want);
	}
	ck_assert_uint_eq(e->npins, 0);
	for (int k = ACL_ID_CN; k <= ACL_ID_PIN; k++) {
		ck_assert_int_eq(acl_entry_add_identity(e, k, "", err, sizeof err), -1);
		ck_assert_str_eq(err, "expected a non-empty string");
	}
	ck_assert_uint_eq(e->cn.n + e->dns.n + e->uri.n + e->user.n, 0);
	acl_free(&a);
}
END_TEST

START_TEST(identity_pins)
{
	const char *good[] = {
		ABC_HEX, (ABC_HEX_COLONS), ("sha256//" ABC_B64), ABC_B64,
		"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
	};
	struct acl a = { 0 };
	struct acl_entry *e = entry(&a, NULL);

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ident(e, ACL_ID_PIN, good[i]);
		ck_assert_uint_eq(e->npins, i + 1);
		ck_assert_mem_eq(e->pins[i], abc, 32);
	}
	acl_free(&a);
}
END_TEST

START_TEST(identity_matching)
{
	struct acl a = { 0 };
	struct tls_identity ops = { .cn = "ops-laptop" };
	struct tls_identity ci = {
		.dns = { "build.example", "CI.Example" }, .ndns = 2,
		.uri = { "spiffe://example/ci" }, .nuri = 1,
	};
	struct tls_identity pinned = { .cn = "Ops-Laptop", .have_spki = 1 };
	struct tls_identity unpinned = { .cn = "x" };
	struct acl_who w;

	memcpy(pinned.spki_sha256, abc, 32);
	memcpy(unpinned.spki_sha256, abc, 32);	/* have_spki is 0 */
	ident(entry(&a, "a:1", NULL), ACL_ID_CN, "ops-laptop");	/* 0 */
	ident(entry(&a, "a:1", NULL), ACL_ID_DNS, "ci.example");	/* 1 */
	ident(entry(&a, "a:1", NULL), ACL_ID_URI, "spiffe://example/ci");	/* 2 */
	ident(entry(&a, "a:1", NULL), ACL_ID_PIN, ABC_HEX);	/* 3 */
	ident(entry(&a, "a:1", NULL), ACL_ID_USER, "alice");	/* 4 */
	ident(entry(&a, "a:1", NULL), ACL_ID_URI, "spiffe://example/CI");	/* 5 */
	entry(&a, "a:1", NULL);					/* 6: everyone */

	w = (struct acl_who){ .id = &ops };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 0 | 1u << 6);
	/* a CN is exact, a DNS name any case; any of the SANs will do */
	w = (struct acl_who){ .id = &ci };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 1 | 1u << 2 | 1u << 6);
	w = (struct acl_who){ .id = &pinned };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 3 | 1u << 6);
	w = (struct acl_who){ .id = &unpinned };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 6);
	w = (struct acl_who){ .user = "alice" };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 4 | 1u << 6);
	w = (struct acl_who){ .id = &ops, .user = "alice" };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 0 | 1u << 4 | 1u << 6);
	w = (struct acl_who){ .id = &ops, .user = "Alice" };
	ck_assert_uint_eq(acl_applies(&a, &w), 1u << 0 | 1u << 6);
	ck_assert_uint_eq(acl_applies(&a, &anyone), 1u << 6);
	acl_free(&a);
}
END_TEST

START_TEST(describe_who)
{
	struct tls_identity cn = { .cn = "ops-laptop", .dns = { "d" }, .ndns = 1 };
	struct tls_identity dns = { .dns = { "ci.example" }, .ndns = 1,
				    .uri = { "u:x" }, .nuri = 1 };
	struct tls_identity uri = { .uri = { "spiffe://example/ci" }, .nuri = 1 };
	struct tls_identity none = { .have_spki = 1 };
	char buf[300];

	acl_describe_who(&(struct acl_who){ .id = &cn }, buf, sizeof buf);
	ck_assert_str_eq(buf, "CN=ops-laptop");
	acl_describe_who(&(struct acl_who){ .id = &dns }, buf, sizeof buf);
	ck_assert_str_eq(buf, "DNS=ci.example");
	acl_describe_who(&(struct acl_who){ .id = &uri }, buf, sizeof buf);
	ck_assert_str_eq(buf, "URI=spiffe://example/ci");
	acl_describe_who(&(struct acl_who){ .user = "alice" }, buf, sizeof buf);
	ck_assert_str_eq(buf, "user=alice");
	acl_describe_who(&(struct acl_who){ .id = &cn, .user = "alice" }, buf,
			 sizeof buf);
	ck_assert_str_eq(buf, "user=alice, CN=ops-laptop");
	acl_describe_who(&(struct acl_who){ .id = &none }, buf, sizeof buf);
	ck_assert_str_eq(buf, "a client without CN, SAN or user");
}
END_TEST

/* ---- matching ---- */

START_TEST(match_name)
{
	struct acl a = { 0 };

	entry(&a, "db.internal:3306", NULL);
	ALLOW(&a, &anyone, "db.internal", 3306, "192.0.2.1", 0, "db.internal:3306");
	ALLOW(&a, &anyone, "DB.Internal", 3306, "192.0.2.1", 0, "db.internal:3306");
	ALLOW(&a, &anyone, "db.internal.", 3306, "2001:db8::1", 0, "db.internal:3306");
	/* a name rule allows whatever the name resolves to, loopback too */
	ALLOW(&a, &anyone, "db.internal", 3306, "127.0.0.1", 0, "db.internal:3306");
	DENY(&a, &anyone, "db.internal", 3307, "192.0.2.1", NULL);
	DENY(&a, &anyone, "db.internal..", 3306, "192.0.2.1", NULL);
	DENY(&a, &anyone, "xdb.internal", 3306, "192.0.2.1", NULL);
	DENY(&a, &anyone, "sub.db.internal", 3306, "192.0.2.1", NULL);
	DENY(&a, &anyone, "db.internal.evil", 3306, "192.0.2.1", NULL);
	DENY(&a, &anyone, "db.interna", 3306, "192.0.2.1", NULL);
	DENY(&a, &anyone, "", 3306, "192.0.2.1", NULL);
	acl_free(&a);
}
END_TEST

START_TEST(match_wildcard)
{
	struct acl a = { 0 };

	entry(&a, "*.corp.example:443", NULL);
	ALLOW(&a, &anyone, "sub.corp.example", 443, "192.0.2.1", 0, "*.corp.example:443");
	ALLOW(&a, &anyone, "a.b.corp.example", 443, "192.0.2.1", 0, "*.corp.example:443");
	ALLOW(&a, &anyone, "SUB.Corp.EXAMPLE.", 443, "192.0.2.1", 0, "*.corp.example:443");
	DENY(&a, &anyone, "corp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "corp.example.", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "xcorp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "evilcorp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "sub-corp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, ".corp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "a..corp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "evil%.corp.example", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "sub.corp.example.evil", 443, "192.0.2.1", NULL);
	DENY(&a, &anyone, "sub.corp.example", 444, "192.0.2.1", NULL);
	acl_free(&a);
}
END_TEST

START_TEST(match_cidr_v4)
{
	struct acl a = { 0 };

	entry(&a, "10.1.0.0/16:22", "192.0.2.128/25:22", "198.51.100.7:22", NULL);
	ALLOW(&a, &anyone, "10.1.0.0", 22, "10.1.0.0", 0, "10.1.0.0/16:22");
	ALLOW(&a, &anyone, "10.1.255.255", 22, "10.1.255.255", 0, "10.1.0.0/16:22");
	DENY(&a, &anyone, "10.0.255.255", 22, "10.0.255.255",
	     "no rule of acl[0] allows 10.0.255.255:22");
	DENY(&a, &anyone, "10.2.0.0", 22, "10.2.0.0", NULL);
	ALLOW(&a, &anyone, "192.0.2.128", 22, "192.0.2.128", 0, "192.0.2.128/25:22");
	ALLOW(&a, &anyone, "192.0.2.255", 22, "192.0.2.255", 0, "192.0.2.128/25:22");
	DENY(&a, &anyone, "192.0.2.127", 22, "192.0.2.127", NULL);
	ALLOW(&a, &anyone, "198.51.100.7", 22, "198.51.100.7", 0, "198.51.100.7:22");
	DENY(&a, &anyone, "198.51.100.6", 22, "198.51.100.6", NULL);
	DENY(&a, &anyone, "198.51.100.8", 22, "198.51.100.8", NULL);
	/* a name that resolves into the range is allowed by the range */
	ALLOW(&a, &anyone, "bastion.internal", 22, "10.1.2.3", 0, "10.1.0.0/16:22");
	/* IPv4 rules never meet IPv6 addresses, even ::10.1.0.1 */
	DENY(&a, &anyone, "::a01:1", 22, "::a01:1", NULL);
	DENY(&a, &anyone, "10.1.0.1", 23, "10.1.0.1", NULL);
	acl_free(&a);
}
END_TEST

START_TEST(match_cidr_v6)
{
	struct acl a = { 0 };

	entry(&a, "[fd00::/8]:5432", "[2001:db8::/33]:22", "[::1]:80", NULL);
	ALLOW(&a, &anyone, "fd00::", 5432, "fd00::", 0, "[fd00::/8]:5432");
	ALLOW(&a, &anyone, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 5432,
	      "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, "[fd00::/8]:5432");
	DENY(&a, &anyone, "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 5432,
	     "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	     "no rule of acl[0] allows [fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:5432");
	DENY(&a, &anyone, "fe00::", 5432, "fe00::", NULL);
	ALLOW(&a, &anyone, "2001:db8::", 22, "2001:db8::", 0, "[2001:db8::/33]:22");
	ALLOW(&a, &anyone, "2001:db8:7fff:ffff::", 22, "2001:db8:7fff:ffff::", 0,
	      "[2001:db8::/33]:22");
	DENY(&a, &anyone, "2001:db8:8000::", 22, "2001:db8:8000::", NULL);
	ALLOW(&a, &anyone, "::1", 80, "::1", 0, "[::1]:80");
	DENY(&a, &anyone, "::2", 80, "::2", NULL);
	DENY(&a, &anyone, "::", 80, "::", NULL);
	/* IPv6 rules never meet IPv4 addresses */
	DENY(&a, &anyone, "0.0.0.1", 80, "0.0.0.1", NULL);
	acl_free(&a);
}
END_TEST

START_TEST(match_ports)
{
	struct acl a = { 0 };

	entry(&a, "db:5432-5439", "any:*", NULL);
	DENY(&a, &anyone, "db", 5431, "192.0.2.1", NULL);
	ALLOW(&a, &anyone, "db", 5432, "192.0.2.1", 0, "db:5432-5439");
	ALLOW(&a, &anyone, "db", 5439, "192.0.2.1", 0, "db:5432-5439");
	DENY(&a, &anyone, "db", 5440, "192.0.2.1", NULL);
	ALLOW(&a, &anyone, "any", 1, "192.0.2.1", 0, "any:*");
	ALLOW(&a, &anyone, "any", 65535, "192.0.2.1", 0, "any:*");
	DENY(&a, &anyone, "any", 0, "192.0.2.1", NULL);
	DENY(&a, &anyone, "any", 65536, "192.0.2.1", NULL);
	acl_free(&a);
}
END_TEST

/* ::ffff:127.0.0.1 is 127.0.0.1: no way around a deny, no way out of an
 * allow, and IPv6 rules don't see it */
START_TEST(match_v4_mapped)
{
	struct acl a = { 0 };

	entry(&a, "10.0.0.0/8:22", "[::/0]:22", "127.0.0.1:8080", NULL);
	DENY(&a, &anyone, "::ffff:127.0.0.1", 22, "::ffff:127.0.0.1",
	     "no rule of acl[0] allows [::ffff:127.0.0.1]:22");
	DENY(&a, &anyone, "127.0.0.1", 22, "127.0.0.1", NULL);
	ALLOW(&a, &anyone, "::ffff:10.1.2.3", 22, "::ffff:10.1.2.3", 0, "10.0.0.0/8:22");
	ALLOW(&a, &anyone, "::ffff:127.0.0.1", 8080, "::ffff:127.0.0.1", 0,
	      "127.0.0.1:8080");
	ALLOW(&a, &anyone, "::1", 22, "::1", 0, "[::/0]:22");
	/* a name resolving to a mapped address */
	DENY(&a, &anyone, "evil.example", 22, "::ffff:127.0.0.1",
	     "evil.example:22 resolves to 127.0.0.1; no rule of acl[0] allows that name or that address");
	acl_free(&a);
}
END_TEST

START_TEST(first_allowing_entry_decides)
{
	struct acl a = { 0 };
	struct tls_identity x = { .cn = "x" }, y = { .cn = "y" };
	struct acl_who wx = { .id = &x }, wy = { .id = &y };
	struct acl_verdict v;
	struct sockaddr_storage s = sa("10.1.1.1");

	ident(entry(&a, "*.internal:*", NULL), ACL_ID_CN, "nobody");
	ident(entry(&a, "db.other:22", "10.0.0.0/8:*", NULL), ACL_ID_CN, "x");
	entry(&a, "db.internal:22", "10.1.1.1:22", NULL);

	ck_assert_int_eq(acl_decide(&a, &wx, "db.internal", 22,
				    (struct sockaddr *)&s, &v), 1);
	ck_assert_int_eq(v.entry, 1);
	ck_assert_str_eq(v.rule, "10.0.0.0/8:*");
	ck_assert_str_eq(v.reason, "acl[1]: allow 10.0.0.0/8:*");
	ALLOW(&a, &wx, "db.internal", 22, "192.0.2.1", 2, "db.internal:22");
	ALLOW(&a, &wy, "db.internal", 22, "10.1.1.1", 2, "db.internal:22");
	ALLOW(&a, &wy, "10.1.1.1", 22, "10.1.1.1", 2, "10.1.1.1:22");
	DENY(&a, &wy, "10.1.1.2", 22, "10.1.1.2",
	     "no rule of acl[2] allows 10.1.1.2:22");
	DENY(&a, &wx, "db.else", 22, "192.0.2.1",
	     "db.else:22 resolves to 192.0.2.1; no rule of acl[1], acl[2] allows that name or that address");
	acl_free(&a);
}
END_TEST

/* The safety rule: a name is connected to an address only if a
 * rule allows the name or the address. */
START_TEST(name_into_loopback)
{
	struct acl a = { 0 };
	struct acl_verdict v;
	char err[256] = "";

	entry(&a, "other.internal:3306", "10.0.0.0/8:3306", NULL);
	ck_assert_int_eq(acl_precheck(&a, &anyone, "db.internal", 3306, &v), 1);
	DENY(&a, &anyone, "db.internal", 3306, "127.0.0.1",
	     "db.internal:3306 resolves to 127.0.0.1; no rule of acl[0] allows that name or that address");
	ALLOW(&a, &anyone, "db.internal", 3306, "10.9.9.9", 0, "10.0.0.0/8:3306");
	ck_assert_msg(acl_entry_add_rule(&a.entries[0], "db.internal:3306", err,
					 sizeof err) == 0, "%s", err);
	ALLOW(&a, &anyone, "db.internal", 3306, "127.0.0.1", 0, "db.internal:3306");
	acl_free(&a);
}
END_TEST

START_TEST(ip_literal_needs_address_rule)
{
	struct acl a = { 0 };
	struct acl_verdict v;

	entry(&a, "localhost:80", "db.internal:80", NULL);
	ck_assert_int_eq(acl_precheck(&a, &anyone, "127.0.0.1", 80, &v), 0);
	ck_assert_str_eq(v.reason, "no rule of acl[0] allows 127.0.0.1:80");
	DENY(&a, &anyone, "127.0.0.1", 80, "127.0.0.1",
	     "no rule of acl[0] allows 127.0.0.1:80");
	DENY(&a, &anyone, "::1", 80, "::1", "no rule of acl[0] allows [::1]:80");
	ck_assert_int_eq(acl_precheck(&a, &anyone, "localhost", 80, &v), 1);
	ALLOW(&a, &anyone, "localhost", 80, "127.0.0.1", 0, "localhost:80");
	acl_free(&a);
}
END_TEST

START_TEST(precheck)
{
	struct acl a = { 0 };
	struct acl_verdict v;

	entry(&a, "db.internal:3306", "10.0.0.0/8:22", NULL);
	/* a name rule, or an address rule for the port, makes DNS worth it */
	ck_assert_int_eq(acl_precheck(&a, &anyone, "DB.internal.", 3306, &v), 1);
	ck_assert_int_eq(acl_precheck(&a, &anyone, "any.name", 22, &v), 1);
	ck_assert_int_eq(acl_precheck(&a, &anyone, "10.2.3.4", 22, &v), 1);
	/* nothing can allow these: no lookup */
	ck_assert_int_eq(acl_precheck(&a, &anyone, "db.internal", 3307, &v), 0);
	ck_assert_int_eq(v.allowed, 0);
	ck_assert_int_eq(v.entry, -1);
	ck_assert_ptr_null(v.rule);
	ck_assert_str_eq(v.reason, "no rule of acl[0] allows db.internal:3307");
	ck_assert_int_eq(acl_precheck(&a, &anyone, "192.0.2.1", 22, &v), 0);
	ck_assert_str_eq(v.reason, "no rule of acl[0] allows 192.0.2.1:22");
	ck_assert_int_eq(acl_precheck(&a, &anyone, "::ffff:192.0.2.1", 22, &v), 0);
	ck_assert_str_eq(v.reason, "no rule of acl[0] allows [::ffff:192.0.2.1]:22");
	ck_assert_int_eq(acl_precheck(&a, &anyone, "::ffff:10.0.0.1", 22, &v), 1);
	acl_free(&a);
}
END_TEST

START_TEST(nothing_applies)
{
	struct acl a = { 0 };
	struct tls_identity x = { .cn = "x" };
	struct acl_who wx = { .id = &x };
	struct acl_verdict v;

	DENY(&a, &wx, "db.internal", 22, "10.1.1.1",
	     "there are no acl entries, so nothing is reachable");
	ck_assert_int_eq(acl_precheck(&a, &wx, "db.internal", 22, &v), 0);
	ck_assert_str_eq(v.reason, "there are no acl entries, so nothing is reachable");
	ck_assert_uint_eq(acl_applies(&a, &wx), 0);

	ident(entry(&a, "db.internal:22", NULL), ACL_ID_CN, "ops-laptop");
	DENY(&a, &wx, "db.internal", 22, "10.1.1.1", "no acl entry applies to CN=x");
	ck_assert_int_eq(acl_precheck(&a, &wx, "db.internal", 22, &v), 0);
	ck_assert_str_eq(v.reason, "no acl entry applies to CN=x");
	DENY(&a, &anyone, "db.internal", 22, "10.1.1.1",
	     "no acl entry applies to a client without CN, SAN or user");
	acl_free(&a);
}
END_TEST

START_TEST(hostile_hosts_in_reasons)
{
	struct acl a = { 0 };
	struct acl_verdict v;
	char host[400], want[ACL_REASONLEN];

	entry(&a, "db.internal:22", NULL);
	ck_assert_int_eq(acl_precheck(&a, &anyone, "db\ninternal\x7f", 22, &v), 0);
	ck_assert_str_eq(v.reason, "no rule of acl[0] allows db?internal?:22");
	memset(host, 'a', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	ck_assert_int_eq(acl_precheck(&a, &anyone, host, 22, &v), 0);
	snprintf(want, sizeof want, "no rule of acl[0] allows %.255s...:22", host);
	ck_assert_str_eq(v.reason, want);
	acl_free(&a);
}
END_TEST

START_TEST(other_families)
{
	struct acl a = { 0 };
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct acl_verdict v;

	entry(&a, "db.internal:22", "0.0.0.0/0:*", "[::/0]:*", NULL);
	ck_assert_int_eq(acl_decide(&a, &anyone, "db.internal", 22,
				    (struct sockaddr *)&su, &v), 0);
	ck_assert_int_eq(v.entry, -1);
	ck_assert_str_eq(v.reason,
			 "db.internal:22 resolves to an address that is neither IPv4 nor IPv6");
	acl_free(&a);
}
END_TEST

START_TEST(many_entries)
{
	struct acl a = { 0 };
	struct tls_identity x = { .cn = "x" };
	struct acl_who wx = { .id = &x };
	struct acl_verdict v;
	char err[256] = "";

	for (int i = 0; i < ACL_MAX_ENTRIES - 1; i++)
		entry(&a, "db.internal:1", NULL);
	ident(entry(&a, "db.internal:22", NULL), ACL_ID_CN, "x");
	ck_assert_ptr_null(acl_add_entry(&a, err, sizeof err));
	ck_assert_str_eq(err, "expected at most 64 entries");
	ck_assert_uint_eq(a.n, ACL_MAX_ENTRIES);
	ck_assert_uint_eq(acl_applies(&a, &wx), UINT64_MAX);
	ck_assert_uint_eq(acl_applies(&a, &anyone), UINT64_MAX >> 1);
	ALLOW(&a, &wx, "db.internal", 22, "192.0.2.1", 63, "db.internal:22");
	ck_assert_int_eq(acl_precheck(&a, &anyone, "db.internal", 22, &v), 0);
	ck_assert_str_eq(v.reason,
			 "no rule of acl[0], acl[1], acl[2], acl[3], acl[4], acl[5], acl[6], acl[7] and 55 more allows db.internal:22");
	acl_free(&a);
}
END_TEST

START_TEST(copy)
{
	struct acl a = { 0 }, b;
	struct tls_identity x = { .cn = "x" };
	struct acl_who wx = { .id = &x };
	struct acl_entry *e = entry(&a, "db.internal:22", "10.0.0.0/8:*", NULL);

	ident(e, ACL_ID_CN, "x");
	ident(e, ACL_ID_DNS, "d");
	ident(e, ACL_ID_URI, "u:1");
	ident(e, ACL_ID_USER, "alice");
	ident(e, ACL_ID_PIN, ABC_HEX);
	entry(&a, "[::1]:80", NULL);
	ck_assert_int_eq(acl_copy(&b, &a), 0);
	acl_free(&a);
	ck_assert_ptr_null(a.entries);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_uint_eq(b.entries[0].npins, 1);
	ck_assert_mem_eq(b.entries[0].pins[0], abc, 32);
	ck_assert_str_eq(b.entries[0].user.v[0], "alice");
	ALLOW(&b, &wx, "db.internal", 22, "192.0.2.1", 0, "db.internal:22");
	ALLOW(&b, &wx, "x", 9, "10.0.0.1", 0, "10.0.0.0/8:*");
	ALLOW(&b, &anyone, "::1", 80, "::1", 1, "[::1]:80");
	DENY(&b, &anyone, "db.internal", 22, "192.0.2.1", NULL);
	acl_free(&b);

	ck_assert_int_eq(acl_copy(&b, &a), 0);
	ck_assert_uint_eq(b.n, 0);
	ck_assert_ptr_null(b.entries);
}
END_TEST

static Suite *acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *syntax = tcase_create("syntax");
	TCase *who = tcase_create("identities");
	TCase *match = tcase_create("matching");

	tcase_add_test(syntax, rule_names);
	tcase_add_test(syntax, rule_name_limits);
	tcase_add_test(syntax, rule_name_errors);
	tcase_add_test(syntax, rule_wildcard_errors);
	tcase_add_test(syntax, rule_networks);
	tcase_add_test(syntax, rule_network_errors);
	tcase_add_test(syntax, rule_shape_errors);
	tcase_add_test(syntax, rule_ports);
	tcase_add_test(syntax, rule_port_errors);
	tcase_add_test(syntax, rule_error_fits);
	suite_add_tcase(s, syntax);

	tcase_add_test(who, identity_errors);
	tcase_add_test(who, identity_pins);
	tcase_add_test(who, identity_matching);
	tcase_add_test(who, describe_who);
	suite_add_tcase(s, who);

	tcase_add_test(match, match_name);
	tcase_add_test(match, match_wildcard);
	tcase_add_test(match, match_cidr_v4);
	tcase_add_test(match, match_cidr_v6);
	tcase_add_test(match, match_ports);
	tcase_add_test(match, match_v4_mapped);
	tcase_add_test(match, first_allowing_entry_decides);
	tcase_add_test(match, name_into_loopback);
	tcase_add_test(match, ip_literal_needs_address_rule);
	tcase_add_test(match, precheck);
	tcase_add_test(match, nothing_applies);
	tcase_add_test(match, hostile_hosts_in_reasons);
	tcase_add_test(match, other_families);
	tcase_add_test(match, many_entries);
	tcase_add_test(match, copy);
	suite_add_tcase(s, match);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(acl_suite());
}
