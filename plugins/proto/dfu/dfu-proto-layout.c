/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dfu-proto.h"
#include "proto-format.h"

/*
 * The DfuSe memory layout string: `@Name/0xADDR/NN*SSSxy[,NN*SSSxy]...[/0xADDR/...]`.
 * A cursor over (buffer, length) so nothing ever reads past the length or a NUL.
 */
typedef struct {
	const char *buf;
	size_t len;
	size_t pos;
} LayoutCursor;

static int
layout_peek(const LayoutCursor *c)
{
	if (c->pos >= c->len || c->buf[c->pos] == '\0')
		return -1;
	return (unsigned char)c->buf[c->pos];
}

static bool
layout_at_end(const LayoutCursor *c)
{
	return layout_peek(c) < 0;
}

static void
layout_skip_spaces(LayoutCursor *c)
{
	while (layout_peek(c) == ' ' || layout_peek(c) == '\t')
		c->pos++;
}

static bool
layout_accept(LayoutCursor *c, int ch)
{
	if (layout_peek(c) != ch)
		return false;
	c->pos++;
	return true;
}

static int
layout_hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* hex with or without 0x; false if no digit or past 32 bits */
static bool
layout_read_hex(LayoutCursor *c, uint32_t *out, bool *overflow)
{
	uint64_t value = 0;
	size_t digits = 0;

	*overflow = false;
	if (layout_peek(c) == '0' && c->pos + 1 < c->len &&
	    (c->buf[c->pos + 1] == 'x' || c->buf[c->pos + 1] == 'X'))
		c->pos += 2;
	for (int d; (d = layout_hex_digit(layout_peek(c))) >= 0; c->pos++) {
		value = value * 16 + (uint64_t)d;
		digits++;
		if (value > UINT32_MAX) {
			*overflow = true;
			return false;
		}
	}
	*out = (uint32_t)value;
	return digits > 0;
}

/* decimal, leading zeros allowed; false if no digit or past 32 bits */
static bool
layout_read_decimal(LayoutCursor *c, uint32_t *out, bool *overflow)
{
	uint64_t value = 0;
	size_t digits = 0;

	*overflow = false;
	for (int ch; (ch = layout_peek(c)) >= '0' && ch <= '9'; c->pos++) {
		value = value * 10 + (uint64_t)(ch - '0');
		digits++;
		if (value > UINT32_MAX) {
			*overflow = true;
			return false;
		}
	}
	*out = (uint32_t)value;
	return digits > 0;
}

/* every failure of the parser is a layout error */
#define layout_fail(msg, msg_size, ...)                                                            \
	proto_fail(DFU_PROTO_ERROR_LAYOUT, msg, msg_size, __VA_ARGS__)

/* `NN*SSSxy`: count, size with its multiplier, access letter */
static DfuProtoError
layout_read_group(LayoutCursor *c,
		  uint32_t *count,
		  uint32_t *size,
		  uint8_t *access,
		  char *msg,
		  size_t msg_size)
{
	size_t start = c->pos;
	uint64_t multiplier = 1;
	uint64_t bytes;
	bool overflow;
	int ch;

	layout_skip_spaces(c);
	if (!layout_read_decimal(c, count, &overflow))
		return layout_fail(msg,
				   msg_size,
				   "sector count %s at offset %zu",
				   overflow ? "past 32 bits" : "missing",
				   start);
	layout_skip_spaces(c);
	if (!layout_accept(c, '*'))
		return layout_fail(msg, msg_size, "'*' missing at offset %zu", c->pos);
	layout_skip_spaces(c);
	if (!layout_read_decimal(c, size, &overflow))
		return layout_fail(msg,
				   msg_size,
				   "sector size %s at offset %zu",
				   overflow ? "past 32 bits" : "missing",
				   c->pos);
	/* the multiplier, or a space or nothing for bytes (`01*016 e`) */
	layout_skip_spaces(c);
	ch = layout_peek(c);
	if (ch == 'B') {
		c->pos++;
	} else if (ch == 'K') {
		multiplier = 1024;
		c->pos++;
	} else if (ch == 'M') {
		multiplier = 1024 * 1024;
		c->pos++;
	}
	layout_skip_spaces(c);
	ch = layout_peek(c);
	if (ch < 'a' || ch > 'g')
		return layout_fail(msg,
				   msg_size,
				   "access letter a..g missing at offset %zu",
				   c->pos);
	c->pos++;
	*access = (uint8_t)(ch - 'a' + 1);
	bytes = (uint64_t)*size * multiplier;
	if (bytes > UINT32_MAX)
		return layout_fail(msg, msg_size, "sector size past 32 bits at offset %zu", start);
	if (bytes == 0)
		return layout_fail(msg, msg_size, "sector size 0 at offset %zu", start);
	*size = (uint32_t)bytes;
	return DFU_PROTO_ERROR_NONE;
}

