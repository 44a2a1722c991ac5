/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Sans-IO core of the USB DFU 1.1 protocol: constants, descriptor and status parsing, and a
 * session that says which control transfer to make next and consumes its outcome.
 * No allocation, no I/O, no clock reads, no sleeping: the caller owns all of that.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants (DFU 1.1 section 3, 4.2, 6.1.2) ---- */

/* bmRequestType of the class requests: host to device / device to host, class, interface */
#define DFU_PROTO_REQUEST_TYPE_OUT 0x21
#define DFU_PROTO_REQUEST_TYPE_IN  0xA1

typedef enum {
	DFU_PROTO_REQUEST_DETACH = 0,
	DFU_PROTO_REQUEST_DNLOAD = 1,
	DFU_PROTO_REQUEST_UPLOAD = 2,
	DFU_PROTO_REQUEST_GETSTATUS = 3,
	DFU_PROTO_REQUEST_CLRSTATUS = 4,
	DFU_PROTO_REQUEST_GETSTATE = 5,
	DFU_PROTO_REQUEST_ABORT = 6,
} DfuProtoRequest;

typedef enum {
	DFU_PROTO_STATE_APP_IDLE = 0,
	DFU_PROTO_STATE_APP_DETACH = 1,
	DFU_PROTO_STATE_DFU_IDLE = 2,
	DFU_PROTO_STATE_DFU_DNLOAD_SYNC = 3,
	DFU_PROTO_STATE_DFU_DNBUSY = 4,
	DFU_PROTO_STATE_DFU_DNLOAD_IDLE = 5,
	DFU_PROTO_STATE_DFU_MANIFEST_SYNC = 6,
	DFU_PROTO_STATE_DFU_MANIFEST = 7,
	DFU_PROTO_STATE_DFU_MANIFEST_WAIT_RESET = 8,
	DFU_PROTO_STATE_DFU_UPLOAD_IDLE = 9,
	DFU_PROTO_STATE_DFU_ERROR = 10,
} DfuProtoState;
#define DFU_PROTO_STATE_LAST DFU_PROTO_STATE_DFU_ERROR

typedef enum {
	DFU_PROTO_STATUS_OK = 0,
	DFU_PROTO_STATUS_ERR_TARGET = 1,
	DFU_PROTO_STATUS_ERR_FILE = 2,
	DFU_PROTO_STATUS_ERR_WRITE = 3,
	DFU_PROTO_STATUS_ERR_ERASE = 4,
	DFU_PROTO_STATUS_ERR_CHECK_ERASED = 5,
	DFU_PROTO_STATUS_ERR_PROG = 6,
	DFU_PROTO_STATUS_ERR_VERIFY = 7,
	DFU_PROTO_STATUS_ERR_ADDRESS = 8,
	DFU_PROTO_STATUS_ERR_NOTDONE = 9,
	DFU_PROTO_STATUS_ERR_FIRMWARE = 10,
	DFU_PROTO_STATUS_ERR_VENDOR = 11,
	DFU_PROTO_STATUS_ERR_USBR = 12,
	DFU_PROTO_STATUS_ERR_POR = 13,
	DFU_PROTO_STATUS_ERR_UNKNOWN = 14,
	DFU_PROTO_STATUS_ERR_STALLEDPKT = 15,
} DfuProtoStatus;
#define DFU_PROTO_STATUS_LAST DFU_PROTO_STATUS_ERR_STALLEDPKT

/* bmAttributes of the functional descriptor */
#define DFU_PROTO_ATTR_CAN_DNLOAD	      (1u << 0)
#define DFU_PROTO_ATTR_CAN_UPLOAD	      (1u << 1)
#define DFU_PROTO_ATTR_MANIFESTATION_TOLERANT (1u << 2)
#define DFU_PROTO_ATTR_WILL_DETACH	      (1u << 3)
#define DFU_PROTO_ATTR_CAN_ACCELERATE	      (1u << 7) /* DfuSe */

/* interface triple of DFU 1.1 section 4.2.1 / 4.2.3 */
#define DFU_PROTO_INTERFACE_CLASS	     0xFE
#define DFU_PROTO_INTERFACE_SUBCLASS	     0x01
#define DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME 0x01
#define DFU_PROTO_INTERFACE_PROTOCOL_DFU     0x02

