/* test_sandbox.c - the worker's seccomp filter: what it lets through, and
 * that any other call is logged by name and ends the process */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "unit.h"

/** @brief Is the filter loadable here? If not, say why (the test passes:
 *  a sanitizer build or a kernel without seccomp has nothing to test). */
static int sandbox_here(void)
{
	char why[160];

	if (sandbox_probe(why, sizeof why) == 1)
		return 1;
	fprintf(stderr, "test_sandbox: skipped: %s\n", why);
	return 0;
}

/** @brief Fork; the child logs to @log, confines itself with @has, runs
 *  @fn and exits with what it returns. The child's wait status. */
static int confined(const char *log, unsigned has, int (*fn)(void))
{
	char err[256];
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (log_setup(LOG_DEBUG, LOG_TARGET_FILE, log) < 0)
			_exit(90);
		if (sandbox_enter(has, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(91);
		}
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/** @brief The log file's text, malloc'd (kept). */
static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

/** @brief What a worker does after it is confined. */
static int data_path(void)
{
	int p[2], s;
	char r[16], *big;

	for (int i = 0; i < 3; i++) {
		static const int fam[] = { AF_INET, AF_INET6, AF_UNIX };
		s = socket(fam[i], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s < 0 && errno != EAFNOSUPPORT)
			return 10 + i;
		if (s >= 0)
			close(s);
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return 20;
	close(p[0]);
	close(p[1]);
	if (getrandom(r, sizeof r, 0) != sizeof r)
		return 21;
	big = malloc(8 << 20);		/* mmap */
	if (!big)
		return 22;
	memset(big, 1, 8 << 20);
	free(big);
	log_notice("still here");
	if (log_reopen() < 0)		/* SIGUSR1: openat for appending */
		return 23;
	log_notice("reopened");
	return 0;
}

/** @brief A read-only open, as c-ares does for /etc/hosts. */
static int read_hosts(void)
{
	int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno != ENOENT)
		return 30;
	if (fd >= 0)
		close(fd);
	return 0;
}

static int do_ptrace(void)
{
	return (int)syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL) == 0;
}

static int do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return 1;
}

static int do_execve(void)
{
	char *argv[] = { "/bin/true", NULL };

	execve("/bin/true", argv, argv + 1);
	return 1;
}

static int do_netlink(void)
{
	return socket(AF_NETLINK, SOCK_RAW, 0) >= 0;
}

static int do_exec_memory(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED;
}

static int do_setuid(void)
{
	return setuid(0) == 0;
}

START_TEST(test_allowed)
{
	char *log = unit_keep(strdup(unit_write("allowed.log", "")));
	int status;

	if (!sandbox_here())
		return;
	status = confined(log, 0, data_path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the data path's calls: status %#x, log: %s", status,
		      slurp(log));
	ck_assert_ptr_nonnull(strstr(slurp(log), "notice: reopened"));
	status = confined(log, SANDBOX_RESOLVER, read_hosts);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "a resolver's read-only open: status %#x, log: %s",
		      status, slurp(log));
}
END_TEST

static const struct {
	const char *what, *call;
	unsigned has;
	int (*fn)(void);
} forbidden[] = {
	{ "ptrace", "ptrace", 0, do_ptrace },
	{ "fork", "clone", 0, do_fork },
	{ "execve", "execve", 0, do_execve },
	{ "a netlink socket", "socket", 0, do_netlink },
	{ "setuid", "setuid", 0, do_setuid },
	{ "executable memory", "mmap", 0, do_exec_memory },
	{ "a read-only open without a resolver", "openat", 0, read_hosts },
};

START_TEST(test_forbidden)
{
	char name[64], want[128], *log;
	int status;

	if (!sandbox_here())
		return;
	snprintf(name, sizeof name, "forbidden%d.log", _i);
	log = unit_keep(strdup(unit_write(name, "")));
	status = confined(log, forbidden[_i].has, forbidden[_i].fn);
	ck_assert_msg(WIFEXITED(status) &&
		      WEXITSTATUS(status) == SANDBOX_EXIT_STATUS,
		      "%s: status %#x, log: %s", forbidden[_i].what, status,
		      slurp(log));
	snprintf(want, sizeof want, "error: seccomp: system call %s (",
		 forbidden[_i].call);
	ck_assert_msg(strstr(slurp(log), want), "%s: no \"%s\" in the log: %s",
		      forbidden[_i].what, want, slurp(log));
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("filter");

	tcase_add_test(tc, test_allowed);
	tcase_add_loop_test(tc, test_forbidden, 0,
			    sizeof forbidden / sizeof *forbidden);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(sandbox_suite());
}
