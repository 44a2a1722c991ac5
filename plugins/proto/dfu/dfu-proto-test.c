/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Unit tests of the DFU core: descriptor and status parsing, and sessions driven against the
 * small scripted device of dfu-proto-fake.h, written independently of the core. Each session
 * test checks the exact sequence of actions (as a trace string) or counts in it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu-proto-fake.h"
#include "dfu-proto.h"
#include "proto-test.h"

/* ---- descriptor blobs ---- */

typedef struct {
	uint8_t buf[2048];
	size_t len;
	size_t config_start;
} Blob;

static void
blob_add(Blob *b, size_t n, ...)
{
	va_list args;
	va_start(args, n);
	for (size_t i = 0; i < n; i++)
		b->buf[b->len++] = (uint8_t)va_arg(args, int);
	va_end(args);
}

static void
blob_device(Blob *b)
{
	blob_add(b,
		 18,
		 18,
		 0x01,
		 0x00,
		 0x02,
		 0,
		 0,
		 0,
		 64,
		 0x83,
		 0x04,
		 0x11,
		 0xDF,
		 0x00,
		 0x22,
		 1,
		 2,
		 3,
		 1);
}

static void
blob_config_begin(Blob *b, uint8_t value)
{
	b->config_start = b->len;
	blob_add(b, 9, 9, 0x02, 0, 0, 1, value, 0, 0x80, 50);
}

static void
blob_config_end(Blob *b)
{
	size_t total = b->len - b->config_start;
	b->buf[b->config_start + 2] = (uint8_t)(total & 0xFF);
	b->buf[b->config_start + 3] = (uint8_t)(total >> 8);
}

static void
blob_interface(Blob *b,
	       uint8_t num,
	       uint8_t alt,
	       uint8_t cls,
	       uint8_t sub,
	       uint8_t proto,
	       uint8_t name)
{
	blob_add(b, 9, 9, 0x04, num, alt, 0, cls, sub, proto, name);
}

static void
blob_functional(Blob *b, uint8_t attrs, uint16_t detach, uint16_t xfer, uint16_t version)
{
	blob_add(b,
		 9,
		 9,
		 0x21,
		 attrs,
		 detach & 0xFF,
		 detach >> 8,
		 xfer & 0xFF,
		 xfer >> 8,
		 version & 0xFF,
		 version >> 8);
}

/* an STM32-like DFU-mode device: four alts, one functional descriptor after the last */
static void
blob_spec_layout(Blob *b)
{
	memset(b, 0, sizeof(*b));
	blob_device(b);
	blob_config_begin(b, 1);
	for (uint8_t alt = 0; alt < 4; alt++)
		blob_interface(b, 0, alt, 0xFE, 0x01, 0x02, (uint8_t)(4 + alt));
	blob_functional(b, 0x0B, 255, 2048, 0x011A);
	blob_config_end(b);
}

static void
test_descriptor_spec_layout(void)
{
	Blob b;
	DfuProtoDescriptors descs;
	const DfuProtoInterface *iface;
	char msg[128];

	blob_spec_layout(&b);
	CHECK(dfu_proto_descriptors_parse(b.buf, b.len, &descs, msg, sizeof(msg)) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(descs.interface_count == 1);
	iface = dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_DFU);
	CHECK(iface != NULL);
	if (iface == NULL)
		return;
	CHECK(dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME) == NULL);
	CHECK(iface->configuration_value == 1);
	CHECK(iface->alt_count == 4);
	CHECK(iface->alts[3].alt_setting == 3 && iface->alts[3].name_index == 7);
	CHECK(iface->has_functional);
	CHECK(iface->functional.attributes == 0x0B);
	CHECK(iface->functional.detach_timeout_ms == 255);
	CHECK(iface->functional.transfer_size == 2048);
	CHECK(iface->functional.dfu_version == 0x011A);

	/* the same without the device descriptor in front */
	CHECK(dfu_proto_descriptors_parse(b.buf + 18, b.len - 18, &descs, NULL, 0) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(descs.interface_count == 1 && descs.interfaces[0].has_functional);
}

