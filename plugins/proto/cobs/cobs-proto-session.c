/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The update session: erase, the image in chunks, verify when the device announced it, bye.
 *
 * Messages are numbered: 0 is the erase, 1..chunk_count the chunks, then the verify request
 * (only when used) and the bye. `sent` counts the messages the device has taken, `answered`
 * those it has replied to; the device works on message `answered` from `work_since_ms`,
 * which is when its previous reply came or when it took the message, whichever is later.
 *
 * Only a chunk is ever sent ahead of a reply, and only behind other chunks: erase, verify
 * and bye go out with nothing outstanding. With flow control (queue_depth > 0) chunks go out
 * up to batch_max in one transfer, and the next transfer may follow while the chunks of the
 * one before are still being answered. A bye queued behind a chunk that then failed
 * would start a half-written image, and the verify request must follow the last chunk's
 * ACK so the CRC covers everything.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cobs-proto-private.h"

const char *
cobs_proto_step_to_string(CobsProtoStep step)
{
	switch (step) {
	case COBS_PROTO_STEP_ERASE:
		return "erase";
	case COBS_PROTO_STEP_WRITE:
		return "write";
	case COBS_PROTO_STEP_VERIFY:
		return "verify";
	case COBS_PROTO_STEP_BYE:
		return "bye";
	case COBS_PROTO_STEP_DONE:
		return "done";
	}
	return "unknown";
}

static bool
cobs_proto_session_uses_verify(const CobsProtoSession *session)
{
	return session->config.use_verify && session->device_caps_known &&
	       (session->device_caps & COBS_PROTO_CAP_VERIFY_CRC32) != 0;
}

static CobsProtoStep
cobs_proto_session_step_of(const CobsProtoSession *session, uint32_t index)
{
	if (index == 0)
		return COBS_PROTO_STEP_ERASE;
	if (index <= session->chunk_count)
		return COBS_PROTO_STEP_WRITE;
	if (index == session->chunk_count + 1 && cobs_proto_session_uses_verify(session))
		return COBS_PROTO_STEP_VERIFY;
	if (index < session->message_count)
		return COBS_PROTO_STEP_BYE;
	return COBS_PROTO_STEP_DONE;
}

static void
cobs_proto_session_chunk_range(const CobsProtoSession *session,
			       uint32_t index,
			       uint32_t *offset,
			       uint32_t *len)
{
	uint32_t chunk = index - 1;
	*offset = chunk * COBS_PROTO_CHUNK_MAX;
	*len = session->image_size - *offset;
	if (*len > COBS_PROTO_CHUNK_MAX)
		*len = COBS_PROTO_CHUNK_MAX;
}

static uint32_t
cobs_proto_session_work_timeout(const CobsProtoSession *session, uint32_t index)
{
	uint32_t offset = 0;
	uint32_t len = 0;

	switch (cobs_proto_session_step_of(session, index)) {
	case COBS_PROTO_STEP_ERASE:
		return cobs_proto_erase_timeout_ms(&session->config, session->erase_size);
	case COBS_PROTO_STEP_WRITE:
		cobs_proto_session_chunk_range(session, index, &offset, &len);
		return cobs_proto_chunk_timeout_ms(&session->config, offset, len);
	case COBS_PROTO_STEP_VERIFY:
		return cobs_proto_verify_timeout_ms(&session->config, session->image_size);
	default:
		return session->config.reply_slack_ms;
	}
}

/* the worst-case work of a message alone, without the slack each timeout adds once */
static uint32_t
cobs_proto_session_work_ms(const CobsProtoSession *session, uint32_t index)
{
	uint32_t timeout = cobs_proto_session_work_timeout(session, index);
	return timeout > session->config.reply_slack_ms ? timeout - session->config.reply_slack_ms
							: 0;
}

/* chunks one transfer may carry: several only where the device's flow control paces them */
static uint32_t
cobs_proto_session_batch_max(const CobsProtoSession *session)
{
	if (session->config.queue_depth == 0 || session->config.batch_max == 0)
		return 1;
	return session->config.batch_max;
}

