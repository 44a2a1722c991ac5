/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the nordic-dfu plugin makes of an nrfutil package before anything
 * is sent. The first byte picks the input: even, a whole package (zip, manifest.json, .bin and
 * .dat files) parsed by FuNordicDfuFirmware with its own checks (hash, sizes), then each image
 * checked against an nRF52840 Dongle; odd, one init packet (.dat, signed or not) decoded for an
 * image of fixed contents, then the same checks. The rest is the input.
 *
 * Promises checked: a parsed package has one to four images, each with an init packet, in the
 * bootloader's order with no image lost or repeated; every failure sets an error.
 */

#include "fu-fuzz-common.h"
#include "fu-nordic-dfu-firmware.h"

/* what the plugin learns from an nRF52840 Dongle's bootloader */
static const FuNordicDfuIdentity fuzz_identity = {
    .has_hw = TRUE,
    .part = 0x52840,
    .variant = 0x41414430,
    .rom_size = 0x100000,
    .ram_size = 0x40000,
    .rom_page_size = 0x1000,
    .hw_version = 52,
    .sd_id = 0x100,
    .size_max = 0xE0000,
};

static void
fuzz_check_image(FuNordicDfuImage *image)
{
	GBytes *init = fu_nordic_dfu_image_get_init_packet(image);
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(init);
	(void)fu_nordic_dfu_image_fw_type_to_string(fu_nordic_dfu_image_get_fw_type(image));
	(void)fu_nordic_dfu_image_get_sd_req(image);
	fu_fuzz_check_result(fu_nordic_dfu_image_check_device(image, &fuzz_identity, &error),
			     error,
			     "check_device");
}

static void
fuzz_package(GBytes *blob)
{
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_firmware_new();
	g_autoptr(GPtrArray) images = NULL;
	g_autoptr(GPtrArray) ordered = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	ok = fu_firmware_parse_bytes(firmware, blob, 0x0, FU_FIRMWARE_PARSE_FLAG_NONE, &error);
	fu_fuzz_check_result(ok, error, "package parse");
	if (!ok)
		return;
	images = fu_firmware_get_images(firmware);
	ordered = fu_nordic_dfu_firmware_get_images_ordered(FU_NORDIC_DFU_FIRMWARE(firmware));
	g_assert_cmpuint(images->len, >=, 1);
	g_assert_cmpuint(images->len, <=, 4);
	g_assert_cmpuint(ordered->len, ==, images->len);
	for (guint i = 0; i < ordered->len; i++) {
		FuFirmware *image = g_ptr_array_index(ordered, i);
		g_assert_cmpuint(fu_firmware_get_idx(image), ==, i);
		fuzz_check_image(FU_NORDIC_DFU_IMAGE(image));
	}
}

static void
fuzz_init_packet(GBytes *dat)
{
	static const guint8 bin[] = {0x00, 0x10, 0x00, 0x20, 0x01, 0x02, 0x03, 0x04};
	g_autoptr(GBytes) bin_blob = g_bytes_new_static(bin, sizeof(bin));
	g_autoptr(FuNordicDfuImage) image = g_object_new(FU_TYPE_NORDIC_DFU_IMAGE, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_check = NULL;
	gboolean ok;

	fu_firmware_set_bytes(FU_FIRMWARE(image), bin_blob);
	ok = fu_nordic_dfu_image_parse_init_packet(image, dat, &error);
	fu_fuzz_check_result(ok, error, "init packet parse");
	if (!ok)
		return;
	fu_fuzz_check_result(fu_nordic_dfu_image_check(image, &error_check),
			     error_check,
			     "image check");
	fuzz_check_image(image);
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	g_autoptr(GBytes) blob = NULL;

	if (size < 1)
		return 0;
	blob = g_bytes_new(data + 1, size - 1);
	if ((data[0] & 0x01) == 0)
		fuzz_package(blob);
	else
		fuzz_init_packet(blob);
	return 0;
}
