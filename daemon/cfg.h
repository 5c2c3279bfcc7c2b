/* cfg.h - the configuration: libconfig file, settings table, validation */
#ifndef SSLTUNNEL_CFG_H
#define SSLTUNNEL_CFG_H

#include <stddef.h>

#include "log.h"
#include "net.h"

#define CFG_EX_CONFIG 78	/* sysexits.h EX_CONFIG */
#define CFG_ERRLEN 512
#define CFG_DEFAULT_FILE SYSCONFDIR "/ssltunnel/ssltunnel.conf"

enum cfg_role { CFG_ROLE_CLIENT, CFG_ROLE_SERVER };
/* role = "relay" and "listener" as read, before cfg_hc maps them. */
#define CFG_ROLE_WORD_RELAY 2
#define CFG_ROLE_WORD_LISTENER 3
enum cfg_ktls { CFG_KTLS_AUTO, CFG_KTLS_ON, CFG_KTLS_OFF };
/* The workers' seccomp filter: AUTO (not set) where the kernel has it,
 * ON (true) or refuse to start, OFF (false). */
enum cfg_seccomp { CFG_SECCOMP_AUTO, CFG_SECCOMP_ON, CFG_SECCOMP_OFF };
/* What a tunnel's TLS stream carries: the raw byte stream (and HTTP
 * CONNECT with connect = "dynamic"), or WebSocket over HTTP/1.1. */
enum cfg_transport { CFG_TRANSPORT_TLS, CFG_TRANSPORT_WEBSOCKET,
		     CFG_TRANSPORT_RELAY };
/* Azure Relay Hybrid Connections (cfg_hc.c). role = "relay" is a server
 * tunnel that joins senders to listeners; role = "listener" is a client
 * tunnel whose connections the relay starts; a client tunnel with
 * transport = "relay" is a sender. Internally the two roles stay the TLS
 * server and client they are, and hc says which of these they play. */
enum cfg_hc { CFG_HC_NONE, CFG_HC_RELAY, CFG_HC_LISTENER, CFG_HC_SENDER };
#define CFG_HC_RIGHT_LISTEN 1u
#define CFG_HC_RIGHT_SEND 2u

/* relay_paths: a key that signs tokens for one path. */
struct cfg_hc_key {
	char *name;			/* the token's skn */
	char *key;			/* the key's text; never logged */
	size_t keylen;
	unsigned rights;		/* CFG_HC_RIGHT_* */
};

struct cfg_hc_path {
	char *path;			/* the entity path: "db", "a/b" */
	struct cfg_hc_key *keys;
	size_t nkeys;
};
/* How a server tunnel's clients prove who they are. */
enum cfg_client_auth { CFG_AUTH_CERTIFICATE, CFG_AUTH_PASSWORD, CFG_AUTH_BOTH };
/* The PROXY protocol on a tunnel, bits: read it from the load balancer
 * (server role), send it on the outgoing leg, or both. The values are
 * the words' indexes in the setting. */
enum cfg_proxy_proto { CFG_PP_OFF = 0, CFG_PP_ACCEPT = 1, CFG_PP_SEND = 2,
		       CFG_PP_BOTH = 3 };

#define CFG_DYNAMIC "dynamic"	/* connect = "dynamic": the client chooses */
#define CFG_WS_PATH "/tunnel"	/* the upgrade's path by default */

/* The AEAD ciphers the kernel can take over, and the TLS versions. */
#define CFG_CIPHER_AES128 1u
#define CFG_CIPHER_AES256 2u
#define CFG_CIPHER_CHACHA 4u
#define CFG_TLS12 1u
#define CFG_TLS13 2u

struct acl;
struct auth_db;
struct acl_rule;

struct cfg_strlist {
	char **v;
	size_t n;
};

