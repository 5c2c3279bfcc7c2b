/* hc_mesh.c - the relay's workers as one rendezvous (hc_mesh.h) */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hc_mesh.h"

struct hc_dir_ent {
	uint32_t used;
	int32_t slot;
	uint32_t cid, tunnel, path;
	uint64_t last;		/* when it was last picked (dir clock) */
};

struct hc_dir {
	pthread_mutex_t mu;	/* robust, process-shared */
	uint32_t max;		/* entries */
	uint32_t hi;		/* entries below this may be used */
	uint32_t count;
	uint64_t clock;
	struct hc_dir_ent e[];
};

/* Each socket's send buffer: room for a burst of accept messages. */
#define HC_MESH_SNDBUF (1024 * 1024)

static void hc_dir_lock(struct hc_dir *d)
{
	/* A worker killed while holding it: the table is still whole (every
	 * change is a few stores), so it is taken over as it is. */
	if (pthread_mutex_lock(&d->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&d->mu);
}

static void hc_dir_unlock(struct hc_dir *d)
{
	pthread_mutex_unlock(&d->mu);
}

int hc_mesh_new(struct hc_mesh *m, int nslots, unsigned max)
{
	pthread_mutexattr_t a;
	int sb = HC_MESH_SNDBUF, e;

	memset(m, 0, sizeof *m);
	if (nslots < 1 || max < 1) {
		errno = EINVAL;
		return -1;
	}
	m->dir_size = sizeof(struct hc_dir) + (size_t)max * sizeof(struct hc_dir_ent);
	m->dir = mmap(NULL, m->dir_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->dir == MAP_FAILED) {
		m->dir = NULL;
		return -1;
	}
	m->dir->max = max;
	if (pthread_mutexattr_init(&a) != 0)
		goto fail;
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	e = pthread_mutex_init(&m->dir->mu, &a);
	pthread_mutexattr_destroy(&a);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	if (!(m->fds = calloc((size_t)nslots, sizeof *m->fds)))
		goto fail;
	for (int i = 0; i < nslots; i++)
		m->fds[i][0] = m->fds[i][1] = -1;
	m->nslots = nslots;
	for (int i = 0; i < nslots; i++) {
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0, m->fds[i]) < 0)
			goto fail;
		setsockopt(m->fds[i][0], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
		setsockopt(m->fds[i][1], SOL_SOCKET, SO_RCVBUF, &sb, sizeof sb);
	}
	return 0;
fail:
	e = errno;
	hc_mesh_free(m);
	errno = e;
	return -1;
}

void hc_mesh_close_fds(struct hc_mesh *m)
{
	for (int i = 0; m->fds && i < m->nslots; i++)
		for (int j = 0; j < 2; j++)
			if (m->fds[i][j] >= 0) {
				close(m->fds[i][j]);
				m->fds[i][j] = -1;
			}
}

void hc_mesh_free(struct hc_mesh *m)
{
	hc_mesh_close_fds(m);
	free(m->fds);
	if (m->dir)
		munmap(m->dir, m->dir_size);
	memset(m, 0, sizeof *m);
}

void hc_mesh_child(struct hc_mesh *m, int slot)
{
	for (int i = 0; i < m->nslots; i++)
		if (i != slot && m->fds[i][1] >= 0) {
			close(m->fds[i][1]);
			m->fds[i][1] = -1;
		}
}

/* --- the directory -------------------------------------------------------- */

int hc_dir_add(struct hc_dir *d, int slot, uint32_t cid, uint32_t tunnel,
	       uint32_t path)
{
	int idx = -1;

	hc_dir_lock(d);
	for (uint32_t i = 0; i < d->max; i++)
		if (!d->e[i].used) {
			d->e[i] = (struct hc_dir_ent){
				.used = 1, .slot = slot, .cid = cid,
				.tunnel = tunnel, .path = path,
				/* a newcomer is picked after those waiting */
				.last = d->clock,
			};
			if (i >= d->hi)
				d->hi = i + 1;
			d->count++;
			idx = (int)i;
			break;
		}
	hc_dir_unlock(d);
	return idx;
}

