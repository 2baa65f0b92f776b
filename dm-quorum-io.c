// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum I/O paths.
 *
 * Every bio from dm core is fanned out by the target itself, with clones
 * from its own bio_set, because dm core merges the errors of duplicate
 * bios (any failing clone fails the original) and a quorum must succeed
 * with only @threshold legs.
 *
 *  - writes, flushes and write-zeroes go to every live leg and succeed
 *    when @threshold legs succeed, else fail with the majority error;
 *  - quorum reads read every live leg, one into the caller's pages and
 *    the others into reserve pages, and return the data at least
 *    @threshold legs agree on (the vote is in dm-quorum-read.c);
 *  - fifo reads try the live legs in order until one succeeds.
 *
 * Completions run in whatever context the legs complete in.  Work that
 * may be long (comparing buffers) moves to the target's workqueue unless
 * the completion already runs in task context; work that may sleep
 * (hashing for a vote, allocating the next fifo clone) always does.
 */
#include <linux/blkdev.h>

#include "dm-quorum.h"
#include "dm-quorum-intent.h"
#include "dm-quorum-io.h"
#include "dm-quorum-read.h"
#include "dm-quorum-rewrite.h"
#include "dm-quorum-sync.h"
#include "dm-quorum-vote.h"

/* @io is done: uncount it (before its bio ends: the last may free qc). */
static void leave_io(struct quorum_c *qc)
{
	if (atomic_dec_and_test(&qc->inflight) && READ_ONCE(qc->quiescing))
		wake_up_all(&qc->quiesce_wq);
}

static void end_io(struct quorum_io *io)
{
	leave_io(io->qc);
	bio_endio(io->bio);
}

static void unlock_end_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);

	quorum_region_unlock(io);	/* may send held writes: allocates */
	end_io(io);
}

void quorum_complete(struct quorum_io *io, blk_status_t status)
{
	io->bio->bi_status = status;
	if (unlikely(io->range_locked)) {
		io->range_locked = false;
		quorum_defer_alloc(io, unlock_end_work);
		return;
	}
	end_io(io);
}

/*
 * Count @bio in flight, first waiting while the leg set is being changed
 * (dm-quorum-legs.c): a rare admin action, and map may sleep.
 */
static void enter_io(struct quorum_c *qc)
{
	for (;;) {
		atomic_inc(&qc->inflight);
		smp_mb__after_atomic();	/* pairs with quorum_quiesce() */
		if (likely(!READ_ONCE(qc->quiescing)))
			return;
		if (atomic_dec_and_test(&qc->inflight))
			wake_up_all(&qc->quiesce_wq);
		wait_event(qc->quiesce_wq, !READ_ONCE(qc->quiescing));
	}
}

/* Completion work: it frees reserve memory and never waits for it. */
void quorum_defer(struct quorum_io *io, work_func_t fn)
{
	INIT_WORK(&io->work, fn);
	queue_work(io->qc->wq, &io->work);
}

/*
 * Work that waits for reserve memory, on a queue of its own: if it shared
 * the completion queue's rescuer under memory pressure, it could block
 * the very completions that would free what it waits for.
 */
void quorum_defer_alloc(struct quorum_io *io, work_func_t fn)
{
	INIT_WORK(&io->work, fn);
	queue_work(io->qc->alloc_wq, &io->work);
}

/* ---- error vote ------------------------------------------------------- */

static bool same_status(unsigned int a, unsigned int b, const void *ctx)
{
	const struct quorum_io *io = ctx;

	return io->status[a] == io->status[b];
}

static unsigned long failed_legs(struct quorum_io *io)
{
	unsigned long failed = 0;
	unsigned int leg;

	for_each_leg(leg, io->issued)
		if (io->status[leg])
			__set_bit(leg, &failed);
	return failed;
}

