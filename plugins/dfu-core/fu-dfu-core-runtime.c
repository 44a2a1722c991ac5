/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-runtime.h"

/* A device running its application, with a DFU runtime interface (0xFE/01/01): it is updated
 * by detaching into DFU mode, where it enumerates again, usually with another PID. */

struct _FuDfuCoreRuntime {
	FuDfuCoreBase parent_instance;
};

G_DEFINE_TYPE(FuDfuCoreRuntime, fu_dfu_core_runtime, FU_TYPE_DFU_CORE_BASE)

static gboolean
fu_dfu_core_runtime_detach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuDfuCoreBase *self = FU_DFU_CORE_BASE(device);
	DfuProtoSession session;

	fu_dfu_core_base_session_init(self, &session);
	if (!fu_dfu_core_base_run(self,
				  &session,
				  dfu_proto_session_start_detach(&session),
				  NULL,
				  NULL,
				  NULL,
				  progress,
				  error)) {
		g_prefix_error_literal(error, "failed to switch to DFU mode: ");
		return FALSE;
	}
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
	return TRUE;
}

static void
fu_dfu_core_runtime_set_progress(FuDevice *device, FuProgress *progress)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DECOMPRESSING, 0, "prepare-fw");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 4, "detach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 88, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 4, "attach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_BUSY, 4, "reload");
}

static void
fu_dfu_core_runtime_init(FuDfuCoreRuntime *self)
{
}

static void
fu_dfu_core_runtime_class_init(FuDfuCoreRuntimeClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	FuDfuCoreBaseClass *base_class = FU_DFU_CORE_BASE_CLASS(klass);
	base_class->interface_protocol = DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME;
	device_class->detach = fu_dfu_core_runtime_detach;
	device_class->set_progress = fu_dfu_core_runtime_set_progress;
}
