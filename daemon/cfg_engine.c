/* cfg_engine.c - the settings engine: one table row per setting says how
 * it is parsed and checked; errors say file:line, the setting and what
 * was expected. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_engine.h"

/** @brief Format "file:line: where.setting: message" into the context. */
int cfg_fail(struct cfg_ctx *x, const config_setting_t *s,
	     const char *setting, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	const char *file = s ? config_setting_source_file(s) : NULL;

	int line = s ? config_setting_source_line(s) : 0;
	char at[16] = "";

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(at, sizeof at, ":%d", line);
	snprintf(x->err, x->errlen, "%s%s: %s%s%s: %s",
		 file ? file : x->file, at, x->where,
		 setting && x->where[0] ? "." : "", setting ? setting : "", msg);
	return -1;
}

const char *cfg_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	case CONFIG_TYPE_GROUP: return "a group";
	}
	return "something else";
}

char **cfg_field_str(void *obj, const struct cfg_setting *d)
{
	return (char **)((char *)obj + d->off);
}

int *cfg_field_int(void *obj, const struct cfg_setting *d)
{
	return (int *)((char *)obj + d->off);
}

int cfg_get_string(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, d->name, "expected a string, got %s",
				cfg_type_name(s));
	*out = config_setting_get_string(s);
	if (!**out)
		return cfg_fail(x, s, d->name, "expected a non-empty string");
	return 0;
}

int cfg_set_str(char **field, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -1;
	free(*field);
	*field = c;
	return 0;
}

int cfg_apply_string(struct cfg_ctx *x, const config_setting_t *s,
		     const struct cfg_setting *d, void *obj)
{
	const char *v;

	if (cfg_get_string(x, s, d, &v) < 0)
		return -1;
	return cfg_set_str(cfg_field_str(obj, d), v);
}

/** @brief Tunnel names go into every log line: keep them plain. */
int cfg_name_ok(const char *v)
{
	if (!*v || strlen(v) > 64)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return 0;
	return 1;
}

int cfg_apply_name(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj)
{
	const char *v;

	if (cfg_get_string(x, s, d, &v) < 0)
		return -1;
	if (!cfg_name_ok(v))
		return cfg_fail(x, s, d->name,
				"expected at most 64 letters, digits, '.', '_' or '-', got \"%s\"", v);
	return cfg_set_str(cfg_field_str(obj, d), v);
}

/** @brief Paths are kept absolute: relative ones are taken from the
 *  config file's folder, so the daemon may chdir("/") freely. */
int cfg_apply_path(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj)
{
	const char *v;
	char *abs;

	if (cfg_get_string(x, s, d, &v) < 0)
		return -1;
	if (v[0] == '/' || !x->dir) {
		abs = strdup(v);
	} else if (asprintf(&abs, "%s/%s", x->dir, v) < 0) {
		abs = NULL;
	}
	if (!abs)
		return -1;
	free(*cfg_field_str(obj, d));
	*cfg_field_str(obj, d) = abs;
	return 0;
}

int cfg_apply_int(struct cfg_ctx *x, const config_setting_t *s,
		  const struct cfg_setting *d, void *obj)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return cfg_fail(x, s, d->name,
				"expected an integer from %d to %d, got %s",
				d->min, d->max, cfg_type_name(s));
	v = config_setting_get_int64(s);
	if (v < d->min || v > d->max)
		return cfg_fail(x, s, d->name,
				"expected an integer from %d to %d, got %lld",
				d->min, d->max, v);
	*cfg_field_int(obj, d) = (int)v;
	return 0;
}

int cfg_apply_bool(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(x, s, d->name, "expected true or false, got %s",
				cfg_type_name(s));
	*cfg_field_int(obj, d) = config_setting_get_bool(s);
	return 0;
}

/** @brief Index of @v among @words (NULL-terminated), or -1. */
int cfg_word_index(const char *const *words, const char *v)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	return -1;
}

