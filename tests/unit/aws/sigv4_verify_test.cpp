// SPDX-License-Identifier: Apache-2.0
// Verification: the two requests the real AWS SDK for JavaScript v3 sent (shared/testdata/s3)
// verify, and each kind of damage fails with the error code a client would see from AWS.
#include <sluice/aws/sigv4.hpp>

#include "aws_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace aws_test;
using aws::auth_failure;
using namespace std::chrono_literals;

namespace {

struct capture {
  aws::http_request request;
  std::string body;
  std::chrono::system_clock::time_point signed_at;
};

std::optional<capture> load_capture(const char* file) {
  const auto root = sluice_test::testdata("s3");
  if (!root) return std::nullopt;
  auto parsed = parse_request(read_vector(*root / file), folding::one_value);
  capture c{parsed.request, parsed.body, {}};
  c.request.payload_hash.clear();  // what a server knows before it hashes the body
  const auto* date = c.request.find("x-amz-date");
  REQUIRE(date != nullptr);
  const auto t = aws::parse_amz_date(date->value);
  REQUIRE(t);
  c.signed_at = *t;
  return c;
}

aws::verifier s3_verifier(std::string secret = std::string(suite_secret)) {
  return aws::verifier(one_key(std::string(suite_key_id), std::move(secret)), aws::verify_options::s3("us-east-1"));
}

aws::http_header& header(aws::http_request& r, std::string_view name) {
  for (auto& h : r.headers)
    if (h.name == name) return h;
  FAIL("no header " << name);
  throw std::logic_error("unreachable");
}

void flip_last(std::string& s) { s.back() = s.back() == 'a' ? 'b' : 'a'; }

}  // namespace

TEST_CASE("the PUT and GET the AWS SDK for JavaScript v3 signed verify against their body", "[aws][sigv4][verify]") {
  for (const char* file : {"sdk-js-v3-put-object.request.txt", "sdk-js-v3-get-object.request.txt"}) {
    INFO(file);
    auto c = load_capture(file);
    if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
    const auto r = s3_verifier().verify(c->request, c->body, c->signed_at);
    CHECK(r.message == "");
    CHECK(r.failure == auth_failure::none);
    CHECK(r.code == "");
    CHECK(r.http_status == 200);
    CHECK(r.access_key_id == suite_key_id);
    CHECK(!r.presigned);
    // S3 keeps the path as sent: one encoding, and x-id stays in the canonical query.
    CHECK_THAT(r.canonical_request, Catch::StartsWith(c->request.method + "\n/examplebucket/dir/test%20file.txt\nx-id="));
    // Trusting x-amz-content-sha256 (the body not hashed yet) verifies too.
    CHECK(s3_verifier().verify(c->request, c->signed_at));
  }
}

TEST_CASE("changing one byte of a signed header, the path or the query of an SDK request fails as SignatureDoesNotMatch",
          "[aws][sigv4][verify]") {
  auto original = load_capture("sdk-js-v3-put-object.request.txt");
  if (!original) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  auto expect_mismatch = [&](const capture& c) {
    const auto r = s3_verifier().verify(c.request, c.body, c.signed_at);
    CHECK(r.failure == auth_failure::signature_mismatch);
    CHECK(r.code == "SignatureDoesNotMatch");
    CHECK(r.http_status == 403);
    CHECK_THAT(r.message, Catch::Contains("does not match"));
  };
  for (const char* name : {"x-amz-checksum-crc32", "amz-sdk-invocation-id", "content-type", "host", "x-amz-user-agent"}) {
    INFO("header " << name);
    auto c = *original;
    flip_last(header(c.request, name).value);
    expect_mismatch(c);
  }
  {
    INFO("path");
    auto c = *original;
    flip_last(c.request.path);
    expect_mismatch(c);
  }
  {
    INFO("query");
    auto c = *original;
    flip_last(c.request.query);
    expect_mismatch(c);
  }
  {
    INFO("method");
    auto c = *original;
    c.request.method = "POST";
    expect_mismatch(c);
  }
  {
    INFO("x-amz-content-sha256 changed with a body the server did not hash");
    auto c = *original;
    auto& v = header(c.request, "x-amz-content-sha256").value;
    v[0] = v[0] == '4' ? '5' : '4';
    const auto r = s3_verifier().verify(c.request, c.signed_at);
    CHECK(r.failure == auth_failure::signature_mismatch);
  }
  {
    INFO("an unsigned header may change");
    auto c = *original;
    flip_last(header(c.request, "user-agent").value);
    CHECK(s3_verifier().verify(c.request, c.body, c.signed_at));
  }
}

