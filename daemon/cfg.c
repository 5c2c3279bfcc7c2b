/* cfg.c - the configuration: libconfig file, settings table, validation
 *
 * Each setting is one row of a table: its name, how it is parsed and
 * checked, and the phrase an error uses for what was expected. The same
 * tables list the settings for the man page check.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "acl.h"
#include "auth.h"
#include "cfg_engine.h"
#include "resolve.h"

static int cfg_apply_pins(struct cfg_ctx *x, const config_setting_t *s,
			  const struct cfg_setting *d, void *obj)
{
	struct cfg_tunnel *t = obj;

	if (cfg_apply_strlist(x, s, d, obj) < 0)
		return -1;
	free(t->pins);
	t->npins = 0;
	t->pins = calloc(t->pin_sha256.n ? t->pin_sha256.n : 1, sizeof *t->pins);
	if (!t->pins)
		return -1;
	for (size_t i = 0; i < t->pin_sha256.n; i++) {
		if (acl_pin_parse(t->pin_sha256.v[i], t->pins[i]) < 0)
			return cfg_fail(x, s, d->name,
					"expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"%s\"",
					t->pin_sha256.v[i]);
		t->npins++;
	}
	return 0;
}

static const struct cfg_setting cfg_keepalive_settings[] = {
	{ "idle", cfg_apply_int, offsetof(struct net_keepalive, idle), 0, 86400, NULL, -1 },
	{ "interval", cfg_apply_int, offsetof(struct net_keepalive, interval), 1, 3600, NULL, -1 },
	{ "count", cfg_apply_int, offsetof(struct net_keepalive, count), 1, 100, NULL, -1 },
	{ NULL, NULL, 0, 0, 0, NULL, -1 },
};

static int cfg_apply_keepalive(struct cfg_ctx *x, const config_setting_t *s,
			       const struct cfg_setting *d, void *obj)
{
	struct net_keepalive *ka = (void *)((char *)obj + d->off);
	char saved[sizeof x->where];
	int rc;

	if (config_setting_type(s) == CONFIG_TYPE_BOOL) {
		if (!config_setting_get_bool(s))
			ka->idle = 0;
		else if (ka->idle == 0)
			ka->idle = 30;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(x, s, d->name,
				"expected a group { idle = 30; interval = 10; count = 3; } or false, got %s",
				cfg_type_name(s));
	memcpy(saved, x->where, sizeof saved);
	snprintf(x->where + strlen(x->where), sizeof x->where - strlen(x->where),
		 ".keepalive");
	rc = cfg_apply_members(x, s, cfg_keepalive_settings, ka);
	memcpy(x->where, saved, sizeof saved);
	return rc;
}

/** @brief true or false; not set, the workers' filter is on where the
 *  kernel has seccomp (CFG_SECCOMP_AUTO). */
static int cfg_apply_seccomp(struct cfg_ctx *x, const config_setting_t *s,
			     const struct cfg_setting *d, void *obj)
{
	struct cfg *c = obj;

	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(x, s, d->name, "expected true or false, got %s",
				cfg_type_name(s));
	c->seccomp = config_setting_get_bool(s) ? CFG_SECCOMP_ON :
		CFG_SECCOMP_OFF;
	return 0;
}

/** @brief "stderr", "syslog" or an absolute file path. */
static int cfg_apply_target(struct cfg_ctx *x, const config_setting_t *s,
			    const struct cfg_setting *d, void *obj)
{
	struct cfg *c = obj;
	const char *v;

	if (cfg_get_string(x, s, d, &v) < 0)
		return -1;
	if (strcmp(v, "stderr") == 0 || strcmp(v, "syslog") == 0) {
		c->log_target = strcmp(v, "stderr") == 0 ?
			LOG_TARGET_STDERR : LOG_TARGET_SYSLOG;
		free(c->log_file);
		c->log_file = NULL;
		return 0;
	}
	if (v[0] != '/')
		return cfg_fail(x, s, d->name,
				"expected \"stderr\", \"syslog\" or an absolute file path, got \"%s\"", v);
	c->log_target = LOG_TARGET_FILE;
	return cfg_set_str(&c->log_file, v);
}

/** @brief The WebSocket upgrade's path: "/" and what may follow in an
 *  HTTP origin-form path, no query. */
static int cfg_apply_urlpath(struct cfg_ctx *x, const config_setting_t *s,
			     const struct cfg_setting *d, void *obj)
{
	const char *v;

	if (cfg_get_string(x, s, d, &v) < 0)
		return -1;
	if (v[0] != '/' || strpbrk(v, "?# \t\r\n\"\\"))
		return cfg_fail(x, s, d->name,
				"expected a URL path starting with \"/\", without query, spaces or quotes, got \"%s\"",
				v);
	return cfg_set_str(cfg_field_str(obj, d), v);
}

/** @brief Name servers as IP:port, checked now so a typo is a config
 *  error, not a resolver that never answers. */
