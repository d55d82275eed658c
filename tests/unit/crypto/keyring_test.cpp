// SPDX-License-Identifier: Apache-2.0
#include <sluice/crypto/keyring.hpp>

#include <sluice/crypto/envelope.hpp>
#include <sluice_test/support.hpp>

#include "esdk_test_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>

using namespace sluice;
namespace fs = std::filesystem;

namespace {
std::string context_bytes() {
  std::string s, why;
  REQUIRE(crypto::detail::serialize_context({{"purpose", "test"}}, s, why));
  return s;
}
/// The config_error message of loading `text` as a keyring file.
std::string load_error(const sluice_test::temp_dir& dir, const std::string& text) {
  auto file = dir / "keys.json";
  sluice_test::write_file(file, text);
  try {
    crypto::local_keyring ring(file);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("raw_aes_keyring wraps data keys in the ESDK raw AES layout", "[crypto][keyring]") {
  auto ring = esdk_test::test_keyring("lake", "key-1");
  crypto::data_key key;
  crypto::detail::random_bytes(key.bytes);
  auto ctx = context_bytes();
  crypto::encrypted_data_key edk = ring->wrap(key, ctx);
  CHECK(edk.provider_id == "lake");
  // key name ‖ u32 tag bits (128) ‖ u32 IV length (12) ‖ IV (12)
  REQUIRE(edk.provider_info.size() == 5 + 4 + 4 + 12);
  CHECK(edk.provider_info.substr(0, 5) == "key-1");
  CHECK(edk.provider_info.substr(5, 8) == std::string("\0\0\0\x80\0\0\0\x0c", 8));
  CHECK(edk.ciphertext.size() == 32 + 16);

  error_code ec;
  std::string reason;
  crypto::encrypted_data_key edks[] = {edk};
  crypto::data_key back = ring->unwrap(edks, ctx, ec, reason);
  REQUIRE_FALSE(ec);
  CHECK(back.bytes == key.bytes);

  // The context is the wrapping AAD: another context does not unwrap.
  back = ring->unwrap(edks, std::string_view(ctx).substr(0, ctx.size() - 1), ec, reason);
  CHECK(ec == errc::authentication_failed);
  CHECK_THAT(reason, Catch::Contains("lake/key-1 does not decrypt"));
  CHECK_THROWS_WITH(ring->unwrap(edks, ""), Catch::Contains("unwrapping the data key: the encrypted data key for "
                                                             "lake/key-1 does not decrypt"));
}

TEST_CASE("raw_aes_keyring refuses keys that are not AES-256", "[crypto][keyring]") {
  CHECK_THROWS_WITH(crypto::raw_aes_keyring::from_hex("ns", "k", "0011"),
                    "sluice: crypto::raw_aes_keyring(ns/k).key: 4 characters: must be 64 hex characters (32 bytes)");
  std::uint8_t short_key[16] = {};
  CHECK_THROWS_WITH(crypto::raw_aes_keyring("ns", "k", short_key),
                    "sluice: crypto::raw_aes_keyring(ns/k).key: 16 bytes: must be 32 bytes (AES-256)");
  std::uint8_t key[32] = {};
  CHECK_THROWS_WITH(crypto::raw_aes_keyring("", "k", key),
                    "sluice: crypto::raw_aes_keyring.key_namespace = \"\": must be 1..65535 bytes");
}

TEST_CASE("local_keyring::create writes a private file with one random key", "[crypto][keyring]") {
  sluice_test::temp_dir dir;
  auto file = dir / "keys.json";
  crypto::local_keyring::create(file, "lake");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto doc = boost::json::parse(sluice_test::read_file(file)).as_object();
  CHECK(doc.at("namespace").as_string() == "lake");
  CHECK(doc.at("current").as_string() == "key-1");
  std::string hex(doc.at("keys").as_object().at("key-1").as_string());
  CHECK(hex.size() == 64);
  CHECK(hex != std::string(64, '0'));

  crypto::local_keyring ring(file);
  CHECK(ring.key_id() == "lake/key-1");
  CHECK(ring.key_names() == std::vector<std::string>{"key-1"});

  // Its key is a plain raw AES key: the same key through raw_aes_keyring reads its messages.
  std::string message, plaintext;
  crypto::encrypt(ring, "hello", message);
  auto raw = crypto::raw_aes_keyring::from_hex("lake", "key-1", hex);
  REQUIRE(crypto::decrypt(raw, message, plaintext) == error_code{});
  CHECK(plaintext == "hello");

  // An existing keyring file is never overwritten: old objects need its keys.
  CHECK_THROWS_WITH(crypto::local_keyring::create(file, "lake"),
                    Catch::Contains("crypto::local_keyring::create: " + file.string() + ": File exists"));

  crypto::local_keyring::create(dir / "two.json", "lake");
  CHECK(boost::json::parse(sluice_test::read_file(dir / "two.json")).at("keys").at("key-1").as_string() != hex);
}

TEST_CASE("local_keyring::rotate adds a current key and old messages still decrypt", "[crypto][keyring]") {
  sluice_test::temp_dir dir;
  auto file = dir / "keys.json";
  crypto::local_keyring::create(file, "lake");
  crypto::local_keyring before(file);
  std::string old_message, new_message, plaintext;
  crypto::encrypt(before, "written before the rotation", old_message);

  CHECK(crypto::local_keyring::rotate(file) == "key-2");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(fs::exists(dir / "keys.json.tmp"));

  crypto::local_keyring after(file);
  CHECK(after.current() == "key-2");
  CHECK(after.key_names() == std::vector<std::string>{"key-1", "key-2"});
  REQUIRE(crypto::decrypt(after, old_message, plaintext) == error_code{});
  CHECK(plaintext == "written before the rotation");

  crypto::encrypt(after, "written after", new_message);
  CHECK(new_message.find("key-2") != std::string::npos);  // provider info names the key
  REQUIRE(crypto::decrypt(after, new_message, plaintext) == error_code{});
  CHECK(plaintext == "written after");

  // A reader that still has the old file lacks key-2, and says so.
  std::string reason;
  CHECK(crypto::decrypt(before, new_message, plaintext, nullptr, &reason) == errc::key_not_found);
  CHECK(reason == "encrypted data key: the message's data key is wrapped for lake/key-2; the keyring holds lake/key-1");

  CHECK(crypto::local_keyring::rotate(file, "2025-q1") == "2025-q1");
  CHECK(crypto::local_keyring(file).current() == "2025-q1");
  CHECK(crypto::local_keyring::rotate(file) == "key-4");
  CHECK_THROWS_WITH(crypto::local_keyring::rotate(file, "key-1"),
                    Catch::Contains("key `key-1` already exists"));
}

TEST_CASE("local_keyring files with errors name the file and the field", "[crypto][keyring]") {
  sluice_test::temp_dir dir;
  const std::string where = "sluice: crypto::local_keyring: " + (dir / "keys.json").string() + ": ";
  const std::string key = std::string(64, 'a');

  CHECK(load_error(dir, R"({"namespace": "lake", "keys": {"key-1": ")" + key + R"("}})") ==
        where + "field `current`: missing");
  CHECK(load_error(dir, R"({"current": "key-1", "keys": {"key-1": ")" + key + R"("}})") ==
        where + "field `namespace`: missing");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": "key-1"})") == where + "field `keys`: missing");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": 3, "keys": {"key-1": ")" + key + R"("}})") ==
        where + "field `current`: must be a string");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": "key-1", "keys": {"key-1": "abcd"}})") ==
        where + "field `keys.key-1`: must be 64 hex characters (a 32-byte AES-256 key), got 4 characters");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": "key-1", "keys": {"key-1": ")" + std::string(63, 'a') +
                            R"(z"}})") ==
        where + "field `keys.key-1`: must be 64 hex characters (a 32-byte AES-256 key), got 64 characters with a "
                "non-hex character");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": "key-2", "keys": {"key-1": ")" + key + R"("}})") ==
        where + "field `current` = \"key-2\": not one of the keys (lake/key-1)");
  CHECK(load_error(dir, R"({"namespace": "lake", "current": "key-1", "keys": {}})") ==
        where + "field `keys`: must be an object of key name -> 64 hex characters, with at least one key");
  CHECK(load_error(dir, R"({"namespace": "lake", "curent": "key-1", "keys": {"key-1": ")" + key + R"("}})") ==
        where + "field `curent`: unknown (expected `namespace`, `current`, `keys`)");
  CHECK(load_error(dir, "[1, 2]") ==
        where + "must hold a JSON object {\"namespace\", \"current\", \"keys\"}");
  CHECK_THAT(load_error(dir, "{\n  \"namespace\": \"lake\",\n  \"current\" \"key-1\"\n}"),
             Catch::StartsWith(where + "not valid JSON at line 3, column 13 (byte 37): "));

  try {
    crypto::local_keyring ring(dir / "absent.json");
    FAIL("no error");
  } catch (const sluice::error& e) {
    CHECK(e.code() == errc::io_failure);
    CHECK_THAT(e.what(), Catch::Contains("crypto::local_keyring: " + (dir / "absent.json").string() +
                                         ": cannot open: No such file or directory"));
  }
}
