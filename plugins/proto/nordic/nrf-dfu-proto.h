/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Sans-IO core of Nordic's nRF5 SDK Secure DFU protocol: request encoding, response decoding,
 * and the object transfer of one image (init packet, then firmware) as a session that says which
 * unframed request to send next, on which channel, and consumes the responses the device
 * answered. SLIP, the framing of the serial transports (UART and USB CDC ACM), is a wrapper the
 * caller applies on those links only (nrf_dfu_proto_serial_encode(), nrf_dfu_proto_serial_feed()).
 * No allocation, no I/O, no clock reads, no sleeping: the caller owns all of that.
 *
 * Sources, cited where a fact is used: the nRF5 SDK v16/v17 bootloader
 * (components/libraries/bootloader/dfu/nrf_dfu_req_handler.c, nrf_dfu_types.h,
 * serial_dfu/nrf_dfu_serial.c, nrf_dfu_serial_uart.c, ble_dfu/nrf_dfu_ble.c) and pc-nrfutil
 * (nordicsemi/dfu/dfu_transport_serial.py, dfu_transport_ble.py).
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

/* ---- constants (nrf_dfu_types.h / nrf_dfu_req_handler.h) ---- */

typedef enum {
	NRF_DFU_PROTO_OP_PROTOCOL_VERSION = 0x00,
	NRF_DFU_PROTO_OP_CREATE = 0x01,
	NRF_DFU_PROTO_OP_PRN_SET = 0x02,
	NRF_DFU_PROTO_OP_CRC_GET = 0x03,
	NRF_DFU_PROTO_OP_EXECUTE = 0x04,
	NRF_DFU_PROTO_OP_SELECT = 0x06,
	NRF_DFU_PROTO_OP_MTU_GET = 0x07,
	NRF_DFU_PROTO_OP_WRITE = 0x08,
	NRF_DFU_PROTO_OP_PING = 0x09,
	NRF_DFU_PROTO_OP_HW_VERSION = 0x0A,
	NRF_DFU_PROTO_OP_FW_VERSION = 0x0B,
	NRF_DFU_PROTO_OP_ABORT = 0x0C,
	NRF_DFU_PROTO_OP_RESPONSE = 0x60,
} NrfDfuProtoOp;

typedef enum {
	NRF_DFU_PROTO_OBJECT_COMMAND = 0x01,
	NRF_DFU_PROTO_OBJECT_DATA = 0x02,
} NrfDfuProtoObject;

typedef enum {
	NRF_DFU_PROTO_RESULT_INVALID = 0x00,
	NRF_DFU_PROTO_RESULT_SUCCESS = 0x01,
	NRF_DFU_PROTO_RESULT_OP_NOT_SUPPORTED = 0x02,
	NRF_DFU_PROTO_RESULT_INVALID_PARAMETER = 0x03,
	NRF_DFU_PROTO_RESULT_INSUFFICIENT_RESOURCES = 0x04,
	NRF_DFU_PROTO_RESULT_INVALID_OBJECT = 0x05,
	NRF_DFU_PROTO_RESULT_UNSUPPORTED_TYPE = 0x07,
	NRF_DFU_PROTO_RESULT_NOT_PERMITTED = 0x08,
	NRF_DFU_PROTO_RESULT_OPERATION_FAILED = 0x0A,
	NRF_DFU_PROTO_RESULT_EXT_ERROR = 0x0B,
} NrfDfuProtoResult;

