/* main.c - ssltunneld: command line, config check, start */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "console.h"
#include "log.h"
#include "hc.h"
#include "master.h"
#include "seed.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ssltunneld [-f] [-c FILE]        run the tunnels of FILE\n"
"       ssltunneld -t [-c FILE]          check FILE (certificates and keys too)\n"
"       ssltunneld connect HOST[:PORT] [--ca F] [--cert F --key F] [--path P]\n"
"                  [--credentials F]     log in and open tunnels from a prompt\n"
"       ssltunneld --hash-password       read a password, print its yescrypt hash\n"
"       ssltunneld relay-token URI KEYNAME KEYFILE [SECONDS]\n"
"                                        print a Hybrid Connections SAS token\n"
"       ssltunneld -r server --proxy_port P --server_port P [--server_host H]\n"
"                  --srv_pub_cert F --srv_prv_cert F --clt_pub_cert F\n"
"       ssltunneld -r client --proxy_port P --server_port P [--server_host H]\n"
"                  --srv_pub_cert F --clt_pub_cert F --clt_prv_cert F\n"
"                  [--keep_alive MS] [--log_level error|warn|info|log]\n"
"\n"
"  -c FILE  configuration file (default %s)\n"
"  -t       check the configuration and exit: 0 valid, 78 not\n"
"  -f       stay in the foreground\n"
"  -V       print the version\n"
"  -h       this help\n", CFG_DEFAULT_FILE);
}

enum { OPT_PROXY_PORT = 256, OPT_SERVER_PORT, OPT_SERVER_HOST,
       OPT_SRV_PUB, OPT_SRV_PRV, OPT_CLT_PUB, OPT_CLT_PRV,
       OPT_KEEP_ALIVE, OPT_LOG_LEVEL };

