/* tcptool.c - a plain-TCP test peer for the integration tests
 *
 * One poll() loop per command, no threads, every command bounded by the
 * global -t SECONDS (default 60): on expiry it says what it was waiting
 * for and exits 124, like timeout(1).
 *
 *   tcptool [-t SECS] freeport [N] [--owner PID]
 *   tcptool [-t SECS] release-ports PID
 *   tcptool [-t SECS] has-ipv6
 *   tcptool [-t SECS] listening PORT... [--pid PID]
 *   tcptool [-t SECS] serve PORT [options]
 *   tcptool [-t SECS] sendrecv HOST PORT INFILE OUTFILE [--no-fin]
 *   tcptool [-t SECS] many HOST PORT N BYTES [--pace B/S] [--report FILE]
 *   tcptool [-t SECS] stall HOST PORT N [--send FILE]
 *   tcptool [-t SECS] pingpong HOST PORT N [--new] [--bytes B]
 *   tcptool [-t SECS] churn HOST PORT N [--parallel P] [--bytes B]
 *   tcptool [-t SECS] expect-closed HOST PORT [--silent]
 *   tcptool [-t SECS] blackhole PORT [--pid-file F]
 *   tcptool [-t SECS] stream HOST PORT SEND_BYTES EXPECT_BYTES
 *   tcptool [-t SECS] dribble HOST PORT COUNT DELAY_MS
 *   tcptool [-t SECS] hold HOST PORT N [--send] [--reset] --until FILE
 *   tcptool [-t SECS] expect-reset HOST PORT [--send BYTES]
 *   tcptool [-t SECS] reset HOST PORT BYTES
 *
 * Exit status: 0 success, 1 the check failed, 2 usage, 124 timed out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TT_EX_FAIL 1
#define TT_EX_USAGE 2
#define TT_EX_TIMEOUT 124
#define TT_BUFSZ (64 * 1024)
#define TT_MAX_LISTEN 4
#define TT_DIR_MAX 512		/* the port reservation folder's path */

static const char *tt_cmd = "tcptool";
static int64_t tt_deadline;		/* ms on the monotonic clock */
static int tt_timeout_s = 60;
static volatile sig_atomic_t tt_stop;	/* SIGTERM/SIGINT seen (serve) */

/** @brief Milliseconds on the monotonic clock, for deadlines. */
static int64_t tt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** @brief Print "tcptool: CMD: message" on stderr. */
static void tt_vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "tcptool: %s: ", tt_cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/** @brief tt_vwarn's message, then exit with @code. */
static void __attribute__((noreturn, format(printf, 2, 3)))
tt_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tt_vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

static void __attribute__((format(printf, 1, 2))) tt_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tt_vwarn(fmt, ap);
	va_end(ap);
}

/** @brief poll() timeout until the global deadline; exits 124 with
 *  @waiting_for in the message once it has passed. */
static int tt_poll_timeout(const char *waiting_for)
{
	int64_t left = tt_deadline - tt_now_ms();

	if (left <= 0)
		tt_die(TT_EX_TIMEOUT, "timed out after %d s %s", tt_timeout_s,
		       waiting_for);
	return left > 1000 ? 1000 : (int)left;
}

/** @brief Parse a decimal number in [lo, hi] or exit with a usage error. */
static long long tt_num(const char *s, long long lo, long long hi,
			const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		tt_die(TT_EX_USAGE, "%s: expected a number from %lld to %lld, got \"%s\"",
		       what, lo, hi, s);
	return v;
}

/** @brief Write all of @buf to a regular file (blocking is fine there). */
static void tt_write_file(int fd, const void *buf, size_t len, const char *name)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tt_die(TT_EX_FAIL, "write %s: %s", name, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/** @brief Read a whole file into memory (the served source file). */
static unsigned char *tt_slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		tt_die(TT_EX_FAIL, "%s: %s", path, strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		tt_die(TT_EX_FAIL, "%s: out of memory", path);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			tt_die(TT_EX_FAIL, "read %s: %s", path,
			       n ? strerror(errno) : "file shrank");
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

/** @brief "127.0.0.1:1234" / "[::1]:1234" for messages. */
static const char *tt_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%d", host, port);
	} else {
		snprintf(out, len, "?");
	}
	return out;
}

/** @brief Resolve a numeric HOST and PORT (no DNS: loopback only). */
static void tt_resolve(const char *host, const char *port,
		       struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int rc;

	tt_num(port, 1, 65535, "port");
	if (host[0] == '[') {
		static char h[INET6_ADDRSTRLEN + 2];
		size_t l = strlen(host);

		if (l < 3 || host[l - 1] != ']' || l - 2 >= sizeof h)
			tt_die(TT_EX_USAGE, "bad host \"%s\"", host);
		memcpy(h, host + 1, l - 2);
		h[l - 2] = '\0';
		host = h;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		tt_die(TT_EX_USAGE, "%s port %s: %s", host, port, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
}

/** @brief Start a non-blocking connect; returns the fd (0 = in progress
 *  or done; the caller polls for POLLOUT and checks SO_ERROR). */
static int tt_connect_start(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		tt_die(TT_EX_FAIL, "socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 &&
	    errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/** @brief Finish a connect started by tt_connect_start(): 0 or an errno. */
static int tt_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

/** @brief Blocking-with-deadline connect for the single-connection
 *  commands; exits on failure. With @reset_ok, a connection reset right
 *  after the handshake (the peer accepted and closed at once) is not an
 *  error: -1 is returned. */
static int tt_connect2(const char *host, const char *port, int reset_ok)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	tt_resolve(host, port, &ss, &len);
	fd = tt_connect_start(&ss, len);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "connect %s port %s: %s", host, port,
		       strerror(-fd));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, tt_poll_timeout("connecting"));

		if (n < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		if (n > 0)
			break;
	}
	err = tt_connect_result(fd);
	if (reset_ok && (err == ECONNRESET || err == EPIPE)) {
		close(fd);
		return -1;
	}
	if (err)
		tt_die(TT_EX_FAIL, "connect %s port %s: %s", host, port,
		       strerror(err));
	return fd;
}

static int tt_connect(const char *host, const char *port)
{
	return tt_connect2(host, port, 0);
}


/* ---- stream: a deterministic generator checked at the other end -------- */

/* Seeds of the two directions of a stream: app -> backend, backend -> app. */
#define ST_SEED_UP 0x75707374726561ULL
#define ST_SEED_DOWN 0x646f776e737472ULL

/** @brief Word @i of the stream @seed (splitmix64): cheap enough for GiBs. */
static uint64_t st_word(uint64_t seed, uint64_t i)
{
	uint64_t z = seed + i * 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/** @brief Bytes [@off, @off + @len) of the stream @seed into @buf. */
static void st_fill(unsigned char *buf, uint64_t seed, uint64_t off, size_t len)
{
	while (len) {
		uint64_t w = st_word(seed, off >> 3);
		size_t s = off & 7, n = 8 - s;

		if (n > len)
			n = len;
		memcpy(buf, (unsigned char *)&w + s, n);
		buf += n;
		off += n;
		len -= n;
	}
}

/* One end of a stream: sends its bytes then FIN, checks what it receives
 * against the other direction's generator, byte for byte. */
struct st_stream {
	uint64_t send_total, sent, expect, got;
	uint64_t seed_out, seed_in;
	int wr_shut, rd_eof, reset;
	char why[160];			/* set once it went wrong */
};

/** @brief Send the next piece; FIN after the last. -1: failed (why). */
static int st_send(struct st_stream *s, int fd)
{
	unsigned char buf[TT_BUFSZ];
	size_t len = s->send_total - s->sent < sizeof buf ?
		     (size_t)(s->send_total - s->sent) : sizeof buf;
	ssize_t n = 0;

	if (len) {
		st_fill(buf, s->seed_out, s->sent, len);
		n = write(fd, buf, len);
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		snprintf(s->why, sizeof s->why, "write after %" PRIu64 " bytes: %s",
			 s->sent, strerror(errno));
		return -1;
	}
	if (n > 0)
		s->sent += (uint64_t)n;
	if (s->sent == s->send_total && !s->wr_shut) {
		if (shutdown(fd, SHUT_WR) < 0) {
			snprintf(s->why, sizeof s->why, "shutdown: %s", strerror(errno));
			return -1;
		}
		s->wr_shut = 1;
	}
	return 0;
}

/** @brief Read and check. -1: failed (why); a reset sets @reset too. */
static int st_recv(struct st_stream *s, int fd)
{
	unsigned char buf[TT_BUFSZ], want[TT_BUFSZ];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		s->reset = errno == ECONNRESET;
		snprintf(s->why, sizeof s->why, "read after %" PRIu64 " bytes: %s",
			 s->got, strerror(errno));
		return -1;
	}
	if (n == 0) {
		s->rd_eof = 1;
		if (s->got != s->expect) {
			snprintf(s->why, sizeof s->why,
				 "EOF after %" PRIu64 " of %" PRIu64 " bytes",
				 s->got, s->expect);
			return -1;
		}
		return 0;
	}
	if (s->got + (uint64_t)n > s->expect) {
		snprintf(s->why, sizeof s->why,
			 "%" PRIu64 " bytes, more than the %" PRIu64 " expected",
			 s->got + (uint64_t)n, s->expect);
		return -1;
	}
	st_fill(want, s->seed_in, s->got, (size_t)n);
	if (memcmp(buf, want, (size_t)n)) {
		ssize_t i = 0;

		while (buf[i] == want[i])
			i++;
		snprintf(s->why, sizeof s->why, "byte %" PRIu64 " differs",
			 s->got + (uint64_t)i);
		return -1;
	}
	s->got += (uint64_t)n;
	return 0;
}

/** @brief Poll events a stream end waits for. */
static short st_events(const struct st_stream *s)
{
	return (short)((s->rd_eof ? 0 : POLLIN) | (s->wr_shut ? 0 : POLLOUT));
}

static void tt_linger0(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* ---- freeport ---------------------------------------------------------- */

/** @brief Can @port be bound on @family's loopback right now? A family
 *  the host lacks counts as free. */
static int tt_port_free(int family, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, ok, one = 1;

	if (family == AF_INET) {
		struct sockaddr_in *in = (void *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (void *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof *in6;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return family == AF_INET6;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	if (!ok && family == AF_INET6 && errno == EADDRNOTAVAIL)
		ok = 1;
	close(fd);
	return ok;
}

/** @brief Lowest port of the kernel's ephemeral range (outgoing
 *  connections take their local port from it). */
static int tt_ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 32768, hi;

	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	return lo;
}

/*
 * Reservations. "Free right now" is not enough when tests run side by
 * side: two tests can both find a port free before either binds it. So a
 * port handed out with --owner is also reserved for that process: a file
 * named after the port, holding the owner's PID, in a folder shared by
 * every test on this kernel (its boot_id in the name, so the kTLS VM,
 * which sees the host's /tmp, keeps its own). A flock on the folder's
 * lock file makes look-up-and-reserve one step. A reservation whose owner
 * is gone is stale and taken over; release-ports drops an owner's ones.
 */

/** @brief The reservation folder in @buf (created, mode 1777), or 0 when
 *  it can't be had (then ports are handed out unreserved). */
static int tt_port_dir(char *buf, size_t len)
{
	const char *env = getenv("SSLTUNNEL_PORT_DIR");
	char boot[64] = "unknown";
	FILE *f;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
	} else {
		f = fopen("/proc/sys/kernel/random/boot_id", "r");
		if (f) {
			if (!fgets(boot, sizeof boot, f))
				snprintf(boot, sizeof boot, "unknown");
			boot[strcspn(boot, "\n")] = 0;
			fclose(f);
		}
		snprintf(buf, len, "/tmp/ssltunnel-test-ports.%s", boot);
	}
	if (mkdir(buf, 01777) == 0)
		chmod(buf, 01777);	/* umask may have cut the bits */
	else if (errno != EEXIST)
		return 0;
	return 1;
}

/** @brief Take the folder's lock (waiting within the deadline); returns
 *  the lock's fd, or -1 when there is no lock to be had. */
static int tt_port_lock(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	fchmod(fd, 0666);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int left;

		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return -1;
		}
		left = tt_poll_timeout("waiting for the port reservation lock");
		poll(NULL, 0, left < 10 ? left : 10);
	}
	return fd;
}

/** @brief The PID a reservation file names, or 0 (missing, unreadable). */
static long tt_port_owner(const char *path)
{
	char buf[32] = "";
	long pid = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof buf - 1) > 0)
		pid = strtol(buf, NULL, 10);
	close(fd);
	return pid > 0 ? pid : 0;
}

