-- An instance leaving the cluster (it is shutting down): its members leave their rooms.
-- ARGV: node, reason. Returns how many seats were freed.
return depart(ARGV[1], ARGV[2])
