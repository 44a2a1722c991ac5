/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <fwupdplugin.h>

#include <fcntl.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-firmware.h"

static FuFirmware *
fu_nordic_dfu_test_parse(const gchar *name, GError **error)
{
	g_autofree gchar *fn = g_build_filename(PACKAGEDIR, name, NULL);
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_firmware_new();
	g_autoptr(GFile) file = g_file_new_for_path(fn);

	if (!fu_firmware_parse_file(firmware, file, FU_FIRMWARE_PARSE_FLAG_NONE, error))
		return NULL;
	return g_steal_pointer(&firmware);
}

static FuNordicDfuImage *
fu_nordic_dfu_test_image(FuNordicDfuFirmware *self, guint idx)
{
	g_autoptr(GPtrArray) images = fu_nordic_dfu_firmware_get_images_ordered(self);
	g_assert_cmpuint(idx, <, images->len);
	return g_ptr_array_index(images, idx);
}

static void
fu_nordic_dfu_application_func(void)
{
	FuNordicDfuImage *image;
	GArray *sd_req;
	g_autoptr(GError) error = NULL;
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_test_parse("app.zip", &error);
	g_autoptr(GPtrArray) images = NULL;
	g_autoptr(GBytes) blob = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(firmware);
	images = fu_firmware_get_images(firmware);
	g_assert_cmpuint(images->len, ==, 1);
	image = fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 0);
	g_assert_cmpstr(fu_nordic_dfu_image_get_manifest_key(image), ==, "application");
	g_assert_cmpint(fu_nordic_dfu_image_get_fw_type(image),
			==,
			FU_NORDIC_DFU_FW_TYPE_APPLICATION);
	g_assert_cmpuint(fu_nordic_dfu_image_get_fw_version(image), ==, 7);
	g_assert_cmpuint(fu_nordic_dfu_image_get_hw_version(image), ==, 52);
	g_assert_false(fu_nordic_dfu_image_is_signed(image));
	sd_req = fu_nordic_dfu_image_get_sd_req(image);
	g_assert_cmpuint(sd_req->len, ==, 1);
	g_assert_cmpuint(g_array_index(sd_req, guint32, 0), ==, 0x100);
	blob = fu_firmware_get_bytes(FU_FIRMWARE(image), &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(blob), ==, 10000);
	g_assert_nonnull(fu_nordic_dfu_image_get_init_packet(image));
	g_assert_cmpuint(fu_firmware_get_version_raw(firmware), ==, 7);
}

static void
fu_nordic_dfu_signed_func(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_test_parse("app-signed.zip", &error);

	g_assert_no_error(error);
	g_assert_true(fu_nordic_dfu_image_is_signed(
	    fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 0)));
	g_assert_cmpuint(fu_nordic_dfu_image_get_fw_version(
			     fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 0)),
			 ==,
			 7);
}

/* SoftDevice+bootloader first, then the application, whatever the manifest's order */
static void
fu_nordic_dfu_order_func(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_test_parse("sd-bl-app.zip", &error);
	FuNordicDfuImage *first;
	FuNordicDfuImage *second;

	g_assert_no_error(error);
	first = fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 0);
	second = fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 1);
	g_assert_cmpstr(fu_nordic_dfu_image_get_manifest_key(first), ==, "softdevice_bootloader");
	g_assert_cmpint(fu_nordic_dfu_image_get_fw_type(first),
			==,
			FU_NORDIC_DFU_FW_TYPE_SOFTDEVICE_BOOTLOADER);
	g_assert_cmpstr(fu_nordic_dfu_image_get_manifest_key(second), ==, "application");
	g_assert_cmpuint(fu_nordic_dfu_image_get_sd_req(second)->len, ==, 2);
}

static void
fu_nordic_dfu_refused_func(void)
{
	struct {
		const gchar *name;
		const gchar *field;
	} cases[] = {
	    {"bad-hash.zip", "field hash"},
	    {"bad-size.zip", "field app_size"},
	    {"bad-type.zip", "field type"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FuFirmware) firmware = fu_nordic_dfu_test_parse(cases[i].name, &error);
		g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
		g_assert_null(firmware);
		g_assert_nonnull(strstr(error->message, cases[i].field));
	}
}

