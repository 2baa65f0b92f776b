// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum leg set changes while the device runs: replace, add_leg and
 * remove_leg (QEMU's quorum_add_child and quorum_del_child).
 *
 * The I/O paths read a leg's device and the per-leg state without locks,
 * so a change of the set quiesces the device first: new bios wait in map,
 * the bios in flight (with the rewrites and held writes they own) and the
 * engine's piece drain, uevents are held; the change is made; then all
 * goes on.  A new leg holds unknown data: it starts with every region to
 * copy and votes only once resynced.  Called under msg_lock.
 *
 * With metadata, the intent log and the commits stop too while the set
 * changes, and the new set (a new device's uuid, the slots moved down by
 * a removal) is committed before I/O goes on: a load after a crash finds
 * either the old set or the new one, and a new device copies every region
 * but those its missed map on disk says are done.
 */
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/sched/mm.h>

#include "dm-quorum.h"
#include "dm-quorum-io.h"
#include "dm-quorum-intent.h"
#include "dm-quorum-legs.h"
#include "dm-quorum-metadata.h"
#include "dm-quorum-sync.h"

/*
 * How long a change of the leg set waits for the I/O in flight to drain
 * while new I/O waits.  Healthy legs answer in far less; a leg that does
 * not answer cannot be waited for (see leg_answered()).
 */
#define QUORUM_QUIESCE_TIMEOUT	(10 * HZ)

struct quiesced {
	bool engine_was_paused;
	bool events_were_held;
	bool intent_was_live;
	bool maps_written;	/* by a removal, for both numberings */
	unsigned int noio;	/* memalloc_noio_save() */
};

static void let_io_in(struct quorum_c *qc, const struct quiesced *q)
{
	WRITE_ONCE(qc->quiescing, false);
	wake_up_all(&qc->quiesce_wq);
	quorum_sync_unpause(qc, q->engine_was_paused);
}

/*
 * Hold new I/O and wait for the I/O in flight; if it has not drained
 * within QUORUM_QUIESCE_TIMEOUT, let I/O go on and refuse (-EBUSY): the
 * device never stops for longer than that for a change of its legs.
 */
static int quorum_quiesce(struct quorum_c *qc, struct quiesced *q)
{
	q->engine_was_paused = quorum_sync_pause(qc);
	WRITE_ONCE(qc->quiescing, true);
	smp_mb();	/* pairs with enter_io() */
	if (!wait_event_timeout(qc->quiesce_wq, !atomic_read(&qc->inflight),
				QUORUM_QUIESCE_TIMEOUT)) {
		unsigned long slow = 0;
		unsigned int leg;

		for (leg = 0; leg < qc->nr_legs; leg++)
			if (atomic_read(&qc->legs[leg].inflight))
				__set_bit(leg, &slow);
		let_io_in(qc, q);
		quorum_refuse(qc, "%d I/Os still in flight after %u s (on legs %*pbl): retry",
			      atomic_read(&qc->inflight),
			      QUORUM_QUIESCE_TIMEOUT / HZ, QUORUM_MAX_LEGS,
			      &slow);
		return -EBUSY;
	}
	/* I/O to the device waits: reclaim must not issue any from here */
	q->noio = memalloc_noio_save();
	q->events_were_held = READ_ONCE(qc->suspended);
	quorum_events_suspend(qc);
	q->maps_written = false;
	if (qc->md)
		q->intent_was_live = quorum_md_leg_set_begin(qc);
	return 0;
}

static void quorum_unquiesce(struct quorum_c *qc, const struct quiesced *q)
{
	if (qc->md)
		quorum_md_leg_set_done(qc, q->intent_was_live, q->maps_written);
	if (!q->events_were_held)
		quorum_events_resume(qc);
	memalloc_noio_restore(q->noio);
	let_io_in(qc, q);
}

/*
 * A dead leg gets no new I/O, but may still hold bios sent to it before
 * it died.  A bio given to a leg that stopped answering cannot be taken
 * back: its pages are the leg's until it completes.  Quiescing the device
 * for such a leg would stop it for as long, so wait (I/O going on) at
 * most QUORUM_QUIESCE_TIMEOUT for the dead leg to answer them, and refuse
 * (-EBUSY) if it does not.  Legs in service are waited for by the quiesce.
 */
static int dead_leg_answered(struct quorum_c *qc, unsigned int leg,
			     const char *what)
{
	unsigned long end = jiffies + QUORUM_QUIESCE_TIMEOUT;
	int n;

	if (quorum_state_of(&qc->state, leg) != QUORUM_LEG_DEAD)
		return 0;
	while ((n = atomic_read(&qc->legs[leg].inflight)) &&
	       time_before(jiffies, end))
		msleep(20);
	if (!n)
		return 0;
	quorum_refuse(qc, "%s leg %u (%s): %d I/Os still in flight on it; retry once it answers",
		      what, leg, qc->legs[leg].dev->name, n);
	return -EBUSY;
}

/*
 * What a live device advertises cannot change outside a table load (dm
 * core has no restack of its limits), so a new leg must not need more
 * than it: a volatile write cache where the device has none would never
 * be flushed (dm core drops flushes and FUA before map), a leg without
 * write-zeroes would fail every write-zeroes.  Refused: reload the table
 * with the new leg instead.  (The target never passes integrity metadata,
 * so the device advertises no integrity profile and a leg's own is
 * generated and checked by the block layer below it.)
 */
static int check_live_limits(struct gendisk *disk, struct block_device *bdev,
			     char **why)
{
	if (bdev_write_cache(bdev) && !bdev_write_cache(disk->part0)) {
		*why = "It has a volatile write cache, the quorum device none: reload the table";
		return -EINVAL;
	}
	if (bdev_write_zeroes_sectors(disk->part0) &&
	    !bdev_write_zeroes_sectors(bdev)) {
		*why = "It lacks the quorum device's write-zeroes: reload the table";
		return -EINVAL;
	}
	return 0;
}

/*
 * Can @dev be a leg (in place of leg @skip, or a new one if @skip is
 * past the last)?  *@why says why not.
 */
int quorum_check_new_leg(struct quorum_c *qc, struct dm_dev *dev,
			 unsigned int skip, char **why)
{
	struct mapped_device *md = dm_table_get_md(qc->ti->table);

	if (bdev_nr_sectors(dev->bdev) < qc->ti->len) {
		*why = "Leg device is smaller than the target";
		return -EINVAL;
	}
	/* its own I/O would come back to it, forever */
	if (dev->bdev->bd_dev == disk_devt(dm_disk(md))) {
		*why = "A leg cannot be the quorum device itself";
		return -EINVAL;
	}
	if (quorum_leg_taken(qc, dev->bdev->bd_dev)) {
		*why = "The device is a leg of another quorum table";
		return -EINVAL;
	}
	if (quorum_leg_index(qc, dev->bdev->bd_dev, skip) >= 0) {
		*why = qc->resumed ? "The device is a leg already" :
				     "The same device is given as two legs";
		return -EINVAL;
	}
	/* a live device cannot take larger blocks than it advertises */
	if (qc->resumed && bdev_logical_block_size(dev->bdev) >
	    queue_logical_block_size(dm_disk(md)->queue)) {
		*why = "The device's logical block size is larger than the quorum device's";
		return -EINVAL;
	}
	return qc->resumed ? check_live_limits(dm_disk(md), dev->bdev, why) : 0;
}

/*
 * A would-be leg: its device and, with metadata, its metadata client
 * (the device prepared, see quorum_md_prepare_leg()).
 */
struct new_leg {
	struct dm_dev *dev;
	struct dm_bufio_client *md;
};

static void put_new_leg(struct quorum_c *qc, struct new_leg *nl)
{
	if (nl->md)
		quorum_md_unprepare_leg(nl->md);
	dm_put_device(qc->ti, nl->dev);
}

/* Open @path as a would-be leg; refuses (logged) what cannot be one. */
static int get_new_leg(struct quorum_c *qc, const char *path,
		       unsigned int skip, struct new_leg *nl)
{
	struct dm_target *ti = qc->ti;
	char *why;
	int r;

	nl->md = NULL;
	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &nl->dev);
	if (r) {
		quorum_refuse(qc, "cannot open %s: %d", path, r);
		return r;
	}
	r = quorum_check_new_leg(qc, nl->dev, skip, &why);
	if (!r && qc->md) {
		nl->md = quorum_md_prepare_leg(qc->md, nl->dev->bdev, &why);
		if (IS_ERR(nl->md)) {
			r = PTR_ERR(nl->md);
			nl->md = NULL;
		}
	}
	if (r) {
		quorum_refuse(qc, "%s: %s", path, why);
		dm_put_device(ti, nl->dev);
	}
	return r;
}

