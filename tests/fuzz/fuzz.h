/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the fuzz targets: an invariant check that stops the fuzzer. */
#ifndef QUORUM_FUZZ_H
#define QUORUM_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

#endif /* QUORUM_FUZZ_H */
