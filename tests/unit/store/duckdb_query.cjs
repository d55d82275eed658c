// SPDX-License-Identifier: Apache-2.0
// Runs one SQL query with DuckDB (@duckdb/node-api, found through NODE_PATH) and prints the
// rows as JSON; exit status 1 with the message on stderr when it fails.
//   NODE_PATH=.tools/node_modules node duckdb_query.cjs "select 42 as x"
const { DuckDBInstance } = require('@duckdb/node-api');

(async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(process.argv[2]);
  console.log(JSON.stringify(reader.getRowObjectsJson()));
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
