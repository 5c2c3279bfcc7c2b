/* acl_parse.c - access lists from the config: rules, entries, the
 * identities and pins they apply to; copied and freed */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "acl_int.h"

/** @brief Fail with "\"TEXT\": what is wrong", the form rule errors take. */
static int acl_fail(char *err, size_t errlen, const char *text,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int acl_fail(char *err, size_t errlen, const char *text,
		    const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "\"%s\": %s", text, msg);
	return -1;
}

/** @brief ASCII letter or digit, whatever the locale says. */
static int acl_isalnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/** @brief ASCII lower case, whatever the locale says. */
static char acl_lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

int acl_name_check(const char *s, size_t len, char *why, size_t whylen)
{
	size_t label = 0, digits = 0;
	const char *msg = NULL;
	char bad[40];

	if (len == 0)
		msg = "empty name";
	else if (len > ACL_NAMELEN)
		msg = "name longer than 253 characters";
	for (size_t i = 0; i <= len && !msg; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c != '.' && !acl_isalnum(c) && c != '-' && c != '_') {
			if (c >= 0x20 && c < 0x7f)
				snprintf(bad, sizeof bad,
					 "invalid character '%c' in name", c);
			else
				snprintf(bad, sizeof bad,
					 "invalid byte 0x%02x in name", c);
			msg = bad;
		} else if (c != '.') {
			label++;
			digits += c >= '0' && c <= '9';
		} else if (label == 0) {
			msg = "empty label in name";
		} else if (label > 63) {
			msg = "label longer than 63 characters";
		} else if (i == len && digits == label) {
			msg = "not an IPv4 address, and a name can't end in a number";
		} else {
			label = digits = 0;
		}
	}
	if (!msg)
		return 0;
	if (why)
		snprintf(why, whylen, "%s", msg);
	return -1;
}

/** @brief A port number of digits only; values past 65535 stay 65536 so a
 *  long string can't wrap into range. Returns the digits consumed. */
static size_t acl_port_num(const char *s, unsigned *v)
{
	size_t n = 0;

	*v = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		*v = *v * 10 + (s[n] - '0');
		if (*v > 65535)
			*v = 65536;
		n++;
	}
	return n;
}

/** @brief Parse the port part @p of @text: "22", "5432-5439" or "*". */
static int acl_port_parse(const char *text, const char *p, struct acl_rule *r,
			  char *err, size_t errlen)
{
	size_t n1, n2 = 0;
	const char *hi;

	if (!*p)
		return acl_fail(err, errlen, text, "missing port after \":\"");
	if (strcmp(p, "*") == 0) {
		r->port_lo = 1;
		r->port_hi = 65535;
		return 0;
	}
	n1 = acl_port_num(p, &r->port_lo);
	r->port_hi = r->port_lo;
	hi = p + n1 + 1;
	if (n1 && p[n1] == '-')
		n2 = acl_port_num(hi, &r->port_hi);
	if (!n1 || (p[n1] && (p[n1] != '-' || !n2 || hi[n2])))
		return acl_fail(err, errlen, text,
				"port must be a number, a range \"a-b\" or \"*\", got \"%s\"",
				p);
	if (r->port_lo < 1 || r->port_lo > 65535)
		return acl_fail(err, errlen, text, "port %.*s is out of 1..65535",
				(int)n1, p);
	if (n2 && (r->port_hi < 1 || r->port_hi > 65535))
		return acl_fail(err, errlen, text, "port %.*s is out of 1..65535",
				(int)n2, hi);
	if (r->port_lo > r->port_hi)
		return acl_fail(err, errlen, text, "port range %s is backwards", p);
	return 0;
}

/** @brief Parse "10.1.0.0/16" or (inside brackets) "fd00::/8" or a single
 *  address; refuse host bits and IPv4-mapped networks, which would not
 *  mean what they seem to. */
