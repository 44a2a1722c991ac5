/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * In-process tests of the plugin: the image checks, the quirk figures, and the message flow
 * of fu_cobs_session_run() against a fake bootloader behind the transport, so every error
 * the user would see is checked without USB.
 */

#include "config.h"

#include <fwupdplugin.h>

#include "fu-cobs-common.h"
#include "fu-cobs-device.h"
#include "fu-context-private.h"
#include "fu-device-private.h"

typedef enum {
	FAKE_OK,
	FAKE_SILENT,	 /* no reply to message `at` or after it, as a device that panicked */
	FAKE_WRONG_BYTE, /* 15 00 instead of ACK */
	FAKE_GARBAGE,	 /* bytes with no end marker */
	FAKE_GONE,	 /* disconnected after message `at` */
	FAKE_CORRUPT,	 /* stores a byte of message `at` wrong */
} FuCobsFakeMode;

typedef struct {
	FuCobsFakeMode mode;
	guint at;
	gboolean announce_crc;
	guint messages;
	gboolean gone;
	gboolean got_bye;
	gboolean got_verify;
	GByteArray *flash;
	GByteArray *replies;
	guint max_unanswered;
	guint unanswered;
	gint waits; /* reads that waited a while, for the next wait's length */
} FuCobsFakeDevice;

static FuCobsFakeDevice *
fake_device_new(FuCobsFakeMode mode, guint at, gboolean announce_crc)
{
	FuCobsFakeDevice *fake = g_new0(FuCobsFakeDevice, 1);
	fake->mode = mode;
	fake->at = at;
	fake->announce_crc = announce_crc;
	fake->flash = g_byte_array_new();
	fake->replies = g_byte_array_new();
	return fake;
}

static void
fake_device_free(FuCobsFakeDevice *fake)
{
	g_byte_array_unref(fake->flash);
	g_byte_array_unref(fake->replies);
	g_free(fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FuCobsFakeDevice, fake_device_free)

static void
fake_device_reply(FuCobsFakeDevice *fake, guint index, const guint8 *reply, gsize replysz)
{
	static const guint8 nak[] = {0x15, 0x00};
	guint8 garbage[70] = {0};

	memset(garbage, 0x41, sizeof(garbage));

	if (index >= fake->at && fake->mode == FAKE_SILENT)
		return;
	if (index == fake->at && fake->mode == FAKE_WRONG_BYTE) {
		g_byte_array_append(fake->replies, nak, sizeof(nak));
		return;
	}
	if (index == fake->at && fake->mode == FAKE_GARBAGE) {
		g_byte_array_append(fake->replies, garbage, sizeof(garbage));
		return;
	}
	g_byte_array_append(fake->replies, reply, replysz);
}

/* one packet: this device takes one message a packet */
static gboolean
fake_device_send_packet(FuCobsFakeDevice *fake, const guint8 *buf, gsize bufsz, GError **error)
{
	guint index = fake->messages++;
	CobsProtoFrame frame = {0};
	static const guint8 ack[] = {0x06, 0x00};
	static const guint8 ext_ack[] = {0x06, 0x03, 0x01, 0x01, 0x00};
	g_autofree gchar *msg = g_malloc0(160);

	if (fake->gone) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "no device");
		return FALSE;
	}
	g_assert_cmpint(bufsz, <=, 64);
	g_assert_cmpint(cobs_proto_frame_parse(buf, bufsz, &frame, msg, 160), ==, 0);
	fake->unanswered++;
	fake->max_unanswered = MAX(fake->max_unanswered, fake->unanswered);
	if (fake->mode == FAKE_GONE && index == fake->at)
		fake->gone = TRUE;

	switch (frame.control) {
	case COBS_PROTO_CONTROL_ERASE:
		g_assert_cmpint(index, ==, 0);
		if (fake->announce_crc)
			fake_device_reply(fake, index, ext_ack, sizeof(ext_ack));
		else
			fake_device_reply(fake, index, ack, sizeof(ack));
		break;
	case COBS_PROTO_CONTROL_WRITE_MORE:
	case COBS_PROTO_CONTROL_WRITE_LAST:
		g_byte_array_append(fake->flash, frame.payload, frame.payload_len);
		if (fake->mode == FAKE_CORRUPT && index == fake->at)
			fake->flash->data[fake->flash->len - 1] ^= 0x80;
		fake_device_reply(fake, index, ack, sizeof(ack));
		break;
	case COBS_PROTO_CONTROL_VERIFY: {
		guint32 crc = proto_crc32(0, fake->flash->data, fake->flash->len);
		guint8 payload[9] = {0x05};
		guint8 reply[COBS_PROTO_MESSAGE_MAX] = {0};
		gsize replysz = 0;
		g_assert_true(fake->announce_crc);
		fu_memwrite_uint32(payload + 1, fake->flash->len, G_LITTLE_ENDIAN);
		fu_memwrite_uint32(payload + 5, crc, G_LITTLE_ENDIAN);
		g_assert_cmpint(cobs_proto_message_build(COBS_PROTO_CONTROL_ACK,
							 payload,
							 sizeof(payload),
							 reply,
							 sizeof(reply),
							 &replysz),
				==,
				0);
		fake->got_verify = TRUE;
		fake_device_reply(fake, index, reply, replysz);
		break;
	}
	case COBS_PROTO_CONTROL_BYE:
		fake->got_bye = TRUE;
		fake_device_reply(fake, index, ack, sizeof(ack));
		break;
	default:
		g_assert_not_reached();
	}
	return TRUE;
}

