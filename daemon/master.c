/* master.c - the master process: listeners, worker generations, signals
 *
 * The master reads the config, loads every credential, opens every
 * listener and forks the workers as its direct children. It never touches
 * a connection. A set of workers started from one config is a generation:
 * SIGHUP loads the config again and, only if all of it loads, starts a new
 * generation (listeners kept for addresses that stay, so no connection
 * attempt is refused) and tells the old one to drain. Workers that die
 * are re-forked, with a growing pause when they die young.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "auth.h"
#include "ktls.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "metrics.h"
#include "resolve.h"
#include "sandbox.h"
#include "timer.h"
#include "worker.h"

#define MASTER_KILL_GRACE_MS 5000	/* after drain_timeout, before KILL */
#define MASTER_YOUNG_MS 2000		/* a worker dying sooner is a crash loop */
#define MASTER_BACKOFF_MAX_MS 30000

int master_load_tunnels(const struct cfg *cfg, struct tunnel **out,
			char *err, size_t errlen)
{
	struct tunnel *t = calloc(cfg->ntunnels, sizeof *t);

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->ntunnels; i++) {
		t[i].cfg = &cfg->tunnels[i];
		if (tls_ctx_init(&t[i].tls, t[i].cfg, err, errlen) < 0) {
			master_free_tunnels(t, i);
			return -1;
		}
	}
	*out = t;
	return 0;
}

void master_free_tunnels(struct tunnel *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tls_ctx_free(&t[i].tls);
		tls_ticket_drop(&t[i].ticket);
		for (int j = 0; j < t[i].nlisteners; j++)
			if (t[i].listeners[j].fd >= 0)
				close(t[i].listeners[j].fd);
	}
	free(t);
}

/** @brief A reason not to start, to the log and to whoever started us. */
static void master_fail(const struct cfg *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void master_fail(const struct cfg *cfg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cfg->log_target != LOG_TARGET_STDERR)
		log_err("%s", msg);
	fprintf(stderr, "ssltunneld: %s\n", msg);
}

static void master_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/** @brief A listener of the running generation on the same address, to
 *  keep across a reload. */
static int master_find_listener(const struct master_gen *g,
				const struct net_addr *a)
{
	if (!g)
		return -1;
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		const struct tunnel *t = &g->tunnels[i];
		const struct net_endpoint *ep = &t->cfg->listen_ep;
		for (int j = 0; j < t->nlisteners; j++)
			if (ep->addrs[j].len == a->len &&
			    memcmp(&ep->addrs[j].ss, &a->ss, a->len) == 0)
				return t->listeners[j].fd;
	}
	return -1;
}

/** @brief Open (or take over from @old) every listener of @g; on failure
 *  @err says which and why. */
static int master_listen(struct master_gen *g, const struct master_gen *old,
			 char *err, size_t errlen)
{
	char e[200];

	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		struct tunnel *t = &g->tunnels[i];
		const struct net_endpoint *ep = &t->cfg->listen_ep;
		for (int j = 0; j < ep->naddrs; j++) {
			int fd = master_find_listener(old, &ep->addrs[j]);
			fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) :
				net_listen(&ep->addrs[j], e, sizeof e);
			if (fd < 0) {
				snprintf(err, errlen, "tunnel %s: %s", t->cfg->name,
					 e);
				return -1;
			}
			/* What its accepted sockets start with: the TLS
			 * leg's keepalive on the server role (conn_accept). */
			net_listener_opts(fd, t->cfg->role == CFG_ROLE_SERVER ?
					  &t->cfg->keepalive : NULL);
			t->listeners[j] = (struct listener){ EV_LISTENER, fd, t };
			t->nlisteners++;
		}
	}
	return 0;
}

static void master_log_tunnels(const struct master_gen *g)
{
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &g->cfg.tunnels[i];
		char how[200] = "";

		if (t->hc == CFG_HC_RELAY) {
			log_notice("tunnel %s: relay role, listening on %s for Hybrid Connections (%zu path%s)",
				   t->name, t->listen, t->nhc_paths,
				   t->nhc_paths == 1 ? "" : "s");
			continue;
		}
		if (t->hc == CFG_HC_LISTENER) {
			log_notice("tunnel %s: listener role at %s, forwarding to %s",
				   t->name, t->relay, t->dynamic ?
				   "the sender's choice, as the acl allows" :
				   t->hc_backend);
			continue;
		}
		if (!t->listen) {
			log_info("tunnel %s: client role to %s; tunnels are opened from the console",
				 t->name, t->connect);
			continue;
		}

		if (t->transport == CFG_TRANSPORT_WEBSOCKET)
			snprintf(how, sizeof how, " (WebSocket on %s)", t->path);
		if (t->dynamic)
			snprintf(how + strlen(how), sizeof how - strlen(how),
				 " to the destinations clients ask for, as the acl allows");
		else if (t->destination)
			snprintf(how + strlen(how), sizeof how - strlen(how),
				 " asking for %s", t->destination);
		if (t->http_proxy)
			snprintf(how + strlen(how), sizeof how - strlen(how),
				 " through http_proxy %s", t->proxy_name);
		log_notice("tunnel %s: %s role, listening on %s, forwarding%s%s%s",
			   t->name, cfg_role_name(t),
			   t->listen, t->dynamic ? "" : " to ",
			   t->dynamic ? "" : t->connect, how);
	}
}

