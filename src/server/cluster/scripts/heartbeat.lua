-- An instance's heartbeat: renews its registration, and takes instances whose heartbeat
-- expired for dead, freeing their members' seats (their rooms are told on their channels).
-- ARGV: node, timeout (ms).
-- Returns {renewed, freed}: renewed is 0 when the instance was not registered (Redis lost its
-- data, or the instance was itself taken for dead): it must register again (sync.lua).
local node, timeout = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local renewed = 0
if redis.call('ZSCORE', K.nodes, node) then
  redis.call('ZADD', K.nodes, now + timeout, node)
  renewed = 1
end
local freed = 0
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', K.nodes, '-inf', '(' .. now, 'LIMIT', 0, 16)) do
  freed = freed + depart(dead, 'timeout')
end
return {renewed, freed}
