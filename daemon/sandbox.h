/* sandbox.h - a worker's seccomp filter: the system calls its data path
 * needs, and a log line naming any other before it dies */
#ifndef SSLTUNNEL_SANDBOX_H
#define SSLTUNNEL_SANDBOX_H

#include <stddef.h>

/* The exit status of a worker stopped by its filter (128 + SIGSYS, as a
 * shell would say), so the master can tell why it is gone. */
#define SANDBOX_EXIT_STATUS 159

/* What a worker has that needs more calls (sandbox_enter's @has). */
#define SANDBOX_RESOLVER 0x1	/* c-ares: reads /etc/hosts per lookup */

/** @brief Can this kernel load the filter? 1 yes; 0 no, with @why; -1
 *  no because this build leaves it out on purpose (sanitizers), with
 *  @why. */
int sandbox_probe(char *why, size_t whylen);
/** @brief Confine the calling process, all its threads included, for
 *  good: from here on a system call outside the list is logged and ends
 *  the process with SANDBOX_EXIT_STATUS. @has: SANDBOX_* bits for what
 *  this worker has. 0, or -1 with @err. */
int sandbox_enter(unsigned has, char *err, size_t errlen);

#endif
