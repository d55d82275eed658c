// SPDX-License-Identifier: Apache-2.0
// The raw baselines: libzstd and OpenSSL called directly over the same bytes, with every
// context and buffer reused, on one thread (zstd also on two: what two cores of this machine give).
#include "end_to_end/end_to_end.hpp"

#include <sluice/connector/generator.hpp>

#include <openssl/evp.h>
#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace end_to_end {

namespace {
/// Runs work(0) .. work(threads - 1), each on its own thread (on this one when threads <= 1),
/// and rethrows the first failure once all have ended.
template <class Work>
void on_threads(unsigned threads, Work& work) {
  if (threads <= 1) return work(0u);
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> failures(threads);
  for (unsigned k = 0; k < threads; ++k)
    pool.emplace_back([&, k] {
      try {
        work(k);
      } catch (...) {
        failures[k] = std::current_exception();
      }
    });
  for (auto& t : pool) t.join();
  for (const auto& f : failures)
    if (f) std::rethrow_exception(f);
}
}  // namespace

std::string make_jsonl(std::uint64_t records) {
  const sluice::connector::generator gen{.records = records};
  std::string out;
  out.reserve(records * 560);
  char event[sluice::connector::generator::max_event_bytes];
  for (std::uint64_t i = 0; i < records; ++i) {
    std::size_t type;
    out.append(event, gen.write_event(i, event, type));
    out += '\n';
  }
  return out;
}

std::vector<std::size_t> raw_zstd(const std::string& in, std::size_t piece, int level, unsigned threads) {
  const std::size_t count = (in.size() + piece - 1) / piece;
  std::vector<std::size_t> sizes(count);
  // Thread k compresses pieces k, k + threads, ... with its own context and output buffer.
  auto compress_share = [&](unsigned k) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    const std::size_t capacity = ZSTD_compressBound(piece);
    std::unique_ptr<char[]> out(new char[capacity]);
    for (std::size_t i = k; i < count; i += threads) {
      const std::size_t at = i * piece, n = std::min(piece, in.size() - at);
      std::size_t z = ZSTD_compressCCtx(cctx.get(), out.get(), capacity, in.data() + at, n, level);
      if (ZSTD_isError(z)) throw std::runtime_error(ZSTD_getErrorName(z));
      sizes[i] = z;
    }
  };
  on_threads(threads, compress_share);
  return sizes;
}

std::uint64_t generate_and_zstd(std::uint64_t records, std::size_t piece_records, int level, unsigned threads) {
  const sluice::connector::generator gen{.records = records};
  constexpr std::size_t max_line = sluice::connector::generator::max_event_bytes + 1;
  const std::uint64_t count = (records + piece_records - 1) / piece_records;
  std::vector<std::uint64_t> produced(std::max(threads, 1u));
  // Thread k takes pieces k, k + threads, ...: writes their events as JSON Lines straight into
  // one reused buffer, then compresses it with its own context, as the hand-written loop of
  // pipeline_overhead does.
  auto work = [&](unsigned k) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    std::unique_ptr<char[]> body(new char[piece_records * max_line]);
    const std::size_t capacity = ZSTD_compressBound(piece_records * max_line);
    std::unique_ptr<char[]> out(new char[capacity]);
    for (std::uint64_t p = k; p < count; p += threads) {
      char* w = body.get();
      for (std::uint64_t i = p * piece_records; i < std::min(records, (p + 1) * piece_records); ++i) {
        std::size_t type;
        w += gen.write_event(i, w, type);
        *w++ = '\n';
      }
      const auto n = static_cast<std::size_t>(w - body.get());
      std::size_t z = ZSTD_compressCCtx(cctx.get(), out.get(), capacity, body.get(), n, level);
      if (ZSTD_isError(z)) throw std::runtime_error(ZSTD_getErrorName(z));
      produced[k] += n;
    }
  };
  on_threads(threads, work);
  std::uint64_t total = 0;
  for (auto n : produced) total += n;
  return total;
}

