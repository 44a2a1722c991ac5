/*
 * Helpers of the tests that drive a DFU model directly through its UsbsimModelOps, with a
 * made-up clock. The including file defines USBSIM_TEST_OPS, the ops of the model it tests.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "usbsim-dfu.h"

#ifndef USBSIM_TEST_OPS
#error "define USBSIM_TEST_OPS before including usbsim-model-test.h"
#endif

#define DFU_OUT 0x21
#define DFU_IN	0xa1

/* one class request to the DFU interface of the descriptors the host sees; the reply data is
 * freed by the caller */
static UsbsimReply
request(gpointer model,
	guint8 type,
	guint8 req,
	guint16 value,
	const guint8 *data,
	guint16 len,
	gint64 now_us)
{
	gboolean runtime = g_strcmp0(USBSIM_TEST_OPS->mode_name(model), "runtime") == 0;
	UsbsimSetup setup = {.request_type = type,
			     .request = req,
			     .value = value,
			     .index = runtime ? 1 : 0,
			     .length = len};
	UsbsimReply reply = {.data = g_byte_array_new(), .status = -1, .poll_timeout_ms = -1};
	USBSIM_TEST_OPS->control(model, &setup, data, now_us, &reply);
	return reply;
}

/* GETSTATUS; checks state and status, returns the reported poll timeout */
static guint32
getstatus(gpointer model, gint64 now_us, guint8 expected_state, guint8 expected_status)
{
	UsbsimReply reply =
	    request(model, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, now_us);
	guint32 poll;
	g_assert_cmpint(reply.outcome, ==, USBSIM_OUTCOME_OK);
	g_assert_cmpint(reply.data->len, ==, 6);
	g_assert_cmpint(reply.data->data[4], ==, expected_state);
	g_assert_cmpint(reply.data->data[0], ==, expected_status);
	poll = reply.data->data[1] | (reply.data->data[2] << 8) | (reply.data->data[3] << 16);
	g_byte_array_unref(reply.data);
	return poll;
}

/* the outcome of a request whose reply data does not matter */
static UsbsimOutcome
reply_outcome(UsbsimReply reply)
{
	g_byte_array_unref(reply.data);
	return reply.outcome;
}
#define request_outcome(...) reply_outcome(request(__VA_ARGS__))

/* a device gone from the bus to reboot: GETSTATUS goes unanswered */
static void
expect_no_status(gpointer model, gint64 now_us)
{
	g_assert_cmpint(
	    request_outcome(model, DFU_IN, USBSIM_DFU_REQUEST_GETSTATUS, 0, NULL, 6, now_us),
	    ==,
	    USBSIM_OUTCOME_TIMEOUT);
}

/* a device that manifests by rebooting: GETSTATUS goes unanswered, then the device comes
 * back by itself */
static void
expect_silent_reenumeration(gpointer model, gint64 now_us)
{
	gint64 delay_us = 0;
	expect_no_status(model, now_us);
	g_assert_true(USBSIM_TEST_OPS->pending_reenumeration(model, &delay_us));
	USBSIM_TEST_OPS->reenumerate(model, now_us + delay_us);
}
