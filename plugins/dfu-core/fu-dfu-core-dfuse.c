/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-dfuse.h"
#include "fu-dfu-core-firmware.h"

/*
 * STM32 DfuSe (AN3156, UM0424): every alt setting is a memory described by the layout string
 * of its iInterface. Firmware elements are matched to alt settings, checked against the
 * layouts before anything is erased, written by the core's plan (only the sectors the image
 * touches are erased, one set-address per contiguous run), read back, and the device is
 * told to leave DFU mode.
 */

/* fwupd's dfu plugin reads the GD32VF103 flash size from the third character of the serial
 * (after a two-byte chip ID): the bootloader's own layout string is wrong, its pages are 1 KiB */
static const struct {
	gchar code;
	guint pages;
} fu_dfu_core_dfuse_gd32_sizes[] = {
    {'2', 8},
    {'4', 16},
    {'6', 32},
    {'8', 64},
    {'B', 128},
    {'D', 256},
};

static void
fu_dfu_core_dfuse_job_free(FuDfuCoreDfuseJob *job)
{
	g_array_unref(job->elements);
	g_ptr_array_unref(job->chunks);
	if (job->data != NULL)
		g_byte_array_unref(job->data);
	g_clear_object(&job->stream);
	g_free(job);
}

static gchar *
fu_dfu_core_dfuse_gd32_layout(FuDfuCoreBase *self, GError **error)
{
	FuUsbDevice *usb = FU_USB_DEVICE(self);
	const guint8 *buf;
	gsize bufsz = 0;
	g_autoptr(GBytes) serial = NULL;

	/* the GD32VF103 serial string is UTF-8 in a UTF-16 descriptor: raw bytes */
	serial =
	    fu_usb_device_get_string_descriptor_bytes(usb,
						      fu_usb_device_get_serial_number_index(usb),
						      FU_USB_LANGID_ENGLISH_UNITED_STATES,
						      error);
	if (serial == NULL)
		return NULL;
	buf = g_bytes_get_data(serial, &bufsz);
	if (bufsz < 6 || buf[5] != 'J') {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "GD32 serial number does not code the flash size");
		return NULL;
	}
	for (guint i = 0; i < G_N_ELEMENTS(fu_dfu_core_dfuse_gd32_sizes); i++) {
		if (fu_dfu_core_dfuse_gd32_sizes[i].code == (gchar)buf[4]) {
			return g_strdup_printf("@Internal Flash  /0x08000000/%u*001Kg",
					       fu_dfu_core_dfuse_gd32_sizes[i].pages);
		}
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_NOT_SUPPORTED,
		    "unknown GD32 flash size code '%c' in the serial number",
		    buf[4]);
	return NULL;
}

/* the memory layout string of @alt: its interface string, or made up from a GD32's serial */
static gchar *
fu_dfu_core_dfuse_read_layout(FuDfuCoreBase *self, const DfuProtoAlt *alt, GError **error)
{
	if (alt->alt_setting == 0 &&
	    fu_device_has_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_GD32))
		return fu_dfu_core_dfuse_gd32_layout(self, error);
	if (alt->name_index == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "alt setting %u has no memory layout string",
			    alt->alt_setting);
		return NULL;
	}
	return fu_usb_device_get_string_descriptor(FU_USB_DEVICE(self), alt->name_index, error);
}

/**
 * fu_dfu_core_dfuse_read_targets:
 * @self: a device in DFU mode
 * @error: (nullable): optional return location for an error
 *
 * Reads and parses the memory layout of every alt setting. A layout string that does not
 * parse (malformed, overlapping itself, running past 4 GiB) is %FWUPD_ERROR_INVALID_DATA;
 * other failures (a string that cannot be read, no alt setting) are other codes.
 *
 * Returns: (transfer container) (element-type FuDfuCoreDfuseTarget): targets, or %NULL
 **/