/* a bulk OUT transfer reaches the device as 64-byte packets */
static gboolean
fake_device_send_cb(gpointer user_data,
		    const guint8 *buf,
		    gsize bufsz,
		    guint timeout_ms,
		    GError **error)
{
	FuCobsFakeDevice *fake = user_data;
	gsize offset = 0;

	do {
		gsize n = MIN(bufsz - offset, COBS_PROTO_MESSAGE_MAX);
		if (!fake_device_send_packet(fake, buf + offset, n, error))
			return FALSE;
		offset += n;
	} while (offset < bufsz);
	return TRUE;
}

static gboolean
fake_device_receive_cb(gpointer user_data,
		       guint8 *buf,
		       gsize bufsz,
		       gsize *actual_length,
		       guint timeout_ms,
		       GError **error)
{
	FuCobsFakeDevice *fake = user_data;
	gsize n;

	if (fake->gone) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "no device");
		return FALSE;
	}
	if (fake->replies->len == 0) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "timed out");
		return FALSE;
	}
	/* one reply a read, as a device sends one short packet a message */
	n = 0;
	while (n < fake->replies->len && n < bufsz) {
		if (fake->replies->data[n++] == 0x00)
			break;
	}
	memcpy(buf, fake->replies->data, n); /* nocheck:blocked */
	g_byte_array_remove_range(fake->replies, 0, n);
	fake->unanswered--;
	*actual_length = n;
	return TRUE;
}

static const FuCobsTransport fake_transport = {
    .send = fake_device_send_cb,
    .receive = fake_device_receive_cb,
};

/*
 * The fake behind a lock for the overlapped run, whose reads come from another thread: a read
 * waits until a reply is there, the device is gone, or it stays silent for good (no wait:
 * the tests would otherwise take the protocol's timeouts in real time).
 */
static GMutex fake_lock;
static GCond fake_cond;
static gboolean fake_overlapped;

static gboolean
fake_locked_send_cb(gpointer user_data,
		    const guint8 *buf,
		    gsize bufsz,
		    guint timeout_ms,
		    GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fake_lock);
	gboolean ok = fake_device_send_cb(user_data, buf, bufsz, timeout_ms, error);
	g_cond_broadcast(&fake_cond);
	return ok;
}

/* waits of 0 to 1499 us in an order that looks arbitrary but is the same on every run:
 * 617 shares no factor with 1500, so every length comes once in each 1500 waits */
static gulong
fake_device_wait_us(FuCobsFakeDevice *fake)
{
	guint n = (guint)g_atomic_int_add(&fake->waits, 1);
	return (n * 617u) % 1500u;
}

static gboolean
fake_locked_receive_cb(gpointer user_data,
		       guint8 *buf,
		       gsize bufsz,
		       gsize *actual_length,
		       guint timeout_ms,
		       GError **error)
{
	FuCobsFakeDevice *fake = user_data;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean ok;

	g_mutex_lock(&fake_lock);
	while (fake->replies->len == 0 && !fake->gone &&
	       !(fake->mode == FAKE_SILENT && fake->messages > fake->at)) {
		if (!g_cond_wait_until(&fake_cond, &fake_lock, deadline))
			break;
	}
	ok = fake_device_receive_cb(user_data, buf, bufsz, actual_length, timeout_ms, error);
	g_mutex_unlock(&fake_lock);

	/* the reading thread may be descheduled between its transfer ending and the plugin
	 * queuing the result, while the other reads go on: the order the plugin takes the
	 * replies in must stay within the margin its errors state; the read that took a wrong
	 * reply is held longest, so the reads after it are taken first */
	if (ok && *actual_length > 0 && buf[0] != COBS_PROTO_CONTROL_ACK)
		g_usleep(20000);
	else
		g_usleep(fake_device_wait_us(fake));
	return ok;
}