/* The error returned by most failed legs, QEMU's quorum_vote_error(). */
static blk_status_t majority_error(struct quorum_io *io, unsigned long failed)
{
	struct quorum_vote v;

	if (!failed)
		return BLK_STS_IOERR;	/* too few live legs to try */
	quorum_vote(failed, same_status, io, &v);
	return io->status[v.winner];
}

/* A leg failed @io: count it and report it. */
void quorum_leg_io_error(struct quorum_io *io, unsigned int leg)
{
	atomic_inc(&io->qc->legs[leg].io_errors);
	quorum_io_report_bad(io, leg, io->status[leg]);
}

/* ---- allocation ------------------------------------------------------- */

static struct bio *alloc_clone(struct quorum_io *io, unsigned int leg,
			       gfp_t gfp)
{
	struct quorum_c *qc = io->qc;
	struct bio *clone;

	clone = bio_alloc_clone(qc->legs[leg].dev->bdev, io->bio, gfp, &qc->bs);
	if (!clone)
		return NULL;
	/* dm core polls only its own clone, never the legs' */
	bio_clear_polled(clone);
	clone->bi_iter.bi_sector = io->sector;
	to_qclone(clone)->io = io;
	to_qclone(clone)->leg = leg;
	return clone;
}

void quorum_free_read_buffer(struct quorum_c *qc, struct bio *bio)
{
	struct page *pages[QUORUM_READ_MAX_PAGES];
	struct bvec_iter_all iter_all;
	struct bio_vec *bv;
	unsigned int n = 0;

	bio_for_each_segment_all(bv, bio, iter_all)
		pages[n++] = bv->bv_page;
	quorum_pages_put(&qc->read_pages, pages, n);
	bio_put(bio);
}

/*
 * A read bio for @leg over read buffer pages, as large as the caller's
 * bio.  Waits for the pages only with @gfp that may sleep.
 */
static struct bio *alloc_read_buffer(struct quorum_io *io, unsigned int leg,
				     gfp_t gfp)
{
	struct quorum_c *qc = io->qc;
	unsigned int remaining = io->iter.bi_size;
	unsigned int nr_pages = DIV_ROUND_UP(remaining, PAGE_SIZE);
	struct page *pages[QUORUM_READ_MAX_PAGES];
	struct bio *bio;
	unsigned int i;

	bio = bio_alloc_bioset(qc->legs[leg].dev->bdev, nr_pages,
			       io->bio->bi_opf, gfp, &qc->bs);
	if (!bio)
		return NULL;
	if (gfpflags_allow_blocking(gfp)) {
		quorum_pages_get_wait(&qc->read_pages, pages, nr_pages);
	} else if (!quorum_pages_get(&qc->read_pages, pages, nr_pages)) {
		bio_put(bio);
		return NULL;
	}
	bio_clear_polled(bio);
	bio->bi_iter.bi_sector = io->sector;
	bio->bi_ioprio = io->bio->bi_ioprio;
	to_qclone(bio)->io = io;
	to_qclone(bio)->leg = leg;

	for (i = 0; i < nr_pages; i++) {
		unsigned int len = min_t(unsigned int, remaining, PAGE_SIZE);

		__bio_add_page(bio, pages[i], len, 0);
		remaining -= len;
	}
	return bio;
}

/* Read buffers are every read bio but the primary's clone. */
static void put_leg_bios(struct quorum_io *io, bool read_buffers)
{
	unsigned int leg;

	for_each_leg(leg, io->issued) {
		struct bio *bio = io->leg_bio[leg];

		if (!bio)
			continue;
		if (read_buffers && leg != io->primary)
			quorum_free_read_buffer(io->qc, bio);
		else
			bio_put(bio);
		io->leg_bio[leg] = NULL;
	}
}

