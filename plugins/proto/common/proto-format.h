/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <stdarg.h>
#include <stddef.h>

/*
 * Writes a message into the caller's buffer @msg of @msg_size bytes, cut to fit and always
 * terminated; nothing when @msg is NULL or @msg_size is 0, so an API may take an optional
 * message buffer.
 */
void
proto_format(char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* the same with the arguments of a variadic caller */
void
proto_vformat(char *msg, size_t msg_size, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

/* proto_format() for a function that fails: returns @error */
int
proto_fail(int error, char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
