/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "fu-nordic-dfu-firmware.h"
#include "nrf-dfu-proto.h"

/* quirk keys, documented in README.md */
#define FU_NORDIC_DFU_QUIRK_BAUD_RATE	 "NordicDfuBaudRate"
#define FU_NORDIC_DFU_QUIRK_FLOW_CONTROL "NordicDfuFlowControl"
#define FU_NORDIC_DFU_QUIRK_PRN		 "NordicDfuPrn"
#define FU_NORDIC_DFU_QUIRK_HW_VERSION	 "NordicDfuHwVersion"
#define FU_NORDIC_DFU_QUIRK_SD_ID	 "NordicDfuSdId"

/* the request after an update whose version was not read back */
#define FU_NORDIC_DFU_REQUEST_ID_VERSION_UNVERIFIED                                                \
	"org.freedesktop.fwupd.nordic-dfu.version-unverified"

/* private flags */
#define FU_NORDIC_DFU_FLAG_NO_PING "no-ping"

/* the re-enumeration after an image that resets the bootloader: up to 13 s seen after a
 * SoftDevice+bootloader update (the SoftDevice is copied into place before the bootloader
 * runs again), plus margin */
#define FU_NORDIC_DFU_REENUMERATE_MS 15000

/* after an application image the bootloader copies nothing: it writes its settings, resets and
 * starts the application, which comes back (on USB, once enumerated) within fwupd's own
 * allowance for a device to re-enumerate; so does the bootloader if it does not start it */
#define FU_NORDIC_DFU_APP_START_MS FU_DEVICE_REMOVE_DELAY_RE_ENUMERATE

/* what fwupd's wait for the replug adds to the plugin's own follow of the reset, so that the
 * plugin, which knows what it saw, ends the wait first */
#define FU_NORDIC_DFU_FOLLOW_MARGIN_MS 5000

/* the bytes the executor moves; one implementation per transport */
typedef struct {
	FuDevice *device;
	/* a serial link (USB CDC ACM, UART): both channels go in one SLIP stream, so write gets
	 * whole SLIP frames and read returns bytes of the stream; else write gets the core's
	 * unframed requests and packets and read returns one response */
	gboolean slip;
	gboolean (*write)(FuDevice *device,
			  NrfDfuProtoChannel channel,
			  const guint8 *buf,
			  gsize bufsz,
			  guint timeout_ms,
			  GError **error);
	/* reads what has arrived (or one notification), waiting at most timeout_ms for the first
	 * byte; a timeout with nothing read is FWUPD_ERROR_TIMED_OUT */
	gboolean (*read)(FuDevice *device,
			 guint8 *buf,
			 gsize bufsz,
			 gsize *actual,
			 guint timeout_ms,
			 GError **error);
} FuNordicDfuTransport;

/* an update that is done but whose version was not read back: what is said after it, and what
 * is undone before the next (every bootloader device, and the BLE application that comes back
 * without a version of its own) */
typedef struct {
	/* done, but the version the device runs now was not read back: said after the wait */
	gboolean pending;
	/* the plugin, not a quirk, set install-skip-version-check for that update */
	gboolean skip_version_check_set;
} FuNordicDfuUnverified;

/* what every bootloader device (USB CDC, UART, BLE) keeps */
typedef struct {
	FuNordicDfuTransport transport;
	FuNordicDfuIdentity identity;
	guint16 prn;
	gsize packet_size; /* data bytes a packet carries, 0 for the device's MTU: BLE's link */
	guint32 byte_us;   /* the link's time for one byte, 0 for the core's default */
	guint images_done; /* images of the package written before the last re-enumeration */
	guint32 app_version;
	gboolean has_app_version;
	guint32 bl_version;
	guint32 sd_version;
	/* the last image of the last update: what the device does after its reset */
	FuNordicDfuFwType last_type;
	guint32 last_fw_version;
	/* the last write failed as the device went away with an image's final execute sent (or
	 * being sent) and not answered: whether it validated and activated the image is unknown */
	gboolean final_execute_unanswered;
	FuNordicDfuUnverified unverified;
} FuNordicDfuState;

