/* hc.c - the Azure Relay Hybrid Connections protocol: relay URLs, SAS
 * tokens, and the listener's JSON control messages
 *
 * A token decides who may listen on or connect to an entity, so parsing
 * is strict: each field once, the signature canonical base64, the
 * percent-encoding exactly what decodeURIComponent accepts. What was
 * signed is the sr field as sent, so it is kept as sent for the HMAC and
 * decoded only to learn the scope. Error strings name the field that is
 * wrong but never hold the signature, the key or the token itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc.h"

#define HC_QUOTE_LEN 68		/* 64 bytes of input, "..." and NUL */
#define HC_SHA256_LEN 32
#define HC_SIG_B64_MAX 88	/* base64 of the 64 bytes struct hc_token holds */

static const char hc_scheme_word[] = "SharedAccessSignature";

static const char hc_b64_digits[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** @brief Put the reason for a failure in @err and hand back @rc, so each
 *  check is one line. */
static int hc_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int hc_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/** @brief A bounded, printable copy of untrusted bytes for an error
 *  message, so a peer can neither flood nor forge log lines. */
static const char *hc_quote(char q[HC_QUOTE_LEN], const char *s, size_t n)
{
	size_t i, max = HC_QUOTE_LEN - 4;

	for (i = 0; i < n && i < max; i++)
		q[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	if (i < n)
		memcpy(q + i, "...", 4);
	else
		q[i] = '\0';
	return q;
}

static int hc_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/** @brief Are the @n bytes at @a and @b the same but for ASCII case? */
static int hc_ieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hc_lower((unsigned char)a[i]) != hc_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int hc_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static int hc_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hc_ctl(int c)
{
	return c < 0x20 || c == 0x7f;
}

/** @brief Does any of the @n bytes at @s a control character? */
static int hc_has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hc_ctl((unsigned char)s[i]))
			return 1;
	return 0;
}

