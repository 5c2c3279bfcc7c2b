/* fuzz_pp.c - libFuzzer entry point for the PROXY protocol parser and
 * writer
 *
 * Build (outputs outside the tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *	daemon/pp.c tests/fuzz/fuzz_pp.c -o /tmp/fuzz_pp
 *
 * The input is parsed as a header, and also used as the makings of one
 * (addresses, ports, TLS version, CN, authority) for pp_build_v2. Beyond
 * "no crash, no read past the input", each call is held to what pp.h
 * promises, and what is written must read back the same; a broken
 * promise aborts so the fuzzer keeps the input.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

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

/** @brief A TLV string in @info: NUL-terminated inside its array, no
 *  control characters (nor, with @ascii, anything past ASCII). */
static void fuzz_check_text(const char *s, size_t size, int ascii)
{
	size_t n = strnlen(s, size), i;

	fuzz_check(n < size);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		fuzz_check(c >= 0x20 && c != 0x7f && (!ascii || c < 0x7f));
	}
}

/** @brief Is @a the address @b, port included? */
static int fuzz_same_addr(const struct sockaddr_storage *a,
			  const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       !memcmp(&a4->sin_addr, &b4->sin_addr, 4);
	return a->ss_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, 16);
}

/** @brief @ss as the writer sends it when the other end is IPv6: an
 *  IPv4 address becomes ::ffff:a.b.c.d. */
static struct sockaddr_storage fuzz_as_v6(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	struct sockaddr_storage out = *ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out;

	if (ss->ss_family != AF_INET)
		return out;
	memset(&out, 0, sizeof out);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = in->sin_port;
	in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&in6->sin6_addr.s6_addr[12], &in->sin_addr, 4);
	return out;
}

/** @brief Write a header from these parts, read it back, and check that
 *  everything came through; @outlen bytes of room must fail cleanly. */
static void fuzz_round_trip(const struct sockaddr_storage *src,
			    const struct sockaddr_storage *dst,
			    const char *version, int verified, const char *cn,
			    const char *authority, size_t outlen)
{
	static unsigned char out[PP_MAX];
	struct sockaddr_storage s = *src, d = *dst;
	struct pp_info info;
	char err[256] = "";
	int n, rc;

	n = pp_build_v2(out, sizeof out, (const struct sockaddr *)src,
			(const struct sockaddr *)dst, version, verified, cn,
			authority);
	fuzz_check(n >= PP_V2_HEADER + 12 && n <= PP_MAX);
	fuzz_check(pp_parse(out, n - 1, &info, err, sizeof err) ==
		   PP_INCOMPLETE);
	fuzz_check(pp_parse(out, n, &info, err, sizeof err) == n);
	fuzz_check(info.version == 2 && !info.local);
	if (src->ss_family != dst->ss_family) {
		s = fuzz_as_v6(src);
		d = fuzz_as_v6(dst);
	}
	fuzz_check(fuzz_same_addr(&info.src, &s));
	fuzz_check(fuzz_same_addr(&info.dst, &d));
	fuzz_check(!strcmp(info.authority, authority ? authority : ""));
	fuzz_check(info.ssl == (version != NULL));
	if (version) {
		fuzz_check(!strcmp(info.ssl_version, version));
		fuzz_check(!strcmp(info.ssl_cn, cn ? cn : ""));
		fuzz_check((info.ssl_verify == 0) == (verified != 0));
		fuzz_check(info.ssl_client & PP2_CLIENT_SSL);
	}
	if (outlen > sizeof out)
		outlen = sizeof out;
	rc = pp_build_v2(out, outlen, (const struct sockaddr *)src,
			 (const struct sockaddr *)dst, version, verified, cn,
			 authority);
	fuzz_check(outlen < (size_t)n ? rc == -1 : rc == n);
}

/** @brief Check what pp_parse made of @len bytes at @buf, and that
 *  writing it out again reads back the same. */