/* runtime interface beside a HID interface whose 0x21 descriptor must not be taken */
static void
test_descriptor_runtime_beside_hid(void)
{
	Blob b = {0};
	DfuProtoDescriptors descs;
	const DfuProtoInterface *iface;

	blob_device(&b);
	blob_config_begin(&b, 1);
	blob_interface(&b, 0, 0, 0x03, 0x00, 0x00, 0);
	blob_add(&b, 9, 9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x40, 0x00); /* HID */
	blob_add(&b, 7, 7, 0x05, 0x81, 0x03, 0x40, 0x00, 0x01);		    /* endpoint */
	blob_interface(&b, 1, 0, 0xFE, 0x01, 0x01, 0);
	blob_functional(&b, 0x09, 1000, 1024, 0x0110);
	blob_config_end(&b);

	CHECK(dfu_proto_descriptors_parse(b.buf, b.len, &descs, NULL, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(descs.interface_count == 1);
	iface = dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME);
	CHECK(iface != NULL && iface->interface_number == 1);
	CHECK(iface != NULL && iface->has_functional && iface->functional.transfer_size == 1024);
	CHECK(iface != NULL && iface->functional.detach_timeout_ms == 1000);
}

/* functional descriptor after every alt (as Zephyr does), then a DFU 1.0 7-byte form */
static void
test_descriptor_repeated_and_dfu10(void)
{
	Blob b = {0};
	DfuProtoDescriptors descs;

	blob_config_begin(&b, 1);
	blob_interface(&b, 0, 0, 0xFE, 0x01, 0x02, 0);
	blob_functional(&b, 0x07, 100, 256, 0x0110);
	blob_interface(&b, 0, 1, 0xFE, 0x01, 0x02, 0);
	blob_functional(&b, 0x07, 100, 512, 0x0110);
	blob_config_end(&b);
	CHECK(dfu_proto_descriptors_parse(b.buf, b.len, &descs, NULL, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(descs.interfaces[0].alt_count == 2);
	CHECK(descs.interfaces[0].functional.transfer_size == 256);

	memset(&b, 0, sizeof(b));
	blob_config_begin(&b, 1);
	blob_interface(&b, 0, 0, 0xFE, 0x01, 0x02, 0);
	blob_add(&b, 7, 7, 0x21, 0x03, 0xFF, 0x00, 0x00, 0x01);
	blob_config_end(&b);
	CHECK(dfu_proto_descriptors_parse(b.buf, b.len, &descs, NULL, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(descs.interfaces[0].has_functional);
	CHECK(descs.interfaces[0].functional.transfer_size == 256);
	CHECK(descs.interfaces[0].functional.dfu_version == DFU_PROTO_VERSION_DFU10);
}

/* two configurations, the DFU interface only in the second */
static void
test_descriptor_two_configurations(void)
{
	Blob b = {0};
	DfuProtoDescriptors descs;

	blob_device(&b);
	blob_config_begin(&b, 1);
	blob_interface(&b, 0, 0, 0x03, 0, 0, 0);
	blob_config_end(&b);
	blob_config_begin(&b, 2);
	blob_interface(&b, 0, 0, 0x03, 0, 0, 0);
	blob_interface(&b, 2, 0, 0xFE, 0x01, 0x01, 9);
	blob_functional(&b, 0x0F, 50, 64, 0x0110);
	blob_config_end(&b);
	CHECK(dfu_proto_descriptors_parse(b.buf, b.len, &descs, NULL, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(descs.interface_count == 1);
	CHECK(descs.interfaces[0].configuration_value == 2);
	CHECK(descs.interfaces[0].interface_number == 2);
	CHECK(descs.interfaces[0].alts[0].name_index == 9);
	CHECK(descs.interfaces[0].functional.transfer_size == 64);
}

/* parses @b; a failure leaves its message in @msg */
static DfuProtoError
parse_blob_message(const Blob *b, char *msg, size_t msg_size)
{
	DfuProtoDescriptors descs;
	DfuProtoError error = dfu_proto_descriptors_parse(b->buf, b->len, &descs, msg, msg_size);
	if (error != DFU_PROTO_ERROR_NONE)
		CHECK(msg[0] != '\0');
	return error;
}

static DfuProtoError
parse_blob(const Blob *b)
{
	char msg[160];
	return parse_blob_message(b, msg, sizeof(msg));
}

static void
test_descriptor_hostile(void)
{
	Blob good;
	Blob b;
	DfuProtoDescriptors descs;
	char msg[160];

	blob_spec_layout(&good);

	/* bLength 0 inside the configuration: an error, not an endless loop */
	b = good;
	b.buf[18 + 9] = 0;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* bLength 1 */
	b = good;
	b.buf[18 + 9] = 1;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* functional descriptor claiming to run past the end */
	b = good;
	b.buf[b.len - 9] = 200;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* functional descriptor too short to hold wTransferSize */
	b = good;
	b.buf[b.len - 9] = 3;
	CHECK(parse_blob_message(&b, msg, sizeof(msg)) == DFU_PROTO_ERROR_DESCRIPTOR);
	CHECK_STR(msg, "DFU functional descriptor at offset 63 too short: 3 bytes");
	/* interface descriptor too short */
	b = good;
	b.buf[18 + 9] = 5;
	CHECK(parse_blob_message(&b, msg, sizeof(msg)) == DFU_PROTO_ERROR_DESCRIPTOR);
	CHECK_STR(msg, "interface descriptor at offset 27 too short: 5 bytes");
	/* wTotalLength past the end, and below the header */
	b = good;
	b.buf[18 + 2] = 0xFF;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	b = good;
	b.buf[18 + 2] = 4;
	b.buf[18 + 3] = 0;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* device descriptor with an impossible bLength */
	b = good;
	b.buf[0] = 0;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	b = good;
	b.len = 10;
	b.buf[0] = 40;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* something other than a configuration at the top level */
	b = good;
	b.buf[18 + 1] = 0x04;
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	/* nothing at all */
	CHECK(dfu_proto_descriptors_parse(NULL, 0, &descs, NULL, 0) == DFU_PROTO_ERROR_DESCRIPTOR);

	/* every truncation of the configuration is refused */
	for (size_t len = 19; len < good.len; len++) {
		b = good;
		b.len = len;
		CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR);
	}

	/* more alts than the table holds */
	memset(&b, 0, sizeof(b));
	blob_config_begin(&b, 1);
	for (unsigned alt = 0; alt <= DFU_PROTO_ALTS_MAX; alt++)
		blob_interface(&b, 0, (uint8_t)alt, 0xFE, 0x01, 0x02, 0);
	blob_config_end(&b);
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR_LIMIT);

	/* more interfaces than the table holds */
	memset(&b, 0, sizeof(b));
	blob_config_begin(&b, 1);
	for (unsigned num = 0; num <= DFU_PROTO_INTERFACES_MAX; num++)
		blob_interface(&b, (uint8_t)num, 0, 0xFE, 0x01, 0x02, 0);
	blob_config_end(&b);
	CHECK(parse_blob(&b) == DFU_PROTO_ERROR_DESCRIPTOR_LIMIT);

	/* random corruption of a good blob must never crash (run under ASan in CI) */
	srand(1);
	for (unsigned i = 0; i < 20000; i++) {
		b = good;
		for (unsigned j = 0; j < 3; j++)
			b.buf[(size_t)rand() % b.len] = (uint8_t)rand();
		b.len = (size_t)rand() % (b.len + 1);
		(void)parse_blob(&b);
	}
}

/* ---- GETSTATUS and names ---- */

static void
test_status_reply(void)
{
	DfuProtoStatusReply reply;
	const uint8_t good[] = {0x00, 0x68, 0x01, 0x02, 0x04, 0x07};
	const uint8_t bad_state[] = {0x00, 0, 0, 0, 11, 0};
	const uint8_t bad_status[] = {16, 0, 0, 0, 2, 0};

	CHECK(dfu_proto_status_reply_parse(good, sizeof(good), &reply) == DFU_PROTO_ERROR_NONE);
	CHECK(reply.status == DFU_PROTO_STATUS_OK);
	CHECK(reply.poll_timeout_ms == 0x020168);
	CHECK(reply.state == DFU_PROTO_STATE_DFU_DNBUSY);
	CHECK(reply.string_index == 7);
	CHECK(dfu_proto_status_reply_parse(good, 5, &reply) == DFU_PROTO_ERROR_REPLY);
	CHECK(dfu_proto_status_reply_parse(good, 0, &reply) == DFU_PROTO_ERROR_REPLY);
	CHECK(dfu_proto_status_reply_parse(NULL, 6, &reply) == DFU_PROTO_ERROR_REPLY);
	CHECK(dfu_proto_status_reply_parse(bad_state, 6, &reply) == DFU_PROTO_ERROR_REPLY);
	CHECK(dfu_proto_status_reply_parse(bad_status, 6, &reply) == DFU_PROTO_ERROR_REPLY);
}

static void
test_names(void)
{
	CHECK_STR(dfu_proto_state_to_string(DFU_PROTO_STATE_DFU_DNBUSY), "dfuDNBUSY");
	CHECK_STR(dfu_proto_state_to_string(DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET),
		  "dfuMANIFEST-WAIT-RESET");
	CHECK_STR(dfu_proto_state_to_string(99), "unknown");
	CHECK_STR(dfu_proto_status_to_string(DFU_PROTO_STATUS_ERR_STALLEDPKT), "errSTALLEDPKT");
	CHECK_STR(dfu_proto_status_to_message(DFU_PROTO_STATUS_ERR_VERIFY),
		  "device reports verification failed");
	CHECK_STR(dfu_proto_status_to_string(200), "unknown");
	CHECK_STR(dfu_proto_request_to_string(DFU_PROTO_REQUEST_GETSTATUS), "GETSTATUS");
	CHECK_STR(dfu_proto_request_to_string(7), "unknown");
	for (unsigned i = 0; i <= DFU_PROTO_STATUS_LAST; i++)
		CHECK(strlen(dfu_proto_status_to_message(i)) > 0);
	CHECK_STR(dfu_proto_error_to_string(DFU_PROTO_ERROR_BUSY_TOO_LONG), "busy-too-long");
	CHECK_STR(proto_io_to_string(PROTO_IO_NO_DEVICE), "no-device");
}

static const DfuProtoFunctional functional_default = {
    .attributes = DFU_PROTO_ATTR_CAN_DNLOAD | DFU_PROTO_ATTR_CAN_UPLOAD |
		  DFU_PROTO_ATTR_MANIFESTATION_TOLERANT,
    .detach_timeout_ms = 255,
    .transfer_size = 64,
    .dfu_version = DFU_PROTO_VERSION_DFU11,
};

/* busy for two polls per block: WAIT exactly bwPollTimeout, then poll again */
static void
test_download_busy(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	size_t done = 0;
	size_t total = 0;

	fake_init(&dev);
	dev.busy_reads = 2;
	dev.busy_poll_ms = 27;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 100, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS "
		  "DNLOAD:0:64@0 GETSTATUS WAIT:27 GETSTATUS WAIT:27 GETSTATUS "
		  "DNLOAD:1:36@64 GETSTATUS WAIT:27 GETSTATUS WAIT:27 GETSTATUS "
		  "DNLOAD:2:0@0 GETSTATUS DONE");
	CHECK(dev.memory_len == 100 && memcmp(dev.memory, test_image, 100) == 0);
	dfu_proto_session_get_progress(&s, &done, &total);
	CHECK(done == 100 && total == 100);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_NONE);
}

/* a device that is never busy gets no WAIT at all */
static void
test_download_fast(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	fake_init(&dev);
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 128, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:64@0 GETSTATUS DNLOAD:1:64@64 GETSTATUS "
		  "DNLOAD:2:0@0 GETSTATUS DONE");
	CHECK(dev.waits == 0);

	/* a smaller caller-given block size */
	fake_init(&dev);
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 50, 16) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.blocks_received == 4 && dev.memory_len == 50);
	CHECK(memcmp(dev.memory, test_image, 50) == 0);
}