static int acl_net_parse(const char *text, char *host, int family,
			 const char *port, struct acl_rule *r,
			 char *err, size_t errlen)
{
	unsigned max = family == AF_INET ? 32 : 128, bytes = max / 8;
	char *slash = strchr(host, '/'), shown[INET6_ADDRSTRLEN];
	unsigned char v4[4], net[16];
	int hostbits = 0;

	if (slash)
		*slash = '\0';
	if (inet_pton(family, host, r->addr) != 1) {
		if (family == AF_INET6 && inet_pton(AF_INET, host, v4) == 1)
			return acl_fail(err, errlen, text,
					"brackets are for IPv6 addresses; write %s without them",
					host);
		return acl_fail(err, errlen, text, "not an %s address: %s",
				family == AF_INET ? "IPv4" : "IPv6", host);
	}
	r->kind = ACL_RULE_NET;
	r->family = family;
	r->prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t n = strspn(p, "0123456789");

		if (!*p)
			return acl_fail(err, errlen, text,
					"missing prefix length after \"/\"");
		if (n != strlen(p) || n > 3 || (n > 1 && p[0] == '0'))
			return acl_fail(err, errlen, text,
					"prefix length must be a number from 0 to %u, got \"%s\"",
					max, p);
		r->prefix = (unsigned)atoi(p);
		if (r->prefix > max)
			return acl_fail(err, errlen, text,
					"prefix length %u is over %u", r->prefix, max);
	}
	for (unsigned i = 0; i < bytes; i++) {
		net[i] = r->addr[i] & acl_mask_byte(r->prefix, i);
		hostbits |= net[i] != r->addr[i];
	}
	if (hostbits) {
		inet_ntop(family, net, shown, sizeof shown);
		return acl_fail(err, errlen, text,
				"%s/%u has host bits set; the network is %s/%u",
				host, r->prefix, shown, r->prefix);
	}
	if (family == AF_INET6 && r->prefix >= 96 && acl_is_mapped(r->addr)) {
		inet_ntop(AF_INET, r->addr + 12, shown, sizeof shown);
		return acl_fail(err, errlen, text,
				"IPv4-mapped addresses are matched as IPv4; write \"%s/%u:%s\"",
				shown, r->prefix - 96, port);
	}
	return 0;
}

/** @brief Parse a name rule, "db.internal" or "*.corp.example". */
static int acl_name_parse(const char *text, const char *host,
			  struct acl_rule *r, char *err, size_t errlen)
{
	char why[96];
	size_t len;

	r->kind = ACL_RULE_NAME;
	if (host[0] == '*') {
		if (host[1] != '.' || strchr(host + 1, '*'))
			return acl_fail(err, errlen, text,
					"a wildcard is a whole first label, as in \"*.corp.example:443\"");
		host += 2;
		if (!*host || strcmp(host, ".") == 0)
			return acl_fail(err, errlen, text, "empty domain after \"*.\"");
		r->kind = ACL_RULE_WILDCARD;
	} else if (strchr(host, '*')) {
		return acl_fail(err, errlen, text,
				"a wildcard is a whole first label, as in \"*.corp.example:443\"");
	}
	len = acl_name_len(host);
	if (acl_name_check(host, len, why, sizeof why) < 0)
		return acl_fail(err, errlen, text, "%s", why);
	for (size_t i = 0; i < len; i++)
		r->name[i] = acl_lower((unsigned char)host[i]);
	r->name[len] = '\0';
	return 0;
}

/** @brief Dispatch the host part of a rule to the parser of its kind. */
static int acl_host_parse(const char *text, char *host, int bracketed,
			  const char *port, struct acl_rule *r,
			  char *err, size_t errlen)
{
	unsigned char v4[4];

	if (bracketed)
		return acl_net_parse(text, host, AF_INET6, port, r, err,
				     errlen);
	if (strchr(host, '/') || inet_pton(AF_INET, host, v4) == 1)
		return acl_net_parse(text, host, AF_INET, port, r, err, errlen);
	return acl_name_parse(text, host, r, err, errlen);
}

