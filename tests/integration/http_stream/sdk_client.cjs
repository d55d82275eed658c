#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Test tool (not product code): sends ONE call to a Firehose-compatible endpoint with the REAL
// AWS SDK for JavaScript v3 (@aws-sdk/client-firehose, @aws-sdk/client-kinesis), so the C++
// integration tests can check what a real SDK sends and how it reads the answers.
//   SLUICE_NODE_MODULES=.tools/node_modules node sdk_client.cjs '{"endpoint": ..., ...}'
//   echo '{"endpoint": ..., ...}' | SLUICE_NODE_MODULES=... node sdk_client.cjs
// The packages are looked up in SLUICE_NODE_MODULES when it is set, else as node does (NODE_PATH).
//
// The command (JSON, argv[2] or stdin):
//   {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//    "credentials": {"access_key_id": "AKID", "secret_access_key": "SECRET", "session_token": "..."?},
//    "service": "firehose" | "kinesis",
//    "operation": firehose: "PutRecord" | "PutRecordBatch" | "ListDeliveryStreams" | "DescribeDeliveryStream"
//                 kinesis:  "PutRecord" | "PutRecords",
//    "stream": "name",                      the DeliveryStreamName / StreamName (not for ListDeliveryStreams)
//    "records": ["BASE64", ...],            the Data of each record, standard padded base64
//                                           (PutRecord: exactly one)
//    "partition_key": "pk",                 Kinesis: every record's PartitionKey (default "sluice") ...
//    "partition_keys": ["pk1", ...],        ... or one per record
//    "input": {...},                        optional: members merged into the SDK's input as they
//                                           are (Limit, ExclusiveStartDeliveryStreamName, StreamARN, ...)
//    "timeout_ms": 30000}                   optional: the request's socket timeout
// Prints ONE JSON line and exits 0: the SDK's output object (with its $metadata), or
//   {"error": {"name", "message", "$fault", "httpStatusCode"}} when the call throws
// (httpStatusCode is null when no response came, e.g. a refused connection or a timeout).
// Retries are off (maxAttempts 1), so the first error is the one reported. A bad command is a
// usage error: the reason on stderr, exit status 2.
//
// The SDK is isolated from the machine: every AWS_* variable is dropped and the shared config
// and credentials files are /dev/null, so only the command's settings count (and the SDK's
// Node-version warning is off). Both clients use
// HTTP/1.1 (NodeHttpHandler): KinesisClient would otherwise speak HTTP/2
// (../shared/notes/real-clients.md).
'use strict'
const fs = require('fs')
const path = require('path')

function usage(message) {
  process.stderr.write(`sdk_client.cjs: ${message}\n`)
  process.exit(2)
}

for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name]
process.env.AWS_CONFIG_FILE = '/dev/null'
process.env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null'
process.env.AWS_EC2_METADATA_DISABLED = 'true'
// The SDK warns on stderr that releases after January 2027 need Node 22; Node 20 is what Debian 12 has.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const modules = process.env.SLUICE_NODE_MODULES
// Resolves `name` from SLUICE_NODE_MODULES (or, unset, the usual way), or from the folder of
// another package (`from`), where npm may have put a dependency of that package.
function load(name, from) {
  const paths = from ? [from] : modules ? [modules] : undefined
  try {
    return require(paths ? require.resolve(name, { paths }) : name)
  } catch (e) {
    usage(`cannot load ${name} (${e.code || e.message}); run scripts/bootstrap and set SLUICE_NODE_MODULES ` +
          `to its .tools/node_modules (now ${modules ? `'${modules}'` : 'unset'})`)
  }
}
function package_dir(name) {
  const paths = modules ? [modules] : undefined
  return path.dirname(paths ? require.resolve(`${name}/package.json`, { paths }) : require.resolve(`${name}/package.json`))
}

function read_command() {
  let text = process.argv[2]
  if (text === undefined) {
    try {
      text = fs.readFileSync(0, 'utf8')
    } catch (e) {
      usage(`no command: give it as the first argument or on stdin (${e.message})`)
    }
  }
  try {
    const c = JSON.parse(text)
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new Error('not a JSON object')
    return c
  } catch (e) {
    usage(`the command is not a JSON object: ${e.message}`)
  }
}

function need_string(c, field) {
  if (typeof c[field] !== 'string' || c[field] === '') usage(`"${field}" must be a non-empty string`)
  return c[field]
}

// Strict standard base64 (Buffer.from would skip bad characters silently).
function decode_base64(text, where) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    usage(`${where} is not padded standard base64: ${JSON.stringify(text).slice(0, 80)}`)
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function records_of(c, exactly_one) {
  if (!Array.isArray(c.records) || c.records.length === 0) usage('"records" must be a non-empty array of base64 strings')
  if (exactly_one && c.records.length !== 1)
    usage(`${c.operation} sends one record; "records" has ${c.records.length}`)
  return c.records.map((r, i) => decode_base64(r, `records[${i}]`))
}

