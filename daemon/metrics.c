/* metrics.c - the master's Prometheus endpoint and its text writer
 *
 * The writer appends to a bounded buffer and refuses, once and for the
 * whole page, anything Prometheus would reject. The endpoint takes one
 * request per connection (at most HTTP_MAX_HEAD bytes of head), answers
 * it without blocking, then closes: it shuts its side down and waits for
 * the client's end first, so that request bytes left unread never turn
 * the close into a reset that could destroy the answer on its way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "timer.h"

#define METRICS_ACCEPT_BURST 32	/* connections taken per readiness */
#define METRICS_LINGER_MS 2000	/* at most, for a client's end after ours */
#define METRICS_SMALL_MAX 512	/* an answer other than the page */

static const char metrics_ctype[] =
	"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
static const char metrics_index[] =
	"ssltunneld: the Prometheus metrics are at /metrics\n";

/* ---- the writer ---- */

/** @brief Record the first mistake in @b; the page is void from now. */
__attribute__((format(printf, 2, 3)))
static void metrics_fail(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof b->error, fmt, ap);
	va_end(ap);
}

/** @brief Append @n bytes at @s, within METRICS_BUF_MAX. */
static void metrics_put(struct metrics_buf *b, const char *s, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *d;

	if (b->error[0])
		return;
	if (b->len + n + 1 > METRICS_BUF_MAX) {
		metrics_fail(b, "the page passed %u bytes",
			     (unsigned)METRICS_BUF_MAX);
		return;
	}
	if (b->len + n + 1 > b->cap) {
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > METRICS_BUF_MAX)
			cap = METRICS_BUF_MAX;
		d = realloc(b->data, cap);
		if (!d) {
			metrics_fail(b, "out of memory for a page of %zu bytes",
				     cap);
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void metrics_puts(struct metrics_buf *b, const char *s)
{
	metrics_put(b, s, strlen(s));
}

/** @brief Append @s with backslash and newline escaped, and the double
 *  quote too when @quote (label values; HELP text leaves it as it is). */
static void metrics_put_escaped(struct metrics_buf *b, const char *s,
				int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" :
			*s == '"' && quote ? "\\\"" : NULL;

		if (!esc)
			continue;
		metrics_put(b, run, s - run);
		metrics_put(b, esc, 2);
		run = s + 1;
	}
	metrics_put(b, run, s - run);
}

/** @brief Does @s match [a-zA-Z_:][a-zA-Z0-9_:]* (@colon) or the label
 *  name syntax without ':', in at most METRICS_NAME_MAX bytes? */
static int metrics_name_ok(const char *s, int colon)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		unsigned char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			c == '_' || (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return i > 0 && i <= METRICS_NAME_MAX;
}

/** @brief Does @name end in "_total" (and have something before it)? */
static int metrics_is_total(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, "_total");
}

/** @brief Has family @name been declared on @b already? */
static int metrics_declared(const struct metrics_buf *b, const char *name)
{
	for (size_t off = 0; off < b->nameslen; off += strlen(b->names + off) + 1)
		if (!strcmp(b->names + off, name))
			return 1;
	return 0;
}

/** @brief Note that family @name is declared on @b. */
static int metrics_note(struct metrics_buf *b, const char *name)
{
	size_t n = strlen(name) + 1, cap = b->namescap ? b->namescap : 1024;
	char *d;

	if (b->nameslen + n > b->namescap) {
		while (cap < b->nameslen + n)
			cap *= 2;
		d = realloc(b->names, cap);
		if (!d) {
			metrics_fail(b, "out of memory for family names");
			return -1;
		}
		b->names = d;
		b->namescap = cap;
	}
	memcpy(b->names + b->nameslen, name, n);
	b->nameslen += n;
	return 0;
}

/** @brief Is family @name of @type with @help well-formed? Records why
 *  not on @b. */
