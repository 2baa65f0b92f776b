// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum resync and scrub engine.
 *
 * One action at a time runs in a work item, region by region, and each
 * region piece by piece (at most 128 KiB, the read vote's granularity):
 *
 *   resync  a leg that comes back ('S'): for each region it missed, vote
 *           among the readable legs and write the winner to it;
 *   check   every region: vote, count the pieces some leg lost;
 *   repair  the same, and write the winner to the legs that lost.
 *
 * Whatever the action, the regions the intent log says to recover after
 * an unclean shutdown go first ("recover" in the status while they do):
 * vote, and write the winner to every leg that differs, even when no
 * version has the threshold's votes.  The legs can differ there only in
 * writes that were never acknowledged, so any version is a right one; the
 * vote takes the one most legs hold and, on a tie, the one the highest
 * leg holds (the read vote's rule).  A read of such a region recovers it
 * first, through quorum_sync_recover(), so pieces are done one at a time
 * under piece_lock whoever asks.
 *
 * Each piece is locked against writes for the time it is read, voted and
 * written (quorum_region_lock()), so a write from above is never undone
 * by an older copy.  The engine has its own bio_set and pages, so it never
 * competes with user I/O for the reserves that I/O needs to progress.
 * It pauses on presuspend (dm core waits only for user bios) and goes on
 * from the same region after resume.
 */
#include <linux/delay.h>
#include <linux/module.h>

#include "dm-quorum.h"
#include "dm-quorum-intent.h"
#include "dm-quorum-io.h"
#include "dm-quorum-read.h"
#include "dm-quorum-rewrite.h"
#include "dm-quorum-sync.h"

static unsigned int max_sync_rate;
module_param(max_sync_rate, uint, 0644);
MODULE_PARM_DESC(max_sync_rate,
		 "Resync and scrub rate limit per device, KiB/s (0: none)");

/*
 * For the tests: hold a resync that has copied everything for this long
 * before its legs are judged, so that a failure can be made to land in
 * that window every time (tests/cases/141).
 */
static unsigned int sync_finish_delay_ms;
module_param(sync_finish_delay_ms, uint, 0644);
MODULE_PARM_DESC(sync_finish_delay_ms,
		 "Testing only: delay before a finished resync's legs come back, ms");

static const char * const action_names[] = {
	[QUORUM_SYNC_IDLE] = "idle",
	[QUORUM_SYNC_RESYNC] = "resync",
	[QUORUM_SYNC_CHECK] = "check",
	[QUORUM_SYNC_REPAIR] = "repair",
};

const char *quorum_sync_action_name(enum quorum_sync_action action)
{
	return action_names[action];
}

/* What the status shows: "recover" while the recovery phase runs. */
const char *quorum_sync_status_name(struct quorum_c *qc)
{
	if (READ_ONCE(qc->sync.recovering))
		return "recover";
	return action_names[READ_ONCE(qc->sync.action)];
}

static sector_t region_sectors(struct quorum_c *qc)
{
	return (sector_t)1 << quorum_state_region_shift(&qc->state);
}

/* ---- I/O of one piece -------------------------------------------------- */

static void sync_endio(struct bio *bio)
{
	struct quorum_clone *qclone = to_qclone(bio);
	struct quorum_sync *qs = &qclone->io->qc->sync;

	qclone->io->status[qclone->leg] = bio->bi_status;
	quorum_leg_answered(qclone->io->qc, qclone->leg);
	if (atomic_dec_and_test(&qs->pending))
		complete(&qs->io_done);
}

static struct page **leg_pages(struct quorum_sync *qs, unsigned int leg)
{
	return qs->pages + leg * QUORUM_READ_MAX_PAGES;
}

/* A bio for @leg over @pages (@leg's own for a read, the winner's else). */
static struct bio *piece_bio(struct quorum_io *io, unsigned int leg,
			     struct page **pages, blk_opf_t opf)
{
	struct quorum_c *qc = io->qc;
	unsigned int left = io->iter.bi_size, i;
	struct bio *bio;

	bio = bio_alloc_bioset(qc->legs[leg].dev->bdev, QUORUM_READ_MAX_PAGES,
			       opf, GFP_NOIO, &qc->sync.bs);
	bio->bi_iter.bi_sector = io->sector;
	bio->bi_end_io = sync_endio;
	to_qclone(bio)->io = io;
	to_qclone(bio)->leg = leg;
	for (i = 0; left; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

		__bio_add_page(bio, pages[i], len, 0);
		left -= len;
	}
	return bio;
}

/* Read (into each leg's pages) or write (the winner) @legs; waits. */
static void piece_io(struct quorum_io *io, unsigned long legs, blk_opf_t opf,
		     struct page **write_pages)
{
	struct quorum_sync *qs = &io->qc->sync;
	unsigned int leg;

	reinit_completion(&qs->io_done);
	atomic_set(&qs->pending, hweight_long(legs) + 1);
	for_each_leg(leg, legs) {
		struct page **pages = write_pages ?: leg_pages(qs, leg);
		struct bio *bio = piece_bio(io, leg, pages, opf);

		io->leg_bio[leg] = bio;
		quorum_leg_sent(io->qc, leg);
		submit_bio_noacct(bio);
	}
	if (!atomic_dec_and_test(&qs->pending))
		wait_for_completion_io(&qs->io_done);
}

static void put_piece_bios(struct quorum_io *io, unsigned long legs)
{
	unsigned int leg;

	for_each_leg(leg, legs) {
		bio_put(io->leg_bio[leg]);
		io->leg_bio[leg] = NULL;
	}
}

/* ---- one piece --------------------------------------------------------- */

/*
 * Vote on the piece read from @ok; the winner ends up in the primary's
 * pages.  Returns the outvoted legs, or -EIO in @status if no version has
 * a quorum.
 */
static unsigned long piece_vote(struct quorum_io *io, unsigned long ok,
				bool recover, blk_status_t *status)
{
	unsigned long outvoted = 0;

	*status = BLK_STS_OK;
	if (hweight_long(ok) < (recover ? 1 : io->qc->threshold)) {
		quorum_io_failed(io);
		*status = BLK_STS_IOERR;
	} else if (!quorum_read_agree(io, ok)) {
		*status = quorum_read_vote(io, ok, recover, &outvoted);
	}
	return outvoted;
}

/* Write the winner to @legs; a leg that fails it leaves service. */
static void piece_write(struct quorum_io *io, unsigned long legs,
			bool repair)
{
	struct quorum_c *qc = io->qc;
	unsigned int leg;

	io->op = QUORUM_OP_WRITE;
	piece_io(io, legs, REQ_OP_WRITE | REQ_SYNC, leg_pages(&qc->sync, io->primary));
	for_each_leg(leg, legs) {
		if (io->status[leg]) {
			quorum_leg_io_error(io, leg);
			quorum_leg_missed_write(qc, leg, io->sector,
						io->iter.bi_size >> SECTOR_SHIFT);
		} else if (repair) {
			atomic_inc(&qc->legs[leg].rewrites);
		}
	}
	put_piece_bios(io, legs);
}

/*
 * Sync one piece: read the readable legs, vote, write the winner to the
 * resync targets (and, for repair, to the outvoted legs).  Returns false
 * if the targets could not be given the piece.
 */
static bool sync_piece(struct quorum_c *qc, sector_t sector,
		       unsigned int sectors, bool recover)
{
	struct quorum_sync *qs = &qc->sync;
	struct quorum_io *io = &qs->io;
	unsigned long readable, failed = 0, outvoted, targets;
	blk_status_t status;
	unsigned int leg;

	lockdep_assert_held(&qs->piece_lock);
	memset(io, 0, offsetof(struct quorum_io, work));
	io->qc = qc;
	io->op = QUORUM_OP_READ;
	io->sector = sector;
	io->iter.bi_sector = qc->ti->begin + sector;
	io->iter.bi_size = sectors << SECTOR_SHIFT;

	quorum_region_lock(io);
	readable = quorum_readable_legs(qc);
	if (hweight_long(readable) < (recover ? 1 : qc->threshold)) {
		/* nothing to vote with: the targets keep the piece to do */
		quorum_region_unlock(io);
		return false;
	}
	io->issued = readable;
	io->primary = __ffs(readable);
	piece_io(io, readable, REQ_OP_READ, NULL);
	io->bio = io->leg_bio[io->primary];
	for_each_leg(leg, readable) {
		if (io->status[leg]) {
			__set_bit(leg, &failed);
			quorum_leg_io_error(io, leg);
		}
	}
	outvoted = piece_vote(io, readable & ~failed, recover, &status);
	put_piece_bios(io, readable);
	io->bio = NULL;
	if (recover) {
		/* every leg that differs, the ones being resynced too */
		targets = (outvoted | qs->targets) & quorum_writable_legs(qc);
	} else {
		if (outvoted)
			qs->mismatches++;
		targets = qs->targets & quorum_writable_legs(qc);
		if (qs->action == QUORUM_SYNC_REPAIR)
			targets |= outvoted & quorum_writable_legs(qc);
	}
	if (!status && targets)
		piece_write(io, targets,
			    !recover && qs->action == QUORUM_SYNC_REPAIR);
	quorum_region_unlock(io);
	return !status;
}

/* ---- regions ----------------------------------------------------------- */

/* The next region from @from the action goes through; nr_regions at the end. */
static u64 next_region(struct quorum_c *qc, u64 from)
{
	struct quorum_sync *qs = &qc->sync;

	if (qs->action != QUORUM_SYNC_RESYNC)
		return min(from, quorum_state_nr_regions(&qc->state));
	return quorum_state_next_missed(&qc->state, qs->targets, from);
}

static sector_t region_len(struct quorum_c *qc, u64 region)
{
	sector_t start = region << quorum_state_region_shift(&qc->state);

	return min_t(sector_t, region_sectors(qc), qc->ti->len - start);
}

static bool sync_interrupted(struct quorum_sync *qs);
static void sync_throttle(struct quorum_sync *qs);
static int alloc_pages_of(struct quorum_c *qc);

/* Every piece of @region; false if one could not be given to the targets. */
static bool region_pieces(struct quorum_c *qc, u64 region, bool recover)
{
	sector_t start = region << quorum_state_region_shift(&qc->state);
	sector_t len = region_len(qc, region), off;
	bool ok = true;

	for (off = 0; off < len; off += QUORUM_READ_MAX_SECTORS) {
		mutex_lock(&qc->sync.piece_lock);
		ok &= sync_piece(qc, start + off,
				 min_t(sector_t, len - off, QUORUM_READ_MAX_SECTORS),
				 recover);
		mutex_unlock(&qc->sync.piece_lock);
	}
	return ok;
}

static void sync_region(struct quorum_c *qc, u64 region)
{
	if (region_pieces(qc, region, false) &&
	    qc->sync.action == QUORUM_SYNC_RESYNC)
		quorum_state_region_done(&qc->state, qc->sync.targets, region);
}

/*
 * Recover @region if the intent log says to (a read waits for this, in
 * a worker; the engine does the rest).  Each leg ends up with one
 * version, written to the resync targets too.
 */
void quorum_sync_recover(struct quorum_c *qc, u64 region)
{
	struct quorum_sync *qs = &qc->sync;

	mutex_lock(&qs->recover_lock);
	/* no buffers (they could not be allocated): the read goes on as is */
	if (quorum_intent_recovering(qc->intent, region) && qs->pages &&
	    region_pieces(qc, region, true))
		quorum_intent_recovered(qc->intent, region);
	mutex_unlock(&qs->recover_lock);
}

/*
 * The engine's buffers, for reads to recover regions with: from the first
 * resume until nothing is left to recover, whether an action runs or not
 * (none does while fewer legs than the threshold are in service).  Under
 * msg_lock.
 */
int quorum_sync_prepare_recovery(struct quorum_c *qc)
{
	int r = 0;

	mutex_lock(&qc->sync.recover_lock);
	if (!qc->sync.pages)
		r = alloc_pages_of(qc);
	mutex_unlock(&qc->sync.recover_lock);
	return r;
}

/* The recovery phase of any action; false if it was interrupted. */
static bool sync_recover(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	u64 region = 0, n = quorum_state_nr_regions(&qc->state);

	if (!qc->intent || !quorum_intent_nr_recovering(qc->intent))
		return true;
	WRITE_ONCE(qs->recovering, true);
	while (!sync_interrupted(qs)) {
		region = quorum_intent_next_recovering(qc->intent, region);
		if (region >= n)
			break;
		quorum_sync_recover(qc, region);
		WRITE_ONCE(qs->done, qs->done + region_len(qc, region));
		sync_throttle(qs);
		region++;
		cond_resched();
	}
	WRITE_ONCE(qs->recovering, false);
	return region >= n;
}

static bool sync_interrupted(struct quorum_sync *qs)
{
	return READ_ONCE(qs->stop) || READ_ONCE(qs->paused);
}

/*
 * The rate limit counts from here: from each start or resume of the work
 * (time spent suspended or paused is not credit for a burst afterwards)
 * and from each change of max_sync_rate.
 */
static void sync_rate_restart(struct quorum_sync *qs, unsigned int rate)
{
	qs->rate = rate;
	qs->rate_start = jiffies;
	qs->rate_done = qs->done;
}

/*
 * Sleep as long as max_sync_rate asks for the work done in this window,
 * in short naps so that a suspend or an idle does not wait for a slow
 * rate.
 */
static void sync_throttle(struct quorum_sync *qs)
{
	unsigned int rate = READ_ONCE(max_sync_rate);
	unsigned long due;

	if (rate != qs->rate)
		sync_rate_restart(qs, rate);
	if (!rate)
		return;
	due = qs->rate_start +
	      div_u64((u64)(qs->done - qs->rate_done) * HZ, 2 * rate);
	while (time_before(jiffies, due) && !sync_interrupted(qs))
		schedule_timeout_uninterruptible(min_t(unsigned long,
						       due - jiffies, HZ / 10));
}

/* ---- the action -------------------------------------------------------- */

static void free_pages_of(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	unsigned int i;

	if (!qs->pages)
		return;
	for (i = 0; i < qs->pages_legs * QUORUM_READ_MAX_PAGES; i++)
		if (qs->pages[i])
			__free_page(qs->pages[i]);
	kvfree(qs->pages);
	qs->pages = NULL;
}

/* GFP_NOIO: a message or a resume may come while the device is suspended. */
static int alloc_pages_of(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	unsigned int i, n = qc->nr_legs * QUORUM_READ_MAX_PAGES;

	qs->pages = kvcalloc(n, sizeof(*qs->pages), GFP_NOIO);
	if (!qs->pages)
		return -ENOMEM;
	qs->pages_legs = qc->nr_legs;
	for (i = 0; i < n; i++) {
		qs->pages[i] = alloc_page(GFP_NOIO);
		if (!qs->pages[i]) {
			free_pages_of(qc);
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The action ended, finished or stopped.  Resync targets that are still
 * 'S' and hold every region come back into service; the others go back
 * to 'D', keeping the regions they still miss for the next reinstate.
 * The state machine decides each one atomically: a leg that failed a
 * write a moment before stays out.
 */
static void sync_finish(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	enum quorum_sync_action action = qs->action;
	bool stopped = READ_ONCE(qs->stop);
	unsigned int delay = READ_ONCE(sync_finish_delay_ms);
	unsigned int leg;

	if (delay && !stopped && qs->targets) {
		msleep(delay);
		stopped = READ_ONCE(qs->stop);
	}
	/*
	 * What was copied to the targets is durable before they count as in
	 * sync (and a superblock says so): the copies are in no intent log.
	 * A target that cannot flush stays out.
	 */
	for_each_leg(leg, qs->targets)
		if (!stopped && blkdev_issue_flush(qc->legs[leg].dev->bdev))
			quorum_leg_missed_write(qc, leg, 0, 0);
	for_each_leg(leg, qs->targets)
		if (quorum_state_finish_sync(&qc->state, leg, stopped))
			quorum_report_leg(qc, QUORUM_EV_LEG_REINSTATED, leg);
	/* a read may still recover a region, with these pages */
	if (!qc->intent || !quorum_intent_nr_recovering(qc->intent))
		free_pages_of(qc);
	WRITE_ONCE(qs->targets, 0);
	WRITE_ONCE(qs->action, QUORUM_SYNC_IDLE);
	if (!stopped)
		quorum_report_sync_done(qc, action_names[action], qs->mismatches);
}

static void sync_work(struct work_struct *work)
{
	struct quorum_sync *qs = container_of(work, struct quorum_sync, work);
	struct quorum_c *qc = container_of(qs, struct quorum_c, sync);

	sync_rate_restart(qs, READ_ONCE(max_sync_rate));
	if (!sync_recover(qc))
		goto out;
	while (!sync_interrupted(qs)) {
		u64 region = next_region(qc, qs->region);

		if (region >= quorum_state_nr_regions(&qc->state))
			break;
		/* a target that died is done with */
		if (qs->action == QUORUM_SYNC_RESYNC &&
		    !(qs->targets & quorum_writable_legs(qc)))
			break;
		sync_region(qc, region);
		WRITE_ONCE(qs->done, qs->done + region_len(qc, region));
		sync_throttle(qs);
		WRITE_ONCE(qs->region, region + 1);
		cond_resched();
	}
out:
	if (!READ_ONCE(qs->stop) && READ_ONCE(qs->paused))
		return;		/* resumed from qs->region */
	sync_finish(qc);
}

/* Sectors the action will go through. */
static sector_t sync_total(struct quorum_c *qc)
{
	u64 last = quorum_state_nr_regions(&qc->state) - 1;
	unsigned long targets = qc->sync.targets;
	sector_t total;

	/* recovery first, counted as whole regions */
	total = qc->intent ? quorum_intent_nr_recovering(qc->intent) *
			     region_sectors(qc) : 0;
	if (qc->sync.action != QUORUM_SYNC_RESYNC)
		return total + qc->ti->len;
	/* counted a word at a time: the map may hold 2^26 regions */
	total += quorum_state_missed_union(&qc->state, targets) *
		 region_sectors(qc);
	/* the last region may be short */
	if (total && quorum_state_next_missed(&qc->state, targets, last) == last)
		total -= region_sectors(qc) - region_len(qc, last);
	return total;
}

/*
 * Start @action (for resync, of the legs in @targets, which are dead and
 * become 'S').  Under msg_lock, with no action running.
 */
int quorum_sync_start(struct quorum_c *qc, enum quorum_sync_action action,
		      unsigned long targets)
{
	struct quorum_sync *qs = &qc->sync;
	int r;

	r = qs->pages ? 0 : alloc_pages_of(qc);
	if (r)
		return r;
	qs->targets = quorum_state_start_sync(&qc->state, targets);
	qs->action = action;
	qs->stop = false;
	qs->region = 0;
	qs->mismatches = 0;
	qs->done = 0;
	qs->total = sync_total(qc);
	if (!qs->paused)
		queue_work(qs->wq, &qs->work);
	return 0;
}

/*
 * A reloaded table takes over @old's scrub where it was (same geometry:
 * the same length and region size, checked by the caller).  A resync is
 * not carried here: its legs are dead in the new table, with the regions
 * they still miss, and are resynced from those (quorum_preresume()).
 */
void quorum_sync_take_over(struct quorum_c *qc, struct quorum_c *old)
{
	struct quorum_sync *qs = &qc->sync, *os = &old->sync;

	if (os->action != QUORUM_SYNC_CHECK && os->action != QUORUM_SYNC_REPAIR)
		return;
	if (quorum_sync_start(qc, os->action, 0))
		return;		/* the operator can start it again */
	qs->region = os->region;
	qs->done = os->done;
	qs->total = os->total;
	qs->mismatches = os->mismatches;
}

/* Stop the running action, if any, and wait for it.  Under msg_lock. */
void quorum_sync_stop(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;

	if (qs->action == QUORUM_SYNC_IDLE)
		return;
	WRITE_ONCE(qs->stop, true);
	/* if paused the work is not running: it still has to finish */
	queue_work(qs->wq, &qs->work);
	flush_work(&qs->work);
}

/* dm core waits for user bios only: stop the engine's own I/O here. */
void quorum_sync_suspend(struct quorum_c *qc)
{
	mutex_lock(&qc->msg_lock);
	quorum_sync_pause(qc);
	mutex_unlock(&qc->msg_lock);
}

void quorum_sync_resume(struct quorum_c *qc)
{
	mutex_lock(&qc->msg_lock);
	quorum_sync_unpause(qc, false);
	mutex_unlock(&qc->msg_lock);
}

int quorum_sync_init(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	int r;

	qs->paused = true;	/* until the first resume */
	init_completion(&qs->io_done);
	mutex_init(&qs->piece_lock);
	mutex_init(&qs->recover_lock);
	INIT_WORK(&qs->work, sync_work);
	/* the engine holds writes while it copies: it must run under reclaim */
	qs->wq = alloc_workqueue("kquorum_sync", WQ_MEM_RECLAIM, 1);
	if (!qs->wq)
		return -ENOMEM;
	r = bioset_init(&qs->bs, qc->nr_legs,
			offsetof(struct quorum_clone, bio), BIOSET_NEED_BVECS);
	return r;
}

/* Room in the engine's bio_set for @nr_legs legs (see quorum_io_resize()). */
int quorum_sync_resize(struct quorum_c *qc, unsigned int nr_legs)
{
	int r = mempool_resize(&qc->sync.bs.bio_pool, nr_legs);

	return r ?: mempool_resize(&qc->sync.bs.bvec_pool, nr_legs);
}

/*
 * The number of legs changed, the engine stopped and no read in flight:
 * pages kept for the recovery are for the old count, and are allocated
 * again (if that fails, the next action allocates them).
 */
void quorum_sync_legs_changed(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;
	int r = 0;

	mutex_lock(&qs->recover_lock);
	mutex_lock(&qs->piece_lock);
	if (qs->pages && qs->pages_legs != qc->nr_legs) {
		free_pages_of(qc);
		r = alloc_pages_of(qc);
	}
	mutex_unlock(&qs->piece_lock);
	mutex_unlock(&qs->recover_lock);
	if (r)
		DMERR("%s: no memory for the recovery: reads of regions to recover may fail",
		      quorum_dev_name(qc));
}

/* Stop the engine between two pieces, without touching its action. */
bool quorum_sync_pause(struct quorum_c *qc)
{
	bool was = READ_ONCE(qc->sync.paused);

	WRITE_ONCE(qc->sync.paused, true);
	flush_work(&qc->sync.work);
	return was;
}

/* Undo quorum_sync_pause(), given what it returned. */
void quorum_sync_unpause(struct quorum_c *qc, bool was_paused)
{
	struct quorum_sync *qs = &qc->sync;

	WRITE_ONCE(qs->paused, was_paused);
	if (!was_paused && qs->action != QUORUM_SYNC_IDLE)
		queue_work(qs->wq, &qs->work);
}

/* The device is suspended or was never resumed: nothing is running. */
void quorum_sync_exit(struct quorum_c *qc)
{
	struct quorum_sync *qs = &qc->sync;

	if (qs->wq) {
		flush_work(&qs->work);
		destroy_workqueue(qs->wq);
	}
	free_pages_of(qc);
	bioset_exit(&qs->bs);
}
