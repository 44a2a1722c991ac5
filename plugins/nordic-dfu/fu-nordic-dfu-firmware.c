/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-firmware.h"

/*
 * An nrfutil package: a zip with manifest.json naming, for each of application, bootloader,
 * softdevice and softdevice_bootloader, a bin_file (the image) and a dat_file (its init
 * packet, a protobuf Packet: fu-nordic-dfu-init.proto) (pc-nrfutil nordicsemi/dfu/manifest.py).
 */

struct _FuNordicDfuFirmware {
	FuFirmware parent_instance;
};

G_DEFINE_TYPE(FuNordicDfuFirmware, fu_nordic_dfu_firmware, FU_TYPE_FIRMWARE)

/* the order the bootloader needs: pc-nrfutil nordicsemi/dfu/dfu.py dfu_send_images sends
 * the SoftDevice+bootloader, then the SoftDevice, the bootloader, the application */
static const gchar *manifest_keys[] = {
    "softdevice_bootloader",
    "softdevice",
    "bootloader",
    "application",
};

/* the file of @archive that the manifest entry @entry_key names in its member @member */
static GBytes *
fu_nordic_dfu_firmware_entry_file(FuArchive *archive,
				  JsonObject *entry,
				  const gchar *entry_key,
				  const gchar *member,
				  const gchar **filename,
				  GError **error)
{
	JsonNode *node = json_object_get_member(entry, member);
	GBytes *blob;

	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "manifest entry %s has no %s",
			    entry_key,
			    member);
		return NULL;
	}
	*filename = json_node_get_string(node);
	blob = fu_archive_lookup_by_fn(archive, *filename, error);
	if (blob == NULL) {
		g_prefix_error(error,
			       "manifest entry %s names %s %s: ",
			       entry_key,
			       member,
			       *filename);
		return NULL;
	}
	return blob;
}

