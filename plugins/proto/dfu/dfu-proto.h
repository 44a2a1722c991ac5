/*
 * Copyright 2026 The fwupd-dfu-plugins authors
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

#include "proto-io.h"

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
	DFU_PROTO_ERROR_LAYOUT,		/* DfuSe memory layout string malformed or too large */
	DFU_PROTO_ERROR_ADDRESS,	/* firmware outside the writable memory, or errTARGET */
	DFU_PROTO_ERROR_READ_PROTECTED, /* DfuSe errVENDOR: read protection is active */
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

/* ---- DfuSe memory layout (ST UM0424, AN3156 section 4.3) ---- */

/* DNLOAD wValue 0 command bytes; UPLOAD wValue 0 lists them */
#define DFU_PROTO_DFUSE_CMD_GET_COMMANDS   0x00
#define DFU_PROTO_DFUSE_CMD_SET_ADDRESS	   0x21
#define DFU_PROTO_DFUSE_CMD_ERASE	   0x41
#define DFU_PROTO_DFUSE_CMD_READ_UNPROTECT 0x92
/* wValue of the first data block after a set address: it lands on the address pointer */
#define DFU_PROTO_DFUSE_BLOCK_FIRST 2

/* access letter a..g of a sector group is 1..7 in these bits */
#define DFU_PROTO_DFUSE_ACCESS_READ  (1u << 0)
#define DFU_PROTO_DFUSE_ACCESS_ERASE (1u << 1)
#define DFU_PROTO_DFUSE_ACCESS_WRITE (1u << 2)

/*
 * DFU_PROTO_LAYOUT_GROUPS_MAX: sector groups (`NN*SSSxy` entries) over all regions of one
 * layout string. Real devices list at most a dozen; more is DFU_PROTO_ERROR_LAYOUT, not a
 * truncation. DFU_PROTO_LAYOUT_NAME_MAX: bytes kept of the name, with the NUL.
 */
#define DFU_PROTO_LAYOUT_GROUPS_MAX 64
#define DFU_PROTO_LAYOUT_NAME_MAX   64

typedef struct {
	uint32_t address; /* of the first sector */
	uint32_t count;	  /* sectors, at least 1 */
	uint32_t size;	  /* bytes a sector, at least 1 */
	uint8_t access;	  /* DFU_PROTO_DFUSE_ACCESS_* */
	uint8_t region;	  /* index of the `/0xADDR/` part it came from, in string order */
} DfuProtoSectorGroup;

typedef struct {
	char name[DFU_PROTO_LAYOUT_NAME_MAX]; /* "Internal Flash", trailing spaces removed */
	unsigned region_count;
	unsigned group_count;
	/* sorted by address; the parser refuses overlaps; the last one may end at 2^32 */
	DfuProtoSectorGroup groups[DFU_PROTO_LAYOUT_GROUPS_MAX];
} DfuProtoLayout;

typedef struct {
	uint32_t address;
	uint32_t size;
	uint8_t access;
} DfuProtoSector;

/*
 * Parses `@Name/0xADDR/NN*SSSxy[,NN*SSSxy]...[/0xADDR/...]` (x: ' ', B, K or M; y: a..g).
 * Reads at most @len bytes and stops at a NUL. Lenient where real devices break the grammar:
 * leading zeros (`064*0002Kg`), a space or nothing for the multiplier (`01*016 e`), spaces
 * around fields, lowercase hex, no `0x`, a missing or doubled trailing slash, and garbage after
 * a complete group. Errors (DFU_PROTO_ERROR_LAYOUT, reason in @msg): no '@', a malformed
 * address or group, numbers past 32 bits, a region wrapping past 2^32, overlapping groups,
 * no group at all, more than DFU_PROTO_LAYOUT_GROUPS_MAX groups.
 */
DfuProtoError
dfu_proto_layout_parse(const char *str,
		       size_t len,
		       DfuProtoLayout *out,
		       char *msg,
		       size_t msg_size);

