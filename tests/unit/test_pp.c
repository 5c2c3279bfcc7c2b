/* test_pp.c - PROXY protocol headers: v1 lines, v2 headers and their
 * TLVs, CRC32c, and writing v2 headers that read back the same */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "pp.h"
#include "unit.h"

/* The v2 signature, as a string literal: sizeof counts its NUL. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
/* 192.168.0.1:56324 -> 192.168.0.11:443 */
#define ADDR4 "\xc0\xa8\x00\x01\xc0\xa8\x00\x0b\xdc\x04\x01\xbb"
/* [::1]:1234 -> [2001:db8::2]:443 */
#define ADDR6 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x04\xd2\x01\xbb"

static const char v1_tcp4[] =
	"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
static const char v1_tcp6_longest[] =
	"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n";
static const char v1_unknown_longest[] =
	"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n";

static const unsigned char v2_tcp4[] = SIG "\x21\x11\x00\x0c" ADDR4;
static const unsigned char v2_tcp6[] = SIG "\x21\x21\x00\x24" ADDR6;
/* v2_tcp4 with a CRC32C TLV, its value worked out independently */
static const unsigned char v2_crc[] = SIG "\x21\x11\x00\x13" ADDR4
	"\x03\x00\x04\x1c\x1a\xe9\xc6";
/* a health check: LOCAL, a unique ID and a CRC32C */
static const unsigned char v2_local_crc[] = SIG "\x20\x00\x00\x0d"
	"\x05\x00\x03" "abc" "\x03\x00\x04\xd7\x9f\xc6\xec";
/* TCP6 with every TLV we read, an unknown and a NOOP in between */
static const unsigned char v2_tlvs[] = SIG "\x21\x21\x00\x60" ADDR6
	"\x04\x00\x02" "\0\0"
	"\x02\x00\x0a" "db.example"
	"\xe0\x00\x01" "x"
	"\x20\x00\x1c" "\x07\x00\x00\x00\x00"
		"\x21\x00\x07" "TLSv1.3" "\x23\x00\x01" "A"
		"\x22\x00\x06" "client"
	"\x05\x00\x04" "\x01\x02\x03\x04";

#define LIT_LEN(lit) (sizeof(lit) - 1)

/* Parse the @n bytes at @p and check the code and the error text. */
#define PP_ERR(p, n, want_rc, want_err) do { \
		struct pp_info i_; \
		char e_[256] = ""; \
		int rc_ = pp_parse((const unsigned char *)(p), (n), &i_, \
				   e_, sizeof e_); \
		ck_assert_msg(rc_ == (want_rc), "rc %d, want %d (%s)", rc_, \
			      (want_rc), e_); \
		ck_assert_str_eq(e_, (want_err)); \
	} while (0)

/** @brief "addr:port" or "[addr]:port", for comparing addresses. */
static const char *sa_text(const struct sockaddr_storage *ss, char *out,
			   size_t n)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(out, n, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(out, n, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(out, n, "family %d", ss->ss_family);
	}
	return out;
}

#define ADDRS_EQ(info, want_src, want_dst) do { \
		char s_[64], d_[64]; \
		ck_assert_str_eq(sa_text(&(info)->src, s_, sizeof s_), \
				 (want_src)); \
		ck_assert_str_eq(sa_text(&(info)->dst, d_, sizeof d_), \
				 (want_dst)); \
	} while (0)

/** @brief Every strict prefix of the @n-byte header at @p asks for more;
 *  the whole of it (and it with bytes behind) is @n long. */
static void every_prefix(const void *p, size_t n)
{
	unsigned char buf[PP_MAX + 8];
	struct pp_info info;
	char err[256];
	size_t i;

	ck_assert_uint_le(n, PP_MAX);
	memcpy(buf, p, n);
	memcpy(buf + n, "GET / HT", 8);
	for (i = 0; i < n; i++) {
		err[0] = '\0';
		ck_assert_msg(pp_parse(buf, i, &info, err, sizeof err) ==
			      PP_INCOMPLETE, "prefix %zu of %zu: %s", i, n,
			      err);
	}
	ck_assert_int_eq(pp_parse(buf, n, &info, err, sizeof err), n);
	ck_assert_int_eq(pp_parse(buf, n + 8, &info, err, sizeof err), n);
}

START_TEST(crc32c_vectors)
{
	static const unsigned char zeros[32];
	unsigned char ones[32], inc[32];
	size_t i;

	memset(ones, 0xff, sizeof ones);
	for (i = 0; i < sizeof inc; i++)
		inc[i] = i;
	ck_assert_uint_eq(pp_crc32c(0, "123456789", 9), 0xe3069283);
	/* RFC 3720 B.4 */
	ck_assert_uint_eq(pp_crc32c(0, zeros, 32), 0x8a9136aa);
	ck_assert_uint_eq(pp_crc32c(0, ones, 32), 0x62a8ab43);
	ck_assert_uint_eq(pp_crc32c(0, inc, 32), 0x46dd794e);
	ck_assert_uint_eq(pp_crc32c(0, "", 0), 0);
	for (i = 0; i <= 9; i++)
		ck_assert_uint_eq(pp_crc32c(pp_crc32c(0, "123456789", i),
					    "123456789" + i, 9 - i),
				  0xe3069283);
}
END_TEST

