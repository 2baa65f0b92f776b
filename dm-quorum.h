/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum: N-way redundancy with content voting.
 *
 * Shared definitions of the target (dm-quorum.c), its I/O paths
 * (dm-quorum-io.c) and its read vote (dm-quorum-read.c).
 */
#ifndef DM_QUORUM_H
#define DM_QUORUM_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#include "dm-quorum-args.h"
#include "dm-quorum-compat.h"
#include "dm-quorum-events.h"

#define DM_MSG_PREFIX "quorum"

/*
 * A quorum read holds one buffer per leg, so reads are voted in pieces of
 * at most this size: the memory reserved per device for one read stays
 * small ((legs - 1) * 128 KiB) and most reads, bounded by the usual
 * max_sectors, are not split at all.
 */
#define QUORUM_READ_MAX_SECTORS	256
#define QUORUM_READ_MAX_PAGES	(QUORUM_READ_MAX_SECTORS >> (PAGE_SHIFT - SECTOR_SHIFT))

/* Slots of the hashed table of writes per region (rewrite_corrupted). */
#define QUORUM_SEQ_SLOTS	256

struct quorum_leg {
	struct dm_dev *dev;
	atomic_t io_errors;	/* failed reads, writes and flushes */
	atomic_t mismatches;	/* reads whose data this leg disagreed on */
	atomic_t rewrites;	/* repairs written to this leg */
};

struct quorum_c {
	struct dm_target *ti;
	unsigned int threshold;
	unsigned int nr_legs;
	enum quorum_read_pattern read_pattern;
	bool blkverify;
	bool rewrite_corrupted;
	struct crypto_shash *hash;
	unsigned int digest_size;

	/*
	 * Legs out of service ('D' in status).  A leg that failed a write or
	 * a flush holds stale data: it is neither read nor written again
	 * until the table is reloaded.
	 */
	unsigned long dead;
	atomic_t quorum_failures;

	/* Leg clones and read buffers; the reserves cover one I/O. */
	struct bio_set bs;
	mempool_t page_pool;
	struct mutex reserve_lock;	/* one I/O at a time on the reserves */
	mempool_t digest_pool;		/* digests of one vote */

	struct workqueue_struct *wq;		/* completions, events */
	struct workqueue_struct *alloc_wq;	/* work that allocates */
	struct work_struct event_work;

	/* uevents: one rate limit per leg for REPORT_BAD, one for FAILURE */
	struct quorum_event_slot event_slots[QUORUM_MAX_LEGS + 1];
	atomic_t events_merged;		/* reports merged by the rate limit */
	bool suspended;			/* hold uevents until resume */

	/* rewrite_corrupted: ordering rewrites after writes (-rewrite.c) */
	spinlock_t rewrite_lock;	/* the four below */
	struct list_head rewrites;	/* reads rewriting legs */
	struct list_head held_writes;	/* writes waiting for a rewrite */
	u32 writes_started[QUORUM_SEQ_SLOTS];
	u32 writes_done[QUORUM_SEQ_SLOTS];

	struct quorum_leg legs[];
};

/* Per-bio data of every bio mapped by the target. */
struct quorum_io {
	struct quorum_c *qc;
	struct bio *bio;		/* the bio from dm core we complete */
	struct bvec_iter iter;		/* its range as mapped */
	sector_t sector;		/* first sector on the legs */
	atomic_t pending;
	unsigned long issued;		/* legs this I/O was sent to */
	unsigned int next_leg;		/* fifo reads: the next leg to try */
	unsigned int primary;		/* quorum reads: leg using bio's pages */
	blk_status_t status[QUORUM_MAX_LEGS];
	struct bio *leg_bio[QUORUM_MAX_LEGS];	/* quorum reads, until voted */
	struct list_head node;		/* in rewrites or held_writes */
	unsigned long rewrite_legs;	/* outvoted legs to rewrite */
	u32 writes_seen;		/* rewrite_corrupted: writes at map */
	bool writes_idle;		/* ... and none was in flight */
	struct work_struct work;
};

/* Front pad of every bio from quorum_c.bs. */
struct quorum_clone {
	struct quorum_io *io;
	unsigned int leg;
	struct bio bio;		/* must be last */
};

static inline struct quorum_clone *to_qclone(struct bio *clone)
{
	return container_of(clone, struct quorum_clone, bio);
}

#define for_each_leg(leg, mask) \
	for_each_set_bit(leg, &(mask), QUORUM_MAX_LEGS)

static inline unsigned long quorum_live_legs(struct quorum_c *qc)
{
	return ~READ_ONCE(qc->dead) & (BIT(qc->nr_legs) - 1);
}

static inline enum quorum_op quorum_io_op(struct quorum_io *io)
{
	if (bio_op(io->bio) == REQ_OP_READ)
		return QUORUM_OP_READ;
	return io->iter.bi_size ? QUORUM_OP_WRITE : QUORUM_OP_FLUSH;
}

/* Report @leg of @io as bad: @error for a failed I/O, 0 if outvoted. */
static inline void quorum_io_report_bad(struct quorum_io *io, unsigned int leg,
					blk_status_t error)
{
	quorum_report_bad(io->qc, leg, quorum_io_op(io), io->iter.bi_sector,
			  io->iter.bi_size >> SECTOR_SHIFT, error);
}

/* @io failed for want of a quorum (counted in status and reported). */
static inline void quorum_io_failed(struct quorum_io *io)
{
	enum quorum_op op = quorum_io_op(io);

	atomic_inc(&io->qc->quorum_failures);
	/* QEMU reports no QUORUM_FAILURE for a flush */
	if (op != QUORUM_OP_FLUSH)
		quorum_report_failure(io->qc, op, io->iter.bi_sector,
				      io->iter.bi_size >> SECTOR_SHIFT);
}

/* dm-quorum-io.c */
int quorum_io_init(struct quorum_c *qc);
void quorum_io_exit(struct quorum_c *qc);
int quorum_map_io(struct quorum_c *qc, struct bio *bio);

void quorum_complete(struct quorum_io *io, blk_status_t status);
void quorum_defer(struct quorum_io *io, work_func_t fn);
void quorum_defer_alloc(struct quorum_io *io, work_func_t fn);
void quorum_write_submit(struct quorum_io *io);

/* dm-quorum-read.c */
bool quorum_read_agree(struct quorum_io *io, unsigned long ok);
blk_status_t quorum_read_vote(struct quorum_io *io, unsigned long ok,
			      unsigned long *outvoted);

/* dm-quorum-rewrite.c */
bool quorum_write_begin(struct quorum_io *io);
void quorum_write_end(struct quorum_io *io);
void quorum_read_snapshot(struct quorum_io *io);
bool quorum_rewrite(struct quorum_io *io, unsigned long legs);

/* dm-quorum.c */
void quorum_leg_failed(struct quorum_c *qc, unsigned int leg);

#endif /* DM_QUORUM_H */
