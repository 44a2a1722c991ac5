/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fu-nordic-dfu-ble-common.h"
#include "fu-nordic-dfu-struct.h"

/*
 * What the BLE bootloader and the buttonless application ask BlueZ directly. FuBluezDevice
 * resolves characteristics once, at probe, through an object manager whose updates arrive
 * only while the main loop runs; a reconnection in the middle of an update needs paths and
 * properties as they are now, so these are synchronous calls on the system bus.
 */

/* the longest between Connect attempts: a Connect that fails at once means nothing
 * advertises yet */
#define FU_NORDIC_DFU_BLE_CONNECT_RETRY_MS 50
/* one Connect while seeking a device that resets: BlueZ keeps an LE Connect to a device that
 * does not advertise pending until its connection timeout, so it is cancelled and the other
 * address tried */
#define FU_NORDIC_DFU_BLE_SEEK_CONNECT_MS 3000
/* from connected to the GATT database read (ServicesResolved) */
#define FU_NORDIC_DFU_BLE_SEEK_RESOLVE_MS 5000

static GDBusConnection *
fu_nordic_dfu_ble_bus(GError **error)
{
	return g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
}

static GVariant *
fu_nordic_dfu_ble_managed_objects(GError **error)
{
	g_autoptr(GDBusConnection) bus = fu_nordic_dfu_ble_bus(error);
	if (bus == NULL)
		return NULL;
	return g_dbus_connection_call_sync(bus,
					   "org.bluez",
					   "/",
					   "org.freedesktop.DBus.ObjectManager",
					   "GetManagedObjects",
					   NULL,
					   G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
					   G_DBUS_CALL_FLAGS_NONE,
					   FU_NORDIC_DFU_BLE_CALL_TIMEOUT_MS,
					   NULL,
					   error);
}

/* the object path of the first BlueZ object below @prefix (NULL for any) whose interface
 * @iface has the string property @key equal to @value, ignoring case, and the properties of
 * that interface; NULL with no error when there is none */
static gchar *
fu_nordic_dfu_ble_find_object(const gchar *prefix,
			      const gchar *iface,
			      const gchar *key,
			      const gchar *value,
			      GVariant **props_out,
			      GError **error)
{
	g_autoptr(GVariant) objects = fu_nordic_dfu_ble_managed_objects(error);
	g_autoptr(GVariantIter) iter = NULL;
	const gchar *path;
	GVariant *ifaces_next;

	if (objects == NULL)
		return NULL;
	g_variant_get(objects, "(a{oa{sa{sv}}})", &iter);
	while (g_variant_iter_next(iter, "{&o@a{sa{sv}}}", &path, &ifaces_next)) {
		g_autoptr(GVariant) ifaces = ifaces_next;
		g_autoptr(GVariant) props = NULL;
		const gchar *obj_value = NULL;
		if (prefix != NULL && !g_str_has_prefix(path, prefix))
			continue;
		props = g_variant_lookup_value(ifaces, iface, G_VARIANT_TYPE("a{sv}"));
		if (props == NULL)
			continue;
		if (g_variant_lookup(props, key, "&s", &obj_value) &&
		    g_ascii_strcasecmp(obj_value, value) == 0) {
			if (props_out != NULL)
				*props_out = g_steal_pointer(&props);
			return g_strdup(path);
		}
	}
	return NULL;
}

gchar *
fu_nordic_dfu_ble_find_characteristic(const gchar *device_path, const gchar *uuid, GError **error)
{
	g_autofree gchar *prefix = g_strdup_printf("%s/", device_path);
	g_autoptr(GError) error_local = NULL;
	gchar *path = fu_nordic_dfu_ble_find_object(prefix,
						    "org.bluez.GattCharacteristic1",
						    "UUID",
						    uuid,
						    NULL,
						    &error_local);

	if (path != NULL)
		return path;
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_NOT_FOUND,
		    "no characteristic %s under %s",
		    uuid,
		    device_path);
	return NULL;
}

/* the object path of the device with this address, or NULL, and whether BlueZ saw it
 * advertise while discovering (it has an RSSI) */
