/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-common.h"
#include "fu-proto-error.h"
#include "fu-sdk-common.h"

/*
 * What the USB CDC, UART and BLE bootloaders share: executing the core's actions over a
 * transport, the identity queries, the package checks and the order of images.
 */

/* the read buffer: a multiple of the full-speed bulk packet size */
#define FU_NORDIC_DFU_READ_SIZE 512

static guint64
fu_nordic_dfu_now_ms(void)
{
	return (guint64)(g_get_monotonic_time() / 1000);
}

gboolean
fu_nordic_dfu_read_error_is_gone(const GError *error,
				 FuDevice *device,
				 gint64 started_us,
				 guint timeout_ms)
{
	/* fu_io_channel_read_raw() reports a read of 0 bytes (a tty that hung up, a socket that
	 * closed with its link) as FWUPD_ERROR_TIMED_OUT at once, and POLLHUP or EIO as other
	 * errors: only a timeout that took its time is the device being silent */
	if (!g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT))
		return TRUE;
	/* an emulation replays a recorded timeout at once: it is always the silence */
	if (fu_device_has_flag(device, FWUPD_DEVICE_FLAG_EMULATED))
		return FALSE;
	return g_get_monotonic_time() - started_us < (gint64)timeout_ms * 1000;
}

/* what goes over @transport for the core's SEND @action: the request or packet as it is, or on
 * a serial link its SLIP frame, made in @frame of NRF_DFU_PROTO_MTU_MAX bytes */
static gboolean
fu_nordic_dfu_transport_frame(FuNordicDfuTransport *transport,
			      const NrfDfuProtoAction *action,
			      guint8 *frame,
			      const guint8 **bytes,
			      gsize *length,
			      GError **error)
{
	if (!transport->slip) {
		*bytes = action->bytes;
		*length = action->length;
		return TRUE;
	}
	*length = nrf_dfu_proto_serial_encode(action->channel,
					      action->bytes,
					      action->length,
					      frame,
					      NRF_DFU_PROTO_MTU_MAX);
	if (*length == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INTERNAL,
			    "%s does not fit in a frame",
			    nrf_dfu_proto_op_to_string(action->op));
		return FALSE;
	}
	*bytes = frame;
	return TRUE;
}

gboolean
fu_nordic_dfu_run_session(FuNordicDfuTransport *transport,
			  NrfDfuProtoSession *session,
			  FuProgress *progress,
			  GError **error)
{
	guint8 buf[FU_NORDIC_DFU_READ_SIZE] = {0};
	g_autofree guint8 *frame = transport->slip ? g_malloc(NRF_DFU_PROTO_MTU_MAX) : NULL;
	NrfDfuProtoSlipDecoder rx;

	nrf_dfu_proto_slip_decoder_init(&rx);
	while (TRUE) {
		NrfDfuProtoAction action = {0};
		gsize actual = 0;
		size_t done = 0;
		size_t total = 0;
		g_autoptr(GError) error_local = NULL;

		nrf_dfu_proto_session_next(session, fu_nordic_dfu_now_ms(), &action);
		switch (action.kind) {
		case NRF_DFU_PROTO_ACTION_DONE:
			return TRUE;
		case NRF_DFU_PROTO_ACTION_ERROR:
			return fu_proto_error_set(error,
						  FU_PROTO_CORE_NRF,
						  action.error,
						  action.message);
		case NRF_DFU_PROTO_ACTION_SEND: {
			const guint8 *bytes = NULL;
			gsize length = 0;
			if (!fu_nordic_dfu_transport_frame(transport,
							   &action,
							   frame,
							   &bytes,
							   &length,
							   error))
				return FALSE;
			if (!transport->write(transport->device,
					      action.channel,
					      bytes,
					      length,
					      MAX(action.timeout_ms, 1),
					      &error_local)) {
				g_debug("sending %s: %s",
					nrf_dfu_proto_op_to_string(action.op),
					error_local->message);
				nrf_dfu_proto_session_feed_sent(session,
								fu_proto_error_to_io(error_local),
								fu_nordic_dfu_now_ms());
				break;
			}
			nrf_dfu_proto_session_feed_sent(session,
							PROTO_IO_OK,
							fu_nordic_dfu_now_ms());
			break;
		}
		case NRF_DFU_PROTO_ACTION_RECEIVE:
			/* fwupd names a recorded IN transfer by the buffer it was given: the same
			 * buffer every time, so that emulation replays what it recorded */
			memset(buf, 0, sizeof(buf));
			if (!transport->read(transport->device,
					     buf,
					     sizeof(buf),
					     &actual,
					     MAX(action.timeout_ms, 1),
					     &error_local)) {
				nrf_dfu_proto_session_feed_received(
				    session,
				    fu_proto_error_to_io(error_local),
				    NULL,
				    0,
				    fu_nordic_dfu_now_ms());
				break;
			}
			if (transport->slip) {
				nrf_dfu_proto_serial_feed(&rx,
							  session,
							  PROTO_IO_OK,
							  buf,
							  actual,
							  fu_nordic_dfu_now_ms());
				break;
			}
			nrf_dfu_proto_session_feed_received(session,
							    PROTO_IO_OK,
							    buf,
							    actual,
							    fu_nordic_dfu_now_ms());
			break;
		default:
			return fu_proto_error_set_unknown_action(error, action.kind);
		}
		nrf_dfu_proto_session_get_progress(session, &done, &total);
		if (progress != NULL && total > 0)
			fu_progress_set_percentage_full(progress, done, total);
	}
}

