/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-dfu-core-base.h"

/* one alt setting of a DfuSe device: a memory with its layout */
typedef struct {
	guint8 alt_setting;
	DfuProtoLayout layout;
} FuDfuCoreDfuseTarget;

/* what is written to one alt setting: its elements, their data back to back in @stream */
typedef struct {
	const FuDfuCoreDfuseTarget *target;
	GArray *elements;      /* of DfuProtoElement, sorted by address */
	GPtrArray *chunks;     /* of FuChunk, the data of each element, in file order */
	guint32 first_address; /* of the file's first element for this memory */
	GByteArray *data;      /* the elements' data back to back while the list is built */
	GInputStream *stream;  /* then that data as one buffer: a read is found in O(1) */
} FuDfuCoreDfuseJob;

GPtrArray *
fu_dfu_core_dfuse_read_targets(FuDfuCoreBase *self, GError **error);
GPtrArray *
fu_dfu_core_dfuse_jobs_new(GPtrArray *targets, FuFirmware *firmware, GError **error);
gboolean
fu_dfu_core_dfuse_write(FuDfuCoreBase *self,
			GPtrArray *jobs,
			gboolean verify,
			FuProgress *progress,
			GError **error);
gboolean
fu_dfu_core_dfuse_leave(FuDfuCoreBase *self, guint32 address, GError **error);
GBytes *
fu_dfu_core_dfuse_dump(FuDfuCoreBase *self,
		       const FuDfuCoreDfuseTarget *target,
		       FuProgress *progress,
		       GError **error);
