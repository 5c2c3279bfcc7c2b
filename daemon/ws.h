/* ws.h - the WebSocket frame codec (RFC 6455 §5): no I/O, no allocation
 *
 * Framing is a property of one direction of a mover. The receiving side
 * of a direction holds a struct ws_rx and feeds it whatever bytes arrived;
 * it answers one event at a time and never gathers a message, so a frame
 * of any size streams through a bounded buffer. Masked payloads are
 * unmasked in place in the caller's buffer. On the kernel path the
 * caller hands over only the header bytes, moves an unmasked payload
 * itself (splice) and tells the state machine with ws_rx_skip(), so the
 * payload never enters user space. The sending side needs no state: a
 * header from ws_build_header(), then the payload (masked with ws_mask()
 * by a client), or a whole small frame from ws_build_frame().
 */
#ifndef SSLTUNNEL_WS_H
#define SSLTUNNEL_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_HEADER_MAX 14	/* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_CONTROL_MAX 125	/* payload limit of a control frame */
#define WS_CONTROL_FRAME_MAX (2 + 4 + WS_CONTROL_MAX)	/* the largest */

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close status codes (RFC 6455 §7.4.1) the codec itself deals in. */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_NO_STATUS = 1005,	/* not on the wire: an empty body */
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_INTERNAL = 1011,
};

/* ws_parse_header() and ws_rx_feed() return these, or a length. */
enum ws_error {
	WS_INCOMPLETE = 0,	/* the header needs more bytes: not an error */
	WS_E_RSV = -1,		/* RSV1-3 set, no extension was negotiated */
	WS_E_OPCODE = -2,	/* 0x3-0x7, 0xB-0xF */
	WS_E_CTRL_FRAGMENTED = -3,	/* control frame without FIN */
	WS_E_CTRL_TOO_LONG = -4,	/* control frame over 125 bytes */
	WS_E_LEN_MSB = -5,	/* 64-bit length with the top bit set */
	WS_E_LEN_NOT_MINIMAL = -6,	/* length not in its shortest form */
	WS_E_UNMASKED = -7,	/* masking required (frames from a client) */
	WS_E_MASKED = -8,	/* masking forbidden (frames from a server) */
	WS_E_CONT_NO_MESSAGE = -9,	/* continuation with no message open */
	WS_E_MESSAGE_OPEN = -10,	/* a message inside a fragmented one */
	WS_E_CLOSE_1BYTE = -11,	/* close body of one byte */
	WS_E_CLOSE_CODE = -12,	/* close code not allowed on the wire */
	WS_E_CLOSE_UTF8 = -13,	/* close reason not UTF-8 */
	WS_E_AFTER_CLOSE = -14,	/* bytes after the peer's close frame */
};

struct ws_header {
	unsigned fin:1, rsv:3;
	unsigned opcode;
	int masked;
	unsigned char mask[4];
	uint64_t len;		/* payload length, < 2^63 */
};

/** @brief Parse one frame header from the start of @buf, strictly (RSV
 *  bits, opcodes, control frame rules, minimal lengths). @want_masked is
 *  the caller's policy: 1 (a server: frames must be masked), 0 (a
 *  client: they must not be), -1 (either). Returns the header length
 *  (2..14), WS_INCOMPLETE (0) if @buf holds less than a header, or a
 *  negative enum ws_error. Checks run in byte order, so a prefix of a
 *  bad header gives either WS_INCOMPLETE or the same error; @h is filled
 *  as far as parsed, also on error. */
int ws_parse_header(const unsigned char *buf, size_t len, int want_masked,
		    struct ws_header *h);

/** @brief Write the shortest header for a frame (RSV 0; @mask NULL for
 *  an unmasked frame). Returns its length, or 0 if no valid frame has
 *  that shape (unknown opcode, @len >= 2^63, a control frame over 125
 *  bytes or without @fin). */
size_t ws_build_header(unsigned char out[WS_HEADER_MAX], unsigned opcode,
		       int fin, uint64_t len, const unsigned char *mask);

/** @brief XOR @data with the mask key in place (masking and unmasking
 *  are the same). @offset is where @data[0] lies within the frame's
 *  payload, so a payload handled piece by piece comes out right. */
void ws_mask(unsigned char *data, size_t len, const unsigned char mask[4],
	     uint64_t offset);

/** @brief A whole final frame of @len payload bytes, masked with @mask
 *  unless it is NULL, into @out: for control frames and the small frames
 *  the daemon writes itself. Returns the frame length, or 0 if it does
 *  not fit @outlen or the frame is invalid (see ws_build_header). */
