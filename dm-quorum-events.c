// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum events.
 *
 * A leg that fails an I/O or loses a read vote is reported with a
 * QUORUM_REPORT_BAD uevent; an I/O without a quorum with QUORUM_FAILURE,
 * as QEMU's quorum driver emits its QMP events.  Each goes out as a
 * KOBJ_CHANGE uevent on the dm device, so udev rules can act on it:
 *
 *   DM_TARGET=quorum DM_ACTION=QUORUM_REPORT_BAD|QUORUM_FAILURE
 *   DM_NAME DM_UUID DM_QUORUM_OP=read|write|flush
 *   DM_QUORUM_SECTOR DM_QUORUM_SECTORS      (the request, on the dm device)
 *   DM_QUORUM_LEG DM_QUORUM_LEG_DEV         (REPORT_BAD)
 *   DM_QUORUM_ERROR=EIO...                  (REPORT_BAD of a failed I/O)
 *
 * Changes of state go out the same way, in order and never merged:
 * LEG_FAILED and LEG_REINSTATED (DM_QUORUM_LEG, DM_QUORUM_LEG_DEV), and
 * SYNC_DONE (DM_QUORUM_SYNC_ACTION, DM_QUORUM_MISMATCHES) when a resync,
 * check or repair finishes.
 *
 * Reports come from bio completions, where nothing may sleep, and a
 * failing disk can report thousands a second; uevents allocate and take
 * mutexes.  So a report only records the event in its rate-limit slot
 * and a work item sends it: at most one uevent a second per leg and per
 * action, the latest report of a window going out when the window ends,
 * as QEMU throttles these events.  Every report is counted in status
 * (io_errors, mismatches, quorum_failures); the number merged away by
 * the rate limit is counted too.
 *
 * Nothing is sent while the device is suspended (from presuspend until
 * resume): what is pending then goes out on resume.
 */
#include <linux/device-mapper.h>
#include <linux/dm-ioctl.h>
#include <linux/sched/mm.h>

#include "dm-quorum.h"

static const char * const op_names[] = {
	[QUORUM_OP_READ] = "read",
	[QUORUM_OP_WRITE] = "write",
	[QUORUM_OP_FLUSH] = "flush",
};

#define EVENT_VARS	11
#define EVENT_VAR_LEN	(DM_UUID_LEN + 16)

struct uevent_env {
	char *envp[EVENT_VARS + 1];
	char buf[EVENT_VARS][EVENT_VAR_LEN];
	unsigned int n;
};

static __printf(2, 3) void env_add(struct uevent_env *env, const char *fmt, ...)
{
	va_list args;

	if (WARN_ON_ONCE(env->n >= EVENT_VARS))
		return;
	va_start(args, fmt);
	vsnprintf(env->buf[env->n], EVENT_VAR_LEN, fmt, args);
	va_end(args);
	env->envp[env->n] = env->buf[env->n];
	env->n++;
}

/* "EIO" for BLK_STS_IOERR: %pe prints "-EIO", udev rules want the name. */
static const char *error_name(blk_status_t error, char *buf, size_t len)
{
	snprintf(buf, len, "%pe", ERR_PTR(blk_status_to_errno(error)));
	return buf[0] == '-' ? buf + 1 : buf;
}

static const char * const state_names[] = {
	[QUORUM_EV_LEG_FAILED] = "LEG_FAILED",
	[QUORUM_EV_LEG_REINSTATED] = "LEG_REINSTATED",
	[QUORUM_EV_SYNC_DONE] = "SYNC_DONE",
};

/* An environment with the variables every dm-quorum uevent has. */
static struct uevent_env *env_begin(struct quorum_c *qc, const char *action)
{
	struct mapped_device *md = dm_table_get_md(qc->ti->table);
	char name[DM_NAME_LEN], uuid[DM_UUID_LEN];
	struct uevent_env *env;

