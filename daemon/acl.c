/* acl.c - access lists: which entries apply to a client, and whether
 * one of their rules allows the destination it asks for */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "acl_int.h"

#define ACL_HOSTMAX 255		/* bytes of a client's host shown in a log */
#define ACL_HOSTSTRLEN (ACL_HOSTMAX + 6)	/* and "[", "...]" */
#define ACL_LISTED 8		/* entries named in a denial before "N more" */

/** @brief Is @v in @l (case-insensitively if @nocase)? */
static int acl_in_list(const struct acl_strlist *l, const char *v, int nocase)
{
	for (size_t i = 0; i < l->n; i++)
		if ((nocase ? strcasecmp(l->v[i], v) : strcmp(l->v[i], v)) == 0)
			return 1;
	return 0;
}

/** @brief Does @e apply to @who: any identity field matches, or it has
 *  none and so applies to everyone admitted? */
static int acl_entry_applies(const struct acl_entry *e,
			     const struct acl_who *who)
{
	const struct tls_identity *id = who->id;

	if (!e->cn.n && !e->dns.n && !e->uri.n && !e->user.n && !e->npins)
		return 1;
	if (who->user && acl_in_list(&e->user, who->user, 0))
		return 1;
	if (!id)
		return 0;
	if (id->cn[0] && acl_in_list(&e->cn, id->cn, 0))
		return 1;
	for (size_t i = 0; i < id->ndns; i++)
		if (acl_in_list(&e->dns, id->dns[i], 1))
			return 1;
	for (size_t i = 0; i < id->nuri; i++)
		if (acl_in_list(&e->uri, id->uri[i], 0))
			return 1;
	for (size_t i = 0; i < e->npins && id->have_spki; i++)
		if (memcmp(e->pins[i], id->spki_sha256, 32) == 0)
			return 1;
	return 0;
}

uint64_t acl_applies(const struct acl *a, const struct acl_who *who)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < a->n && i < ACL_MAX_ENTRIES; i++)
		if (acl_entry_applies(&a->entries[i], who))
			mask |= (uint64_t)1 << i;
	return mask;
}

/** @brief Does name rule @r match @host (@len bytes, a checked name)? */
static int acl_name_matches(const struct acl_rule *r, const char *host,
			    size_t len)
{
	size_t dlen = strlen(r->name);

	if (r->kind == ACL_RULE_NAME)
		return len == dlen && strncasecmp(host, r->name, len) == 0;
	return len > dlen + 1 && host[len - dlen - 1] == '.' &&
	       strncasecmp(host + len - dlen, r->name, dlen) == 0;
}

/** @brief Does network rule @r contain address @addr of @family? */
static int acl_net_contains(const struct acl_rule *r, int family,
			    const unsigned char *addr)
{
	if (family != r->family)
		return 0;
	for (unsigned i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		if ((addr[i] ^ r->addr[i]) & acl_mask_byte(r->prefix, i))
			return 0;
	return 1;
}

/** @brief Match IPv4-mapped IPv6 as the IPv4 address it maps, so it meets
 *  exactly the rules that address would. */
static void acl_unmap(int *family, unsigned char a[16])
{
	if (*family == AF_INET6 && acl_is_mapped(a)) {
		memmove(a, a + 12, 4);
		*family = AF_INET;
	}
}

/** @brief The address to match @sa as; -1 for families other than IPv4
 *  and IPv6. */
static int acl_addr_of(const struct sockaddr *sa, int *family,
		       unsigned char out[16])
{
	if (sa->sa_family == AF_INET)
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return -1;
	*family = sa->sa_family;
	acl_unmap(family, out);
	return 0;
}

int acl_rule_has_addr(const struct acl_rule *r, const struct sockaddr *sa)
{
	unsigned char a[16];
	int family;

	return r->kind == ACL_RULE_NET && acl_addr_of(sa, &family, a) == 0 &&
		acl_net_contains(r, family, a);
}

/** @brief The first rule of the entries in @mask, in order, that allows
 *  @port and either the name @host (@hlen bytes; 0 when it is no name)
 *  or the address @addr (NULL: any address, for the check before DNS).
 *  Returns the entry's index and sets @rule, or -1. */
static int acl_first_allow(const struct acl *a, uint64_t mask,
			   const char *host, size_t hlen, unsigned port,
			   int family, const unsigned char *addr,
			   const struct acl_rule **rule)
{
	for (size_t i = 0; i < a->n && i < ACL_MAX_ENTRIES; i++) {
		const struct acl_entry *e = &a->entries[i];

		if (!(mask & (uint64_t)1 << i))
			continue;
		for (size_t j = 0; j < e->nrules; j++) {
			const struct acl_rule *r = &e->rules[j];
			int hit;

			if (port < r->port_lo || port > r->port_hi)
				continue;
			if (r->kind == ACL_RULE_NET)
				hit = !addr ||
				      acl_net_contains(r, family, addr);
			else
				hit = hlen && acl_name_matches(r, host, hlen);
			if (hit) {
				*rule = r;
				return (int)i;
			}
		}
	}
	return -1;
}

/** @brief @host as it may go in a log line: bytes that are not printable
 *  ASCII become '?', a long one is cut, an IPv6 literal gets brackets. */
static void acl_host_str(const char *host, char *buf, size_t len)
{
	size_t n = strnlen(host, ACL_HOSTMAX + 1);
	size_t shown = n > ACL_HOSTMAX ? ACL_HOSTMAX : n;
	int v6 = memchr(host, ':', shown) != NULL;
	char clean[ACL_HOSTMAX + 1];

	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)host[i];

		clean[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	clean[shown] = '\0';
	snprintf(buf, len, "%s%s%s%s", v6 ? "[" : "", clean,
		 n > shown ? "..." : "", v6 ? "]" : "");
}

/** @brief "acl[0], acl[2]" for the entries in @mask; past ACL_LISTED
 *  of them, the rest are counted. */
static void acl_list_entries(const struct acl *a, uint64_t mask, char *buf,
			     size_t len)
{
	size_t o = 0, shown = 0, more = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n && i < ACL_MAX_ENTRIES; i++) {
		if (!(mask & (uint64_t)1 << i))
			continue;
		if (shown == ACL_LISTED) {
			more++;
			continue;
		}
		o += snprintf(buf + o, len - o, "%sacl[%zu]", shown ? ", " : "", i);
		shown++;
		if (o >= len)
			return;
	}
	if (more)
		snprintf(buf + o, len - o, " and %zu more", more);
}

