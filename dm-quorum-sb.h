/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum on-disk metadata format: the superblock every leg carries
 * and the assembly decision made from the copies found on the legs.
 *
 * Pure logic: no I/O and no kernel-only calls, so the unit tests, the
 * fuzzer and the userspace tools build the same file.  Reading and
 * writing the blocks is the metadata layer's business.
 *
 * Layout of a leg's metadata area, which ends at the leg's last whole
 * 4 KiB block (Documentation/dm-quorum.rst, "On-disk format"):
 *
 *   [ intent bitmap | missed bitmap of slot 0 .. slot 15 | sb A | sb B ]
 *
 * Each bitmap is bitmap_blocks blocks, one bit per region.  Superblock
 * copy A is written when events is even, B when it is odd, so a torn
 * write leaves the other copy whole.
 */
#ifndef DM_QUORUM_SB_H
#define DM_QUORUM_SB_H

#ifdef __KERNEL__
#include <linux/bits.h>
#include <linux/types.h>
#else
#include "tools/lib/kcompat.h"
#endif

#include "dm-quorum-args.h"

#define QUORUM_META_BLOCK_SIZE	4096
#define QUORUM_META_BLOCK_SECTORS	(QUORUM_META_BLOCK_SIZE >> 9)
#define QUORUM_META_BITS_PER_BLOCK	(QUORUM_META_BLOCK_SIZE * 8)
#define QUORUM_SB_COPIES	2
#define QUORUM_SB_MAGIC		"DMQUORUM"
#define QUORUM_SB_VERSION	1U
#define QUORUM_UUID_SIZE	16

/* Compatible flags: a reader that does not know one may ignore it. */
#define QUORUM_SB_CLEAN		BIT(0)	/* suspended with no write out */
/* Incompatible features: a reader that does not know one must refuse. */
#define QUORUM_SB_INCOMPAT_BITMAPS	0x1U	/* intent and missed bitmaps kept */
#define QUORUM_SB_INCOMPAT_KNOWN	QUORUM_SB_INCOMPAT_BITMAPS

/* A slot's state in the array, as the superblock records it. */
enum quorum_sb_leg_state {
	QUORUM_SB_EMPTY = 0,	/* no leg in this slot */
	QUORUM_SB_IN_SYNC = 1,	/* holds every acknowledged write */
	QUORUM_SB_FAILED = 2,	/* out of service; its missed map says where */
	QUORUM_SB_REBUILDING = 3,	/* being copied; its missed map is what is left */
};

struct quorum_sb_leg_disk {
	u8 uuid[QUORUM_UUID_SIZE];
	__le32 state;
	__le32 reserved;
	__le64 changed;		/* events when the state last changed */
	__le64 resync_hint;	/* REBUILDING: regions below it are copied */
} __packed;

/* Little-endian; the checksum covers the block from ->version to its end. */
struct quorum_sb_disk {
	u8 magic[8];
	__le32 csum;		/* crc32c, seed ~0 */
	__le32 version;
	__le32 compat;
	__le32 incompat;
	__le64 events;
	u8 array_uuid[QUORUM_UUID_SIZE];
	u8 leg_uuid[QUORUM_UUID_SIZE];
	__le32 slot;		/* this leg's place in the table */
	__le32 threshold;
	__le32 nr_legs;
	__le32 region_sectors;
	__le64 dev_sectors;	/* the device's length */
	__le64 meta_sectors;	/* this area's length */
	__le32 bitmap_blocks;
	u8 reserved[28];
	struct quorum_sb_leg_disk legs[QUORUM_MAX_LEGS];
} __packed;

struct quorum_sb_leg {
	u8 uuid[QUORUM_UUID_SIZE];
	enum quorum_sb_leg_state state;
	u64 changed;
	u64 resync_hint;
};

/* A superblock in CPU order, as unpacked or to be packed. */
struct quorum_sb {
	u64 events;
	u32 compat;
	u32 incompat;
	u8 array_uuid[QUORUM_UUID_SIZE];
	u8 leg_uuid[QUORUM_UUID_SIZE];
	unsigned int slot;
	unsigned int threshold;
	unsigned int nr_legs;
	unsigned int region_sectors;
	u64 dev_sectors;
	struct quorum_sb_leg legs[QUORUM_MAX_LEGS];
};