	env = kzalloc(sizeof(*env), GFP_NOIO);
	if (!env || dm_copy_name_and_uuid(md, name, uuid)) {
		DMERR_LIMIT("cannot send a uevent");
		kfree(env);
		return NULL;
	}
	env_add(env, "DM_TARGET=quorum");
	env_add(env, "DM_ACTION=%s", action);
	env_add(env, "DM_NAME=%s", name);
	env_add(env, "DM_UUID=%s", uuid);
	return env;
}

static void env_add_leg(struct uevent_env *env, struct quorum_c *qc,
			unsigned int leg)
{
	env_add(env, "DM_QUORUM_LEG=%u", leg);
	env_add(env, "DM_QUORUM_LEG_DEV=%s", qc->legs[leg].dev->name);
}

static void env_send(struct quorum_c *qc, struct uevent_env *env)
{
	struct mapped_device *md = dm_table_get_md(qc->ti->table);
	unsigned int noio;

	/* as dm core does for its own uevents: no I/O to this device here */
	noio = memalloc_noio_save();
	kobject_uevent_env(&disk_to_dev(dm_disk(md))->kobj, KOBJ_CHANGE,
			   env->envp);
	memalloc_noio_restore(noio);
	kfree(env);
}

static void send_uevent(struct quorum_c *qc, const struct quorum_event *ev)
{
	struct uevent_env *env;
	char err[32];

	env = env_begin(qc, ev->failure ? "QUORUM_FAILURE" : "QUORUM_REPORT_BAD");
	if (!env)
		return;
	env_add(env, "DM_QUORUM_OP=%s", op_names[ev->op]);
	env_add(env, "DM_QUORUM_SECTOR=%llu", (unsigned long long)ev->sector);
	env_add(env, "DM_QUORUM_SECTORS=%u", ev->sectors);
	if (!ev->failure)
		env_add_leg(env, qc, ev->leg);
	if (ev->error)
		env_add(env, "DM_QUORUM_ERROR=%s",
			error_name(ev->error, err, sizeof(err)));
	env_send(qc, env);
}

static void send_state_uevent(struct quorum_c *qc,
			      const struct quorum_state_event *ev)
{
	struct uevent_env *env = env_begin(qc, state_names[ev->kind]);

	if (!env)
		return;
	if (ev->kind == QUORUM_EV_SYNC_DONE) {
		env_add(env, "DM_QUORUM_SYNC_ACTION=%s", ev->action);
		env_add(env, "DM_QUORUM_MISMATCHES=%llu", ev->mismatches);
	} else {
		env_add_leg(env, qc, ev->leg);
	}
	env_send(qc, env);
}

static unsigned long window_left(struct quorum_event_slot *slot)
{
	return time_before(jiffies, slot->next) ? slot->next - jiffies : 0;
}

static void event_work(struct work_struct *work)
{
	struct quorum_event_slot *slot =
		container_of(to_delayed_work(work), struct quorum_event_slot, work);
	struct quorum_event ev;

	spin_lock_irq(&slot->lock);
	if (!slot->queued || READ_ONCE(slot->qc->suspended)) {
		spin_unlock_irq(&slot->lock);
		return;
	}
	ev = slot->ev;
	slot->queued = false;
	slot->next = jiffies + HZ;
	if (slot->held) {
		/* the latest report of this window goes when it ends */
		slot->ev = slot->held_ev;
		slot->held = false;
		slot->queued = true;
		slot->immediate = false;
		queue_delayed_work(slot->qc->wq, &slot->work, HZ);
	}
	spin_unlock_irq(&slot->lock);

	send_uevent(slot->qc, &ev);
}

/* Callable from any context. */
static void report(struct quorum_event_slot *slot,
		   const struct quorum_event *ev)
{
	struct quorum_c *qc = slot->qc;
	unsigned long flags;

	spin_lock_irqsave(&slot->lock, flags);
	if (!slot->queued) {
		slot->ev = *ev;
		slot->queued = true;
		slot->immediate = !window_left(slot);
		queue_delayed_work(qc->wq, &slot->work, window_left(slot));
	} else if (slot->immediate) {
		/* the first of a window is on its way: hold this one */
		if (slot->held)
			atomic_inc(&qc->events_merged);
		slot->held_ev = *ev;
		slot->held = true;
	} else {
		/* waiting for the window to end: the latest report wins */
		atomic_inc(&qc->events_merged);
		slot->ev = *ev;
	}
	spin_unlock_irqrestore(&slot->lock, flags);
}

