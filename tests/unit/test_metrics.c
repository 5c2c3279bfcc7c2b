/* test_metrics.c - the Prometheus text writer (checked byte for byte and
 * by the real promtool) and the endpoint, driven over loopback TCP in
 * this process */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "unit.h"

#define WAIT_MS 5000	/* no exchange here takes longer */

/* ---- the writer ---- */

/** @brief A page made of everything the writer can write. */
static void full_page(struct metrics_buf *b)
{
	metrics_family(b, "ssltunnel_bytes_total", "counter",
		       "Bytes relayed, by tunnel and direction.");
	metrics_u64(b, "ssltunnel_bytes_total", 1234, "tunnel", "db",
		    "direction", "up", NULL);
	metrics_u64(b, "ssltunnel_bytes_total", 18446744073709551615u,
		    "tunnel", "db", "direction", "down", NULL);
	metrics_u64(b, "ssltunnel_bytes_total", 0, "tunnel",
		    "we\\ird \"name\"\nhere", "direction", "up", NULL);
	metrics_family(b, "ssltunnel_connections", "gauge",
		       "Open connections.\nA second line, and a \\ too.");
	metrics_u64(b, "ssltunnel_connections", 7, NULL);
	metrics_family(b, "ssltunnel_uptime_seconds", "gauge",
		       "Seconds since the \"master\" started.");
	metrics_double(b, "ssltunnel_uptime_seconds", 12.5, "a", "1",
		       "b", "2", "c", "3", NULL);
	metrics_family(b, "ssltunnel_ratio", "gauge", "Odd values.");
	metrics_double(b, "ssltunnel_ratio", 0.1, "v", "tenth", NULL);
	metrics_double(b, "ssltunnel_ratio", NAN, "v", "nan", NULL);
	metrics_double(b, "ssltunnel_ratio", INFINITY, "v", "inf", NULL);
	metrics_double(b, "ssltunnel_ratio", -INFINITY, "v", "-inf", NULL);
	metrics_double(b, "ssltunnel_ratio", 1e300, "v", "big", NULL);
	metrics_double(b, "ssltunnel_ratio", 1.0 / 3, "v", "third", NULL);
}

static const char full_text[] =
	"# HELP ssltunnel_bytes_total Bytes relayed, by tunnel and direction.\n"
	"# TYPE ssltunnel_bytes_total counter\n"
	"ssltunnel_bytes_total{tunnel=\"db\",direction=\"up\"} 1234\n"
	"ssltunnel_bytes_total{tunnel=\"db\",direction=\"down\"} 18446744073709551615\n"
	"ssltunnel_bytes_total{tunnel=\"we\\\\ird \\\"name\\\"\\nhere\",direction=\"up\"} 0\n"
	"# HELP ssltunnel_connections Open connections.\\nA second line, and a \\\\ too.\n"
	"# TYPE ssltunnel_connections gauge\n"
	"ssltunnel_connections 7\n"
	"# HELP ssltunnel_uptime_seconds Seconds since the \"master\" started.\n"
	"# TYPE ssltunnel_uptime_seconds gauge\n"
	"ssltunnel_uptime_seconds{a=\"1\",b=\"2\",c=\"3\"} 12.5\n"
	"# HELP ssltunnel_ratio Odd values.\n"
	"# TYPE ssltunnel_ratio gauge\n"
	"ssltunnel_ratio{v=\"tenth\"} 0.1\n"
	"ssltunnel_ratio{v=\"nan\"} NaN\n"
	"ssltunnel_ratio{v=\"inf\"} +Inf\n"
	"ssltunnel_ratio{v=\"-inf\"} -Inf\n"
	"ssltunnel_ratio{v=\"big\"} 1e+300\n"
	"ssltunnel_ratio{v=\"third\"} 0.33333333333333331\n";

