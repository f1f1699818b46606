// Runs before `npm test` and `npm start`: installs the locked npm packages when node_modules is missing or older
// than package-lock.json, so the README's commands work on a fresh clone and stay fast afterwards.
// Plain JavaScript: it runs before TypeScript tooling is installed.
const { spawnSync } = require('node:child_process');
const { statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const mtime = (file) => {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
};

const installed = mtime('node_modules/.package-lock.json');
const locked = mtime('package-lock.json');
if (installed !== undefined && locked !== undefined && installed >= locked) process.exit(0);

console.log('Installing npm packages (npm ci)…');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
