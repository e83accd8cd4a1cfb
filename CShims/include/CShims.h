/* CShims — gupbench's C target: the page model, real memory, the machine, the C loops.
 *
 * Errors, one convention for every public function that can fail: it returns an int, 0 on
 * success and -errno on failure (a long where success is a count or size: >= 0, or -errno), and
 * hands its results back through out-parameters. Never -1 with errno set, never an error folded
 * into a floating-point result. Swift turns a negative result into GUPBenchError with
 * `checkErrno` (Sources/GUPBench/Support/Errors.swift). Functions that cannot fail return their
 * value directly (the calibration timings, the inline model primitives).
 */
#ifndef CSHIMS_H
#define CSHIMS_H

#include "gb_page.h"
#include "gb_region.h"
#include "gb_system.h"
#include "gb_loops.h"
#include "gb_calibrate.h"
#include "gb_ledger.h"
#include "gb_kernel.h"
#include "gb_free.h"
#include "gb_layout.h"
#include "gb_kcalls.h"
#include "gb_stop.h"
#include "gb_limits.h"
#include "gb_pagemap.h"
#include "gb_btf.h"

#endif /* CSHIMS_H */
