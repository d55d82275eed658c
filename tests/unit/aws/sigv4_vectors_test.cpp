// SPDX-License-Identifier: Apache-2.0
// Every case of the three SigV4 vector sets in shared/testdata/sigv4 (see its README): the
// 2015 AWS test suite, aws-c-auth's header and presigned cases, and the Amazon S3 examples
// including the chunked upload. Case folders are discovered at run time and counted, so a
// missing folder fails rather than shrinking the run.
#include <sluice/aws/sigv4.hpp>

#include "aws_test_support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace aws_test;

namespace {

aws::verifier suite_verifier(bool normalize) {
  return aws::verifier(one_key(std::string(suite_key_id), std::string(suite_secret)),
                       {.region = "us-east-1", .service = "service", .normalize_path = normalize});
}

std::string json_string(const boost::json::value& v, std::string_view key) {
  return std::string(v.at(key).as_string());
}

}  // namespace

TEST_CASE("all 31 cases of the 2015 AWS SigV4 test suite give the expected canonical request, string to sign and "
          "Authorization",
          "[aws][sigv4]") {
  const auto root = sluice_test::testdata("sigv4/aws-sig-v4-test-suite");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/sigv4/aws-sig-v4-test-suite is absent");
  const auto cases = case_folders(*root, {}, ".req");
  REQUIRE(cases.size() == 31);  // 22 top-level, 7 normalize-path, 2 post-sts-token

  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthA"
      "x7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9"
      "q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  int checked = 0;
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    INFO("case " << name);
    auto file = [&](const char* ext) { return read_vector(dir / (name + ext)); };
    auto parsed = parse_request(file(".req"), folding::separate_values);
    const auto* date = parsed.request.find("x-amz-date");
    REQUIRE(date != nullptr);
    const auto when = aws::parse_amz_date(date->value);
    REQUIRE(when);

    const bool sts_case = name.starts_with("post-sts-header-");
    aws::credentials creds{std::string(suite_key_id), std::string(suite_secret), sts_case ? token : ""};
    aws::signing_options options{.region = "us-east-1", .service = "service"};
    options.sign_session_token = name != "post-sts-header-after";
    aws::signer signer(creds, options);
    aws::http_request req = parsed.request;
    const auto parts = signer.sign(req, *when);

    CHECK(parts.canonical_request == file(".creq"));
    CHECK(parts.string_to_sign == file(".sts"));
    const auto* authorization = req.find("authorization");
    REQUIRE(authorization != nullptr);
    CHECK(authorization->value == file(".authz"));

    // The signed request the suite shows carries the same headers as ours (the token added
    // after signing in post-sts-header-after included).
    const auto expected = parse_request(file(".sreq"), folding::separate_values);
    CHECK(header_set(req) == header_set(expected.request));

    // The verifier accepts what the signer produced, except a session token left unsigned.
    const auto verified = suite_verifier(true).verify(req, parsed.body, *when);
    if (name == "post-sts-header-after") {
      CHECK(verified.failure == aws::auth_failure::header_not_signed);
      CHECK_THAT(verified.message, Catch::Contains("x-amz-security-token"));
    } else {
      CHECK(verified);
      CHECK(verified.message == "");
    }
    ++checked;
  }
  CHECK(checked == 31);
}