TEST_CASE("a body that differs from x-amz-content-sha256 fails as XAmzContentSHA256Mismatch", "[aws][sigv4][verify]") {
  auto c = load_capture("sdk-js-v3-put-object.request.txt");
  if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  flip_last(c->body);
  const auto r = s3_verifier().verify(c->request, c->body, c->signed_at);
  CHECK(r.failure == auth_failure::content_sha256_mismatch);
  CHECK(r.code == "XAmzContentSHA256Mismatch");
  CHECK(r.http_status == 400);
  CHECK_THAT(r.message, Catch::Contains(aws::payload_hash(c->body)));

  auto get = load_capture("sdk-js-v3-get-object.request.txt");
  REQUIRE(get);
  CHECK(s3_verifier().verify(get->request, "unexpected body", get->signed_at).failure ==
        auth_failure::content_sha256_mismatch);
}

TEST_CASE("a wrong secret fails as SignatureDoesNotMatch and an unknown key as InvalidAccessKeyId",
          "[aws][sigv4][verify]") {
  auto c = load_capture("sdk-js-v3-get-object.request.txt");
  if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  std::string wrong(suite_secret);
  flip_last(wrong);
  const auto r = s3_verifier(wrong).verify(c->request, c->body, c->signed_at);
  CHECK(r.failure == auth_failure::signature_mismatch);
  CHECK(r.code == "SignatureDoesNotMatch");

  const aws::verifier other(one_key("AKIDOTHER", std::string(suite_secret)), aws::verify_options::s3("us-east-1"));
  const auto unknown = other.verify(c->request, c->body, c->signed_at);
  CHECK(unknown.failure == auth_failure::unknown_access_key);
  CHECK(unknown.code == "InvalidAccessKeyId");
  CHECK(unknown.http_status == 403);
  CHECK_THAT(unknown.message, Catch::Contains("AKIDEXAMPLE"));

  aws::verify_options json{.region = "us-east-1", .service = "s3", .normalize_path = false,
                           .double_encode_path = false};
  const aws::verifier json_other(one_key("AKIDOTHER", std::string(suite_secret)), json);
  CHECK(json_other.verify(c->request, c->body, c->signed_at).code == "UnrecognizedClientException");
}

TEST_CASE("a request signed more than five minutes from now fails as RequestTimeTooSkewed", "[aws][sigv4][verify]") {
  auto c = load_capture("sdk-js-v3-put-object.request.txt");
  if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  const auto v = s3_verifier();
  CHECK(v.verify(c->request, c->body, c->signed_at + 5min));
  CHECK(v.verify(c->request, c->body, c->signed_at - 5min));
  for (auto now : {c->signed_at + 5min + 1s, c->signed_at - 5min - 1s, c->signed_at + 24h}) {
    const auto r = v.verify(c->request, c->body, now);
    CHECK(r.failure == auth_failure::request_time_skewed);
    CHECK(r.code == "RequestTimeTooSkewed");
    CHECK(r.http_status == 403);
    CHECK_THAT(r.message, Catch::Contains("20261125T113656Z"));
  }
  // The JSON services report it as an expired signature, in the words the SDKs recognise.
  aws::verify_options json{.region = "us-east-1", .service = "s3", .normalize_path = false,
                           .double_encode_path = false};
  const aws::verifier jv(one_key(std::string(suite_key_id), std::string(suite_secret)), json);
  const auto late = jv.verify(c->request, c->body, c->signed_at + 10min);
  CHECK(late.code == "InvalidSignatureException");
  CHECK(late.message ==
        "Signature expired: 20261125T113656Z is now earlier than 20261125T114156Z (20261125T114656Z - 5 min.)");
  const auto early = jv.verify(c->request, c->body, c->signed_at - 10min);
  CHECK(early.message ==
        "Signature not yet current: 20261125T113656Z is still later than 20261125T113156Z (20261125T112656Z + 5 min.)");
  // The allowed skew is configurable.
  json.max_skew = 15min;
  CHECK(aws::verifier(one_key(std::string(suite_key_id), std::string(suite_secret)), json)
            .verify(c->request, c->body, c->signed_at + 10min));
}

