/* master_ctl.c - the commands of the control socket and the console, and
 * the runtime tunnels they open
 *
 *   tunnels | list                       every tunnel with its counters
 *   tunnel add [LHOST:]LPORT [[RHOST:]RPORT] [--via TUNNEL]
 *   tunnel [LHOST:]LPORT [[RHOST:]RPORT] [--via TUNNEL]   (the console's)
 *   tunnel close ID | close ID
 *   reload                               like SIGHUP, with its outcome
 *   help, exit (the console of ssltunneld connect: stop)
 *
 * A runtime tunnel's listener is opened here, in the master, which keeps
 * it for the tunnel's life and hands a copy to every worker of the
 * running generation (and to each worker forked later). Closing one stops
 * new connections; those open go on to their end.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#include "log.h"
#include "master_int.h"

/** @brief Who ran a command, for the log. */
static void ctl_who(const struct control_peer *who, char *buf, size_t len)
{
	if (who->console)
		snprintf(buf, len, "console");
	else
		snprintf(buf, len, "control uid %u pid %d", (unsigned)who->uid,
			 (int)who->pid);
}

/** @brief The running generation's tunnel named @name, or NULL. */
static const struct cfg_tunnel *ctl_find_tunnel(const struct master *m,
						const char *name)
{
	const struct cfg *c = &m->gens->cfg;

	for (size_t i = 0; i < c->ntunnels; i++)
		if (strcmp(c->tunnels[i].name, name) == 0)
			return &c->tunnels[i];
	return NULL;
}

/** @brief The tunnel a runtime tunnel goes through: --via, the console's,
 *  or the only client tunnel that can carry it. */
static const struct cfg_tunnel *ctl_pick_via(const struct master *m,
					     const char *via,
					     struct control_reply *out)
{
	const struct cfg *c = &m->gens->cfg;
	const struct cfg_tunnel *t = NULL;
	char err[300], names[200] = "";
	int n = 0;

	if (!via)
		via = m->console_via;
	if (via) {
		if (!(t = ctl_find_tunnel(m, via))) {
			control_error(out, "no tunnel named \"%s\" is configured", via);
			return NULL;
		}
		if (rt_via_ok(t, err, sizeof err) < 0) {
			control_error(out, "%s", err);
			return NULL;
		}
		return t;
	}
	for (size_t i = 0; i < c->ntunnels; i++) {
		if (rt_via_ok(&c->tunnels[i], err, sizeof err) < 0)
			continue;
		t = &c->tunnels[i];
		snprintf(names + strlen(names), sizeof names - strlen(names),
			 "%s%s", n ? ", " : "", t->name);
		n++;
	}
	if (n == 1)
		return t;
	if (n == 0)
		control_error(out, "no client tunnel that asks its server for destinations is configured (transport = \"websocket\", or destination set): nothing to go through");
	else
		control_error(out, "several tunnels could carry it (%s): name one with --via TUNNEL",
			      names);
	return NULL;
}

static struct master_rt *ctl_find_rt(struct master *m, int id)
{
	for (struct master_rt *r = m->rts; r; r = r->next)
		if (r->msg.id == id)
			return r;
	return NULL;
}

/** @brief Tell the running generation's workers; one that can't hear it
 *  is replaced (a new worker is told every runtime tunnel). */
static void ctl_tell_workers(struct master *m, const struct rt_msg *msg, int fd)
{
	for (struct master_gen *g = m->gens; g; g = g->next) {
		if (g->draining && msg->op == RT_ADD)
			continue;
		for (int i = 0; i < g->nslots; i++) {
			struct master_slot *s = &g->slots[i];
			if (!s->pid || s->ctl < 0)
				continue;
			if (rt_send(s->ctl, msg, fd) == 0)
				continue;
			log_err("worker %d (pid %d): cannot tell it of runtime tunnel %d: %s; replacing it",
				i + 1, (int)s->pid, msg->id, strerror(errno));
			kill(s->pid, SIGTERM);
		}
	}
}

/** @brief A slot for the counters no live runtime tunnel uses, after the
 *  last one given (so a closed tunnel's row is not reused at once). */
