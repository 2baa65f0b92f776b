// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum write ordering, and rewrite_corrupted: write the winning data
 * of a voted read back to the legs that were outvoted (QEMU's
 * quorum_rewrite_bad_versions), without ever putting older data over
 * newer.
 *
 * Overlapping writes are never in flight together: each leg may complete
 * two concurrent writes in either order, and legs that applied them in
 * different orders would disagree from then on (a healthy leg outvoted,
 * or no quorum at all).  A write that overlaps one in flight (or one held
 * before it) is held and sent when that one ends.
 *
 * A read votes on what the legs held when it read them.  If a write to
 * the same range started since, or was in flight then, the winner may
 * already be stale: rewriting it would undo the write on the outvoted
 * legs.  So writes are counted per region (started and finished, in a
 * small hashed table), a read notes the count when it is mapped, and a
 * rewrite goes ahead only if no overlapping write was in flight then and
 * none has started since.  While a rewrite is in flight, overlapping
 * writes are held and go out when it ends.  A collision in the hashed
 * table can only skip a rewrite, never allow a wrong one; a skipped
 * rewrite is simply left for the next read of the range.
 *
 * The resync and scrub engine locks the range of each piece it works on
 * the same way (quorum_region_lock()): overlapping writes are held, and
 * the writes already started are waited for, so its copy is never older
 * than what the legs were last written with.
 */
#include <linux/delay.h>

#include "dm-quorum.h"
#include "dm-quorum-io.h"
#include "dm-quorum-rewrite.h"

/* Writes are counted in 64 KiB regions. */
#define REGION_SHIFT	(16 - SECTOR_SHIFT)

static bool overlap(const struct quorum_io *a, const struct quorum_io *b)
{
	sector_t a_end = a->iter.bi_sector + (a->iter.bi_size >> SECTOR_SHIFT);
	sector_t b_end = b->iter.bi_sector + (b->iter.bi_size >> SECTOR_SHIFT);

	return a->iter.bi_sector < b_end && b->iter.bi_sector < a_end;
}

/* The first region @io covers and how many table slots that takes. */
static void region_span(const struct quorum_io *io, u64 *first,
			unsigned int *count)
{
	sector_t last = io->iter.bi_sector +
			(io->iter.bi_size >> SECTOR_SHIFT) - 1;

	*first = io->iter.bi_sector >> REGION_SHIFT;
	*count = min_t(u64, QUORUM_SEQ_SLOTS, (last >> REGION_SHIFT) - *first + 1);
}

static unsigned int slot_of(u64 region)
{
	return region % QUORUM_SEQ_SLOTS;
}

/* Count one more write on each region of @io in @table. */
static void count_write(const struct quorum_io *io, u32 *table)
{
	unsigned int n;
	u64 r;

	for (region_span(io, &r, &n); n; n--, r++)
		table[slot_of(r)]++;
}

static bool overlaps_one_of(struct list_head *list, struct quorum_io *io,
			    struct quorum_io *stop)
{
	struct quorum_io *w;

	list_for_each_entry(w, list, node) {
		if (w == stop)
			break;
		if (overlap(w, io))
			return true;
	}
	return false;
}

/*
 * Must @io wait: does it overlap a rewrite or locked range, a write in
 * flight, or a write held before it (@io itself, or NULL: any)?  Under
 * rewrite_lock.
 */
static bool write_blocked(struct quorum_c *qc, struct quorum_io *io,
			  struct quorum_io *held)
{
	return overlaps_one_of(&qc->rewrites, io, NULL) ||
	       overlaps_one_of(&qc->writes, io, NULL) ||
	       overlaps_one_of(&qc->held_writes, io, held);
}

static void start_write(struct quorum_c *qc, struct quorum_io *io)
{
	io->seq = ++qc->write_seq;
	list_add_tail(&io->node, &qc->writes);
	count_write(io, qc->writes_started);
}

/*
 * A write with data is about to go to the legs.  Returns false if it
 * must wait: it is then sent when what it waits for ends.  Any context.
 */
bool quorum_write_begin(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long flags;
	bool blocked;

	spin_lock_irqsave(&qc->rewrite_lock, flags);
	blocked = write_blocked(qc, io, NULL);
	if (blocked)
		list_add_tail(&io->node, &qc->held_writes);
	else
		start_write(qc, io);
	spin_unlock_irqrestore(&qc->rewrite_lock, flags);
	return !blocked;
}

