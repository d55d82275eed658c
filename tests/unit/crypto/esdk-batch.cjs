#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Test tool (not product code): runs many encrypt and decrypt jobs with the REAL AWS Encryption
// SDK (@aws-crypto/client-node) and raw AES keyrings in one process, because loading the SDK
// is the slow part of each node invocation. The C++ tests use it to check that the SDK reads
// what sluice writes and that sluice reads what the SDK writes.
//   NODE_PATH=DIR/node_modules node esdk-batch.cjs JOBS.json
// JOBS.json is an array of
//   {"op": "encrypt", "namespace": NS, "keyName": NAME, "keyHex": HEX, "suite": "0x0478" | "0x0578",
//    "frameLength": N, "context": {K: V}, "in": PLAINTEXT_FILE, "out": MESSAGE_FILE}
//   {"op": "decrypt", "namespace": NS, "keys": {NAME: HEX, ...}, "expect": {K: V},
//    "in": MESSAGE_FILE, "out": PLAINTEXT_FILE}
// Decryption uses CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, the SDK default.
// Prints a JSON array with one result per job, {"ok": true, "suiteId", "frameLength",
// "context"} or {"ok": false, "error"}, and exits 0; exit 2 on a usage error.
const fs = require('fs')
const { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier, AlgorithmSuiteIdentifier,
  MultiKeyringNode } = require('@aws-crypto/client-node')

const suites = {
  '0x0478': AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
  '0x0578': AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
}
const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

// RawAesKeyringNode zeroes the key buffer it receives: give it its own copy.
const rawAes = (keyNamespace, keyName, hex) => new RawAesKeyringNode({
  keyName, keyNamespace, unencryptedMasterKey: new Uint8Array(Buffer.from(hex, 'hex')),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
})

async function run(job) {
  if (job.op === 'encrypt') {
    if (!(job.suite in suites)) throw new Error(`suite ${job.suite}: expected 0x0478 or 0x0578`)
    const { result } = await encrypt(rawAes(job.namespace, job.keyName, job.keyHex), fs.readFileSync(job.in), {
      suiteId: suites[job.suite], frameLength: job.frameLength, encryptionContext: job.context || {},
    })
    fs.writeFileSync(job.out, result)
    return { ok: true }
  }
  if (job.op === 'decrypt') {
    const rings = Object.entries(job.keys).map(([name, hex]) => rawAes(job.namespace, name, hex))
    const keyring = rings.length === 1 ? rings[0] : new MultiKeyringNode({ children: rings })
    const { plaintext, messageHeader: h } = await decrypt(keyring, fs.readFileSync(job.in))
    const ctx = h.encryptionContext
    for (const [k, v] of Object.entries(job.expect || {}))
      if (ctx[k] !== v) throw new Error(`encryption context ${k}=${JSON.stringify(ctx[k])}, expected ${JSON.stringify(v)}`)
    fs.writeFileSync(job.out, plaintext)
    return { ok: true, suiteId: '0x' + h.suiteId.toString(16).padStart(4, '0'), frameLength: h.frameLength, context: ctx }
  }
  throw new Error(`op ${job.op}: expected encrypt or decrypt`)
}

async function main() {
  if (process.argv.length !== 3) { console.error('usage: esdk-batch.cjs JOBS.json'); process.exit(2) }
  const results = []
  for (const job of JSON.parse(fs.readFileSync(process.argv[2])))
    results.push(await run(job).catch(e => ({ ok: false, error: e.message })))
  process.stdout.write(JSON.stringify(results))
}
main().catch(e => { console.error(`esdk-batch: ${e.message}`); process.exit(2) })