static int ctl_free_slot(const struct master *m)
{
	static int last = -1;

	for (int k = 1; k <= RT_MAX; k++) {
		int slot = (last + k) % RT_MAX, used = 0;
		for (const struct master_rt *r = m->rts; r && !used; r = r->next)
			used = r->msg.slot == slot;
		if (!used) {
			last = slot;
			return slot;
		}
	}
	return -1;
}

/** @brief Is @a the address of a configured or runtime listener? */
static const char *ctl_addr_taken(const struct master *m,
				  const struct net_addr *a)
{
	const struct cfg *c = &m->gens->cfg;

	for (size_t i = 0; i < c->ntunnels; i++)
		for (int j = 0; j < c->tunnels[i].listen_ep.naddrs; j++) {
			const struct net_addr *b = &c->tunnels[i].listen_ep.addrs[j];
			if (a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0)
				return c->tunnels[i].name;
		}
	return NULL;
}

/** @brief tunnel [add] [LHOST:]LPORT [[RHOST:]RPORT] [--via TUNNEL] */
static int ctl_tunnel_add(struct master *m, const struct control_peer *who,
			  int argc, char **argv, struct control_reply *out)
{
	const char *larg = NULL, *rarg = NULL, *via = NULL, *taken;
	const struct cfg_tunnel *vt;
	struct master_rt *r, **pp;
	struct net_endpoint ep = { 0 };
	char err[300], by[64];
	struct rt_msg msg = { .op = RT_ADD };
	unsigned lport;
	int slot, fd;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--via") == 0) {
			if (++i >= argc)
				return control_error(out, "--via needs the name of a client tunnel");
			via = argv[i];
		} else if (!larg) {
			larg = argv[i];
		} else if (!rarg) {
			rarg = argv[i];
		} else {
			return control_error(out, "unexpected \"%s\": tunnel [LHOST:]LPORT [RHOST:]RPORT [--via TUNNEL]",
					     argv[i]);
		}
	}
	if (!larg)
		return control_error(out, "usage: tunnel [LHOST:]LPORT [RHOST:]RPORT [--via TUNNEL]");
	if (rt_parse_local(larg, msg.listen, sizeof msg.listen, err,
			   sizeof err) < 0)
		return control_error(out, "local %s", err);
	lport = (unsigned)strtoul(strrchr(msg.listen, ':') + 1, NULL, 10);
	if (rt_parse_remote(rarg, lport, msg.dest, sizeof msg.dest, err,
			    sizeof err) < 0)
		return control_error(out, "remote %s", err);
	if (!(vt = ctl_pick_via(m, via, out)))
		return CONTROL_ERROR;
	if ((slot = ctl_free_slot(m)) < 0)
		return control_error(out, "%d runtime tunnels are open already: close one first",
				     RT_MAX);
	if (net_endpoint_parse(&ep, msg.listen, 1, err, sizeof err) < 0)
		return control_error(out, "local %s: %s", msg.listen, err);
	if ((taken = ctl_addr_taken(m, &ep.addrs[0]))) {
		net_endpoint_free(&ep);
		return control_error(out, "%s is where tunnel %s listens already",
				     msg.listen, taken);
	}
	fd = net_listen(&ep.addrs[0], err, sizeof err);
	net_endpoint_free(&ep);
	if (fd < 0)
		return control_error(out, "%s", err);
	if (!(r = calloc(1, sizeof *r))) {
		close(fd);
		return control_error(out, "out of memory");
	}
	msg.id = ++m->next_rt_id;
	msg.slot = slot;
	snprintf(msg.via, sizeof msg.via, "%s", vt->name);
	r->msg = msg;
	r->fd = fd;
	for (pp = &m->rts; *pp; pp = &(*pp)->next)
		;
	*pp = r;
	ctl_tell_workers(m, &r->msg, fd);
	ctl_who(who, by, sizeof by);
	log_notice("%s: tunnel %d added: listening on %s, asking %s for %s through tunnel %s",
		   by, msg.id, msg.listen, vt->connect, msg.dest, vt->name);
	control_printf(out, "Tunnel created with id: %d\n", msg.id);
	return CONTROL_OK;
}

