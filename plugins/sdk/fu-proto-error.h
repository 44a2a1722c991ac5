/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <fwupdplugin.h>

#include "proto-io.h"

/* the protocol core whose error fu_proto_error_set() is given */
typedef enum {
	FU_PROTO_CORE_DFU,  /* DfuProtoError */
	FU_PROTO_CORE_NRF,  /* NrfDfuProtoError */
	FU_PROTO_CORE_COBS, /* CobsProtoError */
} FuProtoCore;

ProtoIo
fu_proto_error_to_io(const GError *error);
gboolean
fu_proto_error_set(GError **error, FuProtoCore core, guint code, const gchar *message);
gboolean
fu_proto_error_set_unknown_action(GError **error, guint kind);
