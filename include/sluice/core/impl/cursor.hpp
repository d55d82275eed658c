// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/detail/file.hpp>

#include <charconv>
#include <fstream>
#include <sstream>

namespace sluice {
inline namespace v0 {

namespace detail {
inline std::string escape_checkpoint_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '\t' || c == '\n' || c == '\r' || c == '%') {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[static_cast<unsigned char>(c) >> 4];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}
inline bool unescape_checkpoint_name(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    unsigned value = 0;
    auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
    if (ec != std::errc{} || p != in.data() + i + 3) return false;
    out += static_cast<char>(value);
    i += 2;
  }
  return true;
}
}  // namespace detail

inline checkpoint_store::checkpoint_store(std::filesystem::path path, std::chrono::milliseconds min_interval)
    : path_(std::move(path)), min_interval_(min_interval) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (std::filesystem::exists(path_))
      throw error(make_error_code(errc::io_failure), "checkpoint " + path_.string() + ": cannot be read");
    return;
  }
  std::string line, name;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    auto tab = line.find('\t');
    std::uint64_t position = 0;
    auto [p, ec] = tab == std::string::npos
                       ? std::from_chars_result{line.data(), std::errc::invalid_argument}
                       : std::from_chars(line.data(), line.data() + tab, position);
    if (ec != std::errc{} || p != line.data() + tab ||
        !detail::unescape_checkpoint_name(std::string_view(line).substr(tab + 1), name))
      throw error(make_error_code(errc::corrupt_object),
                  "checkpoint " + path_.string() + " line " + std::to_string(number) +
                      ": expected `position<TAB>name`");
    positions_[name] = position;
  }
}

inline std::pair<bool, std::uint64_t> checkpoint_store::get(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = positions_.find(name);
  if (it == positions_.end()) return {false, 0};
  return {true, it->second};
}

inline void checkpoint_store::put(std::string_view name, std::uint64_t position) {
  std::lock_guard lock(mutex_);
  auto it = positions_.find(name);
  if (it == positions_.end()) positions_.emplace(std::string(name), position);
  else it->second = position;
  dirty_ = true;
  if (enabled() && std::chrono::steady_clock::now() - last_write_ >= min_interval_) write_file();
}

inline void checkpoint_store::sync() {
  std::lock_guard lock(mutex_);
  if (enabled() && dirty_) write_file();
}

inline checkpoint_store::~checkpoint_store() {
  // What was committed stays committed even when the run ends with an exception.
  try {
    sync();
  } catch (...) {
    // A destructor cannot report it; the next run starts from the last checkpoint written.
  }
}

inline void checkpoint_store::write_file() {
  std::string text;
  for (const auto& [name, position] : positions_) {
    text += std::to_string(position);
    text += '\t';
    text += detail::escape_checkpoint_name(name);
    text += '\n';
  }
  detail::write_file_atomically(path_, text, "writing checkpoint");
  dirty_ = false;
  last_write_ = std::chrono::steady_clock::now();
}

}  // namespace v0
}  // namespace sluice
