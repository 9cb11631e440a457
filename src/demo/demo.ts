// `pooler demo`: a 30-second tour. Starts a throwaway PostgreSQL from the installed binaries,
// a pooler in front of it (transaction mode, pool of 5), runs pgbench through it with a progress
// line, prints SHOW POOLS and SHOW STATS, and removes everything again.
import { spawn } from 'node:child_process';
import { statsCommand } from '../cli/stats.js';
import { loadConfig } from '../config/index.js';
import { silentLogger } from '../log.js';
import { freePort } from '../net/free-port.js';
import { Pooler } from '../pooler.js';
import { postgresTool, startLocalPostgres } from './local-postgres.js';

const TRUST_LOOPBACK = ['host all all 127.0.0.1/32 trust'];

/** runs pgbench, passing through its progress lines (stderr) and result (stdout) as they come */
function pgbench(args: string[], show: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgresTool('pgbench'), args, { stdio: ['ignore', show ? 'inherit' : 'ignore', show ? 'inherit' : 'pipe'] });
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(0) : reject(new Error(`pgbench ${args[0]} failed (exit ${code}): ${errors.trim()}`))));
  });
}

export async function demoCommand(options: { seconds?: string; clients?: string }): Promise<void> {
  const seconds = Number(options.seconds ?? 10);
  const clients = Number(options.clients ?? 20);
  const say = (line: string) => process.stdout.write(`\n== ${line}\n`);

  say('starting a throwaway PostgreSQL (initdb + pg_ctl in a temp dir)');
  const postgres = await startLocalPostgres(await freePort(), TRUST_LOOPBACK);
  let pooler: Pooler | null = null;
  try {
    await pgbench(['-i', '-s', '1', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', 'postgres'], false);
    const config = loadConfig({
      env: {
        DATABASE_URL: `postgres://postgres@${postgres.host}:${postgres.port}/postgres`,
        POOLER_LISTEN_PORT: String(await freePort()),
        POOLER_AUTH_TYPE: 'trust',
        POOLER_POOL_MODE: 'transaction',
        POOLER_DEFAULT_POOL_SIZE: '5',
        POOLER_ADMIN_USERS: 'postgres',
        POOLER_STATS_PERIOD: '1',
        POOLER_METRICS_PORT: '0',
      },
    });
    pooler = new Pooler(config, silentLogger);
    const { port } = await pooler.listen();
    say(`pooler on 127.0.0.1:${port}, transaction mode, 5 server connections for ${clients} clients`);
    say(`pgbench -c ${clients} -T ${seconds} through the pooler`);
    await pgbench(['-c', String(clients), '-j', '2', '-T', String(seconds), '-P', '1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'], true);
    say('what the console says (psql -p PORT -U postgres pgbouncer -c "SHOW POOLS")');
    await statsCommand({ host: '127.0.0.1', port: String(port), user: 'postgres' });
  } finally {
    if (pooler !== null) await pooler.shutdown('immediate');
    await postgres.stop();
  }
  say('done: everything the demo started is gone');
}
