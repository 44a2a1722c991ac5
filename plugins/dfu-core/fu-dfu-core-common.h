/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "dfu-proto.h"

#define FU_DFU_CORE_INTERFACE_SUBCLASS	       DFU_PROTO_INTERFACE_SUBCLASS
#define FU_DFU_CORE_INTERFACE_PROTOCOL_RUNTIME DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME
#define FU_DFU_CORE_INTERFACE_PROTOCOL_DFU     DFU_PROTO_INTERFACE_PROTOCOL_DFU

/* quirk keys, documented in README.md */
#define FU_DFU_CORE_QUIRK_TRANSFER_SIZE	    "DfuCoreTransferSize"
#define FU_DFU_CORE_QUIRK_DETACH_TIMEOUT    "DfuCoreDetachTimeout"
#define FU_DFU_CORE_QUIRK_BUSY_TIMEOUT	    "DfuCoreBusyTimeout"
#define FU_DFU_CORE_QUIRK_MIN_POLL_INTERVAL "DfuCoreMinPollInterval"

/* the message after an update whose version was not read back */
#define FU_DFU_CORE_REQUEST_ID_NOT_READ_BACK "org.usb.dfu.version-not-read-back"

/* private flags, settable from quirks */
#define FU_DFU_CORE_FLAG_ALLOW_RAW_IMAGE	  "allow-raw-image"
#define FU_DFU_CORE_FLAG_NO_VERIFY		  "no-verify"
#define FU_DFU_CORE_FLAG_WILL_DETACH		  "will-detach"
#define FU_DFU_CORE_FLAG_MANIFEST_TOL		  "manifestation-tolerant"
#define FU_DFU_CORE_FLAG_DFUSE_BOGUS_SET_ADDRESS  "dfuse-bogus-set-address-timeout"
#define FU_DFU_CORE_FLAG_DFUSE_SILENT_AFTER_LEAVE "dfuse-silent-after-leave"
#define FU_DFU_CORE_FLAG_DFUSE_MASS_ERASE	  "dfuse-mass-erase"
#define FU_DFU_CORE_FLAG_GD32			  "gd32"

/*
 * The most a dump (fwupdtool firmware-dump) reads from a device: 16 MiB, four times the largest
 * internal flash of the parts this plugin knows (an STM32U5: 4 MiB) and the same figure as the
 * largest Intel HEX span taken. Full-speed USB carries at most nineteen 64-byte control packets
 * a 1 ms frame (1.2 MB/s), so 16 MiB take at least 14 s; the 4 GiB a 32-bit layout can claim
 * would take an hour and as much memory. A DFU 1.1 device that never ends its upload with a
 * short block stops here (or at its FirmwareSizeMax); a DfuSe layout claiming more readable
 * memory than this is refused before anything is read.
 */
#define FU_DFU_CORE_UPLOAD_MAX (16 * 1024 * 1024)

/*
 * USB 2.0 section 9.2.6.4: a device completes a control request with a data stage within
 * 5 s. A DFU device that is busy says so through bwPollTimeout instead of holding the bus.
 */
#define FU_DFU_CORE_CONTROL_TIMEOUT_MS 5000

/*
 * Linux usbfs refuses a control transfer with more than 4096 bytes of data, so a larger
 * wTransferSize (up to 65535 in the descriptor) could never be sent: blocks are capped here.
 * Real DfuSe parts use 2048; fwupd's dfu plugin also uses 4096 at most.
 */
#define FU_DFU_CORE_TRANSFER_SIZE_MAX 4096

/* receives uploaded bytes in order, @offset counting from the start of the upload */
typedef gboolean (*FuDfuCoreUploadFunc)(const guint8 *buf,
					gsize bufsz,
					gsize offset,
					gpointer user_data,
					GError **error);

/* an FuDfuCoreUploadFunc that appends to a GByteArray */
gboolean
fu_dfu_core_upload_append_cb(const guint8 *buf,
			     gsize bufsz,
			     gsize offset,
			     gpointer user_data,
			     GError **error);

/* compares the upload with what was written, a block at a time, without a copy of either */
typedef struct {
	GInputStream *expected;
	guint32 address; /* of the first byte, for messages */
	gsize received;
} FuDfuCoreVerify;

gboolean
fu_dfu_core_verify_cb(const guint8 *buf,
		      gsize bufsz,
		      gsize offset,
		      gpointer user_data,
		      GError **error);

/* what every device of this plugin is to fwupd, with or without a DFU interface */
void
fu_dfu_core_device_init_common(FuDevice *device);

/* the USB product string read by FuUsbDevice's setup, else a generic name */
void
fu_dfu_core_ensure_name(FuDevice *device, const gchar *fallback);

/* done, but the version the device now runs was not read back: said in the log and, as a
 * generic message, to the user; @progress may be NULL inside a phase fwupd gave a progress */
void
fu_dfu_core_emit_not_read_back(FuDevice *device, FuProgress *progress, const gchar *why);
