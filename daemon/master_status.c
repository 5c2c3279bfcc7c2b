/* master_status.c - `status` on the control socket: every tunnel's and
 * every worker's figures, as text or JSON
 *
 * The figures come from the counters the workers keep in memory shared
 * with the master (one row per worker and tunnel, per generation), read
 * without asking the workers anything: a status request never waits for
 * a worker, and a worker never waits for it. A tunnel's figures are
 * summed over every generation still running (a reload's draining one
 * too), by name.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "master_int.h"
#include "metrics.h"
#include "timer.h"

static const char *const status_user_why[USER_WHY_N] = {
	"ktls_off", "no_kernel_tls", "handoff_refused",
};

/* Declared (and described) in master_int.h: `list` uses them too. */
void master_sum_tunnel(const struct master *m, const char *name,
			      struct tunnel_stats *sum)
{
	memset(sum, 0, sizeof *sum);
	for (const struct master_gen *g = m->gens; g; g = g->next)
		for (size_t j = 0; j < g->cfg.ntunnels; j++)
			if (strcmp(g->cfg.tunnels[j].name, name) == 0)
				master_stats_add(g, j, sum);
}

void master_sum_rt(const struct master *m, const struct master_rt *r,
			  struct tunnel_stats *sum)
{
	memset(sum, 0, sizeof *sum);
	for (const struct master_gen *g = m->gens; g; g = g->next)
		master_stats_add(g, g->cfg.ntunnels + r->msg.slot, sum);
	sum->accepted += r->base_accepted;
	sum->bytes_up += r->base_bytes_up;
	sum->bytes_down += r->base_bytes_down;
}

/** @brief Connections worker @slot of @g holds now. */
static uint64_t status_worker_conns(const struct master_gen *g, int slot)
{
	uint64_t n = 0;

	for (size_t col = 0; col < g->cfg.ntunnels + RT_MAX; col++)
		n += master_stats(g, slot, col)->active;
	return n;
}

static const char *status_dest(const struct cfg_tunnel *t)
{
	if (t->hc == CFG_HC_RELAY)
		return "(its listeners)";
	if (t->hc == CFG_HC_LISTENER)
		return t->dynamic ? "(the sender's choice)" : t->hc_backend;
	return t->destination ? t->destination :
		t->dynamic ? "(the client's choice)" : t->connect;
}

/* ---- per-identity accounting (accounting = true) ---- */

struct status_acct {
	char name[ACCT_NAME_MAX];
	uint64_t connections, bytes_up, bytes_down;
};

static int status_acct_cmp(const void *a, const void *b)
{
	return strcmp(((const struct status_acct *)a)->name,
		      ((const struct status_acct *)b)->name);
}

/** @brief Tunnel @name's identities, summed over every worker of every
 *  generation, sorted by name: *@out (malloc'd), their count returned;
 *  0 when it keeps no accounting. */
static size_t status_identities(const struct master *m, const char *name,
				struct status_acct **out)
{
	struct status_acct *v = NULL;
	size_t n = 0, cap = 0, k = 0;

	*out = NULL;
	for (const struct master_gen *g = m->gens; g; g = g->next)
		for (size_t j = 0; j < g->cfg.ntunnels; j++) {
			size_t rows = (size_t)g->cfg.tunnels[j].accounting_max_identities + 1;
			if (strcmp(g->cfg.tunnels[j].name, name) != 0)
				continue;
			for (int w = 0; w < g->nslots; w++) {
				const struct acct_entry *e = master_acct_row(g, w, j);
				for (size_t r = 0; e && r < rows; r++) {
					if (!__atomic_load_n(&e[r].used, __ATOMIC_ACQUIRE))
						continue;
					if (n == cap) {
						struct status_acct *nv;
						cap = cap ? 2 * cap : 64;
						if (!(nv = realloc(v, cap * sizeof *v))) {
							free(v);
							return 0;
						}
						v = nv;
					}
					snprintf(v[n].name, sizeof v[n].name, "%s", e[r].name);
					v[n].connections = e[r].connections;
					v[n].bytes_up = e[r].bytes_up;
					v[n].bytes_down = e[r].bytes_down;
					n++;
				}
			}
		}
	if (!n) {
		free(v);
		return 0;
	}
	qsort(v, n, sizeof *v, status_acct_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[k].name) == 0) {
			v[k].connections += v[i].connections;
			v[k].bytes_up += v[i].bytes_up;
			v[k].bytes_down += v[i].bytes_down;
		} else {
			v[++k] = v[i];
		}
	}
	*out = v;
	return k + 1;
}

