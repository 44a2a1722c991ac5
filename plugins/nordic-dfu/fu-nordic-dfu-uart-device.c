/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-device.h"
#include "fu-nordic-dfu-uart-device.h"

/*
 * The Secure DFU bootloader on a UART, reached through a tty (a board's USB-UART bridge such
 * as a J-Link's CDC port, or a native serial port). A tty is only taken when a quirk names it
 * (the private flag `uart`): any serial port could be anything.
 */

#define FU_NORDIC_DFU_FLAG_UART "uart"

/* nrf_dfu_serial_uart.c defaults: 115200 baud, hardware flow control on (pc-nrfutil
 * DEFAULT_FLOW_CONTROL True) */
#define FU_NORDIC_DFU_UART_BAUD_RATE_DEFAULT 115200

struct _FuNordicDfuUartDevice {
	FuUdevDevice parent_instance;
	FuNordicDfuState state;
	guint baud_rate;
	gboolean flow_control;
	gboolean restarting;	/* the last image was activated: the bootloader resets */
	gboolean app_owns_port; /* the bootloader did not answer after it: the application runs */
};

static void
fu_nordic_dfu_uart_device_iface_init(FuNordicDfuDeviceInterface *iface);

G_DEFINE_TYPE_WITH_CODE(FuNordicDfuUartDevice,
			fu_nordic_dfu_uart_device,
			FU_TYPE_UDEV_DEVICE,
			G_IMPLEMENT_INTERFACE(FU_TYPE_NORDIC_DFU_DEVICE,
					      fu_nordic_dfu_uart_device_iface_init))

static gboolean
fu_nordic_dfu_uart_device_write_cb(FuDevice *device,
				   NrfDfuProtoChannel channel,
				   const guint8 *buf,
				   gsize bufsz,
				   guint timeout_ms,
				   GError **error)
{
	return fu_udev_device_write(FU_UDEV_DEVICE(device),
				    buf,
				    bufsz,
				    timeout_ms,
				    FU_IO_CHANNEL_FLAG_NONE,
				    error);
}

/* what has arrived, waiting at most timeout_ms for the first byte */
static gboolean
fu_nordic_dfu_uart_device_read_cb(FuDevice *device,
				  guint8 *buf,
				  gsize bufsz,
				  gsize *actual,
				  guint timeout_ms,
				  GError **error)
{
	gint64 started_us = g_get_monotonic_time();
	g_autoptr(GError) error_local = NULL;

	if (fu_udev_device_read(FU_UDEV_DEVICE(device),
				buf,
				bufsz,
				actual,
				timeout_ms,
				FU_IO_CHANNEL_FLAG_SINGLE_SHOT,
				&error_local))
		return TRUE;

	/* the core needs the port that closed told apart from the bootloader that is silent */
	if (!fu_nordic_dfu_read_error_is_gone(error_local, device, started_us, timeout_ms)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_NOT_FOUND,
		    "port closed: %s",
		    error_local->message);
	return FALSE;
}

static speed_t
fu_nordic_dfu_uart_device_speed(guint baud_rate)
{
	switch (baud_rate) {
	case 9600:
		return B9600;
	case 19200:
		return B19200;
	case 38400:
		return B38400;
	case 57600:
		return B57600;
	case 115200:
		return B115200;
	case 230400:
		return B230400;
	case 460800:
		return B460800;
	case 921600:
		return B921600;
	case 1000000:
		return B1000000;
	default:
		return B0;
	}
}

static gboolean
fu_nordic_dfu_uart_device_probe(FuDevice *device, GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	const gchar *device_file;
	g_autofree gchar *name = NULL;
	g_autoptr(FuDevice) usb = NULL;

	if (!FU_DEVICE_CLASS(fu_nordic_dfu_uart_device_parent_class)->probe(device, error))
		return FALSE;
	if (g_strcmp0(fu_udev_device_get_subsystem(FU_UDEV_DEVICE(self)), "tty") != 0) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED, "not a tty");
		return FALSE;
	}
	device_file = fu_udev_device_get_device_file(FU_UDEV_DEVICE(self));
	if (device_file == NULL) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_SUPPORTED, "no /dev node");
		return FALSE;
	}

	/* the identity a quirk can name: the port's USB bridge, or its name; the node's
	 * stat() is used, never the open fd, which may be a pty under test */
	usb = fu_device_get_backend_parent_with_subsystem(device, "usb:usb_device", NULL);
	if (usb != NULL && fu_device_probe(usb, NULL)) {
		fu_device_add_instance_u16(device, "VID", fu_device_get_vid(usb));
		fu_device_add_instance_u16(device, "PID", fu_device_get_pid(usb));
		fu_device_build_instance_id_full(device,
						 FU_DEVICE_INSTANCE_FLAG_QUIRKS,
						 NULL,
						 "NRFDFU_UART",
						 "VID",
						 "PID",
						 NULL);
		fu_device_set_vid(device, fu_device_get_vid(usb));
		fu_device_set_pid(device, fu_device_get_pid(usb));
		fu_device_build_vendor_id_u16(device, "USB", fu_device_get_vid(usb));
	}
	name = g_path_get_basename(device_file);
	fu_device_add_instance_str(device, "DEV", name);
	fu_device_build_instance_id_full(device,
					 FU_DEVICE_INSTANCE_FLAG_QUIRKS,
					 NULL,
					 "NRFDFU_UART",
					 "DEV",
					 NULL);
	if (!fu_device_has_private_flag(device, FU_NORDIC_DFU_FLAG_UART)) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "%s is not named as a Secure DFU UART by a quirk",
			    device_file);
		return FALSE;
	}
	fu_device_set_physical_id(device, device_file);
	fu_device_set_logical_id(device, name);
	return TRUE;
}

