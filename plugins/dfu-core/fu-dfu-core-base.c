/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "fu-dfu-core-base.h"
#include "fu-dfu-core-firmware.h"
#include "fu-proto-error.h"
#include "fu-sdk-common.h"

/*
 * What runtime and DFU mode share: finding the DFU interface and its functional descriptor,
 * the quirks that correct it, and executing the actions of a dfu-proto session over
 * control transfers.
 */

typedef struct {
	DfuProtoInterface intf;
	guint16 transfer_size_quirk;  /* 0: the descriptor's */
	guint16 detach_timeout_quirk; /* 0: the descriptor's */
	guint32 busy_timeout_quirk;   /* 0: the core's bound */
	guint32 min_poll_interval;    /* 0: poll as the device asks */
} FuDfuCoreBasePrivate;

G_DEFINE_TYPE_WITH_PRIVATE(FuDfuCoreBase, fu_dfu_core_base, FU_TYPE_USB_DEVICE)
#define GET_PRIVATE(o) (fu_dfu_core_base_get_instance_private(o))

/* the configuration descriptors exactly as the device sent them; fwupd's own parse keeps the
 * functional descriptor only after the alt it follows, the core searches the whole blob */
/* a USB device's descriptors fit in 64 KiB: wTotalLength is 16 bits a configuration */
#define FU_DFU_CORE_DESCRIPTORS_MAX 0x40000

static gboolean
fu_dfu_core_base_read_descriptors(FuDfuCoreBase *self, DfuProtoDescriptors *descs, GError **error)
{
	DfuProtoError rc;
	gchar msg[128] = {0};
	g_autoptr(GBytes) blob = NULL;

	/* through fwupd, so that emulation records and replays it */
	blob = fu_udev_device_read_sysfs_bytes(FU_UDEV_DEVICE(self),
					       "descriptors",
					       FU_DFU_CORE_DESCRIPTORS_MAX,
					       FU_UDEV_DEVICE_ATTR_READ_TIMEOUT_DEFAULT,
					       error);
	if (blob == NULL) {
		g_prefix_error_literal(error, "failed to read the USB descriptors: ");
		return FALSE;
	}
	rc = dfu_proto_descriptors_parse(g_bytes_get_data(blob, NULL),
					 g_bytes_get_size(blob),
					 descs,
					 msg,
					 sizeof(msg));
	if (rc != DFU_PROTO_ERROR_NONE) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "invalid USB descriptors: %s",
			    msg);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_dfu_core_base_probe(FuDevice *device, GError **error)
{
	FuDfuCoreBase *self = FU_DFU_CORE_BASE(device);
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	FuDfuCoreBaseClass *klass = FU_DFU_CORE_BASE_GET_CLASS(self);
	const DfuProtoInterface *intf;
	DfuProtoDescriptors descs = {0};

	if (!fu_dfu_core_base_read_descriptors(self, &descs, error))
		return FALSE;
	intf = dfu_proto_descriptors_find(&descs, klass->interface_protocol);
	if (intf == NULL) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "no DFU %s interface",
			    klass->interface_protocol == DFU_PROTO_INTERFACE_PROTOCOL_DFU
				? "mode"
				: "runtime");
		return FALSE;
	}
	priv->intf = *intf;
	if (!priv->intf.has_functional) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "DFU interface has no functional descriptor");
		return FALSE;
	}
	if (priv->transfer_size_quirk != 0)
		priv->intf.functional.transfer_size = priv->transfer_size_quirk;
	if (priv->detach_timeout_quirk != 0)
		priv->intf.functional.detach_timeout_ms = priv->detach_timeout_quirk;
	if (priv->intf.functional.transfer_size == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "functional descriptor gives wTransferSize 0: "
				    "set DfuCoreTransferSize in a quirk");
		return FALSE;
	}
	if (priv->intf.functional.transfer_size > FU_DFU_CORE_TRANSFER_SIZE_MAX) {
		g_info("wTransferSize %u is more than a control transfer carries, using %u",
		       priv->intf.functional.transfer_size,
		       (guint)FU_DFU_CORE_TRANSFER_SIZE_MAX);
		priv->intf.functional.transfer_size = FU_DFU_CORE_TRANSFER_SIZE_MAX;
	}

	/* the attributes are facts of this device that quirks may also force */
	if (priv->intf.functional.attributes & DFU_PROTO_ATTR_WILL_DETACH)
		fu_device_add_private_flag(device, FU_DFU_CORE_FLAG_WILL_DETACH);
	if (fu_device_has_private_flag(device, FU_DFU_CORE_FLAG_WILL_DETACH))
		priv->intf.functional.attributes |= DFU_PROTO_ATTR_WILL_DETACH;
	if (priv->intf.functional.attributes & DFU_PROTO_ATTR_MANIFESTATION_TOLERANT)
		fu_device_add_private_flag(device, FU_DFU_CORE_FLAG_MANIFEST_TOL);
	if (fu_device_has_private_flag(device, FU_DFU_CORE_FLAG_MANIFEST_TOL))
		priv->intf.functional.attributes |= DFU_PROTO_ATTR_MANIFESTATION_TOLERANT;

	fu_device_add_protocol(device,
			       priv->intf.functional.dfu_version == DFU_PROTO_VERSION_DFUSE
				   ? "com.st.dfuse"
				   : "org.usb.dfu");
	fu_usb_device_add_interface(FU_USB_DEVICE(self), priv->intf.interface_number);
	return TRUE;
}