/** @brief The value of hex digit @c, or -1. */
static int hc_hex(int c)
{
	if (hc_digit(c))
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/** @brief What encodeURIComponent leaves as it is. */
static int hc_unreserved(int c)
{
	return hc_alnum(c) || (c && strchr("-_.!~*'()", c));
}

/** @brief Are the @n bytes at @s UTF-8 as RFC 3629 defines it: shortest
 *  forms, no surrogates, nothing past U+10FFFF? */
static int hc_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, need, k;
	unsigned long cp, min;

	while (i < n) {
		unsigned c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int hc_uri_encode(const char *s, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (hc_unreserved(c)) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (o >= outlen || o > INT_MAX)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int hc_uri_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (o + 1 >= outlen)
			return -1;
		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = hc_hex((unsigned char)s[i + 1]);
			lo = hc_hex((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f)
			return -1;
		out[o++] = (char)c;
	}
	if (o >= outlen || o > INT_MAX ||
	    !hc_utf8_valid((const unsigned char *)out, o))
		return -1;
	out[o] = '\0';
	return (int)o;
}

/** @brief base64 (RFC 4648, padded) of @n bytes at @in into @out with a
 *  NUL; returns the length or -1 when it does not fit in @outlen. */
static int hc_b64_encode(const unsigned char *in, size_t n, char *out,
			 size_t outlen)
{
	size_t i, o = 0;

	if ((n + 2) / 3 * 4 >= outlen)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 | in[i + 1] << 8 |
				  in[i + 2];

		out[o++] = hc_b64_digits[v >> 18 & 63];
		out[o++] = hc_b64_digits[v >> 12 & 63];
		out[o++] = hc_b64_digits[v >> 6 & 63];
		out[o++] = hc_b64_digits[v & 63];
	}
	if (i < n) {
		unsigned long v = (unsigned long)in[i] << 16 |
				  (i + 1 < n ? in[i + 1] << 8 : 0);

		out[o++] = hc_b64_digits[v >> 18 & 63];
		out[o++] = hc_b64_digits[v >> 12 & 63];
		out[o++] = i + 1 < n ? hc_b64_digits[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

/** @brief The value of base64 digit @c, or -1. */
static int hc_b64_value(int c)
{
	const char *p = c ? strchr(hc_b64_digits, c) : NULL;

	return p ? (int)(p - hc_b64_digits) : -1;
}

/** @brief Decode canonical padded base64 (the unused bits zero) of the
 *  @n bytes at @s into at most @outlen bytes at @out. Returns the
 *  length, or -1. */
static long hc_b64_decode(const char *s, size_t n, unsigned char *out,
			  size_t outlen)
{
	size_t i, o = 0, pad = 0;

	if (n == 0 || n % 4)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if ((n / 4) * 3 - pad > outlen)
		return -1;
	for (i = 0; i < n; i += 4) {
		unsigned long v = 0;
		int k, d;

		for (k = 0; k < 4; k++) {
			if (i + k >= n - pad) {
				d = 0;
			} else if ((d = hc_b64_value((unsigned char)s[i + k])) < 0) {
				return -1;
			}
			v = v << 6 | (unsigned)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < n || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < n || pad < 1)
			out[o++] = (unsigned char)v;
		/* the bits the padding leaves over must be zero */
		if (i + 4 >= n && ((pad == 1 && (v & 0xff)) ||
				   (pad == 2 && (v & 0xffff))))
			return -1;
	}
	return (long)o;
}

/* ---- relay URLs ---- */

/** @brief May @c stand in an entity path's segment? RFC 3986 pchars but
 *  percent-escapes, so a path has one spelling. */
static int hc_path_char(int c)
{
	return hc_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@", c));
}

/** @brief Parse "[:PORT]" at @s (@n bytes, the rest of the authority)
 *  into @port; 0 or -1. */
static int hc_port(const char *s, size_t n, unsigned *port)
{
	size_t i;

	*port = 443;
	if (n == 0)
		return 0;
	if (s[0] != ':' || n < 2 || n > 6 || s[1] == '0')
		return -1;
	*port = 0;
	for (i = 1; i < n; i++) {
		if (!hc_digit((unsigned char)s[i]))
			return -1;
		*port = *port * 10 + (unsigned)(s[i] - '0');
	}
	return *port <= 65535 ? 0 : -1;
}

int hc_url_parse(const char *s, struct hc_url *u, char *err, size_t errlen)
{
	char q[HC_QUOTE_LEN], v6[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *a, *aend, *h, *p, *pend, *seg;
	size_t i, hn, n;

	memset(u, 0, sizeof *u);
	for (i = 0; hc_alnum((unsigned char)s[i]) || s[i] == '+' ||
		    s[i] == '-' || s[i] == '.'; i++)
		;
	if (i == 0 || strncmp(s + i, "://", 3) != 0)
		return hc_fail(err, errlen, -1,
			       "url: no scheme (want wss://HOST/$hc/PATH)");
	if (i != 3 || !hc_ieq(s, "wss", 3))
		return hc_fail(err, errlen, -1,
			       "url: scheme \"%s\" is not wss (the relay speaks WebSocket over TLS only)",
			       hc_quote(q, s, i));
	a = s + i + 3;
	aend = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(aend - a)))
		return hc_fail(err, errlen, -1, "url: user info is not allowed");
	if (a[0] == '[') {
		h = a + 1;
		p = memchr(h, ']', (size_t)(aend - h));
		if (!p || (size_t)(p - h) >= sizeof v6)
			return hc_fail(err, errlen, -1,
				       "url: IPv6 address without closing ']'");
		hn = (size_t)(p - h);
		memcpy(v6, h, hn);
		v6[hn] = '\0';
		if (inet_pton(AF_INET6, v6, bin) != 1)
			return hc_fail(err, errlen, -1,
				       "url: \"%s\" is not an IPv6 address",
				       hc_quote(q, v6, hn));
		p++;
	} else {
		h = a;
		p = memchr(a, ':', (size_t)(aend - a));
		if (!p)
			p = aend;
		hn = (size_t)(p - h);
		if (hn == 0)
			return hc_fail(err, errlen, -1, "url: no host");
		for (i = 0; i < hn; i++)
			if (!hc_alnum((unsigned char)h[i]) && h[i] != '-' &&
			    h[i] != '.' && h[i] != '_')
				return hc_fail(err, errlen, -1,
					       "url: host \"%s\" holds a character a host name may not",
					       hc_quote(q, h, hn));
	}
	if (hn >= sizeof u->host)
		return hc_fail(err, errlen, -1,
			       "url: host longer than %d bytes", HC_HOST_MAX - 1);
	for (i = 0; i < hn; i++)
		u->host[i] = (char)hc_lower((unsigned char)h[i]);
	u->host[hn] = '\0';
	if (hc_port(p, (size_t)(aend - p), &u->port) < 0)
		return hc_fail(err, errlen, -1,
			       "url: port \"%s\" is not 1 to 65535",
			       hc_quote(q, p, (size_t)(aend - p)));
	if (strncmp(aend, "/$hc/", 5) != 0)
		return hc_fail(err, errlen, -1,
			       "url: path must start with /$hc/ (want wss://HOST/$hc/PATH)");
	p = aend + 5;
	pend = p + strcspn(p, "?#");
	if (*pend == '#')
		return hc_fail(err, errlen, -1, "url: a fragment is not allowed");
	n = (size_t)(pend - p);
	if (n == 0)
		return hc_fail(err, errlen, -1, "url: empty entity path after /$hc/");
	if (n >= sizeof u->path)
		return hc_fail(err, errlen, -1,
			       "url: entity path longer than %d bytes",
			       HC_PATH_MAX - 1);
	for (seg = p, i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)p[i] : '/';
		size_t sn;

		if (c != '/') {
			if (hc_ctl(c))
				return hc_fail(err, errlen, -1,
					       "url: control character in the entity path");
			if (!hc_path_char(c))
				return hc_fail(err, errlen, -1,
					       "url: byte 0x%02x is not allowed in the entity path",
					       c);
			continue;
		}
		sn = (size_t)(p + i - seg);
		if (sn == 0)
			return hc_fail(err, errlen, -1,
				       "url: empty segment in the entity path");
		if ((sn == 1 && seg[0] == '.') ||
		    (sn == 2 && seg[0] == '.' && seg[1] == '.'))
			return hc_fail(err, errlen, -1,
				       "url: \".\" or \"..\" segment in the entity path");
		seg = p + i + 1;
	}
	memcpy(u->path, p, n);
	u->path[n] = '\0';
	for (p = pend; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return hc_fail(err, errlen, -1,
				       "url: byte 0x%02x is not allowed in the query",
				       (unsigned char)*p);
	return 0;
}

/* ---- SAS tokens ---- */

int hc_token_make(const char *host, const char *path, const char *key_name,
		  const char *key, size_t keylen, long long expiry, char *out,
		  size_t outlen)
{
	char uri[8 + HC_HOST_MAX + 2 + HC_PATH_MAX], enc_uri[HC_TOKEN_MAX];
	char tosign[HC_TOKEN_MAX + 24], sig[64], enc_sig[3 * sizeof sig];
	char enc_skn[3 * HC_KEYNAME_MAX];
	unsigned char mac[HC_SHA256_LEN];
	size_t hn = strlen(host), pn = strlen(path), i, o;
	const char *c1 = strchr(host, ':');
	int v6 = c1 && strchr(c1 + 1, ':') && host[0] != '[', n;

	if (expiry < 0 || hn >= HC_HOST_MAX || pn >= HC_PATH_MAX ||
	    strlen(key_name) >= HC_KEYNAME_MAX)
		return -1;
	/* "http://" HOST "/" PATH, the host as node's url.parse leaves it */
	o = (size_t)snprintf(uri, sizeof uri, "http://%s", v6 ? "[" : "");
	for (i = 0; i < hn; i++)
		uri[o++] = (char)hc_lower((unsigned char)host[i]);
	if (v6)
		uri[o++] = ']';
	uri[o++] = '/';
	memcpy(uri + o, path, pn);
	o += pn;
	if (hc_uri_encode(uri, o, enc_uri, sizeof enc_uri) < 0)
		return -1;
	n = snprintf(tosign, sizeof tosign, "%s\n%lld", enc_uri, expiry);
	if (n < 0 || (size_t)n >= sizeof tosign)
		return -1;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, tosign, (size_t)n,
			     mac) < 0)
		return -1;
	if (hc_b64_encode(mac, sizeof mac, sig, sizeof sig) < 0 ||
	    hc_uri_encode(sig, strlen(sig), enc_sig, sizeof enc_sig) < 0 ||
	    hc_uri_encode(key_name, strlen(key_name), enc_skn,
			  sizeof enc_skn) < 0)
		return -1;
	n = snprintf(out, outlen, "%s sr=%s&sig=%s&se=%lld&skn=%s",
		     hc_scheme_word, enc_uri, enc_sig, expiry, enc_skn);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/** @brief Take the se field's @n bytes at @s: decimal, no sign, no
 *  leading zero (the HMAC is over the number as it is written again),
 *  at most 18 digits so it fits. 0 or -1. */
static int hc_se(const char *s, size_t n, long long *se)
{
	size_t i;

	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return -1;
	*se = 0;
	for (i = 0; i < n; i++) {
		if (!hc_digit((unsigned char)s[i]))
			return -1;
		*se = *se * 10 + (s[i] - '0');
	}
	return 0;
}

/** @brief Read one token field, @key = the @n bytes at @v, into @t. */
static int hc_token_field(struct hc_token *t, const char *key, const char *v,
			  size_t n, char *err, size_t errlen)
{
	char dec[HC_SIG_B64_MAX + 1];
	long len;
	int dn;

	if (n == 0)
		return hc_fail(err, errlen, -1, "token: empty %s field", key);
	if (!strcmp(key, "sr")) {
		if (n >= sizeof t->sr)
			return hc_fail(err, errlen, -1,
				       "token: sr field longer than %d bytes",
				       HC_TOKEN_MAX - 1);
		memcpy(t->sr, v, n);
		t->sr[n] = '\0';
		dn = hc_uri_decode(v, n, t->sr_dec, sizeof t->sr_dec);
		if (dn < 0)
			return hc_fail(err, errlen, -1,
				       "token: sr is not percent-encoded UTF-8");
		if (hc_has_ctl(t->sr_dec, (size_t)dn))
			return hc_fail(err, errlen, -1,
				       "token: control character in sr");
		return 0;
	}
	if (!strcmp(key, "sig")) {
		dn = hc_uri_decode(v, n, dec, sizeof dec);
		if (dn < 0 || (len = hc_b64_decode(dec, (size_t)dn, t->sig,
						   sizeof t->sig)) <= 0)
			return hc_fail(err, errlen, -1,
				       "token: sig is not base64 of at most %zu bytes",
				       sizeof t->sig);
		t->siglen = (size_t)len;
		return 0;
	}
	if (!strcmp(key, "se")) {
		if (hc_se(v, n, &t->se) < 0)
			return hc_fail(err, errlen, -1,
				       "token: se is not an expiry time in decimal Unix seconds");
		return 0;
	}
	dn = hc_uri_decode(v, n, t->skn, sizeof t->skn);
	if (dn < 0)
		return hc_fail(err, errlen, -1,
			       "token: skn is not percent-encoded UTF-8 of under %d bytes",
			       HC_KEYNAME_MAX);
	if (hc_has_ctl(t->skn, (size_t)dn))
		return hc_fail(err, errlen, -1,
			       "token: control character in skn");
	return 0;
}

int hc_token_parse(const char *s, size_t len, struct hc_token *t, char *err,
		   size_t errlen)
{
	static const char *const keys[] = { "sr", "sig", "se", "skn" };
	size_t wl = sizeof hc_scheme_word - 1, k;
	const char *end, *f, *fend, *eq;
	int seen[4] = { 0 };

	memset(t, 0, sizeof *t);
	while (len && (s[0] == ' ' || s[0] == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	end = s + len;
	if (len < wl || !hc_ieq(s, hc_scheme_word, wl))
		return hc_fail(err, errlen, -1,
			       "token: not a SharedAccessSignature token");
	s += wl;
	if (s == end || (*s != ' ' && *s != '\t'))
		return hc_fail(err, errlen, -1,
			       "token: no blank after SharedAccessSignature");
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (f = s, fend = NULL; fend != end; f = fend + 1) {
		fend = memchr(f, '&', (size_t)(end - f));
		if (!fend)
			fend = end;
		if (fend == f)
			return hc_fail(err, errlen, -1, "token: empty field");
		eq = memchr(f, '=', (size_t)(fend - f));
		if (!eq)
			return hc_fail(err, errlen, -1,
				       "token: a field without '='");
		for (k = 0; k < 4; k++)
			if (strlen(keys[k]) == (size_t)(eq - f) &&
			    !memcmp(f, keys[k], (size_t)(eq - f)))
				break;
		if (k == 4)
			continue;	/* a field we do not know: ignored */
		if (seen[k]++)
			return hc_fail(err, errlen, -1,
				       "token: %s field more than once", keys[k]);
		if (hc_token_field(t, keys[k], eq + 1, (size_t)(fend - eq - 1),
				   err, errlen) < 0)
			return -1;
	}
	for (k = 0; k < 4; k++)
		if (!seen[k])
			return hc_fail(err, errlen, -1, "token: no %s field",
				       keys[k]);
	return 0;
}

/** @brief The host in the authority @s (@n bytes: HOST, HOST:PORT,
 *  [V6] or [V6]:PORT, or a bare IPv6 address) as @h and @hn, brackets
 *  and port dropped. 0, or -1 when it is malformed. */
static int hc_authority_host(const char *s, size_t n, const char **h,
			     size_t *hn)
{
	const char *p, *c;
	size_t i;

	if (n && s[0] == '[') {
		p = memchr(s, ']', n);
		if (!p)
			return -1;
		*h = s + 1;
		*hn = (size_t)(p - s - 1);
		p++;
	} else {
		c = memchr(s, ':', n);
		if (c && memchr(c + 1, ':', n - (size_t)(c + 1 - s)))
			c = NULL;	/* an IPv6 address without brackets */
		p = c ? c : s + n;
		*h = s;
		*hn = (size_t)(p - s);
	}
	if (*hn == 0)
		return -1;
	if (p == s + n)
		return 0;
	if (*p != ':' || p + 1 == s + n)
		return -1;
	for (i = 1; p + i < s + n; i++)
		if (!hc_digit((unsigned char)p[i]))
			return -1;
	return 0;
}

int hc_token_verify(const struct hc_token *t, const char *key, size_t keylen,
		    const char *host, const char *path, long long now,
		    char *err, size_t errlen)
{
	static const char *const schemes[] = { "http", "https", "sb", "ws", "wss" };
	char buf[HC_TOKEN_MAX + 24], q[HC_QUOTE_LEN], qp[HC_QUOTE_LEN];
	unsigned char mac[HC_SHA256_LEN];
	const char *sr = t->sr_dec, *a, *aend, *th, *rh, *tp, *tpend;
	size_t srn = strnlen(t->sr_dec, sizeof t->sr_dec), thn, rhn, k;
	size_t pn, tpn;
	int n;

	n = snprintf(buf, sizeof buf, "%.*s\n%lld", HC_TOKEN_MAX - 1, t->sr,
		     t->se);
	if (n < 0 || (size_t)n >= sizeof buf ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, buf, (size_t)n,
			     mac) < 0)
		return hc_fail(err, errlen, HC_E_SIG,
			       "token: cannot compute its HMAC");
	if (t->siglen != sizeof mac || gnutls_memcmp(mac, t->sig, sizeof mac))
		return hc_fail(err, errlen, HC_E_SIG,
			       "token: signature does not match (wrong key, or altered)");
	if (t->se <= now)
		return hc_fail(err, errlen, HC_E_EXPIRED,
			       "token: expired %llu seconds ago",
			       (unsigned long long)now -
			       (unsigned long long)t->se);

	/* the scope: SCHEME://HOST[:PORT][/PATH][?...] */
	a = strstr(sr, "://");
	for (k = 0; a && k < 5; k++)
		if (strlen(schemes[k]) == (size_t)(a - sr) &&
		    hc_ieq(sr, schemes[k], (size_t)(a - sr)))
			break;
	if (!a || k == 5)
		return hc_fail(err, errlen, HC_E_SCOPE,
			       "token: sr \"%s\" is not an http, https, sb, ws or wss URL",
			       hc_quote(q, sr, srn));
	a += 3;
	aend = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(aend - a)) ||
	    hc_authority_host(a, (size_t)(aend - a), &th, &thn) < 0)
		return hc_fail(err, errlen, HC_E_SCOPE,
			       "token: sr \"%s\" has no proper host",
			       hc_quote(q, sr, srn));
	if (hc_authority_host(host, strlen(host), &rh, &rhn) < 0 ||
	    rhn != thn || !hc_ieq(rh, th, thn))
		return hc_fail(err, errlen, HC_E_SCOPE,
			       "token: sr \"%s\" is for another host",
			       hc_quote(q, sr, srn));
	tp = *aend == '/' ? aend + 1 : aend;
	tpend = tp + strcspn(tp, "?#");
	tpn = (size_t)(tpend - tp);
	if (tpn >= 4 && !memcmp(tp, "$hc/", 4))
		tp += 4, tpn -= 4;
	else if (tpn == 3 && !memcmp(tp, "$hc", 3))
		tpn = 0;
	while (tpn && tp[tpn - 1] == '/')
		tpn--;
	while (*path == '/')
		path++;
	pn = strlen(path);
	while (pn && path[pn - 1] == '/')
		pn--;
	if (tpn && (pn < tpn || memcmp(path, tp, tpn) ||
		    (pn > tpn && path[tpn] != '/')))
		return hc_fail(err, errlen, HC_E_SCOPE,
			       "token: sr \"%s\" does not cover entity path \"%s\"",
			       hc_quote(q, sr, srn), hc_quote(qp, path, pn));
	return 0;
}

/* ---- control messages ---- */

/** @brief Dump @root compactly into @out; the length, or -1. Frees
 *  @root. */
static int hc_dump(json_t *root, char *out, size_t outlen)
{
	size_t n = root ? json_dumpb(root, out, outlen, JSON_COMPACT) : 0;

	json_decref(root);
	if (n == 0 || n > outlen || n > INT_MAX)
		return -1;
	if (n < outlen)
		out[n] = '\0';
	return (int)n;
}

int hc_accept_build(char *out, size_t outlen, const char *address,
		    const char *id, const struct hc_header *h, size_t nh,
		    const char *raddr, unsigned rport)
{
	json_t *root = json_object(), *acc, *hdrs, *re;
	size_t i;
	int bad;

	/* json_object_set_new takes its value, NULL or not, even when it
	 * fails, so only @root is ever freed here */
	if (!root)
		return -1;
	bad = json_object_set_new(root, "accept", acc = json_object()) < 0 ||
	      json_object_set_new(acc, "address", json_string(address)) < 0 ||
	      json_object_set_new(acc, "id", json_string(id)) < 0 ||
	      json_object_set_new(acc, "connectHeaders",
				  hdrs = json_object()) < 0;
	for (i = 0; !bad && i < nh; i++) {
		char *name = malloc(h[i].namelen + 1);

		bad = !name || memchr(h[i].name, '\0', h[i].namelen);
		if (!bad) {
			memcpy(name, h[i].name, h[i].namelen);
			name[h[i].namelen] = '\0';
			bad = json_object_set_new(hdrs, name,
						  json_stringn(h[i].value,
							       h[i].valuelen)) < 0;
		}
		free(name);
	}
	if (!bad && raddr)
		bad = rport > 65535 ||
		      json_object_set_new(acc, "remoteEndpoint",
					  re = json_object()) < 0 ||
		      json_object_set_new(re, "address", json_string(raddr)) < 0 ||
		      json_object_set_new(re, "port", json_integer(rport)) < 0;
	if (bad) {
		json_decref(root);
		return -1;
	}
	return hc_dump(root, out, outlen);
}

int hc_renew_build(char *out, size_t outlen, const char *token)
{
	json_t *root = json_object(), *rt;

	if (!root)
		return -1;
	if (json_object_set_new(root, "renewToken", rt = json_object()) < 0 ||
	    json_object_set_new(rt, "token", json_string(token)) < 0) {
		json_decref(root);
		return -1;
	}
	return hc_dump(root, out, outlen);
}

/** @brief Copy the string member @key of @obj into the @size bytes at
 *  @out ("" if absent and not @required). 0, or -1 with @err naming
 *  "@what.@key". */
static int hc_json_str(const json_t *obj, const char *key, char *out,
		       size_t size, int required, const char *what, char *err,
		       size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	size_t n;

	out[0] = '\0';
	if (!v)
		return required ? hc_fail(err, errlen, -1, "%s: no %s", what,
					  key) : 0;
	if (!json_is_string(v))
		return hc_fail(err, errlen, -1, "%s: %s is not a string", what,
			       key);
	n = json_string_length(v);
	if (n >= size)
		return hc_fail(err, errlen, -1,
			       "%s: %s longer than %zu bytes", what, key,
			       size - 1);
	if (hc_has_ctl(json_string_value(v), n))
		return hc_fail(err, errlen, -1,
			       "%s: control character in %s", what, key);
	memcpy(out, json_string_value(v), n);
	out[n] = '\0';
	return 0;
}

/** @brief Read the accept object @acc into @a. 0 or -1. */
static int hc_accept_read(const json_t *acc, struct hc_accept *a, char *err,
			  size_t errlen)
{
	const json_t *hdrs, *re, *v, *port;
	const char *name;
	int host_seen = 0;
	json_int_t p;

	memset(a, 0, sizeof *a);
	if (!json_is_object(acc))
		return hc_fail(err, errlen, -1, "accept: not an object");
	if (hc_json_str(acc, "address", a->address, sizeof a->address, 1,
			"accept", err, errlen) < 0 ||
	    hc_json_str(acc, "id", a->id, sizeof a->id, 0, "accept", err,
			errlen) < 0)
		return -1;
	if ((hdrs = json_object_get(acc, "connectHeaders"))) {
		if (!json_is_object(hdrs))
			return hc_fail(err, errlen, -1,
				       "accept: connectHeaders is not an object");
		json_object_foreach((json_t *)hdrs, name, v) {
			if (strlen(name) != 4 || !hc_ieq(name, "host", 4))
				continue;
			if (host_seen++)
				return hc_fail(err, errlen, -1,
					       "accept: connectHeaders has Host more than once");
			if (hc_json_str(hdrs, name, a->host, sizeof a->host, 1,
					"accept: connectHeaders", err,
					errlen) < 0)
				return -1;
		}
	}
	if ((re = json_object_get(acc, "remoteEndpoint"))) {
		if (!json_is_object(re))
			return hc_fail(err, errlen, -1,
				       "accept: remoteEndpoint is not an object");
		if (hc_json_str(re, "address", a->raddr, sizeof a->raddr, 0,
				"accept: remoteEndpoint", err, errlen) < 0)
			return -1;
		if ((port = json_object_get(re, "port"))) {
			p = json_is_integer(port) ? json_integer_value(port) : -1;
			if (p < 0 || p > 65535)
				return hc_fail(err, errlen, -1,
					       "accept: remoteEndpoint port is not an integer 0 to 65535");
			a->rport = (unsigned)p;
		}
	}
	return 0;
}

int hc_msg_parse(const char *json, size_t len, struct hc_accept *a,
		 struct hc_renew *r, char *err, size_t errlen)
{
	struct hc_accept a_tmp;
	struct hc_renew r_tmp;
	json_error_t je;
	json_t *root = json_loadb(json, len,
				  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	const json_t *v;
	int rc;

	if (!root)
		return hc_fail(err, errlen, -1,
			       "control message: not a JSON object (line %d, column %d)",
			       je.line, je.column);
	if (!json_is_object(root)) {
		rc = hc_fail(err, errlen, -1,
			     "control message: not a JSON object");
	} else if ((v = json_object_get(root, "accept"))) {
		rc = hc_accept_read(v, a ? a : &a_tmp, err, errlen) < 0 ? -1 :
		     HC_MSG_ACCEPT;
	} else if ((v = json_object_get(root, "renewToken"))) {
		r = r ? r : &r_tmp;
		if (!json_is_object(v))
			rc = hc_fail(err, errlen, -1,
				     "renewToken: not an object");
		else
			rc = hc_json_str(v, "token", r->token, sizeof r->token,
					 1, "renewToken", err, errlen) < 0 ?
			     -1 : HC_MSG_RENEW;
	} else {
		rc = HC_MSG_OTHER;
	}
	json_decref(root);
	return rc;
}
