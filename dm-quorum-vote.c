// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum vote counting.
 *
 * The rules are QEMU quorum's (block/quorum.c: quorum_count_vote,
 * quorum_get_vote_winner), because users moving from QEMU expect the same
 * answer from the same disks:
 *
 *  - every voting leg casts the version it read (or the error it got);
 *  - the version with the most votes wins;
 *  - among versions tied for the most votes, the one first cast by the
 *    highest leg index wins (QEMU keeps versions newest first and takes
 *    the first strictly greater count: votes A,A,B,B give B).
 *
 * Data versions and errors go through the same counting; the caller
 * provides the comparison.  At most QUORUM_MAX_LEGS legs vote, so the
 * quadratic comparison is at most 120 calls and needs no allocation.
 */
#ifdef __KERNEL__
#include <linux/string.h>
#else
#include <string.h>
#endif

#include "dm-quorum-vote.h"

static bool is_voter(unsigned long voters, unsigned int leg)
{
	return (voters >> leg) & 1UL;
}

/* Give @leg the version of the first earlier voter that agrees with it. */
static unsigned int find_version(unsigned long voters, unsigned int leg,
				 quorum_same_fn same, const void *ctx,
				 const struct quorum_vote *v)
{
	unsigned int i;

	for (i = 0; i < leg; i++) {
		/* Only the first voter of each version needs comparing. */
		if (is_voter(voters, i) && v->version[i] == i &&
		    same(i, leg, ctx))
			return i;
	}
	return leg;
}

void quorum_vote(unsigned long voters, quorum_same_fn same, const void *ctx,
		 struct quorum_vote *v)
{
	unsigned int count[QUORUM_MAX_LEGS] = { 0 };
	unsigned int leg;

	memset(v, 0, sizeof(*v));
	memset(v->version, QUORUM_NO_VOTE, sizeof(v->version));
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!is_voter(voters, leg))
			continue;
		v->version[leg] = (unsigned char)find_version(voters, leg,
							      same, ctx, v);
		count[v->version[leg]]++;
	}

	/* Ascending with >=: a later (higher-index) version wins ties. */
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!count[leg])
			continue;
		v->nr_versions++;
		if (count[leg] >= v->votes) {
			v->votes = count[leg];
			v->winner = leg;
		}
	}
}