static bool try_alloc_leg_bios(struct quorum_io *io, bool read_buffers,
			       gfp_t gfp)
{
	unsigned int leg;

	for_each_leg(leg, io->issued) {
		if (read_buffers && leg != io->primary)
			io->leg_bio[leg] = alloc_read_buffer(io, leg, gfp);
		else
			io->leg_bio[leg] = alloc_clone(io, leg, gfp);
		if (!io->leg_bio[leg]) {
			put_leg_bios(io, read_buffers);
			return false;
		}
	}
	return true;
}

/*
 * All the bios one I/O needs, allocated before any is submitted.  First
 * without waiting; if that fails, one I/O at a time waits on the
 * reserves, which hold enough for one I/O, so every I/O makes progress
 * however many are short of memory (the scheme dm-crypt uses for its
 * buffers).
 */
static void alloc_leg_bios(struct quorum_io *io, bool read_buffers)
{
	struct quorum_c *qc = io->qc;

	if (try_alloc_leg_bios(io, read_buffers, GFP_NOWAIT | __GFP_NOWARN))
		return;
	mutex_lock(&qc->reserve_lock);
	try_alloc_leg_bios(io, read_buffers, GFP_NOIO);
	mutex_unlock(&qc->reserve_lock);
}

/* ---- spreading large I/O over CPUs ------------------------------------ */

/*
 * A bio-based leg driver (brd, pmem, zram) moves the data inside
 * submit_bio(), so the legs of one bio, all submitted by the thread that
 * submitted it, copy one after another on one CPU: make bench measured
 * 1 MiB writes at 0.4x dm-linear, behind QEMU's quorum, whose thread
 * pool copies on every CPU.  For large bios one such leg is sent from the
 * next CPU instead, and the compare of a large read runs there too: the
 * hop costs a few microseconds, the copy far more.  blk-mq legs (NVMe,
 * SCSI, NBD, virtio) only queue a bio in submit_bio() and never hop.
 */
static bool hop_worth_it(struct quorum_io *io, struct bio *bio)
{
	return io->iter.bi_size >= QUORUM_HOP_BYTES &&
	       hweight_long(io->issued) > 1 &&
	       !queue_is_mq(bdev_get_queue(bio->bi_bdev)) &&
	       num_online_cpus() > 1;
}

/* Run @fn from the next online CPU, away from the submitting thread. */
static void quorum_hop(struct quorum_io *io, struct work_struct *work,
		       work_func_t fn)
{
	int cpu = cpumask_next(raw_smp_processor_id(), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	INIT_WORK(work, fn);
	queue_work_on(cpu, io->qc->hop_wq, work);
}

static void hop_submit_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, hop_work);

	/* the last leg's bio: it cannot have completed before it is sent */
	submit_bio_noacct(io->leg_bio[__fls(io->issued)]);
	/* @io may be gone now */
}

/*
 * Submit every allocated leg bio, the last from another CPU when that is
 * worth it; the extra reference covers the loop.
 */
static void submit_leg_bios(struct quorum_io *io, bio_end_io_t *endio,
			    void (*done)(struct quorum_io *io))
{
	unsigned int leg;

	atomic_set(&io->pending, hweight_long(io->issued) + 1);
	for_each_leg(leg, io->issued) {
		struct bio *bio = io->leg_bio[leg];

		bio->bi_end_io = endio;
		quorum_leg_sent(io->qc, leg);
		if (leg == __fls(io->issued) && hop_worth_it(io, bio)) {
			io->hopped = true;
			quorum_hop(io, &io->hop_work, hop_submit_work);
		} else {
			submit_bio_noacct(bio);
		}
	}
	if (atomic_dec_and_test(&io->pending))
		done(io);
}

/* ---- writes, flushes, write-zeroes ------------------------------------ */

/*
 * md's rule: a write that succeeded without a leg (dead when it was sent,
 * or failing it) is acknowledged only once a superblock that records the
 * leg out of sync is durable.  Else, after a crash, the stale leg could
 * come back trusted and outvote (or, with two legs, replace) the current
 * one.  The commit that releases it is queued here (event_work queues one
 * too, for the same change: they merge).
 */
