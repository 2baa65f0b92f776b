// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum: a device-mapper target for N-way redundancy with content
 * voting, after QEMU's quorum block driver (block/quorum.c).
 *
 * Every write goes to all legs and succeeds when at least <threshold>
 * legs succeed; reads are checked across the legs.  This file is the
 * target glue: construction, messages, status, and the dm callbacks.
 * Parsing is in dm-quorum-args.c, vote counting in dm-quorum-vote.c, leg
 * states and the regions legs missed in dm-quorum-state.c (over the map
 * of dm-quorum-dirty.c), the I/O paths in dm-quorum-io.c, the read vote
 * in dm-quorum-read.c, the resync and scrub engine in dm-quorum-sync.c.
 *
 * Table line: <threshold> <#legs> <leg_dev>... [<#opt_args> <opt_arg>...]
 * See Documentation/dm-quorum.rst.
 */
#include <crypto/hash.h>
#include <linux/module.h>

#include "dm-quorum.h"
#include "dm-quorum-intent.h"
#include "dm-quorum-io.h"
#include "dm-quorum-legs.h"
#include "dm-quorum-metadata.h"
#include "dm-quorum-sync.h"

/* ---- leg state and events --------------------------------------------- */

/*
 * dm_table_event() takes a mutex, so the event that tells dmeventd and
 * `dmsetup wait` about a state change is raised from a work item.
 */
static void quorum_event_work(struct work_struct *work)
{
	struct quorum_c *qc = container_of(work, struct quorum_c, event_work);

	if (qc->md)
		queue_work(qc->md_wq, &qc->md_work);
	dm_table_event(qc->ti->table);
}

/* ---- metadata ---------------------------------------------------------- */

static const enum quorum_sb_leg_state md_state[] = {
	[QUORUM_LEG_ALIVE] = QUORUM_SB_IN_SYNC,
	[QUORUM_LEG_DEAD] = QUORUM_SB_FAILED,
	[QUORUM_LEG_SYNCING] = QUORUM_SB_REBUILDING,
};

/* A read-only table reads its metadata and writes nothing, not even a resync. */
static bool quorum_read_only(struct quorum_c *qc)
{
	return !(dm_table_get_mode(qc->ti->table) & QUORUM_MODE_WRITE);
}

/*
 * The legs in @failed could not write @what (metadata), which the legs in
 * @held hold.  They leave service (every region to resync) if @held
 * reaches the threshold; if not, no leg does, as a write without its
 * quorum fails none, and the caller fails what waited for it: false.
 */
bool quorum_md_write_errors(struct quorum_c *qc, unsigned long failed,
			    unsigned long held, const char *what)
{
	unsigned int leg;

	if (!failed)
		return true;
	if (hweight_long(held) < qc->threshold) {
		DMERR_LIMIT("%s: %s on %u legs, fewer than the threshold %u",
			    quorum_dev_name(qc), what,
			    (unsigned int)hweight_long(held), qc->threshold);
		return false;
	}
	for_each_leg(leg, failed) {
		DMERR_LIMIT("%s: leg %u (%s): cannot write its %s",
			    quorum_dev_name(qc), leg, qc->legs[leg].dev->name,
			    what);
		quorum_leg_missed_write(qc, leg, 0, 0);
	}
	return true;
}

/*
 * Commit the legs' states as they are now, under md_sync_lock; first, if
 * @write_maps, the missed maps of the legs it records out.  A leg whose
 * superblock cannot be written goes out of service (and that change is
 * committed in turn, without it).  Process context.
 */
static unsigned long md_sync_locked(struct quorum_c *qc, bool write_maps)
{
	enum quorum_sb_leg_state states[QUORUM_MAX_LEGS];
	enum quorum_leg_state now[QUORUM_MAX_LEGS];
	unsigned long failed = 0, written, out = 0, flags;
	unsigned int leg;
	u32 gen;

	lockdep_assert_held(&qc->md_sync_lock);
	/*
	 * A leg this commit records in sync is no longer vouched for as out
	 * by the last one: from the snapshot on, in one step with it, a
	 * write that misses it again waits.
	 */
	spin_lock_irqsave(&qc->ack_lock, flags);
	gen = quorum_state_snapshot(&qc->state, now);
	for (leg = 0; leg < qc->nr_legs; leg++) {
		states[leg] = md_state[now[leg]];
		if (states[leg] != QUORUM_SB_IN_SYNC)
			__set_bit(leg, &out);
	}
	qc->md_out &= out;
	spin_unlock_irqrestore(&qc->ack_lock, flags);
	/* what the legs it records out missed is on disk before it */
	if (write_maps && out && qc->intent)
		failed = quorum_intent_write_missed(qc->intent);
	failed |= quorum_md_commit(qc->md, states, qc->threshold,
				   quorum_writable_legs(qc) & ~failed,
				   READ_ONCE(qc->md_clean), &written);
	/* held by fewer legs than the threshold: the writes it was for fail */
	if (!quorum_md_write_errors(qc, failed, written, "metadata") ||
	    hweight_long(written) < qc->threshold) {
		quorum_acks_committed(qc, out, false, gen);
		return 0;
	}
	quorum_acks_committed(qc, out, true, gen);
	return failed;
}

