/*
 * The COBS bootloader model driven directly, with a made-up clock: no umockdev, no sleeping.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "usbsim-cobs.h"

#define S_US 1000000

static UsbsimCobs *
make_cobs(gboolean verify)
{
	UsbsimCobsConfig config;
	UsbsimCobs *cobs;
	usbsim_cobs_config_init(&config);
	config.verify = verify;
	cobs = usbsim_cobs_new(&config);
	usbsim_cobs_config_clear(&config);
	return cobs;
}

static UsbsimCobs *
make_cobs_full(UsbsimCobsAckMode ack_mode, UsbsimCobsAfterBye after_bye, guint wrong_ack)
{
	UsbsimCobsConfig config;
	UsbsimCobs *cobs;
	usbsim_cobs_config_init(&config);
	config.ack_mode = ack_mode;
	config.after_bye = after_bye;
	config.wrong_ack_message = wrong_ack;
	cobs = usbsim_cobs_new(&config);
	usbsim_cobs_config_clear(&config);
	return cobs;
}

static gint64
out(UsbsimCobs *cobs, const guint8 *buf, gsize len, gint64 submit_us, gint64 now_us)
{
	gint64 retry_us = 0;
	return usbsim_cobs_ops()
	    ->bulk_out(cobs, USBSIM_COBS_EP_OUT, buf, len, submit_us, now_us, &retry_us);
}

/* the reply as hex, or NULL when none has come by now */
static gchar *
in(UsbsimCobs *cobs, gint64 submit_us, gint64 now_us)
{
	guint8 buf[64];
	gint64 retry_us = 0;
	GString *str;
	gssize len =
	    usbsim_cobs_ops()
		->bulk_in(cobs, USBSIM_COBS_EP_IN, buf, sizeof(buf), submit_us, now_us, &retry_us);
	if (len < 0)
		return NULL;
	str = g_string_new(NULL);
	for (gssize i = 0; i < len; i++)
		g_string_append_printf(str, "%s%02x", i == 0 ? "" : " ", buf[i]);
	return g_string_free(str, FALSE);
}

/* control, COBS(payload), 0x00 */
static gsize
message(guint8 control, const guint8 *payload, gsize len, guint8 *buf)
{
	gsize code_at = 1;
	gsize pos = 2;
	buf[0] = control;
	buf[1] = 1;
	for (gsize i = 0; i < len; i++) {
		if (payload[i] == 0) {
			code_at = pos++;
			buf[code_at] = 1;
			continue;
		}
		buf[pos++] = payload[i];
		buf[code_at]++;
	}
	if (len == 0)
		pos = 1;
	buf[pos++] = 0x00;
	return pos;
}

static void
test_descriptors(void)
{
	g_autoptr(UsbsimCobs) cobs = make_cobs(FALSE);
	g_autoptr(UsbsimDescription) desc = usbsim_cobs_ops()->describe(cobs);
	UsbsimInterface *comm = usbsim_description_find_interface(desc, 0);
	UsbsimInterface *data = usbsim_description_find_interface(desc, 1);
	UsbsimAltSetting *alt;

	g_assert_cmpuint(desc->vid, ==, 0x1209);
	g_assert_cmpuint(desc->pid, ==, 0x0020);
	g_assert_nonnull(comm);
	alt = usbsim_interface_find_alt(comm, 0);
	g_assert_cmpuint(alt->class_code, ==, 0x02);
	g_assert_cmpuint(alt->subclass, ==, 0x02);
	g_assert_true(usbsim_alt_has_endpoint(alt, USBSIM_COBS_EP_NOTIFY));
	g_assert_cmpuint(alt->extra->len, ==, 19);
	g_assert_nonnull(data);
	alt = usbsim_interface_find_alt(data, 0);
	g_assert_cmpuint(alt->class_code, ==, 0x0a);
	g_assert_cmpuint(alt->endpoints->len, ==, 2);
	g_assert_cmpuint(g_array_index(alt->endpoints, UsbsimEndpoint, 0).address, ==, 0x01);
	g_assert_cmpuint(g_array_index(alt->endpoints, UsbsimEndpoint, 0).max_packet_size, ==, 64);
	g_assert_cmpuint(g_array_index(alt->endpoints, UsbsimEndpoint, 1).address, ==, 0x81);
}

/* erase takes every sector's time, a chunk is answered once stored; the buffer frees when
 * the firmware starts on a message, so a third message waits for the first to be done */