/** @brief Decide once per generation which data path is on offer. */
static int master_ktls_policy(struct worker_ktls *k)
{
	if (k->mode == CFG_KTLS_OFF) {
		snprintf(k->why, sizeof k->why, "ktls = \"off\"");
		log_notice("data path: userspace TLS (ktls = \"off\")");
		return 0;
	}
	k->available = ktls_probe(k->why, sizeof k->why);
	if (k->available) {
		log_notice("data path: kernel TLS with splice (ktls = \"%s\")",
			   k->mode == CFG_KTLS_ON ? "on" : "auto");
		return 0;
	}
	if (k->mode == CFG_KTLS_ON)
		return -1;
	log_notice("data path: userspace TLS; kernel TLS unavailable: %s", k->why);
	return 0;
}

/** @brief Decide once per generation whether workers confine themselves
 *  (daemon.seccomp); -1 with @why when it is required and impossible. */
static int master_sandbox_policy(struct master_gen *g, char *why,
				 size_t whylen)
{
	int probe;

	g->sandbox = WORKER_SANDBOX_OFF;
	if (g->cfg.seccomp == CFG_SECCOMP_OFF) {
		log_notice("workers: no seccomp filter (seccomp = false)");
		return 0;
	}
	probe = sandbox_probe(why, whylen);
	if (probe != 1) {
		if (g->cfg.seccomp == CFG_SECCOMP_ON)
			return -1;
		/* A build without it on purpose (sanitizers) is a notice:
		 * nothing in the host to fix. */
		if (probe < 0)
			log_notice("workers: no seccomp filter: %s", why);
		else
			log_warn("workers: no seccomp filter: %s", why);
		return 0;
	}
	g->sandbox = g->cfg.seccomp == CFG_SECCOMP_ON ?
		WORKER_SANDBOX_MUST : WORKER_SANDBOX_TRY;
	log_info("workers: seccomp filter on");
	return 0;
}

/* Descriptors a worker holds besides its connections' (listeners, epoll,
 * the master's channel, the resolver, the log, the verifier threads'). */
#define MASTER_NOFILE_SPARE 64
/* A connection's descriptors: its two sockets. On the kernel path a
 * direction borrows a pipe from its worker only while bytes move through
 * splice (mover_splice.c), so idle connections hold none. */
#define MASTER_FDS_CONN 2
/* Below this many descriptors per process the limit is called low (the
 * common soft default; a test or CI host may well have 4096 as hard). */
#define MASTER_NOFILE_LOW 1024

/** @brief Every connection holds two sockets (and, on the kernel path,
 *  pipes while bytes move): take the whole file-descriptor allowance. */
static void master_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("descriptors: raising the soft limit to the hard one (%llu): %s",
				 (unsigned long long)rl.rlim_max,
				 strerror(errno));
	}
}

/** @brief The sum of the tunnels' max_connections, or 0 when one of them
 *  has no cap. */
static long master_max_connections(const struct cfg *cfg)
{
	long sum = 0;

	for (size_t i = 0; i < cfg->ntunnels; i++) {
		if (!cfg->tunnels[i].max_connections)
			return 0;
		sum += cfg->tunnels[i].max_connections;
	}
	return sum;
}

/** @brief Say how many descriptors each process may hold and about how
 *  many connections that makes per worker (generation @g);
 *  warn, with the arithmetic, when that cannot hold the configured
 *  max_connections or is low. Workers inherit the master's limit. */
static void master_log_nofile(const struct master_gen *g)
{
	struct rlimit rl;
	long per = MASTER_FDS_CONN;
	long cap = master_max_connections(&g->cfg), workers = g->cfg.workers;
	long lim, fit, share;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("descriptors: getrlimit(RLIMIT_NOFILE): %s",
			 strerror(errno));
		return;
	}
	lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX ?
		INT_MAX : (long)rl.rlim_cur;
	fit = lim > MASTER_NOFILE_SPARE ? (lim - MASTER_NOFILE_SPARE) / per : 0;
	log_notice("descriptors: %ld per process (RLIMIT_NOFILE): about %ld connections per worker at %ld descriptors each, %ld across %ld workers%s",
		   lim, fit, per, fit * workers, workers, g->ktls.available ?
		   "; fewer while many move bytes (kTLS: 2 pipes each while bytes flow)" : "");
	share = cap ? (cap + workers - 1) / workers : 0;
	if (share > fit)
		log_warn("descriptors: max_connections adds up to %ld across %ld workers, %ld per worker at %ld descriptors each = %ld, more than the limit of %ld (with %d spare): connections past about %ld per worker will fail at accept; raise the hard limit (ulimit -Hn, LimitNOFILE=) or add workers",
			 cap, workers, share, per,
			 share * per + MASTER_NOFILE_SPARE, lim,
			 MASTER_NOFILE_SPARE, fit);
	else if (lim < MASTER_NOFILE_LOW)
		log_warn("descriptors: the limit is low: %ld per process holds about %ld connections per worker; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
			 lim, fit);
}

