-- POST /admin/realms/{realm}/users with a fresh user name per request (no password: the
-- figure is the Admin API and store path, not Argon2). TOKEN and REALM come from the env.
local n = 0
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  n = n + 1
  local body = string.format('{"username":"new-%s-%d","enabled":true,"email":"new-%s-%d@example.com","firstName":"New","lastName":"User"}', prefix, n, prefix, n)
  return wrk.format("POST", "/admin/realms/" .. os.getenv("REALM") .. "/users", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