/** @brief Stop runtime tunnel @r: workers stop accepting, the listener
 *  closes; its connections go on. */
static void ctl_rt_remove(struct master *m, struct master_rt *r)
{
	struct rt_msg msg = r->msg;

	msg.op = RT_CLOSE;
	ctl_tell_workers(m, &msg, -1);
	close(r->fd);
	for (struct master_rt **pp = &m->rts; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

static int ctl_tunnel_close(struct master *m, const struct control_peer *who,
			    const char *arg, struct control_reply *out)
{
	struct master_rt *r;
	char *end, by[64];
	long id;

	if (!arg)
		return control_error(out, "usage: close ID (the number tunnel printed)");
	id = strtol(arg, &end, 10);
	if (*end || id <= 0 || id > 1000000000 || !(r = ctl_find_rt(m, (int)id))) {
		if (*end && ctl_find_tunnel(m, arg))
			return control_error(out, "tunnel %s is configured in the file: remove it there and reload",
					     arg);
		return control_error(out, "no runtime tunnel with id %s (see list)", arg);
	}
	ctl_who(who, by, sizeof by);
	log_notice("%s: tunnel %ld closed (listened on %s)", by, id, r->msg.listen);
	ctl_rt_remove(m, r);
	control_printf(out, "Tunnel %ld closed.\n", id);
	return CONTROL_OK;
}

void master_stats_add(const struct master_gen *g, size_t col,
		      struct tunnel_stats *sum)
{
	/* Every field is a uint64_t counter: add them all. */
	uint64_t *to = (uint64_t *)sum;

	for (int i = 0; i < g->nslots; i++) {
		const uint64_t *from = (const uint64_t *)master_stats(g, i, col);
		for (size_t k = 0; k < sizeof *sum / sizeof(uint64_t); k++)
			to[k] += from[k];
	}
}

static void ctl_row(struct control_reply *out, const char *id,
		    const char *listen, const char *dest, const char *via,
		    const struct tunnel_stats *s)
{
	control_printf(out, "%-12s %-22s %-28s %-14s %6llu %8llu %12llu %12llu\n",
		       id, listen, dest, via,
		       (unsigned long long)s->active,
		       (unsigned long long)s->accepted,
		       (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down);
}

/** @brief tunnels / list: configured tunnels, then runtime ones, with
 *  counters summed over every worker of every generation running. */
static int ctl_list(struct master *m, struct control_reply *out)
{
	const struct cfg *c = &m->gens->cfg;

	control_printf(out, "%-12s %-22s %-28s %-14s %6s %8s %12s %12s\n", "ID",
		       "LISTEN", "DESTINATION", "VIA", "ACTIVE", "TOTAL",
		       "BYTES_UP", "BYTES_DOWN");
	for (size_t i = 0; i < c->ntunnels; i++) {
		const struct cfg_tunnel *t = &c->tunnels[i];
		struct tunnel_stats sum;
		char dest[300];

		if (!t->listen)
			continue;	/* the console's: a template */
		master_sum_tunnel(m, t->name, &sum);
		snprintf(dest, sizeof dest, "%s", t->destination ? t->destination :
			 t->dynamic ? "(client's choice)" :
			 t->connect ? t->connect : "(its listeners)");
		ctl_row(out, t->name, t->listen, dest,
			t->role == CFG_ROLE_SERVER ? "(server)" : "(client)", &sum);
	}
	for (const struct master_rt *r = m->rts; r; r = r->next) {
		struct tunnel_stats sum;
		char id[16];

		master_sum_rt(m, r, &sum);
		snprintf(id, sizeof id, "%d", r->msg.id);
		ctl_row(out, id, r->msg.listen, r->msg.dest, r->msg.via, &sum);
	}
	return CONTROL_OK;
}

static void ctl_help(const struct master *m, struct control_reply *out)
{
	control_printf(out,
"Commands:\n"
"  tunnel [LHOST:]LPORT [RHOST:]RPORT [--via TUNNEL]\n"
"        listen on LHOST:LPORT (default 127.0.0.1) and forward each\n"
"        connection through the server to RHOST:RPORT (default host\n"
"        127.0.0.1, the server itself; default port LPORT)\n"
"  tunnel add ...      the same\n"
"  close ID            stop a tunnel (its open connections go on)\n"
"  tunnel close ID     the same\n"
"  list                tunnels with their connections and bytes\n"
"  tunnels             the same\n"
"  status [--json]     every tunnel's and worker's figures\n"
"  reload              read the configuration again, like SIGHUP\n"
"  help                this text\n"
"%s", m->console_via ? "  exit                close every tunnel and leave\n" : "");
}

int master_ctl_exec(void *arg, const struct control_peer *who, int argc,
		    char **argv, struct control_reply *out)
{
	struct master *m = arg;
	const char *cmd = argv[0];
	char err[CFG_ERRLEN];

	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0) {
		ctl_help(m, out);
		return CONTROL_OK;
	}
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "tunnels") == 0)
		return ctl_list(m, out);
	if (strcmp(cmd, "status") == 0) {
		if (argc > 1 && strcmp(argv[1], "--json") == 0)
			master_status_json(m, out);
		else if (argc > 1)
			return control_error(out, "status takes --json or nothing, not \"%.40s\"",
					     argv[1]);
		else
			master_status_text(m, out);
		return CONTROL_OK;
	}
	if (strcmp(cmd, "close") == 0)
		return ctl_tunnel_close(m, who, argc > 1 ? argv[1] : NULL, out);
	if (strcmp(cmd, "tunnel") == 0) {
		if (argc > 1 && strcmp(argv[1], "close") == 0)
			return ctl_tunnel_close(m, who, argc > 2 ? argv[2] : NULL,
						out);
		if (argc > 1 && strcmp(argv[1], "add") == 0)
			return ctl_tunnel_add(m, who, argc - 2, argv + 2, out);
		return ctl_tunnel_add(m, who, argc - 1, argv + 1, out);
	}
	if (strcmp(cmd, "reload") == 0) {
		if (master_reload(m, err, sizeof err) < 0)
			return control_error(out, "reload failed, still running the previous configuration: %s",
					     err);
		control_printf(out, "configuration reloaded: generation %d\n",
			       m->gens->id);
		return CONTROL_OK;
	}
	if (strcmp(cmd, "exit") == 0 || strcmp(cmd, "quit") == 0) {
		if (who->console)
			return CONTROL_EXIT;
		return control_error(out, "%s ends a console; the daemon stops with SIGTERM (systemctl stop)",
				     cmd);
	}
	return control_error(out, "unknown command \"%.40s\": type help for the commands",
			     cmd);
}