static int master_write_pid(const char *path)
{
	char buf[32];
	int fd, n;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/** @brief Detach from the terminal; the starting process exits 0 only
 *  once the daemon is running with its pid file written. */
static int master_detach(const struct cfg *cfg)
{
	int p[2], devnull;
	char ok;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (cfg->log_target != LOG_TARGET_STDERR)
			dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	if (master_write_pid(cfg->pid_file) < 0) {
		master_fail(cfg, "pid_file %s: %s", cfg->pid_file, strerror(errno));
		return -1;
	}
	ok = 1;
	if (write(p[1], &ok, 1) != 1)
		return -1;
	close(p[1]);
	return 0;
}

/** @brief In a new worker: chroot, then give up root for good. */
static int master_drop_privileges(const struct cfg *cfg)
{
	if (cfg->chroot && (chroot(cfg->chroot) < 0 || chdir("/") < 0)) {
		log_err("chroot %s: %s", cfg->chroot, strerror(errno));
		return -1;
	}
	if (!cfg->user || (getuid() == cfg->uid && getgid() == cfg->gid))
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(cfg->gid) < 0 ||
	    setuid(cfg->uid) < 0) {
		log_err("cannot become user %s: %s", cfg->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("dropping privileges to %s did not hold", cfg->user);
		return -1;
	}
	return 0;
}

struct tunnel_stats *master_stats(const struct master_gen *g, int slot,
				  size_t col)
{
	return &g->stats[(size_t)slot * (g->cfg.ntunnels + RT_MAX) + col];
}

/** @brief Worker @slot of @g is gone (or new): zero its counts of
 *  connections and sources, which nobody holds any more. */
static void master_limit_clear(struct master_gen *g, int slot)
{
	if (!g->lim_mem)
		return;
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		__atomic_store_n(&g->lim_rows[i * g->nslots + slot].held, 0,
				 __ATOMIC_SEQ_CST);
		if (g->lim_tab[i] != SIZE_MAX)
			memset(&g->lim_tables[g->lim_tab[i] + slot], 0,
			       sizeof *g->lim_tables);
	}
}

/** @brief Generation @g's counts of tunnel @i as one span. */
static struct limit_span master_limit_span(const struct master_gen *g,
					   size_t i)
{
	return (struct limit_span){
		.rows = &g->lim_rows[i * g->nslots],
		.tables = g->lim_tab[i] == SIZE_MAX ? NULL :
			&g->lim_tables[g->lim_tab[i]],
		.n = g->nslots,
	};
}

/** @brief In a new worker of @g (@slot): each configured tunnel's view
 *  of the counts, its generation's and those of older generations still
 *  running (their mappings were inherited with the fork). */
static int master_limit_views(const struct master *m, struct master_gen *g,
			      int slot)
{
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &g->cfg.tunnels[i];
		struct limit *l = calloc(1, sizeof *l);
		int n = 1;	/* g, and at most every generation listed */

		for (const struct master_gen *o = m->gens; o; o = o->next)
			n++;
		if (!l || !(l->spans = calloc(n, sizeof *l->spans))) {
			free(l);
			return -1;
		}
		l->max = t->max_connections;
		l->max_src = t->max_per_source;
		l->seed = g->lim_seed;
		l->row = &g->lim_rows[i * g->nslots + slot];
		l->spans[l->nspans++] = master_limit_span(g, i);
		l->table = l->spans[0].tables ? &l->spans[0].tables[slot] : NULL;
		for (const struct master_gen *o = m->gens; o; o = o->next)
			for (size_t j = 0; o != g && o->lim_mem &&
			     j < o->cfg.ntunnels; j++)
				if (strcmp(o->cfg.tunnels[j].name, t->name) == 0)
					l->spans[l->nspans++] = master_limit_span(o, j);
		g->tunnels[i].lim = l;
	}
	return 0;
}

/** @brief The shared counts behind max_connections and
 *  max_connections_per_source (limit.h). */
static int master_gen_limits(struct master_gen *g)
{
	size_t tables = 0, rows = g->cfg.ntunnels * (size_t)g->nslots;

	if (!rows)
		return 0;
	if (!(g->lim_tab = calloc(g->cfg.ntunnels, sizeof *g->lim_tab)))
		return -1;
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		g->lim_tab[i] = SIZE_MAX;
		if (!g->cfg.tunnels[i].max_per_source)
			continue;
		g->lim_tab[i] = tables;
		tables += g->nslots;
	}
	g->lim_size = rows * sizeof *g->lim_rows +
		tables * sizeof *g->lim_tables;
	g->lim_mem = mmap(NULL, g->lim_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->lim_mem == MAP_FAILED) {
		g->lim_mem = NULL;
		return -1;
	}
	g->lim_rows = g->lim_mem;
	g->lim_tables = (struct limit_table *)(g->lim_rows + rows);
	if (getrandom(&g->lim_seed, sizeof g->lim_seed, GRND_NONBLOCK) !=
	    sizeof g->lim_seed)
		g->lim_seed = timer_now_ms() ^ (uint64_t)getpid() << 32;
	return 0;
}