/** @brief Is @port reserved? (After tt_port_sweep every reservation
 *  left belongs to a live process.) */
static int tt_port_reserved(const char *dir, int port)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%d", dir, port);
	return access(path, F_OK) == 0;
}

/** @brief Drop the reservations of processes that are gone, and with
 *  @drop > 0 those of process @drop too (the caller holds the lock). */
static void tt_port_sweep(const char *dir, long drop)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	long pid;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		pid = tt_port_owner(path);
		if (pid == drop || pid <= 0 ||
		    (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlink(path);
	}
	if (d)
		closedir(d);
}

/** @brief Reserve @port for @owner (the caller holds the lock). */
static void tt_port_reserve(const char *dir, int port, long owner)
{
	char path[PATH_MAX], line[32];
	int fd, n;

	snprintf(path, sizeof path, "%s/%d", dir, port);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "reserve port %d: %s: %s", port, path,
		       strerror(errno));
	fchmod(fd, 0666);
	n = snprintf(line, sizeof line, "%ld\n", owner);
	if (write(fd, line, (size_t)n) != n)
		tt_die(TT_EX_FAIL, "reserve port %d: write %s: %s", port, path,
		       strerror(errno));
	close(fd);
}

/** @brief Print @count distinct free ports, one a line; with --owner PID
 *  reserve them for PID too (see above).
 *
 * A port from bind(port 0) lies in the ephemeral range, where any
 * outgoing connection of a test running in parallel can take it before
 * the daemon binds it. So pick random ports just below that range, keep
 * those that bind on both 127.0.0.1 and ::1 and that no live test has
 * reserved, and fall back to port 0 only when the range below is too
 * small. */
static int cmd_freeport(int argc, char **argv)
{
	int count = 1, hi = tt_ephemeral_low() - 1, lo = 10000;
	int got[64], ngot = 0, lock = -1;
	long owner = 0;
	char dir[TT_DIR_MAX];
	unsigned seed = (unsigned)getpid() ^ (unsigned)tt_now_ms();

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--owner") && i + 1 < argc)
			owner = tt_num(argv[++i], 1, 1L << 30, "--owner");
		else if (i == 0 && argv[i][0] != '-')
			count = (int)tt_num(argv[i], 1, 64, "N");
		else
			tt_die(TT_EX_USAGE, "usage: freeport [N] [--owner PID]");
	}
	if (owner) {
		if (!tt_port_dir(dir, sizeof dir) ||
		    (lock = tt_port_lock(dir)) < 0)
			fprintf(stderr, "tcptool: freeport: no reservation folder "
				"(%s: %s); ports are not reserved\n", dir,
				strerror(errno));
		else
			tt_port_sweep(dir, 0);
	}
	while (ngot < count) {
		int port = 0, dup = 0;

		tt_poll_timeout("looking for a free port");
		if (hi - lo > 1000) {
			port = lo + (int)(rand_r(&seed) % (unsigned)(hi - lo));
		} else {
			struct sockaddr_in in = { .sin_family = AF_INET };
			socklen_t len = sizeof in;
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (fd < 0 || bind(fd, (void *)&in, len) < 0 ||
			    getsockname(fd, (void *)&in, &len) < 0)
				tt_die(TT_EX_FAIL, "bind: %s", strerror(errno));
			port = ntohs(in.sin_port);
			close(fd);
		}
		for (int i = 0; i < ngot; i++)
			dup |= got[i] == port;
		if (dup || (lock >= 0 && tt_port_reserved(dir, port)) ||
		    !tt_port_free(AF_INET, port) ||
		    !tt_port_free(AF_INET6, port))
			continue;
		if (lock >= 0)
			tt_port_reserve(dir, port, owner);
		got[ngot++] = port;
	}
	if (lock >= 0)
		close(lock);	/* drops the flock */
	for (int i = 0; i < ngot; i++)
		printf("%d\n", got[i]);
	return 0;
}

/** @brief Drop every port reservation that names process @argv[0]
 *  (and any whose process is gone). */
static int cmd_release_ports(int argc, char **argv)
{
	char dir[TT_DIR_MAX];
	int lock;

	if (argc != 1)
		tt_die(TT_EX_USAGE, "usage: release-ports PID");
	if (!tt_port_dir(dir, sizeof dir) || (lock = tt_port_lock(dir)) < 0)
		return 0;	/* nothing was reserved there */
	tt_port_sweep(dir, (long)tt_num(argv[0], 1, 1L << 30, "PID"));
	close(lock);
	return 0;
}

/** @brief Exit 0 if a TCP socket can be bound on [::1] here. */
static int cmd_has_ipv6(int argc, char **argv)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)argv;
	if (argc != 0)
		tt_die(TT_EX_USAGE, "usage: has-ipv6");
	if (fd < 0 || bind(fd, (struct sockaddr *)&in6, sizeof in6) < 0) {
		printf("has-ipv6: no: %s\n", strerror(errno));
		return TT_EX_FAIL;
	}
	close(fd);
	return 0;
}

/* ---- listening ---------------------------------------------------------- */

/** @brief Does /proc/net/tcp{,6} show a socket in LISTEN on @port? */
static int tt_port_listening(int port)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			char local[128];
			unsigned lport, state;
			char *colon;

			if (sscanf(line, " %*d: %127s %*s %x", local, &state) != 2)
				continue;
			colon = strrchr(local, ':');
			if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
				continue;
			if (state == 0x0A && (int)lport == port) {
				fclose(f);
				return 1;
			}
		}
		fclose(f);
	}
	return 0;
}

/** @brief Is process @pid still running (a zombie is not)? */
static int tt_pid_running(long pid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return !paren || (paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X');
}

/** @brief Wait until something listens on every PORT, without connecting:
 *  a probe connection would reach a daemon as a real client (and a
 *  client-role tunnel would carry it on to the backend). With --pid, give
 *  up (exit 1) as soon as that process is gone. */
static int cmd_listening(int argc, char **argv)
{
	long pid = 0;
	int nports = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = (long)tt_num(argv[++i], 1, INT32_MAX, "--pid");
		else
			argv[nports++] = argv[i];
	}
	if (nports == 0)
		tt_die(TT_EX_USAGE, "usage: listening PORT... [--pid PID]");
	for (int i = 0; i < nports; i++) {
		int port = (int)tt_num(argv[i], 1, 65535, "port");
		char what[64];

		snprintf(what, sizeof what, "for a listener on port %d", port);
		while (!tt_port_listening(port)) {
			if (pid && !tt_pid_running(pid))
				tt_die(TT_EX_FAIL, "process %ld is gone; nothing listens on port %d",
				       pid, port);
			poll(NULL, 0, tt_poll_timeout(what) < 20 ? 1 : 20);
		}
	}
	return 0;
}

/* ---- serve -------------------------------------------------------------- */

