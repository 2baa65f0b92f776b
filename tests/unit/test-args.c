// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the dm-quorum table line parser (dm-quorum-args.c).
 *
 * Lines in the tables are split on spaces the way dm core splits a table
 * line; the token '' stands for an empty argument, which dm core never
 * produces but the parser must still refuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dm-quorum-args.h"
#include "split.h"

/* Parse @s into @qa; *@error is left as the parser set it, else NULL. */
static int parse(struct line *l, const char *s, struct quorum_args *qa,
		 char **error)
{
	split(l, s);
	/* Whatever was in @qa before must not leak into the result. */
	memset(qa, 0xa5, sizeof(*qa));
	*error = NULL;
	return quorum_parse_args(l->argc, l->argv, qa, error);
}

/* ---- accepted lines ---------------------------------------------------- */

struct ok_case {
	const char *line;
	unsigned int threshold;
	unsigned int nr_legs;
	enum quorum_read_pattern read_pattern;
	bool rewrite_corrupted;
	bool blkverify;
	const char *hash;
};

#define Q	QUORUM_READ_QUORUM
#define F	QUORUM_READ_FIFO
#define SHA256	QUORUM_DEFAULT_HASH

static const struct ok_case ok_cases[] = {
	/* minimal lines and defaults */
	{ "1 1 a",				1, 1, Q, false, false, SHA256 },
	{ "2 3 a b c",				2, 3, Q, false, false, SHA256 },
	{ "1 3 a b c",				1, 3, Q, false, false, SHA256 },
	{ "3 3 a b c",				3, 3, Q, false, false, SHA256 },
	{ "1 1 /dev/mapper/x-y",		1, 1, Q, false, false, SHA256 },
	{ "16 16 a b c d e f g h i j k l m n o p", 16, 16, Q, false, false, SHA256 },
	{ "1 16 a b c d e f g h i j k l m n o p", 1, 16, Q, false, false, SHA256 },
	/* plain decimal, leading zeroes included */
	{ "01 002 a b",				1, 2, Q, false, false, SHA256 },
	/* an empty optional group */
	{ "1 1 a 0",				1, 1, Q, false, false, SHA256 },
	{ "1 1 a 00",				1, 1, Q, false, false, SHA256 },
	/* leg names are not keywords */
	{ "1 1 blkverify",			1, 1, Q, false, false, SHA256 },
	{ "1 2 hash 2",				1, 2, Q, false, false, SHA256 },
	/* each option alone */
	{ "1 1 a 2 read_pattern quorum",	1, 1, Q, false, false, SHA256 },
	{ "1 1 a 2 read_pattern fifo",		1, 1, F, false, false, SHA256 },
	{ "1 1 a 1 rewrite_corrupted",		1, 1, Q, true,  false, SHA256 },
	{ "2 2 a b 1 blkverify",		2, 2, Q, false, true,  SHA256 },
	{ "1 1 a 2 hash sha1",			1, 1, Q, false, false, "sha1" },
	{ "1 1 a 2 hash sha256",		1, 1, Q, false, false, SHA256 },
	{ "1 1 a 2 hash hmac(sha256)",		1, 1, Q, false, false, "hmac(sha256)" },
	/* a hash value is taken as is, keywords included */
	{ "1 1 a 2 hash blkverify",		1, 1, Q, false, false, "blkverify" },
	/* combinations, in any order */
	{ "2 3 a b c 3 read_pattern quorum rewrite_corrupted",
						2, 3, Q, true,  false, SHA256 },
	{ "2 3 a b c 3 rewrite_corrupted read_pattern quorum",
						2, 3, Q, true,  false, SHA256 },
	{ "2 3 a b c 3 rewrite_corrupted hash crc32c",
						2, 3, Q, true,  false, "crc32c" },
	{ "1 3 a b c 4 read_pattern fifo hash md5",
						1, 3, F, false, false, "md5" },
	{ "1 3 a b c 4 hash md5 read_pattern fifo",
						1, 3, F, false, false, "md5" },
	{ "2 2 a b 3 blkverify hash sha512",	2, 2, Q, false, true,  "sha512" },
	{ "2 2 a b 3 read_pattern quorum blkverify",
						2, 2, Q, false, true,  SHA256 },
	{ "2 2 a b 5 hash xxhash64 blkverify read_pattern quorum",
						2, 2, Q, false, true,  "xxhash64" },
	{ "2 3 a b c 5 read_pattern quorum rewrite_corrupted hash sha1",
						2, 3, Q, true,  false, "sha1" },
	{ "2 3 a b c 5 hash sha1 rewrite_corrupted read_pattern quorum",
						2, 3, Q, true,  false, "sha1" },
};