/*
 * A write that quorum_write_begin() let go has completed on every leg.
 * Any context: the writes it held are sent from the allocating queue.
 */
void quorum_write_end(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long flags;
	bool held;

	spin_lock_irqsave(&qc->rewrite_lock, flags);
	list_del(&io->node);
	count_write(io, qc->writes_done);
	held = !list_empty(&qc->held_writes);
	spin_unlock_irqrestore(&qc->rewrite_lock, flags);
	if (held)
		queue_work(qc->alloc_wq, &qc->release_work);
}

/* Send, oldest first, the held writes nothing holds any more. */
static void send_held_writes(struct quorum_c *qc)
{
	struct quorum_io *w, *next;

	do {
		next = NULL;
		spin_lock_irq(&qc->rewrite_lock);
		list_for_each_entry(w, &qc->held_writes, node) {
			if (!write_blocked(qc, w, w)) {
				next = w;
				list_del(&w->node);
				start_write(qc, w);
				break;
			}
		}
		spin_unlock_irq(&qc->rewrite_lock);
		/* allocates: one at a time, each sent before the next */
		if (next)
			quorum_write_submit(next);
	} while (next);
}

void quorum_release_work(struct work_struct *work)
{
	send_held_writes(container_of(work, struct quorum_c, release_work));
}

/* Sum of the writes started over @io's regions; all finished? */
static u32 write_count(struct quorum_c *qc, struct quorum_io *io, bool *idle)
{
	unsigned int n, slot;
	u32 sum = 0;
	u64 r;

	*idle = true;
	for (region_span(io, &r, &n); n; n--, r++) {
		slot = slot_of(r);
		sum += qc->writes_started[slot];
		if (qc->writes_started[slot] != qc->writes_done[slot])
			*idle = false;
	}
	return sum;
}

/* A quorum read is mapped: note the writes to its range so far. */
void quorum_read_snapshot(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long flags;

	spin_lock_irqsave(&qc->rewrite_lock, flags);
	io->writes_seen = write_count(qc, io, &io->writes_idle);
	spin_unlock_irqrestore(&qc->rewrite_lock, flags);
}

/* @io no longer holds writes: send those nothing else holds. */
static void release_held_writes(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;

	spin_lock_irq(&qc->rewrite_lock);
	list_del(&io->node);
	spin_unlock_irq(&qc->rewrite_lock);
	send_held_writes(qc);
}

/*
 * Did a write to @io's range run while it read?  Then the legs may hold
 * the range before and after that write, and their disagreement says
 * nothing about them.  Any context.
 */
bool quorum_read_raced(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long flags;
	bool idle, raced;

	spin_lock_irqsave(&qc->rewrite_lock, flags);
	raced = !io->writes_idle || write_count(qc, io, &idle) != io->writes_seen;
	spin_unlock_irqrestore(&qc->rewrite_lock, flags);
	return raced;
}

static void rewrite_done(struct quorum_io *io)
{
	release_held_writes(io);
	quorum_complete(io, BLK_STS_OK);
}

static void rewrite_done_work(struct work_struct *work)
{
	rewrite_done(container_of(work, struct quorum_io, work));
}

/*
 * The last rewrite ended: the winner's buffer goes back at once, and the
 * held writes are sent from the allocating queue (where @in_worker runs
 * already).
 */
static void rewrite_end(struct quorum_io *io, bool in_worker)
{
	quorum_free_read_buffer(io->qc, io->rewrite_src);
	io->rewrite_src = NULL;
	if (in_worker)
		rewrite_done(io);
	else
		quorum_defer_alloc(io, rewrite_done_work);
}

static void rewrite_endio(struct bio *clone);

/* A write of the winner, from the read buffer that holds it, to @leg. */
static struct bio *rewrite_bio(struct quorum_io *io, unsigned int leg)
{
	struct quorum_c *qc = io->qc;
	struct bio *src = io->rewrite_src, *bio;
	struct bvec_iter_all iter_all;
	struct bio_vec *bv;

	/*
	 * From a bio_set of its own: the rewrite holds read buffer pages,
	 * and must not wait for bios an I/O holding the reserves keeps while
	 * it waits for pages.  One bio is reserve enough: each is submitted
	 * before the next is allocated.
	 */
	bio = bio_alloc_bioset(qc->legs[leg].dev->bdev, src->bi_vcnt,
			       REQ_OP_WRITE | REQ_SYNC, GFP_NOIO,
			       &qc->rewrite_bs);
	bio_for_each_segment_all(bv, src, iter_all)
		__bio_add_page(bio, bv->bv_page, bv->bv_len, bv->bv_offset);
	bio->bi_iter.bi_sector = io->sector;
	bio->bi_ioprio = io->bio->bi_ioprio;
	bio->bi_end_io = rewrite_endio;
	to_qclone(bio)->io = io;
	to_qclone(bio)->leg = leg;
	return bio;
}