/** @brief Free entry @i; the lock is held. */
static void hc_dir_free_ent(struct hc_dir *d, uint32_t i)
{
	d->e[i].used = 0;
	d->count--;
	while (d->hi > 0 && !d->e[d->hi - 1].used)
		d->hi--;
}

void hc_dir_del(struct hc_dir *d, int idx, int slot, uint32_t cid)
{
	if (idx < 0)
		return;
	hc_dir_lock(d);
	if ((uint32_t)idx < d->max && d->e[idx].used && d->e[idx].slot == slot &&
	    d->e[idx].cid == cid)
		hc_dir_free_ent(d, (uint32_t)idx);
	hc_dir_unlock(d);
}

int hc_dir_pick(struct hc_dir *d, uint32_t tunnel, uint32_t path, int *slot,
		uint32_t *cid)
{
	struct hc_dir_ent *best = NULL;

	hc_dir_lock(d);
	for (uint32_t i = 0; i < d->hi; i++) {
		struct hc_dir_ent *e = &d->e[i];
		if (e->used && e->tunnel == tunnel && e->path == path &&
		    (!best || e->last < best->last))
			best = e;
	}
	if (best) {
		best->last = ++d->clock;
		*slot = best->slot;
		*cid = best->cid;
	}
	hc_dir_unlock(d);
	return best ? 0 : -1;
}

void hc_dir_clear_slot(struct hc_dir *d, int slot)
{
	hc_dir_lock(d);
	for (uint32_t i = 0; i < d->hi; i++)
		if (d->e[i].used && d->e[i].slot == slot)
			hc_dir_free_ent(d, i);
	hc_dir_unlock(d);
}

unsigned hc_dir_count(struct hc_dir *d)
{
	unsigned n;

	hc_dir_lock(d);
	n = d->count;
	hc_dir_unlock(d);
	return n;
}

/* --- messages --------------------------------------------------------------- */

int hc_mesh_send(const struct hc_mesh *m, int to, const struct hc_mhead *h,
		 const void *data, size_t len, int fd)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)h, .iov_len = sizeof *h },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (to < 0 || to >= m->nslots || m->fds[to][0] < 0 ||
	    len > HC_MESH_DATA_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (fd >= 0) {
		struct cmsghdr *cm;
		memset(&u, 0, sizeof u);
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof u.buf;
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	return sendmsg(m->fds[to][0], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ?
		-1 : 0;
}

ssize_t hc_mesh_recv(int fd, struct hc_mhead *h, char *data, int *fdout)
{
	struct iovec iov[2] = {
		{ .iov_base = h, .iov_len = sizeof *h },
		{ .iov_base = data, .iov_len = HC_MESH_DATA_MAX },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	ssize_t n;

	*fdout = -1;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
	     cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *fdout < 0)
			memcpy(fdout, CMSG_DATA(cm), sizeof *fdout);
	if ((size_t)n < sizeof *h || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    memchr(h->rid, '\0', sizeof h->rid) == NULL) {
		if (*fdout >= 0)
			close(*fdout);
		*fdout = -1;
		errno = EBADMSG;
		return -1;
	}
	n -= (ssize_t)sizeof *h;
	data[n] = '\0';
	return n;
}

/* --- rendezvous ids ---------------------------------------------------------- */

int hc_rid_make(int slot, char *out, size_t outlen)
{
	unsigned char r[16];
	int n;

	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r) < 0)
		return -1;
	n = snprintf(out, outlen, "%d-", slot);
	if (n < 0 || (size_t)n + 2 * sizeof r + 1 > outlen)
		return -1;
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(out + n + 2 * i, 3, "%02x", r[i]);
	return 0;
}

int hc_rid_slot(const char *rid)
{
	long v = 0;
	const char *p = rid;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 1 << 20)
			return -1;
	}
	if (*p != '-' || (p > rid + 1 && rid[0] == '0'))
		return -1;
	return (int)v;
}
