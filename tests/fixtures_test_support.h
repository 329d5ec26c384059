// Helpers shared by the fixtures tests (hdf5_io_test, safetensors_test): catching a
// fixtures::Error and checking that its message names what it must.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "fixtures/hdf5_io.h"

namespace moecheck::test {

// The message of the fixtures::Error that action() throws; a test failure if it throws none.
template <class Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const fixtures::Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected fixtures::Error, none thrown";
  return {};
}

// Every part (a file, a dataset or tensor, an expected and a found value) is in the message.
inline void expect_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nlacks: " << part;
}

}  // namespace moecheck::test
