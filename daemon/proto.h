/* proto.h - the protocol step of a server tunnel: between the handshake
 * and the outgoing connection, read the client's one HTTP/1.1 request
 * (CONNECT, or a WebSocket upgrade), decide where it goes (the fixed
 * `connect`, or the destination it names, checked by the acl after
 * resolving) and answer it.
 */
#ifndef SSLTUNNEL_PROTO_H
#define SSLTUNNEL_PROTO_H

#include <stdint.h>

#include "cfg.h"

struct conn;
struct conn_fd;

/** @brief Does a connection of tunnel @t go through the protocol step? */
int proto_needed(const struct cfg_tunnel *t);
/** @brief The handshake is done: read the request. */
void proto_start(struct conn *c);
/** @brief Readiness on a leg while the protocol step runs. */
void proto_event(struct conn *c, struct conn_fd *f, uint32_t events);
/** @brief The destination is connected: answer, then relay. */
void proto_connected(struct conn *c);
/** @brief No address of the destination could be connected (@timeout:
 *  connect_timeout passed): answer 502 / 504, or an error message on a
 *  WebSocket, and close. */
void proto_connect_failed(struct conn *c, int timeout, const char *why);
/** @brief The connection's deadline passed in a protocol state. */
void proto_timeout(struct conn *c);
/** @brief Relaying starts: the bytes that came behind the request go to
 *  the mover, to be delivered first. -1 when out of memory. */
int proto_handoff(struct conn *c);
void proto_free(struct conn *c);

/* The client role's side (proto_client.c). */

/** @brief Does a connection of tunnel @t ask its server for something
 *  (a WebSocket upgrade, a CONNECT destination) after the handshake? */
int proto_client_needed(const struct cfg_tunnel *t);
/** @brief Connected to http_proxy: ask it for a tunnel to `connect`, then
 *  go on with the TLS handshake. */
void proto_client_proxy(struct conn *c);
/** @brief The handshake is done: send the request, read the answer. */
void proto_client_start(struct conn *c);
void proto_client_event(struct conn *c, struct conn_fd *f, uint32_t events);
void proto_client_timeout(struct conn *c);
/** @brief What came behind the server's answer goes to the mover. */
int proto_client_handoff(struct conn *c);
void proto_client_free(struct conn *c);

#endif
