/* auth.h - password logins: the password file, verification off the
 * epoll loop, a cache of successful logins, and a lockout of sources that
 * keep failing.
 *
 *   auth_db       user:HASH lines in crypt(3) formats (yescrypt, bcrypt,
 *                 sha512crypt, sha256crypt); weak or unsalted entries are
 *                 refused at load, with how to convert them
 *   auth_pool     a few threads per worker that run crypt(3), so a slow
 *                 hash never stalls the loop; results come back through
 *                 an eventfd on the worker's epoll
 *   auth_cache    per process: successful (user, password) pairs for a
 *                 while, keyed by HMAC-SHA256 under a random key; never
 *                 the password itself
 *   auth_lockout  shared by a generation's workers (MAP_SHARED memory):
 *                 failures per source address; too many in a window lock
 *                 the source out for a while
 */
#ifndef SSLTUNNEL_AUTH_H
#define SSLTUNNEL_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define AUTH_USER_MAX 64	/* bytes of a user name */
#define AUTH_PASS_MAX 256	/* bytes of a password */
#define AUTH_HASH_MAX 256	/* bytes of a crypt(3) hash string */

/* Lockout defaults (daemon settings may change them). */
#define AUTH_LOCK_FAILURES 5
#define AUTH_LOCK_WINDOW_S 60
#define AUTH_LOCK_TIME_S 60

struct auth_db;
struct auth_pool;
struct auth_job;
struct auth_cache;
struct auth_lockout;
struct auth_gate;

/* ---- the password file ---- */

/** @brief Read @path: "user:HASH" lines; blank lines and lines starting
 *  with '#' are skipped. Refused, with "PATH:LINE: user NAME: why; how to
 *  convert" in @err: a plaintext password, an unsalted hex digest (MD5,
 *  SHA-1, SHA-256 as the original users.txt), DES crypt, $1$ / $apr1$
 *  (MD5), {SHA}, an unknown scheme, a duplicate or malformed user name,
 *  an empty file. Also makes the dummy hash an unknown user is checked
 *  against. */
int auth_db_load(struct auth_db **out, const char *path, char *err,
		 size_t errlen);
void auth_db_free(struct auth_db *db);
size_t auth_db_count(const struct auth_db *db);
/** @brief Does @pass belong to @user? Runs crypt(3): slow on purpose,
 *  never call it on the epoll loop. An unknown user costs the same as a
 *  wrong password (checked against the dummy hash); the comparison is
 *  constant-time. 1 yes, 0 no. Thread-safe (the db is read-only). */
int auth_db_verify(const struct auth_db *db, const char *user,
		   const char *pass);

/** @brief One line of the password file (@len bytes, without its '\n';
 *  at most AUTH_LINE_MAX): 1 a user, @user (AUTH_USER_MAX bytes) and
 *  @hash (AUTH_HASH_MAX) filled; 0 a blank or comment line; -1 refused,
 *  @why says why and how to convert (never with password or hash text).
 *  auth_db_load's parser, public for the fuzz target and tests. */
#define AUTH_LINE_MAX 1024
int auth_db_parse_line(const char *line, size_t len, char *user, char *hash,
		       char *why, size_t whylen);

/** @brief A yescrypt hash line for @pass ("$y$..."), in @out; -1 with
 *  @err. For `ssltunneld --hash-password`. */
int auth_hash_password(const char *pass, char *out, size_t outlen,
		       char *err, size_t errlen);

/** @brief Credentials from a header value "Basic BASE64(user:password)"
 *  (scheme case-insensitive, spaces around allowed). 0 and @user/@pass
 *  filled (NUL-terminated), or -1: not Basic, bad base64, no ':', a
 *  user or password too long, or a NUL or control byte in either. */
int auth_parse_basic(const char *value, size_t len, char *user,
		     size_t userlen, char *pass, size_t passlen);

/* ---- verification off the loop (one pool per worker process) ---- */

