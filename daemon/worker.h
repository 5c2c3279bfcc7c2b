/* worker.h - a worker process: one epoll loop serving many connections */
#ifndef SSLTUNNEL_WORKER_H
#define SSLTUNNEL_WORKER_H

#include <signal.h>
#include <stddef.h>

#include "timer.h"
#include "tunnel.h"

struct conn;
struct resolve;

/* Which data path the worker's connections take, decided once by the
 * master (it probes the kernel before forking). */
struct worker_ktls {
	int mode;		/* enum cfg_ktls */
	int available;		/* the kernel takes TLS sessions */
	char why[160];		/* when not: why */
};

struct worker {
	int ep;				/* epoll fd */
	struct timer_heap timers;
	struct tunnel *tunnels;
	size_t ntunnels;
	struct conn *conns;		/* live connections */
	size_t nconns;
	struct conn *dead;		/* closed this round, freed after it */
	struct conn *ready;		/* to run again (fairness yield) */
	unsigned char *pool[32];	/* idle relay buffers kept for reuse */
	int npool;
	int pipes[64][2];		/* idle empty pipes kept for reuse */
	int npipes;
	const struct worker_ktls *ktls;
	struct resolve *res;		/* dynamic destinations' names; or NULL */
	int id;
	int drain_timeout;		/* seconds */
	int draining;
	uint64_t drain_deadline;
	uint64_t accept_resume;		/* accepting paused until then; 0: not */
	uint64_t accept_warned;		/* last accept error logged */
};

/** @brief Serve the tunnels' listeners; on SIGTERM stop accepting and
 *  exit once the connections are done or @drain_timeout seconds passed.
 *  @sigs are blocked and read through a signalfd. @res (NULL when no
 *  tunnel has connect = "dynamic") resolves on this worker's epoll.
 *  Never returns. */
void worker_run(struct tunnel *tunnels, size_t ntunnels, int id,
		const struct worker_ktls *ktls, struct resolve *res,
		int drain_timeout, const sigset_t *sigs);

/** @brief A relay buffer (RELAY_BUF_SIZE), from the pool if one is idle. */
unsigned char *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, unsigned char *buf);
/** @brief A non-blocking pipe for the splice mover; -1 with errno. */
int worker_pipe_get(struct worker *w, int p[2]);
/** @brief Give a pipe back: kept if @empty and the pool has room. */
void worker_pipe_put(struct worker *w, int p[2], int empty);
/** @brief Queue @c to run again after this epoll round. */
void worker_queue(struct worker *w, struct conn *c);

#endif
