// bench/results.svg from the rows of bench/results.json: per call, the C floor, the separate C
// program, this addon, koffi and ffi-napi, as horizontal bars on a log scale; one panel for the
// x86 time per call, one for instructions per call, one for the real KVM calls on the emulated
// POWER host (where koffi and ffi-napi cannot run).
import { SECTIONS } from './report.mjs';

const PEERS = [
  { peer: 'floor', label: 'C floor (in-process loop)', color: '#9e9e9e' },
  { peer: 'C', label: 'C program', color: '#616161' },
  { peer: 'kvm-vfio-spapr', label: 'kvm-vfio-spapr', color: '#1565c0' },
  { peer: 'koffi', label: 'koffi', color: '#ef6c00' },
  { peer: 'ffi-napi', label: 'ffi-napi', color: '#c62828' },
];
const CALLS = [
  { call: 'checkExtension', label: 'checkExtension' },
  { call: 'hasAttr', label: 'hasAttr' },
  { call: 'setAttrU64', label: 'setAttr (u64)' },
  { call: 'setSpaprTce', label: 'setSpaprTce (struct)' },
  { call: 'error', label: 'error path' },
];
const WIDTH = 900;
const LABEL_WIDTH = 150;
const BAR = 11;
const GAP = 8;

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The row of `peer` for `call` in `section`; the floors and the C program fall back to the section's shared floor rows. */
function find(rows, section, peer, call) {
  const candidates = rows.filter((entry) => entry.section === section && entry.peer === peer && !entry.name.includes('stackFrames = 0'));
  const shared = call === 'error' ? 'errorFloor' : 'floor';
  return candidates.find((entry) => entry.call === call) ?? (peer === 'floor' || peer === 'C' ? candidates.find((entry) => entry.call === shared) : undefined);
}

/** Bars of one panel: [{ group, peer, value }] from rows of `section`, read with `field`. */
function panelBars(rows, section, field) {
  const bars = [];
  for (const { call, label } of CALLS) {
    for (const { peer } of PEERS) {
      const value = find(rows, section, peer, call)?.[field];
      if (typeof value === 'number' && value > 0) bars.push({ group: label, peer, value });
    }
  }
  return bars;
}

function panel(svg, top, title, unit, bars) {
  if (bars.length === 0) return top;
  const values = bars.map((bar) => bar.value);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const plotWidth = WIDTH - LABEL_WIDTH - 90;
  const x = (value) => LABEL_WIDTH + (Math.log10(value / low) / Math.log10(high / low)) * plotWidth;
  const groups = [...new Set(bars.map((bar) => bar.group))];
  let y = top + 22;
  svg.push(`<text x="10" y="${top + 14}" font-weight="bold">${escape(title)}</text>`);
  const axisTop = y;
  for (const group of groups) {
    const inGroup = bars.filter((bar) => bar.group === group);
    svg.push(`<text x="${LABEL_WIDTH - 8}" y="${y + (inGroup.length * BAR) / 2 + 4}" text-anchor="end">${escape(group)}</text>`);
    for (const bar of inGroup) {
      const { color } = PEERS.find((entry) => entry.peer === bar.peer);
      svg.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${Math.max(1, x(bar.value) - LABEL_WIDTH).toFixed(1)}" height="${BAR - 2}" fill="${color}"/>`);
      svg.push(`<text x="${(x(bar.value) + 4).toFixed(1)}" y="${y + BAR - 3}" font-size="9">${Math.round(bar.value).toLocaleString('en-US')}</text>`);
      y += BAR;
    }
    y += GAP;
  }
  for (let tick = low; tick <= high; tick *= 10) {
    svg.push(`<line x1="${x(tick).toFixed(1)}" y1="${axisTop - 4}" x2="${x(tick).toFixed(1)}" y2="${y - GAP + 2}" stroke="#ddd"/>`);
    svg.push(`<text x="${x(tick).toFixed(1)}" y="${y + 8}" font-size="9" text-anchor="middle">${tick.toLocaleString('en-US')}</text>`);
  }
  svg.push(`<text x="${LABEL_WIDTH + plotWidth / 2}" y="${y + 20}" font-size="10" text-anchor="middle">${escape(unit)} (log scale)</text>`);
  return y + 34;
}

