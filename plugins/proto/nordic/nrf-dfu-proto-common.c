/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* names and messages, SLIP, CRC-32, request encoding and response decoding */

#include <string.h>

#include "nrf-dfu-proto.h"

const char *
nrf_dfu_proto_op_to_string(unsigned op)
{
	switch (op) {
	case NRF_DFU_PROTO_OP_PROTOCOL_VERSION:
		return "PROTOCOL_VERSION";
	case NRF_DFU_PROTO_OP_CREATE:
		return "CREATE";
	case NRF_DFU_PROTO_OP_PRN_SET:
		return "PRN_SET";
	case NRF_DFU_PROTO_OP_CRC_GET:
		return "CRC_GET";
	case NRF_DFU_PROTO_OP_EXECUTE:
		return "EXECUTE";
	case NRF_DFU_PROTO_OP_SELECT:
		return "SELECT";
	case NRF_DFU_PROTO_OP_MTU_GET:
		return "MTU_GET";
	case NRF_DFU_PROTO_OP_WRITE:
		return "WRITE";
	case NRF_DFU_PROTO_OP_PING:
		return "PING";
	case NRF_DFU_PROTO_OP_HW_VERSION:
		return "HW_VERSION";
	case NRF_DFU_PROTO_OP_FW_VERSION:
		return "FW_VERSION";
	case NRF_DFU_PROTO_OP_ABORT:
		return "ABORT";
	case NRF_DFU_PROTO_OP_RESPONSE:
		return "RESPONSE";
	default:
		return "unknown opcode";
	}
}

const char *
nrf_dfu_proto_result_to_string(unsigned result)
{
	switch (result) {
	case NRF_DFU_PROTO_RESULT_INVALID:
		return "invalid opcode";
	case NRF_DFU_PROTO_RESULT_SUCCESS:
		return "success";
	case NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED:
		return "opcode not supported";
	case NRF_DFU_PROTO_RESULT_INVALID_PARAMETER:
		return "invalid parameter";
	case NRF_DFU_PROTO_RESULT_INSUFFICIENT_RESOURCES:
		return "insufficient resources";
	case NRF_DFU_PROTO_RESULT_INVALID_OBJECT:
		return "invalid object";
	case NRF_DFU_PROTO_RESULT_UNSUPPORTED_TYPE:
		return "unsupported object type";
	case NRF_DFU_PROTO_RESULT_NOT_PERMITTED:
		return "operation not permitted";
	case NRF_DFU_PROTO_RESULT_OPERATION_FAILED:
		return "operation failed";
	case NRF_DFU_PROTO_RESULT_EXT_ERROR:
		return "extended error";
	default:
		return "unknown result";
	}
}

const char *
nrf_dfu_proto_ext_error_to_string(unsigned ext_error)
{
	switch (ext_error) {
	case NRF_DFU_PROTO_EXT_NO_ERROR:
		return "no error";
	case NRF_DFU_PROTO_EXT_INVALID_ERROR_CODE:
		return "invalid error code";
	case NRF_DFU_PROTO_EXT_WRONG_COMMAND_FORMAT:
		return "wrong command format";
	case NRF_DFU_PROTO_EXT_UNKNOWN_COMMAND:
		return "unknown command";
	case NRF_DFU_PROTO_EXT_INIT_COMMAND_INVALID:
		return "init command invalid";
	case NRF_DFU_PROTO_EXT_FW_VERSION_FAILURE:
		return "firmware version too low";
	case NRF_DFU_PROTO_EXT_HW_VERSION_FAILURE:
		return "hardware version mismatch";
	case NRF_DFU_PROTO_EXT_SD_VERSION_FAILURE:
		return "SoftDevice not in sd_req";
	case NRF_DFU_PROTO_EXT_SIGNATURE_MISSING:
		return "signature missing";
	case NRF_DFU_PROTO_EXT_WRONG_HASH_TYPE:
		return "wrong hash type";
	case NRF_DFU_PROTO_EXT_HASH_FAILED:
		return "hash failed";
	case NRF_DFU_PROTO_EXT_WRONG_SIGNATURE_TYPE:
		return "wrong signature type";
	case NRF_DFU_PROTO_EXT_VERIFICATION_FAILED:
		return "verification failed";
	case NRF_DFU_PROTO_EXT_INSUFFICIENT_SPACE:
		return "insufficient space";
	default:
		return "unknown extended error";
	}
}

