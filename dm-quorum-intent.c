// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum write-intent log.
 *
 * In memory, per region:
 *
 *   durable     set in the intent bitmap on every writable leg;
 *   mark        asked for by a write, not yet written;
 *   touched     written to since the last clearing pass;
 *   recovering  marked on the legs at an unclean load, not yet recovered;
 *
 * and a count of the writes in flight, in a small hashed table (a
 * collision can only keep a region marked longer, never clear one in
 * use).
 *
 * A write whose regions are all durable goes on at no cost.  Otherwise
 * it waits, and the worker (on the device's ordered metadata queue, never
 * in map) takes every write waiting, writes the bitmap blocks that hold
 * their new marks to every writable leg through dm-bufio (written, then
 * each leg flushed), and lets them go: one metadata write per leg serves
 * every write that waited for it.
 *
 * Every daemon_sleep the worker clears the regions that have had no write
 * in flight and none started for a whole period: it flushes the legs, so
 * what was written there is durable, then writes the bitmap without them.
 *
 * The missed maps of the legs out of service (dm-quorum-state.h) go to
 * disk in the same passes, whole, before the intent marks are cleared: a
 * region a failed leg missed is always in its map on disk or still marked
 * in the intent bitmap, so a load after a crash gives that leg (missed on
 * disk | intent) to copy, never less.  The flush that comes first also
 * makes what a resync copied durable before its bits are cleared on disk:
 * the map is the resync's checkpoint.
 *
 * A metadata write that fails on some legs fails those legs (out of
 * service, every region to resync) if at least the threshold of legs hold
 * it; if fewer do, the writes waiting for it fail, as a write without its
 * quorum does, and no leg is failed.
 */
#include <linux/device-mapper.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-quorum.h"
#include "dm-quorum-intent.h"
#include "dm-quorum-io.h"
#include "dm-quorum-metadata.h"

/* Lazy clearing: a region idle for a whole period is cleared. */
#define INTENT_PERIOD	(5 * HZ)

/* Slots of the hashed count of writes in flight per region. */
#define INTENT_BUSY_SLOTS	4096

struct quorum_intent {
	struct quorum_c *qc;
	struct quorum_md *md;
	unsigned int shift;		/* region size, log2 sectors */
	u64 nr_regions;
	u32 blocks;			/* of one bitmap */

	spinlock_t lock;		/* the maps and list below, but @setting */
	unsigned long *durable;
	unsigned long *mark;
	unsigned long *touched;
	unsigned long *recovering;
	unsigned long *mark_blocks;	/* blocks of @mark with a bit set */
	u64 nr_recovering;
	struct list_head waiting;	/* writes waiting for their marks */
	u32 busy[INTENT_BUSY_SLOTS];
	bool clear_due;

	/* the worker's own */
	unsigned long *setting;		/* marks being written */
	unsigned long *write_blocks;	/* blocks to write in this pass */
	unsigned long *missed;		/* a leg's missed map, being written */
	unsigned long *clearing;	/* marks this pass clears */
	unsigned long *all_blocks;	/* every block of a bitmap */

	struct work_struct work;
	struct delayed_work period;
	bool live;			/* resumed: clearing runs */
};

static unsigned long *alloc_map(struct quorum_intent *in)
{
	return kvzalloc((size_t)in->blocks * QUORUM_META_BLOCK_SIZE,
			GFP_KERNEL);
}

static size_t block_map_longs(struct quorum_intent *in)
{
	return BITS_TO_LONGS(in->blocks);
}

static u32 *busy_slot(struct quorum_intent *in, u64 region)
{
	return &in->busy[region % INTENT_BUSY_SLOTS];
}

static void range_of(struct quorum_intent *in, sector_t sector, sector_t len,
		     u64 *first, u64 *last)
{
	*first = sector >> in->shift;
	*last = (sector + len - 1) >> in->shift;
}

/* ---- the write path ---------------------------------------------------- */

bool quorum_intent_start(struct quorum_intent *in, sector_t sector,
			 sector_t len, struct list_head *waiter)
{
	unsigned long flags;
	bool ready = true;
	u64 r, first, last;

	range_of(in, sector, len, &first, &last);
	spin_lock_irqsave(&in->lock, flags);
	for (r = first; r <= last; r++) {
		(*busy_slot(in, r))++;
		if (!test_bit(r, in->touched))
			__set_bit(r, in->touched);
		if (!test_bit(r, in->durable)) {
			__set_bit(r, in->mark);
			__set_bit(r / QUORUM_META_BITS_PER_BLOCK, in->mark_blocks);
			ready = false;
		}
	}
	if (!ready)
		list_add_tail(waiter, &in->waiting);
	spin_unlock_irqrestore(&in->lock, flags);
	if (!ready)
		queue_work(in->qc->md_wq, &in->work);
	return ready;
}

