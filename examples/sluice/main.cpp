// SPDX-License-Identifier: Apache-2.0
// The `sluice` command: reads a lake back and checks it, in a local folder or in S3.
//
//   sluice cat LAKE [--prefix P] [--keyring FILE]     print the records of every object under P
//   sluice cat LAKE/KEY [--keyring FILE]             print the records of one object
//   sluice verify LAKE [--prefix P] [--keyring FILE]  check every object's size, SHA-256 and
//                                                    CRC32C against its sidecar, decrypt and
//                                                    decode it, and count its records
//   sluice s3 uploads s3://BUCKET/PREFIX [--abort] [--older-than SECONDS]
//                                                    list the multipart uploads in progress under
//                                                    the prefix (key, upload id, initiated); with
//                                                    --abort abort them (only those older than
//                                                    SECONDS when given)
//   sluice keyring create FILE [--namespace NS]       a new local keyring with one random key
//   sluice keyring rotate FILE                        add a key and make it current
//
// LAKE is a folder or `s3://BUCKET/PREFIX`. In S3 an object's facts are its `x-amz-meta-*`
// metadata instead of a sidecar file. `s3://BUCKET/PREFIX/KEY` names one object when an object
// has exactly that key (a HeadObject decides), and the objects under it otherwise; a url ending
// in '/' always names a prefix. A prefix without objects is an error: in S3 it cannot be told
// from a mistyped one. S3 is reached as the AWS CLI reaches it: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE and the shared files, AWS_REGION,
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for an S3-compatible server.
//
// Abort only uploads no writer still needs: store::s3 resumes its own unfinished uploads after
// a crash, so give --older-than a margin longer than a pipeline may stay down.
//
// Exit status: 0 on success, 1 when an object fails (or a request or an abort fails), 2 on a
// usage error.
#include "lake.hpp"
#ifdef SLUICE_HAS_S3
#include <sluice/store/detail/civil_time.hpp>  // parse_rfc3339, for the times S3 reports
#include <sluice/store/s3_client.hpp>
#endif

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage: sluice cat LAKE[/KEY] [--prefix P] [--keyring FILE]\n"
               "       sluice verify LAKE [--prefix P] [--keyring FILE]\n"
               "       sluice s3 uploads s3://BUCKET/PREFIX [--abort] [--older-than SECONDS]\n"
               "       sluice keyring create FILE [--namespace NS]\n"
               "       sluice keyring rotate FILE\n"
               "LAKE is a folder or s3://BUCKET/PREFIX (credentials, region and endpoint from the AWS environment)\n";
  return 2;
}

struct arguments {
  std::vector<std::string> positional;
  std::string prefix;
  std::string keyring;
  std::string key_namespace = "sluice";
  bool abort = false;
  std::optional<std::uint64_t> older_than;  // seconds
};

