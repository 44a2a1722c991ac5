/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-ble-device.h"
#include "fu-nordic-dfu-common.h"
#include "fu-nordic-dfu-device.h"

/*
 * The Secure DFU bootloader over Bluetooth LE (nrf_dfu_ble.c): requests are written to the
 * control point (8EC90001) with write requests and answered by its notifications; object data
 * goes to the packet characteristic (8EC90002) as writes without response of at most
 * ATT MTU - 3 bytes. There is no SLIP: the core's requests go to the control point and its
 * object data to the packet characteristic as they are, and each notification is one response
 * for the core. There is no MTU get either: the core is given the packet size.
 *
 * BlueZ hands out the packet characteristic and the control point's notifications as
 * sockets (AcquireWrite, AcquireNotify), one datagram a write or notification, with the
 * link's ATT MTU; a full socket is the link's only flow control.
 *
 * After the last image the bootloader disconnects and resets into what it activated: the
 * application when it is valid, at the application's own address, else the bootloader again.
 * Nothing connects a custom GATT device again by itself, so while fwupd waits for the replug
 * the plugin connects whichever advertises; fwupd's BlueZ backend then offers it when it is
 * paired (the plugin adds an unpaired bootloader itself), and it replaces this device through
 * its device ID (same address) or NRFDFU_BLE\ADDR_<the application's address>.
 */

/* packet receipt notifications over BLE, see README.md */
#define FU_NORDIC_DFU_BLE_PRN_DEFAULT 8
/* attempts to carry on after the link was lost in the middle of an image */
#define FU_NORDIC_DFU_BLE_RESUME_TRIES 3

struct _FuNordicDfuBleDevice {
	FuBluezDevice parent_instance;
	FuNordicDfuState state;
	/* the address of the application this bootloader came from, when it differs from its own */
	gchar *app_address;
	gchar *control_point_path;
	FuIOChannel *notify_io;
	FuIOChannel *packet_io;
	guint att_mtu;
	gsize chunk_size;
	gboolean packet_via_write_value; /* AcquireWrite refused: WriteValue a packet */
	gchar *packet_path;
	guint reconnects;
	FuPlugin *plugin;    /* weak; set when the plugin added this bootloader itself */
	gboolean restarting; /* the last image was activated: the bootloader resets */
	guint restart_id;    /* following what comes back after the last image */
	gboolean gone;	     /* nothing that came back replaces it: done, version not read */
	gboolean stayed;     /* it did not reset: its versions are read where it is */
	gboolean writing;    /* in write_firmware: a lost link is resumed there */
};

static void
fu_nordic_dfu_ble_device_iface_init(FuNordicDfuDeviceInterface *iface);

G_DEFINE_TYPE_WITH_CODE(FuNordicDfuBleDevice,
			fu_nordic_dfu_ble_device,
			FU_TYPE_BLUEZ_DEVICE,
			G_IMPLEMENT_INTERFACE(FU_TYPE_NORDIC_DFU_DEVICE,
					      fu_nordic_dfu_ble_device_iface_init))

static void
fu_nordic_dfu_ble_device_release(FuNordicDfuBleDevice *self)
{
	g_clear_object(&self->notify_io);
	g_clear_object(&self->packet_io);
	g_clear_pointer(&self->control_point_path, g_free);
	g_clear_pointer(&self->packet_path, g_free);
}

static FuIOChannel *
fu_nordic_dfu_ble_device_acquire(const gchar *path, const gchar *method, guint *mtu, GError **error)
{
	g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
	g_autoptr(GUnixFDList) fds = NULL;
	g_autoptr(GVariant) reply = NULL;
	gint32 idx = 0;
	guint16 mtu_tmp = 0;
	gint fd;

	if (bus == NULL)
		return NULL;
	reply = g_dbus_connection_call_with_unix_fd_list_sync(
	    bus,
	    "org.bluez",
	    path,
	    "org.bluez.GattCharacteristic1",
	    method,
	    g_variant_new("(@a{sv})", g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0)),
	    G_VARIANT_TYPE("(hq)"),
	    G_DBUS_CALL_FLAGS_NONE,
	    FU_NORDIC_DFU_BLE_CALL_TIMEOUT_MS,
	    NULL,
	    &fds,
	    NULL,
	    error);
	if (reply == NULL) {
		g_dbus_error_strip_remote_error(*error);
		g_prefix_error(error, "%s: ", method);
		return NULL;
	}
	g_variant_get(reply, "(hq)", &idx, &mtu_tmp);
	fd = fu_nordic_dfu_ble_fd_from_reply(fds, idx, method, error);
	if (fd < 0)
		return NULL;
	*mtu = mtu_tmp;
	return fu_io_channel_unix_new(fd);
}