static void
test_seed_protocol_and_flow_control(void)
{
	/* replies packed: the unread ACKs do not hold the firmware up (test_ack_modes) */
	g_autoptr(UsbsimCobs) cobs =
	    make_cobs_full(USBSIM_COBS_ACK_PACK, USBSIM_COBS_AFTER_BYE_STAY, 0);
	const guint8 erase[] = {0x03, 0x00};
	guint8 payload[61];
	guint8 msg[64];
	gsize len;
	gint64 done_us;
	gint64 t_us;
	g_autofree gchar *reply = NULL;
	g_autoptr(GBytes) flash = NULL;

	memset(payload, 0xa5, sizeof(payload));
	payload[5] = 0x00;
	done_us = out(cobs, erase, sizeof(erase), 0, 0);
	g_assert_cmpint(done_us, >, 0);
	/* 8 sectors of 1..2 s: no reply before 8 s, one by 16 s */
	g_assert_null(in(cobs, 0, 8 * S_US));
	reply = in(cobs, 0, 17 * S_US);
	g_assert_cmpstr(reply, ==, "06 00");
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->sectors_erased, ==, 8);

	/* two chunks go in at once: one being stored, one in the buffer; the third NAKs */
	t_us = 20 * S_US;
	len = message(0x01, payload, sizeof(payload), msg);
	g_assert_cmpuint(len, ==, 64);
	done_us = out(cobs, msg, len, t_us, t_us);
	g_assert_cmpint(done_us, >=, t_us + 1000);
	t_us = done_us;
	g_assert_cmpint(out(cobs, msg, len, t_us, t_us), >, 0);
	g_assert_cmpint(out(cobs, msg, len, t_us, t_us + 10), ==, -1);
	/* once the first is stored the third is taken, from when the buffer freed */
	t_us += 5000;
	g_assert_cmpint(out(cobs, msg, len, t_us - 5000, t_us), >, 0);
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us, t_us + 2000);
	g_assert_cmpstr(reply, ==, "06 00 06 00 06 00");

	len = message(0x02, payload, 10, msg);
	g_assert_cmpint(out(cobs, msg, len, t_us + 2000, t_us + 50000), >, 0);
	len = message(0x04, NULL, 0, msg);
	g_assert_cmpuint(len, ==, 2);
	g_assert_cmpint(out(cobs, msg, len, t_us + 50000, t_us + 100000), >, 0);
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us + 100000, t_us + 200000);
	g_assert_cmpstr(reply, ==, "06 00 06 00");
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->bytes_stored, ==, 3 * 61 + 10);
	g_assert_true(usbsim_cobs_get_stats(cobs)->left);
	flash = usbsim_cobs_get_flash(cobs);
	g_assert_cmpuint(((const guint8 *)g_bytes_get_data(flash, NULL))[5], ==, 0x00);
	g_assert_cmpuint(((const guint8 *)g_bytes_get_data(flash, NULL))[61 + 4], ==, 0xa5);
	g_assert_cmpuint(((const guint8 *)g_bytes_get_data(flash, NULL))[3 * 61 + 10], ==, 0xff);
}

static void
test_verify_extension(void)
{
	g_autoptr(UsbsimCobs) cobs = make_cobs(TRUE);
	const guint8 erase[] = {0x03, 0x00};
	const guint8 verify[] = {0x05, 0x00};
	guint8 msg[64];
	gsize len;
	g_autofree gchar *announce = NULL;
	g_autofree gchar *ack = NULL;
	g_autofree gchar *crc = NULL;

	out(cobs, erase, sizeof(erase), 0, 0);
	announce = in(cobs, 0, 20 * S_US);
	g_assert_cmpstr(announce, ==, "06 03 01 01 00");
	len = message(0x02, (const guint8 *)"123456789", 9, msg);
	out(cobs, msg, len, 20 * S_US, 20 * S_US);
	ack = in(cobs, 20 * S_US, 21 * S_US);
	g_assert_cmpstr(ack, ==, "06 00");
	out(cobs, verify, sizeof(verify), 21 * S_US, 21 * S_US);
	/* 05, count 9, CRC-32 0xcbf43926 of "123456789" */
	crc = in(cobs, 21 * S_US, 22 * S_US);
	g_assert_cmpstr(crc, ==, "06 03 05 09 01 01 05 26 39 f4 cb 00");
}