/*
 * The identity the quirk links this one to (`CounterpartGuid = USB\VID_1234&PID_5679`): the
 * runtime device's DFU mode, or the DFU mode device's runtime. FALSE when there is none, or
 * when the quirk gives it as a bare GUID.
 */
static gboolean
fu_dfu_core_base_get_linked_ids(FuDfuCoreBase *self, guint16 *vid, guint16 *pid)
{
	FuDevice *device = FU_DEVICE(self);
	FuContext *ctx = fu_device_get_context(device);
	const gchar *value;
	g_autofree gchar *instance_id = NULL;
	g_autofree gchar *guid = NULL;
	g_auto(GStrv) sections = NULL;

	if (ctx == NULL)
		return FALSE;
	instance_id = g_strdup_printf("USB\\VID_%04X&PID_%04X",
				      fu_device_get_vid(device),
				      fu_device_get_pid(device));
	guid = fwupd_guid_hash_string(instance_id);
	value = fu_context_lookup_quirk_by_id(ctx, guid, FU_QUIRKS_COUNTERPART_GUID);
	if (value == NULL)
		return FALSE;
	sections = g_strsplit(value, ",", -1);
	for (guint i = 0; sections[i] != NULL; i++) {
		guint tmp_vid = 0;
		guint tmp_pid = 0;
		if (sscanf(sections[i], "USB\\VID_%4X&PID_%4X", &tmp_vid, &tmp_pid) == 2) {
			*vid = tmp_vid;
			*pid = tmp_pid;
			return TRUE;
		}
	}
	return FALSE;
}

/*
 * A .dfu file names the device it is for, 0xFFFF meaning any: either identity of a device
 * whose runtime and DFU mode are linked by CounterpartGuid, in either mode, as dfu-util
 * accepts it (DFU 1.1 appendix B says only "the device").
 */
