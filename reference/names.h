// The vocabulary of a table the code iterates (one row per variant, each with a `name`): look a
// row up by name, and list the names for an error message. One implementation for every table.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace moecheck::reference {

// "a, b, c": the names of `items`, each a string or a row with a `name` member.
template <class Items>
std::string joined_names(const Items& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    if constexpr (requires { item.name; })
      out += item.name;
    else
      out += item;
  }
  return out;
}

// The `field` of the row of `rows` named `text`; none if no row has that name.
template <class Rows, class Field>
auto find_by_name(const Rows& rows, std::string_view text, Field field)
    -> std::optional<std::decay_t<decltype((*std::begin(rows)).*field)>> {
  for (const auto& row : rows)
    if (row.name == text) return row.*field;
  return std::nullopt;
}

}  // namespace moecheck::reference
