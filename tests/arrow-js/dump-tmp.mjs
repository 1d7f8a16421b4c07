import { tableFromIPC } from 'apache-arrow';
import { readFileSync, readdirSync } from 'fs';
const [dir, vid, from, to] = process.argv.slice(2);
const rows = [];
for (const sub of readdirSync(dir)) for (const f of readdirSync(dir + '/' + sub)) {
  const t = tableFromIPC(readFileSync(dir + '/' + sub + '/' + f));
  for (let i = 0; i < t.numRows; i++) { const r = t.get(i).toJSON(); if (r.vehicle_id === vid && Number(r.time) >= +from && Number(r.time) <= +to) rows.push(r); }
}
rows.sort((a, b) => Number(a.time) - Number(b.time));
for (const r of rows) console.log(new Date(Number(r.time)).toISOString().slice(11,19), r.edge, r.road, r.offset_m?.toFixed(0), 'd', r.distance_m?.toFixed(1), 'v', r.speed_kmh?.toFixed(1), 'c', r.confidence?.toFixed(2), r.chain_break ?? '', r.outlier ? 'OUT' : '');