static gchar *
fu_nordic_dfu_ble_find_device_seen(const gchar *address, gboolean *seen)
{
	g_autoptr(GVariant) props = NULL;
	gchar *path = fu_nordic_dfu_ble_find_object(NULL,
						    "org.bluez.Device1",
						    "Address",
						    address,
						    &props,
						    NULL);

	/* BlueZ has an RSSI for a device it saw advertise while it discovers */
	if (path != NULL && seen != NULL) {
		g_autoptr(GVariant) rssi =
		    g_variant_lookup_value(props, "RSSI", G_VARIANT_TYPE_INT16);
		*seen = rssi != NULL;
	}
	return path;
}

GVariant *
fu_nordic_dfu_ble_get_property(const gchar *path,
			       const gchar *iface,
			       const gchar *name,
			       GError **error)
{
	g_autoptr(GDBusConnection) bus = fu_nordic_dfu_ble_bus(error);
	g_autoptr(GVariant) reply = NULL;
	GVariant *value = NULL;

	if (bus == NULL)
		return NULL;
	reply = g_dbus_connection_call_sync(bus,
					    "org.bluez",
					    path,
					    "org.freedesktop.DBus.Properties",
					    "Get",
					    g_variant_new("(ss)", iface, name),
					    G_VARIANT_TYPE("(v)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    FU_NORDIC_DFU_BLE_CALL_TIMEOUT_MS,
					    NULL,
					    error);
	if (reply == NULL)
		return NULL;
	g_variant_get(reply, "(v)", &value);
	return value;
}

gboolean
fu_nordic_dfu_ble_call(const gchar *path, const gchar *iface, const gchar *method, GError **error)
{
	g_autoptr(GDBusConnection) bus = fu_nordic_dfu_ble_bus(error);
	g_autoptr(GVariant) reply = NULL;

	if (bus == NULL)
		return FALSE;
	reply = g_dbus_connection_call_sync(bus,
					    "org.bluez",
					    path,
					    iface,
					    method,
					    NULL,
					    NULL,
					    G_DBUS_CALL_FLAGS_NONE,
					    FU_NORDIC_DFU_BLE_CALL_TIMEOUT_MS,
					    NULL,
					    error);
	if (reply == NULL) {
		g_dbus_error_strip_remote_error(*error);
		g_prefix_error(error, "%s.%s: ", iface, method);
		return FALSE;
	}
	return TRUE;
}

void
fu_nordic_dfu_ble_call_best_effort(const gchar *path, const gchar *iface, const gchar *method)
{
	g_autoptr(GError) error_local = NULL;
	if (!fu_nordic_dfu_ble_call(path, iface, method, &error_local))
		g_debug("%s", error_local->message);
}

/* a boolean property of a BlueZ device, FALSE when it cannot be read */
gboolean
fu_nordic_dfu_ble_get_bool(const gchar *path, const gchar *name)
{
	g_autoptr(GVariant) value =
	    fu_nordic_dfu_ble_get_property(path, "org.bluez.Device1", name, NULL);
	return value != NULL && g_variant_get_boolean(value);
}

static void
fu_nordic_dfu_ble_watch_changed_cb(GDBusConnection *bus,
				   const gchar *sender,
				   const gchar *path,
				   const gchar *iface,
				   const gchar *signal,
				   GVariant *params,
				   gpointer user_data)
{
	FuNordicDfuBleWatch *watch = user_data;
	GVariant *value;
	g_autoptr(GVariant) changed = NULL;

	if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sa{sv}as)")))
		return;
	g_variant_get(params, "(&s@a{sv}@as)", NULL, &changed, NULL);
	value = watch->name != NULL ? g_variant_lookup_value(changed, watch->name, watch->type)
				    : g_variant_ref(changed);
	/* the latest value, when several arrive in one iteration */
	if (value != NULL) {
		g_clear_pointer(&watch->value, g_variant_unref);
		watch->value = value;
	}
}

static void
fu_nordic_dfu_ble_watch_released_cb(gpointer user_data)
{
	FuNordicDfuBleWatch *watch = user_data;
	watch->released = TRUE;
}

gboolean
fu_nordic_dfu_ble_watch_start(FuNordicDfuBleWatch *watch,
			      const gchar *path,
			      const gchar *iface,
			      GError **error)
{
	memset(watch, 0, sizeof(*watch));
	watch->bus = fu_nordic_dfu_ble_bus(error);
	if (watch->bus == NULL)
		return FALSE;
	watch->context = g_main_context_new();
	/* the signal is delivered on the context that is the thread's default when subscribing;
	 * it stays the default only for that, so no proxy the caller makes meanwhile binds to it */
	g_main_context_push_thread_default(watch->context);
	watch->subscription =
	    g_dbus_connection_signal_subscribe(watch->bus,
					       "org.bluez",
					       "org.freedesktop.DBus.Properties",
					       "PropertiesChanged",
					       path,
					       iface,
					       G_DBUS_SIGNAL_FLAGS_NONE,
					       fu_nordic_dfu_ble_watch_changed_cb,
					       watch,
					       fu_nordic_dfu_ble_watch_released_cb);
	g_main_context_pop_thread_default(watch->context);
	return TRUE;
}