TEST_CASE("all 38 aws-c-auth SigV4 cases sign by header and by presigned query as expected", "[aws][sigv4]") {
  const auto root = sluice_test::testdata("sigv4/aws-c-auth-v4");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/sigv4/aws-c-auth-v4 is absent");
  const auto cases = case_folders(*root, "context.json");
  REQUIRE(cases.size() == 38);

  int header_cases = 0, query_cases = 0;
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    INFO("case " << name);
    const auto context = boost::json::parse(read_vector(dir / "context.json"));
    const auto& c = context.at("credentials");
    aws::credentials creds{json_string(c, "access_key_id"), json_string(c, "secret_access_key"),
                           c.as_object().contains("token") ? json_string(c, "token") : ""};
    std::string amz_date = json_string(context, "timestamp");  // 2015-08-30T12:36:00Z
    std::erase(amz_date, '-');
    std::erase(amz_date, ':');
    const auto when = aws::parse_amz_date(amz_date);
    REQUIRE(when);
    const bool normalize = context.at("normalize").as_bool();
    const bool omit_token =
        context.as_object().contains("omit_session_token") && context.at("omit_session_token").as_bool();
    aws::signing_options options{.region = json_string(context, "region"),
                                 .service = json_string(context, "service"),
                                 .normalize_path = normalize,
                                 .double_encode_path = true,
                                 .add_content_sha256 = context.at("sign_body").as_bool(),
                                 .sign_session_token = !omit_token};
    const aws::signer signer(creds, options);
    const auto parsed = parse_request(read_vector(dir / "request.txt"), folding::one_value);

    {  // Authorization header
      aws::http_request req = parsed.request;
      const auto parts = signer.sign(req, *when);
      CHECK(parts.canonical_request == read_vector(dir / "header-canonical-request.txt"));
      CHECK(parts.string_to_sign == read_vector(dir / "header-string-to-sign.txt"));
      CHECK(parts.signature == read_vector(dir / "header-signature.txt"));
      const auto expected = parse_request(read_vector(dir / "header-signed-request.txt"), folding::one_value);
      CHECK(header_set(req) == header_set(expected.request));
      const auto verified = suite_verifier(normalize).verify(req, parsed.body, *when);
      if (omit_token)
        CHECK(verified.failure == aws::auth_failure::header_not_signed);
      else
        CHECK(verified.message == "");
      ++header_cases;
    }
    {  // presigned query
      aws::http_request req = parsed.request;
      const auto expires = std::chrono::seconds(context.at("expiration_in_seconds").as_int64());
      const auto parts = signer.presign(req, *when, expires);
      CHECK(parts.canonical_request == read_vector(dir / "query-canonical-request.txt"));
      CHECK(parts.string_to_sign == read_vector(dir / "query-string-to-sign.txt"));
      CHECK(parts.signature == read_vector(dir / "query-signature.txt"));
      const auto expected = parse_request(read_vector(dir / "query-signed-request.txt"), folding::one_value);
      CHECK(query_parts(req.query) == query_parts(expected.request.query));
      CHECK(header_set(req) == header_set(expected.request));
      // A token added after signing is not in the canonical query, which the verifier (like
      // the services that sign it) does not accept; every other presigned case verifies.
      if (!omit_token) {
        const auto verified = suite_verifier(normalize).verify(req, parsed.body, *when + std::chrono::seconds(60));
        CHECK(verified.message == "");
        CHECK(verified.presigned);
      }
      ++query_cases;
    }
  }
  CHECK(header_cases == 38);
  CHECK(query_cases == 38);
}

