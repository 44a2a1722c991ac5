/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-device.h"
#include "fu-dfu-core-dfuse.h"
#include "fu-sdk-common.h"

/* A device in DFU mode (interface 0xFE/01/02): downloads, reads back, and returns to its
 * application with a USB reset once the new image is manifested. */

struct _FuDfuCoreDevice {
	FuDfuCoreBase parent_instance;
	/* the last download did not finish, or did not read back as written: the application
	 * in flash may be incomplete */
	gboolean download_incomplete;
	/* DfuSe: one memory per alt setting */
	GPtrArray *dfuse_targets;
	/* DfuSe: why the device's memory layout is refused; nothing is sent to it then */
	gchar *dfuse_refused;
	/* DfuSe: where the application starts, for leave */
	guint32 dfuse_leave_address;
	/* following the device into its new image while fwupd waits for the replug */
	FuSdkFollow follow;
	guint back_within_ms; /* what fwupd's replug wait allowed before the follow */
	gboolean verified;    /* the last download was read back and compared */
	gchar *ending;	      /* how the update ended, for the message */
};

G_DEFINE_TYPE(FuDfuCoreDevice, fu_dfu_core_device, FU_TYPE_DFU_CORE_BASE)

static gboolean
fu_dfu_core_device_probe(FuDevice *device, GError **error)
{
	g_autofree gchar *version_bootloader = NULL;

	if (!FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)->probe(device, error))
		return FALSE;

	/* in DFU mode bcdDevice is the bootloader's own release */
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_IS_BOOTLOADER);
	version_bootloader =
	    fu_version_from_uint16(fu_usb_device_get_release(FU_USB_DEVICE(device)),
				   FWUPD_VERSION_FORMAT_BCD);
	fu_device_set_version_bootloader(device, version_bootloader);
	if (fu_dfu_core_base_get_functional(FU_DFU_CORE_BASE(device))->attributes &
	    DFU_PROTO_ATTR_CAN_UPLOAD)
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_CAN_VERIFY_IMAGE);
	return TRUE;
}

static gboolean
fu_dfu_core_device_setup(FuDevice *device, GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	g_autoptr(GError) error_local = NULL;

	if (!FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)->setup(device, error))
		return FALSE;
	if (!fu_dfu_core_base_is_dfuse(FU_DFU_CORE_BASE(device)))
		return TRUE;
	g_clear_pointer(&self->dfuse_targets, g_ptr_array_unref);
	g_clear_pointer(&self->dfuse_refused, g_free);
	self->dfuse_targets =
	    fu_dfu_core_dfuse_read_targets(FU_DFU_CORE_BASE(device), &error_local);
	if (self->dfuse_targets != NULL)
		return TRUE;

	/* a layout that cannot be right (overlapping itself, past 4 GiB): the device stays
	 * listed, so that the user learns why it cannot be updated, and nothing is sent to it */
	if (g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_INVALID_DATA)) {
		self->dfuse_refused = g_strdup_printf(
		    "%s: the bootloader describes memory that cannot exist, so nothing is "
		    "erased, written or read; its firmware needs fixing",
		    error_local->message);
		fu_device_set_update_error(device, self->dfuse_refused);
		fu_device_remove_flag(device, FWUPD_DEVICE_FLAG_UPDATABLE);
		return TRUE;
	}
	g_propagate_error(error, g_steal_pointer(&error_local));
	return FALSE;
}

/* a DfuSe device whose layout was refused takes no firmware and gives none */
static gboolean
fu_dfu_core_device_check_refused(FuDfuCoreDevice *self, GError **error)
{
	if (self->dfuse_refused == NULL)
		return TRUE;
	g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED, self->dfuse_refused);
	return FALSE;
}

