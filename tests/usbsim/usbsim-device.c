/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "usbsim-device.h"

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "usbsim-flashlog.h"

#ifndef USBDEVFS_GET_SPEED
#define USBDEVFS_GET_SPEED _IO('U', 31)
#endif

#define USBSIM_BUSNUM	      1
#define USBSIM_SYSFS_PATH     "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define USBSIM_USB_SPEED_FULL 2
/* libusb polls the node, which is always ready, and drains completed URBs with non-blocking
 * reaps until EAGAIN; an empty reap parks for at most this long so that an idle host does
 * not spin a core. umockdev's preload answers one ioctl of a process at a time, so a parked
 * reap also holds back the submits of the host's other threads. */
#define USBSIM_REAP_PARK_US 2000
/* an empty reap parks for this share of the time the client has been quiet (no submit, no
 * completed URB): the drain right after a completion returns at once, a host that keeps
 * transferring is held back by a few microseconds, an idle one soon parks the full time */
#define USBSIM_REAP_PARK_QUIET_DIVISOR 4
#define USBSIM_REPLUG_GAP_US	       100000 /* off the bus during a re-enumeration, scale 1.0 */
#define USBSIM_REPLUG_GAP_MIN_US       30000  /* hosts see the remove before the add at any scale */
#define USBSIM_SYNC_TIMEOUT_MAX                                                                    \
	5000 /* ms a synchronous transfer waits when told to wait forever                          \
	      */
#define USBSIM_NEVER G_MAXINT64

typedef struct {
	UMockdevIoctlData *urb_data;
	UMockdevIoctlData *buf_data;
	gulong client_addr;
	guint8 type;
	guint8 endpoint;
	gint64 ready_at_us; /* USBSIM_NEVER while pending */
	gint64 submit_us;
	gint status;
	gint actual_length;
	gsize out_taken; /* bytes of a flow-controlled OUT URB the device has taken */
} UsbsimUrb;

typedef struct {
	GQueue urbs;		     /* of UsbsimUrb, in submission order */
	guint64 claimed;	     /* bit per interface number */
	gint64 last_urb_activity_us; /* last submit or completed reap */
} UsbsimClient;

struct _UsbsimDevice {
	UMockdevIoctlBase parent_instance;
	GMutex mutex;
	UMockdevTestbed *testbed;
	const UsbsimModelOps *ops;
	gpointer model;
	gdouble time_scale;

	UsbsimDescription *desc;
	guint8 current_alt[32];
	guint8 configuration;
	guint devnum;
	gchar *devnode_online;	/* the node whose ioctls are answered, NULL while off the bus */
	gchar *devnode_sysfs;	/* the node in the testbed, until removed */
	GPtrArray *sysfs_paths; /* interfaces first, then the device */
	gboolean reenumeration_scheduled;

	gint64 start_us;
	gint64 last_activity_end_us;
	FILE *trace;
	GHashTable *request_counts;  /* name -> count */
	GHashTable *host_idle_by_us; /* name of the request that ended the wait -> gint64* us */
	UsbsimDeviceStats stats;
};

G_DEFINE_TYPE(UsbsimDevice, usbsim_device, UMOCKDEV_TYPE_IOCTL_BASE)

static void
usbsim_urb_free(UsbsimUrb *urb)
{
	g_clear_object(&urb->urb_data);
	g_clear_object(&urb->buf_data);
	g_free(urb);
}

static void
usbsim_client_free(UsbsimClient *client)
{
	g_queue_clear_full(&client->urbs, (GDestroyNotify)usbsim_urb_free);
	g_free(client);
}

static UsbsimClient *
usbsim_device_client(UMockdevIoctlClient *client)
{
	UsbsimClient *state = g_object_get_data(G_OBJECT(client), "usbsim-client");
	if (state == NULL) {
		state = g_new0(UsbsimClient, 1);
		g_queue_init(&state->urbs);
		g_object_set_data_full(G_OBJECT(client),
				       "usbsim-client",
				       state,
				       (GDestroyNotify)usbsim_client_free);
	}
	return state;
}

void
usbsim_device_lock(UsbsimDevice *self)
{
	g_mutex_lock(&self->mutex);
}

void
usbsim_device_unlock(UsbsimDevice *self)
{
	g_mutex_unlock(&self->mutex);
}

gdouble
usbsim_device_elapsed_ms(UsbsimDevice *self)
{
	return (g_get_monotonic_time() - self->start_us) / 1000.0;
}

void
usbsim_device_trace_line(UsbsimDevice *self, const gchar *json)
{
	if (self->trace == NULL)
		return;
	fputs(json, self->trace);
	fputc('\n', self->trace);
	fflush(self->trace);
}

/* what the model recorded since the last request: erases, writes, set-address, ... */
static void
usbsim_device_trace_model_events(UsbsimDevice *self)
{
	g_autoptr(GPtrArray) events = NULL;
	if (self->ops->take_events == NULL)
		return;
	events = self->ops->take_events(self->model);
	for (guint i = 0; self->trace != NULL && i < events->len; i++) {
		g_autofree gchar *line =
		    g_strdup_printf("{\"t_ms\":%.3f,%s,\"mode\":\"%s\",\"state\":%d}",
				    usbsim_device_elapsed_ms(self),
				    (const gchar *)g_ptr_array_index(events, i),
				    self->ops->mode_name(self->model),
				    self->ops->state(self->model));
		usbsim_device_trace_line(self, line);
	}
}

static void
usbsim_device_trace_event(UsbsimDevice *self, const gchar *event)
{
	g_autofree gchar *line = NULL;
	if (self->trace == NULL)
		return;
	line = g_strdup_printf("{\"t_ms\":%.3f,\"event\":\"%s\",\"mode\":\"%s\",\"state\":%d}",
			       usbsim_device_elapsed_ms(self),
			       event,
			       self->ops->mode_name(self->model),
			       self->ops->state(self->model));
	usbsim_device_trace_line(self, line);
}

gboolean
usbsim_device_set_trace(UsbsimDevice *self, const gchar *filename, GError **error)
{
	FILE *trace = fopen(filename, "w");
	if (trace == NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    "cannot write %s: %s",
			    filename,
			    g_strerror(errno));
		return FALSE;
	}
	g_mutex_lock(&self->mutex);
	if (self->trace != NULL)
		fclose(self->trace);
	self->trace = trace;
	g_mutex_unlock(&self->mutex);
	return TRUE;
}

UsbsimDeviceStats
usbsim_device_get_stats(UsbsimDevice *self)
{
	return self->stats;
}

GHashTable *
usbsim_device_get_request_counts(UsbsimDevice *self)
{
	return self->request_counts;
}

GHashTable *
usbsim_device_get_host_idle_by_request(UsbsimDevice *self)
{
	return self->host_idle_by_us;
}

