/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fu-dfu-core-application.h"

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

/* the device it replaces was being updated in DFU mode: say what the version shown is */
static void
fu_dfu_core_application_replace(FuDevice *device, FuDevice *donor)
{
	if (!FU_IS_DFU_CORE_DEVICE(donor))
		return;
	g_warning("%s started an application with no DFU interface: the firmware version was "
		  "not read back; the version fwupd shows, %s, is the bcdDevice of the "
		  "application's USB descriptor",
		  fu_device_get_name(donor) != NULL ? fu_device_get_name(donor) : "the device",
		  fu_device_get_version(device) != NULL ? fu_device_get_version(device) : "none");
}

static void
fu_dfu_core_application_init(FuDfuCoreApplication *self)
{
	fu_device_add_private_flag(FU_DEVICE(self), FU_DEVICE_PRIVATE_FLAG_ADD_COUNTERPART_GUIDS);
	fu_device_add_private_flag(FU_DEVICE(self), FU_DEVICE_PRIVATE_FLAG_REPLUG_MATCH_GUID);
	fu_device_add_private_flag(FU_DEVICE(self), FU_DEVICE_PRIVATE_FLAG_ADD_INSTANCE_ID_REV);
	fu_device_set_remove_delay(FU_DEVICE(self), FU_DEVICE_REMOVE_DELAY_RE_ENUMERATE);
	fu_device_set_priority(FU_DEVICE(self), 1);
}

static void
fu_dfu_core_application_class_init(FuDfuCoreApplicationClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	device_class->probe = fu_dfu_core_application_probe;
	device_class->replace = fu_dfu_core_application_replace;
}
