/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "fu-sdk-common.h"

/* what a test follows: the device's follow, and whether its gone callback ran */
typedef struct {
	FuSdkFollow follow;
	guint gone_calls;
} FuSdkTestFollow;

static void
fu_sdk_test_follow_gone_cb(FuSdkFollow *follow)
{
	FuSdkTestFollow *helper = (FuSdkTestFollow *)follow;
	helper->gone_calls++;
}

static gboolean
fu_sdk_test_follow_timeout_cb(gpointer user_data)
{
	g_assert_not_reached();
	return G_SOURCE_REMOVE;
}

/* runs the main loop until the follow ends the wait, or fails the test after 5 s */
static void
fu_sdk_test_follow_run(FuSdkTestFollow *helper)
{
	guint timeout_id = g_timeout_add_seconds(5, fu_sdk_test_follow_timeout_cb, NULL);
	while (helper->follow.id != 0)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(timeout_id);
}

static FuDevice *
fu_sdk_test_follow_device_new(FuSdkTestFollow *helper)
{
	FuDevice *device = fu_device_new(NULL);

	helper->follow.device = device;
	helper->follow.who = "the device";
	helper->follow.left = "the device left";
	helper->follow.gone_func = fu_sdk_test_follow_gone_cb;
	return device;
}

/* fwupd's wait covers both bounds and the margin; a device that never leaves the bus is read
 * where it is once the leave bound is over */
static void
fu_sdk_follow_stays_func(void)
{
	FuSdkTestFollow helper = {0};
	g_autoptr(FuDevice) device = fu_sdk_test_follow_device_new(&helper);

	fu_sdk_follow_start(&helper.follow, 20, 300, 7);
	g_assert_cmpint(fu_device_get_remove_delay(device), ==, 327);
	g_assert_true(fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG));
	fu_sdk_test_follow_run(&helper);
	g_assert_false(fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG));
	g_assert_false(helper.follow.gone);
	g_assert_cmpint(helper.gone_calls, ==, 0);
}

/* a device that left and of which nothing came back is gone once the back bound is over */
static void
fu_sdk_follow_gone_func(void)
{
	FuSdkTestFollow helper = {0};
	g_autoptr(FuDevice) device = fu_sdk_test_follow_device_new(&helper);

	fu_sdk_follow_start(&helper.follow, 2000, 20, 7);
	g_assert_cmpint(fu_device_get_remove_delay(device), ==, 2027);
	fu_device_add_private_flag(device, FU_DEVICE_PRIVATE_FLAG_UNCONNECTED);
	fu_sdk_test_follow_run(&helper);
	g_assert_false(fu_device_has_flag(device, FWUPD_DEVICE_FLAG_WAIT_FOR_REPLUG));
	g_assert_true(helper.follow.gone);
	g_assert_cmpint(helper.gone_calls, ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sdk/follow/stays", fu_sdk_follow_stays_func);
	g_test_add_func("/sdk/follow/gone", fu_sdk_follow_gone_func);
	return g_test_run();
}
