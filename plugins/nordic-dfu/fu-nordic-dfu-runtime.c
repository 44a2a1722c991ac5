/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-runtime.h"
#include "fu-nordic-dfu-struct.h"
#include "fu-sdk-common.h"

/*
 * An application built with the nRF5 SDK's USB DFU trigger library: a vendor interface
 * (0xFF/0x01/0x01) answering class requests NORDIC_INFO and SEMVER, and DETACH, after which
 * the application resets into the bootloader (app_usbd_nrf_dfu_trigger.c). Its counterpart
 * is the bootloader device, named by the quirk CounterpartGuid.
 */

#define FU_NORDIC_DFU_TRIGGER_REQ_DETACH      0x00
#define FU_NORDIC_DFU_TRIGGER_REQ_NORDIC_INFO 0x07
#define FU_NORDIC_DFU_TRIGGER_REQ_SEMVER      0x08
#define FU_NORDIC_DFU_TRIGGER_SEMVER_MAX      64
/* the DETACH wValue: the DFU 1.1 detach timeout, unused by the library */
#define FU_NORDIC_DFU_TRIGGER_DETACH_TIMEOUT_MS 1000

struct _FuNordicDfuRuntime {
	FuUsbDevice parent_instance;
	guint8 intf;
	guint32 fw_address;
	guint32 fw_size;
	guint16 version_major;
	guint16 version_minor;
	guint32 fw_id;
	guint32 flash_size;
	guint32 flash_page_size;
	gchar *semver;
};

G_DEFINE_TYPE(FuNordicDfuRuntime, fu_nordic_dfu_runtime, FU_TYPE_USB_DEVICE)

gboolean
fu_nordic_dfu_runtime_is_trigger_interface(FuUsbInterface *intf)
{
	return fu_usb_interface_get_class(intf) == FU_NORDIC_DFU_TRIGGER_CLASS &&
	       fu_usb_interface_get_subclass(intf) == FU_NORDIC_DFU_TRIGGER_SUBCLASS &&
	       fu_usb_interface_get_protocol(intf) == FU_NORDIC_DFU_TRIGGER_PROTOCOL;
}

static gboolean
fu_nordic_dfu_runtime_probe(FuDevice *device, GError **error)
{
	FuNordicDfuRuntime *self = FU_NORDIC_DFU_RUNTIME(device);
	g_autoptr(FuUsbInterface) intf = NULL;

	intf = fu_usb_device_get_interface(FU_USB_DEVICE(self),
					   FU_NORDIC_DFU_TRIGGER_CLASS,
					   FU_NORDIC_DFU_TRIGGER_SUBCLASS,
					   FU_NORDIC_DFU_TRIGGER_PROTOCOL,
					   error);
	if (intf == NULL) {
		g_prefix_error_literal(error, "no nRF DFU trigger interface: ");
		return FALSE;
	}
	self->intf = fu_usb_interface_get_number(intf);
	fu_usb_device_add_interface(FU_USB_DEVICE(self), self->intf);
	return TRUE;
}

/* "App 1.2.3" or "1.2.3-rc1+meta": the last word that starts with a digit */
static gchar *
fu_nordic_dfu_runtime_version_from_semver(const gchar *semver)
{
	g_auto(GStrv) words = g_strsplit(semver, " ", -1);
	for (gint i = (gint)g_strv_length(words) - 1; i >= 0; i--) {
		if (g_ascii_isdigit(words[i][0])) {
			gsize len = strspn(words[i], "0123456789.");
			return g_strndup(words[i], len);
		}
	}
	return NULL;
}

/* the SDK sends APP_NAME, a space and the version, then a NUL: printable ASCII only */
static gboolean
fu_nordic_dfu_runtime_semver_is_text(const guint8 *buf, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return i > 0;
		if (buf[i] < 0x20 || buf[i] > 0x7E)
			return FALSE;
	}
	return len > 0;
}