/* a malformed message stops the seed's firmware: no answer, and nothing more is taken */
static void
test_panic(gconstpointer user_data)
{
	const guint8 *bad = user_data;
	g_autoptr(UsbsimCobs) cobs = make_cobs(FALSE);
	const guint8 erase[] = {0x03, 0x00};
	gint64 retry_us = 0;
	guint8 buf[64];

	out(cobs, bad + 1, bad[0], 0, 0);
	g_assert_null(in(cobs, 0, 60 * S_US));
	g_assert_true(usbsim_cobs_get_stats(cobs)->panicked);
	g_assert_cmpint(out(cobs, erase, sizeof(erase), 0, 60 * S_US), >, 0);
	g_assert_cmpint(usbsim_cobs_ops()->bulk_out(cobs,
						    USBSIM_COBS_EP_OUT,
						    erase,
						    sizeof(erase),
						    60 * S_US,
						    61 * S_US,
						    &retry_us),
			==,
			-1);
	g_assert_cmpint(retry_us, ==, G_MAXINT64);
	g_assert_cmpint(
	    usbsim_cobs_ops()
		->bulk_in(cobs, USBSIM_COBS_EP_IN, buf, sizeof(buf), 0, 120 * S_US, &retry_us),
	    ==,
	    -1);
}

/* the physical limit: the erase, then per message the larger of its bus time and its work */
static void
test_limits(void)
{
	g_autoptr(UsbsimCobs) cobs = make_cobs(FALSE);
	const guint8 erase[] = {0x03, 0x00};
	guint8 payload[61];
	guint8 msg[64];
	gsize len;
	gint64 t_us = 0;
	gdouble physical_ms = 0;
	gdouble stop_and_wait_ms = 0;
	const UsbsimCobsStats *stats = usbsim_cobs_get_stats(cobs);

	memset(payload, 0x11, sizeof(payload));
	out(cobs, erase, sizeof(erase), 0, 0);
	g_free(in(cobs, 0, 20 * S_US));
	t_us = 20 * S_US;
	len = message(0x01, payload, sizeof(payload), msg);
	for (guint i = 0; i < 100; i++) {
		t_us += 10000; /* a slow host: the device idles */
		out(cobs, msg, len, t_us, t_us);
		g_free(in(cobs, t_us, t_us + 5000));
	}
	usbsim_cobs_get_limits(cobs, &physical_ms, &stop_and_wait_ms);
	/* bus 1.053 ms a chunk beats 2 words of at most 200 us */
	g_assert_cmpfloat(physical_ms, >=, stats->busy_us / 1000.0);
	g_assert_cmpfloat(physical_ms, <, 16000 + 100 * 1.06 + 3);
	g_assert_cmpfloat(stop_and_wait_ms, >, physical_ms + 100 * 1.0);
	g_assert_cmpfloat(stats->host_idle_us / 1000.0, >, 100 * 8.0);
}

/* three chunks done, no reply read: one IN transfer takes one reply, or all three packed;
 * a firmware sending each alone waits for the IN buffer, so the third is not stored yet */
static void
test_ack_modes(gconstpointer user_data)
{
	UsbsimCobsAckMode mode = GPOINTER_TO_UINT(user_data);
	g_autoptr(UsbsimCobs) cobs = make_cobs_full(mode, USBSIM_COBS_AFTER_BYE_STAY, 0);
	const guint8 erase[] = {0x03, 0x00};
	guint8 payload[61];
	guint8 msg[64];
	gsize len;
	gint64 t_us = 20 * S_US;
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;

	memset(payload, 0x22, sizeof(payload));
	out(cobs, erase, sizeof(erase), 0, 0);
	g_free(in(cobs, 0, t_us));
	len = message(0x01, payload, sizeof(payload), msg);
	for (guint i = 0; i < 3; i++) {
		t_us += 5000;
		g_assert_cmpint(out(cobs, msg, len, t_us, t_us), >, 0);
	}
	if (mode == USBSIM_COBS_ACK_EACH)
		g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->chunks, ==, 2);
	t_us += 5000;
	first = in(cobs, t_us, t_us + 2000);
	if (mode == USBSIM_COBS_ACK_PACK) {
		g_assert_cmpstr(first, ==, "06 00 06 00 06 00");
		return;
	}
	/* the second reply waited for the buffer, and the firmware with it: the third chunk
	 * was started only now */
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->chunks, ==, 3);
	g_assert_cmpint(usbsim_cobs_ops()->busy_until(cobs), >, t_us);
	g_assert_cmpstr(first, ==, "06 00");
	second = in(cobs, t_us + 2000, t_us + 4000);
	g_assert_cmpstr(second, ==, "06 00");
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->chunks, ==, 3);
}

