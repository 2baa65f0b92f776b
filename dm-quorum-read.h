/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum read vote (dm-quorum-read.c), for quorum reads and the engine.
 */
#ifndef DM_QUORUM_READ_H
#define DM_QUORUM_READ_H

#include "dm-quorum.h"

bool quorum_read_agree(struct quorum_io *io, unsigned long ok);
bool quorum_read_vote_sleeps(struct quorum_io *io, unsigned long ok);
blk_status_t quorum_read_vote(struct quorum_io *io, unsigned long ok,
			      bool recover, unsigned long *outvoted);

#endif /* DM_QUORUM_READ_H */
