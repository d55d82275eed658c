// SPDX-License-Identifier: Apache-2.0
// Credentials, region, endpoint and S3 addressing resolved as the AWS CLI does, from temporary
// config files and an injected environment (never the machine's own).
#include <sluice/aws/credentials.hpp>

#include <sluice_test/support.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace aws = sluice::aws;

namespace {

/// A temporary home with ~/.aws/config and ~/.aws/credentials, and an environment whose HOME
/// points at it.
struct aws_home {
  sluice_test::temp_dir dir;
  std::map<std::string, std::string> env;

  aws_home() {
    std::filesystem::create_directories(dir / ".aws");
    env["HOME"] = dir.path().string();
  }
  void config(std::string_view text) { sluice_test::write_file(dir / ".aws" / "config", text); }
  void credentials(std::string_view text) { sluice_test::write_file(dir / ".aws" / "credentials", text); }
  std::string config_path() const { return (dir / ".aws" / "config").string(); }
  std::string credentials_path() const { return (dir / ".aws" / "credentials").string(); }

  aws::resolved_config resolve(std::string service = "s3", std::string profile = {}) const {
    return aws::resolve_config({.service = std::move(service),
                                .profile = std::move(profile),
                                .environment = [this](const std::string& name) -> std::optional<std::string> {
                                  auto it = env.find(name);
                                  if (it == env.end()) return std::nullopt;
                                  return it->second;
                                }});
  }
};

constexpr std::string_view two_profiles_credentials =
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key = default-secret\n"
    "\n"
    "[dev]\n"
    "aws_access_key_id=AKIDDEV\n"
    "aws_secret_access_key=dev-secret\n"
    "aws_session_token=dev-token\n";

constexpr std::string_view two_profiles_config =
    "# shared config\n"
    "[default]\n"
    "region = eu-west-1\n"
    "\n"
    "[profile dev]\n"
    "region = us-west-2\n"
    "endpoint_url = http://127.0.0.1:9000\n"
    "aws_access_key_id = AKIDFROMCONFIG\n"
    "aws_secret_access_key = config-secret\n"
    "s3 =\n"
    "  addressing_style = path\n"
    "  signature_version = s3v4\n"
    "; a comment\n"
    "output = json\n";

}  // namespace

TEST_CASE("the default profile gives credentials from ~/.aws/credentials and the region from ~/.aws/config",
          "[aws][credentials]") {
  aws_home home;
  home.credentials(two_profiles_credentials);
  home.config(two_profiles_config);
  const auto r = home.resolve();
  CHECK(r.profile == "default");
  REQUIRE(r.credentials);
  CHECK(r.credentials->access_key_id == "AKIDDEFAULT");
  CHECK(r.credentials->secret_access_key == "default-secret");
  CHECK(r.credentials->session_token == "");
  CHECK(r.sources.credentials == home.credentials_path() + " [default]");
  CHECK(r.region == "eu-west-1");
  CHECK(r.sources.region == home.config_path() + " [default] line 3");
  CHECK(r.endpoint_url == "");
  CHECK(r.s3_addressing_style == aws::addressing_style::automatic);
  CHECK(r.config_file == home.config_path());
  CHECK(r.credentials_file == home.credentials_path());
}

TEST_CASE("AWS_PROFILE selects a profile, and the credentials file wins over keys in the config file",
          "[aws][credentials]") {
  aws_home home;
  home.credentials(two_profiles_credentials);
  home.config(two_profiles_config);
  home.env["AWS_PROFILE"] = "dev";
  const auto r = home.resolve();
  CHECK(r.profile == "dev");
  REQUIRE(r.credentials);
  CHECK(r.credentials->access_key_id == "AKIDDEV");
  CHECK(r.credentials->session_token == "dev-token");
  CHECK(r.region == "us-west-2");
  CHECK(r.endpoint_url == "http://127.0.0.1:9000");
  CHECK(r.sources.endpoint_url == home.config_path() + " [profile dev] line 7");
  CHECK(r.s3_addressing_style == aws::addressing_style::path);
  CHECK(r.sources.addressing_style == home.config_path() + " [profile dev] line 11");

  // Without the credentials file the config file's keys are used.
  home.credentials("");
  const auto from_config = home.resolve();
  REQUIRE(from_config.credentials);
  CHECK(from_config.credentials->access_key_id == "AKIDFROMCONFIG");
  CHECK(from_config.sources.credentials == home.config_path() + " [profile dev]");
}

