/* test_tls.c - who a certificate says it is, allow lists and pins, and
 * loading credentials */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "acl.h"
#include "cfg.h"
#include "tls.h"
#include "unit.h"

/* ---- pins ---- */

/* SHA-256("abc") */
static const unsigned char abc[32] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_HEX_COLONS "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:" \
	"B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
#define ABC_B64 "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="

#define PIN_OK(s) do { \
		unsigned char o_[32]; \
		memset(o_, 0, sizeof o_); \
		ck_assert_msg(acl_pin_parse((s), o_) == 0, "\"%s\" refused", (s)); \
		ck_assert_mem_eq(o_, abc, 32); \
	} while (0)
#define PIN_BAD(s) do { \
		unsigned char o_[32]; \
		ck_assert_msg(acl_pin_parse((s), o_) == -1, "\"%s\" accepted", (s)); \
	} while (0)

START_TEST(pin_spellings)
{
	unsigned char o[32];

	PIN_OK(ABC_HEX);
	PIN_OK("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	PIN_OK(ABC_HEX_COLONS);
	PIN_OK("sha256//" ABC_B64);
	PIN_OK(ABC_B64);
	/* all zero and all ones, to see every bit land */
	ck_assert_int_eq(acl_pin_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", o), 0);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(o[i], 0);
	ck_assert_int_eq(acl_pin_parse("sha256////////////////////////////////////////////8=", o), 0);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(o[i], 0xff);
}
END_TEST

START_TEST(pin_wrong_lengths)
{
	PIN_BAD("");
	PIN_BAD("sha256//");
	PIN_BAD("abcd");
	/* 31 and 33 bytes */
	PIN_BAD("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015");
	PIN_BAD(ABC_HEX "00");
	/* an odd number of digits */
	PIN_BAD("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a");
	PIN_BAD(ABC_HEX "0");
	/* base64 of 31 and of 33 bytes */
	PIN_BAD("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFQ==");
	PIN_BAD("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0A");
	/* base64 without its padding, or with too much */
	PIN_BAD("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
	PIN_BAD("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0==");
	/* a SHA-1 */
	PIN_BAD("a9993e364706816aba3e25717850c26c9cd0d89d");
}
END_TEST

START_TEST(pin_bad_characters)
{
	PIN_BAD("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	PIN_BAD("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aZ");
	PIN_BAD(" " ABC_HEX);
	PIN_BAD(ABC_HEX " ");
	PIN_BAD("ba 7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	PIN_BAD("0x" ABC_HEX);
	/* colons go between bytes, not inside one or in front */
	PIN_BAD(":" ABC_HEX);
	PIN_BAD("b:a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	PIN_BAD("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAF!0=");
	PIN_BAD("sha256//ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
	PIN_BAD("sha256//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD YfIAFa0=");
	PIN_BAD("sha1//ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}
END_TEST

/* ---- tls_authorize with identities made by hand ---- */

#define LIST(l, ...) do { \
		static char *v_[] = { __VA_ARGS__ }; \
		(l).v = v_; \
		(l).n = sizeof v_ / sizeof *v_; \
	} while (0)

static struct cfg_tunnel server_tunnel(void)
{
	struct cfg_tunnel t;

	cfg_tunnel_defaults(&t);
	t.name = "web";
	t.role = CFG_ROLE_SERVER;
	return t;
}

#define ADMITS(t, id) do { \
		char r_[TLS_REASONLEN] = ""; \
		ck_assert_msg(tls_authorize(&(t), &(id), r_, sizeof r_) == 1, \
			      "refused: %s", r_); \
	} while (0)
#define REFUSES(t, id, want) do { \
		char r_[TLS_REASONLEN] = ""; \
		ck_assert_int_eq(tls_authorize(&(t), &(id), r_, sizeof r_), 0); \
		ck_assert_str_eq(r_, (want)); \
	} while (0)

START_TEST(no_lists_admit_anyone)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity id = { .cn = "anyone" }, none = { .cn = "" };

	ADMITS(t, id);
	ADMITS(t, none);
}
END_TEST

START_TEST(allow_cn_exact)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity c1 = { .cn = "client1" }, c2 = { .cn = "client2" },
		upper = { .cn = "Client1" }, longer = { .cn = "client10" },
		empty = { .cn = "" };

	LIST(t.allow_cn, "client1", "client3");
	ADMITS(t, c1);
	REFUSES(t, c2, "CN=client2 is not in allow_cn");
	REFUSES(t, upper, "CN=Client1 is not in allow_cn");
	REFUSES(t, longer, "CN=client10 is not in allow_cn");
	REFUSES(t, empty, "a certificate without CN or SAN is not in allow_cn");
}
END_TEST

START_TEST(allow_cn_never_matches_an_empty_cn)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity empty = { .cn = "" };

	LIST(t.allow_cn, "");
	REFUSES(t, empty, "a certificate without CN or SAN is not in allow_cn");
}
END_TEST

START_TEST(allow_dns_ignores_case)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity id = { .cn = "x", .dns = { "other.example", "Client.Example.COM" }, .ndns = 2 };
	struct tls_identity sub = { .cn = "x", .dns = { "www.client.example.com" }, .ndns = 1 };
	struct tls_identity wild = { .cn = "x", .dns = { "*.example.com" }, .ndns = 1 };
	struct tls_identity cn_only = { .cn = "client.example.com" };

	LIST(t.allow_dns, "client.example.com");
	ADMITS(t, id);
	REFUSES(t, sub, "DNS=www.client.example.com is not in allow_dns");
	/* exact match: a wildcard in the certificate is just a name */
	REFUSES(t, wild, "DNS=*.example.com is not in allow_dns");
	/* the CN is no dNSName */
	REFUSES(t, cn_only, "CN=client.example.com is not in allow_dns");
}
END_TEST

START_TEST(allow_uri_exact)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity id = { .uri = { "urn:a", "spiffe://example.org/ns/a" }, .nuri = 2 };
	struct tls_identity other = { .cn = "a", .uri = { "spiffe://example.org/ns/A" }, .nuri = 1 };

	LIST(t.allow_uri, "spiffe://example.org/ns/a");
	ADMITS(t, id);
	REFUSES(t, other, "URI=spiffe://example.org/ns/A is not in allow_uri");
}
END_TEST

START_TEST(pin_match)
{
	static unsigned char pins[2][32];
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity id = { .cn = "client1", .have_spki = 1 };
	char r[TLS_REASONLEN] = "";

	memset(pins[0], 0x11, 32);
	memcpy(pins[1], abc, 32);
	t.pins = pins;
	t.npins = 2;
	memcpy(id.spki_sha256, abc, 32);
	ADMITS(t, id);

	id.spki_sha256[31] ^= 1;
	ck_assert_int_eq(tls_authorize(&t, &id, r, sizeof r), 0);
	ck_assert_msg(strstr(r, "CN=client1") && strstr(r, "pin_sha256"), "%s", r);

	/* no key hash, no match */
	memcpy(id.spki_sha256, abc, 32);
	id.have_spki = 0;
	ck_assert_int_eq(tls_authorize(&t, &id, r, sizeof r), 0);
}
END_TEST

START_TEST(any_list_admits)
{
	static unsigned char pins[1][32];
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity by_cn = { .cn = "client1" };
	struct tls_identity by_dns = { .cn = "nobody", .dns = { "B.EXAMPLE" }, .ndns = 1 };
	struct tls_identity by_uri = { .cn = "nobody", .uri = { "urn:c" }, .nuri = 1 };
	struct tls_identity by_pin = { .cn = "nobody", .have_spki = 1 };

	LIST(t.allow_cn, "client1");
	LIST(t.allow_dns, "b.example");
	LIST(t.allow_uri, "urn:c");
	memcpy(pins[0], abc, 32);
	memcpy(by_pin.spki_sha256, abc, 32);
	t.pins = pins;
	t.npins = 1;
	ADMITS(t, by_cn);
	ADMITS(t, by_dns);
	ADMITS(t, by_uri);
	ADMITS(t, by_pin);
}
END_TEST

START_TEST(reasons_name_every_list)
{
	static unsigned char pins[1][32];
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity c2 = { .cn = "client2", .dns = { "c2.example" }, .ndns = 1 };
	struct tls_identity dns_only = { .dns = { "c2.example" }, .ndns = 1 };
	struct tls_identity uri_only = { .uri = { "urn:c2" }, .nuri = 1 };
	struct tls_identity none = { .cn = "" };

	LIST(t.allow_cn, "client1");
	LIST(t.allow_dns, "c1.example");
	REFUSES(t, c2, "CN=client2 matches none of allow_cn, allow_dns");
	REFUSES(t, dns_only, "DNS=c2.example matches none of allow_cn, allow_dns");
	REFUSES(t, uri_only, "URI=urn:c2 matches none of allow_cn, allow_dns");
	REFUSES(t, none, "a certificate without CN or SAN matches none of allow_cn, allow_dns");

	LIST(t.allow_uri, "urn:c1");
	memset(pins[0], 0x22, 32);
	t.pins = pins;
	t.npins = 1;
	REFUSES(t, c2, "CN=client2 matches none of allow_cn, allow_dns, allow_uri, pin_sha256");

	t = server_tunnel();
	LIST(t.allow_dns, "c1.example");
	LIST(t.allow_uri, "urn:c1");
	REFUSES(t, c2, "CN=client2 matches none of allow_dns, allow_uri");
}
END_TEST

START_TEST(reason_fits_a_small_buffer)
{
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity c2 = { .cn = "client2-with-a-long-common-name" };
	char r[12];

	LIST(t.allow_cn, "client1");
	memset(r, 'x', sizeof r);
	ck_assert_int_eq(tls_authorize(&t, &c2, r, sizeof r), 0);
	ck_assert_str_eq(r, "CN=client2-");
}
END_TEST

/* ---- real certificates, made by certtool when the suite starts ---- */

static int have_certs;

static const char make_certs[] =
	"set -e\n"
	"cd \"$1\"\n"
	"exec >certtool.log 2>&1\n"
	"cat >ca.tmpl <<EOF\n"
	"cn = \"Unit Test CA\"\nca\ncert_signing_key\nexpiration_days = 30\n"
	"EOF\n"
	"cat >client.tmpl <<EOF\n"
	"cn = \"client1\"\norganization = \"Example\"\n"
	"dns_name = \"client1.example.com\"\ndns_name = \"Alt.Example.ORG\"\n"
	"uri = \"spiffe://example.org/client1\"\n"
	"tls_www_client\nsigning_key\nexpiration_days = 30\n"
	"EOF\n"
	"cat >server.tmpl <<EOF\n"
	"cn = \"server\"\ntls_www_server\nsigning_key\nencryption_key\n"
	"expiration_days = 30\n"
	"EOF\n"
	"cat >nocn.tmpl <<EOF\n"
	"dns_name = \"only-san.example\"\ntls_www_client\nsigning_key\n"
	"expiration_days = 30\n"
	"EOF\n"
	"certtool --generate-privkey --key-type=ecdsa --outfile ca.key\n"
	"certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem\n"
	"certtool --generate-privkey --key-type=ecdsa --outfile client.key\n"
	"certtool --generate-privkey --key-type=rsa --bits=2048 --outfile server.key\n"
	"certtool --generate-privkey --key-type=ecdsa --outfile nocn.key\n"
	"for c in client server nocn; do\n"
	"  certtool --generate-certificate --load-privkey $c.key --load-ca-certificate ca.pem"
	" --load-ca-privkey ca.key --template $c.tmpl --outfile $c.pem\n"
	"  openssl x509 -in $c.pem -pubkey -noout | openssl pkey -pubin -outform DER"
	" | sha256sum | cut -c1-64 >$c.spki\n"
	"done\n"
	": >empty.pem\n";

static void certs_setup(void)
{
	char script[512], cmd[1200];
	FILE *f;

	snprintf(script, sizeof script, "%s/make-certs.sh", unit_dir());
	f = fopen(script, "w");
	if (!f)
		return;
	fputs(make_certs, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "sh '%s' '%s' || { cat '%s/certtool.log' >&2; exit 1; }",
		 script, unit_dir(), unit_dir());
	have_certs = system(cmd) == 0;
	if (!have_certs)
		fprintf(stderr, "certtool or openssl failed: certificate tests skipped\n");
}

static char *path_of(const char *name)
{
	char *p;

	ck_assert(asprintf(&p, "%s/%s", unit_dir(), name) > 0);
	return unit_keep(p);
}

static char *slurp(const char *name)
{
	char *p = path_of(name), *buf = calloc(1, 65536);
	FILE *f = fopen(p, "r");
	size_t n;

	ck_assert_msg(f, "%s", p);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	free(p);
	return buf;
}

/** @brief The DER of a PEM certificate file in the scratch folder. */
static gnutls_datum_t der_of(const char *name)
{
	char *pem = slurp(name);
	gnutls_datum_t in = { (unsigned char *)pem, strlen(pem) }, out;

	ck_assert_int_eq(gnutls_pem_base64_decode2("CERTIFICATE", &in, &out), 0);
	free(pem);
	return out;
}

static void spki_of(const char *name, unsigned char out[32])
{
	char *hex = slurp(name);

	hex[64] = '\0';
	ck_assert_msg(acl_pin_parse(hex, out) == 0, "%s: %s", name, hex);
	free(hex);
}

START_TEST(identity_with_sans)
{
	gnutls_datum_t der = der_of("client.pem");
	struct tls_identity id;
	unsigned char want[32];

	ck_assert_int_eq(tls_identity_from_der(&der, &id), 0);
	ck_assert_str_eq(id.cn, "client1");
	ck_assert_uint_eq(id.ndns, 2);
	ck_assert_str_eq(id.dns[0], "client1.example.com");
	ck_assert_str_eq(id.dns[1], "Alt.Example.ORG");
	ck_assert_uint_eq(id.nuri, 1);
	ck_assert_str_eq(id.uri[0], "spiffe://example.org/client1");
	ck_assert_int_eq(id.have_spki, 1);
	spki_of("client.spki", want);
	ck_assert_mem_eq(id.spki_sha256, want, 32);
	tls_identity_free(&id);
	ck_assert_uint_eq(id.ndns, 0);
	ck_assert_uint_eq(id.nuri, 0);
	gnutls_free(der.data);
}
END_TEST

START_TEST(identity_rsa_without_sans)
{
	gnutls_datum_t der = der_of("server.pem");
	struct tls_identity id;
	unsigned char want[32];

	ck_assert_int_eq(tls_identity_from_der(&der, &id), 0);
	ck_assert_str_eq(id.cn, "server");
	ck_assert_uint_eq(id.ndns, 0);
	ck_assert_uint_eq(id.nuri, 0);
	ck_assert_int_eq(id.have_spki, 1);
	spki_of("server.spki", want);
	ck_assert_mem_eq(id.spki_sha256, want, 32);
	tls_identity_free(&id);
	gnutls_free(der.data);
}
END_TEST

START_TEST(identity_without_cn)
{
	gnutls_datum_t der = der_of("nocn.pem");
	struct tls_identity id;

	ck_assert_int_eq(tls_identity_from_der(&der, &id), 0);
	ck_assert_str_eq(id.cn, "");
	ck_assert_uint_eq(id.ndns, 1);
	ck_assert_str_eq(id.dns[0], "only-san.example");
	tls_identity_free(&id);
	gnutls_free(der.data);
}
END_TEST

START_TEST(identity_from_garbage)
{
	unsigned char junk[] = "this is no certificate";
	gnutls_datum_t der = { junk, sizeof junk };
	struct tls_identity id;

	memset(&id, 0x55, sizeof id);
	ck_assert_int_eq(tls_identity_from_der(&der, &id), -1);
	ck_assert_str_eq(id.cn, "");
	ck_assert_uint_eq(id.ndns, 0);
	ck_assert_uint_eq(id.nuri, 0);
	ck_assert_int_eq(id.have_spki, 0);
}
END_TEST

/* From the config file's pin to a real certificate's key. */
START_TEST(config_pin_admits_real_certificate)
{
	gnutls_datum_t der = der_of("client.pem");
	struct tls_identity id, srv;
	struct cfg c;
	char err[CFG_ERRLEN], *hex = slurp("client.spki"), *text;
	const char *conf;
	gnutls_datum_t sder = der_of("server.pem");

	hex[64] = '\0';
	ck_assert(asprintf(&text,
		"tunnels = ( { name = \"in\"; role = \"server\";\n"
		"  listen = \"127.0.0.1:50443\"; connect = \"127.0.0.1:50080\";\n"
		"  cert_file = \"server.pem\"; key_file = \"server.key\"; ca_file = \"ca.pem\";\n"
		"  pin_sha256 = \"%s\"; } );\n", hex) > 0);
	conf = unit_write("pin.conf", text);
	ck_assert_msg(cfg_load(&c, conf, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(tls_identity_from_der(&der, &id), 0);
	ck_assert_int_eq(tls_identity_from_der(&sder, &srv), 0);
	ADMITS(c.tunnels[0], id);
	ck_assert_int_eq(tls_authorize(&c.tunnels[0], &srv, err, sizeof err), 0);
	tls_identity_free(&id);
	tls_identity_free(&srv);
	cfg_free(&c);
	free(text);
	free(hex);
	gnutls_free(der.data);
	gnutls_free(sder.data);
}
END_TEST

START_TEST(allow_dns_admits_real_certificate)
{
	gnutls_datum_t der = der_of("client.pem");
	struct cfg_tunnel t = server_tunnel();
	struct tls_identity id;

	ck_assert_int_eq(tls_identity_from_der(&der, &id), 0);
	LIST(t.allow_dns, "alt.example.org");
	ADMITS(t, id);
	t = server_tunnel();
	LIST(t.allow_uri, "spiffe://example.org/client1");
	ADMITS(t, id);
	t = server_tunnel();
	LIST(t.allow_cn, "client2");
	REFUSES(t, id, "CN=client1 is not in allow_cn");
	tls_identity_free(&id);
	gnutls_free(der.data);
}
END_TEST

static struct cfg_tunnel files_tunnel(const char *cert, const char *key,
				      const char *ca)
{
	struct cfg_tunnel t = server_tunnel();

	t.cert_file = cert[0] == '/' ? (char *)cert : path_of(cert);
	t.key_file = key[0] == '/' ? (char *)key : path_of(key);
	t.ca_file = ca[0] == '/' ? (char *)ca : path_of(ca);
	return t;
}

START_TEST(ctx_init_loads_credentials)
{
	struct cfg_tunnel t = files_tunnel("server.pem", "server.key", "ca.pem");
	struct tls_ctx ctx;
	char err[512] = "";

	ck_assert_msg(tls_ctx_init(&ctx, &t, err, sizeof err) == 0, "%s", err);
	ck_assert_ptr_nonnull(ctx.creds);
	ck_assert_ptr_nonnull(ctx.prio);
	ck_assert_ptr_eq(ctx.t, &t);
	tls_ctx_free(&ctx);
	ck_assert_ptr_null(ctx.creds);

	t = files_tunnel("client.pem", "client.key", "ca.pem");
	t.role = CFG_ROLE_CLIENT;
	ck_assert_msg(tls_ctx_init(&ctx, &t, err, sizeof err) == 0, "%s", err);
	tls_ctx_free(&ctx);
}
END_TEST

#define CTX_ERR(t, fmt, ...) do { \
		struct tls_ctx c_; \
		char e_[1024] = "", w_[1024]; \
		ck_assert_int_eq(tls_ctx_init(&c_, &(t), e_, sizeof e_), -1); \
		snprintf(w_, sizeof w_, fmt, __VA_ARGS__); \
		ck_assert_str_eq(e_, w_); \
		ck_assert_ptr_null(c_.creds); \
	} while (0)

START_TEST(ctx_init_errors)
{
	struct cfg_tunnel t;

	t = files_tunnel("server.pem", "client.key", "ca.pem");
	CTX_ERR(t, "tunnel web: cert_file %s / key_file %s: %s", t.cert_file,
		t.key_file, gnutls_strerror(GNUTLS_E_CERTIFICATE_KEY_MISMATCH));
	t = files_tunnel("server.pem", "/nonexistent/server.key", "ca.pem");
	CTX_ERR(t, "tunnel web: cert_file %s / key_file %s: %s", t.cert_file,
		t.key_file, gnutls_strerror(GNUTLS_E_FILE_ERROR));
	t = files_tunnel("/nonexistent/server.pem", "server.key", "ca.pem");
	CTX_ERR(t, "tunnel web: cert_file %s / key_file %s: %s", t.cert_file,
		t.key_file, gnutls_strerror(GNUTLS_E_FILE_ERROR));
	t = files_tunnel("server.pem", "server.key", "/nonexistent/ca.pem");
	CTX_ERR(t, "tunnel web: ca_file %s: %s", t.ca_file,
		gnutls_strerror(GNUTLS_E_FILE_ERROR));
	t = files_tunnel("server.pem", "server.key", "empty.pem");
	CTX_ERR(t, "tunnel web: ca_file %s: no certificate found", t.ca_file);
	t = files_tunnel("server.pem", "server.key", "ca.key");
	CTX_ERR(t, "tunnel web: ca_file %s: no certificate found", t.ca_file);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *pins = tcase_create("pins");
	TCase *auth = tcase_create("authorize");
	TCase *certs = tcase_create("certificates");

	tcase_add_test(pins, pin_spellings);
	tcase_add_test(pins, pin_wrong_lengths);
	tcase_add_test(pins, pin_bad_characters);
	suite_add_tcase(s, pins);

	tcase_add_test(auth, no_lists_admit_anyone);
	tcase_add_test(auth, allow_cn_exact);
	tcase_add_test(auth, allow_cn_never_matches_an_empty_cn);
	tcase_add_test(auth, allow_dns_ignores_case);
	tcase_add_test(auth, allow_uri_exact);
	tcase_add_test(auth, pin_match);
	tcase_add_test(auth, any_list_admits);
	tcase_add_test(auth, reasons_name_every_list);
	tcase_add_test(auth, reason_fits_a_small_buffer);
	suite_add_tcase(s, auth);

	if (have_certs) {
		tcase_add_test(certs, identity_with_sans);
		tcase_add_test(certs, identity_rsa_without_sans);
		tcase_add_test(certs, identity_without_cn);
		tcase_add_test(certs, config_pin_admits_real_certificate);
		tcase_add_test(certs, allow_dns_admits_real_certificate);
		tcase_add_test(certs, ctx_init_loads_credentials);
		tcase_add_test(certs, ctx_init_errors);
	}
	tcase_add_test(certs, identity_from_garbage);
	suite_add_tcase(s, certs);
	return s;
}

int main(void)
{
	int rc;

	unit_init();
	certs_setup();
	rc = unit_run(tls_suite());
	/* 77: automake reports SKIP, so missing tools don't pass unnoticed */
	return rc == 0 && !have_certs ? 77 : rc;
}
