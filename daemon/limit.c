/* limit.c - max_connections and max_connections_per_source across
 * workers (see limit.h for the shape of the shared counts)
 *
 * Every access to shared counts is a sequentially consistent atomic: a
 * worker's increment of its own count comes before its reading of the
 * others', in one order all workers agree on, so of two connections
 * admitted at once at least one sees the other. Accepting is not the
 * hot path; the byte movers never touch these counts.
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "limit.h"

#define LIMIT_SPIN 64	/* a reader's retries on an entry being rewritten */

/* The seq_cst atomics used throughout. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SUB(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)

int limit_key(const struct sockaddr *sa, uint64_t key[2])
{
	unsigned char b[16] = { [10] = 0xff, [11] = 0xff };

	if (sa->sa_family == AF_INET)
		memcpy(b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return -1;
	memcpy(key, b, 16);
	return 0;
}

/** @brief Where @key's probe starts: keyed, so that sources can't be
 *  picked to pile up in one place. */
static size_t limit_hash(uint64_t seed, const uint64_t key[2])
{
	uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 2; i++) {
		h ^= key[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 33;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return (size_t)(h % LIMIT_SRC_SLOTS);
}

/** @brief @key's count in table @t (another worker's, maybe being
 *  written meanwhile); 0 when it is not there. */
static uint32_t limit_table_count(struct limit_table *t, size_t h,
				  const uint64_t key[2])
{
	for (int i = 0; i < LIMIT_SRC_PROBE; i++) {
		struct limit_src *e = &t->e[(h + i) % LIMIT_SRC_SLOTS];
		uint32_t s, n = 0;
		int match = 0, k;

		for (k = 0; k < LIMIT_SPIN; k++) {
			s = LOAD(&e->seq);
			if (s == 0)
				return 0;
			if (s & 1)
				continue;
			match = LOAD(&e->addr[0]) == key[0] &&
				LOAD(&e->addr[1]) == key[1];
			n = LOAD(&e->count);
			if (LOAD(&e->seq) == s)
				break;
		}
		/* An owner killed mid-write leaves seq odd until the master
		 * zeroes its table: that entry counts for nothing. */
		if (k < LIMIT_SPIN && match)
			return n;
	}
	return 0;
}

/** @brief This worker's entry for @key in its own table, claimed if
 *  there is none; NULL when the probe finds no room. */
static struct limit_src *limit_claim(struct limit_table *t, size_t h,
				     const uint64_t key[2])
{
	struct limit_src *room = NULL;

	for (int i = 0; i < LIMIT_SRC_PROBE; i++) {
		struct limit_src *e = &t->e[(h + i) % LIMIT_SRC_SLOTS];
		uint32_t s = LOAD(&e->seq);

		if (s == 0) {
			if (!room)
				room = e;
			break;
		}
		if (LOAD(&e->addr[0]) == key[0] && LOAD(&e->addr[1]) == key[1])
			return e;
		if (!room && LOAD(&e->count) == 0)
			room = e;
	}
	if (!room)
		return NULL;
	STORE(&room->seq, LOAD(&room->seq) + 1);
	STORE(&room->addr[0], key[0]);
	STORE(&room->addr[1], key[1]);
	STORE(&room->seq, LOAD(&room->seq) + 1);
	return room;
}

uint64_t limit_total(const struct limit *l)
{
	uint64_t n = 0;

	for (int s = 0; s < l->nspans; s++)
		for (int i = 0; i < l->spans[s].n; i++)
			n += LOAD(&l->spans[s].rows[i].held);
	return n;
}

uint64_t limit_source_total(const struct limit *l, const uint64_t key[2])
{
	size_t h = limit_hash(l->seed, key);
	uint64_t n = 0;

	for (int s = 0; s < l->nspans; s++)
		for (int i = 0; l->spans[s].tables && i < l->spans[s].n; i++)
			n += limit_table_count(&l->spans[s].tables[i], h, key);
	return n;
}

enum limit_verdict limit_admit(struct limit *l, const uint64_t *key,
			       struct limit_src **src, int *full)
{
	struct limit_src *e = NULL;

	*src = NULL;
	*full = 0;
	ADD(&l->row->held, 1);
	if (l->max && limit_total(l) > (uint64_t)l->max) {
		SUB(&l->row->held, 1);
		return LIMIT_TOTAL;
	}
	if (!l->max_src || !l->table || !key)
		return LIMIT_OK;
	e = limit_claim(l->table, limit_hash(l->seed, key), key);
	if (!e) {
		*full = 1;
		return LIMIT_OK;
	}
	ADD(&e->count, 1);
	if (limit_source_total(l, key) > (uint64_t)l->max_src) {
		SUB(&e->count, 1);
		SUB(&l->row->held, 1);
		return LIMIT_SOURCE;
	}
	*src = e;
	return LIMIT_OK;
}

void limit_release(struct limit *l, struct limit_src *src)
{
	if (src)
		SUB(&src->count, 1);
	SUB(&l->row->held, 1);
}

int limit_log_due(struct limit *l, enum limit_log kind, uint64_t now,
		  unsigned long *quiet)
{
	if (!l->logged[kind] || now - l->logged[kind] >= LIMIT_LOG_MS) {
		l->logged[kind] = now ? now : 1;
		l->lines[kind] = 0;
	}
	if (l->lines[kind] >= LIMIT_LOG_BURST) {
		l->quiet[kind]++;
		return 0;
	}
	l->lines[kind]++;
	*quiet = l->quiet[kind];
	l->quiet[kind] = 0;
	return 1;
}
