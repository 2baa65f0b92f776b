/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum resync and scrub engine (dm-quorum-sync.c): started, stopped,
 * paused and resized by the target glue and the leg set changes.
 */
#ifndef DM_QUORUM_SYNC_H
#define DM_QUORUM_SYNC_H

#include "dm-quorum.h"

int quorum_sync_init(struct quorum_c *qc);
void quorum_sync_exit(struct quorum_c *qc);
void quorum_sync_suspend(struct quorum_c *qc);
void quorum_sync_resume(struct quorum_c *qc);
int quorum_sync_start(struct quorum_c *qc, enum quorum_sync_action action,
		      unsigned long targets);
void quorum_sync_take_over(struct quorum_c *qc, struct quorum_c *old);
void quorum_sync_stop(struct quorum_c *qc);
bool quorum_sync_pause(struct quorum_c *qc);
void quorum_sync_unpause(struct quorum_c *qc, bool was_paused);
int quorum_sync_resize(struct quorum_c *qc, unsigned int nr_legs);
void quorum_sync_legs_changed(struct quorum_c *qc);
const char *quorum_sync_action_name(enum quorum_sync_action action);
const char *quorum_sync_status_name(struct quorum_c *qc);
void quorum_sync_recover(struct quorum_c *qc, u64 region);
int quorum_sync_prepare_recovery(struct quorum_c *qc);

#endif /* DM_QUORUM_SYNC_H */
