// Umbrella header for the MoE golden model: routing, activations, weights, the block and its forward.
#pragma once

#include "reference/moe/activation.h"
#include "reference/moe/block.h"
#include "reference/moe/dtype.h"
#include "reference/moe/forward.h"
#include "reference/moe/linear.h"
#include "reference/moe/routing.h"
#include "reference/moe/weight.h"
