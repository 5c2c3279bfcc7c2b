/* loadgen.c - load, echo backend and port picker for bench/run
 *
 * One single-threaded epoll (or blocking) loop per command; every command
 * is bounded by the global -t SECONDS (default 60) and exits 124 past it.
 * Results are "key=value" lines on stdout, for bench/run to parse.
 *
 *   loadgen [-t SECS] freeport N [BASE]
 *	N distinct ports free on 127.0.0.1, from BASE (default 21000) up.
 *   loadgen [-t SECS] echo PORT [--pid-file F]
 *	Echo server on 127.0.0.1:PORT; runs until SIGTERM or -t.
 *   loadgen [-t SECS] handshake HOST PORT CONC SECS [BYTES]
 *	CONC connection loops for SECS seconds: connect, write BYTES
 *	(default 1024), read them back, close. Counts completed loops.
 *   loadgen [-t SECS] latency HOST PORT COUNT [BYTES]
 *	One connection, COUNT ping-pongs of BYTES (default 64) after a
 *	warm-up; prints p50/p90/p99 round trips in microseconds.
 *   loadgen [-t SECS] idle HOST PORT N
 *	Opens N connections (32 at a time), checks each with the echo of
 *	its own 16 bytes, prints "ready=N" and holds them until SIGTERM or
 *	-t. On SIGUSR1, every held connection echoes its own 64 bytes, all
 *	at once; prints "verified=N" and "mismatched=M" (closed, failed or
 *	not byte-exact), then exits.
 *
 * Exit status: 0 done, 1 failed, 2 usage, 124 timed out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_EX_FAIL 1
#define LG_EX_USAGE 2
#define LG_EX_TIMEOUT 124
#define LG_BUFSZ (64 * 1024)
#define LG_EVENTS 256

static const char *lg_cmd = "loadgen";
static int64_t lg_deadline_ns;		/* the global -t, monotonic */
static volatile sig_atomic_t lg_stop;	/* SIGTERM / SIGINT seen */

/** @brief Nanoseconds on the monotonic clock, for deadlines and RTTs. */
static int64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/** @brief Say "loadgen: CMD: message" on stderr and exit with @code. */
static void __attribute__((noreturn, format(printf, 2, 3)))
lg_die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loadgen: %s: ", lg_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/** @brief Exit 124 once the global time limit has passed, saying what
 *  was still being waited for. */
static void lg_check_deadline(const char *what)
{
	if (lg_now_ns() >= lg_deadline_ns)
		lg_die(LG_EX_TIMEOUT, "timed out %s", what);
}

/** @brief Milliseconds left before @until_ns (at least 0, at most the
 *  global deadline), for epoll_wait. */
static int lg_wait_ms(int64_t until_ns)
{
	int64_t end = until_ns < lg_deadline_ns ? until_ns : lg_deadline_ns;
	int64_t left = end - lg_now_ns();

	if (left <= 0)
		return 0;
	return (int)(left / 1000000) + 1;
}

static void lg_on_signal(int sig)
{
	(void)sig;
	lg_stop = 1;
}

/** @brief SIGTERM/SIGINT end the long-running commands cleanly. */
static void lg_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = lg_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/** @brief The soft file limit raised to the hard one: idle holds a
 *  thousand sockets and the echo server as many. */
static void lg_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static long lg_number(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		lg_die(LG_EX_USAGE, "%s: expected a number from %ld to %ld, got \"%s\"",
		       what, min, max, s);
	return v;
}

static struct sockaddr_in lg_addr(const char *host, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		lg_die(LG_EX_USAGE, "\"%s\" is not an IPv4 address", host);
	return sin;
}

static void lg_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/** @brief Start a non-blocking connect; -1 with errno if it failed
 *  at once. */
