// ingest: every line of standard input lands in a lake folder as encrypted, compressed JSON Lines.
#include <sluice/sluice.hpp>
#include <sluice/codec/zstd.hpp>
#include <sluice/crypto/envelope.hpp>
#include <sluice/crypto/keyring.hpp>
#include <sluice/store/local.hpp>

#include <filesystem>
#include <iostream>

struct stdin_lines {  // a source of our own: one record per line, position = line number
  using stage_concept = sluice::source_tag;
  using output_type = sluice::record_batch;
  struct state {
    std::uint32_t id;
    template <class Out> void run(Out& out, std::stop_token stop) {
      sluice::record_batch batch;
      std::uint64_t line_number = 0;
      for (std::string line; !stop.stop_requested() && std::getline(std::cin, line);) {
        batch.append(line, {id, ++line_number});
        if (batch.size() == 1000) out.push(std::exchange(batch, {}));
      }
      out.push(std::move(batch));
    }
  };
  state open(sluice::run_context& ctx) const { return {ctx.add_source("stdin").first}; }
};

int main(int argc, char** argv) {
  if (!std::filesystem::exists("keyring.json")) sluice::crypto::local_keyring::create("keyring.json", "ingest");
  using sluice::operator|;
  auto p = stdin_lines{}
         | sluice::format::jsonl{}
         | sluice::codec::zstd{.level = 3}
         | sluice::crypto::envelope{.keyring = std::make_shared<sluice::crypto::local_keyring>("keyring.json")}
         | sluice::store::local{.root = argc > 1 ? argv[1] : "lake", .key = "lines/"};
  p.run();
  std::cout << p.metrics().snapshot().objects_out << " object(s) written\n";
}
