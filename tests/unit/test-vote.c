// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for dm-quorum vote counting (dm-quorum-vote.c).
 *
 * Legs vote for versions named by a label per leg: two legs voted for the
 * same version when their labels are equal.  Votes are written as strings,
 * one character per leg from leg 0 up, '.' for a leg that does not vote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dm-quorum-vote.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ALL_LEGS	((1UL << QUORUM_MAX_LEGS) - 1)

struct ballot {
	unsigned long voters;
	unsigned char label[QUORUM_MAX_LEGS];
	unsigned int calls;
};

/* The comparison callback; it must only ever see two distinct voters. */
static bool same_label(unsigned int a, unsigned int b, const void *ctx)
{
	struct ballot *bt = (struct ballot *)ctx;

	assert_true(a < QUORUM_MAX_LEGS && b < QUORUM_MAX_LEGS);
	assert_true(a != b);
	assert_true((bt->voters >> a) & 1UL);
	assert_true((bt->voters >> b) & 1UL);
	bt->calls++;
	return bt->label[a] == bt->label[b];
}

static void ballot_from(struct ballot *bt, const char *votes)
{
	unsigned int leg;

	assert_true(strlen(votes) <= QUORUM_MAX_LEGS);
	memset(bt, 0, sizeof(*bt));
	for (leg = 0; votes[leg]; leg++) {
		/* A non-voter's label would agree with everyone if read. */
		bt->label[leg] = votes[leg];
		if (votes[leg] != '.')
			bt->voters |= 1UL << leg;
	}
}

static void run_vote(struct ballot *bt, struct quorum_vote *v)
{
	/* Whatever was in @v before must not leak into the result. */
	memset(v, 0xa5, sizeof(*v));
	bt->calls = 0;
	quorum_vote(bt->voters, same_label, bt, v);
	/* At most one comparison per pair of voters. */
	assert_true(bt->calls <= QUORUM_MAX_LEGS * (QUORUM_MAX_LEGS - 1) / 2);
}

/* ---- table of votes ---------------------------------------------------- */

struct vote_case {
	const char *votes;
	unsigned int winner;
	unsigned int nr_votes;
	unsigned int nr_versions;
};

static const struct vote_case vote_cases[] = {
	/* single voter */
	{ "A",				0, 1, 1 },
	{ ".......A",			7, 1, 1 },
	{ "...............A",		15, 1, 1 },
	/* unanimous */
	{ "AA",				0, 2, 1 },
	{ "AAA",			0, 3, 1 },
	{ ".A.A.A",			1, 3, 1 },
	/* a strict majority wins wherever it sits */
	{ "AAB",			0, 2, 2 },
	{ "ABA",			0, 2, 2 },
	{ "BAA",			1, 2, 2 },
	{ "ABB",			1, 2, 2 },
	{ "AABBB",			2, 3, 2 },
	{ "BBBAA",			0, 3, 2 },
	{ "ABCBD",			1, 2, 4 },
	/* ties: the version first cast by the highest leg wins (QEMU) */
	{ "AB",				1, 1, 2 },
	{ "BA",				1, 1, 2 },
	{ "ABC",			2, 1, 3 },
	{ "AABB",			2, 2, 2 },
	{ "ABAB",			1, 2, 2 },
	{ "ABBA",			1, 2, 2 },
	{ "AABBCC",			4, 2, 3 },
	{ "ABCCBA",			2, 2, 3 },
	{ "ABCABC",			2, 2, 3 },
	/* a version cast late loses to a larger one cast early */
	{ "AABBBCC",			2, 3, 3 },
	{ "AAACC",			0, 3, 2 },
	/* non-contiguous voters: legs 1, 3, 5 */
	{ ".A.B.A",			1, 2, 2 },
	{ ".A.B.B",			3, 2, 2 },
	{ ".A.B.C",			5, 1, 3 },
	{ "A.B.A.B",			2, 2, 2 },
	/* all 16 legs */
	{ "AAAAAAAAAAAAAAAA",		0, 16, 1 },
	{ "ABCDEFGHIJKLMNOP",		15, 1, 16 },
	{ "ABABABABABABABAB",		1, 8, 2 },
	{ "AAAAAAAABBBBBBBB",		8, 8, 2 },
	{ "AAAAAAAAABBBBBBB",		0, 9, 2 },
	{ "BBBBBBBAAAAAAAAA",		7, 9, 2 },
	{ "ABCDEFGHIJKLMNOA",		0, 2, 15 },
	{ "ABCDEFGHIJKLMNOO",		14, 2, 15 },
};