TEST_CASE("a request without authentication fails as a missing token in each error style", "[aws][sigv4][verify]") {
  auto c = load_capture("sdk-js-v3-get-object.request.txt");
  if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  c->request.remove("authorization");
  const auto s3 = s3_verifier().verify(c->request, c->body, c->signed_at);
  CHECK(s3.failure == auth_failure::missing_authentication);
  CHECK(s3.code == "AccessDenied");
  CHECK(s3.http_status == 403);

  const aws::verifier json(one_key(std::string(suite_key_id), std::string(suite_secret)),
                           {.region = "us-east-1", .service = "firehose"});
  const auto j = json.verify(c->request, c->body, c->signed_at);
  CHECK(j.code == "MissingAuthenticationTokenException");
  CHECK(j.http_status == 400);
  CHECK_THAT(j.message, Catch::StartsWith("Request is missing Authentication Token"));

  const aws::verifier query(one_key(std::string(suite_key_id), std::string(suite_secret)),
                            {.region = "us-east-1", .service = "sts", .style = aws::error_style::query});
  const auto q = query.verify(c->request, c->body, c->signed_at);
  CHECK(q.code == "MissingAuthenticationToken");
  CHECK(q.http_status == 403);
}

// A Firehose-style request (AWS JSON protocol) signed by our signer, for the checks of the
// Authorization header itself.
namespace {
struct json_request {
  aws::http_request request;
  std::string body = R"({"DeliveryStreamName":"events","Record":{"Data":"aGVsbG8="}})";
  std::chrono::system_clock::time_point now = *aws::parse_amz_date("20240501T134500Z");
  aws::verifier verifier{one_key(std::string(suite_key_id), std::string(suite_secret)),
                         {.region = "us-east-1", .service = "firehose"}};

  json_request() {
    request.method = "POST";
    request.headers = {{"Host", "firehose.us-east-1.amazonaws.com"},
                       {"Content-Type", "application/x-amz-json-1.1"},
                       {"X-Amz-Target", "Firehose_20150804.PutRecord"},
                       {"User-Agent", "test"}};
    request.payload_hash = aws::payload_hash(body);
    aws::signer({std::string(suite_key_id), std::string(suite_secret), ""}, {"us-east-1", "firehose"})
        .sign(request, now);
  }
  std::string& authorization() { return header(request, "Authorization").value; }
  aws::verify_result verify() const { return verifier.verify(request, body, now); }
  void replace(std::string_view from, std::string_view to) {
    auto& a = authorization();
    const auto at = a.find(from);
    REQUIRE(at != std::string::npos);
    a.replace(at, from.size(), to);
  }
};

void check_incomplete(const aws::verify_result& r, std::string_view names) {
  CHECK(r.failure == auth_failure::malformed);
  CHECK(r.code == "IncompleteSignatureException");
  CHECK(r.http_status == 400);
  CHECK_THAT(r.message, Catch::Contains(std::string(names)));
}
}  // namespace

TEST_CASE("a Firehose-style request signed by the signer verifies", "[aws][sigv4][verify]") {
  json_request j;
  const auto r = j.verify();
  CHECK(r.message == "");
  CHECK(r);
  CHECK(r.scope == "20240501/us-east-1/firehose/aws4_request");
  // ... and the same body, changed, does not.
  CHECK(j.verifier.verify(j.request, j.body + " ", j.now).failure == auth_failure::signature_mismatch);
}

