/*
 * The DfuSe model driven directly, with a made-up clock: no umockdev, no sleeping.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#define USBSIM_TEST_OPS usbsim_dfuse_ops()

#include "usbsim-dfuse.h"
#include "usbsim-model-test.h"

#define F4_FLASH  0x08000000u
#define LONG_WAIT (60ll * 1000 * 1000) /* longer than any operation at scale 1.0 */

/* a profile's configuration in DFU mode, for a test to change before make_dfuse_from() */
static void
dfuse_config_init(UsbsimDfuseConfig *config, const gchar *profile)
{
	usbsim_dfuse_config_init(config, usbsim_dfuse_profile_find(profile));
	config->common.initial_mode = USBSIM_DFU_MODE_DFU;
}

/* the model of @config, which is cleared */
static UsbsimDfuse *
make_dfuse_from(UsbsimDfuseConfig *config)
{
	UsbsimDfuse *dfuse = usbsim_dfuse_new(config);
	usbsim_dfuse_config_clear(config);
	return dfuse;
}

static UsbsimDfuse *
make_dfuse(const gchar *profile)
{
	UsbsimDfuseConfig config;
	dfuse_config_init(&config, profile);
	return make_dfuse_from(&config);
}

static UsbsimOutcome
dnload(UsbsimDfuse *dfuse, guint16 value, const guint8 *data, guint16 len, gint64 now_us)
{
	return request_outcome(dfuse, DFU_OUT, USBSIM_DFU_REQUEST_DNLOAD, value, data, len, now_us);
}

static UsbsimOutcome
simple(UsbsimDfuse *dfuse, guint8 req, gint64 now_us)
{
	return request_outcome(dfuse, DFU_OUT, req, 0, NULL, 0, now_us);
}

/* a command or block: DNLOAD, GETSTATUS (dfuDNBUSY), wait, GETSTATUS with the result;
 * returns the poll timeout the first GETSTATUS reported */
