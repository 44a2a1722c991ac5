/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-cobs-common.h"
#include "fu-proto-error.h"
#include "fu-sdk-common.h"

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
		return fu_sdk_parse_quirk_u32(value, 1, G_MAXUINT32, &config->sector_size, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_SECTOR_ERASE_TIME) == 0)
		return fu_sdk_parse_quirk_u32(value, 0, 600000, &config->sector_erase_ms, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_WORD_SIZE) == 0)
		return fu_sdk_parse_quirk_u32(value, 1, 4096, &config->word_size, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_WORD_PROGRAM_TIME) == 0)
		return fu_sdk_parse_quirk_u32(value, 0, 1000000, &config->word_program_us, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_REPLY_TIMEOUT) == 0)
		return fu_sdk_parse_quirk_u32(value, 1, 600000, &config->reply_slack_ms, error);
	if (g_strcmp0(key, FU_COBS_QUIRK_QUEUE_DEPTH) == 0) {
		if (!fu_sdk_parse_quirk_u32(value, 0, COBS_PROTO_QUEUE_DEPTH_MAX, &tmp, error))
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

/* feeds the session what the transfer of a send or receive action brought: the bytes read,
 * or the result its error (NULL when it succeeded) stands for; FALSE when it failed */
static gboolean
fu_cobs_session_feed_transfer(CobsProtoSession *session,
			      const CobsProtoAction *action,
			      const GError *error_transfer,
			      const guint8 *buf,
			      gsize bufsz)
{
	if (error_transfer != NULL) {
		g_debug("%s %s failed: %s",
			action->kind == COBS_PROTO_ACTION_SEND ? "sending"
							       : "waiting for the reply to",
			cobs_proto_step_to_string(action->step),
			error_transfer->message);
		cobs_proto_session_feed(session,
					fu_proto_error_to_io(error_transfer),
					NULL,
					0,
					fu_cobs_now_ms());
		return FALSE;
	}
	cobs_proto_session_feed(session, PROTO_IO_OK, buf, bufsz, fu_cobs_now_ms());
	return TRUE;
}

/**
 * fu_cobs_session_progress_add_steps:
 * @progress: a #FuProgress
 *
 * Adds the steps a session moves @progress through: erase, write, and verify and bye.
 **/
void
fu_cobs_session_progress_add_steps(FuProgress *progress)
{
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_ERASE, 40, "erase");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_WRITE, 58, "write");
	fu_progress_add_step(progress, FWUPD_STATUS_DEVICE_VERIFY, 2, "verify");
}

/*
 * Progress: the steps of fu_cobs_session_progress_add_steps(); the write step shows the bytes
 * the device has acknowledged.
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
 * @progress: (nullable): with the steps of fu_cobs_session_progress_add_steps()
 * @error: (nullable): optional return location for an error
 *
 * Executes the session's actions until it is done, sending and reading on this thread. Each
 * transfer gets the timeout the session gives for it and no sleep is added anywhere. Chunks
 * go one a transfer: a device that cannot send its reply until the host reads it would not
 * take the next chunk of a longer transfer while this thread is still sending it.
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

	session->config.batch_max = 1;
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
			return fu_proto_error_set(error,
						  FU_PROTO_CORE_COBS,
						  action.error,
						  action.message);
		case COBS_PROTO_ACTION_SEND:
			transport->send(user_data,
					action.bytes,
					action.length,
					action.timeout_ms,
					&error_local);
			if (!fu_cobs_session_feed_transfer(session, &action, error_local, NULL, 0))
				continue;
			break;
		case COBS_PROTO_ACTION_RECEIVE:
			transport->receive(user_data,
					   buf,
					   sizeof(buf),
					   &actual_length,
					   action.timeout_ms,
					   &error_local);
			if (!fu_cobs_session_feed_transfer(session,
							   &action,
							   error_local,
							   buf,
							   MIN(actual_length, sizeof(buf))))
				continue;
			break;
		default:
			return fu_proto_error_set_unknown_action(error, action.kind);
		}
		fu_cobs_session_progress(session, progress, &shown);
	}
}

/*
 * Overlapped run: the caller's thread sends, reader threads receive. fwupd 2.0.20's bulk
 * transfers are synchronous, and the device holds a queued chunk off the bus until it has a
 * free buffer; with the reply read on the same thread, the IN transfer of ACK N could only
 * start once chunk N+1 was taken. The readers keep a read going for every reply the session
 * says the device owes, so ACK N comes in while chunk N+1 goes out. One reader is not enough
 * once chunks go several to a transfer: an ACK comes every frame, and a synchronous read
 * takes a frame on the bus plus the time to submit the next, so several are pending at once
 * (each ACK is a short packet that ends the read it lands in, and a device that packs the
 * replies waiting puts several in one). Results are taken in the order the reads queued them,
 * which is nearly the order of the byte stream: a read starts only once the one
 * FU_COBS_READERS before it has queued its result, so no more than that many are going at
 * once, and a thread may be descheduled between its transfer ending and its result being
 * queued. A read's bytes can then be passed by those of the FU_COBS_READERS - 1 reads after
 * it, or of as many before it that started late. ACKs are all alike, so only the chunk named
 * in an error about a reply can be off, by at most FU_COBS_REPLY_MARGIN, and the error says
 * so.
 */
