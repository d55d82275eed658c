// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/json.hpp>
#include <sluice/format/transform/detail/sha256.hpp>
#include <sluice/format/transform/detail/survivors.hpp>

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::transform {
using sluice::operator|;

/// How transform::mask hides a value.
enum class mask_method {
  /// The lower-case hex SHA-256 of `salt` followed by the value's text (a string's characters,
  /// other values' compact JSON): equal values still join, the value cannot be read back, and
  /// without the salt it cannot be guessed by hashing a dictionary. Reproduce one with
  /// `printf '%s%s' "$salt" "$value" | sha256sum`.
  hash,
  /// The value is replaced by `replacement` (default `***`).
  redact,
};

/// Hides personal or secret fields of JSON records before they reach the lake.
///
/// `fields` are keys or dotted paths into nested objects (`card.number`; a key that itself
/// contains a dot is matched as such first). A field that is absent or null is left as it is;
/// any other value (string, number, object, ...) becomes a string: the hash or the replacement.
/// A record with none of the fields goes on byte for byte; the others are written back as
/// compact JSON.
///
/// Why SHA-256 of our own: the json component links no crypto library, so
/// detail/sha256.hpp is a small portable FIPS 180-4 implementation, checked against the
/// standard test vectors and sha256sum.
///
/// Errors: a record that is not a JSON object is rejected with errc::invalid_record naming the
/// byte of the parse error. Invalid configuration (no fields, an empty path segment, hashing
/// without a salt) throws config_error from validate().
/// Allocation: records are parsed into an arena reused from record to record; output goes
/// into a batch reused from push to push.
///
/// @code
///   auto p = connector::files{.path = "/data/in"}
///          | transform::mask{.fields = {"email", "card.number"}, .method = transform::mask_method::hash,
///                            .salt = secrets.mask_salt}
///          | batch::by_size{}
///          | format::jsonl{}
///          | store::local{.root = "./lake"};
/// @endcode
struct mask {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = record_batch;

  /// Keys or dotted paths of the values to hide.
  std::vector<std::string> fields;
  mask_method method = mask_method::hash;
  /// Prefix of every hashed value (method hash; required there).
  std::string salt;
  /// What replaces a value (method redact).
  std::string replacement = "***";

  /// Throws config_error naming the field and what is wrong.
  void validate() const {
    if (fields.empty()) throw config_error("transform::mask.fields is empty: name at least one field to mask");
    for (const auto& f : fields) {
      if (f.empty() || f.front() == '.' || f.back() == '.' || f.find("..") != std::string::npos)
        throw config_error("transform::mask.fields: `" + f + "` is not a key or dotted path (empty segment)");
    }
    if (method == mask_method::hash && salt.empty())
      throw config_error("transform::mask.salt is empty: an unsalted hash of an e-mail or card number can be "
                         "reversed by hashing a dictionary; set .salt to a secret");
  }

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    validate();
    return node<decltype(make_next())>(*this, ctx, make_next);
  }
};

/// The running mask stage.
template <class Next>
class mask::node {
 public:
  template <class MakeNext>
  node(const mask& config, run_context& ctx, MakeNext&& make_next) : config_(config), ctx_(ctx), next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void push(record_batch&& in) {
    out_.begin(in);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const record_ref r = in[i];
      boost::json::object* o = reader_.parse_object(r, ctx_, "transform::mask");
      if (o == nullptr) {
        out_.remove(i);
        continue;
      }
      bool changed = false;
      for (const auto& field : config_.fields) {
        boost::json::value* v = format::find_path(*o, field);
        if (v == nullptr || v->is_null()) continue;
        hidden_.clear();
        if (config_.method == mask_method::hash) {
          text_.clear();
          format::append_text(text_, *v);
          detail::sha256::append_hex(hidden_, config_.salt, text_);
        } else {
          hidden_ = config_.replacement;
        }
        *v = boost::json::string_view(hidden_);  // stored in the record's arena
        changed = true;
      }
      if (!changed) {
        out_.keep(i);
        continue;
      }
      scratch_.clear();
      format::append_json(scratch_, *o);
      out_.replace(i, scratch_);
    }
    out_.finish(next_);
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  const mask config_;
  run_context& ctx_;
  format::json_reader reader_;
  std::string text_, hidden_, scratch_;
  detail::survivors out_;
  Next next_;
};

}  // namespace sluice::transform