static int metrics_family_ok(struct metrics_buf *b, const char *name,
			     const char *type, const char *help)
{
	int counter = type && !strcmp(type, "counter");

	if (!metrics_name_ok(name, 1)) {
		metrics_fail(b, "family \"%.*s\": not a metric name",
			     METRICS_NAME_MAX, name);
		return 0;
	}
	if (!counter && !(type && !strcmp(type, "gauge"))) {
		metrics_fail(b, "family %s: type \"%s\" is not counter or gauge",
			     name, type ? type : "(null)");
		return 0;
	}
	if (counter != metrics_is_total(name)) {
		metrics_fail(b, counter ? "family %s: a counter's name ends in _total" :
			     "family %s: only a counter's name ends in _total",
			     name);
		return 0;
	}
	if (!help || !*help) {
		metrics_fail(b, "family %s: no help text", name);
		return 0;
	}
	return 1;
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type,
		    const char *help)
{
	if (b->error[0] || !metrics_family_ok(b, name, type, help))
		return;
	if (!strcmp(b->family, name))
		return;		/* its type follows from its name: the same */
	if (metrics_declared(b, name)) {
		metrics_fail(b, "family %s: declared again after family %s",
			     name, b->family);
		return;
	}
	if (metrics_note(b, name) < 0)
		return;
	metrics_puts(b, "# HELP ");
	metrics_puts(b, name);
	metrics_puts(b, " ");
	metrics_put_escaped(b, help, 0);
	metrics_puts(b, "\n# TYPE ");
	metrics_puts(b, name);
	metrics_puts(b, " ");
	metrics_puts(b, type);
	metrics_puts(b, "\n");
	snprintf(b->family, sizeof b->family, "%s", name);
	b->counter = !strcmp(type, "counter");
}

/** @brief Take the label pairs of sample @name from @ap into @lab (2 *
 *  METRICS_LABELS_MAX entries) and check them; returns how many names
 *  and values there are, or -1 (recorded on @b). */
static int metrics_labels(struct metrics_buf *b, const char *name,
			  va_list ap, const char **lab)
{
	int n = 0;
	const char *s;

	while ((s = va_arg(ap, const char *))) {
		if (n == 2 * METRICS_LABELS_MAX) {
			metrics_fail(b, "sample %s: more than %d labels", name,
				     METRICS_LABELS_MAX);
			return -1;
		}
		lab[n++] = s;
		if (n % 2 == 0)
			continue;
		if (!metrics_name_ok(s, 0) || !strncmp(s, "__", 2)) {
			metrics_fail(b, "sample %s: \"%.*s\" is not a label name",
				     name, METRICS_NAME_MAX, s);
			return -1;
		}
		for (int i = 0; i < n - 1; i += 2)
			if (!strcmp(lab[i], s)) {
				metrics_fail(b, "sample %s: label %s given twice",
					     name, s);
				return -1;
			}
	}
	if (n % 2) {
		metrics_fail(b, "sample %s: label %s has no value", name,
			     lab[n - 1]);
		return -1;
	}
	return n;
}

/** @brief Write sample @name with the text of its value @v and the label
 *  pairs in @ap: the line the two public writers share. */
static void metrics_sample(struct metrics_buf *b, const char *name,
			   const char *v, va_list ap)
{
	const char *lab[2 * METRICS_LABELS_MAX];
	int n;

	if (b->error[0])
		return;
	if (strcmp(name, b->family)) {
		if (metrics_declared(b, name))
			metrics_fail(b, "sample %s: after family %s began", name,
				     b->family);
		else
			metrics_fail(b, "sample %.*s: no such family declared",
				     METRICS_NAME_MAX, name);
		return;
	}
	n = metrics_labels(b, name, ap, lab);
	if (n < 0)
		return;
	metrics_puts(b, name);
	for (int i = 0; i < n; i += 2) {
		metrics_puts(b, i ? "," : "{");
		metrics_puts(b, lab[i]);
		metrics_puts(b, "=\"");
		metrics_put_escaped(b, lab[i + 1], 1);
		metrics_puts(b, "\"");
	}
	metrics_puts(b, n ? "} " : " ");
	metrics_puts(b, v);
	metrics_puts(b, "\n");
}

