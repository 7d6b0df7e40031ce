"""The Lua scripts `RedisState` runs in Redis (docs/runtime.md, "Shared state on Redis").

Every change to shared state is one script, so it is atomic across processes and hosts: no
read-modify-write from a client. Money is integer sub-cent units (`UNITS` per dollar) kept by
Redis as 64-bit integers (HINCRBY); a script compares sums as decimal strings (Lua's numbers
are doubles, exact only to 2**53), so a budget is exact up to the 64-bit limit. Leases are
judged by the Redis server's clock (TIME), the one clock every process shares.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

UNITS = 10**12
"""Ledger units per dollar: a picodollar, so a price of $0.000001 per million tokens is still a
whole number of units per token."""

MAX_UNITS = 2**63 - 1
"""Redis integers are signed 64-bit: the most any ledger amount may reach ($9,223,372.04)."""


def to_units(amount: Decimal) -> int:
    """`amount` dollars in ledger units, rounded up to the next unit when finer (a hold or a
    cost is never under-counted); ValueError past `MAX_UNITS`."""
    units = int((amount * UNITS).to_integral_value(rounding=ROUND_CEILING))
    if abs(units) > MAX_UNITS:
        raise ValueError(f"${amount} is more than a Redis ledger holds (${Decimal(MAX_UNITS).scaleb(-12)})")
    return units


def from_units(units: int | bytes | str) -> Decimal:
    """Ledger units back to exact dollars, without trailing zeros (`0.6`, `2`, not `6.00E-1`)."""
    dollars = Decimal(int(units)).scaleb(-12).normalize()
    return dollars.quantize(Decimal(1)) if dollars.as_tuple().exponent > 0 else dollars  # type: ignore[operator]


_MONEY = r"""
local function canon(text)
  if text == false or text == nil or string.sub(text, 1, 1) == '-' then return '0' end
  return text
end
local function add(a, b)  -- two non-negative decimal integer strings, exactly
  local digits, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local sum = carry
    if i > 0 then sum = sum + string.byte(a, i) - 48 end
    if j > 0 then sum = sum + string.byte(b, j) - 48 end
    table.insert(digits, 1, string.char(48 + sum % 10))
    carry = math.floor(sum / 10)
    i, j = i - 1, j - 1
  end
  local text = string.gsub(table.concat(digits), '^0+', '')
  if text == '' then return '0' end
  return text
end
local function greater(a, b)  -- a > b for canonical non-negative decimal strings
  if #a ~= #b then return #a > #b end
  for k = 1, #a do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return false
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- KEYS: 1 the account (hash: budget, spent, held), 2 the leases (zset hold -> expiry ms),
-- 3 the holds' amounts (hash hold -> units, or 'settled': a tombstone that lives one lease, so
-- that a settle whose reply was lost and is applied again by a catch-up counts once),
-- 4 the applied catch-up batches (set)
local function drop(id)  -- a hold (or its tombstone) goes; its amount leaves `held`
  local amount = redis.call('HGET', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
  if not amount then return end
  redis.call('HDEL', KEYS[3], id)
  if amount ~= 'settled' and amount ~= '0' then redis.call('HINCRBY', KEYS[1], 'held', '-' .. amount) end
end
local function expire(now)  -- holds whose lease ran out are given back
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do drop(id) end
end
local function seed(budget, floor)  -- a ledger Redis lost (restart without persistence) starts again from what a process saw
  redis.call('HSETNX', KEYS[1], 'budget', budget)
  if greater(floor, canon(redis.call('HGET', KEYS[1], 'spent'))) then redis.call('HSET', KEYS[1], 'spent', floor) end
end
local function totals()
  return {canon(redis.call('HGET', KEYS[1], 'spent')), canon(redis.call('HGET', KEYS[1], 'held')),
          canon(redis.call('HGET', KEYS[1], 'budget'))}
end
"""

RESERVE = _MONEY + r"""
-- ARGV: hold id, amount, budget (used when the account is new), spent floor, lease ms
local now = now_ms()
expire(now)
seed(ARGV[3], ARGV[4])
local t = totals()
if greater(add(add(t[1], t[2]), ARGV[2]), t[3]) then return {0, t[1], t[2], t[3]} end
redis.call('HINCRBY', KEYS[1], 'held', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
t = totals()
return {1, t[1], t[2], t[3]}
"""

SETTLE = _MONEY + r"""
-- ARGV: hold id, cost (0 for a release), lease ms. The cost is spent even when the hold's lease
-- ran out (the call was made); a hold settled already costs nothing twice.
local now = now_ms()
expire(now)
if redis.call('HGET', KEYS[3], ARGV[1]) ~= 'settled' then
  drop(ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], 'settled')
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2]) end
end
local t = totals()
return {1, t[1], t[2], t[3]}
"""

TOTALS = _MONEY + r"""
-- ARGV: the budget, stored when the account is new
expire(now_ms())
redis.call('HSETNX', KEYS[1], 'budget', ARGV[1])
local t = totals()
return {1, t[1], t[2], t[3]}
"""

RENEW = _MONEY + r"""
-- ARGV: lease ms, hold ids. Extends the lease of each hold still there.
local expiry = now_ms() + tonumber(ARGV[1])
for k = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[k]) then redis.call('ZADD', KEYS[2], 'XX', expiry, ARGV[k]) end
end
return 1
"""

CATCH_UP = _MONEY + r"""
-- ARGV: batch id, spent while away on holds made while away, budget, spent floor, lease ms,
-- n, then n (hold id, cost) pairs of Redis holds settled or released while away (a hold that
-- Redis shows settled, its reply lost, is not counted again), then (hold id, amount) pairs of
-- holds made while away and still in flight. A batch is applied once.
local now = now_ms()
expire(now)
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 0 end
seed(ARGV[3], ARGV[4])
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2]) end
local settled = 7 + 2 * tonumber(ARGV[6])
for k = 7, settled - 1, 2 do
  if redis.call('HGET', KEYS[3], ARGV[k]) ~= 'settled' then
    drop(ARGV[k])
    if ARGV[k + 1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'spent', ARGV[k + 1]) end
  end
