/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-dfu-core-common.h"

#define FU_TYPE_DFU_CORE_BASE (fu_dfu_core_base_get_type())
G_DECLARE_DERIVABLE_TYPE(FuDfuCoreBase, fu_dfu_core_base, FU, DFU_CORE_BASE, FuUsbDevice)

struct _FuDfuCoreBaseClass {
	FuUsbDeviceClass parent_class;
	/* DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME or _DFU: the interface this mode uses */
	guint8 interface_protocol;
};

guint8
fu_dfu_core_base_get_interface_number(FuDfuCoreBase *self);
const DfuProtoInterface *
fu_dfu_core_base_get_interface(FuDfuCoreBase *self);
gboolean
fu_dfu_core_base_is_dfuse(FuDfuCoreBase *self);
const DfuProtoFunctional *
fu_dfu_core_base_get_functional(FuDfuCoreBase *self);
void
fu_dfu_core_base_session_init(FuDfuCoreBase *self, DfuProtoSession *session);
gboolean
fu_dfu_core_base_run(FuDfuCoreBase *self,
		     DfuProtoSession *session,
		     DfuProtoError started,
		     GInputStream *image,
		     FuDfuCoreUploadFunc upload_func,
		     gpointer upload_data,
		     FuProgress *progress,
		     GError **error);
