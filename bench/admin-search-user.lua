-- GET /admin/realms/{realm}/users?search=<prefix>&max=20 with a random prefix of the generated
-- user names (user000000 .. user099999): "user0" and DIGITS more digits, so each search
-- matches 10^(5-DIGITS) users (DIGITS=3: 100 matches, DIGITS=2: 1,000).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local digits = tonumber(os.getenv("DIGITS") or "3")
request = function()
  local p = string.format("user0%0" .. digits .. "d", math.random(0, 10 ^ digits - 1))
  return wrk.format("GET", "/admin/realms/" .. os.getenv("REALM") .. "/users?search=" .. p .. "&max=20")
end
