/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* unit tests of the Secure DFU core against the scripted bootloader */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrf-dfu-fake-bootloader.h"
#include "nrf-dfu-proto.h"
#include "proto-test.h"

static uint8_t init_packet[141];
static uint8_t image[10000];

static void
make_image(uint8_t *buf, size_t len, uint32_t seed, bool specials)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
		/* every fourth byte a SLIP special, to exercise escaping */
		if (specials && i % 4 == 0)
			buf[i] = (i / 4) % 2 ? 0xC0 : 0xDB;
	}
}

typedef struct {
	unsigned chunk; /* feed replies this many bytes at a time, 0: all at once */
	unsigned stop_after_data_writes; /* end the run early, as a host that died */
	bool reset_at_stop;
	unsigned reset_after_data_writes; /* a device reset the session lives through */
	/* a hostile device: the execute of this data object (1-based) is refused with "not
	 * permitted" and the device forgets every object, or, with silent_execute, never
	 * answered and the device forgets the objects only if forget_on_silence is set */
	unsigned hostile_execute_object;
	bool silent_execute;
	bool forget_on_silence;
	bool late_replies;	/* every reply comes 1 ms before the action's timeout */
	bool drop_packets;	/* a link that loses every packet */
	unsigned packet_writes; /* out: writes sent on the packet channel */
	size_t largest_packet;	/* out: the most data one of them carried */
	unsigned mtu_gets;	/* out: MTU get requests sent */
	unsigned steps;		/* out: actions the run took */
	uint64_t elapsed_ms;	/* out: the time the run fed the session */
} RunOpts;

/* the hostile device of RunOpts: true when it took the request in place of the fake */
static bool
run_hostile(FakeBl *bl, const RunOpts *opts, const NrfDfuProtoAction *a)
{
	if (opts == NULL || opts->hostile_execute_object == 0 ||
	    a->op != NRF_DFU_PROTO_OP_EXECUTE || bl->current_object != 2 ||
	    bl->data_offset != opts->hostile_execute_object * bl->data_max)
		return false;
	if (!opts->silent_execute || opts->forget_on_silence) {
		bl->offset_last = bl->crc_last = 0;
		bl->data_offset = bl->data_crc = 0;
		bl->object_size = 0;
	}
	if (!opts->silent_execute) {
		static const uint8_t refused[] = {0x60, 0x04, 0x08, 0xC0};
		memcpy(bl->out + bl->out_len, refused, sizeof(refused));
		bl->out_len += sizeof(refused);
	}
	return true;
}

/* the unframed request of a SEND on its channel: object data on the packet channel, a request
 * that starts with its opcode on the control channel; counted in @opts */
static void
check_send(const NrfDfuProtoAction *a, const RunOpts *opts)
{
	RunOpts *out = (RunOpts *)opts;

	if (a->channel == NRF_DFU_PROTO_CHANNEL_PACKET) {
		CHECK(a->op == NRF_DFU_PROTO_OP_WRITE);
		if (out != NULL) {
			out->packet_writes++;
			if (a->length > out->largest_packet)
				out->largest_packet = a->length;
		}
		return;
	}
	CHECK(a->channel == NRF_DFU_PROTO_CHANNEL_CONTROL);
	CHECK(a->length > 0 && a->length <= NRF_DFU_PROTO_REQUEST_MAX && a->bytes[0] == a->op);
	if (out != NULL && a->op == NRF_DFU_PROTO_OP_MTU_GET)
		out->mtu_gets++;
}

/* executes the session's actions against the fake, over the serial link's SLIP stream as the
 * SDK's serial transport has it; returns the final action kind */
static NrfDfuProtoActionKind
run(NrfDfuProtoSession *s, FakeBl *bl, const RunOpts *opts, NrfDfuProtoAction *last)
{
	static uint8_t frame[NRF_DFU_PROTO_MTU_MAX];
	NrfDfuProtoSlipDecoder rx;
	uint64_t now = 1000;
	bool reset_done = false;

	nrf_dfu_proto_slip_decoder_init(&rx);
	for (unsigned i = 0; i < 200000; i++) {
		NrfDfuProtoAction a;
		nrf_dfu_proto_session_next(s, now, &a);
		*last = a;
		if (opts != NULL) {
			((RunOpts *)opts)->steps = i;
			((RunOpts *)opts)->elapsed_ms = now - 1000;
		}
		switch (a.kind) {
		case NRF_DFU_PROTO_ACTION_DONE:
		case NRF_DFU_PROTO_ACTION_ERROR:
			return a.kind;
		case NRF_DFU_PROTO_ACTION_SEND: {
			size_t n = nrf_dfu_proto_serial_encode(a.channel,
							       a.bytes,
							       a.length,
							       frame,
							       sizeof(frame));
			check_send(&a, opts);
			CHECK(n > 0);
			if (opts != NULL && opts->drop_packets &&
			    a.channel == NRF_DFU_PROTO_CHANNEL_PACKET)
				n = 0;
			if (n > 0 && !run_hostile(bl, opts, &a))
				fake_bl_receive(bl, frame, n);
			now += 1;
			nrf_dfu_proto_session_feed_sent(s, PROTO_IO_OK, now);
			if (opts != NULL && opts->reset_after_data_writes != 0 &&
			    bl->data_writes == opts->reset_after_data_writes && !reset_done) {
				reset_done = true;
				fake_bl_reset(bl);
				bl->out_len = 0;
			}
			if (opts != NULL && opts->stop_after_data_writes != 0 &&
			    bl->data_writes >= opts->stop_after_data_writes) {
				if (opts->reset_at_stop)
					fake_bl_reset(bl);
				bl->out_len = 0;
				return NRF_DFU_PROTO_ACTION_SEND;
			}
			break;
		}
		case NRF_DFU_PROTO_ACTION_RECEIVE:
			if (bl->out_len == 0) {
				now += a.timeout_ms;
				nrf_dfu_proto_session_feed_received(s,
								    PROTO_IO_TIMEOUT,
								    NULL,
								    0,
								    now);
				break;
			}
			if (opts != NULL && opts->late_replies)
				now += a.timeout_ms - 1;
			if (opts != NULL && opts->chunk > 0) {
				for (size_t off = 0; off < bl->out_len; off += opts->chunk) {
					size_t n = bl->out_len - off < opts->chunk
						       ? bl->out_len - off
						       : opts->chunk;
					nrf_dfu_proto_serial_feed(&rx,
								  s,
								  PROTO_IO_OK,
								  bl->out + off,
								  n,
								  now);
				}
			} else {
				nrf_dfu_proto_serial_feed(&rx,
							  s,
							  PROTO_IO_OK,
							  bl->out,
							  bl->out_len,
							  now);
			}
			bl->out_len = 0;
			break;
		}
	}
	fprintf(stderr, "run did not end\n");
	test_failures++;
	return NRF_DFU_PROTO_ACTION_ERROR;
}

