import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egressFetch, SANDBOX_EGRESS_IP } from '../../../local/egress-fetch';

describe('egressFetch: the sandbox’s WeChat calls leave from their own loopback address', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.url?.startsWith('/hang')) return;
        if (req.url?.startsWith('/image')) {
          res.writeHead(200, { 'content-type': 'image/png' });
          res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]));
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            from: req.socket.remoteAddress,
            method: req.method,
            url: req.url,
            type: req.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          })
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends from the given address, with the method, headers and body, and reads the answer', async () => {
    const send = egressFetch(SANDBOX_EGRESS_IP);
    const answer = await send(`${base}/cgi-bin/x?access_token=t`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(answer.status).toBe(201);
    expect(await answer.json()).toEqual({
      from: SANDBOX_EGRESS_IP,
      method: 'POST',
      url: '/cgi-bin/x?access_token=t',
      type: 'application/json',
      body: '{"a":1}',
    });
  });

  it('reads binary answers as bytes', async () => {
    const answer = await egressFetch(SANDBOX_EGRESS_IP)(`${base}/image`);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect([...new Uint8Array(await answer.arrayBuffer())]).toEqual([0x89, 0x50, 0x4e, 0x47, 0]);
  });

  it('gives up when its signal aborts', async () => {
    await expect(
      egressFetch(SANDBOX_EGRESS_IP)(`${base}/hang`, { signal: AbortSignal.timeout(50) })
    ).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
