// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/core/concepts.hpp>
#include <sluice/core/context.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/object.hpp>
#include <sluice/core/pipeline.hpp>
#include <sluice/core/record_batch.hpp>
#include <sluice/format/detail/object_facts.hpp>
#include <sluice/format/json.hpp>

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::format {
using sluice::operator|;

/// CSV (RFC 4180) from JSON records: one row per record, one object per batch.
///
/// Each record is a JSON object; each column takes the field of that name (a key as it is,
/// else a dotted path into nested objects): strings as they are, numbers and booleans as JSON
/// text, null or missing as an empty field, arrays and objects as compact JSON. A field that
/// holds the delimiter, a double quote, CR or LF is quoted and its quotes doubled; lines end
/// with `line_end` (CRLF, as RFC 4180 says, by default). With `header`, the first line names
/// the columns. With no `columns`, each object takes the keys of its first record, in order
/// (later records' other keys are not written).
///
/// Streamed objects (object_piece): each batch piece becomes an object piece with the same
/// object_piece, and the object is the concatenation of its pieces, so the header row comes
/// once, before the object's first row (in its first piece unless the format rejected every
/// record of that piece), and inferred columns are those of the object's first record, kept
/// across its pieces. A piece always goes on, empty if need be (it may end its object); a
/// whole batch whose records were all rejected makes no object.
///
/// Errors: a record that is not a JSON object goes to the error output with
/// errc::invalid_record and a reason naming the byte of the parse error (`invalid JSON at byte
/// 11: syntax error`) or the kind it is. validate() throws config_error for a delimiter that
/// cannot delimit (`"`, CR, LF) or a line end other than CRLF or LF.
/// Allocation: records are parsed into an arena reused from record to record; the object's
/// body is swapped with a buffer the stage keeps, so its capacity is reused (as format::jsonl).
/// A streamed object holds a little state (its inferred columns) from its first piece to its
/// last.
///
/// @code
///   auto p = connector::postgres{.table = "orders"}
///          | batch::by_size{}
///          | format::csv{.columns = {"id", "name", "address.city"}, .header = true}
///          | codec::gzip{}
///          | store::local{.root = "./lake"};
/// @endcode
struct csv {
  using stage_concept = stage_tag;
  using input_type = record_batch;
  using output_type = object;
  static constexpr const char* content_type = "text/csv";
  static constexpr const char* extension = ".csv";

  /// The fields written, in order; empty: the keys of each object's first record.
  std::vector<std::string> columns;
  /// Whether each object starts with a line of column names.
  bool header = true;
  char delimiter = ',';
  /// "\r\n" (RFC 4180) or "\n".
  std::string line_end = "\r\n";

  /// Throws config_error naming the field and what is allowed.
  void validate() const {
    if (delimiter == '"' || delimiter == '\r' || delimiter == '\n')
      throw config_error(std::string("format::csv.delimiter = ") +
                         (delimiter == '"' ? "'\"'" : delimiter == '\r' ? "'\\r'" : "'\\n'") +
                         ": must not be a quote, CR or LF");
    if (line_end != "\r\n" && line_end != "\n")
      throw config_error("format::csv.line_end: must be \"\\r\\n\" (RFC 4180) or \"\\n\"");
  }

  template <class Next>
  class node;

  template <class MakeNext>
  auto open(run_context& ctx, MakeNext&& make_next) const {
    validate();
    return node<decltype(make_next())>(*this, ctx, make_next);
  }
};

/// The running csv stage.
template <class Next>
class csv::node {
 public:
  template <class MakeNext>
  node(const csv& config, run_context& ctx, MakeNext&& make_next) : config_(config), ctx_(ctx), next_(make_next()) {}
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  void push(record_batch&& batch) {
    object o;
    detail::take_body(o, spare_, batch.payload_bytes() + batch.size() * config_.line_end.size());
    detail::begin_object(ctx_, batch, o, content_type);
    // A piece of a streamed object continues what its earlier pieces started: the header and
    // the inferred columns are per object. Looked up once per batch, never per record.
    const object_piece piece = batch.piece();
    streamed_object* state = nullptr;
    if (!piece.whole()) {
      state = &open_[piece.object_id];
      if (piece.first) *state = {};
    }
    const std::vector<std::string>* columns = !config_.columns.empty()                 ? &config_.columns
                                              : state != nullptr && state->columns_known ? &state->columns
                                                                                         : nullptr;
    bool header = config_.header && (state == nullptr || !state->header_done);
    for (const record_ref r : batch) {
      const boost::json::object* row = reader_.parse_object(r, ctx_, "format::csv");
      if (row == nullptr) continue;
      if (columns == nullptr) {
        std::vector<std::string>& names = state != nullptr ? state->columns : inferred_;
        names.clear();
        for (const auto& kv : *row) names.emplace_back(kv.key());
        columns = &names;
        if (state != nullptr) state->columns_known = true;
      }
      if (header) {
        write_row_of_names(o.body, *columns);
        header = false;
      }
      bool first = true;
      for (const auto& column : *columns) {
        if (!first) o.body += config_.delimiter;
        first = false;
        const boost::json::value* v = find_path(*row, column);
        if (v == nullptr) continue;
        field_.clear();
        append_text(field_, *v);
        write_field(o.body, field_);
      }
      o.body += config_.line_end;
      detail::add_record(o, r);
    }
    give_recycled(std::move(batch));  // formatted: its capacity serves the batcher again
    if (state != nullptr) {
      if (piece.last) open_.erase(piece.object_id);
      else state->header_done = !header;
    }
    if (detail::end_object(o, spare_)) next_.push(std::move(o));
  }
  void flush() { next_.flush(); }
  void tick() { next_.tick(); }

 private:
  void write_row_of_names(std::string& out, const std::vector<std::string>& names) {
    bool first = true;
    for (const auto& name : names) {
      if (!first) out += config_.delimiter;
      first = false;
      write_field(out, name);
    }
    out += config_.line_end;
  }
  /// RFC 4180 2.6/2.7: quote a field holding the delimiter, a quote, CR or LF; double quotes.
  void write_field(std::string& out, std::string_view field) const {
    bool quote = false;
    for (char c : field) {
      if (c == config_.delimiter || c == '"' || c == '\r' || c == '\n') {
        quote = true;
        break;
      }
    }
    if (!quote) {
      out.append(field);
      return;
    }
    out += '"';
    for (char c : field) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }

  /// What a streamed object carries from piece to piece.
  struct streamed_object {
    std::vector<std::string> columns;  // inferred from its first record (no csv.columns)
    bool columns_known = false;
    bool header_done = false;  // written, or none wanted
  };

  const csv config_;
  run_context& ctx_;
  json_reader reader_;
  std::vector<std::string> inferred_;
  std::unordered_map<std::uint64_t, streamed_object> open_;  // by object_id, first piece to last
  std::string field_;
  spare_buffer spare_;
  Next next_;
};

}  // namespace sluice::format
