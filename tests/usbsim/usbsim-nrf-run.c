/*
 * usbsim-nrf-run: runs a client against the simulated nRF5 SDK Secure DFU bootloader
 * (usbsim-nrf.c), on one of two fronts:
 *
 *  - nrf52840-dongle: the Dongle's USB CDC ACM interface (1915:521F) on a umockdev testbed,
 *    served by the generic USB device (usbsim-device.c) from bulk transfers;
 *  - nrf52-uart: a UART behind a J-Link's CDC port (1366:1015): a USB parent with cdc_acm
 *    interfaces and a tty child ttyACM0 (166:0), which umockdev backs with a pty whose
 *    master end this harness drives, at the baud rate's byte time.
 *
 * Like usbsim-run it runs under umockdev's preload itself, spawns the client with the same
 * environment, and returns its exit status; the trace and the flash dump are written when
 * the client exits.
 *
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "usbsim-device.h"
#include "usbsim-harness.h"
#include "usbsim-nrf.h"

/* where the J-Link of the UART front sits; the Dongle takes usbsim-device's own path */
#define USBSIM_NRF_BRIDGE_SYSFS "/devices/pci0000:00/0000:00:14.0/usb1/1-2"
#define USBSIM_NRF_TTY		"/dev/ttyACM0"
/* the DFU trigger's class requests (app_usbd_nrf_dfu_trigger_types.h) */
#define USBSIM_NRF_TRIGGER_DETACH      0x00
#define USBSIM_NRF_TRIGGER_NORDIC_INFO 0x07
#define USBSIM_NRF_TRIGGER_SEMVER      0x08
/* the byte that ends a SLIP frame (RFC 1055) */
#define USBSIM_NRF_SLIP_END 0xC0

typedef struct {
	gint64 due_us;
	GByteArray *bytes;
} UsbsimNrfChunk;

/* one direction of the UART: bytes leave back to back from when it last went busy */
typedef struct {
	gint64 start_us;
	guint64 bytes;
} UsbsimNrfLine;

typedef struct {
	GMainLoop *loop;
	UMockdevTestbed *testbed;
	UsbsimNrf *model;
	UsbsimNrfFront front;
	gdouble time_scale;
	guint baud_rate;
	/* USB front */
	UsbsimDevice *device;
	guint8 line_coding[USBSIM_CDC_LINE_CODING_SIZE];
	/* UART front */
	gint master_fd;
	guint master_watch_id;
	GQueue rx; /* SLIP frames on their way to the device, due when their END arrived */
	GQueue tx; /* response bytes on their way to the host */
	UsbsimNrfLine rx_line;
	UsbsimNrfLine tx_line;
	gint64 next_response_us; /* when the model's next queued response is ready */
	gint wake_fd;		 /* a timer for the next of these, to the microsecond */
	guint wake_watch_id;
	FILE *trace;
	/* the client */
	UsbsimHarnessChild child;
	guint reenumerations;
	UsbsimNrfAppRuns app_runs;
	guint boot_id; /* the device comes back after a reset */
} UsbsimNrfRun;

static gboolean usbsim_verbose = FALSE;

static void
usbsim_nrf_chunk_free(UsbsimNrfChunk *chunk)
{
	g_byte_array_unref(chunk->bytes);
	g_free(chunk);
}

static gdouble
usbsim_nrf_run_uart_wire_us(UsbsimNrfRun *run, gsize bytes, guint baud_rate)
{
	return bytes * 10.0 * 1e6 / baud_rate * run->time_scale;
}

/* when the last bit of what the line carries has arrived: rounded up, never early */
static gint64
usbsim_nrf_run_line_end_us(UsbsimNrfRun *run, const UsbsimNrfLine *line)
{
	gdouble wire_us = usbsim_nrf_run_uart_wire_us(run, line->bytes, run->baud_rate);
	gint64 whole_us = (gint64)wire_us;
	return line->start_us + whole_us + ((gdouble)whole_us < wire_us ? 1 : 0);
}

/* n more bytes start on the line at now_us, or after what it still carries: when the last of
 * them has arrived. The time is counted from the start of the line's busy spell, so that
 * frames sent back to back gain nothing from rounding */
static gint64
usbsim_nrf_run_line_send(UsbsimNrfRun *run, UsbsimNrfLine *line, gint64 now_us, gsize n)
{
	if (now_us >= usbsim_nrf_run_line_end_us(run, line)) {
		line->start_us = now_us;
		line->bytes = 0;
	}
	line->bytes += n;
	return usbsim_nrf_run_line_end_us(run, line);
}

/* --- the USB front: the model behind the generic device --- */

/* the application's DFU trigger interface (app_usbd_nrf_dfu_trigger.c): class requests to
 * interface 0; anything else is not supported, which the SDK answers with a STALL */