#define DFU_PROTO_DESCRIPTOR_TYPE_FUNCTIONAL 0x21
#define DFU_PROTO_FUNCTIONAL_LENGTH	     9
#define DFU_PROTO_FUNCTIONAL_LENGTH_DFU10    7 /* DFU 1.0: no bcdDFUVersion */

#define DFU_PROTO_VERSION_DFU10 0x0100
#define DFU_PROTO_VERSION_DFU11 0x0110
#define DFU_PROTO_VERSION_DFUSE 0x011A

#define DFU_PROTO_STATUS_REPLY_LENGTH 6

/* names as the specification spells them: "dfuDNBUSY", "errVERIFY", "DNLOAD" */
const char *
dfu_proto_request_to_string(unsigned request);
const char *
dfu_proto_state_to_string(unsigned state);
const char *
dfu_proto_status_to_string(unsigned status);
/* a sentence for the user, e.g. "device reports verification failed" */
const char *
dfu_proto_status_to_message(unsigned status);

/* ---- errors ---- */

typedef enum {
	DFU_PROTO_ERROR_NONE = 0,
	DFU_PROTO_ERROR_INVALID_ARGUMENT, /* caller misuse: bad size, no transfer size */
	DFU_PROTO_ERROR_NOT_SUPPORTED,	  /* the device does not declare the capability */
	DFU_PROTO_ERROR_DESCRIPTOR,	  /* malformed descriptor blob */
	DFU_PROTO_ERROR_DESCRIPTOR_LIMIT, /* more interfaces or alts than the tables hold */
	DFU_PROTO_ERROR_REPLY,		  /* wrong length or garbage in a device reply */
	DFU_PROTO_ERROR_WRONG_STATE,	  /* device in a state the operation cannot run from */
	DFU_PROTO_ERROR_DEVICE_STATUS,	  /* device reported dfuERROR with a status code */
	DFU_PROTO_ERROR_BUSY_TOO_LONG,	  /* busy budget exceeded */
	DFU_PROTO_ERROR_STALL,		  /* a request was stalled and nothing explains why */
	DFU_PROTO_ERROR_TIMEOUT,
	DFU_PROTO_ERROR_NO_DEVICE,
	DFU_PROTO_ERROR_IO,
} DfuProtoError;

const char *
dfu_proto_error_to_string(DfuProtoError error);

/* ---- descriptor parsing ---- */

/* enough for every DFU device seen; more is reported as DFU_PROTO_ERROR_DESCRIPTOR_LIMIT */
#define DFU_PROTO_INTERFACES_MAX 8
#define DFU_PROTO_ALTS_MAX	 32

typedef struct {
	uint8_t attributes;	    /* DFU_PROTO_ATTR_* */
	uint16_t detach_timeout_ms; /* wDetachTimeOut */
	uint16_t transfer_size;	    /* wTransferSize */
	uint16_t dfu_version;	    /* bcdDFUVersion; DFU_PROTO_VERSION_DFU10 for the 7-byte form */
} DfuProtoFunctional;

typedef struct {
	uint8_t alt_setting; /* bAlternateSetting */
	uint8_t name_index;  /* iInterface: the DfuSe layout string, or 0 */
} DfuProtoAlt;

typedef struct {
	uint8_t configuration_value; /* bConfigurationValue of the configuration holding it */
	uint8_t interface_number;    /* bInterfaceNumber: wIndex of every request */
	uint8_t protocol;	     /* DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME or _DFU */
	uint8_t alt_count;
	DfuProtoAlt alts[DFU_PROTO_ALTS_MAX];
	bool has_functional; /* a functional descriptor followed one of the alts */
	DfuProtoFunctional functional;
} DfuProtoInterface;

typedef struct {
	unsigned interface_count;
	DfuProtoInterface interfaces[DFU_PROTO_INTERFACES_MAX];
} DfuProtoDescriptors;

/*
 * Parses configuration descriptors as sysfs `descriptors` holds them: one or more complete
 * configurations back to back; a leading 18-byte device descriptor is skipped if present.
 * Finds every DFU interface (class 0xFE, subclass 1) with its alt settings, and the
 * functional descriptor wherever it sits among or after the alts (first one found wins).
 * Every length is checked against the buffer: malformed input returns an error and writes
 * a reason into @msg (may be NULL), never reads past @len.
 */
DfuProtoError
dfu_proto_descriptors_parse(const uint8_t *buf,
			    size_t len,
			    DfuProtoDescriptors *out,
			    char *msg,
			    size_t msg_size);

