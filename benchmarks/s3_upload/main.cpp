// SPDX-License-Identifier: Apache-2.0
// s3_upload: the S3 store against the tools people use to upload to S3 (issue 3).
//   1 GiB as one object (multipart) and 2,000 objects of 64 KiB, uploaded to the same
//   S3-compatible server in the same run by
//     - sluice: store::s3's node, the objects pushed into it (sluice.cpp)
//     - the AWS CLI v2: `aws s3 cp` (/usr/bin/aws), `--recursive` for the folder of small files
//     - rclone: `rclone copyto` of the big file, `rclone copy` of the folder
//   with the same part size and the same number of requests in flight for every tool.
// Target: store::s3 at least 1.5x the faster peer, in MB/s (1 GiB) and objects/s (2,000 x 64 KiB).
//
//   s3_upload [--repeats 3] [--big-mib 1024] [--objects 2000] [--object-kib 64] [--part-mib 8]
//             [--concurrency 8] [--conditional automatic|off] [--scenarios big,small]
//             [--tls 1] [--only sluice|aws|rclone --scenario big|small]
//
// Needs a server: SLUICE_S3_ENDPOINT, SLUICE_S3_ACCESS_KEY, SLUICE_S3_SECRET_KEY (SLUICE_S3_REGION),
// as scripts/services writes them to its env file. `--tls 1`: every tool over HTTPS to
// SLUICE_S3_HTTPS_ENDPOINT, trusting SLUICE_S3_CA_FILE, each with its own rule for signing bodies
// (over HTTPS the AWS CLI and store::s3 send UNSIGNED-PAYLOAD with a checksum header).
//
// Each run is a child process, so its peak memory (wait4's ru_maxrss) is its own: sluice re-runs
// this program with `--only sluice` (which loads the bodies into memory before its clock starts,
// as a pipeline hands the store finished objects), the peers read the same bytes from files in
// the page cache. Runs go in turns (sluice, aws, rclone, sluice, ...) and the figures are medians;
// memory is the largest peak of the runs. Every upload is checked (object count and sizes by
// listing) and deleted before the next one.
#include "common/harness.hpp"
#include "s3_upload/s3_upload.hpp"

#include <sluice/store/s3_client.hpp>

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace {

using namespace s3_upload;
using sluice_bench::arg;
using sluice_bench::arg_text;
using sluice_bench::median;
using sluice_bench::read_file;

constexpr const char* tools[] = {"sluice", "aws", "rclone"};

std::string scenario_name(scenario w) { return w == scenario::big ? "big" : "small"; }

scenario parse_scenario(const std::string& s) {
  if (s == "big") return scenario::big;
  if (s == "small") return scenario::small;
  throw std::runtime_error("--scenario " + s + ": must be big or small");
}

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

sluice::store::s3_connection connection(const server& srv) {
  sluice::store::s3_connection c;
  c.endpoint = srv.endpoint;
  c.region = srv.region;
  c.credentials = {srv.access_key, srv.secret_key, ""};
  c.addressing = sluice::aws::addressing_style::path;
  c.ca_file = srv.ca_file;
  return c;
}

std::string make_bucket(sluice::store::s3_client& client) {
  std::string bucket = "sluice-bench-" + std::to_string(::getpid()) + "-" +
                       std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000);
  client.send({.method = "PUT", .bucket = bucket, .send_body = true});
  return bucket;
}

void remove_bucket(sluice::store::s3_client& client, const std::string& bucket) {
  std::vector<std::string> keys;
  for (auto& o : client.list_objects(bucket, "")) keys.push_back(o.key);
  if (!keys.empty()) client.delete_objects(bucket, keys);
  for (auto& u : client.list_multipart_uploads(bucket, "")) client.abort_multipart_upload(bucket, u.key, u.upload_id);
  client.send({.method = "DELETE", .bucket = bucket});
}

/// remove_bucket on the way out of a failure: says what it could not clean up, and lets the
/// first error be the one reported.
void remove_bucket_after_failure(sluice::store::s3_client& client, const std::string& bucket) {
  try {
    remove_bucket(client, bucket);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_upload: could not remove bucket %s: %s\n", bucket.c_str(), e.what());
  }
}