/* "chunk 17 of 17190 (image bytes 976-1036)", "chunks 17-48 of 17190 (...)" or "erase" */
static void
cobs_proto_session_describe_count(const CobsProtoSession *session,
				  uint32_t index,
				  uint32_t count,
				  char *out,
				  size_t out_size)
{
	uint32_t offset = 0;
	uint32_t len = 0;
	uint32_t last_offset = 0;
	uint32_t last_len = 0;
	CobsProtoStep step = cobs_proto_session_step_of(session, index);

	if (step != COBS_PROTO_STEP_WRITE) {
		proto_format(out, out_size, "%s", cobs_proto_step_to_string(step));
		return;
	}
	cobs_proto_session_chunk_range(session, index, &offset, &len);
	if (count <= 1) {
		proto_format(out,
			     out_size,
			     "write chunk %u of %u (image bytes %u-%u)",
			     (unsigned)index,
			     (unsigned)session->chunk_count,
			     (unsigned)offset,
			     (unsigned)(offset + len - 1));
		return;
	}
	cobs_proto_session_chunk_range(session, index + count - 1, &last_offset, &last_len);
	proto_format(out,
		     out_size,
		     "write chunks %u-%u of %u (image bytes %u-%u)",
		     (unsigned)index,
		     (unsigned)(index + count - 1),
		     (unsigned)session->chunk_count,
		     (unsigned)offset,
		     (unsigned)(last_offset + last_len - 1));
}

static void
cobs_proto_session_describe(const CobsProtoSession *session,
			    uint32_t index,
			    char *out,
			    size_t out_size)
{
	cobs_proto_session_describe_count(session, index, 1, out, out_size);
}

static void
cobs_proto_session_fail(CobsProtoSession *session, CobsProtoError error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cobs_proto_session_fail(CobsProtoSession *session, CobsProtoError error, const char *fmt, ...)
{
	va_list args;

	if (session->error != COBS_PROTO_ERROR_NONE)
		return;
	session->error = error;
	va_start(args, fmt);
	proto_vformat(session->message, sizeof(session->message), fmt, args);
	va_end(args);
}

CobsProtoError
cobs_proto_session_start(CobsProtoSession *session,
			 const CobsProtoConfig *config,
			 const uint8_t *image,
			 uint32_t image_size,
			 uint32_t erase_size)
{
	if (session == NULL)
		return COBS_PROTO_ERROR_INVALID_ARGUMENT;
	memset(session, 0, sizeof(*session));
	if (config != NULL)
		session->config = *config;
	else
		cobs_proto_config_init(&session->config);
	session->image = image;
	session->image_size = image_size;
	session->erase_size = erase_size;

	if (image == NULL || image_size == 0) {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_INVALID_ARGUMENT,
					"the image is empty");
		return session->error;
	}
	if (image_size > erase_size) {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_INVALID_ARGUMENT,
					"the image is %u bytes but the device erases only %u",
					(unsigned)image_size,
					(unsigned)erase_size);
		return session->error;
	}
	/* a transfer's timeout of 0 is no timeout at all to libusb: the slack is never 0 */
	if (session->config.sector_size == 0 || session->config.word_size == 0 ||
	    session->config.verify_bytes_per_ms == 0 || session->config.reply_slack_ms == 0) {
		cobs_proto_session_fail(
		    session,
		    COBS_PROTO_ERROR_INVALID_ARGUMENT,
		    "sector size, flash word size, CRC rate and reply slack must "
		    "not be 0");
		return session->error;
	}
	if (session->config.queue_depth > COBS_PROTO_QUEUE_DEPTH_MAX) {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_INVALID_ARGUMENT,
					"queue depth %u is more than %u",
					(unsigned)session->config.queue_depth,
					(unsigned)COBS_PROTO_QUEUE_DEPTH_MAX);
		return session->error;
	}
	if (session->config.batch_max > COBS_PROTO_BATCH_MAX) {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_INVALID_ARGUMENT,
					"%u chunks a transfer is more than %u",
					(unsigned)session->config.batch_max,
					(unsigned)COBS_PROTO_BATCH_MAX);
		return session->error;
	}
	session->chunk_count = (image_size + COBS_PROTO_CHUNK_MAX - 1) / COBS_PROTO_CHUNK_MAX;
	/* erase, chunks, bye; verify is added if the erase reply announces it */
	session->message_count = session->chunk_count + 2;
	return COBS_PROTO_ERROR_NONE;
}

