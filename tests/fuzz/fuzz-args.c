// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the dm-quorum table line parser, and for the
 * message parser on the same words.
 *
 * The input is split into arguments at every space and NUL byte; two
 * separators in a row give an empty argument, which dm core never passes
 * but the parser must survive.  On success the result must satisfy every
 * rule of the table line and survive a round trip through the canonical
 * line the target's status would emit; on failure there must be an error
 * message.  Either way the arguments must be left untouched.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dm-quorum-args.h"

/* Inputs longer than any table line dm-quorum could get add nothing. */
#define MAX_INPUT	4096

static bool is_decimal(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && !errno;
}

/* Does @p point at one of the arguments? */
static bool is_arg(const char *p, unsigned int argc, char **argv)
{
	unsigned int i;

	for (i = 0; i < argc; i++)
		if (p == argv[i])
			return true;
	return false;
}

static void check_valid(const struct quorum_args *qa, unsigned int argc,
			char **argv)
{
	unsigned long nr_opt;

	CHECK(qa->threshold >= 1);
	CHECK(qa->threshold <= qa->nr_legs);
	CHECK(qa->nr_legs <= QUORUM_MAX_LEGS);
	CHECK(argc >= 2 + qa->nr_legs);
	CHECK(qa->legs == argv + 2);

	/* <threshold> and <#legs> are plain decimal and say what was read. */
	CHECK(is_decimal(argv[0], &nr_opt) && nr_opt == qa->threshold);
	CHECK(is_decimal(argv[1], &nr_opt) && nr_opt == qa->nr_legs);

	/* After the legs: nothing, or a count of exactly what follows. */
	if (argc > 2 + qa->nr_legs) {
		CHECK(is_decimal(argv[2 + qa->nr_legs], &nr_opt));
		CHECK(nr_opt == argc - 3 - qa->nr_legs);
	}

	CHECK(qa->hash);
	CHECK(*qa->hash);
	CHECK(strlen(qa->hash) < QUORUM_HASH_NAME_MAX);
	CHECK(!strcmp(qa->hash, QUORUM_DEFAULT_HASH) ||
	      is_arg(qa->hash, argc, argv));

	CHECK(qa->read_pattern == QUORUM_READ_QUORUM ||
	      qa->read_pattern == QUORUM_READ_FIFO);
	CHECK(!strcmp(quorum_read_pattern_name(qa->read_pattern),
		      qa->read_pattern == QUORUM_READ_FIFO ? "fifo" : "quorum"));
	CHECK(!(qa->rewrite_corrupted && qa->blkverify));
	if (qa->rewrite_corrupted || qa->blkverify)
		CHECK(qa->read_pattern == QUORUM_READ_QUORUM);
	if (qa->blkverify)
		CHECK(qa->nr_legs == 2 && qa->threshold == 2);
	CHECK(qa->region_sectors >= QUORUM_MIN_REGION_SECTORS);
	CHECK(qa->region_sectors <= QUORUM_MAX_REGION_SECTORS);
	CHECK(!(qa->region_sectors & (qa->region_sectors - 1)));
}

/* The canonical line for @qa parses back to the same arguments. */
static void check_round_trip(const struct quorum_args *qa)
{
	char threshold[16], nr_legs[16], nr_opt[16], region[16];
	char *argv[3 + QUORUM_MAX_LEGS + 9];
	char *opts[9];
	struct quorum_args again;
	unsigned int argc = 0, n = 0, i;
	char *error = NULL;

	if (qa->read_pattern == QUORUM_READ_FIFO) {
		opts[n++] = "read_pattern";
		opts[n++] = "fifo";
	}
	if (qa->rewrite_corrupted)
		opts[n++] = "rewrite_corrupted";
	if (qa->blkverify)
		opts[n++] = "blkverify";
	if (strcmp(qa->hash, QUORUM_DEFAULT_HASH)) {
		opts[n++] = "hash";
		opts[n++] = (char *)qa->hash;
	}
	if (qa->region_sectors != QUORUM_DEFAULT_REGION_SECTORS) {
		snprintf(region, sizeof(region), "%u", qa->region_sectors);
		opts[n++] = "region_size";
		opts[n++] = region;
	}

	snprintf(threshold, sizeof(threshold), "%u", qa->threshold);
	snprintf(nr_legs, sizeof(nr_legs), "%u", qa->nr_legs);
	snprintf(nr_opt, sizeof(nr_opt), "%u", n);
	argv[argc++] = threshold;
	argv[argc++] = nr_legs;
	for (i = 0; i < qa->nr_legs; i++)
		argv[argc++] = qa->legs[i];
	if (n) {
		argv[argc++] = nr_opt;
		for (i = 0; i < n; i++)
			argv[argc++] = opts[i];
	}

	CHECK(!quorum_parse_args(argc, argv, &again, &error));
	CHECK(again.threshold == qa->threshold);
	CHECK(again.nr_legs == qa->nr_legs);
	CHECK(again.legs == argv + 2);
	CHECK(again.read_pattern == qa->read_pattern);
	CHECK(again.rewrite_corrupted == qa->rewrite_corrupted);
	CHECK(again.blkverify == qa->blkverify);
	CHECK(!strcmp(again.hash, qa->hash));
	CHECK(again.region_sectors == qa->region_sectors);
}

/* The same words as a message to a device with 3 legs. */
static void check_message(unsigned int argc, char **argv, const char *buf,
			  size_t size)
{
	struct quorum_msg msg;
	char *error = NULL;
	int r;

	memset(&msg, 0x5a, sizeof(msg));
	r = quorum_parse_message(argc, argv, 3, &msg, &error);
	if (r) {
		CHECK(r == -EINVAL);
		CHECK(error && *error);
		CHECK(error < buf || error > buf + size);
		return;
	}
	CHECK(!error);
	CHECK(argc >= 1 && !strcmp(quorum_msg_name(msg.op), argv[0]));
	CHECK(msg.leg < 3);
	CHECK(!msg.dev || (*msg.dev && msg.dev == argv[argc - 1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *orig, **argv, **orig_argv;
	struct quorum_args qa;
	unsigned int argc = 0;
	char *error = NULL;
	size_t i, start;
	int r;

	if (size > MAX_INPUT)
		return 0;
	/* Exact-size copies, so ASan sees any read past an argument. */
	buf = malloc(size + 1);
	orig = malloc(size + 1);
	argv = malloc((size + 1) * sizeof(*argv));
	orig_argv = malloc((size + 1) * sizeof(*argv));
	CHECK(buf && orig && argv && orig_argv);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0, start = 0; i <= size; i++) {
		if (i == size || buf[i] == ' ' || buf[i] == '\0') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	/* No input at all is no argument, not one empty argument. */
	if (!size)
		argc = 0;
	memcpy(orig, buf, size + 1);
	memcpy(orig_argv, argv, argc * sizeof(*argv));

	memset(&qa, 0x5a, sizeof(qa));
	r = quorum_parse_args(argc, argv, &qa, &error);
	if (!r) {
		check_valid(&qa, argc, argv);
		check_round_trip(&qa);
	} else {
		CHECK(r == -EINVAL);
		CHECK(error);
		CHECK(*error);
		/* A fixed message, never a pointer into the arguments. */
		CHECK(error < buf || error > buf + size);
	}
	check_message(argc, argv, buf, size);
	CHECK(!memcmp(orig, buf, size + 1));
	CHECK(!memcmp(orig_argv, argv, argc * sizeof(*argv)));

	free(orig_argv);
	free(argv);
	free(orig);
	free(buf);
	return 0;
}