static void
fu_nordic_dfu_not_a_package_func(void)
{
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_firmware_new();
	g_autoptr(GBytes) blob = g_bytes_new_static("not a zip at all", 16);
	g_autoptr(GError) error = NULL;
	g_autoptr(FuNordicDfuImage) image = g_object_new(FU_TYPE_NORDIC_DFU_IMAGE, NULL);
	g_autoptr(GBytes) junk = g_bytes_new_static("\x0a\x05\x08", 3);

	g_assert_false(
	    fu_firmware_parse_bytes(firmware, blob, 0x0, FU_FIRMWARE_PARSE_FLAG_NONE, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	/* a truncated protobuf */
	g_assert_false(fu_nordic_dfu_image_parse_init_packet(image, junk, &error));
	g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
}

/* app.zip with one member replaced (or dropped when @blob is NULL), zipped in memory */
static GBytes *
fu_nordic_dfu_test_package_with(const gchar *member, GBytes *blob)
{
	g_autofree gchar *fn = g_build_filename(PACKAGEDIR, "app.zip", NULL);
	g_autoptr(GBytes) zip = NULL;
	g_autoptr(FuArchive) src = NULL;
	g_autoptr(FuArchive) dst = fu_archive_new(NULL, FU_ARCHIVE_FLAG_NONE, NULL);
	g_autoptr(GByteArray) buf = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *members[] = {"manifest.json", "app.bin", "app.dat"};

	zip = fu_bytes_get_contents(fn, &error);
	g_assert_no_error(error);
	src = fu_archive_new(zip, FU_ARCHIVE_FLAG_NONE, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		g_autoptr(GBytes) data = NULL;
		if (g_strcmp0(members[i], member) == 0) {
			if (blob != NULL)
				fu_archive_add_entry(dst, members[i], blob);
			continue;
		}
		data = fu_archive_lookup_by_fn(src, members[i], &error);
		g_assert_no_error(error);
		fu_archive_add_entry(dst, members[i], data);
	}
	buf = fu_archive_write(dst, FU_ARCHIVE_FORMAT_ZIP, FU_ARCHIVE_COMPRESSION_NONE, &error);
	g_assert_no_error(error);
	return g_bytes_new(buf->data, buf->len);
}

/* degenerate members: each parse fails with an error that names the cause, never without one
 * (an empty manifest.json once reached json-glib as NULL data and failed with no error) */
static void
fu_nordic_dfu_degenerate_func(void)
{
	struct {
		const gchar *member;
		const gchar *contents; /* NULL: the member is missing */
		const gchar *message;
	} cases[] = {
	    {"manifest.json", "", "manifest.json is empty"},
	    {"manifest.json", " \n", "has no manifest object"},
	    {"manifest.json", "[1, 2]", "has no manifest object"},
	    {"manifest.json", "\"manifest\"", "has no manifest object"},
	    {"manifest.json", "{\"manifest\": 3}", "has no manifest object"},
	    {"manifest.json", "{\"manifest\"", "manifest.json is not JSON"},
	    {"manifest.json", "{\"manifest\": {}}", "manifest lists none of"},
	    {"manifest.json",
	     "{\"manifest\": {\"application\": []}}",
	     "manifest entry application is not an object"},
	    {"manifest.json",
	     "{\"manifest\": {\"application\": {\"dat_file\": \"app.dat\"}}}",
	     "manifest entry application has no bin_file"},
	    {"manifest.json",
	     "{\"manifest\": {\"application\": {\"bin_file\": \"app.bin\", "
	     "\"dat_file\": null}}}",
	     "manifest entry application has no dat_file"},
	    {"manifest.json", NULL, "not an nrfutil package"},
	    {"app.bin", NULL, "names bin_file app.bin"},
	    {"app.dat", NULL, "names dat_file app.dat"},
	    {"app.bin", "", "application image is empty"},
	    {"app.dat", "", "init packet is empty"},
	    {"app.dat", "\x0a\x05\x08", "init packet is not a Secure DFU Packet"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(FuFirmware) firmware = fu_nordic_dfu_firmware_new();
		g_autoptr(GBytes) contents = NULL;
		g_autoptr(GBytes) zip = NULL;
		g_autoptr(GError) error = NULL;
		gboolean ret;

		if (cases[i].contents != NULL)
			contents = g_bytes_new_static(cases[i].contents, strlen(cases[i].contents));
		zip = fu_nordic_dfu_test_package_with(cases[i].member, contents);
		ret = fu_firmware_parse_bytes(firmware,
					      zip,
					      0x0,
					      FU_FIRMWARE_PARSE_FLAG_NONE,
					      &error);
		g_test_message("%s %s: %s",
			       cases[i].member,
			       cases[i].contents != NULL ? cases[i].contents : "(missing)",
			       error != NULL ? error->message : "(no error)");
		g_assert_false(ret);
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, cases[i].message));
		/* a broken package is the file's fault, never fwupd's internal error */
		g_assert_true(error->domain == FWUPD_ERROR);
		g_assert_false(g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL));
	}
}

