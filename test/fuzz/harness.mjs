// Property-based fuzzing of the public API with fast-check, shared by the host suite (vitest) and
// the emulated POWER host (node:test on Node 18, hence plain JavaScript).
//
// A target is one public function or method with a spec for each argument: an arbitrary that
// mixes valid values with junk, and a predicate that says which values the documented contract
// accepts. Each property run builds a fresh world of objects (some closed along the way), calls a
// sequence of targets in random order on random receivers, and checks every call:
//   - it returns, or throws TypeError / RangeError with a Node code, or a KvmVfioError; anything
//     else (a plain TypeError from deep inside, the native layer's "a bug in lib/") fails;
//   - a call with an invalid argument throws TypeError / RangeError (or ERR_KVM_CLOSED) and issues
//     no syscall at all (traceSyscalls, the native syscall counter);
//   - a call with valid arguments on open objects is not refused as a bad argument;
//   - a call on a closed object throws ERR_KVM_CLOSED without a syscall;
//   - the kernel never answers EBADF unless the caller passed a raw fd number, and never EFAULT
//     (but for a payload the caller left out: setAttr(group, attr) passes addr 0);
//   - after the run, every fd and mapping the world made is released.
import fc from 'fast-check';
import { runInNewContext } from 'node:vm';
import { KvmVfioError, traceSyscalls } from '../../dist/index.js';

/** Thrown by the hostile values' traps; a call may let it through (it is the caller's own code). */
export class Sentinel extends Error {}

const NODE_ARGUMENT_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_VALUE', 'ERR_ILLEGAL_CONSTRUCTOR']);

function sentinelTrap(name) {
  return () => {
    throw new Sentinel(name);
  };
}

/** Values from another realm (node:vm context): same shapes, other prototypes. */
const otherRealm = runInNewContext(`({
  object: { a: 1 }, array: [1, 2], nullProto: Object.create(null), number: new Number(3), bigint: Object(5n),
  string: new String('/dev/null'), fn: function f() {}, error: new TypeError('x'), options: { liobn: 1n, size: 1n },
})`);

const hostile = [
  new Proxy({}, { get: sentinelTrap('get'), has: sentinelTrap('has'), ownKeys: sentinelTrap('ownKeys'), getPrototypeOf: sentinelTrap('getPrototypeOf') }),
  { valueOf: sentinelTrap('valueOf'), toString: sentinelTrap('toString'), [Symbol.toPrimitive]: sentinelTrap('toPrimitive') },
  Object.defineProperty({}, 'size', { get: sentinelTrap('size getter'), enumerable: true }),
];

const SPECIALS = [
  undefined, null, true, false, Number.NaN, Infinity, -Infinity, -0, 0.5, -1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, Number.MAX_VALUE,
  Number.MIN_VALUE, -(2n ** 64n), 2n ** 64n, -1n, 0n, '', '\u0000', '1', '0x10', 'NaN', Symbol('junk'), () => 1, [], {}, [1n], new Date(0),
  new Uint8Array(8), new ArrayBuffer(8), new Map(), Promise.resolve(1), otherRealm.object, otherRealm.array, otherRealm.nullProto,
  otherRealm.number, otherRealm.bigint, otherRealm.string, otherRealm.fn, otherRealm.error,
  // fast-check prints counterexamples, which the hostile values would not survive: they are
  // generated as markers and swapped in at call time.
  ...hostile.map((_value, index) => ({ hostile: index })),
];

/** Anything JavaScript can pass, weighted towards the values validators get wrong. */
export const junk = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIALS) },
  { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 33 }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.bigInt({ min: -(1n << 72n), max: 1n << 72n }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) },
);

/** Predicates for the documented argument contracts (written from the docs, not from lib/validate.ts). */
export const is = {
  integerIn: (min, max) => (value) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
  u32: (value) => is.integerIn(0, 2 ** 32 - 1)(value),
  u64: (value) =>
    (typeof value === 'bigint' && value >= 0n && value < 2n ** 64n) || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0),
  bigIn: (min, max) => (value) => typeof value === 'bigint' && value >= min && value <= max,
  u64Big: (value) => is.bigIn(0n, 2n ** 64n - 1n)(value),
  path: (value) => typeof value === 'string' && value.length > 0 && !value.includes('\u0000'),
  boolean: (value) => typeof value === 'boolean',
  optional: (predicate) => (value) => value === undefined || predicate(value),
  plainObject: (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
};

