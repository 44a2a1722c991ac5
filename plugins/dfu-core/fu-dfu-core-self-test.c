/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <fwupdplugin.h>

#include "fu-dfu-core-dfuse.h"
#include "fu-dfu-core-firmware.h"
#include "fu-dfu-firmware-struct.h"

static GBytes *
fu_dfu_core_test_image(gsize size)
{
	g_autofree guint8 *buf = g_malloc(size);
	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)(i * 7 + 3);
	return g_bytes_new(buf, size);
}

static GBytes *
fu_dfu_core_test_dfu_file(GBytes *image, guint16 vid, guint16 pid)
{
	g_autoptr(FuFirmware) firmware = fu_dfu_firmware_new();
	g_autoptr(GError) error = NULL;
	GBytes *blob;

	fu_firmware_set_bytes(firmware, image);
	fu_dfu_firmware_set_vid(FU_DFU_FIRMWARE(firmware), vid);
	fu_dfu_firmware_set_pid(FU_DFU_FIRMWARE(firmware), pid);
	fu_dfu_firmware_set_release(FU_DFU_FIRMWARE(firmware), 0x0102);
	blob = fu_firmware_write(firmware, &error);
	g_assert_no_error(error);
	g_assert_nonnull(blob);
	return blob;
}

static FuFirmware *
fu_dfu_core_test_load_full(GBytes *blob, gboolean allow_raw, gboolean allow_dfuse, GError **error)
{
	g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes(blob);
	return fu_dfu_core_firmware_load(stream,
					 allow_raw,
					 allow_dfuse,
					 FU_FIRMWARE_PARSE_FLAG_NONE,
					 error);
}

static FuFirmware *
fu_dfu_core_test_load(GBytes *blob, gboolean allow_raw, GError **error)
{
	return fu_dfu_core_test_load_full(blob, allow_raw, FALSE, error);
}

/* @blob is refused as an invalid file, for a reason that names @reason */
static void
fu_dfu_core_test_assert_refused(GBytes *blob,
				gboolean allow_raw,
				gboolean allow_dfuse,
				const gchar *reason)
{
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GError) error = NULL;

	firmware = fu_dfu_core_test_load_full(blob, allow_raw, allow_dfuse, &error);
	g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
	g_assert_nonnull(g_strstr_len(error->message, -1, reason));
	g_assert_null(firmware);
}

/* a DfuSe file with two targets, as fwupd writes it (UM0391: the size excludes the suffix) */
static GBytes *
fu_dfu_core_test_dfuse_file(void)
{
	g_autoptr(FuFirmware) firmware = fu_dfuse_firmware_new();
	g_autoptr(FuFirmware) image0 = fu_firmware_new();
	g_autoptr(FuFirmware) image1 = fu_firmware_new();
	g_autoptr(GBytes) data0 = fu_dfu_core_test_image(3000);
	g_autoptr(GBytes) data1 = fu_dfu_core_test_image(16);
	g_autoptr(FuChunk) chk0 = fu_chunk_bytes_new(data0);
	g_autoptr(FuChunk) chk1 = fu_chunk_bytes_new(data1);
	g_autoptr(GError) error = NULL;
	GBytes *blob;

	fu_chunk_set_address(chk0, 0x08004000);
	fu_firmware_add_chunk(image0, chk0);
	fu_firmware_set_idx(image0, 0);
	fu_firmware_set_id(image0, "Internal Flash");
	fu_chunk_set_address(chk1, 0x1FFFC000);
	fu_firmware_add_chunk(image1, chk1);
	fu_firmware_set_idx(image1, 1);
	fu_firmware_set_id(image1, "Option Bytes");
	g_assert_true(fu_firmware_add_image(firmware, image0, &error));
	g_assert_true(fu_firmware_add_image(firmware, image1, &error));
	fu_dfu_firmware_set_vid(FU_DFU_FIRMWARE(firmware), 0x0483);
	fu_dfu_firmware_set_pid(FU_DFU_FIRMWARE(firmware), 0xDF11);
	blob = fu_firmware_write(firmware, &error);
	g_assert_no_error(error);
	g_assert_nonnull(blob);
	return blob;
}

