// SPDX-License-Identifier: GPL-2.0
/*
 * compare-bench: what the compare of a quorum read costs against reading
 * its legs, in the guest where make bench runs.
 *
 * On RAM-disk legs a leg's read is a memcpy() by the CPU, so a quorum
 * read of three legs costs three copies plus the compare, and the compare
 * bounds quorum reads against the 3-leg bound of make bench at
 * copies / (copies + compare).  This times, per 128 KiB piece (the most a
 * quorum read compares at once), three copies with "rep movsq" from a
 * 64 MiB source, and the compare of three legs done two ways with the
 * module's own dm-quorum-compare.c: each leg against the first in turn,
 * and two legs at a time (what the module does).  The guest's CPU has
 * ERMS, but its "rep movsb" ran 7x slower than "rep movsq" under TCG, and
 * the brd reads of make bench ran faster than that: the kernel does not
 * copy them with it.
 *
 * Usage: compare-bench [rounds]; prints "<measure>\t<microseconds>"
 * lines, each the best of the rounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm-quorum-compare.h"

#define PIECE	(128 << 10)
#define PAGE	4096
#define SOURCE	(64 << 20)

static unsigned char *src, *leg[3];
static size_t src_off;
static volatile unsigned int sink;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void copy_movsq(void *d, const void *s, size_t n)
{
	size_t c = n / 8;

	asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
}

static void copies(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		copy_movsq(leg[i], src + src_off, PIECE);
		src_off = (src_off + PIECE) % SOURCE;
	}
}

static void compare_in_turn(void)
{
	unsigned int p;

	for (p = 0; p < PIECE; p += PAGE) {
		sink += quorum_mem_equal(leg[0] + p, leg[1] + p, PAGE);
		sink += quorum_mem_equal(leg[0] + p, leg[2] + p, PAGE);
	}
}

static void compare_pairs(void)
{
	unsigned int p;

	for (p = 0; p < PIECE; p += PAGE)
		sink += quorum_mem_equal2(leg[0] + p, leg[1] + p, leg[2] + p,
					  PAGE);
}

/* Microseconds per call of @fn, the best of @rounds rounds. */
static double time_us(void (*fn)(void), int rounds, int calls)
{
	double best = 1e30;
	int r, i;

	for (r = 0; r < rounds; r++) {
		double t = now();

		for (i = 0; i < calls; i++)
			fn();
		t = (now() - t) / calls * 1e6;
		if (t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, i;
	double copy, turn, pairs;

	src = malloc(SOURCE);
	for (i = 0; i < 3; i++)
		leg[i] = aligned_alloc(PAGE, PIECE);
	if (!src || !leg[0] || !leg[1] || !leg[2])
		return 1;
	memset(src, 0x5a, SOURCE);
	copy = time_us(copies, rounds, 50);
	for (i = 0; i < 3; i++)
		memset(leg[i], 0x5a, PIECE);
	turn = time_us(compare_in_turn, rounds, 50);
	pairs = time_us(compare_pairs, rounds, 50);
	printf("copies\t%.1f\n", copy);
	printf("compare-in-turn\t%.1f\n", turn);
	printf("compare-pairs\t%.1f\n", pairs);
	return 0;
}
