/*
 * Copyright 2026 The fwupd-dfu-plugins authors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Unit tests of the DfuSe part of the core: the layout parser on strings real devices send
 * and hostile ones, update plans, and sessions against a scripted DfuSe device written here
 * independently of the core (address pointer, erase state of every byte, the
 * command-executes-on-GETSTATUS rule, errTARGET/errVENDOR, misbehaviours of real parts: dfu-util
 * quirks.c, fwupd dfu.quirk).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfu-proto-fake.h"
#include "dfu-proto.h"
#include "proto-test.h"

#define STM32F405_LAYOUT "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"

static DfuProtoError
parse(const char *str, DfuProtoLayout *layout)
{
	char msg[160] = "unset";
	DfuProtoError error = dfu_proto_layout_parse(str, strlen(str), layout, msg, sizeof(msg));
	if (error != DFU_PROTO_ERROR_NONE)
		CHECK(msg[0] != '\0' && strcmp(msg, "unset") != 0);
	return error;
}

/* ---- layout strings ---- */

static void
test_layout_real_devices(void)
{
	DfuProtoLayout l;

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);
	CHECK_STR(l.name, "Internal Flash");
	CHECK(l.region_count == 1 && l.group_count == 3);
	CHECK(l.groups[0].address == 0x08000000 && l.groups[0].count == 4);
	CHECK(l.groups[0].size == 16384 && l.groups[0].access == 7);
	CHECK(l.groups[1].address == 0x08010000 && l.groups[1].size == 65536);
	CHECK(l.groups[2].address == 0x08020000 && l.groups[2].count == 7);
	CHECK(l.groups[2].size == 131072);

	/* a space instead of the multiplier: bytes */
	CHECK(parse("@Option Bytes  /0x1FFFC000/01*016 e", &l) == DFU_PROTO_ERROR_NONE);
	CHECK_STR(l.name, "Option Bytes");
	CHECK(l.group_count == 1 && l.groups[0].size == 16 && l.groups[0].access == 5);
	CHECK(parse("@OTP Memory /0x1FFF7800/01*512 e,01*016 e", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.group_count == 2 && l.groups[0].size == 512 && l.groups[1].size == 16);
	CHECK(l.groups[1].address == 0x1FFF7A00);
	CHECK(parse("@Device Feature/0xFFFF0000/01*004 e", &l) == DFU_PROTO_ERROR_NONE);
	CHECK_STR(l.name, "Device Feature");
	CHECK(l.groups[0].address == 0xFFFF0000 && l.groups[0].size == 4);

	/* GD32VF103 and extra digits */
	CHECK(parse("@Internal Flash  /0x08000000/512*002Kg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.groups[0].count == 512 && l.groups[0].size == 2048);
	CHECK(parse("@Internal Flash  /0x08000000/064*0002Kg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.groups[0].count == 64 && l.groups[0].size == 2048);

	/* two regions (dual bank), trailing slash, lowercase hex, no 0x, M and B */
	CHECK(parse("@Flash/0x08000000/8*128Kg/0x08100000/8*128Kg/", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.region_count == 2 && l.group_count == 2 && l.groups[1].region == 1);
	CHECK(parse("@SRAM/0x2000000a/1*1Mg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.groups[0].address == 0x2000000A && l.groups[0].size == 1048576);
	CHECK(parse("@X/20000000/02*256Ba", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.groups[0].size == 256 && l.groups[0].access == 1);
	CHECK(parse("@X/0X20000000/2*4Kf//", &l) == DFU_PROTO_ERROR_NONE);

	/* regions listed downwards are sorted */
	CHECK(parse("@X/0x08100000/1*1Kg/0x08000000/1*1Kg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.groups[0].address == 0x08000000 && l.groups[0].region == 1);

	/* trailing garbage after a complete group */
	CHECK(parse(STM32F405_LAYOUT "\xff\xfe junk", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.group_count == 3);
	CHECK(parse(STM32F405_LAYOUT "/garbage", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(parse(STM32F405_LAYOUT "  ", &l) == DFU_PROTO_ERROR_NONE);

	/* the length bounds the read: a string cut in the middle of a group is refused */
	CHECK(dfu_proto_layout_parse(STM32F405_LAYOUT, 37, &l, NULL, 0) == DFU_PROTO_ERROR_NONE);
	CHECK(l.group_count == 1);
	CHECK(dfu_proto_layout_parse(STM32F405_LAYOUT, 36, &l, NULL, 0) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(dfu_proto_layout_parse(STM32F405_LAYOUT, 38, &l, NULL, 0) == DFU_PROTO_ERROR_LAYOUT);
	/* a NUL inside the length ends it */
	CHECK(dfu_proto_layout_parse("@X/0x0/1*1Kg\0,1*1Kg", 20, &l, NULL, 0) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(l.group_count == 1);
}

static void
test_layout_hostile(void)
{
	DfuProtoLayout l;
	char big[2048];
	size_t pos;

	CHECK(parse("", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(dfu_proto_layout_parse(NULL, 10, &l, NULL, 0) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("Internal Flash/0x08000000/1*1Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@Internal Flash", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@Internal Flash/", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x/1*1Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/04*", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/04*016K", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/04*016Kh", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/04*016Kg,", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x08000000/04*000Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	/* numbers past 32 bits, sizes past 32 bits, regions wrapping past 2^32 */
	CHECK(parse("@X/0x100000000/1*1Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x0/4294967296*1Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x0/1*4294967296g", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x0/1*4096Mg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x0/65536*65536Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0xFFFFF000/2*4Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	CHECK(parse("@X/0x00000000/4294967295*1 g", &l) == DFU_PROTO_ERROR_NONE);
	/* the last byte of the address space is fine, one more is not */
	CHECK(parse("@X/0xFFFFF000/1*4Kg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(parse("@X/0xFFFFF000/1*4Kg,1*1 g", &l) == DFU_PROTO_ERROR_LAYOUT);
	/* overlapping regions */
	CHECK(parse("@X/0x08000000/2*1Kg/0x08000400/1*1Kg", &l) == DFU_PROTO_ERROR_LAYOUT);
	/* more groups than the table */
	pos = (size_t)snprintf(big, sizeof(big), "@X/0x0/");
	for (unsigned i = 0; i <= DFU_PROTO_LAYOUT_GROUPS_MAX; i++)
		pos += (size_t)snprintf(big + pos, sizeof(big) - pos, "%s1*1Kg", i ? "," : "");
	CHECK(parse(big, &l) == DFU_PROTO_ERROR_LAYOUT);
	big[pos - 6] = '\0'; /* one fewer: exactly the maximum */
	CHECK(parse(big, &l) == DFU_PROTO_ERROR_NONE);
	CHECK(l.group_count == DFU_PROTO_LAYOUT_GROUPS_MAX);
	/* a long name is cut, not overflowed */
	memset(big, 'N', sizeof(big));
	big[0] = '@';
	snprintf(big + 1000, sizeof(big) - 1000, "/0x0/1*1Kg");
	CHECK(parse(big, &l) == DFU_PROTO_ERROR_NONE);
	CHECK(strlen(l.name) == DFU_PROTO_LAYOUT_NAME_MAX - 1);

	/* every prefix of a real string, from an exact-size copy: never past the length */
	for (size_t len = 0; len <= strlen(STM32F405_LAYOUT); len++) {
		char *copy = malloc(len > 0 ? len : 1);
		memcpy(copy, STM32F405_LAYOUT, len);
		(void)dfu_proto_layout_parse(copy, len, &l, NULL, 0);
		free(copy);
	}
	/* random corruption */
	srand(7);
	for (unsigned i = 0; i < 20000; i++) {
		char buf[64];
		size_t len = strlen(STM32F405_LAYOUT);
		memcpy(buf, STM32F405_LAYOUT, len);
		for (unsigned j = 0; j < 3; j++)
			buf[(size_t)rand() % len] = (char)rand();
		if (dfu_proto_layout_parse(buf, (size_t)rand() % (len + 1), &l, NULL, 0) ==
		    DFU_PROTO_ERROR_NONE) {
			CHECK(l.group_count > 0 && l.group_count <= DFU_PROTO_LAYOUT_GROUPS_MAX);
			for (unsigned g = 1; g < l.group_count; g++)
				CHECK(l.groups[g].address >= l.groups[g - 1].address);
		}
	}
}

static void
test_layout_queries(void)
{
	DfuProtoLayout l;
	DfuProtoSector sector;
	const uint8_t w = DFU_PROTO_DFUSE_ACCESS_WRITE;

	CHECK(parse("@X/0x08000000/04*016Kg,01*064Kg,02*128Ka/0x08100000/2*1Kg", &l) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(dfu_proto_layout_find_sector(&l, 0x08000000, &sector));
	CHECK(sector.address == 0x08000000 && sector.size == 16384);
	CHECK(dfu_proto_layout_find_sector(&l, 0x08007FFF, &sector));
	CHECK(sector.address == 0x08004000);
	CHECK(dfu_proto_layout_find_sector(&l, 0x08010000, &sector));
	CHECK(sector.address == 0x08010000 && sector.size == 65536);
	CHECK(dfu_proto_layout_find_sector(&l, 0x0803FFFF, &sector));
	CHECK(sector.address == 0x08020000 && sector.access == 1);
	CHECK(!dfu_proto_layout_find_sector(&l, 0x07FFFFFF, &sector));
	CHECK(!dfu_proto_layout_find_sector(&l, 0x08060000, &sector));
	CHECK(dfu_proto_layout_next_sector(&l, 0x08060000, &sector));
	CHECK(sector.address == 0x08100000);
	CHECK(!dfu_proto_layout_next_sector(&l, 0x08100800, &sector));

	CHECK(dfu_proto_layout_range_has_access(&l, 0x08000000, 0x20000, w));
	CHECK(dfu_proto_layout_range_has_access(&l, 0x08003000, 0x2000, w));
	CHECK(!dfu_proto_layout_range_has_access(&l, 0x08000000, 0x20001, w)); /* read-only */
	CHECK(dfu_proto_layout_range_has_access(&l, 0x08000000, 0x60000, 1));
	CHECK(!dfu_proto_layout_range_has_access(&l, 0x08000000, 0x60001, 1)); /* gap */
	CHECK(!dfu_proto_layout_range_has_access(&l, 0x07FFFFFF, 2, w));
	CHECK(!dfu_proto_layout_range_has_access(&l, 0x08000000, 0, w));
	CHECK(!dfu_proto_layout_range_has_access(&l, 0xFFFFFFFF, 2, w));
}

/* ---- plans ---- */

/* appends to @buf at *@pos what @fmt says, as far as @size lets it */
static void __attribute__((format(printf, 4, 5)))
plan_append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	*pos += (size_t)vsnprintf(buf + *pos, size - *pos, fmt, args);
	va_end(args);
}

static void
plan_string(DfuProtoDfusePlan *plan, char *buf, size_t size)
{
	size_t pos = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < 100000 && pos < size - 64; i++) {
		DfuProtoDfuseStep step;
		dfu_proto_dfuse_plan_next(plan, &step);
		switch (step.kind) {
		case DFU_PROTO_DFUSE_STEP_ERASE:
			plan_append(buf,
				    size,
				    &pos,
				    "E%x/%u ",
				    (unsigned)step.address,
				    (unsigned)step.length);
			break;
		case DFU_PROTO_DFUSE_STEP_MASS_ERASE:
			plan_append(buf, size, &pos, "MASS ");
			break;
		case DFU_PROTO_DFUSE_STEP_SET_ADDRESS:
			plan_append(buf, size, &pos, "A%x ", (unsigned)step.address);
			break;
		case DFU_PROTO_DFUSE_STEP_WRITE:
			plan_append(buf,
				    size,
				    &pos,
				    "W%u:%u@%zu ",
				    (unsigned)step.block_number,
				    (unsigned)step.length,
				    step.image_offset);
			break;
		case DFU_PROTO_DFUSE_STEP_LEAVE:
			plan_append(buf, size, &pos, "L%x ", (unsigned)step.address);
			break;
		case DFU_PROTO_DFUSE_STEP_END:
			plan_append(buf, size, &pos, "END");
			return;
		}
	}
}

static DfuProtoError
plan_run(const char *layout_str,
	 const DfuProtoElement *elements,
	 size_t n,
	 uint16_t block_size,
	 unsigned flags,
	 char *out,
	 size_t out_size)
{
	DfuProtoLayout l;
	DfuProtoDfusePlan plan;
	char msg[256];
	DfuProtoError error;

	CHECK(parse(layout_str, &l) == DFU_PROTO_ERROR_NONE);
	error =
	    dfu_proto_dfuse_plan_init(&plan, &l, elements, n, block_size, flags, msg, sizeof(msg));
	if (error != DFU_PROTO_ERROR_NONE) {
		snprintf(out, out_size, "%s", msg);
		return error;
	}
	plan_string(&plan, out, out_size);
	return error;
}

/* two read-only 16 KiB sectors, then two writable ones */
#define READ_ONLY_LAYOUT "@X/0x08000000/02*016Ka,02*016Kg"
/* two 1 KiB sectors with a 1 KiB gap between them */
#define GAP_LAYOUT "@X/0x08000000/1*1Kg/0x08000800/1*1Kg"
/* four 1 KiB sectors */
#define KIB_LAYOUT "@X/0x08000000/04*1Kg"

/* a plan of the elements a DfuSe file lists, and what it must come to */
typedef struct {
	const char *layout;
	DfuProtoElement elements[4];
	size_t element_count; /* 0: no elements at all (NULL) */
	uint16_t block_size;
	unsigned flags;
	DfuProtoError error;
	const char *plan;	    /* NULL or, with no error, the steps planned */
	const char *message_has[3]; /* with an error, what its message says */
} PlanCase;

static const PlanCase plan_cases[] = {
    /* 40 KiB from the start: the three 16 KiB sectors it touches, one set address */
    {STM32F405_LAYOUT,
     {{0x08000000, 40960, 0}},
     1,
     8192,
     0,
     DFU_PROTO_ERROR_NONE,
     "E8000000/16384 E8004000/16384 E8008000/16384 A8000000 W2:8192@0 W3:8192@8192 "
     "W4:8192@16384 W5:8192@24576 W6:8192@32768 END"},
    /* a short last block gets its own set address and block 2 */
    {STM32F405_LAYOUT,
     {{0x08000000, 20000, 100}},
     1,
     8192,
     DFU_PROTO_DFUSE_FLAG_LEAVE,
     DFU_PROTO_ERROR_NONE,
     "E8000000/16384 E8004000/16384 A8000000 W2:8192@100 W3:8192@8292 A8004000 "
     "W2:3616@16484 L8000000 END"},
    /* discontiguous elements: erases in address order, a run each; the image offsets keep
     * the file's order */
    {STM32F405_LAYOUT,
     {{0x08000000, 4096, 4096}, {0x08020100, 4096, 0}},
     2,
     2048,
     0,
     DFU_PROTO_ERROR_NONE,
     "E8000000/16384 E8020000/131072 A8000000 W2:2048@4096 W3:2048@6144 A8020100 W2:2048@0 "
     "W3:2048@2048 END"},
    /* the caller sorts: elements out of address order are refused, not planned */
    {STM32F405_LAYOUT,
     {{0x08020100, 4096, 4096}, {0x08000000, 4096, 0}},
     2,
     2048,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"not in address order"}},
    /* contiguous elements continue the run; two elements in one sector erase it once */
    {STM32F405_LAYOUT,
     {{0x08000000, 2048, 0}, {0x08000800, 4096, 9000}},
     2,
     2048,
     0,
     DFU_PROTO_ERROR_NONE,
     "E8000000/16384 A8000000 W2:2048@0 W3:2048@9000 W4:2048@11048 END"},
    /* mass erase instead */
    {STM32F405_LAYOUT,
     {{0x08000000, 100, 0}},
     1,
     2048,
     DFU_PROTO_DFUSE_FLAG_MASS_ERASE,
     DFU_PROTO_ERROR_NONE,
     "MASS A8000000 W2:100@0 END"},
    /* writable but not erasable (option bytes): written without an erase */
    {"@Option Bytes  /0x1FFFC000/01*016 e",
     {{0x1FFFC000, 16, 0}},
     1,
     2048,
     0,
     DFU_PROTO_ERROR_NONE,
     "A1fffc000 W2:16@0 END"},
    /* erasable sectors around a write-only one: only the erasable ones are erased */
    {"@X/0x0/1*1Kg,1*1Ke,1*1Kg",
     {{0x0, 3072, 0}},
     1,
     1024,
     0,
     DFU_PROTO_ERROR_NONE,
     "E0/1024 E800/1024 A0 W2:1024@0 W3:1024@1024 W4:1024@2048 END"},

    /* refused: a read-only sector, with nothing planned */
    {READ_ONLY_LAYOUT,
     {{0x08008000, 100, 0}, {0x08000000, 100, 0}},
     2,
     2048,
     0,
     DFU_PROTO_ERROR_ADDRESS,
     NULL,
     {"element 1", "0x08000000", "nothing was erased"}},
    /* past the end of the memory, before it, across a gap (next to one that fits) */
    {READ_ONLY_LAYOUT, {{0x0800FF00, 0x200, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_ADDRESS},
    {READ_ONLY_LAYOUT, {{0x07FFFFFF, 2, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_ADDRESS},
    {GAP_LAYOUT, {{0x08000000, 100, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_NONE},
    {GAP_LAYOUT, {{0x08000300, 0x200, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_ADDRESS},
    /* wrapping past 2^32, overlapping elements, nothing to write, an image offset past
     * the address space, no block size */
    {"@X/0xFFFFF000/1*4Kg", {{0xFFFFFF00, 0x200, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_ADDRESS},
    {READ_ONLY_LAYOUT,
     {{0x08008000, 100, 0}, {0x08008010, 100, 0}},
     2,
     2048,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"overlap"}},
    {READ_ONLY_LAYOUT, {{0x08008000, 0, 0}}, 1, 2048, 0, DFU_PROTO_ERROR_INVALID_ARGUMENT},
    {READ_ONLY_LAYOUT, {{0}}, 0, 2048, 0, DFU_PROTO_ERROR_INVALID_ARGUMENT},
    {READ_ONLY_LAYOUT,
     {{0x08008000, 10, SIZE_MAX - 4}},
     1,
     2048,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT},
    {READ_ONLY_LAYOUT, {{0x08008000, 10, 0}}, 1, 0, 0, DFU_PROTO_ERROR_INVALID_ARGUMENT},

    /* the overlap check compares neighbours: adjacent, overlapping, identical, one inside
     * an earlier, longer one with an empty element between them, unsorted, empty */
    {KIB_LAYOUT, {{0x08000000, 16, 0}, {0x08000010, 16, 16}}, 2, 1024, 0, DFU_PROTO_ERROR_NONE},
    {KIB_LAYOUT,
     {{0x08000000, 17, 0}, {0x08000010, 16, 17}},
     2,
     1024,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"elements at 0x08000000 (17 bytes) and 0x08000010 (16 bytes) overlap at 0x08000010"}},
    {KIB_LAYOUT,
     {{0x08000000, 16, 0}, {0x08000000, 16, 16}},
     2,
     1024,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"elements at 0x08000000 (16 bytes) and 0x08000000 (16 bytes) overlap at 0x08000000"}},
    {KIB_LAYOUT,
     {{0x08000000, 64, 0}, {0x08000000, 0, 64}, {0x08000020, 4, 64}},
     3,
     1024,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"elements at 0x08000000 (64 bytes) and 0x08000020 (4 bytes) overlap at 0x08000020"}},
    /* unsorted, even without an overlap: the caller has to sort */
    {KIB_LAYOUT,
     {{0x08000400, 16, 0}, {0x08000000, 16, 16}},
     2,
     1024,
     0,
     DFU_PROTO_ERROR_INVALID_ARGUMENT,
     NULL,
     {"elements 0 (0x08000400) and 1 (0x08000000) are not in address order"}},
    /* empty elements may be anywhere */
    {KIB_LAYOUT,
     {{0x08000400, 0, 0}, {0x08000000, 16, 0}, {0x08000000, 0, 16}, {0x08000010, 16, 16}},
     4,
     1024,
     0,
     DFU_PROTO_ERROR_NONE,
     "E8000000/1024 A8000000 W2:16@0 A8000010 W2:16@16 END"},
};

static void
test_plan(void)
{
	for (size_t i = 0; i < sizeof(plan_cases) / sizeof(plan_cases[0]); i++) {
		const PlanCase *c = &plan_cases[i];
		char buf[4096];
		DfuProtoError error = plan_run(c->layout,
					       c->element_count > 0 ? c->elements : NULL,
					       c->element_count,
					       c->block_size,
					       c->flags,
					       buf,
					       sizeof(buf));

		if (error != c->error)
			PROTO_TEST_FAIL(" plan case %zu: error %s, want %s\n",
					i,
					dfu_proto_error_to_string(error),
					dfu_proto_error_to_string(c->error));
		if (c->plan != NULL)
			CHECK_STR(buf, c->plan);
		for (size_t j = 0; j < 3 && c->message_has[j] != NULL; j++)
			CHECK_CONTAINS(buf, c->message_has[j]);
	}
}

/* block numbers stop at 65535: a new set address continues the run */
static void
test_plan_block_numbers(void)
{
	const DfuProtoElement e[] = {{0x0, 65536, 0}};
	DfuProtoLayout l;
	DfuProtoDfusePlan plan;
	DfuProtoDfuseStep step;
	unsigned set_addresses = 0;
	unsigned writes = 0;
	uint32_t next = 0;

	CHECK(parse("@X/0x0/1*1Mf", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(dfu_proto_dfuse_plan_init(&plan, &l, e, 1, 1, 0, NULL, 0) == DFU_PROTO_ERROR_NONE);
	for (dfu_proto_dfuse_plan_next(&plan, &step); step.kind != DFU_PROTO_DFUSE_STEP_END;
	     dfu_proto_dfuse_plan_next(&plan, &step)) {
		if (step.kind == DFU_PROTO_DFUSE_STEP_SET_ADDRESS) {
			set_addresses++;
			CHECK(step.address == next);
		}
		if (step.kind == DFU_PROTO_DFUSE_STEP_WRITE) {
			CHECK(step.address == next);
			CHECK(step.block_number == (writes < 65534 ? writes + 2 : writes - 65532));
			writes++;
			next++;
		}
	}
	CHECK(set_addresses == 2 && writes == 65536);
}

/* the order the validation and the plan want, from any order a DfuSe file lists them in */
static void
test_sort_elements(void)
{
	const char *layout = KIB_LAYOUT;
	char buf[1024];

	/* nothing to sort */
	dfu_proto_dfuse_sort_elements(NULL, 0);
	{
		DfuProtoElement e[] = {{0x08000400, 16, 0}};
		dfu_proto_dfuse_sort_elements(e, 1);
		CHECK(e[0].address == 0x08000400 && e[0].length == 16 && e[0].image_offset == 0);
	}
	/* by address; equal addresses in file order, then by length */
	{
		DfuProtoElement e[] = {{0x08000400, 16, 0},
				       {0x08000000, 16, 16},
				       {0x08000010, 16, 40},
				       {0x08000000, 8, 32},
				       {0x08000000, 4, 32}};
		dfu_proto_dfuse_sort_elements(e, 5);
		CHECK(e[0].address == 0x08000000 && e[0].image_offset == 16 && e[0].length == 16);
		CHECK(e[1].address == 0x08000000 && e[1].image_offset == 32 && e[1].length == 4);
		CHECK(e[2].address == 0x08000000 && e[2].image_offset == 32 && e[2].length == 8);
		CHECK(e[3].address == 0x08000010 && e[3].image_offset == 40);
		CHECK(e[4].address == 0x08000400 && e[4].image_offset == 0);
	}
	/* a file listing its elements backwards is planned once sorted */
	{
		DfuProtoElement e[] = {{0x08000c00, 16, 0},
				       {0x08000400, 16, 16},
				       {0x08000000, 16, 32}};
		CHECK(plan_run(layout, e, 3, 1024, 0, buf, sizeof(buf)) ==
		      DFU_PROTO_ERROR_INVALID_ARGUMENT);
		dfu_proto_dfuse_sort_elements(e, 3);
		CHECK(plan_run(layout, e, 3, 1024, 0, buf, sizeof(buf)) == DFU_PROTO_ERROR_NONE);
		CHECK_STR(buf,
			  "E8000000/1024 E8000400/1024 E8000c00/1024 A8000000 W2:16@32 A8000400 "
			  "W2:16@16 A8000c00 W2:16@0 END");
	}
	/* many, in a scrambled order: every element kept, in order */
	{
		enum { N = 4099 }; /* prime: i * 1237 % N visits every index once */
		static DfuProtoElement e[N];
		static unsigned seen[N];
		for (size_t i = 0; i < N; i++) {
			size_t k = i * 1237 % N;
			e[i].address = 0x08000000u + (uint32_t)(k / 2) * 4;
			e[i].length = 4;
			e[i].image_offset = k;
		}
		dfu_proto_dfuse_sort_elements(e, N);
		memset(seen, 0, sizeof(seen));
		for (size_t i = 0; i < N; i++) {
			CHECK(e[i].image_offset < N);
			if (e[i].image_offset < N)
				seen[e[i].image_offset]++;
			if (i > 0) {
				CHECK(e[i - 1].address <= e[i].address);
				CHECK(e[i - 1].address != e[i].address ||
				      e[i - 1].image_offset < e[i].image_offset);
			}
		}
		for (size_t i = 0; i < N; i++)
			CHECK(seen[i] == 1);
		CHECK(e[0].image_offset == 0 && e[1].image_offset == 1 &&
		      e[N - 1].image_offset == N - 1);
	}
}

/*
 * A DfuSe file may hold hundreds of thousands of tiny elements: validating and planning them
 * must cost time linear in their count (a pairwise overlap check took minutes for these).
 */
#define MANY_ELEMENTS 200000u
static void
test_plan_many_elements(void)
{
	DfuProtoLayout l;
	DfuProtoDfusePlan plan;
	DfuProtoDfuseStep step;
	DfuProtoElement *e = calloc(MANY_ELEMENTS, sizeof(*e));
	char msg[256] = {0};
	uint32_t erase_count = 0;
	uint64_t erase_bytes = 0;
	uint64_t write_bytes = 0;
	unsigned erases = 0;
	unsigned set_addresses = 0;
	unsigned writes = 0;
	size_t next_offset = 0;

	CHECK(e != NULL);
	if (e == NULL)
		return;
	/* one byte every 4, over 800000 bytes: 782 sectors of 1 KiB */
	for (size_t i = 0; i < MANY_ELEMENTS; i++) {
		e[i].address = 0x08000000u + (uint32_t)i * 4;
		e[i].length = 1;
		e[i].image_offset = i;
	}
	CHECK(parse("@X/0x08000000/1024*1Kg", &l) == DFU_PROTO_ERROR_NONE);
	CHECK(dfu_proto_dfuse_plan_init(&plan, &l, e, MANY_ELEMENTS, 1024, 0, msg, sizeof(msg)) ==
	      DFU_PROTO_ERROR_NONE);
	dfu_proto_dfuse_plan_get_totals(&plan, &erase_count, &erase_bytes, &write_bytes);
	CHECK(erase_count == 782 && erase_bytes == 782u * 1024 && write_bytes == MANY_ELEMENTS);
	for (dfu_proto_dfuse_plan_next(&plan, &step); step.kind != DFU_PROTO_DFUSE_STEP_END;
	     dfu_proto_dfuse_plan_next(&plan, &step)) {
		if (step.kind == DFU_PROTO_DFUSE_STEP_ERASE) {
			CHECK(step.address == 0x08000000u + erases * 1024);
			erases++;
		} else if (step.kind == DFU_PROTO_DFUSE_STEP_SET_ADDRESS) {
			set_addresses++;
		} else if (step.kind == DFU_PROTO_DFUSE_STEP_WRITE) {
			CHECK(step.address == 0x08000000u + writes * 4 && step.length == 1);
			CHECK(step.image_offset == next_offset);
			next_offset++;
			writes++;
		}
	}
	CHECK(erases == 782 && set_addresses == MANY_ELEMENTS && writes == MANY_ELEMENTS);

	/* the last element on top of the one before: found, and named */
	e[MANY_ELEMENTS - 1].address = e[MANY_ELEMENTS - 2].address;
	CHECK(dfu_proto_dfuse_validate(&l, e, MANY_ELEMENTS, msg, sizeof(msg)) ==
	      DFU_PROTO_ERROR_INVALID_ARGUMENT);
	CHECK(strstr(msg, "elements at 0x080c34f8 (1 bytes) and 0x080c34f8 (1 bytes) overlap") !=
	      NULL);
	free(e);
}

static void
test_bounds(void)
{
	CHECK(dfu_proto_dfuse_erase_bound_ms(1024) == DFU_PROTO_DFUSE_BUSY_FLOOR_MS);
	CHECK(dfu_proto_dfuse_erase_bound_ms(16384) == DFU_PROTO_DFUSE_BUSY_FLOOR_MS);
	CHECK(dfu_proto_dfuse_erase_bound_ms(131072) == 16000);
	CHECK(dfu_proto_dfuse_erase_bound_ms(UINT32_MAX) == DFU_PROTO_BUSY_BUDGET_MS);
	CHECK(dfu_proto_dfuse_write_bound_ms(2048) == DFU_PROTO_DFUSE_BUSY_FLOOR_MS);
	CHECK(dfu_proto_dfuse_write_bound_ms(65535) == 9175);
}

/* ---- the scripted DfuSe device ---- */

#define FAKE_BASE 0x08000000u
#define FAKE_SIZE FAKE_MEMORY_SIZE
/* each 16 KiB sector of the model erases as one unit, enough for the tests' layouts */
#define FAKE_ERASE_UNIT 16384u

typedef enum {
	FAKE_NONE,
	FAKE_SET_ADDRESS,
	FAKE_ERASE,
	FAKE_MASS_ERASE,
	FAKE_UNPROTECT,
	FAKE_WRITE,
} FakeWork;

/* the DFU 1.1 device of dfu-proto-fake.h, with DfuSe's own control requests */
typedef struct {
	FakeDevice dfu;
	/* script */
	uint32_t cmd_poll_ms;	 /* bwPollTimeout of a command's first status */
	uint32_t set_poll_ms;	 /* the same for a set address (bogus on STM32F4) */
	uint32_t write_poll_ms;	 /* for a data block */
	uint32_t erase_work_ms;	 /* real time an erase takes */
	uint32_t set_work_ms;	 /* real time a set address takes */
	uint32_t mass_work_ms;	 /* real time a mass erase takes */
	uint32_t write_work_ms;	 /* real time a block takes */
	bool busy_poll_zero;	 /* polls while busy report 0 ms */
	bool stall_early;	 /* stalls a GETSTATUS before the work is done */
	bool read_protected;	 /* errVENDOR on erase, write and read */
	uint32_t memory_size;	 /* addresses past base + this: errTARGET */
	bool silent_after_leave; /* no answer after the leave's zero-length DNLOAD */
	/* state */
	DfuProtoStatus status;
	uint32_t pointer;
	FakeWork work;
	uint32_t work_address;
	uint64_t work_until_ms;
	bool left;
	/* recorded */
	unsigned set_addresses;
	uint32_t last_set_address;
	unsigned erases;
	unsigned mass_erases;
	unsigned stalls;
	unsigned clrstatus;
	bool write_unerased;
	bool wrong_request;
	uint32_t erase_order[64];
	bool erased[FAKE_SIZE / FAKE_ERASE_UNIT];
} FakeDfuse;

static bool
fake_valid(const FakeDfuse *dev, uint32_t address, uint32_t length)
{
	return address >= FAKE_BASE && (uint64_t)address + length <= FAKE_BASE + dev->memory_size;
}

static void
fake_error(FakeDfuse *dev, DfuProtoStatus status)
{
	dev->dfu.state = DFU_PROTO_STATE_DFU_ERROR;
	dev->status = status;
	dev->work = FAKE_NONE;
}

/* DNLOAD and UPLOAD are taken in dfuIDLE and in their own idle state @own_idle only:
 * anywhere else the device stalls and goes to dfuERROR (DFU 1.1 appendix A) */
static bool
fake_request_allowed(FakeDfuse *dev, DfuProtoState own_idle)
{
	if (dev->dfu.state == DFU_PROTO_STATE_DFU_IDLE || dev->dfu.state == own_idle)
		return true;
	fake_error(dev, DFU_PROTO_STATUS_ERR_STALLEDPKT);
	return false;
}

/* where the block of a DNLOAD or UPLOAD starts: AN2662, the multiplier is the request's
 * wLength, from the address pointer */
static uint64_t
fake_block_address(const FakeDfuse *dev, const DfuProtoAction *a)
{
	return (uint64_t)(a->value - 2) * a->length + dev->pointer;
}

/* the work of a command or block: started by the first GETSTATUS after its DNLOAD */
static void
fake_finish_work(FakeDfuse *dev)
{
	switch (dev->work) {
	case FAKE_ERASE: {
		uint32_t unit = (dev->work_address - FAKE_BASE) / FAKE_ERASE_UNIT;
		memset(dev->dfu.memory + (size_t)unit * FAKE_ERASE_UNIT, 0xFF, FAKE_ERASE_UNIT);
		dev->erased[unit] = true;
		break;
	}
	case FAKE_MASS_ERASE:
		memset(dev->dfu.memory, 0xFF, FAKE_SIZE);
		for (size_t i = 0; i < FAKE_SIZE / FAKE_ERASE_UNIT; i++)
			dev->erased[i] = true;
		break;
	default:
		break;
	}
	dev->work = FAKE_NONE;
	dev->dfu.state = DFU_PROTO_STATE_DFU_DNLOAD_IDLE;
}

static ProtoIo
fake_dfuse_getstatus(FakeDfuse *dev)
{
	uint32_t poll_ms = 0;

	dev->dfu.status_reads++;
	if (dev->left)
		return PROTO_IO_NO_DEVICE;
	if (dev->dfu.state == DFU_PROTO_STATE_DFU_DNLOAD_SYNC) {
		/* this read starts the work and reports its poll timeout */
		uint32_t work_ms = 0;
		/* every command (erase, mass erase, read unprotect) reports the same */
		poll_ms = dev->cmd_poll_ms;
		switch (dev->work) {
		case FAKE_SET_ADDRESS:
			poll_ms = dev->set_poll_ms;
			work_ms = dev->set_work_ms;
			break;
		case FAKE_ERASE:
			work_ms = dev->erase_work_ms;
			break;
		case FAKE_MASS_ERASE:
			work_ms = dev->mass_work_ms;
			break;
		case FAKE_UNPROTECT:
			break;
		default:
			poll_ms = dev->write_poll_ms;
			work_ms = dev->write_work_ms;
			break;
		}
		dev->work_until_ms = dev->dfu.now_ms + work_ms;
		dev->dfu.state = DFU_PROTO_STATE_DFU_DNBUSY;
	} else if (dev->dfu.state == DFU_PROTO_STATE_DFU_DNBUSY) {
		if (dev->work == FAKE_UNPROTECT) {
			/* erases itself and resets: gone */
			dev->left = true;
			return PROTO_IO_NO_DEVICE;
		}
		if (dev->dfu.busy_forever || dev->dfu.now_ms < dev->work_until_ms) {
			if (dev->stall_early) {
				dev->stalls++;
				return PROTO_IO_STALL;
			}
			poll_ms = dev->busy_poll_zero ? 0 : dev->cmd_poll_ms;
		} else {
			fake_finish_work(dev);
		}
	} else if (dev->dfu.state == DFU_PROTO_STATE_DFU_MANIFEST_SYNC) {
		/* the leave: jumps to the firmware, resetting in the middle of the answer */
		dev->left = true;
		return PROTO_IO_ERROR;
	}
	fake_status_reply(&dev->dfu, dev->status, poll_ms);
	return PROTO_IO_OK;
}

static ProtoIo
fake_dnload(FakeDfuse *dev, const DfuProtoAction *a)
{
	if (a->length == 0) {
		dev->dfu.state = DFU_PROTO_STATE_DFU_MANIFEST_SYNC;
		if (dev->silent_after_leave)
			dev->left = true;
		return PROTO_IO_OK;
	}
	if (a->value == 0) {
		const uint8_t *b = a->bytes;
		uint32_t address = 0;
		if (a->payload != DFU_PROTO_PAYLOAD_BYTES || b == NULL) {
			dev->wrong_request = true;
			return PROTO_IO_STALL;
		}
		if (a->length == 5)
			address = (uint32_t)b[1] | ((uint32_t)b[2] << 8) | ((uint32_t)b[3] << 16) |
				  ((uint32_t)b[4] << 24);
		dev->work_address = address;
		dev->dfu.state = DFU_PROTO_STATE_DFU_DNLOAD_SYNC;
		if (b[0] == DFU_PROTO_DFUSE_CMD_SET_ADDRESS && a->length == 5) {
			fake_trace(&dev->dfu, "SET:%x", (unsigned)address);
			dev->set_addresses++;
			dev->last_set_address = address;
			if (!fake_valid(dev, address, 1)) {
				fake_error(dev, DFU_PROTO_STATUS_ERR_TARGET);
				return PROTO_IO_OK;
			}
			dev->pointer = address;
			dev->work = FAKE_SET_ADDRESS;
		} else if (b[0] == DFU_PROTO_DFUSE_CMD_ERASE && a->length == 5) {
			fake_trace(&dev->dfu, "ERASE:%x", (unsigned)address);
			if (dev->erases < 64)
				dev->erase_order[dev->erases] = address;
			dev->erases++;
			dev->work = FAKE_ERASE;
		} else if (b[0] == DFU_PROTO_DFUSE_CMD_ERASE && a->length == 1) {
			fake_trace(&dev->dfu, "MASS");
			dev->mass_erases++;
			dev->work = FAKE_MASS_ERASE;
		} else if (b[0] == DFU_PROTO_DFUSE_CMD_READ_UNPROTECT && a->length == 1) {
			fake_trace(&dev->dfu, "UNPROTECT");
			dev->work = FAKE_UNPROTECT;
		} else {
			dev->wrong_request = true;
			return PROTO_IO_STALL;
		}
		/* errors show at the status read, as on the device */
		if ((dev->work == FAKE_ERASE || dev->work == FAKE_MASS_ERASE) &&
		    dev->read_protected)
			fake_error(dev, DFU_PROTO_STATUS_ERR_VENDOR);
		else if (dev->work == FAKE_ERASE && !fake_valid(dev, address, 1))
			fake_error(dev, DFU_PROTO_STATUS_ERR_TARGET);
		return PROTO_IO_OK;
	}
	if (a->value == 1 || a->payload != DFU_PROTO_PAYLOAD_IMAGE) {
		dev->wrong_request = true;
		return PROTO_IO_STALL;
	}
	{
		uint64_t address = fake_block_address(dev, a);
		fake_trace(&dev->dfu, "W%u:%u@%x", a->value, a->length, (unsigned)address);
		dev->dfu.state = DFU_PROTO_STATE_DFU_DNLOAD_SYNC;
		dev->work = FAKE_WRITE;
		if (dev->read_protected) {
			fake_error(dev, DFU_PROTO_STATUS_ERR_VENDOR);
			return PROTO_IO_OK;
		}
		if (address > UINT32_MAX || !fake_valid(dev, (uint32_t)address, a->length)) {
			fake_error(dev, DFU_PROTO_STATUS_ERR_TARGET);
			return PROTO_IO_OK;
		}
		for (uint32_t i = 0; i < a->length; i++) {
			uint32_t off = (uint32_t)address - FAKE_BASE + i;
			if (!dev->erased[off / FAKE_ERASE_UNIT] || dev->dfu.memory[off] != 0xFF)
				dev->write_unerased = true;
			dev->dfu.memory[off] = dev->dfu.image[a->image_offset + i];
		}
	}
	return PROTO_IO_OK;
}

static ProtoIo
fake_upload(FakeDfuse *dev, const DfuProtoAction *a)
{
	if (a->value == 0) {
		const uint8_t list[] = {0x00, 0x21, 0x41, 0x92};
		memcpy(dev->dfu.reply, list, sizeof(list));
		dev->dfu.reply_len = sizeof(list);
		dev->dfu.state = DFU_PROTO_STATE_DFU_UPLOAD_IDLE;
		return PROTO_IO_OK;
	}
	if (dev->read_protected) {
		fake_error(dev, DFU_PROTO_STATUS_ERR_VENDOR);
		return PROTO_IO_STALL;
	}
	{
		uint64_t address = fake_block_address(dev, a);
		uint64_t end = FAKE_BASE + (uint64_t)dev->memory_size;
		size_t n = address >= end ? 0 : (size_t)(end - address);
		if (n > a->length)
			n = a->length;
		memcpy(dev->dfu.reply, dev->dfu.memory + (address - FAKE_BASE), n);
		dev->dfu.reply_len = n;
		dev->dfu.state = n < a->length ? DFU_PROTO_STATE_DFU_IDLE
					       : DFU_PROTO_STATE_DFU_UPLOAD_IDLE;
	}
	return PROTO_IO_OK;
}

/* DfuSe's answer to one control transfer */
static ProtoIo
fake_dfuse_control(FakeDevice *base, const DfuProtoAction *a)
{
	FakeDfuse *dev = (FakeDfuse *)base;
	ProtoIo result;

	if (dev->left)
		return PROTO_IO_NO_DEVICE;
	switch (a->request) {
	case DFU_PROTO_REQUEST_GETSTATUS:
		return fake_dfuse_getstatus(dev);
	case DFU_PROTO_REQUEST_CLRSTATUS:
		dev->clrstatus++;
		base->state = DFU_PROTO_STATE_DFU_IDLE;
		dev->status = DFU_PROTO_STATUS_OK;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_ABORT:
		if (base->state == DFU_PROTO_STATE_DFU_ERROR)
			return PROTO_IO_STALL;
		base->state = DFU_PROTO_STATE_DFU_IDLE;
		return PROTO_IO_OK;
	case DFU_PROTO_REQUEST_DNLOAD:
		if (!fake_request_allowed(dev, DFU_PROTO_STATE_DFU_DNLOAD_IDLE))
			return PROTO_IO_STALL;
		return fake_dnload(dev, a);
	case DFU_PROTO_REQUEST_UPLOAD:
		if (!fake_request_allowed(dev, DFU_PROTO_STATE_DFU_UPLOAD_IDLE))
			return PROTO_IO_STALL;
		result = fake_upload(dev, a);
		if (result == PROTO_IO_OK && a->value >= 2)
			memcpy(base->upload + a->image_offset, base->reply, base->reply_len);
		return result;
	default:
		return PROTO_IO_STALL;
	}
}

/* the DNLOAD of a command or block traces itself in fake_dnload() */
static void
fake_dfuse_trace_control(FakeDevice *base, const DfuProtoAction *a)
{
	if (a->request == DFU_PROTO_REQUEST_GETSTATUS)
		fake_trace(base, "S");
	else if (a->request == DFU_PROTO_REQUEST_UPLOAD)
		fake_trace(base, "UP%u:%u@%zu", a->value, a->length, a->image_offset);
	else if (a->request != DFU_PROTO_REQUEST_DNLOAD)
		fake_trace(base, "%s", dfu_proto_request_to_string(a->request));
	else if (a->length == 0)
		fake_trace(base, "LEAVE:%u", a->value);
}

static void
fake_dfuse_init(FakeDfuse *dev)
{
	memset(dev, 0, sizeof(*dev));
	fake_init(&dev->dfu);
	dev->dfu.control = fake_dfuse_control;
	dev->dfu.trace_control = fake_dfuse_trace_control;
	dev->memory_size = FAKE_SIZE;
	dev->cmd_poll_ms = 30;
	dev->set_poll_ms = 30;
	dev->write_poll_ms = 5;
	for (size_t i = 0; i < FAKE_SIZE; i++)
		dev->dfu.memory[i] = (uint8_t)(i * 13);
}

/* a device whose 300 ms erase reports no poll timeout at all, and which stalls a status read
 * that comes before the erase is done */
static void
fake_dfuse_init_stall_early(FakeDfuse *dev)
{
	fake_dfuse_init(dev);
	dev->cmd_poll_ms = 0;
	dev->busy_poll_zero = true;
	dev->erase_work_ms = 300;
	dev->stall_early = true;
}

/* a download of the @n elements @e of test_image to @dev by @s, both set up by the caller:
 * the kind of the action it ended with */
static DfuProtoActionKind
fake_dfuse_download(FakeDfuse *dev,
		    DfuProtoSession *s,
		    const DfuProtoLayout *l,
		    const DfuProtoElement *e,
		    size_t n,
		    unsigned flags)
{
	CHECK(dfu_proto_session_start_dfuse_download(s, l, e, n, 0, flags) == DFU_PROTO_ERROR_NONE);
	return fake_run(&dev->dfu, s, test_image, NULL);
}

static const DfuProtoFunctional functional_stm32 = {
    .attributes =
	DFU_PROTO_ATTR_CAN_DNLOAD | DFU_PROTO_ATTR_CAN_UPLOAD | DFU_PROTO_ATTR_WILL_DETACH,
    .detach_timeout_ms = 255,
    .transfer_size = 2048,
    .dfu_version = DFU_PROTO_VERSION_DFUSE,
};

static void
test_session_download(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	DfuProtoDfuseProgress progress;
	const DfuProtoBusyStats *stats;
	const DfuProtoElement e[] = {{0x08000000, 40000, 0}, {0x08020000, 3000, 50000}};
	/* the session reads the elements until it ends: they live as long as it */
	const DfuProtoElement one[] = {{0x08000000, 16, 0}};

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 104; /* STM32F4: bogus */
	dev.erase_work_ms = 300;
	dev.cmd_poll_ms = 500;
	dev.write_work_ms = 30;
	dev.write_poll_ms = 104;
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_dfuse_quirks(&s, DFU_PROTO_DFUSE_QUIRK_SET_ADDRESS_POLL_BOGUS);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 2, DFU_PROTO_DFUSE_FLAG_LEAVE) ==
	      DFU_PROTO_ACTION_DONE);
	/* sectors 0..2 and the first 128 KiB one, in order, once */
	CHECK(dev.erases == 4);
	CHECK(dev.erase_order[0] == 0x08000000 && dev.erase_order[1] == 0x08004000);
	CHECK(dev.erase_order[2] == 0x08008000 && dev.erase_order[3] == 0x08020000);
	/* runs: 0x08000000 (19 full blocks), its tail, the second element, the leave */
	CHECK(dev.set_addresses == 5); /* each element's tail is a run of its own */
	CHECK(!dev.write_unerased && !dev.wrong_request);
	CHECK(memcmp(dev.dfu.memory, test_image, 40000) == 0);
	CHECK(memcmp(dev.dfu.memory + 0x20000, test_image + 50000, 3000) == 0);
	CHECK(dev.left);
	CHECK(strncmp(dev.dfu.trace,
		      "S ERASE:8000000 S WAIT:500 S ERASE:8004000 S WAIT:500 S",
		      55) == 0);
	/* the bogus 104 ms of a set address is not slept; a block waits what it asks */
	CHECK(strstr(dev.dfu.trace,
		     "SET:8000000 S S W2:2048@8000000 S WAIT:104 S W3:2048@8000800") != NULL);
	CHECK(strstr(dev.dfu.trace, "SET:8009800 S S W2:1088@8009800") != NULL);
	CHECK(strstr(dev.dfu.trace, "SET:8000000 S S LEAVE:2 S <io-error> DONE") != NULL);
	dfu_proto_session_get_dfuse_progress(&s, &progress);
	CHECK(progress.phase == DFU_PROTO_DFUSE_PHASE_END);
	CHECK(progress.erases_done == 4 && progress.erases_total == 4);
	CHECK(progress.erase_bytes_total == 3 * 16384 + 131072);
	CHECK(progress.erase_bytes_done == progress.erase_bytes_total);
	CHECK(progress.write_bytes_done == 43000 && progress.write_bytes_total == 43000);
	stats = dfu_proto_session_get_busy_stats(&s);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_ERASE].count == 4);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_ERASE].busy_max_ms >= 500);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_ERASE].bound_ms == DFU_PROTO_DFUSE_BUSY_FLOOR_MS ||
	      stats->ops[DFU_PROTO_BUSY_OP_ERASE].bound_ms == 16000);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_SET_ADDRESS].count == 5);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_SET_ADDRESS].busy_max_ms < 10);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_BLOCK].count == 22);
	CHECK_STR(dfu_proto_busy_op_to_string(DFU_PROTO_BUSY_OP_MASS_ERASE), "mass-erase");

	/* without the quirk the set address waits the device's figure */
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 104;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_DONE);
	CHECK(strstr(dev.dfu.trace, "SET:8000000 S WAIT:104 S W2") != NULL);
	CHECK(!dev.left && !dev.write_unerased);

	/* the quirk does not hide a device really busy with the set address */
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 104;
	dev.set_work_ms = 50;
	dev.mass_work_ms = 50;
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_dfuse_quirks(&s, DFU_PROTO_DFUSE_QUIRK_SET_ADDRESS_POLL_BOGUS);
	CHECK(fake_dfuse_download(&dev, &s, &l, one, 1, DFU_PROTO_DFUSE_FLAG_MASS_ERASE) ==
	      DFU_PROTO_ACTION_DONE);
	CHECK(dev.mass_erases == 1 && dev.erases == 0 && !dev.write_unerased);
	CHECK(strstr(dev.dfu.trace, "SET:8000000 S S WAIT:30 S WAIT:30 S W2:16@8000000") != NULL);
}

/* validation fails: not one transfer */
static void
test_session_refused(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	DfuProtoAction a;
	const DfuProtoElement e[] = {{0x08000000, 100, 0}, {0x08100000, 100, 100}};

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);
	fake_dfuse_init(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_download(&s, &l, e, 2, 0, 0) ==
	      DFU_PROTO_ERROR_ADDRESS);
	dfu_proto_session_next(&s, 0, &a);
	CHECK(a.kind == DFU_PROTO_ACTION_ERROR && a.error == DFU_PROTO_ERROR_ADDRESS);
	CHECK(strstr(a.message, "element 1") != NULL);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dev.dfu.transfers == 0);
}

/* misbehaving devices (dfu-util quirks.c, fwupd dfu.quirk) */
static void
test_session_misbehaving(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	const DfuProtoElement e[] = {{0x08000000, 2048, 0}};
	const DfuProtoElement e128[] = {{0x08020000, 2048, 0}};
	const DfuProtoBusyStats *stats;

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);

	/* 0 ms forever on a 16 KiB erase: ends at the erase's own bound, not 128 s */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 0;
	dev.busy_poll_zero = true;
	dev.dfu.busy_forever = true;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(dev.dfu.now_ms < 1000 + DFU_PROTO_DFUSE_BUSY_FLOOR_MS + 10);
	CHECK(dev.dfu.waits == 0);
	CHECK(strstr(dfu_proto_session_get_message(&s), "erase of the sector at 0x08000000") !=
	      NULL);
	/* a 128 KiB sector gets 16 s */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 100;
	dev.dfu.busy_forever = true;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e128, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dev.dfu.now_ms > 1000 + 16000 && dev.dfu.now_ms < 1000 + 16200);
	/* the caller's budget replaces the derived one */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 100;
	dev.dfu.busy_forever = true;
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_busy_budget(&s, 500);
	CHECK(fake_dfuse_download(&dev, &s, &l, e128, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dev.dfu.now_ms < 1000 + 700);

	/* a poll timeout at the 24-bit maximum (4.6 h) on a device that stays busy: the one wait
	 * ends just past the erase's own bound, not at DFU_PROTO_POLL_TIMEOUT_MAX_MS, and the
	 * error says what the device asked for */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 0xFFFFFF;
	dev.dfu.busy_forever = true;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(dev.dfu.waits == 1);
	CHECK(dev.dfu.now_ms <= 1000 + DFU_PROTO_DFUSE_BUSY_FLOOR_MS + 10);
	CHECK(strstr(dfu_proto_session_get_message(&s), "it asked to wait 16777215 ms") != NULL);
	/* the same poll timeout on every status of a device that is really quick: every
	 * operation waits at most its own bound, and the update completes */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 0xFFFFFF;
	dev.set_poll_ms = 0xFFFFFF;
	dev.write_poll_ms = 0xFFFFFF;
	dev.erase_work_ms = 300;
	dev.write_work_ms = 5;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_DONE);
	CHECK(memcmp(dev.dfu.memory, test_image, 2048) == 0);
	/* erase, set address, one block: three waits of at most 2 s each */
	CHECK(dev.dfu.waits == 3);
	CHECK(dev.dfu.waited_ms <= 3 * (DFU_PROTO_DFUSE_BUSY_FLOOR_MS + 1));

	/* reported poll far shorter than the work (STM32F405 mass erase): polled until done */
	fake_dfuse_init(&dev);
	dev.cmd_poll_ms = 100;
	dev.mass_work_ms = 20000;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_mass_erase(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.mass_erases == 1 && dev.erased[63]);
	stats = dfu_proto_session_get_busy_stats(&s);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_MASS_ERASE].count == 1);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_MASS_ERASE].busy_max_ms >= 20000);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_MASS_ERASE].polls >= 190);
	CHECK(stats->ops[DFU_PROTO_BUSY_OP_MASS_ERASE].bound_ms == DFU_PROTO_BUSY_BUDGET_MS);

	/* stalls when polled early: without the quirk the stall budget runs out */
	fake_dfuse_init_stall_early(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_STALL);
	CHECK(dev.stalls == DFU_PROTO_BUSY_STALLS_MAX + 1);
	/* with a minimum poll interval it waits and succeeds */
	fake_dfuse_init_stall_early(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_min_poll_interval(&s, 100);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.stalls <= 3);
	CHECK(strncmp(dev.dfu.trace,
		      "S ERASE:8000000 S WAIT:100 S <stall> WAIT:100",
		      strlen("S ERASE:8000000 S WAIT:100 S <stall> WAIT:100")) == 0);
	CHECK(memcmp(dev.dfu.memory, test_image, 2048) == 0);
}

/*
 * Each block stays busy under the caller's own per-operation budget, so only the bound of the
 * whole download (its floor raised to four times that budget, plus the blocks and the erased
 * KiB) ends it, long before the 32 blocks' 29 minutes, and the message says what the device did.
 */
static void
test_session_whole_bound(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	const DfuProtoElement e[] = {{0x08000000, 65536, 0}};
	/* the floor stays 600 s: four times the 60 s budget is less */
	const uint64_t bound_ms = DFU_PROTO_SESSION_BUSY_FLOOR_MS +
				  32 * DFU_PROTO_SESSION_BUSY_BLOCK_MS +
				  64 * DFU_PROTO_DFUSE_ERASE_MS_PER_KIB;

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);
	fake_dfuse_init(&dev);
	dev.write_work_ms = 55000;
	dev.write_poll_ms = 1000;
	dev.cmd_poll_ms = 1000;
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_busy_budget(&s, 60000);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_BUSY_TOO_LONG);
	CHECK(strstr(dfu_proto_session_get_message(&s), "the device stayed busy") != NULL);
	CHECK(strstr(dfu_proto_session_get_message(&s), "of 32 blocks of 2048 bytes") != NULL);
	CHECK(dev.dfu.now_ms - 1000 > bound_ms && dev.dfu.now_ms - 1000 < bound_ms + 60000);
}

static void
test_session_device_errors(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	const DfuProtoElement e[] = {{0x08000000, 2048, 0}};
	const DfuProtoElement far[] = {{0x08080000, 2048, 0}};
	const char *msg;

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);

	/* read protection: errVENDOR at the first erase, cleared, explained */
	fake_dfuse_init(&dev);
	dev.read_protected = true;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, e, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK_STR(dev.dfu.trace, "S ERASE:8000000 S CLRSTATUS ERROR:read-protected");
	msg = dfu_proto_session_get_message(&s);
	CHECK(strstr(msg, "read-protected") != NULL);
	CHECK(strstr(msg, "erases the whole flash") != NULL);
	CHECK(dev.dfu.state == DFU_PROTO_STATE_DFU_IDLE);

	/* the layout claims more flash than the device has: errTARGET */
	fake_dfuse_init(&dev);
	dev.memory_size = 256 * 1024;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(fake_dfuse_download(&dev, &s, &l, far, 1, 0) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_ADDRESS);
	msg = dfu_proto_session_get_message(&s);
	CHECK(strstr(msg, "errTARGET") != NULL && strstr(msg, "0x08080000") != NULL);
	CHECK(dev.clrstatus == 1);

	/* a device found in dfuERROR is cleared first */
	fake_dfuse_init(&dev);
	dev.dfu.state = DFU_PROTO_STATE_DFU_ERROR;
	dev.status = DFU_PROTO_STATUS_ERR_TARGET;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_mass_erase(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace, "S CLRSTATUS S MASS S WAIT:30 S DONE");
}

static void
test_session_leave(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;

	/* no answer after leave: the success */
	fake_dfuse_init(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_leave(&s, 0x08000000) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace, "S SET:8000000 S WAIT:30 S LEAVE:2 S <io-error> DONE");

	/* a device that answers dfuMANIFEST and then goes */
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 0;
	dfu_proto_session_init(&s, &functional_stm32);
	{
		DfuProtoAction a;
		const uint8_t manifest[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_MANIFEST, 0};
		const uint8_t idle[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_IDLE, 0};
		const uint8_t dnidle[6] = {0, 0, 0, 0, DFU_PROTO_STATE_DFU_DNLOAD_IDLE, 0};
		CHECK(dfu_proto_session_start_dfuse_leave(&s, 0x08004000) == DFU_PROTO_ERROR_NONE);
		dfu_proto_session_next(&s, 0, &a);
		fake_answer(&s, PROTO_IO_OK, idle, 6, 0, &a);
		CHECK(a.request == DFU_PROTO_REQUEST_DNLOAD && a.length == 5 && a.value == 0);
		CHECK(a.payload == DFU_PROTO_PAYLOAD_BYTES && a.bytes[0] == 0x21);
		CHECK(a.bytes[1] == 0x00 && a.bytes[2] == 0x40 && a.bytes[4] == 0x08);
		fake_answer(&s, PROTO_IO_OK, NULL, 0, 0, &a);
		fake_answer(&s, PROTO_IO_OK, dnidle, 6, 0, &a);
		CHECK(a.request == DFU_PROTO_REQUEST_DNLOAD && a.length == 0);
		fake_answer(&s, PROTO_IO_OK, NULL, 0, 0, &a);
		CHECK(a.request == DFU_PROTO_REQUEST_GETSTATUS);
		fake_answer(&s, PROTO_IO_OK, manifest, 6, 0, &a);
		CHECK(a.kind == DFU_PROTO_ACTION_DONE);
	}

	/* GD32VF103: silent after leave; the quirk does not even ask */
	fake_dfuse_init(&dev);
	dev.silent_after_leave = true;
	dfu_proto_session_init(&s, &functional_stm32);
	dfu_proto_session_set_dfuse_quirks(&s, DFU_PROTO_DFUSE_QUIRK_SILENT_AFTER_LEAVE);
	CHECK(dfu_proto_session_start_dfuse_leave(&s, 0x08000000) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace, "S SET:8000000 S WAIT:30 S LEAVE:2 DONE");
	/* and without the quirk the timeout is the success too */
	fake_dfuse_init(&dev);
	dev.silent_after_leave = true;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_leave(&s, 0x08000000) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_DONE);

	/* leave to an address the device refuses */
	fake_dfuse_init(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_leave(&s, 0x20000000) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, test_image, NULL) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_ADDRESS);
	CHECK(!dev.left);
}