const char *
nrf_dfu_proto_result_to_message(unsigned result, unsigned ext_error)
{
	if (result == NRF_DFU_PROTO_RESULT_EXT_ERROR) {
		switch (ext_error) {
		case NRF_DFU_PROTO_EXT_WRONG_COMMAND_FORMAT:
		case NRF_DFU_PROTO_EXT_UNKNOWN_COMMAND:
		case NRF_DFU_PROTO_EXT_INIT_COMMAND_INVALID:
			return "the bootloader cannot read the init packet: the package was made "
			       "for another bootloader version, rebuild it with nrfutil for this "
			       "one";
		case NRF_DFU_PROTO_EXT_FW_VERSION_FAILURE:
			return "the bootloader refuses a firmware version lower than the installed "
			       "one: use a newer release";
		case NRF_DFU_PROTO_EXT_HW_VERSION_FAILURE:
			return "the package's hw_version does not match this hardware: use the "
			       "firmware built for this device";
		case NRF_DFU_PROTO_EXT_SD_VERSION_FAILURE:
			return "the installed SoftDevice is not one of the package's sd_req: "
			       "update the SoftDevice first or use a package built for it";
		case NRF_DFU_PROTO_EXT_SIGNATURE_MISSING:
			return "the bootloader accepts only signed packages: use the vendor's "
			       "signed "
			       "package";
		case NRF_DFU_PROTO_EXT_WRONG_HASH_TYPE:
			return "the init packet uses a hash type the bootloader does not support: "
			       "rebuild the package with SHA-256";
		case NRF_DFU_PROTO_EXT_HASH_FAILED:
			return "the received image does not match the init packet's hash: the "
			       "package is corrupt or was altered, download it again";
		case NRF_DFU_PROTO_EXT_WRONG_SIGNATURE_TYPE:
			return "the init packet's signature type is not supported: rebuild the "
			       "package with ECDSA-P256-SHA256";
		case NRF_DFU_PROTO_EXT_VERIFICATION_FAILED:
			return "the bootloader rejected the package's signature: the package was "
			       "signed with another key than this device trusts";
		case NRF_DFU_PROTO_EXT_INSUFFICIENT_SPACE:
			return "the image does not fit in the device's free flash: use a smaller "
			       "image or update the SoftDevice and application separately";
		default:
			return "the bootloader reported an unknown extended error";
		}
	}
	switch (result) {
	case NRF_DFU_PROTO_RESULT_SUCCESS:
		return "success";
	case NRF_DFU_PROTO_RESULT_INVALID:
		return "the bootloader did not understand the request: it may not be a Secure "
		       "DFU bootloader";
	case NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED:
		return "the bootloader does not support this request: it may be an older SDK "
		       "version";
	case NRF_DFU_PROTO_RESULT_INVALID_PARAMETER:
		return "the bootloader refused a parameter (object size or alignment): replug "
		       "the device and try again";
	case NRF_DFU_PROTO_RESULT_INSUFFICIENT_RESOURCES:
		return "the bootloader has not enough room for the object: the package is too "
		       "large for this device";
	case NRF_DFU_PROTO_RESULT_INVALID_OBJECT:
		return "the bootloader refused the object (flash erase failed or bad type): "
		       "replug the device and try again";
	case NRF_DFU_PROTO_RESULT_UNSUPPORTED_TYPE:
		return "the bootloader does not support this object type";
	case NRF_DFU_PROTO_RESULT_NOT_PERMITTED:
		return "the bootloader refused the operation in its current state (no valid init "
		       "packet, or an incomplete object): replug the device and try again";
	case NRF_DFU_PROTO_RESULT_OPERATION_FAILED:
		return "the bootloader failed to store its settings: replug the device and try "
		       "again";
	default:
		return "the bootloader reported an unknown result";
	}
}