/* Commits in the order of their snapshots. */
static unsigned long quorum_md_sync(struct quorum_c *qc)
{
	unsigned long failed;

	if (qc->md_ro)
		return 0;
	mutex_lock(&qc->md_sync_lock);
	failed = md_sync_locked(qc, true);
	mutex_unlock(&qc->md_sync_lock);
	return failed;
}

static void quorum_md_work(struct work_struct *work)
{
	struct quorum_c *qc = container_of(work, struct quorum_c, md_work);

	if (READ_ONCE(qc->md_live))
		quorum_md_sync(qc);
}

/*
 * A change of the leg set (dm-quorum-legs.c), the device quiesced: the
 * intent log stops as at suspend, and commits wait until the change is
 * made, so no metadata I/O runs beside it.  Returns whether the log ran.
 */
bool quorum_md_leg_set_begin(struct quorum_c *qc)
{
	bool was_live = false;

	if (qc->intent)
		was_live = quorum_intent_pause(qc->intent);
	flush_work(&qc->md_work);
	mutex_lock(&qc->md_sync_lock);
	return was_live;
}

/*
 * The new leg set is committed before any I/O reaches it; with the
 * missed maps of the legs out first unless @maps_written (a removal
 * wrote maps that hold under both numberings: exact ones for the new
 * numbering must wait for the commit).
 */
void quorum_md_leg_set_done(struct quorum_c *qc, bool was_live,
			    bool maps_written)
{
	unsigned long failed = md_sync_locked(qc, !maps_written);

	mutex_unlock(&qc->md_sync_lock);
	/* legs that failed the commit: recorded by the next one */
	if (failed)
		quorum_md_sync(qc);
	if (qc->intent)
		quorum_intent_unpause(qc->intent, was_live);
}

/*
 * Slot @leg is to leave the metadata (between _begin and _done): the
 * maps are written for both numberings first.  -EIO if fewer legs than
 * the threshold hold them: nothing changes.
 */
int quorum_md_remove_leg_prepare(struct quorum_c *qc, unsigned int leg)
{
	unsigned long failed;

	if (!qc->intent)
		return 0;
	failed = quorum_intent_remove_leg(qc->intent, leg);
	if (!quorum_md_write_errors(qc, failed,
				    quorum_writable_legs(qc) & ~failed,
				    "missed maps"))
		return -EIO;
	return 0;
}

/* Slot @leg leaves the metadata; the slots after it move down. */
void quorum_md_remove_leg(struct quorum_c *qc, unsigned int leg)
{
	unsigned long flags;

	quorum_md_remove_slot(qc->md, leg);
	spin_lock_irqsave(&qc->ack_lock, flags);
	qc->md_out = quorum_drop_bit(qc->md_out, leg);
	spin_unlock_irqrestore(&qc->ack_lock, flags);
}

/*
 * Read the legs' superblocks and decide how each leg starts; applied at
 * the first resume (quorum_md_start()).
 */
static int quorum_md_load(struct quorum_c *qc, bool degraded)
{
	struct block_device *bdevs[QUORUM_MAX_LEGS];
	struct quorum_assembly as;
	unsigned int i;

	for (i = 0; i < qc->nr_legs; i++)
		bdevs[i] = qc->legs[i].dev->bdev;
	qc->md = quorum_md_open(quorum_dev_name(qc), bdevs, qc->nr_legs,
				qc->threshold, qc->ti->len,
				1U << quorum_state_region_shift(&qc->state),
				degraded, &as, &qc->ti->error);
	if (IS_ERR(qc->md)) {
		int r = PTR_ERR(qc->md);

		qc->md = NULL;
		return r;
	}
	for (i = 0; i < qc->nr_legs; i++) {
		if (as.start[i] == QUORUM_START_FAILED)
			__set_bit(i, &qc->md_failed);
		else if (as.start[i] != QUORUM_START_IN_SYNC)
			__set_bit(i, &qc->md_resync);
	}
	qc->md_ro = quorum_read_only(qc);
	qc->md_unclean = as.unclean && !as.new_array;
	qc->md_events = as.events;
	/* no intent log: it would write; no recovery: it would too */
	if (qc->md_ro)
		return 0;
	qc->intent = quorum_intent_create(qc, &as);
	if (IS_ERR(qc->intent)) {
		int r = PTR_ERR(qc->intent);

		qc->intent = NULL;
		qc->ti->error = r == -ENOMEM ? "Cannot allocate the intent log" :
			"No leg's intent bitmap can be read";
		return r;
	}
	/* a failed or rebuilding leg copies what it missed, not the rest */
	for (i = 0; i < qc->nr_legs; i++)
		if (as.start[i] == QUORUM_START_FAILED ||
		    as.start[i] == QUORUM_START_REBUILD)
			qc->md_missed[i] = quorum_intent_load_missed(qc->intent,
								     i, &as);
	if (as.new_array)
		DMINFO("%s: new metadata on %u legs", quorum_dev_name(qc),
		       qc->nr_legs);
	return 0;
}