static gboolean
fu_dfu_core_base_matches_ids(FuDfuCoreBase *self, guint16 vid, guint16 pid)
{
	FuDevice *device = FU_DEVICE(self);
	guint16 linked_vid = 0;
	guint16 linked_pid = 0;
	g_autofree gchar *instance_id = NULL;
	g_autofree gchar *guid = NULL;

	if ((vid == 0xFFFF || vid == fu_device_get_vid(device)) &&
	    (pid == 0xFFFF || pid == fu_device_get_pid(device)))
		return TRUE;
	if (fu_dfu_core_base_get_linked_ids(self, &linked_vid, &linked_pid) &&
	    (vid == 0xFFFF || vid == linked_vid) && (pid == 0xFFFF || pid == linked_pid))
		return TRUE;
	if (vid == 0xFFFF || pid == 0xFFFF)
		return FALSE;

	/* a counterpart given as a GUID */
	instance_id = g_strdup_printf("USB\\VID_%04X&PID_%04X", vid, pid);
	guid = fwupd_guid_hash_string(instance_id);
	return fu_device_has_guid(device, instance_id) ||
	       fu_device_has_instance_id(device, guid, FU_DEVICE_INSTANCE_FLAG_COUNTERPART);
}

/* FALSE with an error naming both identities when a .dfu file is for another device */
static gboolean
fu_dfu_core_base_check_ids(FuDfuCoreBase *self, guint16 vid, guint16 pid, GError **error)
{
	FuDevice *device = FU_DEVICE(self);
	FuDfuCoreBaseClass *klass = FU_DFU_CORE_BASE_GET_CLASS(self);
	gboolean runtime = klass->interface_protocol == DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME;
	guint16 linked_vid = 0;
	guint16 linked_pid = 0;

	if (fu_dfu_core_base_matches_ids(self, vid, pid))
		return TRUE;
	if (!fu_dfu_core_base_get_linked_ids(self, &linked_vid, &linked_pid)) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "firmware is for USB device %04x:%04x, not this %04x:%04x (%s): "
			    "use the firmware built for this device",
			    vid,
			    pid,
			    fu_device_get_vid(device),
			    fu_device_get_pid(device),
			    runtime ? "runtime" : "DFU mode");
		return FALSE;
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_INVALID_FILE,
		    "firmware is for USB device %04x:%04x, not this device (runtime %04x:%04x, "
		    "DFU mode %04x:%04x): use the firmware built for this device",
		    vid,
		    pid,
		    (guint)(runtime ? fu_device_get_vid(device) : linked_vid),
		    (guint)(runtime ? fu_device_get_pid(device) : linked_pid),
		    (guint)(runtime ? linked_vid : fu_device_get_vid(device)),
		    (guint)(runtime ? linked_pid : fu_device_get_pid(device)));
	return FALSE;
}

static FuFirmware *
fu_dfu_core_base_prepare_firmware(FuDevice *device,
				  GInputStream *stream,
				  FuProgress *progress,
				  FuFirmwareParseFlags flags,
				  GError **error)
{
	guint64 size_max = fu_device_get_firmware_size_max(device);
	gsize size = 0;
	g_autoptr(FuFirmware) firmware = NULL;

	firmware = fu_dfu_core_firmware_load(
	    stream,
	    fu_device_has_private_flag(device, FU_DFU_CORE_FLAG_ALLOW_RAW_IMAGE),
	    fu_dfu_core_base_is_dfuse(FU_DFU_CORE_BASE(device)),
	    flags,
	    error);
	if (firmware == NULL)
		return NULL;
	if (FU_IS_DFU_FIRMWARE(firmware) && (flags & FU_FIRMWARE_PARSE_FLAG_IGNORE_VID_PID) == 0) {
		guint16 vid = fu_dfu_firmware_get_vid(FU_DFU_FIRMWARE(firmware));
		guint16 pid = fu_dfu_firmware_get_pid(FU_DFU_FIRMWARE(firmware));
		if (!fu_dfu_core_base_check_ids(FU_DFU_CORE_BASE(device), vid, pid, error))
			return NULL;
	}
	if (!fu_dfu_core_firmware_get_image_size(firmware, &size, error))
		return NULL;
	if (size_max > 0 && size > size_max) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "firmware image is %" G_GSIZE_FORMAT " bytes but the device holds "
			    "%" G_GUINT64_FORMAT ": this firmware is not for this device",
			    size,
			    size_max);
		return NULL;
	}
	return g_steal_pointer(&firmware);
}