/* first interface with that protocol (DFU_PROTO_INTERFACE_PROTOCOL_*), or NULL */
const DfuProtoInterface *
dfu_proto_descriptors_find(const DfuProtoDescriptors *descs, uint8_t protocol);

/* ---- GETSTATUS reply ---- */

typedef struct {
	DfuProtoStatus status;	  /* bStatus */
	uint32_t poll_timeout_ms; /* bwPollTimeout, as the device sent it (24 bits) */
	DfuProtoState state;	  /* bState */
	uint8_t string_index;	  /* iString: vendor description of the status, or 0 */
} DfuProtoStatusReply;

/* exactly 6 bytes with a known status and state, else DFU_PROTO_ERROR_REPLY */
DfuProtoError
dfu_proto_status_reply_parse(const uint8_t *buf, size_t len, DfuProtoStatusReply *out);

/* ---- session ---- */

/*
 * Bounds, each the one place its figure is decided:
 *
 * DFU_PROTO_POLL_TIMEOUT_MAX_MS: a bwPollTimeout above this is waited as this much. The 24-bit
 * field allows 4.6 h; no real device needs more than a few seconds between polls, and a
 * device still busy afterwards just gets polled again.
 *
 * DFU_PROTO_BUSY_BUDGET_MS: how long one device operation (a block being programmed, the
 * manifestation, a DfuSe erase) may keep reporting busy, measured with the caller's clock
 * from the request that started it. The longest real busy time known is an STM32F405 mass
 * erase of up to 32 s; four times that covers slow parts without hanging a host forever on
 * a device that stays in dfuDNBUSY.
 *
 * DFU_PROTO_BUSY_POLLS_MAX: the same bound counted in status reads, for a caller whose clock
 * does not advance: a control transfer takes at least a 125 us microframe, so a million
 * polls is at least the budget above.
 *
 * DFU_PROTO_BUSY_STALLS_MAX: consecutive stalled status reads tolerated while the device is
 * busy (some parts stall GETSTATUS when polled before the work is done).
 *
 * DFU_PROTO_DETACH_TIMEOUT_MAX_MS: wValue of DETACH. The host resets the device straight
 * after, so the device never needs to wait longer; dfu-util and fwupd send this figure.
 */
#define DFU_PROTO_POLL_TIMEOUT_MAX_MS	60000u
#define DFU_PROTO_BUSY_BUDGET_MS	128000u
#define DFU_PROTO_BUSY_POLLS_MAX	1000000u
#define DFU_PROTO_BUSY_STALLS_MAX	8u
#define DFU_PROTO_DETACH_TIMEOUT_MAX_MS 1000u

typedef enum {
	DFU_PROTO_ACTION_CONTROL_OUT, /* class request to the interface, host to device */
	DFU_PROTO_ACTION_CONTROL_IN,  /* class request to the interface, device to host */
	DFU_PROTO_ACTION_WAIT,	      /* sleep wait_ms (the device's own poll timeout) */
	DFU_PROTO_ACTION_USB_RESET,   /* reset the device; it may re-enumerate */
	DFU_PROTO_ACTION_DONE,
	DFU_PROTO_ACTION_ERROR, /* see error and message */
} DfuProtoActionKind;

typedef enum {
	DFU_PROTO_PAYLOAD_NONE,	 /* no data stage, or the data is the reply (GETSTATUS) */
	DFU_PROTO_PAYLOAD_IMAGE, /* image bytes [image_offset, image_offset + length) */
	DFU_PROTO_PAYLOAD_BYTES, /* the bytes at @bytes (commands built by the core) */
} DfuProtoPayload;

typedef struct {
	DfuProtoActionKind kind;
	/* CONTROL_OUT / CONTROL_IN; wIndex is the interface number, which the caller knows */
	uint8_t request; /* DfuProtoRequest */
	uint16_t value;	 /* wValue */
	uint16_t length; /* wLength: bytes to send, or the most to receive */
	DfuProtoPayload payload;
	/* DNLOAD: where the bytes to send come from; UPLOAD: where the received ones belong */
	size_t image_offset;
	const uint8_t *bytes; /* PAYLOAD_BYTES; valid until the next feed */
	/* WAIT */
	uint32_t wait_ms;
	/* ERROR */
	DfuProtoError error;
	const char *message; /* names the cause and what the user can do */
} DfuProtoAction;