TEST_CASE("a malformed Authorization header fails as IncompleteSignature naming the part", "[aws][sigv4][verify]") {
  {
    json_request j;
    auto& a = j.authorization();
    a.erase(a.find(", Signature="));
    check_incomplete(j.verify(), "requires 'Signature' parameter");
  }
  {
    json_request j;
    auto& a = j.authorization();
    a = "AWS4-HMAC-SHA256 " + a.substr(a.find("SignedHeaders="));
    check_incomplete(j.verify(), "requires 'Credential' parameter");
  }
  {
    json_request j;
    j.authorization() = "AWS4-HMAC-SHA256";
    const auto r = j.verify();
    check_incomplete(r, "requires 'Credential' parameter");
    CHECK_THAT(r.message, Catch::Contains("requires 'SignedHeaders' parameter"));
    CHECK_THAT(r.message, Catch::Contains("requires 'Signature' parameter"));
  }
  {
    json_request j;
    j.replace("Credential=", "Credential ");
    check_incomplete(j.verify(), "not a valid key=value pair (missing equal-sign)");
  }
  {
    json_request j;
    j.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
    check_incomplete(j.verify(), "'AWS4-HMAC-SHA512'");
  }
  {
    json_request j;
    j.replace("/us-east-1/firehose/aws4_request", "/us-east-1/aws4_request");
    check_incomplete(j.verify(), "Credential 'AKIDEXAMPLE/20240501/us-east-1/aws4_request' must have the form");
  }
  {
    json_request j;
    j.replace("Signature=", "Signature=ab");
    check_incomplete(j.verify(), "must be 64 lower-case hex digits");
  }
  {
    json_request j;
    j.replace("SignedHeaders=content-type;host", "SignedHeaders=host;content-type");
    check_incomplete(j.verify(), "SignedHeaders 'host;content-type;x-amz-date;x-amz-target'");
  }
  {
    json_request j;
    j.replace("Signature=", "Region=us-east-1, Signature=");
    check_incomplete(j.verify(), "Unknown component 'Region'");
  }
  {
    json_request j;
    j.request.remove("x-amz-date");
    check_incomplete(j.verify(), "'X-Amz-Date' header");
  }
  {
    json_request j;
    header(j.request, "x-amz-date").value = "2024-05-01T13:45:00Z";
    check_incomplete(j.verify(), "X-Amz-Date '2024-05-01T13:45:00Z'");
  }
  {
    json_request j;
    j.request.remove("content-type");
    check_incomplete(j.verify(), "Signed header 'content-type' is not in the request");
  }
  {
    json_request j;
    j.request.headers.push_back({"Authorization", j.authorization()});
    check_incomplete(j.verify(), "more than one Authorization header");
  }
  {
    json_request j;
    j.request.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
    check_incomplete(j.verify(), "Only one auth mechanism allowed");
  }
}

TEST_CASE("a credential scope for another date, region or service fails naming the scope part", "[aws][sigv4][verify]") {
  auto check_scope = [](json_request& j, std::string_view text) {
    const auto r = j.verify();
    CHECK(r.failure == auth_failure::scope_mismatch);
    CHECK(r.code == "InvalidSignatureException");
    CHECK_THAT(r.message, Catch::Contains(std::string(text)));
  };
  {
    json_request j;
    j.replace("/20240501/", "/20240502/");
    check_scope(j, "'20240502' != '20240501'");
  }
  {
    json_request j;
    j.replace("/us-east-1/", "/eu-west-1/");
    check_scope(j, "Credential should be scoped to a valid region, not 'eu-west-1'");
  }
  {
    json_request j;
    j.replace("/firehose/", "/kinesis/");
    check_scope(j, "Credential should be scoped to correct service: 'firehose', not 'kinesis'");
  }
  {
    json_request j;
    j.replace("/aws4_request", "/aws5_request");
    check_scope(j, "valid terminator: 'aws4_request', not 'aws5_request'");
  }
  {  // An empty expected region accepts any.
    json_request j;
    aws::verifier any(one_key(std::string(suite_key_id), std::string(suite_secret)), {.service = "firehose"});
    CHECK(any.verify(j.request, j.body, j.now));
  }
}

TEST_CASE("host, x-amz-date and every x-amz-* header sent must be signed", "[aws][sigv4][verify]") {
  {
    json_request j;
    j.request.headers.push_back({"X-Amz-Meta-Extra", "added by a proxy"});
    const auto r = j.verify();
    CHECK(r.failure == auth_failure::header_not_signed);
    CHECK(r.code == "IncompleteSignatureException");
    CHECK_THAT(r.message, Catch::Contains("not signed: x-amz-meta-extra"));
  }
  {
    // A client that leaves host out of SignedHeaders (signed by hand over the other headers).
    json_request j;
    aws::http_request unsigned_host = j.request;
    unsigned_host.remove("authorization");
    const std::vector<std::string> names = {"content-type", "x-amz-date", "x-amz-target"};
    const auto creq = aws::canonical_request(unsigned_host, names, true, true);
    const auto sts = aws::string_to_sign("20240501T134500Z", "20240501/us-east-1/firehose/aws4_request", creq);
    const auto sig = aws::sign_string(aws::derive_signing_key(suite_secret, "20240501", "us-east-1", "firehose"), sts);
    unsigned_host.headers.push_back(
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/firehose/aws4_request, "
                          "SignedHeaders=content-type;x-amz-date;x-amz-target, Signature=" +
                              sig});
    const auto r = j.verifier.verify(unsigned_host, j.body, j.now);
    CHECK(r.failure == auth_failure::header_not_signed);
    CHECK_THAT(r.message, Catch::Contains("'Host' must be a signed header"));
  }
}

