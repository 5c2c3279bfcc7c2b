/* log.c - levelled logging to stderr or syslog */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
static int log_emerg_fd = -1;	/* syslog: our own socket to /dev/log */

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

/** @brief With syslog as the target, a socket of our own to /dev/log for
 *  log_signal_line, which may not call syslog(3). Opened now, before a
 *  chroot can hide /dev/log; without it those lines go to stderr. */
static void log_emergency_open(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	if (log_emerg_fd >= 0)
		return;
	log_emerg_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_emerg_fd >= 0 &&
	    connect(log_emerg_fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(log_emerg_fd);
		log_emerg_fd = -1;
	}
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
	if (target == LOG_TARGET_SYSLOG) {
		log_emergency_open();
	} else if (log_emerg_fd >= 0) {
		close(log_emerg_fd);
		log_emerg_fd = -1;
	}
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

/** @brief Append @s at @p, within @end; async-signal-safe. */
static char *log_put(char *p, const char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

/** @brief Append @v in decimal, at least @width digits; likewise. */
static char *log_put_uint(char *p, const char *end, unsigned long v,
			  int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof d);
	while (n < width && n < (int)sizeof d)
		d[n++] = '0';
	while (n && p < end)
		*p++ = d[--n];
	return p;
}

/** @brief "YYYY-MM-DDTHH:MM:SSZ " for the log file, without gmtime_r or
 *  strftime (not async-signal-safe): days to a civil date as in Howard
 *  Hinnant's days_from_civil, inverted. */
static char *log_put_stamp(char *p, const char *end)
{
	struct timespec ts;
	long days, sod, z, era, doe, yoe, doy, mp, y, m, d;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || ts.tv_sec < 0)
		return p;
	days = ts.tv_sec / 86400;
	sod = ts.tv_sec % 86400;
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	p = log_put_uint(p, end, (unsigned long)y, 4);
	p = log_put(p, end, "-");
	p = log_put_uint(p, end, (unsigned long)m, 2);
	p = log_put(p, end, "-");
	p = log_put_uint(p, end, (unsigned long)d, 2);
	p = log_put(p, end, "T");
	p = log_put_uint(p, end, (unsigned long)(sod / 3600), 2);
	p = log_put(p, end, ":");
	p = log_put_uint(p, end, (unsigned long)(sod / 60 % 60), 2);
	p = log_put(p, end, ":");
	p = log_put_uint(p, end, (unsigned long)(sod % 60), 2);
	return log_put(p, end, "Z ");
}

void log_signal_line(const char *text)
{
	char out[512], *p = out;
	const char *end = out + sizeof out - 1;
	int fd = log_fd, sys = 0;

	if (log_to == LOG_TARGET_SYSLOG && log_emerg_fd >= 0) {
		/* <LOG_DAEMON | LOG_ERR>, the tag as openlog() has it */
		fd = log_emerg_fd;
		sys = 1;
		p = log_put(p, end, "<27>");
	} else if (log_to == LOG_TARGET_FILE) {
		p = log_put_stamp(p, end);
	} else if (log_to == LOG_TARGET_SYSLOG) {
		fd = STDERR_FILENO;
	}
	p = log_put(p, end, "ssltunneld[");
	p = log_put_uint(p, end, (unsigned long)getpid(), 1);
	p = log_put(p, end, sys ? "]: " : "]: error: ");
	p = log_put(p, end, text);
	if (!sys)
		*p++ = '\n';
	while (write(fd, out, (size_t)(p - out)) < 0 && errno == EINTR)
		;
}
