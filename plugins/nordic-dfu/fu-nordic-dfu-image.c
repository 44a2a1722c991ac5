/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-image.h"
#include "fu-nordic-dfu-init.pb-c.h"

/* one image of an nrfutil package: the bin_file and its init packet, the dat_file */

struct _FuNordicDfuImage {
	FuFirmware parent_instance;
	gchar *manifest_key;
	GBytes *init_packet;
	gboolean is_signed;
	guint32 signature_type;
	FuNordicDfuFwType fw_type;
	gboolean has_fw_type;
	guint32 fw_version;
	guint32 hw_version;
	GArray *sd_req; /* guint32 */
	guint32 sd_size;
	guint32 bl_size;
	guint32 app_size;
	guint32 hash_type;
	GBytes *hash; /* as stored: the SHA-256 digest byte-reversed */
	gboolean is_debug;
};

G_DEFINE_TYPE(FuNordicDfuImage, fu_nordic_dfu_image, FU_TYPE_FIRMWARE)

#define HASH_TYPE_SHA256 3

const gchar *
fu_nordic_dfu_image_fw_type_to_string(FuNordicDfuFwType type)
{
	switch (type) {
	case FU_NORDIC_DFU_FW_TYPE_APPLICATION:
		return "application";
	case FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE:
		return "softdevice";
	case FU_NORDIC_DFU_FW_TYPE_BOOTLOADER:
		return "bootloader";
	case FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER:
		return "softdevice_bootloader";
	case FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION:
		return "external_application";
	default:
		return "unknown";
	}
}

static FuNordicDfuFwType
fu_nordic_dfu_image_fw_type_from_manifest_key(const gchar *key)
{
	if (g_strcmp0(key, "softdevice_bootloader") == 0)
		return FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER;
	if (g_strcmp0(key, "softdevice") == 0)
		return FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE;
	if (g_strcmp0(key, "bootloader") == 0)
		return FU_NORDIC_DFU_FW_TYPE_BOOTLOADER;
	return FU_NORDIC_DFU_FW_TYPE_APPLICATION;
}

static void
fu_nordic_dfu_image_set_init_command(FuNordicDfuImage *self, const Dfu__InitCommand *init)
{
	self->has_fw_type = init->has_type;
	self->fw_type = init->has_type ? (FuNordicDfuFwType)init->type
				       : FU_NORDIC_DFU_FW_TYPE_APPLICATION;
	self->fw_version = init->has_fw_version ? init->fw_version : 0;
	self->hw_version = init->has_hw_version ? init->hw_version : 0;
	g_array_set_size(self->sd_req, 0);
	for (gsize i = 0; i < init->n_sd_req; i++)
		g_array_append_val(self->sd_req, init->sd_req[i]);
	self->sd_size = init->has_sd_size ? init->sd_size : 0;
	self->bl_size = init->has_bl_size ? init->bl_size : 0;
	self->app_size = init->has_app_size ? init->app_size : 0;
	self->is_debug = init->has_is_debug && init->is_debug;
	g_clear_pointer(&self->hash, g_bytes_unref);
	self->hash_type = 0;
	if (init->hash != NULL) {
		self->hash_type = init->hash->hash_type;
		self->hash = g_bytes_new(init->hash->hash.data, init->hash->hash.len);
	}
}

gboolean
fu_nordic_dfu_image_parse_init_packet(FuNordicDfuImage *self, GBytes *dat, GError **error)
{
	gsize bufsz = 0;
	const guint8 *buf = g_bytes_get_data(dat, &bufsz);
	const Dfu__Command *command = NULL;
	Dfu__Packet *packet;

	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), FALSE);

	/* zero bytes decode as a Packet with nothing set: say what is really wrong */
	if (bufsz == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "init packet is empty");
		return FALSE;
	}
	packet = dfu__packet__unpack(NULL, bufsz, buf);
	if (packet == NULL) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "init packet is not a Secure DFU Packet");
		return FALSE;
	}
	if (packet->signed_command != NULL) {
		command = packet->signed_command->command;
		self->is_signed = TRUE;
		self->signature_type = packet->signed_command->signature_type;
	} else {
		command = packet->command;
		self->is_signed = FALSE;
	}
	if (command == NULL || command->init == NULL) {
		dfu__packet__free_unpacked(packet, NULL);
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "init packet holds no init command");
		return FALSE;
	}
	if (command->has_op_code && command->op_code != DFU__OP_CODE__INIT) {
		/* command lives in packet: keep what the message needs before freeing it */
		guint op_code = (guint)command->op_code;
		dfu__packet__free_unpacked(packet, NULL);
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet has op_code %u, not INIT",
			    op_code);
		return FALSE;
	}
	fu_nordic_dfu_image_set_init_command(self, command->init);
	dfu__packet__free_unpacked(packet, NULL);
	g_clear_pointer(&self->init_packet, g_bytes_unref);
	self->init_packet = g_bytes_ref(dat);
	return TRUE;
}

/* the init packet's size field that describes an image of its type, and the size it declares;
 * NULL for a type no bootloader knows */
