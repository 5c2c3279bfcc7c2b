/* control_int.h - the control's state, shared by control.c (replies,
 * command lines, the socket and its clients), control_peer.c (who a
 * peer is, whether it may connect) and control_console.c (the terminal
 * of `ssltunneld connect`). Internal to those three. */
#ifndef SSLTUNNEL_CONTROL_INT_H
#define SSLTUNNEL_CONTROL_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "control.h"

/* A line's buffer: CONTROL_LINE_MAX bytes, a "\r" and the "\n". */
#define CONTROL_IN_MAX (CONTROL_LINE_MAX + 2)
#define CONTROL_NAME_MAX 64
#define CONTROL_EMPTY 2		/* control_run(): no command on the line */

struct control_client {
	int fd;			/* -1: a free slot */
	int eof;		/* the peer sends no more: close once flushed */
	struct control_peer peer;
	char in[CONTROL_IN_MAX];
	size_t inlen;
	char *out;		/* replies not sent yet: out[outoff..outlen) */
	size_t outoff, outlen, outcap;
};

struct control {
	control_exec_fn exec;
	void *arg;
	int lfd;		/* the listening socket, or -1 */
	int spare;		/* a descriptor to give up when out of them */
	char *path;		/* the socket file, removed by control_free() */
	dev_t dev;		/* ... if it is still the one we made */
	ino_t ino;
	pid_t owner;		/* ... and only by the process that made it */
	uid_t uid;		/* the daemon's user */
	gid_t gid;		/* the socket's group */
	char user[CONTROL_NAME_MAX], group[CONTROL_NAME_MAX];
	struct control_client cl[CONTROL_CLIENTS_MAX];
	int con_in, con_out;	/* the console, or -1 */
	int con_tty;		/* con_in is a terminal: prompt */
	int con_skip;		/* dropping the rest of an overlong line */
	char con_buf[CONTROL_IN_MAX];
	size_t con_len;
};

/** @brief Check, log, split and execute one command line (@len bytes, no
 *  "\n"), filling @r. Returns the executor's verdict, or CONTROL_EMPTY
 *  for a line without words. */
int control_run(struct control *c, const struct control_peer *who,
		char *line, size_t len, struct control_reply *r);
/** @brief Find the end of the first line in @buf (@len bytes): returns
 *  the "\n" or NULL, and in @linelen the length without "\r\n". */
char *control_eol(char *buf, size_t len, size_t *linelen);

/* control_peer.c */

/** @brief The login name of @uid into @name, and its primary group into
 *  @gid; -1 if the user database has no such user. */
int control_user_of(uid_t uid, char *name, size_t len, gid_t *gid);
/** @brief The name of group @gid into @name, or its number. */
void control_group_name(gid_t gid, char *name, size_t len);
/** @brief Check the peer of a new connection @fd and give it a slot, or
 *  tell it why not and close it. */
void control_admit(struct control *c, int fd);

/* control_console.c */

/** @brief Read what the console has (one read: poll() said it won't
 *  block) and run its complete lines. */
int control_console_read(struct control *c);

#endif
