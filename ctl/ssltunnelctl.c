/* ssltunnelctl.c - the operator's command for a running ssltunneld: one
 * command, or a console, over the daemon's control socket
 *
 * Standalone, plain libc. The protocol (daemon/control.h): one command
 * per line; the daemon answers with text lines, then a status line, "ok"
 * or "error: MESSAGE". Exit status: 0 ok, 1 the daemon said error, 2 no
 * answer (usage, connection, time limit).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_DEFAULT_SOCKET "/run/ssltunnel/control"
#define CTL_LINE_MAX 4096	/* the daemon's CONTROL_LINE_MAX */
#define CTL_TIMEOUT_MS 30000
/* Reply text without "\n" past this is printed as it comes: a status
 * line is never this long. */
#define CTL_HOLD_MAX 65536

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_TROUBLE = 2 };

struct ctl {
	const char *path;
	int fd;
	int console;		/* errors as "Error: MESSAGE" on stdout */
	long long deadline;	/* of the exchange under way, ms */
	char buf[CTL_HOLD_MAX + 4096];	/* reply bytes not printed yet */
	size_t len;
	int mid_line;		/* buf starts inside a line already printed */
};

/* stdin, read by hand so poll() sees what is waiting */
struct ctl_in {
	int tty;
	int eof;
	char buf[CTL_LINE_MAX + 2];
	size_t len;
};

/** @brief Print the usage to @f. */
static void usage(FILE *f)
{
	fprintf(f,
"Usage: ssltunnelctl [-s SOCKET] COMMAND [ARGS...]\n"
"       ssltunnelctl [-s SOCKET] console\n"
"\n"
"  -s SOCKET  the daemon's control socket (default %s,\n"
"             or $SSLTUNNEL_CONTROL)\n"
"  -V         print the version\n"
"  -h         this help\n"
"\n"
"Commands: tunnels; tunnel add [LHOST:]LPORT [RHOST:]RPORT --via TUNNEL;\n"
"tunnel close ID; reload; help. Exit status: 0 ok, 1 the daemon refused\n"
"the command, 2 no answer from the daemon.\n", CTL_DEFAULT_SOCKET);
}

/** @brief Milliseconds on the monotonic clock. */
static long long ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/** @brief Milliseconds left of the exchange, at least 0. */
static int ctl_left(const struct ctl *c)
{
	long long left = c->deadline - ctl_now();

	return left > 0 ? (int)left : 0;
}

/** @brief Say that the daemon did not answer in time; returns CTL_TROUBLE. */
static int ctl_timed_out(void)
{
	fprintf(stderr, "ssltunnelctl: no answer from the daemon within %d s\n",
		CTL_TIMEOUT_MS / 1000);
	return CTL_TROUBLE;
}

/** @brief Say that the daemon hung up; returns CTL_TROUBLE. */
static int ctl_closed(const struct ctl *c)
{
	fflush(stdout);
	fprintf(stderr, "ssltunnelctl: %s: the daemon closed the connection\n",
		c->path);
	return CTL_TROUBLE;
}

/** @brief Connect to the daemon's socket, retrying while its queue of
 *  connections is full, until the deadline. */
static int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!*c->path || strlen(c->path) >= sizeof sa.sun_path) {
		fprintf(stderr, "ssltunnelctl: %s: a socket path must have 1 to %zu bytes\n",
			c->path, sizeof sa.sun_path - 1);
		return -1;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, "ssltunnelctl: socket: %s\n", strerror(errno));
		return -1;
	}
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && ctl_left(c) > 0) {
			poll(NULL, 0, 50);
			continue;
		}
		if (errno == EAGAIN)
			return ctl_timed_out(), -1;
		fprintf(stderr, "ssltunnelctl: %s: %s%s\n", c->path, strerror(errno),
			errno == EACCES ? " (are you in the daemon's group?)" : "");
		return -1;
	}
	return 0;
}

/** @brief Send @line and its "\n" within the deadline; -1 if the daemon
 *  hung up (it may have said why before). */
static int ctl_send(struct ctl *c, const char *line, size_t len)
{
	char out[CTL_LINE_MAX + 1];
	size_t off = 0;

	memcpy(out, line, len);
	out[len++] = '\n';
	while (off < len) {
		ssize_t k = send(c->fd, out + off, len - off, MSG_NOSIGNAL);
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };

		if (k >= 0) {
			off += k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return -1;
		if (errno != EAGAIN) {
			fprintf(stderr, "ssltunnelctl: %s: send: %s\n", c->path,
				strerror(errno));
			return CTL_TROUBLE;
		}
		if (poll(&p, 1, ctl_left(c)) == 0)
			return ctl_timed_out();
	}
	return CTL_OK;
}