static gboolean
fu_nordic_dfu_runtime_setup(FuDevice *device, GError **error)
{
	FuNordicDfuRuntime *self = FU_NORDIC_DFU_RUNTIME(device);
	/* the request must ask for exactly FuStructNordicDfuTriggerInfo */
	guint8 info[FU_STRUCT_NORDIC_DFU_TRIGGER_INFO_SIZE] = {0};
	guint8 semver[FU_NORDIC_DFU_TRIGGER_SEMVER_MAX + 1] = {0};
	gsize actual = 0;
	gboolean semver_junk;
	g_autofree gchar *version = NULL;

	if (!FU_DEVICE_CLASS(fu_nordic_dfu_runtime_parent_class)->setup(device, error))
		return FALSE;
	if (!fu_nordic_dfu_usb_class_request(FU_USB_DEVICE(self),
					     FU_USB_DIRECTION_DEVICE_TO_HOST,
					     FU_NORDIC_DFU_TRIGGER_REQ_NORDIC_INFO,
					     0x0,
					     self->intf,
					     info,
					     sizeof(info),
					     &actual,
					     "NORDIC_INFO",
					     error))
		return FALSE;
	if (actual == sizeof(info)) {
		g_autoptr(FuStructNordicDfuTriggerInfo) st =
		    fu_struct_nordic_dfu_trigger_info_parse(info, sizeof(info), 0x0, error);
		if (st == NULL)
			return FALSE;
		self->fw_address = fu_struct_nordic_dfu_trigger_info_get_fw_address(st);
		self->fw_size = fu_struct_nordic_dfu_trigger_info_get_fw_size(st);
		self->version_major = fu_struct_nordic_dfu_trigger_info_get_version_major(st);
		self->version_minor = fu_struct_nordic_dfu_trigger_info_get_version_minor(st);
		self->fw_id = fu_struct_nordic_dfu_trigger_info_get_fw_id(st);
		self->flash_size = fu_struct_nordic_dfu_trigger_info_get_flash_size(st);
		self->flash_page_size = fu_struct_nordic_dfu_trigger_info_get_flash_page_size(st);
	}
	if (!fu_nordic_dfu_usb_class_request(FU_USB_DEVICE(self),
					     FU_USB_DIRECTION_DEVICE_TO_HOST,
					     FU_NORDIC_DFU_TRIGGER_REQ_SEMVER,
					     0x0,
					     self->intf,
					     semver,
					     FU_NORDIC_DFU_TRIGGER_SEMVER_MAX,
					     &actual,
					     "SEMVER",
					     error))
		return FALSE;
	semver_junk = actual > 0 && !fu_nordic_dfu_runtime_semver_is_text(semver, actual);
	g_free(self->semver);
	self->semver = actual > 0 && !semver_junk ? fu_strsafe((const gchar *)semver, actual)
						  : NULL;
	if (self->semver != NULL)
		version = fu_nordic_dfu_runtime_version_from_semver(self->semver);
	if (version != NULL) {
		fu_device_set_version_format(device, fu_version_guess_format(version));
		fu_device_set_version(device, version);
	} else if (self->semver == NULL && self->version_major != 0 &&
		   self->version_major != 0xFFFF) {
		/* NORDIC_INFO's, unless erased */
		g_autofree gchar *tmp =
		    g_strdup_printf("%u.%u", self->version_major, self->version_minor);
		fu_device_set_version_format(device, FWUPD_VERSION_FORMAT_PAIR);
		fu_device_set_version(device, tmp);
	} else if (semver_junk) {
		/* a version read out of junk, or the USB descriptor's, would be compared with
		 * the release's after the update and fail it although the bootloader took the
		 * image */
		g_warning("the application's DFU trigger answered SEMVER with %" G_GSIZE_FORMAT
			  " bytes that are not a version string, and NORDIC_INFO with no version: "
			  "its version cannot be read, so an update of it is not checked against "
			  "the release; check the version the application reports itself",
			  actual);
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
	}
	if (self->flash_size != 0)
		fu_device_set_firmware_size_max(device, self->flash_size);
	return TRUE;
}

static gboolean
fu_nordic_dfu_runtime_detach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuNordicDfuRuntime *self = FU_NORDIC_DFU_RUNTIME(device);
	g_autoptr(GError) error_local = NULL;

	/* the application may reset before the status stage completes */
	if (!fu_nordic_dfu_usb_class_request(FU_USB_DEVICE(self),
					     FU_USB_DIRECTION_HOST_TO_DEVICE,
					     FU_NORDIC_DFU_TRIGGER_REQ_DETACH,
					     FU_NORDIC_DFU_TRIGGER_DETACH_TIMEOUT_MS,
					     self->intf,
					     NULL,
					     0,
					     NULL,
					     "DETACH",
					     &error_local)) {
		if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND) &&
		    !g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_READ)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_debug("%s", error_local->message);
	}
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
	return TRUE;
}

static void
fu_nordic_dfu_runtime_to_string(FuDevice *device, guint idt, GString *str)
{
	FuNordicDfuRuntime *self = FU_NORDIC_DFU_RUNTIME(device);
	fwupd_codec_string_append_hex(str, idt, "Interface", self->intf);
	fwupd_codec_string_append(str, idt, "Semver", self->semver);
	fwupd_codec_string_append_hex(str, idt, "FwAddress", self->fw_address);
	fwupd_codec_string_append_hex(str, idt, "FwSize", self->fw_size);
	fwupd_codec_string_append_hex(str, idt, "FwId", self->fw_id);
	fwupd_codec_string_append_hex(str, idt, "FlashSize", self->flash_size);
	fwupd_codec_string_append_hex(str, idt, "FlashPageSize", self->flash_page_size);
}

static void
fu_nordic_dfu_runtime_init(FuNordicDfuRuntime *self)
{
	fu_nordic_dfu_init_updatable(FU_DEVICE(self));
	fu_device_set_remove_delay(FU_DEVICE(self), FU_NORDIC_DFU_REENUMERATE_MS);
}

static void
fu_nordic_dfu_runtime_finalize(GObject *object)
{
	FuNordicDfuRuntime *self = FU_NORDIC_DFU_RUNTIME(object);
	g_free(self->semver);
	G_OBJECT_CLASS(fu_nordic_dfu_runtime_parent_class)->finalize(object);
}

static void
fu_nordic_dfu_runtime_class_init(FuNordicDfuRuntimeClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	object_class->finalize = fu_nordic_dfu_runtime_finalize;
	device_class->probe = fu_nordic_dfu_runtime_probe;
	device_class->setup = fu_nordic_dfu_runtime_setup;
	device_class->detach = fu_nordic_dfu_runtime_detach;
	device_class->to_string = fu_nordic_dfu_runtime_to_string;
}