/** @brief In a new worker: close what belongs to the master (the other
 *  generations' listeners, every control channel, the control socket,
 *  the runtime listeners: the worker gets its own copies). */
static void master_child_close(struct master *m, const struct master_gen *g,
			       int keep_ctl)
{
	close(m->sfd);
	for (struct master_gen *o = m->gens; o; o = o->next) {
		for (int i = 0; i < o->nslots; i++)
			if (o->slots[i].ctl >= 0 && o->slots[i].ctl != keep_ctl)
				close(o->slots[i].ctl);
		if (o != g)
			hc_mesh_close_fds(&o->hc_mesh);
		if (o == g)
			continue;
		for (size_t i = 0; i < o->cfg.ntunnels; i++)
			for (int j = 0; j < o->tunnels[i].nlisteners; j++)
				if (o->tunnels[i].listeners[j].fd >= 0)
					close(o->tunnels[i].listeners[j].fd);
	}
	for (struct master_rt *r = m->rts; r; r = r->next)
		close(r->fd);
	control_close_fds(m->ctl);
	metrics_close_fds(m->metrics);
}

static pid_t master_spawn(struct master *m, struct master_gen *g, int id)
{
	pid_t master = getpid();
	struct resolve *res = NULL;
	struct worker_setup ws;
	char err[256];
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	/* A new worker in this slot: its connections start from none. */
	for (size_t i = 0; i < g->cfg.ntunnels + RT_MAX; i++)
		master_stats(g, id - 1, i)->active = 0;
	master_limit_clear(g, id - 1);
	pid = fork();
	if (pid != 0) {
		close(sp[1]);
		if (pid < 0) {
			close(sp[0]);
			return pid;
		}
		g->slots[id - 1].ctl = sp[0];
		if (master_rt_send_all(m, sp[0]) < 0)
			log_err("worker %d: cannot send it the runtime tunnels: %s",
				id, strerror(errno));
		return pid;
	}
	/* The worker drains and exits when its master goes away. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	close(sp[0]);
	master_child_close(m, g, -1);
	if (g->hc_mesh.nslots)
		hc_mesh_child(&g->hc_mesh, id - 1);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&m->blocked, s))
			signal(s, SIG_DFL);
	/* The resolver reads /etc/resolv.conf and /etc/hosts before a
	 * chroot can hide them. */
	for (size_t i = 0; i < g->cfg.ntunnels && !res; i++)
		if (g->cfg.tunnels[i].dynamic &&
		    resolve_new(&res, &g->cfg.dns_servers, err, sizeof err) < 0) {
			log_err("worker %d: resolver: %s", id, err);
			_exit(1);
		}
	if (master_drop_privileges(&g->cfg) < 0)
		_exit(1);
	if (master_limit_views(m, g, id - 1) < 0) {
		log_err("worker %d: out of memory", id);
		_exit(1);
	}
	for (size_t i = 0; i < g->cfg.ntunnels; i++)
		if ((g->tunnels[i].acct = master_acct_row(g, id - 1, i)))
			g->tunnels[i].acct_n =
				(size_t)g->cfg.tunnels[i].accounting_max_identities + 1;
	ws = (struct worker_setup){
		.tunnels = g->tunnels, .ntunnels = g->cfg.ntunnels, .id = id,
		.ktls = &g->ktls, .res = res,
		.drain_timeout = g->cfg.drain_timeout, .sigs = &m->blocked,
		.stats = master_stats(g, id - 1, 0), .ctl = sp[1],
		.lockout = g->lockout, .gate = g->gate,
		.auth_threads = g->cfg.auth_threads,
		.auth_failures = g->cfg.auth_failures,
		.auth_window_s = g->cfg.auth_failure_window,
		.auth_lock_s = g->cfg.auth_lockout_time,
		.hc_mesh = g->hc_mesh.nslots ? &g->hc_mesh : NULL,
		.sandbox = g->sandbox,
	};
	worker_run(&ws);
	_exit(0);
}

static void master_reaped(struct master *m, pid_t pid, int status)
{
	uint64_t now = timer_now_ms();

	for (struct master_gen *g = m->gens; g; g = g->next)
		for (int i = 0; i < g->nslots; i++) {
			struct master_slot *s = &g->slots[i];
			if (s->pid != pid)
				continue;
			s->pid = 0;
			if (s->ctl >= 0)
				close(s->ctl);
			s->ctl = -1;
			/* Its relay control channels died with it. */
			if (g->hc_mesh.dir)
				hc_dir_clear_slot(g->hc_mesh.dir, i);
			/* Its connections died with it: they count no more. */
			master_limit_clear(g, i);
			if (g->draining || m->stopping)
				return;
			if (now - s->started < MASTER_YOUNG_MS)
				s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 500;
			else
				s->backoff_ms = 0;
			if (s->backoff_ms > MASTER_BACKOFF_MAX_MS)
				s->backoff_ms = MASTER_BACKOFF_MAX_MS;
			s->respawn_at = now + s->backoff_ms;
			if (WIFEXITED(status) &&
			    WEXITSTATUS(status) == SANDBOX_EXIT_STATUS)
				log_err("worker %d (pid %d) made a system call its seccomp filter forbids (logged above); starting another%s",
					i + 1, (int)pid,
					s->backoff_ms ? " after a pause" : "");
			else if (WIFSIGNALED(status))
				log_warn("worker %d (pid %d) was killed by signal %d; starting another%s",
					 i + 1, (int)pid, WTERMSIG(status),
					 s->backoff_ms ? " after a pause" : "");
			else
				log_warn("worker %d (pid %d) exited with status %d; starting another%s",
					 i + 1, (int)pid, WEXITSTATUS(status),
					 s->backoff_ms ? " after a pause" : "");
			return;
		}
}

