/* test_cfg.c - the config file: what a good file yields, and the exact
 * message of every way a file can be wrong */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "auth.h"
#include "cfg.h"
#include "tls.h"
#include "unit.h"

/* One server tunnel, one setting a line: "{" on line 2, name on 3, role
 * on 4, listen 5, connect 6, cert_file 7, key_file 8, ca_file 9, and
 * line 10 free for one more setting. */
#define TUN_HEAD(role) \
	"tunnels = (\n" \
	"  {\n" \
	"    name = \"web\";\n" \
	"    role = \"" role "\";\n" \
	"    listen = \"127.0.0.1:50443\";\n" \
	"    connect = \"127.0.0.1:50080\";\n" \
	"    cert_file = \"server.pem\";\n" \
	"    key_file = \"server.key\";\n" \
	"    ca_file = \"ca.pem\";\n"
#define SRV(extra) TUN_HEAD("server") "    " extra "\n  }\n);\n"
/* The same tunnel with role "client". */
#define CLI(extra) TUN_HEAD("client") "    " extra "\n  }\n);\n"

/** @brief @text with the first @from replaced by @to (lines stay put as
 *  long as neither holds a newline). */
static const char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	ck_assert_msg(at, "test bug: \"%s\" not in the config text", from);
	ck_assert(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to,
			   at + strlen(from)) > 0);
	return unit_keep(out);
}

/** @brief Write @text as the test's config file and load it. */
static int load(struct cfg *c, const char *text, const char **path,
		char *err)
{
	static char *p;

	free(p);
	p = unit_write("t.conf", text);
	*path = p;
	return cfg_load(c, p, err, CFG_ERRLEN);
}

static void load_ok(struct cfg *c, const char *text)
{
	char err[CFG_ERRLEN];
	const char *path;

	ck_assert_msg(load(c, text, &path, err) == 0,
		      "cfg_load failed: %s\n--- config:\n%s", err, text);
}

/* The error must be exactly "<config path><want>". */
#define EXPECT_ERR(text, want) do { \
		struct cfg c_; \
		char e_[CFG_ERRLEN], w_[CFG_ERRLEN]; \
		const char *p_; \
		const char *t_ = (text); \
		ck_assert_msg(load(&c_, t_, &p_, e_) == -1, \
			      "cfg_load accepted:\n%s", t_); \
		snprintf(w_, sizeof w_, "%s%s", p_, (want)); \
		ck_assert_str_eq(e_, w_); \
		ck_assert_ptr_null(c_.tunnels); \
	} while (0)

static const char *dir_file(const char *name)
{
	char *p;

	ck_assert(asprintf(&p, "%s/%s", unit_dir(), name) > 0);
	return unit_keep(p);
}

static const char *ep_str(const struct net_endpoint *ep, int i)
{
	static char buf[4][NET_ADDRSTRLEN];
	static int next;
	char *b = buf[next++ % 4];

	ck_assert_int_lt(i, ep->naddrs);
	return net_addr_str((const struct sockaddr *)&ep->addrs[i].ss, b,
			    NET_ADDRSTRLEN);
}

static const unsigned char abc_sha256[32] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_B64 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="

/* ---- good files ---- */

static const char full_example[] =
	"# every setting once\n"
	"daemon = {\n"
	"  workers = 3;\n"
	"  log_level = \"info\";\n"
	"  log_target = \"stderr\";\n"
	"  pid_file = \"run/ssltunneld.pid\";\n"
	"  ktls = \"off\";\n"
	"};\n"
	"defaults = {\n"
	"  handshake_timeout = 5;\n"
	"  connect_timeout = 7;\n"
	"  keepalive = { idle = 60; interval = 5; count = 4; };\n"
	"  ca_file = \"/etc/ssl/ca.pem\";\n"
	"};\n"
	"tunnels = (\n"
	"  { name = \"in\"; role = \"server\";\n"
	"    listen = \"127.0.0.1:50443\"; connect = \"127.0.0.1:50080\";\n"
	"    cert_file = \"server.pem\"; key_file = \"keys/server.key\";\n"
	"    allow_cn = [ \"client1\", \"client2\" ];\n"
	"    allow_dns = [ \"client.example.com\" ];\n"
	"    allow_uri = [ \"spiffe://example.org/client\" ];\n"
	"    pin_sha256 = [ \"" ABC_HEX "\" ];\n"
	"  },\n"
	"  { name = \"out.2_b-c\"; role = \"client\";\n"
	"    listen = \"[::1]:50081\"; connect = \"127.0.0.1:50443\";\n"
	"    server_name = \"server.example.com\";\n"
	"    cert_file = \"client.pem\"; key_file = \"client.key\";\n"
	"    ca_file = \"ca2.pem\";\n"
	"    handshake_timeout = 20;\n"
	"    keepalive = false;\n"
	"  }\n"
	");\n";

START_TEST(full_example_loads)
{
	struct cfg c;
	const struct cfg_tunnel *in, *out;
	char *real;

	load_ok(&c, full_example);
	real = unit_keep(realpath(dir_file("t.conf"), NULL));
	ck_assert_str_eq(c.path, real);
	ck_assert_int_eq(c.workers, 3);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_int_eq(c.log_target, LOG_TARGET_STDERR);
	ck_assert_str_eq(c.pid_file, dir_file("run/ssltunneld.pid"));
	ck_assert_int_eq(c.ktls, CFG_KTLS_OFF);
	ck_assert_uint_eq(c.ntunnels, 2);

	in = &c.tunnels[0];
	ck_assert_str_eq(in->name, "in");
	ck_assert_int_eq(in->role, CFG_ROLE_SERVER);
	ck_assert_str_eq(in->listen, "127.0.0.1:50443");
	ck_assert_str_eq(in->connect, "127.0.0.1:50080");
	ck_assert_int_eq(in->listen_ep.naddrs, 1);
	ck_assert_str_eq(ep_str(&in->listen_ep, 0), "127.0.0.1:50443");
	ck_assert_str_eq(ep_str(&in->connect_ep, 0), "127.0.0.1:50080");
	ck_assert_str_eq(in->cert_file, dir_file("server.pem"));
	ck_assert_str_eq(in->key_file, dir_file("keys/server.key"));
	ck_assert_str_eq(in->ca_file, "/etc/ssl/ca.pem");
	ck_assert_ptr_null(in->server_name);
	ck_assert_uint_eq(in->allow_cn.n, 2);
	ck_assert_str_eq(in->allow_cn.v[0], "client1");
	ck_assert_str_eq(in->allow_cn.v[1], "client2");
	ck_assert_uint_eq(in->allow_dns.n, 1);
	ck_assert_str_eq(in->allow_dns.v[0], "client.example.com");
	ck_assert_uint_eq(in->allow_uri.n, 1);
	ck_assert_str_eq(in->allow_uri.v[0], "spiffe://example.org/client");
	ck_assert_uint_eq(in->npins, 1);
	ck_assert_mem_eq(in->pins[0], abc_sha256, 32);
	ck_assert_int_eq(in->handshake_timeout, 5);
	ck_assert_int_eq(in->connect_timeout, 7);
	ck_assert_int_eq(in->keepalive.idle, 60);
	ck_assert_int_eq(in->keepalive.interval, 5);
	ck_assert_int_eq(in->keepalive.count, 4);
	ck_assert_int_eq(in->line, 16);

	out = &c.tunnels[1];
	ck_assert_str_eq(out->name, "out.2_b-c");
	ck_assert_int_eq(out->role, CFG_ROLE_CLIENT);
	ck_assert_str_eq(ep_str(&out->listen_ep, 0), "[::1]:50081");
	ck_assert_str_eq(out->server_name, "server.example.com");
	ck_assert_str_eq(out->ca_file, dir_file("ca2.pem"));
	ck_assert_uint_eq(out->allow_cn.n, 0);
	ck_assert_uint_eq(out->npins, 0);
	ck_assert_int_eq(out->handshake_timeout, 20);
	ck_assert_int_eq(out->connect_timeout, 7);
	ck_assert_int_eq(out->keepalive.idle, 0);
	ck_assert_int_eq(out->verify_name, 1);
	cfg_free(&c);
	ck_assert_ptr_null(c.tunnels);
	ck_assert_uint_eq(c.ntunnels, 0);
}
END_TEST

START_TEST(built_in_defaults)
{
	struct cfg c;
	const struct cfg_tunnel *t;

	load_ok(&c, SRV(""));
	ck_assert_int_ge(c.workers, 1);
	ck_assert_int_eq(c.log_level, LOG_NOTICE);
	ck_assert_int_eq(c.log_target, LOG_TARGET_SYSLOG);
	ck_assert_ptr_null(c.pid_file);
	ck_assert_int_eq(c.ktls, CFG_KTLS_AUTO);
	ck_assert_int_eq(c.seccomp, CFG_SECCOMP_AUTO);
	t = &c.tunnels[0];
	ck_assert_int_eq(t->handshake_timeout, 10);
	ck_assert_int_eq(t->connect_timeout, 10);
	ck_assert_int_eq(t->keepalive.idle, 30);
	ck_assert_int_eq(t->keepalive.interval, 10);
	ck_assert_int_eq(t->keepalive.count, 3);
	ck_assert_uint_eq(t->allow_cn.n + t->allow_dns.n + t->allow_uri.n, 0);
	ck_assert_uint_eq(t->npins, 0);
	ck_assert_int_eq(t->line, 2);
	cfg_free(&c);
}
END_TEST

START_TEST(workers_zero_means_one_per_cpu)
{
	struct cfg c;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	load_ok(&c, "daemon = { workers = 0; };\n" SRV(""));
	ck_assert_int_ge(c.workers, 1);
	ck_assert_int_le(c.workers, 1024);
	if (n > 0 && n <= 1024)
		ck_assert_int_eq(c.workers, n);
	cfg_free(&c);

	load_ok(&c, "daemon = { workers = 1024; };\n" SRV(""));
	ck_assert_int_eq(c.workers, 1024);
	cfg_free(&c);
}
END_TEST