/* busy with a 0 ms poll timeout forever: polls back to back, ends by the time budget */
static void
test_download_busy_forever(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	fake_init(&dev);
	dev.busy_forever = true;
	dev.busy_poll_ms = 0;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 64, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(dev.waits == 0);
	CHECK(dev.status_reads > DFU_PROTO_BUSY_BUDGET_MS / 2);
	CHECK(strstr(dfu_proto_session_get_message(&s), "dfuDNBUSY") != NULL);

	/* with a poll timeout, and a budget set by the caller */
	fake_init(&dev);
	dev.busy_forever = true;
	dev.busy_poll_ms = 100;
	dfu_proto_session_init(&s, &functional_default);
	dfu_proto_session_set_busy_budget(&s, 1000);
	CHECK(dfu_proto_session_start_download(&s, 64, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(dev.waits >= 9 && dev.waits <= 10);

	/* a caller whose clock never moves is stopped by the poll count */
	fake_init(&dev);
	dev.busy_forever = true;
	dev.busy_poll_ms = 0;
	dev.frozen_clock = true;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 64, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(dev.status_reads ==
	      1 + DFU_PROTO_BUSY_POLLS_MAX + 1); /* the first read, then the busy ones */
}

/* an absurd bwPollTimeout is waited as the named maximum */
static void
test_download_poll_clamp(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	fake_init(&dev);
	dev.busy_reads = 1;
	dev.busy_poll_ms = 0xFFFFFF;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:10@0 GETSTATUS WAIT:60000 GETSTATUS "
		  "DNLOAD:1:0@0 GETSTATUS DONE");
}

/* the WAIT shrinks by the time the caller already spent, and is skipped once over */
static void
test_wait_counts_from_status(void)
{
	DfuProtoSession s;
	DfuProtoAction a;
	const uint8_t idle[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_IDLE, 0};
	const uint8_t busy[6] = {0, 100, 0, 0, DFU_PROTO_STATE_DFU_DNBUSY, 0};

	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_CONTROL_IN && a.request == DFU_PROTO_REQUEST_GETSTATUS);
	CHECK(a.length == 6);
	fake_answer(&s, PROTO_IO_OK, idle, 6, 1, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_CONTROL_OUT && a.request == DFU_PROTO_REQUEST_DNLOAD);
	fake_answer(&s, PROTO_IO_OK, NULL, 0, 2, &a);
	fake_answer(&s, PROTO_IO_OK, busy, 6, 3, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_WAIT && a.wait_ms == 100);
	dfu_proto_session_next(&s, 43, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_WAIT && a.wait_ms == 60);
	dfu_proto_session_next(&s, 103, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_CONTROL_IN && a.request == DFU_PROTO_REQUEST_GETSTATUS);

	/* feed with no pending transfer is ignored */
	dfu_proto_session_init(&s, &functional_default);
	fake_answer(&s, PROTO_IO_OK, NULL, 0, 0, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_DONE);
}