size_t ws_build_frame(unsigned char *out, size_t outlen, unsigned opcode,
		      const void *payload, size_t len,
		      const unsigned char *mask);

/** @brief A close frame: @code (0 for an empty body, as when echoing a
 *  close that had none) and @reason (may be NULL), the reason cut at a
 *  UTF-8 character boundary to fit 123 bytes. WS_CONTROL_FRAME_MAX bytes
 *  of @out always suffice. Returns the frame length, or 0 if @code may
 *  not be sent (1005, 1006, 1015, ...) or @outlen is too small. */
size_t ws_build_close(unsigned char *out, size_t outlen, uint16_t code,
		      const char *reason, const unsigned char *mask);

/** @brief The close status to send for @err: 1002 or 1007. */
uint16_t ws_error_close_code(int err);
/** @brief What @err means, in words for a log line. */
const char *ws_error_str(int err);

enum ws_event_type {
	WS_EV_NEED_MORE,	/* all of buf was consumed, nothing to report */
	WS_EV_DATA,		/* payload of a text or binary message */
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE,
};

struct ws_event {
	enum ws_event_type type;
	unsigned opcode;	/* DATA: the message's, WS_OP_TEXT or _BINARY */
	/* DATA: unmasked payload bytes within the buffer fed, never empty.
	 * PING/PONG: the payload; CLOSE: the reason. Those two live in the
	 * struct ws_rx and are valid until its next ws_rx_feed(). */
	unsigned char *data;
	size_t len;
	uint16_t code;		/* CLOSE: status, WS_CLOSE_NO_STATUS if none */
};

enum ws_rx_state { WS_RX_HEADER, WS_RX_PAYLOAD, WS_RX_CLOSED };

/* The receiving side of one direction. Callers may read state, hdr (the
 * frame in progress, or the one that failed), msg_opcode and msg_open
 * (a fragmented message is not complete yet); the rest is the state
 * machine's. */
struct ws_rx {
	enum ws_rx_state state;
	int want_masked;	/* as for ws_parse_header() */
	int err;		/* final: ws_rx_feed() returns it again */
	struct ws_header hdr;
	uint64_t off;		/* payload bytes of hdr handled so far */
	unsigned msg_opcode;	/* text/binary: the current data message */
	int msg_open;		/* a data frame without FIN was seen */
	uint16_t code;		/* the last close code parsed */
	size_t nhead;		/* bytes of a split header in head[] */
	unsigned char head[WS_HEADER_MAX];
	unsigned char ctl[WS_CONTROL_MAX];	/* a control frame's payload */
};

/** @brief Start a direction that expects frames masked as @want_masked
 *  says (see ws_parse_header). */
void ws_rx_init(struct ws_rx *rx, int want_masked);

/** @brief Consume bytes of @buf up to and including the next event and
 *  describe it in @ev; returns the bytes consumed or a negative enum
 *  ws_error (then the connection is to be failed with the close code of
 *  ws_error_close_code()). Headers may be split anywhere across calls.
 *  Call again with the rest of @buf until it is all consumed: the last
 *  call reports WS_EV_NEED_MORE. Control frames are gathered (at most
 *  125 bytes) and reported whole; data frames are reported piecewise,
 *  unmasked in place in @buf. After a close frame any further byte is
 *  WS_E_AFTER_CLOSE. Text payloads are not checked for UTF-8. */
ssize_t ws_rx_feed(struct ws_rx *rx, unsigned char *buf, size_t len,
		   struct ws_event *ev);

/** @brief Payload bytes of the current frame the caller may move itself
 *  (splice) rather than feed: non-zero only between a data frame's
 *  header and its end, and only if it is unmasked. */
uint64_t ws_rx_payload_left(const struct ws_rx *rx);

/** @brief The caller moved @n payload bytes itself; the state machine
 *  moves on to where the next header starts. Returns 0, or -1 (nothing
 *  changed) if @n exceeds ws_rx_payload_left(). */
int ws_rx_skip(struct ws_rx *rx, uint64_t n);

/** @brief ws_error_str() with the particulars @rx holds of the failure
 *  ("control frame of 200 bytes (max 125)", "close code 1005 ..."),
 *  written to @buf, which is returned. */
const char *ws_rx_strerror(const struct ws_rx *rx, int err, char *buf,
			   size_t len);

#endif
