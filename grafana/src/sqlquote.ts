/**
 * Formats a template variable's value(s) for raw SQL as ClickHouse string literals: each value in
 * single quotes with backslash and quote escaped (ClickHouse reads `\` as an escape inside a
 * literal, so Grafana's `sqlstring` format, which only doubles `'`, lets a value ending in `\`
 * close the literal), several values joined by commas for `IN (...)`.
 */
export function quoteSQLValues(value: string | string[]): string {
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => "'" + String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'").join(',');
}
