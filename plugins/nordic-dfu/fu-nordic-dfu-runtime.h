/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the nRF5 SDK's USB DFU trigger interface (app_usbd_nrf_dfu_trigger) */
#define FU_NORDIC_DFU_TRIGGER_CLASS    0xFF
#define FU_NORDIC_DFU_TRIGGER_SUBCLASS 0x01
#define FU_NORDIC_DFU_TRIGGER_PROTOCOL 0x01

#define FU_TYPE_NORDIC_DFU_RUNTIME (fu_nordic_dfu_runtime_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuRuntime, fu_nordic_dfu_runtime, FU, NORDIC_DFU_RUNTIME, FuUsbDevice)

gboolean
fu_nordic_dfu_runtime_is_trigger_interface(FuUsbInterface *intf);
