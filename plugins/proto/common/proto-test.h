/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/*
 * The unit-test harness of the cores, for one test program a file: a failed check prints
 * where and what, is counted, and the run goes on; main() ends with proto_test_result().
 */

#include <stdio.h>
#include <string.h>

static unsigned test_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr,                                                            \
				"%s:%d: %s: check failed: %s\n",                                   \
				__FILE__,                                                          \
				__LINE__,                                                          \
				__func__,                                                          \
				#cond);                                                            \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *got_ = (got);                                                          \
		const char *want_ = (want);                                                        \
		if (strcmp(got_, want_) != 0) {                                                    \
			fprintf(stderr,                                                            \
				"%s:%d: %s:\n  got:  %s\n  want: %s\n",                            \
				__FILE__,                                                          \
				__LINE__,                                                          \
				__func__,                                                          \
				got_,                                                              \
				want_);                                                            \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(haystack, needle)                                                           \
	do {                                                                                       \
		const char *h_ = (haystack);                                                       \
		const char *n_ = (needle);                                                         \
		if (h_ == NULL || strstr(h_, n_) == NULL) {                                        \
			fprintf(stderr,                                                            \
				"%s:%d: %s: \"%s\" does not contain \"%s\"\n",                     \
				__FILE__,                                                          \
				__LINE__,                                                          \
				__func__,                                                          \
				h_ != NULL ? h_ : "(null)",                                        \
				n_);                                                               \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

/* the exit status of a test program named @name: 1 if any check failed */
static inline int
proto_test_result(const char *name)
{
	if (test_failures > 0) {
		fprintf(stderr, "%s: %u checks failed\n", name, test_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}