static const gchar *
fu_nordic_dfu_image_size_field(FuNordicDfuImage *self, guint64 *declared)
{
	switch (self->fw_type) {
	case FU_NORDIC_DFU_FW_TYPE_APPLICATION:
	case FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION:
		*declared = self->app_size;
		return "app_size";
	case FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE:
		*declared = self->sd_size;
		return "sd_size";
	case FU_NORDIC_DFU_FW_TYPE_BOOTLOADER:
		*declared = self->bl_size;
		return "bl_size";
	case FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER:
		*declared = (guint64)self->sd_size + self->bl_size;
		return "sd_size + bl_size";
	default:
		*declared = 0;
		return NULL;
	}
}

static gboolean
fu_nordic_dfu_image_check_sizes(FuNordicDfuImage *self, gsize size, GError **error)
{
	guint64 declared = 0;
	const gchar *field = fu_nordic_dfu_image_size_field(self, &declared);

	if (field == NULL) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field type is %u, which no bootloader knows",
			    (guint)self->fw_type);
		return FALSE;
	}
	if (declared == size)
		return TRUE;
	if (self->fw_type == FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet fields sd_size %u + bl_size %u do not add up to the "
			    "image's %" G_GSIZE_FORMAT " bytes: the package is corrupt",
			    self->sd_size,
			    self->bl_size,
			    size);
		return FALSE;
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_INVALID_FILE,
		    "init packet field %s is %" G_GUINT64_FORMAT
		    " but the image is %" G_GSIZE_FORMAT " bytes: the package is corrupt",
		    field,
		    declared,
		    size);
	return FALSE;
}

gboolean
fu_nordic_dfu_image_check(FuNordicDfuImage *self, GError **error)
{
	gsize size = 0;
	gsize hashsz = 0;
	const guint8 *hash;
	guint8 digest[32] = {0};
	gsize digestsz = sizeof(digest);
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GChecksum) checksum = g_checksum_new(G_CHECKSUM_SHA256);

	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), FALSE);

	blob = fu_firmware_get_bytes(FU_FIRMWARE(self), error);
	if (blob == NULL)
		return FALSE;
	size = g_bytes_get_size(blob);
	if (size == 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "%s image is empty",
			    self->manifest_key);
		return FALSE;
	}

	/* the manifest entry and the packet must agree on what the image is */
	if (self->manifest_key != NULL &&
	    fu_nordic_dfu_image_fw_type_from_manifest_key(self->manifest_key) != self->fw_type &&
	    !(self->fw_type == FU_NORDIC_DFU_FW_TYPE_EXTERNAL_APPLICATION &&
	      g_strcmp0(self->manifest_key, "application") == 0)) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field type is %s but the manifest lists the image as %s",
			    fu_nordic_dfu_image_fw_type_to_string(self->fw_type),
			    self->manifest_key);
		return FALSE;
	}
	if (!fu_nordic_dfu_image_check_sizes(self, size, error))
		return FALSE;

	/* the SDK accepts only SHA-256 and stores the digest byte-reversed (pc-nrfutil
	 * Package.calculate_sha256_hash) */
	if (self->hash == NULL || self->hash_type != HASH_TYPE_SHA256) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field hash is %s: the bootloader needs a SHA-256 hash",
			    self->hash == NULL ? "missing" : "not SHA-256");
		return FALSE;
	}
	hash = g_bytes_get_data(self->hash, &hashsz);
	g_checksum_update(checksum, g_bytes_get_data(blob, NULL), size);
	g_checksum_get_digest(checksum, digest, &digestsz);
	if (hashsz != sizeof(digest)) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field hash is %" G_GSIZE_FORMAT " bytes, not 32",
			    hashsz);
		return FALSE;
	}
	for (gsize i = 0; i < sizeof(digest); i++) {
		if (hash[i] != digest[sizeof(digest) - 1 - i]) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "init packet field hash does not match the SHA-256 of %s: the "
				    "package is corrupt or was altered",
				    self->manifest_key != NULL ? self->manifest_key : "the image");
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
fu_nordic_dfu_image_check_device(FuNordicDfuImage *self,
				 const FuNordicDfuIdentity *identity,
				 GError **error)
{
	gsize size = 0;
	g_autoptr(GBytes) blob = NULL;

	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), FALSE);

	blob = fu_firmware_get_bytes(FU_FIRMWARE(self), error);
	if (blob == NULL)
		return FALSE;
	size = g_bytes_get_size(blob);

	/* the bootloader compares hw_version with its NRF_DFU_HW_VERSION (nrf_dfu_validation.c);
	 * nrfutil's --hw-version is that number, 52 for the nRF52 family by default */
	if (identity->hw_version != 0 && self->hw_version != identity->hw_version) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field hw_version is %u but this device is %u: use the "
			    "firmware built for this device",
			    self->hw_version,
			    identity->hw_version);
		return FALSE;
	}
	if (identity->has_hw && identity->rom_size != 0 && size > identity->rom_size) {
		guint64 declared = 0;
		const gchar *field = fu_nordic_dfu_image_size_field(self, &declared);
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field %s is %" G_GSIZE_FORMAT
			    " bytes but the device has %u bytes of flash",
			    field != NULL ? field : "app_size",
			    size,
			    identity->rom_size);
		return FALSE;
	}
	if (identity->size_max != 0 && size > identity->size_max) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "%s image is %" G_GSIZE_FORMAT " bytes but the device takes at most "
			    "%" G_GUINT64_FORMAT,
			    fu_nordic_dfu_image_fw_type_to_string(self->fw_type),
			    size,
			    identity->size_max);
		return FALSE;
	}

	/* sd_req lists the SoftDevice FWIDs the image runs on; 0x00 means none needed, 0xFFFE
	 * any (pc-nrfutil --sd-req) */
	if (identity->sd_id != 0 && self->sd_req->len > 0) {
		gboolean found = FALSE;
		for (guint i = 0; i < self->sd_req->len; i++) {
			guint32 req = g_array_index(self->sd_req, guint32, i);
			if (req == identity->sd_id || req == FU_NORDIC_DFU_SD_REQ_ANY ||
			    req == FU_NORDIC_DFU_SD_REQ_NONE)
				found = TRUE;
		}
		if (!found) {
			g_set_error(
			    error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "init packet field sd_req does not list the device's SoftDevice "
			    "0x%04x: update the SoftDevice first or use a package built "
			    "for it",
			    identity->sd_id);
			return FALSE;
		}
	}
	return TRUE;
}