static guint32
operation(UsbsimDfuse *dfuse,
	  guint16 value,
	  const guint8 *data,
	  guint16 len,
	  gint64 *now_us,
	  guint8 expected_status)
{
	guint32 poll;
	g_assert_cmpint(dnload(dfuse, value, data, len, *now_us), ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_DNLOAD_SYNC);
	poll = getstatus(dfuse, *now_us + 1000, USBSIM_DFU_STATE_DNBUSY, 0);
	*now_us += LONG_WAIT;
	if (expected_status == USBSIM_DFU_STATUS_OK) {
		getstatus(dfuse, *now_us, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
	} else {
		getstatus(dfuse, *now_us, USBSIM_DFU_STATE_ERROR, expected_status);
		g_assert_cmpint(simple(dfuse, USBSIM_DFU_REQUEST_CLRSTATUS, *now_us),
				==,
				USBSIM_OUTCOME_OK);
	}
	*now_us += 1000;
	return poll;
}

static guint32
command(UsbsimDfuse *dfuse, guint8 cmd, guint32 address, gint64 *now_us, guint8 expected_status)
{
	guint8 buf[5] = {cmd,
			 address & 0xff,
			 (address >> 8) & 0xff,
			 (address >> 16) & 0xff,
			 address >> 24};
	return operation(dfuse, 0, buf, sizeof(buf), now_us, expected_status);
}

static GByteArray *
upload(UsbsimDfuse *dfuse, guint16 value, guint16 len, gint64 now_us, UsbsimOutcome expected)
{
	UsbsimReply reply =
	    request(dfuse, DFU_IN, USBSIM_DFU_REQUEST_UPLOAD, value, NULL, len, now_us);
	g_assert_cmpint(reply.outcome, ==, expected);
	return reply.data;
}

static const guint8 *
flash_at(UsbsimDfuse *dfuse, GBytes **keep, guint32 offset)
{
	/* each call replaces the bytes the previous one kept */
	g_clear_pointer(keep, g_bytes_unref);
	*keep = usbsim_dfuse_get_flash(dfuse);
	return (const guint8 *)g_bytes_get_data(*keep, NULL) + offset;
}

static void
test_layouts(void)
{
	g_autoptr(UsbsimDfuse) f4 = make_dfuse("stm32f4-dfuse");
	g_autoptr(UsbsimDfuse) gd32 = make_dfuse("gd32vf103-dfuse");
	g_autoptr(UsbsimDfuse) f1 = make_dfuse("stm32f1-dfuse");
	g_autoptr(GArray) sectors = g_array_new(FALSE, TRUE, sizeof(UsbsimDfuseSector));
	g_autofree gchar *name = NULL;

	g_assert_cmpstr(usbsim_dfuse_get_layout(f4, 0),
			==,
			"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg");
	g_assert_cmpstr(usbsim_dfuse_get_layout(f4, 1), ==, "@Option Bytes  /0x1FFFC000/01*016 e");
	g_assert_cmpstr(usbsim_dfuse_get_layout(f4, 3), ==, "@Device Feature/0xFFFF0000/01*004 e");
	g_assert_null(usbsim_dfuse_get_layout(f4, 4));
	g_assert_cmpstr(usbsim_dfuse_get_layout(gd32, 0),
			==,
			"@Internal Flash  /0x08000000/512*002Kg");
	g_assert_cmpstr(usbsim_dfuse_get_layout(f1, 0),
			==,
			"@Internal Flash  /0x08000000/016*001Ka,112*001Kg");

	/* a space for the multiplier means bytes; two runs of the OTP alt */
	g_assert_true(
	    usbsim_dfuse_parse_layout("@OTP Memory /0x1FFF7800/01*512 e,01*016 e", sectors, &name));
	g_assert_cmpstr(name, ==, "OTP Memory ");
	g_assert_cmpint(sectors->len, ==, 2);
	g_assert_cmpint(g_array_index(sectors, UsbsimDfuseSector, 1).address, ==, 0x1fff7a00);
	g_assert_cmpint(g_array_index(sectors, UsbsimDfuseSector, 1).size, ==, 16);
	g_assert_cmpint(g_array_index(sectors, UsbsimDfuseSector, 1).access,
			==,
			USBSIM_DFUSE_ACCESS_READ | USBSIM_DFUSE_ACCESS_WRITE);
	g_array_set_size(sectors, 0);
	g_assert_false(usbsim_dfuse_parse_layout("@Broken/0x0800", sectors, NULL));
	g_assert_false(usbsim_dfuse_parse_layout("no at sign", sectors, NULL));
}

static void
test_flash_size(void)
{
	g_autoptr(UsbsimDfuse) f4 = NULL;
	UsbsimDfuseConfig config;
	g_autoptr(GError) error = NULL;
	const UsbsimDfuseProfile *gd32 = usbsim_dfuse_profile_find("gd32vf103-dfuse");

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.profile.flash_size = 512 * 1024;
	f4 = make_dfuse_from(&config);
	g_assert_cmpstr(usbsim_dfuse_get_layout(f4, 0),
			==,
			"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg");
	g_assert_true(usbsim_dfuse_check_flash_size(usbsim_dfuse_profile_find("stm32f4-dfuse"),
						    48 * 1024,
						    NULL));
	g_assert_false(usbsim_dfuse_check_flash_size(usbsim_dfuse_profile_find("stm32f4-dfuse"),
						     40 * 1024,
						     &error));
	g_assert_false(usbsim_dfuse_check_flash_size(gd32, 100 * 1024, NULL));
	g_assert_true(usbsim_dfuse_check_flash_size(gd32, 64 * 1024, NULL));
}

static void
test_descriptors(void)
{
	g_autoptr(UsbsimDfuse) f4 = make_dfuse("stm32f4-dfuse");
	g_autoptr(UsbsimDfuse) gd32 = make_dfuse("gd32vf103-dfuse");
	UsbsimDescription *desc = usbsim_dfuse_ops()->describe(f4);
	UsbsimInterface *iface = usbsim_description_find_interface(desc, 0);
	g_autoptr(GByteArray) serial = NULL;

	g_assert_cmpint(desc->vid, ==, 0x0483);
	g_assert_cmpint(desc->pid, ==, 0xdf11);
	g_assert_cmpint(desc->bcd_device, ==, 0x2200);
	g_assert_cmpint(iface->alts->len, ==, 4);
	/* the functional descriptor once, after the last alt: attributes 0x0B, DfuSe 1.1a */
	g_assert_cmpint(iface->trailer->len, ==, 9);
	g_assert_cmpint(iface->trailer->data[2], ==, 0x0b);
	g_assert_cmpint(iface->trailer->data[3], ==, 255);
	g_assert_cmpint(iface->trailer->data[5] | (iface->trailer->data[6] << 8), ==, 2048);
	g_assert_cmpint(iface->trailer->data[7] | (iface->trailer->data[8] << 8), ==, 0x011a);
	g_assert_cmpint(desc->config_descriptor->len, ==, 54);
	usbsim_description_free(desc);

	/* GD32VF103: an 8-bit serial whose third character codes 128 KiB */
	desc = usbsim_dfuse_ops()->describe(gd32);
	serial = usbsim_description_get_string_descriptor(desc, desc->serial_index);
	g_assert_cmpint(serial->len, ==, 6);
	g_assert_cmpmem(serial->data + 2, 4, "3CBJ", 4);
	usbsim_description_free(desc);
}

static void
test_commands(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("stm32f4-dfuse");
	g_autoptr(GByteArray) list = upload(dfuse, 0, 64, 0, USBSIM_OUTCOME_OK);
	const guint8 expected[] = {0x00, 0x21, 0x41, 0x92};
	gint64 now = 1000;

	g_assert_cmpmem(list->data, list->len, expected, sizeof(expected));
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_DFU_IDLE);
	command(dfuse, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH + 0x4000, &now, 0);
	g_assert_cmpint(usbsim_dfuse_get_address_pointer(dfuse), ==, F4_FLASH + 0x4000);
	/* the command executes on the first GETSTATUS, the second tells the result */
	command(dfuse,
		USBSIM_DFUSE_CMD_SET_ADDRESS,
		0x20000000,
		&now,
		USBSIM_DFU_STATUS_ERR_TARGET);
	g_assert_cmpint(usbsim_dfuse_get_address_pointer(dfuse), ==, F4_FLASH + 0x4000);
	command(dfuse, USBSIM_DFUSE_CMD_ERASE, 0x20000000, &now, USBSIM_DFU_STATUS_ERR_TARGET);
	g_assert_cmpint(usbsim_dfuse_get_flash_log(dfuse)->set_address_commands, ==, 2);

	/* an unknown command and the reserved block 1 stall */
	{
		guint8 bad = 0x55;
		g_assert_cmpint(dnload(dfuse, 0, &bad, 1, now), ==, USBSIM_OUTCOME_STALL);
		g_assert_cmpint(usbsim_dfuse_get_status(dfuse),
				==,
				USBSIM_DFU_STATUS_ERR_STALLEDPKT);
		simple(dfuse, USBSIM_DFU_REQUEST_CLRSTATUS, now);
		g_assert_cmpint(dnload(dfuse, 1, &bad, 1, now), ==, USBSIM_OUTCOME_STALL);
	}
}

