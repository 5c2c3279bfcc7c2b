/* test_ktls.c - the crypto_info mapping handed to TLS_TX / TLS_RX:
 * fixed keys, IVs and sequence numbers in, the kernel's structs out,
 * for every cipher x TLS version. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "ktls.h"
#include "unit.h"

static unsigned char key32[32], iv12[12], seq[8];

static void setup(void)
{
	for (int i = 0; i < 32; i++)
		key32[i] = 0xa0 + i;
	for (int i = 0; i < 12; i++)
		iv12[i] = 0x10 + i;
	for (int i = 0; i < 8; i++)
		seq[i] = 0x70 + i;
}

static int fill(gnutls_protocol_t v, gnutls_cipher_algorithm_t c,
		unsigned klen, unsigned ivlen, union ktls_info *out, char *why)
{
	gnutls_datum_t key = { key32, klen }, iv = { iv12, ivlen };

	return ktls_fill(v, c, &key, &iv, seq, out, why, 200);
}

START_TEST(aes128_tls13)
{
	union ktls_info in;
	char why[200] = "";
	int n = fill(GNUTLS_TLS1_3, GNUTLS_CIPHER_AES_128_GCM, 16, 12, &in, why);

	ck_assert_int_eq(n, sizeof in.aes128);
	ck_assert_uint_eq(in.base.version, TLS_1_3_VERSION);
	ck_assert_uint_eq(in.base.cipher_type, TLS_CIPHER_AES_GCM_128);
	ck_assert_mem_eq(in.aes128.key, key32, 16);
	ck_assert_mem_eq(in.aes128.salt, iv12, 4);
	ck_assert_mem_eq(in.aes128.iv, iv12 + 4, 8);	/* rest of the static IV */
	ck_assert_mem_eq(in.aes128.rec_seq, seq, 8);
}
END_TEST

START_TEST(aes128_tls12)
{
	union ktls_info in;
	char why[200] = "";
	int n = fill(GNUTLS_TLS1_2, GNUTLS_CIPHER_AES_128_GCM, 16, 4, &in, why);

	ck_assert_int_eq(n, sizeof in.aes128);
	ck_assert_uint_eq(in.base.version, TLS_1_2_VERSION);
	ck_assert_uint_eq(in.base.cipher_type, TLS_CIPHER_AES_GCM_128);
	ck_assert_mem_eq(in.aes128.key, key32, 16);
	ck_assert_mem_eq(in.aes128.salt, iv12, 4);	/* implicit nonce */
	ck_assert_mem_eq(in.aes128.iv, seq, 8);		/* explicit nonce = seq */
	ck_assert_mem_eq(in.aes128.rec_seq, seq, 8);
}
END_TEST

START_TEST(aes256_tls13)
{
	union ktls_info in;
	char why[200] = "";
	int n = fill(GNUTLS_TLS1_3, GNUTLS_CIPHER_AES_256_GCM, 32, 12, &in, why);

	ck_assert_int_eq(n, sizeof in.aes256);
	ck_assert_uint_eq(in.base.version, TLS_1_3_VERSION);
	ck_assert_uint_eq(in.base.cipher_type, TLS_CIPHER_AES_GCM_256);
	ck_assert_mem_eq(in.aes256.key, key32, 32);
	ck_assert_mem_eq(in.aes256.salt, iv12, 4);
	ck_assert_mem_eq(in.aes256.iv, iv12 + 4, 8);
	ck_assert_mem_eq(in.aes256.rec_seq, seq, 8);
}
END_TEST

START_TEST(aes256_tls12)
{
	union ktls_info in;
	char why[200] = "";
	int n = fill(GNUTLS_TLS1_2, GNUTLS_CIPHER_AES_256_GCM, 32, 4, &in, why);

	ck_assert_int_eq(n, sizeof in.aes256);
	ck_assert_uint_eq(in.base.version, TLS_1_2_VERSION);
	ck_assert_uint_eq(in.base.cipher_type, TLS_CIPHER_AES_GCM_256);
	ck_assert_mem_eq(in.aes256.key, key32, 32);
	ck_assert_mem_eq(in.aes256.salt, iv12, 4);
	ck_assert_mem_eq(in.aes256.iv, seq, 8);
	ck_assert_mem_eq(in.aes256.rec_seq, seq, 8);
}
END_TEST

START_TEST(chacha_both_versions)
{
	gnutls_protocol_t v[] = { GNUTLS_TLS1_2, GNUTLS_TLS1_3 };
	unsigned kv[] = { TLS_1_2_VERSION, TLS_1_3_VERSION };

	for (int i = 0; i < 2; i++) {
		union ktls_info in;
		char why[200] = "";
		int n = fill(v[i], GNUTLS_CIPHER_CHACHA20_POLY1305, 32, 12, &in, why);

		ck_assert_int_eq(n, sizeof in.chacha);
		ck_assert_uint_eq(in.base.version, kv[i]);
		ck_assert_uint_eq(in.base.cipher_type, TLS_CIPHER_CHACHA20_POLY1305);
		ck_assert_mem_eq(in.chacha.key, key32, 32);
		ck_assert_mem_eq(in.chacha.iv, iv12, 12);	/* whole IV, no salt */
		ck_assert_mem_eq(in.chacha.rec_seq, seq, 8);
	}
}
END_TEST

START_TEST(refused)
{
	union ktls_info in;
	char why[200] = "";

	ck_assert_int_eq(fill(GNUTLS_TLS1_1, GNUTLS_CIPHER_AES_128_GCM, 16, 4,
			      &in, why), -1);
	ck_assert_str_eq(why, "kernel TLS takes TLS 1.2 and 1.3, not TLS1.1");
	ck_assert_int_eq(fill(GNUTLS_TLS1_3, GNUTLS_CIPHER_AES_128_CCM, 16, 12,
			      &in, why), -1);
	ck_assert_str_eq(why, "kernel TLS does not take cipher AES-128-CCM");
	ck_assert_int_eq(fill(GNUTLS_TLS1_3, GNUTLS_CIPHER_AES_128_GCM, 32, 12,
			      &in, why), -1);
	ck_assert_str_eq(why, "unexpected key/IV size 32/12 for AES-128-GCM");
	ck_assert_int_eq(fill(GNUTLS_TLS1_2, GNUTLS_CIPHER_AES_256_GCM, 32, 12,
			      &in, why), -1);
	ck_assert_str_eq(why, "unexpected key/IV size 32/12 for AES-256-GCM");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ktls");
	TCase *tc = tcase_create("crypto_info");

	unit_init();
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, aes128_tls13);
	tcase_add_test(tc, aes128_tls12);
	tcase_add_test(tc, aes256_tls13);
	tcase_add_test(tc, aes256_tls12);
	tcase_add_test(tc, chacha_both_versions);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
