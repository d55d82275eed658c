// SPDX-License-Identifier: Apache-2.0
#pragma once
// Definitions of <sluice/aws/credentials.hpp>; included by it.
#include <sluice/core/config.hpp>
#include <sluice/core/error.hpp>
#include <sluice/aws/detail/ini.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace sluice::aws {
namespace detail {

/// The contents of `path`, or an empty file when it does not exist (the CLI ignores missing
/// files). Errors: sluice::error (io_failure) when it exists but cannot be read.
inline ini_file load_ini(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return ini_file{path, {}, {}};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(make_error_code(errc::io_failure), "aws: opening " + path);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw error(make_error_code(errc::io_failure), "aws: reading " + path);
  return parse_ini(text, path);
}

inline const ini_value* lookup(const ini_section* s, const std::string& key) {
  if (s == nullptr) return nullptr;
  auto it = s->find(key);
  return it == s->end() ? nullptr : &it->second;
}

inline bool is_true(std::string_view v) {
  return v.size() == 4 && (v[0] == 't' || v[0] == 'T') && (v[1] == 'r' || v[1] == 'R') &&
         (v[2] == 'u' || v[2] == 'U') && (v[3] == 'e' || v[3] == 'E');
}

/// The config file's profile sections by profile name: `[default]`, `[profile name]` (any
/// whitespace after "profile"); `[profile default]` wins over `[default]`.
inline std::map<std::string, std::string> config_profiles(const ini_file& f) {
  std::map<std::string, std::string> out;  // profile -> section name
  for (const auto& [name, _] : f.sections) {
    if (name == "default") {
      out.emplace("default", name);
    } else if (name.starts_with("profile") && name.size() > 7 && (name[7] == ' ' || name[7] == '\t')) {
      std::string_view p = std::string_view(name).substr(8);
      while (!p.empty() && (p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
      if (!p.empty()) out[std::string(p)] = name;
    }
  }
  return out;
}

inline std::string where(const ini_file& f, const std::string& section, const ini_value* v = nullptr) {
  std::string s = f.path + " [" + section + "]";
  if (v != nullptr) s += " line " + std::to_string(v->line);
  return s;
}

}  // namespace detail

SLUICE_DECL std::optional<std::string> process_environment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

SLUICE_DECL resolved_config resolve_config(const resolve_options& options) {
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    auto v = options.environment ? options.environment(name) : process_environment(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  };
  resolved_config r;

  // Which profile, and whether someone named it.
  std::string named_by;
  if (!options.profile.empty()) {
    r.profile = options.profile;
    named_by = "the profile option";
  } else if (auto p = env("AWS_PROFILE")) {
    r.profile = *p;
    named_by = "AWS_PROFILE";
  } else {
    r.profile = "default";
  }

  // The two files.
  auto expand = [&](std::string p) {
    if (p == "~" || p.starts_with("~/")) {
      if (auto home = env("HOME")) p = *home + p.substr(1);
    }
    return p;
  };
  r.credentials_file = expand(env("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"));
  r.config_file = expand(env("AWS_CONFIG_FILE").value_or("~/.aws/config"));
  const detail::ini_file credentials_ini = detail::load_ini(r.credentials_file);
  const detail::ini_file config_ini = detail::load_ini(r.config_file);

  const detail::ini_section* cred_section = nullptr;
  if (auto it = credentials_ini.sections.find(r.profile); it != credentials_ini.sections.end())
    cred_section = &it->second;
  const detail::ini_section* conf_section = nullptr;
  std::string conf_name;
  {
    const auto profiles = detail::config_profiles(config_ini);
    if (auto it = profiles.find(r.profile); it != profiles.end()) {
      conf_name = it->second;
      conf_section = &config_ini.sections.at(conf_name);
    }
  }
  if (!named_by.empty() && cred_section == nullptr && conf_section == nullptr)
    throw config_error("aws: profile \"" + r.profile + "\" (named by " + named_by + ") not found in " +
                       r.config_file + " ([profile " + r.profile + "]) or " + r.credentials_file + " ([" +
                       r.profile + "])");

  // Credentials: the environment, unless a profile was passed explicitly (as the CLI's
  // --profile), then the credentials file, then the config file.
  if (options.profile.empty()) {
    auto id = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret) {
      r.credentials = aws::credentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
      r.sources.credentials = "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)";
    } else if (id || secret) {
      throw config_error(std::string("aws: partial credentials in the environment: ") +
                         (id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                             : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
    }
  }
  struct candidate {
    const detail::ini_section* section;
    const detail::ini_file* file;
    std::string name;
  };
  const candidate candidates[] = {{cred_section, &credentials_ini, r.profile}, {conf_section, &config_ini, conf_name}};
  for (const auto& c : candidates) {
    if (r.credentials || c.section == nullptr) continue;
    const auto* id = detail::lookup(c.section, "aws_access_key_id");
    const auto* secret = detail::lookup(c.section, "aws_secret_access_key");
    if (id != nullptr && !id->value.empty() && secret != nullptr && !secret->value.empty()) {
      const auto* token = detail::lookup(c.section, "aws_session_token");
      r.credentials = aws::credentials{id->value, secret->value, token ? token->value : std::string{}};
      r.sources.credentials = detail::where(*c.file, c.name);
    } else if ((id != nullptr && !id->value.empty()) || (secret != nullptr && !secret->value.empty())) {
      const auto* present = id != nullptr && !id->value.empty() ? id : secret;
      throw config_error("aws: " + detail::where(*c.file, c.name, present) + ": profile \"" + r.profile +
                         "\" has " + (present == id ? "aws_access_key_id but no aws_secret_access_key"
                                                    : "aws_secret_access_key but no aws_access_key_id"));
    }
  }
  if (!r.credentials) {
    // Profiles that get credentials from STS, SSO or a process: say so rather than go anonymous.
    for (const auto& c : candidates)
      for (const char* key : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                              "web_identity_token_file", "credential_source"})
        if (const auto* v = detail::lookup(c.section, key))
          throw config_error("aws: " + detail::where(*c.file, c.name, v) + ": profile \"" + r.profile +
                             "\" gets its credentials through " + key +
                             ", which sluice does not resolve; give it aws_access_key_id and "
                             "aws_secret_access_key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }

  // Region.
  if (auto v = env("AWS_REGION")) {
    r.region = *v;
    r.sources.region = "environment (AWS_REGION)";
  } else if (auto d = env("AWS_DEFAULT_REGION")) {
    r.region = *d;
    r.sources.region = "environment (AWS_DEFAULT_REGION)";
  } else if (const auto* p = detail::lookup(conf_section, "region"); p && !p->value.empty()) {
    r.region = p->value;
    r.sources.region = detail::where(config_ini, conf_name, p);
  }

  // Endpoint: service-specific before global, environment before the file.
  std::string env_suffix, config_key;
  for (char c : options.service) {
    const bool sep = c == ' ' || c == '-';
    env_suffix += sep ? '_' : (c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    config_key += sep ? '_' : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  const auto* ignore_setting = detail::lookup(conf_section, "ignore_configured_endpoint_urls");
  const bool ignore = detail::is_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or("")) ||
                      (ignore_setting != nullptr && detail::is_true(ignore_setting->value));
  if (!ignore) {
    const std::string service_var = "AWS_ENDPOINT_URL_" + env_suffix;
    if (auto v = env(service_var); v && !env_suffix.empty()) {
      r.endpoint_url = *v;
      r.sources.endpoint_url = "environment (" + service_var + ")";
    } else if (auto g = env("AWS_ENDPOINT_URL")) {
      r.endpoint_url = *g;
      r.sources.endpoint_url = "environment (AWS_ENDPOINT_URL)";
    } else {
      if (const auto* services = detail::lookup(conf_section, "services"); services && !services->value.empty()) {
        const std::string section = "services " + services->value;
        auto it = config_ini.sections.find(section);
        if (it == config_ini.sections.end())
          throw config_error("aws: " + detail::where(config_ini, conf_name, services) + ": services = " +
                             services->value + " but the file has no [" + section + "] section");
        if (const auto* u = detail::lookup(&it->second, config_key + ".endpoint_url"); u && !u->value.empty()) {
          r.endpoint_url = u->value;
          r.sources.endpoint_url = detail::where(config_ini, section, u);
        }
      }
      if (r.endpoint_url.empty())
        if (const auto* u = detail::lookup(conf_section, "endpoint_url"); u && !u->value.empty()) {
          r.endpoint_url = u->value;
          r.sources.endpoint_url = detail::where(config_ini, conf_name, u);
        }
    }
  }

  // S3 addressing style from the nested `s3 =` block.
  if (const auto* style = detail::lookup(conf_section, "s3.addressing_style")) {
    if (style->value == "auto")
      r.s3_addressing_style = addressing_style::automatic;
    else if (style->value == "path")
      r.s3_addressing_style = addressing_style::path;
    else if (style->value == "virtual")
      r.s3_addressing_style = addressing_style::virtual_;
    else
      throw config_error("aws: " + detail::where(config_ini, conf_name, style) + ": s3 addressing_style = " +
                         style->value + ": must be auto, path or virtual");
    r.sources.addressing_style = detail::where(config_ini, conf_name, style);
  }
  return r;
}

}  // namespace sluice::aws