GPtrArray *
fu_dfu_core_dfuse_read_targets(FuDfuCoreBase *self, GError **error)
{
	const DfuProtoInterface *intf = fu_dfu_core_base_get_interface(self);
	g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < intf->alt_count; i++) {
		const DfuProtoAlt *alt = &intf->alts[i];
		DfuProtoError rc;
		gchar msg[128] = {0};
		g_autofree gchar *str = NULL;
		g_autofree FuDfuCoreDfuseTarget *target = g_new0(FuDfuCoreDfuseTarget, 1);

		str = fu_dfu_core_dfuse_read_layout(self, alt, error);
		if (str == NULL) {
			g_prefix_error(error,
				       "failed to read the layout of alt setting %u: ",
				       alt->alt_setting);
			return NULL;
		}
		rc = dfu_proto_layout_parse(str, strlen(str), &target->layout, msg, sizeof(msg));
		if (rc != DFU_PROTO_ERROR_NONE) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_DATA,
				    "alt setting %u has an invalid memory layout \"%s\": %s",
				    alt->alt_setting,
				    str,
				    msg);
			return NULL;
		}
		target->alt_setting = alt->alt_setting;
		g_ptr_array_add(targets, g_steal_pointer(&target));
	}
	if (targets->len == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "DfuSe interface has no alt settings");
		return NULL;
	}
	return g_steal_pointer(&targets);
}

static gchar *
fu_dfu_core_dfuse_targets_to_string(GPtrArray *targets)
{
	g_autoptr(GString) str = g_string_new(NULL);
	for (guint i = 0; i < targets->len; i++) {
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(targets, i);
		if (str->len > 0)
			g_string_append(str, ", ");
		g_string_append_printf(str, "%u \"%s\"", target->alt_setting, target->layout.name);
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* the file's target number names the alt setting; a name that matches the layout's also does */
static const FuDfuCoreDfuseTarget *
fu_dfu_core_dfuse_find_target(GPtrArray *targets, FuFirmware *image, GError **error)
{
	const gchar *name = fu_firmware_get_id(image);
	g_autofree gchar *available = NULL;

	for (guint i = 0; i < targets->len; i++) {
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(targets, i);
		if (target->alt_setting == fu_firmware_get_idx(image))
			return target;
	}
	for (guint i = 0; name != NULL && i < targets->len; i++) {
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(targets, i);
		if (g_strcmp0(target->layout.name, name) == 0)
			return target;
	}
	available = fu_dfu_core_dfuse_targets_to_string(targets);
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_INVALID_FILE,
		    "firmware target %u \"%s\" matches no memory of this device (it has %s): "
		    "use the firmware built for this device",
		    (guint)fu_firmware_get_idx(image),
		    name != NULL ? name : "",
		    available);
	return NULL;
}

static FuDfuCoreDfuseJob *
fu_dfu_core_dfuse_job_for_target(GPtrArray *jobs, const FuDfuCoreDfuseTarget *target)
{
	FuDfuCoreDfuseJob *job;
	for (guint i = 0; i < jobs->len; i++) {
		job = g_ptr_array_index(jobs, i);
		if (job->target == target)
			return job;
	}
	job = g_new0(FuDfuCoreDfuseJob, 1);
	job->target = target;
	job->elements = g_array_new(FALSE, TRUE, sizeof(DfuProtoElement));
	job->chunks = g_ptr_array_new_with_free_func((GDestroyNotify)g_object_unref);
	job->data = g_byte_array_new();
	g_ptr_array_add(jobs, job);
	return job;
}

static gboolean
fu_dfu_core_dfuse_job_add(FuDfuCoreDfuseJob *job, guint32 address, GBytes *blob, GError **error)
{
	DfuProtoElement element = {0};
	gsize offset = 0;
	g_autoptr(FuChunk) chk = fu_chunk_bytes_new(blob);

	if (g_bytes_get_size(blob) == 0)
		return TRUE;
	if (g_bytes_get_size(blob) > G_MAXUINT32) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "firmware element larger than 4 GiB");
		return FALSE;
	}
	offset = job->data->len;
	if (job->elements->len == 0)
		job->first_address = address;
	element.address = address;
	element.length = g_bytes_get_size(blob);
	element.image_offset = offset;
	fu_chunk_set_address(chk, address);
	g_array_append_val(job->elements, element);
	g_ptr_array_add(job->chunks, g_steal_pointer(&chk));
	g_byte_array_append(job->data, g_bytes_get_data(blob, NULL), g_bytes_get_size(blob));
	return TRUE;
}

/* the core wants elements in address order, which a DfuSe file does not promise */
static void
fu_dfu_core_dfuse_job_finish(FuDfuCoreDfuseJob *job)
{
	g_autoptr(GBytes) data = g_bytes_new(job->data->data, job->data->len);

	/* the stream holds its own copy: the buffer it was built in is no longer needed */
	g_clear_pointer(&job->data, g_byte_array_unref);
	dfu_proto_dfuse_sort_elements((DfuProtoElement *)job->elements->data, job->elements->len);
	job->stream = g_memory_input_stream_new_from_bytes(data);
}