/* dfuERROR after a block: CLRSTATUS, then an error naming the status and the block */
static void
test_download_device_error(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	const char *msg;

	fake_init(&dev);
	dev.error_after_block = 1;
	dev.error_status = DFU_PROTO_STATUS_ERR_VERIFY;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 200, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:64@0 GETSTATUS DNLOAD:1:64@64 GETSTATUS CLRSTATUS "
		  "ERROR:device-status");
	msg = dfu_proto_session_get_message(&s);
	CHECK(strstr(msg, "device reports verification failed") != NULL);
	CHECK(strstr(msg, "errVERIFY") != NULL);
	CHECK(strstr(msg, "block 1") != NULL && strstr(msg, "offset 64") != NULL);
	CHECK(dev.state == DFU_PROTO_STATE_DFU_IDLE);
	CHECK(dfu_proto_session_get_last_status(&s) != NULL);
	CHECK(dfu_proto_session_get_last_status(&s)->status == DFU_PROTO_STATUS_ERR_VERIFY);
}

/* a device left in dfuERROR / dfuDNLOAD-IDLE / runtime before the transfer */
static void
test_download_recovery(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_ERROR;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS CLRSTATUS GETSTATUS DNLOAD:0:10@0 GETSTATUS DNLOAD:1:0@0 "
		  "GETSTATUS DONE");

	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_DNLOAD_IDLE;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(strncmp(dev.trace, "GETSTATUS ABORT GETSTATUS DNLOAD:0:10@0", 39) == 0);

	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace, "GETSTATUS ERROR:wrong-state");
	CHECK(strstr(dfu_proto_session_get_message(&s), "runtime mode (appIDLE)") != NULL);

	/* abort operation alone */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_UPLOAD_IDLE;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_abort(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "GETSTATUS ABORT GETSTATUS DONE");
}