function partition_keys(c, count) {
  if (c.partition_keys !== undefined) {
    if (!Array.isArray(c.partition_keys) || c.partition_keys.length !== count ||
        !c.partition_keys.every((k) => typeof k === 'string'))
      usage(`"partition_keys" must be an array of ${count} strings, one per record`)
    return c.partition_keys
  }
  const key = c.partition_key === undefined ? 'sluice' : c.partition_key
  if (typeof key !== 'string') usage('"partition_key" must be a string')
  return new Array(count).fill(key)
}

// The SDK command and its input for the call described by `c`.
function build(c, sdk) {
  const op = c.operation
  if (c.service === 'firehose') {
    switch (op) {
      case 'PutRecord':
        return [sdk.PutRecordCommand, { DeliveryStreamName: need_string(c, 'stream'), Record: { Data: records_of(c, true)[0] } }]
      case 'PutRecordBatch':
        return [sdk.PutRecordBatchCommand,
          { DeliveryStreamName: need_string(c, 'stream'), Records: records_of(c, false).map((Data) => ({ Data })) }]
      case 'ListDeliveryStreams':
        return [sdk.ListDeliveryStreamsCommand, {}]
      case 'DescribeDeliveryStream':
        return [sdk.DescribeDeliveryStreamCommand, { DeliveryStreamName: need_string(c, 'stream') }]
    }
    usage(`firehose operation "${op}": must be PutRecord, PutRecordBatch, ListDeliveryStreams or DescribeDeliveryStream`)
  }
  switch (op) {
    case 'PutRecord': {
      const data = records_of(c, true)
      return [sdk.PutRecordCommand,
        { StreamName: need_string(c, 'stream'), Data: data[0], PartitionKey: partition_keys(c, 1)[0] }]
    }
    case 'PutRecords': {
      const data = records_of(c, false)
      const keys = partition_keys(c, data.length)
      return [sdk.PutRecordsCommand,
        { StreamName: need_string(c, 'stream'), Records: data.map((Data, i) => ({ Data, PartitionKey: keys[i] })) }]
    }
  }
  usage(`kinesis operation "${op}": must be PutRecord or PutRecords`)
}

async function main() {
  const c = read_command()
  if (c.service !== 'firehose' && c.service !== 'kinesis')
    usage(`"service" must be "firehose" or "kinesis", not ${JSON.stringify(c.service)}`)
  const endpoint = need_string(c, 'endpoint')
  const region = need_string(c, 'region')
  const creds = c.credentials
  if (creds === null || typeof creds !== 'object' || typeof creds.access_key_id !== 'string' ||
      typeof creds.secret_access_key !== 'string')
    usage('"credentials" must be {"access_key_id": ..., "secret_access_key": ..., "session_token"?: ...}')
  if (c.input !== undefined && (c.input === null || typeof c.input !== 'object' || Array.isArray(c.input)))
    usage('"input" must be a JSON object')
  const timeout = c.timeout_ms === undefined ? 30000 : c.timeout_ms
  if (!Number.isInteger(timeout) || timeout <= 0) usage('"timeout_ms" must be a positive integer')

  const client_package = c.service === 'firehose' ? '@aws-sdk/client-firehose' : '@aws-sdk/client-kinesis'
  const sdk = load(client_package)
  const { NodeHttpHandler } = load('@smithy/node-http-handler', package_dir(client_package))
  const [Command, input] = build(c, sdk)
  Object.assign(input, c.input || {})

  const Client = c.service === 'firehose' ? sdk.FirehoseClient : sdk.KinesisClient
  const client = new Client({
    region,
    endpoint,
    credentials: {
      accessKeyId: creds.access_key_id,
      secretAccessKey: creds.secret_access_key,
      ...(creds.session_token ? { sessionToken: creds.session_token } : {}),
    },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ requestTimeout: timeout, connectionTimeout: timeout }),
  })
  let line
  try {
    line = JSON.stringify(await client.send(new Command(input)))
  } catch (e) {
    line = JSON.stringify({
      error: {
        name: e.name,
        message: e.message,
        $fault: e.$fault === undefined ? null : e.$fault,
        httpStatusCode: (e.$metadata && e.$metadata.httpStatusCode) || null,
      },
    })
  } finally {
    client.destroy()
  }
  process.stdout.write(line + '\n')
}

main().catch((e) => {
  process.stderr.write(`sdk_client.cjs: ${e.stack || e}\n`)
  process.exit(2)
})