/* Where things are in a leg's metadata area. */
struct quorum_meta_geom {
	u64 nr_regions;
	u32 bitmap_blocks;	/* per bitmap */
	u64 meta_sectors;	/* the whole area */
};

int quorum_meta_geometry(u64 dev_sectors, unsigned int region_sectors,
			 struct quorum_meta_geom *g);
/* First sector of the area on a leg of @leg_sectors; -ENOSPC if too small. */
int quorum_meta_start(u64 leg_sectors, u64 dev_sectors,
		      const struct quorum_meta_geom *g, u64 *start);
/* Block, from the area's start, of superblock copy @copy. */
u64 quorum_sb_block(const struct quorum_meta_geom *g, unsigned int copy);
/* The copy that the superblock with @events goes to. */
static inline unsigned int quorum_sb_copy(u64 events)
{
	return events & 1;
}

/* Block, from the area's start, of the intent bitmap (@slot < 0) or a missed one. */
u64 quorum_bitmap_block(const struct quorum_meta_geom *g, int slot);

u32 quorum_sb_csum(const void *block);
void quorum_sb_pack(const struct quorum_sb *sb, void *block);

/*
 * What one leg's superblock copies hold: nothing of ours (no magic in
 * either copy), something of ours that does not check, or a superblock.
 */
enum quorum_sb_found {
	QUORUM_SB_BLANK,
	QUORUM_SB_CORRUPT,
	QUORUM_SB_VALID,
	QUORUM_SB_NEWER,	/* a copy of a format this code does not know */
};

/*
 * Unpack and check one block; -ENODATA without our magic, -EINVAL when
 * it is corrupt or inconsistent, -EOPNOTSUPP for a newer format or an
 * unknown incompatible feature.  @why says which check failed.
 */
int quorum_sb_unpack(const void *block, struct quorum_sb *sb,
		     char *why, size_t why_len);

/*
 * The freshest valid copy of a leg's @copies; a copy that does not check
 * is reported in @why even when the other one is used.  A copy of a
 * newer format makes the leg NEWER whatever the other copy holds: the
 * leg's latest state is in a format this code cannot read.
 */
enum quorum_sb_found quorum_sb_pick(const void *const copies[QUORUM_SB_COPIES],
				    struct quorum_sb *sb, char *why,
				    size_t why_len);

/* What a table load found on its legs, in the table's order. */
struct quorum_assembly_in {
	unsigned int nr_legs;
	unsigned int threshold;
	unsigned int region_sectors;
	u64 dev_sectors;
	bool degraded;		/* the table allows a degraded start */
	enum quorum_sb_found found[QUORUM_MAX_LEGS];
	struct quorum_sb sb[QUORUM_MAX_LEGS];	/* where found is VALID */
};

/* How each leg starts: the leg state machine's A, D or S. */
enum quorum_leg_start {
	QUORUM_START_IN_SYNC,	/* A */
	QUORUM_START_FAILED,	/* D: keeps what it missed */
	QUORUM_START_REBUILD,	/* S: copies what it missed */
	QUORUM_START_NEW,	/* S: copies every region */
};

struct quorum_assembly {
	bool new_array;		/* no leg had a superblock */
	unsigned int freshest;	/* table index of the deciding superblock */
	u64 events;		/* its events */
	u8 array_uuid[QUORUM_UUID_SIZE];
	enum quorum_leg_start start[QUORUM_MAX_LEGS];
	/* legs whose intent bitmap counts: every valid copy of the array */
	unsigned long intent_from;
	bool unclean;		/* the freshest was not shut down cleanly */
	bool bitmaps_kept;	/* the freshest's legs keep their bitmaps */
};

int quorum_sb_assemble(const struct quorum_assembly_in *in,
		       struct quorum_assembly *out, char *why, size_t why_len);

const char *quorum_sb_state_name(enum quorum_sb_leg_state state);

#endif /* DM_QUORUM_SB_H */