static gboolean
fu_nordic_dfu_request(FuNordicDfuTransport *transport,
		      const NrfDfuProtoRequest *req,
		      NrfDfuProtoResponse *response,
		      GError **error)
{
	g_autofree NrfDfuProtoSession *session = g_new0(NrfDfuProtoSession, 1);

	nrf_dfu_proto_session_init(session);
	nrf_dfu_proto_session_start_request(session, req);
	if (!fu_nordic_dfu_run_session(transport, session, NULL, error))
		return FALSE;
	if (response != NULL)
		*response = session->response;
	return TRUE;
}

/* the nRF52 family's FICR part is 0x52xxx; the bootloader's default NRF_DFU_HW_VERSION is
 * the family number, 52 (pc-nrfutil --hw-version) */
static guint32
fu_nordic_dfu_family_from_part(guint32 part)
{
	return ((part >> 16) & 0xF) * 10 + ((part >> 12) & 0xF);
}

/* the variant is four ASCII characters in FICR INFO.VARIANT, e.g. 0x41414430 "AAD0" */
static gchar *
fu_nordic_dfu_variant_to_string(guint32 variant)
{
	gchar str[5] = {0};
	for (guint i = 0; i < 4; i++) {
		gchar c = (gchar)((variant >> (24 - 8 * i)) & 0xFF);
		if (!g_ascii_isalnum(c))
			return g_strdup_printf("%08X", variant);
		str[i] = c;
	}
	return g_strdup(str);
}

/* a class request to an interface, as the USB bootloader's CDC ACM and the application's DFU
 * trigger take them: given the time of a Secure DFU request's reply, and named in the error */
