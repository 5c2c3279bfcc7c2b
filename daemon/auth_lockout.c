/* auth_lockout.c - the lockout table: failures per source address, shared
 * by a generation's workers; too many in a window lock the source out
 *
 * Lives in memory shared by forked processes: fixed size, no pointers, a
 * process-shared robust mutex (a worker killed while holding it leaves a
 * slot at worst half-updated: counters, which the next failure mends).
 * If the mutex is beyond repair, nothing is locked out: the lockout slows
 * guessing down, it is not what keeps a wrong password out.
 *
 * Failures while a source is locked neither extend the lock nor report
 * it again: the lock ends lock_s after the failure that set it, so a
 * client can't be kept out forever by someone sharing its /64, and the
 * log gets one line per lockout. The failure count starts from zero
 * once the lock has ended.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"

struct auth_lock_key {
	uint8_t family;		/* 4 or 6; 0: a free slot */
	uint8_t addr[8];	/* the IPv4 address, or the IPv6 /64 */
};

struct auth_lock_slot {
	struct auth_lock_key key;
	uint32_t count;		/* failures since window_start */
	uint64_t window_start;	/* ms of the first failure counted */
	uint64_t locked_until;	/* ms; 0 or past: not locked */
	uint64_t last;		/* ms of the last failure */
};

struct auth_lockout {
	pthread_mutex_t mu;
	uint32_t failures;
	uint64_t window_ms, lock_ms;
	size_t nslots;
	struct auth_lock_slot slot[];
};

size_t auth_lockout_size(size_t nslots)
{
	return sizeof(struct auth_lockout) + nslots * sizeof(struct auth_lock_slot);
}

struct auth_lockout *auth_lockout_init(void *mem, size_t size, int failures,
				       int window_s, int lock_s)
{
	struct auth_lockout *l = mem;
	pthread_mutexattr_t ma;
	int rc;

	if (size < auth_lockout_size(1) || failures < 1 || window_s < 1 ||
	    lock_s < 1) {
		errno = EINVAL;
		return NULL;
	}
	memset(mem, 0, size);
	l->failures = (uint32_t)failures;
	l->window_ms = (uint64_t)window_s * 1000;
	l->lock_ms = (uint64_t)lock_s * 1000;
	l->nslots = (size - sizeof *l) / sizeof l->slot[0];
	if ((rc = pthread_mutexattr_init(&ma)) != 0)
		goto err;
	if ((rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) == 0)
		rc = pthread_mutex_init(&l->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc == 0)
		return l;
err:
	errno = rc;
	return NULL;
}

/** @brief What @src counts as: 0 and @k filled, or -1 (never locked). */
static int auth_lock_key_of(const struct sockaddr *src, struct auth_lock_key *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof *k);
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;

		k->family = 4;
		memcpy(k->addr, &s4->sin_addr, 4);
		return 0;
	}
	if (src->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof mapped) == 0) {
			k->family = 4;
			memcpy(k->addr, a + 12, 4);
		} else {
			k->family = 6;
			memcpy(k->addr, a, 8);
		}
		return 0;
	}
	return -1;
}

/** @brief Take the table's mutex, repairing it if its holder died. */
static int auth_lockout_lock(struct auth_lockout *l)
{
	int rc = pthread_mutex_lock(&l->mu);

	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&l->mu);
	return rc;
}

/** @brief The slot of @k, or NULL. */
static struct auth_lock_slot *auth_lockout_find(struct auth_lockout *l,
						const struct auth_lock_key *k)
{
	for (size_t i = 0; i < l->nslots; i++)
		if (memcmp(&l->slot[i].key, k, sizeof *k) == 0)
			return &l->slot[i];
	return NULL;
}

/** @brief A slot for a new source: a free one, else the one idle longest
 *  that is not locked, else (all locked) the one idle longest. */
static struct auth_lock_slot *auth_lockout_take(struct auth_lockout *l,
						uint64_t now_ms)
{
	struct auth_lock_slot *idle = NULL, *locked = NULL;

	for (size_t i = 0; i < l->nslots; i++) {
		struct auth_lock_slot *s = &l->slot[i];

		if (!s->key.family)
			return s;
		if (s->locked_until > now_ms) {
			if (!locked || s->last < locked->last)
				locked = s;
		} else if (!idle || s->last < idle->last) {
			idle = s;
		}
	}
	return idle ? idle : locked;
}

uint64_t auth_lockout_check(struct auth_lockout *l, const struct sockaddr *src,
			    uint64_t now_ms)
{
	struct auth_lock_key k;
	struct auth_lock_slot *s;
	uint64_t left = 0;

	if (auth_lock_key_of(src, &k) < 0 || auth_lockout_lock(l) != 0)
		return 0;
	s = auth_lockout_find(l, &k);
	if (s && s->locked_until > now_ms)
		left = s->locked_until - now_ms;
	pthread_mutex_unlock(&l->mu);
	return left;
}

int auth_lockout_fail(struct auth_lockout *l, const struct sockaddr *src,
		      uint64_t now_ms)
{
	struct auth_lock_key k;
	struct auth_lock_slot *s;
	int locked = 0;

	if (auth_lock_key_of(src, &k) < 0 || auth_lockout_lock(l) != 0)
		return 0;
	s = auth_lockout_find(l, &k);
	if (!s) {
		s = auth_lockout_take(l, now_ms);
		if (!s)
			goto out;
		memset(s, 0, sizeof *s);
		s->key = k;
	}
	s->last = now_ms;
	if (s->locked_until > now_ms)
		goto out;
	if (s->locked_until || !s->count ||
	    now_ms - s->window_start >= l->window_ms) {
		s->locked_until = 0;
		s->count = 0;
		s->window_start = now_ms;
	}
	if (++s->count >= l->failures) {
		s->locked_until = now_ms + l->lock_ms;
		locked = 1;
	}
out:
	pthread_mutex_unlock(&l->mu);
	return locked;
}
