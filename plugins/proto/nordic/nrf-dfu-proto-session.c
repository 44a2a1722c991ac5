/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The session: one request and its reply, or the object transfer of one image. Behaviour of
 * the device as the nRF5 SDK's nrf_dfu_req_handler.c implements it:
 * - select reports the offset and CRC of everything received so far, executed or not;
 * - create resets the offset to the end of the last executed object, erases the object's
 *   pages and resets the PRN counter (nrf_dfu_serial.c);
 * - a write is never answered, except by a CRC notification (a CRC_GET reply) every PRN
 *   writes, which also carries a failed write's result;
 * - execute fails with "not permitted" unless the whole created size was written; the
 *   execute of the object that completes the image post-validates and activates it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nrf-dfu-proto.h"
#include "proto-format.h"

enum {
	ST_REQUEST,
	ST_PING,
	ST_PRN,
	ST_MTU,
	ST_CMD_SELECT,
	ST_CMD_CREATE,
	ST_CMD_WRITE,
	ST_CMD_CRC,
	ST_CMD_EXECUTE,
	ST_DATA_SELECT,
	ST_DATA_CREATE,
	ST_DATA_WRITE,
	ST_DATA_CRC,
	ST_DATA_EXECUTE,
};

/* the builder points tx_bytes at the next request (in s->tx) or packet (in the image) */
#define BUILT(s) ((s)->tx_bytes != NULL)

static void
nrf_dfu_proto_session_fail(NrfDfuProtoSession *s, NrfDfuProtoError error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
nrf_dfu_proto_session_fail(NrfDfuProtoSession *s, NrfDfuProtoError error, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	proto_vformat(s->message_buf, sizeof(s->message_buf), fmt, args);
	va_end(args);
	s->phase = NRF_DFU_PROTO_PHASE_FAILED;
	s->error = error;
	s->message = s->message_buf;
}

static void
nrf_dfu_proto_session_goto(NrfDfuProtoSession *s, int step)
{
	s->step = step;
	s->tx_bytes = NULL;
	s->tx_len = 0;
	s->sent = false;
	s->expect_notification = false;
	s->stale = 0;
	s->others = 0;
	s->other_what[0] = '\0';
}

/* the same step again, e.g. after a timeout: a new frame is built */
static void
nrf_dfu_proto_session_repeat(NrfDfuProtoSession *s)
{
	nrf_dfu_proto_session_goto(s, s->step);
}

void
nrf_dfu_proto_session_init(NrfDfuProtoSession *s)
{
	memset(s, 0, sizeof(*s));
	s->phase = NRF_DFU_PROTO_PHASE_IDLE;
	s->mtu = NRF_DFU_PROTO_MTU_UART;
	s->write_size = nrf_dfu_proto_write_size(s->mtu);
}

static void
nrf_dfu_proto_session_reset_io(NrfDfuProtoSession *s)
{
	s->queue_head = 0;
	s->queue_count = 0;
	s->error = NRF_DFU_PROTO_ERROR_NONE;
	s->message = NULL;
	s->timeouts = 0;
	s->retries = 0;
	memset(&s->response, 0, sizeof(s->response));
}

void
nrf_dfu_proto_session_start_request(NrfDfuProtoSession *s, const NrfDfuProtoRequest *req)
{
	nrf_dfu_proto_session_reset_io(s);
	s->request = *req;
	s->request.data = NULL;
	s->request.data_len = 0;
	if (req->op == NRF_DFU_PROTO_OP_WRITE || req->op == NRF_DFU_PROTO_OP_RESPONSE) {
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT,
					   "%s is not a request with a reply",
					   nrf_dfu_proto_op_to_string(req->op));
		return;
	}
	s->phase = NRF_DFU_PROTO_PHASE_REQUEST;
	nrf_dfu_proto_session_goto(s, ST_REQUEST);
}

void
nrf_dfu_proto_session_start_transfer(NrfDfuProtoSession *s,
				     const uint8_t *init_packet,
				     size_t init_len,
				     const uint8_t *image,
				     size_t image_len,
				     uint16_t prn,
				     bool ping)
{
	nrf_dfu_proto_session_reset_io(s);
	memset(&s->stats, 0, sizeof(s->stats));
	s->init_packet = init_packet;
	s->init_len = init_len;
	s->image = image;
	s->image_len = image_len;
	s->prn = prn;
	s->ping = ping;
	s->pings = 0;
	s->prn_count = 0;
	s->command_recreated = false;
	s->boundary_resume = false;
	s->known_offset = 0;
	s->known_crc = 0;
	s->executed_max = 0;
	s->started = false;
	s->started_ms = 0;
	s->setback_cause[0] = '\0';
	s->offset = 0;
	s->crc = 0;
	if (init_packet == NULL || init_len == 0 || image == NULL || image_len == 0) {
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT,
					   "an update needs an init packet and a non-empty image");
		return;
	}
	if (init_len > UINT32_MAX || image_len > UINT32_MAX) {
		nrf_dfu_proto_session_fail(
		    s,
		    NRF_DFU_PROTO_ERROR_TOO_LARGE,
		    "image of %zu bytes is larger than the protocol can address",
		    image_len);
		return;
	}
	s->phase = NRF_DFU_PROTO_PHASE_SETUP;
	nrf_dfu_proto_session_goto(s, ping ? ST_PING : ST_PRN);
}

/* the host's CRC over the first @off bytes of the current image */
static uint32_t
nrf_dfu_proto_session_crc_at(NrfDfuProtoSession *s, uint32_t off)
{
	if (off == s->known_offset)
		return s->known_crc;
	if (off == s->offset)
		return s->crc;
	return proto_crc32(0, s->image, off);
}

static const uint8_t *
nrf_dfu_proto_session_buf(NrfDfuProtoSession *s)
{
	return s->object == NRF_DFU_PROTO_OBJECT_COMMAND ? s->init_packet : s->image;
}

