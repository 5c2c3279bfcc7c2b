/* control.c - the master's control socket: one command per line in,
 * framed replies out, bounded buffers, nothing that blocks (who a peer
 * is and whether it may connect: control_peer.c; the console:
 * control_console.c)
 *
 * The master polls what control_pollfds() asks for and hands the result
 * to control_handle(). Socket clients are non-blocking: a client that
 * sends a line too long is told so and closed, one that does not read
 * its replies is dropped once they pile up past CONTROL_QUEUE_MAX.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "log.h"

/* Unsent replies of one client: a full reply and its status line fit. */
#define CONTROL_QUEUE_MAX (CONTROL_REPLY_MAX + 1024)
#define CONTROL_LOG_MAX 200	/* bytes of a command line in the log */
#define CONTROL_ACCEPT_BURST 32	/* connections taken per readiness */

static const char control_trunc[] = "... (reply truncated)\n";
/* Text past this is cut, leaving room for a "\n" and the mark, so that a
 * reply never exceeds CONTROL_REPLY_MAX and a longer one was cut. */
#define CONTROL_TEXT_MAX (CONTROL_REPLY_MAX - sizeof control_trunc)

/* ---- replies ---- */

/** @brief Make room for @need bytes in @r; -1 when memory is short. */
static int control_reply_grow(struct control_reply *r, size_t need)
{
	size_t cap = r->cap ? r->cap : 1024;
	char *b;

	if (need <= r->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > CONTROL_REPLY_MAX + 1)
		cap = CONTROL_REPLY_MAX + 1;
	b = realloc(r->buf, cap);
	if (!b)
		return -1;
	r->buf = b;
	r->cap = cap;
	return 0;
}