static void
fu_dfu_core_device_to_string(FuDevice *device, guint idt, GString *str)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);

	FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)->to_string(device, idt, str);
	for (guint i = 0; self->dfuse_targets != NULL && i < self->dfuse_targets->len; i++) {
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(self->dfuse_targets, i);
		g_autofree gchar *key = g_strdup_printf("DfuseAlt%u", target->alt_setting);
		g_autofree gchar *value = NULL;
		guint64 size = 0;
		for (guint j = 0; j < target->layout.group_count; j++)
			size +=
			    (guint64)target->layout.groups[j].count * target->layout.groups[j].size;
		value = g_strdup_printf("%s, %u sector groups, %" G_GUINT64_FORMAT " bytes",
					target->layout.name,
					target->layout.group_count,
					size);
		fwupd_codec_string_append(str, idt, key, value);
	}
}

static FuFirmware *
fu_dfu_core_device_prepare_firmware(FuDevice *device,
				    GInputStream *stream,
				    FuProgress *progress,
				    FuFirmwareParseFlags flags,
				    GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GPtrArray) jobs = NULL;

	if (!fu_dfu_core_device_check_refused(self, error))
		return NULL;
	firmware = FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)
		       ->prepare_firmware(device, stream, progress, flags, error);
	if (firmware == NULL)
		return NULL;

	/* a DfuSe image must fit writable memory before the device is touched */
	if (self->dfuse_targets != NULL) {
		jobs = fu_dfu_core_dfuse_jobs_new(self->dfuse_targets, firmware, error);
		if (jobs == NULL)
			return NULL;
	}
	return g_steal_pointer(&firmware);
}

static gboolean
fu_dfu_core_device_write_dfuse(FuDfuCoreDevice *self,
			       FuFirmware *firmware,
			       FuProgress *progress,
			       GError **error)
{
	FuDfuCoreBase *base = FU_DFU_CORE_BASE(self);
	gboolean verify =
	    (fu_dfu_core_base_get_functional(base)->attributes & DFU_PROTO_ATTR_CAN_UPLOAD) &&
	    !fu_device_has_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_NO_VERIFY);
	FuDfuCoreDfuseJob *job0;
	g_autoptr(GPtrArray) jobs = NULL;

	jobs = fu_dfu_core_dfuse_jobs_new(self->dfuse_targets, firmware, error);
	if (jobs == NULL)
		return FALSE;
	if (jobs->len == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "firmware holds no data");
		return FALSE;
	}

	/* the application starts where the image for the first memory does */
	job0 = g_ptr_array_index(jobs, 0);
	self->dfuse_leave_address = job0->first_address;
	for (guint i = 0; i < jobs->len; i++) {
		FuDfuCoreDfuseJob *job = g_ptr_array_index(jobs, i);
		if (job->target->alt_setting == 0 && job->elements->len > 0)
			self->dfuse_leave_address = job->first_address;
	}

	self->download_incomplete = TRUE;
	self->verified = FALSE;
	if (!fu_dfu_core_dfuse_write(base, jobs, verify, progress, error))
		return FALSE;
	self->download_incomplete = FALSE;
	self->verified = verify;
	return TRUE;
}

static gboolean
fu_dfu_core_device_upload(FuDfuCoreDevice *self,
			  gsize max_bytes,
			  FuDfuCoreUploadFunc upload_func,
			  gpointer upload_data,
			  FuProgress *progress,
			  GError **error)
{
	FuDfuCoreBase *base = FU_DFU_CORE_BASE(self);
	DfuProtoSession session;

	fu_dfu_core_base_session_init(base, &session);
	return fu_dfu_core_base_run(base,
				    &session,
				    dfu_proto_session_start_upload(&session, max_bytes, 0),
				    NULL,
				    upload_func,
				    upload_data,
				    progress,
				    error);
}