START_TEST(each_word_of_each_enum)
{
	static const struct { const char *conf; int level; } levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	struct cfg c;
	char *text;

	for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
		ck_assert(asprintf(&text, "daemon = { log_level = \"%s\"; };\n%s",
				   levels[i].conf, SRV("")) > 0);
		load_ok(&c, text);
		ck_assert_int_eq(c.log_level, levels[i].level);
		cfg_free(&c);
		free(text);
	}
	load_ok(&c, "daemon = { log_target = \"syslog\"; ktls = \"on\"; };\n" SRV(""));
	ck_assert_int_eq(c.log_target, LOG_TARGET_SYSLOG);
	ck_assert_int_eq(c.ktls, CFG_KTLS_ON);
	cfg_free(&c);
	load_ok(&c, "daemon = { ktls = \"auto\"; seccomp = false; };\n" CLI(""));
	ck_assert_int_eq(c.ktls, CFG_KTLS_AUTO);
	ck_assert_int_eq(c.seccomp, CFG_SECCOMP_OFF);
	cfg_free(&c);
	load_ok(&c, "daemon = { seccomp = true; };\n" CLI(""));
	ck_assert_int_eq(c.seccomp, CFG_SECCOMP_ON);
	ck_assert_int_eq(c.tunnels[0].role, CFG_ROLE_CLIENT);
	cfg_free(&c);
}
END_TEST

START_TEST(daemon_log_file_user_chroot)
{
	struct cfg c;
	const struct passwd *nobody = getpwnam("nobody");

	ck_assert_ptr_nonnull(nobody);

	unit_write("jail/.keep", "");
	load_ok(&c, "daemon = {\n"
		"  log_target = \"/var/log/ssltunneld.log\";\n"
		"  user = \"nobody\"; group = \"root\";\n"
		"  chroot = \"jail\";\n"
		"  drain_timeout = 0;\n"
		"};\n" SRV(""));
	ck_assert_int_eq(c.log_target, LOG_TARGET_FILE);
	ck_assert_str_eq(c.log_file, "/var/log/ssltunneld.log");
	ck_assert_str_eq(c.user, "nobody");
	ck_assert_uint_eq(c.uid, nobody->pw_uid);
	ck_assert_str_eq(c.group, "root");
	ck_assert_uint_eq(c.gid, 0);
	ck_assert_str_eq(c.chroot, dir_file("jail"));
	ck_assert_int_eq(c.drain_timeout, 0);
	cfg_free(&c);

	/* the user's own group unless a group is given */
	load_ok(&c, "daemon = {\n"
		"  log_target = \"stderr\";\n"
		"  user = \"nobody\";\n"
		"};\n" SRV(""));
	ck_assert_int_eq(c.log_target, LOG_TARGET_STDERR);
	ck_assert_ptr_null(c.log_file);
	ck_assert_uint_eq(c.gid, nobody->pw_gid);
	ck_assert_int_eq(c.drain_timeout, 30);
	cfg_free(&c);
}
END_TEST

START_TEST(defaults_inherited_and_overridden)
{
	struct cfg c;
	const struct cfg_tunnel *a, *b;

	load_ok(&c,
		"defaults = {\n"
		"  role = \"server\";\n"
		"  connect = \"127.0.0.1:50080\";\n"
		"  cert_file = \"d.pem\"; key_file = \"d.key\"; ca_file = \"dca.pem\";\n"
		"  allow_cn = [ \"client1\" ];\n"
		"  pin_sha256 = \"sha256//" ABC_B64 "\";\n"
		"  handshake_timeout = 3;\n"
		"  keepalive = { idle = 100; interval = 20; count = 5; };\n"
		"};\n"
		"tunnels = (\n"
		"  { name = \"a\"; listen = \"127.0.0.1:50443\"; },\n"
		"  { name = \"b\"; listen = \"127.0.0.1:50444\";\n"
		"    connect = \"127.0.0.1:50081\"; cert_file = \"/abs/b.pem\";\n"
		"    allow_cn = [ \"client9\" ]; pin_sha256 = [ ];\n"
		"    handshake_timeout = 30; keepalive = { idle = 7; }; }\n"
		");\n");
	ck_assert_uint_eq(c.ntunnels, 2);
	a = &c.tunnels[0];
	ck_assert_int_eq(a->role, CFG_ROLE_SERVER);
	ck_assert_str_eq(a->connect, "127.0.0.1:50080");
	ck_assert_str_eq(a->cert_file, dir_file("d.pem"));
	ck_assert_str_eq(a->key_file, dir_file("d.key"));
	ck_assert_str_eq(a->ca_file, dir_file("dca.pem"));
	ck_assert_uint_eq(a->allow_cn.n, 1);
	ck_assert_str_eq(a->allow_cn.v[0], "client1");
	ck_assert_uint_eq(a->npins, 1);
	ck_assert_mem_eq(a->pins[0], abc_sha256, 32);
	ck_assert_int_eq(a->handshake_timeout, 3);
	ck_assert_int_eq(a->connect_timeout, 10);
	ck_assert_int_eq(a->keepalive.idle, 100);
	ck_assert_int_eq(a->keepalive.interval, 20);
	ck_assert_int_eq(a->keepalive.count, 5);

	b = &c.tunnels[1];
	ck_assert_str_eq(b->connect, "127.0.0.1:50081");
	ck_assert_str_eq(b->cert_file, "/abs/b.pem");
	ck_assert_str_eq(b->key_file, dir_file("d.key"));
	ck_assert_uint_eq(b->allow_cn.n, 1);
	ck_assert_str_eq(b->allow_cn.v[0], "client9");
	ck_assert_uint_eq(b->npins, 0);
	ck_assert_uint_eq(b->pin_sha256.n, 0);
	ck_assert_int_eq(b->handshake_timeout, 30);
	/* a keepalive group overrides only what it names */
	ck_assert_int_eq(b->keepalive.idle, 7);
	ck_assert_int_eq(b->keepalive.interval, 20);
	ck_assert_int_eq(b->keepalive.count, 5);
	/* the first tunnel's lists are its own copies */
	ck_assert_ptr_ne(a->allow_cn.v, b->allow_cn.v);
	cfg_free(&c);
}
END_TEST

START_TEST(keepalive_false_and_true)
{
	struct cfg c;

	load_ok(&c, SRV("keepalive = false;"));
	ck_assert_int_eq(c.tunnels[0].keepalive.idle, 0);
	cfg_free(&c);

	load_ok(&c, SRV("keepalive = true;"));
	ck_assert_int_eq(c.tunnels[0].keepalive.idle, 30);
	ck_assert_int_eq(c.tunnels[0].keepalive.interval, 10);
	ck_assert_int_eq(c.tunnels[0].keepalive.count, 3);
	cfg_free(&c);

	/* switched off for all, back on for one */
	load_ok(&c, "defaults = { keepalive = false; };\n" SRV("keepalive = true;"));
	ck_assert_int_eq(c.tunnels[0].keepalive.idle, 30);
	cfg_free(&c);
	load_ok(&c, "defaults = { keepalive = false; };\n" SRV(""));
	ck_assert_int_eq(c.tunnels[0].keepalive.idle, 0);
	cfg_free(&c);

	load_ok(&c, SRV("keepalive = { idle = 0; };"));
	ck_assert_int_eq(c.tunnels[0].keepalive.idle, 0);
	cfg_free(&c);
}
END_TEST