/* @blob loads as the two targets fu_dfu_core_test_dfuse_file() wrote */
static void
fu_dfu_core_test_check_dfuse(GBytes *blob)
{
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GPtrArray) images = NULL;
	g_autoptr(GPtrArray) chunks = NULL;
	g_autoptr(GError) error = NULL;

	firmware = fu_dfu_core_test_load_full(blob, FALSE, TRUE, &error);
	g_assert_no_error(error);
	g_assert_true(FU_IS_DFUSE_FIRMWARE(firmware));
	images = fu_firmware_get_images(firmware);
	g_assert_cmpint(images->len, ==, 2);
	chunks = fu_firmware_get_chunks(g_ptr_array_index(images, 0), &error);
	g_assert_no_error(error);
	g_assert_cmpint(chunks->len, ==, 1);
	g_assert_cmpint(fu_chunk_get_address(g_ptr_array_index(chunks, 0)), ==, 0x08004000);
	g_assert_cmpint(fu_chunk_get_data_sz(g_ptr_array_index(chunks, 0)), ==, 3000);
}

static void
fu_dfu_core_firmware_dfuse_um0391_func(void)
{
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfuse_file();
	fu_dfu_core_test_check_dfuse(blob);
}

/* the same file as dfu-util's dfuse-pack writes it: the prefix size counts the suffix */
static GBytes *
fu_dfu_core_test_dfuse_pack_file(void)
{
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfuse_file();
	g_autoptr(GByteArray) buf = g_byte_array_new();
	guint32 crc;

	fu_byte_array_append_bytes(buf, blob);
	fu_memwrite_uint32(buf->data + FU_STRUCT_DFUSE_HDR_OFFSET_IMAGE_SIZE,
			   buf->len,
			   G_LITTLE_ENDIAN);
	crc = fu_crc32(FU_CRC_KIND_B32_JAMCRC, buf->data, buf->len - 4);
	fu_memwrite_uint32(buf->data + buf->len - 4, crc, G_LITTLE_ENDIAN);
	return g_bytes_new(buf->data, buf->len);
}

static void
fu_dfu_core_firmware_dfuse_pack_func(void)
{
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfuse_pack_file();
	fu_dfu_core_test_check_dfuse(blob);
}

static void
fu_dfu_core_firmware_dfuse_damaged_func(void)
{
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfuse_pack_file();
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GBytes) damaged = NULL;
	g_autoptr(GBytes) truncated = NULL;

	/* a flipped bit fails the CRC of a dfuse-pack file too */
	fu_byte_array_append_bytes(buf, blob);
	buf->data[500] ^= 0x10;
	damaged = g_bytes_new(buf->data, buf->len);
	fu_dfu_core_test_assert_refused(damaged, FALSE, TRUE, "CRC");

	/* a size matching neither reading */
	truncated = g_bytes_new_from_bytes(blob, 0, g_bytes_get_size(blob) - 100);
	fu_dfu_core_test_assert_refused(truncated, FALSE, TRUE, "truncated");
}

static void
fu_dfu_core_firmware_dfu_func(void)
{
	g_autoptr(GBytes) image = fu_dfu_core_test_image(5000);
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfu_file(image, 0x1209, 0x000A);
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GError) error = NULL;

	firmware = fu_dfu_core_test_load(blob, FALSE, &error);
	g_assert_no_error(error);
	g_assert_true(FU_IS_DFU_FIRMWARE(firmware));
	g_assert_cmpint(fu_dfu_firmware_get_vid(FU_DFU_FIRMWARE(firmware)), ==, 0x1209);
	g_assert_cmpint(fu_dfu_firmware_get_pid(FU_DFU_FIRMWARE(firmware)), ==, 0x000A);
	payload = fu_firmware_get_bytes(firmware, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(payload, image));
}

static void
fu_dfu_core_firmware_truncated_func(void)
{
	g_autoptr(GBytes) image = fu_dfu_core_test_image(5000);
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfu_file(image, 0x1209, 0x000A);
	g_autoptr(GBytes) truncated = g_bytes_new_from_bytes(blob, 0, 4096);

	fu_dfu_core_test_assert_refused(truncated, FALSE, FALSE, "truncated");
}

