/* metrics.h - the master's Prometheus endpoint, and a writer for the text
 * exposition format (0.0.4) that fills its answers
 *
 * The endpoint is a small HTTP/1.1 server the master polls as it polls
 * the control socket: GET /metrics calls the render callback, which
 * describes each family with metrics_family() and then writes its samples
 * with metrics_u64() or metrics_double(). One request per connection,
 * answered with Connection: close.
 *
 * The writer checks what it is given (names, types, labels, that a sample
 * follows its family's declaration); a mistake makes the whole page an
 * error, which the endpoint answers with a 500, rather than text that
 * Prometheus would reject or misread.
 */
#ifndef SSLTUNNEL_METRICS_H
#define SSLTUNNEL_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_BUF_MAX (4u << 20)	/* bytes of one page */
#define METRICS_NAME_MAX 128	/* bytes of a metric or label name */
#define METRICS_LABELS_MAX 8	/* label pairs of one sample */
#define METRICS_CLIENTS_MAX 16	/* scrapers at once; one more is refused */
#define METRICS_POLLFDS (1 + METRICS_CLIENTS_MAX)
#define METRICS_IDLE_MS 10000	/* default: a client that stalls this long is dropped */

/* A page being written. All zero is an empty page; metrics_buf_free()
 * releases it. After the first mistake every call is a no-op and @error
 * says what went wrong. */
struct metrics_buf {
	char *data;		/* the text, NUL-terminated once not empty */
	size_t len, cap;
	char family[METRICS_NAME_MAX + 1];	/* being written; "" none */
	int counter;		/* ... and it is a counter */
	char *names;		/* families declared so far: "a\0b\0" */
	size_t nameslen, namescap;
	char error[256];	/* "": no mistake */
};

/** @brief Start family @name of @type ("counter": the name ends in
 *  _total; "gauge": it does not) with its @help text, so that the samples
 *  that follow are described once: # HELP and # TYPE are written the
 *  first time, and again naming the family being written is a no-op. A
 *  family cannot come back after another one (its samples must be
 *  together). Names match [a-zA-Z_:][a-zA-Z0-9_:]*; @help is not empty. */
void metrics_family(struct metrics_buf *b, const char *name, const char *type,
		    const char *help);
/** @brief Write one sample of the family being written (@name is its
 *  name) with value @v, then label name, value pairs ending with NULL:
 *  metrics_u64(b, "x_total", 3, "tunnel", t, "direction", "up", NULL).
 *  Label names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__";
 *  values are escaped (backslash, double quote, newline). */
void metrics_u64(struct metrics_buf *b, const char *name, uint64_t v, ...)
	__attribute__((sentinel));
/** @brief metrics_u64() for a value that is not a whole number (or may
 *  be NaN, +Inf, -Inf); a counter's is never negative. */
void metrics_double(struct metrics_buf *b, const char *name, double v, ...)
	__attribute__((sentinel));
/** @brief Release @b's memory and make it an empty page again. */
void metrics_buf_free(struct metrics_buf *b);

/** @brief Fill @b with the daemon's metrics, when a scrape asks. */
typedef void (*metrics_render_fn)(void *arg, struct metrics_buf *b);

struct metrics;

/** @brief An endpoint that is not listening yet; @render is called once
 *  per GET or HEAD of /metrics, when the request is complete. */
struct metrics *metrics_new(metrics_render_fn render, void *arg);
/** @brief Drop clients that stall for @ms instead of METRICS_IDLE_MS:
 *  to send their request, or between two parts of the answer taken. */
void metrics_set_idle_ms(struct metrics *m, int ms);
/** @brief Listen on @addr ("127.0.0.1:9817", "[::1]:9817"; a name is
 *  resolved now, and the first address it gives is used). Returns 0, or
 *  -1 with the reason in @err. */
int metrics_listen(struct metrics *m, const char *addr, char *err,
		   size_t errlen);
/** @brief Fill at most @max poll entries with what the endpoint waits
 *  on; returns how many (at most METRICS_POLLFDS). */
int metrics_pollfds(struct metrics *m, struct pollfd *pfd, int max);
/** @brief Milliseconds until the next client may be dropped, for the
 *  poll() timeout; -1 when no client is connected. */
int metrics_timeout_ms(struct metrics *m);
/** @brief After every poll() round (@pfd may hold others' entries, @n may
 *  be 0 after a timeout): accept, read, answer, drop stalled clients. */
void metrics_handle(struct metrics *m, const struct pollfd *pfd, int n);
/** @brief In a forked worker: close the endpoint's descriptors and keep
 *  its memory (the master still owns it). NULL: no-op. */
void metrics_close_fds(struct metrics *m);
/** @brief Close everything and free @m. NULL: no-op. */
void metrics_free(struct metrics *m);

#endif
