/* cfg_hc.c - the settings of the Hybrid Connections roles: the relay's
 * relay_paths and their keys, a listener's relay URL, a sender's
 * connect URL, and the key a listener or sender signs its tokens with.
 *
 * Keys are read at load, by the master (as root, before it drops
 * privileges), and checked like credentials_file: a regular file that
 * group and others cannot read. The key is the file's first line, used
 * as text, the way Azure's portal shows SAS keys and hyco-ws uses them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cfg_engine.h"
#include "hc.h"

const char *cfg_role_name(const struct cfg_tunnel *t)
{
	if (t->hc == CFG_HC_RELAY)
		return "relay";
	if (t->hc == CFG_HC_LISTENER)
		return "listener";
	return t->role == CFG_ROLE_SERVER ? "server" : "client";
}

void cfg_hc_role(struct cfg_tunnel *t)
{
	if ((int)t->role == CFG_ROLE_WORD_RELAY) {
		t->role = CFG_ROLE_SERVER;
		t->hc = CFG_HC_RELAY;
	} else if ((int)t->role == CFG_ROLE_WORD_LISTENER) {
		t->role = CFG_ROLE_CLIENT;
		t->hc = CFG_HC_LISTENER;
	}
}

/** @brief The first line of @path, a SAS key: refused unless only its
 *  owner can read it. */
static int cfg_hc_read_key(const char *setting, const char *path, char **key,
			   size_t *keylen, char *err, size_t errlen)
{
	char line[512];
	struct stat st;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: cannot read %s: %s", setting, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", setting, path);
		fclose(f);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "%s: %s has mode %04o: it holds a key, so group and others must have no access (chmod 600 %s)",
			 setting, path, (unsigned)(st.st_mode & 07777), path);
		fclose(f);
		return -1;
	}
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "%s: %s: expected the key on its first line",
			 setting, path);
		explicit_bzero(line, sizeof line);
		return -1;
	}
	*key = strndup(line, n);
	*keylen = n;
	explicit_bzero(line, sizeof line);
	if (!*key) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/** @brief An entity path as relay_paths and URLs write it: segments of
 *  letters, digits and "-._~", no empty or dot segments. */
static int cfg_hc_path_ok(const char *p)
{
	const char *seg = p;

	if (!*p || strlen(p) >= HC_PATH_MAX)
		return 0;
	for (;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = p - seg;
			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 0;
			if (*p == '\0')
				return 1;
			seg = p + 1;
		} else if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", *p)) {
			return 0;
		}
	}
}

/** @brief One key of a relay path: { name; key_file; rights; }. */
static int cfg_hc_key_parse(struct cfg_ctx *x, const config_setting_t *g,
			    const char *path, struct cfg_hc_key *k)
{
	const config_setting_t *r = config_setting_get_member(g, "rights");
	const char *name = NULL, *file = NULL;
	char e[600], abs[4096];
	int n;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(x, g, "relay_paths",
				"path \"%s\": expected each key as { name = ...; key_file = ...; rights = [ ... ]; }, got %s",
				path, cfg_type_name(g));
	for (int i = 0; i < config_setting_length(g); i++) {
		const char *m = config_setting_name(config_setting_get_elem(g, i));
		if (strcmp(m, "name") && strcmp(m, "key_file") && strcmp(m, "rights"))
			return cfg_fail(x, config_setting_get_elem(g, i), "relay_paths",
					"path \"%s\": unknown key setting \"%s\" (expected name, key_file, rights)",
					path, m);
	}
	if (!config_setting_lookup_string(g, "name", &name) || !*name ||
	    strlen(name) >= HC_KEYNAME_MAX)
		return cfg_fail(x, g, "relay_paths",
				"path \"%s\": a key needs name = \"...\" (the token's skn)",
				path);
	if (!config_setting_lookup_string(g, "key_file", &file) || !*file)
		return cfg_fail(x, g, "relay_paths",
				"path \"%s\", key \"%s\": needs key_file", path, name);
	if (file[0] != '/' && x->dir)
		snprintf(abs, sizeof abs, "%s/%s", x->dir, file);
	else
		snprintf(abs, sizeof abs, "%s", file);
	if (!r || (config_setting_type(r) != CONFIG_TYPE_ARRAY &&
		   config_setting_type(r) != CONFIG_TYPE_LIST) ||
	    (n = config_setting_length(r)) == 0)
		return cfg_fail(x, r ? r : g, "relay_paths",
				"path \"%s\", key \"%s\": needs rights = [ \"listen\" ], [ \"send\" ] or both",
				path, name);
	for (int i = 0; i < n; i++) {
		const char *w = config_setting_get_string_elem(r, i);
		if (w && strcmp(w, "listen") == 0)
			k->rights |= CFG_HC_RIGHT_LISTEN;
		else if (w && strcmp(w, "send") == 0)
			k->rights |= CFG_HC_RIGHT_SEND;
		else
			return cfg_fail(x, r, "relay_paths",
					"path \"%s\", key \"%s\": rights: expected \"listen\" or \"send\", item %d is %s",
					path, name, i + 1, w ? w : cfg_type_name(config_setting_get_elem(r, i)));
	}
	if (!(k->name = strdup(name)))
		return -1;
	if (cfg_hc_read_key("key_file", abs, &k->key, &k->keylen, e, sizeof e) < 0)
		return cfg_fail(x, g, "relay_paths", "path \"%s\", key \"%s\": %s",
				path, name, e);
	return 0;
}