static void fuzz_parse(const unsigned char *buf, size_t len)
{
	struct pp_info info, again;
	char err[256] = "";
	int rc = pp_parse(buf, len, &info, err, sizeof err), verified;
	const char *version;

	fuzz_check(rc >= PP_E_CHECKSUM && rc <= PP_MAX);
	if (rc == PP_INCOMPLETE) {
		fuzz_check(len < PP_MAX);
		fuzz_check(len == 0 || buf[0] != 'P' || len < PP_V1_MAX);
		return;
	}
	if (rc < 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	fuzz_check((size_t)rc <= len);
	/* the bytes behind the header play no part in it */
	fuzz_check(pp_parse(buf, rc, &again, err, sizeof err) == rc);
	fuzz_check(pp_parse(buf, rc - 1, &again, err, sizeof err) ==
		   PP_INCOMPLETE);
	fuzz_check(info.version == 1 || info.version == 2);
	fuzz_check(info.version == 2 || rc <= PP_V1_MAX);
	fuzz_check_text(info.authority, sizeof info.authority, 0);
	fuzz_check_text(info.ssl_cn, sizeof info.ssl_cn, 0);
	fuzz_check_text(info.ssl_version, sizeof info.ssl_version, 1);
	fuzz_check(info.unique_id_len <= PP_UNIQUE_ID_MAX);
	if (info.local) {
		fuzz_check(info.src.ss_family == AF_UNSPEC);
		return;
	}
	fuzz_check(info.src.ss_family == info.dst.ss_family);
	if (info.src.ss_family == AF_INET)
		fuzz_check(info.srclen == sizeof(struct sockaddr_in) &&
			   info.dstlen == sizeof(struct sockaddr_in));
	else
		fuzz_check(info.src.ss_family == AF_INET6 &&
			   info.srclen == sizeof(struct sockaddr_in6) &&
			   info.dstlen == sizeof(struct sockaddr_in6));
	verified = info.ssl && info.ssl_verify == 0 &&
		   (info.ssl_client & PP2_CLIENT_CERT_CONN);
	version = info.ssl && info.ssl_version[0] ? info.ssl_version : NULL;
	fuzz_round_trip(&info.src, &info.dst, version, verified,
			info.ssl_cn[0] ? info.ssl_cn : NULL, info.authority,
			len);
}

/** @brief Take @n bytes from the input as a TLV string of at most @max,
 *  bytes it may not hold replaced, so the writer must take it. */
static void fuzz_string(const uint8_t **p, size_t *left, size_t n,
			size_t max, int ascii, char *out)
{
	size_t i;

	if (n > max)
		n = max;
	if (n > *left)
		n = *left;
	for (i = 0; i < n; i++) {
		unsigned char c = (*p)[i];

		out[i] = c < 0x20 || c == 0x7f || (ascii && c > 0x7f) ? '.' :
			 (char)c;
	}
	out[n] = '\0';
	*p += n;
	*left -= n;
}

/** @brief Use the input as the parts of a header to write: a flags byte,
 *  two addresses with ports, three lengths, then the strings. */
static void fuzz_build(const uint8_t *data, size_t size)
{
	struct sockaddr_storage src, dst;
	char version[PP_SSL_VERSION_MAX + 1], cn[PP_SSL_CN_MAX + 1];
	char authority[PP_AUTHORITY_MAX + 1];
	uint8_t raw[1 + 2 * 18 + 3] = { 0 };
	const uint8_t *p;
	size_t left, k;
	unsigned flags;

	memcpy(raw, data, size < sizeof raw ? size : sizeof raw);
	p = data + (size < sizeof raw ? size : sizeof raw);
	left = size - (size_t)(p - data);
	flags = raw[0];
	for (k = 0; k < 2; k++) {
		struct sockaddr_storage *ss = k ? &dst : &src;
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		const uint8_t *a = raw + 1 + 18 * k;

		memset(ss, 0, sizeof *ss);
		if (flags & (1u << k)) {
			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, a, 16);
			memcpy(&in6->sin6_port, a + 16, 2);
		} else {
			in->sin_family = AF_INET;
			memcpy(&in->sin_addr, a, 4);
			memcpy(&in->sin_port, a + 16, 2);
		}
	}
	fuzz_string(&p, &left, raw[37] % (PP_SSL_VERSION_MAX + 1),
		    PP_SSL_VERSION_MAX, 1, version);
	fuzz_string(&p, &left, raw[38], PP_SSL_CN_MAX, 0, cn);
	fuzz_string(&p, &left, raw[39], PP_AUTHORITY_MAX, 0, authority);
	fuzz_round_trip(&src, &dst, flags & 4 && version[0] ? version : NULL,
			flags & 8, flags & 16 ? cn : NULL,
			flags & 32 ? authority : NULL,
			(size_t)raw[37] * 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the input */
	unsigned char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fuzz_parse(buf, size);
	fuzz_build(buf, size);
	free(buf);
	return 0;
}
