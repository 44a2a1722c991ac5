/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "nrf-dfu-fake-bootloader.h"

#include <string.h>

enum { RX_DECODING, RX_ESC, RX_DROP };

uint32_t
fake_bl_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

void
fake_bl_init(FakeBl *bl, const uint8_t *image, uint32_t image_size)
{
	memset(bl, 0, sizeof(*bl));
	bl->mtu = 131;
	bl->cmd_max = 512;
	bl->data_max = 4096;
	bl->image_size = image_size;
	bl->image_crc = fake_bl_crc32(0, image, image_size);
	bl->error_op = -1;
	bl->drop_reply_op = -1;
	bl->current_object = 1;
	memset(bl->flash, 0xFF, sizeof(bl->flash));
}

void
fake_bl_reset(FakeBl *bl)
{
	/* the SDK saves its settings when an object is executed: an init packet that was not
	 * executed and a data object in progress are lost */
	if (!bl->cmd_valid) {
		bl->cmd_offset = 0;
		bl->cmd_crc = 0;
		bl->cmd_size = 0;
	}
	bl->data_offset = bl->offset_last;
	bl->data_crc = bl->crc_last;
	bl->object_size = 0;
	bl->prn_target = 0;
	bl->prn_count = 0;
	bl->rx_len = 0;
	bl->rx_state = RX_DECODING;
	bl->out_len = 0;
	bl->current_object = 1;
}

static void
fake_bl_put_byte(FakeBl *bl, uint8_t c)
{
	if (bl->out_len + 2 > sizeof(bl->out))
		return;
	if (c == 0xC0) {
		bl->out[bl->out_len++] = 0xDB;
		bl->out[bl->out_len++] = 0xDC;
	} else if (c == 0xDB) {
		bl->out[bl->out_len++] = 0xDB;
		bl->out[bl->out_len++] = 0xDD;
	} else {
		bl->out[bl->out_len++] = c;
	}
}

static void
fake_bl_send(FakeBl *bl, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fake_bl_put_byte(bl, buf[i]);
	if (bl->out_len < sizeof(bl->out))
		bl->out[bl->out_len++] = 0xC0;
}

static size_t
fake_bl_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return 4;
}

static void
fake_bl_reply(FakeBl *bl, uint8_t op, uint8_t result, const uint8_t *payload, size_t len)
{
	uint8_t buf[64] = {0x60, op, result};
	size_t n = 3;

	if (bl->stale_notification) {
		uint8_t stale[11] = {0x60, 0x03, 0x01};
		fake_bl_le32(stale + 3, bl->data_offset);
		fake_bl_le32(stale + 7, bl->data_crc);
		bl->stale_notification = false;
		fake_bl_send(bl, stale, sizeof(stale));
	}
	if (bl->drop_reply_op == op && bl->drop_reply_count > 0) {
		bl->drop_reply_count--;
		return;
	}
	if (bl->error_op == op && result == 0x01) {
		buf[2] = bl->error_result;
		if (bl->error_result == 0x0B)
			buf[n++] = bl->error_ext;
		fake_bl_send(bl, buf, n);
		return;
	}
	if (result == 0x01 && len > 0) {
		memcpy(buf + 3, payload, len);
		n += len;
	}
	fake_bl_send(bl, buf, n);
}

/* nrf_dfu_serial.c dfu_req_handler_rsp_clbk: a write is answered only every PRN writes,
 * with a CRC_GET reply that carries the write's result */
static void
fake_bl_after_write(FakeBl *bl, uint8_t result, uint32_t offset, uint32_t crc)
{
	uint8_t p[8];

	bl->prn_count--;
	if (bl->prn_target == 0 || bl->prn_count != 0)
		return;
	bl->prn_count = bl->prn_target;
	bl->notifications++;
	fake_bl_le32(p, offset);
	fake_bl_le32(p + 4, crc);
	{
		uint8_t buf[11] = {0x60, 0x03, result};
		size_t n = 3;
		if (result == 0x01) {
			memcpy(buf + 3, p, 8);
			n = 11;
		}
		fake_bl_send(bl, buf, n);
	}
}

