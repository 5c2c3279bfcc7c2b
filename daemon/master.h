/* master.h - the master process: listeners, worker generations, signals */
#ifndef SSLTUNNEL_MASTER_H
#define SSLTUNNEL_MASTER_H

#include "cfg.h"
#include "tunnel.h"

/** @brief Load credentials for every tunnel (also what `-t` checks). */
int master_load_tunnels(const struct cfg *cfg, struct tunnel **out,
			char *err, size_t errlen);
void master_free_tunnels(struct tunnel *t, size_t n);

/* How master_run starts. */
struct master_opts {
	int detach;		/* become a daemon once listening */
	/* Runs once every listener is open (the seed's start lines). */
	void (*on_listening)(const struct cfg *cfg);
	int console;		/* commands from the terminal (ssltunneld connect) */
	const char *console_via;	/* the tunnel its `tunnel` command uses */
};

/** @brief Open listeners, fork workers and supervise them until a stop
 *  signal; SIGHUP starts a new generation from the re-read config file.
 *  Serves daemon.control_socket and, with @o->console, the terminal.
 *  Takes ownership of @cfg and @tunnels. Returns the exit status. */
int master_run(struct cfg *cfg, struct tunnel *tunnels,
	       const struct master_opts *o);

#endif