static void test_ok(void **state)
{
	const struct ok_case *c = *state;
	struct quorum_args qa;
	struct line l;
	char *error;
	unsigned int i;
	int r;

	r = parse(&l, c->line, &qa, &error);
	if (r)
		fail_msg("\"%s\": got %d \"%s\"", c->line, r,
			 error ? error : "(no error)");
	assert_null(error);
	assert_int_equal(qa.threshold, c->threshold);
	assert_int_equal(qa.nr_legs, c->nr_legs);
	assert_int_equal(qa.read_pattern, c->read_pattern);
	assert_int_equal(qa.rewrite_corrupted, c->rewrite_corrupted);
	assert_int_equal(qa.blkverify, c->blkverify);
	assert_non_null(qa.hash);
	assert_string_equal(qa.hash, c->hash);
	/* The legs are the argv entries after <threshold> <#legs>. */
	assert_ptr_equal(qa.legs, &l.argv[2]);
	for (i = 0; i < qa.nr_legs; i++)
		assert_ptr_equal(qa.legs[i], l.argv[2 + i]);
}

/* ---- refused lines ----------------------------------------------------- */

struct bad_case {
	const char *line;
	const char *error;
};

#define E_EXPECTED	"Expected <threshold> <#legs> <leg_dev>..."
#define E_THRESHOLD	"Invalid threshold"
#define E_NR_LEGS	"Invalid number of legs"
#define E_NO_LEG	"At least one leg is required"
#define E_TOO_MANY	"Too many legs (at most 16)"
#define E_THRESH_0	"Threshold must be at least 1"
#define E_THRESH_GT	"Threshold may not exceed the number of legs"
#define E_FEWER		"Fewer leg devices than <#legs>"
#define E_NR_OPT	"Invalid <#opt_args> (more devices than <#legs>?)"
#define E_OPT_COUNT	"<#opt_args> does not match the optional arguments given"
#define E_UNKNOWN	"Unknown optional argument"
#define E_TWICE		"Optional argument given more than once"
#define E_RP_MISSING	"read_pattern requires a value: quorum or fifo"
#define E_RP_BAD	"Invalid read_pattern: expected quorum or fifo"
#define E_HASH_MISSING	"hash requires an algorithm name"
#define E_HASH_LONG	"Hash algorithm name too long"
#define E_EXCLUSIVE	"rewrite_corrupted and blkverify exclude each other"
#define E_NEED_QUORUM	"rewrite_corrupted and blkverify need read_pattern quorum"
#define E_BLKVERIFY	"blkverify needs exactly 2 legs and threshold 2"
#define E_METADATA	"metadata requires a place: internal"
#define E_DEGRADED	"degraded needs metadata internal"

