/* fuzz_cfg.c - libFuzzer target for the configuration loader
 *
 * The input is the text of a configuration file. It goes to a file in a
 * folder of this process's own and through cfg_load(), the whole of what
 * `ssltunneld -t` and a reload do before any worker starts: libconfig's
 * parser, every setting's type and range, the tunnels' checks, users and
 * groups, credential files. Promises checked:
 *   - a refusal says where: the message starts with the file's path (or
 *     is "out of memory"), fits its buffer, and names a line when
 *     libconfig gave one;
 *   - an accepted configuration is whole: its path, at least one tunnel,
 *     each with a name and a role, workers resolved;
 *   - loading the same text twice gives the same answer (no state kept
 *     between loads), and nothing leaks either way (LeakSanitizer).
 *
 *   scripts/fuzz SECONDS cfg   (seeds: tests/fuzz/seeds/cfg, the examples)
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/** @brief The loader resolves the names it is given (so workers never
 *  block on them): here only address literals, so that a name the
 *  fuzzer makes up never becomes a DNS query, and every run gives the
 *  same answer. Interposes on the C library's getaddrinfo(). */
int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real) {
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
		CHECK(real);
	}
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

static char fuzz_path[4096 + 32], fuzz_dir[4096];

/** @brief Leave no folder behind. */
static void fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

/** @brief A folder of our own for the file, made once; an @include in
 *  the input resolves against it. */
static const char *fuzz_file(void)
{
	/* tmpfs when there is one: a file system with blocks on disk
	 * flushes a file truncated and rewritten on every input */
	char shm[] = "/dev/shm/fuzz_cfg.XXXXXX", tmp[] = "/tmp/fuzz_cfg.XXXXXX";
	char *dir = access("/dev/shm", W_OK) == 0 ? shm : tmp;

	if (fuzz_path[0])
		return fuzz_path;
	/* cfg_load() keeps the real path: compare with that */
	CHECK(mkdtemp(dir) && realpath(dir, fuzz_dir));
	snprintf(fuzz_path, sizeof fuzz_path, "%s/ssltunnel.conf", fuzz_dir);
	atexit(fuzz_cleanup);
	return fuzz_path;
}

/** @brief Write @size bytes of @data as the whole file. */
static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	CHECK(fd >= 0);
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		CHECK(n > 0);
		off += (size_t)n;
	}
	CHECK(close(fd) == 0);
}

/** @brief One load; 0 accepted, -1 refused with @err checked. */
static int fuzz_load(const char *path, char *err, size_t errlen)
{
	struct cfg c;
	size_t plen = strlen(path);

	memset(&c, 0, sizeof c);
	memset(err, 0, errlen);
	if (cfg_load(&c, path, err, errlen) < 0) {
		CHECK(err[0] && strlen(err) < errlen);
		CHECK(strcmp(err, "out of memory") == 0 || err[0] == '/');
		/* A refusal in this file names it, with a line when known. */
		if (strncmp(err, path, plen) == 0 && err[plen] == ':' &&
		    err[plen + 1] >= '0' && err[plen + 1] <= '9')
			CHECK(atoi(err + plen + 1) > 0);
		return -1;
	}
	CHECK(c.path && strcmp(c.path, path) == 0);
	CHECK(c.ntunnels > 0 && c.tunnels);
	CHECK(c.workers > 0 && c.auth_parallel > 0);
	for (size_t i = 0; i < c.ntunnels; i++)
		CHECK(c.tunnels[i].name && c.tunnels[i].name[0] &&
		      cfg_role_name(&c.tunnels[i]));
	cfg_free(&c);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file();
	char e1[512], e2[512];
	int r1, r2;

	fuzz_write(path, data, size);
	r1 = fuzz_load(path, e1, sizeof e1);
	r2 = fuzz_load(path, e2, sizeof e2);
	CHECK(r1 == r2);
	CHECK(r1 == 0 || strcmp(e1, e2) == 0);
	return 0;
}