/* a new session that transfers the test image, its frames capped at mtu_max (0: none) */
static void
start(NrfDfuProtoSession *s, uint16_t mtu_max, uint16_t prn, bool ping)
{
	nrf_dfu_proto_session_init(s);
	s->mtu_max = mtu_max;
	nrf_dfu_proto_session_start_transfer(s,
					     init_packet,
					     sizeof(init_packet),
					     image,
					     sizeof(image),
					     prn,
					     ping);
}

static NrfDfuProtoActionKind
transfer(NrfDfuProtoSession *s,
	 FakeBl *bl,
	 uint16_t prn,
	 const RunOpts *opts,
	 NrfDfuProtoAction *last)
{
	start(s, 0, prn, true);
	return run(s, bl, opts, last);
}

static bool
flash_matches(const FakeBl *bl)
{
	return memcmp(bl->flash, image, sizeof(image)) == 0;
}

/* what most tests drive: a session, the fake bootloader holding the test image, and the
 * last action of a run; static, as the fake is large */
typedef struct {
	NrfDfuProtoSession s;
	FakeBl bl;
	NrfDfuProtoAction a;
} Fixture;

static Fixture *
fixture_new(void)
{
	static Fixture f;
	memset(&f, 0, sizeof(f));
	fake_bl_init(&f.bl, image, sizeof(image));
	return &f;
}

/* ---- SLIP ---- */

static void
test_slip(void)
{
	const uint8_t raw[] = {0x60, 0xC0, 0x01, 0xDB, 0xC0, 0xDB, 0x02};
	uint8_t enc[32];
	size_t n = nrf_dfu_proto_slip_encode(raw, sizeof(raw), enc, sizeof(enc));
	const uint8_t expected[] =
	    {0x60, 0xDB, 0xDC, 0x01, 0xDB, 0xDD, 0xDB, 0xDC, 0xDB, 0xDD, 0x02, 0xC0};
	NrfDfuProtoSlipDecoder dec;
	size_t consumed = 0;

	CHECK(n == sizeof(expected));
	CHECK(memcmp(enc, expected, n) == 0);
	CHECK(nrf_dfu_proto_slip_encoded_size(raw, sizeof(raw)) == n);
	CHECK(nrf_dfu_proto_slip_encode(raw, sizeof(raw), enc, n - 1) == 0);

	/* round trip, byte by byte */
	nrf_dfu_proto_slip_decoder_init(&dec);
	for (size_t i = 0; i < n; i++) {
		bool done = nrf_dfu_proto_slip_decoder_feed(&dec, enc + i, 1, &consumed);
		CHECK(consumed == 1);
		CHECK(done == (i == n - 1));
	}
	CHECK(dec.len == sizeof(raw));
	CHECK(memcmp(dec.buf, raw, sizeof(raw)) == 0);

	/* empty frames are skipped; two frames in one buffer come out one at a time */
	{
		const uint8_t two[] = {0xC0, 0xC0, 0x01, 0x02, 0xC0, 0x03, 0xC0};
		nrf_dfu_proto_slip_decoder_init(&dec);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec, two, sizeof(two), &consumed));
		CHECK(consumed == 5 && dec.len == 2 && dec.buf[1] == 0x02);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec,
						      two + consumed,
						      sizeof(two) - 5,
						      &consumed));
		CHECK(consumed == 2 && dec.len == 1 && dec.buf[0] == 0x03);
	}

	/* a bad escape discards to the next END, then decoding resumes */
	{
		const uint8_t bad[] = {0x01, 0xDB, 0x05, 0x02, 0xC0, 0x07, 0xC0};
		nrf_dfu_proto_slip_decoder_init(&dec);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec, bad, sizeof(bad), &consumed));
		CHECK(dec.len == 1 && dec.buf[0] == 0x07);
		CHECK(dec.frames_discarded == 1);
	}

	/* ESC then END: the frame is dropped and END resynchronises */
	{
		const uint8_t esc_end[] = {0x01, 0xDB, 0xC0, 0x09, 0xC0};
		nrf_dfu_proto_slip_decoder_init(&dec);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec, esc_end, sizeof(esc_end), &consumed));
		CHECK(dec.len == 1 && dec.buf[0] == 0x09);
	}

	/* an oversized frame is discarded, the next one decoded */
	{
		uint8_t big[NRF_DFU_PROTO_SLIP_RX_MAX + 10];
		memset(big, 0x11, sizeof(big));
		big[sizeof(big) - 1] = 0xC0;
		nrf_dfu_proto_slip_decoder_init(&dec);
		CHECK(!nrf_dfu_proto_slip_decoder_feed(&dec, big, sizeof(big), &consumed));
		CHECK(dec.frames_discarded == 1);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec,
						      (const uint8_t[]){0x42, 0xC0},
						      2,
						      &consumed));
		CHECK(dec.len == 1 && dec.buf[0] == 0x42);
	}

	/* a frame of exactly the buffer size fits */
	{
		uint8_t full[NRF_DFU_PROTO_SLIP_RX_MAX + 1];
		memset(full, 0x22, sizeof(full));
		full[NRF_DFU_PROTO_SLIP_RX_MAX] = 0xC0;
		nrf_dfu_proto_slip_decoder_init(&dec);
		CHECK(nrf_dfu_proto_slip_decoder_feed(&dec, full, sizeof(full), &consumed));
		CHECK(dec.len == NRF_DFU_PROTO_SLIP_RX_MAX);
	}
}

static void
test_crc32(void)
{
	const char *check = "123456789";
	CHECK(proto_crc32(0, (const uint8_t *)check, 9) == 0xCBF43926);
	CHECK(proto_crc32(proto_crc32(0, (const uint8_t *)check, 4),
			  (const uint8_t *)check + 4,
			  5) == 0xCBF43926);
	CHECK(proto_crc32(0, image, sizeof(image)) == fake_bl_crc32(0, image, sizeof(image)));
}

