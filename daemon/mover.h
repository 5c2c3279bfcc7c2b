/* mover.h - the mover interface: how bytes cross a relaying connection
 *
 * A connection in RELAYING state owns one mover. The userspace mover
 * (mover_user.c) runs GnuTLS record I/O through bounded buffers; the
 * kernel mover (kTLS + splice) plugs in beside it with the same calls.
 */
#ifndef SSLTUNNEL_MOVER_H
#define SSLTUNNEL_MOVER_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct conn_fd;

enum mover_status {
	MOVER_CONTINUE = 0,	/* waiting for readiness */
	MOVER_DONE = 1,		/* both directions ended cleanly */
	MOVER_ERROR = -1,	/* c->reason says why */
};

struct mover_ops {
	const char *name;
	/** @brief Take over a connection whose both legs are up. */
	enum mover_status (*start)(struct conn *c);
	/** @brief One of the legs is ready (EPOLLIN/EPOLLOUT/...), or the
	 *  worker asks to run again after a fairness yield (@f NULL). */
	enum mover_status (*on_event)(struct conn *c, struct conn_fd *f,
				      uint32_t events);
	/** @brief Release what the mover holds; the fds are the conn's. */
	void (*close)(struct conn *c);
};

/* One direction of the userspace mover. "up" is plain -> TLS and "down"
 * is TLS -> plain, whichever role the tunnel plays. */
struct mover_dir {
	unsigned char *buf;	/* NULL while idle: memory follows traffic */
	size_t off, len;	/* pending bytes are buf[off .. off+len) */
	size_t inflight;	/* a TLS send to repeat with the same size */
	uint32_t raw, rawlen;	/* srec, TLS -> plain: records not yet
				   opened are buf[raw .. raw+rawlen) */
	uint32_t wait;		/* events this direction waits for (per side) */
	int wait_tls;		/* 1: waits on the TLS fd, 0: on the plain fd */
	int pipe[2];		/* splice mover: the pipe between the legs */
	size_t inpipe;		/* splice mover: bytes in the pipe */
	unsigned corked:1;	/* TCP_CORK set on the destination */
	unsigned eof:1;		/* the source has ended */
	unsigned shut:1;	/* the end was passed on to the destination */
	unsigned notify:1;	/* srec: our close_notify is in buf */
	unsigned ku_owed:1;	/* srec: the peer asked for our KeyUpdate */
};

/* What one pass over one direction came to. */
enum dir_step {
	DIR_MOVED,		/* progress; go on */
	DIR_BLOCKED,		/* waits for d->wait on its side */
	DIR_FINISHED,		/* ended and passed on */
	DIR_FAILED,		/* c->reason says why */
	DIR_YIELD,		/* moved its quantum; run again after others */
};

/** @brief Run one direction of a mover (@down: TLS -> plain). */
typedef enum dir_step (*mover_step_fn)(struct conn *c, int down);

/** @brief Both directions, then the epoll interest they wait for: the
 *  part every mover shares. */
enum mover_status mover_pump(struct conn *c, mover_step_fn step);

/** @brief Several records from one read leave as full segments rather
 *  than one small send each: fewer packets for both kernels to handle.
 *  TCP_CORK on the TLS leg while @on. */
void mover_cork(struct conn *c, struct mover_dir *d, int on);

extern const struct mover_ops mover_user_ops;
extern const struct mover_ops mover_splice_ops;
/* WebSocket frames on the TLS leg, on either path (mover_ws.c). */
extern const struct mover_ops mover_ws_ops;
/* Role relay: a joined Hybrid Connections pair's frames (mover_hc.c). */
extern const struct mover_ops mover_hc_ops;

/** @brief The WebSocket mover's ping timer fired: ping, or fail a peer
 *  whose last ping went unanswered. */
enum mover_status mover_ws_tick(struct conn *c);

/* Buffer size of the userspace mover. */
#define MOVER_BUF_SIZE (64 * 1024)

#endif