static void
usbsim_device_add_host_idle(UsbsimDevice *self, const gchar *name, gint64 idle_us)
{
	gint64 *total = g_hash_table_lookup(self->host_idle_by_us, name);
	if (total == NULL) {
		total = g_new0(gint64, 1);
		g_hash_table_insert(self->host_idle_by_us, g_strdup(name), total);
	}
	*total += idle_us;
}

static void
usbsim_device_count_request(UsbsimDevice *self, const gchar *name)
{
	guint count = GPOINTER_TO_UINT(g_hash_table_lookup(self->request_counts, name));
	g_hash_table_insert(self->request_counts, g_strdup(name), GUINT_TO_POINTER(count + 1));
}

static gint64
usbsim_device_bus_cost_us(UsbsimDevice *self, gsize bytes)
{
	return (gint64)(usbsim_bus_cost_us(bytes) * self->time_scale);
}

static gboolean
usbsim_device_is_online(UsbsimDevice *self, const gchar *devnode)
{
	return self->devnode_online != NULL && g_strcmp0(self->devnode_online, devnode) == 0;
}

/* an endpoint the current alt setting of some interface has, other than endpoint 0 */
static const UsbsimEndpoint *
usbsim_device_find_endpoint(UsbsimDevice *self, guint8 endpoint)
{
	for (guint i = 0; i < self->desc->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(self->desc->interfaces, i);
		UsbsimAltSetting *alt =
		    usbsim_interface_find_alt(iface, self->current_alt[iface->number % 32]);
		const UsbsimEndpoint *ep = alt != NULL ? usbsim_alt_find_endpoint(alt, endpoint)
						       : NULL;
		if (ep != NULL)
			return ep;
	}
	return NULL;
}

static gboolean
usbsim_device_has_endpoint(UsbsimDevice *self, guint8 endpoint)
{
	return (endpoint & 0x7f) == 0 || usbsim_device_find_endpoint(self, endpoint) != NULL;
}

/* what the bus splits an OUT transfer into: packets of the endpoint's wMaxPacketSize */
static gsize
usbsim_device_max_packet(UsbsimDevice *self, guint8 endpoint)
{
	const UsbsimEndpoint *ep = usbsim_device_find_endpoint(self, endpoint);
	return ep != NULL && ep->max_packet_size > 0 ? ep->max_packet_size : 64;
}

/* the sysfs paths and the umockdev record of a device and its interfaces */
gchar *
usbsim_device_build_umockdev_description(UsbsimDescription *desc,
					 const gchar *sysfs_path,
					 guint busnum,
					 guint devnum)
{
	GString *str = g_string_new(NULL);
	g_autoptr(GBytes) blob = usbsim_description_get_blob(desc);
	g_autofree gchar *interfaces = usbsim_description_interfaces_string(desc);
	GString *hex = g_string_new(NULL);
	gsize blobsz = 0;
	const guint8 *blobdata = g_bytes_get_data(blob, &blobsz);
	guint minor = (busnum - 1) * 128 + (devnum - 1);
	const gchar *sysname = strrchr(sysfs_path, '/') + 1;
	g_autofree gchar *serial = usbsim_description_serial_as_read(desc);

	for (gsize i = 0; i < blobsz; i++)
		g_string_append_printf(hex, "%02X", blobdata[i]);

	g_string_append_printf(str, "P: %s\n", sysfs_path);
	g_string_append_printf(str, "N: bus/usb/%03u/%03u=%s\n", busnum, devnum, hex->str);
	g_string_append_printf(str, "E: DEVNAME=/dev/bus/usb/%03u/%03u\n", busnum, devnum);
	g_string_append(str, "E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: SUBSYSTEM=usb\n");
	g_string_append_printf(str,
			       "E: PRODUCT=%x/%x/%x\n",
			       desc->vid,
			       desc->pid,
			       desc->bcd_device);
	g_string_append_printf(str,
			       "E: TYPE=%u/%u/%u\n",
			       desc->device_class,
			       desc->device_subclass,
			       desc->device_protocol);
	g_string_append_printf(str, "E: BUSNUM=%03u\nE: DEVNUM=%03u\n", busnum, devnum);
	g_string_append_printf(str, "E: MAJOR=189\nE: MINOR=%u\n", minor);
	g_string_append_printf(str,
			       "E: ID_VENDOR_ID=%04x\nE: ID_MODEL_ID=%04x\n",
			       desc->vid,
			       desc->pid);
	g_string_append_printf(str, "E: ID_REVISION=%04x\nE: ID_BUS=usb\n", desc->bcd_device);
	g_string_append_printf(str, "E: ID_USB_INTERFACES=%s\n", interfaces);
	if (serial != NULL)
		g_string_append_printf(str, "E: ID_SERIAL_SHORT=%s\n", serial);
	g_string_append_printf(str, "A: dev=189:%u\n", minor);
	/* libusb wants sysfs values to end with a newline, as the kernel's do */
	g_string_append_printf(str, "A: busnum=%u\\n\nA: devnum=%u\\n\n", busnum, devnum);
	g_string_append(str, "A: speed=12\\n\nA: version= 2.00\\n\nA: maxchild=0\\n\n");
	g_string_append_printf(str, "A: bConfigurationValue=%u\\n\n", desc->configuration_value);
	g_string_append(str, "A: bNumConfigurations=1\n");
	g_string_append_printf(str, "A: bNumInterfaces=%2u\n", desc->interfaces->len);
	g_string_append_printf(str, "A: bMaxPacketSize0=%u\n", desc->max_packet_size0);
	g_string_append_printf(str, "A: bDeviceClass=%02x\n", desc->device_class);
	g_string_append_printf(str, "A: bDeviceSubClass=%02x\n", desc->device_subclass);
	g_string_append_printf(str, "A: bDeviceProtocol=%02x\n", desc->device_protocol);
	g_string_append_printf(str, "A: idVendor=%04x\nA: idProduct=%04x\n", desc->vid, desc->pid);
	g_string_append_printf(str, "A: bcdDevice=%04x\n", desc->bcd_device);
	if (desc->manufacturer != NULL)
		g_string_append_printf(str, "A: manufacturer=%s\n", desc->manufacturer);
	if (desc->product != NULL)
		g_string_append_printf(str, "A: product=%s\n", desc->product);
	if (serial != NULL)
		g_string_append_printf(str, "A: serial=%s\n", serial);
	g_string_append_printf(str, "H: descriptors=%s\n\n", hex->str);

	for (guint i = 0; i < desc->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(desc->interfaces, i);
		UsbsimAltSetting *alt = g_ptr_array_index(iface->alts, 0);
		g_string_append_printf(str,
				       "P: %s/%s:%u.%u\n",
				       sysfs_path,
				       sysname,
				       desc->configuration_value,
				       iface->number);
		g_string_append(str, "E: DEVTYPE=usb_interface\nE: SUBSYSTEM=usb\n");
		g_string_append_printf(str,
				       "E: PRODUCT=%x/%x/%x\n",
				       desc->vid,
				       desc->pid,
				       desc->bcd_device);
		g_string_append_printf(str,
				       "E: INTERFACE=%u/%u/%u\n",
				       alt->class_code,
				       alt->subclass,
				       alt->protocol);
		g_string_append_printf(
		    str,
		    "E: MODALIAS=usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X\n",
		    desc->vid,
		    desc->pid,
		    desc->bcd_device,
		    desc->device_class,
		    desc->device_subclass,
		    desc->device_protocol,
		    alt->class_code,
		    alt->subclass,
		    alt->protocol,
		    iface->number);
		g_string_append_printf(str, "A: bInterfaceNumber=%02x\n", iface->number);
		g_string_append_printf(str, "A: bAlternateSetting= %u\n", alt->alt_setting);
		g_string_append_printf(str, "A: bNumEndpoints=%02x\n", alt->endpoints->len);
		g_string_append_printf(str, "A: bInterfaceClass=%02x\n", alt->class_code);
		g_string_append_printf(str, "A: bInterfaceSubClass=%02x\n", alt->subclass);
		g_string_append_printf(str, "A: bInterfaceProtocol=%02x\n", alt->protocol);
		if (alt->name != NULL)
			g_string_append_printf(str, "A: interface=%s\n", alt->name);
		g_string_append(str, "\n");
	}
	g_string_free(hex, TRUE);
	return g_string_free(str, FALSE);
}

