// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum leg states and the regions each leg missed: the state machine
 * of dm-quorum-state.h, the only code that changes them.
 */
#include <linux/bitops.h>

#include "dm-quorum-args.h"
#include "dm-quorum-dirty.h"
#include "dm-quorum-state.h"

/* The map's bit operations take the bit count as an unsigned int. */
static_assert(QUORUM_MAX_REGIONS <= INT_MAX);

int quorum_state_init(struct quorum_state *st, unsigned int nr_legs,
		      sector_t len, unsigned int region_sectors,
		      struct work_struct *changed)
{
	spin_lock_init(&st->lock);
	st->nr_legs = nr_legs;
	st->changed = changed;
	st->readable = BIT(nr_legs) - 1;
	st->writable = BIT(nr_legs) - 1;
	st->missed = quorum_dirty_create_mem(nr_legs, len, region_sectors);
	return st->missed ? 0 : -ENOMEM;
}

void quorum_state_exit(struct quorum_state *st)
{
	if (st->missed)
		st->missed->ops->destroy(st->missed);
	st->missed = NULL;
}

/* Derive the masks the I/O paths read; under the lock. */
static void update_masks(struct quorum_state *st)
{
	unsigned long all = BIT(st->nr_legs) - 1;

	lockdep_assert_held(&st->lock);
	WRITE_ONCE(st->readable, all & ~st->dead & ~st->syncing);
	WRITE_ONCE(st->writable, all & ~st->dead);
}

static enum quorum_leg_state leg_state(struct quorum_state *st,
				       unsigned int leg)
{
	if (test_bit(leg, &st->dead))
		return QUORUM_LEG_DEAD;
	return test_bit(leg, &st->syncing) ? QUORUM_LEG_SYNCING :
					     QUORUM_LEG_ALIVE;
}

/*
 * Move @leg to @to, under the lock.  The leg is never readable in
 * between: both bits change in one critical section before the masks are
 * derived.  Returns whether it changed.
 */
static bool set_state(struct quorum_state *st, unsigned int leg,
		      enum quorum_leg_state to)
{
	if (leg_state(st, leg) == to)
		return false;
	__assign_bit(leg, &st->dead, to == QUORUM_LEG_DEAD);
	__assign_bit(leg, &st->syncing, to == QUORUM_LEG_SYNCING);
	update_masks(st);
	WRITE_ONCE(st->gen, st->gen + 1);
	return true;
}

static void changed(struct quorum_state *st, bool changed)
{
	if (changed && st->changed)
		schedule_work(st->changed);
}

/*
 * Every leg's state at one instant, and the generation they are of: a
 * change made after it raises the generation past the one returned.
 */
u32 quorum_state_snapshot(struct quorum_state *st,
			  enum quorum_leg_state *states)
{
	unsigned long flags;
	unsigned int leg;
	u32 gen;

	spin_lock_irqsave(&st->lock, flags);
	for (leg = 0; leg < st->nr_legs; leg++)
		states[leg] = leg_state(st, leg);
	gen = st->gen;
	spin_unlock_irqrestore(&st->lock, flags);
	return gen;
}

enum quorum_leg_state quorum_state_of(struct quorum_state *st,
				      unsigned int leg)
{
	unsigned long flags;
	enum quorum_leg_state s;

	spin_lock_irqsave(&st->lock, flags);
	s = leg_state(st, leg);
	spin_unlock_irqrestore(&st->lock, flags);
	return s;
}

/* 'A', 'S' or 'D', as `dmsetup status` shows the leg. */
char quorum_state_char(struct quorum_state *st, unsigned int leg)
{
	static const char chars[] = {
		[QUORUM_LEG_ALIVE] = 'A',
		[QUORUM_LEG_DEAD] = 'D',
		[QUORUM_LEG_SYNCING] = 'S',
	};

	return chars[quorum_state_of(st, leg)];
}

static void mark(struct quorum_state *st, unsigned int leg, sector_t sector,
		 sector_t len)
{
	struct quorum_dirty *d = st->missed;

	if (!len) {
		d->ops->mark_all(d, leg);
		return;
	}
	d->ops->mark(d, leg, sector >> d->region_shift,
		     (sector + len - 1) >> d->region_shift);
}

/*
 * A or S to D, for the fail message, unless that would leave fewer than
 * @threshold legs in service: -EBUSY then, -EALREADY if it is D already.
 */
int quorum_state_fail_voting(struct quorum_state *st, unsigned int leg,
			     unsigned int threshold)
{
	unsigned long flags, others;
	int r = 0;

	spin_lock_irqsave(&st->lock, flags);
	others = st->readable & ~BIT(leg);
	if (test_bit(leg, &st->dead))
		r = -EALREADY;
	else if (test_bit(leg, &st->readable) && hweight_long(others) < threshold)
		r = -EBUSY;
	else
		set_state(st, leg, QUORUM_LEG_DEAD);
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, !r);
	return r;
}