/* ---- requests and responses ---- */

static void
test_encode(void)
{
	uint8_t out[16];
	NrfDfuProtoRequest req = {.op = NRF_DFU_PROTO_OP_CREATE,
				  .object_type = 2,
				  .size = 0x00001000};
	const uint8_t data[3] = {1, 2, 3};

	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 6);
	CHECK(memcmp(out, (const uint8_t[]){0x01, 0x02, 0x00, 0x10, 0x00, 0x00}, 6) == 0);
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_PRN_SET, .prn = 0x0102};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 3);
	CHECK(out[1] == 0x02 && out[2] == 0x01);
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_SELECT, .object_type = 1};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 2 && out[1] == 1);
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_FW_VERSION, .image = 2};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 2 && out[1] == 2);
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_PING, .ping_id = 7};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 2 && out[1] == 7);
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_WRITE, .data = data, .data_len = 3};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 4 && out[3] == 3);
	CHECK(nrf_dfu_proto_request_encode(&req, out, 3) == 0);
	for (unsigned op = 0; op <= 0x0C; op++) {
		req = (NrfDfuProtoRequest){.op = op};
		if (op == 0x05 || op == 0x08)
			continue;
		CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) >= 1);
		CHECK(out[0] == op);
	}
	req = (NrfDfuProtoRequest){.op = 0x05};
	CHECK(nrf_dfu_proto_request_encode(&req, out, sizeof(out)) == 0);
}

static void
test_decode(void)
{
	NrfDfuProtoResponse r;
	const uint8_t select[] =
	    {0x60, 0x06, 0x01, 0x00, 0x10, 0, 0, 0x40, 0, 0, 0, 0x78, 0x56, 0x34, 0x12};
	const uint8_t hw[] = {0x60, 0x0A, 0x01, 0x40, 0x28, 0x05, 0, 1, 2,    3, 4, 0,
			      0,    0x10, 0,	0,    0,    4,	  0, 0, 0x10, 0, 0};
	const uint8_t fw[] = {0x60, 0x0B, 0x01, 0x00, 0xB6, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0};

	CHECK(nrf_dfu_proto_response_decode(select, sizeof(select), &r) ==
	      NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.select.max_size == 4096 && r.select.offset == 0x40 && r.select.crc == 0x12345678);
	CHECK(nrf_dfu_proto_response_decode(select, sizeof(select) - 1, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(nrf_dfu_proto_response_decode(hw, sizeof(hw), &r) == NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.hw.part == 0x52840 && r.hw.rom_size == 0x100000 && r.hw.ram_size == 0x40000 &&
	      r.hw.rom_page_size == 4096);
	CHECK(nrf_dfu_proto_response_decode(fw, sizeof(fw), &r) == NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.fw.type == NRF_DFU_PROTO_FW_TYPE_SOFTDEVICE && r.fw.version == 0xB6 &&
	      r.fw.addr == 0x1000 && r.fw.len == 0x2000);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x07, 0x01, 0x03, 0x08},
					    5,
					    &r) == NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.mtu == 0x0803);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x04, 0x0B, 0x06}, 4, &r) ==
	      NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.result == NRF_DFU_PROTO_RESULT_EXT_ERROR &&
	      r.ext_error == NRF_DFU_PROTO_EXT_HW_VERSION_FAILURE);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x04, 0x0B}, 3, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x0B, 0x02}, 3, &r) ==
	      NRF_DFU_PROTO_ERROR_NONE);
	CHECK(r.result == NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x61, 0x04, 0x01}, 3, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x04}, 2, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x04, 0x01, 0x00}, 4, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(nrf_dfu_proto_response_decode((const uint8_t[]){0x60, 0x55, 0x01}, 3, &r) ==
	      NRF_DFU_PROTO_ERROR_REPLY);
}

static void
test_messages(void)
{
	const unsigned results[] = {0x00, 0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0A};
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		CHECK(strstr(nrf_dfu_proto_result_to_string(results[i]), "unknown") == NULL);
		CHECK(strstr(nrf_dfu_proto_result_to_message(results[i], 0), "unknown") == NULL);
	}
	for (unsigned ext = 0x01; ext <= 0x0D; ext++)
		CHECK(strcmp(nrf_dfu_proto_ext_error_to_string(ext), "unknown extended error") !=
		      0);
	for (unsigned ext = 0x02; ext <= 0x0D; ext++)
		CHECK(strstr(nrf_dfu_proto_result_to_message(0x0B, ext), "unknown") == NULL);
	CHECK(strstr(nrf_dfu_proto_result_to_message(0x0B, 0x06), "hw_version") != NULL);
}

static void
test_write_size(void)
{
	CHECK(nrf_dfu_proto_write_size(131) == 64);
	CHECK(nrf_dfu_proto_write_size(2051) == 1024);
	CHECK(nrf_dfu_proto_write_size(64) == 30);
	CHECK(nrf_dfu_proto_write_size(4) == 0);
	/* every payload of that size fits after worst-case escaping */
	for (unsigned mtu = 5; mtu < 300; mtu++) {
		size_t n = nrf_dfu_proto_write_size(mtu);
		CHECK(1 + 2 * n + 1 <= mtu);
	}
}

/* ---- the transfer ---- */

static void
test_full_transfer(void)
{
	Fixture *f = fixture_new();
	size_t done = 0, total = 0;

	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated);
	CHECK(flash_matches(&f->bl));
	CHECK(memcmp(f->bl.cmd, init_packet, sizeof(init_packet)) == 0);
	CHECK(f->bl.creates_command == 1 && f->bl.creates_data == 3 && f->bl.executes_data == 3);
	CHECK(f->bl.double_executes == 0);
	/* 4096 / 64 + 4096 / 64 + ceil(1808 / 64) */
	CHECK(f->bl.data_writes == 64 + 64 + 29);
	CHECK(f->bl.largest_frame <= 131);
	CHECK(f->s.stats.resumed_data_offset == 0 && f->s.stats.restarts == 0);
	/* the order of requests: ping, PRN, MTU, select(1), create(1), writes, CRC, execute,
	 * select(2), create(2) */
	CHECK(f->bl.ops[0] == 0x09 && f->bl.ops[1] == 0x02 && f->bl.ops[2] == 0x07 &&
	      f->bl.ops[3] == 0x06 && f->bl.ops[4] == 0x01 && f->bl.ops[5] == 0x08 &&
	      f->bl.ops[8] == 0x03 && f->bl.ops[9] == 0x04 && f->bl.ops[10] == 0x06 &&
	      f->bl.ops[11] == 0x01);
	nrf_dfu_proto_session_get_progress(&f->s, &done, &total);
	CHECK(done == total && total == sizeof(image));
}