/* Said at the first resume: a reload's metadata is the live table's. */
static void quorum_md_report_unclean(struct quorum_c *qc)
{
	if (!qc->md_unclean)
		return;
	if (!qc->intent)
		DMWARN("%s: not shut down cleanly (events %llu), read-only: nothing is recovered",
		       quorum_dev_name(qc), (unsigned long long)qc->md_events);
	else
		DMWARN("%s: not shut down cleanly (events %llu): %llu regions to recover",
		       quorum_dev_name(qc), (unsigned long long)qc->md_events,
		       quorum_intent_nr_recovering(qc->intent));
}

static void quorum_md_missed_free(struct quorum_c *qc)
{
	unsigned int i;

	for (i = 0; i < QUORUM_MAX_LEGS; i++) {
		kvfree(qc->md_missed[i]);
		qc->md_missed[i] = NULL;
	}
}

/*
 * A table that replaces none starts its legs as the metadata says: a
 * failed leg dead with the regions its map on disk says it missed, a
 * rebuilding one the same and resynced, a new or stale one dead with
 * every region to copy and resynced; returns those to resync.  A table
 * that replaces a live one goes on from that table's states instead,
 * newer than any on disk.
 */
static unsigned long quorum_md_start(struct quorum_c *qc)
{
	unsigned long out = qc->md_failed | qc->md_resync;
	unsigned int leg;

	for_each_leg(leg, out)
		quorum_state_start_dead(&qc->state, leg, qc->md_missed[leg]);
	quorum_md_missed_free(qc);
	return quorum_read_only(qc) ? 0 : qc->md_resync;
}

/*
 * @leg missed a write (or a flush, @len 0: every region) that succeeded:
 * out of service with the range to resync, a LEG_FAILED uevent.  Any
 * context.
 */
void quorum_leg_missed_write(struct quorum_c *qc, unsigned int leg,
			     sector_t sector, sector_t len)
{
	if (!quorum_state_missed_write(&qc->state, leg, sector, len))
		return;
	quorum_report_leg(qc, QUORUM_EV_LEG_FAILED, leg);
	DMERR_LIMIT("%s: leg %u (%s) missed a write and is now out of service",
		    quorum_dev_name(qc), leg, qc->legs[leg].dev->name);
}

const char *quorum_dev_name(struct quorum_c *qc)
{
	return dm_device_name(dm_table_get_md(qc->ti->table));
}

/* ---- a reload takes over from the table it replaces ------------------- */

/*
 * Every instance, so that a table loaded over a live one can take over
 * its state when it is resumed: which legs are out of service and the
 * regions they missed, the counters, a scrub under way.  Without this a
 * reload would bring a stale leg back to vote.  (Until the metadata
 * device, a crash or a new activation still forgets it all.)
 */
static LIST_HEAD(quorum_instances);
static DEFINE_MUTEX(quorum_instances_lock);

/* The live instance @qc replaces: same device and range, suspended. */
static struct quorum_c *predecessor(struct quorum_c *qc)
{
	struct mapped_device *md = dm_table_get_md(qc->ti->table);
	struct quorum_c *old;

	list_for_each_entry(old, &quorum_instances, instance)
		if (old != qc && old->resumed && READ_ONCE(old->suspended) &&
		    dm_table_get_md(old->ti->table) == md &&
		    old->ti->begin == qc->ti->begin)
			return old;
	return NULL;
}

/* The leg of @qc on @dev, other than leg @skip; -1 if there is none. */
int quorum_leg_index(struct quorum_c *qc, dev_t dev, unsigned int skip)
{
	unsigned int j;

	for (j = 0; j < qc->nr_legs; j++)
		if (j != skip && qc->legs[j].dev &&
		    qc->legs[j].dev->bdev->bd_dev == dev)
			return j;
	return -1;
}

/*
 * Whether @dev is a leg of another quorum table: of another device, or
 * of another segment of this one.  Two tables writing one leg would
 * overwrite each other's data.  The table @qc replaces (same device and
 * range) does not count.  A guard against mistakes, not a lock: two
 * messages taking the same new leg at the same instant both succeed.
 */
bool quorum_leg_taken(struct quorum_c *qc, dev_t dev)
{
	struct mapped_device *md = dm_table_get_md(qc->ti->table);
	struct quorum_c *other;
	bool taken = false;

	mutex_lock(&quorum_instances_lock);
	list_for_each_entry(other, &quorum_instances, instance) {
		if (other == qc || (dm_table_get_md(other->ti->table) == md &&
				    other->ti->begin == qc->ti->begin))
			continue;
		if (quorum_leg_index(other, dev, QUORUM_NO_LEG) >= 0) {
			taken = true;
			break;
		}
	}
	mutex_unlock(&quorum_instances_lock);
	return taken;
}

