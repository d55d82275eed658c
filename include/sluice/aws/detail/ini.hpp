// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>

#include <map>
#include <string>
#include <string_view>

// The AWS shared config and credentials file format, as botocore reads it (Python configparser):
// `[section]` headers, `key = value` properties, whole-line `#` / `;` comments, indented
// continuation lines, and nested blocks (`s3 =` followed by indented `key = value` lines, kept
// here as `s3.key`).

namespace sluice::aws::detail {

/// One value and the line it came from, for error messages.
struct ini_value {
  std::string value;
  int line = 0;
};

/// A section's properties by lower-case key; nested ones as "parent.child".
using ini_section = std::map<std::string, ini_value>;

/// The sections of one file by name as written (trimmed), in the order of std::map. A section
/// that appears twice is merged, later keys winning.
struct ini_file {
  std::string path;  ///< for messages
  std::map<std::string, ini_section> sections;
  std::map<std::string, int> section_lines;  ///< first line of each section
};

/// Parses `text` (the contents of `path`). Errors: sluice::config_error naming the file and
/// the line for a property outside a section, a line that is neither a section, a property nor
/// a comment, an unclosed `[`, an empty section name or an indented line that is not
/// `key = value` under a nested block.
inline ini_file parse_ini(std::string_view text, std::string path) {
  ini_file out;
  out.path = std::move(path);
  auto fail = [&](int line, const std::string& what) {
    throw config_error("aws: " + out.path + " line " + std::to_string(line) + ": " + what);
  };
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  };
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (char& c : r)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return r;
  };

  ini_section* section = nullptr;
  std::string parent;        // key whose value is a nested block ("s3"), or empty
  ini_value* last = nullptr; // last top-level value, for continuation lines
  int number = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(at, end - at);
    at = end + 1;
    ++number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    const bool indented = raw.front() == ' ' || raw.front() == '\t';

    if (!indented && line.front() == '[') {
      const std::size_t close = line.find(']');
      if (close == std::string_view::npos) fail(number, "section header " + std::string(line) + " has no closing ']'");
      const std::string_view after = trim(line.substr(close + 1));
      if (!after.empty() && after.front() != '#' && after.front() != ';')
        fail(number, "unexpected text after section header: " + std::string(after));
      const std::string name(trim(line.substr(1, close - 1)));
      if (name.empty()) fail(number, "empty section name []");
      section = &out.sections[name];
      out.section_lines.emplace(name, number);
      parent.clear();
      last = nullptr;
      continue;
    }

    if (indented && section != nullptr && (!parent.empty() || last != nullptr)) {
      if (!parent.empty()) {
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos)
          fail(number, "expected 'key = value' inside the nested '" + parent + " =' block, got: " + std::string(line));
        const std::string key = lower(trim(line.substr(0, eq)));
        if (key.empty()) fail(number, "nested property without a name: " + std::string(line));
        (*section)[parent + "." + key] = {std::string(trim(line.substr(eq + 1))), number};
      } else {
        // configparser continues the previous value on an indented line.
        last->value += '\n';
        last->value += line;
      }
      continue;
    }

    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      fail(number, "expected [section], 'key = value' or a comment, got: " + std::string(line));
    if (section == nullptr) fail(number, "property before the first [section]: " + std::string(line));
    const std::string key = lower(trim(line.substr(0, eq)));
    if (key.empty()) fail(number, "property without a name: " + std::string(line));
    const std::string_view value = trim(line.substr(eq + 1));
    auto& slot = (*section)[key];
    slot = {std::string(value), number};
    if (value.empty()) {
      parent = key;  // indented lines that follow form a nested block
      last = nullptr;
    } else {
      parent.clear();
      last = &slot;
    }
  }
  return out;
}

}  // namespace sluice::aws::detail