/* the sector holding @address; false if no group covers it */
bool
dfu_proto_layout_find_sector(const DfuProtoLayout *layout, uint32_t address, DfuProtoSector *out);

/* the first sector ending after @address (the one holding it, or the next one above) */
bool
dfu_proto_layout_next_sector(const DfuProtoLayout *layout, uint64_t address, DfuProtoSector *out);

/* every byte of [address, address + length) lies in sectors having all the @access bits;
 * false for length 0 and for a range past 2^32 */
bool
dfu_proto_layout_range_has_access(const DfuProtoLayout *layout,
				  uint32_t address,
				  uint64_t length,
				  uint8_t access);

/* ---- DfuSe update plan ---- */

/* one contiguous piece of firmware: @length bytes at @image_offset of the caller's image */
typedef struct {
	uint32_t address;
	uint32_t length;
	size_t image_offset;
} DfuProtoElement;

/* flags of a DfuSe download */
#define DFU_PROTO_DFUSE_FLAG_LEAVE	(1u << 0) /* leave to the first element's address */
#define DFU_PROTO_DFUSE_FLAG_MASS_ERASE (1u << 1) /* one mass erase instead of page erases */

typedef enum {
	DFU_PROTO_DFUSE_STEP_ERASE,	  /* erase the sector at address, length bytes */
	DFU_PROTO_DFUSE_STEP_MASS_ERASE,  /* erase everything */
	DFU_PROTO_DFUSE_STEP_SET_ADDRESS, /* the address pointer for the data blocks after it */
	DFU_PROTO_DFUSE_STEP_WRITE, /* DNLOAD block_number: length bytes of image at address */
	DFU_PROTO_DFUSE_STEP_LEAVE, /* set the address pointer, zero-length DNLOAD, GETSTATUS */
	DFU_PROTO_DFUSE_STEP_END,
} DfuProtoDfuseStepKind;

typedef struct {
	DfuProtoDfuseStepKind kind;
	uint32_t address;
	uint32_t length;
	uint16_t block_number; /* WRITE: wValue, 2 and up */
	size_t image_offset;   /* WRITE */
} DfuProtoDfuseStep;

typedef enum {
	DFU_PROTO_DFUSE_PHASE_NONE,
	DFU_PROTO_DFUSE_PHASE_ERASE,
	DFU_PROTO_DFUSE_PHASE_WRITE,
	DFU_PROTO_DFUSE_PHASE_LEAVE,
	DFU_PROTO_DFUSE_PHASE_END,
} DfuProtoDfusePhase;

/* all fields are private: use the functions below */
typedef struct {
	const DfuProtoLayout *layout;
	const DfuProtoElement *elements;
	size_t element_count;
	uint16_t block_size;
	unsigned flags;
	DfuProtoDfusePhase phase;
	/* erase: sectors below the cursor are done, so are elements below erase_element */
	uint64_t erase_cursor;
	size_t erase_element;
	/* write */
	size_t element_index;
	uint32_t element_offset;
	bool run_open;	       /* a set address is in force for run_next_address */
	bool set_address_sent; /* for the block at element_index/element_offset */
	uint64_t run_next_address;
	uint32_t run_block;
	/* totals, computed by init */
	uint32_t erase_count;
	uint64_t erase_bytes;
	uint64_t write_bytes;
	uint32_t leave_address;
} DfuProtoDfusePlan;

/*
 * Sorts @elements in place into the order dfu_proto_dfuse_validate() and the plan want: by
 * address, then by @image_offset (so elements at one address keep the order of the file they
 * came from), then by length. In place with no memory of its own, O(n log n) for any input.
 */
void
dfu_proto_dfuse_sort_elements(DfuProtoElement *elements, size_t element_count);