/* stream: per connection, a checked stream each way (st_stream);
 * flood: sends forever, never reads; mute: never reads nor sends;
 * reset: once the peer sent something, sends --reset-after bytes then
 * resets (--reset-after 0: resets at once); close: closes at once. */
enum srv_mode { SRV_ECHO, SRV_SINK_SOURCE, SRV_STREAM, SRV_FLOOD, SRV_MUTE,
		SRV_RESET, SRV_CLOSE };

struct srv_opts {
	enum srv_mode mode;
	const char *hosts[TT_MAX_LISTEN];
	int nhosts;
	int port;
	const char *count_file, *pid_file, *sink_prefix;
	unsigned char *source;		/* sink-source: what every conn is sent */
	size_t source_len;
	int after_eof;			/* sink-source: send only after peer EOF */
	long long fin_after;		/* sink-source: FIN only after this many bytes in */
	long long shut_after;		/* echo: shut write after this many bytes; -1 off */
	long long send, expect;		/* stream: bytes each way */
	long long reset_after;		/* reset: bytes sent before the reset */
	const char *ends_file;		/* a line per connection: how it ended */
};

struct srv_conn {
	int fd;
	unsigned long id;
	char peer[INET6_ADDRSTRLEN + 8];
	unsigned char buf[TT_BUFSZ];	/* echo: bytes read, not yet written */
	size_t head, tail;
	int sink_fd;
	size_t src_off;
	long long echoed;
	long long received;
	int rd_eof;			/* peer's EOF seen */
	int wr_shut;			/* we sent our FIN */
	struct st_stream st;		/* stream mode */
};

static void tt_on_signal(int sig)
{
	(void)sig;
	tt_stop = 1;
}

/** @brief Open one listening socket for serve on @host:@port. */
static int srv_listen(const char *host, int port)
{
	char portstr[16];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	snprintf(portstr, sizeof portstr, "%d", port);
	tt_resolve(host, portstr, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		tt_die(TT_EX_FAIL, "bind %s port %d: %s", host, port,
		       strerror(errno));
	if (listen(fd, 1024) < 0)
		tt_die(TT_EX_FAIL, "listen: %s", strerror(errno));
	return fd;
}

/** @brief Record an accepted connection: one line in the count file, so a
 *  test can assert the backend never saw a connection. */
static void srv_count(const struct srv_opts *o, const struct srv_conn *c)
{
	char line[128];
	int fd, n;

	if (!o->count_file)
		return;
	fd = open(o->count_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "%s: %s", o->count_file, strerror(errno));
	n = snprintf(line, sizeof line, "connection %lu from %s\n", c->id, c->peer);
	tt_write_file(fd, line, (size_t)n, o->count_file);
	close(fd);
}

static struct srv_conn *srv_accept(const struct srv_opts *o, int lfd,
				   unsigned long id)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct srv_conn *c;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			tt_warn("accept: %s", strerror(errno));
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		tt_die(TT_EX_FAIL, "out of memory");
	c->fd = fd;
	c->id = id;
	c->sink_fd = -1;
	tt_addr_str((struct sockaddr *)&ss, c->peer, sizeof c->peer);
	if (o->mode == SRV_SINK_SOURCE && o->sink_prefix) {
		char path[4096];

		snprintf(path, sizeof path, "%s.%lu", o->sink_prefix, id);
		c->sink_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->sink_fd < 0)
			tt_die(TT_EX_FAIL, "%s: %s", path, strerror(errno));
	}
	c->st.send_total = (uint64_t)o->send;
	c->st.expect = (uint64_t)o->expect;
	c->st.seed_out = ST_SEED_DOWN;
	c->st.seed_in = ST_SEED_UP;
	srv_count(o, c);
	return c;
}

/** @brief One line in the ends file: how connection @c ended. */
static void srv_end(const struct srv_opts *o, const struct srv_conn *c,
		    const char *how)
{
	char line[256];
	int fd, n;

	if (!o->ends_file)
		return;
	fd = open(o->ends_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "%s: %s", o->ends_file, strerror(errno));
	n = snprintf(line, sizeof line, "connection %lu: %s, %lld bytes in\n",
		     c->id, how, c->received);
	tt_write_file(fd, line, (size_t)n, o->ends_file);
	close(fd);
}

static void srv_shut_wr(struct srv_conn *c)
{
	if (!c->wr_shut && shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		tt_warn("conn %lu: shutdown: %s", c->id, strerror(errno));
	c->wr_shut = 1;
}

/** @brief Which poll events a connection waits for now. */
static short srv_events(const struct srv_opts *o, const struct srv_conn *c)
{
	short ev = 0;

	if (o->mode == SRV_STREAM)
		return st_events(&c->st);
	if (o->mode == SRV_FLOOD)
		return POLLOUT;
	if (o->mode == SRV_MUTE)
		return 0;
	if (o->mode == SRV_RESET)
		return POLLIN | POLLOUT;
	if (o->mode == SRV_ECHO) {
		if (!c->rd_eof && c->tail < sizeof c->buf)
			ev |= POLLIN;
		if (c->head < c->tail && !c->wr_shut)
			ev |= POLLOUT;
	} else {
		if (!c->rd_eof)
			ev |= POLLIN;
		if (!c->wr_shut && c->src_off < o->source_len &&
		    (!o->after_eof || c->rd_eof))
			ev |= POLLOUT;
	}
	return ev;
}

/** @brief Move bytes for one connection. Returns 1 when it is finished
 *  (both directions done, or an error), 0 to keep it. */
/** @brief srv_io for the modes that don't relay: stream, flood, mute,
 *  reset. */
static int srv_io_special(const struct srv_opts *o, struct srv_conn *c,
			  short rev)
{
	static unsigned char junk[TT_BUFSZ];

	if (o->mode == SRV_STREAM) {
		if ((rev & POLLOUT) && st_send(&c->st, c->fd) < 0)
			goto failed;
		if ((rev & (POLLIN | POLLHUP | POLLERR)) && st_recv(&c->st, c->fd) < 0)
			goto failed;
		c->received = (long long)c->st.got;
		if (c->st.rd_eof && c->st.wr_shut) {
			srv_end(o, c, "ok");
			return 1;
		}
		return 0;
	}
	if (rev & (POLLHUP | POLLERR) && o->mode != SRV_RESET) {
		srv_end(o, c, tt_connect_result(c->fd) == ECONNRESET ? "reset" :
			      "closed by the peer");
		return 1;
	}
	if (o->mode == SRV_FLOOD && (rev & POLLOUT) &&
	    write(c->fd, junk, sizeof junk) < 0 && errno != EAGAIN) {
		srv_end(o, c, errno == ECONNRESET ? "reset" : "write failed");
		return 1;
	}
	if (o->mode != SRV_RESET)
		return 0;
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = read(c->fd, junk, sizeof junk);
		if (n > 0)
			c->received += n;
	}
	/* Mid-stream: the first bytes go out once the peer has spoken, so
	 * the connection is surely relaying by then. */
	if ((rev & POLLOUT) && (c->received || !o->reset_after)) {
		size_t len = (size_t)(o->reset_after - (long long)c->src_off);
		ssize_t n;

		if (len > sizeof junk)
			len = sizeof junk;
		st_fill(junk, ST_SEED_DOWN, c->src_off, len);
		n = len ? write(c->fd, junk, len) : 0;
		if (n > 0)
			c->src_off += (size_t)n;
	}
	if ((long long)c->src_off >= o->reset_after) {
		tt_linger0(c->fd);
		srv_end(o, c, "reset by us");
		return 1;
	}
	return 0;
failed:
	srv_end(o, c, c->st.why);
	return 1;
}

static int srv_io(const struct srv_opts *o, struct srv_conn *c, short rev)
{
	if (o->mode >= SRV_STREAM)
		return srv_io_special(o, c, rev);
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		unsigned char tmp[TT_BUFSZ];
		unsigned char *dst = o->mode == SRV_ECHO ? c->buf + c->tail : tmp;
		size_t room = o->mode == SRV_ECHO ? sizeof c->buf - c->tail : sizeof tmp;
		ssize_t n = room && !c->rd_eof ? read(c->fd, dst, room) : 0;

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tt_warn("conn %lu from %s: read: %s", c->id, c->peer,
				strerror(errno));
			srv_end(o, c, errno == ECONNRESET ? "reset" : "read failed");
			return 1;
		}
		if (n == 0 && room && !c->rd_eof) {
			c->rd_eof = 1;
			srv_end(o, c, "eof");
		}
		if (n > 0)
			c->received += n;
		if (n > 0 && o->mode == SRV_ECHO)
			c->tail += (size_t)n;
		if (n > 0 && c->sink_fd >= 0)
			tt_write_file(c->sink_fd, tmp, (size_t)n, "sink");
	}
	if (rev & POLLOUT) {
		const unsigned char *src;
		size_t len;
		ssize_t n;

		if (o->mode == SRV_ECHO) {
			src = c->buf + c->head;
			len = c->tail - c->head;
			if (o->shut_after >= 0 &&
			    (long long)len > o->shut_after - c->echoed)
				len = (size_t)(o->shut_after - c->echoed);
		} else {
			src = o->source + c->src_off;
			len = o->source_len - c->src_off;
		}
		n = len ? write(c->fd, src, len) : 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			tt_warn("conn %lu from %s: write: %s", c->id, c->peer,
				strerror(errno));
			return 1;
		}
		if (n > 0 && o->mode == SRV_ECHO) {
			c->head += (size_t)n;
			c->echoed += n;
			if (c->head == c->tail)
				c->head = c->tail = 0;
		} else if (n > 0) {
			c->src_off += (size_t)n;
		}
	}
	if (o->mode == SRV_ECHO) {
		if (o->shut_after >= 0 && c->echoed >= o->shut_after)
			srv_shut_wr(c);
		if (c->rd_eof && c->head == c->tail)
			srv_shut_wr(c);
		if (c->wr_shut && !c->rd_eof) {
			/* after --shut-after: drain and drop what still comes */
			c->head = c->tail = 0;
		}
	} else if (c->src_off == o->source_len &&
		   (!o->after_eof || c->rd_eof) &&
		   (c->received >= o->fin_after || c->rd_eof)) {
		srv_shut_wr(c);
	}
	return c->rd_eof && c->wr_shut;
}

