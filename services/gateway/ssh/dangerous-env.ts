import { compileGlob } from '../policy/glob.js';

/**
 * Variables that make a program load, source or run something other than the command itself: the
 * dynamic loader's, the shells' start-up and parsing, and interpreters' option and module paths.
 */
const NAMES = [
  'BASH_ENV', 'ENV', 'PATH', 'IFS', 'PS4', 'SHELLOPTS', 'BASHOPTS', 'CDPATH', 'GLOBIGNORE', 'PROMPT_COMMAND',
  'HOME', 'SHELL', 'ZDOTDIR', 'HISTFILE', 'INPUTRC', 'NODE_OPTIONS', 'NODE_PATH', 'RUBYOPT', 'RUBYLIB',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'GCONV_PATH', 'LOCPATH', 'NLSPATH',
  'HOSTALIASES', 'RES_OPTIONS', 'LOCALDOMAIN', 'TMPDIR', 'LESSOPEN', 'LESSCLOSE', 'EDITOR', 'VISUAL', 'PAGER',
  'SSH_ASKPASS', 'OPENSSL_CONF', 'OPENSSL_ENGINES', 'TERMINFO', 'TERMINFO_DIRS', 'XDG_CONFIG_HOME', 'XDG_DATA_DIRS',
];
/** Families: every name starting with one of these. */
const PREFIXES = ['LD_', 'DYLD_', 'PYTHON', 'PERL', 'RUBY', 'NODE_', 'BASH_FUNC_', 'GIT_', 'JAVA_', 'LUA_', 'MALLOC_', 'GLIBC_', 'GCONV_', 'DOTNET_', 'COMPlus_', 'PHP'];

/** Why `name` is never relayed, or null. A name is matched exactly; families by prefix. */
export function dangerousEnv(name: string): string | null {
  if (NAMES.includes(name)) return `${name} is read by loaders, shells or interpreters at start-up`;
  const prefix = PREFIXES.find((p) => name.startsWith(p));
  return prefix ? `${prefix}* variables steer loaders and interpreters` : null;
}

/**
 * For a configured `env` entry (a name or a glob such as `LC_*`): the first dangerous variable it would
 * let through, or null. Families are probed with a sample member, so `L*` and `*` are caught too.
 */
export function dangerousEnvMatch(pattern: string): string | null {
  const matches = compileGlob(pattern);
  for (const name of [...NAMES, ...PREFIXES.map((p) => `${p}PRELOAD`)]) {
    if (matches(name)) return dangerousEnv(name);
  }
  if (dangerousEnv(pattern.replace(/[*?].*$/, ''))) return dangerousEnv(pattern.replace(/[*?].*$/, ''));
  return null;
}
