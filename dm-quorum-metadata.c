// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum metadata through dm-bufio: one client per leg, over the
 * metadata area at the leg's end (dm-quorum-sb.h has the layout).
 *
 * At a table load both superblock copies of every leg are read and the
 * assembly rules of dm-quorum-sb.c decide how each leg starts.  A commit
 * raises events by one and writes the superblock, into the copy that
 * events selects, to every leg the caller says is writable (a failed leg
 * is not written, so its own copy falls behind), then waits for the
 * writes and flushes each leg's cache.
 *
 * The bitmaps (the write-intent one and each slot's missed map,
 * dm-quorum-intent.c) are written a block at a time from the caller's
 * in-memory copy, to every leg the caller names, and each of those legs
 * is flushed before the call returns: a set bit is durable before the
 * writes it covers are sent.
 *
 * The leg set may change while the device runs (replace, add_leg,
 * remove_leg): a new device has both its superblock copies zeroed before
 * it joins, so nothing it held before can pass for its state (until its
 * first commit a load takes it for blank), and gets a uuid of its own; a
 * removed leg is left as it was, behind the array, and a later load
 * refuses it as no longer a member.
 */
#include <linux/device-mapper.h>
#include <linux/dm-bufio.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uuid.h>

#include "dm-quorum-metadata.h"

#define DM_MSG_PREFIX "quorum"

struct quorum_md {
	const char *name;		/* the device's, for the log */
	struct quorum_meta_geom geom;
	struct dm_bufio_client *bufio[QUORUM_MAX_LEGS];

	atomic64_t writes;		/* metadata blocks written, all legs */

	struct mutex lock;		/* commits, and the fields below */
	bool committed;			/* by this table, of the leg set now */
	unsigned long written;		/* the legs the last commit reached */
	struct quorum_sb sb;		/* the last one, as committed or read */
};

static int check_leg(struct quorum_md *md, struct block_device *bdev,
		     char **error)
{
	u64 start;

	if (quorum_meta_start(bdev_nr_sectors(bdev), md->sb.dev_sectors,
			      &md->geom, &start)) {
		*error = "Leg too small for the device and its metadata";
		return -ENOSPC;
	}
	return 0;
}

static struct dm_bufio_client *open_leg(struct quorum_md *md,
					unsigned int leg,
					struct block_device *bdev,
					char **error)
{
	u64 start, size = bdev_nr_sectors(bdev);
	struct dm_bufio_client *c;

	if (check_leg(md, bdev, error)) {
		DMERR("%s: leg %u has %llu sectors: too small for %llu + %llu of metadata",
		      md->name, leg, size,
		      (unsigned long long)md->sb.dev_sectors,
		      (unsigned long long)md->geom.meta_sectors);
		return ERR_PTR(-ENOSPC);
	}
	quorum_meta_start(size, md->sb.dev_sectors, &md->geom, &start);
	c = dm_bufio_client_create(bdev, QUORUM_META_BLOCK_SIZE, 1, 0, NULL,
				   NULL, 0);
	if (IS_ERR(c)) {
		*error = "Cannot create the metadata client";
		return c;
	}
	dm_bufio_set_sector_offset(c, start);
	return c;
}

/*
 * Both copies of @leg's superblock.  A copy that cannot be read makes the
 * leg's metadata corrupt as a whole: reading it as blank would make a leg
 * that cannot be read look new, and every such leg a new array.
 */
static enum quorum_sb_found read_leg(struct quorum_md *md, unsigned int leg,
				     struct quorum_sb *sb)
{
	struct dm_buffer *b[QUORUM_SB_COPIES] = { NULL };
	const void *copies[QUORUM_SB_COPIES];
	enum quorum_sb_found found;
	unsigned int c;
	char why[96];
	void *p;

	for (c = 0; c < QUORUM_SB_COPIES; c++) {
		p = dm_bufio_read(md->bufio[leg], quorum_sb_block(&md->geom, c),
				  &b[c]);
		if (IS_ERR(p)) {
			DMERR("%s: leg %u: superblock copy %c unreadable: %ld",
			      md->name, leg, 'A' + c, PTR_ERR(p));
			b[c] = NULL;
			found = QUORUM_SB_CORRUPT;
			goto out;
		}
		copies[c] = p;
	}
	found = quorum_sb_pick(copies, sb, why, sizeof(why));
	if (why[0])
		DMWARN("%s: leg %u: superblock %s", md->name, leg, why);
out:
	for (c = 0; c < QUORUM_SB_COPIES; c++)
		if (b[c])
			dm_bufio_release(b[c]);
	return found;
}

