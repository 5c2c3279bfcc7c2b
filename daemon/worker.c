/* worker.c - a worker process: one epoll loop serving many connections */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "resolve.h"
#include "worker.h"

#define WORKER_EVENTS 256
#define WORKER_ACCEPT_BATCH 64
#define WORKER_ACCEPT_PAUSE_MS 100

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

unsigned char *worker_buf_get(struct worker *w)
{
	if (w->npool)
		return w->pool[--w->npool];
	return malloc(RELAY_BUF_SIZE);
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

/** @brief Add (EPOLL_CTL_ADD) or remove (EPOLL_CTL_DEL) every listener
 *  of this worker's epoll set. */
static int worker_listeners(struct worker *w, int op)
{
	for (size_t i = 0; i < w->ntunnels; i++)
		for (int j = 0; j < w->tunnels[i].nlisteners; j++) {
			struct listener *l = &w->tunnels[i].listeners[j];
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
			if (now - w->accept_warned > 1000) {
				w->accept_warned = now;
				log_warn("tunnel %s: accept: %s; not accepting for %d ms",
					 l->t->cfg->name, strerror(errno),
					 WORKER_ACCEPT_PAUSE_MS);
			}
			if (!w->accept_resume && worker_listeners(w, EPOLL_CTL_DEL) == 0)
				w->accept_resume = now + WORKER_ACCEPT_PAUSE_MS;
			return;
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
			free(c);
		}
	}
	w->dead = keep;
}

/** @brief Stop accepting: the listeners belong to the next generation
 *  (or to nobody) now. The epoll entry goes with an explicit DEL, since
 *  other processes still hold the same socket open. */
static void worker_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = 1;
	w->drain_deadline = timer_now_ms() + 1000ULL * w->drain_timeout;
	if (!w->accept_resume)
		worker_listeners(w, EPOLL_CTL_DEL);
	for (size_t i = 0; i < w->ntunnels; i++)
		for (int j = 0; j < w->tunnels[i].nlisteners; j++) {
			struct listener *l = &w->tunnels[i].listeners[j];
			close(l->fd);
			l->fd = -1;
		}
	log_info("worker %d: draining %zu connection%s", w->id, w->nconns,
		 w->nconns == 1 ? "" : "s");
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
	{
		int r = resolve_wait_ms(w->res);
		if (r >= 0 && (t < 0 || r < t))
			t = r;
	}
	return t;
}

void worker_run(struct tunnel *tunnels, size_t ntunnels, int id,
		const struct worker_ktls *ktls, struct resolve *res,
		int drain_timeout, const sigset_t *sigs)
{
	struct worker w = { .tunnels = tunnels, .ntunnels = ntunnels,
			    .ktls = ktls, .res = res, .id = id,
			    .drain_timeout = drain_timeout };
	struct epoll_event evs[WORKER_EVENTS];
	struct { int kind; int fd; } sig = { EV_SIGNAL, -1 };

	signal(SIGPIPE, SIG_IGN);
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	sig.fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &sig };
	if (w.ep < 0 || sig.fd < 0 ||
	    epoll_ctl(w.ep, EPOLL_CTL_ADD, sig.fd, &sev) < 0) {
		log_err("worker %d: epoll/signalfd: %s", id, strerror(errno));
		exit(1);
	}
	if (res)
		resolve_attach(res, w.ep);
	if (worker_listeners(&w, EPOLL_CTL_ADD) < 0) {
		log_err("worker %d: epoll: %s", id, strerror(errno));
		exit(1);
	}
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
			else
				conn_event(evs[i].data.ptr, evs[i].events);
		}
		resolve_tick(w.res);
		worker_run_ready(&w);
		worker_run_timers(&w);
		worker_reap(&w);
		worker_accept_resume(&w);
		worker_check_drained(&w);
	}
}