static int lg_connect_start(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	lg_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)sin, sizeof *sin) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int lg_epoll_add(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int lg_epoll_mod(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* ---- freeport ------------------------------------------------------- */

/** @brief Ports that bind on 127.0.0.1 without SO_REUSEADDR, so neither
 *  a listener nor a TIME_WAIT remnant holds them. Held until all are
 *  found, so they are distinct. */
static int lg_freeport(int argc, char **argv)
{
	int n, port, found = 0, fds[256];

	if (argc < 1 || argc > 2)
		lg_die(LG_EX_USAGE, "usage: freeport N [BASE]");
	n = lg_number(argv[0], "N", 1, 256);
	port = argc > 1 ? lg_number(argv[1], "BASE", 1024, 65535) : 21000;
	for (; found < n && port <= 65535; port++) {
		struct sockaddr_in sin = lg_addr("127.0.0.1", port);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			lg_die(LG_EX_FAIL, "socket: %s", strerror(errno));
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
			fds[found++] = fd;
			printf("%d\n", port);
		} else {
			close(fd);
		}
	}
	for (int i = 0; i < found; i++)
		close(fds[i]);
	if (found < n)
		lg_die(LG_EX_FAIL, "only %d free ports found", found);
	return 0;
}

/* ---- echo ------------------------------------------------------------ */

struct lg_echo_conn {
	int fd;
	size_t off, len;	/* bytes not yet written back */
	unsigned char *buf;	/* only while some are pending */
};

/** @brief Echo what is readable; keep what the peer can't take yet and
 *  stop reading until it is gone. 1 = keep the connection, 0 = done. */
static int lg_echo_io(int ep, struct lg_echo_conn *c, unsigned char *tmp)
{
	for (;;) {
		if (c->len) {
			ssize_t w = send(c->fd, c->buf + c->off, c->len,
					 MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN)
				return lg_epoll_mod(ep, c->fd, EPOLLOUT, c) == 0;
			if (w < 0)
				return 0;
			c->off += w;
			c->len -= w;
			if (c->len)
				continue;
			free(c->buf);
			c->buf = NULL;
			c->off = 0;
			if (lg_epoll_mod(ep, c->fd, EPOLLIN | EPOLLRDHUP, c) < 0)
				return 0;
		}
		ssize_t r = recv(c->fd, tmp, LG_BUFSZ, 0);
		if (r == 0)
			return 0;
		if (r < 0)
			return errno == EAGAIN;
		ssize_t w = send(c->fd, tmp, r, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return 0;
		if (w < 0)
			w = 0;
		if (w < r) {
			c->buf = malloc(r - w);
			if (!c->buf)
				return 0;
			memcpy(c->buf, tmp + w, r - w);
			c->len = r - w;
		}
	}
}

static void lg_echo_accept(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct lg_echo_conn *c;

		if (fd < 0)
			return;
		lg_nodelay(fd);
		c = calloc(1, sizeof *c);
		if (!c || lg_epoll_add(ep, fd, EPOLLIN | EPOLLRDHUP, c) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
	}
}

static int lg_listen(int port)
{
	struct sockaddr_in sin = lg_addr("127.0.0.1", port);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		lg_die(LG_EX_FAIL, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    listen(fd, 4096) < 0)
		lg_die(LG_EX_FAIL, "127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

static int lg_echo(int argc, char **argv)
{
	static unsigned char tmp[LG_BUFSZ];
	struct epoll_event evs[LG_EVENTS];
	int lfd, ep, port;
	const char *pid_file = NULL;

	if (argc == 3 && strcmp(argv[1], "--pid-file") == 0)
		pid_file = argv[2];
	else if (argc != 1)
		lg_die(LG_EX_USAGE, "usage: echo PORT [--pid-file F]");
	port = lg_number(argv[0], "PORT", 1, 65535);
	lfd = lg_listen(port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || lg_epoll_add(ep, lfd, EPOLLIN, NULL) < 0)
		lg_die(LG_EX_FAIL, "epoll: %s", strerror(errno));
	if (pid_file) {
		FILE *f = fopen(pid_file, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			lg_die(LG_EX_FAIL, "%s: %s", pid_file, strerror(errno));
	}
	while (!lg_stop) {
		int n = epoll_wait(ep, evs, LG_EVENTS, lg_wait_ms(INT64_MAX));

		if (n < 0 && errno != EINTR)
			lg_die(LG_EX_FAIL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct lg_echo_conn *c = evs[i].data.ptr;
			if (!c) {
				lg_echo_accept(ep, lfd);
			} else if (!lg_echo_io(ep, c, tmp)) {
				close(c->fd);
				free(c->buf);
				free(c);
			}
		}
		if (lg_now_ns() >= lg_deadline_ns)
			break;
	}
	return 0;
}

/* ---- handshake -------------------------------------------------------- */

enum lg_hs_state { LG_HS_CONNECTING, LG_HS_READING };

struct lg_hs_slot {
	int fd;
	enum lg_hs_state st;
	size_t got;
};

/** @brief A slot starts its next loop; a connect refused at once counts
 *  as an error and is retried on the next round. 0 or -1. */
static int lg_hs_open(int ep, const struct sockaddr_in *sin,
		      struct lg_hs_slot *s)
{
	s->fd = lg_connect_start(sin);
	s->got = 0;
	s->st = LG_HS_CONNECTING;
	if (s->fd < 0)
		return -1;
	if (lg_epoll_add(ep, s->fd, EPOLLOUT, s) < 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

/** @brief Advance one loop on readiness. 1 = completed, 0 = still
 *  going, -1 = failed. */
static int lg_hs_step(int ep, struct lg_hs_slot *s, const unsigned char *msg,
		      size_t bytes, unsigned char *tmp)
{
	if (s->st == LG_HS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			return -1;
		/* 1 KiB fits the socket buffer at once. */
		if (send(s->fd, msg, bytes, MSG_NOSIGNAL) != (ssize_t)bytes)
			return -1;
		s->st = LG_HS_READING;
		return lg_epoll_mod(ep, s->fd, EPOLLIN, s) < 0 ? -1 : 0;
	}
	for (;;) {
		ssize_t r = recv(s->fd, tmp, LG_BUFSZ, 0);
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0)
			return -1;
		s->got += r;
		if (s->got >= bytes)
			return 1;
	}
}

static int lg_handshake(int argc, char **argv)
{
	static unsigned char tmp[LG_BUFSZ];
	struct epoll_event evs[LG_EVENTS];
	struct sockaddr_in sin;
	struct lg_hs_slot *slots;
	unsigned char *msg;
	long conc, secs;
	size_t bytes = 1024;
	uint64_t done = 0, errors = 0;
	int64_t start, end;
	long idle_slots = 0;
	int ep;

	if (argc < 4 || argc > 5)
		lg_die(LG_EX_USAGE, "usage: handshake HOST PORT CONC SECS [BYTES]");
	sin = lg_addr(argv[0], lg_number(argv[1], "PORT", 1, 65535));
	conc = lg_number(argv[2], "CONC", 1, 4096);
	secs = lg_number(argv[3], "SECS", 1, 3600);
	if (argc > 4)
		bytes = lg_number(argv[4], "BYTES", 1, 16384);
	slots = calloc(conc, sizeof *slots);
	msg = malloc(bytes);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!slots || !msg || ep < 0)
		lg_die(LG_EX_FAIL, "out of memory or epoll: %s", strerror(errno));
	memset(msg, 'h', bytes);
	start = lg_now_ns();
	end = start + secs * 1000000000LL;
	for (long i = 0; i < conc; i++)
		if (lg_hs_open(ep, &sin, &slots[i]) < 0) {
			errors++;
			idle_slots++;
		}
	while (lg_now_ns() < end && !lg_stop) {
		/* A slot whose connect was refused at once retries soon. */
		int n = epoll_wait(ep, evs, LG_EVENTS,
				   idle_slots ? 10 : lg_wait_ms(end));

		if (n < 0 && errno != EINTR)
			lg_die(LG_EX_FAIL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct lg_hs_slot *s = evs[i].data.ptr;
			int rc = lg_hs_step(ep, s, msg, bytes, tmp);
			if (rc == 0)
				continue;
			if (rc > 0)
				done++;
			else
				errors++;
			close(s->fd);
			s->fd = -1;
		}
		/* Slots closed this round, or refused at once, start again. */
		idle_slots = 0;
		for (long i = 0; i < conc; i++)
			if (slots[i].fd < 0 && lg_hs_open(ep, &sin, &slots[i]) < 0) {
				errors++;
				idle_slots++;
			}
		lg_check_deadline("in the handshake loops");
	}
	end = lg_now_ns();
	printf("completed=%llu\nerrors=%llu\nseconds=%.3f\nrate=%.1f\n",
	       (unsigned long long)done, (unsigned long long)errors,
	       (end - start) / 1e9, done / ((end - start) / 1e9));
	return done ? 0 : LG_EX_FAIL;
}

/* ---- latency ------------------------------------------------------------ */

/** @brief Blocking full read or write of @len bytes; the socket's
 *  SO_RCVTIMEO/SO_SNDTIMEO bound each call. 0 or -1. */
static int lg_full_io(int fd, unsigned char *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ?
			send(fd, buf + done, len - done, MSG_NOSIGNAL) :
			recv(fd, buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int lg_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double lg_pct_us(const int64_t *sorted, long n, double p)
{
	long i = (long)(p / 100.0 * n);

	if (i >= n)
		i = n - 1;
	return sorted[i] / 1000.0;
}

static int lg_latency(int argc, char **argv)
{
	const long warm = 200;
	struct sockaddr_in sin;
	unsigned char out[16384], in[16384];
	struct timeval tv = { 5, 0 };
	int64_t *rtt, sum = 0;
	long count, bytes = 64;
	int fd;

	if (argc < 3 || argc > 4)
		lg_die(LG_EX_USAGE, "usage: latency HOST PORT COUNT [BYTES]");
	sin = lg_addr(argv[0], lg_number(argv[1], "PORT", 1, 65535));
	count = lg_number(argv[2], "COUNT", 1, 10000000);
	if (argc > 3)
		bytes = lg_number(argv[3], "BYTES", 1, sizeof out);
	rtt = malloc(count * sizeof *rtt);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!rtt || fd < 0)
		lg_die(LG_EX_FAIL, "out of memory or socket: %s", strerror(errno));
	lg_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		lg_die(LG_EX_FAIL, "connect %s:%s: %s", argv[0], argv[1],
		       strerror(errno));
	memset(out, 'p', sizeof out);
	for (long i = -warm; i < count; i++) {
		int64_t t0 = lg_now_ns();

		if (lg_full_io(fd, out, bytes, 1) < 0 ||
		    lg_full_io(fd, in, bytes, 0) < 0)
			lg_die(LG_EX_FAIL, "ping-pong %ld: %s", i,
			       errno ? strerror(errno) : "connection closed");
		if (memcmp(in, out, bytes))
			lg_die(LG_EX_FAIL, "ping-pong %ld: echo differs", i);
		if (i >= 0) {
			rtt[i] = lg_now_ns() - t0;
			sum += rtt[i];
		}
		lg_check_deadline("in the ping-pongs");
	}
	close(fd);
	qsort(rtt, count, sizeof *rtt, lg_cmp_i64);
	printf("count=%ld\nmean_us=%.1f\np50_us=%.1f\np90_us=%.1f\np99_us=%.1f\nmax_us=%.1f\n",
	       count, sum / 1000.0 / count, lg_pct_us(rtt, count, 50),
	       lg_pct_us(rtt, count, 90), lg_pct_us(rtt, count, 99),
	       rtt[count - 1] / 1000.0);
	return 0;
}

/* ---- idle --------------------------------------------------------------- */

#define LG_IDLE_BATCH 32
#define LG_IDLE_MSG 16		/* the check on opening */
#define LG_IDLE_END 64		/* the check on SIGUSR1 */

static volatile sig_atomic_t lg_verify;	/* SIGUSR1 seen (idle) */

struct lg_idle_conn {
	int fd;
	int sent;
	size_t got;
	long id;
};

static void lg_on_verify(int sig)
{
	(void)sig;
	lg_verify = 1;
}

/** @brief Connection @id's own @len-byte payload: its number, then a
 *  pattern drawn from the number and the position, so that bytes crossed
 *  between connections, lost or shifted show in the echo. */
static void lg_idle_payload(char *buf, size_t len, long id)
{
	int n = snprintf(buf, len, "%c%0*ld", len == LG_IDLE_MSG ? 'c' : 'e',
			 (int)(LG_IDLE_MSG - 2), id);

	for (size_t i = n; i < len - 1; i++)
		buf[i] = (char)('a' + (id * 7 + i) % 26);
	buf[len - 1] = '\n';
}

/** @brief Read what has come back on @c against its payload @want of
 *  @len bytes: 1 = all of it, byte-exact; 0 = more due; -1 = closed,
 *  failed or a byte differs. */
static int lg_idle_read(struct lg_idle_conn *c, const char *want, size_t len)
{
	char in[LG_IDLE_END];

	for (;;) {
		ssize_t r = recv(c->fd, in, len - c->got, 0);
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0 || memcmp(in, want + c->got, r) != 0)
			return -1;
		c->got += r;
		if (c->got == len)
			return 1;
	}
}

/** @brief Advance one opening connection: 1 = checked (now idle),
 *  0 = still going, -1 = failed. */
static int lg_idle_step(int ep, struct lg_idle_conn *c)
{
	char msg[LG_IDLE_MSG];

	lg_idle_payload(msg, sizeof msg, c->id);
	if (!c->sent) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err ||
		    send(c->fd, msg, LG_IDLE_MSG, MSG_NOSIGNAL) != LG_IDLE_MSG)
			return -1;
		c->sent = 1;
		return lg_epoll_mod(ep, c->fd, EPOLLIN, c) < 0 ? -1 : 0;
	}
	return lg_idle_read(c, msg, LG_IDLE_MSG);
}

/** @brief Open @n connections to @sin, LG_IDLE_BATCH at a time, each checked by
 *  the echo of its own payload; prints ready= and failed=. */
static long lg_idle_open(int ep, const struct sockaddr_in *sin,
			 struct lg_idle_conn *conns, long n)
{
	struct epoll_event evs[LG_EVENTS];
	long started = 0, inflight = 0, ready = 0, failed = 0;

	while (ready + failed < n && !lg_stop) {
		while (inflight < LG_IDLE_BATCH && started < n) {
			struct lg_idle_conn *c = &conns[started];
			c->id = started++;
			c->fd = lg_connect_start(sin);
			if (c->fd < 0 || lg_epoll_add(ep, c->fd, EPOLLOUT, c) < 0) {
				failed++;
				continue;
			}
			inflight++;
		}
		int k = epoll_wait(ep, evs, LG_EVENTS, lg_wait_ms(INT64_MAX));
		if (k < 0 && errno != EINTR)
			lg_die(LG_EX_FAIL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			struct lg_idle_conn *c = evs[i].data.ptr;
			int rc = lg_idle_step(ep, c);
			if (rc == 0)
				continue;
			inflight--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			if (rc > 0) {
				ready++;
			} else {
				failed++;
				close(c->fd);
				c->fd = -1;
			}
		}
		lg_check_deadline("opening the idle connections");
	}
	printf("ready=%ld\nfailed=%ld\n", ready, failed);
	fflush(stdout);
	return ready;
}

/** @brief Every held connection echoes its own LG_IDLE_END-byte
 *  payload, all at once; prints verified= and mismatched= (closed,
 *  failed or not byte-exact). */
static void lg_idle_verify(int ep, struct lg_idle_conn *conns, long n)
{
	struct epoll_event evs[LG_EVENTS];
	char want[LG_IDLE_END];
	long pending = 0, verified = 0, bad = 0;

	for (long i = 0; i < n; i++) {
		struct lg_idle_conn *c = &conns[i];
		if (c->fd < 0)
			continue;
		lg_idle_payload(want, sizeof want, c->id);
		c->got = 0;
		if (send(c->fd, want, sizeof want, MSG_NOSIGNAL) != sizeof want ||
		    lg_epoll_add(ep, c->fd, EPOLLIN, c) < 0) {
			bad++;
			continue;
		}
		pending++;
	}
	while (pending > 0 && !lg_stop) {
		int k = epoll_wait(ep, evs, LG_EVENTS, lg_wait_ms(INT64_MAX));
		if (k < 0 && errno != EINTR)
			lg_die(LG_EX_FAIL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			struct lg_idle_conn *c = evs[i].data.ptr;
			int rc;

			lg_idle_payload(want, sizeof want, c->id);
			rc = lg_idle_read(c, want, sizeof want);
			if (rc == 0)
				continue;
			pending--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			if (rc > 0)
				verified++;
			else
				bad++;
		}
		lg_check_deadline("verifying the idle connections");
	}
	printf("verified=%ld\nmismatched=%ld\n", verified, bad + pending);
	fflush(stdout);
}

static int lg_idle(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = lg_on_verify };
	struct sockaddr_in sin;
	struct lg_idle_conn *conns;
	long n, ready;
	int ep;

	if (argc != 3)
		lg_die(LG_EX_USAGE, "usage: idle HOST PORT N");
	sin = lg_addr(argv[0], lg_number(argv[1], "PORT", 1, 65535));
	n = lg_number(argv[2], "N", 1, 100000);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	conns = calloc(n, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		lg_die(LG_EX_FAIL, "out of memory or epoll: %s", strerror(errno));
	ready = lg_idle_open(ep, &sin, conns, n);
	while (!lg_stop && !lg_verify && lg_now_ns() < lg_deadline_ns)
		usleep(20000);
	if (lg_verify) {
		lg_idle_verify(ep, conns, n);
		return 0;
	}
	return ready ? 0 : LG_EX_FAIL;
}

/* ---- main ------------------------------------------------------------------ */

static void __attribute__((noreturn)) lg_usage(void)
{
	fprintf(stderr,
		"usage: loadgen [-t SECS] freeport N [BASE]\n"
		"       loadgen [-t SECS] echo PORT [--pid-file F]\n"
		"       loadgen [-t SECS] handshake HOST PORT CONC SECS [BYTES]\n"
		"       loadgen [-t SECS] latency HOST PORT COUNT [BYTES]\n"
		"       loadgen [-t SECS] idle HOST PORT N\n");
	exit(LG_EX_USAGE);
}

int main(int argc, char **argv)
{
	long secs = 60;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		secs = lg_number(argv[2], "-t", 1, 86400);
		i = 3;
	}
	if (i >= argc)
		lg_usage();
	lg_cmd = argv[i];
	lg_deadline_ns = lg_now_ns() + secs * 1000000000LL;
	lg_catch_signals();
	lg_raise_nofile();
	if (strcmp(lg_cmd, "freeport") == 0)
		return lg_freeport(argc - i - 1, argv + i + 1);
	if (strcmp(lg_cmd, "echo") == 0)
		return lg_echo(argc - i - 1, argv + i + 1);
	if (strcmp(lg_cmd, "handshake") == 0)
		return lg_handshake(argc - i - 1, argv + i + 1);
	if (strcmp(lg_cmd, "latency") == 0)
		return lg_latency(argc - i - 1, argv + i + 1);
	if (strcmp(lg_cmd, "idle") == 0)
		return lg_idle(argc - i - 1, argv + i + 1);
	lg_usage();
}
