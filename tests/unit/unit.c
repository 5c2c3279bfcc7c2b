/* unit.c - what the Check suites share: a scratch folder and files in it */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unit.h"

static char unit_tmp[256];

void unit_init(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(unit_tmp, sizeof unit_tmp, "%s/ssltunnel-unit.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(unit_tmp)) {
		fprintf(stderr, "unit: mkdtemp %s: %s\n", unit_tmp,
			strerror(errno));
		exit(99);
	}
}

void *unit_keep(void *p)
{
	static void **kept;
	static size_t n, cap;

	if (n == cap) {
		void **k = realloc(kept, (cap ? 2 * cap : 64) * sizeof *k);
		if (!k)
			abort();
		kept = k;
		cap = cap ? 2 * cap : 64;
	}
	kept[n++] = p;
	return p;
}

const char *unit_dir(void)
{
	return unit_tmp;
}

/** @brief mkdir -p of the folders above @path. */
static void unit_mkparents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
}

char *unit_write(const char *name, const char *text)
{
	char *path;
	FILE *f;

	ck_assert(asprintf(&path, "%s/%s", unit_tmp, name) > 0);
	unit_mkparents(path);
	f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s: %s", path, strerror(errno));
	ck_assert(fputs(text, f) >= 0);
	ck_assert(fclose(f) == 0);
	return unit_keep(path);
}

static int unit_rm(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	remove(path);
	return 0;
}

int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(unit_tmp, unit_rm, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? 1 : 0;
}
