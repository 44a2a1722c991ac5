/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-cobs-common.h"
#include "fu-cobs-device.h"
#include "fu-sdk-common.h"

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
	guint32 reset_timeout_ms;  /* bye answered to off the bus, for a device that resets */
	guint32 return_timeout_ms; /* off the bus to enumerated again */
	gboolean bye_unanswered;   /* the device left on bye instead of answering it */
	/* the device stayed in its bootloader after bye: it takes no more messages */
	gboolean stayed_after_bye;
	gboolean answers_version; /* announced the version query (now or in an earlier update) */
	gchar *version_written;	  /* of the last update, NULL when the release had none */
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
	fwupd_codec_string_append_int(str, idt, "ResetTimeout", self->reset_timeout_ms);
	fwupd_codec_string_append_int(str, idt, "ReturnTimeout", self->return_timeout_ms);
	fwupd_codec_string_append_bool(str, idt, "AnswersVersion", self->answers_version);
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

/*
 * What the plugin keeps per device in fwupd's state directory: the version it last wrote and
 * whether the device announced the version query, so that the version shown is the one the
 * device runs after a daemon restart or a replug, not the quirk's. A device is known by its
 * USB IDs and serial number, or by its port when it has no serial number.
 */
#define FU_COBS_DEVICE_STATE_GROUP	   "cobs"
#define FU_COBS_DEVICE_STATE_VERSION	   "Version"
#define FU_COBS_DEVICE_STATE_ANSWERS_QUERY "VersionQuery"

static gchar *
fu_cobs_device_state_path(FuCobsDevice *self)
{
	const gchar *serial = fu_device_get_serial(FU_DEVICE(self));
	g_autofree gchar *statedir = fu_path_from_kind(FU_PATH_KIND_LOCALSTATEDIR_PKG);
	g_autofree gchar *name = NULL;

	if (serial != NULL && serial[0] != '\0') {
		name = g_strdup_printf("%04x-%04x-%s",
				       fu_device_get_vid(FU_DEVICE(self)),
				       fu_device_get_pid(FU_DEVICE(self)),
				       serial);
	} else {
		name = g_strdup_printf("%04x-%04x-port-%s",
				       fu_device_get_vid(FU_DEVICE(self)),
				       fu_device_get_pid(FU_DEVICE(self)),
				       fu_device_get_physical_id(FU_DEVICE(self)));
	}
	/* a file name, whatever the serial number holds */
	g_strcanon(name, G_CSET_A_2_Z G_CSET_a_2_z G_CSET_DIGITS "-_.", '_');
	return g_build_filename(statedir, "cobs", name, NULL);
}

static GKeyFile *
fu_cobs_device_state_load(FuCobsDevice *self)
{
	g_autofree gchar *path = fu_cobs_device_state_path(self);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error_local)) {
		if (!g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("ignoring %s: %s", path, error_local->message);
		return NULL;
	}
	return g_steal_pointer(&kf);
}

static gboolean
fu_cobs_device_state_save(FuCobsDevice *self, GError **error)
{
	g_autofree gchar *path = fu_cobs_device_state_path(self);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autoptr(GKeyFile) kf = g_key_file_new();

	if (self->version_written != NULL) {
		g_key_file_set_string(kf,
				      FU_COBS_DEVICE_STATE_GROUP,
				      FU_COBS_DEVICE_STATE_VERSION,
				      self->version_written);
	}
	g_key_file_set_boolean(kf,
			       FU_COBS_DEVICE_STATE_GROUP,
			       FU_COBS_DEVICE_STATE_ANSWERS_QUERY,
			       self->answers_version);
	if (!fu_path_mkdir(dir, error))
		return FALSE;
	return g_key_file_save_to_file(kf, path, error);
}

