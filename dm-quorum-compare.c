// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum data compare, for equality only.
 *
 * x86-64 has no memcmp() of its own and the generic one branches on every
 * word; these loops OR the differences of four words and branch once per
 * 32 bytes.  Pieces that are a multiple of 32 bytes long at 8-byte aligned
 * addresses (sectors of pages, which is what quorum reads compare) take
 * the word loops; anything else goes to memcmp().
 *
 * A quorum read compares every other leg with the first.  With three legs
 * the two compares of one pass would load each word of the first leg
 * twice; quorum_mem_equal2() compares two legs with it together and loads
 * it once, a quarter fewer loads.  Measured in the test guest under TCG,
 * where loads dominate (make bench, compare.txt): comparing three 128 KiB
 * buffers took 0.46 of the time of copying them with "rep movsq" (the
 * kernel's memcpy()) leg by leg, and 0.35 together.  Wider loops (8 and
 * 16 words) and SSE/AVX2 were slower there.
 */
#ifdef __KERNEL__
#include <linux/align.h>
#include <linux/string.h>
#else
#include <string.h>
typedef unsigned long long u64;
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#endif

#include "dm-quorum-compare.h"

static bool words_fit(const void *a, const void *b, unsigned int len)
{
	return IS_ALIGNED((unsigned long)a | (unsigned long)b, 8) &&
	       IS_ALIGNED(len, 32);
}

/* True when the @len bytes at @a and @b are equal. */
bool quorum_mem_equal(const void *a, const void *b, unsigned int len)
{
	const u64 *x = a, *y = b;

	if (!words_fit(a, b, len))
		return !memcmp(a, b, len);
	for (; len; len -= 32, x += 4, y += 4)
		if ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) |
		    (x[3] ^ y[3]))
			return false;
	return true;
}

/*
 * Which of @a (bit 0) and @b (bit 1) hold the same @len bytes as @r.
 * Past the first 32 bytes where either differs, each is compared alone.
 */
unsigned int quorum_mem_equal2(const void *r, const void *a, const void *b,
			       unsigned int len)
{
	const u64 *x = r, *y = a, *z = b;

	if (words_fit(r, a, len) && IS_ALIGNED((unsigned long)b, 8)) {
		for (; len; len -= 32, x += 4, y += 4, z += 4)
			if ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) |
			    (x[3] ^ y[3]) | (x[0] ^ z[0]) | (x[1] ^ z[1]) |
			    (x[2] ^ z[2]) | (x[3] ^ z[3]))
				break;
		if (!len)
			return 3;
	}
	return quorum_mem_equal(x, y, len) |
	       quorum_mem_equal(x, z, len) << 1;
}
