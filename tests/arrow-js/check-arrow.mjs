#!/usr/bin/env node
// Reads Arrow IPC files with the JavaScript apache-arrow implementation, an implementation other than
// the C# one that wrote them, and reports what it found as JSON on stdout:
//
//   node check-arrow.mjs <folder or file>...
//
// Every *.arrow file under each folder (recursively) is opened and every value of every column is
// decoded. Per file: the path, the row and batch counts, the fields (name, type as pyarrow prints it,
// nullable) and the first and last rows (times as RFC 3339 UTC, like the NDJSON outputs). A file that is
// not an Arrow IPC *file* (magic ARROW1 at both ends), that fails to decode, whose dictionary indices
// point outside the dictionary or whose non-nullable column holds a null is an error. Exit status:
// 0 when every file read cleanly, 1 when any did not (or none was found), 2 on bad usage.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { tableFromIPC, Type, DataType } from 'apache-arrow';

const require = createRequire(import.meta.url);
const arrowVersion = JSON.parse(readFileSync(join(dirname(require.resolve('apache-arrow')), 'package.json'), 'utf8')).version;
const MAGIC = 'ARROW1';
const UNITS = ['s', 'ms', 'us', 'ns'];
const FLOATS = ['halffloat', 'float', 'double'];

/** The type as pyarrow prints it: int64, timestamp[ms, tz=UTC], dictionary<values=string, indices=int32, ordered=0>, map<string, double>. */
function typeName(t) {
  switch (t.typeId) {
    case Type.Bool: return 'bool';
    case Type.Int: return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`;
    case Type.Float: return FLOATS[t.precision];
    case Type.Utf8: return 'string';
    case Type.LargeUtf8: return 'large_string';
    case Type.Binary: return 'binary';
    case Type.Timestamp: return `timestamp[${UNITS[t.unit]}${t.timezone ? `, tz=${t.timezone}` : ''}]`;
    case Type.Dictionary: return `dictionary<values=${typeName(t.dictionary)}, indices=${typeName(t.indices)}, ordered=${t.isOrdered ? 1 : 0}>`;
    case Type.Map: {
      const [key, value] = t.children[0].type.children;
      return `map<${typeName(key.type)}, ${typeName(value.type)}${t.keysSorted ? ', keys_sorted' : ''}>`;
    }
    case Type.List: return `list<${t.children[0].name}: ${typeName(t.children[0].type)}>`;
    case Type.Struct: return `struct<${t.children.map((c) => `${c.name}: ${typeName(c.type)}`).join(', ')}>`;
    default: return String(t);
  }
}

/** A decoded value as JSON would hold it: times as RFC 3339 strings, 64-bit integers as numbers (strings beyond 2^53), maps as objects. */
function plain(value, type) {
  if (value === null || value === undefined) return null;
  if (DataType.isDictionary(type)) return plain(value, type.dictionary);
  if (DataType.isTimestamp(type)) {
    const ms = Number(value) / [1e-3, 1, 1e3, 1e6][type.unit];
    return new Date(ms).toISOString();
  }
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (DataType.isMap(type)) {
    const [, valueField] = type.children[0].type.children;
    const out = {};
    for (const [k, v] of value) out[k] = plain(v, valueField.type);
    return out;
  }
  return value;
}

function row(table, index) {
  const out = {};
  table.schema.fields.forEach((field, c) => { out[field.name] = plain(table.getChildAt(c).get(index), field.type); });
  return out;
}

/** Decodes every value of a column; returns a problem or null. */
function checkColumn(field, vector) {
  if (!field.nullable && vector.nullCount > 0) return `column ${field.name} is not nullable but holds ${vector.nullCount} nulls`;
  const isDictionary = DataType.isDictionary(field.type);
  for (let i = 0; i < vector.length; i++) {
    const v = vector.get(i);
    if (isDictionary && vector.isValid(i) && (v === undefined || v === null)) return `column ${field.name} row ${i}: dictionary index outside the dictionary`;
    if (DataType.isMap(field.type) && v !== null) for (const entry of v) void entry;
  }
  return null;
}

function checkFile(path) {
  const bytes = readFileSync(path);
  const head = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  const tail = Buffer.from(bytes.subarray(bytes.length - 6)).toString('latin1');
  if (bytes.length < 12 || head !== MAGIC || tail !== MAGIC) throw new Error('not an Arrow IPC file (no ARROW1 magic at both ends)');
  const table = tableFromIPC(bytes);
  const fields = table.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type), nullable: f.nullable }));
  table.schema.fields.forEach((field, c) => {
    const problem = checkColumn(field, table.getChildAt(c));
    if (problem) throw new Error(problem);
  });
  return {
    path,
    rows: table.numRows,
    batches: table.batches.length,
    fields,
    first: table.numRows > 0 ? row(table, 0) : null,
    last: table.numRows > 0 ? row(table, table.numRows - 1) : null,
  };
}

function arrowFiles(target) {
  const stat = statSync(target);
  if (stat.isFile()) return [target];
  const found = [];
  for (const entry of readdirSync(target, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const full = join(target, entry.name);
    if (entry.isDirectory()) found.push(...arrowFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.arrow')) found.push(full);
  }
  return found;
}

const targets = process.argv.slice(2);
if (targets.length === 0 || targets.includes('--help')) {
  process.stderr.write('usage: node check-arrow.mjs <folder or file>...  (reads every *.arrow file, prints a JSON report)\n');
  process.exit(2);
}

const report = { reader: `apache-arrow ${arrowVersion}`, files: [], errors: [] };
for (const target of targets) {
  let files;
  try {
    files = arrowFiles(resolve(target));
  } catch (e) {
    report.errors.push({ path: resolve(target), error: e.message });
    continue;
  }
  if (files.length === 0) report.errors.push({ path: resolve(target), error: 'no *.arrow file found' });
  for (const file of files) {
    try {
      report.files.push(checkFile(file));
    } catch (e) {
      report.errors.push({ path: file, error: e.message });
    }
  }
}
process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
for (const e of report.errors) process.stderr.write(`check-arrow: ${e.path}: ${e.error}\n`);
process.exit(report.errors.length > 0 ? 1 : 0);