/* may message `sent` go out now? */
static bool
cobs_proto_session_can_send(const CobsProtoSession *session)
{
	uint32_t outstanding = session->sent - session->answered;

	if (session->sent >= session->message_count || session->send_timed_out)
		return false;
	if (outstanding == 0)
		return true;
	/* the one in progress is a chunk (so are those behind it) and so is the next; a transfer
	 * of chunks may go while the one before it is being answered */
	return outstanding <=
		   session->config.queue_depth + cobs_proto_session_batch_max(session) - 1 &&
	       cobs_proto_session_step_of(session, session->answered) == COBS_PROTO_STEP_WRITE &&
	       cobs_proto_session_step_of(session, session->sent) == COBS_PROTO_STEP_WRITE;
}

/* appends message index to action->bytes */
static bool
cobs_proto_session_build_one(CobsProtoSession *session, uint32_t index, CobsProtoAction *action)
{
	uint8_t control;
	const uint8_t *payload = NULL;
	size_t payload_len = 0;
	uint32_t offset = 0;
	uint32_t len = 0;
	size_t msg_len = 0;
	CobsProtoError rc;

	switch (cobs_proto_session_step_of(session, index)) {
	case COBS_PROTO_STEP_ERASE:
		control = COBS_PROTO_CONTROL_ERASE;
		break;
	case COBS_PROTO_STEP_WRITE:
		cobs_proto_session_chunk_range(session, index, &offset, &len);
		control = index == session->chunk_count ? COBS_PROTO_CONTROL_WRITE_LAST
							: COBS_PROTO_CONTROL_WRITE_MORE;
		payload = session->image + offset;
		payload_len = len;
		break;
	case COBS_PROTO_STEP_VERIFY:
		control = COBS_PROTO_CONTROL_VERIFY;
		break;
	default:
		control = COBS_PROTO_CONTROL_BYE;
		break;
	}
	rc = cobs_proto_message_build(control,
				      payload,
				      payload_len,
				      action->bytes + action->length,
				      sizeof(action->bytes) - action->length,
				      &msg_len);
	if (rc != COBS_PROTO_ERROR_NONE) {
		cobs_proto_session_fail(session, rc, "cannot build message %u", (unsigned)index);
		return false;
	}
	action->length += msg_len;
	action->count++;
	action->image_length += len;
	return true;
}

static void
cobs_proto_session_build(CobsProtoSession *session, CobsProtoAction *action)
{
	uint32_t index = session->sent;
	uint64_t wait_ms;

	action->kind = COBS_PROTO_ACTION_SEND;
	action->step = cobs_proto_session_step_of(session, index);
	if (action->step == COBS_PROTO_STEP_WRITE) {
		uint32_t len = 0;
		action->chunk = index - 1;
		cobs_proto_session_chunk_range(session, index, &action->image_offset, &len);
	}
	if (!cobs_proto_session_build_one(session, index, action))
		return;
	/* more chunks behind it, as long as each message before is a whole packet */
	while (action->step == COBS_PROTO_STEP_WRITE &&
	       action->count < cobs_proto_session_batch_max(session) &&
	       index + action->count <= session->chunk_count &&
	       action->length == (size_t)action->count * COBS_PROTO_MESSAGE_MAX) {
		if (!cobs_proto_session_build_one(session, index + action->count, action))
			return;
	}

	/* the device holds the OUT transfer off while it is still busy with what it took, and
	 * takes each chunk of the transfer once it is done with the one before */
	wait_ms = cobs_proto_session_get_reply_wait_ms(session);
	for (uint32_t i = 0; i + 1 < action->count; i++)
		wait_ms +=
		    cobs_proto_session_work_ms(session, index + i) + COBS_PROTO_MESSAGE_BUS_MS;
	action->timeout_ms = wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)wait_ms;
	/* and the last of them answered */
	wait_ms += cobs_proto_session_work_ms(session, index + action->count - 1) +
		   COBS_PROTO_MESSAGE_BUS_MS;
	action->reply_timeout_ms = wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)wait_ms;
	for (uint32_t i = session->answered; i < index + action->count; i++) {
		uint64_t ms =
		    (uint64_t)cobs_proto_session_work_ms(session, i) + COBS_PROTO_MESSAGE_BUS_MS;
		if (ms > action->reply_work_max_ms)
			action->reply_work_max_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	}
}

