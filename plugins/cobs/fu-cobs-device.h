/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "cobs-proto.h"

#define FU_TYPE_COBS_DEVICE (fu_cobs_device_get_type())
G_DECLARE_FINAL_TYPE(FuCobsDevice, fu_cobs_device, FU, COBS_DEVICE, FuUsbDevice)

const CobsProtoConfig *
fu_cobs_device_get_config(FuCobsDevice *self);