gboolean
usbsim_device_plug(UsbsimDevice *self, GError **error)
{
	g_autofree gchar *record = NULL;
	g_autofree gchar *devnode = NULL;
	g_autofree gchar *sysfs_path = g_strdup_printf("/sys%s", USBSIM_SYSFS_PATH);

	g_mutex_lock(&self->mutex);
	g_clear_pointer(&self->desc, usbsim_description_free);
	self->desc = self->ops->describe(self->model);
	memset(self->current_alt, 0, sizeof(self->current_alt));
	self->configuration = self->desc->configuration_value;
	self->devnum++;
	devnode = g_strdup_printf("/dev/bus/usb/%03u/%03u", USBSIM_BUSNUM, self->devnum);
	record = usbsim_device_build_umockdev_description(self->desc,
							  USBSIM_SYSFS_PATH,
							  USBSIM_BUSNUM,
							  self->devnum);
	g_ptr_array_set_size(self->sysfs_paths, 0);
	for (guint i = 0; i < self->desc->interfaces->len; i++) {
		UsbsimInterface *iface = g_ptr_array_index(self->desc->interfaces, i);
		g_ptr_array_add(self->sysfs_paths,
				g_strdup_printf("%s/%s:%u.%u",
						sysfs_path,
						strrchr(USBSIM_SYSFS_PATH, '/') + 1,
						self->desc->configuration_value,
						iface->number));
	}
	g_ptr_array_add(self->sysfs_paths, g_strdup(sysfs_path));
	g_free(self->devnode_online);
	self->devnode_online = g_strdup(devnode);
	g_free(self->devnode_sysfs);
	self->devnode_sysfs = g_strdup(devnode);
	self->stats.enumerations++;
	self->reenumeration_scheduled = FALSE;
	self->last_activity_end_us = g_get_monotonic_time();
	usbsim_device_trace_event(self, "plug");
	g_mutex_unlock(&self->mutex);

	/* the node answers ioctls before the device is announced: adding it sends an "add"
	 * uevent, and a client that opens it at once must not see ENOTTY */
	if (!umockdev_testbed_attach_ioctl(self->testbed,
					   devnode,
					   UMOCKDEV_IOCTL_BASE(self),
					   error))
		return FALSE;
	if (!umockdev_testbed_add_from_string(self->testbed, record, error))
		return FALSE;

	/* the device first, then its interfaces, as the kernel announces them */
	for (guint i = self->sysfs_paths->len; i > 0; i--)
		umockdev_testbed_uevent(self->testbed,
					g_ptr_array_index(self->sysfs_paths, i - 1),
					"add");
	return TRUE;
}

/* takes the device off the testbed; main loop only */
void
usbsim_device_remove(UsbsimDevice *self)
{
	g_autofree gchar *devnode = NULL;
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

	g_mutex_lock(&self->mutex);
	g_clear_pointer(&self->devnode_online, g_free);
	devnode = g_steal_pointer(&self->devnode_sysfs);
	for (guint i = 0; i < self->sysfs_paths->len; i++)
		g_ptr_array_add(paths, g_strdup(g_ptr_array_index(self->sysfs_paths, i)));
	g_ptr_array_set_size(self->sysfs_paths, 0);
	g_mutex_unlock(&self->mutex);

	if (devnode == NULL)
		return;

	/* interfaces before their device; the uevent reads sysfs, so it goes first */
	for (guint i = 0; i < paths->len; i++) {
		const gchar *path = g_ptr_array_index(paths, i);
		umockdev_testbed_uevent(self->testbed, path, "remove");
		umockdev_testbed_remove_device(self->testbed, path);
	}
	umockdev_testbed_detach_ioctl(self->testbed, devnode, NULL);
}

static gboolean
usbsim_device_replug_cb(gpointer user_data)
{
	UsbsimDevice *self = USBSIM_DEVICE(user_data);
	g_autoptr(GError) error = NULL;

	if (!usbsim_device_plug(self, &error))
		g_warning("re-enumeration failed: %s", error->message);
	return G_SOURCE_REMOVE;
}

static gboolean
usbsim_device_unplug_cb(gpointer user_data)
{
	UsbsimDevice *self = USBSIM_DEVICE(user_data);
	gboolean replug;
	gint64 gap_us;

	usbsim_device_remove(self);
	g_mutex_lock(&self->mutex);
	replug = !self->stats.gone;
	gap_us = MAX(USBSIM_REPLUG_GAP_MIN_US, (gint64)(USBSIM_REPLUG_GAP_US * self->time_scale));
	g_mutex_unlock(&self->mutex);
	if (replug) {
		g_timeout_add_full(G_PRIORITY_DEFAULT,
				   MAX(1, gap_us / 1000),
				   usbsim_device_replug_cb,
				   g_object_ref(self),
				   g_object_unref);
	}
	return G_SOURCE_REMOVE;
}

/* goes off the bus at once (old fds get ENODEV) and leaves the testbed from the main loop;
 * called with the lock held */
static void
usbsim_device_go_offline_locked(UsbsimDevice *self, gboolean forever)
{
	g_clear_pointer(&self->devnode_online, g_free);
	self->reenumeration_scheduled = TRUE;
	if (forever) {
		self->stats.gone = TRUE;
		usbsim_device_trace_event(self, "unplug");
	} else {
		usbsim_device_trace_event(self, "reenumerate");
	}
	g_idle_add_full(G_PRIORITY_DEFAULT,
			usbsim_device_unplug_cb,
			g_object_ref(self),
			g_object_unref);
}