START_TEST(writer_text)
{
	struct metrics_buf b = { 0 };

	full_page(&b);
	ck_assert_str_eq(b.error, "");
	ck_assert_str_eq(b.data, full_text);
	ck_assert_uint_eq(b.len, strlen(full_text));
	metrics_buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(writer_help_once)
{
	struct metrics_buf b = { 0 };

	/* a render loop may name the family before each of its samples */
	for (int i = 0; i < 3; i++) {
		char t[8];

		snprintf(t, sizeof t, "t%d", i);
		metrics_family(&b, "x_total", "counter", "X.");
		metrics_u64(&b, "x_total", i, "tunnel", t, NULL);
	}
	ck_assert_str_eq(b.error, "");
	ck_assert_str_eq(b.data,
			 "# HELP x_total X.\n# TYPE x_total counter\n"
			 "x_total{tunnel=\"t0\"} 0\nx_total{tunnel=\"t1\"} 1\n"
			 "x_total{tunnel=\"t2\"} 2\n");
	metrics_buf_free(&b);
}
END_TEST

START_TEST(writer_empty)
{
	struct metrics_buf b = { 0 };

	metrics_family(&b, "declared_only", "gauge", "Nothing yet.");
	ck_assert_str_eq(b.data, "# HELP declared_only Nothing yet.\n"
			 "# TYPE declared_only gauge\n");
	metrics_buf_free(&b);
}
END_TEST

/** @brief The error that @calls make on a fresh page, with the page
 *  checked to hold no more than what came before the mistake. */
#define MISTAKE(calls, want) do {					\
		struct metrics_buf b = { 0 };				\
		size_t before;						\
		metrics_family(&b, "ok", "gauge", "Fine.");		\
		before = b.len;						\
		calls;							\
		ck_assert_str_eq(b.error, want);			\
		ck_assert_uint_eq(b.len, before);			\
		metrics_family(&b, "later", "gauge", "Ignored.");	\
		metrics_u64(&b, "ok", 1, NULL);				\
		ck_assert_uint_eq(b.len, before);			\
		ck_assert_str_eq(b.error, want);			\
		metrics_buf_free(&b);					\
	} while (0)

