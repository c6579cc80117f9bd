#!/usr/bin/env node
// The published entry point runs the bundled CLI; `npm run build` produces it in dist/.
import('../dist/services/cli/trailgate.js').catch((err) => {
  // Only the CLI itself missing means "not built"; a dependency missing from it is another story.
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /^Cannot find module '[^']*dist\/services\/cli\/trailgate\.js'/.test(String(err.message))) {
    console.error('trailgate is not built yet: run `npm run build` first.');
    process.exit(1);
  }
  throw err;
});
