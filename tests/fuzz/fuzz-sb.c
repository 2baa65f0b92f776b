// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the on-disk superblock (dm-quorum-sb.c): hostile
 * superblocks must be refused cleanly, never read out of bounds, and the
 * assembly decision must keep its promises whatever the legs hold.
 *
 * Input: one byte of mode, then up to six 768-byte chunks, the used part
 * of the two superblock copies of up to three legs (the rest of each
 * block is zero).  Mode bits 0-1: number of legs (0 means 1); bit 2:
 * write our magic and a right checksum over each chunk, so the fuzzer
 * gets past them; bit 3: the table says degraded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dm-quorum-sb.h"

#define CHUNK	sizeof(struct quorum_sb_disk)
#define MAX_LEGS	3

static u8 blocks[MAX_LEGS][QUORUM_SB_COPIES][QUORUM_META_BLOCK_SIZE];

static void load(const uint8_t *data, size_t size, bool fix)
{
	struct quorum_sb_disk *d;
	size_t off = 0, n;
	unsigned int leg, c;

	memset(blocks, 0, sizeof(blocks));
	for (leg = 0; leg < MAX_LEGS; leg++)
		for (c = 0; c < QUORUM_SB_COPIES; c++) {
			n = size - off < CHUNK ? size - off : CHUNK;
			memcpy(blocks[leg][c], data + off, n);
			off += n;
			if (!fix)
				continue;
			d = (struct quorum_sb_disk *)blocks[leg][c];
			memcpy(d->magic, QUORUM_SB_MAGIC, sizeof(d->magic));
			d->csum = cpu_to_le32(quorum_sb_csum(d));
		}
}

/* What unpack accepted, packed again, must unpack to the same thing. */
static void check_roundtrip(const struct quorum_sb *sb)
{
	static u8 again[QUORUM_META_BLOCK_SIZE];
	struct quorum_sb back;
	char why[128];
	unsigned int i;

	quorum_sb_pack(sb, again);
	CHECK(quorum_sb_unpack(again, &back, why, sizeof(why)) == 0);
	CHECK(back.events == sb->events && back.compat == sb->compat);
	CHECK(back.slot == sb->slot && back.nr_legs == sb->nr_legs);
	CHECK(back.threshold == sb->threshold);
	CHECK(back.dev_sectors == sb->dev_sectors);
	CHECK(back.region_sectors == sb->region_sectors);
	CHECK(!memcmp(back.array_uuid, sb->array_uuid, QUORUM_UUID_SIZE));
	CHECK(!memcmp(back.leg_uuid, sb->leg_uuid, QUORUM_UUID_SIZE));
	for (i = 0; i < QUORUM_MAX_LEGS; i++) {
		CHECK(back.legs[i].state == sb->legs[i].state);
		CHECK(back.legs[i].changed == sb->legs[i].changed);
		CHECK(back.legs[i].resync_hint == sb->legs[i].resync_hint);
		CHECK(!memcmp(back.legs[i].uuid, sb->legs[i].uuid,
			      QUORUM_UUID_SIZE));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct quorum_assembly_in in;
	struct quorum_assembly out;
	const void *copies[QUORUM_SB_COPIES];
	unsigned int leg, in_sync = 0, valid = 0;
	char why[160];
	u8 mode;
	int r;

	if (!size)
		return 0;
	mode = data[0];
	load(data + 1, size - 1, mode & 4);

	memset(&in, 0, sizeof(in));
	in.nr_legs = (mode & 3) ? (mode & 3) : 1;
	in.degraded = mode & 8;
	for (leg = 0; leg < in.nr_legs; leg++) {
		copies[0] = blocks[leg][0];
		copies[1] = blocks[leg][1];
		in.found[leg] = quorum_sb_pick(copies, &in.sb[leg], why,
					       sizeof(why));
		CHECK(strlen(why) < sizeof(why));
		if (in.found[leg] != QUORUM_SB_VALID)
			continue;
		valid++;
		check_roundtrip(&in.sb[leg]);
		/* the table asks for what the first valid copy says */
		if (valid == 1) {
			in.threshold = in.sb[leg].threshold;
			in.region_sectors = in.sb[leg].region_sectors;
			in.dev_sectors = in.sb[leg].dev_sectors;
		}
	}
	if (!in.dev_sectors) {
		in.threshold = 1;
		in.region_sectors = 2048;
		in.dev_sectors = 65536;
	}

	r = quorum_sb_assemble(&in, &out, why, sizeof(why));
	CHECK(strlen(why) < sizeof(why));
	if (r) {
		CHECK((r == -EINVAL || r == -EOPNOTSUPP) && why[0]);
		/* a newer format is refused as such, and only it */
		if (r == -EOPNOTSUPP) {
			for (leg = 0; leg < in.nr_legs; leg++)
				if (in.found[leg] == QUORUM_SB_NEWER)
					break;
			CHECK(leg < in.nr_legs);
		}
		return 0;
	}
	CHECK(out.new_array == !valid);
	for (leg = 0; leg < in.nr_legs; leg++) {
		CHECK(in.found[leg] != QUORUM_SB_NEWER);
		CHECK(out.start[leg] <= QUORUM_START_NEW);
		if (out.start[leg] == QUORUM_START_IN_SYNC) {
			in_sync++;
			CHECK(out.new_array || in.found[leg] == QUORUM_SB_VALID);
		}
		if (in.found[leg] != QUORUM_SB_VALID && !out.new_array)
			CHECK(out.start[leg] == QUORUM_START_NEW);
		if (out.intent_from & (1UL << leg))
			CHECK(in.found[leg] == QUORUM_SB_VALID);
	}
	CHECK(in_sync >= 1);
	CHECK(in.degraded || in_sync * 2 > in.nr_legs);
	if (!out.new_array) {
		CHECK(out.freshest < in.nr_legs);
		CHECK(in.found[out.freshest] == QUORUM_SB_VALID);
		for (leg = 0; leg < in.nr_legs; leg++)
			if (in.found[leg] == QUORUM_SB_VALID)
				CHECK(in.sb[leg].events <= out.events);
	}
	return 0;
}
