// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum dirty regions, in memory: one bitmap per leg, one bit per
 * region.  Lost on reload; see dm-quorum-dirty.h.
 */
#include <linux/bitmap.h>
#include <linux/log2.h>
#include <linux/slab.h>

#include "dm-quorum-args.h"
#include "dm-quorum-dirty.h"

struct dirty_mem {
	struct quorum_dirty d;
	unsigned long *bits[QUORUM_MAX_LEGS];	/* NULL past the last leg */
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

static void mem_mark(struct quorum_dirty *d, unsigned int leg,
		     sector_t sector, sector_t len)
{
	u64 first = sector >> d->region_shift;
	u64 last = (sector + max_t(sector_t, len, 1) - 1) >> d->region_shift;

	/* set_bit, not bitmap_set: marks race with each other and clears */
	for (; first <= last && first < d->nr_regions; first++)
		set_bit(first, to_mem(d)->bits[leg]);
}

static void mem_mark_all(struct quorum_dirty *d, unsigned int leg)
{
	u64 r;

	for (r = 0; r < d->nr_regions; r++)
		set_bit(r, to_mem(d)->bits[leg]);
}

static bool mem_test(struct quorum_dirty *d, unsigned int leg, u64 region)
{
	return test_bit(region, to_mem(d)->bits[leg]);
}

static void mem_clear(struct quorum_dirty *d, unsigned int leg, u64 region)
{
	clear_bit(region, to_mem(d)->bits[leg]);
}

static u64 mem_count(struct quorum_dirty *d, unsigned int leg)
{
	return bitmap_weight(to_mem(d)->bits[leg], d->nr_regions);
}

static unsigned long *alloc_bits(struct quorum_dirty *d)
{
	return kvcalloc(BITS_TO_LONGS(d->nr_regions), sizeof(unsigned long),
			GFP_KERNEL);
}

static int mem_add_leg(struct quorum_dirty *d, unsigned int leg)
{
	struct dirty_mem *m = to_mem(d);

	m->bits[leg] = alloc_bits(d);
	if (!m->bits[leg])
		return -ENOMEM;
	mem_mark_all(d, leg);
	return 0;
}

static void mem_remove_leg(struct quorum_dirty *d, unsigned int leg,
			   unsigned int nr_legs)
{
	struct dirty_mem *m = to_mem(d);

	kvfree(m->bits[leg]);
	memmove(&m->bits[leg], &m->bits[leg + 1],
		(nr_legs - leg - 1) * sizeof(m->bits[0]));
	m->bits[nr_legs - 1] = NULL;
}

static const struct quorum_dirty_ops mem_ops = {
	.destroy = mem_destroy,
	.mark = mem_mark,
	.mark_all = mem_mark_all,
	.test = mem_test,
	.clear = mem_clear,
	.count = mem_count,
	.add_leg = mem_add_leg,
	.remove_leg = mem_remove_leg,
};

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
