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
  if node ~= K.orphan then
    redis.call('SADD', K.node_members(node), sid)
  end
  redis.call('SADD', K.rooms, room)
  redis.call('PUBLISH', K.room_channel(room),
    table.concat({'J', seq, node, sid, order, name}, '\t'))
  return seq
end

-- The instance holding member `sid` of `room` (K.orphan for an orphan), or nil if it is not one.
local function holder(room, sid)
  local info = redis.call('HGET', K.info(room), sid)
  return info and string.match(info, '^[^\n]*')
end

-- Takes member `sid` out of `room` and announces why. Returns how many members the room still
-- has, or false if `sid` was not in it. Redis deletes a set or hash when it empties.
local function unseat(sid, room, reason)
  local node = holder(room, sid)
  if not node then
    return false
  end
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

-- Takes member `sid` out of every room it is in, announcing why. Returns how many seats it
-- freed.
local function unseat_all(sid, reason)
  local freed = 0
  for _, room in ipairs(redis.call('SMEMBERS', K.rooms_of(sid))) do
    if unseat(sid, room, reason) then
      freed = freed + 1
    end
  end
  return freed
end

-- A resumable session's record (`sessions:NODE`, written by the instance's `session_record`):
-- its grace period (ms), its token's digest and its subject.
local function session(record)
  local grace, digest, sub = string.match(record, '^([^\n]*)\n([^\n]*)\n?(.*)$')
  return tonumber(grace) or 0, digest, sub or ''
end

-- A member's entry in a room's `info` hash, as its fields: {node, name, sub, since}.
local function fields(text)
  local node, name, sub, since = string.match(text, '^([^\n]*)\n([^\n]*)\n?([^\n]*)\n?([^\n]*)$')
  return {node or '', name or '', sub or '', since or '0'}
end

-- Each member's record in `room`'s `info` hash: socket id -> its fields.
local function records(room)
  local info = redis.call('HGETALL', K.info(room))
  local of = {}
  for i = 1, #info, 2 do
    of[info[i]] = fields(info[i + 1])
  end
  return of
end

-- Seats member `sid`, already in its rooms, again as instance `node`'s (its join order, name,
-- subject and join time kept), announcing it on each room's channel. Returns its rooms, each
-- followed by its name and join time there.
local function reseat(node, sid)
  local rooms = {}
  for _, room in ipairs(redis.call('SMEMBERS', K.rooms_of(sid))) do
    local info = redis.call('HGET', K.info(room), sid)
    local order = redis.call('ZSCORE', K.members(room), sid)
    if info and order then
      local record = fields(info)
      seat(node, sid, room, record[2], tonumber(order), record[3], record[4])
      rooms[#rooms + 1] = room
      rooms[#rooms + 1] = record[2]
      rooms[#rooms + 1] = record[4]
    end
  end
  return rooms
end

-- Member `sid` of a dead instance, with its session's record (`sessions:NODE`, whose first
-- field is the grace period), becomes an orphan: it keeps its seats until its grace period
-- ends or another instance adopts it (`adopt.lua`), and its rooms hear that it is away (a
-- `J` line naming no instance).
local function orphan(sid, record, now)
  local grace = session(record)
  redis.call('ZADD', K.orphans, now + grace, sid)
  redis.call('HSET', K.orphan_sessions, sid, record)
  reseat(K.orphan, sid)
end

-- Frees the seats of the orphans whose grace period ended by `now`, at most 500 at a time (the
-- rest at the next heartbeat, a fifth of a timeout later). Returns how many seats.
local function reap(now)
  local freed = 0
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', K.orphans, '-inf', '(' .. now, 'LIMIT', 0, 500)) do
    redis.call('ZREM', K.orphans, sid)
    redis.call('HDEL', K.orphan_sessions, sid)
    freed = freed + unseat_all(sid, 'timeout')
  end
  return freed
end

-- Takes instance `node` out of the cluster, and every member of it out of every room, except,
-- if it `died`, the members with a resumable session: those become orphans (and so do its
-- resumable peers in no room). A peer another instance holds now is left to it. Returns how
-- many seats were freed.
local function depart(node, reason, died)
  local sessions = {}
  if died then
    local flat = redis.call('HGETALL', K.sessions(node))
    for i = 1, #flat, 2 do
      sessions[flat[i]] = flat[i + 1]
    end
  end
  local freed = 0
  local now = now_ms()
  for _, sid in ipairs(redis.call('SMEMBERS', K.node_members(node))) do
    if sessions[sid] then
      orphan(sid, sessions[sid], now)
    else
      freed = freed + unseat_all(sid, reason)
    end
    sessions[sid] = nil
  end
  for sid, record in pairs(sessions) do
    if redis.call('EXISTS', K.rooms_of(sid)) == 0 then
      orphan(sid, record, now)
    end
  end
  redis.call('DEL', K.node_members(node), K.sessions(node))
  redis.call('ZREM', K.nodes, node)
  redis.call('HDEL', K.timeouts, node)
  redis.call('HDEL', K.urls, node)
  return freed
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
