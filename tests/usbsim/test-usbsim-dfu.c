/*
 * The DFU model driven directly, with a made-up clock: no umockdev, no sleeping.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#define USBSIM_TEST_OPS usbsim_dfu_ops()

#include "usbsim-dfu.h"
#include "usbsim-model-test.h"

/* a profile's configuration starting in @mode, for a test to change before make_dfu_from() */
static void
dfu_config_init(UsbsimDfuConfig *config, const gchar *profile, UsbsimDfuMode mode)
{
	usbsim_dfu_config_init(config, usbsim_dfu_profile_find(profile));
	config->common.initial_mode = mode;
}

/* the model of @config, which is cleared */
static UsbsimDfu *
make_dfu_from(UsbsimDfuConfig *config)
{
	UsbsimDfu *dfu = usbsim_dfu_new(config);
	usbsim_dfu_config_clear(config);
	return dfu;
}

static UsbsimDfu *
make_dfu(const gchar *profile, UsbsimDfuMode mode)
{
	UsbsimDfuConfig config;
	dfu_config_init(&config, profile, mode);
	return make_dfu_from(&config);
}

static GByteArray *
make_image(gsize len)
{
	GByteArray *buf = g_byte_array_sized_new(len);
	for (gsize i = 0; i < len; i++) {
		guint8 b = (i * 7 + 3) & 0xff;
		g_byte_array_append(buf, &b, 1);
	}
	/* the application version at 0x100 */
	if (len > 0x101) {
		buf->data[0x100] = 0x34;
		buf->data[0x101] = 0x12;
	}
	return buf;
}

/* downloads an image block by block, polling as an obedient host; returns the time after */
static gint64
download(UsbsimDfu *dfu, GByteArray *image, guint16 transfer_size, gint64 now_us)
{
	guint16 block = 0;
	for (gsize off = 0; off < image->len; off += transfer_size, block++) {
		guint16 len = MIN(transfer_size, image->len - off);
		guint32 poll;
		g_assert_cmpint(request_outcome(dfu,
						DFU_OUT,
						USBSIM_DFU_REQUEST_DNLOAD,
						block,
						image->data + off,
						len,
						now_us),
				==,
				USBSIM_OUTCOME_OK);
		g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_DNLOAD_SYNC);
		now_us += 1000;
		poll = getstatus(dfu, now_us, USBSIM_DFU_STATE_DNBUSY, 0);
		g_assert_cmpint(poll, >, 0);
		/* wait long enough for the slowest draw */
		now_us += 2000 * 1000;
		getstatus(dfu, now_us, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
	}
	return now_us;
}

static void
test_descriptors(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_RUNTIME);
	UsbsimDescription *desc = usbsim_dfu_ops()->describe(dfu);
	UsbsimInterface *iface = usbsim_description_find_interface(desc, 1);
	UsbsimAltSetting *alt;
	g_autoptr(GByteArray) str = NULL;

	g_assert_cmpint(desc->pid, ==, 0x0010);
	g_assert_nonnull(iface);
	alt = g_ptr_array_index(iface->alts, 0);
	g_assert_cmpint(alt->class_code, ==, 0xfe);
	g_assert_cmpint(alt->protocol, ==, 0x01);
	g_assert_cmpint(alt->extra->len, ==, 9);
	g_assert_cmpint(alt->extra->data[1], ==, 0x21);
	g_assert_cmpint(alt->extra->data[5] | (alt->extra->data[6] << 8), ==, 1024);
	/* device descriptor + configuration with two interfaces and the functional descriptor */
	g_assert_cmpint(desc->device_descriptor->len, ==, 18);
	g_assert_cmpint(desc->config_descriptor->len, ==, 9 + 9 + 9 + 9);
	str = usbsim_description_get_string_descriptor(desc, desc->product_index);
	g_assert_nonnull(str);
	g_assert_cmpint(str->data[1], ==, 3);
	usbsim_description_free(desc);
}

