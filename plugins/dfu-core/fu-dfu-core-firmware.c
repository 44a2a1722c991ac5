/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-dfu-core-firmware.h"
#include "fu-dfu-firmware-struct.h"

/* unprogrammed NOR flash reads back as 0xFF, so gaps in a sparse image keep that value */
#define FU_DFU_CORE_FIRMWARE_PADDING 0xFF

/* the largest Intel HEX span expanded into an image: 16 MiB, above any DFU device's flash */
#define FU_DFU_CORE_FIRMWARE_IHEX_SPAN_MAX 0x1000000

/* FuFirmware has no "address set" flag and 0 is a valid address, so images that carry an
 * address are marked */
#define FU_DFU_CORE_FIRMWARE_HAS_ADDRESS "fu-dfu-core-firmware-has-address"

/* a predicate, not a check: FALSE is "no", with nothing to report */
static gboolean
fu_dfu_core_firmware_starts_with(GInputStream *stream, const gchar *magic)
{
	gsize magicsz = strlen(magic);
	gsize streamsz = 0;
	g_autofree guint8 *buf = g_malloc0(magicsz);

	if (!fu_input_stream_size(stream, &streamsz, NULL))
		return FALSE;
	if (streamsz < magicsz)
		return FALSE;
	if (!fu_input_stream_read_safe(stream, buf, magicsz, 0x0, 0x0, magicsz, NULL))
		return FALSE;
	return memcmp(buf, magic, magicsz) == 0;
}

/* the suffix's "UFD" signature, which fwupd's .dfu parser also looks for */
static gboolean
fu_dfu_core_firmware_has_suffix(GInputStream *stream, GError **error)
{
	gsize streamsz = 0;

	if (!fu_input_stream_size(stream, &streamsz, error))
		return FALSE;
	if (streamsz < FU_STRUCT_DFU_FTR_SIZE) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "file of %" G_GSIZE_FORMAT " bytes is shorter than a DFU suffix",
			    streamsz);
		return FALSE;
	}
	return fu_struct_dfu_ftr_validate_stream(stream, streamsz - FU_STRUCT_DFU_FTR_SIZE, error);
}

/*
 * fwupd's Intel HEX parser fills every hole between records with padding, up to 1 MiB per
 * record: a few kilobytes of records would make it allocate gigabytes. The records' span is
 * computed first and refused above what any DFU device's memory holds; the image is checked
 * against the device's own size afterwards.
 */
static gboolean
fu_dfu_core_firmware_check_ihex_span(GInputStream *stream,
				     FuFirmwareParseFlags flags,
				     GError **error)
{
	guint64 base = 0;
	guint64 start = G_MAXUINT64;
	guint64 end = 0;
	GPtrArray *records;
	g_autoptr(FuFirmware) scan = fu_ihex_firmware_new();

	if (!fu_firmware_tokenize(scan, stream, flags, error)) {
		g_prefix_error_literal(error, "invalid Intel HEX file: ");
		return FALSE;
	}
	records = fu_ihex_firmware_get_records(FU_IHEX_FIRMWARE(scan));
	for (guint i = 0; i < records->len; i++) {
		FuIhexFirmwareRecord *rcd = g_ptr_array_index(records, i);
		guint16 value = 0;

		if (rcd->record_type == FU_IHEX_FIRMWARE_RECORD_TYPE_DATA) {
			start = MIN(start, base + rcd->addr);
			end = MAX(end, base + rcd->addr + rcd->data->len);
		} else if (rcd->record_type == FU_IHEX_FIRMWARE_RECORD_TYPE_EXTENDED_SEGMENT ||
			   rcd->record_type == FU_IHEX_FIRMWARE_RECORD_TYPE_EXTENDED_LINEAR) {
			/* an empty record has no buffer at all, which the reader must not get */
			if (rcd->data->len != 2) {
				g_set_error(
				    error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "invalid Intel HEX file: extended address record on line "
				    "%u has %u data bytes, not 2",
				    rcd->ln,
				    rcd->data->len);
				return FALSE;
			}
			if (!fu_memread_uint16_safe(rcd->data->data,
						    rcd->data->len,
						    0x0,
						    &value,
						    G_BIG_ENDIAN,
						    error))
				return FALSE;
			base = rcd->record_type == FU_IHEX_FIRMWARE_RECORD_TYPE_EXTENDED_SEGMENT
				   ? (guint64)value << 4
				   : (guint64)value << 16;
		}
	}
	if (start != G_MAXUINT64 && end - start > FU_DFU_CORE_FIRMWARE_IHEX_SPAN_MAX) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "Intel HEX file spans 0x%" G_GINT64_MODIFIER
			    "x bytes from 0x%" G_GINT64_MODIFIER
			    "x, more than any DFU device holds",
			    end - start,
			    start);
		return FALSE;
	}
	return TRUE;
}

