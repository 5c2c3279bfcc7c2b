/* auth_pool.c - the threads that run crypt(3) for a worker, so a slow
 * hash never stalls its epoll loop
 *
 * Ownership. A job belongs to the pool from auth_submit() until the pool
 * frees it; the caller only holds a handle, which it may pass to
 * auth_cancel() until @done has run. A job is in one of three states,
 * changed only under the pool's mutex:
 *
 *   QUEUED   on the queue. auth_cancel() unlinks and frees it.
 *   RUNNING  a thread verifies it, reading only the job's own copies of
 *            user and password (wiped when done). auth_cancel() only marks
 *            it cancelled: the thread still owns it.
 *   DONE     on the finished list, the eventfd written. auth_pool_event()
 *            (on the loop's thread) detaches the list, runs @done of each
 *            job not cancelled and frees it. auth_cancel() marks it.
 *
 * So the loop's thread (submit, cancel, event, free) is the only one that
 * frees a job after it was queued, and never one a thread is running.
 * auth_pool_free() stops the threads (each finishes the job it runs),
 * joins them, then frees what is left, queued or finished, without
 * calling @done. A @done may submit or cancel jobs, not free the pool.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth.h"

#define AUTH_POOL_THREADS_MAX 64

enum auth_job_state { AUTH_JOB_QUEUED, AUTH_JOB_RUNNING, AUTH_JOB_DONE };

struct auth_job {
	struct auth_job *next;		/* on the queue or the finished list */
	struct auth_pool *pool;
	const struct auth_db *db;	/* what it is checked against */
	void (*done)(void *arg, int ok);
	void *arg;
	enum auth_job_state state;
	int cancelled;
	int ok;
	char user[AUTH_USER_MAX];
	char pass[AUTH_PASS_MAX];
};

struct auth_job_list {
	struct auth_job *head, *tail;
};

struct auth_pool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_cond_t ready;		/* a thread reached its loop */
	int started;			/* threads that did */
	struct auth_job_list queue, finished;
	int queued, max_queue;
	int stop;
	int efd;
	int nthreads;
	pthread_t *threads;
	struct auth_gate *gate;		/* shared cap on verifications, or NULL */
};