/*
 * Checks every element before anything is erased: inside sectors with the W bit (all of its
 * bytes), not past 2^32, not overlapping another element, @image_offset + length not
 * wrapping; at least one byte to write. Returns DFU_PROTO_ERROR_ADDRESS (or
 * _INVALID_ARGUMENT) with the element, its range and the layout named in @msg.
 * Elements must come sorted by address (empty ones anywhere; unsorted ones are refused): the
 * overlap check compares each with the one before, linear in the count and with no memory of
 * its own. The caller sorts, with dfu_proto_dfuse_sort_elements(), as a DfuSe file may list
 * its elements in any order.
 */
DfuProtoError
dfu_proto_dfuse_validate(const DfuProtoLayout *layout,
			 const DfuProtoElement *elements,
			 size_t element_count,
			 char *msg,
			 size_t msg_size);

/*
 * Validates, then prepares the sequence: the erase phase (each sector touched by an element,
 * once, in address order, only those with the E bit; or one mass erase), the write phase
 * (elements in array order, which is address order, blocks of @block_size from the start of
 * each element; one set address per contiguous run, block numbers 2, 3, ... continuing across
 * it; a new set address where the address jumps, before a block shorter than @block_size, and
 * when the block number would pass 65535), then the leave if asked. @layout and @elements stay
 * the caller's and must outlive the plan.
 */
DfuProtoError
dfu_proto_dfuse_plan_init(DfuProtoDfusePlan *plan,
			  const DfuProtoLayout *layout,
			  const DfuProtoElement *elements,
			  size_t element_count,
			  uint16_t block_size,
			  unsigned flags,
			  char *msg,
			  size_t msg_size);

/* the next step; END repeats once reached */
void
dfu_proto_dfuse_plan_next(DfuProtoDfusePlan *plan, DfuProtoDfuseStep *step);

/* sectors and bytes the erase phase will erase (mass erase: 1 and 0), bytes to write */
void
dfu_proto_dfuse_plan_get_totals(const DfuProtoDfusePlan *plan,
				uint32_t *erase_count,
				uint64_t *erase_bytes,
				uint64_t *write_bytes);

/* ---- busy bounds and statistics ---- */

/*
 * How long one DfuSe operation may keep reporting busy, derived from the device's own layout
 * rather than one figure for everything. The worst datasheet erase rate among the profiles
 * is the STM32F4 16 KiB sector: 500 ms max, 31.25 ms a KiB (its 128 KiB sector: 2 s max,
 * 15.6 ms a KiB). Four times that is DFU_PROTO_DFUSE_ERASE_MS_PER_KIB, so a 128 KiB sector
 * gets 16 s, not minutes. Small pages are dominated by fixed costs (GD32VF103: 400 ms max for
 * 1 KiB), so no bound is below DFU_PROTO_DFUSE_BUSY_FLOOR_MS, four times the longest small
 * erase (the 500 ms above). Programming: the slowest profile is the STM32F1 at 70 us per
 * half-word, 35 us a byte; four times is DFU_PROTO_DFUSE_PROGRAM_US_PER_BYTE (2 KiB: 287 ms,
 * so the floor decides, which also covers a bootloader erasing a page inside a write).
 * A mass erase or read unprotect gets DFU_PROTO_BUSY_BUDGET_MS (STM32F405 mass erase: 32 s).
 * dfu_proto_session_set_busy_budget() replaces all of these with the caller's figure.
 */
#define DFU_PROTO_DFUSE_BUSY_FLOOR_MS	    2000u
#define DFU_PROTO_DFUSE_ERASE_MS_PER_KIB    125u
#define DFU_PROTO_DFUSE_PROGRAM_US_PER_BYTE 140u

uint32_t
dfu_proto_dfuse_erase_bound_ms(uint32_t sector_size);
uint32_t
dfu_proto_dfuse_write_bound_ms(uint32_t block_length);

