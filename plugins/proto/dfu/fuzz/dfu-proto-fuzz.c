/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * libFuzzer target for the DFU core. The low two bits of the first byte pick what to drive:
 *   0: the descriptor parser with the rest of the input;
 *   1: a DFU 1.1 session with functional attributes, transfer size, operation and size from
 *      the next bytes, then one record per action: a control byte (result and time step),
 *      for CONTROL_IN a length byte and that many reply bytes;
 *   2: the DfuSe layout parser and its queries with the rest of the input;
 *   3: a DfuSe session: a layout (a real one or fuzzer bytes), up to four elements, the
 *      operation, flags and quirks from the next bytes, then records as for 1.
 * The harness checks what the core promises its caller: DNLOAD/UPLOAD ranges inside the
 * image, waits within the named bound, progress never past the total, and an end; for
 * DfuSe also that nothing is erased or written when validation fails, that every erase is a
 * touched erasable sector, and that every data block lands where its image bytes belong.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu-proto.h"
#include "proto-fuzz.h"

#define FUZZ_STEPS_MAX 200000u

static void
fuzz_descriptors(const uint8_t *data, size_t len)
{
	DfuProtoDescriptors descs;
	char msg[128];

	if (dfu_proto_descriptors_parse(data, len, &descs, msg, sizeof(msg)) !=
	    DFU_PROTO_ERROR_NONE) {
		if (msg[0] == '\0')
			__builtin_trap();
		return;
	}
	if (descs.interface_count > DFU_PROTO_INTERFACES_MAX)
		__builtin_trap();
	for (unsigned i = 0; i < descs.interface_count; i++) {
		if (descs.interfaces[i].alt_count > DFU_PROTO_ALTS_MAX)
			__builtin_trap();
	}
	(void)dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_DFU);
	(void)dfu_proto_descriptors_find(&descs, DFU_PROTO_INTERFACE_PROTOCOL_RUNTIME);
}

/* a start that fails says why, in the session as the API promises */
static void
fuzz_check_start(const DfuProtoSession *s, DfuProtoError rc)
{
	const char *message = dfu_proto_session_get_message(s);

	if (rc == DFU_PROTO_ERROR_NONE)
		return;
	if (dfu_proto_session_get_error(s) != rc || message == NULL || message[0] == '\0')
		__builtin_trap();
}

static ProtoIo
fuzz_result(uint8_t control)
{
	switch (control & 0x07) {
	case 4:
		return PROTO_IO_STALL;
	case 5:
		return PROTO_IO_TIMEOUT;
	case 6:
		return PROTO_IO_NO_DEVICE;
	case 7:
		return PROTO_IO_ERROR;
	default:
		return PROTO_IO_OK;
	}
}

/* what every action promises; true when it ends the session */
static bool
fuzz_action_ends(const DfuProtoAction *a)
{
	if (a->kind == DFU_PROTO_ACTION_DONE)
		return true;
	if (a->kind == DFU_PROTO_ACTION_ERROR) {
		if (a->message == NULL || a->message[0] == '\0' || a->error == DFU_PROTO_ERROR_NONE)
			__builtin_trap();
		return true;
	}
	if (a->kind == DFU_PROTO_ACTION_WAIT &&
	    (a->wait_ms == 0 || a->wait_ms > DFU_PROTO_POLL_TIMEOUT_MAX_MS))
		__builtin_trap();
	return false;
}

/* the device's answer to @a and the time it takes, drawn from the input; once the input is
 * used up the device is gone, which must end every session */
static void
fuzz_answer(DfuProtoSession *s, FuzzInput *in, const DfuProtoAction *a, uint64_t *now_ms)
{
	uint8_t reply[512];
	size_t reply_len = 0;
	uint8_t control = fuzz_empty(in) ? 6 : fuzz_byte(in);
	ProtoIo result = fuzz_result(control);

	*now_ms += (uint64_t)(control >> 3) * 8;
	if (a->kind == DFU_PROTO_ACTION_WAIT)
		*now_ms += a->wait_ms;
	if (a->kind == DFU_PROTO_ACTION_CONTROL_IN && result == PROTO_IO_OK) {
		size_t want = fuzz_byte(in);
		/* mostly what was asked for, sometimes more or less */
		if (want >= 0xF0)
			want = a->length + (want & 0x03);
		else if (want >= 0x80)
			want = a->length;
		if (want > sizeof(reply))
			want = sizeof(reply);
		for (size_t i = 0; i < want; i++)
			reply[i] = fuzz_byte(in);
		reply_len = want;
	}
	dfu_proto_session_feed(s, result, reply, reply_len, *now_ms);
}

