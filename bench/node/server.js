// The tutorial's signaling server logic on socket.io 4.x, as a Node user would run it today:
// the baseline scripts/bench.sh measures signalroom against. Same events as the tutorial
// (join/joined, leave/leaved/bye, message to the whole room); the per-event console logging
// is left out, as signalroom's is at the benchmark's log level.
//
// Usage: node server.js PORT [REDIS_URL]. With REDIS_URL it is one instance of a cluster, the way
// socket.io documents scaling out: @socket.io/redis-adapter over a publishing and a subscribing
// connection to one Redis.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 9990);
const redisUrl = process.argv[3];
const server = http.createServer();
// allowEIO3: socket.io-client 2.x, which the tutorial's page uses.
const io = new Server(server, { allowEIO3: true, maxHttpBufferSize: 1e6 });

io.on('connection', (socket) => {
  socket.on('message', (room, data) => {
    io.in(room).emit('message', room, socket.id, data);
  });
  socket.on('join', (room) => {
    socket.join(room);
    socket.emit('joined', room, socket.id);
  });
  socket.on('leave', (room) => {
    socket.leave(room);
    socket.to(room).emit('bye', room, socket.id);
    socket.emit('leaved', room, socket.id);
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  server.listen(port, '127.0.0.1', () =>
    console.log(`node baseline listening on 127.0.0.1:${port}${redisUrl ? ` on ${redisUrl}` : ''}`));
}
main();
process.on('SIGTERM', () => process.exit(0));