typedef enum {
	NRF_DFU_PROTO_EXT_NO_ERROR = 0x00,
	NRF_DFU_PROTO_EXT_INVALID_ERROR_CODE = 0x01,
	NRF_DFU_PROTO_EXT_WRONG_COMMAND_FORMAT = 0x02,
	NRF_DFU_PROTO_EXT_UNKNOWN_COMMAND = 0x03,
	NRF_DFU_PROTO_EXT_INIT_COMMAND_INVALID = 0x04,
	NRF_DFU_PROTO_EXT_FW_VERSION_FAILURE = 0x05,
	NRF_DFU_PROTO_EXT_HW_VERSION_FAILURE = 0x06,
	NRF_DFU_PROTO_EXT_SD_VERSION_FAILURE = 0x07,
	NRF_DFU_PROTO_EXT_SIGNATURE_MISSING = 0x08,
	NRF_DFU_PROTO_EXT_WRONG_HASH_TYPE = 0x09,
	NRF_DFU_PROTO_EXT_HASH_FAILED = 0x0A,
	NRF_DFU_PROTO_EXT_WRONG_SIGNATURE_TYPE = 0x0B,
	NRF_DFU_PROTO_EXT_VERIFICATION_FAILED = 0x0C,
	NRF_DFU_PROTO_EXT_INSUFFICIENT_SPACE = 0x0D,
} NrfDfuProtoExtError;

/* the firmware type of a FW version reply (nrf_dfu_firmware_type_t) */
typedef enum {
	NRF_DFU_PROTO_FW_TYPE_SOFTDEVICE = 0x00,
	NRF_DFU_PROTO_FW_TYPE_APPLICATION = 0x01,
	NRF_DFU_PROTO_FW_TYPE_BOOTLOADER = 0x02,
	NRF_DFU_PROTO_FW_TYPE_UNKNOWN = 0xFF,
} NrfDfuProtoFwType;

/* FW version image numbers: the bootloader is always 0, the SoftDevice 1 when present */
#define NRF_DFU_PROTO_IMAGE_BOOTLOADER	0
#define NRF_DFU_PROTO_IMAGE_SOFTDEVICE	1
#define NRF_DFU_PROTO_IMAGE_APPLICATION 2

/* "opcode 0x06", "SELECT" */
const char *
nrf_dfu_proto_op_to_string(unsigned op);
/* "operation not permitted" */
const char *
nrf_dfu_proto_result_to_string(unsigned result);
/* "hardware version mismatch" */
const char *
nrf_dfu_proto_ext_error_to_string(unsigned ext_error);
/* a sentence for the user saying what the device refused and what to do about it */
const char *
nrf_dfu_proto_result_to_message(unsigned result, unsigned ext_error);

/* ---- SLIP (RFC 1055 as the SDK's slip.c and pc-nrfutil's Slip class use it) ---- */

#define NRF_DFU_PROTO_SLIP_END	   0xC0
#define NRF_DFU_PROTO_SLIP_ESC	   0xDB
#define NRF_DFU_PROTO_SLIP_ESC_END 0xDC
#define NRF_DFU_PROTO_SLIP_ESC_ESC 0xDD

/* bytes @len bytes take once encoded, END included */
size_t
nrf_dfu_proto_slip_encoded_size(const uint8_t *buf, size_t len);

/*
 * Encodes @buf followed by one END into @out. No leading END is sent: the SDK's decoder
 * treats an END with nothing before it as an empty request (pc-nrf-dfu-js strips the leading
 * END its SLIP library adds for that reason). Returns the encoded length, or 0 if it does not
 * fit in @out_size.
 */
size_t
nrf_dfu_proto_slip_encode(const uint8_t *buf, size_t len, uint8_t *out, size_t out_size);

typedef enum {
	NRF_DFU_PROTO_SLIP_STATE_DECODING = 0,
	NRF_DFU_PROTO_SLIP_STATE_ESCAPE,
	NRF_DFU_PROTO_SLIP_STATE_DISCARD, /* bad escape or overflow: drop until the next END */
} NrfDfuProtoSlipState;

/* responses are at most 3 + 20 bytes (HW version); 64 leaves room for any reply we know */
#define NRF_DFU_PROTO_SLIP_RX_MAX 64

