// Samples of Samsa and Apache Kafka side by side, and how the comparison benchmarks report them:
// one table (medians, min–max, Samsa/Kafka) on stdout, and bench/results/<name>-<time>.json
// with an SVG chart of the ratios.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../broker/test/kafka-process.ts';

export type System = 'samsa' | 'kafka';

/** One measured number: which scenario, what unit, and whether more is better. */
export interface Metric {
  scenario: string;
  unit: string;
  higherIsBetter: boolean;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 2));
const range = (xs: number[]) => (xs.length === 0 ? 'n/a' : `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`);

function svgChart(rows: Array<{ label: string; ratio: number; better: boolean }>): string {
  const width = 900;
  const rowHeight = 22;
  const left = 420;
  const scale = (width - left - 60) / Math.max(2, ...rows.map((r) => r.ratio));
  const bars = rows
    .map((r, i) => {
      const y = 30 + i * rowHeight;
      const w = Math.max(1, r.ratio * scale);
      const color = r.better ? '#2e7d32' : '#c62828';
      return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${r.label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text><rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="14" fill="${color}"/><text x="${left + w + 4}" y="${y + 14}" font-size="12">${r.ratio.toFixed(2)}</text>`;
    })
    .join('\n');
  const one = left + scale;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${40 + rows.length * rowHeight}" font-family="sans-serif">
<text x="10" y="18" font-size="14" font-weight="bold">Samsa / Apache Kafka (green: Samsa better)</text>
<line x1="${one}" y1="26" x2="${one}" y2="${30 + rows.length * rowHeight}" stroke="#555" stroke-dasharray="4,3"/>
${bars}
</svg>
`;
}

export class Comparison {
  private readonly samples = new Map<string, { metric: Metric; samsa: number[]; kafka: number[] }>();

  record(metric: Metric, system: System, value: number): void {
    const key = `${metric.scenario}|${metric.unit}`;
    const entry = this.samples.get(key) ?? { metric, samsa: [], kafka: [] };
    entry[system].push(value);
    this.samples.set(key, entry);
  }

  /** Prints the table under `title` and writes bench/results/<name>-<time>.json and .svg. */
  report(name: string, title: string, meta: Record<string, unknown>): void {
    const rows = [...this.samples.values()].map(({ metric, samsa, kafka }) => {
      const s = samsa.length ? median(samsa) : NaN;
      const k = kafka.length ? median(kafka) : NaN;
      return { metric, samsa, kafka, samsaMedian: s, kafkaMedian: k, ratio: k === 0 ? NaN : s / k };
    });
    const header = ['scenario', 'unit', 'Samsa median (min–max)', 'Kafka median (min–max)', 'Samsa/Kafka'];
    const table = rows.map((r) => [r.metric.scenario, r.metric.unit, range(r.samsa), range(r.kafka), Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : 'n/a']);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
    console.log(title);
    console.log(line(header));
    console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
    for (const row of table) console.log(line(row));

    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(dir, `${name}-${stamp}.json`), JSON.stringify({ ...meta, rows }, null, 2));
    const chart = rows.filter((r) => Number.isFinite(r.ratio) && r.ratio > 0).map((r) => ({
      label: `${r.metric.scenario} (${r.metric.unit})`,
      ratio: r.ratio,
      better: r.metric.higherIsBetter ? r.ratio >= 1 : r.ratio <= 1,
    }));
    writeFileSync(join(dir, `${name}-${stamp}.svg`), svgChart(chart));
    console.log(`\nresults: bench/results/${name}-${stamp}.json and .svg`);
  }
}