static void test_vote_case(void **state)
{
	const struct vote_case *c = *state;
	struct quorum_vote v;
	struct ballot bt;
	unsigned int leg, first, votes = 0;

	ballot_from(&bt, c->votes);
	run_vote(&bt, &v);
	if (v.winner != c->winner || v.votes != c->nr_votes ||
	    v.nr_versions != c->nr_versions)
		fail_msg("%s: got winner %u votes %u versions %u, expected %u %u %u",
			 c->votes, v.winner, v.votes, v.nr_versions, c->winner,
			 c->nr_votes, c->nr_versions);

	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!((bt.voters >> leg) & 1UL)) {
			/* a leg that did not vote never counts for the winner */
			assert_int_equal(v.version[leg], QUORUM_NO_VOTE);
			assert_false(quorum_voted_for_winner(&v, leg));
			continue;
		}
		/* version[] holds the lowest leg that cast the same version */
		for (first = 0; bt.label[first] != bt.label[leg] ||
		     !((bt.voters >> first) & 1UL); first++)
			;
		assert_int_equal(v.version[leg], first);
		assert_int_equal(quorum_voted_for_winner(&v, leg),
				 bt.label[leg] == bt.label[c->winner]);
		votes += quorum_voted_for_winner(&v, leg);
	}
	assert_int_equal(votes, v.votes);
}

/* ---- single tests ------------------------------------------------------ */

static void test_no_voter(void **state)
{
	struct quorum_vote v;
	struct ballot bt;

	(void)state;
	ballot_from(&bt, "................");
	run_vote(&bt, &v);
	assert_int_equal(v.votes, 0);
	assert_int_equal(v.nr_versions, 0);
	assert_int_equal(bt.calls, 0);
}

/* Only the first voter of each version is compared against. */
static void test_comparison_count(void **state)
{
	struct quorum_vote v;
	struct ballot bt;

	(void)state;
	ballot_from(&bt, "AAAAAAAAAAAAAAAA");
	run_vote(&bt, &v);
	assert_int_equal(bt.calls, 15);

	ballot_from(&bt, "ABCDEFGHIJKLMNOP");
	run_vote(&bt, &v);
	assert_int_equal(bt.calls, 120);
}

static void test_voted_for_winner(void **state)
{
	static const bool expect[] = { true, false, true, false, true };
	struct quorum_vote v;
	struct ballot bt;
	unsigned int leg;

	(void)state;
	ballot_from(&bt, "ABAC.");
	bt.voters |= 1UL << 4;
	bt.label[4] = 'A';
	run_vote(&bt, &v);
	assert_int_equal(v.winner, 0);
	assert_int_equal(v.votes, 3);
	for (leg = 0; leg < ARRAY_SIZE(expect); leg++)
		assert_int_equal(quorum_voted_for_winner(&v, leg), expect[leg]);

	/* The winner need not be leg 0. */
	ballot_from(&bt, "A.BB");
	run_vote(&bt, &v);
	assert_int_equal(v.winner, 2);
	assert_false(quorum_voted_for_winner(&v, 0));
	assert_true(quorum_voted_for_winner(&v, 2));
	assert_true(quorum_voted_for_winner(&v, 3));
}

/* ---- the error vote, as dm-quorum-io.c runs it ------------------------- */

/*
 * Status values are blk_status_t, a u8, as in include/linux/blk_types.h;
 * only their being distinct matters here.
 */
enum {
	STS_OK = 0,
	STS_NOTSUPP = 1,
	STS_NOSPC = 3,
	STS_TARGET = 5,
	STS_MEDIUM = 7,
	STS_IOERR = 10,
};

struct fake_io {
	unsigned long issued;
	unsigned char status[QUORUM_MAX_LEGS];
};

static bool same_status(unsigned int a, unsigned int b, const void *ctx)
{
	const struct fake_io *io = ctx;

	return io->status[a] == io->status[b];
}