static void
test_functional_descriptor_placement(void)
{
	g_autoptr(UsbsimDfu) spec = NULL;
	g_autoptr(UsbsimDfu) every = NULL;
	UsbsimDfuConfig config;
	UsbsimDescription *desc;
	UsbsimInterface *iface;
	const guint8 *cfg;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.common.alts = 3;
	spec = make_dfu_from(&config);
	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.common.alts = 3;
	config.common.func_desc_every_alt = TRUE;
	every = make_dfu_from(&config);
	desc = usbsim_dfu_ops()->describe(spec);
	iface = usbsim_description_find_interface(desc, 0);
	g_assert_cmpint(iface->alts->len, ==, 3);
	for (guint i = 0; i < 3; i++) {
		UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, i);
		g_assert_cmpint(alt->extra->len, ==, 0);
		g_assert_cmpint(alt->protocol, ==, 0x02);
		g_assert_nonnull(alt->name);
	}
	g_assert_cmpint(iface->trailer->len, ==, 9);
	/* the last 9 bytes of the configuration are the functional descriptor */
	cfg = desc->config_descriptor->data;
	g_assert_cmpint(desc->config_descriptor->len, ==, 9 + 3 * 9 + 9);
	g_assert_cmpint(cfg[desc->config_descriptor->len - 8], ==, 0x21);
	usbsim_description_free(desc);

	desc = usbsim_dfu_ops()->describe(every);
	iface = usbsim_description_find_interface(desc, 0);
	for (guint i = 0; i < 3; i++) {
		UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, i);
		g_assert_cmpint(alt->extra->len, ==, 9);
	}
	g_assert_cmpint(iface->trailer->len, ==, 0);
	usbsim_description_free(desc);
}

static void
test_download_manifest_tolerant(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	g_autoptr(GByteArray) image = make_image(3000);
	g_autoptr(GBytes) flash = NULL;
	const UsbsimDfuStats *stats = usbsim_dfu_get_stats(dfu);
	gint64 now_us = 1000000;
	const guint8 *data;

	now_us = download(dfu, image, 1024, now_us);
	g_assert_cmpint(stats->pages_erased, ==, 3);
	g_assert_cmpint(stats->counts.bytes_programmed, ==, 3000);
	g_assert_cmpint(stats->counts.early_polls, ==, 0);

	/* zero-length download: manifestation, done at once for a tolerant device */
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 3, NULL, 0, now_us),
	    ==,
	    USBSIM_OUTCOME_OK);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_MANIFEST_SYNC);
	getstatus(dfu, now_us, USBSIM_DFU_STATE_DFU_IDLE, 0);

	flash = usbsim_dfu_get_flash(dfu);
	data = g_bytes_get_data(flash, NULL);
	g_assert_cmpmem(data, 3000, image->data, 3000);
	g_assert_cmpint(data[3000], ==, 0xff);

	/* a reset boots the new image, whose version is at 0x100 */
	g_assert_true(usbsim_dfu_ops()->usb_reset(dfu, now_us));
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_RUNTIME);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_APP_IDLE);
	g_assert_cmpint(usbsim_dfu_get_runtime_version(dfu), ==, 0x1234);
}

/* downloads SIZE bytes in 2048-byte blocks (GD32VF103) and ends the download with the
 * zero-length DNLOAD that starts manifestation; returns the time after */
static gint64
download_and_end(UsbsimDfu *dfu, gsize size)
{
	g_autoptr(GByteArray) image = make_image(size);
	gint64 now_us = download(dfu, image, 2048, 1000000);
	guint16 blocks = (size + 2047) / 2048;

	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, blocks, NULL, 0, now_us),
	    ==,
	    USBSIM_OUTCOME_OK);
	return now_us;
}

static void
test_download_manifest_wait_reset(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	gint64 now_us;
	guint32 poll;

	dfu_config_init(&config, "gd32vf103-dfu", USBSIM_DFU_MODE_DFU);
	config.manifest_tolerant = FALSE;
	dfu = make_dfu_from(&config);
	now_us = download_and_end(dfu, 5000);
	g_assert_cmpint(usbsim_dfu_get_stats(dfu)->pages_erased, ==, 5);
	poll = getstatus(dfu, now_us, USBSIM_DFU_STATE_MANIFEST, 0);
	g_assert_cmpint(poll, ==, 10);
	/* polled before the manifestation is over: still busy, recorded as early */
	getstatus(dfu, now_us + 1000, USBSIM_DFU_STATE_MANIFEST, 0);
	g_assert_cmpint(usbsim_dfu_get_stats(dfu)->counts.early_polls, ==, 1);
	getstatus(dfu, now_us + 20000, USBSIM_DFU_STATE_MANIFEST_WAIT_RESET, 0);
	/* anything but a status request is ignored while waiting for the reset */
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_ABORT, 0, NULL, 0, now_us + 30000),
	    ==,
	    USBSIM_OUTCOME_STALL);
	g_assert_true(usbsim_dfu_ops()->usb_reset(dfu, now_us + 40000));
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_RUNTIME);
}

