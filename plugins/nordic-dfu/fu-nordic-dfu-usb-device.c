/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-device.h"
#include "fu-nordic-dfu-usb-device.h"
#include "fu-sdk-common.h"

/*
 * The Secure DFU bootloader over USB CDC ACM (the nRF52840 Dongle's open bootloader,
 * 1915:521F): SLIP frames in bulk transfers on the data interface. The kernel's cdc_acm
 * driver is detached while the interfaces are claimed.
 */

/* USB CDC 1.2 PSTN section 6.3: class requests of the communication interface */
#define FU_NORDIC_DFU_CDC_SET_LINE_CODING	 0x20
#define FU_NORDIC_DFU_CDC_SET_CONTROL_LINE_STATE 0x22
#define FU_NORDIC_DFU_CDC_LINE_STATE_DTR	 0x0001
#define FU_NORDIC_DFU_CDC_CLASS_COMM		 0x02
#define FU_NORDIC_DFU_CDC_SUBCLASS_ACM		 0x02
#define FU_NORDIC_DFU_CDC_CLASS_DATA		 0x0A
/* the line coding a host sets by default; the USB bootloader ignores the rate */
#define FU_NORDIC_DFU_CDC_BAUD_RATE 115200

struct _FuNordicDfuUsbDevice {
	FuUsbDevice parent_instance;
	FuNordicDfuState state;
	guint8 comm_intf;
	guint8 data_intf;
	guint8 ep_in;
	guint8 ep_out;
	/* following the reset after the last image while fwupd waits for the replug */
	FuSdkFollow follow;
};

static void
fu_nordic_dfu_usb_device_iface_init(FuNordicDfuDeviceInterface *iface);

G_DEFINE_TYPE_WITH_CODE(FuNordicDfuUsbDevice,
			fu_nordic_dfu_usb_device,
			FU_TYPE_USB_DEVICE,
			G_IMPLEMENT_INTERFACE(FU_TYPE_NORDIC_DFU_DEVICE,
					      fu_nordic_dfu_usb_device_iface_init))

static gboolean
fu_nordic_dfu_usb_device_write_cb(FuDevice *device,
				  NrfDfuProtoChannel channel,
				  const guint8 *buf,
				  gsize bufsz,
				  guint timeout_ms,
				  GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	gsize actual = 0;
	g_autofree guint8 *copy = g_memdup2(buf, bufsz);

	if (!fu_usb_device_bulk_transfer(FU_USB_DEVICE(self),
					 self->ep_out,
					 copy,
					 bufsz,
					 &actual,
					 timeout_ms,
					 NULL,
					 error))
		return FALSE;
	if (actual != bufsz) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_WRITE,
			    "only %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes sent",
			    actual,
			    bufsz);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_nordic_dfu_usb_device_read_cb(FuDevice *device,
				 guint8 *buf,
				 gsize bufsz,
				 gsize *actual,
				 guint timeout_ms,
				 GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	return fu_usb_device_bulk_transfer(FU_USB_DEVICE(self),
					   self->ep_in,
					   buf,
					   bufsz,
					   actual,
					   timeout_ms,
					   NULL,
					   error);
}

static gboolean
fu_nordic_dfu_usb_device_probe(FuDevice *device, GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	gboolean has_comm = FALSE;
	g_autoptr(GPtrArray) intfs = NULL;

	intfs = fu_usb_device_get_interfaces(FU_USB_DEVICE(self), error);
	if (intfs == NULL)
		return FALSE;
	for (guint i = 0; i < intfs->len; i++) {
		FuUsbInterface *intf = g_ptr_array_index(intfs, i);
		g_autoptr(GPtrArray) eps = NULL;

		if (fu_usb_interface_get_class(intf) == FU_NORDIC_DFU_CDC_CLASS_COMM &&
		    fu_usb_interface_get_subclass(intf) == FU_NORDIC_DFU_CDC_SUBCLASS_ACM) {
			self->comm_intf = fu_usb_interface_get_number(intf);
			has_comm = TRUE;
			continue;
		}
		if (fu_usb_interface_get_class(intf) != FU_NORDIC_DFU_CDC_CLASS_DATA)
			continue;
		eps = fu_usb_interface_get_endpoints(intf);
		if (eps == NULL)
			continue;
		for (guint j = 0; j < eps->len; j++) {
			FuUsbEndpoint *ep = g_ptr_array_index(eps, j);
			if (fu_usb_endpoint_get_direction(ep) == FU_USB_DIRECTION_DEVICE_TO_HOST)
				self->ep_in = fu_usb_endpoint_get_address(ep);
			else
				self->ep_out = fu_usb_endpoint_get_address(ep);
		}
		self->data_intf = fu_usb_interface_get_number(intf);
	}
	if (!has_comm || self->ep_in == 0 || self->ep_out == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "no CDC ACM interface with bulk IN and OUT endpoints");
		return FALSE;
	}
	fu_usb_device_add_interface(FU_USB_DEVICE(self), self->comm_intf);
	fu_usb_device_add_interface(FU_USB_DEVICE(self), self->data_intf);
	return TRUE;
}

