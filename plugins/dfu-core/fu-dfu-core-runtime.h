/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-dfu-core-base.h"

#define FU_TYPE_DFU_CORE_RUNTIME (fu_dfu_core_runtime_get_type())
G_DECLARE_FINAL_TYPE(FuDfuCoreRuntime, fu_dfu_core_runtime, FU, DFU_CORE_RUNTIME, FuDfuCoreBase)