static void
fuzz_session(const uint8_t *data, size_t len)
{
	FuzzInput in = {.data = data, .len = len};
	DfuProtoFunctional functional = {0};
	DfuProtoSession s;
	uint64_t now_ms = (uint64_t)fuzz_byte(&in) << 20;
	uint8_t op;
	size_t total;
	uint16_t block_size;
	DfuProtoError rc;

	functional.attributes = fuzz_byte(&in);
	functional.detach_timeout_ms = (uint16_t)(fuzz_byte(&in) << 4);
	functional.transfer_size = fuzz_byte(&in);
	functional.dfu_version = DFU_PROTO_VERSION_DFU11;
	op = fuzz_byte(&in);
	total = (size_t)fuzz_byte(&in) | ((size_t)fuzz_byte(&in) << 8);
	block_size = (uint16_t)(fuzz_byte(&in) & 0x3F);

	dfu_proto_session_init(&s, &functional);
	if (op & 0x10)
		dfu_proto_session_set_busy_budget(&s, 2000);
	switch (op & 0x03) {
	case 0:
		rc = dfu_proto_session_start_download(&s, total, block_size);
		break;
	case 1:
		rc = dfu_proto_session_start_upload(&s, total, block_size);
		break;
	case 2:
		rc = dfu_proto_session_start_detach(&s);
		break;
	default:
		rc = dfu_proto_session_start_abort(&s);
		break;
	}
	fuzz_check_start(&s, rc);

	for (unsigned step = 0; step < FUZZ_STEPS_MAX; step++) {
		DfuProtoAction a;
		size_t done = 0;
		size_t progress_total = 0;

		dfu_proto_session_next(&s, now_ms, &a);
		dfu_proto_session_get_progress(&s, &done, &progress_total);
		if (done > progress_total)
			__builtin_trap();
		if (fuzz_action_ends(&a))
			return;
		if (a.payload == DFU_PROTO_PAYLOAD_IMAGE &&
		    (a.image_offset > total || a.length > total - a.image_offset))
			__builtin_trap();

		fuzz_answer(&s, &in, &a, &now_ms);
	}
	/* a bounded core cannot get here: the time or poll bound ends it first */
	__builtin_trap();
}

/* what the parser promises of a layout it accepted */
static void
fuzz_check_layout(const DfuProtoLayout *layout)
{
	DfuProtoSector sector;

	if (layout->group_count == 0 || layout->group_count > DFU_PROTO_LAYOUT_GROUPS_MAX)
		__builtin_trap();
	if (memchr(layout->name, '\0', sizeof(layout->name)) == NULL)
		__builtin_trap();
	for (unsigned i = 0; i < layout->group_count; i++) {
		const DfuProtoSectorGroup *g = &layout->groups[i];
		const uint64_t end = (uint64_t)g->address + (uint64_t)g->count * g->size;
		if (g->count == 0 || g->size == 0 || end > (uint64_t)UINT32_MAX + 1)
			__builtin_trap();
		if (i > 0 &&
		    (uint64_t)layout->groups[i - 1].address +
			    (uint64_t)layout->groups[i - 1].count * layout->groups[i - 1].size >
			g->address)
			__builtin_trap();
		if (!dfu_proto_layout_find_sector(layout, g->address, &sector) ||
		    sector.address != g->address || sector.size != g->size)
			__builtin_trap();
		if (!dfu_proto_layout_find_sector(layout, (uint32_t)(end - 1), &sector) ||
		    (uint64_t)sector.address + sector.size != end)
			__builtin_trap();
		(void)dfu_proto_layout_range_has_access(layout, g->address, end - g->address, 4);
	}
}