/* builds the request of the current step into s->tx, or points at the data of its write */
static bool
nrf_dfu_proto_session_build(NrfDfuProtoSession *s)
{
	NrfDfuProtoRequest req = {0};
	size_t len;

	s->step_timeout_ms = NRF_DFU_PROTO_TIMEOUT_REPLY_MS;
	switch (s->step) {
	case ST_REQUEST:
		req = s->request;
		if (req.op == NRF_DFU_PROTO_OP_PING)
			req.ping_id = (uint8_t)++s->pings;
		break;
	case ST_PING:
		req.op = NRF_DFU_PROTO_OP_PING;
		req.ping_id = (uint8_t)++s->pings;
		break;
	case ST_PRN:
		req.op = NRF_DFU_PROTO_OP_PRN_SET;
		req.prn = s->prn;
		break;
	case ST_MTU:
		req.op = NRF_DFU_PROTO_OP_MTU_GET;
		break;
	case ST_CMD_SELECT:
		req.op = NRF_DFU_PROTO_OP_SELECT;
		req.object_type = NRF_DFU_PROTO_OBJECT_COMMAND;
		break;
	case ST_DATA_SELECT:
		req.op = NRF_DFU_PROTO_OP_SELECT;
		req.object_type = NRF_DFU_PROTO_OBJECT_DATA;
		break;
	case ST_CMD_CREATE:
		req.op = NRF_DFU_PROTO_OP_CREATE;
		req.object_type = NRF_DFU_PROTO_OBJECT_COMMAND;
		req.size = (uint32_t)s->init_len;
		break;
	case ST_DATA_CREATE:
		req.op = NRF_DFU_PROTO_OP_CREATE;
		req.object_type = NRF_DFU_PROTO_OBJECT_DATA;
		req.size = s->obj_size;
		s->step_timeout_ms = nrf_dfu_proto_timeout_create_ms(s->obj_size);
		break;
	case ST_CMD_WRITE:
	case ST_DATA_WRITE: {
		uint32_t obj_end = s->obj_start + s->obj_size;
		size_t n = obj_end - s->offset;
		if (n > s->write_size)
			n = s->write_size;
		req.op = NRF_DFU_PROTO_OP_WRITE;
		req.data = nrf_dfu_proto_session_buf(s) + s->offset;
		req.data_len = n;
		/* USB flow control may hold a write while the device erases the object's pages */
		s->step_timeout_ms = nrf_dfu_proto_timeout_create_ms(s->obj_size);
		break;
	}
	case ST_CMD_CRC:
	case ST_DATA_CRC:
		req.op = NRF_DFU_PROTO_OP_CRC_GET;
		break;
	case ST_CMD_EXECUTE:
		req.op = NRF_DFU_PROTO_OP_EXECUTE;
		s->step_timeout_ms += NRF_DFU_PROTO_TIMEOUT_VERIFY_MS;
		break;
	case ST_DATA_EXECUTE:
		req.op = NRF_DFU_PROTO_OP_EXECUTE;
		s->step_timeout_ms = nrf_dfu_proto_timeout_execute_data_ms(
		    s->obj_size,
		    s->obj_start + s->obj_size == s->image_len,
		    (uint32_t)s->image_len);
		break;
	default:
		nrf_dfu_proto_session_fail(s, NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT, "bad step");
		return false;
	}
	s->pending_op = req.op;
	/* object data goes on the packet channel as it is */
	if (req.op == NRF_DFU_PROTO_OP_WRITE) {
		s->write_len = req.data_len;
		s->tx_bytes = req.data;
		s->tx_len = req.data_len;
		return true;
	}
	len = nrf_dfu_proto_request_encode(&req, s->tx, sizeof(s->tx));
	if (len == 0) {
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT,
					   "cannot encode %s",
					   nrf_dfu_proto_op_to_string(req.op));
		return false;
	}
	s->tx_bytes = s->tx;
	s->tx_len = len;
	return true;
}

/* a reply that does not belong to the request in flight: a notification left over from PRN,
 * the late answer to a request that timed out, or line noise */
static void
nrf_dfu_proto_session_skip(NrfDfuProtoSession *s)
{
	s->stale++;
	s->stats.stale_skipped++;
	if (s->stale > NRF_DFU_PROTO_STALE_MAX) {
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_REPLY,
					   "more than %u unexpected replies while waiting for the "
					   "reply to %s: the device is not speaking Secure DFU",
					   (unsigned)NRF_DFU_PROTO_STALE_MAX,
					   nrf_dfu_proto_op_to_string(s->pending_op));
	}
}

static void
nrf_dfu_proto_session_fail_result(NrfDfuProtoSession *s, const NrfDfuProtoResponse *resp)
{
	NrfDfuProtoError error = resp->result == NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED
				     ? NRF_DFU_PROTO_ERROR_NOT_SUPPORTED
				     : NRF_DFU_PROTO_ERROR_DEVICE;
	/* an extended error names the code that says more than the result */
	bool extended = resp->result == NRF_DFU_PROTO_RESULT_EXT_ERROR;

	nrf_dfu_proto_session_fail(s,
				   error,
				   "%s failed: %s (%s0x%02x): %s",
				   nrf_dfu_proto_op_to_string(resp->request_op),
				   extended ? nrf_dfu_proto_ext_error_to_string(resp->ext_error)
					    : nrf_dfu_proto_result_to_string(resp->result),
				   extended ? "extended error " : "",
				   extended ? resp->ext_error : resp->result,
				   nrf_dfu_proto_result_to_message(resp->result, resp->ext_error));
}

/* what the device did before the session had to ask it where it stands */
static const char *
nrf_dfu_proto_session_setback_cause(const NrfDfuProtoSession *s)
{
	return s->setback_cause[0] != '\0' ? s->setback_cause
					   : "reported less than it had executed";
}

/* the 1-based number of the current data object, for messages */
static unsigned
nrf_dfu_proto_session_object_number(const NrfDfuProtoSession *s)
{
	return s->max_size != 0 ? (unsigned)(s->obj_start / s->max_size) + 1 : 1;
}