/*
 * With metadata, the new leg goes into slot @leg of it, the device
 * quiesced, and is given the intent bitmap: false if that could not be
 * written (it is left out of service).
 */
static bool new_leg_metadata(struct quorum_c *qc, unsigned int leg,
			     struct new_leg *nl)
{
	if (!qc->md)
		return true;
	quorum_md_set_slot(qc->md, leg, nl->md);
	nl->md = NULL;
	if (qc->intent && quorum_intent_init_leg(qc->intent, leg)) {
		DMERR("%s: leg %u (%s): cannot write its metadata: left out of service",
		      quorum_dev_name(qc), leg, nl->dev->name);
		return false;
	}
	return true;
}

static void reset_counters(struct quorum_leg *leg)
{
	atomic_set(&leg->inflight, 0);
	atomic_set(&leg->io_errors, 0);
	atomic_set(&leg->mismatches, 0);
	atomic_set(&leg->rewrites, 0);
}

int quorum_replace_leg(struct quorum_c *qc, unsigned int leg,
		       const char *path)
{
	struct new_leg nl;
	struct dm_dev *old;
	struct quiesced q;
	bool md_ok;
	int r;

	r = quorum_no_scrub(qc) ?: quorum_voters_left(qc, leg, "cannot replace") ?:
	    dead_leg_answered(qc, leg, "cannot replace");
	if (r)
		return r;
	r = get_new_leg(qc, path, leg, &nl);
	if (r)
		return r;
	r = quorum_quiesce(qc, &q);
	/* a leg may have died while the I/O drained */
	if (!r) {
		r = quorum_voters_left(qc, leg, "cannot replace");
		if (r)
			quorum_unquiesce(qc, &q);
	}
	if (r) {
		put_new_leg(qc, &nl);
		return r;
	}
	md_ok = new_leg_metadata(qc, leg, &nl);
	old = qc->legs[leg].dev;
	quorum_legs_lock();
	qc->legs[leg].dev = nl.dev;
	quorum_legs_unlock();
	reset_counters(&qc->legs[leg]);
	quorum_state_new_device(&qc->state, leg);
	quorum_unquiesce(qc, &q);
	dm_put_device(qc->ti, old);
	if (!md_ok)
		return -EIO;
	DMINFO("%s: leg %u is now %s, resyncing", quorum_dev_name(qc), leg,
	       nl.dev->name);
	return quorum_resync_legs(qc, BIT(leg));
}