static FuFirmware *
fu_dfu_core_firmware_load_ihex(GInputStream *stream, FuFirmwareParseFlags flags, GError **error)
{
	g_autoptr(FuFirmware) ihex = fu_ihex_firmware_new();
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GBytes) blob = NULL;

	if (!fu_dfu_core_firmware_check_ihex_span(stream, flags, error))
		return NULL;
	fu_ihex_firmware_set_padding_value(FU_IHEX_FIRMWARE(ihex), FU_DFU_CORE_FIRMWARE_PADDING);
	if (!fu_firmware_parse_stream(ihex, stream, 0x0, flags, error)) {
		g_prefix_error_literal(error, "invalid Intel HEX file: ");
		return NULL;
	}
	blob = fu_firmware_get_bytes(ihex, error);
	if (blob == NULL)
		return NULL;
	if (g_bytes_get_size(blob) == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "Intel HEX file holds no data");
		return NULL;
	}
	firmware = fu_firmware_new_from_bytes(blob);
	fu_firmware_set_addr(firmware, fu_firmware_get_addr(ihex));
	g_object_set_data(G_OBJECT(firmware), FU_DFU_CORE_FIRMWARE_HAS_ADDRESS, GINT_TO_POINTER(1));
	return g_steal_pointer(&firmware);
}

/*
 * Walks the targets and elements of a DfuSe file (UM0391: the prefix, then each target's
 * prefix and its elements) and refuses more than FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX
 * elements. Each target's declared count is checked before its elements are walked, so the
 * walk itself never passes the bound. A file that ends early or holds something else where a
 * target or element should be is left to the full parser, which names what is wrong.
 */
static gboolean
fu_dfu_core_firmware_check_dfuse_elements(GInputStream *stream,
					  gsize streamsz,
					  const FuStructDfuseHdr *st_hdr,
					  GError **error)
{
	guint8 targets = fu_struct_dfuse_hdr_get_targets(st_hdr);
	guint64 offset = FU_STRUCT_DFUSE_HDR_SIZE;
	guint64 total = 0;

	for (guint t = 0; t < targets; t++) {
		guint32 count;
		g_autoptr(FuStructDfuseImage) st_img = NULL;

		if (offset + FU_STRUCT_DFUSE_IMAGE_SIZE > streamsz)
			return TRUE;
		st_img = fu_struct_dfuse_image_parse_stream(stream, offset, NULL);
		if (st_img == NULL)
			return TRUE;
		count = fu_struct_dfuse_image_get_chunks(st_img);
		if (total + count > FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "DfuSe file has %" G_GUINT64_FORMAT
				    " or more elements (target %u of %u declares %u), more than "
				    "the %u an update takes: a real image has one element per "
				    "contiguous run; rebuild the file with adjacent data merged",
				    total + count,
				    t + 1,
				    (guint)targets,
				    count,
				    (guint)FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX);
			return FALSE;
		}
		total += count;
		offset += FU_STRUCT_DFUSE_IMAGE_SIZE;
		for (guint32 e = 0; e < count; e++) {
			g_autoptr(FuStructDfuseElement) st_ele = NULL;
			if (offset + FU_STRUCT_DFUSE_ELEMENT_SIZE > streamsz)
				return TRUE;
			st_ele = fu_struct_dfuse_element_parse_stream(stream, offset, error);
			if (st_ele == NULL)
				return FALSE;
			offset += FU_STRUCT_DFUSE_ELEMENT_SIZE +
				  (guint64)fu_struct_dfuse_element_get_size(st_ele);
		}
	}
	return TRUE;
}