/* checks the first image of the test package @name against the device @id */
static gboolean
fu_nordic_dfu_test_check_package(const gchar *name, const FuNordicDfuIdentity *id, GError **error)
{
	g_autoptr(GError) error_parse = NULL;
	g_autoptr(FuFirmware) firmware = fu_nordic_dfu_test_parse(name, &error_parse);

	g_assert_no_error(error_parse);
	return fu_nordic_dfu_image_check_device(
	    fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(firmware), 0),
	    id,
	    error);
}

static void
fu_nordic_dfu_device_checks_func(void)
{
	FuNordicDfuImage *image;
	FuNordicDfuIdentity id = {
	    .has_hw = TRUE,
	    .part = 0x52840,
	    .rom_size = 0x100000,
	    .rom_page_size = 4096,
	    .hw_version = 52,
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(FuFirmware) app = fu_nordic_dfu_test_parse("app.zip", &error);

	g_assert_no_error(error);
	image = fu_nordic_dfu_test_image(FU_NORDIC_DFU_FIRMWARE(app), 0);
	g_assert_true(fu_nordic_dfu_image_check_device(image, &id, &error));
	g_assert_no_error(error);

	/* hw_version */
	g_assert_false(fu_nordic_dfu_test_check_package("hw-53.zip", &id, &error));
	g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
	g_assert_nonnull(strstr(error->message, "field hw_version"));
	g_clear_error(&error);

	/* the device's memory */
	id.rom_size = 8192;
	g_assert_false(fu_nordic_dfu_image_check_device(image, &id, &error));
	g_assert_nonnull(strstr(error->message, "field app_size"));
	g_clear_error(&error);
	id.rom_size = 0x100000;
	id.size_max = 4096;
	g_assert_false(fu_nordic_dfu_image_check_device(image, &id, &error));
	g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INVALID_FILE);
	g_clear_error(&error);
	id.size_max = 0;

	/* sd_req against a known SoftDevice */
	id.sd_id = 0x0100;
	g_assert_true(fu_nordic_dfu_image_check_device(image, &id, &error));
	g_assert_no_error(error);
	id.sd_id = 0x00B6;
	g_assert_false(fu_nordic_dfu_image_check_device(image, &id, &error));
	g_assert_nonnull(strstr(error->message, "field sd_req"));
	g_clear_error(&error);

	/* sd_req 0x00: needs no SoftDevice */
	g_assert_true(fu_nordic_dfu_test_check_package("sd.zip", &id, &error));
	g_assert_no_error(error);
}

