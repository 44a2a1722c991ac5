/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-dfu-core-base.h"

#define FU_TYPE_DFU_CORE_DEVICE (fu_dfu_core_device_get_type())
G_DECLARE_FINAL_TYPE(FuDfuCoreDevice, fu_dfu_core_device, FU, DFU_CORE_DEVICE, FuDfuCoreBase)