static const FuCobsTransport fake_locked_transport = {
    .send = fake_locked_send_cb,
    .receive = fake_locked_receive_cb,
};

static GBytes *
test_image(gsize size)
{
	guint8 *buf = g_malloc(size);
	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)((i * 2654435761u) >> 13);
	return g_bytes_new_take(buf, size);
}

static gboolean
run_fake(FuCobsFakeDevice *fake, GBytes *image, gboolean use_verify, GError **error)
{
	CobsProtoConfig config;
	CobsProtoSession session;
	g_autoptr(FuProgress) progress = fu_progress_new(G_STRLOC);

	cobs_proto_config_init(&config);
	config.use_verify = use_verify;
	fu_cobs_session_progress_add_steps(progress);
	g_assert_cmpint(cobs_proto_session_start(&session,
						 &config,
						 g_bytes_get_data(image, NULL),
						 g_bytes_get_size(image),
						 1024 * 1024),
			==,
			0);
	if (fake_overlapped) {
		if (!fu_cobs_session_run_overlapped(&session,
						    &fake_locked_transport,
						    fake,
						    progress,
						    error))
			return FALSE;
	} else if (!fu_cobs_session_run(&session, &fake_transport, fake, progress, error)) {
		return FALSE;
	}
	g_assert_cmpint(fu_progress_get_percentage(progress), ==, 100);
	return TRUE;
}

static void
fu_cobs_flow_ok_func(void)
{
	g_autoptr(GBytes) image = test_image(100000);
	g_autoptr(FuCobsFakeDevice) fake = fake_device_new(FAKE_OK, 0, FALSE);
	g_autoptr(GError) error = NULL;

	g_assert_true(run_fake(fake, image, TRUE, &error));
	g_assert_no_error(error);
	g_assert_true(fake->got_bye);
	g_assert_false(fake->got_verify);
	g_assert_cmpint(fake->flash->len, ==, 100000);
	g_assert_cmpmem(fake->flash->data, fake->flash->len, g_bytes_get_data(image, NULL), 100000);
	/* erase, ceil(100000 / 61) chunks, bye */
	g_assert_cmpint(fake->messages, ==, 1 + 1640 + 1);
	/* one chunk queued behind the one the device works on; with the replies read alongside,
	 * a transfer of chunks goes while the one before it is answered (this fake takes
	 * everything at once, without the flow control of a real device) */
	if (fake_overlapped) {
		g_assert_cmpint(fake->max_unanswered, >, COBS_PROTO_DEFAULT_BATCH_MAX);
		g_assert_cmpint(fake->max_unanswered, <=, 2 * COBS_PROTO_DEFAULT_BATCH_MAX);
	} else {
		g_assert_cmpint(fake->max_unanswered, ==, 2);
	}
}