static void rewrite_endio(struct bio *clone)
{
	struct quorum_clone *qclone = to_qclone(clone);
	struct quorum_io *io = qclone->io;
	struct quorum_leg *leg = &io->qc->legs[qclone->leg];

	/* a failed repair is counted, nothing more: the leg stays outvoted */
	if (clone->bi_status)
		atomic_inc(&leg->io_errors);
	else
		atomic_inc(&leg->rewrites);
	bio_put(clone);
	quorum_leg_answered(io->qc, qclone->leg);
	if (atomic_dec_and_test(&io->pending))
		rewrite_end(io, false);
}

/*
 * Write the winning data, from io->rewrite_src, to the legs in @legs.
 * Returns false, doing nothing, if a write to the range may have made the
 * winner stale; else the read completes when the rewrites have.
 * Runs in the allocating workqueue.
 */
bool quorum_rewrite(struct quorum_io *io, unsigned long legs)
{
	struct quorum_c *qc = io->qc;
	unsigned int leg;
	bool idle;

	legs &= quorum_writable_legs(qc);	/* a leg may have died since */
	if (!legs)
		return false;
	if (io->range_locked) {
		/* no write has run since it read: rewrite_done() unlocks */
		io->range_locked = false;
	} else {
		spin_lock_irq(&qc->rewrite_lock);
		/* as quorum_read_raced(), and the lock held to list the rewrite */
		if (!io->writes_idle ||
		    write_count(qc, io, &idle) != io->writes_seen) {
			spin_unlock_irq(&qc->rewrite_lock);
			return false;
		}
		list_add_tail(&io->node, &qc->rewrites);
		spin_unlock_irq(&qc->rewrite_lock);
	}

	/* One at a time: each is submitted before the next is allocated. */
	atomic_set(&io->pending, hweight_long(legs) + 1);
	for_each_leg(leg, legs) {
		struct bio *bio = rewrite_bio(io, leg);

		quorum_leg_sent(qc, leg);
		submit_bio_noacct(bio);
	}
	if (atomic_dec_and_test(&io->pending))
		rewrite_end(io, true);
	return true;
}

/* ---- region locks for the resync engine -------------------------------- */

/*
 * Have the writes to @io's range started up to number @seq ended?  The
 * list of writes in flight, in start order, says so exactly.  The
 * per-region counts cannot: they are hashed, and a later write to
 * another region of the same slot that ends first would make a write
 * still in flight look done, and the engine would read the legs in the
 * middle of it.
 */
static bool writes_drained(struct quorum_c *qc, struct quorum_io *io,
			   u32 seq)
{
	struct quorum_io *w;
	bool drained = true;

	spin_lock_irq(&qc->rewrite_lock);
	list_for_each_entry(w, &qc->writes, node) {
		if ((s32)(w->seq - seq) > 0)
			break;
		if (overlap(w, io)) {
			drained = false;
			break;
		}
	}
	spin_unlock_irq(&qc->rewrite_lock);
	return drained;
}

/* Wait until the writes to @io's range started so far have ended. */
static void drain_writes(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	u32 seq;

	spin_lock_irq(&qc->rewrite_lock);
	seq = qc->write_seq;
	spin_unlock_irq(&qc->rewrite_lock);

	while (!writes_drained(qc, io, seq))
		usleep_range(500, 1000);
}

/*
 * Lock @io's range (at most QUORUM_READ_MAX_SECTORS): writes to it are
 * held from now on, and this returns once the writes to it that had
 * already started have ended.  Sleeps.
 */
void quorum_region_lock(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;

	spin_lock_irq(&qc->rewrite_lock);
	list_add_tail(&io->node, &qc->rewrites);
	spin_unlock_irq(&qc->rewrite_lock);
	drain_writes(io);
}

/*
 * A read that raced writes waits for them before it reads again: read at
 * once, it would likely race the same writes again.  Sleeps.
 */
void quorum_read_wait_writes(struct quorum_io *io)
{
	drain_writes(io);
}

/* Unlock @io's range and send the writes it held. */
void quorum_region_unlock(struct quorum_io *io)
{
	release_held_writes(io);
}
