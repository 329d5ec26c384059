#include "reference/quant/common.h"

#include <stdexcept>
#include <string>

namespace moecheck::reference::quant::detail {

void fail(std::string_view what, std::string_view expected, std::string_view found) {
  std::string message(what);
  message += ": expected ";
  message += expected;
  message += ", found ";
  message += found;
  throw std::invalid_argument(message);
}

std::string shape_string(std::initializer_list<std::int64_t> dims) {
  std::string s(1, '[');
  bool first = true;
  for (const std::int64_t d : dims) {
    if (!first) s.append(", ");
    s.append(std::to_string(d));
    first = false;
  }
  s.push_back(']');
  return s;
}

void fail(std::string_view what, std::string_view expected, std::int64_t found) {
  fail(what, expected, std::to_string(found));
}

}  // namespace moecheck::reference::quant::detail