static int master_gen_running(const struct master_gen *g)
{
	int k = 0;

	for (int i = 0; i < g->nslots; i++)
		k += g->slots[i].pid != 0;
	return k;
}

static void master_gen_signal(const struct master_gen *g, int sig)
{
	for (int i = 0; i < g->nslots; i++)
		if (g->slots[i].pid)
			kill(g->slots[i].pid, sig);
}

static void master_gen_free(struct master_gen *g)
{
	for (int i = 0; i < g->nslots; i++)
		if (g->slots[i].ctl >= 0)
			close(g->slots[i].ctl);
	if (g->stats)
		munmap(g->stats, g->stats_size);
	if (g->lockout_mem)
		munmap(g->lockout_mem, g->lockout_size);
	if (g->acct)
		munmap(g->acct, g->acct_size);
	if (g->lim_mem)
		munmap(g->lim_mem, g->lim_size);
	free(g->lim_tab);
	free(g->acct_off);
	hc_mesh_free(&g->hc_mesh);
	master_free_tunnels(g->tunnels, g->cfg.ntunnels);
	cfg_free(&g->cfg);
	free(g->slots);
	free(g);
}

/** @brief A generation stops accepting and finishes its connections. */
static void master_gen_drain(struct master_gen *g)
{
	/* The master's copies too: a listener nobody accepts on must refuse
	 * connections, not queue them. Kept addresses live on as the new
	 * generation's duplicates. */
	for (size_t i = 0; i < g->cfg.ntunnels; i++)
		for (int j = 0; j < g->tunnels[i].nlisteners; j++) {
			close(g->tunnels[i].listeners[j].fd);
			g->tunnels[i].listeners[j].fd = -1;
		}
	g->draining = 1;
	g->kill_at = timer_now_ms() + 1000ULL * g->cfg.drain_timeout +
		MASTER_KILL_GRACE_MS;
	master_gen_signal(g, SIGTERM);
}

/** @brief Memory shared with the generation's workers: their counters,
 *  and the lockout table when a tunnel takes passwords. */
struct acct_entry *master_acct_row(const struct master_gen *g, int slot,
				   size_t i)
{
	const struct cfg_tunnel *t = &g->cfg.tunnels[i];

	if (!g->acct || g->acct_off[i] == SIZE_MAX)
		return NULL;
	return g->acct + g->acct_off[i] +
		(size_t)slot * (t->accounting_max_identities + 1);
}

/** @brief The accounting tables of the tunnels that want them. */
static int master_gen_accounting(struct master_gen *g)
{
	size_t rows = 0;

	if (!(g->acct_off = calloc(g->cfg.ntunnels ? g->cfg.ntunnels : 1,
				   sizeof *g->acct_off)))
		return -1;
	for (size_t i = 0; i < g->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &g->cfg.tunnels[i];
		g->acct_off[i] = SIZE_MAX;
		if (!t->accounting)
			continue;
		g->acct_off[i] = rows;
		rows += (size_t)g->nslots * (t->accounting_max_identities + 1);
	}
	if (!rows)
		return 0;
	g->acct_size = rows * sizeof *g->acct;
	g->acct = mmap(NULL, g->acct_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->acct == MAP_FAILED) {
		g->acct = NULL;
		return -1;
	}
	return 0;
}

static int master_gen_shared(struct master_gen *g)
{
	int passwords = 0;
	size_t gsize;

	g->stats_size = (size_t)g->nslots * (g->cfg.ntunnels + RT_MAX) *
		sizeof *g->stats;
	g->stats = mmap(NULL, g->stats_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->stats == MAP_FAILED) {
		g->stats = NULL;
		return -1;
	}
	if (master_gen_accounting(g) < 0)
		return -1;
	if (master_gen_limits(g) < 0)
		return -1;
	for (size_t i = 0; i < g->cfg.ntunnels; i++)
		if (g->cfg.tunnels[i].hc == CFG_HC_RELAY) {
			if (hc_mesh_new(&g->hc_mesh, g->nslots, HC_DIR_MAX) < 0)
				return -1;
			break;
		}
	for (size_t i = 0; i < g->cfg.ntunnels; i++)
		passwords |= g->cfg.tunnels[i].passwords != NULL;
	if (!passwords)
		return 0;
	/* The gate first, then the lockout table, 64-byte aligned. */
	gsize = (auth_gate_size(g->cfg.auth_parallel) + 63) & ~(size_t)63;
	g->lockout_size = gsize + auth_lockout_size(4096);
	g->lockout_mem = mmap(NULL, g->lockout_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->lockout_mem == MAP_FAILED) {
		g->lockout_mem = NULL;
		return -1;
	}
	g->gate = auth_gate_init(g->lockout_mem, gsize, g->cfg.auth_parallel);
	g->lockout = auth_lockout_init((char *)g->lockout_mem + gsize,
				       g->lockout_size - gsize,
				       g->cfg.auth_failures,
				       g->cfg.auth_failure_window,
				       g->cfg.auth_lockout_time);
	return g->lockout && g->gate ? 0 : -1;
}