static const struct bad_case bad_cases[] = {
	/* too short to hold <threshold> <#legs> */
	{ "",					E_EXPECTED },
	{ "1",					E_EXPECTED },
	/* threshold: not a plain unsigned decimal that fits */
	{ "'' 1 a",				E_THRESHOLD },
	{ "x 1 a",				E_THRESHOLD },
	{ "1x 1 a",				E_THRESHOLD },
	{ "-1 1 a",				E_THRESHOLD },
	{ "+1 1 a",				E_THRESHOLD },
	{ "0x1 1 a",				E_THRESHOLD },
	{ "1.0 1 a",				E_THRESHOLD },
	{ "4294967296 1 a",			E_THRESHOLD },
	{ "99999999999999999999 1 a",		E_THRESHOLD },
	/* the largest value that fits is parsed, then found too large */
	{ "4294967295 1 a",			E_THRESH_GT },
	/* #legs: the same */
	{ "1 '' a",				E_NR_LEGS },
	{ "1 x a",				E_NR_LEGS },
	{ "1 -1 a",				E_NR_LEGS },
	{ "1 +1 a",				E_NR_LEGS },
	{ "1 1a a",				E_NR_LEGS },
	{ "1 4294967296 a",			E_NR_LEGS },
	{ "1 18446744073709551617 a",		E_NR_LEGS },
	{ "1 4294967295 a",			E_TOO_MANY },
	/* the threshold is parsed first */
	{ "x y a",				E_THRESHOLD },
	/* #legs bounds, checked before the threshold's */
	{ "1 0",				E_NO_LEG },
	{ "0 0",				E_NO_LEG },
	{ "1 0 a",				E_NO_LEG },
	{ "1 17 a b c d e f g h i j k l m n o p q", E_TOO_MANY },
	{ "0 17 a",				E_TOO_MANY },
	/* threshold bounds */
	{ "0 1 a",				E_THRESH_0 },
	{ "0 3 a b c",				E_THRESH_0 },
	{ "2 1 a",				E_THRESH_GT },
	{ "4 3 a b c",				E_THRESH_GT },
	{ "17 16 a b c d e f g h i j k l m n o p", E_THRESH_GT },
	/* device count */
	{ "1 1",				E_FEWER },
	{ "2 3 a b",				E_FEWER },
	{ "1 16 a b c d e f g h i j k l m n o", E_FEWER },
	/* more devices than #legs: the first extra one is read as #opt_args */
	{ "1 1 a b",				E_NR_OPT },
	{ "2 2 a b c d",			E_NR_OPT },
	{ "1 1 a -1 blkverify",			E_NR_OPT },
	{ "1 1 a '' blkverify",			E_NR_OPT },
	{ "1 1 a 4294967296",			E_NR_OPT },
	/* #opt_args does not count what follows */
	{ "1 1 a 1",				E_OPT_COUNT },
	{ "1 1 a 3 read_pattern fifo",		E_OPT_COUNT },
	{ "1 1 a 1 read_pattern fifo",		E_OPT_COUNT },
	{ "1 1 a 0 rewrite_corrupted",		E_OPT_COUNT },
	{ "1 1 a 2 rewrite_corrupted",		E_OPT_COUNT },
	{ "1 1 a 2 b",				E_OPT_COUNT },
	{ "1 1 a 2 hash",			E_OPT_COUNT },
	{ "1 1 a 4294967295 rewrite_corrupted",	E_OPT_COUNT },
	/* unknown options: exact, case-sensitive keywords */
	{ "1 1 a 1 foo",			E_UNKNOWN },
	{ "1 1 a 1 ''",				E_UNKNOWN },
	{ "1 1 a 1 READ_PATTERN",		E_UNKNOWN },
	{ "1 1 a 1 rewrite-corrupted",		E_UNKNOWN },
	{ "1 1 a 1 blkverify=on",		E_UNKNOWN },
	{ "1 1 a 3 read_pattern fifo fifo",	E_UNKNOWN },
	{ "1 1 a 2 rewrite_corrupted fifo",	E_UNKNOWN },
	/* duplicated options */
	{ "1 1 a 2 rewrite_corrupted rewrite_corrupted", E_TWICE },
	{ "2 2 a b 2 blkverify blkverify",	E_TWICE },
	{ "1 1 a 4 read_pattern fifo read_pattern fifo", E_TWICE },
	{ "1 1 a 4 read_pattern quorum read_pattern fifo", E_TWICE },
	{ "1 1 a 4 hash sha1 hash sha1",	E_TWICE },
	{ "1 1 a 5 hash sha1 rewrite_corrupted hash md5", E_TWICE },
	/* read_pattern value */
	{ "1 1 a 1 read_pattern",		E_RP_MISSING },
	{ "1 1 a 2 rewrite_corrupted read_pattern", E_RP_MISSING },
	{ "1 1 a 2 read_pattern ''",		E_RP_BAD },
	{ "1 1 a 2 read_pattern FIFO",		E_RP_BAD },
	{ "1 1 a 2 read_pattern round-robin",	E_RP_BAD },
	{ "1 1 a 2 read_pattern rewrite_corrupted", E_RP_BAD },
	/* hash value */
	{ "1 1 a 1 hash",			E_HASH_MISSING },
	{ "1 1 a 2 hash ''",			E_HASH_MISSING },
	{ "1 1 a 2 rewrite_corrupted hash",	E_HASH_MISSING },
	/* blkverify: 2 legs and threshold 2 */
	{ "1 1 a 1 blkverify",			E_BLKVERIFY },
	{ "1 2 a b 1 blkverify",		E_BLKVERIFY },
	{ "2 3 a b c 1 blkverify",		E_BLKVERIFY },
	{ "3 3 a b c 1 blkverify",		E_BLKVERIFY },
	/* metadata: internal only; degraded only with it */
	{ "1 1 a 1 metadata",			E_METADATA },
	{ "1 1 a 2 metadata external",		E_METADATA },
	{ "1 1 a 2 metadata degraded",		E_METADATA },
	{ "1 1 a 1 degraded",			E_DEGRADED },
	{ "1 1 a 4 metadata internal metadata internal", E_TWICE },
	{ "1 1 a 4 degraded metadata internal degraded", E_TWICE },
	/* rewrite_corrupted and blkverify together */
	{ "2 2 a b 2 rewrite_corrupted blkverify", E_EXCLUSIVE },
	{ "2 2 a b 2 blkverify rewrite_corrupted", E_EXCLUSIVE },
	{ "1 3 a b c 2 blkverify rewrite_corrupted", E_EXCLUSIVE },
	{ "2 2 a b 4 blkverify rewrite_corrupted read_pattern fifo", E_EXCLUSIVE },
	/* either with fifo */
	{ "1 1 a 3 rewrite_corrupted read_pattern fifo", E_NEED_QUORUM },
	{ "1 1 a 3 read_pattern fifo rewrite_corrupted", E_NEED_QUORUM },
	{ "2 2 a b 3 blkverify read_pattern fifo", E_NEED_QUORUM },
	{ "2 2 a b 3 read_pattern fifo blkverify", E_NEED_QUORUM },
	{ "1 3 a b c 3 read_pattern fifo blkverify", E_NEED_QUORUM },
};

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	struct quorum_args qa;
	struct line l;
	char *error;
	int r;

	r = parse(&l, c->line, &qa, &error);
	if (r != -EINVAL)
		fail_msg("\"%s\": got %d, expected -EINVAL \"%s\"", c->line, r,
			 c->error);
	if (!error || strcmp(error, c->error))
		fail_msg("\"%s\": got \"%s\", expected \"%s\"", c->line,
			 error ? error : "(no error)", c->error);
}

