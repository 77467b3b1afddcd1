-- A resume adopts an orphan: member `sid` of dead instance `issuer`, presenting a resume token
-- whose SHA-256 (hex) is `digest` with a join token of subject `sub` ('' without one), becomes
-- instance `node`'s, in every room where it kept its seat; the rooms are told (a `J` line naming
-- `node`). A token that does not match is refused and the orphan is left as it was.
-- ARGV: issuer, sid, digest, sub, node.
-- Returns {'adopted', room, name, since, room, name, since, ...} (its rooms, its name and join
-- time in each), {'alive'} while the issuer is registered, or {'unknown'}.
local issuer, sid, digest, sub, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('ZSCORE', K.nodes, issuer) then
  return {'alive'}
end
local record = redis.call('HGET', K.orphan_sessions, sid)
if not record then
  return {'unknown'}
end
local _, its_digest, its_sub = session(record)
if its_digest ~= digest or its_sub ~= sub then
  return {'unknown'}
end
redis.call('ZREM', K.orphans, sid)
redis.call('HDEL', K.orphan_sessions, sid)
local adopted = reseat(node, sid)
table.insert(adopted, 1, 'adopted')
return adopted
