/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#define FU_TYPE_NORDIC_DFU_BLE_RUNTIME (fu_nordic_dfu_ble_runtime_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuBleRuntime,
		     fu_nordic_dfu_ble_runtime,
		     FU,
		     NORDIC_DFU_BLE_RUNTIME,
		     FuBluezDevice)

/* the plugin that adds the bootloader after a buttonless entry */
void
fu_nordic_dfu_ble_runtime_set_plugin(FuNordicDfuBleRuntime *self, FuPlugin *plugin);