void metrics_u64(struct metrics_buf *b, const char *name, uint64_t v, ...)
{
	char s[24];
	va_list ap;

	snprintf(s, sizeof s, "%" PRIu64, v);
	va_start(ap, v);
	metrics_sample(b, name, s, ap);
	va_end(ap);
}

/** @brief The shortest of %.15g and %.17g that reads back as @v, or the
 *  spelling Prometheus has for NaN and the infinities. */
static void metrics_fmt_double(char *s, size_t len, double v)
{
	if (isnan(v))
		snprintf(s, len, "NaN");
	else if (isinf(v))
		snprintf(s, len, v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(s, len, "%.15g", v);
		if (strtod(s, NULL) != v)
			snprintf(s, len, "%.17g", v);
	}
}

void metrics_double(struct metrics_buf *b, const char *name, double v, ...)
{
	char s[32];
	va_list ap;

	if (!b->error[0] && b->counter && !strcmp(name, b->family) &&
	    (v < 0 || isnan(v))) {
		metrics_fail(b, "sample %s: a counter cannot be %g", name, v);
		return;
	}
	metrics_fmt_double(s, sizeof s, v);
	va_start(ap, v);
	metrics_sample(b, name, s, ap);
	va_end(ap);
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->data);
	free(b->names);
	memset(b, 0, sizeof *b);
}

/* ---- the endpoint's clients ---- */

enum metrics_state {
	METRICS_READING,	/* the request head, POLLIN */
	METRICS_WRITING,	/* the answer, POLLOUT */
	METRICS_DRAINING,	/* ours is shut down: until the client's end */
};

struct metrics_client {
	int fd;			/* -1: a free slot */
	enum metrics_state state;
	uint64_t deadline;	/* monotonic ms: dropped then */
	char peer[NET_ADDRSTRLEN];
	char in[HTTP_MAX_HEAD];
	size_t inlen;
	char *out;		/* the answer: out[outoff..outlen) to send */
	size_t outoff, outlen;
};

struct metrics {
	metrics_render_fn render;
	void *arg;
	int lfd;		/* the listening socket, or -1 */
	int spare;		/* a descriptor to give up when out of them */
	int idle_ms;
	char addr[NET_ADDRSTRLEN];
	struct metrics_client cl[METRICS_CLIENTS_MAX];
};

/** @brief Close client @cl and free its slot. */
static void metrics_client_close(struct metrics_client *cl)
{
	close(cl->fd);
	free(cl->out);
	cl->out = NULL;
	cl->fd = -1;
}

/** @brief Our answer is out: shut our side down and wait (a little) for
 *  the client's end, reading what it still sends. */
static void metrics_client_drain(struct metrics *m, struct metrics_client *cl)
{
	int ms = m->idle_ms < METRICS_LINGER_MS ? m->idle_ms : METRICS_LINGER_MS;

	free(cl->out);
	cl->out = NULL;
	cl->outoff = cl->outlen = 0;
	if (shutdown(cl->fd, SHUT_WR) < 0) {
		metrics_client_close(cl);
		return;
	}
	cl->state = METRICS_DRAINING;
	cl->deadline = timer_now_ms() + ms;
}

/** @brief Send what fits of @cl's answer now; each step taken gives the
 *  client its idle time again. */
static void metrics_client_flush(struct metrics *m, struct metrics_client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t k = send(cl->fd, cl->out + cl->outoff,
				 cl->outlen - cl->outoff, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_debug("metrics: %s: write: %s; closed", cl->peer,
				  strerror(errno));
			metrics_client_close(cl);
			return;
		}
		cl->outoff += k;
		cl->deadline = timer_now_ms() + m->idle_ms;
	}
	metrics_client_drain(m, cl);
}

/** @brief Start sending @cl the answer @out (@len bytes, malloc'd: @cl
 *  owns it now). */