static void
test_download_manifest_reset(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	g_autoptr(UsbsimDescription) desc = NULL;
	gint64 now_us;
	gint64 delay_us = 0;

	dfu_config_init(&config, "gd32vf103-dfu", USBSIM_DFU_MODE_DFU);
	config.manifest_tolerant = FALSE;
	config.ending = USBSIM_DFU_ENDING_RESET;
	config.app_has_dfu = FALSE;
	dfu = make_dfu_from(&config);
	now_us = download_and_end(dfu, 2048);
	/* nothing happens before the manifestation's status is read */
	g_assert_false(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	getstatus(dfu, now_us, USBSIM_DFU_STATE_MANIFEST, 0);
	/* it resets by itself once manifested, never waiting for a reset */
	getstatus(dfu, now_us + 20000, USBSIM_DFU_STATE_MANIFEST, 0);
	g_assert_true(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	g_assert_cmpint(delay_us, ==, 10000);
	usbsim_dfu_ops()->reenumerate(dfu, now_us + 30000);
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_RUNTIME);
	g_assert_false(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	/* the application has only its own interface, and no DFU request reaches the model */
	desc = usbsim_dfu_ops()->describe(dfu);
	g_assert_cmpint(desc->interfaces->len, ==, 1);
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DETACH, 1000, NULL, 0, now_us),
	    ==,
	    USBSIM_OUTCOME_STALL);
}

static void
test_download_manifest_refused(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	gint64 now_us;
	gint64 delay_us = 0;

	dfu_config_init(&config, "gd32vf103-dfu", USBSIM_DFU_MODE_DFU);
	config.manifest_tolerant = FALSE;
	config.ending = USBSIM_DFU_ENDING_RESET;
	config.manifest_status = USBSIM_DFU_STATUS_ERR_FIRMWARE;
	dfu = make_dfu_from(&config);
	now_us = download_and_end(dfu, 2048);
	/* the image check says why, the device stays in DFU mode and starts nothing */
	getstatus(dfu, now_us, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_FIRMWARE);
	g_assert_false(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	g_assert_false(usbsim_dfu_ops()->usb_reset(dfu, now_us + 1000));
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_DFU);
}

static void
test_download_manifest_silent(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	gint64 now_us;

	dfu_config_init(&config, "gd32vf103-dfu", USBSIM_DFU_MODE_DFU);
	config.manifest_tolerant = FALSE;
	config.ending = USBSIM_DFU_ENDING_SILENT;
	dfu = make_dfu_from(&config);
	now_us = download_and_end(dfu, 2048);
	expect_silent_reenumeration(dfu, now_us);
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_RUNTIME);
	g_assert_cmpint(usbsim_dfu_get_runtime_version(dfu), ==, 0x1234);
}

static void
test_reported_and_real_busy_times(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	g_autoptr(UsbsimDfu) gd32 = make_dfu("gd32vf103-dfu", USBSIM_DFU_MODE_DFU);
	g_autoptr(GByteArray) image = make_image(2048);
	const UsbsimDfuStats *stats = usbsim_dfu_get_stats(dfu);
	gint64 busy_until;

	/* STM32F1: one page erase (20 ms) and a 1 KiB block (27 ms) */
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	g_assert_cmpint(getstatus(dfu, 0, USBSIM_DFU_STATE_DNBUSY, 0), ==, 47);
	/* erase 20..40 ms, 512 half-words at 52.5..70 us */
	g_assert_cmpint(stats->counts.busy_us, >=, 20000 + 26880);
	g_assert_cmpint(stats->counts.busy_us, <=, 40000 + 35840);
	busy_until = usbsim_dfu_ops()->busy_until(dfu);
	g_assert_cmpint(busy_until, ==, stats->counts.busy_us);

	/* GD32VF103: two page erases (100 ms each) and a 2 KiB block (104 ms) */
	request_outcome(gd32, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 2048, 0);
	g_assert_cmpint(getstatus(gd32, 0, USBSIM_DFU_STATE_DNBUSY, 0), ==, 304);
	g_assert_cmpint(usbsim_dfu_get_stats(gd32)->counts.busy_us, >=, 2 * 50000 + 512 * 37);
	g_assert_cmpint(usbsim_dfu_get_stats(gd32)->counts.busy_us, <=, 2 * 400000 + 512 * 105);
}

