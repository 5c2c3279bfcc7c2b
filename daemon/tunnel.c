/* tunnel.c - per-identity accounting of a tunnel (accounting = true) */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tunnel.h"

/** @brief FNV-1a of @s: where a name's probe starts. */
static size_t tunnel_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

void tunnel_account(struct tunnel *t, const char *who, uint64_t up,
		    uint64_t down)
{
	struct acct_entry *e = NULL;
	size_t n = t->acct_n - 1, start;

	if (!t->acct || t->acct_n < 2)
		return;
	if (!who || !who[0])
		who = "(none)";
	start = tunnel_hash(who) % n;
	for (size_t k = 0; k < n; k++) {
		struct acct_entry *x = &t->acct[1 + (start + k) % n];
		if (!x->used) {
			snprintf(x->name, sizeof x->name, "%s", who);
			__atomic_store_n(&x->used, 1, __ATOMIC_RELEASE);
			e = x;
			break;
		}
		if (strncmp(x->name, who, sizeof x->name - 1) == 0) {
			e = x;
			break;
		}
	}
	if (!e) {
		e = &t->acct[0];	/* "other" */
		if (!e->used) {
			snprintf(e->name, sizeof e->name, "other");
			__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
		}
	}
	e->connections++;
	e->bytes_up += up;
	e->bytes_down += down;
}
