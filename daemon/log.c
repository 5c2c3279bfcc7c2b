/* log.c - levelled logging to stderr or syslog */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *const log_names[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static int log_max = LOG_NOTICE;
static enum log_target log_to = LOG_TARGET_STDERR;

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

void log_setup(int level, enum log_target target)
{
	if (log_to == LOG_TARGET_SYSLOG && target != LOG_TARGET_SYSLOG)
		closelog();
	if (target == LOG_TARGET_SYSLOG && log_to != LOG_TARGET_SYSLOG)
		openlog("ssltunneld", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_max = level;
	log_to = target;
}

int log_enabled(int level)
{
	return level <= log_max;
}

/** @brief One write() per line so lines from workers never interleave. */
static void log_write_stderr(int level, const char *line)
{
	char out[1200];
	int n = snprintf(out, sizeof out, "ssltunneld[%d]: %s: %s\n",
			 (int)getpid(), log_level_name(level), line);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = sizeof out - 1;
		out[n - 1] = '\n';
	}
	while (write(STDERR_FILENO, out, n) < 0 && errno == EINTR)
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
		log_write_stderr(level, line);
	errno = saved;
}