void quorum_intent_end(struct quorum_intent *in, sector_t sector, sector_t len)
{
	unsigned long flags;
	u64 r, first, last;

	range_of(in, sector, len, &first, &last);
	spin_lock_irqsave(&in->lock, flags);
	for (r = first; r <= last; r++)
		(*busy_slot(in, r))--;
	spin_unlock_irqrestore(&in->lock, flags);
}

/* ---- the worker -------------------------------------------------------- */

/*
 * Take the marks asked for into @setting, and the blocks that hold the
 * new ones into @write_blocks.  Returns the writes waiting for them.
 */
static void take_marks(struct quorum_intent *in, struct list_head *waiters)
{
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG, i;
	unsigned long blk, flags;

	spin_lock_irqsave(&in->lock, flags);
	list_splice_init(&in->waiting, waiters);
	for_each_set_bit(blk, in->mark_blocks, in->blocks) {
		unsigned long new = 0;

		for (i = blk * words; i < (blk + 1) * words; i++) {
			in->setting[i] = in->mark[i] & ~in->durable[i];
			new |= in->setting[i];
			in->mark[i] = 0;
		}
		if (new)
			__set_bit(blk, in->write_blocks);
	}
	bitmap_zero(in->mark_blocks, in->blocks);
	spin_unlock_irqrestore(&in->lock, flags);
}

/*
 * Drop from @durable the regions with no write in flight and, unless
 * @all, none started since the last pass; their blocks go to
 * @write_blocks.  Returns whether any was dropped.  A block at a time
 * under the lock, so that writes are not held off for long.
 */
static bool take_clears(struct quorum_intent *in, bool all)
{
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG;
	unsigned long blk, flags, r;
	bool any = false;

	for (blk = 0; blk < in->blocks; blk++) {
		unsigned long first = blk * QUORUM_META_BITS_PER_BLOCK;
		unsigned long end = first + QUORUM_META_BITS_PER_BLOCK;

		spin_lock_irqsave(&in->lock, flags);
		for_each_set_bit_from(first, in->durable, end) {
			r = first;
			if (*busy_slot(in, r) || test_bit(r, in->recovering) ||
			    (!all && test_bit(r, in->touched)))
				continue;
			__clear_bit(r, in->durable);
			__set_bit(r, in->clearing);
			__set_bit(blk, in->write_blocks);
			any = true;
		}
		memset(in->touched + blk * words, 0, QUORUM_META_BLOCK_SIZE);
		spin_unlock_irqrestore(&in->lock, flags);
	}
	return any;
}

/* The flush before the clears failed: the regions stay marked. */
static void unclear(struct quorum_intent *in)
{
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG, i;
	unsigned long blk, flags;

	spin_lock_irqsave(&in->lock, flags);
	for_each_set_bit(blk, in->write_blocks, in->blocks)
		for (i = blk * words; i < (blk + 1) * words; i++)
			in->durable[i] |= in->clearing[i];
	spin_unlock_irqrestore(&in->lock, flags);
}

/*
 * The missed maps of the legs in @out, whole, to every leg in @legs.
 * Each is copied first, then the legs flushed, then it is written: a
 * region a resync has copied is off the map on disk only once the copy
 * is durable.
 */
static unsigned long write_missed(struct quorum_intent *in, unsigned long out,
				  unsigned long legs)
{
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG, leg;
	unsigned long failed = 0;
	u32 blk;

	for_each_leg(leg, out) {
		for (blk = 0; blk < in->blocks; blk++)
			quorum_state_missed_copy(&in->qc->state, leg,
						 (u64)blk * words, words,
						 in->missed + blk * words);
		failed |= quorum_md_flush(in->md, legs & ~failed);
		failed |= quorum_md_write_bitmap(in->md, leg, in->missed, NULL,
						 in->all_blocks,
						 legs & ~failed);
	}
	return failed;
}

/*
 * Before a superblock that records legs out of service is committed:
 * their maps on disk must say what they missed (a leg that must be
 * copied whole is covered by no intent mark).  The ordered metadata
 * queue, or a suspended device: never beside a pass.
 */
unsigned long quorum_intent_write_missed(struct quorum_intent *in)
{
	struct quorum_c *qc = in->qc;
	unsigned long out = (BIT(qc->nr_legs) - 1) & ~quorum_readable_legs(qc);

	return out ? write_missed(in, out, quorum_writable_legs(qc)) : 0;
}

