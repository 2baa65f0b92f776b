/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum metadata: the superblock every leg carries (format and
 * assembly rules in dm-quorum-sb.h), read when a table is loaded and
 * committed, through dm-bufio, whenever the leg states change.
 *
 * Process context only: every call may sleep on metadata I/O.  Commits
 * are serialised here; the caller says what the legs' states are.
 */
#ifndef DM_QUORUM_METADATA_H
#define DM_QUORUM_METADATA_H

#include <linux/blkdev.h>
#include <linux/types.h>

#include "dm-quorum-sb.h"

struct dm_bufio_client;
struct quorum_md;

/*
 * Read the superblocks of @nr_legs legs and decide how each leg starts
 * (@as).  A refusal is logged, with its reason, under @name; *error is
 * for ti->error.
 */
struct quorum_md *quorum_md_open(const char *name,
				 struct block_device *const *bdevs,
				 unsigned int nr_legs, unsigned int threshold,
				 sector_t len, unsigned int region_sectors,
				 bool degraded,
				 struct quorum_assembly *as, char **error);
void quorum_md_close(struct quorum_md *md);

/*
 * Write a superblock recording @states (one per leg) and @clean to every
 * leg in @writable, if either differs from the last commit (or nothing
 * was committed yet).  Returns the legs whose write or flush failed;
 * *@written says which legs hold it (none: it is not durable).
 */
unsigned long quorum_md_commit(struct quorum_md *md,
			       const enum quorum_sb_leg_state *states,
			       unsigned int threshold, unsigned long writable,
			       bool clean, unsigned long *written);

/*
 * The leg set changes.  A device that is to be a leg is prepared first,
 * before the device is quiesced (it allocates, and writes): room checked
 * and its superblock copies zeroed, so a load takes it for blank until
 * its first commit.  Then, nothing else using the metadata (the device
 * quiesced, the intent log paused), it goes into @slot (the number of
 * legs: one more leg) with a uuid of its own, or a slot is removed, the
 * slots after it moving down.  The next commit records the new set,
 * whatever the states.
 */
struct dm_bufio_client *quorum_md_prepare_leg(struct quorum_md *md,
					      struct block_device *bdev,
					      char **error);
void quorum_md_unprepare_leg(struct dm_bufio_client *c);
void quorum_md_set_slot(struct quorum_md *md, unsigned int slot,
			struct dm_bufio_client *c);
void quorum_md_remove_slot(struct quorum_md *md, unsigned int slot);

/* A reloaded table goes on from the events of the one it replaces. */
void quorum_md_take_over(struct quorum_md *md, struct quorum_md *old);

/*
 * Bitmaps: @slot -1 is the write-intent bitmap, 0.. a slot's missed one.
 * In memory a bitmap is quorum_md_bitmap_blocks() blocks long.
 */
u32 quorum_md_bitmap_blocks(struct quorum_md *md);

/*
 * Write the blocks set in @blocks of (@a | @b; @b may be NULL) to every
 * leg in @legs and flush each.  Returns the legs that failed.
 */
unsigned long quorum_md_write_bitmap(struct quorum_md *md, int slot,
				     const unsigned long *a,
				     const unsigned long *b,
				     const unsigned long *blocks,
				     unsigned long legs);

/* OR bitmap @slot of every leg in @legs into @bits; returns those that failed. */
unsigned long quorum_md_read_bitmap(struct quorum_md *md, int slot,
				    unsigned long *bits, unsigned long legs);

/* Flush the caches of @legs (their data); returns those that failed. */
unsigned long quorum_md_flush(struct quorum_md *md, unsigned long legs);

/* For the status, without waiting: the events, blocks written (all legs). */
u64 quorum_md_events(struct quorum_md *md);
u64 quorum_md_writes(struct quorum_md *md);

#endif /* DM_QUORUM_METADATA_H */