/* raw 8N1 at the quirk's rate; a port that refuses modem control lines is still usable */
static gboolean
fu_nordic_dfu_uart_device_open(FuDevice *device, GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	struct termios tio = {0};
	speed_t speed = fu_nordic_dfu_uart_device_speed(self->baud_rate);
	gint fd;
	gint bits = TIOCM_DTR | TIOCM_RTS;
	g_autoptr(FuIoctl) ioctl = NULL;
	g_autoptr(GError) error_local = NULL;

	if (!FU_DEVICE_CLASS(fu_nordic_dfu_uart_device_parent_class)->open(device, error))
		return FALSE;
	/* libfwupdplugin 2.0.20 has no helper for a tty's line settings (fwupd's modem-manager
	 * plugin calls termios itself too): they are set on the fd of the device's FuIOChannel */
	fd = fu_io_channel_unix_get_fd(fu_udev_device_get_io_channel(FU_UDEV_DEVICE(self)));
	if (tcgetattr(fd, &tio) != 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "tcgetattr: %s",
			    fwupd_strerror(errno));
		return FALSE;
	}
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	if (self->flow_control)
		tio.c_cflag |= CRTSCTS;
	else
		tio.c_cflag &= ~CRTSCTS;
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	cfsetispeed(&tio, speed);
	cfsetospeed(&tio, speed);
	if (tcsetattr(fd, TCSANOW, &tio) != 0) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "tcsetattr: %s",
			    fwupd_strerror(errno));
		return FALSE;
	}
	ioctl = fu_udev_device_ioctl_new(FU_UDEV_DEVICE(self));
	if (!fu_ioctl_execute(ioctl,
			      TIOCMBIS,
			      (guint8 *)&bits,
			      sizeof(bits),
			      NULL,
			      0,
			      FU_IOCTL_FLAG_NONE,
			      &error_local))
		g_debug("setting DTR and RTS: %s", error_local->message);
	if (tcflush(fd, TCIOFLUSH) != 0)
		g_debug("tcflush: %s", fwupd_strerror(errno));
	return TRUE;
}

/* the tty stays while the bootloader resets between images: all of them are written here */
static gboolean
fu_nordic_dfu_uart_device_write_firmware(FuDevice *device,
					 FuFirmware *firmware,
					 FuProgress *progress,
					 FwupdInstallFlags flags,
					 GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);

	/* what an earlier update left, if it failed before attach */
	self->restarting = FALSE;
	self->app_owns_port = FALSE;
	if (!fu_nordic_dfu_write_firmware(&self->state.transport,
					  &self->state,
					  firmware,
					  TRUE,
					  progress,
					  error))
		return FALSE;
	self->restarting = TRUE;
	return TRUE;
}

/* the tty stays while the bootloader resets into the new image, so there is no replug for
 * fwupd to wait for: the device is back when the bootloader answers again. It does not when
 * the application it started owns the port (silent, or writing what it writes, which is no
 * reply of the bootloader's): the final execute was answered, so the update is done, and the
 * version is the one the bootloader accepted in the init packet, not read back */
static gboolean
fu_nordic_dfu_uart_device_attach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	g_autofree gchar *why = NULL;
	g_autoptr(GError) error_local = NULL;

	if (!self->restarting)
		return TRUE;
	self->restarting = FALSE;
	self->app_owns_port = FALSE;
	if (fu_nordic_dfu_skip_wait_after_update(device))
		return TRUE;
	if (fu_nordic_dfu_wait_after_update(&self->state.transport, &self->state, &error_local))
		return TRUE;
	why =
	    g_strdup_printf("the %s image was validated and activated by the bootloader, which "
			    "did not answer again within %u ms of its reset (%s): the application "
			    "it started owns the port, so the update is done, but the version it "
			    "runs was not read back",
			    fu_nordic_dfu_image_fw_type_to_string(self->state.last_type),
			    fu_nordic_dfu_back_within_ms(&self->state),
			    error_local->message);
	fu_nordic_dfu_set_unverified(device, &self->state.unverified, why);
	self->app_owns_port = TRUE;
	if (self->state.last_type == FU_NORDIC_DFU_FW_TYPE_APPLICATION)
		fu_device_set_version_raw(device, self->state.last_fw_version);
	return fu_nordic_dfu_emit_unverified(device, &self->state.unverified, progress, error);
}

