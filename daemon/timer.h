/* timer.h - deadlines for a worker's connections (a binary min-heap) */
#ifndef SSLTUNNEL_TIMER_H
#define SSLTUNNEL_TIMER_H

#include <stddef.h>
#include <stdint.h>

#define TIMER_UNARMED ((size_t)-1)

/* Embedded in whatever needs a deadline. */
struct timer {
	uint64_t when;		/* CLOCK_MONOTONIC milliseconds */
	size_t slot;		/* place in the heap, TIMER_UNARMED if none */
};

struct timer_heap {
	struct timer **v;
	size_t n, cap;
};

/** @brief Monotonic milliseconds. */
uint64_t timer_now_ms(void);
static inline void timer_init(struct timer *t) { t->slot = TIMER_UNARMED; }
/** @brief Arm (or re-arm) @t for @when. Returns -1 when out of memory. */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t when);
void timer_cancel(struct timer_heap *h, struct timer *t);
/** @brief Take out and return one timer due at @now, or NULL. */
struct timer *timer_pop_due(struct timer_heap *h, uint64_t now);
/** @brief Milliseconds until the next deadline, -1 if none (epoll timeout). */
int timer_wait_ms(const struct timer_heap *h, uint64_t now);
void timer_heap_free(struct timer_heap *h);

#endif