TEST_CASE("environment keys win over AWS_PROFILE, but not over an explicitly passed profile", "[aws][credentials]") {
  aws_home home;
  home.credentials(two_profiles_credentials);
  home.config(two_profiles_config);
  home.env["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  home.env["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  home.env["AWS_SESSION_TOKEN"] = "env-token";
  home.env["AWS_PROFILE"] = "dev";
  const auto r = home.resolve();
  REQUIRE(r.credentials);
  CHECK(r.credentials->access_key_id == "AKIDENV");
  CHECK(r.credentials->secret_access_key == "env-secret");
  CHECK(r.credentials->session_token == "env-token");
  CHECK(r.sources.credentials == "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
  CHECK(r.region == "us-west-2");  // the rest still comes from the profile

  const auto explicit_profile = home.resolve("s3", "default");
  CHECK(explicit_profile.profile == "default");
  REQUIRE(explicit_profile.credentials);
  CHECK(explicit_profile.credentials->access_key_id == "AKIDDEFAULT");
}

TEST_CASE("the region comes from AWS_REGION, then AWS_DEFAULT_REGION, then the profile", "[aws][credentials]") {
  aws_home home;
  home.config(two_profiles_config);
  CHECK(home.resolve().region == "eu-west-1");
  home.env["AWS_DEFAULT_REGION"] = "ap-south-1";
  CHECK(home.resolve().region == "ap-south-1");
  CHECK(home.resolve().sources.region == "environment (AWS_DEFAULT_REGION)");
  home.env["AWS_REGION"] = "sa-east-1";
  CHECK(home.resolve().region == "sa-east-1");
  home.env["AWS_REGION"] = "";  // empty counts as unset
  CHECK(home.resolve().region == "ap-south-1");
}

TEST_CASE("the endpoint comes from AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the services section, then "
          "endpoint_url",
          "[aws][credentials]") {
  aws_home home;
  home.config(
      "[profile lake]\n"
      "region = us-east-1\n"
      "endpoint_url = http://global:1\n"
      "services = local\n"
      "\n"
      "[services local]\n"
      "s3 =\n"
      "  endpoint_url = http://s3-local:2\n"
      "firehose =\n"
      "  endpoint_url = http://firehose-local:3\n");
  home.env["AWS_PROFILE"] = "lake";
  CHECK(home.resolve("s3").endpoint_url == "http://s3-local:2");
  CHECK(home.resolve("s3").sources.endpoint_url == home.config_path() + " [services local] line 8");
  CHECK(home.resolve("firehose").endpoint_url == "http://firehose-local:3");
  CHECK(home.resolve("kinesis").endpoint_url == "http://global:1");
  home.env["AWS_ENDPOINT_URL"] = "http://env-global:4";
  CHECK(home.resolve("s3").endpoint_url == "http://env-global:4");
  home.env["AWS_ENDPOINT_URL_S3"] = "http://env-s3:5";
  CHECK(home.resolve("s3").endpoint_url == "http://env-s3:5");
  CHECK(home.resolve("s3").sources.endpoint_url == "environment (AWS_ENDPOINT_URL_S3)");
  CHECK(home.resolve("firehose").endpoint_url == "http://env-global:4");
  home.env["AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"] = "http://elb:6";
  CHECK(home.resolve("Elastic Load Balancing v2").endpoint_url == "http://elb:6");
  home.env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  CHECK(home.resolve("s3").endpoint_url == "");
}

TEST_CASE("AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files", "[aws][credentials]") {
  aws_home home;
  sluice_test::temp_dir other;
  sluice_test::write_file(other / "creds", "[default]\naws_access_key_id = AKIDMOVED\naws_secret_access_key = s\n");
  sluice_test::write_file(other / "conf", "[default]\nregion = me-south-1\n");
  home.credentials(two_profiles_credentials);
  home.env["AWS_SHARED_CREDENTIALS_FILE"] = (other / "creds").string();
  home.env["AWS_CONFIG_FILE"] = (other / "conf").string();
  const auto r = home.resolve();
  REQUIRE(r.credentials);
  CHECK(r.credentials->access_key_id == "AKIDMOVED");
  CHECK(r.region == "me-south-1");
  CHECK(r.credentials_file == (other / "creds").string());
}

TEST_CASE("no files and no environment give no credentials and no region, without error", "[aws][credentials]") {
  aws_home home;
  const auto r = home.resolve();
  CHECK(r.profile == "default");
  CHECK_FALSE(r.credentials);
  CHECK(r.region == "");
  CHECK(r.endpoint_url == "");
}

TEST_CASE("a named profile that does not exist is an error naming the profile and both files", "[aws][credentials]") {
  aws_home home;
  home.credentials(two_profiles_credentials);
  home.config(two_profiles_config);
  home.env["AWS_PROFILE"] = "prod";
  try {
    (void)home.resolve();
    FAIL("no error for a missing profile");
  } catch (const sluice::config_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("profile \"prod\" (named by AWS_PROFILE) not found"));
    CHECK_THAT(what, Catch::Contains(home.config_path()));
    CHECK_THAT(what, Catch::Contains(home.credentials_path()));
  }
  home.env.erase("AWS_PROFILE");
  CHECK_THROWS_WITH(home.resolve("s3", "staging"), Catch::Contains("profile \"staging\" (named by the profile option)"));
  // A profile only in the credentials file exists.
  home.credentials(std::string(two_profiles_credentials) + "[ci]\naws_access_key_id = A\naws_secret_access_key = B\n");
  CHECK(home.resolve("s3", "ci").credentials->access_key_id == "A");
}

TEST_CASE("a malformed config or credentials file is an error naming the file and the line", "[aws][credentials]") {
  aws_home home;
  home.config("[default]\nregion = us-east-1\nthis line has no equals sign\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.config_path() + " line 3: expected [section], 'key = value'"));

  home.config("region = us-east-1\n[default]\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.config_path() + " line 1: property before the first [section]"));

  home.config("[default\nregion = us-east-1\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.config_path() + " line 1: section header [default has no closing ']'"));

  home.config("[default]\ns3 =\n  addressing_style\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.config_path() + " line 3: expected 'key = value' inside the nested 's3 =' block"));

  home.config("");
  home.credentials("[default]\n = value\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.credentials_path() + " line 2: property without a name"));
}

TEST_CASE("the nested s3 block gives the addressing style and rejects unknown styles", "[aws][credentials]") {
  aws_home home;
  home.config("[default]\ns3 =\n    addressing_style = virtual\n\tmax_concurrent_requests = 4\nregion = us-east-1\n");
  auto r = home.resolve();
  CHECK(r.s3_addressing_style == aws::addressing_style::virtual_);
  CHECK(r.region == "us-east-1");  // the block ended at the unindented line
  home.config("[default]\ns3 =\n  addressing_style = auto\n");
  CHECK(home.resolve().s3_addressing_style == aws::addressing_style::automatic);
  home.config("[default]\ns3 =\n  addressing_style = sideways\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.config_path() +
                                                    " [default] line 3: s3 addressing_style = sideways: must be auto, "
                                                    "path or virtual"));
}

TEST_CASE("half a key pair and profiles needing STS or SSO are errors, not anonymous access", "[aws][credentials]") {
  aws_home home;
  home.env["AWS_ACCESS_KEY_ID"] = "AKIDONLY";
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
  home.env.clear();
  home.env["HOME"] = home.dir.path().string();

  home.credentials("[default]\naws_secret_access_key = s\n");
  CHECK_THROWS_WITH(home.resolve(), Catch::Contains(home.credentials_path() +
                                                    " [default] line 2: profile \"default\" has aws_secret_access_key "
                                                    "but no aws_access_key_id"));
  home.credentials("");
  home.config("[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = default\n");
  CHECK_THROWS_WITH(home.resolve("s3", "admin"), Catch::Contains("gets its credentials through role_arn"));
}

TEST_CASE("continuation lines, comments and spacing are read as the CLI reads them", "[aws][credentials]") {
  aws_home home;
  home.config(
      "  # indented comment\n"
      "[profile   spaced]   ; trailing comment\n"
      "Region=us-east-2\r\n"
      "description = first\n"
      "  second\n");
  const auto r = home.resolve("s3", "spaced");
  CHECK(r.region == "us-east-2");
}