static gboolean
fu_dfu_core_base_set_quirk_kv(FuDevice *device,
			      const gchar *key,
			      const gchar *value,
			      GError **error)
{
	FuDfuCoreBase *self = FU_DFU_CORE_BASE(device);
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);

	if (g_strcmp0(key, FU_DFU_CORE_QUIRK_TRANSFER_SIZE) == 0)
		return fu_sdk_parse_quirk_u16(value, 1, &priv->transfer_size_quirk, error);
	if (g_strcmp0(key, FU_DFU_CORE_QUIRK_DETACH_TIMEOUT) == 0)
		return fu_sdk_parse_quirk_u16(value, 1, &priv->detach_timeout_quirk, error);
	if (g_strcmp0(key, FU_DFU_CORE_QUIRK_BUSY_TIMEOUT) == 0)
		return fu_sdk_parse_quirk_u32(value,
					      1,
					      G_MAXUINT32,
					      &priv->busy_timeout_quirk,
					      error);
	if (g_strcmp0(key, FU_DFU_CORE_QUIRK_MIN_POLL_INTERVAL) == 0)
		return fu_sdk_parse_quirk_u32(value,
					      0,
					      DFU_PROTO_POLL_TIMEOUT_MAX_MS,
					      &priv->min_poll_interval,
					      error);
	return fu_sdk_quirk_key_unsupported(error);
}

static void
fu_dfu_core_base_to_string(FuDevice *device, guint idt, GString *str)
{
	FuDfuCoreBase *self = FU_DFU_CORE_BASE(device);
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	const DfuProtoFunctional *functional = &priv->intf.functional;

	fwupd_codec_string_append_hex(str, idt, "InterfaceNumber", priv->intf.interface_number);
	fwupd_codec_string_append_hex(str, idt, "AltSettings", priv->intf.alt_count);
	fwupd_codec_string_append_hex(str, idt, "Attributes", functional->attributes);
	fwupd_codec_string_append_int(str, idt, "DetachTimeout", functional->detach_timeout_ms);
	fwupd_codec_string_append_int(str, idt, "TransferSize", functional->transfer_size);
	fwupd_codec_string_append_hex(str, idt, "DfuVersion", functional->dfu_version);
	if (priv->busy_timeout_quirk != 0)
		fwupd_codec_string_append_int(str, idt, "BusyTimeout", priv->busy_timeout_quirk);
	if (priv->min_poll_interval != 0)
		fwupd_codec_string_append_int(str, idt, "MinPollInterval", priv->min_poll_interval);
}

guint8
fu_dfu_core_base_get_interface_number(FuDfuCoreBase *self)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FU_IS_DFU_CORE_BASE(self), 0);
	return priv->intf.interface_number;
}

const DfuProtoInterface *
fu_dfu_core_base_get_interface(FuDfuCoreBase *self)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FU_IS_DFU_CORE_BASE(self), NULL);
	return &priv->intf;
}

gboolean
fu_dfu_core_base_is_dfuse(FuDfuCoreBase *self)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FU_IS_DFU_CORE_BASE(self), FALSE);
	return priv->intf.functional.dfu_version == DFU_PROTO_VERSION_DFUSE;
}

const DfuProtoFunctional *
fu_dfu_core_base_get_functional(FuDfuCoreBase *self)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FU_IS_DFU_CORE_BASE(self), NULL);
	return &priv->intf.functional;
}

void
fu_dfu_core_base_session_init(FuDfuCoreBase *self, DfuProtoSession *session)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	guint dfuse_quirks = 0;

	dfu_proto_session_init(session, &priv->intf.functional);
	if (priv->busy_timeout_quirk != 0)
		dfu_proto_session_set_busy_budget(session, priv->busy_timeout_quirk);
	if (priv->min_poll_interval != 0)
		dfu_proto_session_set_min_poll_interval(session, priv->min_poll_interval);
	if (fu_device_has_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_BOGUS_SET_ADDRESS))
		dfuse_quirks |= DFU_PROTO_DFUSE_QUIRK_SET_ADDRESS_POLL_BOGUS;
	if (fu_device_has_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_SILENT_AFTER_LEAVE))
		dfuse_quirks |= DFU_PROTO_DFUSE_QUIRK_SILENT_AFTER_LEAVE;
	dfu_proto_session_set_dfuse_quirks(session, dfuse_quirks);
}

