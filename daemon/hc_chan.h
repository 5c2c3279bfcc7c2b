/* hc_chan.h - a Hybrid Connections control channel: a WebSocket that
 * carries JSON text messages and pings, no stream. The relay holds one
 * per listener (relay.c, server side); a listener holds one to its relay
 * (hc_listen.c, client side: what it sends is masked).
 *
 * The channel is a connection's TLS leg alone. Frames out wait in one
 * bounded queue; a message in is gathered up to HC_CHAN_MSG_MAX bytes
 * and handed to the owner whole; pings are answered here.
 */
#ifndef SSLTUNNEL_HC_CHAN_H
#define SSLTUNNEL_HC_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "mover.h"
#include "ws.h"

#define HC_CHAN_OUT (64 * 1024)
#define HC_CHAN_MSG_MAX 8192

struct conn;

struct hc_chan {
	const char *what;		/* "listener control channel", for logs */
	int client;			/* we mask what we send */
	struct ws_rx rx;
	char msg[HC_CHAN_MSG_MAX];
	size_t msglen;
	int msg_skip;			/* binary or too long: dropped */
	unsigned char *out;		/* HC_CHAN_OUT bytes */
	size_t outoff, outlen, inflight;
	int ping_out;			/* our ping waits for its pong */
	int closing;			/* our close frame is queued */
	/** @brief A whole text message came; MOVER_CONTINUE to go on. */
	enum mover_status (*on_message)(struct conn *c, const char *msg,
					size_t len);
};

/** @brief Ready @ch for @c's TLS leg; -1 when out of memory. */
int hc_chan_init(struct hc_chan *ch, const char *what, int client,
		 enum mover_status (*on_message)(struct conn *, const char *,
						 size_t));
void hc_chan_free(struct hc_chan *ch);
/** @brief Queue one final frame; -1 when the queue is full (the peer
 *  does not read). */
int hc_chan_queue(struct hc_chan *ch, unsigned opcode, const void *data,
		  size_t len);
/** @brief Read what the peer sent, send what is queued, and wait for
 *  what comes next. MOVER_DONE when the channel ended. */
enum mover_status hc_chan_event(struct conn *c, struct hc_chan *ch);
/** @brief Feed bytes that came before the channel started (behind the
 *  101 or the upgrade request). */
enum mover_status hc_chan_input(struct conn *c, struct hc_chan *ch,
				unsigned char *buf, size_t len);
/** @brief At the channel's start: feed what came behind the upgrade (in
 *  c->down, left by the protocol step) and give that buffer back. */
enum mover_status hc_chan_pending(struct conn *c, struct hc_chan *ch);
/** @brief The ping timer: a ping, or MOVER_ERROR if the last one went
 *  unanswered. */
enum mover_status hc_chan_ping(struct conn *c, struct hc_chan *ch,
			       int interval);
/** @brief End with a close frame (@code 0: an empty one), sent as far as
 *  the socket takes it, then close_notify. Returns MOVER_DONE. */
enum mover_status hc_chan_close(struct conn *c, struct hc_chan *ch,
				uint16_t code, const char *why);

#endif
