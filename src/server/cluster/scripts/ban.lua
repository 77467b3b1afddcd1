-- A kicked member's token may not rejoin the room for a while: every instance's joins check
-- it (join.lua). Ended bans are dropped here, and the set expires with its last ban.
-- ARGV: room, token digest, ban length (ms).
-- Returns 1.
local room, token, length = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', K.bans(room), '-inf', now)
redis.call('ZADD', K.bans(room), now + length, token)
redis.call('PEXPIRE', K.bans(room), length, 'GT')
if redis.call('PTTL', K.bans(room)) < 0 then
  redis.call('PEXPIRE', K.bans(room), length)
end
return 1