/* ---- single tests ------------------------------------------------------ */

static void test_hash_name_length(void **state)
{
	char name[QUORUM_HASH_NAME_MAX + 1];
	char *argv[6] = { "1", "1", "a", "2", "hash", name };
	struct quorum_args qa;
	char *error = NULL;

	(void)state;
	/* QUORUM_HASH_NAME_MAX counts the terminating NUL. */
	memset(name, 'h', sizeof(name));
	name[QUORUM_HASH_NAME_MAX - 1] = '\0';
	assert_int_equal(quorum_parse_args(6, argv, &qa, &error), 0);
	assert_null(error);
	assert_ptr_equal(qa.hash, name);

	name[QUORUM_HASH_NAME_MAX - 1] = 'h';
	name[QUORUM_HASH_NAME_MAX] = '\0';
	assert_int_equal(quorum_parse_args(6, argv, &qa, &error), -EINVAL);
	assert_string_equal(error, E_HASH_LONG);
}

/* argc bounds the parse: nothing past argv[argc - 1] is read. */
static void test_argc_bounds_argv(void **state)
{
	char *argv[7] = { "2", "2", "a", "b", "1", "blkverify", NULL };
	struct quorum_args qa;
	char *error = NULL;

	(void)state;
	assert_int_equal(quorum_parse_args(4, argv, &qa, &error), 0);
	assert_false(qa.blkverify);
	assert_int_equal(quorum_parse_args(3, argv, &qa, &error), -EINVAL);
	assert_string_equal(error, E_FEWER);
	assert_int_equal(quorum_parse_args(0, NULL, &qa, &error), -EINVAL);
	assert_string_equal(error, E_EXPECTED);
}

