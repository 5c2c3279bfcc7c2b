/* cfg_engine.h - the settings engine the configuration is read with:
 * where parsing is, how one setting is applied, how errors are worded.
 * Internal to cfg*.c. */
#ifndef SSLTUNNEL_CFG_ENGINE_H
#define SSLTUNNEL_CFG_ENGINE_H

#include <libconfig.h>
#include <stddef.h>

#include "cfg.h"

/* Where parsing is, for error messages. */
struct cfg_ctx {
	const char *file;	/* the config file, when a setting can't say */
	const char *dir;	/* folder of the config file, for relative paths */
	char *err;
	size_t errlen;
	char where[96];		/* "daemon", "defaults", "tunnel web" ... */
};

struct cfg_setting;
typedef int (*cfg_apply_fn)(struct cfg_ctx *x, const config_setting_t *s,
			    const struct cfg_setting *d, void *obj);

struct cfg_setting {
	const char *name;
	cfg_apply_fn apply;
	size_t off;		/* field in struct cfg or struct cfg_tunnel */
	int min, max;		/* integers */
	const char *const *words;	/* enumerations, NULL-terminated */
	int role_only;		/* -1 any, else the only role that takes it */
};

/** @brief Format "file:line: where.setting: message" into the context;
 *  returns -1 for the caller to pass up. */
int cfg_fail(struct cfg_ctx *x, const config_setting_t *s,
	     const char *setting, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** @brief "an integer", "a string"... for "expected X, got Y". */
const char *cfg_type_name(const config_setting_t *s);
/** @brief The field a table row names, in @obj. */
char **cfg_field_str(void *obj, const struct cfg_setting *d);
int *cfg_field_int(void *obj, const struct cfg_setting *d);
/** @brief A non-empty string, or an error naming the setting. */
int cfg_get_string(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, const char **out);
/** @brief Replace *@field with a copy of @v; -1 when out of memory. */
int cfg_set_str(char **field, const char *v);
/** @brief Tunnel names go into every log line: plain and short. */
int cfg_name_ok(const char *v);
/** @brief Index of @v among @words (NULL-terminated), or -1. */
int cfg_word_index(const char *const *words, const char *v);
/** @brief "\"a\", \"b\"@last\"c\"" for error messages. */
void cfg_words_phrase(const char *const *words, const char *last,
		      char *buf, size_t len);
void cfg_strlist_free(struct cfg_strlist *l);
/** @brief The row of @table named @name, or NULL. */
const struct cfg_setting *cfg_find(const struct cfg_setting *table,
				   const char *name);
/** @brief Apply every member of group @g through @table; a member the
 *  table doesn't know is an error, never silently ignored. */
int cfg_apply_members(struct cfg_ctx *x, const config_setting_t *g,
		      const struct cfg_setting *table, void *obj);

/* Appliers for table rows (see struct cfg_setting). */
int cfg_apply_string(struct cfg_ctx *x, const config_setting_t *s,
		     const struct cfg_setting *d, void *obj);
int cfg_apply_name(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj);
int cfg_apply_path(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj);
int cfg_apply_int(struct cfg_ctx *x, const config_setting_t *s,
		  const struct cfg_setting *d, void *obj);
int cfg_apply_bool(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj);
int cfg_apply_word(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj);
int cfg_apply_level(struct cfg_ctx *x, const config_setting_t *s,
		    const struct cfg_setting *d, void *obj);
int cfg_apply_strlist(struct cfg_ctx *x, const config_setting_t *s,
		      const struct cfg_setting *d, void *obj);
int cfg_apply_bits(struct cfg_ctx *x, const config_setting_t *s,
		   const struct cfg_setting *d, void *obj);
/** @brief A tunnel's acl list (cfg_acl.c). */
int cfg_apply_relay_paths(struct cfg_ctx *x, const config_setting_t *s,
			  const struct cfg_setting *d, void *obj);
int cfg_apply_acl(struct cfg_ctx *x, const config_setting_t *s,
		  const struct cfg_setting *d, void *obj);
/* The members of an acl entry, NULL-terminated (cfg_acl.c). */
extern const char *const cfg_acl_members[];

#endif