/* an operation the session refused to start (the device cannot do it, or it is given nothing to
 * do) is an error with the session's message */
static gboolean
fu_dfu_core_base_check_started(DfuProtoSession *session, DfuProtoError rc, GError **error)
{
	if (rc == DFU_PROTO_ERROR_NONE)
		return TRUE;
	g_set_error_literal(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    dfu_proto_session_get_message(session));
	return FALSE;
}

/*
 * The core counts whole milliseconds: it is given the clock rounded down and the time a reply
 * arrived rounded up, so a wait it derives from a reply never ends before the poll timeout
 * the device reported (truncating both could cut up to 1 ms off it). The clock keeps the
 * microseconds behind those figures, so that a wait following a status reply ends exactly a
 * poll timeout after that reply instead of up to 2 ms later, twice a block.
 */
typedef struct {
	gint64 now_us;
	guint64 now_ms;
	gint64 status_us; /* 0 unless the last action was a status read */
	guint64 status_ms;
} FuDfuCoreClock;

static guint64
fu_dfu_core_base_clock_now(FuDfuCoreClock *clock)
{
	clock->now_us = g_get_monotonic_time();
	clock->now_ms = (guint64)(clock->now_us / 1000);
	return clock->now_ms;
}

static guint64
fu_dfu_core_base_clock_reply(FuDfuCoreClock *clock, gboolean is_status)
{
	gint64 now_us = g_get_monotonic_time();
	guint64 reply_ms = (guint64)((now_us + 999) / 1000);
	clock->status_us = is_status ? now_us : 0;
	clock->status_ms = reply_ms;
	return reply_ms;
}

/* the monotonic time, as g_get_monotonic_time() counts it, at which a wait the core asked for
 * ends: a poll timeout after the status reply it follows, else @wait_ms from now */
static gint64
fu_dfu_core_base_clock_deadline_us(const FuDfuCoreClock *clock, guint32 wait_ms)
{
	gint64 wait_us = (gint64)wait_ms * 1000;
	if (clock->status_us == 0)
		return clock->now_us + wait_us;
	return (gint64)clock->now_ms * 1000 + wait_us - (gint64)clock->status_ms * 1000 +
	       clock->status_us;
}

/*
 * A poll timeout is the device's figure to the millisecond and the wait is on the critical
 * path of every block. An absolute deadline on the clock g_get_monotonic_time() reads does not
 * add the time spent between reading the clock and going to sleep, as a relative sleep would.
 */
static void
fu_dfu_core_base_sleep_until(gint64 deadline_us)
{
	struct timespec ts = {
	    .tv_sec = deadline_us / G_USEC_PER_SEC,
	    .tv_nsec = (deadline_us % G_USEC_PER_SEC) * 1000,
	};
	if (deadline_us <= 0)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		continue;
}

static gboolean
fu_dfu_core_base_control(FuDfuCoreBase *self,
			 const DfuProtoAction *action,
			 guint8 *buf,
			 gsize *actual_length,
			 GError **error)
{
	FuDfuCoreBasePrivate *priv = GET_PRIVATE(self);
	FuUsbDirection direction = action->kind == DFU_PROTO_ACTION_CONTROL_IN
				       ? FU_USB_DIRECTION_DEVICE_TO_HOST
				       : FU_USB_DIRECTION_HOST_TO_DEVICE;
	return fu_usb_device_control_transfer(FU_USB_DEVICE(self),
					      direction,
					      FU_USB_REQUEST_TYPE_CLASS,
					      FU_USB_RECIPIENT_INTERFACE,
					      action->request,
					      action->value,
					      priv->intf.interface_number,
					      buf,
					      action->length,
					      actual_length,
					      FU_DFU_CORE_CONTROL_TIMEOUT_MS,
					      NULL,
					      error);
}

