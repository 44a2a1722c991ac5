/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "proto-format.h"

#include <stdio.h>

void
proto_vformat(char *msg, size_t msg_size, const char *fmt, va_list args)
{
	if (msg == NULL || msg_size == 0)
		return;
	vsnprintf(msg, msg_size, fmt, args);
}

void
proto_format(char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	proto_vformat(msg, msg_size, fmt, args);
	va_end(args);
}

int
proto_fail(int error, char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	proto_vformat(msg, msg_size, fmt, args);
	va_end(args);
	return error;
}