std::uint64_t generate_then_zstd(std::uint64_t records, std::size_t piece_records, int level, std::size_t slots) {
  const sluice::connector::generator gen{.records = records};
  constexpr std::size_t max_line = sluice::connector::generator::max_event_bytes + 1;
  const std::uint64_t count = (records + piece_records - 1) / piece_records;
  struct slot {
    std::unique_ptr<char[]> bytes;
    std::size_t size = 0;
  };
  std::vector<slot> ring(std::max<std::size_t>(slots, 1));
  for (auto& s : ring) s.bytes.reset(new char[piece_records * max_line]);
  // Pieces [consumed, produced) are written and wait in the ring; the producer waits while it
  // is full, the consumer while it is empty.
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t produced = 0, consumed = 0;
  bool failed = false;  // the consumer threw: the producer stops instead of waiting for room
  std::uint64_t bytes = 0;
  auto work = [&](unsigned k) {
    if (k == 0) {
      for (std::uint64_t p = 0; p < count; ++p) {
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return failed || produced - consumed < ring.size(); });
          if (failed) return;
        }
        slot& s = ring[p % ring.size()];
        char* w = s.bytes.get();
        for (std::uint64_t i = p * piece_records; i < std::min(records, (p + 1) * piece_records); ++i) {
          std::size_t type;
          w += gen.write_event(i, w, type);
          *w++ = '\n';
        }
        s.size = static_cast<std::size_t>(w - s.bytes.get());
        std::lock_guard lock(mutex);
        ++produced;
        changed.notify_all();
      }
      return;
    }
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    const std::size_t capacity = ZSTD_compressBound(piece_records * max_line);
    std::unique_ptr<char[]> out(new char[capacity]);
    for (std::uint64_t p = 0; p < count; ++p) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return consumed < produced; });
      }
      const slot& s = ring[p % ring.size()];
      std::size_t z = ZSTD_compressCCtx(cctx.get(), out.get(), capacity, s.bytes.get(), s.size, level);
      if (ZSTD_isError(z)) {
        std::lock_guard lock(mutex);
        failed = true;
        changed.notify_all();
        throw std::runtime_error(ZSTD_getErrorName(z));
      }
      bytes += s.size;
      std::lock_guard lock(mutex);
      ++consumed;
      changed.notify_all();
    }
  };
  on_threads(2, work);
  return bytes;
}

std::uint64_t raw_aes_gcm(const std::vector<std::size_t>& messages, std::size_t frame) {
  std::size_t largest = messages.empty() ? 0 : *std::max_element(messages.begin(), messages.end());
  // Plaintext content does not change AES-GCM's speed; any bytes will do, touched once.
  std::unique_ptr<unsigned char[]> in(new unsigned char[largest + 1]());
  std::unique_ptr<unsigned char[]> out(new unsigned char[largest + 16]());
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  EVP_CIPHER* aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!ctx || !aes) throw std::runtime_error("OpenSSL: no AES-256-GCM");
  unsigned char key[32] = {1, 2, 3}, iv[12] = {}, tag[16];
  std::uint64_t total = 0;
  std::uint32_t sequence = 0;
  for (std::size_t size : messages) {
    // One key per message (as a data key per object), one IV and tag per frame.
    if (EVP_EncryptInit_ex2(ctx.get(), aes, key, nullptr, nullptr) != 1) throw std::runtime_error("EVP_EncryptInit_ex2");
    for (std::size_t at = 0; at < size; at += frame) {
      int n = static_cast<int>(std::min(frame, size - at)), len = 0;
      ++sequence;
      iv[8] = static_cast<unsigned char>(sequence >> 24), iv[9] = static_cast<unsigned char>(sequence >> 16);
      iv[10] = static_cast<unsigned char>(sequence >> 8), iv[11] = static_cast<unsigned char>(sequence);
      if (EVP_EncryptInit_ex2(ctx.get(), nullptr, nullptr, iv, nullptr) != 1 ||
          EVP_EncryptUpdate(ctx.get(), out.get() + at, &len, in.get() + at, n) != 1 ||
          EVP_EncryptFinal_ex(ctx.get(), out.get() + at + len, &len) != 1 ||
          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        throw std::runtime_error("OpenSSL: AES-256-GCM failed");
      total += static_cast<std::uint64_t>(n);
    }
  }
  EVP_CIPHER_free(aes);
  return total;
}

}  // namespace end_to_end