static int cfg_apply_dns_servers(struct cfg_ctx *x, const config_setting_t *s,
				 const struct cfg_setting *d, void *obj)
{
	struct cfg_strlist *l = (void *)((char *)obj + d->off);
	char e[200];

	if (cfg_apply_strlist(x, s, d, obj) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (resolve_server_ok(l->v[i], e, sizeof e) < 0)
			return cfg_fail(x, s, d->name, "%s", e);
	return 0;
}

static const char *const cfg_cipher_words[] = {
	"AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", NULL };
static const char *const cfg_version_words[] = { "1.2", "1.3", NULL };

static const char *const cfg_role_words[] = { "client", "server", "relay",
					       "listener", NULL };
static const char *const cfg_transport_words[] = { "tls", "websocket", "relay",
						    NULL };
static const char *const cfg_ktls_words[] = { "auto", "on", "off", NULL };
static const char *const cfg_auth_words[] = { "certificate", "password", "both",
					      NULL };
static const char *const cfg_pp_words[] = { "off", "accept", "send", "both",
					    NULL };

#define T(f) offsetof(struct cfg_tunnel, f)
static const struct cfg_setting cfg_tunnel_settings[] = {
	{ "name", cfg_apply_name, T(name), 0, 0, NULL, -1 },
	{ "role", cfg_apply_word, T(role), 0, 0, cfg_role_words, -1 },
	{ "listen", cfg_apply_string, T(listen), 0, 0, NULL, -1 },
	{ "connect", cfg_apply_string, T(connect), 0, 0, NULL, -1 },
	{ "cert_file", cfg_apply_path, T(cert_file), 0, 0, NULL, -1 },
	{ "key_file", cfg_apply_path, T(key_file), 0, 0, NULL, -1 },
	{ "ca_file", cfg_apply_path, T(ca_file), 0, 0, NULL, -1 },
	{ "crl_file", cfg_apply_path, T(crl_file), 0, 0, NULL, -1 },
	{ "server_name", cfg_apply_string, T(server_name), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "allow_cn", cfg_apply_strlist, T(allow_cn), 0, 0, NULL, CFG_ROLE_SERVER },
	{ "allow_dns", cfg_apply_strlist, T(allow_dns), 0, 0, NULL, CFG_ROLE_SERVER },
	{ "allow_uri", cfg_apply_strlist, T(allow_uri), 0, 0, NULL, CFG_ROLE_SERVER },
	{ "pin_sha256", cfg_apply_pins, T(pin_sha256), 0, 0, NULL, -1 },
	{ "ciphers", cfg_apply_bits, T(ciphers), 0, 0, cfg_cipher_words, -1 },
	{ "tls_versions", cfg_apply_bits, T(versions), 0, 0, cfg_version_words, -1 },
	{ "handshake_timeout", cfg_apply_int, T(handshake_timeout), 1, 3600, NULL, -1 },
	{ "session_tickets", cfg_apply_bool, T(session_tickets), 0, 0, NULL, -1 },
	{ "ticket_key_rotation", cfg_apply_int, T(ticket_key_rotation), 3, 604800, NULL, CFG_ROLE_SERVER },
	{ "connect_timeout", cfg_apply_int, T(connect_timeout), 1, 3600, NULL, -1 },
	{ "keepalive", cfg_apply_keepalive, T(keepalive), 0, 0, NULL, -1 },
	{ "transport", cfg_apply_word, T(transport), 0, 0, cfg_transport_words, -1 },
	{ "path", cfg_apply_urlpath, T(path), 0, 0, NULL, -1 },
	{ "ws_ping_interval", cfg_apply_int, T(ws_ping_interval), 0, 3600, NULL, -1 },
	{ "idle_timeout", cfg_apply_int, T(idle_timeout), 0, 604800, NULL, -1 },
	{ "max_connections", cfg_apply_int, T(max_connections), 0, 1000000, NULL, -1 },
	{ "max_connections_per_source", cfg_apply_int, T(max_per_source), 0, 1000000, NULL, -1 },
	{ "destination", cfg_apply_string, T(destination), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "host_header", cfg_apply_string, T(host_header), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "http_proxy", cfg_apply_string, T(http_proxy), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "proxy_auth_file", cfg_apply_path, T(proxy_auth_file), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "acl", cfg_apply_acl, 0, 0, 0, NULL, CFG_ROLE_SERVER },
	{ "client_auth", cfg_apply_word, T(client_auth), 0, 0, cfg_auth_words, CFG_ROLE_SERVER },
	{ "password_file", cfg_apply_path, T(password_file), 0, 0, NULL, CFG_ROLE_SERVER },
	{ "auth_cache_ttl", cfg_apply_int, T(auth_cache_ttl), 0, 86400, NULL, CFG_ROLE_SERVER },
	{ "credentials_file", cfg_apply_path, T(credentials_file), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "accounting", cfg_apply_bool, T(accounting), 0, 0, NULL, -1 },
	{ "accounting_max_identities", cfg_apply_int, T(accounting_max_identities), 1, 100000, NULL, -1 },
	{ "proxy_protocol", cfg_apply_word, T(proxy_protocol), 0, 0, cfg_pp_words, -1 },
	{ "proxy_from", cfg_apply_strlist, T(proxy_from), 0, 0, NULL, CFG_ROLE_SERVER },
	{ "relay_paths", cfg_apply_relay_paths, 0, 0, 0, NULL, CFG_ROLE_SERVER },
	{ "relay_accept_timeout", cfg_apply_int, T(hc_accept_timeout), 1, 3600, NULL, CFG_ROLE_SERVER },
	{ "relay", cfg_apply_string, T(relay), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "relay_key_name", cfg_apply_string, T(hc_key_name), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "relay_key_file", cfg_apply_path, T(hc_key_file), 0, 0, NULL, CFG_ROLE_CLIENT },
	{ "relay_token_lifetime", cfg_apply_int, T(hc_token_lifetime), 2, 86400, NULL, CFG_ROLE_CLIENT },
	{ NULL, NULL, 0, 0, 0, NULL, -1 },
};
#undef T

#define D(f) offsetof(struct cfg, f)
static const struct cfg_setting cfg_daemon_settings[] = {
	{ "workers", cfg_apply_int, D(workers), 0, 1024, NULL, -1 },
	{ "log_level", cfg_apply_level, D(log_level), 0, 0, NULL, -1 },
	{ "log_target", cfg_apply_target, 0, 0, 0, NULL, -1 },
	{ "pid_file", cfg_apply_path, D(pid_file), 0, 0, NULL, -1 },
	{ "ktls", cfg_apply_word, D(ktls), 0, 0, cfg_ktls_words, -1 },
	{ "seccomp", cfg_apply_seccomp, 0, 0, 0, NULL, -1 },
	{ "user", cfg_apply_string, D(user), 0, 0, NULL, -1 },
	{ "group", cfg_apply_string, D(group), 0, 0, NULL, -1 },
	{ "chroot", cfg_apply_path, D(chroot), 0, 0, NULL, -1 },
	{ "drain_timeout", cfg_apply_int, D(drain_timeout), 0, 86400, NULL, -1 },
	{ "dns_servers", cfg_apply_dns_servers, D(dns_servers), 0, 0, NULL, -1 },
	{ "control_socket", cfg_apply_path, D(control_socket), 0, 0, NULL, -1 },
	{ "metrics_listen", cfg_apply_string, D(metrics_listen), 0, 0, NULL, -1 },
	{ "auth_threads", cfg_apply_int, D(auth_threads), 1, 64, NULL, -1 },
	{ "auth_parallel", cfg_apply_int, D(auth_parallel), 0, 1024, NULL, -1 },
	{ "auth_failures", cfg_apply_int, D(auth_failures), 1, 1000, NULL, -1 },
	{ "auth_failure_window", cfg_apply_int, D(auth_failure_window), 1, 86400, NULL, -1 },
	{ "auth_lockout_time", cfg_apply_int, D(auth_lockout_time), 0, 86400, NULL, -1 },
	{ NULL, NULL, 0, 0, 0, NULL, -1 },
};
#undef D

void cfg_tunnel_defaults(struct cfg_tunnel *t)
{
	memset(t, 0, sizeof *t);
	t->role = -1;
	t->ciphers = CFG_CIPHER_AES128 | CFG_CIPHER_AES256 | CFG_CIPHER_CHACHA;
	t->versions = CFG_TLS12 | CFG_TLS13;
	t->handshake_timeout = 10;
	t->session_tickets = 1;
	t->ticket_key_rotation = 3600;
	t->connect_timeout = 10;
	t->keepalive.idle = 30;
	t->keepalive.interval = 10;
	t->keepalive.count = 3;
	t->verify_name = 1;
	t->transport = CFG_TRANSPORT_TLS;
	t->ws_ping_interval = 30;
	t->client_auth = CFG_AUTH_CERTIFICATE;
	t->auth_cache_ttl = 300;
	t->accounting_max_identities = 1000;
}

void cfg_daemon_defaults(struct cfg *c)
{
	memset(c, 0, sizeof *c);
	c->workers = 0;
	c->log_level = LOG_NOTICE;
	c->log_target = LOG_TARGET_SYSLOG;
	c->ktls = CFG_KTLS_AUTO;
	c->seccomp = CFG_SECCOMP_AUTO;
	c->drain_timeout = 30;
	c->auth_threads = 2;
	c->auth_failures = AUTH_LOCK_FAILURES;
	c->auth_failure_window = AUTH_LOCK_WINDOW_S;
	c->auth_lockout_time = AUTH_LOCK_TIME_S;
}

static int cfg_strlist_copy(struct cfg_strlist *dst, const struct cfg_strlist *src)
{
	dst->n = 0;
	dst->v = calloc(src->n ? src->n : 1, sizeof *dst->v);
	if (!dst->v)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		if (!(dst->v[i] = strdup(src->v[i])))
			return -1;
		dst->n++;
	}
	return 0;
}