typedef struct {
	NrfDfuProtoSlipState state;
	uint8_t buf[NRF_DFU_PROTO_SLIP_RX_MAX];
	size_t len;
	bool frame_ready;	   /* buf holds a frame handed out by the last feed */
	unsigned frames_discarded; /* bad escapes and oversized frames */
} NrfDfuProtoSlipDecoder;

void
nrf_dfu_proto_slip_decoder_init(NrfDfuProtoSlipDecoder *dec);

/*
 * Feeds bytes until one frame is complete. Returns true when a non-empty frame is in
 * dec->buf[0 .. dec->len]; *consumed says how many bytes were used, the rest belong to the
 * next frame. Empty frames (END END) are skipped. A bad escape or a frame longer than the
 * buffer is discarded up to the next END and counted. The next call starts a new frame.
 */
bool
nrf_dfu_proto_slip_decoder_feed(NrfDfuProtoSlipDecoder *dec,
				const uint8_t *buf,
				size_t len,
				size_t *consumed);

/* ---- channels ---- */

/*
 * Where a request goes: the SDK's BLE transport has two characteristics, the control point for
 * requests (answered by its notifications) and the packet characteristic for object data
 * (nrf_dfu_ble.c); its serial transport carries both in one SLIP stream, object data as the
 * WRITE request (opcode 0x08) with the data as its payload (nrf_dfu_serial.c).
 */
typedef enum {
	NRF_DFU_PROTO_CHANNEL_CONTROL = 0, /* a request, answered by a response */
	NRF_DFU_PROTO_CHANNEL_PACKET,	   /* object data, never answered */
} NrfDfuProtoChannel;

/* ---- requests ---- */

typedef struct {
	NrfDfuProtoOp op;
	uint8_t object_type; /* CREATE, SELECT */
	uint32_t size;	     /* CREATE */
	uint16_t prn;	     /* PRN_SET */
	uint8_t ping_id;     /* PING */
	uint8_t image;	     /* FW_VERSION */
	const uint8_t *data; /* WRITE */
	size_t data_len;     /* WRITE */
} NrfDfuProtoRequest;

/* the unframed request: opcode then little-endian payload; 0 if it does not fit */
size_t
nrf_dfu_proto_request_encode(const NrfDfuProtoRequest *req, uint8_t *out, size_t out_size);

/* ---- responses ---- */

typedef struct {
	uint8_t request_op; /* the opcode this answers; CRC_GET for a PRN notification */
	uint8_t result;	    /* NrfDfuProtoResult */
	uint8_t ext_error;  /* NrfDfuProtoExtError when result is EXT_ERROR */
	union {
		uint8_t protocol_version;
		struct {
			uint32_t max_size;
			uint32_t offset;
			uint32_t crc;
		} select;
		struct {
			uint32_t offset;
			uint32_t crc;
		} crc;
		uint16_t mtu;
		uint8_t ping_id;
		struct {
			uint32_t part;
			uint32_t variant;
			uint32_t rom_size;
			uint32_t ram_size;
			uint32_t rom_page_size;
		} hw;
		struct {
			uint8_t type; /* NrfDfuProtoFwType */
			uint32_t version;
			uint32_t addr;
			uint32_t len;
		} fw;
	};
} NrfDfuProtoResponse;

typedef enum {
	NRF_DFU_PROTO_ERROR_NONE = 0,
	NRF_DFU_PROTO_ERROR_INVALID_ARGUMENT, /* caller misuse */
	NRF_DFU_PROTO_ERROR_REPLY,	      /* malformed or unexpected reply */
	NRF_DFU_PROTO_ERROR_DEVICE,	      /* the device answered with an error result */
	NRF_DFU_PROTO_ERROR_NOT_SUPPORTED,    /* the device does not know the opcode */
	NRF_DFU_PROTO_ERROR_TIMEOUT,	      /* no answer within the step's bound */
	NRF_DFU_PROTO_ERROR_IO,		      /* the transport failed */
	NRF_DFU_PROTO_ERROR_NO_DEVICE,	      /* the device went away */
	NRF_DFU_PROTO_ERROR_CRC,	      /* CRC or offset kept disagreeing after retries */
	NRF_DFU_PROTO_ERROR_TOO_LARGE, /* init packet or image larger than the device takes */
} NrfDfuProtoError;

