/* hc_mesh.h - a relay's workers as one rendezvous: the directory of
 * listeners' control channels in shared memory, and datagram channels
 * between the workers of a generation
 *
 * A listener's control channel, a sender and the listener's rendezvous
 * for that sender are three TLS connections that each land in whichever
 * worker accepted them. GnuTLS state cannot move between processes, so
 * connections stay where they are and the workers talk instead:
 *  - the directory (MAP_SHARED, one robust process-shared mutex) lists
 *    every control channel of the generation as (worker slot, channel
 *    id, tunnel, path); a sender's worker picks the next one of its path
 *    (round robin over all workers' channels);
 *  - if the channel is in another worker, the accept message goes there
 *    as a datagram (HC_M_ACCEPT), which writes it to the channel;
 *  - the rendezvous id names the sender's worker ("SLOT-HEX"); the worker
 *    that gets the rendezvous makes a socketpair, keeps one end as the
 *    rendezvous's plain leg and passes the other to the sender's worker
 *    with SCM_RIGHTS (HC_M_JOIN), which makes it the sender's plain leg.
 *    From then on the bytes go worker to worker through that socketpair:
 *    never through the master, never copied more than in one process.
 * Each worker has one SOCK_DGRAM socketpair per slot, made by the master
 * before it forks: [slot][0] is written by every worker (to that slot),
 * [slot][1] is read by the slot's worker only. A worker that dies leaves
 * its receive end with the master, so its replacement reads what was
 * sent meanwhile (and answers it as unknown).
 */
#ifndef SSLTUNNEL_HC_MESH_H
#define SSLTUNNEL_HC_MESH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hc.h"

struct hc_dir;

/* Control channels a generation's relay holds at most, over all its
 * workers and relay tunnels; one more is refused (1013). */
#define HC_DIR_MAX 4096

struct hc_mesh {
	int nslots;
	int (*fds)[2];		/* [slot][0] send to slot; [slot][1] its inbox */
	struct hc_dir *dir;	/* MAP_SHARED */
	size_t dir_size;
};

/** @brief The master's part: the directory (room for @max control
 *  channels) and @nslots datagram socketpairs. 0, or -1 with errno. */
int hc_mesh_new(struct hc_mesh *m, int nslots, unsigned max);
/** @brief Close every descriptor and unmap the directory. */
void hc_mesh_free(struct hc_mesh *m);
/** @brief In a process that is no worker of this mesh: close its
 *  descriptors (the directory mapping is left alone). */
void hc_mesh_close_fds(struct hc_mesh *m);
/** @brief In the worker of @slot: close the other slots' inboxes. */
void hc_mesh_child(struct hc_mesh *m, int slot);

/** @brief Enter a control channel; its index, or -1 when the directory
 *  is full. */
int hc_dir_add(struct hc_dir *d, int slot, uint32_t cid, uint32_t tunnel,
	       uint32_t path);
/** @brief Take entry @idx (from hc_dir_add) out, if it is still (@slot,
 *  @cid): a replaced worker's entries may have been reused. */
void hc_dir_del(struct hc_dir *d, int idx, int slot, uint32_t cid);
/** @brief The next control channel of (@tunnel, @path): the one picked
 *  longest ago. 0 with *@slot and *@cid, or -1 when there is none. */
int hc_dir_pick(struct hc_dir *d, uint32_t tunnel, uint32_t path, int *slot,
		uint32_t *cid);
/** @brief The channels of @slot's worker are gone (it died). */
void hc_dir_clear_slot(struct hc_dir *d, int slot);
/** @brief How many channels are entered (for tests and status). */
unsigned hc_dir_count(struct hc_dir *d);

enum hc_mtype {
	HC_M_ACCEPT = 1,	/* to a channel's worker: send data (the JSON) */
	HC_M_JOIN,		/* to a sender's worker: here is its plain leg */
	HC_M_REFUSE,		/* to a sender's worker: status, data the why */
	HC_M_GONE,		/* to a sender's worker: its channel is gone */
	HC_M_CTL_GONE,		/* to all: channel (from, cid) closed */
};

struct hc_mhead {
	uint32_t type;		/* enum hc_mtype */
	uint32_t from;		/* the sending worker's slot */
	uint32_t cid;		/* a control channel of the receiver (ACCEPT)
				 * or of the sender (CTL_GONE) */
	uint32_t tunnel, path;
	int32_t status;		/* REFUSE */
	char rid[HC_ID_MAX];	/* the sender's rendezvous id */
};

/* Data after the head: an accept message at most. */
#define HC_MESH_DATA_MAX 8192

/** @brief Send @h and @len bytes of @data to @to's worker, with @fd
 *  (SCM_RIGHTS) unless it is -1. Never blocks: -1 with errno (EAGAIN:
 *  its inbox is full). */
int hc_mesh_send(const struct hc_mesh *m, int to, const struct hc_mhead *h,
		 const void *data, size_t len, int fd);
/** @brief One message from inbox @fd: the head into @h, its data (NUL
 *  terminated, at most HC_MESH_DATA_MAX bytes) into @data (room for
 *  HC_MESH_DATA_MAX + 1), a descriptor
 *  that came with it into *@fdout (else -1). Returns the data's length,
 *  or -1 with errno (EAGAIN: none; EBADMSG: malformed, dropped). */
ssize_t hc_mesh_recv(int fd, struct hc_mhead *h, char *data, int *fdout);

/** @brief "SLOT-" and 32 hex digits of fresh randomness in @out. */
int hc_rid_make(int slot, char *out, size_t outlen);
/** @brief The slot a rendezvous id names, or -1 if it names none. */
int hc_rid_slot(const char *rid);

#endif
