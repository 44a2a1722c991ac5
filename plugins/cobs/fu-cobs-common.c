/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "fu-cobs-common.h"

/*
 * What the device and the tests share: the image check, the quirk figures of the timing
 * configuration, and executing the actions of a cobs-proto session over a transport.
 */

/* the protocol carries no address or length: an image larger than the flash would overwrite
 * whatever the device keeps after it, or fail halfway; refuse it before the erase */
gboolean
fu_cobs_check_image_size(gsize size, guint64 size_max, GError **error)
{
	if (size == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "firmware image is empty");
		return FALSE;
	}
	if (size_max == 0) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_NOT_SUPPORTED,
				    "the flash size is unknown: set FirmwareSizeMax in a quirk");
		return FALSE;
	}
	if (size > size_max) {
		g_set_error(error,
			    FWUPD_ERROR,
			    FWUPD_ERROR_INVALID_FILE,
			    "firmware image is %" G_GSIZE_FORMAT " bytes but the device's flash "
			    "holds %" G_GUINT64_FORMAT ": this firmware is not for this device",
			    size,
			    size_max);
		return FALSE;
	}
	if (size > G_MAXUINT32) {
		g_set_error_literal(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INVALID_FILE,
				    "firmware image is larger than 4 GiB");
		return FALSE;
	}
	return TRUE;
}

static gboolean
fu_cobs_parse_u32(const gchar *value, guint64 min, guint64 max, guint32 *out, GError **error)
{
	guint64 tmp = 0;
	if (!fu_strtoull(value, &tmp, min, max, FU_INTEGER_BASE_AUTO, error))
		return FALSE;
	*out = (guint32)tmp;
	return TRUE;
}

/* handled is FALSE for keys that are not timing figures */
gboolean
fu_cobs_config_set_quirk(CobsProtoConfig *config,
			 const gchar *key,
			 const gchar *value,
			 gboolean *handled,
			 GError **error)
{
	guint32 tmp = 0;

	*handled = TRUE;
	if (g_strcmp0(key, FU_COBS_QUIRK_SECTOR_SIZE) == 0)
		return fu_cobs_parse_u32(value, 1, G_MAXUINT32, &config->sector_size, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_SECTOR_ERASE_TIME) == 0)
		return fu_cobs_parse_u32(value, 0, 600000, &config->sector_erase_ms, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_WORD_SIZE) == 0)
		return fu_cobs_parse_u32(value, 1, 4096, &config->word_size, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_WORD_PROGRAM_TIME) == 0)
		return fu_cobs_parse_u32(value, 0, 1000000, &config->word_program_us, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_REPLY_TIMEOUT) == 0)
		return fu_cobs_parse_u32(value, 1, 600000, &config->reply_slack_ms, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_QUEUE_DEPTH) == 0) {
		if (!fu_cobs_parse_u32(value, 0, COBS_PROTO_QUEUE_DEPTH_MAX, &tmp, error))
			return FALSE;
		config->queue_depth = (guint8)tmp;
		return TRUE;
	}
	*handled = FALSE;
	return TRUE;
}

static guint64
fu_cobs_now_ms(void)
{
	return (guint64)(g_get_monotonic_time() / 1000);
}

/* fwupd maps libusb's timeout to TIMED_OUT and a vanished device to NOT_FOUND */
static CobsProtoResult
fu_cobs_error_to_result(const GError *error)
{
	if (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT))
		return COBS_PROTO_RESULT_TIMEOUT;
	if (g_error_matches(error, FWUPD_ERROR, FWUPD_ERROR_NOT_FOUND))
		return COBS_PROTO_RESULT_NO_DEVICE;
	return COBS_PROTO_RESULT_IO_ERROR;
}

