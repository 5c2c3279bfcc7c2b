/* timer.c - deadlines for a worker's connections (a binary min-heap) */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "timer.h"

uint64_t timer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timer_place(struct timer_heap *h, size_t i, struct timer *t)
{
	h->v[i] = t;
	t->slot = i;
}

static void timer_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h->v[parent]->when <= t->when)
			break;
		timer_place(h, i, h->v[parent]);
		i = parent;
	}
	timer_place(h, i, t);
}

static void timer_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (t->when <= h->v[c]->when)
			break;
		timer_place(h, i, h->v[c]);
		i = c;
	}
	timer_place(h, i, t);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t when)
{
	if (t->slot != TIMER_UNARMED)
		timer_cancel(h, t);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct timer **v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	t->when = when;
	timer_place(h, h->n++, t);
	timer_up(h, t->slot);
	return 0;
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	size_t i = t->slot;

	if (i == TIMER_UNARMED)
		return;
	t->slot = TIMER_UNARMED;
	if (--h->n == i)
		return;
	timer_place(h, i, h->v[h->n]);
	timer_down(h, i);
	timer_up(h, h->v[i]->slot);
}

struct timer *timer_pop_due(struct timer_heap *h, uint64_t now)
{
	struct timer *t;

	if (h->n == 0 || h->v[0]->when > now)
		return NULL;
	t = h->v[0];
	timer_cancel(h, t);
	return t;
}

int timer_wait_ms(const struct timer_heap *h, uint64_t now)
{
	if (h->n == 0)
		return -1;
	if (h->v[0]->when <= now)
		return 0;
	uint64_t d = h->v[0]->when - now;
	return d > 60000 ? 60000 : (int)d;
}

void timer_heap_free(struct timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
