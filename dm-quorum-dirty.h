/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum missed regions: which regions of each leg missed writes.
 *
 * A leg out of service ('D') misses writes; the regions they covered are
 * marked here, and the resync engine copies only those when the leg comes
 * back.  Only the leg state machine (dm-quorum-state.c) calls these, under
 * its lock, so the backend needs no locking of its own and keeps an exact
 * count of the marked regions per leg.  With metadata, the maps of the
 * legs out of service are copied to disk (dm-quorum-intent.c) and read
 * back at a load (copy_words, or_bits).
 */
#ifndef DM_QUORUM_DIRTY_H
#define DM_QUORUM_DIRTY_H

#include <linux/types.h>

struct quorum_dirty;

struct quorum_dirty_ops {
	void (*destroy)(struct quorum_dirty *d);
	/* @leg missed regions @first to @last (inclusive). */
	void (*mark)(struct quorum_dirty *d, unsigned int leg, u64 first,
		     u64 last);
	/* @leg must get every region (a full rewrite of it). */
	void (*mark_all)(struct quorum_dirty *d, unsigned int leg);
	bool (*test)(struct quorum_dirty *d, unsigned int leg, u64 region);
	/* @region of @leg was resynced. */
	void (*clear)(struct quorum_dirty *d, unsigned int leg, u64 region);
	/* Regions @leg missed. */
	u64 (*count)(struct quorum_dirty *d, unsigned int leg);
	/* The first region from @from that @leg missed; nr_regions if none. */
	u64 (*next)(struct quorum_dirty *d, unsigned int leg, u64 from);
	/* Regions one of @legs missed at least (a word at a time). */
	u64 (*count_union)(struct quorum_dirty *d, unsigned long legs);
	/*
	 * @leg also missed what @src's @src_leg missed (a reload's take-over:
	 * same region size and count, same backend).
	 */
	void (*merge)(struct quorum_dirty *d, unsigned int leg,
		      struct quorum_dirty *src, unsigned int src_leg);
	/*
	 * @n words of @leg's map from word @first into @dst (zero past the
	 * map's end): the metadata writes it a block at a time.
	 */
	void (*copy_words)(struct quorum_dirty *d, unsigned int leg, u64 first,
			   unsigned int n, unsigned long *dst);
	/* @leg also missed the regions set in @bits (nr_regions bits). */
	void (*or_bits)(struct quorum_dirty *d, unsigned int leg,
			const unsigned long *bits);
	/*
	 * Room for a leg at index @leg (the last), with every region to do;
	 * may sleep, so it is made before the leg is added.
	 */
	int (*add_leg)(struct quorum_dirty *d, unsigned int leg);
	/*
	 * Leg @leg of @nr_legs removed: the ones after it move down.  Returns
	 * what the caller frees with free_removed() once it has dropped its
	 * spinlock (freeing may sleep).
	 */
	void *(*remove_leg)(struct quorum_dirty *d, unsigned int leg,
			    unsigned int nr_legs);
	void (*free_removed)(void *removed);
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

#endif /* DM_QUORUM_DIRTY_H */