START_TEST(v1_tcp4_line)
{
	static const char edges[] =
		"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n";
	char buf[128], err[256] = "";
	struct pp_info info;

	snprintf(buf, sizeof buf, "%sGET / HTTP/1.1\r\n", v1_tcp4);
	ck_assert_int_eq(pp_parse((unsigned char *)buf, strlen(buf), &info,
				  err, sizeof err), LIT_LEN(v1_tcp4));
	ck_assert_int_eq(info.version, 1);
	ck_assert_int_eq(info.local, 0);
	ADDRS_EQ(&info, "192.168.0.1:56324", "192.168.0.11:443");
	ck_assert_uint_eq(info.srclen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(info.dstlen, sizeof(struct sockaddr_in));
	ck_assert_str_eq(info.authority, "");
	ck_assert_int_eq(info.ssl, 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(pp_parse((unsigned char *)edges, LIT_LEN(edges),
				  &info, err, sizeof err), LIT_LEN(edges));
	ADDRS_EQ(&info, "0.0.0.0:0", "255.255.255.255:65535");
}
END_TEST

START_TEST(v1_tcp6_and_unknown_lines)
{
	struct pp_info info;
	char err[256] = "";
	static const char mapped[] =
		"PROXY TCP6 ::ffff:192.0.2.1 2001:DB8::1 1 2\r\n";

	ck_assert_int_eq(LIT_LEN(v1_tcp6_longest), 104);
	ck_assert_int_eq(pp_parse((unsigned char *)v1_tcp6_longest,
				  LIT_LEN(v1_tcp6_longest), &info, err,
				  sizeof err), 104);
	ck_assert_int_eq(info.local, 0);
	ADDRS_EQ(&info, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
	ck_assert_uint_eq(info.srclen, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(pp_parse((unsigned char *)mapped, LIT_LEN(mapped),
				  &info, err, sizeof err), LIT_LEN(mapped));
	ADDRS_EQ(&info, "[::ffff:192.0.2.1]:1", "[2001:db8::1]:2");

	/* UNKNOWN: what follows it is ignored, the longest line is 107 */
	ck_assert_int_eq(LIT_LEN(v1_unknown_longest), PP_V1_MAX);
	ck_assert_int_eq(pp_parse((unsigned char *)v1_unknown_longest,
				  PP_V1_MAX, &info, err, sizeof err),
			 PP_V1_MAX);
	ck_assert_int_eq(info.version, 1);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.src.ss_family, AF_UNSPEC);
	ck_assert_int_eq(pp_parse((unsigned char *)"PROXY UNKNOWN\r\nX", 16,
				  &info, err, sizeof err), 15);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(pp_parse((unsigned char *)"PROXY UNKNOWN whatever\r\n",
				  24, &info, err, sizeof err), 24);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(v1_every_prefix)
{
	every_prefix(v1_tcp4, LIT_LEN(v1_tcp4));
	every_prefix(v1_tcp6_longest, LIT_LEN(v1_tcp6_longest));
	every_prefix(v1_unknown_longest, LIT_LEN(v1_unknown_longest));
	every_prefix("PROXY UNKNOWN\r\n", 15);
}
END_TEST

static const struct {
	const char *in;
	int rc;
	const char *err;
} v1_bad[] = {
	{ "GET / HTTP/1.1\r\n", PP_E_NOT_PROXY, "not a PROXY protocol header" },
	{ "\x16\x03\x01\x02\x00", PP_E_NOT_PROXY,
	  "not a PROXY protocol header" },
	{ "proxy TCP4", PP_E_NOT_PROXY, "not a PROXY protocol header" },
	{ "PUT", PP_E_NOT_PROXY, "not a PROXY protocol header" },
	{ "PROXYTCP4", PP_E_NOT_PROXY, "not a PROXY protocol header" },
	{ "PROX\r\n", PP_E_NOT_PROXY, "not a PROXY protocol header" },
	{ "PROXY\r\n", PP_E_BAD, "PROXY v1: no protocol" },
	{ "PROXY \r\n", PP_E_BAD, "PROXY v1: no protocol" },
	{ "PROXY TCP9", PP_E_BAD,
	  "PROXY v1: protocol \"TCP9\" is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: protocol \"tcp4\" is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY TCP\r\n", PP_E_BAD,
	  "PROXY v1: protocol \"TCP\" is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY UNKNOWNX\r\n", PP_E_BAD,
	  "PROXY v1: protocol \"UNKNOWNX\" is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: protocol \"\" is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY TCP4\r\n", PP_E_BAD, "PROXY v1: no source address" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PP_E_BAD,
	  "PROXY v1: no destination port" },
	{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: empty source address (two spaces, or one at the end)" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", PP_E_BAD,
	  "PROXY v1: empty destination port (two spaces, or one at the end)" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PP_E_BAD,
	  "PROXY v1: text after the destination port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PP_E_BAD,
	  "PROXY v1: text after the destination port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", PP_E_BAD,
	  "PROXY v1: source port \"01\" is not 0 to 65535 without leading zeros" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", PP_E_BAD,
	  "PROXY v1: source port \"+1\" is not 0 to 65535 without leading zeros" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", PP_E_BAD,
	  "PROXY v1: destination port \"65536\" is not 0 to 65535 without leading zeros" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", PP_E_BAD,
	  "PROXY v1: destination port \"100000\" is not 0 to 65535 without leading zeros" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n", PP_E_BAD,
	  "PROXY v1: destination port \"0x10\" is not 0 to 65535 without leading zeros" },
	{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: source address \"::1\" is not IPv4" },
	{ "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: source address \"1.2.3.04\" is not IPv4" },
	{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: source address \"1.2.3\" is not IPv4" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", PP_E_BAD,
	  "PROXY v1: destination address \"5.6.7.256\" is not IPv4" },
	{ "PROXY TCP6 ::1 5.6.7.8 1 2\r\n", PP_E_BAD,
	  "PROXY v1: destination address \"5.6.7.8\" is not IPv6" },
	{ "PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", PP_E_BAD,
	  "PROXY v1: destination address \"1:2:3:4:5:6:7:8:9\" is not IPv6" },
	{ "PROXY TCP6 [::1] ::2 1 2\r\n", PP_E_BAD,
	  "PROXY v1: source address \"[::1]\" is not IPv6" },
	/* refused as soon as they arrive, CRLF or not */
	{ "PROXY TCP4 1.2.3.4\t5.6", PP_E_BAD,
	  "PROXY v1: byte 0x09 at offset 18 is not printable ASCII" },
	{ "PROXY UNKNOWN \xc3\xa9", PP_E_BAD,
	  "PROXY v1: byte 0xc3 at offset 14 is not printable ASCII" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PP_E_BAD,
	  "PROXY v1: LF without CR at offset 30" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", PP_E_BAD,
	  "PROXY v1: CR without LF at offset 30" },
	{ "PROXY UNKNOWN\r\r\n", PP_E_BAD,
	  "PROXY v1: CR without LF at offset 13" },
};

START_TEST(v1_bad_lines)
{
	size_t i;

	for (i = 0; i < sizeof v1_bad / sizeof v1_bad[0]; i++) {
		struct pp_info info;
		char err[256] = "";
		int rc = pp_parse((const unsigned char *)v1_bad[i].in,
				  strlen(v1_bad[i].in), &info, err, sizeof err);

		ck_assert_msg(rc == v1_bad[i].rc, "%s: rc %d, want %d (%s)",
			      v1_bad[i].in, rc, v1_bad[i].rc, err);
		ck_assert_str_eq(err, v1_bad[i].err);
	}
	PP_ERR("PROXY TCP4 1.2.3.4\0", 19, PP_E_BAD,
	       "PROXY v1: byte 0x00 at offset 18 is not printable ASCII");
	PP_ERR("P\0", 2, PP_E_NOT_PROXY, "not a PROXY protocol header");
}
END_TEST

/* The line ends within 107 bytes or not at all. */
START_TEST(v1_length_limit)
{
	char line[PP_V1_MAX + 2];
	struct pp_info info;
	char err[256] = "";

	memset(line, 'a', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + PP_V1_MAX - 2, "\r\n", 2);
	ck_assert_int_eq(pp_parse((unsigned char *)line, sizeof line, &info,
				  err, sizeof err), PP_V1_MAX);
	memcpy(line + PP_V1_MAX - 2, "a\r\n", 3);
	PP_ERR(line, sizeof line, PP_E_BAD,
	       "PROXY v1: no CRLF in the first 107 bytes");
	PP_ERR(line, PP_V1_MAX, PP_E_BAD,
	       "PROXY v1: no CRLF in the first 107 bytes");
	ck_assert_int_eq(pp_parse((unsigned char *)line, PP_V1_MAX - 1, &info,
				  err, sizeof err), PP_INCOMPLETE);
	memset(line + 14, 'a', sizeof line - 14);
	PP_ERR(line, PP_V1_MAX, PP_E_BAD,
	       "PROXY v1: no CRLF in the first 107 bytes");
	ck_assert_int_eq(pp_parse((unsigned char *)line, PP_V1_MAX - 1, &info,
				  err, sizeof err), PP_INCOMPLETE);
}
END_TEST

START_TEST(v2_tcp4_tcp6_headers)
{
	unsigned char buf[64];
	struct pp_info info;
	char err[256] = "";

	memcpy(buf, v2_tcp4, sizeof v2_tcp4 - 1);
	memcpy(buf + sizeof v2_tcp4 - 1, "\x16\x03\x01", 3);
	ck_assert_int_eq(pp_parse(buf, sizeof v2_tcp4 + 2, &info, err,
				  sizeof err), 28);
	ck_assert_int_eq(info.version, 2);
	ck_assert_int_eq(info.local, 0);
	ADDRS_EQ(&info, "192.168.0.1:56324", "192.168.0.11:443");
	ck_assert_uint_eq(info.srclen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(info.crc32c, 0);
	ck_assert_int_eq(info.ssl, 0);

	ck_assert_int_eq(pp_parse(v2_tcp6, LIT_LEN(v2_tcp6), &info, err,
				  sizeof err), 52);
	ck_assert_int_eq(info.local, 0);
	ADDRS_EQ(&info, "[::1]:1234", "[2001:db8::2]:443");
	ck_assert_uint_eq(info.dstlen, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(v2_local)
{
	unsigned char buf[PP_V2_HEADER + 216];
	struct pp_info info;
	char err[256] = "";

	ck_assert_int_eq(pp_parse((unsigned char *)SIG "\x20\x00\x00\x00", 16,
				  &info, err, sizeof err), 16);
	ck_assert_int_eq(info.version, 2);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.src.ss_family, AF_UNSPEC);
	/* LOCAL ignores the family and skips its address block */
	ck_assert_int_eq(pp_parse((unsigned char *)SIG "\x20\x11\x00\x0c"
				  ADDR4, 28, &info, err, sizeof err), 28);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.src.ss_family, AF_UNSPEC);
	memset(buf, 0xee, sizeof buf);
	memcpy(buf, SIG "\x20\x31\x00\xd8", 16);
	ck_assert_int_eq(pp_parse(buf, sizeof buf, &info, err, sizeof err),
			 sizeof buf);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(pp_parse(v2_local_crc, LIT_LEN(v2_local_crc), &info,
				  err, sizeof err), 29);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.crc32c, 1);
	ck_assert_uint_eq(info.unique_id_len, 3);
	ck_assert_mem_eq(info.unique_id, "abc", 3);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(v2_every_prefix)
{
	every_prefix(v2_tcp4, LIT_LEN(v2_tcp4));
	every_prefix(v2_tcp6, LIT_LEN(v2_tcp6));
	every_prefix(v2_crc, LIT_LEN(v2_crc));
	every_prefix(v2_tlvs, LIT_LEN(v2_tlvs));
	every_prefix(SIG "\x20\x00\x00\x00", 16);
}
END_TEST

START_TEST(v2_bad_fixed_part)
{
	unsigned char sig[16];
	size_t i;

	/* a wrong signature byte is refused the moment it arrives */
	for (i = 0; i < 12; i++) {
		memcpy(sig, SIG, 12);
		sig[i] ^= 0x40;
		PP_ERR(sig, i + 1, PP_E_NOT_PROXY,
		       "not a PROXY protocol header");
	}
	PP_ERR(SIG "\x11", 13, PP_E_BAD, "PROXY v2: version 1, not 2");
	PP_ERR(SIG "\x31\x11\x00\x0c", 16, PP_E_BAD,
	       "PROXY v2: version 3, not 2");
	PP_ERR(SIG "\x22", 13, PP_E_BAD,
	       "PROXY v2: command 0x2 is neither LOCAL (0) nor PROXY (1)");
	PP_ERR(SIG "\x2f\x11", 14, PP_E_BAD,
	       "PROXY v2: command 0xf is neither LOCAL (0) nor PROXY (1)");
	PP_ERR(SIG "\x21\x12", 14, PP_E_UNSUPPORTED,
	       "PROXY v2: address family 0x12 (UDP over IPv4) is not TCP over IPv4/IPv6");
	PP_ERR(SIG "\x21\x22\x00\x24" ADDR6, 52, PP_E_UNSUPPORTED,
	       "PROXY v2: address family 0x22 (UDP over IPv6) is not TCP over IPv4/IPv6");
	PP_ERR(SIG "\x21\x31", 14, PP_E_UNSUPPORTED,
	       "PROXY v2: address family 0x31 (UNIX stream) is not TCP over IPv4/IPv6");
	PP_ERR(SIG "\x21\x32", 14, PP_E_UNSUPPORTED,
	       "PROXY v2: address family 0x32 (UNIX datagram) is not TCP over IPv4/IPv6");
	PP_ERR(SIG "\x21\x00\x00\x00", 16, PP_E_UNSUPPORTED,
	       "PROXY v2: address family 0x00 (UNSPEC) is not TCP over IPv4/IPv6");
	PP_ERR(SIG "\x21\x41", 14, PP_E_BAD,
	       "PROXY v2: address family 0x41 is not one the spec defines");
	PP_ERR(SIG "\x20\x13", 14, PP_E_BAD,
	       "PROXY v2: address family 0x13 is not one the spec defines");
	PP_ERR(SIG "\x20\x10", 14, PP_E_BAD,
	       "PROXY v2: address family 0x10 is not one the spec defines");
	PP_ERR(SIG "\x21\x11\x00\x0b", 16, PP_E_BAD,
	       "PROXY v2: length 11 is short of the 12-byte address block of TCP over IPv4");
	PP_ERR(SIG "\x21\x21\x00\x0c", 16, PP_E_BAD,
	       "PROXY v2: length 12 is short of the 36-byte address block of TCP over IPv6");
	PP_ERR(SIG "\x20\x11\x00\x00", 16, PP_E_BAD,
	       "PROXY v2: length 0 is short of the 12-byte address block of TCP over IPv4");
}
END_TEST

/* A header over PP_MAX is refused once its length field has arrived. */
START_TEST(v2_too_long)
{
	struct pp_info info;
	char err[256] = "";

	PP_ERR(SIG "\x21\x11\xff\xff", 16, PP_E_TOO_LONG,
	       "PROXY v2: header of 65551 bytes, over the 4096 we accept");
	PP_ERR(SIG "\x21\x11\x0f\xf1", 16, PP_E_TOO_LONG,
	       "PROXY v2: header of 4097 bytes, over the 4096 we accept");
	ck_assert_int_eq(pp_parse((unsigned char *)SIG "\x21\x11\x0f\xf0", 16,
				  &info, err, sizeof err), PP_INCOMPLETE);
}
END_TEST

START_TEST(v2_tlvs_read)
{
	struct pp_info info;
	char err[256] = "";

	ck_assert_int_eq(pp_parse(v2_tlvs, LIT_LEN(v2_tlvs), &info, err,
				  sizeof err), LIT_LEN(v2_tlvs));
	ADDRS_EQ(&info, "[::1]:1234", "[2001:db8::2]:443");
	ck_assert_str_eq(info.authority, "db.example");
	ck_assert_int_eq(info.ssl, 1);
	ck_assert_uint_eq(info.ssl_client, PP2_CLIENT_SSL |
			  PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS);
	ck_assert_uint_eq(info.ssl_verify, 0);
	ck_assert_str_eq(info.ssl_version, "TLSv1.3");
	ck_assert_str_eq(info.ssl_cn, "client");
	ck_assert_uint_eq(info.unique_id_len, 4);
	ck_assert_mem_eq(info.unique_id, "\x01\x02\x03\x04", 4);
	ck_assert_int_eq(info.crc32c, 0);
	ck_assert_str_eq(err, "");
}
END_TEST

/* What HAProxy sends for a connection that was not TLS: the SSL TLV with
 * its client and verify fields zero and nothing else. */
START_TEST(v2_ssl_tlv_without_tls)
{
	static const unsigned char h[] = SIG "\x21\x11\x00\x14" ADDR4
		"\x20\x00\x05" "\0\0\0\0\0";
	struct pp_info info;
	char err[256] = "";

	ck_assert_int_eq(pp_parse(h, LIT_LEN(h), &info, err, sizeof err), 36);
	ck_assert_int_eq(info.ssl, 1);
	ck_assert_uint_eq(info.ssl_client, 0);
	ck_assert_str_eq(info.ssl_version, "");
	ck_assert_str_eq(info.ssl_cn, "");
}
END_TEST

#define V2_TLVS(len, tlvs) SIG "\x21\x11\x00" len ADDR4 tlvs

START_TEST(v2_tlv_bounds)
{
	unsigned char big[PP_V2_HEADER + 12 + 3 + 256];
	struct pp_info info;
	char err[256] = "";

	PP_ERR(V2_TLVS("\x0d", "\x04"), 29, PP_E_BAD,
	       "PROXY v2: TLV at offset 28: only 1 of its 3 type and length bytes");
	PP_ERR(V2_TLVS("\x0e", "\x04\x00"), 30, PP_E_BAD,
	       "PROXY v2: TLV at offset 28: only 2 of its 3 type and length bytes");
	PP_ERR(V2_TLVS("\x13", "\x04\x00\x05" "abcd"), 35, PP_E_BAD,
	       "PROXY v2: TLV 0x04 at offset 28: its 5-byte value runs past the end of the header");
	PP_ERR(V2_TLVS("\x13", "\x04\x00\x00" "\xf0\xff\xff" "a"), 35, PP_E_BAD,
	       "PROXY v2: TLV 0xf0 at offset 31: its 65535-byte value runs past the end of the header");
	/* the bytes behind the header are not the TLV's to take */
	PP_ERR(V2_TLVS("\x0f", "\x04\x00\x01" "abcd"), 35, PP_E_BAD,
	       "PROXY v2: TLV 0x04 at offset 28: its 1-byte value runs past the end of the header");
	/* empty NOOPs and unknown types are skipped */
	ck_assert_int_eq(pp_parse((unsigned char *)V2_TLVS("\x18",
				  "\x04\x00\x00" "\xe5\x00\x03" "abc"
				  "\x04\x00\x00"), 40, &info, err, sizeof err),
			 40);

	PP_ERR(V2_TLVS("\x13", "\x20\x00\x04" "\x01\0\0\0"), 35, PP_E_BAD,
	       "PROXY v2: SSL TLV of 4 bytes, short of its 5-byte client and verify fields");
	PP_ERR(V2_TLVS("\x1b", "\x20\x00\x08" "\x01\0\0\0\0" "\x22\x00\x01"
		       "\x04\x00\x01" "x"), 43, PP_E_BAD,
	       "PROXY v2: SSL sub-TLV 0x22 at offset 36: its 1-byte value runs past the end of the SSL TLV");
	PP_ERR(V2_TLVS("\x16", "\x20\x00\x07" "\x01\0\0\0\0" "\x21\x00"), 38,
	       PP_E_BAD,
	       "PROXY v2: SSL sub-TLV at offset 36: only 2 of its 3 type and length bytes");
	PP_ERR(V2_TLVS("\x1c", "\x20\x00\x0d" "\x01\0\0\0\0" "\x22\x00\x01" "a"
		       "\x22\x00\x01" "b"), 44, PP_E_BAD,
	       "PROXY v2: a second SSL CN sub-TLV");
	PP_ERR(V2_TLVS("\x1c", "\x20\x00\x0d" "\x01\0\0\0\0" "\x21\x00\x01" "a"
		       "\x21\x00\x01" "b"), 44, PP_E_BAD,
	       "PROXY v2: a second SSL VERSION sub-TLV");
	PP_ERR(V2_TLVS("\x1a", "\x20\x00\x0b" "\x01\0\0\0\0" "\x21\x00\x03"
		       "v\x80z"), 42, PP_E_BAD,
	       "PROXY v2: SSL VERSION sub-TLV holds byte 0x80");
	PP_ERR(V2_TLVS("\x1a", "\x20\x00\x0b" "\x01\0\0\0\0" "\x22\x00\x03"
		       "a\nb"), 42, PP_E_BAD,
	       "PROXY v2: SSL CN sub-TLV holds byte 0x0a");
	PP_ERR(V2_TLVS("\x1c", "\x20\x00\x05" "\x01\0\0\0\0" "\x20\x00\x05"
		       "\x01\0\0\0\0"), 44, PP_E_BAD,
	       "PROXY v2: a second TLV of type 0x20");

	PP_ERR(V2_TLVS("\x12", "\x02\x00\x03" "a\0b"), 34, PP_E_BAD,
	       "PROXY v2: AUTHORITY TLV holds byte 0x00");
	PP_ERR(V2_TLVS("\x14", "\x02\x00\x01" "a" "\x02\x00\x01" "b"), 36,
	       PP_E_BAD, "PROXY v2: a second TLV of type 0x02");
	PP_ERR(V2_TLVS("\x12", "\x03\x00\x03" "abc"), 34, PP_E_BAD,
	       "PROXY v2: CRC32C TLV of 3 bytes, not 4");

	/* AUTHORITY: 255 bytes, not 256; UNIQUE_ID: 128, not 129 */
	memset(big, 'a', sizeof big);
	memcpy(big, SIG "\x21\x11\x01\x0f" ADDR4 "\x02\x01\x00", 31);
	PP_ERR(big, sizeof big, PP_E_BAD,
	       "PROXY v2: AUTHORITY TLV of 256 bytes, over 255");
	memcpy(big, SIG "\x21\x11\x01\x0e" ADDR4 "\x02\x00\xff", 31);
	ck_assert_int_eq(pp_parse(big, sizeof big - 1, &info, err, sizeof err),
			 sizeof big - 1);
	ck_assert_uint_eq(strlen(info.authority), 255);
	memcpy(big, SIG "\x21\x11\x00\x90" ADDR4 "\x05\x00\x81", 31);
	PP_ERR(big, PP_V2_HEADER + 12 + 3 + 129, PP_E_BAD,
	       "PROXY v2: UNIQUE_ID TLV of 129 bytes, over 128");
	memcpy(big, SIG "\x21\x11\x00\x8f" ADDR4 "\x05\x00\x80", 31);
	ck_assert_int_eq(pp_parse(big, sizeof big, &info, err, sizeof err),
			 PP_V2_HEADER + 12 + 3 + 128);
	ck_assert_uint_eq(info.unique_id_len, 128);
}
END_TEST

START_TEST(v2_crc32c_checked)
{
	unsigned char buf[64];
	struct pp_info info;
	char err[256] = "";

	ck_assert_int_eq(pp_parse(v2_crc, LIT_LEN(v2_crc), &info, err,
				  sizeof err), LIT_LEN(v2_crc));
	ck_assert_int_eq(info.crc32c, 1);
	ADDRS_EQ(&info, "192.168.0.1:56324", "192.168.0.11:443");

	memcpy(buf, v2_crc, LIT_LEN(v2_crc));
	buf[34] ^= 0x01;
	PP_ERR(buf, LIT_LEN(v2_crc), PP_E_CHECKSUM,
	       "PROXY v2: the header's CRC32c is 0x1c1ae9c6, its CRC32C TLV says 0x1c1ae9c7");
	buf[34] ^= 0x01;
	buf[19] ^= 0x01;	/* 192.168.0.0, the client's address forged */
	PP_ERR(buf, LIT_LEN(v2_crc), PP_E_CHECKSUM,
	       "PROXY v2: the header's CRC32c is 0xee16e438, its CRC32C TLV says 0x1c1ae9c6");
	PP_ERR(SIG "\x21\x11\x00\x1a" ADDR4 "\x03\x00\x04\x1c\x1a\xe9\xc6"
	       "\x03\x00\x04\x1c\x1a\xe9\xc6", 42, PP_E_BAD,
	       "PROXY v2: a second TLV of type 0x03");
}
END_TEST

/** @brief An AF_INET or AF_INET6 address from text. */
static struct sockaddr_storage sa(const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

START_TEST(build_bytes)
{
	static const unsigned char plain[] = SIG "\x21\x11\x00\x0c" ADDR4;
	static const unsigned char tls[] = SIG "\x21\x11\x00\x22" ADDR4
		"\x20\x00\x0f" "\x01\x00\x00\x00\x01" "\x21\x00\x07" "TLSv1.2"
		"\x02\x00\x01" "h";
	struct sockaddr_storage src = sa("192.168.0.1", 56324);
	struct sockaddr_storage dst = sa("192.168.0.11", 443);
	unsigned char out[256];

	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(src), SA(dst), NULL,
				     0, NULL, NULL), LIT_LEN(plain));
	ck_assert_mem_eq(out, plain, LIT_LEN(plain));
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(src), SA(dst), NULL,
				     0, "", ""), LIT_LEN(plain));
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(src), SA(dst),
				     "TLSv1.2", 0, NULL, "h"), LIT_LEN(tls));
	ck_assert_mem_eq(out, tls, LIT_LEN(tls));
}
END_TEST