/* a DfuSe download erases, then writes: a byte erased counts as much as a byte written */
static void
fu_dfu_core_base_session_progress(const DfuProtoSession *session, size_t *done, size_t *total)
{
	DfuProtoDfuseProgress dfuse = {0};

	dfu_proto_session_get_dfuse_progress(session, &dfuse);
	if (dfuse.phase == DFU_PROTO_DFUSE_PHASE_NONE) {
		dfu_proto_session_get_progress(session, done, total);
		return;
	}
	*done = dfuse.erase_bytes_done + dfuse.write_bytes_done;
	*total = dfuse.erase_bytes_total + dfuse.write_bytes_total;
}

/* progress is shown while the device is busy, when the host has nothing else to do, or at
 * least every this many transfers for a device that never asks for a wait */
#define FU_DFU_CORE_PROGRESS_TRANSFERS_MAX 16

static void
fu_dfu_core_base_show_progress(DfuProtoSession *session, FuProgress *progress)
{
	size_t done = 0;
	size_t total = 0;

	if (progress == NULL)
		return;
	fu_dfu_core_base_session_progress(session, &done, &total);
	if (total > 0)
		fu_progress_set_percentage_full(progress, done, total);
}

/**
 * fu_dfu_core_base_run:
 * @self: a device
 * @session: a session with an operation started
 * @started: what starting the operation returned
 * @image: (nullable): for a download, the image the session asks blocks of
 * @upload_func: (nullable): for an upload, receives the bytes
 * @upload_data: data for @upload_func
 * @progress: progress, set to the session's bytes done
 * @error: (nullable): optional return location for an error
 *
 * Executes the session's actions until it is done: control transfers, the waits the device
 * asks for (and no others), USB resets. An operation the session refused to start fails with
 * the session's message.
 *
 * Returns: %TRUE when the session ended in DONE
 **/