/*
 * UM0391 defines DFUImageSize as the file without its suffix, and fwupd's parser insists on
 * it; dfu-util's dfuse-pack counts the suffix too, and such files exist in the field. Both
 * readings are accepted when the size matches exactly one of them: the suffix CRC is checked
 * here on the file as it is, then fwupd's parser reads it with the prefix size corrected.
 */
static FuFirmware *
fu_dfu_core_firmware_load_dfuse(GInputStream *stream, FuFirmwareParseFlags flags, GError **error)
{
	gsize streamsz = 0;
	guint32 image_size;
	guint32 crc = 0xFFFFFFFF; /* fu_input_stream_compute_crc32() passes it to fu_crc32_step() */
	g_autoptr(FuFirmware) firmware = fu_dfuse_firmware_new();
	g_autoptr(FuStructDfuseHdr) st_hdr = NULL;
	g_autoptr(FuStructDfuFtr) st_ftr = NULL;
	g_autoptr(GInputStream) body = NULL;
	g_autoptr(GInputStream) crc_stream = NULL;
	g_autoptr(FuCompositeInputStream) fixed = NULL;
	g_autoptr(GBytes) prefix_blob = NULL;

	if (!fu_input_stream_size(stream, &streamsz, error))
		return NULL;
	if (streamsz < FU_STRUCT_DFUSE_HDR_SIZE + FU_STRUCT_DFU_FTR_SIZE) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "DfuSe file is truncated: get the whole file again");
		return NULL;
	}
	st_hdr = fu_struct_dfuse_hdr_parse_stream(stream, 0x0, error);
	if (st_hdr == NULL) {
		g_prefix_error_literal(error, "invalid DfuSe file: ");
		return NULL;
	}
	image_size = fu_struct_dfuse_hdr_get_image_size(st_hdr);
	if (!fu_dfu_core_firmware_check_dfuse_elements(stream, streamsz, st_hdr, error))
		return NULL;
	if (image_size == streamsz - FU_STRUCT_DFU_FTR_SIZE) {
		if (!fu_firmware_parse_stream(firmware, stream, 0x0, flags, error)) {
			g_prefix_error_literal(error, "invalid DfuSe file: ");
			return NULL;
		}
		return g_steal_pointer(&firmware);
	}
	if (image_size != streamsz) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "DfuSe file is %" G_GSIZE_FORMAT " bytes but its prefix says %u: "
			    "it is truncated or damaged; get the whole file again",
			    streamsz,
			    image_size);
		return NULL;
	}

	/* the file as written by dfuse-pack: its own CRC first */
	st_ftr = fu_struct_dfu_ftr_parse_stream(stream, streamsz - FU_STRUCT_DFU_FTR_SIZE, error);
	if (st_ftr == NULL) {
		g_prefix_error_literal(error, "invalid DfuSe file: ");
		return NULL;
	}
	crc_stream = fu_partial_input_stream_new(stream, 0, streamsz - sizeof(guint32), error);
	if (crc_stream == NULL)
		return NULL;
	if (!fu_input_stream_compute_crc32(crc_stream, FU_CRC_KIND_B32_JAMCRC, &crc, error))
		return NULL;
	if (crc != fu_struct_dfu_ftr_get_crc(st_ftr) &&
	    (flags & FU_FIRMWARE_PARSE_FLAG_IGNORE_CHECKSUM) == 0) {
		g_set_error(
		    error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_INVALID_FILE,
		    "DfuSe file CRC is 0x%08x but its suffix says 0x%08x: the file is damaged; "
		    "get it again",
		    crc,
		    fu_struct_dfu_ftr_get_crc(st_ftr));
		return NULL;
	}
	fu_struct_dfuse_hdr_set_image_size(st_hdr, (guint32)(streamsz - FU_STRUCT_DFU_FTR_SIZE));
	prefix_blob = fu_struct_dfuse_hdr_to_bytes(st_hdr);
	body = fu_partial_input_stream_new(stream,
					   FU_STRUCT_DFUSE_HDR_SIZE,
					   streamsz - FU_STRUCT_DFUSE_HDR_SIZE,
					   error);
	if (body == NULL)
		return NULL;
	fixed = FU_COMPOSITE_INPUT_STREAM(fu_composite_input_stream_new());
	fu_composite_input_stream_add_bytes(fixed, prefix_blob);
	if (!fu_composite_input_stream_add_stream(fixed, body, error))
		return NULL;
	if (!fu_firmware_parse_stream(firmware,
				      G_INPUT_STREAM(fixed),
				      0x0,
				      flags | FU_FIRMWARE_PARSE_FLAG_IGNORE_CHECKSUM,
				      error)) {
		g_prefix_error_literal(error, "invalid DfuSe file: ");
		return NULL;
	}
	return g_steal_pointer(&firmware);
}