/* ---- text ---- */

static void status_text_counts(struct control_reply *out,
			       const struct tunnel_stats *s)
{
	int any = 0;

	control_printf(out, "  connections: %llu active, %llu total, %llu refused; bytes: %llu up, %llu down\n",
		       (unsigned long long)s->active,
		       (unsigned long long)s->accepted,
		       (unsigned long long)s->rejected,
		       (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down);
	control_printf(out, "  data path: %llu kernel, %llu userspace",
		       (unsigned long long)s->relayed_ktls,
		       (unsigned long long)s->relayed_user);
	for (int i = 0; i < USER_WHY_N; i++)
		if (s->user_why[i])
			control_printf(out, "%s%s %llu", any++ ? ", " : " (",
				       status_user_why[i],
				       (unsigned long long)s->user_why[i]);
	control_printf(out, "%s\n", any ? ")" : "");
	control_printf(out, "  handshake failures:");
	any = 0;
	for (int i = 0; i < TLS_FAIL_N; i++)
		if (s->hs_fail[i])
			control_printf(out, "%s %s %llu", any++ ? "," : "",
				       tls_fail_name(i),
				       (unsigned long long)s->hs_fail[i]);
	control_printf(out, "%s\n", any ? "" : " none");
	control_printf(out, "  acl denied %llu; password failures %llu, refused while locked out %llu, lockouts %llu\n",
		       (unsigned long long)s->acl_denied,
		       (unsigned long long)s->auth_failed,
		       (unsigned long long)s->auth_locked,
		       (unsigned long long)s->auth_lockouts);
	control_printf(out, "  idle timeouts %llu; refused by max_connections %llu, by max_connections_per_source %llu\n",
		       (unsigned long long)s->idle_closed,
		       (unsigned long long)s->limited,
		       (unsigned long long)s->limited_source);
}

void master_status_text(struct master *m, struct control_reply *out)
{
	const struct master_gen *cur = m->gens;
	struct tunnel_stats s;

	control_printf(out, "ssltunneld %s: generation %d, up %llu s, %d worker%s\n",
		       PACKAGE_VERSION, cur->id,
		       (unsigned long long)((timer_now_ms() - m->started) / 1000),
		       cur->nslots, cur->nslots == 1 ? "" : "s");
	for (const struct master_gen *g = m->gens; g; g = g->next)
		for (int i = 0; i < g->nslots; i++)
			if (g->slots[i].pid)
				control_printf(out, "worker %d: pid %d, generation %d%s, %llu connection%s\n",
					       i + 1, (int)g->slots[i].pid, g->id,
					       g->draining ? " (draining)" : "",
					       (unsigned long long)status_worker_conns(g, i),
					       status_worker_conns(g, i) == 1 ? "" : "s");
	for (size_t i = 0; i < cur->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &cur->cfg.tunnels[i];

		if (!t->listen)
			continue;	/* the console's template */
		master_sum_tunnel(m, t->name, &s);
		control_printf(out, "tunnel %s: %s role, %s, listen %s, %s %s\n",
			       t->name, cfg_role_name(t),
			       t->hc != CFG_HC_NONE ? "relay" :
			       t->transport == CFG_TRANSPORT_WEBSOCKET ? "websocket" : "tls",
			       t->listen, t->destination ? "asking for" : "connect",
			       status_dest(t));
		status_text_counts(out, &s);
		{
			struct status_acct *ids;
			size_t n = status_identities(m, t->name, &ids);
			for (size_t k = 0; k < n; k++)
				control_printf(out, "  identity %s: %llu connections, %llu bytes up, %llu bytes down\n",
					       ids[k].name,
					       (unsigned long long)ids[k].connections,
					       (unsigned long long)ids[k].bytes_up,
					       (unsigned long long)ids[k].bytes_down);
			free(ids);
		}
	}
	for (const struct master_rt *r = m->rts; r; r = r->next) {
		master_sum_rt(m, r, &s);
		control_printf(out, "tunnel %d: runtime, via %s, listen %s, asking for %s\n",
			       r->msg.id, r->msg.via, r->msg.listen, r->msg.dest);
		status_text_counts(out, &s);
	}
}

/* ---- JSON ---- */

/** @brief @v as a JSON string (quotes included). */
static void status_json_str(struct control_reply *out, const char *v)
{
	control_printf(out, "\"");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			control_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			control_printf(out, "\\u%04x", *p);
		else
			control_printf(out, "%c", *p);
	}
	control_printf(out, "\"");
}

