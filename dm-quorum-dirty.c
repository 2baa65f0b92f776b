// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum missed regions, in memory: one bitmap per leg, one bit per
 * region, and the number of bits set; see dm-quorum-dirty.h.  The caller
 * serialises every call (the leg state lock), so the bit operations are
 * the non-atomic ones.
 */
#include <linux/bitmap.h>
#include <linux/log2.h>
#include <linux/slab.h>

#include "dm-quorum-args.h"
#include "dm-quorum-dirty.h"

struct dirty_mem {
	struct quorum_dirty d;
	unsigned long *bits[QUORUM_MAX_LEGS];	/* NULL past the last leg */
	u64 count[QUORUM_MAX_LEGS];
};

static struct dirty_mem *to_mem(struct quorum_dirty *d)
{
	return container_of(d, struct dirty_mem, d);
}

static void mem_destroy(struct quorum_dirty *d)
{
	struct dirty_mem *m = to_mem(d);
	unsigned int i;

	for (i = 0; i < QUORUM_MAX_LEGS; i++)
		kvfree(m->bits[i]);
	kfree(m);
}

/* Bits set from @first to @last, a word at a time. */
static u64 range_weight(const unsigned long *bits, u64 first, u64 last)
{
	u64 w, fw = first / BITS_PER_LONG, lw = last / BITS_PER_LONG, n = 0;

	for (w = fw; w <= lw; w++) {
		unsigned long word = bits[w];

		if (w == fw)
			word &= BITMAP_FIRST_WORD_MASK(first);
		if (w == lw)
			word &= BITMAP_LAST_WORD_MASK(last + 1);
		n += hweight_long(word);
	}
	return n;
}

/*
 * Any context, under the caller's spinlock: a write-zeroes can cover a
 * million regions, so the range is counted and set a word at a time.
 */
static void mem_mark(struct quorum_dirty *d, unsigned int leg, u64 first,
		     u64 last)
{
	struct dirty_mem *m = to_mem(d);
	unsigned long *bits = m->bits[leg];

	last = min(last, d->nr_regions - 1);
	if (first > last)
		return;
	/* the regions already marked do not count twice */
	m->count[leg] += last - first + 1 - range_weight(bits, first, last);
	bitmap_set(bits, first, last - first + 1);
}

/*
 * A word at a time: a whole map at once can be tens of millions of bits.
 * Not bitmap_fill(), which sets the last word whole: the bits past
 * nr_regions must stay clear for mem_count_union().
 */
static void mem_mark_all(struct quorum_dirty *d, unsigned int leg)
{
	struct dirty_mem *m = to_mem(d);

	bitmap_set(m->bits[leg], 0, d->nr_regions);
	m->count[leg] = d->nr_regions;
}

static bool mem_test(struct quorum_dirty *d, unsigned int leg, u64 region)
{
	return test_bit(region, to_mem(d)->bits[leg]);
}

static void mem_clear(struct quorum_dirty *d, unsigned int leg, u64 region)
{
	struct dirty_mem *m = to_mem(d);

	if (__test_and_clear_bit(region, m->bits[leg]))
		m->count[leg]--;
}

static u64 mem_count(struct quorum_dirty *d, unsigned int leg)
{
	return to_mem(d)->count[leg];
}

static u64 mem_next(struct quorum_dirty *d, unsigned int leg, u64 from)
{
	if (from >= d->nr_regions)
		return d->nr_regions;
	return find_next_bit(to_mem(d)->bits[leg], d->nr_regions, from);
}

static u64 mem_count_union(struct quorum_dirty *d, unsigned long legs)
{
	struct dirty_mem *m = to_mem(d);
	u64 i, words = BITS_TO_LONGS(d->nr_regions), n = 0;
	unsigned int leg;

	for (i = 0; i < words; i++) {
		unsigned long w = 0;

		for_each_set_bit(leg, &legs, QUORUM_MAX_LEGS)
			w |= m->bits[leg][i];
		/* the bits past nr_regions are never set */
		n += hweight_long(w);
	}
	return n;
}