/*
 * Decodes an unframed response: 0x60, request opcode, result, then the payload of exactly the
 * length that opcode's success reply has (nrf_dfu_serial.c response_send), or one extended
 * error byte. A CRC_GET reply is also what a PRN notification looks like.
 */
NrfDfuProtoError
nrf_dfu_proto_response_decode(const uint8_t *buf, size_t len, NrfDfuProtoResponse *out);

/* ---- timing: bounds for the caller to apply, never sleeps ---- */

/* a reply to a request that needs no flash work (pc-nrfutil waits 1.0 s a read) */
#define NRF_DFU_PROTO_TIMEOUT_REPLY_MS 1000
/* nRF52840 product specification: tERASEPAGE 85 ms for one 4 KiB page */
#define NRF_DFU_PROTO_PAGE_ERASE_MS 85
#define NRF_DFU_PROTO_PAGE_SIZE	    4096
/* nRF52840 product specification: tWRITE 41 us for one 32-bit word */
#define NRF_DFU_PROTO_WORD_WRITE_US 41
/* executing the init packet verifies its ECDSA-P256 signature in software (micro-ecc or
 * nrf_oberon on a 64 MHz Cortex-M4 take a few hundred ms): bound it generously */
#define NRF_DFU_PROTO_TIMEOUT_VERIFY_MS 5000
/* post-validation hashes the whole image with SHA-256 in software: 1 ms a KiB is about four
 * times slower than a 64 MHz Cortex-M4 hashes, plus the settings page write */
#define NRF_DFU_PROTO_HASH_MS_PER_KIB 1

/* the bound for the reply to a request, given what it makes the device do */
uint32_t
nrf_dfu_proto_timeout_create_ms(uint32_t object_size);
uint32_t
nrf_dfu_proto_timeout_execute_data_ms(uint32_t object_size, bool last, uint32_t image_size);

/* ---- the session ---- */

/* the largest SLIP frame of a serial link: the USB CDC bootloader's MTU (nrf_dfu_serial_usb.c) */
#define NRF_DFU_PROTO_MTU_MAX 2051
/* the UART bootloader's MTU (nrf_dfu_serial_uart.c: 2 * (64 + 1) + 1), used when MTU get is
 * not supported */
#define NRF_DFU_PROTO_MTU_UART 131

/* the smallest MTU the session works with: its longest request other than a write, CREATE
 * (opcode, object type and a 32-bit size), with every byte escaped, and the END; a device
 * reporting less, or a cap below it, ends the transfer with an error */
#define NRF_DFU_PROTO_MTU_MIN (2 * 6 + 1)

/* how often one object may be restarted after a CRC or offset mismatch before giving up */
#define NRF_DFU_PROTO_OBJECT_RETRIES 3
/* how many left-over PRN notifications may precede one reply */
#define NRF_DFU_PROTO_STALE_MAX 8
/* pings before the bootloader is declared silent */
#define NRF_DFU_PROTO_PING_TRIES 3
/* re-sends of a request that is safe to repeat, after its reply did not come */
#define NRF_DFU_PROTO_TIMEOUT_RETRIES 2
/*
 * Bounds on a device that keeps an update going without progress. A real bootloader keeps
 * what it executed in its settings page (nrf_dfu_settings_write after each data execute), so
 * its reported offset goes below an executed object only when a new init packet resets the
 * data progress, which the session sends at most once: one setback for that plus one for a
 * retry. An object is sent once, again up to NRF_DFU_PROTO_OBJECT_RETRIES times after a
 * mismatch, and once more for a resume after a lost link.
 */
