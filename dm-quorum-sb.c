// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum on-disk superblock: geometry, packing, checking, and the
 * assembly decision.
 *
 * Every leg carries the array's superblock, in two copies.  A commit
 * raises events by one and goes to every leg in service, so a leg's copy
 * falls behind from the moment the leg is out.  At a table load the
 * freshest valid copy on any leg decides every leg's state:
 *
 *  - a leg the freshest records as FAILED starts failed (D) and keeps
 *    the regions it missed; REBUILDING resumes its copy (S);
 *  - a leg recorded IN_SYNC whose own copy is at most one commit behind
 *    is in sync (A): a crash between the legs' writes of one commit
 *    leaves them one apart, no more;
 *  - a leg with no superblock, a corrupt one, or one further behind than
 *    that, gets every region copied (S);
 *  - legs of another array, the same leg twice, a leg in the wrong slot
 *    or a superblock of a newer format are refused.
 *
 * A device whose legs in sync are not a majority of its legs cannot tell
 * a stale leg from a current one (two legs, one of them failed before a
 * crash: each alone believes itself current), so it only starts when the
 * table says `degraded`.
 */
#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/crc32c.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#else
#include <assert.h>
#endif

#include "dm-quorum-sb.h"

/* the on-disk layout, as Documentation/dm-quorum.rst gives it */
static_assert(sizeof(struct quorum_sb_leg_disk) == 40, "leg entry size");
static_assert(sizeof(struct quorum_sb_disk) == 768, "superblock size");

/* The bitmaps: the intent bitmap, then one missed bitmap per slot. */
#define NR_BITMAPS	(1 + QUORUM_MAX_LEGS)

/* The checksum covers the block from the field after it. */
#define CSUM_FROM	(offsetof(struct quorum_sb_disk, csum) + sizeof(__le32))

int quorum_meta_geometry(u64 dev_sectors, unsigned int region_sectors,
			 struct quorum_meta_geom *g)
{
	unsigned int shift = 0;
	u64 blocks;

	if (!dev_sectors || !is_power_of_2(region_sectors) ||
	    region_sectors < QUORUM_MIN_REGION_SECTORS ||
	    region_sectors > QUORUM_MAX_REGION_SECTORS)
		return -EINVAL;
	while ((1U << shift) < region_sectors)
		shift++;
	/* rounded up without overflow: a hostile length may be near 2^64 */
	g->nr_regions = (dev_sectors >> shift) +
			!!(dev_sectors & (region_sectors - 1));
	if (g->nr_regions > QUORUM_MAX_REGIONS)
		return -EINVAL;
	g->bitmap_blocks = DIV_ROUND_UP_ULL(g->nr_regions,
					    QUORUM_META_BITS_PER_BLOCK);
	blocks = QUORUM_SB_COPIES + (u64)NR_BITMAPS * g->bitmap_blocks;
	g->meta_sectors = blocks * QUORUM_META_BLOCK_SECTORS;
	return 0;
}

int quorum_meta_start(u64 leg_sectors, u64 dev_sectors,
		      const struct quorum_meta_geom *g, u64 *start)
{
	/* the area ends at the leg's last whole block */
	u64 end = leg_sectors & ~(u64)(QUORUM_META_BLOCK_SECTORS - 1);

	if (end < g->meta_sectors || end - g->meta_sectors < dev_sectors)
		return -ENOSPC;
	*start = end - g->meta_sectors;
	return 0;
}

u64 quorum_sb_block(const struct quorum_meta_geom *g, unsigned int copy)
{
	return (u64)NR_BITMAPS * g->bitmap_blocks + copy;
}

u64 quorum_bitmap_block(const struct quorum_meta_geom *g, int slot)
{
	return (u64)(slot + 1) * g->bitmap_blocks;
}

u32 quorum_sb_csum(const void *block)
{
	return crc32c(~0U, (const u8 *)block + CSUM_FROM,
		      QUORUM_META_BLOCK_SIZE - CSUM_FROM);
}