static void
usbsim_nrf_usb_app_control(UsbsimNrfRun *run,
			   const UsbsimSetup *setup,
			   gint64 now_us,
			   UsbsimReply *reply)
{
	reply->name = "other";
	reply->outcome = USBSIM_OUTCOME_STALL;
	if ((setup->request_type & 0x7f) != 0x21 || (setup->index & 0xff) != 0)
		return;
	if (setup->request_type & 0x80) {
		if (setup->request == USBSIM_NRF_TRIGGER_NORDIC_INFO) {
			guint8 info[USBSIM_NRF_NORDIC_INFO_SIZE] = {0};
			reply->name = "nordic_info";
			/* the library answers only a request for exactly its structure */
			if (setup->length != sizeof(info))
				return;
			usbsim_nrf_app_nordic_info(run->model, info);
			g_byte_array_append(reply->data, info, sizeof(info));
			reply->outcome = USBSIM_OUTCOME_OK;
		} else if (setup->request == USBSIM_NRF_TRIGGER_SEMVER) {
			g_autoptr(GByteArray) semver = usbsim_nrf_app_semver(run->model);
			reply->name = "semver";
			g_byte_array_append(reply->data,
					    semver->data,
					    MIN(semver->len, setup->length));
			reply->outcome = USBSIM_OUTCOME_OK;
		}
		return;
	}
	if (setup->request == USBSIM_NRF_TRIGGER_DETACH) {
		reply->name = "detach";
		reply->outcome = USBSIM_OUTCOME_OK;
		usbsim_nrf_app_detach(run->model, now_us);
	}
}

static void
usbsim_nrf_usb_control(gpointer model,
		       const UsbsimSetup *setup,
		       const guint8 *data_out,
		       gint64 now_us,
		       UsbsimReply *reply)
{
	UsbsimNrfRun *run = model;

	if (usbsim_nrf_app_running(run->model)) {
		if (run->app_runs == USBSIM_NRF_APP_RUNS_DFU_TRIGGER) {
			usbsim_nrf_usb_app_control(run, setup, now_us, reply);
			return;
		}
		/* the application's own serial port: whatever a CDC driver sends is taken */
		reply->name = "application";
		if ((setup->request_type & 0x80) != 0)
			reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}

	/* only the communication interface's class requests exist; the SDK's USB transport
	 * starts reading when the port opens (DTR) */
	if (usbsim_cdc_acm_control(run->line_coding, setup, data_out, reply))
		usbsim_nrf_set_port_open(run->model, (setup->value & 0x1) != 0, now_us);
}

static gboolean
usbsim_nrf_usb_reset(gpointer model, gint64 now_us)
{
	return FALSE;
}

static gboolean
usbsim_nrf_usb_pending_reenumeration(gpointer model, gint64 *delay_us)
{
	/* resets are driven from the main loop by usbsim_nrf_run_tick_cb() */
	return FALSE;
}

static void
usbsim_nrf_usb_reenumerate(gpointer model, gint64 now_us)
{
}

static UsbsimDescription *
usbsim_nrf_usb_describe(gpointer model)
{
	UsbsimNrfRun *run = model;
	if (!usbsim_nrf_app_running(run->model))
		return usbsim_nrf_describe_dongle();
	if (run->app_runs == USBSIM_NRF_APP_RUNS_OTHER_USB)
		return usbsim_nrf_describe_app_other_usb();
	return usbsim_nrf_describe_app_dfu_trigger();
}

static gint64
usbsim_nrf_usb_busy_until(gpointer model)
{
	return 0;
}

static const gchar *
usbsim_nrf_usb_mode_name(gpointer model)
{
	UsbsimNrfRun *run = model;
	return usbsim_nrf_app_running(run->model) ? "application" : "bootloader";
}

static gint
usbsim_nrf_usb_state(gpointer model)
{
	return 0;
}

static gssize
usbsim_nrf_usb_endpoint_in(gpointer model, guint8 endpoint, guint8 *buf, gsize bufsz)
{
	UsbsimNrfRun *run = model;
	g_autoptr(GByteArray) frame = NULL;
	gint64 next_us = 0;

	/* the notification endpoint never has anything to say */
	if (endpoint != 0x81 || usbsim_nrf_app_running(run->model))
		return -1;
	frame = usbsim_nrf_take_response(run->model, g_get_monotonic_time(), &next_us);
	if (frame == NULL)
		return -1;
	/* one response a transfer, as the SDK writes them */
	if (frame->len > bufsz)
		g_warning("a %u byte response does not fit a %" G_GSIZE_FORMAT " byte read",
			  frame->len,
			  bufsz);
	memcpy(buf, frame->data, MIN(frame->len, bufsz));
	return MIN(frame->len, bufsz);
}

static void
usbsim_nrf_usb_endpoint_out(gpointer model, guint8 endpoint, const guint8 *buf, gsize bufsz)
{
	UsbsimNrfRun *run = model;
	if (endpoint == 0x01 && !usbsim_nrf_app_running(run->model))
		usbsim_nrf_receive(run->model, buf, bufsz, g_get_monotonic_time());
}

static const UsbsimModelOps usbsim_nrf_usb_ops = {
    .control = usbsim_nrf_usb_control,
    .usb_reset = usbsim_nrf_usb_reset,
    .pending_reenumeration = usbsim_nrf_usb_pending_reenumeration,
    .reenumerate = usbsim_nrf_usb_reenumerate,
    .describe = usbsim_nrf_usb_describe,
    .busy_until = usbsim_nrf_usb_busy_until,
    .mode_name = usbsim_nrf_usb_mode_name,
    .state = usbsim_nrf_usb_state,
    .endpoint_in = usbsim_nrf_usb_endpoint_in,
    .endpoint_out = usbsim_nrf_usb_endpoint_out,
};

/* --- the trace, the ticks that move time on --- */

static void
usbsim_nrf_run_trace_line(UsbsimNrfRun *run, const gchar *line)
{
	if (run->device != NULL) {
		usbsim_device_trace_line(run->device, line);
		return;
	}
	if (run->trace != NULL) {
		fputs(line, run->trace);
		fputc('\n', run->trace);
		fflush(run->trace);
	}
}

