// Version comparisons that decide the port-forwarding mode on each side of a session.
//
// Both functions reproduce the behaviour of Go code, so the client can predict what the
// agent chooses. `versionGreater` is the session-manager-plugin's check
// (src/version/versionutil.go). `compareVersions` is the SSM agent's `versionutil.Compare`
// (agent/versionutil/versionutil.go), which uses github.com/coreos/go-semver when both
// strings are semantic versions.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const GO_DECIMAL = /^[+-]?[0-9]+$/;

/** Parses a component as Go's strconv.Atoi does on 64-bit hosts; null means Go returns an error. */
function parseGoInt(text: string): bigint | null {
  if (!GO_DECIMAL.test(text)) {
    return null;
  }
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/** Compares strings by their UTF-8 bytes, as Go's `<` on strings does. */
function compareGoStrings(a: string, b: string): number {
  return Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function compareBigInts(a: bigint, b: bigint): number {
  if (a === b) {
    return 0;
  }
  return a > b ? 1 : -1;
}

/**
 * Returns true only if `version` is strictly greater than `than`, with the plugin's rules:
 * both split on '.', the component counts must match, every component must parse as a
 * decimal integer, and an empty `version` is never greater. Any failed check returns false.
 */
export function versionGreater(version: string, than: string): boolean {
  if (version === '' || than === '') {
    return false;
  }
  const left = version.split('.');
  const right = than.split('.');
  if (left.length !== right.length) {
    return false;
  }
  for (let i = 0; i < left.length; i++) {
    const a = parseGoInt(left[i]!);
    const b = parseGoInt(right[i]!);
    if (a === null || b === null) {
      return false;
    }
    if (a !== b) {
      return a > b;
    }
  }
  return false;
}

interface SemanticVersion {
  core: [bigint, bigint, bigint];
  preRelease: string;
}

/** Splits `input` at the first `delimiter`, returning [before, after] or [input, ''] as go-semver's splitOff does. */
function splitOff(input: string, delimiter: string): [string, string] {
  const index = input.indexOf(delimiter);
  return index === -1 ? [input, ''] : [input.slice(0, index), input.slice(index + 1)];
}

/**
 * Parses a version the lenient way go-semver's `Version.Set` does: build metadata after
 * '+', a pre-release after '-', then exactly three dot-separated 64-bit integers (the third
 * part keeps any further dots, so "1.2.3.4" is not semver).
 * NOTE: newer go-semver releases validate identifiers more strictly; which release a given
 * agent build vendors is not checked here.
 */
function parseSemanticVersion(text: string): SemanticVersion | null {
  const [withoutMetadata] = splitOff(text, '+');
  const [core, preRelease] = splitOff(withoutMetadata, '-');
  const firstDot = core.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : core.indexOf('.', firstDot + 1);
  if (secondDot === -1) {
    return null;
  }
  const parts = [
    core.slice(0, firstDot),
    core.slice(firstDot + 1, secondDot),
    core.slice(secondDot + 1),
  ];
  const numbers = parts.map(parseGoInt);
  if (numbers.some((value) => value === null)) {
    return null;
  }
  return { core: numbers as [bigint, bigint, bigint], preRelease };
}

function comparePreReleaseParts(a: string[], b: string[]): number {
  for (let i = 0; ; i++) {
    if (i >= a.length) {
      return 0;
    }
    if (i >= b.length) {
      return 1;
    }
    const left = parseGoInt(a[i]!);
    const right = parseGoInt(b[i]!);
    if (left !== null && right !== null && left !== right) {
      return compareBigInts(left, right);
    }
    const text = compareGoStrings(a[i]!, b[i]!);
    if (text !== 0) {
      return text;
    }
  }
}

function compareSemanticVersions(a: SemanticVersion, b: SemanticVersion): number {
  for (let i = 0; i < 3; i++) {
    const result = compareBigInts(a.core[i]!, b.core[i]!);
    if (result !== 0) {
      return result;
    }
  }
  if (a.preRelease === '' && b.preRelease !== '') {
    return 1;
  }
  if (b.preRelease === '' && a.preRelease !== '') {
    return -1;
  }
  return comparePreReleaseParts(a.preRelease.split('.'), b.preRelease.split('.'));
}

/** Removes trailing components that are all zeros, as the agent does unless sorting strictly. */
function trimTrailingZeros(version: string): string {
  let significant = version.length;
  for (let i = version.length - 1; i >= 0; i--) {
    const char = version[i];
    if (char !== '0' && char !== '.') {
      break;
    }
    if (char === '.') {
      significant = i;
    }
    if (i === 0) {
      significant = 0;
    }
  }
  return version.slice(0, significant);
}

/**
 * Compares two versions as the SSM agent does, returning a negative number, zero or a
 * positive number. Semantic versions on both sides use semver order. Otherwise components
 * compare numerically when both parse as integers and as UTF-8 text when not, and after
 * a common prefix the version with fewer components is smaller. The agent passes
 * `strict = true` for its mux and keepalive decisions.
 */
export function compareVersions(version: string, other: string, strict = true): number {
  const semanticA = parseSemanticVersion(version);
  const semanticB = parseSemanticVersion(other);
  if (semanticA !== null && semanticB !== null) {
    return compareSemanticVersions(semanticA, semanticB);
  }
  const left = (strict ? version : trimTrailingZeros(version)).split('.');
  const right = (strict ? other : trimTrailingZeros(other)).split('.');
  for (let i = 0; i < left.length && i < right.length; i++) {
    const a = parseGoInt(left[i]!);
    const b = parseGoInt(right[i]!);
    const result =
      a !== null && b !== null ? compareBigInts(a, b) : compareGoStrings(left[i]!, right[i]!);
    if (result !== 0) {
      return result;
    }
  }
  return left.length - right.length;
}