/* the version word a device with the version query reports, in the device's format */
static gboolean
fu_cobs_device_query_version(FuCobsDevice *self, guint32 *version, GError **error)
{
	guint8 msg[COBS_PROTO_MESSAGE_MAX] = {0};
	guint8 buf[COBS_PROTO_MESSAGE_MAX] = {0};
	gsize msg_len = 0;
	gsize actual_length = 0;
	guint timeout_ms = self->config.reply_slack_ms;
	char detail[160] = {0};
	CobsProtoError rc;

	rc = cobs_proto_message_build(COBS_PROTO_CONTROL_VERSION,
				      NULL,
				      0,
				      msg,
				      sizeof(msg),
				      &msg_len);
	if (rc != COBS_PROTO_ERROR_NONE) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INTERNAL,
				    cobs_proto_error_to_string(rc));
		return FALSE;
	}
	if (!fu_cobs_device_send_cb(self, msg, msg_len, timeout_ms, error)) {
		g_prefix_error_literal(error, "sending the version query: ");
		return FALSE;
	}
	if (!fu_cobs_device_receive_cb(self, buf, sizeof(buf), &actual_length, timeout_ms, error)) {
		g_prefix_error_literal(error, "waiting for the reply to the version query: ");
		return FALSE;
	}
	rc = cobs_proto_version_reply_parse(buf,
					    MIN(actual_length, sizeof(buf)),
					    version,
					    detail,
					    sizeof(detail));
	if (rc != COBS_PROTO_ERROR_NONE) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_DATA,
			    "device answered the version query with %s",
			    detail);
		return FALSE;
	}
	return TRUE;
}

/*
 * The version the device runs: asked, where the device answers the version query; else the
 * one this plugin last wrote; else (never updated here) the quirk's, which is left as it is.
 */
static gboolean
fu_cobs_device_ensure_version(FuCobsDevice *self, GError **error)
{
	FuDevice *device = FU_DEVICE(self);
	g_autoptr(GKeyFile) kf = fu_cobs_device_state_load(self);
	g_autofree gchar *stored = NULL;

	if (kf != NULL) {
		stored = g_key_file_get_string(kf,
					       FU_COBS_DEVICE_STATE_GROUP,
					       FU_COBS_DEVICE_STATE_VERSION,
					       NULL);
		if (g_key_file_get_boolean(kf,
					   FU_COBS_DEVICE_STATE_GROUP,
					   FU_COBS_DEVICE_STATE_ANSWERS_QUERY,
					   NULL))
			self->answers_version = TRUE;
	}
	/* after bye the bootloader takes no more messages until it resets */
	if (self->answers_version && !self->stayed_after_bye) {
		guint32 version = 0;
		g_autoptr(GError) error_local = NULL;
		if (fu_cobs_device_query_version(self, &version, &error_local)) {
			g_autofree gchar *str = NULL;
			if (version == COBS_PROTO_VERSION_NONE) {
				g_set_error_literal(error,
						    FWUPD_ERROR,
						    FWUPD_ERROR_NOT_FOUND,
						    "the device holds no image it would start: "
						    "check that the firmware is for this device, "
						    "and install it again");
				return FALSE;
			}
			str = fu_version_from_uint32(version, fu_device_get_version_format(device));
			fu_device_set_version(device, str);
			g_info("version %s read from the device", fu_device_get_version(device));
			return TRUE;
		}
		g_warning("the device announced the version query but %s; showing the version "
			  "last written",
			  error_local->message);
	}
	if (stored != NULL) {
		fu_device_set_version(device, stored);
		g_info("version %s as last written by this plugin (the device cannot tell)",
		       stored);
	}
	return TRUE;
}

static gboolean
fu_cobs_device_setup(FuDevice *device, GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);
	g_autoptr(GError) error_local = NULL;

	if (!FU_DEVICE_CLASS(fu_cobs_device_parent_class)->setup(device, error))
		return FALSE;
	/* a bootloader holding no image it would start can still be updated */
	if (!fu_cobs_device_ensure_version(self, &error_local)) {
		if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_warning("%s", error_local->message);
	}
	return TRUE;
}

