/* cfg_tunnel.c - a tunnel's settings completed once they are all read:
 * addresses resolved at load (so workers never block on them), the
 * destination a client tunnel asks for, the HTTP proxy and its
 * credentials, the rules that tie settings together (connect = "dynamic"
 * and acl, path and transport). Used by the file parser and by the node
 * ssltunnel command line alike. Errors are "setting: what is wrong".
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "auth.h"
#include "cfg.h"

/* "user:password" as the value of a Basic Authorization header
 * ("Basic dXNlcjpwYXNzd29yZA=="), in *@out. */
int cfg_basic_auth(const char *userpass, size_t len, char **out)
{
	gnutls_datum_t in = { (unsigned char *)userpass, (unsigned)len }, b64;

	if (gnutls_base64_encode2(&in, &b64) < 0)
		return -1;
	if (asprintf(out, "Basic %.*s", (int)b64.size, (char *)b64.data) < 0)
		*out = NULL;
	explicit_bzero(b64.data, b64.size);
	gnutls_free(b64.data);
	return *out ? 0 : -1;
}

/** @brief The first line of proxy_auth_file, "user:password". */
static int cfg_read_proxy_auth(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char line[512];
	FILE *f = fopen(t->proxy_auth_file, "r");
	size_t n;
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "proxy_auth_file: cannot read %s: %s",
			 t->proxy_auth_file, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	if (n == 0 || !memchr(line, ':', n))
		snprintf(err, errlen,
			 "proxy_auth_file: %s: expected one line \"user:password\"",
			 t->proxy_auth_file);
	else if (cfg_basic_auth(line, n, &t->proxy_auth) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = 0;
	explicit_bzero(line, sizeof line);
	return rc;
}

/** @brief http_proxy = "http://[user:password@]host:port": the proxy's
 *  address, resolved now like connect's, and its Basic credentials. */
static int cfg_parse_proxy(struct cfg_tunnel *t, char *err, size_t errlen)
{
	const char *v = t->http_proxy, *hp, *at;
	char e[256];

	if (strncmp(v, "http://", 7) != 0) {
		snprintf(err, errlen,
			 "http_proxy: expected \"http://[user:password@]host:port\", got a value not starting with http://");
		return -1;
	}
	hp = v + 7;
	at = strrchr(hp, '@');
	if (at && t->proxy_auth_file) {
		snprintf(err, errlen,
			 "http_proxy: has a user and password, and proxy_auth_file is set too: keep one");
		return -1;
	}
	if (at && (!memchr(hp, ':', at - hp) ||
		   cfg_basic_auth(hp, at - hp, &t->proxy_auth) < 0)) {
		snprintf(err, errlen,
			 "http_proxy: expected \"user:password@\" before the host");
		return -1;
	}
	hp = at ? at + 1 : hp;
	if (hp[strcspn(hp, "/")]) {
		snprintf(err, errlen, "http_proxy: expected no path after host:port");
		return -1;
	}
	if (net_endpoint_parse(&t->proxy_ep, hp, 0, e, sizeof e) < 0) {
		snprintf(err, errlen, "http_proxy: %s", e);
		return -1;
	}
	if (!(t->proxy_name = strdup(hp))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t->proxy_auth_file)
		return cfg_read_proxy_auth(t, err, errlen);
	return 0;
}

int cfg_read_credentials(struct cfg_tunnel *t, unsigned uid, char *err,
			 size_t errlen)
{
	char line[AUTH_USER_MAX + AUTH_PASS_MAX + 8];
	const char *path = t->credentials_file;
	struct stat st;
	FILE *f = fopen(path, "re");
	size_t n;
	char *colon;
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "credentials_file: cannot read %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "credentials_file: %s is not a regular file",
			 path);
		fclose(f);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "credentials_file: %s has mode %04o: it holds a password, so group and others must have no access (chmod 600 %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
		fclose(f);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != uid) {
		snprintf(err, errlen,
			 "credentials_file: %s is owned by uid %u: expected root or the daemon's user (uid %u)",
			 path, (unsigned)st.st_uid, uid);
		fclose(f);
		return -1;
	}
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	colon = strchr(line, ':');
	if (!colon || colon == line || !colon[1] ||
	    (size_t)(colon - line) >= AUTH_USER_MAX ||
	    strlen(colon + 1) >= AUTH_PASS_MAX) {
		snprintf(err, errlen,
			 "credentials_file: %s: expected one line \"user:password\"",
			 path);
	} else {
		free(t->cred_user);
		free(t->credentials);
		t->credentials = NULL;
		if (!(t->cred_user = strndup(line, colon - line)) ||
		    cfg_basic_auth(line, n, &t->credentials) < 0)
			snprintf(err, errlen, "out of memory");
		else
			rc = 0;
	}
	explicit_bzero(line, sizeof line);
	return rc;
}

