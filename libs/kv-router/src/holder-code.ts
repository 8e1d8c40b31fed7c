// A holder of a block, as the index stores it: an interned location id, codec id and tier packed
// into one small integer (location << LOCATION_SHIFT | codec << CODEC_SHIFT | tier: 20 + 8 + 2 =
// 30 bits, a Smi), so a record's holders are plain int32s: part of the block table's layout, which
// is for memory (see block-table.ts).

/** Most locations indexed at once (ids of forgotten locations are reused). */
export const MAX_INDEXED_LOCATIONS = 1 << 20;
/** Most distinct codec ids ever indexed by one PrefixIndex. */
export const MAX_INDEXED_CODECS = 1 << 8;

const TIER_MASK = 0b11;
const CODEC_SHIFT = 2;
const CODEC_MASK = MAX_INDEXED_CODECS - 1;
const LOCATION_SHIFT = 10;
/** Tier index of the device pool (TIERS[0]) and of host RAM (TIERS[1]). */
export const TIER_DEVICE = 0;
export const TIER_HOST = 1;

/** The holder code of location id `loc`, codec id `codec`, tier index `tier`. */
export const holderOf = (loc: number, codec: number, tier: number): number => (loc << LOCATION_SHIFT) | (codec << CODEC_SHIFT) | tier;
/** The location id of holder code `h`. */
export const holderLocation = (h: number): number => h >>> LOCATION_SHIFT;
/** The codec id of holder code `h`. */
export const holderCodec = (h: number): number => (h >>> CODEC_SHIFT) & CODEC_MASK;
/** The tier index of holder code `h`. */
export const holderTier = (h: number): number => h & TIER_MASK;
