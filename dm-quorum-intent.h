/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum write-intent log (dm-quorum-intent.c): on a table with
 * metadata, a region is marked in the intent bitmap on every writable
 * leg, durably, before any write to it goes to a leg, and cleared lazily
 * once it has been idle and the legs flushed.  After an unclean
 * shutdown the regions marked on the legs are the only ones where the
 * legs can differ, and are recovered before they are read.
 */
#ifndef DM_QUORUM_INTENT_H
#define DM_QUORUM_INTENT_H

#include <linux/list.h>
#include <linux/types.h>

struct quorum_c;
struct quorum_intent;
struct quorum_assembly;

/*
 * The log of @qc, whose metadata is open.  After an unclean shutdown
 * (@as), the regions marked on the legs it names are to be recovered.
 */
struct quorum_intent *quorum_intent_create(struct quorum_c *qc,
					   const struct quorum_assembly *as);
void quorum_intent_destroy(struct quorum_intent *in);

/* A table that replaces a live one goes on from its log. */
void quorum_intent_take_over(struct quorum_intent *in,
			     struct quorum_intent *old);

/* Lazy clearing runs between resume and suspend. */
void quorum_intent_resume(struct quorum_intent *in);
/*
 * Suspended, nothing in flight: clear every mark (the legs are flushed
 * first).  Returns the legs whose metadata could not be written.
 */
unsigned long quorum_intent_suspend(struct quorum_intent *in);

/*
 * A change of the leg set, the device quiesced: the log stops (as at
 * suspend) and goes on again if it ran; a new device in @leg is given
 * the intent bitmap (true if it cannot be written); before slot @leg is
 * removed, the maps from it on are written to hold both numberings
 * (returns the legs that failed).
 */
bool quorum_intent_pause(struct quorum_intent *in);
void quorum_intent_unpause(struct quorum_intent *in, bool was_live);
bool quorum_intent_init_leg(struct quorum_intent *in, unsigned int leg);
unsigned long quorum_intent_remove_leg(struct quorum_intent *in,
				       unsigned int leg);

/*
 * A write to sectors @sector to @sector + @len - 1 starts: true if its
 * regions are marked durably, else @waiter is queued and handed back,
 * once they are, to quorum_write_intent_done() (dm-quorum-io.c).
 * Any context.
 */
bool quorum_intent_start(struct quorum_intent *in, sector_t sector,
			 sector_t len, struct list_head *waiter);
/* The write that quorum_intent_start() counted has ended. */
void quorum_intent_end(struct quorum_intent *in, sector_t sector,
		       sector_t len);

/* Recovery after an unclean shutdown. */
u64 quorum_intent_nr_recovering(struct quorum_intent *in);
bool quorum_intent_range_recovering(struct quorum_intent *in,
				    sector_t sector, sector_t len);
bool quorum_intent_recovering(struct quorum_intent *in, u64 region);
/* The first region to recover from @from; nr_regions if none. */
u64 quorum_intent_next_recovering(struct quorum_intent *in, u64 from);
void quorum_intent_recovered(struct quorum_intent *in, u64 region);

unsigned long quorum_intent_write_missed(struct quorum_intent *in);
unsigned long *quorum_intent_load_missed(struct quorum_intent *in,
					 unsigned int leg,
					 const struct quorum_assembly *as);

#endif /* DM_QUORUM_INTENT_H */
