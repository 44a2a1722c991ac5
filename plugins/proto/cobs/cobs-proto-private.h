/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "cobs-proto.h"

/* snprintf into msg, which may be NULL */
void
cobs_proto_format(char *msg, size_t msg_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* up to 16 bytes as "06 01 ..." */
void
cobs_proto_hex(const uint8_t *buf, size_t len, char *out, size_t out_size);