/* the characteristics of the link as it is now: after a reconnection they are new objects */
static gboolean
fu_nordic_dfu_ble_device_acquire_all(FuNordicDfuBleDevice *self, GError **error)
{
	const gchar *device_path = fu_nordic_dfu_ble_device_path(FU_BLUEZ_DEVICE(self));
	g_autofree gchar *cp = NULL;
	g_autofree gchar *packet = NULL;
	g_autoptr(GError) error_write = NULL;
	guint mtu_notify = 0;
	guint mtu_write = 0;

	fu_nordic_dfu_ble_device_release(self);
	cp = fu_nordic_dfu_ble_find_characteristic(device_path,
						   FU_NORDIC_DFU_BLE_UUID_CONTROL_POINT,
						   error);
	if (cp == NULL)
		return FALSE;
	packet = fu_nordic_dfu_ble_find_characteristic(device_path,
						       FU_NORDIC_DFU_BLE_UUID_PACKET,
						       error);
	if (packet == NULL)
		return FALSE;
	self->notify_io = fu_nordic_dfu_ble_device_acquire(cp, "AcquireNotify", &mtu_notify, error);
	if (self->notify_io == NULL)
		return FALSE;
	self->packet_io =
	    fu_nordic_dfu_ble_device_acquire(packet, "AcquireWrite", &mtu_write, &error_write);
	if (self->packet_io != NULL) {
		self->att_mtu = mtu_write;
		self->packet_via_write_value = FALSE;
	} else {
		g_autoptr(GVariant) mtu = NULL;
		/* older BlueZ: the MTU property (5.62+), else the MTU every link starts with */
		g_debug("%s, writing packets with WriteValue", error_write->message);
		mtu = fu_nordic_dfu_ble_get_property(packet,
						     "org.bluez.GattCharacteristic1",
						     "MTU",
						     NULL);
		self->att_mtu = mtu != NULL ? g_variant_get_uint16(mtu)
					    : FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT;
		self->packet_via_write_value = TRUE;
	}
	self->att_mtu = fu_nordic_dfu_ble_att_mtu_bounded(self->att_mtu);
	self->chunk_size = self->att_mtu - FU_NORDIC_DFU_BLE_ATT_HEADER;
	self->control_point_path = g_steal_pointer(&cp);
	self->packet_path = g_steal_pointer(&packet);
	self->state.packet_size = self->chunk_size;
	/* for the bound on a transfer's length: one packet a connection event of a slow
	 * connection interval, so that a slow but working link is never cut off */
	self->state.byte_us =
	    (guint32)(FU_NORDIC_DFU_BLE_SLOW_PACKET_US / MAX(self->chunk_size, 1));
	g_debug("ATT MTU %u: %" G_GSIZE_FORMAT " bytes a packet", self->att_mtu, self->chunk_size);
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_reconnect(FuNordicDfuBleDevice *self, guint timeout_ms, GError **error)
{
	const gchar *device_path = fu_nordic_dfu_ble_device_path(FU_BLUEZ_DEVICE(self));
	fu_nordic_dfu_ble_device_release(self);
	if (!fu_nordic_dfu_ble_connect(device_path, timeout_ms, error))
		return FALSE;
	self->reconnects++;
	return fu_nordic_dfu_ble_device_acquire_all(self, error);
}

static gboolean
fu_nordic_dfu_ble_device_write_value(const gchar *path,
				     const guint8 *buf,
				     gsize bufsz,
				     guint timeout_ms,
				     GError **error)
{
	g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error_local = NULL;
	GVariantBuilder opts;

	if (bus == NULL)
		return FALSE;
	g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&opts, "{sv}", "offset", g_variant_new_uint16(0));
	reply = g_dbus_connection_call_sync(
	    bus,
	    "org.bluez",
	    path,
	    "org.bluez.GattCharacteristic1",
	    "WriteValue",
	    g_variant_new("(@ay@a{sv})",
			  g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, buf, bufsz, 1),
			  g_variant_builder_end(&opts)),
	    NULL,
	    G_DBUS_CALL_FLAGS_NONE,
	    (gint)timeout_ms,
	    NULL,
	    &error_local);
	if (reply == NULL) {
		/* BlueZ fails a write on a link that went away: the device is gone for now */
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_TIMED_OUT,
					    error_local->message);
			return FALSE;
		}
		g_dbus_error_strip_remote_error(error_local);
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_FOUND,
				    error_local->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_ensure_link(FuNordicDfuBleDevice *self, guint timeout_ms, GError **error)
{
	if (self->notify_io != NULL)
		return TRUE;
	return fu_nordic_dfu_ble_device_reconnect(self, timeout_ms, error);
}