/* a hostile poll timeout: 0xFFFFFF in every reply, the block still programmed in its time */
static void
test_hostile_poll_timeout(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	g_autoptr(GByteArray) image = make_image(1024);

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.common.poll = USBSIM_POLL_MAX;
	dfu = make_dfu_from(&config);
	g_assert_cmpint(getstatus(dfu, 0, USBSIM_DFU_STATE_DFU_IDLE, 0), ==, 0xFFFFFF);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	g_assert_cmpint(getstatus(dfu, 0, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0xFFFFFF);
	g_assert_cmpint(getstatus(dfu, 1000000, USBSIM_DFU_STATE_DNLOAD_IDLE, 0), ==, 0xFFFFFF);
	g_assert_cmpint(usbsim_dfu_get_stats(dfu)->counts.bytes_programmed, ==, 1024);
}

/* usbsim_poll_sequence_us(): the status reads and waits of a host that obeys exactly */
static void
test_poll_sequence(void)
{
	gdouble status_us = usbsim_bus_cost_us(6);

	/* done at once: the read that starts it and the one that sees it done */
	g_assert_cmpfloat_with_epsilon(usbsim_poll_sequence_us(0, 0, TRUE), 2 * status_us, 0.001);
	/* over-reported: one wait of the reported time */
	g_assert_cmpfloat_with_epsilon(usbsim_poll_sequence_us(10000, 104, TRUE),
				       2 * status_us + 104000,
				       0.001);
	/* under-reported: a second read says 9 ms are left (8.99 rounded up) */
	g_assert_cmpfloat_with_epsilon(usbsim_poll_sequence_us(30000, 20, TRUE),
				       3 * status_us + 20000 + 9000,
				       0.001);
	/* a device that always reports 0 is read back to back: three more reads pass 2.5 ms */
	g_assert_cmpfloat_with_epsilon(usbsim_poll_sequence_us(2500, 0, FALSE),
				       4 * status_us,
				       0.001);
}

/* the obeying host's figure is what such a host takes against the model, read by read */
static void
test_obeying_host_limit(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	g_autoptr(GByteArray) image = make_image(1024);
	gdouble status_us = usbsim_bus_cost_us(6);
	gdouble now_us = 0;
	guint reads = 0;
	UsbsimLimits limits = {0};
	guint32 poll;

	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	now_us += usbsim_bus_cost_us(1024);
	poll = getstatus(dfu, (gint64)now_us, USBSIM_DFU_STATE_DNBUSY, 0);
	for (;;) {
		UsbsimReply reply;
		now_us += status_us + poll * 1000.0;
		reads++;
		reply = request(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, now_us);
		g_assert_cmpint(reply.outcome, ==, USBSIM_OUTCOME_OK);
		poll = reply.data->data[1] | (reply.data->data[2] << 8);
		if (reply.data->data[4] == USBSIM_DFU_STATE_DNLOAD_IDLE) {
			g_byte_array_unref(reply.data);
			break;
		}
		g_assert_cmpint(reply.data->data[4], ==, USBSIM_DFU_STATE_DNBUSY);
		g_byte_array_unref(reply.data);
	}
	now_us += status_us;

	/* the profile reports 47 ms for the erase and the block, the real time is longer */
	g_assert_cmpint(reads, >=, 2);
	usbsim_dfu_get_limits(dfu, &limits);
	g_assert_cmpfloat_with_epsilon(limits.obeying_ms, now_us / 1000.0, 0.002);
	g_assert_cmpfloat(limits.obeying_ms, >, limits.spec_ms);
	g_assert_cmpfloat(limits.spec_ms, >=, limits.physical_ms);
}

static void
test_early_poll_time_scale(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	g_autoptr(GByteArray) image = make_image(1024);
	const UsbsimDfuStats *stats;
	guint32 poll;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.common.time_scale = 0.02;
	dfu = make_dfu_from(&config);
	stats = usbsim_dfu_get_stats(dfu);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	/* 47 ms at scale 0.02 is 0.94 ms, reported as 1 ms */
	g_assert_cmpint(getstatus(dfu, 0, USBSIM_DFU_STATE_DNBUSY, 0), ==, 1);
	g_assert_cmpint(stats->counts.busy_us, >=, (20000 + 26880) / 50);
	g_assert_cmpint(stats->counts.busy_us, <=, (40000 + 35840) / 50);
	/* an early poll gets the remaining time */
	poll = getstatus(dfu, 100, USBSIM_DFU_STATE_DNBUSY, 0);
	g_assert_cmpint(poll, >=, 1);
	g_assert_cmpint(stats->counts.early_polls, ==, 1);
	getstatus(dfu, 10000, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
}

static void
test_early_poll_stalls(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	g_autoptr(GByteArray) image = make_image(1024);

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.common.early_poll_stalls = TRUE;
	dfu = make_dfu_from(&config);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	getstatus(dfu, 0, USBSIM_DFU_STATE_DNBUSY, 0);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, 10),
			==,
			USBSIM_OUTCOME_STALL);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_ERROR);
	g_assert_cmpint(usbsim_dfu_get_status(dfu), ==, USBSIM_DFU_STATUS_ERR_STALLEDPKT);
}