#define NRF_DFU_PROTO_SETBACKS_MAX     2
#define NRF_DFU_PROTO_OBJECT_SENDS_MAX (NRF_DFU_PROTO_OBJECT_RETRIES + 2)
/*
 * The bound on a transfer's whole length, in the time the caller feeds the session: the
 * time one pass needs (every byte SLIP-escaped at NRF_DFU_PROTO_BYTE_US, each page erased and
 * each word written at the nRF52840's rates, each object's create, CRC and execute taking a
 * whole reply timeout, the init packet verified and the image hashed) times
 * NRF_DFU_PROTO_SESSION_PASSES, plus NRF_DFU_PROTO_SESSION_SLACK_MS for the setup.
 * 100 us a byte is slower than a UART at 115200 baud (87 us a byte); a slower link sets its
 * own figure in byte_us. With PRN each notification adds a reply timeout.
 */
#define NRF_DFU_PROTO_BYTE_US	       100
#define NRF_DFU_PROTO_SESSION_PASSES   4
#define NRF_DFU_PROTO_SESSION_SLACK_MS 30000
/*
 * The smallest data object the bound counts: the SDK's data object is one flash page
 * (nrf_dfu_req_handler.c, DATA_OBJECT_MAX_SIZE is CODE_PAGE_SIZE), 1 KiB on the nRF51 and
 * 4 KiB on the nRF52. The bound gives every object whole reply timeouts, so a device
 * reporting tiny objects would otherwise stretch it without limit (1-byte objects make the
 * bound of a 10000-byte image 35 hours instead of 129 s); counted as 1 KiB, a device that
 * really uses small objects still has several times the time its round trips take.
 */
#define NRF_DFU_PROTO_BUDGET_OBJECT_MIN 1024

/* responses received ahead of being needed; more are dropped and counted */
#define NRF_DFU_PROTO_QUEUE_MAX 4

/* the data bytes one write may carry over a serial link for an MTU; see
 * nrf_dfu_proto_write_size() in the .c */
size_t
nrf_dfu_proto_write_size(uint16_t mtu);

/* the longest request the session sends on the control channel: CREATE, opcode, object type
 * and a 32-bit size */
#define NRF_DFU_PROTO_REQUEST_MAX 6

typedef enum {
	NRF_DFU_PROTO_ACTION_SEND,    /* send bytes[0 .. length] on channel within timeout_ms */
	NRF_DFU_PROTO_ACTION_RECEIVE, /* feed responses as they come, until timeout_ms */
	NRF_DFU_PROTO_ACTION_DONE,
	NRF_DFU_PROTO_ACTION_ERROR,
} NrfDfuProtoActionKind;

typedef struct {
	NrfDfuProtoActionKind kind;
	NrfDfuProtoChannel channel; /* SEND */
	/* SEND: the unframed request (control), or the object data (packet), valid until the
	 * next feed */
	const uint8_t *bytes;
	size_t length;
	uint32_t timeout_ms;	/* SEND, RECEIVE: what is left of the step's bound */
	NrfDfuProtoOp op;	/* the request being sent or answered */
	NrfDfuProtoError error; /* ERROR */
	const char *message;	/* ERROR: a sentence for the user */
} NrfDfuProtoAction;

typedef enum {
	NRF_DFU_PROTO_PHASE_IDLE = 0,
	NRF_DFU_PROTO_PHASE_REQUEST, /* one request and its reply */
	NRF_DFU_PROTO_PHASE_SETUP,   /* ping, PRN, MTU (unless the packet size is given) */
	NRF_DFU_PROTO_PHASE_COMMAND, /* the init packet */
	NRF_DFU_PROTO_PHASE_DATA,    /* the firmware image */
	NRF_DFU_PROTO_PHASE_DONE,
	NRF_DFU_PROTO_PHASE_FAILED,
} NrfDfuProtoPhase;