static void
usbsim_nrf_run_flush_trace(UsbsimNrfRun *run)
{
	g_autoptr(GPtrArray) lines = usbsim_nrf_take_trace(run->model);
	for (guint i = 0; i < lines->len; i++)
		usbsim_nrf_run_trace_line(run, g_ptr_array_index(lines, i));
}

/* whether what runs now is on the bus: not an application without USB */
static gboolean
usbsim_nrf_run_on_usb(UsbsimNrfRun *run)
{
	return !usbsim_nrf_app_running(run->model) || run->app_runs != USBSIM_NRF_APP_RUNS_NO_USB;
}

static gboolean
usbsim_nrf_run_boot_cb(gpointer user_data)
{
	UsbsimNrfRun *run = user_data;
	g_autoptr(GError) error = NULL;

	run->boot_id = 0;
	if (run->device != NULL)
		usbsim_device_lock(run->device);
	usbsim_nrf_boot(run->model, g_get_monotonic_time());
	usbsim_nrf_run_flush_trace(run);
	if (run->device != NULL) {
		usbsim_device_unlock(run->device);
		if (!usbsim_nrf_run_on_usb(run))
			return G_SOURCE_REMOVE;
		run->reenumerations++;
		if (!usbsim_device_plug(run->device, &error))
			g_warning("cannot plug the device again: %s", error->message);
	}
	return G_SOURCE_REMOVE;
}

/* the main loop's ticks are a millisecond apart: the UART front also wakes when the next frame
 * has arrived at the device, a response is ready or a response has crossed the line */