static char *cfg_strdup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

/** @brief Deep copy of the defaults template into a new tunnel. */
static int cfg_tunnel_copy(struct cfg_tunnel *dst, const struct cfg_tunnel *src)
{
	*dst = *src;
	dst->name = cfg_strdup_opt(src->name);
	dst->listen = cfg_strdup_opt(src->listen);
	dst->connect = cfg_strdup_opt(src->connect);
	dst->cert_file = cfg_strdup_opt(src->cert_file);
	dst->key_file = cfg_strdup_opt(src->key_file);
	dst->ca_file = cfg_strdup_opt(src->ca_file);
	dst->crl_file = cfg_strdup_opt(src->crl_file);
	dst->server_name = cfg_strdup_opt(src->server_name);
	dst->path = cfg_strdup_opt(src->path);
	dst->destination = cfg_strdup_opt(src->destination);
	dst->dest_host = NULL;
	dst->host_header = cfg_strdup_opt(src->host_header);
	dst->http_proxy = cfg_strdup_opt(src->http_proxy);
	dst->proxy_auth_file = cfg_strdup_opt(src->proxy_auth_file);
	dst->proxy_auth = NULL;
	dst->password_file = cfg_strdup_opt(src->password_file);
	dst->passwords = NULL;
	dst->credentials_file = cfg_strdup_opt(src->credentials_file);
	dst->credentials = NULL;
	dst->cred_user = NULL;
	dst->proxy_name = NULL;
	dst->acl = NULL;	/* defaults take no acl */
	memset(&dst->proxy_ep, 0, sizeof dst->proxy_ep);
	memset(&dst->listen_ep, 0, sizeof dst->listen_ep);
	memset(&dst->connect_ep, 0, sizeof dst->connect_ep);
	dst->pins = NULL;
	dst->npins = 0;
	if (cfg_strlist_copy(&dst->allow_cn, &src->allow_cn) < 0 ||
	    cfg_strlist_copy(&dst->allow_dns, &src->allow_dns) < 0 ||
	    cfg_strlist_copy(&dst->allow_uri, &src->allow_uri) < 0 ||
	    cfg_strlist_copy(&dst->pin_sha256, &src->pin_sha256) < 0 ||
	    cfg_strlist_copy(&dst->proxy_from, &src->proxy_from) < 0)
		return -1;
	dst->proxy_nets = NULL;
	dst->nproxy_nets = 0;
	/* The Hybrid Connections settings are per tunnel: none in defaults. */
	dst->hc_paths = NULL;
	dst->nhc_paths = 0;
	dst->relay = dst->hc_host = dst->hc_path = dst->hc_backend = NULL;
	dst->hc_key_name = dst->hc_key_file = dst->hc_key = NULL;
	memset(&dst->hc_backend_ep, 0, sizeof dst->hc_backend_ep);
	if (src->npins) {
		dst->pins = malloc(src->npins * sizeof *dst->pins);
		if (!dst->pins)
			return -1;
		memcpy(dst->pins, src->pins, src->npins * sizeof *dst->pins);
		dst->npins = src->npins;
	}
	return 0;
}