static void
fuzz_layout(const uint8_t *data, size_t len)
{
	DfuProtoLayout layout;
	char msg[128];

	if (dfu_proto_layout_parse((const char *)data, len, &layout, msg, sizeof(msg)) !=
	    DFU_PROTO_ERROR_NONE) {
		if (msg[0] == '\0')
			__builtin_trap();
		return;
	}
	fuzz_check_layout(&layout);
}

/* real layouts, small enough for plans to run to their end within an input */
static const char *const fuzz_layouts[] = {
    "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
    "@Internal Flash  /0x08000000/064*0002Kg",
    "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
    "@X/0x08000000/2*1Ka,2*1Kg,1*1Ke,2*2Kg/0x08010000/2*1Kf",
    "@Device Feature/0xFFFF0000/01*004 e",
};

/* appends to a layout string being built; what does not fit is cut, which the parser sees */
static void
fuzz_append(char *str, size_t str_size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fuzz_append(char *str, size_t str_size, size_t *len, const char *fmt, ...)
{
	va_list args;
	int n;

	if (*len >= str_size - 1)
		return;
	va_start(args, fmt);
	n = vsnprintf(str + *len, str_size - *len, fmt, args);
	va_end(args);
	if (n > 0)
		*len = *len + (size_t)n < str_size - 1 ? *len + (size_t)n : str_size - 1;
}

static uint32_t
fuzz_u16(FuzzInput *in)
{
	return (uint32_t)fuzz_byte(in) << 8 | fuzz_byte(in);
}

static uint32_t
fuzz_u32(FuzzInput *in)
{
	return fuzz_u16(in) << 16 | fuzz_u16(in);
}

/*
 * A layout string built from the input: up to 8 regions of up to 12 sector groups each (so
 * past DFU_PROTO_LAYOUT_GROUPS_MAX at times), each region starting at 0, where the previous
 * one ended, a little before it (overlapping), just below 4 GiB (wrapping when its sectors
 * run past it) or anywhere; sectors of 1 to 256 bytes, KiB or MiB with any access letter.
 * The parser decides; a refused string must say why.
 */
static bool
fuzz_layout_generate(FuzzInput *in, DfuProtoLayout *layout)
{
	static const char units[] = {' ', 'K', 'M', 'B'};
	char str[1024];
	char msg[128];
	size_t len = 0;
	uint64_t end = 0;
	unsigned regions = fuzz_byte(in) % 8 + 1;

	fuzz_append(str, sizeof(str), &len, "@Fuzz");
	for (unsigned r = 0; r < regions; r++) {
		uint8_t mode = fuzz_byte(in);
		unsigned groups = fuzz_byte(in) % 12 + 1;
		uint64_t address;

		switch (mode & 0x07) {
		case 0:
			address = fuzz_byte(in);
			break;
		case 1:
		case 2:
			address = end;
			break;
		case 3:
			address = end - (end < 0x100 ? end : fuzz_byte(in));
			break;
		case 4:
		case 5:
			address = UINT32_MAX - fuzz_u16(in);
			break;
		default:
			address = fuzz_u32(in);
			break;
		}
		address &= UINT32_MAX;
		end = address;
		fuzz_append(str, sizeof(str), &len, "/0x%08X/", (unsigned)address);
		for (unsigned g = 0; g < groups; g++) {
			uint8_t shape = fuzz_byte(in);
			unsigned count = fuzz_byte(in) % 33; /* 0 is refused */
			unsigned size = (unsigned)fuzz_byte(in) + 1;
			char unit = units[shape & 0x03];
			char access = (char)('a' + (shape >> 2) % 8); /* 'h' is refused */
			uint64_t factor = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;

			fuzz_append(str,
				    sizeof(str),
				    &len,
				    "%s%02u*%03u%c%c",
				    g > 0 ? "," : "",
				    count,
				    size,
				    unit,
				    access);
			end += (uint64_t)count * size * factor;
		}
	}
	if (dfu_proto_layout_parse(str, len, layout, msg, sizeof(msg)) != DFU_PROTO_ERROR_NONE) {
		if (msg[0] == '\0')
			__builtin_trap();
		return false;
	}
	fuzz_check_layout(layout);
	return true;
}

#define FUZZ_ELEMENTS_MAX 8

/*
 * dfu_proto_dfuse_sort_elements() kept every element of @before (the file's elements, each
 * at its own image offset) and put them in address order, equal addresses in file order.
 */
static void
fuzz_check_sorted(const DfuProtoElement *before, const DfuProtoElement *after, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t found = 0;
		if (i > 0 && (after[i - 1].address > after[i].address ||
			      (after[i - 1].address == after[i].address &&
			       after[i - 1].image_offset >= after[i].image_offset)))
			__builtin_trap();
		for (size_t j = 0; j < count; j++) {
			if (before[j].image_offset == after[i].image_offset &&
			    before[j].address == after[i].address &&
			    before[j].length == after[i].length)
				found++;
		}
		if (found != 1)
			__builtin_trap();
	}
}