int cfg_apply_relay_paths(struct cfg_ctx *x, const config_setting_t *s,
			  const struct cfg_setting *d, void *obj)
{
	struct cfg_tunnel *t = obj;
	int n;

	(void)d;
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(x, s, "relay_paths",
				"expected a list ( { path = \"db\"; keys = ( ... ); }, ... ), got %s",
				cfg_type_name(s));
	cfg_hc_free(t);
	n = config_setting_length(s);
	if (n == 0)
		return cfg_fail(x, s, "relay_paths", "expected at least one path");
	if (!(t->hc_paths = calloc(n, sizeof *t->hc_paths)))
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i), *keys;
		struct cfg_hc_path *p = &t->hc_paths[i];
		const char *path = NULL;
		int nk;

		t->nhc_paths++;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return cfg_fail(x, g, "relay_paths",
					"item %d: expected { path = \"...\"; keys = ( ... ); }, got %s",
					i + 1, cfg_type_name(g));
		for (int j = 0; j < config_setting_length(g); j++) {
			const char *m = config_setting_name(config_setting_get_elem(g, j));
			if (strcmp(m, "path") && strcmp(m, "keys"))
				return cfg_fail(x, config_setting_get_elem(g, j), "relay_paths",
						"item %d: unknown setting \"%s\" (expected path, keys)",
						i + 1, m);
		}
		if (!config_setting_lookup_string(g, "path", &path) ||
		    !cfg_hc_path_ok(path))
			return cfg_fail(x, g, "relay_paths",
					"item %d: path: expected segments of letters, digits and \"-._~\" separated by \"/\", as in \"db\"",
					i + 1);
		for (int j = 0; j < i; j++)
			if (strcmp(t->hc_paths[j].path, path) == 0)
				return cfg_fail(x, g, "relay_paths",
						"path \"%s\" is listed twice", path);
		if (!(p->path = strdup(path)))
			return -1;
		keys = config_setting_get_member(g, "keys");
		if (!keys || config_setting_type(keys) != CONFIG_TYPE_LIST ||
		    (nk = config_setting_length(keys)) == 0)
			return cfg_fail(x, keys ? keys : g, "relay_paths",
					"path \"%s\": keys: expected a list ( { name = ...; key_file = ...; rights = [ ... ]; } )",
					path);
		if (!(p->keys = calloc(nk, sizeof *p->keys)))
			return -1;
		for (int j = 0; j < nk; j++) {
			p->nkeys++;
			if (cfg_hc_key_parse(x, config_setting_get_elem(keys, j), path,
					     &p->keys[j]) < 0)
				return -1;
			for (int k = 0; k < j; k++)
				if (strcmp(p->keys[k].name, p->keys[j].name) == 0)
					return cfg_fail(x, config_setting_get_elem(keys, j),
							"relay_paths",
							"path \"%s\": key \"%s\" is listed twice",
							path, p->keys[j].name);
		}
	}
	return 0;
}

/** @brief A listener's relay or a sender's connect: "wss://HOST/$hc/PATH".
 *  The TLS leg then goes to HOST's port, named HOST. */