TEST_CASE("the Amazon S3 header-signed and presigned examples give the published signatures", "[aws][sigv4][s3]") {
  const auto root = sluice_test::testdata("sigv4");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/sigv4 is absent");
  const auto doc = boost::json::parse(read_vector(*root / "s3-sigv4-examples.json"));
  const auto& creds_json = doc.at("credentials");
  const aws::credentials creds{json_string(creds_json, "access_key_id"), json_string(creds_json, "secret_access_key"),
                               ""};
  const auto when = aws::parse_amz_date(json_string(doc, "timestamp"));
  REQUIRE(when);
  const aws::signer signer(creds, aws::signing_options::s3(json_string(doc, "region")));
  const aws::verifier verifier(one_key(creds.access_key_id, creds.secret_access_key),
                               aws::verify_options::s3(json_string(doc, "region")));
  const auto& examples = doc.at("examples").as_array();
  REQUIRE(examples.size() == 5);

  int checked = 0;
  for (const auto& ex : examples) {
    const std::string name = json_string(ex, "name");
    INFO("example " << name);
    aws::http_request req;
    req.method = json_string(ex, "method");
    // On the wire: the object key as a client may send it (test$file.text unencoded) and
    // value-less parameters without '=' (?lifecycle).
    req.path = name == "put-object" ? "/test$file.text" : json_string(ex, "canonical_uri");
    std::string query = json_string(ex, "canonical_query");
    if (name == "get-bucket-lifecycle") query = "lifecycle";
    for (const auto& [k, v] : ex.at("headers").as_object()) req.headers.push_back({std::string(k), std::string(v.as_string())});
    const std::string body = ex.as_object().contains("body") ? json_string(ex, "body") : "";

    aws::signed_parts parts;
    if (name == "presigned-get-object") {
      req.payload_hash = std::string(aws::unsigned_payload);
      parts = signer.presign(req, *when, std::chrono::seconds(86400));
      CHECK("https://" + json_string(ex, "host") + req.path + "?" + req.query == json_string(ex, "expected_url"));
      const auto verified = verifier.verify(req, *when + std::chrono::hours(23));
      CHECK(verified.message == "");
      CHECK(verified.presigned);
    } else {
      req.query = query;
      req.payload_hash = aws::payload_hash(body);
      parts = signer.sign(req, *when);
      std::string expected_authorization = json_string(ex, "expected_authorization");
      // The S3 pages print no space after the commas; both forms are accepted, ours has one.
      for (std::size_t at = 0; (at = expected_authorization.find(',', at)) != std::string::npos; at += 2)
        expected_authorization.insert(at + 1, " ");
      const auto* authorization = req.find("Authorization");
      REQUIRE(authorization != nullptr);
      CHECK(authorization->value == expected_authorization);
      const auto verified = verifier.verify(req, body, *when);
      CHECK(verified.message == "");
    }
    CHECK(parts.canonical_request == json_string(ex, "canonical_request"));
    CHECK(parts.string_to_sign == json_string(ex, "string_to_sign"));
    CHECK(parts.signature == json_string(ex, "expected_signature"));
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("the Amazon S3 chunked upload example gives the published seed and chunk signatures and Content-Length",
          "[aws][sigv4][s3]") {
  const auto root = sluice_test::testdata("sigv4");
  if (!root) SLUICE_SKIP_OR_FAIL("shared/testdata/sigv4 is absent");
  const auto doc = boost::json::parse(read_vector(*root / "s3-sigv4-examples.json"));
  const auto& creds_json = doc.at("credentials");
  const aws::credentials creds{json_string(creds_json, "access_key_id"), json_string(creds_json, "secret_access_key"),
                               ""};
  const auto when = aws::parse_amz_date(json_string(doc, "timestamp"));
  REQUIRE(when);
  const auto& ex = doc.at("chunked_upload");
  const auto& chunks = ex.at("chunks").as_array();
  REQUIRE(chunks.size() == 3);

  std::uint64_t payload_size = 0;
  for (const auto& c : chunks) payload_size += static_cast<std::uint64_t>(c.at("data_bytes").as_int64());
  REQUIRE(payload_size == 66560);
  const auto content_length = aws::chunked_content_length(payload_size, 65536);
  CHECK(content_length == static_cast<std::uint64_t>(ex.at("expected_content_length").as_int64()));
  CHECK(content_length == 66824);

  aws::http_request req;
  req.method = json_string(ex, "method");
  req.path = json_string(ex, "canonical_uri");
  for (const auto& [k, v] : ex.at("headers").as_object()) req.headers.push_back({std::string(k), std::string(v.as_string())});
  req.set("Content-Length", std::to_string(content_length));
  req.payload_hash = json_string(ex, "payload_hash_literal");
  REQUIRE(req.payload_hash == aws::streaming_payload);

  const aws::signer signer(creds, aws::signing_options::s3(json_string(doc, "region")));
  const auto seed = signer.sign(req, *when);
  CHECK(seed.canonical_request == json_string(ex, "canonical_request"));
  CHECK(seed.string_to_sign == json_string(ex, "string_to_sign"));
  CHECK(seed.signature == json_string(ex, "expected_seed_signature"));

  auto chunk_signer = signer.chunks(seed);
  std::string body;
  for (const auto& c : chunks) {
    const auto size = static_cast<std::size_t>(c.at("data_bytes").as_int64());
    const std::string data(size, 'a');
    const std::size_t before = body.size();
    chunk_signer.frame(body, data);
    INFO("chunk of " << size << " bytes");
    CHECK(chunk_signer.previous_signature() == json_string(c, "expected_signature"));
    const std::string header = json_string(c, "chunk_header");
    CHECK(body.substr(before, header.size()) == header);
    CHECK(body.substr(before + header.size()) == data + "\r\n");
    CHECK(body.size() - before == aws::chunk_signer::framed_size(size));
  }
  CHECK(body.size() == content_length);

  // The seed request verifies; its streaming payload hash is taken from the header.
  const aws::verifier verifier(one_key(creds.access_key_id, creds.secret_access_key),
                               aws::verify_options::s3(json_string(doc, "region")));
  aws::http_request received = req;
  received.payload_hash.clear();
  const auto verified = verifier.verify(received, *when);
  CHECK(verified.message == "");
  CHECK(verified.signature == seed.signature);
}