/*
 * Elements as a DfuSe file may hold them: near the layout's groups, from 0, just below 4 GiB
 * (running past it) or anywhere, overlapping or not; their image bytes back to back in file
 * order, never empty (the plugin drops empty ones); then sorted by the core's
 * dfu_proto_dfuse_sort_elements(), as plugins/dfu-core/fu-dfu-core-dfuse.c sorts them before
 * handing them to the session.
 */
static size_t
fuzz_elements(FuzzInput *in, const DfuProtoLayout *layout, DfuProtoElement *elements, size_t *size)
{
	DfuProtoElement file_order[FUZZ_ELEMENTS_MAX];
	size_t count = 0;
	size_t wanted = fuzz_byte(in) % (FUZZ_ELEMENTS_MAX + 1);

	*size = 0;
	for (size_t i = 0; i < wanted; i++) {
		const DfuProtoSectorGroup *g = &layout->groups[fuzz_byte(in) % layout->group_count];
		uint8_t mode = fuzz_byte(in);
		uint32_t delta = fuzz_u16(in) * ((mode & 0x08) ? 1 : 4);
		uint32_t length = fuzz_u16(in);
		uint32_t address;

		switch (mode >> 5) {
		case 0:
			address = delta;
			break;
		case 1:
			address = UINT32_MAX - delta;
			break;
		case 2:
			address = fuzz_u32(in);
			break;
		case 3:
			address = g->address - delta;
			break;
		default:
			address = g->address + delta;
			break;
		}
		if (mode & 0x40)
			length &= 0xFF;
		if (length == 0)
			continue;
		elements[count].address = address;
		elements[count].length = length;
		elements[count].image_offset = *size;
		*size += length;
		count++;
	}
	memcpy(file_order, elements, count * sizeof(elements[0]));
	dfu_proto_dfuse_sort_elements(elements, count);
	fuzz_check_sorted(file_order, elements, count);
	return count;
}

/* the element holding image bytes [offset, offset + length), or NULL if none holds them all */
static const DfuProtoElement *
fuzz_element_for(const DfuProtoElement *elements, size_t count, size_t offset, size_t length)
{
	for (size_t i = 0; i < count; i++) {
		const DfuProtoElement *e = &elements[i];
		if (offset >= e->image_offset && offset - e->image_offset < e->length)
			return length <= e->length - (offset - e->image_offset) ? e : NULL;
	}
	return NULL;
}

/* true if some element has bytes in the sector [address, address + size) */
static bool
fuzz_sector_touched(const DfuProtoElement *elements, size_t count, uint32_t address, uint32_t size)
{
	for (size_t i = 0; i < count; i++) {
		const DfuProtoElement *e = &elements[i];
		if (e->length > 0 && e->address < (uint64_t)address + size &&
		    address < (uint64_t)e->address + e->length)
			return true;
	}
	return false;
}

/*
 * The plan alone: it exists exactly when validation passes, and then erases only erasable
 * sectors some element touches, each once and in address order, writes only writable memory
 * with every image byte written once where its element puts it, and ends.
 */
