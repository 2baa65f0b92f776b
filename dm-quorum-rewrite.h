/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum write ordering, rewrites and range locks (dm-quorum-rewrite.c).
 */
#ifndef DM_QUORUM_REWRITE_H
#define DM_QUORUM_REWRITE_H

#include "dm-quorum.h"

bool quorum_write_begin(struct quorum_io *io);
void quorum_write_end(struct quorum_io *io);
void quorum_release_work(struct work_struct *work);
void quorum_read_snapshot(struct quorum_io *io);
bool quorum_read_raced(struct quorum_io *io);
void quorum_read_wait_writes(struct quorum_io *io);
bool quorum_rewrite(struct quorum_io *io, unsigned long legs);
void quorum_region_lock(struct quorum_io *io);
void quorum_region_unlock(struct quorum_io *io);

#endif /* DM_QUORUM_REWRITE_H */
