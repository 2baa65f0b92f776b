/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types and helpers the module's pure-logic files use,
 * for building them in userspace (unit tests, fuzzers, tools).
 */
#ifndef DMQ_KCOMPAT_H
#define DMQ_KCOMPAT_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uint32_t __le32;
typedef uint64_t __le64;

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)

#define BIT(n)			(1UL << (n))
#define DIV_ROUND_UP_ULL(n, d)	(((n) + (d) - 1) / (d))

static inline bool is_power_of_2(unsigned long n)
{
	return n && !(n & (n - 1));
}

/* CRC32C (Castagnoli), reflected, as the kernel's crc32c(seed, p, len). */
static inline u32 crc32c(u32 crc, const void *p, size_t len)
{
	static u32 table[256];
	const u8 *b = p;
	size_t n;

	if (!table[1]) {
		for (unsigned int i = 0; i < 256; i++) {
			u32 c = i;

			for (unsigned int k = 0; k < 8; k++)
				c = (c >> 1) ^ ((c & 1) ? 0x82f63b78U : 0);
			table[i] = c;
		}
	}
	for (n = 0; n < len; n++)
		crc = (crc >> 8) ^ table[(crc ^ b[n]) & 0xff];
	return crc;
}

#endif /* DMQ_KCOMPAT_H */
