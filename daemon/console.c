/* console.c - `ssltunneld connect HOST`: node-websocket-tunnel's console
 *
 * No configuration file: one client tunnel to HOST (WebSocket over TLS)
 * that the console's `tunnel` command clones. It asks for a user name
 * and a password (no echo), checks them with GET /auth (204 / 401, the
 * original's endpoint), then runs the daemon in the foreground with the
 * terminal as its console: the tunnels it opens are served by the
 * pre-forked workers like any other.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "console.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "timer.h"
#include "tls.h"

#define CONSOLE_TRIES 3		/* wrong passwords on a terminal */
#define CONSOLE_DEFAULT_PORT "443"

static void console_usage(FILE *f)
{
	fprintf(f,
"Usage: ssltunneld connect HOST[:PORT] [--ca FILE] [--cert FILE --key FILE]\n"
"                  [--path P] [--credentials FILE] [--server-name NAME]\n"
"                  [--workers N] [--log-level LEVEL]\n"
"\n"
"  Log in to the ssltunnel server at HOST (port 443 unless given) and open\n"
"  tunnels from a prompt: tunnel 3306 db:3306, list, close 1, help, exit.\n"
"  --ca FILE           CA certificates the server's certificate must chain\n"
"                      to (default: the system's trust store)\n"
"  --cert/--key FILE   a client certificate, if the server asks for one\n"
"  --path P            the server's WebSocket path (default /tunnel)\n"
"  --credentials FILE  \"user:password\" (mode 0600) instead of the prompts\n"
"  --server-name NAME  the name the server's certificate must carry\n"
"                      (default: HOST)\n"
"  --workers N         worker processes (default: one per CPU)\n"
"  --log-level LEVEL   error, warning (default), notice, info, debug\n");
}

/** @brief An absolute copy of @path (files are opened again by reloads
 *  and workers; the config code expects absolute paths). */
static char *console_abs(const char *path)
{
	char *abs = realpath(path, NULL);

	return abs ? abs : strdup(path);
}

/** @brief Read one line from stdin into @buf without its newline;
 *  @echo off for a password on a terminal. -1 at end of input. */
static int console_read_line(const char *prompt, char *buf, size_t len,
			     int echo)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), rc = 0;

	/* Echo goes off before the prompt shows, and input typed ahead is
	 * kept (TCSADRAIN, not TCSAFLUSH): a quick typist's password is
	 * neither echoed nor lost. */
	if (!echo && tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSADRAIN, &quiet);
	} else {
		tty = 0;
	}
	fputs(prompt, stdout);
	fflush(stdout);
	if (!fgets(buf, (int)len, stdin))
		rc = -1;
	if (tty)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &old);
	if (rc == 0)
		buf[strcspn(buf, "\r\n")] = '\0';
	return rc;
}

/** @brief Wait for @fd to be ready (@events) until @deadline; 0 or -1. */
static int console_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { fd, events, 0 };
	uint64_t now = timer_now_ms();

	if (now >= deadline)
		return -1;
	return poll(&p, 1, (int)(deadline - now)) == 1 ? 0 : -1;
}

/** @brief A TCP connection to the tunnel's server, within
 *  connect_timeout; -1 with @err. */
static int console_dial(const struct cfg_tunnel *t, char *err, size_t errlen)
{
	uint64_t deadline = timer_now_ms() + 1000ULL * t->connect_timeout;
	int e = ETIMEDOUT;

	for (int i = 0; i < t->connect_ep.naddrs; i++) {
		int fd = net_connect_start(&t->connect_ep.addrs[i]);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (console_wait(fd, POLLOUT, deadline) == 0 &&
		    (e = net_connect_result(fd)) == 0)
			return fd;
		close(fd);
	}
	snprintf(err, errlen, "cannot connect to %s: %s", t->connect, strerror(e));
	return -1;
}

/** @brief GET /auth with @basic ("Basic ...") on a fresh TLS connection:
 *  the HTTP status (204 good, 401 not), or -1 with @err. */
