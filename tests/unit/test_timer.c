/* test_timer.c - the deadline min-heap: order, cancel, re-arm, waits */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"
#include "unit.h"

#define NT 1000

/* ck_assert() records every passing check through a pipe to the parent;
 * loops that check millions of times say only when something is wrong. */
#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/** @brief Every armed timer knows its slot, and no child is due before
 *  its parent. */
static void heap_check(const struct timer_heap *h)
{
	REQUIRE(h->n <= h->cap, "%zu timers, room for %zu", h->n, h->cap);
	for (size_t i = 0; i < h->n; i++) {
		REQUIRE(h->v[i]->slot == i, "timer in slot %zu says %zu", i,
			h->v[i]->slot);
		REQUIRE(i == 0 || h->v[(i - 1) / 2]->when <= h->v[i]->when,
			"slot %zu due before its parent", i);
	}
}

/** @brief Pop everything; the deadlines must come out in order. Returns
 *  how many came out. */
static size_t drain(struct timer_heap *h)
{
	struct timer *t;
	uint64_t last = 0;
	size_t n = 0;

	while ((t = timer_pop_due(h, UINT64_MAX))) {
		REQUIRE(t->when >= last, "popped %llu after %llu",
			(unsigned long long)t->when, (unsigned long long)last);
		REQUIRE(t->slot == TIMER_UNARMED, "popped timer still has a slot");
		last = t->when;
		n++;
		heap_check(h);
	}
	ck_assert_uint_eq(h->n, 0);
	return n;
}

START_TEST(empty_heap)
{
	struct timer_heap h = { 0 };

	ck_assert_ptr_null(timer_pop_due(&h, UINT64_MAX));
	ck_assert_int_eq(timer_wait_ms(&h, 0), -1);
	ck_assert_int_eq(timer_wait_ms(&h, timer_now_ms()), -1);
	timer_heap_free(&h);
}
END_TEST

