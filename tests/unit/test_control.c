/* test_control.c - the control socket and console: splitting, reply
 * limits, and real round trips over a socket and a pipe in this process */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "unit.h"

#define WAIT_MS 5000	/* no exchange here takes longer */

/* ---- helpers ---- */

/** @brief The executor under test: "echo" says its words back, "fail"
 *  fails, "big N" answers N KiB, "who" names the peer, "exit" exits. */
static int test_exec(void *arg, const struct control_peer *who, int argc,
		     char **argv, struct control_reply *out)
{
	int *calls = arg;

	if (calls)
		(*calls)++;
	if (!strcmp(argv[0], "echo")) {
		for (int i = 1; i < argc; i++)
			control_printf(out, "%s%s", i > 1 ? " " : "", argv[i]);
		control_printf(out, "\n");
		return CONTROL_OK;
	}
	if (!strcmp(argv[0], "fail"))
		return control_error(out, "it failed with %d words", argc);
	if (!strcmp(argv[0], "big")) {
		int kib = argc > 1 ? atoi(argv[1]) : 1;
		for (int i = 0; i < kib * 16; i++)
			control_printf(out, "%07d %055d\n", i, 0);
		return CONTROL_OK;
	}
	if (!strcmp(argv[0], "who")) {
		control_printf(out, "console=%d uid=%u\n", who->console,
			       (unsigned)who->uid);
		return CONTROL_OK;
	}
	if (!strcmp(argv[0], "nomsg"))
		return CONTROL_ERROR;
	if (!strcmp(argv[0], "exit"))
		return CONTROL_EXIT;
	return control_error(out, "unknown command \"%s\"", argv[0]);
}

/** @brief Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
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
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		g->eof = 1;	/* EOF, or ECONNRESET after our last bytes */
		g->buf[g->len] = '\0';
		return;
	}
}

/** @brief How many status lines ("ok", "error: ...") @g holds. */
static int got_statuses(const struct got *g)
{
	const char *p = g->buf, *end = g->buf + g->len, *nl;
	int n = 0;

	while (p && p < end && (nl = memchr(p, '\n', end - p))) {
		size_t l = nl - p;
		if ((l == 2 && !memcmp(p, "ok", 2)) ||
		    (l >= 7 && !memcmp(p, "error: ", 7)))
			n++;
		p = nl + 1;
	}
	return n;
}

/** @brief Run @c's loop, reading @fd (-1: none) into @g, until @want
 *  status lines (-1: until EOF), EOF, CONTROL_EXIT or WAIT_MS. Returns
 *  CONTROL_EXIT if control_handle() did. */
static int drive(struct control *c, int fd, struct got *g, int want)
{
	long long end = now_ms() + WAIT_MS;

	while (now_ms() < end) {
		struct pollfd pfd[CONTROL_POLLFDS + 1];
		int n = control_pollfds(c, pfd, CONTROL_POLLFDS);

		ck_assert_int_le(n, CONTROL_POLLFDS);
		if (fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		ck_assert_int_ge(poll(pfd, n, 20), 0);
		/* our own client's entry is in there: control ignores it */
		if (control_handle(c, pfd, n) == CONTROL_EXIT)
			return CONTROL_EXIT;
		if (fd < 0)
			continue;
		got_read(fd, g);
		if (g->eof || (want >= 0 && got_statuses(g) >= want))
			return 0;
	}
	return 0;
}

/** @brief Run @c alone for @ms milliseconds. */
static void idle(struct control *c, int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd pfd[CONTROL_POLLFDS];
		int n = control_pollfds(c, pfd, CONTROL_POLLFDS);

		poll(pfd, n, 10);
		control_handle(c, pfd, n);
	}
}

/** @brief A path in the scratch folder, malloc'd. */
static char *scratch(const char *name)
{
	char *p;

	ck_assert(asprintf(&p, "%s/%s", unit_dir(), name) > 0);
	return p;
}

/** @brief A control listening on @name in the scratch folder. */
static struct control *listening(const char *name, char **path, int *calls)
{
	struct control *c = control_new(test_exec, calls);
	char err[512] = "";