static int console_check(struct tunnel *tun, const char *basic, char *err,
			 size_t errlen)
{
	const struct cfg_tunnel *t = tun->cfg;
	uint64_t deadline = timer_now_ms() + 1000ULL * t->handshake_timeout;
	gnutls_session_t s = NULL;
	struct tls_check check;
	struct http_response r;
	char req[1024], extra[600], in[HTTP_MAX_HEAD];
	size_t inlen = 0, off = 0;
	int fd, rc, n, status = -1;

	if ((fd = console_dial(t, err, errlen)) < 0)
		return -1;
	if ((rc = tls_session_new(&s, &tun->tls, fd, &check, NULL)) < 0) {
		snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
		goto out;
	}
	while ((rc = gnutls_handshake(s)) < 0) {
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
			if (check.failed)
				snprintf(err, errlen, "server %s: %s", t->connect,
					 check.reason);
			else
				tls_handshake_reason(s, rc, err, errlen);
			goto out;
		}
		if (console_wait(fd, gnutls_record_get_direction(s) ? POLLOUT :
				 POLLIN, deadline) < 0) {
			snprintf(err, errlen, "TLS handshake with %s timed out",
				 t->connect);
			goto out;
		}
	}
	snprintf(extra, sizeof extra, "Authorization: %s\r\n", basic);
	n = http_format_request(req, sizeof req, "GET", "/auth",
				t->host_header ? t->host_header : t->connect,
				extra);
	explicit_bzero(extra, sizeof extra);
	if (n < 0) {
		snprintf(err, errlen, "the request does not fit");
		goto out;
	}
	while (off < (size_t)n) {
		ssize_t w = gnutls_record_send(s, req + off, n - off);
		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
			if (console_wait(fd, POLLOUT, deadline) < 0)
				break;
			continue;
		}
		if (w < 0)
			break;
		off += w;
	}
	explicit_bzero(req, sizeof req);
	for (;;) {
		ssize_t got;
		if (off < (size_t)n) {
			snprintf(err, errlen, "sending to %s failed", t->connect);
			goto out;
		}
		rc = http_parse_response(in, inlen, HTTP_MAX_HEAD, &r, err, errlen);
		if (rc >= 0) {
			status = r.status;
			goto out;
		}
		if (rc != HTTP_INCOMPLETE || inlen == sizeof in) {
			snprintf(err, errlen, "server %s: not an HTTP answer", t->connect);
			goto out;
		}
		got = gnutls_record_recv(s, in + inlen, sizeof in - inlen);
		if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) {
			if (console_wait(fd, POLLIN, deadline) < 0) {
				snprintf(err, errlen, "server %s did not answer in time",
					 t->connect);
				goto out;
			}
			continue;
		}
		if (got <= 0) {
			snprintf(err, errlen, "server %s closed the connection without answering",
				 t->connect);
			goto out;
		}
		inlen += got;
	}
out:
	if (s) {
		gnutls_bye(s, GNUTLS_SHUT_WR);
		gnutls_deinit(s);
	}
	close(fd);
	return status;
}

/** @brief Ask for credentials on the terminal until GET /auth takes them
 *  (a few tries), or check the --credentials file once. 0 or -1. */
static int console_login(struct tunnel *tun, int from_file)
{
	struct cfg_tunnel *t = (struct cfg_tunnel *)tun->cfg;
	char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX], line[AUTH_USER_MAX + AUTH_PASS_MAX + 2];
	char err[512];

	for (int i = 0; i < CONSOLE_TRIES; i++) {
		int st;

		if (!from_file) {
			if (console_read_line("Username: ", user, sizeof user, 1) < 0 ||
			    console_read_line("Password: ", pass, sizeof pass, 0) < 0) {
				fprintf(stderr, "ssltunneld: no credentials given\n");
				return -1;
			}
			snprintf(line, sizeof line, "%s:%s", user, pass);
			explicit_bzero(pass, sizeof pass);
			free(t->credentials);
			t->credentials = NULL;
			free(t->cred_user);
			t->cred_user = strdup(user);
			if (cfg_basic_auth(line, strlen(line), &t->credentials) < 0 ||
			    !t->cred_user) {
				explicit_bzero(line, sizeof line);
				fprintf(stderr, "ssltunneld: out of memory\n");
				return -1;
			}
			explicit_bzero(line, sizeof line);
		}
		st = console_check(tun, t->credentials, err, sizeof err);
		if (st == 204 || st == 200) {
			printf("Authenticated Successfully.\n");
			return 0;
		}
		if (st < 0) {
			fprintf(stderr, "Error: %s\n", err);
			return -1;
		}
		if (st == 401 || st == 403) {
			printf("Error: invalid credentials.\n");
		} else if (st == 429) {
			printf("Error: too many failed logins from this address; try again later.\n");
			return -1;
		} else {
			printf("Error: the server answered GET /auth with %d.\n", st);
			return -1;
		}
		if (from_file)
			return -1;
	}
	return -1;
}

