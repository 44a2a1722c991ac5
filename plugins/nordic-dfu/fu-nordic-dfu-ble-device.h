/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#define FU_TYPE_NORDIC_DFU_BLE_DEVICE (fu_nordic_dfu_ble_device_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuBleDevice,
		     fu_nordic_dfu_ble_device,
		     FU,
		     NORDIC_DFU_BLE_DEVICE,
		     FuBluezDevice)

/* the address of the application this bootloader came from, when it differs from its own */
void
fu_nordic_dfu_ble_device_set_app_address(FuNordicDfuBleDevice *self, const gchar *app_address);