/* The parser points into argv and never writes to it. */
static void test_argv_untouched(void **state)
{
	static const char line[] =
		"2 3 a b c 5 hash sha1 rewrite_corrupted read_pattern quorum";
	struct quorum_args qa;
	char *before[MAX_ARGS];
	struct line l;
	char *error;
	unsigned int i;

	(void)state;
	split(&l, line);
	memcpy(before, l.argv, sizeof(before));
	assert_int_equal(quorum_parse_args(l.argc, l.argv, &qa, &error), 0);
	for (i = 0; i < l.argc; i++)
		assert_ptr_equal(l.argv[i], before[i]);
	assert_ptr_equal(qa.hash, l.argv[7]);
	assert_string_equal(qa.hash, "sha1");
	/* split() only replaced the separators with NULs. */
	for (i = 0; i < sizeof(line) - 1; i++)
		assert_int_equal(l.buf[i], line[i] == ' ' ? '\0' : line[i]);
}

/* Every parse starts from the defaults, whatever the previous one set. */
static void test_defaults_reset(void **state)
{
	struct quorum_args qa;
	struct line l;
	char *error;

	(void)state;
	assert_int_equal(parse(&l, "1 1 a 4 read_pattern fifo hash md5",
			       &qa, &error), 0);
	split(&l, "1 1 a");
	assert_int_equal(quorum_parse_args(l.argc, l.argv, &qa, &error), 0);
	assert_int_equal(qa.read_pattern, QUORUM_READ_QUORUM);
	assert_string_equal(qa.hash, QUORUM_DEFAULT_HASH);
	assert_string_equal(QUORUM_DEFAULT_HASH, "sha256");
	assert_false(qa.rewrite_corrupted);
	assert_false(qa.blkverify);
}

static void test_read_pattern_name(void **state)
{
	(void)state;
	assert_string_equal(quorum_read_pattern_name(QUORUM_READ_QUORUM),
			    "quorum");
	assert_string_equal(quorum_read_pattern_name(QUORUM_READ_FIFO), "fifo");
}

/* ---- region size against the device's length ---------------------------- */

#define TIB_SECTORS	(1024ULL * 1024 * 1024 * 1024 / 512)