static gboolean
fu_nordic_dfu_ble_watch_expired_cb(gpointer user_data)
{
	FuNordicDfuBleWatch *watch = user_data;
	watch->expired = TRUE;
	return G_SOURCE_REMOVE;
}

GVariant *
fu_nordic_dfu_ble_watch_wait(FuNordicDfuBleWatch *watch,
			     const gchar *name,
			     const GVariantType *type,
			     gint64 timeout_ms)
{
	g_autoptr(GSource) source = g_timeout_source_new((guint)CLAMP(timeout_ms, 0, G_MAXUINT));

	watch->name = name;
	watch->type = type;
	watch->expired = FALSE;
	g_clear_pointer(&watch->value, g_variant_unref);
	g_source_set_callback(source, fu_nordic_dfu_ble_watch_expired_cb, watch, NULL);
	g_source_attach(source, watch->context);
	while (!watch->expired && watch->value == NULL)
		g_main_context_iteration(watch->context, TRUE);
	g_source_destroy(source);
	watch->name = NULL;
	watch->type = NULL;
	return g_steal_pointer(&watch->value);
}

void
fu_nordic_dfu_ble_watch_stop(FuNordicDfuBleWatch *watch)
{
	if (watch->context == NULL)
		return;
	/* signals already queued on the context are freed only when it runs: it runs until GLib
	 * releases the subscription, which it does after them */
	g_dbus_connection_signal_unsubscribe(watch->bus, watch->subscription);
	while (!watch->released)
		g_main_context_iteration(watch->context, TRUE);
	g_clear_pointer(&watch->context, g_main_context_unref);
	g_clear_object(&watch->bus);
	g_clear_pointer(&watch->value, g_variant_unref);
}

static gboolean
fu_nordic_dfu_ble_connect_watched(FuNordicDfuBleWatch *watch,
				  const gchar *device_path,
				  guint timeout_ms,
				  GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (TRUE) {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GVariant) changed = NULL;
		if (fu_nordic_dfu_ble_get_bool(device_path, "Connected") ||
		    fu_nordic_dfu_ble_call(device_path,
					   "org.bluez.Device1",
					   "Connect",
					   &error_local)) {
			/* the GATT database is read after the connection: asked once, then
			 * followed in PropertiesChanged, watched since before the Connect */
			gboolean resolved =
			    fu_nordic_dfu_ble_get_bool(device_path, "ServicesResolved");
			while (!resolved) {
				g_autoptr(GVariant) value = fu_nordic_dfu_ble_watch_wait(
				    watch,
				    "ServicesResolved",
				    G_VARIANT_TYPE_BOOLEAN,
				    (deadline - g_get_monotonic_time()) / 1000);
				if (value == NULL) {
					g_set_error(error,
						    FWUPD_ERROR,
						    FWUPD_ERROR_TIMED_OUT,
						    "%s connected but its services were not "
						    "resolved within %u ms: power-cycle the device "
						    "and try again",
						    device_path,
						    timeout_ms);
					return FALSE;
				}
				resolved = g_variant_get_boolean(value);
			}
			return TRUE;
		}
		if (g_get_monotonic_time() > deadline) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_FOUND,
				    "could not connect %s within %u ms, check that it is powered "
				    "and in range: %s",
				    device_path,
				    timeout_ms,
				    error_local->message);
			return FALSE;
		}
		/* not advertising yet, e.g. still booting: asked again once BlueZ changes a
		 * property of the device (its RSSI, as it sees it advertise), or after a while */
		changed = fu_nordic_dfu_ble_watch_wait(watch,
						       NULL,
						       NULL,
						       FU_NORDIC_DFU_BLE_CONNECT_RETRY_MS);
	}
}