/* ---- SLIP ---- */

size_t
nrf_dfu_proto_slip_encoded_size(const uint8_t *buf, size_t len)
{
	size_t size = 1;
	for (size_t i = 0; i < len; i++)
		size += (buf[i] == NRF_DFU_PROTO_SLIP_END || buf[i] == NRF_DFU_PROTO_SLIP_ESC) ? 2
											       : 1;
	return size;
}

/* @buf escaped into @out, which has room for it; returns the bytes written */
static size_t
nrf_dfu_proto_slip_escape(const uint8_t *buf, size_t len, uint8_t *out)
{
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == NRF_DFU_PROTO_SLIP_END) {
			out[j++] = NRF_DFU_PROTO_SLIP_ESC;
			out[j++] = NRF_DFU_PROTO_SLIP_ESC_END;
		} else if (buf[i] == NRF_DFU_PROTO_SLIP_ESC) {
			out[j++] = NRF_DFU_PROTO_SLIP_ESC;
			out[j++] = NRF_DFU_PROTO_SLIP_ESC_ESC;
		} else {
			out[j++] = buf[i];
		}
	}
	return j;
}

size_t
nrf_dfu_proto_slip_encode(const uint8_t *buf, size_t len, uint8_t *out, size_t out_size)
{
	size_t j;

	if (out == NULL || nrf_dfu_proto_slip_encoded_size(buf, len) > out_size)
		return 0;
	j = nrf_dfu_proto_slip_escape(buf, len, out);
	out[j++] = NRF_DFU_PROTO_SLIP_END;
	return j;
}

size_t
nrf_dfu_proto_serial_encode(NrfDfuProtoChannel channel,
			    const uint8_t *buf,
			    size_t len,
			    uint8_t *out,
			    size_t out_size)
{
	/* the WRITE opcode (0x08) needs no escape */
	const uint8_t write_op = NRF_DFU_PROTO_OP_WRITE;
	size_t j;

	if (channel != NRF_DFU_PROTO_CHANNEL_PACKET)
		return nrf_dfu_proto_slip_encode(buf, len, out, out_size);
	if (out == NULL || 1 + nrf_dfu_proto_slip_encoded_size(buf, len) > out_size)
		return 0;
	out[0] = write_op;
	j = 1 + nrf_dfu_proto_slip_escape(buf, len, out + 1);
	out[j++] = NRF_DFU_PROTO_SLIP_END;
	return j;
}

void
nrf_dfu_proto_slip_decoder_init(NrfDfuProtoSlipDecoder *dec)
{
	memset(dec, 0, sizeof(*dec));
}