static void test_regions(void **state)
{
	struct quorum_args qa;
	unsigned int size;
	struct line l;
	char *error;

	(void)state;
	/* the default fits up to 64 TiB */
	assert_int_equal(quorum_regions(64 * TIB_SECTORS, 2048, false, &size,
					&error), 0);
	assert_int_equal(size, 2048);
	/* one sector more and the default grows, a given size is refused */
	assert_int_equal(quorum_regions(64 * TIB_SECTORS + 1, 2048, false,
					&size, &error), 0);
	assert_int_equal(size, 4096);
	assert_int_equal(quorum_regions(64 * TIB_SECTORS + 1, 2048, true,
					&size, &error), -EINVAL);
	assert_int_equal(size, 4096);
	assert_non_null(strstr(error, "Too many regions"));
	/* 64 TiB in 4 KiB regions: 2^34 of them, at least 2048 sectors */
	assert_int_equal(quorum_regions(64 * TIB_SECTORS, 8, true, &size,
					&error), -EINVAL);
	assert_int_equal(size, 2048);
	/* a small device keeps what it asked for */
	assert_int_equal(quorum_regions(2048, 8, true, &size, &error), 0);
	assert_int_equal(size, 8);
	assert_int_equal(quorum_regions(1, 2048, false, &size, &error), 0);
	assert_int_equal(size, 2048);
	/* past 2^26 regions of the largest size: no size fits */
	assert_int_equal(quorum_regions((unsigned long long)QUORUM_MAX_REGIONS *
					QUORUM_MAX_REGION_SECTORS + 1, 2048,
					false, &size, &error), -EINVAL);
	assert_int_equal(size, 0);
	assert_int_equal(quorum_regions(~0ULL, 2048, false, &size, &error),
			 -EINVAL);
	/* the parser tells a given size from the default */
	assert_int_equal(parse(&l, "1 1 a 2 region_size 2048", &qa, &error), 0);
	assert_true(qa.region_given);
	assert_int_equal(parse(&l, "1 1 a", &qa, &error), 0);
	assert_false(qa.region_given);
}

static void test_metadata(void **state)
{
	struct quorum_args qa;
	struct line l;
	char *error;

	(void)state;
	assert_int_equal(parse(&l, "2 3 a b c 3 metadata internal degraded",
			       &qa, &error), 0);
	assert_true(qa.metadata);
	assert_true(qa.degraded);
	assert_int_equal(parse(&l, "2 3 a b c 3 degraded metadata internal",
			       &qa, &error), 0);
	assert_true(qa.metadata);
	assert_true(qa.degraded);
	assert_int_equal(parse(&l, "2 3 a b c 2 metadata internal", &qa,
			       &error), 0);
	assert_true(qa.metadata);
	assert_false(qa.degraded);
	assert_int_equal(parse(&l, "1 1 a", &qa, &error), 0);
	assert_false(qa.metadata);
	assert_false(qa.degraded);
}

/* ---- main -------------------------------------------------------------- */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const struct CMUnitTest single_tests[] = {
	cmocka_unit_test(test_hash_name_length),
	cmocka_unit_test(test_argc_bounds_argv),
	cmocka_unit_test(test_argv_untouched),
	cmocka_unit_test(test_defaults_reset),
	cmocka_unit_test(test_read_pattern_name),
	cmocka_unit_test(test_regions),
	cmocka_unit_test(test_metadata),
};

static void add_case(struct CMUnitTest *t, const char *kind, const char *line,
		     CMUnitTestFunction fn, const void *c)
{
	size_t len = strlen(kind) + strlen(line) + 4;
	char *name = malloc(len);

	assert_non_null(name);
	snprintf(name, len, "%s: %s", kind, line);
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->test_func = fn;
	t->initial_state = (void *)c;
}

int main(void)
{
	size_t n = ARRAY_SIZE(single_tests) + ARRAY_SIZE(ok_cases) +
		   ARRAY_SIZE(bad_cases);
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	size_t i, t = 0;
	int failed;

	if (!tests)
		return 1;
	for (i = 0; i < ARRAY_SIZE(single_tests); i++)
		tests[t++] = single_tests[i];
	for (i = 0; i < ARRAY_SIZE(ok_cases); i++)
		add_case(&tests[t++], "accept", ok_cases[i].line, test_ok,
			 &ok_cases[i]);
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++)
		add_case(&tests[t++], "refuse", bad_cases[i].line, test_bad,
			 &bad_cases[i]);

	failed = _cmocka_run_group_tests("dm-quorum-args", tests, n, NULL, NULL);

	for (i = ARRAY_SIZE(single_tests); i < n; i++)
		free((void *)tests[i].name);
	free(tests);
	return failed;
}