int acl_rule_parse(const char *text, struct acl_rule *r,
		   char *err, size_t errlen)
{
	const char *h = text, *he, *port;
	char host[ACL_NAMELEN + 4];	/* "*." name "." fits */
	int bracketed = text[0] == '[';

	memset(r, 0, sizeof *r);
	if (bracketed) {
		h = text + 1;
		he = strchr(h, ']');
		if (!he)
			return acl_fail(err, errlen, text,
					"missing \"]\" after the IPv6 address");
		if (he[1] != ':')
			return acl_fail(err, errlen, text,
					"expected \":port\" after \"]\"");
		port = he + 2;
	} else {
		he = strrchr(text, ':');
		if (!he)
			return acl_fail(err, errlen, text, "expected \"host:port\"");
		if (memchr(text, ':', he - text))
			return acl_fail(err, errlen, text,
					"IPv6 addresses need brackets, as in \"[::1]:22\"");
		port = he + 1;
	}
	if (he == h)
		return acl_fail(err, errlen, text, "missing host");
	if ((size_t)(he - h) >= sizeof host)
		return acl_fail(err, errlen, text, "%s", bracketed ?
				"not an IPv6 address: too long" :
				"name longer than 253 characters");
	memcpy(host, h, he - h);
	host[he - h] = '\0';
	if (acl_port_parse(text, port, r, err, errlen) < 0 ||
	    acl_host_parse(text, host, bracketed, port, r, err, errlen) < 0)
		return -1;
	r->text = strdup(text);
	if (!r->text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void acl_rule_free(struct acl_rule *r)
{
	free(r->text);
	memset(r, 0, sizeof *r);
}

struct acl_entry *acl_add_entry(struct acl *a, char *err, size_t errlen)
{
	struct acl_entry *v;

	if (a->n >= ACL_MAX_ENTRIES) {
		snprintf(err, errlen, "expected at most %d entries",
			 ACL_MAX_ENTRIES);
		return NULL;
	}
	v = realloc(a->entries, (a->n + 1) * sizeof *v);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->entries = v;
	memset(&v[a->n], 0, sizeof *v);
	return &v[a->n++];
}

int acl_entry_add_rule(struct acl_entry *e, const char *text,
		       char *err, size_t errlen)
{
	struct acl_rule r, *v;

	if (acl_rule_parse(text, &r, err, errlen) < 0)
		return -1;
	v = realloc(e->rules, (e->nrules + 1) * sizeof *v);
	if (!v) {
		acl_rule_free(&r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->rules = v;
	v[e->nrules++] = r;
	return 0;
}

/** @brief Value of a hex digit, -1 if @c is none. */
static int acl_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = acl_lower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/** @brief Value of a base64 digit, -1 if @c is none. */
static int acl_b64val(int c)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;

	return p ? (int)(p - tab) : -1;
}

int acl_pin_parse(const char *s, unsigned char out[32])
{
	size_t n = 0;

	if (strncmp(s, "sha256//", 8) == 0)
		s += 8;
	if (strlen(s) == 44 && s[43] == '=' && s[42] != '=') {
		unsigned acc = 0;
		int bits = 0;

		for (size_t i = 0; i < 43; i++) {
			int v = acl_b64val((unsigned char)s[i]);

			if (v < 0)
				return -1;
			acc = (acc << 6 | (unsigned)v) & 0xffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[n++] = (unsigned char)(acc >> bits);
			}
		}
		return 0;
	}
	while (n < 32) {
		int hi = acl_hexval((unsigned char)s[0]);
		int lo = hi < 0 ? -1 : acl_hexval((unsigned char)s[1]);

		if (lo < 0)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
		if (*s == ':' && n < 32)
			s++;
	}
	return *s ? -1 : 0;
}

/** @brief Append a copy of @v to @l. */
static int acl_strlist_add(struct acl_strlist *l, const char *v)
{
	char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);

	if (!nv)
		return -1;
	l->v = nv;
	if (!(nv[l->n] = strdup(v)))
		return -1;
	l->n++;
	return 0;
}

int acl_entry_add_identity(struct acl_entry *e, enum acl_id_kind kind,
			   const char *value, char *err, size_t errlen)
{
	struct acl_strlist *l = kind == ACL_ID_CN ? &e->cn :
		kind == ACL_ID_DNS ? &e->dns : kind == ACL_ID_URI ? &e->uri :
		kind == ACL_ID_USER ? &e->user : NULL;
	unsigned char pin[32], (*nv)[32];

	if (!*value) {
		snprintf(err, errlen, "expected a non-empty string");
		return -1;
	}
	if (l) {
		if (acl_strlist_add(l, value) == 0)
			return 0;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (acl_pin_parse(value, pin) < 0) {
		snprintf(err, errlen,
			 "expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"%s\"",
			 value);
		return -1;
	}
	nv = realloc(e->pins, (e->npins + 1) * sizeof *nv);
	if (!nv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->pins = nv;
	memcpy(nv[e->npins++], pin, 32);
	return 0;
}

/** @brief Deep copy of a string list; on failure what was copied stays
 *  in @dst for acl_strlist_free(). */
static int acl_strlist_copy(struct acl_strlist *dst,
			    const struct acl_strlist *src)
{
	memset(dst, 0, sizeof *dst);
	for (size_t i = 0; i < src->n; i++)
		if (acl_strlist_add(dst, src->v[i]) < 0)
			return -1;
	return 0;
}

/** @brief Free a string list's strings and array. */
static void acl_strlist_free(struct acl_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/** @brief Free what an entry holds. */
static void acl_entry_free(struct acl_entry *e)
{
	acl_strlist_free(&e->cn);
	acl_strlist_free(&e->dns);
	acl_strlist_free(&e->uri);
	acl_strlist_free(&e->user);
	free(e->pins);
	for (size_t i = 0; i < e->nrules; i++)
		acl_rule_free(&e->rules[i]);
	free(e->rules);
	memset(e, 0, sizeof *e);
}

/** @brief Deep copy of one entry into a zeroed @dst; on failure what was
 *  copied stays in @dst for acl_entry_free(). */
static int acl_entry_copy(struct acl_entry *dst, const struct acl_entry *src)
{
	if (acl_strlist_copy(&dst->cn, &src->cn) < 0 ||
	    acl_strlist_copy(&dst->dns, &src->dns) < 0 ||
	    acl_strlist_copy(&dst->uri, &src->uri) < 0 ||
	    acl_strlist_copy(&dst->user, &src->user) < 0)
		return -1;
	if (src->npins) {
		dst->pins = malloc(src->npins * sizeof *dst->pins);
		if (!dst->pins)
			return -1;
		memcpy(dst->pins, src->pins, src->npins * sizeof *dst->pins);
		dst->npins = src->npins;
	}
	if (!src->nrules)
		return 0;
	dst->rules = calloc(src->nrules, sizeof *dst->rules);
	if (!dst->rules)
		return -1;
	for (size_t i = 0; i < src->nrules; i++) {
		dst->rules[i] = src->rules[i];
		dst->rules[i].text = strdup(src->rules[i].text);
		if (!dst->rules[i].text)
			return -1;
		dst->nrules++;
	}
	return 0;
}

int acl_copy(struct acl *dst, const struct acl *src)
{
	memset(dst, 0, sizeof *dst);
	if (!src->n)
		return 0;
	dst->entries = calloc(src->n, sizeof *dst->entries);
	if (!dst->entries)
		return -1;
	dst->n = src->n;
	for (size_t i = 0; i < src->n; i++)
		if (acl_entry_copy(&dst->entries[i], &src->entries[i]) < 0)
			goto err;
	return 0;
err:
	acl_free(dst);
	return -1;
}

void acl_free(struct acl *a)
{
	for (size_t i = 0; i < a->n; i++)
		acl_entry_free(&a->entries[i]);
	free(a->entries);
	memset(a, 0, sizeof *a);
}
