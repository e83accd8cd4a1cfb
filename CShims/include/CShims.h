/* CShims — gupbench's C target: the page model, real memory, the machine, the C loops. */
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
