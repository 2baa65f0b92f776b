// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the on-disk superblock (dm-quorum-sb.c): geometry,
 * packing and checking, the choice between a leg's two copies, and the
 * assembly decision across legs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dm-quorum-sb.h"

#define DEV_SECTORS	65536ULL	/* 32 MiB */
#define REGION		2048U

static u8 block[QUORUM_META_BLOCK_SIZE];
static u8 other[QUORUM_META_BLOCK_SIZE];
static char why[256];

static void uuid_of(u8 *uuid, unsigned int array, unsigned int leg)
{
	memset(uuid, 0, QUORUM_UUID_SIZE);
	uuid[0] = (u8)array;
	uuid[1] = (u8)leg;
	uuid[15] = 0x5a;
}

/* Leg @slot's superblock of a healthy array of @nr legs at @events. */
static void sb_init(struct quorum_sb *sb, unsigned int nr, unsigned int slot,
		    u64 events)
{
	unsigned int i;

	memset(sb, 0, sizeof(*sb));
	sb->events = events;
	uuid_of(sb->array_uuid, 1, 0xff);
	uuid_of(sb->leg_uuid, 1, slot);
	sb->slot = slot;
	sb->threshold = nr > 1 ? 2 : 1;
	sb->nr_legs = nr;
	sb->region_sectors = REGION;
	sb->dev_sectors = DEV_SECTORS;
	for (i = 0; i < nr; i++) {
		uuid_of(sb->legs[i].uuid, 1, i);
		sb->legs[i].state = QUORUM_SB_IN_SYNC;
	}
}

static int unpack(struct quorum_sb *sb)
{
	return quorum_sb_unpack(block, sb, why, sizeof(why));
}

/* Change one byte of packed block @b, keeping the checksum right. */
static void poke_in(u8 *b, size_t off, u8 v)
{
	struct quorum_sb_disk *d = (struct quorum_sb_disk *)b;

	b[off] = v;
	d->csum = cpu_to_le32(quorum_sb_csum(b));
}

static void poke(size_t off, u8 v)
{
	poke_in(block, off, v);
}

static void test_geometry(void **state)
{
	struct quorum_meta_geom g;
	u64 start;

	(void)state;
	assert_int_equal(quorum_meta_geometry(DEV_SECTORS, REGION, &g), 0);
	assert_int_equal(g.nr_regions, 32);
	assert_int_equal(g.bitmap_blocks, 1);
	/* two superblocks, the intent bitmap, 16 missed bitmaps */
	assert_int_equal(g.meta_sectors, 19 * 8);
	assert_int_equal(quorum_sb_block(&g, 0), 17);
	assert_int_equal(quorum_sb_block(&g, 1), 18);
	assert_int_equal(quorum_bitmap_block(&g, -1), 0);
	assert_int_equal(quorum_bitmap_block(&g, 0), 1);
	assert_int_equal(quorum_bitmap_block(&g, 15), 16);

	/* a partial last region counts; a bitmap block holds 32768 bits */
	assert_int_equal(quorum_meta_geometry(32768ULL * 8 + 1, 8, &g), 0);
	assert_int_equal(g.nr_regions, 32769);
	assert_int_equal(g.bitmap_blocks, 2);
	assert_int_equal(quorum_bitmap_block(&g, 0), 2);
	assert_int_equal(quorum_sb_block(&g, 1), 35);

	assert_int_equal(quorum_meta_geometry(0, REGION, &g), -EINVAL);
	/* a length near 2^64 must not wrap into a small region count */
	assert_int_equal(quorum_meta_geometry(~0ULL, REGION, &g), -EINVAL);
	assert_int_equal(quorum_meta_geometry(~0ULL - 2046, REGION, &g),
			 -EINVAL);
	assert_int_equal(quorum_meta_geometry(DEV_SECTORS, 3000, &g), -EINVAL);
	assert_int_equal(quorum_meta_geometry(DEV_SECTORS, 4, &g), -EINVAL);
	assert_int_equal(quorum_meta_geometry(DEV_SECTORS, 1U << 22, &g),
			 -EINVAL);
	assert_int_equal(quorum_meta_geometry((u64)QUORUM_MAX_REGIONS * 8 + 1,
					      8, &g), -EINVAL);

	assert_int_equal(quorum_meta_geometry(DEV_SECTORS, REGION, &g), 0);
	/* exactly enough room, and the area ends on a whole block */
	assert_int_equal(quorum_meta_start(DEV_SECTORS + 152, DEV_SECTORS, &g,
					   &start), 0);
	assert_int_equal(start, DEV_SECTORS);
	assert_int_equal(quorum_meta_start(DEV_SECTORS + 152 + 7, DEV_SECTORS,
					   &g, &start), 0);
	assert_int_equal(start, DEV_SECTORS);
	assert_int_equal(quorum_meta_start(DEV_SECTORS + 160, DEV_SECTORS, &g,
					   &start), 0);
	assert_int_equal(start, DEV_SECTORS + 8);
	assert_int_equal(quorum_meta_start(DEV_SECTORS + 151, DEV_SECTORS, &g,
					   &start), -ENOSPC);
	assert_int_equal(quorum_meta_start(100, DEV_SECTORS, &g, &start),
			 -ENOSPC);
}

