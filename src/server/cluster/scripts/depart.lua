-- An instance leaving the cluster (it is shutting down): its members leave their rooms, the
-- resumable ones too (they were told the instance is closing; no one adopts them).
-- ARGV: node, reason. Returns how many seats were freed.
return depart(ARGV[1], ARGV[2], false)
