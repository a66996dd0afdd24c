-- wrk: POST /orders for a random seeded customer with 1 to 5 random lines.
local customers = tonumber(os.getenv("CUSTOMERS") or "10000")
math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local items = {}
  for i = 1, math.random(1, 5) do
    items[i] = string.format('{"product_id":%d,"quantity":%d,"price":"%d.%02d"}',
      math.random(1, 5000), math.random(1, 4), math.random(0, 199), math.random(0, 99))
  end
  local body = string.format('{"customer_id":%d,"items":[%s]}',
    math.random(1, customers), table.concat(items, ","))
  return wrk.format(nil, "/orders", nil, body)
end
-- Count non-201 answers so a failing run cannot pass for a fast one. Each wrk thread has its own Lua
-- state, so the counter is a per-thread global collected in `done` through the thread objects.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
failures = 0
response = function(status)
  if status ~= 201 then failures = failures + 1 end
end
done = function()
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failures") end
  io.write(string.format("non-201 responses: %d\n", total))
end