static void
test_session_upload(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	DfuProtoLayout l;
	size_t done = 0;

	CHECK(parse(STM32F405_LAYOUT, &l) == DFU_PROTO_ERROR_NONE);
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 0;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_upload(&s, &l, 0x08000100, 5000, 0) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace,
		  "S SET:8000100 S S ABORT UP2:2048@0 UP3:2048@2048 ABORT SET:8001100 S S ABORT "
		  "UP2:904@4096 ABORT DONE");
	CHECK(memcmp(upload_buffer, dev.dfu.memory + 0x100, 5000) == 0);
	dfu_proto_session_get_progress(&s, &done, NULL);
	CHECK(done == 5000);

	/* the end of the device's memory: a short block ends it */
	fake_dfuse_init(&dev);
	dev.memory_size = 4096 + 100;
	dev.set_poll_ms = 0;
	dfu_proto_session_init(&s, NULL);
	{
		DfuProtoFunctional f = functional_stm32;
		dfu_proto_session_init(&s, &f);
	}
	CHECK(dfu_proto_session_start_dfuse_upload(&s, NULL, 0x08000000, 1024 * 1024, 1024) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	dfu_proto_session_get_progress(&s, &done, NULL);
	CHECK(done == 4196);
	CHECK(memcmp(upload_buffer, dev.dfu.memory, 4196) == 0);

	/* outside readable memory, past 2^32 */
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_upload(&s, &l, 0x080F0000, 0x20000, 0) ==
	      DFU_PROTO_ERROR_ADDRESS);
	CHECK(dfu_proto_session_start_dfuse_upload(&s, NULL, 0xFFFFFF00, 0x200, 0) ==
	      DFU_PROTO_ERROR_ADDRESS);

	/* read-protected: the UPLOAD stalls, the status says why */
	fake_dfuse_init(&dev);
	dev.read_protected = true;
	dev.set_poll_ms = 0;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_upload(&s, &l, 0x08000000, 100, 0) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_ERROR);
	CHECK(dfu_proto_session_get_error(&s) == DFU_PROTO_ERROR_READ_PROTECTED);
}

