/* driver.c - runs a libFuzzer target without libFuzzer, so `make check`
 * exercises every harness (and its invariants) on each build:
 *
 *   fuzz_X [FILE...]
 *
 * feeds each FILE (none given: every file of
 * $top_srcdir/tests/fuzz/seeds/X/, as under make check), then FUZZ_RUNS (default 20000) inputs made from a
 * fixed-seed generator: random bytes, and mutations (flipped, inserted,
 * dropped bytes) of the files and of earlier inputs. A broken invariant
 * aborts, as under libFuzzer. Real fuzzing: scripts/fuzz.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX 4096

/** @brief xorshift64: the same inputs on every run and machine. */
static uint64_t driver_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/** @brief One random change to @buf (@len bytes of DRIVER_MAX). */
static size_t driver_mutate(uint8_t *buf, size_t len, uint64_t *s)
{
	size_t at = len ? driver_next(s) % len : 0;

	switch (driver_next(s) % 4) {
	case 0:
		if (len)
			buf[at] ^= 1u << (driver_next(s) % 8);
		return len;
	case 1:
		if (len < DRIVER_MAX) {
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = (uint8_t)driver_next(s);
			return len + 1;
		}
		return len;
	case 2:
		if (len) {
			memmove(buf + at, buf + at + 1, len - at - 1);
			return len - 1;
		}
		return len;
	default:
		if (len)
			buf[at] = "\r\n:/?=&%[]. -*0123456789"[driver_next(s) % 25];
		return len;
	}
}

static uint8_t seeds[64][DRIVER_MAX];
static size_t seedlen[64], nseeds;

/** @brief Feed the file at @path and keep it for mutations. */
static int driver_seed(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return -1;
	}
	if (nseeds < 64) {
		seedlen[nseeds] = fread(seeds[nseeds], 1, DRIVER_MAX, f);
		LLVMFuzzerTestOneInput(seeds[nseeds], seedlen[nseeds]);
		nseeds++;
	}
	fclose(f);
	return 0;
}

/** @brief The seed folder of this harness, under make check. */
static int driver_seed_dir(const char *argv0)
{
	const char *top = getenv("top_srcdir"), *base = strrchr(argv0, '/');
	char dir[1024], path[2048];
	struct dirent *e;
	DIR *d;

	base = base ? base + 1 : argv0;
	if (!top || strncmp(base, "fuzz_", 5) != 0)
		return 0;
	snprintf(dir, sizeof dir, "%s/tests/fuzz/seeds/%s", top, base + 5);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (driver_seed(path) < 0)
				break;
		}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t cur[DRIVER_MAX];
	size_t len = 0;
	const char *env = getenv("FUZZ_RUNS");
	long runs = env ? atol(env) : 20000;
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	for (int i = 1; i < argc; i++)
		if (driver_seed(argv[i]) < 0)
			return 99;
	if (argc == 1)
		driver_seed_dir(argv[0]);
	for (long r = 0; r < runs; r++) {
		uint64_t pick = driver_next(&s) % 8;
		if (pick == 0 || (nseeds == 0 && pick < 4)) {
			len = driver_next(&s) % 512;
			for (size_t i = 0; i < len; i++)
				cur[i] = (uint8_t)driver_next(&s);
		} else if (pick < 4 && nseeds) {
			size_t k = driver_next(&s) % nseeds;
			memcpy(cur, seeds[k], seedlen[k]);
			len = seedlen[k];
		}
		for (uint64_t m = driver_next(&s) % 4 + 1; m; m--)
			len = driver_mutate(cur, len, &s);
		LLVMFuzzerTestOneInput(cur, len);
	}
	printf("%s: %zu seeds and %ld generated inputs, no broken invariant\n",
	       argv[0], nseeds, runs);
	return 0;
}