/* Changes of a live table's leg array, against quorum_leg_taken(). */
void quorum_legs_lock(void)
{
	mutex_lock(&quorum_instances_lock);
}

void quorum_legs_unlock(void)
{
	mutex_unlock(&quorum_instances_lock);
}

/*
 * New leg @i was old leg @j: its counters, state and missed regions.
 * Returns true if it was being resynced, to go on with on resume.
 */
static bool take_over_leg(struct quorum_c *qc, unsigned int i,
			  struct quorum_c *old, unsigned int j)
{
	atomic_set(&qc->legs[i].io_errors, atomic_read(&old->legs[j].io_errors));
	atomic_set(&qc->legs[i].mismatches, atomic_read(&old->legs[j].mismatches));
	atomic_set(&qc->legs[i].rewrites, atomic_read(&old->legs[j].rewrites));
	return quorum_state_take_over(&qc->state, i, &old->state, j);
}

/*
 * Take over from @old.  A leg new to the table holds unknown data: it is
 * treated as having missed everything.  Returns the legs to resync: the
 * new ones and those @old was resyncing (dead ones stay dead until
 * reinstated).
 */
static unsigned long take_over(struct quorum_c *qc, struct quorum_c *old)
{
	bool same_map = old->ti->len == qc->ti->len &&
			quorum_state_region_shift(&old->state) ==
			quorum_state_region_shift(&qc->state);
	int old_leg[QUORUM_MAX_LEGS];
	unsigned long resync = 0;
	unsigned int i;
	int j;

	for (i = 0; i < qc->nr_legs; i++) {
		j = quorum_leg_index(old, qc->legs[i].dev->bdev->bd_dev,
				     QUORUM_NO_LEG);
		old_leg[i] = j;
		if (j < 0) {
			quorum_state_new_device(&qc->state, i);
			__set_bit(i, &resync);
		} else if (take_over_leg(qc, i, old, j)) {
			__set_bit(i, &resync);
		}
	}
	atomic_set(&qc->quorum_failures, atomic_read(&old->quorum_failures));
	atomic_set(&qc->events_merged, atomic_read(&old->events_merged));
	if (same_map)
		quorum_sync_take_over(qc, old);
	quorum_events_take_over(qc, old, old_leg);
	return resync;
}

/*
 * Before the first resume of a table that replaces a live one, take over
 * its state; then resync what needs it (unless a scrub was taken over:
 * the legs then wait, dead, for a reinstate); or, replacing none, start
 * the legs as the metadata says.
 */
static void quorum_first_resume(struct quorum_c *qc)
{
	unsigned long resync = 0;
	struct quorum_c *old;

	mutex_lock(&quorum_instances_lock);
	old = predecessor(qc);
	if (old)
		resync = take_over(qc, old);
	else if (qc->md)
		resync = quorum_md_start(qc);
	if (!old && qc->md)
		quorum_md_report_unclean(qc);
	if (old && old->md && qc->md)
		quorum_md_take_over(qc->md, old->md);
	/*
	 * The table it replaces was suspended: the legs are consistent but
	 * where it had regions left to recover.
	 */
	if (old && qc->intent)
		quorum_intent_take_over(qc->intent, old->intent);
	quorum_md_missed_free(qc);
	mutex_unlock(&quorum_instances_lock);

	mutex_lock(&qc->msg_lock);
	if (qc->intent && quorum_intent_nr_recovering(qc->intent) &&
	    quorum_sync_prepare_recovery(qc))
		DMERR("%s: no memory for the recovery: reads of regions to recover may fail",
		      quorum_dev_name(qc));
	if ((resync || (qc->intent && quorum_intent_nr_recovering(qc->intent))) &&
	    qc->sync.action == QUORUM_SYNC_IDLE &&
	    hweight_long(quorum_readable_legs(qc)) >= qc->threshold &&
	    quorum_sync_start(qc, QUORUM_SYNC_RESYNC, resync))
		DMERR("%s: cannot start the resync of the new legs: no memory",
		      quorum_dev_name(qc));
	mutex_unlock(&qc->msg_lock);
}

static int quorum_preresume(struct dm_target *ti)
{
	struct quorum_c *qc = ti->private;

	if (!qc->resumed)
		quorum_first_resume(qc);
	/* before any write: the legs are in use, not clean */
	if (qc->md) {
		WRITE_ONCE(qc->md_clean, false);
		WRITE_ONCE(qc->md_live, true);
		quorum_md_sync(qc);
	}
	return 0;
}

/* The legs are quiet: commit their states as clean. */
static void quorum_postsuspend(struct dm_target *ti)
{
	struct quorum_c *qc = ti->private;

	if (!qc->md)
		return;
	if (qc->intent)
		quorum_intent_suspend(qc->intent);
	flush_work(&qc->md_work);
	/* regions left to recover keep the next load recovering them */
	WRITE_ONCE(qc->md_clean, !qc->intent ||
		   !quorum_intent_nr_recovering(qc->intent));
	/*
	 * A leg that fails this commit is recorded by the next one, made
	 * here: a removal may cancel the work that would do it.  Each round
	 * writes to fewer legs, so this ends.
	 */
	while (quorum_md_sync(qc))
		;
}

