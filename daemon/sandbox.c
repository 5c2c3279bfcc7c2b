/* sandbox.c - a worker's seccomp filter: the system calls its data path
 * needs, and a log line naming any other before it dies
 *
 * A worker is confined once it is set up: privileges dropped, listeners,
 * keys, the resolver, the password verifier threads and the log all
 * open. What is left is an epoll loop moving bytes between sockets, so
 * the list below is short and no call on it opens a file for reading,
 * starts a process or thread, or changes credentials.
 *
 * Any other call raises SIGSYS (SCMP_ACT_TRAP rather than
 * SCMP_ACT_KILL_PROCESS): the handler writes the call's name to the log,
 * which a kill would leave to the kernel's audit log that operators
 * rarely read, then ends the process with SANDBOX_EXIT_STATUS; the
 * master logs that and starts another worker. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1		/* si_code of a filter's SIGSYS (asm/siginfo.h) */
#endif

/* Names by number for the SIGSYS handler, which may not allocate:
 * resolved before the filter is loaded. Numbers above go unnamed. */
#define SANDBOX_NAMES 1024
static char *sandbox_names[SANDBOX_NAMES];

/* One allowed call, with up to two conditions on its arguments; only for
 * a worker that has what @needs says (SANDBOX_*), when not 0. */
struct sandbox_rule {
	const char *name;
	unsigned nargs;
	struct scmp_arg_cmp arg[2];
	unsigned needs;
};

#define ANY(n) { n, 0, { { 0 } }, 0 }
#define IF1(n, a) { n, 1, { a }, 0 }
#define FOR(what, n) { n, 0, { { 0 } }, what }
#define FOR1(what, n, a) { n, 1, { a }, what }

static const struct sandbox_rule sandbox_rules[] = {
	/* The event loop, its signalfd, the verifiers' eventfd, the log. */
	ANY("epoll_wait"), ANY("epoll_pwait"), ANY("epoll_ctl"),
	ANY("read"), ANY("write"), ANY("readv"), ANY("writev"),
	ANY("close"),
	/* Both legs of a connection, DNS (c-ares), syslog(3) reconnecting,
	 * the relay's socketpairs and descriptors passed between workers.
	 * New sockets only of the families the daemon speaks. */
	ANY("accept4"), ANY("connect"), ANY("shutdown"),
	IF1("socket", SCMP_A0_32(SCMP_CMP_EQ, AF_INET)),
	IF1("socket", SCMP_A0_32(SCMP_CMP_EQ, AF_INET6)),
	IF1("socket", SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)),
	IF1("socketpair", SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)),
	ANY("setsockopt"), ANY("getsockopt"),	/* options, kTLS keys */
	ANY("getsockname"), ANY("getpeername"),
	ANY("sendto"), ANY("recvfrom"), ANY("sendmsg"), ANY("recvmsg"),
	/* The kernel path: socket -> pipe -> socket. */
	ANY("splice"), ANY("pipe2"),
	ANY("fcntl"),			/* O_NONBLOCK on c-ares' sockets */
	/* Time and randomness (GnuTLS); the vDSO answers most clock reads,
	 * but not on every clock source. */
	ANY("clock_gettime"), ANY("gettimeofday"), ANY("getrandom"),
	/* malloc, and GnuTLS's and the threads' arenas; never memory made
	 * executable (nothing is loaded after start: no need). */
	ANY("brk"), ANY("munmap"), ANY("mremap"), ANY("madvise"),
	IF1("mmap", SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	IF1("mprotect", SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	/* The password verifier threads' locks; they are all started and
	 * waiting (auth_pool_start), so none of thread creation is here. */
	ANY("futex"), ANY("sched_yield"),
	ANY("gettid"),			/* the verification cap's slots */
	/* Signals: handlers return, restarted calls, abort(3). */
	ANY("rt_sigreturn"), ANY("restart_syscall"), ANY("rt_sigprocmask"),
	ANY("getpid"),
	/* Set to this process below: abort(3) raising SIGABRT. */
	IF1("tgkill", SCMP_A0_32(SCMP_CMP_EQ, 0)),
	/* SIGUSR1 reopens the log file: for appending only. */
	IF1("openat", SCMP_A2_32(SCMP_CMP_MASKED_EQ,
				 O_ACCMODE | O_CREAT | O_APPEND | O_TRUNC,
				 O_WRONLY | O_CREAT | O_APPEND)),
	ANY("dup2"), ANY("dup3"),
	/* c-ares reads /etc/hosts at every lookup (ares_getaddrinfo): a
	 * worker with a resolver may open files, for reading only. */
	FOR1(SANDBOX_RESOLVER, "openat",
	     SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
			O_RDONLY)),
	FOR(SANDBOX_RESOLVER, "fstat"), FOR(SANDBOX_RESOLVER, "newfstatat"),
	FOR(SANDBOX_RESOLVER, "lseek"),
	ANY("exit"), ANY("exit_group"),
};