void cfg_tunnel_free(struct cfg_tunnel *t)
{
	free(t->name);
	free(t->listen);
	free(t->connect);
	free(t->cert_file);
	free(t->key_file);
	free(t->ca_file);
	free(t->crl_file);
	free(t->server_name);
	free(t->path);
	free(t->destination);
	free(t->dest_host);
	free(t->host_header);
	free(t->http_proxy);
	free(t->proxy_auth_file);
	if (t->proxy_auth)
		explicit_bzero(t->proxy_auth, strlen(t->proxy_auth));
	free(t->proxy_auth);
	free(t->proxy_name);
	free(t->password_file);
	auth_db_free(t->passwords);
	free(t->credentials_file);
	if (t->credentials)
		explicit_bzero(t->credentials, strlen(t->credentials));
	free(t->credentials);
	free(t->cred_user);
	net_endpoint_free(&t->proxy_ep);
	if (t->acl) {
		acl_free(t->acl);
		free(t->acl);
	}
	cfg_strlist_free(&t->allow_cn);
	cfg_strlist_free(&t->allow_dns);
	cfg_strlist_free(&t->allow_uri);
	cfg_strlist_free(&t->pin_sha256);
	cfg_strlist_free(&t->proxy_from);
	for (size_t i = 0; i < t->nproxy_nets; i++)
		acl_rule_free(&t->proxy_nets[i]);
	free(t->proxy_nets);
	free(t->pins);
	net_endpoint_free(&t->listen_ep);
	net_endpoint_free(&t->connect_ep);
	cfg_hc_free(t);
	free(t->relay);
	free(t->hc_host);
	free(t->hc_path);
	free(t->hc_backend);
	net_endpoint_free(&t->hc_backend_ep);
	free(t->hc_key_name);
	free(t->hc_key_file);
	if (t->hc_key)
		explicit_bzero(t->hc_key, t->hc_keylen);
	free(t->hc_key);
	memset(t, 0, sizeof *t);
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->ntunnels; i++)
		cfg_tunnel_free(&c->tunnels[i]);
	free(c->tunnels);
	free(c->pid_file);
	free(c->log_file);
	free(c->user);
	free(c->group);
	free(c->chroot);
	cfg_strlist_free(&c->dns_servers);
	cfg_strlist_free(&c->warnings);
	free(c->control_socket);
	free(c->metrics_listen);
	free(c->path);
	memset(c, 0, sizeof *c);
}

