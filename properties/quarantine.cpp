#include "properties/quarantine.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace moecheck::properties {

namespace pd = reference::padding;

std::filesystem::path quarantine_path() {
  if (const char* env = std::getenv("MOECHECK_QUARANTINE"); env && *env) return env;
  return std::filesystem::path(MOECHECK_SOURCE_DIR) / "properties" / "quarantine.json";
}

namespace {
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool name_chars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}
}  // namespace

// (Parsed by hand: std::regex trips g++ 12's -Wmaybe-uninitialized in the sanitizer build.)
bool cites_issue(const std::string& text) {
  const std::string_view issue = text;
  const std::size_t hash = issue.rfind('#');
  if (hash == std::string_view::npos || !all_digits(issue.substr(hash + 1))) return false;
  std::string_view repo = issue.substr(0, hash);
  if (repo == "moecheck") return true;
  if (repo.ends_with(" PR "))
    repo.remove_suffix(4);
  else if (repo.ends_with(" "))
    repo.remove_suffix(1);
  const std::size_t slash = repo.find('/');
  return slash != std::string_view::npos && name_chars(repo.substr(0, slash)) && name_chars(repo.substr(slash + 1));
}

std::vector<QuarantineEntry> read_quarantine(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": expected a readable quarantine ledger, found none");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file.string() + ": not JSON: " + e.what());
  }
  const auto fail = [&](const std::string& where, const std::string& what) {
    throw std::runtime_error(file.string() + ": " + where + ": " + what);
  };
  if (!j.is_object() || j.value("schema", "") != "moecheck.quarantine/1")
    fail("/schema", "expected \"moecheck.quarantine/1\"");
  if (!j.contains("entries") || !j["entries"].is_array()) fail("/entries", "expected an array");
  std::vector<QuarantineEntry> out;
  for (std::size_t i = 0; i < j["entries"].size(); ++i) {
    const nlohmann::json& e = j["entries"][i];
    const std::string where = "/entries/" + std::to_string(i);
    if (!e.is_object()) fail(where, "expected an object");
    const auto str = [&](const char* key, bool required) {
      if (!e.contains(key)) {
        if (required) fail(where + "/" + key, "expected a string, found nothing");
        return std::string();
      }
      if (!e[key].is_string()) fail(where + "/" + key, "expected a string, found " + e[key].dump());
      return e[key].get<std::string>();
    };
    const auto list = [&](const char* key) {
      std::vector<std::string> v;
      if (!e.contains(key)) return v;
      if (!e[key].is_array()) fail(where + "/" + key, "expected an array of strings");
      for (const auto& s : e[key]) {
        if (!s.is_string()) fail(where + "/" + key, "expected an array of strings");
        v.push_back(s.get<std::string>());
      }
      return v;
    };
    QuarantineEntry q;
    q.id = str("id", true);
    q.property = str("property", true);
    q.rulesets = list("rulesets");
    q.methods = list("methods");
    q.backends = list("backends");
    q.platforms = list("platforms");
    q.only_uninitialized_padding = e.value("only_uninitialized_padding", false);
    q.issue = str("issue", true);
    q.reason = str("reason", true);
    if (!cites_issue(q.issue))
      fail(where + "/issue", "expected an issue reference (owner/repo#N, owner/repo PR #N or moecheck#N), found \"" +
                                 q.issue + "\"");
    if (q.reason.empty()) fail(where + "/reason", "expected the reason, found an empty string");
    out.push_back(std::move(q));
  }
  return out;
}

const std::vector<QuarantineEntry>& quarantine() {
  static const std::vector<QuarantineEntry> ledger = read_quarantine(quarantine_path());
  return ledger;
}

namespace {
bool any_of(const std::vector<std::string>& alternatives, std::string_view value) {
  return alternatives.empty() || std::find(alternatives.begin(), alternatives.end(), value) != alternatives.end();
}
bool leaves_poison(const pd::Plan& plan) {
  if (!plan.hidden_is_padded() && !plan.intermediate_is_padded()) return false;
  const auto uninit = [](const pd::FillValue& f) { return f.kind == pd::FillKind::kUninitialized; };
  return uninit(plan.fill.weight) || uninit(plan.fill.scale) ||
         (plan.has_post_load_padding() && (uninit(plan.post_load_fill.weight) || uninit(plan.post_load_fill.scale)));
}
}  // namespace

const QuarantineEntry* quarantined(const pd::Plan& plan, const std::string& property,
                                   const std::vector<QuarantineEntry>& ledger) {
  for (const QuarantineEntry& q : ledger) {
    if (q.property != "*" && q.property != property) continue;
    if (!any_of(q.rulesets, plan.ruleset) || !any_of(q.methods, plan.method) || !any_of(q.backends, plan.backend) ||
        !any_of(q.platforms, plan.platform.name))
      continue;
    if (q.only_uninitialized_padding && !leaves_poison(plan)) continue;
    return &q;
  }
  return nullptr;
}

}  // namespace moecheck::properties