/** @brief The SIGSYS of a call outside the filter: say which, then go. */
static void sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[200] = "seccomp: system call ", num[16];
	const char *name = NULL;
	int nr = si->si_syscall, n = 0;
	unsigned v = nr < 0 ? 0 : (unsigned)nr;
	size_t len;

	if (si->si_code != SYS_SECCOMP) {
		log_signal_line("seccomp: a SIGSYS sent by another process; the worker exits");
		_exit(SANDBOX_EXIT_STATUS);
	}
	if (nr >= 0 && nr < SANDBOX_NAMES)
		name = sandbox_names[nr];
	do {
		num[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof num);
	len = strlen(line);
	if (name) {
		for (; *name && len < sizeof line - 80; name++)
			line[len++] = *name;
		line[len++] = ' ';
	}
	line[len++] = '(';
	while (n)
		line[len++] = num[--n];
	line[len] = '\0';
	strcat(line, ") is not allowed in a worker; it exits");
	log_signal_line(line);
	_exit(SANDBOX_EXIT_STATUS);
}

/** @brief Name every system call number now, for the handler. */
static void sandbox_name_calls(void)
{
	for (int nr = 0; nr < SANDBOX_NAMES; nr++)
		if (!sandbox_names[nr])
			sandbox_names[nr] =
				seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

int sandbox_probe(char *why, size_t whylen)
{
#ifdef SSLTUNNEL_SANITIZERS
	/* LeakSanitizer's exit check needs clone and ptrace. */
	snprintf(why, whylen, "this build has sanitizers");
	return -1;
#else
	/* Level 2: the seccomp(2) call and thread sync (Linux 3.17). */
	if (seccomp_api_get() < 2) {
		snprintf(why, whylen,
			 "the kernel has no seccomp filters (seccomp(2) with TSYNC)");
		return 0;
	}
	return 1;
#endif
}

/** @brief The rules into @ctx; -1 with @err naming the one refused. */
static int sandbox_add_rules(scmp_filter_ctx ctx, unsigned has, char *err,
			     size_t errlen)
{
	for (size_t i = 0; i < sizeof sandbox_rules / sizeof *sandbox_rules; i++) {
		const struct sandbox_rule *r = &sandbox_rules[i];
		int nr = seccomp_syscall_resolve_name(r->name), rc;
		struct scmp_arg_cmp arg[2];

		/* Not a call of this architecture (epoll_wait, dup2 on arm64):
		 * the library wraps it in another that is listed. */
		if (nr == __NR_SCMP_ERROR || (r->needs & ~has))
			continue;
		memcpy(arg, r->arg, sizeof arg);
		if (strcmp(r->name, "tgkill") == 0)
			arg[0].datum_a = (scmp_datum_t)getpid();
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, r->nargs,
					    arg);
		/* A pseudo number: known to the library, absent here. */
		if (rc == -EDOM && nr < 0)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "seccomp: allowing %s: %s",
				 r->name, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int sandbox_enter(unsigned has, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = sandbox_sigsys,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		snprintf(err, errlen, "seccomp: out of memory");
		return -1;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1) < 0) {
		snprintf(err, errlen, "seccomp: this libseccomp cannot sync threads");
		goto err;
	}
	if (sandbox_add_rules(ctx, has, err, errlen) < 0)
		goto err;
	sandbox_name_calls();
	/* strftime(3) (log file time stamps) calls tzset(3), which reads
	 * /etc/localtime the first time: make that now. */
	tzset();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, errlen, "seccomp: SIGSYS handler: %s", strerror(errno));
		goto err;
	}
	rc = seccomp_load(ctx);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp: loading the filter: %s",
			 strerror(-rc));
		goto err;
	}
	seccomp_release(ctx);
	return 0;
err:
	seccomp_release(ctx);
	return -1;
}