/*
 * D with [@sector, @sector + @len) missed (@len 0: every region), in one
 * step; unless @leg is S and @unless_syncing.  Returns -EBUSY then, else
 * whether the state changed (1 or 0).
 */
static int make_dead(struct quorum_state *st, unsigned int leg,
		     sector_t sector, sector_t len, bool unless_syncing)
{
	unsigned long flags;
	bool r = false;
	int busy = 0;

	spin_lock_irqsave(&st->lock, flags);
	if (unless_syncing && leg_state(st, leg) == QUORUM_LEG_SYNCING) {
		busy = -EBUSY;
	} else {
		r = set_state(st, leg, QUORUM_LEG_DEAD);
		mark(st, leg, sector, len);
	}
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, r);
	return busy ?: r;
}

/*
 * @leg missed a write (or flush, @len 0: every region) that succeeded:
 * D, and the range missed, in one step.
 */
bool quorum_state_missed_write(struct quorum_state *st, unsigned int leg,
			       sector_t sector, sector_t len)
{
	return make_dead(st, leg, sector, len, false);
}

/*
 * A or D to D with every region missed, for a rewrite of the whole leg.
 * -EBUSY if the leg is being resynced.
 */
int quorum_state_rewrite(struct quorum_state *st, unsigned int leg)
{
	int r = make_dead(st, leg, 0, 0, true);

	return r < 0 ? r : 0;
}

/* D to S, for the legs of @legs that are D; returns those. */
unsigned long quorum_state_start_sync(struct quorum_state *st,
				      unsigned long legs)
{
	unsigned long flags, moved;
	unsigned int leg;

	spin_lock_irqsave(&st->lock, flags);
	moved = legs & st->dead;
	for_each_set_bit(leg, &moved, QUORUM_MAX_LEGS)
		set_state(st, leg, QUORUM_LEG_SYNCING);
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, moved);
	return moved;
}

/*
 * The resync of @leg ended.  S to A if it is still S, nothing is left to
 * copy and the resync was not @stopped; S to D otherwise.  A leg that is
 * not S any more (it died, or was failed) is left as it is.  Returns
 * whether it came back into service.
 */
bool quorum_state_finish_sync(struct quorum_state *st, unsigned int leg,
			      bool stopped)
{
	struct quorum_dirty *d = st->missed;
	unsigned long flags;
	bool alive = false, r = false;

	spin_lock_irqsave(&st->lock, flags);
	if (leg_state(st, leg) == QUORUM_LEG_SYNCING) {
		alive = !stopped && !d->ops->count(d, leg);
		r = set_state(st, leg, alive ? QUORUM_LEG_ALIVE :
					       QUORUM_LEG_DEAD);
	}
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, r);
	return alive;
}

/*
 * A write of @len sectors (0: a flush) is sent: the legs to send it to,
 * the writable ones.  The others miss it, and are marked in the same
 * step: a leg that a reinstate makes S right after must find the mark,
 * or its resync could end with the write missed and nothing to copy.
 */
unsigned long quorum_state_begin_write(struct quorum_state *st,
				       sector_t sector, sector_t len)
{
	unsigned long flags, writable, missed;
	unsigned int leg;

	/*
	 * Every leg writable: nothing to mark.  A leg that dies after this
	 * look is sent the write, and its failure marks what it missed.
	 */
	writable = READ_ONCE(st->writable);
	if (likely(writable == BIT(st->nr_legs) - 1))
		return writable;
	spin_lock_irqsave(&st->lock, flags);
	writable = st->writable;
	missed = (BIT(st->nr_legs) - 1) & ~writable;
	if (len)
		for_each_set_bit(leg, &missed, QUORUM_MAX_LEGS)
			mark(st, leg, sector, len);
	spin_unlock_irqrestore(&st->lock, flags);
	return writable;
}

/*
 * The engine copied @region to @legs.  A leg that died meanwhile keeps it
 * missed: its death and its marks came together, and either came before
 * this (it is D now) or will come after (the mark stays).
 */
void quorum_state_region_done(struct quorum_state *st, unsigned long legs,
			      u64 region)
{
	struct quorum_dirty *d = st->missed;
	unsigned long flags;
	unsigned int leg;

	spin_lock_irqsave(&st->lock, flags);
	legs &= st->syncing & ~st->dead;
	for_each_set_bit(leg, &legs, QUORUM_MAX_LEGS)
		d->ops->clear(d, leg, region);
	spin_unlock_irqrestore(&st->lock, flags);
}

/*
 * The first region from @from that one of @legs missed, nr_regions if
 * none.  A hint: the map may change once the lock is dropped.
 */
