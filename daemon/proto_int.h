/* proto_int.h - what the server's protocol step shares between proto.c
 * (the request, the destination, the answer) and proto_auth.c (the login
 * a request may need). Internal to those two. */
#ifndef SSLTUNNEL_PROTO_INT_H
#define SSLTUNNEL_PROTO_INT_H

#include <stddef.h>
#include <sys/socket.h>

#include "acl.h"
#include "auth.h"
#include "http.h"
#include "net.h"
#include "tls.h"

struct conn;
struct resolve_req;

/* The request head and what may come behind it in the same reads. */
#define PROTO_IN (HTTP_MAX_HEAD + 8192)
#define PROTO_OUT 2048

/* What a request needs a login for (on a tunnel taking passwords). */
enum proto_login { LOGIN_NONE, LOGIN_CHECK, LOGIN_WS, LOGIN_CONNECT };

#define PROTO_REALM "Basic realm=\"ssltunnel\""

/* What follows once the answer is out. */
enum proto_then { PROTO_THEN_CLOSE, PROTO_THEN_CONNECT, PROTO_THEN_RELAY };

struct proto {
	char in[PROTO_IN];
	size_t inlen;
	size_t head;			/* the request head's length, once read */
	struct http_request req;	/* the request, pointing into in */
	enum proto_login login;		/* what it logs in for */
	char user[AUTH_USER_MAX];	/* who logged in, or is being checked */
	char pass[AUTH_PASS_MAX];	/* while being checked; wiped after */
	struct auth_job *job;		/* the check, off the loop */
	int ws;				/* the request is a WebSocket upgrade */
	char accept[HTTP_WS_ACCEPT_LEN + 1];	/* its Sec-WebSocket-Accept */
	struct tls_identity id;		/* the peer's, for the acl */
	int have_id;			/* id read from the session */
	char host[HTTP_HOST_MAX];	/* the destination asked for */
	unsigned port;
	char dest[HTTP_HOST_MAX + 16];	/* "host:port", for logs */
	struct net_addr addrs[NET_MAX_ADDRS];	/* allowed addresses */
	int naddrs;
	struct resolve_req *q;
	char out[PROTO_OUT];		/* the answer being sent */
	size_t outlen, outoff;
	enum proto_then then;
};

/** @brief Send what is in the out buffer, then do what @then says. */
void proto_send(struct conn *c, enum proto_then then);
/** @brief Answer with an HTTP error and close; @why goes in the body and,
 *  at @level, in the log. */
void proto_fail(struct conn *c, int level, int status, const char *extra,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** @brief An address without its port, for logs. */
void proto_host_str(const struct sockaddr *sa, char *as, size_t len);
/** @brief The destination a WebSocket URL's query names: "host" (an IP
 *  literal or name; 127.0.0.1 if absent) and "port" (required). 0, or
 *  -1 with @err ("query port: missing"). */
int proto_query_dest(const char *query, size_t querylen, char *host,
		     size_t hostlen, unsigned *port, char *err, size_t errlen);
struct http_request;
/** @brief Check a WebSocket upgrade request and compute its
 *  Sec-WebSocket-Accept into c->pr->accept; -1 when refused (answered:
 *  400/426, or closed). */
int proto_ws_upgrade(struct conn *c, const struct http_request *r);
/** @brief Who asks, for the acl: the certificate's identity and the
 *  user logged in. */
struct acl_who proto_who(struct conn *c);
/** @brief The request, once any login it needs is done. */
void proto_dispatch(struct conn *c);

/* proto_auth.c */

/** @brief The request head is in (p->req): log in if it needs it (GET
 *  /auth, an upgrade, a CONNECT on a tunnel taking passwords), then
 *  proto_dispatch(); or answer 401/403/407/429 and close. */
void proto_login(struct conn *c);

#endif
