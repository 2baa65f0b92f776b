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
};

int quorum_parse_args(unsigned int argc, char **argv, struct quorum_args *qa,
		      char **error);

const char *quorum_read_pattern_name(enum quorum_read_pattern rp);

#endif /* DM_QUORUM_ARGS_H */