START_TEST(writer_names)
{
	MISTAKE(metrics_family(&b, "", "gauge", "h"),
		"family \"\": not a metric name");
	MISTAKE(metrics_family(&b, "1abc", "gauge", "h"),
		"family \"1abc\": not a metric name");
	MISTAKE(metrics_family(&b, "a-b", "gauge", "h"),
		"family \"a-b\": not a metric name");
	MISTAKE(metrics_family(&b, "a b", "gauge", "h"),
		"family \"a b\": not a metric name");
	MISTAKE(metrics_family(&b, "caf\xc3\xa9", "gauge", "h"),
		"family \"caf\xc3\xa9\": not a metric name");
	MISTAKE(metrics_family(&b, "bytes", "counter", "h"),
		"family bytes: a counter's name ends in _total");
	MISTAKE(metrics_family(&b, "_total", "counter", "h"),
		"family _total: a counter's name ends in _total");
	MISTAKE(metrics_family(&b, "open_total", "gauge", "h"),
		"family open_total: only a counter's name ends in _total");
	MISTAKE(metrics_family(&b, "h_seconds", "histogram", "h"),
		"family h_seconds: type \"histogram\" is not counter or gauge");
	MISTAKE(metrics_family(&b, "nohelp", "gauge", ""),
		"family nohelp: no help text");

	char longname[METRICS_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	struct metrics_buf b = { 0 };
	metrics_family(&b, longname, "gauge", "h");
	ck_assert_str_ne(b.error, "");
	metrics_buf_free(&b);
	longname[METRICS_NAME_MAX] = '\0';
	metrics_family(&b, longname, "gauge", "h");
	ck_assert_str_eq(b.error, "");
	metrics_family(&b, "_:a9:_Z", "gauge", "h");
	metrics_u64(&b, "_:a9:_Z", 1, "_x9", "v", "Y", "w", NULL);
	ck_assert_str_eq(b.error, "");
	metrics_buf_free(&b);
}
END_TEST

START_TEST(writer_labels)
{
	MISTAKE(metrics_u64(&b, "ok", 1, "9a", "v", NULL),
		"sample ok: \"9a\" is not a label name");
	MISTAKE(metrics_u64(&b, "ok", 1, "a:b", "v", NULL),
		"sample ok: \"a:b\" is not a label name");
	MISTAKE(metrics_u64(&b, "ok", 1, "__name__", "v", NULL),
		"sample ok: \"__name__\" is not a label name");
	MISTAKE(metrics_u64(&b, "ok", 1, "", "v", NULL),
		"sample ok: \"\" is not a label name");
	MISTAKE(metrics_u64(&b, "ok", 1, "a", "v", "b", NULL),
		"sample ok: label b has no value");
	MISTAKE(metrics_u64(&b, "ok", 1, "a", "v", "a", "w", NULL),
		"sample ok: label a given twice");
	MISTAKE(metrics_u64(&b, "ok", 1, "a", "1", "b", "2", "c", "3", "d",
			    "4", "e", "5", "f", "6", "g", "7", "h", "8", "i",
			    "9", NULL),
		"sample ok: more than 8 labels");
}
END_TEST

START_TEST(writer_families)
{
	MISTAKE(metrics_u64(&b, "other", 1, NULL),
		"sample other: no such family declared");

	struct metrics_buf b = { 0 };

	/* samples of a family stay together, after its HELP and TYPE */
	metrics_family(&b, "one", "gauge", "One.");
	metrics_u64(&b, "one", 1, NULL);
	metrics_family(&b, "two", "gauge", "Two.");
	metrics_u64(&b, "one", 1, NULL);
	ck_assert_str_eq(b.error, "sample one: after family two began");
	metrics_buf_free(&b);
	metrics_family(&b, "one", "gauge", "One.");
	metrics_family(&b, "two", "gauge", "Two.");
	metrics_family(&b, "one", "gauge", "One.");
	ck_assert_str_eq(b.error, "family one: declared again after family two");
	ck_assert_str_eq(b.data, "# HELP one One.\n# TYPE one gauge\n"
			 "# HELP two Two.\n# TYPE two gauge\n");
	metrics_buf_free(&b);
}
END_TEST

START_TEST(writer_counter_values)
{
	struct metrics_buf b = { 0 };

	metrics_family(&b, "c_total", "counter", "C.");
	metrics_double(&b, "c_total", 2.5, NULL);
	metrics_double(&b, "c_total", INFINITY, NULL);
	ck_assert_str_eq(b.error, "");
	metrics_double(&b, "c_total", -1, NULL);
	ck_assert_str_eq(b.error, "sample c_total: a counter cannot be -1");
	metrics_buf_free(&b);
	metrics_family(&b, "g", "gauge", "G.");
	metrics_double(&b, "g", -1, NULL);
	ck_assert_str_eq(b.data, "# HELP g G.\n# TYPE g gauge\ng -1\n");
	metrics_buf_free(&b);
}
END_TEST

START_TEST(writer_limit)
{
	struct metrics_buf b = { 0 };
	char v[1000];
	int i;

	memset(v, 'v', sizeof v - 1);
	v[sizeof v - 1] = '\0';
	metrics_family(&b, "big", "gauge", "Big.");
	for (i = 0; i < 10000 && !b.error[0]; i++)
		metrics_u64(&b, "big", i, "v", v, NULL);
	ck_assert_str_eq(b.error, "the page passed 4194304 bytes");
	ck_assert_int_gt(i, 4000);
	ck_assert_uint_lt(b.len, METRICS_BUF_MAX);
	ck_assert_uint_le(b.cap, METRICS_BUF_MAX);
	metrics_buf_free(&b);
}
END_TEST

/* ---- promtool ---- */

/** @brief Run `promtool check metrics` on @text; returns its exit status
 *  and in @out (malloc'd) what it printed. Fails the test when promtool
 *  is missing: the page must be checked by the real parser. */
static int promtool(const char *text, char **out)
{
	char *path, *cmd;
	FILE *p;
	int st;

	ck_assert_msg(system("command -v promtool >/dev/null 2>&1") == 0,
		      "promtool not found: install the Debian package prometheus (scripts/lib.sh lists it)");
	ck_assert(asprintf(&path, "%s/promtool.out", unit_dir()) > 0);
	ck_assert(asprintf(&cmd, "promtool check metrics >'%s' 2>&1", path) > 0);
	p = popen(cmd, "w");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), p), strlen(text));
	st = pclose(p);
	ck_assert_msg(WIFEXITED(st), "promtool: status %d", st);
	p = fopen(path, "r");
	ck_assert_ptr_nonnull(p);
	*out = calloc(1, 65536);
	ck_assert_ptr_nonnull(*out);
	fread(*out, 1, 65535, p);
	fclose(p);
	free(cmd);
	free(path);
	return WEXITSTATUS(st);
}

