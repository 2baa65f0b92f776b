// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the message parser and the region_size option
 * (dm-quorum-args.c): `dmsetup message <dev> 0 <words>` and
 * `... region_size <sectors>` in the table line.
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

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- messages ----------------------------------------------------------- */

struct msg_case {
	const char *line;
	int r;
	enum quorum_msg_op op;
	unsigned int leg;
	const char *dev;
	const char *error;	/* on -EINVAL */
};

#define OK(l, o, g, d)	{ l, 0, QUORUM_MSG_##o, g, d, NULL }
#define BAD(l, e)	{ l, -EINVAL, 0, 0, NULL, e }

#define E_UNKNOWN "Unknown message"
#define E_LEG	"Invalid leg: expected a leg index (0, 1, ...)"
#define E_NOLEG	"No such leg"

/* Every case runs against a device with 3 legs. */
static const struct msg_case msg_cases[] = {
	OK("rewrite 0", REWRITE, 0, NULL),
	OK("rewrite 2", REWRITE, 2, NULL),
	OK("replace 1 /dev/sdx", REPLACE, 1, "/dev/sdx"),
	OK("replace 01 8:16", REPLACE, 1, "8:16"),
	OK("fail 2", FAIL, 2, NULL),
	OK("reinstate 0", REINSTATE, 0, NULL),
	OK("add_leg /dev/mapper/new", ADD_LEG, 0, "/dev/mapper/new"),
	OK("remove_leg 1", REMOVE_LEG, 1, NULL),
	OK("check", CHECK, 0, NULL),
	OK("repair", REPAIR, 0, NULL),
	OK("idle", IDLE, 0, NULL),
	/* unknown words, case matters as in every dm target */
	BAD("frobnicate", E_UNKNOWN),
	BAD("Check", E_UNKNOWN),
	BAD("resync", E_UNKNOWN),
	BAD("''", E_UNKNOWN),
	/* argument counts: the usage is the error */
	BAD("rewrite", "rewrite <leg>"),
	BAD("rewrite 0 1", "rewrite <leg>"),
	BAD("replace 1", "replace <leg> <dev>"),
	BAD("replace 1 a b", "replace <leg> <dev>"),
	BAD("fail", "fail <leg>"),
	BAD("reinstate", "reinstate <leg>"),
	BAD("add_leg", "add_leg <dev>"),
	BAD("add_leg a b", "add_leg <dev>"),
	BAD("remove_leg", "remove_leg <leg>"),
	BAD("check now", "check"),
	BAD("idle 0", "idle"),
	/* leg indices */
	BAD("fail 3", E_NOLEG),
	BAD("fail 99999999999", E_LEG),
	BAD("fail -1", E_LEG),
	BAD("fail +1", E_LEG),
	BAD("fail 0x1", E_LEG),
	BAD("fail one", E_LEG),
	BAD("fail ''", E_LEG),
	BAD("replace 3 /dev/sdx", E_NOLEG),
	BAD("replace x /dev/sdx", E_LEG),
	BAD("replace 0 ''", "Empty device name"),
	BAD("add_leg ''", "Empty device name"),
};

static void test_msg(void **state)
{
	const struct msg_case *c = *state;
	struct quorum_msg msg;
	struct line l;
	char *error = NULL;
	int r;

	split(&l, c->line);
	memset(&msg, 0xa5, sizeof(msg));
	r = quorum_parse_message(l.argc, l.argv, 3, &msg, &error);
	assert_int_equal(r, c->r);
	if (r) {
		if (!error || strcmp(error, c->error))
			fail_msg("\"%s\": got \"%s\", expected \"%s\"", c->line,
				 error ? error : "(none)", c->error);
		return;
	}
	assert_null(error);
	assert_int_equal(msg.op, c->op);
	assert_int_equal(msg.leg, c->leg);
	if (c->dev)
		assert_string_equal(msg.dev, c->dev);
	else
		assert_null(msg.dev);
	assert_string_equal(quorum_msg_name(msg.op), l.argv[0]);
}

static void test_msg_empty(void **state)
{
	struct quorum_msg msg;
	char *error = NULL;

	(void)state;
	assert_int_equal(quorum_parse_message(0, NULL, 3, &msg, &error), -EINVAL);
	assert_string_equal(error, "Empty message");
}

/* ---- region_size --------------------------------------------------------- */

static void test_region_size(void **state)
{
	static const struct {
		const char *line;
		unsigned int sectors;	/* 0: refused */
	} cases[] = {
		{ "1 1 a", QUORUM_DEFAULT_REGION_SECTORS },
		{ "1 1 a 2 region_size 8", 8 },
		{ "1 1 a 2 region_size 4096", 4096 },
		{ "1 1 a 2 region_size 2097152", 2097152 },
		{ "2 3 a b c 4 region_size 128 rewrite_corrupted hash crc32c", 0 },
		{ "2 3 a b c 5 region_size 128 rewrite_corrupted hash crc32c", 128 },
		{ "1 1 a 2 region_size 4", 0 },
		{ "1 1 a 2 region_size 0", 0 },
		{ "1 1 a 2 region_size 1000", 0 },
		{ "1 1 a 2 region_size 4194304", 0 },
		{ "1 1 a 2 region_size x", 0 },
		{ "1 1 a 1 region_size", 0 },
		{ "1 1 a 4 region_size 8 region_size 8", 0 },
	};
	struct quorum_args qa;
	struct line l;
	unsigned int i;

	(void)state;
	assert_int_equal(QUORUM_DEFAULT_REGION_SECTORS, 2048);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *error = NULL;
		int r;

		split(&l, cases[i].line);
		r = quorum_parse_args(l.argc, l.argv, &qa, &error);
		if (!cases[i].sectors) {
			if (r != -EINVAL || !error)
				fail_msg("\"%s\" accepted", cases[i].line);
			continue;
		}
		if (r)
			fail_msg("\"%s\": %s", cases[i].line, error);
		assert_int_equal(qa.region_sectors, cases[i].sectors);
	}
}

int main(void)
{
	size_t n = ARRAY_SIZE(msg_cases) + 2;
	struct CMUnitTest *tests = calloc(n, sizeof(*tests));
	size_t i;
	int failed;

	if (!tests)
		return 1;
	for (i = 0; i < ARRAY_SIZE(msg_cases); i++) {
		tests[i].name = msg_cases[i].line;
		tests[i].test_func = test_msg;
		tests[i].initial_state = (void *)&msg_cases[i];
	}
	tests[i].name = "empty message";
	tests[i++].test_func = test_msg_empty;
	tests[i].name = "region_size";
	tests[i].test_func = test_region_size;
	failed = _cmocka_run_group_tests("dm-quorum-message", tests, n, NULL, NULL);
	free(tests);
	return failed;
}