/* what a CDC driver sends when a port is opened: the SDK's USB transport is reported to
 * wait for DTR before it sends anything */
static gboolean
fu_nordic_dfu_usb_device_open(FuDevice *device, GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	guint8 line_coding[7] = {0};

	/* off the bus for good after the update: attach and reload have nothing to open */
	if (self->follow.gone)
		return TRUE;
	if (!FU_DEVICE_CLASS(fu_nordic_dfu_usb_device_parent_class)->open(device, error))
		return FALSE;
	fu_memwrite_uint32(line_coding, FU_NORDIC_DFU_CDC_BAUD_RATE, G_LITTLE_ENDIAN);
	line_coding[4] = 0; /* 1 stop bit */
	line_coding[5] = 0; /* no parity */
	line_coding[6] = 8; /* data bits */
	if (!fu_nordic_dfu_usb_class_request(FU_USB_DEVICE(self),
					     FU_USB_DIRECTION_HOST_TO_DEVICE,
					     FU_NORDIC_DFU_CDC_SET_LINE_CODING,
					     0x0,
					     self->comm_intf,
					     line_coding,
					     sizeof(line_coding),
					     NULL,
					     "SET_LINE_CODING",
					     error))
		return FALSE;
	return fu_nordic_dfu_usb_class_request(FU_USB_DEVICE(self),
					       FU_USB_DIRECTION_HOST_TO_DEVICE,
					       FU_NORDIC_DFU_CDC_SET_CONTROL_LINE_STATE,
					       FU_NORDIC_DFU_CDC_LINE_STATE_DTR,
					       self->comm_intf,
					       NULL,
					       0,
					       NULL,
					       "SET_CONTROL_LINE_STATE",
					       error);
}

/* from the final execute's reply to leaving the bus: the settings page written (an erase,
 * 85 ms, and a few words), well within the reply timeout of a request */
#define FU_NORDIC_DFU_USB_LEAVE_MS NRF_DFU_PROTO_TIMEOUT_REPLY_MS

/* nothing of this plugin's came back: an application without USB, or with USB of its own,
 * runs the image the bootloader validated and activated */
static void
fu_nordic_dfu_usb_device_follow_gone_cb(FuSdkFollow *follow)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(follow->device);
	g_autofree gchar *why = NULL;

	why =
	    g_strdup_printf("the %s image was validated and activated by the bootloader, which "
			    "then left the bus, and neither it nor an application with the DFU "
			    "trigger interface came back within %u ms: the application it started "
			    "has no USB, or none of this plugin's, so the update is done, but its "
			    "version was not read back",
			    fu_nordic_dfu_image_fw_type_to_string(self->state.last_type),
			    follow->back_within_ms);
	fu_nordic_dfu_set_unverified(follow->device, &self->state.unverified, why);
}

/* after the last image: fwupd waits for the replug (the remove delay), and the plugin, which
 * knows what the bootloader does after that image, ends the wait when nothing will come */
static void
fu_nordic_dfu_usb_device_follow_reset(FuNordicDfuUsbDevice *self)
{
	fu_sdk_follow_start(&self->follow,
			    FU_NORDIC_DFU_USB_LEAVE_MS,
			    fu_nordic_dfu_back_within_ms(&self->state),
			    FU_NORDIC_DFU_FOLLOW_MARGIN_MS);
}

