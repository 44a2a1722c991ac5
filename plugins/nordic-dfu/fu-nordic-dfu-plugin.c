/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-ble-device.h"
#include "fu-nordic-dfu-ble-runtime.h"
#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-firmware.h"
#include "fu-nordic-dfu-plugin.h"
#include "fu-nordic-dfu-runtime.h"
#include "fu-nordic-dfu-uart-device.h"
#include "fu-nordic-dfu-usb-device.h"
#include "fu-sdk-common.h"

struct _FuNordicDfuPlugin {
	FuPlugin parent_instance;
};

G_DEFINE_TYPE(FuNordicDfuPlugin, fu_nordic_dfu_plugin, FU_TYPE_PLUGIN)

static void
fu_nordic_dfu_plugin_constructed(GObject *obj)
{
	FuPlugin *plugin = FU_PLUGIN(obj);
	FuContext *ctx = fu_plugin_get_context(plugin);

	fu_plugin_add_flag(plugin, FWUPD_PLUGIN_FLAG_MUTABLE_ENUMERATION);
	fu_plugin_add_udev_subsystem(plugin, "usb");
	/* no plugin of fwupd watches serial ports: offer to handle every tty, and take only
	 * those a quirk names */
	fu_plugin_add_device_udev_subsystem(plugin, "tty");
	fu_plugin_add_device_gtype(plugin, FU_TYPE_NORDIC_DFU_USB_DEVICE);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_NORDIC_DFU_UART_DEVICE);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_NORDIC_DFU_RUNTIME);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_NORDIC_DFU_BLE_DEVICE);
	fu_plugin_add_device_gtype(plugin, FU_TYPE_NORDIC_DFU_BLE_RUNTIME);
	fu_plugin_add_firmware_gtype(plugin, "nordic-dfu", FU_TYPE_NORDIC_DFU_FIRMWARE);
	fu_context_add_quirk_key(ctx, FU_NORDIC_DFU_QUIRK_BAUD_RATE);
	fu_context_add_quirk_key(ctx, FU_NORDIC_DFU_QUIRK_FLOW_CONTROL);
	fu_context_add_quirk_key(ctx, FU_NORDIC_DFU_QUIRK_PRN);
	fu_context_add_quirk_key(ctx, FU_NORDIC_DFU_QUIRK_HW_VERSION);
	fu_context_add_quirk_key(ctx, FU_NORDIC_DFU_QUIRK_SD_ID);
}

/* USB CDC 1.2 section 4.2 and 4.3: a communications interface of the ACM subclass */
static gboolean
fu_nordic_dfu_plugin_is_cdc_acm_interface(FuUsbInterface *intf)
{
	return fu_usb_interface_get_class(intf) == 0x02 &&
	       fu_usb_interface_get_subclass(intf) == 0x02;
}

/* a USB device is the bootloader when it has a CDC ACM interface, the application when it
 * has the DFU trigger interface */
static GType
fu_nordic_dfu_plugin_guess_usb_gtype(FuUsbDevice *usb_device, GError **error)
{
	/* in this order: a device with both interfaces is the application */
	const struct {
		FuSdkUsbInterfaceFunc is_intf;
		GType gtype;
	} kinds[] = {
	    {fu_nordic_dfu_runtime_is_trigger_interface, FU_TYPE_NORDIC_DFU_RUNTIME},
	    {fu_nordic_dfu_plugin_is_cdc_acm_interface, FU_TYPE_NORDIC_DFU_USB_DEVICE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autoptr(FuUsbInterface) intf = NULL;
		if (!fu_sdk_usb_device_find_interface(usb_device, kinds[i].is_intf, &intf, error))
			return G_TYPE_INVALID;
		if (intf != NULL)
			return kinds[i].gtype;
	}
	g_set_error_literal(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "neither a CDC ACM bootloader nor a DFU trigger interface");
	return G_TYPE_INVALID;
}

/* a BlueZ device with the Secure DFU service is the bootloader when it has the control point,
 * the application when it has a buttonless characteristic */
static GType
fu_nordic_dfu_plugin_guess_bluez_gtype(FuBluezDevice *bluez_device, GError **error)
{
	const gchar *path = fu_nordic_dfu_ble_device_path(bluez_device);
	g_autofree gchar *cp = NULL;
	g_autofree gchar *buttonless = NULL;
	g_autofree gchar *buttonless_bonds = NULL;

	if (path == NULL) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED, "no D-Bus path");
		return G_TYPE_INVALID;
	}
	cp =
	    fu_nordic_dfu_ble_find_characteristic(path, FU_NORDIC_DFU_BLE_UUID_CONTROL_POINT, NULL);
	if (cp != NULL)
		return FU_TYPE_NORDIC_DFU_BLE_DEVICE;
	buttonless =
	    fu_nordic_dfu_ble_find_characteristic(path, FU_NORDIC_DFU_BLE_UUID_BUTTONLESS, NULL);
	buttonless_bonds =
	    fu_nordic_dfu_ble_find_characteristic(path,
						  FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS,
						  NULL);
	if (buttonless != NULL || buttonless_bonds != NULL)
		return FU_TYPE_NORDIC_DFU_BLE_RUNTIME;
	g_set_error_literal(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "neither a Secure DFU control point nor a buttonless characteristic");
	return G_TYPE_INVALID;
}

static gboolean
fu_nordic_dfu_plugin_backend_device_added(FuPlugin *plugin,
					  FuDevice *device,
					  FuProgress *progress,
					  GError **error)
{
	GType gtype = fu_device_get_specialized_gtype(device);
	g_autoptr(FuDevice) dev = NULL;

	if (FU_IS_BLUEZ_DEVICE(device)) {
		gtype = fu_nordic_dfu_plugin_guess_bluez_gtype(FU_BLUEZ_DEVICE(device), error);
		if (gtype == G_TYPE_INVALID)
			return FALSE;
	} else if (FU_IS_USB_DEVICE(device)) {
		if (gtype == G_TYPE_INVALID) {
			gtype = fu_nordic_dfu_plugin_guess_usb_gtype(FU_USB_DEVICE(device), error);
			if (gtype == G_TYPE_INVALID)
				return FALSE;
		}
	} else if (FU_IS_UDEV_DEVICE(device) &&
		   g_strcmp0(fu_udev_device_get_subsystem(FU_UDEV_DEVICE(device)), "tty") == 0) {
		gtype = FU_TYPE_NORDIC_DFU_UART_DEVICE;
	} else {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "neither a USB device, a tty nor a BlueZ device");
		return FALSE;
	}
	dev = fu_sdk_plugin_device_new(plugin, device, gtype);
	if (FU_IS_NORDIC_DFU_BLE_RUNTIME(dev))
		fu_nordic_dfu_ble_runtime_set_plugin(FU_NORDIC_DFU_BLE_RUNTIME(dev), plugin);
	return fu_sdk_plugin_device_add(plugin, dev, error);
}

void
fu_nordic_dfu_plugin_set_vfuncs(FuPluginVfuncs *vfuncs)
{
	vfuncs->constructed = fu_nordic_dfu_plugin_constructed;
	vfuncs->backend_device_added = fu_nordic_dfu_plugin_backend_device_added;
}

static void
fu_nordic_dfu_plugin_init(FuNordicDfuPlugin *self)
{
}

static void
fu_nordic_dfu_plugin_class_init(FuNordicDfuPluginClass *klass)
{
	fu_nordic_dfu_plugin_set_vfuncs(FU_PLUGIN_CLASS(klass));
}
