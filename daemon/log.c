/* log.c - levelled logging to stderr or syslog */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const log_names[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static int log_max = LOG_NOTICE;
static enum log_target log_to = LOG_TARGET_STDERR;
static int log_fd = STDERR_FILENO;	/* stderr or the log file */
static char log_path[4096];

int log_level_parse(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < LOG_ERR || level > LOG_DEBUG)
		return "?";
	return log_names[level];
}

static int log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_setup(int level, enum log_target target, const char *file)
{
	int fd = STDERR_FILENO;

	if (target == LOG_TARGET_FILE && (fd = log_open_file(file)) < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	if (target == LOG_TARGET_FILE)
		snprintf(log_path, sizeof log_path, "%s", file);
	if (log_to == LOG_TARGET_SYSLOG && target != LOG_TARGET_SYSLOG)
		closelog();
	if (target == LOG_TARGET_SYSLOG && log_to != LOG_TARGET_SYSLOG)
		openlog("ssltunneld", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_max = level;
	log_to = target;
	return 0;
}

int log_reopen(void)
{
	int fd;

	if (log_to != LOG_TARGET_FILE)
		return 0;
	fd = log_open_file(log_path);
	if (fd < 0)
		return -1;
	dup2(fd, log_fd);
	close(fd);
	return 0;
}

int log_enabled(int level)
{
	return level <= log_max;
}

/** @brief One write() per line so lines from workers never interleave. */
static void log_write_fd(int level, const char *line)
{
	char out[1200], stamp[40] = "";
	int n;

	if (log_to == LOG_TARGET_FILE) {
		/* A file has no journal to add the time: say it ourselves. */
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(out, sizeof out, "%sssltunneld[%d]: %s: %s\n", stamp,
		     (int)getpid(), log_level_name(level), line);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = sizeof out - 1;
		out[n - 1] = '\n';
	}
	while (write(log_fd, out, n) < 0 && errno == EINTR)
		;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (log_to == LOG_TARGET_SYSLOG)
		syslog(level, "%s", line);
	else
		log_write_fd(level, line);
	errno = saved;
}
