// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum table line parsing:
 *
 *   <threshold> <#legs> <leg_dev>... [<#opt_args> <opt_arg>...]
 *
 * Optional arguments: read_pattern quorum|fifo, rewrite_corrupted,
 * blkverify, hash <shash algorithm>, region_size <sectors>,
 * metadata internal, degraded.
 *
 * And the messages of `dmsetup message <dev> 0 ...` (quorum_parse_message).
 *
 * Every refusal sets *error to a message naming what is wrong, the way
 * ti->error is used by the in-tree targets.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/string.h>
#else
#include <errno.h>
#include <string.h>
#endif

#include "dm-quorum-args.h"

struct arg_cursor {
	unsigned int argc;
	char **argv;
};

static char *shift_arg(struct arg_cursor *c)
{
	if (!c->argc)
		return NULL;
	c->argc--;
	return *c->argv++;
}

/* Plain decimal only: no sign, no base prefix, no trailing garbage. */
static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (unsigned int)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned int)(*s - '0');
	}
	*out = v;
	return 0;
}

static int fail(char **error, char *msg)
{
	*error = msg;
	return -EINVAL;
}

static int parse_legs(struct arg_cursor *c, struct quorum_args *qa,
		      char **error)
{
	if (c->argc < 2)
		return fail(error, "Expected <threshold> <#legs> <leg_dev>...");
	if (parse_uint(shift_arg(c), ~0U, &qa->threshold))
		return fail(error, "Invalid threshold");
	if (parse_uint(shift_arg(c), ~0U, &qa->nr_legs))
		return fail(error, "Invalid number of legs");
	if (qa->nr_legs < 1)
		return fail(error, "At least one leg is required");
	if (qa->nr_legs > QUORUM_MAX_LEGS)
		return fail(error, "Too many legs (at most 16)");
	if (qa->threshold < 1)
		return fail(error, "Threshold must be at least 1");
	if (qa->threshold > qa->nr_legs)
		return fail(error, "Threshold may not exceed the number of legs");
	if (c->argc < qa->nr_legs)
		return fail(error, "Fewer leg devices than <#legs>");

	qa->legs = c->argv;
	c->argv += qa->nr_legs;
	c->argc -= qa->nr_legs;
	return 0;
}

static int parse_read_pattern(struct arg_cursor *c, struct quorum_args *qa,
			      char **error)
{
	const char *v = shift_arg(c);

	if (!v)
		return fail(error, "read_pattern requires a value: quorum or fifo");
	if (!strcmp(v, "quorum"))
		qa->read_pattern = QUORUM_READ_QUORUM;
	else if (!strcmp(v, "fifo"))
		qa->read_pattern = QUORUM_READ_FIFO;
	else
		return fail(error, "Invalid read_pattern: expected quorum or fifo");
	return 0;
}

static int parse_hash(struct arg_cursor *c, struct quorum_args *qa,
		      char **error)
{
	const char *v = shift_arg(c);

	if (!v || !*v)
		return fail(error, "hash requires an algorithm name");
	if (strlen(v) >= QUORUM_HASH_NAME_MAX)
		return fail(error, "Hash algorithm name too long");
	qa->hash = v;
	return 0;
}

static int parse_region_size(struct arg_cursor *c, struct quorum_args *qa,
			     char **error)
{
	unsigned int v;

	if (parse_uint(shift_arg(c), ~0U, &v))
		return fail(error, "region_size requires a number of sectors");
	/* a power of two of at least a page, so regions hold whole pages */
	if (v < QUORUM_MIN_REGION_SECTORS || v > QUORUM_MAX_REGION_SECTORS ||
	    (v & (v - 1)))
		return fail(error, "Invalid region_size: a power of two from 8 to 2097152 sectors");
	qa->region_sectors = v;
	qa->region_given = true;
	return 0;
}

static int parse_metadata(struct arg_cursor *c, struct quorum_args *qa,
			  char **error)
{
	const char *v = shift_arg(c);

	if (!v || strcmp(v, "internal"))
		return fail(error, "metadata requires a place: internal");
	qa->metadata = true;
	return 0;
}