static bool hold_ack(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long all = BIT(qc->nr_legs) - 1, flags;
	unsigned long missing = all & ~(io->issued & ~failed_legs(io));
	bool hold;

	/* a read-only table's flushes: nothing was written, nothing to vouch */
	if (!qc->md || qc->md_ro || !missing)
		return false;
	spin_lock_irqsave(&qc->ack_lock, flags);
	hold = missing & ~qc->md_out;
	if (hold) {
		/* the leg's change is of this generation or an older one */
		io->ack_gen = quorum_state_gen(&qc->state);
		list_add_tail(&io->md_node, &qc->held_acks);
	}
	spin_unlock_irqrestore(&qc->ack_lock, flags);
	if (hold)
		queue_work(qc->md_wq, &qc->md_work);
	return hold;
}

/*
 * A commit of the leg states of generation @gen ended: @durable if the
 * threshold of legs hold it, with @out the legs it says are not in sync.
 * The writes held at that generation or before are released: a leg they
 * missed is recorded out, or has been resynced back since (and holds
 * them).  Later ones wait for the commit their change queued.
 */
void quorum_acks_committed(struct quorum_c *qc, unsigned long out,
			   bool durable, u32 gen)
{
	struct quorum_io *io, *tmp;
	unsigned long flags;
	LIST_HEAD(done);

	spin_lock_irqsave(&qc->ack_lock, flags);
	if (durable)
		qc->md_out = out;
	list_for_each_entry_safe(io, tmp, &qc->held_acks, md_node) {
		if ((s32)(io->ack_gen - gen) > 0)
			continue;	/* a newer change: the next commit */
		list_move_tail(&io->md_node, &done);
	}
	spin_unlock_irqrestore(&qc->ack_lock, flags);
	list_for_each_entry_safe(io, tmp, &done, md_node) {
		list_del_init(&io->md_node);
		/* nothing records the leg out: the write cannot be vouched for */
		if (!durable)
			quorum_io_failed(io);
		quorum_complete(io, durable ? BLK_STS_OK : BLK_STS_IOERR);
	}
}

static void write_done(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;
	unsigned long failed = failed_legs(io);
	unsigned int ok = hweight_long(io->issued & ~failed);
	blk_status_t status = BLK_STS_OK;
	unsigned int leg;

	/*
	 * A leg that missed a write the caller was told succeeded holds
	 * stale data from then on: take it out of service.  A write that
	 * failed its quorum acknowledged nothing the failed legs lack, so
	 * they stay (and a write-zeroes no leg supports kills nothing).
	 */
	for_each_leg(leg, failed) {
		quorum_leg_io_error(io, leg);
		/* a failed flush may have lost any write: every region */
		if (ok >= qc->threshold)
			quorum_leg_missed_write(qc, leg, io->sector,
						io->iter.bi_size >> SECTOR_SHIFT);
	}
	if (ok < qc->threshold) {
		status = majority_error(io, failed);
		quorum_io_failed(io);
	}
	if (io->iter.bi_size)
		quorum_write_end(io);
	/* counted by quorum_write(): a table's log is there from its start */
	if (qc->intent && io->iter.bi_size)
		quorum_intent_end(qc->intent, io->sector,
				  io->iter.bi_size >> SECTOR_SHIFT);
	if (!status && hold_ack(io))
		return;
	quorum_complete(io, status);
}

static void write_endio(struct bio *clone)
{
	struct quorum_io *io = to_qclone(clone)->io;
	unsigned int leg = to_qclone(clone)->leg;

	io->status[leg] = clone->bi_status;
	io->leg_bio[leg] = NULL;
	bio_put(clone);
	quorum_leg_answered(io->qc, leg);
	if (atomic_dec_and_test(&io->pending))
		write_done(io);
}

/*
 * Send a write to the legs in service now (it may have been held); the
 * dead ones miss it.
 */