struct cfg_tunnel {
	char *name;
	enum cfg_role role;
	char *listen;			/* as written, for logs */
	char *connect;
	struct net_endpoint listen_ep;
	struct net_endpoint connect_ep;
	char *cert_file, *key_file, *ca_file;	/* absolute paths */
	char *crl_file;			/* CRLs of ca_file's CAs, or NULL */
	char *server_name;		/* client role */
	struct cfg_strlist allow_cn, allow_dns, allow_uri, pin_sha256;
	unsigned char (*pins)[32];	/* pin_sha256 decoded */
	size_t npins;
	unsigned ciphers;		/* CFG_CIPHER_* bits */
	unsigned versions;		/* CFG_TLS1_* bits */
	int handshake_timeout;		/* seconds */
	int session_tickets;		/* issue (server) / offer (client) */
	int ticket_key_rotation;	/* seconds: ticket key period */
	int connect_timeout;		/* seconds */
	struct net_keepalive keepalive;	/* on the TLS leg */
	int verify_name;		/* client role: check server_name */
	enum cfg_transport transport;
	int dynamic;			/* server: connect = "dynamic" */
	char *path;			/* websocket: the upgrade's path */
	char *destination;		/* client: what it asks the server for */
	char *dest_host;		/* destination, split */
	unsigned dest_port;
	char *host_header;		/* client: Host of its request */
	char *http_proxy;		/* client: as written; never logged */
	char *proxy_auth_file;		/* client: "user:password" in a file */
	struct net_endpoint proxy_ep;	/* http_proxy's host and port */
	char *proxy_name;		/* "host:port" of http_proxy, for logs */
	char *proxy_auth;		/* "Basic BASE64" or NULL; never logged */
	int ws_ping_interval;		/* seconds; 0: no pings */
	int idle_timeout;		/* seconds without a byte; 0: none */
	int max_connections;		/* at once, all workers; 0: no cap */
	int max_per_source;		/* the same per source address */
	struct acl *acl;		/* dynamic: who may reach what */
	enum cfg_client_auth client_auth;	/* server */
	char *password_file;		/* server: user:HASH lines */
	struct auth_db *passwords;	/* password_file, loaded */
	int auth_cache_ttl;		/* seconds a login is remembered */
	char *credentials_file;		/* client: "user:password" */
	char *credentials;		/* "Basic BASE64" or NULL; never logged */
	char *cred_user;		/* its user, for logs */
	int accounting;			/* count per identity (CN, user) */
	int accounting_max_identities;	/* then the rest as "other" */
	enum cfg_proxy_proto proxy_protocol;
	struct cfg_strlist proxy_from;	/* CIDRs of the load balancers */
	struct acl_rule *proxy_nets;	/* proxy_from, parsed */
	size_t nproxy_nets;
	enum cfg_hc hc;			/* Hybrid Connections part, if any */
	struct cfg_hc_path *hc_paths;	/* relay: relay_paths */
	size_t nhc_paths;
	int hc_accept_timeout;		/* relay: seconds a sender waits */
	char *relay;			/* listener: "wss://HOST/$hc/PATH" */
	char *hc_host;			/* listener, sender: the relay's host */
	char *hc_path;			/* and the entity path ("db") */
	char *hc_backend;		/* listener: connect as written */
	struct net_endpoint hc_backend_ep;	/* and resolved */
	char *hc_key_name;		/* listener, sender: relay_key_name */
	char *hc_key_file;		/* relay_key_file */
	int hc_token_lifetime;		/* relay_token_lifetime: seconds */
	char *hc_key;			/* its text; never logged */
	size_t hc_keylen;
	int role_set;			/* internal: role seen while parsing */
	int line;			/* where the tunnel starts */
};

struct cfg {
	char *path;			/* the file read, absolute; NULL on the command line */
	int workers;			/* resolved: never 0 */
	int log_level;
	enum log_target log_target;
	char *log_file;			/* log_target is a path */
	char *pid_file;
	enum cfg_ktls ktls;
	enum cfg_seccomp seccomp;
	char *user, *group;		/* workers run as these */
	unsigned uid, gid;		/* resolved when user is set */
	char *chroot;			/* workers chroot here */
	int drain_timeout;		/* seconds connections may finish in */
	struct cfg_strlist dns_servers;	/* "ip:port"; none: /etc/resolv.conf */
	char *control_socket;		/* the master's Unix socket, or NULL */
	char *metrics_listen;		/* "host:port" of GET /metrics, or NULL */
	int auth_threads;		/* password verifiers per worker */
	int auth_parallel;		/* verifications at once, all workers;
					   resolved: never 0 */
	int auth_failures;		/* failed logins that lock a source out */
	int auth_failure_window;	/* seconds they are counted over */
	int auth_lockout_time;		/* seconds a source stays locked out */
	struct cfg_tunnel *tunnels;
	size_t ntunnels;
	struct cfg_strlist warnings;	/* said at load, not refused: files
					   of secrets others may read */
};

/** @brief Read and validate @path. Warnings (a key file that group or
 *  others may read) go to c->warnings for the caller to say. On failure @err holds
 *  "file:line: setting: what was expected" and -1 is returned. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);
/** @brief Check a tunnel that was filled in by code (the seed's command
 *  line): resolve addresses, fill defaults, decode pins. */
int cfg_tunnel_finish(struct cfg_tunnel *t, char *err, size_t errlen);
/** @brief Read a client tunnel's credentials_file: refused unless it is
 *  a regular file of mode 0600 or stricter, owned by root or @uid. */
int cfg_read_credentials(struct cfg_tunnel *t, unsigned uid, char *err,
			 size_t errlen);
/** @brief "user:password" as a Basic header value, in *@out. */
int cfg_basic_auth(const char *userpass, size_t len, char **out);
/** @brief Defaults for a tunnel before any setting is applied. */
void cfg_tunnel_defaults(struct cfg_tunnel *t);
/** @brief Defaults of the daemon group. */
void cfg_daemon_defaults(struct cfg *c);
void cfg_free(struct cfg *c);
void cfg_tunnel_free(struct cfg_tunnel *t);

/* cfg_hc.c */
struct cfg_ctx;
/** @brief role = "relay" / "listener" read: which TLS role they take. */
void cfg_hc_role(struct cfg_tunnel *t);
/** @brief The Hybrid Connections settings of a tunnel, checked and
 *  loaded (keys read); called from cfg_tunnel_finish. */
int cfg_hc_finish(struct cfg_tunnel *t, char *err, size_t errlen);
void cfg_hc_free(struct cfg_tunnel *t);
/** @brief "server", "client", "relay" or "listener", as configured. */
const char *cfg_role_name(const struct cfg_tunnel *t);

/** @brief Names of every setting the parser accepts ("daemon.workers",
 *  "tunnels.allow_cn", "tunnels.keepalive.idle" ...), NULL-terminated.
 *  Used by the man page check and `-t -v` output. */
const char *const *cfg_setting_names(void);

#endif