static bool
nrf_dfu_proto_session_count_retry(NrfDfuProtoSession *s, const char *what)
{
	bool from_select = s->response.request_op == NRF_DFU_PROTO_OP_SELECT;
	bool from_crc = s->response.request_op == NRF_DFU_PROTO_OP_CRC_GET;
	uint32_t dev_offset = from_select ? s->response.select.offset : s->response.crc.offset;
	uint32_t dev_crc = from_select ? s->response.select.crc : s->response.crc.crc;
	char seen[160];

	s->retries++;
	s->stats.restarts++;
	if (s->retries > NRF_DFU_PROTO_OBJECT_RETRIES) {
		/* the device's offset and CRC only when the last reply carried them */
		if (from_crc && dev_offset == s->obj_start && s->offset > s->obj_start &&
		    s->packet_size != 0)
			/* not one packet arrived: longer than the link carries */
			snprintf(seen,
				 sizeof(seen),
				 "device offset %u; host offset %u: it took none of the writes "
				 "of up to %u bytes, the packet size of the link",
				 (unsigned)dev_offset,
				 (unsigned)s->offset,
				 (unsigned)s->write_size);
		else if (from_crc && dev_offset == s->obj_start && s->offset > s->obj_start)
			/* not one write arrived: frames longer than the device takes */
			snprintf(seen,
				 sizeof(seen),
				 "device offset %u; host offset %u: it took none of the writes "
				 "of up to %u bytes, sized for an MTU of %u from what it reported",
				 (unsigned)dev_offset,
				 (unsigned)s->offset,
				 (unsigned)s->write_size,
				 (unsigned)s->mtu);
		else if (from_select || from_crc)
			snprintf(seen,
				 sizeof(seen),
				 "device offset %u, CRC 0x%08x; host offset %u, CRC 0x%08x",
				 (unsigned)dev_offset,
				 (unsigned)dev_crc,
				 (unsigned)s->offset,
				 (unsigned)s->crc);
		else
			snprintf(seen,
				 sizeof(seen),
				 "the device refused %s; host offset %u",
				 nrf_dfu_proto_op_to_string(s->response.request_op),
				 (unsigned)s->offset);
		nrf_dfu_proto_session_fail(
		    s,
		    NRF_DFU_PROTO_ERROR_CRC,
		    "the %s kept disagreeing with the device after %u restarts "
		    "(%s)%s%s: replug the device and try again",
		    what,
		    (unsigned)NRF_DFU_PROTO_OBJECT_RETRIES,
		    seen,
		    s->setback_cause[0] != '\0' ? "; before that the device " : "",
		    s->setback_cause);
		return false;
	}
	return true;
}

/* the init packet did not arrive intact: create it again, which also resets data progress */
static void
nrf_dfu_proto_session_restart_command(NrfDfuProtoSession *s)
{
	if (!nrf_dfu_proto_session_count_retry(s, "init packet's CRC"))
		return;
	s->phase = NRF_DFU_PROTO_PHASE_COMMAND;
	s->object = NRF_DFU_PROTO_OBJECT_COMMAND;
	nrf_dfu_proto_session_goto(s, ST_CMD_CREATE);
}

static void
nrf_dfu_proto_session_next_object(NrfDfuProtoSession *s, uint32_t start)
{
	uint32_t left = (uint32_t)s->image_len - start;
	s->obj_start = start;
	s->obj_size = left < s->max_size ? left : s->max_size;
	nrf_dfu_proto_session_goto(s, ST_DATA_CREATE);
}

/*
 * A data object did not arrive intact: create it again where the device will put it. Create
 * always starts at the end of the device's last executed object, so that is where the device
 * put this object's bytes: its offset minus what was written since the create. Normally that
 * is this object's start; it is the previous object's when that one was written but never
 * executed (a host that stopped between the last write and the execute).
 */
static void
nrf_dfu_proto_session_restart_data(NrfDfuProtoSession *s, uint32_t device_offset)
{
	uint32_t written = s->offset - s->obj_start;
	uint32_t device_start = device_offset >= written ? device_offset - written : UINT32_MAX;

	if (!nrf_dfu_proto_session_count_retry(s, "firmware image's CRC"))
		return;
	/* the device holds the image's prefix up to an object boundary and nothing of this
	 * object: it reset and lost what was written since the create, and its next create
	 * starts where it stands */
	if (device_offset <= s->obj_start && s->max_size != 0 && device_offset % s->max_size == 0 &&
	    proto_crc32(0, nrf_dfu_proto_session_buf(s), device_offset) == s->response.crc.crc) {
		nrf_dfu_proto_session_next_object(s, device_offset);
		return;
	}
	if (device_start <= s->obj_start && s->max_size != 0 && device_start % s->max_size == 0) {
		nrf_dfu_proto_session_next_object(s, device_start);
		return;
	}
	nrf_dfu_proto_session_goto(s, ST_DATA_SELECT);
}

/* the device's state is not what the host expected: ask where it stands */
static void
nrf_dfu_proto_session_resync_data(NrfDfuProtoSession *s)
{
	if (!nrf_dfu_proto_session_count_retry(s, "firmware image's offset"))
		return;
	nrf_dfu_proto_session_goto(s, ST_DATA_SELECT);
}

static void
nrf_dfu_proto_session_restart(NrfDfuProtoSession *s, uint32_t device_offset)
{
	if (s->object == NRF_DFU_PROTO_OBJECT_COMMAND)
		nrf_dfu_proto_session_restart_command(s);
	else
		nrf_dfu_proto_session_restart_data(s, device_offset);
}

/* everything the device holds of the image must be sent again: only a new init packet
 * resets the data progress (nrf_dfu_validation_init_cmd_create) */
static void
nrf_dfu_proto_session_recreate_command(NrfDfuProtoSession *s, const char *why)
{
	if (s->command_recreated) {
		nrf_dfu_proto_session_fail(
		    s,
		    NRF_DFU_PROTO_ERROR_CRC,
		    "%s even after sending the init packet again: replug the "
		    "device and try again",
		    why);
		return;
	}
	s->command_recreated = true;
	s->stats.restarts++;
	s->phase = NRF_DFU_PROTO_PHASE_COMMAND;
	s->object = NRF_DFU_PROTO_OBJECT_COMMAND;
	nrf_dfu_proto_session_goto(s, ST_CMD_CREATE);
}

