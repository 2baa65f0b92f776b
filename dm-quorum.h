/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum: N-way redundancy with content voting.
 *
 * The per-device context and per-bio data every layer of the target
 * works on, and the target glue's helpers (dm-quorum.c).  Each layer's
 * functions are in its own header: dm-quorum-state.h (leg states),
 * dm-quorum-io.h, dm-quorum-read.h, dm-quorum-rewrite.h,
 * dm-quorum-sync.h, dm-quorum-legs.h, dm-quorum-pages.h.
 */
#ifndef DM_QUORUM_H
#define DM_QUORUM_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/workqueue.h>

#include "dm-quorum-args.h"
#include "dm-quorum-compat.h"
#include "dm-quorum-events.h"
#include "dm-quorum-pages.h"
#include "dm-quorum-state.h"

#define DM_MSG_PREFIX "quorum"

/*
 * A quorum read holds one buffer per leg, so reads are voted in pieces of
 * at most this size: the memory reserved per device for one read stays
 * small ((legs - 1) * 128 KiB) and most reads, bounded by the usual
 * max_sectors, are not split at all.
 */
#define QUORUM_READ_MAX_SECTORS	256
#define QUORUM_READ_MAX_PAGES	(QUORUM_READ_MAX_SECTORS >> (PAGE_SHIFT - SECTOR_SHIFT))

/* Bios from this size up may send a leg from another CPU (quorum_hop). */
#define QUORUM_HOP_BYTES	(64 << 10)

/* No leg to skip (quorum_leg_index()). */
#define QUORUM_NO_LEG		UINT_MAX

/*
 * A quorum read whose legs disagree while a write to its range was in
 * flight is read again, at most this many times, before it is voted.
 */
#define QUORUM_READ_RETRIES	5

/* Slots of the hashed table of writes per region (quorum reads). */
#define QUORUM_SEQ_SLOTS	256

struct quorum_leg {
	struct dm_dev *dev;
	atomic_t io_errors;	/* failed reads, writes and flushes */
	atomic_t mismatches;	/* reads whose data this leg disagreed on */
	atomic_t rewrites;	/* repairs written to this leg */
	atomic_t inflight;	/* our bios sent to it, not yet answered */
};

/* Per-bio data of every bio mapped by the target. */
struct quorum_io {
	struct quorum_c *qc;
	struct bio *bio;		/* the bio from dm core we complete */
	struct bvec_iter iter;		/* its range as mapped */
	sector_t sector;		/* first sector on the legs */
	enum quorum_op op;		/* for reports: read, write or flush */
	atomic_t pending;
	unsigned long issued;		/* legs this I/O was sent to */
	unsigned int next_leg;		/* fifo reads: the next leg to try */
	bool remapped;			/* fifo reads: dm core's bio sent on */
	unsigned int primary;		/* quorum reads: leg using bio's pages */
	unsigned long agree;		/* ... legs equal to the first that read */
	blk_status_t status[QUORUM_MAX_LEGS];
	struct bio *leg_bio[QUORUM_MAX_LEGS];	/* quorum reads, until voted */
	struct bio *rewrite_src;	/* a read buffer holding the winner */
	struct list_head node;		/* in rewrites, writes or held_writes */
	struct list_head md_node;	/* waiting for metadata (-intent.c, acks) */
	u32 ack_gen;			/* held ack: the leg state generation */
	unsigned long rewrite_legs;	/* outvoted legs to rewrite */
	u32 writes_seen;		/* quorum reads: writes to the range */
	u32 seq;			/* writes: start order, in qc->writes */
	bool writes_idle;		/* ... and none was in flight */
	unsigned int retries;		/* reads that raced a write */
	bool range_locked;		/* ... the last time: writes held off */
	bool hopped;			/* a leg was sent from another CPU */
	struct work_struct work;
	struct work_struct hop_work;	/* sends the last leg's bio */
};

enum quorum_sync_action {
	QUORUM_SYNC_IDLE,
	QUORUM_SYNC_RESYNC,	/* copy voted data to the legs being synced */
	QUORUM_SYNC_CHECK,	/* vote everywhere, count mismatches */
	QUORUM_SYNC_REPAIR,	/* ... and rewrite the outvoted legs */
};