end
for k = settled, #ARGV, 2 do
  if not redis.call('HGET', KEYS[3], ARGV[k]) then
    redis.call('HSET', KEYS[3], ARGV[k], ARGV[k + 1])
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[k])
    if ARGV[k + 1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'held', ARGV[k + 1]) end
  end
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[4], 86400)
return 1
"""

BREAKER = r"""
-- The breaker machine of runtime.resilience (Breakers._allow, _vote, _trip, _give_back), line
-- for line. KEYS: 1 the machine (hash), 2 its window (hash "bucket:c" / "bucket:f" -> count).
-- ARGV: op (allow, ok, fail, park, release, peek), now, draw, park seconds, then the config:
-- rate, min_calls, window, buckets, failures, cooldown, max_cooldown, jitter, probes, ttl ms.
local op, now, draw, park = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local rate, min_calls, window, buckets = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local failures, cooldown, max_cooldown = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local jitter, probes, ttl = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local f = redis.call('HMGET', KEYS[1], 'mode', 'until', 'openings', 'parked', 'streak', 'granted', 'good', 'bad')
local mode, open_until, openings = tonumber(f[1]) or 0, tonumber(f[2]) or 0, tonumber(f[3]) or 0
local parked, streak, granted = tonumber(f[4]) or 0, tonumber(f[5]) or 0, tonumber(f[6]) or 0
local good, bad = tonumber(f[7]) or 0, tonumber(f[8]) or 0
local function fmt(x) return string.format('%.17g', x) end
if op == 'peek' then return {0, mode, fmt(open_until), fmt(parked)} end
local allowed = 0
local function give_back()
  if mode == 2 and granted > good + bad then granted = granted - 1 end
end
local function trip()
  openings = openings + 1
  local wait = math.min(max_cooldown, cooldown * 2 ^ math.min(openings - 1, 64))
  mode, open_until = 1, now + wait * (1.0 - jitter * draw)
  streak, granted, good, bad = 0, 0, 0, 0
  redis.call('DEL', KEYS[2])
end
if op == 'allow' then
  allowed = 1
  if parked ~= 0 then
    if now < parked then allowed = 0 else parked = 0 end
  end
  if allowed == 1 and mode == 1 then
    if now < open_until then allowed = 0 else mode, granted, good, bad = 2, 0, 0, 0 end
  end
  if allowed == 1 and mode == 2 then
    if granted >= probes then allowed = 0 else granted = granted + 1 end
  end
elseif op == 'park' then
  parked = math.max(parked, now + park)
  give_back()
elseif op == 'release' then
  give_back()
elseif mode == 2 then
  if granted > good + bad then
    if op == 'fail' then
      bad = bad + 1
      if bad >= rate * probes then trip() end
    else
      good = good + 1
      if good > (1.0 - rate) * probes then
        mode, openings, streak = 0, 0, 0
        redis.call('DEL', KEYS[2])
      end
    end
  end
elseif mode == 0 then
  local bucket = math.floor(now / (window / buckets))
  local oldest = bucket - buckets
  if redis.call('HINCRBY', KEYS[2], string.format('%d:c', bucket), 1) == 1 then
    for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do  -- a new slice: the ones that left the window go
      if tonumber(string.match(field, '^(-?%d+):')) <= oldest then redis.call('HDEL', KEYS[2], field) end
    end
  end
  if op == 'ok' then
    streak = 0
  else
    redis.call('HINCRBY', KEYS[2], string.format('%d:f', bucket), 1)
    streak = streak + 1
    local votes, fails = 0, 0
    local all = redis.call('HGETALL', KEYS[2])
    for k = 1, #all, 2 do
      local index, kind = string.match(all[k], '^(-?%d+):(%a)$')
      if tonumber(index) <= oldest then
        redis.call('HDEL', KEYS[2], all[k])
      elseif kind == 'c' then
        votes = votes + tonumber(all[k + 1])
      else
        fails = fails + tonumber(all[k + 1])
      end
    end
    if votes >= min_calls then
      if fails >= rate * votes then trip() end
    elseif streak >= failures then
      trip()
    end
  end
end
redis.call('HSET', KEYS[1], 'mode', mode, 'until', fmt(open_until), 'openings', openings, 'parked', fmt(parked),
           'streak', streak, 'granted', granted, 'good', good, 'bad', bad)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return {allowed, mode, fmt(open_until), fmt(parked)}
"""
