/* conn.h - one tunnelled connection and its state machine */
#ifndef SSLTUNNEL_CONN_H
#define SSLTUNNEL_CONN_H

#include <stdint.h>
#include <sys/types.h>
#include <gnutls/gnutls.h>

#include "net.h"
#include "mover.h"
#include "timer.h"
#include "tunnel.h"

struct worker;
struct proto;
struct proto_client;
struct mover_ws;
struct conn_pp;
struct relay_conn;
struct hcl_conn;
struct mover_hc;
struct limit;
struct limit_src;

enum conn_state {
	CONN_PROXY,		/* reading the load balancer's PROXY header */
	CONN_CONNECTING,	/* the outgoing leg is being connected */
	CONN_HANDSHAKING,	/* TLS handshake, deadline armed */
	CONN_REQUEST,		/* reading the client's HTTP request */
	CONN_AUTHENTICATING,	/* its password is verified off the loop */
	CONN_RESOLVING,		/* the chosen destination's name is looked up */
	CONN_RESPONDING,	/* sending the answer before relaying or closing */
	CONN_RELAYING,		/* the mover owns the bytes */
	CONN_CLOSED,		/* waiting to be freed after this epoll round */
};

/* A leg of the connection, registered with epoll. */
struct conn_fd {
	int kind;		/* EV_CONN_TLS or EV_CONN_PLAIN */
	int fd;
	uint32_t events;	/* registered interest */
	int registered;
	int abortive;		/* SO_LINGER {1, 0} set: see conn_arm_reset */
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
	const struct net_addr *dest;	/* where the outgoing leg goes */
	int ndest;
	char *dest_name;	/* "host:port" for logs, our copy (the
				   protocol step's goes with it); NULL */
	int addr_idx;		/* which address of dest is tried */
	struct proto *pr;	/* the protocol step, while there is one */
	struct proto_client *pc;	/* the client role's protocol step */
	struct conn_pp *pp;	/* the PROXY header being read */
	char peer[NET_ADDRSTRLEN];	/* who connected to us */
	struct sockaddr_storage peer_ss;	/* the same, for the lockout */
	struct tls_check *check;	/* the peer's verdict, only while the
					   handshake runs (700 bytes) */
	char *who;		/* "CN=client1" once admitted; NULL: none */
	char reason[TLS_REASONLEN];	/* why it ends early */
	int tls_err;			/* the GnuTLS error that ended it, for
					   the alert sent back; 0 none */
	const struct mover_ops *mover;
	int ktls;		/* keys are in the kernel: no gnutls I/O */
	struct srec *srec;	/* userspace path: our record layer has the
				   keys (srec.h), no gnutls record I/O */
	struct srec_secrets *sec;	/* handshake done to relay start:
					   the secrets for srec; NULL */
	struct conn_sio *sio;	/* srec behind conn_tls_recv/send (the
				   WebSocket mover); NULL */
	int user_why;		/* if not: why (enum tunnel_user_why) */
	int ulp;		/* "tls" ULP attached to the TLS leg */
	int ws;			/* the TLS leg carries WebSocket frames */
	struct mover_ws *wsr;	/* the WebSocket mover's state */
	struct relay_conn *rc;	/* role "relay": its part (relay.c) */
	struct hcl_conn *hl;	/* role "listener": its part (hc_listen.c) */
	/* mover_hc (hc_join.c) */
	struct mover_hc *hcm;	/* role "relay", joined: the mover's state */
	struct mover_dir up, down;
	uint64_t started_ms;
	uint64_t bytes_up, bytes_down;	/* plain->TLS, TLS->plain */
	uint64_t idle_bytes;	/* idle_timeout: bytes_up + bytes_down seen */
	uint64_t idle_since;	/* and when they last changed (ms) */
	struct limit *lim;	/* counted in its tunnel's limits, or NULL */
	struct limit_src *lim_src;	/* and per source, or NULL */
	struct conn *prev, *next;	/* worker's list of live connections */
	struct conn *next_dead;
	int queued;		/* on the worker's run-again list */
	struct conn *next_ready;
};

/** @brief A new connection accepted on tunnel @t's listener. */
void conn_accept(struct worker *w, struct tunnel *t, int fd,
		 const struct sockaddr *peer);
/** @brief A connection this worker opens itself (a listener's control
 *  channel or rendezvous); @peer names it in logs. */
struct conn *conn_new(struct worker *w, struct tunnel *t, const char *peer);
/** @brief Connect the tunnel's outgoing leg: the backend (server role),
 *  the server or its http_proxy (client role). */