#define FU_COBS_READERS 4
/* the plain ACK, 06 00: the most reads a device that splits its replies needs for one */
#define FU_COBS_ACK_LENGTH 2
G_STATIC_ASSERT(FU_COBS_REPLY_MARGIN == 2 * (FU_COBS_READERS - 1));

/* what the reader is asked to do: a read, or to stop */
typedef struct {
	guint64 ticket;
	guint timeout_ms;
	gboolean stop;
} FuCobsReadRequest;

/* what a read brought: bytes, or the transfer's error */
typedef struct {
	guint64 ticket;
	guint8 buf[COBS_PROTO_MESSAGE_MAX];
	gsize actual_length;
	GError *error;
} FuCobsReadResult;

typedef struct {
	const FuCobsTransport *transport;
	gpointer user_data;
	GAsyncQueue *requests; /* of FuCobsReadRequest */
	GAsyncQueue *results;  /* of FuCobsReadResult, in the order the reads ended */
	guint64 tickets_issued;
	guint64 tickets_taken;
	/* reads ended, as the first not ended and a bit per read after it */
	GMutex ended_lock;
	GCond ended_cond;
	guint64 ended_below;
	guint64 ended_bits; /* bit i: read ended_below + i has ended */
	/* reads going at once: FU_COBS_READERS, or 1 once the device split a reply */
	guint64 concurrency;
	gint stopping; /* the session is over: reads not started are not made */
} FuCobsReader;

