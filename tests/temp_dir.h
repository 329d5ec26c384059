// A fresh directory under the system temp folder, removed with everything in it when the object
// goes out of scope (the property and suite tests write fixtures into it).
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace moecheck_test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "moecheck_") {
    path_ = std::filesystem::temp_directory_path() / (prefix + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace moecheck_test
