/* master.h - the master process: listeners, worker generations, signals */
#ifndef SSLTUNNEL_MASTER_H
#define SSLTUNNEL_MASTER_H

#include "cfg.h"
#include "tunnel.h"

/** @brief Load credentials for every tunnel (also what `-t` checks). */
int master_load_tunnels(const struct cfg *cfg, struct tunnel **out,
			char *err, size_t errlen);
void master_free_tunnels(struct tunnel *t, size_t n);

/** @brief Open listeners, fork workers and supervise them until a stop
 *  signal; SIGHUP starts a new generation from the re-read config file.
 *  Takes ownership of @cfg and @tunnels. @detach: become a daemon once
 *  listening. @on_listening runs once every listener is open (the seed's
 *  start lines). Returns the process exit status. */
int master_run(struct cfg *cfg, struct tunnel *tunnels, int detach,
	       void (*on_listening)(const struct cfg *cfg));

#endif