static void status_json_counts(struct control_reply *out,
			       const struct tunnel_stats *s)
{
	control_printf(out, "\"active\":%llu,\"connections\":%llu,\"refused\":%llu,"
		       "\"bytes_up\":%llu,\"bytes_down\":%llu,"
		       "\"kernel_path\":%llu,\"userspace_path\":%llu,\"userspace_why\":{",
		       (unsigned long long)s->active,
		       (unsigned long long)s->accepted,
		       (unsigned long long)s->rejected,
		       (unsigned long long)s->bytes_up,
		       (unsigned long long)s->bytes_down,
		       (unsigned long long)s->relayed_ktls,
		       (unsigned long long)s->relayed_user);
	for (int i = 0; i < USER_WHY_N; i++)
		control_printf(out, "%s\"%s\":%llu", i ? "," : "", status_user_why[i],
			       (unsigned long long)s->user_why[i]);
	control_printf(out, "},\"handshake_failures\":{");
	for (int i = 0; i < TLS_FAIL_N; i++)
		control_printf(out, "%s\"%s\":%llu", i ? "," : "", tls_fail_name(i),
			       (unsigned long long)s->hs_fail[i]);
	control_printf(out, "},\"acl_denied\":%llu,\"password_failures\":%llu,"
		       "\"refused_locked_out\":%llu,\"lockouts\":%llu,"
		       "\"idle_timeouts\":%llu,\"limit_refused\":{"
		       "\"max_connections\":%llu,\"max_connections_per_source\":%llu}",
		       (unsigned long long)s->acl_denied,
		       (unsigned long long)s->auth_failed,
		       (unsigned long long)s->auth_locked,
		       (unsigned long long)s->auth_lockouts,
		       (unsigned long long)s->idle_closed,
		       (unsigned long long)s->limited,
		       (unsigned long long)s->limited_source);
}