	ck_assert_ptr_nonnull(c);
	*path = scratch(name);
	ck_assert_msg(control_listen(c, *path, getuid(), (gid_t)-1, err,
				     sizeof err) == 0, "%s", err);
	return c;
}

/** @brief A non-blocking client connected to @path. */
static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0,
		      "connect %s: %s", path, strerror(errno));
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/** @brief Send @text on @fd and drive @c until @want status lines came;
 *  returns what was read, malloc'd. */
static char *ask(struct control *c, int fd, const char *text, int want)
{
	struct got g = { 0 };

	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	drive(c, fd, &g, want);
	ck_assert_msg(got_statuses(&g) >= want, "no answer to \"%s\", got \"%s\"",
		      text, g.buf ? g.buf : "");
	return g.buf;
}

#define ASK(c, fd, text, want_reply) do { \
		char *r_ = ask((c), (fd), (text), 1); \
		ck_assert_str_eq(r_, (want_reply)); \
		free(r_); \
	} while (0)

/** @brief Log to a file in the scratch folder; returns its path. */
static char *log_to_file(const char *name)
{
	char *p = scratch(name);

	unlink(p);
	ck_assert_int_eq(log_setup(LOG_INFO, LOG_TARGET_FILE, p), 0);
	return p;
}

/** @brief The whole of file @path, malloc'd. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

#define LOGGED(log, want) do { \
		char *l_ = slurp(log); \
		ck_assert_msg(strstr(l_, (want)) != NULL, \
			      "log lacks \"%s\":\n%s", (want), l_); \
		free(l_); \
	} while (0)

/* ---- splitting ---- */

START_TEST(split_words)
{
	char line[] = "  tunnel add\t127.0.0.1:3306  db:3306 \t";
	char *argv[CONTROL_ARGS_MAX];

	ck_assert_int_eq(control_split(line, argv, CONTROL_ARGS_MAX), 4);
	ck_assert_str_eq(argv[0], "tunnel");
	ck_assert_str_eq(argv[1], "add");
	ck_assert_str_eq(argv[2], "127.0.0.1:3306");
	ck_assert_str_eq(argv[3], "db:3306");
}
END_TEST

START_TEST(split_empty)
{
	char none[] = "", blank[] = " \t  ";
	char *argv[4];

	ck_assert_int_eq(control_split(none, argv, 4), 0);
	ck_assert_int_eq(control_split(blank, argv, 4), 0);
}
END_TEST

START_TEST(split_too_many)
{
	char sixteen[] = "a b c d e f g h i j k l m n o p";
	char seventeen[] = "a b c d e f g h i j k l m n o p q";
	char three[] = "a b c ";
	char *argv[CONTROL_ARGS_MAX];

	ck_assert_int_eq(control_split(sixteen, argv, CONTROL_ARGS_MAX), 16);
	ck_assert_str_eq(argv[15], "p");
	ck_assert_int_eq(control_split(seventeen, argv, CONTROL_ARGS_MAX), -1);
	/* trailing blanks are no word */
	ck_assert_int_eq(control_split(three, argv, 3), 3);
}
END_TEST

/* ---- replies ---- */

START_TEST(reply_grows)
{
	struct control_reply r = { 0 };

	control_printf(&r, "%s %d\n", "a", 1);
	control_printf(&r, "b");
	control_printf(&r, "%s", "");
	control_printf(&r, " 2\n");
	ck_assert_uint_eq(r.len, 8);
	ck_assert_str_eq(r.buf, "a 1\nb 2\n");
	for (int i = 0; i < 10000; i++)
		control_printf(&r, "%06d\n", i);
	ck_assert_uint_eq(r.len, 8 + 70000);
	ck_assert_int_eq(memcmp(r.buf + r.len - 7, "009999\n", 7), 0);
	ck_assert_uint_le(r.len, r.cap);
	free(r.buf);
}
END_TEST