static void
nrf_dfu_proto_session_on_command_select(NrfDfuProtoSession *s, const NrfDfuProtoResponse *resp)
{
	uint32_t o = resp->select.offset;

	s->object = NRF_DFU_PROTO_OBJECT_COMMAND;
	s->max_size = resp->select.max_size;
	if (s->init_len > resp->select.max_size) {
		nrf_dfu_proto_session_fail(
		    s,
		    NRF_DFU_PROTO_ERROR_TOO_LARGE,
		    "the init packet is %zu bytes but the bootloader takes at "
		    "most %u: the package was made for a newer bootloader",
		    s->init_len,
		    (unsigned)resp->select.max_size);
		return;
	}
	s->obj_start = 0;
	s->obj_size = (uint32_t)s->init_len;

	/* resume: the same init packet, or a prefix of it, is already there (pc-nrfutil
	 * send_init_packet try_to_recover); executing it again is harmless, the SDK
	 * ignores executes of an already valid init command */
	if (!s->command_recreated && o > 0 && o <= s->init_len &&
	    proto_crc32(0, s->init_packet, o) == resp->select.crc) {
		s->stats.resumed_command_offset = o;
		s->offset = o;
		s->crc = resp->select.crc;
		nrf_dfu_proto_session_goto(s, o == s->init_len ? ST_CMD_EXECUTE : ST_CMD_WRITE);
		return;
	}
	nrf_dfu_proto_session_goto(s, ST_CMD_CREATE);
}

static void
nrf_dfu_proto_session_on_data_select(NrfDfuProtoSession *s, const NrfDfuProtoResponse *resp)
{
	uint32_t o = resp->select.offset;
	uint32_t m = resp->select.max_size;
	uint32_t rem;

	s->object = NRF_DFU_PROTO_OBJECT_DATA;
	s->phase = NRF_DFU_PROTO_PHASE_DATA;
	if (m == 0) {
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_REPLY,
					   "the bootloader reports a data object size of 0");
		return;
	}
	s->max_size = m;
	if (o < s->executed_max) {
		s->stats.setbacks++;
		if (s->stats.setbacks > NRF_DFU_PROTO_SETBACKS_MAX) {
			nrf_dfu_proto_session_fail(
			    s,
			    NRF_DFU_PROTO_ERROR_DEVICE,
			    "the device %s and went back to offset %u %u times, losing objects "
			    "it had executed up to offset %u: its bootloader does not keep its "
			    "progress; replug it and try again, and replace the bootloader if "
			    "this repeats",
			    nrf_dfu_proto_session_setback_cause(s),
			    (unsigned)o,
			    s->stats.setbacks,
			    (unsigned)s->executed_max);
			return;
		}
	}
	if (o == 0) {
		s->offset = 0;
		s->crc = 0;
		nrf_dfu_proto_session_next_object(s, 0);
		return;
	}
	if (o > s->image_len) {
		nrf_dfu_proto_session_recreate_command(s,
						       "the device holds more data than the image");
		return;
	}
	rem = o % m;
	if (proto_crc32(0, s->image, o) != resp->select.crc) {
		/* executed objects cannot be rewritten, only the one in progress */
		if (rem == 0) {
			nrf_dfu_proto_session_recreate_command(
			    s,
			    "the data the device holds differs from the image");
			return;
		}
		if (!nrf_dfu_proto_session_count_retry(s, "firmware image's CRC"))
			return;
		s->offset = o - rem;
		s->crc = proto_crc32(0, s->image, s->offset);
		s->known_offset = s->offset;
		s->known_crc = s->crc;
		nrf_dfu_proto_session_next_object(s, o - rem);
		return;
	}

	/* the device's prefix is the host's */
	s->stats.resumed_data_offset = o;
	s->offset = o;
	s->crc = resp->select.crc;
	s->known_offset = o;
	s->known_crc = resp->select.crc;
	if (o == s->image_len) {
		/* written to the end but not executed: an executed last object would have
		 * been post-validated and activated, leaving DFU mode */
		s->obj_start = rem != 0 ? o - rem : o - m;
		s->obj_size = o - s->obj_start;
		nrf_dfu_proto_session_goto(s, ST_DATA_EXECUTE);
		return;
	}
	if (rem != 0) {
		/* finish the object in progress */
		uint32_t left = (uint32_t)s->image_len - (o - rem);
		s->obj_start = o - rem;
		s->obj_size = left < m ? left : m;
		nrf_dfu_proto_session_goto(s, ST_DATA_WRITE);
		return;
	}

	/* at an object boundary: create the next object, never execute again */
	nrf_dfu_proto_session_next_object(s, o);
	s->boundary_resume = true;
}

static void
nrf_dfu_proto_session_on_notification(NrfDfuProtoSession *s, const NrfDfuProtoResponse *resp)
{
	uint32_t obj_end = s->obj_start + s->obj_size;

	s->expect_notification = false;
	if (resp->result != NRF_DFU_PROTO_RESULT_SUCCESS) {
		/* a refused write: the device's offset is unknown, ask for it */
		if (s->object == NRF_DFU_PROTO_OBJECT_COMMAND)
			nrf_dfu_proto_session_restart_command(s);
		else
			nrf_dfu_proto_session_resync_data(s);
		return;
	}
	if (resp->crc.offset != s->offset || resp->crc.crc != s->crc) {
		nrf_dfu_proto_session_restart(s, resp->crc.offset);
		return;
	}
	s->stats.prn_checks++;
	if (s->offset == obj_end) {
		nrf_dfu_proto_session_goto(s,
					   s->object == NRF_DFU_PROTO_OBJECT_COMMAND ? ST_CMD_CRC
										     : ST_DATA_CRC);
		return;
	}
	nrf_dfu_proto_session_repeat(s);
}

/* a step whose request, when the device refuses it, ends the session; the others (a ping,
 * the MTU get a UART bootloader lacks, a data object's CREATE and EXECUTE) read the refusal */
static bool
nrf_dfu_proto_step_fails_on_refusal(int step)
{
	switch (step) {
	case ST_REQUEST:
	case ST_PRN:
	case ST_CMD_SELECT:
	case ST_DATA_SELECT:
	case ST_CMD_CREATE:
	case ST_CMD_CRC:
	case ST_DATA_CRC:
	case ST_CMD_EXECUTE:
		return true;
	default:
		return false;
	}
}