gboolean
fu_dfu_core_base_run(FuDfuCoreBase *self,
		     DfuProtoSession *session,
		     DfuProtoError started,
		     GInputStream *image,
		     FuDfuCoreUploadFunc upload_func,
		     gpointer upload_data,
		     FuProgress *progress,
		     GError **error)
{
	FuDfuCoreClock clock = {0};
	guint transfers_unshown = 0;
	g_autofree guint8 *buf = NULL;

	if (!fu_dfu_core_base_check_started(session, started, error))
		return FALSE;
	buf = g_malloc0(G_MAXUINT16 + 1);
	while (TRUE) {
		DfuProtoAction action = {0};
		gsize actual_length = 0;
		g_autoptr(GError) error_local = NULL;

		dfu_proto_session_next(session, fu_dfu_core_base_clock_now(&clock), &action);
		switch (action.kind) {
		case DFU_PROTO_ACTION_DONE:
			fu_dfu_core_base_show_progress(session, progress);
			return TRUE;
		case DFU_PROTO_ACTION_ERROR:
			return fu_proto_error_set(error,
						  FU_PROTO_CORE_DFU,
						  action.error,
						  action.message);
		case DFU_PROTO_ACTION_WAIT:
			fu_dfu_core_base_show_progress(session, progress);
			transfers_unshown = 0;
			/* a replayed device answers at once, as fu_device_sleep() knows */
			if (!fu_device_has_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_EMULATED))
				fu_dfu_core_base_sleep_until(
				    fu_dfu_core_base_clock_deadline_us(&clock, action.wait_ms));
			dfu_proto_session_feed(session,
					       PROTO_IO_OK,
					       NULL,
					       0,
					       fu_dfu_core_base_clock_reply(&clock, FALSE));
			continue;
		case DFU_PROTO_ACTION_USB_RESET:
			/* the device is expected to drop off the bus while resetting */
			if (!fu_usb_device_reset(FU_USB_DEVICE(self), &error_local))
				g_debug("reset: %s", error_local->message);
			dfu_proto_session_feed(session,
					       PROTO_IO_OK,
					       NULL,
					       0,
					       fu_dfu_core_base_clock_reply(&clock, FALSE));
			continue;
		case DFU_PROTO_ACTION_CONTROL_OUT:
			if (action.payload == DFU_PROTO_PAYLOAD_IMAGE) {
				if (image == NULL) {
					g_set_error_literal(error,
							    FWUPD_ERROR,
							    FWUPD_ERROR_INTERNAL,
							    "download without an image");
					return FALSE;
				}
				if (!fu_input_stream_read_safe(image,
							       buf,
							       G_MAXUINT16 + 1,
							       0x0,
							       action.image_offset,
							       action.length,
							       error))
					return FALSE;
			} else if (action.payload == DFU_PROTO_PAYLOAD_BYTES && action.length > 0) {
				memcpy(buf, action.bytes, action.length); /* nocheck:blocked */
			}
			break;
		case DFU_PROTO_ACTION_CONTROL_IN:
			break;
		default:
			return fu_proto_error_set_unknown_action(error, action.kind);
		}

		/* a control transfer */
		if (!fu_dfu_core_base_control(self, &action, buf, &actual_length, &error_local)) {
			g_debug("%s failed: %s",
				dfu_proto_request_to_string(action.request),
				error_local->message);
			dfu_proto_session_feed(session,
					       fu_proto_error_to_io(error_local),
					       NULL,
					       0,
					       fu_dfu_core_base_clock_reply(&clock, FALSE));
			continue;
		}
		if (action.kind == DFU_PROTO_ACTION_CONTROL_IN && upload_func != NULL &&
		    action.request == DFU_PROTO_REQUEST_UPLOAD &&
		    action.payload == DFU_PROTO_PAYLOAD_IMAGE) {
			if (!upload_func(buf,
					 MIN(actual_length, action.length),
					 action.image_offset,
					 upload_data,
					 error))
				return FALSE;
		}
		dfu_proto_session_feed(
		    session,
		    PROTO_IO_OK,
		    buf,
		    MIN(actual_length, action.length),
		    fu_dfu_core_base_clock_reply(&clock,
						 action.request == DFU_PROTO_REQUEST_GETSTATUS));
		if (++transfers_unshown >= FU_DFU_CORE_PROGRESS_TRANSFERS_MAX) {
			fu_dfu_core_base_show_progress(session, progress);
			transfers_unshown = 0;
		}
	}
}

static void
fu_dfu_core_base_init(FuDfuCoreBase *self)
{
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_WILL_DETACH);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_MANIFEST_TOL);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_ALLOW_RAW_IMAGE);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_NO_VERIFY);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_BOGUS_SET_ADDRESS);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_SILENT_AFTER_LEAVE);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_MASS_ERASE);
	fu_device_register_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_GD32);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UPDATABLE);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_UNSIGNED_PAYLOAD);
	fu_dfu_core_device_init_common(FU_DEVICE(self));
}

static gboolean
fu_dfu_core_base_setup(FuDevice *device, GError **error)
{
	if (!FU_DEVICE_CLASS(fu_dfu_core_base_parent_class)->setup(device, error))
		return FALSE;
	fu_dfu_core_ensure_name(device,
				fu_dfu_core_base_is_dfuse(FU_DFU_CORE_BASE(device)) ? "DfuSe device"
										    : "DFU device");
	return TRUE;
}

static void
fu_dfu_core_base_class_init(FuDfuCoreBaseClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	device_class->probe = fu_dfu_core_base_probe;
	device_class->setup = fu_dfu_core_base_setup;
	device_class->set_quirk_kv = fu_dfu_core_base_set_quirk_kv;
	device_class->to_string = fu_dfu_core_base_to_string;
	device_class->prepare_firmware = fu_dfu_core_base_prepare_firmware;
}