START_TEST(reply_truncated)
{
	static const char mark[] = "... (reply truncated)\n";
	struct control_reply r = { 0 };
	size_t before;
	int i;

	for (i = 0; r.len < CONTROL_REPLY_MAX - 16; i++)
		control_printf(&r, "line %07d\n", i);
	ck_assert_uint_le(r.len, CONTROL_REPLY_MAX);
	ck_assert_uint_gt(r.len, CONTROL_REPLY_MAX - 64);
	ck_assert_str_eq(r.buf + r.len - strlen(mark), mark);
	ck_assert_int_eq(memcmp(r.buf, "line 0000000\nline 0000001\n", 26), 0);
	/* the mark is on a line of its own, and nothing goes after it */
	ck_assert_int_eq(r.buf[r.len - strlen(mark) - 1], '\n');
	before = r.len;
	control_printf(&r, "more\n");
	ck_assert_uint_eq(r.len, before);
	free(r.buf);

	/* one piece larger than the limit */
	memset(&r, 0, sizeof r);
	char *huge = malloc(2 * CONTROL_REPLY_MAX);
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'x', 2 * CONTROL_REPLY_MAX - 1);
	huge[2 * CONTROL_REPLY_MAX - 1] = '\0';
	control_printf(&r, "%s", huge);
	ck_assert_uint_eq(r.len, CONTROL_REPLY_MAX);
	ck_assert_str_eq(r.buf + r.len - strlen(mark), mark);
	ck_assert_int_eq(r.buf[r.len - strlen(mark) - 1], '\n');
	ck_assert_int_eq(r.buf[r.len - strlen(mark) - 2], 'x');
	control_printf(&r, "y");
	ck_assert_uint_eq(r.len, CONTROL_REPLY_MAX);
	free(huge);
	free(r.buf);
}
END_TEST