START_TEST(relative_paths_from_config_folder)
{
	struct cfg c;
	char err[CFG_ERRLEN], *cwd;
	const char *conf;

	conf = unit_write("etc/sub/x.conf",
			  "daemon = { pid_file = \"../x.pid\"; };\n"
			  "defaults = { ca_file = \"certs/ca.pem\"; };\n" SRV(""));
	cwd = getcwd(NULL, 0);
	/* loaded by a relative name from elsewhere: still the file's folder */
	ck_assert_int_eq(chdir(unit_dir()), 0);
	ck_assert_msg(cfg_load(&c, "etc/sub/x.conf", err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(c.path, unit_keep(realpath(conf, NULL)));
	ck_assert_str_eq(c.tunnels[0].cert_file, dir_file("etc/sub/server.pem"));
	ck_assert_str_eq(c.tunnels[0].key_file, dir_file("etc/sub/server.key"));
	ck_assert_str_eq(c.tunnels[0].ca_file, dir_file("etc/sub/ca.pem"));
	unit_write("etc/x.pid", "");
	ck_assert_msg(c.pid_file[0] == '/' && access(c.pid_file, F_OK) == 0,
		      "pid_file %s does not name %s", c.pid_file,
		      dir_file("etc/x.pid"));
	cfg_free(&c);
	free(cwd);
}
END_TEST

START_TEST(relative_paths_in_defaults)
{
	struct cfg c;
	char err[CFG_ERRLEN];
	const char *conf;

	conf = unit_write("etc2/y.conf",
			  edit("defaults = { ca_file = \"certs/ca.pem\"; };\n" SRV(""),
			       "ca_file = \"ca.pem\";", ""));
	ck_assert_msg(cfg_load(&c, conf, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(c.tunnels[0].ca_file, dir_file("etc2/certs/ca.pem"));
	cfg_free(&c);
}
END_TEST

START_TEST(server_name_defaults_to_connect_host)
{
	struct cfg c;

	load_ok(&c, edit(CLI(""), "127.0.0.1:50080", "localhost:50443"));
	ck_assert_str_eq(c.tunnels[0].server_name, "localhost");
	cfg_free(&c);

	load_ok(&c, edit(CLI(""), "127.0.0.1:50080", "[::1]:443"));
	ck_assert_str_eq(c.tunnels[0].server_name, "::1");
	cfg_free(&c);

	load_ok(&c, CLI("server_name = \"backend.example.com\";"));
	ck_assert_str_eq(c.tunnels[0].server_name, "backend.example.com");
	cfg_free(&c);

	load_ok(&c, SRV(""));
	ck_assert_ptr_null(c.tunnels[0].server_name);
	cfg_free(&c);
}
END_TEST

START_TEST(single_string_is_a_one_item_list)
{
	struct cfg c;
	const struct cfg_tunnel *t;

	load_ok(&c, edit(SRV("allow_cn = \"client1\";"), "ca_file = \"ca.pem\";",
			 "allow_dns = \"a.example\"; allow_uri = \"urn:x\"; "
			 "pin_sha256 = \"" ABC_B64 "\"; ca_file = \"ca.pem\";"));
	t = &c.tunnels[0];
	ck_assert_uint_eq(t->allow_cn.n, 1);
	ck_assert_str_eq(t->allow_cn.v[0], "client1");
	ck_assert_uint_eq(t->allow_dns.n, 1);
	ck_assert_str_eq(t->allow_dns.v[0], "a.example");
	ck_assert_uint_eq(t->allow_uri.n, 1);
	ck_assert_str_eq(t->allow_uri.v[0], "urn:x");
	ck_assert_uint_eq(t->npins, 1);
	ck_assert_mem_eq(t->pins[0], abc_sha256, 32);
	cfg_free(&c);

	/* a list in ( ) works as well as an array in [ ] */
	load_ok(&c, SRV("allow_cn = ( \"a\", \"b\", \"c\" );"));
	ck_assert_uint_eq(c.tunnels[0].allow_cn.n, 3);
	ck_assert_str_eq(c.tunnels[0].allow_cn.v[2], "c");
	cfg_free(&c);
}
END_TEST

START_TEST(pins_in_every_spelling)
{
	struct cfg c;
	char colons[3 * 32];
	char *text;

	for (int i = 0; i < 32; i++)
		snprintf(colons + 3 * i, 4, "%02X%s", abc_sha256[i],
			 i < 31 ? ":" : "");
	ck_assert(asprintf(&text, TUN_HEAD("server") "    pin_sha256 = [ \"%s\", \"%s\", "
			   "\"sha256//%s\", \"%s\" ];\n  }\n);\n",
			   ABC_HEX, colons, ABC_B64, ABC_B64) > 0);
	load_ok(&c, text);
	ck_assert_uint_eq(c.tunnels[0].npins, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_mem_eq(c.tunnels[0].pins[i], abc_sha256, 32);
	cfg_free(&c);
	free(text);
}
END_TEST

START_TEST(two_tunnels_same_port_other_address)
{
	struct cfg c;

	load_ok(&c,
		"tunnels = (\n"
		"  { name = \"a\"; role = \"server\"; listen = \"127.0.0.1:50443\";\n"
		"    connect = \"127.0.0.1:1\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		"  { name = \"b\"; role = \"server\"; listen = \"127.0.0.2:50443\";\n"
		"    connect = \"127.0.0.1:1\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; }\n"
		");\n");
	ck_assert_uint_eq(c.ntunnels, 2);
	ck_assert_int_eq(c.tunnels[1].line, 4);
	cfg_free(&c);
}
END_TEST

START_TEST(name_of_64_characters)
{
	struct cfg c;
	char name[65], quoted[68];

	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(quoted, sizeof quoted, "\"%s\"", name);
	load_ok(&c, edit(SRV(""), "\"web\"", quoted));
	ck_assert_str_eq(c.tunnels[0].name, name);
	cfg_free(&c);
}
END_TEST

/* Every name cfg_setting_names() lists is one the parser takes: given a
 * value of the wrong type, it must complain about the type, not call the
 * setting unknown. */
START_TEST(setting_names_match_the_parser)
{
	static const char *const want[] = {
		"daemon.workers", "daemon.log_level", "daemon.log_target",
		"daemon.pid_file", "daemon.ktls", "daemon.seccomp",
		"tunnels.name", "tunnels.role", "tunnels.listen",
		"tunnels.connect", "tunnels.cert_file", "tunnels.key_file",
		"tunnels.ca_file", "tunnels.server_name", "tunnels.allow_cn",
		"tunnels.allow_dns", "tunnels.allow_uri", "tunnels.pin_sha256",
		"tunnels.handshake_timeout", "tunnels.connect_timeout",
		"tunnels.keepalive", "tunnels.keepalive.idle",
		"tunnels.keepalive.interval", "tunnels.keepalive.count",
	};
	const char *const *names = cfg_setting_names();
	size_t n = 0;

	ck_assert_ptr_eq(names, cfg_setting_names());
	for (; names[n]; n++) {
		for (size_t j = 0; j < n; j++)
			ck_assert_str_ne(names[n], names[j]);
	}
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		size_t j = 0;
		while (names[j] && strcmp(names[j], want[i]))
			j++;
		ck_assert_msg(names[j], "%s missing from cfg_setting_names()",
			      want[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct cfg c;
		char err[CFG_ERRLEN], *text;
		const char *path;

		if (strncmp(names[i], "daemon.", 7) == 0)
			ck_assert(asprintf(&text, "daemon = { %s = 1.5; };\n%s",
					   names[i] + 7, SRV("")) > 0);
		else if (strncmp(names[i], "tunnels.keepalive.", 18) == 0)
			ck_assert(asprintf(&text, "defaults = { keepalive = { %s = 1.5; }; };\n%s",
					   names[i] + 18, SRV("")) > 0);
		else if (strcmp(names[i], "tunnels.name") == 0)
			text = strdup(edit(SRV(""), "\"web\"", "1.5"));
		else if (strncmp(names[i], "tunnels.acl.", 12) == 0) {
			const char *m = names[i] + 12;
			char *acl;
			ck_assert(asprintf(&acl, "\"dynamic\"; acl = ( { %s%s = 1.5; } );",
					   strcmp(m, "allow") ? "allow = [ \"a:1\" ]; " : "",
					   m) > 0);
			text = strdup(edit(SRV(""), "\"127.0.0.1:50080\";", acl));
			free(acl);
		}
		else if (strncmp(names[i], "tunnels.relay_paths.", 20) == 0)
			ck_assert(asprintf(&text, "defaults = { relay_paths = ( { %s%s = 1.5; } ); };\n%s",
					   strcmp(names[i] + 20, "path") ?
					   "path = \"db\"; " : "",
					   names[i] + 20, SRV("")) > 0);
		else
			ck_assert(asprintf(&text, "defaults = { %s = 1.5; };\n%s",
					   names[i] + 8, SRV("")) > 0);
		ck_assert_msg(load(&c, text, &path, err) == -1,
			      "%s = 1.5 accepted", names[i]);
		ck_assert_msg(!strstr(err, "unknown setting") &&
			      strstr(err, ": expected "),
			      "%s = 1.5: %s", names[i], err);
		free(text);
	}
}
END_TEST

/* ---- every error, with its exact message ---- */

START_TEST(err_missing_file)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];
	const char *p = dir_file("no-such.conf");

	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: cannot read: No such file or directory", p);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(c.tunnels);
}
END_TEST

START_TEST(err_config_is_a_folder)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];

	ck_assert_int_eq(cfg_load(&c, unit_dir(), err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: cannot read: %s", unit_dir(),
		 strerror(EISDIR));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(err_syntax)
{
	EXPECT_ERR("daemon = {\n  workers = 1;\n  log_level = ;\n};\n" SRV(""),
		   ":3: syntax error");
	/* group never closed: reported where the file ends */
	EXPECT_ERR("daemon = {\n  workers = 1;\n", ":3: syntax error");
	/* the same setting twice in one group */
	EXPECT_ERR("daemon = {\n  workers = 1;\n  workers = 2;\n};\n" SRV(""),
		   ":3: syntax error: duplicate setting name");
}
END_TEST

START_TEST(err_unknown_top_level)
{
	EXPECT_ERR("bogus = 1;\n" SRV(""),
		   ":1: bogus: unknown setting: expected daemon, defaults or tunnels");
	EXPECT_ERR(SRV("") "tunnel = ( );\n",
		   ":13: tunnel: unknown setting: expected daemon, defaults or tunnels");
}
END_TEST

START_TEST(err_unknown_daemon_setting)
{
	EXPECT_ERR("daemon = {\n  wrokers = 2;\n};\n" SRV(""),
		   ":2: daemon.wrokers: unknown setting");
	/* a tunnel setting is not a daemon setting */
	EXPECT_ERR("daemon = {\n  handshake_timeout = 2;\n};\n" SRV(""),
		   ":2: daemon.handshake_timeout: unknown setting");
}
END_TEST

START_TEST(err_unknown_tunnel_setting)
{
	EXPECT_ERR(SRV("bogus = 1;"), ":10: tunnel web.bogus: unknown setting");
	EXPECT_ERR(SRV("workers = 1;"), ":10: tunnel web.workers: unknown setting");
	EXPECT_ERR("defaults = {\n  allow_cm = [ \"x\" ];\n};\n" SRV(""),
		   ":2: defaults.allow_cm: unknown setting");
	EXPECT_ERR(SRV("keepalive = { idle = 1; intervall = 2; };"),
		   ":10: tunnel web.keepalive.intervall: unknown setting");
	EXPECT_ERR("defaults = {\n  keepalive = { cnt = 1; };\n};\n" SRV(""),
		   ":2: defaults.keepalive.cnt: unknown setting");
}
END_TEST

START_TEST(err_wrong_types)
{
	EXPECT_ERR("daemon = 5;\n" SRV(""), ":1: daemon: expected a group, got an integer");
	EXPECT_ERR("defaults = \"x\";\n" SRV(""), ":1: defaults: expected a group, got a string");
	EXPECT_ERR("daemon = {\n  workers = \"2\";\n};\n" SRV(""),
		   ":2: daemon.workers: expected an integer from 0 to 1024, got a string");
	EXPECT_ERR("daemon = {\n  workers = 1.5;\n};\n" SRV(""),
		   ":2: daemon.workers: expected an integer from 0 to 1024, got a number");
	EXPECT_ERR("daemon = {\n  pid_file = 1;\n};\n" SRV(""),
		   ":2: daemon.pid_file: expected a string, got an integer");
	EXPECT_ERR(edit(SRV(""), "\"127.0.0.1:50443\"", "50443"),
		   ":5: tunnel web.listen: expected a string, got an integer");
	EXPECT_ERR(edit(SRV(""), "\"127.0.0.1:50443\"", "\"\""),
		   ":5: tunnel web.listen: expected a non-empty string");
	EXPECT_ERR(edit(SRV(""), "\"server.pem\"", "true"),
		   ":7: tunnel web.cert_file: expected a string, got a boolean");
	EXPECT_ERR(edit(SRV(""), "\"ca.pem\"", "[ \"ca.pem\" ]"),
		   ":9: tunnel web.ca_file: expected a string, got an array");
	EXPECT_ERR(edit(SRV(""), "\"server\"", "( \"server\" )"),
		   ":4: tunnel web.role: expected \"client\", \"server\", \"relay\" or \"listener\", got a list");
	EXPECT_ERR(SRV("handshake_timeout = \"10\";"),
		   ":10: tunnel web.handshake_timeout: expected an integer from 1 to 3600, got a string");
	EXPECT_ERR(SRV("ticket_key_rotation = 2;"),
		   ":10: tunnel web.ticket_key_rotation: expected an integer from 3 to 604800, got 2");
	EXPECT_ERR(SRV("ticket_key_rotation = 604801;"),
		   ":10: tunnel web.ticket_key_rotation: expected an integer from 3 to 604800, got 604801");
	EXPECT_ERR(SRV("session_tickets = \"no\";"),
		   ":10: tunnel web.session_tickets: expected true or false, got a string");
	EXPECT_ERR(SRV("allow_cn = 5;"),
		   ":10: tunnel web.allow_cn: expected a list of strings, as in [ \"a\", \"b\" ], got an integer");
	EXPECT_ERR(SRV("allow_dns = { a = \"b\"; };"),
		   ":10: tunnel web.allow_dns: expected a list of strings, as in [ \"a\", \"b\" ], got a group");
	EXPECT_ERR(SRV("allow_uri = ( \"a\",\n 5 );"),
		   ":11: tunnel web.allow_uri: expected a list of strings, item 2 is an integer");
	EXPECT_ERR(SRV("pin_sha256 = [ 1, 2 ];"),
		   ":10: tunnel web.pin_sha256: expected a list of strings, item 1 is an integer");
	EXPECT_ERR(SRV("keepalive = 5;"),
		   ":10: tunnel web.keepalive: expected a group { idle = 30; interval = 10; count = 3; } or false, got an integer");
	EXPECT_ERR(SRV("keepalive = { idle = true; };"),
		   ":10: tunnel web.keepalive.idle: expected an integer from 0 to 86400, got a boolean");
	/* no name yet: the tunnel is named by its place in the list */
	EXPECT_ERR(edit(SRV(""), "\"web\"", "5"),
		   ":3: tunnels[0].name: expected a string, got an integer");
}
END_TEST

/* Like every other setting, log_level says what it got instead. */
START_TEST(err_log_level_not_a_string)
{
	EXPECT_ERR("daemon = {\n  log_level = 3;\n};\n" SRV(""),
		   ":2: daemon.log_level: expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\", got an integer");
}
END_TEST

START_TEST(err_daemon_ids_and_chroot)
{
	EXPECT_ERR("daemon = {\n  user = \"no-such-user-ssltunnel\";\n};\n" SRV(""),
		   ":2: daemon.user: no such user \"no-such-user-ssltunnel\"");
	EXPECT_ERR("daemon = {\n  user = \"nobody\";\n  group = \"no-such-group-ssltunnel\";\n};\n" SRV(""),
		   ":3: daemon.group: no such group \"no-such-group-ssltunnel\"");
	EXPECT_ERR("daemon = {\n  group = \"root\";\n};\n" SRV(""),
		   ":2: daemon.group: needs daemon.user too");
	EXPECT_ERR("daemon = {\n  chroot = \"/nonexistent-jail\";\n};\n" SRV(""),
		   ":2: daemon.chroot: \"/nonexistent-jail\" is not a directory");
	EXPECT_ERR("daemon = {\n  drain_timeout = 86401;\n};\n" SRV(""),
		   ":2: daemon.drain_timeout: expected an integer from 0 to 86400, got 86401");
}
END_TEST

START_TEST(err_out_of_range)
{
	EXPECT_ERR("daemon = {\n  workers = 5000;\n};\n" SRV(""),
		   ":2: daemon.workers: expected an integer from 0 to 1024, got 5000");
	EXPECT_ERR("daemon = {\n  workers = -1;\n};\n" SRV(""),
		   ":2: daemon.workers: expected an integer from 0 to 1024, got -1");
	EXPECT_ERR("daemon = {\n  workers = 4294967297L;\n};\n" SRV(""),
		   ":2: daemon.workers: expected an integer from 0 to 1024, got 4294967297");
	EXPECT_ERR(SRV("handshake_timeout = 0;"),
		   ":10: tunnel web.handshake_timeout: expected an integer from 1 to 3600, got 0");
	EXPECT_ERR(SRV("connect_timeout = 3601;"),
		   ":10: tunnel web.connect_timeout: expected an integer from 1 to 3600, got 3601");
	EXPECT_ERR(SRV("keepalive = { idle = 86401; };"),
		   ":10: tunnel web.keepalive.idle: expected an integer from 0 to 86400, got 86401");
	EXPECT_ERR(SRV("keepalive = { interval = 0; };"),
		   ":10: tunnel web.keepalive.interval: expected an integer from 1 to 3600, got 0");
	EXPECT_ERR(SRV("keepalive = {\n count = 101; };"),
		   ":11: tunnel web.keepalive.count: expected an integer from 1 to 100, got 101");
	EXPECT_ERR("defaults = {\n  connect_timeout = -5;\n};\n" SRV(""),
		   ":2: defaults.connect_timeout: expected an integer from 1 to 3600, got -5");
}
END_TEST

START_TEST(err_bad_words)
{
	EXPECT_ERR(edit(SRV(""), "\"server\"", "\"cleint\""),
		   ":4: tunnel web.role: expected \"client\", \"server\", \"relay\" or \"listener\", got \"cleint\"");
	/* words are exact */
	EXPECT_ERR(edit(SRV(""), "\"server\"", "\"Server\""),
		   ":4: tunnel web.role: expected \"client\", \"server\", \"relay\" or \"listener\", got \"Server\"");
	EXPECT_ERR(edit(SRV(""), "\"server\"", "1"),
		   ":4: tunnel web.role: expected \"client\", \"server\", \"relay\" or \"listener\", got an integer");
	EXPECT_ERR("daemon = {\n  log_level = \"verbose\";\n};\n" SRV(""),
		   ":2: daemon.log_level: expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\", got \"verbose\"");
	EXPECT_ERR("daemon = {\n  log_level = \"warn\";\n};\n" SRV(""),
		   ":2: daemon.log_level: expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\", got \"warn\"");
	EXPECT_ERR("daemon = {\n  log_target = \"file\";\n};\n" SRV(""),
		   ":2: daemon.log_target: expected \"stderr\", \"syslog\" or an absolute file path, got \"file\"");
	EXPECT_ERR("daemon = {\n  log_target = \"logs/x.log\";\n};\n" SRV(""),
		   ":2: daemon.log_target: expected \"stderr\", \"syslog\" or an absolute file path, got \"logs/x.log\"");
	EXPECT_ERR("daemon = {\n  log_target = 2;\n};\n" SRV(""),
		   ":2: daemon.log_target: expected a string, got an integer");
	EXPECT_ERR("daemon = {\n  ktls = \"yes\";\n};\n" SRV(""),
		   ":2: daemon.ktls: expected \"auto\", \"on\" or \"off\", got \"yes\"");
	EXPECT_ERR("daemon = {\n  ktls = true;\n};\n" SRV(""),
		   ":2: daemon.ktls: expected \"auto\", \"on\" or \"off\", got a boolean");
	EXPECT_ERR("daemon = {\n  seccomp = \"off\";\n};\n" SRV(""),
		   ":2: daemon.seccomp: expected true or false, got a string");
	EXPECT_ERR("defaults = {\n  role = \"both\";\n};\n" SRV(""),
		   ":2: defaults.role: expected \"client\", \"server\", \"relay\" or \"listener\", got \"both\"");
}
END_TEST

/* ciphers and tls_versions: sets of words, parsed into bits. */
START_TEST(word_sets)
{
	struct cfg c;

	load_ok(&c, SRV(""));
	ck_assert_uint_eq(c.tunnels[0].ciphers,
			  CFG_CIPHER_AES128 | CFG_CIPHER_AES256 | CFG_CIPHER_CHACHA);
	ck_assert_uint_eq(c.tunnels[0].versions, CFG_TLS12 | CFG_TLS13);
	cfg_free(&c);
	load_ok(&c, SRV("ciphers = [ \"CHACHA20-POLY1305\", \"AES-128-GCM\" ]; tls_versions = \"1.3\";"));
	ck_assert_uint_eq(c.tunnels[0].ciphers, CFG_CIPHER_AES128 | CFG_CIPHER_CHACHA);
	ck_assert_uint_eq(c.tunnels[0].versions, CFG_TLS13);
	cfg_free(&c);
	EXPECT_ERR(SRV("ciphers = [ \"AES-128-GCM\", \"RC4\" ];"),
		   ":10: tunnel web.ciphers: expected a list of \"AES-128-GCM\", \"AES-256-GCM\", \"CHACHA20-POLY1305\", got \"RC4\"");
	EXPECT_ERR(SRV("tls_versions = [ \"1.1\" ];"),
		   ":10: tunnel web.tls_versions: expected a list of \"1.2\", \"1.3\", got \"1.1\"");
	EXPECT_ERR(SRV("tls_versions = 13;"),
		   ":10: tunnel web.tls_versions: expected a list of \"1.2\", \"1.3\", got an integer");
	EXPECT_ERR(SRV("ciphers = [ ];"),
		   ":10: tunnel web.ciphers: expected at least one of \"AES-128-GCM\", \"AES-256-GCM\", \"CHACHA20-POLY1305\"");
}
END_TEST

START_TEST(err_missing_required)
{
	EXPECT_ERR(edit(SRV(""), "name = \"web\";", ""),
		   ":2: tunnels[0].name: missing: every tunnel needs a name");
	EXPECT_ERR(edit(SRV(""), "role = \"server\";", ""),
		   ":2: tunnel web.role: missing: expected \"client\", \"server\", \"relay\" or \"listener\"");
	EXPECT_ERR(edit(SRV(""), "listen = \"127.0.0.1:50443\";", ""),
		   ":2: tunnel web.listen: missing: a server tunnel needs it");
	EXPECT_ERR(edit(SRV(""), "connect = \"127.0.0.1:50080\";", ""),
		   ":2: tunnel web.connect: missing: a server tunnel needs it");
	EXPECT_ERR(edit(SRV(""), "cert_file = \"server.pem\";", ""),
		   ":2: tunnel web.cert_file: missing: a server tunnel needs it");
	EXPECT_ERR(edit(SRV(""), "key_file = \"server.key\";", ""),
		   ":2: tunnel web.key_file: missing: a server tunnel needs it");
	EXPECT_ERR(edit(SRV(""), "ca_file = \"ca.pem\";", ""),
		   ":2: tunnel web.ca_file: missing: a server tunnel needs it (to verify client certificates; client_auth = \"password\" needs none)");
	EXPECT_ERR(edit(CLI(""), "key_file = \"server.key\";", ""),
		   ":2: tunnel web.key_file: missing: a client tunnel needs its certificate and key, unless it logs in with credentials_file");
	/* the second tunnel, without a name, is counted from 0 */
	EXPECT_ERR("tunnels = (\n"
		   "  { name = \"a\"; role = \"server\"; listen = \"127.0.0.1:1\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		   "  { role = \"server\"; }\n"
		   ");\n",
		   ":4: tunnels[1].name: missing: every tunnel needs a name");
}
END_TEST

/* A name that was refused is no name to report the tunnel by. */
START_TEST(err_bad_name)
{
	EXPECT_ERR(edit(SRV(""), "\"web\"", "\"\""),
		   ":3: tunnels[0].name: expected a non-empty string");
	EXPECT_ERR(edit(SRV(""), "\"web\"", "\"web server\""),
		   ":3: tunnels[0].name: expected at most 64 letters, digits, '.', '_' or '-', got \"web server\"");
	EXPECT_ERR(edit(SRV(""), "\"web\"", "\"web/1\""),
		   ":3: tunnels[0].name: expected at most 64 letters, digits, '.', '_' or '-', got \"web/1\"");
}
END_TEST

START_TEST(err_name_too_long)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];
	const char *path;
	const char *t = edit(SRV(""), "\"web\"",
		"\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"");

	ck_assert_int_eq(load(&c, t, &path, err), -1);
	snprintf(want, sizeof want, "%s:3: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, "tunnels[0].name: expected at most 64 letters"), "%s", err);
}
END_TEST


/* The protocol step's settings: WebSocket and CONNECT, client-chosen
 * destinations and their acl, the client's destination and proxy. */
START_TEST(protocol_settings_load)
{
	struct cfg c;
	char err[CFG_ERRLEN];
	const char *path;
	const char *srv = edit(SRV("transport = \"websocket\"; path = \"/gw\"; ws_ping_interval = 5;\n"
				   "    acl = ( { cn = [ \"a\" ]; allow = [ \"db:3306\" ]; },\n"
				   "            { allow = [ \"10.0.0.0/8:*\" ]; } );"),
			       "\"127.0.0.1:50080\"", "\"dynamic\"");
	char *text;

	ck_assert_msg(load(&c, srv, &path, err) == 0, "%s", err);
	ck_assert_int_eq(c.tunnels[0].dynamic, 1);
	ck_assert_int_eq(c.tunnels[0].transport, CFG_TRANSPORT_WEBSOCKET);
	ck_assert_str_eq(c.tunnels[0].path, "/gw");
	ck_assert_int_eq(c.tunnels[0].ws_ping_interval, 5);
	ck_assert_uint_eq(c.tunnels[0].acl->n, 2);
	ck_assert_int_eq(c.tunnels[0].connect_ep.naddrs, 0);
	cfg_free(&c);

	ck_assert(asprintf(&text, "%s", CLI("destination = \"db.internal:3306\";\n"
		"    http_proxy = \"http://user:pa55@127.0.0.1:3128\"; transport = \"websocket\";")) > 0);
	ck_assert_msg(load(&c, text, &path, err) == 0, "%s", err);
	ck_assert_str_eq(c.tunnels[0].dest_host, "db.internal");
	ck_assert_uint_eq(c.tunnels[0].dest_port, 3306);
	ck_assert_str_eq(c.tunnels[0].proxy_name, "127.0.0.1:3128");
	ck_assert_str_eq(c.tunnels[0].proxy_auth, "Basic dXNlcjpwYTU1");
	ck_assert_str_eq(c.tunnels[0].path, CFG_WS_PATH);
	ck_assert_int_eq(c.tunnels[0].ws_ping_interval, 30);
	cfg_free(&c);
	free(text);
}
END_TEST

START_TEST(password_settings)
{
	struct cfg c;
	char err[CFG_ERRLEN], *text;
	const char *path;
	/* "pw" under sha512crypt with a fixed salt (crypt(3), made once). */
	char *users = unit_write("users",
		"# comment\nsimon:$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/\n");
	char *creds = unit_write("creds", "simon:pw\n");

	chmod(creds, 0600);
	ck_assert(asprintf(&text, SRV("connect = \"dynamic\"; acl = ( { user = [ \"simon\" ]; allow = [ \"a:1\" ]; } ); client_auth = \"password\"; password_file = \"%s\"; auth_cache_ttl = 0;"),
			   users) > 0);
	unit_keep(text);
	text = (char *)edit(text, "connect = \"127.0.0.1:50080\";", "");
	ck_assert_msg(load(&c, text, &path, err) == 0, "%s", err);
	ck_assert_int_eq(c.tunnels[0].client_auth, CFG_AUTH_PASSWORD);
	ck_assert_int_eq(c.tunnels[0].auth_cache_ttl, 0);
	ck_assert_ptr_nonnull(c.tunnels[0].passwords);
	ck_assert_int_eq(auth_db_count(c.tunnels[0].passwords), 1);
	ck_assert_int_eq(c.auth_threads, 2);
	ck_assert_int_eq(c.auth_failures, AUTH_LOCK_FAILURES);
	cfg_free(&c);
	/* A password-only server needs no ca_file. */
	text = (char *)edit(text, "ca_file = \"ca.pem\";", "");
	ck_assert_msg(load(&c, text, &path, err) == 0, "%s", err);
	ck_assert_ptr_null(c.tunnels[0].ca_file);
	cfg_free(&c);
	/* A client with credentials_file needs no certificate. */
	ck_assert(asprintf(&text, CLI("transport = \"websocket\"; credentials_file = \"%s\";"),
			   creds) > 0);
	unit_keep(text);
	text = (char *)edit(edit(text, "cert_file = \"server.pem\";", ""),
			    "key_file = \"server.key\";", "");
	ck_assert_msg(load(&c, text, &path, err) == 0, "%s", err);
	ck_assert_str_eq(c.tunnels[0].credentials, "Basic c2ltb246cHc=");
	ck_assert_str_eq(c.tunnels[0].cred_user, "simon");
	cfg_free(&c);
	/* ...but one others can read is refused, naming its mode. */
	chmod(creds, 0640);
	ck_assert_int_eq(load(&c, text, &path, err), -1);
	ck_assert_msg(strstr(err, ":10: tunnel web.credentials_file: ") &&
		      strstr(err, "has mode 0640") && !strstr(err, "pw\n"), "%s", err);
	free(users);
	free(creds);
}
END_TEST

START_TEST(err_proxy_protocol_settings)
{
	struct cfg c;
	char err[CFG_ERRLEN];
	const char *path;

	EXPECT_ERR(SRV("proxy_protocol = \"accept\";"),
		   ":10: tunnel web.proxy_protocol: \"accept\" needs proxy_from = [ \"CIDR\", ... ]: the load balancers whose PROXY headers are believed");
	EXPECT_ERR(CLI("proxy_protocol = \"accept\";"),
		   ":10: tunnel web.proxy_protocol: \"accept\" is for role \"server\" (a client tunnel may \"send\")");
	EXPECT_ERR(SRV("proxy_from = [ \"10.0.0.0/8\" ];"),
		   ":10: tunnel web.proxy_from: only with proxy_protocol = \"accept\" or \"both\"");
	EXPECT_ERR(SRV("proxy_protocol = \"accept\"; proxy_from = [ \"lb.example\" ];"),
		   ":10: tunnel web.proxy_from: \"lb.example\": expected an address or network (\"10.0.0.0/8\", \"fd00::/8\")");
	EXPECT_ERR(SRV("proxy_protocol = \"accept\"; proxy_from = [ \"10.1.2.3/8\" ];"),
		   ":10: tunnel web.proxy_from: \"10.1.2.3/8\": expected an address or network (\"10.0.0.0/8\", \"fd00::/8\")");
	EXPECT_ERR(SRV("proxy_protocol = \"v2\";"),
		   ":10: tunnel web.proxy_protocol: expected \"off\", \"accept\", \"send\" or \"both\", got \"v2\"");
	ck_assert_msg(load(&c, SRV("proxy_protocol = \"both\"; proxy_from = [ \"127.0.0.9\", \"fd00::/8\" ];"),
			   &path, err) == 0, "%s", err);
	ck_assert_int_eq(c.tunnels[0].proxy_protocol, CFG_PP_BOTH);
	ck_assert_int_eq(c.tunnels[0].nproxy_nets, 2);
	cfg_free(&c);
	ck_assert_msg(load(&c, "daemon = { metrics_listen = \"127.0.0.1:9817\"; };\n" SRV(""),
			   &path, err) == 0, "%s", err);
	ck_assert_str_eq(c.metrics_listen, "127.0.0.1:9817");
	cfg_free(&c);
}
END_TEST

START_TEST(err_password_settings)
{
	char *weak = unit_write("weak", "simon:5f4dcc3b5aa765d61d8327deb882cf99\n");
	char *text;

	EXPECT_ERR(SRV("client_auth = \"pin\";"),
		   ":10: tunnel web.client_auth: expected \"certificate\", \"password\" or \"both\", got \"pin\"");
	EXPECT_ERR(SRV("transport = \"websocket\"; client_auth = \"password\";"),
		   ":10: tunnel web.client_auth: \"password\" needs password_file (user:HASH lines; make a hash with ssltunneld --hash-password)");
	EXPECT_ERR(SRV("password_file = \"/x\";"),
		   ":10: tunnel web.password_file: only with client_auth = \"password\" or \"both\"");
	EXPECT_ERR(SRV("client_auth = \"both\"; password_file = \"/x\";"),
		   ":10: tunnel web.client_auth: passwords come in HTTP requests: needs transport = \"websocket\" or connect = \"dynamic\"");
	EXPECT_ERR(CLI("client_auth = \"password\";"),
		   ":10: tunnel web.client_auth: only for role \"server\"; this tunnel has role \"client\"");
	EXPECT_ERR(SRV("credentials_file = \"/x\";"),
		   ":10: tunnel web.credentials_file: only for role \"client\"; this tunnel has role \"server\"");
	EXPECT_ERR(CLI("credentials_file = \"/x\";"),
		   ":10: tunnel web.credentials_file: passwords go in HTTP requests: needs transport = \"websocket\" or destination");
	EXPECT_ERR("daemon = { auth_threads = 0; };\n" SRV(""),
		   ":1: daemon.auth_threads: expected an integer from 1 to 64, got 0");
	ck_assert(asprintf(&text, SRV("transport = \"websocket\"; client_auth = \"password\"; password_file = \"%s\";"),
			   weak) > 0);
	{
		struct cfg c;
		char err[CFG_ERRLEN];
		const char *path;

		ck_assert_int_eq(load(&c, text, &path, err), -1);
		ck_assert_msg(strstr(err, ":10: tunnel web.password_file: ") &&
			      strstr(err, "weak:1: user simon: ") &&
			      strstr(err, "MD5") &&
			      !strstr(err, "5f4dcc3b"), "%s", err);
	}
	free(text);
	free(weak);
}
END_TEST

/* Azure Relay Hybrid Connections: a relay, a listener and a sender. */
#define HC_CONF \
	"tunnels = (\n" \
	"  { name = \"r\"; role = \"relay\"; listen = \"127.0.0.1:50443\";\n" \
	"    cert_file = \"server.pem\"; key_file = \"server.key\"; %s\n" \
	"    relay_paths = ( { path = \"db\"; keys = (\n" \
	"      { name = \"l\"; key_file = \"%s\"; rights = [ \"listen\" ]; },\n" \
	"      { name = \"s\"; key_file = \"%s\"; rights = [ \"send\", \"listen\" ]; } ); } ); },\n" \
	"  { name = \"l\"; role = \"listener\"; relay = \"wss://127.0.0.1:50443/$hc/db\";\n" \
	"    relay_key_name = \"l\"; relay_key_file = \"%s\"; ca_file = \"ca.pem\";\n" \
	"    connect = \"127.0.0.1:5432\"; %s },\n" \
	"  { name = \"s\"; role = \"client\"; transport = \"relay\"; listen = \"127.0.0.1:50444\";\n" \
	"    connect = \"%s\"; relay_key_name = \"s\";\n" \
	"    relay_key_file = \"%s\"; ca_file = \"ca.pem\"; }\n" \
	");\n"

static char *hc_conf(const char *relay_extra, const char *listener_extra,
		     const char *sender_url, const char *lk, const char *sk)
{
	char *text;

	ck_assert(asprintf(&text, HC_CONF, relay_extra, lk, sk, lk,
			   listener_extra, sender_url, sk) > 0);
	return unit_keep(text);
}

/* The relay's keys and its listener's and sender's, as files. */
static void hc_keys(char **lk, char **sk)
{
	*lk = unit_write("listen.key", "bGlzdGVuLWtleQ==\n");
	*sk = unit_write("send.key", "c2VuZC1rZXk=  \n");
	chmod(*lk, 0600);
	chmod(*sk, 0600);
}

START_TEST(relay_settings)
{
	struct cfg c;
	const struct cfg_tunnel *r, *l, *s;
	char *lk, *sk, *text;

	hc_keys(&lk, &sk);
	text = hc_conf("relay_accept_timeout = 7;", "",
		       "wss://127.0.0.1:50443/$hc/db", lk, sk);
	load_ok(&c, text);
	r = &c.tunnels[0], l = &c.tunnels[1], s = &c.tunnels[2];
	ck_assert_int_eq(r->hc, CFG_HC_RELAY);
	ck_assert_int_eq(r->role, CFG_ROLE_SERVER);
	ck_assert_str_eq(cfg_role_name(r), "relay");
	ck_assert_int_eq(r->hc_accept_timeout, 7);
	ck_assert_uint_eq(r->nhc_paths, 1);
	ck_assert_str_eq(r->hc_paths[0].path, "db");
	ck_assert_uint_eq(r->hc_paths[0].nkeys, 2);
	ck_assert_str_eq(r->hc_paths[0].keys[0].name, "l");
	ck_assert_str_eq(r->hc_paths[0].keys[0].key, "bGlzdGVuLWtleQ==");
	ck_assert_uint_eq(r->hc_paths[0].keys[0].keylen, 16);
	ck_assert_uint_eq(r->hc_paths[0].keys[0].rights, CFG_HC_RIGHT_LISTEN);
	/* trailing blanks are not part of the key */
	ck_assert_str_eq(r->hc_paths[0].keys[1].key, "c2VuZC1rZXk=");
	ck_assert_uint_eq(r->hc_paths[0].keys[1].rights,
			  CFG_HC_RIGHT_LISTEN | CFG_HC_RIGHT_SEND);
	ck_assert_int_eq(l->hc, CFG_HC_LISTENER);
	ck_assert_int_eq(l->role, CFG_ROLE_CLIENT);
	ck_assert_str_eq(cfg_role_name(l), "listener");
	ck_assert_str_eq(l->hc_host, "127.0.0.1");
	ck_assert_str_eq(l->hc_path, "db");
	ck_assert_str_eq(l->path, "/$hc/db");
	ck_assert_str_eq(l->connect_ep.port, "50443");
	ck_assert_str_eq(l->hc_backend, "127.0.0.1:5432");
	ck_assert_str_eq(l->hc_backend_ep.port, "5432");
	ck_assert_str_eq(l->hc_key, "bGlzdGVuLWtleQ==");
	ck_assert_str_eq(l->server_name, "127.0.0.1");
	ck_assert_int_eq(s->hc, CFG_HC_SENDER);
	ck_assert_str_eq(cfg_role_name(s), "client");
	ck_assert_int_eq(s->transport, CFG_TRANSPORT_WEBSOCKET);
	ck_assert_str_eq(s->path, "/$hc/db");
	ck_assert_str_eq(s->hc_key_name, "s");
	ck_assert_int_eq(l->hc_token_lifetime, 3600);	/* the default */
	ck_assert_int_eq(s->hc_token_lifetime, 3600);
	ck_assert_int_eq(r->hc_token_lifetime, 0);
	cfg_free(&c);
	free(text);
	text = hc_conf("", "relay_token_lifetime = 600;",
		       "wss://127.0.0.1:50443/$hc/db", lk, sk);
	load_ok(&c, text);
	ck_assert_int_eq(c.tunnels[1].hc_token_lifetime, 600);
	cfg_free(&c);
	free(text);
	/* No port: 443. */
	text = hc_conf("", "", "wss://localhost/$hc/db", lk, sk);
	load_ok(&c, text);
	ck_assert_int_eq(c.tunnels[0].hc_accept_timeout, 30);
	ck_assert_str_eq(c.tunnels[2].connect_ep.port, "443");
	ck_assert_str_eq(c.tunnels[2].hc_host, "localhost");
	cfg_free(&c);
	free(text);
	free(lk);
	free(sk);
}
END_TEST

/** @brief Loading @text fails with an error containing each of @want
 *  (NULL-terminated) and not @secret. */
static void hc_err(const char *text, const char *const *want, const char *secret)
{
	struct cfg c;
	char err[CFG_ERRLEN];
	const char *path;

	ck_assert_msg(load(&c, text, &path, err) == -1, "accepted:\n%s", text);
	for (; *want; want++)
		ck_assert_msg(strstr(err, *want), "\"%s\" not in: %s", *want, err);
	ck_assert_msg(!strstr(err, secret), "the key is in: %s", err);
}

#define HC_ERR(text, ...) hc_err((text), (const char *const[]){ __VA_ARGS__, NULL }, "bGlzdGVu")

START_TEST(err_relay_settings)
{
	char *lk, *sk;
	const char *url = "wss://127.0.0.1:50443/$hc/db";

	hc_keys(&lk, &sk);
	HC_ERR(hc_conf("connect = \"127.0.0.1:1\";", "", url, lk, sk),
	       ":3: tunnel r.connect: a relay joins senders to listeners: remove connect");
	HC_ERR(hc_conf("ca_file = \"ca.pem\";", "", url, lk, sk),
	       "tunnel r.ca_file: a relay authorizes with tokens");
	HC_ERR(hc_conf("", "listen = \"127.0.0.1:1\";", url, lk, sk),
	       "tunnel l.listen: a listener listens at its relay");
	HC_ERR(hc_conf("", "acl = ( { allow = [ \"a:1\" ]; } );", url, lk, sk),
	       "tunnel l.acl: only for connect = \"dynamic\"");
	HC_ERR(hc_conf("", "", "https://127.0.0.1/db", lk, sk),
	       "tunnel s.connect: ");
	HC_ERR(hc_conf("", "", "wss://127.0.0.1/db", lk, sk),
	       "tunnel s.connect: ");
	HC_ERR(hc_conf("", "relay_token_lifetime = 1;", url, lk, sk),
	       "tunnel l.relay_token_lifetime: expected an integer from 2 to 86400, got 1");
	HC_ERR(hc_conf("relay_token_lifetime = 60;", "", url, lk, sk),
	       "tunnel r.relay_token_lifetime: ");
	HC_ERR(hc_conf("relay_accept_timeout = 0;", "", url, lk, sk),
	       "tunnel r.relay_accept_timeout: expected an integer from 1 to 3600, got 0");
	HC_ERR("tunnels = ( { name = \"l\"; role = \"listener\"; relay = \"wss://h/$hc/db\"; ca_file = \"ca.pem\"; connect = \"127.0.0.1:1\"; } );\n",
	       "tunnel l.relay_key_name: missing: a listener needs relay_key_name and relay_key_file");
	HC_ERR("tunnels = ( { name = \"l\"; role = \"listener\"; relay_key_name = \"l\"; relay_key_file = \"/nonexistent\"; ca_file = \"ca.pem\"; connect = \"127.0.0.1:1\"; } );\n",
	       "tunnel l.relay: missing: a listener needs relay = \"wss://HOST/$hc/PATH\"");
	HC_ERR("tunnels = ( { name = \"r\"; role = \"relay\"; listen = \"127.0.0.1:1\"; cert_file = \"a\"; key_file = \"b\"; } );\n",
	       "tunnel r.relay_paths: missing: a relay serves the paths listed there");
	HC_ERR(SRV("relay_paths = ( { path = \"db\"; keys = ( { name = \"k\"; key_file = \"/x\"; rights = [ \"send\" ]; } ); } );"),
	       "tunnel web.relay_paths: path \"db\", key \"k\": key_file: cannot read /x: ");
	HC_ERR(SRV("transport = \"relay\";"),
	       "tunnel web.transport: \"relay\" is for role \"client\"");
	HC_ERR(CLI("relay = \"wss://h/$hc/db\";"),
	       "tunnel web.relay: only for role \"listener\"");
	/* connect = "dynamic" on a listener: an acl is required. */
	{
		char *t1, *t2;
		struct cfg c;
#define LISTENER_DYN "tunnels = ( { name = \"l\"; role = \"listener\"; relay = \"wss://127.0.0.1/$hc/db\";" \
			" relay_key_name = \"l\"; relay_key_file = \"%s\"; ca_file = \"ca.pem\";" \
			" connect = \"dynamic\"; %s } );\n"

		ck_assert(asprintf(&t1, LISTENER_DYN, lk, "") > 0);
		HC_ERR(t1, "tunnel l.connect: \"dynamic\" needs an acl");
		ck_assert(asprintf(&t2, LISTENER_DYN, lk, "acl = ( { allow = [ \"db.internal:5432\" ]; } );") > 0);
		load_ok(&c, t2);
		ck_assert_int_eq(c.tunnels[0].hc, CFG_HC_LISTENER);
		ck_assert_int_eq(c.tunnels[0].dynamic, 1);
		ck_assert_ptr_nonnull(c.tunnels[0].acl);
		ck_assert_int_eq(c.tunnels[0].hc_backend_ep.naddrs, 0);
		cfg_free(&c);
		free(t1);
		free(t2);
#undef LISTENER_DYN
	}
	chmod(lk, 0644);	/* others may read it: refused, the key unshown */
	HC_ERR(hc_conf("", "", url, lk, sk), "has mode 0644",
	       "it holds a key, so group and others must have no access");
	chmod(lk, 0600);
	free(lk);
	free(sk);
}
END_TEST

START_TEST(proxy_auth_file_read)
{
	struct cfg c;
	char err[CFG_ERRLEN], *text;
	const char *path;
	char *auth = unit_write("proxy.auth", "user:pa55\nignored\n");

	ck_assert(asprintf(&text, CLI("http_proxy = \"http://127.0.0.1:3128\"; proxy_auth_file = \"%s\";"),
			   auth) > 0);
	ck_assert_msg(load(&c, text, &path, err) == 0, "%s", err);
	ck_assert_str_eq(c.tunnels[0].proxy_auth, "Basic dXNlcjpwYTU1");
	cfg_free(&c);
	free(text);
	unit_write("proxy.auth", "no colon here\n");
	ck_assert(asprintf(&text, CLI("http_proxy = \"http://127.0.0.1:3128\"; proxy_auth_file = \"%s\";"),
			   auth) > 0);
	ck_assert_int_eq(load(&c, text, &path, err), -1);
	ck_assert_msg(strstr(err, ":10: tunnel web.proxy_auth_file: ") &&
		      strstr(err, ": expected one line \"user:password\""), "%s", err);
	free(text);
	free(auth);
}
END_TEST

START_TEST(err_protocol_settings)
{
	const char *dyn = "\"dynamic\"";

	EXPECT_ERR(edit(SRV(""), "\"127.0.0.1:50080\"", dyn),
		   ":6: tunnel web.connect: \"dynamic\" needs an acl: nothing is reachable until an acl entry allows it");
	EXPECT_ERR(SRV("acl = ( { allow = [ \"a:1\" ]; } );"),
		   ":10: tunnel web.acl: only for connect = \"dynamic\"; this tunnel always connects to 127.0.0.1:50080");
	EXPECT_ERR(edit(CLI(""), "\"127.0.0.1:50080\"", dyn),
		   ":6: tunnel web.connect: \"dynamic\" is for role \"server\"; a client tunnel names what it asks for with destination = \"host:port\"");
	EXPECT_ERR(SRV("path = \"/x\";"),
		   ":10: tunnel web.path: only for transport = \"websocket\"");
	EXPECT_ERR(SRV("transport = \"websocket\"; path = \"x\";"),
		   ":10: tunnel web.path: expected a URL path starting with \"/\", without query, spaces or quotes, got \"x\"");
	EXPECT_ERR(SRV("transport = \"websocket\"; path = \"/t?x=1\";"),
		   ":10: tunnel web.path: expected a URL path starting with \"/\", without query, spaces or quotes, got \"/t?x=1\"");
	EXPECT_ERR(CLI("http_proxy = \"https://p:1\";"),
		   ":10: tunnel web.http_proxy: expected \"http://[user:password@]host:port\", got a value not starting with http://");
	EXPECT_ERR(CLI("http_proxy = \"http://127.0.0.1:1/path\";"),
		   ":10: tunnel web.http_proxy: expected no path after host:port");
	EXPECT_ERR(CLI("proxy_auth_file = \"/nonexistent\";"),
		   ":10: tunnel web.proxy_auth_file: needs http_proxy too");
	EXPECT_ERR(CLI("http_proxy = \"http://u:p@127.0.0.1:1\"; proxy_auth_file = \"/x\";"),
		   ":10: tunnel web.http_proxy: has a user and password, and proxy_auth_file is set too: keep one");
	EXPECT_ERR(CLI("destination = \"db:0\";"),
		   ":10: tunnel web.destination: port must be a number from 1 to 65535, got \"0\"");
	EXPECT_ERR(SRV("destination = \"db:1\";"),
		   ":10: tunnel web.destination: only for role \"client\"; this tunnel has role \"server\"");
	EXPECT_ERR("daemon = { dns_servers = [ \"resolver:53\" ]; };\n" SRV(""),
		   ":1: daemon.dns_servers: expected an IP address and port, as in \"127.0.0.1:53\" or \"[::1]:53\"; got \"resolver:53\"");
	EXPECT_ERR(edit(SRV("acl = ( { cn = [ \"x\" ]; } );"), "\"127.0.0.1:50080\"", dyn),
		   ":10: tunnel web.acl[0].allow: missing: each acl entry needs at least one \"host:port\" rule");
	EXPECT_ERR(edit(SRV("acl = ( { allow = [ \"10.1.2.3/16:22\" ]; } );"), "\"127.0.0.1:50080\"", dyn),
		   ":10: tunnel web.acl[0].allow: \"10.1.2.3/16:22\": 10.1.2.3/16 has host bits set; the network is 10.1.0.0/16");
	EXPECT_ERR(edit(SRV("acl = ( { allow = [ \"a:1\" ]; color = \"x\"; } );"), "\"127.0.0.1:50080\"", dyn),
		   ":10: tunnel web.acl[0].color: unknown setting: expected cn, dns, uri, pin_sha256, user or allow");
	EXPECT_ERR("defaults = {\n  acl = ( { allow = [ \"a:1\" ]; } );\n};\n" SRV(""),
		   ":2: defaults.acl: an acl belongs to a tunnel with connect = \"dynamic\", not to defaults");
}
END_TEST

START_TEST(err_name_in_defaults)
{
	EXPECT_ERR("defaults = {\n  handshake_timeout = 5;\n  name = \"x\";\n};\n" SRV(""),
		   ":3: defaults.name: a name belongs to one tunnel, not to defaults");
}
END_TEST

START_TEST(err_setting_for_the_other_role)
{
	EXPECT_ERR(CLI("allow_cn = [ \"client1\" ];"),
		   ":10: tunnel web.allow_cn: only for role \"server\"; this tunnel has role \"client\"");
	EXPECT_ERR(CLI("allow_dns = \"a.example\";"),
		   ":10: tunnel web.allow_dns: only for role \"server\"; this tunnel has role \"client\"");
	EXPECT_ERR(CLI("allow_uri = \"urn:a\";"),
		   ":10: tunnel web.allow_uri: only for role \"server\"; this tunnel has role \"client\"");
	EXPECT_ERR(SRV("server_name = \"localhost\";"),
		   ":10: tunnel web.server_name: only for role \"client\"; this tunnel has role \"server\"");
	/* pins are for both roles */
	{
		struct cfg c;
		load_ok(&c, CLI("pin_sha256 = \"" ABC_HEX "\";"));
		ck_assert_uint_eq(c.tunnels[0].npins, 1);
		cfg_free(&c);
	}
}
END_TEST

/* allow_* in defaults is for the server tunnels; a client tunnel must not
 * end up checking its server against a list meant for clients. */
START_TEST(server_lists_in_defaults_skip_client_tunnels)
{
	struct cfg c;
	struct tls_identity id = { .cn = "server" };
	char reason[TLS_REASONLEN] = "";

	load_ok(&c, "defaults = { allow_cn = [ \"client1\" ]; };\n" CLI(""));
	ck_assert_msg(tls_authorize(&c.tunnels[0], &id, reason, sizeof reason) == 1,
		      "client tunnel rejected its server: %s", reason);
	cfg_free(&c);
}
END_TEST

START_TEST(err_duplicates)
{
	EXPECT_ERR("tunnels = (\n"
		   "  { name = \"web\"; role = \"server\"; listen = \"127.0.0.1:50443\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		   "  { name = \"web\"; role = \"server\"; listen = \"127.0.0.1:50444\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; }\n"
		   ");\n",
		   ":4: tunnel web.name: \"web\" is already the name of the tunnel at line 2");
	EXPECT_ERR("tunnels = (\n"
		   "  { name = \"web\"; role = \"server\"; listen = \"127.0.0.1:50443\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		   "  { name = \"web2\"; role = \"client\"; connect = \"127.0.0.1:2\";\n"
		   "    listen = \"127.0.0.1:50443\";\n"
		   "    cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; }\n"
		   ");\n",
		   ":5: tunnel web2.listen: \"127.0.0.1:50443\" is already the address of tunnel web");
	/* the same address however it is written */
	EXPECT_ERR("tunnels = (\n"
		   "  { name = \"a\"; role = \"server\"; listen = \"[::1]:50443\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		   "  { name = \"b\"; role = \"server\"; listen = \"[0:0::1]:50443\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; }\n"
		   ");\n",
		   ":4: tunnel b.listen: \"[0:0::1]:50443\" is already the address of tunnel a");
}
END_TEST

START_TEST(err_bad_addresses)
{
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50443", "127.0.0.1"),
		   ":5: tunnel web.listen: expected \"host:port\", got \"127.0.0.1\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50443", "127.0.0.1:0"),
		   ":5: tunnel web.listen: port must be a number from 1 to 65535, got \"0\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50443", "127.0.0.1:70000"),
		   ":5: tunnel web.listen: port must be a number from 1 to 65535, got \"70000\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50080", "127.0.0.1:https"),
		   ":6: tunnel web.connect: port must be a number from 1 to 65535, got \"https\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50443", "::1:443"),
		   ":5: tunnel web.listen: IPv6 addresses need brackets, as in \"[::1]:443\"; got \"::1:443\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50080", "[::1]443"),
		   ":6: tunnel web.connect: expected \"[ipv6]:port\", got \"[::1]443\"");
	EXPECT_ERR(edit(SRV(""), "127.0.0.1:50080", ":80"),
		   ":6: tunnel web.connect: missing host in \":80\"");
	/* a listen address given in defaults: the error points there */
	EXPECT_ERR("defaults = {\n  connect = \"localhost\";\n};\n"
		   "tunnels = ( { name = \"a\"; role = \"server\"; listen = \"127.0.0.1:1\";\n"
		   "  cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; } );\n",
		   ":4: tunnel a.connect: expected \"host:port\", got \"localhost\"");
}
END_TEST

START_TEST(err_unresolvable_host)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];
	const char *path;

	ck_assert_int_eq(load(&c, edit(SRV(""), "127.0.0.1:50080",
				       "nonexistent.invalid:80"), &path, err), -1);
	snprintf(want, sizeof want,
		 "%s:6: tunnel web.connect: cannot resolve \"nonexistent.invalid\": ",
		 path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 &&
		      strlen(err) > strlen(want), "%s", err);
}
END_TEST

START_TEST(err_bad_pin)
{
	EXPECT_ERR(SRV("pin_sha256 = \"abcd\";"),
		   ":10: tunnel web.pin_sha256: expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"abcd\"");
	EXPECT_ERR(SRV("pin_sha256 = [ \"" ABC_HEX "\", \"" ABC_HEX "00\" ];"),
		   ":10: tunnel web.pin_sha256: expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"" ABC_HEX "00\"");
	EXPECT_ERR("defaults = {\n  pin_sha256 = \"sha256//abc=\";\n};\n" SRV(""),
		   ":2: defaults.pin_sha256: expected the SHA-256 of a public key as 64 hex digits or \"sha256//BASE64\", got \"sha256//abc=\"");
}
END_TEST

/* Where a file has no tunnels at all, no line is to blame: the message
 * names the file and the setting, and no invented line 0. */
START_TEST(err_tunnels_missing)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];
	const char *path;

	ck_assert_int_eq(load(&c, "daemon = { workers = 1; };\n", &path, err), -1);
	snprintf(want, sizeof want, "%s", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, " tunnels: missing: expected a list of tunnels"),
		      "%s", err);
	ck_assert_msg(!strstr(err, ":0:") && !strstr(err, ".tunnels"), "%s", err);

	ck_assert_int_eq(load(&c, "", &path, err), -1);
	ck_assert_msg(strstr(err, " tunnels: missing: expected a list of tunnels"),
		      "%s", err);
	ck_assert_msg(!strstr(err, ":0:") && !strstr(err, ".tunnels"), "%s", err);
}
END_TEST

