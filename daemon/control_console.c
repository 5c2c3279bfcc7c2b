/* control_console.c - the control's console: the terminal (or a pipe,
 * when scripted) of `ssltunneld connect`, one command per line, replies
 * printed as they are, an error as "Error: MESSAGE", then the prompt
 *
 * The console is read once per readiness (no O_NONBLOCK on a descriptor
 * the shell shares) and written with plain blocking writes.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "log.h"

/** @brief Write all of @buf to the console; gives up on an error. */
static void control_write(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t k = write(fd, buf, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				if (poll(&p, 1, 1000) > 0)
					continue;
			}
			return;
		}
		buf += k;
		len -= k;
	}
}

/** @brief Write @s to the console. */
static void control_puts(struct control *c, const char *s)
{
	control_write(c->con_out, s, strlen(s));
}

void control_prompt(struct control *c)
{
	if (c->con_in >= 0 && c->con_tty)
		control_puts(c, "> ");
}

/** @brief Run one console line and print its reply, then the prompt. */
static int control_console_line(struct control *c, char *line, size_t len)
{
	struct control_peer me = { .console = 1, .pid = getpid(),
				   .uid = getuid(), .gid = getgid() };
	struct control_reply r = { 0 };
	int rc;

	if (len > CONTROL_LINE_MAX) {
		control_puts(c, "Error: command line longer than 4096 bytes\n");
		control_prompt(c);
		return 0;
	}
	rc = control_run(c, &me, line, len, &r);
	if (r.len)
		control_write(c->con_out, r.buf, r.len);
	free(r.buf);
	if (rc == CONTROL_EXIT)
		return CONTROL_EXIT;
	if (rc == CONTROL_ERROR) {
		control_puts(c, "Error: ");
		control_puts(c, r.error);
		control_puts(c, "\n");
	}
	control_prompt(c);
	return 0;
}

/** @brief The console's input ended: run a last unfinished line, stop. */
static int control_console_eof(struct control *c)
{
	size_t len = c->con_len;

	int rc = 0;

	if (len && !c->con_skip) {
		c->con_buf[len] = '\n';
		control_eol(c->con_buf, len + 1, &len);
		rc = control_console_line(c, c->con_buf, len);
	}
	if (c->con_tty && rc != CONTROL_EXIT)
		control_puts(c, "\n");	/* past the prompt ^D left */
	c->con_in = -1;
	c->con_len = 0;
	return CONTROL_EXIT;
}

/** @brief Read what the console has (one read: poll() said it won't
 *  block) and run its complete lines. */
int control_console_read(struct control *c)
{
	ssize_t k = read(c->con_in, c->con_buf + c->con_len,
			 sizeof c->con_buf - 1 - c->con_len);
	char *start = c->con_buf, *nl;
	size_t left, len;

	if (k < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_err("control: console: read: %s; leaving", strerror(errno));
		c->con_len = 0;
	}
	if (k <= 0)
		return control_console_eof(c);
	left = c->con_len + k;
	while ((nl = control_eol(start, left, &len))) {
		left -= nl + 1 - start;
		if (c->con_skip) {
			c->con_skip = 0;
			control_prompt(c);
		} else if (control_console_line(c, start, len) == CONTROL_EXIT) {
			return CONTROL_EXIT;
		}
		start = nl + 1;
	}
	if (left == sizeof c->con_buf - 1) {
		if (!c->con_skip)
			control_puts(c, "Error: command line longer than 4096 bytes\n");
		c->con_skip = 1;
		left = 0;
	}
	memmove(c->con_buf, start, left);
	c->con_len = left;
	return 0;
}

int control_console(struct control *c, int in, int out)
{
	if (in < 0 || out < 0)
		return -1;
	c->con_in = in;
	c->con_out = out;
	c->con_tty = isatty(in);
	c->con_skip = 0;
	c->con_len = 0;
	return 0;
}