static FwupdError
fu_cobs_proto_error_to_fwupd(CobsProtoError error)
{
	switch (error) {
	case COBS_PROTO_ERROR_TIMEOUT:
		return FWUPD_ERROR_TIMED_OUT;
	case COBS_PROTO_ERROR_NO_DEVICE:
		return FWUPD_ERROR_NOT_FOUND;
	case COBS_PROTO_ERROR_INVALID_ARGUMENT:
		return FWUPD_ERROR_INVALID_DATA;
	case COBS_PROTO_ERROR_VERIFY:
	case COBS_PROTO_ERROR_GARBAGE:
	case COBS_PROTO_ERROR_NOT_ACK:
	case COBS_PROTO_ERROR_IO:
		return FWUPD_ERROR_WRITE;
	default:
		return FWUPD_ERROR_INTERNAL;
	}
}

/*
 * Progress: three steps the caller added to progress (erase, write, verify and bye); the
 * write step shows the bytes the device has acknowledged.
 */
static void
fu_cobs_session_progress(CobsProtoSession *session, FuProgress *progress, CobsProtoStep *shown)
{
	CobsProtoStep step = COBS_PROTO_STEP_ERASE;
	guint32 done = 0;
	guint32 total = 0;

	if (progress == NULL)
		return;
	cobs_proto_session_get_progress(session, &step, &done, &total);
	/* verify and bye share the last step */
	if (step == COBS_PROTO_STEP_BYE)
		step = COBS_PROTO_STEP_VERIFY;
	while (*shown < step && *shown < COBS_PROTO_STEP_VERIFY) {
		fu_progress_step_done(progress);
		*shown = *shown + 1;
	}
	if (*shown == COBS_PROTO_STEP_WRITE && total > 0)
		fu_progress_set_percentage_full(fu_progress_get_child(progress), done, total);
}

/**
 * fu_cobs_session_run:
 * @session: a started session
 * @transport: how to reach the device
 * @user_data: for @transport
 * @progress: (nullable): with three steps: erase, write, verify and bye
 * @error: (nullable): optional return location for an error
 *
 * Executes the session's actions until it is done. Each transfer gets the timeout the
 * session gives for it and no sleep is added anywhere.
 *
 * Returns: %TRUE when the device acknowledged everything (and verified it, if it can)
 **/
gboolean
fu_cobs_session_run(CobsProtoSession *session,
		    const FuCobsTransport *transport,
		    gpointer user_data,
		    FuProgress *progress,
		    GError **error)
{
	CobsProtoStep shown = COBS_PROTO_STEP_ERASE;

	while (TRUE) {
		CobsProtoAction action = {0};
		guint8 buf[COBS_PROTO_MESSAGE_MAX] = {0};
		gsize actual_length = 0;
		g_autoptr(GError) error_local = NULL;

		cobs_proto_session_next(session, fu_cobs_now_ms(), &action);
		switch (action.kind) {
		case COBS_PROTO_ACTION_DONE:
			fu_cobs_session_progress(session, progress, &shown);
			if (progress != NULL)
				fu_progress_step_done(progress);
			return TRUE;
		case COBS_PROTO_ACTION_ERROR:
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    fu_cobs_proto_error_to_fwupd(action.error),
					    action.message);
			return FALSE;
		case COBS_PROTO_ACTION_SEND:
			if (!transport->send(user_data,
					     action.bytes,
					     action.length,
					     action.timeout_ms,
					     &error_local)) {
				g_debug("sending %s failed: %s",
					cobs_proto_step_to_string(action.step),
					error_local->message);
				cobs_proto_session_feed(session,
							fu_cobs_error_to_result(error_local),
							NULL,
							0,
							fu_cobs_now_ms());
				continue;
			}
			cobs_proto_session_feed(session,
						COBS_PROTO_RESULT_OK,
						NULL,
						0,
						fu_cobs_now_ms());
			break;
		case COBS_PROTO_ACTION_RECEIVE:
			if (!transport->receive(user_data,
						buf,
						sizeof(buf),
						&actual_length,
						action.timeout_ms,
						&error_local)) {
				g_debug("waiting for the reply to %s failed: %s",
					cobs_proto_step_to_string(action.step),
					error_local->message);
				cobs_proto_session_feed(session,
							fu_cobs_error_to_result(error_local),
							NULL,
							0,
							fu_cobs_now_ms());
				continue;
			}
			cobs_proto_session_feed(session,
						COBS_PROTO_RESULT_OK,
						buf,
						MIN(actual_length, sizeof(buf)),
						fu_cobs_now_ms());
			break;
		default:
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INTERNAL,
				    "unknown action %u",
				    (guint)action.kind);
			return FALSE;
		}
		fu_cobs_session_progress(session, progress, &shown);
	}
}