static gboolean
fu_dfu_core_device_verify(FuDfuCoreDevice *self,
			  GInputStream *stream,
			  gsize size,
			  FuProgress *progress,
			  GError **error)
{
	FuDfuCoreVerify helper = {.expected = stream};

	if (!fu_dfu_core_device_upload(self,
				       size,
				       fu_dfu_core_verify_cb,
				       &helper,
				       progress,
				       error)) {
		g_prefix_error_literal(error, "failed to read back the firmware: ");
		return FALSE;
	}
	if (helper.received < size) {
		g_set_error(
		    error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_WRITE,
		    "read back %" G_GSIZE_FORMAT " bytes of the %" G_GSIZE_FORMAT
		    " written: the device did not keep the whole image; try the update again",
		    helper.received,
		    size);
		return FALSE;
	}
	return TRUE;
}

/*
 * After the device accepted the whole image it resets into it. It comes back as something
 * this plugin talks to (the runtime, the application the quirk names, DFU mode again), which
 * replaces it and ends fwupd's replug wait; or as an application this plugin knows nothing
 * of, or not at all. Then the update is done all the same: the plugin ends the wait itself
 * and says the version was not read back.
 */

/* from the end of the download, or the reset or leave, to the device leaving the bus: a
 * device that manifests by resetting is given the time of a control transfer */
#define FU_DFU_CORE_DEVICE_LEAVE_MS FU_DFU_CORE_CONTROL_TIMEOUT_MS
/* what fwupd's replug wait allows beyond the follow's own bounds */
#define FU_DFU_CORE_DEVICE_FOLLOW_MARGIN_MS 2000

/* nothing of this plugin's came back: an application with no DFU interface that no quirk
 * names, or none with USB, runs the image the device accepted */
static void
fu_dfu_core_device_follow_gone_cb(FuSdkFollow *follow)
{
	g_info("nothing this plugin can talk to came back within %u ms of the device leaving "
	       "DFU mode",
	       follow->back_within_ms);
	fu_device_add_flag(follow->device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
}

/* fwupd waits for the replug for the remove delay; the follow ends the wait before it does
 * when nothing will come */
static void
fu_dfu_core_device_follow_reset(FuDfuCoreDevice *self, const gchar *ending)
{
	FuDevice *device = FU_DEVICE(self);

	if (self->back_within_ms == 0)
		self->back_within_ms = fu_device_get_remove_delay(device);
	g_free(self->ending);
	self->ending = g_strdup(ending);
	fu_sdk_follow_start(&self->follow,
			    FU_DFU_CORE_DEVICE_LEAVE_MS,
			    self->back_within_ms,
			    FU_DFU_CORE_DEVICE_FOLLOW_MARGIN_MS);
}

/* off the bus for good after the update: attach and reload have nothing to open */
static gboolean
fu_dfu_core_device_open(FuDevice *device, GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	if (self->follow.gone)
		return TRUE;
	return FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)->open(device, error);
}

static gboolean
fu_dfu_core_device_close(FuDevice *device, GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	if (self->follow.gone)
		return TRUE;
	return FU_DEVICE_CLASS(fu_dfu_core_device_parent_class)->close(device, error);
}

/* when nothing came back, what fwupd's clients are told instead of a version, in the last
 * phase of the update */
static gboolean
fu_dfu_core_device_cleanup(FuDevice *device,
			   FuProgress *progress,
			   FwupdInstallFlags flags,
			   GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	g_autofree gchar *why = NULL;

	if (!self->follow.gone)
		return TRUE;
	why = g_strdup_printf("the device took the whole image%s, %s, and nothing this plugin "
			      "can talk to came back within %u ms (an application with no DFU "
			      "interface that no quirk names, or none with USB)",
			      self->verified ? " and read it back unchanged" : "",
			      self->ending,
			      self->back_within_ms);
	fu_dfu_core_emit_not_read_back(device, progress, why);
	return TRUE;
}

