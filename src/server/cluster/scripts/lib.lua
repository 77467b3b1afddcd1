-- Helpers shared by every cluster script. The prelude before this defines `K`, the key and
-- channel layout (src/server/cluster/keys.rs); what the channels carry is in wire.rs.

-- Redis's clock, in milliseconds: one clock for every instance's heartbeat.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Seats member `sid` of instance `node`, named `name`, in `room` with join order `order` (its
-- join's own sequence number when nil), and announces it on the room's channel. `sub` (its
-- token's subject, or '') and `since` (when it joined, ms) are kept for the server API. The
-- caller has checked that there is a seat. Returns the change's sequence number.
local function seat(node, sid, room, name, order, sub, since)
  local seq = redis.call('INCR', K.seq)
  order = order or seq
  redis.call('ZADD', K.members(room), order, sid)
  redis.call('HSET', K.info(room), sid, table.concat({node, name, sub, since}, '\n'))
  redis.call('SADD', K.rooms_of(sid), room)
  redis.call('SADD', K.node_members(node), sid)
  redis.call('SADD', K.rooms, room)
  redis.call('PUBLISH', K.room_channel(room),
    table.concat({'J', seq, node, sid, order, name}, '\t'))
  return seq
end

-- Takes member `sid` out of `room` and announces why. Returns how many members the room still
-- has, or false if `sid` was not in it. Redis deletes a set or hash when it empties.
local function unseat(sid, room, reason)
  local info = redis.call('HGET', K.info(room), sid)
  if not info then
    return false
  end
  local node = string.match(info, '^[^\n]*')
  redis.call('ZREM', K.members(room), sid)
  redis.call('HDEL', K.info(room), sid)
  redis.call('SREM', K.rooms_of(sid), room)
  if redis.call('EXISTS', K.rooms_of(sid)) == 0 then
    redis.call('SREM', K.node_members(node), sid)
  end
  local remaining = redis.call('ZCARD', K.members(room))
  if remaining == 0 then
    redis.call('DEL', K.capacity(room), K.locked(room))
    redis.call('SREM', K.rooms, room)
  end
  local seq = redis.call('INCR', K.seq)
  redis.call('PUBLISH', K.room_channel(room), table.concat({'L', seq, sid, reason}, '\t'))
  return remaining
end

-- Takes every member of instance `node` out of every room, and the instance out of the
-- cluster. Returns how many seats were freed.
local function depart(node, reason)
  local freed = 0
  for _, sid in ipairs(redis.call('SMEMBERS', K.node_members(node))) do
    for _, room in ipairs(redis.call('SMEMBERS', K.rooms_of(sid))) do
      if unseat(sid, room, reason) then
        freed = freed + 1
      end
    end
  end
  redis.call('DEL', K.node_members(node))
  redis.call('ZREM', K.nodes, node)
  redis.call('HDEL', K.timeouts, node)
  redis.call('HDEL', K.urls, node)
  return freed
end

-- Each member's record in `room`'s `info` hash: socket id -> its fields (node, name, sub, since).
local function records(room)
  local info = redis.call('HGETALL', K.info(room))
  local of = {}
  for i = 1, #info, 2 do
    local node, name, sub, since = string.match(info[i + 1], '^([^\n]*)\n([^\n]*)\n?([^\n]*)\n?([^\n]*)$')
    of[info[i]] = {node or '', name or '', sub or '', since or '0'}
  end
  return of
end

-- Appends `room`'s members to `out` in join order, four fields each: sid, order, node, name;
-- with `profiles`, six: sub and since too.
local function roster(room, out, profiles)
  local members = redis.call('ZRANGE', K.members(room), 0, -1, 'WITHSCORES')
  local of = records(room)
  for i = 1, #members, 2 do
    local record = of[members[i]] or {'', '', '', '0'}
    out[#out + 1] = members[i]
    out[#out + 1] = members[i + 1]
    out[#out + 1] = record[1]
    out[#out + 1] = record[2]
    if profiles then
      out[#out + 1] = record[3]
      out[#out + 1] = record[4]
    end
  end
  return out
end