/** @brief Start @nthreads threads verifying passwords; at most
 *  @max_queue jobs wait. The threads run at a
 *  lower priority (nice +10) than the loop. Call it in the worker, after
 *  fork and after privileges are dropped. */
int auth_pool_new(struct auth_pool **out, int nthreads, int max_queue,
		  char *err, size_t errlen);
/** @brief Verifications of @p wait for a slot of @g (shared by the
 *  generation's workers) before they run; NULL: no cap. */
void auth_pool_set_gate(struct auth_pool *p, struct auth_gate *g);
/** @brief An eventfd, readable when finished jobs wait for
 *  auth_pool_event(). */
int auth_pool_fd(const struct auth_pool *p);
/** @brief Queue a verification against @db (which must outlive the
 *  job: the tunnel's password file); @done(@arg, ok) runs later, from
 *  auth_pool_event() on the loop's thread. The pool copies @user and
 *  @pass (and wipes its copy once verified). NULL: the queue is full
 *  (errno EAGAIN) or out of memory (ENOMEM). */
struct auth_job *auth_submit(struct auth_pool *p, const struct auth_db *db,
			     const char *user, const char *pass,
			     void (*done)(void *arg, int ok), void *arg);
/** @brief The asker went away: @done will not be called for @j. */
void auth_cancel(struct auth_job *j);
/** @brief On the loop: read the eventfd, run @done of finished jobs. */
void auth_pool_event(struct auth_pool *p);
/** @brief Stop the threads (waits for the job each one is running). */
void auth_pool_free(struct auth_pool *p);

/* ---- successful logins remembered (one cache per process) ---- */

/** @brief A cache of at most @max entries, each valid @ttl_s seconds
 *  (0: no cache: every lookup misses). Its HMAC key is random, made now. */
int auth_cache_new(struct auth_cache **out, size_t max, int ttl_s);
/** @brief Was (@user, @pass) verified less than ttl ago? 1 yes, 0 no. */
int auth_cache_hit(struct auth_cache *c, const char *user, const char *pass,
		   uint64_t now_ms);
/** @brief Remember a successful verification (the oldest entry goes when
 *  full). */
void auth_cache_put(struct auth_cache *c, const char *user, const char *pass,
		    uint64_t now_ms);
void auth_cache_free(struct auth_cache *c);

/* ---- at most N verifications at once, all workers (auth_gate.c) ---- */

/** @brief Bytes for a gate of @n slots. */
size_t auth_gate_size(int n);
/** @brief Make a gate of @n slots in @mem (MAP_SHARED memory made before
 *  the workers fork); NULL if @size is too small or n < 1. */
struct auth_gate *auth_gate_init(void *mem, size_t size, int n);
/** @brief Wait for a slot: its number, or -1 (then go on without). */
int auth_gate_enter(struct auth_gate *g);
void auth_gate_leave(struct auth_gate *g, int slot);

/* ---- lockout of failing sources (shared memory, all workers) ---- */

/** @brief Bytes for a table of @nslots source addresses. */
size_t auth_lockout_size(size_t nslots);
/** @brief Make a table in @mem (@size bytes from auth_lockout_size, e.g.
 *  MAP_SHARED | MAP_ANONYMOUS memory made before the workers fork):
 *  @failures failures within @window_s seconds lock a source out for
 *  @lock_s seconds. IPv4 sources count per address, IPv6 per /64. */
struct auth_lockout *auth_lockout_init(void *mem, size_t size, int failures,
				       int window_s, int lock_s);
/** @brief Is @src locked out at @now_ms? Milliseconds left, or 0. */
uint64_t auth_lockout_check(struct auth_lockout *l, const struct sockaddr *src,
			    uint64_t now_ms);
/** @brief Count a failure of @src; returns 1 when this very failure
 *  locked it out (so the caller logs the lockout once), else 0. */
int auth_lockout_fail(struct auth_lockout *l, const struct sockaddr *src,
		      uint64_t now_ms);

#endif