static void
test_session_upload_rewind(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	size_t done = 0;

	/* 1-byte blocks past wValue 65535: a new set address at the next byte (the short
	 * last block would get one too, but with 1-byte blocks there is none) */
	fake_dfuse_init(&dev);
	dev.set_poll_ms = 0;
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_upload(&s, NULL, 0x08000000, 65540, 1) ==
	      DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, upload_buffer) == DFU_PROTO_ACTION_DONE);
	CHECK(dev.set_addresses == 2);
	CHECK(dev.last_set_address == 0x0800FFFE);
	dfu_proto_session_get_progress(&s, &done, NULL);
	CHECK(done == 65540);
	CHECK(memcmp(upload_buffer, dev.dfu.memory, 65540) == 0);
}

static void
test_session_commands(void)
{
	static FakeDfuse dev;
	DfuProtoSession s;
	const uint8_t *commands = NULL;

	fake_dfuse_init(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_get_commands(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace, "S UP0:16@0 ABORT DONE");
	CHECK(dfu_proto_session_get_dfuse_commands(&s, &commands) == 4);
	CHECK(commands[0] == 0x00 && commands[1] == 0x21 && commands[2] == 0x41);
	CHECK(commands[3] == 0x92);

	/* read unprotect: the device erases itself and resets */
	fake_dfuse_init(&dev);
	dfu_proto_session_init(&s, &functional_stm32);
	CHECK(dfu_proto_session_start_dfuse_read_unprotect(&s) == DFU_PROTO_ERROR_NONE);
	CHECK(fake_run(&dev.dfu, &s, NULL, NULL) == DFU_PROTO_ACTION_DONE);
	CHECK_STR(dev.dfu.trace, "S UNPROTECT S WAIT:30 S <no-device> DONE");

	/* a device without download support */
	{
		DfuProtoFunctional f = functional_stm32;
		f.attributes = DFU_PROTO_ATTR_CAN_UPLOAD;
		dfu_proto_session_init(&s, &f);
		CHECK(dfu_proto_session_start_dfuse_mass_erase(&s) ==
		      DFU_PROTO_ERROR_NOT_SUPPORTED);
	}
}

int
main(void)
{
	test_image_fill();
	test_layout_real_devices();
	test_layout_hostile();
	test_layout_queries();
	test_plan();
	test_plan_block_numbers();
	test_sort_elements();
	test_plan_many_elements();
	test_bounds();
	test_session_download();
	test_session_refused();
	test_session_misbehaving();
	test_session_whole_bound();
	test_session_device_errors();
	test_session_leave();
	test_session_upload();
	test_session_upload_rewind();
	test_session_commands();
	return proto_test_result("dfu-proto-dfuse-test");
}
