// SPDX-License-Identifier: Apache-2.0
#pragma once
// The little XML that S3 speaks: flat documents whose elements never nest inside an element of
// the same name (ListBucketResult/Contents/Key, Error/Code, ...). Reading them needs only
// "the text of the next <Name> after here", entity decoding, and escaping for request bodies.
#include <sluice/core/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::store::detail {

/// Appends `text` with XML's five special characters escaped.
inline void xml_escape(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
}

/// Decodes the predefined entities and numeric character references (as UTF-8).
inline std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    std::size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    std::string_view name = text.substr(i + 1, semi - i - 1);
    if (name == "amp") out += '&';
    else if (name == "lt") out += '<';
    else if (name == "gt") out += '>';
    else if (name == "quot") out += '"';
    else if (name == "apos") out += '\'';
    else if (name.size() > 1 && name[0] == '#') {
      std::uint32_t cp = 0;
      bool hex = name[1] == 'x' || name[1] == 'X';
      for (char c : name.substr(hex ? 2 : 1)) {
        int d = (c >= '0' && c <= '9') ? c - '0'
                : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                 : -1;
        if (d < 0) break;
        cp = cp * (hex ? 16u : 10u) + static_cast<std::uint32_t>(d);
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += text.substr(i, semi - i + 1);  // unknown entity: keep it as written
    }
    i = semi;
  }
  return out;
}

/// A read position in an S3 XML document.
class xml_reader {
 public:
  explicit xml_reader(std::string_view doc) : doc_(doc) {}

  /// The raw content of the next element `name` after the read position (nested markup
  /// included), and moves past it; nullopt when there is none. `<Name/>` gives "".
  std::optional<std::string_view> next(std::string_view name) {
    std::size_t from = pos_;
    for (;;) {
      std::size_t open = doc_.find('<', from);
      if (open == std::string_view::npos) return std::nullopt;
      std::size_t after = open + 1 + name.size();
      if (doc_.compare(open + 1, name.size(), name) == 0 && after < doc_.size() &&
          (doc_[after] == '>' || doc_[after] == ' ' || doc_[after] == '/')) {
        std::size_t head_end = doc_.find('>', after);
        if (head_end == std::string_view::npos) return std::nullopt;
        if (doc_[head_end - 1] == '/') {  // <Name/>
          pos_ = head_end + 1;
          return std::string_view{};
        }
        std::string close = "</" + std::string(name) + ">";
        std::size_t end = doc_.find(close, head_end + 1);
        if (end == std::string_view::npos) return std::nullopt;
        pos_ = end + close.size();
        return doc_.substr(head_end + 1, end - head_end - 1);
      }
      from = open + 1;
    }
  }

  /// The decoded text of the next element `name`, or `fallback` when there is none.
  std::string text(std::string_view name, std::string_view fallback = {}) {
    auto v = next(name);
    return v ? xml_unescape(*v) : std::string(fallback);
  }

 private:
  std::string_view doc_;
  std::size_t pos_ = 0;
};

/// The decoded text of the first element `name` in `doc` ("" when absent).
inline std::string xml_text(std::string_view doc, std::string_view name) {
  return xml_reader(doc).text(name);
}

}  // namespace sluice::store::detail
