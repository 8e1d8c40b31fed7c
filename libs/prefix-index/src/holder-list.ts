// Internal: the holders of one indexed block, packed for memory. A holder is a small integer
// (< 2^30; see prefix-index.ts). One holder is kept as the number itself (a Smi, inline in the
// Map entry); several are kept as a flat string of two UTF-16 code units per holder (low 16 bits,
// then high bits), about 24 bytes for two or three holders where an array costs 64–72.
// Lists are short (one entry per location × tier × codec holding the block), so linear scans.

/** The holders of one block: a single holder, or a packed string of two or more. */
export type HolderList = number | string;

/** Number of holders in `list`. */
export function holderCount(list: HolderList): number {
  return typeof list === "number" ? 1 : list.length >>> 1;
}

/** The `i`-th holder of `list` (0 <= i < holderCount(list)). */
export function holderAt(list: HolderList, i: number): number {
  return typeof list === "number" ? list : list.charCodeAt(2 * i) | (list.charCodeAt(2 * i + 1) << 16);
}

function pack(holders: readonly number[]): HolderList {
  if (holders.length === 1) return holders[0];
  const units = new Array<number>(2 * holders.length);
  for (let i = 0; i < holders.length; i++) {
    units[2 * i] = holders[i] & 0xffff;
    units[2 * i + 1] = holders[i] >>> 16;
  }
  // fromCharCode builds one flat string; `+` would build a rope (extra header) past 12 units.
  return String.fromCharCode(...units);
}

function unpack(list: HolderList): number[] {
  const n = holderCount(list);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = holderAt(list, i);
  return out;
}

/** `list` with `holder` added; `list` itself when already present. */
export function withHolder(list: HolderList | undefined, holder: number): HolderList {
  if (list === undefined) return holder;
  const n = holderCount(list);
  for (let i = 0; i < n; i++) if (holderAt(list, i) === holder) return list;
  const holders = unpack(list);
  holders.push(holder);
  return pack(holders);
}

/** `list` without the holders `drop` selects; undefined when none remain. */
export function withoutHolders(list: HolderList, drop: (holder: number) => boolean): HolderList | undefined {
  const kept = unpack(list).filter((h) => !drop(h));
  if (kept.length === holderCount(list)) return list;
  return kept.length === 0 ? undefined : pack(kept);
}