/** @brief Build a generation from a loaded config; NULL with @err. */
static struct master_gen *master_gen_new(struct master *m, struct cfg *cfg,
					 struct tunnel *tunnels, char *err,
					 size_t errlen)
{
	struct master_gen *g = calloc(1, sizeof *g);
	char why[160];

	if (!g || !(g->slots = calloc(cfg->workers, sizeof *g->slots))) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->cfg = *cfg;
	g->tunnels = tunnels;
	g->nslots = cfg->workers;
	g->ktls.mode = cfg->ktls;
	/* The tunnels point into the cfg, which just moved. */
	for (size_t i = 0; i < cfg->ntunnels; i++)
		g->tunnels[i].cfg = &g->cfg.tunnels[i];
	memset(cfg, 0, sizeof *cfg);
	for (int i = 0; i < g->nslots; i++)
		g->slots[i].ctl = -1;
	if (master_gen_shared(g) < 0) {
		snprintf(err, errlen, "shared memory for counters: %s",
			 strerror(errno));
		goto fail;
	}
	if (master_ktls_policy(&g->ktls) < 0) {
		snprintf(err, errlen, "daemon.ktls = \"on\" but %s", g->ktls.why);
		goto fail;
	}
	if (master_sandbox_policy(g, why, sizeof why) < 0) {
		snprintf(err, errlen, "daemon.seccomp = true but %s", why);
		goto fail;
	}
	if (master_listen(g, m->gens, err, errlen) < 0)
		goto fail;
	g->id = ++m->next_gen;
	return g;
fail:
	master_gen_free(g);
	return NULL;
}

/** @brief Say what cfg_load found worth a warning (key file modes). */
static void master_log_warnings(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->warnings.n; i++)
		log_warn("%s", cfg->warnings.v[i]);
}

/** @brief Workers run as the user and must open the log file again on
 *  SIGUSR1: the file (made by the root master) is given to the user, as
 *  nginx does with its logs. */
static void master_log_chown(const struct cfg *cfg)
{
	if (cfg->log_file && cfg->user &&
	    chown(cfg->log_file, cfg->uid, cfg->gid) < 0)
		log_warn("log file %s: chown to %s: %s", cfg->log_file,
			 cfg->user, strerror(errno));
}

static int master_log_setup(const struct cfg *cfg)
{
	if (log_setup(cfg->log_level, cfg->log_target, cfg->log_file) < 0)
		return -1;
	master_log_chown(cfg);
	return 0;
}

/** @brief SIGHUP (or the control's reload): all or nothing. The running
 *  generation is kept as it is unless the whole new config, its keys and
 *  its listeners load. */
int master_reload(struct master *m, char *err, size_t errlen)
{
	struct master_gen *old = m->gens, *g;
	struct cfg cfg;
	struct tunnel *tunnels;
	int rc = -1;

	if (!old->cfg.path) {
		snprintf(err, errlen, "no config file to read again (tunnels from the command line); nothing changed");
		log_notice("reload: %s", err);
		return -1;
	}
	master_notify("RELOADING=1");
	log_notice("SIGHUP: reading %s again", old->cfg.path);
	if (cfg_load(&cfg, old->cfg.path, err, errlen) < 0)
		goto out;
	master_log_warnings(&cfg);
	if (master_load_tunnels(&cfg, &tunnels, err, errlen) < 0) {
		cfg_free(&cfg);
		goto out;
	}
	g = master_gen_new(m, &cfg, tunnels, err, errlen);
	if (!g)
		goto out;
	if (g->cfg.log_target != old->cfg.log_target ||
	    g->cfg.log_level != old->cfg.log_level ||
	    (g->cfg.log_file && (!old->cfg.log_file ||
				 strcmp(g->cfg.log_file, old->cfg.log_file))))
		if (master_log_setup(&g->cfg) < 0)
			log_err("log_target %s: %s; logging stays where it was",
				g->cfg.log_file, strerror(errno));
	master_log_nofile(g);
	if (!old->cfg.control_socket != !g->cfg.control_socket ||
	    (g->cfg.control_socket &&
	     strcmp(g->cfg.control_socket, old->cfg.control_socket)))
		log_warn("daemon.control_socket changed: the socket moves at the next restart; it stays %s",
			 old->cfg.control_socket ? old->cfg.control_socket : "off");
	if (!old->cfg.metrics_listen != !g->cfg.metrics_listen ||
	    (g->cfg.metrics_listen &&
	     strcmp(g->cfg.metrics_listen, old->cfg.metrics_listen)))
		log_warn("daemon.metrics_listen changed: it moves at the next restart; it stays %s",
			 old->cfg.metrics_listen ? old->cfg.metrics_listen : "off");
	g->next = old;
	m->gens = g;
	master_log_tunnels(g);
	master_rt_rebind(m);
	master_gen_drain(old);
	log_notice("configuration reloaded: generation %d with %zu tunnel%s; generation %d drains",
		   g->id, g->cfg.ntunnels, g->cfg.ntunnels == 1 ? "" : "s",
		   old->id);
	rc = 0;
out:
	if (rc < 0)
		log_err("reload failed, still running the previous configuration: %s", err);
	master_notify("READY=1");
	return rc;
}