static gboolean
usbsim_device_self_reenumerate_cb(gpointer user_data)
{
	UsbsimDevice *self = USBSIM_DEVICE(user_data);

	g_mutex_lock(&self->mutex);
	if (self->devnode_online != NULL) {
		self->ops->reenumerate(self->model, g_get_monotonic_time());
		usbsim_device_trace_model_events(self);
		/* a device may reset into something that has no USB at all */
		usbsim_device_go_offline_locked(self,
						self->ops->unplugged != NULL &&
						    self->ops->unplugged(self->model));
	}
	g_mutex_unlock(&self->mutex);
	return G_SOURCE_REMOVE;
}

static void
usbsim_device_check_self_reenumeration_locked(UsbsimDevice *self)
{
	gint64 delay_us = 0;

	if (self->reenumeration_scheduled || self->ops->pending_reenumeration == NULL)
		return;
	if (!self->ops->pending_reenumeration(self->model, &delay_us))
		return;
	self->reenumeration_scheduled = TRUE;
	g_timeout_add_full(G_PRIORITY_DEFAULT,
			   MAX(1, delay_us / 1000),
			   usbsim_device_self_reenumerate_cb,
			   g_object_ref(self),
			   g_object_unref);
}

static const gchar *
usbsim_device_outcome_to_string(UsbsimOutcome outcome)
{
	switch (outcome) {
	case USBSIM_OUTCOME_OK:
		return "ok";
	case USBSIM_OUTCOME_STALL:
		return "stall";
	case USBSIM_OUTCOME_TIMEOUT:
		return "timeout";
	case USBSIM_OUTCOME_UNPLUGGED:
		return "unplugged";
	default:
		return "unknown";
	}
}

static void
usbsim_device_reply_append(UsbsimReply *reply, const guint8 *data, gsize len, guint16 length)
{
	g_byte_array_append(reply->data, data, MIN(len, length));
}

/* chapter 9 requests, answered from the descriptors */
static void
usbsim_device_standard_request(UsbsimDevice *self, const UsbsimSetup *setup, UsbsimReply *reply)
{
	guint8 recipient = setup->request_type & 0x1f;
	guint8 desc_type = setup->value >> 8;
	guint8 desc_index = setup->value & 0xff;

	reply->name = "standard";
	switch (setup->request) {
	case 0x00: { /* GET_STATUS */
		guint8 buf[2] = {0};
		reply->name = "get_status";
		usbsim_device_reply_append(reply, buf, sizeof(buf), setup->length);
		return;
	}
	case 0x01: /* CLEAR_FEATURE */
	case 0x03: /* SET_FEATURE */
		reply->name = setup->request == 0x01 ? "clear_feature" : "set_feature";
		if (recipient == 0x02 && !usbsim_device_has_endpoint(self, setup->index & 0xff))
			reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	case 0x06: /* GET_DESCRIPTOR */
		reply->name = "get_descriptor";
		if (desc_type == USBSIM_DT_DEVICE) {
			usbsim_device_reply_append(reply,
						   self->desc->device_descriptor->data,
						   self->desc->device_descriptor->len,
						   setup->length);
			return;
		}
		if (desc_type == USBSIM_DT_CONFIG && desc_index == 0) {
			usbsim_device_reply_append(reply,
						   self->desc->config_descriptor->data,
						   self->desc->config_descriptor->len,
						   setup->length);
			return;
		}
		if (desc_type == USBSIM_DT_STRING) {
			g_autoptr(GByteArray) str =
			    usbsim_description_get_string_descriptor(self->desc, desc_index);
			if (str != NULL) {
				usbsim_device_reply_append(reply,
							   str->data,
							   str->len,
							   setup->length);
				return;
			}
		}
		if (desc_type == 0x21 && !self->desc->class_descriptor_request_stalls) {
			const GByteArray *cfg = self->desc->config_descriptor;
			for (guint off = 0; off + 2 <= cfg->len && cfg->data[off] >= 2;
			     off += cfg->data[off]) {
				if (cfg->data[off + 1] != desc_type ||
				    off + cfg->data[off] > cfg->len)
					continue;
				usbsim_device_reply_append(reply,
							   cfg->data + off,
							   cfg->data[off],
							   setup->length);
				return;
			}
		}
		/* BOS, device qualifier (a full-speed device) and anything unknown */
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	case 0x08: /* GET_CONFIGURATION */
		reply->name = "get_configuration";
		usbsim_device_reply_append(reply, &self->configuration, 1, setup->length);
		return;
	case 0x09: /* SET_CONFIGURATION */
		reply->name = "set_configuration";
		if (setup->value != 0 && setup->value != self->desc->configuration_value) {
			reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		}
		self->configuration = setup->value;
		return;
	case 0x0a: { /* GET_INTERFACE */
		UsbsimInterface *iface =
		    usbsim_description_find_interface(self->desc, setup->index);
		reply->name = "get_interface";
		if (iface == NULL) {
			reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		}
		usbsim_device_reply_append(reply,
					   &self->current_alt[iface->number % 32],
					   1,
					   setup->length);
		return;
	}
	case 0x0b: { /* SET_INTERFACE */
		UsbsimInterface *iface =
		    usbsim_description_find_interface(self->desc, setup->index);
		reply->name = "set_interface";
		if (iface == NULL || usbsim_interface_find_alt(iface, setup->value) == NULL) {
			reply->outcome = USBSIM_OUTCOME_STALL;
			return;
		}
		self->current_alt[iface->number % 32] = setup->value;
		if (self->ops->set_alt != NULL)
			self->ops->set_alt(self->model, iface->number, setup->value);
		return;
	}
	default:
		/* SET_ADDRESS belongs to the host controller, SYNCH_FRAME to isochronous */
		reply->outcome = USBSIM_OUTCOME_STALL;
		return;
	}
}