static void
nrf_dfu_proto_session_on_reply(NrfDfuProtoSession *s, const NrfDfuProtoResponse *resp)
{
	bool ok = resp->result == NRF_DFU_PROTO_RESULT_SUCCESS;

	s->timeouts = 0;
	if (!ok && nrf_dfu_proto_step_fails_on_refusal(s->step)) {
		nrf_dfu_proto_session_fail_result(s, resp);
		return;
	}
	switch (s->step) {
	case ST_REQUEST:
		s->phase = NRF_DFU_PROTO_PHASE_DONE;
		return;
	case ST_PING:
		/* any answer shows a bootloader is listening (pc-nrfutil __ping) */
		nrf_dfu_proto_session_goto(s, ST_PRN);
		return;
	case ST_PRN:
		s->prn_count = 0;
		/* a transport that sizes its packets itself has no MTU get (BLE's has not) */
		if (s->packet_size != 0) {
			s->write_size = s->packet_size;
			s->phase = NRF_DFU_PROTO_PHASE_COMMAND;
			nrf_dfu_proto_session_goto(s, ST_CMD_SELECT);
			return;
		}
		nrf_dfu_proto_session_goto(s, ST_MTU);
		return;
	case ST_MTU: {
		uint16_t cap = s->mtu_max != 0 && s->mtu_max < NRF_DFU_PROTO_MTU_MAX
				   ? s->mtu_max
				   : NRF_DFU_PROTO_MTU_MAX;
		uint16_t reported;
		if (resp->result == NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED) {
			reported = NRF_DFU_PROTO_MTU_UART;
		} else if (!ok) {
			nrf_dfu_proto_session_fail_result(s, resp);
			return;
		} else {
			reported = resp->mtu;
		}
		/* the cap applies to the UART fallback too */
		s->mtu = reported < cap ? reported : cap;
		if (s->mtu < NRF_DFU_PROTO_MTU_MIN) {
			nrf_dfu_proto_session_fail(
			    s,
			    reported < NRF_DFU_PROTO_MTU_MIN ? NRF_DFU_PROTO_ERROR_REPLY
							     : NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT,
			    "an MTU of %u bytes (the bootloader reports %u, the link allows %u) "
			    "is too small for a request, which takes up to %u bytes: %s",
			    (unsigned)s->mtu,
			    (unsigned)reported,
			    (unsigned)cap,
			    (unsigned)NRF_DFU_PROTO_MTU_MIN,
			    reported < NRF_DFU_PROTO_MTU_MIN
				? "the device is not a working Secure DFU bootloader"
				: "the link cannot carry the update");
			return;
		}
		s->write_size = nrf_dfu_proto_write_size(s->mtu);
		s->phase = NRF_DFU_PROTO_PHASE_COMMAND;
		nrf_dfu_proto_session_goto(s, ST_CMD_SELECT);
		return;
	}
	case ST_CMD_SELECT:
	case ST_DATA_SELECT:
		if (s->step == ST_CMD_SELECT)
			nrf_dfu_proto_session_on_command_select(s, resp);
		else
			nrf_dfu_proto_session_on_data_select(s, resp);
		return;
	case ST_CMD_CREATE:
		s->object = NRF_DFU_PROTO_OBJECT_COMMAND;
		s->stats.objects_created++;
		s->prn_count = 0;
		s->obj_start = 0;
		s->obj_size = (uint32_t)s->init_len;
		s->offset = 0;
		s->crc = 0;
		/* a new init packet resets the device's data progress */
		s->known_offset = 0;
		s->known_crc = 0;
		s->executed_max = 0;
		nrf_dfu_proto_session_goto(s, ST_CMD_WRITE);
		return;
	case ST_DATA_CREATE:
		if (!ok) {
			/* resumed at a boundary whose object was written but never executed: the
			 * device still counts from that object's start, so the next object does
			 * not fit its idea of the image; that object is created again instead */
			if (s->boundary_resume && s->obj_start >= s->max_size &&
			    (resp->result == NRF_DFU_PROTO_RESULT_INVALID_PARAMETER ||
			     resp->result == NRF_DFU_PROTO_RESULT_NOT_PERMITTED)) {
				s->boundary_resume = false;
				if (nrf_dfu_proto_session_count_retry(s, "object boundary"))
					nrf_dfu_proto_session_next_object(s,
									  s->obj_start -
									      s->max_size);
				return;
			}
			/* the object is the size select reported, or the image's rest: a device
			 * that refuses it claimed a size it does not take */
			if (resp->result != NRF_DFU_PROTO_RESULT_EXT_ERROR &&
			    resp->result != NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED) {
				nrf_dfu_proto_session_fail(
				    s,
				    NRF_DFU_PROTO_ERROR_DEVICE,
				    "CREATE of data object %u (%u bytes at offset %u) failed: %s "
				    "(0x%02x): the device reported data objects of up to %u bytes "
				    "but refused this one; replug it and try again, and replace "
				    "the "
				    "bootloader if this repeats",
				    nrf_dfu_proto_session_object_number(s),
				    (unsigned)s->obj_size,
				    (unsigned)s->obj_start,
				    nrf_dfu_proto_result_to_string(resp->result),
				    resp->result,
				    (unsigned)s->max_size);
				return;
			}
			nrf_dfu_proto_session_fail_result(s, resp);
			return;
		}
		s->boundary_resume = false;
		s->stats.objects_created++;
		if (++s->stats.object_sends > NRF_DFU_PROTO_OBJECT_SENDS_MAX) {
			nrf_dfu_proto_session_fail(
			    s,
			    NRF_DFU_PROTO_ERROR_DEVICE,
			    "the device was sent %u data objects without getting past offset "
			    "%u (it %s): replug it and try again, and replace the bootloader if "
			    "this repeats",
			    s->stats.object_sends,
			    (unsigned)s->executed_max,
			    nrf_dfu_proto_session_setback_cause(s));
			return;
		}
		s->prn_count = 0;
		s->crc = nrf_dfu_proto_session_crc_at(s, s->obj_start);
		s->offset = s->obj_start;
		nrf_dfu_proto_session_goto(s, ST_DATA_WRITE);
		return;
	case ST_CMD_CRC:
	case ST_DATA_CRC:
		if (resp->crc.offset != s->offset || resp->crc.crc != s->crc) {
			nrf_dfu_proto_session_restart(s, resp->crc.offset);
			return;
		}
		nrf_dfu_proto_session_goto(s,
					   s->step == ST_CMD_CRC ? ST_CMD_EXECUTE
								 : ST_DATA_EXECUTE);
		return;
	case ST_CMD_EXECUTE:
		s->stats.objects_executed++;
		s->retries = 0;
		s->phase = NRF_DFU_PROTO_PHASE_DATA;
		s->object = NRF_DFU_PROTO_OBJECT_DATA;
		s->offset = s->known_offset;
		s->crc = s->known_crc;
		nrf_dfu_proto_session_goto(s, ST_DATA_SELECT);
		return;
	case ST_DATA_EXECUTE: {
		uint32_t obj_end = s->obj_start + s->obj_size;
		if (!ok) {
			/* an incomplete object is refused with "not permitted": resynchronise */
			if (resp->result == NRF_DFU_PROTO_RESULT_NOT_PERMITTED &&
			    obj_end != s->image_len) {
				snprintf(s->setback_cause,
					 sizeof(s->setback_cause),
					 "refused EXECUTE of object %u (%s)",
					 nrf_dfu_proto_session_object_number(s),
					 nrf_dfu_proto_result_to_string(resp->result));
				nrf_dfu_proto_session_resync_data(s);
				return;
			}
			nrf_dfu_proto_session_fail_result(s, resp);
			return;
		}
		s->stats.objects_executed++;
		s->retries = 0;
		if (obj_end > s->executed_max) {
			s->executed_max = obj_end;
			s->stats.object_sends = 0;
		}
		s->known_offset = obj_end;
		s->known_crc = s->crc;
		if (obj_end == s->image_len) {
			s->phase = NRF_DFU_PROTO_PHASE_DONE;
			return;
		}
		nrf_dfu_proto_session_next_object(s, obj_end);
		return;
	}
	default:
		nrf_dfu_proto_session_fail(s, NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT, "bad step");
		return;
	}
}