void quorum_write_submit(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;

	io->issued = quorum_state_begin_write(&qc->state, io->sector,
					      io->iter.bi_size >> SECTOR_SHIFT);
	alloc_leg_bios(io, false);
	submit_leg_bios(io, write_endio, write_done);
}

static void write_go(struct quorum_io *io)
{
	/* held until an overlapping rewrite or resync ends, then submitted */
	if (io->iter.bi_size && !quorum_write_begin(io))
		return;
	quorum_write_submit(io);
}

static void write_go_work(struct work_struct *work)
{
	write_go(container_of(work, struct quorum_io, work));
}

/* The intent log has marked @waiter's regions, or could not (@status). */
void quorum_write_intent_done(struct list_head *waiter, blk_status_t status)
{
	struct quorum_io *io = container_of(waiter, struct quorum_io, md_node);

	if (status) {
		quorum_intent_end(io->qc->intent, io->sector,
				  io->iter.bi_size >> SECTOR_SHIFT);
		quorum_io_failed(io);
		quorum_complete(io, status);
		return;
	}
	quorum_defer_alloc(io, write_go_work);
}

static void quorum_write(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;

	/* its regions are marked durably first (it waits if they are not) */
	if (qc->intent && io->iter.bi_size) {
		if (!quorum_intent_start(qc->intent, io->sector,
					 io->iter.bi_size >> SECTOR_SHIFT,
					 &io->md_node))
			return;
	}
	write_go(io);
}

/* ---- quorum reads ----------------------------------------------------- */

static void read_finish(struct quorum_io *io, blk_status_t status)
{
	put_leg_bios(io, true);
	quorum_complete(io, status);
}

static void read_rewrite_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);

	if (quorum_rewrite(io, io->rewrite_legs))
		return;		/* the read completes after the rewrites */
	quorum_free_read_buffer(io->qc, io->rewrite_src);
	io->rewrite_src = NULL;
	quorum_complete(io, BLK_STS_OK);
}

/*
 * Keep, for the rewrite, the read buffer of a leg that voted for the
 * winner: the caller's pages hold the winner too, but the caller may
 * change them (an O_DIRECT buffer) before the rewrite is written.  When
 * only the primary, read into the caller's pages, voted for the winner
 * (threshold 1), there is no copy of ours to write: no rewrite.
 */
static bool keep_winner(struct quorum_io *io, unsigned long winners)
{
	unsigned int leg;

	winners &= ~BIT(io->primary);
	if (!winners)
		return false;
	leg = __ffs(winners);
	io->rewrite_src = io->leg_bio[leg];
	io->leg_bio[leg] = NULL;
	return true;
}

/* The legs in @ok disagree: vote, and rewrite the outvoted legs. */
static void read_voted(struct quorum_io *io, unsigned long ok)
{
	unsigned long outvoted = 0;
	blk_status_t status = quorum_read_vote(io, ok, false, &outvoted);
	bool rewrite = !status && outvoted && io->qc->rewrite_corrupted &&
		       keep_winner(io, ok & ~outvoted);

	put_leg_bios(io, true);
	if (rewrite) {
		io->rewrite_legs = outvoted;
		quorum_defer_alloc(io, read_rewrite_work);
		return;
	}
	quorum_complete(io, status);
}

static void read_vote_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);

	read_voted(io, io->issued & ~failed_legs(io));
}

static void quorum_read(struct quorum_io *io);

static void read_retry_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);

	/*
	 * Under overlapping writes that never stop, every try could race
	 * one: the last holds them off until it has been voted.
	 */
	if (++io->retries == QUORUM_READ_RETRIES) {
		quorum_region_lock(io);
		io->range_locked = true;
	} else {
		quorum_read_wait_writes(io);
	}
	quorum_read(io);
}

/*
 * Legs that disagree while a write to the range was in flight may just
 * hold it before and after that write (a 2-of-3 with one corrupt leg
 * would then have no majority, and two writes can leave three versions):
 * once those writes have ended, read again instead of voting, reporting
 * or rewriting on a moving target.
 */
