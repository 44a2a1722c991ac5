/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32 of IEEE 802.3 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF),
 * the one zlib's crc32() and the nRF5 SDK's crc32_compute() return: start with @crc 0 and
 * feed the pieces in order; "123456789" gives 0xCBF43926. @buf may be NULL when @len is 0.
 */
uint32_t
proto_crc32(uint32_t crc, const uint8_t *buf, size_t len);
