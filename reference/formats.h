// Umbrella header for the bit-exact element formats: names, codecs, GPU reciprocal.
#pragma once

#include "reference/formats/codecs.h"
#include "reference/formats/format.h"
#include "reference/formats/rcp_approx.h"
