/* fuzz_acl.c - libFuzzer target: acl rule text and client-chosen hosts
 *
 * The input is "RULE" or "RULE\nHOST". The rule goes to acl_rule_parse();
 * when it parses, it becomes a one-entry acl and HOST (or a fixed name)
 * is checked against it before and after "resolving" to fixed addresses,
 * and the rule is checked to allow what it says it allows. The rule text
 * is also tried as a pin.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I build -I daemon \
 *		$(pkg-config --cflags gnutls) daemon/acl.c tests/fuzz/fuzz_acl.c
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

/** @brief Stop the run: the module broke a promise its header makes. */
static void fuzz_acl_fail(const char *what, const char *rule, const char *host)
{
	fprintf(stderr, "fuzz_acl: %s (rule \"%s\", host \"%s\")\n", what,
		rule, host);
	abort();
}

/** @brief A verdict must be consistent and its reason a bounded string. */
static void fuzz_acl_check_verdict(const struct acl *a,
				   const struct acl_verdict *v, int rc,
				   const char *host)
{
	const char *text = a->entries[0].rules[0].text;

	if (memchr(v->reason, '\0', sizeof v->reason) == NULL || !v->reason[0])
		fuzz_acl_fail("reason not a non-empty string", text, host);
	if (rc != v->allowed)
		fuzz_acl_fail("return value differs from verdict", text, host);
	if (v->allowed && (v->entry != 0 || v->rule != text))
		fuzz_acl_fail("allowed without naming entry and rule", text, host);
	if (!v->allowed && (v->entry != -1 || v->rule))
		fuzz_acl_fail("denied yet naming a rule", text, host);
}

/** @brief Decide @host at @ip (IPv4 or IPv6 literal) and check the verdict. */
static int fuzz_acl_decide(const struct acl *a, const char *host,
			   unsigned port, const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct acl_who who = { 0 };
	struct acl_verdict v;
	int rc;

	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		abort();
	rc = acl_decide(a, &who, host, port, (struct sockaddr *)&ss, &v);
	fuzz_acl_check_verdict(a, &v, rc, host);
	return rc;
}

/** @brief What the rule promises: its own name, a name below its domain,
 *  or its network address is allowed on its ports and no other. */
static void fuzz_acl_promises(const struct acl *a)
{
	const struct acl_rule *r = &a->entries[0].rules[0];
	char buf[ACL_NAMELEN + 8];

	if (r->kind == ACL_RULE_NAME) {
		if (!fuzz_acl_decide(a, r->name, r->port_lo, "192.0.2.1") ||
		    !fuzz_acl_decide(a, r->name, r->port_hi, "2001:db8::1"))
			fuzz_acl_fail("name rule denies its name", r->text, r->name);
	} else if (r->kind == ACL_RULE_WILDCARD) {
		if (fuzz_acl_decide(a, r->name, r->port_lo, "192.0.2.1"))
			fuzz_acl_fail("wildcard allows its domain", r->text, r->name);
		snprintf(buf, sizeof buf, "a.%s", r->name);
		if (strlen(r->name) + 2 <= ACL_NAMELEN &&
		    !fuzz_acl_decide(a, buf, r->port_lo, "192.0.2.1"))
			fuzz_acl_fail("wildcard denies a name below", r->text, buf);
	} else {
		inet_ntop(r->family, r->addr, buf, sizeof buf);
		if (!fuzz_acl_decide(a, buf, r->port_lo, buf))
			fuzz_acl_fail("network denies its own address", r->text, buf);
	}
	if (r->port_hi < 65535 &&
	    fuzz_acl_decide(a, r->name, r->port_hi + 1, "192.0.2.1"))
		fuzz_acl_fail("allowed past the port range", r->text, r->name);
}

/** @brief Check @host against the one-rule acl @a, before and after DNS. */
static void fuzz_acl_host(const struct acl *a, const char *host)
{
	static const char *const addrs[] = {
		"127.0.0.1", "10.1.2.3", "::1", "::ffff:127.0.0.1", "fd00::5",
	};
	const struct acl_rule *r = &a->entries[0].rules[0];
	struct acl_who who = { 0 };
	struct acl_verdict v;

	if (acl_precheck(a, &who, host, r->port_lo, &v) == 0 &&
	    (v.allowed || !v.reason[0]))
		fuzz_acl_fail("precheck denied without a reason", r->text, host);
	for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++)
		fuzz_acl_decide(a, host, r->port_lo, addrs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *host, err[256];
	struct acl a = { 0 }, b;
	struct acl_entry *e;
	int parsed;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	host = strchr(text, '\n');
	if (host)
		*host++ = '\0';
	e = acl_add_entry(&a, err, sizeof err);
	if (!e)
		abort();
	err[0] = '\0';
	parsed = acl_entry_add_rule(e, text, err, sizeof err) == 0;
	if (!parsed && (!err[0] || !memchr(err, '\0', sizeof err)))
		abort();
	/* a second entry, for the pin parser: with a pin it applies to no
	 * one here, without one it has no rules; it never allows anything */
	e = acl_add_entry(&a, err, sizeof err);
	if (!e)
		abort();
	acl_entry_add_identity(e, ACL_ID_PIN, text, err, sizeof err);
	if (parsed) {
		fuzz_acl_promises(&a);
		fuzz_acl_host(&a, host ? host : "db.internal");
		if (acl_copy(&b, &a) == 0) {
			fuzz_acl_host(&b, host ? host : "db.internal");
			acl_free(&b);
		}
	}
	acl_free(&a);
	free(text);
	return 0;
}