static DfuProtoError
layout_add_group(DfuProtoLayout *out,
		 uint32_t address,
		 uint32_t count,
		 uint32_t size,
		 uint8_t access,
		 char *msg,
		 size_t msg_size)
{
	DfuProtoSectorGroup *group;
	unsigned i;

	if (out->group_count >= DFU_PROTO_LAYOUT_GROUPS_MAX)
		return layout_fail(msg,
				   msg_size,
				   "more than %u sector groups",
				   (unsigned)DFU_PROTO_LAYOUT_GROUPS_MAX);
	/* keep the table sorted: insertion from the end */
	for (i = out->group_count; i > 0 && out->groups[i - 1].address > address; i--)
		out->groups[i] = out->groups[i - 1];
	group = &out->groups[i];
	group->address = address;
	group->count = count;
	group->size = size;
	group->access = access;
	group->region = (uint8_t)(out->region_count - 1);
	out->group_count++;
	return DFU_PROTO_ERROR_NONE;
}

static uint64_t
layout_group_end(const DfuProtoSectorGroup *group)
{
	return (uint64_t)group->address + (uint64_t)group->count * group->size;
}

/* one `/0xADDR/groups` part; the cursor is after its leading '/' */
static DfuProtoError
layout_read_region(LayoutCursor *c, DfuProtoLayout *out, char *msg, size_t msg_size)
{
	uint32_t region_address;
	uint64_t address;
	bool overflow;
	DfuProtoError error;

	if (!layout_read_hex(c, &region_address, &overflow))
		return layout_fail(msg,
				   msg_size,
				   "region address %s at offset %zu",
				   overflow ? "past 32 bits" : "malformed",
				   c->pos);
	layout_skip_spaces(c);
	if (!layout_accept(c, '/'))
		return layout_fail(msg, msg_size, "'/' missing at offset %zu", c->pos);
	if (out->region_count >= DFU_PROTO_LAYOUT_GROUPS_MAX)
		return layout_fail(msg,
				   msg_size,
				   "more than %u regions",
				   (unsigned)DFU_PROTO_LAYOUT_GROUPS_MAX);
	out->region_count++;
	address = region_address;
	for (;;) {
		uint32_t count = 0;
		uint32_t size = 0;
		uint8_t access = 0;

		error = layout_read_group(c, &count, &size, &access, msg, msg_size);
		if (error != DFU_PROTO_ERROR_NONE)
			return error;
		/* count * size fits 64 bits: both are below 2^32 */
		if (address + (uint64_t)count * size > (uint64_t)UINT32_MAX + 1)
			return layout_fail(msg,
					   msg_size,
					   "region at 0x%08x runs past the 32-bit address space",
					   (unsigned)region_address);
		if (count > 0) {
			error = layout_add_group(out,
						 (uint32_t)address,
						 count,
						 size,
						 access,
						 msg,
						 msg_size);
			if (error != DFU_PROTO_ERROR_NONE)
				return error;
		}
		address += (uint64_t)count * size;
		layout_skip_spaces(c);
		if (!layout_accept(c, ','))
			return DFU_PROTO_ERROR_NONE;
	}
}