/* The node tool's flags, spelt with '_' or '-'. */
static const struct option main_long[] = {
	{ "role", required_argument, NULL, 'r' },
	{ "proxy_port", required_argument, NULL, OPT_PROXY_PORT },
	{ "proxy-port", required_argument, NULL, OPT_PROXY_PORT },
	{ "server_port", required_argument, NULL, OPT_SERVER_PORT },
	{ "server-port", required_argument, NULL, OPT_SERVER_PORT },
	{ "server_host", required_argument, NULL, OPT_SERVER_HOST },
	{ "server-host", required_argument, NULL, OPT_SERVER_HOST },
	{ "srv_pub_cert", required_argument, NULL, OPT_SRV_PUB },
	{ "srv-pub-cert", required_argument, NULL, OPT_SRV_PUB },
	{ "srv_prv_cert", required_argument, NULL, OPT_SRV_PRV },
	{ "srv-prv-cert", required_argument, NULL, OPT_SRV_PRV },
	{ "clt_pub_cert", required_argument, NULL, OPT_CLT_PUB },
	{ "clt-pub-cert", required_argument, NULL, OPT_CLT_PUB },
	{ "clt_prv_cert", required_argument, NULL, OPT_CLT_PRV },
	{ "clt-prv-cert", required_argument, NULL, OPT_CLT_PRV },
	{ "keep_alive", required_argument, NULL, OPT_KEEP_ALIVE },
	{ "keep-alive", required_argument, NULL, OPT_KEEP_ALIVE },
	{ "log_level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "list-settings", no_argument, NULL, 'L' },
	{ "hash-password", no_argument, NULL, 'H' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/** @brief --hash-password: one password (no echo on a terminal; else the
 *  first line of stdin), its yescrypt hash on stdout. */
static int main_hash_password(void)
{
	char pass[AUTH_PASS_MAX + 2], hash[AUTH_HASH_MAX], err[200];
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	int rc = 0;

	if (tty) {
		/* Echo off first, typed-ahead input kept (see console.c). */
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSADRAIN, &quiet);
		fputs("Password: ", stderr);
	}
	if (!fgets(pass, sizeof pass, stdin))
		pass[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &old);
		fputs("\n", stderr);
	}
	pass[strcspn(pass, "\r\n")] = '\0';
	if (auth_hash_password(pass, hash, sizeof hash, err, sizeof err) < 0) {
		fprintf(stderr, "ssltunneld: --hash-password: %s\n", err);
		rc = 1;
	} else {
		printf("%s\n", hash);
	}
	explicit_bzero(pass, sizeof pass);
	return rc;
}

/** @brief relay-token URI KEYNAME KEYFILE [SECONDS]: the token a
 *  listener or sender of the relay at URI ("wss://HOST/$hc/PATH" or
 *  "http://HOST/PATH") presents, valid for SECONDS (default 3600; a
 *  negative number makes one that has expired), for tools like curl. */
static int main_relay_token(int argc, char **argv)
{
	char host[HC_HOST_MAX], key[512], tok[HC_TOKEN_MAX], *end;
	const char *uri, *p, *slash;
	long long secs = 3600;
	size_t hl, kl;
	FILE *f;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: ssltunneld relay-token URI KEYNAME KEYFILE [SECONDS]\n");
		return 2;
	}
	uri = argv[1];
	if (argc == 5) {
		secs = strtoll(argv[4], &end, 10);
		if (*end || end == argv[4]) {
			fprintf(stderr, "ssltunneld: relay-token: SECONDS: expected a number, got \"%s\"\n", argv[4]);
			return 2;
		}
	}
	p = strstr(uri, "://");
	p = p ? p + 3 : uri;
	slash = strchr(p, '/');
	hl = strcspn(p, ":/");
	if (!slash || hl == 0 || hl >= sizeof host || p[hl] == '\0') {
		fprintf(stderr, "ssltunneld: relay-token: URI: expected wss://HOST/$hc/PATH or http://HOST/PATH\n");
		return 2;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	p = slash + 1;
	if (strncmp(p, "$hc/", 4) == 0)
		p += 4;
	if (!(f = fopen(argv[3], "re"))) {
		fprintf(stderr, "ssltunneld: relay-token: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	if (!fgets(key, sizeof key, f))
		key[0] = '\0';
	fclose(f);
	kl = strcspn(key, "\r\n");
	key[kl] = '\0';
	if (!kl || hc_token_make(host, p, argv[2], key, kl,
				 (long long)time(NULL) + secs, tok, sizeof tok) < 0) {
		explicit_bzero(key, sizeof key);
		fprintf(stderr, "ssltunneld: relay-token: %s\n",
			kl ? "the token does not fit" : "the key file is empty");
		return 1;
	}
	explicit_bzero(key, sizeof key);
	printf("%s\n", tok);
	return 0;
}

static void main_seed_listening(const struct cfg *c)
{
	seed_print_listening(c);
}

int main(int argc, char **argv)
{
	const char *file = CFG_DEFAULT_FILE;
	struct seed_opts seed = { 0 };
	int check = 0, foreground = 0, seed_mode = 0, opt;
	struct cfg cfg;
	struct tunnel *tunnels;
	char err[CFG_ERRLEN];

	if (argc > 1 && strcmp(argv[1], "connect") == 0)
		return console_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "relay-token") == 0)
		return main_relay_token(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "c:tfhVr:", main_long, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 't': check = 1; break;
		case 'f': foreground = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ssltunneld %s\n", PACKAGE_VERSION); return 0;
		case 'H':
			return main_hash_password();
		case 'L':
			/* For the man page check: what the parser accepts. */
			for (const char *const *n = cfg_setting_names(); *n; n++)
				printf("%s\n", *n);
			return 0;
		case 'r': seed.role = optarg; seed_mode = 1; break;
		case OPT_PROXY_PORT: seed.proxy_port = optarg; seed_mode = 1; break;
		case OPT_SERVER_PORT: seed.server_port = optarg; seed_mode = 1; break;
		case OPT_SERVER_HOST: seed.server_host = optarg; seed_mode = 1; break;
		case OPT_SRV_PUB: seed.srv_pub_cert = optarg; seed_mode = 1; break;
		case OPT_SRV_PRV: seed.srv_prv_cert = optarg; seed_mode = 1; break;
		case OPT_CLT_PUB: seed.clt_pub_cert = optarg; seed_mode = 1; break;
		case OPT_CLT_PRV: seed.clt_prv_cert = optarg; seed_mode = 1; break;
		case OPT_KEEP_ALIVE: seed.keep_alive = optarg; seed_mode = 1; break;
		case OPT_LOG_LEVEL: seed.log_level = optarg; seed_mode = 1; break;
		default: usage(stderr); return SEED_EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ssltunneld: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return SEED_EX_USAGE;
	}

	if (seed_mode) {
		if (seed_to_cfg(&seed, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "ssltunneld: %s\n", err);
			return SEED_EX_USAGE;
		}
		foreground = 1;
	} else if (cfg_load(&cfg, file, err, sizeof err) < 0) {
		fprintf(stderr, "ssltunneld: %s\n", err);
		return CFG_EX_CONFIG;
	}

	if (master_load_tunnels(&cfg, &tunnels, err, sizeof err) < 0) {
		fprintf(stderr, "ssltunneld: %s\n", err);
		cfg_free(&cfg);
		return CFG_EX_CONFIG;
	}
	/* At start the master logs them too, which is stderr already when
	 * log_target is. */
	for (size_t i = 0; i < cfg.warnings.n; i++)
		if (check || cfg.log_target != LOG_TARGET_STDERR)
			fprintf(stderr, "ssltunneld: warning: %s\n",
				cfg.warnings.v[i]);
	if (check) {
		printf("ssltunneld: %s: configuration is valid (%zu tunnel%s)\n",
		       cfg.path ? cfg.path : "command line", cfg.ntunnels,
		       cfg.ntunnels == 1 ? "" : "s");
		master_free_tunnels(tunnels, cfg.ntunnels);
		cfg_free(&cfg);
		return 0;
	}

	if (seed_mode)
		seed_print_start(&seed);
	/* master_run owns cfg and tunnels from here on. */
	struct master_opts mo = {
		.detach = !foreground,
		.on_listening = seed_mode ? main_seed_listening : NULL,
	};
	return master_run(&cfg, tunnels, &mo);
}
