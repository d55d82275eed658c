// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <sluice/core/config.hpp>
#include <sluice/aws/sigv4.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

// Credentials, region and endpoint found the way the AWS CLI and SDKs find them: environment
// variables first, then the profile in the shared credentials and config files.

namespace sluice::aws {

/// How an S3 client addresses a bucket (the `s3 = addressing_style` setting of a profile).
enum class addressing_style {
  automatic,  ///< `auto` (the default): virtual-hosted where the bucket name allows it
  path,       ///< `path`: https://endpoint/bucket/key
  virtual_,   ///< `virtual`: https://bucket.endpoint/key
};

/// Where each setting came from, for logs and error messages ("environment (AWS_REGION)",
/// "/home/u/.aws/config [profile dev]", ...).
struct setting_sources {
  std::string credentials, region, endpoint_url, addressing_style;
};

/// What the AWS CLI would use for one service.
struct resolved_config {
  std::string profile;  ///< the profile name in effect ("default" unless named)
  std::optional<aws::credentials> credentials;  ///< nullopt: none configured (anonymous)
  std::string region;        ///< empty: none configured
  std::string endpoint_url;  ///< empty: none configured (use the service's AWS endpoint)
  aws::addressing_style s3_addressing_style = aws::addressing_style::automatic;
  setting_sources sources;
  std::string config_file, credentials_file;  ///< the files looked in (they need not exist)
};

/// Reads one environment variable; nullopt when unset. Empty values count as unset.
using environment_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (std::getenv).
[[nodiscard]] SLUICE_DECL std::optional<std::string> process_environment(const std::string& name);

/// What to resolve and how to read the environment.
struct resolve_options {
  /// The service id: AWS_ENDPOINT_URL_<SERVICE> (upper case, spaces as '_') and the
  /// `<service> = endpoint_url` entry of a `[services ...]` section (lower case) are read.
  std::string service = "s3";
  /// An explicit profile, as `aws --profile`: it wins over AWS_PROFILE and, as in the CLI,
  /// stops credentials from being taken from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
  std::string profile;
  /// Where environment variables come from; tests inject a map.
  environment_lookup environment = process_environment;
};

/// Resolves credentials, region, endpoint and S3 addressing style as the AWS CLI does.
///
/// - Profile: resolve_options.profile, else AWS_PROFILE, else "default". Files:
///   AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials, sections `[name]`) and
///   AWS_CONFIG_FILE (default ~/.aws/config, sections `[profile name]` and `[default]`); `~`
///   is the HOME variable of the environment. Missing files are empty.
/// - Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) unless a
///   profile was passed in resolve_options; else `aws_access_key_id`, `aws_secret_access_key`
///   and `aws_session_token` of the profile in the credentials file, else in the config file.
/// - Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` (config file).
/// - Endpoint: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's `services` section
///   entry for the service, then the profile's `endpoint_url`; none of them when
///   AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or the profile's ignore_configured_endpoint_urls is
///   true.
/// - S3 addressing: the profile's nested `s3 =` block, `addressing_style = auto|path|virtual`.
///
/// Errors: sluice::config_error when a profile named by resolve_options or AWS_PROFILE is in
/// neither file (naming it and both files), for a malformed file (naming file and line), for
/// half a key pair (an id without a secret or the reverse), for a profile that only has
/// role/SSO/process credentials (not supported), and for an unknown addressing_style;
/// sluice::error (errc::io_failure) when a file exists but cannot be read.
/// Thread safety: as safe as the environment lookup (std::getenv by default); the files are
/// read on every call, so the result reflects them as they are now.
/// @code
///   auto cfg = aws::resolve_config({.service = "s3"});
///   if (!cfg.credentials) throw ...;
///   aws::signer s3(*cfg.credentials, aws::signing_options::s3(cfg.region));
/// @endcode
[[nodiscard]] SLUICE_DECL resolved_config resolve_config(const resolve_options& options = {});

}  // namespace sluice::aws

#if !defined(SLUICE_SEPARATE_COMPILATION) || defined(SLUICE_SOURCE)
#include <sluice/aws/impl/credentials.hpp>
#endif