uint32_t
cobs_proto_session_get_replies_owed(const CobsProtoSession *session)
{
	if (session->error != COBS_PROTO_ERROR_NONE || session->done)
		return 0;
	return session->sent - session->answered;
}

uint32_t
cobs_proto_session_get_reply_wait_ms(const CobsProtoSession *session)
{
	uint64_t ms = session->config.reply_slack_ms;
	for (uint32_t i = session->answered; i < session->sent; i++)
		ms += cobs_proto_session_work_ms(session, i) + COBS_PROTO_MESSAGE_BUS_MS;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* the reply to message index did not come in time, or only part of it */
static void
cobs_proto_session_fail_no_reply(CobsProtoSession *session, uint32_t index)
{
	char what[96];
	char hex[80];
	char stopped[160] = {0};
	unsigned timeout = cobs_proto_session_work_timeout(session, index);

	cobs_proto_session_describe(session, index, what, sizeof(what));
	/* a transfer the device did not take names where it stopped */
	if (session->send_timed_out && index >= session->send_timed_out_first) {
		proto_format(stopped,
			     sizeof(stopped),
			     ": the device had stopped taking %s",
			     session->send_timed_out_what);
	}
	if (session->rx_len > 0) {
		cobs_proto_hex(session->rx, session->rx_len, hex, sizeof(hex));
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_TIMEOUT,
					"incomplete reply [%s] to %s within %u ms%s",
					hex,
					what,
					timeout,
					stopped);
	} else {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_TIMEOUT,
					"no reply to %s within %u ms%s",
					what,
					timeout,
					stopped);
	}
	session->error_about_reply = true;
}

void
cobs_proto_session_next(CobsProtoSession *session, uint64_t now_ms, CobsProtoAction *action)
{
	uint64_t deadline;

	bool sending = false;

	memset(action, 0, sizeof(*action));
	if (session->error == COBS_PROTO_ERROR_NONE && !session->done &&
	    cobs_proto_session_can_send(session)) {
		cobs_proto_session_build(session, action);
		sending = true;
	}
	if (session->error != COBS_PROTO_ERROR_NONE) {
		memset(action, 0, sizeof(*action));
		action->kind = COBS_PROTO_ACTION_ERROR;
		action->error = session->error;
		action->message = session->message;
		session->action_given = false;
		return;
	}
	if (session->done) {
		action->kind = COBS_PROTO_ACTION_DONE;
		action->step = COBS_PROTO_STEP_DONE;
		session->action_given = false;
		return;
	}
	if (sending) {
		session->action_given = true;
		session->action_is_receive = false;
		session->send_count = action->count;
		return;
	}

	/* a device that did not take a transfer and answered everything before it, and as many
	 * replies again as the transfer had messages: at least one of them it never took, so it
	 * answered a message it never had */
	if (session->send_timed_out && session->answered >= session->sent) {
		cobs_proto_session_fail(
		    session,
		    COBS_PROTO_ERROR_TIMEOUT,
		    "device did not take %s in time, yet a reply came for each of "
		    "them: it sent ACKs for messages it never took",
		    session->send_timed_out_what);
		cobs_proto_session_next(session, now_ms, action);
		return;
	}

	/* wait for the reply to the message the device works on */
	action->kind = COBS_PROTO_ACTION_RECEIVE;
	action->step = cobs_proto_session_step_of(session, session->answered);
	if (action->step == COBS_PROTO_STEP_WRITE) {
		action->chunk = session->answered - 1;
		cobs_proto_session_chunk_range(session,
					       session->answered,
					       &action->image_offset,
					       &action->image_length);
	}
	deadline =
	    session->work_since_ms + cobs_proto_session_work_timeout(session, session->answered);
	/* past the deadline a reply that already came in is still taken, once: a caller that
	 * reads on another thread may not have looked while it was sending */
	if (now_ms >= deadline && session->last_look_given) {
		cobs_proto_session_fail_no_reply(session, session->answered);
		cobs_proto_session_next(session, now_ms, action);
		return;
	}
	if (now_ms >= deadline) {
		session->last_look_given = true;
		action->timeout_ms = COBS_PROTO_LAST_LOOK_MS;
	} else if (deadline - now_ms > UINT32_MAX)
		action->timeout_ms = UINT32_MAX;
	else
		action->timeout_ms = (uint32_t)(deadline - now_ms);
	session->action_given = true;
	session->action_is_receive = true;
}