std::optional<arguments> parse(int argc, char** argv) {
  arguments a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) {
        std::cerr << "sluice: " << arg << " needs a value\n";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (arg == "--prefix" || arg == "--keyring" || arg == "--namespace") {
      auto v = value();
      if (!v) return std::nullopt;
      (arg == "--prefix" ? a.prefix : arg == "--keyring" ? a.keyring : a.key_namespace) = *v;
    } else if (arg == "--abort") {
      a.abort = true;
    } else if (arg == "--older-than") {
      auto v = value();
      if (!v) return std::nullopt;
      std::uint64_t seconds = 0;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), seconds);
      if (v->empty() || ec != std::errc{} || end != v->data() + v->size()) {
        std::cerr << "sluice: --older-than " << *v << ": must be a whole number of seconds\n";
        return std::nullopt;
      }
      a.older_than = seconds;
    } else if (arg.starts_with("--")) {
      std::cerr << "sluice: unknown option " << arg << "\n";
      return std::nullopt;
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

std::shared_ptr<const sluice::crypto::keyring> load_keyring(const std::string& file) {
  if (file.empty()) return nullptr;
  return std::make_shared<sluice::crypto::local_keyring>(file);
}

int cat(const arguments& a) {
  if (a.positional.size() != 2) return usage();
  return sluice_cli::with_lake(a.positional[1], a.prefix, [&](auto& s) {
    sluice_cli::object_decoder decoder(load_keyring(a.keyring));
    std::string text, why;
    int failures = 0;
    for (const auto& key : s.keys) {
      sluice::store::stored_object o;
      try {
        o = s.reader.read(key);
      } catch (const std::exception& e) {  // says which object and why (a sidecar, an S3 error code)
        std::cerr << "sluice: " << e.what() << "\n";
        ++failures;
        continue;
      }
      if (auto dec = decoder.decode(o, text, why)) {
        std::cerr << "sluice: " << why << "\n";
        ++failures;
        continue;
      }
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return failures ? 1 : 0;
  });
}

int verify(const arguments& a) {
  if (a.positional.size() != 2) return usage();
  return sluice_cli::with_lake(a.positional[1], a.prefix, [&](auto& s) {
    sluice_cli::object_decoder decoder(load_keyring(a.keyring));
    std::string text, why;
    std::size_t failures = 0, records = 0;
    for (const auto& key : s.keys) {
      // One read per object (one GET on S3): the size is checked by read(), the checksums here.
      sluice::store::stored_object o;
      try {
        o = s.reader.read(key);
      } catch (const std::exception& e) {
        std::cout << "FAIL " << key << ": " << e.what() << "\n";
        ++failures;
        continue;
      }
      if (auto ec = sluice::store::verify_checksums(o, "object " + s.reader.location(key), why)) {
        std::cout << "FAIL " << key << ": " << why << "\n";
        ++failures;
        continue;
      }
      if (auto ec = decoder.decode(o, text, why)) {
        std::cout << "FAIL " << key << ": " << why << "\n";
        ++failures;
        continue;
      }
      // Line-based formats: one record per line (CSV objects may add a header line).
      auto lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
      bool header = o.info.content_type == "text/csv" && lines == o.info.record_count + 1;
      if (lines != o.info.record_count && !header) {
        std::cout << "FAIL " << key << ": " << lines << " records decoded, its facts say " << o.info.record_count
                  << "\n";
        ++failures;
        continue;
      }
      records += o.info.record_count;
      std::cout << "ok   " << key << " (" << o.info.record_count << " records)\n";
    }
    std::cout << s.keys.size() - failures << " of " << s.keys.size() << " objects verified, " << records
              << " records\n";
    return failures ? 1 : 0;
  });
}

/// `sluice s3 uploads URL [--abort] [--older-than SECONDS]`.
int s3(const arguments& a) {
  if (a.positional.size() != 3 || a.positional[1] != "uploads") return usage();
  const std::string& url = a.positional[2];
#ifdef SLUICE_HAS_S3
  auto where = sluice::store::s3_location::parse(url, "sluice s3 uploads");
  sluice::store::s3_client client(sluice::store::s3_connection{});
  const std::string location = "s3://" + where.bucket + "/" + where.prefix;
  auto uploads = client.list_multipart_uploads(where.bucket, where.prefix);
  const auto now = std::chrono::system_clock::now();
  std::size_t chosen = 0, aborted = 0, failures = 0;
  for (const auto& u : uploads) {
    if (a.older_than) {
      sluice::timestamp initiated;
      if (!sluice::store::detail::parse_rfc3339(u.initiated, initiated)) {
        std::cerr << "sluice: upload " << u.upload_id << " of s3://" << where.bucket << "/" << u.key
                  << ": the server says it was initiated at `" << u.initiated << "`, not an RFC 3339 time\n";
        ++failures;
        continue;
      }
      if (now - initiated < std::chrono::seconds(*a.older_than)) continue;
    }
    ++chosen;
    std::cout << u.key << '\t' << u.upload_id << '\t' << u.initiated << "\n";
    if (!a.abort) continue;
    try {
      client.abort_multipart_upload(where.bucket, u.key, u.upload_id);
      ++aborted;
    } catch (const std::exception& e) {
      std::cerr << "sluice: aborting " << u.key << " (upload " << u.upload_id << "): " << e.what() << "\n";
      ++failures;
    }
  }
  const std::string age = a.older_than ? " older than " + std::to_string(*a.older_than) + " s" : "";
  if (a.abort)
    std::cout << "aborted " << aborted << " of " << uploads.size() << " multipart uploads in progress under "
              << location << (age.empty() ? "" : " (those" + age + ")") << "\n";
  else
    std::cout << chosen << " of " << uploads.size() << " multipart uploads in progress under " << location
              << (age.empty() ? "" : " are" + age) << "\n";
  return failures ? 1 : 0;
#else
  std::cerr << "sluice: " << url << ": this sluice was built without S3 support (libcurl was not found)\n";
  return 1;
#endif
}

int keyring(const arguments& a) {
  if (a.positional.size() != 3) return usage();
  const std::string& file = a.positional[2];
  if (a.positional[1] == "create") {
    if (std::filesystem::exists(file)) {
      std::cerr << "sluice: " << file << " exists; rotate it instead of replacing its keys\n";
      return 1;
    }
    sluice::crypto::local_keyring::create(file, a.key_namespace);
    std::cout << "created " << file << "\n";
    return 0;
  }
  if (a.positional[1] == "rotate") {
    std::cout << "new current key " << sluice::crypto::local_keyring::rotate(file) << " in " << file << "\n";
    return 0;
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  auto a = parse(argc, argv);
  if (!a || a->positional.empty()) return usage();
  try {
    const std::string& command = a->positional[0];
    if ((a->abort || a->older_than) && command != "s3") {
      std::cerr << "sluice: --abort and --older-than belong to `sluice s3 uploads`\n";
      return 2;
    }
    if (command == "cat") return cat(*a);
    if (command == "verify") return verify(*a);
    if (command == "s3") return s3(*a);
    if (command == "keyring") return keyring(*a);
    return usage();
  } catch (const std::exception& e) {
    // sluice::config_error starts with "sluice: " already.
    std::string_view what = e.what();
    std::cerr << (what.starts_with("sluice: ") ? "" : "sluice: ") << what << "\n";
    return 1;
  }
}