/* devices that do not follow the state machine */
static void
test_download_misbehaving(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	/* still busy from an earlier operation: polled with its timeout first */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_DNBUSY;
	dev.busy_reads = 0;
	dev.busy_left = 1;
	dev.blocks_received = 0;
	dev.busy_poll_ms = 40;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(strncmp(dev.trace, "GETSTATUS WAIT:40 GETSTATUS ABORT GETSTATUS DNLOAD:0:10@0", 57) ==
	      0);

	/* stuck in dfuERROR: bounded attempts, then a clear error */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_ERROR;
	dev.clrstatus_ignored = true;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace,
		  "GETSTATUS CLRSTATUS GETSTATUS CLRSTATUS GETSTATUS CLRSTATUS GETSTATUS "
		  "ERROR:wrong-state");
	CHECK(strstr(dfu_proto_session_get_message(&s), "stays in dfuERROR") != NULL);

	/* waiting for a reset from an earlier update */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace, "GETSTATUS ERROR:wrong-state");

	/* dfuIDLE where dfuDNLOAD-IDLE belongs */
	fake_init(&dev);
	dev.forgets_download = true;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace, "GETSTATUS DNLOAD:0:10@0 GETSTATUS ERROR:wrong-state");
	CHECK_STR(dfu_proto_session_get_message(&s),
		  "device reports the unexpected state dfuIDLE after download block 0 (offset 0 of "
		  "10 bytes): its firmware does not follow the DFU protocol");

	/* manifestation fails: cleared, reported */
	fake_init(&dev);
	dev.manifest_fails = true;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:10@0 GETSTATUS DNLOAD:1:0@0 GETSTATUS CLRSTATUS "
		  "ERROR:device-status");
	CHECK(strstr(dfu_proto_session_get_message(&s), "errFIRMWARE") != NULL);
	CHECK(strstr(dfu_proto_session_get_message(&s), "manifestation") != NULL);
}

