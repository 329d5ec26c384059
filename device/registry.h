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
// The backends built into this binary that cannot run here, each with the reason ("cuda (no CUDA
// device on this machine)"); empty when every built backend is listed by backends().
std::string unusable_backends();

}  // namespace moecheck::device