static void srv_close(struct srv_conn *c)
{
	close(c->fd);
	if (c->sink_fd >= 0)
		close(c->sink_fd);
	free(c);
}

static void srv_write_pid(const char *path)
{
	char tmp[4096], line[32];
	int fd, n;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		tt_die(TT_EX_FAIL, "%s: %s", tmp, strerror(errno));
	n = snprintf(line, sizeof line, "%d\n", (int)getpid());
	tt_write_file(fd, line, (size_t)n, tmp);
	close(fd);
	if (rename(tmp, path) < 0)
		tt_die(TT_EX_FAIL, "rename %s: %s", path, strerror(errno));
}

static void srv_usage(void)
{
	tt_die(TT_EX_USAGE,
	       "usage: serve PORT [--host H]... [--count-file F] [--pid-file F]\n"
	       "         --mode echo [--shut-after BYTES]\n"
	       "       | --mode sink-source [--sink PREFIX] [--source FILE] [--after-eof]\n"
	       "                            [--fin-after BYTES]\n"
	       "       | --mode stream --send BYTES --expect BYTES\n"
	       "       | --mode flood | --mode mute | --mode close\n"
	       "       | --mode reset --reset-after BYTES\n"
	       "       [--ends-file F]");
}

static void srv_parse(struct srv_opts *o, int argc, char **argv)
{
	const char *source = NULL;

	if (argc < 1)
		srv_usage();
	o->port = (int)tt_num(argv[0], 1, 65535, "port");
	o->mode = SRV_ECHO;
	o->shut_after = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--after-eof")) {
			o->after_eof = 1;
			continue;
		}
		if (!v)
			srv_usage();
		i++;
		if (!strcmp(a, "--mode") && !strcmp(v, "echo"))
			o->mode = SRV_ECHO;
		else if (!strcmp(a, "--mode") && !strcmp(v, "sink-source"))
			o->mode = SRV_SINK_SOURCE;
		else if (!strcmp(a, "--mode") && !strcmp(v, "stream"))
			o->mode = SRV_STREAM;
		else if (!strcmp(a, "--mode") && !strcmp(v, "flood"))
			o->mode = SRV_FLOOD;
		else if (!strcmp(a, "--mode") && !strcmp(v, "mute"))
			o->mode = SRV_MUTE;
		else if (!strcmp(a, "--mode") && !strcmp(v, "reset"))
			o->mode = SRV_RESET;
		else if (!strcmp(a, "--mode") && !strcmp(v, "close"))
			o->mode = SRV_CLOSE;
		else if (!strcmp(a, "--send"))
			o->send = tt_num(v, 0, INT64_MAX, "--send");
		else if (!strcmp(a, "--expect"))
			o->expect = tt_num(v, 0, INT64_MAX, "--expect");
		else if (!strcmp(a, "--reset-after"))
			o->reset_after = tt_num(v, 0, INT64_MAX, "--reset-after");
		else if (!strcmp(a, "--ends-file"))
			o->ends_file = v;
		else if (!strcmp(a, "--host") && o->nhosts < TT_MAX_LISTEN)
			o->hosts[o->nhosts++] = v;
		else if (!strcmp(a, "--count-file"))
			o->count_file = v;
		else if (!strcmp(a, "--pid-file"))
			o->pid_file = v;
		else if (!strcmp(a, "--sink"))
			o->sink_prefix = v;
		else if (!strcmp(a, "--source"))
			source = v;
		else if (!strcmp(a, "--shut-after"))
			o->shut_after = tt_num(v, 0, INT64_MAX, "--shut-after");
		else if (!strcmp(a, "--fin-after"))
			o->fin_after = tt_num(v, 0, INT64_MAX, "--fin-after");
		else
			srv_usage();
	}
	if (o->nhosts == 0)
		o->hosts[o->nhosts++] = "127.0.0.1";
	if (o->mode == SRV_SINK_SOURCE && source)
		o->source = tt_slurp(source, &o->source_len);
	if (o->mode == SRV_ECHO && (source || o->sink_prefix || o->after_eof ||
				    o->fin_after))
		srv_usage();
	if (o->mode == SRV_SINK_SOURCE && o->shut_after >= 0)
		srv_usage();
}

/** @brief A backend: serves any number of connections in one poll loop
 *  until SIGTERM/SIGINT (exit 0) or the timeout (exit 124). */
static int cmd_serve(int argc, char **argv)
{
	struct srv_opts o = { 0 };
	struct srv_conn **conns = NULL;
	struct pollfd *pfd = NULL;
	size_t nconns = 0, cap = 0;
	int lfds[TT_MAX_LISTEN];
	unsigned long next_id = 1;
	struct sigaction sa = { .sa_handler = tt_on_signal };

	srv_parse(&o, argc, argv);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (o.count_file) {
		int fd = open(o.count_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			tt_die(TT_EX_FAIL, "%s: %s", o.count_file, strerror(errno));
		close(fd);
	}
	for (int i = 0; i < o.nhosts; i++)
		lfds[i] = srv_listen(o.hosts[i], o.port);
	if (o.pid_file)
		srv_write_pid(o.pid_file);

	while (!tt_stop) {
		size_t np = 0;
		int n, timeout = tt_poll_timeout("serving (the backend's lifetime)");

		if (cap < nconns + (size_t)o.nhosts) {
			cap = (nconns + (size_t)o.nhosts) * 2;
			pfd = realloc(pfd, cap * sizeof *pfd);
			if (!pfd)
				tt_die(TT_EX_FAIL, "out of memory");
		}
		for (int i = 0; i < o.nhosts; i++)
			pfd[np++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
		for (size_t i = 0; i < nconns; i++)
			pfd[np++] = (struct pollfd){ .fd = conns[i]->fd,
						     .events = srv_events(&o, conns[i]) };
		n = poll(pfd, np, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));

		/* connections first: accepting below grows the array */
		for (size_t i = 0; i < nconns; i++) {
			short rev = pfd[(size_t)o.nhosts + i].revents;

			if (rev && srv_io(&o, conns[i], rev)) {
				srv_close(conns[i]);
				conns[i] = NULL;
			}
		}
		np = 0;
		for (size_t i = 0; i < nconns; i++)
			if (conns[i])
				conns[np++] = conns[i];
		nconns = np;
		for (int i = 0; i < o.nhosts; i++) {
			struct srv_conn *c;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((c = srv_accept(&o, lfds[i], next_id))) {
				next_id++;
				if (o.mode == SRV_CLOSE) {
					srv_end(&o, c, "closed by us");
					srv_close(c);
					continue;
				}
				conns = realloc(conns, (nconns + 1) * sizeof *conns);
				if (!conns)
					tt_die(TT_EX_FAIL, "out of memory");
				conns[nconns++] = c;
			}
		}
	}
	return 0;
}

/* ---- sendrecv ----------------------------------------------------------- */

/** @brief One connection: send INFILE (then FIN, unless --no-fin) while
 *  reading into OUTFILE until the peer's EOF. Exit 0 if both directions
 *  completed cleanly. --no-fin: never half-close, the peer closes first
 *  (for peers whose half-close handling is not to be relied on). */
static int cmd_sendrecv(int argc, char **argv)
{
	unsigned char out[TT_BUFSZ], in[TT_BUFSZ];
	size_t ohead = 0, otail = 0;
	int in_eof = 0, wr_shut = 0, rd_eof = 0, no_fin = 0;
	unsigned long long sent = 0, got = 0;
	int64_t start = tt_now_ms();
	int infd, outfd, fd;

	if (argc == 5 && !strcmp(argv[4], "--no-fin"))
		no_fin = 1;
	else if (argc != 4)
		tt_die(TT_EX_USAGE, "usage: sendrecv HOST PORT INFILE OUTFILE [--no-fin]");
	infd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (infd < 0)
		tt_die(TT_EX_USAGE, "%s: %s", argv[2], strerror(errno));
	outfd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0)
		tt_die(TT_EX_USAGE, "%s: %s", argv[3], strerror(errno));
	fd = tt_connect(argv[0], argv[1]);

	while (!rd_eof || !wr_shut) {
		struct pollfd p = { .fd = fd };
		char what[160];
		int n;

		if (ohead == otail && !in_eof) {
			ssize_t r = read(infd, out, sizeof out);

			if (r < 0)
				tt_die(TT_EX_FAIL, "read %s: %s", argv[2], strerror(errno));
			ohead = 0;
			otail = (size_t)r;
			in_eof = r == 0;
		}
		if (ohead == otail && in_eof && !wr_shut) {
			if (!no_fin && shutdown(fd, SHUT_WR) < 0)
				tt_die(TT_EX_FAIL, "shutdown: %s", strerror(errno));
			wr_shut = 1;	/* with --no-fin: all sent */
			continue;
		}
		p.events = (short)((rd_eof ? 0 : POLLIN) |
				   (ohead < otail ? POLLOUT : 0));
		snprintf(what, sizeof what,
			 "(sent %llu bytes%s, received %llu bytes%s)", sent,
			 wr_shut && !no_fin ? " and FIN" : "", got,
			 rd_eof ? " and EOF" : "");
		n = poll(&p, 1, tt_poll_timeout(what));
		if (n < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, in, sizeof in);

			if (r < 0 && errno != EAGAIN && errno != EINTR)
				tt_die(TT_EX_FAIL, "read after %llu bytes: %s", got,
				       strerror(errno));
			if (r == 0)
				rd_eof = 1;
			if (r > 0) {
				tt_write_file(outfd, in, (size_t)r, argv[3]);
				got += (unsigned long long)r;
			}
		}
		if (p.revents & POLLOUT) {
			ssize_t w = write(fd, out + ohead, otail - ohead);

			if (w < 0 && errno != EAGAIN && errno != EINTR)
				tt_die(TT_EX_FAIL, "write after %llu bytes: %s", sent,
				       strerror(errno));
			if (w > 0) {
				ohead += (size_t)w;
				sent += (unsigned long long)w;
			}
		}
	}
	if (close(outfd) < 0)
		tt_die(TT_EX_FAIL, "close %s: %s", argv[3], strerror(errno));
	close(fd);
	printf("sendrecv: sent %llu bytes, received %llu bytes in %lld ms\n",
	       sent, got, (long long)(tt_now_ms() - start));
	return 0;
}

