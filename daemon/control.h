/* control.h - the master's control socket and console: command lines in,
 * replies out, never blocking the master
 *
 * A Unix stream socket (daemon.control_socket) that ssltunnelctl talks
 * to, and, for `ssltunneld connect`, the terminal. Both read one command
 * per line, split it into words and hand it to the master's executor.
 *
 * On the socket, every reply is framed: its lines, then one status line,
 * "ok" or "error: MESSAGE". On the terminal the lines are printed as they
 * are and an error as "Error: MESSAGE", then the prompt "> " again.
 */
#ifndef SSLTUNNEL_CONTROL_H
#define SSLTUNNEL_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#define CONTROL_LINE_MAX 4096	/* bytes of one command line */
#define CONTROL_ARGS_MAX 16	/* words of one command line */
#define CONTROL_CLIENTS_MAX 16	/* socket clients at once */
#define CONTROL_POLLFDS (CONTROL_CLIENTS_MAX + 3)

/* What the executor returns. */
#define CONTROL_OK 0
#define CONTROL_ERROR (-1)	/* the reply holds the message */
#define CONTROL_EXIT 1		/* the console's "exit": stop the daemon */

struct control;

/* Who sent a command. */
struct control_peer {
	int console;		/* 1: the terminal of `ssltunneld connect` */
	pid_t pid;		/* socket: from SO_PEERCRED */
	uid_t uid;
	gid_t gid;
};

/* A reply being built; grows as needed (bounded by CONTROL_REPLY_MAX). */
#define CONTROL_REPLY_MAX (1u << 20)
struct control_reply {
	char *buf;
	size_t len, cap;
	char error[512];	/* CONTROL_ERROR: the message, one line */
};

/** @brief Append formatted text to @r (lines end with "\n"). */
void control_printf(struct control_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** @brief Set the error message of @r; returns CONTROL_ERROR. */
int control_error(struct control_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** @brief Run one command (@argv[0] the command, @argc >= 1) and fill
 *  @out; returns CONTROL_OK, CONTROL_ERROR or CONTROL_EXIT. */
typedef int (*control_exec_fn)(void *arg, const struct control_peer *who,
			       int argc, char **argv,
			       struct control_reply *out);

/** @brief An empty control (no socket, no console yet). */
struct control *control_new(control_exec_fn exec, void *arg);
/** @brief Listen on @path: a Unix stream socket, mode 0660, owned by
 *  root (or the running user) and group @gid ((gid_t)-1: unchanged). A
 *  stale socket at @path is replaced; anything else there is an error.
 *  The parent folder is made (0755) if missing. Peers are checked with
 *  SO_PEERCRED: root, the daemon's user @uid, or a member of @gid; each
 *  connection is logged with the peer's uid, gid and pid. */
int control_listen(struct control *c, const char *path, uid_t uid, gid_t gid,
		   char *err, size_t errlen);
/** @brief Read commands from @in and answer on @out (the terminal, or a
 *  pipe when scripted): prints "> " before each command when @in is a
 *  terminal. End of @in acts as "exit". */
int control_console(struct control *c, int in, int out);
/** @brief Print the console's prompt now (after the banner). */
void control_prompt(struct control *c);
/** @brief Fill at most @max poll entries with what the control waits on;
 *  returns how many. */
int control_pollfds(struct control *c, struct pollfd *pfd, int max);
/** @brief After poll(): accept, read, execute, write back. Returns
 *  CONTROL_EXIT when the console asked to stop, else 0. */
int control_handle(struct control *c, const struct pollfd *pfd, int n);
/** @brief In a forked worker: close the control's descriptors without
 *  touching the socket file (the master keeps serving it). NULL: no-op. */
void control_close_fds(struct control *c);
/** @brief Close everything; the socket file is removed. NULL: no-op. */
void control_free(struct control *c);

/** @brief Split @line into at most @max words (spaces and tabs; no
 *  quoting); @line is modified. Returns the count, or -1 if too many. */
int control_split(char *line, char **argv, int max);

#endif
