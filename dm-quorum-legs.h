/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum leg set: changes while the device runs (dm-quorum-legs.c) and
 * the lookups across tables they need (dm-quorum.c).
 */
#ifndef DM_QUORUM_LEGS_H
#define DM_QUORUM_LEGS_H

#include "dm-quorum.h"

bool quorum_leg_taken(struct quorum_c *qc, dev_t dev);
int quorum_leg_index(struct quorum_c *qc, dev_t dev, unsigned int skip);
void quorum_legs_lock(void);
void quorum_legs_unlock(void);
int quorum_check_new_leg(struct quorum_c *qc, struct dm_dev *dev,
			 unsigned int skip, char **why);
int quorum_replace_leg(struct quorum_c *qc, unsigned int leg,
		       const char *path);
int quorum_add_leg(struct quorum_c *qc, const char *path);
int quorum_remove_leg(struct quorum_c *qc, unsigned int leg);

#endif /* DM_QUORUM_LEGS_H */
