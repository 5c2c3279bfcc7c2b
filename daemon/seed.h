/* seed.h - the node tool's command line (-r client|server --proxy_port ...) */
#ifndef SSLTUNNEL_SEED_H
#define SSLTUNNEL_SEED_H

#include <stddef.h>

#include "cfg.h"

#define SEED_EX_USAGE 64	/* sysexits.h EX_USAGE */

struct seed_opts {
	const char *role;
	const char *proxy_port, *server_port, *server_host;
	const char *srv_pub_cert, *srv_prv_cert, *clt_pub_cert, *clt_prv_cert;
	const char *keep_alive;		/* milliseconds */
	const char *log_level;		/* error | warn | info | log */
};

/** @brief One tunnel from the seed's flags, as the node tool ran it:
 *  the *_pub_cert of the peer is a pinned trust anchor. */
int seed_to_cfg(const struct seed_opts *o, struct cfg *c, char *err,
		size_t errlen);
/** @brief The node tool's start lines, on stdout. */
void seed_print_start(const struct seed_opts *o);
/** @brief The line printed once listening. */
void seed_print_listening(const struct cfg *c);

#endif
