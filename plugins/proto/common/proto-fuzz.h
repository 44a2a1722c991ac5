/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/*
 * The cores' libFuzzer targets read their input as a stream of choices: past its end every
 * byte reads as 0, so any input, even an empty one, drives a whole run.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	const uint8_t *data;
	size_t len;
	size_t pos;
} FuzzInput;

static inline uint8_t
fuzz_byte(FuzzInput *in)
{
	if (in->pos >= in->len)
		return 0;
	return in->data[in->pos++];
}

static inline bool
fuzz_empty(const FuzzInput *in)
{
	return in->pos >= in->len;
}

/* one thing a target drives, given the input past the byte that picked it */
typedef void (*FuzzDriver)(const uint8_t *data, size_t len);

/* the body of a target that drives four things: the low two bits of the first byte pick
 * which of @drivers gets the rest of the input */
static inline int
fuzz_run_picked(const uint8_t *data, size_t size, const FuzzDriver drivers[4])
{
	if (size > 0)
		drivers[data[0] & 0x03](data + 1, size - 1);
	return 0;
}