/* ---- construction ----------------------------------------------------- */

/* Undo quorum_ctr() whatever point it reached. */
static void quorum_free(struct quorum_c *qc)
{
	unsigned int i;

	quorum_events_suspend(qc);
	quorum_sync_exit(qc);
	/*
	 * A commit that fails a leg queues event_work, which queues md_work:
	 * stop the commits first, then cancel both (md_work again, after the
	 * event_work that may have queued it).
	 */
	WRITE_ONCE(qc->md_live, false);
	cancel_work_sync(&qc->md_work);
	cancel_work_sync(&qc->event_work);
	cancel_work_sync(&qc->md_work);
	quorum_md_missed_free(qc);
	quorum_intent_destroy(qc->intent);
	if (qc->md)
		quorum_md_close(qc->md);
	if (qc->md_wq)
		destroy_workqueue(qc->md_wq);
	if (qc->recover_wq)
		destroy_workqueue(qc->recover_wq);
	if (qc->hop_wq)
		destroy_workqueue(qc->hop_wq);
	if (qc->alloc_wq)
		destroy_workqueue(qc->alloc_wq);
	if (qc->wq)
		destroy_workqueue(qc->wq);
	quorum_io_exit(qc);
	quorum_state_exit(&qc->state);
	if (!IS_ERR_OR_NULL(qc->hash))
		crypto_free_shash(qc->hash);
	for (i = 0; i < qc->nr_legs; i++)
		if (qc->legs[i].dev)
			dm_put_device(qc->ti, qc->legs[i].dev);
	kfree(qc);
}

static int quorum_get_leg(struct quorum_c *qc, unsigned int i,
			  const char *path)
{
	struct dm_target *ti = qc->ti;
	struct dm_dev *dev;
	int r;

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &dev);
	if (r) {
		ti->error = "Leg device lookup failed";
		return r;
	}
	qc->legs[i].dev = dev;
	return quorum_check_new_leg(qc, dev, i, &ti->error);
}

static int quorum_alloc_hash(struct quorum_c *qc, const char *name)
{
	qc->hash = crypto_alloc_shash(name, 0, 0);
	if (IS_ERR(qc->hash)) {
		qc->ti->error = "Unknown hash algorithm";
		return PTR_ERR(qc->hash);
	}
	/* an hmac would need a key the table cannot give: refuse it */
	if (crypto_shash_get_flags(qc->hash) & CRYPTO_TFM_NEED_KEY) {
		qc->ti->error = "Keyed hash algorithms cannot be used";
		return -EINVAL;
	}
	qc->digest_size = crypto_shash_digestsize(qc->hash);
	return 0;
}

static int quorum_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	unsigned int i, region_sectors;
	struct quorum_args qa;
	struct quorum_c *qc;
	int r;

	r = quorum_parse_args(argc, argv, &qa, &ti->error);
	if (r)
		return r;

	/* room for add_leg */
	qc = kzalloc(struct_size(qc, legs, QUORUM_MAX_LEGS), GFP_KERNEL);
	if (!qc) {
		ti->error = "Cannot allocate quorum context";
		return -ENOMEM;
	}
	qc->ti = ti;
	qc->threshold = qa.threshold;
	qc->read_pattern = qa.read_pattern;
	qc->blkverify = qa.blkverify;
	qc->rewrite_corrupted = qa.rewrite_corrupted;
	INIT_WORK(&qc->event_work, quorum_event_work);
	INIT_WORK(&qc->md_work, quorum_md_work);
	mutex_init(&qc->md_sync_lock);
	qc->degraded = qa.degraded;
	quorum_events_init(qc);
	mutex_init(&qc->msg_lock);
	ratelimit_state_init(&qc->msg_ratelimit, DEFAULT_RATELIMIT_INTERVAL,
			     DEFAULT_RATELIMIT_BURST);

	for (i = 0; i < qa.nr_legs; i++) {
		qc->nr_legs = i + 1;
		r = quorum_get_leg(qc, i, qa.legs[i]);
		if (r)
			goto bad;
	}

	r = quorum_alloc_hash(qc, qa.hash);
	if (r)
		goto bad;

	r = quorum_io_init(qc);
	if (r) {
		ti->error = "Cannot allocate I/O reserves";
		goto bad;
	}

	r = quorum_regions(ti->len, qa.region_sectors, qa.region_given,
			   &region_sectors, &ti->error);
	if (r) {
		DMERR("%llu sectors: region_size %u gives over %u regions; least: %u",
		      (unsigned long long)ti->len, qa.region_sectors,
		      QUORUM_MAX_REGIONS, region_sectors);
		goto bad;
	}
	r = quorum_state_init(&qc->state, qc->nr_legs, ti->len,
			      region_sectors, &qc->event_work) ?:
	    quorum_sync_init(qc);
	if (r) {
		ti->error = "Cannot allocate the region map and resync engine";
		goto bad;
	}

	qc->wq = alloc_workqueue("kquorumd", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	qc->alloc_wq = alloc_workqueue("kquorumd_alloc", WQ_MEM_RECLAIM, 0);
	qc->hop_wq = alloc_workqueue("kquorumd_hop",
				     WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	qc->md_wq = alloc_ordered_workqueue("kquorumd_md", WQ_MEM_RECLAIM);
	if (qa.metadata)
		qc->recover_wq = alloc_workqueue("kquorumd_recover",
						 WQ_MEM_RECLAIM, 0);
	if (!qc->wq || !qc->alloc_wq || !qc->hop_wq || !qc->md_wq ||
	    (qa.metadata && !qc->recover_wq)) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
		goto bad;
	}
	if (qa.metadata) {
		r = quorum_md_load(qc, qa.degraded);
		if (r)
			goto bad;
	}

	ti->num_flush_bios = 1;
	ti->num_write_zeroes_bios = 1;
	/*
	 * No discards: a leg may read back a discarded range as anything,
	 * and legs that read back differently would fail every later read.
	 */
	ti->num_discard_bios = 0;
	ti->per_io_data_size = sizeof(struct quorum_io);
	ti->private = qc;
	mutex_lock(&quorum_instances_lock);
	list_add(&qc->instance, &quorum_instances);
	mutex_unlock(&quorum_instances_lock);
	return 0;

bad:
	quorum_free(qc);
	return r;
}

