/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-dfu-common.h"

#include <string.h>

/* how long a device that detaches by itself takes to drop off the bus, at scale 1.0 */
#define USBSIM_DFU_SELF_DETACH_US 20000

void
usbsim_dfu_settings_init(UsbsimDfuSettings *settings,
			 UsbsimDfuMode initial_mode,
			 guint16 bcd_device)
{
	memset(settings, 0, sizeof(*settings));
	settings->initial_mode = initial_mode;
	settings->bcd_device = bcd_device;
	settings->version_offset = 0x100;
	settings->time_scale = 1.0;
	settings->seed = 1;
	settings->faults = g_array_new(FALSE, TRUE, sizeof(UsbsimFault));
}

void
usbsim_dfu_settings_clear(UsbsimDfuSettings *settings)
{
	g_clear_pointer(&settings->serial, g_free);
	g_clear_pointer(&settings->flash_in, g_bytes_unref);
	g_clear_pointer(&settings->faults, g_array_unref);
}

void
usbsim_dfu_settings_keep(UsbsimDfuSettings *settings)
{
	settings->serial = g_strdup(settings->serial);
	settings->flash_in = NULL;
	settings->faults = NULL;
}

/* @mode, idle: appIDLE or dfuIDLE */
static void
usbsim_dfu_core_set_mode(UsbsimDfuCore *core, UsbsimDfuMode mode)
{
	core->mode = mode;
	core->state = mode == USBSIM_DFU_MODE_RUNTIME ? USBSIM_DFU_STATE_APP_IDLE
						      : USBSIM_DFU_STATE_DFU_IDLE;
}

void
usbsim_dfu_core_init(UsbsimDfuCore *core,
		     const UsbsimDfuCoreClass *klass,
		     const UsbsimDfuSettings *settings,
		     UsbsimDfuCounts *counts)
{
	core->klass = klass;
	core->counts = counts;
	usbsim_dfu_core_set_mode(core, settings->initial_mode);
	core->faults = g_array_copy(settings->faults);
	core->rand_poll = g_rand_new_with_seed(settings->seed + 2);
	core->early_poll_stalls = settings->early_poll_stalls;
	core->poll = settings->poll;
	core->time_scale = settings->time_scale;
	usbsim_flash_log_init(&core->log);
}

void
usbsim_dfu_core_clear(UsbsimDfuCore *core)
{
	g_clear_pointer(&core->faults, g_array_unref);
	g_clear_pointer(&core->rand_poll, g_rand_free);
	usbsim_flash_log_clear(&core->log);
}

void
usbsim_dfu_core_schedule_reenumeration(UsbsimDfuCore *core, gint64 delay_us, UsbsimDfuMode mode)
{
	core->reenumeration_pending = TRUE;
	core->reenumeration_delay_us = MAX(1000, delay_us);
	core->reenumeration_mode = mode;
}

void
usbsim_dfu_core_report(UsbsimDfuCore *core, UsbsimDfuReport *report)
{
	report->counts = core->counts;
	report->mode = core->mode;
	report->state = core->state;
	report->status = core->status;
	report->log = &core->log;
}

gint64
usbsim_dfu_core_scale_us(UsbsimDfuCore *core, gdouble us)
{
	return (gint64)(us * core->time_scale);
}

void
usbsim_dfu_core_enter_mode(UsbsimDfuCore *core, UsbsimDfuMode mode)
{
	usbsim_dfu_core_set_mode(core, mode);
	core->status = USBSIM_DFU_STATUS_OK;
	core->self_detach_pending = FALSE;
	core->counts->reenumerations++;
	if (core->klass->entered_mode != NULL)
		core->klass->entered_mode(core);
}

void
usbsim_dfu_core_answer_status(UsbsimDfuCore *core, guint32 poll_ms, UsbsimReply *reply)
{
	guint32 reported =
	    usbsim_poll_reported(core->poll, core->status_replies++, core->rand_poll, poll_ms);
	guint8 buf[6] = {core->status,
			 reported & 0xff,
			 (reported >> 8) & 0xff,
			 (reported >> 16) & 0xff,
			 core->state,
			 0};
	g_byte_array_append(reply->data, buf, sizeof(buf));
	reply->status = core->status;
	reply->poll_timeout_ms = reported;
}

void
usbsim_dfu_core_answer_state(UsbsimDfuCore *core, UsbsimReply *reply)
{
	guint8 state = core->state;
	g_byte_array_append(reply->data, &state, 1);
}