static void mem_merge(struct quorum_dirty *d, unsigned int leg,
		      struct quorum_dirty *src, unsigned int src_leg)
{
	struct dirty_mem *m = to_mem(d);

	bitmap_or(m->bits[leg], m->bits[leg], to_mem(src)->bits[src_leg],
		  d->nr_regions);
	m->count[leg] = bitmap_weight(m->bits[leg], d->nr_regions);
}

static void mem_copy_words(struct quorum_dirty *d, unsigned int leg,
			   u64 first, unsigned int n, unsigned long *dst)
{
	u64 words = BITS_TO_LONGS(d->nr_regions);
	unsigned int i;

	for (i = 0; i < n; i++)
		dst[i] = first + i < words ? to_mem(d)->bits[leg][first + i] : 0;
}

static void mem_or_bits(struct quorum_dirty *d, unsigned int leg,
			const unsigned long *bits)
{
	struct dirty_mem *m = to_mem(d);

	bitmap_or(m->bits[leg], m->bits[leg], bits, d->nr_regions);
	/* the bits past nr_regions must stay clear (mem_count_union()) */
	if (d->nr_regions % BITS_PER_LONG)
		m->bits[leg][d->nr_regions / BITS_PER_LONG] &=
			BITMAP_LAST_WORD_MASK(d->nr_regions);
	m->count[leg] = bitmap_weight(m->bits[leg], d->nr_regions);
}

static unsigned long *alloc_bits(struct quorum_dirty *d)
{
	return kvcalloc(BITS_TO_LONGS(d->nr_regions), sizeof(unsigned long),
			GFP_KERNEL);
}

static int mem_add_leg(struct quorum_dirty *d, unsigned int leg)
{
	struct dirty_mem *m = to_mem(d);

	if (!m->bits[leg])
		m->bits[leg] = alloc_bits(d);
	if (!m->bits[leg])
		return -ENOMEM;
	mem_mark_all(d, leg);
	return 0;
}

static void *mem_remove_leg(struct quorum_dirty *d, unsigned int leg,
			    unsigned int nr_legs)
{
	struct dirty_mem *m = to_mem(d);
	unsigned long *removed = m->bits[leg];

	memmove(&m->bits[leg], &m->bits[leg + 1],
		(nr_legs - leg - 1) * sizeof(m->bits[0]));
	memmove(&m->count[leg], &m->count[leg + 1],
		(nr_legs - leg - 1) * sizeof(m->count[0]));
	m->bits[nr_legs - 1] = NULL;
	m->count[nr_legs - 1] = 0;
	return removed;
}

static void mem_free_removed(void *removed)
{
	kvfree(removed);
}

static const struct quorum_dirty_ops mem_ops = {
	.destroy = mem_destroy,
	.mark = mem_mark,
	.mark_all = mem_mark_all,
	.test = mem_test,
	.clear = mem_clear,
	.count = mem_count,
	.next = mem_next,
	.count_union = mem_count_union,
	.merge = mem_merge,
	.copy_words = mem_copy_words,
	.or_bits = mem_or_bits,
	.add_leg = mem_add_leg,
	.remove_leg = mem_remove_leg,
	.free_removed = mem_free_removed,
};

/* @len and @region_sectors are checked by the constructor (quorum_regions()). */
struct quorum_dirty *quorum_dirty_create_mem(unsigned int nr_legs,
					     sector_t len,
					     unsigned int region_sectors)
{
	struct dirty_mem *m;
	unsigned int i;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return NULL;
	m->d.ops = &mem_ops;
	m->d.region_shift = ilog2(region_sectors);
	m->d.nr_regions = DIV_ROUND_UP_ULL(len, region_sectors);
	for (i = 0; i < nr_legs; i++) {
		m->bits[i] = alloc_bits(&m->d);
		if (!m->bits[i]) {
			mem_destroy(&m->d);
			return NULL;
		}
	}
	return &m->d;
}