static gboolean
fu_cobs_device_reload(FuDevice *device, GError **error)
{
	FuCobsDevice *self = FU_COBS_DEVICE(device);
	if (!fu_cobs_device_ensure_version(self, error)) {
		g_prefix_error_literal(error,
				       "the device came back in its bootloader and refused "
				       "the image: ");
		return FALSE;
	}
	return TRUE;
}

/* the session never resends, so an update that stopped left unanswered at most the chunks
 * it had sent ahead (two transfers of them) plus the message the device was working on */
#define FU_COBS_DEVICE_STALE_REPLIES_MAX (COBS_PROTO_SEND_TIMES + 1u)
/* a reply the device already holds goes out in the next 1 ms full-speed frame (see
 * COBS_PROTO_DEFAULT_REPLY_SLACK_MS); the rest is room for host scheduling, kept short as
 * every update pays it once */
#define FU_COBS_DEVICE_STALE_REPLY_MS 20

/* a device keeps the replies to messages an earlier update sent before it stopped (the
 * chunks in flight, a reply that came too late); this update would take them for the
 * answers to its own erase and chunks, so they are read and dropped first. A device that
 * has more to send than that never stops sending (ACKs or bytes no one asked for): every
 * reply to this update would be lost among them, so it is not erased. */
static gboolean
fu_cobs_device_drop_stale_replies(FuCobsDevice *self, GError **error)
{
	gsize total = 0;
	guint8 last[COBS_PROTO_MESSAGE_MAX] = {0};
	gsize last_len = 0;
	g_autoptr(GString) hex = g_string_new(NULL);

	for (guint i = 0; i < FU_COBS_DEVICE_STALE_REPLIES_MAX; i++) {
		guint8 buf[COBS_PROTO_MESSAGE_MAX] = {0};
		gsize actual_length = 0;
		g_autoptr(GError) error_local = NULL;

		if (!fu_cobs_device_receive_cb(self,
					       buf,
					       sizeof(buf),
					       &actual_length,
					       FU_COBS_DEVICE_STALE_REPLY_MS,
					       &error_local))
			return TRUE;
		g_info("dropped a stale reply of %" G_GSIZE_FORMAT " bytes", actual_length);
		total += actual_length;
		last_len = MIN(actual_length, 16);
		if (!fu_memcpy_safe(last,
				    sizeof(last),
				    0x0,
				    buf,
				    sizeof(buf),
				    0x0,
				    last_len,
				    error))
			return FALSE;
	}
	for (gsize i = 0; i < last_len; i++)
		g_string_append_printf(hex, "%s%02x", i == 0 ? "" : " ", last[i]);
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_WRITE,
		    "device keeps sending without being asked: %u reads before erase brought "
		    "%" G_GSIZE_FORMAT " bytes (the last began [%s]), more than an earlier "
		    "update can have left; nothing was sent to it: replug it and install again",
		    (guint)FU_COBS_DEVICE_STALE_REPLIES_MAX,
		    total,
		    hex->str);
	return FALSE;
}

/* the quirk figures the end of an update waits for, explained in README.md */
#define FU_COBS_DEVICE_RESET_TIMEOUT_MS	 1000
#define FU_COBS_DEVICE_RETURN_TIMEOUT_MS 3000
/* how often the port is looked at while the device is off the bus: a USB enumeration takes
 * more than 100 ms (the hub's debounce alone), so a look every 50 ms adds little to it */
#define FU_COBS_DEVICE_PORT_POLL_MS 50

/* *left is TRUE when the device left the bus within the reset timeout after bye was
 * answered: a read on its IN endpoint ends at once when it goes, and times out when it
 * stays. What it sends meanwhile goes to the session: a reply there answers no message, and
 * fails the update. */