void master_status_json(struct master *m, struct control_reply *out)
{
	const struct master_gen *cur = m->gens;
	struct tunnel_stats s;
	int first = 1;

	control_printf(out, "{\"version\":");
	status_json_str(out, PACKAGE_VERSION);
	control_printf(out, ",\"generation\":%d,\"uptime_s\":%llu,\"workers\":[",
		       cur->id,
		       (unsigned long long)((timer_now_ms() - m->started) / 1000));
	for (const struct master_gen *g = m->gens; g; g = g->next)
		for (int i = 0; i < g->nslots; i++) {
			if (!g->slots[i].pid)
				continue;
			control_printf(out, "%s{\"worker\":%d,\"pid\":%d,\"generation\":%d,"
				       "\"draining\":%s,\"connections\":%llu}",
				       first ? "" : ",", i + 1, (int)g->slots[i].pid,
				       g->id, g->draining ? "true" : "false",
				       (unsigned long long)status_worker_conns(g, i));
			first = 0;
		}
	control_printf(out, "],\"tunnels\":[");
	first = 1;
	for (size_t i = 0; i < cur->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &cur->cfg.tunnels[i];

		if (!t->listen)
			continue;
		master_sum_tunnel(m, t->name, &s);
		control_printf(out, "%s{\"name\":", first ? "" : ",");
		status_json_str(out, t->name);
		control_printf(out, ",\"role\":\"%s\",\"transport\":\"%s\",\"listen\":",
			       cfg_role_name(t),
			       t->hc != CFG_HC_NONE ? "relay" :
			       t->transport == CFG_TRANSPORT_WEBSOCKET ? "websocket" : "tls");
		status_json_str(out, t->listen);
		control_printf(out, ",\"connect\":");
		status_json_str(out, status_dest(t));
		control_printf(out, ",\"certificate_not_after\":%lld,",
			       cur->tunnels[i].tls.not_after);
		status_json_counts(out, &s);
		if (t->accounting) {
			struct status_acct *ids;
			size_t n = status_identities(m, t->name, &ids);
			control_printf(out, ",\"identities\":[");
			for (size_t k = 0; k < n; k++) {
				control_printf(out, "%s{\"identity\":", k ? "," : "");
				status_json_str(out, ids[k].name);
				control_printf(out, ",\"connections\":%llu,\"bytes_up\":%llu,\"bytes_down\":%llu}",
					       (unsigned long long)ids[k].connections,
					       (unsigned long long)ids[k].bytes_up,
					       (unsigned long long)ids[k].bytes_down);
			}
			control_printf(out, "]");
			free(ids);
		}
		control_printf(out, "}");
		first = 0;
	}
	for (const struct master_rt *r = m->rts; r; r = r->next) {
		master_sum_rt(m, r, &s);
		control_printf(out, "%s{\"name\":\"%d\",\"role\":\"client\",\"runtime\":true,\"via\":",
			       first ? "" : ",", r->msg.id);
		status_json_str(out, r->msg.via);
		control_printf(out, ",\"listen\":");
		status_json_str(out, r->msg.listen);
		control_printf(out, ",\"connect\":");
		status_json_str(out, r->msg.dest);
		control_printf(out, ",");
		status_json_counts(out, &s);
		control_printf(out, "}");
		first = 0;
	}
	control_printf(out, "]}\n");
}

/* ---- Prometheus (metrics.c serves it on daemon.metrics_listen) ---- */

/* One counter of struct tunnel_stats as a sample. */
#define STATUS_U64(b, name, v, ...) \
	metrics_u64(b, name, (uint64_t)(v), __VA_ARGS__, NULL)

/** @brief The samples of one family for every tunnel: @what picks the
 *  figure (and its labels) from each tunnel's sums. */
struct status_row {
	const char *name;		/* the tunnel's */
	struct tunnel_stats s;
	long long not_after;		/* its certificate's; 0 none */
};

static void status_rows_free(struct status_row *rows)
{
	free(rows);
}

/** @brief Every tunnel's sums, configured then runtime; *@n rows. */
static struct status_row *status_rows(const struct master *m, size_t *n,
				      char (*ids)[16])
{
	const struct master_gen *cur = m->gens;
	size_t nrt = 0, k = 0;
	struct status_row *rows;

	for (const struct master_rt *r = m->rts; r; r = r->next)
		nrt++;
	rows = calloc(cur->cfg.ntunnels + nrt + 1, sizeof *rows);
	if (!rows)
		return NULL;
	for (size_t i = 0; i < cur->cfg.ntunnels; i++) {
		if (!cur->cfg.tunnels[i].listen)
			continue;
		rows[k].name = cur->cfg.tunnels[i].name;
		rows[k].not_after = cur->tunnels[i].tls.not_after;
		master_sum_tunnel(m, rows[k].name, &rows[k].s);
		k++;
	}
	for (const struct master_rt *r = m->rts; r; r = r->next) {
		snprintf(ids[r->msg.slot], 16, "%d", r->msg.id);
		rows[k].name = ids[r->msg.slot];
		master_sum_rt(m, r, &rows[k].s);
		k++;
	}
	*n = k;
	return rows;
}

