/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fu-cobs-device.h"

#include "fu-cobs-common.h"

/*
 * The bootloader as a USB device: the CDC data interface is claimed (the kernel's cdc_acm
 * driver detached) and its bulk endpoints carry the COBS messages.
 */

struct _FuCobsDevice {
	FuUsbDevice parent_instance;
	gint interface_quirk; /* -1: find the CDC data interface */
	gint ep_out_quirk;    /* -1: from the interface, or the default */
	gint ep_in_quirk;
	guint8 interface_number;
	guint8 ep_out;
	guint8 ep_in;
	CobsProtoConfig config;
};

G_DEFINE_TYPE(FuCobsDevice, fu_cobs_device, FU_TYPE_USB_DEVICE)

const CobsProtoConfig *
fu_cobs_device_get_config(FuCobsDevice *self)
{
	g_return_val_if_fail(FU_IS_COBS_DEVICE(self), NULL);
	return &self->config;
}

static void
fu_cobs_device_to_string(FuDevice *device, guint idt, GString *str)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);
	fwupd_codec_string_append_hex(str, idt, "InterfaceNumber", self->interface_number);
	fwupd_codec_string_append_hex(str, idt, "EndpointOut", self->ep_out);
	fwupd_codec_string_append_hex(str, idt, "EndpointIn", self->ep_in);
	fwupd_codec_string_append_int(str, idt, "SectorSize", self->config.sector_size);
	fwupd_codec_string_append_int(str, idt, "SectorEraseTime", self->config.sector_erase_ms);
	fwupd_codec_string_append_int(str, idt, "WordSize", self->config.word_size);
	fwupd_codec_string_append_int(str, idt, "WordProgramTime", self->config.word_program_us);
	fwupd_codec_string_append_int(str, idt, "ReplyTimeout", self->config.reply_slack_ms);
	fwupd_codec_string_append_int(str, idt, "QueueDepth", self->config.queue_depth);
}

/* the bulk endpoints of one interface, keeping what a quirk already set */
static void
fu_cobs_device_take_endpoints(FuCobsDevice *self, FuUsbInterface *intf)
{
	g_autoptr(GPtrArray) endpoints = fu_usb_interface_get_endpoints(intf);

	for (guint i = 0; endpoints != NULL && i < endpoints->len; i++) {
		FuUsbEndpoint *ep = g_ptr_array_index(endpoints, i);
		if (fu_usb_endpoint_get_direction(ep) == FU_USB_DIRECTION_HOST_TO_DEVICE &&
		    self->ep_out_quirk < 0)
			self->ep_out = fu_usb_endpoint_get_address(ep);
		if (fu_usb_endpoint_get_direction(ep) == FU_USB_DIRECTION_DEVICE_TO_HOST &&
		    self->ep_in_quirk < 0)
			self->ep_in = fu_usb_endpoint_get_address(ep);
	}
}

/* the interface a quirk names, or else the first CDC data interface with two endpoints */
static void
fu_cobs_device_find_interface(FuCobsDevice *self)
{
	g_autoptr(GPtrArray) intfs = NULL;
	g_autoptr(GError) error_local = NULL;

	intfs = fu_usb_device_get_interfaces(FU_USB_DEVICE(self), &error_local);
	if (intfs == NULL) {
		g_debug("no interface descriptors, using the defaults: %s", error_local->message);
		return;
	}
	for (guint i = 0; i < intfs->len; i++) {
		FuUsbInterface *intf = g_ptr_array_index(intfs, i);
		g_autoptr(GPtrArray) endpoints = fu_usb_interface_get_endpoints(intf);
		if (self->interface_quirk >= 0) {
			if (fu_usb_interface_get_number(intf) != self->interface_quirk)
				continue;
		} else if (fu_usb_interface_get_class(intf) != FU_USB_CLASS_CDC_DATA ||
			   endpoints == NULL || endpoints->len < 2) {
			continue;
		}
		self->interface_number = fu_usb_interface_get_number(intf);
		fu_cobs_device_take_endpoints(self, intf);
		return;
	}
}

static gboolean
fu_cobs_device_probe(FuDevice *device, GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);

	self->interface_number = self->interface_quirk >= 0 ? self->interface_quirk
							    : FU_COBS_DEFAULT_INTERFACE;
	self->ep_out = self->ep_out_quirk >= 0 ? self->ep_out_quirk : FU_COBS_DEFAULT_ENDPOINT_OUT;
	self->ep_in = self->ep_in_quirk >= 0 ? self->ep_in_quirk : FU_COBS_DEFAULT_ENDPOINT_IN;
	fu_cobs_device_find_interface(self);

	/* the erase carries no length: its timeout is sized from the whole flash */
	if (fu_device_get_firmware_size_max(device) == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "the flash size is unknown: set FirmwareSizeMax in a quirk");
		return FALSE;
	}
	if ((self->ep_out & 0x80) != 0 || (self->ep_in & 0x80) == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "endpoints 0x%02x (OUT) and 0x%02x (IN) have the wrong directions: "
			    "fix the quirk: " FU_COBS_QUIRK_ENDPOINT_OUT " needs bit 7 clear "
			    "(e.g. 0x01), " FU_COBS_QUIRK_ENDPOINT_IN " bit 7 set (e.g. 0x81)",
			    self->ep_out,
			    self->ep_in);
		return FALSE;
	}
	fu_usb_device_add_interface(FU_USB_DEVICE(self), self->interface_number);
	fu_device_add_protocol(device, FU_COBS_PROTOCOL_ID);
	return TRUE;
}