void control_printf(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;
	size_t want;
	int n;

	if (r->len > CONTROL_TEXT_MAX)
		return;		/* cut already */
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	want = r->len + (size_t)n <= CONTROL_TEXT_MAX ? r->len + n + 1 :
		CONTROL_REPLY_MAX + 1;
	if (control_reply_grow(r, want) < 0) {
		log_err("control: reply of %zu bytes: out of memory", want);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	va_end(ap);
	if (r->len + (size_t)n <= CONTROL_TEXT_MAX) {
		r->len += n;
		return;
	}
	r->len = CONTROL_TEXT_MAX;
	if (r->buf[r->len - 1] != '\n')
		r->buf[r->len++] = '\n';
	memcpy(r->buf + r->len, control_trunc, sizeof control_trunc);
	r->len += sizeof control_trunc - 1;
}

int control_error(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	/* one line, whatever went into it: it is a status line */
	for (char *p = r->error; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	return CONTROL_ERROR;
}

/* ---- command lines ---- */

int control_split(char *line, char **argv, int max)
{
	char *p = line;
	int n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -1;
		argv[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

/** @brief Log @line (@len bytes) at info, cut at CONTROL_LOG_MAX bytes,
 *  tabs as spaces and other unprintable bytes as '?', so that a command
 *  cannot forge log lines. */
static void control_log_line(const struct control_peer *who, const char *line,
			     size_t len)
{
	char buf[CONTROL_LOG_MAX + 1];
	size_t n = len < CONTROL_LOG_MAX ? len : CONTROL_LOG_MAX;

	if (!log_enabled(LOG_INFO))
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = line[i];
		buf[i] = ch == '\t' ? ' ' : ch < ' ' || ch >= 0x7f ? '?' : (char)ch;
	}
	buf[n] = '\0';
	log_info("control: uid %u: %s%s", (unsigned)who->uid, buf,
		 len > n ? "..." : "");
}

/** @brief Check, log, split and execute one command line (@len bytes, no
 *  "\n"), filling @r. Returns the executor's verdict, or CONTROL_EMPTY
 *  for a line without words. */
int control_run(struct control *c, const struct control_peer *who,
		char *line, size_t len, struct control_reply *r)
{
	char *argv[CONTROL_ARGS_MAX + 1];
	int argc, rc;
	size_t i;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return CONTROL_EMPTY;
	control_log_line(who, line, len);
	for (i = 0; i < len; i++) {
		unsigned char ch = line[i];
		if ((ch < ' ' && ch != '\t') || ch == 0x7f)
			return control_error(r, "control character 0x%02x in the command line",
					     ch);
	}
	argc = control_split(line, argv, CONTROL_ARGS_MAX);
	if (argc < 0)
		return control_error(r, "more than %d words", CONTROL_ARGS_MAX);
	argv[argc] = NULL;
	rc = c->exec(c->arg, who, argc, argv, r);
	if (rc == CONTROL_ERROR && !r->error[0])
		control_error(r, "%s failed", argv[0]);
	return rc;
}

/** @brief Find the end of the first line in @buf (@len bytes): returns
 *  the "\n" or NULL, and in @linelen the length without "\r\n". */
char *control_eol(char *buf, size_t len, size_t *linelen)
{
	char *nl = memchr(buf, '\n', len);

	if (!nl)
		return NULL;
	*nl = '\0';
	*linelen = nl - buf;
	if (*linelen && buf[*linelen - 1] == '\r')
		buf[--*linelen] = '\0';
	return nl;
}

/* ---- socket clients ---- */

/** @brief Close client @cl and free its slot. */
static void control_client_close(struct control_client *cl)
{
	close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof *cl);
	cl->fd = -1;
}

/** @brief Send what fits of @cl's queue now; closes @cl on an error, or
 *  when it is drained and the peer has finished sending. */
static void control_client_flush(struct control_client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t k = send(cl->fd, cl->out + cl->outoff,
				 cl->outlen - cl->outoff, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_info("control: uid %u pid %ld: write: %s; closed",
				 (unsigned)cl->peer.uid, (long)cl->peer.pid,
				 strerror(errno));
			control_client_close(cl);
			return;
		}
		cl->outoff += k;
	}
	cl->outoff = cl->outlen = 0;
	if (cl->outcap > 65536) {
		/* an idle client keeps no megabyte reply around */
		free(cl->out);
		cl->out = NULL;
		cl->outcap = 0;
	}
	if (cl->eof) {
		log_info("control: uid %u pid %ld: disconnected",
			 (unsigned)cl->peer.uid, (long)cl->peer.pid);
		control_client_close(cl);
	}
}

/** @brief Queue @text (@len bytes), then @status, for @cl and send what
 *  fits. A client whose queue would pass CONTROL_QUEUE_MAX is dropped. */
static void control_client_send(struct control_client *cl, const char *text,
				size_t len, const char *status)
{
	size_t slen = strlen(status);
	int nl = len && text[len - 1] != '\n';
	size_t add = len + nl + slen, left = cl->outlen - cl->outoff;

	if (left + add > CONTROL_QUEUE_MAX) {
		log_warn("control: uid %u pid %ld: dropped: it does not read its replies (%zu bytes waiting, at most %u)",
			 (unsigned)cl->peer.uid, (long)cl->peer.pid,
			 left + add, (unsigned)CONTROL_QUEUE_MAX);
		control_client_close(cl);
		return;
	}
	if (cl->outoff) {
		memmove(cl->out, cl->out + cl->outoff, left);
		cl->outoff = 0;
		cl->outlen = left;
	}
	if (cl->outlen + add > cl->outcap) {
		size_t cap = cl->outcap ? cl->outcap : 4096;
		char *b;

		while (cap < cl->outlen + add)
			cap *= 2;
		b = realloc(cl->out, cap);
		if (!b) {
			log_err("control: uid %u pid %ld: reply of %zu bytes: out of memory; closed",
				(unsigned)cl->peer.uid, (long)cl->peer.pid, add);
			control_client_close(cl);
			return;
		}
		cl->out = b;
		cl->outcap = cap;
	}
	memcpy(cl->out + cl->outlen, text, len);
	cl->outlen += len;
	if (nl)
		cl->out[cl->outlen++] = '\n';
	memcpy(cl->out + cl->outlen, status, slen);
	cl->outlen += slen;
	control_client_flush(cl);
}

/** @brief Run one line of @cl and queue its framed reply. */
static int control_client_line(struct control *c, struct control_client *cl,
			       char *line, size_t len)
{
	struct control_reply r = { 0 };
	char status[sizeof r.error + 16];
	int rc = control_run(c, &cl->peer, line, len, &r);

	if (rc == CONTROL_EMPTY)
		return 0;
	if (rc == CONTROL_ERROR)
		snprintf(status, sizeof status, "error: %s\n", r.error);
	else
		snprintf(status, sizeof status, "ok\n");
	control_client_send(cl, r.buf ? r.buf : "", r.len, status);
	free(r.buf);
	return rc == CONTROL_EXIT ? CONTROL_EXIT : 0;
}

/** @brief Tell @cl its line is too long and close it (best effort). */
static void control_client_overlong(struct control_client *cl)
{
	log_notice("control: uid %u pid %ld: command line longer than %d bytes; closed",
		   (unsigned)cl->peer.uid, (long)cl->peer.pid, CONTROL_LINE_MAX);
	cl->eof = 1;
	control_client_send(cl, "", 0, "error: command line longer than 4096 bytes\n");
	if (cl->fd >= 0)
		control_client_close(cl);	/* it did not read in time */
}

/** @brief Run the complete lines in @cl's input buffer; keep the rest. */
static int control_client_lines(struct control *c, struct control_client *cl)
{
	char *start = cl->in, *nl;
	size_t left = cl->inlen, len;
	int rc = 0;

	while (rc != CONTROL_EXIT && (nl = control_eol(start, left, &len))) {
		left -= nl + 1 - start;
		if (len > CONTROL_LINE_MAX) {
			control_client_overlong(cl);
			return 0;
		}
		rc = control_client_line(c, cl, start, len);
		if (cl->fd < 0)
			return rc;
		start = nl + 1;
	}
	if (left == sizeof cl->in) {
		control_client_overlong(cl);
		return rc;
	}
	memmove(cl->in, start, left);
	cl->inlen = left;
	return rc;
}

/** @brief Read what @cl sent and run its complete lines. At the end of
 *  its input, a last line without "\n" is run too. */
static int control_client_read(struct control *c, struct control_client *cl)
{
	ssize_t k = read(cl->fd, cl->in + cl->inlen, sizeof cl->in - cl->inlen);
	size_t len;
	int rc = 0;

	if (k < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_info("control: uid %u pid %ld: read: %s; closed",
			 (unsigned)cl->peer.uid, (long)cl->peer.pid, strerror(errno));
		control_client_close(cl);
		return 0;
	}
	if (k > 0) {
		cl->inlen += k;
		return control_client_lines(c, cl);
	}
	cl->eof = 1;
	if (cl->inlen) {
		len = cl->inlen;
		cl->in[len] = '\n';	/* sizeof in > inlen: else it was cut */
		control_eol(cl->in, len + 1, &len);
		cl->inlen = 0;
		if (len > CONTROL_LINE_MAX) {
			control_client_overlong(cl);
			return 0;
		}
		rc = control_client_line(c, cl, cl->in, len);
	}
	if (cl->fd >= 0)
		control_client_flush(cl);
	return rc;
}

/** @brief Take the connections waiting on the listening socket. */
static void control_accept(struct control *c)
{
	for (int i = 0; i < CONTROL_ACCEPT_BURST; i++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			control_admit(c, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("control: accept on %s: %s", c->path, strerror(errno));
		if ((errno == EMFILE || errno == ENFILE) && c->spare >= 0) {
			/* drop the connection, or poll() keeps reporting it */
			close(c->spare);
			fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			c->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
		return;
	}
}

/** @brief The client on descriptor @fd, or NULL. */
static struct control_client *control_client_find(struct control *c, int fd)
{
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->cl[i].fd == fd)
			return &c->cl[i];
	return NULL;
}

/** @brief React to poll()'s @revents for client @cl. */
static int control_client_io(struct control *c, struct control_client *cl,
			     short revents)
{
	int rc = 0;

	if (!cl->eof && (revents & (POLLIN | POLLHUP | POLLERR)))
		rc = control_client_read(c, cl);
	else if (cl->eof && (revents & (POLLHUP | POLLERR)))
		cl->outlen = cl->outoff;	/* nobody left to read it */
	if (cl->fd >= 0 && (revents & (POLLOUT | POLLHUP | POLLERR)))
		control_client_flush(cl);
	return rc;
}

/* ---- the socket ---- */

/** @brief Make the folder of @path, and any missing above it, 0755. */
static int control_mkparent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash || slash == path)
		return 0;
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	for (char *p = strchr(dir + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (stat(dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(err, errlen, "control_socket %s: %s is not a folder",
					 path, dir);
				return -1;
			}
		} else if (errno != ENOENT || mkdir(dir, 0755) < 0 ||
			   chmod(dir, 0755) < 0) {
			snprintf(err, errlen, "control_socket %s: folder %s: %s",
				 path, dir, strerror(errno));
			return -1;
		}
		if (!p)
			return 0;
		*p = '/';
	}
}

/** @brief Does a process answer on the socket at @sa? (Else it is stale.) */
static int control_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int busy;

	if (fd < 0)
		return 0;
	busy = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ||
		errno == EAGAIN;
	close(fd);
	return busy;
}

