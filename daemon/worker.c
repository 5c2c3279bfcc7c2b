/* worker.c - a worker process: one epoll loop serving many connections */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "hc_listen.h"
#include "log.h"
#include "relay.h"
#include "resolve.h"
#include "runtime.h"
#include "sandbox.h"
#include "worker.h"

#define WORKER_EVENTS 256
#define WORKER_ACCEPT_BATCH 64
#define WORKER_ACCEPT_PAUSE_MS 100
/* How often idle_timeout looks at the connections: closes come between
 * idle_timeout and idle_timeout plus this after the last byte. */
#define WORKER_IDLE_SWEEP_MS 500
/* After connections close, the worker gives their memory back to the
 * kernel this much later: closes that come together cost one trim, and
 * a worker trims at most twice a second. */
#define WORKER_TRIM_DELAY_MS 500

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

unsigned char *worker_buf_get(struct worker *w)
{
	if (w->npool)
		return w->pool[--w->npool];
	return malloc(MOVER_BUF_SIZE);
}

void worker_buf_put(struct worker *w, unsigned char *buf)
{
	if (w->npool < (int)(sizeof w->pool / sizeof *w->pool))
		w->pool[w->npool++] = buf;
	else
		free(buf);
}

int worker_pipe_get(struct worker *w, int p[2])
{
	if (w->npipes) {
		w->npipes--;
		p[0] = w->pipes[w->npipes][0];
		p[1] = w->pipes[w->npipes][1];
		return 0;
	}
	return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

void worker_pipe_put(struct worker *w, int p[2], int empty)
{
	if (p[0] < 0)
		return;
	if (empty && w->npipes < (int)(sizeof w->pipes / sizeof *w->pipes)) {
		w->pipes[w->npipes][0] = p[0];
		w->pipes[w->npipes][1] = p[1];
		w->npipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

void worker_queue(struct worker *w, struct conn *c)
{
	if (c->queued)
		return;
	c->queued = 1;
	c->next_ready = w->ready;
	w->ready = c;
}

/** @brief Add (EPOLL_CTL_ADD) or remove (EPOLL_CTL_DEL) the listeners
 *  of one tunnel. */
static int worker_tunnel_listeners(struct worker *w, struct tunnel *t, int op)
{
	for (int j = 0; j < t->nlisteners; j++) {
		struct listener *l = &t->listeners[j];
		struct epoll_event ev = {
			/* Wake one worker per new connection. */
			.events = EPOLLIN | EPOLLEXCLUSIVE,
			.data.ptr = l,
		};
		if (l->fd >= 0 && epoll_ctl(w->ep, op, l->fd, &ev) < 0)
			return -1;
	}
	return 0;
}

/** @brief The same for every listener: configured and runtime tunnels. */
static int worker_listeners(struct worker *w, int op)
{
	for (size_t i = 0; i < w->ntunnels; i++)
		if (worker_tunnel_listeners(w, &w->tunnels[i], op) < 0)
			return -1;
	for (size_t i = 0; i < w->nrt; i++)
		if (worker_tunnel_listeners(w, w->rt[i], op) < 0)
			return -1;
	return 0;
}

/** @brief Close a tunnel's listeners (the master and other workers keep
 *  their own copies of the socket: the epoll entry goes explicitly). */
static void worker_close_listeners(struct worker *w, struct tunnel *t)
{
	if (!w->accept_resume && !w->draining)
		worker_tunnel_listeners(w, t, EPOLL_CTL_DEL);
	for (int j = 0; j < t->nlisteners; j++) {
		close(t->listeners[j].fd);
		t->listeners[j].fd = -1;
	}
}

/** @brief Accept what is waiting on a listener, a bounded batch at a
 *  time so one busy tunnel can't starve the others. Out of descriptors
 *  or memory, the worker stops accepting for a moment rather than spin
 *  on a listener that stays readable. */
static void worker_accept(struct worker *w, struct listener *l)
{
	for (int i = 0; i < WORKER_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			uint64_t now = timer_now_ms();
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/* Once per shortage, not once per retry: out of
			 * descriptors for an hour is two lines, not 36,000. */
			if (!w->accept_short) {
				w->accept_short = now ? now : 1;
				log_warn("tunnel %s: accept: %s; not accepting for %d ms",
					 l->t->cfg->name, strerror(errno),
					 WORKER_ACCEPT_PAUSE_MS);
			}
			w->accept_fails++;
			if (!w->accept_resume && worker_listeners(w, EPOLL_CTL_DEL) == 0)
				w->accept_resume = now + WORKER_ACCEPT_PAUSE_MS;
			return;
		}
		if (w->accept_short) {
			log_notice("tunnel %s: accepting again after %llu ms (%lu failed accepts, retried every %d ms)",
				   l->t->cfg->name,
				   (unsigned long long)(timer_now_ms() - w->accept_short),
				   w->accept_fails, WORKER_ACCEPT_PAUSE_MS);
			w->accept_short = 0;
			w->accept_fails = 0;
		}
		conn_accept(w, l->t, fd, (struct sockaddr *)&ss);
	}
}

static void worker_accept_resume(struct worker *w)
{
	if (!w->accept_resume || timer_now_ms() < w->accept_resume)
		return;
	w->accept_resume = 0;
	if (!w->draining && worker_listeners(w, EPOLL_CTL_ADD) < 0)
		log_err("worker %d: epoll: %s", w->id, strerror(errno));
}

/** @brief Connections that yielded for fairness get their turn. */
static void worker_run_ready(struct worker *w)
{
	struct conn *c = w->ready, *next;

	w->ready = NULL;
	for (; c; c = next) {
		next = c->next_ready;
		c->queued = 0;
		conn_resume(c);
	}
}

static void worker_run_timers(struct worker *w)
{
	uint64_t now = timer_now_ms();
	struct timer *t;

	while ((t = timer_pop_due(&w->timers, now)))
		conn_timeout(container_of(t, struct conn, timer));
}

/** @brief idle_timeout's sweep, when one is due. */
static void worker_idle(struct worker *w)
{
	uint64_t now;

	if (!w->idle_any || (now = timer_now_ms()) < w->idle_at)
		return;
	conn_idle_sweep(w, now);
	w->idle_at = now + WORKER_IDLE_SWEEP_MS;
}

/** @brief Free what closed this round; a closed connection still on the
 *  run-again list waits for the next round. */
static void worker_reap(struct worker *w)
{
	struct conn *c = w->dead, *next, *keep = NULL;

	w->dead = NULL;
	for (; c; c = next) {
		next = c->next_dead;
		if (c->queued) {
			c->next_dead = keep;
			keep = c;
		} else {
			conn_free(c);
			if (!w->trim_due)
				w->trim_due = timer_now_ms() + WORKER_TRIM_DELAY_MS;
		}
	}
	w->dead = keep;
}

/** @brief Give the memory of closed connections back to the kernel. Their
 *  relay buffers (64 KiB each) and GnuTLS's record buffers are below
 *  glibc's mmap threshold, so free() leaves them in the heap: after 100
 *  stalled connections ended, a worker kept ~30 MiB it no longer used.
 *  The idle buffer pool goes too (it refills in a few allocations);
 *  malloc_trim() then returns every free page of the heap, not only its
 *  top. */
static void worker_trim(struct worker *w)
{
	if (!w->trim_due || timer_now_ms() < w->trim_due)
		return;
	w->trim_due = 0;
	while (w->npool)
		free(w->pool[--w->npool]);
#ifdef HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

/** @brief Stop accepting: the listeners belong to the next generation
 *  (or to nobody) now. The epoll entry goes with an explicit DEL, since
 *  other processes still hold the same socket open. */
static void worker_drain(struct worker *w)
{
	if (w->draining)
		return;
	for (size_t i = 0; i < w->ntunnels; i++)
		worker_close_listeners(w, &w->tunnels[i]);
	for (size_t i = 0; i < w->nrt; i++)
		worker_close_listeners(w, w->rt[i]);
	hcl_drain(w);
	relay_drain(w);
	w->draining = 1;
	w->drain_deadline = timer_now_ms() + 1000ULL * w->drain_timeout;
	log_info("worker %d: draining %zu connection%s", w->id, w->nconns,
		 w->nconns == 1 ? "" : "s");
}

/** @brief The configured client tunnel named @name, or NULL. */
static struct tunnel *worker_find_via(struct worker *w, const char *name)
{
	for (size_t i = 0; i < w->ntunnels; i++)
		if (strcmp(w->tunnels[i].cfg->name, name) == 0)
			return &w->tunnels[i];
	return NULL;
}

/** @brief RT_ADD: a runtime tunnel from the master, listening on @fd. */
static void worker_rt_add(struct worker *w, const struct rt_msg *m, int fd)
{
	struct tunnel *via = worker_find_via(w, m->via), *t, **rt;
	char err[300];

	if (fd < 0 || !via || w->draining) {
		if (!w->draining)
			log_err("worker %d: runtime tunnel %d: %s", w->id, m->id,
				fd < 0 ? "no listening socket came with it" :
				"its via tunnel is not in this generation");
		if (fd >= 0)
			close(fd);
		return;
	}
	rt = realloc(w->rt, (w->nrt + 1) * sizeof *w->rt);
	if (!rt) {
		close(fd);
		log_err("worker %d: runtime tunnel %d: out of memory", w->id, m->id);
		return;
	}
	w->rt = rt;
	t = rt_tunnel_new(via, m, fd, &w->rt_stats[m->slot], err, sizeof err);
	if (!t) {
		close(fd);
		log_err("worker %d: runtime tunnel %d: %s", w->id, m->id, err);
		return;
	}
	w->rt[w->nrt++] = t;
	if (!w->accept_resume && worker_tunnel_listeners(w, t, EPOLL_CTL_ADD) < 0)
		log_err("worker %d: epoll: %s", w->id, strerror(errno));
	log_debug("worker %d: tunnel %s: listening on %s, asking for %s",
		  w->id, t->cfg->name, t->cfg->listen, t->cfg->destination);
}

/** @brief RT_CLOSE: stop accepting on a runtime tunnel; its connections
 *  go on, and it is freed after the last (worker_rt_reap). */
static void worker_rt_close(struct worker *w, int id)
{
	for (size_t i = 0; i < w->nrt; i++)
		if (w->rt[i]->runtime_id == id && w->rt[i]->nlisteners) {
			worker_close_listeners(w, w->rt[i]);
			w->rt[i]->nlisteners = 0;
		}
}

/** @brief Free closed runtime tunnels nobody uses any more. */
static void worker_rt_reap(struct worker *w)
{
	for (size_t i = 0; i < w->nrt;) {
		struct tunnel *t = w->rt[i];
		if (t->nlisteners || t->stats->active) {
			i++;
			continue;
		}
		rt_tunnel_free(t);
		w->rt[i] = w->rt[--w->nrt];
	}
}

/** @brief Messages from the master; its end closing means it is gone. */
static void worker_control(struct worker *w)
{
	struct rt_msg m;
	int fd, rc;

	for (int i = 0; i < 64; i++) {
		rc = rt_recv(w->ctl.fd, &m, &fd);
		if (rc == 0)
			return;
		if (rc < 0) {
			if (errno != EPROTO) {
				/* The master is gone: finish like on SIGTERM. */
				epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ctl.fd, NULL);
				close(w->ctl.fd);
				w->ctl.fd = -1;
				worker_drain(w);
				return;
			}
			log_err("worker %d: a malformed message from the master",
				w->id);
			continue;
		}
		if (m.op == RT_ADD)
			worker_rt_add(w, &m, fd);
		else if (m.op == RT_CLOSE)
			worker_rt_close(w, m.id);
		else if (fd >= 0)
			close(fd);
	}
}

static void worker_signals(struct worker *w, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			worker_drain(w);
		else if (si.ssi_signo == SIGUSR1 && log_reopen() < 0)
			log_err("worker %d: reopening the log file: %s", w->id,
				strerror(errno));
	}
}

/** @brief While draining: done when the last connection is, or when
 *  drain_timeout says so. */
static void worker_check_drained(struct worker *w)
{
	if (!w->draining)
		return;
	if (w->nconns == 0) {
		log_info("worker %d: drained", w->id);
		exit(0);
	}
	if (timer_now_ms() >= w->drain_deadline) {
		log_notice("worker %d: drain_timeout passed; closing %zu connection%s",
			   w->id, w->nconns, w->nconns == 1 ? "" : "s");
		exit(0);
	}
}

static int worker_timeout(const struct worker *w)
{
	uint64_t now = timer_now_ms();
	int t = w->ready ? 0 : timer_wait_ms(&w->timers, now);

	if (w->draining) {
		int d = w->drain_deadline > now ?
			(int)(w->drain_deadline - now) : 0;
		if (t < 0 || d < t)
			t = d;
	}
	if (w->accept_resume) {
		int a = w->accept_resume > now ? (int)(w->accept_resume - now) : 0;
		if (t < 0 || a < t)
			t = a;
	}
	/* Without connections nothing can idle: no wake-ups for it. */
	if (w->idle_any && w->nconns) {
		int i = w->idle_at > now ? (int)(w->idle_at - now) : 0;
		if (t < 0 || i < t)
			t = i;
	}
	if (w->trim_due) {
		int m = w->trim_due > now ? (int)(w->trim_due - now) : 0;
		if (t < 0 || m < t)
			t = m;
	}
	{
		int r = resolve_wait_ms(w->res);
		if (r >= 0 && (t < 0 || r < t))
			t = r;
		r = hcl_wait_ms(w, now);
		if (r >= 0 && (t < 0 || r < t))
			t = r;
	}
	return t;
}

/** @brief Password logins: a cache per tunnel that takes them, and the
 *  verifier threads (started here, after fork and the privilege drop). */
static int worker_auth_setup(struct worker *w, const struct worker_setup *s)
{
	char err[256];
	int any = 0;

	for (size_t i = 0; i < w->ntunnels; i++) {
		struct tunnel *t = &w->tunnels[i];
		if (!t->cfg->passwords)
			continue;
		any = 1;
		if (auth_cache_new(&t->auth_cache, 1024, t->cfg->auth_cache_ttl) < 0) {
			log_err("worker %d: tunnel %s: login cache: out of memory",
				w->id, t->cfg->name);
			return -1;
		}
	}
	if (!any)
		return 0;
	if (auth_pool_new(&w->auth, s->auth_threads, 64, err, sizeof err) < 0) {
		log_err("worker %d: password verifiers: %s", w->id, err);
		return -1;
	}
	auth_pool_set_gate(w->auth, s->gate);
	w->authev.kind = EV_AUTH;
	w->authev.fd = auth_pool_fd(w->auth);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->authev };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->authev.fd, &ev) < 0) {
		log_err("worker %d: epoll: %s", w->id, strerror(errno));
		return -1;
	}
	return 0;
}