/** @brief Append @j to @l. */
static void auth_list_push(struct auth_job_list *l, struct auth_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

/** @brief Take the first job of @l, or NULL. */
static struct auth_job *auth_list_pop(struct auth_job_list *l)
{
	struct auth_job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/** @brief Unlink @j from @l; 1 if it was there. */
static int auth_list_remove(struct auth_job_list *l, struct auth_job *j)
{
	struct auth_job *prev = NULL;

	for (struct auth_job *c = l->head; c; prev = c, c = c->next) {
		if (c != j)
			continue;
		if (prev)
			prev->next = c->next;
		else
			l->head = c->next;
		if (l->tail == c)
			l->tail = prev;
		c->next = NULL;
		return 1;
	}
	return 0;
}

/** @brief Wipe the credentials in @j and free it. */
static void auth_job_free(struct auth_job *j)
{
	explicit_bzero(j, sizeof *j);
	free(j);
}

/** @brief A verification thread: takes jobs off the queue until told to
 *  stop, under SCHED_IDLE so the loops come first: a worker that wakes
 *  preempts it at once (nice +10 only weighs it less, and measured
 *  p99 round trips of open tunnels of 10-20x quiet under a flood of
 *  logins; bench/auth-flood). Where SCHED_IDLE is refused, nice +19. */
static void *auth_pool_thread(void *arg)
{
	struct auth_pool *p = arg;
	const uint64_t one = 1;

	struct sched_param sp = { .sched_priority = 0 };

	/* Linux policy and nice are per thread; failing both leaves it at
	 * the loop's level. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&p->mu);
	p->started++;
	pthread_cond_signal(&p->ready);
	for (;;) {
		struct auth_job *j;
		struct auth_gate *gate;
		int ok, slot;

		while (!p->stop && !p->queue.head)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stop)
			break;
		j = auth_list_pop(&p->queue);
		p->queued--;
		j->state = AUTH_JOB_RUNNING;
		gate = p->gate;
		pthread_mutex_unlock(&p->mu);

		slot = auth_gate_enter(gate);
		ok = auth_db_verify(j->db, j->user, j->pass);
		auth_gate_leave(gate, slot);
		explicit_bzero(j->user, sizeof j->user);
		explicit_bzero(j->pass, sizeof j->pass);

		pthread_mutex_lock(&p->mu);
		j->ok = ok;
		j->state = AUTH_JOB_DONE;
		auth_list_push(&p->finished, j);
		/* EAGAIN only when the counter is near 2^64: already readable */
		if (write(p->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			perror("auth_pool: eventfd write");
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/** @brief Stop and join the first @n threads of @p. */
static void auth_pool_join(struct auth_pool *p, int n)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
}

/** @brief Free @p's jobs, its eventfd and itself (threads joined). */
static void auth_pool_release(struct auth_pool *p)
{
	struct auth_job *j;

	while ((j = auth_list_pop(&p->queue)))
		auth_job_free(j);
	while ((j = auth_list_pop(&p->finished)))
		auth_job_free(j);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

/** @brief Start @p's threads with every signal but SIGSYS blocked in
 *  them, so the worker's signalfd keeps getting its signals; return once
 *  all wait for jobs, past the calls a thread makes as it starts, so a
 *  seccomp filter loaded next need not allow those (sandbox.c). */
static int auth_pool_start(struct auth_pool *p, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc = 0, n;

	sigfillset(&all);
	/* A seccomp trap's blocked would kill unlogged (sandbox.c). */
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (n = 0; n < p->nthreads; n++) {
		rc = pthread_create(&p->threads[n], NULL, auth_pool_thread, p);
		if (rc != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		pthread_mutex_lock(&p->mu);
		while (p->started < p->nthreads)
			pthread_cond_wait(&p->ready, &p->mu);
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	snprintf(err, errlen, "auth pool: cannot start thread %d of %d: %s",
		 n + 1, p->nthreads, strerror(rc));
	auth_pool_join(p, n);
	return -1;
}

int auth_pool_new(struct auth_pool **out, int nthreads, int max_queue,
		  char *err, size_t errlen)
{
	struct auth_pool *p;

	*out = NULL;
	if (nthreads < 1 || nthreads > AUTH_POOL_THREADS_MAX || max_queue < 1) {
		snprintf(err, errlen,
			 "auth pool: %d threads and a queue of %d: need 1 to %d threads and a queue of at least 1",
			 nthreads, max_queue, AUTH_POOL_THREADS_MAX);
		return -1;
	}
	p = calloc(1, sizeof *p);
	if (!p || !(p->threads = calloc(nthreads, sizeof *p->threads))) {
		free(p);
		snprintf(err, errlen, "auth pool: out of memory");
		return -1;
	}
	p->nthreads = nthreads;
	p->max_queue = max_queue;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->ready, NULL);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		snprintf(err, errlen, "auth pool: eventfd: %s", strerror(errno));
		auth_pool_release(p);
		return -1;
	}
	if (auth_pool_start(p, err, errlen) < 0) {
		auth_pool_release(p);
		return -1;
	}
	*out = p;
	return 0;
}

void auth_pool_set_gate(struct auth_pool *p, struct auth_gate *g)
{
	pthread_mutex_lock(&p->mu);
	p->gate = g;
	pthread_mutex_unlock(&p->mu);
}

int auth_pool_fd(const struct auth_pool *p)
{
	return p->efd;
}

struct auth_job *auth_submit(struct auth_pool *p, const struct auth_db *db,
			     const char *user, const char *pass,
			     void (*done)(void *arg, int ok), void *arg)
{
	size_t ul = strnlen(user, AUTH_USER_MAX), pl = strnlen(pass, AUTH_PASS_MAX);
	struct auth_job *j;

	if (ul >= AUTH_USER_MAX || pl >= AUTH_PASS_MAX) {
		errno = EINVAL;	/* auth_parse_basic never gives these */
		return NULL;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		errno = ENOMEM;
		return NULL;
	}
	j->pool = p;
	j->db = db;
	j->done = done;
	j->arg = arg;
	memcpy(j->user, user, ul);
	memcpy(j->pass, pass, pl);
	pthread_mutex_lock(&p->mu);
	if (p->queued >= p->max_queue) {
		pthread_mutex_unlock(&p->mu);
		auth_job_free(j);
		errno = EAGAIN;
		return NULL;
	}
	j->state = AUTH_JOB_QUEUED;
	auth_list_push(&p->queue, j);
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void auth_cancel(struct auth_job *j)
{
	struct auth_pool *p;

	if (!j)
		return;
	p = j->pool;
	pthread_mutex_lock(&p->mu);
	if (j->state == AUTH_JOB_QUEUED && auth_list_remove(&p->queue, j)) {
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		auth_job_free(j);
		return;
	}
	j->cancelled = 1;	/* running or finished: freed by the pool */
	pthread_mutex_unlock(&p->mu);
}

void auth_pool_event(struct auth_pool *p)
{
	struct auth_job_list l;
	struct auth_job *j;
	uint64_t n;

	if (read(p->efd, &n, sizeof n) < 0 && errno != EAGAIN)
		perror("auth_pool: eventfd read");
	pthread_mutex_lock(&p->mu);
	l = p->finished;
	p->finished.head = p->finished.tail = NULL;
	pthread_mutex_unlock(&p->mu);
	/* a @done may cancel a job further down @l: it only marks it */
	while ((j = auth_list_pop(&l))) {
		if (!j->cancelled && j->done)
			j->done(j->arg, j->ok);
		auth_job_free(j);
	}
}

void auth_pool_free(struct auth_pool *p)
{
	if (!p)
		return;
	auth_pool_join(p, p->nthreads);
	auth_pool_release(p);
}
