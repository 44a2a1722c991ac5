/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-nordic-dfu-image.h"

#define FU_TYPE_NORDIC_DFU_FIRMWARE (fu_nordic_dfu_firmware_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuFirmware,
		     fu_nordic_dfu_firmware,
		     FU,
		     NORDIC_DFU_FIRMWARE,
		     FuFirmware)

FuFirmware *
fu_nordic_dfu_firmware_new(void);
/* the images in the order the bootloader takes them */
GPtrArray *
fu_nordic_dfu_firmware_get_images_ordered(FuNordicDfuFirmware *self);