enum opt_bit {
	OPT_READ_PATTERN = 1 << 0,
	OPT_REWRITE = 1 << 1,
	OPT_BLKVERIFY = 1 << 2,
	OPT_HASH = 1 << 3,
	OPT_REGION_SIZE = 1 << 4,
	OPT_METADATA = 1 << 5,
	OPT_DEGRADED = 1 << 6,
};

/* Parse one keyword and its value; @seen catches repeated options. */
static int parse_one_opt(struct arg_cursor *c, struct quorum_args *qa,
			 unsigned int *seen, char **error)
{
	const char *key = shift_arg(c);
	unsigned int bit;

	if (!strcmp(key, "read_pattern"))
		bit = OPT_READ_PATTERN;
	else if (!strcmp(key, "rewrite_corrupted"))
		bit = OPT_REWRITE;
	else if (!strcmp(key, "blkverify"))
		bit = OPT_BLKVERIFY;
	else if (!strcmp(key, "hash"))
		bit = OPT_HASH;
	else if (!strcmp(key, "region_size"))
		bit = OPT_REGION_SIZE;
	else if (!strcmp(key, "metadata"))
		bit = OPT_METADATA;
	else if (!strcmp(key, "degraded"))
		bit = OPT_DEGRADED;
	else
		return fail(error, "Unknown optional argument");

	if (*seen & bit)
		return fail(error, "Optional argument given more than once");
	*seen |= bit;

	switch (bit) {
	case OPT_READ_PATTERN:
		return parse_read_pattern(c, qa, error);
	case OPT_HASH:
		return parse_hash(c, qa, error);
	case OPT_REGION_SIZE:
		return parse_region_size(c, qa, error);
	case OPT_METADATA:
		return parse_metadata(c, qa, error);
	case OPT_DEGRADED:
		qa->degraded = true;
		return 0;
	case OPT_REWRITE:
		qa->rewrite_corrupted = true;
		return 0;
	default:
		qa->blkverify = true;
		return 0;
	}
}

static int parse_opts(struct arg_cursor *c, struct quorum_args *qa,
		      char **error)
{
	struct arg_cursor opts;
	unsigned int nr_opt, seen = 0;

	if (!c->argc)
		return 0;
	if (parse_uint(shift_arg(c), ~0U, &nr_opt))
		return fail(error, "Invalid <#opt_args> (more devices than <#legs>?)");
	if (nr_opt != c->argc)
		return fail(error, "<#opt_args> does not match the optional arguments given");

	/* Values are read from a cursor limited to the counted group. */
	opts = *c;
	c->argc = 0;
	while (opts.argc) {
		int r = parse_one_opt(&opts, qa, &seen, error);

		if (r)
			return r;
	}
	return 0;
}

static int check_constraints(const struct quorum_args *qa, char **error)
{
	if (qa->rewrite_corrupted && qa->blkverify)
		return fail(error, "rewrite_corrupted and blkverify exclude each other");
	if ((qa->rewrite_corrupted || qa->blkverify) &&
	    qa->read_pattern != QUORUM_READ_QUORUM)
		return fail(error, "rewrite_corrupted and blkverify need read_pattern quorum");
	if (qa->blkverify && (qa->nr_legs != 2 || qa->threshold != 2))
		return fail(error, "blkverify needs exactly 2 legs and threshold 2");
	if (qa->degraded && !qa->metadata)
		return fail(error, "degraded needs metadata internal");
	return 0;
}

int quorum_parse_args(unsigned int argc, char **argv, struct quorum_args *qa,
		      char **error)
{
	struct arg_cursor c = { .argc = argc, .argv = argv };
	int r;

	memset(qa, 0, sizeof(*qa));
	qa->read_pattern = QUORUM_READ_QUORUM;
	qa->hash = QUORUM_DEFAULT_HASH;
	qa->region_sectors = QUORUM_DEFAULT_REGION_SECTORS;

	r = parse_legs(&c, qa, error);
	if (!r)
		r = parse_opts(&c, qa, error);
	if (!r)
		r = check_constraints(qa, error);
	return r;
}