/*
 * What the first commit starts from: the freshest superblock the legs
 * held, or a new array.  A leg that starts new is another device (or one
 * that fell too far behind): it gets a uuid of its own.
 */
static void adopt(struct quorum_md *md, const struct quorum_assembly_in *in,
		  const struct quorum_assembly *as)
{
	struct quorum_sb *sb = &md->sb;
	const struct quorum_sb *fresh;
	unsigned int i;

	if (as->new_array) {
		generate_random_uuid(sb->array_uuid);
		for (i = 0; i < md->sb.nr_legs; i++) {
			generate_random_uuid(sb->legs[i].uuid);
			sb->legs[i].state = QUORUM_SB_IN_SYNC;
		}
		return;
	}
	fresh = &in->sb[as->freshest];
	sb->events = fresh->events;
	sb->compat = fresh->compat;
	sb->threshold = fresh->threshold;
	memcpy(sb->array_uuid, fresh->array_uuid, QUORUM_UUID_SIZE);
	memcpy(sb->legs, fresh->legs, sizeof(sb->legs));
	for (i = 0; i < sb->nr_legs; i++)
		if (as->start[i] == QUORUM_START_NEW)
			generate_random_uuid(sb->legs[i].uuid);
}

struct quorum_md *quorum_md_open(const char *name,
				 struct block_device *const *bdevs,
				 unsigned int nr_legs, unsigned int threshold,
				 sector_t len, unsigned int region_sectors,
				 bool degraded,
				 struct quorum_assembly *as, char **error)
{
	struct quorum_assembly_in *in;
	struct quorum_md *md;
	char why[160];
	unsigned int i;
	int r;

	md = kzalloc(sizeof(*md), GFP_KERNEL);
	in = kzalloc(sizeof(*in), GFP_KERNEL);
	if (!md || !in) {
		*error = "Cannot allocate the metadata context";
		r = -ENOMEM;
		goto bad;
	}
	md->name = name;
	mutex_init(&md->lock);
	md->sb.nr_legs = nr_legs;
	md->sb.dev_sectors = len;
	md->sb.region_sectors = region_sectors;
	r = quorum_meta_geometry(len, region_sectors, &md->geom);
	if (r) {
		*error = "Invalid metadata geometry";
		goto bad;
	}

	in->nr_legs = nr_legs;
	in->threshold = threshold;
	in->region_sectors = region_sectors;
	in->dev_sectors = len;
	in->degraded = degraded;
	for (i = 0; i < nr_legs; i++) {
		md->bufio[i] = open_leg(md, i, bdevs[i], error);
		if (IS_ERR(md->bufio[i])) {
			r = PTR_ERR(md->bufio[i]);
			md->bufio[i] = NULL;
			goto bad;
		}
		in->found[i] = read_leg(md, i, &in->sb[i]);
	}
	r = quorum_sb_assemble(in, as, why, sizeof(why));
	if (r) {
		DMERR("%s: metadata refused: %s", name, why);
		*error = "Metadata refused (the reason is in the kernel log)";
		goto bad;
	}
	adopt(md, in, as);
	kfree(in);
	return md;

bad:
	kfree(in);
	if (md)
		quorum_md_close(md);
	return ERR_PTR(r);
}

void quorum_md_close(struct quorum_md *md)
{
	unsigned int i;

	for (i = 0; i < md->sb.nr_legs; i++)
		if (md->bufio[i])
			dm_bufio_client_destroy(md->bufio[i]);
	mutex_destroy(&md->lock);
	kfree(md);
}

/* Nothing to write: the same leg set, states, threshold and clean flag. */
static bool unchanged(struct quorum_md *md,
		      const enum quorum_sb_leg_state *states,
		      unsigned int threshold, bool clean)
{
	unsigned int i;

	if (!md->committed || md->sb.threshold != threshold ||
	    !(md->sb.compat & QUORUM_SB_CLEAN) != !clean)
		return false;
	for (i = 0; i < md->sb.nr_legs; i++)
		if (md->sb.legs[i].state != states[i])
			return false;
	return true;
}

/* Into @leg's bufio cache; written by the caller. */
static int put_sb(struct quorum_md *md, unsigned int leg)
{
	struct dm_buffer *b;
	void *p;

	md->sb.slot = leg;
	memcpy(md->sb.leg_uuid, md->sb.legs[leg].uuid, QUORUM_UUID_SIZE);
	p = dm_bufio_new(md->bufio[leg],
			 quorum_sb_block(&md->geom, quorum_sb_copy(md->sb.events)),
			 &b);
	if (IS_ERR(p))
		return PTR_ERR(p);
	quorum_sb_pack(&md->sb, p);
	dm_bufio_mark_buffer_dirty(b);
	dm_bufio_release(b);
	dm_bufio_write_dirty_buffers_async(md->bufio[leg]);
	return 0;
}

