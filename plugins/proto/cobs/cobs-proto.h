/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Sans-IO core of the COBS-framed bulk bootloader protocol (plugins/cobs/README.md): COBS
 * encoding, message building, reply parsing and an update session (erase, write chunks,
 * optional CRC-32 verification, bye) that says which bytes to send or how long to wait for
 * a reply, and consumes what came back. No allocation, no I/O, no clock reads, no sleeping:
 * the caller owns all of that and passes the time in.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto-crc32.h"
#include "proto-io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire constants ---- */

/* a message is a control byte, the COBS-encoded payload and the 0x00 end marker */
#define COBS_PROTO_MESSAGE_MAX 64
#define COBS_PROTO_CHUNK_MAX   61 /* 1 + (61 + 1 COBS code byte) + 1 = 64 */
#define COBS_PROTO_FRAME_END   0x00

#define COBS_PROTO_CONTROL_WRITE_MORE 0x01 /* write chunk, more follow */
#define COBS_PROTO_CONTROL_WRITE_LAST 0x02 /* last write chunk */
#define COBS_PROTO_CONTROL_ERASE      0x03 /* no payload */
#define COBS_PROTO_CONTROL_BYE	      0x04 /* no payload */
#define COBS_PROTO_CONTROL_VERIFY     0x05 /* extension: only to a device that announced it */
#define COBS_PROTO_CONTROL_ACK	      0x06
#define COBS_PROTO_CONTROL_VERSION    0x07 /* extension: only to a device that announced it */

/*
 * The verification extension (README.md of the cobs plugin). A device announces it in its
 * reply to erase, the one reply every update starts with, so the host never sends anything
 * new to a device that has not asked for it:
 *   plain ACK:    06 00
 *   extended ACK: 06 COBS(01 caps [more bytes a later version may add]) 00
 * caps bit 0 says the device answers VERIFY (05 00, sent after the last chunk's ACK) with
 *   06 COBS(05 count[4] crc[4]) 00
 * count and crc little endian: the number of payload bytes the device stored since the erase
 * and their CRC-32 (IEEE 802.3, as zlib's crc32()).
 */
#define COBS_PROTO_EXTENSION_VERSION	1
#define COBS_PROTO_CAP_VERIFY_CRC32	(1u << 0)
#define COBS_PROTO_VERIFY_REPLY_PAYLOAD 9

/*
 * caps bit 1 says the device answers the VERSION query (07 00) at any time in its bootloader
 * with the version word of the image it holds, little endian, all ones for none it would
 * start:
 *   06 COBS(07 version[4]) 00
 */
#define COBS_PROTO_CAP_VERSION		 (1u << 1)
#define COBS_PROTO_VERSION_REPLY_PAYLOAD 5
#define COBS_PROTO_VERSION_NONE		 0xFFFFFFFFu

/* ---- errors ---- */

typedef enum {
	COBS_PROTO_ERROR_NONE = 0,
	COBS_PROTO_ERROR_INVALID_ARGUMENT, /* caller misuse: bad size, bad configuration */
	COBS_PROTO_ERROR_NO_SPACE,	   /* the output buffer is too small */
	COBS_PROTO_ERROR_MALFORMED,	   /* not valid COBS: a zero inside, a block past the end */
	COBS_PROTO_ERROR_GARBAGE,	   /* the device sent bytes that are no frame */
	COBS_PROTO_ERROR_NOT_ACK,	   /* the device sent a frame, but not the ACK expected */
	COBS_PROTO_ERROR_TIMEOUT,	   /* the device did not answer or take a message in time */
	COBS_PROTO_ERROR_NO_DEVICE,	   /* the device went away */
	COBS_PROTO_ERROR_IO,		   /* the transfer failed otherwise */
	COBS_PROTO_ERROR_VERIFY, /* the device's CRC or byte count differs from the image */
} CobsProtoError;

const char *
cobs_proto_error_to_string(CobsProtoError error);

/* ---- COBS ---- */

/* the largest encoding of len bytes: one code byte per 254 bytes, at least one */
size_t
cobs_proto_encoded_size_max(size_t len);

/*
 * Encodes src into dst without the 0x00 end marker. An empty input encodes to the single
 * byte 01. Fails with NO_SPACE when dst cannot hold the result.
 */
CobsProtoError
cobs_proto_encode(const uint8_t *src,
		  size_t src_len,
		  uint8_t *dst,
		  size_t dst_size,
		  size_t *dst_len);

