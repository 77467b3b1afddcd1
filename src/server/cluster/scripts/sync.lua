-- Registers an instance with exactly the members it holds: at startup, and after every
-- reconnection. Members Redis lacks are seated again without a capacity check (they hold
-- their seats already; after Redis lost its data the first instance to register a room's
-- members also restores its capacity); members Redis holds for the instance that it no longer
-- has (a join whose answer was lost, a leave sent while Redis was unreachable) are removed.
-- Members it still holds that became orphans (it was taken for dead, but lived) are its own
-- again (the instance writes its sessions' records anew beforehand); those another instance
-- adopted meanwhile are that instance's, and are returned for this one to let go of.
-- ARGV: node, timeout (ms), an epoch to use if Redis has none, then seven fields per member:
-- room, sid, name, order, capacity (0: unlimited), sub ('' without one), since (ms).
-- Returns {epoch, seated, removed, taken}, taken the socket ids another instance holds now.
local node, timeout, fresh_epoch = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local held, last_order = {}, 0
for i = 4, #ARGV, 7 do
  held[ARGV[i + 1] .. '\n' .. ARGV[i]] = true
  last_order = math.max(last_order, tonumber(ARGV[i + 3]))
end
-- Changes from here on must number after every join order being restored.
if tonumber(redis.call('GET', K.seq) or '0') < last_order then
  redis.call('SET', K.seq, last_order)
end
local removed = 0
for _, sid in ipairs(redis.call('SMEMBERS', K.node_members(node))) do
  for _, room in ipairs(redis.call('SMEMBERS', K.rooms_of(sid))) do
    if not held[sid .. '\n' .. room] and unseat(sid, room, 'gone') then
      removed = removed + 1
    end
  end
end
-- Its orphans, taken back before any is seated again.
local reclaimed = {}
for i = 4, #ARGV, 7 do
  local sid = ARGV[i + 1]
  local record = redis.call('HGET', K.orphan_sessions, sid)
  if record then
    redis.call('ZREM', K.orphans, sid)
    redis.call('HDEL', K.orphan_sessions, sid)
    reclaimed[sid] = true
  end
end
for sid in pairs(reclaimed) do
  reseat(node, sid)
end
local seated = 0
for i = 4, #ARGV, 7 do
  local room, sid, name, order, capacity =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  if not redis.call('ZSCORE', K.members(room), sid) then
    if capacity > 0 and redis.call('EXISTS', K.members(room)) == 0 then
      redis.call('SET', K.capacity(room), capacity)
    end
    seat(node, sid, room, name, order, ARGV[i + 5], ARGV[i + 6])
    seated = seated + 1
  end
end
local taken, listed = {}, {}
for i = 4, #ARGV, 7 do
  local room, sid = ARGV[i], ARGV[i + 1]
  local held_by = holder(room, sid)
  if held_by and held_by ~= node and not listed[sid] then
    listed[sid] = true
    taken[#taken + 1] = sid
  end
end
redis.call('ZADD', K.nodes, now_ms() + timeout, node)
redis.call('HSET', K.timeouts, node, timeout)
local epoch = redis.call('GET', K.epoch)
if not epoch then
  epoch = fresh_epoch
  redis.call('SET', K.epoch, epoch)
end
return {epoch, seated, removed, taken}