static void quorum_dtr(struct dm_target *ti)
{
	struct quorum_c *qc = ti->private;

	mutex_lock(&quorum_instances_lock);
	list_del(&qc->instance);
	mutex_unlock(&quorum_instances_lock);
	quorum_free(qc);
}

static int quorum_map(struct dm_target *ti, struct bio *bio)
{
	return quorum_map_io(ti->private, bio);
}

static int quorum_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	return quorum_end_io_fifo(ti->private, bio, error);
}

/*
 * No uevent goes out while the device is suspended: hold them.  The
 * engine's I/O stops here too, since dm core waits only for user bios.
 */
static void quorum_presuspend(struct dm_target *ti)
{
	quorum_sync_suspend(ti->private);
	quorum_events_suspend(ti->private);
}

static void quorum_resume(struct dm_target *ti)
{
	struct quorum_c *qc = ti->private;

	WRITE_ONCE(qc->resumed, true);
	if (qc->intent)
		quorum_intent_resume(qc->intent);
	quorum_events_resume(qc);
	quorum_sync_resume(qc);
}

/* ---- messages --------------------------------------------------------- */

/*
 * A dm message cannot return text: say why in the kernel log, limited
 * per device (10 lines in 5 s) so a script looping on a bad message
 * cannot flood it.
 */
__printf(2, 3) int quorum_refuse(struct quorum_c *qc, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (!__ratelimit(&qc->msg_ratelimit))
		return -EINVAL;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	DMERR("%s: message refused: %pV", quorum_dev_name(qc), &vaf);
	va_end(args);
	return -EINVAL;
}

/* No check or repair running?  A scrub reads every leg. */
int quorum_no_scrub(struct quorum_c *qc)
{
	enum quorum_sync_action a = qc->sync.action;

	if (a != QUORUM_SYNC_CHECK && a != QUORUM_SYNC_REPAIR)
		return 0;
	quorum_refuse(qc, "%s is running (send idle first)",
		      quorum_sync_action_name(a));
	return -EBUSY;
}

/*
 * Would the readable legs other than @leg still reach the threshold?
 * Needed to resync @leg, or to take it out.  @what names the refusal.
 */
int quorum_voters_left(struct quorum_c *qc, unsigned int leg,
		       const char *what)
{
	unsigned long voters = quorum_readable_legs(qc) & ~BIT(leg);

	if (hweight_long(voters) >= qc->threshold)
		return 0;
	quorum_refuse(qc, "%s leg %u: fewer than %u other legs in service",
		      what, leg, qc->threshold);
	return -EBUSY;
}

/*
 * Resync the dead legs in @legs, with those being resynced already: the
 * running resync stops (its legs keep the regions they still miss) and
 * one starts for them all.
 */
int quorum_resync_legs(struct quorum_c *qc, unsigned long legs)
{
	if (qc->sync.action == QUORUM_SYNC_RESYNC) {
		legs |= qc->sync.targets;
		quorum_sync_stop(qc);
	}
	legs &= quorum_state_dead(&qc->state);
	return legs ? quorum_sync_start(qc, QUORUM_SYNC_RESYNC, legs) : 0;
}

