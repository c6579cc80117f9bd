import { isAlnum, type Span } from './span.js';
import { afterLiteral, findTokensOfFormats, type TokenFormat } from './token-format.js';

// Source-control credentials by their documented formats, each a literal prefix and a bounded run (token-format.ts).
//  - GitHub (docs "About authentication to GitHub", token prefixes; blog "Behind GitHub's new authentication token
//    formats", 2021): ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_
//    (refresh) + 36 base62 characters; fine-grained PATs "github_pat_" + 82 of [A-Za-z0-9_]. GitHub reserves the
//    right to lengthen tokens, so the upper bound is 251 (255 in all).
//  - GitLab (docs "GitLab token overview", token prefixes): glpat- (personal/project/group access token), gloas-
//    (OAuth application secret), gldt- (deploy token), glrt- (runner authentication), glcbt- (CI/CD job token),
//    glptt- (pipeline trigger), glft- (feed token), glimt- (incoming mail), glagent- (agent for Kubernetes),
//    glsoat- (SCIM OAuth) + at least 20 of [A-Za-z0-9_.-] (routable tokens are longer and contain '.').
const word = (c: number): boolean => isAlnum(c) || c === 95;
const glBody = (c: number): boolean => isAlnum(c) || c === 95 || c === 46 || c === 45;
const glAfter = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;
/** p, o, u, s, r: the letter after "gh". */
const GITHUB_KINDS = new Set([112, 111, 117, 115, 114]);
const GITLAB_KINDS = ['pat', 'oas', 'dt', 'rt', 'cbt', 'ptt', 'ft', 'imt', 'agent', 'soat'];

/** After "gl": one of the GitLab kinds and '-'. */
function gitlabHead(text: string, at: number): number {
  for (const kind of GITLAB_KINDS) if (text.startsWith(kind, at + 2) && text.charCodeAt(at + 2 + kind.length) === 45) return at + 3 + kind.length;
  return -1;
}

const FORMATS: readonly TokenFormat[] = [
  { literal: 'gh', lead: 0, head: (t, at) => (GITHUB_KINDS.has(t.charCodeAt(at + 2)) && t.charCodeAt(at + 3) === 95 ? at + 4 : -1), notBefore: word, body: isAlnum, min: 36, max: 251, notAfter: word },
  { literal: 'github_pat_', lead: 0, head: afterLiteral('github_pat_'), notBefore: word, body: word, min: 82, max: 244, notAfter: word },
  { literal: 'gl', lead: 0, head: gitlabHead, notBefore: glBody, body: glBody, min: 20, max: 300, notAfter: glAfter },
];

/** GitHub and GitLab tokens. Cost: three indexOf passes, and one bounded run per candidate. */
export function findVcsTokens(text: string): Span[] {
  return findTokensOfFormats(text, FORMATS);
}