/*
 * Decodes one COBS block (without its end marker). Rejects an empty input, a zero byte
 * anywhere, a code byte whose block runs past the end (MALFORMED) and a result larger than
 * dst (NO_SPACE). A trailing 01 block after a full 0xFF block is accepted, as some encoders
 * write it.
 */
CobsProtoError
cobs_proto_decode(const uint8_t *src,
		  size_t src_len,
		  uint8_t *dst,
		  size_t dst_size,
		  size_t *dst_len);

/* ---- messages ---- */

/*
 * Builds control byte, COBS(payload), 0x00 into buf. A message without payload is the two
 * bytes control 00, as the ACK is. At most COBS_PROTO_CHUNK_MAX payload bytes; control
 * must not be 0x00.
 */
CobsProtoError
cobs_proto_message_build(uint8_t control,
			 const uint8_t *payload,
			 size_t payload_len,
			 uint8_t *buf,
			 size_t buf_size,
			 size_t *len);

typedef struct {
	uint8_t control;
	uint8_t payload[COBS_PROTO_MESSAGE_MAX];
	size_t payload_len;
} CobsProtoFrame;

/*
 * Parses one complete frame (control byte ... 0x00, at most COBS_PROTO_MESSAGE_MAX bytes).
 * msg (may be NULL) receives a sentence on failure.
 */
CobsProtoError
cobs_proto_frame_parse(const uint8_t *buf,
		       size_t len,
		       CobsProtoFrame *frame,
		       char *msg,
		       size_t msg_size);

/*
 * A reply that must be the plain ACK 06 00 exactly; anything else fails with a message
 * that shows the bytes that came.
 */
CobsProtoError
cobs_proto_ack_parse(const uint8_t *buf, size_t len, char *msg, size_t msg_size);

/*
 * The reply to erase: the plain ACK (caps 0) or the extended ACK of the verification
 * extension (caps from the device).
 */
CobsProtoError
cobs_proto_erase_ack_parse(const uint8_t *buf,
			   size_t len,
			   uint8_t *caps,
			   char *msg,
			   size_t msg_size);

/* the reply to the version query: the version word of the image the device holds */
CobsProtoError
cobs_proto_version_reply_parse(const uint8_t *buf,
			       size_t len,
			       uint32_t *version,
			       char *msg,
			       size_t msg_size);

/* ---- timing ---- */

/*
 * What the caller knows about the device, all from its quirks. The defaults are the
 * stm32h7-cobs profile (STM32H743 datasheet flash table): 128 KiB sectors erased in at
 * most 2 s each, 32-byte flash words programmed in at most 200 us each.
 */
typedef struct {
	uint32_t sector_size;	      /* bytes in an erase sector */
	uint32_t sector_erase_ms;     /* worst-case erase time of one sector */
	uint32_t word_size;	      /* bytes the flash programs at once */
	uint32_t word_program_us;     /* worst-case program time of one word */
	uint32_t reply_slack_ms;      /* added to every step's work: bus, scheduling */
	uint32_t verify_bytes_per_ms; /* slowest CRC-32 rate a device may compute at */
	uint8_t queue_depth;	      /* chunks sent ahead of the one the device works on */
	uint8_t batch_max;	      /* chunks one bulk OUT transfer carries (queue_depth > 0) */
	bool use_verify;	      /* verify when the device announces the extension */
} CobsProtoConfig;

#define COBS_PROTO_DEFAULT_SECTOR_SIZE	   (128u * 1024u)
#define COBS_PROTO_DEFAULT_SECTOR_ERASE_MS 2000u
#define COBS_PROTO_DEFAULT_WORD_SIZE	   32u
#define COBS_PROTO_DEFAULT_WORD_PROGRAM_US 200u
/*
 * A full-speed bulk round trip is about 1 ms; the slack absorbs host scheduling and a busy
 * USB, and bounds how long a device that has stopped answering holds the update up.
 */
#define COBS_PROTO_DEFAULT_REPLY_SLACK_MS 1000u
/* a table-less CRC-32 on a 64 MHz Cortex-M7 runs at several MB/s: 1 MB/s is a floor */
#define COBS_PROTO_DEFAULT_VERIFY_BYTES_PER_MS 1024u
/*
 * One chunk queued behind the one being written: a USB bulk OUT endpoint NAKs until the
 * firmware re-arms it, so a device with one receive buffer holds the queued chunk off the
 * bus until it is ready for it, and starts on it the moment the previous ACK is out.
 */