/* any ATT MTU BlueZ may report (a guint16) gives a packet the link carries */
static void
fu_nordic_dfu_ble_mtu_func(void)
{
	g_assert_cmpuint(fu_nordic_dfu_ble_att_mtu_bounded(0), ==, 23);
	g_assert_cmpuint(fu_nordic_dfu_ble_att_mtu_bounded(247), ==, 247);
	g_assert_cmpuint(fu_nordic_dfu_ble_att_mtu_bounded(517), ==, 517);
	g_assert_cmpuint(fu_nordic_dfu_ble_att_mtu_bounded(518), ==, 517);
	g_assert_cmpuint(fu_nordic_dfu_ble_att_mtu_bounded(G_MAXUINT16), ==, 517);
	for (guint att_mtu = 0; att_mtu <= G_MAXUINT16; att_mtu++) {
		guint bounded = fu_nordic_dfu_ble_att_mtu_bounded(att_mtu);
		g_assert_cmpuint(bounded, >=, FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT);
		g_assert_cmpuint(bounded, <=, FU_NORDIC_DFU_BLE_ATT_MTU_MAX);
	}
}

/* on BLE the core's bytes go to the characteristics as they are: object data of at most one
 * packet, and requests that are never empty and never an MTU get, which BLE does not have */
static void
fu_nordic_dfu_ble_request_func(void)
{
	const guint8 data[21] = {0xC0, 0xDB};
	const guint8 select[] = {NRF_DFU_PROTO_OP_SELECT, NRF_DFU_PROTO_OBJECT_DATA};
	const guint8 mtu_get[] = {NRF_DFU_PROTO_OP_MTU_GET};
	const struct {
		NrfDfuProtoChannel channel;
		const guint8 *buf;
		gsize bufsz;
		gboolean ok;
	} cases[] = {
	    {NRF_DFU_PROTO_CHANNEL_PACKET, data, 20, TRUE},
	    {NRF_DFU_PROTO_CHANNEL_CONTROL, select, sizeof(select), TRUE},
	    {NRF_DFU_PROTO_CHANNEL_PACKET, data, sizeof(data), FALSE},
	    {NRF_DFU_PROTO_CHANNEL_CONTROL, select, 0, FALSE},
	    {NRF_DFU_PROTO_CHANNEL_CONTROL, mtu_get, sizeof(mtu_get), FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		gboolean ret = fu_nordic_dfu_ble_check_request(cases[i].channel,
							       cases[i].buf,
							       cases[i].bufsz,
							       20,
							       &error);
		if (cases[i].ok) {
			g_assert_no_error(error);
			g_assert_true(ret);
			continue;
		}
		g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL);
		g_assert_false(ret);
	}
}

/* a read of @fd through fwupd's FuIOChannel, as the UART and BLE devices read, that fails:
 * whether the port or link is gone (the channel closes @fd) */
static gboolean
fu_nordic_dfu_test_read_gone(gint fd, FuDevice *device, guint timeout_ms)
{
	guint8 buf[64] = {0};
	gsize actual = 0;
	gint64 started_us = g_get_monotonic_time();
	g_autoptr(FuIOChannel) io = fu_io_channel_unix_new(fd);
	g_autoptr(GError) error = NULL;

	g_assert_false(fu_io_channel_read_raw(io,
					      buf,
					      sizeof(buf),
					      &actual,
					      timeout_ms,
					      FU_IO_CHANNEL_FLAG_SINGLE_SHOT,
					      &error));
	g_assert_nonnull(error);
	return fu_nordic_dfu_read_error_is_gone(error, device, started_us, timeout_ms);
}

/* a tty whose other end closed (a USB-UART bridge unplugged) and a notification socket closed
 * with its link are gone; either one only silent timed out; an emulated device's replayed
 * timeout, which comes at once, is silence */