/** An argument: valid values (weighted up), boundary values, and junk; `valid` classifies. */
export function arg(valid, validArbitrary, edges = []) {
  const parts = [{ weight: 5, arbitrary: validArbitrary }, { weight: 3, arbitrary: junk }];
  if (edges.length > 0) parts.push({ weight: 2, arbitrary: fc.constantFrom(...edges) });
  return { arb: fc.oneof(...parts), valid };
}

/** An integer argument in [min, max] with its boundaries and near misses. */
export function integerArg(min, max, validArbitrary = fc.integer({ min, max })) {
  return arg(is.integerIn(min, max), validArbitrary, [min - 1, max + 1, min + 0.5, Number.NaN, BigInt(min), String(min)]);
}

/** A BigInt argument in [min, max]. */
export function bigArg(min, max, validArbitrary = fc.bigInt({ min, max })) {
  return arg(is.bigIn(min, max), validArbitrary, [min - 1n, max + 1n, Number(min), -(2n ** 64n), 2n ** 64n]);
}

/**
 * An options object: each field from its spec, any field left out, built in this realm or another;
 * or junk instead of the object. `optional`: undefined stands for {}.
 */
export function optionsArg(fields, { optional = false, valid: extra } = {}) {
  const record = fc.record(Object.fromEntries(Object.entries(fields).map(([name, spec]) => [name, spec.arb])), { requiredKeys: [] });
  const foreign = record.map((value) => Object.assign(runInNewContext('({})'), value));
  return {
    arb: fc.oneof({ weight: 6, arbitrary: record }, { weight: 1, arbitrary: foreign }, { weight: 2, arbitrary: junk }),
    valid: (value) => {
      if (value === undefined) return optional;
      if (hostile.includes(value)) return undefined; // depends on which fields the call reads
      if (!is.plainObject(value)) return false;
      return Object.entries(fields).every(([name, spec]) => spec.valid(value[name])) && (extra ? extra(value) : true);
    },
  };
}

/** An argument drawn from the world's objects of `kind` (open or closed) at call time. */
export function pick(kind, valid = () => true) {
  return { arb: fc.nat().map((index) => ({ pick: kind, index })), valid, isPick: true };
}

/** Either a world object of `kind` or junk. */
export function pickOrJunk(kind, valid) {
  const picked = pick(kind);
  return { arb: fc.oneof({ weight: 3, arbitrary: picked.arb }, { weight: 1, arbitrary: junk }), valid, isPick: true };
}

/** Swaps markers for world objects ({ pick, index }) and hostile values ({ hostile }), one level into options. */
function resolve(world, value, depth = 0) {
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.pick === 'string' && typeof value.index === 'number') {
    const pool = world.objects(value.pick);
    return pool.length === 0 ? undefined : pool[value.index % pool.length];
  }
  if (typeof value.hostile === 'number' && Object.keys(value).length === 1) return hostile[value.hostile];
  if (depth > 0 || !isRecord(value)) return value;
  const copy = Array.isArray(value) ? [] : Object.create(Object.getPrototypeOf(value));
  for (const [key, inner] of Object.entries(value)) copy[key] = resolve(world, inner, depth + 1);
  return copy;
}

function isRecord(value) {
  const prototype = Object.getPrototypeOf(value);
  return Array.isArray(value) || prototype === null || prototype === Object.prototype || prototype?.constructor?.name === 'Object';
}

/** A closed object, or an options object or array holding one (one level deep). */
function involvesClosed(value, depth = 0) {
  if (value === null || typeof value !== 'object' || hostile.includes(value)) return false;
  if (value.closed === true) return true;
  return depth === 0 && Object.values(value).some((inner) => involvesClosed(inner, 1));
}