/* ---- many --------------------------------------------------------------- */

/** @brief The pattern connection @conn sends: byte @off of a stream that
 *  differs per connection, so a mix-up between connections shows. */
static unsigned char tt_pattern(uint32_t conn, uint64_t off)
{
	uint64_t z = ((uint64_t)conn << 40) ^ (off >> 3) ^ 0x5DEECE66DULL;

	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (unsigned char)(z >> ((off & 7) * 8));
}

enum many_state { MANY_CONNECTING, MANY_RUNNING, MANY_OK, MANY_FAILED };

struct many_conn {
	int fd;
	enum many_state st;
	uint64_t sent, got;
	int wr_shut;
	int port;			/* our local port (many --report) */
	char why[128];
};

static uint64_t many_pace;		/* many --pace: bytes/s per connection */
static int64_t many_t0;			/* many: when the connects started */

static void many_fail(struct many_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void many_fail(struct many_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	c->st = MANY_FAILED;
	close(c->fd);
	c->fd = -1;
}

/** @brief Send the next piece of the pattern; FIN once all is sent. */
static void many_send(struct many_conn *c, uint32_t id, uint64_t bytes)
{
	unsigned char buf[16384];
	size_t len = bytes - c->sent < sizeof buf ? (size_t)(bytes - c->sent) : sizeof buf;
	ssize_t n;

	if (many_pace) {
		uint64_t may = many_pace * (uint64_t)(tt_now_ms() - many_t0) / 1000;

		len = may <= c->sent ? 0 : may - c->sent < len ? (size_t)(may - c->sent) : len;
		if (!len && c->sent < bytes)
			return;
	}

	for (size_t i = 0; i < len; i++)
		buf[i] = tt_pattern(id, c->sent + i);
	n = len ? write(c->fd, buf, len) : 0;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		many_fail(c, "write after %" PRIu64 " bytes: %s", c->sent,
			  strerror(errno));
		return;
	}
	if (n > 0)
		c->sent += (uint64_t)n;
	if (c->sent == bytes && !c->wr_shut) {
		if (shutdown(c->fd, SHUT_WR) < 0) {
			many_fail(c, "shutdown: %s", strerror(errno));
			return;
		}
		c->wr_shut = 1;
	}
}

/** @brief Read echoed bytes and check each against the pattern. */
static void many_recv(struct many_conn *c, uint32_t id, uint64_t bytes)
{
	unsigned char buf[TT_BUFSZ];
	ssize_t n = read(c->fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		many_fail(c, "read after %" PRIu64 " bytes: %s", c->got,
			  strerror(errno));
		return;
	}
	if (n == 0) {
		if (c->got == bytes && c->wr_shut) {
			c->st = MANY_OK;
			close(c->fd);
			c->fd = -1;
		} else {
			many_fail(c, "EOF after %" PRIu64 " of %" PRIu64 " bytes",
				  c->got, bytes);
		}
		return;
	}
	if (c->got + (uint64_t)n > bytes) {
		many_fail(c, "got %" PRIu64 " bytes, more than the %" PRIu64 " sent",
			  c->got + (uint64_t)n, bytes);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != tt_pattern(id, c->got + (uint64_t)i)) {
			many_fail(c, "byte %" PRIu64 " differs", c->got + (uint64_t)i);
			return;
		}
	}
	c->got += (uint64_t)n;
}

/** @brief N concurrent connections to an echo service, each sending
 *  BYTES of its own pattern and checking the echo byte by byte. */
static int cmd_many(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct many_conn *c;
	struct pollfd *pfd;
	size_t *idx;
	uint32_t n;
	uint64_t bytes;
	size_t ok = 0, failed = 0;
	int64_t start = tt_now_ms();

	const char *report = NULL;

	if (argc < 4)
		tt_die(TT_EX_USAGE, "usage: many HOST PORT N BYTES [--pace BYTES/S] [--report FILE]");
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--pace") && i + 1 < argc)
			many_pace = (uint64_t)tt_num(argv[++i], 1, (long long)1 << 40, "--pace");
		else if (!strcmp(argv[i], "--report") && i + 1 < argc)
			report = argv[++i];
		else
			tt_die(TT_EX_USAGE, "usage: many HOST PORT N BYTES [--pace BYTES/S] [--report FILE]");
	}
	many_t0 = tt_now_ms();
	tt_resolve(argv[0], argv[1], &ss, &sslen);
	n = (uint32_t)tt_num(argv[2], 1, 100000, "N");
	bytes = (uint64_t)tt_num(argv[3], 0, (long long)1 << 40, "BYTES");
	c = calloc(n, sizeof *c);
	pfd = calloc(n, sizeof *pfd);
	idx = calloc(n, sizeof *idx);
	if (!c || !pfd || !idx)
		tt_die(TT_EX_FAIL, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		c[i].fd = tt_connect_start(&ss, sslen);
		c[i].st = MANY_CONNECTING;
		if (c[i].fd < 0) {
			int err = -c[i].fd;

			c[i].fd = -1;
			c[i].st = MANY_FAILED;
			snprintf(c[i].why, sizeof c[i].why, "connect: %s",
				 strerror(err));
		} else {
			struct sockaddr_storage me;
			socklen_t melen = sizeof me;

			if (getsockname(c[i].fd, (struct sockaddr *)&me, &melen) == 0)
				c[i].port = ntohs(me.ss_family == AF_INET6 ?
						  ((struct sockaddr_in6 *)&me)->sin6_port :
						  ((struct sockaddr_in *)&me)->sin_port);
		}
	}
	for (;;) {
		size_t np = 0, pending = 0;
		char what[96];
		int r;

		for (uint32_t i = 0; i < n; i++) {
			short ev;

			if (c[i].st == MANY_CONNECTING)
				ev = POLLOUT;
			else if (c[i].st == MANY_RUNNING)
				ev = (short)(POLLIN | (c[i].wr_shut ? 0 : POLLOUT));
			else
				continue;
			pfd[np] = (struct pollfd){ .fd = c[i].fd, .events = ev };
			idx[np++] = i;
		}
		if (np == 0)
			break;
		for (uint32_t i = 0; i < n; i++)
			pending += c[i].st == MANY_CONNECTING || c[i].st == MANY_RUNNING;
		snprintf(what, sizeof what, "with %zu of %u connections unfinished",
			 pending, n);
		r = tt_poll_timeout(what);
		r = poll(pfd, np, many_pace && r > 10 ? 10 : r);
		if (r < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		for (size_t k = 0; r > 0 && k < np; k++) {
			struct many_conn *m = &c[idx[k]];
			short rev = pfd[k].revents;

			if (!rev)
				continue;
			if (m->st == MANY_CONNECTING) {
				int err = tt_connect_result(m->fd);

				if (err) {
					many_fail(m, "connect: %s", strerror(err));
					continue;
				}
				m->st = MANY_RUNNING;
				rev = POLLOUT;
			}
			if (m->st == MANY_RUNNING && (rev & POLLOUT) && !m->wr_shut)
				many_send(m, (uint32_t)idx[k], bytes);
			if (m->st == MANY_RUNNING && (rev & (POLLIN | POLLHUP | POLLERR)))
				many_recv(m, (uint32_t)idx[k], bytes);
		}
	}
	if (report) {
		FILE *f = fopen(report, "w");

		if (!f)
			tt_die(TT_EX_FAIL, "%s: %s", report, strerror(errno));
		for (uint32_t i = 0; i < n; i++)
			fprintf(f, "conn %u port %d %s got %" PRIu64 " %s\n", i, c[i].port,
				c[i].st == MANY_OK ? "ok" : "failed", c[i].got,
				c[i].st == MANY_OK ? "whole" : c[i].why);
		if (fclose(f))
			tt_die(TT_EX_FAIL, "%s: %s", report, strerror(errno));
	}
	for (uint32_t i = 0; i < n; i++) {
		if (c[i].st == MANY_OK) {
			ok++;
			continue;
		}
		if (failed++ < 5)
			fprintf(stderr, "tcptool: many: connection %u: %s\n", i,
				c[i].why);
	}
	printf("many: %zu of %u connections echoed %" PRIu64
	       " bytes byte-exact, %zu failed, %lld ms\n",
	       ok, n, bytes, failed, (long long)(tt_now_ms() - start));
	return failed ? TT_EX_FAIL : 0;
}

/* ---- stall -------------------------------------------------------------- */

/** @brief Slowloris: N connections that send FILE's bytes (or nothing)
 *  and then stall; prints "stall: N connected" once all are up, then
 *  waits until the peer has closed every one (EOF or reset) and prints
 *  the spread of close times, counted from each connection's connect. */
