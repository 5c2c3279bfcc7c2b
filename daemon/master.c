/* master.c - the master process: listeners, workers, signals
 *
 * The master reads the config, loads every credential, opens every
 * listener and forks the workers as its direct children. It never
 * touches a connection. It re-forks a worker that dies, backing off when
 * workers die young so a crash loop cannot spin.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktls.h"
#include "log.h"
#include "master.h"
#include "timer.h"
#include "worker.h"

#define MASTER_STOP_GRACE_MS 5000
#define MASTER_YOUNG_MS 2000		/* a worker dying sooner is a crash loop */
#define MASTER_BACKOFF_MAX_MS 30000

struct master_slot {
	pid_t pid;			/* 0: not running */
	uint64_t started;
	uint64_t respawn_at;
	int backoff_ms;
};

int master_load_tunnels(const struct cfg *cfg, struct tunnel **out,
			char *err, size_t errlen)
{
	struct tunnel *t = calloc(cfg->ntunnels, sizeof *t);

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->ntunnels; i++) {
		t[i].cfg = &cfg->tunnels[i];
		if (tls_ctx_init(&t[i].tls, t[i].cfg, err, errlen) < 0) {
			master_free_tunnels(t, i);
			return -1;
		}
	}
	*out = t;
	return 0;
}

void master_free_tunnels(struct tunnel *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tls_ctx_free(&t[i].tls);
		for (int j = 0; j < t[i].nlisteners; j++)
			close(t[i].listeners[j].fd);
	}
	free(t);
}

/** @brief Open every listener; on failure @err says which and why. */
static int master_listen(const struct cfg *cfg, struct tunnel *tunnels,
			 char *err, size_t errlen)
{
	char e[200];

	for (size_t i = 0; i < cfg->ntunnels; i++) {
		struct tunnel *t = &tunnels[i];
		const struct net_endpoint *ep = &t->cfg->listen_ep;
		for (int j = 0; j < ep->naddrs; j++) {
			int fd = net_listen(&ep->addrs[j], e, sizeof e);
			if (fd < 0) {
				snprintf(err, errlen, "tunnel %s: %s", t->cfg->name, e);
				return -1;
			}
			t->listeners[j] = (struct listener){ EV_LISTENER, fd, t };
			t->nlisteners++;
		}
		log_notice("tunnel %s: %s role, listening on %s, forwarding to %s",
			   t->cfg->name,
			   t->cfg->role == CFG_ROLE_SERVER ? "server" : "client",
			   t->cfg->listen, t->cfg->connect);
	}
	return 0;
}

