/* test_hc_mesh.c - the relay's workers as one: the shared directory of
 * control channels (round robin, removal, a dead worker's entries, a
 * full table, other processes), the datagrams between workers (with a
 * descriptor), and rendezvous ids */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hc_mesh.h"
#include "unit.h"

START_TEST(round_robin_over_all_workers)
{
	struct hc_mesh m;
	int slot, seen[3][2] = { { 0 } };
	uint32_t cid;

	ck_assert_int_eq(hc_mesh_new(&m, 3, 16), 0);
	ck_assert_int_eq(hc_dir_pick(m.dir, 0, 0, &slot, &cid), -1);
	/* channels of tunnel 0 path 0 in workers 0, 1 and 2 (cid 10+slot),
	 * and one of another path and one of another tunnel */
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 10, 0, 0), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 1, 11, 0, 0), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 2, 12, 0, 0), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 1, 13, 0, 1), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 2, 14, 1, 0), 0);
	ck_assert_uint_eq(hc_dir_count(m.dir), 5);
	/* 6 picks: each of the three channels twice, none of the others */
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(hc_dir_pick(m.dir, 0, 0, &slot, &cid), 0);
		ck_assert_int_ge(slot, 0);
		ck_assert_int_le(slot, 2);
		ck_assert_uint_eq(cid, 10 + (uint32_t)slot);
		seen[slot][i / 3]++;
	}
	for (int s = 0; s < 3; s++) {
		ck_assert_int_eq(seen[s][0], 1);	/* each once in a round */
		ck_assert_int_eq(seen[s][1], 1);
	}
	ck_assert_int_eq(hc_dir_pick(m.dir, 0, 1, &slot, &cid), 0);
	ck_assert_int_eq(slot, 1);
	ck_assert_uint_eq(cid, 13);
	ck_assert_int_eq(hc_dir_pick(m.dir, 1, 1, &slot, &cid), -1);
	hc_mesh_free(&m);
}
END_TEST

START_TEST(removal_and_dead_workers)
{
	struct hc_mesh m;
	int a, b, slot;
	uint32_t cid;

	ck_assert_int_eq(hc_mesh_new(&m, 2, 4), 0);
	a = hc_dir_add(m.dir, 0, 1, 0, 0);
	b = hc_dir_add(m.dir, 1, 2, 0, 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	/* a stale removal (another cid in that entry) does nothing */
	hc_dir_del(m.dir, a, 0, 99);
	ck_assert_uint_eq(hc_dir_count(m.dir), 2);
	hc_dir_del(m.dir, a, 0, 1);
	ck_assert_uint_eq(hc_dir_count(m.dir), 1);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(hc_dir_pick(m.dir, 0, 0, &slot, &cid), 0);
		ck_assert_int_eq(slot, 1);
	}
	/* worker 1 dies: its channels go */
	ck_assert_int_ge(hc_dir_add(m.dir, 1, 3, 0, 0), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 4, 0, 0), 0);
	hc_dir_clear_slot(m.dir, 1);
	ck_assert_uint_eq(hc_dir_count(m.dir), 1);
	ck_assert_int_eq(hc_dir_pick(m.dir, 0, 0, &slot, &cid), 0);
	ck_assert_int_eq(slot, 0);
	ck_assert_uint_eq(cid, 4);
	/* full: 4 entries, the fifth refused, room again after a removal */
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 5, 0, 0), 0);
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 6, 0, 0), 0);
	a = hc_dir_add(m.dir, 0, 7, 0, 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(hc_dir_add(m.dir, 0, 8, 0, 0), -1);
	hc_dir_del(m.dir, a, 0, 7);
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 8, 0, 0), 0);
	hc_mesh_free(&m);
}
END_TEST

/* The table is shared: a child process enters channels, the parent
 * picks them; a child that dies holding the lock does not wedge it. */
