/* worker.h - a worker process: one epoll loop serving many connections */
#ifndef SSLTUNNEL_WORKER_H
#define SSLTUNNEL_WORKER_H

#include <stddef.h>

#include "timer.h"
#include "tunnel.h"

struct conn;

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
};

/** @brief Serve the tunnels' listeners until killed; never returns. */
void worker_run(struct tunnel *tunnels, size_t ntunnels, int id);

/** @brief A relay buffer (RELAY_BUF_SIZE), from the pool if one is idle. */
unsigned char *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, unsigned char *buf);
/** @brief Queue @c to run again after this epoll round. */
void worker_queue(struct worker *w, struct conn *c);

#endif