static unsigned long failed_legs(const struct fake_io *io)
{
	unsigned long failed = 0;
	unsigned int leg;

	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++)
		if (((io->issued >> leg) & 1UL) && io->status[leg])
			failed |= 1UL << leg;
	return failed;
}

static unsigned char majority_error(const struct fake_io *io)
{
	unsigned long failed = failed_legs(io);
	struct quorum_vote v;

	assert_true(failed);
	quorum_vote(failed, same_status, io, &v);
	return io->status[v.winner];
}

struct error_case {
	unsigned long issued;
	unsigned char status[QUORUM_MAX_LEGS];
	unsigned char expect;
};

static const struct error_case error_cases[] = {
	{ 0x1, { STS_IOERR }, STS_IOERR },
	{ 0x7, { STS_OK, STS_OK, STS_NOSPC }, STS_NOSPC },
	{ 0x7, { STS_IOERR, STS_IOERR, STS_TARGET }, STS_IOERR },
	{ 0x7, { STS_TARGET, STS_IOERR, STS_IOERR }, STS_IOERR },
	{ 0x7, { STS_IOERR, STS_OK, STS_IOERR }, STS_IOERR },
	/* ties go to the error first returned by the highest leg */
	{ 0x3, { STS_TARGET, STS_IOERR }, STS_IOERR },
	{ 0x3, { STS_IOERR, STS_TARGET }, STS_TARGET },
	{ 0xf, { STS_IOERR, STS_NOSPC, STS_NOSPC, STS_IOERR }, STS_NOSPC },
	{ 0xf, { STS_IOERR, STS_OK, STS_MEDIUM, STS_NOTSUPP }, STS_NOTSUPP },
	/* legs not issued keep stale status values that must not count */
	{ 0x5, { STS_IOERR, STS_TARGET, STS_OK }, STS_IOERR },
	{ 0x19, { STS_MEDIUM, STS_NOSPC, STS_NOSPC, STS_MEDIUM, STS_OK },
	  STS_MEDIUM },
	{ 0xffff, { STS_OK, STS_IOERR, STS_IOERR, STS_TARGET, STS_TARGET,
		    STS_TARGET, STS_OK, STS_OK, STS_OK, STS_OK, STS_OK,
		    STS_OK, STS_OK, STS_IOERR, STS_IOERR, STS_MEDIUM }, STS_IOERR },
	{ 0xffff, { STS_OK, STS_IOERR, STS_IOERR, STS_TARGET, STS_TARGET,
		    STS_TARGET, STS_OK, STS_OK, STS_OK, STS_OK, STS_OK,
		    STS_OK, STS_OK, STS_OK, STS_IOERR, STS_MEDIUM }, STS_TARGET },
	{ 0xffff, { STS_OK, STS_IOERR, STS_IOERR, STS_TARGET, STS_TARGET,
		    STS_TARGET, STS_OK, STS_OK, STS_OK, STS_OK, STS_OK,
		    STS_OK, STS_OK, STS_OK, STS_MEDIUM, STS_MEDIUM }, STS_TARGET },
};

static void test_error_vote(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct fake_io io = { .issued = c->issued };
		unsigned char got;

		memcpy(io.status, c->status, sizeof(io.status));
		got = majority_error(&io);
		if (got != c->expect)
			fail_msg("error case %u: got %u, expected %u", i, got,
				 c->expect);
	}
}

/* ---- cross-check against QEMU's algorithm ------------------------------ */

/*
 * block/quorum.c, quorum_count_vote() and quorum_get_vote_winner(): the
 * versions are a list; a vote joins the first version it compares equal
 * to, else starts a new version at the head of the list; the winner is
 * the first version from the head whose count is strictly greater than
 * every count before it.
 */
struct ref_version {
	unsigned int first;	/* the first leg that cast it */
	unsigned int count;
};

struct ref_result {
	unsigned int winner;
	unsigned int votes;
	unsigned int nr_versions;
	unsigned int version[QUORUM_MAX_LEGS];
};