/* outcome of the action just executed */
typedef enum {
	DFU_PROTO_RESULT_OK,
	DFU_PROTO_RESULT_STALL,
	DFU_PROTO_RESULT_TIMEOUT,
	DFU_PROTO_RESULT_NO_DEVICE,
	DFU_PROTO_RESULT_IO_ERROR,
} DfuProtoResult;

const char *
dfu_proto_result_to_string(DfuProtoResult result);

typedef enum {
	DFU_PROTO_OPERATION_NONE,
	DFU_PROTO_OPERATION_DETACH,
	DFU_PROTO_OPERATION_DOWNLOAD,
	DFU_PROTO_OPERATION_UPLOAD,
	DFU_PROTO_OPERATION_ABORT,
} DfuProtoOperation;

/* all fields are private: use the functions below */
typedef struct {
	DfuProtoFunctional functional;
	uint32_t busy_budget_ms;
	DfuProtoOperation operation;
	unsigned step;
	unsigned resume_step; /* after a WAIT */
	unsigned failed_step; /* the request being explained after a stall */
	DfuProtoAction action;
	DfuProtoStatusReply status;
	bool status_valid;
	uint64_t wait_until_ms;
	/* transfer */
	size_t total;
	size_t done;
	uint16_t block_size;
	uint32_t block_number;
	size_t block_offset;
	uint16_t block_length;
	/* bounds */
	uint64_t busy_since_ms;
	uint32_t busy_polls;
	uint32_t busy_stalls;
	unsigned recover_attempts;
	/* result */
	DfuProtoError error;
	char message[256];
} DfuProtoSession;

/* @functional: the device's functional descriptor (a quirk may have corrected it) */
void
dfu_proto_session_init(DfuProtoSession *s, const DfuProtoFunctional *functional);

/* override DFU_PROTO_BUSY_BUDGET_MS for a device known to be slower; 0 restores it */
void
dfu_proto_session_set_busy_budget(DfuProtoSession *s, uint32_t busy_budget_ms);

/*
 * Starting an operation resets the session's progress and error. A start that fails returns
 * the error and also leaves the session in ERROR with a message.
 *
 * detach: DETACH from runtime mode, then USB_RESET unless the device has willDetach.
 * download: @total bytes of image in blocks of @block_size (0: wTransferSize), then the
 *   zero-length DNLOAD and manifestation, then USB_RESET if the device is not
 *   manifestation tolerant.
 * upload: at most @max_bytes, in blocks of @block_size (0: wTransferSize); ends at the first
 *   short block or at @max_bytes. The byte count read is the progress's done.
 * abort: bring a device in DFU mode back to dfuIDLE (CLRSTATUS, ABORT as needed).
 */
DfuProtoError
dfu_proto_session_start_detach(DfuProtoSession *s);
DfuProtoError
dfu_proto_session_start_download(DfuProtoSession *s, size_t total, uint16_t block_size);
DfuProtoError
dfu_proto_session_start_upload(DfuProtoSession *s, size_t max_bytes, uint16_t block_size);
DfuProtoError
dfu_proto_session_start_abort(DfuProtoSession *s);

/*
 * The next action to execute. Calling it again without a feed returns the same action (a
 * WAIT shrinks by the time already passed since the status that asked for it, and is
 * skipped once over). After every CONTROL_OUT, CONTROL_IN, WAIT and USB_RESET the caller
 * executes it and calls dfu_proto_session_feed() exactly once; DONE and ERROR are final.
 */
void
dfu_proto_session_next(DfuProtoSession *s, uint64_t now_ms, DfuProtoAction *action);

/* outcome of the action from next(): for CONTROL_IN with RESULT_OK, the bytes received */
void
dfu_proto_session_feed(DfuProtoSession *s,
		       DfuProtoResult result,
		       const uint8_t *data,
		       size_t len,
		       uint64_t now_ms);

/* bytes downloaded and acknowledged / uploaded so far, and the total (upload: the maximum) */
void
dfu_proto_session_get_progress(const DfuProtoSession *s, size_t *done, size_t *total);

/* DFU_PROTO_ERROR_NONE unless the session ended in ERROR */
DfuProtoError
dfu_proto_session_get_error(const DfuProtoSession *s);
const char *
dfu_proto_session_get_message(const DfuProtoSession *s);

/* the last GETSTATUS reply, or NULL if none was read; iString helps explain a failure */
const DfuProtoStatusReply *
dfu_proto_session_get_last_status(const DfuProtoSession *s);

#ifdef __cplusplus
}
#endif