static int cmd_stall(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned char *send = NULL;
	size_t send_len = 0;
	uint32_t n, open_n, up = 0;
	int *fds;
	int64_t *t_up, *t_closed, start = tt_now_ms();
	struct pollfd *pfd;
	size_t *idx;
	int64_t lo = INT64_MAX, hi = 0;

	if (argc == 5 && !strcmp(argv[3], "--send"))
		send = tt_slurp(argv[4], &send_len);
	else if (argc != 3)
		tt_die(TT_EX_USAGE, "usage: stall HOST PORT N [--send FILE]");
	tt_resolve(argv[0], argv[1], &ss, &sslen);
	n = (uint32_t)tt_num(argv[2], 1, 15000, "N");
	fds = calloc(n, sizeof *fds);
	t_up = calloc(n, sizeof *t_up);
	t_closed = calloc(n, sizeof *t_closed);
	pfd = calloc(n, sizeof *pfd);
	idx = calloc(n, sizeof *idx);
	if (!fds || !t_up || !t_closed || !pfd || !idx)
		tt_die(TT_EX_FAIL, "out of memory");
	/* connect in batches of 100, each batch up before the next */
	for (uint32_t b = 0; b < n; b += 100) {
		uint32_t e = b + 100 < n ? b + 100 : n, pending;

		for (uint32_t i = b; i < e; i++) {
			fds[i] = tt_connect_start(&ss, sslen);
			if (fds[i] < 0)
				tt_die(TT_EX_FAIL, "connection %u: connect: %s", i,
				       strerror(-fds[i]));
		}
		do {
			size_t np = 0;

			for (uint32_t i = b; i < e; i++) {
				if (t_up[i])
					continue;
				pfd[np] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
				idx[np++] = i;
			}
			pending = (uint32_t)np;
			if (!np)
				break;
			if (poll(pfd, np, tt_poll_timeout("for the connects")) <= 0)
				continue;
			for (size_t k = 0; k < np; k++) {
				uint32_t i = (uint32_t)idx[k];
				int err;

				if (!pfd[k].revents)
					continue;
				err = tt_connect_result(fds[i]);
				if (err)
					tt_die(TT_EX_FAIL, "connection %u: connect: %s", i,
					       strerror(err));
				if (send_len && write(fds[i], send, send_len) != (ssize_t)send_len)
					tt_die(TT_EX_FAIL, "connection %u: write: %s", i,
					       strerror(errno));
				t_up[i] = tt_now_ms();
				up++;
			}
		} while (pending);
	}
	printf("stall: %u connected in %lld ms\n", up, (long long)(tt_now_ms() - start));
	open_n = n;
	while (open_n) {
		size_t np = 0;
		char what[96];

		for (uint32_t i = 0; i < n; i++) {
			if (t_closed[i])
				continue;
			pfd[np] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
			idx[np++] = i;
		}
		snprintf(what, sizeof what, "with %u of %u connections still open",
			 open_n, n);
		if (poll(pfd, np, tt_poll_timeout(what)) <= 0)
			continue;
		for (size_t k = 0; k < np; k++) {
			uint32_t i = (uint32_t)idx[k];
			unsigned char buf[4096];
			ssize_t r;

			if (!pfd[k].revents)
				continue;
			r = read(fds[i], buf, sizeof buf);
			if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
				continue;	/* an alert, or nothing yet */
			t_closed[i] = tt_now_ms();
			close(fds[i]);
			open_n--;
			if (t_closed[i] - t_up[i] < lo)
				lo = t_closed[i] - t_up[i];
			if (t_closed[i] - t_up[i] > hi)
				hi = t_closed[i] - t_up[i];
		}
	}
	printf("stall: %u closed by the peer, after %lld to %lld ms\n", n,
	       (long long)lo, (long long)hi);
	return 0;
}

/* ---- pingpong ----------------------------------------------------------- */

static int tt_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/** @brief One exchange on @fd: write @len bytes, read as many back. */
static void tt_exchange(int fd, const unsigned char *out, size_t len, uint32_t round)
{
	unsigned char in[4096];
	size_t sent = 0, got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, tt_poll_timeout("for an echo")) <= 0)
			continue;
		if ((p.revents & POLLOUT) && sent < len) {
			r = write(fd, out + sent, len - sent);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				tt_die(TT_EX_FAIL, "round %u: write: %s", round, strerror(errno));
			if (r > 0)
				sent += (size_t)r;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(fd, in, sizeof in);
			if (r == 0)
				tt_die(TT_EX_FAIL, "round %u: EOF after %zu bytes", round, got);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				tt_die(TT_EX_FAIL, "round %u: read: %s", round, strerror(errno));
			if (r > 0 && (got + (size_t)r > len || memcmp(in, out + got, (size_t)r)))
				tt_die(TT_EX_FAIL, "round %u: the echo differs", round);
			if (r > 0)
				got += (size_t)r;
		}
	}
}

/** @brief Request/response latencies against an echo service: N rounds
 *  of a BYTES request (default 64) and its echo on one connection, or,
 *  with --new, each on a new connection (connect, exchange, close).
 *  Prints "pingpong: N rounds min_us=.. median_us=.. max_us=..". */
