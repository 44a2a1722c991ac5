/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "fu-nordic-dfu-common.h"

/*
 * What every Secure DFU bootloader device (USB CDC, UART, BLE) is, whatever fwupd device type it
 * derives from: the state it keeps, with the transport its bytes go through. The device vfuncs
 * that only need these are implemented once here, for the classes to take as they are.
 */

#define FU_TYPE_NORDIC_DFU_DEVICE (fu_nordic_dfu_device_get_type())
G_DECLARE_INTERFACE(FuNordicDfuDevice, fu_nordic_dfu_device, FU, NORDIC_DFU_DEVICE, FuDevice)

struct _FuNordicDfuDeviceInterface {
	GTypeInterface g_iface;
	FuNordicDfuState *(*get_state)(FuNordicDfuDevice *self);
};

/* sets the FuDeviceClass vfuncs shared by every bootloader device: setup (after the setup of
 * the fwupd device type it derives from), prepare_firmware, set_quirk_kv, set_progress (for a
 * device written in place) and convert_version; a class overrides what it does differently */
void
fu_nordic_dfu_device_class_add_vfuncs(FuDeviceClass *device_class);

/* the shared quirk keys, for a class that handles keys of its own first */
gboolean
fu_nordic_dfu_device_set_quirk_kv(FuDevice *device,
				  const gchar *key,
				  const gchar *value,
				  GError **error);
