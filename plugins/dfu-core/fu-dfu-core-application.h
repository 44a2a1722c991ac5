/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#define FU_TYPE_DFU_CORE_APPLICATION (fu_dfu_core_application_get_type())
G_DECLARE_FINAL_TYPE(FuDfuCoreApplication,
		     fu_dfu_core_application,
		     FU,
		     DFU_CORE_APPLICATION,
		     FuUsbDevice)