static void test_roundtrip(void **state)
{
	struct quorum_sb sb, back;
	struct quorum_sb_disk *d = (struct quorum_sb_disk *)block;

	(void)state;
	sb_init(&sb, 3, 1, 42);
	sb.compat = QUORUM_SB_CLEAN;
	sb.legs[2].state = QUORUM_SB_REBUILDING;
	sb.legs[2].changed = 40;
	sb.legs[2].resync_hint = 7;
	quorum_sb_pack(&sb, block);
	assert_memory_equal(d->magic, "DMQUORUM", 8);
	/* little-endian on disk, whatever the CPU */
	assert_int_equal(block[offsetof(struct quorum_sb_disk, events)], 42);
	assert_int_equal(block[offsetof(struct quorum_sb_disk, nr_legs)], 3);
	assert_int_equal(unpack(&back), 0);
	assert_int_equal(back.events, 42);
	assert_int_equal(back.compat, QUORUM_SB_CLEAN);
	assert_int_equal(back.slot, 1);
	assert_int_equal(back.threshold, 2);
	assert_int_equal(back.nr_legs, 3);
	assert_int_equal(back.region_sectors, REGION);
	assert_int_equal(back.dev_sectors, DEV_SECTORS);
	assert_memory_equal(back.array_uuid, sb.array_uuid, QUORUM_UUID_SIZE);
	assert_memory_equal(back.leg_uuid, sb.leg_uuid, QUORUM_UUID_SIZE);
	assert_int_equal(back.legs[2].state, QUORUM_SB_REBUILDING);
	assert_int_equal(back.legs[2].changed, 40);
	assert_int_equal(back.legs[2].resync_hint, 7);
	assert_int_equal(back.legs[3].state, QUORUM_SB_EMPTY);
	assert_int_equal(le64_to_cpu(d->meta_sectors), 152);
	assert_int_equal(le32_to_cpu(d->bitmap_blocks), 1);
}

