/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum dirty regions: which regions of each leg missed writes.
 *
 * A leg out of service ('D') misses writes; the regions they covered are
 * marked here, and the resync engine copies only those when the leg comes
 * back.  The interface is what the engine and the write path need, so a
 * persistent backend (a metadata device through dm-bufio, surviving a
 * crash or a reload) can replace the in-memory one without touching them.
 */
#ifndef DM_QUORUM_DIRTY_H
#define DM_QUORUM_DIRTY_H

#include <linux/types.h>

struct quorum_dirty;

struct quorum_dirty_ops {
	void (*destroy)(struct quorum_dirty *d);
	/* Any context: @leg missed a write to [@sector, @sector + @len). */
	void (*mark)(struct quorum_dirty *d, unsigned int leg,
		     sector_t sector, sector_t len);
	/* @leg must get every region (a full rewrite of it). */
	void (*mark_all)(struct quorum_dirty *d, unsigned int leg);
	bool (*test)(struct quorum_dirty *d, unsigned int leg, u64 region);
	/* @region of @leg was resynced. */
	void (*clear)(struct quorum_dirty *d, unsigned int leg, u64 region);
	u64 (*count)(struct quorum_dirty *d, unsigned int leg);
	/* A leg added at index @leg (the last), with every region to do. */
	int (*add_leg)(struct quorum_dirty *d, unsigned int leg);
	/* Leg @leg of @nr_legs removed: the ones after it move down. */
	void (*remove_leg)(struct quorum_dirty *d, unsigned int leg,
			   unsigned int nr_legs);
};

struct quorum_dirty {
	const struct quorum_dirty_ops *ops;
	unsigned int region_shift;	/* region size, log2 sectors */
	u64 nr_regions;
};

/* The in-memory backend: a bitmap per leg. */
struct quorum_dirty *quorum_dirty_create_mem(unsigned int nr_legs,
					     sector_t len,
					     unsigned int region_sectors);

static inline void quorum_dirty_mark(struct quorum_dirty *d, unsigned int leg,
				     sector_t sector, sector_t len)
{
	d->ops->mark(d, leg, sector, len);
}

static inline bool quorum_dirty_test(struct quorum_dirty *d, unsigned int leg,
				     u64 region)
{
	return d->ops->test(d, leg, region);
}

#endif /* DM_QUORUM_DIRTY_H */