void conn_start_connect(struct conn *c);
/** @brief Readiness on one leg. */
void conn_event(struct conn_fd *f, uint32_t events);
/** @brief The connection's deadline passed. */
void conn_timeout(struct conn *c);
/** @brief Run the mover again (after it yielded for fairness). */
void conn_resume(struct conn *c);
/** @brief Set epoll interest of a leg (no syscall if unchanged). */
int conn_want(struct conn *c, struct conn_fd *f, uint32_t events);
/** @brief idle_timeout: close the relaying connections of @w whose bytes
 *  have not moved for their tunnel's idle_timeout (sampled at @now). */
void conn_idle_sweep(struct worker *w, uint64_t now);
/** @brief End the connection; @error: reset the plain leg instead of FIN. */
void conn_close(struct conn *c, int error);
/** @brief On the kernel path the keys and record sequence numbers live
 *  in the kernel and every record from here on goes through the socket
 *  (conn_tls_recv/send, ktls_send_close_notify; no GnuTLS alert is sent
 *  for a kTLS session), so the GnuTLS session, some 10 KiB per
 *  connection, is freed once nothing reads the peer's identity or the
 *  protocol version from it any more: the protocol step and the PROXY
 *  header are done when relaying starts. Not while the client role still
 *  waits for the server's session ticket, which the kernel hands over as
 *  a control record for GnuTLS to take (ktls_read_control): called again
 *  after each such record. */
void conn_release_session(struct conn *c);
/** @brief Free a closed connection (the worker's reap, after its round). */
void conn_free(struct conn *c);
/** @brief Who the peer is for logs and accounting ("CN=client1",
 *  "user alice"), "" when not known. */
const char *conn_who(const struct conn *c);
/** @brief Say who the peer is from now on (a copy of @who); -1 out of
 *  memory. */
int conn_set_who(struct conn *c, const char *who);
/** @brief Name the destination in logs from now on (a copy of @name;
 *  NULL, or out of memory: logs say "?"). */
void conn_set_dest(struct conn *c, const char *name);

/* For the protocol step (proto.c), which decides where a server tunnel's
 * connection goes and answers the client. */

/** @brief Log why the connection ends before relaying, then end it. */
void conn_reject(struct conn *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** @brief Connect the outgoing leg to one of @addrs (tried in order);
 *  the protocol step hears of the outcome. */
void conn_connect_to(struct conn *c, const struct net_addr *addrs, int n,
		     const char *name);
/** @brief The outgoing leg is up (through a proxy, maybe): TLS now. */
void conn_start_handshake(struct conn *c);
/** @brief Both legs are up and answered: the mover takes over. */
void conn_start_relay(struct conn *c);
/** @brief Read from the TLS leg, kernel or GnuTLS: >0 bytes, 0 at the
 *  peer's end, -1 with errno EAGAIN, or -1 with c->reason (errno EPROTO). */
ssize_t conn_tls_recv(struct conn *c, void *buf, size_t len);
/** @brief Write to the TLS leg: bytes written, or -1 with errno EAGAIN, or
 *  -1 with c->reason (errno EPROTO). */
ssize_t conn_tls_send(struct conn *c, const void *buf, size_t len);
/** @brief End the TLS leg's sending side: close_notify, then FIN. */
void conn_tls_shutdown(struct conn *c);

/* ssltunnel's record layer (srec.h) on the userspace path: what the
 * record at the head of a mover's buffer was. */
enum conn_rec {
	CONN_REC_MORE,		/* not a whole record yet */
	CONN_REC_DATA,		/* application data: *plen bytes at p + 5 */
	CONN_REC_TAKEN,		/* a control record, dealt with */
	CONN_REC_END,		/* close_notify (logged) */
	CONN_REC_FAILED,	/* c->reason, c->tls_err (the alert) */
};
/** @brief Open the record at @p (@avail bytes there) in place; *@used
 *  bytes are its (all but CONN_REC_MORE). A NewSessionTicket goes to the
 *  session waiting for it (then freed), a KeyUpdate that asks for ours is
 *  answered by @reply, which queues it behind what the sending side holds
 *  (0, or -1 with c->reason). */
enum conn_rec conn_srec_next(struct conn *c, unsigned char *p, size_t avail,
			     size_t *used, size_t *plen,
			     int (*reply)(struct conn *c));
/* The PROXY protocol (conn_pp.c). */

/** @brief proxy_protocol = "accept": check the load balancer, then read
 *  its header; then the TLS handshake. */
void conn_pp_start(struct conn *c);
/** @brief The TLS leg is readable while the header is read. */
void conn_pp_event(struct conn *c);
/** @brief proxy_protocol = "send": a v2 header for this connection on
 *  @fd, the fresh outgoing leg. -1 with c->reason. */
int conn_pp_send(struct conn *c, int fd);
void conn_pp_free(struct conn *c);

/** @brief The FIN after a close_notify on the TLS leg (none through an
 *  HTTP proxy: the close_notify says it, the close sends the FIN). */
void conn_tls_fin(struct conn *c);

#endif
