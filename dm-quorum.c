// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum: a device-mapper target for N-way redundancy with content
 * voting, after QEMU's quorum block driver (block/quorum.c).
 *
 * Every write goes to all legs and succeeds when at least <threshold>
 * legs succeed; reads are checked across the legs.  This file is the
 * target glue: construction, status, and the dm callbacks.  Parsing is in
 * dm-quorum-args.c, vote counting in dm-quorum-vote.c, the I/O paths in
 * dm-quorum-io.c and the read vote in dm-quorum-read.c.
 *
 * Table line: <threshold> <#legs> <leg_dev>... [<#opt_args> <opt_arg>...]
 * See Documentation/dm-quorum.rst.
 */
#include <crypto/hash.h>
#include <linux/module.h>

#include "dm-quorum.h"

/* ---- leg state and events --------------------------------------------- */

/*
 * dm_table_event() takes a mutex, so the event that tells dmeventd and
 * `dmsetup wait` about a state change is raised from a work item.
 */
static void quorum_event_work(struct work_struct *work)
{
	struct quorum_c *qc = container_of(work, struct quorum_c, event_work);

	dm_table_event(qc->ti->table);
}

/* Take @leg out of service; callable from any context. */
void quorum_leg_failed(struct quorum_c *qc, unsigned int leg)
{
	if (test_and_set_bit(leg, &qc->dead))
		return;
	DMERR_LIMIT("leg %u (%s) missed a write and is now out of service",
		    leg, qc->legs[leg].dev->name);
	schedule_work(&qc->event_work);
}

/* ---- construction ----------------------------------------------------- */

/* Undo quorum_ctr() whatever point it reached. */
static void quorum_free(struct quorum_c *qc)
{
	unsigned int i;

	quorum_events_suspend(qc);
	cancel_work_sync(&qc->event_work);
	if (qc->alloc_wq)
		destroy_workqueue(qc->alloc_wq);
	if (qc->wq)
		destroy_workqueue(qc->wq);
	quorum_io_exit(qc);
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
	unsigned int j;
	int r;

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &dev);
	if (r) {
		ti->error = "Leg device lookup failed";
		return r;
	}
	qc->legs[i].dev = dev;

	if (bdev_nr_sectors(dev->bdev) < ti->len) {
		ti->error = "Leg device is smaller than the target";
		return -EINVAL;
	}
	for (j = 0; j < i; j++) {
		if (qc->legs[j].dev->bdev->bd_dev == dev->bdev->bd_dev) {
			ti->error = "The same device is given as two legs";
			return -EINVAL;
		}
	}
	return 0;
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
	struct quorum_args qa;
	struct quorum_c *qc;
	unsigned int i;
	int r;

	r = quorum_parse_args(argc, argv, &qa, &ti->error);
	if (r)
		return r;

	qc = kzalloc(struct_size(qc, legs, qa.nr_legs), GFP_KERNEL);
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
	quorum_events_init(qc);

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

	qc->wq = alloc_workqueue("kquorumd", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0);
	qc->alloc_wq = alloc_workqueue("kquorumd_alloc", WQ_MEM_RECLAIM, 0);
	if (!qc->wq || !qc->alloc_wq) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
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
	return 0;

bad:
	quorum_free(qc);
	return r;
}

static void quorum_dtr(struct dm_target *ti)
{
	quorum_free(ti->private);
}

static int quorum_map(struct dm_target *ti, struct bio *bio)
{
	return quorum_map_io(ti->private, bio);
}

/* No uevent goes out while the device is suspended: hold them. */
static void quorum_presuspend(struct dm_target *ti)
{
	quorum_events_suspend(ti->private);
}

static void quorum_presuspend_undo(struct dm_target *ti)
{
	quorum_events_resume(ti->private);
}

static void quorum_resume(struct dm_target *ti)
{
	quorum_events_resume(ti->private);
}

/* ---- status ----------------------------------------------------------- */

static char quorum_health_char(struct quorum_c *qc, unsigned int leg)
{
	return test_bit(leg, &qc->dead) ? 'D' : 'A';
}

static void quorum_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct quorum_c *qc = ti->private;
	const char *hash = crypto_shash_alg_name(qc->hash);
	bool fifo = qc->read_pattern == QUORUM_READ_FIFO;
	bool default_hash = !strcmp(hash, QUORUM_DEFAULT_HASH);
	unsigned int sz = 0, i;

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
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%u %u", qc->threshold, qc->nr_legs);
		for (i = 0; i < qc->nr_legs; i++)
			DMEMIT(" %s", qc->legs[i].dev->name);
		if (fifo || qc->blkverify || qc->rewrite_corrupted || !default_hash)
			DMEMIT(" %u", 2 * fifo + qc->blkverify +
			       qc->rewrite_corrupted + 2 * !default_hash);
		if (fifo)
			DMEMIT(" read_pattern fifo");
		if (qc->rewrite_corrupted)
			DMEMIT(" rewrite_corrupted");
		if (qc->blkverify)
			DMEMIT(" blkverify");
		if (!default_hash)
			DMEMIT(" hash %s", hash);
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
	.version = {1, 3, 1},
	.module = THIS_MODULE,
	.ctr = quorum_ctr,
	.dtr = quorum_dtr,
	.map = quorum_map,
	.presuspend = quorum_presuspend,
	.presuspend_undo = quorum_presuspend_undo,
	.resume = quorum_resume,
	.status = quorum_status,
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
