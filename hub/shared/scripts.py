"""The Lua scripts behind the shared state: each one check-and-change, atomic in Redis.

Times come from the Redis server (``TIME``), never from a replica, so replicas with skewed
clocks share one bucket. Redis 7 replicates a script's effects, so ``TIME`` before a write is
allowed.
"""

from __future__ import annotations

BUCKET = """
-- KEYS[1] the bucket; ARGV[1] capacity, ARGV[2] refill per second
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local kept = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(kept[1])
local at = tonumber(kept[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""
"""Take one token: ``[1 if allowed, tokens left]``; an idle bucket expires once full."""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
"""Extend a lease only for its owner (``ARGV[1]``), to ``ARGV[2]`` ms."""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
"""Delete a lease only for its owner."""

ENTER = """
-- KEYS[1] the slots (a sorted set: holder -> expiry ms); ARGV[1] holder, ARGV[2] limit,
-- ARGV[3] the slot's TTL in ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
"""Hold one of ``limit`` slots; slots of holders that never left expire."""

TAKE_CALL = """
-- KEYS[1] the calls of the last window (a sorted set: member -> ms); ARGV[1] limit,
-- ARGV[2] a unique member, ARGV[3] the window in ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window) * 2)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(1, tonumber(oldest[2]) + window - now))
"""
"""One call of at most ``limit`` in any window: ``'0'``, or the ms until one frees up."""

SETTLE_CALL = """
-- KEYS[1] the calls of the last window; ARGV[1] a call taken earlier, now answered
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
return 1
"""
"""A call counts from its answer on: the department received it before that moment."""
