// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for dm-quorum vote counting.
 *
 * Input: 8 bytes of voter mask (little-endian unsigned long; bits above
 * QUORUM_MAX_LEGS must be ignored), then one byte per leg whose low 4
 * bits name the version the leg voted for; missing bytes are zero.  The
 * result is checked against the rules written out independently: a
 * leg's version is the lowest voter with the same label, the winner has
 * the most votes, and among versions tied for the most votes the one
 * with the highest first voter wins.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dm-quorum-vote.h"

#define ALL_LEGS	((1UL << QUORUM_MAX_LEGS) - 1)
#define MASK_BYTES	8

struct ballot {
	unsigned long voters;
	unsigned char label[QUORUM_MAX_LEGS];
	unsigned int calls;
};

static bool is_voter(unsigned long voters, unsigned int leg)
{
	return leg < QUORUM_MAX_LEGS && ((voters >> leg) & 1UL);
}

static bool same_label(unsigned int a, unsigned int b, const void *ctx)
{
	struct ballot *bt = (struct ballot *)ctx;

	CHECK(a != b);
	CHECK(is_voter(bt->voters, a));
	CHECK(is_voter(bt->voters, b));
	bt->calls++;
	return bt->label[a] == bt->label[b];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int first[QUORUM_MAX_LEGS], count[QUORUM_MAX_LEGS] = { 0 };
	unsigned int leg, i, voters = 0, nr_versions = 0, max = 0, winner = 0;
	struct quorum_vote v, w;
	struct ballot bt;
	unsigned long raw = 0;

	memset(&bt, 0, sizeof(bt));
	for (i = 0; i < MASK_BYTES && i < sizeof(raw) && i < size; i++)
		raw |= (unsigned long)data[i] << (8 * i);
	for (leg = 0; leg < QUORUM_MAX_LEGS && MASK_BYTES + leg < size; leg++)
		bt.label[leg] = data[MASK_BYTES + leg] & 0xf;

	/* The reference: plain counting over the voters. */
	bt.voters = raw & ALL_LEGS;
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!is_voter(bt.voters, leg))
			continue;
		voters++;
		for (i = 0; !is_voter(bt.voters, i) ||
		     bt.label[i] != bt.label[leg]; i++)
			;
		first[leg] = i;
		if (i == leg)
			nr_versions++;
		count[i]++;
	}
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (count[leg] && count[leg] >= max) {
			max = count[leg];
			winner = leg;
		}
	}

	memset(&v, 0xa5, sizeof(v));
	quorum_vote(raw, same_label, &bt, &v);

	CHECK(bt.calls <= QUORUM_MAX_LEGS * (QUORUM_MAX_LEGS - 1) / 2);
	CHECK(v.votes <= voters);
	CHECK(v.nr_versions <= voters);
	CHECK(v.votes == max);
	CHECK(v.nr_versions == nr_versions);
	if (!voters)
		return 0;
	CHECK(v.votes >= 1);
	CHECK(v.winner == winner);
	CHECK(is_voter(bt.voters, v.winner));
	CHECK(v.version[v.winner] == v.winner);
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!is_voter(bt.voters, leg))
			continue;
		CHECK(v.version[leg] == first[leg]);
		CHECK(is_voter(bt.voters, v.version[leg]));
		CHECK(v.version[v.version[leg]] == v.version[leg]);
		CHECK(quorum_voted_for_winner(&v, leg) ==
		      (bt.label[leg] == bt.label[v.winner]));
	}

	/* Bits above the legs change nothing. */
	if (raw != bt.voters) {
		quorum_vote(bt.voters, same_label, &bt, &w);
		CHECK(!memcmp(&v, &w, sizeof(v)));
	}
	return 0;
}