/* device operations whose busy time the session records */
typedef enum {
	DFU_PROTO_BUSY_OP_BLOCK,	  /* a DFU 1.1 or DfuSe data block */
	DFU_PROTO_BUSY_OP_MANIFEST,	  /* DFU 1.1 manifestation */
	DFU_PROTO_BUSY_OP_SET_ADDRESS,	  /* DfuSe 0x21 */
	DFU_PROTO_BUSY_OP_ERASE,	  /* DfuSe 0x41 + address */
	DFU_PROTO_BUSY_OP_MASS_ERASE,	  /* DfuSe 0x41 */
	DFU_PROTO_BUSY_OP_READ_UNPROTECT, /* DfuSe 0x92 */
	DFU_PROTO_BUSY_OP_LEAVE,	  /* DfuSe zero-length DNLOAD */
	DFU_PROTO_BUSY_OP_COUNT,
} DfuProtoBusyOp;

/* "set-address", "erase", ... */
const char *
dfu_proto_busy_op_to_string(DfuProtoBusyOp op);

typedef struct {
	uint32_t count;	      /* operations completed */
	uint32_t polls;	      /* status reads that found the device busy, stalls included */
	uint32_t busy_max_ms; /* longest from the request to the status that ended it */
	uint64_t busy_total_ms;
	uint32_t bound_ms; /* the bound that applied to the longest one */
} DfuProtoBusyStat;

typedef struct {
	DfuProtoBusyStat ops[DFU_PROTO_BUSY_OP_COUNT];
} DfuProtoBusyStats;

/* ---- session ---- */

/*
 * Bounds, each the one place its figure is decided:
 *
 * DFU_PROTO_POLL_TIMEOUT_MAX_MS: a bwPollTimeout above this is waited as this much. The 24-bit
 * field allows 4.6 h; no real device needs more than a few seconds between polls, and a
 * device still busy afterwards just gets polled again. No wait outlasts the bound of the
 * operation it waits for either: a device asking for more is polled again just past that
 * bound, and either has finished or ends the update with the error of that bound (which
 * names the poll timeout it asked for). A DfuSe data block thus waits at most 2 s
 * (DFU_PROTO_DFUSE_BUSY_FLOOR_MS) however long the device says it needs.
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
 * DFU_PROTO_TRANSFER_SIZE_MIN: the smallest block a session sends. A control endpoint carries
 * at least 8 bytes a packet (USB 2.0 9.6.1, bMaxPacketSize0), so no real device asks for less;
 * a wTransferSize below it turns a 1 KiB image into a thousand device operations. It is
 * refused rather than raised: the device may have no room for more than it declared (dfu-util
 * raises it to bMaxPacketSize0, fwupd's own dfu plugin takes any figure but 0).
 *
 * DFU_PROTO_SESSION_BUSY_FLOOR_MS, DFU_PROTO_SESSION_BUSY_BLOCK_MS: how long the device may
 * report busy in total over a whole download, measured like the busy budget. The bound is the
 * floor plus the second figure for every block of the image at the block size in use, plus
 * DFU_PROTO_DFUSE_ERASE_MS_PER_KIB for every KiB a DfuSe plan erases. The floor is ten
 * minutes, far above the slowest known whole-chip work (an STM32F405 mass erase, 32 s) so that
 * a device erasing everything on its first block passes; a block of a real device is
 * programmed in milliseconds, and 2 s is the DfuSe per-operation floor. A caller's own budget
 * (dfu_proto_session_set_busy_budget()) raises the floor to four times that budget. A device
 * that stays busy near the budget on every block (days for a small image) is stopped there.
 *
 * DFU_PROTO_DETACH_TIMEOUT_MAX_MS: wValue of DETACH. The host resets the device straight
 * after, so the device never needs to wait longer; dfu-util and fwupd send this figure.
 */