unsigned long quorum_md_commit(struct quorum_md *md,
			       const enum quorum_sb_leg_state *states,
			       unsigned int threshold, unsigned long writable,
			       bool clean, unsigned long *written)
{
	unsigned long sent = 0, failed = 0;
	struct quorum_sb *sb = &md->sb;
	unsigned int i;

	mutex_lock(&md->lock);
	if (unchanged(md, states, threshold, clean)) {
		*written = md->written;
		goto out;
	}
	WRITE_ONCE(sb->events, sb->events + 1);
	sb->threshold = threshold;
	sb->compat = clean ? QUORUM_SB_CLEAN : 0;
	for (i = 0; i < md->sb.nr_legs; i++) {
		if (sb->legs[i].state != states[i]) {
			sb->legs[i].state = states[i];
			sb->legs[i].changed = sb->events;
		}
		sb->legs[i].resync_hint = 0;
	}
	/* every leg's write in flight at once, then each waited for */
	for (i = 0; i < md->sb.nr_legs; i++) {
		if (!(writable & BIT(i)))
			continue;
		if (put_sb(md, i))
			failed |= BIT(i);
		else
			sent |= BIT(i);
	}
	for (i = 0; i < md->sb.nr_legs; i++)
		if ((sent & BIT(i)) && dm_bufio_write_dirty_buffers(md->bufio[i]))
			failed |= BIT(i);
	atomic64_add(hweight_long(sent), &md->writes);
	md->written = sent & ~failed;
	/* one that fewer legs than the threshold hold is written again */
	md->committed = hweight_long(md->written) >= threshold;
	*written = md->written;
out:
	mutex_unlock(&md->lock);
	return failed;
}

void quorum_md_take_over(struct quorum_md *md, struct quorum_md *old)
{
	u64 events;

	mutex_lock(&old->lock);
	events = old->sb.events;
	mutex_unlock(&old->lock);
	mutex_lock(&md->lock);
	if (events > md->sb.events)
		md->sb.events = events;
	mutex_unlock(&md->lock);
}

/* ---- the leg set ------------------------------------------------------- */

struct dm_bufio_client *quorum_md_prepare_leg(struct quorum_md *md,
					      struct block_device *bdev,
					      char **error)
{
	struct dm_bufio_client *c = open_leg(md, md->sb.nr_legs, bdev, error);
	struct dm_buffer *b;
	unsigned int copy;
	int r = 0;
	void *p;

	if (IS_ERR(c))
		return c;
	for (copy = 0; copy < QUORUM_SB_COPIES; copy++) {
		p = dm_bufio_new(c, quorum_sb_block(&md->geom, copy), &b);
		if (IS_ERR(p)) {
			r = PTR_ERR(p);
			break;
		}
		memset(p, 0, QUORUM_META_BLOCK_SIZE);
		dm_bufio_mark_buffer_dirty(b);
		dm_bufio_release(b);
	}
	atomic64_add(copy, &md->writes);
	r = r ?: dm_bufio_write_dirty_buffers(c);
	if (r) {
		*error = "Cannot write its metadata area";
		dm_bufio_client_destroy(c);
		return ERR_PTR(r);
	}
	return c;
}

void quorum_md_unprepare_leg(struct dm_bufio_client *c)
{
	dm_bufio_client_destroy(c);
}

void quorum_md_set_slot(struct quorum_md *md, unsigned int slot,
			struct dm_bufio_client *c)
{
	mutex_lock(&md->lock);
	if (slot == md->sb.nr_legs)
		md->sb.nr_legs++;
	else
		dm_bufio_client_destroy(md->bufio[slot]);
	md->bufio[slot] = c;
	generate_random_uuid(md->sb.legs[slot].uuid);
	md->sb.legs[slot].state = QUORUM_SB_EMPTY;
	md->sb.legs[slot].changed = md->sb.events;
	md->committed = false;
	mutex_unlock(&md->lock);
}