static void metrics_client_send(struct metrics *m, struct metrics_client *cl,
				char *out, size_t len)
{
	cl->out = out;
	cl->outoff = 0;
	cl->outlen = len;
	cl->state = METRICS_WRITING;
	metrics_client_flush(m, cl);
}

/** @brief Close @cl, whose answer of @len bytes found no memory. */
static void metrics_client_nomem(struct metrics_client *cl, size_t len)
{
	log_err("metrics: %s: answer of %zu bytes: out of memory; closed",
		cl->peer, len);
	metrics_client_close(cl);
}

/** @brief Answer @cl with @status and the short @body (with @extra
 *  header lines), without the body when @head_only. */
static void metrics_client_small(struct metrics *m, struct metrics_client *cl,
				 int status, const char *extra,
				 const char *body, int head_only)
{
	char buf[METRICS_SMALL_MAX], *out;
	int n = http_format_response(buf, sizeof buf, status, extra, body);
	const char *end;

	if (n < 0) {
		log_err("metrics: %s: cannot write a %d answer; closed",
			cl->peer, status);
		metrics_client_close(cl);
		return;
	}
	if (head_only && (end = strstr(buf, "\r\n\r\n")))
		n = end + 4 - buf;
	out = malloc(n);
	if (!out) {
		metrics_client_nomem(cl, n);
		return;
	}
	memcpy(out, buf, n);
	metrics_client_send(m, cl, out, n);
}

/** @brief Answer @cl with the page the render callback writes now. */
static void metrics_client_page(struct metrics *m, struct metrics_client *cl,
				int head_only)
{
	struct metrics_buf b = { 0 };
	char head[256], body[sizeof b.error + 32];
	size_t hlen, len;
	char *out;

	if (m->render)
		m->render(m->arg, &b);
	if (b.error[0]) {
		log_err("metrics: writing the page: %s", b.error);
		snprintf(body, sizeof body, "writing the page: %s\n", b.error);
		metrics_buf_free(&b);
		metrics_client_small(m, cl, 500, NULL, body, head_only);
		return;
	}
	hlen = snprintf(head, sizeof head,
			"HTTP/1.1 200 OK\r\n%sContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", metrics_ctype, b.len);
	len = hlen + (head_only ? 0 : b.len);
	out = malloc(len);
	if (!out) {
		metrics_buf_free(&b);
		metrics_client_nomem(cl, len);
		return;
	}
	memcpy(out, head, hlen);
	if (len > hlen)
		memcpy(out + hlen, b.data, b.len);
	metrics_buf_free(&b);
	metrics_client_send(m, cl, out, len);
}

/** @brief Does @s (@len bytes) spell @lit? */
static int metrics_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && !memcmp(s, lit, len);
}

/** @brief Answer the complete request @r of @cl: the page, the index, or
 *  why not. Bytes after the head (a body, a second request) are left;
 *  the connection closes after this one answer. */
static void metrics_client_request(struct metrics *m, struct metrics_client *cl,
				   const struct http_request *r)
{
	int get = metrics_is(r->method, r->methodlen, "GET");
	int head = metrics_is(r->method, r->methodlen, "HEAD");
	const char *path, *query;
	size_t pathlen, querylen;
	int page;

	if (http_split_target(r->target, r->targetlen, &path, &pathlen, &query,
			      &querylen) < 0) {
		metrics_client_small(m, cl, 400, NULL,
				     "the target is not a path\n", head);
		return;
	}
	log_debug("metrics: %s: %.*s %.*s", cl->peer, (int)r->methodlen,
		  r->method, (int)r->targetlen, r->target);
	page = metrics_is(path, pathlen, "/metrics");
	if (!page && !metrics_is(path, pathlen, "/"))
		metrics_client_small(m, cl, 404, NULL,
				     "not found: the metrics are at /metrics\n",
				     head);
	else if (!get && !head)
		metrics_client_small(m, cl, 405, "Allow: GET, HEAD\r\n",
				     "only GET and HEAD are answered here\n", 0);
	else if (page)
		metrics_client_page(m, cl, head);
	else
		metrics_client_small(m, cl, 200, NULL, metrics_index, head);
}