int quorum_add_leg(struct quorum_c *qc, const char *path)
{
	unsigned int leg = qc->nr_legs;
	unsigned long resync;
	struct new_leg nl;
	struct quiesced q;
	bool md_ok;
	int r;

	if (qc->blkverify)
		return quorum_refuse(qc, "add_leg: blkverify needs exactly 2 legs");
	if (leg == QUORUM_MAX_LEGS)
		return quorum_refuse(qc, "add_leg: %u legs already, the most there can be",
				     leg);
	r = quorum_no_scrub(qc);
	if (r)
		return r;
	r = get_new_leg(qc, path, leg, &nl);
	if (r)
		return r;
	/* the reserves must cover one I/O over every leg */
	r = quorum_io_resize(qc, leg + 1) ?: quorum_sync_resize(qc, leg + 1) ?:
	    quorum_state_add_leg_prepare(&qc->state);
	if (r) {
		put_new_leg(qc, &nl);
		quorum_refuse(qc, "add_leg: cannot allocate for one more leg");
		return r;
	}
	r = quorum_quiesce(qc, &q);
	if (r) {
		put_new_leg(qc, &nl);
		return r;
	}
	/* a running resync's pages are for the old count: start it again */
	resync = qc->sync.action == QUORUM_SYNC_RESYNC ? qc->sync.targets : 0;
	quorum_sync_stop(qc);
	md_ok = new_leg_metadata(qc, leg, &nl);
	quorum_legs_lock();
	qc->legs[leg].dev = nl.dev;
	reset_counters(&qc->legs[leg]);
	qc->nr_legs++;
	quorum_state_add_leg(&qc->state);
	quorum_legs_unlock();
	quorum_sync_legs_changed(qc);
	quorum_unquiesce(qc, &q);
	DMINFO("%s: leg %u (%s) added, %s", quorum_dev_name(qc), leg,
	       nl.dev->name, md_ok ? "resyncing" : "out of service");
	if (md_ok)
		resync |= BIT(leg);
	r = resync ? quorum_resync_legs(qc, resync) : 0;
	return md_ok ? r : -EIO;
}

