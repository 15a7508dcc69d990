// Ticks and their labels for the throughput chart's axes (uPlot's `incrs` and `values`).

import { inUnit, UNITS } from './format.js';

// ------------------------------------------------------------------ rates (y axis)

/**
 * Steps within one unit. uPlot's own steps for a number axis go down to fractions (0.2, 0.5):
 * near zero traffic they put ticks at 0.2 B/s, 0.4 B/s ..., which a format in whole bytes printed
 * as "0 B/s" three times and "1 B/s" three times. So no step is below 1 B/s, and the steps
 * above 100 of a unit are 256 and 512, which divide the next unit (1024 of it): every tick is
 * then a whole number of its unit or a quarter of the next, never "1000 KiB/s" or
 * "1.46 MiB/s" (from steps of 500 KiB).
 */
const STEPS = [1, 2, 5, 10, 20, 50, 100, 256, 512];

/** Tick steps for a rate in bytes/s: 1 B/s to 512 TiB/s. */
export const rateIncrs = UNITS.flatMap((_, i) => STEPS.map((s) => s * 1024 ** i));

/**
 * A tick's label: its unit as format.js's bytes() picks it, with the decimals it has (at most two,
 * a quarter of a unit) and no trailing zeros, so that two ticks never share a label.
 */
export function rateTick(n) {
  const [v, i] = inUnit(n);
  return `${Number(v.toFixed(2))} ${UNITS[i]}/s`;
}

// ------------------------------------------------------------------ time (x axis)

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Tick steps in ms (the chart's time scale is in ms). uPlot's own go down to milliseconds: a
 * window of a few seconds had a label every 250 ms (":26.250 :26.500 ..."), the seconds
 * themselves lost among them. Ticks now fall on whole seconds at least, and on coarser round
 * times as the window grows.
 */
export const timeIncrs = [
  ...[1, 5, 10, 15, 30].map((n) => n * SECOND),
  ...[1, 2, 5, 10, 15, 30].map((n) => n * MINUTE),
  ...[1, 2, 3, 6, 12].map((n) => n * HOUR),
  DAY,
];

/** Least room per time label, px: "12:34:56" and a gap (uPlot's default of 50 crowds them). */
export const timeSpace = 80;

const pad = (n) => String(n).padStart(2, '0');

/**
 * Labels for ticks `incr` ms apart, in local time as the legend's: ":27" where only the second
 * changed since the label before, "12:34:00" for the first and where the minute changes; "12:34"
 * for steps of a minute or more, "11-27" (month-day) for steps of a day.
 */
export function timeTicks(splits, incr) {
  let minute = null;
  return splits.map((t) => {
    const d = new Date(t);
    if (incr >= DAY) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (incr >= MINUTE) return hm;
    const label = hm === minute ? `:${pad(d.getSeconds())}` : `${hm}:${pad(d.getSeconds())}`;
    minute = hm;
    return label;
  });
}

// ------------------------------------------------------------------ test hook

/**
 * Wraps an axis's `values` callback so that the ticks it labels are left, as JSON pairs of
 * [value, label], in `el.dataset[name]`: the labels are drawn on the canvas, so this is where a
 * test reads them.
 */
export function recordTicks(el, name, values) {
  return (u, splits, ...rest) => {
    const labels = values(u, splits, ...rest);
    el.dataset[name] = JSON.stringify(splits.map((s, i) => [s, labels[i]]));
    return labels;
  };
}