#define DFU_PROTO_POLL_TIMEOUT_MAX_MS	60000u
#define DFU_PROTO_BUSY_BUDGET_MS	128000u
#define DFU_PROTO_BUSY_POLLS_MAX	1000000u
#define DFU_PROTO_BUSY_STALLS_MAX	8u
#define DFU_PROTO_DETACH_TIMEOUT_MAX_MS 1000u
#define DFU_PROTO_TRANSFER_SIZE_MIN	8u
#define DFU_PROTO_SESSION_BUSY_FLOOR_MS 600000u
#define DFU_PROTO_SESSION_BUSY_BLOCK_MS 2000u

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

typedef enum {
	DFU_PROTO_OPERATION_NONE,
	DFU_PROTO_OPERATION_DETACH,
	DFU_PROTO_OPERATION_DOWNLOAD,
	DFU_PROTO_OPERATION_UPLOAD,
	DFU_PROTO_OPERATION_ABORT,
	DFU_PROTO_OPERATION_DFUSE_DOWNLOAD,
	DFU_PROTO_OPERATION_DFUSE_UPLOAD,
	DFU_PROTO_OPERATION_DFUSE_MASS_ERASE,
	DFU_PROTO_OPERATION_DFUSE_READ_UNPROTECT,
	DFU_PROTO_OPERATION_DFUSE_GET_COMMANDS,
	DFU_PROTO_OPERATION_DFUSE_LEAVE,
} DfuProtoOperation;

/*
 * Device quirks of DfuSe sessions (dfu_proto_session_set_dfuse_quirks()):
 * SET_ADDRESS_POLL_BOGUS: the poll timeout reported after a set address is not the time it
 *   takes (STM32F4 system bootloader: 104 ms for a pointer update): poll again at once, and
 *   only wait the device's figure if it is still busy then.
 * SILENT_AFTER_LEAVE: the device does not answer the GETSTATUS after leave (GD32VF103), so
 *   the session does not send it: the zero-length DNLOAD ends the session.
 */
#define DFU_PROTO_DFUSE_QUIRK_SET_ADDRESS_POLL_BOGUS (1u << 0)
#define DFU_PROTO_DFUSE_QUIRK_SILENT_AFTER_LEAVE     (1u << 1)

/* bytes of the reply to the DfuSe get-commands request kept */
#define DFU_PROTO_DFUSE_COMMANDS_MAX 16

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
	bool busy_budget_set;	    /* the caller's budget replaces the derived bounds */
	uint32_t op_budget_ms;	    /* bound of the device operation running now */
	DfuProtoBusyOp busy_op;	    /* what it is, for the statistics */
	uint32_t min_poll_ms;	    /* quirk: never poll a busy device sooner than this */
	unsigned dfuse_quirks;	    /* DFU_PROTO_DFUSE_QUIRK_* */
	DfuProtoBusyStats stats;    /* since the start of the operation */
	uint64_t session_busy_ms;   /* busy time of the operations finished so far */
	uint64_t session_budget_ms; /* bound of the busy time of the whole operation */
	/* DfuSe */
	DfuProtoDfusePlan plan;
	DfuProtoDfuseStep plan_step; /* the step being executed */
	uint8_t command[5];	     /* bytes of the command DNLOAD */
	uint16_t command_length;
	uint32_t dfuse_address;	 /* of the command or block running now, for messages */
	uint32_t upload_address; /* DfuSe upload: where the next set address points */
	bool leave_pending;	 /* the set address running now is the leave's */
	uint32_t erases_done;
	uint64_t erase_bytes_done;
	DfuProtoDfusePhase dfuse_phase;
	uint8_t commands[DFU_PROTO_DFUSE_COMMANDS_MAX];
	size_t commands_length;
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
		       ProtoIo result,
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

/* ---- DfuSe sessions ---- */

/* DFU_PROTO_DFUSE_QUIRK_* from the device's quirks; kept across starts */
void
dfu_proto_session_set_dfuse_quirks(DfuProtoSession *s, unsigned quirks);

