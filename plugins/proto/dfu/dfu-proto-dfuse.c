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

/* the DfuSe update plan: validation, the erase walk and the write walk, no allocation */

uint32_t
dfu_proto_dfuse_erase_bound_ms(uint32_t sector_size)
{
	uint64_t kib = ((uint64_t)sector_size + 1023) / 1024;
	uint64_t bound = kib * DFU_PROTO_DFUSE_ERASE_MS_PER_KIB;

	if (bound < DFU_PROTO_DFUSE_BUSY_FLOOR_MS)
		return DFU_PROTO_DFUSE_BUSY_FLOOR_MS;
	if (bound > DFU_PROTO_BUSY_BUDGET_MS)
		return DFU_PROTO_BUSY_BUDGET_MS;
	return (uint32_t)bound;
}

uint32_t
dfu_proto_dfuse_write_bound_ms(uint32_t block_length)
{
	uint64_t bound =
	    ((uint64_t)block_length * DFU_PROTO_DFUSE_PROGRAM_US_PER_BYTE + 999) / 1000;

	if (bound < DFU_PROTO_DFUSE_BUSY_FLOOR_MS)
		return DFU_PROTO_DFUSE_BUSY_FLOOR_MS;
	if (bound > DFU_PROTO_BUSY_BUDGET_MS)
		return DFU_PROTO_BUSY_BUDGET_MS;
	return (uint32_t)bound;
}

/* the order of dfu_proto_dfuse_sort_elements(): a total order over every field */
static int
dfuse_element_cmp(const DfuProtoElement *a, const DfuProtoElement *b)
{
	if (a->address != b->address)
		return a->address < b->address ? -1 : 1;
	/* equal addresses overlap whatever the order; keep the file's for the message */
	if (a->image_offset != b->image_offset)
		return a->image_offset < b->image_offset ? -1 : 1;
	if (a->length != b->length)
		return a->length < b->length ? -1 : 1;
	return 0;
}

/* moves elements[root] down the max-heap of the first @count elements */
static void
dfuse_element_sift_down(DfuProtoElement *elements, size_t root, size_t count)
{
	for (;;) {
		size_t child = 2 * root + 1;
		DfuProtoElement tmp;

		if (child >= count)
			return;
		if (child + 1 < count &&
		    dfuse_element_cmp(&elements[child], &elements[child + 1]) < 0)
			child++;
		if (dfuse_element_cmp(&elements[root], &elements[child]) >= 0)
			return;
		tmp = elements[root];
		elements[root] = elements[child];
		elements[child] = tmp;
		root = child;
	}
}

/* heapsort: in place, no allocation (qsort may allocate), O(n log n) even for a hostile file */
void
dfu_proto_dfuse_sort_elements(DfuProtoElement *elements, size_t element_count)
{
	if (elements == NULL || element_count < 2)
		return;
	for (size_t i = element_count / 2; i > 0; i--)
		dfuse_element_sift_down(elements, i - 1, element_count);
	for (size_t end = element_count - 1; end > 0; end--) {
		DfuProtoElement tmp = elements[0];
		elements[0] = elements[end];
		elements[end] = tmp;
		dfuse_element_sift_down(elements, 0, end);
	}
}