/*
 * The background engine (dm-quorum-sync.c): one action at a time, region
 * by region, one piece (at most a read's 128 KiB) at a time.  Started and
 * stopped under quorum_c.msg_lock; the fields the status shows are read
 * without it.
 */
struct quorum_sync {
	enum quorum_sync_action action;
	unsigned long targets;		/* resync: the legs being synced */
	u64 region;			/* the next region */
	sector_t done, total;		/* progress, in sectors */
	u64 mismatches;			/* pieces with an outvoted leg */
	bool stop;			/* idle asked for */
	bool paused;			/* suspended (or not yet resumed) */
	/* the rate limit's window: rate_done sectors when it began */
	unsigned long rate_start;	/* jiffies */
	sector_t rate_done;
	unsigned int rate;		/* the max_sync_rate it is for */
	bool recovering;		/* in the recovery phase */
	struct page **pages;		/* QUORUM_READ_MAX_PAGES per leg */
	unsigned int pages_legs;	/* ... of that many legs */
	struct bio_set bs;
	struct mutex piece_lock;	/* pages, bs, io: one piece at a time */
	struct mutex recover_lock;	/* one region recovered at a time */
	struct quorum_io io;		/* the piece being voted */
	atomic_t pending;
	struct completion io_done;
	struct workqueue_struct *wq;
	struct work_struct work;
};

struct quorum_md;

struct quorum_c {
	struct dm_target *ti;
	unsigned int threshold;
	unsigned int nr_legs;
	enum quorum_read_pattern read_pattern;
	bool blkverify;
	bool rewrite_corrupted;
	struct crypto_shash *hash;
	unsigned int digest_size;

	/* leg states and the regions legs missed (dm-quorum-state.h) */
	struct quorum_state state;
	atomic_t quorum_failures;

	/*
	 * Changing the leg set (dm-quorum-legs.c) quiesces the device:
	 * new bios wait in map while @quiescing, and the change waits for
	 * @inflight (the bios mapped and not yet completed) to drain.
	 */
	atomic_t inflight;
	bool quiescing;
	wait_queue_head_t quiesce_wq;

	/*
	 * metadata internal: the superblock on every leg, committed by
	 * md_work on every change of leg state, and at each resume (not
	 * clean) and postsuspend (clean).
	 */
	struct quorum_md *md;
	struct quorum_intent *intent;	/* write-intent log, dm-quorum-intent.h */
	struct workqueue_struct *md_wq;	/* ordered: commits, intent passes */
	struct work_struct md_work;
	/*
	 * A write acknowledged without a leg whose superblock still says
	 * it is in sync waits in held_acks until one saying otherwise is
	 * durable (md_out: the legs it says are not in sync).
	 */
	spinlock_t ack_lock;
	struct list_head held_acks;
	unsigned long md_out;
	struct mutex md_sync_lock;	/* one snapshot and commit at a time */
	bool md_ro;			/* a read-only table: writes nothing */
	bool md_unclean;		/* loaded after an unclean shutdown */
	u64 md_events;			/* ... the superblock's events then */
	struct workqueue_struct *recover_wq;	/* reads waiting for recovery */
	bool md_live;			/* resumed once: commits may go */
	bool md_clean;			/* suspended, nothing in flight */
	bool degraded;			/* the table allows it */
	unsigned long md_failed;	/* legs to start dead, */
	unsigned long md_resync;	/* ... and to resync (first resume) */
	unsigned long *md_missed[QUORUM_MAX_LEGS];	/* ... what they missed */

	struct list_head instance;	/* in quorum_instances (dm-quorum.c) */
	bool resumed;			/* has been live: may hand over */
	struct mutex msg_lock;		/* messages, engine start and stop */
	struct ratelimit_state msg_ratelimit;	/* refusals in the log */
	struct quorum_sync sync;

