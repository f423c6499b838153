import { checkBigU64, checkU32, invalidArgType, invalidArgValue } from '../validate.js';
// A flattened device tree writer (devicetree specification v0.4, chapter 5: version 17, last
// compatible version 16): memory reservation block, structure block, strings block, big-endian.
const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;
const encoder = new TextEncoder();
const NODE_NAME = /^[A-Za-z0-9,._+-]+(@[A-Za-z0-9,._+-]+)?$/;
const PROPERTY_NAME = /^[A-Za-z0-9,._+?#-]+$/;

function checkName(what: string, name: unknown, pattern: RegExp): string {
  if (typeof name !== 'string') throw invalidArgType(what, 'of type string', name);
  if (!pattern.test(name) || name.length > 255) throw invalidArgValue(what, name, 'is not a devicetree name (letters, digits and , . _ + - only; a unit address after @)');
  return name;
}

/** A call out of order (a node left open, a property outside any node): the writer's own misuse. */
function usage(message: string): Error {
  return Object.assign(new Error(`FdtWriter: ${message}`), { code: 'ERR_FDT_STATE' });
}

/** Builds a device tree blob node by node. */
export class FdtWriter {
  readonly #reservations: [bigint, bigint][] = [];
  readonly #structure: number[] = [];
  readonly #strings = new Map<string, number>();
  #stringsSize = 0;
  #depth = 0;
  #finished = false;

  /** Adds a memory reservation (address, size) the kernel must not use. */
  reserve(address: bigint, size: bigint): this {
    this.#writable();
    this.#reservations.push([checkBigU64('address', address), checkBigU64('size', size)]);
    return this;
  }

  /** Opens a node; '' is the root. */
  beginNode(name: string): this {
    this.#writable();
    if (name === '') {
      if (this.#depth !== 0) throw invalidArgValue('name', name, 'is the root\'s name: only the outermost node may be unnamed');
    } else {
      checkName('name', name, NODE_NAME);
    }
    this.#word(FDT_BEGIN_NODE);
    this.#bytes(encoder.encode(`${name}\0`));
    this.#depth += 1;
    return this;
  }

  /** Closes the innermost open node. */
  endNode(): this {
    this.#writable();
    if (this.#depth === 0) throw usage('endNode() without an open node');
    this.#word(FDT_END_NODE);
    this.#depth -= 1;
    return this;
  }

  /** A property with raw bytes; no value makes an empty (boolean) property. */
  property(name: string, value: Uint8Array = new Uint8Array()): this {
    this.#writable();
    checkName('name', name, PROPERTY_NAME);
    if (!(value instanceof Uint8Array)) throw invalidArgType('value', 'a Uint8Array', value);
    if (this.#depth === 0) throw usage(`property '${name}' outside any node`);
    this.#word(FDT_PROP);
    this.#word(value.length);
    this.#word(this.#stringOffset(name));
    this.#bytes(value);
    return this;
  }

  /** A property of 32-bit cells. */
  u32(name: string, ...cells: number[]): this {
    const value = new DataView(new ArrayBuffer(cells.length * 4));
    cells.forEach((cell, i) => value.setUint32(i * 4, checkU32(`cells[${i}]`, cell)));
    return this.property(name, new Uint8Array(value.buffer));
  }

  /** A property of 64-bit values, each two cells. */
  u64(name: string, ...values: bigint[]): this {
    const value = new DataView(new ArrayBuffer(values.length * 8));
    values.forEach((item, i) => value.setBigUint64(i * 8, checkBigU64(`values[${i}]`, item)));
    return this.property(name, new Uint8Array(value.buffer));
  }

  /** A string or string-list property (each NUL-terminated). */
  string(name: string, ...values: string[]): this {
    values.forEach((value, i) => {
      if (typeof value !== 'string' || value.includes('\u0000')) throw invalidArgType(`values[${i}]`, 'a string without NUL', value);
    });
    return this.property(name, encoder.encode(values.map((value) => `${value}\0`).join('')));
  }

  /** The blob. Throws if a node is still open. */
  finish(options: { bootCpuId?: number } = {}): Uint8Array {
    this.#writable();
    if (this.#depth !== 0) throw usage(`${this.#depth} node(s) still open`);
    const bootCpuId = options.bootCpuId === undefined ? 0 : checkU32('options.bootCpuId', options.bootCpuId);
    this.#word(FDT_END);
    this.#finished = true;
    const reservationsSize = (this.#reservations.length + 1) * 16;
    const structureOffset = HEADER_SIZE + reservationsSize;
    const stringsOffset = structureOffset + this.#structure.length;
    const total = stringsOffset + this.#stringsSize;
    const blob = new Uint8Array(total);
    const view = new DataView(blob.buffer);
    [FDT_MAGIC, total, structureOffset, stringsOffset, HEADER_SIZE, 17, 16, bootCpuId, this.#stringsSize, this.#structure.length]
      .forEach((field, i) => view.setUint32(i * 4, field));
    this.#reservations.forEach(([address, size], i) => {
      view.setBigUint64(HEADER_SIZE + i * 16, address);
      view.setBigUint64(HEADER_SIZE + i * 16 + 8, size);
    });
    blob.set(this.#structure, structureOffset);
    for (const [name, offset] of this.#strings) blob.set(encoder.encode(`${name}\0`), stringsOffset + offset);
    return blob;
  }

  #writable(): void {
    if (this.#finished) throw usage('finish() was already called');
  }

  #word(value: number): void {
    this.#structure.push((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  }

  #bytes(bytes: Uint8Array): void {
    for (const byte of bytes) this.#structure.push(byte);
    while (this.#structure.length % 4 !== 0) this.#structure.push(0);
  }

  #stringOffset(name: string): number {
    let offset = this.#strings.get(name);
    if (offset === undefined) {
      offset = this.#stringsSize;
      this.#strings.set(name, offset);
      this.#stringsSize += encoder.encode(name).length + 1;
    }
    return offset;
  }
}