START_TEST(reply_error)
{
	struct control_reply r = { 0 };
	char longer[1000];

	ck_assert_int_eq(control_error(&r, "tunnel %d: %s", 3, "no such tunnel"),
			 CONTROL_ERROR);
	ck_assert_str_eq(r.error, "tunnel 3: no such tunnel");
	/* a status is one line */
	control_error(&r, "two\nlines\r");
	ck_assert_str_eq(r.error, "two lines ");
	memset(longer, 'e', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	control_error(&r, "%s", longer);
	ck_assert_uint_eq(strlen(r.error), sizeof r.error - 1);
	ck_assert_ptr_null(r.buf);
}
END_TEST

/* ---- the socket ---- */

START_TEST(socket_framing)
{
	char *path, *log = log_to_file("framing.log"), line[128];
	int calls = 0;
	struct control *c = listening("run/ctl/sock", &path, &calls);
	struct stat st;
	char *parent = scratch("run/ctl");
	int fd;

	/* the missing folder was made, the socket is 0660 */
	ck_assert_int_eq(stat(parent, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);

	fd = dial(path);
	ASK(c, fd, "echo a b\n", "a b\nok\n");
	ASK(c, fd, "fail x\n", "error: it failed with 2 words\n");
	ASK(c, fd, "nosuch\n", "error: unknown command \"nosuch\"\n");
	ASK(c, fd, "nomsg\n", "error: nomsg failed\n");
	ASK(c, fd, "echo\n", "\nok\n");
	/* "\r\n", blanks, empty lines, a line in pieces */
	ASK(c, fd, "\n \t\n\r\n  echo \t crlf  \r\n", "crlf\nok\n");
	ck_assert_int_eq(write(fd, "ec", 2), 2);
	idle(c, 50);
	ASK(c, fd, "ho pieces\n", "pieces\nok\n");
	ASK(c, fd, "echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
	    "error: more than 16 words\n");
	ASK(c, fd, "echo a\001b\n",
	    "error: control character 0x01 in the command line\n");
	ck_assert_int_eq(calls, 7);

	/* pipelined: answers in order */
	char *r = ask(c, fd, "echo one\nfail\necho two\n", 3);
	ck_assert_str_eq(r, "one\nok\nerror: it failed with 1 words\ntwo\nok\n");
	free(r);

	snprintf(line, sizeof line, "control: connection from uid %u",
		 (unsigned)getuid());
	LOGGED(log, line);
	snprintf(line, sizeof line, " pid %ld\n", (long)getpid());
	LOGGED(log, line);
	snprintf(line, sizeof line, "info: control: uid %u: echo a b\n",
		 (unsigned)getuid());
	LOGGED(log, line);
	LOGGED(log, "control: listening on ");

	close(fd);
	idle(c, 50);
	control_free(c);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	free(parent);
	free(path);
	free(log);
}
END_TEST

START_TEST(socket_who_refers_to_uid)
{
	char *path;
	struct control *c = listening("who.sock", &path, NULL);
	int fd = dial(path);
	char want[64];

	snprintf(want, sizeof want, "console=0 uid=%u\nok\n", (unsigned)getuid());
	ASK(c, fd, "who\n", want);
	close(fd);
	control_free(c);
	free(path);
}
END_TEST

START_TEST(socket_last_line_at_eof)
{
	char *path;
	struct control *c = listening("eof.sock", &path, NULL);
	int fd = dial(path);
	struct got g = { 0 };

	/* a client that says it is done still gets its answers */
	ck_assert_int_eq(write(fd, "echo x\necho y", 13), 13);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	drive(c, fd, &g, -1);
	ck_assert(g.eof);
	ck_assert_str_eq(g.buf, "x\nok\ny\nok\n");
	free(g.buf);
	close(fd);
	control_free(c);
	free(path);
}
END_TEST

START_TEST(socket_big_reply)
{
	char *path;
	struct control *c = listening("big.sock", &path, NULL);
	int fd = dial(path);
	char *r = ask(c, fd, "big 900\n", 1);
	size_t len = strlen(r);

	ck_assert_uint_eq(len, 900 * 1024 + 3);
	ck_assert_str_eq(r + len - 3, "ok\n");
	ck_assert_int_eq(memcmp(r, "0000000 0000", 12), 0);
	free(r);

	/* past the limit: cut, and said so, and still framed */
	r = ask(c, fd, "big 2000\n", 1);
	len = strlen(r);
	ck_assert_uint_eq(len, CONTROL_REPLY_MAX + 3);
	ck_assert_str_eq(r + len - 25, "... (reply truncated)\nok\n");
	free(r);
	ASK(c, fd, "echo after\n", "after\nok\n");
	close(fd);
	control_free(c);
	free(path);
}
END_TEST

START_TEST(socket_line_limit)
{
	char *path, *log = log_to_file("limit.log");
	struct control *c = listening("limit.sock", &path, NULL);
	char line[CONTROL_LINE_MAX + 16];
	struct got g = { 0 };
	int fd = dial(path);

	/* 4096 bytes and "\r\n" is fine */
	memset(line, 'x', sizeof line);
	memcpy(line, "echo ", 5);
	memcpy(line + CONTROL_LINE_MAX, "\r\n", 3);
	char *r = ask(c, fd, line, 1);
	ck_assert_uint_eq(strlen(r), CONTROL_LINE_MAX - 5 + 1 + 3);
	free(r);

	/* one more and the client is told, then closed */
	memset(line, 'x', sizeof line);
	memcpy(line, "echo ", 5);
	memcpy(line + CONTROL_LINE_MAX + 1, "\n", 2);
	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	drive(c, fd, &g, -1);
	ck_assert(g.eof);
	ck_assert_str_eq(g.buf, "error: command line longer than 4096 bytes\n");
	free(g.buf);
	close(fd);

	/* no newline at all */
	memset(&g, 0, sizeof g);
	fd = dial(path);
	memset(line, 'y', sizeof line);
	ck_assert_int_eq(write(fd, line, sizeof line), (ssize_t)sizeof line);
	drive(c, fd, &g, -1);
	ck_assert(g.eof);
	ck_assert_str_eq(g.buf, "error: command line longer than 4096 bytes\n");
	free(g.buf);
	close(fd);
	LOGGED(log, "command line longer than 4096 bytes; closed");

	/* a long command is logged, but only its first 200 bytes */
	fd = dial(path);
	memset(line, 'z', 300);
	memcpy(line, "echo ", 5);
	memcpy(line + 300, "\n", 2);
	r = ask(c, fd, line, 1);
	free(r);
	char *l = slurp(log), *at = strstr(l, ": echo zzz");
	ck_assert_ptr_nonnull(at);
	ck_assert_int_eq(strcspn(at + 2, "\n"), 200 + 3);
	ck_assert_int_eq(memcmp(at + 2 + 200, "...\n", 4), 0);
	free(l);
	close(fd);
	control_free(c);
	free(path);
	free(log);
}
END_TEST

START_TEST(socket_slow_reader_dropped)
{
	char *path, *log = log_to_file("slow.log");
	struct control *c = listening("slow.sock", &path, NULL);
	int fd = dial(path), other = dial(path);
	struct got g = { 0 };

	/* two large replies it does not read: past the queue's bound */
	ck_assert_int_eq(write(fd, "big 1000\nbig 1000\n", 18), 18);
	idle(c, 200);
	LOGGED(log, "dropped: it does not read its replies");
	/* the other client is served all along */
	ASK(c, other, "echo still here\n", "still here\nok\n");
	drive(c, fd, &g, -1);
	ck_assert(g.eof);
	ck_assert_int_eq(got_statuses(&g), 0);
	free(g.buf);
	close(fd);
	close(other);
	control_free(c);
	free(path);
	free(log);
}
END_TEST

START_TEST(socket_client_limit)
{
	char *path, *log = log_to_file("clients.log");
	struct control *c = listening("many.sock", &path, NULL);
	int fds[CONTROL_CLIENTS_MAX], fd;
	struct got g = { 0 };

	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		fds[i] = dial(path);
		ASK(c, fds[i], "echo in\n", "in\nok\n");
	}
	fd = dial(path);
	drive(c, fd, &g, -1);
	ck_assert(g.eof);
	ck_assert_str_eq(g.buf, "error: too many control connections\n");
	free(g.buf);
	close(fd);
	LOGGED(log, "too many control connections (16)");

	/* a slot freed is a slot taken */
	close(fds[3]);
	idle(c, 50);
	fds[3] = dial(path);
	ASK(c, fds[3], "echo again\n", "again\nok\n");
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		close(fds[i]);
	control_free(c);
	free(path);
	free(log);
}
END_TEST

START_TEST(socket_exit)
{
	char *path;
	struct control *c = listening("exit.sock", &path, NULL);
	int fd = dial(path);
	struct got g = { 0 };

	ck_assert_int_eq(write(fd, "exit\n", 5), 5);
	ck_assert_int_eq(drive(c, fd, &g, 1), CONTROL_EXIT);
	got_read(fd, &g);
	ck_assert_str_eq(g.buf, "ok\n");
	free(g.buf);
	close(fd);
	control_free(c);
	free(path);
}
END_TEST

START_TEST(listen_stale_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *path = scratch("stale.sock");
	struct control *c;
	int s = socket(AF_UNIX, SOCK_STREAM, 0), fd;

	/* what a crashed daemon leaves behind */
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	close(s);
	free(path);
	c = listening("stale.sock", &path, NULL);
	fd = dial(path);
	ASK(c, fd, "echo fresh\n", "fresh\nok\n");
	close(fd);
	control_free(c);
	free(path);
}
END_TEST

START_TEST(listen_refuses)
{
	char *file = unit_write("plain", "not a socket\n");
	char *live, *dir = unit_write("notdir", ""), *under, want[600];
	struct control *c = control_new(test_exec, NULL);
	struct control *first = listening("live.sock", &live, NULL);
	char err[512] = "";
	struct stat st;

	ck_assert_int_eq(control_listen(c, file, 0, (gid_t)-1, err, sizeof err), -1);
	snprintf(want, sizeof want, "control_socket %s: exists and is not a socket",
		 file);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(stat(file, &st), 0);	/* left alone */
	ck_assert(S_ISREG(st.st_mode));

	/* a daemon is there: not stale */
	ck_assert_int_eq(control_listen(c, live, 0, (gid_t)-1, err, sizeof err), -1);
	snprintf(want, sizeof want,
		 "control_socket %s: another process is listening on it", live);
	ck_assert_str_eq(err, want);

	ck_assert(asprintf(&under, "%s/sock", dir) > 0);
	ck_assert_int_eq(control_listen(c, under, 0, (gid_t)-1, err, sizeof err), -1);
	snprintf(want, sizeof want, "control_socket %s: %s is not a folder",
		 under, dir);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(control_listen(c, "", 0, (gid_t)-1, err, sizeof err), -1);
	ck_assert_str_eq(err, "control_socket \"\": must be a path of 1 to 107 bytes");
	control_free(c);
	control_free(first);
	free(file);
	free(live);
	free(dir);
	free(under);
}
END_TEST

START_TEST(free_keeps_a_replaced_file)
{
	char *path;
	struct control *c = listening("replaced.sock", &path, NULL);
	struct stat st;

	/* someone put a file of their own there since */
	ck_assert_int_eq(unlink(path), 0);
	free(unit_write("replaced.sock", "mine\n"));
	control_free(c);
	ck_assert_int_eq(stat(path, &st), 0);
	free(path);
}
END_TEST

START_TEST(listen_group)
{
	char *path = scratch("group.sock");
	struct control *c = control_new(test_exec, NULL);
	char err[512] = "";
	struct stat st;
	gid_t gid = getgid() == 0 ? 4242 : getgid();

	ck_assert_msg(control_listen(c, path, 4343, gid, err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_gid, gid);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	control_free(c);
	free(path);
}
END_TEST

/** @brief In a child running as @uid:@gid, connect to @path, send "echo
 *  hi", and copy what comes back until EOF to @out. */
static pid_t peer_as(const char *path, uid_t uid, gid_t gid, int out)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256];
		ssize_t k;
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			_exit(4);
		/* a refused peer may be closed before it sends: read anyway */
		send(fd, "echo hi\n", 8, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		while ((k = read(fd, buf, sizeof buf)) > 0)
			if (write(out, buf, k) != k)
				_exit(6);
		_exit(0);
	}
	return pid;
}