static gboolean
fu_nordic_dfu_ble_device_write_cb(FuDevice *device,
				  NrfDfuProtoChannel channel,
				  const guint8 *buf,
				  gsize bufsz,
				  guint timeout_ms,
				  GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	const gchar *path;
	g_autoptr(GError) error_local = NULL;

	if (!fu_nordic_dfu_ble_device_ensure_link(self, timeout_ms, error))
		return FALSE;
	if (!fu_nordic_dfu_ble_check_request(channel, buf, bufsz, self->chunk_size, error))
		return FALSE;
	if (channel == NRF_DFU_PROTO_CHANNEL_PACKET && !self->packet_via_write_value) {
		if (!fu_io_channel_write_raw(self->packet_io,
					     buf,
					     bufsz,
					     timeout_ms,
					     FU_IO_CHANNEL_FLAG_NONE,
					     &error_local)) {
			/* the socket closes with the link */
			fu_nordic_dfu_ble_device_release(self);
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_NOT_FOUND,
					    error_local->message);
			return FALSE;
		}
		return TRUE;
	}
	/* the control point, or packets where BlueZ refused AcquireWrite */
	path = channel == NRF_DFU_PROTO_CHANNEL_PACKET ? self->packet_path
						       : self->control_point_path;
	if (!fu_nordic_dfu_ble_device_write_value(path, buf, bufsz, timeout_ms, error)) {
		/* a link gone under either characteristic is gone for both */
		if (g_error_matches(*error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND))
			fu_nordic_dfu_ble_device_release(self);
		return FALSE;
	}
	return TRUE;
}

/* one notification of the control point: one response for the core */
static gboolean
fu_nordic_dfu_ble_device_read_cb(FuDevice *device,
				 guint8 *buf,
				 gsize bufsz,
				 gsize *actual,
				 guint timeout_ms,
				 GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	gint64 started_us = g_get_monotonic_time();
	g_autoptr(GError) error_local = NULL;

	if (self->notify_io == NULL) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "link lost");
		return FALSE;
	}
	if (!fu_io_channel_read_raw(self->notify_io,
				    buf,
				    MIN(bufsz, FU_NORDIC_DFU_BLE_NOTIFICATION_MAX),
				    actual,
				    timeout_ms,
				    FU_IO_CHANNEL_FLAG_SINGLE_SHOT,
				    &error_local)) {
		if (!fu_nordic_dfu_read_error_is_gone(error_local,
						      FU_DEVICE(self),
						      started_us,
						      timeout_ms)) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_TIMED_OUT,
					    "no notification");
			return FALSE;
		}
		/* the socket closes with the link */
		g_debug("reading a notification: %s", error_local->message);
		fu_nordic_dfu_ble_device_release(self);
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND, "link lost");
		return FALSE;
	}
	return TRUE;
}

static void
fu_nordic_dfu_ble_device_set_app_address(FuNordicDfuBleDevice *self, const gchar *app_address)
{
	g_free(self->app_address);
	self->app_address = g_strdup(app_address);
}

/* the link of a bootloader the plugin added itself dropped: fwupd's BlueZ backend removes only
 * the devices it added, so outside an update (the bootloader reset on its own, after the SDK's
 * inactivity timeout, or went out of range) the plugin removes it, or it would stay listed; in
 * an update a lost link is resumed by the write, and the reset into the new image is followed
 * by fu_nordic_dfu_ble_device_restart_cb() */