static gboolean
fu_nordic_dfu_usb_device_write_firmware(FuDevice *device,
					FuFirmware *firmware,
					FuProgress *progress,
					FwupdInstallFlags flags,
					GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	if (!fu_nordic_dfu_write_firmware(&self->state.transport,
					  &self->state,
					  firmware,
					  FALSE,
					  progress,
					  error))
		return FALSE;

	/* more images follow: fwupd already waits for the re-enumeration to write the next */
	if (fu_device_has_flag(device, FWUPD_DEVICE_FLAG_ANOTHER_WRITE_REQUIRED))
		return TRUE;

	/* the last image: the bootloader has answered the final execute and now writes its
	 * settings and resets into the new image, off the bus until it has enumerated again (up
	 * to 13 s after a SoftDevice+bootloader image). It comes back as the bootloader, or as the
	 * application with the DFU trigger interface, the runtime device that its counterpart
	 * GUID matches: fwupd waits for either and reads the new version from it. An application
	 * without USB, or with USB of its own, never comes back as a device of this plugin: the
	 * plugin follows the reset and ends the wait itself */
	if (fu_nordic_dfu_skip_wait_after_update(device))
		return TRUE;
	fu_nordic_dfu_usb_device_follow_reset(self);
	return TRUE;
}

static gboolean
fu_nordic_dfu_usb_device_close(FuDevice *device, GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	if (self->follow.gone)
		return TRUE;
	return FU_DEVICE_CLASS(fu_nordic_dfu_usb_device_parent_class)->close(device, error);
}

/* the device that came back: its versions (and, in a replayed emulation, the recorded ones);
 * when nothing did, what fwupd's clients are told instead (fwupd hands the request the
 * progress of the write) */
static gboolean
fu_nordic_dfu_usb_device_reload(FuDevice *device, GError **error)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	if (self->follow.gone)
		return fu_nordic_dfu_emit_unverified(device, &self->state.unverified, NULL, error);
	return fu_nordic_dfu_reload(&self->state.transport, &self->state, error);
}

/* the next image of a package is written by the device that re-enumerates */
static void
fu_nordic_dfu_usb_device_replace(FuDevice *device, FuDevice *donor)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	if (FU_IS_NORDIC_DFU_USB_DEVICE(donor))
		self->state.images_done = FU_NORDIC_DFU_USB_DEVICE(donor)->state.images_done;
}

static void
fu_nordic_dfu_usb_device_to_string(FuDevice *device, guint idt, GString *str)
{
	FuNordicDfuUsbDevice *self = FU_NORDIC_DFU_USB_DEVICE(device);
	fwupd_codec_string_append_hex(str, idt, "CommInterface", self->comm_intf);
	fwupd_codec_string_append_hex(str, idt, "DataInterface", self->data_intf);
	fwupd_codec_string_append_hex(str, idt, "EpIn", self->ep_in);
	fwupd_codec_string_append_hex(str, idt, "EpOut", self->ep_out);
	fu_nordic_dfu_to_string(&self->state, idt, str);
}

static void
fu_nordic_dfu_usb_device_set_progress(FuDevice *device, FuProgress *progress)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DECOMPRESSING, 0, "prepare-fw");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "detach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 96, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 2, "attach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_BUSY, 2, "reload");
}

static void
fu_nordic_dfu_usb_device_init(FuNordicDfuUsbDevice *self)
{
	self->state.transport.device = FU_DEVICE(self);
	/* both channels in one SLIP stream */
	self->state.transport.slip = TRUE;
	self->state.transport.write = fu_nordic_dfu_usb_device_write_cb;
	self->state.transport.read = fu_nordic_dfu_usb_device_read_cb;
	fu_nordic_dfu_init_device(FU_DEVICE(self));
	self->follow.device = FU_DEVICE(self);
	self->follow.who = "the bootloader";
	self->follow.left = "the bootloader reset into the new image";
	self->follow.gone_func = fu_nordic_dfu_usb_device_follow_gone_cb;
}

static FuNordicDfuState *
fu_nordic_dfu_usb_device_get_state(FuNordicDfuDevice *device)
{
	return &FU_NORDIC_DFU_USB_DEVICE(device)->state;
}

static void
fu_nordic_dfu_usb_device_iface_init(FuNordicDfuDeviceInterface *iface)
{
	iface->get_state = fu_nordic_dfu_usb_device_get_state;
}

static void
fu_nordic_dfu_usb_device_class_init(FuNordicDfuUsbDeviceClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	fu_nordic_dfu_device_class_add_vfuncs(device_class);
	device_class->probe = fu_nordic_dfu_usb_device_probe;
	device_class->open = fu_nordic_dfu_usb_device_open;
	device_class->close = fu_nordic_dfu_usb_device_close;
	device_class->write_firmware = fu_nordic_dfu_usb_device_write_firmware;
	device_class->reload = fu_nordic_dfu_usb_device_reload;
	device_class->replace = fu_nordic_dfu_usb_device_replace;
	device_class->to_string = fu_nordic_dfu_usb_device_to_string;
	device_class->set_progress = fu_nordic_dfu_usb_device_set_progress;
}