static void
test_usb_mtu_worst_case(void)
{
	Fixture *f = fixture_new();
	RunOpts opts = {.chunk = 1};

	make_image(image, sizeof(image), 7, true);
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.mtu = 2051;
	CHECK(transfer(&f->s, &f->bl, 0, &opts, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.largest_frame <= 2051);
	/* 1024 data bytes a write */
	CHECK(f->bl.data_writes == 4 + 4 + 2);
	make_image(image, sizeof(image), 1, false);
}

static void
test_mtu_not_supported(void)
{
	Fixture *f = fixture_new();

	f->bl.mtu = 0;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->s.mtu == NRF_DFU_PROTO_MTU_UART && f->bl.activated);
}

/* a cap on the frame size (the BLE link's) holds when the device cannot report its MTU */
static void
test_mtu_cap_without_mtu_get(void)
{
	Fixture *f = fixture_new();

	f->bl.mtu = 0;
	start(&f->s, 43, 0, true);
	CHECK(run(&f->s, &f->bl, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->s.mtu == 43 && f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.largest_frame <= 43);
}

/* an MTU too small for a CREATE request is refused before anything is created */
static void
test_mtu_too_small(void)
{
	Fixture *f = fixture_new();

	f->bl.mtu = NRF_DFU_PROTO_MTU_MIN - 1;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_REPLY);
	CHECK(f->a.message != NULL && strstr(f->a.message, "bootloader reports 12") != NULL);
	CHECK(f->s.stats.objects_created == 0 && f->bl.largest_frame <= NRF_DFU_PROTO_MTU_MIN - 1);

	/* the same from a cap: the device is fine, the link is not */
	fake_bl_init(&f->bl, image, sizeof(image));
	start(&f->s, 5, 0, true);
	CHECK(run(&f->s, &f->bl, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT);
	CHECK(f->a.message != NULL && strstr(f->a.message, "link allows 5") != NULL);
	CHECK(f->s.stats.objects_created == 0 && f->bl.largest_frame <= 5);
}

/* a transport that sizes its packets itself (BLE) is never asked its MTU: every write carries
 * at most the packet size, on the packet channel */
static void
test_packet_size_without_mtu_get(void)
{
	Fixture *f = fixture_new();
	RunOpts opts = {0};

	start(&f->s, 0, 0, true);
	f->s.packet_size = 20;
	CHECK(run(&f->s, &f->bl, &opts, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(opts.mtu_gets == 0 && f->bl.ops[2] == NRF_DFU_PROTO_OP_SELECT);
	CHECK(f->s.write_size == 20 && opts.largest_packet == 20);
	/* 141 / 20 + 4096 / 20 + 4096 / 20 + 1808 / 20, each rounded up */
	CHECK(opts.packet_writes == 8 + 205 + 205 + 91 && f->bl.data_writes == 205 + 205 + 91);

	/* a link that loses every packet: the error names the packet size */
	fake_bl_init(&f->bl, image, sizeof(image));
	opts = (RunOpts){.drop_packets = true};
	start(&f->s, 0, 0, true);
	f->s.packet_size = 20;
	CHECK(run(&f->s, &f->bl, &opts, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_CRC && f->a.message != NULL &&
	      strstr(f->a.message,
		     "it took none of the writes of up to 20 bytes, the packet size of the "
		     "link") != NULL);
	CHECK(!f->bl.activated);
	fprintf(stderr, "packets lost: %s\n", f->a.message != NULL ? f->a.message : "(none)");

	/* without it the serial transport's MTU sets the write size */
	fake_bl_init(&f->bl, image, sizeof(image));
	opts = (RunOpts){0};
	start(&f->s, 0, 0, true);
	CHECK(run(&f->s, &f->bl, &opts, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(opts.mtu_gets == 1 && opts.largest_packet == 64);
}

/* serial links: a request is one SLIP frame as it is, object data the WRITE request that
 * carries it (nrf_dfu_serial.c), each frame's only END at its end */
static void
test_serial_encode(void)
{
	const uint8_t select[] = {0x06, 0x01};
	const uint8_t data[] = {0xC0, 0x11, 0xDB};
	const uint8_t select_frame[] = {0x06, 0x01, 0xC0};
	const uint8_t data_frame[] = {0x08, 0xDB, 0xDC, 0x11, 0xDB, 0xDD, 0xC0};
	const uint8_t empty_write_frame[] = {0x08, 0xC0};
	const struct {
		NrfDfuProtoChannel channel;
		const uint8_t *payload;
		size_t payload_len;
		size_t out_size;
		const uint8_t *frame; /* NULL: refused, as it does not fit out_size */
		size_t frame_len;
	} cases[] = {
	    {NRF_DFU_PROTO_CHANNEL_CONTROL,
	     select,
	     sizeof(select),
	     16,
	     select_frame,
	     sizeof(select_frame)},
	    {NRF_DFU_PROTO_CHANNEL_PACKET, data, sizeof(data), 16, data_frame, sizeof(data_frame)},
	    {NRF_DFU_PROTO_CHANNEL_PACKET, data, sizeof(data), sizeof(data_frame) - 1, NULL, 0},
	    {NRF_DFU_PROTO_CHANNEL_PACKET,
	     data,
	     0,
	     2,
	     empty_write_frame,
	     sizeof(empty_write_frame)},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[16];
		size_t len = nrf_dfu_proto_serial_encode(cases[i].channel,
							 cases[i].payload,
							 cases[i].payload_len,
							 out,
							 cases[i].out_size);
		CHECK(len == cases[i].frame_len);
		if (cases[i].frame != NULL && len == cases[i].frame_len)
			CHECK(memcmp(out, cases[i].frame, len) == 0);
	}
}

/* responses fed whole, as BLE's notifications are: the reply is taken, one longer than any
 * response is dropped and counted */
static void
test_unframed_responses(void)
{
	static NrfDfuProtoSession s;
	const uint8_t ping_reply[] = {0x60, 0x09, 0x01, 0x01};
	uint8_t too_long[NRF_DFU_PROTO_SLIP_RX_MAX + 1] = {0x60, 0x09, 0x01, 0x01};
	NrfDfuProtoRequest req = {.op = NRF_DFU_PROTO_OP_PING};
	NrfDfuProtoAction a;

	nrf_dfu_proto_session_init(&s);
	nrf_dfu_proto_session_start_request(&s, &req);
	nrf_dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_SEND && a.channel == NRF_DFU_PROTO_CHANNEL_CONTROL);
	CHECK(a.length == 2 && a.bytes[0] == 0x09 && a.bytes[1] == 0x01);
	nrf_dfu_proto_session_feed_sent(&s, PROTO_IO_OK, 1);
	nrf_dfu_proto_session_feed_received(&s, PROTO_IO_OK, too_long, sizeof(too_long), 2);
	nrf_dfu_proto_session_next(&s, 2, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_RECEIVE && s.stats.frames_dropped == 1);
	nrf_dfu_proto_session_feed_received(&s, PROTO_IO_OK, ping_reply, sizeof(ping_reply), 3);
	nrf_dfu_proto_session_next(&s, 3, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_DONE && s.response.ping_id == 1);
}

static void
test_prn(void)
{
	Fixture *f = fixture_new();

	CHECK(transfer(&f->s, &f->bl, 4, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	/* 3 init packet writes: none; per object 16, 16 and 7 notifications */
	CHECK(f->bl.notifications == 16 + 16 + 7);
	CHECK(f->s.stats.prn_checks == f->bl.notifications);
	CHECK(f->s.stats.stale_skipped == 0);

	/* PRN that does not divide the writes: the count runs on across objects' creates */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 5, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && f->s.stats.prn_checks == f->bl.notifications);
}

/* a transfer with the data write @corrupt_data_write (in the second object) corrupted on the
 * way: the CRC check finds it and the object is sent again */
static Fixture *
transfer_corrupt_write(unsigned corrupt_data_write, uint16_t prn)
{
	Fixture *f = fixture_new();

	f->bl.corrupt_data_write = corrupt_data_write;
	CHECK(transfer(&f->s, &f->bl, prn, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->s.stats.restarts == 1);
	return f;
}

static void
test_prn_corrupt_write(void)
{
	Fixture *f = transfer_corrupt_write(70, 4);
	CHECK(f->bl.creates_data == 4 && f->bl.double_executes == 0);
}

static void
test_crc_mismatch_restarts_object(void)
{
	Fixture *f = transfer_corrupt_write(100, 0);
	/* only the second object is sent again */
	CHECK(f->bl.creates_data == 4 && f->bl.executes_data == 3);
	CHECK(f->bl.data_writes == 64 + 64 + 64 + 29);
}

static void
test_resume_mid_object(void)
{
	Fixture *f = fixture_new();
	RunOpts stop = {.stop_after_data_writes = 64 + 10};
	unsigned writes_before;

	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	CHECK(f->bl.data_offset == 4096 + 640 && !f->bl.activated);
	writes_before = f->bl.data_writes;

	/* the same bootloader, still powered: the object in progress is finished */
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->s.stats.resumed_command_offset == sizeof(init_packet));
	CHECK(f->s.stats.resumed_data_offset == 4096 + 640);
	CHECK(f->bl.creates_command == 1);
	CHECK(f->bl.data_writes - writes_before == 54 + 29);
	CHECK(f->bl.double_executes == 0);
}

static void
test_resume_at_boundary(void)
{
	Fixture *f = fixture_new();
	RunOpts stop = {.stop_after_data_writes = 64 + 5, .reset_at_stop = true};
	unsigned creates_before;

	/* reset mid-object: the device is back at the last executed object */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.strict_double_execute = true;
	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	CHECK(f->bl.data_offset == 4096);
	creates_before = f->bl.creates_data;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->s.stats.resumed_data_offset == 4096);
	/* the next object is created, the executed one is not executed again */
	CHECK(f->bl.double_executes == 0);
	CHECK(f->bl.creates_data - creates_before == 2);
	CHECK(f->bl.creates_command == 1);
}

static void
test_reset_mid_object_same_session(void)
{
	Fixture *f = fixture_new();
	RunOpts opts = {.reset_after_data_writes = 64 + 64 + 10};

	/* a UART bootloader resets in the third object and the session goes on: the CRC reply
	 * says the device is back at the second object's end, the third is created there */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 0, &opts, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.creates_command == 1 && f->bl.double_executes == 0);
	CHECK(f->s.stats.restarts == 1);
}

static void
test_resume_command_mismatch(void)
{
	Fixture *f = fixture_new();
	RunOpts stop = {.stop_after_data_writes = 64 + 5};

	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	/* another init packet: everything starts again */
	init_packet[10] ^= 0xFF;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.creates_command == 2 && f->s.stats.resumed_data_offset == 0);
	CHECK(memcmp(f->bl.cmd, init_packet, sizeof(init_packet)) == 0);
	init_packet[10] ^= 0xFF;
}

static void
test_resume_mid_object_crc_mismatch(void)
{
	Fixture *f = fixture_new();
	RunOpts stop = {.stop_after_data_writes = 64 + 10};

	f->bl.corrupt_data_write = 64 + 3;
	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	/* the object in progress was started again, the first one kept */
	CHECK(f->s.stats.resumed_data_offset == 0 && f->s.stats.restarts == 1);
	CHECK(f->bl.creates_command == 1 && f->bl.double_executes == 0);
}

static void
test_written_not_executed_at_boundary(void)
{
	Fixture *f = fixture_new();
	RunOpts stop = {.stop_after_data_writes = 128};

	/* the second object fully written, its CRC and execute never sent: the create of the
	 * "next" object lands on the old one, the CRC check catches it and it converges */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.double_executes == 0);

	/* the same with a full-size next object: the device puts it where the unexecuted one
	 * started, the CRC reply's offset shows that, and that object is sent again */
	fake_bl_init(&f->bl, image, sizeof(image));
	stop.stop_after_data_writes = 64;
	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	CHECK(f->bl.double_executes == 0 && f->bl.creates_command == 1);
}

static void
test_stale_notification(void)
{
	Fixture *f = fixture_new();

	f->bl.stale_notification = true;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && f->s.stats.stale_skipped == 1);
}

static void
test_dropped_replies(void)
{
	Fixture *f = fixture_new();

	/* a lost select reply: asked again */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.drop_reply_op = 0x06;
	f->bl.drop_reply_count = 1;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && f->s.stats.timeouts == 1);

	/* a lost reply to a data execute: select says where the device is, no second execute;
	 * the first execute is the init packet's, the second the first data object's */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.strict_double_execute = true;
	f->bl.drop_reply_op = 0x04;
	f->bl.drop_reply_count = 2;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl) && f->bl.double_executes == 0);

	/* lost replies to the final execute: an error that says what may have happened */
	fake_bl_init(&f->bl, image, sizeof(image));
	{
		RunOpts stop = {.stop_after_data_writes = 128 + 29};
		CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	}
	f->bl.drop_data_execute_replies = true;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_TIMEOUT);
	CHECK(strstr(f->a.message, "final EXECUTE") != NULL);

	/* silent device: three pings, then a message */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.drop_reply_op = 0x09;
	f->bl.drop_reply_count = 100;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_TIMEOUT && f->bl.pings == NRF_DFU_PROTO_PING_TRIES);
	CHECK(strstr(f->a.message, "ping") != NULL);
}