/**
 * fu_dfu_core_firmware_load:
 * @stream: the payload
 * @allow_raw: accept an image with no DFU suffix
 * @allow_dfuse: the device speaks DfuSe: accept DfuSe files
 * @flags: parse flags
 * @error: (nullable): optional return location for an error
 *
 * Loads a firmware image: a DfuSe file (DfuSe devices only), a `.dfu` file (DFU suffix, CRC
 *checked), an Intel HEX file (every record checksummed, EOF record required) or, only when the
 *device allows it, a raw binary. A raw image carries no integrity check of its own, and a `.dfu`
 * file cut short looks exactly like one, hence the opt-in.
 *
 * Returns: (transfer full): a firmware, or %NULL on error
 **/
FuFirmware *
fu_dfu_core_firmware_load(GInputStream *stream,
			  gboolean allow_raw,
			  gboolean allow_dfuse,
			  FuFirmwareParseFlags flags,
			  GError **error)
{
	g_autoptr(FuFirmware) dfu = fu_dfu_firmware_new();
	gsize imagesz = 0;
	g_autoptr(GError) error_suffix = NULL;

	if (fu_dfu_core_firmware_starts_with(stream, "DfuSe")) {
		if (allow_dfuse)
			return fu_dfu_core_firmware_load_dfuse(stream, flags, error);
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "this is a DfuSe file but the device speaks plain DFU 1.1: "
				    "use the image built for this device");
		return NULL;
	}
	/* a DFU suffix present: its CRC and length must be right */
	if (fu_dfu_core_firmware_has_suffix(stream, &error_suffix)) {
		g_autoptr(GError) error_parse = NULL;

		/* libfwupdplugin reports a CRC mismatch as an internal error: it is the file's */
		if (!fu_firmware_parse_stream(dfu, stream, 0x0, flags, &error_parse)) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "invalid .dfu file (damaged or truncated): %s",
				    error_parse->message);
			return NULL;
		}
		if (!fu_dfu_core_firmware_get_image_size(dfu, &imagesz, error))
			return NULL;
		if (imagesz == 0) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_INVALID_FILE,
					    ".dfu file holds no firmware image");
			return NULL;
		}
		return g_steal_pointer(&dfu);
	}
	if (fu_dfu_core_firmware_starts_with(stream, ":"))
		return fu_dfu_core_firmware_load_ihex(stream, flags, error);
	if (allow_raw) {
		g_autoptr(FuFirmware) firmware = fu_firmware_new();
		if (!fu_firmware_set_stream(firmware, stream, error))
			return NULL;
		return g_steal_pointer(&firmware);
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_INVALID_FILE,
		    "no DFU suffix (%s): the file is truncated or not a .dfu file; "
		    "add one with dfu-suffix, or get the .dfu file from the vendor",
		    error_suffix->message);
	return NULL;
}

/**
 * fu_dfu_core_firmware_has_address:
 * @firmware: from fu_dfu_core_firmware_load()
 *
 * Tells whether the file gave the image an address (Intel HEX), which may be 0; a raw or
 * .dfu image has none.
 *
 * Returns: %TRUE if fu_firmware_get_addr() is the file's address
 **/
/* nocheck:name -- any of the firmware types of fwupd this file loads: it defines none */
gboolean
fu_dfu_core_firmware_has_address(FuFirmware *firmware)
{
	return g_object_get_data(G_OBJECT(firmware), FU_DFU_CORE_FIRMWARE_HAS_ADDRESS) != NULL;
}

/* the size of the image to download, whichever parser produced it */
/* nocheck:name -- any of the firmware types of fwupd this file loads: it defines none */
gboolean
fu_dfu_core_firmware_get_image_size(FuFirmware *firmware, gsize *size, GError **error)
{
	g_autoptr(GInputStream) stream = fu_firmware_get_stream(firmware, error);
	if (stream == NULL)
		return FALSE;
	return fu_input_stream_size(stream, size, error);
}
