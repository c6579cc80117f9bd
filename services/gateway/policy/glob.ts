/**
 * Globs for policy rules: `*` any run without `/`, `**` any run, `?` one character without `/`; all else literal.
 * Matching is a full, case-sensitive match by code point. No RegExp is built: the pattern is simulated as an NFA,
 * so config cannot inject regex syntax and attacker-controlled values cannot trigger backtracking (O(value × pattern)).
 */
type Token = { kind: 'lit'; char: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'globstar' };

export type GlobMatcher = (value: string) => boolean;

function tokenize(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === '?') tokens.push({ kind: 'one' });
    else if (char !== '*') tokens.push({ kind: 'lit', char });
    else if (chars[i + 1] !== '*') tokens.push({ kind: 'star' });
    else {
      // A run of three or more stars is one `**`.
      while (chars[i + 1] === '*') i++;
      tokens.push({ kind: 'globstar' });
    }
  }
  return tokens;
}

/** `wildcardStops`: characters no wildcard may match (besides `/` for `*` and `?`). */
function build(pattern: string, wildcardStops: string): GlobMatcher {
  const tokens = tokenize(pattern);
  const stop = (char: string): boolean => wildcardStops.includes(char);
  if (tokens.every((t) => t.kind === 'lit')) return (value) => value === pattern;
  const size = tokens.length + 1;
  // Stars may match nothing: a state before a star also stands after it.
  const close = (states: Uint8Array): void => {
    for (let i = 0; i < tokens.length; i++) {
      const kind = (tokens[i] as Token).kind;
      if (states[i] && (kind === 'star' || kind === 'globstar')) states[i + 1] = 1;
    }
  };
  return (value) => {
    let current = new Uint8Array(size);
    current[0] = 1;
    close(current);
    for (const char of value) {
      const next = new Uint8Array(size);
      let alive = false;
      for (let i = 0; i < tokens.length; i++) {
        if (!current[i]) continue;
        const token = tokens[i] as Token;
        let to = -1;
        if (token.kind === 'lit') to = token.char === char ? i + 1 : -1;
        else if (stop(char)) to = -1;
        else if (token.kind === 'one') to = char !== '/' ? i + 1 : -1;
        else if (token.kind === 'star') to = char !== '/' ? i : -1;
        else to = i;
        if (to >= 0) {
          next[to] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      close(next);
      current = next;
    }
    return current[tokens.length] === 1;
  };
}

/** Bounded so that patterns built from untrusted input cannot grow the cache without limit. */
const CACHE_LIMIT = 1024;
const cache = new Map<string, GlobMatcher>();

export function compileGlob(pattern: string, wildcardStops = ''): GlobMatcher {
  const key = wildcardStops ? `${wildcardStops}\0${pattern}` : pattern;
  let matcher = cache.get(key);
  if (!matcher) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    matcher = build(pattern, wildcardStops);
    cache.set(key, matcher);
  }
  return matcher;
}