/** @brief "\"a\", \"b\"@last\"c\"" for error messages. */
void cfg_words_phrase(const char *const *words, const char *last,
		      char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; words[i]; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "%s\"%s\"",
			 i == 0 ? "" : words[i + 1] ? ", " : last, words[i]);
	}
}

/** @brief One of d->words; the field gets the word's index. */
int cfg_apply_word(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj)
{
	char expect[128];
	const char *v = NULL;
	int i;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(s);
		if ((i = cfg_word_index(d->words, v)) >= 0) {
			*cfg_field_int(obj, d) = i;
			return 0;
		}
	}
	cfg_words_phrase(d->words, " or ", expect, sizeof expect);
	if (v)
		return cfg_fail(x, s, d->name, "expected %s, got \"%s\"", expect, v);
	return cfg_fail(x, s, d->name, "expected %s, got %s", expect,
			cfg_type_name(s));
}

int cfg_apply_level(struct cfg_ctx *x, const config_setting_t *s,
		    const struct cfg_setting *d, void *obj)
{
	const char *v;
	int l;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, d->name,
				"expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\", got %s",
				cfg_type_name(s));
	if ((l = log_level_parse(v = config_setting_get_string(s))) < 0)
		return cfg_fail(x, s, d->name,
				"expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\", got \"%s\"",
				v);
	*cfg_field_int(obj, d) = l;
	return 0;
}

void cfg_strlist_free(struct cfg_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/** @brief A list of strings: [ "a", "b" ], ( "a", "b" ) or one "a". */
int cfg_apply_strlist(struct cfg_ctx *x, const config_setting_t *s,
		      const struct cfg_setting *d, void *obj)
{
	struct cfg_strlist *l = (void *)((char *)obj + d->off);
	int single = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n;

	if (!single && config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(x, s, d->name,
				"expected a list of strings, as in [ \"a\", \"b\" ], got %s",
				cfg_type_name(s));
	n = single ? 1 : config_setting_length(s);
	cfg_strlist_free(l);
	l->v = calloc(n ? n : 1, sizeof *l->v);
	if (!l->v)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = single ? s : config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(x, e, d->name,
					"expected a list of strings, item %d is %s",
					i + 1, cfg_type_name(e));
		if (!(l->v[l->n] = strdup(config_setting_get_string(e))))
			return -1;
		l->n++;
	}
	return 0;
}

/** @brief A set of words as bits: [ "AES-128-GCM", ... ]. */
int cfg_apply_bits(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj)
{
	unsigned *bits = (unsigned *)((char *)obj + d->off), v = 0;
	int single = config_setting_type(s) == CONFIG_TYPE_STRING;
	int n = single ? 1 : config_setting_length(s);
	char expect[128];

	cfg_words_phrase(d->words, ", ", expect, sizeof expect);
	if (!single && config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(x, s, d->name, "expected a list of %s, got %s",
				expect, cfg_type_name(s));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = single ? s : config_setting_get_elem(s, i);
		const char *w = config_setting_type(e) == CONFIG_TYPE_STRING ?
			config_setting_get_string(e) : "";
		int k = cfg_word_index(d->words, w);
		if (k < 0)
			return cfg_fail(x, e, d->name, "expected a list of %s, got \"%s\"",
					expect, w);
		v |= 1u << k;
	}
	if (!v)
		return cfg_fail(x, s, d->name, "expected at least one of %s", expect);
	*bits = v;
	return 0;
}

const struct cfg_setting *cfg_find(const struct cfg_setting *table,
				   const char *name)
{
	for (; table->name; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

/** @brief Apply every member of group @g through @table; a member the
 *  table doesn't know is an error, never silently ignored. */
int cfg_apply_members(struct cfg_ctx *x, const config_setting_t *g,
		      const struct cfg_setting *table, void *obj)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s);
		const struct cfg_setting *d = name ? cfg_find(table, name) : NULL;

		if (!d)
			return cfg_fail(x, s, name ? name : "?", "unknown setting");
		if (d->apply(x, s, d, obj) < 0) {
			if (!x->err[0])
				snprintf(x->err, x->errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