/* a frame that is not the reply awaited, in words for the timeout's error */
static void
nrf_dfu_proto_session_note_other(NrfDfuProtoSession *s, const uint8_t *frame, size_t len)
{
	s->others++;
	if (len >= 2 && frame[0] == NRF_DFU_PROTO_OP_RESPONSE)
		snprintf(s->other_what,
			 sizeof(s->other_what),
			 "a %zu-byte response to %s",
			 len,
			 nrf_dfu_proto_op_to_string(frame[1]));
	else
		snprintf(s->other_what,
			 sizeof(s->other_what),
			 "a %zu-byte frame that is no response",
			 len);
}

static void
nrf_dfu_proto_session_process(NrfDfuProtoSession *s, const uint8_t *frame, size_t len)
{
	NrfDfuProtoResponse resp;

	if (nrf_dfu_proto_response_decode(frame, len, &resp) != NRF_DFU_PROTO_ERROR_NONE) {
		nrf_dfu_proto_session_note_other(s, frame, len);
		nrf_dfu_proto_session_skip(s);
		return;
	}
	if (s->expect_notification) {
		if (resp.request_op != NRF_DFU_PROTO_OP_CRC_GET) {
			nrf_dfu_proto_session_skip(s);
			return;
		}
		s->response = resp;
		nrf_dfu_proto_session_on_notification(s, &resp);
		return;
	}
	if (resp.request_op != s->pending_op) {
		nrf_dfu_proto_session_note_other(s, frame, len);
		nrf_dfu_proto_session_skip(s);
		return;
	}
	/* the answer to an earlier ping that timed out */
	if (resp.request_op == NRF_DFU_PROTO_OP_PING &&
	    resp.result == NRF_DFU_PROTO_RESULT_SUCCESS && resp.ping_id != (uint8_t)s->pings) {
		nrf_dfu_proto_session_skip(s);
		return;
	}
	s->response = resp;
	nrf_dfu_proto_session_on_reply(s, &resp);
}

static void
nrf_dfu_proto_session_on_timeout(NrfDfuProtoSession *s)
{
	s->stats.timeouts++;

	/* a missing notification: ask for the CRC instead */
	if (s->expect_notification) {
		if (++s->timeouts > NRF_DFU_PROTO_TIMEOUT_RETRIES) {
			nrf_dfu_proto_session_fail(
			    s,
			    NRF_DFU_PROTO_ERROR_TIMEOUT,
			    "no CRC notification within %u ms after %u writes",
			    (unsigned)s->step_timeout_ms,
			    (unsigned)s->prn);
			return;
		}
		nrf_dfu_proto_session_goto(s,
					   s->object == NRF_DFU_PROTO_OBJECT_COMMAND ? ST_CMD_CRC
										     : ST_DATA_CRC);
		return;
	}
	if (s->pending_op == NRF_DFU_PROTO_OP_PING) {
		if (s->pings < NRF_DFU_PROTO_PING_TRIES) {
			nrf_dfu_proto_session_repeat(s);
			return;
		}
		nrf_dfu_proto_session_fail(
		    s,
		    NRF_DFU_PROTO_ERROR_TIMEOUT,
		    "no answer to %u pings: the device is not in Secure DFU "
		    "bootloader mode, or the baud rate or flow control is wrong",
		    (unsigned)s->pings);
		return;
	}
	if (s->pending_op == NRF_DFU_PROTO_OP_ABORT) {
		/* the bootloader resets on abort and may not answer */
		s->phase = NRF_DFU_PROTO_PHASE_DONE;
		return;
	}
	if (++s->timeouts > NRF_DFU_PROTO_TIMEOUT_RETRIES) {
		/* say what came instead, if anything did */
		char instead[200] = "the device stopped answering";
		if (s->others > 0 && s->unended > 0)
			snprintf(instead,
				 sizeof(instead),
				 "the device sent %u other frame%s instead (the last %s), "
				 "then %zu bytes with no frame end",
				 s->others,
				 s->others == 1 ? "" : "s",
				 s->other_what,
				 s->unended);
		else if (s->others > 0)
			snprintf(instead,
				 sizeof(instead),
				 "the device sent %u other frame%s instead, the last %s",
				 s->others,
				 s->others == 1 ? "" : "s",
				 s->other_what);
		else if (s->unended > 0)
			snprintf(instead,
				 sizeof(instead),
				 "the device sent %zu bytes with no frame end instead",
				 s->unended);
		nrf_dfu_proto_session_fail(s,
					   NRF_DFU_PROTO_ERROR_TIMEOUT,
					   "no reply to %s within %u ms, %u times: %s",
					   nrf_dfu_proto_op_to_string(s->pending_op),
					   (unsigned)s->step_timeout_ms,
					   (unsigned)s->timeouts,
					   instead);
		return;
	}
	if (s->step == ST_DATA_EXECUTE) {
		/* executing the last object activates the image: if its reply is lost nobody
		 * can tell whether it happened */
		if (s->obj_start + s->obj_size == s->image_len) {
			nrf_dfu_proto_session_fail(
			    s,
			    NRF_DFU_PROTO_ERROR_TIMEOUT,
			    "no reply to the final EXECUTE within %u ms: the "
			    "device may have activated the new firmware; replug it "
			    "and check its version",
			    (unsigned)s->step_timeout_ms);
			return;
		}
		/* never execute twice: the device's select tells whether it happened */
		snprintf(s->setback_cause,
			 sizeof(s->setback_cause),
			 "did not answer EXECUTE of object %u",
			 nrf_dfu_proto_session_object_number(s));
		nrf_dfu_proto_session_goto(s, ST_DATA_SELECT);
		return;
	}
	/* every other request is safe to repeat: select, CRC and the versions read state,
	 * create starts the object afresh, PRN and MTU are settings, and an execute of an
	 * already valid init command has no effect */
	nrf_dfu_proto_session_repeat(s);
}