static gboolean
fu_cobs_device_wait_left(FuCobsDevice *self,
			 CobsProtoSession *session,
			 gboolean *left,
			 GError **error)
{
	g_autoptr(GTimer) timer = g_timer_new();

	*left = FALSE;
	while (TRUE) {
		guint8 buf[COBS_PROTO_MESSAGE_MAX] = {0};
		gsize actual_length = 0;
		guint elapsed_ms = (guint)(g_timer_elapsed(timer, NULL) * 1000);
		CobsProtoAction action = {0};
		g_autoptr(GError) error_local = NULL;

		if (elapsed_ms >= self->reset_timeout_ms)
			return TRUE;
		if (!fu_cobs_device_receive_cb(self,
					       buf,
					       sizeof(buf),
					       &actual_length,
					       self->reset_timeout_ms - elapsed_ms,
					       &error_local)) {
			if (g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND)) {
				*left = TRUE;
				return TRUE;
			}
			g_debug("device still there after bye: %s", error_local->message);
			return TRUE;
		}
		g_info("device sent %" G_GSIZE_FORMAT " bytes after bye", actual_length);
		cobs_proto_session_feed_after_bye(session, buf, MIN(actual_length, sizeof(buf)));
		cobs_proto_session_next(session, 0, &action);
		if (action.kind == COBS_PROTO_ACTION_ERROR) {
			g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_WRITE, action.message);
			return FALSE;
		}
	}
}

static gboolean
fu_cobs_device_read_port_attr(const gchar *port, const gchar *attr, guint64 *value, guint base)
{
	g_autofree gchar *fn = g_build_filename(port, attr, NULL);
	g_autofree gchar *buf = NULL;

	if (!g_file_get_contents(fn, &buf, NULL, NULL))
		return FALSE;
	g_strstrip(buf);
	return g_ascii_string_to_unsigned(buf, base, 0, G_MAXUINT32, value, NULL);
}

/* what fu_cobs_device_port_back_cb() looks for, and what it found */
typedef struct {
	const gchar *port;
	guint64 devnum_old;
	guint16 vid;
	guint16 pid;
} FuCobsDevicePortHelper;

/* TRUE with its IDs when a device is at the port at another address than the one that left */
static gboolean
fu_cobs_device_port_back_cb(FuDevice *device, gpointer user_data, GError **error)
{
	FuCobsDevicePortHelper *helper = user_data;
	guint64 devnum = 0;
	guint64 vid = 0;
	guint64 pid = 0;

	if (!fu_cobs_device_read_port_attr(helper->port, "devnum", &devnum, 10) ||
	    devnum == helper->devnum_old ||
	    !fu_cobs_device_read_port_attr(helper->port, "idVendor", &vid, 16) ||
	    !fu_cobs_device_read_port_attr(helper->port, "idProduct", &pid, 16)) {
		/* not NOT_FOUND: a USB device's retries end at once on that */
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_TIMED_OUT,
				    "no device enumerated at the port yet");
		return FALSE;
	}
	helper->vid = (guint16)vid;
	helper->pid = (guint16)pid;
	return TRUE;
}

/*
 * What enumerates at the device's port once it has left: TRUE with its IDs when a device is
 * there at another address within the return timeout, FALSE when nothing is. The kernel
 * keeps the port's sysfs path across a re-enumeration and gives the device a new address.
 * The port is looked at between sleeps: the udev backend's events reach fwupd through the
 * main context, which does not run during write_firmware, and fwupd's own wait for a replug
 * looks at its device list between sleeps alike.
 */
