/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum vote counting, shared by the data vote and the error vote.
 *
 * Pure logic: no kernel-only calls, so the unit tests build it in
 * userspace.  The caller says how two legs compare; this file only counts.
 */
#ifndef DM_QUORUM_VOTE_H
#define DM_QUORUM_VOTE_H

#include "dm-quorum-args.h"

#define QUORUM_NO_VOTE		0xff

/* True when legs @a and @b voted for the same version. */
typedef bool (*quorum_same_fn)(unsigned int a, unsigned int b,
			       const void *ctx);

struct quorum_vote {
	unsigned int winner;	/* lowest leg index that cast the winner */
	unsigned int votes;	/* legs that voted for the winner */
	unsigned int nr_versions;
	/*
	 * per leg: the lowest leg index of the version it cast, or
	 * QUORUM_NO_VOTE for a leg that did not vote
	 */
	unsigned char version[QUORUM_MAX_LEGS];
};

void quorum_vote(unsigned long voters, quorum_same_fn same, const void *ctx,
		 struct quorum_vote *v);

static inline bool quorum_voted_for_winner(const struct quorum_vote *v,
					   unsigned int leg)
{
	return v->version[leg] == v->winner;
}

#endif /* DM_QUORUM_VOTE_H */