/** @brief Build a header from the arguments, parse it back and check
 *  that everything came through. */
static void round_trip(const char *s, unsigned sport, const char *d,
		       unsigned dport, const char *want_src,
		       const char *want_dst, const char *version,
		       int verified, const char *cn, const char *authority)
{
	struct sockaddr_storage src = sa(s, sport), dst = sa(d, dport);
	unsigned char out[PP_MAX];
	struct pp_info info;
	char err[256] = "";
	int n;

	n = pp_build_v2(out, sizeof out, SA(src), SA(dst), version, verified,
			cn, authority);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pp_parse(out, n, &info, err, sizeof err), n);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(info.version, 2);
	ck_assert_int_eq(info.local, 0);
	ADDRS_EQ(&info, want_src, want_dst);
	ck_assert_str_eq(info.authority, authority ? authority : "");
	ck_assert_int_eq(info.ssl, version != NULL);
	if (version) {
		ck_assert_uint_eq(info.ssl_client, verified ? 0x07 : 0x01);
		ck_assert_uint_eq(info.ssl_verify, verified ? 0 : 1);
		ck_assert_str_eq(info.ssl_version, version);
		ck_assert_str_eq(info.ssl_cn, cn ? cn : "");
	}
	every_prefix(out, n);
}

START_TEST(build_round_trip)
{
	char cn[PP_SSL_CN_MAX + 1], host[PP_AUTHORITY_MAX + 1];

	round_trip("192.0.2.1", 51234, "198.51.100.7", 443,
		   "192.0.2.1:51234", "198.51.100.7:443", "TLSv1.3", 1,
		   "client.example", "db.example");
	round_trip("2001:db8::1", 1, "2001:db8::2", 65535, "[2001:db8::1]:1",
		   "[2001:db8::2]:65535", "TLSv1.3", 1, "Zoë", NULL);
	round_trip("2001:db8::1", 0, "::1", 0, "[2001:db8::1]:0", "[::1]:0",
		   "TLSv1.2", 0, NULL, "gw");
	round_trip("10.0.0.1", 5, "10.0.0.2", 6, "10.0.0.1:5", "10.0.0.2:6",
		   NULL, 0, NULL, NULL);
	/* one IPv4 end and one IPv6: both go as IPv6 */
	round_trip("192.0.2.1", 40000, "2001:db8::2", 443,
		   "[::ffff:192.0.2.1]:40000", "[2001:db8::2]:443", "TLSv1.3",
		   0, NULL, NULL);
	round_trip("::1", 40000, "127.0.0.1", 443, "[::1]:40000",
		   "[::ffff:127.0.0.1]:443", NULL, 0, NULL, NULL);
	/* the longest strings we send */
	memset(cn, 'c', sizeof cn - 1);
	cn[sizeof cn - 1] = '\0';
	memset(host, 'h', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	round_trip("::1", 1, "::2", 2, "[::1]:1", "[::2]:2",
		   "123456789012345678901234567890123456789012345678901234567890123",
		   1, cn, host);
}
END_TEST

START_TEST(build_fits)
{
	struct sockaddr_storage src = sa("2001:db8::1", 1);
	struct sockaddr_storage dst = sa("2001:db8::2", 2);
	unsigned char out[512];
	int n, i;

	n = pp_build_v2(out, sizeof out, SA(src), SA(dst), "TLSv1.3", 1,
			"client", "db.example");
	ck_assert_int_eq(n, PP_V2_HEADER + 36 + 8 + 10 + 9 + 13);
	ck_assert_int_eq(pp_build_v2(out, n, SA(src), SA(dst), "TLSv1.3", 1,
				     "client", "db.example"), n);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(pp_build_v2(out, i, SA(src), SA(dst),
					     "TLSv1.3", 1, "client",
					     "db.example"), -1);
}
END_TEST

START_TEST(build_refuses)
{
	struct sockaddr_storage v4 = sa("192.0.2.1", 1);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	unsigned char out[PP_MAX];
	char s[PP_AUTHORITY_MAX + 2];

	ck_assert_int_eq(pp_build_v2(out, sizeof out, (struct sockaddr *)&un,
				     SA(v4), NULL, 0, NULL, NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4),
				     (struct sockaddr *)&un, NULL, 0, NULL,
				     NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4), "", 0,
				     NULL, NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4),
				     "TLS\n1.3", 0, NULL, NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4),
				     "TLSv1.3", 1, "a\x01", NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4), NULL, 0,
				     NULL, "h\x7f"), -1);
	memset(s, 'a', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4),
				     "TLSv1.3", 1, s, NULL), -1);
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4), NULL, 0,
				     NULL, s), -1);
	s[PP_SSL_VERSION_MAX + 1] = '\0';
	ck_assert_int_eq(pp_build_v2(out, sizeof out, SA(v4), SA(v4), s, 0,
				     NULL, NULL), -1);
	s[PP_SSL_VERSION_MAX] = '\0';
	ck_assert_int_gt(pp_build_v2(out, sizeof out, SA(v4), SA(v4), s, 0,
				     NULL, NULL), 0);
}
END_TEST