const gchar *
fu_nordic_dfu_image_get_manifest_key(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), NULL);
	return self->manifest_key;
}

FuNordicDfuFwType
fu_nordic_dfu_image_get_fw_type(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), 0);
	return self->fw_type;
}

guint32
fu_nordic_dfu_image_get_fw_version(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), 0);
	return self->fw_version;
}

guint32
fu_nordic_dfu_image_get_hw_version(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), 0);
	return self->hw_version;
}

GArray *
fu_nordic_dfu_image_get_sd_req(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), NULL);
	return self->sd_req;
}

gboolean
fu_nordic_dfu_image_is_signed(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), FALSE);
	return self->is_signed;
}

GBytes *
fu_nordic_dfu_image_get_init_packet(FuNordicDfuImage *self)
{
	g_return_val_if_fail(FU_IS_NORDIC_DFU_IMAGE(self), NULL);
	return self->init_packet;
}

static void
fu_nordic_dfu_image_export(FuFirmware *firmware, FuFirmwareExportFlags flags, XbBuilderNode *bn)
{
	FuNordicDfuImage *self = FU_NORDIC_DFU_IMAGE(firmware);
	fu_xmlb_builder_insert_kv(bn, "manifest_key", self->manifest_key);
	fu_xmlb_builder_insert_kv(bn, "type", fu_nordic_dfu_image_fw_type_to_string(self->fw_type));
	fu_xmlb_builder_insert_kx(bn, "fw_version", self->fw_version);
	fu_xmlb_builder_insert_kx(bn, "hw_version", self->hw_version);
	for (guint i = 0; i < self->sd_req->len; i++)
		fu_xmlb_builder_insert_kx(bn, "sd_req", g_array_index(self->sd_req, guint32, i));
	fu_xmlb_builder_insert_kx(bn, "sd_size", self->sd_size);
	fu_xmlb_builder_insert_kx(bn, "bl_size", self->bl_size);
	fu_xmlb_builder_insert_kx(bn, "app_size", self->app_size);
	fu_xmlb_builder_insert_kb(bn, "signed", self->is_signed);
	fu_xmlb_builder_insert_kb(bn, "is_debug", self->is_debug);
}

static void
fu_nordic_dfu_image_init(FuNordicDfuImage *self)
{
	self->sd_req = g_array_new(FALSE, FALSE, sizeof(guint32));
}

static void
fu_nordic_dfu_image_finalize(GObject *object)
{
	FuNordicDfuImage *self = FU_NORDIC_DFU_IMAGE(object);
	g_free(self->manifest_key);
	if (self->init_packet != NULL)
		g_bytes_unref(self->init_packet);
	if (self->hash != NULL)
		g_bytes_unref(self->hash);
	g_array_unref(self->sd_req);
	G_OBJECT_CLASS(fu_nordic_dfu_image_parent_class)->finalize(object);
}

static void
fu_nordic_dfu_image_class_init(FuNordicDfuImageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FuFirmwareClass *firmware_class = FU_FIRMWARE_CLASS(klass);
	object_class->finalize = fu_nordic_dfu_image_finalize;
	firmware_class->export = fu_nordic_dfu_image_export;
}

FuNordicDfuImage *
fu_nordic_dfu_image_new(const gchar *manifest_key)
{
	FuNordicDfuImage *self = g_object_new(FU_TYPE_NORDIC_DFU_IMAGE, NULL);
	self->manifest_key = g_strdup(manifest_key);
	fu_firmware_set_id(FU_FIRMWARE(self), manifest_key);
	return self;
}