static void
test_invalid_requests(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	g_autoptr(GByteArray) image = make_image(2048);
	guint8 state = 0xff;
	UsbsimReply reply;

	/* a zero-length download in dfuIDLE is not allowed */
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_STALL);
	getstatus(dfu, 0, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_STALLEDPKT);
	/* dfuERROR needs CLRSTATUS: everything else stalls */
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0),
	    ==,
	    USBSIM_OUTCOME_STALL);
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_ABORT, 0, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_STALL);
	reply = request(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATE, 0, NULL, 1, 0);
	g_assert_cmpint(reply.outcome, ==, USBSIM_OUTCOME_OK);
	state = reply.data->data[0];
	g_byte_array_unref(reply.data);
	g_assert_cmpint(state, ==, USBSIM_DFU_STATE_ERROR);
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_CLRSTATUS, 0, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_OK);
	getstatus(dfu, 0, USBSIM_DFU_STATE_DFU_IDLE, 0);

	/* more than wTransferSize */
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 2048, 0),
	    ==,
	    USBSIM_OUTCOME_STALL);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_CLRSTATUS, 0, NULL, 0, 0);

	/* UPLOAD in dfuDNLOAD-IDLE and DETACH in DFU mode are not allowed */
	download(dfu, image, 1024, 0);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, 0, NULL, 1024, 0),
			==,
			USBSIM_OUTCOME_STALL);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_ERROR);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_CLRSTATUS, 0, NULL, 0, 0);
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DETACH, 1000, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_STALL);
	/* requests with the wrong direction stall */
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_STALL);

	/* nor is DNLOAD allowed in dfuUPLOAD-IDLE */
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_CLRSTATUS, 0, NULL, 0, 0);
	getstatus(dfu, 0, USBSIM_DFU_STATE_DFU_IDLE, 0);
	request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, 0, NULL, 1024, 0);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_UPLOAD_IDLE);
	g_assert_cmpint(
	    request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0),
	    ==,
	    USBSIM_OUTCOME_STALL);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_ERROR);
}

static void
test_upload(void)
{
	g_autoptr(GByteArray) image = make_image(4096);
	UsbsimDfuConfig config;
	g_autoptr(UsbsimDfu) dfu = NULL;
	g_autoptr(GByteArray) uploaded = g_byte_array_new();
	guint16 block = 0;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.profile.flash_size = 4096;
	config.common.flash_in = g_bytes_new(image->data, image->len);
	dfu = make_dfu_from(&config);

	for (;;) {
		UsbsimReply reply =
		    request(dfu, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, block++, NULL, 1024, 0);
		guint len = reply.data->len;
		g_assert_cmpint(reply.outcome, ==, USBSIM_OUTCOME_OK);
		g_byte_array_append(uploaded, reply.data->data, len);
		g_byte_array_unref(reply.data);
		if (len < 1024)
			break;
		g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_UPLOAD_IDLE);
	}
	/* the short (here empty) block ended the upload */
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_DFU_IDLE);
	g_assert_cmpmem(uploaded->data, uploaded->len, image->data, image->len);
}

