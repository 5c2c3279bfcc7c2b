/* worker.c - a worker process: one epoll loop serving many connections */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "worker.h"

#define WORKER_EVENTS 256
#define WORKER_ACCEPT_BATCH 64

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

/** @brief Accept what is waiting on a listener, a bounded batch at a
 *  time so one busy tunnel can't starve the others. */
static void worker_accept(struct worker *w, struct listener *l)
{
	static uint64_t last_warn;

	for (int i = 0; i < WORKER_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			uint64_t now = timer_now_ms();
			if (now - last_warn > 1000) {
				last_warn = now;
				log_warn("tunnel %s: accept: %s", l->t->cfg->name,
					 strerror(errno));
			}
			return;
		}
		conn_accept(w, l->t, fd, (struct sockaddr *)&ss);
	}
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

void worker_run(struct tunnel *tunnels, size_t ntunnels, int id,
		const struct worker_ktls *ktls)
{
	struct worker w = { .tunnels = tunnels, .ntunnels = ntunnels,
			    .ktls = ktls };
	struct epoll_event evs[WORKER_EVENTS];

	signal(SIGPIPE, SIG_IGN);
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (w.ep < 0) {
		log_err("worker %d: epoll: %s", id, strerror(errno));
		exit(1);
	}
	for (size_t i = 0; i < ntunnels; i++)
		for (int j = 0; j < tunnels[i].nlisteners; j++) {
			struct listener *l = &tunnels[i].listeners[j];
			struct epoll_event ev = {
				/* Wake one worker per new connection. */
				.events = EPOLLIN | EPOLLEXCLUSIVE,
				.data.ptr = l,
			};
			if (epoll_ctl(w.ep, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
				log_err("worker %d: epoll: %s", id, strerror(errno));
				exit(1);
			}
		}
	log_info("worker %d started (pid %d)", id, (int)getpid());

	for (;;) {
		int timeout = w.ready ? 0 :
			timer_wait_ms(&w.timers, timer_now_ms());
		int n = epoll_wait(w.ep, evs, WORKER_EVENTS, timeout);

		if (n < 0 && errno != EINTR) {
			log_err("worker %d: epoll_wait: %s", id, strerror(errno));
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			int kind = *(int *)evs[i].data.ptr;
			if (kind == EV_LISTENER)
				worker_accept(&w, evs[i].data.ptr);
			else
				conn_event(evs[i].data.ptr, evs[i].events);
		}
		worker_run_ready(&w);
		worker_run_timers(&w);
		worker_reap(&w);
	}
}