static void
fu_dfu_core_firmware_crc_func(void)
{
	g_autoptr(GBytes) image = fu_dfu_core_test_image(5000);
	g_autoptr(GBytes) blob = fu_dfu_core_test_dfu_file(image, 0x1209, 0x000A);
	g_autoptr(GByteArray) damaged = g_byte_array_new();
	g_autoptr(GBytes) damaged_blob = NULL;

	fu_byte_array_append_bytes(damaged, blob);
	damaged->data[100] ^= 0x01;
	damaged_blob = g_bytes_new(damaged->data, damaged->len);
	fu_dfu_core_test_assert_refused(damaged_blob, FALSE, FALSE, "CRC");
}

static void
fu_dfu_core_firmware_raw_func(void)
{
	gsize size = 0;
	g_autoptr(GBytes) image = fu_dfu_core_test_image(3000);
	g_autoptr(FuFirmware) firmware_raw = NULL;
	g_autoptr(GError) error = NULL;

	/* no suffix: refused unless the device allows raw images */
	fu_dfu_core_test_assert_refused(image, FALSE, FALSE, "no DFU suffix");
	firmware_raw = fu_dfu_core_test_load(image, TRUE, &error);
	g_assert_no_error(error);
	g_assert_nonnull(firmware_raw);
	g_assert_true(fu_dfu_core_firmware_get_image_size(firmware_raw, &size, &error));
	g_assert_no_error(error);
	g_assert_cmpint(size, ==, 3000);
}

static void
fu_dfu_core_firmware_dfuse_func(void)
{
	const gchar *prefix = "DfuSe\x01\x00\x00\x00\x00\x01";
	g_autoptr(GBytes) blob = g_bytes_new_static(prefix, 11);

	fu_dfu_core_test_assert_refused(blob, TRUE, FALSE, "DfuSe");
}

static void
fu_dfu_core_firmware_ihex_func(void)
{
	/* two records with a gap at 0x0004..0x0007, which must read back erased */
	const gchar *hex = ":0400000001020304F2\n"
			   ":0400080005060708DA\n"
			   ":00000001FF\n";
	const guint8 expected[] = {1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 5, 6, 7, 8};
	g_autoptr(GBytes) blob = g_bytes_new_static(hex, strlen(hex));
	g_autoptr(GBytes) truncated = g_bytes_new_static(hex, 40);
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GError) error = NULL;

	firmware = fu_dfu_core_test_load(blob, FALSE, &error);
	g_assert_no_error(error);
	payload = fu_firmware_get_bytes(firmware, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_bytes_get_size(payload), ==, sizeof(expected));
	g_assert_cmpmem(g_bytes_get_data(payload, NULL),
			sizeof(expected),
			expected,
			sizeof(expected));
	fu_dfu_core_test_assert_refused(truncated, FALSE, FALSE, "Intel HEX");
}

static void
fu_dfu_core_firmware_ihex_empty_extended_func(void)
{
	/* extended segment and linear address records that carry no address */
	const gchar *hexes[] = {":00040802F2\n:00000001FF\n", ":00000004FC\n:00000001FF\n"};

	for (guint i = 0; i < G_N_ELEMENTS(hexes); i++) {
		g_autoptr(GBytes) blob = g_bytes_new_static(hexes[i], strlen(hexes[i]));
		fu_dfu_core_test_assert_refused(blob, FALSE, FALSE, "has 0 data bytes, not 2");
	}
}

/* on a memory laid out as @layout, the address of the one element the DfuSe job list makes of
 * @firmware */
static guint32
fu_dfu_core_test_dfuse_address(const gchar *layout, FuFirmware *firmware)
{
	gchar msg[128] = {0};
	const FuDfuCoreDfuseJob *job;
	g_autofree FuDfuCoreDfuseTarget *target = g_new0(FuDfuCoreDfuseTarget, 1);
	g_autoptr(GPtrArray) targets = g_ptr_array_new();
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(
	    dfu_proto_layout_parse(layout, strlen(layout), &target->layout, msg, sizeof(msg)),
	    ==,
	    DFU_PROTO_ERROR_NONE);
	g_ptr_array_add(targets, target);
	jobs = fu_dfu_core_dfuse_jobs_new(targets, firmware, &error);
	g_assert_no_error(error);
	g_assert_nonnull(jobs);
	g_assert_cmpint(jobs->len, ==, 1);
	job = g_ptr_array_index(jobs, 0);
	g_assert_cmpint(job->elements->len, ==, 1);
	return g_array_index(job->elements, DfuProtoElement, 0).address;
}