DfuProtoError
dfu_proto_dfuse_validate(const DfuProtoLayout *layout,
			 const DfuProtoElement *elements,
			 size_t element_count,
			 char *msg,
			 size_t msg_size)
{
	const DfuProtoElement *previous = NULL;
	size_t previous_index = 0;
	uint64_t previous_end = 0;
	uint64_t total = 0;

	if (msg != NULL && msg_size > 0)
		msg[0] = '\0';
	if (layout == NULL || (elements == NULL && element_count > 0))
		return proto_fail(DFU_PROTO_ERROR_INVALID_ARGUMENT,
				  msg,
				  msg_size,
				  "no memory layout or no elements given");
	for (size_t i = 0; i < element_count; i++) {
		const DfuProtoElement *e = &elements[i];
		const uint64_t end = (uint64_t)e->address + e->length;

		if (e->length == 0)
			continue;
		if (e->image_offset > SIZE_MAX - e->length)
			return proto_fail(DFU_PROTO_ERROR_INVALID_ARGUMENT,
					  msg,
					  msg_size,
					  "element %zu: image offset %zu plus %u bytes overflows",
					  i,
					  e->image_offset,
					  (unsigned)e->length);
		if (!dfu_proto_layout_range_has_access(layout,
						       e->address,
						       e->length,
						       DFU_PROTO_DFUSE_ACCESS_WRITE))
			return proto_fail(
			    DFU_PROTO_ERROR_ADDRESS,
			    msg,
			    msg_size,
			    "firmware element %zu (0x%08x..0x%08llx, %u bytes) is not "
			    "entirely inside writable memory of \"%s\": the firmware is "
			    "not built for this device or this memory; nothing was "
			    "erased or written",
			    i,
			    (unsigned)e->address,
			    (unsigned long long)(end - 1),
			    (unsigned)e->length,
			    layout->name);
		/* sorted input makes the overlap check one comparison with the element before */
		if (previous != NULL && e->address < previous_end) {
			const DfuProtoElement *o = previous;
			if (e->address < o->address)
				return proto_fail(
				    DFU_PROTO_ERROR_INVALID_ARGUMENT,
				    msg,
				    msg_size,
				    "firmware elements %zu (0x%08x) and %zu (0x%08x) are not in "
				    "address order",
				    previous_index,
				    (unsigned)o->address,
				    i,
				    (unsigned)e->address);
			/* addresses, not indices: the caller's sort renumbered the file's elements
			 */
			return proto_fail(
			    DFU_PROTO_ERROR_INVALID_ARGUMENT,
			    msg,
			    msg_size,
			    "firmware elements at 0x%08x (%u bytes) and 0x%08x (%u bytes) "
			    "overlap at 0x%08x: the firmware file is malformed",
			    (unsigned)o->address,
			    (unsigned)o->length,
			    (unsigned)e->address,
			    (unsigned)e->length,
			    (unsigned)e->address);
		}
		previous = e;
		previous_index = i;
		previous_end = end;
		total += e->length;
	}
	if (total == 0)
		return proto_fail(DFU_PROTO_ERROR_INVALID_ARGUMENT,
				  msg,
				  msg_size,
				  "nothing to write: the firmware has no data");
	if (total > SIZE_MAX)
		return proto_fail(DFU_PROTO_ERROR_INVALID_ARGUMENT,
				  msg,
				  msg_size,
				  "the firmware is larger than this host can address");
	return DFU_PROTO_ERROR_NONE;
}

/*
 * The lowest sector at or above @cursor that some element touches, whatever its access.
 * Sectors come from the sorted layout and elements are sorted and disjoint, so walking the
 * cursor upward visits each sector once and *@index (the first element not yet done) only
 * moves forward: the whole walk is linear in elements plus sectors.
 */
static bool
dfuse_plan_touched_sector(const DfuProtoDfusePlan *plan,
			  size_t *index,
			  uint64_t cursor,
			  DfuProtoSector *out)
{
	for (; *index < plan->element_count; (*index)++) {
		const DfuProtoElement *e = &plan->elements[*index];
		const uint64_t end = (uint64_t)e->address + e->length;
		uint64_t from = e->address > cursor ? e->address : cursor;
		DfuProtoSector sector;

		if (e->length == 0 || from >= end)
			continue;
		if (!dfu_proto_layout_next_sector(plan->layout, from, &sector) ||
		    sector.address >= end)
			continue;
		/* a sector holding the cursor but starting below it was already handled */
		if (sector.address < cursor)
			continue;
		*out = sector;
		return true;
	}
	return false;
}

/* the next sector to erase (E bit), moving the cursor past it */
static bool
dfuse_plan_next_erase(const DfuProtoDfusePlan *plan,
		      size_t *index,
		      uint64_t *cursor,
		      DfuProtoSector *out)
{
	DfuProtoSector sector;

	while (dfuse_plan_touched_sector(plan, index, *cursor, &sector)) {
		*cursor = (uint64_t)sector.address + sector.size;
		/* writable but not erasable memory (OTP, option bytes) is written as it is */
		if ((sector.access & DFU_PROTO_DFUSE_ACCESS_ERASE) != 0) {
			*out = sector;
			return true;
		}
	}
	return false;
}

DfuProtoError
dfu_proto_dfuse_plan_init(DfuProtoDfusePlan *plan,
			  const DfuProtoLayout *layout,
			  const DfuProtoElement *elements,
			  size_t element_count,
			  uint16_t block_size,
			  unsigned flags,
			  char *msg,
			  size_t msg_size)
{
	DfuProtoError error;
	DfuProtoSector sector;
	uint64_t cursor = 0;
	size_t index = 0;

	memset(plan, 0, sizeof(*plan));
	plan->phase = DFU_PROTO_DFUSE_PHASE_END;
	if (block_size == 0)
		return proto_fail(DFU_PROTO_ERROR_INVALID_ARGUMENT,
				  msg,
				  msg_size,
				  "the block size is 0 bytes: a transfer size has to be set");
	error = dfu_proto_dfuse_validate(layout, elements, element_count, msg, msg_size);
	if (error != DFU_PROTO_ERROR_NONE)
		return error;
	plan->layout = layout;
	plan->elements = elements;
	plan->element_count = element_count;
	plan->block_size = block_size;
	plan->flags = flags;
	for (size_t i = 0; i < element_count; i++) {
		plan->write_bytes += elements[i].length;
		if (elements[i].length > 0 && plan->write_bytes == elements[i].length)
			plan->leave_address = elements[i].address;
	}
	if (flags & DFU_PROTO_DFUSE_FLAG_MASS_ERASE) {
		plan->erase_count = 1;
	} else {
		while (dfuse_plan_next_erase(plan, &index, &cursor, &sector)) {
			plan->erase_count++;
			plan->erase_bytes += sector.size;
		}
	}
	plan->phase = DFU_PROTO_DFUSE_PHASE_ERASE;
	return DFU_PROTO_ERROR_NONE;
}

