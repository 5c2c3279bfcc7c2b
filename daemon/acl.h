/* acl.h - access lists: which destinations a client may choose
 *
 * With connect = "dynamic" the client names its destination, and nothing
 * is reachable unless an acl entry allows it. An entry applies to a client
 * that matches any of its identity lists (cn, dns, uri, pin_sha256, user),
 * or to every admitted client when it has none. Its rules are
 *
 *	db.internal:3306	a DNS name (any case, trailing dot ignored)
 *	*.corp.example:443	any name strictly below corp.example
 *	10.1.2.3:22, [::1]:22	one address
 *	10.1.0.0/16:22		a network, host bits zero
 *	[fd00::/8]:5432		the same for IPv6
 *
 * and a port is a number, a range "5432-5439", or "*" for 1..65535.
 *
 * A requested name is checked per address it resolves to: an address is
 * allowed by a name rule matching the requested name and port, or by an
 * address rule containing it. A requested IP literal is only ever allowed
 * by address rules. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
 * matched as the IPv4 address they map, so they meet the IPv4 rules and
 * never the IPv6 ones. The first entry, in order, that allows decides.
 */
#ifndef SSLTUNNEL_ACL_H
#define SSLTUNNEL_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls.h"

#define ACL_MAX_ENTRIES 64	/* acl_applies() answers in a 64-bit mask */
#define ACL_NAMELEN 253		/* longest DNS name, without trailing dot */
#define ACL_REASONLEN 512

enum acl_rule_kind {
	ACL_RULE_NAME,			/* db.internal */
	ACL_RULE_WILDCARD,		/* *.corp.example */
	ACL_RULE_NET,			/* 10.1.0.0/16, [fd00::/8], 1.2.3.4 */
};

struct acl_rule {
	enum acl_rule_kind kind;
	char name[ACL_NAMELEN + 1];	/* lower case; WILDCARD: the domain */
	int family;			/* NET: AF_INET or AF_INET6 */
	unsigned char addr[16];		/* NET: network, host bits zero */
	unsigned prefix;		/* NET: 0..32 or 0..128 */
	unsigned port_lo, port_hi;	/* 1..65535, "*" is all of it */
	char *text;			/* as written, for logs */
};

enum acl_id_kind {
	ACL_ID_CN,			/* subject CN, exact */
	ACL_ID_DNS,			/* SAN dNSName, any case */
	ACL_ID_URI,			/* SAN URI, exact */
	ACL_ID_USER,			/* password login, exact */
	ACL_ID_PIN,			/* SHA-256 of the public key */
};

struct acl_strlist {
	char **v;
	size_t n;
};

struct acl_entry {
	struct acl_strlist cn, dns, uri, user;
	unsigned char (*pins)[32];
	size_t npins;
	struct acl_rule *rules;
	size_t nrules;
};

struct acl {
	struct acl_entry *entries;
	size_t n;			/* at most ACL_MAX_ENTRIES */
};

/* Who is asking: the admitted peer's certificate and, once passwords
 * exist, the user who logged in. Either may be NULL. */
struct acl_who {
	const struct tls_identity *id;
	const char *user;
};

struct acl_verdict {
	int allowed;			/* 1 allowed, 0 denied */
	int entry;			/* the entry that allowed, -1 if none */
	const char *rule;		/* its rule as written (lives as long as
					 * the acl), NULL if none */
	char reason[ACL_REASONLEN];	/* "acl[0]: allow db.internal:3306",
					 * or why not, for the log */
};

/** @brief Parse one allow rule strictly, so a typo is a config error and
 *  not a hole or a silent deny. Returns 0, or -1 with @err naming what is
 *  wrong in @text ("\"db:0\": port 0 is out of 1..65535"). A network with
 *  host bits set (10.1.2.3/16) is refused: it likely means a mistake. */
int acl_rule_parse(const char *text, struct acl_rule *r,
		   char *err, size_t errlen);
void acl_rule_free(struct acl_rule *r);
/** @brief Is @sa (IPv4, IPv6, IPv4-mapped IPv6) in the network of NET
 *  rule @r? Its port is not looked at. */
int acl_rule_has_addr(const struct acl_rule *r, const struct sockaddr *sa);

/** @brief Append an empty entry for the config parser to fill; NULL with
 *  @err when there are ACL_MAX_ENTRIES already or memory ran out. */
struct acl_entry *acl_add_entry(struct acl *a, char *err, size_t errlen);
/** @brief Parse @text (see acl_rule_parse) and append it to @e's rules. */
int acl_entry_add_rule(struct acl_entry *e, const char *text,
		       char *err, size_t errlen);
/** @brief Append @value to the identity list @kind of @e. A pin is 64 hex
 *  digits (colons between bytes allowed) or "sha256//BASE64", as the
 *  tunnel's pin_sha256 takes. Returns 0, or -1 with what was expected. */
int acl_entry_add_identity(struct acl_entry *e, enum acl_id_kind kind,
			   const char *value, char *err, size_t errlen);
/** @brief Decode a pin, for acl entries and the tunnel's pin_sha256
 *  alike: 64 hex digits with optional colons between bytes, or base64 of
 *  32 bytes after an optional "sha256//". Returns 0 or -1. */
int acl_pin_parse(const char *s, unsigned char out[32]);
/** @brief Deep copy, for a tunnel that starts from the defaults. */
int acl_copy(struct acl *dst, const struct acl *src);
void acl_free(struct acl *a);

/** @brief Which entries apply to @who: bit i set for a->entries[i]. */
uint64_t acl_applies(const struct acl *a, const struct acl_who *who);
/** @brief Before resolving @host: could any of its addresses be allowed
 *  on @port? 1 if so (resolve, then acl_decide() each address), else 0
 *  with @v saying why, so a request no rule can allow costs no DNS. For
 *  an IP literal the answer is already final. */
int acl_precheck(const struct acl *a, const struct acl_who *who,
		 const char *host, unsigned port, struct acl_verdict *v);
/** @brief May @who connect to @addr (AF_INET or AF_INET6; its port is
 *  ignored) for the request "@host:@port"? @host is the name or IP literal
 *  the client asked for, without brackets. Fills @v and returns v->allowed. */
int acl_decide(const struct acl *a, const struct acl_who *who,
	       const char *host, unsigned port, const struct sockaddr *addr,
	       struct acl_verdict *v);
/** @brief "CN=ops-laptop", "user=alice, CN=ops-laptop" for logs. */
void acl_describe_who(const struct acl_who *who, char *buf, size_t len);

#endif
