import { spansOf, type Span } from './span.js';

// Source-control credentials by their documented formats; literal prefixes and bounded classes keep each regex linear.
//  - GitHub (docs "About authentication to GitHub", token prefixes; blog "Behind GitHub's new authentication token
//    formats", 2021): ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_
//    (refresh) + 36 base62 characters; fine-grained PATs "github_pat_" + 82 of [A-Za-z0-9_]. GitHub reserves the
//    right to lengthen tokens, so the upper bound is 251 (255 in all).
//  - GitLab (docs "GitLab token overview", token prefixes): glpat- (personal/project/group access token), gloas-
//    (OAuth application secret), gldt- (deploy token), glrt- (runner authentication), glcbt- (CI/CD job token),
//    glptt- (pipeline trigger), glft- (feed token), glimt- (incoming mail), glagent- (agent for Kubernetes),
//    glsoat- (SCIM OAuth) + at least 20 of [A-Za-z0-9_.-] (routable tokens are longer and contain '.').
const PATTERNS: ReadonlyArray<[literal: string, pattern: RegExp]> = [
  ['gh', /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/g],
  ['github_pat_', /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{82,244}(?![A-Za-z0-9_])/g],
  ['gl', /(?<![A-Za-z0-9_.-])gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat)-[A-Za-z0-9_.-]{20,300}(?![A-Za-z0-9_-])/g],
];

/** GitHub and GitLab tokens. Cost: three indexOf passes, and a linear regex pass per literal found. */
export function findVcsTokens(text: string): Span[] {
  const out: Span[] = [];
  for (const [literal, pattern] of PATTERNS) if (text.includes(literal)) out.push(...spansOf(text, pattern));
  return out;
}