/**
 * fu_dfu_core_dfuse_jobs_new:
 * @targets: the device's memories
 * @firmware: a DfuSe file, or an image for the first memory (its address from Intel HEX,
 *   else the first writable sector of that memory)
 * @error: (nullable): optional return location for an error
 *
 * Matches the firmware to the memories and checks every element against their layouts:
 * nothing outside writable memory is ever erased or written.
 *
 * Returns: (transfer container) (element-type FuDfuCoreDfuseJob): jobs, or %NULL
 **/
GPtrArray *
fu_dfu_core_dfuse_jobs_new(GPtrArray *targets, FuFirmware *firmware, GError **error)
{
	g_autoptr(GPtrArray) jobs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fu_dfu_core_dfuse_job_free);

	if (FU_IS_DFUSE_FIRMWARE(firmware)) {
		g_autoptr(GPtrArray) images = fu_firmware_get_images(firmware);
		for (guint i = 0; i < images->len; i++) {
			FuFirmware *image = g_ptr_array_index(images, i);
			const FuDfuCoreDfuseTarget *target;
			FuDfuCoreDfuseJob *job;
			g_autoptr(GPtrArray) chunks = NULL;

			target = fu_dfu_core_dfuse_find_target(targets, image, error);
			if (target == NULL)
				return NULL;
			job = fu_dfu_core_dfuse_job_for_target(jobs, target);
			chunks = fu_firmware_get_chunks(image, error);
			if (chunks == NULL)
				return NULL;
			for (guint j = 0; j < chunks->len; j++) {
				FuChunk *chk = g_ptr_array_index(chunks, j);
				g_autoptr(GBytes) blob = fu_chunk_get_bytes(chk);
				if (fu_chunk_get_address(chk) > G_MAXUINT32) {
					g_set_error_literal(error,
							    FWUPD_ERROR,
							    FWUPD_ERROR_INVALID_FILE,
							    "firmware element address above 4 GiB");
					return NULL;
				}
				if (!fu_dfu_core_dfuse_job_add(job,
							       fu_chunk_get_address(chk),
							       blob,
							       error))
					return NULL;
			}
		}
	} else {
		const FuDfuCoreDfuseTarget *target = g_ptr_array_index(targets, 0);
		guint64 address = fu_firmware_get_addr(firmware);
		FuDfuCoreDfuseJob *job = fu_dfu_core_dfuse_job_for_target(jobs, target);
		g_autoptr(GBytes) blob = fu_firmware_get_bytes(firmware, error);

		if (blob == NULL)
			return NULL;
		/* an image without an address goes where the first memory becomes writable:
		 * sectors before it hold the bootloader; an address of 0 is an address */
		if (!fu_dfu_core_firmware_has_address(firmware)) {
			for (guint i = 0; i < target->layout.group_count; i++) {
				const DfuProtoSectorGroup *group = &target->layout.groups[i];
				if (group->access & DFU_PROTO_DFUSE_ACCESS_WRITE) {
					address = group->address;
					break;
				}
			}
		}
		if (address > G_MAXUINT32) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_INVALID_FILE,
					    "firmware address above 4 GiB");
			return NULL;
		}
		if (!fu_dfu_core_dfuse_job_add(job, address, blob, error))
			return NULL;
	}

	/* every element of every memory, before anything is erased */
	for (guint i = 0; i < jobs->len; i++) {
		FuDfuCoreDfuseJob *job = g_ptr_array_index(jobs, i);
		gchar msg[256] = {0};
		fu_dfu_core_dfuse_job_finish(job);
		if (job->elements->len == 0)
			continue;
		if (dfu_proto_dfuse_validate(&job->target->layout,
					     (const DfuProtoElement *)job->elements->data,
					     job->elements->len,
					     msg,
					     sizeof(msg)) != DFU_PROTO_ERROR_NONE) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "firmware does not fit the device's \"%s\" memory: %s",
				    job->target->layout.name,
				    msg);
			return NULL;
		}
	}
	return g_steal_pointer(&jobs);
}