/** @brief Handle one complete reply line @s (@len bytes, no "\n"): print
 *  text, or return the status it is (-1: text). */
static int ctl_line(struct ctl *c, const char *s, size_t len)
{
	if (!c->mid_line && len == 2 && !memcmp(s, "ok", 2))
		return CTL_OK;
	if (!c->mid_line && len >= 7 && !memcmp(s, "error: ", 7)) {
		fflush(stdout);
		if (c->console)
			printf("Error: %.*s\n", (int)(len - 7), s + 7);
		else
			fprintf(stderr, "ssltunnelctl: %.*s\n", (int)(len - 7), s + 7);
		return CTL_FAILED;
	}
	fwrite(s, 1, len, stdout);
	putchar('\n');
	c->mid_line = 0;
	return -1;
}

/** @brief Print the text lines held in the buffer; returns the status if
 *  its line came (bytes after it stay), else -1. */
static int ctl_lines(struct ctl *c)
{
	char *start = c->buf, *nl;
	int st = -1;

	while (st < 0 && (nl = memchr(start, '\n', c->len - (start - c->buf)))) {
		st = ctl_line(c, start, nl - start);
		start = nl + 1;
	}
	c->len -= start - c->buf;
	memmove(c->buf, start, c->len);
	if (st < 0 && c->len >= CTL_HOLD_MAX) {
		fwrite(c->buf, 1, c->len, stdout);
		c->len = 0;
		c->mid_line = 1;
	}
	return st;
}

/** @brief Read the reply to the command just sent, printing its text,
 *  until its status line; returns the exit status it means. */
static int ctl_reply(struct ctl *c)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int st = ctl_lines(c);
		ssize_t k;

		if (st >= 0)
			return st;
		if (poll(&p, 1, ctl_left(c)) == 0)
			return ctl_timed_out();
		k = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
		if (k > 0) {
			c->len += k;
			continue;
		}
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0 && errno != ECONNRESET) {
			fprintf(stderr, "ssltunnelctl: %s: read: %s\n", c->path,
				strerror(errno));
			return CTL_TROUBLE;
		}
		return ctl_closed(c);
	}
}

/** @brief Send @line and print its reply, within the deadline; returns
 *  the exit status. */
static int ctl_exchange(struct ctl *c, const char *line, size_t len)
{
	int st = ctl_send(c, line, len);

	/* refused peers are told why, then closed: read that too */
	if (st == CTL_OK || st < 0)
		st = ctl_reply(c);
	fflush(stdout);
	return st;
}

/** @brief Join @argv's words with single spaces into @line; refuses an
 *  empty word or one with a line break, and a line the daemon won't take. */
static int ctl_join(int argc, char **argv, char *line, size_t *len)
{
	size_t n = 0;

	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (!l) {
			fprintf(stderr, "ssltunnelctl: argument %d is empty\n", i + 1);
			return -1;
		}
		if (strpbrk(argv[i], "\r\n")) {
			fprintf(stderr, "ssltunnelctl: argument %d contains a line break\n",
				i + 1);
			return -1;
		}
		if (n + !!i + l > CTL_LINE_MAX) {
			fprintf(stderr, "ssltunnelctl: command line longer than %d bytes\n",
				CTL_LINE_MAX);
			return -1;
		}
		if (i)
			line[n++] = ' ';
		memcpy(line + n, argv[i], l);
		n += l;
	}
	line[n] = '\0';
	*len = n;
	return 0;
}

/* ---- console ---- */

/** @brief Wait for a line on stdin into @line (@len bytes, no "\r\n"),
 *  watching the daemon's side meanwhile. Returns 1 for a line, 0 at the
 *  end of input, -1 for a line too long (dropped), -2 if the daemon
 *  closed the connection. */
