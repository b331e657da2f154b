// The SPA's own web server: another origin than Portcullis (127.0.0.1 here, `localhost` for
// Portcullis), serving the app page, the silent check-sso page and keycloak-js itself, as a
// bundler would.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// The package's own entry point (its `exports` "."), as a bundler resolves `import 'keycloak-js'`.
const keycloakJs = fileURLToPath(import.meta.resolve('keycloak-js'));

const files = {
  '/app.html': [path.join(here, 'spa', 'app.html'), 'text/html; charset=utf-8'],
  '/silent-check-sso.html': [path.join(here, 'spa', 'silent-check-sso.html'), 'text/html; charset=utf-8'],
  '/keycloak.js': [keycloakJs, 'text/javascript; charset=utf-8'],
};

/** Starts the server on 127.0.0.1 and a free port; resolves to { origin, close }. */
export async function startSpa() {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://spa');
    const file = files[url.pathname];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
    res.end(await readFile(file[0]));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