static gboolean
fu_dfu_core_device_write_firmware(FuDevice *device,
				  FuFirmware *firmware,
				  FuProgress *progress,
				  FwupdInstallFlags flags,
				  GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	FuDfuCoreBase *base = FU_DFU_CORE_BASE(device);
	const DfuProtoFunctional *functional = fu_dfu_core_base_get_functional(base);
	gboolean verify = (functional->attributes & DFU_PROTO_ATTR_CAN_UPLOAD) &&
			  (functional->attributes & DFU_PROTO_ATTR_MANIFESTATION_TOLERANT) &&
			  !fu_device_has_private_flag(device, FU_DFU_CORE_FLAG_NO_VERIFY);
	DfuProtoSession session;
	gsize size = 0;
	g_autoptr(GInputStream) stream = NULL;

	if (!fu_dfu_core_device_check_refused(self, error))
		return FALSE;
	if (self->dfuse_targets != NULL)
		return fu_dfu_core_device_write_dfuse(self, firmware, progress, error);

	stream = fu_firmware_get_stream(firmware, error);
	if (stream == NULL)
		return FALSE;
	if (!fu_input_stream_size(stream, &size, error))
		return FALSE;

	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, verify ? 80 : 100, "write");
	if (verify)
		fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_VERIFY, 20, "verify");

	self->download_incomplete = TRUE;
	self->verified = FALSE;
	fu_dfu_core_base_session_init(base, &session);
	if (!fu_dfu_core_base_run(base,
				  &session,
				  dfu_proto_session_start_download(&session, size, 0),
				  stream,
				  NULL,
				  NULL,
				  fu_progress_get_child(progress),
				  error)) {
		g_prefix_error_literal(error, "failed to write firmware: ");
		return FALSE;
	}
	fu_progress_step_done(progress);

	/* a device that is not manifestation tolerant has reset itself into the new image */
	if ((functional->attributes & DFU_PROTO_ATTR_MANIFESTATION_TOLERANT) == 0) {
		self->download_incomplete = FALSE;
		fu_dfu_core_device_follow_reset(self, "started manifesting it, and reset");
		return TRUE;
	}
	if (verify) {
		if (!fu_dfu_core_device_verify(self,
					       stream,
					       size,
					       fu_progress_get_child(progress),
					       error))
			return FALSE;
		self->verified = TRUE;
		fu_progress_step_done(progress);
	}
	self->download_incomplete = FALSE;
	return TRUE;
}

static gboolean
fu_dfu_core_device_attach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	g_autoptr(GError) error_local = NULL;

	/* already on its way back into the application, or gone into it */
	if (fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG) || self->follow.gone)
		return TRUE;

	/* stay in DFU mode, where the same update can be run again: the bootloader would not
	 * leave it for an incomplete image anyway, so there would be no re-enumeration */
	if (self->download_incomplete) {
		g_info("not leaving DFU mode: the last download did not complete or read back");
		return TRUE;
	}

	/* DfuSe: the device starts the application when told to leave */
	if (self->dfuse_targets != NULL) {
		guint32 address = self->dfuse_leave_address;
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(self->dfuse_targets, 0);
		if (address == 0 && target->layout.group_count > 0)
			address = target->layout.groups[0].address;
		if (!fu_dfu_core_dfuse_leave(FU_DFU_CORE_BASE(self), address, error)) {
			g_prefix_error_literal(error, "failed to leave DFU mode: ");
			return FALSE;
		}
		if (fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WILL_DISAPPEAR)) {
			g_autofree gchar *why = g_strdup_printf(
			    "the device took the whole image%s, then left DFU mode for an "
			    "application that is no DFU device, and fwupd shows no device until "
			    "the bootloader is started again",
			    self->verified ? " and read it back unchanged" : "");
			fu_dfu_core_emit_not_read_back(device, progress, why);
			return TRUE;
		}
		fu_dfu_core_device_follow_reset(self, "then left DFU mode for it");
		return TRUE;
	}

	/* DFU 1.1 section 6.1.4: a USB reset in dfuIDLE starts the (new) application */
	if (!fu_usb_device_reset(FU_USB_DEVICE(device), &error_local)) {
		if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND)) {
			g_propagate_prefixed_error(error,
						   g_steal_pointer(&error_local),
						   "failed to restart the device: ");
			return FALSE;
		}
		g_debug("device left during reset: %s", error_local->message);
	}
	fu_dfu_core_device_follow_reset(self, "said it was manifested, and was reset into it");
	return TRUE;
}

