/* proto_auth.c - the login a server tunnel's request may need
 *
 * client_auth = "password" or "both": GET /auth, a WebSocket upgrade and
 * a CONNECT carry Basic credentials. A source locked out by failed
 * logins is refused at once (429, or a close for CONNECT); a login this
 * worker remembers goes on at once; the rest are verified on the auth
 * threads (auth_pool.c), never on the loop, while the connection waits
 * in CONN_AUTHENTICATING. Unknown user and wrong password look the same
 * from outside: same answer, same work.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "proto_int.h"
#include "worker.h"

/** @brief Does the request need a login, and for what? GET /auth checks
 *  credentials (the original's endpoint), an upgrade on the tunnel path
 *  or a CONNECT opens a tunnel; anything else is answered without one. */
static enum proto_login proto_login_kind(const struct conn *c,
					 const struct http_request *r)
{
	const struct cfg_tunnel *t = c->t->cfg;
	const char *path, *query;
	size_t pathlen, querylen;
	int get = r->methodlen == 3 && memcmp(r->method, "GET", 3) == 0;

	if (t->hc == CFG_HC_RELAY)
		return LOGIN_NONE;	/* tokens, checked by relay.c */

	if (r->methodlen == 7 && memcmp(r->method, "CONNECT", 7) == 0)
		return t->transport == CFG_TRANSPORT_WEBSOCKET ? LOGIN_NONE :
			LOGIN_CONNECT;
	if (!get || http_split_target(r->target, r->targetlen, &path, &pathlen,
				      &query, &querylen) < 0)
		return LOGIN_NONE;
	if (t->transport == CFG_TRANSPORT_WEBSOCKET &&
	    pathlen == strlen(t->path) && memcmp(path, t->path, pathlen) == 0 &&
	    http_find_header(&r->headers, "Upgrade"))
		return LOGIN_WS;
	if (pathlen == 5 && memcmp(path, "/auth", 5) == 0)
		return LOGIN_CHECK;
	return LOGIN_NONE;
}

/** @brief GET /auth with good credentials (or a certificate that
 *  already proved them): 204, and close. */
static void proto_answer_check(struct conn *c)
{
	struct proto *p = c->pr;
	int n = http_format_response(p->out, sizeof p->out, 204, NULL, NULL);

	log_info("tunnel %s: %s: %s: GET /auth: answered 204", c->t->cfg->name,
		 c->peer, conn_who(c));
	if (n < 0) {
		conn_close(c, 1);
		return;
	}
	p->outlen = n;
	proto_send(c, PROTO_THEN_CLOSE);
}

/** @brief The login is good: say who it is from now on, then go on. */
static void proto_login_ok(struct conn *c)
{
	struct proto *p = c->pr;
	struct acl_who who = proto_who(c);
	char desc[sizeof c->check->who];	/* as long as a certificate's */

	acl_describe_who(&who, desc, sizeof desc);
	if (conn_set_who(c, desc) < 0) {
		conn_reject(c, LOG_ERR, "out of memory");
		return;
	}
	log_info("tunnel %s: %s: %s authorized", c->t->cfg->name, c->peer,
		 desc);
	if (p->login == LOGIN_CHECK)
		proto_answer_check(c);
	else
		proto_dispatch(c);
}

/** @brief Answer a request without a good login: 401 for GET /auth, 403
 *  for an upgrade, 407 for CONNECT. The same answer whether the user is
 *  unknown or the password wrong. @counted: a failed attempt, which
 *  counts toward the source's lockout. */