START_TEST(random_deadlines_come_out_in_order)
{
	static struct timer t[NT];
	struct timer_heap h = { 0 };

	srand(12345);
	for (int i = 0; i < NT; i++) {
		timer_init(&t[i]);
		/* few distinct values: many equal deadlines too */
		ck_assert_int_eq(timer_arm(&h, &t[i], 1000 + rand() % 300), 0);
		ck_assert_uint_ne(t[i].slot, TIMER_UNARMED);
	}
	ck_assert_uint_eq(h.n, NT);
	heap_check(&h);
	ck_assert_uint_eq(drain(&h), NT);
	timer_heap_free(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_uint_eq(h.n, 0);
}
END_TEST

START_TEST(pop_only_what_is_due)
{
	struct timer a, b, c;
	struct timer_heap h = { 0 };

	timer_init(&a);
	timer_init(&b);
	timer_init(&c);
	timer_arm(&h, &c, 30);
	timer_arm(&h, &a, 10);
	timer_arm(&h, &b, 20);
	ck_assert_ptr_null(timer_pop_due(&h, 9));
	ck_assert_ptr_eq(timer_pop_due(&h, 15), &a);
	ck_assert_ptr_null(timer_pop_due(&h, 15));
	/* due exactly at its deadline */
	ck_assert_ptr_eq(timer_pop_due(&h, 30), &b);
	ck_assert_ptr_eq(timer_pop_due(&h, 30), &c);
	ck_assert_ptr_null(timer_pop_due(&h, 30));
	timer_heap_free(&h);
}
END_TEST

START_TEST(cancel_from_the_middle)
{
	static struct timer t[NT];
	struct timer_heap h = { 0 };
	size_t left = NT;

	srand(777);
	for (int i = 0; i < NT; i++) {
		timer_init(&t[i]);
		timer_arm(&h, &t[i], rand() % 100000);
	}
	/* cancel every third, wherever in the heap it sits */
	for (int i = 0; i < NT; i += 3) {
		timer_cancel(&h, &t[i]);
		ck_assert_uint_eq(t[i].slot, TIMER_UNARMED);
		left--;
		heap_check(&h);
	}
	ck_assert_uint_eq(h.n, left);
	for (size_t i = 0; i < h.n; i++)
		ck_assert_msg((h.v[i] - t) % 3 != 0, "cancelled timer %td still in the heap",
			      h.v[i] - t);
	ck_assert_uint_eq(drain(&h), left);
	timer_heap_free(&h);
}
END_TEST

START_TEST(cancel_is_idempotent)
{
	struct timer a, b;
	struct timer_heap h = { 0 };

	timer_init(&a);
	timer_init(&b);
	timer_cancel(&h, &a);		/* never armed */
	timer_arm(&h, &a, 5);
	timer_arm(&h, &b, 6);
	timer_cancel(&h, &a);
	timer_cancel(&h, &a);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_ptr_eq(timer_pop_due(&h, 100), &b);
	/* the last one in the heap, and a popped one */
	timer_arm(&h, &a, 5);
	timer_cancel(&h, &a);
	timer_cancel(&h, &b);
	ck_assert_uint_eq(h.n, 0);
	timer_heap_free(&h);
}
END_TEST

START_TEST(rearm_moves_a_timer)
{
	struct timer t[5];
	struct timer_heap h = { 0 };

	for (int i = 0; i < 5; i++) {
		timer_init(&t[i]);
		timer_arm(&h, &t[i], 100 + 10 * i);
	}
	timer_arm(&h, &t[4], 5);	/* latest becomes first */
	timer_arm(&h, &t[0], 1000);	/* first becomes last */
	timer_arm(&h, &t[2], 120);	/* same deadline again */
	ck_assert_uint_eq(h.n, 5);
	heap_check(&h);
	ck_assert_ptr_eq(timer_pop_due(&h, UINT64_MAX), &t[4]);
	ck_assert_ptr_eq(timer_pop_due(&h, UINT64_MAX), &t[1]);
	ck_assert_ptr_eq(timer_pop_due(&h, UINT64_MAX), &t[2]);
	ck_assert_ptr_eq(timer_pop_due(&h, UINT64_MAX), &t[3]);
	ck_assert_ptr_eq(timer_pop_due(&h, UINT64_MAX), &t[0]);
	ck_assert_ptr_null(timer_pop_due(&h, UINT64_MAX));
	timer_heap_free(&h);
}
END_TEST

/* Arm, re-arm, cancel and pop at random; the heap must agree with a
 * plain array of deadlines at every step. */
START_TEST(random_operations_match_a_model)
{
	enum { N = 200 };
	static struct timer t[N];
	static int armed[N];
	struct timer_heap h = { 0 };
	uint64_t now = 0;

	srand(4242);
	for (int i = 0; i < N; i++)
		timer_init(&t[i]);
	for (int step = 0; step < 20000; step++) {
		int i = rand() % N, op = rand() % 4;
		struct timer *p;
		size_t n = 0;

		if (op <= 1) {
			ck_assert_int_eq(timer_arm(&h, &t[i], now + rand() % 500), 0);
			armed[i] = 1;
		} else if (op == 2) {
			timer_cancel(&h, &t[i]);
			armed[i] = 0;
		} else {
			now += rand() % 50;
			while ((p = timer_pop_due(&h, now))) {
				REQUIRE(p->when <= now, "popped before due");
				REQUIRE(armed[p - t], "popped a timer not armed");
				armed[p - t] = 0;
			}
			for (int j = 0; j < N; j++)
				REQUIRE(!armed[j] || t[j].when > now,
					"timer %d due but not popped", j);
		}
		for (int j = 0; j < N; j++) {
			REQUIRE((t[j].slot != TIMER_UNARMED) == armed[j],
				"step %d: timer %d armed=%d slot=%zu", step, j,
				armed[j], t[j].slot);
			n += armed[j];
		}
		REQUIRE(h.n == n, "step %d: heap has %zu, model %zu", step, h.n, n);
		heap_check(&h);
	}
	timer_heap_free(&h);
}
END_TEST

START_TEST(wait_ms)
{
	struct timer a, b;
	struct timer_heap h = { 0 };
	uint64_t now = 1000000;
	int w;

	timer_init(&a);
	timer_init(&b);
	timer_arm(&h, &a, now + 1500);
	ck_assert_int_eq(timer_wait_ms(&h, now), 1500);
	ck_assert_int_eq(timer_wait_ms(&h, now + 1499), 1);
	ck_assert_int_eq(timer_wait_ms(&h, now + 1500), 0);
	ck_assert_int_eq(timer_wait_ms(&h, now + 99999), 0);	/* overdue */
	timer_arm(&h, &b, now + 20);
	ck_assert_int_eq(timer_wait_ms(&h, now), 20);
	timer_cancel(&h, &b);
	ck_assert_int_eq(timer_wait_ms(&h, now), 1500);
	/* a far deadline still gives a positive int for epoll_wait */
	timer_arm(&h, &a, now + ((uint64_t)1 << 40));
	w = timer_wait_ms(&h, now);
	ck_assert_int_gt(w, 0);
	ck_assert_int_le(w, INT_MAX);
	timer_arm(&h, &a, UINT64_MAX);
	ck_assert_int_gt(timer_wait_ms(&h, now), 0);
	timer_cancel(&h, &a);
	ck_assert_int_eq(timer_wait_ms(&h, now), -1);
	timer_heap_free(&h);
}
END_TEST

START_TEST(now_is_monotonic_milliseconds)
{
	struct timespec d = { 0, 30 * 1000000 };
	uint64_t a = timer_now_ms(), b;

	ck_assert_uint_gt(a, 0);
	nanosleep(&d, NULL);
	b = timer_now_ms();
	ck_assert_uint_ge(b - a, 29);
	ck_assert_uint_lt(b - a, 3000);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("heap");

	tcase_add_test(tc, empty_heap);
	tcase_add_test(tc, random_deadlines_come_out_in_order);
	tcase_add_test(tc, pop_only_what_is_due);
	tcase_add_test(tc, cancel_from_the_middle);
	tcase_add_test(tc, cancel_is_idempotent);
	tcase_add_test(tc, rearm_moves_a_timer);
	tcase_add_test(tc, random_operations_match_a_model);
	tcase_add_test(tc, wait_ms);
	tcase_add_test(tc, now_is_monotonic_milliseconds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(timer_suite());
}
