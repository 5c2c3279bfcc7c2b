/* test_net.c - "host:port" parsing, resolving, and addresses in logs */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "unit.h"

#define SPLIT_OK(s, want_host, want_port) do { \
		char *h_ = NULL, *p_ = NULL, e_[256] = ""; \
		ck_assert_msg(net_split_hostport((s), &h_, &p_, e_, sizeof e_) == 0, \
			      "%s: %s", (s), e_); \
		ck_assert_str_eq(h_, (want_host)); \
		ck_assert_str_eq(p_, (want_port)); \
		free(h_); \
		free(p_); \
	} while (0)

#define SPLIT_ERR(s, want) do { \
		char *h_ = NULL, *p_ = NULL, e_[256] = ""; \
		ck_assert_msg(net_split_hostport((s), &h_, &p_, e_, sizeof e_) == -1, \
			      "\"%s\" accepted as host \"%s\" port \"%s\"", (s), \
			      h_ ? h_ : "", p_ ? p_ : ""); \
		ck_assert_str_eq(e_, (want)); \
	} while (0)

START_TEST(split_good)
{
	SPLIT_OK("127.0.0.1:80", "127.0.0.1", "80");
	SPLIT_OK("example.com:443", "example.com", "443");
	SPLIT_OK("localhost:1", "localhost", "1");
	SPLIT_OK("localhost:65535", "localhost", "65535");
	SPLIT_OK("[::1]:443", "::1", "443");
	SPLIT_OK("[2001:db8::17]:50443", "2001:db8::17", "50443");
	SPLIT_OK("[fe80::1%eth0]:22", "fe80::1%eth0", "22");
	SPLIT_OK("[::ffff:192.0.2.1]:8080", "::ffff:192.0.2.1", "8080");
}
END_TEST

START_TEST(split_errors)
{
	SPLIT_ERR("127.0.0.1", "expected \"host:port\", got \"127.0.0.1\"");
	SPLIT_ERR("localhost", "expected \"host:port\", got \"localhost\"");
	SPLIT_ERR("", "expected \"host:port\", got \"\"");
	SPLIT_ERR("[::1]", "expected \"[ipv6]:port\", got \"[::1]\"");
	SPLIT_ERR("[::1]443", "expected \"[ipv6]:port\", got \"[::1]443\"");
	SPLIT_ERR("[::1:443", "expected \"[ipv6]:port\", got \"[::1:443\"");
	SPLIT_ERR("::1:443",
		  "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"::1:443\"");
	SPLIT_ERR("2001:db8::1:443",
		  "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"2001:db8::1:443\"");
	SPLIT_ERR(":443", "missing host in \":443\"");
	SPLIT_ERR("[]:443", "missing host in \"[]:443\"");
	SPLIT_ERR("host:", "port must be a number from 1 to 65535, got \"\"");
	SPLIT_ERR("host:0", "port must be a number from 1 to 65535, got \"0\"");
	SPLIT_ERR("host:65536", "port must be a number from 1 to 65535, got \"65536\"");
	SPLIT_ERR("host:70000", "port must be a number from 1 to 65535, got \"70000\"");
	SPLIT_ERR("host:99999999999999999999",
		  "port must be a number from 1 to 65535, got \"99999999999999999999\"");
	SPLIT_ERR("host:-1", "port must be a number from 1 to 65535, got \"-1\"");
	SPLIT_ERR("host:+80", "port must be a number from 1 to 65535, got \"+80\"");
	SPLIT_ERR("host:80x", "port must be a number from 1 to 65535, got \"80x\"");
	SPLIT_ERR("host:https", "port must be a number from 1 to 65535, got \"https\"");
	SPLIT_ERR("[::1]:0", "port must be a number from 1 to 65535, got \"0\"");
}
END_TEST

/* strtol() skips leading blanks; a port is digits only. */
START_TEST(split_port_with_blanks)
{
	SPLIT_ERR("host: 80", "port must be a number from 1 to 65535, got \" 80\"");
	SPLIT_ERR("host:\t80", "port must be a number from 1 to 65535, got \"\t80\"");
}
END_TEST

START_TEST(split_error_fits)
{
	char *h = NULL, *p = NULL, e[16];

	memset(e, 'x', sizeof e);
	ck_assert_int_eq(net_split_hostport("a-rather-long-hostname-without-port",
					    &h, &p, e, sizeof e), -1);
	ck_assert_uint_eq(strlen(e), sizeof e - 1);
}
END_TEST

static const char *ep_str(const struct net_endpoint *ep, int i, char *buf)
{
	return net_addr_str((const struct sockaddr *)&ep->addrs[i].ss, buf,
			    NET_ADDRSTRLEN);
}

