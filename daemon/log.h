/* log.h - levelled logging to stderr or syslog */
#ifndef SSLTUNNEL_LOG_H
#define SSLTUNNEL_LOG_H

#include <syslog.h>

/* Levels are syslog's priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE,
 * LOG_INFO, LOG_DEBUG. */
enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_FILE };

/** @brief Parse "error|warning|notice|info|debug"; -1 if unknown. */
int log_level_parse(const char *s);
/** @brief Name of a level, as the config spells it. */
const char *log_level_name(int level);
/** @brief Choose where lines go and which are kept. Callable again.
 *  @file is the path for LOG_TARGET_FILE. Returns 0, or -1 (errno) when
 *  the file can't be opened; logging then stays where it was. */
int log_setup(int level, enum log_target target, const char *file);
/** @brief Open the log file again (after rotation: SIGUSR1). */
int log_reopen(void);
/** @brief Is a line at @level going to be written? (skip costly formatting) */
int log_enabled(int level);
/** @brief Write one line at @level. */
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** @brief Write @text as one error line from a signal handler: only
 *  async-signal-safe calls (write(2) to the file, stderr or a socket of
 *  our own to /dev/log; never syslog(3)). */
void log_signal_line(const char *text);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