/* the version word of the image held, all ones once erased; announced in the erase reply */
static void
test_version_query(void)
{
	UsbsimCobsConfig config;
	g_autoptr(UsbsimCobs) cobs = NULL;
	guint8 flash[64] = {0};
	const guint8 query[] = {0x07, 0x00};
	const guint8 erase[] = {0x03, 0x00};
	g_autofree gchar *held = NULL;
	g_autofree gchar *announce = NULL;
	g_autofree gchar *erased = NULL;

	usbsim_cobs_config_init(&config);
	config.version_query = TRUE;
	flash[0x20] = 0x00;
	flash[0x21] = 0x00;
	flash[0x22] = 0x02;
	flash[0x23] = 0x01; /* 1.2.0 as a triplet */
	config.flash_in = g_bytes_new(flash, sizeof(flash));
	cobs = usbsim_cobs_new(&config);
	usbsim_cobs_config_clear(&config);
	out(cobs, query, sizeof(query), 0, 0);
	held = in(cobs, 0, 5000);
	g_assert_cmpstr(held, ==, "06 02 07 01 03 02 01 00");
	out(cobs, erase, sizeof(erase), 5000, 5000);
	announce = in(cobs, 5000, 20 * S_US);
	g_assert_cmpstr(announce, ==, "06 03 01 02 00");
	out(cobs, query, sizeof(query), 20 * S_US, 20 * S_US);
	erased = in(cobs, 20 * S_US, 21 * S_US);
	g_assert_cmpstr(erased, ==, "06 06 07 ff ff ff ff 00");
}

/* after an answered bye the device resets as configured; a refused bye changes nothing */
static void
test_after_bye(void)
{
	const guint8 bye[] = {0x04, 0x00};
	const guint8 bye_encoded[] = {0x04, 0x01, 0x00};
	gint64 delay_us = 0;

	for (guint i = USBSIM_COBS_AFTER_BYE_STAY; i <= USBSIM_COBS_AFTER_BYE_GONE; i++) {
		g_autoptr(UsbsimCobs) cobs = make_cobs_full(USBSIM_COBS_ACK_EACH, i, 0);
		g_autoptr(UsbsimDescription) desc = NULL;
		g_autofree gchar *ack = NULL;

		/* a host that COBS-encodes the empty payload too (01) */
		out(cobs, i % 2 == 0 ? bye : bye_encoded, i % 2 == 0 ? 2 : 3, 0, 0);
		ack = in(cobs, 0, 5000);
		g_assert_cmpstr(ack, ==, "06 00");
		if (i == USBSIM_COBS_AFTER_BYE_STAY) {
			g_assert_false(usbsim_cobs_ops()->pending_reenumeration(cobs, &delay_us));
			continue;
		}
		g_assert_true(usbsim_cobs_ops()->pending_reenumeration(cobs, &delay_us));
		usbsim_cobs_ops()->reenumerate(cobs, 20000);
		g_assert_false(usbsim_cobs_ops()->pending_reenumeration(cobs, &delay_us));
		g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->resets, ==, 1);
		desc = usbsim_cobs_ops()->describe(cobs);
		g_assert_cmpuint(desc->pid, ==, i == USBSIM_COBS_AFTER_BYE_APP ? 0x0021 : 0x0020);
		g_assert_cmpint(usbsim_cobs_ops()->unplugged(cobs),
				==,
				i == USBSIM_COBS_AFTER_BYE_GONE);
	}
	{
		g_autoptr(UsbsimCobs) cobs =
		    make_cobs_full(USBSIM_COBS_ACK_EACH, USBSIM_COBS_AFTER_BYE_BOOTLOADER, 1);
		g_autofree gchar *nak = NULL;
		out(cobs, bye, sizeof(bye), 0, 0);
		nak = in(cobs, 0, 5000);
		g_assert_cmpstr(nak, ==, "15 00");
		g_assert_false(usbsim_cobs_ops()->pending_reenumeration(cobs, &delay_us));
	}
}

