/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-application.h"
#include "fu-dfu-core-common.h"
#include "fu-dfu-core-device.h"

/*
 * A device the quirk names that has no DFU interface at all: the application of a DFU device
 * that has no DFU runtime interface, as it starts after an update. It is listed so that fwupd
 * follows the device from DFU mode into it (the quirk links the two by CounterpartGuid), and
 * so that the update ends done; DFU cannot read its version, so fwupd shows the bcdDevice of
 * its USB descriptor, and it can be updated only from its bootloader.
 */

struct _FuDfuCoreApplication {
	FuUsbDevice parent_instance;
	/* it replaced the device that was being updated in DFU mode */
	gboolean after_update;
};

G_DEFINE_TYPE(FuDfuCoreApplication, fu_dfu_core_application, FU_TYPE_USB_DEVICE)

static gboolean
fu_dfu_core_application_probe(FuDevice *device, GError **error)
{
	if (!FU_DEVICE_CLASS(fu_dfu_core_application_parent_class)->probe(device, error))
		return FALSE;
	fu_device_set_update_error(device,
				   "the application has no DFU interface: start the device in its "
				   "bootloader (DFU mode) to update it");
	return TRUE;
}

static gboolean
fu_dfu_core_application_setup(FuDevice *device, GError **error)
{
	if (!FU_DEVICE_CLASS(fu_dfu_core_application_parent_class)->setup(device, error))
		return FALSE;
	fu_dfu_core_ensure_name(device, "DFU device application");
	return TRUE;
}

/* the device it replaces was being updated in DFU mode, or is the same application seen
 * again: fwupd ends the update on this one */
static void
fu_dfu_core_application_replace(FuDevice *device, FuDevice *donor)
{
	FuDfuCoreApplication *self = FU_DFU_CORE_APPLICATION(device);
	if (FU_IS_DFU_CORE_APPLICATION(donor))
		self->after_update = FU_DFU_CORE_APPLICATION(donor)->after_update;
	else if (FU_IS_DFU_CORE_DEVICE(donor))
		self->after_update = TRUE;
	if (!self->after_update)
		return;
	/* the bcdDevice shown may be the application's own release, not the firmware's */
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
}

/* the last phase of the update, whichever device fwupd attached and reloaded: what its
 * clients are told instead of a version read back */
static gboolean
fu_dfu_core_application_cleanup(FuDevice *device,
				FuProgress *progress,
				FwupdInstallFlags flags,
				GError **error)
{
	FuDfuCoreApplication *self = FU_DFU_CORE_APPLICATION(device);
	g_autofree gchar *why = NULL;

	if (!self->after_update)
		return TRUE;
	self->after_update = FALSE;
	why = g_strdup_printf("the device took the whole image and started an application with "
			      "no DFU interface; the version fwupd shows, %s, is the bcdDevice of "
			      "the application's USB descriptor",
			      fu_device_get_version(device) != NULL ? fu_device_get_version(device)
								    : "none");
	fu_dfu_core_emit_not_read_back(device, progress, why);
	return TRUE;
}

static void
fu_dfu_core_application_init(FuDfuCoreApplication *self)
{
	fu_dfu_core_device_init_common(FU_DEVICE(self));
}

static void
fu_dfu_core_application_class_init(FuDfuCoreApplicationClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	device_class->probe = fu_dfu_core_application_probe;
	device_class->setup = fu_dfu_core_application_setup;
	device_class->replace = fu_dfu_core_application_replace;
	device_class->cleanup = fu_dfu_core_application_cleanup;
}