/** What kind of outcome an error is; 'unexpected' fails the property. */
function classify(error) {
  if (error === undefined) return 'none';
  if (error instanceof Sentinel) return 'sentinel';
  if (error instanceof KvmVfioError) {
    if (error.code === 'ERR_KVM_CLOSED') return 'closed';
    return error.errno === undefined ? 'usage' : 'kernel';
  }
  if ((error instanceof TypeError || error instanceof RangeError) && NODE_ARGUMENT_CODES.has(error.code) && !String(error.message).includes('a bug in lib/')) {
    return 'argument';
  }
  return 'unexpected';
}

function describe(value) {
  try {
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'symbol') return value.toString();
    if (typeof value === 'function') return 'function';
    if (value !== null && typeof value === 'object') {
      if (hostile.includes(value)) return `hostile#${hostile.indexOf(value)}`;
      if (typeof value.target === 'string') return `${value.constructor?.name}(${value.target}${value.closed ? ', closed' : ''})`;
      return JSON.stringify(value, (_key, inner) => (typeof inner === 'bigint' ? `${inner}n` : inner)) ?? String(value);
    }
    return String(value);
  } catch {
    return '<unprintable>';
  }
}

/** A validity predicate's answer; undefined (cannot say) when a hostile value's trap threw inside it. */
function knowable(predicate) {
  try {
    return predicate();
  } catch (error) {
    if (error instanceof Sentinel) return undefined;
    throw error;
  }
}

/** Checks one call; throws an Error describing the broken rule. */
function checkCall(world, target, rawArgs, stats) {
  const receiver = target.receiver ? resolve(world, { pick: target.receiver, index: rawArgs[0] }) : undefined;
  if (target.receiver && receiver === undefined) return;
  const args = rawArgs.slice(target.receiver ? 1 : 0).map((value) => resolve(world, value));
  // A skip predicate a hostile value's trap breaks cannot say: the call runs, and meets the same trap.
  if (knowable(() => target.skip?.(args, world, receiver)) === true) return;
  const validity = [...target.args.map((spec, i) => knowable(() => spec.valid(args[i], world))), target.valid ? knowable(() => target.valid(args, world, receiver)) : true];
  // true: the contract accepts every argument; false: it refuses one; undefined: cannot say (hostile values).
  const valid = validity.includes(false) ? false : validity.includes(undefined) ? undefined : true;
  const receiverClosed = target.needsOpen !== false && receiver?.closed === true;
  const argumentClosed = args.some((value) => involvesClosed(value));
  const { result, error, syscalls } = traceSyscalls(() => target.call(world, receiver, ...args));
  const outcome = classify(error);
  const where = `${target.name}(${args.map(describe).join(', ')})${receiver ? ` on ${describe(receiver)}` : ''}`;
  const fail = (rule) => {
    const failure = new Error(`${where}: ${rule}; outcome ${outcome}: ${error?.stack ?? describe(result)}; syscalls ${JSON.stringify(syscalls)}`);
    if (!stats.failures) throw failure;
    const key = `${target.name}: ${rule}`;
    if (!stats.failures.has(key)) stats.failures.set(key, failure.message);
  };
  stats.calls += 1;
  stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1;
  if (error instanceof KvmVfioError) stats.codes[error.code] = (stats.codes[error.code] ?? 0) + 1;
  if (outcome === 'unexpected') fail('threw something other than TypeError/RangeError with a Node code or KvmVfioError');
  if (['sentinel', 'closed', 'argument'].includes(outcome) && syscalls.length > 0) fail('refused, yet issued syscalls');
  if (outcome === 'closed' && !receiverClosed && !argumentClosed) fail('ERR_KVM_CLOSED although nothing involved was closed');
  if (receiverClosed && valid === true && outcome !== 'closed') fail('a closed object did not refuse the call');
  if (valid === false && !['argument', 'sentinel', 'closed'].includes(outcome)) fail('an invalid argument was not refused');
  if (valid === true && !receiverClosed && !argumentClosed && outcome === 'argument') fail('valid arguments were refused');
  if (outcome === 'kernel' && error.code === 'EBADF' && !target.rawFd) fail('EBADF: the library handed the kernel an fd that is not open');
  if (outcome === 'kernel' && error.code === 'EFAULT' && !target.nullPayload?.(args)) fail('EFAULT: the kernel could not read or write the memory the library passed');
  if (outcome === 'none' && target.keep) target.keep(world, result, args, receiver);
}

