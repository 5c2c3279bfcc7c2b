/* master_int.h - the master's state, shared by master.c (processes,
 * generations, signals) and master_ctl.c (runtime tunnels and the
 * commands of the control socket and console). Internal to those two. */
#ifndef SSLTUNNEL_MASTER_INT_H
#define SSLTUNNEL_MASTER_INT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"
#include "control.h"
#include "runtime.h"
#include "tunnel.h"
#include "hc_mesh.h"
#include "limit.h"
#include "worker.h"

struct master_slot {
	pid_t pid;			/* 0: not running */
	int ctl;			/* our end of its control channel; -1 */
	uint64_t started;
	uint64_t respawn_at;
	int backoff_ms;
};

/* Workers started from one configuration. */
struct master_gen {
	int id;
	struct cfg cfg;
	struct tunnel *tunnels;
	struct worker_ktls ktls;
	int sandbox;			/* enum worker_sandbox */
	struct master_slot *slots;
	int nslots;
	int draining;			/* told to finish; not re-forked */
	uint64_t kill_at;		/* draining: when stragglers get KILL */
	/* Counters the workers write and we read: nslots rows of
	 * (ntunnels + RT_MAX) entries, MAP_SHARED. */
	struct tunnel_stats *stats;
	size_t stats_size;
	/* accounting = true tunnels: per worker a table of its identities
	 * (tunnel.h), MAP_SHARED; acct_off[i] where tunnel i's rows start,
	 * or SIZE_MAX. */
	struct acct_entry *acct;
	size_t acct_size, *acct_off;
	struct auth_lockout *lockout;	/* shared; NULL without passwords */
	struct auth_gate *gate;		/* the cap on verifications, likewise */
	void *lockout_mem;		/* both, in one mapping */
	size_t lockout_size;
	/* relay tunnels: the directory and the workers' datagram channels
	 * (hc_mesh.h); nslots == 0 when there is none */
	struct hc_mesh hc_mesh;
	/* max_connections (limit.h): per tunnel, nslots rows of counts
	 * (every tunnel: a reload may add a limit), then per tunnel with
	 * max_connections_per_source nslots source tables; lim_tab[i]
	 * where tunnel i's tables start, or SIZE_MAX. One mapping. */
	void *lim_mem;
	size_t lim_size;
	struct limit_row *lim_rows;
	struct limit_table *lim_tables;
	size_t *lim_tab;
	uint64_t lim_seed;
	struct master_gen *next;
};

/* A runtime tunnel: its listener stays open in the master for its life,
 * across generations. */
struct master_rt {
	struct rt_msg msg;		/* what the workers are told */
	int fd;				/* the listener */
	uint64_t base_bytes_up, base_bytes_down, base_accepted;
					/* from generations gone since */
	struct master_rt *next;
};

struct master {
	uint64_t started;		/* when the master started (ms) */
	struct master_gen *gens;	/* newest first; gens->draining == 0 */
	int next_gen;
	int sfd;
	sigset_t blocked;
	int stopping;
	uint64_t stop_kill_at;
	struct control *ctl;		/* control socket and console; or NULL */
	struct metrics *metrics;	/* daemon.metrics_listen; or NULL */
	const char *console_via;	/* the console's tunnel, or NULL */
	struct master_rt *rts;
	int next_rt_id;
	int reload_wanted;		/* the control asked for a reload */
	int stop_wanted;		/* the console said exit */
};

/** @brief The counters of tunnel (or runtime slot) column @col in the
 *  row of worker @slot of @g. */
struct tunnel_stats *master_stats(const struct master_gen *g, int slot,
				  size_t col);
/** @brief Worker @slot's accounting table for tunnel @i of @g, or NULL. */
struct acct_entry *master_acct_row(const struct master_gen *g, int slot,
				   size_t i);
/** @brief Add column @col of every worker row of @g to @sum. */
void master_stats_add(const struct master_gen *g, size_t col,
		      struct tunnel_stats *sum);
/** @brief A SIGHUP-style reload; 0, or -1 with @err (the running
 *  configuration stays). */
int master_reload(struct master *m, char *err, size_t errlen);

/* master_status.c */

/** @brief The figures of configured tunnel @name, over all generations
 *  still running. */
void master_sum_tunnel(const struct master *m, const char *name,
		       struct tunnel_stats *sum);
/** @brief The figures of runtime tunnel @r, over all generations, and
 *  those of generations gone since. */
void master_sum_rt(const struct master *m, const struct master_rt *r,
		   struct tunnel_stats *sum);

/** @brief `status`: every tunnel's figures, every worker's, as text. */
void master_status_text(struct master *m, struct control_reply *out);
/** @brief `status --json`: the same as one JSON object. */
void master_status_json(struct master *m, struct control_reply *out);
struct metrics_buf;
/** @brief GET /metrics (metrics_render_fn over a master). */
void master_metrics(void *arg, struct metrics_buf *b);

/* master_ctl.c */

/** @brief The control's executor (control_exec_fn) over @arg, a master. */
int master_ctl_exec(void *arg, const struct control_peer *who, int argc,
		    char **argv, struct control_reply *out);
/** @brief Tell a worker just forked (its channel @sock) every runtime
 *  tunnel. -1 if the channel failed. */
int master_rt_send_all(struct master *m, int sock);
/** @brief After a reload: keep the runtime tunnels whose via tunnel is
 *  still configured, close the others (logged). */
void master_rt_rebind(struct master *m);
/** @brief A generation is freed: keep its counts of the runtime tunnels. */
void master_rt_retire(struct master *m, const struct master_gen *g);
void master_rt_free_all(struct master *m);

#endif