bool
nrf_dfu_proto_slip_decoder_feed(NrfDfuProtoSlipDecoder *dec,
				const uint8_t *buf,
				size_t len,
				size_t *consumed)
{
	size_t i = 0;

	/* the previous call handed out a frame: this one starts the next */
	if (dec->frame_ready) {
		dec->frame_ready = false;
		dec->len = 0;
	}
	while (i < len) {
		uint8_t c = buf[i++];
		switch (dec->state) {
		case NRF_DFU_PROTO_SLIP_STATE_DECODING:
			if (c == NRF_DFU_PROTO_SLIP_END) {
				if (dec->len == 0)
					break; /* empty frame: a flush, not a message */
				dec->frame_ready = true;
				if (consumed != NULL)
					*consumed = i;
				return true;
			}
			if (c == NRF_DFU_PROTO_SLIP_ESC) {
				dec->state = NRF_DFU_PROTO_SLIP_STATE_ESCAPE;
				break;
			}
			if (dec->len >= sizeof(dec->buf)) {
				dec->state = NRF_DFU_PROTO_SLIP_STATE_DISCARD;
				dec->frames_discarded++;
				break;
			}
			dec->buf[dec->len++] = c;
			break;
		case NRF_DFU_PROTO_SLIP_STATE_ESCAPE:
			if (c == NRF_DFU_PROTO_SLIP_ESC_END || c == NRF_DFU_PROTO_SLIP_ESC_ESC) {
				if (dec->len >= sizeof(dec->buf)) {
					dec->state = NRF_DFU_PROTO_SLIP_STATE_DISCARD;
					dec->frames_discarded++;
					break;
				}
				dec->buf[dec->len++] = c == NRF_DFU_PROTO_SLIP_ESC_END
							   ? NRF_DFU_PROTO_SLIP_END
							   : NRF_DFU_PROTO_SLIP_ESC;
				dec->state = NRF_DFU_PROTO_SLIP_STATE_DECODING;
				break;
			}
			/* a bad escape discards the frame; an END here also ends it (pc-nrfutil
			 * Slip.decode_add_byte keeps discarding until the next END) */
			dec->frames_discarded++;
			dec->len = 0;
			dec->state = c == NRF_DFU_PROTO_SLIP_END ? NRF_DFU_PROTO_SLIP_STATE_DECODING
								 : NRF_DFU_PROTO_SLIP_STATE_DISCARD;
			break;
		case NRF_DFU_PROTO_SLIP_STATE_DISCARD:
		default:
			if (c == NRF_DFU_PROTO_SLIP_END) {
				dec->len = 0;
				dec->state = NRF_DFU_PROTO_SLIP_STATE_DECODING;
			}
			break;
		}
	}
	if (consumed != NULL)
		*consumed = i;
	return false;
}

/* ---- requests ---- */

static void
nrf_dfu_proto_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xFF;
	p[1] = v >> 8;
}

static void
nrf_dfu_proto_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xFF;
	p[1] = (v >> 8) & 0xFF;
	p[2] = (v >> 16) & 0xFF;
	p[3] = v >> 24;
}

static uint32_t
nrf_dfu_proto_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

size_t
nrf_dfu_proto_request_encode(const NrfDfuProtoRequest *req, uint8_t *out, size_t out_size)
{
	size_t len = 1;

	switch (req->op) {
	case NRF_DFU_PROTO_OP_CREATE:
		len = 6;
		break;
	case NRF_DFU_PROTO_OP_PRN_SET:
		len = 3;
		break;
	case NRF_DFU_PROTO_OP_SELECT:
	case NRF_DFU_PROTO_OP_PING:
	case NRF_DFU_PROTO_OP_FW_VERSION:
		len = 2;
		break;
	case NRF_DFU_PROTO_OP_WRITE:
		if (req->data == NULL && req->data_len > 0)
			return 0;
		len = 1 + req->data_len;
		break;
	case NRF_DFU_PROTO_OP_PROTOCOL_VERSION:
	case NRF_DFU_PROTO_OP_CRC_GET:
	case NRF_DFU_PROTO_OP_EXECUTE:
	case NRF_DFU_PROTO_OP_MTU_GET:
	case NRF_DFU_PROTO_OP_HW_VERSION:
	case NRF_DFU_PROTO_OP_ABORT:
		break;
	default:
		return 0;
	}
	if (out == NULL || len > out_size)
		return 0;
	out[0] = req->op;
	switch (req->op) {
	case NRF_DFU_PROTO_OP_CREATE:
		out[1] = req->object_type;
		nrf_dfu_proto_put_u32(out + 2, req->size);
		break;
	case NRF_DFU_PROTO_OP_PRN_SET:
		nrf_dfu_proto_put_u16(out + 1, req->prn);
		break;
	case NRF_DFU_PROTO_OP_SELECT:
		out[1] = req->object_type;
		break;
	case NRF_DFU_PROTO_OP_PING:
		out[1] = req->ping_id;
		break;
	case NRF_DFU_PROTO_OP_FW_VERSION:
		out[1] = req->image;
		break;
	case NRF_DFU_PROTO_OP_WRITE:
		if (req->data_len > 0)
			memcpy(out + 1, req->data, req->data_len);
		break;
	default:
		break;
	}
	return len;
}

