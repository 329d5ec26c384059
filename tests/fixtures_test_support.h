// Helpers shared by the fixtures tests (hdf5_io_test, safetensors_test): catching a
// fixtures::Error and checking that its message names what it must.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <initializer_list>
#include <random>
#include <string>
#include <system_error>

#include "fixtures/hdf5_io.h"

namespace moecheck::test {

// A fresh directory per test (named after the test, the process and a random number), removed
// afterwards; file(name) is a path inside it.
class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() / (prefix_ + std::string(test->name()) + "-" +
                                                     std::to_string(::getpid()) + "-" + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }

  std::string prefix_;
  std::filesystem::path dir_;
};

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
