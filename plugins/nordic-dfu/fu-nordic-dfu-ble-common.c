/*
 * Copyright 2025 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fu-nordic-dfu-ble-common.h"

#include <stdio.h>

/*
 * What the BLE bootloader and the buttonless application ask BlueZ directly. FuBluezDevice
 * resolves characteristics once, at probe, through an object manager whose updates arrive
 * only while the main loop runs; a reconnection in the middle of an update needs paths and
 * properties as they are now, so these are synchronous calls on the system bus.
 */

/* how often the link's state is asked while waiting for it */
#define FU_NORDIC_DFU_BLE_POLL_MS 10
/* between Connect attempts: a Connect that fails at once means nothing advertises yet */
#define FU_NORDIC_DFU_BLE_CONNECT_RETRY_MS (5 * FU_NORDIC_DFU_BLE_POLL_MS)

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

gchar *
fu_nordic_dfu_ble_find_characteristic(const gchar *device_path, const gchar *uuid, GError **error)
{
	g_autoptr(GVariant) objects = fu_nordic_dfu_ble_managed_objects(error);
	g_autoptr(GVariantIter) iter = NULL;
	g_autofree gchar *prefix = g_strdup_printf("%s/", device_path);
	const gchar *path;
	GVariant *ifaces;

	if (objects == NULL)
		return NULL;
	g_variant_get(objects, "(a{oa{sa{sv}}})", &iter);
	while (g_variant_iter_next(iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
		g_autoptr(GVariant) ifaces_owned = ifaces;
		g_autoptr(GVariant) props = NULL;
		const gchar *obj_uuid = NULL;
		if (!g_str_has_prefix(path, prefix))
			continue;
		props = g_variant_lookup_value(ifaces,
					       "org.bluez.GattCharacteristic1",
					       G_VARIANT_TYPE("a{sv}"));
		if (props == NULL)
			continue;
		if (g_variant_lookup(props, "UUID", "&s", &obj_uuid) &&
		    g_ascii_strcasecmp(obj_uuid, uuid) == 0)
			return g_strdup(path);
	}
	g_set_error(error,
		    FWUPD_ERROR,
		    FWUPD_ERROR_NOT_FOUND,
		    "no characteristic %s under %s",
		    uuid,
		    device_path);
	return NULL;
}

gchar *
fu_nordic_dfu_ble_find_device(const gchar *address)
{
	return fu_nordic_dfu_ble_find_device_seen(address, NULL);
}

gchar *
fu_nordic_dfu_ble_find_device_seen(const gchar *address, gboolean *seen)
{
	g_autoptr(GVariant) objects = fu_nordic_dfu_ble_managed_objects(NULL);
	g_autoptr(GVariantIter) iter = NULL;
	const gchar *path;
	GVariant *ifaces;

	if (objects == NULL)
		return NULL;
	g_variant_get(objects, "(a{oa{sa{sv}}})", &iter);
	while (g_variant_iter_next(iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
		g_autoptr(GVariant) ifaces_owned = ifaces;
		g_autoptr(GVariant) props =
		    g_variant_lookup_value(ifaces, "org.bluez.Device1", G_VARIANT_TYPE("a{sv}"));
		const gchar *obj_address = NULL;
		if (props != NULL && g_variant_lookup(props, "Address", "&s", &obj_address) &&
		    g_ascii_strcasecmp(obj_address, address) == 0) {
			/* BlueZ has an RSSI for a device it saw advertise while it discovers */
			if (seen != NULL) {
				g_autoptr(GVariant) rssi =
				    g_variant_lookup_value(props, "RSSI", G_VARIANT_TYPE_INT16);
				*seen = rssi != NULL;
			}
			return g_strdup(path);
		}
	}
	return NULL;
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

/* a boolean property of a BlueZ device, FALSE when it cannot be read */
gboolean
fu_nordic_dfu_ble_get_bool(const gchar *path, const gchar *name)
{
	g_autoptr(GVariant) value =
	    fu_nordic_dfu_ble_get_property(path, "org.bluez.Device1", name, NULL);
	return value != NULL && g_variant_get_boolean(value);
}

gboolean
fu_nordic_dfu_ble_connect(const gchar *device_path, guint timeout_ms, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (TRUE) {
		g_autoptr(GError) error_local = NULL;
		if (fu_nordic_dfu_ble_get_bool(device_path, "Connected") ||
		    fu_nordic_dfu_ble_call(device_path,
					   "org.bluez.Device1",
					   "Connect",
					   &error_local)) {
			/* the GATT database is read after the connection */
			while (!fu_nordic_dfu_ble_get_bool(device_path, "ServicesResolved")) {
				if (g_get_monotonic_time() > deadline) {
					g_set_error(
					    error,
					    FWUPD_ERROR,
					    FWUPD_ERROR_TIMED_OUT,
					    "%s connected but its services were not "
					    "resolved within %u ms: power-cycle the device and "
					    "try again",
					    device_path,
					    timeout_ms);
					return FALSE;
				}
				g_usleep(FU_NORDIC_DFU_BLE_POLL_MS * 1000);
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
		/* not advertising yet, e.g. still booting */
		g_usleep(FU_NORDIC_DFU_BLE_CONNECT_RETRY_MS * 1000);
	}
}

const gchar *
fu_nordic_dfu_ble_device_path(FuDevice *device)
{
	g_autoptr(GDBusProxy) proxy = NULL;
	g_object_get(device, "proxy", &proxy, NULL);
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
fu_nordic_dfu_ble_add_link_instance_id(FuDevice *device, const gchar *app_address)
{
	g_autofree gchar *address = g_ascii_strup(app_address, -1);
	g_strdelimit(address, ":", '_');
	fu_device_add_instance_str(device, "ADDR", address);
	fu_device_build_instance_id(device, NULL, "NRFDFU_BLE", "ADDR", NULL);
}