static int cmd_pingpong(int argc, char **argv)
{
	size_t len = 64;
	int fresh = 0, fd = -1;
	uint32_t n;
	int64_t *us;
	unsigned char *out;
	struct timespec a, b;

	if (argc < 3)
		tt_die(TT_EX_USAGE, "usage: pingpong HOST PORT N [--new] [--bytes B]");
	n = (uint32_t)tt_num(argv[2], 1, 100000, "N");
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--new"))
			fresh = 1;
		else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
			len = (size_t)tt_num(argv[++i], 1, 1 << 20, "--bytes");
		else
			tt_die(TT_EX_USAGE, "usage: pingpong HOST PORT N [--new] [--bytes B]");
	}
	us = calloc(n, sizeof *us);
	out = malloc(len);
	if (!us || !out)
		tt_die(TT_EX_FAIL, "out of memory");
	for (uint32_t r = 0; r < n; r++) {
		for (size_t i = 0; i < len; i++)
			out[i] = tt_pattern(r, i);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (fd < 0)
			fd = tt_connect(argv[0], argv[1]);
		tt_exchange(fd, out, len, r);
		if (fresh) {
			close(fd);
			fd = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[r] = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	if (fd >= 0)
		close(fd);
	qsort(us, n, sizeof *us, tt_cmp_i64);
	printf("pingpong: %u rounds%s min_us=%lld median_us=%lld max_us=%lld\n", n,
	       fresh ? " (new connection each)" : "", (long long)us[0],
	       (long long)us[n / 2], (long long)us[n - 1]);
	return 0;
}

/* ---- churn -------------------------------------------------------------- */

/** @brief N short connections to an echo service, P (default 8) at a
 *  time: each connects, sends BYTES (default 32) of its own pattern and
 *  FIN, checks the echo and the peer's EOF, and closes. Exit 0 only if
 *  all N were whole. */
static int cmd_churn(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint32_t n, par = 8, next = 0, ok = 0, failed = 0;
	uint64_t bytes = 32;
	struct many_conn *c;
	uint32_t *id;
	struct pollfd *pfd;
	int64_t start = tt_now_ms();

	if (argc < 3)
		tt_die(TT_EX_USAGE, "usage: churn HOST PORT N [--parallel P] [--bytes B]");
	tt_resolve(argv[0], argv[1], &ss, &sslen);
	n = (uint32_t)tt_num(argv[2], 1, 10000000, "N");
	for (int i = 3; i + 1 < argc + 1; i++) {
		if (!strcmp(argv[i], "--parallel") && i + 1 < argc)
			par = (uint32_t)tt_num(argv[++i], 1, 1000, "--parallel");
		else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
			bytes = (uint64_t)tt_num(argv[++i], 1, 1 << 20, "--bytes");
		else
			tt_die(TT_EX_USAGE, "usage: churn HOST PORT N [--parallel P] [--bytes B]");
	}
	c = calloc(par, sizeof *c);
	id = calloc(par, sizeof *id);
	pfd = calloc(par, sizeof *pfd);
	if (!c || !id || !pfd)
		tt_die(TT_EX_FAIL, "out of memory");
	for (uint32_t s = 0; s < par; s++)
		c[s].st = MANY_OK;	/* a free slot */
	while (ok + failed < n) {
		char what[96];
		int r;

		for (uint32_t s = 0; s < par; s++) {
			if ((c[s].st == MANY_OK || c[s].st == MANY_FAILED) && next < n) {
				if (c[s].st == MANY_FAILED && c[s].why[0]) {
					if (failed <= 5)
						fprintf(stderr, "tcptool: churn: connection %u: %s\n",
							id[s], c[s].why);
				}
				memset(&c[s], 0, sizeof c[s]);
				id[s] = next++;
				c[s].fd = tt_connect_start(&ss, sslen);
				c[s].st = MANY_CONNECTING;
				if (c[s].fd < 0) {
					fprintf(stderr, "tcptool: churn: connection %u: connect: %s\n",
						id[s], strerror(-c[s].fd));
					c[s].fd = -1;
					c[s].st = MANY_FAILED;
					c[s].why[0] = 0;
					failed++;
				}
			}
			pfd[s] = (struct pollfd){ .fd = -1 };
			if (c[s].st == MANY_CONNECTING)
				pfd[s] = (struct pollfd){ .fd = c[s].fd, .events = POLLOUT };
			else if (c[s].st == MANY_RUNNING)
				pfd[s] = (struct pollfd){ .fd = c[s].fd,
					.events = (short)(POLLIN | (c[s].wr_shut ? 0 : POLLOUT)) };
		}
		snprintf(what, sizeof what, "with %u of %u connections done (%u failed)",
			 ok + failed, n, failed);
		r = poll(pfd, par, tt_poll_timeout(what));
		if (r < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		for (uint32_t s = 0; r > 0 && s < par; s++) {
			struct many_conn *m = &c[s];
			short rev = pfd[s].revents;

			if (!rev || pfd[s].fd < 0)
				continue;
			if (m->st == MANY_CONNECTING) {
				int err = tt_connect_result(m->fd);

				if (err) {
					many_fail(m, "connect: %s", strerror(err));
					failed++;
					continue;
				}
				m->st = MANY_RUNNING;
				rev = POLLOUT;
			}
			if (m->st == MANY_RUNNING && (rev & POLLOUT) && !m->wr_shut)
				many_send(m, id[s], bytes);
			if (m->st == MANY_RUNNING && (rev & (POLLIN | POLLHUP | POLLERR)))
				many_recv(m, id[s], bytes);
			if (m->st == MANY_OK)
				ok++;
			else if (m->st == MANY_FAILED)
				failed++;
		}
	}
	for (uint32_t s = 0; s < par; s++)
		if (c[s].st == MANY_FAILED && c[s].why[0] && failed <= 5)
			fprintf(stderr, "tcptool: churn: connection %u: %s\n", id[s], c[s].why);
	{
		int64_t ms = tt_now_ms() - start;

		printf("churn: %u of %u connections whole, %u failed, %lld ms, %lld/s\n",
		       ok, n, failed, (long long)ms,
		       (long long)(ms ? (int64_t)ok * 1000 / ms : 0));
	}
	return failed ? TT_EX_FAIL : 0;
}

/* ---- expect-closed ------------------------------------------------------ */

/** @brief Connect, send a few bytes (or nothing, with --silent) and
 *  expect the peer to close or reset the connection without sending
 *  anything: how a tunnel turns a client away. */
static int cmd_expect_closed(int argc, char **argv)
{
	static const char hello[] = "hello, is anyone there?\n";
	int64_t start = tt_now_ms();
	const char *how = NULL;
	int silent = argc == 3 && !strcmp(argv[2], "--silent");
	int fd;

	if (argc != 2 && !silent)
		tt_die(TT_EX_USAGE, "usage: expect-closed HOST PORT [--silent]");
	fd = tt_connect2(argv[0], argv[1], 1);
	if (fd < 0)
		how = "reset right after connecting";
	if (fd >= 0 && !silent && write(fd, hello, sizeof hello - 1) < 0 &&
	    errno != EPIPE && errno != ECONNRESET && errno != EAGAIN)
		tt_die(TT_EX_FAIL, "write: %s", strerror(errno));
	while (!how) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[256];
		ssize_t n;

		if (poll(&p, 1, tt_poll_timeout("for the peer to close")) <= 0)
			continue;
		n = read(fd, buf, sizeof buf);
		if (n > 0)
			tt_die(TT_EX_FAIL, "expected a close, got %zd bytes of data", n);
		if (n == 0)
			how = "EOF";
		else if (errno == ECONNRESET || errno == EPIPE)
			how = "reset";
		else if (errno != EAGAIN && errno != EINTR)
			tt_die(TT_EX_FAIL, "read: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	printf("expect-closed: closed by the peer (%s) after %lld ms\n", how,
	       (long long)(tt_now_ms() - start));
	return 0;
}

/* ---- blackhole ---------------------------------------------------------- */

/** @brief A port where connect() hangs, to test connect timeouts on
 *  loopback: listen with backlog 0, never accept, and connect to it until
 *  a connect no longer completes (the kernel then drops further SYNs).
 *  Exits 77 if this kernel completes them anyway. */
static int cmd_blackhole(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *pid_file = argc == 3 && !strcmp(argv[1], "--pid-file") ? argv[2] : NULL;
	struct sigaction sa = { .sa_handler = tt_on_signal };
	int lfd;

	if (argc != 1 && !pid_file)
		tt_die(TT_EX_USAGE, "usage: blackhole PORT [--pid-file F]");
	tt_resolve("127.0.0.1", argv[0], &ss, &len);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(lfd, 0) < 0)
		tt_die(TT_EX_FAIL, "listen on port %s: %s", argv[0], strerror(errno));
	for (int i = 0;; i++) {
		int fd = tt_connect_start(&ss, len);
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (fd < 0)
			tt_die(TT_EX_FAIL, "connect: %s", strerror(-fd));
		if (poll(&p, 1, 300) == 0)
			break;		/* hangs: the queue is full */
		if (i == 64)
			tt_die(77, "connects to a full listen queue still complete here");
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pid_file)
		srv_write_pid(pid_file);
	while (!tt_stop)
		poll(NULL, 0, tt_poll_timeout("(the blackhole's lifetime)"));
	return 0;
}


/* ---- stream ------------------------------------------------------------- */

/** @brief One connection: send SEND_BYTES of the up stream, then FIN,
 *  while checking EXPECT_BYTES of the down stream then EOF (the peer is
 *  serve --mode stream). Nothing touches the disk, so GiBs are cheap. */
static int cmd_stream(int argc, char **argv)
{
	struct st_stream s = { .seed_out = ST_SEED_UP, .seed_in = ST_SEED_DOWN };
	int64_t start = tt_now_ms(), ms;
	int fd;

	if (argc != 4)
		tt_die(TT_EX_USAGE, "usage: stream HOST PORT SEND_BYTES EXPECT_BYTES");
	s.send_total = (uint64_t)tt_num(argv[2], 0, INT64_MAX, "SEND_BYTES");
	s.expect = (uint64_t)tt_num(argv[3], 0, INT64_MAX, "EXPECT_BYTES");
	fd = tt_connect(argv[0], argv[1]);
	while (!s.rd_eof || !s.wr_shut) {
		struct pollfd p = { .fd = fd, .events = st_events(&s) };
		char what[128];
		int n;

		snprintf(what, sizeof what, "(sent %" PRIu64 ", received %" PRIu64 " bytes)",
			 s.sent, s.got);
		n = poll(&p, 1, tt_poll_timeout(what));
		if (n < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if ((p.revents & POLLOUT) && st_send(&s, fd) < 0)
			tt_die(TT_EX_FAIL, "%s", s.why);
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && st_recv(&s, fd) < 0)
			tt_die(TT_EX_FAIL, "%s", s.why);
	}
	close(fd);
	ms = tt_now_ms() - start;
	printf("stream: sent %" PRIu64 ", received %" PRIu64
	       " bytes byte-exact in %lld ms (%.0f Mbit/s)\n", s.sent, s.got,
	       (long long)ms, (double)(s.sent + s.got) * 8 / 1000 / (ms ? ms : 1));
	return 0;
}

/* ---- dribble ------------------------------------------------------------ */

/** @brief COUNT writes of one byte each to an echo service, DELAY_MS
 *  apart (0: as fast as the socket takes them), checking the echo. */
static int cmd_dribble(int argc, char **argv)
{
	struct st_stream s = { .seed_out = ST_SEED_UP, .seed_in = ST_SEED_UP };
	int64_t start = tt_now_ms(), next = 0;
	long delay;
	int fd;

	if (argc != 4)
		tt_die(TT_EX_USAGE, "usage: dribble HOST PORT COUNT DELAY_MS");
	s.send_total = s.expect = (uint64_t)tt_num(argv[2], 0, INT64_MAX, "COUNT");
	delay = (long)tt_num(argv[3], 0, 10000, "DELAY_MS");
	fd = tt_connect(argv[0], argv[1]);
	while (!s.rd_eof || !s.wr_shut) {
		struct pollfd p = { .fd = fd, .events = st_events(&s) };
		int64_t now = tt_now_ms();
		int t = tt_poll_timeout("for the echo"), n;
		char what[128];

		if (!s.wr_shut && now < next) {
			p.events &= ~POLLOUT;
			if (next - now < t)
				t = (int)(next - now);
		}
		snprintf(what, sizeof what, "(sent %" PRIu64 ", echoed %" PRIu64 ")",
			 s.sent, s.got);
		n = poll(&p, 1, tt_poll_timeout(what) < t ? tt_poll_timeout(what) : t);
		if (n < 0 && errno != EINTR)
			tt_die(TT_EX_FAIL, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (p.revents & POLLOUT) {
			unsigned char b;
			ssize_t w;

			st_fill(&b, s.seed_out, s.sent, 1);
			w = s.sent < s.send_total ? write(fd, &b, 1) : 0;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				tt_die(TT_EX_FAIL, "write after %" PRIu64 " bytes: %s",
				       s.sent, strerror(errno));
			if (w > 0)
				s.sent++;
			next = tt_now_ms() + delay;
			if (s.sent == s.send_total) {
				if (shutdown(fd, SHUT_WR) < 0)
					tt_die(TT_EX_FAIL, "shutdown: %s", strerror(errno));
				s.wr_shut = 1;
			}
		}
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && st_recv(&s, fd) < 0)
			tt_die(TT_EX_FAIL, "%s", s.why);
	}
	close(fd);
	printf("dribble: %" PRIu64 " one-byte writes echoed byte-exact in %lld ms\n",
	       s.sent, (long long)(tt_now_ms() - start));
	return 0;
}

/* ---- hold --------------------------------------------------------------- */

/** @brief N connections that never read. With --send each writes until
 *  its socket takes no more. Prints "hold: ready" once all are connected
 *  (and, with --send, blocked), then holds them until FILE exists and
 *  closes them (--reset: with a reset, as a FIN would wait behind the
 *  bytes the peer never reads). */
static int cmd_hold(int argc, char **argv)
{
	static unsigned char junk[TT_BUFSZ];
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct pollfd *p;
	int n, sending = 0, reset = 0;
	const char *until = NULL;
	unsigned long long sent = 0;

	if (argc < 5)
		tt_die(TT_EX_USAGE, "usage: hold HOST PORT N [--send] [--reset] --until FILE");
	n = (int)tt_num(argv[2], 1, 10000, "N");
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--send"))
			sending = 1;
		else if (!strcmp(argv[i], "--reset"))
			reset = 1;
		else if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
		else
			tt_die(TT_EX_USAGE, "usage: hold HOST PORT N [--send] [--reset] --until FILE");
	}
	if (!until)
		tt_die(TT_EX_USAGE, "hold: --until FILE is needed");
	tt_resolve(argv[0], argv[1], &ss, &sslen);
	p = calloc((size_t)n, sizeof *p);
	if (!p)
		tt_die(TT_EX_FAIL, "out of memory");
	for (int i = 0; i < n; i++) {
		p[i].fd = tt_connect_start(&ss, sslen);
		if (p[i].fd < 0)
			tt_die(TT_EX_FAIL, "connect: %s", strerror(-p[i].fd));
		p[i].events = POLLOUT;
	}
	for (int connected = 0; connected < n;) {
		if (poll(p, (nfds_t)n, tt_poll_timeout("connecting")) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			int err;

			if (!(p[i].revents & POLLOUT) || p[i].events == 0)
				continue;
			err = tt_connect_result(p[i].fd);
			if (err)
				tt_die(TT_EX_FAIL, "connection %d: connect: %s", i,
				       strerror(err));
			p[i].events = 0;
			connected++;
		}
	}
	if (sending) {
		/* Write until each socket has been full for a second: the
		 * tunnel's buffers and the backend's are full then too. */
		int64_t quiet = tt_now_ms();

		for (int i = 0; i < n; i++)
			p[i].events = POLLOUT;
		while (tt_now_ms() - quiet < 1000) {
			if (poll(p, (nfds_t)n, 200) <= 0)
				continue;
			tt_poll_timeout("filling the connections");
			for (int i = 0; i < n; i++) {
				ssize_t w;

				if (!(p[i].revents & (POLLOUT | POLLERR | POLLHUP)))
					continue;
				w = write(p[i].fd, junk, sizeof junk);
				if (w < 0 && errno != EAGAIN)
					tt_die(TT_EX_FAIL, "connection %d: write: %s",
					       i, strerror(errno));
				if (w > 0) {
					sent += (unsigned long long)w;
					quiet = tt_now_ms();
				}
			}
		}
	}
	printf("hold: ready, %d connections, %llu bytes sent\n", n, sent);
	for (;;) {
		struct stat st;

		if (stat(until, &st) == 0)
			break;
		for (int i = 0; i < n; i++)
			p[i].events = 0;
		poll(p, (nfds_t)n, 100);
		tt_poll_timeout("for the --until file");
		for (int i = 0; i < n; i++)
			if (p[i].revents & (POLLERR | POLLHUP))
				tt_die(TT_EX_FAIL, "connection %d closed while held", i);
	}
	for (int i = 0; i < n; i++) {
		if (reset)
			tt_linger0(p[i].fd);
		close(p[i].fd);
	}
	printf("hold: %s %d connections\n", reset ? "reset" : "closed", n);
	return 0;
}

