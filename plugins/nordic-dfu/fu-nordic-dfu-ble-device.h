/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "fu-nordic-dfu-firmware.h"

#define FU_TYPE_NORDIC_DFU_BLE_DEVICE (fu_nordic_dfu_ble_device_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuBleDevice,
		     fu_nordic_dfu_ble_device,
		     FU,
		     NORDIC_DFU_BLE_DEVICE,
		     FuBluezDevice)

/* makes, sets up and adds the bootloader at @path, which BlueZ has connected but fwupd's BlueZ
 * backend does not offer as it is not paired (an unbonded bootloader at the application's
 * address + 1) */
gboolean
fu_nordic_dfu_ble_device_add_unpaired(FuPlugin *plugin,
				      FuContext *ctx,
				      GDBusObjectManager *object_manager,
				      const gchar *path,
				      const gchar *app_address,
				      GError **error);

/* while the bootloader resets into the last image of an update, whose final execute it answered
 * success: that image's type and the fw_version of its init packet; FALSE otherwise */
gboolean
fu_nordic_dfu_ble_device_get_activated(FuNordicDfuBleDevice *self,
				       FuNordicDfuFwType *fw_type,
				       guint32 *fw_version);