static void
fu_dfu_core_dfuse_report_busy(const DfuProtoSession *session)
{
	const DfuProtoBusyStats *stats = dfu_proto_session_get_busy_stats(session);
	for (guint i = 0; i < DFU_PROTO_BUSY_OP_COUNT; i++) {
		const DfuProtoBusyStat *stat = &stats->ops[i];
		if (stat->count == 0)
			continue;
		g_info("%s: %u done, %u busy polls, longest %u ms (bound %u ms), total "
		       "%" G_GUINT64_FORMAT " ms",
		       dfu_proto_busy_op_to_string(i),
		       stat->count,
		       stat->polls,
		       stat->busy_max_ms,
		       stat->bound_ms,
		       stat->busy_total_ms);
	}
}

static gboolean
fu_dfu_core_dfuse_set_alt(FuDfuCoreBase *self, guint8 alt_setting, GError **error)
{
	if (!fu_usb_device_set_interface_alt(FU_USB_DEVICE(self),
					     fu_dfu_core_base_get_interface_number(self),
					     alt_setting,
					     error)) {
		g_prefix_error(error, "failed to select alt setting %u: ", alt_setting);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_dfu_core_dfuse_upload(FuDfuCoreBase *self,
			 const DfuProtoLayout *layout,
			 guint32 address,
			 gsize length,
			 FuDfuCoreUploadFunc upload_func,
			 gpointer upload_data,
			 FuProgress *progress,
			 GError **error)
{
	DfuProtoSession session;

	fu_dfu_core_base_session_init(self, &session);
	return fu_dfu_core_base_run(
	    self,
	    &session,
	    dfu_proto_session_start_dfuse_upload(&session, layout, address, length, 0),
	    NULL,
	    upload_func,
	    upload_data,
	    progress,
	    error);
}

static gboolean
fu_dfu_core_dfuse_verify_job(FuDfuCoreBase *self,
			     FuDfuCoreDfuseJob *job,
			     FuProgress *progress,
			     GError **error)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_set_steps(progress, job->chunks->len);
	for (guint i = 0; i < job->chunks->len; i++) {
		FuChunk *chk = g_ptr_array_index(job->chunks, i);
		gsize size = fu_chunk_get_data_sz(chk);
		guint32 address = fu_chunk_get_address(chk);
		g_autoptr(GBytes) blob = fu_chunk_get_bytes(chk);
		g_autoptr(GInputStream) expected = g_memory_input_stream_new_from_bytes(blob);
		FuDfuCoreVerify helper = {.expected = expected, .address = address};

		if (!dfu_proto_layout_range_has_access(&job->target->layout,
						       address,
						       size,
						       DFU_PROTO_DFUSE_ACCESS_READ)) {
			g_info("0x%08x+0x%x in \"%s\" cannot be read back",
			       address,
			       (guint)size,
			       job->target->layout.name);
			fu_progress_step_done(progress);
			continue;
		}
		if (!fu_dfu_core_dfuse_upload(self,
					      &job->target->layout,
					      address,
					      size,
					      fu_dfu_core_verify_cb,
					      &helper,
					      fu_progress_get_child(progress),
					      error)) {
			g_prefix_error(error, "failed to read back 0x%08x: ", address);
			return FALSE;
		}
		if (helper.received != size) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_WRITE,
				    "read back %" G_GSIZE_FORMAT " bytes of the %" G_GSIZE_FORMAT
				    " written at 0x%08x; try the update again",
				    helper.received,
				    size,
				    address);
			return FALSE;
		}
		fu_progress_step_done(progress);
	}
	return TRUE;
}

/**
 * fu_dfu_core_dfuse_write:
 * @self: a DfuSe device in DFU mode
 * @jobs: from fu_dfu_core_dfuse_jobs_new()
 * @verify: read every readable element back
 * @progress: progress
 * @error: (nullable): optional return location for an error
 *
 * Erases what the elements touch and writes them, memory by memory.
 *
 * Returns: %TRUE for success
 **/
