/* test_limit.c - max_connections and max_connections_per_source counts:
 * two workers' views of the same rows, the per-source tables (full,
 * reused, an entry left half-written), older generations, log bursts */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "limit.h"
#include "unit.h"

#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* Two workers of one generation, as the master lays them out. */
struct fixture {
	struct limit_row rows[2];
	struct limit_table tables[2];
	struct limit_span span;
	struct limit w[2];
};

/** @brief Worker views @f->w[0] and [1] over shared rows and tables. */
static struct fixture *fixture_new(int max, int max_src)
{
	struct fixture *f = unit_keep(calloc(1, sizeof *f));

	f->span = (struct limit_span){ f->rows, f->tables, 2 };
	for (int i = 0; i < 2; i++)
		f->w[i] = (struct limit){
			.max = max, .max_src = max_src, .seed = 42,
			.row = &f->rows[i], .table = &f->tables[i],
			.spans = &f->span, .nspans = 1,
		};
	return f;
}

/** @brief The key of IPv4 address @ip. */
static void key4(const char *ip, uint64_t key[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	ck_assert_int_eq(limit_key((struct sockaddr *)&sin, key), 0);
}

/** @brief The key of the @i-th address of 10.0.0.0/8. */
static void key_n(unsigned i, uint64_t key[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(0x0a000000u + i) };

	ck_assert_int_eq(limit_key((struct sockaddr *)&sin, key), 0);
}

START_TEST(keys)
{
	struct sockaddr_in6 six = { .sin6_family = AF_INET6 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint64_t a[2], b[2], c[2];
	unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };

	key4("127.0.0.1", a);
	key4("127.0.0.2", b);
	ck_assert(memcmp(a, b, 16) != 0);
	ck_assert_mem_eq(a, mapped, 16);
	/* ::ffff:127.0.0.1 is the same source as 127.0.0.1 */
	memcpy(&six.sin6_addr, mapped, 16);
	ck_assert_int_eq(limit_key((struct sockaddr *)&six, c), 0);
	ck_assert_mem_eq(a, c, 16);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &six.sin6_addr), 1);
	ck_assert_int_eq(limit_key((struct sockaddr *)&six, c), 0);
	ck_assert(memcmp(a, c, 16) != 0);
	ck_assert_int_eq(limit_key((struct sockaddr *)&un, c), -1);
}
END_TEST

START_TEST(max_connections_spans_workers)
{
	struct fixture *f = fixture_new(3, 0);
	struct limit_src *src;
	int full;

	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &src, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &src, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], NULL, &src, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], NULL, &src, &full), LIMIT_TOTAL);
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &src, &full), LIMIT_TOTAL);
	/* a refusal takes its count back */
	ck_assert_uint_eq(limit_total(&f->w[0]), 3);
	ck_assert_uint_eq(f->rows[0].held, 2);
	ck_assert_uint_eq(f->rows[1].held, 1);
	limit_release(&f->w[0], NULL);
	ck_assert_int_eq(limit_admit(&f->w[1], NULL, &src, &full), LIMIT_OK);
	ck_assert_uint_eq(limit_total(&f->w[1]), 3);
}
END_TEST

START_TEST(unlimited_still_counts)
{
	struct fixture *f = fixture_new(0, 0);
	struct limit_src *src;
	int full;

	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(limit_admit(&f->w[i & 1], NULL, &src, &full),
				 LIMIT_OK);
	/* a reload that adds max_connections sees these */
	ck_assert_uint_eq(limit_total(&f->w[0]), 100);
}
END_TEST

START_TEST(per_source_spans_workers)
{
	struct fixture *f = fixture_new(0, 2);
	struct limit_src *a1, *a2, *b1, *x;
	uint64_t a[2], b[2];
	int full;

	key4("127.0.0.1", a);
	key4("127.0.0.2", b);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &a1, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], a, &a2, &full), LIMIT_OK);
	ck_assert_ptr_nonnull(a1);
	ck_assert_ptr_nonnull(a2);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &x, &full), LIMIT_SOURCE);
	ck_assert_int_eq(limit_admit(&f->w[1], a, &x, &full), LIMIT_SOURCE);
	ck_assert_int_eq(full, 0);
	/* its own quota for the other address */
	ck_assert_int_eq(limit_admit(&f->w[0], b, &b1, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[0], b, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], b, &x, &full), LIMIT_SOURCE);
	ck_assert_uint_eq(limit_source_total(&f->w[1], a), 2);
	ck_assert_uint_eq(limit_source_total(&f->w[1], b), 2);
	/* refused per source: no place taken under max_connections */
	ck_assert_uint_eq(limit_total(&f->w[0]), 4);
	limit_release(&f->w[1], a2);
	ck_assert_uint_eq(limit_source_total(&f->w[0], a), 1);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &x, &full), LIMIT_OK);
	ck_assert_ptr_eq(x, a1);	/* the worker's one entry for it */
}
END_TEST

START_TEST(total_checked_before_source)
{
	struct fixture *f = fixture_new(2, 2);
	struct limit_src *x;
	uint64_t a[2], b[2];
	int full;

	key4("192.0.2.1", a);
	key4("192.0.2.2", b);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], b, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[1], a, &x, &full), LIMIT_TOTAL);
	ck_assert_uint_eq(limit_source_total(&f->w[0], a), 1);
}
END_TEST