/** @brief Clear the way for a socket at @sa: nothing there, or a stale
 *  socket that is removed. */
static int control_clear(const struct sockaddr_un *sa, char *err,
			 size_t errlen)
{
	const char *path = sa->sun_path;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control_socket %s: exists and is not a socket",
			 path);
		return -1;
	}
	if (control_in_use(sa)) {
		snprintf(err, errlen, "control_socket %s: another process is listening on it",
			 path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "control_socket %s: removing the stale socket: %s",
			 path, strerror(errno));
		return -1;
	}
	return 0;
}

/** @brief Give the bound socket file @path its mode and group and note
 *  which file it is, for control_free(). */
static int control_own(struct control *c, const char *path, gid_t gid,
		       char *err, size_t errlen)
{
	struct stat st;

	if (chmod(path, 0660) < 0) {
		snprintf(err, errlen, "control_socket %s: chmod 0660: %s", path,
			 strerror(errno));
		return -1;
	}
	if (gid != (gid_t)-1 &&
	    chown(path, geteuid() == 0 ? 0 : (uid_t)-1, gid) < 0) {
		control_group_name(gid, c->group, sizeof c->group);
		snprintf(err, errlen, "control_socket %s: chown to group %s: %s",
			 path, c->group, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
		return -1;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->gid = st.st_gid;	/* (gid_t)-1: the group it got */
	return 0;
}

int control_listen(struct control *c, const char *path, uid_t uid, gid_t gid,
		   char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1, bound = 0;

	if (c->lfd >= 0) {
		snprintf(err, errlen, "control_socket %s: already listening on %s",
			 path, c->path);
		return -1;
	}
	if (!*path || strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "control_socket \"%s\": must be a path of 1 to %zu bytes",
			 path, sizeof sa.sun_path - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (control_mkparent(path, err, errlen) < 0 ||
	    control_clear(&sa, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control_socket %s: socket: %s", path,
			 strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		snprintf(err, errlen, "control_socket %s: bind: %s", path,
			 strerror(errno));
		goto err;
	}
	bound = 1;
	/* mode and group before listen(): no one connects in between */
	if (control_own(c, path, gid, err, errlen) < 0)
		goto err;
	if (listen(fd, 16) < 0) {
		snprintf(err, errlen, "control_socket %s: listen: %s", path,
			 strerror(errno));
		goto err;
	}
	c->path = strdup(path);
	if (!c->path) {
		snprintf(err, errlen, "control_socket %s: out of memory", path);
		goto err;
	}
	c->lfd = fd;
	c->owner = getpid();
	c->uid = uid;
	if (control_user_of(uid, c->user, sizeof c->user, NULL) < 0)
		snprintf(c->user, sizeof c->user, "uid %u", (unsigned)uid);
	control_group_name(c->gid, c->group, sizeof c->group);
	if (c->spare < 0)
		c->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_info("control: listening on %s (mode 0660, group %s)", path, c->group);
	return 0;
err:
	close(fd);
	if (bound)
		unlink(path);
	return -1;
}

/* ---- the whole ---- */

struct control *control_new(control_exec_fn exec, void *arg)
{
	struct control *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->exec = exec;
	c->arg = arg;
	c->lfd = c->spare = c->con_in = c->con_out = -1;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		c->cl[i].fd = -1;
	return c;
}

int control_pollfds(struct control *c, struct pollfd *pfd, int max)
{
	int n = 0;

	if (c->lfd >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
	if (c->con_in >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = c->con_in, .events = POLLIN };
	for (int i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++) {
		struct control_client *cl = &c->cl[i];

		if (cl->fd < 0)
			continue;
		pfd[n].fd = cl->fd;
		pfd[n].events = (cl->eof ? 0 : POLLIN) |
			(cl->outlen > cl->outoff ? POLLOUT : 0);
		pfd[n++].revents = 0;
	}
	return n;
}

int control_handle(struct control *c, const struct pollfd *pfd, int n)
{
	struct control_client *cl;
	int accept = 0, rc = 0;

	/* new connections last: their descriptors may repeat one closed here */
	for (int i = 0; i < n && rc != CONTROL_EXIT; i++) {
		if (!pfd[i].revents || pfd[i].fd < 0)
			continue;
		if (pfd[i].fd == c->lfd)
			accept = 1;
		else if (pfd[i].fd == c->con_in)
			rc = control_console_read(c);
		else if ((cl = control_client_find(c, pfd[i].fd)))
			rc = control_client_io(c, cl, pfd[i].revents);
	}
	if (accept && rc != CONTROL_EXIT)
		control_accept(c);
	return rc == CONTROL_EXIT ? CONTROL_EXIT : 0;
}

void control_close_fds(struct control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->cl[i].fd >= 0) {
			close(c->cl[i].fd);
			c->cl[i].fd = -1;
		}
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->spare >= 0)
		close(c->spare);
	c->lfd = c->spare = -1;
}

void control_free(struct control *c)
{
	struct stat st;

	if (!c)
		return;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->cl[i].fd >= 0)
			control_client_close(&c->cl[i]);
	if (c->lfd >= 0)
		close(c->lfd);
	/* a forked child leaves the file to the master; a file someone put
	 * in its place since is theirs */
	if (c->path && getpid() == c->owner && lstat(c->path, &st) == 0 &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	if (c->spare >= 0)
		close(c->spare);
	free(c->path);
	free(c);
}