static void
fake_bl_handle(FakeBl *bl, const uint8_t *req, size_t len)
{
	uint8_t p[20];
	uint8_t op = req[0];

	bl->requests++;
	if (bl->ops_len < sizeof(bl->ops))
		bl->ops[bl->ops_len++] = op;
	switch (op) {
	case 0x09: /* ping */
		bl->pings++;
		p[0] = len > 1 ? req[1] : 0;
		fake_bl_reply(bl, op, 0x01, p, 1);
		return;
	case 0x02: /* PRN set */
		bl->prn_target = (uint16_t)(req[1] | (req[2] << 8));
		bl->prn_count = bl->prn_target;
		fake_bl_reply(bl, op, 0x01, NULL, 0);
		return;
	case 0x07: /* MTU */
		if (bl->mtu == 0) {
			fake_bl_reply(bl, op, 0x02, NULL, 0);
			return;
		}
		p[0] = bl->mtu & 0xFF;
		p[1] = bl->mtu >> 8;
		fake_bl_reply(bl, op, 0x01, p, 2);
		return;
	case 0x0A: /* HW version: an nRF52840 */
		fake_bl_le32(p, 0x52840);
		fake_bl_le32(p + 4, 0x41414430);
		fake_bl_le32(p + 8, 1024 * 1024);
		fake_bl_le32(p + 12, 256 * 1024);
		fake_bl_le32(p + 16, 4096);
		fake_bl_reply(bl, op, 0x01, p, 20);
		return;
	case 0x0B: /* FW version */
		p[0] = req[1] == 0 ? 0x02 : req[1] == 1 ? 0x00 : 0x01;
		fake_bl_le32(p + 1, req[1] == 0 ? 3 : req[1] == 1 ? 0xB6 : 7);
		fake_bl_le32(p + 5, req[1] == 0 ? 0xE0000 : req[1] == 1 ? 0x1000 : 0x27000);
		fake_bl_le32(p + 9, 0x1000);
		fake_bl_reply(bl, op, 0x01, p, 13);
		return;
	case 0x06: /* select */
		bl->current_object = req[1];
		if (req[1] == 1) {
			fake_bl_le32(p, bl->cmd_max);
			fake_bl_le32(p + 4, bl->cmd_offset);
			fake_bl_le32(p + 8, bl->cmd_crc);
		} else {
			fake_bl_le32(p, bl->data_max_claim_set ? bl->data_max_claim : bl->data_max);
			fake_bl_le32(p + 4, bl->data_offset);
			fake_bl_le32(p + 8, bl->data_crc);
		}
		fake_bl_reply(bl, op, 0x01, p, 12);
		return;
	case 0x01: { /* create */
		uint32_t size = (uint32_t)req[2] | ((uint32_t)req[3] << 8) |
				((uint32_t)req[4] << 16) | ((uint32_t)req[5] << 24);
		bl->current_object = req[1];
		bl->prn_count = bl->prn_target;
		if (req[1] == 1) {
			if (size > bl->cmd_max) {
				fake_bl_reply(bl, op, 0x04, NULL, 0);
				return;
			}
			bl->creates_command++;
			bl->cmd_size = size;
			bl->cmd_offset = 0;
			bl->cmd_crc = 0;
			bl->cmd_valid = false;
			/* a new init command resets the data progress */
			bl->offset_last = bl->crc_last = 0;
			bl->data_offset = bl->data_crc = 0;
			bl->object_size = 0;
			fake_bl_reply(bl, op, 0x01, NULL, 0);
			return;
		}
		if (!bl->cmd_valid) {
			fake_bl_reply(bl, op, 0x08, NULL, 0);
			return;
		}
		if (size == 0 ||
		    ((size % bl->data_max) != 0 && bl->offset_last + size != bl->image_size)) {
			fake_bl_reply(bl, op, 0x03, NULL, 0);
			return;
		}
		if (size > bl->data_max) {
			fake_bl_reply(bl, op, 0x04, NULL, 0);
			return;
		}
		if (bl->offset_last + size > bl->image_size) {
			fake_bl_reply(bl, op, 0x08, NULL, 0);
			return;
		}
		bl->creates_data++;
		bl->object_size = size;
		bl->data_offset = bl->offset_last;
		bl->data_crc = bl->crc_last;
		memset(bl->flash + bl->offset_last, 0xFF, size);
		fake_bl_reply(bl, op, 0x01, NULL, 0);
		return;
	}
	case 0x08: { /* write */
		const uint8_t *data = req + 1;
		size_t n = len - 1;
		if (bl->current_object == 1) {
			if (bl->cmd_offset + n > bl->cmd_size ||
			    bl->cmd_offset + n > sizeof(bl->cmd)) {
				fake_bl_after_write(bl, 0x03, 0, 0);
				return;
			}
			memcpy(bl->cmd + bl->cmd_offset, data, n);
			bl->cmd_crc = fake_bl_crc32(bl->cmd_crc, data, n);
			bl->cmd_offset += (uint32_t)n;
			fake_bl_after_write(bl, 0x01, bl->cmd_offset, bl->cmd_crc);
			return;
		}
		bl->data_writes++;
		if (!bl->cmd_valid || (bl->data_offset - bl->offset_last) + n > bl->object_size ||
		    bl->data_offset + n > sizeof(bl->flash)) {
			fake_bl_after_write(bl, 0x03, 0, 0);
			return;
		}
		memcpy(bl->flash + bl->data_offset, data, n);
		if (bl->corrupt_data_write == bl->data_writes)
			bl->flash[bl->data_offset] ^= 0x5A;
		bl->data_crc = fake_bl_crc32(bl->data_crc, bl->flash + bl->data_offset, n);
		bl->data_offset += (uint32_t)n;
		fake_bl_after_write(bl, 0x01, bl->data_offset, bl->data_crc);
		return;
	}
	case 0x03: /* CRC */
		if (bl->current_object == 1) {
			fake_bl_le32(p, bl->cmd_offset);
			fake_bl_le32(p + 4, bl->cmd_crc);
		} else {
			fake_bl_le32(p, bl->data_offset);
			fake_bl_le32(p + 4, bl->data_crc);
		}
		fake_bl_reply(bl, op, 0x01, p, 8);
		return;
	case 0x04: /* execute */
		if (bl->current_object == 1) {
			if (bl->cmd_size == 0 || bl->cmd_offset != bl->cmd_size) {
				fake_bl_reply(bl, op, 0x08, NULL, 0);
				return;
			}
			if (bl->error_op != 0x04 || bl->error_result == 0x01)
				bl->cmd_valid = true;
			fake_bl_reply(bl, op, 0x01, NULL, 0);
			return;
		}
		if (bl->object_size == 0 && bl->data_offset == bl->offset_last) {
			bl->double_executes++;
			if (bl->strict_double_execute) {
				fake_bl_reply(bl, op, 0x08, NULL, 0);
				return;
			}
		}
		if (bl->data_offset - bl->offset_last != bl->object_size) {
			fake_bl_reply(bl, op, 0x08, NULL, 0);
			return;
		}
		bl->executes_data++;
		bl->object_size = 0;
		if (bl->drop_data_execute_replies) {
			bl->offset_last = bl->data_offset;
			bl->crc_last = bl->data_crc;
			return;
		}
		bl->offset_last = bl->data_offset;
		bl->crc_last = bl->data_crc;
		if (bl->data_offset == bl->image_size) {
			if (bl->data_crc != bl->image_crc) {
				uint8_t buf[4] = {0x60, 0x04, 0x0B, 0x0A};
				fake_bl_send(bl, buf, 4);
				return;
			}
			bl->activated = true;
		}
		fake_bl_reply(bl, op, 0x01, NULL, 0);
		return;
	default:
		fake_bl_reply(bl, op, 0x02, NULL, 0);
		return;
	}
}

void
fake_bl_receive(FakeBl *bl, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		bl->frame_bytes++;
		if (c == 0xC0) {
			if (bl->frame_bytes > bl->largest_frame)
				bl->largest_frame = bl->frame_bytes;
			bl->frame_bytes = 0;
			if (bl->rx_state == RX_DECODING && bl->rx_len > 0)
				fake_bl_handle(bl, bl->rx, bl->rx_len);
			bl->rx_len = 0;
			bl->rx_state = RX_DECODING;
			continue;
		}
		if (bl->rx_state == RX_DROP)
			continue;
		if (bl->rx_state == RX_ESC) {
			if (c != 0xDC && c != 0xDD) {
				bl->rx_state = RX_DROP;
				continue;
			}
			c = c == 0xDC ? 0xC0 : 0xDB;
			bl->rx_state = RX_DECODING;
		} else if (c == 0xDB) {
			bl->rx_state = RX_ESC;
			continue;
		}
		if (bl->rx_len >= sizeof(bl->rx)) {
			bl->rx_state = RX_DROP;
			continue;
		}
		bl->rx[bl->rx_len++] = c;
	}
}