START_TEST(entries_are_reused)
{
	struct fixture *f = fixture_new(0, 1);
	struct limit_src *x;
	uint64_t k[2];
	int full;

	/* twice the table's size, one at a time: freed entries come back */
	for (unsigned i = 0; i < 2 * LIMIT_SRC_SLOTS; i++) {
		key_n(i, k);
		REQUIRE(limit_admit(&f->w[0], k, &x, &full) == LIMIT_OK && x &&
			!full, "source %u not counted", i);
		limit_release(&f->w[0], x);
	}
	ck_assert_uint_eq(limit_total(&f->w[0]), 0);
}
END_TEST

START_TEST(full_table_admits_uncounted)
{
	struct fixture *f = fixture_new(0, 1);
	struct limit_src *x, **held = unit_keep(calloc(LIMIT_SRC_SLOTS + 1,
							   sizeof *held));
	uint64_t k[2], first[2];
	unsigned i, tracked = 0;
	int full = 0;

	key_n(0, first);
	for (i = 0; i <= LIMIT_SRC_SLOTS && !full; i++) {
		key_n(i, k);
		ck_assert_int_eq(limit_admit(&f->w[0], k, &held[i], &full), LIMIT_OK);
		tracked += held[i] != NULL;
	}
	/* some source found its 32 places taken: admitted, not counted */
	ck_assert_int_eq(full, 1);
	ck_assert_ptr_null(held[i - 1]);
	ck_assert_uint_ge(tracked, LIMIT_SRC_SLOTS / 2);
	/* a counted source at its limit is still refused */
	ck_assert_int_eq(limit_admit(&f->w[0], first, &x, &full), LIMIT_SOURCE);
	/* max_connections counted the uncounted one all the same */
	ck_assert_uint_eq(limit_total(&f->w[0]), i);
	while (i--)
		limit_release(&f->w[0], held[i]);
	ck_assert_uint_eq(limit_total(&f->w[0]), 0);
	key_n(LIMIT_SRC_SLOTS + 7, k);
	ck_assert_int_eq(limit_admit(&f->w[1], k, &x, &full), LIMIT_OK);
	ck_assert_int_eq(full, 0);
	ck_assert_ptr_nonnull(x);
}
END_TEST

START_TEST(half_written_entry_counts_nothing)
{
	struct fixture *f = fixture_new(0, 1);
	struct limit_src *x;
	uint64_t a[2];
	int full;

	key4("198.51.100.9", a);
	ck_assert_int_eq(limit_admit(&f->w[1], a, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &x, &full), LIMIT_SOURCE);
	/* worker 1 killed while rewriting that entry: seq stays odd */
	for (int i = 0; i < LIMIT_SRC_SLOTS; i++)
		if (f->tables[1].e[i].count)
			f->tables[1].e[i].seq = 3;
	ck_assert_uint_eq(limit_source_total(&f->w[0], a), 0);
	ck_assert_int_eq(limit_admit(&f->w[0], a, &x, &full), LIMIT_OK);
}
END_TEST

START_TEST(older_generation_counts)
{
	struct fixture *old = fixture_new(0, 0), *f = fixture_new(3, 0);
	struct limit_span spans[2];
	struct limit_src *x;
	int full;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(limit_admit(&old->w[i & 1], NULL, &x, &full),
				 LIMIT_OK);
	spans[0] = f->span;
	spans[1] = old->span;
	f->w[0].spans = spans;
	f->w[0].nspans = 2;
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &x, &full), LIMIT_TOTAL);
	/* the master reaps an old worker: its row is zeroed */
	old->rows[0].held = 0;
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &x, &full), LIMIT_OK);
	ck_assert_int_eq(limit_admit(&f->w[0], NULL, &x, &full), LIMIT_TOTAL);
}
END_TEST

START_TEST(log_bursts)
{
	struct fixture *f = fixture_new(1, 0);
	unsigned long quiet = 99;
	uint64_t t = 5000;

	for (int i = 0; i < LIMIT_LOG_BURST; i++) {
		ck_assert_int_eq(limit_log_due(&f->w[0], LIMIT_LOG_TOTAL, t + i, &quiet), 1);
		ck_assert_uint_eq(quiet, 0);
	}
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(limit_log_due(&f->w[0], LIMIT_LOG_TOTAL, t + 100 + i, &quiet), 0);
	/* another kind has its own window */
	ck_assert_int_eq(limit_log_due(&f->w[0], LIMIT_LOG_SOURCE, t + 200, &quiet), 1);
	ck_assert_int_eq(limit_log_due(&f->w[0], LIMIT_LOG_TOTAL,
				       t + LIMIT_LOG_MS + 1, &quiet), 1);
	ck_assert_uint_eq(quiet, 20);
}
END_TEST

static Suite *limit_suite(void)
{
	Suite *s = suite_create("limit");
	TCase *tc = tcase_create("counts");

	tcase_add_test(tc, keys);
	tcase_add_test(tc, max_connections_spans_workers);
	tcase_add_test(tc, unlimited_still_counts);
	tcase_add_test(tc, per_source_spans_workers);
	tcase_add_test(tc, total_checked_before_source);
	tcase_add_test(tc, entries_are_reused);
	tcase_add_test(tc, full_table_admits_uncounted);
	tcase_add_test(tc, half_written_entry_counts_nothing);
	tcase_add_test(tc, older_generation_counts);
	tcase_add_test(tc, log_bursts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(limit_suite());
}