/* (wValue - 2) * wLength + pointer: a host sending 256-byte blocks lands them contiguously */
static void
test_block_addresses(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("stm32f4-dfuse");
	g_autoptr(GBytes) keep = NULL;
	g_autoptr(GByteArray) back = NULL;
	guint8 block[256];
	gint64 now = 0;

	command(dfuse, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0);
	command(dfuse, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH + 0x100, &now, 0);
	for (guint16 i = 0; i < 3; i++) {
		memset(block, 0x10 + i, sizeof(block));
		operation(dfuse, 2 + i, block, sizeof(block), &now, 0);
	}
	g_assert_cmpint(flash_at(dfuse, &keep, 0x0ff)[0], ==, 0xff);
	g_assert_cmpint(flash_at(dfuse, &keep, 0x100)[0], ==, 0x10);
	g_assert_cmpint(flash_at(dfuse, &keep, 0x200)[0], ==, 0x11);
	g_assert_cmpint(flash_at(dfuse, &keep, 0x3ff)[0], ==, 0x12);
	g_assert_cmpint(flash_at(dfuse, &keep, 0x400)[0], ==, 0xff);

	/* upload likewise, from dfuIDLE after an abort */
	simple(dfuse, USBSIM_DFU_REQUEST_ABORT, now);
	back = upload(dfuse, 3, 256, now, USBSIM_OUTCOME_OK);
	g_assert_cmpint(back->len, ==, 256);
	g_assert_cmpint(back->data[0], ==, 0x11);
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_UPLOAD_IDLE);
}