static void
cobs_proto_session_check_verify(CobsProtoSession *session, const CobsProtoFrame *frame)
{
	uint32_t crc = proto_crc32(0, session->image, session->image_size);
	const uint8_t *p = frame->payload;

	session->device_count =
	    (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
	session->device_crc =
	    (uint32_t)p[5] | (uint32_t)p[6] << 8 | (uint32_t)p[7] << 16 | (uint32_t)p[8] << 24;
	if (session->device_count > session->erase_size) {
		cobs_proto_session_fail(
		    session,
		    COBS_PROTO_ERROR_VERIFY,
		    "verification failed: the device reports %u bytes stored, "
		    "more than its flash holds (%u bytes): its reply to verify is "
		    "wrong",
		    (unsigned)session->device_count,
		    (unsigned)session->erase_size);
		return;
	}
	if (session->device_count != session->image_size) {
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_VERIFY,
					"verification failed: the device stored %u bytes, the "
					"image is %u bytes",
					(unsigned)session->device_count,
					(unsigned)session->image_size);
		return;
	}
	if (session->device_crc != crc) {
		cobs_proto_session_fail(
		    session,
		    COBS_PROTO_ERROR_VERIFY,
		    "verification failed: the device computed CRC-32 0x%08x over "
		    "the %u bytes it stored, the image has 0x%08x",
		    (unsigned)session->device_crc,
		    (unsigned)session->device_count,
		    (unsigned)crc);
		return;
	}
	session->verified = true;
}

/* one complete frame, the reply to message `answered` */
static void
cobs_proto_session_reply(CobsProtoSession *session, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	CobsProtoStep step = cobs_proto_session_step_of(session, session->answered);
	CobsProtoFrame frame;
	CobsProtoError rc = COBS_PROTO_ERROR_NONE;
	char detail[256] = {0};
	char what[96];
	char hex[80];
	uint32_t next;

	cobs_proto_session_describe(session, session->answered, what, sizeof(what));
	if (session->answered >= session->sent) {
		cobs_proto_hex(buf, len, hex, sizeof(hex));
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_GARBAGE,
					"device sent [%s] with no message waiting for a reply, "
					"before %s",
					hex,
					what);
		session->error_about_reply = true;
		return;
	}
	switch (step) {
	case COBS_PROTO_STEP_ERASE:
		rc = cobs_proto_erase_ack_parse(buf,
						len,
						&session->device_caps,
						detail,
						sizeof(detail));
		if (rc == COBS_PROTO_ERROR_NONE) {
			session->device_caps_known = true;
			if (cobs_proto_session_uses_verify(session))
				session->message_count = session->chunk_count + 3;
		}
		break;
	case COBS_PROTO_STEP_VERIFY:
		rc = cobs_proto_frame_parse(buf, len, &frame, detail, sizeof(detail));
		if (rc != COBS_PROTO_ERROR_NONE)
			break;
		if (frame.control != COBS_PROTO_CONTROL_ACK ||
		    frame.payload_len != COBS_PROTO_VERIFY_REPLY_PAYLOAD ||
		    frame.payload[0] != COBS_PROTO_CONTROL_VERIFY) {
			char why[128] = {0};
			cobs_proto_hex(buf, len, hex, sizeof(hex));
			/* ACKs carry no sequence number: one too many before it, and the ACK
			 * of the last chunk comes where the CRC reply was due */
			if (frame.control == COBS_PROTO_CONTROL_ACK && frame.payload_len == 0) {
				proto_format(why,
					     sizeof(why),
					     ": a plain ACK there means it sent more ACKs "
					     "than it was sent messages (one for a message "
					     "never sent, or two for one)");
			} else if (frame.control == COBS_PROTO_CONTROL_ACK &&
				   frame.payload[0] == COBS_PROTO_CONTROL_VERIFY) {
				proto_format(why,
					     sizeof(why),
					     ": a CRC reply of %u bytes, not %u",
					     (unsigned)frame.payload_len,
					     (unsigned)COBS_PROTO_VERIFY_REPLY_PAYLOAD);
			}
			proto_format(detail,
				     sizeof(detail),
				     "[%s] instead of the CRC reply [06 COBS(05 count[4] "
				     "crc[4]) 00] the device announced%s",
				     hex,
				     why);
			rc = COBS_PROTO_ERROR_NOT_ACK;
			break;
		}
		cobs_proto_session_check_verify(session, &frame);
		if (session->error != COBS_PROTO_ERROR_NONE)
			return;
		break;
	default:
		rc = cobs_proto_ack_parse(buf, len, detail, sizeof(detail));
		break;
	}
	if (rc == COBS_PROTO_ERROR_GARBAGE) {
		cobs_proto_session_fail(session,
					rc,
					"device sent garbage in reply to %s: %s",
					what,
					detail);
		session->error_about_reply = true;
		return;
	}
	if (rc != COBS_PROTO_ERROR_NONE) {
		cobs_proto_session_fail(session, rc, "device answered %s with %s", what, detail);
		session->error_about_reply = true;
		return;
	}

	/* the device starts on the next message once it has taken it and replied to this */
	session->answered++;
	session->last_look_given = false;
	next = session->answered;
	if (next < session->sent) {
		uint64_t taken = session->send_done_ms[next % COBS_PROTO_SEND_TIMES];
		session->work_since_ms = taken > now_ms ? taken : now_ms;
	}
	if (session->answered >= session->message_count)
		session->done = true;
}

