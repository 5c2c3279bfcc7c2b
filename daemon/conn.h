/* conn.h - one tunnelled connection and its state machine */
#ifndef SSLTUNNEL_CONN_H
#define SSLTUNNEL_CONN_H

#include <stdint.h>
#include <gnutls/gnutls.h>

#include "net.h"
#include "relay.h"
#include "timer.h"
#include "tunnel.h"

struct worker;

enum conn_state {
	CONN_CONNECTING,	/* the outgoing leg is being connected */
	CONN_HANDSHAKING,	/* TLS handshake, deadline armed */
	CONN_RELAYING,		/* the mover owns the bytes */
	CONN_CLOSED,		/* waiting to be freed after this epoll round */
};

/* A leg of the connection, registered with epoll. */
struct conn_fd {
	int kind;		/* EV_CONN_TLS or EV_CONN_PLAIN */
	int fd;
	uint32_t events;	/* registered interest */
	int registered;
	struct conn *c;
};

struct conn {
	struct worker *w;
	struct tunnel *t;
	enum conn_state st;
	struct conn_fd tls;	/* the leg that speaks TLS */
	struct conn_fd plain;	/* the leg that speaks plain TCP */
	gnutls_session_t sess;
	struct timer timer;
	int addr_idx;		/* which address of `connect` is tried */
	char peer[NET_ADDRSTRLEN];	/* who connected to us */
	struct tls_check check;	/* the peer's verdict and identity */
	char reason[TLS_REASONLEN];	/* why it ends early */
	const struct relay_ops *mover;
	int ktls;		/* keys are in the kernel: no gnutls I/O */
	int ulp;		/* "tls" ULP attached to the TLS leg */
	struct relay_dir up, down;
	uint64_t started_ms;
	uint64_t bytes_up, bytes_down;	/* plain->TLS, TLS->plain */
	struct conn *prev, *next;	/* worker's list of live connections */
	struct conn *next_dead;
	int queued;		/* on the worker's run-again list */
	struct conn *next_ready;
};

/** @brief A new connection accepted on tunnel @t's listener. */
void conn_accept(struct worker *w, struct tunnel *t, int fd,
		 const struct sockaddr *peer);
/** @brief Readiness on one leg. */
void conn_event(struct conn_fd *f, uint32_t events);
/** @brief The connection's deadline passed. */
void conn_timeout(struct conn *c);
/** @brief Run the mover again (after it yielded for fairness). */
void conn_resume(struct conn *c);
/** @brief Set epoll interest of a leg (no syscall if unchanged). */
int conn_want(struct conn *c, struct conn_fd *f, uint32_t events);
/** @brief End the connection; @error: reset the plain leg instead of FIN. */
void conn_close(struct conn *c, int error);

#endif
