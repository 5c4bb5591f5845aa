/**
 * Interop with an SMSC nobody here wrote: the example SMSC shipped by Debian's
 * libnet-smpp-perl (`examples/smsc.pl`, Net::SMPP in the SMSC role). A copy is started on
 * 127.0.0.1 on a free port, the adapter binds as a transceiver and submits; the script
 * prints each PDU it receives. `.ci/run` installs the package; without perl or the script
 * the test is skipped with a message saying so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSmppAdapter } from '../../src/carriers/smpp/index.js';

const CANDIDATES = [
  '/usr/share/doc/libnet-smpp-perl/examples/smsc.pl',
  '/usr/share/doc/libnet-smpp-perl/examples/smsc.pl.gz',
];

function findScript(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

function hasPerlSmpp(): boolean {
  const r = spawnSync('perl', ['-MNet::SMPP', '-e', '1'], { stdio: 'ignore' });
  return r.status === 0;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const script = findScript();
const available = script !== undefined && script.endsWith('.pl') && hasPerlSmpp();
if (!available) {
  console.warn(
    '[skipped] SMPP interop with Net::SMPP smsc.pl: perl or libnet-smpp-perl is not installed ' +
      '(apt-get install -y libnet-smpp-perl)',
  );
}

describe.skipIf(!available)('SMPP interop: Net::SMPP example SMSC', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterAll(() => {
    // The script forks a child per connection: its process group is ours to end.
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('binds as a transceiver, submits, and the SMSC answers', async () => {
    const port = await freePort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-smsc-pl-'));
    const copy = path.join(dir, 'smsc.pl');
    const source = fs.readFileSync(script!, 'utf8');
    fs.writeFileSync(
      copy,
      source
        .replace(/\$port = \d+;/, `$port = ${port};`)
        .replace(/\$host = '[^']*';/, "$host = '127.0.0.1';")
        .replace('use Data::Dumper;', 'use Data::Dumper;\n$| = 1;'),
    );
    const out: string[] = [];
    child = spawn('perl', [copy], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('smsc.pl did not start')), 10_000);
      child!.stderr!.on('data', (b: Buffer) => {
        if (b.toString().includes('accept loop')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    await ready;

    const adapter = createSmppAdapter({
      url: `smpp://GSMSGW:secret@127.0.0.1:${port}`,
      responseTimeoutMs: 5_000,
      reconnectInitialMs: 100,
    });
    try {
      const res = await adapter.submit({
        messageId: 'msg_interop',
        orgId: 'org_interop',
        senderId: 'snd_interop',
        to: '+16175550142',
        from: '+16175550199',
        body: 'Interop check from Tidings',
        segments: 1,
      });
      // smsc.pl answers every submit_sm with message_id 123456789.
      expect(res.carrierMessageId).toBe('123456789');
      const long = await adapter.submit({
        messageId: 'msg_interop_2',
        orgId: 'org_interop',
        senderId: 'snd_interop',
        to: '+16175550142',
        from: '+16175550199',
        body: 'A longer interop check that needs two parts. '.repeat(5),
        segments: 2,
      });
      expect(long.carrierMessageId).toBe('123456789');
    } finally {
      await adapter.close();
    }
    const log = out.join('');
    expect(log).toMatch(/Received #\d+ 9:bind_transceiver/);
    expect((log.match(/ 4:submit_sm/g) ?? []).length).toBe(3);
  });
});