START_TEST(endpoint_numeric)
{
	struct net_endpoint ep;
	char e[256] = "", buf[NET_ADDRSTRLEN];

	ck_assert_msg(net_endpoint_parse(&ep, "127.0.0.1:50443", 1, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "50443");
	ck_assert_int_eq(ep.naddrs, 1);
	ck_assert_int_eq(ep.addrs[0].ss.ss_family, AF_INET);
	ck_assert_uint_eq(ep.addrs[0].len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(ep_str(&ep, 0, buf), "127.0.0.1:50443");
	net_endpoint_free(&ep);
	ck_assert_ptr_null(ep.host);
	ck_assert_int_eq(ep.naddrs, 0);

	ck_assert_msg(net_endpoint_parse(&ep, "[::1]:443", 0, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_int_eq(ep.naddrs, 1);
	ck_assert_int_eq(ep.addrs[0].ss.ss_family, AF_INET6);
	ck_assert_uint_eq(ep.addrs[0].len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(ep_str(&ep, 0, buf), "[::1]:443");
	net_endpoint_free(&ep);
}
END_TEST

START_TEST(endpoint_by_name)
{
	struct net_endpoint ep;
	char e[256] = "", buf[NET_ADDRSTRLEN];

	ck_assert_msg(net_endpoint_parse(&ep, "localhost:8080", 0, e, sizeof e) == 0, "%s", e);
	ck_assert_str_eq(ep.host, "localhost");
	ck_assert_int_ge(ep.naddrs, 1);
	ck_assert_int_le(ep.naddrs, NET_MAX_ADDRS);
	for (int i = 0; i < ep.naddrs; i++) {
		const char *s = ep_str(&ep, i, buf);
		ck_assert_msg(strncmp(s, "127.", 4) == 0 || strcmp(s, "[::1]:8080") == 0,
			      "localhost resolved to %s", s);
		ck_assert_msg(strcmp(strrchr(s, ':'), ":8080") == 0, "%s", s);
	}
	net_endpoint_free(&ep);
}
END_TEST

START_TEST(endpoint_errors)
{
	struct net_endpoint ep;
	char e[256] = "";
	const char *want = "cannot resolve \"nonexistent.invalid\": ";

	ck_assert_int_eq(net_endpoint_parse(&ep, "nonexistent.invalid:80", 0, e, sizeof e), -1);
	ck_assert_msg(strncmp(e, want, strlen(want)) == 0 && strlen(e) > strlen(want),
		      "%s", e);
	ck_assert_ptr_null(ep.host);
	ck_assert_ptr_null(ep.port);
	ck_assert_int_eq(ep.naddrs, 0);

	/* a split error comes through as it is */
	ck_assert_int_eq(net_endpoint_parse(&ep, "::1:80", 1, e, sizeof e), -1);
	ck_assert_str_eq(e, "IPv6 addresses need brackets, as in \"[::1]:443\"; got \"::1:80\"");
	ck_assert_ptr_null(ep.host);
}
END_TEST

START_TEST(addr_str_v4)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(8080) };
	char buf[NET_ADDRSTRLEN];

	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s4, buf, sizeof buf),
			 "192.0.2.1:8080");
	s4.sin_port = htons(65535);
	inet_pton(AF_INET, "255.255.255.255", &s4.sin_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s4, buf, sizeof buf),
			 "255.255.255.255:65535");
	/* the return value is the buffer */
	ck_assert_ptr_eq(net_addr_str((struct sockaddr *)&s4, buf, sizeof buf), buf);
}
END_TEST

START_TEST(addr_str_v6)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	char buf[NET_ADDRSTRLEN];

	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s6, buf, sizeof buf),
			 "[::1]:443");
	inet_pton(AF_INET6, "2001:db8:0:0:0:0:0:17", &s6.sin6_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s6, buf, sizeof buf),
			 "[2001:db8::17]:443");
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s6, buf, sizeof buf),
			 "[::ffff:192.0.2.1]:443");
	/* the longest there is fits NET_ADDRSTRLEN */
	s6.sin6_port = htons(65535);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", &s6.sin6_addr);
	ck_assert_str_eq(net_addr_str((struct sockaddr *)&s6, buf, sizeof buf),
			 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
}
END_TEST

START_TEST(addr_str_other_family)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	char buf[NET_ADDRSTRLEN];

	ck_assert_str_eq(net_addr_str((struct sockaddr *)&su, buf, sizeof buf), "?");
}
END_TEST