/* nocheck:name -- shared by device types of the plugin with no common parent class */
gboolean
fu_nordic_dfu_usb_class_request(FuUsbDevice *usb_device,
				FuUsbDirection direction,
				guint8 request,
				guint16 value,
				guint8 intf,
				guint8 *buf,
				gsize bufsz,
				gsize *actual,
				const gchar *name,
				GError **error)
{
	if (!fu_usb_device_control_transfer(usb_device,
					    direction,
					    FU_USB_REQUEST_TYPE_CLASS,
					    FU_USB_RECIPIENT_INTERFACE,
					    request,
					    value,
					    intf,
					    buf,
					    bufsz,
					    actual,
					    NRF_DFU_PROTO_TIMEOUT_REPLY_MS,
					    NULL,
					    error)) {
		g_prefix_error(error, "%s: ", name);
		return FALSE;
	}
	return TRUE;
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
static void
fu_nordic_dfu_add_identity(FuDevice *device, FuNordicDfuState *state)
{
	FuNordicDfuIdentity *id = &state->identity;
	g_autofree gchar *part = NULL;
	g_autofree gchar *variant = NULL;

	if (!id->has_hw)
		return;
	part = g_strdup_printf("%X", id->part);
	variant = fu_nordic_dfu_variant_to_string(id->variant);
	fu_device_add_instance_str(device, "PART", part);
	fu_device_add_instance_str(device, "VARIANT", variant);
	fu_device_build_instance_id(device, NULL, "NRFDFU", "PART", NULL);
	fu_device_build_instance_id(device, NULL, "NRFDFU", "PART", "VARIANT", NULL);
	if (id->hw_version == 0)
		id->hw_version = fu_nordic_dfu_family_from_part(id->part);
	if (fu_device_get_firmware_size_max(device) == 0 && id->rom_size != 0)
		fu_device_set_firmware_size_max(device, id->rom_size);
}

/* the FW version of each image (SDK 15+; older bootloaders say "opcode not supported") */
static gboolean
fu_nordic_dfu_read_versions(FuNordicDfuTransport *transport,
			    FuNordicDfuState *state,
			    GError **error)
{
	NrfDfuProtoResponse resp = {0};
	NrfDfuProtoRequest req = {0};
	g_autoptr(GError) error_local = NULL;

	state->bl_version = 0;
	state->sd_version = 0;
	state->app_version = 0;
	state->has_app_version = FALSE;
	for (guint8 image = NRF_DFU_PROTO_IMAGE_BOOTLOADER;
	     image <= NRF_DFU_PROTO_IMAGE_APPLICATION;
	     image++) {
		req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_FW_VERSION, .image = image};
		if (!fu_nordic_dfu_request(transport, &req, &resp, &error_local)) {
			if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED)) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return FALSE;
			}
			g_debug("no FW version: %s", error_local->message);
			g_clear_error(&error_local);
			break;
		}
		/* without a SoftDevice the application is image 1 (on_fw_version_request) */
		switch (resp.fw.type) {
		case NRF_DFU_PROTO_FW_TYPE_BOOTLOADER:
			state->bl_version = resp.fw.version;
			break;
		case NRF_DFU_PROTO_FW_TYPE_SOFTDEVICE:
			state->sd_version = resp.fw.version;
			break;
		case NRF_DFU_PROTO_FW_TYPE_APPLICATION:
			state->app_version = resp.fw.version;
			state->has_app_version = TRUE;
			break;
		default:
			break;
		}
	}
	return TRUE;
}

/* the application's version is the device's, as fwupd compares it with the release */
/* nocheck:name -- shared by device types of the plugin with no common parent class */
static void
fu_nordic_dfu_apply_versions(FuDevice *device, FuNordicDfuState *state)
{
	if (state->bl_version != 0)
		fu_device_set_version_bootloader_raw(device, state->bl_version);
	if (state->has_app_version)
		fu_device_set_version_raw(device, state->app_version);
}

gboolean
fu_nordic_dfu_setup(FuNordicDfuTransport *transport, FuNordicDfuState *state, GError **error)
{
	FuDevice *device = transport->device;
	NrfDfuProtoResponse resp = {0};
	NrfDfuProtoRequest req = {.op = NRF_DFU_PROTO_OP_PING};
	g_autoptr(GError) error_local = NULL;

	/* is anybody there: any answer will do, an error result included */
	if (!fu_device_has_private_flag(device, FU_NORDIC_DFU_FLAG_NO_PING) &&
	    !fu_nordic_dfu_request(transport, &req, &resp, &error_local)) {
		if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_clear_error(&error_local);
	}

	/* SDK 15+ answer HW and FW version; older ones say "opcode not supported" */
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_HW_VERSION};
	if (fu_nordic_dfu_request(transport, &req, &resp, &error_local)) {
		state->identity.has_hw = TRUE;
		state->identity.part = resp.hw.part;
		state->identity.variant = resp.hw.variant;
		state->identity.rom_size = resp.hw.rom_size;
		state->identity.ram_size = resp.hw.ram_size;
		state->identity.rom_page_size = resp.hw.rom_page_size;
	} else if (g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED)) {
		g_debug("no HW version: %s", error_local->message);
		g_clear_error(&error_local);
	} else {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	if (!fu_nordic_dfu_read_versions(transport, state, error))
		return FALSE;
	fu_nordic_dfu_add_identity(device, state);
	fu_nordic_dfu_apply_versions(device, state);
	return TRUE;
}

gboolean
fu_nordic_dfu_reload(FuNordicDfuTransport *transport, FuNordicDfuState *state, GError **error)
{
	if (!fu_nordic_dfu_read_versions(transport, state, error)) {
		g_prefix_error_literal(error, "reading the versions after the update: ");
		return FALSE;
	}
	fu_nordic_dfu_apply_versions(transport->device, state);
	return TRUE;
}