static FuFirmware *
fu_cobs_device_prepare_firmware(FuDevice *device,
				GInputStream *stream,
				FuProgress *progress,
				FuFirmwareParseFlags flags,
				GError **error)
{
	gsize size = 0;
	g_autoptr(FuFirmware) firmware = fu_firmware_new();
	g_autoptr(GBytes) blob = NULL;

	/* a raw image: nothing in it says what it is for, only its size can be checked */
	if (!fu_input_stream_size(stream, &size, error))
		return NULL;
	if (!fu_cobs_check_image_size(size, fu_device_get_firmware_size_max(device), error))
		return NULL;
	blob = fu_input_stream_read_bytes(stream, 0x0, size, progress, error);
	if (blob == NULL)
		return NULL;
	fu_firmware_set_bytes(firmware, blob);
	return g_steal_pointer(&firmware);
}

static gboolean
fu_cobs_device_send_cb(gpointer user_data,
		       const guint8 *buf,
		       gsize bufsz,
		       guint timeout_ms,
		       GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(user_data);
	gsize actual_length = 0;
	guint8 msg[COBS_PROTO_MESSAGE_MAX * COBS_PROTO_BATCH_MAX] = {0};

	if (!fu_memcpy_safe(msg, sizeof(msg), 0x0, buf, bufsz, 0x0, bufsz, error))
		return FALSE;
	if (!fu_usb_device_bulk_transfer(FU_USB_DEVICE(self),
					 self->ep_out,
					 msg,
					 bufsz,
					 &actual_length,
					 timeout_ms,
					 NULL,
					 error))
		return FALSE;
	if (actual_length != bufsz) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_WRITE,
			    "device took %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes",
			    actual_length,
			    bufsz);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_cobs_device_receive_cb(gpointer user_data,
			  guint8 *buf,
			  gsize bufsz,
			  gsize *actual_length,
			  guint timeout_ms,
			  GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(user_data);
	return fu_usb_device_bulk_transfer(FU_USB_DEVICE(self),
					   self->ep_in,
					   buf,
					   bufsz,
					   actual_length,
					   timeout_ms,
					   NULL,
					   error);
}

static const FuCobsTransport fu_cobs_device_transport = {
    .send = fu_cobs_device_send_cb,
    .receive = fu_cobs_device_receive_cb,
};

/* the session never resends, so an update that stopped left unanswered at most the chunks
 * it had sent ahead (two transfers of them) plus the message the device was working on */
#define FU_COBS_DEVICE_STALE_REPLIES_MAX (COBS_PROTO_SEND_TIMES + 1u)
/* a reply the device already holds goes out in the next 1 ms full-speed frame (see
 * COBS_PROTO_DEFAULT_REPLY_SLACK_MS); the rest is room for host scheduling, kept short as
 * every update pays it once */
#define FU_COBS_DEVICE_STALE_REPLY_MS 20

/* a device keeps the replies to messages an earlier update sent before it stopped (the
 * chunks in flight, a reply that came too late); this update would take them for the
 * answers to its own erase and chunks, so they are read and dropped first */
static void
fu_cobs_device_drop_stale_replies(FuCobsDevice *self)
{
	for (guint i = 0; i < FU_COBS_DEVICE_STALE_REPLIES_MAX; i++) {
		guint8 buf[COBS_PROTO_MESSAGE_MAX] = {0};
		gsize actual_length = 0;
		g_autoptr(GError) error_local = NULL;

		if (!fu_usb_device_bulk_transfer(FU_USB_DEVICE(self),
						 self->ep_in,
						 buf,
						 sizeof(buf),
						 &actual_length,
						 FU_COBS_DEVICE_STALE_REPLY_MS,
						 NULL,
						 &error_local))
			return;
		g_info("dropped a stale reply of %" G_GSIZE_FORMAT " bytes", actual_length);
	}
}