/** @brief Fork the workers that should be running; when is the next
 *  re-fork due (UINT64_MAX: none)? */
static uint64_t master_spawn_due(struct master *m, uint64_t now)
{
	struct master_gen *g = m->gens;
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < g->nslots && !m->stopping; i++) {
		struct master_slot *s = &g->slots[i];
		if (s->pid)
			continue;
		if (s->respawn_at > now) {
			next = s->respawn_at < next ? s->respawn_at : next;
			continue;
		}
		s->pid = master_spawn(m, g, i + 1);
		s->started = now;
		if (s->pid < 0) {
			log_err("fork: %s", strerror(errno));
			s->pid = 0;
			s->respawn_at = now + 1000;
			next = s->respawn_at < next ? s->respawn_at : next;
		}
	}
	return next;
}

/** @brief Free drained generations; KILL workers past their deadline. */
static uint64_t master_tend_drains(struct master *m, uint64_t now)
{
	struct master_gen **pp = &m->gens->next;
	uint64_t next = UINT64_MAX;

	while (*pp) {
		struct master_gen *g = *pp;
		if (!master_gen_running(g)) {
			log_info("generation %d finished draining", g->id);
			*pp = g->next;
			master_rt_retire(m, g);
			master_gen_free(g);
			continue;
		}
		if (now >= g->kill_at) {
			log_warn("generation %d: drain_timeout passed; killing its workers",
				 g->id);
			master_gen_signal(g, SIGKILL);
			g->kill_at = now + MASTER_KILL_GRACE_MS;
		}
		next = g->kill_at < next ? g->kill_at : next;
		pp = &g->next;
	}
	return next;
}

/** @brief Stop: the generation drains, then we exit. */
static void master_stop(struct master *m, const char *why)
{
	if (m->stopping)
		return;
	log_notice("%s: stopping; connections may finish (drain_timeout %d s)",
		   why, m->gens->cfg.drain_timeout);
	master_notify("STOPPING=1");
	m->stopping = 1;
	master_gen_drain(m->gens);
}

static void master_signals(struct master *m, int *reload)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(m->sfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			master_stop(m, strsignal(si.ssi_signo));
			break;
		case SIGQUIT:
			log_notice("SIGQUIT: stopping now");
			master_notify("STOPPING=1");
			m->stopping = 1;
			for (struct master_gen *g = m->gens; g; g = g->next) {
				master_gen_signal(g, SIGKILL);
				g->draining = 1;
				g->kill_at = timer_now_ms() + MASTER_KILL_GRACE_MS;
			}
			break;
		case SIGHUP:
			*reload = !m->stopping;
			break;
		case SIGUSR1:
			/* The master makes the new file, before the
			 * workers (maybe unprivileged) open it. */
			if (log_reopen() < 0)
				log_err("SIGUSR1: reopening the log file: %s",
					strerror(errno));
			else
				master_log_chown(&m->gens->cfg);
			for (struct master_gen *g = m->gens; g; g = g->next)
				master_gen_signal(g, SIGUSR1);
			break;
		default:
			break;
		}
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_reaped(m, pid, status);
}

/** @brief Supervise until stopped and every worker is gone; meanwhile
 *  serve the control socket and console. */
static void master_loop(struct master *m)
{
	for (;;) {
		uint64_t now = timer_now_ms();
		uint64_t next = master_spawn_due(m, now);
		uint64_t drains = master_tend_drains(m, now);
		struct pollfd pfd[1 + CONTROL_POLLFDS + METRICS_POLLFDS];
		int reload = 0, n = 1, nc = 0, nm = 0, mt;
		char err[CFG_ERRLEN];

		if (m->stopping && !m->gens->next && !master_gen_running(m->gens))
			return;
		if (m->stopping && now >= m->gens->kill_at) {
			master_gen_signal(m->gens, SIGKILL);
			m->gens->kill_at = now + MASTER_KILL_GRACE_MS;
		}
		if (m->stopping && m->gens->kill_at < next)
			next = m->gens->kill_at;
		next = drains < next ? drains : next;
		pfd[0] = (struct pollfd){ m->sfd, POLLIN, 0 };
		if (m->ctl && !m->stopping)
			nc = control_pollfds(m->ctl, pfd + 1, CONTROL_POLLFDS);
		if (m->metrics)
			nm = metrics_pollfds(m->metrics, pfd + 1 + nc, METRICS_POLLFDS);
		n = 1 + nc + nm;
		if (m->metrics && (mt = metrics_timeout_ms(m->metrics)) >= 0 &&
		    (next == UINT64_MAX || now + (uint64_t)mt < next))
			next = now + (uint64_t)mt;
		poll(pfd, n, next == UINT64_MAX ? -1 :
		     (int)(next > now ? next - now : 0));
		master_signals(m, &reload);
		if (reload)
			master_reload(m, err, sizeof err);
		if (nc && control_handle(m->ctl, pfd + 1, nc) == CONTROL_EXIT)
			m->stop_wanted = 1;
		if (m->metrics)
			metrics_handle(m->metrics, pfd + 1 + nc, nm);
		if (m->stop_wanted)
			master_stop(m, "console: exit");
	}
}