gboolean
fu_nordic_dfu_set_quirk_kv(FuNordicDfuState *state,
			   const gchar *key,
			   const gchar *value,
			   GError **error)
{
	if (g_strcmp0(key, FU_NORDIC_DFU_QUIRK_PRN) == 0)
		return fu_sdk_parse_quirk_u16(value, 0, &state->prn, error);
	if (g_strcmp0(key, FU_NORDIC_DFU_QUIRK_HW_VERSION) == 0)
		return fu_sdk_parse_quirk_u32(value,
					      1,
					      G_MAXUINT32,
					      &state->identity.hw_version,
					      error);
	if (g_strcmp0(key, FU_NORDIC_DFU_QUIRK_SD_ID) == 0)
		return fu_sdk_parse_quirk_u32(value, 1, G_MAXUINT16, &state->identity.sd_id, error);
	return fu_sdk_quirk_key_unsupported(error);
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
FuFirmware *
fu_nordic_dfu_prepare_firmware(FuDevice *device,
			       FuNordicDfuState *state,
			       GInputStream *stream,
			       FuFirmwareParseFlags flags,
			       GError **error)
{
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_firmware_new();
	g_autoptr(GPtrArray) images = NULL;

	if (!fu_firmware_parse_stream(firmware, stream, 0x0, flags, error))
		return NULL;
	state->identity.size_max = fu_device_get_firmware_size_max(device);

	/* every image is checked against the device before anything is sent */
	images = fu_nordic_dfu_firmware_get_images_ordered(FU_NORDIC_DFU_FIRMWARE(firmware));
	for (guint i = 0; i < images->len; i++) {
		FuNordicDfuImage *image = g_ptr_array_index(images, i);
		if (!fu_nordic_dfu_image_check_device(image, &state->identity, error))
			return NULL;
	}
	return g_steal_pointer(&firmware);
}

/*
 * Between two pings of a bootloader that is starting: far below the 13 s a SoftDevice and
 * bootloader update may take to come back, and long enough not to spin a core.
 */
#define FU_NORDIC_DFU_PING_RETRY_MS 100

/* after an image the bootloader resets; on a UART the port stays, so ask until it answers,
 * for @within_ms at most; @advice: what the user can do when it does not, or NULL for the last
 * answer's error alone */
static gboolean
fu_nordic_dfu_wait_for_bootloader(FuNordicDfuTransport *transport,
				  guint within_ms,
				  const gchar *advice,
				  GError **error)
{
	guint64 deadline = fu_nordic_dfu_now_ms() + within_ms;
	NrfDfuProtoRequest req = {.op = NRF_DFU_PROTO_OP_PING};

	while (TRUE) {
		g_autoptr(GError) error_local = NULL;
		if (fu_nordic_dfu_request(transport, &req, NULL, &error_local) ||
		    g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED))
			return TRUE;
		if (fu_nordic_dfu_now_ms() >= deadline) {
			if (advice == NULL) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return FALSE;
			}
			g_propagate_prefixed_error(
			    error,
			    g_steal_pointer(&error_local),
			    "the bootloader did not come back within %u ms; %s: ",
			    within_ms,
			    advice);
			return FALSE;
		}
		/* a port that fails at once (still closed while the board resets) is not
		 * asked again in a tight loop */
		fu_device_sleep(transport->device, FU_NORDIC_DFU_PING_RETRY_MS);
	}
}

guint
fu_nordic_dfu_back_within_ms(FuNordicDfuState *state)
{
	if (state->last_type == FU_NORDIC_DFU_FW_TYPE_APPLICATION ||
	    state->last_type == FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION)
		return FU_NORDIC_DFU_APP_START_MS;
	return FU_NORDIC_DFU_REENUMERATE_MS;
}

