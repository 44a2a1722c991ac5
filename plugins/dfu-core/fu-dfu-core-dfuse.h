/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fu-dfu-core-common.h"

/* one alt setting of a DfuSe device: a memory with its layout */
typedef struct {
	guint8 alt_setting;
	DfuProtoLayout layout;
} FuDfuCoreDfuseTarget;

/* what is written to one alt setting: its elements, their data back to back in @stream */
typedef struct {
	const FuDfuCoreDfuseTarget *target;
	GArray *elements;  /* of DfuProtoElement */
	GPtrArray *chunks; /* of FuChunk, the data of each element */
	GInputStream *stream;
} FuDfuCoreDfuseJob;

void
fu_dfu_core_dfuse_job_free(FuDfuCoreDfuseJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FuDfuCoreDfuseJob, fu_dfu_core_dfuse_job_free)

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