uint64_t
nrf_dfu_proto_session_budget_ms(const NrfDfuProtoSession *s)
{
	uint32_t object_size = s->object == NRF_DFU_PROTO_OBJECT_DATA && s->max_size != 0
				   ? s->max_size
				   : NRF_DFU_PROTO_PAGE_SIZE;
	/* the device's object size is its word, which must not stretch the bound */
	if (object_size < NRF_DFU_PROTO_BUDGET_OBJECT_MIN)
		object_size = NRF_DFU_PROTO_BUDGET_OBJECT_MIN;
	uint64_t bytes = (uint64_t)s->init_len + s->image_len;
	uint64_t objects = (s->image_len + object_size - 1) / object_size;
	uint32_t byte_us = s->byte_us > NRF_DFU_PROTO_BYTE_US ? s->byte_us : NRF_DFU_PROTO_BYTE_US;
	uint64_t pass_ms;

	/* every byte escaped, and a frame header for each write of the smallest MTU */
	pass_ms = (2 * bytes + 8 * (bytes / 64 + 1)) * byte_us / 1000;
	pass_ms += nrf_dfu_proto_timeout_create_ms((uint32_t)s->init_len) +
		   NRF_DFU_PROTO_TIMEOUT_REPLY_MS + NRF_DFU_PROTO_TIMEOUT_VERIFY_MS;
	pass_ms += objects *
		   (nrf_dfu_proto_timeout_create_ms(object_size) + NRF_DFU_PROTO_TIMEOUT_REPLY_MS +
		    nrf_dfu_proto_timeout_execute_data_ms(object_size, false, 0));
	pass_ms += nrf_dfu_proto_timeout_execute_data_ms(0, true, (uint32_t)s->image_len);
	/* a CRC notification every prn writes, each a reply round trip */
	if (s->prn != 0) {
		size_t write_size = s->write_size != 0
					? s->write_size
					: nrf_dfu_proto_write_size(NRF_DFU_PROTO_MTU_UART);
		uint64_t writes = bytes / write_size + objects + 1;
		pass_ms += (writes / s->prn + 1) * NRF_DFU_PROTO_TIMEOUT_REPLY_MS;
	}
	return NRF_DFU_PROTO_SESSION_PASSES * pass_ms + NRF_DFU_PROTO_SESSION_SLACK_MS;
}

/* a transfer that outlives its bound ends, saying what kept it going */
static bool
nrf_dfu_proto_session_check_budget(NrfDfuProtoSession *s, uint64_t now_ms)
{
	uint64_t budget_ms;

	if (!s->started || s->phase == NRF_DFU_PROTO_PHASE_REQUEST || now_ms < s->started_ms)
		return true;
	budget_ms = nrf_dfu_proto_session_budget_ms(s);
	if (now_ms - s->started_ms <= budget_ms)
		return true;
	nrf_dfu_proto_session_fail(
	    s,
	    NRF_DFU_PROTO_ERROR_TIMEOUT,
	    "the update of this %zu-byte image did not finish within its bound of %u s "
	    "(%u restarts, %u timeouts, %u setbacks%s%s): replug the device and try again",
	    s->image_len,
	    (unsigned)(budget_ms / 1000),
	    s->stats.restarts,
	    s->stats.timeouts,
	    s->stats.setbacks,
	    s->setback_cause[0] != '\0' ? "; last the device " : "",
	    s->setback_cause);
	return false;
}

void
nrf_dfu_proto_session_next(NrfDfuProtoSession *s, uint64_t now_ms, NrfDfuProtoAction *action)
{
	memset(action, 0, sizeof(*action));
	for (;;) {
		if (s->phase == NRF_DFU_PROTO_PHASE_DONE) {
			action->kind = NRF_DFU_PROTO_ACTION_DONE;
			return;
		}
		if (s->phase == NRF_DFU_PROTO_PHASE_FAILED) {
			action->kind = NRF_DFU_PROTO_ACTION_ERROR;
			action->error = s->error;
			action->message = s->message;
			return;
		}
		if (s->phase == NRF_DFU_PROTO_PHASE_IDLE) {
			action->kind = NRF_DFU_PROTO_ACTION_ERROR;
			action->error = NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT;
			action->message = "no operation started";
			return;
		}
		if (!nrf_dfu_proto_session_check_budget(s, now_ms))
			continue;
		if (!BUILT(s)) {
			if (!nrf_dfu_proto_session_build(s))
				continue;
		}
		if (!s->sent) {
			action->kind = NRF_DFU_PROTO_ACTION_SEND;
			action->channel = s->pending_op == NRF_DFU_PROTO_OP_WRITE
					      ? NRF_DFU_PROTO_CHANNEL_PACKET
					      : NRF_DFU_PROTO_CHANNEL_CONTROL;
			action->bytes = s->tx_bytes;
			action->length = s->tx_len;
			action->timeout_ms = s->step_timeout_ms;
			action->op = s->pending_op;
			return;
		}

		/* waiting for a reply: frames already received come first */
		if (s->queue_count > 0) {
			unsigned idx = s->queue_head;
			s->queue_head = (s->queue_head + 1) % NRF_DFU_PROTO_QUEUE_MAX;
			s->queue_count--;
			nrf_dfu_proto_session_process(s, s->queue[idx], s->queue_len[idx]);
			continue;
		}
		if (now_ms >= s->deadline_ms) {
			nrf_dfu_proto_session_on_timeout(s);
			continue;
		}
		action->kind = NRF_DFU_PROTO_ACTION_RECEIVE;
		action->timeout_ms = (uint32_t)(s->deadline_ms - now_ms);
		action->op = s->expect_notification ? NRF_DFU_PROTO_OP_CRC_GET : s->pending_op;
		return;
	}
}