/** @brief Does a server tunnel read an HTTP request (where passwords
 *  come)? The same rule as proto_needed. */
static int cfg_reads_request(const struct cfg_tunnel *t)
{
	return t->dynamic || t->transport == CFG_TRANSPORT_WEBSOCKET;
}

/** @brief client_auth and password_file of a server tunnel. */
static int cfg_passwords(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char e[512];

	if (t->client_auth == CFG_AUTH_CERTIFICATE) {
		if (t->password_file) {
			snprintf(err, errlen,
				 "password_file: only with client_auth = \"password\" or \"both\"");
			return -1;
		}
		return 0;
	}
	if (!t->password_file) {
		snprintf(err, errlen,
			 "client_auth: \"%s\" needs password_file (user:HASH lines; make a hash with ssltunneld --hash-password)",
			 t->client_auth == CFG_AUTH_BOTH ? "both" : "password");
		return -1;
	}
	if (!cfg_reads_request(t)) {
		snprintf(err, errlen,
			 "client_auth: passwords come in HTTP requests: needs transport = \"websocket\" or connect = \"dynamic\"");
		return -1;
	}
	if (auth_db_load(&t->passwords, t->password_file, e, sizeof e) < 0) {
		snprintf(err, errlen, "password_file: %s", e);
		return -1;
	}
	return 0;
}

/** @brief proxy_protocol and proxy_from: the load balancers' networks
 *  parsed ("10.0.0.0/8", "fd00::/8", "192.0.2.7"). */
static int cfg_proxy_protocol(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char rule[160], e[300];

	if ((t->proxy_protocol & CFG_PP_ACCEPT) && t->role != CFG_ROLE_SERVER) {
		snprintf(err, errlen,
			 "proxy_protocol: \"accept\" is for role \"server\" (a client tunnel may \"send\")");
		return -1;
	}
	if ((t->proxy_protocol & CFG_PP_ACCEPT) && !t->proxy_from.n) {
		snprintf(err, errlen,
			 "proxy_protocol: \"accept\" needs proxy_from = [ \"CIDR\", ... ]: the load balancers whose PROXY headers are believed");
		return -1;
	}
	if (t->proxy_from.n && !(t->proxy_protocol & CFG_PP_ACCEPT)) {
		snprintf(err, errlen, "proxy_from: only with proxy_protocol = \"accept\" or \"both\"");
		return -1;
	}
	if (!t->proxy_from.n)
		return 0;
	t->proxy_nets = calloc(t->proxy_from.n, sizeof *t->proxy_nets);
	if (!t->proxy_nets) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < t->proxy_from.n; i++) {
		const char *v = t->proxy_from.v[i];
		snprintf(rule, sizeof rule, strchr(v, ':') ? "[%s]:*" : "%s:*", v);
		if (strspn(v, "0123456789abcdefABCDEF.:/") != strlen(v) ||
		    acl_rule_parse(rule, &t->proxy_nets[i], e, sizeof e) < 0 ||
		    t->proxy_nets[i].kind != ACL_RULE_NET) {
			if (t->proxy_nets[i].text)
				acl_rule_free(&t->proxy_nets[i]);
			snprintf(err, errlen,
				 "proxy_from: \"%s\": expected an address or network (\"10.0.0.0/8\", \"fd00::/8\")",
				 v);
			return -1;
		}
		t->nproxy_nets++;
	}
	return 0;
}

/** @brief destination = "host:port": what a client tunnel asks for (the
 *  port is checked by net_split_hostport). */
static int cfg_parse_destination(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char e[256], *port = NULL;

	if (net_split_hostport(t->destination, &t->dest_host, &port, e,
			       sizeof e) < 0) {
		snprintf(err, errlen, "destination: %s", e);
		return -1;
	}
	t->dest_port = (unsigned)strtoul(port, NULL, 10);
	free(port);
	return 0;
}

/** @brief The rest of cfg_tunnel_finish for the Hybrid Connections
 *  roles, whose connect is a URL (sender), a backend (listener) or
 *  absent (relay). */
