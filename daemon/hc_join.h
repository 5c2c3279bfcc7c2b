/* hc_join.h - the frame filters of a joined Hybrid Connections pair:
 * no I/O, no allocation
 *
 * The relay is the WebSocket server of both the sender and the
 * listener, so both send it masked frames and both must get unmasked
 * ones. Each connection's "down" direction (TLS -> socketpair) runs a
 * struct hc_unmask over what its peer sent: the same frames come out,
 * opcodes, FIN bits, fragmentation and control frames untouched, only
 * without their mask. The other connection's "up" direction copies them
 * to its peer as they are; a struct hc_frames beside it only follows
 * where they end, so that a close frame of the relay's own can go
 * between two of them and never into the middle of one.
 */
#ifndef SSLTUNNEL_HC_JOIN_H
#define SSLTUNNEL_HC_JOIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ws.h"

/* Bytes before the input of hc_unmask_feed() it may write: a header split
 * across calls (at most WS_HEADER_MAX - 1 of it saved) is put back in
 * front of the rest, so the frames are whole again in one buffer. */
#define HC_UNMASK_HEADROOM WS_HEADER_MAX

/* Masked frames in, the same frames unmasked out. Callers may read err,
 * closed, msg_open and hdr (the frame in progress, or the one that
 * failed); the rest is the filter's. */
struct hc_unmask {
	int err;		/* final: hc_unmask_feed() returns it again */
	int closed;		/* the peer's close frame has been passed whole */
	int msg_open;		/* a data frame without FIN was seen */
	struct ws_header hdr;	/* the frame whose payload is coming */
	uint64_t left;		/* payload bytes of hdr still to come */
	size_t nhead;		/* bytes of a split header in head[] */
	unsigned char head[WS_HEADER_MAX];
};

/** @brief A fresh stream from a peer: masked frames expected (RFC 6455
 *  client frames). */
void hc_unmask_init(struct hc_unmask *u);

/** @brief Rewrite @len bytes read from the peer at @in into unmasked
 *  frames, in place. The HC_UNMASK_HEADROOM bytes before @in must be
 *  the caller's to overwrite: a header saved from the last call is put
 *  back there. The output, returned in bytes, starts at *@out, which
 *  lies in [@in - HC_UNMASK_HEADROOM, @in], and ends at or before
 *  @in + *@used: it overwrites only headroom and consumed input, never
 *  input still to be fed. Every frame header loses its 4-byte key and
 *  payloads keep their length, so the output never outgrows the input;
 *  payload is passed as it comes, a header only once it is whole (a
 *  split one is kept in the filter meanwhile and counts as consumed).
 *
 *  All of @in is consumed except when the stream must stop behind the
 *  output: after the close frame (what follows it is WS_E_AFTER_CLOSE)
 *  or at a frame that breaks the protocol. Then *@used < @len and the
 *  output before that point is returned first; the next call (with the
 *  rest) returns the error. A negative enum ws_error (final: returned
 *  from then on) comes when no output precedes it; the caller logs
 *  ws_error_str() and closes with ws_error_close_code(). Headers are
 *  checked strictly (ws_parse_header(), masked), and so is the order of
 *  the frames: a continuation needs an open message, a new text or
 *  binary message needs the last one ended. Payloads, close bodies
 *  among them, are not looked into: the endpoints judge them. */
ssize_t hc_unmask_feed(struct hc_unmask *u, unsigned char *in, size_t len,
		       unsigned char **out, size_t *used);

/** @brief Is the filter between two frames (no header half read, no
 *  payload to come)? A peer that ends the stream elsewhere cut a frame. */
int hc_unmask_boundary(const struct hc_unmask *u);

/* Where the frames of an unmasked stream passed on verbatim end.
 * Callers may read err and closed. */
struct hc_frames {
	int err;		/* final: the stream is no frames (ours never is) */
	int closed;		/* a close frame went by whole */
	unsigned opcode;	/* of the current frame */
	uint64_t left;		/* payload bytes of the current frame to come */
	size_t nhead;		/* bytes of a split header in head[] */
	unsigned char head[WS_HEADER_MAX];
};

/** @brief A fresh stream: unmasked frames expected (as a server sends). */
void hc_frames_init(struct hc_frames *f);

/** @brief Follow @len more bytes of the stream (not changed); 0, or a
 *  negative enum ws_error, final, if they are not well-formed frames. */
int hc_frames_feed(struct hc_frames *f, const unsigned char *buf, size_t len);

/** @brief May a frame go into the stream here: between two frames, no
 *  close frame before, no error? */
int hc_frames_boundary(const struct hc_frames *f);

#endif