int console_main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "path", required_argument, NULL, 'p' },
		{ "credentials", required_argument, NULL, 'C' },
		{ "server-name", required_argument, NULL, 'n' },
		{ "workers", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *path = NULL;
	const char *creds = NULL, *name = NULL, *level = "warning";
	struct master_opts mo = { .console = 1, .console_via = "console" };
	struct cfg cfg;
	struct cfg_tunnel *t;
	struct tunnel *tunnels;
	char err[CFG_ERRLEN];
	int opt, workers = 0, lvl;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (opt) {
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'p': path = optarg; break;
		case 'C': creds = optarg; break;
		case 'n': name = optarg; break;
		case 'w': workers = atoi(optarg); break;
		case 'l': level = optarg; break;
		case 'h': console_usage(stdout); return 0;
		default: console_usage(stderr); return 64;
		}
	}
	if (optind != argc - 1) {
		console_usage(stderr);
		return 64;
	}
	if (!cert != !key) {
		fprintf(stderr, "ssltunneld connect: --cert and --key go together\n");
		return 64;
	}
	if ((lvl = log_level_parse(level)) < 0) {
		fprintf(stderr, "ssltunneld connect: --log-level: expected error, warning, notice, info or debug\n");
		return 64;
	}
	if (!creds && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "ssltunneld connect: no terminal to ask for the password on: give --credentials FILE\n");
		return 64;
	}
	cfg_daemon_defaults(&cfg);
	cfg.log_target = LOG_TARGET_STDERR;
	cfg.log_level = lvl;
	cfg.drain_timeout = 0;		/* exit closes the tunnels at once */
	if (workers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n > 0 ? (n > 64 ? 64 : (int)n) : 1;
	}
	cfg.workers = workers;
	cfg.auth_parallel = 1;		/* the console verifies no password */
	if (!(cfg.tunnels = calloc(1, sizeof *cfg.tunnels)))
		return 1;
	cfg.ntunnels = 1;
	t = &cfg.tunnels[0];
	cfg_tunnel_defaults(t);
	t->role = CFG_ROLE_CLIENT;
	t->transport = CFG_TRANSPORT_WEBSOCKET;
	t->name = strdup("console");
	if (strchr(argv[optind], ':') &&
	    (argv[optind][0] != '[' || strstr(argv[optind], "]:")))
		t->connect = strdup(argv[optind]);
	else if (asprintf(&t->connect, "%s:%s", argv[optind],
			  CONSOLE_DEFAULT_PORT) < 0)
		t->connect = NULL;
	t->ca_file = ca ? console_abs(ca) : NULL;
	t->cert_file = cert ? console_abs(cert) : NULL;
	t->key_file = key ? console_abs(key) : NULL;
	t->path = path ? strdup(path) : NULL;
	t->server_name = name ? strdup(name) : NULL;
	t->credentials_file = creds ? console_abs(creds) : NULL;
	if (!t->name || !t->connect) {
		cfg_free(&cfg);
		return 1;
	}
	if (cfg_tunnel_finish(t, err, sizeof err) < 0 ||
	    (creds && cfg_read_credentials(t, geteuid(), err, sizeof err) < 0) ||
	    master_load_tunnels(&cfg, &tunnels, err, sizeof err) < 0) {
		fprintf(stderr, "ssltunneld connect: %s\n", err);
		cfg_free(&cfg);
		return 78;
	}
	printf("ssltunnel console: server %s, WebSocket at %s%s\n", t->connect,
	       t->path, t->cert_file ? ", with a client certificate" : "");
	if (console_login(&tunnels[0], creds != NULL) < 0) {
		master_free_tunnels(tunnels, cfg.ntunnels);
		cfg_free(&cfg);
		return 1;
	}
	printf("Type help for the commands.\n");
	fflush(stdout);
	return master_run(&cfg, tunnels, &mo);
}