/* DFU 1.1: a request the state does not allow stalls and the device enters dfuERROR */
void
usbsim_dfu_core_stall_error(UsbsimDfuCore *core, UsbsimDfuStatus status, UsbsimReply *reply)
{
	reply->outcome = USBSIM_OUTCOME_STALL;
	if (core->state != USBSIM_DFU_STATE_ERROR) {
		core->state = USBSIM_DFU_STATE_ERROR;
		core->status = status;
	}
}

/* a status poll that came while the device was still busy */
void
usbsim_dfu_core_early_poll(UsbsimDfuCore *core, UsbsimReply *reply)
{
	core->counts->early_polls++;
	reply->early = TRUE;
}

/* GETSTATUS and GETSTATE are valid in every state and change nothing; TRUE when answered */
static gboolean
usbsim_dfu_core_answer_query(UsbsimDfuCore *core, guint8 request, UsbsimReply *reply)
{
	if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
		usbsim_dfu_core_answer_status(core, 0, reply);
		return TRUE;
	}
	if (request == USBSIM_DFU_REQUEST_GETSTATE) {
		usbsim_dfu_core_answer_state(core, reply);
		return TRUE;
	}
	return FALSE;
}

/* what every state answers to a request the model does not handle */
static void
usbsim_dfu_core_request_any_state(UsbsimDfuCore *core, guint8 request, UsbsimReply *reply)
{
	if (core->state == USBSIM_DFU_STATE_ERROR && request == USBSIM_DFU_REQUEST_CLRSTATUS) {
		core->state = USBSIM_DFU_STATE_DFU_IDLE;
		core->status = USBSIM_DFU_STATUS_OK;
		return;
	}
	if (usbsim_dfu_core_answer_query(core, request, reply))
		return;
	/* anything else stalls; the device stays in dfuERROR until CLRSTATUS */
	usbsim_dfu_core_stall_error(core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
}

/* DFU 1.1 section 4.1.3: the functional descriptor */
static void
usbsim_dfu_core_append_functional(GByteArray *buf, const UsbsimDfuFunctional *functional)
{
	guint8 desc[9] = {sizeof(desc),
			  USBSIM_DFU_DESCRIPTOR_FUNCTIONAL,
			  functional->attributes,
			  functional->detach_timeout_ms & 0xff,
			  functional->detach_timeout_ms >> 8,
			  functional->transfer_size & 0xff,
			  functional->transfer_size >> 8,
			  functional->bcd_dfu & 0xff,
			  functional->bcd_dfu >> 8};
	g_byte_array_append(buf, desc, sizeof(desc));
}

/*
 * The interfaces of a DFU device, before the model adds its strings and builds the
 * descriptors. In runtime mode @names are the application's interface and the DFU runtime
 * interface, present when the application has one; in DFU mode one alt setting a name, with
 * the @functional descriptor after every alt setting or once after the last (DFU 1.1 section
 * 4.2).
 */
UsbsimDescription *
usbsim_dfu_core_describe(UsbsimDfuCore *core,
			 const UsbsimDfuIds *ids,
			 guint16 bcd_device,
			 GPtrArray *names,
			 const UsbsimDfuSettings *settings,
			 const UsbsimDfuFunctional *functional)
{
	gboolean runtime = core->mode == USBSIM_DFU_MODE_RUNTIME;
	g_autoptr(GByteArray) functional_desc = g_byte_array_new();
	UsbsimDescription *desc =
	    usbsim_description_new(ids->vid, runtime ? ids->runtime_pid : ids->dfu_pid, bcd_device);
	UsbsimInterface *iface = usbsim_description_add_interface(desc);
	UsbsimAltSetting *alt;

	usbsim_dfu_core_append_functional(functional_desc, functional);
	desc->serial = g_strdup(settings->serial);
	desc->class_descriptor_request_stalls = settings->stall_functional_request;
	if (runtime) {
		usbsim_interface_add_alt(iface, 0xff, 0x00, 0x00, g_ptr_array_index(names, 0));
		if (core->app_has_dfu) {
			iface = usbsim_description_add_interface(desc);
			alt = usbsim_interface_add_alt(iface,
						       0xfe,
						       0x01,
						       0x01,
						       g_ptr_array_index(names, 1));
			g_byte_array_append(alt->extra,
					    functional_desc->data,
					    functional_desc->len);
		}
		return desc;
	}
	for (guint i = 0; i < names->len; i++) {
		alt =
		    usbsim_interface_add_alt(iface, 0xfe, 0x01, 0x02, g_ptr_array_index(names, i));
		if (settings->func_desc_every_alt)
			g_byte_array_append(alt->extra,
					    functional_desc->data,
					    functional_desc->len);
	}
	if (!settings->func_desc_every_alt)
		g_byte_array_append(iface->trailer, functional_desc->data, functional_desc->len);
	return desc;
}

void
usbsim_dfu_core_set_limits(const UsbsimDfuSettings *settings,
			   gdouble physical_us,
			   gdouble spec_us,
			   gdouble obeying_us,
			   UsbsimLimits *limits)
{
	limits->physical_ms = physical_us * settings->time_scale / 1000.0;
	limits->spec_ms = spec_us * settings->time_scale / 1000.0;
	limits->obeying_ms = obeying_us * settings->time_scale / 1000.0;
}

/* the application's version is stored in its image; an erased word means none */
guint16
usbsim_dfu_core_read_version(const guint8 *memory, guint64 size, guint64 offset, guint16 none)
{
	guint16 version;

	if (offset + 2 > size)
		return none;
	version = memory[offset] | ((guint16)memory[offset + 1] << 8);
	if (version == 0xffff)
		return none;
	return version;
}

/* the transitions the device makes by itself as time passes */
void
usbsim_dfu_core_advance(UsbsimDfuCore *core, gint64 now_us)
{
	if (core->state == USBSIM_DFU_STATE_APP_DETACH && !core->self_detach_pending &&
	    now_us > core->detach_deadline_us) {
		core->state = USBSIM_DFU_STATE_APP_IDLE;
		return;
	}
	if (core->state == USBSIM_DFU_STATE_DNBUSY && now_us >= core->busy_until_us) {
		core->state = USBSIM_DFU_STATE_DNLOAD_SYNC;
		return;
	}
	if (core->klass->advance != NULL)
		core->klass->advance(core, now_us);
}

static void
usbsim_dfu_core_request_runtime_mode(UsbsimDfuCore *core,
				     const UsbsimSetup *setup,
				     gint64 now_us,
				     UsbsimReply *reply)
{
	switch (setup->request) {
	case USBSIM_DFU_REQUEST_DETACH:
		core->state = USBSIM_DFU_STATE_APP_DETACH;
		core->detach_deadline_us =
		    now_us + (gint64)MIN(setup->value, core->detach_timeout_ms) * 1000;
		if (core->will_detach)
			core->self_detach_pending = TRUE;
		return;
	default:
		if (!usbsim_dfu_core_answer_query(core, setup->request, reply))
			reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
}

/* the DFU 1.1 state machine in DFU mode, the model's operations through its hooks */
static void
usbsim_dfu_core_request_dfu_mode(UsbsimDfuCore *core,
				 const UsbsimSetup *setup,
				 const guint8 *data,
				 gsize len,
				 gint64 now_us,
				 UsbsimReply *reply)
{
	const UsbsimDfuCoreClass *klass = core->klass;
	guint8 request = setup->request;

	switch (core->state) {
	case USBSIM_DFU_STATE_DFU_IDLE:
	case USBSIM_DFU_STATE_DNLOAD_IDLE:
	case USBSIM_DFU_STATE_UPLOAD_IDLE:
		/* a download does not turn into an upload, nor the other way round */
		if (request == USBSIM_DFU_REQUEST_DNLOAD &&
		    core->state != USBSIM_DFU_STATE_UPLOAD_IDLE) {
			klass->dnload(core, setup, data, len, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_UPLOAD &&
		    core->state != USBSIM_DFU_STATE_DNLOAD_IDLE) {
			klass->upload(core, setup, reply);
			return;
		}
		if (request == USBSIM_DFU_REQUEST_ABORT) {
			core->state = USBSIM_DFU_STATE_DFU_IDLE;
			return;
		}
		break;
	case USBSIM_DFU_STATE_DNLOAD_SYNC:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			klass->getstatus_sync(core, now_us, reply);
			return;
		}
		break;
	case USBSIM_DFU_STATE_DNBUSY:
	case USBSIM_DFU_STATE_MANIFEST:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			klass->getstatus_busy(core, now_us, reply);
			return;
		}
		usbsim_dfu_core_stall_error(core, USBSIM_DFU_STATUS_ERR_STALLEDPKT, reply);
		return;
	case USBSIM_DFU_STATE_MANIFEST_SYNC:
		if (request == USBSIM_DFU_REQUEST_GETSTATUS) {
			klass->getstatus_manifest_sync(core, now_us, reply);
			return;
		}
		break;
	case USBSIM_DFU_STATE_MANIFEST_WAIT_RESET:
		/* waits for a reset; it still reports where it is */
		if (!usbsim_dfu_core_answer_query(core, request, reply))
			reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	default:
		break;
	}
	usbsim_dfu_core_request_any_state(core, request, reply);
}

static gint
usbsim_dfu_core_interface_number(UsbsimDfuCore *core)
{
	if (core->mode == USBSIM_DFU_MODE_DFU)
		return 0;
	/* the application's own interface is 0; a DFU runtime interface follows if it has one */
	return core->app_has_dfu ? 1 : -1;
}

static const UsbsimFault *
usbsim_dfu_core_find_fault(UsbsimDfuCore *core, guint8 request)
{
	for (guint i = 0; i < core->faults->len; i++) {
		const UsbsimFault *fault = &g_array_index(core->faults, UsbsimFault, i);
		if (fault->request == USBSIM_DFU_REQUEST_ANY && fault->count == core->requests_any)
			return fault;
		if (fault->request == request && fault->count == core->counts->requests[request])
			return fault;
	}
	return NULL;
}

static void
usbsim_dfu_core_request(UsbsimDfuCore *core,
			const UsbsimSetup *setup,
			const guint8 *data,
			gsize len,
			gint64 now_us,
			UsbsimReply *reply)
{
	if (core->mode == USBSIM_DFU_MODE_RUNTIME)
		usbsim_dfu_core_request_runtime_mode(core, setup, now_us, reply);
	else
		usbsim_dfu_core_request_dfu_mode(core, setup, data, len, now_us, reply);
}

void
usbsim_dfu_core_control(gpointer model,
			const UsbsimSetup *setup,
			const guint8 *data_out,
			gint64 now_us,
			UsbsimReply *reply)
{
	UsbsimDfuCore *core = model;
	const UsbsimFault *fault;
	gboolean direction_in = (setup->request_type & 0x80) != 0;
	gboolean expect_in;
	g_autofree guint8 *data = NULL;
	gsize data_len = direction_in ? 0 : setup->length;

	if ((setup->request_type & 0x60) != 0x20 || (setup->request_type & 0x1f) != 0x01 ||
	    (gint)(setup->index & 0xff) != usbsim_dfu_core_interface_number(core) ||
	    setup->request >= USBSIM_DFU_REQUEST_LAST) {
		reply->name = "other";
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
	reply->name = usbsim_dfu_request_to_string(setup->request);
	reply->is_status_poll = setup->request == USBSIM_DFU_REQUEST_GETSTATUS;
	core->counts->requests[setup->request]++;
	core->requests_any++;
	if (core->leaving || core->power_lost) {
		/* gone by itself, or without power: nothing answers any more */
		reply->outcome = USBSIM_OUTCOME_TIMEOUT;
		return;
	}
	usbsim_dfu_core_advance(core, now_us);

	expect_in = setup->request == USBSIM_DFU_REQUEST_UPLOAD ||
		    setup->request == USBSIM_DFU_REQUEST_GETSTATUS ||
		    setup->request == USBSIM_DFU_REQUEST_GETSTATE;
	if (direction_in != expect_in) {
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}

	data = g_memdup2(data_out, data_len);
	fault = usbsim_dfu_core_find_fault(core, setup->request);
	if (fault != NULL) {
		core->counts->faults_fired++;
		switch (fault->kind) {
		case USBSIM_FAULT_STALL:
			reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		case USBSIM_FAULT_TIMEOUT:
			reply->outcome = USBSIM_OUTCOME_TIMEOUT;
			return;
		case USBSIM_FAULT_UNPLUG:
			reply->outcome = USBSIM_OUTCOME_UNPLUGGED;
			return;
		case USBSIM_FAULT_POWER_LOSS:
			core->power_lost = TRUE;
			reply->outcome = USBSIM_OUTCOME_TIMEOUT;
			return;
		case USBSIM_FAULT_STATUS:
			if (core->mode == USBSIM_DFU_MODE_RUNTIME) {
				reply->outcome = USBSIM_OUTCOME_STALL;
				return;
			}
			if (setup->request == USBSIM_DFU_REQUEST_DNLOAD && setup->length > 0) {
				/* the block or command is taken; executing it fails */
				usbsim_dfu_core_request_dfu_mode(core,
								 setup,
								 data,
								 data_len,
								 now_us,
								 reply);
				if (core->state == USBSIM_DFU_STATE_DNLOAD_SYNC)
					core->pending_status = fault->status;
				return;
			}
			core->state = USBSIM_DFU_STATE_ERROR;
			core->status = fault->status;
			if (setup->request == USBSIM_DFU_REQUEST_GETSTATUS)
				usbsim_dfu_core_answer_status(core, 0, reply);
			else
				reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		case USBSIM_FAULT_CORRUPT:
			/* what the device received is garbled, it does not notice */
			for (gsize i = 0; i < data_len; i += 7)
				data[i] ^= 0x5a;
			break;
		case USBSIM_FAULT_SHORT:
			data_len /= 2;
			break;
		default:
			break;
		}
	}

	usbsim_dfu_core_request(core, setup, data, data_len, now_us, reply);

	if (fault != NULL && reply->outcome == USBSIM_OUTCOME_OK) {
		if (fault->kind == USBSIM_FAULT_CORRUPT) {
			for (guint i = 0; i < reply->data->len; i += 3)
				reply->data->data[i] ^= 0xa5;
		} else if (fault->kind == USBSIM_FAULT_SHORT && reply->data->len > 0) {
			g_byte_array_set_size(reply->data, reply->data->len / 2);
		}
	}
}

gboolean
usbsim_dfu_core_usb_reset(gpointer model, gint64 now_us)
{
	UsbsimDfuCore *core = model;

	core->counts->usb_resets++;
	usbsim_dfu_core_advance(core, now_us);
	if (core->leaving)
		return FALSE;
	if (core->mode == USBSIM_DFU_MODE_RUNTIME) {
		if (core->state == USBSIM_DFU_STATE_APP_DETACH) {
			usbsim_dfu_core_enter_mode(core, USBSIM_DFU_MODE_DFU);
			return TRUE;
		}
		return FALSE;
	}
	return core->klass->usb_reset_dfu_mode(core);
}

gboolean
usbsim_dfu_core_pending_reenumeration(gpointer model, gint64 *delay_us)
{
	UsbsimDfuCore *core = model;
	if (core->power_lost) {
		*delay_us = 1000;
		return TRUE;
	}
	if (core->reenumeration_pending) {
		*delay_us = core->reenumeration_delay_us;
		return TRUE;
	}
	if (!core->self_detach_pending)
		return FALSE;
	*delay_us = MAX(1000, usbsim_dfu_core_scale_us(core, USBSIM_DFU_SELF_DETACH_US));
	return TRUE;
}

void
usbsim_dfu_core_reenumerate(gpointer model, gint64 now_us)
{
	UsbsimDfuCore *core = model;
	if (core->power_lost) {
		/* a command or block not yet executed is lost with the power */
		core->power_lost = FALSE;
		core->leaving = FALSE;
		core->pending_status = USBSIM_DFU_STATUS_OK;
		usbsim_dfu_core_enter_mode(core, USBSIM_DFU_MODE_DFU);
		return;
	}
	if (core->reenumeration_pending) {
		core->reenumeration_pending = FALSE;
		core->leaving = FALSE;
		usbsim_dfu_core_enter_mode(core, core->reenumeration_mode);
		return;
	}
	if (core->self_detach_pending)
		usbsim_dfu_core_enter_mode(core, USBSIM_DFU_MODE_DFU);
}

gint64
usbsim_dfu_core_busy_until(gpointer model)
{
	UsbsimDfuCore *core = model;
	return core->busy_until_us;
}

const gchar *
usbsim_dfu_core_mode_name(gpointer model)
{
	UsbsimDfuCore *core = model;
	return core->mode == USBSIM_DFU_MODE_RUNTIME ? "runtime" : "dfu";
}

gint
usbsim_dfu_core_state(gpointer model)
{
	UsbsimDfuCore *core = model;
	return core->state;
}

GPtrArray *
usbsim_dfu_core_take_events(gpointer model)
{
	UsbsimDfuCore *core = model;
	return usbsim_flash_log_take_events(&core->log);
}