/** @brief Drive @c until the child @pid is gone; its output from @rd. */
static char *peer_result(struct control *c, pid_t pid, int rd)
{
	long long end = now_ms() + WAIT_MS;
	struct got g = { 0 };
	int st = -1;

	ck_assert_int_eq(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	while (now_ms() < end && waitpid(pid, &st, WNOHANG) == 0) {
		idle(c, 10);
		got_read(rd, &g);
	}
	got_read(rd, &g);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "peer status %d", st);
	return g.buf ? g.buf : strdup("");
}

START_TEST(peer_credentials)
{
	char *path, *log, want[256], *out;
	struct control *c;
	int p[2];
	pid_t pid;

	if (geteuid() != 0)
		return;		/* needs root to be other users */
	log = log_to_file("peers.log");
	path = scratch("peers/ctl.sock");
	c = control_new(test_exec, NULL);
	ck_assert_msg(control_listen(c, path, 4343, 4242, want, sizeof want) == 0,
		      "%s", want);
	/* let everyone reach it, so SO_PEERCRED is what decides */
	ck_assert_int_eq(chmod(unit_dir(), 0755), 0);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(pipe(p), 0);

	pid = peer_as(path, 4444, 4444, p[1]);
	out = peer_result(c, pid, p[0]);
	ck_assert_str_eq(out, "error: not allowed\n");
	free(out);
	snprintf(want, sizeof want,
		 "warning: control: refused uid 4444 gid 4444 pid %ld: not root, not uid 4343 and not in group 4242\n",
		 (long)pid);
	LOGGED(log, want);

	pid = peer_as(path, 4444, 4242, p[1]);	/* the socket's group */
	out = peer_result(c, pid, p[0]);
	ck_assert_str_eq(out, "hi\nok\n");
	free(out);
	snprintf(want, sizeof want,
		 "notice: control: connection from uid 4444 gid 4242 pid %ld\n",
		 (long)pid);
	LOGGED(log, want);

	pid = peer_as(path, 4343, 4444, p[1]);	/* the daemon's user */
	out = peer_result(c, pid, p[0]);
	ck_assert_str_eq(out, "hi\nok\n");
	free(out);
	LOGGED(log, "info: control: uid 4343: echo hi\n");

	close(p[0]);
	close(p[1]);
	control_free(c);
	free(path);
	free(log);
}
END_TEST

