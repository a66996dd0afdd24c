-- wrk: GET /orders/{id} over the seeded ids (1..ORDERS, default 100000), uniformly at random.
local orders = tonumber(os.getenv("ORDERS") or "100000")
math.randomseed(42)
request = function()
  return wrk.format("GET", "/orders/" .. math.random(1, orders))
end