START_TEST(err_tunnels_shape)
{
	EXPECT_ERR("tunnels = ( );\n", ":1: tunnels: expected at least one tunnel");
	EXPECT_ERR("tunnels = { name = \"x\"; };\n",
		   ":1: tunnels: expected a list of tunnels ( { ... }, { ... } ), got a group");
	EXPECT_ERR("tunnels = [ \"x\" ];\n",
		   ":1: tunnels: expected a list of tunnels ( { ... }, { ... } ), got an array");
	EXPECT_ERR("tunnels = \"web\";\n",
		   ":1: tunnels: expected a list of tunnels ( { ... }, { ... } ), got a string");
}
END_TEST

START_TEST(err_tunnel_not_a_group)
{
	struct cfg c;
	char err[CFG_ERRLEN], want[CFG_ERRLEN];
	const char *path;

	ck_assert_int_eq(load(&c, "tunnels = (\n  \"web\" );\n", &path, err), -1);
	snprintf(want, sizeof want, "%s:2: tunnels", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_msg(strstr(err, ": expected each tunnel as a group { name = ...; role = ...; }, got a string"),
		      "%s", err);

	/* after a good tunnel: blame the item, not the tunnel before it */
	EXPECT_ERR("tunnels = (\n"
		   "  { name = \"a\"; role = \"server\"; listen = \"127.0.0.1:1\";\n"
		   "    connect = \"127.0.0.1:2\"; cert_file = \"c\"; key_file = \"k\"; ca_file = \"ca\"; },\n"
		   "  5 );\n",
		   ":4: tunnels[1]: expected each tunnel as a group { name = ...; role = ...; }, got an integer");
}
END_TEST

START_TEST(err_fits_and_is_terminated)
{
	struct cfg c;
	char err[40];
	const char *p = unit_write("long.conf", SRV("bogus_setting_with_a_long_name = 1;"));

	memset(err, 'x', sizeof err);
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	ck_assert_uint_lt(strlen(err), sizeof err);
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *good = tcase_create("good files");
	TCase *bad = tcase_create("errors");
	TCase *dns = tcase_create("resolver");

	tcase_add_test(good, full_example_loads);
	tcase_add_test(good, built_in_defaults);
	tcase_add_test(good, protocol_settings_load);
	tcase_add_test(good, proxy_auth_file_read);
	tcase_add_test(good, password_settings);
	tcase_add_test(good, workers_zero_means_one_per_cpu);
	tcase_add_test(good, each_word_of_each_enum);
	tcase_add_test(good, relay_settings);
	tcase_add_test(bad, err_relay_settings);
	tcase_add_test(good, daemon_log_file_user_chroot);
	tcase_add_test(good, defaults_inherited_and_overridden);
	tcase_add_test(good, keepalive_false_and_true);
	tcase_add_test(good, relative_paths_from_config_folder);
	tcase_add_test(good, relative_paths_in_defaults);
	tcase_add_test(good, server_name_defaults_to_connect_host);
	tcase_add_test(good, single_string_is_a_one_item_list);
	tcase_add_test(good, pins_in_every_spelling);
	tcase_add_test(good, two_tunnels_same_port_other_address);
	tcase_add_test(good, name_of_64_characters);
	tcase_add_test(good, setting_names_match_the_parser);
	tcase_add_test(good, server_lists_in_defaults_skip_client_tunnels);
	suite_add_tcase(s, good);

	tcase_add_test(bad, err_missing_file);
	tcase_add_test(bad, err_config_is_a_folder);
	tcase_add_test(bad, err_syntax);
	tcase_add_test(bad, err_unknown_top_level);
	tcase_add_test(bad, err_unknown_daemon_setting);
	tcase_add_test(bad, err_unknown_tunnel_setting);
	tcase_add_test(bad, err_wrong_types);
	tcase_add_test(bad, err_log_level_not_a_string);
	tcase_add_test(bad, err_daemon_ids_and_chroot);
	tcase_add_test(bad, err_out_of_range);
	tcase_add_test(bad, err_bad_words);
	tcase_add_test(bad, word_sets);
	tcase_add_test(bad, err_missing_required);
	tcase_add_test(bad, err_bad_name);
	tcase_add_test(bad, err_name_too_long);
	tcase_add_test(bad, err_name_in_defaults);
	tcase_add_test(bad, err_protocol_settings);
	tcase_add_test(bad, err_password_settings);
	tcase_add_test(bad, err_proxy_protocol_settings);
	tcase_add_test(bad, err_setting_for_the_other_role);
	tcase_add_test(bad, err_duplicates);
	tcase_add_test(bad, err_bad_addresses);
	tcase_add_test(bad, err_bad_pin);
	tcase_add_test(bad, err_tunnels_missing);
	tcase_add_test(bad, err_tunnels_shape);
	tcase_add_test(bad, err_tunnel_not_a_group);
	tcase_add_test(bad, err_fits_and_is_terminated);
	suite_add_tcase(s, bad);

	/* a resolver with an unreachable name server takes its time to fail */
	tcase_set_timeout(dns, 60);
	tcase_add_test(dns, err_unresolvable_host);
	suite_add_tcase(s, dns);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(cfg_suite());
}
