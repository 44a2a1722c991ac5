/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "cobs-proto.h"

/* quirk keys, documented in README.md */
/* how far off the chunk named in an error about a reply can be when replies are read
 * several at once (see fu_cobs_session_run_overlapped()) */
#define FU_COBS_REPLY_MARGIN 6

#define FU_COBS_QUIRK_INTERFACE		"CobsInterface"
#define FU_COBS_QUIRK_ENDPOINT_OUT	"CobsEndpointOut"
#define FU_COBS_QUIRK_ENDPOINT_IN	"CobsEndpointIn"
#define FU_COBS_QUIRK_SECTOR_SIZE	"CobsSectorSize"
#define FU_COBS_QUIRK_SECTOR_ERASE_TIME "CobsSectorEraseTime"
#define FU_COBS_QUIRK_WORD_SIZE		"CobsWordSize"
#define FU_COBS_QUIRK_WORD_PROGRAM_TIME "CobsWordProgramTime"
#define FU_COBS_QUIRK_REPLY_TIMEOUT	"CobsReplyTimeout"
#define FU_COBS_QUIRK_QUEUE_DEPTH	"CobsQueueDepth"
#define FU_COBS_QUIRK_RESET_TIMEOUT	"CobsResetTimeout"
#define FU_COBS_QUIRK_RETURN_TIMEOUT	"CobsReturnTimeout"

/* private flags, settable from quirks */
#define FU_COBS_FLAG_NO_VERIFY "no-verify"

/* plugins/cobs/README.md: the host claims the CDC data interface, bulk OUT 1 and IN 1 */
#define FU_COBS_DEFAULT_INTERFACE    0x01
#define FU_COBS_DEFAULT_ENDPOINT_OUT 0x01
#define FU_COBS_DEFAULT_ENDPOINT_IN  0x81

#define FU_COBS_PROTOCOL_ID "com.github.cobs-bootloader"

/* how the session reaches the device: bulk transfers on a real one, a fake in the tests */
typedef struct {
	gboolean (*send)(gpointer user_data,
			 const guint8 *buf,
			 gsize bufsz,
			 guint timeout_ms,
			 GError **error);
	gboolean (*receive)(gpointer user_data,
			    guint8 *buf,
			    gsize bufsz,
			    gsize *actual_length,
			    guint timeout_ms,
			    GError **error);
} FuCobsTransport;

gboolean
fu_cobs_check_image_size(gsize size, guint64 size_max, GError **error);
gboolean
fu_cobs_config_set_quirk(CobsProtoConfig *config,
			 const gchar *key,
			 const gchar *value,
			 gboolean *handled,
			 GError **error);
void
fu_cobs_session_progress_add_steps(FuProgress *progress);
gboolean
fu_cobs_session_run(CobsProtoSession *session,
		    const FuCobsTransport *transport,
		    gpointer user_data,
		    FuProgress *progress,
		    GError **error);
gboolean
fu_cobs_session_run_overlapped(CobsProtoSession *session,
			       const FuCobsTransport *transport,
			       gpointer user_data,
			       FuProgress *progress,
			       GError **error);