u64 quorum_state_next_missed(struct quorum_state *st, unsigned long legs,
			     u64 from)
{
	struct quorum_dirty *d = st->missed;
	u64 next = d->nr_regions;
	unsigned long flags;
	unsigned int leg;

	spin_lock_irqsave(&st->lock, flags);
	for_each_set_bit(leg, &legs, QUORUM_MAX_LEGS)
		next = min(next, d->ops->next(d, leg, from));
	spin_unlock_irqrestore(&st->lock, flags);
	return next;
}

/* Regions that one of @legs missed at least. */
u64 quorum_state_missed_union(struct quorum_state *st, unsigned long legs)
{
	unsigned long flags;
	u64 n;

	spin_lock_irqsave(&st->lock, flags);
	n = st->missed->ops->count_union(st->missed, legs);
	spin_unlock_irqrestore(&st->lock, flags);
	return n;
}

unsigned int quorum_state_region_shift(struct quorum_state *st)
{
	return st->missed->region_shift;
}

u64 quorum_state_nr_regions(struct quorum_state *st)
{
	return st->missed->nr_regions;
}

/*
 * Room for one more leg, with every region missed (may sleep): before
 * quorum_state_add_leg(), which cannot fail.
 */
int quorum_state_add_leg_prepare(struct quorum_state *st)
{
	return st->missed->ops->add_leg(st->missed, st->nr_legs);
}

/* The leg after the last joins, D. */
void quorum_state_add_leg(struct quorum_state *st)
{
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	__set_bit(st->nr_legs, &st->dead);
	st->nr_legs++;
	update_masks(st);
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, true);
}

/* @leg has a new device, with unknown data: D, every region missed. */
void quorum_state_new_device(struct quorum_state *st, unsigned int leg)
{
	make_dead(st, leg, 0, 0, false);
}

/*
 * @leg starts D having missed the regions in @bits (read from its
 * metadata), or every region without @bits.
 */
void quorum_state_start_dead(struct quorum_state *st, unsigned int leg,
			     const unsigned long *bits)
{
	unsigned long flags;
	bool r;

	if (!bits) {
		quorum_state_new_device(st, leg);
		return;
	}
	spin_lock_irqsave(&st->lock, flags);
	r = set_state(st, leg, QUORUM_LEG_DEAD);
	st->missed->ops->or_bits(st->missed, leg, bits);
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, r);
}

/* @n words of @leg's missed map from word @first, for the metadata. */
void quorum_state_missed_copy(struct quorum_state *st, unsigned int leg,
			      u64 first, unsigned int n, unsigned long *dst)
{
	unsigned long flags;

	spin_lock_irqsave(&st->lock, flags);
	st->missed->ops->copy_words(st->missed, leg, first, n, dst);
	spin_unlock_irqrestore(&st->lock, flags);
}

/* @leg leaves the set; the legs after it move down. */
void quorum_state_remove_leg(struct quorum_state *st, unsigned int leg)
{
	unsigned long flags;
	void *removed;

	spin_lock_irqsave(&st->lock, flags);
	removed = st->missed->ops->remove_leg(st->missed, leg, st->nr_legs);
	st->dead = quorum_drop_bit(st->dead, leg);
	st->syncing = quorum_drop_bit(st->syncing, leg);
	st->nr_legs--;
	update_masks(st);
	spin_unlock_irqrestore(&st->lock, flags);
	st->missed->ops->free_removed(removed);
	changed(st, true);
}

/*
 * A reloaded table's @leg was @old's @old_leg (@old is suspended and
 * drained, and this table not live yet).  A leg @old had in service stays
 * in service; any other is D here, with the regions it missed if both
 * maps cut the device alike, else with every region.  Returns whether
 * @old was resyncing it, to go on with on resume.
 */
bool quorum_state_take_over(struct quorum_state *st, unsigned int leg,
			    struct quorum_state *old, unsigned int old_leg)
{
	struct quorum_dirty *d = st->missed, *od = old->missed;
	enum quorum_leg_state was = quorum_state_of(old, old_leg);
	bool same_map = d->nr_regions == od->nr_regions &&
			d->region_shift == od->region_shift;
	unsigned long flags;
	bool all;

	if (was == QUORUM_LEG_ALIVE)
		return false;
	all = !same_map || od->ops->count(od, old_leg) == od->nr_regions;
	spin_lock_irqsave(&st->lock, flags);
	set_state(st, leg, QUORUM_LEG_DEAD);
	if (all)
		mark(st, leg, 0, 0);
	else
		d->ops->merge(d, leg, od, old_leg);
	spin_unlock_irqrestore(&st->lock, flags);
	changed(st, true);
	return was == QUORUM_LEG_SYNCING;
}
