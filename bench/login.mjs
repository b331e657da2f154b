// The full browser login as load: GET the authorization endpoint and follow its redirects to
// the login page (keeping cookies), POST the credentials to the form's action and follow the
// redirects to the redirect URI, then exchange the code at the token endpoint (code + PKCE,
// client_secret_basic). A fresh cookie jar per login, N concurrent workers for D seconds.
// Prints the steady rate of logins per second, all completed logins and the whole run's time,
// and latency percentiles of whole logins.
//
//   node bench/login.mjs <authorization-endpoint> <token-endpoint> <client_id> <client_secret> <redirect_uri> <user> <password> [workers=4] [seconds=10] [otp-secret]
// With an OTP secret the login answers the OTP page after the password (bench/mfa.sh).
import { browserLogin } from './browser-login.mjs';

const [authEndpoint, tokenEndpoint, clientId, secret, redirectUri, user, password, workersArg, secondsArg, otpSecret] = process.argv.slice(2);
if (!password) {
  console.error('usage: node bench/login.mjs <authorization-endpoint> <token-endpoint> <client_id> <client_secret> <redirect_uri> <user> <password> [workers] [seconds]');
  process.exit(2);
}
const workers = Number(workersArg ?? 4);
const seconds = Number(secondsArg ?? 10);
const login = browserLogin({ authEndpoint, tokenEndpoint, clientId, secret, redirectUri, user, password, otpSecret });

const times = [];
const ends = [];
let errors = 0;
const start = performance.now();
const end = start + seconds * 1000;
await Promise.all(Array.from({ length: workers }, async () => {
  while (performance.now() < end) {
    const t = performance.now();
    try {
      await login();
      const e = performance.now();
      times.push(e - t);
      ends.push(e);
    } catch (e) {
      if (errors++ === 0) console.error(String(e));
    }
  }
}));
const elapsed = (performance.now() - start) / 1000;
// The steady rate: logins completed between a tenth of the run (at most 1 s) and its end, over
// that time; the ramp-up and the tail after the end (fewer workers busy) are left out.
const from = start + Math.min(seconds * 100, 1000);
const steady = ends.filter((e) => e >= from && e <= end).length / ((end - from) / 1000);
times.sort((a, b) => a - b);
const pct = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1) : '-');
console.log(`logins/s ${steady.toFixed(1)}  (${times.length} in ${elapsed.toFixed(1)} s, ${errors} errors, ${workers} workers)  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms`);