/* handles one control request, with the lock held; returns the bus time it costs */
static gint64
usbsim_device_control_locked(UsbsimDevice *self,
			     const UsbsimSetup *setup,
			     const guint8 *data_out,
			     UsbsimReply *reply)
{
	gint64 now_us = g_get_monotonic_time();
	gint64 busy_until_us = self->ops->busy_until(self->model);
	gint64 idle_from_us = MAX(self->last_activity_end_us, busy_until_us);
	const gchar *mode = self->ops->mode_name(self->model);
	gint state_before = self->ops->state(self->model);
	gint64 bus_us;
	gint64 idle_us = MAX(now_us - idle_from_us, 0);
	gsize bytes;

	reply->outcome = USBSIM_OUTCOME_OK;
	reply->status = -1;
	reply->poll_timeout_ms = -1;
	self->stats.host_idle_us += idle_us;

	if ((setup->request_type & 0x60) == 0x00)
		usbsim_device_standard_request(self, setup, reply);
	else
		self->ops->control(self->model, setup, data_out, now_us, reply);

	bytes = (setup->request_type & 0x80) ? reply->data->len : setup->length;
	bus_us = usbsim_device_bus_cost_us(self, reply->outcome == USBSIM_OUTCOME_OK ? bytes : 0);
	self->stats.bus_us += bus_us;
	self->last_activity_end_us = now_us + bus_us;
	usbsim_device_count_request(self, reply->name != NULL ? reply->name : "other");
	usbsim_device_add_host_idle(self, reply->name != NULL ? reply->name : "other", idle_us);

	if (self->trace != NULL) {
		GString *line = g_string_new(NULL);
		g_string_append_printf(line,
				       "{\"t_ms\":%.3f,\"mode\":\"%s\",\"bmRequestType\":%u,"
				       "\"bRequest\":%u,\"wValue\":%u,\"wIndex\":%u,\"wLength\":%u,"
				       "\"request\":\"%s\",\"state_before\":%d,\"state_after\":%d,"
				       "\"outcome\":\"%s\",\"bus_us\":%" G_GINT64_FORMAT,
				       (now_us - self->start_us) / 1000.0,
				       mode,
				       setup->request_type,
				       setup->request,
				       setup->value,
				       setup->index,
				       setup->length,
				       reply->name != NULL ? reply->name : "other",
				       state_before,
				       self->ops->state(self->model),
				       usbsim_device_outcome_to_string(reply->outcome),
				       bus_us);
		if (reply->is_status_poll) {
			g_string_append_printf(line,
					       ",\"early\":%s",
					       reply->early ? "true" : "false");
			if (reply->status >= 0)
				g_string_append_printf(line,
						       ",\"status\":%d,\"poll_timeout_ms\":%d",
						       reply->status,
						       reply->poll_timeout_ms);
		}
		g_string_append(line, "}");
		usbsim_device_trace_line(self, line->str);
		g_string_free(line, TRUE);
	}
	usbsim_device_trace_model_events(self);

	if (reply->outcome == USBSIM_OUTCOME_UNPLUGGED)
		usbsim_device_go_offline_locked(self, TRUE);
	else
		usbsim_device_check_self_reenumeration_locked(self);
	return bus_us;
}

static void
usbsim_device_complete(UMockdevIoctlClient *client, glong result, gint errno_)
{
	umockdev_ioctl_client_complete(client, result, errno_);
}

static gboolean
usbsim_device_resolve(UMockdevIoctlClient *client,
		      gsize size,
		      UMockdevIoctlData **data,
		      GError **error)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	*data = umockdev_ioctl_data_resolve(arg, 0, size, error);
	return *data != NULL;
}

/*
 * Offers the pending bulk URBs of a client to a model with flow control (ops->bulk_out):
 * OUT URBs in submission order, each in packets of the endpoint's wMaxPacketSize as the bus
 * carries them (a transfer of several packets is several messages to a device that takes one
 * packet at a time); an endpoint that NAKs a packet holds back the rest of that URB and the
 * URBs queued behind on it. *next_us receives when the model said to ask again. Called with
 * the lock held.
 */
static void
usbsim_device_offer_bulk_locked(UsbsimDevice *self,
				UsbsimClient *state,
				gint64 now_us,
				gint64 *next_us)
{
	guint64 naking = 0; /* bit per OUT endpoint number */

	*next_us = USBSIM_NEVER;
	if (self->ops->bulk_out == NULL || self->devnode_online == NULL)
		return;
	for (GList *l = state->urbs.head; l != NULL; l = l->next) {
		UsbsimUrb *item = l->data;
		guint8 *buf = item->buf_data != NULL ? item->buf_data->data : NULL;
		gsize bufsz = item->buf_data != NULL ? item->buf_data->data_len : 0;
		gint64 retry_us = USBSIM_NEVER;

		if (item->ready_at_us != USBSIM_NEVER || item->type == USBDEVFS_URB_TYPE_CONTROL)
			continue;
		if (item->endpoint & 0x80) {
			gssize len = self->ops->bulk_in(self->model,
							item->endpoint,
							buf,
							bufsz,
							item->submit_us,
							now_us,
							&retry_us);
			if (len >= 0) {
				item->actual_length = len;
				item->ready_at_us = now_us;
			}
		} else if ((naking & (1ull << (item->endpoint & 0x3f))) == 0) {
			gsize packet_max = usbsim_device_max_packet(self, item->endpoint);
			/* a zero-length transfer is one zero-length packet */
			do {
				gsize len = MIN(packet_max, bufsz - item->out_taken);
				gint64 done_us =
				    self->ops->bulk_out(self->model,
							item->endpoint,
							buf != NULL ? buf + item->out_taken : NULL,
							len,
							item->submit_us,
							now_us,
							&retry_us);
				if (done_us < 0) {
					naking |= 1ull << (item->endpoint & 0x3f);
					break;
				}
				item->out_taken += len;
				item->actual_length = item->out_taken;
				if (item->out_taken >= bufsz)
					item->ready_at_us = done_us;
			} while (item->out_taken < bufsz);
		}
		*next_us = MIN(*next_us, retry_us);
	}
	usbsim_device_trace_model_events(self);
	if (self->ops->unplugged != NULL && self->ops->unplugged(self->model))
		usbsim_device_go_offline_locked(self, TRUE);
	else
		usbsim_device_check_self_reenumeration_locked(self);
}

