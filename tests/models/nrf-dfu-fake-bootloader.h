/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * A scripted nRF5 SDK Secure DFU bootloader for the core's unit tests. It is written apart
 * from the core and shares no code with it (its own SLIP, CRC and encoding), following the
 * SDK's nrf_dfu_req_handler.c and nrf_dfu_serial.c, with faults the tests switch on.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_BL_FLASH_MAX 65536
#define FAKE_BL_OUT_MAX	  8192

typedef struct {
	/* configuration */
	uint16_t mtu;		    /* 0: MTU get not supported */
	uint32_t cmd_max;	    /* select(command) max size */
	uint32_t data_max;	    /* select(data) max size: one flash page */
	uint32_t image_size;	    /* what the init packet announces */
	uint32_t image_crc;	    /* what post-validation expects of the whole image */
	bool strict_double_execute; /* answer an execute with no object "not permitted" */

	/* faults */
	int error_op; /* answer this opcode with error_result, -1 for none */
	uint8_t error_result;
	uint8_t error_ext;
	int drop_reply_op; /* drop the next reply to this opcode, -1 for none */
	unsigned drop_reply_count;
	unsigned corrupt_data_write; /* flip a byte in this data write (1-based), 0 none */
	bool stale_notification;     /* put a CRC notification before the next reply */
	bool drop_data_execute_replies;
	bool data_max_claim_set; /* select(data) reports data_max_claim, create takes data_max */
	uint32_t data_max_claim;

	/* state kept across a reset (the settings page) */
	uint8_t cmd[1024];
	uint32_t cmd_size;
	uint32_t cmd_offset;
	uint32_t cmd_crc;
	bool cmd_valid;
	uint32_t offset_last;
	uint32_t crc_last;
	uint8_t flash[FAKE_BL_FLASH_MAX];

	/* RAM state */
	int current_object;
	uint32_t data_offset;
	uint32_t data_crc;
	uint32_t object_size;
	uint16_t prn_target;
	uint16_t prn_count;
	uint8_t rx[4200];
	size_t rx_len;
	int rx_state;

	/* what the host sees */
	uint8_t out[FAKE_BL_OUT_MAX];
	size_t out_len;

	/* what happened */
	bool activated;
	unsigned requests;
	unsigned creates_command;
	unsigned creates_data;
	unsigned executes_data;
	unsigned double_executes;
	unsigned data_writes;
	unsigned notifications;
	unsigned pings;
	size_t largest_frame; /* SLIP-encoded, END included */
	size_t frame_bytes;   /* bytes of the frame being received */
	uint8_t ops[8192];    /* every opcode in the order received */
	size_t ops_len;
} FakeBl;

void
fake_bl_init(FakeBl *bl, const uint8_t *image, uint32_t image_size);
/* bytes from the host: decodes frames and queues the replies in out */
void
fake_bl_receive(FakeBl *bl, const uint8_t *buf, size_t len);
/* a power cycle: what the SDK keeps in its settings page survives */
void
fake_bl_reset(FakeBl *bl);
uint32_t
fake_bl_crc32(uint32_t crc, const uint8_t *buf, size_t len);