static gboolean
fu_nordic_dfu_firmware_parse(FuFirmware *firmware,
			     GInputStream *stream,
			     FuFirmwareParseFlags flags,
			     GError **error)
{
	JsonNode *root;
	JsonObject *manifest;
	guint idx = 0;
	g_autoptr(FuArchive) archive = NULL;
	g_autoptr(GBytes) manifest_blob = NULL;
	g_autoptr(GError) error_json = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();

	archive = fu_archive_new_stream(stream, FU_ARCHIVE_FLAG_IGNORE_PATH, error);
	if (archive == NULL)
		return FALSE;
	manifest_blob = fu_archive_lookup_by_fn(archive, "manifest.json", error);
	if (manifest_blob == NULL) {
		g_prefix_error_literal(error, "not an nrfutil package: ");
		return FALSE;
	}
	/* json-glib refuses NULL data with a critical and no error, and GLib gives NULL for
	 * the data of empty bytes */
	if (g_bytes_get_size(manifest_blob) == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "manifest.json is empty: the package is corrupt");
		return FALSE;
	}
	if (!json_parser_load_from_data(parser,
					g_bytes_get_data(manifest_blob, NULL),
					(gssize)g_bytes_get_size(manifest_blob),
					&error_json)) {
		/* fwupd maps no json-glib error to its own: a development build of fwupd says so
		 * with a critical, a supported one calls it an internal error */
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "manifest.json is not JSON: %s",
			    error_json->message);
		return FALSE;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root) ||
	    !json_object_has_member(json_node_get_object(root), "manifest") ||
	    !JSON_NODE_HOLDS_OBJECT(
		json_object_get_member(json_node_get_object(root), "manifest"))) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "manifest.json has no manifest object");
		return FALSE;
	}
	manifest = json_object_get_object_member(json_node_get_object(root), "manifest");

	for (guint i = 0; i < G_N_ELEMENTS(manifest_keys); i++) {
		const gchar *key = manifest_keys[i];
		const gchar *bin_file = NULL;
		const gchar *dat_file = NULL;
		JsonNode *node = json_object_get_member(manifest, key);
		g_autoptr(FuNordicDfuImage) image = NULL;
		FuNordicDfuFwType fw_type;
		g_autoptr(GBytes) bin = NULL;
		g_autoptr(GBytes) dat = NULL;

		if (node == NULL)
			continue;
		if (!JSON_NODE_HOLDS_OBJECT(node)) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "manifest entry %s is not an object",
				    key);
			return FALSE;
		}
		bin = fu_nordic_dfu_firmware_entry_file(archive,
							json_node_get_object(node),
							key,
							"bin_file",
							&bin_file,
							error);
		if (bin == NULL)
			return FALSE;
		dat = fu_nordic_dfu_firmware_entry_file(archive,
							json_node_get_object(node),
							key,
							"dat_file",
							&dat_file,
							error);
		if (dat == NULL)
			return FALSE;

		image = fu_nordic_dfu_image_new(key);
		fu_firmware_set_idx(FU_FIRMWARE(image), idx++);
		fu_firmware_set_filename(FU_FIRMWARE(image), bin_file);
		fu_firmware_set_bytes(FU_FIRMWARE(image), bin);
		if (!fu_nordic_dfu_image_parse_init_packet(image, dat, error)) {
			g_prefix_error(error, "%s: ", dat_file);
			return FALSE;
		}
		if ((flags & FU_FIRMWARE_PARSE_FLAG_IGNORE_CHECKSUM) == 0 &&
		    !fu_nordic_dfu_image_check(image, error))
			return FALSE;
		fw_type = fu_nordic_dfu_image_get_fw_type(image);
		if (fw_type == FU_NORDIC_DFU_FW_TYPE_APPLICATION ||
		    fw_type == FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION)
			fu_firmware_set_version_raw(firmware,
						    fu_nordic_dfu_image_get_fw_version(image));
		if (!fu_firmware_add_image(firmware, FU_FIRMWARE(image), error))
			return FALSE;
	}
	if (idx == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "manifest lists none of application, bootloader, softdevice, "
				    "softdevice_bootloader");
		return FALSE;
	}
	return TRUE;
}

GPtrArray *
fu_nordic_dfu_firmware_get_images_ordered(FuNordicDfuFirmware *self)
{
	GPtrArray *images = fu_firmware_get_images(FU_FIRMWARE(self));
	g_autoptr(GPtrArray) ordered = g_ptr_array_new_with_free_func(g_object_unref);

	/* idx was given in the bootloader's order when parsing */
	for (guint idx = 0; idx < images->len; idx++) {
		for (guint i = 0; i < images->len; i++) {
			FuFirmware *img = g_ptr_array_index(images, i);
			if (fu_firmware_get_idx(img) == idx)
				g_ptr_array_add(ordered, g_object_ref(img));
		}
	}
	g_ptr_array_unref(images);
	return g_steal_pointer(&ordered);
}

static gchar *
fu_nordic_dfu_firmware_convert_version(FuFirmware *firmware, guint64 version_raw)
{
	return g_strdup_printf("%u", (guint)version_raw);
}

static void
fu_nordic_dfu_firmware_init(FuNordicDfuFirmware *self)
{
	fu_firmware_set_images_max(FU_FIRMWARE(self), G_N_ELEMENTS(manifest_keys));
}

static void
fu_nordic_dfu_firmware_class_init(FuNordicDfuFirmwareClass *klass)
{
	FuFirmwareClass *firmware_class = FU_FIRMWARE_CLASS(klass);
	firmware_class->parse = fu_nordic_dfu_firmware_parse;
	firmware_class->convert_version = fu_nordic_dfu_firmware_convert_version;
}

FuFirmware *
fu_nordic_dfu_firmware_new(void)
{
	return g_object_new(FU_TYPE_NORDIC_DFU_FIRMWARE, NULL);
}
