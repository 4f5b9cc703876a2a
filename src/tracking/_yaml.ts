/**
 * The small YAML subset MLflow's file store uses for `meta.yaml`: a mapping of scalars (plus
 * nested mappings: registry aliases, input tags, an `MLmodel`'s flavors), block style, sorted
 * keys. The reader needs one nested level only.
 *
 * @module
 */
import type { FileSystemAdapter } from "./file_system.ts";

/** A scalar as MLflow stores it. */
export type YamlScalar = string | number | boolean | null;
/** A `meta.yaml` value: a scalar, an empty list (`tags: []`) or a nested mapping. */
export type YamlValue = YamlScalar | readonly [] | YamlMapping;
/** A nested mapping. */
export interface YamlMapping {
  readonly [key: string]: YamlValue;
}

function scalar(value: YamlScalar): string {
  if (value === null) return "null";
  // Line breaks and other control characters need a double-quoted scalar's escapes (JSON's
  // escapes are valid YAML); everything else is single-quoted.
  // deno-lint-ignore no-control-regex
  if (typeof value === "string" && /[\x00-\x1f\x85\u2028\u2029]/.test(value)) {
    return JSON.stringify(value).replace(
      /[\x85\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  return String(value);
}

/** A mapping key: plain when safe, else quoted like a string value. */
function keyText(key: string): string {
  return /^[A-Za-z_][\w.\-/]*$/.test(key) ? key : scalar(key);
}

/** Writes a mapping with sorted keys, strings single-quoted (so `'0'` stays a string). */
export function dumpYaml(doc: Readonly<Record<string, YamlValue>>, indent = ""): string {
  let out = "";
  for (const key of Object.keys(doc).sort()) {
    const value = doc[key];
    const k = `${indent}${keyText(key)}`;
    if (Array.isArray(value)) out += `${k}: []\n`;
    else if (value !== null && typeof value === "object") {
      const inner = value as YamlMapping;
      if (Object.keys(inner).length === 0) out += `${k}: {}\n`;
      else out += `${k}:\n${dumpYaml(inner, `${indent}  `)}`;
    } else out += `${k}: ${scalar(value as YamlScalar)}\n`;
  }
  return out;
}

function parseScalar(text: string): YamlScalar {
  const t = text.trim();
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) {
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) {
    return JSON.parse(t) as string;
  }
  if (t === "null" || t === "~" || t === "") return null;
  if (t === "true") return true;
  if (t === "false") return false;
  if (/^[-+]?\d+$/.test(t)) return Number(t);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t;
}

/**
 * Reads the `meta.yaml` subset written by MLflow (PyYAML) or by `dumpYaml`.
 * Throws SyntaxError on a line that is not `key: value`.
 */
export function parseYaml(text: string, path = "<yaml>"): Record<string, YamlValue> {
  const doc: Record<string, YamlValue> = {};
  let nested: Record<string, YamlScalar> | null = null;
  let lastKey: string | null = null;
  // A quoted scalar that PyYAML folded over several lines, until its closing quote.
  let open: { target: Record<string, YamlValue>; key: string; text: string } | null = null;
  const put = (target: Record<string, YamlValue>, key: string, rest: string) => {
    if (isOpenQuoted(rest)) open = { target, key, text: rest };
    else target[key] = parseScalar(rest);
  };
  for (const [i, raw] of text.split("\n").entries()) {
    if (open !== null) {
      const o: { target: Record<string, YamlValue>; key: string; text: string } = open;
      o.text += ` ${raw.trim()}`;
      if (!isOpenQuoted(o.text)) {
        o.target[o.key] = parseScalar(o.text);
        open = null;
      }
      continue;
    }
    if (raw.trim() === "" || raw.trimStart().startsWith("#")) continue;
    const indented = /^\s/.test(raw);
    const m = /^\s*('(?:[^']|'')*'|[^:]+?):(?:\s+(.*))?$/.exec(raw);
    if (indented && nested !== null && m) {
      put(nested, String(parseScalar(m[1])), m[2] ?? "");
      continue;
    }
    if (indented && lastKey !== null && typeof doc[lastKey] === "string") {
      // PyYAML folds long plain scalars onto continuation lines.
      doc[lastKey] = `${doc[lastKey]} ${raw.trim()}`;
      continue;
    }
    if (!m || indented) {
      throw new SyntaxError(
        `Cannot parse YAML ${path}: line ${i + 1} is not "key: value" (got ${JSON.stringify(raw)})`,
      );
    }
    lastKey = String(parseScalar(m[1]));
    nested = null;
    const rest = (m[2] ?? "").trim();
    if (rest === "") {
      nested = {};
      doc[lastKey] = nested;
    } else if (rest === "[]") doc[lastKey] = [];
    else if (rest === "{}") doc[lastKey] = {};
    else put(doc, lastKey, rest);
  }
  if (open !== null) {
    throw new SyntaxError(`Cannot parse YAML ${path}: a quoted value is never closed`);
  }
  return doc;
}

/** True for a quoted scalar whose closing quote has not come yet. */
function isOpenQuoted(text: string): boolean {
  const t = text.trim();
  if (t.startsWith("'")) return !/^'(?:[^']|'')*'$/.test(t);
  if (t.startsWith('"')) return !/^"(?:[^"\\]|\\.)*"$/.test(t);
  return false;
}

/** Reads and parses a YAML file, or null when it does not exist. */
export async function readYamlFile(
  fs: FileSystemAdapter,
  path: string,
): Promise<Record<string, YamlValue> | null> {
  const bytes = await fs.readFile(path);
  return bytes === null ? null : parseYaml(new TextDecoder().decode(bytes), path);
}

/** Writes a mapping as YAML (sorted keys, strings quoted). */
export async function writeYamlFile(
  fs: FileSystemAdapter,
  path: string,
  doc: Readonly<Record<string, YamlValue>>,
): Promise<void> {
  await fs.writeFile(path, new TextEncoder().encode(dumpYaml(doc)));
}