static void test_refusals(void **state)
{
	size_t o_ver = offsetof(struct quorum_sb_disk, version);
	size_t o_inc = offsetof(struct quorum_sb_disk, incompat);
	size_t o_nr = offsetof(struct quorum_sb_disk, nr_legs);
	size_t o_thr = offsetof(struct quorum_sb_disk, threshold);
	size_t o_slot = offsetof(struct quorum_sb_disk, slot);
	size_t o_reg = offsetof(struct quorum_sb_disk, region_sectors);
	size_t o_meta = offsetof(struct quorum_sb_disk, meta_sectors);
	size_t o_legs = offsetof(struct quorum_sb_disk, legs);
	size_t leg_size = sizeof(struct quorum_sb_leg_disk);
	struct quorum_sb sb, back;

	(void)state;
	sb_init(&sb, 3, 0, 9);

	quorum_sb_pack(&sb, block);
	block[0] = 'X';
	assert_int_equal(unpack(&back), -ENODATA);

	quorum_sb_pack(&sb, block);
	block[100] ^= 1;
	assert_int_equal(unpack(&back), -EINVAL);
	assert_string_equal(why, "checksum mismatch");
	/* the checksum covers the unused end of the block too */
	quorum_sb_pack(&sb, block);
	block[QUORUM_META_BLOCK_SIZE - 1] = 1;
	assert_int_equal(unpack(&back), -EINVAL);

	quorum_sb_pack(&sb, block);
	poke(o_ver, 2);
	assert_int_equal(unpack(&back), -EOPNOTSUPP);
	assert_non_null(strstr(why, "newer"));
	poke(o_ver, 0);
	assert_int_equal(unpack(&back), -EINVAL);

	quorum_sb_pack(&sb, block);
	poke(o_inc, QUORUM_SB_INCOMPAT_KNOWN << 1);
	assert_int_equal(unpack(&back), -EOPNOTSUPP);

	quorum_sb_pack(&sb, block);
	poke(o_nr, 0);
	assert_int_equal(unpack(&back), -EINVAL);
	poke(o_nr, 17);
	assert_int_equal(unpack(&back), -EINVAL);

	quorum_sb_pack(&sb, block);
	poke(o_thr, 4);
	assert_int_equal(unpack(&back), -EINVAL);
	poke(o_thr, 0);
	assert_int_equal(unpack(&back), -EINVAL);

	quorum_sb_pack(&sb, block);
	poke(o_slot, 3);
	assert_int_equal(unpack(&back), -EINVAL);
	/* slot 1 exists, but records another leg */
	poke(o_slot, 1);
	assert_int_equal(unpack(&back), -EINVAL);
	assert_non_null(strstr(why, "records another leg"));

	quorum_sb_pack(&sb, block);
	poke(o_reg + 1, 0x0c);	/* 3072: not a power of two */
	assert_int_equal(unpack(&back), -EINVAL);
	assert_non_null(strstr(why, "geometry"));
	quorum_sb_pack(&sb, block);
	poke(o_meta, 0);
	assert_int_equal(unpack(&back), -EINVAL);

	/* a leg state that does not exist */
	quorum_sb_pack(&sb, block);
	poke(o_legs + 2 * leg_size + QUORUM_UUID_SIZE, 9);
	assert_int_equal(unpack(&back), -EINVAL);
	/* an entry beyond nr_legs */
	quorum_sb_pack(&sb, block);
	poke(o_legs + 3 * leg_size, 1);
	assert_int_equal(unpack(&back), -EINVAL);
	/* a used slot with a null uuid */
	sb_init(&sb, 3, 0, 9);
	memset(sb.legs[2].uuid, 0, QUORUM_UUID_SIZE);
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), -EINVAL);
	/* the same leg in two slots */
	sb_init(&sb, 3, 0, 9);
	memcpy(sb.legs[2].uuid, sb.legs[1].uuid, QUORUM_UUID_SIZE);
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), -EINVAL);
	assert_non_null(strstr(why, "same leg"));
	/* a change newer than the superblock, a hint past the end */
	sb_init(&sb, 3, 0, 9);
	sb.legs[1].changed = 10;
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), -EINVAL);
	sb_init(&sb, 3, 0, 9);
	sb.legs[1].state = QUORUM_SB_REBUILDING;
	sb.legs[1].resync_hint = 33;
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), -EINVAL);
	sb.legs[1].resync_hint = 32;
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), 0);
	/* a null array uuid */
	sb_init(&sb, 3, 0, 9);
	memset(sb.array_uuid, 0, QUORUM_UUID_SIZE);
	quorum_sb_pack(&sb, block);
	assert_int_equal(unpack(&back), -EINVAL);
}

static enum quorum_sb_found pick(const void *a, const void *b,
				 struct quorum_sb *sb)
{
	const void *copies[QUORUM_SB_COPIES] = { a, b };

	return quorum_sb_pick(copies, sb, why, sizeof(why));
}

