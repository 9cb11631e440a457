// PostgreSQL in a container through testcontainers, used only when a Docker engine answers; the
// same pg_hba rules as the local cluster are written into it and reloaded.
import { getContainerRuntimeClient } from 'testcontainers';
import { PostgreSqlContainer } from '@testcontainers/postgresql';

export interface ContainerPostgres {
  host: string;
  port: number;
  socketDir: null;
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  if (process.env.POOLER_TEST_NO_DOCKER === '1') return false;
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** null when no Docker engine answers, so the caller falls back to a local cluster */
export async function startContainerPostgres(hbaLines: string[]): Promise<ContainerPostgres | null> {
  if (!(await dockerAnswers())) return null;
  const container = await new PostgreSqlContainer('postgres:16')
    .withUsername('postgres')
    .withPassword('postgres')
    .withCommand(['postgres', '-c', 'max_connections=300', '-c', 'fsync=off'])
    .start();
  const hba = hbaLines.join('\\n');
  const written = await container.exec(['sh', '-c', `printf '${hba}\\n' | cat - "$PGDATA/pg_hba.conf" > /tmp/hba && cp /tmp/hba "$PGDATA/pg_hba.conf"`]);
  if (written.exitCode !== 0) throw new Error(`could not write pg_hba.conf in the container: ${written.output}`);
  const reloaded = await container.exec(['psql', '-U', 'postgres', '-c', 'SELECT pg_reload_conf()']);
  if (reloaded.exitCode !== 0) throw new Error(`could not reload the container's configuration: ${reloaded.output}`);
  return {
    host: container.getHost(),
    port: container.getPort(),
    socketDir: null,
    stop: async () => {
      await container.stop();
    },
  };
}
