// Umbrella header for the quant schemes: quantize / dequantize per scheme and variant
// (reference/quant/README.md lists every rule and its upstream source).
#pragma once

#include "reference/quant/common.h"
#include "reference/quant/fnuz.h"
#include "reference/quant/fp8.h"
#include "reference/quant/fp8_block.h"
#include "reference/quant/mxfp4.h"
#include "reference/quant/mx.h"
#include "reference/quant/mxfp8.h"
#include "reference/quant/nvfp4.h"
#include "reference/quant/scheme.h"
#include "reference/quant/swizzle.h"
#include "reference/quant/wna16.h"