gboolean
fu_dfu_core_dfuse_write(FuDfuCoreBase *self,
			GPtrArray *jobs,
			gboolean verify,
			FuProgress *progress,
			GError **error)
{
	guint flags = 0;

	if (fu_device_has_private_flag(FU_DEVICE(self), FU_DFU_CORE_FLAG_DFUSE_MASS_ERASE))
		flags |= DFU_PROTO_DFUSE_FLAG_MASS_ERASE;

	fu_progress_set_id(progress, G_STRLOC);
	for (guint i = 0; i < jobs->len; i++) {
		fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 80, "write");
		fu_progress_add_step(progress,
				     FWUPD_STATUS_DEVICE_VERIFY,
				     verify ? 20 : 0,
				     "verify");
	}
	for (guint i = 0; i < jobs->len; i++) {
		FuDfuCoreDfuseJob *job = g_ptr_array_index(jobs, i);
		DfuProtoSession session;
		DfuProtoError started;

		if (!fu_dfu_core_dfuse_set_alt(self, job->target->alt_setting, error))
			return FALSE;
		fu_dfu_core_base_session_init(self, &session);
		started = dfu_proto_session_start_dfuse_download(
		    &session,
		    &job->target->layout,
		    (const DfuProtoElement *)job->elements->data,
		    job->elements->len,
		    0,
		    flags);
		if (started != DFU_PROTO_ERROR_NONE) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_INVALID_FILE,
					    dfu_proto_session_get_message(&session));
			return FALSE;
		}
		if (!fu_dfu_core_base_run(self,
					  &session,
					  started,
					  job->stream,
					  NULL,
					  NULL,
					  fu_progress_get_child(progress),
					  error)) {
			fu_dfu_core_dfuse_report_busy(&session);
			g_prefix_error(error,
				       "failed to write the \"%s\" memory: ",
				       job->target->layout.name);
			return FALSE;
		}
		fu_dfu_core_dfuse_report_busy(&session);
		fu_progress_step_done(progress);

		if (verify) {
			if (!fu_dfu_core_dfuse_verify_job(self,
							  job,
							  fu_progress_get_child(progress),
							  error))
				return FALSE;
		}
		fu_progress_step_done(progress);
	}
	return TRUE;
}

/**
 * fu_dfu_core_dfuse_leave:
 * @self: a DfuSe device in DFU mode
 * @address: where the application starts
 * @error: (nullable): optional return location for an error
 *
 * Tells the device to leave DFU mode and start the application at @address.
 *
 * Returns: %TRUE for success
 **/
gboolean
fu_dfu_core_dfuse_leave(FuDfuCoreBase *self, guint32 address, GError **error)
{
	DfuProtoSession session;

	if (!fu_dfu_core_dfuse_set_alt(self, 0, error))
		return FALSE;
	fu_dfu_core_base_session_init(self, &session);
	return fu_dfu_core_base_run(self,
				    &session,
				    dfu_proto_session_start_dfuse_leave(&session, address),
				    NULL,
				    NULL,
				    NULL,
				    NULL,
				    error);
}

/**
 * fu_dfu_core_dfuse_dump:
 * @self: a DfuSe device in DFU mode
 * @target: a memory
 * @progress: progress
 * @error: (nullable): optional return location for an error
 *
 * Reads the readable memory from the start of @target's layout, up to the first gap or
 * unreadable sector; a layout claiming more than %FU_DFU_CORE_UPLOAD_MAX bytes there is
 * refused before anything is read.
 *
 * Returns: (transfer full): the contents, or %NULL
 **/
GBytes *
fu_dfu_core_dfuse_dump(FuDfuCoreBase *self,
		       const FuDfuCoreDfuseTarget *target,
		       FuProgress *progress,
		       GError **error)
{
	const DfuProtoLayout *layout = &target->layout;
	guint64 address;
	guint64 length = 0;
	g_autoptr(GByteArray) buf = g_byte_array_new();

	if (layout->group_count == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "memory has no sectors");
		return NULL;
	}
	address = layout->groups[0].address;
	for (guint i = 0; i < layout->group_count; i++) {
		const DfuProtoSectorGroup *group = &layout->groups[i];
		if (group->address != address + length ||
		    (group->access & DFU_PROTO_DFUSE_ACCESS_READ) == 0)
			break;
		length += (guint64)group->count * group->size;
	}
	if (length == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "\"%s\" memory cannot be read",
			    layout->name);
		return NULL;
	}
	if (length > FU_DFU_CORE_UPLOAD_MAX) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "\"%s\" claims %" G_GUINT64_FORMAT
			    " readable bytes from 0x%08x, more than the %u a dump reads "
			    "(four times the largest flash known): the device's memory layout "
			    "is wrong, so nothing was read",
			    layout->name,
			    length,
			    (guint)address,
			    (guint)FU_DFU_CORE_UPLOAD_MAX);
		return NULL;
	}
	if (!fu_dfu_core_dfuse_set_alt(self, target->alt_setting, error))
		return NULL;
	if (!fu_dfu_core_dfuse_upload(self,
				      layout,
				      address,
				      length,
				      fu_dfu_core_upload_append_cb,
				      buf,
				      progress,
				      error))
		return NULL;
	return g_bytes_new(buf->data, buf->len);
}