static void
fu_nordic_dfu_ble_device_link_changed_cb(GDBusProxy *proxy,
					 GVariant *changed,
					 GStrv invalidated,
					 FuNordicDfuBleDevice *self)
{
	gboolean connected = TRUE;
	g_autoptr(FuDevice) device = NULL;

	if (!g_variant_lookup(changed, "Connected", "b", &connected) || connected)
		return;
	if (self->plugin == NULL || self->writing || self->restarting ||
	    fu_device_has_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG))
		return;
	g_info("the bootloader %s disconnected outside an update; removing it",
	       fu_device_get_logical_id(FU_DEVICE(self)));
	/* held while fwupd lets go of it */
	device = g_object_ref(FU_DEVICE(self));
	fu_plugin_device_remove(self->plugin, device);
}

gboolean
fu_nordic_dfu_ble_device_add_unpaired(FuPlugin *plugin,
				      FuContext *ctx,
				      GDBusObjectManager *object_manager,
				      const gchar *path,
				      const gchar *app_address,
				      GError **error)
{
	g_autoptr(GDBusProxy) proxy = NULL;
	g_autoptr(FuNordicDfuBleDevice) dev = NULL;
	g_autoptr(FuDeviceLocker) locker = NULL;

	proxy = g_dbus_proxy_new_for_bus_sync(G_BUS_TYPE_SYSTEM,
					      G_DBUS_PROXY_FLAGS_NONE,
					      NULL,
					      "org.bluez",
					      path,
					      "org.bluez.Device1",
					      NULL,
					      error);
	if (proxy == NULL)
		return FALSE;
	dev = g_object_new(FU_TYPE_NORDIC_DFU_BLE_DEVICE,
			   "context",
			   ctx,
			   "backend-id",
			   path,
			   "object-manager",
			   object_manager,
			   "proxy",
			   proxy,
			   NULL);
	fu_nordic_dfu_ble_device_set_app_address(dev, app_address);
	g_set_weak_pointer(&dev->plugin, plugin);
	locker = fu_device_locker_new(FU_DEVICE(dev), error);
	if (locker == NULL)
		return FALSE;
	g_signal_connect_object(proxy,
				"g-properties-changed",
				G_CALLBACK(fu_nordic_dfu_ble_device_link_changed_cb),
				dev,
				0);
	fu_plugin_device_add(plugin, FU_DEVICE(dev));
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_has_characteristic(const gchar *path, const gchar *uuid)
{
	g_autofree gchar *chr = fu_nordic_dfu_ble_find_characteristic(path, uuid, NULL);
	return chr != NULL;
}

/* what came back after the last image, followed on fwupd's main loop while it waits */
typedef struct {
	FuNordicDfuBleDevice *self; /* ref */
	gchar *bl_path;
	gchar *bl_address;
	gchar *app_address;
	gboolean reset;	 /* the bootloader's link dropped: it reset into the new image */
	guint within_ms; /* for the disconnection, then from it for what comes back */
	gint64 deadline_us;
	FuNordicDfuBleSeek seek;
} FuNordicDfuBleDeviceRestart;

static void
fu_nordic_dfu_ble_device_restart_free(FuNordicDfuBleDeviceRestart *helper)
{
	fu_nordic_dfu_ble_seek_clear(&helper->seek);
	helper->self->restart_id = 0;
	g_object_unref(helper->self);
	g_free(helper->bl_path);
	g_free(helper->bl_address);
	g_free(helper->app_address);
	g_free(helper);
}

/* the final execute was answered success, so the bootloader validated and activated the
 * image, and nothing that came back can replace this device or tell its version: the update is
 * done, unverified; end fwupd's wait, and say it after the update (attach) */
static void
fu_nordic_dfu_ble_device_restart_unverified(FuNordicDfuBleDeviceRestart *helper, const gchar *what)
{
	FuNordicDfuBleDevice *self = helper->self;
	g_autofree gchar *why =
	    g_strdup_printf("the %s image was validated and activated by the bootloader %s, "
			    "which then reset, and %s: the update is done, but the version the "
			    "device runs was not read back",
			    fu_nordic_dfu_image_fw_type_to_string(self->state.last_type),
			    helper->bl_address,
			    what);
	fu_nordic_dfu_set_unverified(FU_DEVICE(self), &self->state.unverified, why);
	self->gone = TRUE;
	fu_device_remove_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
}

/* connected to @path after the update: TRUE when the follow is over */
static gboolean
fu_nordic_dfu_ble_device_restart_found(FuNordicDfuBleDeviceRestart *helper, const gchar *path)
{
	FuNordicDfuBleDevice *self = helper->self;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GVariant) address = NULL;
	const gchar *addr;
	gboolean cp =
	    fu_nordic_dfu_ble_device_has_characteristic(path, FU_NORDIC_DFU_BLE_UUID_CONTROL_POINT);
	gboolean buttonless =
	    fu_nordic_dfu_ble_device_has_characteristic(path, FU_NORDIC_DFU_BLE_UUID_BUTTONLESS) ||
	    fu_nordic_dfu_ble_device_has_characteristic(path,
							FU_NORDIC_DFU_BLE_UUID_BUTTONLESS_BONDS);

	address = fu_nordic_dfu_ble_get_property(path, "org.bluez.Device1", "Address", NULL);
	addr = address != NULL ? g_variant_get_string(address, NULL) : path;

	/* an application without the buttonless service is no device of this plugin: it is
	 * left as the plugin found it, free for the central it serves */
	if (!cp && !buttonless) {
		g_autofree gchar *what =
		    g_strdup_printf("the application it started (%s) has no Secure DFU service, so "
				    "it is no device of this plugin; check the version it reports "
				    "itself",
				    addr);
		fu_nordic_dfu_ble_call_best_effort(path, "org.bluez.Device1", "Disconnect");
		fu_nordic_dfu_ble_device_restart_unverified(helper, what);
		return TRUE;
	}

	/* paired: fwupd's BlueZ backend offers it, and the plugin makes the device */
	if (fu_nordic_dfu_ble_get_bool(path, "Paired")) {
		g_info("%s is back as the %s; the BlueZ backend adds it",
		       addr,
		       cp ? "bootloader" : "application");
		return TRUE;
	}

	/* an unbonded bootloader (no valid application): the plugin adds it */
	if (cp && self->plugin != NULL) {
		g_autoptr(GDBusObjectManager) object_manager = NULL;
		g_object_get(self, "object-manager", &object_manager, NULL);
		/* the object manager may not have seen the GATT objects yet: try again */
		if (!fu_nordic_dfu_ble_device_add_unpaired(self->plugin,
							   fu_device_get_context(FU_DEVICE(self)),
							   object_manager,
							   path,
							   helper->app_address,
							   &error_local)) {
			g_debug("adding bootloader %s: %s", path, error_local->message);
			return FALSE;
		}
		g_info("%s is back as the unbonded bootloader", addr);
		return TRUE;
	}
	{
		g_autofree gchar *what = g_strdup_printf(
		    "%s came back as the %s but is not paired, so fwupd does not "
		    "offer it; pair it, then fwupdmgr get-devices shows its version",
		    addr,
		    cp ? "bootloader" : "application");
		fu_nordic_dfu_ble_device_restart_unverified(helper, what);
	}
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_restart_cb(gpointer user_data)
{
	FuNordicDfuBleDeviceRestart *helper = user_data;
	FuNordicDfuBleDevice *self = helper->self;

	/* fwupd has what it waited for (or gave up) */
	if (!fu_device_has_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG))
		return G_SOURCE_REMOVE;

	/* the bootloader disconnects, writes its settings and resets */
	if (!helper->reset) {
		if (fu_nordic_dfu_ble_get_bool(helper->bl_path, "Connected")) {
			if (g_get_monotonic_time() < helper->deadline_us)
				return G_SOURCE_CONTINUE;
			/* the SDK's bootloader always resets once it has activated an image: one
			 * that is still there is asked for its versions where it is (reload),
			 * which fwupd checks against the release */
			g_info("the bootloader %s did not disconnect within %u ms of the last "
			       "execute; reading its versions where it is",
			       helper->bl_address,
			       helper->within_ms);
			self->stayed = TRUE;
			self->restarting = FALSE;
			fu_device_remove_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
			return G_SOURCE_REMOVE;
		}
		helper->reset = TRUE;
		/* from the reset on, what it started has as long to come back */
		helper->deadline_us = g_get_monotonic_time() + (gint64)helper->within_ms * 1000;
		g_info("the bootloader %s reset into the new image; waiting %u ms for what it "
		       "starts",
		       helper->bl_address,
		       helper->within_ms);
		/* fwupd's BlueZ backend removes a paired device when its link drops; an unpaired
		 * one the plugin added is removed here, so fwupd waits for what replaces it */
		if (self->plugin != NULL && !fu_nordic_dfu_ble_get_bool(helper->bl_path, "Paired"))
			fu_plugin_device_remove(self->plugin, FU_DEVICE(self));
	}

	/* the application at its address, else the bootloader at its own (the same when they
	 * share the bond), as they advertise */
	{
		const gchar *addresses[] = {
		    helper->app_address,
		    g_ascii_strcasecmp(helper->app_address, helper->bl_address) != 0
			? helper->bl_address
			: NULL,
		    NULL};
		g_autofree gchar *path =
		    fu_nordic_dfu_ble_seek_step(&helper->seek, addresses, helper->deadline_us);
		if (path != NULL && fu_nordic_dfu_ble_device_restart_found(helper, path))
			return G_SOURCE_REMOVE;
	}
	if (g_get_monotonic_time() > helper->deadline_us) {
		/* the same address when the bootloader shares the application's bond; what was
		 * tried last, e.g. a device that connected but never resolved */
		g_autofree gchar *where =
		    g_ascii_strcasecmp(helper->app_address, helper->bl_address) == 0
			? g_strdup_printf("at %s", helper->app_address)
			: g_strdup_printf("at %s and %s", helper->app_address, helper->bl_address);
		g_autofree gchar *tried = fu_nordic_dfu_ble_seek_why(&helper->seek);
		g_autofree gchar *what = g_strdup_printf(
		    "neither the application nor the bootloader (%s) connected within %u ms of the "
		    "reset (an application that does not advertise, or a device out of "
		    "range%s%s); connect it (bluetoothctl connect %s), then fwupdmgr get-devices "
		    "shows the version it runs",
		    where,
		    helper->within_ms,
		    tried != NULL ? ": " : "",
		    tried != NULL ? tried : "",
		    helper->app_address);
		fu_nordic_dfu_ble_device_restart_unverified(helper, what);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* after the last image: fwupd waits for what comes back, the plugin connects it */
static void
fu_nordic_dfu_ble_device_follow_restart(FuNordicDfuBleDevice *self)
{
	FuNordicDfuBleDeviceRestart *helper = g_new0(FuNordicDfuBleDeviceRestart, 1);
	const gchar *address = fu_device_get_logical_id(FU_DEVICE(self));

	if (self->restart_id != 0)
		g_source_remove(self->restart_id);
	helper->self = g_object_ref(self);
	helper->bl_path = g_strdup(fu_nordic_dfu_ble_device_path(FU_BLUEZ_DEVICE(self)));
	helper->bl_address = g_strdup(address);
	helper->app_address = g_strdup(self->app_address != NULL ? self->app_address : address);
	fu_nordic_dfu_ble_seek_init(&helper->seek, fu_device_get_physical_id(FU_DEVICE(self)));
	/* as on USB: 10 s after an application image, 15 s after a SoftDevice or bootloader
	 * image, first for the bootloader to disconnect (it writes its settings and resets at
	 * once; a link whose end is not announced drops within its supervision timeout, 6 s by
	 * the SDK's NRF_DFU_BLE_CONN_SUP_TIMEOUT_MS), then from the reset for what it starts */
	helper->within_ms = fu_nordic_dfu_back_within_ms(&self->state);
	helper->deadline_us = g_get_monotonic_time() + (gint64)helper->within_ms * 1000;
	self->restart_id =
	    g_timeout_add_full(G_PRIORITY_DEFAULT,
			       FU_NORDIC_DFU_BLE_FOLLOW_POLL_MS,
			       fu_nordic_dfu_ble_device_restart_cb,
			       helper,
			       (GDestroyNotify)fu_nordic_dfu_ble_device_restart_free);
	fu_device_set_remove_delay(FU_DEVICE(self),
				   2 * helper->within_ms + FU_NORDIC_DFU_BLE_FOLLOW_MARGIN_MS);
	fu_device_add_flag(FU_DEVICE(self), FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG);
}

gboolean
fu_nordic_dfu_ble_device_get_activated(FuNordicDfuBleDevice *self,
				       FuNordicDfuFwType *fw_type,
				       guint32 *fw_version)
{
	if (!self->restarting)
		return FALSE;
	*fw_type = self->state.last_type;
	*fw_version = self->state.last_fw_version;
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_probe(FuDevice *device, GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);

	if (!FU_DEVICE_CLASS(fu_nordic_dfu_ble_device_parent_class)->probe(device, error))
		return FALSE;
	/* a bonded bootloader keeps the application's address */
	fu_nordic_dfu_ble_add_link_instance_id(
	    FU_BLUEZ_DEVICE(self),
	    self->app_address != NULL ? self->app_address : fu_device_get_logical_id(device));
	fu_device_build_vendor_id(device, "BLUETOOTH", "Nordic");
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_open(FuDevice *device, GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	/* gone after the last image: attach and reload have nothing to open */
	if (self->restarting || self->gone)
		return TRUE;
	if (!fu_nordic_dfu_ble_device_acquire_all(self, error)) {
		if (self->stayed)
			g_prefix_error(error,
				       "the bootloader %s did not disconnect to reset into the new "
				       "image and cannot be reached: power-cycle the device, then "
				       "check its version with fwupdmgr get-devices: ",
				       fu_device_get_logical_id(device));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_close(FuDevice *device, GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	fu_nordic_dfu_ble_device_release(self);
	return TRUE;
}

/*
 * All images are written here: the device object stays while the bootloader resets between
 * images or the link drops, and the next write connects again. A lost link is not a failed
 * update: a new session selects the object and resumes from the offset and CRC the bootloader
 * reports.
 */
static gboolean
fu_nordic_dfu_ble_device_write_images(FuNordicDfuBleDevice *self,
				      FuFirmware *firmware,
				      FuProgress *progress,
				      GError **error)
{
	/* what an earlier update left, if fwupd gave up waiting before attach */
	self->restarting = FALSE;
	self->gone = FALSE;
	self->stayed = FALSE;

	for (guint attempt = 0;; attempt++) {
		g_autoptr(GError) error_local = NULL;
		if (fu_nordic_dfu_write_firmware(&self->state.transport,
						 &self->state,
						 firmware,
						 TRUE,
						 progress,
						 &error_local))
			break;
		if (!g_error_matches(error_local, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND) ||
		    attempt + 1 >= FU_NORDIC_DFU_BLE_RESUME_TRIES) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		/* nothing to resume: the bootloader either refused the image and stays, or
		 * activated it and reset at once, which takes the answer with the link; the SDK's
		 * bootloader then starts the new application, which a new session would not find,
		 * and no reply of the protocol says which of the two happened */
		if (self->state.final_execute_unanswered) {
			g_propagate_prefixed_error(
			    error,
			    g_steal_pointer(&error_local),
			    "the link was lost before the bootloader answered the final execute, "
			    "so whether it validated and activated the image is not known: "
			    "connect the device (bluetoothctl connect %s) and check the version "
			    "it runs (fwupdmgr get-devices, or the application's own); if it is "
			    "still in its bootloader, run the update again: ",
			    self->app_address != NULL ? self->app_address
						      : fu_device_get_logical_id(FU_DEVICE(self)));
			return FALSE;
		}
		g_info("link lost (%s), connecting again to resume", error_local->message);
		if (!fu_nordic_dfu_ble_device_reconnect(self,
							FU_NORDIC_DFU_BLE_RECONNECT_MS,
							error))
			return FALSE;
		fu_progress_reset(progress);
	}

	/* the bootloader has answered the last execute and now resets into the new image, which
	 * is followed; a quirk's will-disappear skips the wait */
	self->restarting = TRUE;
	if (fu_nordic_dfu_skip_wait_after_update(FU_DEVICE(self)))
		return TRUE;
	fu_nordic_dfu_ble_device_follow_restart(self);
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_device_write_firmware(FuDevice *device,
					FuFirmware *firmware,
					FuProgress *progress,
					FwupdInstallFlags flags,
					GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	gboolean ret;

	self->writing = TRUE;
	ret = fu_nordic_dfu_ble_device_write_images(self, firmware, progress, error);
	self->writing = FALSE;
	return ret;
}

/* the plugin's follow found nothing that can replace this device after the update: what
 * fwupd's clients are told instead */
static gboolean
fu_nordic_dfu_ble_device_attach(FuDevice *device, FuProgress *progress, GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	self->restarting = FALSE;
	return fu_nordic_dfu_emit_unverified(device, &self->state.unverified, progress, error);
}

/* the versions of a bootloader that came back or did not reset (and, replayed, of the
 * recorded one); gone, it has none to give */
static gboolean
fu_nordic_dfu_ble_device_reload(FuDevice *device, GError **error)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	gboolean stayed = self->stayed;

	/* said once, for this update */
	self->stayed = FALSE;
	if (self->gone)
		return TRUE;
	if (!fu_nordic_dfu_reload(&self->state.transport, &self->state, error)) {
		if (stayed)
			g_prefix_error(error,
				       "the bootloader %s did not disconnect to reset into the new "
				       "image and does not answer: power-cycle the device, then "
				       "check its version with fwupdmgr get-devices: ",
				       fu_device_get_logical_id(device));
		return FALSE;
	}
	return TRUE;
}

static void
fu_nordic_dfu_ble_device_to_string(FuDevice *device, guint idt, GString *str)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(device);
	FU_DEVICE_CLASS(fu_nordic_dfu_ble_device_parent_class)->to_string(device, idt, str);
	fwupd_codec_string_append_int(str, idt, "AttMtu", self->att_mtu);
	fwupd_codec_string_append_int(str, idt, "ChunkSize", self->chunk_size);
	fwupd_codec_string_append_bool(str,
				       idt,
				       "PacketViaWriteValue",
				       self->packet_via_write_value);
	fwupd_codec_string_append_int(str, idt, "Reconnects", self->reconnects);
	fwupd_codec_string_append(str, idt, "AppAddress", self->app_address);
	fu_nordic_dfu_to_string(&self->state, idt, str);
}

static void
fu_nordic_dfu_ble_device_init(FuNordicDfuBleDevice *self)
{
	self->state.prn = FU_NORDIC_DFU_BLE_PRN_DEFAULT;
	self->att_mtu = FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT;
	self->chunk_size = FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT - FU_NORDIC_DFU_BLE_ATT_HEADER;
	self->state.transport.device = FU_DEVICE(self);
	self->state.transport.write = fu_nordic_dfu_ble_device_write_cb;
	self->state.transport.read = fu_nordic_dfu_ble_device_read_cb;
	fu_nordic_dfu_init_device(FU_DEVICE(self));
	fu_device_set_name(FU_DEVICE(self), "nRF5 Secure DFU bootloader (Bluetooth LE)");
}

static void
fu_nordic_dfu_ble_device_finalize(GObject *object)
{
	FuNordicDfuBleDevice *self = FU_NORDIC_DFU_BLE_DEVICE(object);
	fu_nordic_dfu_ble_device_release(self);
	g_clear_weak_pointer(&self->plugin);
	g_free(self->app_address);
	G_OBJECT_CLASS(fu_nordic_dfu_ble_device_parent_class)->finalize(object);
}

static FuNordicDfuState *
fu_nordic_dfu_ble_device_get_state(FuNordicDfuDevice *device)
{
	return &FU_NORDIC_DFU_BLE_DEVICE(device)->state;
}

static void
fu_nordic_dfu_ble_device_iface_init(FuNordicDfuDeviceInterface *iface)
{
	iface->get_state = fu_nordic_dfu_ble_device_get_state;
}

static void
fu_nordic_dfu_ble_device_class_init(FuNordicDfuBleDeviceClass *klass)
{
	FuDeviceClass *device_class = FU_DEVICE_CLASS(klass);
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = fu_nordic_dfu_ble_device_finalize;
	fu_nordic_dfu_device_class_add_vfuncs(device_class);
	device_class->probe = fu_nordic_dfu_ble_device_probe;
	device_class->open = fu_nordic_dfu_ble_device_open;
	device_class->close = fu_nordic_dfu_ble_device_close;
	device_class->write_firmware = fu_nordic_dfu_ble_device_write_firmware;
	device_class->attach = fu_nordic_dfu_ble_device_attach;
	device_class->reload = fu_nordic_dfu_ble_device_reload;
	device_class->to_string = fu_nordic_dfu_ble_device_to_string;
}