/// Checks what a run stored under `prefix` (count and sizes), then deletes it.
void check_and_clear(sluice::store::s3_client& client, const std::string& bucket, const std::string& prefix,
                     const settings& s, scenario which, const std::string& tool) {
  auto listed = client.list_objects(bucket, prefix);
  const std::size_t want_count = which == scenario::big ? 1 : s.small_count;
  const std::uint64_t want_size = which == scenario::big ? s.big_bytes : s.small_bytes;
  std::vector<std::string> keys;
  for (auto& o : listed) {
    if (o.size != want_size)
      throw std::runtime_error(tool + " stored " + o.key + " with " + std::to_string(o.size) + " bytes, expected " +
                               std::to_string(want_size));
    keys.push_back(o.key);
  }
  if (listed.size() != want_count)
    throw std::runtime_error(tool + " stored " + std::to_string(listed.size()) + " objects under s3://" + bucket +
                             "/" + prefix + ", expected " + std::to_string(want_count));
  client.delete_objects(bucket, keys);
  if (!client.list_multipart_uploads(bucket, prefix).empty())
    throw std::runtime_error(tool + " left multipart uploads behind under s3://" + bucket + "/" + prefix);
}

std::string first_line(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);
  return line;
}

/// The settings as arguments, for the sluice child.
std::vector<std::string> settings_args(const settings& s) {
  return {"--big-bytes",   std::to_string(s.big_bytes),          "--objects",     std::to_string(s.small_count),
          "--object-bytes", std::to_string(s.small_bytes),       "--part-bytes",  std::to_string(s.part_bytes),
          "--concurrency", std::to_string(s.concurrency), "--conditional", s.conditional,
          "--piece-bytes", std::to_string(s.piece_bytes)};
}

struct run_figures {
  double seconds = 0;     ///< the time compared: sluice's upload, the peer's whole process
  double process_seconds = 0;
  std::size_t peak_rss = 0;
  std::size_t input_rss = 0;  ///< sluice only: resident memory with the bodies loaded
  double cpu_seconds = 0;     ///< the tool's own CPU time (sluice: during the upload only)
  double machine_cpu_seconds = 0;  ///< the machine's busy CPU time meanwhile (server, tool, anything else)
  double clean_seconds = 0;   ///< checking and deleting what the run stored (untimed)
};

/// One run of one tool in a child process, checked and cleaned up.
run_figures run_once(const std::string& tool, scenario which, const server& srv, const settings& s,
                     const std::filesystem::path& data, const std::filesystem::path& scratch,
                     sluice::store::s3_client& admin, const std::string& bucket, const std::string& prefix) {
  const auto out = scratch / (tool + ".out"), err = scratch / (tool + ".err");
  std::vector<std::string> argv, env;
  if (tool == "sluice") {
    argv = {std::filesystem::read_symlink("/proc/self/exe").string(), "--only", "sluice", "--scenario",
            scenario_name(which), "--input", data.string(), "--bucket", bucket, "--prefix", prefix};
    if (!srv.ca_file.empty()) argv.insert(argv.end(), {"--tls", "1"});
    auto more = settings_args(s);
    argv.insert(argv.end(), more.begin(), more.end());
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  } else if (tool == "aws") {
    argv = aws_command(srv, which, data, bucket, prefix);
    env = aws_environment(srv, s, scratch / "aws-config");
  } else {
    argv = rclone_command(srv, s, which, data, bucket, prefix);
    env = rclone_environment(srv);
  }
  process_result p = run_process(argv, env, out, err);
  if (p.exit_code != 0)
    throw std::runtime_error(tool + " (" + scenario_name(which) + ") exited with status " +
                             std::to_string(p.exit_code) + ":\n" + read_file(err) + read_file(out));
  run_figures f;
  f.process_seconds = p.seconds;
  f.seconds = p.seconds;
  f.peak_rss = p.peak_rss;
  f.cpu_seconds = p.cpu_seconds;
  f.machine_cpu_seconds = p.machine_cpu_seconds;
  if (tool == "sluice") {
    // The child's last line: `result upload_seconds objects skipped input_rss load_seconds cpu machine_cpu`.
    const std::string text = read_file(out);
    const auto at = text.rfind("result ");
    std::istringstream in(at == std::string::npos ? std::string() : text.substr(at));
    std::string word;
    std::uint64_t objects = 0, skipped = 0;
    double load = 0;
    in >> word >> f.seconds >> objects >> skipped >> f.input_rss >> load >> f.cpu_seconds >> f.machine_cpu_seconds;
    const std::uint64_t want = which == scenario::big ? 1 : s.small_count;
    if (word != "result" || objects != want || skipped != 0)
      throw std::runtime_error("sluice child: " + std::to_string(objects) + " objects acknowledged (expected " +
                               std::to_string(want) + "), " + std::to_string(skipped) + " skipped:\n" +
                               read_file(out) + read_file(err));
  }
  auto clean_start = std::chrono::steady_clock::now();
  check_and_clear(admin, bucket, prefix, s, which, tool);
  f.clean_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - clean_start).count();
  return f;
}

