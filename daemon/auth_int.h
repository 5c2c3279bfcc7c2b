/* auth_int.h - what the password-login pieces share: auth.c (the password
 * file, Basic credentials) and auth_cache.c (the login cache) compare
 * secrets with the same constant-time helper. Internal to auth*.c. */
#ifndef SSLTUNNEL_AUTH_INT_H
#define SSLTUNNEL_AUTH_INT_H

#include <stddef.h>

/** @brief 1 if the @n bytes at @a and @b are equal, in a time that does
 *  not depend on where they differ. */
static inline int auth_ct_eq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

#endif