static void
fu_dfu_core_dfuse_address_zero_func(void)
{
	/* writable from 0x0, a second writable region far above it */
	const gchar *layout = "@Flash /0x00000000/64*1Kg/0x00FE0000/1*64 g";
	const gchar *hex = ":0400000001020304F2\n"
			   ":00000001FF\n";
	g_autoptr(GBytes) image = fu_dfu_core_test_image(64);
	g_autoptr(GBytes) blob = g_bytes_new_static(hex, strlen(hex));
	g_autoptr(FuFirmware) raw = NULL;
	g_autoptr(FuFirmware) ihex = NULL;
	g_autoptr(GError) error = NULL;

	/* a raw image has no address: it goes to the start of the first writable region,
	 * which here begins at 0x0, not to the next region that happens to be above 0 */
	raw = fu_dfu_core_test_load(image, TRUE, &error);
	g_assert_no_error(error);
	g_assert_false(fu_dfu_core_firmware_has_address(raw));
	g_assert_cmphex(fu_dfu_core_test_dfuse_address(layout, raw), ==, 0x00000000);

	/* an Intel HEX file that says 0x0 means 0x0 */
	ihex = fu_dfu_core_test_load(blob, FALSE, &error);
	g_assert_no_error(error);
	g_assert_true(fu_dfu_core_firmware_has_address(ihex));
	g_assert_cmphex(fu_firmware_get_addr(ihex), ==, 0);
	g_assert_cmphex(fu_dfu_core_test_dfuse_address(layout, ihex), ==, 0x00000000);

	/* with the first region read-only, a raw image goes to the writable one */
	g_assert_cmphex(
	    fu_dfu_core_test_dfuse_address("@Flash /0x00000000/64*1Ka/0x00FE0000/1*64 g", raw),
	    ==,
	    0x00FE0000);
}

/* a DfuSe firmware with one image for alt setting 0 holding @n elements */
static FuFirmware *
fu_dfu_core_test_dfuse_elements(const guint32 *addresses, const gsize *sizes, guint n)
{
	g_autoptr(FuFirmware) firmware = fu_dfuse_firmware_new();
	g_autoptr(FuFirmware) image = fu_firmware_new();
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < n; i++) {
		g_autofree guint8 *buf = g_malloc(sizes[i]);
		g_autoptr(GBytes) data = NULL;
		g_autoptr(FuChunk) chk = NULL;
		/* every byte tells which element it belongs to */
		memset(buf, (guint8)(i * 7 + 3), sizes[i]);
		data = g_bytes_new_take(g_steal_pointer(&buf), sizes[i]);
		chk = fu_chunk_bytes_new(data);
		fu_chunk_set_address(chk, addresses[i]);
		fu_firmware_add_chunk(image, chk);
	}
	fu_firmware_set_idx(image, 0);
	g_assert_true(fu_firmware_add_image(firmware, image, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&firmware);
}

/* one memory at alt setting 0 laid out as @layout */
static GPtrArray *
fu_dfu_core_test_dfuse_targets(const gchar *layout)
{
	gchar msg[128] = {0};
	GPtrArray *targets = g_ptr_array_new_with_free_func(g_free);
	FuDfuCoreDfuseTarget *target = g_new0(FuDfuCoreDfuseTarget, 1);

	g_ptr_array_add(targets, target);
	g_assert_cmpint(
	    dfu_proto_layout_parse(layout, strlen(layout), &target->layout, msg, sizeof(msg)),
	    ==,
	    DFU_PROTO_ERROR_NONE);
	return targets;
}

