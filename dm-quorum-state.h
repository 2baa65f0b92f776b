/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum leg states: the one owner of which legs are in service, which
 * are being resynced, and which regions each leg missed.
 *
 *          fail, missed write
 *   +-----+ -----------------------> +-----+
 *   |  A  |                          |  D  | <---+ replace, add_leg,
 *   +-----+ <--+                     +-----+     | rewrite (every region
 *      ^       |                       |  ^      | missed)
 *      |       | finish: nothing       |  | fail, missed write,
 *      |       | missed, not stopped   |  | finish with regions
 *      |       |                       v  | missed or stopped
 *      |       +-------------------- +-----+
 *      +---------------------------- |  S  |
 *         (start_sync moves D to S)  +-----+
 *
 *   A  alive: read and written.
 *   S  syncing: written, never read, until the engine has copied it every
 *      region it missed.
 *   D  dead: neither read nor written; every write it misses is marked.
 *
 * Every transition is made under one spinlock together with its effect on
 * the missed-region map, and each is a compare-and-set: S becomes A only
 * if it is still S and nothing is left to copy, so a leg that died or
 * missed a write a moment earlier stays out.  A leg is dead before any
 * region it missed is marked, in the same critical section.  The I/O
 * paths read only the derived masks (readable, writable), locklessly.
 * Any context.
 */
#ifndef DM_QUORUM_STATE_H
#define DM_QUORUM_STATE_H

#include <linux/bits.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct quorum_dirty;

enum quorum_leg_state {
	QUORUM_LEG_ALIVE,
	QUORUM_LEG_DEAD,
	QUORUM_LEG_SYNCING,
};

struct quorum_state {
	spinlock_t lock;		/* every field below */
	unsigned int nr_legs;
	unsigned long dead;
	unsigned long syncing;
	unsigned long readable;		/* derived: neither dead nor syncing */
	unsigned long writable;		/* derived: not dead */
	u32 gen;			/* raised by every change of state */
	struct quorum_dirty *missed;
	struct work_struct *changed;	/* queued on every change of state */
};

int quorum_state_init(struct quorum_state *st, unsigned int nr_legs,
		      sector_t len, unsigned int region_sectors,
		      struct work_struct *changed);
void quorum_state_exit(struct quorum_state *st);

static inline unsigned long quorum_state_readable(struct quorum_state *st)
{
	return READ_ONCE(st->readable);
}

static inline unsigned long quorum_state_writable(struct quorum_state *st)
{
	return READ_ONCE(st->writable);
}

static inline unsigned long quorum_state_dead(struct quorum_state *st)
{
	return READ_ONCE(st->dead);
}

enum quorum_leg_state quorum_state_of(struct quorum_state *st,
				      unsigned int leg);
u32 quorum_state_snapshot(struct quorum_state *st,
			  enum quorum_leg_state *states);

static inline u32 quorum_state_gen(struct quorum_state *st)
{
	return READ_ONCE(st->gen);
}

char quorum_state_char(struct quorum_state *st, unsigned int leg);

/* Transitions; each returns whether @leg's state changed. */
int quorum_state_fail_voting(struct quorum_state *st, unsigned int leg,
			     unsigned int threshold);
bool quorum_state_missed_write(struct quorum_state *st, unsigned int leg,
			       sector_t sector, sector_t len);
int quorum_state_rewrite(struct quorum_state *st, unsigned int leg);
unsigned long quorum_state_start_sync(struct quorum_state *st,
				      unsigned long legs);
bool quorum_state_finish_sync(struct quorum_state *st, unsigned int leg,
			      bool stopped);

/* The missed-region map. */
unsigned long quorum_state_begin_write(struct quorum_state *st,
				       sector_t sector, sector_t len);
void quorum_state_region_done(struct quorum_state *st, unsigned long legs,
			      u64 region);
u64 quorum_state_next_missed(struct quorum_state *st, unsigned long legs,
			     u64 from);
u64 quorum_state_missed_union(struct quorum_state *st, unsigned long legs);
unsigned int quorum_state_region_shift(struct quorum_state *st);
u64 quorum_state_nr_regions(struct quorum_state *st);

/* Remove bit @leg from @mask, moving the higher bits down. */
static inline unsigned long quorum_drop_bit(unsigned long mask,
					    unsigned int leg)
{
	unsigned long low = mask & (BIT(leg) - 1);

	return low | ((mask >> 1) & ~(BIT(leg) - 1));
}

/* The leg set. */
int quorum_state_add_leg_prepare(struct quorum_state *st);
void quorum_state_add_leg(struct quorum_state *st);
void quorum_state_new_device(struct quorum_state *st, unsigned int leg);
void quorum_state_start_dead(struct quorum_state *st, unsigned int leg,
			     const unsigned long *bits);
void quorum_state_missed_copy(struct quorum_state *st, unsigned int leg,
			      u64 first, unsigned int n, unsigned long *dst);
void quorum_state_remove_leg(struct quorum_state *st, unsigned int leg);
bool quorum_state_take_over(struct quorum_state *st, unsigned int leg,
			    struct quorum_state *old, unsigned int old_leg);

#endif /* DM_QUORUM_STATE_H */
