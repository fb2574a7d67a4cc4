/* strata/strata.h — the Strata inference stack's public C API (umbrella header). */
#ifndef STRATA_H
#define STRATA_H

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.1.0"

#include "status.h"
#include "tensor.h"
#include "model.h"
#include "runtime.h"
#include "compile.h"

#endif
