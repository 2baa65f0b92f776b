/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum I/O paths (dm-quorum-io.c): what the target glue maps and
 * completes through, and the completion helpers the read vote, the
 * rewrites and the engine share.
 */
#ifndef DM_QUORUM_IO_H
#define DM_QUORUM_IO_H

#include "dm-quorum.h"

void quorum_leg_io_error(struct quorum_io *io, unsigned int leg);
void quorum_free_read_buffer(struct quorum_c *qc, struct bio *bio);
int quorum_io_init(struct quorum_c *qc);
void quorum_io_exit(struct quorum_c *qc);
int quorum_io_resize(struct quorum_c *qc, unsigned int nr_legs);
int quorum_map_io(struct quorum_c *qc, struct bio *bio);
int quorum_end_io_fifo(struct quorum_c *qc, struct bio *bio,
		       blk_status_t *error);

void quorum_complete(struct quorum_io *io, blk_status_t status);
void quorum_defer(struct quorum_io *io, work_func_t fn);
void quorum_defer_alloc(struct quorum_io *io, work_func_t fn);
void quorum_write_submit(struct quorum_io *io);
void quorum_write_intent_done(struct list_head *waiter, blk_status_t status);
void quorum_acks_committed(struct quorum_c *qc, unsigned long out,
			   bool durable, u32 gen);

#endif /* DM_QUORUM_IO_H */