/* the execute of object 2 never answered: the session gives up within its budget */
static void
check_execute_unanswered(Fixture *f, RunOpts *opts, const char *what)
{
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 0, opts, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.message != NULL &&
	      strstr(f->a.message, "did not answer EXECUTE of object 2") != NULL);
	CHECK(opts->steps < 2000);
	CHECK(opts->elapsed_ms <= nrf_dfu_proto_session_budget_ms(&f->s));
	CHECK(!f->bl.activated);
	fprintf(stderr,
		"%s: %u steps, %llu ms, %s\n",
		what,
		opts->steps,
		(unsigned long long)opts->elapsed_ms,
		f->a.message);
}

static void
test_hostile_restart_loops(void)
{
	Fixture *f = fixture_new();
	RunOpts refuse = {.hostile_execute_object = 2};
	RunOpts silent = {.hostile_execute_object = 2, .silent_execute = true};
	RunOpts silent_forget = {.hostile_execute_object = 2,
				 .silent_execute = true,
				 .forget_on_silence = true};

	/* 10000 bytes in objects of 4096: the second of three objects is refused, and the
	 * device reports offset 0 again; without a bound this restarts the image forever */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(f->bl.data_max == 4096);
	CHECK(transfer(&f->s, &f->bl, 0, &refuse, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_DEVICE);
	CHECK(f->a.message != NULL && strstr(f->a.message, "refused EXECUTE of object 2") != NULL &&
	      strstr(f->a.message, "went back to offset 0") != NULL);
	CHECK(f->s.stats.setbacks == NRF_DFU_PROTO_SETBACKS_MAX + 1);
	CHECK(refuse.steps < 2000);
	CHECK(!f->bl.activated);
	fprintf(stderr, "refused execute: %u steps, %s\n", refuse.steps, f->a.message);

	/* the same execute never answered, the device forgetting what it held */
	check_execute_unanswered(f, &silent_forget, "silent execute, forgetting");

	/* never answered, the device keeping the object written but not executed */
	check_execute_unanswered(f, &silent, "silent execute");
}

/* a device that answers, but never the request in flight: the error says what it sent */
static void
test_timeout_names_what_came(void)
{
	static NrfDfuProtoSession s;
	/* a response to SELECT (max size, offset, CRC), and a frame that never ends */
	static const uint8_t other[] =
	    {0x60, 0x06, 0x01, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0};
	uint8_t endless[200];
	NrfDfuProtoSlipDecoder rx;
	NrfDfuProtoAction a;
	uint64_t now = 1000;

	memset(endless, 0x55, sizeof(endless));
	for (unsigned kind = 0; kind < 2; kind++) {
		start(&s, 0, 0, false);
		nrf_dfu_proto_slip_decoder_init(&rx);
		for (unsigned i = 0; i < 100; i++) {
			nrf_dfu_proto_session_next(&s, now, &a);
			if (a.kind == NRF_DFU_PROTO_ACTION_SEND) {
				nrf_dfu_proto_session_feed_sent(&s, PROTO_IO_OK, ++now);
				continue;
			}
			if (a.kind != NRF_DFU_PROTO_ACTION_RECEIVE)
				break;
			if (kind == 0)
				nrf_dfu_proto_serial_feed(&rx,
							  &s,
							  PROTO_IO_OK,
							  other,
							  sizeof(other),
							  now);
			else
				nrf_dfu_proto_serial_feed(&rx,
							  &s,
							  PROTO_IO_OK,
							  endless,
							  sizeof(endless),
							  now);
			now += a.timeout_ms;
			nrf_dfu_proto_session_feed_received(&s, PROTO_IO_TIMEOUT, NULL, 0, now);
		}
		CHECK(a.kind == NRF_DFU_PROTO_ACTION_ERROR);
		CHECK(a.error == NRF_DFU_PROTO_ERROR_TIMEOUT);
		CHECK(a.message != NULL && strstr(a.message, "no reply to PRN") != NULL);
		if (kind == 0)
			CHECK(a.message != NULL &&
			      strstr(a.message,
				     "1 other frame instead, the last a 15-byte "
				     "response to SELECT") != NULL);
		else
			CHECK(a.message != NULL &&
			      strstr(a.message, "600 bytes with no frame end") != NULL);
		fprintf(stderr, "%s\n", a.message != NULL ? a.message : "(none)");
	}
}

static void
test_session_length_bound(void)
{
	Fixture *f = fixture_new();
	RunOpts late = {.late_replies = true};
	RunOpts stop = {.stop_after_data_writes = 20};
	uint64_t budget_ms;

	/* the slowest device that still answers every request in time is not cut short */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 1, &late, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl));
	budget_ms = nrf_dfu_proto_session_budget_ms(&f->s);
	CHECK(late.elapsed_ms > 10000 && late.elapsed_ms < budget_ms);
	fprintf(stderr,
		"late replies: %llu ms of a bound of %llu ms\n",
		(unsigned long long)late.elapsed_ms,
		(unsigned long long)budget_ms);

	/* a transfer still going past its bound ends with an error that says so */
	fake_bl_init(&f->bl, image, sizeof(image));
	CHECK(transfer(&f->s, &f->bl, 0, &stop, &f->a) == NRF_DFU_PROTO_ACTION_SEND);
	budget_ms = nrf_dfu_proto_session_budget_ms(&f->s);
	nrf_dfu_proto_session_next(&f->s, 1000 + budget_ms, &f->a);
	CHECK(f->a.kind != NRF_DFU_PROTO_ACTION_ERROR);
	nrf_dfu_proto_session_next(&f->s, 1000 + stop.elapsed_ms + budget_ms + 1, &f->a);
	CHECK(f->a.kind == NRF_DFU_PROTO_ACTION_ERROR && f->a.error == NRF_DFU_PROTO_ERROR_TIMEOUT);
	CHECK(f->a.message != NULL &&
	      strstr(f->a.message, "did not finish within its bound") != NULL);
	if (f->a.message != NULL)
		fprintf(stderr, "past the bound: %s\n", f->a.message);

	/* a slow link's byte time raises the bound; a faster one does not lower it */
	f->s.byte_us = 1042; /* 9600 baud */
	CHECK(nrf_dfu_proto_session_budget_ms(&f->s) > budget_ms + 4 * 2 * 10141 * 900 / 1000);
	f->s.byte_us = 9; /* 1 Mbaud */
	CHECK(nrf_dfu_proto_session_budget_ms(&f->s) == budget_ms);

	/* a device reporting tiny data objects does not stretch the bound past that of 1 KiB
	 * objects, and a device that really uses them still finishes well within it */
	f->s.byte_us = 0;
	f->s.object = NRF_DFU_PROTO_OBJECT_DATA;
	f->s.max_size = NRF_DFU_PROTO_BUDGET_OBJECT_MIN;
	budget_ms = nrf_dfu_proto_session_budget_ms(&f->s);
	f->s.max_size = 1;
	CHECK(nrf_dfu_proto_session_budget_ms(&f->s) == budget_ms);
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.data_max = 16;
	late = (RunOpts){0};
	CHECK(transfer(&f->s, &f->bl, 0, &late, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->bl.activated && flash_matches(&f->bl) && f->s.max_size == 16);
	CHECK(late.elapsed_ms < nrf_dfu_proto_session_budget_ms(&f->s) / 4);
}