static GBytes *
fu_dfu_core_device_dump_firmware(FuDevice *device, FuProgress *progress, GError **error)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(device);
	guint64 size_max = fu_device_get_firmware_size_max(device);
	g_autoptr(GByteArray) buf = g_byte_array_new();

	if (!fu_dfu_core_device_check_refused(self, error))
		return NULL;
	if ((fu_dfu_core_base_get_functional(FU_DFU_CORE_BASE(device))->attributes &
	     DFU_PROTO_ATTR_CAN_UPLOAD) == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "device cannot upload (bitCanUpload is not set)");
		return NULL;
	}
	if (self->dfuse_targets != NULL) {
		return fu_dfu_core_dfuse_dump(FU_DFU_CORE_BASE(device),
					      g_ptr_array_index(self->dfuse_targets, 0),
					      progress,
					      error);
	}
	if (!fu_dfu_core_device_upload(FU_DFU_CORE_DEVICE(device),
				       size_max > 0 ? size_max : FU_DFU_CORE_UPLOAD_MAX,
				       fu_dfu_core_upload_append_cb,
				       buf,
				       progress,
				       error))
		return NULL;
	return g_bytes_new(buf->data, buf->len);
}

static void
fu_dfu_core_device_set_progress(FuDevice *device, FuProgress *progress)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DECOMPRESSING, 0, "prepare-fw");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "detach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 92, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 4, "attach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_BUSY, 4, "reload");
}

static void
fu_dfu_core_device_init(FuDfuCoreDevice *self)
{
	/* a device left in DFU mode (an update cut short) is still the runtime device for the
	 * firmware published for it, so that the same update can complete it */
	fu_device_add_private_flag(FU_DEVICE(self), FU_DEVICE_PRIVATE_FLAG_COUNTERPART_VISIBLE);
	self->follow.device = FU_DEVICE(self);
	self->follow.who = "the device";
	self->follow.left = "the device left DFU mode";
	self->follow.gone_func = fu_dfu_core_device_follow_gone_cb;
}

static void
fu_dfu_core_device_finalize(GObject *object)
{
	FuDfuCoreDevice *self = FU_DFU_CORE_DEVICE(object);
	fu_sdk_follow_stop(&self->follow);
	g_free(self->ending);
	g_free(self->dfuse_refused);
	if (self->dfuse_targets != NULL)
		g_ptr_array_unref(self->dfuse_targets);
	G_OBJECT_CLASS(fu_dfu_core_device_parent_class)->finalize(object);
}

static void
fu_dfu_core_device_class_init(FuDfuCoreDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	FuDfuCoreBaseClass *base_class = FU_DFU_CORE_BASE_CLASS(klass);
	base_class->interface_protocol = DFU_PROTO_INTERFACE_PROTOCOL_DFU;
	object_class->finalize = fu_dfu_core_device_finalize;
	device_class->probe = fu_dfu_core_device_probe;
	device_class->setup = fu_dfu_core_device_setup;
	device_class->to_string = fu_dfu_core_device_to_string;
	device_class->prepare_firmware = fu_dfu_core_device_prepare_firmware;
	device_class->write_firmware = fu_dfu_core_device_write_firmware;
	device_class->attach = fu_dfu_core_device_attach;
	device_class->open = fu_dfu_core_device_open;
	device_class->close = fu_dfu_core_device_close;
	device_class->cleanup = fu_dfu_core_device_cleanup;
	device_class->dump_firmware = fu_dfu_core_device_dump_firmware;
	device_class->set_progress = fu_dfu_core_device_set_progress;
}