/* ---- expect-reset, reset ------------------------------------------------ */

/** @brief Connect, send BYTES (no FIN), then read until the connection
 *  ends: exit 0 on a reset, 1 on a clean EOF (a reset turned into a FIN
 *  would pass a truncated stream for a whole one). */
static int cmd_expect_reset(int argc, char **argv)
{
	static unsigned char buf[TT_BUFSZ];
	unsigned long long got = 0;
	long long send = 0, sent = 0;
	int64_t start = tt_now_ms();
	int fd;

	if (argc == 4 && !strcmp(argv[2], "--send"))
		send = tt_num(argv[3], 0, INT64_MAX, "--send");
	else if (argc != 2)
		tt_die(TT_EX_USAGE, "usage: expect-reset HOST PORT [--send BYTES]");
	fd = tt_connect(argv[0], argv[1]);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN |
				    (sent < send ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, tt_poll_timeout("for the reset")) <= 0)
			continue;
		if (p.revents & POLLOUT) {
			size_t len = send - sent < (long long)sizeof buf ?
				     (size_t)(send - sent) : sizeof buf;
			ssize_t w = write(fd, buf, len);

			if (w > 0)
				sent += w;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(fd, buf, sizeof buf);
		if (r > 0) {
			got += (unsigned long long)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == 0)
			tt_die(TT_EX_FAIL, "a clean EOF after %llu bytes, expected a reset",
			       got);
		if (errno != ECONNRESET)
			tt_die(TT_EX_FAIL, "read after %llu bytes: %s, expected a reset",
			       got, strerror(errno));
		break;
	}
	close(fd);
	printf("expect-reset: reset after %llu bytes in, %lld out, %lld ms\n", got,
	       sent, (long long)(tt_now_ms() - start));
	return 0;
}

/** @brief Connect, send BYTES, wait until the peer has them all or 2 s
 *  passed, then close with a reset (SO_LINGER 0). */
static int cmd_reset(int argc, char **argv)
{
	static unsigned char buf[TT_BUFSZ];
	long long send, sent = 0;
	int fd;

	if (argc != 3)
		tt_die(TT_EX_USAGE, "usage: reset HOST PORT BYTES");
	send = tt_num(argv[2], 0, INT64_MAX, "BYTES");
	fd = tt_connect(argv[0], argv[1]);
	while (sent < send) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		size_t len = send - sent < (long long)sizeof buf ?
			     (size_t)(send - sent) : sizeof buf;
		ssize_t w;

		if (poll(&p, 1, tt_poll_timeout("sending")) <= 0)
			continue;
		w = write(fd, buf, len);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			tt_die(TT_EX_FAIL, "write after %lld bytes: %s", sent,
			       strerror(errno));
		if (w > 0)
			sent += w;
	}
	for (int i = 0; i < 20; i++) {
		int unsent = 0;

		if (ioctl(fd, TIOCOUTQ, &unsent) == 0 && unsent == 0)
			break;
		poll(NULL, 0, 100);
	}
	tt_linger0(fd);
	close(fd);
	printf("reset: sent %lld bytes, then reset\n", sent);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} tt_cmds[] = {
	{ "freeport", cmd_freeport },
	{ "release-ports", cmd_release_ports },
	{ "has-ipv6", cmd_has_ipv6 },
	{ "listening", cmd_listening },
	{ "serve", cmd_serve },
	{ "sendrecv", cmd_sendrecv },
	{ "many", cmd_many },
	{ "stall", cmd_stall },
	{ "pingpong", cmd_pingpong },
	{ "churn", cmd_churn },
	{ "expect-closed", cmd_expect_closed },
	{ "blackhole", cmd_blackhole },
	{ "stream", cmd_stream },
	{ "dribble", cmd_dribble },
	{ "hold", cmd_hold },
	{ "expect-reset", cmd_expect_reset },
	{ "reset", cmd_reset },
};

static void tt_usage(void)
{
	fprintf(stderr,
		"usage: tcptool [-t SECONDS] COMMAND ARGS...\n"
		"  freeport [N] [--owner PID]         print N free ports for 127.0.0.1 and ::1;\n"
		"                                     --owner: reserved for PID against other tests\n"
		"  release-ports PID                  drop PID's port reservations\n"
		"  has-ipv6                           exit 0 if [::1] can be bound\n"
		"  listening PORT... [--pid PID]      wait until something listens on each PORT\n"
		"  serve PORT [--host H]... [--count-file F] [--pid-file F]\n"
		"        --mode echo [--shut-after BYTES]\n"
		"      | --mode sink-source [--sink PREFIX] [--source FILE] [--after-eof]\n"
		"                         [--fin-after BYTES]  (FIN only once BYTES came in)\n"
		"  sendrecv HOST PORT INFILE OUTFILE [--no-fin]\n"
		"                                     send INFILE, then FIN; read to EOF\n"
		"  many HOST PORT N BYTES [--pace BYTES/S] [--report FILE]\n"
		"                                     N concurrent echo checks of BYTES each;\n"
		"                                     --report: each connection's outcome\n"
		"  stall HOST PORT N [--send FILE]    N connections that send FILE (or nothing)\n"
		"                                     and stall; wait until the peer closes all\n"
		"  pingpong HOST PORT N [--new] [--bytes B]  request/response latencies\n"
		"  churn HOST PORT N [--parallel P] [--bytes B]  N short echo connections\n"
		"  expect-closed HOST PORT [--silent] send a line (or nothing), expect a close\n"
		"  blackhole PORT [--pid-file F]      a port where connect() hangs\n"
		"  stream HOST PORT SEND EXPECT       send SEND bytes of a generator, check\n"
		"                                     EXPECT bytes back (serve --mode stream)\n"
		"  dribble HOST PORT COUNT DELAY_MS   COUNT one-byte writes to an echo\n"
		"  hold HOST PORT N [--send] [--reset] --until FILE\n"
		"                                     N connections that never read\n"
		"  expect-reset HOST PORT [--send BYTES]  expect a reset, not an EOF\n"
		"  reset HOST PORT BYTES              send BYTES, then reset\n"
		"Every command gives up after -t SECONDS (default 60) and exits 124.\n");
	exit(TT_EX_USAGE);
}

int main(int argc, char **argv)
{
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (i + 1 < argc && (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timeout"))) {
		tt_timeout_s = (int)tt_num(argv[i + 1], 1, 86400, "-t");
		i += 2;
	}
	if (i >= argc)
		tt_usage();
	tt_deadline = tt_now_ms() + (int64_t)tt_timeout_s * 1000;
	for (size_t k = 0; k < sizeof tt_cmds / sizeof tt_cmds[0]; k++) {
		if (strcmp(argv[i], tt_cmds[k].name) == 0) {
			tt_cmd = tt_cmds[k].name;
			return tt_cmds[k].fn(argc - i - 1, argv + i + 1);
		}
	}
	tt_usage();
}
