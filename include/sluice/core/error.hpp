// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {
inline namespace v0 {

/// The error vocabulary: Boost.System's, shared with Asio and Beast so nothing converts.
using error_code = boost::system::error_code;
/// A value or an error_code (std::expected is C++23).
template <class T>
using result = boost::system::result<T>;

/// Why a record, an object or an operation failed. Values are stable: they appear in error
/// outputs and metrics.
enum class errc {
  ok = 0,
  invalid_record = 1,         ///< a record is not what the stage expects (bad JSON, wrong type)
  record_too_large,           ///< a record exceeds the configured size limit
  transform_failed,           ///< a user transform threw or reported failure
  validation_failed,          ///< a validate stage rejected the record
  partition_limit_exceeded,   ///< Firehose's activePartitionExceeded
  buffer_full,                ///< back-pressure: the buffer refused the batch
  corrupt_object,             ///< an object's bytes do not parse or a checksum differs
  truncated_object,           ///< an object ends before its format says it does
  authentication_failed,      ///< a tag or signature does not verify (wrong key or tampering)
  key_not_found,              ///< the keyring has no key of that name
  unsupported_format,         ///< a format, suite or version this build does not read
  io_failure,                 ///< the operating system refused a read or write
  store_refused,              ///< an object store answered a request with an error
  store_unreachable,          ///< an object store could not be reached, or stopped answering
};

namespace detail {
class errc_category final : public boost::system::error_category {
 public:
  constexpr errc_category() noexcept : boost::system::error_category(0x51c3e5a1d9c20001ULL) {}
  const char* name() const noexcept override { return "sluice"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::invalid_record: return "invalid record";
      case errc::record_too_large: return "record too large";
      case errc::transform_failed: return "transform failed";
      case errc::validation_failed: return "validation failed";
      case errc::partition_limit_exceeded: return "activePartitionExceeded";
      case errc::buffer_full: return "buffer full";
      case errc::corrupt_object: return "corrupt object";
      case errc::truncated_object: return "truncated object";
      case errc::authentication_failed: return "authentication failed";
      case errc::key_not_found: return "key not found";
      case errc::unsupported_format: return "unsupported format";
      case errc::io_failure: return "I/O failure";
      case errc::store_refused: return "object store refused the request";
      case errc::store_unreachable: return "object store unreachable";
    }
    return "unknown sluice error";
  }
};
}  // namespace detail

/// The category of sluice::errc values.
inline const boost::system::error_category& sluice_category() noexcept {
  static constexpr detail::errc_category category;
  return category;
}

inline error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), sluice_category()};
}

/// Thrown for invalid configuration before the first record is read. The message starts with
/// `sluice: ` and names the stage, the field, the value and what is allowed:
/// `sluice: codec::zstd.level = 40: must be 1..22`.
class config_error : public std::invalid_argument {
 public:
  explicit config_error(const std::string& what) : std::invalid_argument("sluice: " + what) {}
};

/// Thrown by blocking operations when the error_code overload would have reported one; the
/// message carries what was being done ("reading lake/x.zst: corrupt object").
class error : public boost::system::system_error {
 public:
  error(error_code ec, const std::string& what) : boost::system::system_error(ec, what) {}
};

/// Throws sluice::error when `ec` is set: the throwing twin of every error_code& overload.
inline void throw_if(error_code ec, const std::string& what) {
  if (ec) throw error(ec, what);
}

}  // namespace v0
}  // namespace sluice

template <>
struct boost::system::is_error_code_enum<sluice::errc> : std::true_type {};