/** @brief Confine the worker, now that everything it opens is open
 *  (sandbox.c); -1 when it must be and can't. */
static int worker_sandbox(const struct worker *w, int mode)
{
	unsigned has = w->res ? SANDBOX_RESOLVER : 0;
	int id = w->id;
	char err[256];

	if (mode == WORKER_SANDBOX_OFF)
		return 0;
	/* jansson seeds its hash tables from /dev/urandom on first use (a
	 * relay's JSON): now, while the worker may still open it. */
	json_object_seed(0);
	if (sandbox_enter(has, err, sizeof err) == 0)
		return 0;
	if (mode == WORKER_SANDBOX_MUST) {
		log_err("worker %d: %s (daemon.seccomp = true)", id, err);
		return -1;
	}
	log_warn("worker %d: running without a seccomp filter: %s", id, err);
	return 0;
}

void worker_run(const struct worker_setup *s)
{
	struct worker w = { .tunnels = s->tunnels, .ntunnels = s->ntunnels,
			    .ktls = s->ktls, .res = s->res, .id = s->id,
			    .drain_timeout = s->drain_timeout,
			    .lockout = s->lockout,
			    .auth_failures = s->auth_failures,
			    .auth_window_s = s->auth_window_s,
			    .auth_lock_s = s->auth_lock_s,
			    .rt_stats = s->stats + s->ntunnels,
			    .ctl = { EV_CONTROL, s->ctl } };
	struct epoll_event evs[WORKER_EVENTS];
	struct { int kind; int fd; } sig = { EV_SIGNAL, -1 };
	int id = s->id;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < w.ntunnels; i++) {
		w.tunnels[i].stats = &s->stats[i];
		w.idle_any |= w.tunnels[i].cfg->idle_timeout > 0;
	}
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	sig.fd = signalfd(-1, s->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &sig };
	struct epoll_event cev = { .events = EPOLLIN, .data.ptr = &w.ctl };
	if (w.ep < 0 || sig.fd < 0 ||
	    epoll_ctl(w.ep, EPOLL_CTL_ADD, sig.fd, &sev) < 0 ||
	    (w.ctl.fd >= 0 && epoll_ctl(w.ep, EPOLL_CTL_ADD, w.ctl.fd, &cev) < 0)) {
		log_err("worker %d: epoll/signalfd: %s", id, strerror(errno));
		exit(1);
	}
	if (worker_auth_setup(&w, s) < 0)
		exit(1);
	if (w.res)
		resolve_attach(w.res, w.ep);
	if (worker_listeners(&w, EPOLL_CTL_ADD) < 0) {
		log_err("worker %d: epoll: %s", id, strerror(errno));
		exit(1);
	}
	if (hcl_worker_start(&w) < 0) {
		log_err("worker %d: out of memory", id);
		exit(1);
	}
	if (relay_worker_start(&w, s->hc_mesh) < 0) {
		log_err("worker %d: the relay's inbox: %s", id, strerror(errno));
		exit(1);
	}
	if (worker_sandbox(&w, s->sandbox) < 0)
		exit(1);
	log_info("worker %d started (pid %d)", id, (int)getpid());

	for (;;) {
		int n = epoll_wait(w.ep, evs, WORKER_EVENTS, worker_timeout(&w));

		if (n < 0 && errno != EINTR) {
			log_err("worker %d: epoll_wait: %s", id, strerror(errno));
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			int kind = *(int *)evs[i].data.ptr;
			if (kind == EV_LISTENER)
				worker_accept(&w, evs[i].data.ptr);
			else if (kind == EV_SIGNAL)
				worker_signals(&w, sig.fd);
			else if (kind == EV_RESOLVER)
				resolve_event(evs[i].data.ptr, evs[i].events);
			else if (kind == EV_AUTH)
				auth_pool_event(w.auth);
			else if (kind == EV_CONTROL)
				worker_control(&w);
			else if (kind == EV_HC)
				relay_inbox_event();
			else
				conn_event(evs[i].data.ptr, evs[i].events);
		}
		resolve_tick(w.res);
		worker_run_ready(&w);
		worker_run_timers(&w);
		worker_idle(&w);
		hcl_run(&w);
		worker_reap(&w);
		worker_trim(&w);
		worker_rt_reap(&w);
		worker_accept_resume(&w);
		worker_check_drained(&w);
	}
}