/** @brief Settings given for the other role are mistakes worth naming. */
static int cfg_check_role(struct cfg_ctx *x, const config_setting_t *g,
			  const struct cfg_tunnel *t)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const struct cfg_setting *d =
			cfg_find(cfg_tunnel_settings, config_setting_name(s));
		if (d && t->hc == CFG_HC_LISTENER && d->apply == cfg_apply_acl)
			continue;	/* connect = "dynamic" on a listener */
		if (d && d->role_only >= 0 && d->role_only != (int)t->role)
			return cfg_fail(x, s, d->name,
					"only for role \"%s\"; this tunnel has role \"%s\"",
					cfg_role_words[d->role_only],
					cfg_role_name(t));
	}
	return 0;
}

/** @brief A relay's own certificate and key. */
static int cfg_fail_pair(struct cfg_ctx *x, const config_setting_t *g,
			 const struct cfg_tunnel *t)
{
	if (!t->cert_file || !t->key_file)
		return cfg_fail(x, g, t->cert_file ? "key_file" : "cert_file",
				"missing: a relay tunnel needs it");
	return 0;
}

/** @brief Which certificate files a tunnel needs: a server its own pair,
 *  and ca_file unless clients log in with passwords only; a client
 *  ca_file, and its pair unless it logs in with credentials_file. */
static int cfg_check_credentials(struct cfg_ctx *x, const config_setting_t *g,
				 const struct cfg_tunnel *t)
{
	const char *role = cfg_role_name(t);
	int server = t->role == CFG_ROLE_SERVER;

	/* Hybrid Connections: tokens authorize, so no client certificates
	 * on the relay, and the listener's and sender's are optional. */
	if (t->crl_file && !t->ca_file)
		return cfg_fail(x, g, "crl_file",
				"needs ca_file: the CRLs are checked against its CAs");
	if (t->hc == CFG_HC_RELAY && t->ca_file)
		return cfg_fail(x, g, "ca_file",
				"a relay authorizes with tokens and asks for no client certificate: remove ca_file");
	if (t->hc == CFG_HC_RELAY)
		return cfg_fail_pair(x, g, t);
	if (t->hc == CFG_HC_LISTENER || t->transport == CFG_TRANSPORT_RELAY) {
		if (!t->ca_file)
			return cfg_fail(x, g, "ca_file",
					"missing: a %s needs it (to verify the relay)",
					t->hc == CFG_HC_LISTENER ? "listener" : "sender");
		if (!t->cert_file != !t->key_file)
			return cfg_fail(x, g, t->cert_file ? "key_file" : "cert_file",
					"missing: cert_file and key_file go together");
		return 0;
	}

	if (server && !t->cert_file)
		return cfg_fail(x, g, "cert_file", "missing: a server tunnel needs it");
	if (server && !t->key_file)
		return cfg_fail(x, g, "key_file", "missing: a server tunnel needs it");
	if (!t->ca_file && (!server || t->client_auth != CFG_AUTH_PASSWORD))
		return cfg_fail(x, g, "ca_file", "missing: a %s tunnel needs it%s",
				role, server ?
				" (to verify client certificates; client_auth = \"password\" needs none)" :
				" (to verify the server)");
	if (!server && !t->credentials_file && (!t->cert_file || !t->key_file))
		return cfg_fail(x, g, t->cert_file ? "key_file" : "cert_file",
				"missing: a client tunnel needs its certificate and key, unless it logs in with credentials_file");
	if (!server && !t->cert_file != !t->key_file)
		return cfg_fail(x, g, t->cert_file ? "key_file" : "cert_file",
				"missing: cert_file and key_file go together");
	return 0;
}

