/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/* how a transfer the caller made for a core ended: every core is fed one of these */
typedef enum {
	PROTO_IO_OK = 0,
	PROTO_IO_TIMEOUT,   /* nothing came, or nothing was taken, within the bound */
	PROTO_IO_NO_DEVICE, /* the device went away */
	PROTO_IO_ERROR,	    /* the transfer failed otherwise */
	PROTO_IO_STALL,	    /* the device stalled a control request (USB only) */
} ProtoIo;

/* a short name for traces and messages */
const char *
proto_io_to_string(ProtoIo io);