#define COBS_PROTO_DEFAULT_QUEUE_DEPTH 1u
#define COBS_PROTO_QUEUE_DEPTH_MAX     4u
/*
 * Chunks in one bulk OUT transfer. A full chunk is exactly one 64-byte packet, so a transfer
 * of several full chunks (the image's last chunk, maybe short, only at its end) puts the same
 * packets on the wire as one transfer each; the device's flow control holds each packet off
 * the bus until it has a free buffer, exactly as it holds off a transfer. What changes is the
 * host: it has the next packets waiting at the bus instead of submitting each after the
 * previous completed, which on full speed costs a frame per chunk. Only for devices with
 * flow control (queue_depth > 0); 32 chunks is 2 KiB, about 34 ms of bus time.
 */
#define COBS_PROTO_DEFAULT_BATCH_MAX 32u
#define COBS_PROTO_BATCH_MAX	     32u
/* the wait for a reply whose deadline has passed: one that already came in is taken */
#define COBS_PROTO_LAST_LOOK_MS 1u
/* bus time and host scheduling allowed to each message a reply waits behind */
#define COBS_PROTO_MESSAGE_BUS_MS 2u

void
cobs_proto_config_init(CobsProtoConfig *config);

/* how long erasing erase_size bytes may take the device, slack included */
uint32_t
cobs_proto_erase_timeout_ms(const CobsProtoConfig *config, uint32_t erase_size);
/* how long storing the chunk at image offset offset, length len, may take, slack included */
uint32_t
cobs_proto_chunk_timeout_ms(const CobsProtoConfig *config, uint32_t offset, uint32_t len);
/* how long computing the CRC-32 of image_size bytes may take, slack included */
uint32_t
cobs_proto_verify_timeout_ms(const CobsProtoConfig *config, uint32_t image_size);

/* ---- the update session ---- */

typedef enum {
	COBS_PROTO_ACTION_SEND,	   /* bulk OUT action.bytes (action.count messages), allowing
				      action.timeout_ms */
	COBS_PROTO_ACTION_RECEIVE, /* bulk IN up to 64 bytes, waiting action.timeout_ms */
	COBS_PROTO_ACTION_DONE,
	COBS_PROTO_ACTION_ERROR, /* action.error, action.message */
} CobsProtoActionKind;

typedef enum {
	COBS_PROTO_STEP_ERASE,
	COBS_PROTO_STEP_WRITE,
	COBS_PROTO_STEP_VERIFY,
	COBS_PROTO_STEP_BYE,
	COBS_PROTO_STEP_DONE,
} CobsProtoStep;

const char *
cobs_proto_step_to_string(CobsProtoStep step);

typedef struct {
	CobsProtoActionKind kind;
	/* SEND: the messages, one after the other; for chunks also their place in the image */
	uint8_t bytes[COBS_PROTO_MESSAGE_MAX * COBS_PROTO_BATCH_MAX];
	size_t length;
	uint32_t count;	    /* SEND: messages in bytes; every one but the last is 64 bytes */
	CobsProtoStep step; /* SEND, RECEIVE: the step of the message sent or answered */
	uint32_t chunk;	    /* WRITE: 0-based index of the (first) chunk */
	uint32_t image_offset;
	uint32_t image_length;
	uint32_t timeout_ms;
	/* SEND: how long a read started now may wait for the last reply once this is taken */
	uint32_t reply_timeout_ms;
	/* SEND: the longest work of one message owed once this is taken, bus time included */
	uint32_t reply_work_max_ms;
	/* ERROR */
	CobsProtoError error;
	const char *message; /* points into the session */
} CobsProtoAction;

/* message indexes: 0 erase, 1..chunk_count the chunks, then verify (if used), then bye;
 * at most queue_depth + 2 * batch_max - 1 of them are unanswered at once */
#define COBS_PROTO_SEND_TIMES (COBS_PROTO_QUEUE_DEPTH_MAX + 2u * COBS_PROTO_BATCH_MAX)