static int ctl_getline(struct ctl *c, struct ctl_in *in, char *line,
		       size_t *len)
{
	for (;;) {
		char *nl = memchr(in->buf, '\n', in->len);
		struct pollfd p[2] = { { .fd = 0, .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		ssize_t k;

		if (nl || (in->eof && in->len)) {
			size_t l = nl ? (size_t)(nl - in->buf) : in->len;
			size_t used = nl ? l + 1 : l;

			if (l && in->buf[l - 1] == '\r')
				l--;
			memcpy(line, in->buf, l);
			line[l] = '\0';
			*len = l;
			in->len -= used;
			memmove(in->buf, in->buf + used, in->len);
			return l > CTL_LINE_MAX ? -1 : 1;
		}
		if (in->eof)
			return 0;
		if (in->len == sizeof in->buf) {
			/* drop up to the end of the overlong line */
			in->len = 0;
			do {
				k = read(0, in->buf, sizeof in->buf);
				nl = k > 0 ? memchr(in->buf, '\n', k) : NULL;
			} while (k > 0 && !nl);
			if (k <= 0) {
				in->eof = 1;
			} else {
				in->len = k - (nl + 1 - in->buf);
				memmove(in->buf, nl + 1, in->len);
			}
			return -1;
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ssltunnelctl: poll: %s\n", strerror(errno));
			return 0;
		}
		if (p[1].revents) {
			/* the daemon speaks only when asked: this is its end */
			char junk[512];

			k = read(c->fd, junk, sizeof junk);
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
				return -2;
		}
		if (!p[0].revents)
			continue;
		k = read(0, in->buf + in->len, sizeof in->buf - in->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fprintf(stderr, "ssltunnelctl: stdin: %s\n", strerror(errno));
		if (k <= 0)
			in->eof = 1;
		else
			in->len += k;
	}
}

/** @brief @line without the blanks around it, in place. */
static char *ctl_trim(char *line)
{
	char *end = line + strlen(line);

	while (*line == ' ' || *line == '\t')
		line++;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return line;
}

/** @brief Print the prompt if stdin is a terminal. */
static void ctl_prompt(const struct ctl_in *in)
{
	if (in->tty) {
		fputs("> ", stdout);
		fflush(stdout);
	}
}

/** @brief The console: a prompt against the daemon, one connection for
 *  the whole session. */
static int ctl_console(struct ctl *c)
{
	static struct ctl_in in;
	char line[CTL_LINE_MAX + 2], *cmd;
	size_t len;
	int rc;

	in.tty = isatty(0);
	c->console = 1;
	fprintf(in.tty ? stdout : stderr,
		"ssltunnel console on %s; type help for the commands, exit to leave.\n",
		c->path);
	for (;;) {
		ctl_prompt(&in);
		rc = ctl_getline(c, &in, line, &len);
		if (rc == 0) {
			if (in.tty)
				putchar('\n');
			return CTL_OK;
		}
		if (rc == -2) {
			if (in.tty)
				putchar('\n');
			return ctl_closed(c);
		}
		if (rc == -1) {
			printf("Error: command line longer than %d bytes\n", CTL_LINE_MAX);
			continue;
		}
		cmd = ctl_trim(line);
		if (!*cmd)
			continue;
		if (!strcmp(cmd, "exit") || !strcmp(cmd, "quit"))
			return CTL_OK;
		c->deadline = ctl_now() + CTL_TIMEOUT_MS;
		rc = ctl_exchange(c, cmd, strlen(cmd));
		if (rc == CTL_TROUBLE)
			return rc;
	}
}

int main(int argc, char **argv)
{
	static struct ctl c = { .fd = -1 };
	char line[CTL_LINE_MAX + 1];
	const char *env = getenv("SSLTUNNEL_CONTROL");
	size_t len = 0;
	int opt, rc;

	c.path = env && *env ? env : CTL_DEFAULT_SOCKET;
	/* "+": options end at the command, whose words may look like ours */
	while ((opt = getopt(argc, argv, "+s:hV")) != -1) {
		switch (opt) {
		case 's': c.path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ssltunnelctl %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return CTL_TROUBLE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr, "ssltunnelctl: no command (try \"help\" or \"console\")\n");
		usage(stderr);
		return CTL_TROUBLE;
	}
	if (!strcmp(argv[0], "console") && argc > 1) {
		fprintf(stderr, "ssltunnelctl: console takes no arguments\n");
		return CTL_TROUBLE;
	}
	if (strcmp(argv[0], "console") && ctl_join(argc, argv, line, &len) < 0)
		return CTL_TROUBLE;
	c.deadline = ctl_now() + CTL_TIMEOUT_MS;
	if (ctl_connect(&c) < 0)
		return CTL_TROUBLE;
	if (!strcmp(argv[0], "console"))
		rc = ctl_console(&c);
	else
		rc = ctl_exchange(&c, line, len);
	close(c.fd);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "ssltunnelctl: standard output: %s\n", strerror(errno));
		return CTL_TROUBLE;
	}
	return rc;
}
