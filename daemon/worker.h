/* worker.h - a worker process: one epoll loop serving many connections */
#ifndef SSLTUNNEL_WORKER_H
#define SSLTUNNEL_WORKER_H

#include <signal.h>
#include <stddef.h>

#include "timer.h"
#include "tunnel.h"

struct conn;
struct hc_mesh;
struct resolve;

/* Which data path the worker's connections take, decided once by the
 * master (it probes the kernel before forking). */
struct worker_ktls {
	int mode;		/* enum cfg_ktls */
	int available;		/* the kernel takes TLS sessions */
	char why[160];		/* when not: why */
};

/* Whether a worker confines itself (sandbox.h), decided once by the
 * master: not at all, where it can (a failure is a warning), or without
 * fail (daemon.seccomp = true: a failure ends the worker). */
enum worker_sandbox { WORKER_SANDBOX_OFF, WORKER_SANDBOX_TRY,
		      WORKER_SANDBOX_MUST };

/* What the master gives a new worker. */
struct worker_setup {
	struct tunnel *tunnels;		/* the generation's */
	size_t ntunnels;
	int id;				/* 1.. */
	const struct worker_ktls *ktls;
	struct resolve *res;		/* NULL when no tunnel is dynamic */
	int drain_timeout;		/* seconds */
	const sigset_t *sigs;		/* blocked; read through a signalfd */
	struct tunnel_stats *stats;	/* this worker's row: ntunnels + RT_MAX */
	int ctl;			/* the master's channel (runtime.h) */
	struct auth_lockout *lockout;	/* shared; NULL without passwords */
	struct auth_gate *gate;		/* shared cap on verifications, likewise */
	int auth_threads;
	int auth_failures, auth_window_s, auth_lock_s;
	struct hc_mesh *hc_mesh;	/* relay tunnels' workers as one; or NULL */
	int sandbox;			/* enum worker_sandbox */
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
	struct auth_pool *auth;		/* password verifiers; or NULL */
	struct tunnel **rt;		/* runtime tunnels (runtime.h) */
	size_t nrt;
	struct tunnel_stats *rt_stats;	/* their counters: RT_MAX rows */
	struct { int kind; int fd; } ctl;	/* EV_CONTROL: the master's */
	struct { int kind; int fd; } authev;	/* EV_AUTH: verifications done */
	struct auth_lockout *lockout;	/* failing sources, shared; or NULL */
	int auth_failures, auth_window_s, auth_lock_s;	/* for its log line */
	int id;
	int drain_timeout;		/* seconds */
	int draining;
	uint64_t drain_deadline;
	uint64_t accept_resume;		/* accepting paused until then; 0: not */
	uint64_t accept_short;		/* accept failing since then; 0: not */
	unsigned long accept_fails;	/* failed accepts since accept_short */
	int idle_any;			/* a tunnel has idle_timeout */
	uint64_t idle_at;		/* the next idle sweep (ms) */
	uint64_t trim_due;		/* give memory back then; 0: nothing freed */
};

/** @brief Serve the tunnels' listeners, and the runtime tunnels the
 *  master sends; on SIGTERM stop accepting and exit once the connections
 *  are done or drain_timeout seconds passed. Never returns. */
void worker_run(const struct worker_setup *s);

/** @brief A relay buffer (MOVER_BUF_SIZE), from the pool if one is idle. */
unsigned char *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, unsigned char *buf);
/** @brief A non-blocking pipe for the splice mover; -1 with errno. */
int worker_pipe_get(struct worker *w, int p[2]);
/** @brief Give a pipe back: kept if @empty and the pool has room. */
void worker_pipe_put(struct worker *w, int p[2], int empty);
/** @brief Queue @c to run again after this epoll round. */
void worker_queue(struct worker *w, struct conn *c);

#endif