	/* Leg clones and read buffers; the reserves cover one I/O. */
	struct bio_set bs;
	struct bio_set rewrite_bs;	/* one rewrite bio: see quorum_rewrite() */
	struct quorum_pages read_pages;
	struct mutex reserve_lock;	/* one I/O at a time on the reserves */
	mempool_t digest_pool;		/* digests of one vote */

	struct workqueue_struct *wq;		/* completions, events */
	struct workqueue_struct *alloc_wq;	/* work that allocates */
	struct workqueue_struct *hop_wq;	/* large leg bios, other CPUs */
	struct work_struct event_work;
	struct work_struct release_work;	/* sends held writes */

	/* uevents: one rate limit per leg for REPORT_BAD, one for FAILURE */
	struct quorum_event_slot event_slots[QUORUM_MAX_LEGS + 1];
	atomic_t events_merged;		/* reports merged by the rate limit */
	struct quorum_state_queue state_events;
	bool suspended;			/* hold uevents until resume */

	/* the order of writes, rewrites and the engine (-rewrite.c) */
	spinlock_t rewrite_lock;	/* the six below */
	struct list_head rewrites;	/* reads rewriting legs, locked ranges */
	struct list_head writes;	/* writes sent to the legs, by seq */
	struct list_head held_writes;	/* writes waiting for one of those */
	u32 write_seq;			/* of the last write started */
	u32 writes_started[QUORUM_SEQ_SLOTS];
	u32 writes_done[QUORUM_SEQ_SLOTS];

	struct quorum_leg legs[];
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

static inline unsigned long quorum_readable_legs(struct quorum_c *qc)
{
	return quorum_state_readable(&qc->state);
}

static inline unsigned long quorum_writable_legs(struct quorum_c *qc)
{
	return quorum_state_writable(&qc->state);
}

/*
 * Every bio sent to a leg is counted from its submission to its end, so
 * that a change of the leg set can tell whether the leg still holds any
 * (dm-quorum-legs.c).
 */
static inline void quorum_leg_sent(struct quorum_c *qc, unsigned int leg)
{
	atomic_inc(&qc->legs[leg].inflight);
}

static inline void quorum_leg_answered(struct quorum_c *qc, unsigned int leg)
{
	atomic_dec(&qc->legs[leg].inflight);
}

/* Report @leg of @io as bad: @error for a failed I/O, 0 if outvoted. */
static inline void quorum_io_report_bad(struct quorum_io *io, unsigned int leg,
					blk_status_t error)
{
	quorum_report_bad(io->qc, leg, io->op, io->iter.bi_sector,
			  io->iter.bi_size >> SECTOR_SHIFT, error);
}

/* @io failed for want of a quorum (counted in status and reported). */
static inline void quorum_io_failed(struct quorum_io *io)
{
	enum quorum_op op = io->op;

	atomic_inc(&io->qc->quorum_failures);
	/* QEMU reports no QUORUM_FAILURE for a flush */
	if (op != QUORUM_OP_FLUSH)
		quorum_report_failure(io->qc, op, io->iter.bi_sector,
				      io->iter.bi_size >> SECTOR_SHIFT);
}

/* dm-quorum.c */
void quorum_leg_missed_write(struct quorum_c *qc, unsigned int leg,
			     sector_t sector, sector_t len);
bool quorum_md_write_errors(struct quorum_c *qc, unsigned long failed,
			    unsigned long held, const char *what);
const char *quorum_dev_name(struct quorum_c *qc);
__printf(2, 3) int quorum_refuse(struct quorum_c *qc, const char *fmt, ...);
int quorum_resync_legs(struct quorum_c *qc, unsigned long legs);
int quorum_no_scrub(struct quorum_c *qc);
int quorum_voters_left(struct quorum_c *qc, unsigned int leg,
		       const char *what);
bool quorum_md_leg_set_begin(struct quorum_c *qc);
void quorum_md_leg_set_done(struct quorum_c *qc, bool was_live,
			    bool maps_written);
int quorum_md_remove_leg_prepare(struct quorum_c *qc, unsigned int leg);
void quorum_md_remove_leg(struct quorum_c *qc, unsigned int leg);

#endif /* DM_QUORUM_H */