/* bytes after the reply to bye: a frame there answers no message. Bytes without an end
 * marker (text a firmware logs) are no reply and are let go. */
static void
cobs_proto_session_after_bye(CobsProtoSession *session, const uint8_t *buf, size_t len)
{
	char hex[80];

	for (size_t i = 0; i < len && session->error == COBS_PROTO_ERROR_NONE; i++) {
		if (session->rx_len >= sizeof(session->rx))
			session->rx_len = 0;
		session->rx[session->rx_len++] = buf[i];
		if (buf[i] != COBS_PROTO_FRAME_END)
			continue;
		cobs_proto_hex(session->rx, session->rx_len, hex, sizeof(hex));
		cobs_proto_session_fail(
		    session,
		    COBS_PROTO_ERROR_NOT_ACK,
		    "device sent [%s] after its reply to bye: it sent more "
		    "replies than it was sent messages (an ACK for a message "
		    "never sent, or two for one), and replies carry no sequence "
		    "number, so which messages it acknowledged is not known: "
		    "replug it and install again",
		    hex);
		session->error_about_reply = true;
	}
}

void
cobs_proto_session_feed_after_bye(CobsProtoSession *session, const uint8_t *buf, size_t len)
{
	if (session == NULL || buf == NULL || !session->done || session->bye_unanswered ||
	    session->error != COBS_PROTO_ERROR_NONE)
		return;
	cobs_proto_session_after_bye(session, buf, len);
}

bool
cobs_proto_session_get_reply_partial(const CobsProtoSession *session)
{
	return session->error == COBS_PROTO_ERROR_NONE && !session->done && session->rx_len > 0;
}

/* the messages of the SEND last given were taken by now_ms, maybe earlier: their timeouts run
 * from the later time */
static void
cobs_proto_session_mark_sent(CobsProtoSession *session, uint64_t now_ms)
{
	if (session->answered == session->sent)
		session->work_since_ms = now_ms;
	for (uint32_t i = 0; i < session->send_count; i++) {
		session->send_done_ms[session->sent % COBS_PROTO_SEND_TIMES] = now_ms;
		session->sent++;
	}
}

