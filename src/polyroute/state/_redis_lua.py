"""The Lua scripts of :class:`~polyroute.state.RedisStateStore` (each one atomic on the server)."""

#: ``DECRBY`` floored at 0: a stray extra decrement cannot make an in-flight count negative.
DECR_FLOOR = """
local v = redis.call('DECRBY', KEYS[1], ARGV[1])
if v < 0 then redis.call('SET', KEYS[1], 0) return 0 end
return v
"""

#: Token bucket: refill, take ``n`` or return the wait (``-1``: never), one round trip.
TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local retry = 0
if n > burst then retry = -1
elseif tokens + 1e-9 >= n then tokens = math.max(0, tokens - n)
else retry = (n - tokens) / rate end
if ts > now then now = ts end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', retry)
"""

#: Bump the topic version and publish "<version>\n<payload>" as one atomic pair.
PUBLISH = """
local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], v .. '\\n' .. ARGV[2])
return v
"""