static int msg_fail(struct quorum_c *qc, unsigned int leg)
{
	int r = quorum_state_fail_voting(&qc->state, leg, qc->threshold);

	if (r == -EALREADY)
		return quorum_refuse(qc, "leg %u is already out of service", leg);
	if (r)
		return quorum_refuse(qc, "cannot fail leg %u: fewer than %u other legs in service",
				     leg, qc->threshold);
	quorum_report_leg(qc, QUORUM_EV_LEG_FAILED, leg);
	/* a resync of it stops; the others it was resyncing go on */
	if (qc->sync.action == QUORUM_SYNC_RESYNC &&
	    test_bit(leg, &qc->sync.targets)) {
		unsigned long others = qc->sync.targets & ~BIT(leg);

		quorum_sync_stop(qc);	/* its legs go back to 'D' */
		return quorum_resync_legs(qc, others);
	}
	return 0;
}

/* Resync @leg, which must be dead, from the others' vote. */
static int reinstate(struct quorum_c *qc, unsigned int leg)
{
	int r = quorum_no_scrub(qc) ?: quorum_voters_left(qc, leg, "cannot resync");

	return r ?: quorum_resync_legs(qc, BIT(leg));
}

static int msg_reinstate(struct quorum_c *qc, unsigned int leg)
{
	if (quorum_state_of(&qc->state, leg) != QUORUM_LEG_DEAD)
		return quorum_refuse(qc, "leg %u is not out of service", leg);
	return reinstate(qc, leg);
}

static int msg_rewrite(struct quorum_c *qc, unsigned int leg)
{
	int r;

	r = quorum_no_scrub(qc) ?: quorum_voters_left(qc, leg, "cannot rewrite");
	if (r)
		return r;
	if (quorum_state_rewrite(&qc->state, leg)) {
		quorum_refuse(qc, "leg %u is being resynced already", leg);
		return -EBUSY;
	}
	return reinstate(qc, leg);
}

static int msg_scrub(struct quorum_c *qc, enum quorum_sync_action action)
{
	if (qc->sync.action != QUORUM_SYNC_IDLE) {
		quorum_refuse(qc, "%s is running (send idle first)",
			      quorum_sync_action_name(qc->sync.action));
		return -EBUSY;
	}
	if (hweight_long(quorum_readable_legs(qc)) < qc->threshold) {
		quorum_refuse(qc, "fewer legs in service than the threshold %u",
			      qc->threshold);
		return -EBUSY;
	}
	return quorum_sync_start(qc, action, 0);
}

/*
 * Messages that change the leg set.  With metadata the new set is
 * committed: a read-only table cannot.
 */
static int msg_leg_set(struct quorum_c *qc, const struct quorum_msg *m)
{
	if (qc->md && qc->md_ro)
		return quorum_refuse(qc, "%s: the table is read-only",
				     quorum_msg_name(m->op));
	if (m->op == QUORUM_MSG_REPLACE)
		return quorum_replace_leg(qc, m->leg, m->dev);
	if (m->op == QUORUM_MSG_ADD_LEG)
		return quorum_add_leg(qc, m->dev);
	return quorum_remove_leg(qc, m->leg);
}

static int quorum_do_message(struct quorum_c *qc, const struct quorum_msg *m)
{
	switch (m->op) {
	case QUORUM_MSG_FAIL:
		return msg_fail(qc, m->leg);
	case QUORUM_MSG_REINSTATE:
		return msg_reinstate(qc, m->leg);
	case QUORUM_MSG_REWRITE:
		return msg_rewrite(qc, m->leg);
	case QUORUM_MSG_CHECK:
		return msg_scrub(qc, QUORUM_SYNC_CHECK);
	case QUORUM_MSG_REPAIR:
		return msg_scrub(qc, QUORUM_SYNC_REPAIR);
	case QUORUM_MSG_IDLE:
		quorum_sync_stop(qc);
		return 0;
	case QUORUM_MSG_REPLACE:
	case QUORUM_MSG_ADD_LEG:
	case QUORUM_MSG_REMOVE_LEG:
		return msg_leg_set(qc, m);
	}
	return -EINVAL;
}

static int quorum_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct quorum_c *qc = ti->private;
	struct quorum_msg msg;
	char *error;
	int r;

	/*
	 * Messages are serialised, and with them the engine's start and
	 * stop; the leg index is checked under the lock, against the leg
	 * count the message will act on.
	 */
	mutex_lock(&qc->msg_lock);
	r = quorum_parse_message(argc, argv, qc->nr_legs, &msg, &error);
	if (r)
		r = quorum_refuse(qc, "%s", error);
	else
		r = quorum_do_message(qc, &msg);
	mutex_unlock(&qc->msg_lock);
	return r;
}

/* ---- status ----------------------------------------------------------- */

static char quorum_health_char(struct quorum_c *qc, unsigned int leg)
{
	return quorum_state_char(&qc->state, leg);
}

static void quorum_sync_status(struct quorum_c *qc, char *result,
			       unsigned int maxlen, unsigned int *szp)
{
	struct quorum_sync *qs = &qc->sync;
	unsigned int sz = *szp;

	DMEMIT(" %s %llu/%llu %llu", quorum_sync_status_name(qc),
	       (unsigned long long)READ_ONCE(qs->done),
	       (unsigned long long)READ_ONCE(qs->total),
	       (unsigned long long)READ_ONCE(qs->mismatches));
	*szp = sz;
}

