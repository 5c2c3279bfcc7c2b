/* unit.h - what the Check suites share: a scratch folder and files in it */
#ifndef SSLTUNNEL_UNIT_H
#define SSLTUNNEL_UNIT_H

#include <check.h>

/** @brief Make the suite's scratch folder before any test forks off, so
 *  every test may write files there. Exits 99 (hard error) if it can't. */
void unit_init(void);
/** @brief The scratch folder, absolute. */
const char *unit_dir(void);
/** @brief Keep @p (malloc'd) until the process ends, and return it: for
 *  the strings test helpers make and tests use inline. They stay
 *  reachable, so LeakSanitizer and valgrind do not count them, while
 *  whatever the daemon's code leaks is still reported. */
void *unit_keep(void *p);
/** @brief Write @text to @name (relative to the scratch folder, parent
 *  folders made as needed); returns the absolute path, malloc'd. */
char *unit_write(const char *name, const char *text);
/** @brief Run @s, remove the scratch folder, and return the exit code
 *  automake's harness expects: 0 passed, 1 failed. */
int unit_run(Suite *s);

#endif