static bool read_again(struct quorum_io *io)
{
	if (io->retries >= QUORUM_READ_RETRIES || !quorum_read_raced(io))
		return false;
	put_leg_bios(io, true);
	quorum_defer_alloc(io, read_retry_work);
	return true;
}

/*
 * Every leg has completed.  The checks run in the completion's context,
 * and so does the vote unless it hashes: then it goes to the workqueue.
 */
static void read_check(struct quorum_io *io, bool in_worker)
{
	struct quorum_c *qc = io->qc;
	unsigned long failed = failed_legs(io);
	unsigned long ok = io->issued & ~failed;
	unsigned int leg;

	for_each_leg(leg, failed)
		quorum_leg_io_error(io, leg);
	if (hweight_long(ok) < qc->threshold) {
		quorum_io_failed(io);
		read_finish(io, majority_error(io, failed));
	} else if (quorum_read_agree(io, ok)) {
		read_finish(io, BLK_STS_OK);
	} else if (read_again(io)) {
		return;
	} else if (in_worker || !quorum_read_vote_sleeps(io, ok)) {
		read_voted(io, ok);
	} else {
		quorum_defer(io, read_vote_work);
	}
}

static void read_check_work(struct work_struct *work)
{
	read_check(container_of(work, struct quorum_io, work), true);
}

static void read_last_endio(struct quorum_io *io)
{
	/*
	 * Comparing up to 128 KiB per leg is too long for interrupt context.
	 * The thread that sent a read that hopped goes on sending the next
	 * ones: the compare hops too, unless it already runs in a worker.
	 */
	if (!in_task())
		quorum_defer(io, read_check_work);
	else if (io->hopped && !(current->flags & PF_WQ_WORKER))
		quorum_hop(io, &io->work, read_check_work);
	else
		read_check(io, false);
}

static void read_endio(struct bio *bio)
{
	struct quorum_io *io = to_qclone(bio)->io;

	io->status[to_qclone(bio)->leg] = bio->bi_status;
	quorum_leg_answered(io->qc, to_qclone(bio)->leg);
	if (atomic_dec_and_test(&io->pending))
		read_last_endio(io);
}

static void quorum_read(struct quorum_io *io)
{
	struct quorum_c *qc = io->qc;

	io->issued = quorum_readable_legs(qc);
	if (hweight_long(io->issued) < qc->threshold) {
		quorum_io_failed(io);
		quorum_complete(io, BLK_STS_IOERR);
		return;
	}
	io->primary = __ffs(io->issued);
	quorum_read_snapshot(io);
	alloc_leg_bios(io, true);
	submit_leg_bios(io, read_endio, read_last_endio);
}

/* ---- fifo reads ------------------------------------------------------- */

/*
 * A fifo read sends dm core's own bio to the first live leg, as
 * dm-linear does, with no clone of ours (make bench: a clone cost fifo
 * reads 8% of dm-linear's rate at 4 KiB).  When that fails,
 * quorum_end_io_fifo() keeps the bio and sends it to the next leg.
 * Polled bios take the clone path (fifo_next()) instead: dm core would
 * poll a leg the bio may no longer be on.
 */
static unsigned int fifo_leg(struct quorum_io *io)
{
	unsigned long live = quorum_readable_legs(io->qc);

	return find_next_bit(&live, QUORUM_MAX_LEGS, io->next_leg);
}

static void fifo_remap(struct quorum_io *io, unsigned int leg)
{
	struct bio *bio = io->bio;

	io->remapped = true;
	io->next_leg = leg;
	quorum_leg_sent(io->qc, leg);
	bio_set_dev(bio, io->qc->legs[leg].dev->bdev);
	bio->bi_status = BLK_STS_OK;	/* a success leaves it as it was */
	bio->bi_iter = io->iter;
	bio->bi_iter.bi_sector = io->sector;
}