static int cfg_tunnel_finish_hc(struct cfg_tunnel *t, char *err, size_t errlen)
{
	if (t->dynamic && t->hc != CFG_HC_LISTENER) {
		snprintf(err, errlen,
			 "connect: \"dynamic\" is for role \"server\" or \"listener\"");
		return -1;
	}
	if (t->dynamic && !t->acl) {
		snprintf(err, errlen,
			 "connect: \"dynamic\" needs an acl: nothing is reachable until an acl entry allows it");
		return -1;
	}
	if (t->acl && !t->dynamic) {
		snprintf(err, errlen, "acl: only for connect = \"dynamic\"");
		return -1;
	}
	if (t->http_proxy || t->proxy_auth_file || t->credentials_file ||
	    t->password_file || t->proxy_protocol) {
		snprintf(err, errlen, "%s: not for Hybrid Connections (yet)",
			 t->http_proxy ? "http_proxy" :
			 t->proxy_auth_file ? "proxy_auth_file" :
			 t->credentials_file ? "credentials_file" :
			 t->password_file ? "password_file" : "proxy_protocol");
		return -1;
	}
	if (t->destination && cfg_parse_destination(t, err, errlen) < 0)
		return -1;
	return cfg_hc_finish(t, err, errlen);
}

/** @brief max_connections and max_connections_per_source agree with
 *  each other and with where a connection's source is known. */
static int cfg_limits(const struct cfg_tunnel *t, char *err, size_t errlen)
{
	if (t->max_per_source && (t->proxy_protocol & CFG_PP_ACCEPT)) {
		snprintf(err, errlen,
			 "max_connections_per_source: not with proxy_protocol = \"accept\": connections are counted as they are accepted, when their source is still the load balancer");
		return -1;
	}
	if (t->max_per_source && t->max_connections &&
	    t->max_per_source > t->max_connections) {
		snprintf(err, errlen,
			 "max_connections_per_source: %d is more than max_connections (%d): one source could never reach it",
			 t->max_per_source, t->max_connections);
		return -1;
	}
	return 0;
}

int cfg_tunnel_finish(struct cfg_tunnel *t, char *err, size_t errlen)
{
	char e[256];

	/* No listen: the console's tunnel, a template its tunnels copy. */
	if (t->listen &&
	    net_endpoint_parse(&t->listen_ep, t->listen, 1, e, sizeof e) < 0) {
		snprintf(err, errlen, "listen: %s", e);
		return -1;
	}
	t->dynamic = t->connect && strcmp(t->connect, CFG_DYNAMIC) == 0;
	if (cfg_limits(t, err, errlen) < 0)
		return -1;
	if (t->transport == CFG_TRANSPORT_RELAY || t->hc != CFG_HC_NONE)
		return cfg_tunnel_finish_hc(t, err, errlen);
	/* the Hybrid Connections settings on a tunnel of neither kind */
	if (cfg_hc_finish(t, err, errlen) < 0)
		return -1;
	if (t->dynamic && t->role != CFG_ROLE_SERVER) {
		snprintf(err, errlen,
			 "connect: \"dynamic\" is for role \"server\"; a client tunnel names what it asks for with destination = \"host:port\"");
		return -1;
	}
	if (!t->dynamic &&
	    net_endpoint_parse(&t->connect_ep, t->connect, 0, e, sizeof e) < 0) {
		snprintf(err, errlen, "connect: %s", e);
		return -1;
	}
	if (t->dynamic && !t->acl) {
		snprintf(err, errlen,
			 "connect: \"dynamic\" needs an acl: nothing is reachable until an acl entry allows it");
		return -1;
	}
	if (t->acl && !t->dynamic) {
		snprintf(err, errlen,
			 "acl: only for connect = \"dynamic\"; this tunnel always connects to %s",
			 t->connect);
		return -1;
	}
	if (t->path && t->transport != CFG_TRANSPORT_WEBSOCKET) {
		snprintf(err, errlen, "path: only for transport = \"websocket\"");
		return -1;
	}
	if (t->transport == CFG_TRANSPORT_WEBSOCKET && !t->path &&
	    !(t->path = strdup(CFG_WS_PATH))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t->destination && cfg_parse_destination(t, err, errlen) < 0)
		return -1;
	if (t->proxy_auth_file && !t->http_proxy) {
		snprintf(err, errlen, "proxy_auth_file: needs http_proxy too");
		return -1;
	}
	if (t->http_proxy && cfg_parse_proxy(t, err, errlen) < 0)
		return -1;
	if (t->role == CFG_ROLE_SERVER && cfg_passwords(t, err, errlen) < 0)
		return -1;
	if (cfg_proxy_protocol(t, err, errlen) < 0)
		return -1;
	if (t->credentials_file && !t->destination &&
	    t->transport != CFG_TRANSPORT_WEBSOCKET) {
		snprintf(err, errlen,
			 "credentials_file: passwords go in HTTP requests: needs transport = \"websocket\" or destination");
		return -1;
	}
	if (t->role == CFG_ROLE_CLIENT && !t->server_name &&
	    !(t->server_name = strdup(t->connect_ep.host))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