gboolean
fu_nordic_dfu_ble_connect(const gchar *device_path, guint timeout_ms, GError **error)
{
	FuNordicDfuBleWatch watch = {0};
	gboolean ret;

	if (!fu_nordic_dfu_ble_watch_start(&watch, device_path, "org.bluez.Device1", error))
		return FALSE;
	ret = fu_nordic_dfu_ble_connect_watched(&watch, device_path, timeout_ms, error);
	fu_nordic_dfu_ble_watch_stop(&watch);
	return ret;
}

const gchar *
fu_nordic_dfu_ble_device_path(FuBluezDevice *bluez_device)
{
	g_autoptr(GDBusProxy) proxy = NULL;
	g_object_get(bluez_device, "proxy", &proxy, NULL);
	if (proxy == NULL)
		return NULL;
	/* the proxy is owned by the device for its life */
	return g_dbus_proxy_get_object_path(proxy);
}

gchar *
fu_nordic_dfu_ble_address_next(const gchar *address, GError **error)
{
	guint bytes[6] = {0};
	if (address == NULL || sscanf(address,
				      "%02X:%02X:%02X:%02X:%02X:%02X",
				      &bytes[0],
				      &bytes[1],
				      &bytes[2],
				      &bytes[3],
				      &bytes[4],
				      &bytes[5]) != 6) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_DATA,
			    "not a Bluetooth address: %s",
			    address != NULL ? address : "(none)");
		return NULL;
	}
	/* the byte wraps within itself, as the SDK's uint8_t addition does */
	return g_strdup_printf("%02X:%02X:%02X:%02X:%02X:%02X",
			       bytes[0],
			       bytes[1],
			       bytes[2],
			       bytes[3],
			       bytes[4],
			       (bytes[5] + 1) & 0xFF);
}

void
fu_nordic_dfu_ble_add_link_instance_id(FuBluezDevice *bluez_device, const gchar *app_address)
{
	FuDevice *device = FU_DEVICE(bluez_device);
	g_autofree gchar *address = g_ascii_strup(app_address, -1);
	g_strdelimit(address, ":", '_');
	fu_device_add_instance_str(device, "ADDR", address);
	fu_device_build_instance_id(device, NULL, "NRFDFU_BLE", "ADDR", NULL);
}

static void
fu_nordic_dfu_ble_seek_set_error(FuNordicDfuBleSeek *seek, GError *error)
{
	g_debug("%s", error->message);
	g_clear_error(&seek->last_error);
	seek->last_error = error;
}

/* forgets the Connect under way; @disconnect: stop it too, as BlueZ cancels a pending LE
 * connection on Disconnect */
static void
fu_nordic_dfu_ble_seek_abort_connect(FuNordicDfuBleSeek *seek, gboolean disconnect)
{
	if (seek->cancellable != NULL) {
		g_cancellable_cancel(seek->cancellable);
		g_clear_object(&seek->cancellable);
		if (disconnect && !seek->connected)
			fu_nordic_dfu_ble_call_best_effort(seek->connect_path,
							   "org.bluez.Device1",
							   "Disconnect");
	}
	seek->connected = FALSE;
	g_clear_pointer(&seek->connect_path, g_free);
}

void
fu_nordic_dfu_ble_seek_init(FuNordicDfuBleSeek *seek, const gchar *adapter_path)
{
	memset(seek, 0, sizeof(*seek));
	seek->adapter_path = g_strdup(adapter_path);
}

void
fu_nordic_dfu_ble_seek_clear(FuNordicDfuBleSeek *seek)
{
	fu_nordic_dfu_ble_seek_abort_connect(seek, FALSE);
	if (seek->discovering) {
		fu_nordic_dfu_ble_call_best_effort(seek->adapter_path,
						   "org.bluez.Adapter1",
						   "StopDiscovery");
		seek->discovering = FALSE;
	}
	g_clear_error(&seek->last_error);
	g_clear_pointer(&seek->discovery_error, g_free);
	g_clear_pointer(&seek->adapter_path, g_free);
}

gchar *
fu_nordic_dfu_ble_seek_why(const FuNordicDfuBleSeek *seek)
{
	if (seek->discovery_error != NULL && seek->last_error != NULL)
		return g_strdup_printf("%s; %s", seek->discovery_error, seek->last_error->message);
	if (seek->discovery_error != NULL)
		return g_strdup(seek->discovery_error);
	if (seek->last_error != NULL)
		return g_strdup(seek->last_error->message);
	return NULL;
}

/* the asynchronous Connect returned; a cancelled one returns before touching @user_data,
 * which may be gone */
