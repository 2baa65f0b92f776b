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

#define DM_MSG_PREFIX "quorum"

/*
 * A quorum read holds one buffer per leg, so reads are voted in pieces of
 * at most this size: the memory reserved per device for one read stays
 * small ((legs - 1) * 128 KiB) and most reads, bounded by the usual
 * max_sectors, are not split at all.
 */
#define QUORUM_READ_MAX_SECTORS	256
#define QUORUM_READ_MAX_PAGES	(QUORUM_READ_MAX_SECTORS >> (PAGE_SHIFT - SECTOR_SHIFT))

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

	struct workqueue_struct *wq;
	struct work_struct event_work;

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
	struct work_struct work;
};

/* Front pad of every bio from quorum_c.bs. */
struct quorum_clone {
	struct quorum_io *io;
	unsigned int leg;
	struct bio bio;		/* must be last */
};

#define for_each_leg(leg, mask) \
	for_each_set_bit(leg, &(mask), QUORUM_MAX_LEGS)

static inline unsigned long quorum_live_legs(struct quorum_c *qc)
{
	return ~READ_ONCE(qc->dead) & (BIT(qc->nr_legs) - 1);
}

/* dm-quorum-io.c */
int quorum_io_init(struct quorum_c *qc);
void quorum_io_exit(struct quorum_c *qc);
int quorum_map_io(struct quorum_c *qc, struct bio *bio);

/* dm-quorum-read.c */
bool quorum_read_agree(struct quorum_io *io, unsigned long ok);
blk_status_t quorum_read_vote(struct quorum_io *io, unsigned long ok);

/* dm-quorum.c */
void quorum_leg_failed(struct quorum_c *qc, unsigned int leg);

#endif /* DM_QUORUM_H */