static int cfg_hc_url(struct cfg_tunnel *t, const char *setting,
		      const char *url, char *err, size_t errlen)
{
	struct hc_url u;
	char e[300], hp[HC_HOST_MAX + 16];

	if (hc_url_parse(url, &u, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s", setting, e);
		return -1;
	}
	snprintf(hp, sizeof hp, strchr(u.host, ':') ? "[%s]:%u" : "%s:%u",
		 u.host, u.port);
	free(t->hc_host);
	free(t->hc_path);
	free(t->path);
	t->hc_host = strdup(u.host);
	t->hc_path = strdup(u.path);
	t->path = NULL;
	if (!t->hc_host || !t->hc_path ||
	    asprintf(&t->path, "/$hc/%s", u.path) < 0) {
		t->path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	net_endpoint_free(&t->connect_ep);
	if (net_endpoint_parse(&t->connect_ep, hp, 0, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s", setting, e);
		return -1;
	}
	if (!t->server_name && !(t->server_name = strdup(u.host))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Host names the port unless it is the default (RFC 9110 7.2):
	 * the relay builds its rendezvous addresses from it. */
	if (!t->host_header) {
		char hh[HC_HOST_MAX + 16];

		if (u.port != 443)
			snprintf(hh, sizeof hh, "%s", hp);
		else
			snprintf(hh, sizeof hh, strchr(u.host, ':') ? "[%s]" : "%s",
				 u.host);
		if (!(t->host_header = strdup(hh))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/** @brief relay_key_name and relay_key_file of a listener or sender. */
static int cfg_hc_own_key(struct cfg_tunnel *t, char *err, size_t errlen)
{
	if (!t->hc_key_name || !t->hc_key_file) {
		snprintf(err, errlen,
			 "%s: missing: a %s needs relay_key_name and relay_key_file (the key its tokens are signed with)",
			 t->hc_key_name ? "relay_key_file" : "relay_key_name",
			 t->hc == CFG_HC_LISTENER ? "listener" : "sender");
		return -1;
	}
	if (strlen(t->hc_key_name) >= HC_KEYNAME_MAX) {
		snprintf(err, errlen, "relay_key_name: longer than %d bytes",
			 HC_KEYNAME_MAX - 1);
		return -1;
	}
	free(t->hc_key);
	t->hc_key = NULL;
	return cfg_hc_read_key("relay_key_file", t->hc_key_file, &t->hc_key,
			       &t->hc_keylen, err, errlen);
}

int cfg_hc_finish(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char e[300];

	if (t->transport == CFG_TRANSPORT_RELAY) {
		if (t->role != CFG_ROLE_CLIENT || t->hc != CFG_HC_NONE) {
			snprintf(err, errlen,
				 "transport: \"relay\" is for role \"client\" (a sender); a relay or listener speaks it already");
			return -1;
		}
		t->hc = CFG_HC_SENDER;
	}
	if (t->hc != CFG_HC_RELAY && (t->nhc_paths || t->hc_accept_timeout)) {
		snprintf(err, errlen, "%s: only for role \"relay\"",
			 t->nhc_paths ? "relay_paths" : "relay_accept_timeout");
		return -1;
	}
	if (t->relay && t->hc != CFG_HC_LISTENER) {
		snprintf(err, errlen, "relay: only for role \"listener\" (a sender names its relay in connect)");
		return -1;
	}
	if ((t->hc_key_name || t->hc_key_file || t->hc_token_lifetime) &&
	    t->hc != CFG_HC_LISTENER && t->hc != CFG_HC_SENDER) {
		snprintf(err, errlen,
			 "%s: only for role \"listener\" and transport = \"relay\"",
			 t->hc_key_name ? "relay_key_name" : t->hc_key_file ?
			 "relay_key_file" : "relay_token_lifetime");
		return -1;
	}
	if (!t->hc_token_lifetime &&
	    (t->hc == CFG_HC_LISTENER || t->hc == CFG_HC_SENDER))
		t->hc_token_lifetime = 3600;
	if (t->relay && t->hc != CFG_HC_LISTENER) {
		snprintf(err, errlen, "relay: only for role \"listener\"");
		return -1;
	}
	if (t->hc == CFG_HC_NONE)
		return 0;
	if (t->path) {
		snprintf(err, errlen, "path: not for Hybrid Connections: the path is in the URL");
		return -1;
	}
	switch (t->hc) {
	case CFG_HC_RELAY:
		if (!t->nhc_paths) {
			snprintf(err, errlen,
				 "relay_paths: missing: a relay serves the paths listed there");
			return -1;
		}
		if (!t->hc_accept_timeout)
			t->hc_accept_timeout = 30;
		if (t->dynamic || t->acl || t->password_file) {
			snprintf(err, errlen,
				 "connect: a relay joins senders to listeners: no connect, acl or password_file");
			return -1;
		}
		t->transport = CFG_TRANSPORT_WEBSOCKET;
		return 0;
	case CFG_HC_LISTENER:
		if (t->destination) {
			snprintf(err, errlen,
				 "destination: for a sender; a listener connects to connect");
			return -1;
		}
		if (!t->relay) {
			snprintf(err, errlen,
				 "relay: missing: a listener needs relay = \"wss://HOST/$hc/PATH\"");
			return -1;
		}
		if (!t->dynamic && !t->hc_backend_ep.naddrs &&
		    net_endpoint_parse(&t->hc_backend_ep, t->connect, 0, e,
				       sizeof e) < 0) {
			snprintf(err, errlen, "connect: %s", e);
			return -1;
		}
		if (!t->hc_backend && !(t->hc_backend = strdup(t->connect))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		/* the key before the URL, whose host is resolved */
		if (cfg_hc_own_key(t, err, errlen) < 0 ||
		    cfg_hc_url(t, "relay", t->relay, err, errlen) < 0)
			return -1;
		break;
	case CFG_HC_SENDER:
		if (cfg_hc_own_key(t, err, errlen) < 0 ||
		    cfg_hc_url(t, "connect", t->connect, err, errlen) < 0)
			return -1;
		break;
	default:
		break;
	}
	t->transport = CFG_TRANSPORT_WEBSOCKET;
	return 0;
}

void cfg_hc_free(struct cfg_tunnel *t)
{
	for (size_t i = 0; i < t->nhc_paths; i++) {
		struct cfg_hc_path *p = &t->hc_paths[i];
		for (size_t j = 0; j < p->nkeys; j++) {
			free(p->keys[j].name);
			if (p->keys[j].key)
				explicit_bzero(p->keys[j].key, p->keys[j].keylen);
			free(p->keys[j].key);
		}
		free(p->keys);
		free(p->path);
	}
	free(t->hc_paths);
	t->hc_paths = NULL;
	t->nhc_paths = 0;
}