/* a file lists its elements in any order: overlaps are found whatever it is */
static void
fu_dfu_core_dfuse_overlap_func(void)
{
	const gchar *layout = "@Flash /0x08000000/4*1Kg";
	const struct {
		guint32 addresses[3];
		gsize sizes[3];
		guint n;
		const gchar *error; /* NULL: accepted */
	} cases[] = {
	    {{0x08000400, 0x08000000, 0x08000010}, {16, 16, 16}, 3, NULL},
	    {{0x08000010, 0x08000000}, {16, 17}, 2, "overlap at 0x08000010"},
	    {{0x08000000, 0x08000000}, {16, 16}, 2, "overlap at 0x08000000"},
	    {{0x08000020, 0x08000400, 0x08000000}, {4, 16, 64}, 3, "overlap at 0x08000020"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(FuFirmware) firmware =
		    fu_dfu_core_test_dfuse_elements(cases[i].addresses, cases[i].sizes, cases[i].n);
		g_autoptr(GPtrArray) targets = fu_dfu_core_test_dfuse_targets(layout);
		g_autoptr(GPtrArray) jobs = NULL;
		g_autoptr(GError) error = NULL;

		jobs = fu_dfu_core_dfuse_jobs_new(targets, firmware, &error);
		if (cases[i].error == NULL) {
			g_assert_no_error(error);
			g_assert_nonnull(jobs);
			continue;
		}
		g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
		g_assert_nonnull(g_strstr_len(error->message, -1, cases[i].error));
		g_assert_null(jobs);
	}
}

/*
 * 200000 one-byte elements in reverse address order, as a 1.8 MB DfuSe file may hold: the
 * job list sorts them, keeps the file's first address for leaving DFU mode, and the image
 * stream gives each element's byte; the core then plans them. A pairwise overlap check and a
 * per-read element search made this take minutes.
 */
#define FU_DFU_CORE_TEST_MANY_ELEMENTS 200000
static void
fu_dfu_core_dfuse_many_elements_func(void)
{
	const guint n = FU_DFU_CORE_TEST_MANY_ELEMENTS;
	const FuDfuCoreDfuseJob *job;
	DfuProtoDfusePlan plan;
	uint64_t write_bytes = 0;
	g_autofree guint32 *addresses = g_new0(guint32, n);
	g_autofree gsize *sizes = g_new0(gsize, n);
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GPtrArray) targets =
	    fu_dfu_core_test_dfuse_targets("@Flash /0x08000000/1024*1Kg");
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < n; i++) {
		addresses[i] = 0x08000000 + (n - 1 - i) * 4;
		sizes[i] = 1;
	}
	firmware = fu_dfu_core_test_dfuse_elements(addresses, sizes, n);
	jobs = fu_dfu_core_dfuse_jobs_new(targets, firmware, &error);
	g_assert_no_error(error);
	g_assert_nonnull(jobs);
	job = g_ptr_array_index(jobs, 0);
	g_assert_cmpint(job->elements->len, ==, n);
	g_assert_cmphex(job->first_address, ==, addresses[0]);
	for (guint i = 0; i < n; i++) {
		const DfuProtoElement *e = &g_array_index(job->elements, DfuProtoElement, i);
		/* element i of the sorted list is element n - 1 - i of the file */
		guint8 byte = 0;
		g_assert_cmphex(e->address, ==, 0x08000000 + i * 4);
		g_assert_cmpint(e->length, ==, 1);
		g_assert_true(g_seekable_seek(G_SEEKABLE(job->stream),
					      e->image_offset,
					      G_SEEK_SET,
					      NULL,
					      &error));
		g_assert_no_error(error);
		g_assert_cmpint(g_input_stream_read(job->stream, &byte, 1, NULL, &error), ==, 1);
		g_assert_cmpint(byte, ==, (guint8)((n - 1 - i) * 7 + 3));
	}
	g_assert_cmpint(dfu_proto_dfuse_plan_init(&plan,
						  &job->target->layout,
						  (const DfuProtoElement *)job->elements->data,
						  job->elements->len,
						  2048,
						  0,
						  NULL,
						  0),
			==,
			DFU_PROTO_ERROR_NONE);
	dfu_proto_dfuse_plan_get_totals(&plan, NULL, NULL, &write_bytes);
	g_assert_cmpint(write_bytes, ==, n);
}