static gboolean
fu_cobs_device_wait_back(FuCobsDevice *self, guint64 devnum_old, guint16 *vid, guint16 *pid)
{
	FuCobsDevicePortHelper helper = {
	    .port = fu_udev_device_get_sysfs_path(FU_UDEV_DEVICE(self)),
	    .devnum_old = devnum_old,
	};
	g_autoptr(GError) error_local = NULL;

	if (helper.port == NULL)
		return FALSE;
	if (!fu_device_retry_full(FU_DEVICE(self),
				  fu_cobs_device_port_back_cb,
				  self->return_timeout_ms / FU_COBS_DEVICE_PORT_POLL_MS + 1,
				  FU_COBS_DEVICE_PORT_POLL_MS,
				  &helper,
				  &error_local)) {
		g_debug("%s", error_local->message);
		return FALSE;
	}
	*vid = helper.vid;
	*pid = helper.pid;
	return TRUE;
}

/* done, but the device's version cannot be read back: said in the log and to the user */
static void
fu_cobs_device_not_read_back(FuCobsDevice *self, FuProgress *progress, const gchar *why)
{
	FuDevice *device = FU_DEVICE(self);
	g_autofree gchar *msg = NULL;
	g_autoptr(GError) error_local = NULL;

	msg = g_strdup_printf("The update to %s %s was written and acknowledged; %s, so its "
			      "version was not read back.",
			      fu_device_get_name(device),
			      self->version_written != NULL ? self->version_written : "",
			      why);
	g_info("%s", msg);
	/* nothing of this plugin comes back to compare, and the bootloader's entry shows what
	 * was written until it goes */
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WILL_DISAPPEAR);
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
	if (self->version_written != NULL)
		fu_device_set_version(device, self->version_written);
	if (!fu_sdk_emit_post_request(device,
				      progress,
				      "com.github.cobs-bootloader.version-not-read-back",
				      msg,
				      &error_local))
		g_info("not shown to the user: %s", error_local->message);
}

/*
 * After bye a device either stays in its bootloader, or resets: then it comes back as the
 * bootloader at a new address, as an application with other IDs, or not at all (an
 * application without USB). Only the first two can still be asked for their version. This
 * runs at the end of write_firmware, while the device is still open: fwupd opens it again
 * before attach, which a device that has gone fails.
 */