static Suite *pp_suite(void)
{
	Suite *s = suite_create("pp");
	TCase *v1 = tcase_create("v1");
	TCase *v2 = tcase_create("v2");
	TCase *tlv = tcase_create("tlvs");
	TCase *build = tcase_create("writing");

	tcase_add_test(v1, v1_tcp4_line);
	tcase_add_test(v1, v1_tcp6_and_unknown_lines);
	tcase_add_test(v1, v1_every_prefix);
	tcase_add_test(v1, v1_bad_lines);
	tcase_add_test(v1, v1_length_limit);
	suite_add_tcase(s, v1);

	tcase_add_test(v2, v2_tcp4_tcp6_headers);
	tcase_add_test(v2, v2_local);
	tcase_add_test(v2, v2_every_prefix);
	tcase_add_test(v2, v2_bad_fixed_part);
	tcase_add_test(v2, v2_too_long);
	suite_add_tcase(s, v2);

	tcase_add_test(tlv, crc32c_vectors);
	tcase_add_test(tlv, v2_tlvs_read);
	tcase_add_test(tlv, v2_ssl_tlv_without_tls);
	tcase_add_test(tlv, v2_tlv_bounds);
	tcase_add_test(tlv, v2_crc32c_checked);
	suite_add_tcase(s, tlv);

	tcase_add_test(build, build_bytes);
	tcase_add_test(build, build_round_trip);
	tcase_add_test(build, build_fits);
	tcase_add_test(build, build_refuses);
	suite_add_tcase(s, build);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(pp_suite());
}
