/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum data compare: is one leg's data equal to another's.
 *
 * Pure logic: no kernel-only calls, so the unit tests and the compare
 * benchmark of make bench build the same code in userspace.
 */
#ifndef DM_QUORUM_COMPARE_H
#define DM_QUORUM_COMPARE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#endif

bool quorum_mem_equal(const void *a, const void *b, unsigned int len);
unsigned int quorum_mem_equal2(const void *r, const void *a, const void *b,
			       unsigned int len);

#endif /* DM_QUORUM_COMPARE_H */