void quorum_md_remove_slot(struct quorum_md *md, unsigned int slot)
{
	unsigned int n;

	mutex_lock(&md->lock);
	n = --md->sb.nr_legs;
	dm_bufio_client_destroy(md->bufio[slot]);
	memmove(&md->bufio[slot], &md->bufio[slot + 1],
		(n - slot) * sizeof(md->bufio[0]));
	md->bufio[n] = NULL;
	memmove(&md->sb.legs[slot], &md->sb.legs[slot + 1],
		(n - slot) * sizeof(md->sb.legs[0]));
	memset(&md->sb.legs[n], 0, sizeof(md->sb.legs[0]));
	md->committed = false;
	mutex_unlock(&md->lock);
}

/* ---- bitmaps ----------------------------------------------------------- */

/* A bitmap block's bytes: bit r is bit r % 8 of byte r / 8. */
static void bits_to_block(void *dst, const unsigned long *a,
			  const unsigned long *b, u64 block)
{
	unsigned int i, words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG;
	const unsigned long *pa = a + block * words;
	const unsigned long *pb = b ? b + block * words : NULL;

	for (i = 0; i < words; i++) {
		unsigned long w = pa[i] | (pb ? pb[i] : 0);

#if BITS_PER_LONG == 64
		((__le64 *)dst)[i] = cpu_to_le64(w);
#else
		((__le32 *)dst)[i] = cpu_to_le32(w);
#endif
	}
}

static void block_to_bits(unsigned long *dst, const void *src, u64 block)
{
	unsigned int i, words = QUORUM_META_BITS_PER_BLOCK / BITS_PER_LONG;
	unsigned long *p = dst + block * words;

	for (i = 0; i < words; i++)
#if BITS_PER_LONG == 64
		p[i] |= le64_to_cpu(((const __le64 *)src)[i]);
#else
		p[i] |= le32_to_cpu(((const __le32 *)src)[i]);
#endif
}

u32 quorum_md_bitmap_blocks(struct quorum_md *md)
{
	return md->geom.bitmap_blocks;
}

u64 quorum_md_events(struct quorum_md *md)
{
	return READ_ONCE(md->sb.events);
}

u64 quorum_md_writes(struct quorum_md *md)
{
	return atomic64_read(&md->writes);
}

unsigned long quorum_md_flush(struct quorum_md *md, unsigned long legs)
{
	unsigned long failed = 0;
	unsigned int i;

	for_each_set_bit(i, &legs, md->sb.nr_legs)
		if (dm_bufio_issue_flush(md->bufio[i]))
			failed |= BIT(i);
	return failed;
}

unsigned long quorum_md_write_bitmap(struct quorum_md *md, int slot,
				     const unsigned long *a,
				     const unsigned long *b,
				     const unsigned long *blocks,
				     unsigned long legs)
{
	u64 first = quorum_bitmap_block(&md->geom, slot);
	unsigned long failed = 0, blk;
	struct dm_buffer *buf;
	unsigned int i;
	void *p;

	for_each_set_bit(i, &legs, md->sb.nr_legs) {
		for_each_set_bit(blk, blocks, md->geom.bitmap_blocks) {
			p = dm_bufio_new(md->bufio[i], first + blk, &buf);
			if (IS_ERR(p)) {
				failed |= BIT(i);
				break;
			}
			bits_to_block(p, a, b, blk);
			dm_bufio_mark_buffer_dirty(buf);
			dm_bufio_release(buf);
			atomic64_inc(&md->writes);
		}
		dm_bufio_write_dirty_buffers_async(md->bufio[i]);
	}
	/* in flight on every leg at once, then each waited for and flushed */
	for_each_set_bit(i, &legs, md->sb.nr_legs)
		if (dm_bufio_write_dirty_buffers(md->bufio[i]))
			failed |= BIT(i);
	return failed;
}

unsigned long quorum_md_read_bitmap(struct quorum_md *md, int slot,
				    unsigned long *bits, unsigned long legs)
{
	u64 first = quorum_bitmap_block(&md->geom, slot), blk;
	unsigned long failed = 0;
	struct dm_buffer *buf;
	unsigned int i;
	void *p;

	for_each_set_bit(i, &legs, md->sb.nr_legs) {
		for (blk = 0; blk < md->geom.bitmap_blocks; blk++) {
			p = dm_bufio_read(md->bufio[i], first + blk, &buf);
			if (IS_ERR(p)) {
				DMERR("%s: leg %u: bitmap block %llu unreadable: %ld",
				      md->name, i, (unsigned long long)blk,
				      PTR_ERR(p));
				failed |= BIT(i);
				break;
			}
			block_to_bits(bits, p, blk);
			dm_bufio_release(buf);
		}
		/* read once, at load: the cache need not keep them */
		dm_bufio_forget_buffers(md->bufio[i], first,
					md->geom.bitmap_blocks);
	}
	return failed;
}