/* the versions of the bootloader that came back, for fwupd's check against the release; an
 * application that owns the port has none to give */
static gboolean
fu_nordic_dfu_uart_device_reload(FuDevice *device, GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	if (self->app_owns_port)
		return TRUE;
	return fu_nordic_dfu_reload(&self->state.transport, &self->state, error);
}

/* the port stays listed: its next update is checked again */
static gboolean
fu_nordic_dfu_uart_device_cleanup(FuDevice *device,
				  FuProgress *progress,
				  FwupdInstallFlags flags,
				  GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	fu_nordic_dfu_clear_unverified(device, &self->state.unverified);
	return TRUE;
}

static gboolean
fu_nordic_dfu_uart_device_set_quirk_kv(FuDevice *device,
				       const gchar *key,
				       const gchar *value,
				       GError **error)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	guint64 tmp = 0;

	if (g_strcmp0(key, FU_NORDIC_DFU_QUIRK_BAUD_RATE) == 0) {
		if (!fu_strtoull(value, &tmp, 1, G_MAXUINT32, FU_INTEGER_BASE_AUTO, error))
			return FALSE;
		if (fu_nordic_dfu_uart_device_speed((guint)tmp) == B0) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "baud rate %u is not a standard rate",
				    (guint)tmp);
			return FALSE;
		}
		self->baud_rate = (guint)tmp;
		/* 8N1: ten bits a byte, for the bound on a transfer's length */
		self->state.byte_us =
		    (guint32)((10000000u + self->baud_rate - 1) / self->baud_rate);
		return TRUE;
	}
	if (g_strcmp0(key, FU_NORDIC_DFU_QUIRK_FLOW_CONTROL) == 0)
		return fu_strtobool(value, &self->flow_control, error);
	return fu_nordic_dfu_device_set_quirk_kv(device, key, value, error);
}

static void
fu_nordic_dfu_uart_device_to_string(FuDevice *device, guint idt, GString *str)
{
	FuNordicDfuUartDevice *self = FU_NORDIC_DFU_UART_DEVICE(device);
	fwupd_codec_string_append_int(str, idt, "BaudRate", self->baud_rate);
	fwupd_codec_string_append_bool(str, idt, "FlowControl", self->flow_control);
	fu_nordic_dfu_to_string(&self->state, idt, str);
}

static void
fu_nordic_dfu_uart_device_init(FuNordicDfuUartDevice *self)
{
	self->baud_rate = FU_NORDIC_DFU_UART_BAUD_RATE_DEFAULT;
	self->flow_control = TRUE;
	self->state.transport.device = FU_DEVICE(self);
	/* both channels in one SLIP stream */
	self->state.transport.slip = TRUE;
	self->state.transport.write = fu_nordic_dfu_uart_device_write_cb;
	self->state.transport.read = fu_nordic_dfu_uart_device_read_cb;
	fu_nordic_dfu_init_device(FU_DEVICE(self));
	fu_device_register_private_flag(FU_DEVICE(self), FU_NORDIC_DFU_FLAG_UART);
	fu_udev_device_add_open_flag(FU_UDEV_DEVICE(self), FU_IO_CHANNEL_OPEN_FLAG_READ);
	fu_udev_device_add_open_flag(FU_UDEV_DEVICE(self), FU_IO_CHANNEL_OPEN_FLAG_WRITE);
	fu_udev_device_add_open_flag(FU_UDEV_DEVICE(self), FU_IO_CHANNEL_OPEN_FLAG_NONBLOCK);
	fu_device_set_name(FU_DEVICE(self), "nRF5 Secure DFU bootloader (UART)");
}

static FuNordicDfuState *
fu_nordic_dfu_uart_device_get_state(FuNordicDfuDevice *device)
{
	return &FU_NORDIC_DFU_UART_DEVICE(device)->state;
}

static void
fu_nordic_dfu_uart_device_iface_init(FuNordicDfuDeviceInterface *iface)
{
	iface->get_state = fu_nordic_dfu_uart_device_get_state;
}

static void
fu_nordic_dfu_uart_device_class_init(FuNordicDfuUartDeviceClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	fu_nordic_dfu_device_class_add_vfuncs(device_class);
	device_class->probe = fu_nordic_dfu_uart_device_probe;
	device_class->open = fu_nordic_dfu_uart_device_open;
	device_class->write_firmware = fu_nordic_dfu_uart_device_write_firmware;
	device_class->attach = fu_nordic_dfu_uart_device_attach;
	device_class->reload = fu_nordic_dfu_uart_device_reload;
	device_class->cleanup = fu_nordic_dfu_uart_device_cleanup;
	device_class->set_quirk_kv = fu_nordic_dfu_uart_device_set_quirk_kv;
	device_class->to_string = fu_nordic_dfu_uart_device_to_string;
}