static void test_pick(void **state)
{
	static u8 zero[QUORUM_META_BLOCK_SIZE];
	struct quorum_sb sb, got;

	(void)state;
	assert_int_equal(pick(zero, zero, &got), QUORUM_SB_BLANK);
	assert_string_equal(why, "");

	sb_init(&sb, 3, 0, 1);
	quorum_sb_pack(&sb, other);
	/* a first commit went to one copy only: no complaint */
	assert_int_equal(pick(zero, other, &got), QUORUM_SB_VALID);
	assert_int_equal(got.events, 1);
	assert_string_equal(why, "");

	sb.events = 2;
	quorum_sb_pack(&sb, block);
	assert_int_equal(pick(block, other, &got), QUORUM_SB_VALID);
	assert_int_equal(got.events, 2);
	assert_int_equal(pick(other, block, &got), QUORUM_SB_VALID);
	assert_int_equal(got.events, 2);

	/* a torn write of the newer copy: the older one is used, and said */
	block[200] ^= 0xff;
	assert_int_equal(pick(block, other, &got), QUORUM_SB_VALID);
	assert_int_equal(got.events, 1);
	assert_string_equal(why, "copy A: checksum mismatch");

	other[300] ^= 0xff;
	assert_int_equal(pick(block, other, &got), QUORUM_SB_CORRUPT);
	assert_int_equal(pick(zero, other, &got), QUORUM_SB_CORRUPT);

	/* a newer format in either copy: the leg is newer, whatever else */
	sb.events = 3;
	quorum_sb_pack(&sb, block);
	sb.events = 4;
	quorum_sb_pack(&sb, other);
	poke_in(other, offsetof(struct quorum_sb_disk, version), 2);
	assert_int_equal(pick(block, other, &got), QUORUM_SB_NEWER);
	assert_int_equal(pick(other, zero, &got), QUORUM_SB_NEWER);
	assert_string_equal(why, "copy A: format version 2 is newer than this module's 1");
}

static struct quorum_assembly_in in;
static struct quorum_assembly out;

/* @nr legs, all with their own copy of a healthy array at @events. */
static void in_init(unsigned int nr, u64 events)
{
	unsigned int i;

	memset(&in, 0, sizeof(in));
	in.nr_legs = nr;
	in.threshold = nr > 1 ? 2 : 1;
	in.region_sectors = REGION;
	in.dev_sectors = DEV_SECTORS;
	for (i = 0; i < nr; i++) {
		in.found[i] = QUORUM_SB_VALID;
		sb_init(&in.sb[i], nr, i, events);
	}
}

/* Every valid copy at or above @events records leg @leg as @st. */
static void set_state(unsigned int leg, enum quorum_sb_leg_state st,
		      u64 events)
{
	unsigned int i;

	for (i = 0; i < in.nr_legs; i++)
		if (in.sb[i].events >= events) {
			in.sb[i].legs[leg].state = st;
			in.sb[i].legs[leg].changed = events;
		}
}

static int assemble(void)
{
	return quorum_sb_assemble(&in, &out, why, sizeof(why));
}

static void assert_starts(const char *want)
{
	unsigned int i;
	char got[QUORUM_MAX_LEGS + 1] = "";

	for (i = 0; i < in.nr_legs; i++)
		got[i] = "AFSN"[out.start[i]];
	got[i] = '\0';
	assert_string_equal(got, want);
}

static void test_assemble_new(void **state)
{
	(void)state;
	in_init(3, 0);
	in.found[0] = QUORUM_SB_BLANK;
	in.found[1] = QUORUM_SB_BLANK;
	in.found[2] = QUORUM_SB_BLANK;
	assert_int_equal(assemble(), 0);
	assert_true(out.new_array);
	assert_starts("AAA");
	assert_int_equal(out.intent_from, 0);

	/* something of ours that does not check, and nothing valid */
	in.found[1] = QUORUM_SB_CORRUPT;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "no leg has a valid superblock"));
}

static void test_assemble_healthy(void **state)
{
	(void)state;
	in_init(3, 10);
	assert_int_equal(assemble(), 0);
	assert_false(out.new_array);
	assert_starts("AAA");
	assert_int_equal(out.events, 10);
	assert_int_equal(out.intent_from, 7);
	assert_true(out.unclean);

	in.sb[2].compat = QUORUM_SB_CLEAN;
	in.sb[2].events = 11;
	assert_int_equal(assemble(), 0);
	assert_int_equal(out.freshest, 2);
	assert_false(out.unclean);
	/* one commit behind: a crash between the legs' writes */
	assert_starts("AAA");
}