static void
fu_cobs_read_result_free(FuCobsReadResult *result)
{
	if (result->error != NULL)
		g_error_free(result->error);
	g_free(result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FuCobsReadResult, fu_cobs_read_result_free)

/* a read starts once the one FU_COBS_READERS (or the concurrency) before it has ended */
static void
fu_cobs_reader_wait_turn(FuCobsReader *reader, guint64 ticket)
{
	g_mutex_lock(&reader->ended_lock);
	while (ticket >= reader->ended_below + reader->concurrency)
		g_cond_wait(&reader->ended_cond, &reader->ended_lock);
	g_mutex_unlock(&reader->ended_lock);
}

/*
 * The device split a reply across reads. Reads going at once may be passed by each other,
 * which whole frames all alike survive but the bytes of one frame do not: from now on each
 * read starts once the one before it has ended, so their bytes stay in order. A device that
 * splits its replies shows it in its reply to erase, which is read alone.
 */
static void
fu_cobs_reader_serialize(FuCobsReader *reader)
{
	g_mutex_lock(&reader->ended_lock);
	if (reader->concurrency > 1)
		g_info("the device splits its replies across IN transfers: reading them one at a "
		       "time");
	reader->concurrency = 1;
	g_cond_broadcast(&reader->ended_cond);
	g_mutex_unlock(&reader->ended_lock);
}

static void
fu_cobs_reader_ended(FuCobsReader *reader, guint64 ticket)
{
	g_mutex_lock(&reader->ended_lock);
	/* the reads going are within FU_COBS_READERS of the first not ended */
	FU_BIT_SET(reader->ended_bits, ticket - reader->ended_below);
	while (reader->ended_bits & 1) {
		reader->ended_bits >>= 1;
		reader->ended_below++;
	}
	g_cond_broadcast(&reader->ended_cond);
	g_mutex_unlock(&reader->ended_lock);
}

static gpointer
fu_cobs_reader_thread_cb(gpointer data)
{
	FuCobsReader *reader = data;

	while (TRUE) {
		g_autofree FuCobsReadRequest *request = g_async_queue_pop(reader->requests);
		FuCobsReadResult *result;

		if (request->stop)
			return NULL;
		fu_cobs_reader_wait_turn(reader, request->ticket);
		if (g_atomic_int_get(&reader->stopping)) {
			fu_cobs_reader_ended(reader, request->ticket);
			continue;
		}
		result = g_new0(FuCobsReadResult, 1);
		result->ticket = request->ticket;
		if (!reader->transport->receive(reader->user_data,
						result->buf,
						sizeof(result->buf),
						&result->actual_length,
						request->timeout_ms,
						&result->error))
			result->actual_length = 0;
		/* ended only once queued: a later read must not start, take bytes and queue them
		 * while this one waits to be queued */
		g_async_queue_push(reader->results, result);
		fu_cobs_reader_ended(reader, request->ticket);
	}
}

static void
fu_cobs_reader_request(FuCobsReader *reader, guint timeout_ms)
{
	FuCobsReadRequest *request = g_new0(FuCobsReadRequest, 1);
	request->ticket = reader->tickets_issued++;
	request->timeout_ms = timeout_ms;
	g_async_queue_push(reader->requests, request);
}

/*
 * How long a read asked for before a send may wait. It starts once the read FU_COBS_READERS
 * before it has ended, so its reply is at most that many messages (and those the device
 * holds) behind; a read asked for when nothing was owed may also start before the send
 * has even taken its message.
 */
static guint
fu_cobs_read_timeout_ms(const CobsProtoSession *session, const CobsProtoAction *action)
{
	guint64 ms = session->config.reply_slack_ms +
		     (guint64)(FU_COBS_READERS + session->config.queue_depth + 1) *
			 action->reply_work_max_ms;
	ms = MIN(ms, action->reply_timeout_ms);
	if (cobs_proto_session_get_replies_owed(session) == 0)
		ms += action->timeout_ms;
	return (guint)MIN(ms, G_MAXUINT);
}

/* reads handed out and not taken yet */
static guint64
fu_cobs_reader_pending(const FuCobsReader *reader)
{
	return reader->tickets_issued - reader->tickets_taken;
}

/*
 * The result of the read that ended first among those not taken yet, or NULL when none is in
 * within timeout_ms. Replies are a byte stream and reads of one endpoint end in the order the
 * bus served them: taken in that order, the bytes stay in order. A device that packs replies
 * fills a later read while an earlier one still waits for the next packet, so waiting for
 * the results in the order the reads were asked for would stall on a read the device owes
 * nothing.
 */
static FuCobsReadResult *
fu_cobs_reader_take(FuCobsReader *reader, guint timeout_ms)
{
	FuCobsReadResult *result =
	    g_async_queue_timeout_pop(reader->results, (guint64)timeout_ms * 1000);
	if (result != NULL)
		reader->tickets_taken++;
	return result;
}

/* feeds the session what the reads still going brought after bye's reply, and fails if the
 * session then finds an error in them */
static gboolean
fu_cobs_reader_check_after_bye(FuCobsReader *reader, CobsProtoSession *session, GError **error)
{
	FuCobsReadResult *result;
	CobsProtoAction action = {0};

	while ((result = g_async_queue_try_pop(reader->results)) != NULL) {
		if (result->error == NULL) {
			cobs_proto_session_feed_after_bye(
			    session,
			    result->buf,
			    MIN(result->actual_length, sizeof(result->buf)));
		}
		fu_cobs_read_result_free(result);
	}
	cobs_proto_session_next(session, fu_cobs_now_ms(), &action);
	if (action.kind == COBS_PROTO_ACTION_ERROR)
		return fu_proto_error_set(error, FU_PROTO_CORE_COBS, action.error, action.message);
	return TRUE;
}

/**
 * fu_cobs_session_run_overlapped:
 * @session: a started session
 * @transport: how to reach the device; its receive is called from another thread, at the
 *   same time as send
 * @user_data: for @transport
 * @progress: (nullable): with the steps of fu_cobs_session_progress_add_steps()
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
	    .concurrency = FU_COBS_READERS,
	};
	GThread *threads[FU_COBS_READERS] = {NULL};
	gboolean ok = FALSE;
	gboolean reply_read_alongside = FALSE; /* the last reply taken had other reads going */
	/* reads were going at once when the device was found to split its replies: the bytes
	 * taken before may have been passed, and the margin still holds */
	gboolean split_while_overlapped = FALSE;

	g_mutex_init(&reader.ended_lock);
	g_cond_init(&reader.ended_cond);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("fu-cobs-reader", fu_cobs_reader_thread_cb, &reader);
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
			if (reply_read_alongside &&
			    cobs_proto_session_get_error_about_reply(session)) {
				g_autofree gchar *message = g_strdup_printf(
				    "%s (replies carry no sequence number and up to %u are "
				    "read at once: the chunk named may be up to %u off)",
				    action.message,
				    (guint)FU_COBS_READERS,
				    (guint)FU_COBS_REPLY_MARGIN);
				fu_proto_error_set(error,
						   FU_PROTO_CORE_COBS,
						   action.error,
						   message);
				break;
			}
			fu_proto_error_set(error, FU_PROTO_CORE_COBS, action.error, action.message);
			break;
		}
		if (action.kind == COBS_PROTO_ACTION_SEND) {
			guint read_timeout_ms;
			reply_read_alongside = FALSE;
			/* the reads for what this sends go out first: the device answers the first
			 * chunks of a transfer while the rest are still going out; a device that
			 * splits its replies needs a read for each byte of an ACK, or it would
			 * wait with the rest of them, and hold the transfer off, until this
			 * thread is done sending */
			read_timeout_ms = fu_cobs_read_timeout_ms(session, &action);
			while (fu_cobs_reader_pending(&reader) <
			       (cobs_proto_session_get_replies_owed(session) + action.count) *
				   (reader.concurrency > 1 ? 1 : FU_COBS_ACK_LENGTH)) {
				fu_cobs_reader_request(&reader, read_timeout_ms);
			}
			transport->send(user_data,
					action.bytes,
					action.length,
					action.timeout_ms,
					&error_local);
			fu_cobs_session_feed_transfer(session, &action, error_local, NULL, 0);
		} else if (action.kind == COBS_PROTO_ACTION_RECEIVE) {
			g_autoptr(FuCobsReadResult) result = NULL;
			guint64 deadline_ms = fu_cobs_now_ms() + action.timeout_ms;

			/* a reply split across reads needs another */
			if (fu_cobs_reader_pending(&reader) == 0)
				fu_cobs_reader_request(&reader, action.timeout_ms);
			reply_read_alongside = fu_cobs_reader_pending(&reader) > 1 &&
					       (reader.concurrency > 1 || split_while_overlapped);
			result = fu_cobs_reader_take(&reader, action.timeout_ms);
			/* a device that packs replies sends several in one read, so a read asked
			 * for one of them can end empty while the session still waits: only the
			 * session's own deadline means the reply is missing */
			if (result != NULL && result->error != NULL &&
			    g_error_matches(result->error, FWUPD_ERROR, FWUPD_ERROR_TIMED_OUT) &&
			    fu_cobs_now_ms() < deadline_ms)
				continue;
			if (result == NULL) {
				cobs_proto_session_feed(session,
							PROTO_IO_TIMEOUT,
							NULL,
							0,
							fu_cobs_now_ms());
				continue;
			}
			if (!fu_cobs_session_feed_transfer(
				session,
				&action,
				result->error,
				result->buf,
				MIN(result->actual_length, sizeof(result->buf))))
				continue;
			if (cobs_proto_session_get_reply_partial(session) &&
			    reader.concurrency > 1) {
				split_while_overlapped = fu_cobs_reader_pending(&reader) > 0;
				fu_cobs_reader_serialize(&reader);
			}
		} else {
			fu_proto_error_set_unknown_action(error, action.kind);
			break;
		}
		fu_cobs_session_progress(session, progress, &shown);
	}

	/* ahead of reads not started yet; those going end within their own timeout, or at once
	 * on a gone device */
	g_atomic_int_set(&reader.stopping, TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		FuCobsReadRequest *stop = g_new0(FuCobsReadRequest, 1);
		stop->stop = TRUE;
		g_async_queue_push_front(reader.requests, stop);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	/* what the reads still going brought after bye's reply: a reply there answers no
	 * message, so bye's reply may have been a chunk's */
	if (ok && !fu_cobs_reader_check_after_bye(&reader, session, error))
		ok = FALSE;
	g_async_queue_unref(reader.requests);
	g_async_queue_unref(reader.results);
	g_mutex_clear(&reader.ended_lock);
	g_cond_clear(&reader.ended_cond);
	return ok;
}