/* what the session did, for tests and the plugin's log */
typedef struct {
	unsigned objects_created;
	unsigned objects_executed;
	unsigned writes;
	unsigned prn_checks;
	unsigned stale_skipped;
	unsigned restarts;		 /* objects restarted after a mismatch */
	unsigned timeouts;		 /* replies that did not come in time */
	unsigned frames_dropped;	 /* responses the queue had no room for, or too long */
	unsigned setbacks;		 /* selects reporting less than the device had executed */
	unsigned object_sends;		 /* data objects created since the image last advanced */
	uint32_t resumed_command_offset; /* what select reported and matched, 0 if nothing */
	uint32_t resumed_data_offset;
	size_t bytes_sent; /* unframed bytes of every request and packet */
} NrfDfuProtoStats;

typedef struct {
	/* configuration */
	uint16_t prn;	  /* 0: one CRC check per object */
	bool ping;	  /* ping before anything else */
	uint16_t mtu_max; /* serial: cap on the device's MTU, 0 for NRF_DFU_PROTO_MTU_MAX */
	/* the data bytes one packet carries on a transport that sizes them itself (BLE: the ATT
	 * MTU less its header), which then has no MTU get; 0 on serial links, where the
	 * device's MTU sets it */
	size_t packet_size;
	uint32_t byte_us; /* the link's time for one byte when slower than NRF_DFU_PROTO_BYTE_US */

	/* the image, owned by the caller for the session's life */
	const uint8_t *init_packet;
	size_t init_len;
	const uint8_t *image;
	size_t image_len;

	/* state */
	NrfDfuProtoPhase phase;
	int step;
	NrfDfuProtoObject object;
	uint16_t mtu;
	size_t write_size;
	size_t write_len;   /* data bytes of the write in flight */
	uint32_t max_size;  /* select's max size of the current object type */
	uint32_t obj_start; /* offset of the current object in its image */
	uint32_t obj_size;
	uint32_t offset;    /* host offset in the current image */
	uint32_t crc;	    /* host CRC over the current image up to offset */
	uint16_t prn_count; /* writes since create or set PRN */
	unsigned retries;   /* restarts of the current object */
	unsigned stale;	    /* notifications skipped for the current reply */
	unsigned pings;
	bool command_recreated;
	bool boundary_resume; /* the next create follows a resume at an object boundary */
	bool sent;	      /* the current request has been sent, waiting for its reply */
	bool expect_notification;
	uint64_t deadline_ms;
	uint32_t step_timeout_ms;
	NrfDfuProtoOp pending_op;
	NrfDfuProtoRequest request;   /* PHASE_REQUEST: the request to make */
	NrfDfuProtoResponse response; /* the last reply decoded */
	unsigned timeouts;	      /* consecutive timeouts of the current step */
	uint32_t known_offset;	      /* a prefix of the image whose CRC the host knows */
	uint32_t known_crc;
	uint32_t executed_max; /* the furthest the device confirmed executing in this image */
	bool started;	       /* started_ms holds the time of the transfer's first send */
	uint64_t started_ms;
	char setback_cause[64]; /* what the device did before the last resync */
	/* what came instead of the reply to the request in flight, for the timeout's error */
	unsigned others;     /* frames that were not its reply */
	char other_what[64]; /* the last of them */
	/* bytes of a serial stream received since its last frame end, set by
	 * nrf_dfu_proto_serial_feed() */
	size_t unended;
	NrfDfuProtoError error;
	const char *message;
	char message_buf[400];
	/* complete responses received but not yet consumed */
	uint8_t queue[NRF_DFU_PROTO_QUEUE_MAX][NRF_DFU_PROTO_SLIP_RX_MAX];
	size_t queue_len[NRF_DFU_PROTO_QUEUE_MAX];
	unsigned queue_head;
	unsigned queue_count;
	uint8_t tx[NRF_DFU_PROTO_REQUEST_MAX]; /* the control request in flight */
	const uint8_t *tx_bytes;	       /* what SEND sends: tx, or the object's data */
	size_t tx_len;
	NrfDfuProtoStats stats;
} NrfDfuProtoSession;

