'use strict';
// Interop peer for wire's tests, built on Node ws (Debian node-ws; run with
// NODE_PATH=/usr/share/nodejs). Same commands and output as interop_peer.py:
//
//   node interop_peer.js server [--no-compression]
//       Echo server on 127.0.0.1, prints "PORT <n>". Text commands:
//         cmd:close:<code>:<reason>  close with that code and reason
//         cmd:ping:<payload>         ping the client; after its pong send "pong-received"
//       Prints "CLOSED <code> <reason>" when a connection closes; exits when stdin closes.
//
//   node interop_peer.js client <url> <client-close|server-close> [--no-compression] [--no-big]
//       Runs the scenario against wire's echo server, prints "CLOSED <code> <reason>"
//       and "OK"; any mismatch exits 1.
const { WebSocket, WebSocketServer } = require('ws');
const crypto = require('crypto');

const args = process.argv.slice(2);
const deflate = !args.includes('--no-compression');
const TIMEOUT_MS = 20000;

function fail(why) {
  console.log('FAIL ' + why);
  process.exit(1);
}

function serve() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate, maxPayload: 16 << 20 });
  wss.on('listening', () => console.log('PORT ' + wss.address().port));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const s = isBinary ? null : data.toString();
      if (s !== null && s.startsWith('cmd:close:')) {
        const [, , code, ...rest] = s.split(':');
        ws.close(Number(code), rest.join(':'));
        return;
      }
      if (s !== null && s.startsWith('cmd:ping:')) {
        ws.once('pong', () => ws.send('pong-received'));
        ws.ping(Buffer.from(s.slice('cmd:ping:'.length)));
        return;
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => console.log('CLOSED ' + code + ' ' + reason.toString()));
  });
  process.stdin.on('end', () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    process.exit(0);
  });
  process.stdin.resume();
}

function s2b(x) {
  return typeof x === 'string' ? Buffer.from(x) : x;
}

function client(url, mode) {
  const bigText = 'abcdefghij κόσμε € '.repeat(160000);
  const steps = [
    { send: ['hello'], want: 'hello', binary: false },
    { send: [''], want: '', binary: false },
    { send: [Buffer.alloc(0)], want: Buffer.alloc(0), binary: true },
    { send: [crypto.randomBytes(64 << 10)], binary: true },
    { send: [bigText], want: bigText, binary: false },
    { send: [crypto.randomBytes(4 << 20)], binary: true },
    { send: ['frag', 'ment', 'ed κόσμε'], want: 'fragmented κόσμε', binary: false },
    { send: [Buffer.from([0, 1]), Buffer.alloc(0), Buffer.alloc(70000, 0xff)], binary: true },
  ];
  for (const s of steps) {
    if (s.want === undefined) s.want = Buffer.concat(s.send);
  }
  if (args.includes('--no-big')) {
    // the Go side runs under the race detector: leave out the 4 MiB messages
    for (let k = steps.length - 1; k >= 0; k--) if (Buffer.byteLength(s2b(steps[k].want)) > 1 << 20) steps.splice(k, 1);
  }
  const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 16 << 20 });
  const timer = setTimeout(() => fail('scenario timed out'), TIMEOUT_MS);
  let i = 0;
  let phase = 'echo';
  const sendStep = () => {
    const s = steps[i];
    s.send.forEach((part, k) => ws.send(part, { binary: s.binary, fin: k === s.send.length - 1 }));
  };
  ws.on('open', sendStep);
  ws.on('message', (data, isBinary) => {
    if (phase === 'echo') {
      const s = steps[i];
      const got = isBinary ? data : data.toString();
      const same = s.binary ? (isBinary && Buffer.compare(got, s.want) === 0) : (!isBinary && got === s.want);
      if (!same) fail('echo of step ' + i + ' differs');
      i++;
      if (i < steps.length) return sendStep();
      phase = 'ping';
      ws.once('pong', (p) => {
        if (p.toString() !== 'node-ping') fail('pong payload ' + p.toString());
        phase = 'server-ping';
        ws.send('cmd:ping:srv');
      });
      ws.ping(Buffer.from('node-ping'));
      return;
    }
    if (phase === 'server-ping') {
      if (data.toString() !== 'pong-received') fail('after server ping got ' + data.toString());
      phase = 'closing';
      if (mode === 'client-close') ws.close(4000, 'node client bye');
      else ws.send('cmd:close:4001:server bye');
      return;
    }
    fail('unexpected message in phase ' + phase);
  });
  ws.on('close', (code, reason) => {
    clearTimeout(timer);
    if (phase !== 'closing') fail('closed early with ' + code + ' ' + reason.toString());
    console.log('CLOSED ' + code + ' ' + reason.toString());
    console.log('OK');
    process.exit(0);
  });
  ws.on('error', (e) => fail('error: ' + e.message));
}

if (args[0] === 'server') serve();
else if (args[0] === 'client' && args.length >= 3) client(args[1], args[2]);
else {
  console.error('usage: interop_peer.js server|client <url> <mode> [--no-compression]');
  process.exit(2);
}
