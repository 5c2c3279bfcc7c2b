/* acl_int.h - what parsing and matching access lists share: DNS name
 * checks and the address masks rules and requests are compared with.
 * Internal to acl*.c. */
#ifndef SSLTUNNEL_ACL_INT_H
#define SSLTUNNEL_ACL_INT_H

#include <stddef.h>
#include <string.h>

/** @brief Check a DNS name of @len bytes (trailing dot already dropped)
 *  and say in @why what is wrong with it; @why may be NULL when only the
 *  answer matters, as for a name a client sent. */
int acl_name_check(const char *s, size_t len, char *why, size_t whylen);

/** @brief Length of @s without one trailing dot ("db." is "db"). */
static inline size_t acl_name_len(const char *s)
{
	size_t len = strlen(s);

	return len && s[len - 1] == '.' ? len - 1 : len;
}

/** @brief The mask of byte @i of a network of @prefix bits. */
static inline unsigned char acl_mask_byte(unsigned prefix, unsigned i)
{
	if (prefix >= 8 * (i + 1))
		return 0xff;
	if (prefix <= 8 * i)
		return 0;
	return (unsigned char)(0xff00u >> (prefix - 8 * i));
}

/** @brief Is @a (16 bytes) an IPv4-mapped IPv6 address, ::ffff:a.b.c.d? */
static inline int acl_is_mapped(const unsigned char *a)
{
	static const unsigned char pre[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a, pre, sizeof pre) == 0;
}

#endif
