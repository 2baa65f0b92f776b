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

struct quorum_md;

/*
 * Read the superblocks of @nr_legs legs and decide how each leg starts
 * (@as).  A refusal is logged, with its reason, under @name; *error is
 * for ti->error.
 */
struct quorum_md *quorum_md_open(const char *name,
				 struct block_device *const *bdevs,
				 unsigned int nr_legs, sector_t len,
				 unsigned int region_sectors, bool degraded,
				 struct quorum_assembly *as, char **error);
void quorum_md_close(struct quorum_md *md);

/*
 * Write a superblock recording @states (one per leg) and @clean to every
 * leg in @writable, if either differs from the last commit (or nothing
 * was committed yet).  Returns the legs whose write or flush failed.
 */
unsigned long quorum_md_commit(struct quorum_md *md,
			       const enum quorum_sb_leg_state *states,
			       unsigned int threshold, unsigned long writable,
			       bool clean);

/* A reloaded table goes on from the events of the one it replaces. */
void quorum_md_take_over(struct quorum_md *md, struct quorum_md *old);

#endif /* DM_QUORUM_METADATA_H */
