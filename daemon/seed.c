/* seed.c - the node tool's command line (-r client|server --proxy_port ...)
 *
 * The original ssltunnel ran one tunnel from flags and trusted exactly the
 * peer certificate it was given (self-signed test certificates were the
 * norm), so the peer's *_pub_cert becomes the tunnel's ca_file and the
 * server's name is not checked: the pin already names the server.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed.h"

static int seed_need(const char *v, const char *flag, const char *role,
		     char *err, size_t errlen)
{
	if (v && *v)
		return 0;
	snprintf(err, errlen, "%s is required with -r %s", flag, role);
	return -1;
}

static char *seed_abs(const char *path)
{
	char *abs = realpath(path, NULL);

	return abs ? abs : strdup(path);
}

static int seed_port(const char *v, const char *flag, char *err, size_t errlen)
{
	char *end;
	long p = strtol(v, &end, 10);

	if (*end || p < 1 || p > 65535) {
		snprintf(err, errlen, "%s: expected a port from 1 to 65535, got \"%s\"",
			 flag, v);
		return -1;
	}
	return 0;
}

static int seed_level(const char *v)
{
	static const struct { const char *seed; int level; } map[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "log", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (strcmp(v, map[i].seed) == 0)
			return map[i].level;
	return log_level_parse(v);
}

int seed_to_cfg(const struct seed_opts *o, struct cfg *c, char *err,
		size_t errlen)
{
	struct cfg_tunnel *t;
	const char *host = o->server_host ? o->server_host : "localhost";
	int server;
	char e[300];

	cfg_daemon_defaults(c);
	c->log_target = LOG_TARGET_STDERR;
	c->workers = 1;
	if (!o->role || (strcmp(o->role, "server") && strcmp(o->role, "client"))) {
		snprintf(err, errlen, "-r: expected \"client\" or \"server\"%s%s%s",
			 o->role ? ", got \"" : "", o->role ? o->role : "",
			 o->role ? "\"" : "");
		return -1;
	}
	server = strcmp(o->role, "server") == 0;
	if (seed_need(o->proxy_port, "--proxy_port", o->role, err, errlen) < 0 ||
	    seed_need(o->server_port, "--server_port", o->role, err, errlen) < 0 ||
	    seed_need(o->srv_pub_cert, "--srv_pub_cert", o->role, err, errlen) < 0 ||
	    seed_need(o->clt_pub_cert, "--clt_pub_cert", o->role, err, errlen) < 0 ||
	    (server && seed_need(o->srv_prv_cert, "--srv_prv_cert", o->role, err, errlen) < 0) ||
	    (!server && seed_need(o->clt_prv_cert, "--clt_prv_cert", o->role, err, errlen) < 0) ||
	    seed_port(o->proxy_port, "--proxy_port", err, errlen) < 0 ||
	    seed_port(o->server_port, "--server_port", err, errlen) < 0)
		return -1;
	if (o->log_level && (c->log_level = seed_level(o->log_level)) < 0) {
		snprintf(err, errlen,
			 "--log_level: expected error, warn, info or log, got \"%s\"",
			 o->log_level);
		return -1;
	}
	if (!o->log_level)
		c->log_level = LOG_NOTICE;
	c->tunnels = calloc(1, sizeof *c->tunnels);
	if (!c->tunnels)
		goto oom;
	c->ntunnels = 1;
	t = &c->tunnels[0];
	cfg_tunnel_defaults(t);
	t->role = server ? CFG_ROLE_SERVER : CFG_ROLE_CLIENT;
	t->verify_name = 0;
	if (o->keep_alive) {
		char *end;
		long ms = strtol(o->keep_alive, &end, 10);
		if (*end || ms < 0 || ms > 86400000L) {
			snprintf(err, errlen,
				 "--keep_alive: expected milliseconds from 0 to 86400000, got \"%s\"",
				 o->keep_alive);
			return -1;
		}
		t->keepalive.idle = ms ? (int)((ms + 999) / 1000) : 0;
	}
	if (!(t->name = strdup(server ? "server" : "client")))
		goto oom;
	if (asprintf(&t->listen, "%s:%s", server ? "0.0.0.0" : "127.0.0.1",
		     o->proxy_port) < 0 || asprintf(&t->connect, "%s%s%s:%s",
		     strchr(host, ':') ? "[" : "", host,
		     strchr(host, ':') ? "]" : "", o->server_port) < 0)
		goto oom;
	t->cert_file = seed_abs(server ? o->srv_pub_cert : o->clt_pub_cert);
	t->key_file = seed_abs(server ? o->srv_prv_cert : o->clt_prv_cert);
	t->ca_file = seed_abs(server ? o->clt_pub_cert : o->srv_pub_cert);
	if (!t->cert_file || !t->key_file || !t->ca_file)
		goto oom;
	if (cfg_tunnel_finish(t, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s",
			 strncmp(e, "listen", 6) == 0 ? "--proxy_port" : "--server_host",
			 strchr(e, ':') ? strchr(e, ':') + 2 : e);
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

void seed_print_start(const struct seed_opts *o)
{
	const char *host = o->server_host ? o->server_host : "localhost";

	if (strcmp(o->role, "server") == 0)
		printf("Running 'server' role. Listening on %s, decrypting and forwarding to real server machine on %s:%s\n",
		       o->proxy_port, host, o->server_port);
	else
		printf("Running 'client' role. Listening on %s, encrypting and forwarding to ssltunnel's server on %s:%s\n",
		       o->proxy_port, host, o->server_port);
	fflush(stdout);
}

void seed_print_listening(const struct cfg *c)
{
	const struct cfg_tunnel *t = &c->tunnels[0];

	printf("ssltunnel's %s is listening on port: %s\n",
	       t->role == CFG_ROLE_SERVER ? "server" : "client",
	       t->listen_ep.port);
	fflush(stdout);
}