START_TEST(promtool_accepts_the_page)
{
	struct metrics_buf b = { 0 };
	char *out;

	full_page(&b);
	ck_assert_str_eq(b.error, "");
	ck_assert_msg(promtool(b.data, &out) == 0, "promtool: %s", out);
	ck_assert_str_eq(out, "");
	free(out);
	metrics_buf_free(&b);
}
END_TEST

START_TEST(promtool_rejects_a_bad_page)
{
	char *out;

	/* the checks above are worth something only if promtool sees these */
	ck_assert_int_ne(promtool("# HELP a_total A.\n# TYPE a_total counter\n"
				  "a_total{x=\"un\"escaped\"} 1\n", &out), 0);
	ck_assert_str_ne(out, "");
	free(out);
	ck_assert_int_ne(promtool("# HELP a A.\n# TYPE a counter\na 1\n", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "_total"));
	free(out);
}
END_TEST

/* ---- the endpoint ---- */

/** @brief Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct render {
	int calls;
	size_t pad;	/* bytes of filler samples */
	int mistake;	/* write a sample of no family */
};

/** @brief The render callback under test: a fixed family, a call count,
 *  and filler or a mistake on demand. */
static void test_render(void *arg, struct metrics_buf *b)
{
	struct render *r = arg;

	r->calls++;
	metrics_family(b, "test_scrapes_total", "counter", "Scrapes so far.");
	metrics_u64(b, "test_scrapes_total", r->calls, "who", "test", NULL);
	if (r->pad) {
		metrics_family(b, "test_pad", "gauge", "Filler.");
		for (size_t i = 0; b->len < r->pad; i++)
			metrics_u64(b, "test_pad", i, "i", "0123456789abcdef0123456789abcdef", NULL);
	}
	if (r->mistake)
		metrics_u64(b, "test_nothing", 1, NULL);
}

/** @brief What a client has read so far. */
struct got {
	char *buf;
	size_t len, cap;
	int eof;
};

/** @brief Read all @fd has now into @g (@fd is non-blocking). */
static void got_read(int fd, struct got *g)
{
	for (;;) {
		ssize_t k;

		if (g->cap - g->len < 65536) {
			g->cap = g->cap ? g->cap * 2 : 1 << 17;
			g->buf = realloc(g->buf, g->cap + 1);
			ck_assert_ptr_nonnull(g->buf);
		}
		k = read(fd, g->buf + g->len, g->cap - g->len);
		if (k > 0) {
			g->len += k;
			g->buf[g->len] = '\0';
			continue;
		}
		g->buf[g->len] = '\0';
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		g->eof = 1;
		return;
	}
}

/** @brief Run @m's loop for @ms milliseconds or, reading @fd (-1: none)
 *  into @g, until @fd's end. */
static void drive(struct metrics *m, int fd, struct got *g, int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd pfd[METRICS_POLLFDS + 1];
		int n = metrics_pollfds(m, pfd, METRICS_POLLFDS);
		int t = metrics_timeout_ms(m);

		ck_assert_int_le(n, METRICS_POLLFDS);
		if (fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		ck_assert_int_ge(poll(pfd, n, t >= 0 && t < 20 ? t : 20), 0);
		metrics_handle(m, pfd, n);
		if (fd < 0)
			continue;
		got_read(fd, g);
		if (g->eof)
			return;
	}
}

/** @brief A port on 127.0.0.1 that nothing listens on right now. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/** @brief An endpoint listening on a free port of 127.0.0.1. */
static struct metrics *listening(struct render *r, unsigned *port)
{
	struct metrics *m = metrics_new(test_render, r);
	char addr[64], err[512] = "";