int master_rt_send_all(struct master *m, int sock)
{
	for (const struct master_rt *r = m->rts; r; r = r->next)
		if (rt_send(sock, &r->msg, r->fd) < 0)
			return -1;
	return 0;
}

void master_rt_rebind(struct master *m)
{
	struct master_rt *r = m->rts, *next;
	char err[300];

	for (; r; r = next) {
		const struct cfg_tunnel *vt = ctl_find_tunnel(m, r->msg.via);
		next = r->next;
		if (vt && rt_via_ok(vt, err, sizeof err) == 0)
			continue;
		if (!vt)
			snprintf(err, sizeof err, "tunnel %s is not in the configuration any more",
				 r->msg.via);
		log_warn("runtime tunnel %d (%s -> %s) closed by the reload: %s",
			 r->msg.id, r->msg.listen, r->msg.dest, err);
		ctl_rt_remove(m, r);
	}
}

void master_rt_retire(struct master *m, const struct master_gen *g)
{
	for (struct master_rt *r = m->rts; r; r = r->next) {
		struct tunnel_stats sum = { 0 };
		master_stats_add(g, g->cfg.ntunnels + r->msg.slot, &sum);
		r->base_accepted += sum.accepted;
		r->base_bytes_up += sum.bytes_up;
		r->base_bytes_down += sum.bytes_down;
	}
}

void master_rt_free_all(struct master *m)
{
	while (m->rts) {
		struct master_rt *r = m->rts;
		m->rts = r->next;
		close(r->fd);
		free(r);
	}
}