static void test_assemble_states(void **state)
{
	(void)state;
	/* leg 1 failed at 11; its own copy stayed at 10 */
	in_init(3, 10);
	in.sb[0].events = 11;
	in.sb[2].events = 11;
	set_state(1, QUORUM_SB_FAILED, 11);
	assert_int_equal(assemble(), 0);
	assert_starts("AFA");
	assert_int_equal(out.intent_from, 5);

	/* a rebuild in progress resumes */
	set_state(1, QUORUM_SB_REBUILDING, 11);
	assert_int_equal(assemble(), 0);
	assert_starts("ASA");
	assert_int_equal(out.intent_from, 7);

	/* recorded in sync but two commits behind: copied whole */
	in_init(3, 12);
	in.sb[1].events = 10;
	assert_int_equal(assemble(), 0);
	assert_starts("ANA");

	/* a blank or corrupt leg among valid ones is copied whole */
	in_init(3, 12);
	in.found[0] = QUORUM_SB_BLANK;
	in.found[2] = QUORUM_SB_CORRUPT;
	in.degraded = true;
	in.threshold = 1;
	assert_int_equal(assemble(), 0);
	assert_starts("NAN");
	assert_int_equal(out.freshest, 1);
	assert_int_equal(out.intent_from, 2);
}

static void test_assemble_refusals(void **state)
{
	(void)state;
	in_init(3, 10);
	uuid_of(in.sb[1].array_uuid, 2, 0xff);
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "another array"));

	in_init(3, 10);
	in.sb[2] = in.sb[1];
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "same leg"));

	/* legs given in another order */
	in_init(3, 10);
	in.sb[0] = in.sb[1];
	sb_init(&in.sb[1], 3, 0, 10);
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "leg 0 is slot 1"));

	/* a leg that was replaced, back again */
	in_init(3, 10);
	in.sb[0].events = 12;
	in.sb[2].events = 12;
	uuid_of(in.sb[0].legs[1].uuid, 1, 9);
	uuid_of(in.sb[2].legs[1].uuid, 1, 9);
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "no longer a member"));

	in_init(3, 10);
	in.nr_legs = 2;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "the table has 2 legs"));

	in_init(3, 10);
	in.dev_sectors = DEV_SECTORS / 2;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "length"));

	in_init(3, 10);
	in.region_sectors = REGION * 2;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "region size"));

	/* two legs that went on apart, each failing the other */
	in_init(2, 10);
	in.sb[0].events = 11;
	in.sb[1].events = 11;
	in.sb[0].legs[1].state = QUORUM_SB_FAILED;
	in.sb[1].legs[0].state = QUORUM_SB_FAILED;
	in.degraded = true;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "same age"));
}

static void test_assemble_degraded(void **state)
{
	(void)state;
	/* two legs, one failed before the crash */
	in_init(2, 10);
	in.threshold = 1;
	in.sb[0].events = 11;
	set_state(1, QUORUM_SB_FAILED, 11);
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "degraded"));
	in.degraded = true;
	assert_int_equal(assemble(), 0);
	assert_starts("AF");
	/* at threshold 2 no read could reach its quorum: not even degraded */
	in.threshold = 2;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "fewer than the threshold 2"));

	/*
	 * The stale leg alone with a blank partner believes itself
	 * current: only degraded lets it start.
	 */
	in_init(2, 10);
	in.threshold = 1;
	in.found[1] = QUORUM_SB_BLANK;
	assert_int_equal(assemble(), -EINVAL);
	in.degraded = true;
	assert_int_equal(assemble(), 0);
	assert_starts("AN");

	/* three legs, two of them failed */
	in_init(3, 10);
	in.sb[0].events = 12;
	set_state(1, QUORUM_SB_FAILED, 11);
	set_state(2, QUORUM_SB_FAILED, 12);
	assert_int_equal(assemble(), -EINVAL);
	/* a majority in sync starts without it */
	in_init(3, 10);
	in.sb[0].events = 11;
	in.sb[1].events = 11;
	set_state(2, QUORUM_SB_FAILED, 11);
	assert_int_equal(assemble(), 0);
	assert_starts("AAF");

	/* nothing in sync: not even degraded */
	in_init(2, 10);
	in.sb[0].events = 11;
	in.sb[1].events = 11;
	set_state(0, QUORUM_SB_REBUILDING, 11);
	set_state(1, QUORUM_SB_FAILED, 11);
	in.degraded = true;
	assert_int_equal(assemble(), -EINVAL);
	assert_non_null(strstr(why, "no leg is in sync"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_assemble_new),
		cmocka_unit_test(test_assemble_healthy),
		cmocka_unit_test(test_assemble_states),
		cmocka_unit_test(test_assemble_refusals),
		cmocka_unit_test(test_assemble_degraded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