START_TEST(shared_between_processes)
{
	struct hc_mesh m;
	int slot, st;
	uint32_t cid;
	pid_t pid;

	ck_assert_int_eq(hc_mesh_new(&m, 2, 8), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hc_mesh_child(&m, 1);
		_exit(hc_dir_add(m.dir, 1, 42, 0, 0) >= 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(hc_dir_pick(m.dir, 0, 0, &slot, &cid), 0);
	ck_assert_int_eq(slot, 1);
	ck_assert_uint_eq(cid, 42);
	/* a child killed inside the lock: the robust mutex comes back */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* hold the lock the way hc_dir_* do (the mutex is the
		 * table's first member, hc_mesh.c), then die */
		pthread_mutex_lock((pthread_mutex_t *)(void *)m.dir);
		raise(SIGKILL);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_uint_eq(hc_dir_count(m.dir), 1);
	ck_assert_int_ge(hc_dir_add(m.dir, 0, 43, 0, 0), 0);
	ck_assert_uint_eq(hc_dir_count(m.dir), 2);
	hc_mesh_free(&m);
}
END_TEST

START_TEST(messages_and_descriptors)
{
	struct hc_mesh m;
	struct hc_mhead h = { .type = HC_M_JOIN, .from = 1, .cid = 7,
			      .tunnel = 2, .path = 3, .status = 0 }, g;
	static char data[HC_MESH_DATA_MAX + 1], big[HC_MESH_DATA_MAX + 1];
	int sp[2], fd;
	char b;
	ssize_t n;

	ck_assert_int_eq(hc_mesh_new(&m, 2, 4), 0);
	/* nothing waiting */
	errno = 0;
	ck_assert_int_eq(hc_mesh_recv(m.fds[0][1], &g, data, &fd), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	snprintf(h.rid, sizeof h.rid, "1-00112233445566778899aabbccddeeff");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(hc_mesh_send(&m, 0, &h, "chat", 4, sp[0]), 0);
	close(sp[0]);
	n = hc_mesh_recv(m.fds[0][1], &g, data, &fd);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(data, "chat");
	ck_assert_uint_eq(g.type, HC_M_JOIN);
	ck_assert_uint_eq(g.from, 1);
	ck_assert_uint_eq(g.cid, 7);
	ck_assert_uint_eq(g.tunnel, 2);
	ck_assert_uint_eq(g.path, 3);
	ck_assert_str_eq(g.rid, h.rid);
	/* the descriptor is the socketpair's other end */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(sp[1], &b, 1), 1);
	ck_assert_int_eq(b, 'x');
	close(fd);
	close(sp[1]);
	/* to slot 1, nothing reaches slot 0; no descriptor, no data */
	h.type = HC_M_CTL_GONE;
	ck_assert_int_eq(hc_mesh_send(&m, 1, &h, NULL, 0, -1), 0);
	ck_assert_int_eq(hc_mesh_recv(m.fds[0][1], &g, data, &fd), -1);
	ck_assert_int_eq(hc_mesh_recv(m.fds[1][1], &g, data, &fd), 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(g.type, HC_M_CTL_GONE);
	/* the largest message whole; one byte more is refused */
	memset(big, 'j', sizeof big);
	ck_assert_int_eq(hc_mesh_send(&m, 0, &h, big, HC_MESH_DATA_MAX, -1), 0);
	ck_assert_int_eq(hc_mesh_recv(m.fds[0][1], &g, data, &fd), HC_MESH_DATA_MAX);
	ck_assert_uint_eq(strlen(data), HC_MESH_DATA_MAX);
	ck_assert_int_eq(hc_mesh_send(&m, 0, &h, big, HC_MESH_DATA_MAX + 1, -1), -1);
	ck_assert_int_eq(hc_mesh_send(&m, 2, &h, NULL, 0, -1), -1);
	ck_assert_int_eq(hc_mesh_send(&m, -1, &h, NULL, 0, -1), -1);
	/* a short datagram or one whose rid is not a string: EBADMSG */
	ck_assert_int_eq(send(m.fds[0][0], "short", 5, 0), 5);
	errno = 0;
	ck_assert_int_eq(hc_mesh_recv(m.fds[0][1], &g, data, &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	memset(h.rid, 'r', sizeof h.rid);
	ck_assert_int_eq(hc_mesh_send(&m, 0, &h, NULL, 0, -1), 0);
	errno = 0;
	ck_assert_int_eq(hc_mesh_recv(m.fds[0][1], &g, data, &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* in a worker, the other slots' inboxes are closed, the send ends
	 * kept */
	hc_mesh_child(&m, 1);
	ck_assert_int_eq(m.fds[0][1], -1);
	ck_assert_int_ge(m.fds[1][1], 0);
	ck_assert_int_ge(m.fds[0][0], 0);
	hc_mesh_free(&m);
}
END_TEST

START_TEST(rendezvous_ids)
{
	char a[HC_ID_MAX], b[HC_ID_MAX];

	ck_assert_int_eq(hc_rid_make(0, a, sizeof a), 0);
	ck_assert_int_eq(hc_rid_make(0, b, sizeof b), 0);
	ck_assert_uint_eq(strlen(a), 2 + 32);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(hc_rid_slot(a), 0);
	ck_assert_int_eq(hc_rid_make(17, a, sizeof a), 0);
	ck_assert_int_eq(hc_rid_slot(a), 17);
	ck_assert_int_eq(hc_rid_make(1023, a, 10), -1);	/* does not fit */
	ck_assert_int_eq(hc_rid_slot("3-abc"), 3);
	ck_assert_int_eq(hc_rid_slot("abc"), -1);	/* hyco-ws's own ids */
	ck_assert_int_eq(hc_rid_slot(""), -1);
	ck_assert_int_eq(hc_rid_slot("-1-ab"), -1);
	ck_assert_int_eq(hc_rid_slot("01-ab"), -1);
	ck_assert_int_eq(hc_rid_slot("12"), -1);
	ck_assert_int_eq(hc_rid_slot("99999999999-ab"), -1);
}
END_TEST

static Suite *hc_mesh_suite(void)
{
	Suite *s = suite_create("hc_mesh");
	TCase *tc = tcase_create("hc_mesh");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_robin_over_all_workers);
	tcase_add_test(tc, removal_and_dead_workers);
	tcase_add_test(tc, shared_between_processes);
	tcase_add_test(tc, messages_and_descriptors);
	tcase_add_test(tc, rendezvous_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(hc_mesh_suite());
}