static int cfg_tunnel_parse(struct cfg_ctx *x, const config_setting_t *g,
			    int index, const struct cfg_tunnel *tmpl,
			    struct cfg_tunnel *t)
{
	const char *name = NULL;
	char e[300];
	snprintf(x->where, sizeof x->where, "tunnels[%d]", index);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(x, g, NULL,
				"expected each tunnel as a group { name = ...; role = ...; }, got %s",
				cfg_type_name(g));
	if (cfg_tunnel_copy(t, tmpl) < 0)
		return -1;
	t->line = config_setting_source_line(g);
	if (config_setting_lookup_string(g, "name", &name) && cfg_name_ok(name))
		snprintf(x->where, sizeof x->where, "tunnel %s", name);
	else
		snprintf(x->where, sizeof x->where, "tunnels[%d]", index);
	if (cfg_apply_members(x, g, cfg_tunnel_settings, t) < 0)
		return -1;
	if (!t->name)
		return cfg_fail(x, g, "name", "missing: every tunnel needs a name");
	if ((int)t->role < 0)
		return cfg_fail(x, g, "role", "missing: expected \"client\", \"server\", \"relay\" or \"listener\"");
	cfg_hc_role(t);
	if (t->hc == CFG_HC_LISTENER && t->listen)
		return cfg_fail(x, config_setting_get_member(g, "listen"), "listen",
				"a listener listens at its relay (relay = \"wss://...\"): remove listen");
	if (t->hc == CFG_HC_RELAY && t->connect)
		return cfg_fail(x, config_setting_get_member(g, "connect"), "connect",
				"a relay joins senders to listeners: remove connect");
	if ((!t->listen && t->hc != CFG_HC_LISTENER) ||
	    (!t->connect && t->hc != CFG_HC_RELAY))
		return cfg_fail(x, g, t->listen || t->hc == CFG_HC_LISTENER ?
				"connect" : "listen",
				"missing: a %s tunnel needs it", cfg_role_name(t));
	if (cfg_check_credentials(x, g, t) < 0)
		return -1;
	if (cfg_check_role(x, g, t) < 0)
		return -1;
	if (t->role == CFG_ROLE_CLIENT) {
		/* Allow lists in defaults are for the server tunnels. */
		cfg_strlist_free(&t->allow_cn);
		cfg_strlist_free(&t->allow_dns);
		cfg_strlist_free(&t->allow_uri);
	}
	if (cfg_tunnel_finish(t, e, sizeof e) < 0) {
		/* "setting: what is wrong"; point at the setting's line. */
		char *colon = strchr(e, ':');
		const config_setting_t *s;

		if (!colon || colon[1] != ' ')
			return cfg_fail(x, g, NULL, "%s", e);
		*colon = '\0';
		s = config_setting_get_member(g, e);
		return cfg_fail(x, s ? s : g, e, "%s", colon + 2);
	}
	return 0;
}

static int cfg_tunnels_parse(struct cfg_ctx *x, struct cfg *c,
			     const config_setting_t *list,
			     const struct cfg_tunnel *tmpl)
{
	int n;

	snprintf(x->where, sizeof x->where, "tunnels");
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return cfg_fail(x, list, NULL,
				"expected a list of tunnels ( { ... }, { ... } ), got %s",
				cfg_type_name(list));
	n = config_setting_length(list);
	if (n == 0)
		return cfg_fail(x, list, NULL, "expected at least one tunnel");
	c->tunnels = calloc(n, sizeof *c->tunnels);
	if (!c->tunnels)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, i);
		struct cfg_tunnel *t = &c->tunnels[i];

		c->ntunnels++;
		if (cfg_tunnel_parse(x, g, i, tmpl, t) < 0)
			return -1;
		for (int j = 0; j < i; j++) {
			const struct cfg_tunnel *o = &c->tunnels[j];
			if (strcmp(o->name, t->name) == 0)
				return cfg_fail(x, config_setting_get_member(g, "name"),
						"name", "\"%s\" is already the name of the tunnel at line %d",
						t->name, o->line);
			for (int a = 0; a < t->listen_ep.naddrs; a++)
				for (int b = 0; b < o->listen_ep.naddrs; b++)
					if (t->listen_ep.addrs[a].len == o->listen_ep.addrs[b].len &&
					    memcmp(&t->listen_ep.addrs[a].ss, &o->listen_ep.addrs[b].ss,
						   t->listen_ep.addrs[a].len) == 0)
						return cfg_fail(x, config_setting_get_member(g, "listen"),
								"listen", "\"%s\" is already the address of tunnel %s",
								t->listen, o->name);
		}
	}
	return 0;
}

static char *cfg_dirname(const char *abs)
{
	const char *slash = strrchr(abs, '/');

	return strndup(abs, slash == abs ? 1 : (size_t)(slash - abs));
}

