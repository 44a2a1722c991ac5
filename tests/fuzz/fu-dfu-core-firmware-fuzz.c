/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for what the dfu-core plugin makes of a firmware file before anything is
 * sent: fu_dfu_core_firmware_load() (.dfu suffix, DfuSe files in both size readings, Intel
 * HEX, raw), then, for a DfuSe device, fu_dfu_core_dfuse_jobs_new() against the STM32F405
 * system bootloader's four memories. The first byte picks the device (bit 0: raw images
 * allowed, bit 1: DfuSe device); the rest is the file.
 *
 * Promises checked: an accepted file's image is no larger than the file, or than 16 MiB for
 * Intel HEX (whose holes are filled), and every job's
 * elements lie entirely in writable memory of their target, back to back in its stream;
 * every failure sets an error.
 */

#include "fu-dfu-core-dfuse.h"
#include "fu-dfu-core-firmware.h"
#include "fu-fuzz-common.h"

/* the STM32F405 system bootloader's alt settings, as the device reports them */
static const gchar *fuzz_layouts[] = {
    "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
    "@Option Bytes  /0x1FFFC000/01*016 e",
    "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
    "@Device Feature/0xFFFF0000/01*004 e",
};

static GPtrArray *
fuzz_targets(void)
{
	GPtrArray *targets = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < G_N_ELEMENTS(fuzz_layouts); i++) {
		FuDfuCoreDfuseTarget *target = g_new0(FuDfuCoreDfuseTarget, 1);
		gchar msg[128] = {0};
		target->alt_setting = i;
		g_assert_cmpint(dfu_proto_layout_parse(fuzz_layouts[i],
						       strlen(fuzz_layouts[i]),
						       &target->layout,
						       msg,
						       sizeof(msg)),
				==,
				DFU_PROTO_ERROR_NONE);
		g_ptr_array_add(targets, target);
	}
	return targets;
}

static void
fuzz_check_jobs(GPtrArray *jobs)
{
	for (guint i = 0; i < jobs->len; i++) {
		FuDfuCoreDfuseJob *job = g_ptr_array_index(jobs, i);
		gsize offset = 0;
		gsize streamsz = 0;

		for (guint j = 0; j < job->elements->len; j++) {
			const DfuProtoElement *element =
			    &g_array_index(job->elements, DfuProtoElement, j);
			g_assert_cmpuint(element->image_offset, ==, offset);
			g_assert_true(
			    dfu_proto_layout_range_has_access(&job->target->layout,
							      element->address,
							      element->length,
							      DFU_PROTO_DFUSE_ACCESS_WRITE));
			offset += element->length;
		}
		g_assert_true(fu_input_stream_size(job->stream, &streamsz, NULL));
		g_assert_cmpuint(streamsz, ==, offset);
	}
}

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size);

int
LLVMFuzzerTestOneInput(const guint8 *data, gsize size)
{
	gboolean allow_raw;
	gboolean dfuse;
	gsize imagesz = 0;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(GPtrArray) targets = NULL;
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;

	if (size < 1)
		return 0;
	allow_raw = (data[0] & 0x01) != 0;
	dfuse = (data[0] & 0x02) != 0;
	blob = g_bytes_new(data + 1, size - 1);
	stream = g_memory_input_stream_new_from_bytes(blob);
	firmware = fu_dfu_core_firmware_load(stream,
					     allow_raw,
					     dfuse,
					     FU_FIRMWARE_PARSE_FLAG_NONE,
					     &error);
	fu_fuzz_check_result(firmware != NULL, error, "firmware load");
	if (firmware == NULL)
		return 0;
	if (!FU_IS_DFUSE_FIRMWARE(firmware)) {
		g_assert_true(fu_dfu_core_firmware_get_image_size(firmware, &imagesz, NULL));
		/* Intel HEX holes are filled, within the loader's bound on the span */
		g_assert_cmpuint(imagesz, <=, MAX(size - 1, 0x1000000));
	}
	if (!dfuse)
		return 0;
	targets = fuzz_targets();
	jobs = fu_dfu_core_dfuse_jobs_new(targets, firmware, &error);
	fu_fuzz_check_result(jobs != NULL, error, "job list");
	if (jobs != NULL)
		fuzz_check_jobs(jobs);
	return 0;
}
