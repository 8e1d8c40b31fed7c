// Host byte order probe: codecs copy raw little-endian bytes only when the host is little-endian.

/** True when typed arrays on this host store numbers little-endian (all mainstream Node targets). */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