static void
fu_cobs_flow_verify_func(void)
{
	g_autoptr(GBytes) image = test_image(5000);
	g_autoptr(FuCobsFakeDevice) fake = fake_device_new(FAKE_OK, 0, TRUE);
	g_autoptr(FuCobsFakeDevice) fake_bad = fake_device_new(FAKE_CORRUPT, 20, TRUE);
	g_autoptr(FuCobsFakeDevice) fake_off = fake_device_new(FAKE_CORRUPT, 20, TRUE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_bad = NULL;

	g_assert_true(run_fake(fake, image, TRUE, &error));
	g_assert_no_error(error);
	g_assert_true(fake->got_verify);
	g_assert_true(fake->got_bye);

	/* a corrupted write is caught, and the image is not started */
	g_assert_false(run_fake(fake_bad, image, TRUE, &error_bad));
	g_assert_error(error_bad, FWUPD_ERROR, FWUPD_ERROR_WRITE);
	g_assert_nonnull(strstr(error_bad->message, "verification failed"));
	g_assert_false(fake_bad->got_bye);

	/* with the extension not used, nothing notices */
	g_assert_true(run_fake(fake_off, image, FALSE, NULL));
	g_assert_false(fake_off->got_verify);
}

static void
check_flow_error(FuCobsFakeMode mode, guint at, gint code, guint chunk, const gchar *needle)
{
	g_autoptr(GBytes) image = test_image(1000);
	g_autoptr(FuCobsFakeDevice) fake = fake_device_new(mode, at, FALSE);
	g_autoptr(GError) error = NULL;

	g_assert_false(run_fake(fake, image, TRUE, &error));
	g_assert_error(error, FWUPD_ERROR, code);
	if (strstr(error->message, needle) != NULL) {
		g_assert_false(fake->got_bye);
		return;
	}
	/* several reads at once: the error names a chunk within the margin it states */
	if (fake_overlapped && chunk > 0) {
		const gchar *named = strstr(error->message, "chunk ");
		guint64 got = 0;
		g_autofree gchar *margin =
		    g_strdup_printf("may be up to %u off", (guint)FU_COBS_REPLY_MARGIN);
		if (named != NULL) {
			g_autofree gchar *digits =
			    g_strndup(named + 6, strspn(named + 6, "0123456789"));
			if (!fu_strtoull(digits, &got, 0, G_MAXUINT, FU_INTEGER_BASE_10, NULL))
				got = 0;
		}
		if (got + FU_COBS_REPLY_MARGIN >= chunk && got <= chunk + FU_COBS_REPLY_MARGIN &&
		    strstr(error->message, margin) != NULL) {
			g_assert_false(fake->got_bye);
			return;
		}
	}
	g_test_fail_printf("\"%s\" does not contain \"%s\"", error->message, needle);
}

static void
fu_cobs_flow_errors_func(void)
{
	check_flow_error(FAKE_SILENT,
			 0,
			 FWUPD_ERROR_TIMED_OUT,
			 0,
			 "no reply to erase within 17000 ms");
	check_flow_error(FAKE_SILENT,
			 5,
			 FWUPD_ERROR_TIMED_OUT,
			 5,
			 "no reply to write chunk 5 of 17 (image bytes 244-304)");
	check_flow_error(FAKE_WRONG_BYTE,
			 2,
			 FWUPD_ERROR_WRITE,
			 2,
			 "device answered write chunk 2 of 17 (image bytes 61-121) with [15 00] "
			 "instead of ACK [06 00]");
	check_flow_error(FAKE_GARBAGE,
			 3,
			 FWUPD_ERROR_WRITE,
			 3,
			 "garbage in reply to write chunk 3");
	check_flow_error(FAKE_GONE, 4, FWUPD_ERROR_NOT_FOUND, 0, "device disconnected during");
}

static void
fu_cobs_image_size_func(void)
{
	g_autoptr(GError) error1 = NULL;
	g_autoptr(GError) error2 = NULL;
	g_autoptr(GError) error3 = NULL;

	g_assert_true(fu_cobs_check_image_size(1024 * 1024, 1024 * 1024, NULL));
	g_assert_false(fu_cobs_check_image_size(1024 * 1024 + 1, 1024 * 1024, &error1));
	g_assert_error(error1, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
	g_assert_nonnull(strstr(error1->message, "1048577 bytes but the device's flash holds"));
	g_assert_false(fu_cobs_check_image_size(0, 1024, &error2));
	g_assert_error(error2, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
	g_assert_false(fu_cobs_check_image_size(10, 0, &error3));
	g_assert_error(error3, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED);
}

static void
fu_cobs_device_quirks_func(void)
{
	g_autoptr(FuContext) ctx = fu_context_new();
	g_autoptr(FuDevice) device = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_range = NULL;
	g_autoptr(GError) error_key = NULL;
	const CobsProtoConfig *config;
	struct {
		const gchar *key;
		const gchar *value;
	} kvs[] = {
	    {"CobsSectorSize", "0x4000"},
	    {"CobsSectorEraseTime", "20"},
	    {"CobsWordSize", "16"},
	    {"CobsWordProgramTime", "50"},
	    {"CobsReplyTimeout", "250"},
	    {"CobsQueueDepth", "0"},
	    {"CobsInterface", "2"},
	    {"CobsEndpointOut", "0x02"},
	    {"CobsEndpointIn", "0x82"},
	};

	device = g_object_new(FU_TYPE_COBS_DEVICE, "context", ctx, NULL);
	config = fu_cobs_device_get_config(FU_COBS_DEVICE(device));
	/* the stm32h7-cobs defaults */
	g_assert_cmpint(config->sector_size, ==, 128 * 1024);
	g_assert_cmpint(config->sector_erase_ms, ==, 2000);
	g_assert_cmpint(config->queue_depth, ==, 1);
	g_assert_true(fu_device_has_protocol(device, "com.github.cobs-bootloader"));

	for (guint i = 0; i < G_N_ELEMENTS(kvs); i++) {
		g_assert_true(fu_device_set_quirk_kv(device,
						     kvs[i].key,
						     kvs[i].value,
						     FU_CONTEXT_QUIRK_SOURCE_FILE,
						     &error));
		g_assert_no_error(error);
	}
	g_assert_cmpint(config->sector_size, ==, 0x4000);
	g_assert_cmpint(config->sector_erase_ms, ==, 20);
	g_assert_cmpint(config->word_size, ==, 16);
	g_assert_cmpint(config->word_program_us, ==, 50);
	g_assert_cmpint(config->reply_slack_ms, ==, 250);
	g_assert_cmpint(config->queue_depth, ==, 0);
	/* the erase timeout follows the figures: 1 MiB in 16 KiB sectors at 20 ms, plus 250 */
	g_assert_cmpint(cobs_proto_erase_timeout_ms(config, 1024 * 1024), ==, 64 * 20 + 250);

	g_assert_false(fu_device_set_quirk_kv(device,
					      "CobsQueueDepth",
					      "9",
					      FU_CONTEXT_QUIRK_SOURCE_FILE,
					      &error_range));
	g_assert_nonnull(error_range);
	g_assert_false(fu_device_set_quirk_kv(device,
					      "CobsNoSuchKey",
					      "1",
					      FU_CONTEXT_QUIRK_SOURCE_FILE,
					      &error_key));
	g_assert_nonnull(error_key);
}

static void
fu_cobs_device_prepare_func(void)
{
	g_autoptr(FuContext) ctx = fu_context_new();
	g_autoptr(FuDevice) device = g_object_new(FU_TYPE_COBS_DEVICE, "context", ctx, NULL);
	g_autoptr(FuProgress) progress = fu_progress_new(G_STRLOC);
	g_autoptr(GBytes) fits = test_image(4096);
	g_autoptr(GBytes) too_big = test_image(4097);
	g_autoptr(GInputStream) stream_fits = g_memory_input_stream_new_from_bytes(fits);
	g_autoptr(GInputStream) stream_big = g_memory_input_stream_new_from_bytes(too_big);
	g_autoptr(FuFirmware) firmware = NULL;
	g_autoptr(FuFirmware) firmware_big = NULL;
	g_autoptr(GBytes) blob = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) error_big = NULL;

	fu_device_set_firmware_size_max(device, 4096);
	firmware = fu_device_prepare_firmware(device,
					      stream_fits,
					      progress,
					      FU_FIRMWARE_PARSE_FLAG_NONE,
					      &error);
	g_assert_no_error(error);
	g_assert_nonnull(firmware);
	blob = fu_firmware_get_bytes(firmware, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(blob, fits));

	firmware_big = fu_device_prepare_firmware(device,
						  stream_big,
						  progress,
						  FU_FIRMWARE_PARSE_FLAG_NONE,
						  &error_big);
	g_assert_null(firmware_big);
	g_assert_error(error_big, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
}

/* the same flows with the replies read on a thread of their own */
static void
fu_cobs_flow_overlapped_ok_func(void)
{
	fake_overlapped = TRUE;
	fu_cobs_flow_ok_func();
	fake_overlapped = FALSE;
}

static void
fu_cobs_flow_overlapped_verify_func(void)
{
	fake_overlapped = TRUE;
	fu_cobs_flow_verify_func();
	fake_overlapped = FALSE;
}

static void
fu_cobs_flow_overlapped_errors_func(void)
{
	fake_overlapped = TRUE;
	fu_cobs_flow_errors_func();
	fake_overlapped = FALSE;
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	(void)g_setenv("G_MESSAGES_DEBUG", "", TRUE);
	g_test_add_func("/cobs/image-size", fu_cobs_image_size_func);
	g_test_add_func("/cobs/device/quirks", fu_cobs_device_quirks_func);
	g_test_add_func("/cobs/device/prepare-firmware", fu_cobs_device_prepare_func);
	g_test_add_func("/cobs/flow/ok", fu_cobs_flow_ok_func);
	g_test_add_func("/cobs/flow/verify", fu_cobs_flow_verify_func);
	g_test_add_func("/cobs/flow/errors", fu_cobs_flow_errors_func);
	g_test_add_func("/cobs/flow-overlapped/ok", fu_cobs_flow_overlapped_ok_func);
	g_test_add_func("/cobs/flow-overlapped/verify", fu_cobs_flow_overlapped_verify_func);
	g_test_add_func("/cobs/flow-overlapped/errors", fu_cobs_flow_overlapped_errors_func);
	return g_test_run();
}