void quorum_sb_pack(const struct quorum_sb *sb, void *block)
{
	struct quorum_sb_disk *d = block;
	struct quorum_meta_geom g = { 0 };
	unsigned int i;

	/* A superblock that fails this was never unpacked or checked. */
	quorum_meta_geometry(sb->dev_sectors, sb->region_sectors, &g);
	memset(block, 0, QUORUM_META_BLOCK_SIZE);
	memcpy(d->magic, QUORUM_SB_MAGIC, sizeof(d->magic));
	d->version = cpu_to_le32(QUORUM_SB_VERSION);
	d->compat = cpu_to_le32(sb->compat);
	d->incompat = cpu_to_le32(QUORUM_SB_INCOMPAT_BITMAPS);
	d->events = cpu_to_le64(sb->events);
	memcpy(d->array_uuid, sb->array_uuid, QUORUM_UUID_SIZE);
	memcpy(d->leg_uuid, sb->leg_uuid, QUORUM_UUID_SIZE);
	d->slot = cpu_to_le32(sb->slot);
	d->threshold = cpu_to_le32(sb->threshold);
	d->nr_legs = cpu_to_le32(sb->nr_legs);
	d->region_sectors = cpu_to_le32(sb->region_sectors);
	d->dev_sectors = cpu_to_le64(sb->dev_sectors);
	d->meta_sectors = cpu_to_le64(g.meta_sectors);
	d->bitmap_blocks = cpu_to_le32(g.bitmap_blocks);
	for (i = 0; i < QUORUM_MAX_LEGS; i++) {
		memcpy(d->legs[i].uuid, sb->legs[i].uuid, QUORUM_UUID_SIZE);
		d->legs[i].state = cpu_to_le32(sb->legs[i].state);
		d->legs[i].changed = cpu_to_le64(sb->legs[i].changed);
		d->legs[i].resync_hint = cpu_to_le64(sb->legs[i].resync_hint);
	}
	d->csum = cpu_to_le32(quorum_sb_csum(block));
}

static bool uuid_zero(const u8 *uuid)
{
	static const u8 zero[QUORUM_UUID_SIZE];

	return !memcmp(uuid, zero, QUORUM_UUID_SIZE);
}

static bool uuid_eq(const u8 *a, const u8 *b)
{
	return !memcmp(a, b, QUORUM_UUID_SIZE);
}