/* ---- responses ---- */

/* the payload of a successful reply (nrf_dfu_serial.c response_send), or -1 if unknown */
static int
nrf_dfu_proto_response_payload_len(uint8_t op)
{
	switch (op) {
	case NRF_DFU_PROTO_OP_PROTOCOL_VERSION:
	case NRF_DFU_PROTO_OP_PING:
		return 1;
	case NRF_DFU_PROTO_OP_CRC_GET:
		return 8;
	case NRF_DFU_PROTO_OP_SELECT:
		return 12;
	case NRF_DFU_PROTO_OP_MTU_GET:
		return 2;
	case NRF_DFU_PROTO_OP_HW_VERSION:
		return 20;
	case NRF_DFU_PROTO_OP_FW_VERSION:
		return 13;
	case NRF_DFU_PROTO_OP_CREATE:
	case NRF_DFU_PROTO_OP_PRN_SET:
	case NRF_DFU_PROTO_OP_EXECUTE:
	case NRF_DFU_PROTO_OP_WRITE:
	case NRF_DFU_PROTO_OP_ABORT:
		return 0;
	default:
		return -1;
	}
}

NrfDfuProtoError
nrf_dfu_proto_response_decode(const uint8_t *buf, size_t len, NrfDfuProtoResponse *out)
{
	const uint8_t *p;
	int payload_len;

	if (buf == NULL || out == NULL)
		return NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT;
	memset(out, 0, sizeof(*out));
	if (len < 3 || buf[0] != NRF_DFU_PROTO_OP_RESPONSE)
		return NRF_DFU_PROTO_ERROR_REPLY;
	out->request_op = buf[1];
	out->result = buf[2];
	payload_len = nrf_dfu_proto_response_payload_len(buf[1]);

	/* an error reply: one extended error byte, or nothing */
	if (out->result != NRF_DFU_PROTO_RESULT_SUCCESS) {
		if (out->result == NRF_DFU_PROTO_RESULT_EXT_ERROR) {
			if (len != 4)
				return NRF_DFU_PROTO_ERROR_REPLY;
			out->ext_error = buf[3];
			return NRF_DFU_PROTO_ERROR_NONE;
		}
		/* the SDK sends FW version's type along with "not supported" in some versions;
		 * an error result carries nothing we use */
		return NRF_DFU_PROTO_ERROR_NONE;
	}
	if (payload_len < 0 || len != 3 + (size_t)payload_len)
		return NRF_DFU_PROTO_ERROR_REPLY;
	p = buf + 3;
	switch (out->request_op) {
	case NRF_DFU_PROTO_OP_PROTOCOL_VERSION:
		out->protocol_version = p[0];
		break;
	case NRF_DFU_PROTO_OP_PING:
		out->ping_id = p[0];
		break;
	case NRF_DFU_PROTO_OP_CRC_GET:
		out->crc.offset = nrf_dfu_proto_get_u32(p);
		out->crc.crc = nrf_dfu_proto_get_u32(p + 4);
		break;
	case NRF_DFU_PROTO_OP_SELECT:
		out->select.max_size = nrf_dfu_proto_get_u32(p);
		out->select.offset = nrf_dfu_proto_get_u32(p + 4);
		out->select.crc = nrf_dfu_proto_get_u32(p + 8);
		break;
	case NRF_DFU_PROTO_OP_MTU_GET:
		out->mtu = (uint16_t)(p[0] | (p[1] << 8));
		break;
	case NRF_DFU_PROTO_OP_HW_VERSION:
		out->hw.part = nrf_dfu_proto_get_u32(p);
		out->hw.variant = nrf_dfu_proto_get_u32(p + 4);
		out->hw.rom_size = nrf_dfu_proto_get_u32(p + 8);
		out->hw.ram_size = nrf_dfu_proto_get_u32(p + 12);
		out->hw.rom_page_size = nrf_dfu_proto_get_u32(p + 16);
		break;
	case NRF_DFU_PROTO_OP_FW_VERSION:
		out->fw.type = p[0];
		out->fw.version = nrf_dfu_proto_get_u32(p + 1);
		out->fw.addr = nrf_dfu_proto_get_u32(p + 5);
		out->fw.len = nrf_dfu_proto_get_u32(p + 9);
		break;
	default:
		break;
	}
	return NRF_DFU_PROTO_ERROR_NONE;
}

