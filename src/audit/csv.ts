/**
 * @module audit/csv
 * RFC 4180 CSV for audit exports: fields holding a comma, a quote, a line break or edge
 * spaces are quoted (quotes doubled); records end with CRLF. The parser reads one record per
 * line, which is all an export contains (JSON details never hold a raw line break), and
 * returns null for a line that is not well-formed.
 */

function quote(field: string): string {
  return /[",\r\n]|^\s|\s$/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

export function csvRecord(fields: readonly (string | number | null | undefined)[]): string {
  return `${fields.map((f) => quote(f === null || f === undefined ? '' : String(f))).join(',')}\r\n`;
}

/** The fields of one CSV line (without its line ending), or null if it is malformed. */
export function parseCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',') return null;
      i += 1;
    } else {
      const comma = line.indexOf(',', i);
      const value = comma === -1 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) return null;
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}
