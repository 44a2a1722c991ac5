/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-flashlog.h"

#include <math.h>

gdouble
usbsim_bus_cost_us(gsize bytes)
{
	return USBSIM_BUS_FIXED_US + bytes * 1000.0 / USBSIM_BUS_BYTES_PER_MS;
}

/*
 * From the start of the status read that starts an operation of @busy_us, reported as
 * @report_ms, to the end of the status read that sees it done, for a host with no latency
 * that waits each poll timeout exactly: while the device is busy, each read answers with the
 * time left rounded up to a whole millisecond (the models' rule), or 0 for a device that
 * always reports 0 (@rest_reported FALSE), then read after read. Scale 1.0.
 */
gdouble
usbsim_poll_sequence_us(gdouble busy_us, guint32 report_ms, gboolean rest_reported)
{
	gdouble status_us = usbsim_bus_cost_us(6);
	gdouble wait_us = report_ms * 1000.0;
	gdouble at_us = 0; /* the arrival of the latest status read */

	for (;;) {
		at_us += status_us + wait_us;
		if (at_us >= busy_us)
			return at_us + status_us;
		wait_us = rest_reported ? MAX(1.0, ceil((busy_us - at_us) / 1000.0)) * 1000.0 : 0;
	}
}

void
usbsim_flash_log_init(UsbsimFlashLog *self)
{
	self->erased = g_array_new(FALSE, TRUE, sizeof(UsbsimRange));
	self->written = g_array_new(FALSE, TRUE, sizeof(UsbsimRange));
	self->set_address_commands = 0;
	self->writes_not_erased = 0;
	self->events = g_ptr_array_new_with_free_func(g_free);
}

void
usbsim_flash_log_clear(UsbsimFlashLog *self)
{
	g_clear_pointer(&self->erased, g_array_unref);
	g_clear_pointer(&self->written, g_array_unref);
	g_clear_pointer(&self->events, g_ptr_array_unref);
}

static gint
usbsim_range_compare(gconstpointer a, gconstpointer b)
{
	const UsbsimRange *ra = a;
	const UsbsimRange *rb = b;
	if (ra->alt != rb->alt)
		return ra->alt < rb->alt ? -1 : 1;
	if (ra->address != rb->address)
		return ra->address < rb->address ? -1 : 1;
	return 0;
}

/* adds a range and merges the ranges of the same alt setting that overlap or touch it */
void
usbsim_ranges_add(GArray *ranges, guint8 alt, guint32 address, guint32 size)
{
	UsbsimRange range = {.alt = alt, .address = address, .size = size};
	guint out = 0;

	if (size == 0)
		return;
	g_array_append_val(ranges, range);
	g_array_sort(ranges, usbsim_range_compare);
	for (guint i = 1; i < ranges->len; i++) {
		UsbsimRange *last = &g_array_index(ranges, UsbsimRange, out);
		UsbsimRange *next = &g_array_index(ranges, UsbsimRange, i);
		guint64 last_end = (guint64)last->address + last->size;
		if (next->alt == last->alt && next->address <= last_end) {
			guint64 next_end = (guint64)next->address + next->size;
			last->size = MAX(last_end, next_end) - last->address;
			continue;
		}
		out++;
		g_array_index(ranges, UsbsimRange, out) = *next;
	}
	g_array_set_size(ranges, out + 1);
}

void
usbsim_ranges_append_json(GArray *ranges, GString *str)
{
	g_string_append_c(str, '[');
	for (guint i = 0; i < ranges->len; i++) {
		UsbsimRange *range = &g_array_index(ranges, UsbsimRange, i);
		g_string_append_printf(str,
				       "%s{\"alt\":%u,\"address\":%u,\"size\":%u}",
				       i == 0 ? "" : ",",
				       range->alt,
				       range->address,
				       range->size);
	}
	g_string_append_c(str, ']');
}

void
usbsim_flash_log_event(UsbsimFlashLog *self, const gchar *format, ...)
{
	va_list args;
	va_start(args, format);
	g_ptr_array_add(self->events, g_strdup_vprintf(format, args));
	va_end(args);
}

GPtrArray *
usbsim_flash_log_take_events(UsbsimFlashLog *self)
{
	GPtrArray *events = self->events;
	self->events = g_ptr_array_new_with_free_func(g_free);
	return events;
}