/* ---- the console ---- */

START_TEST(console_pipe)
{
	struct control *c = control_new(test_exec, NULL);
	int in[2], out[2];
	struct got g = { 0 };
	char want[64];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(control_console(c, in[0], out[1]), 0);
	control_prompt(c);	/* no terminal: no prompt */
	ck_assert_int_eq(write(in[1], "echo a b\nfail\n\n  \nwho\n", 22), 22);
	idle(c, 50);
	got_read(out[0], &g);
	snprintf(want, sizeof want,
		 "a b\nError: it failed with 1 words\nconsole=1 uid=%u\n",
		 (unsigned)getuid());
	ck_assert_str_eq(g.buf, want);

	/* a last line without "\n", then the end of input: exit */
	ck_assert_int_eq(write(in[1], "echo last", 9), 9);
	close(in[1]);
	ck_assert_int_eq(drive(c, -1, NULL, -1), CONTROL_EXIT);
	got_read(out[0], &g);
	strcat(want, "last\n");
	ck_assert_str_eq(g.buf, want);
	/* it no longer waits on the console */
	struct pollfd pfd[CONTROL_POLLFDS];
	ck_assert_int_eq(control_pollfds(c, pfd, CONTROL_POLLFDS), 0);
	free(g.buf);
	control_free(c);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}
