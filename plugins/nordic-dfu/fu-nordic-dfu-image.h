/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

/* the init packet's FwType (fu-nordic-dfu-init.proto) */
typedef enum {
	FU_NORDIC_DFU_FW_TYPE_APPLICATION = 0,
	FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE = 1,
	FU_NORDIC_DFU_FW_TYPE_BOOTLOADER = 2,
	FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER = 3,
	FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION = 4,
} FuNordicDfuFwType;

/* sd_req values with a meaning of their own (pc-nrfutil: 0x00 for no SoftDevice) */
#define FU_NORDIC_DFU_SD_REQ_NONE 0x0000
#define FU_NORDIC_DFU_SD_REQ_ANY  0xFFFE

/* what the plugin knows of a device, for checking a package against it */
typedef struct {
	gboolean has_hw; /* HW version (0x0A) answered */
	guint32 part;
	guint32 variant;
	guint32 rom_size;
	guint32 ram_size;
	guint32 rom_page_size;
	guint32 hw_version; /* what the bootloader compares hw_version with, 0 unknown */
	guint32 sd_id;	    /* the SoftDevice's FWID for sd_req, 0 unknown */
	guint64 size_max;   /* flash the images may take, 0 unknown */
} FuNordicDfuIdentity;

#define FU_TYPE_NORDIC_DFU_IMAGE (fu_nordic_dfu_image_get_type())
G_DECLARE_FINAL_TYPE(FuNordicDfuImage, fu_nordic_dfu_image, FU, NORDIC_DFU_IMAGE, FuFirmware)

/* an image for the manifest entry @manifest_key (e.g. "application") */
FuNordicDfuImage *
fu_nordic_dfu_image_new(const gchar *manifest_key);
/* decodes a .dat init packet (signed or unsigned) into @self */
gboolean
fu_nordic_dfu_image_parse_init_packet(FuNordicDfuImage *self, GBytes *dat, GError **error);
const gchar *
fu_nordic_dfu_image_get_manifest_key(FuNordicDfuImage *self);
FuNordicDfuFwType
fu_nordic_dfu_image_get_fw_type(FuNordicDfuImage *self);
guint32
fu_nordic_dfu_image_get_fw_version(FuNordicDfuImage *self);
guint32
fu_nordic_dfu_image_get_hw_version(FuNordicDfuImage *self);
GArray *
fu_nordic_dfu_image_get_sd_req(FuNordicDfuImage *self);
gboolean
fu_nordic_dfu_image_is_signed(FuNordicDfuImage *self);
GBytes *
fu_nordic_dfu_image_get_init_packet(FuNordicDfuImage *self);
/* the packet's own checks: hash of the image and sizes, done while parsing */
gboolean
fu_nordic_dfu_image_check(FuNordicDfuImage *self, GError **error);
/* against the device: hw_version, memory sizes, sd_req */
gboolean
fu_nordic_dfu_image_check_device(FuNordicDfuImage *self,
				 const FuNordicDfuIdentity *identity,
				 GError **error);
const gchar *
fu_nordic_dfu_image_fw_type_to_string(FuNordicDfuFwType type);