static void
test_error_codes(void)
{
	Fixture *f = fixture_new();
	const uint8_t results[] = {0x00, 0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0A};

	/* every result on the init packet's execute */
	for (size_t i = 0; i < sizeof(results); i++) {
		fake_bl_init(&f->bl, image, sizeof(image));
		f->bl.error_op = 0x04;
		f->bl.error_result = results[i];
		CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
		CHECK(f->a.error == (results[i] == 0x02 ? NRF_DFU_PROTO_ERROR_NOT_SUPPORTED
							: NRF_DFU_PROTO_ERROR_DEVICE));
		CHECK(strstr(f->a.message, nrf_dfu_proto_result_to_string(results[i])) != NULL);
		CHECK(f->bl.creates_data == 0 && !f->bl.activated);
	}
	/* every extended error */
	for (uint8_t ext = 0x01; ext <= 0x0D; ext++) {
		char want[128];

		fake_bl_init(&f->bl, image, sizeof(image));
		f->bl.error_op = 0x04;
		f->bl.error_result = 0x0B;
		f->bl.error_ext = ext;
		CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
		CHECK(f->a.error == NRF_DFU_PROTO_ERROR_DEVICE);
		snprintf(want,
			 sizeof(want),
			 "%s failed: %s (extended error 0x%02x): ",
			 nrf_dfu_proto_op_to_string(0x04),
			 nrf_dfu_proto_ext_error_to_string(ext),
			 ext);
		CHECK_CONTAINS(f->a.message, want);
		CHECK(f->s.response.ext_error == ext);
	}
	/* a refused create */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.error_op = 0x01;
	f->bl.error_result = 0x04;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(strstr(f->a.message, "CREATE") != NULL);

	/* select claims data objects larger, or not a page multiple, and create refuses them:
	 * the error says what the device claimed and refused */
	{
		const uint32_t claims[] = {0xFFFFFFFFu, 4097};
		const char *expect[] = {"CREATE of data object 1 (10000 bytes at offset 0) failed: "
					"insufficient resources",
					"CREATE of data object 1 (4097 bytes at offset 0) failed: "
					"invalid parameter"};
		for (size_t i = 0; i < 2; i++) {
			fake_bl_init(&f->bl, image, sizeof(image));
			f->bl.data_max_claim_set = true;
			f->bl.data_max_claim = claims[i];
			CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) ==
			      NRF_DFU_PROTO_ACTION_ERROR);
			CHECK(f->a.error == NRF_DFU_PROTO_ERROR_DEVICE);
			CHECK(f->a.message != NULL && strstr(f->a.message, expect[i]) != NULL);
			CHECK(f->bl.data_writes == 0 && !f->bl.activated);
			fprintf(stderr, "%s\n", f->a.message != NULL ? f->a.message : "(none)");
		}
	}

	/* post-validation finds the image's hash wrong */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.image_crc ^= 1;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(strstr(f->a.message, "hash failed") != NULL);

	/* an init packet larger than the bootloader takes */
	fake_bl_init(&f->bl, image, sizeof(image));
	f->bl.cmd_max = 128;
	CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_TOO_LARGE && f->bl.creates_command == 0);
}

