/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum: the kernel API differences between the kernels it supports
 * (Debian's 6.1 and 6.12 LTS).  Every version check lives here.
 */
#ifndef DM_QUORUM_COMPAT_H
#define DM_QUORUM_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>

/*
 * dm_get_device() takes fmode_t on 6.1 and blk_mode_t on 6.12; the mode
 * is passed straight from dm_table_get_mode(), which returns the matching
 * type.  Whether it allows writing is asked here.  Add a version check
 * here, never in the .c files, when one is needed.
 */
#ifdef BLK_OPEN_WRITE		/* blk_mode_t, 6.5 on */
#define QUORUM_MODE_WRITE	BLK_OPEN_WRITE
#else
#define QUORUM_MODE_WRITE	FMODE_WRITE
#endif

#endif /* DM_QUORUM_COMPAT_H */