static void
fuzz_dfuse_plan(const DfuProtoLayout *layout,
		const DfuProtoElement *elements,
		size_t count,
		size_t image_size,
		uint16_t block_size,
		unsigned flags)
{
	DfuProtoDfusePlan plan;
	DfuProtoError rc;
	char msg[160] = {0};
	char vmsg[160] = {0};
	bool valid;
	bool erased_any = false;
	uint64_t erase_next = 0;
	uint64_t written = 0;
	size_t steps_max = 16;

	valid = dfu_proto_dfuse_validate(layout, elements, count, vmsg, sizeof(vmsg)) ==
		DFU_PROTO_ERROR_NONE;
	if (!valid && vmsg[0] == '\0')
		__builtin_trap();
	rc = dfu_proto_dfuse_plan_init(&plan,
				       layout,
				       elements,
				       count,
				       block_size,
				       flags,
				       msg,
				       sizeof(msg));
	if (rc != DFU_PROTO_ERROR_NONE) {
		/* a valid list is refused only for a block size of 0 */
		if (msg[0] == '\0' || (valid && block_size != 0))
			__builtin_trap();
		return;
	}
	if (!valid)
		__builtin_trap();

	/* every sector and every block at most once, plus the set addresses and the leave */
	for (size_t i = 0; i < count; i++)
		steps_max += 3 * ((size_t)elements[i].length + 1);
	for (size_t n = 0;; n++) {
		DfuProtoDfuseStep step;
		const DfuProtoElement *e;
		DfuProtoSector sector;

		if (n > steps_max)
			__builtin_trap();
		dfu_proto_dfuse_plan_next(&plan, &step);
		switch (step.kind) {
		case DFU_PROTO_DFUSE_STEP_ERASE:
			if (!dfu_proto_layout_find_sector(layout, step.address, &sector) ||
			    sector.address != step.address || sector.size != step.length ||
			    (sector.access & DFU_PROTO_DFUSE_ACCESS_ERASE) == 0 ||
			    (sector.access & DFU_PROTO_DFUSE_ACCESS_WRITE) == 0 ||
			    !fuzz_sector_touched(elements, count, step.address, step.length) ||
			    (erased_any && step.address < erase_next) ||
			    (flags & DFU_PROTO_DFUSE_FLAG_MASS_ERASE) != 0)
				__builtin_trap();
			erased_any = true;
			erase_next = (uint64_t)step.address + step.length;
			break;
		case DFU_PROTO_DFUSE_STEP_MASS_ERASE:
			if ((flags & DFU_PROTO_DFUSE_FLAG_MASS_ERASE) == 0)
				__builtin_trap();
			break;
		case DFU_PROTO_DFUSE_STEP_WRITE:
			e = fuzz_element_for(elements, count, step.image_offset, step.length);
			if (e == NULL || step.length == 0 ||
			    step.address != e->address + (step.image_offset - e->image_offset) ||
			    !dfu_proto_layout_range_has_access(layout,
							       step.address,
							       step.length,
							       DFU_PROTO_DFUSE_ACCESS_WRITE))
				__builtin_trap();
			written += step.length;
			break;
		case DFU_PROTO_DFUSE_STEP_SET_ADDRESS:
			break;
		case DFU_PROTO_DFUSE_STEP_LEAVE:
			if ((flags & DFU_PROTO_DFUSE_FLAG_LEAVE) == 0 ||
			    step.address != elements[0].address)
				__builtin_trap();
			break;
		case DFU_PROTO_DFUSE_STEP_END:
			if (written != image_size)
				__builtin_trap();
			return;
		default:
			__builtin_trap();
		}
	}
}

/* where the device puts data blocks: its address pointer, as the harness tracks it */
typedef struct {
	uint32_t pointer;
	bool pointer_set;
} FuzzDfuseDevice;