static int cfg_parse_root(struct cfg_ctx *x, struct cfg *c, config_t *lc)
{
	const config_setting_t *root = config_root_setting(lc);
	const config_setting_t *d = config_setting_get_member(root, "daemon");
	const config_setting_t *def = config_setting_get_member(root, "defaults");
	const config_setting_t *tl = config_setting_get_member(root, "tunnels");
	struct cfg_tunnel tmpl;
	int rc = -1;

	cfg_tunnel_defaults(&tmpl);
	x->where[0] = '\0';
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);
		const char *n = config_setting_name(s);
		if (strcmp(n, "daemon") && strcmp(n, "defaults") && strcmp(n, "tunnels"))
			return cfg_fail(x, s, n,
					"unknown setting: expected daemon, defaults or tunnels");
	}
	if (d) {
		snprintf(x->where, sizeof x->where, "daemon");
		if (config_setting_type(d) != CONFIG_TYPE_GROUP)
			return cfg_fail(x, d, NULL, "expected a group, got %s",
					cfg_type_name(d));
		if (cfg_apply_members(x, d, cfg_daemon_settings, c) < 0)
			return -1;
	}
	if (def) {
		snprintf(x->where, sizeof x->where, "defaults");
		if (config_setting_type(def) != CONFIG_TYPE_GROUP)
			return cfg_fail(x, def, NULL, "expected a group, got %s",
					cfg_type_name(def));
		if (config_setting_get_member(def, "name"))
			return cfg_fail(x, config_setting_get_member(def, "name"),
					"name", "a name belongs to one tunnel, not to defaults");
		if (cfg_apply_members(x, def, cfg_tunnel_settings, &tmpl) < 0)
			goto out;
		if (tmpl.acl) {
			cfg_fail(x, config_setting_get_member(def, "acl"), "acl",
				 "an acl belongs to a tunnel with connect = \"dynamic\", not to defaults");
			goto out;
		}
	}
	if (!tl) {
		x->where[0] = '\0';
		cfg_fail(x, root, "tunnels", "missing: expected a list of tunnels");
		goto out;
	}
	rc = cfg_tunnels_parse(x, c, tl, &tmpl);
out:
	cfg_tunnel_free(&tmpl);
	return rc;
}

/** @brief Look up daemon.user / daemon.group now, so a typo is a config
 *  error at load, not a worker that can't start. */
static int cfg_resolve_ids(struct cfg_ctx *x, struct cfg *c, config_t *lc)
{
	const config_setting_t *s;
	struct passwd *pw = NULL;
	struct group *gr;

	snprintf(x->where, sizeof x->where, "daemon");
	if (c->user) {
		s = config_lookup(lc, "daemon.user");
		if (!(pw = getpwnam(c->user)))
			return cfg_fail(x, s, "user", "no such user \"%s\"", c->user);
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
		/* Only root can become someone else; under a unit that already
		 * runs as the user there is nothing to change. */
		if (geteuid() != 0 && geteuid() != c->uid)
			return cfg_fail(x, s, "user",
					"switching to \"%s\" needs root; this runs as uid %u",
					c->user, (unsigned)geteuid());
	}
	if (c->group) {
		s = config_lookup(lc, "daemon.group");
		if (!c->user)
			return cfg_fail(x, s, "group", "needs daemon.user too");
		if (!(gr = getgrnam(c->group)))
			return cfg_fail(x, s, "group", "no such group \"%s\"", c->group);
		c->gid = gr->gr_gid;
	}
	if (c->chroot) {
		struct stat st;
		s = config_lookup(lc, "daemon.chroot");
		if (geteuid() != 0)
			return cfg_fail(x, s, "chroot", "needs root; this runs as uid %u",
					(unsigned)geteuid());
		if (stat(c->chroot, &st) < 0 || !S_ISDIR(st.st_mode))
			return cfg_fail(x, s, "chroot", "\"%s\" is not a directory",
					c->chroot);
	}
	return 0;
}

/** @brief Client tunnels' credentials_file, once daemon.user is known
 *  (it may own the file). */
static int cfg_load_credentials(struct cfg_ctx *x, struct cfg *c, config_t *lc)
{
	char e[300], at[64];

	for (size_t i = 0; i < c->ntunnels; i++) {
		struct cfg_tunnel *t = &c->tunnels[i];
		const config_setting_t *s;

		if (!t->credentials_file)
			continue;
		if (cfg_read_credentials(t, c->user ? c->uid : geteuid(), e,
					 sizeof e) == 0)
			continue;
		snprintf(at, sizeof at, "tunnels.[%zu].credentials_file", i);
		s = config_lookup(lc, at);
		snprintf(x->where, sizeof x->where, "tunnel %s", t->name);
		return cfg_fail(x, s ? s : config_lookup(lc, "tunnels"),
				"credentials_file", "%s",
				strncmp(e, "credentials_file: ", 18) ? e : e + 18);
	}
	return 0;
}

/** @brief Warn when group or others have access to a file of secrets,
 *  once per file. A warning and not a refusal, unlike ssh: sites share
 *  keys with a group on purpose (Debian's ssl-cert, mode 0640), and a
 *  daemon that stops at a reload over a mode would take a tunnel down.
 *  Read access alone for a group is sharing on purpose, not a leak, and
 *  gets no warning when that group is the one the workers run as
 *  (user/group settings), or when root owns the file and the group is
 *  not root's (Debian's ssl-cert, this package's root:ssltunnel 0640;
 *  PostgreSQL accepts its key on the same terms). */