/*
 * One pass: write the new marks and, if @clear, the missed maps of the
 * legs out of service and drop the idle marks (all of them if @all).
 * Returns the legs whose metadata write failed.
 */
static unsigned long intent_pass(struct quorum_intent *in, bool clear,
				 bool all)
{
	struct quorum_c *qc = in->qc;
	unsigned long legs, out, failed = 0, flags;
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG;
	struct list_head waiters, *w, *tmp;
	blk_status_t status = BLK_STS_OK;
	unsigned long blk;
	unsigned int i;
	bool cleared;

	INIT_LIST_HEAD(&waiters);
	take_marks(in, &waiters);
	cleared = clear && take_clears(in, all);
	legs = quorum_writable_legs(qc);
	out = clear ? (BIT(qc->nr_legs) - 1) & ~quorum_readable_legs(qc) : 0;
	if (bitmap_empty(in->write_blocks, in->blocks) && !out)
		goto release;

	/*
	 * What was written to the regions cleared is durable first (a leg
	 * that cannot flush may have lost it: nothing is cleared this
	 * time); then the missed maps; then the marks.
	 */
	if (cleared) {
		failed = quorum_md_flush(in->md, legs);
		if (failed)
			unclear(in);
	}
	if (out)
		failed |= write_missed(in, out, legs & ~failed);
	failed |= quorum_md_write_bitmap(in->md, -1, in->durable, in->setting,
					 in->write_blocks, legs & ~failed);
	if (!quorum_md_write_errors(qc, failed, legs & ~failed, "intent bitmap"))
		status = BLK_STS_IOERR;

	spin_lock_irqsave(&in->lock, flags);
	for_each_set_bit(blk, in->write_blocks, in->blocks) {
		for (i = blk * words; i < (blk + 1) * words; i++) {
			if (!status)
				in->durable[i] |= in->setting[i];
			in->setting[i] = 0;
			in->clearing[i] = 0;
		}
	}
	spin_unlock_irqrestore(&in->lock, flags);
	bitmap_zero(in->write_blocks, in->blocks);
release:
	list_for_each_safe(w, tmp, &waiters) {
		list_del_init(w);
		quorum_write_intent_done(w, status);
	}
	return failed;
}

static void intent_work(struct work_struct *work)
{
	struct quorum_intent *in = container_of(work, struct quorum_intent, work);
	unsigned long flags;
	bool clear;

	spin_lock_irqsave(&in->lock, flags);
	clear = in->clear_due;
	in->clear_due = false;
	spin_unlock_irqrestore(&in->lock, flags);
	intent_pass(in, clear, false);
}

static void intent_period(struct work_struct *work)
{
	struct quorum_intent *in = container_of(to_delayed_work(work),
						struct quorum_intent, period);
	unsigned long flags;

	spin_lock_irqsave(&in->lock, flags);
	in->clear_due = true;
	spin_unlock_irqrestore(&in->lock, flags);
	queue_work(in->qc->md_wq, &in->work);
	if (READ_ONCE(in->live))
		queue_delayed_work(in->qc->md_wq, &in->period, INTENT_PERIOD);
}

void quorum_intent_resume(struct quorum_intent *in)
{
	/*
	 * What an unclean load found goes to every leg before any write
	 * to those regions (they count as marked): nothing runs yet.
	 */
	flush_work(&in->work);
	if (!bitmap_empty(in->write_blocks, in->blocks))
		intent_pass(in, false, false);
	WRITE_ONCE(in->live, true);
	queue_delayed_work(in->qc->md_wq, &in->period, INTENT_PERIOD);
}

unsigned long quorum_intent_suspend(struct quorum_intent *in)
{
	WRITE_ONCE(in->live, false);
	cancel_delayed_work_sync(&in->period);
	flush_work(&in->work);
	/* nothing is in flight and nothing can start: the worker is idle */
	return intent_pass(in, true, true);
}

/*
 * A change of the leg set: with nothing in flight, the log stops as at
 * suspend (every idle mark cleared, the missed maps written); returns
 * whether it ran, for quorum_intent_unpause().
 */
bool quorum_intent_pause(struct quorum_intent *in)
{
	bool was_live = READ_ONCE(in->live);

	quorum_intent_suspend(in);
	return was_live;
}

void quorum_intent_unpause(struct quorum_intent *in, bool was_live)
{
	if (was_live)
		quorum_intent_resume(in);
}

