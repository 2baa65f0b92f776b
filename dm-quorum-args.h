/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-quorum table line parsing.
 *
 * Pure logic: no kernel-only calls, so the same file builds in userspace
 * for the unit tests and the fuzzer.  Opening the leg devices and the hash
 * transform is left to the target constructor.
 */
#ifndef DM_QUORUM_ARGS_H
#define DM_QUORUM_ARGS_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#endif

/* Per-leg state lives in bitmaps of one unsigned long. */
#define QUORUM_MAX_LEGS		16
#define QUORUM_DEFAULT_HASH	"sha256"
/* CRYPTO_MAX_ALG_NAME, which userspace does not have */
#define QUORUM_HASH_NAME_MAX	128

/*
 * Writes missed by a leg are remembered per region, and the resync and
 * scrub engine works region by region.  The default keeps the in-memory
 * map at 128 KiB per leg and TiB of device.
 */
#define QUORUM_DEFAULT_REGION_SECTORS	2048
#define QUORUM_MIN_REGION_SECTORS	8
#define QUORUM_MAX_REGION_SECTORS	2097152
/*
 * At most this many regions (8 MiB of map per leg in memory): with the
 * default size, 64 TiB.  Larger devices get larger regions by default.
 */
#define QUORUM_MAX_REGIONS		67108864U

enum quorum_read_pattern {
	QUORUM_READ_QUORUM,
	QUORUM_READ_FIFO,
};

struct quorum_args {
	unsigned int threshold;
	unsigned int nr_legs;
	char **legs;			/* nr_legs device paths, from argv */
	enum quorum_read_pattern read_pattern;
	bool rewrite_corrupted;
	bool blkverify;
	const char *hash;		/* never NULL after a successful parse */
	unsigned int region_sectors;	/* a power of two */
	bool region_given;		/* by the table, not the default */
	bool metadata;			/* metadata internal: on every leg */
	bool degraded;			/* may start without a majority */
};

/* `dmsetup message <dev> 0 <message>`; the order is msg_specs[]'s. */
enum quorum_msg_op {
	QUORUM_MSG_REWRITE,
	QUORUM_MSG_REPLACE,
	QUORUM_MSG_FAIL,
	QUORUM_MSG_REINSTATE,
	QUORUM_MSG_ADD_LEG,
	QUORUM_MSG_REMOVE_LEG,
	QUORUM_MSG_CHECK,
	QUORUM_MSG_REPAIR,
	QUORUM_MSG_IDLE,
};

struct quorum_msg {
	enum quorum_msg_op op;
	unsigned int leg;		/* rewrite, replace, fail, ... */
	const char *dev;		/* replace, add_leg: from argv */
};

int quorum_parse_args(unsigned int argc, char **argv, struct quorum_args *qa,
		      char **error);

int quorum_regions(unsigned long long len, unsigned int asked, bool given,
		   unsigned int *region_sectors, char **error);

const char *quorum_read_pattern_name(enum quorum_read_pattern rp);

/*
 * Checks the message's words and the leg index against @nr_legs; what
 * the leg's state allows is for the target to judge.  On -EINVAL *error
 * says what is wrong (for a wrong argument count, the message's usage).
 */
int quorum_parse_message(unsigned int argc, char **argv, unsigned int nr_legs,
			 struct quorum_msg *msg, char **error);
const char *quorum_msg_name(enum quorum_msg_op op);

#endif /* DM_QUORUM_ARGS_H */
