// npm run bench:json — what reading rows' JSON with exact numbers
// (src/db/json.ts parseJson) costs beside JSON.parse, on rows shaped like a
// captured row (a uuid, an email, timestamps, a total, some text): one with
// ordinary numbers only (the look for a long number, then JSON.parse), one
// holding a float8 of 17 digits (which takes the slower path), one holding
// a bigint over 2^53 (kept exact). Each round times both parsers in turn on
// the same text; prints ns per row and the ratio, per round. Then the same
// for writing (stringifyJson against JSON.stringify): an ordinary row, and
// one holding a bigint over 2^53 as parseJson reads it (a JsonNumber).
import { parseJson, stringifyJson } from '../src/db/json.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_ROWS ?? 200_000);

const row = {
  id: 123456,
  user_id: '6f1c2a9e-3b7d-4c1e-9a55-0d2f4b8e7c11',
  email: 'ada@example.com',
  created_at: '2026-12-07T15:04:29.123456+00:00',
  plan: 'pro',
  total: 99.5,
  note: 'x'.repeat(600),
};
const texts = {
  ordinary: JSON.stringify(row),
  'a 17-digit float8': JSON.stringify({ ...row, ratio: 0.30000000000000004 }),
  'a bigint over 2^53': JSON.stringify(row).replace('"id":123456', '"id":9007199254740993'),
};

/** ns per call of `run` on `input`, over N calls. */
function nsPer<T>(run: (input: T) => unknown, input: T): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) run(input);
  return Number(process.hrtime.bigint() - start) / N;
}

console.log(`parseJson ÷ JSON.parse, ${N} rows a side per round`);
for (const [name, text] of Object.entries(texts)) {
  // The exact parser gives the same text back (a check, not a timing).
  if (stringifyJson(parseJson(text)) !== text) throw new Error(`${name}: not read back exactly`);
  for (let round = 1; round <= ROUNDS; round++) {
    const plain = nsPer(JSON.parse, text);
    const exact = nsPer(parseJson, text);
    console.log(
      `  ${name} (${text.length} bytes), round ${round}: ${exact.toFixed(0)} ns against ${plain.toFixed(0)} ns, ${(exact / plain).toFixed(2)} ×`,
    );
  }
}

const values = {
  ordinary: row,
  'a bigint over 2^53': parseJson(texts['a bigint over 2^53']),
};

console.log(`stringifyJson ÷ JSON.stringify, ${N} rows a side per round`);
for (const [name, value] of Object.entries(values)) {
  for (let round = 1; round <= ROUNDS; round++) {
    const plain = nsPer(JSON.stringify, value);
    const exact = nsPer(stringifyJson, value);
    console.log(
      `  ${name}, round ${round}: ${exact.toFixed(0)} ns against ${plain.toFixed(0)} ns, ${(exact / plain).toFixed(2)} ×`,
    );
  }
}
