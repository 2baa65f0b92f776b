/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum events: QEMU's QUORUM_REPORT_BAD and QUORUM_FAILURE, sent as
 * uevents on the dm device for udev rules to act on.
 */
#ifndef DM_QUORUM_EVENTS_H
#define DM_QUORUM_EVENTS_H

#include <linux/blk_types.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct quorum_c;

enum quorum_op {
	QUORUM_OP_READ,
	QUORUM_OP_WRITE,
	QUORUM_OP_FLUSH,
};

/* What one uevent says. */
struct quorum_event {
	bool failure;		/* QUORUM_FAILURE, else QUORUM_REPORT_BAD */
	enum quorum_op op;
	unsigned int leg;	/* REPORT_BAD only */
	sector_t sector;	/* the request on the dm device */
	unsigned int sectors;
	blk_status_t error;	/* REPORT_BAD of a failed I/O, else 0 */
};

/*
 * One rate limit: at most one uevent a second.  The first report goes out
 * at once; later reports inside the window replace each other and the
 * latest goes out when the window ends (QEMU's monitor throttling).
 * REPORT_BAD has one slot per leg, FAILURE one.
 */
struct quorum_event_slot {
	struct quorum_c *qc;
	spinlock_t lock;		/* everything below */
	bool queued;			/* @ev is to be sent by @work */
	bool immediate;			/* ... at once, not at a window's end */
	bool held;			/* @held_ev waits for the next window */
	struct quorum_event ev;
	struct quorum_event held_ev;
	unsigned long next;		/* jiffies when the next may go */
	struct delayed_work work;
};

/*
 * Changes of state: not rate-limited (they are rare and each one matters),
 * queued in order and, like the reports, held while suspended.
 */
enum quorum_state_kind {
	QUORUM_EV_LEG_FAILED,
	QUORUM_EV_LEG_REINSTATED,
	QUORUM_EV_SYNC_DONE,
};

struct quorum_state_event {
	enum quorum_state_kind kind;
	unsigned int leg;		/* LEG_* */
	const char *action;		/* SYNC_DONE: resync, check, repair */
	u64 mismatches;			/* SYNC_DONE */
};

/* Queued state events; a full queue drops the oldest (events_merged). */
#define QUORUM_STATE_EVENTS	32

struct quorum_state_queue {
	spinlock_t lock;		/* the three below */
	unsigned int head, count;
	struct quorum_state_event ev[QUORUM_STATE_EVENTS];
	struct work_struct work;
};

void quorum_events_init(struct quorum_c *qc);
void quorum_events_suspend(struct quorum_c *qc);
void quorum_events_take_over(struct quorum_c *qc, struct quorum_c *old,
			     const int *old_leg);
void quorum_events_remove_leg(struct quorum_c *qc, unsigned int leg);
void quorum_events_resume(struct quorum_c *qc);

void quorum_report_bad(struct quorum_c *qc, unsigned int leg,
		       enum quorum_op op, sector_t sector,
		       unsigned int sectors, blk_status_t error);
void quorum_report_failure(struct quorum_c *qc, enum quorum_op op,
			   sector_t sector, unsigned int sectors);
void quorum_report_leg(struct quorum_c *qc, enum quorum_state_kind kind,
		       unsigned int leg);
void quorum_report_sync_done(struct quorum_c *qc, const char *action,
			     u64 mismatches);

#endif /* DM_QUORUM_EVENTS_H */
