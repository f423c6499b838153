// Argument checks that run before any syscall. They throw Node-style TypeError / RangeError
// with the codes Node itself uses (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ERR_INVALID_ARG_VALUE).

const U32_MAX = 0xffff_ffff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

function describeReceived(value: unknown): string {
  if (value === null) return 'Received null';
  if (value === undefined) return 'Received undefined';
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `Received an instance of ${name}` : 'Received an object';
  }
  let shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? `'${value}'` : String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

function withCode<E extends Error>(error: E, code: string): E {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error;
}

/** `The "name" argument must be of type X. Received ...` */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return withCode(
    new TypeError(`The "${name}" argument must be ${expected}. ${describeReceived(value)}`),
    'ERR_INVALID_ARG_TYPE',
  );
}

/** `The value of "name" is out of range. It must be R. Received V` */
export function outOfRange(name: string, range: string, value: unknown): RangeError {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** `The argument 'name' is invalid. Received ...` plus the reason. */
export function invalidArgValue(name: string, value: unknown, reason: string): TypeError {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? `'${value}'` : String(value);
  return withCode(new TypeError(`The argument '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

/** An integer Number in [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function checkU32(name: string, value: unknown): number {
  return checkInteger(name, value, 0, U32_MAX);
}

/** A u64 given as a BigInt, or as a Number that is a safe non-negative integer; returned unchanged. */
export function checkU64(name: string, value: unknown): bigint | number {
  if (typeof value === 'bigint') {
    if (BigInt.asUintN(64, value) !== value) throw outOfRange(name, '>= 0n && <= 2n ** 64n - 1n', value);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw outOfRange(name, 'a safe integer (use a BigInt above 2 ** 53)', value);
    if (value < 0) throw outOfRange(name, '>= 0', value);
    return value;
  }
  throw invalidArgType(name, 'of type bigint or number', value);
}

/** A u64 that must be a BigInt (liobn, sizes, offsets, addresses). */
export function checkBigU64(name: string, value: unknown, min = 0n, max = U64_MAX): bigint {
  if (typeof value !== 'bigint') throw invalidArgType(name, 'of type bigint', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min}n && <= ${max}n`, value);
  return value;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.length === 0 || value.includes('\u0000')) throw invalidArgValue(name, value, 'must be a non-empty string without NUL bytes');
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/** An options object (or undefined, which reads as {}). */
export function checkOptions<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  return value as Partial<T>;
}

/** An instance of one of the library's classes. */
export function checkInstance<T>(name: string, value: unknown, type: { readonly prototype: T; readonly name: string }): T {
  if (!(value instanceof (type as unknown as new () => T))) throw invalidArgType(name, `an instance of ${type.name}`, value);
  return value as T;
}