/* a refused PRN set, select, create, CRC get or execute ends the transfer there, with the
 * request and the device's result named */
static void
test_refused_requests(void)
{
	Fixture *f = fixture_new();
	const uint8_t ops[] = {NRF_DFU_PROTO_OP_PRN_SET,
			       NRF_DFU_PROTO_OP_SELECT,
			       NRF_DFU_PROTO_OP_CREATE,
			       NRF_DFU_PROTO_OP_CRC_GET,
			       NRF_DFU_PROTO_OP_EXECUTE};

	for (size_t i = 0; i < sizeof(ops); i++) {
		char want[128];
		snprintf(
		    want,
		    sizeof(want),
		    "%s failed: %s (0x04): ",
		    nrf_dfu_proto_op_to_string(ops[i]),
		    nrf_dfu_proto_result_to_string(NRF_DFU_PROTO_RESULT_INSUFFICIENT_RESOURCES));
		fake_bl_init(&f->bl, image, sizeof(image));
		f->bl.error_op = ops[i];
		f->bl.error_result = NRF_DFU_PROTO_RESULT_INSUFFICIENT_RESOURCES;
		CHECK(transfer(&f->s, &f->bl, 0, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
		CHECK(f->a.error == NRF_DFU_PROTO_ERROR_DEVICE);
		CHECK_CONTAINS(f->a.message, want);
		CHECK(f->bl.creates_data == 0 && !f->bl.activated);
	}
}

static void
test_requests(void)
{
	Fixture *f = fixture_new();
	NrfDfuProtoRequest req = {.op = NRF_DFU_PROTO_OP_HW_VERSION};

	nrf_dfu_proto_session_init(&f->s);
	nrf_dfu_proto_session_start_request(&f->s, &req);
	CHECK(run(&f->s, &f->bl, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->s.response.hw.part == 0x52840 && f->s.response.hw.rom_page_size == 4096);

	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_FW_VERSION, .image = 1};
	nrf_dfu_proto_session_start_request(&f->s, &req);
	CHECK(run(&f->s, &f->bl, NULL, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->s.response.fw.type == NRF_DFU_PROTO_FW_TYPE_SOFTDEVICE &&
	      f->s.response.fw.version == 0xB6);

	/* an older SDK: not supported */
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_PROTOCOL_VERSION};
	nrf_dfu_proto_session_start_request(&f->s, &req);
	CHECK(run(&f->s, &f->bl, NULL, &f->a) == NRF_DFU_PROTO_ACTION_ERROR);
	CHECK(f->a.error == NRF_DFU_PROTO_ERROR_NOT_SUPPORTED);

	/* a stale notification before the reply */
	f->bl.stale_notification = true;
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_PING};
	nrf_dfu_proto_session_start_request(&f->s, &req);
	CHECK(run(&f->s, &f->bl, &(RunOpts){.chunk = 3}, &f->a) == NRF_DFU_PROTO_ACTION_DONE);
	CHECK(f->s.stats.stale_skipped >= 1);

	/* misuse */
	req = (NrfDfuProtoRequest){.op = NRF_DFU_PROTO_OP_WRITE};
	nrf_dfu_proto_session_start_request(&f->s, &req);
	nrf_dfu_proto_session_next(&f->s, 0, &f->a);
	CHECK(f->a.kind == NRF_DFU_PROTO_ACTION_ERROR &&
	      f->a.error == NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT);
	nrf_dfu_proto_session_init(&f->s);
	nrf_dfu_proto_session_start_transfer(&f->s, init_packet, 0, image, 10, 0, false);
	nrf_dfu_proto_session_next(&f->s, 0, &f->a);
	CHECK(f->a.kind == NRF_DFU_PROTO_ACTION_ERROR);
}

static void
test_io_errors(void)
{
	static NrfDfuProtoSession s;
	NrfDfuProtoAction a;

	start(&s, 0, 0, true);
	nrf_dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_SEND && a.op == NRF_DFU_PROTO_OP_PING);
	/* asking again without a feed gives the same action */
	nrf_dfu_proto_session_next(&s, 5, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_SEND && a.op == NRF_DFU_PROTO_OP_PING);
	nrf_dfu_proto_session_feed_sent(&s, PROTO_IO_OK, 10);
	nrf_dfu_proto_session_next(&s, 10, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_RECEIVE &&
	      a.timeout_ms == NRF_DFU_PROTO_TIMEOUT_REPLY_MS);
	nrf_dfu_proto_session_next(&s, 510, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_RECEIVE && a.timeout_ms == 500);
	nrf_dfu_proto_session_feed_received(&s, PROTO_IO_NO_DEVICE, NULL, 0, 20);
	nrf_dfu_proto_session_next(&s, 20, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_ERROR && a.error == NRF_DFU_PROTO_ERROR_NO_DEVICE);
	CHECK_STR(a.message, "reading the reply to PING failed: the device went away");

	/* a request not sent: the error and the words say why */
	{
		const ProtoIo ios[] = {PROTO_IO_TIMEOUT, PROTO_IO_NO_DEVICE, PROTO_IO_ERROR};
		const NrfDfuProtoError errors[] = {NRF_DFU_PROTO_ERROR_TIMEOUT,
						   NRF_DFU_PROTO_ERROR_NO_DEVICE,
						   NRF_DFU_PROTO_ERROR_IO};
		const char *messages[] = {"sending PING failed: the device did not take it in time",
					  "sending PING failed: the device went away",
					  "sending PING failed: transport error"};
		for (size_t i = 0; i < sizeof(ios) / sizeof(ios[0]); i++) {
			start(&s, 0, 0, true);
			nrf_dfu_proto_session_next(&s, 0, &a);
			nrf_dfu_proto_session_feed_sent(&s, ios[i], 10);
			nrf_dfu_proto_session_next(&s, 10, &a);
			CHECK(a.kind == NRF_DFU_PROTO_ACTION_ERROR && a.error == errors[i]);
			CHECK_STR(a.message, messages[i]);
		}
	}
	/* a reply not read for another reason than silence */
	start(&s, 0, 0, true);
	nrf_dfu_proto_session_next(&s, 0, &a);
	nrf_dfu_proto_session_feed_sent(&s, PROTO_IO_OK, 10);
	nrf_dfu_proto_session_feed_received(&s, PROTO_IO_ERROR, NULL, 0, 20);
	nrf_dfu_proto_session_next(&s, 20, &a);
	CHECK(a.kind == NRF_DFU_PROTO_ACTION_ERROR && a.error == NRF_DFU_PROTO_ERROR_IO);
	CHECK_STR(a.message, "reading the reply to PING failed: transport error");
}

int
main(void)
{
	make_image(init_packet, sizeof(init_packet), 3, false);
	make_image(image, sizeof(image), 1, false);
	test_slip();
	test_crc32();
	test_encode();
	test_decode();
	test_messages();
	test_write_size();
	test_full_transfer();
	test_usb_mtu_worst_case();
	test_mtu_not_supported();
	test_mtu_cap_without_mtu_get();
	test_mtu_too_small();
	test_packet_size_without_mtu_get();
	test_serial_encode();
	test_unframed_responses();
	test_prn();
	test_prn_corrupt_write();
	test_crc_mismatch_restarts_object();
	test_resume_mid_object();
	test_resume_at_boundary();
	test_reset_mid_object_same_session();
	test_resume_command_mismatch();
	test_resume_mid_object_crc_mismatch();
	test_written_not_executed_at_boundary();
	test_stale_notification();
	test_dropped_replies();
	test_hostile_restart_loops();
	test_timeout_names_what_came();
	test_session_length_bound();
	test_error_codes();
	test_refused_requests();
	test_requests();
	test_io_errors();
	return proto_test_result("nrf-dfu-proto-test");
}