	ck_assert_ptr_nonnull(m);
	for (int tries = 0; tries < 20; tries++) {
		*port = free_port();
		snprintf(addr, sizeof addr, "127.0.0.1:%u", *port);
		if (metrics_listen(m, addr, err, sizeof err) == 0)
			return m;
	}
	ck_abort_msg("metrics_listen: %s", err);
	return NULL;
}

/** @brief A non-blocking client connected to 127.0.0.1:@port. */
static int dial(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0,
		      "connect port %u: %s", port, strerror(errno));
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/** @brief Send @req on a new connection and drive @m until the answer's
 *  end; returns the whole answer, malloc'd. */
static char *ask(struct metrics *m, unsigned port, const char *req)
{
	struct got g = { 0 };
	int fd = dial(port);

	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	drive(m, fd, &g, WAIT_MS);
	ck_assert_msg(g.eof, "no end of the answer to %s", req);
	close(fd);
	return g.buf;
}

/** @brief Is @resp's head status line @status and its head holding every
 *  line of @lines ("A\r\nB\r\n")? Returns the body. */
static const char *check_head(const char *resp, const char *status,
			      const char *lines)
{
	const char *end = strstr(resp, "\r\n\r\n"), *l = lines, *nl;
	size_t headlen;
	char *head;

	ck_assert_msg(end, "no head in %s", resp);
	headlen = end + 2 - resp;
	head = strndup(resp, headlen);
	ck_assert_msg(!strncmp(head, status, strlen(status)) &&
		      head[strlen(status)] == '\r', "status of %s", head);
	for (; (nl = strstr(l, "\r\n")); l = nl + 2) {
		char *line;

		ck_assert(asprintf(&line, "\r\n%.*s\r\n", (int)(nl - l), l) > 0);
		ck_assert_msg(strstr(head, line), "no %s in %s", line, head);
		free(line);
	}
	free(head);
	return end + 4;
}

static const char metrics_head[] =
	"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	"Connection: close\r\n";

START_TEST(get_metrics)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	const char *want = "# HELP test_scrapes_total Scrapes so far.\n"
		"# TYPE test_scrapes_total counter\n"
		"test_scrapes_total{who=\"test\"} 1\n";
	char *resp, len[64];

	/* as Prometheus asks */
	resp = ask(m, port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		   "User-Agent: Prometheus/2.42.0\r\n"
		   "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
		   "Accept-Encoding: gzip\r\n"
		   "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n");
	snprintf(len, sizeof len, "Content-Length: %zu\r\n", strlen(want));
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 200 OK", metrics_head), want);
	check_head(resp, "HTTP/1.1 200 OK", len);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(!strstr(resp, "Content-Type: text/plain\r\n"));
	free(resp);
	/* a query is no other page; HTTP/1.0 is answered too */
	resp = ask(m, port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(check_head(resp, "HTTP/1.1 200 OK",
						metrics_head),
				     "test_scrapes_total{who=\"test\"} 2\n"));
	ck_assert_int_eq(r.calls, 2);
	free(resp);
	metrics_free(m);
}
END_TEST

