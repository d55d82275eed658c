// SPDX-License-Identifier: Apache-2.0
// The `sluice` command: reads a lake back and checks it.
//
//   sluice cat LAKE [--prefix P] [--keyring FILE]     print the records of every object under P
//   sluice cat LAKE/KEY [--keyring FILE]             print the records of one object
//   sluice verify LAKE [--prefix P] [--keyring FILE]  check every object's size, SHA-256 and
//                                                    CRC32C against its sidecar, decrypt and
//                                                    decode it, and count its records
//   sluice keyring create FILE [--namespace NS]       a new local keyring with one random key
//   sluice keyring rotate FILE                        add a key and make it current
//
// Exit status: 0 on success, 1 when an object fails, 2 on a usage error.
#include "lake.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage: sluice cat LAKE[/KEY] [--prefix P] [--keyring FILE]\n"
               "       sluice verify LAKE [--prefix P] [--keyring FILE]\n"
               "       sluice keyring create FILE [--namespace NS]\n"
               "       sluice keyring rotate FILE\n";
  return 2;
}

struct arguments {
  std::vector<std::string> positional;
  std::string prefix;
  std::string keyring;
  std::string key_namespace = "sluice";
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
    } else if (arg.starts_with("--")) {
      std::cerr << "sluice: unknown option " << arg << "\n";
      return std::nullopt;
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

/// A lake folder plus the objects to read: every complete object under the prefix, or the one
/// object the path names.
struct selection {
  std::filesystem::path root;
  std::vector<std::string> keys;
};

selection select(const std::string& path, const std::string& prefix) {
  std::filesystem::path p(path);
  if (std::filesystem::is_regular_file(p)) {
    // An object file: its sidecar sits beside it, so its folder serves as the lake root.
    return {p.parent_path().empty() ? "." : p.parent_path(), {p.filename().string()}};
  }
  if (!std::filesystem::is_directory(p))
    throw std::runtime_error(path + ": no such lake folder or object file");
  sluice::store::local_reader reader(p);
  return {p, reader.list(prefix)};
}

std::shared_ptr<const sluice::crypto::keyring> load_keyring(const std::string& file) {
  if (file.empty()) return nullptr;
  return std::make_shared<sluice::crypto::local_keyring>(file);
}

int cat(const arguments& a) {
  if (a.positional.size() != 2) return usage();
  selection s = select(a.positional[1], a.prefix);
  sluice::store::local_reader reader(s.root);
  sluice_cli::object_decoder decoder(load_keyring(a.keyring));
  std::string text, why;
  int failures = 0;
  for (const auto& key : s.keys) {
    sluice::error_code ec;
    auto o = reader.read(key, ec);
    if (ec) {
      std::cerr << "sluice: " << (s.root / key).string() << ": " << ec.message() << "\n";
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
}

int verify(const arguments& a) {
  if (a.positional.size() != 2) return usage();
  selection s = select(a.positional[1], a.prefix);
  sluice::store::local_reader reader(s.root);
  sluice_cli::object_decoder decoder(load_keyring(a.keyring));
  std::string text, why;
  std::size_t failures = 0, records = 0;
  for (const auto& key : s.keys) {
    if (auto ec = reader.verify(key, why)) {
      std::cout << "FAIL " << key << ": " << why << "\n";
      ++failures;
      continue;
    }
    auto o = reader.read(key);
    if (auto ec = decoder.decode(o, text, why)) {
      std::cout << "FAIL " << key << ": " << why << "\n";
      ++failures;
      continue;
    }
    // Line-based formats: one record per line (CSV objects may add a header line).
    auto lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
    bool header = o.info.content_type == "text/csv" && lines == o.info.record_count + 1;
    if (lines != o.info.record_count && !header) {
      std::cout << "FAIL " << key << ": " << lines << " records decoded, the sidecar says " << o.info.record_count
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
    if (command == "cat") return cat(*a);
    if (command == "verify") return verify(*a);
    if (command == "keyring") return keyring(*a);
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return 1;
  }
}