/*
 * A new device in @leg, the log paused: it gets the intent bitmap as the
 * other legs hold it.  (Its missed maps need nothing: a slot's map is
 * written whole to every writable leg before a commit records its leg
 * out, and read only for a slot recorded out.)  Returns whether it
 * failed.
 */
bool quorum_intent_init_leg(struct quorum_intent *in, unsigned int leg)
{
	return quorum_md_write_bitmap(in->md, -1, in->durable, NULL,
				      in->all_blocks, BIT(leg));
}

/*
 * Slot @leg is about to be removed, the log paused: from it on, each slot
 * gets the union of its own leg's missed map and the next one's (of the
 * legs out of service), so that until the new leg set is committed the
 * maps on disk cover each leg under the old numbering and the new one.
 * Returns the legs that failed.
 */
unsigned long quorum_intent_remove_leg(struct quorum_intent *in,
				       unsigned int leg)
{
	unsigned int words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG, j, k;
	struct quorum_c *qc = in->qc;
	unsigned long out = (BIT(qc->nr_legs) - 1) & ~quorum_readable_legs(qc);
	unsigned long legs = quorum_writable_legs(qc), failed = 0;
	size_t n = (size_t)in->blocks * words, i;
	unsigned long *next = in->setting;	/* zero while the log is paused */

	for (j = leg; j + 1 < qc->nr_legs; j++) {
		if (!(out & (BIT(j) | BIT(j + 1))))
			continue;
		bitmap_zero(in->missed, n * BITS_PER_LONG);
		for (k = j; k <= j + 1; k++) {
			if (!(out & BIT(k)))
				continue;
			quorum_state_missed_copy(&qc->state, k, 0, n, next);
			for (i = 0; i < n; i++)
				in->missed[i] |= next[i];
		}
		failed |= quorum_md_flush(in->md, legs & ~failed);
		failed |= quorum_md_write_bitmap(in->md, j, in->missed, NULL,
						 in->all_blocks, legs & ~failed);
	}
	memset(next, 0, n * sizeof(long));
	return failed;
}

/* ---- recovery ---------------------------------------------------------- */

u64 quorum_intent_nr_recovering(struct quorum_intent *in)
{
	return READ_ONCE(in->nr_recovering);
}

bool quorum_intent_recovering(struct quorum_intent *in, u64 region)
{
	return test_bit(region, in->recovering);
}

bool quorum_intent_range_recovering(struct quorum_intent *in,
				    sector_t sector, sector_t len)
{
	u64 first, last;

	if (!len)
		return false;
	range_of(in, sector, len, &first, &last);
	return find_next_bit(in->recovering, last + 1, first) <= last;
}

u64 quorum_intent_next_recovering(struct quorum_intent *in, u64 from)
{
	return find_next_bit(in->recovering, in->nr_regions, from);
}

void quorum_intent_recovered(struct quorum_intent *in, u64 region)
{
	unsigned long flags;
	u64 left;

	spin_lock_irqsave(&in->lock, flags);
	if (!__test_and_clear_bit(region, in->recovering)) {
		spin_unlock_irqrestore(&in->lock, flags);
		return;
	}
	left = in->nr_recovering - 1;
	WRITE_ONCE(in->nr_recovering, left);
	spin_unlock_irqrestore(&in->lock, flags);
	if (!left)
		DMINFO("%s: recovery after an unclean shutdown done",
		       quorum_dev_name(in->qc));
}

/*
 * A reload: what the load read is older than what @old knows.  @old is
 * suspended (its marks cleared but for the regions it had left to
 * recover, which are still marked on disk): those go on here.
 */
void quorum_intent_take_over(struct quorum_intent *in,
			     struct quorum_intent *old)
{
	unsigned long flags;

	/* a read-only table kept no log: the disk is as the crash left it */
	if (!old)
		return;
	spin_lock_irqsave(&in->lock, flags);
	bitmap_zero(in->recovering, in->nr_regions);
	in->nr_recovering = 0;
	if (old->nr_regions == in->nr_regions) {
		bitmap_copy(in->recovering, old->recovering, in->nr_regions);
		in->nr_recovering = old->nr_recovering;
	}
	bitmap_copy(in->durable, in->recovering, in->nr_regions);
	spin_unlock_irqrestore(&in->lock, flags);
	/* nothing for the first pass to write: the disk is as @old left it */
	bitmap_zero(in->write_blocks, in->blocks);
}

/*
 * The regions @leg (out of service at the load) is to copy: its missed
 * map on the legs in @from, and every region marked in the intent log
 * after an unclean shutdown.  NULL (every region) if no leg's map can be
 * read or the legs do not keep them; kvfree() the result.
 */