END_TEST

START_TEST(console_exit_and_limit)
{
	struct control *c = control_new(test_exec, NULL);
	char line[CONTROL_LINE_MAX + 8];
	int in[2], out[2];
	struct got g = { 0 };

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(control_console(c, in[0], out[1]), 0);
	memset(line, 'x', sizeof line);
	memcpy(line + sizeof line - 2, "\n", 2);
	ck_assert_int_eq(write(in[1], line, strlen(line)), (ssize_t)strlen(line));
	ck_assert_int_eq(write(in[1], "echo on\nexit\necho never\n", 24), 24);
	ck_assert_int_eq(drive(c, -1, NULL, -1), CONTROL_EXIT);
	got_read(out[0], &g);
	ck_assert_str_eq(g.buf, "Error: command line longer than 4096 bytes\non\n");
	free(g.buf);
	control_free(c);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}
END_TEST

START_TEST(console_terminal_prompts)
{
	struct control *c = control_new(test_exec, NULL);
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave, out[2];
	struct got g = { 0 };

	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(control_console(c, slave, out[1]), 0);
	control_prompt(c);
	ck_assert_int_eq(write(master, "echo hi\n\nfail\n\004", 15), 15);
	ck_assert_int_eq(drive(c, -1, NULL, -1), CONTROL_EXIT);
	got_read(out[0], &g);
	ck_assert_str_eq(g.buf,
			 "> hi\n> > Error: it failed with 1 words\n> \n");
	free(g.buf);
	control_free(c);
	close(slave);
	close(master);
	close(out[0]);
	close(out[1]);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *split = tcase_create("split");
	TCase *reply = tcase_create("replies");
	TCase *sock = tcase_create("socket");
	TCase *con = tcase_create("console");

	tcase_add_test(split, split_words);
	tcase_add_test(split, split_empty);
	tcase_add_test(split, split_too_many);
	suite_add_tcase(s, split);

	tcase_add_test(reply, reply_grows);
	tcase_add_test(reply, reply_truncated);
	tcase_add_test(reply, reply_error);
	suite_add_tcase(s, reply);

	tcase_set_timeout(sock, 30);
	tcase_add_test(sock, socket_framing);
	tcase_add_test(sock, socket_who_refers_to_uid);
	tcase_add_test(sock, socket_last_line_at_eof);
	tcase_add_test(sock, socket_big_reply);
	tcase_add_test(sock, socket_line_limit);
	tcase_add_test(sock, socket_slow_reader_dropped);
	tcase_add_test(sock, socket_client_limit);
	tcase_add_test(sock, socket_exit);
	tcase_add_test(sock, listen_stale_socket);
	tcase_add_test(sock, listen_refuses);
	tcase_add_test(sock, free_keeps_a_replaced_file);
	tcase_add_test(sock, listen_group);
	tcase_add_test(sock, peer_credentials);
	suite_add_tcase(s, sock);

	tcase_set_timeout(con, 30);
	tcase_add_test(con, console_pipe);
	tcase_add_test(con, console_exit_and_limit);
	tcase_add_test(con, console_terminal_prompts);
	suite_add_tcase(s, con);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(control_suite());
}