TEST_CASE("presigned URLs verify until they expire and fail when changed", "[aws][sigv4][verify]") {
  const auto t = *aws::parse_amz_date("20240501T134500Z");
  const aws::signer s3({std::string(suite_key_id), std::string(suite_secret), "session-token/+="},
                       aws::signing_options::s3("us-east-1"));
  aws::http_request get;
  get.path = "/bucket/dir/a%20b.txt";
  get.headers = {{"host", "127.0.0.1:9000"}};
  get.payload_hash = std::string(aws::unsigned_payload);
  s3.presign(get, t, 600s);
  CHECK_THAT(get.query, Catch::Contains("X-Amz-Security-Token=session-token%2F%2B%3D"));
  const auto v = s3_verifier();
  const auto ok = v.verify(get, t + 600s);
  CHECK(ok.message == "");
  CHECK(ok.presigned);

  const auto expired = v.verify(get, t + 601s);
  CHECK(expired.failure == auth_failure::presign_expired);
  CHECK(expired.code == "AccessDenied");
  CHECK_THAT(expired.message, Catch::Contains("Request has expired"));

  const auto early = v.verify(get, t - 6min);
  CHECK(early.failure == auth_failure::request_time_skewed);

  auto changed = get;
  changed.path = "/bucket/dir/a%20c.txt";
  CHECK(v.verify(changed, t).failure == auth_failure::signature_mismatch);

  auto no_signature = get;
  no_signature.query.erase(no_signature.query.find("&X-Amz-Signature="));
  const auto missing = v.verify(no_signature, t);
  CHECK(missing.failure == auth_failure::malformed);
  CHECK(missing.code == "AuthorizationQueryParametersError");
  CHECK_THAT(missing.message, Catch::Contains("missing: X-Amz-Signature"));

  auto long_expiry = get;
  const auto at = long_expiry.query.find("X-Amz-Expires=600");
  REQUIRE(at != std::string::npos);
  long_expiry.query.replace(at, 17, "X-Amz-Expires=604801");
  CHECK_THAT(v.verify(long_expiry, t).message, Catch::Contains("X-Amz-Expires '604801'"));
}

TEST_CASE("S3 verification requires x-amz-content-sha256 on header-signed requests", "[aws][sigv4][verify]") {
  auto c = load_capture("sdk-js-v3-get-object.request.txt");
  if (!c) SLUICE_SKIP_OR_FAIL("shared/testdata/s3 is absent");
  {
    auto r = c->request;
    header(r, "x-amz-content-sha256").value = "not-a-hash";
    const auto res = s3_verifier().verify(r, c->body, c->signed_at);
    CHECK(res.failure == auth_failure::content_sha256_invalid);
    CHECK(res.code == "InvalidArgument");
  }
  {
    // Sign a GET without the header (add_content_sha256 off) and check S3 rules reject it.
    aws::http_request r;
    r.path = "/bucket/key";
    r.headers = {{"host", "127.0.0.1:9000"}};
    r.payload_hash = std::string(aws::empty_payload_hash);
    auto options = aws::signing_options::s3("us-east-1");
    options.add_content_sha256 = false;
    aws::signer({std::string(suite_key_id), std::string(suite_secret), ""}, options).sign(r, c->signed_at);
    const auto res = s3_verifier().verify(r, "", c->signed_at);
    CHECK(res.failure == auth_failure::content_sha256_invalid);
    CHECK(res.code == "InvalidRequest");
    CHECK_THAT(res.message, Catch::Contains("Missing required header for this request: x-amz-content-sha256"));
  }
}
