/* control_peer.c - who connects to the control socket: the peer's
 * credentials (SO_PEERCRED), its user and group names for the log, and
 * whether it may use the socket (root, the daemon's user, or a member of
 * the socket's group); an allowed peer gets a client slot
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "log.h"

#define CONTROL_GROUPS_MAX 256	/* groups of a peer's user looked at */

/* ---- names, for the log ---- */

/** @brief The login name of @uid into @name, and its primary group into
 *  @gid; -1 if the user database has no such user. */
int control_user_of(uid_t uid, char *name, size_t len, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char scratch[4096];

	if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &res) != 0 || !res)
		return -1;
	snprintf(name, len, "%s", pw.pw_name);
	if (gid)
		*gid = pw.pw_gid;
	return 0;
}

/** @brief The name of group @gid into @name, or its number. */
void control_group_name(gid_t gid, char *name, size_t len)
{
	struct group gr, *res = NULL;
	char scratch[4096];

	if (getgrgid_r(gid, &gr, scratch, sizeof scratch, &res) == 0 && res)
		snprintf(name, len, "%s", gr.gr_name);
	else
		snprintf(name, len, "%u", (unsigned)gid);
}

/** @brief "uid U (NAME) gid G pid P" for a peer; no "(NAME)" for a uid
 *  without a user. */
static void control_who(const struct control_peer *p, char *buf, size_t len)
{
	char name[CONTROL_NAME_MAX];

	if (control_user_of(p->uid, name, sizeof name, NULL) == 0)
		snprintf(buf, len, "uid %u (%s) gid %u pid %ld", (unsigned)p->uid,
			 name, (unsigned)p->gid, (long)p->pid);
	else
		snprintf(buf, len, "uid %u gid %u pid %ld", (unsigned)p->uid,
			 (unsigned)p->gid, (long)p->pid);
}

/* ---- the peer check ---- */

/** @brief May the peer @cr use the socket: root, the daemon's user, or a
 *  member of the socket's group (primary or in the group database)? */
static int control_allowed(const struct control *c, const struct ucred *cr)
{
	gid_t groups[CONTROL_GROUPS_MAX], pgid;
	char name[CONTROL_NAME_MAX];
	int n = CONTROL_GROUPS_MAX;

	if (cr->uid == 0 || cr->uid == c->uid || cr->gid == c->gid)
		return 1;
	if (control_user_of(cr->uid, name, sizeof name, &pgid) < 0)
		return 0;
	if (getgrouplist(name, pgid, groups, &n) < 0 || n > CONTROL_GROUPS_MAX)
		n = CONTROL_GROUPS_MAX;	/* glibc filled the first ones */
	for (int i = 0; i < n; i++)
		if (groups[i] == c->gid)
			return 1;
	return 0;
}

/** @brief Write @msg to a socket that is being closed, if it fits now. */
static void control_say(int fd, const char *msg)
{
	ssize_t k = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)k;
}

/** @brief Check the peer of a new connection @fd and give it a slot, or
 *  tell it why not and close it. */
void control_admit(struct control *c, int fd)
{
	struct control_client *cl = NULL;
	struct control_peer p = { 0 };
	socklen_t len = sizeof(struct ucred);
	struct ucred cr;
	char who[256];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		log_warn("control: connection on %s: SO_PEERCRED: %s; closed",
			 c->path, strerror(errno));
		close(fd);
		return;
	}
	p.pid = cr.pid;
	p.uid = cr.uid;
	p.gid = cr.gid;
	control_who(&p, who, sizeof who);
	if (!control_allowed(c, &cr)) {
		log_warn("control: refused %s: not root, not %s and not in group %s",
			 who, c->user, c->group);
		control_say(fd, "error: not allowed\n");
		close(fd);
		return;
	}
	for (int i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
		if (c->cl[i].fd < 0)
			cl = &c->cl[i];
	if (!cl) {
		log_warn("control: refused %s: too many control connections (%d)",
			 who, CONTROL_CLIENTS_MAX);
		control_say(fd, "error: too many control connections\n");
		close(fd);
		return;
	}
	log_notice("control: connection from %s", who);
	cl->fd = fd;
	cl->peer = p;
}
