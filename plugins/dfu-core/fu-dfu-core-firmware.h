/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/*
 * The most elements a DfuSe file may hold, over all its targets. Every element costs the
 * device at least a set address and a data block, each a DNLOAD and two GETSTATUS, and its
 * read-back a set address, an ABORT and an UPLOAD: nine control transfers, each at least one
 * 1 ms USB full-speed frame. 10000 elements are thus at least 90 s of transfers, already
 * longer than a whole real update (under 20 s for an STM32F4 or GD32VF103), while real files
 * hold one element per contiguous run of the image: a handful. fwupd's own DfuSe parser
 * (2.0.20) takes any count, allocating as it goes, so the count is checked here first,
 * before that parser sees the file. Targets need no bound of their own: bNbTargets is one
 * byte (at most 255), and each target names a memory of the device or is refused.
 */
#define FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX 10000

FuFirmware *
fu_dfu_core_firmware_load(GInputStream *stream,
			  gboolean allow_raw,
			  gboolean allow_dfuse,
			  FuFirmwareParseFlags flags,
			  GError **error);
gboolean
fu_dfu_core_firmware_get_image_size(FuFirmware *firmware, gsize *size, GError **error);
gboolean
fu_dfu_core_firmware_has_address(FuFirmware *firmware);