static void
fuzz_check_dfuse_action(const DfuProtoAction *a,
			const DfuProtoLayout *layout,
			const DfuProtoElement *elements,
			size_t element_count,
			size_t image_size,
			bool download,
			FuzzDfuseDevice *dev)
{
	if (a->kind != DFU_PROTO_ACTION_CONTROL_OUT || a->request != DFU_PROTO_REQUEST_DNLOAD) {
		if (a->payload == DFU_PROTO_PAYLOAD_IMAGE &&
		    (a->image_offset > image_size || a->length > image_size - a->image_offset))
			__builtin_trap();
		return;
	}
	if (a->value == 0) {
		uint32_t address;
		DfuProtoSector sector;
		bool touched = false;

		if (a->payload != DFU_PROTO_PAYLOAD_BYTES || a->bytes == NULL ||
		    (a->length != 1 && a->length != 5))
			__builtin_trap();
		if (a->length != 5)
			return;
		address = (uint32_t)a->bytes[1] | ((uint32_t)a->bytes[2] << 8) |
			  ((uint32_t)a->bytes[3] << 16) | ((uint32_t)a->bytes[4] << 24);
		if (a->bytes[0] == DFU_PROTO_DFUSE_CMD_SET_ADDRESS) {
			dev->pointer = address;
			dev->pointer_set = true;
			return;
		}
		if (a->bytes[0] != DFU_PROTO_DFUSE_CMD_ERASE || !download)
			__builtin_trap();
		/* an erase: the start of an erasable sector some element touches */
		if (!dfu_proto_layout_find_sector(layout, address, &sector) ||
		    sector.address != address ||
		    (sector.access & DFU_PROTO_DFUSE_ACCESS_ERASE) == 0)
			__builtin_trap();
		for (size_t i = 0; i < element_count; i++) {
			const DfuProtoElement *e = &elements[i];
			if (e->length > 0 && e->address < (uint64_t)address + sector.size &&
			    address < (uint64_t)e->address + e->length)
				touched = true;
		}
		if (!touched)
			__builtin_trap();
		return;
	}
	if (a->length == 0)
		return; /* the leave */
	if (!download || a->payload != DFU_PROTO_PAYLOAD_IMAGE || a->value < 2 || !dev->pointer_set)
		__builtin_trap();
	{
		/* AN2662: the block lands at (wValue - 2) * wLength + pointer */
		uint64_t address = (uint64_t)(a->value - 2) * a->length + dev->pointer;
		for (size_t i = 0; i < element_count; i++) {
			const DfuProtoElement *e = &elements[i];
			if (a->image_offset < e->image_offset ||
			    a->image_offset >= e->image_offset + e->length)
				continue;
			if (a->image_offset + a->length > e->image_offset + e->length ||
			    address != e->address + (a->image_offset - e->image_offset))
				__builtin_trap();
			if (!dfu_proto_layout_range_has_access(layout,
							       (uint32_t)address,
							       a->length,
							       DFU_PROTO_DFUSE_ACCESS_WRITE))
				__builtin_trap();
			return;
		}
		__builtin_trap();
	}
}