unsigned long *quorum_intent_load_missed(struct quorum_intent *in,
					 unsigned int leg,
					 const struct quorum_assembly *as)
{
	unsigned long *bits;

	if (!as->bitmaps_kept)
		return NULL;
	bits = alloc_map(in);
	if (!bits)
		return NULL;
	if (quorum_md_read_bitmap(in->md, leg, bits, as->intent_from) ==
	    as->intent_from) {
		kvfree(bits);
		return NULL;
	}
	bitmap_or(bits, bits, in->recovering, in->nr_regions);
	return bits;
}

/* ---- set-up ------------------------------------------------------------ */

void quorum_intent_destroy(struct quorum_intent *in)
{
	if (!in)
		return;
	WRITE_ONCE(in->live, false);
	cancel_delayed_work_sync(&in->period);
	cancel_work_sync(&in->work);
	kvfree(in->durable);
	kvfree(in->mark);
	kvfree(in->touched);
	kvfree(in->recovering);
	kvfree(in->setting);
	kvfree(in->missed);
	kvfree(in->clearing);
	kfree(in->mark_blocks);
	kfree(in->write_blocks);
	kfree(in->all_blocks);
	kfree(in);
}

struct quorum_intent *quorum_intent_create(struct quorum_c *qc,
					   const struct quorum_assembly *as)
{
	struct quorum_intent *in = kzalloc(sizeof(*in), GFP_KERNEL);
	unsigned long failed, blk;

	if (!in)
		return ERR_PTR(-ENOMEM);
	in->qc = qc;
	in->md = qc->md;
	in->shift = quorum_state_region_shift(&qc->state);
	in->nr_regions = quorum_state_nr_regions(&qc->state);
	in->blocks = quorum_md_bitmap_blocks(qc->md);
	spin_lock_init(&in->lock);
	INIT_LIST_HEAD(&in->waiting);
	INIT_WORK(&in->work, intent_work);
	INIT_DELAYED_WORK(&in->period, intent_period);
	in->durable = alloc_map(in);
	in->mark = alloc_map(in);
	in->touched = alloc_map(in);
	in->recovering = alloc_map(in);
	in->setting = alloc_map(in);
	in->missed = alloc_map(in);
	in->clearing = alloc_map(in);
	in->mark_blocks = kcalloc(block_map_longs(in), sizeof(long), GFP_KERNEL);
	in->write_blocks = kcalloc(block_map_longs(in), sizeof(long), GFP_KERNEL);
	in->all_blocks = kcalloc(block_map_longs(in), sizeof(long), GFP_KERNEL);
	if (!in->durable || !in->mark || !in->touched || !in->recovering ||
	    !in->setting || !in->missed || !in->clearing || !in->mark_blocks ||
	    !in->write_blocks || !in->all_blocks) {
		quorum_intent_destroy(in);
		return ERR_PTR(-ENOMEM);
	}
	bitmap_set(in->all_blocks, 0, in->blocks);
	if (as->new_array || !as->unclean)
		return in;
	if (!as->bitmaps_kept) {
		DMWARN("%s: no intent bitmap on the legs: send repair to make them agree",
		       quorum_dev_name(qc));
		return in;
	}

	/*
	 * The legs may differ where any of them had a mark: recover all of
	 * those.  The marks stay, durable, until recovered and idle.  A leg
	 * whose bitmap cannot be read adds nothing, but the others still do.
	 */
	failed = quorum_md_read_bitmap(qc->md, -1, in->recovering,
				       as->intent_from);
	if (failed == as->intent_from) {
		quorum_intent_destroy(in);
		return ERR_PTR(-EIO);
	}
	/* bits past the last region are noise on a hostile leg */
	bitmap_clear(in->recovering, in->nr_regions,
		     in->blocks * QUORUM_META_BITS_PER_BLOCK - in->nr_regions);
	bitmap_copy(in->durable, in->recovering, in->nr_regions);
	in->nr_recovering = bitmap_weight(in->recovering, in->nr_regions);
	/* every leg gets the union, so a second crash still finds them */
	for (blk = 0; blk < in->blocks; blk++)
		if (find_next_bit(in->recovering,
				  (blk + 1) * QUORUM_META_BITS_PER_BLOCK,
				  blk * QUORUM_META_BITS_PER_BLOCK) <
		    (blk + 1) * QUORUM_META_BITS_PER_BLOCK)
			__set_bit(blk, in->write_blocks);
	return in;
}