START_TEST(head_metrics)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	char *resp = ask(m, port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	struct metrics_buf b = { 0 };
	struct render again = { 0 };
	char len[64];

	ck_assert_str_eq(check_head(resp, "HTTP/1.1 200 OK", metrics_head), "");
	ck_assert_int_eq(r.calls, 1);
	/* the length of the body a GET would get */
	test_render(&again, &b);
	snprintf(len, sizeof len, "Content-Length: %zu\r\n", b.len);
	check_head(resp, "HTTP/1.1 200 OK", len);
	metrics_buf_free(&b);
	free(resp);
	resp = ask(m, port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	snprintf(len, sizeof len, "Content-Length: %zu\r\n",
		 strlen("ssltunneld: the Prometheus metrics are at /metrics\n"));
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 200 OK", len), "");
	free(resp);
	metrics_free(m);
}
END_TEST

START_TEST(get_index)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	char *resp = ask(m, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");

	ck_assert_str_eq(check_head(resp, "HTTP/1.1 200 OK",
				    "Content-Type: text/plain\r\nConnection: close\r\n"),
			 "ssltunneld: the Prometheus metrics are at /metrics\n");
	ck_assert_int_eq(r.calls, 0);
	free(resp);
	metrics_free(m);
}
END_TEST

START_TEST(errors)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	char *resp, big[HTTP_MAX_HEAD + 100];

	resp = ask(m, port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 404 Not Found",
				    "Connection: close\r\n"),
			 "not found: the metrics are at /metrics\n");
	free(resp);
	resp = ask(m, port, "GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 404 Not Found", "");
	free(resp);
	resp = ask(m, port, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 404 Not Found", ""), "");
	free(resp);
	/* a body is left unread: the answer still arrives whole */
	resp = ask(m, port, "POST /metrics HTTP/1.1\r\nHost: x\r\n"
		   "Content-Length: 5\r\n\r\nhello");
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 405 Method Not Allowed",
				    "Allow: GET, HEAD\r\nConnection: close\r\n"),
			 "only GET and HEAD are answered here\n");
	free(resp);
	resp = ask(m, port, "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 405 Method Not Allowed", "Allow: GET, HEAD\r\n");
	free(resp);
	resp = ask(m, port, "GARBAGE\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(check_head(resp, "HTTP/1.1 400 Bad Request",
						"Connection: close\r\n"),
				     "bad request: "));
	free(resp);
	resp = ask(m, port, "GET /metrics HTTP/1.1\nHost: x\n\n");
	check_head(resp, "HTTP/1.1 400 Bad Request", "");
	free(resp);
	resp = ask(m, port, "GET * HTTP/1.1\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 400 Bad Request", "");
	free(resp);
	resp = ask(m, port, "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 505 HTTP Version Not Supported", "");
	free(resp);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
	resp = ask(m, port, big);
	ck_assert_str_eq(check_head(resp, "HTTP/1.1 431 Request Header Fields Too Large", ""),
			 "bad request: the head is longer than 8192 bytes\n");
	free(resp);
	ck_assert_int_eq(r.calls, 0);
	metrics_free(m);
}
END_TEST