static void ref_vote(const struct ballot *bt, struct ref_result *res)
{
	struct ref_version list[QUORUM_MAX_LEGS];
	unsigned int n = 0, leg, i;

	memset(res, 0, sizeof(*res));
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if (!((bt->voters >> leg) & 1UL))
			continue;
		for (i = 0; i < n; i++) {
			if (bt->label[list[i].first] == bt->label[leg])
				break;
		}
		if (i == n) {
			memmove(&list[1], &list[0], n * sizeof(list[0]));
			list[0].first = leg;
			list[0].count = 0;
			i = 0;
			n++;
		}
		list[i].count++;
		res->version[leg] = list[i].first;
	}
	res->nr_versions = n;
	for (i = 0; i < n; i++) {
		if (list[i].count > res->votes) {
			res->votes = list[i].count;
			res->winner = list[i].first;
		}
	}
}

static void cross_check(struct ballot *bt)
{
	struct quorum_vote v;
	struct ref_result ref;
	unsigned int leg;

	run_vote(bt, &v);
	ref_vote(bt, &ref);
	assert_int_equal(v.votes, ref.votes);
	assert_int_equal(v.nr_versions, ref.nr_versions);
	if (ref.votes)
		assert_int_equal(v.winner, ref.winner);
	for (leg = 0; leg < QUORUM_MAX_LEGS; leg++) {
		if ((bt->voters >> leg) & 1UL)
			assert_int_equal(v.version[leg], ref.version[leg]);
	}
}

/* Every voter set and labelling of the first 6 legs with up to 4 versions. */
static void test_qemu_exhaustive(void **state)
{
	unsigned int legs = 6, labels = 4, combos = 1, mask, code, i;
	struct ballot bt;

	(void)state;
	for (i = 0; i < legs; i++)
		combos *= labels;
	for (mask = 0; mask < 1U << legs; mask++) {
		for (code = 0; code < combos; code++) {
			unsigned int c = code;

			memset(&bt, 0, sizeof(bt));
			bt.voters = mask;
			for (i = 0; i < legs; i++, c /= labels)
				bt.label[i] = c % labels;
			cross_check(&bt);
		}
	}
}

static unsigned long long rng_state;

/* xorshift64*: reproducible from the seed printed by the test */
static unsigned long long rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

#define RANDOM_ROUNDS	200000

/* Random voters and versions over all 16 legs; VOTE_SEED picks the seed. */
static void test_qemu_random(void **state)
{
	const char *env = getenv("VOTE_SEED");
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	struct ballot bt;
	unsigned int round, leg;

	(void)state;
	if (env)
		seed = strtoull(env, NULL, 0);
	print_message("seed 0x%llx (set VOTE_SEED to change)\n", seed);
	rng_state = seed ? seed : 1;
	for (round = 0; round < RANDOM_ROUNDS; round++) {
		/* Few versions make ties common; many make singletons. */
		unsigned int nr_labels = 1 + rng() % QUORUM_MAX_LEGS;

		memset(&bt, 0, sizeof(bt));
		bt.voters = round & 1 ? rng() & ALL_LEGS : ALL_LEGS;
		for (leg = 0; leg < QUORUM_MAX_LEGS; leg++)
			bt.label[leg] = rng() % nr_labels;
		cross_check(&bt);
	}
}

/* ---- main -------------------------------------------------------------- */

static const struct CMUnitTest single_tests[] = {
	cmocka_unit_test(test_no_voter),
	cmocka_unit_test(test_comparison_count),
	cmocka_unit_test(test_voted_for_winner),
	cmocka_unit_test(test_error_vote),
	cmocka_unit_test(test_qemu_exhaustive),
	cmocka_unit_test(test_qemu_random),
};

int main(void)
{
	size_t n = ARRAY_SIZE(single_tests) + ARRAY_SIZE(vote_cases);
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	size_t i, t = 0;
	int failed;

	if (!tests)
		return 1;
	for (i = 0; i < ARRAY_SIZE(vote_cases); i++) {
		tests[t].name = vote_cases[i].votes;
		tests[t].test_func = test_vote_case;
		tests[t].initial_state = (void *)&vote_cases[i];
		t++;
	}
	for (i = 0; i < ARRAY_SIZE(single_tests); i++)
		tests[t++] = single_tests[i];

	failed = _cmocka_run_group_tests("dm-quorum-vote", tests, n, NULL, NULL);
	free(tests);
	return failed;
}
