/* hc_listen.h - role = "listener" and the sender's request: the client
 * side of Azure Relay Hybrid Connections
 *
 * Each worker keeps one control channel per listener tunnel open to the
 * relay (so the relay's round robin spreads senders over the workers),
 * reconnecting with exponential backoff and jitter, and renewing its
 * token before it expires. An accept message becomes a rendezvous
 * connection: the backend is connected first; then the TLS leg to the
 * relay upgrades on the accept address, and mover_ws carries the frames
 * (as a client: masked out, unmasked in). A backend that can't be reached
 * makes the rendezvous a refusal instead (sb-hc-statusCode=502), which
 * the relay passes to the sender. With connect = "dynamic" the sender
 * names its destination in its URL's query (host=, port=), the relay
 * passes that on in the rendezvous address, and the acl decides (403).
 */
#ifndef SSLTUNNEL_HC_LISTEN_H
#define SSLTUNNEL_HC_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "mover.h"

struct conn;
struct worker;

/* The worker's side. */
/** @brief Start the control channels of the worker's listener tunnels. */
int hcl_worker_start(struct worker *w);
/** @brief Milliseconds until a control channel is due to be opened
 *  again, or -1. */
int hcl_wait_ms(const struct worker *w, uint64_t now);
/** @brief Open the control channels that are due. */
void hcl_run(struct worker *w);
/** @brief The worker drains: close the control channels, open no more. */
void hcl_drain(struct worker *w);

/* The connection's side (conn.c, proto_client.c). */
int hcl_is_control(const struct conn *c);
/** @brief A rendezvous whose backend is being connected. */
int hcl_backend_phase(const struct conn *c);
void hcl_backend_up(struct conn *c);
/** @brief No address of the backend answered: refuse the sender. */
void hcl_backend_failed(struct conn *c, const char *why);
/** @brief A dynamic destination's name is being resolved. */
int hcl_resolving(const struct conn *c);
/** @brief ... and connect_timeout passed first: refuse the sender. */
void hcl_resolve_timeout(struct conn *c);
/** @brief The control channel's timer: ping, renew the token. */
enum mover_status hcl_tick(struct conn *c);
const struct mover_ops *hcl_mover(struct conn *c);
void hcl_free(struct conn *c);

/** @brief The upgrade request of a sender, control channel or
 *  rendezvous: its target, a ServiceBusAuthorization header line (or
 *  nothing) in @hdr, the Host in *@host. -1 with c->reason. */
int hcl_request(struct conn *c, char *target, size_t tlen, char *hdr,
		size_t hlen, const char **host);
/** @brief The relay answered @status to a refusal: 1 (closed, done
 *  here), or 0 for an ordinary answer. */
int hcl_answer(struct conn *c, int status);

#endif
