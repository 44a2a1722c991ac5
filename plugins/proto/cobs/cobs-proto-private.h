/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "cobs-proto.h"
#include "proto-format.h"

/* up to 16 bytes as "06 01 ..." */
void
cobs_proto_hex(const uint8_t *buf, size_t len, char *out, size_t out_size);