typedef struct {
	CobsProtoConfig config;
	const uint8_t *image;
	uint32_t image_size;
	uint32_t erase_size;
	uint32_t chunk_count;
	uint32_t message_count; /* known once the erase reply tells whether verify is used */
	uint32_t sent;		/* messages the device has taken */
	uint32_t answered;	/* messages the device has answered */
	uint64_t send_done_ms[COBS_PROTO_SEND_TIMES];
	uint64_t work_since_ms; /* when the device started on message `answered` */
	bool action_is_receive; /* what the last next() asked the caller to do */
	bool action_given;
	uint32_t send_count; /* messages in the SEND last given */
	/* a SEND that timed out while replies were owed: reported once those came, unless one
	 * of them did not (which says better where the device stopped) */
	bool send_timed_out;
	uint32_t send_timed_out_first; /* index of its first message */
	char send_timed_out_what[96];
	bool last_look_given;	/* the reply to `answered` was looked for past its deadline */
	bool error_about_reply; /* the error is about a reply (or its absence), not a send */
	bool device_caps_known;
	uint8_t device_caps;
	bool verified;
	bool bye_unanswered; /* the device went away after bye instead of answering */
	uint32_t device_count;
	uint32_t device_crc;
	uint8_t rx[COBS_PROTO_MESSAGE_MAX];
	size_t rx_len;
	bool done;
	CobsProtoError error;
	char message[384];
} CobsProtoSession;

/*
 * Starts an update of image (image_size bytes, kept alive by the caller until the end) on a
 * device whose erase command clears erase_size bytes. The erase carries no length, so the
 * device clears what it always clears: its whole application flash, not just the image.
 * On failure the session reports the error as its first action too.
 */
CobsProtoError
cobs_proto_session_start(CobsProtoSession *session,
			 const CobsProtoConfig *config,
			 const uint8_t *image,
			 uint32_t image_size,
			 uint32_t erase_size);

/*
 * The next thing to do. Called again without a feed, it returns the same action (a RECEIVE
 * with the timeout shrunk by the time that passed).
 */
void
cobs_proto_session_next(CobsProtoSession *session, uint64_t now_ms, CobsProtoAction *action);

/*
 * The outcome of the last action: for SEND whether the device took the bytes, for RECEIVE
 * the bytes that came (any number: frames are reassembled across reads, several frames in
 * one read are taken in order).
 */
void
cobs_proto_session_feed(CobsProtoSession *session,
			ProtoIo result,
			const uint8_t *buf,
			size_t len,
			uint64_t now_ms);

/*
 * Replies the device owes: messages it has taken and not answered yet. A caller that reads
 * on another thread keeps this many reads going, so that a reply is on its way in while the
 * next chunk goes out.
 */
uint32_t
cobs_proto_session_get_replies_owed(const CobsProtoSession *session);

/*
 * How long a read started now may have to wait for the last reply the device owes: the
 * worst-case work and bus time of every message it has taken and not answered, plus the
 * slack.
 */
uint32_t
cobs_proto_session_get_reply_wait_ms(const CobsProtoSession *session);

/* bytes of the image the device has acknowledged, of image_size */
void
cobs_proto_session_get_progress(const CobsProtoSession *session,
				CobsProtoStep *step,
				uint32_t *bytes_done,
				uint32_t *bytes_total);

/* what the device announced in its erase reply; FALSE before that reply */
bool
cobs_proto_session_get_device_caps(const CobsProtoSession *session, uint8_t *caps);

/* TRUE once the device's CRC-32 and byte count matched the image */
bool
cobs_proto_session_get_verified(const CobsProtoSession *session);

/* TRUE when the device went away after bye without answering it (it started the image) */
bool
cobs_proto_session_get_bye_unanswered(const CobsProtoSession *session);

/*
 * TRUE when the session failed on a reply: a wrong or broken one, or none. A caller whose
 * replies can arrive out of order says so with such an error.
 */
bool
cobs_proto_session_get_error_about_reply(const CobsProtoSession *session);

/*
 * Bytes the device sent after its reply to bye, read once the session was done (reads that
 * were still going, a read to see whether the device leaves). A frame there answers no
 * message: the device sent more replies than it was sent messages, so bye's reply may have
 * been a chunk's, and the session fails (next() gives the error). Bytes without an end
 * marker, text a firmware logs, are let go. The same holds for bytes after bye's reply in the
 * read that brought it.
 */
void
cobs_proto_session_feed_after_bye(CobsProtoSession *session, const uint8_t *buf, size_t len);

/*
 * TRUE when the bytes read so far end inside a frame: the device split a reply across reads.
 * A caller that reads several at once can only keep such bytes in order one read at a time.
 */
bool
cobs_proto_session_get_reply_partial(const CobsProtoSession *session);

#ifdef __cplusplus
}
#endif