static int cfg_warn_mode(struct cfg *c, const struct cfg_tunnel *t,
			 const char *setting, const char *path,
			 const char *what)
{
	struct cfg_strlist *w = &c->warnings;
	char **v, *line, *seen;
	struct stat st;
	int dup = 0;

	if (!path || stat(path, &st) < 0 || !(st.st_mode & (S_IRWXG | S_IRWXO)))
		return 0;
	if (!(st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) &&
	    ((c->user && st.st_gid == c->gid) ||
	     (st.st_uid == 0 && st.st_gid != 0)))
		return 0;
	/* " PATH has mode ": /a/k.key is not /a/k.key2 */
	if (asprintf(&seen, " %s has mode ", path) < 0)
		return -1;
	for (size_t i = 0; i < w->n && !dup; i++)
		dup = strstr(w->v[i], seen) != NULL;
	free(seen);
	if (dup)
		return 0;
	if (asprintf(&line,
		     "tunnel %s: %s %s has mode %04o: group or others have access to %s (chmod 600 %s)",
		     t->name, setting, path, (unsigned)(st.st_mode & 07777),
		     what, path) < 0)
		return -1;
	v = realloc(w->v, (w->n + 1) * sizeof *v);
	if (!v) {
		free(line);
		return -1;
	}
	w->v = v;
	w->v[w->n++] = line;
	return 0;
}

/** @brief The files that hold secrets and are read as they are: TLS
 *  private keys, the proxy's password, password hashes. (credentials_file
 *  and the relay's keys are refused unless mode 0600: cfg_read_credentials,
 *  cfg_hc_read_key.) */
static int cfg_warn_modes(struct cfg *c)
{
	for (size_t i = 0; i < c->ntunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];

		if (cfg_warn_mode(c, t, "key_file", t->key_file,
				  "a private key") < 0 ||
		    cfg_warn_mode(c, t, "proxy_auth_file", t->proxy_auth_file,
				  "a password") < 0 ||
		    cfg_warn_mode(c, t, "password_file", t->password_file,
				  "password hashes") < 0)
			return -1;
	}
	return 0;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	struct cfg_ctx x = { .err = err, .errlen = errlen };
	config_t lc;
	char *abs = NULL, *dir = NULL;
	int rc = -1;

	err[0] = '\0';
	cfg_daemon_defaults(c);
	abs = realpath(path, NULL);
	if (!abs) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	{
		struct stat st;
		if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(EISDIR));
			free(abs);
			return -1;
		}
	}
	dir = cfg_dirname(abs);
	x.dir = dir;
	x.file = abs;
	config_init(&lc);
	config_set_include_dir(&lc, dir);
	if (!config_read_file(&lc, abs)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO && !config_error_file(&lc))
			snprintf(err, errlen, "%s: cannot read: %s", abs, strerror(errno));
		else	/* libconfig's text is "syntax error" or says more */
			snprintf(err, errlen, "%s:%d: %s%s",
				 config_error_file(&lc) ? config_error_file(&lc) : abs,
				 config_error_line(&lc),
				 strcmp(config_error_text(&lc), "syntax error") ?
				 "syntax error: " : "", config_error_text(&lc));
		goto out;
	}
	c->path = abs;
	abs = NULL;
	if (cfg_parse_root(&x, c, &lc) < 0) {
		if (!err[0])
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cfg_resolve_ids(&x, c, &lc) < 0)
		goto out;
	if (cfg_load_credentials(&x, c, &lc) < 0)
		goto out;
	if (cfg_warn_modes(c) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = n > 0 ? (n > 1024 ? 1024 : (int)n) : 1;
	}
	if (c->auth_parallel == 0) {
		/* Leave a CPU to the tunnels (bench/auth-flood). */
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->auth_parallel = n > 2 ? (n > 1024 ? 1023 : (int)n - 1) : 1;
	}
	rc = 0;
out:
	config_destroy(&lc);
	free(abs);
	free(dir);
	if (rc < 0)
		cfg_free(c);
	return rc;
}

const char *const *cfg_setting_names(void)
{
	static const char *names[96];
	static char buf[3072];
	size_t used = 0, n = 0;
	const struct {
		const char *prefix;
		const struct cfg_setting *table;
	} groups[] = {
		{ "daemon.", cfg_daemon_settings },
		{ "tunnels.", cfg_tunnel_settings },
		{ "tunnels.keepalive.", cfg_keepalive_settings },
	};

	if (names[0])
		return names;
	for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
		for (const struct cfg_setting *d = groups[g].table; d->name; d++) {
			int l = snprintf(buf + used, sizeof buf - used, "%s%s",
					 groups[g].prefix, d->name);
			names[n++] = buf + used;
			used += l + 1;
		}
	for (const char *const *m = (const char *const[]){ "path", "keys", NULL };
	     *m; m++) {
		int l = snprintf(buf + used, sizeof buf - used,
				 "tunnels.relay_paths.%s", *m);
		names[n++] = buf + used;
		used += l + 1;
	}
	for (const char *const *m = cfg_acl_members; *m; m++) {
		int l = snprintf(buf + used, sizeof buf - used, "tunnels.acl.%s", *m);
		names[n++] = buf + used;
		used += l + 1;
	}
	names[n] = NULL;
	return names;
}