/* transfer failures at a chosen point */
static void
test_download_transfer_faults(void)
{
	static FakeDevice dev;
	DfuProtoSession s;

	/* DNLOAD of block 1 stalled, status explains nothing */
	fake_init(&dev);
	dev.fail_at = 4;
	dev.fail_result = PROTO_IO_STALL;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 200, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:64@0 GETSTATUS DNLOAD:1:64@64 <stall> GETSTATUS "
		  "ERROR:stall");

	/* a DNLOAD the device refuses (wrong state) leaves dfuERROR: explained and cleared */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_DFU_IDLE;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	{
		DfuProtoAction a;
		const uint8_t idle[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_IDLE, 0};
		const uint8_t err[6] = {15, 0, 0, 0, DFU_PROTO_STATE_DFU_ERROR, 0};
		dfu_proto_session_next(&s, 0, &a);
		fake_answer(&s, PROTO_IO_OK, idle, 6, 0, &a);
		CHECK(a.request == DFU_PROTO_REQUEST_DNLOAD);
		fake_answer(&s, PROTO_IO_STALL, NULL, 0, 0, &a);
		CHECK(a.request == DFU_PROTO_REQUEST_GETSTATUS);
		fake_answer(&s, PROTO_IO_OK, err, 6, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_CONTROL_OUT);
		CHECK(a.request == DFU_PROTO_REQUEST_CLRSTATUS);
		fake_answer(&s, PROTO_IO_OK, NULL, 0, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_ERROR);
		CHECK(a.error == DFU_PROTO_ERROR_DEVICE_STATUS);
		CHECK(strstr(a.message, "errSTALLEDPKT") != NULL);
	}

	/* GETSTATUS timing out */
	fake_init(&dev);
	dev.fail_at = 3;
	dev.fail_result = PROTO_IO_TIMEOUT;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 200, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.trace, "GETSTATUS DNLOAD:0:64@0 GETSTATUS <timeout> ERROR:timeout");

	/* the device unplugged mid-download */
	fake_init(&dev);
	dev.fail_at = 4;
	dev.fail_result = PROTO_IO_NO_DEVICE;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 200, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_NO_DEVICE);
	CHECK(strstr(dfu_proto_session_get_message(&s), "disconnected") != NULL);

	/* a stalled poll while busy is retried after the poll timeout */
	fake_init(&dev);
	dev.busy_reads = 2;
	dev.busy_poll_ms = 5;
	dev.fail_at = 4; /* GETSTATUS after the first busy answer */
	dev.fail_result = PROTO_IO_STALL;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(strncmp(dev.trace,
		      "GETSTATUS DNLOAD:0:10@0 GETSTATUS WAIT:5 GETSTATUS <stall> WAIT:5 "
		      "GETSTATUS WAIT:5 GETSTATUS DNLOAD:1:0@0",
		      103) == 0);

	/* garbage status */
	{
		DfuProtoAction a;
		const uint8_t garbage[6] = {0, 0, 0, 0, 0x42, 0};
		dfu_proto_session_init(&s, &functional_default);
		CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
		dfu_proto_session_next(&s, 0, &a);
		fake_answer(&s, PROTO_IO_OK, garbage, 6, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_ERROR && a.error == DFU_PROTO_ERROR_REPLY);
		dfu_proto_session_init(&s, &functional_default);
		CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_NONE);
		dfu_proto_session_next(&s, 0, &a);
		fake_answer(&s, PROTO_IO_OK, garbage, 3, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_ERROR && a.error == DFU_PROTO_ERROR_REPLY);
		CHECK(strstr(a.message, "3-byte") != NULL);
	}
}

/* manifestation: polled with the device's timeouts; non-tolerant devices get a reset */
static void
test_download_manifestation(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	DfuProtoFunctional functional = functional_default;

	fake_init(&dev);
	dev.manifest_reads = 2;
	dev.busy_poll_ms = 300;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 8, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:8@0 GETSTATUS DNLOAD:1:0@0 GETSTATUS WAIT:300 GETSTATUS "
		  "WAIT:300 GETSTATUS DONE");
	CHECK(!dev.reset_seen);

	/* not tolerant, ends in dfuMANIFEST-WAIT-RESET */
	functional.attributes &= (uint8_t)~DFU_PROTO_ATTR_MANIFESTATION_TOLERANT;
	fake_init(&dev);
	dev.manifest_tolerant = false;
	dev.manifest_reads = 1;
	dev.busy_poll_ms = 50;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 8, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:8@0 GETSTATUS DNLOAD:1:0@0 GETSTATUS WAIT:50 GETSTATUS "
		  "RESET DONE");
	CHECK(dev.state == DFU_PROTO_STATE_APP_IDLE);

	/* not tolerant, stops answering: expected, not an error */
	fake_init(&dev);
	dev.manifest_tolerant = false;
	dev.manifest_silent = true;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 8, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:8@0 GETSTATUS DNLOAD:1:0@0 GETSTATUS <timeout> RESET DONE");

	/* not tolerant, gone at once: nothing left to reset */
	fake_init(&dev);
	dev.manifest_tolerant = false;
	dev.fail_at = 5;
	dev.fail_result = PROTO_IO_NO_DEVICE;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 8, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace,
		  "GETSTATUS DNLOAD:0:8@0 GETSTATUS DNLOAD:1:0@0 GETSTATUS <no-device> DONE");

	/* tolerant and silent: that is an error */
	fake_init(&dev);
	dev.manifest_silent = true;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 8, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_TIMEOUT);
	CHECK(strstr(dfu_proto_session_get_message(&s), "manifestation") != NULL);
}