/* a transfer of the pending request failed while @doing it (sending, reading the reply to) */
static void
nrf_dfu_proto_session_fail_io(NrfDfuProtoSession *s, ProtoIo io, const char *doing)
{
	NrfDfuProtoError error = NRF_DFU_PROTO_ERROR_IO;
	const char *why = "transport error";

	if (io == PROTO_IO_TIMEOUT) {
		error = NRF_DFU_PROTO_ERROR_TIMEOUT;
		why = "the device did not take it in time";
	} else if (io == PROTO_IO_NO_DEVICE) {
		error = NRF_DFU_PROTO_ERROR_NO_DEVICE;
		why = "the device went away";
	}
	nrf_dfu_proto_session_fail(s,
				   error,
				   "%s %s failed: %s",
				   doing,
				   nrf_dfu_proto_op_to_string(s->pending_op),
				   why);
}

/* the session has ended, or not begun: nothing it is fed changes it */
static bool
nrf_dfu_proto_session_is_idle(const NrfDfuProtoSession *s)
{
	return s->phase == NRF_DFU_PROTO_PHASE_DONE || s->phase == NRF_DFU_PROTO_PHASE_FAILED ||
	       s->phase == NRF_DFU_PROTO_PHASE_IDLE;
}

void
nrf_dfu_proto_session_feed_sent(NrfDfuProtoSession *s, ProtoIo io, uint64_t now_ms)
{
	if (nrf_dfu_proto_session_is_idle(s) || !BUILT(s) || s->sent)
		return;
	if (io != PROTO_IO_OK) {
		nrf_dfu_proto_session_fail_io(s, io, "sending");
		return;
	}
	s->sent = true;
	if (!s->started) {
		s->started = true;
		s->started_ms = now_ms;
	}
	s->stats.bytes_sent += s->tx_len;
	s->deadline_ms = now_ms + s->step_timeout_ms;
	if (s->pending_op == NRF_DFU_PROTO_OP_WRITE) {
		const uint8_t *data = nrf_dfu_proto_session_buf(s) + s->offset;
		size_t n = s->write_len;
		s->crc = proto_crc32(s->crc, data, n);
		s->offset += (uint32_t)n;
		s->stats.writes++;
		s->prn_count++;
		if (s->prn != 0 && s->prn_count >= s->prn) {
			s->prn_count = 0;
			s->expect_notification = true;
			s->stale = 0;
			return;
		}
		if (s->offset == s->obj_start + s->obj_size) {
			nrf_dfu_proto_session_goto(
			    s,
			    s->object == NRF_DFU_PROTO_OBJECT_COMMAND ? ST_CMD_CRC : ST_DATA_CRC);
			return;
		}
		nrf_dfu_proto_session_repeat(s);
	}
}

void
nrf_dfu_proto_session_feed_received(NrfDfuProtoSession *s,
				    ProtoIo io,
				    const uint8_t *buf,
				    size_t len,
				    uint64_t now_ms)
{
	unsigned idx;

	(void)now_ms;
	if (nrf_dfu_proto_session_is_idle(s))
		return;
	/* a read that timed out is silence, not a failed transfer */
	if (io == PROTO_IO_TIMEOUT) {
		if (s->sent)
			nrf_dfu_proto_session_on_timeout(s);
		return;
	}
	if (io != PROTO_IO_OK) {
		nrf_dfu_proto_session_fail_io(s, io, "reading the reply to");
		return;
	}
	if (buf == NULL || len == 0)
		return;
	/* longer than any response, or no room left: dropped */
	if (len > sizeof(s->queue[0]) || s->queue_count >= NRF_DFU_PROTO_QUEUE_MAX) {
		s->stats.frames_dropped++;
		return;
	}
	idx = (s->queue_head + s->queue_count) % NRF_DFU_PROTO_QUEUE_MAX;
	memcpy(s->queue[idx], buf, len);
	s->queue_len[idx] = len;
	s->queue_count++;
}

void
nrf_dfu_proto_serial_feed(NrfDfuProtoSlipDecoder *rx,
			  NrfDfuProtoSession *s,
			  ProtoIo io,
			  const uint8_t *buf,
			  size_t len,
			  uint64_t now_ms)
{
	size_t pos = 0;

	if (io != PROTO_IO_OK || nrf_dfu_proto_session_is_idle(s)) {
		nrf_dfu_proto_session_feed_received(s, io, NULL, 0, now_ms);
		return;
	}
	while (buf != NULL && pos < len) {
		size_t consumed = 0;
		bool ended = nrf_dfu_proto_slip_decoder_feed(rx, buf + pos, len - pos, &consumed);
		/* bytes that end no frame: the device may be sending one that never ends */
		if (ended || (consumed > 0 && buf[pos + consumed - 1] == NRF_DFU_PROTO_SLIP_END))
			s->unended = 0;
		else
			s->unended += consumed;
		if (ended)
			nrf_dfu_proto_session_feed_received(s,
							    PROTO_IO_OK,
							    rx->buf,
							    rx->len,
							    now_ms);
		pos += consumed;
		if (consumed == 0)
			break;
	}
}

void
nrf_dfu_proto_session_get_progress(const NrfDfuProtoSession *s, size_t *done, size_t *total)
{
	*total = s->image_len;
	if (s->phase == NRF_DFU_PROTO_PHASE_DONE && s->image_len > 0) {
		*done = s->image_len;
		return;
	}
	*done = s->object == NRF_DFU_PROTO_OBJECT_DATA && s->phase == NRF_DFU_PROTO_PHASE_DATA
		    ? s->offset
		    : 0;
}
