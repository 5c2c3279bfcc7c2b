/* cfg_acl.c - the acl setting of a tunnel with connect = "dynamic":
 *
 *	acl = (
 *	  { cn = [ "ops-laptop" ]; allow = [ "db.internal:3306" ]; },
 *	  { allow = [ "127.0.0.1:8080" ]; }
 *	);
 *
 * Each entry's identity lists and allow rules go to acl.c, which checks
 * them; errors point at the entry and the list they are in.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cfg_engine.h"

static const struct {
	const char *name;
	enum acl_id_kind kind;
} cfg_acl_ids[] = {
	{ "cn", ACL_ID_CN },
	{ "dns", ACL_ID_DNS },
	{ "uri", ACL_ID_URI },
	{ "pin_sha256", ACL_ID_PIN },
	{ "user", ACL_ID_USER },
};

/** @brief The members' names, for the settings list and its docs test. */
const char *const cfg_acl_members[] = {
	"cn", "dns", "uri", "pin_sha256", "user", "allow", NULL
};

/** @brief One string or a list of them, each handed to @add. */
static int cfg_acl_strings(struct cfg_ctx *x, const config_setting_t *s,
			   const char *name, struct acl_entry *e, int id,
			   size_t *count)
{
	int single = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n = single ? 1 : config_setting_length(s);
	char err[300];

	if (!single && config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(x, s, name,
				"expected a list of strings, as in [ \"a\", \"b\" ], got %s",
				cfg_type_name(s));
	for (int i = 0; i < n; i++) {
		const config_setting_t *v = single ? s : config_setting_get_elem(s, i);
		const char *str;
		int rc;

		if (config_setting_type(v) != CONFIG_TYPE_STRING)
			return cfg_fail(x, v, name,
					"expected a list of strings, item %d is %s",
					i + 1, cfg_type_name(v));
		str = config_setting_get_string(v);
		rc = id < 0 ? acl_entry_add_rule(e, str, err, sizeof err) :
			acl_entry_add_identity(e, id, str, err, sizeof err);
		if (rc < 0)
			return cfg_fail(x, v, name, "%s", err);
		(*count)++;
	}
	return 0;
}

/** @brief One entry: identity lists (none: every admitted client) and a
 *  non-empty allow list. */
static int cfg_acl_entry(struct cfg_ctx *x, const config_setting_t *g,
			 struct acl *a)
{
	char err[200];
	struct acl_entry *e;
	size_t nallow = 0, nid = 0;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(x, g, NULL,
				"expected a group { cn = [ ... ]; allow = [ \"host:port\" ]; }, got %s",
				cfg_type_name(g));
	if (!(e = acl_add_entry(a, err, sizeof err)))
		return cfg_fail(x, g, NULL, "%s", err);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s);
		int id = -2;

		for (size_t k = 0; k < sizeof cfg_acl_ids / sizeof *cfg_acl_ids; k++)
			if (strcmp(name, cfg_acl_ids[k].name) == 0)
				id = cfg_acl_ids[k].kind;
		if (strcmp(name, "allow") == 0)
			id = -1;
		if (id == -2)
			return cfg_fail(x, s, name,
					"unknown setting: expected cn, dns, uri, pin_sha256, user or allow");
		if (cfg_acl_strings(x, s, name, e, id, id < 0 ? &nallow : &nid) < 0)
			return -1;
	}
	if (nallow == 0)
		return cfg_fail(x, g, "allow",
				"missing: each acl entry needs at least one \"host:port\" rule");
	return 0;
}

int cfg_apply_acl(struct cfg_ctx *x, const config_setting_t *s,
		  const struct cfg_setting *d, void *obj)
{
	struct cfg_tunnel *t = obj;
	char saved[sizeof x->where];
	size_t base = strlen(x->where);
	int rc = 0;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(x, s, d->name,
				"expected a list of entries ( { allow = [ \"host:port\" ]; }, ... ), got %s",
				cfg_type_name(s));
	if (!t->acl && !(t->acl = calloc(1, sizeof *t->acl)))
		return -1;
	acl_free(t->acl);
	memcpy(saved, x->where, sizeof saved);
	for (int i = 0; i < config_setting_length(s) && rc == 0; i++) {
		snprintf(x->where + base, sizeof x->where - base, ".acl[%d]", i);
		rc = cfg_acl_entry(x, config_setting_get_elem(s, i), t->acl);
	}
	memcpy(x->where, saved, sizeof saved);
	if (rc == 0 && t->acl->n == 0)
		return cfg_fail(x, s, d->name,
				"expected at least one entry: an empty acl allows nothing");
	return rc;
}