/* a DfuSe file whose targets (alt settings 0, 1, ...) hold @counts[i] one-byte elements */
static GBytes *
fu_dfu_core_test_dfuse_file_counts(const guint *counts, guint n)
{
	g_autoptr(FuFirmware) firmware = fu_dfuse_firmware_new();
	g_autoptr(GError) error = NULL;
	GBytes *blob;

	for (guint t = 0; t < n; t++) {
		g_autoptr(FuFirmware) image = fu_firmware_new();
		for (guint i = 0; i < counts[t]; i++) {
			const guint8 byte = (guint8)i;
			g_autoptr(GBytes) data = g_bytes_new(&byte, 1);
			g_autoptr(FuChunk) chk = fu_chunk_bytes_new(data);
			fu_chunk_set_address(chk, 0x08000000 + i * 2);
			fu_firmware_add_chunk(image, chk);
		}
		fu_firmware_set_idx(image, t);
		g_assert_true(fu_firmware_add_image(firmware, image, &error));
	}
	blob = fu_firmware_write(firmware, &error);
	g_assert_no_error(error);
	g_assert_nonnull(blob);
	return blob;
}

/* FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX over all targets: at the bound the file loads, one
 * more is refused with the figures named, also when the targets split it */
static void
fu_dfu_core_firmware_dfuse_elements_max_func(void)
{
	const guint max = FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX;
	const struct {
		guint counts[2];
		guint n;
		const gchar *error; /* NULL: accepted */
	} cases[] = {
	    {{max}, 1, NULL},
	    {{max / 2, max - max / 2}, 2, NULL},
	    {{max + 1}, 1, "target 1 of 1 declares 10001"},
	    {{max / 2, max - max / 2 + 1}, 2, "target 2 of 2 declares 5001"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) blob =
		    fu_dfu_core_test_dfuse_file_counts(cases[i].counts, cases[i].n);
		g_autoptr(FuFirmware) firmware = NULL;
		g_autoptr(GError) error = NULL;

		firmware = fu_dfu_core_test_load_full(blob, FALSE, TRUE, &error);
		if (cases[i].error == NULL) {
			g_assert_no_error(error);
			g_assert_nonnull(firmware);
			continue;
		}
		g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
		g_assert_nonnull(g_strstr_len(error->message, -1, cases[i].error));
		g_assert_nonnull(g_strstr_len(error->message, -1, "more than the 10000"));
		g_assert_null(firmware);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dfu-core/firmware/dfu", fu_dfu_core_firmware_dfu_func);
	g_test_add_func("/dfu-core/firmware/truncated", fu_dfu_core_firmware_truncated_func);
	g_test_add_func("/dfu-core/firmware/crc", fu_dfu_core_firmware_crc_func);
	g_test_add_func("/dfu-core/firmware/raw", fu_dfu_core_firmware_raw_func);
	g_test_add_func("/dfu-core/firmware/dfuse", fu_dfu_core_firmware_dfuse_func);
	g_test_add_func("/dfu-core/firmware/ihex", fu_dfu_core_firmware_ihex_func);
	g_test_add_func("/dfu-core/firmware/ihex-empty-extended",
			fu_dfu_core_firmware_ihex_empty_extended_func);
	g_test_add_func("/dfu-core/firmware/dfuse-um0391", fu_dfu_core_firmware_dfuse_um0391_func);
	g_test_add_func("/dfu-core/firmware/dfuse-pack", fu_dfu_core_firmware_dfuse_pack_func);
	g_test_add_func("/dfu-core/firmware/dfuse-damaged",
			fu_dfu_core_firmware_dfuse_damaged_func);
	g_test_add_func("/dfu-core/firmware/dfuse-elements-max",
			fu_dfu_core_firmware_dfuse_elements_max_func);
	g_test_add_func("/dfu-core/dfuse/address-zero", fu_dfu_core_dfuse_address_zero_func);
	g_test_add_func("/dfu-core/dfuse/overlap", fu_dfu_core_dfuse_overlap_func);
	g_test_add_func("/dfu-core/dfuse/many-elements", fu_dfu_core_dfuse_many_elements_func);
	return g_test_run();
}
