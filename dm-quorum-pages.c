// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum read buffers: the pages a quorum read reads its extra legs
 * into, kept and reused by each device.
 *
 * Fresh pages from the page allocator are zeroed when init_on_alloc is on
 * (Debian's default), which cost a quorum read more than reading its legs
 * (make bench, 1 MiB reads).  Pages here only ever hold data read from
 * this device's legs and are read into again before anything looks at
 * them, so they need no zeroing and are kept for the next read.
 *
 * The cache owns at most read_buffer_kb per device, and never less than
 * its reserve: the pages one read over every leg needs, owned from the
 * table's creation to its destruction.  A read that finds neither a free
 * page nor room under the limit waits, one at a time (the caller holds
 * quorum_c.reserve_lock), for reads in flight to give theirs back; since
 * the reserve is never given away, it gets them once those reads end.
 */
#include <linux/mm.h>
#include <linux/module.h>

#include "dm-quorum-pages.h"

static unsigned int read_buffer_kb = 8192;
module_param(read_buffer_kb, uint, 0644);
MODULE_PARM_DESC(read_buffer_kb,
		 "Most memory for quorum read buffers per device, KiB");

static unsigned int pages_limit(struct quorum_pages *qp)
{
	unsigned int limit = READ_ONCE(read_buffer_kb) >> (PAGE_SHIFT - 10);

	return max(limit, qp->reserve);
}

static void free_page_list(struct list_head *list)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, list, lru)
		__free_page(page);
}

/* Add @n newly allocated pages to the free list; -ENOMEM if not all. */
static int pages_fill(struct quorum_pages *qp, unsigned int n, gfp_t gfp)
{
	LIST_HEAD(list);
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct page *page = alloc_page(gfp);

		if (!page) {
			free_page_list(&list);
			return -ENOMEM;
		}
		list_add(&page->lru, &list);
	}
	spin_lock_irqsave(&qp->lock, flags);
	list_splice(&list, &qp->free);
	qp->nr_free += n;
	qp->nr_owned += n;
	spin_unlock_irqrestore(&qp->lock, flags);
	return 0;
}

int quorum_pages_init(struct quorum_pages *qp, unsigned int reserve)
{
	spin_lock_init(&qp->lock);
	INIT_LIST_HEAD(&qp->free);
	init_waitqueue_head(&qp->wait);
	qp->nr_free = 0;
	qp->nr_owned = 0;
	qp->reserve = reserve;
	return pages_fill(qp, reserve, GFP_KERNEL);
}

/* Every page must have been given back.  Safe on a zeroed, unset cache. */
void quorum_pages_exit(struct quorum_pages *qp)
{
	if (!qp->free.next)
		return;
	WARN_ON(qp->nr_free != qp->nr_owned);
	free_page_list(&qp->free);
	INIT_LIST_HEAD(&qp->free);
	qp->nr_free = 0;
	qp->nr_owned = 0;
}

/*
 * A new leg count: a larger reserve is allocated now; a smaller one lets
 * the pages over the limit go as they are given back.
 */
int quorum_pages_resize(struct quorum_pages *qp, unsigned int reserve)
{
	unsigned long flags;
	unsigned int more = 0;
	int r = 0;

	spin_lock_irqsave(&qp->lock, flags);
	if (reserve > qp->nr_owned)
		more = reserve - qp->nr_owned;
	spin_unlock_irqrestore(&qp->lock, flags);
	if (more)
		r = pages_fill(qp, more, GFP_NOIO);
	if (!r)
		qp->reserve = reserve;
	return r;
}

static void pages_put(struct quorum_pages *qp, struct page **pages,
		      unsigned int n)
{
	LIST_HEAD(excess);
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&qp->lock, flags);
	for (i = 0; i < n; i++)
		list_add(&pages[i]->lru, &qp->free);
	qp->nr_free += n;
	/* over a lowered limit: let free pages go */
	while (qp->nr_owned > pages_limit(qp) && qp->nr_free) {
		list_move(qp->free.next, &excess);
		qp->nr_free--;
		qp->nr_owned--;
	}
	spin_unlock_irqrestore(&qp->lock, flags);
	free_page_list(&excess);
}

void quorum_pages_put(struct quorum_pages *qp, struct page **pages,
		      unsigned int n)
{
	pages_put(qp, pages, n);
	if (wq_has_sleeper(&qp->wait))
		wake_up(&qp->wait);
}

/*
 * Take @n pages into @pages without sleeping: free ones first, then new
 * ones while the limit allows.  All or nothing.
 */
bool quorum_pages_get(struct quorum_pages *qp, struct page **pages,
		      unsigned int n)
{
	unsigned int cached, fresh, limit, i;
	unsigned long flags;

	spin_lock_irqsave(&qp->lock, flags);
	limit = pages_limit(qp);
	cached = min(n, qp->nr_free);
	fresh = n - cached;
	if (fresh && qp->nr_owned + fresh > limit) {
		spin_unlock_irqrestore(&qp->lock, flags);
		return false;
	}
	for (i = 0; i < cached; i++) {
		pages[i] = list_first_entry(&qp->free, struct page, lru);
		list_del(&pages[i]->lru);
	}
	qp->nr_free -= cached;
	qp->nr_owned += fresh;	/* room taken before allocating */
	spin_unlock_irqrestore(&qp->lock, flags);

	for (i = cached; i < n; i++) {
		pages[i] = alloc_page(GFP_NOWAIT | __GFP_NOWARN);
		if (!pages[i])
			break;
	}
	if (i == n)
		return true;

	spin_lock_irqsave(&qp->lock, flags);
	qp->nr_owned -= n - i;	/* the room not filled */
	spin_unlock_irqrestore(&qp->lock, flags);
	/* no wake-up: it would wake the waiter calling this, to spin */
	pages_put(qp, pages, i);
	return false;
}

/* The same, waiting for pages given back; one caller at a time. */
void quorum_pages_get_wait(struct quorum_pages *qp, struct page **pages,
			   unsigned int n)
{
	wait_event(qp->wait, quorum_pages_get(qp, pages, n));
}

/* The pages the cache owns now, free or in use, for the status. */
unsigned int quorum_pages_owned(struct quorum_pages *qp)
{
	return READ_ONCE(qp->nr_owned);
}
