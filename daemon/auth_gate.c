/* auth_gate.c - at most N password verifications at once, across all of
 * a generation's workers
 *
 * Each worker has its own verifier threads (auth_pool.c); without a cap
 * shared by all of them, a flood of logins keeps every CPU hashing and
 * the tunnels already open slow down even though the threads run under
 * SCHED_IDLE (measured with bench/auth-flood: with one hash running per
 * spare CPU the round trips stay near their quiet figure). The gate is N
 * robust process-shared mutexes in memory the master maps before it
 * forks: a verification holds one; a worker killed while holding it
 * gives it back (EOWNERDEAD), so a crash never leaks a slot.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "auth.h"

struct auth_gate {
	int n;
	pthread_mutex_t slot[];
};

size_t auth_gate_size(int n)
{
	return sizeof(struct auth_gate) + (size_t)(n > 0 ? n : 1) *
		sizeof(pthread_mutex_t);
}

struct auth_gate *auth_gate_init(void *mem, size_t size, int n)
{
	struct auth_gate *g = mem;
	pthread_mutexattr_t a;

	if (n < 1 || size < auth_gate_size(n))
		return NULL;
	memset(mem, 0, size);
	g->n = n;
	if (pthread_mutexattr_init(&a) != 0)
		return NULL;
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < n; i++)
		if (pthread_mutex_init(&g->slot[i], &a) != 0) {
			pthread_mutexattr_destroy(&a);
			return NULL;
		}
	pthread_mutexattr_destroy(&a);
	return g;
}

/** @brief Lock with @rc from (try)lock: 0 held, -1 not. A slot whose
 *  holder died is ours now, made consistent. */
static int auth_gate_took(pthread_mutex_t *m, int rc)
{
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

int auth_gate_enter(struct auth_gate *g)
{
	long tid = syscall(SYS_gettid);

	if (!g)
		return -1;
	for (int i = 0; i < g->n; i++)
		if (auth_gate_took(&g->slot[i], pthread_mutex_trylock(&g->slot[i])) == 0)
			return i;
	/* All busy: wait on one, spread by thread. */
	{
		int i = (int)(tid % g->n);
		return auth_gate_took(&g->slot[i], pthread_mutex_lock(&g->slot[i])) == 0 ?
			i : -1;
	}
}

void auth_gate_leave(struct auth_gate *g, int slot)
{
	if (g && slot >= 0 && slot < g->n)
		pthread_mutex_unlock(&g->slot[slot]);
}
