/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#define FU_TYPE_NORDIC_DFU_UART_DEVICE (fu_nordic_dfu_uart_device_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuUartDevice,
		     fu_nordic_dfu_uart_device,
		     FU,
		     NORDIC_DFU_UART_DEVICE,
		     FuUdevDevice)
