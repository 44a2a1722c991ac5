/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-application.h"
#include "fu-dfu-core-common.h"
#include "fu-dfu-core-device.h"
#include "fu-dfu-core-plugin.h"
#include "fu-dfu-core-runtime.h"
#include "fu-sdk-common.h"

struct _FuDfuCorePlugin {
	FuPlugin parent_instance;
};

G_DEFINE_TYPE(FuDfuCorePlugin, fu_dfu_core_plugin, FU_TYPE_PLUGIN)

static void
fu_dfu_core_plugin_constructed(GObject *obj)
{
	FuPlugin *plugin = FU_PLUGIN(obj);
	FuContext *ctx = fu_plugin_get_context(plugin);

	fu_plugin_add_flag(plugin, FWUPD_PLUGIN_FLAG_MUTABLE_ENUMERATION);
	fu_plugin_add_udev_subsystem(plugin, "usb");
	fu_plugin_add_device_gtype(plugin, FU_TYPE_DFU_CORE_RUNTIME);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_DFU_CORE_DEVICE);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_DFU_CORE_APPLICATION);
	fu_context_add_quirk_key(ctx, FU_DFU_CORE_QUIRK_TRANSFER_SIZE);
	fu_context_add_quirk_key(ctx, FU_DFU_CORE_QUIRK_DETACH_TIMEOUT);
	fu_context_add_quirk_key(ctx, FU_DFU_CORE_QUIRK_BUSY_TIMEOUT);
	fu_context_add_quirk_key(ctx, FU_DFU_CORE_QUIRK_MIN_POLL_INTERVAL);
}

/*
 * A DFU function announces its mode in the interface protocol: 1 runtime, 2 DFU mode. A device
 * the quirk names with no DFU interface at all is the application of a device whose
 * application has none, as it starts after an update.
 */
static gboolean
fu_dfu_core_plugin_is_dfu_interface(FuUsbInterface *intf)
{
	return fu_usb_interface_get_class(intf) == FU_USB_CLASS_APPLICATION_SPECIFIC &&
	       fu_usb_interface_get_subclass(intf) == FU_DFU_CORE_INTERFACE_SUBCLASS &&
	       (fu_usb_interface_get_protocol(intf) == FU_DFU_CORE_INTERFACE_PROTOCOL_RUNTIME ||
		fu_usb_interface_get_protocol(intf) == FU_DFU_CORE_INTERFACE_PROTOCOL_DFU);
}

static GType
fu_dfu_core_plugin_guess_gtype(FuUsbDevice *usb_device, GError **error)
{
	g_autoptr(FuUsbInterface) intf = NULL;

	if (!fu_sdk_usb_device_find_interface(usb_device,
					      fu_dfu_core_plugin_is_dfu_interface,
					      &intf,
					      error))
		return G_TYPE_INVALID;
	if (intf == NULL)
		return FU_TYPE_DFU_CORE_APPLICATION;
	if (fu_usb_interface_get_protocol(intf) == FU_DFU_CORE_INTERFACE_PROTOCOL_RUNTIME)
		return FU_TYPE_DFU_CORE_RUNTIME;
	return FU_TYPE_DFU_CORE_DEVICE;
}

static gboolean
fu_dfu_core_plugin_backend_device_added(FuPlugin *plugin,
					FuDevice *device,
					FuProgress *progress,
					GError **error)
{
	GType gtype = fu_device_get_specialized_gtype(device);
	g_autoptr(FuDevice) dev = NULL;

	if (!FU_IS_USB_DEVICE(device)) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "not a USB device");
		return FALSE;
	}

	/* a GType quirk wins; otherwise the interface tells runtime from DFU mode */
	if (gtype == G_TYPE_INVALID) {
		gtype = fu_dfu_core_plugin_guess_gtype(FU_USB_DEVICE(device), error);
		if (gtype == G_TYPE_INVALID)
			return FALSE;
	}
	dev = fu_sdk_plugin_device_new(plugin, device, gtype);
	return fu_sdk_plugin_device_add(plugin, dev, error);
}

void
fu_dfu_core_plugin_set_vfuncs(FuPluginVfuncs *vfuncs)
{
	vfuncs->constructed = fu_dfu_core_plugin_constructed;
	vfuncs->backend_device_added = fu_dfu_core_plugin_backend_device_added;
}

static void
fu_dfu_core_plugin_init(FuDfuCorePlugin *self)
{
}

static void
fu_dfu_core_plugin_class_init(FuDfuCorePluginClass *klass)
{
	fu_dfu_core_plugin_set_vfuncs(FU_PLUGIN_CLASS(klass));
}