static void
fu_nordic_dfu_ble_seek_connect_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FuNordicDfuBleSeek *seek = user_data;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error_local = NULL;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error_local);
	if (reply == NULL && g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	g_clear_object(&seek->cancellable);
	if (reply == NULL) {
		g_dbus_error_strip_remote_error(error_local);
		fu_nordic_dfu_ble_seek_set_error(seek,
						 g_error_new(FWUPD_ERROR,
							     FWUPD_ERROR_NOT_FOUND,
							     "connecting %s: %s",
							     seek->connect_path,
							     error_local->message));
		g_clear_pointer(&seek->connect_path, g_free);
		return;
	}
	seek->connected = TRUE;
	seek->resolve_deadline_us =
	    g_get_monotonic_time() + (gint64)FU_NORDIC_DFU_BLE_SEEK_RESOLVE_MS * 1000;
}

/* what to connect: an address BlueZ saw advertise, the preferred first; when BlueZ cannot
 * discover, each address it knows in turn */
static gchar *
fu_nordic_dfu_ble_seek_choose(FuNordicDfuBleSeek *seek,
			      const gchar *const *addresses,
			      gboolean *seen_out)
{
	g_autoptr(GPtrArray) known = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; addresses[i] != NULL; i++) {
		gboolean seen = FALSE;
		g_autofree gchar *path = fu_nordic_dfu_ble_find_device_seen(addresses[i], &seen);
		if (path == NULL)
			continue;
		if (seen) {
			*seen_out = TRUE;
			return g_steal_pointer(&path);
		}
		g_ptr_array_add(known, g_steal_pointer(&path));
	}
	*seen_out = FALSE;
	/* discovering, BlueZ reports what advertises: nothing does yet */
	if (known->len == 0 || seek->discovering)
		return NULL;
	return g_strdup(g_ptr_array_index(known, seek->attempts % known->len));
}

static void
fu_nordic_dfu_ble_seek_connect(FuNordicDfuBleSeek *seek, const gchar *path, gint64 deadline_us)
{
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GError) error_local = NULL;
	gint64 now = g_get_monotonic_time();
	gint64 remaining_ms = (deadline_us - now) / 1000;

	bus = fu_nordic_dfu_ble_bus(&error_local);
	if (bus == NULL) {
		fu_nordic_dfu_ble_seek_set_error(seek, g_steal_pointer(&error_local));
		return;
	}
	seek->attempts++;
	seek->connect_path = g_strdup(path);
	seek->connect_deadline_us =
	    now + (gint64)MIN(remaining_ms, FU_NORDIC_DFU_BLE_SEEK_CONNECT_MS) * 1000;
	seek->cancellable = g_cancellable_new();
	g_debug("connecting %s", path);
	g_dbus_connection_call(bus,
			       "org.bluez",
			       path,
			       "org.bluez.Device1",
			       "Connect",
			       NULL,
			       NULL,
			       G_DBUS_CALL_FLAGS_NONE,
			       (gint)MAX(remaining_ms, 1),
			       seek->cancellable,
			       fu_nordic_dfu_ble_seek_connect_cb,
			       seek);
}

