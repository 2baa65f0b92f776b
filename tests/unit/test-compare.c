// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the data compare of quorum reads (dm-quorum-compare.c),
 * checked against memcmp(): a difference at any byte, in either leg of a
 * pair or in both, at aligned and unaligned addresses and lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dm-quorum-compare.h"

#define PAGE	4096

struct bufs {
	unsigned char *r, *a, *b;
};

static struct bufs bufs_new(unsigned char fill)
{
	struct bufs s = {
		aligned_alloc(64, PAGE + 64),
		aligned_alloc(64, PAGE + 64),
		aligned_alloc(64, PAGE + 64),
	};

	assert_non_null(s.r);
	assert_non_null(s.a);
	assert_non_null(s.b);
	memset(s.r, fill, PAGE + 64);
	memset(s.a, fill, PAGE + 64);
	memset(s.b, fill, PAGE + 64);
	return s;
}

static void bufs_free(struct bufs *s)
{
	free(s->r);
	free(s->a);
	free(s->b);
}

/* What quorum_mem_equal2() must return, from memcmp(). */
static unsigned int expected2(const void *r, const void *a, const void *b,
			      unsigned int len)
{
	return (memcmp(r, a, len) == 0) | (memcmp(r, b, len) == 0) << 1;
}

static void check(const struct bufs *s, unsigned int off, unsigned int len)
{
	const void *r = s->r + off, *a = s->a + off, *b = s->b + off;

	assert_int_equal(quorum_mem_equal(r, a, len), !memcmp(r, a, len));
	assert_int_equal(quorum_mem_equal2(r, a, b, len),
			 expected2(r, a, b, len));
}

/* One byte differs in a, then in b, then in both, at every place. */
static void test_every_byte(void **state)
{
	struct bufs s = bufs_new(0x36);
	unsigned int i;

	(void)state;
	check(&s, 0, PAGE);
	assert_int_equal(quorum_mem_equal2(s.r, s.a, s.b, PAGE), 3);
	for (i = 0; i < PAGE; i++) {
		s.a[i] ^= 0x01;
		check(&s, 0, PAGE);
		s.b[i] ^= 0x80;
		check(&s, 0, PAGE);
		s.a[i] ^= 0x01;
		check(&s, 0, PAGE);
		s.b[i] ^= 0x80;
	}
	bufs_free(&s);
}

/*
 * Both legs differ, the second further on: the pair's loop stops at the
 * first difference and the rest must still be compared for the other.
 */
static void test_two_differences(void **state)
{
	static const unsigned int at[] = { 0, 7, 31, 32, 100, 2048, 4064,
					   4095 };
	struct bufs s = bufs_new(0x5a);
	unsigned int i, j;

	(void)state;
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		for (j = i; j < sizeof(at) / sizeof(at[0]); j++) {
			s.a[at[i]] ^= 0xff;
			s.b[at[j]] ^= 0xff;
			assert_int_equal(quorum_mem_equal2(s.r, s.a, s.b, PAGE),
					 0);
			s.a[at[i]] ^= 0xff;
			assert_int_equal(quorum_mem_equal2(s.r, s.a, s.b, PAGE),
					 1);
			s.b[at[j]] ^= 0xff;
			s.a[at[j]] ^= 0xff;
			s.b[at[i]] ^= 0xff;
			check(&s, 0, PAGE);
			s.a[at[j]] ^= 0xff;
			s.b[at[i]] ^= 0xff;
		}
	bufs_free(&s);
}

/* Unaligned addresses and lengths take memcmp(); they must agree too. */
static void test_unaligned(void **state)
{
	static const unsigned int offs[] = { 0, 1, 4, 8, 9 };
	static const unsigned int lens[] = { 0, 1, 31, 32, 33, 512, 4000,
					     4096 };
	struct bufs s = bufs_new(0x11);
	unsigned int i, j;

	(void)state;
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			unsigned int len = lens[j], last = offs[i] + len - 1;

			check(&s, offs[i], len);
			if (!len)
				continue;
			s.b[last] ^= 0x10;
			check(&s, offs[i], len);
			s.a[offs[i]] ^= 0x10;
			check(&s, offs[i], len);
			s.b[last] ^= 0x10;
			s.a[offs[i]] ^= 0x10;
		}
	bufs_free(&s);
}

/* Random data and random single-word differences, against memcmp(). */
static void test_random(void **state)
{
	struct bufs s = bufs_new(0);
	unsigned int n, i;

	(void)state;
	srand(1);
	for (i = 0; i < PAGE + 64; i++)
		s.r[i] = s.a[i] = s.b[i] = rand();
	for (n = 0; n < 20000; n++) {
		unsigned int off = (rand() % 2) * 8, len = 32 * (rand() % 128);
		unsigned char *leg = rand() % 2 ? s.a : s.b;
		unsigned int at = rand() % (PAGE + 64);
		unsigned char old = leg[at];

		leg[at] = rand();
		check(&s, off, len);
		leg[at] = old;
	}
	bufs_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_two_differences),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