static void
usbsim_nrf_run_arm_wake(UsbsimNrfRun *run)
{
	gint64 next_us = run->next_response_us;
	UsbsimNrfChunk *rx = g_queue_peek_head(&run->rx);
	UsbsimNrfChunk *tx = g_queue_peek_head(&run->tx);
	struct itimerspec its = {0};

	if (run->wake_fd < 0)
		return;
	if (rx != NULL)
		next_us = MIN(next_us, rx->due_us);
	if (tx != NULL)
		next_us = MIN(next_us, tx->due_us);
	/* an absolute time in the past fires at once; zero would disarm */
	if (next_us != G_MAXINT64) {
		next_us = MAX(next_us, 1);
		its.it_value.tv_sec = next_us / G_USEC_PER_SEC;
		its.it_value.tv_nsec = (next_us % G_USEC_PER_SEC) * 1000;
	}
	if (timerfd_settime(run->wake_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		g_debug("timerfd_settime: %s", g_strerror(errno));
}

/* the UART's line: bytes the host wrote reach the device one byte time after another; the
 * SDK's SLIP decoder acts on a frame once its END is in, so each frame goes to the model at
 * the time its END has crossed the wire (escapes counted as they are on the wire), and the
 * flash programs one frame while the next streams in */
static gboolean
usbsim_nrf_run_master_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	UsbsimNrfRun *run = user_data;
	guint8 buf[4096];
	gssize n = read(fd, buf, sizeof(buf));
	gint64 now_us = g_get_monotonic_time();
	gsize start = 0;

	if (n <= 0) {
		/* nobody holds the slave end open: wait for the next client */
		if (n < 0 && errno != EAGAIN && errno != EIO)
			g_debug("pty read: %s", g_strerror(errno));
		g_usleep(1000);
		return G_SOURCE_CONTINUE;
	}
	/* a frame's tail after the last END waits for its last byte too; the rest of the frame
	 * comes with a later read */
	for (gsize i = 0; i < (gsize)n; i++) {
		UsbsimNrfChunk *chunk;
		if (buf[i] != USBSIM_NRF_SLIP_END && i + 1 < (gsize)n)
			continue;
		chunk = g_new0(UsbsimNrfChunk, 1);
		chunk->bytes = g_byte_array_new();
		g_byte_array_append(chunk->bytes, buf + start, i + 1 - start);
		chunk->due_us = usbsim_nrf_run_line_send(run, &run->rx_line, now_us, i + 1 - start);
		g_queue_push_tail(&run->rx, chunk);
		start = i + 1;
	}
	usbsim_nrf_run_arm_wake(run);
	return G_SOURCE_CONTINUE;
}

static gboolean
usbsim_nrf_run_tick_cb(gpointer user_data)
{
	UsbsimNrfRun *run = user_data;
	gint64 now_us = g_get_monotonic_time();
	gint64 back_us = 0;
	gboolean reset;

	if (run->device != NULL)
		usbsim_device_lock(run->device);

	if (run->front == USBSIM_NRF_FRONT_UART) {
		gint64 next_us = 0;
		/* bytes that have arrived at the device */
		while (!g_queue_is_empty(&run->rx)) {
			UsbsimNrfChunk *chunk = g_queue_peek_head(&run->rx);
			if (chunk->due_us > now_us)
				break;
			g_queue_pop_head(&run->rx);
			usbsim_nrf_receive(run->model,
					   chunk->bytes->data,
					   chunk->bytes->len,
					   chunk->due_us);
			usbsim_nrf_chunk_free(chunk);
		}
		/* responses leave when ready and take their byte time on the line */
		for (;;) {
			GByteArray *frame = usbsim_nrf_take_response(run->model, now_us, &next_us);
			UsbsimNrfChunk *chunk;
			run->next_response_us = next_us;
			if (frame == NULL)
				break;
			chunk = g_new0(UsbsimNrfChunk, 1);
			chunk->bytes = frame;
			chunk->due_us =
			    usbsim_nrf_run_line_send(run, &run->tx_line, now_us, frame->len);
			g_queue_push_tail(&run->tx, chunk);
		}
		while (!g_queue_is_empty(&run->tx)) {
			UsbsimNrfChunk *chunk = g_queue_peek_head(&run->tx);
			if (chunk->due_us > now_us)
				break;
			g_queue_pop_head(&run->tx);
			if (write(run->master_fd, chunk->bytes->data, chunk->bytes->len) < 0)
				g_debug("pty write: %s", g_strerror(errno));
			usbsim_nrf_chunk_free(chunk);
		}
	}

	reset = usbsim_nrf_take_reset(run->model, now_us, &back_us);
	if (reset && run->front == USBSIM_NRF_FRONT_UART) {
		/* what was on its way in is lost with the device's RAM; what it already sent
		 * is on the line */
		g_queue_clear_full(&run->rx, (GDestroyNotify)usbsim_nrf_chunk_free);
		run->next_response_us = G_MAXINT64;
	}
	if (run->front == USBSIM_NRF_FRONT_UART)
		usbsim_nrf_run_arm_wake(run);
	usbsim_nrf_run_flush_trace(run);
	if (run->device != NULL)
		usbsim_device_unlock(run->device);

	if (reset) {
		if (run->device != NULL)
			usbsim_device_remove(run->device);
		run->boot_id = g_timeout_add_full(G_PRIORITY_DEFAULT,
						  MAX(1, (back_us - g_get_monotonic_time()) / 1000),
						  usbsim_nrf_run_boot_cb,
						  run,
						  NULL);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
usbsim_nrf_run_wake_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	guint64 expirations = 0;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		g_debug("timerfd read: %s", g_strerror(errno));
	return usbsim_nrf_run_tick_cb(user_data);
}

/* --- the UART front's devices on the testbed --- */

static gboolean
usbsim_nrf_run_add_uart(UsbsimNrfRun *run, GError **error)
{
	g_autoptr(UsbsimDescription) desc = usbsim_nrf_describe_uart_bridge();
	g_autofree gchar *record = NULL;
	g_autofree gchar *tty = NULL;
	g_autofree gchar *usb_path = g_strdup_printf("/sys%s", USBSIM_NRF_BRIDGE_SYSFS);
	g_autofree gchar *intf_path = g_strdup_printf("%s/1-2:1.0", usb_path);
	g_autofree gchar *tty_path = g_strdup_printf("%s/tty/ttyACM0", intf_path);
	struct termios tio;
	gint flags;

	record = usbsim_device_build_umockdev_description(desc, USBSIM_NRF_BRIDGE_SYSFS, 1, 2);
	/* the kernel's cdc_acm driver binds the interfaces and makes the tty */
	tty = g_strdup_printf("P: %s/tty/ttyACM0\n"
			      "N: ttyACM0\n"
			      "E: DEVNAME=" USBSIM_NRF_TTY "\n"
			      "E: SUBSYSTEM=tty\n"
			      "E: MAJOR=166\nE: MINOR=0\n"
			      "E: ID_BUS=usb\nE: ID_VENDOR_ID=1366\nE: ID_MODEL_ID=1015\n"
			      "E: ID_USB_DRIVER=cdc_acm\nE: ID_USB_INTERFACE_NUM=00\n"
			      "A: dev=166:0\n\n",
			      USBSIM_NRF_BRIDGE_SYSFS "/1-2:1.0");
	if (!umockdev_testbed_add_from_string(run->testbed, record, error))
		return FALSE;
	if (!umockdev_testbed_add_from_string(run->testbed, tty, error))
		return FALSE;
	umockdev_testbed_set_property(run->testbed, intf_path, "DRIVER", "cdc_acm");
	run->master_fd = umockdev_testbed_get_dev_fd(run->testbed, USBSIM_NRF_TTY);
	if (run->master_fd < 0) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    "umockdev backs " USBSIM_NRF_TTY " with no pty");
		return FALSE;
	}
	/* the master passes bytes through untouched */
	if (tcgetattr(run->master_fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(run->master_fd, TCSANOW, &tio);
	}
	flags = fcntl(run->master_fd, F_GETFL);
	fcntl(run->master_fd, F_SETFL, flags | O_NONBLOCK);
	run->master_watch_id =
	    g_unix_fd_add(run->master_fd, G_IO_IN, usbsim_nrf_run_master_cb, run);
	run->wake_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (run->wake_fd < 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "timerfd_create: %s",
			    g_strerror(errno));
		return FALSE;
	}
	run->wake_watch_id = g_unix_fd_add(run->wake_fd, G_IO_IN, usbsim_nrf_run_wake_cb, run);
	umockdev_testbed_uevent(run->testbed, usb_path, "add");
	umockdev_testbed_uevent(run->testbed, tty_path, "add");
	return TRUE;
}

/* a request's opcode from its name, -1 for none */
static gint
usbsim_nrf_parse_op(const gchar *name)
{
	const struct {
		const gchar *name;
		guint8 op;
	} ops[] = {{"create", 0x01},
		   {"execute", 0x04},
		   {"select", 0x06},
		   {"crc", 0x03},
		   {"prn", 0x02},
		   {"mtu", 0x07},
		   {"ping", 0x09},
		   {"hw-version", 0x0A},
		   {"fw-version", 0x0B}};
	for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
		if (g_strcmp0(name, ops[i].name) == 0)
			return ops[i].op;
	}
	return -1;
}

static gboolean
usbsim_nrf_parse_op_option(const gchar *str, const gchar *option, gint *op)
{
	if (str == NULL)
		return TRUE;
	*op = usbsim_nrf_parse_op(str);
	if (*op < 0) {
		g_printerr("usbsim-nrf-run: unknown request '%s' in %s\n", str, option);
		return FALSE;
	}
	return TRUE;
}