/* a read of the device's FuIOChannel that began at @started_us failed with @error: TRUE when
 * the port or link is gone, FALSE when nothing came within @timeout_ms */
gboolean
fu_nordic_dfu_read_error_is_gone(const GError *error,
				 FuDevice *device,
				 gint64 started_us,
				 guint timeout_ms);
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
				GError **error);
gboolean
fu_nordic_dfu_run_session(FuNordicDfuTransport *transport,
			  NrfDfuProtoSession *session,
			  FuProgress *progress,
			  GError **error);
gboolean
fu_nordic_dfu_setup(FuNordicDfuTransport *transport, FuNordicDfuState *state, GError **error);
/* reads the versions again, from the device that came back after the update's last reset */
gboolean
fu_nordic_dfu_reload(FuNordicDfuTransport *transport, FuNordicDfuState *state, GError **error);
gboolean
fu_nordic_dfu_set_quirk_kv(FuNordicDfuState *state,
			   const gchar *key,
			   const gchar *value,
			   GError **error);
FuFirmware *
fu_nordic_dfu_prepare_firmware(FuDevice *device,
			       FuNordicDfuState *state,
			       GInputStream *stream,
			       FuFirmwareParseFlags flags,
			       GError **error);
/* writes the package's next image; returns with ANOTHER_WRITE_REQUIRED set when more follow
 * and the device re-enumerates in between (@wait_in_place FALSE), or waits for the same
 * bootloader to answer again (@wait_in_place TRUE, a UART) and goes on */
gboolean
fu_nordic_dfu_write_firmware(FuNordicDfuTransport *transport,
			     FuNordicDfuState *state,
			     FuFirmware *firmware,
			     gboolean wait_in_place,
			     FuProgress *progress,
			     GError **error);
/* after the last image on a port that stays (a UART): waits for the bootloader to answer
 * again once it has reset into the new image, at most fu_nordic_dfu_back_within_ms() */
gboolean
fu_nordic_dfu_wait_after_update(FuNordicDfuTransport *transport,
				FuNordicDfuState *state,
				GError **error);
/* how long after the activation reset of the last image the bootloader or the application
 * comes back, if it does */
guint
fu_nordic_dfu_back_within_ms(FuNordicDfuState *state);
/* the final execute was answered success: the bootloader validated and activated the image,
 * so the update is done, but nothing that came back can tell the version: fwupd's version
 * check is skipped and @why is logged, then said to the user after the update */
void
fu_nordic_dfu_set_unverified(FuDevice *device, FuNordicDfuUnverified *unverified, const gchar *why);
/* once fwupd has skipped its version check: the device is checked again next time */
void
fu_nordic_dfu_clear_unverified(FuDevice *device, FuNordicDfuUnverified *unverified);
/* after the wait (attach on a UART, on BLE and on the BLE application that came back, reload on
 * USB): the message of fu_nordic_dfu_set_unverified() for the client, as a request fwupdmgr and
 * fwupdtool show once the update is over */
gboolean
fu_nordic_dfu_emit_unverified(FuDevice *device,
			      FuNordicDfuUnverified *unverified,
			      FuProgress *progress,
			      GError **error);
/* after the last image: TRUE when a quirk set will-disappear on the device, which is then not
 * waited for; fwupd's version check is skipped too, as nothing reads the new version */
gboolean
fu_nordic_dfu_skip_wait_after_update(FuDevice *device);
void
fu_nordic_dfu_to_string(FuNordicDfuState *state, guint idt, GString *str);
void
fu_nordic_dfu_set_progress_in_place(FuDevice *device, FuProgress *progress);
/* what every device of the plugin is, application or bootloader: updatable with signed
 * packages of the protocol, and matched across the replug with its counterpart */
void
fu_nordic_dfu_init_updatable(FuDevice *device);
/* and what every bootloader device (USB CDC, UART, BLE) is besides */
void
fu_nordic_dfu_init_device(FuDevice *device);
gchar *
fu_nordic_dfu_convert_version(FuDevice *device, guint64 version_raw);