/** Success-path time ÷ the floor on a linear axis up to `max` (bars beyond it are cut and labelled), with the target line. */
function ratioPanel(svg, top, title, rows, section, { max, target }) {
  const bars = panelBars(rows, section, 'nsPerCall').filter((bar) => bar.group !== 'error path' && bar.peer !== 'floor');
  if (bars.length === 0) return top;
  const floors = new Map(CALLS.map(({ call, label }) => [label, find(rows, section, 'floor', call)?.nsPerCall]));
  const plotWidth = WIDTH - LABEL_WIDTH - 120;
  const x = (ratio) => LABEL_WIDTH + (Math.min(ratio, max) / max) * plotWidth;
  const napi = find(rows, section, 'napi', 'napi')?.nsPerCall;
  if (napi) {
    bars.unshift({ group: 'bare N-API call', peer: 'napi', value: napi });
    floors.set('bare N-API call', find(rows, section, 'floor', 'floor')?.nsPerCall);
  }
  let y = top + 34;
  svg.push(`<text x="10" y="${top + 14}" font-weight="bold">${escape(title)}</text>`);
  const axisTop = y;
  for (const group of [...new Set(bars.map((bar) => bar.group))]) {
    const inGroup = bars.filter((bar) => bar.group === group);
    svg.push(`<text x="${LABEL_WIDTH - 8}" y="${y + (inGroup.length * BAR) / 2 + 4}" text-anchor="end">${escape(group)}</text>`);
    for (const bar of inGroup) {
      const ratio = bar.value / floors.get(group);
      const { color } = PEERS.find((entry) => entry.peer === bar.peer) ?? { color: '#7e57c2' };
      svg.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${(x(ratio) - LABEL_WIDTH).toFixed(1)}" height="${BAR - 2}" fill="${color}"/>`);
      svg.push(`<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + BAR - 3}" font-size="9">${ratio.toFixed(2)}×${ratio > max ? ' (off scale)' : ''}</text>`);
      y += BAR;
    }
    y += GAP;
  }
  for (let tick = 0; tick <= max; tick += 0.5) {
    svg.push(`<line x1="${x(tick).toFixed(1)}" y1="${axisTop - 4}" x2="${x(tick).toFixed(1)}" y2="${y - GAP + 2}" stroke="#ddd"/>`);
    svg.push(`<text x="${x(tick).toFixed(1)}" y="${y + 8}" font-size="9" text-anchor="middle">${tick}×</text>`);
  }
  svg.push(`<line x1="${x(1).toFixed(1)}" y1="${axisTop - 4}" x2="${x(1).toFixed(1)}" y2="${y - GAP + 2}" stroke="#9e9e9e" stroke-width="1.5"/>`);
  svg.push(`<line x1="${x(target).toFixed(1)}" y1="${axisTop - 4}" x2="${x(target).toFixed(1)}" y2="${y - GAP + 2}" stroke="#2e7d32" stroke-dasharray="4 3" stroke-width="1.5"/>`);
  svg.push(`<text x="${(x(target) + 3).toFixed(1)}" y="${axisTop - 6}" font-size="9" fill="#2e7d32">target ${target}×</text>`);
  svg.push(`<text x="${(x(1) - 3).toFixed(1)}" y="${axisTop - 6}" font-size="9" text-anchor="end" fill="#616161">floor = 1×</text>`);
  svg.push(`<text x="${LABEL_WIDTH + plotWidth / 2}" y="${y + 20}" font-size="10" text-anchor="middle">time per call ÷ the C floor (in-process loop) of the same run</text>`);
  return y + 34;
}

export function renderChart(rows) {
  const conditions = rows.find((entry) => entry.section === SECTIONS.conditions)?.conditions ?? {};
  const svg = [];
  let y = 10;
  svg.push(`<text x="10" y="${y + 14}" font-size="14" font-weight="bold">kvm-vfio-spapr per-call cost against the C floor and the FFI peers</text>`);
  svg.push(`<text x="10" y="${y + 30}" font-size="10">${escape(`npm run bench, ${conditions.date ?? ''} — ${conditions.host ?? ''}; Node ${conditions.node ?? ''}`)}</text>`);
  y += 40;
  let legendX = 10;
  for (const { label, color } of PEERS) {
    svg.push(`<rect x="${legendX}" y="${y}" width="10" height="10" fill="${color}"/><text x="${legendX + 14}" y="${y + 9}">${escape(label)}</text>`);
    legendX += 20 + label.length * 6.2;
  }
  y += 18;
  const hostKvm = rows.some((entry) => entry.section === SECTIONS.hostKvm && entry.nsPerCall !== null);
  if (hostKvm) {
    y = ratioPanel(svg, y, 'x86, real KVM ioctls on /dev/kvm, success path: time per call ÷ the floor', rows, SECTIONS.hostKvm, { max: 3, target: 1.2 });
    y = panel(svg, y, 'x86: ns per call, real KVM ioctls on /dev/kvm', 'ns per call', panelBars(rows, SECTIONS.hostKvm, 'nsPerCall'));
  }
  y = ratioPanel(svg, y, 'x86, success path: time per call ÷ the floor — FIONREAD twins (every call shape, setSpaprTce and table.read too)', rows, SECTIONS.host, { max: 3, target: 1.2 });
  y = panel(svg, y, 'x86: ns per call — FIONREAD twins (each call issues FIONREAD)', 'ns per call', panelBars(rows, SECTIONS.host, 'nsPerCall'));
  y = panel(svg, y, 'x86: user-space instructions per call (callgrind; ffi-napi not measured)', 'instructions per call', panelBars(rows, SECTIONS.host, 'instructions'));
  y = panel(svg, y, 'emulated POWER host: ns per call, real KVM ioctls (ffi-napi has no ppc64le build)', 'ns per call', panelBars(rows, SECTIONS.guest, 'nsPerCall'));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="11">\n` +
    `<rect width="${WIDTH}" height="${y}" fill="white"/>\n${svg.join('\n')}\n</svg>\n`;
}