static void proto_login_refused(struct conn *c, int counted, const char *why)
{
	struct proto *p = c->pr;
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer_ss;
	char src[NET_ADDRSTRLEN];

	proto_host_str(sa, src, sizeof src);
	if (counted) {
		log_notice("tunnel %s: %s: user=%s: login failed: %s",
			   c->t->cfg->name, c->peer, p->user, why);
		c->t->stats->auth_failed++;
		if (c->w->lockout &&
		    auth_lockout_fail(c->w->lockout, sa, timer_now_ms())) {
			c->t->stats->auth_lockouts++;
			log_notice("tunnel %s: source %s locked out for %d s after %d failed logins within %d s",
				   c->t->cfg->name, src, c->w->auth_lock_s,
				   c->w->auth_failures, c->w->auth_window_s);
		}
	} else {
		log_info("tunnel %s: %s: %s", c->t->cfg->name, c->peer, why);
	}
	p->user[0] = '\0';
	c->t->stats->rejected++;
	if (p->login == LOGIN_CONNECT)
		proto_fail(c, LOG_DEBUG, 407,
			   "Proxy-Authenticate: " PROTO_REALM "\r\n",
			   "login required: valid Proxy-Authorization credentials");
	else if (p->login == LOGIN_CHECK)
		proto_fail(c, LOG_DEBUG, 401, "WWW-Authenticate: " PROTO_REALM "\r\n",
			   "invalid credentials");
	else
		proto_fail(c, LOG_DEBUG, 403, NULL,
			   "login required: valid Authorization credentials");
}

/** @brief The verifier's answer, back on the loop. */
static void proto_verified(void *arg, int ok)
{
	struct conn *c = arg;
	struct proto *p = c->pr;

	p->job = NULL;
	c->st = CONN_REQUEST;
	if (ok)
		auth_cache_put(c->t->auth_cache, p->user, p->pass, timer_now_ms());
	explicit_bzero(p->pass, sizeof p->pass);
	if (ok)
		proto_login_ok(c);
	else
		proto_login_refused(c, 1, "wrong password or unknown user");
}

/** @brief A request that needs a login: a locked-out source is refused
 *  at once, remembered logins go on at once, the rest are verified off
 *  the loop. */
void proto_login(struct conn *c)
{
	struct proto *p = c->pr;
	const struct cfg_tunnel *t = c->t->cfg;
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer_ss;
	const struct http_header *h;
	uint64_t now = timer_now_ms(), left;

	p->login = proto_login_kind(c, &p->req);
	if (p->login == LOGIN_NONE || t->client_auth == CFG_AUTH_CERTIFICATE) {
		if (p->login == LOGIN_CHECK)
			proto_answer_check(c);
		else
			proto_dispatch(c);
		return;
	}
	left = c->w->lockout ? auth_lockout_check(c->w->lockout, sa, now) : 0;
	if (left) {
		char extra[64];
		c->t->stats->rejected++;
		c->t->stats->auth_locked++;
		if (p->login == LOGIN_CONNECT) {
			conn_reject(c, LOG_DEBUG,
				    "source locked out after failed logins: closed");
			return;
		}
		snprintf(extra, sizeof extra, "Retry-After: %llu\r\n",
			 (unsigned long long)(left + 999) / 1000);
		proto_fail(c, LOG_DEBUG, 429, extra,
			   "too many failed logins from this address; try again later");
		return;
	}
	h = http_find_header(&p->req.headers, p->login == LOGIN_CONNECT ?
			     "Proxy-Authorization" : "Authorization");
	if (!h) {
		proto_login_refused(c, 0, "no credentials: login required");
		return;
	}
	if (auth_parse_basic(h->value, h->valuelen, p->user, sizeof p->user,
			     p->pass, sizeof p->pass) < 0) {
		snprintf(p->user, sizeof p->user, "(unreadable)");
		proto_login_refused(c, 1, "credentials are not HTTP Basic user:password");
		return;
	}
	if (auth_cache_hit(c->t->auth_cache, p->user, p->pass, now)) {
		explicit_bzero(p->pass, sizeof p->pass);
		proto_login_ok(c);
		return;
	}
	if (!c->w->auth ||
	    !(p->job = auth_submit(c->w->auth, t->passwords, p->user, p->pass,
				   proto_verified, c))) {
		explicit_bzero(p->pass, sizeof p->pass);
		p->user[0] = '\0';
		proto_fail(c, LOG_WARNING, 503, "Retry-After: 1\r\n",
			   "too many logins being checked; try again");
		return;
	}
	c->st = CONN_AUTHENTICATING;
}