gchar *
fu_nordic_dfu_ble_seek_step(FuNordicDfuBleSeek *seek,
			    const gchar *const *addresses,
			    gint64 deadline_us)
{
	g_autofree gchar *path = NULL;
	gboolean seen = FALSE;

	/* asked once: an adapter that refuses is not asked at every step */
	if (!seek->discovering && seek->discovery_error == NULL && seek->adapter_path != NULL) {
		g_autoptr(GError) error_local = NULL;
		if (fu_nordic_dfu_ble_call(seek->adapter_path,
					   "org.bluez.Adapter1",
					   "StartDiscovery",
					   &error_local)) {
			seek->discovering = TRUE;
		} else {
			/* a device BlueZ has not met (an unbonded bootloader) stays unseen */
			seek->discovery_error =
			    g_strdup_printf("the Bluetooth adapter did not start discovery, so a "
					    "device it has not met cannot be found (%s); if the "
					    "adapter is off: bluetoothctl power on",
					    error_local->message);
			/* the caller's final error or warning says it if nothing is found */
			g_info("%s", seek->discovery_error);
		}
	}

	/* connected: BlueZ reads the GATT database, within its own budget */
	if (seek->connected) {
		if (fu_nordic_dfu_ble_get_bool(seek->connect_path, "ServicesResolved"))
			return g_strdup(seek->connect_path);
		if (g_get_monotonic_time() < seek->resolve_deadline_us)
			return NULL;
		fu_nordic_dfu_ble_seek_set_error(
		    seek,
		    g_error_new(FWUPD_ERROR,
				FWUPD_ERROR_TIMED_OUT,
				"%s connected but its services were not resolved within %u ms",
				seek->connect_path,
				(guint)FU_NORDIC_DFU_BLE_SEEK_RESOLVE_MS));
		fu_nordic_dfu_ble_call_best_effort(seek->connect_path,
						   "org.bluez.Device1",
						   "Disconnect");
		fu_nordic_dfu_ble_seek_abort_connect(seek, FALSE);
		return NULL;
	}

	/* a Connect under way: BlueZ keeps it while the device does not advertise */
	if (seek->cancellable != NULL) {
		g_autofree gchar *chosen = NULL;
		if (g_get_monotonic_time() < seek->connect_deadline_us)
			return NULL;
		/* the device it is for advertises, or has just connected: BlueZ finishes, within
		 * the caller's deadline */
		chosen = fu_nordic_dfu_ble_seek_choose(seek, addresses, &seen);
		if ((seen && g_strcmp0(chosen, seek->connect_path) == 0) ||
		    fu_nordic_dfu_ble_get_bool(seek->connect_path, "Connected"))
			return NULL;
		fu_nordic_dfu_ble_seek_set_error(
		    seek,
		    g_error_new(FWUPD_ERROR,
				FWUPD_ERROR_TIMED_OUT,
				"%s did not connect within %u ms",
				seek->connect_path,
				(guint)FU_NORDIC_DFU_BLE_SEEK_CONNECT_MS));
		fu_nordic_dfu_ble_seek_abort_connect(seek, TRUE);
	}

	path = fu_nordic_dfu_ble_seek_choose(seek, addresses, &seen);
	if (path != NULL)
		fu_nordic_dfu_ble_seek_connect(seek, path, deadline_us);
	return NULL;
}

guint
fu_nordic_dfu_ble_att_mtu_bounded(guint att_mtu)
{
	if (att_mtu < FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT)
		return FU_NORDIC_DFU_BLE_ATT_MTU_DEFAULT;
	if (att_mtu > FU_NORDIC_DFU_BLE_ATT_MTU_MAX) {
		g_debug("BlueZ reports an ATT MTU of %u, more than a link can have: using %u",
			att_mtu,
			(guint)FU_NORDIC_DFU_BLE_ATT_MTU_MAX);
		return FU_NORDIC_DFU_BLE_ATT_MTU_MAX;
	}
	return att_mtu;
}

gint
fu_nordic_dfu_ble_fd_from_reply(GUnixFDList *fds, gint32 idx, const gchar *method, GError **error)
{
	/* a handle with no descriptor behind it is BlueZ's fault, but ours to report */
	if (fds == NULL || idx < 0 || idx >= g_unix_fd_list_get_length(fds)) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_NOT_SUPPORTED,
			    "%s: BlueZ returned handle %d with %d file descriptors",
			    method,
			    (gint)idx,
			    fds != NULL ? g_unix_fd_list_get_length(fds) : 0);
		return -1;
	}
	return g_unix_fd_list_get(fds, idx, error);
}

gboolean
fu_nordic_dfu_ble_check_request(NrfDfuProtoChannel channel,
				const guint8 *buf,
				gsize bufsz,
				gsize chunk_size,
				GError **error)
{
	if (channel == NRF_DFU_PROTO_CHANNEL_PACKET) {
		if (bufsz > chunk_size) {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INTERNAL,
				    "%" G_GSIZE_FORMAT
				    " bytes do not fit a packet of %" G_GSIZE_FORMAT,
				    bufsz,
				    chunk_size);
			return FALSE;
		}
		return TRUE;
	}
	if (bufsz == 0) {
		g_set_error_literal(error, FWUPD_ERROR, FWUPD_ERROR_INTERNAL, "empty request");
		return FALSE;
	}
	/* the SDK's BLE transport has no MTU get: the core is given the packet size instead */
	if (buf[0] == NRF_DFU_PROTO_OP_MTU_GET) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INTERNAL,
				    "MTU_GET is not a request of the BLE transport");
		return FALSE;
	}
	return TRUE;
}