static gboolean
usbsim_nrf_parse_u32_option(const gchar *str, const gchar *option, gint64 *value)
{
	guint64 v = 0;
	g_autoptr(GError) error = NULL;

	if (str == NULL)
		return TRUE;
	if (!usbsim_harness_parse_uint(str, G_MAXUINT32, &v, option, &error)) {
		g_printerr("usbsim-nrf-run: %s\n", error->message);
		return FALSE;
	}
	*value = (gint64)v;
	return TRUE;
}

static gboolean
usbsim_nrf_parse_ext_error(const gchar *str, UsbsimNrfConfig *config)
{
	g_auto(GStrv) parts = g_strsplit(str, ":", -1);
	guint64 nth = 0, code = 0;
	g_autoptr(GError) error = NULL;
	gint op;

	if (g_strv_length(parts) != 3) {
		g_printerr("usbsim-nrf-run: --ext-error wants OP:N:CODE\n");
		return FALSE;
	}
	op = usbsim_nrf_parse_op(parts[0]);
	if (op < 0) {
		g_printerr("usbsim-nrf-run: unknown request '%s' in --ext-error\n", parts[0]);
		return FALSE;
	}
	config->ext_error_op = op;
	if (!usbsim_harness_parse_uint(parts[1], G_MAXUINT, &nth, "--ext-error count", &error) ||
	    !usbsim_harness_parse_uint(parts[2], 0xFF, &code, "--ext-error code", &error)) {
		g_printerr("usbsim-nrf-run: %s\n", error->message);
		return FALSE;
	}
	config->ext_error_nth = nth;
	config->ext_error_code = code;
	return TRUE;
}

static gboolean
usbsim_nrf_parse_app_runs(const gchar *str, UsbsimNrfFront front, UsbsimNrfAppRuns *app_runs)
{
	if (str == NULL || g_strcmp0(str, "bootloader") == 0)
		*app_runs = USBSIM_NRF_APP_RUNS_BOOTLOADER;
	else if (g_strcmp0(str, "silent") == 0)
		*app_runs = USBSIM_NRF_APP_RUNS_NO_USB;
	else if (g_strcmp0(str, "dfu-trigger") == 0 && front == USBSIM_NRF_FRONT_USB)
		*app_runs = USBSIM_NRF_APP_RUNS_DFU_TRIGGER;
	else if (g_strcmp0(str, "uart-log") == 0 && front == USBSIM_NRF_FRONT_UART)
		*app_runs = USBSIM_NRF_APP_RUNS_UART_LOG;
	else if (g_strcmp0(str, "other-usb") == 0 && front == USBSIM_NRF_FRONT_USB)
		*app_runs = USBSIM_NRF_APP_RUNS_OTHER_USB;
	else {
		g_printerr("usbsim-nrf-run: --app-runs %s does not exist on this profile\n", str);
		return FALSE;
	}
	return TRUE;
}

/* --list-profiles --json: the facts the Python tools (tests/e2e, tests/faults,
 * contrib/bench.py, tests/quirks/check-sim-quirks.py) read instead of keeping copies: the
 * front, the USB IDs the host sees (the J-Link's for the UART) and the application's, the
 * MTU, what the bootloader reports by default, and the flash map */
static void
usbsim_nrf_list_profiles_json(void)
{
	UsbsimNrfFront fronts[] = {USBSIM_NRF_FRONT_USB, USBSIM_NRF_FRONT_UART};

	g_print("[");
	for (guint i = 0; i < G_N_ELEMENTS(fronts); i++) {
		gboolean usb = fronts[i] == USBSIM_NRF_FRONT_USB;
		UsbsimNrfConfig config;
		usbsim_nrf_config_init(&config, fronts[i]);
		g_print("%s\n {\"name\":\"%s\",\"front\":\"%s\",\"vid\":%u,\"pid\":%u,"
			"\"app_vid\":%u,\"app_pid\":%u,\"mtu\":%u,\"baud\":%u,\"hw_version\":%u,"
			"\"sd_fwid\":%u,\"flash_size\":%u,\"page_size\":%u,\"sd_start\":%u,"
			"\"app_start\":%u,\"bl_start\":%u}",
			i > 0 ? "," : "",
			config.profile,
			usb ? "usb" : "uart",
			usb ? (guint)USBSIM_NRF_DONGLE_VID : (guint)USBSIM_NRF_JLINK_VID,
			usb ? (guint)USBSIM_NRF_DONGLE_PID : (guint)USBSIM_NRF_JLINK_PID,
			(guint)USBSIM_NRF_APP_VID,
			(guint)USBSIM_NRF_APP_PID,
			usb ? (guint)USBSIM_NRF_MTU_USB : (guint)USBSIM_NRF_MTU_UART,
			(guint)config.baud_rate,
			(guint)config.hw_version,
			(guint)config.sd_fwid,
			(guint)USBSIM_NRF_FLASH_SIZE,
			(guint)USBSIM_NRF_PAGE_SIZE,
			(guint)USBSIM_NRF_SD_START,
			(guint)USBSIM_NRF_APP_START,
			(guint)USBSIM_NRF_BL_START);
	}
	g_print("\n]\n");
}