static void
usbsim_device_ioctl_submit_urb(UsbsimDevice *self, UMockdevIoctlClient *client, UsbsimClient *state)
{
	g_autoptr(UMockdevIoctlData) urb_data = NULL;
	g_autoptr(GError) error = NULL;
	struct usbdevfs_urb *urb;
	UsbsimUrb *item;
	guint8 *buf = NULL;
	gint64 now_us = g_get_monotonic_time();

	if (!usbsim_device_resolve(client, sizeof(struct usbdevfs_urb), &urb_data, &error)) {
		usbsim_device_complete(client, -1, EFAULT);
		return;
	}
	urb = (struct usbdevfs_urb *)urb_data->data;
	item = g_new0(UsbsimUrb, 1);
	item->type = urb->type;
	item->endpoint = urb->endpoint;
	item->client_addr = urb_data->client_addr;
	item->ready_at_us = USBSIM_NEVER;
	item->submit_us = now_us;
	if (urb->buffer_length > 0) {
		item->buf_data = umockdev_ioctl_data_resolve(urb_data,
							     offsetof(struct usbdevfs_urb, buffer),
							     urb->buffer_length,
							     &error);
		if (item->buf_data == NULL) {
			usbsim_urb_free(item);
			usbsim_device_complete(client, -1, EFAULT);
			return;
		}
		buf = item->buf_data->data;
	}
	item->urb_data = g_object_ref(urb_data);

	g_mutex_lock(&self->mutex);
	if (!usbsim_device_is_online(self, umockdev_ioctl_client_get_devnode(client))) {
		g_mutex_unlock(&self->mutex);
		usbsim_urb_free(item);
		usbsim_device_complete(client, -1, ENODEV);
		return;
	}
	if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
		UsbsimSetup setup;
		UsbsimReply reply = {.data = g_byte_array_new()};
		gint64 bus_us;

		if ((urb->endpoint & 0x7f) != 0 || urb->buffer_length < 8) {
			g_mutex_unlock(&self->mutex);
			g_byte_array_unref(reply.data);
			usbsim_urb_free(item);
			usbsim_device_complete(client, -1, EINVAL);
			return;
		}
		setup.request_type = buf[0];
		setup.request = buf[1];
		setup.value = buf[2] | (buf[3] << 8);
		setup.index = buf[4] | (buf[5] << 8);
		setup.length = MIN((gint)(buf[6] | (buf[7] << 8)), urb->buffer_length - 8);
		bus_us = usbsim_device_control_locked(self, &setup, buf + 8, &reply);
		switch (reply.outcome) {
		case USBSIM_OUTCOME_OK:
			if (setup.request_type & 0x80) {
				/* an empty reply's data may be NULL */
				if (reply.data->len > 0)
					memcpy(buf + 8, reply.data->data, reply.data->len);
				item->actual_length = reply.data->len;
			} else {
				item->actual_length = setup.length;
			}
			item->ready_at_us = now_us + bus_us;
			break;
		case USBSIM_OUTCOME_STALL:
			item->status = -EPIPE;
			item->ready_at_us = now_us + bus_us;
			break;
		case USBSIM_OUTCOME_UNPLUGGED:
			item->status = -ENODEV;
			break;
		default:
			/* stays pending until the host discards it */
			break;
		}
		g_byte_array_unref(reply.data);
	} else if (urb->type == USBDEVFS_URB_TYPE_BULK ||
		   urb->type == USBDEVFS_URB_TYPE_INTERRUPT) {
		if (!usbsim_device_has_endpoint(self, urb->endpoint)) {
			g_mutex_unlock(&self->mutex);
			usbsim_urb_free(item);
			usbsim_device_complete(client, -1, ENOENT);
			return;
		}
		if ((urb->endpoint & 0x80) == 0 && self->ops->bulk_out == NULL) {
			if (self->ops->endpoint_out != NULL)
				self->ops->endpoint_out(self->model,
							urb->endpoint,
							buf,
							urb->buffer_length);
			item->actual_length = urb->buffer_length;
			item->ready_at_us = now_us + (gint64)(urb->buffer_length * 1000.0 / 1216.0 *
							      self->time_scale);
		}
	} else {
		g_mutex_unlock(&self->mutex);
		usbsim_urb_free(item);
		usbsim_device_complete(client, -1, EINVAL);
		return;
	}
	g_queue_push_tail(&state->urbs, item);
	state->last_urb_activity_us = now_us;
	if (self->ops->bulk_out != NULL && urb->type != USBDEVFS_URB_TYPE_CONTROL) {
		gint64 next_us;
		usbsim_device_offer_bulk_locked(self, state, now_us, &next_us);
	}
	g_mutex_unlock(&self->mutex);
	usbsim_device_complete(client, 0, 0);
}

/* the first completed URB of this client; pending IN endpoint URBs ask the model for data */
static UsbsimUrb *
usbsim_device_pop_ready_locked(UsbsimDevice *self, UsbsimClient *state, gint64 *next_ready_us)
{
	gint64 now_us = g_get_monotonic_time();
	gint64 model_retry_us = USBSIM_NEVER;

	usbsim_device_offer_bulk_locked(self, state, now_us, &model_retry_us);
	*next_ready_us = model_retry_us;
	for (GList *l = state->urbs.head; l != NULL; l = l->next) {
		UsbsimUrb *item = l->data;
		if (item->ready_at_us == USBSIM_NEVER && item->type != USBDEVFS_URB_TYPE_CONTROL &&
		    (item->endpoint & 0x80) && self->ops->endpoint_in != NULL &&
		    item->buf_data != NULL) {
			gssize len = self->ops->endpoint_in(self->model,
							    item->endpoint,
							    item->buf_data->data,
							    item->buf_data->data_len);
			if (len >= 0) {
				item->actual_length = len;
				item->ready_at_us = now_us;
			}
		}
		if (item->ready_at_us <= now_us) {
			g_queue_delete_link(&state->urbs, l);
			return item;
		}
		*next_ready_us = MIN(*next_ready_us, item->ready_at_us);
	}
	return NULL;
}

/*
 * How long a non-blocking reap that found nothing completed waits before it looks again:
 * until the earliest time the model named for a pending URB (nothing can change before it but
 * a submit, and while its URBs are pending a host thread waits for them), or, when it named
 * none, a share of the time the client has been quiet. Called with the lock held.
 */
static gint64
usbsim_device_reap_park_us_locked(UsbsimClient *state, gint64 next_ready_us)
{
	gint64 now_us = g_get_monotonic_time();

	if (next_ready_us != USBSIM_NEVER)
		return MIN(next_ready_us - now_us, USBSIM_REAP_PARK_US);
	return MIN((now_us - state->last_urb_activity_us) / USBSIM_REAP_PARK_QUIET_DIVISOR,
		   USBSIM_REAP_PARK_US);
}

static void
usbsim_device_ioctl_reap_urb(UsbsimDevice *self,
			     UMockdevIoctlClient *client,
			     UsbsimClient *state,
			     gboolean nonblocking)
{
	const gchar *devnode = umockdev_ioctl_client_get_devnode(client);
	g_autoptr(UMockdevIoctlData) slot = NULL;
	g_autoptr(GError) error = NULL;
	UsbsimUrb *item = NULL;
	struct usbdevfs_urb *urb;
	gboolean parked = FALSE;

	for (;;) {
		gint64 next_ready_us;
		gint64 wait_us;

		g_mutex_lock(&self->mutex);
		if (!usbsim_device_is_online(self, devnode)) {
			/* as the kernel: a disconnect kills what is pending, those URBs and the
			 * completed ones are reaped first, then the fd says ENODEV */
			item = g_queue_pop_head(&state->urbs);
			g_mutex_unlock(&self->mutex);
			if (item == NULL) {
				usbsim_device_complete(client, -1, ENODEV);
				return;
			}
			if (item->ready_at_us > g_get_monotonic_time()) {
				/* the packets an OUT transfer got through before stay counted */
				item->status = -ESHUTDOWN;
				item->actual_length =
				    (item->endpoint & 0x80) ? 0 : (gint)item->out_taken;
			}
			break;
		}
		item = usbsim_device_pop_ready_locked(self, state, &next_ready_us);
		if (item != NULL)
			state->last_urb_activity_us = g_get_monotonic_time();
		/* a blocking reap is a host thread that only waits */
		wait_us = nonblocking
			      ? usbsim_device_reap_park_us_locked(state, next_ready_us)
			      : MIN(USBSIM_REAP_PARK_US, next_ready_us - g_get_monotonic_time());
		g_mutex_unlock(&self->mutex);
		if (item != NULL)
			break;

		if ((nonblocking && (parked || wait_us <= 0)) ||
		    (!nonblocking && next_ready_us == USBSIM_NEVER)) {
			usbsim_device_complete(client, -1, EAGAIN);
			return;
		}
		if (wait_us > 0)
			g_usleep(wait_us);
		parked = TRUE;
	}

	urb = (struct usbdevfs_urb *)item->urb_data->data;
	urb->status = item->status;
	urb->actual_length = item->actual_length;
	urb->error_count = 0;
	if (!usbsim_device_resolve(client, sizeof(gpointer), &slot, &error)) {
		usbsim_urb_free(item);
		usbsim_device_complete(client, -1, EFAULT);
		return;
	}
	umockdev_ioctl_data_set_ptr(slot, 0, item->urb_data);
	usbsim_urb_free(item);
	usbsim_device_complete(client, 0, 0);
}