START_TEST(render_mistake_is_500)
{
	struct render r = { .mistake = 1 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	char *resp = ask(m, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");

	ck_assert_str_eq(check_head(resp, "HTTP/1.1 500 Internal Server Error",
				    "Connection: close\r\n"),
			 "writing the page: sample test_nothing: no such family declared\n");
	free(resp);
	metrics_free(m);
}
END_TEST

START_TEST(request_in_pieces)
{
	static const char *piece[] = { "GET /met", "rics HTTP/1.1\r\nHo",
				       "st: x\r\n\r", "\n" };
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	struct got g = { 0 };
	int fd = dial(port);

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(r.calls, 0);
		ck_assert_int_eq(write(fd, piece[i], strlen(piece[i])),
				 (ssize_t)strlen(piece[i]));
		drive(m, fd, &g, i < 3 ? 100 : WAIT_MS);
	}
	ck_assert(g.eof);
	ck_assert_int_eq(r.calls, 1);
	check_head(g.buf, "HTTP/1.1 200 OK", metrics_head);
	free(g.buf);
	close(fd);
	metrics_free(m);
}
END_TEST

START_TEST(big_page_slow_reader)
{
	struct render r = { .pad = 3u << 20 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	struct got g = { 0 };
	const char *body, *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct pollfd pfd[METRICS_POLLFDS];
	int fd = dial(port), n, polls_out = 0, small = 65536;

	/* Far less than the page, on the endpoint's side of the connection
	 * (its second poll entry): the rest must wait for POLLOUT, even where
	 * the kernel would buffer megabytes on loopback. */
	drive(m, -1, NULL, 50);
	ck_assert_int_eq(metrics_pollfds(m, pfd, METRICS_POLLFDS), 2);
	ck_assert_int_eq(setsockopt(pfd[1].fd, SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof small), 0);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	/* not read for a while: the rest waits for POLLOUT */
	for (int i = 0; i < 20; i++) {
		n = metrics_pollfds(m, pfd, METRICS_POLLFDS);
		for (int j = 0; j < n; j++)
			polls_out |= pfd[j].events & POLLOUT;
		poll(pfd, n, 10);
		metrics_handle(m, pfd, n);
	}
	ck_assert(polls_out);
	drive(m, fd, &g, WAIT_MS);
	ck_assert(g.eof);
	body = check_head(g.buf, "HTTP/1.1 200 OK", metrics_head);
	ck_assert_uint_ge(strlen(body), 3u << 20);
	ck_assert_str_eq(body + strlen(body) - 1, "\n");
	ck_assert_int_eq(r.calls, 1);
	free(g.buf);
	close(fd);
	metrics_free(m);
}
END_TEST

START_TEST(idle_client_dropped)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	struct got g = { 0 };
	long long t0;
	int fd, t;

	ck_assert_int_eq(metrics_timeout_ms(m), -1);
	metrics_set_idle_ms(m, 300);
	fd = dial(port);
	t0 = now_ms();
	drive(m, -1, NULL, 50);		/* accepted */
	t = metrics_timeout_ms(m);
	ck_assert_int_gt(t, 100);
	ck_assert_int_le(t, 300);
	ck_assert_int_eq(write(fd, "GET /metrics HTTP/1.1\r\n", 23), 23);
	drive(m, fd, &g, WAIT_MS);
	ck_assert(g.eof);
	ck_assert_int_ge(now_ms() - t0, 290);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert_uint_eq(g.len, 0);	/* no answer to half a request */
	ck_assert_int_eq(metrics_timeout_ms(m), -1);
	ck_assert_int_eq(r.calls, 0);
	free(g.buf);
	close(fd);
	metrics_free(m);
}
END_TEST

START_TEST(default_idle_time)
{
	struct metrics *m = metrics_new(NULL, NULL);
	unsigned port;
	char addr[64], err[256];
	int fd;

	port = free_port();
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	ck_assert_msg(metrics_listen(m, addr, err, sizeof err) == 0, "%s", err);
	fd = dial(port);
	drive(m, -1, NULL, 50);
	ck_assert_int_gt(metrics_timeout_ms(m), METRICS_IDLE_MS - 1000);
	ck_assert_int_le(metrics_timeout_ms(m), METRICS_IDLE_MS);
	ck_assert_int_eq(METRICS_IDLE_MS, 10000);
	close(fd);
	metrics_free(m);
}
END_TEST

START_TEST(client_limit)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	int fd[METRICS_CLIENTS_MAX + 1];
	struct pollfd pfd[METRICS_POLLFDS];
	struct got g = { 0 };
	char *resp;

	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		fd[i] = dial(port);
	drive(m, -1, NULL, 100);
	ck_assert_int_eq(metrics_pollfds(m, pfd, METRICS_POLLFDS),
			 METRICS_POLLFDS);
	/* the one more is told so and closed */
	fd[METRICS_CLIENTS_MAX] = dial(port);
	drive(m, fd[METRICS_CLIENTS_MAX], &g, WAIT_MS);
	ck_assert(g.eof);
	ck_assert_str_eq(check_head(g.buf, "HTTP/1.1 503 Service Unavailable",
				    "Connection: close\r\n"),
			 "too many metrics clients at once\n");
	free(g.buf);
	/* the sixteen are still served */
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(write(fd[5], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 27);
	drive(m, fd[5], &g, WAIT_MS);
	ck_assert(g.eof);
	check_head(g.buf, "HTTP/1.1 200 OK", "");
	free(g.buf);
	close(fd[5]);
	fd[5] = -1;
	drive(m, -1, NULL, 50);
	/* and once one has gone, a new client gets its slot */
	resp = ask(m, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 200 OK", metrics_head);
	free(resp);
	for (int i = 0; i <= METRICS_CLIENTS_MAX; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	metrics_free(m);
}
END_TEST

START_TEST(listen_errors)
{
	struct metrics *m = metrics_new(test_render, NULL), *m2;
	struct render r = { 0 };
	char addr[64], err[256] = "";
	unsigned port;
	struct pollfd pfd[METRICS_POLLFDS];

	ck_assert_int_eq(metrics_pollfds(m, pfd, METRICS_POLLFDS), 0);
	ck_assert_int_eq(metrics_listen(m, "9817", err, sizeof err), -1);
	ck_assert_str_eq(err, "metrics: expected \"host:port\", got \"9817\"");
	ck_assert_int_eq(metrics_listen(m, "127.0.0.1:0", err, sizeof err), -1);
	ck_assert_str_eq(err, "metrics: port must be a number from 1 to 65535, got \"0\"");
	metrics_free(m);
	m = listening(&r, &port);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	ck_assert_int_eq(metrics_listen(m, addr, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "already listening on"));
	m2 = metrics_new(test_render, NULL);
	ck_assert_int_eq(metrics_listen(m2, addr, err, sizeof err), -1);
	ck_assert_str_eq(err + strlen(err) - strlen("Address already in use"),
			 "Address already in use");
	metrics_free(m2);
	metrics_free(m);
}
END_TEST

START_TEST(listen_ipv6)
{
	struct render r = { 0 };
	struct metrics *m = metrics_new(test_render, &r);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	char addr[64], err[256];
	struct got g = { 0 };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	socklen_t len = sizeof sa;

	sa.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "test_metrics: no IPv6 loopback; listen_ipv6 skipped\n");
		metrics_free(m);
		return;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(addr, sizeof addr, "[::1]:%u", ntohs(sa.sin6_port));
	ck_assert_msg(metrics_listen(m, addr, err, sizeof err) == 0, "%s", err);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(write(fd, "GET /metrics HTTP/1.1\r\nHost: [::1]\r\n\r\n", 38), 38);
	drive(m, fd, &g, WAIT_MS);
	check_head(g.buf, "HTTP/1.1 200 OK", metrics_head);
	free(g.buf);
	close(fd);
	metrics_free(m);
}
END_TEST

START_TEST(close_fds_in_a_child)
{
	struct render r = { 0 };
	unsigned port;
	struct metrics *m = listening(&r, &port);
	struct pollfd pfd[METRICS_POLLFDS];
	int fd = dial(port), st;
	pid_t pid;
	char *resp;

	drive(m, -1, NULL, 50);
	ck_assert_int_eq(metrics_pollfds(m, pfd, METRICS_POLLFDS), 2);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		metrics_close_fds(m);
		_exit(metrics_pollfds(m, pfd + 2, METRICS_POLLFDS - 2) != 0 ? 1 :
		      metrics_timeout_ms(m) != -1 ? 2 :
		      fcntl(pfd[0].fd, F_GETFD) >= 0 ? 3 :
		      fcntl(pfd[1].fd, F_GETFD) >= 0 ? 4 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	/* the parent's endpoint goes on */
	resp = ask(m, port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	check_head(resp, "HTTP/1.1 200 OK", metrics_head);
	free(resp);
	close(fd);
	metrics_close_fds(m);
	metrics_free(m);
	metrics_free(NULL);
	metrics_close_fds(NULL);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *w = tcase_create("writer");
	TCase *p = tcase_create("promtool");
	TCase *e = tcase_create("endpoint");

	tcase_add_test(w, writer_text);
	tcase_add_test(w, writer_help_once);
	tcase_add_test(w, writer_empty);
	tcase_add_test(w, writer_names);
	tcase_add_test(w, writer_labels);
	tcase_add_test(w, writer_families);
	tcase_add_test(w, writer_counter_values);
	tcase_add_test(w, writer_limit);
	suite_add_tcase(s, w);

	tcase_set_timeout(p, 30);
	tcase_add_test(p, promtool_accepts_the_page);
	tcase_add_test(p, promtool_rejects_a_bad_page);
	suite_add_tcase(s, p);

	tcase_set_timeout(e, 30);
	tcase_add_test(e, get_metrics);
	tcase_add_test(e, head_metrics);
	tcase_add_test(e, get_index);
	tcase_add_test(e, errors);
	tcase_add_test(e, render_mistake_is_500);
	tcase_add_test(e, request_in_pieces);
	tcase_add_test(e, big_page_slow_reader);
	tcase_add_test(e, idle_client_dropped);
	tcase_add_test(e, default_idle_time);
	tcase_add_test(e, client_limit);
	tcase_add_test(e, listen_errors);
	tcase_add_test(e, listen_ipv6);
	tcase_add_test(e, close_fds_in_a_child);
	suite_add_tcase(s, e);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(metrics_suite());
}