/* The leg table of a superblock whose header checked. */
static int unpack_legs(const struct quorum_sb_disk *d, struct quorum_sb *sb,
		       const struct quorum_meta_geom *g, char *why,
		       size_t why_len)
{
	struct quorum_sb_leg *l;
	unsigned int i, j;
	u32 state;

	for (i = 0; i < QUORUM_MAX_LEGS; i++) {
		l = &sb->legs[i];
		memcpy(l->uuid, d->legs[i].uuid, QUORUM_UUID_SIZE);
		state = le32_to_cpu(d->legs[i].state);
		l->changed = le64_to_cpu(d->legs[i].changed);
		l->resync_hint = le64_to_cpu(d->legs[i].resync_hint);
		if (i >= sb->nr_legs) {
			if (state != QUORUM_SB_EMPTY || !uuid_zero(l->uuid) ||
			    l->changed || l->resync_hint)
				goto bad;
			continue;
		}
		if (state != QUORUM_SB_IN_SYNC && state != QUORUM_SB_FAILED &&
		    state != QUORUM_SB_REBUILDING)
			goto bad;
		l->state = state;
		if (uuid_zero(l->uuid) || l->changed > sb->events ||
		    l->resync_hint > g->nr_regions)
			goto bad;
		for (j = 0; j < i; j++)
			if (uuid_eq(l->uuid, sb->legs[j].uuid)) {
				snprintf(why, why_len,
					 "slots %u and %u hold the same leg",
					 j, i);
				return -EINVAL;
			}
	}
	if (!uuid_eq(sb->legs[sb->slot].uuid, sb->leg_uuid)) {
		snprintf(why, why_len, "its slot %u records another leg",
			 sb->slot);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(why, why_len, "slot %u's entry is invalid", i);
	return -EINVAL;
}

int quorum_sb_unpack(const void *block, struct quorum_sb *sb,
		     char *why, size_t why_len)
{
	const struct quorum_sb_disk *d = block;
	struct quorum_meta_geom g;
	u32 version, incompat;

	memset(sb, 0, sizeof(*sb));
	if (memcmp(d->magic, QUORUM_SB_MAGIC, sizeof(d->magic))) {
		snprintf(why, why_len, "no dm-quorum superblock");
		return -ENODATA;
	}
	if (le32_to_cpu(d->csum) != quorum_sb_csum(block)) {
		snprintf(why, why_len, "checksum mismatch");
		return -EINVAL;
	}
	version = le32_to_cpu(d->version);
	if (version > QUORUM_SB_VERSION) {
		snprintf(why, why_len,
			 "format version %u is newer than this module's %u",
			 version, QUORUM_SB_VERSION);
		return -EOPNOTSUPP;
	}
	if (version < 1) {
		snprintf(why, why_len, "invalid format version %u", version);
		return -EINVAL;
	}
	incompat = le32_to_cpu(d->incompat);
	if (incompat & ~QUORUM_SB_INCOMPAT_KNOWN) {
		snprintf(why, why_len, "unknown incompatible features 0x%x",
			 incompat & ~QUORUM_SB_INCOMPAT_KNOWN);
		return -EOPNOTSUPP;
	}
	sb->compat = le32_to_cpu(d->compat);
	sb->incompat = incompat;
	sb->events = le64_to_cpu(d->events);
	memcpy(sb->array_uuid, d->array_uuid, QUORUM_UUID_SIZE);
	memcpy(sb->leg_uuid, d->leg_uuid, QUORUM_UUID_SIZE);
	sb->slot = le32_to_cpu(d->slot);
	sb->threshold = le32_to_cpu(d->threshold);
	sb->nr_legs = le32_to_cpu(d->nr_legs);
	sb->region_sectors = le32_to_cpu(d->region_sectors);
	sb->dev_sectors = le64_to_cpu(d->dev_sectors);

	/* a commit raises events: one that cannot be raised is no superblock */
	if (sb->events == ~0ULL) {
		snprintf(why, why_len, "events at its limit");
		return -EINVAL;
	}
	if (uuid_zero(sb->array_uuid) || uuid_zero(sb->leg_uuid)) {
		snprintf(why, why_len, "null uuid");
		return -EINVAL;
	}
	if (sb->nr_legs < 1 || sb->nr_legs > QUORUM_MAX_LEGS ||
	    sb->threshold < 1 || sb->threshold > sb->nr_legs ||
	    sb->slot >= sb->nr_legs) {
		snprintf(why, why_len,
			 "invalid threshold %u, legs %u or slot %u",
			 sb->threshold, sb->nr_legs, sb->slot);
		return -EINVAL;
	}
	if (quorum_meta_geometry(sb->dev_sectors, sb->region_sectors, &g) ||
	    le64_to_cpu(d->meta_sectors) != g.meta_sectors ||
	    le32_to_cpu(d->bitmap_blocks) != g.bitmap_blocks) {
		snprintf(why, why_len,
			 "invalid geometry (length %llu, region size %u)",
			 (unsigned long long)sb->dev_sectors,
			 sb->region_sectors);
		return -EINVAL;
	}
	return unpack_legs(d, sb, &g, why, why_len);
}

enum quorum_sb_found quorum_sb_pick(const void *const copies[QUORUM_SB_COPIES],
				    struct quorum_sb *sb, char *why,
				    size_t why_len)
{
	struct quorum_sb other;
	char other_why[96];
	bool ours = false, found = false, newer = false;
	unsigned int c;

	why[0] = '\0';
	for (c = 0; c < QUORUM_SB_COPIES; c++) {
		int r = quorum_sb_unpack(copies[c], &other, other_why,
					 sizeof(other_why));

		if (r == -ENODATA)
			continue;
		ours = true;
		if (r) {
			snprintf(why, why_len, "copy %c: %s", 'A' + c,
				 other_why);
			newer |= r == -EOPNOTSUPP;
			continue;
		}
		if (!found || other.events > sb->events)
			*sb = other;
		found = true;
	}
	if (newer)
		return QUORUM_SB_NEWER;
	if (found)
		return QUORUM_SB_VALID;
	return ours ? QUORUM_SB_CORRUPT : QUORUM_SB_BLANK;
}

const char *quorum_sb_state_name(enum quorum_sb_leg_state state)
{
	switch (state) {
	case QUORUM_SB_EMPTY:
		return "empty";
	case QUORUM_SB_IN_SYNC:
		return "in_sync";
	case QUORUM_SB_FAILED:
		return "failed";
	case QUORUM_SB_REBUILDING:
		return "rebuilding";
	}
	return "invalid";
}

static int refuse(char *why, size_t why_len, const char *msg)
{
	snprintf(why, why_len, "%s", msg);
	return -EINVAL;
}

/* Every leg blank: a new array, every leg taken as it is. */
static void assemble_new(const struct quorum_assembly_in *in,
			 struct quorum_assembly *out)
{
	unsigned int i;

	out->new_array = true;
	for (i = 0; i < in->nr_legs; i++)
		out->start[i] = QUORUM_START_IN_SYNC;
}

static bool same_legs(const struct quorum_sb *a, const struct quorum_sb *b)
{
	unsigned int i;

	if (a->nr_legs != b->nr_legs)
		return false;
	for (i = 0; i < a->nr_legs; i++) {
		const struct quorum_sb_leg *x = &a->legs[i], *y = &b->legs[i];

		if (!uuid_eq(x->uuid, y->uuid) || x->state != y->state ||
		    x->changed != y->changed ||
		    x->resync_hint != y->resync_hint)
			return false;
	}
	return true;
}

/* The valid copies agree on the array and none appears twice. */
static int check_members(const struct quorum_assembly_in *in,
			 const struct quorum_sb *fresh, char *why,
			 size_t why_len)
{
	unsigned int i, j;

	for (i = 0; i < in->nr_legs; i++) {
		if (in->found[i] != QUORUM_SB_VALID)
			continue;
		if (!uuid_eq(in->sb[i].array_uuid, fresh->array_uuid)) {
			snprintf(why, why_len,
				 "leg %u belongs to another array", i);
			return -EINVAL;
		}
		/*
		 * One commit writes the same leg table to every leg: two
		 * tables at the same events mean legs that went on apart.
		 */
		if (in->sb[i].events == fresh->events &&
		    !same_legs(&in->sb[i], fresh)) {
			snprintf(why, why_len,
				 "legs %u and %u hold different superblocks of the same age (the legs were in use apart)",
				 (unsigned int)(fresh - in->sb), i);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (in->found[j] == QUORUM_SB_VALID &&
			    uuid_eq(in->sb[i].leg_uuid, in->sb[j].leg_uuid)) {
				snprintf(why, why_len,
					 "legs %u and %u are the same leg (one device twice, or a copy)",
					 j, i);
				return -EINVAL;
			}
	}
	if (fresh->nr_legs != in->nr_legs) {
		snprintf(why, why_len, "the table has %u legs, the array %u",
			 in->nr_legs, fresh->nr_legs);
		return -EINVAL;
	}
	if (fresh->dev_sectors != in->dev_sectors) {
		snprintf(why, why_len,
			 "the table's length is %llu sectors, the array's %llu",
			 (unsigned long long)in->dev_sectors,
			 (unsigned long long)fresh->dev_sectors);
		return -EINVAL;
	}
	if (fresh->region_sectors != in->region_sectors) {
		snprintf(why, why_len,
			 "the table's region size is %u sectors, the array's %u",
			 in->region_sectors, fresh->region_sectors);
		return -EINVAL;
	}
	return 0;
}

/* The slot of @sb's array that holds the leg @uuid, or -1. */
static int slot_of(const struct quorum_sb *sb, const u8 *uuid)
{
	unsigned int i;

	for (i = 0; i < sb->nr_legs; i++)
		if (uuid_eq(sb->legs[i].uuid, uuid))
			return (int)i;
	return -1;
}

/* Leg @i of the table, against the freshest superblock's slot @i. */
static int leg_start(const struct quorum_assembly_in *in,
		     const struct quorum_sb *fresh, unsigned int i,
		     enum quorum_leg_start *start, char *why, size_t why_len)
{
	const struct quorum_sb_leg *slot = &fresh->legs[i];
	const struct quorum_sb *sb = &in->sb[i];

	if (in->found[i] != QUORUM_SB_VALID) {
		*start = QUORUM_START_NEW;
		return 0;
	}
	if (!uuid_eq(sb->leg_uuid, slot->uuid)) {
		int other = slot_of(fresh, sb->leg_uuid);

		if (other >= 0) {
			snprintf(why, why_len,
				 "leg %u is slot %d of the array: give the legs in the array's order",
				 i, other);
			return -EINVAL;
		}
		snprintf(why, why_len,
			 "leg %u is no longer a member of the array (its superblock is at events %llu, the array's at %llu)",
			 i, (unsigned long long)sb->events,
			 (unsigned long long)fresh->events);
		return -EINVAL;
	}
	switch (slot->state) {
	case QUORUM_SB_FAILED:
		*start = QUORUM_START_FAILED;
		break;
	case QUORUM_SB_REBUILDING:
		*start = QUORUM_START_REBUILD;
		break;
	default:
		*start = fresh->events - sb->events <= 1 ?
			 QUORUM_START_IN_SYNC : QUORUM_START_NEW;
		break;
	}
	return 0;
}

int quorum_sb_assemble(const struct quorum_assembly_in *in,
		       struct quorum_assembly *out, char *why, size_t why_len)
{
	const struct quorum_sb *fresh = NULL;
	unsigned int i, in_sync = 0;
	bool corrupt = false;
	int r;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (in->nr_legs < 1 || in->nr_legs > QUORUM_MAX_LEGS)
		return refuse(why, why_len, "invalid number of legs");
	for (i = 0; i < in->nr_legs; i++) {
		if (in->found[i] == QUORUM_SB_NEWER) {
			snprintf(why, why_len,
				 "leg %u has metadata of a newer format: use the dm-quorum that wrote it",
				 i);
			return -EOPNOTSUPP;
		}
		if (in->found[i] == QUORUM_SB_CORRUPT)
			corrupt = true;
		if (in->found[i] != QUORUM_SB_VALID)
			continue;
		if (!fresh || in->sb[i].events > fresh->events) {
			fresh = &in->sb[i];
			out->freshest = i;
		}
	}
	if (!fresh) {
		if (corrupt)
			return refuse(why, why_len,
				      "no leg has a valid superblock, and some have a corrupt one");
		assemble_new(in, out);
		return 0;
	}
	r = check_members(in, fresh, why, why_len);
	if (r)
		return r;
	out->events = fresh->events;
	memcpy(out->array_uuid, fresh->array_uuid, QUORUM_UUID_SIZE);
	out->unclean = !(fresh->compat & QUORUM_SB_CLEAN);
	out->bitmaps_kept = fresh->incompat & QUORUM_SB_INCOMPAT_BITMAPS;
	for (i = 0; i < in->nr_legs; i++) {
		r = leg_start(in, fresh, i, &out->start[i], why, why_len);
		if (r)
			return r;
		if (out->start[i] == QUORUM_START_IN_SYNC)
			in_sync++;
		if (out->start[i] == QUORUM_START_IN_SYNC ||
		    out->start[i] == QUORUM_START_REBUILD)
			out->intent_from |= 1UL << i;
	}
	if (!in_sync)
		return refuse(why, why_len, "no leg is in sync");
	/* not a read could reach its quorum, nor a resync start */
	if (in_sync < in->threshold) {
		snprintf(why, why_len,
			 "only %u of %u legs are in sync, fewer than the threshold %u: load with a lower threshold to start",
			 in_sync, in->nr_legs, in->threshold);
		return -EINVAL;
	}
	if (in_sync * 2 <= in->nr_legs && !in->degraded) {
		snprintf(why, why_len,
			 "only %u of %u legs are known to be current, not a majority: load with the degraded option to start anyway",
			 in_sync, in->nr_legs);
		return -EINVAL;
	}
	return 0;
}