static void
test_upload_disabled(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.can_upload = FALSE;
	dfu = make_dfu_from(&config);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, 0, NULL, 1024, 0),
			==,
			USBSIM_OUTCOME_STALL);
	getstatus(dfu, 0, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_STALLEDPKT);
}
static void
test_runtime_detach(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_RUNTIME);
	gint64 delay_us = 0;

	getstatus(dfu, 0, USBSIM_DFU_STATE_APP_IDLE, 0);
	/* a reset without a detach changes nothing */
	g_assert_false(usbsim_dfu_ops()->usb_reset(dfu, 0));
	g_assert_cmpint(request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DETACH, 1000, NULL, 0, 0),
			==,
			USBSIM_OUTCOME_OK);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_APP_DETACH);
	g_assert_false(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	/* the reset comes within wDetachTimeOut */
	g_assert_true(usbsim_dfu_ops()->usb_reset(dfu, 500000));
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_DFU);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_DFU_IDLE);
	/* no valid image: a reset keeps the bootloader, in dfuERROR with errFIRMWARE */
	g_assert_false(usbsim_dfu_ops()->usb_reset(dfu, 600000));
	getstatus(dfu, 600000, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_FIRMWARE);
}

static void
test_runtime_detach_timeout(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_RUNTIME);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DETACH, 1000, NULL, 0, 0);
	/* too late: back to appIDLE */
	g_assert_false(usbsim_dfu_ops()->usb_reset(dfu, 2000000));
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_RUNTIME);
	g_assert_cmpint(usbsim_dfu_get_state(dfu), ==, USBSIM_DFU_STATE_APP_IDLE);
}

static void
test_runtime_will_detach(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	gint64 delay_us = 0;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_RUNTIME);
	config.will_detach = TRUE;
	dfu = make_dfu_from(&config);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DETACH, 1000, NULL, 0, 0);
	g_assert_true(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
	g_assert_cmpint(delay_us, >, 0);
	usbsim_dfu_ops()->reenumerate(dfu, delay_us);
	g_assert_cmpint(usbsim_dfu_get_mode(dfu), ==, USBSIM_DFU_MODE_DFU);
	g_assert_false(usbsim_dfu_ops()->pending_reenumeration(dfu, &delay_us));
}

static void
test_faults(void)
{
	g_autoptr(UsbsimDfu) dfu = NULL;
	UsbsimDfuConfig config;
	g_autoptr(GByteArray) image = make_image(1024);
	g_autoptr(GByteArray) second = make_image(2048);
	UsbsimReply reply;

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	const gchar *specs[] = {"errVERIFY:dnload:2",
				"stall:getstatus:1",
				"timeout:getstate:1",
				"unplug:upload:1",
				"short:getstatus:5"};
	for (guint i = 0; i < G_N_ELEMENTS(specs); i++) {
		UsbsimFault fault;
		g_autoptr(GError) error = NULL;
		g_assert_true(usbsim_fault_parse(specs[i], &fault, &error));
		g_assert_no_error(error);
		g_array_append_val(config.common.faults, fault);
	}
	dfu = make_dfu_from(&config);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, 0),
			==,
			USBSIM_OUTCOME_STALL);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATE, 0, NULL, 1, 0),
			==,
			USBSIM_OUTCOME_TIMEOUT);
	download(dfu, image, 1024, 0);
	/* the second block is taken, programming it fails: the next GETSTATUS says why */
	g_assert_cmpint(request_outcome(dfu,
					DFU_OUT,
					USBSIM_DFU_REQUEST_DNLOAD,
					1,
					second->data + 1024,
					1024,
					0),
			==,
			USBSIM_OUTCOME_OK);
	getstatus(dfu, 0, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_VERIFY);
	g_assert_cmpint(usbsim_dfu_get_stats(dfu)->counts.bytes_programmed, ==, 1024);
	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_CLRSTATUS, 0, NULL, 0, 0);
	reply = request(dfu, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, 0);
	g_assert_cmpint(reply.data->len, ==, 3);
	g_byte_array_unref(reply.data);
	g_assert_cmpint(request_outcome(dfu, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, 0, NULL, 1024, 0),
			==,
			USBSIM_OUTCOME_UNPLUGGED);
	g_assert_cmpint(usbsim_dfu_get_stats(dfu)->counts.faults_fired, ==, 5);
}