static void
fu_cobs_device_follow(FuCobsDevice *self, guint64 devnum, gboolean left, FuProgress *progress)
{
	FuDevice *device = FU_DEVICE(self);
	guint16 vid = 0;
	guint16 pid = 0;
	g_autofree gchar *why = NULL;

	if (fu_device_has_flag(device, FWUPD_DEVICE_FLAG_EMULATED))
		return;
	if (!left) {
		g_info("device stayed in its bootloader after bye");
		self->stayed_after_bye = TRUE;
		return;
	}
	if (fu_cobs_device_wait_back(self, devnum, &vid, &pid) &&
	    vid == fu_device_get_vid(device) && pid == fu_device_get_pid(device)) {
		/* fwupd takes the new device for this one and reloads it */
		g_info("device reset and came back as the bootloader");
		fu_device_set_remove_delay(device, self->return_timeout_ms);
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
		return;
	}
	if (vid != 0 || pid != 0) {
		why = g_strdup_printf("the device restarted as USB %04x:%04x, which is not its "
				      "bootloader",
				      vid,
				      pid);
	} else {
		why = g_strdup_printf("the device left USB and nothing came back within %u ms "
				      "(an application without USB)",
				      self->return_timeout_ms);
	}
	fu_cobs_device_not_read_back(self, progress, why);
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
	gboolean left = FALSE;
	guint8 caps = 0;
	guint64 devnum = 0;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GError) error_state = NULL;

	self->stayed_after_bye = FALSE;
	/* the address the device has now: a device at another one after bye is a new one */
	if (fu_udev_device_get_sysfs_path(FU_UDEV_DEVICE(self)) != NULL &&
	    !fu_cobs_device_read_port_attr(fu_udev_device_get_sysfs_path(FU_UDEV_DEVICE(self)),
					   "devnum",
					   &devnum,
					   10))
		g_debug("the device's address is not known");
	blob = fu_firmware_get_bytes(firmware, error);
	if (blob == NULL)
		return FALSE;
	if (!fu_cobs_check_image_size(g_bytes_get_size(blob), flash_size, error))
		return FALSE;
	if (fu_device_has_private_flag(device, FU_COBS_FLAG_NO_VERIFY))
		config.use_verify = FALSE;

	fu_progress_set_id(progress, G_STRLOC);
	fu_cobs_session_progress_add_steps(progress);
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
	if (!recorded && !fu_cobs_device_drop_stale_replies(self, error)) {
		g_prefix_error_literal(error, "update failed: ");
		return FALSE;
	}
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

	/* whether the device stays, and that it sends no reply after bye's */
	self->bye_unanswered = cobs_proto_session_get_bye_unanswered(&session);
	left = self->bye_unanswered;
	if (!left && !fu_device_has_flag(device, FWUPD_DEVICE_FLAG_EMULATED) &&
	    !fu_cobs_device_wait_left(self, &session, &left, error)) {
		g_prefix_error_literal(error, "update failed: ");
		return FALSE;
	}

	/* what the version is from now on, and where the device went */
	self->answers_version = cobs_proto_session_get_device_caps(&session, &caps) &&
				(caps & COBS_PROTO_CAP_VERSION) != 0;
	g_free(self->version_written);
	self->version_written = g_strdup(fu_firmware_get_version(firmware));
	if (self->version_written == NULL && !self->answers_version)
		g_info("the image came without a version: the version shown is not known");
	if (!fu_cobs_device_state_save(self, &error_state))
		g_warning("cannot keep the version written: %s", error_state->message);
	fu_cobs_device_follow(self, devnum, left, progress);
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
	if (g_strcmp0(key, FU_COBS_QUIRK_RESET_TIMEOUT) == 0)
		return fu_sdk_parse_quirk_u32(value, 1, 600000, &self->reset_timeout_ms, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_RETURN_TIMEOUT) == 0)
		return fu_sdk_parse_quirk_u32(value, 1, 600000, &self->return_timeout_ms, error);
	if (!fu_cobs_config_set_quirk(&self->config, key, value, &handled, error))
		return FALSE;
	if (handled)
		return TRUE;
	return fu_sdk_quirk_key_unsupported(error);
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
	self->reset_timeout_ms = FU_COBS_DEVICE_RESET_TIMEOUT_MS;
	self->return_timeout_ms = FU_COBS_DEVICE_RETURN_TIMEOUT_MS;
	fu_device_register_private_flag(FU_DEVICE(self), FU_COBS_FLAG_NO_VERIFY);
	/* its only request is a message after the update: generic, so that a client that shows
	 * only generic messages (fwupdmgr without a terminal) is still offered updates */
	fu_device_add_request_flag(FU_DEVICE(self), FWUPD_REQUEST_FLAG_ALLOW_GENERIC_MESSAGE);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UPDATABLE);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UNSIGNED_PAYLOAD);
	fu_device_add_protocol(FU_DEVICE(self), FU_COBS_PROTOCOL_ID);
}

static void
fu_cobs_device_finalize(GObject *object)
{
	FuCobsDevice *self = FU_COBS_DEVICE(object);
	g_free(self->version_written);
	G_OBJECT_CLASS(fu_cobs_device_parent_class)->finalize(object);
}

static void
fu_cobs_device_class_init(FuCobsDeviceClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = fu_cobs_device_finalize;
	device_class->setup = fu_cobs_device_setup;
	device_class->reload = fu_cobs_device_reload;
	device_class->to_string = fu_cobs_device_to_string;
	device_class->probe = fu_cobs_device_probe;
	device_class->prepare_firmware = fu_cobs_device_prepare_firmware;
	device_class->write_firmware = fu_cobs_device_write_firmware;
	device_class->set_quirk_kv = fu_cobs_device_set_quirk_kv;
	device_class->set_progress = fu_cobs_device_set_progress;
}