/** @brief Start a verdict: denied, no entry, no rule, no reason yet. */
static void acl_verdict_init(struct acl_verdict *v)
{
	v->allowed = 0;
	v->entry = -1;
	v->rule = NULL;
	v->reason[0] = '\0';
}

/** @brief Record that entry @i's rule @r allows. */
static int acl_allow(struct acl_verdict *v, int i, const struct acl_rule *r)
{
	v->allowed = 1;
	v->entry = i;
	v->rule = r->text;
	snprintf(v->reason, sizeof v->reason, "acl[%d]: allow %s", i, r->text);
	return 1;
}

/** @brief The entries that apply to @who, or 0 with @v saying why there
 *  are none. */
static uint64_t acl_applicable(const struct acl *a, const struct acl_who *who,
			       struct acl_verdict *v)
{
	uint64_t mask = acl_applies(a, who);
	char w[300];

	acl_verdict_init(v);
	if (!a->n) {
		snprintf(v->reason, sizeof v->reason,
			 "there are no acl entries, so nothing is reachable");
	} else if (!mask) {
		acl_describe_who(who, w, sizeof w);
		snprintf(v->reason, sizeof v->reason,
			 "no acl entry applies to %s", w);
	}
	return mask;
}

/** @brief Length of @host as a name a name rule may match, 0 if it is an
 *  IP literal or no valid name. */
static size_t acl_host_name_len(const char *host)
{
	size_t len = acl_name_len(host);

	return acl_name_check(host, len, NULL, 0) == 0 ? len : 0;
}

/** @brief Parse @host as an IP literal into @family and @addr, to be
 *  matched as acl_addr_of() would; -1 if it is none. */
static int acl_literal(const char *host, int *family, unsigned char addr[16])
{
	if (inet_pton(AF_INET, host, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	acl_unmap(family, addr);
	return 0;
}

int acl_precheck(const struct acl *a, const struct acl_who *who,
		 const char *host, unsigned port, struct acl_verdict *v)
{
	uint64_t mask = acl_applicable(a, who, v);
	const struct acl_rule *r;
	unsigned char addr[16];
	char h[ACL_HOSTSTRLEN], l[96];
	int family = 0, lit = acl_literal(host, &family, addr) == 0;

	if (!mask)
		return 0;
	if (acl_first_allow(a, mask, host, acl_host_name_len(host), port,
			    family, lit ? addr : NULL, &r) >= 0)
		return 1;
	acl_host_str(host, h, sizeof h);
	acl_list_entries(a, mask, l, sizeof l);
	snprintf(v->reason, sizeof v->reason, "no rule of %s allows %s:%u",
		 l, h, port);
	return 0;
}

int acl_decide(const struct acl *a, const struct acl_who *who,
	       const char *host, unsigned port, const struct sockaddr *addr,
	       struct acl_verdict *v)
{
	uint64_t mask = acl_applicable(a, who, v);
	const struct acl_rule *r;
	unsigned char ab[16], lb[16];
	char h[ACL_HOSTSTRLEN], l[96], as[INET6_ADDRSTRLEN];
	int family, lf, i;

	if (!mask)
		return 0;
	acl_host_str(host, h, sizeof h);
	if (acl_addr_of(addr, &family, ab) < 0) {
		snprintf(v->reason, sizeof v->reason,
			 "%s:%u resolves to an address that is neither IPv4 nor IPv6",
			 h, port);
		return 0;
	}
	i = acl_first_allow(a, mask, host, acl_host_name_len(host), port,
			    family, ab, &r);
	if (i >= 0)
		return acl_allow(v, i, r);
	acl_list_entries(a, mask, l, sizeof l);
	inet_ntop(family, ab, as, sizeof as);
	if (acl_literal(host, &lf, lb) == 0)
		snprintf(v->reason, sizeof v->reason,
			 "no rule of %s allows %s:%u", l, h, port);
	else
		snprintf(v->reason, sizeof v->reason,
			 "%s:%u resolves to %s; no rule of %s allows that name or that address",
			 h, port, as, l);
	return 0;
}

void acl_describe_who(const struct acl_who *who, char *buf, size_t len)
{
	const struct tls_identity *id = who->id;
	char cert[280] = "";

	if (id && id->cn[0])
		snprintf(cert, sizeof cert, "CN=%s", id->cn);
	else if (id && id->ndns)
		snprintf(cert, sizeof cert, "DNS=%s", id->dns[0]);
	else if (id && id->nuri)
		snprintf(cert, sizeof cert, "URI=%s", id->uri[0]);
	if (who->user)
		snprintf(buf, len, "user=%s%s%s", who->user, cert[0] ? ", " : "",
			 cert);
	else if (cert[0])
		snprintf(buf, len, "%s", cert);
	else
		snprintf(buf, len, "a client without CN, SAN or user");
}
