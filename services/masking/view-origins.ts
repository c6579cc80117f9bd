// Reads a stored view query (pg_rewrite.ev_action, PostgreSQL's node text) for the origin of each view column:
// the top-level target list's resorigtbl/resorigcol, which the parser set when the view was created.

export interface ViewColumnOrigin {
  resno: number;
  name: string;
  /** 0 when the column is an expression, a UNION arm or anything else without one source column. */
  table: number;
  column: number;
}

/** Origins of the view's output columns, in order; [] when the text is not a single stored query. */
export function viewColumnOrigins(evAction: string): ViewColumnOrigin[] {
  const out: ViewColumnOrigin[] = [];
  let depth = 0;
  let inTargetList = false;
  let entry: Partial<ViewColumnOrigin> | null = null;
  let key: string | null = null;
  let i = 0;
  const n = evAction.length;
  while (i < n) {
    const ch = evAction[i]!;
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '{') {
      depth++;
      i++;
      if (inTargetList && depth === 2) entry = {};
      continue;
    }
    if (ch === '}') {
      if (inTargetList && depth === 2 && entry) {
        if (entry.resno !== undefined) out.push({ resno: entry.resno, name: entry.name ?? '', table: entry.table ?? 0, column: entry.column ?? 0 });
        entry = null;
      }
      depth--;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '(' || ch === ')' || ch === '\n') {
      i++;
      continue;
    }
    // A token runs to the next space or bracket; escaped characters inside it are kept.
    let j = i;
    let token = '';
    while (j < n) {
      const c = evAction[j]!;
      if (c === '\\' && j + 1 < n) {
        token += evAction[j + 1];
        j += 2;
        continue;
      }
      if (c === ' ' || c === '(' || c === ')' || c === '{' || c === '}' || c === '\n') break;
      token += c;
      j++;
    }
    i = j;
    if (token.startsWith(':')) {
      if (depth === 1) inTargetList = token === ':targetList';
      key = depth === 2 && inTargetList ? token : null;
      continue;
    }
    if (key && entry) {
      if (key === ':resno') entry.resno = Number(token);
      else if (key === ':resname') entry.name = token;
      else if (key === ':resorigtbl') entry.table = Number(token);
      else if (key === ':resorigcol') entry.column = Number(token);
      key = null;
    }
  }
  return out;
}
