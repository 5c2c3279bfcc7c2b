/* limit.h - max_connections and max_connections_per_source: counts that
 * span all of a daemon's workers
 *
 * Each worker counts what it holds in its own row of memory the master
 * maps shared before it forks: per tunnel the connections it holds, and
 * with max_connections_per_source a table of source addresses and their
 * connections. Only the worker writes its row; the master zeroes a row
 * once its worker is gone (reaped), so a killed worker's connections
 * stop counting with it. A worker admits a connection by counting it in
 * its own row first, then summing every row: above the limit it takes
 * the count back and refuses. Two workers racing for the last place may
 * both refuse; neither can go over.
 *
 * After a reload the new generation's workers sum the rows of the older
 * generations still running too (same tunnel name), so the connections
 * a draining generation still holds count against the new limits.
 */
#ifndef SSLTUNNEL_LIMIT_H
#define SSLTUNNEL_LIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Sources one worker tells apart per tunnel, and how far from its hash
 * slot an address may sit. Past that the table is full for the address:
 * it is admitted uncounted (max_connections still applies). */
#define LIMIT_SRC_SLOTS 1024
#define LIMIT_SRC_PROBE 32
/* Refusals are logged at most LIMIT_LOG_BURST lines per LIMIT_LOG_MS per
 * tunnel, kind and worker; the next line says how many went unlogged. */
#define LIMIT_LOG_MS 10000
#define LIMIT_LOG_BURST 3

/* One source's connections held by one worker. Only the owner writes;
 * it changes addr only while count is 0, with seq odd meanwhile (a
 * reader retries). seq 0: never used, the end of a probe. */
struct limit_src {
	uint32_t seq;
	uint32_t count;
	uint64_t addr[2];	/* IPv6, or IPv4-mapped */
};

struct limit_table {
	struct limit_src e[LIMIT_SRC_SLOTS];
};

/* A worker's connections on one tunnel; a cache line of its own. */
struct limit_row {
	uint64_t held;
	unsigned char pad[56];
};

/* One generation's rows of one tunnel: @n workers'. */
struct limit_span {
	struct limit_row *rows;
	struct limit_table *tables;	/* NULL: no per-source counts */
	int n;
};

enum limit_verdict {
	LIMIT_OK,
	LIMIT_TOTAL,		/* max_connections reached */
	LIMIT_SOURCE,		/* max_connections_per_source reached */
};

enum limit_log { LIMIT_LOG_TOTAL, LIMIT_LOG_SOURCE, LIMIT_LOG_FULL,
		 LIMIT_LOG_N };

/* A worker's view of one tunnel's counts. */
struct limit {
	int max, max_src;		/* 0: none */
	uint64_t seed;			/* of the address hash */
	struct limit_row *row;		/* this worker's */
	struct limit_table *table;	/* this worker's, or NULL */
	struct limit_span *spans;	/* this generation's first */
	int nspans;
	uint64_t logged[LIMIT_LOG_N];	/* each kind's log window began (ms) */
	int lines[LIMIT_LOG_N];		/* lines in it */
	unsigned long quiet[LIMIT_LOG_N];	/* refusals not logged since */
};

/** @brief The key of @sa: 0, or -1 for an address with no source to
 *  count (not IP). */
int limit_key(const struct sockaddr *sa, uint64_t key[2]);
/** @brief Count a new connection from @key (NULL: no source) in @l and
 *  say if it may stay. LIMIT_OK: counted, *@src is its source entry (or
 *  NULL: not counted per source; *@full says if that is because the
 *  table is full); otherwise nothing is counted. */
enum limit_verdict limit_admit(struct limit *l, const uint64_t *key,
			       struct limit_src **src, int *full);
/** @brief Take back what limit_admit counted. */
void limit_release(struct limit *l, struct limit_src *src);
/** @brief Connections held over every row of @l. */
uint64_t limit_total(const struct limit *l);
/** @brief Connections from @key over every row of @l. */
uint64_t limit_source_total(const struct limit *l, const uint64_t key[2]);
/** @brief Should a line of @kind be logged at @now? If so, *@quiet says
 *  how many were held back since the last. */
int limit_log_due(struct limit *l, enum limit_log kind, uint64_t now,
		  unsigned long *quiet);

#endif