void
dfu_proto_dfuse_plan_get_totals(const DfuProtoDfusePlan *plan,
				uint32_t *erase_count,
				uint64_t *erase_bytes,
				uint64_t *write_bytes)
{
	if (erase_count != NULL)
		*erase_count = plan->erase_count;
	if (erase_bytes != NULL)
		*erase_bytes = plan->erase_bytes;
	if (write_bytes != NULL)
		*write_bytes = plan->write_bytes;
}

/* the next data block or the set address it needs; false when every element is written */
static bool
dfuse_plan_next_write(DfuProtoDfusePlan *plan, DfuProtoDfuseStep *step)
{
	const DfuProtoElement *e;
	uint32_t length;
	uint64_t address;

	while (plan->element_index < plan->element_count &&
	       plan->element_offset >= plan->elements[plan->element_index].length) {
		plan->element_index++;
		plan->element_offset = 0;
	}
	if (plan->element_index >= plan->element_count)
		return false;
	e = &plan->elements[plan->element_index];
	length = e->length - plan->element_offset;
	if (length > plan->block_size)
		length = plan->block_size;
	address = (uint64_t)e->address + plan->element_offset;

	/*
	 * The device places block n at (n - 2) * wLength + pointer. A block continues the run
	 * only at the run's next address with the run's block size: a short block gets its own
	 * set address, since devices disagree whether the multiplier is wLength or
	 * wTransferSize, and block 2 lands on the pointer under either reading.
	 */
	if (!plan->set_address_sent && (!plan->run_open || address != plan->run_next_address ||
					length != plan->block_size || plan->run_block > 0xFFFF)) {
		plan->set_address_sent = true;
		plan->run_open = true;
		plan->run_next_address = address;
		plan->run_block = DFU_PROTO_DFUSE_BLOCK_FIRST;
		step->kind = DFU_PROTO_DFUSE_STEP_SET_ADDRESS;
		step->address = (uint32_t)address;
		return true;
	}
	plan->set_address_sent = false;
	step->kind = DFU_PROTO_DFUSE_STEP_WRITE;
	step->address = (uint32_t)address;
	step->length = length;
	step->block_number = (uint16_t)plan->run_block;
	step->image_offset = e->image_offset + plan->element_offset;
	plan->run_block++;
	plan->run_next_address = address + length;
	if (length != plan->block_size)
		plan->run_open = false;
	plan->element_offset += length;
	return true;
}

void
dfu_proto_dfuse_plan_next(DfuProtoDfusePlan *plan, DfuProtoDfuseStep *step)
{
	DfuProtoSector sector;

	memset(step, 0, sizeof(*step));
	switch (plan->phase) {
	case DFU_PROTO_DFUSE_PHASE_NONE:
	case DFU_PROTO_DFUSE_PHASE_ERASE:
		plan->phase = DFU_PROTO_DFUSE_PHASE_ERASE;
		if (plan->flags & DFU_PROTO_DFUSE_FLAG_MASS_ERASE) {
			if (plan->erase_cursor == 0) {
				plan->erase_cursor = 1;
				step->kind = DFU_PROTO_DFUSE_STEP_MASS_ERASE;
				return;
			}
		} else if (dfuse_plan_next_erase(plan,
						 &plan->erase_element,
						 &plan->erase_cursor,
						 &sector)) {
			step->kind = DFU_PROTO_DFUSE_STEP_ERASE;
			step->address = sector.address;
			step->length = sector.size;
			return;
		}
		plan->phase = DFU_PROTO_DFUSE_PHASE_WRITE;
		/* fall through */
	case DFU_PROTO_DFUSE_PHASE_WRITE:
		if (dfuse_plan_next_write(plan, step))
			return;
		plan->phase = DFU_PROTO_DFUSE_PHASE_LEAVE;
		if (plan->flags & DFU_PROTO_DFUSE_FLAG_LEAVE) {
			step->kind = DFU_PROTO_DFUSE_STEP_LEAVE;
			step->address = plan->leave_address;
			return;
		}
		/* fall through */
	case DFU_PROTO_DFUSE_PHASE_LEAVE:
	case DFU_PROTO_DFUSE_PHASE_END:
		plan->phase = DFU_PROTO_DFUSE_PHASE_END;
		step->kind = DFU_PROTO_DFUSE_STEP_END;
		return;
	}
}