static void remove_leg_state(struct quorum_c *qc, unsigned int leg)
{
	quorum_legs_lock();
	memmove(&qc->legs[leg], &qc->legs[leg + 1],
		(qc->nr_legs - leg - 1) * sizeof(qc->legs[0]));
	memset(&qc->legs[qc->nr_legs - 1], 0, sizeof(qc->legs[0]));
	quorum_events_remove_leg(qc, leg);
	quorum_state_remove_leg(&qc->state, leg);
	qc->nr_legs--;
	quorum_legs_unlock();
	if (qc->md)
		quorum_md_remove_leg(qc, leg);
	quorum_sync_legs_changed(qc);
}

/* Would the readable legs still reach the threshold without @leg? */
static int voters_left_without(struct quorum_c *qc, unsigned int leg)
{
	unsigned long readable = quorum_readable_legs(qc);

	if (!test_bit(leg, &readable))
		return 0;
	return quorum_voters_left(qc, leg, "cannot remove");
}

int quorum_remove_leg(struct quorum_c *qc, unsigned int leg)
{
	struct dm_dev *dev = qc->legs[leg].dev;
	unsigned long resync;
	struct quiesced q;
	int r;

	/* QEMU's quorum_del_child() message */
	if (qc->nr_legs <= qc->threshold) {
		quorum_refuse(qc, "The number of legs cannot be lower than the vote threshold %u",
			      qc->threshold);
		return -EINVAL;
	}
	r = quorum_no_scrub(qc);
	if (r)
		return r;
	r = voters_left_without(qc, leg) ?:
	    dead_leg_answered(qc, leg, "cannot remove") ?: quorum_quiesce(qc, &q);
	if (r)
		return r;
	/* a leg may have died while the I/O drained */
	r = voters_left_without(qc, leg);
	if (!r && qc->md) {
		r = quorum_md_remove_leg_prepare(qc, leg);
		if (r)
			quorum_refuse(qc, "cannot remove leg %u: the missed maps cannot be written",
				      leg);
		q.maps_written = true;
	}
	if (r) {
		quorum_unquiesce(qc, &q);
		return r;
	}
	resync = qc->sync.action == QUORUM_SYNC_RESYNC ? qc->sync.targets : 0;
	quorum_sync_stop(qc);	/* its legs go back to 'D', renumbered below */
	remove_leg_state(qc, leg);
	quorum_unquiesce(qc, &q);
	schedule_work(&qc->event_work);
	DMINFO("%s: leg %u (%s) removed", quorum_dev_name(qc), leg, dev->name);
	dm_put_device(qc->ti, dev);
	resync = quorum_drop_bit(resync & ~BIT(leg), leg);
	return resync ? quorum_resync_legs(qc, resync) : 0;
}