static void quorum_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct quorum_c *qc = ti->private;
	const char *hash = crypto_shash_alg_name(qc->hash);
	bool fifo = qc->read_pattern == QUORUM_READ_FIFO;
	bool default_hash = !strcmp(hash, QUORUM_DEFAULT_HASH);
	unsigned int region = 1U << quorum_state_region_shift(&qc->state);
	bool default_region = region == QUORUM_DEFAULT_REGION_SECTORS;
	unsigned int sz = 0, i;

	/*
	 * The leg set may change under a message: hold it still, but never
	 * wait for a message, nor for I/O (the lock is held only while a
	 * change is made, never while one waits).
	 */
	quorum_legs_lock();
	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u %u ", qc->threshold, qc->nr_legs);
		for (i = 0; i < qc->nr_legs; i++)
			DMEMIT("%c", quorum_health_char(qc, i));
		for (i = 0; i < qc->nr_legs; i++)
			DMEMIT(" %u %u %u",
			       atomic_read(&qc->legs[i].io_errors),
			       atomic_read(&qc->legs[i].mismatches),
			       atomic_read(&qc->legs[i].rewrites));
		DMEMIT(" %u %u", atomic_read(&qc->quorum_failures),
		       atomic_read(&qc->events_merged));
		if (qc->md)
			DMEMIT(" %llu %llu %llu", quorum_md_events(qc->md),
			       qc->intent ?
			       quorum_intent_nr_recovering(qc->intent) : 0,
			       quorum_md_writes(qc->md));
		quorum_sync_status(qc, result, maxlen, &sz);
		DMEMIT(" %u", quorum_pages_owned(&qc->read_pages) <<
		       (PAGE_SHIFT - 10));
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%u %u", qc->threshold, qc->nr_legs);
		for (i = 0; i < qc->nr_legs; i++)
			DMEMIT(" %s", qc->legs[i].dev->name);
		if (fifo || qc->blkverify || qc->rewrite_corrupted ||
		    !default_hash || !default_region || qc->md)
			DMEMIT(" %u", 2 * fifo + qc->blkverify +
			       qc->rewrite_corrupted + 2 * !default_hash +
			       2 * !default_region + 2 * !!qc->md +
			       qc->degraded);
		if (fifo)
			DMEMIT(" read_pattern fifo");
		if (qc->rewrite_corrupted)
			DMEMIT(" rewrite_corrupted");
		if (qc->blkverify)
			DMEMIT(" blkverify");
		if (!default_hash)
			DMEMIT(" hash %s", hash);
		if (!default_region)
			DMEMIT(" region_size %u", region);
		if (qc->md)
			DMEMIT(" metadata internal");
		if (qc->degraded)
			DMEMIT(" degraded");
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",threshold=%u,legs=%u,read_pattern=%s", qc->threshold,
		       qc->nr_legs, quorum_read_pattern_name(qc->read_pattern));
		DMEMIT(",rewrite_corrupted=%c,blkverify=%c,hash=%s",
		       qc->rewrite_corrupted ? 'y' : 'n',
		       qc->blkverify ? 'y' : 'n', hash);
		for (i = 0; i < qc->nr_legs; i++)
			DMEMIT(",leg_%u_name=%s,leg_%u_health=%c", i,
			       qc->legs[i].dev->name, i,
			       quorum_health_char(qc, i));
		DMEMIT(";");
		break;
	}
	quorum_legs_unlock();
}

static int quorum_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct quorum_c *qc = ti->private;
	unsigned int i;
	int r = 0;

	for (i = 0; !r && i < qc->nr_legs; i++)
		r = fn(ti, qc->legs[i].dev, 0, ti->len, data);
	return r;
}

static struct target_type quorum_target = {
	.name = "quorum",
	.version = {1, 8, 0},
	.module = THIS_MODULE,
	.ctr = quorum_ctr,
	.dtr = quorum_dtr,
	.map = quorum_map,
	.end_io = quorum_end_io,
	.presuspend = quorum_presuspend,
	.presuspend_undo = quorum_resume,
	.postsuspend = quorum_postsuspend,
	.preresume = quorum_preresume,
	.resume = quorum_resume,
	.status = quorum_status,
	.message = quorum_message,
	.iterate_devices = quorum_iterate_devices,
};

static int __init dm_quorum_init(void)
{
	int r = dm_register_target(&quorum_target);

	if (r)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_quorum_exit(void)
{
	dm_unregister_target(&quorum_target);
}

module_init(dm_quorum_init);
module_exit(dm_quorum_exit);

MODULE_DESCRIPTION(DM_NAME " quorum target: N-way redundancy with content voting");
MODULE_AUTHOR("dm-quorum developers");
MODULE_LICENSE("GPL");