/** @brief daemon.control_socket, and the console of `ssltunneld
 *  connect`. */
static int master_control_open(struct master *m, const struct master_opts *o)
{
	const struct cfg *c = &m->gens->cfg;
	char err[300];

	if (!c->control_socket && !o->console)
		return 0;
	if (!(m->ctl = control_new(master_ctl_exec, m))) {
		master_fail(c, "control: out of memory");
		return -1;
	}
	if (c->control_socket &&
	    control_listen(m->ctl, c->control_socket,
			   c->user ? (uid_t)c->uid : geteuid(),
			   c->user ? (gid_t)c->gid : (gid_t)-1, err,
			   sizeof err) < 0) {
		master_fail(c, "cannot start: daemon.control_socket: %s", err);
		return -1;
	}
	if (o->console && control_console(m->ctl, STDIN_FILENO, STDOUT_FILENO) < 0) {
		master_fail(c, "console: %s", strerror(errno));
		return -1;
	}
	m->console_via = o->console_via;
	return 0;
}

/** @brief daemon.metrics_listen: GET /metrics, served by the master. */
static int master_metrics_open(struct master *m)
{
	const struct cfg *c = &m->gens->cfg;
	char err[300];

	if (!c->metrics_listen)
		return 0;
	if (!(m->metrics = metrics_new(master_metrics, m))) {
		master_fail(c, "metrics: out of memory");
		return -1;
	}
	if (metrics_listen(m->metrics, c->metrics_listen, err, sizeof err) < 0) {
		master_fail(c, "cannot start: daemon.metrics_listen: %s", err);
		return -1;
	}
	log_notice("metrics: Prometheus text on http://%s/metrics", c->metrics_listen);
	return 0;
}

int master_run(struct cfg *cfg, struct tunnel *tunnels,
	       const struct master_opts *o)
{
	struct master m = { .sfd = -1, .started = timer_now_ms() };
	int detach = o->detach;
	char err[CFG_ERRLEN];
	int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
		       SIGUSR2, 0 };
	char *pid_file;

	if (master_log_setup(cfg) < 0) {
		fprintf(stderr, "ssltunneld: log_target %s: %s\n", cfg->log_file,
			strerror(errno));
		return 1;
	}
	master_log_warnings(cfg);
	master_raise_nofile();
	m.gens = master_gen_new(&m, cfg, tunnels, err, sizeof err);
	if (!m.gens) {
		/* @cfg moved into the failed generation, which is freed. */
		fprintf(stderr, "ssltunneld: %s\n", err);
		if (log_enabled(LOG_ERR))
			log_err("%s", err);
		return 1;
	}
	master_log_tunnels(m.gens);
	master_log_nofile(m.gens);
	if (master_control_open(&m, o) < 0 || master_metrics_open(&m) < 0) {
		control_free(m.ctl);
		metrics_free(m.metrics);
		master_gen_free(m.gens);
		return 1;
	}
	if (o->on_listening)
		o->on_listening(&m.gens->cfg);
	/* Blocked before detaching: a signal sent as soon as the starting
	 * command returned waits for the loop instead of killing us. */
	sigemptyset(&m.blocked);
	for (int i = 0; sigs[i]; i++)
		sigaddset(&m.blocked, sigs[i]);
	sigprocmask(SIG_BLOCK, &m.blocked, NULL);
	if (detach ? master_detach(&m.gens->cfg) < 0 :
	    master_write_pid(m.gens->cfg.pid_file) < 0) {
		master_fail(&m.gens->cfg, "cannot start: pid_file %s: %s",
			    m.gens->cfg.pid_file, strerror(errno));
		control_free(m.ctl);
		metrics_free(m.metrics);
		master_gen_free(m.gens);
		return 1;
	}
	/* The pid file named at start is the one written and removed; a
	 * reload does not move it. */
	pid_file = m.gens->cfg.pid_file ? strdup(m.gens->cfg.pid_file) : NULL;
	m.sfd = signalfd(-1, &m.blocked, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m.sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		control_free(m.ctl);
		metrics_free(m.metrics);
		master_gen_free(m.gens);
		free(pid_file);
		return 1;
	}
	master_notify("READY=1");
	if (o->console)
		control_prompt(m.ctl);
	master_loop(&m);
	log_notice("all workers stopped; exiting");
	control_free(m.ctl);
	metrics_free(m.metrics);
	master_rt_free_all(&m);
	if (pid_file)
		unlink(pid_file);
	free(pid_file);
	while (m.gens) {
		struct master_gen *g = m.gens;
		m.gens = g->next;
		master_gen_free(g);
	}
	close(m.sfd);
	return 0;
}