static int master_write_pid(const char *path)
{
	char buf[32];
	int fd, n;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("pid_file %s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, n) != n) {
		log_err("pid_file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/** @brief Detach from the terminal; the starting process exits 0 only
 *  once the daemon is running with its pid file written. */
static int master_detach(const struct cfg *cfg)
{
	int p[2], devnull;
	char ok;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (cfg->log_target != LOG_TARGET_STDERR)
			dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	if (master_write_pid(cfg->pid_file) < 0)
		return -1;
	ok = 1;
	if (write(p[1], &ok, 1) != 1)
		return -1;
	close(p[1]);
	return 0;
}

static pid_t master_spawn(struct tunnel *tunnels, size_t n, int id,
			  const sigset_t *blocked, int sfd,
			  const struct worker_ktls *ktls)
{
	pid_t master = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* The worker dies with its master: no orphan keeps serving. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	close(sfd);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(blocked, s))
			signal(s, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, blocked, NULL);
	worker_run(tunnels, n, id, ktls);
	_exit(0);
}

static void master_reaped(struct master_slot *slots, int nslots, pid_t pid,
			  int status, int stopping)
{
	uint64_t now = timer_now_ms();

	for (int i = 0; i < nslots; i++) {
		struct master_slot *s = &slots[i];
		if (s->pid != pid)
			continue;
		s->pid = 0;
		if (stopping)
			return;
		if (now - s->started < MASTER_YOUNG_MS)
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 500;
		else
			s->backoff_ms = 0;
		if (s->backoff_ms > MASTER_BACKOFF_MAX_MS)
			s->backoff_ms = MASTER_BACKOFF_MAX_MS;
		s->respawn_at = now + s->backoff_ms;
		if (WIFSIGNALED(status))
			log_warn("worker %d (pid %d) was killed by signal %d; starting another%s",
				 i + 1, (int)pid, WTERMSIG(status),
				 s->backoff_ms ? " after a pause" : "");
		else
			log_warn("worker %d (pid %d) exited with status %d; starting another%s",
				 i + 1, (int)pid, WEXITSTATUS(status),
				 s->backoff_ms ? " after a pause" : "");
		return;
	}
}

static int master_running(const struct master_slot *slots, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += slots[i].pid != 0;
	return k;
}

static void master_signal_all(const struct master_slot *slots, int n, int sig)
{
	for (int i = 0; i < n; i++)
		if (slots[i].pid)
			kill(slots[i].pid, sig);
}

static void master_reap_all(struct master_slot *slots, int n, int stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_reaped(slots, n, pid, status, stopping);
}

/** @brief Stop the workers: TERM, a grace period, then KILL. */
static void master_stop(struct master_slot *slots, int n, int sfd, int sig)
{
	uint64_t deadline = timer_now_ms() + MASTER_STOP_GRACE_MS;

	master_signal_all(slots, n, sig);
	while (master_running(slots, n)) {
		struct signalfd_siginfo si;
		struct pollfd pfd = { sfd, POLLIN, 0 };
		uint64_t now = timer_now_ms();
		if (now >= deadline) {
			master_signal_all(slots, n, SIGKILL);
			deadline = now + MASTER_STOP_GRACE_MS;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			while (read(sfd, &si, sizeof si) == sizeof si)
				;
		master_reap_all(slots, n, 1);
	}
}

/** @brief A reason not to start, to the log and to whoever started us. */
static void master_fail(const struct cfg *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void master_fail(const struct cfg *cfg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cfg->log_target != LOG_TARGET_STDERR)
		log_err("%s", msg);
	fprintf(stderr, "ssltunneld: %s\n", msg);
}

/** @brief Decide once which data path is on offer, and say so. */
static int master_ktls_policy(struct worker_ktls *k)
{
	if (k->mode == CFG_KTLS_OFF) {
		snprintf(k->why, sizeof k->why, "ktls = \"off\"");
		log_notice("data path: userspace TLS (ktls = \"off\")");
		return 0;
	}
	k->available = ktls_probe(k->why, sizeof k->why);
	if (k->available) {
		log_notice("data path: kernel TLS with splice (ktls = \"%s\")",
			   k->mode == CFG_KTLS_ON ? "on" : "auto");
		return 0;
	}
	if (k->mode == CFG_KTLS_ON)
		return -1;
	log_notice("data path: userspace TLS; kernel TLS unavailable: %s", k->why);
	return 0;
}

/** @brief Every connection holds two sockets (and, on the kernel path,
 *  two pipes): take the whole file-descriptor allowance. */
static void master_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int master_run(const struct cfg *cfg, struct tunnel *tunnels, int detach,
	       void (*on_listening)(const struct cfg *cfg))
{
	struct master_slot *slots;
	sigset_t blocked;
	int sfd, n = cfg->workers, rc = 0;
	char err[256];
	struct worker_ktls ktls = { .mode = cfg->ktls };

	if (master_ktls_policy(&ktls) < 0) {
		master_fail(cfg, "daemon.ktls = \"on\" but %s", ktls.why);
		return 1;
	}
	master_raise_nofile();

	if (master_listen(cfg, tunnels, err, sizeof err) < 0) {
		master_fail(cfg, "%s", err);
		return 1;
	}
	if (on_listening)
		on_listening(cfg);
	if (detach ? master_detach(cfg) < 0 : master_write_pid(cfg->pid_file) < 0) {
		log_err("cannot start: %s", strerror(errno));
		return 1;
	}
	slots = calloc(n, sizeof *slots);
	if (!slots)
		return 1;
	sigemptyset(&blocked);
	for (int s = 0, sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP,
				   SIGUSR1, SIGUSR2, 0 }; sigs[s]; s++)
		sigaddset(&blocked, sigs[s]);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	sfd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		free(slots);
		return 1;
	}
	for (;;) {
		uint64_t now = timer_now_ms(), next = UINT64_MAX;
		struct signalfd_siginfo si;
		struct pollfd pfd = { sfd, POLLIN, 0 };
		int stop = 0;

		for (int i = 0; i < n; i++) {
			struct master_slot *s = &slots[i];
			if (s->pid)
				continue;
			if (s->respawn_at > now) {
				if (s->respawn_at < next)
					next = s->respawn_at;
				continue;
			}
			s->pid = master_spawn(tunnels, cfg->ntunnels, i + 1,
					      &blocked, sfd, &ktls);
			s->started = now;
			if (s->pid < 0) {
				log_err("fork: %s", strerror(errno));
				s->pid = 0;
				s->respawn_at = now + 1000;
				next = s->respawn_at;
			}
		}
		poll(&pfd, 1, next == UINT64_MAX ? -1 : (int)(next - now));
		while (read(sfd, &si, sizeof si) == sizeof si) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
			case SIGQUIT:
				stop = si.ssi_signo;
				break;
			case SIGHUP:
				log_notice("SIGHUP: reloading is not supported yet; nothing changed");
				break;
			default:
				break;
			}
		}
		master_reap_all(slots, n, 0);
		if (stop) {
			log_notice("%s: stopping", strsignal(stop));
			master_stop(slots, n, sfd,
				    stop == SIGQUIT ? SIGKILL : SIGTERM);
			break;
		}
	}
	if (cfg->pid_file)
		unlink(cfg->pid_file);
	close(sfd);
	free(slots);
	return rc;
}