static void
usbsim_device_ioctl_discard_urb(UsbsimDevice *self,
				UMockdevIoctlClient *client,
				UsbsimClient *state)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	gulong addr = *(gulong *)arg->data;
	gint64 now_us = g_get_monotonic_time();
	gint64 next_us;

	g_mutex_lock(&self->mutex);
	/* what the device took before the host gave up stays taken */
	usbsim_device_offer_bulk_locked(self, state, now_us, &next_us);
	for (GList *l = state->urbs.head; l != NULL; l = l->next) {
		UsbsimUrb *item = l->data;
		if (item->client_addr != addr)
			continue;
		if (item->ready_at_us <= now_us)
			break;
		/* the packets an OUT transfer got through before it was cancelled count */
		item->status = -ENOENT;
		item->actual_length = (item->endpoint & 0x80) ? 0 : (gint)item->out_taken;
		item->ready_at_us = now_us;
		g_mutex_unlock(&self->mutex);
		usbsim_device_complete(client, 0, 0);
		return;
	}
	g_mutex_unlock(&self->mutex);
	usbsim_device_complete(client, -1, EINVAL);
}

static void
usbsim_device_ioctl_control(UsbsimDevice *self, UMockdevIoctlClient *client)
{
	g_autoptr(UMockdevIoctlData) ctrl_data = NULL;
	g_autoptr(UMockdevIoctlData) buf_data = NULL;
	g_autoptr(GError) error = NULL;
	struct usbdevfs_ctrltransfer *ctrl;
	UsbsimSetup setup;
	UsbsimReply reply = {0};
	gint64 bus_us;
	guint32 timeout_ms;
	g_autoptr(GByteArray) reply_data = g_byte_array_new();

	if (!usbsim_device_resolve(client, sizeof(*ctrl), &ctrl_data, &error)) {
		usbsim_device_complete(client, -1, EFAULT);
		return;
	}
	ctrl = (struct usbdevfs_ctrltransfer *)ctrl_data->data;
	setup.request_type = ctrl->bRequestType;
	setup.request = ctrl->bRequest;
	setup.value = ctrl->wValue;
	setup.index = ctrl->wIndex;
	setup.length = ctrl->wLength;
	timeout_ms = ctrl->timeout != 0 ? ctrl->timeout : USBSIM_SYNC_TIMEOUT_MAX;
	if (setup.length > 0) {
		buf_data = umockdev_ioctl_data_resolve(ctrl_data,
						       offsetof(struct usbdevfs_ctrltransfer, data),
						       setup.length,
						       &error);
		if (buf_data == NULL) {
			usbsim_device_complete(client, -1, EFAULT);
			return;
		}
	}

	reply.data = reply_data;
	g_mutex_lock(&self->mutex);
	if (!usbsim_device_is_online(self, umockdev_ioctl_client_get_devnode(client))) {
		g_mutex_unlock(&self->mutex);
		usbsim_device_complete(client, -1, ENODEV);
		return;
	}
	bus_us = usbsim_device_control_locked(self,
					      &setup,
					      buf_data != NULL ? buf_data->data : NULL,
					      &reply);
	g_mutex_unlock(&self->mutex);

	switch (reply.outcome) {
	case USBSIM_OUTCOME_OK:
		g_usleep(bus_us);
		if (setup.request_type & 0x80) {
			if (reply.data->len > 0)
				memcpy(buf_data->data, reply.data->data, reply.data->len);
			usbsim_device_complete(client, reply.data->len, 0);
		} else {
			usbsim_device_complete(client, setup.length, 0);
		}
		return;
	case USBSIM_OUTCOME_STALL:
		g_usleep(bus_us);
		usbsim_device_complete(client, -1, EPIPE);
		return;
	case USBSIM_OUTCOME_TIMEOUT:
		g_usleep((gulong)MIN(timeout_ms, USBSIM_SYNC_TIMEOUT_MAX) * 1000);
		usbsim_device_complete(client, -1, ETIMEDOUT);
		return;
	default:
		usbsim_device_complete(client, -1, ENODEV);
		return;
	}
}

static guint32
usbsim_device_read_u32(UMockdevIoctlClient *client, gboolean *ok)
{
	g_autoptr(UMockdevIoctlData) data = NULL;
	*ok = usbsim_device_resolve(client, sizeof(guint32), &data, NULL);
	return *ok ? *(guint32 *)data->data : 0;
}

/* a request the kernel makes on the host's behalf, for the trace and the counters */
static void
usbsim_device_kernel_request_locked(UsbsimDevice *self,
				    guint8 request_type,
				    guint8 request,
				    guint16 value,
				    guint16 index)
{
	UsbsimSetup setup = {.request_type = request_type,
			     .request = request,
			     .value = value,
			     .index = index};
	UsbsimReply reply = {.data = g_byte_array_new()};
	usbsim_device_control_locked(self, &setup, NULL, &reply);
	g_byte_array_unref(reply.data);
}