gboolean
fu_nordic_dfu_wait_after_update(FuNordicDfuTransport *transport,
				FuNordicDfuState *state,
				GError **error)
{
	return fu_nordic_dfu_wait_for_bootloader(transport,
						 fu_nordic_dfu_back_within_ms(state),
						 NULL,
						 error);
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
void
fu_nordic_dfu_set_unverified(FuDevice *device, FuNordicDfuUnverified *unverified, const gchar *why)
{
	g_warning("%s", why);
	unverified->pending = TRUE;
	if (!fu_device_has_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK)) {
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
		unverified->skip_version_check_set = TRUE;
	}
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
gboolean
fu_nordic_dfu_emit_unverified(FuDevice *device,
			      FuNordicDfuUnverified *unverified,
			      FuProgress *progress,
			      GError **error)
{
	g_autofree gchar *msg = NULL;

	if (!unverified->pending)
		return TRUE;
	unverified->pending = FALSE;
	msg = g_strdup_printf("The update of %s is done: the bootloader validated and started the "
			      "new firmware, but its version could not be read back, as neither "
			      "the bootloader nor an application this plugin can talk to reported "
			      "it after the reset. Check the version the firmware reports itself.",
			      fu_device_get_name(device));
	return fu_sdk_emit_post_request(device,
					progress,
					FU_NORDIC_DFU_REQUEST_ID_VERSION_UNVERIFIED,
					msg,
					error);
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
void
fu_nordic_dfu_clear_unverified(FuDevice *device, FuNordicDfuUnverified *unverified)
{
	unverified->pending = FALSE;
	if (unverified->skip_version_check_set) {
		fu_device_remove_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
		unverified->skip_version_check_set = FALSE;
	}
}

/* fwupd 2.0 skips reload and cleanup for a device with will-disappear, but still compares
 * the version of the device it holds (the old one, or one that is still listed for a moment)
 * with the release's: the update is done, unverified */
/* nocheck:name -- shared by device types of the plugin with no common parent class */
gboolean
fu_nordic_dfu_skip_wait_after_update(FuDevice *device)
{
	if (!fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WILL_DISAPPEAR))
		return FALSE;
	g_info("will-disappear: not waiting for the device to come back, version unchecked");
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_INSTALL_SKIP_VERSION_CHECK);
	return TRUE;
}

/* the device went away while the image's final execute was sent or awaited its answer: the
 * answer is the bootloader's only word that it validated and activated the image */
static gboolean
fu_nordic_dfu_session_lost_final_execute(const NrfDfuProtoSession *session)
{
	return session->phase == NRF_DFU_PROTO_PHASE_FAILED &&
	       session->error == NRF_DFU_PROTO_ERROR_NO_DEVICE &&
	       session->pending_op == NRF_DFU_PROTO_OP_EXECUTE &&
	       session->object == NRF_DFU_PROTO_OBJECT_DATA && session->image_len > 0 &&
	       session->obj_start + session->obj_size >= session->image_len;
}

gboolean
fu_nordic_dfu_write_firmware(FuNordicDfuTransport *transport,
			     FuNordicDfuState *state,
			     FuFirmware *firmware,
			     gboolean wait_in_place,
			     FuProgress *progress,
			     GError **error)
{
	FuDevice *device = transport->device;
	g_autoptr(GPtrArray) images =
	    fu_nordic_dfu_firmware_get_images_ordered(FU_NORDIC_DFU_FIRMWARE(firmware));
	g_autofree NrfDfuProtoSession *session = g_new0(NrfDfuProtoSession, 1);

	if (state->images_done >= images->len)
		state->images_done = 0;
	/* a new update starts without what the last one decided about its ending */
	if (state->images_done == 0)
		fu_nordic_dfu_clear_unverified(device, &state->unverified);
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_set_steps(progress, images->len - state->images_done);
	while (state->images_done < images->len) {
		FuNordicDfuImage *image = g_ptr_array_index(images, state->images_done);
		GBytes *dat = fu_nordic_dfu_image_get_init_packet(image);
		g_autoptr(GBytes) bin = NULL;

		bin = fu_firmware_get_bytes(FU_FIRMWARE(image), error);
		if (bin == NULL)
			return FALSE;
		g_info("writing %s image %u of %u (%" G_GSIZE_FORMAT " bytes)",
		       fu_nordic_dfu_image_get_manifest_key(image),
		       state->images_done + 1,
		       images->len,
		       g_bytes_get_size(bin));
		nrf_dfu_proto_session_init(session);
		session->packet_size = state->packet_size;
		session->byte_us = state->byte_us;
		nrf_dfu_proto_session_start_transfer(
		    session,
		    g_bytes_get_data(dat, NULL),
		    g_bytes_get_size(dat),
		    g_bytes_get_data(bin, NULL),
		    g_bytes_get_size(bin),
		    state->prn,
		    !fu_device_has_private_flag(device, FU_NORDIC_DFU_FLAG_NO_PING));
		state->final_execute_unanswered = FALSE;
		if (!fu_nordic_dfu_run_session(transport,
					       session,
					       fu_progress_get_child(progress),
					       error)) {
			state->final_execute_unanswered =
			    fu_nordic_dfu_session_lost_final_execute(session);
			g_prefix_error(error,
				       "%s image: ",
				       fu_nordic_dfu_image_get_manifest_key(image));
			return FALSE;
		}
		g_debug("%s: %u objects, %u writes, %u PRN checks, %u restarts, resumed at %u",
			fu_nordic_dfu_image_get_manifest_key(image),
			session->stats.objects_executed,
			session->stats.writes,
			session->stats.prn_checks,
			session->stats.restarts,
			(guint)session->stats.resumed_data_offset);
		state->images_done++;
		fu_progress_step_done(progress);
		if (state->images_done == images->len) {
			state->last_type = fu_nordic_dfu_image_get_fw_type(image);
			state->last_fw_version = fu_nordic_dfu_image_get_fw_version(image);
			break;
		}

		/* the bootloader resets after activating the image and comes back */
		if (wait_in_place) {
			if (!fu_nordic_dfu_wait_for_bootloader(
				transport,
				FU_NORDIC_DFU_REENUMERATE_MS,
				"reset the device and run the update again to write the remaining "
				"images",
				error))
				return FALSE;
			continue;
		}
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_ANOTHER_WRITE_REQUIRED);
		fu_device_add_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
		return TRUE;
	}
	state->images_done = 0;
	return TRUE;
}

