-- GET /admin/realms/{realm}/users?search=<prefix>&max=20 with a random 3-digit prefix of the
-- generated user names (user000000 .. user099999): each answers 20 of ~100 matches.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  local p = string.format("user0%02d", math.random(0, 99))
  return wrk.format("GET", "/admin/realms/" .. os.getenv("REALM") .. "/users?search=" .. p .. "&max=20")
end