/* @leg failed a fifo read: count it; the next leg to try is after it. */
static void fifo_leg_failed(struct quorum_io *io, unsigned int leg,
			    blk_status_t status)
{
	io->status[leg] = status;
	quorum_leg_io_error(io, leg);
	io->next_leg = leg + 1;
}

static void fifo_retry_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);

	fifo_remap(io, io->next_leg);
	submit_bio_noacct(io->bio);
}

/* dm core's end_io hook: only remapped fifo reads have work to do here. */
int quorum_end_io_fifo(struct quorum_c *qc, struct bio *bio,
		       blk_status_t *error)
{
	struct quorum_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned int leg;

	if (!io->remapped)
		return DM_ENDIO_DONE;	/* completed by quorum_complete() */
	quorum_leg_answered(qc, io->next_leg);
	if (*error) {
		fifo_leg_failed(io, io->next_leg, *error);
		leg = fifo_leg(io);
		if (leg < QUORUM_MAX_LEGS) {
			/* resubmit from process context, and never recurse */
			io->next_leg = leg;
			quorum_defer(io, fifo_retry_work);
			return DM_ENDIO_INCOMPLETE;
		}
	}
	leave_io(qc);
	return DM_ENDIO_DONE;
}

static void fifo_next(struct quorum_io *io);

static void fifo_next_work(struct work_struct *work)
{
	fifo_next(container_of(work, struct quorum_io, work));
}

static void fifo_endio(struct bio *clone)
{
	struct quorum_io *io = to_qclone(clone)->io;
	unsigned int leg = to_qclone(clone)->leg;
	blk_status_t status = clone->bi_status;

	bio_put(clone);
	quorum_leg_answered(io->qc, leg);
	if (!status) {
		quorum_complete(io, BLK_STS_OK);
		return;
	}
	fifo_leg_failed(io, leg, status);
	/* The next clone is allocated with GFP_NOIO: not here. */
	quorum_defer_alloc(io, fifo_next_work);
}

/* Read the next live leg; when none is left, return the last error. */
static void fifo_next(struct quorum_io *io)
{
	unsigned int leg = fifo_leg(io);
	struct bio *clone;

	if (leg >= QUORUM_MAX_LEGS) {
		blk_status_t last = BLK_STS_IOERR;

		if (io->next_leg)
			last = io->status[io->next_leg - 1];
		quorum_complete(io, last);
		return;
	}
	clone = alloc_clone(io, leg, GFP_NOIO);
	clone->bi_end_io = fifo_endio;
	quorum_leg_sent(io->qc, leg);
	submit_bio_noacct(clone);
}

/* ---- map -------------------------------------------------------------- */

/*
 * After an unclean shutdown the legs may differ in the regions marked in
 * the intent log: a read there waits for those regions to be recovered
 * (the engine does the rest in the background), so that it never fails
 * for want of a quorum nor gives an answer a later read contradicts.
 */
static bool recovering(struct quorum_c *qc, struct quorum_io *io)
{
	return qc->intent && quorum_intent_nr_recovering(qc->intent) &&
	       quorum_intent_range_recovering(qc->intent, io->sector,
					      bio_sectors(io->bio));
}

static void recover_read_work(struct work_struct *work)
{
	struct quorum_io *io = container_of(work, struct quorum_io, work);
	struct quorum_c *qc = io->qc;
	sector_t last = io->sector + bio_sectors(io->bio) - 1;
	unsigned int shift = quorum_state_region_shift(&qc->state);
	u64 r;

	for (r = io->sector >> shift; r <= last >> shift; r++)
		quorum_sync_recover(qc, r);
	if (qc->read_pattern == QUORUM_READ_FIFO)
		fifo_next(io);
	else
		quorum_read(io);
}