static gboolean
fu_cobs_device_write_firmware(FuDevice *device,
			      FuFirmware *firmware,
			      FuProgress *progress,
			      FwupdInstallFlags flags,
			      GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);
	CobsProtoConfig config = self->config;
	CobsProtoSession session;
	guint64 flash_size = fu_device_get_firmware_size_max(device);
	gboolean recorded =
	    fu_device_has_flag(device, FWUPD_DEVICE_FLAG_EMULATED) ||
	    fu_context_has_flag(fu_device_get_context(device), FU_CONTEXT_FLAG_SAVE_EVENTS);
	gboolean ok;
	g_autoptr(GBytes) blob = NULL;

	blob = fu_firmware_get_bytes(firmware, error);
	if (blob == NULL)
		return FALSE;
	if (!fu_cobs_check_image_size(g_bytes_get_size(blob), flash_size, error))
		return FALSE;
	if (fu_device_has_private_flag(device, FU_COBS_FLAG_NO_VERIFY))
		config.use_verify = FALSE;

	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_ERASE, 40, "erase");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 58, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_VERIFY, 2, "verify");
	if (cobs_proto_session_start(&session,
				     &config,
				     g_bytes_get_data(blob, NULL),
				     (guint32)g_bytes_get_size(blob),
				     (guint32)MIN(flash_size, G_MAXUINT32)) !=
	    COBS_PROTO_ERROR_NONE) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_DATA, session.message);
		return FALSE;
	}
	/* a recorded update replays only the transfers of the protocol itself */
	if (!recorded)
		fu_cobs_device_drop_stale_replies(self);
	if (config.queue_depth > 0 && !recorded)
		ok = fu_cobs_session_run_overlapped(&session,
						    &fu_cobs_device_transport,
						    self,
						    progress,
						    error);
	else
		ok =
		    fu_cobs_session_run(&session, &fu_cobs_device_transport, self, progress, error);
	if (!ok) {
		g_prefix_error_literal(error, "update failed: ");
		return FALSE;
	}
	if (cobs_proto_session_get_verified(&session))
		g_info("device verified the image: CRC-32 and length match");
	else
		g_info("device cannot verify: it acknowledged every chunk, nothing more is known");
	if (cobs_proto_session_get_bye_unanswered(&session))
		g_info("device left without answering bye: it started the new image");
	return TRUE;
}

/* an interface number or endpoint address: a byte */
static gboolean
fu_cobs_device_parse_u8(const gchar *value, guint64 min, gint *out, GError **error)
{
	guint64 tmp = 0;
	if (!fu_strtoull(value, &tmp, min, G_MAXUINT8, FU_INTEGER_BASE_AUTO, error))
		return FALSE;
	*out = (gint)tmp;
	return TRUE;
}

static gboolean
fu_cobs_device_set_quirk_kv(FuDevice *device, const gchar *key, const gchar *value, GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);
	gboolean handled = FALSE;

	if (g_strcmp0(key, FU_COBS_QUIRK_INTERFACE) == 0)
		return fu_cobs_device_parse_u8(value, 0x00, &self->interface_quirk, error);
	/* endpoint 0 is the control endpoint */
	if (g_strcmp0(key, FU_COBS_QUIRK_ENDPOINT_OUT) == 0)
		return fu_cobs_device_parse_u8(value, 0x01, &self->ep_out_quirk, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_ENDPOINT_IN) == 0)
		return fu_cobs_device_parse_u8(value, 0x01, &self->ep_in_quirk, error);
	if (!fu_cobs_config_set_quirk(&self->config, key, value, &handled, error))
		return FALSE;
	if (handled)
		return TRUE;
	g_set_error_literal(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "quirk key not supported");
	return FALSE;
}

static void
fu_cobs_device_set_progress(FuDevice *device, FuProgress *progress)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DECOMPRESSING, 0, "prepare-fw");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "detach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 100, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "attach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_BUSY, 0, "reload");
}

static void
fu_cobs_device_init(FuCobsDevice *self)
{
	self->interface_quirk = -1;
	self->ep_out_quirk = -1;
	self->ep_in_quirk = -1;
	self->interface_number = FU_COBS_DEFAULT_INTERFACE;
	self->ep_out = FU_COBS_DEFAULT_ENDPOINT_OUT;
	self->ep_in = FU_COBS_DEFAULT_ENDPOINT_IN;
	cobs_proto_config_init(&self->config);
	fu_device_register_private_flag(FU_DEVICE(self), FU_COBS_FLAG_NO_VERIFY);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UPDATABLE);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UNSIGNED_PAYLOAD);
	fu_device_add_protocol(FU_DEVICE(self), FU_COBS_PROTOCOL_ID);
}

static void
fu_cobs_device_class_init(FuCobsDeviceClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	device_class->to_string = fu_cobs_device_to_string;
	device_class->probe = fu_cobs_device_probe;
	device_class->prepare_firmware = fu_cobs_device_prepare_firmware;
	device_class->write_firmware = fu_cobs_device_write_firmware;
	device_class->set_quirk_kv = fu_cobs_device_set_quirk_kv;
	device_class->set_progress = fu_cobs_device_set_progress;
}