void
cobs_proto_session_feed(CobsProtoSession *session,
			ProtoIo result,
			const uint8_t *buf,
			size_t len,
			uint64_t now_ms)
{
	char what[96];
	char hex[80];
	uint32_t index;

	if (!session->action_given || session->error != COBS_PROTO_ERROR_NONE || session->done)
		return;
	session->action_given = false;
	index = session->action_is_receive ? session->answered : session->sent;
	cobs_proto_session_describe_count(session,
					  index,
					  session->action_is_receive ? 1 : session->send_count,
					  what,
					  sizeof(what));

	/* a device that resets into its new image on bye may leave before it answers */
	if (result == PROTO_IO_NO_DEVICE && session->action_is_receive &&
	    cobs_proto_session_step_of(session, index) == COBS_PROTO_STEP_BYE) {
		session->bye_unanswered = true;
		session->answered++;
		session->done = true;
		return;
	}
	switch (result) {
	case PROTO_IO_OK:
		break;
	case PROTO_IO_TIMEOUT:
		if (session->action_is_receive) {
			cobs_proto_session_fail_no_reply(session, index);
		} else if (session->answered < session->sent || session->send_count > 1) {
			/* the device stopped somewhere before the end of this transfer: the replies
			 * to what it took come first, and the first one missing names the message
			 * it stopped at; the chunks of the transfer count as sent for that */
			session->send_timed_out = true;
			session->send_timed_out_first = session->sent;
			proto_format(session->send_timed_out_what,
				     sizeof(session->send_timed_out_what),
				     "%s",
				     what);
			cobs_proto_session_mark_sent(session, now_ms);
		} else {
			cobs_proto_session_fail(session,
						COBS_PROTO_ERROR_TIMEOUT,
						"device did not take %s in time",
						what);
		}
		return;
	case PROTO_IO_NO_DEVICE:
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_NO_DEVICE,
					"device disconnected during %s",
					what);
		return;
	default:
		cobs_proto_session_fail(session,
					COBS_PROTO_ERROR_IO,
					"USB transfer failed during %s",
					what);
		return;
	}

	if (!session->action_is_receive) {
		cobs_proto_session_mark_sent(session, now_ms);
		return;
	}

	/* reassemble frames: a read may hold part of one, or several */
	for (size_t i = 0; i < len && session->error == COBS_PROTO_ERROR_NONE; i++) {
		/* a reply after bye's answers no message */
		if (session->done) {
			cobs_proto_session_after_bye(session, buf + i, len - i);
			return;
		}
		session->rx[session->rx_len++] = buf[i];
		if (buf[i] == COBS_PROTO_FRAME_END) {
			cobs_proto_session_reply(session, session->rx, session->rx_len, now_ms);
			session->rx_len = 0;
			continue;
		}
		/* a whole message's worth of bytes and no end marker: no frame can end here, so
		 * waiting for the next read would only turn garbage into a timeout */
		if (session->rx_len >= sizeof(session->rx)) {
			cobs_proto_hex(session->rx, session->rx_len, hex, sizeof(hex));
			cobs_proto_session_describe(session, session->answered, what, sizeof(what));
			cobs_proto_session_fail(session,
						COBS_PROTO_ERROR_GARBAGE,
						"device sent garbage in reply to %s: [%s] with no "
						"end marker within %u bytes",
						what,
						hex,
						(unsigned)COBS_PROTO_MESSAGE_MAX);
			session->error_about_reply = true;
			return;
		}
	}
}

void
cobs_proto_session_get_progress(const CobsProtoSession *session,
				CobsProtoStep *step,
				uint32_t *bytes_done,
				uint32_t *bytes_total)
{
	uint32_t chunks_done = 0;
	uint64_t done;

	if (session->answered > 1)
		chunks_done = session->answered - 1;
	if (chunks_done > session->chunk_count)
		chunks_done = session->chunk_count;
	done = (uint64_t)chunks_done * COBS_PROTO_CHUNK_MAX;
	if (done > session->image_size)
		done = session->image_size;
	if (step != NULL)
		*step = session->done ? COBS_PROTO_STEP_DONE
				      : cobs_proto_session_step_of(session, session->answered);
	if (bytes_done != NULL)
		*bytes_done = (uint32_t)done;
	if (bytes_total != NULL)
		*bytes_total = session->image_size;
}

bool
cobs_proto_session_get_device_caps(const CobsProtoSession *session, uint8_t *caps)
{
	if (caps != NULL)
		*caps = session->device_caps;
	return session->device_caps_known;
}

bool
cobs_proto_session_get_verified(const CobsProtoSession *session)
{
	return session->verified;
}

bool
cobs_proto_session_get_bye_unanswered(const CobsProtoSession *session)
{
	return session->bye_unanswered;
}

bool
cobs_proto_session_get_error_about_reply(const CobsProtoSession *session)
{
	return session->error != COBS_PROTO_ERROR_NONE && session->error_about_reply;
}
