// Umbrella header for the padding model: platforms and parallel layouts, the ruleset vocabulary,
// the method/backend registry, plans, MXFP4 backend selection, TP/EP partitions, poison and the
// pad/slice operations. Rulesets themselves are JSON data (reference/padding/rulesets/), read by
// fixtures/ruleset_json.h.
#pragma once

#include "reference/padding/pad.h"
#include "reference/padding/partition.h"
#include "reference/padding/plan.h"
#include "reference/padding/platform.h"
#include "reference/padding/poison.h"
#include "reference/padding/registry.h"
#include "reference/padding/ruleset.h"
#include "reference/padding/selection.h"
#include "reference/padding/tensor.h"
