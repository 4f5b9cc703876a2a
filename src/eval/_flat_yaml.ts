/**
 * Private: the small YAML subset of MLflow's file-store `meta.yaml` files: top-level
 * `key: scalar` lines and one level of nested `key:` maps (the registry's `aliases`).
 */

/** A scalar as MLflow writes it. */
export type YamlScalar = string | number | boolean | null;

function parseScalar(raw: string): YamlScalar {
  const v = raw.trim();
  if (v === "" || v === "null" || v === "~") return null;
  if (v === "true") return true;
  if (v === "false") return false;
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) {
    return v.slice(1, -1).replace(/''/g, "'");
  }
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
    try {
      return JSON.parse(v);
    } catch {
      return v.slice(1, -1);
    }
  }
  if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v);
  return v;
}

/** Parses `key: value` lines; a `key:` followed by indented lines becomes a nested map. */
export function parseFlatYaml(
  text: string,
): Record<string, YamlScalar | Record<string, YamlScalar>> {
  const out: Record<string, YamlScalar | Record<string, YamlScalar>> = {};
  let nested: Record<string, YamlScalar> | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const m = /^(\s*)([^:]+?):(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    const [, indent, key, value] = m;
    if (indent.length > 0) {
      if (nested) nested[key] = parseScalar(value ?? "");
      continue;
    }
    if (value === undefined || value.trim() === "") {
      nested = {};
      out[key] = nested;
    } else {
      nested = null;
      out[key] = value.trim() === "[]" ? null : parseScalar(value);
    }
  }
  return out;
}

/** Formats a scalar the way PyYAML's safe dumper reads back unchanged. */
function formatScalar(v: YamlScalar): string {
  if (v === null) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `'${v.replace(/'/g, "''").replace(/\n/g, " ")}'`;
}

/** Writes sorted `key: value` lines; object values become one nested level. */
export function formatFlatYaml(
  data: Record<string, YamlScalar | Record<string, YamlScalar>>,
): string {
  const lines: string[] = [];
  for (const key of Object.keys(data).sort()) {
    const v = data[key];
    if (v !== null && typeof v === "object") {
      const keys = Object.keys(v).sort();
      if (keys.length === 0) {
        lines.push(`${key}: {}`);
        continue;
      }
      lines.push(`${key}:`);
      for (const k of keys) lines.push(`  ${k}: ${formatScalar(v[k])}`);
    } else {
      lines.push(`${key}: ${formatScalar(v)}`);
    }
  }
  return lines.join("\n") + "\n";
}
