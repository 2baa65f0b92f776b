/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Splitting a table line or a message into words, as dm core does, for
 * the unit tests.  The token '' stands for an empty argument, which dm
 * core never produces but the parsers must still refuse.  Include after
 * <cmocka.h>.
 */
#ifndef DM_QUORUM_UNIT_SPLIT_H
#define DM_QUORUM_UNIT_SPLIT_H

#include <string.h>

#define MAX_ARGS	64
#define LINE_MAX_LEN	1024

struct line {
	char buf[LINE_MAX_LEN];
	char *argv[MAX_ARGS];
	unsigned int argc;
};

static inline void split(struct line *l, const char *s)
{
	char *save = NULL, *tok;

	assert_true(strlen(s) < sizeof(l->buf));
	strcpy(l->buf, s);
	l->argc = 0;
	for (tok = strtok_r(l->buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		assert_true(l->argc < MAX_ARGS);
		if (!strcmp(tok, "''"))
			*tok = '\0';
		l->argv[l->argc++] = tok;
	}
}

#endif /* DM_QUORUM_UNIT_SPLIT_H */