/** @brief Read what @cl sent: more of its request, which is answered once
 *  complete, or (draining) whatever it still sends until its end. */
static void metrics_client_read(struct metrics *m, struct metrics_client *cl)
{
	char sink[4096], err[256];
	struct http_request r;
	char *dst = cl->state == METRICS_READING ? cl->in + cl->inlen : sink;
	size_t room = cl->state == METRICS_READING ?
		sizeof cl->in - cl->inlen : sizeof sink;
	ssize_t k = read(cl->fd, dst, room);
	int rc;

	if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (k <= 0) {
		if (cl->state == METRICS_READING)
			log_debug("metrics: %s: %s before a whole request; closed",
				  cl->peer, k < 0 ? strerror(errno) : "end");
		metrics_client_close(cl);
		return;
	}
	if (cl->state != METRICS_READING)
		return;
	cl->inlen += k;
	rc = http_parse_request(cl->in, cl->inlen, sizeof cl->in, &r, err,
				sizeof err);
	if (rc == HTTP_INCOMPLETE && cl->inlen == sizeof cl->in) {
		rc = HTTP_TOO_LARGE;
		snprintf(err, sizeof err, "the head is longer than %zu bytes",
			 sizeof cl->in);
	}
	if (rc == HTTP_INCOMPLETE)
		return;
	if (rc < 0) {
		log_debug("metrics: %s: bad request: %s", cl->peer, err);
		snprintf(sink, sizeof sink, "bad request: %s\n", err);
		metrics_client_small(m, cl, http_error_status(rc), NULL, sink, 0);
		return;
	}
	metrics_client_request(m, cl, &r);
}

/** @brief React to poll()'s @revents for client @cl. */
static void metrics_client_io(struct metrics *m, struct metrics_client *cl,
			      short revents)
{
	if (cl->state == METRICS_WRITING) {
		if (revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
			metrics_client_flush(m, cl);
	} else if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
		metrics_client_read(m, cl);
	}
}

/** @brief Refuse connection @fd (all slots taken): a 503, best effort. */
static void metrics_refuse(int fd, const char *peer)
{
	char buf[METRICS_SMALL_MAX];
	int n = http_format_response(buf, sizeof buf, 503, NULL,
				     "too many metrics clients at once\n");

	log_notice("metrics: %s: refused: %d clients already", peer,
		   METRICS_CLIENTS_MAX);
	if (n > 0 && send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("metrics: %s: write: %s", peer, strerror(errno));
	close(fd);
}

/** @brief Give connection @fd from @sa a free slot, or refuse it. */
static void metrics_admit(struct metrics *m, int fd,
			  const struct sockaddr_storage *sa)
{
	char peer[NET_ADDRSTRLEN];

	net_addr_str((const struct sockaddr *)sa, peer, sizeof peer);
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++) {
		struct metrics_client *cl = &m->cl[i];

		if (cl->fd >= 0)
			continue;
		cl->fd = fd;
		cl->state = METRICS_READING;
		cl->deadline = timer_now_ms() + m->idle_ms;
		cl->inlen = 0;
		memcpy(cl->peer, peer, sizeof peer);
		return;
	}
	metrics_refuse(fd, peer);
}

