// The quarantine ledger (properties/quarantine.json): known failures, each citing the issue that
// tracks it (anchors.md A4, FlashInfer's fuzz ledger). A quarantined padding target is not drawn
// by the generators; a ledger test checks every entry cites an issue and that each entry still
// fails (an unexpected pass means the entry should go).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reference/padding/plan.h"

namespace moecheck::properties {

struct QuarantineEntry {
  std::string id;        // short name, unique
  std::string property;  // "P1", ... or "*"
  // Alternatives; empty matches anything.
  std::vector<std::string> rulesets, methods, backends, platforms;
  // Only plans that pad H or I and leave a padded weight or scale region uninitialized (torch.empty).
  bool only_uninitialized_padding = false;
  std::string issue;   // "owner/repo#123", "owner/repo PR #123" or "moecheck#5"
  std::string reason;  // what fails and why
};

// $MOECHECK_QUARANTINE if set, else properties/quarantine.json in the source tree.
std::filesystem::path quarantine_path();
// Parses and validates; std::runtime_error naming the file and the entry on a bad ledger
// (missing issue reference included).
std::vector<QuarantineEntry> read_quarantine(const std::filesystem::path& file);
const std::vector<QuarantineEntry>& quarantine();  // quarantine_path(), read once

// Whether `issue` cites a tracker entry: "<owner>/<repo>#<n>", "<owner>/<repo> PR #<n>" or "moecheck#<n>".
bool cites_issue(const std::string& issue);

// The entry that quarantines this plan for `property`, or nullptr.
const QuarantineEntry* quarantined(const reference::padding::Plan& plan, const std::string& property,
                                   const std::vector<QuarantineEntry>& ledger = quarantine());

}  // namespace moecheck::properties