/* Regions of @size sectors in @len, rounded up, without overflow. */
static unsigned long long regions_of(unsigned long long len,
				     unsigned long long size)
{
	return len / size + !!(len % size);
}

/*
 * The region size for a device of @len sectors: the one @asked (the
 * default unless @given) if the map stays within QUORUM_MAX_REGIONS
 * regions; else, for the default, the smallest power of two above it that
 * does.  A size the table gave that is too small is refused, with in
 * *@region_sectors the least size that would do (0 if none would).
 */
int quorum_regions(unsigned long long len, unsigned int asked, bool given,
		   unsigned int *region_sectors, char **error)
{
	unsigned long long size = asked;

	while (size < QUORUM_MAX_REGION_SECTORS &&
	       regions_of(len, size) > QUORUM_MAX_REGIONS)
		size <<= 1;
	*region_sectors = size;
	if (regions_of(len, size) > QUORUM_MAX_REGIONS) {
		*region_sectors = 0;
		return fail(error, "Too many regions: the device is too large for any region_size");
	}
	if (given && size != asked)
		return fail(error, "Too many regions: region_size too small for the device");
	return 0;
}

const char *quorum_read_pattern_name(enum quorum_read_pattern rp)
{
	return rp == QUORUM_READ_FIFO ? "fifo" : "quorum";
}

/* ---- messages --------------------------------------------------------- */

struct msg_spec {
	const char *name;
	enum quorum_msg_op op;
	bool leg;		/* takes <leg> */
	bool dev;		/* takes <dev> */
	const char *usage;
};

static const struct msg_spec msg_specs[] = {
	{ "rewrite", QUORUM_MSG_REWRITE, true, false, "rewrite <leg>" },
	{ "replace", QUORUM_MSG_REPLACE, true, true, "replace <leg> <dev>" },
	{ "fail", QUORUM_MSG_FAIL, true, false, "fail <leg>" },
	{ "reinstate", QUORUM_MSG_REINSTATE, true, false, "reinstate <leg>" },
	{ "add_leg", QUORUM_MSG_ADD_LEG, false, true, "add_leg <dev>" },
	{ "remove_leg", QUORUM_MSG_REMOVE_LEG, true, false, "remove_leg <leg>" },
	{ "check", QUORUM_MSG_CHECK, false, false, "check" },
	{ "repair", QUORUM_MSG_REPAIR, false, false, "repair" },
	{ "idle", QUORUM_MSG_IDLE, false, false, "idle" },
	{ .name = NULL }
};

static int parse_leg_index(const char *s, unsigned int nr_legs,
			   unsigned int *leg, char **error)
{
	if (parse_uint(s, ~0U, leg))
		return fail(error, "Invalid leg: expected a leg index (0, 1, ...)");
	if (*leg >= nr_legs)
		return fail(error, "No such leg");
	return 0;
}

int quorum_parse_message(unsigned int argc, char **argv, unsigned int nr_legs,
			 struct quorum_msg *msg, char **error)
{
	const struct msg_spec *spec;
	unsigned int want;

	memset(msg, 0, sizeof(*msg));
	if (!argc)
		return fail(error, "Empty message");
	for (spec = msg_specs; spec->name; spec++)
		if (!strcmp(argv[0], spec->name))
			break;
	if (!spec->name)
		return fail(error, "Unknown message");
	*error = (char *)spec->usage;
	want = 1 + spec->leg + spec->dev;
	if (argc != want)
		return -EINVAL;
	msg->op = spec->op;
	if (spec->leg && parse_leg_index(argv[1], nr_legs, &msg->leg, error))
		return -EINVAL;
	if (spec->dev) {
		msg->dev = argv[want - 1];
		if (!*msg->dev)
			return fail(error, "Empty device name");
	}
	*error = NULL;
	return 0;
}

const char *quorum_msg_name(enum quorum_msg_op op)
{
	return msg_specs[op].name;
}