/* block numbers wrap at 65536 */
static void
test_download_wrap(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	const size_t total = 65536 * 8 + 3;

	fake_init(&dev);
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, total, 8) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.blocks_received == 65536 + 1);
	CHECK(!dev.wrong_block_number);
	CHECK(dev.memory_len == total && memcmp(dev.memory, test_image, total) == 0);
}

/* a block smaller than a control endpoint's packet is refused with the figure named */
static void
test_download_transfer_size_floor(void)
{
	DfuProtoSession s;
	DfuProtoFunctional functional = functional_default;
	DfuProtoAction a;

	functional.transfer_size = 1;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 1024, 0) == DFU_PROTO_ERROR_INVALID_ARGUMENT);
	dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_ERROR && a.message != NULL &&
	      strstr(a.message, "transfer size of 1 bytes") != NULL &&
	      strstr(a.message, "8 bytes") != NULL);
	CHECK(dfu_proto_session_start_upload(&s, 1024, 0) == DFU_PROTO_ERROR_INVALID_ARGUMENT);

	/* a caller-given block size too, and 8 is enough */
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 1024, 7) == DFU_PROTO_ERROR_INVALID_ARGUMENT);
	CHECK(strstr(dfu_proto_session_get_message(&s), "of 7 bytes") != NULL);
	CHECK(dfu_proto_session_start_download(&s, 1024, DFU_PROTO_TRANSFER_SIZE_MIN) ==
	      DFU_PROTO_ERROR_NONE);
}

/*
 * A device that stays busy just under the per-block budget on every block of a 1 KiB image
 * in the smallest blocks accepted would take 4.5 h of device time (34 h at 1-byte blocks):
 * the whole download's bound stops it in minutes, and says what the device did.
 */
static void
test_download_session_bound(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	DfuProtoFunctional functional = functional_default;
	const uint64_t bound_ms =
	    DFU_PROTO_SESSION_BUSY_FLOOR_MS +
	    1024 / DFU_PROTO_TRANSFER_SIZE_MIN * (uint64_t)DFU_PROTO_SESSION_BUSY_BLOCK_MS;

	fake_init(&dev);
	dev.busy_reads = 2;
	dev.busy_poll_ms = 63500; /* waited as DFU_PROTO_POLL_TIMEOUT_MAX_MS, polled again */
	functional.transfer_size = DFU_PROTO_TRANSFER_SIZE_MIN;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 1024, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(strstr(dfu_proto_session_get_message(&s), "the device stayed busy") != NULL);
	CHECK(strstr(dfu_proto_session_get_message(&s), "of 128 blocks of 8 bytes") != NULL);
	/* no block exceeded its own budget: only the whole download's bound ended it */
	CHECK(dev.blocks_received > 1 && dev.blocks_received < 128);
	CHECK(dev.now_ms - 1000 > bound_ms && dev.now_ms - 1000 < bound_ms + 130000);

	/* a slow but real device: 32 s of busy on every one of 16 blocks still passes */
	fake_init(&dev);
	dev.busy_reads = 320;
	dev.busy_poll_ms = 100;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 1024, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.memory_len == 1024 && memcmp(dev.memory, test_image, 1024) == 0);
	CHECK(dev.now_ms - 1000 > 16 * 32000);
}

