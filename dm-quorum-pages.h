/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum read buffer pages, kept for reuse (dm-quorum-pages.c).
 */
#ifndef DM_QUORUM_PAGES_H
#define DM_QUORUM_PAGES_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

struct quorum_pages {
	spinlock_t lock;		/* the three counts and the list */
	struct list_head free;		/* by page->lru */
	unsigned int nr_free;
	unsigned int nr_owned;		/* free and in use */
	unsigned int reserve;		/* owned for the table's lifetime */
	wait_queue_head_t wait;		/* a read waiting for pages */
};

int quorum_pages_init(struct quorum_pages *qp, unsigned int reserve);
void quorum_pages_exit(struct quorum_pages *qp);
int quorum_pages_resize(struct quorum_pages *qp, unsigned int reserve);
bool quorum_pages_get(struct quorum_pages *qp, struct page **pages,
		      unsigned int n);
void quorum_pages_get_wait(struct quorum_pages *qp, struct page **pages,
			   unsigned int n);
void quorum_pages_put(struct quorum_pages *qp, struct page **pages,
		      unsigned int n);
unsigned int quorum_pages_owned(struct quorum_pages *qp);

#endif /* DM_QUORUM_PAGES_H */