void master_metrics(void *arg, struct metrics_buf *b)
{
	struct master *m = arg;
	static char ids[RT_MAX][16];
	struct status_row *rows;
	size_t n = 0;
	int workers = 0;
	time_t now = time(NULL);

	rows = status_rows(m, &n, ids);
	if (!rows) {
		snprintf(b->error, sizeof b->error, "out of memory");
		return;
	}
	metrics_family(b, "ssltunnel_connections_total", "counter",
		       "Connections by how they ended up: accepted, refused (handshake, login, acl, PROXY header).");
	for (size_t i = 0; i < n; i++) {
		STATUS_U64(b, "ssltunnel_connections_total", rows[i].s.accepted,
			   "tunnel", rows[i].name, "result", "accepted");
		STATUS_U64(b, "ssltunnel_connections_total", rows[i].s.rejected,
			   "tunnel", rows[i].name, "result", "refused");
	}
	metrics_family(b, "ssltunnel_connections_active", "gauge",
		       "Connections open now.");
	for (size_t i = 0; i < n; i++)
		STATUS_U64(b, "ssltunnel_connections_active", rows[i].s.active,
			   "tunnel", rows[i].name);
	metrics_family(b, "ssltunnel_bytes_total", "counter",
		       "Bytes relayed: up is from the plain side to the TLS side, down the other way.");
	for (size_t i = 0; i < n; i++) {
		STATUS_U64(b, "ssltunnel_bytes_total", rows[i].s.bytes_up,
			   "tunnel", rows[i].name, "direction", "up");
		STATUS_U64(b, "ssltunnel_bytes_total", rows[i].s.bytes_down,
			   "tunnel", rows[i].name, "direction", "down");
	}
	metrics_family(b, "ssltunnel_data_path_total", "counter",
		       "Connections by data path: kernel (kTLS and splice) or userspace, with why.");
	for (size_t i = 0; i < n; i++) {
		STATUS_U64(b, "ssltunnel_data_path_total", rows[i].s.relayed_ktls,
			   "tunnel", rows[i].name, "path", "kernel", "why", "ktls");
		for (int k = 0; k < USER_WHY_N; k++)
			STATUS_U64(b, "ssltunnel_data_path_total", rows[i].s.user_why[k],
				   "tunnel", rows[i].name, "path", "userspace",
				   "why", status_user_why[k]);
	}
	metrics_family(b, "ssltunnel_handshake_failures_total", "counter",
		       "TLS handshakes refused or failed, by reason.");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < TLS_FAIL_N; k++)
			STATUS_U64(b, "ssltunnel_handshake_failures_total",
				   rows[i].s.hs_fail[k], "tunnel", rows[i].name,
				   "reason", tls_fail_name(k));
	metrics_family(b, "ssltunnel_handshakes_resumed_total", "counter",
		       "TLS handshakes that resumed a session (a ticket, no certificate signature).");
	for (size_t i = 0; i < n; i++)
		STATUS_U64(b, "ssltunnel_handshakes_resumed_total", rows[i].s.resumed,
			   "tunnel", rows[i].name);
	metrics_family(b, "ssltunnel_acl_denied_total", "counter",
		       "Destinations the access list refused.");
	for (size_t i = 0; i < n; i++)
		STATUS_U64(b, "ssltunnel_acl_denied_total", rows[i].s.acl_denied,
			   "tunnel", rows[i].name);
	metrics_family(b, "ssltunnel_login_failures_total", "counter",
		       "Password logins refused: wrong password or unknown user, or the source locked out.");
	for (size_t i = 0; i < n; i++) {
		STATUS_U64(b, "ssltunnel_login_failures_total", rows[i].s.auth_failed,
			   "tunnel", rows[i].name, "reason", "invalid");
		STATUS_U64(b, "ssltunnel_login_failures_total", rows[i].s.auth_locked,
			   "tunnel", rows[i].name, "reason", "locked_out");
	}
	metrics_family(b, "ssltunnel_lockouts_total", "counter",
		       "Sources locked out after failed logins.");
	for (size_t i = 0; i < n; i++)
		STATUS_U64(b, "ssltunnel_lockouts_total", rows[i].s.auth_lockouts,
			   "tunnel", rows[i].name);
	metrics_family(b, "ssltunnel_limit_refused_total", "counter",
		       "Connections closed as they were accepted: max_connections or max_connections_per_source reached.");
	for (size_t i = 0; i < n; i++) {
		STATUS_U64(b, "ssltunnel_limit_refused_total", rows[i].s.limited,
			   "tunnel", rows[i].name, "limit", "max_connections");
		STATUS_U64(b, "ssltunnel_limit_refused_total", rows[i].s.limited_source,
			   "tunnel", rows[i].name, "limit", "max_connections_per_source");
	}
	metrics_family(b, "ssltunnel_idle_timeouts_total", "counter",
		       "Connections closed by idle_timeout.");
	for (size_t i = 0; i < n; i++)
		STATUS_U64(b, "ssltunnel_idle_timeouts_total", rows[i].s.idle_closed,
			   "tunnel", rows[i].name);
	metrics_family(b, "ssltunnel_certificate_expiry_seconds", "gauge",
		       "Seconds until the tunnel's own certificate expires (negative: expired).");
	for (size_t i = 0; i < n; i++)
		if (rows[i].not_after)
			metrics_double(b, "ssltunnel_certificate_expiry_seconds",
				       (double)(rows[i].not_after - (long long)now),
				       "tunnel", rows[i].name, NULL);
	metrics_family(b, "ssltunnel_identity_connections_total", "counter",
		       "Connections per identity (CN, user) on tunnels with accounting = true; past accounting_max_identities, identity=\"other\".");
	for (size_t i = 0; i < m->gens->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &m->gens->cfg.tunnels[i];
		struct status_acct *who;
		size_t nwho = t->accounting ? status_identities(m, t->name, &who) : 0;
		for (size_t k = 0; k < nwho; k++)
			metrics_u64(b, "ssltunnel_identity_connections_total",
				    who[k].connections, "tunnel", t->name,
				    "identity", who[k].name, NULL);
		if (nwho)
			free(who);
	}
	metrics_family(b, "ssltunnel_identity_bytes_total", "counter",
		       "Bytes per identity and direction on tunnels with accounting = true.");
	for (size_t i = 0; i < m->gens->cfg.ntunnels; i++) {
		const struct cfg_tunnel *t = &m->gens->cfg.tunnels[i];
		struct status_acct *who;
		size_t nwho = t->accounting ? status_identities(m, t->name, &who) : 0;
		for (size_t k = 0; k < nwho; k++) {
			metrics_u64(b, "ssltunnel_identity_bytes_total", who[k].bytes_up,
				    "tunnel", t->name, "identity", who[k].name,
				    "direction", "up", NULL);
			metrics_u64(b, "ssltunnel_identity_bytes_total", who[k].bytes_down,
				    "tunnel", t->name, "identity", who[k].name,
				    "direction", "down", NULL);
		}
		if (nwho)
			free(who);
	}
	for (const struct master_gen *g = m->gens; g; g = g->next)
		for (int i = 0; i < g->nslots; i++)
			workers += g->slots[i].pid != 0;
	metrics_family(b, "ssltunnel_workers", "gauge", "Worker processes running.");
	metrics_u64(b, "ssltunnel_workers", (uint64_t)workers, NULL);
	metrics_family(b, "ssltunnel_generation", "gauge",
		       "The configuration generation running (1, then one more per reload).");
	metrics_u64(b, "ssltunnel_generation", (uint64_t)m->gens->id, NULL);
	metrics_family(b, "ssltunnel_uptime_seconds", "gauge",
		       "Seconds since the daemon started.");
	metrics_u64(b, "ssltunnel_uptime_seconds",
		    (timer_now_ms() - m->started) / 1000, NULL);
	status_rows_free(rows);
}
