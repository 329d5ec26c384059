// RapidCheck's reproduce-string encoding, which its installed headers do not declare.
#pragma once

#include <rapidcheck.h>

#include <string>
#include <unordered_map>

namespace rc::detail {
// Defined in librapidcheck (src/detail/Serialization / Configuration): the encoding RapidCheck
// prints after `RC_PARAMS="reproduce=`.
std::string reproduceMapToString(const std::unordered_map<std::string, Reproduce>& reproduceMap);
}  // namespace rc::detail