static void
test_upload(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	size_t done = 0;

	/* ends at the short block */
	fake_init(&dev);
	dev.upload_size = 150;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_upload(&s, 4096, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "GETSTATUS UPLOAD:0:64@0 UPLOAD:1:64@64 UPLOAD:2:64@128 DONE");
	dfu_proto_session_get_progress(&s, &done, NULL);
	CHECK(done == 150);
	CHECK(upload_buffer[149] == 149);

	/* an exact multiple ends with a zero-length block */
	fake_init(&dev);
	dev.upload_size = 128;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_upload(&s, 4096, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "GETSTATUS UPLOAD:0:64@0 UPLOAD:1:64@64 UPLOAD:2:64@128 DONE");

	/* a device with more than the maximum: stops there, asks only for what fits */
	fake_init(&dev);
	dev.upload_size = 100000;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_upload(&s, 100, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "GETSTATUS UPLOAD:0:64@0 UPLOAD:1:36@64 ABORT DONE");
	CHECK(dev.state == DFU_PROTO_STATE_DFU_IDLE);
	dfu_proto_session_get_progress(&s, &done, NULL);
	CHECK(done == 100);

	/* a device sending more than asked */
	{
		DfuProtoAction a;
		uint8_t big[128] = {0};
		const uint8_t idle[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_IDLE, 0};
		dfu_proto_session_init(&s, &functional_default);
		CHECK(dfu_proto_session_start_upload(&s, 1000, 0) == DFU_PROTO_ERROR_NONE);
		dfu_proto_session_next(&s, 0, &a);
		fake_answer(&s, PROTO_IO_OK, idle, 6, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_CONTROL_IN &&
		      a.request == DFU_PROTO_REQUEST_UPLOAD);
		fake_answer(&s, PROTO_IO_OK, big, sizeof(big), 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_ERROR && a.error == DFU_PROTO_ERROR_REPLY);
	}

	/* upload not declared */
	{
		DfuProtoFunctional functional = functional_default;
		functional.attributes = DFU_PROTO_ATTR_CAN_DNLOAD;
		dfu_proto_session_init(&s, &functional);
		CHECK(dfu_proto_session_start_upload(&s, 100, 0) == DFU_PROTO_ERROR_NOT_SUPPORTED);
	}
}

static void
test_start_arguments(void)
{
	DfuProtoSession s;
	DfuProtoFunctional functional = functional_default;
	DfuProtoAction a;

	functional.transfer_size = 0;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_download(&s, 10, 0) == DFU_PROTO_ERROR_INVALID_ARGUMENT);
	dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_ERROR && strstr(a.message, "transfer size") != NULL);
	CHECK(dfu_proto_session_start_download(&s, 10, 32) == DFU_PROTO_ERROR_NONE);
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_download(&s, 0, 0) == DFU_PROTO_ERROR_INVALID_ARGUMENT);
	dfu_proto_session_init(&s, NULL);
	CHECK(dfu_proto_session_start_download(&s, 10, 64) == DFU_PROTO_ERROR_NOT_SUPPORTED);
}

static void
test_detach(void)
{
	static FakeDevice dev;
	DfuProtoSession s;
	DfuProtoFunctional functional = functional_default;

	/* no willDetach: DETACH then reset */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_detach(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "DETACH:255 RESET DONE");
	CHECK(dev.state == DFU_PROTO_STATE_DFU_IDLE);

	/* willDetach: no reset; a huge wDetachTimeOut is clamped */
	functional.attributes |= DFU_PROTO_ATTR_WILL_DETACH;
	functional.detach_timeout_ms = 60000;
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_detach(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "DETACH:1000 DONE");

	/* willDetach and the device vanishes mid-request (stall, I/O error or gone) */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dev.fail_at = 1;
	dev.fail_result = PROTO_IO_ERROR;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_detach(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "DETACH:1000 <io-error> DONE");

	/* no willDetach, stalled DETACH: tolerated, still reset */
	functional = functional_default;
	functional.detach_timeout_ms = 0;
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dev.fail_at = 1;
	dev.fail_result = PROTO_IO_STALL;
	dfu_proto_session_init(&s, &functional);
	CHECK(dfu_proto_session_start_detach(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.trace, "DETACH:1000 <stall> RESET DONE");

	/* no willDetach, I/O error: reported */
	fake_init(&dev);
	dev.state = DFU_PROTO_STATE_APP_IDLE;
	dev.fail_at = 1;
	dev.fail_result = PROTO_IO_TIMEOUT;
	dfu_proto_session_init(&s, &functional_default);
	CHECK(dfu_proto_session_start_detach(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev, &s, NULL, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(strstr(dfu_proto_session_get_message(&s), "DETACH") != NULL);
}

int
main(void)
{
	test_image_fill();
	test_descriptor_spec_layout();
	test_descriptor_runtime_beside_hid();
	test_descriptor_repeated_and_dfu10();
	test_descriptor_two_configurations();
	test_descriptor_hostile();
	test_status_reply();
	test_names();
	test_download_busy();
	test_download_fast();
	test_download_busy_forever();
	test_download_poll_clamp();
	test_wait_counts_from_status();
	test_download_device_error();
	test_download_recovery();
	test_download_misbehaving();
	test_download_transfer_faults();
	test_download_manifestation();
	test_download_wrap();
	test_download_transfer_size_floor();
	test_download_session_bound();
	test_upload();
	test_start_arguments();
	test_detach();
	return proto_test_result("dfu-proto-test");
}
