/* relay.h - role = "relay": the Azure Relay Hybrid Connections rendezvous
 *
 * A listener keeps a control WebSocket open on /$hc/PATH?sb-hc-action=
 * listen; a sender's upgrade on ?sb-hc-action=connect is held while the
 * relay sends an accept message down a listener's control channel; the
 * listener opens the rendezvous WebSocket (?sb-hc-action=accept&sb-hc-id=)
 * and the relay answers both upgrades and joins the two connections.
 *
 * Each connection keeps its own TLS leg (GnuTLS state does not move);
 * the two are joined by a socketpair, which is their plain leg, and
 * mover_hc passes the frames through, unmasked on the way out.
 *
 * The directory of listeners and waiting senders lives in the worker
 * that serves the relay's tunnels: a relay tunnel's listening socket is
 * polled by worker 1 only (worker.c), so a sender always finds the
 * listeners of its path in the same process.
 */
#ifndef SSLTUNNEL_RELAY_H
#define SSLTUNNEL_RELAY_H

#include "mover.h"

struct conn;
struct worker;
struct relay_conn;

/** @brief A relay tunnel's request is in (c->pr->req): listen, connect
 *  or accept, after checking the path and the token. */
void relay_request(struct conn *c);
/** @brief A waiting sender's relay_accept_timeout passed: 404. */
void relay_timeout(struct conn *c);
/** @brief The control channel's timer: ping, or end an unrenewed token. */
enum mover_status relay_tick(struct conn *c);
/** @brief The mover of a relay connection whose upgrade is answered. */
const struct mover_ops *relay_mover(struct conn *c);
/** @brief The worker drains: close the control channels (1001), so
 *  that listeners reconnect and their waiting senders fail now. */
void relay_drain(struct worker *w);
/** @brief The connection ends: out of the directory; a listener's
 *  waiting senders fail at once. */
void relay_free(struct conn *c);

#endif