static void
fuzz_dfuse_session(const uint8_t *data, size_t len)
{
	FuzzInput in = {.data = data, .len = len};
	DfuProtoFunctional functional = {0};
	DfuProtoLayout layout;
	DfuProtoElement elements[FUZZ_ELEMENTS_MAX];
	DfuProtoSession s;
	FuzzDfuseDevice dev = {0};
	uint64_t now_ms = (uint64_t)fuzz_byte(&in) << 20;
	size_t element_count;
	size_t image_size = 0;
	uint8_t sel;
	uint8_t op;
	bool download = false;
	bool valid = true;
	DfuProtoError start_error = DFU_PROTO_ERROR_NONE;

	functional.attributes = fuzz_byte(&in);
	functional.transfer_size = (uint16_t)(fuzz_byte(&in) * 8);
	functional.dfu_version = DFU_PROTO_VERSION_DFUSE;

	sel = fuzz_byte(&in);
	if (sel >= 0xF0) {
		char str[96];
		size_t n = fuzz_byte(&in) % sizeof(str);
		for (size_t i = 0; i < n; i++)
			str[i] = (char)fuzz_byte(&in);
		if (dfu_proto_layout_parse(str, n, &layout, NULL, 0) != DFU_PROTO_ERROR_NONE)
			sel = 0;
	} else if (sel >= 0xC0) {
		if (!fuzz_layout_generate(&in, &layout))
			return;
	}
	if (sel < 0xC0) {
		const char *str =
		    fuzz_layouts[sel % (sizeof(fuzz_layouts) / sizeof(fuzz_layouts[0]))];
		if (dfu_proto_layout_parse(str, strlen(str), &layout, NULL, 0) !=
		    DFU_PROTO_ERROR_NONE)
			__builtin_trap();
	}

	element_count = fuzz_elements(&in, &layout, elements, &image_size);

	dfu_proto_session_init(&s, &functional);
	op = fuzz_byte(&in);
	if (op & 0x08)
		dfu_proto_session_set_busy_budget(&s, 3000);
	dfu_proto_session_set_dfuse_quirks(&s, (op >> 4) & 0x03);
	if (op & 0x40)
		dfu_proto_session_set_min_poll_interval(&s, fuzz_byte(&in));
	switch (op % 6) {
	case 0: {
		unsigned flags = fuzz_byte(&in) & 0x03;
		uint16_t block_size = (uint16_t)(fuzz_byte(&in) & 0x7F);
		download = true;
		valid = dfu_proto_dfuse_validate(&layout, elements, element_count, NULL, 0) ==
			DFU_PROTO_ERROR_NONE;
		/* block size 0 is wTransferSize, which the plan is not told */
		fuzz_dfuse_plan(&layout,
				elements,
				element_count,
				image_size,
				block_size != 0 ? block_size : functional.transfer_size,
				flags);
		start_error = dfu_proto_session_start_dfuse_download(&s,
								     &layout,
								     elements,
								     element_count,
								     block_size,
								     flags);
		if (!valid && start_error == DFU_PROTO_ERROR_NONE)
			__builtin_trap();
		fuzz_check_start(&s, start_error);
		break;
	}
	case 1: {
		uint32_t address = layout.groups[0].address + fuzz_byte(&in);
		size_t max_bytes = (size_t)fuzz_byte(&in) << 4 | fuzz_byte(&in);
		image_size = max_bytes;
		fuzz_check_start(
		    &s,
		    dfu_proto_session_start_dfuse_upload(&s,
							 (op & 0x80) ? NULL : &layout,
							 address,
							 max_bytes,
							 (uint16_t)(fuzz_byte(&in) & 0x3F)));
		break;
	}
	case 2:
		fuzz_check_start(&s, dfu_proto_session_start_dfuse_mass_erase(&s));
		break;
	case 3:
		fuzz_check_start(&s, dfu_proto_session_start_dfuse_read_unprotect(&s));
		break;
	case 4:
		fuzz_check_start(&s, dfu_proto_session_start_dfuse_get_commands(&s));
		break;
	default:
		fuzz_check_start(&s,
				 dfu_proto_session_start_dfuse_leave(&s, layout.groups[0].address));
		break;
	}

	for (unsigned step = 0; step < FUZZ_STEPS_MAX; step++) {
		DfuProtoAction a;
		DfuProtoDfuseProgress progress;

		dfu_proto_session_next(&s, now_ms, &a);
		dfu_proto_session_get_dfuse_progress(&s, &progress);
		if (progress.write_bytes_done > progress.write_bytes_total ||
		    progress.erases_done > progress.erases_total ||
		    progress.erase_bytes_done > progress.erase_bytes_total)
			__builtin_trap();
		if (fuzz_action_ends(&a))
			return;
		if (start_error != DFU_PROTO_ERROR_NONE)
			__builtin_trap(); /* a refused start sends nothing */
		fuzz_check_dfuse_action(&a,
					&layout,
					elements,
					element_count,
					image_size,
					download,
					&dev);

		fuzz_answer(&s, &in, &a, &now_ms);
	}
	__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const FuzzDriver drivers[] = {
	    fuzz_descriptors,
	    fuzz_session,
	    fuzz_layout,
	    fuzz_dfuse_session,
	};
	return fuzz_run_picked(data, size, drivers);
}