START_TEST(addr_str_small_buffer)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(8080) };
	char buf[8];

	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	net_addr_str((struct sockaddr *)&s4, buf, sizeof buf);
	ck_assert_str_eq(buf, "192.0.2");
}
END_TEST

START_TEST(ip_literal)
{
	ck_assert(net_is_ip_literal("127.0.0.1"));
	ck_assert(net_is_ip_literal("::1"));
	ck_assert(net_is_ip_literal("2001:db8::17"));
	ck_assert(net_is_ip_literal("::ffff:192.0.2.1"));
	ck_assert(!net_is_ip_literal("localhost"));
	ck_assert(!net_is_ip_literal("example.com"));
	ck_assert(!net_is_ip_literal("[::1]"));
	ck_assert(!net_is_ip_literal("1.2.3"));
	ck_assert(!net_is_ip_literal("256.1.1.1"));
	ck_assert(!net_is_ip_literal(""));
}
END_TEST

/** @brief Accept one loopback connection on a listener given @ka by
 *  net_listener_opts (first @before), and read the accepted socket's
 *  options: nodelay, keepalive, idle, interval, count. */
static void accepted_opts(const struct net_keepalive *before,
			  const struct net_keepalive *ka, int out[5])
{
	struct net_addr a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char err[200];
	int l, c, s, opts[5][2] = {
		{ IPPROTO_TCP, TCP_NODELAY }, { SOL_SOCKET, SO_KEEPALIVE },
		{ IPPROTO_TCP, TCP_KEEPIDLE }, { IPPROTO_TCP, TCP_KEEPINTVL },
		{ IPPROTO_TCP, TCP_KEEPCNT } };

	ck_assert_int_eq(net_addr_literal("127.0.0.1", 0, &a), 0);
	l = net_listen(&a, err, sizeof err);
	ck_assert_msg(l >= 0, "%s", err);
	if (before)
		net_listener_opts(l, before);
	net_listener_opts(l, ka);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&ss, &sl), 0);
	c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&ss, sl), 0);
	for (int i = 0; i < 100 && (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0; i++)
		usleep(10000);
	ck_assert_int_ge(s, 0);
	for (int i = 0; i < 5; i++) {
		socklen_t ol = sizeof out[i];
		ck_assert_int_eq(getsockopt(s, opts[i][0], opts[i][1], &out[i], &ol), 0);
	}
	close(s);
	close(c);
	close(l);
}

/* conn_accept sets neither: the accepted socket must have them. */
START_TEST(listener_opts_inherited)
{
	struct net_keepalive ka = { 37, 11, 4 };
	int o[5];

	accepted_opts(NULL, &ka, o);
	ck_assert_int_eq(o[0], 1);
	ck_assert_int_eq(o[1], 1);
	ck_assert_int_eq(o[2], 37);
	ck_assert_int_eq(o[3], 11);
	ck_assert_int_eq(o[4], 4);
}
END_TEST

/* A listener taken over by a generation without keepalive (or by a
 * client-role tunnel) stops giving it. */
START_TEST(listener_opts_keepalive_off)
{
	struct net_keepalive ka = { 37, 11, 4 }, off = { 0, 1, 1 };
	int o[5];

	accepted_opts(&ka, &off, o);
	ck_assert_int_eq(o[0], 1);
	ck_assert_int_eq(o[1], 0);
	accepted_opts(&ka, NULL, o);
	ck_assert_int_eq(o[0], 1);
	ck_assert_int_eq(o[1], 0);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *split = tcase_create("host:port");
	TCase *addr = tcase_create("addresses");
	TCase *dns = tcase_create("resolver");

	tcase_add_test(split, split_good);
	tcase_add_test(split, split_errors);
	tcase_add_test(split, split_port_with_blanks);
	tcase_add_test(split, split_error_fits);
	tcase_add_test(split, endpoint_numeric);
	suite_add_tcase(s, split);

	/* a resolver with an unreachable name server takes its time to fail */
	tcase_set_timeout(dns, 60);
	tcase_add_test(dns, endpoint_by_name);
	tcase_add_test(dns, endpoint_errors);
	suite_add_tcase(s, dns);

	tcase_add_test(addr, addr_str_v4);
	tcase_add_test(addr, addr_str_v6);
	tcase_add_test(addr, addr_str_other_family);
	tcase_add_test(addr, addr_str_small_buffer);
	tcase_add_test(addr, ip_literal);
	tcase_add_test(addr, listener_opts_inherited);
	tcase_add_test(addr, listener_opts_keepalive_off);
	suite_add_tcase(s, addr);
	return s;
}

int main(void)
{
	unit_init();
	return unit_run(net_suite());
}