void
nrf_dfu_proto_session_init(NrfDfuProtoSession *s);

/*
 * One request and its reply, for the identity queries (ping, HW version, FW version, protocol
 * version, MTU) and abort. The reply is in s->response when the session is DONE; a device
 * error result ends in ERROR with NRF_DFU_PROTO_ERROR_DEVICE (NOT_SUPPORTED for opcode not
 * supported), the reply still in s->response. Left-over PRN notifications are skipped.
 */
void
nrf_dfu_proto_session_start_request(NrfDfuProtoSession *s, const NrfDfuProtoRequest *req);

/*
 * The transfer of one image: (ping) - set PRN - MTU get (serial) - select(command) - create - write
 * the init packet - CRC - execute - select(data) - per object: create - writes - CRC - execute.
 * Resumes from what select reports when the device's offset and CRC match the host's prefix.
 * @init_packet and @image must stay valid until the session is done.
 */
void
nrf_dfu_proto_session_start_transfer(NrfDfuProtoSession *s,
				     const uint8_t *init_packet,
				     size_t init_len,
				     const uint8_t *image,
				     size_t image_len,
				     uint16_t prn,
				     bool ping);

/* the bound on the transfer's whole length, from the image and the device's object size */
uint64_t
nrf_dfu_proto_session_budget_ms(const NrfDfuProtoSession *s);

/* the next thing to do; may be called again without a feed and returns the same action */
void
nrf_dfu_proto_session_next(NrfDfuProtoSession *s, uint64_t now_ms, NrfDfuProtoAction *action);

/* the SEND of the last action is done (or failed) */
void
nrf_dfu_proto_session_feed_sent(NrfDfuProtoSession *s, ProtoIo io, uint64_t now_ms);

/*
 * One whole unframed response received during a RECEIVE (a notification of the control point
 * on BLE, a frame of the SLIP stream on serial links), or the failure of the read: IO_TIMEOUT
 * when the action's timeout passed with no response. Responses that arrive before they are
 * needed are kept, up to NRF_DFU_PROTO_QUEUE_MAX; one longer than NRF_DFU_PROTO_SLIP_RX_MAX is
 * dropped and counted.
 */
void
nrf_dfu_proto_session_feed_received(NrfDfuProtoSession *s,
				    ProtoIo io,
				    const uint8_t *buf,
				    size_t len,
				    uint64_t now_ms);

/* ---- serial links (UART, USB CDC ACM): both channels in one SLIP stream ---- */

/*
 * The SLIP frame of a SEND action into @out: a control request as it is, object data as the
 * WRITE request (opcode 0x08) that carries it. Returns the frame's length, or 0 if it does not
 * fit in @out_size.
 */
size_t
nrf_dfu_proto_serial_encode(NrfDfuProtoChannel channel,
			    const uint8_t *buf,
			    size_t len,
			    uint8_t *out,
			    size_t out_size);

/*
 * Bytes a serial link received during a RECEIVE, in any chunking (0 bytes with IO_OK is fine),
 * or the failure of the read: decoded by @rx, each complete frame fed to the session as a
 * response; bytes after the last frame end stay in @rx for the next call, and how many arrived
 * since it is what a timeout's error names.
 */
void
nrf_dfu_proto_serial_feed(NrfDfuProtoSlipDecoder *rx,
			  NrfDfuProtoSession *s,
			  ProtoIo io,
			  const uint8_t *buf,
			  size_t len,
			  uint64_t now_ms);

/* image bytes the device has confirmed (executed objects and CRC-checked writes) */
void
nrf_dfu_proto_session_get_progress(const NrfDfuProtoSession *s, size_t *done, size_t *total);

#ifdef __cplusplus
}
#endif
