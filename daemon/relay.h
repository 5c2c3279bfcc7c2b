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
 * Every worker accepts on a relay tunnel's listeners. A sender, the
 * listener's control channel it is offered to and the rendezvous may be
 * in three workers: they meet through hc_mesh.h (a shared directory of
 * control channels, datagrams between the workers, the socketpair end
 * passed to the sender's worker), never through the master.
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
/** @brief Is @c a listener's control channel on a relay tunnel? */
int relay_is_control(const struct conn *c);
/** @brief The mover of a relay connection whose upgrade is answered. */
const struct mover_ops *relay_mover(struct conn *c);
struct hc_mesh;
/** @brief Join the generation's @mesh (NULL: no relay tunnel, nothing to
 *  do): our inbox into the epoll set. -1 with errno. */
int relay_worker_start(struct worker *w, struct hc_mesh *mesh);
/** @brief Messages from the other workers are waiting (EV_HC). */
void relay_inbox_event(void);
/** @brief The worker drains: close the control channels (1001), so
 *  that listeners reconnect and their waiting senders fail now. */
void relay_drain(struct worker *w);
/** @brief The connection ends: out of the directory; a listener's
 *  waiting senders fail at once. */
void relay_free(struct conn *c);

#endif