/* ---- sizes and bounds ---- */

/*
 * The MTU is the largest SLIP-encoded frame the device takes, END included. The SDK defines
 * it from its receive buffer as 2 * (payload + 1) + 1 (nrf_dfu_serial_uart.c UART_SLIP_MTU,
 * 64 data bytes give 131; the USB transport's 1024 give 2051), and pc-nrfutil inverts it as
 * (mtu - 1) / 2 - 1 (dfu_transport_serial.py __stream_data). That is also the exact worst
 * case: a write is the opcode 0x08 (never escaped) and n data bytes that may all be END or
 * ESC, so it takes at most 1 + 2n + 1 bytes; 2n + 2 <= mtu gives n <= (mtu - 2) / 2, which
 * for every MTU of the SDK's form equals (mtu - 1) / 2 - 1. The smaller of the two is used.
 */
size_t
nrf_dfu_proto_write_size(uint16_t mtu)
{
	size_t sdk_rule;
	size_t worst_case;

	if (mtu < 5)
		return 0;
	sdk_rule = ((size_t)mtu - 1) / 2 - 1;
	worst_case = ((size_t)mtu - 2) / 2;
	return sdk_rule < worst_case ? sdk_rule : worst_case;
}

static uint32_t
nrf_dfu_proto_pages(uint32_t size)
{
	return (size + NRF_DFU_PROTO_PAGE_SIZE - 1) / NRF_DFU_PROTO_PAGE_SIZE;
}

/* create erases the object's pages before it answers or while data arrives
 * (nrf_dfu_req_handler.c on_data_obj_create_request: nrf_dfu_flash_erase) */
uint32_t
nrf_dfu_proto_timeout_create_ms(uint32_t object_size)
{
	return NRF_DFU_PROTO_TIMEOUT_REPLY_MS +
	       nrf_dfu_proto_pages(object_size) * NRF_DFU_PROTO_PAGE_ERASE_MS;
}

/* execute waits until every queued flash write is done (on_data_obj_execute_request_sched
 * reschedules itself while nrf_fstorage_is_busy), and the last one post-validates */
uint32_t
nrf_dfu_proto_timeout_execute_data_ms(uint32_t object_size, bool last, uint32_t image_size)
{
	uint32_t ms = NRF_DFU_PROTO_TIMEOUT_REPLY_MS;
	ms += nrf_dfu_proto_pages(object_size) * NRF_DFU_PROTO_PAGE_ERASE_MS;
	ms += (uint32_t)(((uint64_t)object_size / 4 * NRF_DFU_PROTO_WORD_WRITE_US + 999) / 1000);
	if (last) {
		ms += NRF_DFU_PROTO_TIMEOUT_VERIFY_MS;
		ms += (image_size / 1024 + 1) * NRF_DFU_PROTO_HASH_MS_PER_KIB;
	}
	return ms;
}