static void
test_fault_parse(void)
{
	UsbsimFault fault;
	g_autoptr(GError) error = NULL;

	g_assert_true(usbsim_fault_parse("errADDRESS:any:7", &fault, &error));
	g_assert_cmpint(fault.kind, ==, USBSIM_FAULT_STATUS);
	g_assert_cmpint(fault.status, ==, USBSIM_DFU_STATUS_ERR_ADDRESS);
	g_assert_cmpint(fault.request, ==, USBSIM_DFU_REQUEST_ANY);
	g_assert_cmpint(fault.count, ==, 7);
	g_assert_false(usbsim_fault_parse("stall:dnload:0", &fault, &error));
	g_clear_error(&error);
	g_assert_false(usbsim_fault_parse("melt:dnload:1", &fault, &error));
	g_clear_error(&error);
	g_assert_false(usbsim_fault_parse("stall:bogus:1", &fault, &error));
	g_clear_error(&error);
	g_assert_false(usbsim_fault_parse("stall:dnload", &fault, &error));
}

static void
test_address_overflow(void)
{
	UsbsimDfuConfig config;
	g_autoptr(UsbsimDfu) dfu = NULL;
	g_autoptr(GByteArray) image = make_image(2048);

	dfu_config_init(&config, "stm32f1-dfu", USBSIM_DFU_MODE_DFU);
	config.profile.flash_size = 1024;
	dfu = make_dfu_from(&config);

	request_outcome(dfu, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, 0, image->data, 1024, 0);
	getstatus(dfu, 0, USBSIM_DFU_STATE_DNBUSY, 0);
	getstatus(dfu, 1000000, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
	request_outcome(dfu,
			DFU_OUT,
			USBSIM_DFU_REQUEST_DNLOAD,
			1,
			image->data + 1024,
			1024,
			1000000);
	getstatus(dfu, 1000000, USBSIM_DFU_STATE_ERROR, USBSIM_DFU_STATUS_ERR_ADDRESS);
}

static void
test_version_fallback(void)
{
	g_autoptr(UsbsimDfu) dfu = make_dfu("stm32f1-dfu", USBSIM_DFU_MODE_RUNTIME);
	UsbsimDescription *desc = usbsim_dfu_ops()->describe(dfu);
	/* erased flash: the runtime reports --bcd-device */
	g_assert_cmpint(desc->bcd_device, ==, 0x0100);
	usbsim_description_free(desc);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbsim/descriptors", test_descriptors);
	g_test_add_func("/usbsim/hostile-poll-timeout", test_hostile_poll_timeout);
	g_test_add_func("/usbsim/functional-descriptor-placement",
			test_functional_descriptor_placement);
	g_test_add_func("/usbsim/download/manifest-tolerant", test_download_manifest_tolerant);
	g_test_add_func("/usbsim/download/manifest-wait-reset", test_download_manifest_wait_reset);
	g_test_add_func("/usbsim/download/manifest-reset", test_download_manifest_reset);
	g_test_add_func("/usbsim/download/manifest-silent", test_download_manifest_silent);
	g_test_add_func("/usbsim/download/manifest-refused", test_download_manifest_refused);
	g_test_add_func("/usbsim/timing/reported-and-real", test_reported_and_real_busy_times);
	g_test_add_func("/usbsim/timing/early-poll-scaled", test_early_poll_time_scale);
	g_test_add_func("/usbsim/timing/poll-sequence", test_poll_sequence);
	g_test_add_func("/usbsim/timing/obeying-host", test_obeying_host_limit);
	g_test_add_func("/usbsim/timing/early-poll-stalls", test_early_poll_stalls);
	g_test_add_func("/usbsim/state/invalid-requests", test_invalid_requests);
	g_test_add_func("/usbsim/upload", test_upload);
	g_test_add_func("/usbsim/upload/disabled", test_upload_disabled);
	g_test_add_func("/usbsim/runtime/detach", test_runtime_detach);
	g_test_add_func("/usbsim/runtime/detach-timeout", test_runtime_detach_timeout);
	g_test_add_func("/usbsim/runtime/will-detach", test_runtime_will_detach);
	g_test_add_func("/usbsim/faults", test_faults);
	g_test_add_func("/usbsim/faults/parse", test_fault_parse);
	g_test_add_func("/usbsim/address-overflow", test_address_overflow);
	g_test_add_func("/usbsim/version-fallback", test_version_fallback);
	return g_test_run();
}