/* hostile devices: replies to no message, doubled, split a byte a transfer, and streams */
static void
test_hostile(void)
{
	const guint8 erase[] = {0x03, 0x00};
	const guint8 bye[] = {0x04, 0x00};
	UsbsimCobsConfig config;
	g_autoptr(UsbsimCobs) cobs = NULL;
	g_autofree gchar *reply = NULL;
	gint64 t_us = 20 * S_US;

	/* an ACK of its own from power-on, then erase answered twice */
	usbsim_cobs_config_init(&config);
	config.unsolicited_ack = TRUE;
	config.unsolicited_ack_after = 0;
	config.unsolicited_ack_count = 1;
	config.double_ack_message = 1;
	cobs = usbsim_cobs_new(&config);
	reply = in(cobs, 0, 5000);
	g_assert_cmpstr(reply, ==, "06 00");
	g_assert_cmpint(out(cobs, erase, sizeof(erase), 5000, 5000), >, 0);
	for (guint i = 0; i < 2; i++) {
		g_clear_pointer(&reply, g_free);
		reply = in(cobs, t_us, t_us + 10000);
		g_assert_cmpstr(reply, ==, "06 00");
		t_us += 10000;
	}
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us, t_us + 10000);
	g_assert_null(reply);
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->extra_replies, ==, 2);
	g_clear_pointer(&cobs, usbsim_cobs_free);
	usbsim_cobs_config_clear(&config);

	/* every byte of the reply in a transfer of its own; then ACKs forever, unasked */
	usbsim_cobs_config_init(&config);
	config.split_replies = TRUE;
	config.ack_stream = TRUE;
	config.ack_stream_from = 2;
	cobs = usbsim_cobs_new(&config);
	t_us = 20 * S_US;
	g_assert_cmpint(out(cobs, erase, sizeof(erase), 0, 0), >, 0);
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us, t_us + 10000);
	g_assert_cmpstr(reply, ==, "06");
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us + 10000, t_us + 20000);
	g_assert_cmpstr(reply, ==, "00");
	g_clear_pointer(&reply, g_free);
	reply = in(cobs, t_us + 20000, t_us + 30000);
	g_assert_null(reply);
	t_us += 30000;
	g_assert_cmpint(out(cobs, bye, sizeof(bye), t_us, t_us), >, 0);
	t_us += 10000;
	for (guint i = 0; i < 2; i++) {
		g_clear_pointer(&reply, g_free);
		reply = in(cobs, t_us, t_us + 10000);
		g_assert_cmpstr(reply, ==, i == 0 ? "06" : "00");
		t_us += 10000;
	}
	for (guint i = 0; i < 100; i++) {
		g_clear_pointer(&reply, g_free);
		reply = in(cobs, t_us, t_us + 10000);
		g_assert_cmpstr(reply, ==, "06 00");
		t_us += 10000;
	}
	g_assert_cmpuint(usbsim_cobs_get_stats(cobs)->stream_transfers, ==, 100);
	g_clear_pointer(&cobs, usbsim_cobs_free);
	usbsim_cobs_config_clear(&config);

	/* bytes without an end marker from power-on */
	usbsim_cobs_config_init(&config);
	config.garbage_stream = TRUE;
	cobs = usbsim_cobs_new(&config);
	for (guint i = 0; i < 10; i++) {
		g_clear_pointer(&reply, g_free);
		reply = in(cobs, i * 10000, i * 10000 + 10000);
		g_assert_nonnull(reply);
		g_assert_cmpuint(strlen(reply), ==, 64 * 3 - 1);
		g_assert_null(strstr(reply, "00"));
	}
	usbsim_cobs_config_clear(&config);
}

int
main(int argc, char **argv)
{
	static const guint8 empty_chunk[] = {2, 0x01, 0x00};
	static const guint8 unknown_control[] = {2, 0x05, 0x00};
	static const guint8 broken_cobs[] = {5, 0x01, 0x09, 0x41, 0x42, 0x00};
	static const guint8 no_end_marker[] = {3, 0x01, 0x02, 0x41};
	static const guint8 erase_with_payload[] = {4, 0x03, 0x02, 0x41, 0x00};

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/usbsim-cobs/descriptors", test_descriptors);
	g_test_add_func("/usbsim-cobs/seed-protocol-and-flow-control",
			test_seed_protocol_and_flow_control);
	g_test_add_func("/usbsim-cobs/verify-extension", test_verify_extension);
	g_test_add_data_func("/usbsim-cobs/panic/empty-chunk", empty_chunk, test_panic);
	g_test_add_data_func("/usbsim-cobs/panic/unknown-control", unknown_control, test_panic);
	g_test_add_data_func("/usbsim-cobs/panic/broken-cobs", broken_cobs, test_panic);
	g_test_add_data_func("/usbsim-cobs/panic/no-end-marker", no_end_marker, test_panic);
	g_test_add_data_func("/usbsim-cobs/panic/erase-with-payload",
			     erase_with_payload,
			     test_panic);
	g_test_add_func("/usbsim-cobs/limits", test_limits);
	g_test_add_data_func("/usbsim-cobs/ack-each",
			     GUINT_TO_POINTER(USBSIM_COBS_ACK_EACH),
			     test_ack_modes);
	g_test_add_data_func("/usbsim-cobs/ack-pack",
			     GUINT_TO_POINTER(USBSIM_COBS_ACK_PACK),
			     test_ack_modes);
	g_test_add_func("/usbsim-cobs/version-query", test_version_query);
	g_test_add_func("/usbsim-cobs/after-bye", test_after_bye);
	g_test_add_func("/usbsim-cobs/hostile", test_hostile);
	return g_test_run();
}