void
fu_nordic_dfu_to_string(FuNordicDfuState *state, guint idt, GString *str)
{
	FuNordicDfuIdentity *id = &state->identity;
	if (id->has_hw) {
		fwupd_codec_string_append_hex(str, idt, "Part", id->part);
		fwupd_codec_string_append_hex(str, idt, "Variant", id->variant);
		fwupd_codec_string_append_hex(str, idt, "RomSize", id->rom_size);
		fwupd_codec_string_append_hex(str, idt, "RamSize", id->ram_size);
		fwupd_codec_string_append_hex(str, idt, "RomPageSize", id->rom_page_size);
	}
	fwupd_codec_string_append_int(str, idt, "HwVersion", id->hw_version);
	fwupd_codec_string_append_hex(str, idt, "SdId", id->sd_id);
	fwupd_codec_string_append_hex(str, idt, "SdVersion", state->sd_version);
	fwupd_codec_string_append_int(str, idt, "Prn", state->prn);
	fwupd_codec_string_append_int(str, idt, "ImagesDone", state->images_done);
}

/* nocheck:name -- a FuDeviceClass vfunc, set by fu_nordic_dfu_device_class_add_vfuncs() */
gchar *
fu_nordic_dfu_convert_version(FuDevice *device, guint64 version_raw)
{
	return g_strdup_printf("%u", (guint)version_raw);
}

/* BLE and UART: every image is written in the one write_firmware, nothing re-enumerates */
/* nocheck:name -- a FuDeviceClass vfunc, set by fu_nordic_dfu_device_class_add_vfuncs() */
void
fu_nordic_dfu_set_progress_in_place(FuDevice *device, FuProgress *progress)
{
	fu_progress_set_id(progress, G_STRLOC);
	fu_progress_add_step(progress, FWUPD_STATUS_DECOMPRESSING, 0, "prepare-fw");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "detach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 98, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_RESTART, 0, "attach");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_BUSY, 2, "reload");
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
void
fu_nordic_dfu_init_updatable(FuDevice *device)
{
	fu_device_add_protocol(device, "com.nordic.securedfu");
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_UPDATABLE);
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_SIGNED_PAYLOAD);
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_ADD_COUNTERPART_GUIDS);
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_REPLUG_MATCH_GUID);
	fu_device_set_firmware_gtype(device, FU_TYPE_NORDIC_DFU_FIRMWARE);
}

/* nocheck:name -- shared by device types of the plugin with no common parent class */
void
fu_nordic_dfu_init_device(FuDevice *device)
{
	fu_nordic_dfu_init_updatable(device);
	fu_device_set_version_format(device, FWUPD_VERSION_FORMAT_NUMBER);
	fu_device_add_flag(device, FWUPD_DEVICE_FLAG_IS_BOOTLOADER);
	/* its only request is a message after the update: generic, so that a client that shows
	 * only generic messages (fwupdmgr without a terminal) is still offered updates */
	fu_device_add_request_flag(device, FWUPD_REQUEST_FLAG_ALLOW_GENERIC_MESSAGE);
	fu_device_register_private_flag(device, FU_NORDIC_DFU_FLAG_NO_PING);
	fu_device_set_remove_delay(device, FU_NORDIC_DFU_REENUMERATE_MS);
}