static void
usbsim_nrf_list_profiles(void)
{
	g_print("nrf52840-dongle\t%04X:%04X USB CDC ACM, full speed, 64-byte packets, MTU %u "
		"(1024 B a write): the nRF52840 Dongle's open Secure DFU bootloader\n",
		(guint)USBSIM_NRF_DONGLE_VID,
		(guint)USBSIM_NRF_DONGLE_PID,
		USBSIM_NRF_MTU_USB);
	g_print("nrf52-uart\tUART on " USBSIM_NRF_TTY " behind a J-Link CDC port (%04x:%04x), "
		"10 bits a byte at --baud, MTU %u (64 B a write): an nRF52 Secure DFU UART "
		"bootloader\n",
		(guint)USBSIM_NRF_JLINK_VID,
		(guint)USBSIM_NRF_JLINK_PID,
		USBSIM_NRF_MTU_UART);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *profile = NULL;
	g_autofree gchar *flash_in = NULL;
	g_autofree gchar *flash_out = NULL;
	g_autofree gchar *trace = NULL;
	g_autofree gchar *sd_fwid = NULL;
	g_autofree gchar *ext_error = NULL;
	g_autofree gchar *summary = NULL;
	g_autofree gchar *app_runs = NULL;
	g_autofree gchar *extra = NULL;
	g_autofree gchar *mtu_reply = NULL;
	g_autofree gchar *max_object_size = NULL;
	g_autofree gchar *select_offset = NULL;
	g_autofree gchar *flash_size = NULL;
	g_autofree gchar *other_op = NULL;
	g_autofree gchar *short_op = NULL;
	g_autofree gchar *endless_op = NULL;
	gboolean crc_wrong = FALSE;
	gboolean unsolicited = FALSE;
	gboolean trigger_garbage = FALSE;
	gint refuse_execute = 0;
	gint mute_execute = 0;
	g_auto(GStrv) client_argv = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(UsbsimNrf) model = NULL;
	g_autoptr(UsbsimDevice) device = NULL;
	g_autoptr(UMockdevTestbed) testbed = NULL;
	gboolean list_profiles = FALSE;
	gboolean json = FALSE;
	gboolean require_signature = FALSE;
	gboolean app_valid = FALSE;
	gboolean dfu_mode = FALSE;
	gdouble time_scale = 1.0;
	gdouble reenumerate_ms = -1;
	gdouble sd_bl_back_ms = -1;
	gint baud_rate = 115200;
	gint hw_version = 52;
	gint app_version = 0;
	gint reset_after_writes = 0;
	gint drop_response = 0;
	gint corrupt_write = 0;
	gint timeout_s = 120;
	UsbsimNrfConfig config;
	UsbsimNrfRun run = {.master_fd = -1, .wake_fd = -1, .next_response_us = G_MAXINT64};
	guint tick_id;
	gint exit_status;
	gint arg_split = -1;
	const GOptionEntry entries[] = {
	    {"profile",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &profile,
	     "nrf52840-dongle or nrf52-uart",
	     "NAME"},
	    USBSIM_HARNESS_LIST_PROFILES_ENTRIES(&list_profiles, &json),
	    {"time-scale", 0, 0, G_OPTION_ARG_DOUBLE, &time_scale, "Device and bus times", "F"},
	    {"baud", 0, 0, G_OPTION_ARG_INT, &baud_rate, "UART baud rate (115200)", "N"},
	    {"hw-version", 0, 0, G_OPTION_ARG_INT, &hw_version, "NRF_DFU_HW_VERSION (52)", "N"},
	    {"sd-fwid", 0, 0, G_OPTION_ARG_STRING, &sd_fwid, "Installed SoftDevice (0x0100)", "ID"},
	    {"app-valid", 0, 0, G_OPTION_ARG_NONE, &app_valid, "Bank 0 holds an application", NULL},
	    {"app-version", 0, 0, G_OPTION_ARG_INT, &app_version, "Its version", "N"},
	    {"app-runs",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &app_runs,
	     "What runs after a reset with a valid application: bootloader (default), silent, "
	     "dfu-trigger (USB), other-usb (USB), uart-log (UART)",
	     "MODE"},
	    {"dfu-mode",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &dfu_mode,
	     "Start in the bootloader, as after the reset button, whatever --app-runs says",
	     NULL},
	    {"require-signature",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &require_signature,
	     "A public key is provisioned",
	     NULL},
	    {"reset-after-writes",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &reset_after_writes,
	     "Reset right after the Nth data write",
	     "N"},
	    {"drop-response",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &drop_response,
	     "Never send the Nth response",
	     "N"},
	    {"corrupt-write",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &corrupt_write,
	     "Store the Nth data write with a byte flipped",
	     "N"},
	    {"ext-error",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &ext_error,
	     "Answer the Nth OP request with extended error CODE",
	     "OP:N:CODE"},
	    {"mtu", 0, 0, G_OPTION_ARG_STRING, &mtu_reply, "Hostile: MTU GET answers N", "N"},
	    {"max-object-size",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &max_object_size,
	     "Hostile: SELECT(data) claims objects of N bytes at most (creates still take a page)",
	     "N"},
	    {"select-offset",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &select_offset,
	     "Hostile: SELECT(data) reports offset N, whatever it holds",
	     "N"},
	    {"crc-wrong",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &crc_wrong,
	     "Hostile: every CRC it reports has one bit flipped",
	     NULL},
	    {"reply-other-op",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &other_op,
	     "Hostile: every response to OP names the previous request's opcode",
	     "OP"},
	    {"reply-wrong-length",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &short_op,
	     "Hostile: every response to OP is a byte short (a byte over when it has no payload)",
	     "OP"},
	    {"unsolicited",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &unsolicited,
	     "Hostile: line noise and a CRC notification nobody asked for before every response",
	     NULL},
	    {"endless-frame",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &endless_op,
	     "Hostile: instead of answering OP, bytes without a SLIP END, for ever",
	     "OP"},
	    {"flash-size",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &flash_size,
	     "Hostile: HW version reports N bytes of flash (the chip has 1 MiB)",
	     "N"},
	    {"refuse-execute",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &refuse_execute,
	     "Hostile: refuse every EXECUTE of the Nth data object and go back to offset 0",
	     "N"},
	    {"mute-execute",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &mute_execute,
	     "Hostile: never answer (nor do) the EXECUTE of the Nth data object",
	     "N"},
	    {"trigger-garbage",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &trigger_garbage,
	     "Hostile: the DFU trigger answers NORDIC_INFO with 0xFF bytes, SEMVER with binary "
	     "junk",
	     NULL},
	    {"reenumerate-ms",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &reenumerate_ms,
	     "Reset time after an image (default: its copy work, at most 13 s)",
	     "MS"},
	    {"sd-bl-back-ms",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &sd_bl_back_ms,
	     "Reset time after a SoftDevice or bootloader image (up to 13 s), instead",
	     "MS"},
	    {"flash-in", 0, 0, G_OPTION_ARG_FILENAME, &flash_in, "Initial flash (1 MiB)", "FILE"},
	    {"flash-out", 0, 0, G_OPTION_ARG_FILENAME, &flash_out, "Flash dump at the end", "FILE"},
	    {"trace", 0, 0, G_OPTION_ARG_FILENAME, &trace, "JSON lines", "FILE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Kill the client after", "SECONDS"},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &usbsim_verbose, "Log more", NULL},
	    {NULL}};

	usbsim_harness_reexec_under_preload(argv);
	usbsim_harness_set_log("usbsim-nrf-run", &usbsim_verbose);

	/* everything after -- is the client */
	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--") == 0) {
			arg_split = i;
			break;
		}
	}
	if (arg_split > 0) {
		client_argv = g_new0(gchar *, argc - arg_split);
		for (gint i = arg_split + 1; i < argc; i++)
			client_argv[i - arg_split - 1] = g_strdup(argv[i]);
		argc = arg_split;
	}
	context = g_option_context_new("-- CLIENT [ARGS...]");
	g_option_context_set_summary(
	    context,
	    "Run a client against a simulated nRF5 SDK Secure DFU bootloader");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("usbsim-nrf-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (list_profiles && json) {
		usbsim_nrf_list_profiles_json();
		return 0;
	}
	if (list_profiles) {
		usbsim_nrf_list_profiles();
		return 0;
	}
	if (client_argv == NULL || client_argv[0] == NULL) {
		g_printerr("usbsim-nrf-run: no client given after --\n");
		return USBSIM_EXIT_SETUP;
	}
	if (g_strcmp0(profile, "nrf52-uart") == 0)
		run.front = USBSIM_NRF_FRONT_UART;
	else if (profile == NULL || g_strcmp0(profile, "nrf52840-dongle") == 0)
		run.front = USBSIM_NRF_FRONT_USB;
	else {
		g_printerr("usbsim-nrf-run: unknown profile '%s'\n", profile);
		return USBSIM_EXIT_SETUP;
	}
	if (time_scale <= 0 || timeout_s <= 0 || baud_rate <= 0) {
		g_printerr("usbsim-nrf-run: --time-scale, --timeout and --baud must be positive\n");
		return USBSIM_EXIT_SETUP;
	}
	usbsim_nrf_config_init(&config, run.front);
	if (!usbsim_nrf_parse_app_runs(app_runs, run.front, &config.app_runs))
		return USBSIM_EXIT_SETUP;
	run.app_runs = config.app_runs;
	config.dfu_mode_at_start = dfu_mode;
	config.time_scale = time_scale;
	config.baud_rate = baud_rate;
	config.hw_version = hw_version;
	config.app_valid = app_valid;
	config.app_version = app_version;
	config.require_signature = require_signature;
	config.reset_after_writes = reset_after_writes;
	config.drop_response = drop_response;
	config.corrupt_write = corrupt_write;
	if (reenumerate_ms >= 0)
		config.reenumerate_us = (gint64)(reenumerate_ms * 1000);
	if (sd_bl_back_ms >= 0)
		config.sd_bl_back_us = (gint64)(sd_bl_back_ms * 1000);
	if (sd_fwid != NULL) {
		guint64 v = 0;
		g_autoptr(GError) error_fwid = NULL;
		if (!usbsim_harness_parse_uint(sd_fwid, 0xFFFF, &v, "--sd-fwid", &error_fwid)) {
			g_printerr("usbsim-nrf-run: %s\n", error_fwid->message);
			return USBSIM_EXIT_SETUP;
		}
		config.sd_fwid = v;
	}
	if (ext_error != NULL && !usbsim_nrf_parse_ext_error(ext_error, &config))
		return USBSIM_EXIT_SETUP;
	{
		gint64 flash_size_v = 0;
		if (!usbsim_nrf_parse_u32_option(mtu_reply, "--mtu", &config.mtu_reply) ||
		    !usbsim_nrf_parse_u32_option(max_object_size,
						 "--max-object-size",
						 &config.data_max_reply) ||
		    !usbsim_nrf_parse_u32_option(select_offset,
						 "--select-offset",
						 &config.select_offset) ||
		    !usbsim_nrf_parse_u32_option(flash_size, "--flash-size", &flash_size_v) ||
		    !usbsim_nrf_parse_op_option(other_op, "--reply-other-op", &config.other_op) ||
		    !usbsim_nrf_parse_op_option(short_op,
						"--reply-wrong-length",
						&config.short_op) ||
		    !usbsim_nrf_parse_op_option(endless_op, "--endless-frame", &config.endless_op))
			return USBSIM_EXIT_SETUP;
		if (config.mtu_reply > 0xFFFF) {
			g_printerr("usbsim-nrf-run: --mtu is 16 bits\n");
			return USBSIM_EXIT_SETUP;
		}
		if (refuse_execute < 0 || mute_execute < 0) {
			g_printerr("usbsim-nrf-run: --refuse-execute and --mute-execute count "
				   "from 1\n");
			return USBSIM_EXIT_SETUP;
		}
		config.flash_size_reply = (guint32)flash_size_v;
		config.crc_wrong = crc_wrong;
		config.unsolicited = unsolicited;
		config.trigger_garbage = trigger_garbage;
		config.refuse_execute = refuse_execute;
		config.mute_execute = mute_execute;
	}
	if (!usbsim_harness_read_flash(flash_in, &config.flash_in, &error)) {
		g_printerr("usbsim-nrf-run: %s\n", error->message);
		return USBSIM_EXIT_SETUP;
	}
	if (!usbsim_harness_setup_tmpdir())
		return USBSIM_EXIT_SETUP;

	loop = g_main_loop_new(NULL, FALSE);
	run.loop = loop;
	run.child.loop = loop;
	run.time_scale = time_scale;
	run.baud_rate = baud_rate;
	model = usbsim_nrf_new(&config, g_get_monotonic_time());
	if (config.flash_in != NULL)
		g_bytes_unref(config.flash_in);
	run.model = model;
	testbed = umockdev_testbed_new();
	run.testbed = testbed;
	g_queue_init(&run.rx);
	g_queue_init(&run.tx);

	if (run.front == USBSIM_NRF_FRONT_USB) {
		device = usbsim_device_new(testbed, &usbsim_nrf_usb_ops, &run, time_scale);
		run.device = device;
		if (trace != NULL && !usbsim_device_set_trace(device, trace, &error)) {
			g_printerr("usbsim-nrf-run: %s\n", error->message);
			return USBSIM_EXIT_SETUP;
		}
		if (usbsim_nrf_run_on_usb(&run) && !usbsim_device_plug(device, &error)) {
			g_printerr("usbsim-nrf-run: cannot add the device: %s\n", error->message);
			return USBSIM_EXIT_SETUP;
		}
	} else {
		if (trace != NULL) {
			run.trace = fopen(trace, "w");
			if (run.trace == NULL) {
				g_printerr("usbsim-nrf-run: cannot write %s: %s\n",
					   trace,
					   g_strerror(errno));
				return USBSIM_EXIT_SETUP;
			}
		}
		if (!usbsim_nrf_run_add_uart(&run, &error)) {
			g_printerr("usbsim-nrf-run: cannot add the UART: %s\n", error->message);
			return USBSIM_EXIT_SETUP;
		}
		g_setenv("USBSIM_NRF_TTY", USBSIM_NRF_TTY, TRUE);
	}

	if (!usbsim_harness_child_spawn(&run.child, client_argv, timeout_s, &error)) {
		g_printerr("usbsim-nrf-run: cannot run %s: %s\n", client_argv[0], error->message);
		return USBSIM_EXIT_SETUP;
	}
	tick_id = g_timeout_add(1, usbsim_nrf_run_tick_cb, &run);
	exit_status = usbsim_harness_child_wait(&run.child, USBSIM_EXIT_SETUP);
	g_source_remove(tick_id);
	/* a client that exits right after the last execute leaves the device's boot pending: it
	 * must not run once the trace is closed and the device removed */
	if (run.boot_id != 0)
		g_source_remove(run.boot_id);
	/* a pty master without a slave polls readable for ever */
	if (run.master_watch_id != 0)
		g_source_remove(run.master_watch_id);
	if (run.wake_watch_id != 0)
		g_source_remove(run.wake_watch_id);
	if (run.wake_fd >= 0)
		close(run.wake_fd);

	/* the summary and the flash dump, then the testbed goes */
	if (device != NULL) {
		UsbsimDeviceStats stats = usbsim_device_get_stats(device);
		usbsim_device_lock(device);
		extra = g_strdup_printf("\"front\":\"usb\",\"bus_ms\":%.3f,\"enumerations\":%u,"
					"\"usb_requests_idle_ms\":%.3f",
					stats.bus_us / 1000.0,
					stats.enumerations,
					stats.host_idle_us / 1000.0);
	} else {
		extra = g_strdup("\"front\":\"uart\"");
	}
	usbsim_nrf_run_flush_trace(&run);
	summary = usbsim_nrf_summary_json(model, g_get_monotonic_time(), extra);
	usbsim_nrf_run_trace_line(&run, summary);
	if (flash_out != NULL) {
		g_autoptr(GBytes) flash = usbsim_nrf_get_flash(model);
		usbsim_harness_write_flash(flash_out, flash);
	}
	if (device != NULL) {
		usbsim_device_unlock(device);
		usbsim_device_remove(device);
	}
	g_debug("%s", summary);
	if (run.trace != NULL)
		fclose(run.trace);
	g_queue_clear_full(&run.rx, (GDestroyNotify)usbsim_nrf_chunk_free);
	g_queue_clear_full(&run.tx, (GDestroyNotify)usbsim_nrf_chunk_free);
	usbsim_harness_testbed_release(g_steal_pointer(&testbed));
	return exit_status;
}