/*
 * Overlapped run: the caller's thread sends, a reader thread receives. fwupd 2.0.20's bulk
 * transfers are synchronous, and the device holds a queued chunk off the bus until it has a
 * free buffer; with the reply read on the same thread, the IN transfer of ACK N could only
 * start once chunk N+1 was taken. The reader keeps one read going for every reply the session
 * says the device owes, so ACK N comes in while chunk N+1 goes out.
 */

/* what the reader is asked to do: a read, or (timeout_ms G_MAXUINT) to stop */
typedef struct {
	guint timeout_ms;
} FuCobsReadRequest;

/* what a read brought: bytes, or the transfer's error */
typedef struct {
	guint8 buf[COBS_PROTO_MESSAGE_MAX];
	gsize actual_length;
	GError *error;
} FuCobsReadResult;

typedef struct {
	const FuCobsTransport *transport;
	gpointer user_data;
	GAsyncQueue *requests; /* of FuCobsReadRequest */
	GAsyncQueue *results;  /* of FuCobsReadResult */
} FuCobsReader;

#define FU_COBS_READ_STOP G_MAXUINT

static void
fu_cobs_read_result_free(FuCobsReadResult *result)
{
	if (result->error != NULL)
		g_error_free(result->error);
	g_free(result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FuCobsReadResult, fu_cobs_read_result_free)

static gpointer
fu_cobs_reader_thread_cb(gpointer data)
{
	FuCobsReader *reader = data;

	while (TRUE) {
		g_autofree FuCobsReadRequest *request = g_async_queue_pop(reader->requests);
		FuCobsReadResult *result;

		if (request->timeout_ms == FU_COBS_READ_STOP)
			return NULL;
		result = g_new0(FuCobsReadResult, 1);
		if (!reader->transport->receive(reader->user_data,
						result->buf,
						sizeof(result->buf),
						&result->actual_length,
						request->timeout_ms,
						&result->error))
			result->actual_length = 0;
		g_async_queue_push(reader->results, result);
	}
}

static void
fu_cobs_reader_request(FuCobsReader *reader, guint timeout_ms)
{
	FuCobsReadRequest *request = g_new0(FuCobsReadRequest, 1);
	request->timeout_ms = timeout_ms;
	g_async_queue_push(reader->requests, request);
}

/**
 * fu_cobs_session_run_overlapped:
 * @session: a started session
 * @transport: how to reach the device; its receive is called from another thread, at the
 *   same time as send
 * @user_data: for @transport
 * @progress: (nullable): with three steps: erase, write, verify and bye
 * @error: (nullable): optional return location for an error
 *
 * Executes the session's actions as fu_cobs_session_run() does, with the replies read on a
 * thread of their own. Each read waits at most what the session says the replies owed may
 * take, so the reader ends within that bound when the session fails, and is joined before
 * this returns.
 *
 * Returns: %TRUE when the device acknowledged everything (and verified it, if it can)
 **/
gboolean
fu_cobs_session_run_overlapped(CobsProtoSession *session,
			       const FuCobsTransport *transport,
			       gpointer user_data,
			       FuProgress *progress,
			       GError **error)
{
	CobsProtoStep shown = COBS_PROTO_STEP_ERASE;
	FuCobsReader reader = {
	    .transport = transport,
	    .user_data = user_data,
	    .requests = g_async_queue_new_full(g_free),
	    .results = g_async_queue_new_full((GDestroyNotify)fu_cobs_read_result_free),
	};
	GThread *thread;
	guint reads_requested = 0; /* requested and not yet taken by a RECEIVE */
	FuCobsReadRequest *stop;
	gboolean ok = FALSE;

	thread = g_thread_new("fu-cobs-reader", fu_cobs_reader_thread_cb, &reader);
	while (TRUE) {
		CobsProtoAction action = {0};
		g_autoptr(GError) error_local = NULL;

		cobs_proto_session_next(session, fu_cobs_now_ms(), &action);
		if (action.kind == COBS_PROTO_ACTION_DONE) {
			fu_cobs_session_progress(session, progress, &shown);
			if (progress != NULL)
				fu_progress_step_done(progress);
			ok = TRUE;
			break;
		}
		if (action.kind == COBS_PROTO_ACTION_ERROR) {
			g_set_error_literal(error,
					    FWUPD_ERROR,
					    fu_cobs_proto_error_to_fwupd(action.error),
					    action.message);
			break;
		}
		if (action.kind == COBS_PROTO_ACTION_SEND) {
			CobsProtoResult result = COBS_PROTO_RESULT_OK;
			if (!transport->send(user_data,
					     action.bytes,
					     action.length,
					     action.timeout_ms,
					     &error_local)) {
				g_debug("sending %s failed: %s",
					cobs_proto_step_to_string(action.step),
					error_local->message);
				result = fu_cobs_error_to_result(error_local);
			}
			cobs_proto_session_feed(session, result, NULL, 0, fu_cobs_now_ms());
			/* a read for every reply owed, so the next one is on its way in */
			while (reads_requested < cobs_proto_session_get_replies_owed(session)) {
				fu_cobs_reader_request(
				    &reader,
				    cobs_proto_session_get_reply_wait_ms(session));
				reads_requested++;
			}
		} else if (action.kind == COBS_PROTO_ACTION_RECEIVE) {
			g_autoptr(FuCobsReadResult) result = NULL;

			/* a reply split across reads needs another */
			if (reads_requested == 0) {
				fu_cobs_reader_request(&reader, action.timeout_ms);
				reads_requested++;
			}
			result = g_async_queue_timeout_pop(reader.results,
							   (guint64)action.timeout_ms * 1000);
			if (result == NULL) {
				cobs_proto_session_feed(session,
							COBS_PROTO_RESULT_TIMEOUT,
							NULL,
							0,
							fu_cobs_now_ms());
				continue;
			}
			reads_requested--;
			if (result->error != NULL) {
				g_debug("waiting for the reply to %s failed: %s",
					cobs_proto_step_to_string(action.step),
					result->error->message);
				cobs_proto_session_feed(session,
							fu_cobs_error_to_result(result->error),
							NULL,
							0,
							fu_cobs_now_ms());
				continue;
			}
			cobs_proto_session_feed(session,
						COBS_PROTO_RESULT_OK,
						result->buf,
						MIN(result->actual_length, sizeof(result->buf)),
						fu_cobs_now_ms());
		} else {
			g_set_error(error,
				    FWUPD_ERROR,
				    FWUPD_ERROR_INTERNAL,
				    "unknown action %u",
				    (guint)action.kind);
			break;
		}
		fu_cobs_session_progress(session, progress, &shown);
	}

	/* ahead of reads not started yet; the one going ends within its own timeout, or at once
	 * on a gone device */
	stop = g_new0(FuCobsReadRequest, 1);
	stop->timeout_ms = FU_COBS_READ_STOP;
	g_async_queue_push_front(reader.requests, stop);
	g_thread_join(thread);
	g_async_queue_unref(reader.requests);
	g_async_queue_unref(reader.results);
	return ok;
}
