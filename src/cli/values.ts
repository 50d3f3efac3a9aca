/**
 * @module cli/values
 * Parsing of the CLI's NAME=VALUE style arguments and JSON output of decoded map data
 * (bigints written as exact integers, bytes as hex strings).
 */
import { usageError } from './errors.js';

/** An integer: decimal, 0x hex, 0o octal or 0b binary, optionally negative. */
export function parseInteger(text: string, what: string): bigint {
  const m = /^([+-]?)(0x[0-9a-f]+|0o[0-7]+|0b[01]+|[0-9]+)$/i.exec(text.trim().replace(/_/g, ''));
  if (!m) throw usageError(`${what}: "${text}" is not a number (decimal, 0x hex, 0o octal or 0b binary, optionally negative)`, 'ERR_CLI_BAD_VALUE');
  const v = BigInt(m[2]!.toLowerCase());
  return m[1] === '-' ? -v : v;
}

/** `NAME=VALUE` of --global. */
export function parseAssignment(text: string, option: string): { name: string; value: bigint } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw usageError(`${option} expects NAME=VALUE, got "${text}"`);
  const name = text.slice(0, eq);
  return { name, value: parseInteger(text.slice(eq + 1), `${option} ${name}`) };
}

/** `NAME:KEY=VALUE` of --map. */
export function parseMapAssignment(text: string): { map: string; key: bigint; value: bigint } {
  const m = /^([^:]+):([^=]+)=(.+)$/.exec(text);
  if (!m) throw usageError(`--map expects NAME:KEY=VALUE, got "${text}"`);
  return { map: m[1]!, key: parseInteger(m[2]!, `--map ${m[1]} key`), value: parseInteger(m[3]!, `--map ${m[1]}:${m[2]} value`) };
}

/** JSON text of decoded map data: bigint → integer literal, Uint8Array → "0x..." hex. */
export function toJson(v: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `"0x${Buffer.from(v).toString('hex')}"`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + toJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    // Small {key, value} records on one line keep a map dump readable.
    if (entries.length <= 2 && entries.every(([, x]) => typeof x !== 'object' || x instanceof Uint8Array)) {
      return `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${toJson(x)}`).join(', ')} }`;
    }
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${toJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