static void
fu_nordic_dfu_read_gone_func(void)
{
	g_autoptr(FuDevice) device = fu_device_new(NULL);
	g_autoptr(FuDevice) emulated = fu_device_new(NULL);
	g_autoptr(GError) error_replayed =
	    g_error_new_literal(FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT, "replayed");
	gint ptm = -1;
	gint pts = -1;
	gint sv[2] = {-1, -1};
	struct termios tio = {0};

	g_assert_cmpint(openpty(&ptm, &pts, NULL, NULL, NULL), ==, 0);
	g_assert_cmpint(fcntl(pts, F_SETFL, O_NONBLOCK), ==, 0);
	/* as the UART device sets it */
	g_assert_cmpint(tcgetattr(pts, &tio), ==, 0);
	cfmakeraw(&tio);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	g_assert_cmpint(tcsetattr(pts, TCSANOW, &tio), ==, 0);
	g_assert_false(fu_nordic_dfu_test_read_gone(dup(pts), device, 50));
	close(ptm);
	g_assert_true(fu_nordic_dfu_test_read_gone(pts, device, 5000));

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), ==, 0);
	g_assert_false(fu_nordic_dfu_test_read_gone(dup(sv[0]), device, 50));
	close(sv[1]);
	g_assert_true(fu_nordic_dfu_test_read_gone(sv[0], device, 5000));

	fu_device_add_flag(emulated, FWUPD_DEVICE_FLAG_EMULATED);
	g_assert_false(fu_nordic_dfu_read_error_is_gone(error_replayed,
							emulated,
							g_get_monotonic_time(),
							5000));
	g_assert_true(
	    fu_nordic_dfu_read_error_is_gone(error_replayed, device, g_get_monotonic_time(), 5000));
}

/* the Acquire* reply with @fds and handle @idx names no descriptor: refused, with an error that
 * says so */
static void
fu_nordic_dfu_test_ble_fd_refused(GUnixFDList *fds, gint32 idx, const gchar *message)
{
	g_autoptr(GError) error = NULL;
	gint fd = fu_nordic_dfu_ble_fd_from_reply(fds, idx, "AcquireWrite", &error);

	g_assert_cmpint(fd, ==, -1);
	g_assert_error(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, message));
}

/* an Acquire* reply whose handle names no descriptor (BlueZ sent no fd list, or a short one)
 * fails with an error, never without one */
static void
fu_nordic_dfu_ble_fd_func(void)
{
	gint pipefd[2] = {-1, -1};
	gint fd;
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) error = NULL;

	fu_nordic_dfu_test_ble_fd_refused(NULL, 0, "AcquireWrite: BlueZ returned handle 0 with 0");

	g_assert_cmpint(pipe(pipefd), ==, 0);
	g_assert_cmpint(g_unix_fd_list_append(fds, pipefd[0], &error), ==, 0);
	g_assert_no_error(error);
	close(pipefd[0]);
	close(pipefd[1]);
	fu_nordic_dfu_test_ble_fd_refused(fds, 1, "handle 1 with 1");
	fu_nordic_dfu_test_ble_fd_refused(fds, -1, "handle -1 with 1");
	fd = fu_nordic_dfu_ble_fd_from_reply(fds, 0, "AcquireNotify", &error);
	g_assert_no_error(error);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/nordic-dfu/application", fu_nordic_dfu_application_func);
	g_test_add_func("/nordic-dfu/signed", fu_nordic_dfu_signed_func);
	g_test_add_func("/nordic-dfu/order", fu_nordic_dfu_order_func);
	g_test_add_func("/nordic-dfu/refused", fu_nordic_dfu_refused_func);
	g_test_add_func("/nordic-dfu/not-a-package", fu_nordic_dfu_not_a_package_func);
	g_test_add_func("/nordic-dfu/degenerate", fu_nordic_dfu_degenerate_func);
	g_test_add_func("/nordic-dfu/ble-mtu", fu_nordic_dfu_ble_mtu_func);
	g_test_add_func("/nordic-dfu/ble-request", fu_nordic_dfu_ble_request_func);
	g_test_add_func("/nordic-dfu/ble-fd", fu_nordic_dfu_ble_fd_func);
	g_test_add_func("/nordic-dfu/read-gone", fu_nordic_dfu_read_gone_func);
	g_test_add_func("/nordic-dfu/device-checks", fu_nordic_dfu_device_checks_func);
	return g_test_run();
}