/** @brief Take the connections waiting on the listening socket. */
static void metrics_accept(struct metrics *m)
{
	for (int i = 0; i < METRICS_ACCEPT_BURST; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof sa;
		int fd = accept4(m->lfd, (struct sockaddr *)&sa, &salen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			metrics_admit(m, fd, &sa);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("metrics: accept on %s: %s", m->addr, strerror(errno));
		if ((errno == EMFILE || errno == ENFILE) && m->spare >= 0) {
			/* drop the connection, or poll() keeps reporting it */
			close(m->spare);
			fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			m->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
		return;
	}
}

/** @brief Drop the clients whose deadline has passed. */
static void metrics_expire(struct metrics *m)
{
	uint64_t now = timer_now_ms();

	for (int i = 0; i < METRICS_CLIENTS_MAX; i++) {
		struct metrics_client *cl = &m->cl[i];

		if (cl->fd < 0 || cl->deadline > now)
			continue;
		log_debug("metrics: %s: idle for %d ms; dropped", cl->peer,
			  m->idle_ms);
		metrics_client_close(cl);
	}
}

/* ---- the whole ---- */

struct metrics *metrics_new(metrics_render_fn render, void *arg)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->render = render;
	m->arg = arg;
	m->lfd = m->spare = -1;
	m->idle_ms = METRICS_IDLE_MS;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		m->cl[i].fd = -1;
	return m;
}

void metrics_set_idle_ms(struct metrics *m, int ms)
{
	m->idle_ms = ms > 0 ? ms : 1;
}

int metrics_listen(struct metrics *m, const char *addr, char *err,
		   size_t errlen)
{
	struct net_endpoint ep;
	char why[256];
	int fd;

	if (m->lfd >= 0) {
		snprintf(err, errlen, "metrics: already listening on %s", m->addr);
		return -1;
	}
	if (net_endpoint_parse(&ep, addr, 1, why, sizeof why) < 0) {
		snprintf(err, errlen, "metrics: %s", why);
		return -1;
	}
	fd = net_listen(&ep.addrs[0], why, sizeof why);
	if (fd < 0) {
		snprintf(err, errlen, "metrics: %s", why);
		net_endpoint_free(&ep);
		return -1;
	}
	net_addr_str((const struct sockaddr *)&ep.addrs[0].ss, m->addr,
		     sizeof m->addr);
	net_endpoint_free(&ep);
	m->lfd = fd;
	if (m->spare < 0)
		m->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_info("metrics: listening on %s (GET /metrics)", m->addr);
	return 0;
}

int metrics_pollfds(struct metrics *m, struct pollfd *pfd, int max)
{
	int n = 0;

	if (m->lfd >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
	for (int i = 0; i < METRICS_CLIENTS_MAX && n < max; i++) {
		struct metrics_client *cl = &m->cl[i];

		if (cl->fd < 0)
			continue;
		pfd[n++] = (struct pollfd){
			.fd = cl->fd,
			.events = cl->state == METRICS_WRITING ? POLLOUT : POLLIN,
		};
	}
	return n;
}

int metrics_timeout_ms(struct metrics *m)
{
	uint64_t now = timer_now_ms(), first = UINT64_MAX;

	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->cl[i].fd >= 0 && m->cl[i].deadline < first)
			first = m->cl[i].deadline;
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

/** @brief The client on descriptor @fd, or NULL. */
static struct metrics_client *metrics_client_find(struct metrics *m, int fd)
{
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->cl[i].fd == fd)
			return &m->cl[i];
	return NULL;
}

void metrics_handle(struct metrics *m, const struct pollfd *pfd, int n)
{
	struct metrics_client *cl;
	int accept = 0;

	/* new connections last: their descriptors may repeat one closed here */
	for (int i = 0; i < n; i++) {
		if (!pfd[i].revents || pfd[i].fd < 0)
			continue;
		if (pfd[i].fd == m->lfd)
			accept = 1;
		else if ((cl = metrics_client_find(m, pfd[i].fd)))
			metrics_client_io(m, cl, pfd[i].revents);
	}
	metrics_expire(m);
	if (accept)
		metrics_accept(m);
}

void metrics_close_fds(struct metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->cl[i].fd >= 0) {
			close(m->cl[i].fd);
			m->cl[i].fd = -1;
		}
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->spare >= 0)
		close(m->spare);
	m->lfd = m->spare = -1;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	metrics_close_fds(m);
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		free(m->cl[i].out);
	free(m);
}