/*
 * For devices that stall GETSTATUS when polled before the work is done yet report a shorter
 * poll timeout (STM32L4 erase): a busy device is never polled sooner than @min_poll_ms, and a
 * stalled poll right after a command is retried after it (DFU_PROTO_BUSY_STALLS_MAX times).
 * 0, the default, polls exactly as the device asks. Kept across starts.
 */
void
dfu_proto_session_set_min_poll_interval(DfuProtoSession *s, uint32_t min_poll_ms);

/*
 * DfuSe operations; each first brings the device to dfuIDLE like the DFU 1.1 ones.
 *
 * dfuse_download: runs dfu_proto_dfuse_plan_init()'s plan (so validates everything before
 *   the first erase; a failed validation is returned and nothing is sent). Every command is
 *   DNLOAD wValue 0 with PAYLOAD_BYTES, then GETSTATUS (dfuDNBUSY: the device executes it),
 *   polled until dfuDNLOAD-IDLE within the bound of that operation; data blocks are DNLOAD
 *   wValue 2.. with PAYLOAD_IMAGE at the element's image offset. Progress: bytes written of
 *   all elements; dfu_proto_session_get_dfuse_progress() adds the phase and the erases.
 * dfuse_upload: set address @address, ABORT, then UPLOAD wValue 2.. of @block_size (0:
 *   wTransferSize) up to @max_bytes, ending at a short block; PAYLOAD_IMAGE offsets count
 *   from 0. With a @layout, the range must be readable (R) memory.
 * dfuse_mass_erase, dfuse_read_unprotect: the command alone. Read unprotect erases the whole
 *   flash and resets the device: a device that stops answering afterwards is the success.
 * dfuse_get_commands: UPLOAD wValue 0, kept for dfu_proto_session_get_dfuse_commands().
 * dfuse_leave: set address @address, zero-length DNLOAD, GETSTATUS; a device that does not
 *   answer has left, which is the success.
 */
DfuProtoError
dfu_proto_session_start_dfuse_download(DfuProtoSession *s,
				       const DfuProtoLayout *layout,
				       const DfuProtoElement *elements,
				       size_t element_count,
				       uint16_t block_size,
				       unsigned flags);
DfuProtoError
dfu_proto_session_start_dfuse_upload(DfuProtoSession *s,
				     const DfuProtoLayout *layout,
				     uint32_t address,
				     size_t max_bytes,
				     uint16_t block_size);
DfuProtoError
dfu_proto_session_start_dfuse_mass_erase(DfuProtoSession *s);
DfuProtoError
dfu_proto_session_start_dfuse_read_unprotect(DfuProtoSession *s);
DfuProtoError
dfu_proto_session_start_dfuse_get_commands(DfuProtoSession *s);
DfuProtoError
dfu_proto_session_start_dfuse_leave(DfuProtoSession *s, uint32_t address);

typedef struct {
	DfuProtoDfusePhase phase;
	uint32_t erases_done; /* sectors (a mass erase counts as one) */
	uint32_t erases_total;
	uint64_t erase_bytes_done; /* sizes of the sectors erased, for weighting the phases */
	uint64_t erase_bytes_total;
	size_t write_bytes_done;
	size_t write_bytes_total;
} DfuProtoDfuseProgress;

void
dfu_proto_session_get_dfuse_progress(const DfuProtoSession *s, DfuProtoDfuseProgress *out);

/* the reply of dfuse_get_commands: command bytes (0x00 0x21 0x41 0x92 on STM32) */
size_t
dfu_proto_session_get_dfuse_commands(const DfuProtoSession *s, const uint8_t **commands);

/* per operation kind: how many, how many busy polls, the longest busy time and its bound */
const DfuProtoBusyStats *
dfu_proto_session_get_busy_stats(const DfuProtoSession *s);

#ifdef __cplusplus
}
#endif
