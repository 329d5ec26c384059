// The backends built into this binary: the one place that knows the implementations. Callers
// iterate backends() and never name a backend class.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "device/backend.h"

namespace moecheck::device {

// The backends built into this binary, in a fixed order ("sim" first).
std::span<const Backend* const> backends();
const Backend* find_backend(std::string_view name);  // nullptr if not built
std::string backend_names();                         // comma-separated, for error messages

}  // namespace moecheck::device