static gboolean
usbsim_device_handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client)
{
	UsbsimDevice *self = USBSIM_DEVICE(base);
	UsbsimClient *state = usbsim_device_client(client);
	gulong request = umockdev_ioctl_client_get_request(client);
	const gchar *devnode = umockdev_ioctl_client_get_devnode(client);
	g_autoptr(UMockdevIoctlData) data = NULL;
	gboolean ok = FALSE;
	guint32 value;
	static __thread gboolean precise_sleeps = FALSE;

	/* the device's busy and bus times are slept on the thread that answers the host: the
	 * default 50 us of timer slack would add to every one of them */
	if (!precise_sleeps) {
		(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		precise_sleeps = TRUE;
	}

	switch (request) {
	case USBDEVFS_SUBMITURB:
		usbsim_device_ioctl_submit_urb(self, client, state);
		return TRUE;
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		usbsim_device_ioctl_reap_urb(self,
					     client,
					     state,
					     request == USBDEVFS_REAPURBNDELAY);
		return TRUE;
	case USBDEVFS_DISCARDURB:
		usbsim_device_ioctl_discard_urb(self, client, state);
		return TRUE;
	case USBDEVFS_CONTROL:
		usbsim_device_ioctl_control(self, client);
		return TRUE;
	default:
		break;
	}

	g_mutex_lock(&self->mutex);
	if (!usbsim_device_is_online(self, devnode)) {
		g_mutex_unlock(&self->mutex);
		usbsim_device_complete(client, -1, ENODEV);
		return TRUE;
	}
	switch (request) {
	case USBDEVFS_GET_CAPABILITIES:
		if (usbsim_device_resolve(client, sizeof(guint32), &data, NULL)) {
			*(guint32 *)data->data = USBDEVFS_CAP_ZERO_PACKET |
						 USBDEVFS_CAP_BULK_CONTINUATION |
						 USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
			usbsim_device_complete(client, 0, 0);
		} else {
			usbsim_device_complete(client, -1, EFAULT);
		}
		break;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
		value = usbsim_device_read_u32(client, &ok);
		if (!ok || value >= 64 ||
		    usbsim_description_find_interface(self->desc, value) == NULL) {
			usbsim_device_complete(client,
					       -1,
					       request == USBDEVFS_CLAIMINTERFACE ? ENOENT
										  : EINVAL);
		} else if (request == USBDEVFS_CLAIMINTERFACE) {
			state->claimed |= 1ull << value;
			usbsim_device_complete(client, 0, 0);
		} else if ((state->claimed & (1ull << value)) == 0) {
			usbsim_device_complete(client, -1, EINVAL);
		} else {
			state->claimed &= ~(1ull << value);
			usbsim_device_complete(client, 0, 0);
		}
		break;
	case USBDEVFS_DISCONNECT_CLAIM:
		value = usbsim_device_read_u32(client, &ok);
		if (!ok || value >= 64 ||
		    usbsim_description_find_interface(self->desc, value) == NULL) {
			usbsim_device_complete(client, -1, EINVAL);
		} else {
			state->claimed |= 1ull << value;
			usbsim_device_complete(client, 0, 0);
		}
		break;
	case USBDEVFS_SETINTERFACE:
		if (usbsim_device_resolve(client,
					  sizeof(struct usbdevfs_setinterface),
					  &data,
					  NULL)) {
			struct usbdevfs_setinterface *setif = (gpointer)data->data;
			UsbsimInterface *iface =
			    usbsim_description_find_interface(self->desc, setif->interface);
			if (iface == NULL ||
			    usbsim_interface_find_alt(iface, setif->altsetting) == NULL) {
				usbsim_device_complete(client, -1, EINVAL);
				break;
			}
			state->claimed |= 1ull << (setif->interface % 64);
			usbsim_device_kernel_request_locked(self,
							    0x01,
							    0x0b,
							    setif->altsetting,
							    setif->interface);
			usbsim_device_complete(client, 0, 0);
		} else {
			usbsim_device_complete(client, -1, EFAULT);
		}
		break;
	case USBDEVFS_SETCONFIGURATION:
		value = usbsim_device_read_u32(client, &ok);
		if (!ok || ((gint32)value > 0 && value != self->desc->configuration_value)) {
			usbsim_device_complete(client, -1, EINVAL);
			break;
		}
		usbsim_device_kernel_request_locked(self, 0x00, 0x09, MAX((gint32)value, 0), 0);
		usbsim_device_complete(client, 0, 0);
		break;
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
		value = usbsim_device_read_u32(client, &ok);
		if (!ok || !usbsim_device_has_endpoint(self, value & 0xff)) {
			usbsim_device_complete(client, -1, ENOENT);
			break;
		}
		if (request == USBDEVFS_CLEAR_HALT)
			usbsim_device_kernel_request_locked(self, 0x02, 0x01, 0, value & 0xff);
		usbsim_device_complete(client, 0, 0);
		break;
	case USBDEVFS_CONNECTINFO:
		if (usbsim_device_resolve(client,
					  sizeof(struct usbdevfs_connectinfo),
					  &data,
					  NULL)) {
			struct usbdevfs_connectinfo *info = (gpointer)data->data;
			info->devnum = self->devnum;
			info->slow = 0;
			usbsim_device_complete(client, 0, 0);
		} else {
			usbsim_device_complete(client, -1, EFAULT);
		}
		break;
	case USBDEVFS_GET_SPEED:
		usbsim_device_complete(client, USBSIM_USB_SPEED_FULL, 0);
		break;
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		/* no kernel driver is bound to any interface */
		usbsim_device_complete(client, -1, ENODATA);
		break;
	case USBDEVFS_RESET:
		self->stats.usb_resets++;
		usbsim_device_trace_event(self, "usb-reset");
		if (self->ops->usb_reset(self->model, g_get_monotonic_time())) {
			/* new descriptors: the kernel loses the device and it enumerates again */
			usbsim_device_go_offline_locked(self, FALSE);
			usbsim_device_complete(client, -1, ENODEV);
		} else {
			memset(self->current_alt, 0, sizeof(self->current_alt));
			usbsim_device_check_self_reenumeration_locked(self);
			usbsim_device_complete(client, 0, 0);
		}
		break;
	default:
		g_debug("unsupported ioctl 0x%lx on %s", request, devnode);
		usbsim_device_complete(client, -1, ENOTTY);
		break;
	}
	g_mutex_unlock(&self->mutex);
	return TRUE;
}

static void
usbsim_device_finalize(GObject *object)
{
	UsbsimDevice *self = USBSIM_DEVICE(object);
	g_clear_pointer(&self->desc, usbsim_description_free);
	g_free(self->devnode_online);
	g_free(self->devnode_sysfs);
	g_ptr_array_unref(self->sysfs_paths);
	g_hash_table_unref(self->request_counts);
	g_hash_table_unref(self->host_idle_by_us);
	if (self->trace != NULL)
		fclose(self->trace);
	g_clear_object(&self->testbed);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(usbsim_device_parent_class)->finalize(object);
}

static void
usbsim_device_init(UsbsimDevice *self)
{
	g_mutex_init(&self->mutex);
	self->sysfs_paths = g_ptr_array_new_with_free_func(g_free);
	self->request_counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->host_idle_by_us = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->start_us = g_get_monotonic_time();
	self->devnum = 1; /* the root hub has address 1 */
}

static void
usbsim_device_class_init(UsbsimDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	UMockdevIoctlBaseClass *base_class = UMOCKDEV_IOCTL_BASE_CLASS(klass);
	object_class->finalize = usbsim_device_finalize;
	base_class->handle_ioctl = usbsim_device_handle_ioctl;
}

UsbsimDevice *
usbsim_device_new(UMockdevTestbed *testbed,
		  const UsbsimModelOps *ops,
		  gpointer model,
		  gdouble time_scale)
{
	UsbsimDevice *self = g_object_new(USBSIM_TYPE_DEVICE, NULL);
	self->testbed = g_object_ref(testbed);
	self->ops = ops;
	self->model = model;
	self->time_scale = time_scale;
	return self;
}