/** An operation: a target's name and its raw arguments (receiver index first for methods). */
function operations(targets) {
  return fc.oneof(
    ...targets.map((target) => ({
      weight: Math.max(1, Math.round((target.weight ?? 1) * 10)),
      arbitrary: fc.tuple(fc.constant(target.name), fc.tuple(...(target.receiver ? [fc.nat()] : []), ...target.args.map((spec) => spec.arb))),
    })),
  );
}

/** "2 min 5 s", "40 s". */
function duration(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  return whole >= 60 ? `${Math.floor(whole / 60)} min ${whole % 60} s` : `${whole} s`;
}

/**
 * A progress line on standard error (calls done, rate, time left) at most every `everyMs`; the
 * time left is the sooner of the count's and the time budget's end.
 */
export function progressReporter({ label, calls, seconds, everyMs = 5000, write = (line) => process.stderr.write(line) }) {
  const started = Date.now();
  let last = started;
  const goal = [Number.isFinite(calls) ? `${calls} calls` : undefined, seconds !== undefined ? `${seconds} s` : undefined].filter(Boolean).join(' or ');
  return (done) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    const elapsed = (now - started) / 1000;
    const rate = done / elapsed;
    const left = Math.min(Number.isFinite(calls) ? (calls - done) / rate : Infinity, seconds !== undefined ? seconds - elapsed : Infinity);
    write(`${label} progress: ${done} calls in ${duration(elapsed)} (${rate.toFixed(1)} calls/s) of ${goal}; about ${duration(left)} left\n`);
  };
}

/**
 * Runs `calls` checked calls (at least), or for `seconds`, whichever ends first, in runs of
 * `callsPerRun`, each run on a fresh world from `makeWorld()` (which returns { objects(kind),
 * dispose() }; dispose() throws when something leaked). Prints progress to standard error every
 * 5 s. Returns the statistics: calls, runs, seconds, outcome counts, KvmVfioError codes.
 */
export function fuzz({ targets, makeWorld, calls = Infinity, seconds, seed, callsPerRun = 25, shrink = true, collect = false, label = 'fuzz' }) {
  if (!Number.isFinite(calls) && seconds === undefined) throw new RangeError('fuzz: give calls, seconds or both');
  const stats = { calls: 0, runs: 0, seconds: 0, outcomes: {}, codes: {}, ...(collect ? { failures: new Map() } : {}) };
  const byName = new Map(targets.map((target) => [target.name, target]));
  const started = Date.now();
  const msLeft = () => (seconds === undefined ? Infinity : seconds * 1000 - (Date.now() - started));
  const progress = progressReporter({ label, calls, seconds });
  const property = fc.property(fc.array(operations(targets), { minLength: callsPerRun, maxLength: callsPerRun }), (ops) => {
    if (msLeft() <= 0) return;
    stats.runs += 1;
    const world = makeWorld();
    try {
      for (const [name, rawArgs] of ops) checkCall(world, byName.get(name), rawArgs, stats);
    } finally {
      try {
        world.dispose();
      } catch (error) {
        if (!stats.failures) throw error;
        stats.failures.set(`dispose: ${String(error.message).split(':')[0]}`, error.stack);
      }
      progress(stats.calls);
    }
  });
  // Calls on an empty pool or with a skipped argument do not count: top up with further seeds.
  for (let round = 0; stats.calls < calls && msLeft() > 0; round += 1) {
    const numRuns = Number.isFinite(calls) ? Math.ceil((calls - stats.calls) / callsPerRun) : 1_000_000_000;
    const budget = Number.isFinite(msLeft()) ? { interruptAfterTimeLimit: Math.ceil(msLeft()), markInterruptAsFailure: false } : {};
    fc.assert(property, { seed: seed + round, numRuns, endOnFailure: !shrink, includeErrorInReport: true, ...budget });
  }
  stats.seconds = (Date.now() - started) / 1000;
  return stats;
}
