// SPDX-License-Identifier: Apache-2.0
#include <sluice/crypto/checksum.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>

using namespace sluice;

namespace {
std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xFF);
  return s;
}
std::uint32_t software_crc32c(std::string_view s) {
  return sluice::detail::crc32c_software(0, s.data(), s.size());
}
}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-2 test vectors", "[crypto][checksum]") {
  CHECK(crypto::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(crypto::sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("incremental SHA-256 equals the one-shot digest and its context is reusable", "[crypto][checksum]") {
  std::string data = random_bytes(100'003, 1);
  auto whole = crypto::sha256::digest(data);
  crypto::sha256 h;
  for (std::size_t at = 0; at < data.size(); at += 7777) h.update(std::string_view(data).substr(at, 7777));
  CHECK(h.finish() == whole);
  // finish() resets: the same context digests the next input from scratch.
  h.update("abc");
  CHECK(crypto::to_hex(h.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.update("garbage");
  h.reset();
  CHECK(crypto::to_hex(h.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("CRC32C matches the standard check value and the RFC 3720 vectors", "[crypto][checksum]") {
  CHECK(crypto::crc32c::compute("123456789") == 0xE3069283u);
  CHECK(crypto::crc32c::compute("") == 0u);
  CHECK(crypto::crc32c::compute(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crypto::crc32c::compute(std::string(32, '\xFF')) == 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i), descending += static_cast<char>(31 - i);
  CHECK(crypto::crc32c::compute(ascending) == 0x46DD794Eu);
  CHECK(crypto::crc32c::compute(descending) == 0x113FDB5Cu);
  // The software path gives the same, whichever the build selected.
  CHECK(software_crc32c("123456789") == 0xE3069283u);
  CHECK(software_crc32c(ascending) == 0x46DD794Eu);
}

TEST_CASE("incremental CRC32C over any split equals the one-shot value and the software reference",
          "[crypto][checksum]") {
  std::string data = random_bytes(70'001, 2);
  std::uint32_t whole = crypto::crc32c::compute(data);
  CHECK(whole == software_crc32c(data));
  for (std::size_t step : {1u, 3u, 8u, 13u, 4096u, 65536u}) {
    crypto::crc32c c;
    for (std::size_t at = 0; at < data.size(); at += step) c.update(std::string_view(data).substr(at, step));
    INFO("step " << step);
    CHECK(c.value() == whole);
  }
  // Unaligned starts and short tails exercise every loop of the slice-by-8 path.
  for (std::size_t off = 0; off < 9; ++off) {
    auto part = std::string_view(data).substr(off, 1000 + off);
    CHECK(crypto::crc32c::compute(part) == software_crc32c(part));
  }
  crypto::crc32c c;
  c.update("garbage");
  c.reset();
  c.update("123456789");
  CHECK(c.value() == 0xE3069283u);
}

TEST_CASE("hex and base64 encode as sha256sum and RFC 4648 do", "[crypto][checksum]") {
  CHECK(crypto::to_base64(std::string_view("")) == "");
  CHECK(crypto::to_base64(std::string_view("f")) == "Zg==");
  CHECK(crypto::to_base64(std::string_view("fo")) == "Zm8=");
  CHECK(crypto::to_base64(std::string_view("foo")) == "Zm9v");
  CHECK(crypto::to_base64(std::string_view("foob")) == "Zm9vYg==");
  CHECK(crypto::to_base64(std::string_view("fooba")) == "Zm9vYmE=");
  CHECK(crypto::to_base64(std::string_view("foobar")) == "Zm9vYmFy");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) CHECK(crypto::from_base64(crypto::to_base64(s)) == s);
  std::string bin = random_bytes(1000, 3);
  CHECK(crypto::from_base64(crypto::to_base64(bin)) == bin);
  const std::uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  CHECK(crypto::to_hex(bytes) == "000fa5ff");
}

TEST_CASE("malformed base64 is reported, not decoded", "[crypto][checksum]") {
  for (std::string bad : {"Zm9", "Zm9v!A==", "Z===", "Zm=v", "=m9v"}) {
    error_code ec;
    (void)crypto::from_base64(bad, ec);
    INFO(bad);
    CHECK(ec == errc::corrupt_object);
  }
  CHECK_THROWS_WITH(crypto::from_base64("abc"), Catch::Contains("decoding base64"));
}

TEST_CASE("S3 checksum forms are base64 of the big-endian CRC32C and of the SHA-256 digest", "[crypto][checksum]") {
  // E3 06 92 83 -> "4waSgw=="
  CHECK(crypto::crc32c_base64(crypto::crc32c::compute("123456789")) == "4waSgw==");
  CHECK(crypto::sha256_base64("") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  auto sums = [] {
    crypto::object_checksummer c;
    return crypto::compute_checksums(std::string(600'000, 'x'), c);
  }();
  CHECK(sums.crc32c == crypto::crc32c::compute(std::string(600'000, 'x')));
  CHECK(sums.sha256 == crypto::sha256::digest(std::string(600'000, 'x')));
}

TEST_CASE("object_checksummer gives the same checksums over pieces as over the whole, and starts over after finish",
          "[crypto][checksum]") {
  std::string whole(700'001, 'q');
  for (std::size_t i = 0; i < whole.size(); i += 7) whole[i] = static_cast<char>('a' + i % 26);
  crypto::object_checksummer c;
  c.update(std::string_view(whole).substr(0, 3));
  c.update(std::string_view(whole).substr(3, 300'000));
  c.update(std::string_view(whole).substr(300'003));
  CHECK(c.size() == whole.size());
  auto pieces = c.finish();
  CHECK(pieces.sha256 == crypto::sha256::digest(whole));
  CHECK(pieces.crc32c == crypto::crc32c::compute(whole));
  CHECK(c.size() == 0);
  c.update("123456789");
  CHECK(c.finish().crc32c == 0xE3069283u);
}
