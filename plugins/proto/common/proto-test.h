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

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned test_failures;

/* reports a failed check at @file:@line in @func, the rest of the line from @fmt */
static void __attribute__((format(printf, 4, 5)))
proto_test_fail(const char *file, int line, const char *func, const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "%s:%d: %s:", file, line, func);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	test_failures++;
}

/* proto_test_fail() where the check stands */
#define PROTO_TEST_FAIL(...) proto_test_fail(__FILE__, __LINE__, __func__, __VA_ARGS__)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			PROTO_TEST_FAIL(" check failed: %s\n", #cond);                             \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *got_ = (got);                                                          \
		const char *want_ = (want);                                                        \
		if (strcmp(got_, want_) != 0)                                                      \
			PROTO_TEST_FAIL("\n  got:  %s\n  want: %s\n", got_, want_);                \
	} while (0)

#define CHECK_CONTAINS(haystack, needle)                                                           \
	do {                                                                                       \
		const char *h_ = (haystack);                                                       \
		const char *n_ = (needle);                                                         \
		if (h_ == NULL || strstr(h_, n_) == NULL)                                          \
			PROTO_TEST_FAIL(" \"%s\" does not contain \"%s\"\n",                       \
					h_ != NULL ? h_ : "(null)",                                \
					n_);                                                       \
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