/// `--only TOOL`: one run, untimed by the harness; for profilers (`perf record -- s3_upload --only sluice ...`).
int run_only(const std::string& tool, int argc, char** argv, const server& srv, const settings& s) {
  const scenario which = parse_scenario(arg_text(argc, argv, "--scenario", "big"));
  const std::string input = arg_text(argc, argv, "--input", "");
  std::string bucket = arg_text(argc, argv, "--bucket", "");
  const std::string prefix = arg_text(argc, argv, "--prefix", "only/" + tool + "-" + scenario_name(which) + "/");
  if (tool == "sluice" && !bucket.empty()) {
    // The child of a full run: the parent checks what it stored and reads this line.
    sluice_result r = run_sluice(srv, s, which, bucket, prefix, input);
    std::printf("result %.6f %" PRIu64 " %" PRIu64 " %zu %.3f %.3f %.3f\n", r.upload_seconds, r.objects, r.skipped,
                r.input_rss, r.load_seconds, r.cpu_seconds, r.machine_cpu_seconds);
    return 0;
  }
  sluice::store::s3_client admin(connection(srv));
  bucket = make_bucket(admin);
  sluice_bench::temp_folder scratch("sluice-bench-s3-only");
  std::filesystem::path data = input;
  if (data.empty() && tool != "sluice") {
    data = scratch.path() / "data";
    std::filesystem::create_directories(data);
    write_inputs(data, s);
  }
  try {
    if (tool == "sluice") {
      sluice_result r = run_sluice(srv, s, which, bucket, prefix, data);
      std::printf("sluice %s: %" PRIu64 " objects, %" PRIu64 " bytes in %.3f s, CPU %.2f s (machine %.2f s); "
                  "bodies loaded in %.3f s, %.1f MiB resident then; peak RSS %.1f MiB\n",
                  scenario_name(which).c_str(), r.objects, r.bytes, r.upload_seconds, r.cpu_seconds,
                  r.machine_cpu_seconds, r.load_seconds, mib(r.input_rss), mib(sluice_bench::peak_rss_bytes()));
      check_and_clear(admin, bucket, prefix, s, which, tool);
    } else {
      run_figures f = run_once(tool, which, srv, s, data, scratch.path(), admin, bucket, prefix);
      std::printf("%s %s: %.3f s, CPU %.2f s (machine %.2f s), peak RSS %.1f MiB\n", tool.c_str(),
                  scenario_name(which).c_str(), f.seconds, f.cpu_seconds, f.machine_cpu_seconds, mib(f.peak_rss));
    }
  } catch (...) {
    remove_bucket_after_failure(admin, bucket);
    throw;
  }
  remove_bucket(admin, bucket);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace sluice_bench;
  settings s;
  s.big_bytes = static_cast<std::uint64_t>(arg(argc, argv, "--big-bytes", arg(argc, argv, "--big-mib", 1024) << 20));
  s.small_count = static_cast<std::size_t>(arg(argc, argv, "--objects", 2000));
  s.small_bytes = static_cast<std::size_t>(arg(argc, argv, "--object-bytes", arg(argc, argv, "--object-kib", 64) << 10));
  s.part_bytes = static_cast<std::size_t>(arg(argc, argv, "--part-bytes", arg(argc, argv, "--part-mib", 8) << 20));
  s.concurrency = static_cast<unsigned>(arg(argc, argv, "--concurrency", 8));
  s.conditional = arg_text(argc, argv, "--conditional", "automatic");
  s.piece_bytes = static_cast<std::size_t>(arg(argc, argv, "--piece-bytes", arg(argc, argv, "--piece-mib", 0) << 20));
  if (s.conditional != "automatic" && s.conditional != "off")
    throw std::runtime_error("--conditional " + s.conditional + ": must be automatic or off");
  const int repeats = static_cast<int>(arg(argc, argv, "--repeats", 3));
  if (s.big_bytes == 0 || s.small_count == 0 || s.small_bytes == 0 || s.concurrency == 0 || repeats < 1)
    throw std::runtime_error("--big-mib, --objects, --object-kib, --concurrency and --repeats must be positive");
  if (s.part_bytes < (std::size_t{5} << 20) || s.part_bytes % (std::size_t{1} << 20) != 0)
    throw std::runtime_error("--part-mib must be a whole number of MiB, at least 5 (S3's smallest part)");
  const server srv = server_from_environment(arg(argc, argv, "--tls", 0) != 0);

  if (std::string only = arg_text(argc, argv, "--only", ""); !only.empty()) {
    if (only != "sluice" && only != "aws" && only != "rclone")
      throw std::runtime_error("--only " + only + ": must be sluice, aws or rclone");
    return run_only(only, argc, argv, srv, s);
  }

  std::vector<scenario> scenarios;
  {
    std::stringstream list(arg_text(argc, argv, "--scenarios", "big,small"));
    for (std::string item; std::getline(list, item, ',');) scenarios.push_back(parse_scenario(item));
  }

  print_machine("s3_upload");
  temp_folder scratch("sluice-bench-s3");
  const std::filesystem::path data = scratch.path() / "data";
  std::filesystem::create_directories(data);

  // Conditions: tool versions and what starting each tool costs (part of a peer's time).
  auto version = [&](const std::string& tool) {
    std::vector<std::string> argv_v = tool == "aws" ? std::vector<std::string>{"/usr/bin/aws", "--version"}
                                                    : std::vector<std::string>{"/usr/bin/rclone", "version"};
    auto env = tool == "aws" ? aws_environment(srv, s, scratch.path() / "aws-config") : rclone_environment(srv);
    process_result p{};
    for (int i = 0; i < 2; ++i)  // the second start is the one timed: files in the page cache
      p = run_process(argv_v, env, scratch.path() / "version.out", scratch.path() / "version.err");
    if (p.exit_code != 0) throw std::runtime_error(argv_v[0] + " does not run: " + read_file(scratch.path() / "version.err"));
    return std::make_pair(first_line(scratch.path() / "version.out"), p.seconds);
  };
  auto [aws_version, aws_start] = version("aws");
  auto [rclone_version, rclone_start] = version("rclone");
  std::printf("# server %s; peers: %s (start-up %.2f s); %s (start-up %.2f s)\n", srv.endpoint.c_str(),
              aws_version.c_str(), aws_start, rclone_version.c_str(), rclone_start);

  auto gen_start = std::chrono::steady_clock::now();
  write_inputs(data, s);
  std::printf("# inputs: %.0f MiB object, %zu objects of %.0f KiB, written to %s in %.1f s\n", mib(s.big_bytes),
              s.small_count, static_cast<double>(s.small_bytes) / 1024, data.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - gen_start).count());
  std::printf("# every tool: %zu MiB parts, %u requests in flight (aws: max_concurrent_requests, "
              "multipart_chunksize; rclone: --transfers, --s3-upload-concurrency, --s3-chunk-size); "
              "%d runs each, in turns\n",
              s.part_bytes >> 20, s.concurrency, repeats);
  std::printf("# sluice: store::s3 {part_size %zu MiB, concurrency %u, max_connections %u, checksum crc32c, "
              "conditional %s}; time = open + push + flush, bodies in memory before the clock starts; "
              "peers: the whole process, files from the page cache\n",
              s.part_bytes >> 20, s.concurrency, s.concurrency, s.conditional.c_str());
  if (s.piece_bytes != 0)
    std::printf("# sluice: the large object streamed in %zu KiB pieces (spooled, parts sent as they fill, facts set "
                "by a server-side copy after completion)\n",
                s.piece_bytes >> 10);
  std::fflush(stdout);

  sluice::store::s3_client admin(connection(srv));
  const std::string bucket = make_bucket(admin);
  // Per (scenario, tool): the runs' times and CPU times, the largest peak memory.
  std::map<std::pair<scenario, std::string>, std::vector<double>> times, cpus, machine_cpus;
  double clean_seconds = 0;
  std::map<std::pair<scenario, std::string>, std::size_t> peaks, above_input;
  try {
    for (int r = 0; r < repeats; ++r) {
      for (scenario w : scenarios) {
        for (const char* tool : tools) {
          std::string prefix = "run" + std::to_string(r) + "/" + tool + "-" + scenario_name(w) + "/";
          run_figures f = run_once(tool, w, srv, s, data, scratch.path(), admin, bucket, prefix);
          clean_seconds += f.clean_seconds;
          times[{w, tool}].push_back(f.seconds);
          cpus[{w, tool}].push_back(f.cpu_seconds);
          machine_cpus[{w, tool}].push_back(f.machine_cpu_seconds);
          peaks[{w, tool}] = std::max(peaks[{w, tool}], f.peak_rss);
          above_input[{w, tool}] = std::max(above_input[{w, tool}], f.peak_rss - std::min(f.peak_rss, f.input_rss));
          std::printf("#   run %d %-5s %-6s %7.3f s, CPU %6.2f s (machine %6.2f s), peak RSS %7.1f MiB\n", r + 1,
                      scenario_name(w).c_str(), tool, f.seconds, f.cpu_seconds, f.machine_cpu_seconds,
                      mib(f.peak_rss));
          std::fflush(stdout);
        }
      }
    }
  } catch (...) {
    remove_bucket_after_failure(admin, bucket);
    throw;
  }
  remove_bucket(admin, bucket);

  for (scenario w : scenarios) {
    const bool big = w == scenario::big;
    const std::string what = big ? "s3_upload " + std::to_string(s.big_bytes >> 20) + " MiB"
                                 : "s3_upload " + std::to_string(s.small_count) + "x" +
                                       std::to_string(s.small_bytes >> 10) + "KiB";
    const char* unit = big ? "MB/s" : "objects/s";
    auto rate = [&](const std::string& tool, double minus = 0) {
      double t = median(times[{w, tool}]) - minus;
      return big ? mb_per_s(s.big_bytes, t) : static_cast<double>(s.small_count) / t;
    };
    const double sl = rate("sluice"), aw = rate("aws"), rc = rate("rclone");
    std::printf("# %s, CPU seconds per run (medians; the rest of the machine is mostly the server):", what.c_str());
    for (const char* tool : tools) {
      const double own = median(cpus[{w, tool}]), all = median(machine_cpus[{w, tool}]);
      std::printf(" %s %.2f, rest %.2f;", tool, own, all - own);
    }
    std::printf("\n");
    report(what + ", sluice", sl, unit, big ? "aws s3 cp" : "aws s3 cp --recursive", aw);
    report(what + ", sluice", sl, unit, big ? "rclone copyto" : "rclone copy", rc);
    report(what + ", sluice, target >= 1.5", sl, unit, std::string("faster peer: ") + (aw >= rc ? "aws" : "rclone"),
           std::max(aw, rc));
    // The peers' times include starting the tool (Python for the AWS CLI): the same without it.
    const double aw_run = rate("aws", aws_start), rc_run = rate("rclone", rclone_start);
    report(what + ", sluice, w/o start-up", sl, unit,
           std::string(aw_run >= rc_run ? "aws" : "rclone") + " less its start-up", std::max(aw_run, rc_run));
    const double m_sl = mib(peaks[{w, "sluice"}]), m_aw = mib(peaks[{w, "aws"}]), m_rc = mib(peaks[{w, "rclone"}]);
    report(what + ", sluice peak RSS", m_sl, "MiB", "aws peak RSS", m_aw);
    report(what + ", sluice peak RSS", m_sl, "MiB", "rclone peak RSS", m_rc);
    report(what + ", sluice RSS above input", mib(above_input[{w, "sluice"}]), "MiB",
           "smaller peer peak RSS", std::min(m_aw, m_rc));
  }
  std::printf("# memory ratios: lower is better. sluice holds its input in memory (store::s3 takes whole object "
              "bodies); the peers stream from files. \"above input\" subtracts the RSS measured once the bodies "
              "were loaded, before the store opened.\n");
  std::printf("# checking and deleting the uploads between runs took %.1f s in all\n", clean_seconds);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "s3_upload: %s\n", e.what());
  return 1;
}