DfuProtoError
dfu_proto_layout_parse(const char *str, size_t len, DfuProtoLayout *out, char *msg, size_t msg_size)
{
	LayoutCursor c = {.buf = str, .len = str != NULL ? len : 0, .pos = 0};
	size_t name_start;
	size_t name_end;
	size_t name_len;

	memset(out, 0, sizeof(*out));
	if (msg != NULL && msg_size > 0)
		msg[0] = '\0';
	layout_skip_spaces(&c);
	if (!layout_accept(&c, '@'))
		return layout_fail(msg, msg_size, "not a DfuSe memory layout: no leading '@'");

	/* the name runs to the first '/' */
	name_start = c.pos;
	while (!layout_at_end(&c) && layout_peek(&c) != '/')
		c.pos++;
	name_end = c.pos;
	while (name_end > name_start && (str[name_end - 1] == ' ' || str[name_end - 1] == '\t'))
		name_end--;
	name_len = name_end - name_start;
	if (name_len > DFU_PROTO_LAYOUT_NAME_MAX - 1)
		name_len = DFU_PROTO_LAYOUT_NAME_MAX - 1;
	memcpy(out->name, str + name_start, name_len);
	out->name[name_len] = '\0';

	while (layout_accept(&c, '/')) {
		DfuProtoError error;

		layout_skip_spaces(&c);
		/* a trailing slash, or garbage where the next region would be */
		if (layout_hex_digit(layout_peek(&c)) < 0)
			break;
		error = layout_read_region(&c, out, msg, msg_size);
		if (error != DFU_PROTO_ERROR_NONE)
			return error;
		layout_skip_spaces(&c);
	}
	/* anything left after a complete group is tolerated: some devices append garbage */
	if (out->group_count == 0)
		return layout_fail(msg, msg_size, "no sector group in \"%s\"", out->name);
	for (unsigned i = 1; i < out->group_count; i++) {
		if (layout_group_end(&out->groups[i - 1]) > out->groups[i].address)
			return layout_fail(msg,
					   msg_size,
					   "sector groups at 0x%08x and 0x%08x overlap",
					   (unsigned)out->groups[i - 1].address,
					   (unsigned)out->groups[i].address);
	}
	return DFU_PROTO_ERROR_NONE;
}

bool
dfu_proto_layout_next_sector(const DfuProtoLayout *layout, uint64_t address, DfuProtoSector *out)
{
	for (unsigned i = 0; i < layout->group_count; i++) {
		const DfuProtoSectorGroup *group = &layout->groups[i];
		uint64_t index = 0;

		if (layout_group_end(group) <= address)
			continue;
		if (address > group->address)
			index = (address - group->address) / group->size;
		out->address = (uint32_t)(group->address + index * group->size);
		out->size = group->size;
		out->access = group->access;
		return true;
	}
	return false;
}

bool
dfu_proto_layout_find_sector(const DfuProtoLayout *layout, uint32_t address, DfuProtoSector *out)
{
	DfuProtoSector sector;

	if (!dfu_proto_layout_next_sector(layout, address, &sector) || sector.address > address)
		return false;
	*out = sector;
	return true;
}

bool
dfu_proto_layout_range_has_access(const DfuProtoLayout *layout,
				  uint32_t address,
				  uint64_t length,
				  uint8_t access)
{
	uint64_t cursor = address;
	const uint64_t end = (uint64_t)address + length;

	if (length == 0 || end > (uint64_t)UINT32_MAX + 1)
		return false;
	/* one group at a time: the groups are sorted, so a gap shows as a jump */
	while (cursor < end) {
		DfuProtoSector sector;
		const DfuProtoSectorGroup *group = NULL;

		if (!dfu_proto_layout_next_sector(layout, cursor, &sector) ||
		    sector.address > cursor || (sector.access & access) != access)
			return false;
		for (unsigned i = 0; i < layout->group_count; i++) {
			if (layout->groups[i].address <= cursor &&
			    layout_group_end(&layout->groups[i]) > cursor) {
				group = &layout->groups[i];
				break;
			}
		}
		if (group == NULL)
			return false;
		cursor = layout_group_end(group);
	}
	return true;
}
