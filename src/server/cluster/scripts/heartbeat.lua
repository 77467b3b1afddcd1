-- An instance's heartbeat: renews its registration, and takes instances whose heartbeat
-- expired for dead, freeing their members' seats (their rooms are told on their channels);
-- their resumable members become orphans instead, whose seats are freed when their grace period
-- ends (here too) unless another instance adopts them first.
-- Suspects die sooner: an instance where a client's resume found nothing listening is taken
-- for dead once its last beat is older than `late` times its own timeout (two of its beats),
-- without waiting for its heartbeat to expire.
-- ARGV: node, timeout (ms), late (a share of a timeout), suspects...
-- Returns {renewed, freed}: renewed is 0 when the instance was not registered (Redis lost its
-- data, or the instance was itself taken for dead): it must register again (sync.lua).
local node, timeout, late = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local renewed = 0
if redis.call('ZSCORE', K.nodes, node) then
  redis.call('ZADD', K.nodes, now + timeout, node)
  renewed = 1
end
local freed = 0
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', K.nodes, '-inf', '(' .. now, 'LIMIT', 0, 16)) do
  freed = freed + depart(dead, 'timeout', true)
end
for i = 4, #ARGV do
  local suspect = ARGV[i]
  local expires = redis.call('ZSCORE', K.nodes, suspect)
  -- Its own timeout: instances of one cluster may have different ones.
  local its = tonumber(redis.call('HGET', K.timeouts, suspect))
  if expires and its and suspect ~= node then
    local last_beat = tonumber(expires) - its
    if now - last_beat > late * its then
      freed = freed + depart(suspect, 'timeout', true)
    end
  end
end
return {renewed, freed + reap(now)}
