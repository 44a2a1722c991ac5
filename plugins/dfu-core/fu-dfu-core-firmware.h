/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

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