void quorum_report_bad(struct quorum_c *qc, unsigned int leg,
		       enum quorum_op op, sector_t sector,
		       unsigned int sectors, blk_status_t error)
{
	struct quorum_event ev = {
		.op = op, .leg = leg, .sector = sector, .sectors = sectors,
		.error = error,
	};

	report(&qc->event_slots[leg], &ev);
}

void quorum_report_failure(struct quorum_c *qc, enum quorum_op op,
			   sector_t sector, unsigned int sectors)
{
	struct quorum_event ev = {
		.failure = true, .op = op, .sector = sector, .sectors = sectors,
	};

	report(&qc->event_slots[QUORUM_MAX_LEGS], &ev);
}

/* ---- state events ------------------------------------------------------ */

static void state_work(struct work_struct *work)
{
	struct quorum_c *qc = container_of(work, struct quorum_c,
					   state_events.work);
	struct quorum_state_queue *q = &qc->state_events;
	struct quorum_state_event ev;

	for (;;) {
		spin_lock_irq(&q->lock);
		if (!q->count || READ_ONCE(qc->suspended)) {
			spin_unlock_irq(&q->lock);
			return;
		}
		ev = q->ev[q->head];
		q->head = (q->head + 1) % QUORUM_STATE_EVENTS;
		q->count--;
		spin_unlock_irq(&q->lock);
		send_state_uevent(qc, &ev);
	}
}

/* Callable from any context. */
static void report_state(struct quorum_c *qc,
			 const struct quorum_state_event *ev)
{
	struct quorum_state_queue *q = &qc->state_events;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	if (q->count == QUORUM_STATE_EVENTS) {
		q->head = (q->head + 1) % QUORUM_STATE_EVENTS;
		q->count--;
		atomic_inc(&qc->events_merged);
	}
	q->ev[(q->head + q->count) % QUORUM_STATE_EVENTS] = *ev;
	q->count++;
	spin_unlock_irqrestore(&q->lock, flags);
	queue_work(qc->wq, &q->work);
}

void quorum_report_leg(struct quorum_c *qc, enum quorum_state_kind kind,
		       unsigned int leg)
{
	struct quorum_state_event ev = { .kind = kind, .leg = leg };

	report_state(qc, &ev);
}

void quorum_report_sync_done(struct quorum_c *qc, const char *action,
			     u64 mismatches)
{
	struct quorum_state_event ev = {
		.kind = QUORUM_EV_SYNC_DONE, .action = action,
		.mismatches = mismatches,
	};

	report_state(qc, &ev);
}

/* ---- set-up, suspend and resume --------------------------------------- */

/* The new index of old leg *@leg, if it is still in the table. */
static bool new_index(const int *old_leg, unsigned int nr_legs,
		      unsigned int *leg)
{
	unsigned int i;

	for (i = 0; i < nr_legs; i++) {
		if (old_leg[i] == *leg) {
			*leg = i;
			return true;
		}
	}
	return false;
}

static void take_over_slot(struct quorum_event_slot *slot,
			   struct quorum_event_slot *old, unsigned int leg)
{
	spin_lock_irq(&old->lock);
	slot->queued = old->queued;
	slot->immediate = old->immediate;
	slot->held = old->held;
	slot->ev = old->ev;
	slot->held_ev = old->held_ev;
	slot->ev.leg = leg;
	slot->held_ev.leg = leg;
	slot->next = old->next;
	spin_unlock_irq(&old->lock);
}

/*
 * Leg @leg was removed (under quorum_events_suspend()): the reports held
 * for the legs after it move down with them, its own are dropped.
 */