int quorum_map_io(struct quorum_c *qc, struct bio *bio)
{
	struct quorum_io *io = dm_per_bio_data(bio, sizeof(*io));
	bool read = bio_op(bio) == REQ_OP_READ;

	if (read && qc->read_pattern == QUORUM_READ_QUORUM &&
	    bio_sectors(bio) > QUORUM_READ_MAX_SECTORS)
		dm_accept_partial_bio(bio, QUORUM_READ_MAX_SECTORS);

	enter_io(qc);
	memset(io, 0, offsetof(struct quorum_io, work));
	io->qc = qc;
	io->bio = bio;
	io->iter = bio->bi_iter;
	if (read)
		io->op = QUORUM_OP_READ;
	else
		io->op = bio_sectors(bio) ? QUORUM_OP_WRITE : QUORUM_OP_FLUSH;
	/* Empty flushes carry no sector. */
	if (bio_sectors(bio))
		io->sector = dm_target_offset(qc->ti, bio->bi_iter.bi_sector);

	if (read && unlikely(recovering(qc, io))) {
		/* a queue of its own: it waits for whole regions' I/O */
		INIT_WORK(&io->work, recover_read_work);
		queue_work(qc->recover_wq, &io->work);
		return DM_MAPIO_SUBMITTED;
	}

	if (read && qc->read_pattern == QUORUM_READ_FIFO) {
		unsigned int leg = fifo_leg(io);

		if (!(bio->bi_opf & REQ_POLLED) && leg < QUORUM_MAX_LEGS) {
			fifo_remap(io, leg);
			return DM_MAPIO_REMAPPED;
		}
		fifo_next(io);
		return DM_MAPIO_SUBMITTED;
	}

	if (read)
		quorum_read(io);
	else
		quorum_write(io);
	return DM_MAPIO_SUBMITTED;
}

/* ---- set-up ----------------------------------------------------------- */

int quorum_io_init(struct quorum_c *qc)
{
	int r;

	r = bioset_init(&qc->bs, qc->nr_legs,
			offsetof(struct quorum_clone, bio), BIOSET_NEED_BVECS) ?:
	    bioset_init(&qc->rewrite_bs, 1,
			offsetof(struct quorum_clone, bio), BIOSET_NEED_BVECS);
	if (r)
		return r;
	r = quorum_pages_init(&qc->read_pages,
			      (qc->nr_legs - 1) * QUORUM_READ_MAX_PAGES);
	if (r)
		return r;
	/* one set of digests is enough: its holder never waits on I/O */
	r = mempool_init_kmalloc_pool(&qc->digest_pool, 1,
				      QUORUM_MAX_LEGS * qc->digest_size);
	if (r)
		return r;
	mutex_init(&qc->reserve_lock);
	init_waitqueue_head(&qc->quiesce_wq);
	spin_lock_init(&qc->rewrite_lock);
	INIT_LIST_HEAD(&qc->rewrites);
	INIT_LIST_HEAD(&qc->writes);
	INIT_LIST_HEAD(&qc->held_writes);
	spin_lock_init(&qc->ack_lock);
	INIT_LIST_HEAD(&qc->held_acks);
	INIT_WORK(&qc->release_work, quorum_release_work);
	return 0;
}

/*
 * The reserves must hold one I/O over @nr_legs legs.  bio_set has no
 * resize of its own; its pools are plain mempools.
 */
int quorum_io_resize(struct quorum_c *qc, unsigned int nr_legs)
{
	int r;

	r = mempool_resize(&qc->bs.bio_pool, nr_legs);
	if (!r)
		r = mempool_resize(&qc->bs.bvec_pool, nr_legs);
	if (!r)
		r = quorum_pages_resize(&qc->read_pages,
					(nr_legs - 1) * QUORUM_READ_MAX_PAGES);
	return r;
}

void quorum_io_exit(struct quorum_c *qc)
{
	mempool_exit(&qc->digest_pool);
	quorum_pages_exit(&qc->read_pages);
	bioset_exit(&qc->rewrite_bs);
	bioset_exit(&qc->bs);
}