static void
test_block_stride_transfer_size(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	g_autoptr(GBytes) keep = NULL;
	guint8 block[100];
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.stride_transfer_size = TRUE;
	dfuse = make_dfuse_from(&config);
	memset(block, 0x42, sizeof(block));
	command(dfuse, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0);
	operation(dfuse, 3, block, sizeof(block), &now, 0);
	g_assert_cmpint(flash_at(dfuse, &keep, 2048)[0], ==, 0x42);
	g_assert_cmpint(flash_at(dfuse, &keep, 100)[0], ==, 0xff);
}

static void
test_permissions(void)
{
	g_autoptr(UsbsimDfuse) f1 = make_dfuse("stm32f1-dfuse");
	g_autoptr(UsbsimDfuse) f4 = make_dfuse("stm32f4-dfuse");
	guint8 block[1024];
	gint64 now = 0;

	memset(block, 0x5a, sizeof(block));
	/* bootloader pages 'a': read-only */
	command(f1, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, USBSIM_DFU_STATUS_ERR_TARGET);
	operation(f1, 2, block, sizeof(block), &now, USBSIM_DFU_STATUS_ERR_TARGET);
	command(f1, USBSIM_DFUSE_CMD_ERASE, F4_FLASH + 0x4000, &now, 0);
	command(f1, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH + 0x4000, &now, 0);
	operation(f1, 2, block, sizeof(block), &now, 0);
	/* a block that runs past the end of the flash */
	command(f1, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH + 128 * 1024 - 512, &now, 0);
	operation(f1, 2, block, sizeof(block), &now, USBSIM_DFU_STATUS_ERR_ADDRESS);
	g_assert_cmpint(usbsim_dfuse_get_stats(f1)->counts.bytes_programmed, ==, 1024);

	/* the OTP alt is writable but not erasable */
	usbsim_dfuse_ops()->set_alt(f4, 0, 2);
	g_assert_cmpint(usbsim_dfuse_get_alt(f4), ==, 2);
	command(f4, USBSIM_DFUSE_CMD_ERASE, 0x1fff7800, &now, USBSIM_DFU_STATUS_ERR_TARGET);
	command(f4, USBSIM_DFUSE_CMD_SET_ADDRESS, 0x1fff7800, &now, 0);
	operation(f4, 2, block, 16, &now, 0);
	/* the internal flash is not where alt 2 looks */
	command(f4, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH, &now, USBSIM_DFU_STATUS_ERR_TARGET);
	usbsim_dfuse_ops()->set_alt(f4, 0, 0);
	command(f4, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0);
}

/* NOR flash: a write over programmed cells ANDs them, and the trace says so */
static void
test_write_without_erase(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("stm32f4-dfuse");
	g_autoptr(GBytes) keep = NULL;
	g_autoptr(GPtrArray) events = NULL;
	guint8 first[4] = {0xf0, 0xf0, 0xff, 0x00};
	guint8 second[4] = {0x3c, 0x0f, 0x12, 0xff};
	gint64 now = 0;
	gboolean seen = FALSE;

	operation(dfuse, 2, first, sizeof(first), &now, 0);
	g_assert_cmpint(usbsim_dfuse_get_flash_log(dfuse)->writes_not_erased, ==, 0);
	operation(dfuse, 2, second, sizeof(second), &now, 0);
	g_assert_cmpint(usbsim_dfuse_get_flash_log(dfuse)->writes_not_erased, ==, 1);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[0], ==, 0x30);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[1], ==, 0x00);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[2], ==, 0x12);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[3], ==, 0x00);
	events = usbsim_dfuse_ops()->take_events(dfuse);
	for (guint i = 0; i < events->len; i++) {
		if (strstr(g_ptr_array_index(events, i), "\"erased\":false") != NULL)
			seen = TRUE;
	}
	g_assert_true(seen);
}