void quorum_events_remove_leg(struct quorum_c *qc, unsigned int leg)
{
	struct quorum_state_queue *q = &qc->state_events;
	unsigned int i, n = 0;

	for (i = leg; i + 1 < qc->nr_legs; i++)
		take_over_slot(&qc->event_slots[i], &qc->event_slots[i + 1], i);
	if (qc->nr_legs > leg) {
		struct quorum_event_slot *last = &qc->event_slots[qc->nr_legs - 1];

		spin_lock_irq(&last->lock);
		last->queued = false;
		last->held = false;
		spin_unlock_irq(&last->lock);
	}

	spin_lock_irq(&q->lock);
	for (i = 0; i < q->count; i++) {
		struct quorum_state_event ev;

		ev = q->ev[(q->head + i) % QUORUM_STATE_EVENTS];
		if (ev.kind != QUORUM_EV_SYNC_DONE) {
			if (ev.leg == leg)
				continue;
			if (ev.leg > leg)
				ev.leg--;
		}
		q->ev[(q->head + n++) % QUORUM_STATE_EVENTS] = ev;
	}
	q->count = n;
	spin_unlock_irq(&q->lock);
}

/*
 * A reloaded table sends what the table it replaces held while suspended.
 * @old_leg[i] is the old index of new leg i, or -1.  Both are suspended.
 */
void quorum_events_take_over(struct quorum_c *qc, struct quorum_c *old,
			     const int *old_leg)
{
	struct quorum_state_queue *q = &qc->state_events, *oq = &old->state_events;
	unsigned int i;

	for (i = 0; i < qc->nr_legs; i++)
		if (old_leg[i] >= 0)
			take_over_slot(&qc->event_slots[i],
				       &old->event_slots[old_leg[i]], i);
	take_over_slot(&qc->event_slots[QUORUM_MAX_LEGS],
		       &old->event_slots[QUORUM_MAX_LEGS], 0);

	/* the new queue is empty: the old one fits, legs renumbered */
	spin_lock_irq(&oq->lock);
	for (i = 0; i < oq->count; i++) {
		struct quorum_state_event ev;

		ev = oq->ev[(oq->head + i) % QUORUM_STATE_EVENTS];
		if (ev.kind != QUORUM_EV_SYNC_DONE &&
		    !new_index(old_leg, qc->nr_legs, &ev.leg))
			continue;	/* a leg no longer in the table */
		q->ev[q->count++] = ev;
	}
	oq->count = 0;
	spin_unlock_irq(&oq->lock);
}

void quorum_events_init(struct quorum_c *qc)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(qc->event_slots); i++) {
		struct quorum_event_slot *slot = &qc->event_slots[i];

		slot->qc = qc;
		spin_lock_init(&slot->lock);
		slot->next = jiffies;
		INIT_DELAYED_WORK(&slot->work, event_work);
	}
	spin_lock_init(&qc->state_events.lock);
	INIT_WORK(&qc->state_events.work, state_work);
}

/* Hold events from now on; none is being sent when this returns. */
void quorum_events_suspend(struct quorum_c *qc)
{
	unsigned int i;

	WRITE_ONCE(qc->suspended, true);
	for (i = 0; i < ARRAY_SIZE(qc->event_slots); i++)
		cancel_delayed_work_sync(&qc->event_slots[i].work);
	cancel_work_sync(&qc->state_events.work);
}

/* Send what was held, each slot still keeping its one-a-second pace. */
void quorum_events_resume(struct quorum_c *qc)
{
	unsigned int i;

	WRITE_ONCE(qc->suspended, false);
	for (i = 0; i < ARRAY_SIZE(qc->event_slots); i++) {
		struct quorum_event_slot *slot = &qc->event_slots[i];

		spin_lock_irq(&slot->lock);
		if (slot->queued)
			queue_delayed_work(qc->wq, &slot->work, window_left(slot));
		spin_unlock_irq(&slot->lock);
	}
	queue_work(qc->wq, &qc->state_events.work);
}