static void
test_reported_times(void)
{
	g_autoptr(UsbsimDfuse) plain = make_dfuse("stm32f4-dfuse");
	g_autoptr(UsbsimDfuse) bogus = NULL;
	g_autoptr(UsbsimDfuse) zero = NULL;
	UsbsimDfuseConfig config;
	guint8 block[2048] = {0};
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.bogus_set_address_timeout = TRUE;
	bogus = make_dfuse_from(&config);
	dfuse_config_init(&config, "stm32f4-dfuse");
	config.zero_poll_timeout = TRUE;
	zero = make_dfuse_from(&config);
	g_assert_cmpint(command(plain, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH, &now, 0), ==, 0);
	g_assert_cmpint(command(bogus, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH, &now, 0), ==, 104);
	/* an erase reports its maximum, a block 104 ms */
	g_assert_cmpint(command(plain, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0), ==, 500);
	g_assert_cmpint(operation(plain, 2, block, sizeof(block), &now, 0), ==, 104);
	g_assert_cmpint(command(zero, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0), ==, 0);

	/* a zero report while the erase really takes time: early polls keep saying 0 */
	g_assert_cmpint(dnload(zero, 0, (const guint8 *)"\x41\x00\x40\x00\x08", 5, now),
			==,
			USBSIM_OUTCOME_OK);
	g_assert_cmpint(getstatus(zero, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0);
	g_assert_cmpint(getstatus(zero, now + 1000, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0);
	g_assert_cmpint(usbsim_dfuse_get_stats(zero)->counts.early_polls, ==, 1);
	getstatus(zero, now + LONG_WAIT, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
}

/* hostile poll timeouts: the figure lies, the work takes its real time all the same */
static void
test_hostile_poll_timeout(void)
{
	g_autoptr(UsbsimDfuse) max = NULL;
	g_autoptr(UsbsimDfuse) alternate = NULL;
	g_autoptr(UsbsimDfuse) random = NULL;
	UsbsimDfuseConfig config;
	const guint8 erase[] = {0x41, 0x00, 0x00, 0x00, 0x08};
	gboolean other = FALSE;
	guint32 first;
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.common.poll = USBSIM_POLL_MAX;
	max = make_dfuse_from(&config);
	dfuse_config_init(&config, "stm32f4-dfuse");
	config.common.poll = USBSIM_POLL_ALTERNATE;
	alternate = make_dfuse_from(&config);
	dfuse_config_init(&config, "stm32f4-dfuse");
	config.common.poll = USBSIM_POLL_RANDOM;
	random = make_dfuse_from(&config);
	/* 0xFFFFFF on every reply, busy or idle, unscaled */
	g_assert_cmpint(dnload(max, 0, erase, sizeof(erase), now), ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(getstatus(max, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0xFFFFFF);
	g_assert_cmpint(getstatus(max, now + 1000, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0xFFFFFF);
	g_assert_cmpint(getstatus(max, now + LONG_WAIT, USBSIM_DFU_STATE_DNLOAD_IDLE, 0),
			==,
			0xFFFFFF);
	g_assert_cmpint(usbsim_dfuse_get_stats(max)->sectors_erased, ==, 1);

	/* 0 and 0xFFFFFF in turn */
	g_assert_cmpint(dnload(alternate, 0, erase, sizeof(erase), now), ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(getstatus(alternate, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0);
	g_assert_cmpint(getstatus(alternate, now + 1000, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0xFFFFFF);
	g_assert_cmpint(getstatus(alternate, now + 2000, USBSIM_DFU_STATE_DNBUSY, 0), ==, 0);
	getstatus(alternate, now + LONG_WAIT, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);

	/* drawn with the seed: not one figure */
	g_assert_cmpint(dnload(random, 0, erase, sizeof(erase), now), ==, USBSIM_OUTCOME_OK);
	first = getstatus(random, now, USBSIM_DFU_STATE_DNBUSY, 0);
	for (guint i = 1; i < 8; i++) {
		guint32 poll = getstatus(random, now + i * 1000, USBSIM_DFU_STATE_DNBUSY, 0);
		g_assert_cmpint(poll, <=, 0xFFFFFF);
		if (poll != first)
			other = TRUE;
	}
	g_assert_true(other);
}

static void
test_short_mass_erase(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	guint8 cmd = USBSIM_DFUSE_CMD_ERASE;
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.short_mass_erase_timeout = TRUE;
	dfuse = make_dfuse_from(&config);
	g_assert_cmpint(dnload(dfuse, 0, &cmd, 1, now), ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 100);
	/* believed, the 100 ms are far too short: the device is still busy */
	now += 100 * 1000;
	g_assert_cmpint(getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0), >, 10000);
	now += LONG_WAIT;
	getstatus(dfuse, now, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);
	g_assert_cmpint(usbsim_dfuse_get_stats(dfuse)->mass_erases, ==, 1);
	g_assert_cmpint(usbsim_dfuse_get_stats(dfuse)->sectors_erased, ==, 12);
	g_assert_cmpint(usbsim_dfuse_get_stats(dfuse)->counts.busy_us, >=, 16000 * 1000);
}

static void
test_stall_early_poll_during_erase(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	UsbsimReply reply;
	gint64 now = 0;
	guint8 block[16] = {0};

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.stall_early_poll_during_erase = TRUE;
	dfuse = make_dfuse_from(&config);
	g_assert_cmpint(dnload(dfuse, 0, (const guint8 *)"\x41\x00\x00\x00\x08", 5, now),
			==,
			USBSIM_OUTCOME_OK);
	getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0);
	reply = request(dfuse, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, now + 1000);
	g_assert_cmpint(reply.outcome, ==, USBSIM_OUTCOME_STALL);
	g_byte_array_unref(reply.data);
	/* the erase goes on and ends well */
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_DNBUSY);
	getstatus(dfuse, now + LONG_WAIT, USBSIM_DFU_STATE_DNLOAD_IDLE, 0);

	/* a data block polled early is answered */
	now += LONG_WAIT + 1000;
	g_assert_cmpint(dnload(dfuse, 2, block, sizeof(block), now), ==, USBSIM_OUTCOME_OK);
	getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0);
	getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0);
}

static void
test_stuck_busy(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.stuck_busy_from = 2;
	dfuse = make_dfuse_from(&config);
	command(dfuse, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH, &now, 0);
	g_assert_cmpint(dnload(dfuse, 0, (const guint8 *)"\x41\x00\x00\x00\x08", 5, now),
			==,
			USBSIM_OUTCOME_OK);
	g_assert_cmpint(getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 500);
	for (guint i = 0; i < 5; i++) {
		now += LONG_WAIT;
		g_assert_cmpint(getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0), ==, 500);
	}
}

static void
test_read_protection(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	g_autoptr(GByteArray) data = NULL;
	g_autoptr(GBytes) keep = NULL;
	const guint8 image[16] = {1, 2, 3, 4};
	guint8 block[16] = {0};
	guint8 cmd = USBSIM_DFUSE_CMD_READ_UNPROTECT;
	gint64 delay_us = 0;
	gint64 now = 0;

	dfuse_config_init(&config, "stm32f4-dfuse");
	config.read_protected = TRUE;
	config.common.flash_in = g_bytes_new(image, sizeof(image));
	dfuse = make_dfuse_from(&config);
	command(dfuse, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, USBSIM_DFU_STATUS_ERR_VENDOR);
	operation(dfuse, 2, block, sizeof(block), &now, USBSIM_DFU_STATUS_ERR_VENDOR);
	{
		guint8 mass = USBSIM_DFUSE_CMD_ERASE;
		operation(dfuse, 0, &mass, 1, &now, USBSIM_DFU_STATUS_ERR_VENDOR);
	}
	simple(dfuse, USBSIM_DFU_REQUEST_ABORT, now);
	data = upload(dfuse, 2, 16, now, USBSIM_OUTCOME_STALL);
	g_assert_cmpint(usbsim_dfuse_get_status(dfuse), ==, USBSIM_DFU_STATUS_ERR_VENDOR);
	simple(dfuse, USBSIM_DFU_REQUEST_CLRSTATUS, now);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[0], ==, 1);

	/* read unprotect: mass erase, then the device resets into the bootloader */
	g_assert_cmpint(dnload(dfuse, 0, &cmd, 1, now), ==, USBSIM_OUTCOME_OK);
	getstatus(dfuse, now, USBSIM_DFU_STATE_DNBUSY, 0);
	g_assert_true(usbsim_dfuse_ops()->pending_reenumeration(dfuse, &delay_us));
	g_assert_cmpint(delay_us, >=, 16000 * 1000);
	usbsim_dfuse_ops()->reenumerate(dfuse, now + delay_us);
	g_assert_false(usbsim_dfuse_get_read_protected(dfuse));
	g_assert_cmpint(usbsim_dfuse_get_mode(dfuse), ==, USBSIM_DFU_MODE_DFU);
	g_assert_cmpint(flash_at(dfuse, &keep, 0)[0], ==, 0xff);
}

static void
test_leave(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("stm32f4-dfuse");
	const guint8 image[0x104] = {[0] = 0x00, [1] = 0x50, [0x100] = 0x34, [0x101] = 0x12};
	gint64 now = 0;
	UsbsimLimits limits = {0};

	command(dfuse, USBSIM_DFUSE_CMD_ERASE, F4_FLASH, &now, 0);
	command(dfuse, USBSIM_DFUSE_CMD_SET_ADDRESS, F4_FLASH, &now, 0);
	operation(dfuse, 2, image, sizeof(image), &now, 0);
	g_assert_cmpint(dnload(dfuse, 2, NULL, 0, now), ==, USBSIM_OUTCOME_OK);
	getstatus(dfuse, now, USBSIM_DFU_STATE_MANIFEST, 0);
	/* gone to the application: nothing answers */
	expect_silent_reenumeration(dfuse, now);
	g_assert_cmpint(usbsim_dfuse_get_mode(dfuse), ==, USBSIM_DFU_MODE_RUNTIME);
	g_assert_cmpint(usbsim_dfuse_get_runtime_version(dfuse), ==, 0x1234);

	usbsim_dfuse_get_limits(dfuse, &limits);
	g_assert_cmpfloat(limits.physical_ms, >, 250.0);
	g_assert_cmpfloat(limits.spec_ms, >=, limits.physical_ms);
	/* the F4 reports more than it takes: the obeying host waits it and reads once more */
	g_assert_cmpfloat(limits.obeying_ms, >, limits.spec_ms);
}

static void
test_leave_erased(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("stm32f4-dfuse");
	gint64 delay_us = 0;

	g_assert_cmpint(dnload(dfuse, 2, NULL, 0, 0), ==, USBSIM_OUTCOME_OK);
	getstatus(dfuse, 0, USBSIM_DFU_STATE_MANIFEST, 0);
	g_assert_true(usbsim_dfuse_ops()->pending_reenumeration(dfuse, &delay_us));
	usbsim_dfuse_ops()->reenumerate(dfuse, delay_us);
	/* no application: the bootloader again */
	g_assert_cmpint(usbsim_dfuse_get_mode(dfuse), ==, USBSIM_DFU_MODE_DFU);
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_DFU_IDLE);
}

/* GD32VF103: leaves on the zero-length DNLOAD and answers no GETSTATUS after it */
static void
test_gd32_silent_leave(void)
{
	g_autoptr(UsbsimDfuse) dfuse = make_dfuse("gd32vf103-dfuse");
	guint8 block[1024];
	gint64 now = 0;

	memset(block, 0x21, sizeof(block));
	/* the real page is 1 KiB whatever the layout string says */
	command(dfuse, USBSIM_DFUSE_CMD_ERASE, F4_FLASH + 0x400, &now, 0);
	g_assert_cmpint(usbsim_dfuse_get_flash_log(dfuse)->erased->len, ==, 1);
	g_assert_cmpint(
	    g_array_index(usbsim_dfuse_get_flash_log(dfuse)->erased, UsbsimRange, 0).size,
	    ==,
	    1024);
	operation(dfuse, 2, block, sizeof(block), &now, 0);
	g_assert_cmpint(dnload(dfuse, 2, NULL, 0, now), ==, USBSIM_OUTCOME_OK);
	expect_no_status(dfuse, now);
	g_assert_cmpint(usbsim_dfuse_get_mode(dfuse), ==, USBSIM_DFU_MODE_RUNTIME);
}

static void
test_stm32f1_runtime(void)
{
	g_autoptr(UsbsimDfuse) dfuse = NULL;
	UsbsimDfuseConfig config;
	UsbsimDescription *desc;
	gint64 delay_us = 0;

	dfuse_config_init(&config, "stm32f1-dfuse");
	config.common.initial_mode = USBSIM_DFU_MODE_RUNTIME;
	dfuse = make_dfuse_from(&config);
	desc = usbsim_dfuse_ops()->describe(dfuse);
	g_assert_cmpint(desc->pid, ==, 0x0015);
	g_assert_nonnull(usbsim_description_find_interface(desc, 1));
	usbsim_description_free(desc);
	g_assert_cmpint(simple(dfuse, USBSIM_DFU_REQUEST_DETACH, 0), ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(usbsim_dfuse_get_state(dfuse), ==, USBSIM_DFU_STATE_APP_DETACH);
	/* willDetach: it leaves the bus by itself */
	g_assert_true(usbsim_dfuse_ops()->pending_reenumeration(dfuse, &delay_us));
	usbsim_dfuse_ops()->reenumerate(dfuse, delay_us);
	g_assert_cmpint(usbsim_dfuse_get_mode(dfuse), ==, USBSIM_DFU_MODE_DFU);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbsim-dfuse/layouts", test_layouts);
	g_test_add_func("/usbsim-dfuse/flash-size", test_flash_size);
	g_test_add_func("/usbsim-dfuse/descriptors", test_descriptors);
	g_test_add_func("/usbsim-dfuse/commands", test_commands);
	g_test_add_func("/usbsim-dfuse/block-addresses", test_block_addresses);
	g_test_add_func("/usbsim-dfuse/block-stride-transfer-size",
			test_block_stride_transfer_size);
	g_test_add_func("/usbsim-dfuse/permissions", test_permissions);
	g_test_add_func("/usbsim-dfuse/write-without-erase", test_write_without_erase);
	g_test_add_func("/usbsim-dfuse/misbehave/reported-times", test_reported_times);
	g_test_add_func("/usbsim-dfuse/misbehave/hostile-poll-timeout", test_hostile_poll_timeout);
	g_test_add_func("/usbsim-dfuse/misbehave/short-mass-erase", test_short_mass_erase);
	g_test_add_func("/usbsim-dfuse/misbehave/stall-early-poll-during-erase",
			test_stall_early_poll_during_erase);
	g_test_add_func("/usbsim-dfuse/misbehave/stuck-busy", test_stuck_busy);
	g_test_add_func("/usbsim-dfuse/read-protection", test_read_protection);
	g_test_add_func("/usbsim-dfuse/leave", test_leave);
	g_test_add_func("/usbsim-dfuse/leave-erased", test_leave_erased);
	g_test_add_func("/usbsim-dfuse/gd32-silent-leave", test_gd32_silent_leave);
	g_test_add_func("/usbsim-dfuse/stm32f1-runtime", test_stm32f1_runtime);
	return g_test_run();
}
